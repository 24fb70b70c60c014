//! The resolved plan: the run document plus every name and production fact the steps need,
//! computed once by `plan_rehearsal` and carried in the execution state as `$.plan`.

use crate::cloud::{ServiceBackend, ServiceLocation, ServiceSpec};
use crate::run::{SecretKeySource, TimeoutsInput, ValidationInput};
use crate::tags::RunTags;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub const STAGING_ENVIRONMENT: &str = "staging";
/// Parameters copied as they are from production (runbook step 3); SECRET_KEY only with
/// `staging.secret_key: copy`.
pub const COPIED_FROM_PRODUCTION: [&str; 2] = [SECRET_KEY, "PGCRYPTO_KEY"];
pub const SECRET_KEY: &str = "SECRET_KEY";
/// Stripe test keys, read from the Stripe test path.
pub const STRIPE_KEYS: [&str; 2] = [STRIPE_SECRET_KEY, "STRIPE_PUBLISHABLE_KEY"];
pub const STRIPE_SECRET_KEY: &str = "STRIPE_SECRET_KEY";
/// The signing secret of the webhook endpoint the run creates for the staging URL.
pub const STRIPE_WEBHOOK_SECRET: &str = "STRIPE_WEBHOOK_SECRET";
pub const DATABASE_URL: &str = "DATABASE_URL";
pub const FRONTEND_URL: &str = "FRONTEND_URL";
/// The one-time token the backfill endpoint accepts; exists only while the backfill is triggered.
pub const BACKFILL_TOKEN: &str = "BACKFILL_TOKEN";
/// Scheduler group the teardown schedules live in (created by the SAM template).
pub const SCHEDULE_GROUP: &str = "rehearsal";

/// The keys of every staging parameter a run may create, in the order they are written.
pub fn staging_parameter_keys() -> Vec<&'static str> {
    COPIED_FROM_PRODUCTION
        .into_iter()
        .chain(STRIPE_KEYS)
        .chain([STRIPE_WEBHOOK_SECRET, DATABASE_URL, FRONTEND_URL, BACKFILL_TOKEN, crate::masking::MASKING_KEY])
        .collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunPlan {
    pub app: String,
    /// Derived from the execution ([`crate::naming::run_id`]); tags and names carry it.
    pub run_id: String,
    /// The execution's start: nothing created before it belongs to the run.
    pub started_at: DateTime<Utc>,
    pub tags: RunTags,
    pub production: ProductionFacts,
    pub snapshot_id: String,
    pub staging_db: StagingDbPlan,
    pub staging_parameter_path: String,
    pub secret_key: SecretKeyPlan,
    pub stripe_test_parameter_path: String,
    pub stripe_publishable_key: Option<String>,
    pub stripe_webhook: StripeWebhookPlan,
    /// The service to create; `secrets` is filled in by the steps once the parameters exist.
    pub service: ServiceSpec,
    /// What staging runs: the execution's output reports it, and a promotion deploys exactly it.
    pub release: PlannedRelease,
    pub validation: ValidationInput,
    pub ttl_hours: u32,
    pub timeouts: TimeoutsInput,
    pub masking: crate::masking::MaskingPlan,
    /// The staging frontend, as the document gave it (checked by validation).
    pub frontend: crate::run::FrontendInput,
    /// `frontend.serving: cloudfront`: a distribution the run creates serves the staging
    /// frontend, and its URL is FRONTEND_URL from the start (what the definition's Choices test).
    #[serde(default)]
    pub frontend_distribution: bool,
}

/// The release a staging run rehearses (`release` in its output).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedRelease {
    pub backend: ServiceBackend,
    /// The image as the document named it: a tag may move later, `image` does not.
    pub requested_image: Option<String>,
    /// `<repository>@sha256:…`: what staging runs, and the one image a promotion of this run deploys.
    pub image: Option<String>,
    /// For a service App Runner builds from source: the branch, whose head at build time staging
    /// ran. Production would build the head at its own deployment, which staging may not have run.
    pub branch: Option<String>,
}

