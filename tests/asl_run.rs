//! `rehearsal asl run` as a library function: any definition, scripted Task results, a paused
//! clock. (The binary itself is driven in crates/cli/tests/asl_run_binary.rs: Cargo builds a
//! binary for the integration tests of its own package only.)

use rehearsal_asl::{AslError, RunOptions};
use rehearsal_cli::asl_run::{redrive_paused, run_paused, AslRun, AslRunResult, ExecutionStatus};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const FETCH: &str = "arn:aws:lambda:eu-west-1:111122223333:function:fetch";
const STORE: &str = "arn:aws:lambda:eu-west-1:111122223333:function:store";

fn asl_run(definition: Value, input: Value, tasks: Value, substitutions: &[(&str, &str)]) -> Result<AslRunResult, AslError> {
    let request = AslRun {
        definition: definition.to_string(),
        input,
        tasks,
        substitutions: substitutions.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
    };
    run_paused(&request, &RunOptions::default())
}

/// Two branches, one with a retried task; then an hour-long wait and a choice on the results.
fn fan_out() -> Value {
    json!({
        "StartAt": "Gather",
        "States": {
            "Gather": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "Fetch", "States": {"Fetch": {
                        "Type": "Task", "Resource": "${FetchArn}",
                        "Retry": [{"ErrorEquals": ["Busy"], "IntervalSeconds": 600, "MaxAttempts": 2}],
                        "End": true}}},
                    {"StartAt": "Label", "States": {"Label": {"Type": "Pass", "Result": "label", "End": true}}}
                ],
                "ResultSelector": {"count.$": "$[0].count", "label.$": "$[1]"},
                "Next": "Settle"
            },
            "Settle": {"Type": "Wait", "Seconds": 3600, "Next": "Enough"},
            "Enough": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.count", "NumericGreaterThan": 2, "Next": "Store"}],
                "Default": "TooFew"
            },
            "Store": {"Type": "Task", "Resource": "${StoreArn}", "ResultPath": "$.stored", "End": true},
            "TooFew": {"Type": "Fail", "Error": "TooFewError", "Cause": "fewer than three"}
        }
    })
}

#[test]
fn states_carry_branch_paths_and_waits_pass_on_the_virtual_clock() {
    let wall = Instant::now();
    let result = asl_run(
        fan_out(),
        json!({}),
        json!({
            FETCH: [{"error": "Busy", "cause": "try later"}, {"result": {"count": 3}}],
            STORE: [{"result": {"id": "s-1"}, "delay_seconds": 120}]
        }),
        &[("FetchArn", FETCH), ("StoreArn", STORE)],
    )
    .unwrap();
    // An hour and ten minutes of virtual time, well under a second of wall time.
    assert!(wall.elapsed() < Duration::from_secs(5), "{:?}", wall.elapsed());
    assert_eq!(result.states, ["Gather", "Gather/0/Fetch", "Gather/1/Label", "Settle", "Enough", "Store"]);
    assert_eq!(result.status, ExecutionStatus::Succeeded);
    assert_eq!(result.output, Some(json!({"count": 3, "label": "label", "stored": {"id": "s-1"}})));
    assert!(result.unused_replies.is_empty(), "{:?}", result.unused_replies);
    assert_eq!(
        serde_json::to_value(&result).unwrap(),
        json!({
            "states": ["Gather", "Gather/0/Fetch", "Gather/1/Label", "Settle", "Enough", "Store"],
            "status": "SUCCEEDED",
            "output": {"count": 3, "label": "label", "stored": {"id": "s-1"}}
        })
    );
}

