//! `verify_rehearsal_passed`, `request_approval`, `close_approval`, `record_production_source`,
//! `start_production_deployment`.

use crate::common::{assert_malformed, invalid_field, phase, Run};
use rehearsal_cli::follow_up::staging_state_machine_arn;
use rehearsal_core::cloud::ParameterStore;
use rehearsal_core::phase::Phase;
use rehearsal_core::steps::Step;
use rehearsal_core::tags::{Ownership, RunTags};
use rehearsal_tests::new_account;
use rehearsal_tests::promotion::{promotion, staged};
use serde_json::{json, Value};

const VERIFY: Step = Step::VerifyRehearsalPassed;

fn verify_input(run: &Run, document: Value, state_machine: &str) -> Value {
    json!({"input": document, "execution_start": run.account.now(), "staging_state_machine_arn": state_machine})
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
    other_run["run_id"] = json!("tableicty-20261101");
    assert_eq!(invalid_field(run.call(VERIFY, verify_input(&run, other_run, &staging_state_machine_arn())).await).0, "run_id");
    assert!(run.production_writes().is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_approval_token_is_kept_as_a_tagged_secure_string_until_closed() {
    let run = Run::planned().await;
    let promotion = run.promotion();
    let owner: RunTags = serde_json::from_value(promotion["tags"].clone()).unwrap();
    for token in ["token-of-attempt-1", "token-of-attempt-2"] {
        let answer = run.ok(Step::RequestApproval, json!({"task_token": token, "promotion": promotion})).await;
        let name = answer["parameter"].as_str().unwrap().to_string();
        assert_eq!(run.operator().get_parameter(&name).await.unwrap().unwrap().value.expose(), token, "the latest token");
        let stored = run.existing("parameter", &name).unwrap();
        assert_eq!((stored.status.as_str(), owner.ownership(&stored.tags)), ("SecureString", Ownership::ThisRun));
    }
    let calls = run.calls_of(Step::RequestApproval).len();
    assert_malformed(run.call(Step::RequestApproval, json!({"promotion": promotion})).await, "task_token");
    assert_eq!(run.calls_of(Step::RequestApproval).len(), calls, "refused before any call");
    let closed = run.ok(Step::CloseApproval, json!({"promotion": promotion})).await;
    assert!(run.existing("parameter", closed["parameter"].as_str().unwrap()).is_none());
    run.ok(Step::CloseApproval, json!({"promotion": promotion})).await;
}

#[tokio::test(start_paused = true)]
async fn the_deployment_starts_from_what_production_runs_and_refuses_an_image_for_a_source_built_service() {
    let run = Run::planned().await;
    let promotion = run.promotion();
    let source = run.ok(Step::RecordProductionSource, json!({"promotion": promotion})).await;
    assert_eq!(source["service_arn"], json!(run.plan.production.service_arn));
    assert!(source["repository_url"].is_string() && source["image_identifier"].is_null(), "{source}");
    assert!(run.production_writes().is_empty(), "recording only reads");

    let mut with_image = promotion.clone();
    with_image["release_image"] = json!(rehearsal_sim::seed::RELEASE_IMAGE);
    let refused = run.call(Step::StartProductionDeployment, json!({"promotion": with_image, "source": source})).await;
    assert_eq!(invalid_field(refused).0, "release_image");
    assert!(run.calls_of(Step::StartProductionDeployment).is_empty());

    let deployment = run.ok(Step::StartProductionDeployment, json!({"promotion": promotion, "source": source})).await;
    assert_eq!((phase(&deployment), deployment["arn"].clone()), (Phase::InProgress, source["service_arn"].clone()));
    assert_eq!(run.calls_of(Step::StartProductionDeployment), ["StartDeployment"]);
    let deployed = run.wait_for(Step::CheckProductionService, "service", deployment).await;
    assert_eq!(phase(&deployed), Phase::Ready, "{deployed}");
    assert!(run.account.ledger().production_writes.iter().all(|w| w.step == Step::StartProductionDeployment.name()));
}
