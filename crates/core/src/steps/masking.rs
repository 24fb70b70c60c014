//! Issue 17: no real person's data in staging. `mask_staging_database` masks the staging copy
//! with the plan's rules after the restore and before the staging service exists (the app never
//! serves unmasked data); `verify_masking` is the checklist item `masking_verified`: a sample of
//! each masked column's production values is looked for in staging (both read only), with row
//! counts, foreign keys and the kept accounts. Both run in the databases' VPC.
//!
//! Steps: `mask_staging_database` (staging.asl.json `MaskStagingDatabase`), `verify_masking`
//! (`VerifyMasking`). Tests: tests/steps/masking.rs; the PostgreSQL masker in
//! crates/probes/tests/postgres/masking.rs; end to end, tests/staging_pipeline.rs
//! `the_copy_is_masked_before_the_service_exists_and_the_report_says_what_was_masked`,
//! `masking_off_is_stated_and_a_bad_rule_is_refused_before_anything_is_masked`,
//! `failed_checks_roll_back_with_the_checks_own_message`.

use super::migrations::{database_target, CheckReport};
use super::{write_owned_parameter, PlanOnly};
use crate::checks::{require_all, CheckResult};
use crate::cloud::{Clock, DatabaseMasker, ParameterKind, ParameterStore};
use crate::error::CloudResultExt;
use crate::masking::{evaluate, new_key, TableMasked, MASKING_KEY};
use crate::plan::Environment;
use crate::secret::Secret;
use crate::StepError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What masking did, for the report: tables, columns, rows, time taken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskingReport {
    /// `false` when the run document turned masking off (`masking.enabled: false`).
    pub enabled: bool,
    pub tables: Vec<TableMasked>,
    pub rows_masked: u64,
    pub started_at: DateTime<Utc>,
    pub seconds: i64,
}

/// The run's masking key: read back on a retry, so values already masked and values masked
/// now agree (a hashed join key must hash alike in every table).
async fn masking_key<C: ParameterStore + Sync>(cloud: &C, plan: &crate::plan::RunPlan) -> Result<Secret, StepError> {
    if let Some(existing) = cloud.get_parameter(&plan.staging_parameter(MASKING_KEY)).await.op("GetParameter")? {
        return Ok(existing.value);
    }
    let key = Secret::new(new_key()?);
    write_owned_parameter(cloud, plan, MASKING_KEY, &key, ParameterKind::SecureString).await?;
    Ok(key)
}

pub async fn mask_staging_database<C: ParameterStore + DatabaseMasker + Clock + Sync>(
    cloud: &C,
    input: PlanOnly,
) -> Result<MaskingReport, StepError> {
    let plan = &input.plan;
    let started_at = cloud.now();
    let mut report = MaskingReport { enabled: plan.masking.enabled, tables: vec![], rows_masked: 0, started_at, seconds: 0 };
    if !plan.masking.enabled {
        return Ok(report);
    }
    let target = database_target(cloud, plan, Environment::Staging).await?;
    // The one write a staging run makes inside a database: never where production answers.
    let production = database_target(cloud, plan, Environment::Production).await?;
    if target.host.eq_ignore_ascii_case(&production.host) && target.port == production.port {
        return Err(StepError::ProductionWriteRefused {
            resource: format!("database at {}:{}", target.host, target.port),
            detail: "the staging DATABASE_URL points at production's database; masking writes".into(),
        });
    }
    let key = masking_key(cloud, plan).await?;
    report.tables = cloud.mask(&target, &plan.masking, &key).await.map_err(|e| e.into_step_error(&target.host))?;
    report.rows_masked = report.tables.iter().map(|t| t.rows_masked).sum();
    report.seconds = (cloud.now() - started_at).num_seconds();
    tracing::info!(tables = report.tables.len(), rows = report.rows_masked, seconds = report.seconds, "staging database masked");
    Ok(report)
}

pub async fn verify_masking<C: ParameterStore + DatabaseMasker + Sync>(cloud: &C, input: PlanOnly) -> Result<CheckReport, StepError> {
    let plan = &input.plan;
    if !plan.masking.enabled {
        let off = CheckResult::new("masking_verified", true, "masked, or masking.enabled: false", "masking.enabled: false (not masked)");
        return Ok(CheckReport { checks: vec![off] });
    }
    let staging = database_target(cloud, plan, Environment::Staging).await?;
    let production = database_target(cloud, plan, Environment::Production).await?;
    let findings = cloud.verify(&staging, &production, &plan.masking).await.map_err(|e| e.into_step_error(&staging.host))?;
    Ok(CheckReport { checks: require_all(evaluate(&findings))? })
}
