//! The application App Runner runs: tableicty's Django API as far as the checklist sees it.
//! What it answers depends on the running deployment's environment (as resolved when it was
//! deployed), on the database its DATABASE_URL reaches, and on that database's schema.

use crate::account::SimCloud;
use crate::database::{password_hash, Database};
use crate::fault::FaultKind;
use crate::ids::fnv1a;
use crate::ledger::{Call, Recorded};
use crate::probe::Connection;
use crate::world::{Ctx, World};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use rehearsal_core::checks::http::BACKFILL_TOKEN_HEADER;
use rehearsal_core::cloud::{HttpClient, HttpError, HttpRequest, HttpResponse};
use rehearsal_core::run::ValidationInput;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The plain variable naming the parameter that holds the backfill endpoint's token.
pub const BACKFILL_TOKEN_PARAMETER_VARIABLE: &str = "BACKFILL_TOKEN_PARAMETER";
const ACCESS_LIFETIME_SECONDS: i64 = 5 * 60;
const REFRESH_LIFETIME_SECONDS: i64 = 24 * 60 * 60;

fn respond(status: u16, body: Value) -> HttpResponse {
    HttpResponse { status, body: body.to_string() }
}

/// Django with DEBUG=False.
fn server_error() -> HttpResponse {
    HttpResponse { status: 500, body: "<h1>Server Error (500)</h1>".into() }
}

fn header<'a>(request: &'a HttpRequest, name: &str) -> Option<&'a str> {
    request.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.expose())
}

fn body(request: &HttpRequest) -> Option<serde_json::Map<String, Value>> {
    serde_json::from_str::<Value>(request.body.as_ref()?.expose()).ok()?.as_object().cloned()
}

fn field<'a>(body: &'a Option<serde_json::Map<String, Value>>, name: &str) -> Option<&'a str> {
    body.as_ref()?.get(name)?.as_str().filter(|s| !s.is_empty())
}

/// Django's ALLOWED_HOSTS: `*`, an exact host, or `.domain` for the domain and its subdomains.
fn host_allowed(allowed: &str, host: &str) -> bool {
    allowed.split(',').map(str::trim).any(|pattern| {
        pattern == "*"
            || pattern.eq_ignore_ascii_case(host)
            || pattern.strip_prefix('.').is_some_and(|domain| host == domain || host.ends_with(&format!(".{domain}")))
    })
}

/// JWTs bound to the deployment's SECRET_KEY. The signature is a keyed FNV digest, not HMAC: the
/// model only needs tokens from another key, or tampered ones, to be rejected.
fn signature(secret_key: &str, signed: &str) -> String {
    let digest: Vec<u8> =
        (0u8..4).flat_map(|round| fnv1a(format!("{round}\u{0}{secret_key}\u{0}{signed}").as_bytes()).to_be_bytes()).collect();
    URL_SAFE_NO_PAD.encode(digest)
}

fn issue(secret_key: &str, token_type: &str, lifetime: i64, now: DateTime<Utc>, jti: String) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "typ": "JWT"}).to_string());
    let claims = json!({"token_type": token_type, "exp": now.timestamp() + lifetime, "iat": now.timestamp(), "jti": jti, "user_id": 1});
    let signed = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()));
    format!("{signed}.{}", signature(secret_key, &signed))
}

/// Whether `token` is a valid, unexpired token of `token_type` signed with `secret_key`.
fn verify(secret_key: &str, token: &str, token_type: &str, now: DateTime<Utc>) -> bool {
    let Some((signed, sig)) = token.rsplit_once('.') else { return false };
    if signature(secret_key, signed) != sig {
        return false;
    }
    let claims =
        signed.split_once('.').and_then(|(_, c)| URL_SAFE_NO_PAD.decode(c).ok()).and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    claims.is_some_and(|c| c["token_type"] == token_type && c["exp"].as_i64().is_some_and(|exp| exp > now.timestamp()))
}

fn unauthorized(detail: &str) -> HttpResponse {
    respond(401, json!({"detail": detail, "code": "token_not_valid"}))
}

/// The app's endpoints; their paths are the run document's defaults.
#[derive(Clone, Copy)]
enum Route {
    Health,
    Login,
    Refresh,
    Billing,
    RegisterTenant,
    Backfill,
}

/// One request to one running deployment.
struct Request<'a> {
    service: String,
    environment: BTreeMap<String, String>,
    request: &'a HttpRequest,
}

impl Request<'_> {
    fn secret_key(&self) -> Option<&str> {
        self.environment.get("SECRET_KEY").map(String::as_str)
    }

    /// Whether the request carries a valid access token.
    fn authenticated(&self, now: DateTime<Utc>) -> Result<(), HttpResponse> {
        let Some(auth) = header(self.request, "Authorization") else {
            return Err(respond(401, json!({"detail": "Authentication credentials were not provided."})));
        };
        let token = auth.strip_prefix("Bearer ").unwrap_or_default();
        match self.secret_key() {
            Some(key) if verify(key, token, "access", now) => Ok(()),
            _ => Err(unauthorized("Given token not valid for any token type")),
        }
    }
}

