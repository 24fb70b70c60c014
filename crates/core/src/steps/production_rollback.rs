//! The runbook's Rollback Plan, for a promotion that went wrong after it touched production.
//!
//! Database: the pre-deployment snapshot is restored under a new name; once it is available the
//! damaged instance is renamed aside (`<id>-damaged-<stamp>`) and the restored one takes the
//! production name, so DATABASE_URL stays right; the damaged one is tagged with its retention
//! and stopped, kept for forensics (never deleted by a rollback). Code: App Runner has no
//! "redeploy the previous deployment" call, so an image-based service is updated back to the
//! recorded image, and for a service built from source the exact manual action is reported.
//!
//! Steps: `restore_production_database`, `swap_production_database`, `roll_back_production_code`
//! (promote.asl.json `RestoreProductionDatabase`, `SwapProductionDatabase`, `RollBackProductionCode`); the
//! waits between them are `check_restored_production_database` and `check_production_service`, whose
//! handlers are in [`super::staging_database`] and [`super::staging_service`]. Tests:
//! tests/steps/production_rollback.rs; end to end, tests/promote_pipeline.rs
//! `a_failure_at_each_promote_step_leaves_production_as_it_was`,
//! `an_image_based_production_goes_back_to_the_image_it_ran`.

use super::promote::ProductionSource;
use super::staging_database::{state, DatabaseState};
use super::staging_service::ServiceState;
use super::{adopt_if_made_by_run, Deadline, PromotionOnly};
use crate::cloud::{Clock, DbInstance, Rds, RestoreRequest, RestoreSource, ServiceHost};
use crate::error::CloudResultExt;
use crate::guard::ProductionGuard;
use crate::phase::{Phase, DB_INSTANCE};
use crate::promotion::{Promotion, RESTORED_FROM_KEY, RETAIN_UNTIL_KEY};
use crate::{CloudError, CloudErrorKind, StepError};
use serde::{Deserialize, Serialize};

/// Restores the pre-deployment snapshot under the promotion's restore name, tagged with where it
/// came from, in production's class, subnet group and security groups; a retry adopts it.
pub async fn restore_production_database<C: Rds + Clock + Sync>(cloud: &C, input: PromotionOnly) -> Result<DatabaseState, StepError> {
    let promotion = &input.promotion;
    let production_id = &promotion.plan.production.db_instance_id;
    ProductionGuard::new(promotion).db_write(&promotion.restored_db_id)?;
    let wait = Deadline::start(cloud.now(), promotion.plan.timeouts.restore_minutes);
    if let Some(existing) = cloud.describe_instance(&promotion.restored_db_id).await.op("DescribeDBInstances")? {
        let resource = format!("DB instance {}", existing.id);
        adopt_if_made_by_run(&promotion.tags, promotion.started_at, &resource, &existing.tags, existing.created_at)?;
        return Ok(state(existing, true, wait));
    }
    // Production (or, once moved aside, its damaged self) is the template of the copy.
    let template = match cloud.describe_instance(production_id).await.op("DescribeDBInstances")? {
        Some(db) => db,
        None => cloud
            .describe_instance(&promotion.damaged_db_id)
            .await
            .op("DescribeDBInstances")?
            .ok_or_else(|| StepError::ProductionNotReady(format!("production database {production_id} does not exist")))?,
    };
    let mut tags = promotion.tags.to_tags();
    tags.insert(RESTORED_FROM_KEY.to_string(), promotion.snapshot_id.clone());
    let request = RestoreRequest {
        instance_id: promotion.restored_db_id.clone(),
        source: RestoreSource::Snapshot(promotion.snapshot_id.clone()),
        class: template.class,
        subnet_group: template.subnet_group,
        security_group_ids: template.security_group_ids,
        parameter_group: template.parameter_group,
        option_group: template.option_group.filter(|group| !group.starts_with("default:")),
        publicly_accessible: template.publicly_accessible,
        tags,
    };
    let restored = cloud.restore_instance(&request).await.op("RestoreDBInstanceFromDBSnapshot")?;
    Ok(state(restored, false, wait))
}

/// `$.rollback.swap`: what the swap did so far; the state machine calls it again until it is
/// `ready`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwapState {
    /// `ready` once production's identifier answers with the restored copy and the damaged one
    /// is kept; `in_progress` while a pass waits (errors are the Task's). Every pass computes it
    /// anew, so an input may leave it out.
    #[serde(default)]
    pub phase: Phase,
    /// Every action taken, oldest first, with its time.
    pub actions: Vec<String>,
    /// What the last attempt waits for, when not done.
    pub waiting_for: Option<String>,
    pub attempts: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwapInput {
    pub promotion: Promotion,
    pub swap: SwapState,
}

