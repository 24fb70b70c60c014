//! Runbook step 2: restore the production snapshot as the staging instance (small class, same
//! subnet group and security groups, never public), then watch it until it is available.
//!
//! Steps: `restore_staging_database` (staging.asl.json `RestoreStagingDatabase`) and, with one
//! handler, `check_staging_database` (staging's `CheckStagingDatabase`) and
//! `check_restored_production_database` (promote.asl.json `CheckRestoredDatabase`). Tests:
//! tests/steps/staging_database.rs (the restored copy's check: tests/steps/production_rollback.rs); end to
//! end, tests/staging_pipeline.rs `a_rerun_with_the_same_input_adopts_what_exists`,
//! `a_foreign_resource_under_a_planned_name_is_refused_and_kept`,
//! `every_fault_in_every_mutating_step_ends_in_success_or_a_clean_rollback`, and tests/promote_pipeline.rs
//! `a_failure_at_each_promote_step_leaves_production_as_it_was`.

use super::{adopt_or_refuse, Deadline};
use crate::cloud::{Clock, DbInstance, Endpoint, Rds, RestoreRequest};
use crate::error::CloudResultExt;
use crate::guard::StagingGuard;
use crate::phase::{Phase, DB_INSTANCE};
use crate::plan::RunPlan;
use crate::{CloudErrorKind, StepError};
use serde::{Deserialize, Serialize};

/// `$.database` in the state.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseState {
    pub instance_id: String,
    /// RDS status: `creating`, `backing-up`, `available`, `failed`, `incompatible-restore`, …,
    /// or `deleted` when it vanished.
    pub status: String,
    /// What the wait loop tests. Every check computes it anew, so an input may leave it out.
    #[serde(default)]
    pub phase: Phase,
    pub endpoint: Option<Endpoint>,
    pub reused: bool,
    #[serde(flatten)]
    pub wait: Deadline,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreInput {
    pub plan: RunPlan,
    /// The production snapshot, available.
    pub snapshot_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckDatabaseInput {
    pub plan: RunPlan,
    pub database: DatabaseState,
}

pub async fn restore_staging_database<C: Rds + Clock + Sync>(cloud: &C, input: RestoreInput) -> Result<DatabaseState, StepError> {
    let plan = &input.plan;
    let staging = &plan.staging_db;
    StagingGuard::new(plan).db_write(&staging.instance_id)?;
    let wait = Deadline::start(cloud.now(), plan.timeouts.restore_minutes);
    let existing = match cloud.describe_instance(&staging.instance_id).await.op("DescribeDBInstances")? {
        Some(instance) => instance,
        None => {
            let request = RestoreRequest {
                instance_id: staging.instance_id.clone(),
                snapshot_id: input.snapshot_id.clone(),
                class: staging.class.clone(),
                subnet_group: staging.subnet_group.clone(),
                security_group_ids: staging.security_group_ids.clone(),
                publicly_accessible: staging.publicly_accessible,
                tags: plan.tags.to_tags(),
            };
            match cloud.restore_instance_from_snapshot(&request).await {
                Ok(created) => return Ok(state(created, false, wait)),
                Err(e) if e.is(CloudErrorKind::AlreadyExists) => cloud
                    .describe_instance(&staging.instance_id)
                    .await
                    .op("DescribeDBInstances")?
                    .ok_or_else(|| StepError::from_cloud("RestoreDBInstanceFromDBSnapshot", e))?,
                Err(e) => return Err(StepError::from_cloud("RestoreDBInstanceFromDBSnapshot", e)),
            }
        }
    };
    adopt_or_refuse(&plan.tags, &format!("DB instance {}", existing.id), &existing.tags)?;
    Ok(state(existing, true, wait))
}

/// Reads an instance's status, once: staging's (`check_staging_database`) and, during a production
/// rollback, the restored copy's (`check_restored_production_database`).
pub async fn check_database<C: Rds + Clock + Sync>(cloud: &C, input: CheckDatabaseInput) -> Result<DatabaseState, StepError> {
    let previous = input.database;
    let wait = Deadline::check(previous.wait.deadline, cloud.now());
    Ok(match cloud.describe_instance(&previous.instance_id).await.op("DescribeDBInstances")? {
        Some(instance) => state(instance, previous.reused, wait),
        None => DatabaseState { status: "deleted".into(), phase: Phase::Gone, endpoint: None, wait, ..previous },
    })
}

pub(crate) fn state(instance: DbInstance, reused: bool, wait: Deadline) -> DatabaseState {
    let phase = DB_INSTANCE.of(&instance.status);
    DatabaseState { instance_id: instance.id, status: instance.status, phase, endpoint: instance.endpoint, reused, wait }
}
