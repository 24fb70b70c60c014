//! What a staging run leaves behind for people: one report for the local and the wire runs (the
//! JSON file of `--report`), and the summary printed from it.

use crate::execution::Executed;
use chrono::{DateTime, Utc};
use rehearsal_core::cost::{CostEstimate, RunUsage};
use rehearsal_core::durations::TypicalDurations;
use rehearsal_core::markdown_report::{self, Outcome, StateTiming};
use serde::Serialize;
use serde_json::Value;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Succeeded,
    /// Failed, and the rollback removed everything the run created.
    RolledBack,
    /// Failed without a complete rollback (or before anything was created).
    Failed,
}

impl RunStatus {
    /// Succeeded with an output; rolled back when the rollback finished (RolledBack entered) and
    /// nothing of the run is left; failed otherwise.
    fn of(output: &Option<Value>, states: &[StateSpan], nothing_left: bool) -> Self {
        if output.is_some() {
            RunStatus::Succeeded
        } else if states.iter().any(|s| s.name == "RolledBack") && nothing_left {
            RunStatus::RolledBack
        } else {
            RunStatus::Failed
        }
    }

    fn line(self, error: Option<&str>) -> String {
        match self {
            RunStatus::Succeeded => "SUCCEEDED".to_string(),
            RunStatus::RolledBack => format!("ROLLED BACK after {}", error.unwrap_or("")),
            RunStatus::Failed => format!("FAILED: {}", error.unwrap_or("")),
        }
    }
}

/// One state entered, with times relative to the execution's start (virtual ones locally).
#[derive(Debug, Clone, Serialize)]
pub struct StateSpan {
    pub name: String,
    /// Parallel branch path, e.g. `PrepareStaging/0`; empty at the top level.
    pub path: String,
    pub kind: String,
    pub start_seconds: f64,
    pub end_seconds: Option<f64>,
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
}

/// Each distinct state once: first start, last end and how many times it ran, in start order.
#[derive(Debug, Clone, Serialize)]
pub struct StateSummary {
    pub name: String,
    pub path: String,
    pub first_start_seconds: f64,
    pub last_end_seconds: Option<f64>,
    pub times_entered: usize,
}

pub fn summarize(spans: &[StateSpan]) -> Vec<StateSummary> {
    let mut rows: Vec<StateSummary> = Vec::new();
    for span in spans {
        match rows.iter_mut().find(|r| r.name == span.name && r.path == span.path) {
            Some(row) => {
                row.times_entered += 1;
                row.last_end_seconds = span.end_seconds.or(row.last_end_seconds);
            }
            None => rows.push(StateSummary {
                name: span.name.clone(),
                path: span.path.clone(),
                first_start_seconds: span.start_seconds,
                last_end_seconds: span.end_seconds,
                times_entered: 1,
            }),
        }
    }
    rows
}

/// A staging run as it ended, locally or over the wire.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub status: RunStatus,
    pub run_id: String,
    pub execution_name: String,
    pub started_at: DateTime<Utc>,
    /// How long the execution took: virtual seconds on the simulated account, real ones over
    /// the wire.
    pub seconds: f64,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub output: Option<Value>,
    /// Every state entered, with its start and end.
    pub states: Vec<StateSpan>,
    /// Each state once, in the order first entered.
    pub summary: Vec<StateSummary>,
    pub checks: Vec<Value>,
    pub history_events: usize,
    /// Where it ran, and what the simulated account saw.
    #[serde(flatten)]
    pub account: RunAccount,
}

/// Where a staging run ran.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "account", rename_all = "snake_case")]
pub enum RunAccount {
    /// The simulated account, whose ledger knows every call, resource and production write.
    Simulated(Box<AccountRecord>),
    /// AWS, or an emulator, over the wire: nothing keeps a ledger (the rollback's own checks
    /// answer what is left), and every Wait state's `Seconds` was divided by `wait_scale`.
    OverTheWire { wait_scale: u32 },
}

/// What the simulated account recorded during a run.
#[derive(Debug, Clone, Serialize)]
pub struct AccountRecord {
    pub resources_created: Value,
    pub resources_deleted: Value,
    pub production_writes: Value,
    /// Resources this run created that still exist.
    pub leftovers: Vec<String>,
    pub faults_injected: Vec<String>,
    pub faults_fired: Value,
    pub aws_calls: usize,
}

