//! Executions through the public API on tokio's paused clock: each state type, the input/output
//! processing order, Retry/Catch with their timing, Parallel, lambda:invoke and the history cap.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use rehearsal_asl::{run, AslError, Definition, Event, Execution, Outcome, RecordingObserver, RunOptions, ScriptedInvoker};
use serde_json::{json, Value};
use support::scheduled_at;

mod support;

const FN: &str = "arn:aws:lambda:eu-west-1:123456789012:function:probe";

fn definition(v: Value) -> Definition {
    Definition::parse(&v.to_string()).expect("valid definition")
}

fn options() -> RunOptions {
    RunOptions {
        execution_name: "exec-1".into(),
        state_machine_name: "rehearsal".into(),
        start_time: Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap(),
        ..RunOptions::default()
    }
}

struct Ran {
    execution: Execution,
    events: Vec<Event>,
    invoker: ScriptedInvoker,
}

async fn run_with(def: &Definition, input: Value, script: Value, options: &RunOptions) -> Result<Ran, AslError> {
    let invoker = ScriptedInvoker::from_json(&script).unwrap();
    let recorder = RecordingObserver::new();
    let execution = run(def, input, &invoker, &recorder, options).await?;
    Ok(Ran { execution, events: recorder.events(), invoker })
}

async fn execute(def: Value, input: Value, script: Value) -> Ran {
    run_with(&definition(def), input, script, &options()).await.expect("the runner completes")
}

fn output(ran: &Ran) -> &Value {
    match &ran.execution.outcome {
        Outcome::Succeeded { output } => output,
        other => panic!("expected success, got {other:?}"),
    }
}

fn failure(ran: &Ran) -> (&str, &str) {
    match &ran.execution.outcome {
        Outcome::Failed { error, cause } => (error, cause),
        other => panic!("expected failure, got {other:?}"),
    }
}

fn entered(events: &[Event]) -> Vec<(String, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::StateEntered { path, name, .. } => Some((path.clone(), name.clone())),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn pass_applies_input_path_parameters_result_path_and_output_path_in_order() {
    let ran = execute(
        json!({"StartAt": "P", "States": {"P": {
            "Type": "Pass",
            "InputPath": "$.order",
            "Parameters": {"id.$": "$.id", "exec.$": "$$.Execution.Name", "state.$": "$$.State.Name", "tag": "fixed"},
            "ResultPath": "$.built",
            "OutputPath": "$.built",
            "End": true
        }}}),
        json!({"order": {"id": 42, "noise": true}}),
        json!({}),
    )
    .await;
    // ResultPath writes into the raw input (not the InputPath view), then OutputPath selects.
    assert_eq!(output(&ran), &json!({"id": 42, "exec": "exec-1", "state": "P", "tag": "fixed"}));
}

#[tokio::test(start_paused = true)]
async fn pass_result_null_paths_and_discarded_results() {
    let ran = execute(
        json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Result": {"r": 1}, "ResultPath": "$.res", "Next": "B"},
            "B": {"Type": "Pass", "Result": "ignored", "ResultPath": null, "Next": "C"},
            "C": {"Type": "Pass", "InputPath": null, "ResultPath": "$.fromEmpty", "Next": "D"},
            "D": {"Type": "Pass", "OutputPath": null, "Next": "E"},
            "E": {"Type": "Pass", "Result": {"replaced": true}, "End": true}
        }}),
        json!({"keep": "me"}),
        json!({}),
    )
    .await;
    assert_eq!(output(&ran), &json!({"replaced": true}));
    let outputs: Vec<Value> = ran
        .events
        .iter()
        .filter_map(|e| match e {
            Event::StateExited { output, .. } => Some(output.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(outputs[0], json!({"keep": "me", "res": {"r": 1}}));
    assert_eq!(outputs[1], json!({"keep": "me", "res": {"r": 1}}));
    assert_eq!(outputs[2], json!({"keep": "me", "res": {"r": 1}, "fromEmpty": {}}));
    assert_eq!(outputs[3], json!({}));
}

#[tokio::test(start_paused = true)]
async fn context_object_follows_the_virtual_clock() {
    let mut opts = options();
    opts.state_machine_name = "arn:aws:states:eu-west-1:111122223333:stateMachine:staging-rehearsal".into();
    let def = definition(json!({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 90, "Next": "P"},
        "P": {"Type": "Pass", "Parameters": {
            "entered.$": "$$.State.EnteredTime",
            "started.$": "$$.Execution.StartTime",
            "id.$": "$$.Execution.Id",
            "machine.$": "$$.StateMachine.Name",
            "input.$": "$$.Execution.Input"
        }, "End": true}
    }}));
    let ran = run_with(&def, json!({"x": 1}), json!({}), &opts).await.unwrap();
    assert_eq!(
        output(&ran),
        &json!({
            "entered": "2024-05-01T12:01:30.000Z",
            "started": "2024-05-01T12:00:00.000Z",
            "id": "arn:aws:states:eu-west-1:111122223333:execution:staging-rehearsal:exec-1",
            "machine": "staging-rehearsal",
            "input": {"x": 1}
        })
    );
    assert_eq!(ran.execution.elapsed, Duration::from_secs(90));
}

