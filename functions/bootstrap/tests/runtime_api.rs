//! The bootstrap as Lambda runs it: a process started with Lambda's environment, talking to a
//! Runtime API (`/2018-06-01/runtime/…`) served here, as the service side of one execution
//! environment does. It tests the binary `REHEARSAL_BOOTSTRAP` names, which scripts/test sets
//! to the artifact `sam build` made (scripts/sam-build), so the shipped build itself is tested;
//! without it, the binary cargo builds for these tests.

use rehearsal_core::plan::SCHEDULE_GROUP;
use rehearsal_core::steps::{invoke, Step};
use rehearsal_tests::http::{HttpServer, Request, Response};
use rehearsal_tests::moto::{moto, ACCOUNT, REGION};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const ANSWER_WITHIN: Duration = Duration::from_secs(60);
const RUNTIME: &str = "/2018-06-01/runtime";

/// What the function sent back for an invocation, or for its init.
#[derive(Debug, Clone, PartialEq)]
enum Answer {
    Response { request_id: String, body: Value },
    Error { request_id: String, error_type: Option<String>, body: Value },
    InitError { error_type: Option<String>, body: Value },
}

#[derive(Default)]
struct State {
    events: Mutex<VecDeque<(String, Value)>>,
    event_queued: Condvar,
    answers: Mutex<Vec<Answer>>,
    answered: Condvar,
    next_calls: AtomicUsize,
}

/// The Runtime API of one execution environment: `/invocation/next` hands out queued events (and
/// waits while there are none), `/invocation/{id}/response|error` and `/init/error` are recorded.
struct RuntimeApi {
    server: HttpServer,
    state: Arc<State>,
    invocations: AtomicUsize,
}

impl RuntimeApi {
    fn start() -> Self {
        let state = Arc::new(State::default());
        let serving = state.clone();
        let server = HttpServer::start(move |request| serve(&serving, request));
        Self { server, state, invocations: AtomicUsize::new(0) }
    }

    /// `AWS_LAMBDA_RUNTIME_API`: host and port, no scheme.
    fn address(&self) -> String {
        self.server.url().trim_start_matches("http://").to_string()
    }

    /// Invokes the function with `payload` and waits for its answer.
    fn invoke(&self, payload: Value) -> Answer {
        let request_id = format!("request-{}", self.invocations.fetch_add(1, Ordering::SeqCst) + 1);
        self.state.events.lock().unwrap().push_back((request_id.clone(), payload));
        self.state.event_queued.notify_all();
        self.wait_for(|answer| match answer {
            Answer::Response { request_id: id, .. } | Answer::Error { request_id: id, .. } => *id == request_id,
            Answer::InitError { .. } => true,
        })
    }

    fn wait_for(&self, wanted: impl Fn(&Answer) -> bool) -> Answer {
        let deadline = Instant::now() + ANSWER_WITHIN;
        let mut answers = self.state.answers.lock().unwrap();
        loop {
            if let Some(answer) = answers.iter().find(|a| wanted(a)) {
                return answer.clone();
            }
            let left = deadline.checked_duration_since(Instant::now()).unwrap_or_else(|| panic!("no answer within {ANSWER_WITHIN:?}"));
            answers = self.state.answered.wait_timeout(answers, left).unwrap().0;
        }
    }

    fn next_calls(&self) -> usize {
        self.state.next_calls.load(Ordering::SeqCst)
    }

