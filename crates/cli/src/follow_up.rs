//! `run --local --then promote|teardown`: the deployed `promote.asl.json` or `teardown.asl.json`,
//! run by the local runner on the same simulated account a staging run used, on a virtual clock.
//!
//! The invoker plays what AWS and the API do around the step Lambdas: `sns:publish` goes to the
//! account's topic, and before the promotion first looks for its decision, the operator decides
//! as told: the API's session writes the decision to `/rehearsal/approvals/<execution>/decision`
//! as the API does, by [`LOCAL_APPROVER`] (someone other than [`LOCAL_REQUESTER`], who asked).

use crate::execution::{definition, execute, RunError};
use crate::invoker::{function_arn, local_substitutions, StepInvoker, ACCOUNT, REGION};
use crate::local::{inject_faults, run_on, LocalRun};
use crate::report::{clock, count, summarize, RunReport, StateSpan, StateSummary};
use chrono::{DateTime, Utc};
use rehearsal_asl::{RunOptions, TaskCall, TaskFailure, TaskInvoker, SNS_PUBLISH};
use rehearsal_core::cloud::{Clock, Scheduler};
use rehearsal_core::naming::teardown_schedule_name;
use rehearsal_core::plan::SCHEDULE_GROUP;
use rehearsal_core::promotion::{bounded_comment, ApprovalDecision, Promotion, Verdict};
use rehearsal_core::steps::Step;
use rehearsal_sim::{SimAccount, SimCloud};
use serde::Serialize;
use serde_json::{json, Value};
use std::cell::Cell;
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

/// The name of a promote or teardown execution run here (`$$.Execution.Name`).
pub const EXECUTION_NAME: &str = "local-follow-up";

/// Who asks for a local promotion (`--then promote`), as the API would record the caller.
pub const LOCAL_REQUESTER: &str = "arn:aws:iam::123456789012:user/local-requester";
/// Who approves it: someone else.
pub const LOCAL_APPROVER: &str = "arn:aws:iam::123456789012:user/local-approver";

/// The stack parameters the promote machine's approval reads (`AllowApprovalSkip`, `Approvers`); the
/// default is the template's: no skipping, any approver but the requester.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApprovalSettings {
    pub allow_approval_skip: bool,
    pub approvers: Vec<String>,
}

/// `local_substitutions` plus what the promote and teardown definitions use besides.
pub fn substitutions(stack: &ApprovalSettings) -> BTreeMap<String, String> {
    let mut values = local_substitutions();
    values.insert("StagingStateMachineArn".into(), staging_state_machine_arn());
    values.insert("AlertTopicArn".into(), rehearsal_sim::seed::ALERT_TOPIC_ARN.into());
    values.insert("AllowApprovalSkip".into(), stack.allow_approval_skip.to_string());
    values.insert("Approvers".into(), stack.approvers.join(","));
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
        accept_branch_head: bool,
        approval: ApprovalAnswer,
        progress: W,
    ) -> Result<MachineReport, RunError> {
        let (definition, input) = match self {
            Then::Promote => (
                PROMOTE_DEFINITION,
                json!({
                    "run_id": staging.run_id,
                    "staging_execution_arn": staging_arn,
                    "requested_by": LOCAL_REQUESTER,
                    "accept_branch_head": accept_branch_head,
                }),
            ),
            Then::Teardown => {
                let schedule =
                    account.session("operator").get_schedule(SCHEDULE_GROUP, &teardown_schedule_name(&staging.run_id)).await.ok().flatten();
                (TEARDOWN_DEFINITION, schedule.and_then(|s| serde_json::from_str(&s.input).ok()).unwrap_or_default())
            }
        };
        let execution = LocalExecution {
            definition,
            input,
            faults: Vec::new(),
            start_time: account.now(),
            approval,
            stack: ApprovalSettings::default(),
        };
        run_execution_on(account, execution, progress).await
    }
}

