//! One module per runbook step. Each handler is an async function generic over the capability
//! traits it needs, takes a typed input and answers a typed output; [`invoke`] is the JSON
//! boundary a Lambda (or the local runner) calls. Waiting belongs to the state machine: a
//! handler starts something or looks at it once, and never sleeps.

pub mod backfill;
pub mod lease;
pub mod masking;
pub mod migrations;
pub mod plan_rehearsal;
pub mod prewarm;
pub mod production_rollback;
pub mod production_snapshot;
pub mod promote;
pub mod rollback;
pub mod staging_cluster;
pub mod staging_database;
pub mod staging_frontend;
pub mod staging_parameters;
pub mod staging_service;
pub mod stripe_webhook;
pub mod teardown;
pub mod teardown_schedule;
pub mod validation;

use crate::cloud::{
    Clock, ContainerImages, DatabaseMasker, DatabaseProbe, DatabaseWarmer, Distributions, Executions, HttpClient, ObjectStore,
    ParameterKind, ParameterStore, PaymentWebhooks, Rds, Scheduler, ServiceHost,
};
use crate::error::CloudResultExt;
use crate::guard::StagingGuard;
use crate::plan::{Environment, RunPlan};
use crate::secret::Secret;
use crate::tags::{Ownership, RunTags, Tags};
use crate::{CloudErrorKind, StepError};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::future::Future;

/// `Cloud`: every capability trait, once, for the trait and its blanket implementation.
macro_rules! cloud {
    ($($capability:ident),+) => {
        /// Everything a step may use. The SDK adapters and the simulated account implement all of it.
        pub trait Cloud: $($capability +)+ Sync {}
        impl<T: $($capability +)+ Sync> Cloud for T {}
    };
}
cloud!(
    Clock,
    Rds,
    ParameterStore,
    ServiceHost,
    ContainerImages,
    Scheduler,
    PaymentWebhooks,
    Executions,
    HttpClient,
    DatabaseProbe,
    DatabaseMasker,
    DatabaseWarmer,
    ObjectStore,
    Distributions
);

macro_rules! steps {
    ($($variant:ident => $name:literal, $key:literal;)*) => {
        /// The steps, each one Lambda with its own role. `name` is its function's `Handler:`;
        /// `arn_key` is the `${…}` substitution the state machines use for its ARN. A check
        /// that staging and production both need is two steps with one handler, named for the
        /// environment they touch, so that each gets a role reading only that environment.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Step { $($variant),* }

        impl Step {
            pub const ALL: &'static [Step] = &[$(Step::$variant),*];

            pub fn name(self) -> &'static str {
                match self { $(Step::$variant => $name),* }
            }

            pub fn arn_key(self) -> &'static str {
                match self { $(Step::$variant => $key),* }
            }
        }
    };
}

