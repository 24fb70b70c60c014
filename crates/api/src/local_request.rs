//! Requests built in-process, for callers that answer through the same handler without API
//! Gateway (the `rehearsal remote` commands, tests).

use crate::api::IDEMPOTENCY_KEY;
use lambda_http::{Body, Request};
use serde_json::Value;

/// `method path` with an optional idempotency key and JSON body.
pub fn request(method: &str, path: &str, idempotency_key: Option<&str>, body: Option<&Value>) -> Result<Request, String> {
    let mut builder = lambda_http::http::Request::builder().method(method).uri(path);
    if let Some(key) = idempotency_key {
        builder = builder.header(IDEMPOTENCY_KEY, key);
    }
    let body = body.map_or(Body::Empty, |b| Body::Text(b.to_string()));
    builder.body(body).map_err(|e| format!("{method} {path}: {e}"))
}

/// The status and JSON body of an answer.
pub fn answer(response: &lambda_http::Response<Body>) -> (u16, Value) {
    let text = match response.body() {
        Body::Text(t) => t.clone(),
        Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    };
    (response.status().as_u16(), serde_json::from_str(&text).unwrap_or(Value::String(text)))
}
