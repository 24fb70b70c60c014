//! `take_staging_lease`, `release_staging_lease`, `take_production_lease`,
//! `release_production_lease` (end to end: tests/staging_pipeline.rs, tests/teardown.rs).

use crate::common::{check_failed, Run};
use chrono::{DateTime, Utc};
use rehearsal_core::cloud::{ExecutionInfo, ParameterKind, ParameterStore};
use rehearsal_core::lease::{lease_parameter, Lease, LeaseHeld, LeasedEnvironment};
use rehearsal_core::steps::Step;
use rehearsal_core::{Secret, StepError};
use rehearsal_sim::FaultKind;
use serde_json::{json, Value};

const THIS_EXECUTION: &str = "arn:aws:states:us-east-1:123456789012:execution:rehearsal-staging:staging";
const OTHER_EXECUTION: &str = "arn:aws:states:us-east-1:123456789012:execution:rehearsal-staging:another";

fn staging_lease(run: &Run) -> String {
    lease_parameter(&run.plan.app, LeasedEnvironment::Staging)
}

fn take(run: &Run, execution: &str) -> Value {
    run.with_plan(json!({"execution_arn": execution}))
}

/// The lease as it is stored now.
async fn holder(run: &Run, parameter: &str) -> Option<Lease> {
    let stored = run.operator().get_parameter(parameter).await.unwrap()?;
    Some(Lease::parse(parameter, stored.value.expose()).unwrap())
}

/// Another run's execution as Step Functions describes it.
fn execution(arn: &str, status: &str, start: DateTime<Utc>) -> ExecutionInfo {
    ExecutionInfo {
        arn: arn.into(),
        state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:rehearsal-staging".into(),
        name: arn.rsplit(':').next().map(str::to_string),
        status: status.into(),
        start,
        stop: (status != "RUNNING").then_some(start),
        input: Some("{}".into()),
        output: None,
        error: None,
        cause: None,
    }
}

/// Another run holds staging: its lease is planted, and its execution is `status`.
async fn held_by_another(run: &Run, status: &str) -> Lease {
    let other = Lease { execution_arn: OTHER_EXECUTION.into(), run_id: "tableicty-other".into(), started_at: run.plan.started_at };
    run.operator()
        .create_parameter(&staging_lease(run), &Secret::new(other.to_value()), ParameterKind::String, &run.this_run().to_tags())
        .await
        .unwrap();
    run.account.record_execution(execution(OTHER_EXECUTION, status, other.started_at));
    other
}

fn refused(result: Result<Value, StepError>) -> LeaseHeld {
    match result {
        Err(StepError::LeaseHeld(held)) => held,
        other => panic!("expected LeaseHeld, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_fresh_lease_is_created_tagged_in_one_call_and_a_retry_of_the_holder_keeps_it() {
    let run = Run::planned().await;
    let taken = run.ok(Step::TakeStagingLease, take(&run, THIS_EXECUTION)).await;
    assert_eq!(taken["parameter"], json!(staging_lease(&run)));
    assert_eq!(taken["holder"]["run_id"], json!(run.plan.run_id));
    assert_eq!(run.calls_of(Step::TakeStagingLease), ["PutParameter"], "tagged at creation: no AddTagsToResource");
    run.assert_this_runs("parameter", &staging_lease(&run));
    let stored = holder(&run, &staging_lease(&run)).await.unwrap();
    assert_eq!((stored.execution_arn.as_str(), stored.started_at), (THIS_EXECUTION, run.plan.started_at));

    // Step Functions retried the state (or redrove the execution): the lease is still its own.
    let again = run.ok(Step::TakeStagingLease, take(&run, THIS_EXECUTION)).await;
    assert_eq!(again["holder"], taken["holder"]);
    assert_eq!(run.production_writes(), Vec::<String>::new());
}

#[tokio::test(start_paused = true)]
async fn of_two_concurrent_creations_of_a_lease_exactly_one_succeeds() {
    let run = Run::planned().await;
    let (a, b) = (run.account.session("a"), run.account.session("b"));
    let name = staging_lease(&run);
    let (tags, a_value, b_value) = (run.this_run().to_tags(), Secret::new("a"), Secret::new("b"));
    let (first, second) = tokio::join!(
        a.create_parameter(&name, &a_value, ParameterKind::String, &tags),
        b.create_parameter(&name, &b_value, ParameterKind::String, &tags),
    );
    let failures: Vec<_> = [first, second].into_iter().filter_map(Result::err).collect();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].code, "ParameterAlreadyExists");
}

#[tokio::test(start_paused = true)]
async fn a_running_holder_refuses_the_run_naming_it_and_keeps_its_lease() {
    let run = Run::planned().await;
    let other = held_by_another(&run, "RUNNING").await;
    let held = refused(run.call(Step::TakeStagingLease, take(&run, THIS_EXECUTION)).await);
    assert_eq!(held.holder, other);
    let text = StepError::LeaseHeld(held).to_string();
    for part in [OTHER_EXECUTION, "tableicty-other", &other.started_at.to_rfc3339(), "RUNNING"] {
        assert!(text.contains(part), "{text} does not name {part}");
    }
    assert_eq!(holder(&run, &staging_lease(&run)).await, Some(other.clone()));
    assert!(!run.calls_of(Step::TakeStagingLease).contains(&"DeleteParameter".to_string()));

    // Releasing is only the holder's: another run's rollback leaves it.
    let released = run.ok(Step::ReleaseStagingLease, run.with_plan(json!({}))).await;
    assert_eq!((released["released"].clone(), released["holder"]["run_id"].clone()), (json!(false), json!("tableicty-other")));
    assert_eq!(holder(&run, &staging_lease(&run)).await, Some(other));
}

