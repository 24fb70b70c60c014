//! What every execution of a deployed definition in the local runner shares, whether its tasks
//! call the simulated account (`run --local`, `--then`) or real endpoints (`run --endpoint-url`):
//! the definition with its substitutions, the run document checked before any call, the
//! execution observed by the progress display, and the one error type of them all.

use crate::progress::ProgressObserver;
use crate::report::StateSpan;
use chrono::{DateTime, Utc};
use rehearsal_asl::{Definition, Outcome, RunOptions, TaskInvoker};
use rehearsal_core::naming::run_id;
use rehearsal_core::{RunInput, StepError};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The run document is refused before anything runs.
    #[error("{0}")]
    Input(StepError),
    /// An `--inject-fault` is refused before anything runs.
    #[error("--inject-fault {0}")]
    Fault(String),
    #[error("the state machine definition: {0}")]
    Definition(String),
    /// A client for the calls over the wire could not be built.
    #[error("{0}")]
    Setup(String),
    #[error("the local runner stopped: {0}")]
    Runner(String),
}

impl RunError {
    /// Refused before the first call: nothing ran.
    pub fn is_refusal(&self) -> bool {
        matches!(self, RunError::Input(_) | RunError::Fault(_))
    }
}

/// The run document as the plan step reads it, refused here as it would refuse it.
pub(crate) fn checked_input(document: &Value) -> Result<RunInput, RunError> {
    let input = RunInput::from_json(document.clone()).map_err(RunError::Input)?;
    input.validate().map_err(RunError::Input)?;
    Ok(input)
}

/// The run id the plan will derive from the execution, known here before any call.
pub(crate) fn planned_run_id(input: &RunInput, execution_name: &str, start: DateTime<Utc>) -> String {
    run_id(&input.app, execution_name, start)
}

/// `text` (a definition as deployed) with its `${…}` substitutions filled, parsed.
pub(crate) fn definition(text: &str, substitutions: &BTreeMap<String, String>) -> Result<Definition, RunError> {
    let text = rehearsal_asl::substitute(text, substitutions).map_err(|e| RunError::Definition(e.to_string()))?;
    Definition::parse(&text).map_err(|e| RunError::Definition(e.to_string()))
}

/// An execution as it ended, with every state's span.
pub(crate) struct Executed {
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub elapsed: Duration,
    pub history_events: usize,
    pub states: Vec<StateSpan>,
}

/// Runs `definition` on `input` with `invoker` answering its tasks, printing progress to
/// `progress`.
pub(crate) async fn execute<W: Write>(
    definition: &Definition,
    input: Value,
    invoker: &dyn TaskInvoker,
    options: &RunOptions,
    progress: W,
) -> Result<Executed, RunError> {
    let observer = ProgressObserver::new(options.start_time, progress);
    let execution =
        rehearsal_asl::run(definition, input, invoker, &observer, options).await.map_err(|e| RunError::Runner(e.to_string()))?;
    let (output, error, cause) = match execution.outcome {
        Outcome::Succeeded { output } => (Some(output), None, None),
        Outcome::Failed { error, cause } => (None, Some(error), Some(cause)),
    };
    Ok(Executed { output, error, cause, elapsed: execution.elapsed, history_events: execution.history_events, states: observer.spans() })
}
