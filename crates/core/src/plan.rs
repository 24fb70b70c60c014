//! The resolved plan: the run document plus every name and production fact the steps need,
//! computed once by `plan_rehearsal` and carried in the execution state as `$.plan`.

use crate::cloud::ServiceSpec;
use crate::run::{TimeoutsInput, ValidationInput};
use crate::tags::RunTags;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

pub const STAGING_ENVIRONMENT: &str = "staging";
/// Parameters copied as they are from production (runbook step 3).
pub const COPIED_FROM_PRODUCTION: [&str; 2] = ["SECRET_KEY", "PGCRYPTO_KEY"];
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunPlan {
    pub app: String,
    pub run_id: String,
    pub run_date: NaiveDate,
    pub started_at: DateTime<Utc>,
    pub tags: RunTags,
    pub production: ProductionFacts,
    pub snapshot_id: String,
    pub staging_db: StagingDbPlan,
    pub staging_parameter_path: String,
    pub stripe_test_parameter_path: String,
    pub stripe_publishable_key: Option<String>,
    pub stripe_webhook: StripeWebhookPlan,
    /// The service to create; `secrets` is filled in by the steps once the parameters exist.
    pub service: ServiceSpec,
    pub validation: ValidationInput,
    pub ttl_hours: u32,
    pub timeouts: TimeoutsInput,
    pub masking: crate::masking::MaskingPlan,
}

/// Production, as read when the run was planned. Only ever read by a staging run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductionFacts {
    pub db_instance_id: String,
    pub parameter_path: String,
    pub service_name: String,
    pub service_arn: String,
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
    pub subnet_group: Option<String>,
    pub security_group_ids: Vec<String>,
    pub publicly_accessible: bool,
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
        COPIED_FROM_PRODUCTION
            .iter()
            .chain(STRIPE_KEYS.iter())
            .chain([STRIPE_WEBHOOK_SECRET, DATABASE_URL, FRONTEND_URL, BACKFILL_TOKEN, crate::masking::MASKING_KEY].iter())
            .map(|k| self.staging_parameter(k))
            .collect()
    }

    pub fn teardown_schedule_name(&self) -> String {
        crate::naming::teardown_schedule_name(&self.run_id)
    }

    pub fn deadline(&self, now: DateTime<Utc>, minutes: u32) -> DateTime<Utc> {
        now + chrono::Duration::minutes(i64::from(minutes))
    }
}