steps! {
    PlanRehearsal => "plan_rehearsal", "PlanRehearsalFunctionArn";
    TakeStagingLease => "take_staging_lease", "TakeStagingLeaseFunctionArn";
    ReleaseStagingLease => "release_staging_lease", "ReleaseStagingLeaseFunctionArn";
    SnapshotProductionDatabase => "snapshot_production_database", "SnapshotProductionDatabaseFunctionArn";
    CheckProductionSnapshot => "check_production_snapshot", "CheckProductionSnapshotFunctionArn";
    CreateStagingCluster => "create_staging_cluster", "CreateStagingClusterFunctionArn";
    CheckStagingCluster => "check_staging_cluster", "CheckStagingClusterFunctionArn";
    RestoreStagingDatabase => "restore_staging_database", "RestoreStagingDatabaseFunctionArn";
    CheckStagingDatabase => "check_staging_database", "CheckStagingDatabaseFunctionArn";
    ResetStagingDatabasePassword => "reset_staging_database_password", "ResetStagingDatabasePasswordFunctionArn";
    WriteStagingParameters => "write_staging_parameters", "WriteStagingParametersFunctionArn";
    WriteStagingDatabaseUrl => "write_staging_database_url", "WriteStagingDatabaseUrlFunctionArn";
    MaskStagingDatabase => "mask_staging_database", "MaskStagingDatabaseFunctionArn";
    VerifyMasking => "verify_masking", "VerifyMaskingFunctionArn";
    PrewarmStagingDatabase => "prewarm_staging_database", "PrewarmStagingDatabaseFunctionArn";
    ScheduleStagingTeardown => "schedule_staging_teardown", "ScheduleStagingTeardownFunctionArn";
    CopyStagingFrontend => "copy_staging_frontend", "CopyStagingFrontendFunctionArn";
    ServeStagingFrontend => "serve_staging_frontend", "ServeStagingFrontendFunctionArn";
    CheckStagingFrontend => "check_staging_frontend", "CheckStagingFrontendFunctionArn";
    ConfigureStagingFrontend => "configure_staging_frontend", "ConfigureStagingFrontendFunctionArn";
    CreateStagingService => "create_staging_service", "CreateStagingServiceFunctionArn";
    CheckStagingService => "check_staging_service", "CheckStagingServiceFunctionArn";
    RegisterStripeWebhook => "register_stripe_webhook", "RegisterStripeWebhookFunctionArn";
    PointStripeWebhook => "point_stripe_webhook", "PointStripeWebhookFunctionArn";
    PublishFrontendUrl => "publish_frontend_url", "PublishFrontendUrlFunctionArn";
    VerifyStagingMigrations => "verify_staging_migrations", "VerifyStagingMigrationsFunctionArn";
    TriggerStagingBackfill => "trigger_staging_backfill", "TriggerStagingBackfillFunctionArn";
    VerifyStagingBackfill => "verify_staging_backfill", "VerifyStagingBackfillFunctionArn";
    ValidateStaging => "validate_staging", "ValidateStagingFunctionArn";
    RollbackStaging => "rollback_staging", "RollbackStagingFunctionArn";
    VerifyRehearsalPassed => "verify_rehearsal_passed", "VerifyRehearsalPassedFunctionArn";
    TakeProductionLease => "take_production_lease", "TakeProductionLeaseFunctionArn";
    ReleaseProductionLease => "release_production_lease", "ReleaseProductionLeaseFunctionArn";
    CheckApproval => "check_approval", "CheckApprovalFunctionArn";
    CloseApproval => "close_approval", "CloseApprovalFunctionArn";
    SnapshotProductionBeforeDeploy => "snapshot_production_before_deploy", "SnapshotProductionBeforeDeployFunctionArn";
    RecordProductionSource => "record_production_source", "RecordProductionSourceFunctionArn";
    StartProductionDeployment => "start_production_deployment", "StartProductionDeploymentFunctionArn";
    CheckProductionService => "check_production_service", "CheckProductionServiceFunctionArn";
    VerifyProductionMigrations => "verify_production_migrations", "VerifyProductionMigrationsFunctionArn";
    TriggerProductionBackfill => "trigger_production_backfill", "TriggerProductionBackfillFunctionArn";
    VerifyProductionBackfill => "verify_production_backfill", "VerifyProductionBackfillFunctionArn";
    ValidateProduction => "validate_production", "ValidateProductionFunctionArn";
    ScheduleTeardownAfterPromotion => "schedule_teardown_after_promotion", "ScheduleTeardownAfterPromotionFunctionArn";
    RestoreProductionDatabase => "restore_production_database", "RestoreProductionDatabaseFunctionArn";
    CheckRestoredProductionDatabase => "check_restored_production_database", "CheckRestoredProductionDatabaseFunctionArn";
    SwapProductionDatabase => "swap_production_database", "SwapProductionDatabaseFunctionArn";
    RollBackProductionCode => "roll_back_production_code", "RollBackProductionCodeFunctionArn";
    TeardownStaging => "teardown_staging", "TeardownStagingFunctionArn";
}

impl Step {
    pub fn from_name(name: &str) -> Option<Step> {
        Step::ALL.iter().copied().find(|s| s.name() == name)
    }

    /// Steps that create, change or delete something (the ones faults matter most for).
    pub fn mutates(self) -> bool {
        !matches!(
            self,
            Step::PlanRehearsal
                | Step::VerifyRehearsalPassed
                | Step::CheckApproval
                | Step::RecordProductionSource
                | Step::CheckProductionSnapshot
                | Step::CheckStagingCluster
                | Step::CheckStagingDatabase
                | Step::CheckRestoredProductionDatabase
                | Step::CheckStagingService
                | Step::CheckStagingFrontend
                | Step::CheckProductionService
                | Step::VerifyMasking
                // Reads the copy; its one write, CREATE EXTENSION IF NOT EXISTS pg_prewarm, creates
                // nothing a rollback or teardown has to remove (it goes with the instance).
                | Step::PrewarmStagingDatabase
                | Step::VerifyStagingMigrations
                | Step::VerifyProductionMigrations
                | Step::VerifyStagingBackfill
                | Step::VerifyProductionBackfill
                | Step::ValidateStaging
                | Step::ValidateProduction
        )
    }
}