#[tokio::test(start_paused = true)]
async fn task_with_a_lambda_arn_gets_the_effective_input_and_its_result_directly() {
    let ran = execute(
        json!({"StartAt": "T", "States": {"T": {
            "Type": "Task",
            "Resource": FN,
            "InputPath": "$.req",
            "Parameters": {"host.$": "$.host", "attempt.$": "$$.State.RetryCount"},
            "ResultSelector": {"code.$": "$.status", "all.$": "$"},
            "ResultPath": "$.probe",
            "End": true
        }}}),
        json!({"req": {"host": "db.internal"}, "other": 1}),
        json!({FN: [{"result": {"status": 200, "ms": 12}}]}),
    )
    .await;
    let calls = ran.invoker.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].resource, FN);
    assert_eq!(calls[0].state, "T");
    assert_eq!(calls[0].input, json!({"host": "db.internal", "attempt": 0}));
    assert_eq!(calls[0].attempt, 1);
    assert_eq!(
        output(&ran),
        &json!({"req": {"host": "db.internal"}, "other": 1, "probe": {"code": 200, "all": {"status": 200, "ms": 12}}})
    );
}

#[tokio::test(start_paused = true)]
async fn lambda_invoke_passes_function_name_and_payload_and_wraps_the_result() {
    let ran = execute(
        json!({"StartAt": "T", "States": {"T": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName.$": "$.fn", "Payload": {"step.$": "$.step"}},
            "ResultPath": "$.raw",
            "Next": "Q"
        }, "Q": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "probe", "Qualifier": "live"},
            "ResultSelector": {"payload.$": "$.Payload"},
            "ResultPath": "$.selected",
            "End": true
        }}}),
        json!({"fn": "snapshot", "step": "prepare"}),
        json!({"snapshot": [{"result": {"ok": true}}], "probe:live": [{"result": [1, 2]}]}),
    )
    .await;
    let calls = ran.invoker.calls();
    assert_eq!((calls[0].resource.as_str(), &calls[0].input), ("snapshot", &json!({"step": "prepare"})));
    assert_eq!((calls[1].resource.as_str(), &calls[1].input), ("probe:live", &json!({})));
    let out = output(&ran);
    let raw = &out["raw"];
    assert_eq!(raw["Payload"], json!({"ok": true}));
    assert_eq!(raw["StatusCode"], json!(200));
    assert_eq!(raw["ExecutedVersion"], json!("$LATEST"));
    assert_eq!(raw["SdkHttpMetadata"]["HttpStatusCode"], json!(200));
    assert_eq!(raw["SdkResponseMetadata"]["RequestId"].as_str().unwrap().len(), 36);
    assert_eq!(out["selected"], json!({"payload": [1, 2]}));
}