/// Production, as read when the run was planned. Only ever read by a staging run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductionFacts {
    pub db_instance_id: String,
    /// The Aurora cluster production's instance belongs to (its DBClusterIdentifier), if any.
    #[serde(default)]
    pub db_cluster_id: Option<String>,
    pub parameter_path: String,
    pub service_name: String,
    pub service_arn: String,
}

/// Staging's SECRET_KEY: copied or generated, and what that exposes (in the plan, so the
/// execution's output says it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretKeyPlan {
    pub source: SecretKeySource,
    pub exposes: String,
}

/// The Stripe webhook endpoint for the staging URL (runbook step 3: "create new webhook for staging").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StripeWebhookPlan {
    /// Path on the staging URL Stripe posts events to.
    pub path: String,
    pub events: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StagingDbPlan {
    pub instance_id: String,
    pub class: String,
    /// `staging.source: point-in-time`: restored from production's automated backups, started
    /// before the safety snapshot (the definition's Choices test this, not the source's name).
    pub restore_from_backups: bool,
    /// `staging.source: aurora-clone`: production's Aurora cluster cloned copy-on-write, the
    /// staging instance created in the clone (what the definition's Choices test).
    #[serde(default)]
    pub clone_cluster: bool,
    /// `staging.source: snapshot` on an Aurora production: the safety snapshot is the cluster's
    /// (CreateDBClusterSnapshot), and staging's cluster is restored from it
    /// (RestoreDBClusterFromSnapshot) before the staging instance joins it.
    #[serde(default)]
    pub snapshot_cluster: bool,
    /// Staging's cluster, given with `clone_cluster` or `snapshot_cluster`.
    #[serde(default)]
    pub cluster: Option<StagingClusterPlan>,
    /// `staging.prewarm`, as the document gave it (the definition's Choice tests `enabled`).
    pub prewarm: crate::run::PrewarmInput,
    /// Production's instance's, set explicitly on the restore (RDS would give the default).
    pub parameter_group: Option<String>,
    pub option_group: Option<String>,
    /// Production's instance's, as DescribeDBInstances answered (never the document's).
    pub subnet_group: Option<String>,
    pub security_group_ids: Vec<String>,
}

/// The copy of production's Aurora cluster that the staging instance joins: a clone
/// (`aurora-clone`) or a restore of the safety cluster snapshot (`snapshot`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StagingClusterPlan {
    /// `<staging.db_instance_id>-cluster`.
    pub cluster_id: String,
    pub source_cluster_id: String,
    /// The source's (`aurora-postgresql`): the staging instance must be created with it.
    pub engine: String,
    /// The source's cluster parameter group, set explicitly on the copy.
    pub parameter_group: Option<String>,
}

/// Which side of the plan a shared handler works on: the staging copy, or production during a
/// promotion (runbook step 8: "the same checklist" against production). The step says which
/// (`verify_staging_migrations`, `verify_production_migrations`), never the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Staging,
    Production,
}

impl RunPlan {
    /// A parameter of `environment`'s path.
    pub fn parameter(&self, environment: Environment, key: &str) -> String {
        match environment {
            Environment::Staging => self.staging_parameter(key),
            Environment::Production => self.production_parameter(key),
        }
    }

    pub fn staging_parameter(&self, key: &str) -> String {
        crate::naming::parameter_name(&self.staging_parameter_path, key)
    }

    pub fn production_parameter(&self, key: &str) -> String {
        crate::naming::parameter_name(&self.production.parameter_path, key)
    }

    /// Every staging parameter a run may create, in the order they are written.
    pub fn staging_parameter_names(&self) -> Vec<String> {
        staging_parameter_keys().into_iter().map(|k| self.staging_parameter(k)).collect()
    }

    /// Where production's service is: the plan found it on staging's backend, in staging's
    /// cluster on ECS (the stack's EcsCluster).
    pub fn production_location(&self) -> ServiceLocation {
        self.service.host.location()
    }

    pub fn distribution_name(&self) -> String {
        crate::naming::distribution_name(&self.run_id)
    }

    pub fn teardown_schedule_name(&self) -> String {
        crate::naming::teardown_schedule_name(&self.run_id)
    }

    pub fn deadline(&self, now: DateTime<Utc>, minutes: u32) -> DateTime<Utc> {
        now + chrono::Duration::minutes(i64::from(minutes))
    }
}