/// One pass of the swap: looks at the three names and takes every step that is possible now.
/// Renames are applied at once and answer under the new name only minutes later, so a pass
/// usually ends waiting; each pass starts from what it finds, so retries are safe.
pub async fn swap_production_database<C: Rds + Clock + Sync>(cloud: &C, input: SwapInput) -> Result<SwapState, StepError> {
    let promotion = &input.promotion;
    let guard = ProductionGuard::new(promotion);
    let production_id = &promotion.plan.production.db_instance_id;
    let mut swap =
        SwapState { phase: Phase::InProgress, waiting_for: None, attempts: input.swap.attempts + 1, actions: input.swap.actions };
    let available = |db: &DbInstance| DB_INSTANCE.of(&db.status) == Phase::Ready;
    let is_restored = |db: &DbInstance| db.tags.get(RESTORED_FROM_KEY) == Some(&promotion.snapshot_id);
    let note = |swap: &mut SwapState, what: String| swap.actions.push(format!("{} {what}", cloud.now().format("%Y-%m-%dT%H:%M:%SZ")));
    // At most: move the damaged aside, move the copy in, tag and stop the damaged.
    for _ in 0..4 {
        let production = cloud.describe_instance(production_id).await.op("DescribeDBInstances")?;
        let waiting = match production {
            Some(db) if is_restored(&db) => {
                if !available(&db) || db.endpoint.is_none() {
                    Some(format!("the restored copy to answer as {production_id} (it is {})", db.status))
                } else {
                    match keep_for_forensics(cloud, &guard, promotion).await? {
                        Forensics::Done(what) => {
                            if let Some(what) = what {
                                note(&mut swap, what);
                            }
                            swap.phase = Phase::Ready;
                            return Ok(swap);
                        }
                        Forensics::Acted(what) => {
                            note(&mut swap, what);
                            None
                        }
                        Forensics::Waiting(why) => Some(why),
                    }
                }
            }
            Some(damaged) => {
                let copy = cloud.describe_instance(&promotion.restored_db_id).await.op("DescribeDBInstances")?;
                match copy {
                    Some(copy) if available(&copy) => {
                        guard.db_write(&damaged.id)?;
                        guard.db_write(&promotion.damaged_db_id)?;
                        match rename(cloud, &damaged.id, &promotion.damaged_db_id).await? {
                            None => {
                                note(
                                    &mut swap,
                                    format!("renamed the damaged production database {production_id} to {}", promotion.damaged_db_id),
                                );
                                None
                            }
                            Some(why) => Some(format!("{production_id} to be renamed aside ({why})")),
                        }
                    }
                    Some(copy) => Some(format!("the restored copy {} to be available (it is {})", copy.id, copy.status)),
                    None => {
                        return Err(StepError::ProductionNotReady(format!("the restored copy {} does not exist", promotion.restored_db_id)))
                    }
                }
            }
            None => match cloud.describe_instance(&promotion.restored_db_id).await.op("DescribeDBInstances")? {
                Some(copy) if available(&copy) => {
                    guard.db_write(&copy.id)?;
                    guard.db_write(production_id)?;
                    match rename(cloud, &copy.id, production_id).await? {
                        None => {
                            note(&mut swap, format!("renamed the restored copy {} to {production_id}", copy.id));
                            None
                        }
                        Some(why) => Some(format!("{production_id} to be free for the restored copy ({why})")),
                    }
                }
                Some(copy) => Some(format!("the restored copy {} to be available (it is {})", copy.id, copy.status)),
                None => {
                    return Err(StepError::ProductionNotReady(format!(
                        "neither {production_id} nor the restored copy {} exists",
                        promotion.restored_db_id
                    )))
                }
            },
        };
        if let Some(why) = waiting {
            swap.waiting_for = Some(why);
            return Ok(swap);
        }
    }
    swap.waiting_for = Some("the renames to settle".into());
    Ok(swap)
}

/// Renames; `Ok(Some(why))` when RDS says "not now" (busy, or the name is not free yet).
async fn rename<C: Rds + Sync>(cloud: &C, from: &str, to: &str) -> Result<Option<String>, StepError> {
    match cloud.rename_instance(from, to).await {
        Ok(_) => Ok(None),
        Err(e) if e.is(CloudErrorKind::InvalidState) || e.is(CloudErrorKind::AlreadyExists) => Ok(Some(e.to_string())),
        Err(e) => Err(StepError::from_cloud("ModifyDBInstance", e)),
    }
}

enum Forensics {
    /// Nothing more to do (with what this pass did, if anything).
    Done(Option<String>),
    Acted(String),
    Waiting(String),
}

