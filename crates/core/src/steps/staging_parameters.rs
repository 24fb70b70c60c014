//! Runbook step 3: the staging parameters. PGCRYPTO_KEY is copied from production (the restored
//! data is encrypted with it), SECRET_KEY too unless `staging.secret_key: generate`, the Stripe
//! values come from the Stripe *test* path, and DATABASE_URL is production's pointed at the
//! staging endpoint with a newly generated password (the reset step gives it to the instance),
//! which exists only once the restore is done, so it is its own step on that branch.
//! Everything is SecureString except the two values the runbook marks String.
//!
//! Steps: `write_staging_parameters`, `write_staging_database_url` (staging.asl.json
//! `WriteStagingParameters`, `WriteStagingDatabaseUrl`). Tests: tests/steps/staging_parameters.rs; end to
//! end, tests/staging_pipeline.rs `happy_path_builds_staging_and_passes_every_check` and
//! `every_fault_in_every_mutating_step_ends_in_success_or_a_clean_rollback`.

use super::{required_parameter, write_owned_parameter, PlanOnly};
use crate::cloud::{Endpoint, ParameterKind, ParameterStore};
use crate::database_url::{for_staging, target};
use crate::error::CloudResultExt;
use crate::naming::parameter_name;
use crate::plan::{RunPlan, COPIED_FROM_PRODUCTION, DATABASE_URL, FRONTEND_URL, SECRET_KEY, STRIPE_KEYS};
use crate::run::SecretKeySource;
use crate::secret::Secret;
use crate::tags::Ownership;
use crate::StepError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Written parameters: variable name → parameter ARN (what App Runner's secrets reference).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WrittenParameters {
    pub arns: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseUrlInput {
    pub plan: RunPlan,
    pub endpoint: Endpoint,
}

/// The runbook stores these two as String: neither is a secret, and the frontend reads them.
pub fn kind_of(key: &str) -> ParameterKind {
    if key == "STRIPE_PUBLISHABLE_KEY" || key == FRONTEND_URL {
        ParameterKind::String
    } else {
        ParameterKind::SecureString
    }
}

/// The password of the staging DATABASE_URL this run wrote for `endpoint`, if it did.
async fn this_runs_password<C: ParameterStore + Sync>(cloud: &C, plan: &RunPlan, endpoint: &Endpoint) -> Result<Option<Secret>, StepError> {
    let name = plan.staging_parameter(DATABASE_URL);
    let Some(existing) = cloud.get_parameter(&name).await.op("GetParameter")? else { return Ok(None) };
    if plan.tags.ownership(&cloud.parameter_tags(&name).await.op("ListTagsForResource")?) != Ownership::ThisRun {
        return Ok(None);
    }
    Ok(target(&existing.value).ok().filter(|t| t.host == endpoint.address && t.port == endpoint.port).map(|t| t.password))
}

/// `bytes` random bytes for `key`, as hex.
fn generated(key: &str, bytes: usize) -> Result<Secret, StepError> {
    Secret::random_hex(bytes).map_err(|e| StepError::MalformedInput(format!("no randomness for {key}: {e}")))
}

pub async fn write_staging_parameters<C: ParameterStore + Sync>(cloud: &C, input: PlanOnly) -> Result<WrittenParameters, StepError> {
    let plan = &input.plan;
    let mut written = WrittenParameters::default();
    for key in COPIED_FROM_PRODUCTION {
        let value = match (key, plan.secret_key.source) {
            (SECRET_KEY, SecretKeySource::Generate) => generated(key, 50)?,
            _ => required_parameter(cloud, &plan.production_parameter(key)).await?,
        };
        written.arns.insert(key.to_string(), write_owned_parameter(cloud, plan, key, &value, kind_of(key)).await?);
    }
    for key in STRIPE_KEYS {
        let value = match (&plan.stripe_publishable_key, key) {
            (Some(given), "STRIPE_PUBLISHABLE_KEY") => Secret::new(given.clone()),
            _ => required_parameter(cloud, &parameter_name(&plan.stripe_test_parameter_path, key)).await?,
        };
        // Checked again at write time: the test path may have changed since the plan.
        if value.expose().contains("_live_") {
            return Err(StepError::invalid("stripe.test_parameter_path", format!("{key} there is a live Stripe key")));
        }
        written.arns.insert(key.to_string(), write_owned_parameter(cloud, plan, key, &value, kind_of(key)).await?);
    }
    Ok(written)
}

pub async fn write_staging_database_url<C: ParameterStore + Sync>(
    cloud: &C,
    input: DatabaseUrlInput,
) -> Result<WrittenParameters, StepError> {
    let plan = &input.plan;
    let production_url = required_parameter(cloud, &plan.production_parameter(DATABASE_URL)).await?;
    // reset_staging_database_password, which always follows, gives the instance whatever this
    // parameter holds, so the two cannot disagree. A retry keeps the password this run already
    // generated for this endpoint: a service deployed with it keeps working.
    let password = match this_runs_password(cloud, plan, &input.endpoint).await? {
        Some(password) => password,
        None => generated(DATABASE_URL, 24)?,
    };
    let staging_url = for_staging(&production_url, &input.endpoint, &password).map_err(StepError::ProductionNotReady)?;
    let arn = write_owned_parameter(cloud, plan, DATABASE_URL, &staging_url, kind_of(DATABASE_URL)).await?;
    Ok(WrittenParameters { arns: BTreeMap::from([(DATABASE_URL.to_string(), arn)]) })
}
