//! `rehearsal remote …`: start, follow, approve and tear down runs in the AWS account, calling
//! Step Functions and Parameter Store directly with the caller's credentials, through the very
//! handler the API Lambda runs, so the CLI and the API validate and answer alike.

use rehearsal_api::{answer, request, Api};
use rehearsal_core::cloud::{ParameterStore, StateMachines};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::Write;
use std::time::Duration;

/// One remote action, as the API's route it maps to.
#[derive(Debug, Clone, PartialEq)]
pub enum RemoteAction {
    Start { idempotency_key: String, document: Value },
    Status { id: String },
    Approve { id: String, comment: Option<String> },
    Reject { id: String, comment: Option<String> },
    Teardown { idempotency_key: String, run: String, final_snapshot: bool },
}

impl RemoteAction {
    fn http(&self) -> (&'static str, String, Option<&str>, Option<Value>) {
        let comment = |c: &Option<String>| Some(c.as_ref().map_or(json!({}), |c| json!({ "comment": c })));
        match self {
            RemoteAction::Start { idempotency_key, document } => ("POST", "/runs".into(), Some(idempotency_key), Some(document.clone())),
            RemoteAction::Status { id } => ("GET", format!("/runs/{id}"), None, None),
            RemoteAction::Approve { id, comment: c } => ("POST", format!("/runs/{id}/approve"), None, comment(c)),
            RemoteAction::Reject { id, comment: c } => ("POST", format!("/runs/{id}/reject"), None, comment(c)),
            RemoteAction::Teardown { idempotency_key, run, final_snapshot } => (
                "POST",
                "/environments/staging/teardown".into(),
                Some(idempotency_key),
                Some(json!({ "run": run, "final_snapshot": final_snapshot })),
            ),
        }
    }
}

/// Answers one action: the HTTP status the API would give and its JSON body.
pub async fn call<S: StateMachines, P: ParameterStore + Sync>(api: &Api<S, P>, action: &RemoteAction) -> (u16, Value) {
    let (method, path, key, body) = action.http();
    match request(method, &path, key, body.as_ref()) {
        Ok(req) => answer(&api.handle(req).await),
        Err(e) => (400, json!({ "error": e })),
    }
}

/// Follows a run until it stops, printing each state it enters (from the execution history,
/// polled every `interval`), then answers its final status.
pub async fn follow<S: StateMachines, P: ParameterStore + Sync, W: Write>(
    api: &Api<S, P>,
    id: &str,
    interval: Duration,
    mut out: W,
) -> (u16, Value) {
    let mut seen = BTreeSet::new();
    loop {
        let (status, body) = call(api, &RemoteAction::Status { id: id.to_string() }).await;
        if status != 200 {
            return (status, body);
        }
        for state in body["current_states"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            if seen.insert(state.to_string()) {
                // Progress is best effort: a closed pipe must not stop the follow.
                let _ = writeln!(out, "  {state}");
            }
        }
        if body["status"] != "RUNNING" {
            return (status, body);
        }
        tokio::time::sleep(interval).await;
    }
}
