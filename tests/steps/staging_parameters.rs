//! `write_staging_parameters`, `write_staging_database_url`.

use crate::common::{assert_malformed, assert_not_owned, garbled, invalid_field, not_ready, Run};
use rehearsal_core::cloud::{ParameterKind, ParameterStore};
use rehearsal_core::naming::parameter_name;
use rehearsal_core::plan::{COPIED_FROM_PRODUCTION, DATABASE_URL, STRIPE_KEYS};
use rehearsal_core::steps::Step;
use rehearsal_core::Secret;
use rehearsal_sim::FaultKind;
use serde_json::json;

const WRITE: Step = Step::WriteStagingParameters;
const URL: Step = Step::WriteStagingDatabaseUrl;

async fn value(run: &Run, name: &str) -> String {
    run.operator().get_parameter(name).await.unwrap().unwrap_or_else(|| panic!("no parameter {name}")).value.expose().to_string()
}

#[tokio::test(start_paused = true)]
async fn a_fresh_run_copies_productions_keys_and_the_stripe_test_keys_tagged_with_the_run() {
    let run = Run::planned().await;
    let written = run.ok(WRITE, run.with_plan(json!({}))).await;
    let keys: Vec<&str> = COPIED_FROM_PRODUCTION.iter().chain(STRIPE_KEYS.iter()).copied().collect();
    let arns = written["arns"].as_object().unwrap();
    assert_eq!(arns.keys().map(String::as_str).collect::<std::collections::BTreeSet<_>>(), keys.iter().copied().collect());
    for key in &keys {
        let name = run.plan.staging_parameter(key);
        assert_eq!(arns[*key], json!(rehearsal_sim::parameter_arn(&name)), "{key}");
        run.assert_this_runs("parameter", &name);
        let kind = if *key == "STRIPE_PUBLISHABLE_KEY" { "String" } else { "SecureString" };
        assert_eq!(run.existing("parameter", &name).unwrap().status, kind, "{key}");
    }
    for key in COPIED_FROM_PRODUCTION {
        assert_eq!(value(&run, &run.plan.staging_parameter(key)).await, value(&run, &run.plan.production_parameter(key)).await);
    }
    for key in STRIPE_KEYS {
        let test_key = value(&run, &parameter_name(&run.plan.stripe_test_parameter_path, key)).await;
        assert_eq!(value(&run, &run.plan.staging_parameter(key)).await, test_key);
        assert!(test_key.contains("_test_"), "{key} is a test key");
    }
    assert_eq!(run.created_by(WRITE).len(), keys.len());
    assert_eq!(run.production_writes(), Vec::<String>::new());
}

#[tokio::test(start_paused = true)]
async fn a_rerun_overwrites_its_own_parameters_without_creating_them_again() {
    let run = Run::planned().await;
    let first = run.ok(WRITE, run.with_plan(json!({}))).await;
    let created = run.created_by(WRITE);
    let again = run.ok(WRITE, run.with_plan(json!({}))).await;
    assert_eq!(again, first);
    assert_eq!(run.created_by(WRITE), created, "nothing created twice");
    // Tagged in the creating call, so none ever exists untagged; none tagged again later.
    assert!(!run.calls_of(WRITE).iter().any(|c| c == "AddTagsToResource"), "{:?}", run.calls_of(WRITE));
    for key in ["SECRET_KEY", "STRIPE_SECRET_KEY"] {
        let tags = run.operator().parameter_tags(&run.plan.staging_parameter(key)).await.unwrap();
        assert_eq!(tags, run.plan.tags.to_tags(), "{key}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_foreign_parameter_under_the_staging_path_is_refused_and_keeps_its_value() {
    let run = Run::planned().await;
    let name = run.plan.staging_parameter(COPIED_FROM_PRODUCTION[0]);
    run.operator().put_parameter(&name, &Secret::new("someone-elses"), ParameterKind::SecureString, false).await.unwrap();
    assert_not_owned(run.call(WRITE, run.with_plan(json!({}))).await, &name);
    assert_eq!(value(&run, &name).await, "someone-elses");
    assert!(!run.calls_of(WRITE).contains(&"PutParameter".to_string()), "{:?}", run.calls_of(WRITE));
}

#[tokio::test(start_paused = true)]
async fn a_parameter_created_in_the_race_by_someone_else_is_refused() {
    let run = Run::planned().await;
    run.inject(WRITE, FaultKind::AlreadyExists);
    let first = run.plan.staging_parameter(COPIED_FROM_PRODUCTION[0]);
    assert_not_owned(run.call(WRITE, run.with_plan(json!({}))).await, &first);
    assert!(run.created_by(WRITE).is_empty());
    assert_eq!(run.foreign_ids(), [first]);
}

#[tokio::test(start_paused = true)]
async fn a_production_parameter_that_vanished_stops_the_step_naming_it() {
    let run = Run::planned().await;
    let name = run.plan.production_parameter(COPIED_FROM_PRODUCTION[1]);
    run.operator().delete_parameter(&name).await.unwrap();
    not_ready(run.call(WRITE, run.with_plan(json!({}))).await, &name);
}

#[tokio::test(start_paused = true)]
async fn a_live_stripe_key_put_under_the_test_path_after_planning_is_refused_at_write_time() {
    let run = Run::planned().await;
    let name = parameter_name(&run.plan.stripe_test_parameter_path, STRIPE_KEYS[0]);
    run.operator().put_parameter(&name, &Secret::new("sk_live_51NqTbLiveSecretKey"), ParameterKind::SecureString, true).await.unwrap();
    assert_eq!(invalid_field(run.call(WRITE, run.with_plan(json!({}))).await).0, "stripe.test_parameter_path");
    assert!(run.existing("parameter", &run.plan.staging_parameter(STRIPE_KEYS[0])).is_none(), "the live key was not copied");
}

#[tokio::test(start_paused = true)]
async fn the_database_url_is_productions_pointed_at_the_staging_endpoint() {
    let run = Run::planned().await;
    let database = run.database_available().await;
    let written = run.ok(URL, run.with_plan(json!({"endpoint": database["endpoint"]}))).await;
    let name = run.plan.staging_parameter(DATABASE_URL);
    assert_eq!(written["arns"][DATABASE_URL], json!(rehearsal_sim::parameter_arn(&name)));
    run.assert_this_runs("parameter", &name);
    let staging = value(&run, &name).await;
    let production = value(&run, &run.plan.production_parameter(DATABASE_URL)).await;
    let address = database["endpoint"]["address"].as_str().unwrap();
    assert!(staging.contains(address) && !production.contains(address), "{staging}");
    assert_ne!(staging, production);
    let again = run.ok(URL, run.with_plan(json!({"endpoint": database["endpoint"]}))).await;
    assert_eq!((again, run.created_by(URL)), (written, vec![format!("parameter {name}")]));
    assert_eq!(run.production_writes(), Vec::<String>::new());
}

#[tokio::test(start_paused = true)]
async fn a_malformed_endpoint_is_refused_naming_the_field() {
    let run = Run::planned().await;
    let input = garbled(run.with_plan(json!({"endpoint": {"address": "db.example", "port": 5432}})), "/endpoint/port");
    assert_malformed(run.call(URL, input).await, "endpoint.port");
    assert!(run.calls_of(URL).is_empty());
}
