//! Runbook step 1: back production up. A manual snapshot named like the runbook's
//! (`tableicty-production-backup-YYYYMMDD`), tagged with the run; a re-run adopts it.
//! Taking a snapshot reads production; nothing about the instance changes. A promotion takes
//! one more, right before it deploys, with the same code.
//!
//! Steps: `snapshot_production_database` (staging.asl.json `SnapshotProductionDatabase`),
//! `snapshot_production_before_deploy` (promote.asl.json `SnapshotProductionBeforeDeploy`) and
//! `check_production_snapshot` (staging's `CheckProductionSnapshot`, promote's `CheckPredeploySnapshot`).
//! Tests: tests/steps/production_snapshot.rs; end to end, tests/staging_pipeline.rs
//! `happy_path_builds_staging_and_passes_every_check`, `a_rerun_with_the_same_input_adopts_what_exists`,
//! `every_fault_in_every_mutating_step_ends_in_success_or_a_clean_rollback`, and tests/promote_pipeline.rs
//! `a_failure_at_each_promote_step_leaves_production_as_it_was`.

use super::{adopt_if_made_by_run, Deadline, PlanOnly, PromotionOnly};
use crate::cloud::{Clock, Rds};
use crate::error::CloudResultExt;
use crate::phase::{Phase, DB_SNAPSHOT};
use crate::plan::RunPlan;
use crate::tags::RunTags;
use crate::{CloudErrorKind, StepError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `$.snapshot` in the state: what the Choice after each check looks at.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotState {
    pub snapshot_id: String,
    /// RDS snapshot status: `creating`, `available`, `failed`, or `deleted` when it vanished.
    pub status: String,
    /// What the wait loop tests. Every check computes it anew, so an input may leave it out.
    #[serde(default)]
    pub phase: Phase,
    /// True when an earlier attempt of this run had already created it.
    pub reused: bool,
    #[serde(flatten)]
    pub wait: Deadline,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSnapshotInput {
    pub plan: RunPlan,
    pub snapshot: SnapshotState,
}

pub async fn snapshot_production_database<C: Rds + Clock + Sync>(cloud: &C, input: PlanOnly) -> Result<SnapshotState, StepError> {
    let plan = &input.plan;
    let wait = Deadline::start(cloud.now(), plan.timeouts.snapshot_minutes);
    take_snapshot(cloud, &plan.tags, plan.started_at, &plan.production.db_instance_id, &plan.snapshot_id, wait).await
}

/// Runbook step 8.1 and the Rollback Plan's "pre-deployment snapshot": production backed up
/// again right before the deployment, tagged as the promotion's (environment `production`).
pub async fn snapshot_production_before_deploy<C: Rds + Clock + Sync>(cloud: &C, input: PromotionOnly) -> Result<SnapshotState, StepError> {
    let promotion = &input.promotion;
    let wait = Deadline::start(cloud.now(), promotion.plan.timeouts.snapshot_minutes);
    take_snapshot(cloud, &promotion.tags, promotion.started_at, &promotion.plan.production.db_instance_id, &promotion.snapshot_id, wait)
        .await
}

/// Snapshots `instance_id` as `snapshot_id` tagged for `owner`; a retry adopts the snapshot
/// `owner` already took of that same instance since its execution `started_at`, and refuses any
/// other (one taken before, whatever its tags say).
async fn take_snapshot<C: Rds + Clock + Sync>(
    cloud: &C,
    owner: &RunTags,
    started_at: DateTime<Utc>,
    instance_id: &str,
    snapshot_id: &str,
    wait: Deadline,
) -> Result<SnapshotState, StepError> {
    let existing = match cloud.describe_snapshot(snapshot_id).await.op("DescribeDBSnapshots")? {
        Some(snapshot) => Some(snapshot),
        None => match cloud.create_snapshot(instance_id, snapshot_id, &owner.to_tags()).await {
            Ok(created) => return Ok(state(created.id, created.status, false, wait)),
            Err(e) if e.is(CloudErrorKind::AlreadyExists) => cloud.describe_snapshot(snapshot_id).await.op("DescribeDBSnapshots")?,
            // InvalidDBInstanceState: backing up, modifying, in maintenance… The state machine
            // retries for up to half an hour (ProductionBusyError) instead of rolling back.
            Err(e) if e.is(CloudErrorKind::InvalidState) => return Err(StepError::ProductionBusy(format!("CreateDBSnapshot: {e}"))),
            Err(e) => return Err(StepError::from_cloud("CreateDBSnapshot", e)),
        },
    };
    let snapshot = existing.ok_or_else(|| StepError::Transient {
        operation: "CreateDBSnapshot".into(),
        source: crate::CloudError::new(CloudErrorKind::Unavailable, "SnapshotVanished", "reported as existing, then not found"),
    })?;
    adopt_if_made_by_run(owner, started_at, &format!("snapshot {}", snapshot.id), &snapshot.tags, snapshot.created_at)?;
    if snapshot.source_instance_id != instance_id {
        return Err(StepError::ResourceNotOwned {
            resource: format!("snapshot {}", snapshot.id),
            detail: format!("it is a snapshot of {}, not of {instance_id}", snapshot.source_instance_id),
        });
    }
    Ok(state(snapshot.id, snapshot.status, true, wait))
}

pub async fn check_production_snapshot<C: Rds + Clock + Sync>(cloud: &C, input: CheckSnapshotInput) -> Result<SnapshotState, StepError> {
    let previous = input.snapshot;
    let wait = Deadline::check(previous.wait.deadline, cloud.now());
    Ok(match cloud.describe_snapshot(&previous.snapshot_id).await.op("DescribeDBSnapshots")? {
        Some(snapshot) => state(snapshot.id, snapshot.status, previous.reused, wait),
        None => state(previous.snapshot_id, "deleted".into(), previous.reused, wait),
    })
}

fn state(snapshot_id: String, status: String, reused: bool, wait: Deadline) -> SnapshotState {
    SnapshotState { phase: DB_SNAPSHOT.of(&status), snapshot_id, status, reused, wait }
}
