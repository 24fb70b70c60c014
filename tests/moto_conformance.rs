//! The local ASL runner against moto's own Step Functions engine (moto 5.2.5, `execute_state_machine`):
//! the same definition, input and scripted Task results in both, comparing the states entered and
//! how the execution ended.
//!
//! How moto runs a Lambda Task: its engine calls Lambda's Invoke with boto3 at
//! `http://localhost:$MOTO_PORT` (moto/stepfunctions/parser/asl/utils/boto_client.py). moto's own
//! answer there cannot stand in for a script: without Docker it is the "lambda-simple" backend,
//! whose `/moto-api/static/lambda-simple/response` queue is one queue per account and region,
//! consumed in call order by every function (and Parallel branches call from concurrent
//! threads), and which always succeeds (no FunctionError, so no Catch or Retry can be scripted).
//! So moto runs here with MOTO_PORT pointing at [`LambdaFake`], which answers Invoke from the
//! very script the local runner's `ScriptedInvoker` plays (per function, in call order; an error
//! as Lambda reports it: `X-Amz-Function-Error` and the `{"errorType", "errorMessage"}` payload,
//! which Step Functions turns into Error and Cause). No Lambda function needs to exist in moto.
//!
//! Comparing: moto's history has no branch paths, and Parallel branches run concurrently, so the
//! states are compared per lane (the top level, or one branch of one Parallel): each lane's
//! sequence must be equal. Replies that a branch is still waiting for when a sibling fails are
//! scripted with a delay in both engines, so both cancel the branch at the same point. Both must
//! consume the same replies.
//!
//! moto's Wait states sleep for real: the scenarios that go through wait loops run the definition
//! with every Wait shortened to 1 s, in both engines (the local runner's clock is virtual anyway);
//! the others run it exactly as deployed and enter no Wait.
//!
//! Where moto diverges from AWS, the local runner follows AWS and the divergence is asserted as
//! such (so a moto upgrade that fixes it fails the test and shows what to update):
//! * JSONPath: moto wraps the value of a path whose last step is a child of an array index
//!   (`$[0].snapshot`, `$.a[0].b`) in a one-element list (`extract_json` in
//!   moto/stepfunctions/parser/asl/utils/json_path.py: the `context.path` is `Index` condition
//!   added for getmoto/moto#7825). The staging definition's Parallel ResultSelectors use exactly
//!   such paths, so in moto `$.prepared.snapshot`, `.database`, `.teardown`, `$.deployed.service`
//!   and `.webhook` are lists, and the first state reading through one
//!   (`ValidateStaging`: `$.deployed.service.url`) fails.
//! * A path that fails in a Task's Parameters is States.Runtime in AWS, which no Catch takes;
//!   moto reports it as error `Exception` and lets `Catch: States.ALL` handle it. So moto's happy
//!   path ends in the rollback, where AWS (and the local runner) run Summary and succeed.

use rehearsal_asl::RunOptions;
use rehearsal_aws::{load_config, StepFunctions};
use rehearsal_cli::asl_run::{run_paused, AslRun, AslRunResult, ExecutionStatus};
use rehearsal_cli::invoker::{function_arn, local_substitutions};
use rehearsal_cli::local::STAGING_DEFINITION;
use rehearsal_core::cloud::StateMachines;
use rehearsal_core::phase::{self, Phase, DB_INSTANCE, DB_SNAPSHOT};
use rehearsal_core::steps::Step;
use rehearsal_tests::http::{HttpServer, Request, Response};
use rehearsal_tests::moto::{set_sdk_environment, MotoServer};
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- the Lambda stand-in for moto

#[derive(Debug, Clone)]
struct Reply {
    /// The payload, and whether it is a function error.
    payload: String,
    error: bool,
    delay: Duration,
}

/// Lambda's Invoke (`POST /2015-03-31/functions/{name}/invocations`), answered from a script in
/// the `ScriptedInvoker` format.
struct LambdaFake {
    replies: Arc<Mutex<BTreeMap<String, VecDeque<Reply>>>>,
    server: HttpServer,
}

impl LambdaFake {
    fn start() -> Self {
        let replies: Arc<Mutex<BTreeMap<String, VecDeque<Reply>>>> = Arc::default();
        let queues = replies.clone();
        let server = HttpServer::start(move |request: Request| {
            let Some(function) = request.path().strip_prefix("/2015-03-31/functions/").and_then(|p| p.strip_suffix("/invocations")) else {
                return Response::json(404, &json!({"message": format!("not a Lambda Invoke: {} {}", request.method, request.target)}));
            };
            let function = percent_decode(function);
            let reply = queues.lock().unwrap_or_else(PoisonError::into_inner).get_mut(&function).and_then(VecDeque::pop_front);
            let Some(reply) = reply else {
                let payload = json!({"errorType": "NoScriptedReply", "errorMessage": format!("no reply left for {function}")});
                return Response::json(200, &payload).with_header("X-Amz-Function-Error", "Unhandled");
            };
            std::thread::sleep(reply.delay);
            let response = Response::new(200, "application/json", reply.payload);
            if reply.error {
                response.with_header("X-Amz-Function-Error", "Unhandled")
            } else {
                response
            }
        });
        Self { replies, server }
    }

