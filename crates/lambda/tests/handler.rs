//! The handler as the Lambda runtime calls it, without AWS: the simulated account stands in for
//! the cloud, and log lines are captured from the same subscriber the functions install.

use rehearsal_core::cloud::ParameterStore;
use rehearsal_core::lease::{Lease, LeaseHeld, LeasedEnvironment};
use rehearsal_core::{CloudError, CloudErrorKind, RunPlan, StepError};
use rehearsal_lambda::{diagnostic, handle, handle_with, log_subscriber, Context, Diagnostic, LambdaEvent, Step, PANIC_ERROR};
use rehearsal_sim::{Fault, FaultKind, SimAccount, SimConfig};
use serde_json::{json, Value};
use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tracing_subscriber::fmt::MakeWriter;

fn event(request_id: &str, payload: Value) -> LambdaEvent<Value> {
    let mut context = Context::default();
    context.request_id = request_id.into();
    LambdaEvent::new(payload, context)
}

fn account() -> SimAccount {
    SimAccount::new(SimConfig::default(), "2025-12-25T09:00:00Z".parse().unwrap())
}

fn plan_input() -> Value {
    json!({"input": {}, "execution_name": "staging", "execution_start": "2025-12-25T09:00:00Z", "stack": rehearsal_sim::seed::stack_settings()})
}

/// Log output, one JSON object per line.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    fn lines(&self) -> Vec<Value> {
        self.text().lines().map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?} is not JSON: {e}"))).collect()
    }

    fn line(&self, message: &str) -> Value {
        self.lines().into_iter().find(|l| l["message"] == message).unwrap_or_else(|| panic!("no {message:?} line in {}", self.text()))
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// A test's own subscriber, one test at a time: tracing caches each callsite's interest across
/// threads, so parallel tests with different filters could hide each other's lines.
struct Logging {
    _guard: tracing::subscriber::DefaultGuard,
    _serial: MutexGuard<'static, ()>,
}

fn capture_with(directives: &str) -> (Captured, Logging) {
    static SERIAL: Mutex<()> = Mutex::new(());
    let serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let captured = Captured::default();
    let guard = tracing::subscriber::set_default(log_subscriber(directives, captured.clone()));
    (captured, Logging { _guard: guard, _serial: serial })
}

/// Logs at the most verbose setting an operator could choose.
fn capture() -> (Captured, Logging) {
    capture_with("trace")
}

#[tokio::test]
async fn a_malformed_payload_answers_malformed_input_error() {
    // Serialized with the capturing tests: a line logged here while one of them registers its
    // subscriber could leave a callsite's cached interest without it.
    let _serial = capture();
    let account = account();
    let payload = json!({"plan": {"run_id": "tableicty-20251225"}, "unexpected": true});
    let error =
        handle(&account.session("check_production_snapshot"), Step::CheckProductionSnapshot, event("req-1", payload)).await.unwrap_err();
    assert_eq!(error.error_type, "MalformedInputError");
    assert!(error.error_message.starts_with("malformed step input: "), "{}", error.error_message);
    assert!(account.ledger().calls.is_empty(), "no call may be made on a malformed input");
}

#[tokio::test]
async fn a_cloud_error_answers_the_step_error_name() {
    let _serial = capture();
    let account = account();
    account.inject(Fault::new("plan_rehearsal", FaultKind::Throttle));
    let error = handle(&account.session("plan_rehearsal"), Step::PlanRehearsal, event("req-1", plan_input())).await.unwrap_err();
    assert_eq!(error.error_type, "ThrottledError");
    assert!(error.error_message.starts_with("throttled by "), "{}", error.error_message);
}

#[tokio::test]
async fn a_panic_answers_panic_error_and_the_next_invocation_is_served() {
    let _serial = capture();
    let panicked = handle_with(Step::ValidateStaging, event("req-1", json!({})), |_| async { panic!("index out of bounds") }).await;
    assert_eq!(
        panicked.unwrap_err(),
        Diagnostic { error_type: PANIC_ERROR.into(), error_message: "validate_staging panicked: index out of bounds".into() }
    );

    // A panic before the handler's future exists is caught as well.
    let early = handle_with(Step::ValidateStaging, event("req-2", json!({})), |_| -> std::future::Ready<Result<Value, StepError>> {
        panic!("{} checks", 3)
    })
    .await;
    assert_eq!(early.unwrap_err().error_message, "validate_staging panicked: 3 checks");

    let account = account();
    let served = handle(&account.session("plan_rehearsal"), Step::PlanRehearsal, event("req-3", plan_input())).await;
    assert!(served.is_ok(), "{served:?}");
}

/// The names the state machines' Retry/Catch match, spelled out: renaming one is a contract change.
fn expected_name(error: &StepError) -> &'static str {
    match error {
        StepError::InvalidInput { .. } => "InvalidInputError",
        StepError::Throttled { .. } => "ThrottledError",
        StepError::Transient { .. } => "TransientError",
        StepError::ResourceNotOwned { .. } => "ResourceNotOwnedError",
        StepError::ProductionWriteRefused { .. } => "ProductionWriteRefusedError",
        StepError::ProductionNotReady(_) => "ProductionNotReadyError",
        StepError::ProductionBusy(_) => "ProductionBusyError",
        StepError::DatabaseNotReady(_) => "DatabaseNotReadyError",
        StepError::CheckFailed(_) => "CheckFailedError",
        StepError::Fatal { .. } => "FatalError",
        StepError::MalformedInput(_) => "MalformedInputError",
        StepError::LeaseHeld(_) => "LeaseHeldError",
    }
}

