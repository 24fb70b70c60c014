//! The API handler against moto's Step Functions (with its ASL engine on, so executions run,
//! wait and take task tokens) and Parameter Store (`bash scripts/install-moto.sh`). Requests are
//! HTTP API (payload 2.0) events, as API Gateway sends them to the function.
//!
//! The state machines are small stand-ins with the shapes the API relies on: the staging machine's
//! first state `PlanRehearsal` answers `{"plan": …}`, and a promotion waits in `WaitForApproval`
//! (as the promote machine does between looks at its decision parameter).

use lambda_http::{Body, Request};
use rehearsal_api::{Api, Config};
use rehearsal_aws::{load_config, AwsCloud, StepFunctions};
use rehearsal_core::cloud::{CloudResult, ExecutionInfo, Executions, HistoryEvent, ParameterStore, StartedExecution, StateMachines};
use rehearsal_core::lease::{lease_parameter, Lease, LeasedEnvironment};
use rehearsal_core::plan::RunPlan;
use rehearsal_core::promotion::{approval_parameter, ApprovalDecision, Verdict};
use rehearsal_core::steps::lease::{take_staging_lease, TakeStagingLeaseInput};
use rehearsal_core::steps::plan_rehearsal::{plan_rehearsal, PlanInput};
use rehearsal_core::{CloudError, CloudErrorKind, StepError};
use rehearsal_moto::{moto, Moto};
use rehearsal_sim::seed::stack_settings;
use rehearsal_sim::{SimAccount, SimConfig};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const RUN_ID: &str = "tableicty-20251225090000-9ad76926";
const OPERATOR: &str = "arn:aws:iam::123456789012:user/operator";
/// Someone other than the operator who asks for promotions.
const APPROVER: &str = "arn:aws:iam::123456789012:user/approver";

/// The SDK client, counting every call. moto has no RedriveExecution: redrives are answered
/// here with Step Functions' rule (only a failed, timed-out or aborted execution; else
/// `ExecutionNotRedrivable`) and recorded; the adapter's request is checked against
/// aws-smithy-mocks (crates/aws/tests/sfn.rs), a redrive's run by the local runner (tests/redrive.rs).
struct Counting {
    inner: StepFunctions,
    calls: AtomicUsize,
    redriven: Mutex<Vec<(String, String)>>,
}

impl Counting {
    fn count(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn tick(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }
}

impl Executions for Counting {
    async fn describe_execution(&self, execution_arn: &str) -> CloudResult<Option<ExecutionInfo>> {
        self.tick();
        self.inner.describe_execution(execution_arn).await
    }
}

impl StateMachines for Counting {
    async fn start_execution(&self, state_machine_arn: &str, name: &str, input: &str) -> CloudResult<StartedExecution> {
        self.tick();
        self.inner.start_execution(state_machine_arn, name, input).await
    }

    async fn execution_history(&self, execution_arn: &str) -> CloudResult<Vec<HistoryEvent>> {
        self.tick();
        self.inner.execution_history(execution_arn).await
    }

    async fn running_executions(&self, state_machine_arn: &str) -> CloudResult<Vec<String>> {
        self.tick();
        self.inner.running_executions(state_machine_arn).await
    }

