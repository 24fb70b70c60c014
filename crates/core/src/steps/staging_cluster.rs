//! `staging.source: aurora-clone`: production's Aurora cluster cloned copy-on-write
//! (RestoreDBClusterToPointInTime, latest restorable time) with production's subnet group,
//! security groups and cluster parameter group set explicitly, tagged with the run, then watched
//! until it is available; `restore_staging_database` then adds the staging instance to it.
//!
//! Steps: `clone_staging_cluster` (staging.asl.json `CloneStagingCluster`) and
//! `check_staging_cluster` (`CheckStagingCluster`). Tests: end to end, tests/staging_pipeline.rs
//! `aurora_clone_*` and `a_source_that_cannot_copy_production_s_database_is_refused_before_any_write_naming_staging_source`,
//! tests/teardown.rs `an_aurora_clone_is_torn_down_instance_first_then_the_cluster_with_its_final_snapshot`;
//! the adapter, crates/aws/tests/moto `an_aurora_clone_gets_its_instance_a_new_password_and_is_deleted_after_it`.

use super::{adopt_if_made_by_run, Deadline};
use crate::cloud::{Clock, CloneRequest, DbCluster, Rds};
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
pub struct CloneInput {
    pub plan: RunPlan,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckClusterInput {
    pub plan: RunPlan,
    pub cluster: ClusterState,
}

/// The plan's clone: a plan without one was not made for `aurora-clone`.
pub(crate) fn planned_clone(plan: &RunPlan) -> Result<&StagingClusterPlan, StepError> {
    plan.staging_db.cluster.as_ref().ok_or_else(|| StepError::MalformedInput("the plan clones no Aurora cluster".into()))
}

pub async fn clone_staging_cluster<C: Rds + Clock + Sync>(cloud: &C, input: CloneInput) -> Result<ClusterState, StepError> {
    let plan = &input.plan;
    let clone = planned_clone(plan)?;
    StagingGuard::new(plan).cluster_write(&clone.cluster_id)?;
    // A clone comes up in minutes whatever the size; the restore's bound covers it.
    let wait = Deadline::start(cloud.now(), plan.timeouts.restore_minutes);
    let existing = match cloud.describe_cluster(&clone.cluster_id).await.op("DescribeDBClusters")? {
        Some(cluster) => cluster,
        None => {
            let request = CloneRequest {
                cluster_id: clone.cluster_id.clone(),
                source_cluster_id: clone.source_cluster_id.clone(),
                subnet_group: plan.staging_db.subnet_group.clone(),
                security_group_ids: plan.staging_db.security_group_ids.clone(),
                parameter_group: clone.parameter_group.clone(),
                tags: plan.tags.to_tags(),
            };
            match cloud.clone_cluster(&request).await {
                Ok(created) => return Ok(state(created, false, wait)),
                Err(e) if e.is(CloudErrorKind::AlreadyExists) => cloud
                    .describe_cluster(&clone.cluster_id)
                    .await
                    .op("DescribeDBClusters")?
                    .ok_or_else(|| StepError::from_cloud("RestoreDBClusterToPointInTime", e))?,
                Err(e) => return Err(StepError::from_cloud("RestoreDBClusterToPointInTime", e)),
            }
        }
    };
    adopt_if_made_by_run(&plan.tags, plan.started_at, &format!("DB cluster {}", existing.id), &existing.tags, existing.created_at)?;
    Ok(state(existing, true, wait))
}

/// Reads the clone's status, once.
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
