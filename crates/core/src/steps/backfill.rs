//! Runbook step 6, option A: a one-time endpoint backfills existing rows to the default tenant.
//! The run creates a one-time token as a SecureString the app reads when called (the app finds
//! it through the BACKFILL_TOKEN_PARAMETER variable), calls the endpoint, and deletes the token
//! whatever happened. The endpoint is idempotent, so a retry is safe. SQL then proves it
//! (`verify_staging_backfill`). A promotion runs the very same backfill on production (runbook
//! step 8.3, `trigger_production_backfill`, `verify_production_backfill`); only where the token is
//! written, under which guard, and whose DATABASE_URL the proof reads, differ.
//!
//! Steps: `trigger_staging_backfill`, `verify_staging_backfill` (staging.asl.json
//! `TriggerStagingBackfill`, `VerifyStagingBackfill`); `trigger_production_backfill`,
//! `verify_production_backfill` (promote.asl.json `TriggerProductionBackfill`, `VerifyProductionBackfill`).
//! Tests: tests/steps/backfill.rs; end to end, tests/staging_pipeline.rs
//! `every_fault_in_every_mutating_step_ends_in_success_or_a_clean_rollback` and tests/promote_pipeline.rs
//! `an_approved_promotion_deploys_backfills_checks_production_and_moves_the_teardown`,
//! `a_failure_at_each_promote_step_leaves_production_as_it_was`.

use super::migrations::{check_database_contents, CheckReport};
use super::staging_parameters::kind_of;
use super::{write_owned_parameter, PlanOnly};
use crate::checks::db::backfill_checks;
use crate::checks::http::{request, BACKFILL_TOKEN_HEADER};
use crate::cloud::{DatabaseProbe, HttpClient, HttpError, ParameterStore};
use crate::error::CloudResultExt;
use crate::guard::ProductionGuard;
use crate::plan::{Environment, RunPlan, BACKFILL_TOKEN};
use crate::promotion::Promotion;
use crate::secret::Secret;
use crate::{CloudError, CloudErrorKind, StepError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackfillInput {
    pub plan: RunPlan,
    /// The staging service's host name.
    pub service_url: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductionBackfillInput {
    pub promotion: Promotion,
    /// The production service's host name.
    pub service_url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackfillResult {
    pub status: u16,
    /// What the endpoint reported (counts of tenants, plans and rows).
    pub response: Value,
}

fn one_time_token() -> Result<Secret, StepError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| StepError::MalformedInput(format!("no randomness for the backfill token: {e}")))?;
    Ok(Secret::new(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()))
}

fn unavailable(code: &str, message: String) -> StepError {
    StepError::Transient { operation: "backfill endpoint".into(), source: CloudError::new(CloudErrorKind::Unavailable, code, message) }
}

pub async fn trigger_staging_backfill<C: ParameterStore + HttpClient + Sync>(
    cloud: &C,
    input: BackfillInput,
) -> Result<BackfillResult, StepError> {
    let plan = &input.plan;
    let token = one_time_token()?;
    write_owned_parameter(cloud, plan, BACKFILL_TOKEN, &token, kind_of(BACKFILL_TOKEN)).await?;
    call_backfill(cloud, plan, Environment::Staging, &input.service_url, token).await
}

pub async fn trigger_production_backfill<C: ParameterStore + HttpClient + Sync>(
    cloud: &C,
    input: ProductionBackfillInput,
) -> Result<BackfillResult, StepError> {
    let plan = &input.promotion.plan;
    let name = plan.production_parameter(BACKFILL_TOKEN);
    ProductionGuard::new(&input.promotion).parameter_write(&name)?;
    let token = one_time_token()?;
    // Overwrite: a token left by an interrupted attempt is this same one-time slot.
    cloud.put_parameter(&name, &token, kind_of(BACKFILL_TOKEN), true).await.op("PutParameter")?;
    call_backfill(cloud, plan, Environment::Production, &input.service_url, token).await
}

/// Calls the endpoint of the service at `service_url` with `token`, then deletes the token
/// (whatever the answer) from `environment`'s path, where the app read it.
async fn call_backfill<C: ParameterStore + HttpClient + Sync>(
    cloud: &C,
    plan: &RunPlan,
    environment: Environment,
    service_url: &str,
    token: Secret,
) -> Result<BackfillResult, StepError> {
    let token_parameter = plan.parameter(environment, BACKFILL_TOKEN);
    let url = format!("https://{service_url}{}", plan.validation.backfill_path);
    let mut call = request("POST", url, None, Some(serde_json::json!({})));
    call.headers.push((BACKFILL_TOKEN_HEADER.to_string(), token));
    let answer = cloud.send(call).await;
    match cloud.delete_parameter(&token_parameter).await {
        Err(e) if e.is(CloudErrorKind::NotFound) => {}
        other => other.op("DeleteParameter")?,
    }
    match answer {
        Ok(r) if (200..300).contains(&r.status) => {
            Ok(BackfillResult { status: r.status, response: serde_json::from_str(&r.body).unwrap_or(Value::String(r.body)) })
        }
        Ok(r) if r.status == 403 => Err(StepError::CheckFailed(format!(
            "the backfill endpoint refused the one-time token (HTTP 403); the app must read the parameter named by its \
             BACKFILL_TOKEN_PARAMETER variable ({token_parameter})"
        ))),
        // A service that is still warming up answers 502/503/504.
        Ok(r) if r.status >= 500 => Err(unavailable(&format!("HTTP {}", r.status), truncate(&r.body))),
        Ok(r) => Err(StepError::CheckFailed(format!("the backfill endpoint answered HTTP {}: {}", r.status, truncate(&r.body)))),
        Err(e @ (HttpError::Connect(_) | HttpError::Timeout(_))) => Err(unavailable("ConnectionFailed", e.to_string())),
        Err(e) => Err(StepError::CheckFailed(format!("the backfill endpoint could not be called: {e}"))),
    }
}

fn truncate(body: &str) -> String {
    body.chars().take(300).collect()
}

pub async fn verify_backfill<C: ParameterStore + DatabaseProbe + Sync>(
    cloud: &C,
    environment: Environment,
    input: PlanOnly,
) -> Result<CheckReport, StepError> {
    check_database_contents(cloud, environment, &input, &backfill_checks()).await
}
