//! `run --local --then promote|teardown`: the deployed `promote.asl.json` or `teardown.asl.json`,
//! run by the local runner on the same simulated account a staging run used, on a virtual clock.
//!
//! The invoker plays what AWS and the API do around the step Lambdas: `sns:publish` goes to the
//! account's topic, and a callback task's token is answered the way the API answers it: it reads
//! `/rehearsal/approvals/<run id>` (where `request_approval` stored it), checks it is the token
//! the task waits on, and approves or rejects as told.

use crate::execution::{definition, execute, RunError};
use crate::invoker::{local_substitutions, StepInvoker, ACCOUNT, REGION};
use crate::local::{inject_faults, run_on, LocalRun};
use crate::report::{clock, count, summarize, RunReport, RunStatus, StateSpan, StateSummary};
use chrono::{DateTime, Utc};
use rehearsal_asl::{RunOptions, TaskCall, TaskFailure, TaskInvoker, SNS_PUBLISH};
use rehearsal_core::cloud::{ExecutionInfo, ParameterStore, Scheduler};
use rehearsal_core::naming::teardown_schedule_name;
use rehearsal_core::plan::SCHEDULE_GROUP;
use rehearsal_core::promotion::{approval_parameter, APPROVAL_REJECTED};
use rehearsal_core::steps::Step;
use rehearsal_sim::{SimAccount, SimCloud};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::future::Future;
use std::io::Write;
use std::pin::Pin;

pub const PROMOTE_DEFINITION: &str = include_str!("../../../statemachine/promote.asl.json");
pub const TEARDOWN_DEFINITION: &str = include_str!("../../../statemachine/teardown.asl.json");

/// The staging state machine's ARN in the local account (what a promotion accepts).
pub fn staging_state_machine_arn() -> String {
    format!("arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:rehearsal-staging")
}

/// `local_substitutions` plus what the promote and teardown definitions use besides.
pub fn substitutions() -> BTreeMap<String, String> {
    let mut values = local_substitutions();
    values.insert("StagingStateMachineArn".into(), staging_state_machine_arn());
    values.insert("AlertTopicArn".into(), rehearsal_sim::seed::ALERT_TOPIC_ARN.into());
    values
}

/// What `--then` runs after a staging run that passed: `promote.asl.json` on the run, its
/// approval given at once, or `teardown.asl.json` with the input the run's teardown schedule
/// would send. (The flag's help says so; doc comments here would list the values again.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Then {
    Promote,
    Teardown,
}

impl Then {
    pub fn name(self) -> &'static str {
        match self {
            Then::Promote => "promote",
            Then::Teardown => "teardown",
        }
    }

    /// Runs this definition after `staging` (execution `staging_arn`) on the same account; must
    /// be called on a current-thread runtime with paused time.
    pub async fn run_after<W: Write>(
        self,
        account: &SimAccount,
        staging: &RunReport,
        staging_arn: &str,
        progress: W,
    ) -> Result<MachineReport, RunError> {
        let (definition, input) = match self {
            Then::Promote => (PROMOTE_DEFINITION, json!({"run_id": staging.run_id, "staging_execution_arn": staging_arn})),
            Then::Teardown => {
                let schedule =
                    account.session("operator").get_schedule(SCHEDULE_GROUP, &teardown_schedule_name(&staging.run_id)).await.ok().flatten();
                (TEARDOWN_DEFINITION, schedule.and_then(|s| serde_json::from_str(&s.input).ok()).unwrap_or_default())
            }
        };
        let execution =
            LocalExecution { definition, input, faults: Vec::new(), start_time: account.now(), approval: ApprovalAnswer::Approve };
        run_execution_on(account, execution, progress).await
    }
}

/// How the local operator answers an approval request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApprovalAnswer {
    Approve,
    Reject(String),
    /// Nobody answers: the task times out.
    Never,
}

/// The step Lambdas, plus SNS and the approving operator.
struct LocalInvoker<'a, F> {
    steps: StepInvoker<F>,
    account: &'a SimAccount,
    approval: ApprovalAnswer,
}

impl<'a, F: Fn(Step) -> SimCloud> LocalInvoker<'a, F> {
    fn publish(&self, request: &Value) -> Result<Value, TaskFailure> {
        let text = |key: &str| request.get(key).and_then(Value::as_str);
        let topic = text("TopicArn").unwrap_or_default();
        match self.account.session("sns").publish(topic, text("Subject"), text("Message").unwrap_or_default()) {
            Ok(id) => Ok(json!({ "MessageId": id })),
            Err(e) => Err(TaskFailure { error: format!("SNS.{}", e.code), cause: e.message }),
        }
    }

    /// What the API does with an approval: find the token by run id, answer it.
    async fn answer(&self, call: &TaskCall, token: &str) -> Result<Value, TaskFailure> {
        let run_id = call.input.pointer("/promotion/plan/run_id").and_then(Value::as_str).unwrap_or_default();
        let name = approval_parameter(run_id);
        let stored = self.account.session("api").get_parameter(&name).await.ok().flatten().map(|p| p.value.expose().to_string());
        if stored.as_deref() != Some(token) {
            // The API could not find this task's token: nobody can answer it.
            return std::future::pending().await;
        }
        match &self.approval {
            ApprovalAnswer::Approve => Ok(json!({ "approved_by": "local operator" })),
            ApprovalAnswer::Reject(reason) => Err(TaskFailure { error: APPROVAL_REJECTED.into(), cause: reason.clone() }),
            ApprovalAnswer::Never => std::future::pending().await,
        }
    }
}

