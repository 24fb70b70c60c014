//! `rehearsal run --local`: the deployed `staging.asl.json`, executed by the local runner with
//! the step handlers in-process against the simulated account, on a virtual clock.

use crate::invoker::{local_substitutions, StepInvoker};
use crate::report::{summarize, ProgressObserver, StateSpan, StepSummary};
use chrono::{DateTime, Utc};
use rehearsal_asl::{Definition, Outcome, RunOptions};
use rehearsal_core::naming::default_run_id;
use rehearsal_core::steps::Step;
use rehearsal_core::{RunInput, StepError};
use rehearsal_sim::{Fault, SimAccount};
use serde::Serialize;
use serde_json::Value;
use std::io::Write;

/// The staging definition, as deployed.
pub const STAGING_DEFINITION: &str = include_str!("../../../statemachine/staging.asl.json");

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// The run document is refused before anything runs.
    #[error("{0}")]
    Input(StepError),
    #[error("--inject-fault {0}")]
    Fault(String),
    #[error("the state machine definition: {0}")]
    Definition(String),
    #[error("the local runner stopped: {0}")]
    Runner(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Succeeded,
    /// Failed, and the rollback removed everything the run created.
    RolledBack,
    /// Failed without a complete rollback (or before anything was created).
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub status: RunStatus,
    pub run_id: String,
    pub execution_name: String,
    pub started_at: DateTime<Utc>,
    pub virtual_seconds: f64,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub output: Option<Value>,
    /// Every state entered, with virtual start and end.
    pub states: Vec<StateSpan>,
    /// Each state once, in the order first entered.
    pub steps: Vec<StepSummary>,
    pub checks: Vec<Value>,
    pub resources_created: Value,
    pub resources_deleted: Value,
    pub production_writes: Value,
    /// Resources this run created that still exist.
    pub leftovers: Vec<String>,
    pub faults_injected: Vec<String>,
    pub faults_fired: Value,
    pub aws_calls: usize,
    pub history_events: usize,
}

pub struct LocalRun {
    pub input: Value,
    pub faults: Vec<String>,
    pub start_time: DateTime<Utc>,
    pub execution_name: String,
}

/// Parses `STEP=KIND`, naming what is wrong; the step must be one of the pipeline's.
pub fn parse_fault(text: &str) -> Result<Fault, LocalError> {
    let fault: Fault = text.parse().map_err(|e| LocalError::Fault(format!("{text:?}: {e}")))?;
    if Step::from_name(&fault.step).is_none() {
        let steps: Vec<&str> = Step::ALL.iter().map(|s| s.name()).collect();
        return Err(LocalError::Fault(format!("{text:?}: unknown step {:?}; steps are {}", fault.step, steps.join(", "))));
    }
    Ok(fault)
}

/// The run id the plan will choose, known here before any call for the leftovers check.
pub(crate) fn planned_run_id(input: &RunInput, start: DateTime<Utc>) -> String {
    input.run_id.clone().unwrap_or_else(|| default_run_id(&input.app, input.run_date.unwrap_or(start.date_naive())))
}

/// Runs the pipeline on `account`; must be called on a current-thread runtime with paused
/// time, so the definition's waits pass in virtual time. Bad input and bad fault specs are
/// refused before the account sees a single call.
pub async fn run_on<W: Write>(account: &SimAccount, run: LocalRun, progress: W) -> Result<Report, LocalError> {
    let input = RunInput::from_json(run.input.clone()).map_err(LocalError::Input)?;
    input.validate().map_err(LocalError::Input)?;
    let faults = run.faults.iter().map(|f| parse_fault(f)).collect::<Result<Vec<_>, _>>()?;
    let text = rehearsal_asl::substitute(STAGING_DEFINITION, &local_substitutions()).map_err(|e| LocalError::Definition(e.to_string()))?;
    let definition = Definition::parse(&text).map_err(|e| LocalError::Definition(e.to_string()))?;

    for fault in faults {
        account.inject(fault);
    }
    let invoker = StepInvoker::new(|step: Step| account.session(step.name()));
    let observer = ProgressObserver::new(run.start_time, progress);
    let options = RunOptions { execution_name: run.execution_name.clone(), start_time: run.start_time, ..RunOptions::default() };
    let execution =
        rehearsal_asl::run(&definition, run.input, &invoker, &observer, &options).await.map_err(|e| LocalError::Runner(e.to_string()))?;

    let run_id = planned_run_id(&input, run.start_time);
    let ledger = account.ledger();
    let leftovers = account.leftovers(&run_id);
    let states = observer.spans();
    let (error, cause, output) = match execution.outcome {
        Outcome::Succeeded { output } => (None, None, Some(output)),
        Outcome::Failed { error, cause } => (Some(error), Some(cause), None),
    };
    let status = run_status(&output, &states, leftovers.is_empty());
    let checks = checks_of(&output);
    Ok(Report {
        status,
        run_id,
        execution_name: run.execution_name,
        started_at: run.start_time,
        virtual_seconds: execution.elapsed.as_secs_f64(),
        error,
        cause,
        output,
        steps: summarize(&states),
        states,
        checks,
        resources_created: to_json(&ledger.created),
        resources_deleted: to_json(&ledger.deleted),
        production_writes: to_json(&ledger.production_writes),
        leftovers,
        faults_injected: run.faults,
        faults_fired: to_json(&ledger.faults_fired),
        aws_calls: ledger.calls.len(),
        history_events: execution.history_events,
    })
}

/// Succeeded with an output; rolled back when the rollback finished (RolledBack entered) and
/// nothing of the run is left; failed otherwise.
pub(crate) fn run_status(output: &Option<Value>, states: &[StateSpan], nothing_left: bool) -> RunStatus {
    if output.is_some() {
        RunStatus::Succeeded
    } else if states.iter().any(|s| s.name == "RolledBack") && nothing_left {
        RunStatus::RolledBack
    } else {
        RunStatus::Failed
    }
}

/// Every check in the Summary's `checks` groups.
pub(crate) fn checks_of(output: &Option<Value>) -> Vec<Value> {
    output
        .as_ref()
        .and_then(|o| o.get("checks"))
        .and_then(Value::as_object)
        .map(|groups| groups.values().filter_map(Value::as_array).flatten().cloned().collect())
        .unwrap_or_default()
}

/// Ledger records are `Serialize`; the report keeps them as JSON.
fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or_default()
}
