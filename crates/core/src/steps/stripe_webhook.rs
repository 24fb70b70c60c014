//! Runbook step 3, "create new webhook for staging": a Stripe webhook endpoint for the staging
//! URL, created with the staging **test** key and tagged (in its metadata) with the run; its
//! signing secret becomes the staging STRIPE_WEBHOOK_SECRET. Stripe reveals a secret only when
//! the endpoint is created: a re-run adopts this run's endpoint only with the secret stored for
//! it, and otherwise replaces it.
//!
//! The endpoint is created before the service, so the service starts with its secret: first
//! at a parking URL this run owns (its staging bucket's S3 endpoint, which answers 403 to
//! anything posted), then pointed at the service once that runs. Stripe keeps the secret when an
//! endpoint's URL changes, so the service needs no second deployment for it.
//!
//! Steps: `register_stripe_webhook` (staging.asl.json `RegisterStripeWebhook`) and
//! `point_stripe_webhook` (`PointStripeWebhook`). Tests:
//! tests/steps/stripe_webhook.rs; end to end, tests/staging_pipeline.rs
//! `happy_path_builds_staging_and_passes_every_check` and
//! `every_fault_in_every_mutating_step_ends_in_success_or_a_clean_rollback`; over the wire against a Stripe
//! stand-in, tests/over_the_wire/main.rs `happy_path_over_the_wire_builds_staging_and_passes_every_check`.

