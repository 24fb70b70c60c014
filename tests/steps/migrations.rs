//! `verify_staging_migrations`, `verify_production_migrations`.

use crate::common::{assert_malformed, check_failed, garbled, not_ready, Run};
use rehearsal_core::checks::db::migration_checks;
use rehearsal_core::cloud::ParameterStore;
use rehearsal_core::plan::DATABASE_URL;
use rehearsal_core::steps::Step;
use rehearsal_sim::FaultKind;
use serde_json::{json, Value};

const STAGING: Step = Step::VerifyStagingMigrations;
const PRODUCTION: Step = Step::VerifyProductionMigrations;

fn names(report: &Value) -> Vec<String> {
    report["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_string()).collect()
}

/// The staging deployment migrated the copy; production, not yet promoted, still has the old
/// schema: each step reads its own environment's database.
#[tokio::test(start_paused = true)]
async fn each_step_checks_its_own_environments_database() {
    let run = Run::planned().await;
    run.service_running().await;
    let report = run.ok(STAGING, run.with_plan(json!({}))).await;
    let expected: Vec<String> = migration_checks().into_iter().map(|c| c.name).collect();
    assert_eq!(names(&report), expected);
    assert!(report["checks"].as_array().unwrap().iter().all(|c| c["passed"] == json!(true)), "{report}");

    let why = check_failed(run.call(PRODUCTION, run.with_plan(json!({}))).await);
    assert!(why.contains(&expected[0]), "{why}");
    assert_eq!(run.production_writes(), Vec::<String>::new(), "checks only read");
}

#[tokio::test(start_paused = true)]
async fn a_database_answering_as_a_broken_deployment_fails_the_check_with_its_expectation() {
    let run = Run::planned().await;
    run.service_running().await;
    run.inject(STAGING, FaultKind::FailedCheck);
    let why = check_failed(run.call(STAGING, run.with_plan(json!({}))).await);
    assert!(why.contains("tenant tables exist: expected"), "{why}");
}

#[tokio::test(start_paused = true)]
async fn a_database_url_that_vanished_stops_the_step_naming_it() {
    let run = Run::planned().await;
    run.service_running().await;
    let name = run.plan.staging_parameter(DATABASE_URL);
    run.operator().delete_parameter(&name).await.unwrap();
    not_ready(run.call(STAGING, run.with_plan(json!({}))).await, &name);
    assert!(!run.calls_of(STAGING).iter().any(|c| c != "GetParameter"), "no query without the URL: {:?}", run.calls_of(STAGING));
}

#[tokio::test(start_paused = true)]
async fn a_malformed_plan_is_refused_naming_the_field() {
    let run = Run::planned().await;
    assert_malformed(
        run.call(STAGING, garbled(run.with_plan(json!({})), "/plan/staging_parameter_path")).await,
        "plan.staging_parameter_path",
    );
    assert!(run.calls_of(STAGING).is_empty());
}
