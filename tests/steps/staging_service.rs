//! `create_staging_service`, `check_staging_service`, `publish_frontend_url` (and
//! `check_production_service`, the same check on production: see production_rollback.rs).

use crate::common::{assert_malformed, assert_not_owned, minutes, phase, Run};
use rehearsal_core::cloud::{ParameterStore, ServiceHost, ServiceSpec};
use rehearsal_core::phase::Phase;
use rehearsal_core::plan::{DATABASE_URL, FRONTEND_URL};
use rehearsal_core::steps::Step;
use rehearsal_sim::FaultKind;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const CREATE: Step = Step::CreateStagingService;
const CHECK: Step = Step::CheckStagingService;
const PUBLISH: Step = Step::PublishFrontendUrl;

/// The parameters written, and the create step's input referencing them.
async fn creatable(run: &Run) -> Value {
    let secrets = run.parameters_written().await;
    run.with_plan(json!({"secrets": secrets}))
}

#[tokio::test(start_paused = true)]
async fn a_fresh_run_creates_the_service_tagged_with_the_run_referencing_the_staging_parameters() {
    let run = Run::planned().await;
    let service = run.ok(CREATE, creatable(&run).await).await;
    let name = run.plan.service.name.as_str();
    assert_eq!((service["name"].as_str(), service["reused"].as_bool(), phase(&service)), (Some(name), Some(false), Phase::InProgress));
    assert!(service["operation_id"].is_string());
    run.assert_this_runs("service", name);
    assert_eq!(run.created_by(CREATE), [format!("service {name}")]);

    let running = run.wait_for(CHECK, "service", service).await;
    assert_eq!(
        (phase(&running), running["status"].as_str(), running["operation_status"].as_str()),
        (Phase::Ready, Some("RUNNING"), Some("SUCCEEDED"))
    );
    let environment = run.account.service_environment(name).expect("the deployment runs");
    let staging_url = run.operator().get_parameter(&run.plan.staging_parameter(DATABASE_URL)).await.unwrap().unwrap().value;
    assert_eq!(environment.get(DATABASE_URL), Some(&staging_url.expose().to_string()), "it reads staging's DATABASE_URL");
    assert_eq!(run.production_writes(), Vec::<String>::new());
}

#[tokio::test(start_paused = true)]
async fn a_rerun_adopts_the_service_it_created() {
    let run = Run::planned().await;
    let input = creatable(&run).await;
    let first = run.ok(CREATE, input.clone()).await;
    minutes(2).await;
    let again = run.ok(CREATE, input).await;
    assert_eq!(
        (again["arn"].clone(), again["reused"].as_bool(), again["operation_id"].clone()),
        (first["arn"].clone(), Some(true), Value::Null)
    );
    assert_eq!(phase(&again), Phase::InProgress, "still being created");
    assert_eq!(run.created_by(CREATE).len(), 1);
    assert_eq!(phase(&run.wait_for(CHECK, "service", again).await), Phase::Ready);
}

#[tokio::test(start_paused = true)]
async fn a_foreign_service_under_the_staging_name_is_refused_and_left_alone() {
    let run = Run::planned().await;
    let input = creatable(&run).await;
    let theirs = ServiceSpec { secrets: BTreeMap::new(), ..run.plan.service.clone() };
    run.operator().create_service(&theirs, &crate::common::foreign_tags()).await.unwrap();
    assert_not_owned(run.call(CREATE, input).await, &run.plan.service.name);
    assert_eq!(run.calls_of(CREATE), ["ListServices"]);
    assert_eq!(run.existing("service", &run.plan.service.name).unwrap().tags, crate::common::foreign_tags());
}

#[tokio::test(start_paused = true)]
async fn a_service_created_in_the_race_by_someone_else_is_refused() {
    let run = Run::planned().await;
    let input = creatable(&run).await;
    run.inject(CREATE, FaultKind::AlreadyExists);
    assert_not_owned(run.call(CREATE, input).await, &run.plan.service.name);
    assert!(run.created_by(CREATE).is_empty());
    assert_eq!(run.foreign_ids(), [run.plan.service.name.as_str()]);
}

