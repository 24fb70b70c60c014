//! Redriving failed staging executions: the real `statemachine/staging.asl.json`, run by the
//! local runner on the simulated account, fails; the cause is fixed; the execution is redriven
//! with RedriveExecution's rules (crates/asl/src/redrive.rs) and its end is checked in the account.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use rehearsal_asl::{
    redrive, run, Definition, Event, Execution, ExecutionRecord, Outcome, RecordingObserver, RunOptions, TaskCall, TaskFailure, TaskInvoker,
};
use rehearsal_cli::invoker::{function_arn, local_substitutions, StepInvoker};
use rehearsal_cli::local::STAGING_DEFINITION;
use rehearsal_core::steps::Step;
use rehearsal_sim::{Fault, SimAccount};
use rehearsal_tests::{new_account, runtime, start_time, RUN_ID};
use serde_json::{json, Value};

fn staging_text() -> String {
    rehearsal_asl::substitute(STAGING_DEFINITION, &local_substitutions()).unwrap()
}

fn staging() -> Definition {
    Definition::parse(&staging_text()).unwrap()
}

fn inject(account: &SimAccount, fault: &str) {
    account.inject(fault.parse::<Fault>().unwrap());
}

/// The execution with the default run document, and its events.
async fn start(account: &SimAccount, definition: &Definition, tasks: &dyn TaskInvoker) -> (Execution, Vec<Event>) {
    let options = RunOptions { execution_name: "staging".into(), start_time: start_time(), ..RunOptions::default() };
    assert_eq!(account.now(), start_time());
    let recorder = RecordingObserver::new();
    let execution = run(definition, json!({}), tasks, &recorder, &options).await.unwrap();
    (execution, recorder.events())
}

/// An hour for the operator to fix the cause, then the redrive, with its events.
async fn redrive_later(account: &SimAccount, definition: &Definition, record: &ExecutionRecord) -> (Execution, Vec<Event>) {
    tokio::time::sleep(Duration::from_secs(3600)).await;
    let invoker = StepInvoker::new(|step: Step| account.session(step.name()));
    let recorder = RecordingObserver::new();
    let execution = redrive(definition, record, &invoker, &recorder, account.now()).await.unwrap();
    (execution, recorder.events())
}

fn failure(execution: &Execution) -> (String, String) {
    match &execution.outcome {
        Outcome::Failed { error, cause } => (error.clone(), cause.clone()),
        other => panic!("expected a failure, got {other:?}"),
    }
}

fn stopped_in(execution: &Execution) -> &str {
    execution.record.stopped_in.as_ref().map(|p| p.state.as_str()).unwrap_or("(succeeded)")
}

fn entered(events: &[Event]) -> Vec<String> {
    events.iter().filter_map(Event::entered_state).collect()
}

/// A run whose validation fails and whose rollback then cannot reach AWS at all.
async fn with_a_failing_rollback(account: &SimAccount, definition: &Definition) -> Execution {
    inject(account, "validate_staging=failed-check");
    inject(account, "rollback_staging=unavailable");
    start(account, definition, &StepInvoker::new(|step: Step| account.session(step.name()))).await.0
}

#[test]
fn a_redrive_after_the_rollback_gave_up_reenters_the_fail_state_and_touches_nothing() {
    // The deployed definition catches the rollback's own failure and ends in the Fail state
    // RollbackGaveUp. AWS redrives an execution from the state it failed in and a Fail state
    // "fails again": the redrive cannot continue the rollback; the teardown schedule it kept
    // is what removes staging.
    runtime().block_on(async {
        let account = new_account();
        let definition = staging();
        let first = with_a_failing_rollback(&account, &definition).await;
        let (error, cause) = failure(&first);
        assert_eq!(error, "RollbackFailedError");
        assert_eq!(stopped_in(&first), "RollbackGaveUp");
        let left = account.leftovers(RUN_ID);
        assert!(left.iter().any(|r| r.contains("rehearsal-teardown-")), "{left:?}");

        account.clear_faults("rollback_staging");
        account.clear_faults("validate_staging");
        let calls = account.ledger().calls.len();
        let (again, events) = redrive_later(&account, &definition, &first.record).await;
        assert_eq!(failure(&again), (error, cause), "the same error and cause");
        assert_eq!(entered(&events), ["RollbackGaveUp"]);
        assert_eq!(account.ledger().calls.len(), calls, "the redrive called nothing");
        assert_eq!(account.leftovers(RUN_ID), left);
        assert_eq!(again.record.redrive_count, 1);
    });
}

/// The deployed step functions, except `function`, whose broken release returns a result over
/// Step Functions' 256 KiB payload quota (States.DataLimitExceeded, which no Catch handles).
struct OversizedResult<'a, T> {
    deployed: &'a T,
    function: String,
}

