//! Runbook step 2: restore the production snapshot as the staging instance (small class, same
//! subnet group and security groups, never public), then watch it until it is available. A
//! restored copy keeps production's master password, so it then gets the password of the staging
//! DATABASE_URL (ModifyDBInstance), watched the same way until it is applied.
//!
//! Steps: `restore_staging_database` (staging.asl.json `RestoreStagingDatabase`),
//! `reset_staging_database_password` (`ResetStagingDatabasePassword`) and, with one
//! handler, `check_staging_database` (staging's `CheckStagingDatabase`) and
//! `check_restored_production_database` (promote.asl.json `CheckRestoredDatabase`). Tests:
//! tests/steps/staging_database.rs (the restored copy's check: tests/steps/production_rollback.rs); end to
//! end, tests/staging_pipeline.rs `a_rerun_with_the_same_input_adopts_what_exists`,
//! `a_foreign_resource_under_a_planned_name_is_refused_and_kept`,
//! `every_fault_in_every_mutating_step_ends_in_success_or_a_clean_rollback`, and tests/promote_pipeline.rs
//! `a_failure_at_each_promote_step_leaves_production_as_it_was`.

use super::staging_cluster::planned_clone;
use super::{adopt_if_made_by_run, required_parameter, Deadline};
use crate::cloud::{Clock, ClusterInstanceRequest, DbCluster, DbInstance, Endpoint, ParameterStore, Rds, RestoreRequest, RestoreSource};
use crate::database_url::target;
use crate::error::CloudResultExt;
use crate::guard::StagingGuard;
use crate::phase::{Phase, DB_CLUSTER, DB_INSTANCE};
use crate::plan::{RunPlan, DATABASE_URL};
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
    /// The production snapshot, available: given with `staging.source` `snapshot` only
    /// (`RestoreStagingDatabase`); `RestoreStagingDatabaseToPointInTime` gives none.
    #[serde(default)]
    pub snapshot_id: Option<String>,
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
        None if staging.cluster.is_some() => return create_instance_in_clone(cloud, plan, wait).await,
        None => {
            let source = match (staging.restore_from_backups, &input.snapshot_id) {
                (false, Some(snapshot_id)) => RestoreSource::Snapshot(snapshot_id.clone()),
                (true, None) => RestoreSource::LatestRestorableTime { source_instance_id: plan.production.db_instance_id.clone() },
                (from_backups, snapshot) => {
                    return Err(StepError::MalformedInput(format!(
                        "the plan restores from {}, but the state gave the snapshot {snapshot:?}",
                        if from_backups { "production's automated backups" } else { "the safety snapshot" }
                    )))
                }
            };
            let operation = source.operation();
            let request = RestoreRequest {
                instance_id: staging.instance_id.clone(),
                source,
                class: staging.class.clone(),
                subnet_group: staging.subnet_group.clone(),
                security_group_ids: staging.security_group_ids.clone(),
                parameter_group: staging.parameter_group.clone(),
                option_group: staging.option_group.clone(),
                // Hard-coded, not the plan's: a forged plan handed to this function directly
                // still gets a private copy of production's data.
                publicly_accessible: false,
                tags: plan.tags.to_tags(),
            };
            match cloud.restore_instance(&request).await {
                Ok(created) => return Ok(state(created, false, wait)),
                Err(e) if e.is(CloudErrorKind::AlreadyExists) => cloud
                    .describe_instance(&staging.instance_id)
                    .await
                    .op("DescribeDBInstances")?
                    .ok_or_else(|| StepError::from_cloud(operation, e))?,
                Err(e) => return Err(StepError::from_cloud(operation, e)),
            }
        }
    };
    adopt_if_made_by_run(&plan.tags, plan.started_at, &format!("DB instance {}", existing.id), &existing.tags, existing.created_at)?;
    match existing.cluster_id.clone() {
        Some(cluster_id) => with_its_cluster(cloud, state(existing, true, wait), &cluster_id).await,
        None => Ok(state(existing, true, wait)),
    }
}

/// RDS's status while it applies a new master password.
const RESETTING_MASTER_CREDENTIALS: &str = "resetting-master-credentials";

/// `aurora-clone`: the copy is the cloned cluster, available; the staging instance joins it.
async fn create_instance_in_clone<C: Rds + Clock + Sync>(cloud: &C, plan: &RunPlan, wait: Deadline) -> Result<DatabaseState, StepError> {
    let staging = &plan.staging_db;
    let clone = planned_clone(plan)?;
    let request = ClusterInstanceRequest {
        instance_id: staging.instance_id.clone(),
        cluster_id: clone.cluster_id.clone(),
        engine: clone.engine.clone(),
        class: staging.class.clone(),
        parameter_group: staging.parameter_group.clone(),
        // As for a restore: never the plan's.
        publicly_accessible: false,
        tags: plan.tags.to_tags(),
    };
    let (instance, reused) = match cloud.create_cluster_instance(&request).await {
        Ok(created) => (created, false),
        Err(e) if e.is(CloudErrorKind::AlreadyExists) => {
            let existing = cloud
                .describe_instance(&staging.instance_id)
                .await
                .op("DescribeDBInstances")?
                .ok_or_else(|| StepError::from_cloud("CreateDBInstance", e))?;
            adopt_if_made_by_run(
                &plan.tags,
                plan.started_at,
                &format!("DB instance {}", existing.id),
                &existing.tags,
                existing.created_at,
            )?;
            (existing, true)
        }
        Err(e) => return Err(StepError::from_cloud("CreateDBInstance", e)),
    };
    // The cluster's endpoint is known already: DATABASE_URL and the password reset need not wait
    // for the instance.
    with_its_cluster(cloud, state(instance, reused, wait), &clone.cluster_id).await
}