#[tokio::test(start_paused = true)]
async fn choice_routes_defaults_and_fails_without_a_match() {
    let def = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [
            {"And": [{"Variable": "$.env", "StringEquals": "staging"}, {"Variable": "$.replicas", "NumericGreaterThan": 1}], "Next": "Scaled"},
            {"Variable": "$.env", "StringMatches": "prod*", "Next": "Refuse"}
        ], "Default": "Other"},
        "Scaled": {"Type": "Pass", "Result": "scaled", "End": true},
        "Refuse": {"Type": "Pass", "Result": "refuse", "End": true},
        "Other": {"Type": "Pass", "Result": "other", "End": true}
    }});
    assert_eq!(output(&execute(def.clone(), json!({"env": "staging", "replicas": 2}), json!({})).await), &json!("scaled"));
    assert_eq!(output(&execute(def.clone(), json!({"env": "production", "replicas": 2}), json!({})).await), &json!("refuse"));
    assert_eq!(output(&execute(def, json!({"env": "staging", "replicas": 1}), json!({})).await), &json!("other"));

    let no_default = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "BooleanEquals": true, "Next": "Y"}]},
        "Y": {"Type": "Succeed"}
    }});
    let ran = execute(no_default.clone(), json!({"x": false}), json!({})).await;
    assert_eq!(failure(&ran), ("States.NoChoiceMatched", "No Matches!"));
    let ran = execute(no_default, json!({}), json!({})).await;
    let (error, cause) = failure(&ran);
    assert_eq!(error, "States.Runtime");
    assert_eq!(
        cause,
        "An error occurred while executing the state 'C' (entered at the event id #2). Invalid path '$.x': The choice state's condition path references an invalid value."
    );
}

#[tokio::test(start_paused = true)]
async fn wait_forms_advance_the_virtual_clock() {
    let ran = execute(
        json!({"StartAt": "A", "States": {
            "A": {"Type": "Wait", "Seconds": 60, "Next": "B"},
            "B": {"Type": "Wait", "SecondsPath": "$.pause", "Next": "C"},
            "C": {"Type": "Wait", "Timestamp": "2024-05-01T12:10:00Z", "Next": "D"},
            "D": {"Type": "Wait", "TimestampPath": "$.past", "OutputPath": "$.pause", "End": true}
        }}),
        json!({"pause": 120, "past": "2020-01-01T00:00:00Z"}),
        json!({}),
    )
    .await;
    assert_eq!(output(&ran), &json!(120));
    assert_eq!(ran.execution.elapsed, Duration::from_secs(600));
    let untils: Vec<f64> = ran
        .events
        .iter()
        .filter_map(|e| match e {
            Event::WaitStarted { until_seconds, .. } => Some(*until_seconds),
            _ => None,
        })
        .collect();
    assert_eq!(untils, [60.0, 180.0, 600.0, 600.0]);

    let ran = execute(
        json!({"StartAt": "A", "States": {"A": {"Type": "Wait", "SecondsPath": "$.pause", "End": true}}}),
        json!({"pause": "soon"}),
        json!({}),
    )
    .await;
    assert_eq!(failure(&ran).0, "States.Runtime");
}

