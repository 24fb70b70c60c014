//! `rollback_staging`.

use crate::common::{assert_malformed, Run};
use rehearsal_core::cloud::{ParameterKind, ParameterStore};
use rehearsal_core::phase::Phase;
use rehearsal_core::steps::Step;
use rehearsal_core::{Secret, StepError};
use rehearsal_sim::FaultKind;
use serde_json::{json, Value};

const ROLLBACK: Step = Step::RollbackStaging;

fn input(run: &Run) -> impl Fn(u32) -> Value + '_ {
    move |attempts| run.with_plan(json!({"attempts": attempts}))
}

fn strings(state: &Value, key: &str) -> Vec<String> {
    state[key].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

#[tokio::test(start_paused = true)]
async fn with_nothing_created_the_rollback_is_complete_at_once() {
    let run = Run::planned().await;
    let state = run.ok(ROLLBACK, input(&run)(4)).await;
    assert_eq!((state["complete"].as_bool(), state["attempts"].as_u64()), (Some(true), Some(5)));
    assert_eq!(crate::common::phase(&state), Phase::Ready);
    assert!(strings(&state, "deleted").is_empty() && run.deleted_by(ROLLBACK).is_empty());
}

/// Everything the run made goes, the backup included (production was never changed by a failed
/// run); the teardown schedule, the safety net, only once nothing else is pending.
#[tokio::test(start_paused = true)]
async fn a_rollback_deletes_what_the_run_made_and_the_schedule_last() {
    let run = Run::planned().await;
    run.staging_built().await;
    let made = run.account.leftovers(&run.plan.run_id);
    assert!(made.iter().any(|r| r.starts_with("service ")) && made.iter().any(|r| r.starts_with("stripe-webhook ")), "{made:?}");
    let attempts = run.until_removed(ROLLBACK, input(&run)).await;
    assert!(attempts.len() > 1, "deletions take time");
    let schedule = format!("schedule rehearsal/{}", run.plan.teardown_schedule_name());
    for earlier in &attempts[..attempts.len() - 1] {
        assert!(!strings(earlier, "deleted").iter().any(|d| d.contains(&run.plan.teardown_schedule_name())), "{earlier}");
    }
    assert_eq!(run.deleted_by(ROLLBACK).last(), Some(&schedule));
    assert!(run.deleted_by(ROLLBACK).contains(&format!("db-snapshot {}", run.plan.snapshot_id)));
    assert_eq!(run.account.leftovers(&run.plan.run_id), Vec::<String>::new());
    assert_eq!(run.production_writes(), Vec::<String>::new());
    // Run again, it finds nothing left.
    let again = run.ok(ROLLBACK, input(&run)(attempts.len() as u32)).await;
    assert_eq!((again["complete"].as_bool(), strings(&again, "deleted")), (Some(true), vec![]));
}

/// A copy RDS is still restoring cannot be deleted yet: the rollback waits for it as long as
/// the plan lets a restore take (plus half an hour for the deletions), then says it timed out.
#[tokio::test(start_paused = true)]
async fn the_rollback_times_out_only_after_the_plans_restore_time_and_half_an_hour() {
    use rehearsal_core::steps::rollback::{attempts_allowed, SECONDS_BETWEEN_ATTEMPTS};
    let run = Run::planned().await;
    let allowed = attempts_allowed(&run.plan);
    let minutes = run.plan.timeouts.restore_minutes.max(run.plan.timeouts.snapshot_minutes) + 30;
    assert_eq!(allowed * SECONDS_BETWEEN_ATTEMPTS, minutes * 60);
    // Deletions take minutes: right after they were asked for, everything is still pending.
    run.staging_built().await;
    let before = run.ok(ROLLBACK, input(&run)(allowed - 2)).await;
    assert_eq!((before["complete"].as_bool(), before["timed_out"].as_bool()), (Some(false), Some(false)), "{before}");
    let last = run.ok(ROLLBACK, input(&run)(allowed - 1)).await;
    assert_eq!((last["complete"].as_bool(), last["timed_out"].as_bool()), (Some(false), Some(true)), "{last}");
}

#[tokio::test(start_paused = true)]
async fn what_someone_else_made_under_a_planned_name_is_kept() {
    let run = Run::planned().await;
    let name = run.plan.staging_parameter("SECRET_KEY");
    run.operator().put_parameter(&name, &Secret::new("theirs"), ParameterKind::SecureString, false).await.unwrap();
    let state = run.ok(ROLLBACK, input(&run)(0)).await;
    assert_eq!(state["complete"], json!(true), "kept resources do not hold the rollback up");
    assert!(strings(&state, "kept").iter().any(|k| k.contains(&name)), "{state}");
    assert!(run.existing("parameter", &name).is_some() && run.deleted_by(ROLLBACK).is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_plan_naming_production_is_refused_before_any_call() {
    let run = Run::planned().await;
    let mut forged = input(&run)(0);
    forged["plan"]["staging_db"]["instance_id"] = json!(run.plan.production.db_instance_id);
    match run.call(ROLLBACK, forged).await {
        Err(StepError::ProductionWriteRefused { resource, .. }) => assert!(resource.contains(&run.plan.production.db_instance_id)),
        other => panic!("{other:?}"),
    }
    assert!(run.calls_of(ROLLBACK).is_empty());
}

/// Throttling and 5xx go back to the state machine's Retry instead of being noted as failed.
#[tokio::test(start_paused = true)]
async fn an_unavailable_service_is_the_state_machines_to_retry() {
    let run = Run::planned().await;
    run.parameters_written().await;
    run.inject(ROLLBACK, FaultKind::Unavailable);
    assert_eq!(run.call(ROLLBACK, input(&run)(0)).await.unwrap_err().name(), "TransientError");
    assert!(run.deleted_by(ROLLBACK).is_empty());
}

#[tokio::test(start_paused = true)]
async fn malformed_attempts_are_refused_naming_the_field() {
    let run = Run::planned().await;
    assert_malformed(run.call(ROLLBACK, run.with_plan(json!({"attempts": -1}))).await, "attempts");
    assert!(run.calls_of(ROLLBACK).is_empty());
}