    /// Loads `script`; an error's cause must be the Lambda error payload (see [`lambda_error`]).
    fn load(&self, script: &Value) {
        let mut queues = BTreeMap::new();
        for (function, entries) in script.as_object().expect("a script object") {
            let queue = entries
                .as_array()
                .expect("replies")
                .iter()
                .map(|entry| {
                    let delay = Duration::from_secs_f64(entry.get("delay_seconds").and_then(Value::as_f64).unwrap_or(0.0));
                    match (entry.get("result"), entry.get("cause")) {
                        (Some(result), _) => Reply { payload: result.to_string(), error: false, delay },
                        (None, Some(Value::String(cause))) => {
                            let payload: Value = serde_json::from_str(cause).expect("a scripted error's cause is Lambda's error payload");
                            assert_eq!(payload["errorType"], entry["error"], "the payload's errorType is the scripted error");
                            Reply { payload: cause.clone(), error: true, delay }
                        }
                        _ => panic!("unusable scripted reply {entry}"),
                    }
                })
                .collect();
            queues.insert(function.clone(), queue);
        }
        *self.replies.lock().unwrap_or_else(PoisonError::into_inner) = queues;
    }

    /// Replies not consumed, per function (functions with none left are omitted).
    fn unused(&self) -> BTreeMap<String, usize> {
        let queues = self.replies.lock().unwrap_or_else(PoisonError::into_inner);
        queues.iter().filter(|(_, q)| !q.is_empty()).map(|(f, q)| (f.clone(), q.len())).collect()
    }
}

fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text).decode_utf8().expect("a UTF-8 function name").into_owned()
}

// ---------------------------------------------------------------- moto with its engine switched on

struct Engines {
    lambda: LambdaFake,
    moto: MotoServer,
}

static ENGINES: OnceLock<Engines> = OnceLock::new();
static SERIAL: Mutex<()> = Mutex::new(());

/// The shared moto and its Lambda stand-in, held exclusively: the stand-in has one script.
fn engines() -> (MutexGuard<'static, ()>, &'static Engines) {
    let serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let engines = ENGINES.get_or_init(|| {
        set_sdk_environment();
        let lambda = LambdaFake::start();
        let moto = MotoServer::start(&[("MOTO_PORT", lambda.server.port().to_string())]);
        // Before anything is created: the backend that executes is chosen per call from this.
        moto.configure(&json!({"stepfunctions": {"execute_state_machine": true}}));
        Engines { lambda, moto }
    });
    (serial, engines)
}

/// How moto's execution ended and which states it entered, in history order.
#[derive(Debug)]
struct MotoRun {
    entered: Vec<String>,
    status: ExecutionStatus,
    output: Option<Value>,
    error: Option<String>,
    cause: Option<String>,
    /// Every state's input as moto passed it, by state name (the last entry wins).
    inputs: BTreeMap<String, Value>,
}

