//! Runbook step 8, "Promote to Production": prove the staging run passed, wait for an operator's
//! approval, record what production runs, and deploy the release to it. The backup, the
//! backfill, the checks and the teardown reuse the staging steps' code; what writes production
//! holds a [`ProductionGuard`].
//!
//! Steps: `verify_rehearsal_passed`, `request_approval`, `close_approval`,
//! `record_production_source`, `start_production_deployment` (promote.asl.json `VerifyRehearsalPassed`,
//! `RequestApproval`, `CloseApproval` and `CloseUnansweredApproval`, `RecordProductionSource`,
//! `StartProductionDeployment`). Tests: tests/steps/promote.rs; end to end, tests/promote_pipeline.rs
//! `an_approved_promotion_deploys_backfills_checks_production_and_moves_the_teardown`,
//! `a_rejected_approval_changes_nothing`, `an_unanswered_approval_expires_and_changes_nothing`,
//! `only_a_passed_staging_run_of_the_named_run_id_is_promoted`,
//! `a_failure_at_each_promote_step_leaves_production_as_it_was`.

use super::plan_rehearsal::{plan_rehearsal, PlanInput};
use super::staging_service::ServiceState;
use super::{Deadline, PromotionOnly};
use crate::cloud::{Clock, Executions, ParameterKind, ParameterStore, Rds, ServiceHost, ServiceLocation};
use crate::error::CloudResultExt;
use crate::guard::ProductionGuard;
use crate::phase::{Phase, APP_RUNNER_SERVICE, EXECUTION};
use crate::promotion::{PromoteInput, Promotion};
use crate::secret::Secret;
use crate::{CloudErrorKind, StepError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyRehearsalInput {
    /// The promotion document, as sent.
    pub input: Value,
    /// `$$.Execution.StartTime` of the promotion: fixes its names across retries.
    pub execution_start: DateTime<Utc>,
    /// `${StagingStateMachineArn}`: only its executions can be promoted.
    pub staging_state_machine_arn: String,
}

/// Proves the named staging run passed, from its execution (the source of truth: it succeeded
/// only if every check passed), and re-derives its plan from that execution's own input and
/// start time, so a caller cannot hand in a different plan. Refused: another state machine's
/// execution, one that did not succeed, a run id that is not the execution's, a failed check in
/// its output, and a run older than its time to live (staging is torn down by then and its
/// validation is stale).
pub async fn verify_rehearsal_passed<C: Executions + Rds + ParameterStore + ServiceHost + Clock + Sync>(
    cloud: &C,
    input: VerifyRehearsalInput,
) -> Result<Promotion, StepError> {
    let document = PromoteInput::from_json(input.input)?;
    let arn = &document.staging_execution_arn;
    let execution = cloud
        .describe_execution(arn)
        .await
        .op("DescribeExecution")?
        .ok_or_else(|| StepError::invalid("staging_execution_arn", format!("no execution {arn}")))?;
    if execution.state_machine_arn != input.staging_state_machine_arn {
        return Err(StepError::invalid(
            "staging_execution_arn",
            format!("{arn} is an execution of {}, not of the staging state machine", execution.state_machine_arn),
        ));
    }
    // Only a succeeded execution passed every check.
    if EXECUTION.of(&execution.status) != Phase::Ready {
        return Err(StepError::CheckFailed(format!("the staging run {arn} did not pass: its execution is {}", execution.status)));
    }
    let output: Value = execution.output.as_deref().and_then(|o| serde_json::from_str(o).ok()).unwrap_or(Value::Null);
    let reported = output.get("run_id").and_then(Value::as_str).unwrap_or_default();
    if reported != document.run_id {
        return Err(StepError::invalid("run_id", format!("{:?} is not the run of {arn}, which reports {reported:?}", document.run_id)));
    }
    let failed: Vec<&str> = output
        .pointer("/checks")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|groups| groups.values().filter_map(Value::as_array).flatten())
        .filter(|check| check.get("passed") != Some(&Value::Bool(true)))
        .map(|check| check.get("name").and_then(Value::as_str).unwrap_or("a check"))
        .collect();
    if !failed.is_empty() {
        return Err(StepError::CheckFailed(format!("the staging run {arn} reports failed checks: {}", failed.join(", "))));
    }
    let run_document = execution.input.as_deref().and_then(|i| serde_json::from_str(i).ok()).unwrap_or_else(|| serde_json::json!({}));
    let plan = plan_rehearsal(cloud, PlanInput { input: run_document, execution_start: execution.start }).await?;
    let fresh_until = plan.started_at + chrono::Duration::hours(i64::from(plan.ttl_hours));
    if cloud.now() > fresh_until {
        return Err(StepError::CheckFailed(format!(
            "the staging run {} passed at {}, longer ago than its time to live ({} h): rehearse again",
            plan.run_id, plan.started_at, plan.ttl_hours
        )));
    }
    let production = cloud
        .find_service(&plan.production.service_name, &ServiceLocation::AppRunner)
        .await
        .op("ListServices")?
        .ok_or_else(|| StepError::ProductionNotReady(format!("production service {} does not exist", plan.production.service_name)))?;
    match (&document.release_image, &production.image_identifier) {
        (None, Some(image)) => {
            return Err(StepError::invalid("release_image", format!("production runs the image {image}: name the release image to deploy")))
        }
        (Some(_), None) => {
            return Err(StepError::invalid("release_image", "production is built from its repository's branch; it takes no image"))
        }
        _ => {}
    }
    Promotion::new(plan, &document, input.execution_start)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRequest {
    /// `$$.Task.Token` of the waiting task.
    pub task_token: String,
    pub promotion: Promotion,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalParameter {
    /// Where the token is: `/rehearsal/approvals/<run id>`.
    pub parameter: String,
}

/// Stores the task token where the API finds it by run id (a SecureString: whoever holds it can
/// approve). The API answers SendTaskSuccess, or SendTaskFailure with error `ApprovalRejected`;
/// `close_approval` deletes it either way.
pub async fn request_approval<C: ParameterStore + Sync>(cloud: &C, input: ApprovalRequest) -> Result<ApprovalParameter, StepError> {
    let parameter = input.promotion.approval_parameter();
    // Overwrite: a token of an earlier attempt or execution can no longer be answered.
    cloud.put_parameter(&parameter, &Secret::new(input.task_token), ParameterKind::SecureString, true).await.op("PutParameter")?;
    cloud.add_parameter_tags(&parameter, &input.promotion.tags.to_tags()).await.op("AddTagsToResource")?;
    Ok(ApprovalParameter { parameter })
}

/// Deletes the stored token once the approval is answered (or has expired).
pub async fn close_approval<C: ParameterStore + Sync>(cloud: &C, input: PromotionOnly) -> Result<ApprovalParameter, StepError> {
    let parameter = input.promotion.approval_parameter();
    match cloud.delete_parameter(&parameter).await {
        Err(e) if e.is(CloudErrorKind::NotFound) => {}
        other => other.op("DeleteParameter")?,
    }
    Ok(ApprovalParameter { parameter })
}

/// What production ran before the deployment: the code rollback goes back to it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductionSource {
    pub service_arn: String,
    pub service_name: String,
    /// Host name of the service, without scheme.
    pub url: String,
    /// For an image-based service: the image it ran.
    pub image_identifier: Option<String>,
    /// For a service built from source: its repository and branch (App Runner does not report
    /// the commit it deployed).
    pub repository_url: Option<String>,
    pub branch: Option<String>,
    pub recorded_at: DateTime<Utc>,
}

pub async fn record_production_source<C: ServiceHost + Clock + Sync>(
    cloud: &C,
    input: PromotionOnly,
) -> Result<ProductionSource, StepError> {
    let production = &input.promotion.plan.production;
    let service = cloud
        .find_service(&production.service_name, &ServiceLocation::AppRunner)
        .await
        .op("ListServices")?
        .ok_or_else(|| StepError::ProductionNotReady(format!("production service {} does not exist", production.service_name)))?;
    if service.arn != production.service_arn {
        return Err(StepError::ProductionNotReady(format!(
            "production service {} is {} now, not the {} the staging run planned against",
            service.name, service.arn, production.service_arn
        )));
    }
    if APP_RUNNER_SERVICE.of(service.status.as_str()) != Phase::Ready {
        return Err(StepError::ProductionNotReady(format!("production service {} is {}, not RUNNING", service.name, service.status)));
    }
    Ok(ProductionSource {
        service_arn: service.arn,
        service_name: service.name,
        url: service.url,
        image_identifier: service.image_identifier,
        repository_url: service.source.as_ref().map(|s| s.repository_url.clone()),
        branch: service.source.map(|s| s.branch),
        recorded_at: cloud.now(),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentInput {
    pub promotion: Promotion,
    pub source: ProductionSource,
}

/// Runbook step 8.2: deploys the release to production: the branch's latest commit
/// (StartDeployment), or the release image (UpdateService). Answers the operation to wait for;
/// App Runner rolls a failed deployment back by itself (`ROLLBACK_SUCCEEDED`).
pub async fn start_production_deployment<C: ServiceHost + Clock + Sync>(
    cloud: &C,
    input: DeploymentInput,
) -> Result<ServiceState, StepError> {
    let promotion = &input.promotion;
    let source = &input.source;
    ProductionGuard::new(promotion).service_write(&source.service_arn)?;
    let started = match (&promotion.release_image, &source.image_identifier) {
        (Some(image), Some(_)) => cloud.update_service_image(&source.service_arn, image).await,
        (None, None) => cloud.start_deployment(&source.service_arn).await,
        _ => return Err(StepError::invalid("release_image", "does not match how production is deployed (image or source)")),
    };
    let operation_id = match started {
        // An operation is still running: ask again later.
        Err(e) if e.is(CloudErrorKind::InvalidState) => {
            return Err(StepError::Transient { operation: "StartDeployment".into(), source: e })
        }
        other => other.op("StartDeployment")?,
    };
    Ok(ServiceState {
        arn: source.service_arn.clone(),
        name: source.service_name.clone(),
        url: source.url.clone(),
        status: "OPERATION_IN_PROGRESS".into(),
        operation_id: Some(operation_id),
        operation_status: "IN_PROGRESS".into(),
        phase: Phase::InProgress,
        reused: false,
        wait: Deadline::start(cloud.now(), promotion.plan.timeouts.service_minutes),
    })
}
