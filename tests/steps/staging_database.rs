//! `restore_staging_database`, `check_staging_database` (the production rollback's
//! `check_restored_production_database` is in production_rollback.rs).

use crate::common::{assert_malformed, assert_not_owned, foreign_tags, garbled, minutes, phase, Run};
use rehearsal_core::cloud::{Rds, RestoreRequest};
use rehearsal_core::phase::Phase;
use rehearsal_core::steps::Step;
use rehearsal_core::StepError;
use rehearsal_sim::FaultKind;
use serde_json::{json, Value};

const RESTORE: Step = Step::RestoreStagingDatabase;
const CHECK: Step = Step::CheckStagingDatabase;

/// The production snapshot available, and the restore's input from it.
async fn restorable(run: &Run) -> Value {
    let snapshot = run.snapshot_available().await;
    run.with_plan(json!({"snapshot_id": snapshot["snapshot_id"]}))
}

#[tokio::test(start_paused = true)]
async fn a_fresh_run_restores_a_small_private_copy_tagged_with_the_run() {
    let run = Run::planned().await;
    let database = run.ok(RESTORE, restorable(&run).await).await;
    let id = run.plan.staging_db.instance_id.as_str();
    assert_eq!(
        (database["instance_id"].as_str(), database["reused"].as_bool(), phase(&database)),
        (Some(id), Some(false), Phase::InProgress)
    );
    run.assert_this_runs("db-instance", id);
    let copy = run.operator().describe_instance(id).await.unwrap().unwrap();
    let planned = &run.plan.staging_db;
    assert_eq!(
        (&copy.class, &copy.subnet_group, &copy.security_group_ids),
        (&planned.class, &planned.subnet_group, &planned.security_group_ids)
    );
    assert!(!copy.publicly_accessible);
    assert_eq!(run.created_by(RESTORE), [format!("db-instance {id}")]);

    let available = run.wait_for(CHECK, "database", database).await;
    assert_eq!((phase(&available), available["status"].as_str()), (Phase::Ready, Some("available")));
    let endpoint = run.operator().describe_instance(id).await.unwrap().unwrap().endpoint.expect("an available instance answers");
    assert_eq!(available["endpoint"], json!(endpoint));
    assert_eq!(run.production_writes(), Vec::<String>::new());
}

#[tokio::test(start_paused = true)]
async fn a_rerun_adopts_the_instance_it_restored() {
    let run = Run::planned().await;
    let input = restorable(&run).await;
    run.ok(RESTORE, input.clone()).await;
    minutes(3).await;
    let again = run.ok(RESTORE, input).await;
    assert_eq!((again["reused"].as_bool(), phase(&again)), (Some(true), Phase::InProgress));
    assert_eq!(run.created_by(RESTORE).len(), 1);
    assert_eq!(run.wait_for(CHECK, "database", again).await["reused"], json!(true));
}

#[tokio::test(start_paused = true)]
async fn a_foreign_instance_under_the_staging_name_is_refused_and_left_alone() {
    let run = Run::planned().await;
    let input = restorable(&run).await;
    let planned = &run.plan.staging_db;
    let theirs = RestoreRequest {
        instance_id: planned.instance_id.clone(),
        source: rehearsal_core::cloud::RestoreSource::Snapshot(run.plan.snapshot_id.clone()),
        class: planned.class.clone(),
        subnet_group: planned.subnet_group.clone(),
        security_group_ids: planned.security_group_ids.clone(),
        parameter_group: None,
        option_group: None,
        publicly_accessible: false,
        tags: foreign_tags(),
    };
    run.operator().restore_instance(&theirs).await.unwrap();
    assert_not_owned(run.call(RESTORE, input).await, &planned.instance_id);
    assert_eq!(run.calls_of(RESTORE), ["DescribeDBInstances"]);
    assert_eq!(run.existing("db-instance", &planned.instance_id).unwrap().tags, foreign_tags());
}