    async fn redrive_execution(&self, execution_arn: &str, client_token: &str) -> CloudResult<Option<chrono::DateTime<chrono::Utc>>> {
        self.tick();
        let status = self.inner.describe_execution(execution_arn).await?.map(|e| e.status);
        match status.as_deref() {
            Some("FAILED" | "TIMED_OUT" | "ABORTED") => {}
            Some(other) => {
                return Err(CloudError::new(CloudErrorKind::InvalidState, "ExecutionNotRedrivable", format!("Execution is {other}")))
            }
            None => return Err(CloudError::new(CloudErrorKind::NotFound, "ExecutionDoesNotExist", execution_arn)),
        }
        self.redriven.lock().unwrap().push((execution_arn.to_string(), client_token.to_string()));
        Ok(Some(chrono::Utc::now()))
    }
}

/// The plan a staging run makes, as far as the API reads it.
fn plan() -> Value {
    json!({
        "run_id": RUN_ID,
        "app": "tableicty",
        "staging_db": { "instance_id": "tableicty-staging-db" },
        "service": { "source": { "code": { "repository": { "repository_url": "https://github.com/tableicty/backend", "branch": "release-42" } } } }
    })
}

fn planned_then(next: Value) -> Value {
    let mut states = json!({
        "PlanRehearsal": { "Type": "Pass", "Result": { "plan": plan() }, "ResultPath": "$", "Next": "Then" }
    });
    states["Then"] = next;
    json!({ "StartAt": "PlanRehearsal", "States": states })
}

/// Plans, then reports as the real Summary state does.
fn succeeding() -> Value {
    planned_then(json!({
        "Type": "Pass",
        "Parameters": { "run_id.$": "$.plan.run_id", "checks": { "validation": [{ "name": "health", "passed": true }] } },
        "End": true
    }))
}

/// Plans, then waits an hour: a running staging execution.
fn waiting() -> Value {
    planned_then(json!({ "Type": "Wait", "Seconds": 3600, "End": true }))
}

/// Plans, then ends as a rolled-back run does: failed with the step's error as its cause.
fn rolled_back() -> Value {
    planned_then(json!({
        "Type": "Fail",
        "Error": "CheckFailedError",
        "Cause": r#"{"errorType":"CheckFailedError","errorMessage":"check failed: health answered 502"}"#
    }))
}

/// Fails before planning: nothing was created.
fn refused() -> Value {
    json!({ "StartAt": "PlanRehearsal", "States": { "PlanRehearsal": { "Type": "Fail", "Error": "InvalidInputError", "Cause": "bad" } } })
}

/// A promotion waiting for its decision, as the promote machine waits between looks.
fn promotion() -> Value {
    json!({ "StartAt": "WaitForApproval", "States": { "WaitForApproval": { "Type": "Wait", "Seconds": 3600, "End": true } } })
}

struct Fixture {
    _moto: Moto,
    sfn: StepFunctions,
    cloud: AwsCloud,
}

impl Fixture {
    async fn new() -> Self {
        let moto = moto();
        // moto runs executions only with its ASL engine switched on.
        post_json(&moto.server.endpoint(), "/moto-api/config", r#"{"stepfunctions": {"execute_state_machine": true}}"#);
        let config = load_config(Some(&moto.server.endpoint())).await;
        Fixture { sfn: StepFunctions::new(&config), cloud: AwsCloud::new(&config), _moto: moto }
    }

    async fn machine(&self, name: &str, definition: &Value) -> String {
        let created = self
            .sfn
            .client
            .create_state_machine()
            .name(name)
            .definition(definition.to_string())
            .role_arn("arn:aws:iam::123456789012:role/rehearsal-states")
            .send()
            .await
            .expect("create the state machine");
        created.state_machine_arn().to_string()
    }

    /// The API over `staging` (a teardown machine that succeeds at once, a promote machine that
    /// waits), any principal but the requester approving.
    async fn api(&self, staging: &Value) -> Api<Counting, AwsCloud> {
        self.api_with_approvers(staging, Vec::new()).await
    }

    async fn api_with_approvers(&self, staging: &Value, approvers: Vec<String>) -> Api<Counting, AwsCloud> {
        let staging_arn = self.machine("staging", staging).await;
        let teardown = json!({ "StartAt": "TeardownStaging", "States": { "TeardownStaging": { "Type": "Pass", "End": true } } });
        let teardown_arn = self.machine("teardown", &teardown).await;
        let promote_arn = self.machine("promote", &promotion()).await;
        let config = Config {
            staging_state_machine_arn: staging_arn,
            promote_state_machine_arn: promote_arn,
            teardown_state_machine_arn: teardown_arn,
            approvers,
        };
        Api::new(
            Counting { inner: self.sfn.clone(), calls: AtomicUsize::new(0), redriven: Mutex::new(Vec::new()) },
            self.cloud.clone(),
            config,
        )
    }

    async fn executions(&self, state_machine_arn: &str) -> Vec<String> {
        let listed = self.sfn.client.list_executions().state_machine_arn(state_machine_arn).send().await.expect("list executions");
        listed.executions().iter().map(|e| e.name().to_string()).collect()
    }

    /// Polls until the execution's status is not `RUNNING` (or `until` holds of it).
    async fn settle(&self, arn: &str, mut until: impl FnMut(&ExecutionInfo, &[aws_sdk_sfn::types::HistoryEvent]) -> bool) -> ExecutionInfo {
        let started = Instant::now();
        loop {
            let described = self.sfn.describe_execution(arn).await.unwrap().expect("the execution exists");
            let events = self.sfn.sdk_history(arn).await.unwrap();
            if until(&described, &events) {
                return described;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "{arn} did not get there: {described:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn ended(&self, arn: &str) -> ExecutionInfo {
        self.settle(arn, |d, _| d.status != "RUNNING").await
    }

    /// A passed staging run `passed` and its promotion `promote-1`, requested by [`OPERATOR`]
    /// through the API and waiting for its decision; answers the promotion's execution.
    async fn promotion_awaiting_approval(&self, api: &Api<Counting, AwsCloud>) -> ExecutionInfo {
        let (_, started) = call(api, event("POST", "/runs", Some("passed"), Some("{}"))).await;
        self.ended(started["execution_arn"].as_str().unwrap()).await;
        let (status, promoted) = call(api, event("POST", "/runs/passed/promote", Some("promote-1"), None)).await;
        assert_eq!((status, promoted["requested_by"].as_str()), (202, Some(OPERATOR)), "{promoted}");
        let arn = promoted["execution_arn"].as_str().unwrap();
        self.settle(arn, |_, events| events.iter().any(|e| e.state_entered_event_details().is_some_and(|d| d.name() == "WaitForApproval")))
            .await
    }

    /// The decision the API wrote for `promotion`.
    async fn decision(&self, promotion: &str) -> ApprovalDecision {
        let stored = self.cloud.get_parameter(&approval_parameter(promotion)).await.unwrap().expect("a decision");
        serde_json::from_str(stored.value.expose()).unwrap()
    }
}

/// A plain HTTP POST to moto's own API.
fn post_json(endpoint: &str, path: &str, body: &str) {
    let address = endpoint.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).expect("connect to moto");
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 20") || response.starts_with("HTTP/1.0 20"), "{path}: {response}");
}

/// An HTTP API (payload 2.0) event as API Gateway sends it, signed by [`OPERATOR`].
fn event(method: &str, path: &str, key: Option<&str>, body: Option<&str>) -> Request {
    event_as(OPERATOR, method, path, key, body)
}

/// The same, signed by `caller`.
fn event_as(caller: &str, method: &str, path: &str, key: Option<&str>, body: Option<&str>) -> Request {
    let mut headers = json!({ "content-type": "application/json", "host": "api.example" });
    if let Some(key) = key {
        headers["idempotency-key"] = json!(key);
    }
    let event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example",
            "domainPrefix": "api",
            "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test" },
            "requestId": "request",
            "routeKey": "$default",
            "stage": "$default",
            "time": "25/Dec/2025:10:00:00 +0000",
            "timeEpoch": 1766656800000u64,
            "authorizer": { "iam": { "accessKey": "AKIA", "accountId": "123456789012", "callerId": "AIDA", "userArn": caller, "userId": "AIDA" } }
        },
        "body": body,
        "isBase64Encoded": false
    });
    lambda_http::request::from_str(&event.to_string()).expect("an HTTP API event")
}

