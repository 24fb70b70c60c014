//! `rehearsal run --local`: the deployed `staging.asl.json`, executed by the local runner with
//! the step handlers in-process against the simulated account, on a virtual clock.

use crate::execution::{checked_input, definition, execute, planned_run_id, RunError};
use crate::follow_up::{staging_execution_arn, staging_state_machine_arn};
use crate::invoker::{local_substitutions, StepInvoker};
use crate::report::{AccountRecord, RunAccount, RunReport};
use chrono::{DateTime, Utc};
use rehearsal_asl::RunOptions;
use rehearsal_core::cloud::ExecutionInfo;
use rehearsal_core::steps::Step;
use rehearsal_sim::{Fault, SimAccount};
use serde::Serialize;
use serde_json::Value;
use std::io::Write;

/// The staging definition, as deployed.
pub const STAGING_DEFINITION: &str = include_str!("../../../statemachine/staging.asl.json");

/// The execution name of a `rehearsal run --local` started at `start_time` (the run id derives
/// from it, so a plan of that run names the same resources).
pub fn local_execution_name(start_time: DateTime<Utc>) -> String {
    format!("local-{}", start_time.format("%Y%m%dT%H%M%S"))
}

/// The simulated account a local run of `document` starts on: production runs on the backend
/// the document names, as the image it rehearses when it names one (a rehearsal deploys as
/// production does): App Runner building its branch (the runbook), App Runner running an ECR
/// image, or ECS Express Mode.
pub fn simulated_account(document: &Value, config: rehearsal_sim::SimConfig, start_time: DateTime<Utc>) -> SimAccount {
    let account = SimAccount::new(config, start_time);
    let service = document.get("service");
    match (service.and_then(|s| s.get("backend")).and_then(Value::as_str), service.and_then(|s| s.get("image"))) {
        (Some("ecs-express"), _) => account.deploy_production_on_ecs_express(),
        (_, Some(_)) => account.deploy_production_from_image(),
        _ => {}
    }
    account
}

pub struct LocalRun {
    pub input: Value,
    pub faults: Vec<String>,
    pub start_time: DateTime<Utc>,
    pub execution_name: String,
}

/// Parses `STEP=KIND`, naming what is wrong; the step must be one of the pipeline's.
pub fn parse_fault(text: &str) -> Result<Fault, RunError> {
    let fault: Fault = text.parse().map_err(|e| RunError::Fault(format!("{text:?}: {e}")))?;
    if Step::from_name(&fault.step).is_none() {
        let steps: Vec<&str> = Step::ALL.iter().map(|s| s.name()).collect();
        return Err(RunError::Fault(format!("{text:?}: unknown step {:?}; steps are {}", fault.step, steps.join(", "))));
    }
    Ok(fault)
}

/// Parses every fault, then injects them all into `account`: none when one is refused.
pub(crate) fn inject_faults(account: &SimAccount, faults: &[String]) -> Result<(), RunError> {
    for fault in faults.iter().map(|f| parse_fault(f)).collect::<Result<Vec<_>, _>>()? {
        account.inject(fault);
    }
    Ok(())
}

/// Runs the pipeline on `account`; must be called on a current-thread runtime with paused
/// time, so the definition's waits pass in virtual time. Bad input and bad fault specs are
/// refused before the account sees a single call.
pub async fn run_on<W: Write>(account: &SimAccount, run: LocalRun, progress: W) -> Result<RunReport, RunError> {
    let input = checked_input(&run.input)?;
    let definition = definition(STAGING_DEFINITION, &local_substitutions())?;
    inject_faults(account, &run.faults)?;
    let invoker = StepInvoker::new(|step: Step| account.session(step.name()))
        .delivering(|step| account.deliveries(step.name()))
        .slowed_by(|step| account.take_latency(step.name()));
    let options = RunOptions {
        execution_name: run.execution_name.clone(),
        state_machine_name: staging_state_machine_arn(),
        start_time: run.start_time,
        ..RunOptions::default()
    };
    // Step Functions knows the execution while it runs: a second run finds the holder of the
    // staging lease running (DescribeExecution), and a promotion finds it once it has ended.
    let mut execution = ExecutionInfo {
        arn: staging_execution_arn(&run.execution_name),
        state_machine_arn: staging_state_machine_arn(),
        name: Some(run.execution_name.clone()),
        status: "RUNNING".into(),
        start: run.start_time,
        stop: None,
        input: Some(run.input.to_string()),
        output: None,
        error: None,
        cause: None,
    };
    account.record_execution(execution.clone());
    let executed = execute(&definition, run.input, &invoker, &options, progress).await?;
    execution.status = if executed.output.is_some() { "SUCCEEDED" } else { "FAILED" }.into();
    execution.stop = Some(run.start_time + chrono::Duration::from_std(executed.elapsed).unwrap_or_default());
    execution.output = executed.output.as_ref().map(Value::to_string);
    execution.error.clone_from(&executed.error);
    execution.cause.clone_from(&executed.cause);
    account.record_execution(execution);

    let run_id = planned_run_id(&input, &run.execution_name, run.start_time);
    let ledger = account.ledger();
    let record = RunAccount::Simulated(Box::new(AccountRecord {
        resources_created: to_json(&ledger.created),
        resources_deleted: to_json(&ledger.deleted),
        production_writes: to_json(&ledger.production_writes),
        leftovers: account.leftovers(&run_id),
        faults_injected: run.faults,
        faults_fired: to_json(&ledger.faults_fired),
        aws_calls: ledger.calls.len(),
    }));
    Ok(RunReport::new(executed, run_id, run.execution_name, run.start_time, record))
}

/// Ledger records are `Serialize`; the report keeps them as JSON.
fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or_default()
}
