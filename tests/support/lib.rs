//! Shared helpers for the end-to-end tests: run the real `statemachine/staging.asl.json` on the
//! simulated account with a virtual clock; moto's server ([`moto`]) and a small loopback HTTP
//! server for in-test fakes ([`http`]).

pub mod http;
pub use rehearsal_moto as moto;
pub mod promotion;

use chrono::{DateTime, TimeZone, Utc};
use rehearsal_cli::execution::RunError;
use rehearsal_cli::local::{run_on, LocalRun};
use rehearsal_cli::report::RunReport;
use rehearsal_sim::{SimAccount, SimConfig};
use serde_json::Value;

/// A fixed start, so run ids and snapshot names are predictable: `tableicty-20261124`.
pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap()
}

pub const RUN_ID: &str = "tableicty-20261124";

/// The run document the tests rehearse: `{}`, the runbook's defaults, as a console execution
/// started without input sends it.
pub fn run_document() -> Value {
    serde_json::json!({})
}

/// A paused current-thread runtime: waits pass in virtual time.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap()
}

pub fn new_account() -> SimAccount {
    SimAccount::new(SimConfig::default(), start_time())
}

/// Runs the staging pipeline on `account` with the given run document and faults.
pub async fn run_pipeline(account: &SimAccount, input: Value, faults: &[&str]) -> Result<RunReport, RunError> {
    let run =
        LocalRun { input, faults: faults.iter().map(|f| f.to_string()).collect(), start_time: start_time(), execution_name: "test".into() };
    run_on(account, run, std::io::sink()).await
}

/// Names of the states entered, in order, without repeats of loops.
pub fn states_entered(report: &RunReport) -> Vec<String> {
    report.summary.iter().map(|s| s.name.clone()).collect()
}
