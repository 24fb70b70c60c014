//! Redriving a closed execution, as Step Functions' `RedriveExecution` does. Every run ends with
//! an [`ExecutionRecord`]: how it ended and, when it did not succeed, where each machine stopped.
//! [`redrive`](crate::redrive()) continues it from there. The rules, from AWS's pages:
//!
//! * **What is redrivable** ([RedriveExecution], [redrive-executions]): a Standard execution
//!   whose status is not `SUCCEEDED` (`FAILED`, `TIMED_OUT`, `ABORTED`), started on or after
//!   2023-11-15, within 14 days of the day it stopped, within the one-year maximum open time,
//!   and whose history holds fewer than 24,999 events (25,000 is the cap: the
//!   `ExecutionRedriven` event and at least one more must fit). Anything else is refused with
//!   [`AslError::NotRedrivable`] and the `redriveStatusReason` AWS gives ([DescribeExecution]).
//! * **Same definition, same execution**: "Redriven executions use the same state machine
//!   definition and execution ARN"; "you must start a new execution if you update your state
//!   machine definition". The record keeps a digest of the definition text and a redrive with
//!   another one is refused. `$$.Execution` keeps its Id, Name, Input and StartTime;
//!   `RedriveCount` counts the redrives and `RedriveTime` (present only once redriven) is the
//!   latest one's start ([context object]).
//! * **From where**: "it continues the failed execution from the unsuccessful step and uses the
//!   same input"; succeeded steps are not rerun. A state is unsuccessful when its history has an
//!   `…Entered` event with no `…Exited` event ([redrive-map-run]); the record keeps, per machine,
//!   the state it was in and that state's raw input. Per state ([redrive-executions], "Redrive
//!   behavior of individual states"):
//!   - Task: scheduled and started again; its TimeoutSeconds counts afresh.
//!   - Choice: its rules are evaluated again (on the same input, so the same way).
//!   - Wait: entered again (a `Timestamp` in the past exits at once; `Seconds` waits again).
//!   - Pass: rerun only if it failed itself; one that ran has exited.
//!   - Fail: "Reenters the Fail state and fails again." So an execution that caught an error
//!     and went on to a Fail state is redriven *to that Fail state*: it fails again with the same
//!     error and nothing before it runs again. A definition that wants a redrive to retry a step
//!     must let the execution fail in that step (no Catch that leads to a Fail state).
//!   - Succeed: never redriven (a succeeded execution is not redrivable).
//!   - Parallel: "Reschedules and redrives only those branches that failed or aborted"; the
//!     others keep their output. A branch never started (an earlier branch failed before it
//!     entered its first state) starts from its StartAt. When the state failed with
//!     `States.DataLimitExceeded`, the Parallel is rerun whole, succeeded branches included.
//! * **Retries**: "the retry attempt count for these states is reset to 0 to allow for the
//!   maximum number of attempts on redrive" (Task and Parallel retriers; `$$.State.RetryCount`
//!   starts at 0 again).
//! * **Time**: "the state machine level timeout, if defined, is reset": TimeoutSeconds counts from
//!   the redrive. The virtual clock carries on from the redrive time: event times are seconds
//!   since the execution's StartTime, so the appended history reads in order.
//! * **History**: the redrive's events are appended to the execution's ("Redriven executions
//!   append their event history to the existing event history"), starting with
//!   `ExecutionRedriven` ([ExecutionRedrivenEventDetails]: its `redriveCount`), and count against
//!   the same cap.
//!
//! Not here, because the runner has no such thing: Map and Distributed Map (Map Runs and their
//! `PENDING_REDRIVE` child executions; the runner refuses Map states), `ABORTED` executions (there
//! is no StopExecution locally) and Express workflows.
//!
//! [RedriveExecution]: https://docs.aws.amazon.com/step-functions/latest/apireference/API_RedriveExecution.html
//! [redrive-executions]: https://docs.aws.amazon.com/step-functions/latest/dg/redrive-executions.html
//! [redrive-map-run]: https://docs.aws.amazon.com/step-functions/latest/dg/redrive-map-run.html
//! [DescribeExecution]: https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeExecution.html
//! [ExecutionRedrivenEventDetails]: https://docs.aws.amazon.com/step-functions/latest/apireference/API_ExecutionRedrivenEventDetails.html
//! [context object]: https://docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::definition::{Body, Machine};
use crate::{AslError, Definition};

/// How long after it stopped an execution stays redrivable.
const REDRIVABLE_DAYS: i64 = 14;
/// An execution's maximum open time, from its start.
const MAX_OPEN_DAYS: i64 = 365;

