//! The `rehearsal` command's library: the local pipeline (the deployed state machine run by the
//! local runner against the simulated account), the task invoker that calls the step handlers,
//! and the progress display and report.

pub mod invoker;
pub mod local;
pub mod report;
