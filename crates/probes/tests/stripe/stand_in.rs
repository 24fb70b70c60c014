//! A stand-in for Stripe's webhook endpoints API: endpoints in memory, the bearer key checked,
//! lists newest first in pages of at most [`PAGE_SIZE`] with `has_more` and `starting_after`,
//! the signing secret only in the answer to a creation, an endpoint's `url` updated in place
//! (`POST /v1/webhook_endpoints/{id}`), `Idempotency-Key` honoured (the first
//! answer replayed for the same parameters, an `idempotency_error` for others), Stripe's error
//! bodies. Where Stripe masks a rejected key in its message, the stand-in quotes it whole, so
//! the client's own masking is what the tests see.

use crate::loopback::{self, Request, Response};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

/// Small, so a handful of endpoints spans several pages whatever `limit` the client asks for.
pub const PAGE_SIZE: usize = 2;
const ENDPOINTS: &str = "/v1/webhook_endpoints";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub id: String,
    pub url: String,
    pub enabled_events: Vec<String>,
    pub metadata: BTreeMap<String, String>,
    pub secret: String,
}

impl Stored {
    fn json(&self, with_secret: bool) -> Value {
        let mut body = json!({
            "id": self.id, "object": "webhook_endpoint", "url": self.url, "enabled_events": self.enabled_events,
            "metadata": self.metadata, "status": "enabled", "api_version": null,
        });
        if with_secret {
            body["secret"] = json!(self.secret);
        }
        body
    }
}

/// What the next request gets instead of (or on top of) the normal answer.
pub enum Scripted {
    /// This status and body, without serving the request.
    Answer(u16, Value),
    /// Served, then the connection is closed without an answer.
    HangUp,
    /// Served, answered after this long.
    Slow(Duration),
}

#[derive(Default)]
struct State {
    /// In creation order.
    endpoints: Vec<Stored>,
    created: u32,
    /// Idempotency key → the form it came with and the answer given.
    idempotent: HashMap<String, (String, u16, Value)>,
    requests: Vec<Request>,
    script: VecDeque<Scripted>,
}

pub struct StripeStandIn {
    pub base_url: String,
    state: Arc<Mutex<State>>,
}

impl StripeStandIn {
    /// Accepts only `key`.
    pub async fn start(key: &str) -> StripeStandIn {
        let state = Arc::new(Mutex::new(State::default()));
        let (shared, key) = (state.clone(), key.to_string());
        let base_url = loopback::serve(TcpListener::bind("127.0.0.1:0").await.unwrap(), move |request| {
            let (answer, delay) = handle(&mut shared.lock().unwrap(), &key, request);
            async move {
                tokio::time::sleep(delay).await;
                answer
            }
        });
        StripeStandIn { base_url, state }
    }

    pub fn script(&self, next: Scripted) {
        self.state.lock().unwrap().script.push_back(next);
    }

    /// An endpoint made by someone else (the dashboard, another tool), straight into the account.
    pub fn seed(&self, url: &str, metadata: BTreeMap<String, String>) {
        create(&mut self.state.lock().unwrap(), url.to_string(), vec!["invoice.paid".into()], metadata);
    }

    /// Newest first, as Stripe lists them.
    pub fn endpoints(&self) -> Vec<Stored> {
        self.state.lock().unwrap().endpoints.iter().rev().cloned().collect()
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }
}

fn error(status: u16, kind: &str, code: Option<&str>, message: String) -> (u16, Value) {
    let mut error = json!({"type": kind, "message": message});
    if let Some(code) = code {
        error["code"] = json!(code);
    }
    (status, json!({ "error": error }))
}

fn response(status: u16, body: &Value, headers: &str) -> Option<Response> {
    Some(Response { status, headers: format!("Content-Type: application/json\r\n{headers}"), body: body.to_string() })
}

fn handle(state: &mut State, key: &str, request: Request) -> (Option<Response>, Duration) {
    state.requests.push(request.clone());
    let (hang_up, delay) = match state.script.pop_front() {
        Some(Scripted::Answer(status, body)) => return (response(status, &body, ""), Duration::ZERO),
        Some(Scripted::HangUp) => (true, Duration::ZERO),
        Some(Scripted::Slow(delay)) => (false, delay),
        None => (false, Duration::ZERO),
    };
    let (status, body, replayed) = serve(state, key, &request);
    let answer = response(status, &body, if replayed { "Idempotent-Replayed: true\r\n" } else { "" });
    (answer.filter(|_| !hang_up), delay)
}