/// An execution's status when it closed, as DescribeExecution names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    Succeeded,
    Failed,
    /// The state machine's TimeoutSeconds ran out.
    TimedOut,
}

/// What a closed execution leaves for a redrive. Serializable, so a caller can keep it with the
/// run it belongs to and redrive later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionRecord {
    pub execution_name: String,
    /// As [`RunOptions::state_machine_name`](crate::RunOptions::state_machine_name) gave it.
    pub state_machine_name: String,
    /// SHA-256 of the definition text the execution ran.
    pub definition_digest: String,
    pub input: Value,
    pub start_time: DateTime<Utc>,
    pub stop_time: DateTime<Utc>,
    pub status: ExecutionStatus,
    /// `redriveCount`: 0 until the execution is redriven.
    pub redrive_count: u32,
    /// `redriveDate`: when the latest redrive started.
    pub redrive_time: Option<DateTime<Utc>>,
    /// History entries so far, every attempt included.
    pub history_events: usize,
    /// The history cap the execution runs under (AWS's is 25,000).
    pub history_limit: usize,
    /// Where the top-level machine stopped; `None` for a succeeded execution.
    pub stopped_in: Option<Position>,
}

/// The unsuccessful state of one machine (the top level, or a Parallel branch): entered, never
/// exited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Position {
    pub state: String,
    /// The state's raw input (before InputPath).
    pub input: Value,
    /// For a Parallel state, each branch as it was when the state stopped; `None` reruns every
    /// branch (the state had not started its branches, or failed with States.DataLimitExceeded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branches: Option<Vec<Branch>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "branch", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Branch {
    /// Kept as it is: a redrive does not rerun it.
    Succeeded { output: Value },
    /// Failed or aborted in this state.
    Unsuccessful(Position),
    /// Never entered a state: a redrive starts it from its StartAt.
    NotStarted,
}

impl ExecutionRecord {
    /// Whether `definition` may redrive this execution at `at`: `Err` is
    /// [`AslError::NotRedrivable`] with AWS's reason, or [`AslError::Record`] for a record that
    /// names states the definition does not have.
    pub fn check_redrivable(&self, definition: &Definition, at: DateTime<Utc>) -> Result<(), AslError> {
        let refuse = |reason: String| Err(AslError::NotRedrivable { execution: self.execution_name.clone(), reason });
        let launch = Utc.with_ymd_and_hms(2023, 11, 15, 0, 0, 0).single().expect("a valid date");
        if self.status == ExecutionStatus::Succeeded {
            return refuse("Execution is SUCCEEDED and cannot be redriven.".into());
        }
        let Some(stopped_in) = &self.stopped_in else {
            return Err(AslError::Record { message: format!("the {:?} execution does not say where it stopped", self.status) });
        };
        if self.start_time < launch {
            return refuse("Execution was started before the launch of RedriveExecution.".into());
        }
        if self.history_events + 1 >= self.history_limit {
            return refuse("Execution history event limit exceeded.".into());
        }
        if at < self.stop_time {
            return refuse(format!("the redrive time {at} is before the execution stopped ({})", self.stop_time));
        }
        if at - self.start_time >= chrono::Duration::days(MAX_OPEN_DAYS) {
            return refuse("Execution has exceeded the max execution time.".into());
        }
        if at - self.stop_time > chrono::Duration::days(REDRIVABLE_DAYS) {
            return refuse("Execution redrivable period exceeded.".into());
        }
        if self.definition_digest != definition.digest {
            return refuse(
                "it ran another state machine definition; a redrive uses the definition the execution started with, so start a new execution"
                    .into(),
            );
        }
        check_position(&definition.machine, stopped_in)
    }
}

/// Every state a position names exists where it says, and a Parallel's branches match.
fn check_position(machine: &Machine, position: &Position) -> Result<(), AslError> {
    let name = &position.state;
    let refuse = |message: String| Err(AslError::Record { message });
    let Some(state) = machine.states.get(name) else {
        return refuse(format!("it stops in state '{name}', which this machine does not have"));
    };
    match (&state.body, &position.branches) {
        (_, None) => Ok(()),
        (Body::Parallel(parallel), Some(branches)) if branches.len() == parallel.branches.len() => {
            parallel.branches.iter().zip(branches).try_for_each(|(machine, branch)| match branch {
                Branch::Unsuccessful(position) => check_position(machine, position),
                Branch::Succeeded { .. } | Branch::NotStarted => Ok(()),
            })
        }
        (Body::Parallel(parallel), Some(branches)) => {
            refuse(format!("it has {} branches for Parallel state '{name}', which has {}", branches.len(), parallel.branches.len()))
        }
        (_, Some(_)) => refuse(format!("it has branches for state '{name}', a {} state", state.kind())),
    }
}
