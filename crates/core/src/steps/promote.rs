//! Runbook step 8, "Promote to Production": prove the staging run passed, look for an operator's
//! decision (the state machine waits between looks), record what production runs, and deploy the release to it. The backup, the
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

use super::plan_rehearsal::{plan_rehearsal, PlanInput, StackSettings};
use super::staging_service::ServiceState;
use super::{Deadline, PromotionOnly};
use crate::cloud::{Clock, ContainerImages, Executions, OperationStatus, ParameterStore, Rds, ServiceHost};
use crate::error::CloudResultExt;
use crate::guard::ProductionGuard;
use crate::image::ImageName;
use crate::phase::{Phase, APP_RUNNER_SERVICE, EXECUTION};
use crate::plan::PlannedRelease;
use crate::promotion::{parse_approvers, same_principal, Approval, ApprovalDecision, PromoteInput, Promotion, Verdict};
use crate::untrusted::untrusted;
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
    /// `$$.Execution.Name`: keys the promotion's decision parameter.
    pub execution_name: String,
    /// `${AllowApprovalSkip}`, the stack parameter: `"true"` lets a document skip the approval.
    pub allow_approval_skip: String,
    /// The stack's settings, as the staging machine passes them to its plan.
    pub stack: StackSettings,
}

/// Proves the named staging run passed, from its execution (the source of truth: it succeeded
/// only if every check passed), and re-derives its plan from that execution's own input and
/// start time, so a caller cannot hand in a different plan. Refused: another state machine's
/// execution, one that did not succeed, a run id that is not the execution's, a failed check in
/// its output, and a run older than its time to live (staging is torn down by then and its
/// validation is stale).
pub async fn verify_rehearsal_passed<C: Executions + Rds + ParameterStore + ServiceHost + ContainerImages + Clock + Sync>(
    cloud: &C,
    input: VerifyRehearsalInput,
) -> Result<Promotion, StepError> {
    let document = PromoteInput::from_json(input.input)?;
    input.stack.validate()?;
    let skip_allowed = match input.allow_approval_skip.as_str() {
        "true" => true,
        "false" => false,
        other => return Err(StepError::MalformedInput(format!("allow_approval_skip is {other:?}, not \"true\" or \"false\""))),
    };
    if document.approval == Approval::Skip && !skip_allowed {
        return Err(StepError::invalid(
            "approval",
            "\"skip\" is refused: this stack requires an approval (its AllowApprovalSkip parameter is false)",
        ));
    }
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
    // What staging ran, as its output reports it: the promotion deploys that digest, never what
    // its tag names now.
    let staged: Option<PlannedRelease> = output.get("release").cloned().and_then(|r| serde_json::from_value(r).ok());
    let run_document = execution.input.as_deref().and_then(|i| serde_json::from_str(i).ok()).unwrap_or_else(|| serde_json::json!({}));
    let plan = plan_rehearsal(
        cloud,
        PlanInput {
            input: run_document,
            // DescribeExecution names it; the ARN ends with it too.
            execution_name: execution.name.clone().unwrap_or_else(|| arn.rsplit(':').next().unwrap_or_default().to_string()),
            execution_start: execution.start,
            stack: input.stack,
            pinned_image: staged.as_ref().and_then(|r| r.image.clone()),
        },
    )
    .await?;
    // The production rollback snapshots the instance before deploying and restores that
    // snapshot under production's name; RDS takes neither of an Aurora cluster's member, so
    // nothing of it could be undone: refused before anything is written.
    if let Some(cluster) = &plan.production.db_cluster_id {
        return Err(StepError::invalid(
            "staging_execution_arn",
            format!(
                "{arn} rehearsed an Aurora production ({} in the cluster {cluster}): promoting it is not supported, since the production \
                 rollback's pre-deployment snapshot and restore are an instance's, which RDS does not take of a cluster member",
                plan.production.db_instance_id
            ),
        ));
    }
    if plan.release.image.is_some() && staged.as_ref().and_then(|r| r.image.as_ref()).is_none() {
        return Err(StepError::CheckFailed(format!(
            "the staging run {arn} does not report the image digest it ran: rehearse again to promote an image release"
        )));
    }
    let fresh_until = plan.started_at + chrono::Duration::hours(i64::from(plan.ttl_hours));
    if cloud.now() > fresh_until {
        return Err(StepError::CheckFailed(format!(
            "the staging run {} passed at {}, longer ago than its time to live ({} h): rehearse again",
            plan.run_id, plan.started_at, plan.ttl_hours
        )));
    }
    let production = cloud
        .find_service(&plan.production.service_name, &plan.production_location())
        .await
        .op("ListServices")?
        .ok_or_else(|| StepError::ProductionNotReady(format!("production service {} does not exist", plan.production.service_name)))?;
    match (&plan.release.image, &production.image_identifier) {
        (Some(image), None) => {
            return Err(StepError::CheckFailed(format!(
                "staging ran the image {image}, but production service {} is built from its repository: it cannot take an image",
                production.name
            )))
        }
        (None, Some(image)) => {
            return Err(StepError::CheckFailed(format!(
            "production service {} runs the image {image}, but staging was built from source: rehearse the release image (service.image)",
            production.name
        )))
        }
        (None, None) if !document.accept_branch_head => {
            return Err(StepError::invalid(
                "accept_branch_head",
                format!(
                    "production service {} builds the head of {} when it deploys, which staging may not have run: set \
                     accept_branch_head to promote it anyway, or rehearse an image release (service.image)",
                    production.name,
                    plan.release.branch.as_deref().unwrap_or("its branch")
                ),
            ))
        }
        _ => {}
    }
    Promotion::new(plan, &document, input.execution_start, &input.execution_name)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckApprovalInput {
    pub promotion: Promotion,
    /// `${Approvers}`, the stack parameter: who may approve (principal ARNs, comma-separated);
    /// empty for anyone but the requester.
    pub approvers: String,
}

/// `$.approval`: where the wait for a decision is.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalState {
    /// `/rehearsal/approvals/<promote execution name>/decision`.
    pub parameter: String,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    pub phase: Phase,
    pub by: Option<String>,
    /// For alerts and the failure's cause: who decided, and their comment marked as untrusted.
    pub summary: String,
    #[serde(flatten)]
    pub wait: Deadline,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalParameter {
    /// Where the decision was: `/rehearsal/approvals/<promote execution name>/decision`.
    pub parameter: String,
}

/// Looks once at the decision the API wrote for this promotion: none yet is `in_progress` until
/// the deadline; an approval is `ready`, a rejection `failed`. An approval counts only if, checked
/// here again whatever the API checked, it is by someone other than the requester, was not
/// written by the requester (the parameter's LastModifiedUser), names this promotion's requester
/// and start, and (when the stack lists approvers) is by one of them; otherwise the promotion is
/// refused (`CheckFailedError`).
pub async fn check_approval<C: ParameterStore + Clock + Sync>(cloud: &C, input: CheckApprovalInput) -> Result<ApprovalState, StepError> {
    let promotion = &input.promotion;
    let parameter = promotion.approval_parameter();
    let Some(requester) = promotion.requested_by.as_deref() else {
        return Err(StepError::invalid("requested_by", "the promotion names no requester, so its approver cannot be told apart from it"));
    };
    let wait = Deadline::check(promotion.approval_deadline(), cloud.now());
    let state = |status: &str, phase, by: Option<&str>, summary: String| ApprovalState {
        parameter: parameter.clone(),
        status: status.into(),
        phase,
        by: by.map(str::to_string),
        summary,
        wait: wait.clone(),
    };
    let pending =
        || state("pending", Phase::InProgress, None, format!("no decision on the promotion requested by {requester} by {}", wait.deadline));
    let Some(stored) = cloud.get_parameter(&parameter).await.op("GetParameter")? else { return Ok(pending()) };
    let decision: ApprovalDecision = serde_json::from_str(stored.value.expose())
        .map_err(|e| StepError::CheckFailed(format!("{parameter} does not hold a decision as the API writes it: {e}")))?;
    if decision.promotion_started_at != promotion.started_at {
        // Left by an earlier execution of the same name: not a decision on this one.
        return Ok(pending());
    }
    let comment = decision.comment.as_deref().map(|c| format!("; {}", untrusted("the decision's comment", c))).unwrap_or_default();
    if decision.verdict == Verdict::Rejected {
        // A rejection only stops: anyone allowed to decide may give it, the requester included.
        return Ok(state("rejected", Phase::Failed, Some(&decision.by), format!("rejected by {}{comment}", decision.by)));
    }
    let refused = |why: String| StepError::CheckFailed(format!("the approval at {parameter} does not count: {why}"));
    if !same_principal(&decision.requested_by, requester) {
        return Err(refused(format!("it names the requester {}, but {requester} requested this promotion", decision.requested_by)));
    }
    if same_principal(&decision.by, requester) {
        return Err(refused(format!("{requester} requested this promotion and cannot approve it")));
    }
    let writer = cloud.describe_parameter(&parameter).await.op("DescribeParameters")?.and_then(|p| p.last_modified_user);
    if let Some(writer) = writer.filter(|w| same_principal(w, requester)) {
        return Err(refused(format!("it was written by the requester {writer}")));
    }
    let approvers = parse_approvers(&input.approvers);
    if !approvers.is_empty() && !approvers.iter().any(|a| same_principal(a, &decision.by)) {
        return Err(refused(format!("{} is not one of the stack's approvers", decision.by)));
    }
    Ok(state("approved", Phase::Ready, Some(&decision.by), format!("approved by {}{comment}", decision.by)))
}

/// Deletes the decision once the promotion has read it (or the approval expired): the execution
/// history keeps what `check_approval` found.
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
    /// For an image-based service: the image it ran, pinned to the digest its tag named when
    /// recorded (an ECR image); the code rollback returns to exactly it.
    pub image_identifier: Option<String>,
    /// The image as the service names it, when that is a tag (`image_identifier` is its digest).
    pub configured_image: Option<String>,
    /// For a service built from source: its repository and branch (App Runner does not report
    /// the commit it deployed).
    pub repository_url: Option<String>,
    pub branch: Option<String>,
    pub recorded_at: DateTime<Utc>,
}

