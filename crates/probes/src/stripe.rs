//! [`StripeClient`]: [`PaymentWebhooks`] over Stripe's REST API (reqwest, rustls).
//!
//! * Every request carries the key as a bearer token (a sensitive header value: never in
//!   reqwest's or hyper's debug output) and pins [`STRIPE_API_VERSION`], so a change of the
//!   account's default version cannot change the shape of the answers.
//! * Listing follows `has_more` with `starting_after` until the last page.
//! * A URL update (`POST /v1/webhook_endpoints/{id}`) changes only `url`: the signing secret
//!   stays, and the answer does not carry it.
//! * Creation is form-encoded and carries an `Idempotency-Key` that is new for each
//!   `create_webhook` call. When the answer is lost after the request went out (timeout,
//!   connection dropped), the same request is sent once more under the same key, and Stripe
//!   answers with the first creation instead of making a second endpoint. The key is not derived
//!   from the run alone on purpose: a re-run of the staging step deletes this run's endpoint and
//!   creates a new one, and a key reused within Stripe's 24 hours would replay the deleted
//!   endpoint and its dead signing secret. The run id is in the key only to find the request in
//!   Stripe's logs.
//! * Failures become [`CloudError`]s of the kinds the AWS adapters use: 429 `Throttled`; 5xx,
//!   connection failures and timeouts `Unavailable`; 401/403 `AccessDenied`; 404
//!   `resource_missing` `NotFound`; anything else `Fatal` with Stripe's `error.code` and
//!   `error.message`. Any other 404 (a wrong base URL, say) is `Fatal`, so a rollback cannot take
//!   it for "already deleted". Keys are masked out of every message.
//!
//! The client does not look at the key's mode; the staging step refuses live keys before calling
//! it (`rehearsal_core::cloud::is_stripe_test_key`).

use crate::error_chain;
use rehearsal_core::cloud::{CloudResult, PaymentWebhooks, WebhookEndpoint};
use rehearsal_core::tags::{Tags, RUN_KEY};
use rehearsal_core::{CloudError, CloudErrorKind, Secret};
use reqwest::header::CONTENT_TYPE;
use reqwest::{redirect, Method, RequestBuilder};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::Deserialize;
use std::collections::HashSet;
use std::time::Duration;
use url::{form_urlencoded, Host, Url};

pub const STRIPE_API_BASE: &str = "https://api.stripe.com";
/// The API version every request asks for.
pub const STRIPE_API_VERSION: &str = "2024-06-20";
/// Stripe's largest page.
const PAGE_LIMIT: &str = "100";
/// Prefixes of Stripe secret and restricted keys, masked wherever a message quotes one.
const KEY_PREFIXES: [&str; 2] = ["sk_", "rk_"];

#[derive(Debug, Clone)]
pub struct StripeClient {
    client: reqwest::Client,
    /// `{base}/v1/webhook_endpoints`.
    endpoints: Url,
    timeout: Duration,
}

#[derive(Deserialize)]
struct Page {
    data: Vec<Endpoint>,
    has_more: bool,
}

#[derive(Deserialize)]
struct Endpoint {
    id: String,
    url: String,
    enabled_events: Vec<String>,
    #[serde(default)]
    metadata: Tags,
    /// Only in the answer to the creation.
    secret: Option<String>,
}

impl From<Endpoint> for WebhookEndpoint {
    fn from(e: Endpoint) -> Self {
        WebhookEndpoint { id: e.id, url: e.url, enabled_events: e.enabled_events, metadata: e.metadata, secret: e.secret.map(Secret::new) }
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ApiError,
}

#[derive(Deserialize)]
struct ApiError {
    #[serde(rename = "type")]
    kind: Option<String>,
    code: Option<String>,
    message: Option<String>,
}

struct Answer {
    status: u16,
    body: String,
}

impl StripeClient {
    /// Against [`STRIPE_API_BASE`]; `timeout` bounds each request from connect to the last byte.
    pub fn new(timeout: Duration) -> CloudResult<Self> {
        Self::with_base_url(STRIPE_API_BASE, timeout)
    }

