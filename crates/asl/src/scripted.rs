//! A task invoker that plays back scripted results per resource, for tests and `rehearsal asl run`.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde_json::Value;

use crate::{AslError, TaskCall, TaskFailure, TaskInvoker};

#[derive(Debug, Clone, PartialEq)]
struct Reply {
    outcome: Result<Value, TaskFailure>,
    delay: Duration,
}

/// Built from `{"<resource>": [{"result": <json>} | {"error": "Name", "cause": "text"}, ...]}`;
/// each entry may add `"delay_seconds": n` to take that long in (virtual) time. Replies for a
/// resource are consumed in call order; once they run out, a call fails with States.TaskFailed.
#[derive(Debug, Default)]
pub struct ScriptedInvoker {
    replies: RefCell<BTreeMap<String, VecDeque<Reply>>>,
    calls: RefCell<Vec<TaskCall>>,
}

impl ScriptedInvoker {
    pub fn from_json(script: &Value) -> Result<ScriptedInvoker, AslError> {
        let invalid = |message: String| AslError::Script { message };
        let resources = script.as_object().ok_or_else(|| invalid("the script must be an object keyed by resource".into()))?;
        let mut replies = BTreeMap::new();
        for (resource, entries) in resources {
            let entries = entries.as_array().ok_or_else(|| invalid(format!("'{resource}' must map to an array of replies")))?;
            let mut queue = VecDeque::with_capacity(entries.len());
            for (i, entry) in entries.iter().enumerate() {
                let at = format!("'{resource}'[{i}]");
                let map = entry.as_object().ok_or_else(|| invalid(format!("{at} must be an object")))?;
                if let Some(key) = map.keys().find(|k| !["result", "error", "cause", "delay_seconds"].contains(&k.as_str())) {
                    return Err(invalid(format!("{at} has an unknown field '{key}'")));
                }
                let delay = match map.get("delay_seconds") {
                    None => Duration::ZERO,
                    Some(v) => v
                        .as_f64()
                        .filter(|s| s.is_finite() && *s >= 0.0)
                        .map(Duration::from_secs_f64)
                        .ok_or_else(|| invalid(format!("{at}: delay_seconds must be a non-negative number")))?,
                };
                let outcome = match (map.get("result"), map.get("error"), map.get("cause")) {
                    (Some(result), None, None) => Ok(result.clone()),
                    (None, Some(Value::String(error)), cause) => Err(TaskFailure {
                        error: error.clone(),
                        cause: match cause {
                            None => String::new(),
                            Some(Value::String(c)) => c.clone(),
                            Some(other) => return Err(invalid(format!("{at}: cause must be a string, not {other}"))),
                        },
                    }),
                    _ => return Err(invalid(format!("{at} needs either \"result\" or a string \"error\" (with an optional \"cause\")"))),
                };
                queue.push_back(Reply { outcome, delay });
            }
            replies.insert(resource.clone(), queue);
        }
        Ok(ScriptedInvoker { replies: RefCell::new(replies), calls: RefCell::new(Vec::new()) })
    }

    pub fn from_json_str(text: &str) -> Result<ScriptedInvoker, AslError> {
        let script = serde_json::from_str(text).map_err(|e| AslError::Script { message: format!("not valid JSON: {e}") })?;
        Self::from_json(&script)
    }

    /// Every call made so far, in order.
    pub fn calls(&self) -> Vec<TaskCall> {
        self.calls.borrow().clone()
    }

    /// Replies not consumed, per resource (resources with none left are omitted).
    pub fn unused(&self) -> BTreeMap<String, usize> {
        self.replies.borrow().iter().filter(|(_, q)| !q.is_empty()).map(|(r, q)| (r.clone(), q.len())).collect()
    }
}

impl TaskInvoker for ScriptedInvoker {
    fn invoke<'a>(&'a self, call: TaskCall) -> Pin<Box<dyn Future<Output = Result<Value, TaskFailure>> + 'a>> {
        let made = self.calls.borrow().iter().filter(|c| c.resource == call.resource).count() + 1;
        let reply = self.replies.borrow_mut().get_mut(&call.resource).and_then(VecDeque::pop_front);
        let resource = call.resource.clone();
        self.calls.borrow_mut().push(call);
        Box::pin(async move {
            let Some(reply) = reply else {
                return Err(TaskFailure {
                    error: "States.TaskFailed".into(),
                    cause: format!("the task script has no reply left for resource '{resource}' (call {made})"),
                });
            };
            if !reply.delay.is_zero() {
                tokio::time::sleep(reply.delay).await;
            }
            reply.outcome
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(resource: &str, attempt: u32) -> TaskCall {
        TaskCall { state: "S".into(), resource: resource.into(), input: json!({"n": attempt}), attempt, task_token: None }
    }

    #[tokio::test(start_paused = true)]
    async fn plays_replies_in_order_then_fails_and_records_calls() {
        let invoker = ScriptedInvoker::from_json(&json!({
            "f": [{"error": "Boom", "cause": "first"}, {"result": {"ok": true}, "delay_seconds": 30}],
            "g": [{"result": 1}]
        }))
        .unwrap();
        assert_eq!(invoker.invoke(call("f", 1)).await, Err(TaskFailure { error: "Boom".into(), cause: "first".into() }));
        let started = tokio::time::Instant::now();
        assert_eq!(invoker.invoke(call("f", 2)).await, Ok(json!({"ok": true})));
        assert_eq!(started.elapsed(), Duration::from_secs(30));
        let exhausted = invoker.invoke(call("f", 3)).await.unwrap_err();
        assert_eq!(exhausted.error, "States.TaskFailed");
        assert!(exhausted.cause.contains("'f' (call 3)"));
        assert_eq!(invoker.calls().iter().map(|c| c.attempt).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(invoker.unused(), BTreeMap::from([("g".to_string(), 1)]));
    }

    #[test]
    fn malformed_scripts_are_refused() {
        let bad = |v: Value| matches!(ScriptedInvoker::from_json(&v), Err(AslError::Script { .. }));
        assert!(bad(json!([])));
        assert!(bad(json!({"f": {"result": 1}})));
        assert!(bad(json!({"f": [{"result": 1, "error": "E"}]})));
        assert!(bad(json!({"f": [{"error": 5}]})));
        assert!(bad(json!({"f": [{"result": 1, "extra": 2}]})));
        assert!(bad(json!({"f": [{"result": 1, "delay_seconds": -1}]})));
        assert!(matches!(ScriptedInvoker::from_json_str("{"), Err(AslError::Script { .. })));
    }
}
