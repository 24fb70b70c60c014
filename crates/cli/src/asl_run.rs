//! `rehearsal asl run`: any ASL definition in the local runner, with every Task answered from a
//! script (the asl crate's [`ScriptedInvoker`] format) on a paused clock, so Wait states and retry
//! delays pass in virtual time. It answers which states were entered and how the execution ended;
//! `--record` keeps the execution's record and `--redrive` redrives an unsuccessful one from it.

use crate::exit::{CliError, Exit};
use crate::input::read_json;
use chrono::Utc;
use rehearsal_asl::{AslError, Definition, Event, Execution, ExecutionRecord, Observer, Outcome, RunOptions, ScriptedInvoker};
use serde::Serialize;
use serde_json::Value;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;

/// Runs any ASL definition in the local runner with scripted Task results, on a virtual clock,
/// and prints `{"states": [...], "status": ..., "output" | "error", "cause"}` as JSON. Exit
/// status: 0 succeeded, 1 the execution failed, 2 the definition, script or input was refused
/// (or the execution to redrive is not redrivable).
#[derive(clap::Args)]
pub struct AslRunCommand {
    /// The ASL (JSONPath) definition file.
    definition: PathBuf,
    /// The execution input (JSON); defaults to `{}`.
    #[arg(long)]
    input: Option<PathBuf>,
    /// Task results per resource, in call order:
    /// `{"<resource>": [{"result": ...} | {"error": "Name", "cause": "text"}]}`; defaults to `{}`.
    #[arg(long)]
    tasks: Option<PathBuf>,
    /// A value for a `${KEY}` placeholder in the definition. Repeatable.
    #[arg(long = "substitute", value_name = "KEY=VALUE", value_parser = parse_substitution)]
    substitute: Vec<(String, String)>,
    /// Write the execution's record (what a redrive needs) to this file.
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    /// Redrive the unsuccessful execution a `--record` file holds, as Step Functions'
    /// RedriveExecution does (same definition, same input), with `--tasks` answering the redrive.
    #[arg(long, value_name = "FILE", conflicts_with = "input")]
    redrive: Option<PathBuf>,
}

impl AslRunCommand {
    /// Prints the result as JSON (and a note per unused scripted result on stderr); the exit
    /// status is the execution's.
    pub fn run(self) -> Result<Exit, CliError> {
        let definition =
            std::fs::read_to_string(&self.definition).map_err(|e| CliError::Refused(format!("{}: {e}", self.definition.display())))?;
        let request = AslRun {
            definition,
            input: read_json("--input", self.input.as_deref())?,
            tasks: read_json("--tasks", self.tasks.as_deref())?,
            substitutions: self.substitute.into_iter().collect(),
        };
        let result = match &self.redrive {
            None => run_paused(&request, &RunOptions::default()),
            Some(path) => {
                let record = serde_json::from_value(read_json("--redrive", Some(path))?)
                    .map_err(|e| CliError::Refused(format!("--redrive {} is not an execution record: {e}", path.display())))?;
                redrive_paused(&request, &record)
            }
        }
        .map_err(|e| CliError::Refused(e.to_string()))?;
        if let Some(path) = &self.record {
            let json =
                serde_json::to_string_pretty(&result.record).map_err(|e| CliError::Failed(format!("the record is not JSON: {e}")))?;
            std::fs::write(path, json).map_err(|e| CliError::Failed(format!("--record {}: {e}", path.display())))?;
        }
        for (resource, left) in &result.unused_replies {
            eprintln!("note: {left} scripted result(s) for {resource} were not used");
        }
        let json = serde_json::to_string_pretty(&result).map_err(|e| CliError::Failed(format!("the result is not JSON: {e}")))?;
        println!("{json}");
        Ok(match result.status {
            ExecutionStatus::Succeeded => Exit::Succeeded,
            ExecutionStatus::Failed => Exit::Failed,
        })
    }
}