impl World {
    fn serve(&mut self, ctx: &Ctx, http: &HttpRequest) -> Result<HttpResponse, HttpError> {
        let url = url::Url::parse(&http.url).map_err(|e| HttpError::Other(format!("invalid URL {:?}: {e}", http.url)))?;
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        // An App Runner service, else an ECS Express service's load balancer.
        let served = match self.services.iter().position(|s| s.url == host && !s.deleted(ctx.now)) {
            Some(index) => {
                let service = &self.services[index];
                let running = service.running(ctx.now).and_then(|d| d.environment());
                Some(running.map(|env| (service.name.clone(), env)).ok_or_else(|| service.status(ctx.now).to_string()))
            }
            None => self.express_serving(&host, ctx.now),
        }
        .ok_or_else(|| HttpError::Connect(format!("dns error: failed to lookup address information for {host}")))?;
        if url.scheme() != "https" {
            return Err(HttpError::Connect(format!("{host}:80: connection refused (the service is served over HTTPS only)")));
        }
        let (service, environment) =
            served.map_err(|status| HttpError::Connect(format!("{host}:443: connection refused (service is {status})")))?;
        let request = Request { service, environment, request: http };
        if !request.environment.get("ALLOWED_HOSTS").is_some_and(|allowed| host_allowed(allowed, &host)) {
            return Ok(HttpResponse { status: 400, body: "<h1>Bad Request (400)</h1>".into() });
        }
        let routes = ValidationInput::default();
        let path = url.path();
        let method = http.method.to_ascii_uppercase();
        let route = [
            (&routes.health_path, "GET", Route::Health),
            (&routes.login_path, "POST", Route::Login),
            (&routes.refresh_path, "POST", Route::Refresh),
            (&routes.billing_path, "GET", Route::Billing),
            (&routes.tenant_register_path, "POST", Route::RegisterTenant),
            (&routes.backfill_path, "POST", Route::Backfill),
        ]
        .into_iter()
        .find(|(p, _, _)| p.as_str() == path);
        let Some((_, route_method, route)) = route else {
            return Ok(respond(404, json!({"detail": "Not found."})));
        };
        if method != route_method {
            return Ok(respond(405, json!({"detail": format!("Method \"{method}\" not allowed.")})));
        }
        // A broken deployment fails where the checklist starts: health and login.
        if matches!(route, Route::Health | Route::Login) && self.has_fault(ctx.step, FaultKind::FailedCheck) {
            self.fire(ctx, FaultKind::FailedCheck, &format!("{method} {path}"));
            return Ok(server_error());
        }
        Ok(match route {
            Route::Health => self.with_database(&request, ctx.now, |_, _| respond(200, json!({"status": "ok"}))),
            Route::Login => self.login(ctx, &request),
            Route::Refresh => self.refresh(ctx, &request),
            Route::Billing => match request.authenticated(ctx.now) {
                Err(denied) => denied,
                Ok(()) => self.with_migrated_database(&request, ctx.now, |db, _| billing(db)),
            },
            Route::RegisterTenant => match request.authenticated(ctx.now) {
                Err(denied) => denied,
                Ok(()) => self.with_migrated_database(&request, ctx.now, |db, now| register_tenant(db, &request, now)),
            },
            Route::Backfill => self.backfill(ctx, &request),
        })
    }

    /// Runs `handle` against the database DATABASE_URL reaches; 500 when it cannot be reached.
    fn with_database(
        &mut self,
        request: &Request,
        now: DateTime<Utc>,
        handle: impl FnOnce(&mut Database, DateTime<Utc>) -> HttpResponse,
    ) -> HttpResponse {
        let Some(target) = request.environment.get("DATABASE_URL").and_then(|url| Connection::parse(url).ok()) else {
            return server_error();
        };
        match self.connect(&target, now) {
            Ok(instance) => handle(&mut instance.data, now),
            Err(_) => server_error(),
        }
    }

    /// As [`World::with_database`], and 500 when the new release's tables are missing (the
    /// ORM's `relation does not exist`).
    fn with_migrated_database(
        &mut self,
        request: &Request,
        now: DateTime<Utc>,
        handle: impl FnOnce(&mut Database, DateTime<Utc>) -> HttpResponse,
    ) -> HttpResponse {
        self.with_database(request, now, |db, now| if db.is_migrated() { handle(db, now) } else { server_error() })
    }