/// Minutes a master password reset may take before the run gives up (RDS applies it in about a
/// minute or two).
const PASSWORD_RESET_MINUTES: u32 = 30;

/// Gives the restored copy the password of the staging DATABASE_URL, which
/// `write_staging_database_url` generated and keeps only in that SecureString: the copy stops
/// answering to production's password. Only the master user's password can be set this way;
/// a DATABASE_URL that logs in as another user is refused (that login would keep production's
/// password). The answer is the instance `in_progress` until `check_staging_database` sees the
/// change applied.
pub async fn reset_staging_database_password<C: Rds + ParameterStore + Clock + Sync>(
    cloud: &C,
    input: CheckDatabaseInput,
) -> Result<DatabaseState, StepError> {
    let plan = &input.plan;
    let id = &plan.staging_db.instance_id;
    StagingGuard::new(plan).db_write(id)?;
    let instance = cloud
        .describe_instance(id)
        .await
        .op("DescribeDBInstances")?
        .ok_or_else(|| StepError::ResourceNotOwned { resource: format!("DB instance {id}"), detail: "it does not exist".into() })?;
    adopt_if_made_by_run(&plan.tags, plan.started_at, &format!("DB instance {id}"), &instance.tags, instance.created_at)?;
    let url = required_parameter(cloud, &plan.staging_parameter(DATABASE_URL)).await?;
    let login = target(&url).map_err(StepError::ProductionNotReady)?;
    if login.user != instance.master_username {
        return Err(StepError::ProductionNotReady(format!(
            "DATABASE_URL logs in as {:?}, not as the master user {:?}: only the master's password can be reset, and staging would keep \
             production's password for that login",
            login.user, instance.master_username
        )));
    }
    let wait = Deadline::start(cloud.now(), PASSWORD_RESET_MINUTES);
    match &instance.cluster_id {
        // An Aurora instance's master password is its cluster's (ModifyDBInstance refuses it).
        Some(cluster_id) => {
            StagingGuard::new(plan).cluster_write(cluster_id)?;
            // As below: this step's own reset, whose answer was lost, is under way.
            let under_way = cloud.describe_cluster(cluster_id).await.op("DescribeDBClusters")?;
            let cluster = match under_way {
                Some(c) if c.status == RESETTING_MASTER_CREDENTIALS || c.master_password_pending => c,
                _ => cloud.reset_cluster_master_password(cluster_id, &login.password).await.op("ModifyDBCluster")?,
            };
            Ok(with_cluster(state(instance, input.database.reused, wait), &cluster))
        }
        // This step run again after its ModifyDBInstance took effect but the answer was lost:
        // the run's own reset (to the same password, the one DATABASE_URL holds) is under way,
        // and a second one would be refused while it is.
        None if instance.status == RESETTING_MASTER_CREDENTIALS || instance.master_password_pending => {
            Ok(state(instance, input.database.reused, wait))
        }
        None => {
            let modified = cloud.reset_master_password(id, &login.password).await.op("ModifyDBInstance")?;
            Ok(state(modified, input.database.reused, wait))
        }
    }
}

/// Reads an instance's status, once: staging's (`check_staging_database`) and, during a production
/// rollback, the restored copy's (`check_restored_production_database`).
pub async fn check_database<C: Rds + Clock + Sync>(cloud: &C, input: CheckDatabaseInput) -> Result<DatabaseState, StepError> {
    let previous = input.database;
    let wait = Deadline::check(previous.wait.deadline, cloud.now());
    Ok(match cloud.describe_instance(&previous.instance_id).await.op("DescribeDBInstances")? {
        Some(instance) => match instance.cluster_id.clone() {
            Some(cluster_id) => with_its_cluster(cloud, state(instance, previous.reused, wait), &cluster_id).await?,
            None => state(instance, previous.reused, wait),
        },
        None => DatabaseState { status: "deleted".into(), phase: Phase::Gone, endpoint: None, wait, ..previous },
    })
}

/// An Aurora instance's state, read with its cluster's ([`with_cluster`]).
async fn with_its_cluster<C: Rds + Sync>(cloud: &C, instance: DatabaseState, cluster_id: &str) -> Result<DatabaseState, StepError> {
    Ok(match cloud.describe_cluster(cluster_id).await.op("DescribeDBClusters")? {
        Some(cluster) => with_cluster(instance, &cluster),
        None => DatabaseState { status: format!("its cluster {cluster_id} is deleted"), phase: Phase::Gone, ..instance },
    })
}

/// An Aurora instance is ready once its cluster is too, its master password (the cluster's)
/// applied; it then answers to the new one. Its endpoint is the cluster's writer endpoint, which
/// follows a failover.
fn with_cluster(instance: DatabaseState, cluster: &DbCluster) -> DatabaseState {
    let phase = match (instance.phase, DB_CLUSTER.of(&cluster.status)) {
        (Phase::Ready, Phase::Ready) if cluster.master_password_pending => Phase::InProgress,
        (Phase::Ready, cluster_phase) => cluster_phase,
        (instance_phase, _) => instance_phase,
    };
    let status = match phase == instance.phase {
        true => instance.status,
        false => format!("{} (cluster {} {})", instance.status, cluster.id, cluster.status),
    };
    DatabaseState { phase, status, endpoint: cluster.endpoint.clone(), ..instance }
}

pub(crate) fn state(instance: DbInstance, reused: bool, wait: Deadline) -> DatabaseState {
    // `available` with a password change still pending is not ready: it would still answer
    // to the old password.
    let phase = match DB_INSTANCE.of(&instance.status) {
        Phase::Ready if instance.master_password_pending => Phase::InProgress,
        phase => phase,
    };
    DatabaseState { instance_id: instance.id, status: instance.status, phase, endpoint: instance.endpoint, reused, wait }
}
