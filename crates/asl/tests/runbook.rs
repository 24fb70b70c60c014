//! A staging-rehearsal shaped definition, as a SAM template would deploy it: `${...}` placeholders,
//! lambda:invoke tasks, a Parallel preparation, polling with Wait/Choice and Retry on throttling,
//! run on the kind of paused current-thread runtime the CLI uses.

use std::collections::BTreeMap;
use std::time::Duration;

use rehearsal_asl::{run, substitute, Definition, Event, Outcome, RecordingObserver, RunOptions, ScriptedInvoker};
use serde_json::json;

const TEMPLATE: &str = r#"{
  "Comment": "Staging rehearsal",
  "StartAt": "Prepare",
  "States": {
    "Prepare": {
      "Type": "Parallel",
      "ResultPath": "$.prepare",
      "Next": "RestoreSnapshot",
      "Branches": [
        {"StartAt": "Snapshot", "States": {"Snapshot": {
          "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
          "Parameters": {"FunctionName": "${StepFunction}", "Payload": {"step": "snapshot", "run.$": "$.run"}},
          "ResultSelector": {"snapshot.$": "$.Payload.snapshot"},
          "Retry": [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 2.0}],
          "End": true}}},
        {"StartAt": "Freeze", "States": {"Freeze": {"Type": "Wait", "Seconds": 300, "Next": "Frozen"},
          "Frozen": {"Type": "Pass", "Result": {"frozen": true}, "End": true}}}
      ]
    },
    "RestoreSnapshot": {
      "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
      "Parameters": {"FunctionName": "${StepFunction}", "Payload": {"step": "restore", "snapshot.$": "$.prepare[0].snapshot"}},
      "ResultSelector": {"status.$": "$.Payload.status"},
      "ResultPath": "$.restore",
      "Next": "WaitForRestore"
    },
    "WaitForRestore": {"Type": "Wait", "Seconds": 600, "Next": "CheckRestore"},
    "CheckRestore": {
      "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
      "Parameters": {"FunctionName": "${StepFunction}", "Payload": {"step": "check"}},
      "ResultSelector": {"status.$": "$.Payload.status"},
      "ResultPath": "$.restore",
      "Next": "Restored?"
    },
    "Restored?": {"Type": "Choice",
      "Choices": [{"Variable": "$.restore.status", "StringEquals": "available", "Next": "Report"}],
      "Default": "WaitForRestore"},
    "Report": {"Type": "Pass", "Parameters": {"run.$": "$.run", "finished.$": "$$.State.EnteredTime"}, "End": true}
  }
}"#;

#[test]
fn a_45_minute_rehearsal_runs_in_virtual_time() {
    let function = "arn:aws:lambda:eu-west-1:123456789012:function:rehearsal-step";
    let values = BTreeMap::from([("StepFunction".to_string(), function.to_string())]);
    let def = Definition::parse(&substitute(TEMPLATE, &values).unwrap()).unwrap();
    assert_eq!(def.comment(), Some("Staging rehearsal"));
    assert_eq!(def.state_names().len(), 9);

    let invoker = ScriptedInvoker::from_json(&json!({function: [
        {"error": "Lambda.TooManyRequestsException", "cause": "Rate exceeded"},
        {"result": {"snapshot": "snap-1"}},
        {"result": {"status": "restoring"}},
        {"result": {"status": "restoring"}},
        {"result": {"status": "restoring"}},
        {"result": {"status": "restoring"}, "delay_seconds": 60},
        {"result": {"status": "available"}, "delay_seconds": 60}
    ]}))
    .unwrap();
    let recorder = RecordingObserver::new();
    let options = RunOptions {
        execution_name: "rehearsal-2024-05-01".into(),
        start_time: "2024-05-01T08:00:00Z".parse().unwrap(),
        ..RunOptions::default()
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
    let execution = runtime.block_on(run(&def, json!({"run": "r-1"}), &invoker, &recorder, &options)).unwrap();

    // Snapshot (2 s retry) runs alongside the 5-minute freeze; then four 10-minute polls, the
    // last two checks taking a minute each: 300 + 4 × 600 + 2 × 60 = 2820 s, 47 minutes.
    assert_eq!(execution.elapsed, Duration::from_secs(2820));
    assert_eq!(execution.outcome, Outcome::Succeeded { output: json!({"run": "r-1", "finished": "2024-05-01T08:47:00.000Z"}) });

    let calls = invoker.calls();
    assert_eq!(calls.len(), 7);
    assert!(calls.iter().all(|c| c.resource == function));
    assert_eq!(calls[0].input, json!({"step": "snapshot", "run": "r-1"}));
    assert_eq!(calls[1].attempt, 2);
    assert_eq!(calls[2].input, json!({"step": "restore", "snapshot": "snap-1"}));
    assert!(invoker.unused().is_empty());

    let events = recorder.events();
    assert!(matches!(events.first(), Some(Event::ExecutionStarted { .. })));
    assert!(matches!(events.last(), Some(Event::ExecutionSucceeded { .. })));
    let snapshot_path = events.iter().find_map(|e| match e {
        Event::StateEntered { name, path, .. } if name == "Snapshot" => Some(path.clone()),
        _ => None,
    });
    assert_eq!(snapshot_path.as_deref(), Some("Prepare/0"));
    let serialized = serde_json::to_value(&events[1]).unwrap();
    assert_eq!(serialized["type"], json!("StateEntered"));
    assert_eq!(serialized["at_seconds"], json!(0.0));
}

#[test]
fn an_unsubstituted_template_is_refused_with_the_missing_name() {
    let err = substitute(TEMPLATE, &BTreeMap::new()).unwrap_err();
    assert_eq!(err.to_string(), "definition substitution: no value given for ${StepFunction}");
}
