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
use crate::cloud::{Clock, DbSnapshot, Rds};
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
    /// A cluster snapshot (`staging.source: snapshot` on an Aurora production).
    #[serde(default)]
    pub of_cluster: bool,
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
    let source = match (&plan.production.db_cluster_id, plan.staging_db.snapshot_cluster) {
        // RDS snapshots a cluster's database by cluster: an instance snapshot of a member is refused.
        (Some(cluster_id), true) => SnapshotOf::Cluster(cluster_id),
        _ => SnapshotOf::Instance(&plan.production.db_instance_id),
    };
    take_snapshot(cloud, &plan.tags, plan.started_at, source, &plan.snapshot_id, wait).await
}

/// Runbook step 8.1 and the Rollback Plan's "pre-deployment snapshot": production backed up
/// again right before the deployment, tagged as the promotion's (environment `production`).
pub async fn snapshot_production_before_deploy<C: Rds + Clock + Sync>(cloud: &C, input: PromotionOnly) -> Result<SnapshotState, StepError> {
    let promotion = &input.promotion;
    let wait = Deadline::start(cloud.now(), promotion.plan.timeouts.snapshot_minutes);
    let source = SnapshotOf::Instance(&promotion.plan.production.db_instance_id);
    take_snapshot(cloud, &promotion.tags, promotion.started_at, source, &promotion.snapshot_id, wait).await
}

/// What a snapshot is taken of.
#[derive(Debug, Clone, Copy)]
enum SnapshotOf<'a> {
    Instance(&'a str),
    Cluster(&'a str),
}

/// A snapshot, an instance's or (`of_cluster`) a cluster's.
pub(crate) async fn describe_snapshot<C: Rds + Sync>(
    cloud: &C,
    of_cluster: bool,
    snapshot_id: &str,
) -> Result<Option<DbSnapshot>, StepError> {
    match of_cluster {
        false => cloud.describe_snapshot(snapshot_id).await.op("DescribeDBSnapshots"),
        true => cloud.describe_cluster_snapshot(snapshot_id).await.op("DescribeDBClusterSnapshots"),
    }
}

/// Snapshots `source` as `snapshot_id` tagged for `owner`; a retry adopts the snapshot `owner`
/// already took of that same source since its execution `started_at`, and refuses any other
/// (one taken before, whatever its tags say).
async fn take_snapshot<C: Rds + Clock + Sync>(
    cloud: &C,
    owner: &RunTags,
    started_at: DateTime<Utc>,
    source: SnapshotOf<'_>,
    snapshot_id: &str,
    wait: Deadline,
) -> Result<SnapshotState, StepError> {
    let (of_cluster, source_id, operation) = match source {
        SnapshotOf::Instance(id) => (false, id, "CreateDBSnapshot"),
        SnapshotOf::Cluster(id) => (true, id, "CreateDBClusterSnapshot"),
    };
    let existing = match describe_snapshot(cloud, of_cluster, snapshot_id).await? {
        Some(snapshot) => Some(snapshot),
        None => {
            let created = match source {
                SnapshotOf::Instance(id) => cloud.create_snapshot(id, snapshot_id, &owner.to_tags()).await,
                SnapshotOf::Cluster(id) => cloud.create_cluster_snapshot(id, snapshot_id, &owner.to_tags()).await,
            };
            match created {
                Ok(created) => return Ok(state(created.id, created.status, false, of_cluster, wait)),
                Err(e) if e.is(CloudErrorKind::AlreadyExists) => describe_snapshot(cloud, of_cluster, snapshot_id).await?,
                // InvalidDBInstanceState: backing up, modifying, in maintenance… The state machine
                // retries for up to half an hour (ProductionBusyError) instead of rolling back.
                Err(e) if e.is(CloudErrorKind::InvalidState) => return Err(StepError::ProductionBusy(format!("{operation}: {e}"))),
                Err(e) => return Err(StepError::from_cloud(operation, e)),
            }
        }
    };
    let snapshot = existing.ok_or_else(|| StepError::Transient {
        operation: operation.into(),
        source: crate::CloudError::new(CloudErrorKind::Unavailable, "SnapshotVanished", "reported as existing, then not found"),
    })?;
    adopt_if_made_by_run(owner, started_at, &format!("snapshot {}", snapshot.id), &snapshot.tags, snapshot.created_at)?;
    if snapshot.source_id != source_id {
        return Err(StepError::ResourceNotOwned {
            resource: format!("snapshot {}", snapshot.id),
            detail: format!("it is a snapshot of {}, not of {source_id}", snapshot.source_id),
        });
    }
    Ok(state(snapshot.id, snapshot.status, true, of_cluster, wait))
}

pub async fn check_production_snapshot<C: Rds + Clock + Sync>(cloud: &C, input: CheckSnapshotInput) -> Result<SnapshotState, StepError> {
    let previous = input.snapshot;
    let wait = Deadline::check(previous.wait.deadline, cloud.now());
    Ok(match describe_snapshot(cloud, previous.of_cluster, &previous.snapshot_id).await? {
        Some(snapshot) => state(snapshot.id, snapshot.status, previous.reused, previous.of_cluster, wait),
        None => state(previous.snapshot_id, "deleted".into(), previous.reused, previous.of_cluster, wait),
    })
}

fn state(snapshot_id: String, status: String, reused: bool, of_cluster: bool, wait: Deadline) -> SnapshotState {
    SnapshotState { phase: DB_SNAPSHOT.of(&status), snapshot_id, status, reused, of_cluster, wait }
}