/// How the local operator answers an approval request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApprovalAnswer {
    /// [`LOCAL_APPROVER`] approves.
    Approve,
    /// This principal approves (the requester, say, to see it refused).
    ApproveAs(String),
    Reject(String),
    /// Nobody answers: the wait expires.
    Never,
}

/// The step Lambdas, plus SNS and the deciding operator.
struct LocalInvoker<'a, F> {
    steps: StepInvoker<'a, F>,
    account: &'a SimAccount,
    approval: ApprovalAnswer,
    decided: Cell<bool>,
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

    /// What the API does with a decision: write it for the promotion `check_approval` looks at.
    async fn decide(&self, call: &TaskCall) -> Result<(), TaskFailure> {
        let (verdict, by, comment) = match &self.approval {
            ApprovalAnswer::Approve => (Verdict::Approved, LOCAL_APPROVER, None),
            ApprovalAnswer::ApproveAs(who) => (Verdict::Approved, who.as_str(), None),
            ApprovalAnswer::Reject(reason) => (Verdict::Rejected, LOCAL_APPROVER, Some(bounded_comment(reason))),
            ApprovalAnswer::Never => return Ok(()),
        };
        let promotion: Promotion = call
            .input
            .get("promotion")
            .and_then(|p| serde_json::from_value(p.clone()).ok())
            .ok_or_else(|| TaskFailure { error: "LocalOperator".into(), cause: "CheckApproval's input has no promotion".into() })?;
        let api = self.account.session("api");
        let decision = ApprovalDecision {
            verdict,
            by: by.to_string(),
            requested_by: promotion.requested_by.clone().unwrap_or_default(),
            promotion_started_at: promotion.started_at,
            decided_at: api.now(),
            comment,
        };
        decision
            .write(&api, &promotion.execution_name)
            .await
            .map_err(|e| TaskFailure { error: format!("SSM.{}", e.code), cause: e.message })?;
        Ok(())
    }
}

impl<F: Fn(Step) -> SimCloud> TaskInvoker for LocalInvoker<'_, F> {
    fn invoke<'a>(&'a self, call: TaskCall) -> Pin<Box<dyn Future<Output = Result<Value, TaskFailure>> + 'a>> {
        Box::pin(async move {
            if call.resource == SNS_PUBLISH {
                return self.publish(&call.input);
            }
            if call.resource == function_arn(Step::CheckApproval) && !self.decided.replace(true) {
                self.decide(&call).await?;
            }
            self.steps.invoke(call).await
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
    pub stack: ApprovalSettings,
}

/// The ARN of the staging execution named `name` in the local account.
pub fn staging_execution_arn(name: &str) -> String {
    format!("{}:{name}", staging_state_machine_arn().replacen(":stateMachine:", ":execution:", 1))
}

/// Runs a staging pipeline (`run_on`, which records its execution in the account as Step
/// Functions would keep it, so that a promotion can read it). Answers the execution's ARN.
pub async fn run_staging_recorded<W: Write>(account: &SimAccount, run: LocalRun, progress: W) -> Result<(RunReport, String), RunError> {
    let report = run_on(account, run, progress).await?;
    let arn = staging_execution_arn(&report.execution_name);
    Ok((report, arn))
}

/// Runs `promote.asl.json` or `teardown.asl.json` (`execution.definition`) on `account`; must be
/// called on a current-thread runtime with paused time.
pub async fn run_execution_on<W: Write>(
    account: &SimAccount,
    execution: LocalExecution<'_>,
    progress: W,
) -> Result<MachineReport, RunError> {
    let definition = definition(execution.definition, &substitutions(&execution.stack))?;
    inject_faults(account, &execution.faults)?;
    let before = account.ledger();
    let invoker = LocalInvoker {
        steps: StepInvoker::new(|step: Step| account.session(step.name()))
            .delivering(|step| account.deliveries(step.name()))
            .slowed_by(|step| account.take_latency(step.name())),
        account,
        approval: execution.approval,
        decided: Cell::new(false),
    };
    let options = RunOptions { start_time: execution.start_time, execution_name: EXECUTION_NAME.into(), ..RunOptions::default() };
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
