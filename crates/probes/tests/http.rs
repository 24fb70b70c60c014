//! ReqwestClient against a stand-in for the app on a loopback port, answering from a script.

mod loopback;

use loopback::{Request as Seen, Response};
use rehearsal_core::checks::http::request;
use rehearsal_core::cloud::{HttpClient, HttpError, HttpRequest};
use rehearsal_core::Secret;
use rehearsal_probes::ReqwestClient;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

/// One scripted answer: status, extra header lines, body, and how long to wait before answering.
#[derive(Clone)]
struct Reply {
    status: u16,
    headers: &'static str,
    body: &'static str,
    delay: Duration,
}

fn reply(status: u16, body: &'static str) -> Reply {
    Reply { status, headers: "", body, delay: Duration::ZERO }
}

struct StandIn {
    base_url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl StandIn {
    /// Serves `script` in order on `listener`, one request per connection; 500 once it runs out.
    fn serve(listener: TcpListener, script: Vec<Reply>) -> StandIn {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script.into_iter()));
        let log = seen.clone();
        let base_url = loopback::serve(listener, move |request| {
            log.lock().unwrap().push(request);
            let next = script.lock().unwrap().next().unwrap_or_else(|| reply(500, "script ran out"));
            async move {
                tokio::time::sleep(next.delay).await;
                Some(Response { status: next.status, headers: next.headers.to_string(), body: next.body.to_string() })
            }
        });
        StandIn { base_url, seen }
    }

    async fn start(script: Vec<Reply>) -> StandIn {
        StandIn::serve(TcpListener::bind("127.0.0.1:0").await.unwrap(), script)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// A loopback port with nothing listening on it.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn client() -> ReqwestClient {
    ReqwestClient::new(Duration::from_secs(5)).unwrap()
}

fn get(url: String) -> HttpRequest {
    request("GET", url, None, None)
}