#[tokio::test(start_paused = true)]
async fn an_ended_holder_whose_staging_is_gone_is_taken_over_and_one_still_up_is_not() {
    let run = Run::planned().await;
    let crashed = held_by_another(&run, "ABORTED").await;
    let taken = run.ok(Step::TakeStagingLease, take(&run, THIS_EXECUTION)).await;
    assert_eq!(taken["taken_over"]["execution_arn"], json!(crashed.execution_arn));
    assert_eq!(holder(&run, &staging_lease(&run)).await.unwrap().execution_arn, THIS_EXECUTION);
    run.assert_this_runs("parameter", &staging_lease(&run));

    // This run's staging database is up and its execution has ended: the next run is refused.
    run.database_available().await;
    run.account.record_execution(execution(THIS_EXECUTION, "FAILED", run.plan.started_at));
    let next = Run::planned_on(run.account.clone()).await;
    let held = refused(next.call(Step::TakeStagingLease, take(&next, OTHER_EXECUTION)).await);
    assert!(held.reason.contains("FAILED") && held.reason.contains("database tableicty-staging-db"), "{}", held.reason);

    // Released by the run that holds it (its rollback or teardown), the next one takes it.
    let released = run.ok(Step::ReleaseStagingLease, run.with_plan(json!({}))).await;
    assert_eq!(released["released"], json!(true));
    assert_eq!(holder(&run, &staging_lease(&run)).await, None);
    assert_eq!(next.ok(Step::TakeStagingLease, take(&next, OTHER_EXECUTION)).await["taken_over"], Value::Null);
}

/// A holder whose rollback gave up left part of its staging up (here nothing the lease looks
/// at by name, say only its bucket): still held, until that run's teardown releases it.
#[tokio::test(start_paused = true)]
async fn a_holder_whose_rollback_gave_up_still_holds_staging() {
    let run = Run::planned().await;
    for error in ["RollbackIncompleteError", "RollbackFailedError"] {
        let lease = staging_lease(&run);
        if holder(&run, &lease).await.is_some() {
            run.operator().delete_parameter(&lease).await.unwrap();
        }
        let other = held_by_another(&run, "FAILED").await;
        run.account.record_execution(ExecutionInfo { error: Some(error.into()), ..execution(OTHER_EXECUTION, "FAILED", other.started_at) });
        let held = refused(run.call(Step::TakeStagingLease, take(&run, THIS_EXECUTION)).await);
        assert!(held.reason.contains("rollback gave up") && held.reason.contains(error), "{}", held.reason);
        assert_eq!(holder(&run, &lease).await, Some(other), "the lease is left as it was");
    }
}

#[tokio::test(start_paused = true)]
async fn something_else_under_the_lease_name_is_refused_and_left_alone() {
    let run = Run::planned().await;
    run.inject(Step::TakeStagingLease, FaultKind::AlreadyExists);
    let why = check_failed(run.call(Step::TakeStagingLease, take(&run, THIS_EXECUTION)).await);
    assert!(why.contains(&staging_lease(&run)) && why.contains("does not hold a lease"), "{why}");
    assert_eq!(run.foreign_ids(), [staging_lease(&run)]);
    assert!(run.existing("parameter", &staging_lease(&run)).is_some());
    assert_eq!(run.deleted_by(Step::TakeStagingLease), Vec::<String>::new());
}

#[tokio::test(start_paused = true)]
async fn a_promotion_holds_production_until_it_releases_it_and_a_crashed_one_is_taken_over() {
    let run = Run::planned().await;
    let name = lease_parameter(&run.plan.app, LeasedEnvironment::Production);
    let promote = |arn: &str| run.with_plan(json!({"execution_arn": arn, "execution_start": run.plan.started_at}));
    let first = "arn:aws:states:us-east-1:123456789012:execution:rehearsal-promote:first";
    let second = "arn:aws:states:us-east-1:123456789012:execution:rehearsal-promote:second";
    run.account.record_execution(execution(first, "RUNNING", run.plan.started_at));
    run.ok(Step::TakeProductionLease, promote(first)).await;
    let stored = run.existing("parameter", &name).unwrap();
    assert_eq!(stored.tags.get("rehearsal:environment").map(String::as_str), Some("production"));

    let held = refused(run.call(Step::TakeProductionLease, promote(second)).await);
    assert_eq!((held.environment, held.holder.execution_arn.as_str()), (LeasedEnvironment::Production, first));
    let not_ours = run.ok(Step::ReleaseProductionLease, json!({"app": run.plan.app, "execution_arn": second})).await;
    assert_eq!(not_ours["released"], json!(false));

    // The first promotion's execution ended without releasing (it crashed): the next takes over.
    run.account.record_execution(execution(first, "TIMED_OUT", run.plan.started_at));
    let taken = run.ok(Step::TakeProductionLease, promote(second)).await;
    assert_eq!(taken["taken_over"]["execution_arn"], json!(first));
    let released = run.ok(Step::ReleaseProductionLease, json!({"app": run.plan.app, "execution_arn": second})).await;
    assert_eq!(released["released"], json!(true));
    assert!(run.existing("parameter", &name).is_none());
}