    /// Against another base URL (a stand-in in tests). Plain http is accepted only for a
    /// loopback host: anywhere else the key would cross the network in the clear.
    pub fn with_base_url(base_url: &str, timeout: Duration) -> CloudResult<Self> {
        let invalid =
            |why: String| CloudError::new(CloudErrorKind::Fatal, "invalid_base_url", format!("Stripe base URL {base_url}: {why}"));
        let mut base = Url::parse(base_url).map_err(|e| invalid(e.to_string()))?;
        let loopback = match base.host() {
            Some(Host::Ipv4(ip)) => ip.is_loopback(),
            Some(Host::Ipv6(ip)) => ip.is_loopback(),
            Some(Host::Domain(name)) => name == "localhost",
            None => false,
        };
        if !(base.scheme() == "https" || (base.scheme() == "http" && loopback)) {
            return Err(invalid("must be https (plain http only to a loopback address)".into()));
        }
        // `join` replaces the last segment of a path without a trailing slash.
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let endpoints = base.join("v1/webhook_endpoints").map_err(|e| invalid(e.to_string()))?;
        let client = reqwest::Client::builder()
            // Stripe's API does not redirect; a redirect means a wrong base URL, reported as such.
            .redirect(redirect::Policy::none())
            .user_agent(concat!("rehearsal/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CloudError::new(CloudErrorKind::Fatal, "client_setup", error_chain(&e)))?;
        Ok(Self { client, endpoints, timeout })
    }

    /// `{base}/v1/webhook_endpoints/{id}`, the id pushed as a segment so it cannot reach another path.
    fn endpoint_url(&self, id: &str) -> Url {
        let mut url = self.endpoints.clone();
        url.path_segments_mut().expect("an http(s) URL has path segments").push(id);
        url
    }

    fn request(&self, method: Method, url: Url, api_key: &Secret) -> RequestBuilder {
        self.client.request(method, url).timeout(self.timeout).bearer_auth(api_key.expose()).header("Stripe-Version", STRIPE_API_VERSION)
    }

    async fn answer(request: RequestBuilder) -> Result<Answer, reqwest::Error> {
        let response = request.send().await?;
        let status = response.status().as_u16();
        Ok(Answer { status, body: response.text().await? })
    }

    async fn call<T: DeserializeOwned>(&self, request: RequestBuilder, api_key: &Secret) -> CloudResult<T> {
        let answer = Self::answer(request).await.map_err(|e| self.transport_error(e, api_key))?;
        decode(answer, api_key)
    }

    fn transport_error(&self, error: reqwest::Error, api_key: &Secret) -> CloudError {
        // The caller names the operation; the URL would only repeat it.
        let error = error.without_url();
        let text = mask_keys(&error_chain(&error), api_key);
        if error.is_timeout() {
            let seconds = self.timeout.as_millis().div_ceil(1000);
            CloudError::new(CloudErrorKind::Unavailable, "timeout", format!("Stripe did not answer within {seconds} s"))
        } else if error.is_connect() {
            CloudError::new(CloudErrorKind::Unavailable, "connection_failed", text)
        } else if error.is_builder() {
            CloudError::new(CloudErrorKind::Fatal, "invalid_request", text)
        } else {
            CloudError::new(CloudErrorKind::Unavailable, "connection_lost", text)
        }
    }
}

/// The request may have reached Stripe although no answer came back.
fn answer_lost(error: &reqwest::Error) -> bool {
    !error.is_connect() && !error.is_builder() && (error.is_timeout() || error.is_request() || error.is_body())
}

fn decode<T: DeserializeOwned>(answer: Answer, api_key: &Secret) -> CloudResult<T> {
    if !(200..300).contains(&answer.status) {
        return Err(api_error(&answer, api_key));
    }
    // Only the kind and position of a parse error: serde's text may quote the body, which can
    // hold a signing secret.
    serde_json::from_str(&answer.body).map_err(|e| {
        CloudError::new(
            CloudErrorKind::Fatal,
            "unexpected_response",
            format!(
                "Stripe answered HTTP {} with a body that does not parse ({:?} error at line {} column {})",
                answer.status,
                e.classify(),
                e.line(),
                e.column()
            ),
        )
    })
}

/// Stripe's own code and message; a body that is not Stripe's error object (a proxy's page) is
/// not quoted.
fn api_error(answer: &Answer, api_key: &Secret) -> CloudError {
    let stripe = serde_json::from_str::<ErrorBody>(&answer.body).ok().map(|b| b.error);
    let code = stripe.as_ref().and_then(|e| e.code.clone().or_else(|| e.kind.clone())).unwrap_or_else(|| format!("http_{}", answer.status));
    let message =
        stripe.and_then(|e| e.message).map_or_else(|| format!("Stripe answered HTTP {}", answer.status), |m| mask_keys(&m, api_key));
    let kind = match answer.status {
        429 => CloudErrorKind::Throttled,
        500..=599 => CloudErrorKind::Unavailable,
        401 | 403 => CloudErrorKind::AccessDenied,
        404 if code == "resource_missing" => CloudErrorKind::NotFound,
        _ => CloudErrorKind::Fatal,
    };
    CloudError::new(kind, code, message)
}

/// Removes the key wherever it is quoted, and any other Stripe key: Stripe quotes a rejected key
/// with all but its last four characters starred (`sk_test_****abcd`), and even those four stay out.
fn mask_keys(text: &str, api_key: &Secret) -> String {
    let text = match api_key.expose() {
        "" => text.to_string(),
        key => text.replace(key, "***"),
    };
    text.split(' ')
        .map(|word| {
            let start = word.find(|c: char| c.is_ascii_alphanumeric()).unwrap_or(word.len());
            let rest = &word[start..];
            if !KEY_PREFIXES.iter().any(|p| rest.starts_with(p)) {
                return word.to_string();
            }
            let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '*')).map_or(word.len(), |i| start + i);
            format!("{}***{}", &word[..start], &word[end..])
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `url`, `enabled_events[]` once per event, `metadata[key]` once per tag.
fn creation_form(url: &str, events: &[String], metadata: &Tags) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("url", url);
    for event in events {
        form.append_pair("enabled_events[]", event);
    }
    for (key, value) in metadata {
        form.append_pair(&format!("metadata[{key}]"), value);
    }
    form.finish()
}

/// New for every creation (see the module docs for why not derived from the run alone).
fn idempotency_key(metadata: &Tags) -> CloudResult<String> {
    let mut random = [0u8; 16];
    getrandom::fill(&mut random).map_err(|e| CloudError::new(CloudErrorKind::Fatal, "no_randomness", e.to_string()))?;
    let random: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let run: String =
        metadata.get(RUN_KEY).map_or("", String::as_str).chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(64).collect();
    Ok(if run.is_empty() { format!("rehearsal-{random}") } else { format!("rehearsal-{run}-{random}") })
}

impl PaymentWebhooks for StripeClient {
    async fn list_webhooks(&self, api_key: &Secret) -> CloudResult<Vec<WebhookEndpoint>> {
        let mut endpoints = Vec::new();
        let mut seen = HashSet::new();
        let mut after: Option<String> = None;
        loop {
            let mut url = self.endpoints.clone();
            url.query_pairs_mut().append_pair("limit", PAGE_LIMIT);
            if let Some(id) = &after {
                url.query_pairs_mut().append_pair("starting_after", id);
            }
            let page: Page = self.call(self.request(Method::GET, url, api_key), api_key).await?;
            // A page that brings nothing new while announcing more would be asked for forever.
            let advanced = !page.data.is_empty() && page.data.iter().all(|e| seen.insert(e.id.clone()));
            if page.has_more && !advanced {
                return Err(CloudError::new(
                    CloudErrorKind::Fatal,
                    "pagination_stalled",
                    format!(
                        "Stripe announced more webhook endpoints after {} but sent none not seen before",
                        after.as_deref().unwrap_or("the start")
                    ),
                ));
            }
            after = page.data.last().map(|e| e.id.clone());
            endpoints.extend(page.data.into_iter().map(WebhookEndpoint::from));
            if !page.has_more {
                return Ok(endpoints);
            }
        }
    }

    async fn create_webhook(&self, api_key: &Secret, url: &str, events: &[String], metadata: &Tags) -> CloudResult<WebhookEndpoint> {
        let body = creation_form(url, events, metadata);
        let key = idempotency_key(metadata)?;
        let post = || {
            self.request(Method::POST, self.endpoints.clone(), api_key)
                .header("Idempotency-Key", &key)
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(body.clone())
        };
        let answer = match Self::answer(post()).await {
            Err(e) if answer_lost(&e) => {
                tracing::warn!(error = %mask_keys(&error_chain(&e.without_url()), api_key), "no answer to the webhook endpoint creation; sending it again under the same Idempotency-Key");
                Self::answer(post()).await
            }
            other => other,
        }
        .map_err(|e| self.transport_error(e, api_key))?;
        decode::<Endpoint>(answer, api_key).map(WebhookEndpoint::from)
    }

    async fn delete_webhook(&self, api_key: &Secret, id: &str) -> CloudResult<()> {
        let _: IgnoredAny = self.call(self.request(Method::DELETE, self.endpoint_url(id), api_key), api_key).await?;
        Ok(())
    }

    async fn update_webhook_url(&self, api_key: &Secret, id: &str, url: &str) -> CloudResult<WebhookEndpoint> {
        // The serializer is not Send, so the body is finished before any await.
        let body = form_urlencoded::Serializer::new(String::new()).append_pair("url", url).finish();
        // No Idempotency-Key: setting the same URL again is harmless, so a lost answer is the
        // caller's to retry.
        let request =
            self.request(Method::POST, self.endpoint_url(id), api_key).header(CONTENT_TYPE, "application/x-www-form-urlencoded").body(body);
        self.call::<Endpoint>(request, api_key).await.map(WebhookEndpoint::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_masked_in_any_form_stripe_quotes_them() {
        let key = Secret::new("sk_test_51AbCdEfGh");
        assert_eq!(
            mask_keys("Invalid API Key provided: sk_test_****************EfGh", &key),
            "Invalid API Key provided: ***",
            "Stripe's own starred form"
        );
        assert_eq!(mask_keys("key 'sk_test_51AbCdEfGh' is expired.", &key), "key '***' is expired.");
        assert_eq!(mask_keys("restricted (rk_live_xyz), plain text", &key), "restricted (***), plain text");
        assert_eq!(mask_keys("bad key not-a-key here", &Secret::new("not-a-key")), "bad key *** here");
        assert_eq!(mask_keys("No such webhook endpoint: 'we_123'", &key), "No such webhook endpoint: 'we_123'");
    }

    #[test]
    fn idempotency_keys_name_the_run_and_never_repeat() {
        let tags = Tags::from([(RUN_KEY.to_string(), "tableicty-20251225".to_string())]);
        let (a, b) = (idempotency_key(&tags).unwrap(), idempotency_key(&tags).unwrap());
        assert!(a.starts_with("rehearsal-tableicty-20251225-") && a.len() == "rehearsal-tableicty-20251225-".len() + 32, "{a}");
        assert_ne!(a, b);
        assert!(idempotency_key(&Tags::new()).unwrap().starts_with("rehearsal-"));
    }

    #[test]
    fn the_base_url_must_keep_the_key_off_the_open_network() {
        let t = Duration::from_secs(1);
        assert_eq!(StripeClient::new(t).unwrap().endpoints.as_str(), "https://api.stripe.com/v1/webhook_endpoints");
        let prefixed = StripeClient::with_base_url("http://127.0.0.1:8080/stripe", t).unwrap();
        assert_eq!(prefixed.endpoints.as_str(), "http://127.0.0.1:8080/stripe/v1/webhook_endpoints");
        assert!(StripeClient::with_base_url("http://localhost:1", t).is_ok());
        let remote = StripeClient::with_base_url("http://api.stripe.com", t).unwrap_err();
        assert_eq!((remote.kind, remote.code.as_str()), (CloudErrorKind::Fatal, "invalid_base_url"));
        assert!(StripeClient::with_base_url("not a url", t).is_err());
    }
}