#[tokio::test(start_paused = true)]
async fn succeed_and_fail_states() {
    let ran = execute(
        json!({"StartAt": "S", "States": {"S": {"Type": "Succeed", "OutputPath": "$.keep"}}}),
        json!({"keep": [1], "drop": 2}),
        json!({}),
    )
    .await;
    assert_eq!(output(&ran), &json!([1]));

    let ran = execute(
        json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Rehearsal.Aborted", "Cause": "guard tripped"}}}),
        json!({}),
        json!({}),
    )
    .await;
    assert_eq!(failure(&ran), ("Rehearsal.Aborted", "guard tripped"));

    let ran = execute(
        json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.err.name", "CausePath": "States.Format('step {} failed: {}', $.step, $.err.msg)"}}}),
        json!({"step": "restore", "err": {"name": "Restore.Failed", "msg": "snapshot missing"}}),
        json!({}),
    )
    .await;
    assert_eq!(failure(&ran), ("Restore.Failed", "step restore failed: snapshot missing"));

    let ran = execute(json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.n"}}}), json!({"n": 3}), json!({})).await;
    assert_eq!(failure(&ran).0, "States.Runtime");
}

#[tokio::test(start_paused = true)]
async fn retry_backoff_follows_the_virtual_clock() {
    let ran = execute(
        json!({"StartAt": "T", "States": {"T": {
            "Type": "Task", "Resource": FN,
            "Parameters": {"retry.$": "$$.State.RetryCount"},
            "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 2.0}],
            "End": true
        }}}),
        json!({}),
        json!({FN: [{"error": "Flaky", "cause": "1"}, {"error": "Flaky", "cause": "2"}, {"error": "Flaky", "cause": "3"}, {"result": "done"}]}),
    )
    .await;
    assert_eq!(output(&ran), &json!("done"));
    // The retries start 2, 4 and 8 seconds after each failure.
    assert_eq!(scheduled_at(&ran.events, "T"), [0.0, 2.0, 6.0, 14.0]);
    let calls = ran.invoker.calls();
    assert_eq!(calls.iter().map(|c| c.attempt).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert_eq!(calls.iter().map(|c| c.input["retry"].clone()).collect::<Vec<_>>(), [json!(0), json!(1), json!(2), json!(3)]);
    let delays: Vec<(u32, f64)> = ran
        .events
        .iter()
        .filter_map(|e| match e {
            Event::RetryScheduled { attempt, delay_seconds, .. } => Some((*attempt, *delay_seconds)),
            _ => None,
        })
        .collect();
    assert_eq!(delays, [(2, 2.0), (3, 4.0), (4, 8.0)]);
}

#[tokio::test(start_paused = true)]
async fn retries_exhaust_then_fail_and_max_delay_caps_the_backoff() {
    let ran = execute(
        json!({"StartAt": "T", "States": {"T": {
            "Type": "Task", "Resource": FN,
            "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 10, "MaxAttempts": 3, "BackoffRate": 3.0, "MaxDelaySeconds": 20}],
            "End": true
        }}}),
        json!({}),
        json!({FN: [{"error": "E", "cause": "a"}, {"error": "E", "cause": "b"}, {"error": "E", "cause": "c"}, {"error": "E", "cause": "last"}]}),
    )
    .await;
    assert_eq!(failure(&ran), ("E", "last"));
    assert_eq!(scheduled_at(&ran.events, "T"), [0.0, 10.0, 30.0, 50.0]);
    assert_eq!(ran.execution.elapsed, Duration::from_secs(50));
}

#[tokio::test(start_paused = true)]
async fn each_retrier_counts_its_own_attempts_and_the_catcher_takes_over() {
    // The example of the AWS developer guide: ErrorA, ErrorB, ErrorC, ErrorB.
    let ran = execute(
        json!({"StartAt": "X", "States": {
            "X": {"Type": "Task", "Resource": FN,
                "Retry": [
                    {"ErrorEquals": ["ErrorA", "ErrorB"], "IntervalSeconds": 1, "BackoffRate": 2.0, "MaxAttempts": 2},
                    {"ErrorEquals": ["ErrorC"], "IntervalSeconds": 5}
                ],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Z"}],
                "End": true},
            "Z": {"Type": "Pass", "End": true}
        }}),
        json!({"in": 1}),
        json!({FN: [{"error": "ErrorA"}, {"error": "ErrorB"}, {"error": "ErrorC"}, {"error": "ErrorB", "cause": "again"}]}),
    )
    .await;
    assert_eq!(scheduled_at(&ran.events, "X"), [0.0, 1.0, 3.0, 8.0]);
    // Catch without ResultPath: the error output replaces the input.
    assert_eq!(output(&ran), &json!({"Error": "ErrorB", "Cause": "again"}));
    assert!(ran.events.iter().any(|e| matches!(e, Event::ErrorCaught { error, next, .. } if error == "ErrorB" && next == "Z")));
}

#[tokio::test(start_paused = true)]
async fn catch_result_path_keeps_the_raw_input_and_skips_output_path() {
    let ran = execute(
        json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": FN, "InputPath": "$.req", "OutputPath": "$.never",
                "Retry": [{"ErrorEquals": ["Other"]}, {"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 0}],
                "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "H"}],
                "End": true},
            "H": {"Type": "Pass", "End": true}
        }}),
        json!({"req": {"a": 1}, "ctx": "kept"}),
        json!({FN: [{"error": "Lambda.Unknown", "cause": "boom"}]}),
    )
    .await;
    assert_eq!(output(&ran), &json!({"req": {"a": 1}, "ctx": "kept", "error": {"Error": "Lambda.Unknown", "Cause": "boom"}}));
    assert_eq!(ran.invoker.calls().len(), 1, "MaxAttempts 0 never retries");

    let ran = execute(
        json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": FN, "Catch": [{"ErrorEquals": ["E"], "ResultPath": null, "Next": "H"}], "End": true},
            "H": {"Type": "Pass", "End": true}
        }}),
        json!({"untouched": true}),
        json!({FN: [{"error": "E"}]}),
    )
    .await;
    assert_eq!(output(&ran), &json!({"untouched": true}));
}

