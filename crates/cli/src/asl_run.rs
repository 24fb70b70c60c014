//! `rehearsal asl run`: any ASL definition in the local runner, with every Task answered from a
//! script (the asl crate's [`ScriptedInvoker`] format) on a paused clock, so Wait states and retry
//! delays pass in virtual time. It answers which states were entered and how the execution ended.

use crate::exit::{CliError, Exit};
use crate::input::read_json;
use rehearsal_asl::{AslError, Definition, Event, Observer, Outcome, RunOptions, ScriptedInvoker};
use serde::Serialize;
use serde_json::Value;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(clap::Subcommand)]
pub enum AslCommand {
    /// Run any ASL definition in the local runner with scripted Task results, on a virtual clock,
    /// and print `{"states": [...], "status": ..., "output" | "error", "cause"}` as JSON. Exit
    /// status: 0 succeeded, 1 the execution failed, 2 the definition, script or input was refused.
    Run(AslRunCommand),
}

impl AslCommand {
    pub fn run(self) -> Result<Exit, CliError> {
        match self {
            AslCommand::Run(command) => command.run(),
        }
    }
}

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
        let result = run_paused(&request, &RunOptions::default()).map_err(|e| CliError::Refused(e.to_string()))?;
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
        if let Event::StateEntered { path, name, .. } = event {
            let entry = if path.is_empty() { name.clone() } else { format!("{path}/{name}") };
            self.0.borrow_mut().push(entry);
        }
    }
}

/// Runs `run`; call it on a current-thread runtime with paused time (see [`run_paused`]).
/// `Err` is the runner's refusal (invalid or unsupported definition, a missing substitution, a
/// malformed script, the history cap); an execution that fails is `Ok` with status FAILED.
pub async fn run(run: &AslRun, options: &RunOptions) -> Result<AslRunResult, AslError> {
    let text = rehearsal_asl::substitute(&run.definition, &run.substitutions)?;
    let definition = Definition::parse(&text)?;
    let tasks = ScriptedInvoker::from_json(&run.tasks)?;
    let entered = EnteredStates::default();
    let execution = rehearsal_asl::run(&definition, run.input.clone(), &tasks, &entered, options).await?;
    let (status, output, error, cause) = match execution.outcome {
        Outcome::Succeeded { output } => (ExecutionStatus::Succeeded, Some(output), None, None),
        Outcome::Failed { error, cause } => (ExecutionStatus::Failed, None, Some(error), Some(cause)),
    };
    Ok(AslRunResult { states: entered.0.take(), status, output, error, cause, unused_replies: tasks.unused() })
}

/// [`run`] on a fresh paused current-thread runtime.
pub fn run_paused(asl_run: &AslRun, options: &RunOptions) -> Result<AslRunResult, AslError> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().expect("a tokio runtime");
    runtime.block_on(run(asl_run, options))
}
