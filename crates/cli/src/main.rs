use clap::{Parser, Subcommand};
use rehearsal_api::{Api, Config};
use rehearsal_asl::RunOptions;
use rehearsal_cli::asl_run::{parse_substitution, run_paused, AslRun, ExecutionStatus};
use rehearsal_cli::local::{run_on, LocalError, LocalRun, Report, RunStatus};
use rehearsal_cli::promote::{
    run_execution_on, run_staging_recorded, ApprovalAnswer, LocalExecution, PROMOTE_DEFINITION, TEARDOWN_DEFINITION,
};
use rehearsal_cli::remote::{call, follow, RemoteAction};
use rehearsal_cli::report::{clock, StepSummary};
use rehearsal_cli::wire::{run_over_the_wire, HostOverrides, WireOptions, WireReport, WireRun};
use rehearsal_core::cloud::Scheduler;
use rehearsal_core::naming::teardown_schedule_name;
use rehearsal_core::plan::SCHEDULE_GROUP;
use rehearsal_probes::TlsMode;
use rehearsal_sim::{SimAccount, SimConfig};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

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
    Run {
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
        /// never-ready, already-exists, failed-check. Repeatable.
        #[arg(long = "inject-fault", value_name = "STEP=KIND", conflicts_with = "endpoint_url")]
        inject_fault: Vec<String>,
        /// Write the JSON report here.
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
        /// Locally, after a staging run that passed, run `promote.asl.json` (its approval given
        /// at once) or `teardown.asl.json` (with the input the run's schedule would send) on the
        /// same simulated account. The report then holds `{"staging": …, "then": …}`.
        #[arg(long, value_enum, conflicts_with = "endpoint_url")]
        then: Option<Then>,
    },
    /// Start, follow, approve and tear down runs in AWS (Step Functions directly, with the
    /// credentials the AWS SDK finds), answering as the API does.
    Remote {
        /// The deployed staging state machine (stack output).
        #[arg(long, env = "STAGING_STATE_MACHINE_ARN")]
        staging_state_machine_arn: String,
        /// The deployed teardown state machine (stack output).
        #[arg(long, env = "TEARDOWN_STATE_MACHINE_ARN")]
        teardown_state_machine_arn: String,
        /// Another endpoint for Step Functions and Parameter Store (moto, LocalStack).
        #[arg(long, value_name = "URL")]
        endpoint_url: Option<String>,
        #[command(subcommand)]
        action: RemoteCommand,
    },
    /// Tools for ASL definitions.
    Asl {
        #[command(subcommand)]
        command: AslCommand,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Then {
    Promote,
    Teardown,
}

#[derive(Subcommand)]
enum RemoteCommand {
    /// Start a staging run; the idempotency key names the execution, so repeating the command
    /// starts nothing twice.
    Start {
        #[arg(long)]
        idempotency_key: String,
        /// The run document (JSON); defaults to `{}`, the runbook's values.
        #[arg(long)]
        input: Option<PathBuf>,
    },
    /// A run's status, current states, report or failure; `--follow` prints each state it
    /// enters until it stops.
    Status {
        id: String,
        #[arg(long)]
        follow: bool,
    },
    /// Approve the promotion waiting on a run.
    Approve {
        id: String,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Reject the promotion waiting on a run.
    Reject {
        id: String,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Tear a run's staging environment down now (and cancel its teardown schedule).
    Teardown {
        /// The staging run (its id in `start`).
        #[arg(long)]
        run: String,
        #[arg(long)]
        idempotency_key: String,
        /// Skip the staging database's final snapshot.
        #[arg(long)]
        no_final_snapshot: bool,
    },
}

#[derive(Subcommand)]
enum AslCommand {
    /// Run any ASL definition in the local runner with scripted Task results, on a virtual clock,
    /// and print `{"states": [...], "status": ..., "output" | "error", "cause"}` as JSON. Exit
    /// status: 0 succeeded, 1 the execution failed, 2 the definition, script or input was refused.
    Run {
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
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Run {
            endpoint_url: Some(endpoint_url),
            apprunner_endpoint_url,
            stripe_api_url,
            http_host_override,
            db_host_override,
            db_tls,
            wait_scale,
            input,
            report,
            ..
        } => {
            let options = WireOptions {
                endpoint_url,
                apprunner_endpoint_url,
                stripe_api_url,
                http_overrides: HostOverrides::new(http_host_override),
                db_overrides: HostOverrides::new(db_host_override),
                db_tls,
                wait_scale,
            };
            run_wire(&options, input, report)
        }
        Command::Run { input, inject_fault, report, then, .. } => run_local(input, inject_fault, report, then),
        Command::Asl { command: AslCommand::Run { definition, input, tasks, substitute } } => asl_run(definition, input, tasks, substitute),
        Command::Remote { staging_state_machine_arn, teardown_state_machine_arn, endpoint_url, action } => {
            let config = Config { staging_state_machine_arn, teardown_state_machine_arn };
            remote(config, endpoint_url, action)
        }
    }
}

fn remote(config: Config, endpoint_url: Option<String>, command: RemoteCommand) -> ExitCode {
    let (action, follow_run) = match command {
        RemoteCommand::Start { idempotency_key, input } => match read_json("--input", input) {
            Ok(document) => (RemoteAction::Start { idempotency_key, document }, false),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
        RemoteCommand::Status { id, follow } => (RemoteAction::Status { id }, follow),
        RemoteCommand::Approve { id, comment } => (RemoteAction::Approve { id, comment }, false),
        RemoteCommand::Reject { id, comment } => (RemoteAction::Reject { id, comment }, false),
        RemoteCommand::Teardown { run, idempotency_key, no_final_snapshot } => {
            (RemoteAction::Teardown { idempotency_key, run, final_snapshot: !no_final_snapshot }, false)
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    let (status, body) = runtime.block_on(async {
        let sdk = rehearsal_aws::load_config(endpoint_url.as_deref()).await;
        let api = Api::new(rehearsal_aws::StepFunctions::new(&sdk), rehearsal_aws::AwsCloud::new(&sdk), config);
        match (&action, follow_run) {
            (RemoteAction::Status { id }, true) => follow(&api, id, Duration::from_secs(10), std::io::stdout()).await,
            _ => call(&api, &action).await,
        }
    });
    println!("{}", serde_json::to_string_pretty(&body).unwrap_or_default());
    match status {
        200..=299 => ExitCode::SUCCESS,
        400..=499 => ExitCode::from(2),
        _ => ExitCode::from(1),
    }
}

/// A JSON file given as `flag`, or `{}` when none was given.
fn read_json(flag: &str, path: Option<PathBuf>) -> Result<serde_json::Value, String> {
    let Some(path) = path else { return Ok(serde_json::json!({})) };
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{flag} {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{flag} {} is not JSON: {e}", path.display()))
}

fn asl_run(definition: PathBuf, input: Option<PathBuf>, tasks: Option<PathBuf>, substitute: Vec<(String, String)>) -> ExitCode {
    let request = std::fs::read_to_string(&definition).map_err(|e| format!("{}: {e}", definition.display())).and_then(|text| {
        Ok(AslRun {
            definition: text,
            input: read_json("--input", input)?,
            tasks: read_json("--tasks", tasks)?,
            substitutions: substitute.into_iter().collect(),
        })
    });
    let result = request.and_then(|request| run_paused(&request, &RunOptions::default()).map_err(|e| e.to_string()));
    let result = match result {
        Ok(result) => result,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    for (resource, left) in &result.unused_replies {
        eprintln!("note: {left} scripted result(s) for {resource} were not used");
    }
    match serde_json::to_string_pretty(&result) {
        Ok(json) => println!("{json}"),
        Err(e) => {
            eprintln!("error: the result is not JSON: {e}");
            return ExitCode::from(1);
        }
    }
    match result.status {
        ExecutionStatus::Succeeded => ExitCode::SUCCESS,
        ExecutionStatus::Failed => ExitCode::from(1),
    }
}

/// The run document and the run's start (whole seconds); `None` after saying why it is refused.
fn run_document(input: Option<PathBuf>) -> Option<(Value, chrono::DateTime<chrono::Utc>)> {
    match read_json("--input", input) {
        Ok(document) => Some((document, chrono::Utc::now().with_nanosecond(0).unwrap_or_else(chrono::Utc::now))),
        Err(e) => {
            eprintln!("error: {e}");
            None
        }
    }
}

fn run_local(input: Option<PathBuf>, inject_fault: Vec<String>, report_path: Option<PathBuf>, then: Option<Then>) -> ExitCode {
    let Some((input, start_time)) = run_document(input) else { return ExitCode::from(2) };
    let run = LocalRun { input, faults: inject_fault, start_time, execution_name: format!("local-{}", start_time.format("%Y%m%dT%H%M%S")) };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().expect("a tokio runtime");
    let wall = std::time::Instant::now();
    println!("rehearsal: staging pipeline on the simulated account (virtual clock)");
    let account = runtime.block_on(async { SimAccount::new(SimConfig::default(), start_time) });
    let result = runtime.block_on(async {
        match then {
            None => run_on(&account, run, std::io::stdout()).await.map(|r| (r, None)),
            Some(_) => run_staging_recorded(&account, run, std::io::stdout()).await.map(|(r, arn)| (r, Some(arn))),
        }
    });
    let (report, staging_arn) = match result {
        Ok(done) => done,
        Err(e @ (LocalError::Input(_) | LocalError::Fault(_))) => {
            eprintln!("error: {e}\nnothing was run and no AWS call was made");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    print_summary(&report, wall.elapsed());
    let (Some(then), Some(staging_arn), RunStatus::Succeeded) = (then, staging_arn, report.status) else {
        write_report(&report, report_path);
        return exit_code(report.status);
    };
    let (name, definition, input) = match then {
        Then::Promote => {
            ("promote", PROMOTE_DEFINITION, serde_json::json!({"run_id": report.run_id, "staging_execution_arn": staging_arn}))
        }
        Then::Teardown => {
            let schedule = runtime.block_on(async {
                account.session("operator").get_schedule(SCHEDULE_GROUP, &teardown_schedule_name(&report.run_id)).await
            });
            let input = schedule.ok().flatten().and_then(|s| serde_json::from_str(&s.input).ok()).unwrap_or_default();
            ("teardown", TEARDOWN_DEFINITION, input)
        }
    };
    println!("\nrehearsal: {name} on the same simulated account{}", if matches!(then, Then::Promote) { " (approved at once)" } else { "" });
    let execution = LocalExecution { definition, input, faults: Vec::new(), start_time: account.now(), approval: ApprovalAnswer::Approve };
    let machine = match runtime.block_on(run_execution_on(&account, execution, std::io::stdout())) {
        Ok(machine) => machine,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let count = |v: &Value| v.as_array().map_or(0, Vec::len);
    println!(
        "\n{name} {} in {} virtual: resources created {}, deleted {}, production writes {}, alerts {}",
        if machine.succeeded { "SUCCEEDED".to_string() } else { format!("FAILED: {}", machine.error.as_deref().unwrap_or("")) },
        clock(machine.virtual_seconds),
        count(&machine.resources_created),
        count(&machine.resources_deleted),
        count(&machine.production_writes),
        count(&machine.notifications),
    );
    if let Some(cause) = &machine.cause {
        println!("cause: {cause}");
    }
    write_report(&serde_json::json!({"staging": report, "then": machine}), report_path);
    if machine.succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn write_report<R: serde::Serialize>(report: &R, path: Option<PathBuf>) {
    if let Some(path) = path {
        match serde_json::to_string_pretty(report).map(|json| std::fs::write(&path, json + "\n")) {
            Ok(Ok(())) => println!("report: {}", path.display()),
            Ok(Err(e)) => eprintln!("error: --report {}: {e}", path.display()),
            Err(e) => eprintln!("error: report: {e}"),
        }
    }
}

fn exit_code(status: RunStatus) -> ExitCode {
    match status {
        RunStatus::Succeeded => ExitCode::SUCCESS,
        RunStatus::RolledBack => ExitCode::from(3),
        RunStatus::Failed => ExitCode::from(1),
    }
}

fn run_wire(options: &WireOptions, input: Option<PathBuf>, report_path: Option<PathBuf>) -> ExitCode {
    let Some((input, start_time)) = run_document(input) else { return ExitCode::from(2) };
    let run = WireRun { input, start_time, execution_name: format!("wire-{}", start_time.format("%Y%m%dT%H%M%S")) };
    // A real clock: see the `wire` module on why not the paused one.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    println!(
        "rehearsal: staging pipeline over the wire (AWS at {}, App Runner at {}; waits divided by {})",
        options.endpoint_url,
        options.apprunner_endpoint_url.as_deref().unwrap_or(&options.endpoint_url),
        options.wait_scale
    );
    let report = match runtime.block_on(run_over_the_wire(options, run, std::io::stdout())) {
        Ok(report) => report,
        Err(e @ LocalError::Input(_)) => {
            eprintln!("error: {e}\nnothing was run and no AWS call was made");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    print_wire_summary(&report);
    write_report(&report, report_path);
    exit_code(report.status)
}

use chrono::Timelike;

fn print_steps(steps: &[StepSummary]) {
    println!();
    println!("{:<34} {:>10} {:>10} {:>6}", "state", "start", "end", "runs");
    for step in steps {
        let indent = "  ".repeat(step.path.matches('/').count());
        let end = step.last_end_seconds.map_or("-".to_string(), clock);
        println!("{:<34} {:>10} {:>10} {:>6}", format!("{indent}{}", step.name), clock(step.first_start_seconds), end, step.times_entered);
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

fn status_line(status: RunStatus, error: Option<&str>) -> String {
    match status {
        RunStatus::Succeeded => "SUCCEEDED".to_string(),
        RunStatus::RolledBack => format!("ROLLED BACK after {}", error.unwrap_or("")),
        RunStatus::Failed => format!("FAILED: {}", error.unwrap_or("")),
    }
}

fn print_wire_summary(report: &WireReport) {
    print_steps(&report.steps);
    println!();
    print_checks(&report.checks);
    println!("\n{} — run {} in {:.1} s", status_line(report.status, report.error.as_deref()), report.run_id, report.seconds);
    if let Some(cause) = &report.cause {
        println!("cause: {cause}");
    }
    if let (RunStatus::Succeeded, Some(output)) = (report.status, &report.output) {
        let at = output.pointer("/teardown/at").and_then(Value::as_str).unwrap_or("its scheduled teardown");
        println!("staging is up at {} until {at}", output["staging_url"].as_str().unwrap_or(""));
    }
}

fn print_summary(report: &Report, wall: std::time::Duration) {
    print_steps(&report.steps);
    let list = |v: &Value| v.as_array().map_or(0, Vec::len);
    println!();
    println!(
        "resources created: {}, deleted: {}, production writes: {}, left behind: {}",
        list(&report.resources_created),
        list(&report.resources_deleted),
        list(&report.production_writes),
        report.leftovers.len()
    );
    print_checks(&report.checks);
    let status = status_line(report.status, report.error.as_deref());
    println!("\n{status} — run {} in {} virtual ({:.1} s wall)", report.run_id, clock(report.virtual_seconds), wall.as_secs_f64());
    if let Some(cause) = &report.cause {
        println!("cause: {cause}");
    }
    match (&report.status, report.output.as_ref().and_then(|o| o.pointer("/teardown/at"))) {
        (RunStatus::Succeeded, Some(at)) => {
            let at = at.as_str().unwrap_or_default();
            println!(
                "staging is up at {} until its teardown at {at}:",
                report.output.as_ref().map_or("", |o| o["staging_url"].as_str().unwrap_or(""))
            );
            for resource in &report.leftovers {
                println!("  {resource}");
            }
        }
        _ if !report.leftovers.is_empty() => println!("LEFT BEHIND: {}", report.leftovers.join(", ")),
        _ => {}
    }
}
