//! Core's HTTP validation checklist (runbook step 7) through ReqwestClient, against a stand-in
//! for the app on a loopback port: every check passes against a healthy app, and each fails,
//! saying why, against an app broken in one way.

mod loopback;

use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use loopback::{Request, Response};
use rehearsal_core::checks::http::run_checklist;
use rehearsal_core::checks::CheckResult;
use rehearsal_core::run::ValidationInput;
use rehearsal_core::Secret;
use rehearsal_probes::ReqwestClient;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

const PASSWORD: &str = "Correct-Horse-Battery-9";
const TENANT: &str = "rehearsal-check-20251225";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 12, 25, 9, 40, 0).unwrap()
}

/// How the login answers.
#[derive(Clone, Copy)]
enum Login {
    Tokens,
    Status(u16),
    NotJson,
    NoTokens,
    /// An access token whose `exp` is a minute before [`now`].
    Expired,
}

/// How the app behaves; [`Script::healthy`] passes every check.
#[derive(Clone)]
struct Script {
    health_status: u16,
    login: Login,
    refresh_status: u16,
    limits: Value,
    register_status: u16,
    /// A path that answers only after this long.
    slow: Option<(String, Duration)>,
    /// The first this many requests answer 503, as App Runner does while the instance starts.
    cold_starts: u32,
}

impl Script {
    fn healthy() -> Script {
        Script {
            health_status: 200,
            login: Login::Tokens,
            refresh_status: 200,
            limits: json!({"users": -1, "issuers": 5, "shareholders": 500}),
            register_status: 201,
            slow: None,
            cold_starts: 0,
        }
    }
}

#[derive(Default)]
struct State {
    cold_starts_left: u32,
    access: HashSet<String>,
    refresh: HashSet<String>,
    issued: u32,
    registered: Vec<String>,
    requests: Vec<Request>,
}

impl State {
    /// A JWT of the shape the app issues: HS256 header, `exp`, a signature the checks do not verify.
    fn jwt(&mut self, exp: DateTime<Utc>) -> String {
        self.issued += 1;
        let encode = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let header = encode(json!({"alg": "HS256", "typ": "JWT"}));
        format!("{header}.{}.c2lnbmF0dXJl", encode(json!({"exp": exp.timestamp(), "jti": self.issued})))
    }

    fn bearer_ok(&self, request: &Request) -> bool {
        request.header("authorization").and_then(|v| v.strip_prefix("Bearer ")).is_some_and(|t| self.access.contains(t))
    }
}

fn answer(status: u16, body: Value) -> Response {
    Response { status, headers: "Content-Type: application/json\r\n".into(), body: body.to_string() }
}

/// The app's API at the runbook's paths; credentials and tokens are checked as the app would.
fn serve(state: &mut State, script: &Script, request: Request) -> Response {
    state.requests.push(request.clone());
    if state.cold_starts_left > 0 {
        state.cold_starts_left -= 1;
        return answer(503, json!("the instance is starting"));
    }
    let paths = ValidationInput::default();
    let body: Value = serde_json::from_str(&request.body).unwrap_or(Value::Null);
    let unauthorized = || answer(401, json!({"detail": "Authentication credentials were not provided."}));
    match (request.method.as_str(), request.path.as_str()) {
        ("GET", p) if p == paths.health_path => answer(script.health_status, json!({"status": "ok"})),
        ("POST", p) if p == paths.login_path => {
            if body != json!({"email": paths.test_admin_email, "password": PASSWORD}) {
                return answer(401, json!({"detail": "No active account found with the given credentials"}));
            }
            let access_exp = match script.login {
                Login::Tokens => now() + chrono::Duration::minutes(5),
                Login::Expired => now() - chrono::Duration::seconds(60),
                Login::Status(status) => return answer(status, json!({"detail": "No active account found with the given credentials"})),
                Login::NotJson => return Response { status: 200, headers: String::new(), body: "<html>Welcome back</html>".into() },
                Login::NoTokens => return answer(200, json!({"detail": "logged in"})),
            };
            let (access, refresh) = (state.jwt(access_exp), state.jwt(now() + chrono::Duration::days(1)));
            state.access.insert(access.clone());
            state.refresh.insert(refresh.clone());
            answer(200, json!({"access": access, "refresh": refresh}))
        }
        ("POST", p) if p == paths.refresh_path => {
            let known = body.get("refresh").and_then(Value::as_str).is_some_and(|t| state.refresh.contains(t));
            if script.refresh_status != 200 || !known {
                let status = if known { script.refresh_status } else { 401 };
                return answer(status, json!({"detail": "Token is invalid or expired", "code": "token_not_valid"}));
            }
            let access = state.jwt(now() + chrono::Duration::minutes(5));
            state.access.insert(access.clone());
            answer(200, json!({"access": access}))
        }
        ("GET", p) if p == paths.billing_path => match state.bearer_ok(&request) {
            true => answer(200, json!({"plan": {"name": "Professional", "limits": script.limits}, "status": "active"})),
            false => unauthorized(),
        },
        ("POST", p) if p == paths.tenant_register_path => {
            if !state.bearer_ok(&request) {
                return unauthorized();
            }
            if script.register_status != 201 {
                return answer(script.register_status, json!({"slug": ["tenant with this slug already exists."]}));
            }
            state.registered.push(body["name"].as_str().unwrap_or_default().to_string());
            answer(201, json!({"id": 42, "name": body["name"], "slug": body["slug"]}))
        }
        _ => answer(404, json!({"detail": "Not found."})),
    }
}

