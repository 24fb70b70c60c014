//! `rehearsal asl …`: tools for any ASL definition, one module each ([`asl_run`](crate::asl_run),
//! [`asl_diagram`](crate::asl_diagram)).

use crate::asl_diagram::AslDiagramCommand;
use crate::asl_run::AslRunCommand;
use crate::exit::{CliError, Exit};

#[derive(clap::Subcommand)]
pub enum AslCommand {
    /// Run any ASL definition in the local runner with scripted Task results, on a virtual clock,
    /// and print `{"states": [...], "status": ..., "output" | "error", "cause"}` as JSON. Exit
    /// status: 0 succeeded, 1 the execution failed, 2 the definition, script or input was refused
    /// (or the execution to redrive is not redrivable).
    Run(AslRunCommand),
    /// Print a Mermaid flowchart of an ASL definition (Parallel branches side by side, Choice
    /// rules as labelled edges, Catch edges dashed), in a ```mermaid fence with `--markdown`.
    Diagram(AslDiagramCommand),
}

impl AslCommand {
    pub fn run(self) -> Result<Exit, CliError> {
        match self {
            AslCommand::Run(command) => command.run(),
            AslCommand::Diagram(command) => command.run(),
        }
    }
}
