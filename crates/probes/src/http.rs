//! [`HttpClient`] over reqwest (rustls), for the validation checklist against the running app.

use crate::error_chain;
use rehearsal_core::cloud::{HttpClient, HttpError, HttpRequest, HttpResponse};
use reqwest::header::HeaderValue;
use reqwest::{redirect, Method};
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
struct ColdStartRetries {
    attempts: u32,
    delay: Duration,
}

/// Sends each request once (or with cold-start retries), never following redirects: a check
/// must see the status the app answered, not wherever a redirect leads.
#[derive(Debug, Clone)]
pub struct ReqwestClient {
    client: reqwest::Client,
    timeout: Duration,
    cold_start: Option<ColdStartRetries>,
}

impl ReqwestClient {
    /// `timeout` bounds each attempt from connect to the last byte of the body.
    pub fn new(timeout: Duration) -> Result<Self, HttpError> {
        let client = reqwest::Client::builder()
            .redirect(redirect::Policy::none())
            .user_agent(concat!("rehearsal-probe/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HttpError::Other(error_chain(&e)))?;
        Ok(Self { client, timeout, cold_start: None })
    }

    /// Up to `attempts` tries in all, `delay` apart, while the service is still coming up: after
    /// a connect error (nothing was sent, so any method), or a 502/503/504 from the front end
    /// for an idempotent method only (a POST may have reached the app, and registering a
    /// tenant twice would fail the check for the wrong reason). Timeouts are not retried.
    pub fn with_cold_start_retries(mut self, attempts: u32, delay: Duration) -> Self {
        self.cold_start = Some(ColdStartRetries { attempts: attempts.max(1), delay });
        self
    }

    async fn send_once(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError> {
        let method = Method::from_bytes(request.method.as_bytes())
            .map_err(|_| HttpError::Other(format!("{:?} is not an HTTP method", request.method)))?;
        let mut builder = self.client.request(method, &request.url).timeout(self.timeout);
        for (name, value) in &request.headers {
            let mut value = HeaderValue::from_str(value.expose())
                .map_err(|_| HttpError::Other(format!("header {name} has a value HTTP cannot carry")))?;
            // Keeps tokens out of reqwest's and hyper's debug output.
            value.set_sensitive(true);
            builder = builder.header(name.as_str(), value);
        }
        if let Some(body) = &request.body {
            builder = builder.body(body.expose().to_string());
        }
        let response = builder.send().await.map_err(|e| self.error(e))?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(|e| self.error(e))?;
        Ok(HttpResponse { status, body })
    }

    fn error(&self, error: reqwest::Error) -> HttpError {
        if error.is_timeout() {
            // Whole seconds is all the error carries; round up so a short timeout never reads "0 s".
            HttpError::Timeout(self.timeout.as_millis().div_ceil(1000) as u64)
        } else if error.is_connect() {
            HttpError::Connect(error_chain(&error.without_url()))
        } else {
            HttpError::Other(error_chain(&error.without_url()))
        }
    }
}

impl HttpClient for ReqwestClient {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let mut attempt = 1;
        loop {
            let outcome = self.send_once(&request).await;
            let cold = match &outcome {
                Err(HttpError::Connect(_)) => true,
                Ok(response) => matches!(response.status, 502..=504) && is_idempotent(&request.method),
                Err(_) => false,
            };
            match self.cold_start {
                Some(retries) if cold && attempt < retries.attempts => {
                    let seen = outcome.as_ref().map_or_else(|e| e.to_string(), |r| format!("HTTP {}", r.status));
                    tracing::info!(url = %request.url, attempt, %seen, "service not up yet; trying again in {:?}", retries.delay);
                    tokio::time::sleep(retries.delay).await;
                    attempt += 1;
                }
                _ => return outcome,
            }
        }
    }
}

fn is_idempotent(method: &str) -> bool {
    ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"].iter().any(|m| m.eq_ignore_ascii_case(method))
}
