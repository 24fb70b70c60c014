//! `rehearsal run`: the staging pipeline on the simulated account (`--local`, optionally followed
//! by `--then promote|teardown`) or over the wire (`--endpoint-url`), its summary, its report.

use crate::exit::{CliError, Exit};
use crate::follow_up::{run_staging_recorded, ApprovalAnswer, Then};
use crate::input::read_json;
use crate::local::{run_on, LocalRun};
use crate::report::{write_markdown, write_report, RunStatus};
use crate::wire::{run_over_the_wire, HostOverrides, WireOptions, WireRun};
use chrono::{DateTime, Timelike, Utc};
use rehearsal_probes::TlsMode;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args)]
pub struct RunCommand {
    /// Run against the simulated AWS account on a virtual clock (no AWS account needed).
    #[arg(long, required_unless_present = "endpoint_url", conflicts_with = "endpoint_url")]
    local: bool,
    /// Run over the wire: RDS, SSM, the Scheduler and Step Functions at this endpoint (moto,
    /// LocalStack), with the region and credentials the AWS SDK finds in the environment.
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
    /// App Runner's endpoint over the wire; default: --endpoint-url.
    #[arg(long, value_name = "URL", conflicts_with = "local")]
    apprunner_endpoint_url: Option<String>,
    /// Stripe's API base URL over the wire (plain http only on loopback); default: Stripe.
    #[arg(long, value_name = "URL", conflicts_with = "local")]
    stripe_api_url: Option<String>,
    /// Over the wire, send the checks' HTTPS requests for HOST (or `*.domain`) as plain HTTP to
    /// this loopback address, with the original Host header: for an emulated app. Repeatable.
    #[arg(long, value_name = "HOST=IP:PORT", conflicts_with = "local", value_parser = HostOverrides::parse_rule)]
    http_host_override: Vec<(String, SocketAddr)>,
    /// Over the wire, connect the SQL checks for HOST (or `*.domain`) to this loopback address:
    /// for an emulated database (e.g. `*.rds.amazonaws.com=127.0.0.1:5432`). Repeatable.
    #[arg(long, value_name = "HOST=IP:PORT", conflicts_with = "local", value_parser = HostOverrides::parse_rule)]
    db_host_override: Vec<(String, SocketAddr)>,
    /// TLS of the SQL checks over the wire: verify-full, or disable (loopback databases only).
    #[arg(long, value_name = "MODE", default_value = "verify-full", conflicts_with = "local")]
    db_tls: TlsMode,
    /// Over the wire the clock is real: divide every Wait state's seconds by this (at least
    /// 1 s each), for emulators whose resources are ready at once.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..), conflicts_with = "local")]
    wait_scale: u32,
    /// The run document (JSON); defaults to `{}`, the runbook's values.
    #[arg(long)]
    input: Option<PathBuf>,
    /// Make a step fail: STEP=KIND, KIND one of throttle, unavailable, fatal, failed-state,
    /// never-ready, already-exists, failed-check, lost-response, duplicate, eventual; STEP=KIND@N
    /// from the step's N-th AWS call on. Repeatable.
    #[arg(long = "inject-fault", value_name = "STEP=KIND[@N]", conflicts_with = "endpoint_url")]
    inject_fault: Vec<String>,
    /// Write the JSON report here.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Write the staging run's report for people here, in Markdown: outcome, a Mermaid Gantt
    /// chart of the states, resources created and deleted, checks, cost (locally), next steps.
    #[arg(long, value_name = "FILE")]
    report_md: Option<PathBuf>,
    /// Locally, after a staging run that passed, run `promote.asl.json` (its approval given
    /// at once) or `teardown.asl.json` (with the input the run's schedule would send) on the
    /// same simulated account. The report then holds `{"staging": …, "then": …}`.
    #[arg(long, value_enum, conflicts_with = "endpoint_url")]
    then: Option<Then>,
    /// With `--then promote` on a production App Runner builds from source: deploy its
    /// branch's head, which staging may not have run (the promotion is refused without it; an
    /// image release promotes the digest staging ran).
    #[arg(long, requires = "then")]
    accept_branch_head: bool,
}

