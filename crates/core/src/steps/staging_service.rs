//! Runbook step 4: the staging service, its variables referencing the staging parameters by
//! ARN. App Runner resolves those references when it deploys, and the service URL is known only
//! once CreateService answers, so when FRONTEND_URL is the service's own URL it is written
//! afterwards and a second deployment makes the running app see it. With the staging frontend
//! served by CloudFront, FRONTEND_URL is the distribution's, written before the service
//! (`staging_frontend::serve_staging_frontend`), and the service is deployed once.
//!
//! The host is behind [`ServiceHost`]; crates/aws implements it over App Runner (and ECS Express
//! Mode's calls), crates/sim over its simulated App Runner and ECS.
//!
//! Steps: `create_staging_service` (staging.asl.json `CreateStagingService`),
//! `publish_frontend_url` (`PublishFrontendUrl`) and, with one handler, `check_staging_service` (staging's
//! `CheckStagingService`, `CheckRedeploy`) and `check_production_service` (promote.asl.json
//! `CheckProductionDeployment`, `CheckCodeRollback`). Tests: tests/steps/staging_service.rs (the production
//! check: tests/steps/promote.rs, tests/steps/production_rollback.rs); end to end, tests/staging_pipeline.rs
//! `happy_path_builds_staging_and_passes_every_check`, `a_rerun_with_the_same_input_adopts_what_exists`,
//! `every_fault_in_every_mutating_step_ends_in_success_or_a_clean_rollback`, and tests/promote_pipeline.rs
//! `a_failure_at_each_promote_step_leaves_production_as_it_was`.

