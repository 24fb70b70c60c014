//! `verify_rehearsal_passed`, `check_approval`, `close_approval`, `record_production_source`,
//! `start_production_deployment`.

use crate::common::{assert_malformed, invalid_field, phase, Run, PROMOTE_EXECUTION};
use rehearsal_cli::follow_up::staging_state_machine_arn;
use rehearsal_cli::follow_up::{LOCAL_APPROVER, LOCAL_REQUESTER};
use rehearsal_core::cloud::{Clock, ParameterStore};
use rehearsal_core::phase::Phase;
use rehearsal_core::promotion::{ApprovalDecision, Promotion, Verdict};
use rehearsal_core::steps::Step;

use rehearsal_tests::promotion::{promotion, staged};
use rehearsal_tests::{new_account, stack_settings};
use serde_json::{json, Value};

const VERIFY: Step = Step::VerifyRehearsalPassed;

fn verify_input(run: &Run, document: Value, state_machine: &str) -> Value {
    json!({
        "input": document,
        "execution_start": run.account.now(),
        "staging_state_machine_arn": state_machine,
        "execution_name": "promote",
        "allow_approval_skip": "false",
        "stack": stack_settings(),
    })
}

/// The promotion's plan is re-derived from the staging execution itself: the same plan this
/// run's `plan_rehearsal` makes.
#[tokio::test(start_paused = true)]
async fn a_passed_staging_run_is_promoted_with_its_own_plan_and_nothing_else_is() {
    let account = new_account();
    let arn = staged(&account).await;
    let run = Run::planned_on(account).await;
    let promoted = run.ok(VERIFY, verify_input(&run, promotion(&arn), &staging_state_machine_arn())).await;
    assert_eq!(promoted["plan"], json!(run.plan));
    assert_eq!(promoted["tags"]["environment"], json!("production"));

    let elsewhere = "arn:aws:states:us-east-1:123456789012:stateMachine:someone-elses";
    assert_eq!(invalid_field(run.call(VERIFY, verify_input(&run, promotion(&arn), elsewhere)).await).0, "staging_execution_arn");
    let mut other_run = promotion(&arn);
    other_run["run_id"] = json!("tableicty-20261101090000-9ad76926");
    assert_eq!(invalid_field(run.call(VERIFY, verify_input(&run, other_run, &staging_state_machine_arn())).await).0, "run_id");
    assert!(run.production_writes().is_empty());
}