#[tokio::test(start_paused = true)]
async fn states_runtime_is_neither_retried_nor_caught() {
    let ran = execute(
        json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": FN, "Parameters": {"JobName.$": "$.JobName"},
                "Retry": [{"ErrorEquals": ["States.ALL"]}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H"}],
                "End": true},
            "H": {"Type": "Pass", "End": true}
        }}),
        json!({}),
        json!({FN: [{"result": 1}]}),
    )
    .await;
    assert_eq!(
        failure(&ran),
        (
            "States.Runtime",
            "An error occurred while executing the state 'T' (entered at the event id #2). The JSONPath '$.JobName' specified for the field 'JobName.$' could not be found in the input '{}'"
        )
    );
    assert!(ran.invoker.calls().is_empty());
    assert_eq!(ran.execution.elapsed, Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn result_path_mismatch_is_catchable() {
    let ran = execute(
        json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": FN, "ResultPath": "$.list.x",
                "Catch": [{"ErrorEquals": ["States.ResultPathMatchFailure"], "ResultPath": "$.err", "Next": "H"}], "End": true},
            "H": {"Type": "Pass", "End": true}
        }}),
        json!({"list": [1]}),
        json!({FN: [{"result": 1}]}),
    )
    .await;
    assert_eq!(output(&ran)["err"]["Error"], json!("States.ResultPathMatchFailure"));
}

#[tokio::test(start_paused = true)]
async fn task_timeout_is_virtual_and_task_failed_does_not_match_it() {
    let def = |timeout: Value| {
        let mut task = json!({"Type": "Task", "Resource": FN,
            "Retry": [{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 1}],
            "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.timedOut", "Next": "H"}],
            "End": true});
        task.as_object_mut().unwrap().extend(timeout.as_object().unwrap().clone());
        json!({"StartAt": "T", "States": {"T": task, "H": {"Type": "Pass", "End": true}}})
    };
    let ran = execute(def(json!({"TimeoutSeconds": 300})), json!({}), json!({FN: [{"result": "late", "delay_seconds": 3600}]})).await;
    assert_eq!(output(&ran), &json!({"timedOut": {"Error": "States.Timeout", "Cause": ""}}));
    assert_eq!(ran.execution.elapsed, Duration::from_secs(300));
    assert_eq!(ran.invoker.calls().len(), 1, "States.TaskFailed does not match States.Timeout");

    let ran =
        execute(def(json!({"TimeoutSecondsPath": "$.limit"})), json!({"limit": 5}), json!({FN: [{"result": "ok", "delay_seconds": 4}]}))
            .await;
    assert_eq!(output(&ran), &json!("ok"));
    assert_eq!(ran.execution.elapsed, Duration::from_secs(4));
}

#[tokio::test(start_paused = true)]
async fn parallel_branches_run_concurrently_and_output_in_branch_order() {
    let ran = execute(
        json!({"StartAt": "Prepare", "States": {"Prepare": {"Type": "Parallel", "Next": "Done",
            "Parameters": {"n.$": "$.n"},
            "ResultSelector": {"first.$": "$[0]", "second.$": "$[1].w"},
            "ResultPath": "$.prepared",
            "Branches": [
                {"StartAt": "Slow", "States": {"Slow": {"Type": "Wait", "Seconds": 600, "Next": "Probe"},
                    "Probe": {"Type": "Task", "Resource": FN, "End": true}}},
                {"StartAt": "Other", "States": {"Other": {"Type": "Wait", "Seconds": 600, "Next": "Mark"},
                    "Mark": {"Type": "Pass", "Parameters": {"w.$": "$.n"}, "End": true}}}
            ]},
            "Done": {"Type": "Succeed"}}}),
        json!({"n": 7}),
        json!({FN: [{"result": "probed"}]}),
    )
    .await;
    assert_eq!(output(&ran), &json!({"n": 7, "prepared": {"first": "probed", "second": 7}}));
    assert_eq!(ran.execution.elapsed, Duration::from_secs(600), "two 10-minute branches take 10 minutes, not 20");
    let paths = entered(&ran.events);
    assert!(paths.contains(&("Prepare/0".into(), "Slow".into())));
    assert!(paths.contains(&("Prepare/1".into(), "Mark".into())));
    assert!(paths.contains(&("".into(), "Done".into())));
    assert_eq!(ran.invoker.calls()[0].input, json!({"n": 7}));
}

