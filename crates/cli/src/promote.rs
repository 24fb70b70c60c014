//! Promotion and teardown, locally: the deployed `promote.asl.json` and `teardown.asl.json` run
//! by the local runner on the same simulated account a staging run used, on a virtual clock.
//!
//! The invoker plays what AWS and the API do around the step Lambdas: `sns:publish` goes to the
//! account's topic, and a callback task's token is answered the way the API answers it: it reads
//! `/rehearsal/approvals/<run id>` (where `request_approval` stored it), checks it is the token
//! the task waits on, and approves or rejects as told.

use crate::invoker::{local_substitutions, StepInvoker, ACCOUNT, REGION};
use crate::local::{parse_fault, run_on, LocalError, LocalRun, Report, RunStatus};
use crate::report::{summarize, ProgressObserver, StateSpan, StepSummary};
use chrono::{DateTime, Utc};
use rehearsal_asl::{Definition, Outcome, RunOptions, TaskCall, TaskFailure, TaskInvoker, SNS_PUBLISH};
use rehearsal_core::cloud::{ExecutionInfo, ParameterStore};
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
    pub steps: Vec<StepSummary>,
    pub resources_created: Value,
    pub resources_deleted: Value,
    pub production_writes: Value,
    pub notifications: Value,
}

impl MachineReport {
    /// Whether `state` was entered.
    pub fn entered(&self, state: &str) -> bool {
        self.steps.iter().any(|s| s.name == state)
    }
}

/// One execution of `definition` on `account` (see [`run_promote_on`]).
pub struct LocalExecution<'a> {
    pub definition: &'a str,
    pub input: Value,
    pub faults: Vec<String>,
    pub start_time: DateTime<Utc>,
    pub approval: ApprovalAnswer,
}

/// Runs a staging pipeline (`run_on`) and records its execution in the account, as Step
/// Functions would keep it, so that a promotion can read it. Answers the execution's ARN.
pub async fn run_staging_recorded<W: Write>(account: &SimAccount, run: LocalRun, progress: W) -> Result<(Report, String), LocalError> {
    let input = run.input.clone();
    let report = run_on(account, run, progress).await?;
    let arn = format!("arn:aws:states:{REGION}:{ACCOUNT}:execution:rehearsal-staging:{}", report.execution_name);
    let stop = report.started_at + chrono::Duration::milliseconds((report.virtual_seconds * 1000.0) as i64);
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
) -> Result<MachineReport, LocalError> {
    let faults = execution.faults.iter().map(|f| parse_fault(f)).collect::<Result<Vec<_>, _>>()?;
    let text = rehearsal_asl::substitute(execution.definition, &substitutions()).map_err(|e| LocalError::Definition(e.to_string()))?;
    let definition = Definition::parse(&text).map_err(|e| LocalError::Definition(e.to_string()))?;
    for fault in faults {
        account.inject(fault);
    }
    let before = account.ledger();
    let invoker =
        LocalInvoker { steps: StepInvoker::new(|step: Step| account.session(step.name())), account, approval: execution.approval };
    let observer = ProgressObserver::new(execution.start_time, progress);
    let options = RunOptions { start_time: execution.start_time, ..RunOptions::default() };
    let ran = rehearsal_asl::run(&definition, execution.input, &invoker, &observer, &options)
        .await
        .map_err(|e| LocalError::Runner(e.to_string()))?;
    let ledger = account.ledger();
    let (succeeded, error, cause, output) = match ran.outcome {
        Outcome::Succeeded { output } => (true, None, None, Some(output)),
        Outcome::Failed { error, cause } => (false, Some(error), Some(cause), None),
    };
    let states = observer.spans();
    Ok(MachineReport {
        succeeded,
        error,
        cause,
        output,
        virtual_seconds: ran.elapsed.as_secs_f64(),
        steps: summarize(&states),
        states,
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
