//! Reading an execution's history (GetExecutionHistory): which states are open, which one was
//! entered last, and what a state answered.

use rehearsal_core::cloud::HistoryEvent;
use serde_json::Value;

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
        let kind = event.kind.as_str();
        if let Some(entered) = &event.entered {
            open.push(Open { name: entered.clone(), container: container(kind) });
        } else if let Some(exited) = &event.exited {
            if let Some(i) = open.iter().rposition(|o| o.name == exited.name) {
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
    events.iter().rev().find_map(|e| e.entered.clone())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputError {
    /// The history keeps at most 256 KiB of a state's output.
    Truncated,
    NotJson(String),
}

/// What the last exit of state `name` answered; `Ok(None)` when it never exited.
pub fn state_output(events: &[HistoryEvent], name: &str) -> Result<Option<Value>, OutputError> {
    let Some(exited) = events.iter().rev().find_map(|e| e.exited.as_ref().filter(|x| x.name == name)) else {
        return Ok(None);
    };
    if exited.output_truncated {
        return Err(OutputError::Truncated);
    }
    match &exited.output {
        None => Ok(None),
        Some(text) => serde_json::from_str(text).map(Some).map_err(|e| OutputError::NotJson(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rehearsal_core::cloud::StateExit;

    fn plain(kind: &str) -> HistoryEvent {
        HistoryEvent { kind: kind.to_string(), entered: None, exited: None }
    }

    fn enter(kind: &str, name: &str) -> HistoryEvent {
        HistoryEvent { entered: Some(name.to_string()), ..plain(kind) }
    }

    fn exit(kind: &str, name: &str, output: Option<&str>) -> HistoryEvent {
        let exited = StateExit { name: name.to_string(), output: output.map(str::to_string), output_truncated: false };
        HistoryEvent { exited: Some(exited), ..plain(kind) }
    }

    #[test]
    fn open_states_follow_entries_exits_and_parallel_branches() {
        let mut h = vec![
            plain("ExecutionStarted"),
            enter("PassStateEntered", "Plan"),
            exit("PassStateExited", "Plan", Some("{}")),
            enter("ParallelStateEntered", "Prepare"),
            plain("ParallelStateStarted"),
            enter("WaitStateEntered", "WaitForSnapshot"),
            enter("TaskStateEntered", "WriteParameters"),
        ];
        assert_eq!(open_states(&h), ["Prepare", "WaitForSnapshot", "WriteParameters"]);
        h.push(exit("TaskStateExited", "WriteParameters", None));
        assert_eq!(open_states(&h), ["Prepare", "WaitForSnapshot"]);
        // The other branch fails and the Parallel's Catch takes over: the wait never exits.
        h.push(plain("ParallelStateFailed"));
        h.push(enter("TaskStateEntered", "Rollback"));
        assert_eq!(open_states(&h), ["Rollback"]);
        assert_eq!(last_state(&h).as_deref(), Some("Rollback"));
        h.push(exit("TaskStateExited", "Rollback", None));
        assert!(open_states(&h).is_empty());
    }

    #[test]
    fn state_output_is_the_last_exit_and_refuses_truncation() {
        let mut h = vec![plain("ExecutionStarted")];
        assert_eq!(state_output(&h, "PlanRehearsal"), Ok(None));
        h.push(enter("TaskStateEntered", "PlanRehearsal"));
        h.push(exit("TaskStateExited", "PlanRehearsal", Some(r#"{"plan":{"run_id":"r"}}"#)));
        assert_eq!(state_output(&h, "PlanRehearsal"), Ok(Some(serde_json::json!({"plan": {"run_id": "r"}}))));
        h.push(exit("TaskStateExited", "Broken", Some("{")));
        assert!(matches!(state_output(&h, "Broken"), Err(OutputError::NotJson(_))));
        let mut big = exit("TaskStateExited", "Big", Some("{"));
        big.exited.as_mut().unwrap().output_truncated = true;
        h.push(big);
        assert_eq!(state_output(&h, "Big"), Err(OutputError::Truncated));
    }
}