/// The JSON boundary: decodes the step's input, runs its handler, encodes its output.
pub async fn invoke<C: Cloud>(cloud: &C, step: Step, input: Value) -> Result<Value, StepError> {
    use crate::plan::Environment::{Production, Staging};
    match step {
        Step::PlanRehearsal => call(input, |i| plan_rehearsal::plan_rehearsal(cloud, i)).await,
        Step::TakeStagingLease => call(input, |i| lease::take_staging_lease(cloud, i)).await,
        Step::ReleaseStagingLease => call(input, |i| lease::release_staging_lease(cloud, i)).await,
        Step::TakeProductionLease => call(input, |i| lease::take_production_lease(cloud, i)).await,
        Step::ReleaseProductionLease => call(input, |i| lease::release_production_lease(cloud, i)).await,
        Step::SnapshotProductionDatabase => call(input, |i| production_snapshot::snapshot_production_database(cloud, i)).await,
        Step::CheckProductionSnapshot => call(input, |i| production_snapshot::check_production_snapshot(cloud, i)).await,
        Step::CreateStagingCluster => call(input, |i| staging_cluster::create_staging_cluster(cloud, i)).await,
        Step::CheckStagingCluster => call(input, |i| staging_cluster::check_staging_cluster(cloud, i)).await,
        Step::RestoreStagingDatabase => call(input, |i| staging_database::restore_staging_database(cloud, i)).await,
        Step::CheckStagingDatabase | Step::CheckRestoredProductionDatabase => {
            call(input, |i| staging_database::check_database(cloud, i)).await
        }
        Step::ResetStagingDatabasePassword => call(input, |i| staging_database::reset_staging_database_password(cloud, i)).await,
        Step::WriteStagingParameters => call(input, |i| staging_parameters::write_staging_parameters(cloud, i)).await,
        Step::WriteStagingDatabaseUrl => call(input, |i| staging_parameters::write_staging_database_url(cloud, i)).await,
        Step::MaskStagingDatabase => call(input, |i| masking::mask_staging_database(cloud, i)).await,
        Step::VerifyMasking => call(input, |i| masking::verify_masking(cloud, i)).await,
        Step::PrewarmStagingDatabase => call(input, |i| prewarm::prewarm_staging_database(cloud, i)).await,
        Step::ScheduleStagingTeardown => call(input, |i| teardown_schedule::schedule_staging_teardown(cloud, i)).await,
        Step::CopyStagingFrontend => call(input, |i| staging_frontend::copy_staging_frontend(cloud, i)).await,
        Step::ServeStagingFrontend => call(input, |i| staging_frontend::serve_staging_frontend(cloud, i)).await,
        Step::CheckStagingFrontend => call(input, |i| staging_frontend::check_staging_frontend(cloud, i)).await,
        Step::ConfigureStagingFrontend => call(input, |i| staging_frontend::configure_staging_frontend(cloud, i)).await,
        Step::CreateStagingService => call(input, |i| staging_service::create_staging_service(cloud, i)).await,
        Step::CheckStagingService | Step::CheckProductionService => call(input, |i| staging_service::check_service(cloud, i)).await,
        Step::RegisterStripeWebhook => call(input, |i| stripe_webhook::register_stripe_webhook(cloud, i)).await,
        Step::PointStripeWebhook => call(input, |i| stripe_webhook::point_stripe_webhook(cloud, i)).await,
        Step::PublishFrontendUrl => call(input, |i| staging_service::publish_frontend_url(cloud, i)).await,
        Step::VerifyStagingMigrations => call(input, |i| migrations::verify_migrations(cloud, Staging, i)).await,
        Step::VerifyProductionMigrations => call(input, |i| migrations::verify_migrations(cloud, Production, i)).await,
        Step::TriggerStagingBackfill => call(input, |i| backfill::trigger_staging_backfill(cloud, i)).await,
        Step::VerifyStagingBackfill => call(input, |i| backfill::verify_backfill(cloud, Staging, i)).await,
        Step::VerifyProductionBackfill => call(input, |i| backfill::verify_backfill(cloud, Production, i)).await,
        Step::ValidateStaging => call(input, |i| validation::validate_service(cloud, Staging, i)).await,
        Step::ValidateProduction => call(input, |i| validation::validate_service(cloud, Production, i)).await,
        Step::RollbackStaging => call(input, |i| rollback::rollback_staging(cloud, i)).await,
        Step::VerifyRehearsalPassed => call(input, |i| promote::verify_rehearsal_passed(cloud, i)).await,
        Step::CheckApproval => call(input, |i| promote::check_approval(cloud, i)).await,
        Step::CloseApproval => call(input, |i| promote::close_approval(cloud, i)).await,
        Step::SnapshotProductionBeforeDeploy => call(input, |i| production_snapshot::snapshot_production_before_deploy(cloud, i)).await,
        Step::RecordProductionSource => call(input, |i| promote::record_production_source(cloud, i)).await,
        Step::StartProductionDeployment => call(input, |i| promote::start_production_deployment(cloud, i)).await,
        Step::TriggerProductionBackfill => call(input, |i| backfill::trigger_production_backfill(cloud, i)).await,
        Step::ScheduleTeardownAfterPromotion => call(input, |i| teardown_schedule::schedule_teardown_after_promotion(cloud, i)).await,
        Step::RestoreProductionDatabase => call(input, |i| production_rollback::restore_production_database(cloud, i)).await,
        Step::SwapProductionDatabase => call(input, |i| production_rollback::swap_production_database(cloud, i)).await,
        Step::RollBackProductionCode => call(input, |i| production_rollback::roll_back_production_code(cloud, i)).await,
        Step::TeardownStaging => call(input, |i| teardown::teardown_staging(cloud, i)).await,
    }
}