/// Status, body, and whether the answer is an idempotent replay.
fn serve(state: &mut State, key: &str, request: &Request) -> (u16, Value, bool) {
    let given = request.header("authorization").and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("");
    if given != key {
        let (status, body) = error(401, "invalid_request_error", None, format!("Invalid API Key provided: {given}"));
        return (status, body, false);
    }
    let (path, query) = request.path.split_once('?').unwrap_or((&request.path, ""));
    let (status, body) = match (request.method.as_str(), path) {
        ("GET", ENDPOINTS) => list(state, &pairs(query)),
        ("POST", ENDPOINTS) => return post(state, request),
        ("POST", p) if p.starts_with(&format!("{ENDPOINTS}/")) => update(state, &p[ENDPOINTS.len() + 1..], request),
        ("DELETE", p) if p.starts_with(&format!("{ENDPOINTS}/")) => delete(state, &p[ENDPOINTS.len() + 1..]),
        (method, path) => error(404, "invalid_request_error", None, format!("Unrecognized request URL ({method}: {path}).")),
    };
    (status, body, false)
}

fn pairs(encoded: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(encoded.as_bytes()).into_owned().collect()
}

fn list(state: &State, query: &[(String, String)]) -> (u16, Value) {
    let param = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let Some(limit) = param("limit").map_or(Some(10), |l| l.parse::<usize>().ok().filter(|l| (1..=100).contains(l))) else {
        return error(400, "invalid_request_error", Some("parameter_invalid_integer"), "Invalid limit: must be between 1 and 100".into());
    };
    let newest_first: Vec<&Stored> = state.endpoints.iter().rev().collect();
    let start = match param("starting_after") {
        None => 0,
        Some(after) => match newest_first.iter().position(|e| e.id == after) {
            Some(i) => i + 1,
            None => {
                return error(400, "invalid_request_error", Some("resource_missing"), format!("No such webhook endpoint: '{after}'"));
            }
        },
    };
    let end = newest_first.len().min(start + limit.min(PAGE_SIZE));
    let data: Vec<Value> = newest_first[start..end].iter().map(|e| e.json(false)).collect();
    (200, json!({"object": "list", "url": ENDPOINTS, "has_more": end < newest_first.len(), "data": data}))
}

fn post(state: &mut State, request: &Request) -> (u16, Value, bool) {
    let idempotency_key = request.header("idempotency-key").map(str::to_string);
    if let Some((form, status, body)) = idempotency_key.as_ref().and_then(|k| state.idempotent.get(k)) {
        if *form == request.body {
            return (*status, body.clone(), true);
        }
        let message = "Keys for idempotent requests can only be used with the same parameters they were first used with.".into();
        let (status, body) = error(400, "idempotency_error", None, message);
        return (status, body, false);
    }
    let (status, body) = create_from_form(state, request);
    if let Some(k) = idempotency_key {
        state.idempotent.insert(k, (request.body.clone(), status, body.clone()));
    }
    (status, body, false)
}

fn create_from_form(state: &mut State, request: &Request) -> (u16, Value) {
    if request.header("content-type") != Some("application/x-www-form-urlencoded") {
        return error(400, "invalid_request_error", None, "Request bodies must be form-encoded.".into());
    }
    let form = pairs(&request.body);
    let Some(url) = form.iter().find(|(k, _)| k == "url").map(|(_, v)| v.clone()) else {
        return error(400, "invalid_request_error", Some("parameter_missing"), "Missing required param: url.".into());
    };
    let events: Vec<String> = form.iter().filter(|(k, _)| k == "enabled_events[]").map(|(_, v)| v.clone()).collect();
    if events.is_empty() {
        return error(400, "invalid_request_error", Some("parameter_missing"), "Missing required param: enabled_events.".into());
    }
    let metadata =
        form.iter().filter_map(|(k, v)| Some((k.strip_prefix("metadata[")?.strip_suffix(']')?.to_string(), v.clone()))).collect();
    (200, create(state, url, events, metadata).json(true))
}

fn create(state: &mut State, url: String, enabled_events: Vec<String>, metadata: BTreeMap<String, String>) -> Stored {
    state.created += 1;
    let n = state.created;
    let endpoint = Stored { id: format!("we_standin{n:04}"), url, enabled_events, metadata, secret: format!("whsec_standin{n:04}") };
    state.endpoints.push(endpoint.clone());
    endpoint
}

/// Only `url` is updated (all the client sends); the secret stays and is not in the answer.
fn update(state: &mut State, id: &str, request: &Request) -> (u16, Value) {
    if request.header("content-type") != Some("application/x-www-form-urlencoded") {
        return error(400, "invalid_request_error", None, "Request bodies must be form-encoded.".into());
    }
    let Some(endpoint) = state.endpoints.iter_mut().find(|e| e.id == id) else {
        return error(404, "invalid_request_error", Some("resource_missing"), format!("No such webhook endpoint: '{id}'"));
    };
    if let Some((_, url)) = pairs(&request.body).into_iter().find(|(k, _)| k == "url") {
        endpoint.url = url;
    }
    (200, endpoint.json(false))
}

fn delete(state: &mut State, id: &str) -> (u16, Value) {
    match state.endpoints.iter().position(|e| e.id == id) {
        Some(i) => {
            state.endpoints.remove(i);
            (200, json!({"id": id, "object": "webhook_endpoint", "deleted": true}))
        }
        None => error(404, "invalid_request_error", Some("resource_missing"), format!("No such webhook endpoint: '{id}'")),
    }
}
