//! `plan_rehearsal`.

use crate::common::{assert_malformed, invalid_field, minutes, not_ready, Run};
use rehearsal_core::plan::STAGING_ENVIRONMENT;
use rehearsal_core::steps::Step;
use rehearsal_tests::{run_document, start_time, RUN_ID};
use serde_json::json;

const PLAN: Step = Step::PlanRehearsal;

/// Planning reads production and fixes every name; a retry later plans the very same run.
#[tokio::test(start_paused = true)]
async fn the_plan_only_reads_and_a_retry_plans_the_same_names() {
    let run = Run::planned().await;
    assert_eq!((run.plan.run_id.as_str(), run.plan.started_at), (RUN_ID, start_time()));
    assert_eq!((run.plan.tags.run_id.as_str(), run.plan.tags.environment.as_str()), (RUN_ID, STAGING_ENVIRONMENT));
    assert!(run.plan.snapshot_id.starts_with(&run.plan.production.db_instance_id.replace("-db", "")), "{}", run.plan.snapshot_id);
    let reads = ["Describe", "Get", "List"];
    assert!(run.calls_of(PLAN).iter().all(|c| reads.iter().any(|r| c.starts_with(r))), "{:?}", run.calls_of(PLAN));
    assert!(run.account.ledger().created.is_empty() && run.production_writes().is_empty());

    minutes(20).await;
    let again = run.ok(PLAN, json!({"input": run_document(), "execution_start": start_time()})).await;
    assert_eq!(again, json!(run.plan));
}

#[tokio::test(start_paused = true)]
async fn a_production_database_that_is_missing_stops_the_plan_naming_it() {
    let run = Run::planned().await;
    let mut document = run_document();
    document["production"] = json!({"db_instance_id": "tableicty-old-production-db"});
    not_ready(run.call(PLAN, json!({"input": document, "execution_start": start_time()})).await, "tableicty-old-production-db");
}

#[tokio::test(start_paused = true)]
async fn bad_input_is_refused_naming_the_field_before_any_call() {
    let run = Run::planned().await;
    let calls = run.calls_of(PLAN).len();
    assert_malformed(run.call(PLAN, json!({"input": run_document(), "execution_start": "yesterday"})).await, "execution_start");
    let mut document = run_document();
    document["ttl_hours"] = json!(0);
    assert_eq!(invalid_field(run.call(PLAN, json!({"input": document, "execution_start": start_time()})).await).0, "ttl_hours");
    assert_eq!(run.calls_of(PLAN).len(), calls);
}
