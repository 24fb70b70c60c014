//! Redrive through the public API on tokio's paused clock: a failed Task rerun with its retry
//! counts reset, Parallel branches kept or rerun, a Fail state entered again, the state machine
//! timeout counted afresh, and the executions AWS refuses to redrive.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use rehearsal_asl::{
    redrive, run, AslError, Branch, Definition, Event, Execution, ExecutionRecord, ExecutionStatus, Outcome, RecordingObserver, RunOptions,
    ScriptedInvoker,
};
use serde_json::{json, Value};
use support::scheduled_at;

mod support;

const A: &str = "arn:aws:lambda:eu-west-1:123456789012:function:a";
const B: &str = "arn:aws:lambda:eu-west-1:123456789012:function:b";
const C: &str = "arn:aws:lambda:eu-west-1:123456789012:function:c";

fn definition(v: Value) -> Definition {
    Definition::parse(&v.to_string()).expect("valid definition")
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap()
}

fn hours(n: i64) -> chrono::Duration {
    chrono::Duration::hours(n)
}

struct Ran {
    execution: Execution,
    events: Vec<Event>,
    invoker: ScriptedInvoker,
}

async fn first_run(def: &Definition, input: Value, script: Value) -> Ran {
    let invoker = ScriptedInvoker::from_json(&script).unwrap();
    let recorder = RecordingObserver::new();
    let options = RunOptions {
        execution_name: "exec-1".into(),
        state_machine_name: "rehearsal".into(),
        start_time: start(),
        ..RunOptions::default()
    };
    let execution = run(def, input, &invoker, &recorder, &options).await.expect("the runner completes");
    Ran { execution, events: recorder.events(), invoker }
}

/// Redrives `record` at `at`, from its JSON form: what a caller keeps is what it redrives.
async fn redrive_at(def: &Definition, record: &ExecutionRecord, script: Value, at: DateTime<Utc>) -> Result<Ran, AslError> {
    let kept: ExecutionRecord = serde_json::from_value(serde_json::to_value(record).unwrap()).unwrap();
    assert_eq!(&kept, record, "the record survives JSON");
    let invoker = ScriptedInvoker::from_json(&script).unwrap();
    let recorder = RecordingObserver::new();
    let execution = redrive(def, &kept, &invoker, &recorder, at).await?;
    Ok(Ran { execution, events: recorder.events(), invoker })
}

fn failure(ran: &Ran) -> (&str, &str) {
    match &ran.execution.outcome {
        Outcome::Failed { error, cause } => (error, cause),
        other => panic!("expected failure, got {other:?}"),
    }
}

fn output(ran: &Ran) -> &Value {
    match &ran.execution.outcome {
        Outcome::Succeeded { output } => output,
        other => panic!("expected success, got {other:?}"),
    }
}

fn entered(events: &[Event]) -> Vec<String> {
    events.iter().filter_map(Event::entered_state).collect()
}

/// Prepare (Pass), then a Task retried twice on `Busy` that reports its retry count and the
/// execution's redrive fields, then a second Task.
fn task_machine() -> Definition {
    definition(json!({"StartAt": "Prepare", "States": {
        "Prepare": {"Type": "Pass", "Result": {"prepared": true}, "ResultPath": "$.prepare", "Next": "Work"},
        "Work": {
            "Type": "Task", "Resource": B,
            "Parameters": {
                "retry.$": "$$.State.RetryCount",
                "redrives.$": "$$.Execution.RedriveCount",
                "started.$": "$$.Execution.StartTime",
                "execution.$": "$$.Execution.Name",
                "context.$": "$$.Execution"
            },
            "Retry": [{"ErrorEquals": ["Busy"], "IntervalSeconds": 10, "MaxAttempts": 2, "BackoffRate": 2.0}],
            "ResultPath": "$.work",
            "Next": "Finish"
        },
        "Finish": {"Type": "Task", "Resource": C, "ResultPath": "$.finish", "End": true}
    }}))
}

