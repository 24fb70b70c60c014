//! The `rehearsal` command's library: the local pipeline (the deployed state machine run by the
//! local runner against the simulated account), the task invoker that calls the step handlers,
//! the progress display and report, `rehearsal asl run` (any definition with scripted tasks),
//! and the pipeline over the wire (`run --endpoint-url`: the SDK adapters and the real probes).

pub mod asl_run;
pub mod invoker;
pub mod local;
pub mod promote;
pub mod remote;
pub mod report;
pub mod wire;