async fn run_in_moto(engines: &Engines, name: &str, definition: &str, input: &Value) -> MotoRun {
    let sfn = StepFunctions::new(&load_config(Some(&engines.moto.endpoint())).await);
    let machine = sfn
        .client
        .create_state_machine()
        .name(name)
        .definition(definition)
        .role_arn("arn:aws:iam::123456789012:role/rehearsal-states")
        .send()
        .await
        .unwrap_or_else(|e| panic!("moto refused the definition: {e:?}"));
    let started = sfn.start_execution(machine.state_machine_arn(), name, &input.to_string()).await.expect("the execution starts");
    // DescribeExecution answers 500 once the output holds a timestamp, so the history it is.
    let deadline = Instant::now() + Duration::from_secs(60);
    let events = loop {
        let events = sfn.sdk_history(&started.execution_arn).await.expect("the history");
        if events.iter().any(|e| e.execution_succeeded_event_details().is_some() || e.execution_failed_event_details().is_some()) {
            break events;
        }
        let kinds: Vec<&str> = events.iter().map(|e| e.r#type().as_str()).collect();
        assert!(Instant::now() < deadline, "moto's execution did not finish within a minute: {kinds:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut run =
        MotoRun { entered: vec![], status: ExecutionStatus::Failed, output: None, error: None, cause: None, inputs: BTreeMap::new() };
    for event in &events {
        if let Some(entered) = event.state_entered_event_details() {
            run.entered.push(entered.name().to_string());
            let input = entered.input().and_then(|i| serde_json::from_str(i).ok()).unwrap_or(Value::Null);
            run.inputs.insert(entered.name().to_string(), input);
        }
        if let Some(succeeded) = event.execution_succeeded_event_details() {
            run.status = ExecutionStatus::Succeeded;
            run.output = succeeded.output().map(|o| serde_json::from_str(o).expect("JSON output"));
        }
        if let Some(failed) = event.execution_failed_event_details() {
            run.error = failed.error().map(str::to_string);
            run.cause = failed.cause().map(str::to_string);
        }
    }
    run
}

// ---------------------------------------------------------------- one scenario in both engines

struct Compared {
    local: AslRunResult,
    moto: MotoRun,
    /// Replies moto's execution left unused.
    moto_unused: BTreeMap<String, usize>,
    /// State name → its lane: `""` at the top level, `Parallel/i` in a branch.
    lanes: BTreeMap<String, String>,
}

impl Compared {
    fn local_lanes(&self) -> BTreeMap<String, Vec<String>> {
        let mut lanes: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for entry in &self.local.states {
            let (lane, name) = entry.rsplit_once('/').map_or(("", entry.as_str()), |(lane, name)| (lane, name));
            lanes.entry(lane.to_string()).or_default().push(name.to_string());
        }
        lanes
    }

    fn moto_lanes(&self) -> BTreeMap<String, Vec<String>> {
        let mut lanes: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for name in &self.moto.entered {
            let lane = self.lanes.get(name).unwrap_or_else(|| panic!("moto entered {name}, which the definition does not have"));
            lanes.entry(lane.clone()).or_default().push(name.clone());
        }
        lanes
    }

    /// Both engines entered the same states per lane, ended alike and used the same replies.
    fn assert_conforms(&self) {
        assert_eq!(self.local_lanes(), self.moto_lanes(), "states entered per lane (left: local, right: moto)");
        assert_eq!(self.local.status, self.moto.status, "status");
        assert_eq!(self.local.output, self.moto.output, "output");
        assert_eq!(self.local.error, self.moto.error, "error");
        assert_eq!(self.local.cause, self.moto.cause, "cause");
        assert_eq!(self.local.unused_replies, self.moto_unused, "replies left unused");
    }
}

fn walk_lanes(states: &Value, lane: &str, out: &mut BTreeMap<String, String>) {
    for (name, state) in states.as_object().expect("States") {
        out.insert(name.clone(), lane.to_string());
        for (i, branch) in state.get("Branches").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let branch_lane = if lane.is_empty() { format!("{name}/{i}") } else { format!("{lane}/{name}/{i}") };
            walk_lanes(&branch["States"], &branch_lane, out);
        }
    }
}

fn shorten_waits(states: &mut Value) {
    for state in states.as_object_mut().expect("States").values_mut() {
        if state["Type"] == "Wait" && state.get("Seconds").is_some() {
            state["Seconds"] = json!(1);
        }
        for branch in state.get_mut("Branches").and_then(Value::as_array_mut).into_iter().flatten() {
            shorten_waits(&mut branch["States"]);
        }
    }
}

/// Runs `definition` (with `${…}` placeholders) on `input` and `script` in the local runner (as
/// `rehearsal asl run` does) and in moto.
fn compare_definition(name: &str, definition: &str, input: Value, script: Value) -> Compared {
    let substitutions = local_substitutions();
    let local = run_paused(
        &AslRun { definition: definition.to_string(), input: input.clone(), tasks: script.clone(), substitutions: substitutions.clone() },
        &RunOptions::default(),
    )
    .expect("the local runner runs the definition");

    let (_serial, engines) = engines();
    engines.lambda.load(&script);
    let text = rehearsal_asl::substitute(definition, &substitutions).expect("every placeholder has a value");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    let moto = runtime.block_on(run_in_moto(engines, name, &text, &input));
    let mut lanes = BTreeMap::new();
    walk_lanes(&serde_json::from_str::<Value>(&text).expect("JSON")["States"], "", &mut lanes);
    Compared { local, moto, moto_unused: engines.lambda.unused(), lanes }
}

/// The staging definition as deployed, or with every Wait at 1 s.
fn compare(name: &str, short_waits: bool, script: Value) -> Compared {
    let definition = if short_waits {
        let mut definition: Value = serde_json::from_str(STAGING_DEFINITION).expect("JSON");
        shorten_waits(&mut definition["States"]);
        definition.to_string()
    } else {
        STAGING_DEFINITION.to_string()
    };
    compare_definition(name, &definition, json!({"app": "tableicty"}), script)
}

// ---------------------------------------------------------------- scripted step results

fn ok(result: Value) -> Value {
    json!({"result": result})
}

/// A reply that arrives after `seconds` (virtual locally, real in moto).
fn ok_after(seconds: f64, result: Value) -> Value {
    json!({"result": result, "delay_seconds": seconds})
}

/// A function error as Lambda reports it: Step Functions' Error is `errorType`, its Cause the
/// payload (compact JSON, ASCII, so both engines see the same text).
fn lambda_error(error_type: &str, message: &str) -> Value {
    let payload = format!("{{\"errorType\":{},\"errorMessage\":{}}}", json!(error_type), json!(message));
    json!({"error": error_type, "cause": payload})
}

const DEADLINE: &str = "2026-11-24T10:00:00Z";

fn plan() -> Value {
    json!({
        "run_id": "tableicty-20261124",
        "app": "tableicty",
        "secret_key": {"source": "copy", "exposes": "production's SECRET_KEY"},
        "release": {"backend": "apprunner", "requested_image": null, "image": null, "branch": "main"},
        "staging_db": {"restore_from_backups": false, "clone_cluster": false, "snapshot_cluster": false, "prewarm": {"enabled": false}},
        "frontend_distribution": false,
    })
}

/// A check's answer, with the phase the Choices test computed as the step computes it.
fn snapshot(status: &str, timed_out: bool) -> Value {
    json!({
        "snapshot_id": "tableicty-production-backup-20261124",
        "status": status,
        "phase": DB_SNAPSHOT.of(status),
        "deadline": DEADLINE,
        "timed_out": timed_out
    })
}

fn database(status: &str, timed_out: bool) -> Value {
    let endpoint =
        (status == "available").then(|| json!({"address": "tableicty-staging-db.abc.us-east-1.rds.amazonaws.com", "port": 5432}));
    json!({
        "instance_id": "tableicty-staging-db",
        "status": status,
        "phase": DB_INSTANCE.of(status),
        "endpoint": endpoint,
        "deadline": DEADLINE,
        "timed_out": timed_out
    })
}

fn arns(keys: &[&str]) -> Value {
    let arns: BTreeMap<&str, String> =
        keys.iter().map(|k| (*k, format!("arn:aws:ssm:us-east-1:123456789012:parameter/tableicty/staging/{k}"))).collect();
    json!({"arns": arns})
}

/// The staging frontend's copy, done in one call.
fn frontend_copied() -> Value {
    json!({"bucket": "tableicty-staging", "copied": 5, "next_token": null, "done": true, "reused": false})
}

fn teardown() -> Value {
    json!({"schedule": "tableicty-20261124-teardown", "at": "2026-11-25T09:00:00Z"})
}

fn service(status: &str, operation_status: &str, timed_out: bool) -> Value {
    json!({
        "arn": "arn:aws:apprunner:us-east-1:123456789012:service/tableicty-staging-backend/0123",
        "name": "tableicty-staging-backend",
        "url": "abc123.us-east-1.awsapprunner.com",
        "status": status,
        "operation_id": "op-1",
        "operation_status": operation_status,
        "phase": phase::deployment(status, operation_status),
        "deadline": DEADLINE,
        "timed_out": timed_out
    })
}

fn checks(name: &str) -> Value {
    json!({"checks": [{"name": name, "passed": true, "expected": "x", "found": "x"}]})
}

fn rollback(complete: bool, attempts: u32) -> Value {
    let pending = if complete { json!([]) } else { json!(["db:tableicty-staging-db"]) };
    let phase = if complete { Phase::Ready } else { Phase::InProgress };
    // `attempts_allowed` for the default timeouts: restore 90 minutes, plus 30, every 30 s.
    let timed_out = !complete && attempts >= 240;
    let remedy =
        "the teardown schedule rehearsal/rehearsal-teardown-tableicty-20261124 is kept and tears it down at 2026-11-25 09:00:00 UTC";
    json!({"complete": complete, "phase": phase, "attempts": attempts, "timed_out": timed_out, "pending": pending, "failed": [], "remedy": remedy})
}

fn lease_taken() -> Value {
    let holder = json!({"execution_arn": "arn:aws:states:us-east-1:123456789012:execution:staging:run", "run_id": "tableicty-20261124",
        "started_at": "2026-11-24T09:00:00Z"});
    json!({"parameter": "/rehearsal/leases/tableicty/staging", "holder": holder, "taken_over": null})
}

/// A rollback's replies, then the release of the lease once it is complete.
fn rolled_back(replies: Vec<Value>) -> [(Step, Vec<Value>); 2] {
    let released = json!({"parameter": "/rehearsal/leases/tableicty/staging", "released": true, "holder": null});
    [(Step::RollbackStaging, replies), (Step::ReleaseStagingLease, vec![ok(released)])]
}

/// Script entries keyed by the step's function ARN.
fn script(entries: Vec<(Step, Vec<Value>)>) -> Value {
    Value::Object(entries.into_iter().map(|(step, replies)| (function_arn(step), Value::Array(replies))).collect())
}

/// PrepareStaging up to a database failure or success, with the two side branches answering late
/// when `slow_siblings` (so a failing database branch cancels them mid-call in both engines).
fn prepare(snapshot_replies: Vec<Value>, slow_siblings: bool) -> Vec<(Step, Vec<Value>)> {
    let sibling = |result: Value| if slow_siblings { ok_after(2.0, result) } else { ok(result) };
    let mut replies = vec![
        (Step::PlanRehearsal, vec![ok(plan())]),
        (Step::TakeStagingLease, vec![ok(lease_taken())]),
        (Step::SnapshotProductionDatabase, snapshot_replies),
        (Step::WriteStagingParameters, vec![sibling(arns(&["SECRET_KEY", "PGCRYPTO_KEY"]))]),
        (Step::RegisterStripeWebhook, vec![ok(webhook())]),
        (Step::ScheduleStagingTeardown, vec![sibling(teardown())]),
        (Step::CopyStagingFrontend, vec![sibling(frontend_copied())]),
    ];
    if !slow_siblings {
        replies.push((Step::RestoreStagingDatabase, vec![ok(database("available", false))]));
        replies.push((Step::WriteStagingDatabaseUrl, vec![ok(arns(&["DATABASE_URL"]))]));
        replies.push((Step::ResetStagingDatabasePassword, vec![ok(database("available", false))]));
        replies.extend(masked());
    }
    replies
}

/// What `register_stripe_webhook` answers (and `point_stripe_webhook`, with the service's URL).
fn webhook() -> Value {
    json!({"webhook_id": "we_123", "url": "https://tableicty-staging.s3.amazonaws.com/stripe/webhook", "replaced": [],
        "arns": {"STRIPE_WEBHOOK_SECRET": "arn:aws:ssm:us-east-1:123456789012:parameter/tableicty/staging/STRIPE_WEBHOOK_SECRET"}})
}

/// The masking step's and its check's replies.
fn masked() -> [(Step, Vec<Value>); 2] {
    let report = json!({"enabled": true, "tables": [{"table": "auth_user", "columns": ["email"], "already_masked": [], "rows_masked": 2,
        "rows_kept": 1}], "rows_masked": 2, "started_at": "2026-11-24T09:22:00Z", "seconds": 3});
    let checks = json!({"checks": [{"name": "masking_verified: auth_user.email", "passed": true, "expected": "none of 2 sampled production values",
        "found": "0 remain"}]});
    [(Step::MaskStagingDatabase, vec![ok(report)]), (Step::VerifyMasking, vec![ok(checks)])]
}

/// A branch-0 reply that comes after its siblings entered their first state.
/// A reply (a result or an error) that arrives after its siblings entered their first state.
fn after_siblings(mut reply: Value) -> Value {
    reply["delay_seconds"] = json!(0.3);
    reply
}

fn after_siblings_entered(result: Value) -> Value {
    after_siblings(ok(result))
}

// ---------------------------------------------------------------- scenarios

#[test]
fn happy_path_matches_until_moto_reads_through_a_wrapped_parallel_result() {
    let mut entries = prepare(vec![ok(snapshot("available", false))], false);
    entries.extend([
        (Step::CreateStagingService, vec![ok(service("OPERATION_IN_PROGRESS", "SUCCEEDED", false))]),
        (Step::PointStripeWebhook, vec![ok(webhook())]),
        (
            Step::ConfigureStagingFrontend,
            vec![ok(
                json!({"bucket": "tableicty-staging", "config_key": "config.json", "api_url": "https://abc123.us-east-1.awsapprunner.com"}),
            )],
        ),
        (Step::PublishFrontendUrl, vec![ok(service("RUNNING", "SUCCEEDED", false))]),
        (Step::VerifyStagingMigrations, vec![ok(checks("tenant tables exist"))]),
        (Step::TriggerStagingBackfill, vec![ok(json!({"response": {"status": 200, "tenants": 1}}))]),
        (Step::VerifyStagingBackfill, vec![ok(checks("default tenant exists"))]),
        (Step::ValidateStaging, vec![ok(checks("health endpoint returns 200"))]),
    ]);
    // Used by moto only: its execution ends in the rollback (see below).
    entries.extend(rolled_back(vec![ok(rollback(true, 1))]));
    let run = compare("happy-path", false, script(entries));

    // The local runner: AWS semantics, straight through to Summary.
    assert_eq!(run.local.status, ExecutionStatus::Succeeded, "{:?} {:?}", run.local.error, run.local.cause);
    let output = run.local.output.as_ref().unwrap();
    assert_eq!(output["staging_url"], "https://abc123.us-east-1.awsapprunner.com");
    assert_eq!(output["snapshot_id"], "tableicty-production-backup-20261124");
    assert_eq!(output["database_endpoint"]["port"], 5432);
    assert_eq!(output["stripe_webhook_id"], "we_123");
    assert_eq!(output["release"]["branch"], "main", "the output says what a promotion deploys");
    assert_eq!(output["teardown"], teardown());
    assert_eq!(
        run.local.unused_replies,
        BTreeMap::from([(function_arn(Step::RollbackStaging), 1), (function_arn(Step::ReleaseStagingLease), 1)])
    );

    // Every branch lane is the same in both; the top level is the same up to ValidateStaging.
    let (local, moto) = (run.local_lanes(), run.moto_lanes());
    for lane in ["PrepareStaging/0", "PrepareStaging/1", "PrepareStaging/2", "DeployedChecks/0", "DeployedChecks/1"] {
        assert_eq!(local.get(lane), moto.get(lane), "lane {lane}");
    }
    let top = &local[""];
    assert_eq!(top.last().map(String::as_str), Some("Summary"));
    let validate = top.iter().position(|s| s == "ValidateStaging").unwrap();
    assert_eq!(moto[""][..=validate], top[..=validate]);

    // moto: the ResultSelectors' `$[0].x` values arrive as one-element lists…
    assert!(run.moto.inputs["CreateStagingService"]["prepared"]["snapshot"].is_array(), "{}", run.moto.inputs["CreateStagingService"]);
    assert!(run.moto.inputs["ValidateStaging"]["deployed"]["service"].is_array());
    // …so ValidateStaging's `$.deployed.service.url` finds nothing, which moto reports as a
    // catchable `Exception` (AWS: States.Runtime, never caught): the Catch starts the rollback.
    assert_eq!(moto[""][validate + 1..], ["StartRollback", "RollbackStaging", "IsRollbackComplete", "ReleaseStagingLease", "RolledBack"]);
    assert_eq!(run.moto.error.as_deref(), Some("Exception"));
    assert!(
        run.moto.cause.as_deref().unwrap().starts_with("The JSONPath '$.deployed.service.url' could not be found in the input"),
        "{:?}",
        run.moto.cause
    );
    // moto never called ValidateStaging's function: the path failed before the call.
    assert_eq!(run.moto_unused, BTreeMap::from([(function_arn(Step::ValidateStaging), 1)]));
}

#[test]
fn a_planning_failure_after_a_throttled_retry_fails_without_rollback() {
    let run = compare(
        "planning-failed",
        false,
        script(vec![(
            Step::PlanRehearsal,
            vec![
                lambda_error("ThrottledError", "throttled by DescribeDBInstances"),
                lambda_error("InvalidInputError", "invalid input: field `app`: empty"),
            ],
        )]),
    );
    run.assert_conforms();
    assert_eq!(run.local.states, ["PlanRehearsal", "PlanningFailed"]);
    assert_eq!(run.local.error.as_deref(), Some("InvalidInputError"));
}

#[test]
fn a_failed_snapshot_stops_the_branch_and_rolls_back() {
    let mut entries = prepare(vec![after_siblings_entered(snapshot("failed", false))], true);
    entries.extend(rolled_back(vec![ok(rollback(true, 1))]));
    let run = compare("snapshot-failed", false, script(entries));
    run.assert_conforms();
    assert_eq!(run.local.error.as_deref(), Some("SnapshotFailedError"));
    assert_eq!(run.local.cause.as_deref(), Some("production snapshot tableicty-production-backup-20261124 ended in status failed"));
    assert!(run.local.states.contains(&"PrepareStaging/0/StopDatabaseBranch".to_string()));
    assert_eq!(run.local.states.last().map(String::as_str), Some("RolledBack"));
}

#[test]
fn a_snapshot_past_its_deadline_times_out() {
    let mut entries = prepare(vec![after_siblings_entered(snapshot("creating", true))], true);
    entries.extend(rolled_back(vec![ok(rollback(true, 1))]));
    let run = compare("snapshot-timed-out", false, script(entries));
    run.assert_conforms();
    assert_eq!(run.local.error.as_deref(), Some("SnapshotTimedOutError"));
    assert!(run.local.states.contains(&"PrepareStaging/0/SnapshotTimedOut".to_string()));
}

fn database_ends(name: &str, database_result: Value) -> Compared {
    let mut entries = prepare(vec![ok(snapshot("available", false))], true);
    entries.push((Step::RestoreStagingDatabase, vec![after_siblings_entered(database_result)]));
    entries.extend(rolled_back(vec![ok(rollback(true, 1))]));
    compare(name, false, script(entries))
}

#[test]
fn a_failed_restore_stops_the_branch_and_rolls_back() {
    let run = database_ends("database-failed", database("incompatible-restore", false));
    run.assert_conforms();
    assert_eq!(run.local.error.as_deref(), Some("DatabaseFailedError"));
    assert_eq!(run.local.cause.as_deref(), Some("staging database tableicty-staging-db ended in status incompatible-restore"));
}

#[test]
fn a_restore_past_its_deadline_times_out() {
    let run = database_ends("database-timed-out", database("creating", true));
    run.assert_conforms();
    assert_eq!(run.local.error.as_deref(), Some("DatabaseTimedOutError"));
}

#[test]
fn every_wait_loop_of_the_build_then_a_failed_service_and_a_second_rollback_pass() {
    let mut entries = vec![
        (Step::PlanRehearsal, vec![ok(plan())]),
        (Step::TakeStagingLease, vec![ok(lease_taken())]),
        (Step::SnapshotProductionDatabase, vec![ok(snapshot("creating", false))]),
        (Step::CheckProductionSnapshot, vec![ok(snapshot("available", false))]),
        (Step::RestoreStagingDatabase, vec![ok(database("creating", false))]),
        // The restore's loop, then the password reset's.
        (Step::CheckStagingDatabase, vec![ok(database("available", false)), ok(database("available", false))]),
        (Step::WriteStagingDatabaseUrl, vec![ok(arns(&["DATABASE_URL"]))]),
        (Step::ResetStagingDatabasePassword, vec![ok(database("resetting-master-credentials", false))]),
        (Step::WriteStagingParameters, vec![ok(arns(&["SECRET_KEY"]))]),
        (Step::RegisterStripeWebhook, vec![ok(webhook())]),
        (Step::ScheduleStagingTeardown, vec![ok(teardown())]),
        (Step::CopyStagingFrontend, vec![ok(frontend_copied())]),
        (Step::CreateStagingService, vec![ok(service("OPERATION_IN_PROGRESS", "IN_PROGRESS", false))]),
        (Step::CheckStagingService, vec![ok(service("CREATE_FAILED", "FAILED", false))]),
    ];
    entries.extend(masked());
    entries.extend(rolled_back(vec![ok(rollback(false, 1)), ok(rollback(true, 2))]));
    let run = compare("wait-loops", true, script(entries));
    run.assert_conforms();
    assert_eq!(run.local.error.as_deref(), Some("ServiceFailedError"));
    assert_eq!(run.local.cause.as_deref(), Some("service tableicty-staging-backend ended CREATE_FAILED (operation FAILED)"));
    for wait in [
        "PrepareStaging/0/WaitForSnapshot",
        "PrepareStaging/0/WaitForDatabase",
        "PrepareStaging/0/WaitForPasswordReset",
        "WaitForService",
        "WaitBeforeRollingBackAgain",
    ] {
        assert!(run.local.states.contains(&wait.to_string()), "{wait} not in {:?}", run.local.states);
    }
}

fn through_service(service_replies: Vec<Value>) -> Vec<(Step, Vec<Value>)> {
    let mut entries = prepare(vec![ok(snapshot("available", false))], false);
    entries.push((Step::CreateStagingService, service_replies));
    entries
}

#[test]
fn a_service_past_its_deadline_times_out_and_rolls_back() {
    let mut entries = through_service(vec![ok(service("OPERATION_IN_PROGRESS", "IN_PROGRESS", true))]);
    entries.extend(rolled_back(vec![ok(rollback(true, 1))]));
    let run = compare("service-timed-out", false, script(entries));
    run.assert_conforms();
    assert_eq!(run.local.error.as_deref(), Some("ServiceTimedOutError"));
}

#[test]
fn a_redeploy_that_rolled_back_fails_its_branch_and_rolls_staging_back() {
    let mut entries = through_service(vec![ok(service("RUNNING", "SUCCEEDED", false))]);
    entries.extend([
        (Step::PointStripeWebhook, vec![after_siblings_entered(webhook())]),
        (
            Step::ConfigureStagingFrontend,
            vec![ok(
                json!({"bucket": "tableicty-staging", "config_key": "config.json", "api_url": "https://abc123.us-east-1.awsapprunner.com"}),
            )],
        ),
        (Step::PublishFrontendUrl, vec![ok(service("RUNNING", "IN_PROGRESS", false))]),
        (Step::CheckStagingService, vec![ok(service("RUNNING", "ROLLBACK_SUCCEEDED", false))]),
        // Still checking migrations when the redeploy branch fails (after its 1 s wait).
        (Step::VerifyStagingMigrations, vec![ok_after(4.0, checks("tenant tables exist"))]),
    ]);
    entries.extend(rolled_back(vec![ok(rollback(true, 1))]));
    let run = compare("redeploy-rolled-back", true, script(entries));
    run.assert_conforms();
    assert_eq!(run.local.error.as_deref(), Some("DeploymentFailedError"));
    assert_eq!(run.local.cause.as_deref(), Some("deployment op-1 of tableicty-staging-backend ended ROLLBACK_SUCCEEDED (service RUNNING)"));
    assert!(run.local.states.contains(&"DeployedChecks/0/WaitForRedeploy".to_string()));
}

#[test]
fn a_failed_check_rolls_staging_back_and_fails_with_the_check() {
    let mut entries = through_service(vec![ok(service("RUNNING", "SUCCEEDED", false))]);
    entries.extend([
        // Still pointing the webhook at the service when the migration check fails.
        (Step::PointStripeWebhook, vec![ok_after(2.0, webhook())]),
        (
            Step::ConfigureStagingFrontend,
            vec![ok(
                json!({"bucket": "tableicty-staging", "config_key": "config.json", "api_url": "https://abc123.us-east-1.awsapprunner.com"}),
            )],
        ),
        // Failing once the third branch entered too (the local engine enters branches in order).
        (
            Step::VerifyStagingMigrations,
            vec![after_siblings(lambda_error("CheckFailedError", "check failed: tenant tables exist: missing core_tenant"))],
        ),
    ]);
    entries.extend(rolled_back(vec![ok(rollback(true, 1))]));
    let run = compare("check-failed", false, script(entries));
    run.assert_conforms();
    assert_eq!(run.local.error.as_deref(), Some("CheckFailedError"));
    assert_eq!(run.local.states.last().map(String::as_str), Some("RolledBack"));
}

#[test]
fn with_prewarm_on_the_warm_up_runs_after_the_masking_check_and_its_failure_rolls_back() {
    let mut entries = prepare(vec![ok(snapshot("available", false))], false);
    let mut warmed_plan = plan();
    warmed_plan["staging_db"]["prewarm"] = json!({"enabled": true, "max_seconds": 300, "tables": 5});
    entries.retain(|(step, _)| *step != Step::PlanRehearsal);
    entries.push((Step::PlanRehearsal, vec![ok(warmed_plan)]));
    // It fails once its siblings entered their first state, as in both engines' other scenarios.
    let mut failed = lambda_error("CheckFailedError", "check failed: warming the staging database");
    failed["delay_seconds"] = json!(0.3);
    entries.push((Step::PrewarmStagingDatabase, vec![failed]));
    entries.extend(rolled_back(vec![ok(rollback(true, 1))]));
    let run = compare("prewarm-failed", false, script(entries));
    run.assert_conforms();
    assert_eq!(run.local.error.as_deref(), Some("CheckFailedError"));
    let lane = &run.local_lanes()["PrepareStaging/0"];
    assert_eq!(lane[lane.len() - 3..], ["VerifyMasking", "IsPrewarmOn", "PrewarmStagingDatabase"]);
    assert_eq!(run.local.states.last().map(String::as_str), Some("RolledBack"));
}

#[test]
fn a_rollback_that_gives_up_keeps_the_original_cause() {
    let mut entries = prepare(vec![after_siblings_entered(snapshot("failed", false))], true);
    entries.push((Step::RollbackStaging, vec![ok(rollback(false, 240))]));
    let run = compare("rollback-incomplete", false, script(entries));
    run.assert_conforms();
    assert_eq!(run.local.error.as_deref(), Some("RollbackIncompleteError"));
    assert_eq!(
        run.local.cause.as_deref(),
        Some(
            "rollback gave up with resources left: [\"db:tableicty-staging-db\"] []; the teardown schedule \
             rehearsal/rehearsal-teardown-tableicty-20261124 is kept and tears it down at 2026-11-25 09:00:00 UTC. \
             It started after: production snapshot tableicty-production-backup-20261124 ended in status failed"
        )
    );
}

#[test]
fn a_rollback_that_itself_fails_names_both_causes() {
    let mut entries = prepare(vec![after_siblings_entered(snapshot("failed", false))], true);
    entries.push((Step::RollbackStaging, vec![lambda_error("FatalError", "DeleteDBInstance failed: AccessDenied")]));
    let run = compare("rollback-failed", false, script(entries));
    run.assert_conforms();
    assert_eq!(run.local.error.as_deref(), Some("RollbackFailedError"));
    assert!(
        run.local.cause.as_deref().unwrap().starts_with("rollback itself failed: {\"errorType\":\"FatalError\""),
        "{:?}",
        run.local.cause
    );
}

// ---------------------------------------------------------------- the two divergences, alone

const WORK: &str = "${RollbackStagingFunctionArn}";

#[test]
fn divergence_moto_wraps_a_child_of_an_array_index_in_a_list() {
    let definition = json!({
        "StartAt": "Both",
        "States": {"Both": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": {"n": 1}, "ResultPath": "$.a", "End": true}}},
                {"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": [7, 8], "End": true}}}
            ],
            "ResultSelector": {"child.$": "$[0].a", "grandchild.$": "$[0].a.n", "element.$": "$[1][0]"},
            "End": true
        }}
    });
    let run = compare_definition("jsonpath-index-child", &definition.to_string(), json!({}), json!({}));
    assert_eq!(run.local_lanes(), run.moto_lanes());
    // AWS: `$[0].a` is the object.
    assert_eq!(run.local.output, Some(json!({"child": {"n": 1}, "grandchild": 1, "element": 7})));
    // moto: only the direct child of the index step is wrapped.
    assert_eq!(run.moto.output, Some(json!({"child": [{"n": 1}], "grandchild": 1, "element": 7})));
}

#[test]
fn divergence_moto_lets_a_catch_take_a_parameters_path_failure() {
    let definition = json!({
        "StartAt": "Work",
        "States": {
            "Work": {
                "Type": "Task", "Resource": WORK, "Parameters": {"id.$": "$.missing"},
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": true
            },
            "Caught": {"Type": "Pass", "End": true}
        }
    });
    let run = compare_definition("parameters-path-failure", &definition.to_string(), json!({"present": 1}), json!({}));
    // AWS: States.Runtime, which no Catch takes; the function is never called.
    assert_eq!(run.local.states, ["Work"]);
    assert_eq!(run.local.error.as_deref(), Some("States.Runtime"));
    assert!(run.local.cause.as_deref().unwrap().contains("$.missing"), "{:?}", run.local.cause);
    // moto: error `Exception`, caught.
    assert_eq!(run.moto.entered, ["Work", "Caught"]);
    assert_eq!(run.moto.status, ExecutionStatus::Succeeded);
    assert_eq!(run.moto.output.as_ref().unwrap()["Error"], "Exception");
}