#[tokio::test(start_paused = true)]
async fn a_failed_task_is_rerun_with_its_input_and_its_retries_reset() {
    let def = task_machine();
    let busy = json!({"error": "Busy", "cause": "try later"});
    let first = first_run(&def, json!({"run": "r-1"}), json!({B: [busy, busy, busy]})).await;
    assert_eq!(failure(&first), ("Busy", "try later"));
    let record = &first.execution.record;
    assert_eq!(record.status, ExecutionStatus::Failed);
    assert_eq!(record.redrive_count, 0);
    let stopped = record.stopped_in.as_ref().unwrap();
    assert_eq!((stopped.state.as_str(), &stopped.input), ("Work", &json!({"run": "r-1", "prepare": {"prepared": true}})));
    // 1 + 2 retries after 10 and 20 s.
    assert_eq!(scheduled_at(&first.events, "Work"), [0.0, 10.0, 30.0]);
    assert_eq!(record.stop_time, start() + chrono::Duration::seconds(30));

    // Two hours later, still busy: the redrive gets its two retries again and fails again.
    let at = start() + hours(2);
    let second = redrive_at(&def, record, json!({B: [busy, busy, busy]}), at).await.unwrap();
    assert_eq!(failure(&second), ("Busy", "try later"));
    assert_eq!(entered(&second.events), ["Work"], "Prepare succeeded and is not rerun");
    assert_eq!(scheduled_at(&second.events, "Work"), [7200.0, 7210.0, 7230.0], "the same delays: the retry count started at 0");
    let calls = second.invoker.calls();
    assert_eq!(
        calls.iter().map(|c| (c.attempt, c.input["retry"].clone())).collect::<Vec<_>>(),
        [(1, json!(0)), (2, json!(1)), (3, json!(2))]
    );
    let context = &calls[0].input["context"];
    assert_eq!(calls[0].input["redrives"], json!(1));
    assert_eq!(context["RedriveTime"], json!("2026-11-24T11:00:00.000Z"));
    assert_eq!((&calls[0].input["started"], &calls[0].input["execution"]), (&json!("2026-11-24T09:00:00.000Z"), &json!("exec-1")));
    assert_eq!(context["Input"], json!({"run": "r-1"}));
    assert_eq!(second.events[0], Event::ExecutionRedriven { redrive_count: 1, at: Duration::from_secs(7200) });
    assert!(first.invoker.calls()[0].input["context"].get("RedriveTime").is_none(), "RedriveTime only once redriven");

    // The history is appended to: ExecutionRedriven, then the state's entries as in any run.
    let second_record = &second.execution.record;
    assert_eq!(second_record.redrive_count, 1);
    assert_eq!(second_record.redrive_time, Some(at));
    assert!(second_record.history_events > record.history_events);
    assert_eq!(second.execution.history_events, second_record.history_events);

    // Fixed: the second redrive succeeds on the second attempt and goes on to Finish.
    let third = redrive_at(&def, second_record, json!({B: [busy, {"result": {"done": 1}}], C: [{"result": "finished"}]}), at + hours(1))
        .await
        .unwrap();
    assert_eq!(output(&third), &json!({"run": "r-1", "prepare": {"prepared": true}, "work": {"done": 1}, "finish": "finished"}));
    assert_eq!(entered(&third.events), ["Work", "Finish"]);
    assert_eq!(third.invoker.calls()[0].input["redrives"], json!(2));
    assert_eq!(third.execution.record.status, ExecutionStatus::Succeeded);
    assert_eq!(third.execution.record.stopped_in, None);
    assert_eq!(third.execution.elapsed, Duration::from_secs(3 * 3600 + 10));
}

/// Three branches: a quick task; a 100-second wait, then a task; a task that fails after 10 s.
fn fan_out() -> Definition {
    definition(json!({"StartAt": "Fan", "States": {
        "Fan": {
            "Type": "Parallel",
            "Parameters": {"run.$": "$.run"},
            "Branches": [
                {"StartAt": "Quick", "States": {"Quick": {"Type": "Task", "Resource": A, "End": true}}},
                {"StartAt": "Hold", "States": {
                    "Hold": {"Type": "Wait", "Seconds": 100, "Next": "Slow"},
                    "Slow": {"Type": "Task", "Resource": B, "End": true}}},
                {"StartAt": "Flaky", "States": {"Flaky": {"Type": "Task", "Resource": C, "End": true}}}
            ],
            "ResultPath": "$.fan",
            "Next": "Done"
        },
        "Done": {"Type": "Succeed"}
    }}))
}

#[tokio::test(start_paused = true)]
async fn a_parallel_reruns_only_its_failed_and_aborted_branches() {
    let def = fan_out();
    let first = first_run(
        &def,
        json!({"run": "r-2"}),
        json!({A: [{"result": "quick-1"}], C: [{"error": "Broken", "cause": "bad deploy", "delay_seconds": 10}]}),
    )
    .await;
    assert_eq!(failure(&first), ("Broken", "bad deploy"));
    let stopped = first.execution.record.stopped_in.clone().unwrap();
    assert_eq!(stopped.state, "Fan");
    let branches = stopped.branches.clone().unwrap();
    assert_eq!(branches[0], Branch::Succeeded { output: json!("quick-1") });
    // The waiting branch was aborted in its Wait state; the failed one stopped in its task.
    assert!(matches!(&branches[1], Branch::Unsuccessful(p) if p.state == "Hold" && p.input == json!({"run": "r-2"})), "{branches:?}");
    assert!(matches!(&branches[2], Branch::Unsuccessful(p) if p.state == "Flaky"), "{branches:?}");

    let at = start() + hours(1);
    let again = redrive_at(&def, &first.execution.record, json!({B: [{"result": "slow"}], C: [{"result": "fixed"}]}), at).await.unwrap();
    assert_eq!(output(&again), &json!({"run": "r-2", "fan": ["quick-1", "slow", "fixed"]}));
    assert_eq!(entered(&again.events), ["Fan", "Fan/1/Hold", "Fan/2/Flaky", "Fan/1/Slow", "Done"]);
    assert!(again.invoker.calls().iter().all(|c| c.resource != A), "the succeeded branch ran again");
    // The aborted Wait waits its 100 seconds again.
    assert_eq!(scheduled_at(&again.events, "Slow"), [3600.0 + 100.0]);
}

