//! The environment leases ([`crate::lease`]): a staging run takes its app's staging lease right
//! after planning and gives it back at the end of its rollback or of its teardown (a run that
//! succeeded keeps it: its staging is up; so does one whose rollback gave up, until its teardown
//! schedule removes what is left); a promotion takes production's once it is verified and
//! gives it back on every way out. A run refused here has created nothing and fails without a
//! rollback (which would delete the holder's resources).
//!
//! A held lease is taken over only when its holder is done with the environment: its execution
//! has ended (DescribeExecution) and, for staging, neither the staging database nor the staging
//! service under the planned names carries the holder's run id. The stale lease is deleted only
//! if it still names the holder just judged, then created again without overwrite, so of two
//! runs taking over at once one creates it and the other finds the new holder running. (Between
//! that last read and the delete another taker may still slip in: two takeovers of one crashed
//! holder within milliseconds.)
//!
//! Steps: `take_staging_lease` (staging.asl.json `TakeStagingLease`), `release_staging_lease`
//! (staging.asl.json `ReleaseStagingLease`, teardown.asl.json `ReleaseStagingLease`),
//! `take_production_lease` and `release_production_lease` (promote.asl.json
//! `TakeProductionLease`, `ReleaseProductionLease…`). Tests: tests/steps/lease.rs; end to end,
//! tests/staging_pipeline.rs `two_concurrent_staging_runs_one_runs_and_the_other_is_refused_naming_it`,
//! `a_lease_left_by_a_crashed_execution_is_taken_over`, tests/teardown.rs, tests/promote_pipeline.rs,
//! and through the API crates/api/tests/moto.rs.