async fn call<I, O, F, Fut>(input: Value, handler: F) -> Result<Value, StepError>
where
    I: DeserializeOwned,
    O: Serialize,
    F: FnOnce(I) -> Fut,
    Fut: Future<Output = Result<O, StepError>>,
{
    let typed: I =
        serde_path_to_error::deserialize(input).map_err(|e| StepError::MalformedInput(format!("{}: {}", e.path(), e.inner())))?;
    // On the heap: `invoke`'s future would otherwise be as large as the largest handler's, which
    // with the SDK's futures inside outgrows a debug build's thread stack.
    let output = Box::pin(handler(typed)).await?;
    serde_json::to_value(output).map_err(|e| StepError::MalformedInput(format!("output could not be encoded: {e}")))
}

/// Input of the steps that need only the plan.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PlanOnly {
    pub plan: RunPlan,
}

/// Input of the promote steps that need only the promotion.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PromotionOnly {
    pub promotion: crate::promotion::Promotion,
}

/// Where a resource the run needs already exists: adopt it if `owner` (this run, in this
/// environment) created it, refuse otherwise.
pub(crate) fn adopt_or_refuse(owner: &RunTags, resource: &str, tags: &Tags) -> Result<(), StepError> {
    match owner.ownership(tags) {
        Ownership::ThisRun => Ok(()),
        Ownership::OtherRun(run) => Err(StepError::ResourceNotOwned {
            resource: resource.to_string(),
            detail: format!("left by rehearsal run {run}; tear that run down first"),
        }),
        Ownership::Foreign => Err(StepError::ResourceNotOwned { resource: resource.to_string(), detail: RunTags::describe_owner(tags) }),
    }
}

/// Whether a resource was created before the run's execution started: such a resource is never
/// the run's, whatever its tags say (anyone allowed to tag can forge those). RDS shows no
/// creation time for an instance still being created, which so cannot predate the run.
pub(crate) fn predates(created_at: Option<DateTime<Utc>>, started_at: DateTime<Utc>) -> bool {
    created_at.is_some_and(|created| created < started_at)
}

/// [`adopt_or_refuse`] for a resource whose creation time is known (RDS instances and
/// snapshots): one created before the execution started is refused even with this run's tags.
pub(crate) fn adopt_if_made_by_run(
    owner: &RunTags,
    started_at: DateTime<Utc>,
    resource: &str,
    tags: &Tags,
    created_at: Option<DateTime<Utc>>,
) -> Result<(), StepError> {
    if predates(created_at, started_at) {
        return Err(StepError::ResourceNotOwned {
            resource: resource.to_string(),
            detail: format!("created at {}, before this run's execution started at {started_at}", created_at.unwrap_or_default()),
        });
    }
    adopt_or_refuse(owner, resource, tags)
}