#[tokio::test(start_paused = true)]
async fn nested_parallel_paths() {
    let ran = execute(
        json!({"StartAt": "Outer", "States": {"Outer": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "Inner", "States": {"Inner": {"Type": "Parallel", "End": true, "Branches": [
                {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "a", "End": true}}},
                {"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": "b", "End": true}}}
            ]}}}
        ]}}}),
        json!({}),
        json!({}),
    )
    .await;
    assert_eq!(output(&ran), &json!([["a", "b"]]));
    assert!(entered(&ran.events).contains(&("Outer/0/Inner/1".into(), "B".into())));
}

fn failing_parallel(handling: Value) -> Value {
    let mut parallel = json!({"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "Break", "States": {"Break": {"Type": "Task", "Resource": FN, "End": true}}},
        {"StartAt": "Long", "States": {"Long": {"Type": "Task", "Resource": "arn:aws:lambda:eu-west-1:123456789012:function:long", "End": true}}}
    ]});
    let catches = handling.get("Catch").is_some();
    parallel.as_object_mut().unwrap().extend(handling.as_object().unwrap().clone());
    let mut def = json!({"StartAt": "P", "States": {"P": parallel}});
    if catches {
        def["States"]["Handler"] = json!({"Type": "Pass", "End": true});
    }
    def
}

#[tokio::test(start_paused = true)]
async fn a_failed_branch_fails_the_parallel_and_cancels_the_others() {
    let ran = execute(
        failing_parallel(json!({})),
        json!({}),
        json!({FN: [{"error": "Snapshot.Failed", "cause": "quota", "delay_seconds": 60}], "arn:aws:lambda:eu-west-1:123456789012:function:long": [{"result": "x", "delay_seconds": 600}]}),
    )
    .await;
    assert_eq!(failure(&ran), ("Snapshot.Failed", "quota"));
    assert_eq!(ran.execution.elapsed, Duration::from_secs(60));
    assert!(!ran.events.iter().any(|e| matches!(e, Event::TaskSucceeded { name, .. } if name == "Long")), "the other branch was cancelled");
}

#[tokio::test(start_paused = true)]
async fn parallel_retry_reruns_every_branch_and_catch_handles_the_branch_error() {
    let long = "arn:aws:lambda:eu-west-1:123456789012:function:long";
    let ran = execute(
        failing_parallel(json!({"Retry": [{"ErrorEquals": ["Snapshot.Failed"], "IntervalSeconds": 30, "MaxAttempts": 1}]})),
        json!({}),
        json!({FN: [{"error": "Snapshot.Failed", "delay_seconds": 10}, {"result": "ok"}], long: [{"result": "slow", "delay_seconds": 100}, {"result": "again"}]}),
    )
    .await;
    assert_eq!(output(&ran), &json!(["ok", "again"]));
    assert_eq!(scheduled_at(&ran.events, "Break"), [0.0, 40.0]);
    assert_eq!(scheduled_at(&ran.events, "Long"), [0.0, 40.0]);

    let ran = execute(
        failing_parallel(json!({"Catch": [{"ErrorEquals": ["Snapshot.Failed"], "ResultPath": "$.failed", "Next": "Handler"}]})),
        json!({"run": 1}),
        json!({FN: [{"error": "Snapshot.Failed", "cause": "quota"}], long: [{"result": "x", "delay_seconds": 5}]}),
    )
    .await;
    assert_eq!(output(&ran), &json!({"run": 1, "failed": {"Error": "Snapshot.Failed", "Cause": "quota"}}));
}