    /// Waits until `/next` has been asked for `count` times.
    fn wait_for_next_calls(&self, count: usize) {
        let deadline = Instant::now() + ANSWER_WITHIN;
        while self.next_calls() < count {
            assert!(Instant::now() < deadline, "/next asked {} times, not {count}", self.next_calls());
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn serve(state: &State, request: Request) -> Response {
    let path = request.path().strip_prefix(RUNTIME).unwrap_or_default();
    let error_type = request.header("Lambda-Runtime-Function-Error-Type").map(str::to_string);
    let answer = match (request.method.as_str(), path.split('/').collect::<Vec<_>>().as_slice()) {
        ("GET", ["", "invocation", "next"]) => return next_event(state),
        ("POST", ["", "invocation", id, "response"]) => Answer::Response { request_id: id.to_string(), body: request.json() },
        ("POST", ["", "invocation", id, "error"]) => Answer::Error { request_id: id.to_string(), error_type, body: request.json() },
        ("POST", ["", "init", "error"]) => Answer::InitError { error_type, body: request.json() },
        _ => return Response::json(404, &json!({"errorMessage": format!("no route {} {}", request.method, request.target)})),
    };
    state.answers.lock().unwrap().push(answer);
    state.answered.notify_all();
    Response::json(202, &json!({"status": "OK"}))
}

/// Blocks until an event is queued, as Lambda's `/next` does between invocations.
fn next_event(state: &State) -> Response {
    state.next_calls.fetch_add(1, Ordering::SeqCst);
    let mut events = state.events.lock().unwrap();
    let (request_id, payload) = loop {
        match events.pop_front() {
            Some(event) => break event,
            None => events = state.event_queued.wait(events).unwrap(),
        }
    };
    let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + Duration::from_secs(60);
    Response::json(200, &payload)
        .with_header("Lambda-Runtime-Aws-Request-Id", &request_id)
        .with_header("Lambda-Runtime-Deadline-Ms", &deadline.as_millis().to_string())
        .with_header("Lambda-Runtime-Invoked-Function-Arn", &format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:rehearsal-test"))
        .with_header("Lambda-Runtime-Trace-Id", "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=0")
}

/// The binary under test: the shipped artifact when scripts/test names it.
fn bootstrap() -> PathBuf {
    match std::env::var_os("REHEARSAL_BOOTSTRAP") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_BIN_EXE_rehearsal-bootstrap")),
    }
}

/// One execution environment: the bootstrap with Lambda's variables (and nothing else of this
/// process's environment), its output in target/bootstrap-<name>.log.
struct Function {
    child: Child,
    log: PathBuf,
}

impl Function {
    fn start(name: &str, handler: Option<&str>, api: &RuntimeApi, extra: &[(&str, String)]) -> Self {
        let log = rehearsal_tests::moto::repo_root().join(format!("target/bootstrap-{name}.log"));
        let output = std::fs::File::create(&log).unwrap();
        let mut command = Command::new(bootstrap());
        command
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", format!("rehearsal-{name}"))
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/rehearsal/test/functions")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/24/[$LATEST]0123456789abcdef")
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .env("AWS_REGION", REGION)
            .env("AWS_DEFAULT_REGION", REGION)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("TZ", ":UTC");
        if let Some(handler) = handler {
            command.env("_HANDLER", handler);
        }
        command.envs(extra.iter().map(|(k, v)| (k, v)));
        let child = command
            .stdin(Stdio::null())
            .stdout(output.try_clone().unwrap())
            .stderr(output)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bootstrap().display()));
        Self { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The exit status, once the process has ended by itself.
    fn exited(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + ANSWER_WITHIN;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the bootstrap is still running; its output:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plan as plan_rehearsal makes it (on the simulated account: the plan is all it is needed for).
fn plan() -> Value {
    let account = rehearsal_tests::new_account();
    let input = json!({
        "input": {},
        "execution_name": "staging",
        "execution_start": rehearsal_tests::start_time(),
        "stack": rehearsal_tests::stack_settings(),
    });
    rehearsal_tests::runtime().block_on(invoke(&account.session("plan_rehearsal"), Step::PlanRehearsal, input)).unwrap()
}

fn teardown_schedule_input(plan: &Value) -> Value {
    json!({
        "plan": plan,
        "teardown_state_machine_arn": format!("arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:rehearsal-teardown"),
        "scheduler_role_arn": format!("arn:aws:iam::{ACCOUNT}:role/rehearsal-scheduler"),
    })
}

/// A real handler's panic in the shipped code, then the next invocations in the same process.
///
/// The panic is real, not staged: the bootstrap has no fault switch, and a wrapper binary would
/// not be the artifact. `schedule_staging_teardown` trusts the plan it is given (plan_rehearsal
/// bounds `ttl_hours` to 1..=168 when it makes one) and computes `started_at + ttl_hours` with
/// chrono's `+`, which panics past chrono's last representable date. A plan with
/// `ttl_hours = u32::MAX` (a hand-made `aws lambda invoke`, say) reaches that `+` before any call.
/// Should that addition ever become checked, the first assertion fails and names what came
/// back: the test then needs another input that panics in the shipped code, or the claim that
/// a panic answers PanicError has no path left to test.
#[test]
fn a_panic_in_a_handler_answers_panic_error_and_the_same_process_serves_the_next_invocations() {
    let moto = moto();
    // A real clock: the SDK's timeouts fire at once on the tests' paused one.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let config = rehearsal_aws::load_config(Some(&moto.server.endpoint())).await;
        rehearsal_aws::AwsCloud::new(&config).scheduler.create_schedule_group().name(SCHEDULE_GROUP).send().await.unwrap();
    });
    let api = RuntimeApi::start();
    let endpoint = [("AWS_ENDPOINT_URL", moto.server.endpoint())];
    let mut function = Function::start("schedule_staging_teardown", Some(Step::ScheduleStagingTeardown.name()), &api, &endpoint);
    let plan = plan();

    let mut forever = plan.clone();
    forever["ttl_hours"] = json!(u32::MAX);
    match api.invoke(teardown_schedule_input(&forever)) {
        Answer::Error { body, .. } => {
            assert_eq!(body["errorType"], "PanicError", "{body}");
            let message = body["errorMessage"].as_str().unwrap();
            assert!(message.starts_with("schedule_staging_teardown panicked: "), "{message}");
        }
        other => panic!("expected the handler to panic, got {other:?}\n{}", function.log()),
    }
    assert!(function.is_running(), "the panic ended the process:\n{}", function.log());

    // The same process, the same handler: the schedule is created in moto, then found again.
    let created = api.invoke(teardown_schedule_input(&plan));
    let Answer::Response { body: created, .. } = created else { panic!("{created:?}\n{}", function.log()) };
    assert_eq!((created["group"].as_str(), created["reused"].as_bool()), (Some(SCHEDULE_GROUP), Some(false)), "{created}");
    let again = api.invoke(teardown_schedule_input(&plan));
    let Answer::Response { body: again, .. } = again else { panic!("{again:?}\n{}", function.log()) };
    assert_eq!((&again["name"], again["reused"].as_bool()), (&created["name"], Some(true)), "{again}");

    // One process asked for every invocation, and asks for the next.
    api.wait_for_next_calls(4);
    assert!(function.is_running(), "{}", function.log());
    let log = function.log();
    let panicked = log.lines().find(|l| l.contains("\"step panicked\"")).unwrap_or_else(|| panic!("no panic line in:\n{log}"));
    assert!(panicked.contains("\"error_type\":\"PanicError\"") && panicked.contains("\"request_id\":\"request-1\""), "{panicked}");
}

#[test]
fn a_step_error_answers_its_name_through_the_runtime_api() {
    let api = RuntimeApi::start();
    let _function = Function::start("check_production_snapshot", Some(Step::CheckProductionSnapshot.name()), &api, &[]);
    let answer = api.invoke(json!({"plan": plan(), "unexpected": true}));
    // The body's errorType is what Step Functions matches (lambda_runtime's header says "unhandled").
    let Answer::Error { body, .. } = answer else { panic!("{answer:?}") };
    assert_eq!(body["errorType"], "MalformedInputError", "{body}");
    assert!(body["errorMessage"].as_str().unwrap().starts_with("malformed step input: "), "{body}");
}

#[test]
fn the_api_is_served_by_the_same_bootstrap() {
    let api = RuntimeApi::start();
    let machines = [
        ("STAGING_STATE_MACHINE_ARN", format!("arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:rehearsal-staging")),
        ("PROMOTE_STATE_MACHINE_ARN", format!("arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:rehearsal-promote")),
        ("TEARDOWN_STATE_MACHINE_ARN", format!("arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:rehearsal-teardown")),
    ];
    let _function = Function::start("api", Some("api"), &api, &machines);
    let event = json!({
        "version": "2.0", "routeKey": "$default", "rawPath": "/runs", "rawQueryString": "",
        "headers": {"content-type": "application/json", "idempotency-key": "release-42"},
        "requestContext": {
            "accountId": ACCOUNT, "apiId": "api", "domainName": "api.example", "domainPrefix": "api",
            "http": {"method": "POST", "path": "/runs", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test"},
            "requestId": "api-request", "routeKey": "$default", "stage": "$default",
            "time": "24/Nov/2026:09:00:00 +0000", "timeEpoch": 1795510800000u64
        },
        "body": "{\"ttl_hours\": 0}", "isBase64Encoded": false
    });
    let answer = api.invoke(event);
    let Answer::Response { body, .. } = answer else { panic!("{answer:?}") };
    assert_eq!(body["statusCode"], 400, "{body}");
    let refused: Value = serde_json::from_str(body["body"].as_str().unwrap()).unwrap();
    assert_eq!(refused["field"], "ttl_hours", "{refused}");
}

#[test]
fn an_unknown_or_missing_handler_fails_the_init_naming_it_and_the_known_ones() {
    for (name, handler) in [("unknown_handler", Some("plan_rehersal")), ("missing_handler", None)] {
        let api = RuntimeApi::start();
        let mut function = Function::start(name, handler, &api, &[]);
        let answer = api.wait_for(|a| matches!(a, Answer::InitError { .. }));
        let Answer::InitError { error_type, body } = answer else { unreachable!() };
        assert_eq!((error_type.as_deref(), body["errorType"].as_str()), (Some("Runtime.NoSuchHandler"), Some("Runtime.NoSuchHandler")));
        let message = body["errorMessage"].as_str().unwrap();
        match handler {
            Some(handler) => assert!(message.starts_with(&format!("unknown handler {handler:?}: ")), "{message}"),
            None => assert!(message.starts_with("no handler: _HANDLER is not set"), "{message}"),
        }
        for known in std::iter::once("api").chain(Step::ALL.iter().map(|s| s.name())) {
            assert!(message.contains(known), "{message} does not list {known}");
        }
        assert!(!function.exited().success(), "the process ends after reporting its init error");
        assert_eq!(api.next_calls(), 0, "no invocation is asked for");
    }
}