use crate::cloud::{Executions, ParameterKind, ParameterStore, Rds, ServiceHost, ServiceStatus};
use crate::error::CloudResultExt;
use crate::lease::{lease_parameter, Lease, LeaseHeld, LeasedEnvironment};
use crate::phase::{Phase, EXECUTION};
use crate::plan::RunPlan;
use crate::promotion::PRODUCTION_ENVIRONMENT;
use crate::secret::Secret;
use crate::tags::{RunTags, Tags, RUN_KEY};
use crate::{CloudErrorKind, StepError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TakeStagingLeaseInput {
    pub plan: RunPlan,
    /// `$$.Execution.Id`: a retry or redrive of the holder finds its own lease.
    pub execution_arn: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TakeProductionLeaseInput {
    /// The plan of the staging run the promotion ships.
    pub plan: RunPlan,
    /// The promotion's `$$.Execution.Id` and `$$.Execution.StartTime`.
    pub execution_arn: String,
    pub execution_start: DateTime<Utc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseProductionLeaseInput {
    pub app: String,
    /// The promotion's `$$.Execution.Id`: only its own lease is released.
    pub execution_arn: String,
}

/// `$.lease`: the lease this run holds now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeaseTaken {
    pub parameter: String,
    pub holder: Lease,
    /// The lease of an ended holder this run took over, if it did.
    pub taken_over: Option<Lease>,
}

/// What releasing did: nothing when another run holds the lease (or none does).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeaseReleased {
    pub parameter: String,
    pub released: bool,
    /// Who holds it instead, when not this run.
    pub holder: Option<Lease>,
}

pub async fn take_staging_lease<C: ParameterStore + Executions + Rds + ServiceHost + Sync>(
    cloud: &C,
    input: TakeStagingLeaseInput,
) -> Result<LeaseTaken, StepError> {
    let plan = &input.plan;
    let wanted = Lease { execution_arn: input.execution_arn, run_id: plan.run_id.clone(), started_at: plan.started_at };
    take(cloud, &plan.app, LeasedEnvironment::Staging, wanted, &plan.tags.to_tags(), Some(plan)).await
}

pub async fn take_production_lease<C: ParameterStore + Executions + Rds + ServiceHost + Sync>(
    cloud: &C,
    input: TakeProductionLeaseInput,
) -> Result<LeaseTaken, StepError> {
    let plan = &input.plan;
    let wanted = Lease { execution_arn: input.execution_arn, run_id: plan.run_id.clone(), started_at: input.execution_start };
    let tags = RunTags { app: plan.app.clone(), environment: PRODUCTION_ENVIRONMENT.to_string(), run_id: plan.run_id.clone() };
    take(cloud, &plan.app, LeasedEnvironment::Production, wanted, &tags.to_tags(), None).await
}

/// Releases the staging lease if `plan`'s run holds it (the rollback and the teardown of that run).
pub async fn release_staging_lease<C: ParameterStore + Sync>(cloud: &C, input: super::PlanOnly) -> Result<LeaseReleased, StepError> {
    let run_id = &input.plan.run_id;
    release(cloud, lease_parameter(&input.plan.app, LeasedEnvironment::Staging), |holder| holder.run_id == *run_id).await
}

pub async fn release_production_lease<C: ParameterStore + Sync>(
    cloud: &C,
    input: ReleaseProductionLeaseInput,
) -> Result<LeaseReleased, StepError> {
    let execution = &input.execution_arn;
    release(cloud, lease_parameter(&input.app, LeasedEnvironment::Production), |holder| holder.execution_arn == *execution).await
}

/// Takes `environment`'s lease for `wanted`, or refuses naming the holder. `staging` is the plan
/// whose staging names tell whether an ended holder's environment is still up.
async fn take<C: ParameterStore + Executions + Rds + ServiceHost + Sync>(
    cloud: &C,
    app: &str,
    environment: LeasedEnvironment,
    wanted: Lease,
    tags: &Tags,
    staging: Option<&RunPlan>,
) -> Result<LeaseTaken, StepError> {
    let parameter = lease_parameter(app, environment);
    let value = Secret::new(wanted.to_value());
    let mut taken_over = None;
    // Each turn takes the lease, refuses, or removes a stale one and tries again; a third turn
    // means it changed hands under this run twice.
    for _ in 0..3 {
        match cloud.create_parameter(&parameter, &value, ParameterKind::String, tags).await {
            Ok(_) => return Ok(LeaseTaken { parameter, holder: wanted, taken_over }),
            Err(e) if e.is(CloudErrorKind::AlreadyExists) => {}
            Err(e) => return Err(StepError::from_cloud("PutParameter", e)),
        }
        // Released between the two calls: try again.
        let Some(holder) = read_lease(cloud, &parameter).await? else { continue };
        if holder.execution_arn == wanted.execution_arn {
            // This execution took it before (a retried or redriven state).
            return Ok(LeaseTaken { parameter, holder, taken_over });
        }
        let held = |reason: String| StepError::LeaseHeld(LeaseHeld { app: app.to_string(), environment, holder: holder.clone(), reason });
        let ended = match cloud.describe_execution(&holder.execution_arn).await.op("DescribeExecution")? {
            // An undocumented status is in progress too: only an ended execution lets go.
            Some(execution) if EXECUTION.of(&execution.status) == Phase::InProgress => {
                return Err(held(format!("its execution is {}", execution.status)))
            }
            // Its rollback gave up: whatever it left (a copy, a bucket, a distribution) is still
            // up under the names the next run would use, and only its teardown removes it.
            Some(execution) if matches!(execution.error.as_deref(), Some("RollbackIncompleteError" | "RollbackFailedError")) => {
                return Err(held(format!(
                    "its execution is {} ({}): its rollback gave up, so its staging is still up; tear that run down first",
                    execution.status,
                    execution.error.unwrap_or_default()
                )))
            }
            Some(execution) => execution.status,
            None => "no longer known to Step Functions".to_string(),
        };
        if let Some(plan) = staging {
            let up = staging_left_by(cloud, plan, &holder.run_id).await?;
            if !up.is_empty() {
                return Err(held(format!(
                    "its execution is {ended}, but its staging is still up ({}); tear that run down first",
                    up.join(", ")
                )));
            }
        }
        if read_lease(cloud, &parameter).await?.as_ref() == Some(&holder) {
            match cloud.delete_parameter(&parameter).await {
                Err(e) if !e.is(CloudErrorKind::NotFound) => return Err(StepError::from_cloud("DeleteParameter", e)),
                _ => {}
            }
        }
        taken_over = Some(holder);
    }
    Err(StepError::CheckFailed(format!("the lease {parameter} changed hands while this run took it; start the run again")))
}

/// The holder's staging still up under `plan`'s names: the database (and an Aurora copy's
/// cluster) and the service, when they exist and carry the holder's run id.
async fn staging_left_by<C: Rds + ServiceHost + Sync>(cloud: &C, plan: &RunPlan, run_id: &str) -> Result<Vec<String>, StepError> {
    let of_holder = |tags: &Tags| tags.get(RUN_KEY).is_some_and(|run| run == run_id);
    let mut up = Vec::new();
    if let Some(db) = cloud.describe_instance(&plan.staging_db.instance_id).await.op("DescribeDBInstances")? {
        if of_holder(&db.tags) {
            up.push(format!("database {} is {}", db.id, db.status));
        }
    }
    if let Some(clone) = &plan.staging_db.cluster {
        if let Some(cluster) = cloud.describe_cluster(&clone.cluster_id).await.op("DescribeDBClusters")? {
            if of_holder(&cluster.tags) {
                up.push(format!("database cluster {} is {}", cluster.id, cluster.status));
            }
        }
    }
    if let Some(service) = cloud.find_service(&plan.service.name, &plan.service.host.location()).await.op("ListServices")? {
        if service.status != ServiceStatus::Deleted && of_holder(&service.tags) {
            up.push(format!("service {} is {}", service.name, service.host_status));
        }
    }
    Ok(up)
}

async fn read_lease<C: ParameterStore + Sync>(cloud: &C, parameter: &str) -> Result<Option<Lease>, StepError> {
    match cloud.get_parameter(parameter).await.op("GetParameter")? {
        Some(p) => Lease::parse(parameter, p.value.expose()).map(Some).map_err(StepError::CheckFailed),
        None => Ok(None),
    }
}

async fn release<C: ParameterStore + Sync>(
    cloud: &C,
    parameter: String,
    held_by_this_run: impl Fn(&Lease) -> bool,
) -> Result<LeaseReleased, StepError> {
    match read_lease(cloud, &parameter).await? {
        Some(holder) if held_by_this_run(&holder) => {
            match cloud.delete_parameter(&parameter).await {
                Err(e) if !e.is(CloudErrorKind::NotFound) => return Err(StepError::from_cloud("DeleteParameter", e)),
                _ => {}
            }
            Ok(LeaseReleased { parameter, released: true, holder: None })
        }
        holder => Ok(LeaseReleased { parameter, released: false, holder }),
    }
}
