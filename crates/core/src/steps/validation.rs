//! Runbook step 7: the validation checklist against the running staging service
//! (`validate_staging`), and runbook step 8.4: the same checklist against production after its
//! deployment (`validate_production`): health, login with the test admin (JWTs), token refresh,
//! billing ("Unlimited" for -1) and tenant registration with a throwaway, recognisable tenant
//! name. Both read only the test admin's password; the URL comes from the state and must be the
//! one the service API reports for the environment's service.
//!
//! Steps: `validate_staging` (staging.asl.json `ValidateStaging`), `validate_production`
//! (promote.asl.json `ValidateProduction`). Tests: tests/steps/validation.rs; end to end,
//! tests/staging_pipeline.rs `failed_checks_roll_back_with_the_checks_own_message` and tests/promote_pipeline.rs
//! `an_approved_promotion_deploys_backfills_checks_production_and_moves_the_teardown`,
//! `an_image_based_production_goes_back_to_the_image_it_ran`.

use super::migrations::CheckReport;
use super::{reported_service_url, required_parameter};
use crate::checks::http::{check_tenant_name, run_checklist};
use crate::checks::require_all;
use crate::cloud::{Clock, HttpClient, ParameterStore, ServiceHost};
use crate::plan::{Environment, RunPlan};
use crate::StepError;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidateInput {
    pub plan: RunPlan,
    pub service_url: String,
}

pub async fn validate_service<C: ParameterStore + HttpClient + ServiceHost + Clock + Sync>(
    cloud: &C,
    environment: Environment,
    input: ValidateInput,
) -> Result<CheckReport, StepError> {
    let plan = &input.plan;
    let url = reported_service_url(cloud, plan, environment, &input.service_url).await?;
    let password = required_parameter(cloud, &plan.validation.test_admin_password_parameter).await?;
    let now = cloud.now();
    let tenant = check_tenant_name(&plan.run_id, now);
    let results = run_checklist(cloud, &format!("https://{url}"), &plan.validation, &password, &tenant, now).await;
    Ok(CheckReport { checks: require_all(results)? })
}
