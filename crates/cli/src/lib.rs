//! The `rehearsal` command's library, one module per subcommand (`main.rs` parses and dispatches):
//!
//! * [`run`]: `rehearsal run`, the staging pipeline on the simulated account ([`local`], then
//!   [`follow_up`] for `--then`) or over the wire ([`wire`]), all executed by the local runner
//!   ([`execution`]) with the step handlers as its tasks ([`invoker`]); the progress display
//!   ([`progress`]) and the report and its summary ([`report`]).
//! * [`plan`]: `rehearsal plan`, what a run would create, read, take and cost, from read calls only.
//! * [`remote`]: `rehearsal remote …`, the deployed state machines through the API's handler.
//! * [`asl`]: `rehearsal asl …`: [`asl_run`], any definition with scripted tasks; [`asl_diagram`],
//!   its Mermaid flowchart.
//! * [`exit`]: the documented exit statuses and the errors that map to them.

pub mod asl;
pub mod asl_diagram;
pub mod asl_run;
pub mod bench;
pub mod execution;
pub mod exit;
pub mod follow_up;
mod input;
pub mod invoker;
pub mod local;
pub mod plan;
pub mod progress;
pub mod remote;
pub mod report;
pub mod run;
pub mod simulate;
pub mod wire;