impl RunCommand {
    pub fn run(self) -> Result<Exit, CliError> {
        let document = read_json("--input", self.input.as_deref())?;
        // Whole seconds: the start names the execution and the run's resources.
        let start_time = Utc::now().with_nanosecond(0).unwrap_or_else(Utc::now);
        match self.endpoint_url.clone() {
            Some(endpoint_url) => self.over_the_wire(endpoint_url, document, start_time),
            None => self.locally(document, start_time),
        }
    }

    fn locally(self, input: Value, start_time: DateTime<Utc>) -> Result<Exit, CliError> {
        let execution_name = crate::local::local_execution_name(start_time);
        let run = LocalRun { input: input.clone(), faults: self.inject_fault, start_time, execution_name: execution_name.clone() };
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().expect("a tokio runtime");
        let wall = Instant::now();
        println!("rehearsal: staging pipeline on the simulated account (virtual clock)");
        let account = runtime.block_on(async { crate::local::simulated_account(&input, rehearsal_sim::SimConfig::default(), start_time) });
        let (report, staging_arn) = runtime.block_on(async {
            match self.then {
                None => run_on(&account, run, std::io::stdout()).await.map(|r| (r, None)),
                Some(_) => run_staging_recorded(&account, run, std::io::stdout()).await.map(|(r, arn)| (r, Some(arn))),
            }
        })?;
        report.print_summary(wall.elapsed());
        if let Some(path) = &self.report_md {
            // The plan again (read calls only) gives what the run's environment costs.
            let stack = rehearsal_sim::seed::stack_settings();
            let planned = runtime.block_on(crate::plan::plan(&account.session("report"), input, &execution_name, start_time, &stack));
            let cost = planned.ok().and_then(|p| p.cost_of(report.usage()).ok());
            write_markdown(&report.markdown(cost), path);
        }
        let (Some(then), Some(staging_arn), RunStatus::Succeeded) = (self.then, staging_arn, report.status) else {
            write_report(&report, self.report.as_deref());
            return Ok(report.status.into());
        };
        let approved = if then == Then::Promote { " (approved at once)" } else { "" };
        println!("\nrehearsal: {} on the same simulated account{approved}", then.name());
        let execution = runtime.block_on(then.run_after(
            &account,
            &report,
            &staging_arn,
            self.accept_branch_head,
            ApprovalAnswer::Approve,
            std::io::stdout(),
        ))?;
        execution.print_summary(then.name());
        write_report(&serde_json::json!({"staging": report, "then": execution}), self.report.as_deref());
        Ok(if execution.succeeded { Exit::Succeeded } else { Exit::Failed })
    }

    fn over_the_wire(self, endpoint_url: String, input: Value, start_time: DateTime<Utc>) -> Result<Exit, CliError> {
        let options = WireOptions {
            endpoint_url,
            apprunner_endpoint_url: self.apprunner_endpoint_url,
            stripe_api_url: self.stripe_api_url,
            http_overrides: HostOverrides::new(self.http_host_override),
            db_overrides: HostOverrides::new(self.db_host_override),
            db_tls: self.db_tls,
            wait_scale: self.wait_scale,
        };
        let run = WireRun { input, start_time, execution_name: format!("wire-{}", start_time.format("%Y%m%dT%H%M%S")) };
        // A real clock: see the `wire` module on why not the paused one.
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
        let wall = Instant::now();
        println!(
            "rehearsal: staging pipeline over the wire (AWS at {}, App Runner at {}; waits divided by {})",
            options.endpoint_url,
            options.apprunner_endpoint_url.as_deref().unwrap_or(&options.endpoint_url),
            options.wait_scale
        );
        let report = runtime.block_on(run_over_the_wire(&options, run, std::io::stdout()))?;
        report.print_summary(wall.elapsed());
        if let Some(path) = &self.report_md {
            // No cost over the wire: an emulator's account has no prices to speak of.
            write_markdown(&report.markdown(None), path);
        }
        write_report(&report, self.report.as_deref());
        Ok(report.status.into())
    }
}
