//! `validate_staging`, `validate_production`.

use crate::common::{assert_malformed, check_failed, minutes, not_ready, Run};
use rehearsal_core::cloud::{ParameterStore, ServiceHost, ServiceLocation};
use rehearsal_core::steps::Step;
use rehearsal_sim::FaultKind;
use serde_json::{json, Value};

const STAGING: Step = Step::ValidateStaging;

/// Staging as the staging definition has it when it validates: deployed and backfilled.
async fn ready(run: &Run) -> Value {
    let (service, _) = run.service_running().await;
    run.ok(Step::TriggerStagingBackfill, run.with_plan(json!({"service_url": service["url"]}))).await;
    run.with_plan(json!({"service_url": service["url"]}))
}

fn registrations(run: &Run, step: Step) -> usize {
    let register = format!("POST {}", run.plan.validation.tenant_register_path);
    run.account.ledger().calls.iter().filter(|c| c.step == step.name() && c.operation == register).count()
}

#[tokio::test(start_paused = true)]
async fn the_checklist_passes_on_staging_and_again_on_a_later_attempt() {
    let run = Run::planned().await;
    let input = ready(&run).await;
    let tenants = || run.account.database_tables(&run.plan.staging_db.instance_id).unwrap()["core_tenant"];
    let before = tenants();
    let report = run.ok(STAGING, input.clone()).await;
    let checks = report["checks"].as_array().unwrap();
    assert!(!checks.is_empty() && checks.iter().all(|c| c["passed"] == json!(true)), "{report}");
    minutes(3).await;
    // Each attempt registers a throwaway tenant of its own, so a retry does not meet the first one's.
    run.ok(STAGING, input).await;
    assert_eq!((registrations(&run, STAGING), tenants()), (2, before + 2));
    assert_eq!(run.production_writes(), Vec::<String>::new());
}

#[tokio::test(start_paused = true)]
async fn a_broken_deployment_fails_the_checklist_with_what_was_expected() {
    let run = Run::planned().await;
    let input = ready(&run).await;
    run.inject(STAGING, FaultKind::FailedCheck);
    assert!(check_failed(run.call(STAGING, input).await).contains("health endpoint returns 200"));
}

#[tokio::test(start_paused = true)]
async fn a_test_admin_password_that_vanished_stops_the_step_naming_it() {
    let run = Run::planned().await;
    let input = ready(&run).await;
    let name = run.plan.validation.test_admin_password_parameter.clone();
    run.operator().delete_parameter(&name).await.unwrap();
    not_ready(run.call(STAGING, input).await, &name);
    assert!(run.account.ledger().calls.iter().all(|c| c.step != STAGING.name() || c.service != "http"), "nothing was called");
}

/// Runbook step 8.4 runs the same checklist on production: before the release, production's
/// app has no tenants, so the checklist fails there while staging's passes.
#[tokio::test(start_paused = true)]
async fn the_production_step_checks_production() {
    let run = Run::planned().await;
    let production = run.operator().find_service(&run.plan.production.service_name, &ServiceLocation::AppRunner).await.unwrap().unwrap();
    let why = check_failed(run.call(Step::ValidateProduction, run.with_plan(json!({"service_url": production.url}))).await);
    assert!(why.contains("tenant"), "{why}");
    assert!(run.account.ledger().calls.iter().any(|c| c.step == Step::ValidateProduction.name() && c.service == "http"));
}

#[tokio::test(start_paused = true)]
async fn a_malformed_service_url_is_refused_naming_the_field() {
    let run = Run::planned().await;
    assert_malformed(run.call(STAGING, run.with_plan(json!({"service_url": null}))).await, "service_url");
    assert!(run.calls_of(STAGING).is_empty());
}
