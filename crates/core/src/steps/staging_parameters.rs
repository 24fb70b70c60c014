//! Runbook step 3: the staging parameters. SECRET_KEY and PGCRYPTO_KEY are copied from
//! production (the restored data is encrypted with PGCRYPTO_KEY), the Stripe values come from
//! the Stripe *test* path, and DATABASE_URL is production's pointed at the staging endpoint,
//! which exists only once the restore is done, so it is its own step on that branch.
//! Everything is SecureString except the two values the runbook marks String.
//!
//! Steps: `write_staging_parameters`, `write_staging_database_url` (staging.asl.json
//! `WriteStagingParameters`, `WriteStagingDatabaseUrl`). Tests: tests/steps/staging_parameters.rs; end to
//! end, tests/staging_pipeline.rs `happy_path_builds_staging_and_passes_every_check` and
//! `every_fault_in_every_mutating_step_ends_in_success_or_a_clean_rollback`.

use super::{required_parameter, write_owned_parameter, PlanOnly};
use crate::cloud::{Endpoint, ParameterKind, ParameterStore};
use crate::database_url::rewrite_for_endpoint;
use crate::naming::parameter_name;
use crate::plan::{RunPlan, COPIED_FROM_PRODUCTION, DATABASE_URL, FRONTEND_URL, STRIPE_KEYS};
use crate::secret::Secret;
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

pub async fn write_staging_parameters<C: ParameterStore + Sync>(cloud: &C, input: PlanOnly) -> Result<WrittenParameters, StepError> {
    let plan = &input.plan;
    let mut written = WrittenParameters::default();
    for key in COPIED_FROM_PRODUCTION {
        let value = required_parameter(cloud, &plan.production_parameter(key)).await?;
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
    let staging_url = rewrite_for_endpoint(&production_url, &input.endpoint).map_err(StepError::ProductionNotReady)?;
    let arn = write_owned_parameter(cloud, plan, DATABASE_URL, &staging_url, kind_of(DATABASE_URL)).await?;
    Ok(WrittenParameters { arns: BTreeMap::from([(DATABASE_URL.to_string(), arn)]) })
}
