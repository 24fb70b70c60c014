//! Runbook step 3, "create new webhook for staging": a Stripe webhook endpoint for the staging
//! URL, created with the staging **test** key and tagged (in its metadata) with the run; its
//! signing secret becomes the staging STRIPE_WEBHOOK_SECRET. Stripe reveals a secret only when
//! the endpoint is created, so a re-run replaces this run's endpoint instead of adopting it.
//!
//! Step: `register_stripe_webhook` (staging.asl.json `RegisterStripeWebhook`). Tests:
//! tests/steps/stripe_webhook.rs; end to end, tests/staging_pipeline.rs
//! `happy_path_builds_staging_and_passes_every_check` and
//! `every_fault_in_every_mutating_step_ends_in_success_or_a_clean_rollback`; over the wire against a Stripe
//! stand-in, tests/over_the_wire/main.rs `happy_path_over_the_wire_builds_staging_and_passes_every_check`.

use super::staging_parameters::{kind_of, WrittenParameters};
use super::{required_parameter, write_owned_parameter};
use crate::cloud::{is_stripe_test_key, ParameterStore, PaymentWebhooks};
use crate::error::CloudResultExt;
use crate::plan::{RunPlan, STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET};
use crate::secret::Secret;
use crate::tags::Ownership;
use crate::{CloudErrorKind, StepError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    pub plan: RunPlan,
    pub service_url: String,
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

pub async fn register_stripe_webhook<C: ParameterStore + PaymentWebhooks + Sync>(
    cloud: &C,
    input: WebhookInput,
) -> Result<RegisteredWebhook, StepError> {
    let plan = &input.plan;
    let key = staging_stripe_key(cloud, plan).await?;
    let url = format!("https://{}{}", input.service_url, plan.stripe_webhook.path);
    let mut replaced = Vec::new();
    for old in cloud.list_webhooks(&key).await.op("Stripe ListWebhookEndpoints")? {
        if plan.tags.ownership(&old.metadata) == Ownership::ThisRun {
            match cloud.delete_webhook(&key, &old.id).await {
                Err(e) if e.is(CloudErrorKind::NotFound) => {}
                other => other.op("Stripe DeleteWebhookEndpoint")?,
            }
            replaced.push(old.id);
        }
    }
    let created =
        cloud.create_webhook(&key, &url, &plan.stripe_webhook.events, &plan.tags.to_tags()).await.op("Stripe CreateWebhookEndpoint")?;
    let secret = created.secret.ok_or_else(|| StepError::Fatal {
        operation: "Stripe CreateWebhookEndpoint".into(),
        source: crate::CloudError::new(CloudErrorKind::Fatal, "MissingSecret", "the created endpoint came without its signing secret"),
    })?;
    let arn = write_owned_parameter(cloud, plan, STRIPE_WEBHOOK_SECRET, &secret, kind_of(STRIPE_WEBHOOK_SECRET)).await?;
    Ok(RegisteredWebhook {
        webhook_id: created.id,
        url,
        replaced,
        parameters: WrittenParameters { arns: BTreeMap::from([(STRIPE_WEBHOOK_SECRET.to_string(), arn)]) },
    })
}