impl RunReport {
    /// The report of the staging execution `executed`, named `execution_name`, of run `run_id`.
    pub(crate) fn new(executed: Executed, run_id: String, execution_name: String, started_at: DateTime<Utc>, account: RunAccount) -> Self {
        let nothing_left = match &account {
            RunAccount::Simulated(record) => record.leftovers.is_empty(),
            // Without a ledger, "rolled back" is what the state machine says: RolledBack is
            // entered only once the rollback step found nothing of the run left.
            RunAccount::OverTheWire { .. } => true,
        };
        RunReport {
            status: RunStatus::of(&executed.output, &executed.states, nothing_left),
            run_id,
            execution_name,
            started_at,
            seconds: executed.elapsed.as_secs_f64(),
            checks: checks_of(&executed.output),
            error: executed.error,
            cause: executed.cause,
            output: executed.output,
            summary: summarize(&executed.states),
            states: executed.states,
            history_events: executed.history_events,
            account,
        }
    }

    /// The simulated account's record; `None` over the wire.
    pub fn ledger(&self) -> Option<&AccountRecord> {
        match &self.account {
            RunAccount::Simulated(record) => Some(record),
            RunAccount::OverTheWire { .. } => None,
        }
    }

    /// The report as `--report-md` writes it ([`markdown_report::render`]), with `cost` when
    /// it is known: resources and production writes come from the ledger (a local run's).
    pub fn markdown(&self, cost: Option<CostEstimate>) -> String {
        let output = self.output.as_ref();
        let ledger = self.ledger();
        let records = |value: Option<&Value>| value.and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default();
        let writes = ledger.and_then(|l| l.production_writes.as_array()).into_iter().flatten();
        markdown_report::render(&markdown_report::RunReport {
            run_id: self.run_id.clone(),
            execution_name: self.execution_name.clone(),
            outcome: match self.status {
                RunStatus::Succeeded => Outcome::Succeeded,
                RunStatus::RolledBack => Outcome::RolledBack,
                RunStatus::Failed => Outcome::Failed,
            },
            error: self.error.clone(),
            cause: self.cause.clone(),
            started_at: self.started_at,
            seconds: self.seconds,
            ran_on: match &self.account {
                RunAccount::Simulated(_) => "the simulated account, virtual clock".into(),
                RunAccount::OverTheWire { wait_scale } => format!("AWS APIs over the wire, waits divided by {wait_scale}"),
            },
            states: self
                .states
                .iter()
                .map(|s| StateTiming { name: s.name.clone(), path: s.path.clone(), kind: s.kind.clone(), start: s.start, end: s.end })
                .collect(),
            checks: self.checks.iter().filter_map(|c| serde_json::from_value(c.clone()).ok()).collect(),
            resources_created: records(ledger.map(|l| &l.resources_created)),
            resources_deleted: records(ledger.map(|l| &l.resources_deleted)),
            leftovers: ledger.map(|l| l.leftovers.clone()).unwrap_or_default(),
            production_writes: writes.map(|w| format!("{} ({} by {})", w["resource"], w["operation"], w["step"])).collect(),
            staging_url: output.and_then(|o| o["staging_url"].as_str()).map(str::to_string),
            release: output.and_then(|o| serde_json::from_value(o["release"].clone()).ok()),
            teardown_at: output.and_then(|o| serde_json::from_value(o["teardown"]["at"].clone()).ok()),
            warm_up: output.and_then(prewarm_line),
            cost,
            next_steps: Vec::new(),
        })
    }

    /// What this execution used once, for its cost: every state entered, every Task.
    pub fn usage(&self) -> RunUsage {
        let tasks = self.states.iter().filter(|s| s.kind == "Task").count() as u64;
        RunUsage::of_execution(self.states.len() as u64, tasks, TypicalDurations::aws().default_task().as_secs_f64())
    }