fn every_step_error() -> Vec<StepError> {
    let cloud = |kind, code: &str| CloudError::new(kind, code, "message from the service");
    vec![
        StepError::invalid("staging.db_class", "must be one of db.t3.micro, db.t4g.micro"),
        StepError::Throttled { operation: "DescribeDBInstances".into(), source: cloud(CloudErrorKind::Throttled, "Throttling") },
        StepError::Transient { operation: "PutParameter".into(), source: cloud(CloudErrorKind::Unavailable, "InternalServerError") },
        StepError::ResourceNotOwned { resource: "tableicty-staging-db".into(), detail: "no rehearsal tags".into() },
        StepError::ProductionWriteRefused { resource: "/tableicty/production/SECRET_KEY".into(), detail: "production is read-only".into() },
        StepError::ProductionNotReady("parameter /tableicty/production/DATABASE_URL does not exist".into()),
        StepError::ProductionBusy("CreateDBSnapshot: InvalidDBInstanceState: it is backing-up".into()),
        StepError::DatabaseNotReady("the database system is starting up".into()),
        StepError::CheckFailed("health answered 500".into()),
        StepError::Fatal { operation: "CreateService".into(), source: cloud(CloudErrorKind::AccessDenied, "AccessDeniedException") },
        StepError::MalformedInput("plan: missing field `run_id`".into()),
        StepError::LeaseHeld(LeaseHeld {
            app: "tableicty".into(),
            environment: LeasedEnvironment::Staging,
            holder: Lease {
                execution_arn: "arn:aws:states:us-east-1:123456789012:execution:rehearsal-staging:release-42".into(),
                run_id: "tableicty-20261124090000-9ad76926".into(),
                started_at: chrono::DateTime::UNIX_EPOCH,
            },
            reason: "its execution is RUNNING".into(),
        }),
    ]
}

#[test]
fn every_step_error_becomes_its_name_and_text() {
    for error in every_step_error() {
        let answer = diagnostic(&error);
        assert_eq!(answer.error_type, expected_name(&error));
        assert_eq!(answer.error_message, error.to_string());
        // What the Runtime API receives.
        let body = serde_json::to_value(&answer).unwrap();
        assert_eq!(body, json!({"errorType": expected_name(&error), "errorMessage": error.to_string()}));
    }
}

#[test]
fn the_state_machines_match_only_errors_a_function_can_answer() {
    let answerable: Vec<&str> = every_step_error().iter().map(expected_name).chain([PANIC_ERROR]).collect();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../statemachine");
    let mut definitions = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if !path.to_string_lossy().ends_with(".asl.json") {
            continue;
        }
        definitions += 1;
        let definition: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut names = Vec::new();
        error_equals(&definition, &mut names);
        for name in names {
            let predefined = name.starts_with("States.") || name.starts_with("Lambda.");
            assert!(predefined || answerable.contains(&name.as_str()), "{} matches {name:?}, which no function answers", path.display());
        }
    }
    assert!(definitions > 0, "no state machine definition in {dir}");
}

fn error_equals(value: &Value, names: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(list)) = map.get("ErrorEquals") {
                names.extend(list.iter().filter_map(Value::as_str).map(String::from));
            }
            map.values().for_each(|v| error_equals(v, names));
        }
        Value::Array(list) => list.iter().for_each(|v| error_equals(v, names)),
        _ => {}
    }
}

