//! Stripe's webhook endpoints API for the over-the-wire tests (the run registers one for the
//! staging URL): list, form-encoded create (the signing secret only in its answer), update of
//! the URL and delete, for the one test-mode secret key the tests seed.

use rehearsal_tests::http::{HttpServer, Request, Response};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

const ENDPOINTS: &str = "/v1/webhook_endpoints";

#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: String,
    pub url: String,
    pub enabled_events: Vec<String>,
    pub metadata: BTreeMap<String, String>,
}

impl Endpoint {
    fn json(&self) -> Value {
        json!({"id": self.id, "object": "webhook_endpoint", "url": self.url, "enabled_events": self.enabled_events,
               "metadata": self.metadata, "status": "enabled"})
    }
}

pub struct Stripe {
    endpoints: Arc<Mutex<Vec<Endpoint>>>,
    pub server: HttpServer,
}

fn stripe_error(status: u16, message: &str) -> Response {
    Response::json(status, &json!({"error": {"type": "invalid_request_error", "message": message}}))
}

/// `application/x-www-form-urlencoded` pairs.
fn form(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

impl Stripe {
    /// Answers only `secret_key` (a test-mode key).
    pub fn start(secret_key: &str) -> Self {
        let endpoints: Arc<Mutex<Vec<Endpoint>>> = Arc::default();
        let stored = endpoints.clone();
        let bearer = format!("Bearer {secret_key}");
        let server = HttpServer::start(move |request: Request| {
            if request.header("Authorization") != Some(bearer.as_str()) {
                return stripe_error(401, "Invalid API Key provided");
            }
            let mut endpoints = stored.lock().unwrap_or_else(PoisonError::into_inner);
            let path = request.path().to_string();
            match (request.method.as_str(), path.strip_prefix(ENDPOINTS)) {
                ("GET", Some("")) => {
                    // Newest first, all on one page.
                    let data: Vec<Value> = endpoints.iter().rev().map(Endpoint::json).collect();
                    Response::json(200, &json!({"object": "list", "data": data, "has_more": false, "url": ENDPOINTS}))
                }
                ("POST", Some("")) => {
                    let fields = form(&request.body);
                    let get = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
                    let Some(url) = get("url") else { return stripe_error(400, "Missing required param: url.") };
                    let endpoint = Endpoint {
                        id: format!("we_standin{:04}", endpoints.len() + 1),
                        url,
                        enabled_events: fields.iter().filter(|(k, _)| k == "enabled_events[]").map(|(_, v)| v.clone()).collect(),
                        metadata: fields
                            .iter()
                            .filter_map(|(k, v)| Some((k.strip_prefix("metadata[")?.strip_suffix(']')?.to_string(), v.clone())))
                            .collect(),
                    };
                    let mut body = endpoint.json();
                    body["secret"] = json!(format!("whsec_standin{:04}", endpoints.len() + 1));
                    endpoints.push(endpoint);
                    Response::json(200, &body)
                }
                ("POST", Some(rest)) if rest.starts_with('/') => {
                    let id = &rest[1..];
                    let fields = form(&request.body);
                    let url = fields.iter().find(|(k, _)| k == "url").map(|(_, v)| v.clone());
                    match (endpoints.iter_mut().find(|e| e.id == id), url) {
                        (Some(endpoint), Some(url)) => {
                            endpoint.url = url;
                            Response::json(200, &endpoint.json())
                        }
                        (Some(_), None) => stripe_error(400, "Missing required param: url."),
                        (None, _) => Response::json(
                            404,
                            &json!({"error": {"type": "invalid_request_error", "code": "resource_missing", "message": format!("No such webhook endpoint: '{id}'")}}),
                        ),
                    }
                }
                ("DELETE", Some(rest)) => {
                    let id = rest.trim_start_matches('/');
                    match endpoints.iter().position(|e| e.id == id) {
                        Some(i) => {
                            endpoints.remove(i);
                            Response::json(200, &json!({"id": id, "object": "webhook_endpoint", "deleted": true}))
                        }
                        None => Response::json(
                            404,
                            &json!({"error": {"type": "invalid_request_error", "code": "resource_missing", "message": format!("No such webhook endpoint: '{id}'")}}),
                        ),
                    }
                }
                _ => stripe_error(404, &format!("Unrecognized request URL ({} {path})", request.method)),
            }
        });
        Self { endpoints, server }
    }

    pub fn endpoints(&self) -> Vec<Endpoint> {
        self.endpoints.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}