#[tokio::test]
async fn headers_and_body_reach_the_app_and_its_answer_comes_back() {
    let app = StandIn::start(vec![reply(201, r#"{"id": 7}"#)]).await;
    let token = Secret::new("eyJ.access.token");
    let sent = request("POST", app.url("/api/v1/tenant/register/"), Some(&token), Some(json!({"name": "rehearsal-check-1"})));
    let response = client().send(sent).await.unwrap();
    assert_eq!((response.status, response.body.as_str()), (201, r#"{"id": 7}"#));

    let seen = app.seen();
    assert_eq!(seen.len(), 1);
    let request = &seen[0];
    assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", "/api/v1/tenant/register/"));
    assert_eq!(request.header("authorization"), Some("Bearer eyJ.access.token"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(serde_json::from_str::<serde_json::Value>(&request.body).unwrap(), json!({"name": "rehearsal-check-1"}));
    assert!(request.header("user-agent").is_some_and(|ua| ua.starts_with("rehearsal-probe/")), "{request:?}");

    let bad = HttpRequest { method: "GE T".into(), ..get(app.url("/")) };
    assert_eq!(client().send(bad).await, Err(HttpError::Other("\"GE T\" is not an HTTP method".into())));
}

#[tokio::test]
async fn a_redirect_is_reported_not_followed() {
    let app = StandIn::start(vec![Reply { headers: "Location: /elsewhere\r\n", ..reply(302, "") }, reply(200, "elsewhere")]).await;
    let response = client().send(get(app.url("/api/v1/health/"))).await.unwrap();
    assert_eq!(response.status, 302);
    assert_eq!(app.seen().len(), 1);
}

#[tokio::test]
async fn a_slow_answer_times_out() {
    let app = StandIn::start(vec![Reply { delay: Duration::from_secs(3), ..reply(200, "late") }]).await;
    let started = std::time::Instant::now();
    let result = ReqwestClient::new(Duration::from_millis(300)).unwrap().send(get(app.url("/api/v1/health/"))).await;
    assert_eq!(result, Err(HttpError::Timeout(1)));
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error() {
    let result = client().send(get(format!("http://127.0.0.1:{}/api/v1/health/", closed_port()))).await;
    let Err(HttpError::Connect(why)) = &result else { panic!("expected a connect error, got {result:?}") };
    assert!(why.to_lowercase().contains("refused"), "{why}");
    assert!(!why.contains("127.0.0.1"), "the URL is the caller's to report: {why}");
}

#[tokio::test]
async fn a_cold_service_is_asked_again_until_it_answers() {
    let app = StandIn::start(vec![reply(503, "starting"), reply(502, "bad gateway"), reply(200, "ok")]).await;
    let started = std::time::Instant::now();
    let client = client().with_cold_start_retries(3, Duration::from_millis(200));
    let response = client.send(get(app.url("/api/v1/health/"))).await.unwrap();
    assert_eq!((response.status, response.body.as_str()), (200, "ok"));
    assert_eq!(app.seen().len(), 3);
    assert!(started.elapsed() >= Duration::from_millis(400), "no delay between tries: {:?}", started.elapsed());
}

#[tokio::test]
async fn retries_stop_at_the_attempt_limit_and_only_when_asked_for() {
    let app = StandIn::start(vec![reply(504, "a"), reply(503, "b"), reply(200, "c")]).await;
    let response = client().with_cold_start_retries(2, Duration::from_millis(10)).send(get(app.url("/"))).await.unwrap();
    assert_eq!((response.status, response.body.as_str()), (503, "b"));
    assert_eq!(app.seen().len(), 2);

    let app = StandIn::start(vec![reply(503, "a"), reply(200, "b")]).await;
    assert_eq!(client().send(get(app.url("/"))).await.unwrap().status, 503);
    assert_eq!(app.seen().len(), 1, "no retries unless configured");

    // Neither a plain error status nor a timeout is a cold start.
    let app = StandIn::start(vec![reply(500, "a"), reply(200, "b")]).await;
    assert_eq!(client().with_cold_start_retries(3, Duration::from_millis(10)).send(get(app.url("/"))).await.unwrap().status, 500);
    let app = StandIn::start(vec![Reply { delay: Duration::from_secs(2), ..reply(200, "late") }, reply(200, "b")]).await;
    let quick = ReqwestClient::new(Duration::from_millis(200)).unwrap().with_cold_start_retries(3, Duration::from_millis(10));
    assert_eq!(quick.send(get(app.url("/"))).await, Err(HttpError::Timeout(1)));
    assert_eq!(app.seen().len(), 1);
}

#[tokio::test]
async fn a_post_is_not_sent_twice_on_a_gateway_error() {
    let app = StandIn::start(vec![reply(504, "gateway timeout"), reply(201, "{}")]).await;
    let client = client().with_cold_start_retries(3, Duration::from_millis(10));
    let response = client.send(request("POST", app.url("/api/v1/tenant/register/"), None, Some(json!({})))).await.unwrap();
    assert_eq!(response.status, 504);
    assert_eq!(app.seen().len(), 1, "the app may have registered the tenant already");
}

#[tokio::test]
async fn a_connect_error_is_retried_until_the_service_listens() {
    let port = closed_port();
    let app = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        StandIn::serve(TcpListener::bind(("127.0.0.1", port)).await.unwrap(), vec![reply(200, "up")])
    });
    let client = client().with_cold_start_retries(20, Duration::from_millis(100));
    let response = client.send(request("POST", format!("http://127.0.0.1:{port}/api/v1/auth/login/"), None, Some(json!({})))).await;
    assert_eq!(response.map(|r| r.body), Ok("up".to_string()));
    assert_eq!(app.await.unwrap().seen().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_retry_delay_runs_on_the_tokio_clock() {
    // Ten minutes between tries, on the paused clock: the test takes moments of real time.
    let app = StandIn::start(vec![reply(503, "starting"), reply(200, "ok")]).await;
    let (virtual_start, real_start) = (tokio::time::Instant::now(), std::time::Instant::now());
    let client = ReqwestClient::new(Duration::from_secs(3600)).unwrap().with_cold_start_retries(2, Duration::from_secs(600));
    let response = client.send(get(app.url("/api/v1/health/"))).await.unwrap();
    assert_eq!(response.status, 200);
    assert!(virtual_start.elapsed() >= Duration::from_secs(600), "{:?}", virtual_start.elapsed());
    assert!(real_start.elapsed() < Duration::from_secs(10), "{:?}", real_start.elapsed());
}