#[tokio::test(start_paused = true)]
async fn a_branch_that_never_started_starts_on_redrive_and_data_limit_reruns_the_whole_parallel() {
    // The first branch fails before the second is entered at all.
    let def = definition(json!({"StartAt": "Fan", "States": {"Fan": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Boom"}}},
        {"StartAt": "Later", "States": {"Later": {"Type": "Task", "Resource": A, "End": true}}}
    ]}}}));
    let first = first_run(&def, json!({}), json!({})).await;
    assert_eq!(failure(&first).0, "Boom");
    let branches = first.execution.record.stopped_in.clone().unwrap().branches.unwrap();
    assert!(matches!(&branches[0], Branch::Unsuccessful(p) if p.state == "Boom"));
    assert_eq!(branches[1], Branch::NotStarted);

    // A result over the 256 KiB quota fails the Parallel with States.DataLimitExceeded, which
    // nothing catches; a redrive then reruns every branch, the one that succeeded too.
    let def = definition(json!({"StartAt": "Fan", "States": {"Fan": {"Type": "Parallel", "End": true,
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
        "Branches": [
            {"StartAt": "Small", "States": {"Small": {"Type": "Task", "Resource": A, "End": true}}},
            {"StartAt": "Large", "States": {"Large": {"Type": "Task", "Resource": B, "End": true}}}
        ]}, "Caught": {"Type": "Succeed"}}}));
    let huge = "x".repeat(300 * 1024);
    let first = first_run(&def, json!({}), json!({A: [{"result": 1}], B: [{"result": huge, "delay_seconds": 5}]})).await;
    assert_eq!(failure(&first).0, "States.DataLimitExceeded");
    let stopped = first.execution.record.stopped_in.clone().unwrap();
    assert_eq!((stopped.state.as_str(), stopped.branches), ("Fan", None));
    let again =
        redrive_at(&def, &first.execution.record, json!({A: [{"result": 1}], B: [{"result": 2}]}), start() + hours(1)).await.unwrap();
    assert_eq!(output(&again), &json!([1, 2]));
    assert_eq!(again.invoker.calls().len(), 2, "both branches ran again");
}

#[tokio::test(start_paused = true)]
async fn an_execution_that_caught_its_error_and_failed_in_a_fail_state_fails_there_again() {
    let def = definition(json!({"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": A, "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "GaveUp"}], "End": true},
        "GaveUp": {"Type": "Fail", "ErrorPath": "$.failure.Error", "CausePath": "$.failure.Cause"}
    }}));
    let first = first_run(&def, json!({"n": 1}), json!({A: [{"error": "Broken", "cause": "first try"}]})).await;
    assert_eq!(failure(&first), ("Broken", "first try"));
    let stopped = first.execution.record.stopped_in.as_ref().unwrap();
    assert_eq!(stopped.state, "GaveUp");

    // Fixing the task changes nothing: the redrive re-enters the Fail state, not the task.
    let again = redrive_at(&def, &first.execution.record, json!({A: [{"result": "would work now"}]}), start() + hours(1)).await.unwrap();
    assert_eq!(failure(&again), ("Broken", "first try"));
    assert!(again.invoker.calls().is_empty());
    assert_eq!(
        again.events.iter().map(|e| serde_json::to_value(e).unwrap()["type"].as_str().unwrap().to_string()).collect::<Vec<_>>(),
        ["ExecutionRedriven", "StateEntered", "ExecutionFailed"]
    );
    assert_eq!(again.execution.record.stopped_in.as_ref().unwrap().state, "GaveUp");
}