/// Tags the damaged instance with the promotion's tags and its retention, then stops it; the
/// rollback never deletes it. An instance RDS cannot stop is kept running, and says so.
async fn keep_for_forensics<C: Rds + Sync>(cloud: &C, guard: &ProductionGuard<'_>, promotion: &Promotion) -> Result<Forensics, StepError> {
    let id = &promotion.damaged_db_id;
    let Some(damaged) = cloud.describe_instance(id).await.op("DescribeDBInstances")? else {
        return Ok(Forensics::Done(Some(format!("the damaged database {id} is gone: nothing to keep"))));
    };
    guard.db_write(&damaged.id)?;
    let until = promotion.retain_damaged_until.format("%Y-%m-%d").to_string();
    if damaged.tags.get(RETAIN_UNTIL_KEY) != Some(&until) {
        let mut tags = promotion.tags.to_tags();
        tags.insert(RETAIN_UNTIL_KEY.to_string(), until.clone());
        cloud.tag_instance(&damaged.arn, &tags).await.op("AddTagsToResource")?;
        return Ok(Forensics::Acted(format!("tagged the damaged database {id} to be kept for forensics until {until}")));
    }
    match damaged.status.as_str() {
        "stopped" | "stopping" => Ok(Forensics::Done(None)),
        "available" => match cloud.stop_instance(id).await {
            Ok(()) => Ok(Forensics::Done(Some(format!(
                "stopped the damaged database {id}; delete it after {until} (RDS starts a stopped instance again after 7 days)"
            )))),
            Err(e) if e.is(CloudErrorKind::InvalidState) => Ok(Forensics::Waiting(format!("{id} to be stoppable ({e})"))),
            Err(e) if is_retryable(&e) => Err(StepError::from_cloud("StopDBInstance", e)),
            Err(e) => Ok(Forensics::Done(Some(format!("the damaged database {id} could not be stopped and keeps running: {e}")))),
        },
        other => Ok(Forensics::Waiting(format!("the damaged database {id} to settle before it is stopped (it is {other})"))),
    }
}

fn is_retryable(e: &CloudError) -> bool {
    e.is(CloudErrorKind::Throttled) || e.is(CloudErrorKind::Unavailable)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeRollbackInput {
    pub promotion: Promotion,
    pub source: ProductionSource,
    /// The deployment as last seen (App Runner may have rolled it back already).
    pub deployment: ServiceState,
}

/// `$.rollback.code`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeRollback {
    pub action: String,
    /// What an operator must do by hand, when the host cannot do it.
    pub manual_action: Option<String>,
    /// The deployment that takes the service back, to wait for.
    pub service: Option<ServiceState>,
}

pub async fn roll_back_production_code<C: ServiceHost + Clock + Sync>(
    cloud: &C,
    input: CodeRollbackInput,
) -> Result<CodeRollback, StepError> {
    let (promotion, source) = (&input.promotion, &input.source);
    if input.deployment.operation_status == "ROLLBACK_SUCCEEDED" {
        return Ok(CodeRollback {
            action: format!("App Runner rolled the deployment of {} back itself: it runs its previous code", source.service_name),
            manual_action: None,
            service: None,
        });
    }
    let Some(image) = &source.image_identifier else {
        let repository = source.repository_url.as_deref().unwrap_or("its repository");
        let branch = source.branch.as_deref().unwrap_or("its branch");
        return Ok(CodeRollback {
            action: format!(
                "{} is built from {repository} branch {branch}; App Runner cannot redeploy an earlier commit",
                source.service_name
            ),
            manual_action: Some(format!(
                "The database is restored, but {service} still runs the release. In App Runner, {service} → Deployments, the last \
                 deployment before {at} names the last good commit; revert {branch} of {repository} to it (git revert the release \
                 commits and push), then run `aws apprunner start-deployment --service-arn {arn}` and wait for it to succeed.",
                service = source.service_name,
                at = source.recorded_at.format("%Y-%m-%dT%H:%M:%SZ"),
                arn = source.service_arn,
            )),
            service: None,
        });
    };
    ProductionGuard::new(promotion).service_write(&source.service_arn)?;
    let operation_id = match cloud.update_service_image(&source.service_arn, image).await {
        // The failed deployment is still settling: ask again later.
        Err(e) if e.is(CloudErrorKind::InvalidState) => return Err(StepError::Transient { operation: "UpdateService".into(), source: e }),
        other => other.op("UpdateService")?,
    };
    Ok(CodeRollback {
        action: format!("updated {} back to the image it ran before the promotion, {image}", source.service_name),
        manual_action: None,
        service: Some(ServiceState {
            operation_id: Some(operation_id),
            operation_status: "IN_PROGRESS".into(),
            status: "OPERATION_IN_PROGRESS".into(),
            phase: Phase::InProgress,
            wait: Deadline::start(cloud.now(), promotion.plan.timeouts.service_minutes),
            ..input.deployment
        }),
    })
}