pub async fn record_production_source<C: ServiceHost + ContainerImages + Clock + Sync>(
    cloud: &C,
    input: PromotionOnly,
) -> Result<ProductionSource, StepError> {
    let production = &input.promotion.plan.production;
    let service = cloud
        .find_service(&production.service_name, &input.promotion.plan.production_location())
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
    let (image_identifier, configured_image) = match &service.image_identifier {
        Some(image) => pin_running_image(cloud, image).await?,
        None => (None, None),
    };
    Ok(ProductionSource {
        service_arn: service.arn,
        service_name: service.name,
        url: service.url,
        image_identifier,
        configured_image,
        repository_url: service.source.as_ref().map(|s| s.repository_url.clone()),
        branch: service.source.map(|s| s.branch),
        recorded_at: cloud.now(),
    })
}

/// The digest of the image production runs: as configured when pinned already, else the digest
/// its ECR tag names now (read-only), with the tag kept beside it. An image outside ECR is kept
/// as configured: nothing can pin it.
async fn pin_running_image<C: ContainerImages + Sync>(cloud: &C, image: &str) -> Result<(Option<String>, Option<String>), StepError> {
    let Ok(name) = ImageName::parse(image) else { return Ok((Some(image.to_string()), None)) };
    if name.is_pinned() {
        return Ok((Some(name.to_string()), None));
    }
    match cloud.resolve_image(&name).await.op("DescribeImages")? {
        Some(resolved) => Ok((Some(resolved.pinned()), Some(image.to_string()))),
        None => Err(StepError::ProductionNotReady(format!(
            "production runs {image}, which names no image in its repository any more: the code rollback would have nothing to return to"
        ))),
    }
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
/// App Runner refuses a deployment while another operation runs. When this step is run again
/// after its own call took effect and the answer was lost, that operation is the deployment it
/// started: a deployment in progress that deploys exactly the release (an image release: the
/// service is configured with the release image; a source release: a StartDeployment of the
/// branch, whose head the promotion accepted). Its id is followed as the step's own.
async fn deployment_under_way<C: ServiceHost + Sync>(cloud: &C, input: &DeploymentInput) -> Result<Option<String>, StepError> {
    let arn = &input.source.service_arn;
    let Some(latest) = cloud.latest_operation(arn).await.op("ListOperations")? else { return Ok(None) };
    if latest.status != OperationStatus::InProgress {
        return Ok(None);
    }
    let deploys_the_release = match &input.promotion.release_image {
        Some(image) => {
            latest.kind == "UPDATE_SERVICE"
                && cloud.describe_service(arn).await.op("DescribeService")?.and_then(|s| s.image_identifier).as_deref() == Some(image)
        }
        None => latest.kind == "START_DEPLOYMENT",
    };
    Ok(deploys_the_release.then_some(latest.id))
}

pub async fn start_production_deployment<C: ServiceHost + Clock + Sync>(
    cloud: &C,
    input: DeploymentInput,
) -> Result<ServiceState, StepError> {
    let promotion = &input.promotion;
    let source = &input.source;
    ProductionGuard::new(promotion).service_write(&source.service_arn)?;
    let started = match (&promotion.release_image, &source.image_identifier) {
        // Exactly the digest staging ran.
        (Some(image), Some(_)) => cloud.update_service_image(&source.service_arn, image).await,
        (None, None) if promotion.branch_head_accepted => cloud.start_deployment(&source.service_arn).await,
        _ => {
            return Err(StepError::MalformedInput(
                "the promotion's release does not match how production is deployed (image or source)".into(),
            ))
        }
    };
    let operation_id = match started {
        Err(e) if e.is(CloudErrorKind::InvalidState) => match deployment_under_way(cloud, &input).await? {
            Some(id) => id,
            // Another operation is still running: ask again later.
            None => return Err(StepError::Transient { operation: "StartDeployment".into(), source: e }),
        },
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