/// One `rehearsal asl run`.
#[derive(Debug, Clone)]
pub struct AslRun {
    /// The definition's text, before substitution.
    pub definition: String,
    pub input: Value,
    /// `{"<resource>": [{"result": ...} | {"error": "Name", "cause": "text"}, ...]}`.
    pub tasks: Value,
    /// Values for the definition's `${KEY}` placeholders (SAM's DefinitionSubstitutions).
    pub substitutions: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    Succeeded,
    Failed,
}

/// What the command prints: `output` when it succeeded, `error` and `cause` when it failed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AslRunResult {
    /// Every state entered, in order; a state inside a Parallel branch is prefixed with the
    /// branch path (`Prepare/0/Snapshot` for branch 0 of Parallel `Prepare`).
    pub states: Vec<String>,
    pub status: ExecutionStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// Scripted replies no call consumed, per resource: usually a script that does not match
    /// the path the execution took. Not part of the printed JSON.
    #[serde(skip)]
    pub unused_replies: BTreeMap<String, usize>,
    /// What a redrive of the execution needs (`--record`). Not part of the printed JSON.
    #[serde(skip)]
    pub record: ExecutionRecord,
}

/// Parses `KEY=VALUE` of `--substitute`.
pub fn parse_substitution(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("{text:?} is not KEY=VALUE")),
    }
}

/// Keeps the entered states' names as they are reported.
#[derive(Default)]
struct EnteredStates(RefCell<Vec<String>>);

impl Observer for EnteredStates {
    fn on_event(&self, event: &Event) {
        if let Some(state) = event.entered_state() {
            self.0.borrow_mut().push(state);
        }
    }
}

/// Runs `run`; call it on a current-thread runtime with paused time (see [`run_paused`]).
/// `Err` is the runner's refusal (invalid or unsupported definition, a missing substitution, a
/// malformed script, the history cap); an execution that fails is `Ok` with status FAILED.
pub async fn run(run: &AslRun, options: &RunOptions) -> Result<AslRunResult, AslError> {
    let (definition, tasks) = prepare(run)?;
    let entered = EnteredStates::default();
    let execution = rehearsal_asl::run(&definition, run.input.clone(), &tasks, &entered, options).await?;
    Ok(result(execution, entered, &tasks))
}

/// Redrives the execution `record` describes with `run`'s definition and scripted tasks (its
/// input is the execution's: `run.input` is not used), as soon as the execution stopped or now,
/// whichever is later. `states` lists what the redrive entered. `Err` adds
/// [`AslError::NotRedrivable`] to [`run`]'s refusals.
pub async fn redrive(run: &AslRun, record: &ExecutionRecord) -> Result<AslRunResult, AslError> {
    let (definition, tasks) = prepare(run)?;
    let entered = EnteredStates::default();
    let execution = rehearsal_asl::redrive(&definition, record, &tasks, &entered, record.stop_time.max(Utc::now())).await?;
    Ok(result(execution, entered, &tasks))
}

fn prepare(run: &AslRun) -> Result<(Definition, ScriptedInvoker), AslError> {
    let text = rehearsal_asl::substitute(&run.definition, &run.substitutions)?;
    Ok((Definition::parse(&text)?, ScriptedInvoker::from_json(&run.tasks)?))
}

fn result(execution: Execution, entered: EnteredStates, tasks: &ScriptedInvoker) -> AslRunResult {
    let (status, output, error, cause) = match execution.outcome {
        Outcome::Succeeded { output } => (ExecutionStatus::Succeeded, Some(output), None, None),
        Outcome::Failed { error, cause } => (ExecutionStatus::Failed, None, Some(error), Some(cause)),
    };
    AslRunResult { states: entered.0.take(), status, output, error, cause, unused_replies: tasks.unused(), record: execution.record }
}

/// [`run`] on a fresh paused current-thread runtime.
pub fn run_paused(asl_run: &AslRun, options: &RunOptions) -> Result<AslRunResult, AslError> {
    paused(run(asl_run, options))
}

/// [`redrive`] on a fresh paused current-thread runtime.
pub fn redrive_paused(asl_run: &AslRun, record: &ExecutionRecord) -> Result<AslRunResult, AslError> {
    paused(redrive(asl_run, record))
}

fn paused<F: Future>(future: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().expect("a tokio runtime");
    runtime.block_on(future)
}