    /// The table of states, the resources (locally), the checks, the outcome and where staging
    /// is (or what it left behind); `wall` is how long the command took.
    pub fn print_summary(&self, wall: std::time::Duration) {
        print_states(&self.summary);
        println!();
        if let Some(ledger) = self.ledger() {
            println!(
                "resources created: {}, deleted: {}, production writes: {}, left behind: {}",
                count(&ledger.resources_created),
                count(&ledger.resources_deleted),
                count(&ledger.production_writes),
                ledger.leftovers.len()
            );
        }
        print_checks(&self.checks);
        if let Some(line) = self.output.as_ref().and_then(masking_line) {
            println!("{line}");
        }
        if let Some(line) = self.output.as_ref().and_then(prewarm_line) {
            println!("{line}");
        }
        let status = self.status.line(self.error.as_deref());
        match self.ledger() {
            Some(_) => println!("\n{status} — run {} in {} virtual ({:.1} s wall)", self.run_id, clock(self.seconds), wall.as_secs_f64()),
            None => println!("\n{status} — run {} in {:.1} s", self.run_id, self.seconds),
        }
        if let Some(cause) = &self.cause {
            println!("cause: {cause}");
        }
        let output = self.output.as_ref().filter(|_| self.status == RunStatus::Succeeded);
        let url = output.map_or("", |o| o["staging_url"].as_str().unwrap_or(""));
        let teardown_at = output.and_then(|o| o.pointer("/teardown/at"));
        match (self.ledger(), output) {
            (Some(ledger), Some(_)) if teardown_at.is_some() => {
                let at = teardown_at.and_then(Value::as_str).unwrap_or_default();
                println!("staging is up at {url} until its teardown at {at}:");
                for resource in &ledger.leftovers {
                    println!("  {resource}");
                }
            }
            (Some(ledger), _) if !ledger.leftovers.is_empty() => println!("LEFT BEHIND: {}", ledger.leftovers.join(", ")),
            (None, Some(_)) => {
                let at = teardown_at.and_then(Value::as_str).unwrap_or("its scheduled teardown");
                println!("staging is up at {url} until {at}");
            }
            _ => {}
        }
    }
}