use super::staging_parameters::kind_of;
use super::{adopt_or_refuse, write_owned_parameter, Deadline};
use crate::cloud::{Clock, OperationStatus, ParameterStore, ServiceHost, ServiceInfo};
use crate::error::CloudResultExt;
use crate::guard::StagingGuard;
use crate::phase::{self, Phase, APP_RUNNER_SERVICE};
use crate::plan::{RunPlan, FRONTEND_URL};
use crate::secret::Secret;
use crate::{CloudErrorKind, StepError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `$.service` in the state.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceState {
    pub arn: String,
    pub name: String,
    /// Host name of the service, without scheme.
    pub url: String,
    /// The service's status: `OPERATION_IN_PROGRESS`, `RUNNING`, `CREATE_FAILED`, …
    pub status: String,
    /// The operation being waited for; absent when an existing service was adopted.
    pub operation_id: Option<String>,
    /// `IN_PROGRESS`, `SUCCEEDED`, `FAILED`, `ROLLBACK_SUCCEEDED`, `ROLLBACK_FAILED`, …
    pub operation_status: String,
    /// What the wait loop tests, from both statuses ([`phase::deployment`]). Every check
    /// computes it anew, so an input may leave it out.
    #[serde(default)]
    pub phase: Phase,
    pub reused: bool,
    #[serde(flatten)]
    pub wait: Deadline,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateServiceInput {
    pub plan: RunPlan,
    /// Variable name → parameter ARN, from the parameter steps.
    pub secrets: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckServiceInput {
    pub plan: RunPlan,
    pub service: ServiceState,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishInput {
    pub plan: RunPlan,
    pub service: ServiceState,
    pub secrets: BTreeMap<String, String>,
}

/// What an operation's status would be, read off the service when there is no operation id.
fn operation_status_of(service_status: &str) -> &'static str {
    match APP_RUNNER_SERVICE.of(service_status) {
        Phase::Ready => "SUCCEEDED",
        Phase::InProgress => "IN_PROGRESS",
        Phase::Failed | Phase::Gone => "FAILED",
    }
}

fn state(info: ServiceInfo, operation_id: Option<String>, operation_status: String, reused: bool, wait: Deadline) -> ServiceState {
    let status = info.status.to_string();
    let phase = phase::deployment(&status, &operation_status);
    ServiceState { arn: info.arn, name: info.name, url: info.url, status, operation_id, operation_status, phase, reused, wait }
}

pub async fn create_staging_service<C: ServiceHost + Clock + Sync>(
    cloud: &C,
    input: CreateServiceInput,
) -> Result<ServiceState, StepError> {
    let plan = &input.plan;
    StagingGuard::new(plan).service_write(&plan.service.name)?;
    let wait = Deadline::start(cloud.now(), plan.timeouts.service_minutes);
    let location = plan.service.host.location();
    let existing = match cloud.find_service(&plan.service.name, &location).await.op("ListServices")? {
        Some(existing) => existing,
        None => {
            let spec = crate::cloud::ServiceSpec { secrets: input.secrets.clone(), ..plan.service.clone() };
            match cloud.create_service(&spec, &plan.tags.to_tags()).await {
                Ok((info, operation_id)) => return Ok(state(info, Some(operation_id), "IN_PROGRESS".into(), false, wait)),
                Err(e) if e.is(CloudErrorKind::AlreadyExists) => cloud
                    .find_service(&plan.service.name, &location)
                    .await
                    .op("ListServices")?
                    .ok_or_else(|| StepError::from_cloud("CreateService", e))?,
                Err(e) => return Err(StepError::from_cloud("CreateService", e)),
            }
        }
    };
    adopt_or_refuse(&plan.tags, &format!("service {}", existing.name), &existing.tags)?;
    let operation_status = operation_status_of(existing.status.as_str()).to_string();
    Ok(state(existing, None, operation_status, true, wait))
}

/// Reads a service and the operation being waited for, once: staging's (`check_staging_service`)
/// and, during a promotion, production's deployment and code rollback (`check_production_service`).
pub async fn check_service<C: ServiceHost + Clock + Sync>(cloud: &C, input: CheckServiceInput) -> Result<ServiceState, StepError> {
    let previous = input.service;
    let wait = Deadline::check(previous.wait.deadline, cloud.now());
    let Some(info) = cloud.describe_service(&previous.arn).await.op("DescribeService")? else {
        return Ok(ServiceState { status: "DELETED".into(), operation_status: "FAILED".into(), phase: Phase::Gone, wait, ..previous });
    };
    let mut operation_id = previous.operation_id;
    let mut operation = match &operation_id {
        Some(id) => cloud.describe_operation(&previous.arn, id).await.op("ListOperations")?,
        None => None,
    };
    // ECS stops a deployment a newer one supersedes: two deliveries of the step that updated
    // the service each started one. The newest is what the service will run: followed when
    // the service is the run's own staging one, or when it is configured with exactly the
    // release's image (a promotion's deployment).
    let superseded = operation.as_ref().is_some_and(|op| op.status == OperationStatus::Failed && op.host_status == "STOPPED");
    let runs_the_release = info.image_identifier.is_some() && info.image_identifier == input.plan.release.image;
    if superseded && (info.name == input.plan.service.name || runs_the_release) {
        if let Some(latest) = cloud.latest_operation(&previous.arn).await.op("ListServiceDeployments")? {
            if operation_id.as_ref() != Some(&latest.id) && latest.status != OperationStatus::Failed {
                operation_id = Some(latest.id.clone());
                operation = Some(latest);
            }
        }
    }
    let operation_status = operation.map_or_else(|| operation_status_of(info.status.as_str()).to_string(), |op| op.status.to_string());
    Ok(state(info, operation_id, operation_status, previous.reused, wait))
}

pub async fn publish_frontend_url<C: ServiceHost + ParameterStore + Clock + Sync>(
    cloud: &C,
    input: PublishInput,
) -> Result<ServiceState, StepError> {
    let plan = &input.plan;
    StagingGuard::new(plan).service_write(&input.service.arn)?;
    // A service reports its URL once it runs (App Runner may create it without one).
    if input.service.url.is_empty() {
        return Err(StepError::MalformedInput(format!("service {} reports no URL yet: FRONTEND_URL needs one", input.service.name)));
    }
    let url = Secret::new(format!("https://{}", input.service.url));
    let arn = write_owned_parameter(cloud, plan, FRONTEND_URL, &url, kind_of(FRONTEND_URL)).await?;
    let mut secrets = input.secrets.clone();
    secrets.insert(FRONTEND_URL.to_string(), arn);
    let operation_id = match cloud.update_service_secrets(&input.service.arn, &secrets).await {
        // An operation is still running (say, this call's own earlier attempt): ask again later.
        Err(e) if e.is(CloudErrorKind::InvalidState) => return Err(StepError::Transient { operation: "UpdateService".into(), source: e }),
        other => other.op("UpdateService")?,
    };
    let wait = Deadline::start(cloud.now(), plan.timeouts.service_minutes);
    Ok(ServiceState {
        operation_id: Some(operation_id),
        operation_status: "IN_PROGRESS".into(),
        phase: Phase::InProgress,
        wait,
        ..input.service
    })
}
