//! Requests built in-process, for callers that answer through the same handler without API
//! Gateway (the `rehearsal remote` commands, tests).

use crate::api::IDEMPOTENCY_KEY;
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerIamDescription, ApiGatewayV2httpRequestContext,
};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};
use serde_json::Value;

/// `method path` with an optional idempotency key and JSON body, from `caller` (an IAM principal
/// ARN, as API Gateway's IAM authorizer would report the signer) when known.
pub fn request(
    method: &str,
    path: &str,
    idempotency_key: Option<&str>,
    body: Option<&Value>,
    caller: Option<&str>,
) -> Result<Request, String> {
    let mut builder = lambda_http::http::Request::builder().method(method).uri(path);
    if let Some(key) = idempotency_key {
        builder = builder.header(IDEMPOTENCY_KEY, key);
    }
    let body = body.map_or(Body::Empty, |b| Body::Text(b.to_string()));
    let request = builder.body(body).map_err(|e| format!("{method} {path}: {e}"))?;
    Ok(match caller {
        Some(caller) => {
            let mut iam = ApiGatewayRequestAuthorizerIamDescription::default();
            iam.user_arn = Some(caller.to_string());
            let mut authorizer = ApiGatewayRequestAuthorizer::default();
            authorizer.iam = Some(iam);
            let mut context = ApiGatewayV2httpRequestContext::default();
            context.authorizer = Some(authorizer);
            request.with_request_context(RequestContext::ApiGatewayV2(context))
        }
        None => request,
    })
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
