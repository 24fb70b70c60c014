//! Staging's copy of an Aurora production's cluster, its network and settings (production's
//! subnet group, security groups and cluster parameter group) set explicitly, tagged with the
//! run, then watched until it is available; `restore_staging_database` then adds the staging
//! instance to it. With `staging.source: aurora-clone` the copy is a copy-on-write clone
//! (RestoreDBClusterToPointInTime, latest restorable time); with `snapshot` it is restored from the
//! safety cluster snapshot (RestoreDBClusterFromSnapshot).
//!
//! Steps: `create_staging_cluster` (staging.asl.json `CloneStagingCluster`, `RestoreStagingCluster`)
//! and `check_staging_cluster` (`CheckStagingCluster`). Tests: end to end, tests/staging_pipeline.rs
//! `aurora_clone_*`, `aurora_snapshot_*` and
//! `a_source_that_cannot_copy_production_s_database_is_refused_before_any_write_naming_staging_source`,
//! tests/teardown.rs `an_aurora_clone_is_torn_down_instance_first_then_the_cluster_with_its_final_snapshot`;
//! the adapter, crates/aws/tests/moto `an_aurora_clone_gets_its_instance_a_new_password_and_is_deleted_after_it`,
//! `an_aurora_cluster_snapshot_is_restored_as_a_new_cluster`.

use super::{adopt_if_made_by_run, Deadline};
use crate::cloud::{Clock, ClusterCopyRequest, ClusterSource, DbCluster, Rds};
use crate::error::CloudResultExt;
use crate::guard::StagingGuard;
use crate::phase::{Phase, DB_CLUSTER};
use crate::plan::{RunPlan, StagingClusterPlan};
use crate::{CloudErrorKind, StepError};
use serde::{Deserialize, Serialize};

/// `$.cluster` in the state.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterState {
    pub cluster_id: String,
    /// RDS status: `creating`, `available`, `cloning-failed`, …, or `deleted` when it vanished.
    pub status: String,
    /// What the wait loop tests; every check computes it anew.
    #[serde(default)]
    pub phase: Phase,
    pub reused: bool,
    #[serde(flatten)]
    pub wait: Deadline,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateClusterInput {
    pub plan: RunPlan,
    /// The safety cluster snapshot, available: given with `staging.source` `snapshot` only
    /// (`RestoreStagingCluster`); `CloneStagingCluster` gives none.
    #[serde(default)]
    pub snapshot_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckClusterInput {
    pub plan: RunPlan,
    pub cluster: ClusterState,
}

/// The plan's copy of production's cluster: a plan without one was not made for an Aurora production.
pub(crate) fn planned_clone(plan: &RunPlan) -> Result<&StagingClusterPlan, StepError> {
    plan.staging_db.cluster.as_ref().ok_or_else(|| StepError::MalformedInput("the plan clones no Aurora cluster".into()))
}

pub async fn create_staging_cluster<C: Rds + Clock + Sync>(cloud: &C, input: CreateClusterInput) -> Result<ClusterState, StepError> {
    let plan = &input.plan;
    let copy = planned_clone(plan)?;
    StagingGuard::new(plan).cluster_write(&copy.cluster_id)?;
    // A clone comes up in minutes whatever the size; the restore's bound covers it.
    let wait = Deadline::start(cloud.now(), plan.timeouts.restore_minutes);
    let source = match (plan.staging_db.snapshot_cluster, input.snapshot_id) {
        (false, None) => ClusterSource::CopyOnWrite { source_cluster_id: copy.source_cluster_id.clone() },
        (true, Some(snapshot_id)) => ClusterSource::Snapshot { snapshot_id, engine: copy.engine.clone() },
        (from_snapshot, snapshot) => {
            return Err(StepError::MalformedInput(format!(
                "the plan copies production's cluster {}, but the state gave the snapshot {snapshot:?}",
                if from_snapshot { "from the safety cluster snapshot" } else { "copy-on-write" }
            )))
        }
    };
    let operation = source.operation();
    let existing = match cloud.describe_cluster(&copy.cluster_id).await.op("DescribeDBClusters")? {
        Some(cluster) => cluster,
        None => {
            let request = ClusterCopyRequest {
                cluster_id: copy.cluster_id.clone(),
                source,
                subnet_group: plan.staging_db.subnet_group.clone(),
                security_group_ids: plan.staging_db.security_group_ids.clone(),
                parameter_group: copy.parameter_group.clone(),
                tags: plan.tags.to_tags(),
            };
            match cloud.copy_cluster(&request).await {
                Ok(created) => return Ok(state(created, false, wait)),
                Err(e) if e.is(CloudErrorKind::AlreadyExists) => cloud
                    .describe_cluster(&copy.cluster_id)
                    .await
                    .op("DescribeDBClusters")?
                    .ok_or_else(|| StepError::from_cloud(operation, e))?,
                Err(e) => return Err(StepError::from_cloud(operation, e)),
            }
        }
    };
    adopt_if_made_by_run(&plan.tags, plan.started_at, &format!("DB cluster {}", existing.id), &existing.tags, existing.created_at)?;
    Ok(state(existing, true, wait))
}

/// Reads the copy's status, once.
pub async fn check_staging_cluster<C: Rds + Clock + Sync>(cloud: &C, input: CheckClusterInput) -> Result<ClusterState, StepError> {
    let previous = input.cluster;
    let wait = Deadline::check(previous.wait.deadline, cloud.now());
    Ok(match cloud.describe_cluster(&previous.cluster_id).await.op("DescribeDBClusters")? {
        Some(cluster) => state(cluster, previous.reused, wait),
        None => ClusterState { status: "deleted".into(), phase: Phase::Gone, wait, ..previous },
    })
}

fn state(cluster: DbCluster, reused: bool, wait: Deadline) -> ClusterState {
    let phase = DB_CLUSTER.of(&cluster.status);
    ClusterState { cluster_id: cluster.id, status: cluster.status, phase, reused, wait }
}
