//! Stripe's webhook endpoints API, as the staging run uses it: endpoints live in the test or
//! the live account according to the key's mode; the signing secret is answered only on
//! creation; several endpoints may share a URL (Stripe allows it). Faults apply as to AWS.

use crate::account::{Api, SimCloud};
use crate::world::{Ctx, Origin, World};
use rehearsal_core::cloud::{CloudResult, PaymentWebhooks, WebhookEndpoint};
use rehearsal_core::tags::Tags;
use rehearsal_core::{CloudError, CloudErrorKind, Secret};

#[derive(Debug, Clone)]
pub(crate) struct Webhook {
    pub mode: &'static str,
    pub endpoint: rehearsal_core::cloud::WebhookEndpoint,
    pub origin: Origin,
}

fn api(action: &'static str) -> Api {
    Api { service: "stripe", action }
}

/// The account a key opens; Stripe answers 401 to anything else.
fn mode(key: &Secret) -> CloudResult<&'static str> {
    match key.expose() {
        k if k.starts_with("sk_test_") || k.starts_with("rk_test_") => Ok("test"),
        k if k.starts_with("sk_live_") || k.starts_with("rk_live_") => Ok("live"),
        _ => Err(CloudError::new(CloudErrorKind::AccessDenied, "api_key_invalid", "Invalid API Key provided: ***")),
    }
}

impl World {
    fn create_webhook(&mut self, ctx: &Ctx, key: &Secret, url: &str, events: &[String], metadata: &Tags) -> CloudResult<WebhookEndpoint> {
        let mode = mode(key)?;
        if !url.starts_with("https://") {
            return Err(CloudError::new(CloudErrorKind::Fatal, "url_invalid", format!("Invalid URL: {url}: must be an https URL")));
        }
        if events.is_empty() {
            return Err(CloudError::new(CloudErrorKind::Fatal, "parameter_missing", "Missing required param: enabled_events."));
        }
        let id = format!("we_{}", self.ids.alphanumeric(24));
        let endpoint = WebhookEndpoint {
            id: id.clone(),
            url: url.to_string(),
            enabled_events: events.to_vec(),
            metadata: metadata.clone(),
            secret: None,
        };
        self.webhooks.insert(id.clone(), Webhook { mode, endpoint: endpoint.clone(), origin: Origin::Created });
        self.created(ctx, "stripe-webhook", &id);
        Ok(WebhookEndpoint { secret: Some(Secret::new(format!("whsec_{}", self.ids.alphanumeric(32)))), ..endpoint })
    }

    fn delete_webhook(&mut self, ctx: &Ctx, key: &Secret, id: &str) -> CloudResult<()> {
        let mode = mode(key)?;
        match self.webhooks.get(id) {
            Some(w) if w.mode == mode => {
                self.webhooks.remove(id);
                self.deleted(ctx, "stripe-webhook", id);
                Ok(())
            }
            _ => Err(no_such_webhook(id)),
        }
    }

    fn update_webhook_url(&mut self, key: &Secret, id: &str, url: &str) -> CloudResult<WebhookEndpoint> {
        let mode = mode(key)?;
        if !url.starts_with("https://") {
            return Err(CloudError::new(CloudErrorKind::Fatal, "url_invalid", format!("Invalid URL: {url}: must be an https URL")));
        }
        match self.webhooks.get_mut(id) {
            Some(w) if w.mode == mode => {
                w.endpoint.url = url.to_string();
                Ok(w.endpoint.clone())
            }
            _ => Err(no_such_webhook(id)),
        }
    }
}

fn no_such_webhook(id: &str) -> CloudError {
    CloudError::new(CloudErrorKind::NotFound, "resource_missing", format!("No such webhook endpoint: '{id}'"))
}

impl PaymentWebhooks for SimCloud {
    async fn list_webhooks(&self, api_key: &Secret) -> CloudResult<Vec<WebhookEndpoint>> {
        self.aws(api("ListWebhookEndpoints"), |w, _| {
            let mode = mode(api_key)?;
            Ok(w.webhooks.values().filter(|h| h.mode == mode).map(|h| h.endpoint.clone()).collect())
        })
    }

    async fn create_webhook(&self, api_key: &Secret, url: &str, events: &[String], metadata: &Tags) -> CloudResult<WebhookEndpoint> {
        self.aws(api("CreateWebhookEndpoint"), |w, ctx| w.create_webhook(ctx, api_key, url, events, metadata))
    }

    async fn delete_webhook(&self, api_key: &Secret, id: &str) -> CloudResult<()> {
        self.aws(api("DeleteWebhookEndpoint"), |w, ctx| w.delete_webhook(ctx, api_key, id))
    }

    async fn update_webhook_url(&self, api_key: &Secret, id: &str, url: &str) -> CloudResult<WebhookEndpoint> {
        self.aws(api("UpdateWebhookEndpoint"), |w, _| w.update_webhook_url(api_key, id, url))
    }
}