struct App {
    base_url: String,
    state: Arc<Mutex<State>>,
}

impl App {
    async fn start(script: Script) -> App {
        let state = Arc::new(Mutex::new(State { cold_starts_left: script.cold_starts, ..State::default() }));
        let shared = state.clone();
        let base_url = loopback::serve(TcpListener::bind("127.0.0.1:0").await.unwrap(), move |request| {
            let delay = script.slow.as_ref().filter(|(path, _)| *path == request.path).map_or(Duration::ZERO, |(_, d)| *d);
            let response = serve(&mut shared.lock().unwrap(), &script, request);
            async move {
                tokio::time::sleep(delay).await;
                Some(response)
            }
        });
        App { base_url, state }
    }

    /// Method and path of every request, in order.
    fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.iter().map(|r| format!("{} {}", r.method, r.path)).collect()
    }
}

fn client() -> ReqwestClient {
    ReqwestClient::new(Duration::from_secs(5)).unwrap()
}

async fn check(app: &App, http: &ReqwestClient) -> Vec<CheckResult> {
    run_checklist(http, &app.base_url, &ValidationInput::default(), &Secret::new(PASSWORD), TENANT, now()).await
}

/// Each result's `passed` and `found`, in order.
fn outcomes(results: &[CheckResult]) -> Vec<(bool, String)> {
    results.iter().map(|r| (r.passed, r.found.clone())).collect()
}

fn expect(outcomes: &[(bool, &str)]) -> Vec<(bool, String)> {
    outcomes.iter().map(|(passed, found)| (*passed, found.to_string())).collect()
}

const HEALTHY: [(bool, &str); 5] = [
    (true, "HTTP 200"),
    (true, "access and refresh JWTs"),
    (true, "a new access JWT"),
    (true, "issuers: 5, shareholders: 500, users: Unlimited"),
    (true, "HTTP 201"),
];

/// The healthy outcomes with item `index` replaced.
fn healthy_but(index: usize, outcome: (bool, &'static str)) -> Vec<(bool, String)> {
    let mut outcomes = HEALTHY;
    outcomes[index] = outcome;
    expect(&outcomes)
}

#[tokio::test]
async fn a_healthy_app_passes_every_check() {
    let app = App::start(Script::healthy()).await;
    let results = check(&app, &client()).await;
    assert_eq!(outcomes(&results), expect(&HEALTHY), "{results:#?}");
    let names: Vec<&str> = results.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "health endpoint returns 200",
            "login as testadmin@tableicty.com",
            "token refresh",
            "billing shows the subscription, -1 as Unlimited",
            "tenant registration"
        ]
    );
    let paths = ValidationInput::default();
    assert_eq!(
        app.requests(),
        [
            format!("GET {}", paths.health_path),
            format!("POST {}", paths.login_path),
            format!("POST {}", paths.refresh_path),
            format!("GET {}", paths.billing_path),
            format!("POST {}", paths.tenant_register_path),
        ]
    );
    assert_eq!(app.state.lock().unwrap().registered, [TENANT]);
}

