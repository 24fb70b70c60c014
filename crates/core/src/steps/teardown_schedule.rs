//! The cost section of the runbook: staging must not outlive its use. An EventBridge Scheduler
//! one-time schedule starts the teardown state machine when the run's time to live is over.
//! It is created early, beside the slow restore, so even a run that dies half-way is cleaned up.
//! A successful promotion moves it forward: staging goes soon after production has the release.
//!
//! Steps: `schedule_staging_teardown` (staging.asl.json `ScheduleStagingTeardown`),
//! `schedule_teardown_after_promotion` (promote.asl.json `ScheduleStagingTeardown`). Tests:
//! tests/steps/teardown_schedule.rs; end to end, tests/staging_pipeline.rs
//! `every_fault_in_every_mutating_step_ends_in_success_or_a_clean_rollback`, tests/promote_pipeline.rs
//! `an_approved_promotion_deploys_backfills_checks_production_and_moves_the_teardown`, and tests/teardown.rs
//! (which starts from the schedule's input).

use crate::cloud::{Clock, OneTimeSchedule, Scheduler};
use crate::error::CloudResultExt;
use crate::plan::{RunPlan, SCHEDULE_GROUP};
use crate::promotion::Promotion;
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromotedTeardownInput {
    pub promotion: Promotion,
    pub teardown_state_machine_arn: String,
    pub scheduler_role_arn: String,
}

/// Why the teardown of a promoted run fires.
const PROMOTED: &str = "promoted";

/// The schedule a run wants; the teardown machine receives the plan.
pub fn teardown_schedule(plan: &RunPlan, target_arn: &str, role_arn: &str) -> OneTimeSchedule {
    // From the planned start, not from now: a retried step schedules the same moment.
    let at = plan.started_at + chrono::Duration::hours(i64::from(plan.ttl_hours));
    schedule_at(plan, target_arn, role_arn, at, "time to live")
}

fn schedule_at(plan: &RunPlan, target_arn: &str, role_arn: &str, at: DateTime<Utc>, reason: &str) -> OneTimeSchedule {
    OneTimeSchedule {
        name: plan.teardown_schedule_name(),
        group: SCHEDULE_GROUP.to_string(),
        at,
        target_arn: target_arn.to_string(),
        role_arn: role_arn.to_string(),
        input: json!({ "plan": plan, "reason": reason }).to_string(),
    }
}

fn scheduled_reason(schedule: &OneTimeSchedule) -> Option<String> {
    let input: serde_json::Value = serde_json::from_str(&schedule.input).ok()?;
    input.get("reason")?.as_str().map(str::to_string)
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

/// Moves the run's teardown to `teardown_delay_minutes` from now (the schedule is replaced: an
/// `at()` expression cannot be edited in place); a retry finds it moved already and keeps it.
pub async fn schedule_teardown_after_promotion<C: Scheduler + Clock + Sync>(
    cloud: &C,
    input: PromotedTeardownInput,
) -> Result<ScheduledTeardown, StepError> {
    let plan = &input.promotion.plan;
    let at = cloud.now() + chrono::Duration::minutes(i64::from(input.promotion.teardown_delay_minutes));
    let wanted = schedule_at(plan, &input.teardown_state_machine_arn, &input.scheduler_role_arn, at, PROMOTED);
    if let Some(existing) = cloud.get_schedule(&wanted.group, &wanted.name).await.op("GetSchedule")? {
        if !is_this_runs(&existing, &wanted, plan) {
            return Err(not_this_runs(&wanted));
        }
        if scheduled_reason(&existing).as_deref() == Some(PROMOTED) {
            return Ok(ScheduledTeardown { name: existing.name, group: existing.group, at: existing.at, reused: true });
        }
        // Updated in place: a delete then a create would leave staging without its teardown if
        // the create failed (a schedule of the same name made meanwhile, say).
        cloud.update_schedule(&wanted).await.op("UpdateSchedule")?;
        return Ok(ScheduledTeardown { name: wanted.name, group: wanted.group, at: wanted.at, reused: false });
    }
    cloud.create_schedule(&wanted).await.op("CreateSchedule")?;
    Ok(ScheduledTeardown { name: wanted.name, group: wanted.group, at: wanted.at, reused: false })
}

fn not_this_runs(wanted: &OneTimeSchedule) -> StepError {
    StepError::ResourceNotOwned {
        resource: format!("schedule {}/{}", wanted.group, wanted.name),
        detail: "it does not start this run's teardown".into(),
    }
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
        return Err(not_this_runs(&wanted));
    }
    Ok(ScheduledTeardown { name: existing.name, group: existing.group, at: existing.at, reused: true })
}
