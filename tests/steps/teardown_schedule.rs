//! `schedule_staging_teardown`, `schedule_teardown_after_promotion`.

use crate::common::{assert_malformed, assert_not_owned, minutes, targets, Run};
use chrono::{DateTime, Duration, Utc};
use rehearsal_core::cloud::{OneTimeSchedule, Scheduler};
use rehearsal_core::plan::SCHEDULE_GROUP;
use rehearsal_core::steps::teardown_schedule::scheduled_run_id;
use rehearsal_core::steps::Step;
use rehearsal_sim::FaultKind;
use serde_json::{json, Value};

const SCHEDULE: Step = Step::ScheduleStagingTeardown;
const PROMOTED: Step = Step::ScheduleTeardownAfterPromotion;

async fn scheduled(run: &Run) -> Option<OneTimeSchedule> {
    run.operator().get_schedule(SCHEDULE_GROUP, &run.plan.teardown_schedule_name()).await.unwrap()
}

fn schedule_id(run: &Run) -> String {
    format!("schedule {SCHEDULE_GROUP}/{}", run.plan.teardown_schedule_name())
}

/// `ScheduleStagingTeardown`'s input in `promote.asl.json`.
fn promoted(run: &Run) -> Value {
    let mut input = json!({"promotion": run.promotion()});
    input.as_object_mut().unwrap().extend(targets().as_object().unwrap().clone());
    input
}

fn at(state: &Value) -> DateTime<Utc> {
    serde_json::from_value(state["at"].clone()).unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_fresh_run_schedules_its_teardown_at_the_end_of_its_time_to_live() {
    let run = Run::planned().await;
    let state = run.ok(SCHEDULE, run.with_plan(targets())).await;
    let due = run.plan.started_at + Duration::hours(i64::from(run.plan.ttl_hours));
    assert_eq!((at(&state), state["reused"].as_bool()), (due, Some(false)));
    let schedule = scheduled(&run).await.expect("the schedule exists");
    assert_eq!((schedule.at, schedule.target_arn.as_str()), (due, targets()["teardown_state_machine_arn"].as_str().unwrap()));
    assert_eq!(scheduled_run_id(&schedule).as_deref(), Some(run.plan.run_id.as_str()), "it tears down this run");
    let input: Value = serde_json::from_str(&schedule.input).unwrap();
    assert_eq!(input["plan"], json!(run.plan), "the teardown receives the plan");
    assert_eq!(run.created_by(SCHEDULE), [schedule_id(&run)]);
    assert_eq!(run.production_writes(), Vec::<String>::new());
}

#[tokio::test(start_paused = true)]
async fn a_retry_later_adopts_the_same_moment() {
    let run = Run::planned().await;
    let first = run.ok(SCHEDULE, run.with_plan(targets())).await;
    minutes(45).await;
    let again = run.ok(SCHEDULE, run.with_plan(targets())).await;
    assert_eq!((at(&again), again["reused"].as_bool()), (at(&first), Some(true)));
    assert_eq!(run.created_by(SCHEDULE).len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_schedule_under_the_planned_name_that_starts_something_else_is_refused() {
    let run = Run::planned().await;
    let other = OneTimeSchedule {
        name: run.plan.teardown_schedule_name(),
        group: SCHEDULE_GROUP.into(),
        at: run.plan.started_at,
        target_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:someone-elses".into(),
        role_arn: "arn:aws:iam::123456789012:role/someone".into(),
        input: json!({"plan": {"run_id": run.plan.run_id}}).to_string(),
    };
    run.operator().create_schedule(&other).await.unwrap();
    assert_not_owned(run.call(SCHEDULE, run.with_plan(targets())).await, &run.plan.teardown_schedule_name());
    assert_eq!(scheduled(&run).await, Some(other.clone()), "left as it was");
    // Nor does a promotion move it.
    assert_not_owned(run.call(PROMOTED, promoted(&run)).await, &run.plan.teardown_schedule_name());
    assert_eq!(scheduled(&run).await, Some(other));
    assert!(run.account.ledger().deleted.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_schedule_created_in_the_race_by_someone_else_is_refused() {
    let run = Run::planned().await;
    run.inject(SCHEDULE, FaultKind::AlreadyExists);
    assert_not_owned(run.call(SCHEDULE, run.with_plan(targets())).await, &run.plan.teardown_schedule_name());
    assert!(run.created_by(SCHEDULE).is_empty());
    assert_eq!(run.foreign_ids(), [format!("{SCHEDULE_GROUP}/{}", run.plan.teardown_schedule_name())]);
}

#[tokio::test(start_paused = true)]
async fn a_malformed_target_is_refused_naming_the_field() {
    let run = Run::planned().await;
    let mut input = run.with_plan(targets());
    input["scheduler_role_arn"] = json!(7);
    assert_malformed(run.call(SCHEDULE, input).await, "scheduler_role_arn");
    assert!(run.calls_of(SCHEDULE).is_empty());
}

/// Runbook step 8.5: after a promotion the teardown comes soon; the schedule is updated in
/// place (never absent, as between a delete and a create) and a retry keeps the moved one.
#[tokio::test(start_paused = true)]
async fn a_promotion_moves_the_teardown_forward_once() {
    let run = Run::planned().await;
    run.ok(SCHEDULE, run.with_plan(targets())).await;
    minutes(90).await;
    let input = promoted(&run);
    let moved = run.ok(PROMOTED, input.clone()).await;
    let delay = Duration::minutes(input["promotion"]["teardown_delay_minutes"].as_i64().unwrap());
    assert_eq!((at(&moved), moved["reused"].as_bool()), (run.account.now() + delay, Some(false)));
    assert_eq!(scheduled(&run).await.unwrap().at, at(&moved));
    assert_eq!((run.deleted_by(PROMOTED), run.created_by(PROMOTED)), (vec![], vec![]));
    assert_eq!(run.calls_of(PROMOTED), ["GetSchedule", "UpdateSchedule"]);
    minutes(5).await;
    let again = run.ok(PROMOTED, input).await;
    assert_eq!((at(&again), again["reused"].as_bool()), (at(&moved), Some(true)));
    assert_eq!(run.calls_of(PROMOTED), ["GetSchedule", "UpdateSchedule", "GetSchedule"]);

    // A schedule that vanished (fired, or deleted by hand) is created again.
    run.operator().delete_schedule(SCHEDULE_GROUP, &run.plan.teardown_schedule_name()).await.unwrap();
    assert_eq!(run.ok(PROMOTED, promoted(&run)).await["reused"], json!(false));
    assert!(scheduled(&run).await.is_some());
}

/// A schedule of the same name someone makes while the promotion moves the teardown cannot take
/// the staging's teardown away: the update leaves no moment without this run's schedule.
#[tokio::test(start_paused = true)]
async fn a_conflict_while_moving_the_teardown_keeps_this_runs_schedule() {
    let run = Run::planned().await;
    run.ok(SCHEDULE, run.with_plan(targets())).await;
    run.inject(PROMOTED, FaultKind::AlreadyExists);
    run.ok(PROMOTED, promoted(&run)).await;
    let schedule = scheduled(&run).await.unwrap();
    assert_eq!(scheduled_run_id(&schedule).as_deref(), Some(run.plan.run_id.as_str()));
}
