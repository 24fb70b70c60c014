//! `snapshot_production_database`, `snapshot_production_before_deploy`, `check_production_snapshot`.

use crate::common::{assert_malformed, assert_not_owned, foreign_tags, garbled, minutes, phase, Run};
use rehearsal_core::cloud::Rds;
use rehearsal_core::phase::Phase;
use rehearsal_core::steps::Step;
use rehearsal_core::tags::{Ownership, ENVIRONMENT_KEY};
use rehearsal_sim::FaultKind;
use serde_json::json;

const SNAPSHOT: Step = Step::SnapshotProductionDatabase;
const CHECK: Step = Step::CheckProductionSnapshot;

#[tokio::test(start_paused = true)]
async fn a_fresh_run_snapshots_production_tagged_with_the_run_and_waits_until_available() {
    let run = Run::planned().await;
    let snapshot = run.ok(SNAPSHOT, run.with_plan(json!({}))).await;
    let id = run.plan.snapshot_id.as_str();
    assert_eq!((snapshot["snapshot_id"].as_str(), snapshot["reused"].as_bool()), (Some(id), Some(false)));
    assert_eq!(phase(&snapshot), Phase::InProgress, "{snapshot}");
    assert_eq!(run.created_by(SNAPSHOT), [format!("db-snapshot {id}")]);
    run.assert_this_runs("db-snapshot", id);
    let described = run.operator().describe_snapshot(id).await.unwrap().unwrap();
    assert_eq!(described.source_id, run.plan.production.db_instance_id);

    let available = run.wait_for(CHECK, "snapshot", snapshot).await;
    assert_eq!((phase(&available), available["status"].as_str()), (Phase::Ready, Some("available")));
    assert_eq!(available["timed_out"], json!(false));
    assert_eq!(run.production_writes(), Vec::<String>::new(), "a snapshot only reads production");
}

#[tokio::test(start_paused = true)]
async fn a_rerun_adopts_the_snapshot_it_took() {
    let run = Run::planned().await;
    let first = run.ok(SNAPSHOT, run.with_plan(json!({}))).await;
    let again = run.ok(SNAPSHOT, run.with_plan(json!({}))).await;
    assert_eq!((again["snapshot_id"].clone(), again["reused"].as_bool()), (first["snapshot_id"].clone(), Some(true)));
    assert_eq!(run.created_by(SNAPSHOT).len(), 1, "created again: {:?}", run.created_by(SNAPSHOT));
    assert_eq!(run.wait_for(CHECK, "snapshot", again).await["reused"], json!(true), "the check keeps what the step found");
}

#[tokio::test(start_paused = true)]
async fn a_foreign_snapshot_under_the_planned_name_is_refused_and_left_alone() {
    let run = Run::planned().await;
    let id = run.plan.snapshot_id.clone();
    run.operator().create_snapshot(&run.plan.production.db_instance_id, &id, &foreign_tags()).await.unwrap();
    assert_not_owned(run.call(SNAPSHOT, run.with_plan(json!({}))).await, &id);
    assert!(run.created_by(SNAPSHOT).is_empty());
    assert!(run.calls_of(SNAPSHOT).iter().all(|c| c == "DescribeDBSnapshots"), "{:?}", run.calls_of(SNAPSHOT));
    assert_eq!(run.existing("db-snapshot", &id).unwrap().tags, foreign_tags());
}

#[tokio::test(start_paused = true)]
async fn a_snapshot_created_in_the_race_by_someone_else_is_refused() {
    let run = Run::planned().await;
    run.inject(SNAPSHOT, FaultKind::AlreadyExists);
    assert_not_owned(run.call(SNAPSHOT, run.with_plan(json!({}))).await, &run.plan.snapshot_id);
    assert!(run.created_by(SNAPSHOT).is_empty());
    assert_eq!(run.foreign_ids(), [run.plan.snapshot_id.as_str()]);
    assert!(run.account.ledger().deleted.is_empty(), "the race's winner is left alone");
}

#[tokio::test(start_paused = true)]
async fn a_snapshot_that_vanished_is_gone() {
    let run = Run::planned().await;
    let available = run.snapshot_available().await;
    run.operator().delete_snapshot(&run.plan.snapshot_id).await.unwrap();
    let deleting = run.ok(CHECK, run.with_plan(json!({"snapshot": available}))).await;
    assert_eq!((phase(&deleting), deleting["status"].as_str()), (Phase::Gone, Some("deleting")));
    minutes(30).await;
    let vanished = run.ok(CHECK, run.with_plan(json!({"snapshot": deleting}))).await;
    assert_eq!((phase(&vanished), vanished["status"].as_str()), (Phase::Gone, Some("deleted")), "{vanished}");
}

#[tokio::test(start_paused = true)]
async fn a_malformed_state_is_refused_naming_the_field() {
    let run = Run::planned().await;
    let snapshot = run.ok(SNAPSHOT, run.with_plan(json!({}))).await;
    let calls = run.calls_of(CHECK).len();
    assert_malformed(run.call(CHECK, garbled(run.with_plan(json!({"snapshot": snapshot})), "/snapshot/deadline")).await, "snapshot");
    assert_malformed(run.call(SNAPSHOT, garbled(run.with_plan(json!({})), "/plan/snapshot_id")).await, "plan.snapshot_id");
    assert_eq!(run.calls_of(CHECK).len(), calls, "refused before any call");
}

/// Runbook step 8.1: the promotion's own snapshot, tagged for production, adopted on a retry.
#[tokio::test(start_paused = true)]
async fn before_the_deployment_production_is_snapshotted_again_under_the_promotions_name() {
    let run = Run::planned().await;
    let promotion = run.promotion();
    let id = promotion["snapshot_id"].as_str().unwrap().to_string();
    let input = json!({"promotion": promotion});
    let first = run.ok(Step::SnapshotProductionBeforeDeploy, input.clone()).await;
    assert_eq!((first["snapshot_id"].as_str(), first["reused"].as_bool()), (Some(id.as_str()), Some(false)));
    let tags = run.existing("db-snapshot", &id).unwrap().tags;
    assert_eq!(tags.get(ENVIRONMENT_KEY).map(String::as_str), Some("production"));
    assert_eq!(run.this_run().ownership(&tags), Ownership::Foreign, "not the staging run's");
    assert_ne!(id, run.plan.snapshot_id);

    let again = run.ok(Step::SnapshotProductionBeforeDeploy, input).await;
    assert_eq!(again["reused"], json!(true));
    assert_eq!(run.created_by(Step::SnapshotProductionBeforeDeploy), [format!("db-snapshot {id}")]);
    // CheckPredeploySnapshot passes the promotion's plan, the staging run's own.
    assert_eq!(promotion["plan"], json!(run.plan));
    assert_eq!(phase(&run.wait_for(CHECK, "snapshot", again).await), Phase::Ready);
}