async fn call(api: &Api<Counting, AwsCloud>, request: Request) -> (u16, Value) {
    let response = api.handle(request).await;
    assert_eq!(response.headers()["content-type"], "application/json");
    let body = match response.body() {
        Body::Text(text) => serde_json::from_str(text).expect("a JSON body"),
        other => panic!("not a text body: {other:?}"),
    };
    (response.status().as_u16(), body)
}

#[tokio::test]
async fn invalid_requests_are_400_naming_the_field_before_any_call() {
    let fixture = Fixture::new().await;
    let api = fixture.api(&succeeding()).await;
    let cases = [
        (event("POST", "/runs", Some("k1"), Some(r#"{"staging": {"db_instance_id": "1bad"}}"#)), "staging.db_instance_id"),
        (
            event("POST", "/runs", Some("k1"), Some(r#"{"staging": {"parameter_path": "/tableicty/production/"}}"#)),
            "staging.parameter_path",
        ),
        (event("POST", "/runs", Some("k1"), Some(r#"{"ttl_hours": 0}"#)), "ttl_hours"),
        (event("POST", "/runs", Some("k1"), Some(r#"{"bogus": 1}"#)), "bogus"),
        // What runs with which powers is production's or the stack's, never the caller's.
        (event("POST", "/runs", Some("k1"), Some(r#"{"service": {"start_command": "sh -c 'curl x | sh'"}}"#)), "service.start_command"),
        (event("POST", "/runs", Some("k1"), Some(r#"{"service": {"connection_arn": "arn:aws:apprunner:x"}}"#)), "service.connection_arn"),
        (
            event("POST", "/runs", Some("k1"), Some(r#"{"staging": {"vpc_security_group_ids": ["sg-1"]}}"#)),
            "staging.vpc_security_group_ids",
        ),
        (event("POST", "/runs", Some("k1"), Some(r#"{"run_id": "someone-elses"}"#)), "run_id"),
        (event("POST", "/runs", Some("k1"), Some("[]")), "(document)"),
        (event("POST", "/runs", Some("k1"), Some("{not json")), "(document)"),
        (event("POST", "/runs", Some("k1"), None), "(document)"),
        (event("POST", "/runs", None, Some("{}")), "Idempotency-Key"),
        (event("POST", "/runs", Some("has space"), Some("{}")), "Idempotency-Key"),
        (event("POST", "/runs", Some(&"k".repeat(81)), Some("{}")), "Idempotency-Key"),
        (event("GET", "/runs/a.b", None, None), "id"),
        (event("POST", "/runs/a.b/approve", None, None), "id"),
        (event("POST", "/runs/r/approve", None, Some(r#"{"comment": 3}"#)), "comment"),
        (event("POST", "/runs/r/reject", None, Some(r#"{"reason": "x"}"#)), "reason"),
        (event("POST", "/runs/r/approve", None, Some(r#"{"promotion": "a b"}"#)), "promotion"),
        (event("POST", "/runs/r/promote", None, None), "Idempotency-Key"),
        (
            event("POST", "/runs/r/promote", Some("p1"), Some(r#"{"requested_by": "arn:aws:iam::123456789012:user/someone"}"#)),
            "requested_by",
        ),
        (event("POST", "/environments/production/teardown", Some("t1"), Some(r#"{"run": "r"}"#)), "env"),
        (event("POST", "/environments/staging/teardown", None, Some(r#"{"run": "r"}"#)), "Idempotency-Key"),
        (event("POST", "/environments/staging/teardown", Some("t1"), Some("{}")), "run"),
        (event("POST", "/environments/staging/teardown", Some("t1"), Some(r#"{"run": "r", "final_snapshot": "no"}"#)), "final_snapshot"),
    ];
    for (request, field) in cases {
        let (status, body) = call(&api, request).await;
        assert_eq!((status, body["field"].as_str()), (400, Some(field)), "{body}");
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{body}");
    }
    assert_eq!(api.state_machines().count(), 0, "no Step Functions call for an invalid request");
}

#[tokio::test]
async fn a_repeated_idempotency_key_starts_one_execution() {
    let fixture = Fixture::new().await;
    let api = fixture.api(&waiting()).await;
    let document = r#"{"app": "tableicty", "ttl_hours": 24}"#;
    let (status, first) = call(&api, event("POST", "/runs", Some("release-42"), Some(document))).await;
    assert_eq!(status, 202, "{first}");
    assert_eq!((first["id"].as_str(), first["status"].as_str()), (Some("release-42"), Some("RUNNING")));
    let arn = first["execution_arn"].as_str().unwrap().to_string();
    assert!(arn.ends_with(":execution:staging:release-42"), "{arn}");

    // The same document, spelled differently, is the same request.
    let retried = r#"{ "ttl_hours": 24, "app": "tableicty" }"#;
    let (status, again) = call(&api, event("POST", "/runs", Some("release-42"), Some(retried))).await;
    assert_eq!((status, again["execution_arn"].as_str()), (202, Some(arn.as_str())), "{again}");

    let (status, other) = call(&api, event("POST", "/runs", Some("release-42"), Some(r#"{"ttl_hours": 48}"#))).await;
    assert_eq!((status, other["field"].as_str()), (409, Some("Idempotency-Key")), "{other}");

    let machine = arn.replace(":execution:staging:release-42", ":stateMachine:staging");
    assert_eq!(fixture.executions(&machine).await, ["release-42"]);
    let input: Value = serde_json::from_str(&fixture.sfn.describe_execution(&arn).await.unwrap().unwrap().input.unwrap()).unwrap();
    assert_eq!(input, json!({"app": "tableicty", "ttl_hours": 24}), "the run document is the input");
}

#[tokio::test]
async fn a_key_retried_after_its_run_ended_answers_that_run() {
    let fixture = Fixture::new().await;
    let api = fixture.api(&succeeding()).await;
    let (status, first) = call(&api, event("POST", "/runs", Some("release-43"), Some("{}"))).await;
    assert_eq!(status, 202, "{first}");
    let arn = first["execution_arn"].as_str().unwrap();
    assert_eq!(fixture.ended(arn).await.status, "SUCCEEDED");

    let (status, again) = call(&api, event("POST", "/runs", Some("release-43"), Some("{}"))).await;
    assert_eq!((status, again["execution_arn"].as_str(), again["status"].as_str()), (200, Some(arn), Some("SUCCEEDED")), "{again}");
    let (status, other) = call(&api, event("POST", "/runs", Some("release-43"), Some(r#"{"ttl_hours": 2}"#))).await;
    assert_eq!((status, other["field"].as_str()), (409, Some("Idempotency-Key")), "{other}");
    let machine = arn.replace(":execution:staging:release-43", ":stateMachine:staging");
    assert_eq!(fixture.executions(&machine).await, ["release-43"]);
}

#[tokio::test]
async fn unknown_runs_routes_and_methods() {
    let fixture = Fixture::new().await;
    let api = fixture.api(&succeeding()).await;
    for request in [
        event("GET", "/runs/nope", None, None),
        event("POST", "/runs/nope/approve", None, None),
        event("POST", "/runs/nope/reject", None, Some(r#"{"comment": "no"}"#)),
        event("POST", "/environments/staging/teardown", Some("t1"), Some(r#"{"run": "nope"}"#)),
    ] {
        let (status, body) = call(&api, request).await;
        assert_eq!(status, 404, "{body}");
        assert!(body["error"].as_str().unwrap().contains("nope"), "{body}");
    }
    let (status, body) = call(&api, event("GET", "/nothing/here", None, None)).await;
    assert_eq!(status, 404, "{body}");
    let response = api.handle(event("DELETE", "/runs/r", None, None)).await;
    assert_eq!((response.status().as_u16(), response.headers()["allow"].to_str().unwrap()), (405, "GET"));
}

#[tokio::test]
async fn a_running_run_reports_the_states_it_is_in() {
    let fixture = Fixture::new().await;
    let api = fixture.api(&waiting()).await;
    let (_, started) = call(&api, event("POST", "/runs", Some("running"), Some("{}"))).await;
    let arn = started["execution_arn"].as_str().unwrap();
    fixture.settle(arn, |_, events| events.iter().any(|e| e.state_entered_event_details().is_some_and(|d| d.name() == "Then"))).await;
    let (status, running) = call(&api, event("GET", "/runs/running", None, None)).await;
    assert_eq!(status, 200, "{running}");
    assert_eq!((running["id"].as_str(), running["execution_arn"].as_str()), (Some("running"), Some(arn)));
    assert_eq!((running["status"].as_str(), running["run_id"].as_str()), (Some("RUNNING"), Some(RUN_ID)));
    assert_eq!(running["current_states"], json!(["Then"]));
    assert_eq!(running["last_state"], "Then");
    assert_eq!((running["report"].is_null(), running["failure"].is_null(), &running["awaiting_approval"]), (true, true, &json!(false)));
}

#[tokio::test]
async fn a_passed_run_reports_its_checks() {
    let fixture = Fixture::new().await;
    let api = fixture.api(&succeeding()).await;
    let (_, started) = call(&api, event("POST", "/runs", Some("passed"), Some("{}"))).await;
    fixture.ended(started["execution_arn"].as_str().unwrap()).await;
    let (_, passed) = call(&api, event("GET", "/runs/passed", None, None)).await;
    assert_eq!(passed["status"], "SUCCEEDED");
    assert_eq!(passed["current_states"], json!([]));
    assert_eq!(passed["last_state"], "Then");
    assert_eq!(passed["report"], json!({ "run_id": RUN_ID, "checks": { "validation": [{ "name": "health", "passed": true }] } }));
    assert!(passed["stopped_at"].is_string() && passed["failure"].is_null(), "{passed}");
}

#[tokio::test]
async fn a_rolled_back_run_reports_its_failure() {
    let fixture = Fixture::new().await;
    let api = fixture.api(&rolled_back()).await;
    let (_, started) = call(&api, event("POST", "/runs", Some("failed"), Some("{}"))).await;
    fixture.ended(started["execution_arn"].as_str().unwrap()).await;
    let (_, failed) = call(&api, event("GET", "/runs/failed", None, None)).await;
    assert_eq!(failed["status"], "FAILED");
    assert_eq!(failed["failure"]["error"], "CheckFailedError");
    assert_eq!(failed["failure"]["cause"]["errorMessage"], "check failed: health answered 502", "the cause is read as JSON: {failed}");
    assert_eq!((failed["last_state"].as_str(), failed["report"].is_null()), (Some("Then"), true));
}

#[tokio::test]
async fn approving_without_a_pending_approval_is_409() {
    let fixture = Fixture::new().await;
    let api = fixture.api(&succeeding()).await;
    let (_, started) = call(&api, event("POST", "/runs", Some("passed"), Some("{}"))).await;
    fixture.ended(started["execution_arn"].as_str().unwrap()).await;
    for path in ["/runs/passed/approve", "/runs/passed/reject"] {
        let (status, body) = call(&api, event("POST", path, None, None)).await;
        assert_eq!(status, 409, "{body}");
        assert!(body["error"].as_str().unwrap().contains("no pending approval"), "{body}");
    }
}

#[tokio::test]
async fn a_promotion_records_its_requester_who_cannot_approve_it_and_someone_else_can() {
    let fixture = Fixture::new().await;
    let api = fixture.api(&succeeding()).await;
    let promotion = fixture.promotion_awaiting_approval(&api).await;
    let input: Value = serde_json::from_str(promotion.input.as_deref().unwrap()).unwrap();
    assert_eq!((input["requested_by"].as_str(), input["run_id"].as_str()), (Some(OPERATOR), Some(RUN_ID)), "{input}");

    // The same request again (a retry under its Idempotency-Key) starts nothing: it answers the
    // promotion already running.
    let (status, again) = call(&api, event("POST", "/runs/passed/promote", Some("promote-1"), None)).await;
    assert_eq!((status, again["execution_arn"].as_str()), (202, Some(promotion.arn.as_str())), "{again}");
    assert_eq!(fixture.executions(&promotion.state_machine_arn).await, ["promote-1"]);

    // The approver sees what would ship and who asked.
    let (_, run) = call(&api, event_as(APPROVER, "GET", "/runs/passed", None, None)).await;
    assert_eq!(run["awaiting_approval"], true, "{run}");
    assert_eq!(run["ships"]["source"]["code"]["repository"]["branch"], "release-42", "{run}");
    assert_eq!((run["promotions"][0]["id"].as_str(), run["promotions"][0]["requested_by"].as_str()), (Some("promote-1"), Some(OPERATOR)));

    let (status, body) = call(&api, event("POST", "/runs/passed/approve", None, Some(r#"{"comment": "mine"}"#))).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["error"].as_str().unwrap().contains("cannot approve it"), "{body}");
    assert_eq!(fixture.cloud.get_parameter(&approval_parameter("promote-1")).await.unwrap(), None, "nothing written");

    let (status, body) = call(&api, event_as(APPROVER, "POST", "/runs/passed/approve", None, Some(r#"{"comment": "ship it"}"#))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({ "id": "passed", "promotion": "promote-1", "decision": "approved", "by": APPROVER }));
    let decision = fixture.decision("promote-1").await;
    assert_eq!((decision.verdict, decision.by.as_str(), decision.requested_by.as_str()), (Verdict::Approved, APPROVER, OPERATOR));
    assert_eq!((decision.promotion_started_at, decision.comment.as_deref()), (promotion.start, Some("ship it")));
    let written = fixture.cloud.describe_parameter(&approval_parameter("promote-1")).await.unwrap().expect("described");
    assert_eq!(written.kind, rehearsal_core::cloud::ParameterKind::String, "a decision is no secret");
}

#[tokio::test]
async fn only_the_stacks_approvers_approve_and_a_rejection_is_written_with_its_comment() {
    let fixture = Fixture::new().await;
    let manager = "arn:aws:iam::123456789012:user/release-manager";
    let api = fixture.api_with_approvers(&succeeding(), vec![manager.into()]).await;
    fixture.promotion_awaiting_approval(&api).await;
    let (status, body) = call(&api, event_as(APPROVER, "POST", "/runs/passed/approve", None, None)).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["error"].as_str().unwrap().contains("not one of the stack's approvers"), "{body}");

    let (status, body) =
        call(&api, event_as(APPROVER, "POST", "/runs/passed/reject", None, Some(r#"{"comment": "billing looks wrong"}"#))).await;
    assert_eq!((status, body["decision"].as_str()), (200, Some("rejected")), "{body}");
    let decision = fixture.decision("promote-1").await;
    assert_eq!((decision.verdict, decision.comment.as_deref()), (Verdict::Rejected, Some("billing looks wrong")));

    let (status, body) = call(&api, event_as(manager, "POST", "/runs/passed/approve", None, None)).await;
    assert_eq!(status, 200, "the last word counts until the machine reads it: {body}");
    assert_eq!(fixture.decision("promote-1").await.by, manager);
}

#[tokio::test]
async fn teardown_starts_once_on_the_runs_plan() {
    let fixture = Fixture::new().await;
    let api = fixture.api(&succeeding()).await;
    let (_, started) = call(&api, event("POST", "/runs", Some("passed"), Some("{}"))).await;
    fixture.ended(started["execution_arn"].as_str().unwrap()).await;

    let body = r#"{"run": "passed", "final_snapshot": false}"#;
    let (status, first) = call(&api, event("POST", "/environments/staging/teardown", Some("teardown-1"), Some(body))).await;
    assert_eq!(status, 202, "{first}");
    assert_eq!((first["environment"].as_str(), first["run"].as_str()), (Some("staging"), Some("passed")));
    let arn = first["execution_arn"].as_str().unwrap();
    assert!(arn.ends_with(":execution:teardown:teardown-1"), "{arn}");
    let teardown = fixture.ended(arn).await;
    let input: Value = serde_json::from_str(&teardown.input.unwrap()).unwrap();
    assert_eq!(
        input,
        json!({ "plan": plan(), "reason": format!("requested through the API by {OPERATOR}"), "final_snapshot": false }),
        "the input the run's teardown schedule sends"
    );
    let (status, again) = call(&api, event("POST", "/environments/staging/teardown", Some("teardown-1"), Some(body))).await;
    assert_eq!((status, again["execution_arn"].as_str()), (200, Some(arn)), "{again}");
    assert_eq!(fixture.executions(&arn.replace(":execution:teardown:teardown-1", ":stateMachine:teardown")).await, ["teardown-1"]);
}

#[tokio::test]
async fn teardown_refuses_a_run_still_running() {
    let fixture = Fixture::new().await;
    let api = fixture.api(&waiting()).await;
    call(&api, event("POST", "/runs", Some("running"), Some("{}"))).await;
    let (status, body) = call(&api, event("POST", "/environments/staging/teardown", Some("t1"), Some(r#"{"run": "running"}"#))).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("still running"), "{body}");
}

#[tokio::test]
async fn teardown_refuses_a_run_that_never_planned() {
    let fixture = Fixture::new().await;
    let api = fixture.api(&refused()).await;
    let (_, started) = call(&api, event("POST", "/runs", Some("refused"), Some("{}"))).await;
    fixture.ended(started["execution_arn"].as_str().unwrap()).await;
    let (status, body) = call(&api, event("POST", "/environments/staging/teardown", Some("t2"), Some(r#"{"run": "refused"}"#))).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("nothing to tear down"), "{body}");
}

/// What the staging run started as execution `started` plans (on the simulated account: moto
/// has no App Runner), for its `take_staging_lease` to run against moto.
async fn planned(started: &Value) -> RunPlan {
    let account = SimAccount::new(SimConfig::default(), chrono::Utc::now());
    let start = chrono::DateTime::parse_from_rfc3339(started["started_at"].as_str().unwrap()).unwrap().to_utc();
    let input = PlanInput {
        input: json!({}),
        execution_name: started["id"].as_str().unwrap().into(),
        execution_start: start,
        stack: stack_settings(),
        pinned_image: None,
    };
    plan_rehearsal(&account.session("plan_rehearsal"), input).await.expect("the run plans")
}

#[tokio::test]
async fn of_two_concurrent_runs_one_holds_staging_and_the_api_answers_409_naming_it() {
    let fixture = Fixture::new().await;
    let api = fixture.api(&waiting()).await;
    let (a, b) = tokio::join!(
        call(&api, event("POST", "/runs", Some("release-42"), Some("{}"))),
        call(&api, event("POST", "/runs", Some("release-43"), Some("{}")))
    );
    assert_eq!((a.0, b.0), (202, 202), "{a:?} {b:?}");
    // Each execution's TakeStagingLease, at once, against moto's Parameter Store and Step
    // Functions: exactly one holds staging, the other is refused naming it.
    let (plan_a, plan_b) = (planned(&a.1).await, planned(&b.1).await);
    let take = |plan: &RunPlan, started: &Value| TakeStagingLeaseInput {
        plan: plan.clone(),
        execution_arn: started["execution_arn"].as_str().unwrap().into(),
    };
    let (took_a, took_b) =
        tokio::join!(take_staging_lease(&fixture.cloud, take(&plan_a, &a.1)), take_staging_lease(&fixture.cloud, take(&plan_b, &b.1)));
    let (holder, refusal) = match (took_a, took_b) {
        (Ok(held), Err(refused)) | (Err(refused), Ok(held)) => (held.holder, refused),
        other => panic!("exactly one run must hold staging: {other:?}"),
    };
    let StepError::LeaseHeld(refused) = refusal else { panic!("not refused for the lease: {refusal:?}") };
    assert_eq!(refused.holder, holder);
    assert!(refused.reason.contains("RUNNING"), "{}", refused.reason);
    let stored = fixture.cloud.parameter_tags(&lease_parameter("tableicty", LeasedEnvironment::Staging)).await.unwrap();
    assert_eq!(stored.get("rehearsal:run-id"), Some(&holder.run_id), "tagged at creation: {stored:?}");

    // A third start is refused before StartExecution, naming the holder.
    let calls = api.state_machines().count();
    let (status, body) = call(&api, event("POST", "/runs", Some("release-44"), Some("{}"))).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["holder"], json!(holder));
    let message = body["error"].as_str().unwrap();
    for part in [holder.run_id.as_str(), holder.execution_arn.as_str(), &holder.started_at.to_rfc3339()] {
        assert!(message.contains(part), "{message} does not name {part}");
    }
    assert_eq!(api.state_machines().count(), calls + 1, "one DescribeExecution of the holder, no StartExecution");
    let staging = &api_staging_arn(&holder);
    assert!(!fixture.executions(staging).await.contains(&"release-44".to_string()));

    // The holder's own request retried answers its execution; once it has ended, a start is
    // the staging machine's to judge (its lease step takes an ended holder's lease over).
    let holder_key = holder.execution_arn.rsplit(':').next().unwrap().to_string();
    let (status, again) = call(&api, event("POST", "/runs", Some(&holder_key), Some("{}"))).await;
    assert_eq!((status, again["execution_arn"].as_str()), (202, Some(holder.execution_arn.as_str())), "{again}");
    fixture.sfn.client.stop_execution().execution_arn(&holder.execution_arn).send().await.expect("stop the holder");
    let (status, started) = call(&api, event("POST", "/runs", Some("release-45"), Some("{}"))).await;
    assert_eq!(status, 202, "{started}");
}

/// The staging machine `holder`'s execution belongs to.
fn api_staging_arn(holder: &Lease) -> String {
    let (machine, _) = holder.execution_arn.rsplit_once(':').unwrap();
    machine.replacen(":execution:", ":stateMachine:", 1)
}

/// Plans, then goes where its input's `how` says: `uncaught` fails in a state no Catch handles
/// (a Parameters path that is not there: States.Runtime), `rolled-back` ends in a Fail state as
/// a rolled-back run does, `waits` runs for an hour, anything else succeeds.
fn going(how: &str) -> Value {
    json!({ "how": how })
}

fn redrivable() -> Value {
    json!({ "StartAt": "PlanRehearsal", "States": {
        "PlanRehearsal": { "Type": "Pass", "Parameters": { "plan": plan(), "how.$": "$.how" }, "Next": "How" },
        "How": { "Type": "Choice", "Choices": [
            { "Variable": "$.how", "StringEquals": "uncaught", "Next": "CreateStagingService" },
            { "Variable": "$.how", "StringEquals": "rolled-back", "Next": "RolledBack" },
            { "Variable": "$.how", "StringEquals": "waits", "Next": "Waiting" }
        ], "Default": "Passed" },
        "CreateStagingService": { "Type": "Pass", "Parameters": { "service.$": "$.not.there" }, "End": true },
        "RolledBack": { "Type": "Fail", "Error": "CheckFailedError", "Cause": "check failed" },
        "Waiting": { "Type": "Wait", "Seconds": 3600, "End": true },
        "Passed": { "Type": "Succeed" }
    }})
}

impl Fixture {
    /// Starts the staging machine directly (its input is no run document) as `name`, and waits
    /// for it to stop unless it waits.
    async fn staging_run(&self, api: &Api<Counting, AwsCloud>, name: &str, how: &str) -> ExecutionInfo {
        let machine = &api.config().staging_state_machine_arn;
        let started = self.sfn.start_execution(machine, name, &going(how).to_string()).await.unwrap();
        if how == "waits" {
            return self.settle(&started.execution_arn, |_, events| events.len() > 3).await;
        }
        self.ended(&started.execution_arn).await
    }

    /// `holder` holds tableicty's staging, as its TakeStagingLease would have left it.
    async fn hold_staging(&self, holder: &str) {
        self.hold(LeasedEnvironment::Staging, holder).await
    }

    /// `holder` holds tableicty's `environment`, as its lease step would have left it.
    async fn hold(&self, environment: LeasedEnvironment, holder: &str) {
        let lease = Lease { execution_arn: holder.to_string(), run_id: RUN_ID.into(), started_at: chrono::Utc::now() };
        let parameter = lease_parameter("tableicty", environment);
        let tags = rehearsal_core::tags::Tags::from([("rehearsal:tool".to_string(), "rehearsal".to_string())]);
        let value = rehearsal_core::secret::Secret::new(lease.to_value());
        self.cloud.create_parameter(&parameter, &value, rehearsal_core::cloud::ParameterKind::String, &tags).await.unwrap();
    }
}

#[tokio::test]
async fn a_run_that_failed_outside_its_fail_states_and_holds_staging_is_redriven_with_the_key_as_client_token() {
    let fixture = Fixture::new().await;
    let api = fixture.api(&redrivable()).await;
    let failed = fixture.staging_run(&api, "release-42", "uncaught").await;
    assert_eq!((failed.status.as_str(), failed.error.as_deref()), ("FAILED", Some("States.Runtime")), "{failed:?}");
    fixture.hold_staging(&failed.arn).await;

    // A key too long for a client token is refused before any call.
    let (status, body) = call(&api, event("POST", "/runs/release-42/redrive", Some(&"k".repeat(65)), None)).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("Idempotency-Key")), "{body}");
    assert_eq!(api.state_machines().count(), 0);

    let (status, body) = call(&api, event("POST", "/runs/release-42/redrive", Some("redrive-1"), None)).await;
    assert_eq!(
        (status, body["status"].as_str(), body["execution_arn"].as_str()),
        (202, Some("RUNNING"), Some(failed.arn.as_str())),
        "{body}"
    );
    assert!(body["redriven_at"].is_string(), "{body}");
    assert_eq!(*api.state_machines().redriven.lock().unwrap(), vec![(failed.arn.clone(), "redrive-1".to_string())]);
}

#[tokio::test]
async fn a_redrive_is_refused_with_409_for_a_run_it_cannot_continue_and_404_for_none() {
    let fixture = Fixture::new().await;
    let api = fixture.api(&redrivable()).await;
    let passed = fixture.staging_run(&api, "passed", "passes").await;
    let rolled_back = fixture.staging_run(&api, "rolled-back", "rolled-back").await;
    let running = fixture.staging_run(&api, "running", "waits").await;
    let released = fixture.staging_run(&api, "released", "uncaught").await;
    let overtaken = fixture.staging_run(&api, "overtaken", "uncaught").await;
    assert_eq!(
        [&passed, &rolled_back, &running, &released, &overtaken].map(|e| e.status.as_str()),
        ["SUCCEEDED", "FAILED", "RUNNING", "FAILED", "FAILED"]
    );
    let refusal = async |run: &str| call(&api, event("POST", &format!("/runs/{run}/redrive"), Some("redrive-1"), None)).await;
    // Nobody holds staging: `released`'s was torn down.
    let (status, body) = refusal("released").await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("no longer holds /rehearsal/leases/tableicty/staging"), "{body}");
    // Another run holds staging now.
    fixture.hold_staging(&running.arn).await;
    for (run, says) in [
        ("passed", "is SUCCEEDED: only a failed, timed-out or aborted run can be redriven"),
        ("running", "is RUNNING"),
        ("rolled-back", "ended in its Fail state RolledBack: a redrive would enter it again and fail again"),
        ("overtaken", "another run took the environment"),
    ] {
        let (status, body) = refusal(run).await;
        assert_eq!(status, 409, "{run}: {body}");
        assert!(body["error"].as_str().unwrap().contains(says), "{run}: {body}");
        if run == "overtaken" {
            assert_eq!(body["holder"]["execution_arn"].as_str(), Some(running.arn.as_str()), "{body}");
        }
    }
    let (status, body) = refusal("nobody").await;
    assert_eq!(status, 404, "{body}");
    assert!(api.state_machines().redriven.lock().unwrap().is_empty(), "nothing was redriven");
}

#[tokio::test]
async fn a_second_promotion_while_one_holds_production_is_409_naming_it_before_any_start() {
    let fixture = Fixture::new().await;
    let api = fixture.api(&succeeding()).await;
    let first = fixture.promotion_awaiting_approval(&api).await;
    // Its TakeProductionLease has run (the stand-in machine has no such step).
    fixture.hold(LeasedEnvironment::Production, &first.arn).await;

    let (status, body) = call(&api, event("POST", "/runs/passed/promote", Some("promote-2"), None)).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["holder"]["execution_arn"].as_str(), Some(first.arn.as_str()), "{body}");
    assert!(body["error"].as_str().unwrap().contains("production"), "{body}");
    let promote_machine = &api.config().promote_state_machine_arn;
    assert_eq!(fixture.executions(promote_machine).await, vec!["promote-1".to_string()], "nothing started");

    // The first request retried answers its own promotion; once it has stopped, another may start.
    let (status, again) = call(&api, event("POST", "/runs/passed/promote", Some("promote-1"), None)).await;
    assert_eq!((status, again["execution_arn"].as_str()), (202, Some(first.arn.as_str())), "{again}");
    fixture.sfn.client.stop_execution().execution_arn(&first.arn).send().await.expect("stop the promotion");
    let (status, started) = call(&api, event("POST", "/runs/passed/promote", Some("promote-2"), None)).await;
    assert_eq!(status, 202, "{started}");
}
