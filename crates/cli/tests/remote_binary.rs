//! The built `rehearsal remote`: a bad run document is refused, naming the field, before any
//! AWS call (the endpoint below answers nothing, so any call would fail differently).

use std::process::Command;

#[test]
fn a_bad_run_document_is_refused_before_any_call() {
    let input = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("remote-bad-run.json");
    std::fs::write(&input, r#"{"ttl_hours": 100000}"#).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rehearsal"))
        .args(["remote", "--endpoint-url", "http://127.0.0.1:9"])
        .args(["--staging-state-machine-arn", "arn:aws:states:us-east-1:123456789012:stateMachine:staging"])
        .args(["--promote-state-machine-arn", "arn:aws:states:us-east-1:123456789012:stateMachine:promote"])
        .args(["--teardown-state-machine-arn", "arn:aws:states:us-east-1:123456789012:stateMachine:teardown"])
        .args(["start", "--idempotency-key", "release-1", "--input", input.to_str().unwrap()])
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .expect("the rehearsal binary runs");
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(out.status.code(), Some(2), "{body}");
    assert_eq!(body["field"], "ttl_hours", "{body}");
}
