//! The cost section of the runbook: staging must not outlive its use. An EventBridge Scheduler
//! one-time schedule starts the teardown state machine when the run's time to live is over.
//! It is created early, beside the slow restore, so even a run that dies half-way is cleaned up.

use crate::cloud::{OneTimeSchedule, Scheduler};
use crate::error::CloudResultExt;
use crate::plan::{RunPlan, SCHEDULE_GROUP};
use crate::{CloudErrorKind, StepError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleInput {
    pub plan: RunPlan,
    /// `${TeardownStateMachineArn}`.
    pub teardown_state_machine_arn: String,
    /// `${SchedulerRoleArn}`: the role the scheduler assumes to start the teardown.
    pub scheduler_role_arn: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduledTeardown {
    pub name: String,
    pub group: String,
    pub at: DateTime<Utc>,
    pub reused: bool,
}

/// The schedule a run wants; the teardown machine receives the plan.
pub fn teardown_schedule(plan: &RunPlan, target_arn: &str, role_arn: &str) -> OneTimeSchedule {
    OneTimeSchedule {
        name: plan.teardown_schedule_name(),
        group: SCHEDULE_GROUP.to_string(),
        // From the planned start, not from now: a retried step schedules the same moment.
        at: plan.started_at + chrono::Duration::hours(i64::from(plan.ttl_hours)),
        target_arn: target_arn.to_string(),
        role_arn: role_arn.to_string(),
        input: json!({ "plan": plan, "reason": "time to live" }).to_string(),
    }
}

/// Schedules carry no tags: the run a schedule tears down is read from its input.
pub fn scheduled_run_id(schedule: &OneTimeSchedule) -> Option<String> {
    let input: serde_json::Value = serde_json::from_str(&schedule.input).ok()?;
    input.pointer("/plan/run_id")?.as_str().map(str::to_string)
}

/// A schedule is this run's when it has this run's name, target and run id.
fn is_this_runs(existing: &OneTimeSchedule, wanted: &OneTimeSchedule, plan: &RunPlan) -> bool {
    existing.target_arn == wanted.target_arn && scheduled_run_id(existing).as_deref() == Some(plan.run_id.as_str())
}

pub async fn schedule_staging_teardown<C: Scheduler + Sync>(cloud: &C, input: ScheduleInput) -> Result<ScheduledTeardown, StepError> {
    let plan = &input.plan;
    let wanted = teardown_schedule(plan, &input.teardown_state_machine_arn, &input.scheduler_role_arn);
    let existing = match cloud.get_schedule(&wanted.group, &wanted.name).await.op("GetSchedule")? {
        Some(existing) => existing,
        None => match cloud.create_schedule(&wanted).await {
            Ok(()) => return Ok(ScheduledTeardown { name: wanted.name, group: wanted.group, at: wanted.at, reused: false }),
            Err(e) if e.is(CloudErrorKind::AlreadyExists) => cloud
                .get_schedule(&wanted.group, &wanted.name)
                .await
                .op("GetSchedule")?
                .ok_or_else(|| StepError::from_cloud("CreateSchedule", e))?,
            Err(e) => return Err(StepError::from_cloud("CreateSchedule", e)),
        },
    };
    if !is_this_runs(&existing, &wanted, plan) {
        return Err(StepError::ResourceNotOwned {
            resource: format!("schedule {}/{}", wanted.group, wanted.name),
            detail: "it does not start this run's teardown".into(),
        });
    }
    Ok(ScheduledTeardown { name: existing.name, group: existing.group, at: existing.at, reused: true })
}
