//! What an execution reports as it goes, for the CLI's timeline and for tests.

use std::cell::RefCell;
use std::time::Duration;

use serde::{Serialize, Serializer};
use serde_json::Value;

fn seconds<S: Serializer>(at: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(at.as_secs_f64())
}

/// One step of an execution. `path` is the branch a state runs in (`"Prepare/1"` for the second
/// branch of Parallel `Prepare`, `""` at the top level); `at` is virtual time since the start.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum Event {
    ExecutionStarted {
        input: Value,
    },
    /// A redrive starts (AWS's `ExecutionRedriven`); `redrive_count` counts from 1.
    ExecutionRedriven {
        redrive_count: u32,
        #[serde(rename = "at_seconds", serialize_with = "seconds")]
        at: Duration,
    },
    StateEntered {
        path: String,
        name: String,
        kind: String,
        #[serde(rename = "at_seconds", serialize_with = "seconds")]
        at: Duration,
        input: Value,
    },
    StateExited {
        path: String,
        name: String,
        #[serde(rename = "at_seconds", serialize_with = "seconds")]
        at: Duration,
        output: Value,
    },
    TaskScheduled {
        path: String,
        name: String,
        resource: String,
        attempt: u32,
        #[serde(rename = "at_seconds", serialize_with = "seconds")]
        at: Duration,
    },
    TaskSucceeded {
        path: String,
        name: String,
        resource: String,
        attempt: u32,
        #[serde(rename = "at_seconds", serialize_with = "seconds")]
        at: Duration,
        output: Value,
    },
    TaskFailed {
        path: String,
        name: String,
        resource: String,
        attempt: u32,
        #[serde(rename = "at_seconds", serialize_with = "seconds")]
        at: Duration,
        error: String,
        cause: String,
    },
    /// A retrier matched: the next attempt (numbered from 1 for the first try) starts after the delay.
    RetryScheduled {
        path: String,
        name: String,
        #[serde(rename = "at_seconds", serialize_with = "seconds")]
        at: Duration,
        error: String,
        attempt: u32,
        delay_seconds: f64,
    },
    ErrorCaught {
        path: String,
        name: String,
        #[serde(rename = "at_seconds", serialize_with = "seconds")]
        at: Duration,
        error: String,
        next: String,
    },
    WaitStarted {
        path: String,
        name: String,
        #[serde(rename = "at_seconds", serialize_with = "seconds")]
        at: Duration,
        until_seconds: f64,
    },
    ExecutionSucceeded {
        output: Value,
        #[serde(rename = "at_seconds", serialize_with = "seconds")]
        at: Duration,
    },
    ExecutionFailed {
        error: String,
        cause: String,
        #[serde(rename = "at_seconds", serialize_with = "seconds")]
        at: Duration,
    },
}

impl Event {
    /// The state a StateEntered event enters, after its branch path when it runs in one
    /// (`Prepare/0/Snapshot` for branch 0 of Parallel `Prepare`).
    pub fn entered_state(&self) -> Option<String> {
        match self {
            Event::StateEntered { path, name, .. } if path.is_empty() => Some(name.clone()),
            Event::StateEntered { path, name, .. } => Some(format!("{path}/{name}")),
            _ => None,
        }
    }

    /// How many entries AWS writes to the execution history for this event: a task attempt is
    /// scheduled and started; retries, catches and wait starts are not events of their own.
    pub(crate) fn history_weight(&self) -> usize {
        match self {
            Event::TaskScheduled { .. } => 2,
            Event::RetryScheduled { .. } | Event::ErrorCaught { .. } | Event::WaitStarted { .. } => 0,
            _ => 1,
        }
    }
}

/// Receives every event as it happens.
pub trait Observer {
    fn on_event(&self, event: &Event);
}

impl Observer for () {
    fn on_event(&self, _event: &Event) {}
}

/// Keeps every event, in order.
#[derive(Debug, Default)]
pub struct RecordingObserver {
    events: RefCell<Vec<Event>>,
}

impl RecordingObserver {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn events(&self) -> Vec<Event> {
        self.events.borrow().clone()
    }
}

impl Observer for RecordingObserver {
    fn on_event(&self, event: &Event) {
        self.events.borrow_mut().push(event.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serializes_with_type_tag_and_seconds() {
        let event = Event::StateEntered {
            path: "Prepare/1".into(),
            name: "Probe".into(),
            kind: "Task".into(),
            at: Duration::from_millis(2500),
            input: json!({"a": 1}),
        };
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            json!({"type": "StateEntered", "path": "Prepare/1", "name": "Probe", "kind": "Task", "at_seconds": 2.5, "input": {"a": 1}})
        );
    }

    #[test]
    fn entered_states_carry_their_branch_path() {
        let entered = |path: &str| Event::StateEntered {
            path: path.into(),
            name: "Probe".into(),
            kind: "Task".into(),
            at: Duration::ZERO,
            input: json!({}),
        };
        assert_eq!(entered("").entered_state().as_deref(), Some("Probe"));
        assert_eq!(entered("Prepare/1").entered_state().as_deref(), Some("Prepare/1/Probe"));
        assert_eq!(Event::ExecutionStarted { input: json!({}) }.entered_state(), None);
    }

    #[test]
    fn recording_observer_keeps_order() {
        let recorder = RecordingObserver::new();
        recorder.on_event(&Event::ExecutionStarted { input: json!(1) });
        recorder.on_event(&Event::ExecutionFailed { error: "E".into(), cause: "C".into(), at: Duration::ZERO });
        let events = recorder.events();
        assert_eq!(events.len(), 2);
        assert!(matches!(events[1], Event::ExecutionFailed { .. }));
    }
}