#[tokio::test]
async fn log_lines_carry_step_request_and_run_id() {
    let (logs, _guard) = capture();
    let account = account();
    let plan = handle(&account.session("plan_rehearsal"), Step::PlanRehearsal, event("req-plan", plan_input())).await.unwrap();
    let run_id = plan["run_id"].as_str().unwrap();

    let started = logs.line("step started");
    assert_eq!(started["level"], "INFO");
    assert_eq!(started["span"]["step"], "plan_rehearsal");
    assert_eq!(started["span"]["request_id"], "req-plan");
    let succeeded = logs.line("step succeeded");
    assert_eq!(succeeded["outcome"], "succeeded");
    // The plan step decides the run id; its last line carries it.
    assert_eq!(succeeded["span"]["run_id"], run_id);
    assert!(logs.lines().iter().all(|l| l.get("timestamp").is_none()), "CloudWatch stamps the lines");

    // A fresh capture for the second invocation (the first one's must end before).
    drop(_guard);
    let (logs, _guard) = capture();
    let input = json!({"plan": plan, "execution_start": "not a time"});
    let error = handle(&account.session("check_production_snapshot"), Step::CheckProductionSnapshot, event("req-check", input)).await;
    assert_eq!(error.unwrap_err().error_type, "MalformedInputError");
    let failed = logs.line("step failed");
    assert_eq!(failed["level"], "WARN");
    assert_eq!(failed["error_type"], "MalformedInputError");
    assert!(failed["error_message"].as_str().unwrap().starts_with("malformed step input: "), "{failed}");
    assert_eq!(failed["span"]["run_id"], run_id);
    assert_eq!(failed["span"]["request_id"], "req-check");
}

#[tokio::test]
async fn no_secret_reaches_a_log_line() {
    let planning = capture();
    let account = account();
    let plan = handle(&account.session("plan_rehearsal"), Step::PlanRehearsal, event("req-plan", plan_input())).await.unwrap();
    drop(planning);

    let (logs, _guard) = capture();
    // A payload that should never carry a secret, but does.
    let fake_secret = "sk_live_FAKE0123456789abcdefLEAK";
    let leaky = json!({"plan": plan, "stripe_secret_key": fake_secret});
    let error =
        handle(&account.session("write_staging_parameters"), Step::WriteStagingParameters, event("req-1", leaky)).await.unwrap_err();
    assert_eq!(error.error_type, "MalformedInputError");
    assert!(!error.error_message.contains(fake_secret), "{}", error.error_message);

    // The step that copies secret values from production to staging.
    let session = account.session("write_staging_parameters");
    let written = handle(&session, Step::WriteStagingParameters, event("req-2", json!({"plan": plan}))).await.unwrap();
    let plan: RunPlan = serde_json::from_value(plan).unwrap();
    let mut secrets = vec![fake_secret.to_string()];
    for key in written["arns"].as_object().unwrap().keys() {
        let parameter = session.get_parameter(&plan.staging_parameter(key)).await.unwrap().unwrap();
        secrets.push(parameter.value.expose().to_string());
    }
    assert!(secrets.len() > 3, "the step wrote {secrets:?}");

    let text = logs.text();
    assert_eq!(logs.lines().iter().filter(|l| l["message"] == "step succeeded").count(), 1, "{text}");
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "a secret value reached the logs:\n{text}");
    }
    // Neither payload is logged: the output's ARNs appear nowhere.
    for arn in written["arns"].as_object().unwrap().values() {
        assert!(!text.contains(arn.as_str().unwrap()), "{text}");
    }
}

#[test]
fn trace_events_are_dropped_whatever_the_filter_says() {
    let (logs, _guard) = capture();
    tracing::trace!(target: "lambda_runtime::layers::api_response", body = "{\"password\":\"hunter2\"}", "raw JSON event received from Lambda");
    tracing::debug!("debug is allowed");
    let text = logs.text();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("debug is allowed"), "{text}");
}

#[test]
fn unparsable_directives_fall_back_to_info() {
    let (captured, _logging) = capture_with("rehearsal=loud");
    tracing::info!("kept");
    tracing::debug!("dropped");
    assert_eq!(captured.lines().iter().map(|l| l["message"].as_str().unwrap().to_string()).collect::<Vec<_>>(), ["kept"]);
}