/// `+hh:mm:ss` of time since the start.
pub fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0) as u64;
    format!("+{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// How many entries a JSON list of records has.
pub(crate) fn count(records: &Value) -> usize {
    records.as_array().map_or(0, Vec::len)
}

pub(crate) fn print_states(summary: &[StateSummary]) {
    println!();
    println!("{:<34} {:>10} {:>10} {:>6}", "state", "start", "end", "runs");
    for state in summary {
        let indent = "  ".repeat(state.path.matches('/').count());
        let end = state.last_end_seconds.map_or("-".to_string(), clock);
        println!(
            "{:<34} {:>10} {:>10} {:>6}",
            format!("{indent}{}", state.name),
            clock(state.first_start_seconds),
            end,
            state.times_entered
        );
    }
}

fn print_checks(checks: &[Value]) {
    let passed = checks.iter().filter(|c| c.get("passed") == Some(&Value::Bool(true))).count();
    println!("checks passed: {passed}/{}", checks.len());
    for check in checks {
        let mark = if check.get("passed") == Some(&Value::Bool(true)) { "ok " } else { "FAIL" };
        println!("  {mark} {} — {}", check["name"].as_str().unwrap_or(""), check["found"].as_str().unwrap_or(""));
    }
}

/// What the masking step did, from the Summary's `masking`: tables, columns, rows, time.
fn masking_line(output: &Value) -> Option<String> {
    let masking = output.get("masking")?;
    if masking["enabled"] == Value::Bool(false) {
        return Some("masking: OFF (masking.enabled: false): staging holds production's person data".into());
    }
    let tables: Vec<String> = masking["tables"]
        .as_array()?
        .iter()
        .map(|t| {
            let names =
                |k: &str| t[k].as_array().map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default();
            let columns: Vec<String> = [names("columns"), names("already_masked")]
                .into_iter()
                .zip(["", "already masked: "])
                .filter(|(list, _)| !list.is_empty())
                .map(|(list, label)| format!("{label}{list}"))
                .collect();
            format!("{} ({}): {} rows, {} kept", t["table"].as_str().unwrap_or("?"), columns.join("; "), t["rows_masked"], t["rows_kept"])
        })
        .collect();
    Some(format!("masked {} rows in {} s: {}", masking["rows_masked"], masking["seconds"], tables.join("; ")))
}

/// What the warm-up did, from the Summary's `prewarm`: the sample query before and after, and
/// each table read (`None` when it was off: the copy is as cold as RDS restored it).
fn prewarm_line(output: &Value) -> Option<String> {
    let prewarm = output.get("prewarm").filter(|p| p["enabled"] == Value::Bool(true))?;
    let tables: Vec<String> = prewarm["tables"]
        .as_array()?
        .iter()
        .map(|t| {
            let mib = t["bytes"].as_u64().unwrap_or(0) / (1 << 20);
            let cut = if t["complete"] == Value::Bool(false) { ", cut short" } else { "" };
            format!("{} ({mib} MiB, {}, {} ms{cut})", t["table"].as_str().unwrap_or("?"), t["method"].as_str().unwrap_or("?"), t["millis"])
        })
        .collect();
    let limit = if prewarm["time_limit_reached"] == Value::Bool(true) { " (time limit reached)" } else { "" };
    Some(format!(
        "warmed {} table(s){limit}: first query on {} {} ms before, {} ms after: {}",
        tables.len(),
        prewarm["sample_table"].as_str().unwrap_or("(no table)"),
        prewarm["first_query_ms_before"],
        prewarm["first_query_ms_after"],
        tables.join("; ")
    ))
}

/// Every check in the Summary's `checks` groups.
fn checks_of(output: &Option<Value>) -> Vec<Value> {
    output
        .as_ref()
        .and_then(|o| o.get("checks"))
        .and_then(Value::as_object)
        .map(|groups| groups.values().filter_map(Value::as_array).flatten().cloned().collect())
        .unwrap_or_default()
}

/// Writes `report` as JSON to `path` (`--report`), saying where; a failure to write is said and
/// does not change the run's exit status.
/// Writes the Markdown report to `path`, saying where (or why not).
pub fn write_markdown(text: &str, path: &Path) {
    match std::fs::write(path, text) {
        Ok(()) => println!("report (Markdown): {}", path.display()),
        Err(e) => eprintln!("error: --report-md {}: {e}", path.display()),
    }
}

pub fn write_report<R: Serialize>(report: &R, path: Option<&Path>) {
    if let Some(path) = path {
        match serde_json::to_string_pretty(report).map(|json| std::fs::write(path, json + "\n")) {
            Ok(Ok(())) => println!("report: {}", path.display()),
            Ok(Err(e)) => eprintln!("error: --report {}: {e}", path.display()),
            Err(e) => eprintln!("error: report: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_masking_line_lists_tables_columns_rows_and_time_or_says_masking_was_off() {
        let output = json!({"masking": {"enabled": true, "rows_masked": 13, "seconds": 4, "tables": [
            {"table": "auth_user", "columns": ["email", "username"], "already_masked": [], "rows_masked": 2, "rows_kept": 1},
            {"table": "core_shareholder", "columns": [], "already_masked": ["name"], "rows_masked": 0, "rows_kept": 0}]}});
        assert_eq!(
            masking_line(&output).unwrap(),
            "masked 13 rows in 4 s: auth_user (email, username): 2 rows, 1 kept; core_shareholder (already masked: name): 0 rows, 0 kept"
        );
        assert!(masking_line(&json!({"masking": {"enabled": false}})).unwrap().starts_with("masking: OFF"));
        assert_eq!(masking_line(&json!({})), None);
    }

    #[test]
    fn the_prewarm_line_gives_the_latency_before_and_after_and_each_table_or_nothing_when_off() {
        let output = json!({"prewarm": {"enabled": true, "sample_table": "core_shareholder", "first_query_ms_before": 1550,
            "first_query_ms_after": 50, "time_limit_reached": true, "tables": [
            {"table": "core_shareholder", "bytes": 10_485_760u64, "method": "pg-prewarm", "millis": 160, "complete": true},
            {"table": "core_issuer", "bytes": 2_097_152u64, "method": "sequential-read", "millis": 30, "complete": false}]}});
        assert_eq!(
            prewarm_line(&output).unwrap(),
            "warmed 2 table(s) (time limit reached): first query on core_shareholder 1550 ms before, 50 ms after: \
             core_shareholder (10 MiB, pg-prewarm, 160 ms); core_issuer (2 MiB, sequential-read, 30 ms, cut short)"
        );
        assert_eq!(prewarm_line(&json!({"prewarm": {"enabled": false}})), None);
        assert_eq!(prewarm_line(&json!({})), None);
    }
}
