//! `rehearsal remote`: the CLI's Step Functions commands against moto's Step Functions API,
//! through the API's own handler: validation before any call, idempotent starts, status, 404,
//! a redrive refused for a run that passed.

use rehearsal_api::{Api, Config};
use rehearsal_aws::{load_config, AwsCloud, StepFunctions};
use rehearsal_cli::remote::{call, call_as, follow, RemoteAction};
use rehearsal_core::promotion::Verdict;
use rehearsal_tests::moto::{set_sdk_environment, MotoServer};
use serde_json::{json, Value};
use std::time::Duration;

async fn machine(sfn: &StepFunctions, name: &str, definition: Value) -> String {
    let created = sfn
        .client
        .create_state_machine()
        .name(name)
        .definition(definition.to_string())
        .role_arn("arn:aws:iam::123456789012:role/rehearsal-states")
        .send()
        .await
        .expect("create the state machine");
    created.state_machine_arn().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn remote_commands_start_once_report_status_and_refuse_bad_input_before_any_call() {
    set_sdk_environment();
    let moto = MotoServer::start(&[]);
    moto.configure(&json!({"stepfunctions": {"execute_state_machine": true}}));
    let config = load_config(Some(&moto.endpoint())).await;
    let sfn = StepFunctions::new(&config);
    // A staging machine that plans (its output is what the API reads) and then passes.
    let staging = json!({"StartAt": "PlanRehearsal", "States": {
        "PlanRehearsal": {"Type": "Pass", "Result": {"plan": {"run_id": "tableicty-20261124"}}, "Next": "Done"},
        "Done": {"Type": "Pass", "End": true}}});
    let staging_arn = machine(&sfn, "staging", staging).await;
    let teardown_arn = machine(&sfn, "teardown", json!({"StartAt": "T", "States": {"T": {"Type": "Pass", "End": true}}})).await;
    let promote_arn = machine(&sfn, "promote", json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}})).await;
    let api = Api::new(
        sfn.clone(),
        AwsCloud::new(&config),
        Config {
            staging_state_machine_arn: staging_arn.clone(),
            promote_state_machine_arn: promote_arn,
            teardown_state_machine_arn: teardown_arn,
            approvers: Vec::new(),
        },
    );
    let executions = || async { sfn.client.list_executions().state_machine_arn(&staging_arn).send().await.unwrap().executions().len() };

    let bad = RemoteAction::Start {
        idempotency_key: "release-1".into(),
        document: json!({"staging": {"db_instance_id": "tableicty-production-db"}}),
    };
    let (status, body) = call(&api, &bad).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("staging.db_instance_id")), "{body}");
    assert_eq!(executions().await, 0);

    let start = RemoteAction::Start { idempotency_key: "release-1".into(), document: json!({}) };
    let (first, body) = call(&api, &start).await;
    assert!((200..300).contains(&first), "{first} {body}");
    let (again, body) = call(&api, &start).await;
    assert!((200..300).contains(&again), "{again} {body}");
    assert_eq!(executions().await, 1, "the same key started twice");

    let mut progress = Vec::new();
    let (status, body) = follow(&api, "release-1", Duration::from_millis(200), &mut progress).await;
    assert_eq!((status, body["status"].as_str(), body["run_id"].as_str()), (200, Some("SUCCEEDED"), Some("tableicty-20261124")), "{body}");

    let (missing, _) = call(&api, &RemoteAction::Status { id: "no-such-run".into() }).await;
    assert_eq!(missing, 404);
    let approve = RemoteAction::Decide { id: "release-1".into(), verdict: Verdict::Approved, comment: None, promotion: None };
    let (unidentified, body) = call(&api, &approve).await;
    assert_eq!(unidentified, 403, "without the caller's identity nobody can be told from the requester: {body}");
    let (no_approval, body) = call_as(&api, &approve, Some("arn:aws:iam::123456789012:user/approver")).await;
    assert_eq!(no_approval, 409, "{body}");

    // A run that passed cannot be redriven; a key too long for a client token is refused first.
    let redrive = |id: &str, key: &str| RemoteAction::Redrive { id: id.into(), idempotency_key: key.into() };
    let (status, body) = call(&api, &redrive("release-1", &"k".repeat(65))).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("Idempotency-Key")), "{body}");
    let (status, body) = call(&api, &redrive("release-1", "redrive-1")).await;
    assert!(status == 409 && body["error"].as_str().unwrap().contains("SUCCEEDED"), "{status} {body}");
    let (missing, _) = call(&api, &redrive("no-such-run", "redrive-1")).await;
    assert_eq!(missing, 404);
}
