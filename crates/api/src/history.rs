//! Reading an execution's history (GetExecutionHistory): which states are open, which one was
//! entered last, and what a state answered.

use rehearsal_aws::HistoryEvent;
use serde_json::Value;

fn kind(event: &HistoryEvent) -> &str {
    event.r#type().as_str()
}

/// `Parallel` and `Map` states contain the states entered while they are open.
fn container(kind: &str) -> Option<&'static str> {
    ["Parallel", "Map"].into_iter().find(|c| kind.starts_with(c))
}

struct Open {
    name: String,
    container: Option<&'static str>,
}

/// Closing a container closes everything entered inside it (aborted branches have no exit event).
fn close(open: &mut Vec<Open>, index: usize) {
    if open[index].container.is_some() {
        open.truncate(index);
    } else {
        open.remove(index);
    }
}

/// The states entered and not yet left, in the order they were entered: several while Parallel
/// branches run, the container first.
pub fn open_states(events: &[HistoryEvent]) -> Vec<String> {
    let mut open: Vec<Open> = Vec::new();
    for event in events {
        let kind = kind(event);
        if let Some(entered) = event.state_entered_event_details() {
            open.push(Open { name: entered.name().to_string(), container: container(kind) });
        } else if let Some(exited) = event.state_exited_event_details() {
            if let Some(i) = open.iter().rposition(|o| o.name == exited.name()) {
                close(&mut open, i);
            }
        } else if kind == "ParallelStateFailed" || kind == "MapStateFailed" {
            // A caught failure leaves the container without an exit event.
            if let Some(i) = open.iter().rposition(|o| o.container == container(kind)) {
                close(&mut open, i);
            }
        }
    }
    open.into_iter().map(|o| o.name).collect()
}

/// The state entered last (for a stopped execution: where it ended).
pub fn last_state(events: &[HistoryEvent]) -> Option<String> {
    events.iter().rev().find_map(|e| e.state_entered_event_details()).map(|d| d.name().to_string())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputError {
    /// The history keeps at most 256 KiB of a state's output.
    Truncated,
    NotJson(String),
}

/// What the last exit of state `name` answered; `Ok(None)` when it never exited.
pub fn state_output(events: &[HistoryEvent], name: &str) -> Result<Option<Value>, OutputError> {
    let Some(exited) = events.iter().rev().find_map(|e| e.state_exited_event_details().filter(|d| d.name() == name)) else {
        return Ok(None);
    };
    if exited.output_details().is_some_and(|d| d.truncated()) {
        return Err(OutputError::Truncated);
    }
    match exited.output() {
        None => Ok(None),
        Some(text) => serde_json::from_str(text).map(Some).map_err(|e| OutputError::NotJson(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sfn::primitives::DateTime;
    use aws_sdk_sfn::types::{HistoryEventExecutionDataDetails, HistoryEventType as T, StateEnteredEventDetails, StateExitedEventDetails};

    /// Builds a history: each event's id is its position (from 1).
    struct History(Vec<HistoryEvent>);

    impl History {
        fn new() -> Self {
            History(Vec::new())
        }

        fn push(
            &mut self,
            kind: T,
            previous: i64,
            fill: impl FnOnce(aws_sdk_sfn::types::builders::HistoryEventBuilder) -> aws_sdk_sfn::types::builders::HistoryEventBuilder,
        ) -> i64 {
            let id = self.0.len() as i64 + 1;
            let builder = HistoryEvent::builder().id(id).previous_event_id(previous).r#type(kind).timestamp(DateTime::from_secs(id));
            self.0.push(fill(builder).build().unwrap());
            id
        }

        fn enter(&mut self, kind: T, name: &str, previous: i64) -> i64 {
            self.push(kind, previous, |b| b.state_entered_event_details(StateEnteredEventDetails::builder().name(name).build().unwrap()))
        }

        fn exit(&mut self, kind: T, name: &str, previous: i64, output: Option<&str>) -> i64 {
            self.push(kind, previous, |b| {
                let details = StateExitedEventDetails::builder().name(name).set_output(output.map(str::to_string));
                b.state_exited_event_details(details.build().unwrap())
            })
        }

        fn plain(&mut self, kind: T, previous: i64) -> i64 {
            self.push(kind, previous, |b| b)
        }
    }

    #[test]
    fn open_states_follow_entries_exits_and_parallel_branches() {
        let mut h = History::new();
        let start = h.plain(T::ExecutionStarted, 0);
        let pass = h.enter(T::PassStateEntered, "Plan", start);
        let pass = h.exit(T::PassStateExited, "Plan", pass, Some("{}"));
        let parallel = h.enter(T::ParallelStateEntered, "Prepare", pass);
        h.plain(T::ParallelStateStarted, parallel);
        let wait = h.enter(T::WaitStateEntered, "WaitForSnapshot", parallel);
        let task = h.enter(T::TaskStateEntered, "WriteParameters", parallel);
        assert_eq!(open_states(&h.0), ["Prepare", "WaitForSnapshot", "WriteParameters"]);
        h.exit(T::TaskStateExited, "WriteParameters", task, None);
        assert_eq!(open_states(&h.0), ["Prepare", "WaitForSnapshot"]);
        // The other branch fails and the Parallel's Catch takes over: the wait never exits.
        h.plain(T::ParallelStateFailed, wait);
        let rollback = h.enter(T::TaskStateEntered, "Rollback", parallel);
        assert_eq!(open_states(&h.0), ["Rollback"]);
        assert_eq!(last_state(&h.0).as_deref(), Some("Rollback"));
        h.exit(T::TaskStateExited, "Rollback", rollback, None);
        assert!(open_states(&h.0).is_empty());
    }

    #[test]
    fn state_output_is_the_last_exit_and_refuses_truncation() {
        let mut h = History::new();
        let start = h.plain(T::ExecutionStarted, 0);
        assert_eq!(state_output(&h.0, "PlanRehearsal"), Ok(None));
        let entered = h.enter(T::TaskStateEntered, "PlanRehearsal", start);
        let exited = h.exit(T::TaskStateExited, "PlanRehearsal", entered, Some(r#"{"plan":{"run_id":"r"}}"#));
        assert_eq!(state_output(&h.0, "PlanRehearsal"), Ok(Some(serde_json::json!({"plan": {"run_id": "r"}}))));
        h.exit(T::TaskStateExited, "Broken", exited, Some("{"));
        assert!(matches!(state_output(&h.0, "Broken"), Err(OutputError::NotJson(_))));
        h.push(T::TaskStateExited, exited, |b| {
            let details = StateExitedEventDetails::builder()
                .name("Big")
                .output("{")
                .output_details(HistoryEventExecutionDataDetails::builder().truncated(true).build());
            b.state_exited_event_details(details.build().unwrap())
        });
        assert_eq!(state_output(&h.0, "Big"), Err(OutputError::Truncated));
    }
}
