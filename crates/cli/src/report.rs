//! What a run leaves behind for people: a progress display while it runs (one line per state
//! the first time it is entered, plus retries and caught errors, so wait loops do not flood the
//! terminal) and a JSON report afterwards.

use chrono::{DateTime, Utc};
use rehearsal_asl::{Event, Observer};
use serde::Serialize;
use serde_json::Value;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::io::Write;

/// One state entered, with virtual times (seconds since the execution started).
#[derive(Debug, Clone, Serialize)]
pub struct StateSpan {
    pub name: String,
    /// Parallel branch path, e.g. `PrepareStaging/0`; empty at the top level.
    pub path: String,
    pub kind: String,
    pub start_seconds: f64,
    pub end_seconds: Option<f64>,
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
}

/// Records every state's span and prints progress as events arrive.
pub struct ProgressObserver<W: Write> {
    start: DateTime<Utc>,
    out: RefCell<W>,
    seen: RefCell<BTreeSet<(String, String)>>,
    spans: RefCell<Vec<StateSpan>>,
}

fn text(event: &Value, key: &str) -> String {
    event.get(key).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)).unwrap_or_default()
}

/// `+hh:mm:ss` of virtual time.
pub fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0) as u64;
    format!("+{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

impl<W: Write> ProgressObserver<W> {
    pub fn new(start: DateTime<Utc>, out: W) -> Self {
        Self { start, out: RefCell::new(out), seen: RefCell::default(), spans: RefCell::default() }
    }

    pub fn spans(&self) -> Vec<StateSpan> {
        self.spans.borrow().clone()
    }

    fn at(&self, seconds: f64) -> DateTime<Utc> {
        self.start + chrono::Duration::milliseconds((seconds * 1000.0) as i64)
    }

    fn print(&self, line: String) {
        let mut out = self.out.borrow_mut();
        // Progress is best effort: a closed pipe must not stop the run.
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

impl<W: Write> Observer for ProgressObserver<W> {
    fn on_event(&self, event: &Event) {
        let Ok(event) = serde_json::to_value(event) else { return };
        let at = event.get("at_seconds").and_then(Value::as_f64).unwrap_or(0.0);
        let (name, path) = (text(&event, "name"), text(&event, "path"));
        let indent = "  ".repeat(path.matches('/').count());
        match text(&event, "type").as_str() {
            "StateEntered" => {
                self.spans.borrow_mut().push(StateSpan {
                    name: name.clone(),
                    path: path.clone(),
                    kind: text(&event, "kind"),
                    start_seconds: at,
                    end_seconds: None,
                    start: self.at(at),
                    end: None,
                });
                if self.seen.borrow_mut().insert((path.clone(), name.clone())) {
                    self.print(format!("{}  {indent}{name}", clock(at)));
                }
            }
            "StateExited" => {
                let mut spans = self.spans.borrow_mut();
                if let Some(span) = spans.iter_mut().rev().find(|s| s.name == name && s.path == path && s.end_seconds.is_none()) {
                    span.end_seconds = Some(at);
                    span.end = Some(self.at(at));
                }
            }
            "RetryScheduled" => self.print(format!(
                "{}  {indent}{name}: {} — retry {} in {} s",
                clock(at),
                text(&event, "error"),
                text(&event, "attempt"),
                text(&event, "delay_seconds")
            )),
            "ErrorCaught" => {
                self.print(format!("{}  {indent}{name}: caught {} → {}", clock(at), text(&event, "error"), text(&event, "next")))
            }
            "ExecutionSucceeded" => self.print(format!("{}  succeeded", clock(at))),
            "ExecutionFailed" => self.print(format!("{}  failed: {}", clock(at), text(&event, "error"))),
            _ => {}
        }
    }
}

/// Each distinct state once: first start, last end and how many times it ran, in start order.
#[derive(Debug, Clone, Serialize)]
pub struct StepSummary {
    pub name: String,
    pub path: String,
    pub first_start_seconds: f64,
    pub last_end_seconds: Option<f64>,
    pub times_entered: usize,
}

pub fn summarize(spans: &[StateSpan]) -> Vec<StepSummary> {
    let mut rows: Vec<StepSummary> = Vec::new();
    for span in spans {
        match rows.iter_mut().find(|r| r.name == span.name && r.path == span.path) {
            Some(row) => {
                row.times_entered += 1;
                row.last_end_seconds = span.end_seconds.or(row.last_end_seconds);
            }
            None => rows.push(StepSummary {
                name: span.name.clone(),
                path: span.path.clone(),
                first_start_seconds: span.start_seconds,
                last_end_seconds: span.end_seconds,
                times_entered: 1,
            }),
        }
    }
    rows
}