    fn login(&mut self, ctx: &Ctx, request: &Request) -> HttpResponse {
        let body = body(request.request);
        let (Some(email), Some(password)) = (field(&body, "email"), field(&body, "password")) else {
            return respond(400, json!({"email": ["This field is required."], "password": ["This field is required."]}));
        };
        let Some(key) = request.secret_key().map(str::to_string) else { return server_error() };
        let (access_jti, refresh_jti) = (self.ids.hex(32), self.ids.hex(32));
        self.with_database(request, ctx.now, |db, now| {
            if db.password_hash_of(email) != Some(password_hash(password)) {
                return respond(401, json!({"detail": "No active account found with the given credentials"}));
            }
            respond(
                200,
                json!({
                    "access": issue(&key, "access", ACCESS_LIFETIME_SECONDS, now, access_jti),
                    "refresh": issue(&key, "refresh", REFRESH_LIFETIME_SECONDS, now, refresh_jti),
                }),
            )
        })
    }

    fn refresh(&mut self, ctx: &Ctx, request: &Request) -> HttpResponse {
        let body = body(request.request);
        let Some(refresh) = field(&body, "refresh") else {
            return respond(400, json!({"refresh": ["This field is required."]}));
        };
        match request.secret_key() {
            Some(key) if verify(key, refresh, "refresh", ctx.now) => {
                respond(200, json!({"access": issue(key, "access", ACCESS_LIFETIME_SECONDS, ctx.now, self.ids.hex(32))}))
            }
            _ => unauthorized("Token is invalid or expired"),
        }
    }

    /// The one-time backfill endpoint: the token is compared with the parameter named by
    /// BACKFILL_TOKEN_PARAMETER, read now (the instance role may read Parameter Store).
    fn backfill(&mut self, ctx: &Ctx, request: &Request) -> HttpResponse {
        let expected = match request.environment.get(BACKFILL_TOKEN_PARAMETER_VARIABLE) {
            Some(name) => {
                let at = ctx.now;
                self.ledger.calls.push(Recorded {
                    step: format!("app:{}", request.service),
                    at,
                    what: Call { service: "ssm".into(), operation: "GetParameter".into() },
                });
                self.parameters.get(name).map(|p| p.value.clone())
            }
            None => None,
        };
        let given = header(request.request, BACKFILL_TOKEN_HEADER);
        if expected.is_none() || given.is_none() || expected.as_deref() != given {
            return respond(403, json!({"detail": "You do not have permission to perform this action."}));
        }
        self.with_migrated_database(request, ctx.now, |db, now| {
            let done = db.backfill(&now.to_rfc3339());
            respond(
                200,
                json!({"tenants_created": done.tenants_created, "plans_created": done.plans_created, "rows_assigned": done.rows_assigned}),
            )
        })
    }
}

fn billing(db: &Database) -> HttpResponse {
    // Accounts without a subscription row are on the Enterprise plan the release grants by default.
    let (name, users, issuers, storage) = db.subscribed_plan().unwrap_or_else(|| ("Enterprise".into(), -1, -1, 50));
    respond(200, json!({"plan": {"name": name, "limits": {"users": users, "issuers": issuers, "storage_gb": storage}}, "status": "active"}))
}

fn register_tenant(db: &mut Database, request: &Request, now: DateTime<Utc>) -> HttpResponse {
    let body = body(request.request);
    let (Some(name), Some(slug)) = (field(&body, "name"), field(&body, "slug")) else {
        return respond(400, json!({"name": ["This field is required."], "slug": ["This field is required."]}));
    };
    if !slug.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_') {
        return respond(400, json!({"slug": ["Enter a valid “slug” consisting of letters, numbers, underscores or hyphens."]}));
    }
    match db.register_tenant(name, slug, &now.to_rfc3339()) {
        Ok(id) => respond(201, json!({"id": id, "name": name, "slug": slug})),
        Err(problem) => respond(400, json!({"slug": [problem]})),
    }
}

impl HttpClient for SimCloud {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let path = url::Url::parse(&request.url).map(|u| u.path().to_string()).unwrap_or_else(|_| request.url.clone());
        self.direct("http", format!("{} {path}", request.method), |w, ctx| w.serve(ctx, &request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_to_the_key_type_and_clock() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let token = issue("k1", "access", 300, now, "j".into());
        assert!(verify("k1", &token, "access", now));
        assert!(!verify("k2", &token, "access", now));
        assert!(!verify("k1", &token, "refresh", now));
        assert!(!verify("k1", &token, "access", now + chrono::Duration::seconds(300)));
        assert_eq!(rehearsal_core::checks::http::jwt_problem(&token, now), None);
    }

    #[test]
    fn allowed_hosts_follow_django() {
        assert!(host_allowed("*", "x.example.com"));
        assert!(host_allowed("api.tableicty.com,.us-east-1.awsapprunner.com", "abc.us-east-1.awsapprunner.com"));
        assert!(!host_allowed("api.tableicty.com", "abc.us-east-1.awsapprunner.com"));
    }
}
