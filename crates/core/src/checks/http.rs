//! The HTTP checklist of runbook step 7, against the app's API. Tokens are checked for shape and
//! expiry and never printed.

use super::CheckResult;
use crate::cloud::{HttpClient, HttpError, HttpRequest, HttpResponse};
use crate::run::ValidationInput;
use crate::Secret;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// The header the one-time backfill endpoint reads its token from.
pub const BACKFILL_TOKEN_HEADER: &str = "X-Rehearsal-Token";
/// Prefix of tenants the checklist registers, so they are recognisable (and removable).
pub const CHECK_TENANT_PREFIX: &str = "rehearsal-check-";
/// The longest tenant name (and slug) the app takes: tableicty's `core_tenant.slug` is a
/// `varchar(100)` (as crates/probes/tests/postgres.rs models its schema).
pub const MAX_TENANT_SLUG: usize = 100;

/// The tenant one checklist attempt of run `run_id` registers at `at`: unique per attempt,
/// because registration refuses a slug that exists.
pub fn check_tenant_name(run_id: &str, at: DateTime<Utc>) -> String {
    format!("{CHECK_TENANT_PREFIX}{run_id}-{}", at.format("%H%M%S"))
}

pub fn request(method: &str, url: String, bearer: Option<&Secret>, body: Option<Value>) -> HttpRequest {
    let mut headers = vec![("Content-Type".to_string(), Secret::new("application/json"))];
    if let Some(token) = bearer {
        headers.push(("Authorization".to_string(), Secret::new(format!("Bearer {}", token.expose()))));
    }
    HttpRequest { method: method.into(), url, headers, body: body.map(|b| Secret::new(b.to_string())) }
}

/// What a well-formed, unexpired JWT looks like; answers why not.
pub fn jwt_problem(token: &str, now: DateTime<Utc>) -> Option<String> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
        return Some("not three dot-separated segments".into());
    }
    let decode = |s: &str| -> Option<Value> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()?;
        serde_json::from_slice(&bytes).ok()
    };
    let Some(header) = decode(parts[0]) else { return Some("header is not base64url JSON".into()) };
    if header.get("alg").and_then(Value::as_str).is_none_or(|alg| alg.eq_ignore_ascii_case("none")) {
        return Some("header has no signing algorithm".into());
    }
    let Some(claims) = decode(parts[1]) else { return Some("payload is not base64url JSON".into()) };
    match claims.get("exp").and_then(Value::as_i64) {
        None => Some("no exp claim".into()),
        Some(exp) if exp <= now.timestamp() => Some(format!("expired {} s ago", now.timestamp() - exp)),
        Some(_) => None,
    }
}

fn json_body(response: &HttpResponse) -> Option<Value> {
    serde_json::from_str(&response.body).ok()
}

fn describe(result: &Result<HttpResponse, HttpError>) -> String {
    match result {
        Ok(r) => format!("HTTP {}", r.status),
        Err(e) => e.to_string(),
    }
}

