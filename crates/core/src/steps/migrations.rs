//! Runbook step 5: the deployment ran the multi-tenancy migrations on the staging database
//! (`verify_staging_migrations`) and, during a promotion, on production's
//! (`verify_production_migrations`). The step names the environment; the credentials come from
//! that environment's DATABASE_URL parameter, never from the input.
//!
//! Steps: `verify_staging_migrations` (staging.asl.json `VerifyStagingMigrations`),
//! `verify_production_migrations` (promote.asl.json `VerifyProductionMigrations`). Tests:
//! tests/steps/migrations.rs; end to end, tests/staging_pipeline.rs
//! `failed_checks_roll_back_with_the_checks_own_message` and tests/promote_pipeline.rs
//! `an_approved_promotion_deploys_backfills_checks_production_and_moves_the_teardown`,
//! `a_failure_at_each_promote_step_leaves_production_as_it_was`.

use super::required_parameter;
use super::PlanOnly;
use crate::checks::db::{migration_checks, run_checks, DbCheck};
use crate::checks::{require_all, CheckResult};
use crate::cloud::{DatabaseProbe, DbTarget, ParameterStore};
use crate::database_url;
use crate::plan::{Environment, RunPlan, DATABASE_URL};
use crate::StepError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckReport {
    pub checks: Vec<CheckResult>,
}

/// Where `environment`'s database answers, from its DATABASE_URL SecureString.
pub(crate) async fn database_target<C: ParameterStore + Sync>(
    cloud: &C,
    plan: &RunPlan,
    environment: Environment,
) -> Result<DbTarget, StepError> {
    let url = required_parameter(cloud, &plan.parameter(environment, DATABASE_URL)).await?;
    database_url::target(&url).map_err(StepError::ProductionNotReady)
}

/// Runs SQL checks against `environment`'s database; all must hold.
pub(crate) async fn check_database_contents<C: ParameterStore + DatabaseProbe + Sync>(
    cloud: &C,
    environment: Environment,
    input: &PlanOnly,
    checks: &[DbCheck],
) -> Result<CheckReport, StepError> {
    let target = database_target(cloud, &input.plan, environment).await?;
    Ok(CheckReport { checks: require_all(run_checks(cloud, &target, checks).await?)? })
}

pub async fn verify_migrations<C: ParameterStore + DatabaseProbe + Sync>(
    cloud: &C,
    environment: Environment,
    input: PlanOnly,
) -> Result<CheckReport, StepError> {
    check_database_contents(cloud, environment, &input, &migration_checks()).await
}
