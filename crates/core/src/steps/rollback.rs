//! The rollback branch of the staging run: delete what this run created, and only that. Each
//! resource is looked up by its planned name and deleted only if its tags say this run made it;
//! production names are refused by the guard even then. Deletions take time, so the state
//! machine calls this again (Wait → rollback → Choice) until nothing is pending. The teardown
//! machine removes staging with this same code, keeping a final snapshot and the backup.
//!
//! Step: `rollback_staging` (staging.asl.json `RollbackStaging`, looped by
//! `WaitBeforeRollingBackAgain`). Tests: tests/steps/rollback.rs; end to end, tests/staging_pipeline.rs
//! `every_fault_in_every_mutating_step_ends_in_success_or_a_clean_rollback`,
//! `a_foreign_resource_under_a_planned_name_is_refused_and_kept`,
//! `a_rollback_that_cannot_finish_fails_loudly_and_keeps_the_teardown_schedule`, tests/redrive.rs, and over
//! the wire tests/over_the_wire/main.rs `a_service_that_fails_to_create_rolls_everything_back_over_the_wire`.

use super::predates;
use super::production_snapshot::describe_snapshot;
use super::stripe_webhook::{staging_stripe_key, this_runs_webhooks};
use super::teardown_schedule::scheduled_run_id;
use crate::cloud::{BucketOwner, Distributions, ObjectStore, ParameterStore, PaymentWebhooks, Rds, Scheduler, ServiceHost};
use crate::error::CloudResultExt;
use crate::guard::StagingGuard;
use crate::phase::{Phase, APP_RUNNER_SERVICE, DB_CLUSTER, DB_INSTANCE, DB_SNAPSHOT, DISTRIBUTION};
use crate::plan::{RunPlan, SCHEDULE_GROUP};
use crate::run::FrontendServing;
use crate::secret::Secret;
use crate::tags::{Ownership, RunTags, Tags};
use crate::{CloudError, CloudErrorKind, StepError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollbackInput {
    pub plan: RunPlan,
    /// How many times the rollback ran before; the state machine gives up after a bound.
    pub attempts: u32,
}

/// `$.rollback` in the state: what this attempt did and what is left.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollbackState {
    /// Nothing this run created is left (kept foreign resources do not count).
    pub complete: bool,
    /// What the wait loop tests: `ready` when complete, else `in_progress` (a failed deletion
    /// is tried again too, until the state machine's bound on attempts).
    pub phase: Phase,
    /// Deletions requested by this attempt.
    pub deleted: Vec<String>,
    /// Still there: deleting, or busy and to be deleted by a later attempt.
    pub pending: Vec<String>,
    /// Present under a planned name but not created by this run: left alone.
    pub kept: Vec<String>,
    /// Deletions that failed for a reason retrying will not fix.
    pub failed: Vec<String>,
    pub attempts: u32,
    /// Not complete after [`attempts_allowed`]: the state machine gives up (loudly).
    #[serde(default)]
    pub timed_out: bool,
    /// The staging database's final snapshot, when one was asked for and taken.
    #[serde(default)]
    pub final_snapshot: Option<String>,
    /// What removes whatever is left, for the message of a rollback that gives up: the run's
    /// teardown schedule when it exists, else a teardown started by hand.
    #[serde(default)]
    pub remedy: String,
}

/// What differs between rolling a failed run back and tearing a finished one down.
#[derive(Debug, Clone, Default)]
pub(crate) struct RemovalOptions {
    /// Snapshot the staging database (if it is available) under this name before deleting it.
    pub final_snapshot_id: Option<String>,
    /// Keep the runbook's production backup (the snapshot staging was restored from).
    pub keep_backup_snapshot: bool,
}

/// What became of one resource.
enum Fate {
    Absent,
    /// Deletion requested; `true` when the resource lingers while it is deleted.
    Deleted {
        lingers: bool,
    },
    Busy(String),
    Kept(String),
}