/// Runs the checklist against `base_url`; stops at the first failure whose result the next
/// checks depend on (no token → no billing check).
pub async fn run_checklist<H: HttpClient>(
    http: &H,
    base_url: &str,
    config: &ValidationInput,
    password: &Secret,
    tenant_name: &str,
    now: DateTime<Utc>,
) -> Vec<CheckResult> {
    let url = |path: &str| format!("{}{}", base_url.trim_end_matches('/'), path);
    let mut results = Vec::new();

    let health = http.send(request("GET", url(&config.health_path), None, None)).await;
    let healthy = matches!(&health, Ok(r) if r.status == 200);
    results.push(CheckResult::new("health endpoint returns 200", healthy, "HTTP 200", describe(&health)));

    let login_body = json!({"email": config.test_admin_email, "password": password.expose()});
    let login = http.send(request("POST", url(&config.login_path), None, Some(login_body))).await;
    let tokens = match &login {
        Ok(r) if r.status == 200 => json_body(r),
        _ => None,
    };
    let token = |v: &Option<Value>, key: &str| v.as_ref().and_then(|b| b.get(key)).and_then(Value::as_str).map(Secret::new);
    let (access, refresh) = (token(&tokens, "access"), token(&tokens, "refresh"));
    let login_found = match (&access, &refresh) {
        (Some(a), Some(r)) => match jwt_problem(a.expose(), now).or_else(|| jwt_problem(r.expose(), now)) {
            None => "access and refresh JWTs".to_string(),
            Some(problem) => format!("a token that is {problem}"),
        },
        _ if tokens.is_some() => "a response without access and refresh tokens".to_string(),
        _ if matches!(&login, Ok(r) if r.status == 200) => "HTTP 200 with a body that is not JSON".to_string(),
        _ => describe(&login),
    };
    let login_ok = login_found == "access and refresh JWTs";
    results.push(CheckResult::new(
        &format!("login as {}", config.test_admin_email),
        login_ok,
        "HTTP 200 with well-formed, unexpired access and refresh JWTs",
        login_found,
    ));
    let (Some(access), Some(refresh)) = (access.filter(|_| login_ok), refresh) else {
        return results;
    };

    let refreshed = http.send(request("POST", url(&config.refresh_path), None, Some(json!({"refresh": refresh.expose()})))).await;
    let new_access = match &refreshed {
        Ok(r) if r.status == 200 => token(&json_body(r), "access"),
        _ => None,
    };
    let refresh_found = match &new_access {
        Some(t) => jwt_problem(t.expose(), now).map_or("a new access JWT".to_string(), |p| format!("a token that is {p}")),
        None if matches!(&refreshed, Ok(r) if r.status == 200) => "HTTP 200 without an access token".to_string(),
        None => describe(&refreshed),
    };
    results.push(CheckResult::new("token refresh", refresh_found == "a new access JWT", "HTTP 200 with a new access JWT", refresh_found));

    let billing = http.send(request("GET", url(&config.billing_path), Some(&access), None)).await;
    results.push(billing_check(&billing));

    let register_body = json!({"name": tenant_name, "slug": tenant_name, "admin_email": config.test_admin_email});
    let registered = http.send(request("POST", url(&config.tenant_register_path), Some(&access), Some(register_body))).await;
    let reg_ok = matches!(&registered, Ok(r) if r.status == 201 && json_body(r).is_some_and(|b| b.get("id").is_some()));
    results.push(CheckResult::new("tenant registration", reg_ok, "HTTP 201 with the new tenant's id", describe(&registered)));
    results
}

/// The billing page shows the subscription; a plan limit of -1 is rendered "Unlimited", so every
/// limit must be -1 or a non-negative number (anything else would render as garbage).
fn billing_check(billing: &Result<HttpResponse, HttpError>) -> CheckResult {
    let name = "billing shows the subscription, -1 as Unlimited";
    let expected = "HTTP 200 with a plan whose limits are numbers (-1 = Unlimited)";
    let body = match billing {
        Ok(r) if r.status == 200 => json_body(r),
        _ => return CheckResult::new(name, false, expected, describe(billing)),
    };
    let Some(limits) = body.as_ref().and_then(|b| b.pointer("/plan/limits")).and_then(Value::as_object) else {
        return CheckResult::new(name, false, expected, "no plan.limits in the response");
    };
    // Sorted, so the report reads the same whatever order the JSON map keeps.
    let mut limits: Vec<(&String, &Value)> = limits.iter().collect();
    limits.sort_by_key(|(k, _)| *k);
    let rendered: Result<Vec<String>, String> = limits
        .into_iter()
        .map(|(k, v)| match v.as_i64() {
            Some(-1) => Ok(format!("{k}: Unlimited")),
            Some(n) if n >= 0 => Ok(format!("{k}: {n}")),
            _ => Err(format!("{k} = {v}, which the page cannot render")),
        })
        .collect();
    match rendered {
        Ok(lines) => CheckResult::new(name, true, expected, lines.join(", ")),
        Err(problem) => CheckResult::new(name, false, expected, problem),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(exp: i64) -> String {
        let enc = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        format!("{}.{}.sig", enc(json!({"alg": "HS256", "typ": "JWT"})), enc(json!({"exp": exp})))
    }

    #[test]
    fn jwts_are_checked_for_shape_and_expiry() {
        let now = DateTime::from_timestamp(1_000_000, 0).unwrap();
        assert_eq!(jwt_problem(&jwt(1_000_100), now), None);
        assert!(jwt_problem(&jwt(999_000), now).unwrap().contains("expired"));
        assert!(jwt_problem("abc", now).unwrap().contains("three"));
        assert!(jwt_problem("a.b.c", now).unwrap().contains("header"));
    }

    #[test]
    fn billing_limits_render_or_fail() {
        let ok = Ok(HttpResponse { status: 200, body: json!({"plan": {"limits": {"users": -1, "issuers": 5}}}).to_string() });
        let r = billing_check(&ok);
        assert!(r.passed && r.found.contains("users: Unlimited"), "{r:?}");
        let bad = Ok(HttpResponse { status: 200, body: json!({"plan": {"limits": {"users": "-1"}}}).to_string() });
        assert!(!billing_check(&bad).passed);
        let down = Err(HttpError::Connect("refused".into()));
        assert!(!billing_check(&down).passed);
    }
}
