//! Helpers for the promotion and teardown tests: a staging run recorded as Step Functions would
//! keep it, then `promote.asl.json` or `teardown.asl.json` on the same account, later in virtual time.

use crate::{start_time, RUN_ID};
use rehearsal_cli::follow_up::LOCAL_REQUESTER;
use rehearsal_cli::follow_up::{run_execution_on, run_staging_recorded, ApprovalAnswer, ApprovalSettings, LocalExecution, MachineReport};
use rehearsal_cli::follow_up::{PROMOTE_DEFINITION, TEARDOWN_DEFINITION};
use rehearsal_cli::local::LocalRun;
use rehearsal_cli::report::RunStatus;
use rehearsal_core::cloud::Scheduler;
use rehearsal_core::naming::teardown_schedule_name;
use rehearsal_core::plan::SCHEDULE_GROUP;
use rehearsal_sim::SimAccount;
use serde_json::{json, Value};

/// Runs the staging pipeline with `input` and `faults`; answers its execution ARN and status.
pub async fn stage(account: &SimAccount, input: Value, faults: &[&str]) -> (String, RunStatus) {
    let run = LocalRun {
        input,
        faults: faults.iter().map(|f| f.to_string()).collect(),
        start_time: start_time(),
        execution_name: "staging".into(),
    };
    let (report, arn) = run_staging_recorded(account, run, std::io::sink()).await.expect("the staging run completes");
    (arn, report.status)
}

/// A staging run of the runbook's defaults that passed.
pub async fn staged(account: &SimAccount) -> String {
    let (arn, status) = stage(account, json!({}), &[]).await;
    assert_eq!(status, RunStatus::Succeeded, "the staging run failed");
    arn
}

/// A promotion of the run, requested (as the API records it) by `LOCAL_REQUESTER`.
pub fn promotion(staging_execution_arn: &str) -> Value {
    // The runbook's production builds its branch: promoting it means accepting its head.
    json!({"run_id": RUN_ID, "staging_execution_arn": staging_execution_arn, "requested_by": LOCAL_REQUESTER, "accept_branch_head": true})
}

async fn execute(
    account: &SimAccount,
    definition: &str,
    input: Value,
    faults: &[&str],
    approval: ApprovalAnswer,
    stack: ApprovalSettings,
) -> MachineReport {
    let execution = LocalExecution {
        definition,
        input,
        faults: faults.iter().map(|f| f.to_string()).collect(),
        start_time: account.now(),
        approval,
        stack,
    };
    run_execution_on(account, execution, std::io::sink()).await.expect("the execution completes")
}

/// `promote.asl.json` on a stack with the template's defaults (no skipping the approval).
pub async fn promote(account: &SimAccount, input: Value, faults: &[&str], approval: ApprovalAnswer) -> MachineReport {
    execute(account, PROMOTE_DEFINITION, input, faults, approval, ApprovalSettings::default()).await
}

/// `promote.asl.json` on a stack with these settings (`AllowApprovalSkip`, `Approvers`).
pub async fn promote_on(
    account: &SimAccount,
    stack: ApprovalSettings,
    input: Value,
    faults: &[&str],
    approval: ApprovalAnswer,
) -> MachineReport {
    execute(account, PROMOTE_DEFINITION, input, faults, approval, stack).await
}

/// A stack that lets a document skip the approval (`AllowApprovalSkip=true`).
pub fn skipping_allowed() -> ApprovalSettings {
    ApprovalSettings { allow_approval_skip: true, ..ApprovalSettings::default() }
}

pub async fn teardown(account: &SimAccount, input: Value) -> MachineReport {
    execute(account, TEARDOWN_DEFINITION, input, &[], ApprovalAnswer::Never, ApprovalSettings::default()).await
}

/// What the run's teardown schedule would send to the teardown state machine.
pub async fn scheduled_teardown_input(account: &SimAccount) -> Value {
    let schedule = account
        .session("test")
        .get_schedule(SCHEDULE_GROUP, &teardown_schedule_name(RUN_ID))
        .await
        .unwrap()
        .expect("the run's teardown is scheduled");
    serde_json::from_str(&schedule.input).unwrap()
}

/// Subjects of the alerts published during an execution.
pub fn alert_subjects(report: &MachineReport) -> Vec<String> {
    report.notifications.as_array().unwrap().iter().map(|n| n["subject"].as_str().unwrap_or_default().to_string()).collect()
}