#[test]
fn a_failed_execution_prints_error_and_cause_and_no_output() {
    let tasks = json!({FETCH: [{"result": {"count": 1}}], STORE: [{"result": "never called"}]});
    let result = asl_run(fan_out(), json!({}), tasks, &[("FetchArn", FETCH), ("StoreArn", STORE)]).unwrap();
    assert_eq!(result.states, ["Gather", "Gather/0/Fetch", "Gather/1/Label", "Settle", "Enough", "TooFew"]);
    assert_eq!(
        serde_json::to_value(&result).unwrap(),
        json!({
            "states": ["Gather", "Gather/0/Fetch", "Gather/1/Label", "Settle", "Enough", "TooFew"],
            "status": "FAILED",
            "error": "TooFewError",
            "cause": "fewer than three"
        })
    );
    assert_eq!(result.unused_replies, BTreeMap::from([(STORE.to_string(), 1)]));

    // A task error no retrier or catcher handles ends the execution with the script's error.
    let failing = json!({FETCH: [{"error": "Busy", "cause": "1"}, {"error": "Busy", "cause": "2"}, {"error": "Busy", "cause": "3"}]});
    let result = asl_run(fan_out(), json!({}), failing, &[("FetchArn", FETCH), ("StoreArn", STORE)]).unwrap();
    assert_eq!((result.status, result.error.as_deref(), result.cause.as_deref()), (ExecutionStatus::Failed, Some("Busy"), Some("3")));
    assert_eq!(result.states, ["Gather", "Gather/0/Fetch", "Gather/1/Label"]);
}

#[test]
fn a_redrive_reruns_the_failed_branch_only_and_goes_on() {
    let substitutions = [("FetchArn", FETCH), ("StoreArn", STORE)];
    let busy = json!({"error": "Busy", "cause": "try later"});
    let failed = asl_run(fan_out(), json!({"run": 7}), json!({FETCH: [busy, busy, busy]}), &substitutions).unwrap();
    assert_eq!(failed.status, ExecutionStatus::Failed);

    // The redrive's script answers the redrive; the input is the execution's.
    let request = AslRun {
        definition: fan_out().to_string(),
        input: json!({"ignored": true}),
        tasks: json!({FETCH: [busy, {"result": {"count": 5}}], STORE: [{"result": "kept"}]}),
        substitutions: substitutions.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
    };
    let redriven = redrive_paused(&request, &failed.record).unwrap();
    assert_eq!(redriven.states, ["Gather", "Gather/0/Fetch", "Settle", "Enough", "Store"], "Label succeeded and is kept");
    assert_eq!(redriven.output, Some(json!({"count": 5, "label": "label", "stored": "kept"})));
    assert_eq!(redriven.record.redrive_count, 1);

    let e = redrive_paused(&request, &redriven.record).unwrap_err();
    assert_eq!(e.to_string(), "execution 'local-execution' cannot be redriven: Execution is SUCCEEDED and cannot be redriven.");
}

#[test]
fn a_script_that_runs_out_fails_the_task_as_the_runner_reports_it() {
    let result = asl_run(fan_out(), json!({}), json!({}), &[("FetchArn", FETCH), ("StoreArn", STORE)]).unwrap();
    assert_eq!(result.error.as_deref(), Some("States.TaskFailed"));
    assert!(result.cause.as_deref().unwrap().contains(FETCH), "{:?}", result.cause);
}

#[test]
fn refusals_carry_the_runners_message() {
    let map = json!({"StartAt": "Each", "States": {"Each": {"Type": "Map", "ItemProcessor": {}, "End": true}}});
    let e = asl_run(map, json!({}), json!({}), &[]).unwrap_err();
    assert!(matches!(e, AslError::Unsupported { ref state, .. } if state == "Each"), "{e}");
    assert!(e.to_string().contains("state 'Each'"), "{e}");

    let e = asl_run(fan_out(), json!({}), json!({}), &[("FetchArn", FETCH)]).unwrap_err();
    assert_eq!(e, AslError::UnknownSubstitution { name: "StoreArn".into() });

    let e = asl_run(fan_out(), json!({}), json!({FETCH: {"result": 1}}), &[("FetchArn", FETCH), ("StoreArn", STORE)]).unwrap_err();
    assert!(matches!(e, AslError::Script { .. }), "{e}");

    let sync = json!({"StartAt": "Build", "States": {"Build": {"Type": "Task", "Resource": "arn:aws:states:::codebuild:startBuild.sync", "End": true}}});
    assert!(matches!(asl_run(sync, json!({}), json!({}), &[]).unwrap_err(), AslError::Unsupported { .. }));
}
