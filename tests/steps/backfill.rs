//! `trigger_staging_backfill`, `verify_staging_backfill`, `trigger_production_backfill`,
//! `verify_production_backfill`.

use crate::common::{assert_malformed, assert_not_owned, check_failed, Run};
use rehearsal_core::checks::db::backfill_checks;
use rehearsal_core::cloud::{ParameterKind, ParameterStore, ServiceHost, ServiceLocation};
use rehearsal_core::plan::BACKFILL_TOKEN;
use rehearsal_core::steps::Step;
use rehearsal_core::Secret;
use rehearsal_sim::FaultKind;
use serde_json::{json, Value};

const TRIGGER: Step = Step::TriggerStagingBackfill;
const VERIFY: Step = Step::VerifyStagingBackfill;

/// The staging service running, and the trigger's input for it.
async fn deployed(run: &Run) -> Value {
    let (service, _) = run.service_running().await;
    run.with_plan(json!({"service_url": service["url"]}))
}

#[tokio::test(start_paused = true)]
async fn the_backfill_assigns_the_rows_with_a_one_time_token_and_the_proof_then_holds() {
    let run = Run::planned().await;
    let input = deployed(&run).await;
    let before = check_failed(run.call(VERIFY, run.with_plan(json!({}))).await);
    assert!(before.contains("every issuer has a tenant"), "{before}");

    let result = run.ok(TRIGGER, input.clone()).await;
    assert_eq!(result["status"], json!(200));
    assert!(result["response"]["rows_assigned"].as_u64().unwrap() > 0, "{result}");
    let token = format!("parameter {}", run.plan.staging_parameter(BACKFILL_TOKEN));
    assert_eq!((run.created_by(TRIGGER), run.deleted_by(TRIGGER)), (vec![token.clone()], vec![token]), "the token is one-time");
    assert!(run.existing("parameter", &run.plan.staging_parameter(BACKFILL_TOKEN)).is_none());

    let report = run.ok(VERIFY, run.with_plan(json!({}))).await;
    let names: Vec<&str> = report["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, backfill_checks().iter().map(|c| c.name.as_str()).collect::<Vec<_>>());

    // Idempotent: a retry assigns nothing more and the proof still holds.
    let again = run.ok(TRIGGER, input).await;
    assert_eq!(again["response"]["rows_assigned"], json!(0), "{again}");
    run.ok(VERIFY, run.with_plan(json!({}))).await;
    assert_eq!(run.production_writes(), Vec::<String>::new());
}

#[tokio::test(start_paused = true)]
async fn a_foreign_token_parameter_is_refused_and_the_endpoint_not_called() {
    let run = Run::planned().await;
    let input = deployed(&run).await;
    let name = run.plan.staging_parameter(BACKFILL_TOKEN);
    run.operator().put_parameter(&name, &Secret::new("someone-elses"), ParameterKind::SecureString, false).await.unwrap();
    assert_not_owned(run.call(TRIGGER, input).await, &name);
    assert!(run.calls_of(TRIGGER).iter().all(|c| !c.starts_with("POST")), "{:?}", run.calls_of(TRIGGER));
    assert!(run.existing("parameter", &name).is_some(), "left alone");
}

#[tokio::test(start_paused = true)]
async fn a_token_created_in_the_race_by_someone_else_is_refused() {
    let run = Run::planned().await;
    let input = deployed(&run).await;
    run.inject(TRIGGER, FaultKind::AlreadyExists);
    assert_not_owned(run.call(TRIGGER, input).await, &run.plan.staging_parameter(BACKFILL_TOKEN));
    assert!(run.created_by(TRIGGER).is_empty() && run.deleted_by(TRIGGER).is_empty());
}

/// A service that is gone does not answer: retryable, and the token is deleted all the same.
#[tokio::test(start_paused = true)]
async fn a_service_that_vanished_is_unavailable_and_the_token_is_deleted() {
    let run = Run::planned().await;
    let input = deployed(&run).await;
    let service = run.operator().find_service(&run.plan.service.name, &ServiceLocation::AppRunner).await.unwrap().unwrap();
    run.operator().delete_service(&service.arn).await.unwrap();
    crate::common::minutes(10).await;
    let error = run.call(TRIGGER, input).await.unwrap_err();
    assert_eq!(error.name(), "TransientError", "{error}");
    assert!(run.existing("parameter", &run.plan.staging_parameter(BACKFILL_TOKEN)).is_none());
}

#[tokio::test(start_paused = true)]
async fn a_malformed_service_url_is_refused_naming_the_field() {
    let run = Run::planned().await;
    assert_malformed(run.call(TRIGGER, run.with_plan(json!({"service_url": 443}))).await, "service_url");
    assert!(run.calls_of(TRIGGER).is_empty());
}

/// Runbook step 8.3: the production token is the promotion's one write here, and is deleted
/// again; the production proof reads production's database.
#[tokio::test(start_paused = true)]
async fn on_production_the_token_is_the_only_write_and_is_deleted() {
    let run = Run::planned().await;
    let production = run.operator().find_service(&run.plan.production.service_name, &ServiceLocation::AppRunner).await.unwrap().unwrap();
    let result = run.call(Step::TriggerProductionBackfill, json!({"promotion": run.promotion(), "service_url": production.url})).await;
    let name = run.plan.production_parameter(BACKFILL_TOKEN);
    // The release is not deployed to production yet: the old schema answers 500, which the Task
    // retries.
    assert_eq!(result.unwrap_err().name(), "TransientError");
    let writes = run.production_writes();
    assert_eq!(
        writes,
        [
            format!("PutParameter parameter {name} by trigger_production_backfill"),
            format!("DeleteParameter parameter {name} by trigger_production_backfill")
        ]
    );
    assert!(run.existing("parameter", &name).is_none());
    let proof = check_failed(run.call(Step::VerifyProductionBackfill, run.with_plan(json!({}))).await);
    assert!(proof.contains("default tenant exists"), "production is not backfilled: {proof}");
}
