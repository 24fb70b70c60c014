//! Runbook step 5: the deployment ran the multi-tenancy migrations on the staging database.
//! The credentials come from the staging DATABASE_URL parameter, never from the run input.

use super::{required_parameter, PlanOnly};
use crate::checks::db::{migration_checks, run_checks, DbCheck};
use crate::checks::{require_all, CheckResult};
use crate::cloud::{DatabaseProbe, DbTarget, ParameterStore};
use crate::database_url;
use crate::plan::{RunPlan, DATABASE_URL};
use crate::StepError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckReport {
    pub checks: Vec<CheckResult>,
}

/// Where the staging database answers, from the staging DATABASE_URL SecureString.
pub(crate) async fn staging_database_target<C: ParameterStore + Sync>(cloud: &C, plan: &RunPlan) -> Result<DbTarget, StepError> {
    let url = required_parameter(cloud, &plan.staging_parameter(DATABASE_URL)).await?;
    database_url::target(&url).map_err(StepError::ProductionNotReady)
}

/// Runs SQL checks against the staging database; all must hold.
pub(crate) async fn check_staging_database_contents<C: ParameterStore + DatabaseProbe + Sync>(
    cloud: &C,
    plan: &RunPlan,
    checks: &[DbCheck],
) -> Result<CheckReport, StepError> {
    let target = staging_database_target(cloud, plan).await?;
    Ok(CheckReport { checks: require_all(run_checks(cloud, &target, checks).await?)? })
}

pub async fn verify_staging_migrations<C: ParameterStore + DatabaseProbe + Sync>(
    cloud: &C,
    input: PlanOnly,
) -> Result<CheckReport, StepError> {
    check_staging_database_contents(cloud, &input.plan, &migration_checks()).await
}