use super::staging_parameters::{kind_of, WrittenParameters};
use super::{required_parameter, write_owned_parameter, PlanOnly};
use crate::cloud::{is_stripe_test_key, ParameterStore, PaymentWebhooks, WebhookEndpoint};
use crate::error::CloudResultExt;
use crate::plan::{RunPlan, STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET};
use crate::secret::Secret;
use crate::tags::Ownership;
use crate::{CloudErrorKind, StepError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointWebhookInput {
    pub plan: RunPlan,
    pub webhook: RegisteredWebhook,
    /// The staging service's host name, without scheme.
    pub service_url: String,
}

/// Where the endpoint waits for the service: a host only this run's bucket answers on.
pub fn parking_url(plan: &RunPlan) -> String {
    format!("https://{}.s3.amazonaws.com{}", plan.frontend.staging_bucket, plan.stripe_webhook.path)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisteredWebhook {
    pub webhook_id: String,
    pub url: String,
    /// The endpoints of earlier attempts of this run that were replaced.
    pub replaced: Vec<String>,
    /// STRIPE_WEBHOOK_SECRET's ARN, to add to the service's references.
    #[serde(flatten)]
    pub parameters: WrittenParameters,
}

/// The staging test key, refused before any Stripe call unless it is a test-mode key.
pub(crate) async fn staging_stripe_key<C: ParameterStore + Sync>(cloud: &C, plan: &RunPlan) -> Result<Secret, StepError> {
    let key = required_parameter(cloud, &plan.staging_parameter(STRIPE_SECRET_KEY)).await?;
    if !is_stripe_test_key(&key) {
        return Err(StepError::invalid(
            "stripe.test_parameter_path",
            format!(
                "{} is not a Stripe test key (sk_test_…); staging never calls Stripe with a live key",
                plan.staging_parameter(STRIPE_SECRET_KEY)
            ),
        ));
    }
    Ok(key)
}

/// This run's endpoints in the staging test account.
pub(crate) async fn this_runs_webhooks<C: PaymentWebhooks + Sync>(
    cloud: &C,
    plan: &RunPlan,
    key: &Secret,
) -> Result<Vec<WebhookEndpoint>, StepError> {
    let all = cloud.list_webhooks(key).await.op("Stripe ListWebhookEndpoints")?;
    Ok(all.into_iter().filter(|e| plan.tags.ownership(&e.metadata) == Ownership::ThisRun).collect())
}

/// Registration keeps one invariant, whatever the retries, crashes and concurrent deliveries:
/// older endpoints of the run are deleted only after the new secret is stored, so when exactly
/// one endpoint of the run is left, STRIPE_WEBHOOK_SECRET holds its secret. Such a pair is
/// adopted (a service already running has that secret); otherwise a new endpoint replaces them.
pub async fn register_stripe_webhook<C: ParameterStore + PaymentWebhooks + Sync>(
    cloud: &C,
    input: PlanOnly,
) -> Result<RegisteredWebhook, StepError> {
    let plan = &input.plan;
    let key = staging_stripe_key(cloud, plan).await?;
    let kind = kind_of(STRIPE_WEBHOOK_SECRET);
    if let [only] = this_runs_webhooks(cloud, plan, &key).await?.as_slice() {
        if let Some(stored) = cloud.get_parameter(&plan.staging_parameter(STRIPE_WEBHOOK_SECRET)).await.op("GetParameter")? {
            // Written again unchanged: checks it is this run's and answers its ARN.
            let arn = write_owned_parameter(cloud, plan, STRIPE_WEBHOOK_SECRET, &stored.value, kind).await?;
            return Ok(RegisteredWebhook {
                webhook_id: only.id.clone(),
                url: only.url.clone(),
                replaced: Vec::new(),
                parameters: WrittenParameters { arns: BTreeMap::from([(STRIPE_WEBHOOK_SECRET.to_string(), arn)]) },
            });
        }
    }
    let url = parking_url(plan);
    let created =
        cloud.create_webhook(&key, &url, &plan.stripe_webhook.events, &plan.tags.to_tags()).await.op("Stripe CreateWebhookEndpoint")?;
    let secret = created.secret.ok_or_else(|| StepError::Fatal {
        operation: "Stripe CreateWebhookEndpoint".into(),
        source: crate::CloudError::new(CloudErrorKind::Fatal, "MissingSecret", "the created endpoint came without its signing secret"),
    })?;
    let arn = write_owned_parameter(cloud, plan, STRIPE_WEBHOOK_SECRET, &secret, kind).await?;
    let mut replaced = Vec::new();
    for old in this_runs_webhooks(cloud, plan, &key).await?.into_iter().filter(|e| e.id != created.id) {
        match cloud.delete_webhook(&key, &old.id).await {
            Err(e) if e.is(CloudErrorKind::NotFound) => {}
            other => other.op("Stripe DeleteWebhookEndpoint")?,
        }
        replaced.push(old.id);
    }
    Ok(RegisteredWebhook {
        webhook_id: created.id,
        url,
        replaced,
        parameters: WrittenParameters { arns: BTreeMap::from([(STRIPE_WEBHOOK_SECRET.to_string(), arn)]) },
    })
}

/// Points the run's endpoint at the running service (its secret unchanged). The endpoint is
/// the run's only one (see [`register_stripe_webhook`]): the one in the state may have been
/// replaced by a second delivery of the registration.
pub async fn point_stripe_webhook<C: ParameterStore + PaymentWebhooks + Sync>(
    cloud: &C,
    input: PointWebhookInput,
) -> Result<RegisteredWebhook, StepError> {
    let plan = &input.plan;
    if input.service_url.is_empty() || input.service_url.contains('/') {
        return Err(StepError::invalid("service_url", format!("{:?} is not a host name", input.service_url)));
    }
    let key = staging_stripe_key(cloud, plan).await?;
    let id = match this_runs_webhooks(cloud, plan, &key).await?.as_slice() {
        [only] => only.id.clone(),
        [] => {
            return Err(StepError::CheckFailed(format!(
                "the staging webhook endpoint {} no longer exists: STRIPE_WEBHOOK_SECRET is its secret",
                input.webhook.webhook_id
            )))
        }
        several => {
            let ids: Vec<&str> = several.iter().map(|e| e.id.as_str()).collect();
            return Err(StepError::CheckFailed(format!(
                "this run has several webhook endpoints ({}): which one STRIPE_WEBHOOK_SECRET belongs to is unknown",
                ids.join(", ")
            )));
        }
    };
    let url = format!("https://{}{}", input.service_url, plan.stripe_webhook.path);
    let updated = match cloud.update_webhook_url(&key, &id, &url).await {
        Err(e) if e.is(CloudErrorKind::NotFound) => {
            return Err(StepError::CheckFailed(format!(
                "the staging webhook endpoint {id} was deleted while it was pointed at the service"
            )))
        }
        other => other.op("Stripe UpdateWebhookEndpoint")?,
    };
    tracing::info!(webhook = %updated.id, "staging webhook pointed at the service");
    Ok(RegisteredWebhook { webhook_id: updated.id, url: updated.url, ..input.webhook })
}