impl RollbackState {
    /// Throttling and 5xx go back to the state machine's Retry; anything else is noted and
    /// the other resources are still cleaned up.
    fn record(&mut self, resource: String, fate: Result<Fate, StepError>) -> Result<(), StepError> {
        match fate {
            Ok(Fate::Absent) => {}
            Ok(Fate::Deleted { lingers }) => {
                if lingers {
                    self.pending.push(format!("{resource} (deleting)"));
                }
                self.deleted.push(resource);
            }
            Ok(Fate::Busy(why)) => self.pending.push(format!("{resource} ({why})")),
            Ok(Fate::Kept(why)) => self.kept.push(format!("{resource} ({why})")),
            Err(e @ (StepError::Throttled { .. } | StepError::Transient { .. })) => return Err(e),
            Err(e) => self.failed.push(format!("{resource}: {e}")),
        }
        Ok(())
    }
}

/// What deleting a resource depends on: its tags and, where AWS tells it, when it was created.
struct Found<'a> {
    tags: &'a Tags,
    created_at: Option<DateTime<Utc>>,
}

/// Decides from tags and creation time (nothing created before the run's execution started is
/// the run's, whatever its tags say), then deletes; `InvalidState` means "not now" and
/// `NotFound` "already gone".
async fn delete_if_owned<F>(plan: &RunPlan, found: Found<'_>, operation: &str, lingers: bool, delete: F) -> Result<Fate, StepError>
where
    F: std::future::Future<Output = Result<(), CloudError>>,
{
    if predates(found.created_at, plan.started_at) {
        return Ok(Fate::Kept(format!("created before this run's execution started at {}", plan.started_at)));
    }
    match plan.tags.ownership(found.tags) {
        Ownership::ThisRun => {}
        _ => return Ok(Fate::Kept(RunTags::describe_owner(found.tags))),
    }
    match delete.await {
        Ok(()) => Ok(Fate::Deleted { lingers }),
        Err(e) if e.is(CloudErrorKind::NotFound) => Ok(Fate::Absent),
        Err(e) if e.is(CloudErrorKind::InvalidState) => Ok(Fate::Busy(e.message)),
        Err(e) => Err(StepError::from_cloud(operation, e)),
    }
}

async fn delete_this_runs_webhooks<C: PaymentWebhooks + Sync>(cloud: &C, plan: &RunPlan, key: &Secret) -> Result<Fate, StepError> {
    let mut fate = Fate::Absent;
    for endpoint in this_runs_webhooks(cloud, plan, key).await? {
        match cloud.delete_webhook(key, &endpoint.id).await {
            Ok(()) => fate = Fate::Deleted { lingers: false },
            Err(e) if e.is(CloudErrorKind::NotFound) => {}
            Err(e) => return Err(StepError::from_cloud("Stripe DeleteWebhookEndpoint", e)),
        }
    }
    Ok(fate)
}

/// The Aurora clone, once its instance is gone (RDS refuses to delete a cluster with members),
/// with a final cluster snapshot when asked for and the clone is available.
async fn delete_clone<C: Rds + Sync>(
    cloud: &C,
    plan: &RunPlan,
    guard: &StagingGuard<'_>,
    cluster_id: &str,
    options: &RemovalOptions,
    state: &mut RollbackState,
) -> Result<Fate, StepError> {
    let cluster = match cloud.describe_cluster(cluster_id).await.op("DescribeDBClusters")? {
        None => return Ok(Fate::Absent),
        Some(c) if DB_CLUSTER.of(&c.status) == Phase::Gone => return Ok(Fate::Busy(c.status)),
        Some(c) if !c.members.is_empty() => return Ok(Fate::Busy(format!("its instance {} goes first", c.members.join(", ")))),
        Some(c) => c,
    };
    guard.cluster_write(&cluster.id)?;
    let last = options.final_snapshot_id.as_deref().filter(|_| DB_CLUSTER.of(&cluster.status) == Phase::Ready);
    let found = Found { tags: &cluster.tags, created_at: cluster.created_at };
    let fate = delete_if_owned(plan, found, "DeleteDBCluster", true, cloud.delete_cluster(&cluster.id, last)).await;
    if matches!(fate, Ok(Fate::Deleted { .. })) && last.is_some() {
        state.final_snapshot = last.map(str::to_string);
    }
    fate
}

/// Pages of versions one attempt deletes before it leaves the rest to the next attempt.
const VERSION_PAGES_PER_ATTEMPT: u32 = 10;

/// Empties the staging frontend bucket (every version and delete marker) and deletes it, if
/// this run's tags are on it; a bucket left with versions is busy until a later attempt.
async fn delete_this_runs_bucket<C: ObjectStore + Sync>(cloud: &C, plan: &RunPlan) -> Result<Fate, StepError> {
    let bucket = &plan.frontend.staging_bucket;
    StagingGuard::new(plan).bucket_write(bucket)?;
    match cloud.bucket_owner(bucket).await.op("HeadBucket")? {
        BucketOwner::Missing => return Ok(Fate::Absent),
        BucketOwner::OtherAccount => return Ok(Fate::Kept("another AWS account owns this bucket name".into())),
        BucketOwner::ThisAccount => {}
    }
    let tags = match cloud.bucket_tags(bucket).await {
        Err(e) if e.is(CloudErrorKind::NotFound) => return Ok(Fate::Absent),
        other => other.op("GetBucketTagging")?,
    };
    if plan.tags.ownership(&tags) != Ownership::ThisRun {
        return Ok(Fate::Kept(RunTags::describe_owner(&tags)));
    }
    for _ in 0..VERSION_PAGES_PER_ATTEMPT {
        let page = cloud.list_object_versions(bucket).await.op("ListObjectVersions")?;
        if !page.versions.is_empty() {
            cloud.delete_object_versions(bucket, &page.versions).await.op("DeleteObjects")?;
        }
        if !page.truncated {
            break;
        }
    }
    match cloud.delete_bucket(bucket).await {
        Ok(()) => Ok(Fate::Deleted { lingers: false }),
        Err(e) if e.is(CloudErrorKind::NotFound) => Ok(Fate::Absent),
        Err(e) if e.is(CloudErrorKind::InvalidState) => Ok(Fate::Busy(format!("emptying: {}", e.message))),
        Err(e) => Err(StepError::from_cloud("DeleteBucket", e)),
    }
}

/// The run's distribution: disabled first, deleted once that change is deployed (CloudFront
/// refuses before), so it takes a few attempts.
async fn delete_this_runs_distribution<C: Distributions + Sync>(cloud: &C, plan: &RunPlan) -> Result<Fate, StepError> {
    let Some(distribution) = cloud.find_distribution(&plan.distribution_name()).await.op("ListDistributions")? else {
        return Ok(Fate::Absent);
    };
    let tags = match cloud.distribution_tags(&distribution.arn).await {
        Err(e) if e.is(CloudErrorKind::NotFound) => return Ok(Fate::Absent),
        other => other.op("ListTagsForResource")?,
    };
    if plan.tags.ownership(&tags) != Ownership::ThisRun {
        return Ok(Fate::Kept(RunTags::describe_owner(&tags)));
    }
    if distribution.enabled {
        return match cloud.disable_distribution(&distribution.id).await {
            Ok(_) => Ok(Fate::Busy("disabling".into())),
            Err(e) if e.is(CloudErrorKind::NotFound) => Ok(Fate::Absent),
            Err(e) => Err(StepError::from_cloud("UpdateDistribution", e)),
        };
    }
    if DISTRIBUTION.of(&distribution.status) != Phase::Ready {
        return Ok(Fate::Busy(format!("disabled, {}", distribution.status)));
    }
    delete_if_owned(plan, Found { tags: &tags, created_at: None }, "DeleteDistribution", false, cloud.delete_distribution(&distribution.id))
        .await
}

pub async fn rollback_staging<C: Rds + ParameterStore + ServiceHost + Scheduler + PaymentWebhooks + ObjectStore + Distributions + Sync>(
    cloud: &C,
    input: RollbackInput,
) -> Result<RollbackState, StepError> {
    // A failed run's backup is one of its leftovers: production was never changed by it.
    remove_staging(cloud, &input.plan, input.attempts, &RemovalOptions::default()).await
}

/// The state machines wait this long between two attempts (`WaitBeforeRollingBackAgain`,
/// `WaitBeforeTearingDownAgain`).
pub const SECONDS_BETWEEN_ATTEMPTS: u32 = 30;

/// Attempts before a rollback or teardown gives up: long enough for a copy still being
/// restored or snapshotted when the run failed to finish (RDS deletes neither meanwhile) within
/// the plan's own bounds, plus half an hour for the deletions themselves.
pub fn attempts_allowed(plan: &RunPlan) -> u32 {
    let minutes = plan.timeouts.restore_minutes.max(plan.timeouts.snapshot_minutes) + 30;
    minutes * 60 / SECONDS_BETWEEN_ATTEMPTS
}

/// Deletes what the run of `plan` created in staging (one attempt; see the module docs).
pub(crate) async fn remove_staging<
    C: Rds + ParameterStore + ServiceHost + Scheduler + PaymentWebhooks + ObjectStore + Distributions + Sync,
>(
    cloud: &C,
    plan: &RunPlan,
    attempts: u32,
    options: &RemovalOptions,
) -> Result<RollbackState, StepError> {
    let guard = StagingGuard::new(plan);
    guard.plan_is_safe()?;
    let mut state = RollbackState { attempts: attempts + 1, ..RollbackState::default() };

    // The service first: it holds connections to the database and reads the parameters.
    let service = plan.service.name.clone();
    let fate = match cloud.find_service(&service, &plan.service.host.location()).await.op("ListServices")? {
        None => Ok(Fate::Absent),
        Some(s) if APP_RUNNER_SERVICE.of(s.status.as_str()) == Phase::Gone => Ok(Fate::Absent),
        Some(s) => match guard.service_write(&s.arn) {
            Err(e) => Err(e),
            // Settling operations answer InvalidState: a later attempt deletes it.
            Ok(()) => {
                let found = Found { tags: &s.tags, created_at: None };
                delete_if_owned(plan, found, "DeleteService", true, async { cloud.delete_service(&s.arn).await.map(|_| ()) }).await
            }
        },
    };
    state.record(format!("service {service}"), fate)?;

    // Stripe endpoints before the parameters: the staging key to reach them is one of those.
    let fate = match staging_stripe_key(cloud, plan).await {
        Ok(key) => delete_this_runs_webhooks(cloud, plan, &key).await,
        // No staging key (never written, or already deleted): no endpoint can have been created.
        Err(StepError::ProductionNotReady(_)) => Ok(Fate::Absent),
        Err(e) => Err(e),
    };
    state.record("Stripe webhook endpoints".to_string(), fate)?;

    for name in plan.staging_parameter_names() {
        let fate = match cloud.get_parameter(&name).await.op("GetParameter")? {
            None => Ok(Fate::Absent),
            Some(_) => match guard.parameter_write(&name) {
                Err(e) => Err(e),
                Ok(()) => {
                    let tags = cloud.parameter_tags(&name).await.op("ListTagsForResource")?;
                    delete_if_owned(plan, Found { tags: &tags, created_at: None }, "DeleteParameter", false, cloud.delete_parameter(&name))
                        .await
                }
            },
        };
        state.record(format!("parameter {name}"), fate)?;
    }

    let instance = &plan.staging_db.instance_id;
    let fate = match cloud.describe_instance(instance).await.op("DescribeDBInstances")? {
        None => Ok(Fate::Absent),
        Some(db) if DB_INSTANCE.of(&db.status) == Phase::Gone => Ok(Fate::Busy(db.status)),
        Some(db) => match guard.db_write(&db.id) {
            Err(e) => Err(e),
            Ok(()) => {
                // Only an available instance can be snapshotted; a broken copy has nothing to keep.
                // An Aurora instance has no snapshot of its own: its cluster's final one keeps it.
                let last =
                    options.final_snapshot_id.as_deref().filter(|_| DB_INSTANCE.of(&db.status) == Phase::Ready && db.cluster_id.is_none());
                let found = Found { tags: &db.tags, created_at: db.created_at };
                let fate = delete_if_owned(plan, found, "DeleteDBInstance", true, cloud.delete_instance(&db.id, last)).await;
                if matches!(fate, Ok(Fate::Deleted { .. })) {
                    state.final_snapshot = last.map(str::to_string);
                }
                fate
            }
        },
    };
    state.record(format!("DB instance {instance}"), fate)?;
    if let Some(clone) = &plan.staging_db.cluster {
        let fate = delete_clone(cloud, plan, &guard, &clone.cluster_id, options, &mut state).await;
        state.record(format!("DB cluster {}", clone.cluster_id), fate)?;
    }
    if let (None, Some(id)) = (&state.final_snapshot, &options.final_snapshot_id) {
        // Taken by an earlier attempt, while the instance (an Aurora copy's cluster) was deleted.
        if describe_snapshot(cloud, plan.staging_db.cluster.is_some(), id).await?.is_some() {
            state.final_snapshot = Some(id.clone());
        }
    }

    // An Aurora production's backup is its cluster's (`staging.source: snapshot`).
    let (snapshot, of_cluster) = (&plan.snapshot_id, plan.staging_db.snapshot_cluster);
    let fate = match describe_snapshot(cloud, of_cluster, snapshot).await? {
        None => Ok(Fate::Absent),
        Some(_) if options.keep_backup_snapshot => Ok(Fate::Kept("the runbook's production backup is kept".into())),
        Some(s) if DB_SNAPSHOT.of(&s.status) == Phase::Gone => Ok(Fate::Busy(s.status)),
        Some(s) => {
            let found = Found { tags: &s.tags, created_at: s.created_at };
            let (operation, delete) = match of_cluster {
                false => ("DeleteDBSnapshot", futures::future::Either::Left(cloud.delete_snapshot(&s.id))),
                true => ("DeleteDBClusterSnapshot", futures::future::Either::Right(cloud.delete_cluster_snapshot(&s.id))),
            };
            delete_if_owned(plan, found, operation, true, delete).await
        }
    };
    state.record(format!("snapshot {snapshot}"), fate)?;

    if plan.frontend.serving == FrontendServing::Cloudfront {
        let fate = delete_this_runs_distribution(cloud, plan).await;
        state.record(format!("distribution {}", plan.distribution_name()), fate)?;
    }
    let fate = delete_this_runs_bucket(cloud, plan).await;
    state.record(format!("bucket {}", plan.frontend.staging_bucket), fate)?;

    let schedule = plan.teardown_schedule_name();
    // The schedule goes last: while anything else is left it is the safety net that tears it down.
    let found = cloud.get_schedule(SCHEDULE_GROUP, &schedule).await.op("GetSchedule")?;
    let ours = found.as_ref().is_some_and(|s| scheduled_run_id(s).as_deref() == Some(plan.run_id.as_str()));
    state.remedy = match (ours, &found) {
        (true, Some(s)) => format!("the teardown schedule {SCHEDULE_GROUP}/{schedule} is kept and tears it down at {}", s.at),
        _ => format!("no teardown schedule of this run exists: start one by hand (rehearsal remote teardown --run {})", plan.run_id),
    };
    let fate = match found {
        None => Ok(Fate::Absent),
        Some(_) if !ours => Ok(Fate::Kept("it tears down another run".into())),
        Some(_) if !(state.pending.is_empty() && state.failed.is_empty()) => Ok(Fate::Busy("kept until the rest is gone".into())),
        Some(_) => match cloud.delete_schedule(SCHEDULE_GROUP, &schedule).await {
            Ok(()) => Ok(Fate::Deleted { lingers: false }),
            Err(e) if e.is(CloudErrorKind::NotFound) => Ok(Fate::Absent),
            Err(e) => Err(StepError::from_cloud("DeleteSchedule", e)),
        },
    };
    state.record(format!("schedule {SCHEDULE_GROUP}/{schedule}"), fate)?;

    state.complete = state.pending.is_empty() && state.failed.is_empty();
    state.phase = if state.complete { Phase::Ready } else { Phase::InProgress };
    state.timed_out = !state.complete && state.attempts >= attempts_allowed(plan);
    Ok(state)
}