/// Writes a staging parameter this run owns: creates it tagged, or overwrites one this run
/// created; refuses any other. Returns its ARN.
pub(crate) async fn write_owned_parameter<C: ParameterStore + Sync>(
    cloud: &C,
    plan: &RunPlan,
    key: &str,
    value: &Secret,
    kind: ParameterKind,
) -> Result<String, StepError> {
    let name = plan.staging_parameter(key);
    StagingGuard::new(plan).parameter_write(&name)?;
    // Whether it exists, without reading its value.
    let exists = cloud.describe_parameter(&name).await.op("DescribeParameters")?.is_some();
    if exists {
        adopt_or_refuse(&plan.tags, &name, &cloud.parameter_tags(&name).await.op("ListTagsForResource")?)?;
    }
    // Created tagged in one call, so it never exists untagged (a parameter a failed second
    // call left untagged would be refused as foreign by every later run); an existing one of
    // this run's is overwritten (PutParameter cannot tag on overwrite, and it is tagged already).
    let written = match exists {
        false => cloud.create_parameter(&name, value, kind, &plan.tags.to_tags()).await,
        true => cloud.put_parameter(&name, value, kind, true).await,
    };
    match written {
        // Created by someone else between our read and our write.
        Err(e) if e.is(CloudErrorKind::AlreadyExists) => {
            adopt_or_refuse(&plan.tags, &name, &cloud.parameter_tags(&name).await.op("ListTagsForResource")?)?;
            cloud.put_parameter(&name, value, kind, true).await.op("PutParameter")
        }
        other => other.op("PutParameter"),
    }
}

/// The host name the service API reports for `environment`'s service, which must be the one the
/// state carried: the HTTP checks (with the test admin's password) and the backfill token go only
/// to the service this run checks, never to a URL a forged input names (review L3).
pub(crate) async fn reported_service_url<C: ServiceHost + Sync>(
    cloud: &C,
    plan: &RunPlan,
    environment: Environment,
    given: &str,
) -> Result<String, StepError> {
    let (described, name) = match environment {
        Environment::Staging => {
            (cloud.find_service(&plan.service.name, &plan.service.host.location()).await.op("ListServices")?, &plan.service.name)
        }
        Environment::Production => {
            (cloud.describe_service(&plan.production.service_arn).await.op("DescribeService")?, &plan.production.service_name)
        }
    };
    let service = described.ok_or_else(|| StepError::CheckFailed(format!("service {name} does not exist")))?;
    if !service.url.eq_ignore_ascii_case(given) {
        return Err(StepError::invalid("service_url", format!("{given:?} is not the URL service {name} reports ({})", service.url)));
    }
    Ok(service.url)
}

/// Fails, naming it, when a parameter the run depends on is absent; reads neither its value nor
/// decrypts it (DescribeParameters).
pub(crate) async fn parameter_exists<C: ParameterStore + Sync>(cloud: &C, name: &str) -> Result<(), StepError> {
    match cloud.describe_parameter(name).await.op("DescribeParameters")? {
        Some(_) => Ok(()),
        None => Err(StepError::ProductionNotReady(format!("parameter {name} does not exist"))),
    }
}

/// Reads a parameter the run depends on; absent is a precondition failure naming it.
pub(crate) async fn required_parameter<C: ParameterStore + Sync>(cloud: &C, name: &str) -> Result<Secret, StepError> {
    match cloud.get_parameter(name).await.op("GetParameter")? {
        Some(p) => Ok(p.value),
        None => Err(StepError::ProductionNotReady(format!("parameter {name} does not exist"))),
    }
}

/// A wait loop's bookkeeping: when the state machine must give up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    pub deadline: DateTime<Utc>,
    pub timed_out: bool,
}

impl Deadline {
    pub fn start(now: DateTime<Utc>, minutes: u32) -> Self {
        Self { deadline: now + chrono::Duration::minutes(i64::from(minutes)), timed_out: false }
    }

    pub fn check(deadline: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        Self { deadline, timed_out: now > deadline }
    }
}