#[tokio::test(start_paused = true)]
async fn a_service_that_fails_or_vanishes_ends_the_wait() {
    let run = Run::planned().await;
    let input = creatable(&run).await;
    run.inject(CREATE, FaultKind::FailedState);
    let failed = run.wait_for(CHECK, "service", run.ok(CREATE, input).await).await;
    assert_eq!(phase(&failed), Phase::Failed, "{failed}");

    run.operator().delete_service(failed["arn"].as_str().unwrap()).await.unwrap();
    minutes(30).await;
    let vanished = run.ok(CHECK, run.with_plan(json!({"service": failed}))).await;
    assert_eq!((phase(&vanished), vanished["status"].as_str()), (Phase::Gone, Some("DELETED")));
}

/// FRONTEND_URL exists only once the service does: written, then a second deployment makes the
/// app see it; asked again while that deployment runs, the step is to be retried.
#[tokio::test(start_paused = true)]
async fn the_frontend_url_is_published_and_redeployed() {
    let run = Run::planned().await;
    let (service, secrets) = run.service_running().await;
    // A service that reports no URL yet (App Runner may create one without) gets no FRONTEND_URL.
    let mut unnamed = service.clone();
    unnamed["url"] = json!("");
    let refused = run.call(PUBLISH, run.with_plan(json!({"service": unnamed, "secrets": secrets}))).await;
    assert_eq!(refused.unwrap_err().name(), "MalformedInputError");
    assert!(run.calls_of(PUBLISH).is_empty(), "{:?}", run.calls_of(PUBLISH));
    let input = run.with_plan(json!({"service": service, "secrets": secrets}));
    let redeploying = run.ok(PUBLISH, input.clone()).await;
    assert_eq!(phase(&redeploying), Phase::InProgress);
    assert_ne!(redeploying["operation_id"], service["operation_id"]);
    let name = run.plan.staging_parameter(FRONTEND_URL);
    run.assert_this_runs("parameter", &name);
    let url = format!("https://{}", service["url"].as_str().unwrap());
    assert_eq!(run.operator().get_parameter(&name).await.unwrap().unwrap().value.expose(), url);
    assert_eq!(run.call(PUBLISH, input).await.unwrap_err().name(), "TransientError", "an operation is running");

    let redeployed = run.wait_for(CHECK, "service", redeploying).await;
    assert_eq!(phase(&redeployed), Phase::Ready, "{redeployed}");
    assert_eq!(run.account.service_environment(&run.plan.service.name).unwrap().get(FRONTEND_URL), Some(&url));
    assert_eq!(run.created_by(PUBLISH), [format!("parameter {name}")]);
    assert_eq!(run.production_writes(), Vec::<String>::new());
}

#[tokio::test(start_paused = true)]
async fn malformed_inputs_are_refused_naming_the_field() {
    let run = Run::planned().await;
    assert_malformed(run.call(CREATE, run.with_plan(json!({"secrets": ["DATABASE_URL"]}))).await, "secrets");
    assert_malformed(run.call(CHECK, run.with_plan(json!({"service": {"arn": 1}}))).await, "service.arn");
    assert!(run.calls_of(CREATE).is_empty() && run.calls_of(CHECK).is_empty());
}

/// A plan naming production's service as staging's is refused by the guard.
#[tokio::test(start_paused = true)]
async fn a_plan_naming_the_production_service_is_refused_before_any_call() {
    let run = Run::planned().await;
    let mut input = run.with_plan(json!({"secrets": {}}));
    input["plan"]["service"]["name"] = json!(run.plan.production.service_name);
    assert_eq!(run.call(CREATE, input).await.unwrap_err().name(), "ProductionWriteRefusedError");
    assert!(run.calls_of(CREATE).is_empty());
}