impl<T: TaskInvoker> TaskInvoker for OversizedResult<'_, T> {
    fn invoke<'a>(&'a self, call: TaskCall) -> Pin<Box<dyn Future<Output = Result<Value, TaskFailure>> + 'a>> {
        Box::pin(async move {
            let oversized = call.resource == self.function;
            let mut result = self.deployed.invoke(call).await?;
            if oversized {
                result["debug"] = json!("x".repeat(300 * 1024));
            }
            Ok(result)
        })
    }
}

#[test]
fn a_failure_no_catch_can_handle_stops_the_run_and_a_redrive_after_the_fix_finishes_it() {
    runtime().block_on(async {
        let account = new_account();
        let deployed = StepInvoker::new(|step: Step| account.session(step.name()));
        let broken = OversizedResult { deployed: &deployed, function: function_arn(Step::ValidateStaging) };
        let definition = staging();
        let (first, events) = start(&account, &definition, &broken).await;
        assert_eq!(failure(&first).0, "States.DataLimitExceeded");
        // No rollback ran: staging is up, waiting for the fix (or its teardown schedule).
        assert_eq!(stopped_in(&first), "ValidateStaging");
        assert!(!entered(&events).iter().any(|s| s == "StartRollback"));
        assert!(account.leftovers(RUN_ID).iter().any(|r| r.contains("tableicty-staging-db")), "{:?}", account.leftovers(RUN_ID));
        let created = account.ledger().created.len();

        // The fixed release is deployed; the redrive validates again and finishes the run.
        let calls = account.ledger().calls.len();
        let (again, events) = redrive_later(&account, &definition, &first.record).await;
        let output = match &again.outcome {
            Outcome::Succeeded { output } => output.clone(),
            other => panic!("the redrive did not succeed: {other:?}"),
        };
        assert_eq!(entered(&events), ["ValidateStaging", "Summary"]);
        assert_eq!(output["run_id"], json!(RUN_ID));
        assert!(output["checks"]["validation"].as_array().is_some_and(|c| !c.is_empty()), "{output}");
        let ledger = account.ledger();
        assert!(ledger.calls[calls..].iter().all(|c| c.step == "validate_staging"), "only the failed step ran again");
        assert_eq!(ledger.created.len(), created, "nothing was created twice");
        assert!(ledger.production_writes.is_empty(), "{:?}", ledger.production_writes);
    });
}

/// The staging definition with RollbackStaging's Catch (and the RollbackFailed state only it led
/// to) removed: a rollback that cannot finish then fails the execution in RollbackStaging itself,
/// where a redrive resumes.
fn staging_failing_in_the_rollback_task() -> Definition {
    let mut definition: Value = serde_json::from_str(&staging_text()).unwrap();
    let states = definition["States"].as_object_mut().unwrap();
    assert!(states["RollbackStaging"].as_object_mut().unwrap().remove("Catch").is_some());
    assert!(states.remove("RollbackFailed").is_some());
    Definition::parse(&definition.to_string()).unwrap()
}

#[test]
fn a_rollback_failing_in_its_task_is_continued_by_a_redrive_to_a_clean_end() {
    // What a definition that lets the rollback fail in its task would give (the deployed one
    // catches that failure; see the first test): the redrive reruns RollbackStaging with its
    // retries reset and the original failure in its input, and the run ends rolled back.
    runtime().block_on(async {
        let account = new_account();
        let definition = staging_failing_in_the_rollback_task();
        let first = with_a_failing_rollback(&account, &definition).await;
        assert_eq!(failure(&first).0, "TransientError");
        assert_eq!(stopped_in(&first), "RollbackStaging");
        let input = &first.record.stopped_in.as_ref().unwrap().input;
        assert_eq!(input["failure"]["Error"], json!("CheckFailedError"), "the rollback's input keeps why it started");
        assert!(!account.leftovers(RUN_ID).is_empty());

        account.clear_faults("rollback_staging");
        let (again, events) = redrive_later(&account, &definition, &first.record).await;
        let (error, cause) = failure(&again);
        assert_eq!(error, "CheckFailedError", "the error that started the rollback");
        assert!(cause.contains("health endpoint returns 200"), "{cause}");
        assert_eq!(entered(&events).first().map(String::as_str), Some("RollbackStaging"));
        let first_attempt = events.iter().find_map(|e| match e {
            Event::TaskScheduled { name, attempt, .. } if name == "RollbackStaging" => Some(*attempt),
            _ => None,
        });
        assert_eq!(first_attempt, Some(1), "the retry count starts again");
        assert_eq!(entered(&events).last().map(String::as_str), Some("RolledBack"));
        assert_eq!(account.leftovers(RUN_ID), Vec::<String>::new());
        assert!(account.ledger().production_writes.is_empty());
    });
}