/// `check_approval` reads the decision the API writes: pending without one, refused when the
/// requester approved their own promotion, ready when someone else did; `close_approval`
/// removes the decision, and again finds nothing to do.
#[tokio::test(start_paused = true)]
async fn an_approval_counts_only_from_someone_other_than_the_requester_and_is_then_closed() {
    let run = Run::planned().await;
    let promotion = run.promotion();
    let started: Promotion = serde_json::from_value(promotion.clone()).unwrap();
    let check = || run.call(Step::CheckApproval, json!({"promotion": promotion, "approvers": ""}));
    let pending = check().await.unwrap();
    assert_eq!((phase(&pending), pending["status"].as_str()), (Phase::InProgress, Some("pending")));

    let api = run.account.session("api");
    let decide = |by: &str| ApprovalDecision {
        verdict: Verdict::Approved,
        by: by.into(),
        requested_by: LOCAL_REQUESTER.into(),
        promotion_started_at: started.started_at,
        decided_at: api.now(),
        comment: None,
    };
    decide(LOCAL_REQUESTER).write(&api, PROMOTE_EXECUTION).await.unwrap();
    let refused = check().await.unwrap_err().to_string();
    assert!(refused.contains("cannot approve it"), "{refused}");

    decide(LOCAL_APPROVER).write(&api, PROMOTE_EXECUTION).await.unwrap();
    let approved = check().await.unwrap();
    assert_eq!((phase(&approved), approved["by"].as_str()), (Phase::Ready, Some(LOCAL_APPROVER)));
    assert_malformed(run.call(Step::CheckApproval, json!({"promotion": promotion})).await, "approvers");

    let closed = run.ok(Step::CloseApproval, json!({"promotion": promotion})).await;
    assert!(run.operator().get_parameter(closed["parameter"].as_str().unwrap()).await.unwrap().is_none());
    run.ok(Step::CloseApproval, json!({"promotion": promotion})).await;
    assert!(run.production_writes().is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_deployment_starts_from_what_production_runs_and_refuses_an_image_for_a_source_built_service() {
    let run = Run::planned().await;
    let promotion = run.promotion();
    let source = run.ok(Step::RecordProductionSource, json!({"promotion": promotion})).await;
    assert_eq!(source["service_arn"], json!(run.plan.production.service_arn));
    assert!(source["repository_url"].is_string() && source["image_identifier"].is_null(), "{source}");
    assert!(run.production_writes().is_empty(), "recording only reads");

    // An image for a source-built service, or a branch head nobody accepted: refused before any call.
    let mut with_image = promotion.clone();
    with_image["release_image"] = json!(rehearsal_sim::seed::RELEASE_IMAGE);
    let mut unaccepted = promotion.clone();
    unaccepted["branch_head_accepted"] = json!(false);
    for refused in [with_image, unaccepted] {
        let refused = run.call(Step::StartProductionDeployment, json!({"promotion": refused, "source": source})).await;
        assert_eq!(refused.unwrap_err().name(), "MalformedInputError");
    }
    assert!(run.calls_of(Step::StartProductionDeployment).is_empty());

    let deployment = run.ok(Step::StartProductionDeployment, json!({"promotion": promotion, "source": source})).await;
    assert_eq!((phase(&deployment), deployment["arn"].clone()), (Phase::InProgress, source["service_arn"].clone()));
    assert_eq!(run.calls_of(Step::StartProductionDeployment), ["StartDeployment"]);
    let deployed = run.wait_for(Step::CheckProductionService, "service", deployment).await;
    assert_eq!(phase(&deployed), Phase::Ready, "{deployed}");
    assert!(run.account.ledger().production_writes.iter().all(|w| w.step == Step::StartProductionDeployment.name()));
}

/// Issue 13, item 5: a promotion document or stack setting AWS would refuse is refused naming
/// the field before the first call (not even the staging execution is described).
#[tokio::test(start_paused = true)]
async fn promotion_documents_against_aws_rules_are_refused_naming_the_field_before_any_call() {
    let account = new_account();
    let arn = staged(&account).await;
    let run = Run::planned_on(account).await;
    let before = run.account.ledger().calls.len();
    let image = rehearsal_sim::seed::RELEASE_IMAGE;
    let bad = [
        ("run_id", json!("tableicty-20261124")),
        ("run_id", json!(format!("{}-20261124090000-9ad76926", "a".repeat(21)))),
        ("staging_execution_arn", json!("arn:aws:states:us-east-1:123456789012:stateMachine:rehearsal-staging")),
        ("staging_execution_arn", json!(arn.replace("123456789012", "1234"))),
        ("staging_execution_arn", json!(arn.replace(":states:", ":lambda:"))),
        ("staging_execution_arn", json!(format!("{arn}{}", "x".repeat(80)))),
        ("requested_by", json!("arn:aws:iam::123456789012:group/release")),
        ("requested_by", json!("arn:aws:s3:::bucket")),
        // The image is the staging run's: a document naming one is refused, whatever it names.
        ("release_image", json!(image)),
        ("accept_branch_head", json!("yes")),
    ];
    for (field, value) in bad {
        let mut document = promotion(&arn);
        document[field] = value.clone();
        assert_eq!(invalid_field(run.call(VERIFY, verify_input(&run, document, &staging_state_machine_arn())).await).0, field, "{value}");
    }
    let mut input = verify_input(&run, promotion(&arn), &staging_state_machine_arn());
    input["stack"]["staging_instance_role_arn"] = json!("arn:aws:iam::123456789012:policy/rehearsal-staging-instance");
    assert_eq!(invalid_field(run.call(VERIFY, input).await).0, "stack.staging_instance_role_arn");
    assert_eq!(run.account.ledger().calls.len(), before, "no AWS call for a refused promotion");
}
