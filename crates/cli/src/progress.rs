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
            Event::ExecutionStarted { .. }
            | Event::TaskScheduled { .. }
            | Event::TaskSucceeded { .. }
            | Event::TaskFailed { .. }
            | Event::WaitStarted { .. } => {}
        }
    }
}