#[tokio::test(start_paused = true)]
async fn intrinsics_in_parameters_and_their_failures() {
    let ran = execute(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {
            "name.$": "States.Format('{}-{}', $.app, States.ArrayGetItem(States.StringSplit($.arn, ':'), 5))",
            "hash.$": "States.Hash($.app, 'SHA-256')",
            "batches.$": "States.ArrayPartition($.ids, 2)",
            "merged.$": "States.JsonMerge($.a, $.b, false)",
            "count.$": "States.MathAdd(States.ArrayLength($.ids), 1)"
        }, "End": true}}}),
        json!({"app": "tableicty", "arn": "arn:aws:rds:eu-west-1:1:db:main", "ids": [1, 2, 3], "a": {"x": 1}, "b": {"y": 2}}),
        json!({}),
    )
    .await;
    let out = output(&ran);
    assert_eq!(out["name"], json!("tableicty-db"));
    assert_eq!(out["hash"].as_str().unwrap().len(), 64);
    assert_eq!(out["batches"], json!([[1, 2], [3]]));
    assert_eq!(out["merged"], json!({"x": 1, "y": 2}));
    assert_eq!(out["count"], json!(4));

    let ran = execute(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"v.$": "States.StringToJson($.s)"}, "End": true}}}),
        json!({"s": "{not json"}),
        json!({}),
    )
    .await;
    let (error, cause) = failure(&ran);
    assert_eq!(error, "States.Runtime");
    assert!(cause.contains("States.StringToJson"), "{cause}");
}

#[tokio::test(start_paused = true)]
async fn oversized_payloads_fail_with_data_limit_exceeded_even_under_catch() {
    let big = "x".repeat(300 * 1024);
    let ran = execute(
        json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": FN, "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H"}], "End": true},
            "H": {"Type": "Pass", "End": true}
        }}),
        json!({}),
        json!({FN: [{"result": big}]}),
    )
    .await;
    assert_eq!(failure(&ran).0, "States.DataLimitExceeded");
}

#[tokio::test(start_paused = true)]
async fn execution_timeout_fails_with_states_timeout() {
    let ran = execute(
        json!({"TimeoutSeconds": 120, "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": true}}}),
        json!({}),
        json!({}),
    )
    .await;
    assert_eq!(failure(&ran).0, "States.Timeout");
    assert_eq!(ran.execution.elapsed, Duration::from_secs(120));
}

#[tokio::test(start_paused = true)]
async fn history_is_counted_as_aws_counts_it_and_capped() {
    let ran = execute(
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": FN, "Next": "S"}, "S": {"Type": "Succeed"}}}),
        json!({}),
        json!({FN: [{"result": 1}]}),
    )
    .await;
    // Started, TaskStateEntered, Scheduled, Started, Succeeded, TaskStateExited, Succeed entered/exited, ExecutionSucceeded.
    assert_eq!(ran.execution.history_events, 9);

    let looping = definition(json!({"StartAt": "Count", "States": {
        "Count": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"}, "Next": "More"},
        "More": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericLessThan": 100000, "Next": "Count"}], "Default": "End"},
        "End": {"Type": "Succeed"}
    }}));
    let err = run_with(&looping, json!({"n": 0}), json!({}), &RunOptions { max_history_events: 1000, ..options() }).await.err().unwrap();
    // 1 + 4 per loop: after 249 loops (997 entries) the 1001st is More's exit.
    assert_eq!(err, AslError::HistoryLimit { limit: 1000, state: "More".into() });
    let err = run_with(&looping, json!({"n": 0}), json!({}), &options()).await.err().unwrap();
    assert!(matches!(err, AslError::HistoryLimit { limit: 25_000, .. }));
}

#[test]
fn unsupported_features_are_refused_by_the_public_parser() {
    let err = Definition::parse(
        &json!({"StartAt": "Fan", "States": {"Fan": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": {"StartAt": "X", "States": {"X": {"Type": "Succeed"}}}, "End": true}}})
            .to_string(),
    )
    .unwrap_err();
    assert_eq!(err, AslError::Unsupported { state: "Fan".into(), feature: "Map state".into() });
    assert_eq!(err.to_string(), "unsupported ASL feature at state 'Fan': Map state");
}