impl<F: Fn(Step) -> SimCloud> TaskInvoker for LocalInvoker<'_, F> {
    fn invoke<'a>(&'a self, call: TaskCall) -> Pin<Box<dyn Future<Output = Result<Value, TaskFailure>> + 'a>> {
        Box::pin(async move {
            if call.resource == SNS_PUBLISH {
                return self.publish(&call.input);
            }
            let token = call.task_token.clone();
            let result = self.steps.invoke(call.clone()).await?;
            match token {
                Some(token) => self.answer(&call, &token).await,
                None => Ok(result),
            }
        })
    }
}

/// A promote or teardown execution, as it ended.
#[derive(Debug, Clone, Serialize)]
pub struct MachineReport {
    pub succeeded: bool,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub output: Option<Value>,
    pub virtual_seconds: f64,
    pub states: Vec<StateSpan>,
    /// Each state once, in the order first entered.
    pub summary: Vec<StateSummary>,
    pub resources_created: Value,
    pub resources_deleted: Value,
    pub production_writes: Value,
    pub notifications: Value,
}

impl MachineReport {
    /// Whether `state` was entered.
    pub fn entered(&self, state: &str) -> bool {
        self.summary.iter().any(|s| s.name == state)
    }

    /// How `name` (`promote`, `teardown`) ended and what it changed.
    pub fn print_summary(&self, name: &str) {
        let outcome = if self.succeeded { "SUCCEEDED".to_string() } else { format!("FAILED: {}", self.error.as_deref().unwrap_or("")) };
        println!(
            "\n{name} {outcome} in {} virtual: resources created {}, deleted {}, production writes {}, alerts {}",
            clock(self.virtual_seconds),
            count(&self.resources_created),
            count(&self.resources_deleted),
            count(&self.production_writes),
            count(&self.notifications),
        );
        if let Some(cause) = &self.cause {
            println!("cause: {cause}");
        }
    }
}

/// One execution of `definition` on `account` (see [`run_execution_on`]).
pub struct LocalExecution<'a> {
    pub definition: &'a str,
    pub input: Value,
    pub faults: Vec<String>,
    pub start_time: DateTime<Utc>,
    pub approval: ApprovalAnswer,
}

/// Runs a staging pipeline (`run_on`) and records its execution in the account, as Step
/// Functions would keep it, so that a promotion can read it. Answers the execution's ARN.
pub async fn run_staging_recorded<W: Write>(account: &SimAccount, run: LocalRun, progress: W) -> Result<(RunReport, String), RunError> {
    let input = run.input.clone();
    let report = run_on(account, run, progress).await?;
    let arn = format!("arn:aws:states:{REGION}:{ACCOUNT}:execution:rehearsal-staging:{}", report.execution_name);
    let stop = report.started_at + chrono::Duration::milliseconds((report.seconds * 1000.0) as i64);
    account.record_execution(ExecutionInfo {
        arn: arn.clone(),
        state_machine_arn: staging_state_machine_arn(),
        name: Some(report.execution_name.clone()),
        status: if report.status == RunStatus::Succeeded { "SUCCEEDED" } else { "FAILED" }.into(),
        start: report.started_at,
        stop: Some(stop),
        input: Some(input.to_string()),
        output: report.output.as_ref().map(Value::to_string),
        error: report.error.clone(),
        cause: report.cause.clone(),
    });
    Ok((report, arn))
}

/// Runs `promote.asl.json` or `teardown.asl.json` (`execution.definition`) on `account`; must be
/// called on a current-thread runtime with paused time.
pub async fn run_execution_on<W: Write>(
    account: &SimAccount,
    execution: LocalExecution<'_>,
    progress: W,
) -> Result<MachineReport, RunError> {
    let definition = definition(execution.definition, &substitutions())?;
    inject_faults(account, &execution.faults)?;
    let before = account.ledger();
    let invoker =
        LocalInvoker { steps: StepInvoker::new(|step: Step| account.session(step.name())), account, approval: execution.approval };
    let options = RunOptions { start_time: execution.start_time, ..RunOptions::default() };
    let executed = execute(&definition, execution.input, &invoker, &options, progress).await?;
    let ledger = account.ledger();
    Ok(MachineReport {
        succeeded: executed.output.is_some(),
        error: executed.error,
        cause: executed.cause,
        output: executed.output,
        virtual_seconds: executed.elapsed.as_secs_f64(),
        summary: summarize(&executed.states),
        states: executed.states,
        resources_created: since(&ledger.created, before.created.len()),
        resources_deleted: since(&ledger.deleted, before.deleted.len()),
        production_writes: since(&ledger.production_writes, before.production_writes.len()),
        notifications: since(&ledger.notifications, before.notifications.len()),
    })
}

/// What the ledger recorded during this execution (the account may have a staging run before it).
fn since<T: Serialize>(all: &[T], earlier: usize) -> Value {
    serde_json::to_value(&all[earlier.min(all.len())..]).unwrap_or_default()
}