#[tokio::test(start_paused = true)]
async fn an_instance_created_in_the_race_by_someone_else_is_refused() {
    let run = Run::planned().await;
    let input = restorable(&run).await;
    run.inject(RESTORE, FaultKind::AlreadyExists);
    assert_not_owned(run.call(RESTORE, input).await, &run.plan.staging_db.instance_id);
    assert!(run.created_by(RESTORE).is_empty());
    assert_eq!(run.foreign_ids(), [run.plan.staging_db.instance_id.as_str()]);
}

#[tokio::test(start_paused = true)]
async fn a_restore_that_fails_or_an_instance_that_vanishes_ends_the_wait() {
    let run = Run::planned().await;
    let input = restorable(&run).await;
    run.inject(RESTORE, FaultKind::FailedState);
    let failed = run.wait_for(CHECK, "database", run.ok(RESTORE, input).await).await;
    assert_eq!(phase(&failed), Phase::Failed, "{failed}");

    run.operator().delete_instance(&run.plan.staging_db.instance_id, None).await.unwrap();
    minutes(30).await;
    let vanished = run.ok(CHECK, run.with_plan(json!({"database": failed}))).await;
    assert_eq!((phase(&vanished), vanished["status"].as_str(), &vanished["endpoint"]), (Phase::Gone, Some("deleted"), &Value::Null));
}

#[tokio::test(start_paused = true)]
async fn a_malformed_input_is_refused_naming_the_field() {
    let run = Run::planned().await;
    assert_malformed(run.call(RESTORE, run.with_plan(json!({"snapshot_id": 7}))).await, "snapshot_id");
    let database = json!({"instance_id": "x", "status": "creating", "endpoint": null, "reused": false, "deadline": "2026-11-24T10:00:00Z", "timed_out": false});
    assert_malformed(run.call(CHECK, garbled(run.with_plan(json!({"database": database})), "/database/reused")).await, "database");
    assert!(run.calls_of(RESTORE).is_empty() && run.calls_of(CHECK).is_empty());
}

/// A plan that names production's instance as staging's is refused by the guard, not restored
/// over.
#[tokio::test(start_paused = true)]
async fn a_plan_naming_production_as_staging_is_refused_before_any_call() {
    let run = Run::planned().await;
    let mut input = run.with_plan(json!({"snapshot_id": run.plan.snapshot_id}));
    input["plan"]["staging_db"]["instance_id"] = json!(run.plan.production.db_instance_id);
    match run.call(RESTORE, input).await {
        Err(StepError::ProductionWriteRefused { resource, .. }) => assert!(resource.contains(&run.plan.production.db_instance_id)),
        other => panic!("{other:?}"),
    }
    assert!(run.calls_of(RESTORE).is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_password_reset_run_again_while_its_first_applies_waits_for_it_instead_of_failing() {
    let run = Run::planned().await;
    let database = run.database_available().await;
    run.ok(Step::WriteStagingDatabaseUrl, run.with_plan(json!({"endpoint": database["endpoint"]}))).await;
    let input = run.with_plan(json!({"database": database}));
    // The first reset took effect, but its answer was lost: Step Functions runs the step again.
    run.inject(Step::ResetStagingDatabasePassword, FaultKind::LostResponse);
    assert!(matches!(run.call(Step::ResetStagingDatabasePassword, input.clone()).await, Err(StepError::Transient { .. })));
    let again = run.ok(Step::ResetStagingDatabasePassword, input).await;
    assert_eq!((phase(&again), again["status"].as_str()), (Phase::InProgress, Some("resetting-master-credentials")));
    let modifies = run.calls_of(Step::ResetStagingDatabasePassword).iter().filter(|c| c.contains("ModifyDBInstance")).count();
    assert_eq!(modifies, 1, "one reset, not a second one refused while the first applies");
    assert_eq!(phase(&run.wait_for(CHECK, "database", again).await), Phase::Ready);
}
