//! The built `rehearsal asl run`: its JSON on stdout, its exit status, its refusals on stderr.
//! (The library function behind it is tested in tests/asl_run.rs.)

use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Command, Output};

const FN: &str = "arn:aws:lambda:us-east-1:123456789012:function:work";

fn file(name: &str, content: &Value) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, content.to_string()).unwrap();
    path
}

fn rehearsal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rehearsal")).args(args).output().expect("the rehearsal binary runs")
}

fn definition() -> Value {
    json!({
        "StartAt": "Work",
        "States": {
            "Work": {"Type": "Task", "Resource": "${WorkArn}", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Broken"}], "Next": "Pause"},
            "Pause": {"Type": "Wait", "Seconds": 86400, "Next": "Done"},
            "Done": {"Type": "Pass", "Parameters": {"answer.$": "$.value", "asked.$": "$$.Execution.Input.question"}, "End": true},
            "Broken": {"Type": "Fail", "ErrorPath": "$.Error", "CausePath": "$.Cause"}
        }
    })
}

#[test]
fn prints_states_and_output_and_exits_by_status() {
    let def = file("binary-def.json", &definition());
    let input = file("binary-input.json", &json!({"question": "six times seven"}));
    let ok = file("binary-ok.json", &json!({FN: [{"result": {"value": 42}}]}));
    let out = rehearsal(&[
        "asl",
        "run",
        def.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--tasks",
        ok.to_str().unwrap(),
        "--substitute",
        &format!("WorkArn={FN}"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        printed,
        json!({"states": ["Work", "Pause", "Done"], "status": "SUCCEEDED", "output": {"answer": 42, "asked": "six times seven"}})
    );

    let failing = file("binary-fail.json", &json!({FN: [{"error": "Nope", "cause": "no answer"}, {"result": 1}]}));
    let out =
        rehearsal(&["asl", "run", def.to_str().unwrap(), "--tasks", failing.to_str().unwrap(), "--substitute", &format!("WorkArn={FN}")]);
    assert_eq!(out.status.code(), Some(1));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed, json!({"states": ["Work", "Broken"], "status": "FAILED", "error": "Nope", "cause": "no answer"}));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1 scripted result(s) for") && stderr.contains(FN), "{stderr}");
}

#[test]
fn refusals_exit_2_with_the_runners_message() {
    let def = file("binary-def-2.json", &definition());
    let out = rehearsal(&["asl", "run", def.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert_eq!(String::from_utf8_lossy(&out.stderr).trim(), "error: definition substitution: no value given for ${WorkArn}");

    let map = file("binary-map.json", &json!({"StartAt": "Each", "States": {"Each": {"Type": "Map", "End": true}}}));
    let out = rehearsal(&["asl", "run", map.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stderr).trim(), "error: unsupported ASL feature at state 'Each': Map state");

    let out = rehearsal(&["asl", "run", def.to_str().unwrap(), "--substitute", "no-equals-sign"]);
    assert_eq!(out.status.code(), Some(2), "clap's usage error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not KEY=VALUE"));
}

#[test]
fn record_then_redrive_continues_the_failed_execution() {
    let def = file(
        "binary-redrive-def.json",
        &json!({"StartAt": "Work", "States": {
            "Work": {"Type": "Task", "Resource": FN, "ResultPath": "$.work", "Next": "Done"},
            "Done": {"Type": "Pass", "End": true}
        }}),
    );
    let record = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("binary-redrive-record.json");
    let failing = file("binary-redrive-fail.json", &json!({FN: [{"error": "Nope", "cause": "down"}]}));
    let input = file("binary-redrive-input.json", &json!({"question": 1}));
    let args = |tasks: &PathBuf, more: &[&str]| {
        let mut args = vec!["asl", "run", def.to_str().unwrap(), "--tasks", tasks.to_str().unwrap(), "--record", record.to_str().unwrap()];
        args.extend_from_slice(more);
        rehearsal(&args)
    };
    let out = args(&failing, &["--input", input.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let kept: Value = serde_json::from_str(&std::fs::read_to_string(&record).unwrap()).unwrap();
    assert_eq!((&kept["status"], &kept["stopped_in"]["state"]), (&json!("FAILED"), &json!("Work")));

    let ok = file("binary-redrive-ok.json", &json!({FN: [{"result": 42}]}));
    let redrive_from = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("binary-redrive-from.json");
    std::fs::copy(&record, &redrive_from).unwrap();
    let out = args(&ok, &["--redrive", redrive_from.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed, json!({"states": ["Work", "Done"], "status": "SUCCEEDED", "output": {"question": 1, "work": 42}}));

    // The succeeded execution's record is not redrivable; a redrive keeps its input.
    let out = args(&ok, &["--redrive", record.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: execution 'local-execution' cannot be redriven: Execution is SUCCEEDED and cannot be redriven."
    );
    let out = args(&ok, &["--redrive", record.to_str().unwrap(), "--input", input.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "clap's usage error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
}