#[tokio::test(start_paused = true)]
async fn the_state_machine_timeout_counts_again_from_the_redrive_and_a_past_timestamp_wait_exits() {
    let def =
        definition(json!({"TimeoutSeconds": 100, "StartAt": "Both", "States": {"Both": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "Until", "States": {
                "Until": {"Type": "Wait", "Timestamp": "2026-11-24T09:30:00Z", "Next": "After"},
                "After": {"Type": "Pass", "Result": "waited", "End": true}}},
            {"StartAt": "Long", "States": {"Long": {"Type": "Task", "Resource": A, "End": true}}}
        ]}}}));
    let first = first_run(&def, json!({}), json!({A: [{"result": "late", "delay_seconds": 150}]})).await;
    assert_eq!(failure(&first).0, "States.Timeout");
    let record = &first.execution.record;
    assert_eq!(record.status, ExecutionStatus::TimedOut);
    let branches = record.stopped_in.clone().unwrap().branches.unwrap();
    assert!(matches!(&branches[0], Branch::Unsuccessful(p) if p.state == "Until"));
    assert!(matches!(&branches[1], Branch::Unsuccessful(p) if p.state == "Long"));

    // An hour later the timestamp is past: the Wait exits at once; the task takes 90 s, within
    // the 100 s that count from the redrive (the execution is long past 100 s from its start).
    let at = start() + hours(1);
    let again = redrive_at(&def, record, json!({A: [{"result": "in time", "delay_seconds": 90}]}), at).await.unwrap();
    assert_eq!(output(&again), &json!(["waited", "in time"]));
    let after = again.events.iter().find_map(|e| match e {
        Event::StateEntered { name, at, .. } if name == "After" => Some(at.as_secs()),
        _ => None,
    });
    assert_eq!(after, Some(3600));
}

#[tokio::test(start_paused = true)]
async fn executions_aws_would_not_redrive_are_refused_with_its_reason_before_any_call() {
    let def = task_machine();
    let busy = json!({"error": "Busy"});
    let failed = first_run(&def, json!({}), json!({B: [busy, busy, busy]})).await.execution.record;
    let refused = |record: ExecutionRecord, def: Definition, at: DateTime<Utc>| async move {
        let invoker = ScriptedInvoker::from_json(&json!({})).unwrap();
        let recorder = RecordingObserver::new();
        let result = redrive(&def, &record, &invoker, &recorder, at).await;
        assert!(invoker.calls().is_empty() && recorder.events().is_empty(), "something ran before the refusal");
        match result {
            Err(AslError::NotRedrivable { execution, reason }) => {
                assert_eq!(execution, "exec-1");
                reason
            }
            other => panic!("not refused: {other:?}"),
        }
    };
    let stop = failed.stop_time;

    let succeeded = first_run(&def, json!({}), json!({B: [{"result": 1}], C: [{"result": 2}]})).await.execution.record;
    assert_eq!(refused(succeeded, task_machine(), stop).await, "Execution is SUCCEEDED and cannot be redriven.");

    // Redrivable for 14 days from the stop, not a second more.
    assert!(failed.check_redrivable(&def, stop + chrono::Duration::days(14)).is_ok());
    assert_eq!(
        refused(failed.clone(), task_machine(), stop + chrono::Duration::days(14) + chrono::Duration::seconds(1)).await,
        "Execution redrivable period exceeded."
    );

    let mut long_open = failed.clone();
    long_open.stop_time = long_open.start_time + chrono::Duration::days(360);
    assert_eq!(
        refused(long_open, task_machine(), failed.start_time + chrono::Duration::days(365)).await,
        "Execution has exceeded the max execution time."
    );

    let mut before_launch = failed.clone();
    before_launch.start_time = Utc.with_ymd_and_hms(2023, 11, 14, 23, 59, 59).unwrap();
    before_launch.stop_time = before_launch.start_time + chrono::Duration::minutes(1);
    assert_eq!(
        refused(before_launch, task_machine(), Utc.with_ymd_and_hms(2023, 11, 15, 1, 0, 0).unwrap()).await,
        "Execution was started before the launch of RedriveExecution."
    );

    // Fewer than 24,999 events of the 25,000: room for ExecutionRedriven and one more.
    let mut full = failed.clone();
    full.history_events = 24_999;
    assert_eq!(refused(full.clone(), task_machine(), stop).await, "Execution history event limit exceeded.");
    full.history_events = 24_998;
    assert!(full.check_redrivable(&def, stop).is_ok());

    let other = definition(json!({"StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": B, "End": true}}}));
    assert!(refused(failed.clone(), other, stop).await.contains("another state machine definition"));
    assert!(refused(failed.clone(), task_machine(), stop - chrono::Duration::seconds(1)).await.contains("before the execution stopped"));

    // A record that names a state the definition lacks is refused, naming it.
    let mut tampered = failed.clone();
    tampered.stopped_in.as_mut().unwrap().state = "Elsewhere".into();
    let invoker = ScriptedInvoker::from_json(&json!({})).unwrap();
    let err = redrive(&def, &tampered, &invoker, &(), stop).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "the execution record does not fit the definition: it stops in state 'Elsewhere', which this machine does not have"
    );
    assert!(invoker.calls().is_empty());
}
