//! `rehearsal`: parses the command line and runs the subcommand; each lives in its own module of
//! the library (`rehearsal_cli::run`, `plan`, `remote`, `asl`) and answers an [`Exit`] or an error.

use clap::{Parser, Subcommand};
use rehearsal_cli::asl::AslCommand;
use rehearsal_cli::bench::BenchCommand;
use rehearsal_cli::exit::Exit;
use rehearsal_cli::plan::PlanCommand;
use rehearsal_cli::remote::RemoteCommand;
use rehearsal_cli::run::RunCommand;
use rehearsal_cli::simulate::SimulateCommand;
use std::process::ExitCode;

/// Rehearse a risky release: copy production into a disposable staging environment, deploy,
/// validate, and roll staging back on any failure.
#[derive(Parser)]
#[command(name = "rehearsal", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the staging pipeline (statemachine/staging.asl.json).
    Run(RunCommand),
    /// Say what a staging run would create, read, take and cost, with read calls only.
    Plan(PlanCommand),
    /// Start, follow, approve and tear down runs in AWS (Step Functions directly, with the
    /// credentials the AWS SDK finds), answering as the API does.
    Remote(RemoteCommand),
    /// Tools for ASL definitions.
    Asl {
        #[command(subcommand)]
        command: AslCommand,
    },
    /// Many staging runs on the simulated account with random faults, durations and concurrent
    /// starts, then promotion or not and teardown, each checked against the invariants.
    Simulate(SimulateCommand),
    /// Benchmarks that print figures (on the simulated account, virtual clock).
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

fn main() -> ExitCode {
    let ended = match Cli::parse().command {
        Command::Run(command) => command.run(),
        Command::Plan(command) => command.run(),
        Command::Remote(command) => command.run(),
        Command::Asl { command } => command.run(),
        Command::Simulate(command) => command.run(),
        Command::Bench { command } => command.run(),
    };
    let exit: Exit = ended.unwrap_or_else(|error| {
        eprintln!("error: {error}");
        error.exit()
    });
    exit.into()
}