#[tokio::test]
async fn a_failing_health_endpoint_fails_its_check_only() {
    let app = App::start(Script { health_status: 500, ..Script::healthy() }).await;
    assert_eq!(outcomes(&check(&app, &client()).await), healthy_but(0, (false, "HTTP 500")));
}

#[tokio::test]
async fn a_refused_login_fails_and_stops_the_checks_that_need_its_token() {
    let app = App::start(Script { login: Login::Status(401), ..Script::healthy() }).await;
    assert_eq!(outcomes(&check(&app, &client()).await), expect(&[(true, "HTTP 200"), (false, "HTTP 401")]));
    assert_eq!(app.requests().len(), 2, "nothing is asked without a token");
}

#[tokio::test]
async fn a_login_answer_without_tokens_fails() {
    let app = App::start(Script { login: Login::NoTokens, ..Script::healthy() }).await;
    let results = check(&app, &client()).await;
    assert_eq!(outcomes(&results), expect(&[(true, "HTTP 200"), (false, "a response without access and refresh tokens")]));

    let app = App::start(Script { login: Login::NotJson, ..Script::healthy() }).await;
    let results = check(&app, &client()).await;
    // Core reports only the status when a 200 is not JSON: this is all `found` says today.
    assert_eq!(outcomes(&results), expect(&[(true, "HTTP 200"), (false, "HTTP 200 with a body that is not JSON")]));
}

#[tokio::test]
async fn an_expired_access_token_fails_the_login() {
    let app = App::start(Script { login: Login::Expired, ..Script::healthy() }).await;
    let results = check(&app, &client()).await;
    assert_eq!(outcomes(&results), expect(&[(true, "HTTP 200"), (false, "a token that is expired 60 s ago")]));
}

#[tokio::test]
async fn a_refused_refresh_fails_its_check_only() {
    let app = App::start(Script { refresh_status: 401, ..Script::healthy() }).await;
    assert_eq!(outcomes(&check(&app, &client()).await), healthy_but(2, (false, "HTTP 401")));
}

#[tokio::test]
async fn a_limit_sent_as_a_string_fails_the_billing_check() {
    let app = App::start(Script { limits: json!({"users": "-1", "issuers": 5}), ..Script::healthy() }).await;
    assert_eq!(outcomes(&check(&app, &client()).await), healthy_but(3, (false, r#"users = "-1", which the page cannot render"#)));
}

#[tokio::test]
async fn a_refused_tenant_registration_fails_its_check() {
    let app = App::start(Script { register_status: 400, ..Script::healthy() }).await;
    assert_eq!(outcomes(&check(&app, &client()).await), healthy_but(4, (false, "HTTP 400")));
    assert!(app.state.lock().unwrap().registered.is_empty());
}

#[tokio::test]
async fn an_endpoint_slower_than_the_client_timeout_fails_its_check() {
    let slow = Some((ValidationInput::default().billing_path, Duration::from_secs(3)));
    let app = App::start(Script { slow, ..Script::healthy() }).await;
    let quick = ReqwestClient::new(Duration::from_millis(500)).unwrap();
    let started = std::time::Instant::now();
    assert_eq!(outcomes(&check(&app, &quick).await), healthy_but(3, (false, "timed out after 1 s")));
    assert!(started.elapsed() < Duration::from_secs(3), "the client waited for the answer: {:?}", started.elapsed());
}

#[tokio::test]
async fn a_cold_start_passes_with_retries_and_fails_without() {
    let cold = || Script { cold_starts: 2, ..Script::healthy() };
    let app = App::start(cold()).await;
    let patient = client().with_cold_start_retries(3, Duration::from_millis(50));
    assert_eq!(outcomes(&check(&app, &patient).await), expect(&HEALTHY));
    assert_eq!(app.requests().len(), 7, "health asked three times: {:?}", app.requests());

    let app = App::start(cold()).await;
    let results = check(&app, &client()).await;
    assert_eq!(outcomes(&results), expect(&[(false, "HTTP 503"), (false, "HTTP 503")]));
}
