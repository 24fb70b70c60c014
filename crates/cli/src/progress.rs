//! The progress display while an execution runs: one line per state the first time it is
//! entered, plus retries and caught errors, so wait loops do not flood the terminal. It also
//! records every state's span for the report.

use crate::report::{clock, StateSpan};
use chrono::{DateTime, Utc};
use rehearsal_asl::{Event, Observer};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::io::Write;
use std::time::Duration;

/// Records every state's span and prints progress as events arrive.
pub struct ProgressObserver<W: Write> {
    start: DateTime<Utc>,
    out: RefCell<W>,
    seen: RefCell<BTreeSet<(String, String)>>,
    spans: RefCell<Vec<StateSpan>>,
}

fn indent(path: &str) -> String {
    "  ".repeat(path.matches('/').count())
}

impl<W: Write> ProgressObserver<W> {
    pub fn new(start: DateTime<Utc>, out: W) -> Self {
        Self { start, out: RefCell::new(out), seen: RefCell::default(), spans: RefCell::default() }
    }

    pub fn spans(&self) -> Vec<StateSpan> {
        self.spans.borrow().clone()
    }

    fn at(&self, elapsed: &Duration) -> DateTime<Utc> {
        self.start + chrono::Duration::milliseconds(elapsed.as_millis() as i64)
    }

    fn print(&self, at: &Duration, line: String) {
        let mut out = self.out.borrow_mut();
        // Progress is best effort: a closed pipe must not stop the run.
        let _ = writeln!(out, "{}  {line}", clock(at.as_secs_f64()));
        let _ = out.flush();
    }
}

impl<W: Write> Observer for ProgressObserver<W> {
    fn on_event(&self, event: &Event) {
        match event {
            Event::StateEntered { path, name, kind, at, .. } => {
                self.spans.borrow_mut().push(StateSpan {
                    name: name.clone(),
                    path: path.clone(),
                    kind: kind.clone(),
                    start_seconds: at.as_secs_f64(),
                    end_seconds: None,
                    start: self.at(at),
                    end: None,
                });
                if self.seen.borrow_mut().insert((path.clone(), name.clone())) {
                    self.print(at, format!("{}{name}", indent(path)));
                }
            }
            Event::StateExited { path, name, at, .. } => {
                let mut spans = self.spans.borrow_mut();
                if let Some(span) = spans.iter_mut().rev().find(|s| &s.name == name && &s.path == path && s.end_seconds.is_none()) {
                    span.end_seconds = Some(at.as_secs_f64());
                    span.end = Some(self.at(at));
                }
            }
            Event::RetryScheduled { path, name, at, error, attempt, delay_seconds } => {
                // The delay as JSON writes it (`2.0`), as this line always showed it.
                let delay = serde_json::Value::from(*delay_seconds);
                self.print(at, format!("{}{name}: {error} — retry {attempt} in {delay} s", indent(path)));
            }
            Event::ErrorCaught { path, name, at, error, next } => {
                self.print(at, format!("{}{name}: caught {error} → {next}", indent(path)))
            }
            Event::ExecutionSucceeded { at, .. } => self.print(at, "succeeded".to_string()),
            Event::ExecutionFailed { at, error, .. } => self.print(at, format!("failed: {error}")),
            Event::ExecutionRedriven { at, redrive_count } => self.print(at, format!("redriven (redrive {redrive_count})")),
            Event::ExecutionStarted { .. }
            | Event::TaskScheduled { .. }
            | Event::TaskSucceeded { .. }
            | Event::TaskFailed { .. }
            | Event::WaitStarted { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prints_each_state_once_with_retries_and_catches_and_records_spans() {
        let start = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut out = Vec::new();
        let observer = ProgressObserver::new(start, &mut out);
        let at = Duration::from_secs;
        let entered = |name: &str, path: &str, t| Event::StateEntered {
            path: path.into(),
            name: name.into(),
            kind: "Task".into(),
            at: at(t),
            input: json!({}),
        };
        let exited = |name: &str, path: &str, t| Event::StateExited { path: path.into(), name: name.into(), at: at(t), output: json!({}) };
        for event in [
            Event::ExecutionStarted { input: json!({}) },
            entered("Snapshot", "Prepare/0", 0),
            Event::RetryScheduled {
                path: "Prepare/0".into(),
                name: "Snapshot".into(),
                at: at(1),
                error: "ThrottledError".into(),
                attempt: 2,
                delay_seconds: 2.0,
            },
            exited("Snapshot", "Prepare/0", 3),
            entered("Snapshot", "Prepare/0", 60),
            Event::ErrorCaught {
                path: "".into(),
                name: "Validate".into(),
                at: at(61),
                error: "CheckFailedError".into(),
                next: "Rollback".into(),
            },
            Event::ExecutionFailed { error: "CheckFailedError".into(), cause: "health".into(), at: at(3725) },
            Event::ExecutionRedriven { redrive_count: 1, at: at(7200) },
        ] {
            observer.on_event(&event);
        }
        let spans = observer.spans();
        assert_eq!(spans.len(), 2, "every entry is a span");
        assert_eq!((spans[0].end_seconds, spans[0].end), (Some(3.0), Some(start + chrono::Duration::seconds(3))));
        assert_eq!(spans[1].end_seconds, None);
        drop(observer);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            [
                "+00:00:00    Snapshot\n",
                "+00:00:01    Snapshot: ThrottledError — retry 2 in 2.0 s\n",
                "+00:01:01  Validate: caught CheckFailedError → Rollback\n",
                "+01:02:05  failed: CheckFailedError\n",
                "+02:00:00  redriven (redrive 1)\n",
            ]
            .concat()
        );
    }
}
