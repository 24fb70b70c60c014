//! The request handler: routes, input validation (before any AWS call), idempotent starts,
//! answers built from DescribeExecution, GetExecutionHistory and ListExecutions, and operators'
//! decisions on promotions, written to their approval parameters.

use crate::history::{self, OutputError};
use crate::routes::{match_route, Matched, Route};
use chrono::{DateTime, Utc};
use lambda_http::http::header::{ALLOW, CONTENT_TYPE};
use lambda_http::http::{HeaderMap, HeaderValue, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use rehearsal_core::cloud::{ExecutionInfo, HistoryEvent, ParameterStore, StateMachines};
use rehearsal_core::lease::{lease_parameter, Lease, LeaseHeld, LeasedEnvironment};
use rehearsal_core::phase::{Phase, EXECUTION};
use rehearsal_core::promotion::{bounded_comment, parse_approvers, same_principal, ApprovalDecision, PromoteInput, Verdict, MAX_COMMENT};
use rehearsal_core::{CloudError, CloudErrorKind, RunInput, StepError};
use serde_json::{json, Map, Value};

/// The header whose value names the execution a POST starts: a retried request starts nothing twice.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
/// The staging machine's first state; its output is `{"plan": …}`.
pub const PLAN_STATE: &str = "PlanRehearsal";
/// The only environment the API tears down.
pub const TEARDOWN_ENVIRONMENT: &str = "staging";
const MAX_NAME: usize = 80;
/// RedriveExecution's `clientToken` is at most 64 characters.
const MAX_CLIENT_TOKEN: usize = 64;
/// Redrive continues what stopped; these ended for good.
const REDRIVABLE: [&str; 3] = ["FAILED", "TIMED_OUT", "ABORTED"];
/// The promote machine's states while it waits for a decision.
const AWAITING_STATES: [&str; 3] = ["CheckApproval", "IsApproved", "WaitForApproval"];
/// What a promotion body may set; `requested_by` is always the caller.
const PROMOTE_FIELDS: [&str; 4] = ["approval", "accept_branch_head", "forensics_retention_days", "teardown_delay_minutes"];

/// The state machines the API starts and reads, and who may approve, from the function's
/// environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub staging_state_machine_arn: String,
    pub promote_state_machine_arn: String,
    pub teardown_state_machine_arn: String,
    /// Principal ARNs that may approve a promotion; empty: anyone but its requester.
    pub approvers: Vec<String>,
}

impl Config {
    pub const STAGING: &'static str = "STAGING_STATE_MACHINE_ARN";
    pub const PROMOTE: &'static str = "PROMOTE_STATE_MACHINE_ARN";
    pub const TEARDOWN: &'static str = "TEARDOWN_STATE_MACHINE_ARN";
    pub const APPROVERS: &'static str = "APPROVERS";

    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the ARNs with `lookup`; an empty value counts as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let arn = |name: &str| match lookup(name).filter(|v| !v.is_empty()) {
            Some(arn) if arn.contains(":stateMachine:") => Ok(arn),
            Some(other) => Err(format!("{name} is {other:?}, not a state machine ARN")),
            None => Err(format!("{name} is not set")),
        };
        Ok(Self {
            staging_state_machine_arn: arn(Self::STAGING)?,
            promote_state_machine_arn: arn(Self::PROMOTE)?,
            teardown_state_machine_arn: arn(Self::TEARDOWN)?,
            approvers: parse_approvers(&lookup(Self::APPROVERS).unwrap_or_default()),
        })
    }
}

/// The document with every object's keys sorted: Step Functions compares a repeated start's
/// input as text, so the same document spelled differently must start as the same text (and
/// serde_json may keep the order the caller wrote).
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|k| (k.clone(), canonical(&map[k]))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// The ARN the execution named `name` of `state_machine_arn` has.
pub fn execution_arn(state_machine_arn: &str, name: &str) -> String {
    format!("{}:{name}", state_machine_arn.replacen(":stateMachine:", ":execution:", 1))
}

/// Idempotency keys and run ids: names Step Functions accepts, narrowed to URL-safe text.
fn is_name(value: &str) -> bool {
    (1..=MAX_NAME).contains(&value.len()) && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// An answer other than success: `{"error": …}`, with `"field"` when one input field is at fault
/// and `"holder"` when another run holds the environment.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    message: String,
    field: Option<String>,
    holder: Option<Lease>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), field: None, holder: None }
    }

    fn field(status: StatusCode, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), field: Some(field.into()), holder: None }
    }

    /// 409: another run holds the environment; the message and `holder` name it.
    fn held(held: LeaseHeld) -> Self {
        Self { status: StatusCode::CONFLICT, message: held.to_string(), field: None, holder: Some(held.holder) }
    }

    fn bad(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::field(StatusCode::BAD_REQUEST, field, message)
    }

    fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    /// An AWS call failed: worth retrying (with the same key) when throttled or unavailable.
    fn upstream(service: &str, operation: &str, error: CloudError) -> Self {
        let status = match error.kind {
            CloudErrorKind::Throttled | CloudErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_GATEWAY,
        };
        Self::new(status, format!("{service} {operation} failed: {error}"))
    }

    fn body(&self) -> Value {
        let mut body = json!({ "error": self.message });
        if let Some(field) = &self.field {
            body["field"] = json!(field);
        }
        if let Some(holder) = &self.holder {
            body["holder"] = json!(holder);
        }
        body
    }
}

/// Without the caller's IAM identity, neither a requester nor an approver can be recorded.
fn unidentified() -> ApiError {
    ApiError::forbidden("the caller's IAM identity is unknown (the request did not come through the API's IAM authorizer)")
}

fn sfn(operation: &str) -> impl FnOnce(CloudError) -> ApiError + '_ {
    move |e| ApiError::upstream("Step Functions", operation, e)
}

/// The run document's own errors name their field.
fn invalid_document(error: StepError) -> ApiError {
    match error {
        StepError::InvalidInput { ref field, .. } => ApiError::bad(field.clone(), error.to_string()),
        other => ApiError::bad("(document)", other.to_string()),
    }
}

type Answer = Result<(StatusCode, Value), ApiError>;

/// Who called, as API Gateway's IAM authorizer saw the SigV4 signature.
fn caller(request: &Request) -> Option<String> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => context.authorizer.as_ref()?.iam.as_ref()?.user_arn.clone(),
        _ => None,
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Err(ApiError::bad(IDEMPOTENCY_KEY, "is required: it names the execution, so a retried request starts nothing twice"));
    };
    match value.to_str() {
        Ok(key) if is_name(key) => Ok(key.to_string()),
        _ => Err(ApiError::bad(IDEMPOTENCY_KEY, format!("must be 1 to {MAX_NAME} letters, digits, hyphens or underscores"))),
    }
}

fn path_name(field: &str, value: Option<&str>) -> Result<String, ApiError> {
    match value {
        Some(value) if is_name(value) => Ok(value.to_string()),
        _ => Err(ApiError::bad(field, format!("must be 1 to {MAX_NAME} letters, digits, hyphens or underscores"))),
    }
}

/// The body as JSON; `None` when there is none.
fn json_body(body: &Body) -> Result<Option<Value>, ApiError> {
    let bytes: &[u8] = body.as_ref();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(bytes).map(Some).map_err(|e| ApiError::bad("(document)", format!("the body is not JSON: {e}")))
}

/// A JSON object body with only `allowed` fields; no body is an empty object.
fn object_body(body: &Body, allowed: &[&str]) -> Result<Map<String, Value>, ApiError> {
    let map = match json_body(body)? {
        None => Map::new(),
        Some(Value::Object(map)) => map,
        Some(_) => return Err(ApiError::bad("(document)", "the body must be a JSON object")),
    };
    if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ApiError::bad(unknown.clone(), format!("unknown field; expected one of {allowed:?}")));
    }
    Ok(map)
}

/// JSON text as JSON; anything else as a string (a Fail state's cause may be either).
fn json_or_text(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

fn rfc3339(time: Option<DateTime<Utc>>) -> Value {
    time.map_or(Value::Null, |t| Value::String(t.to_rfc3339()))
}

/// The plan the staging run made (`PlanRehearsal` answers `{"plan": …}`); `None` when the run
/// ended before planning, having created nothing.
fn plan_of(events: &[HistoryEvent]) -> Result<Option<Value>, ApiError> {
    match history::state_output(events, PLAN_STATE) {
        Ok(output) => Ok(output.and_then(|mut o| o.get_mut("plan").map(Value::take))),
        Err(OutputError::Truncated) => {
            Err(ApiError::new(StatusCode::BAD_GATEWAY, format!("{PLAN_STATE}'s output is truncated in the history")))
        }
        Err(OutputError::NotJson(e)) => Err(ApiError::new(StatusCode::BAD_GATEWAY, format!("{PLAN_STATE}'s output is not JSON: {e}"))),
    }
}

/// The run id the plan carries (in every resource's tags, and in a promotion document).
fn run_id_of(plan: &Value) -> Option<String> {
    plan.get("run_id").and_then(Value::as_str).map(str::to_string)
}

fn verdict_word(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Approved => "approved",
        Verdict::Rejected => "rejected",
    }
}

/// A running promotion of a staging run, as its execution shows it.
struct RunningPromotion {
    execution: ExecutionInfo,
    name: String,
    input: Value,
    awaiting_approval: bool,
}

impl RunningPromotion {
    fn requested_by(&self) -> Option<&str> {
        self.input.get("requested_by").and_then(Value::as_str)
    }

    /// What `GET /runs/{id}` shows of it: who asked, and whether it accepted deploying a
    /// source-built production's branch head (an image release deploys the run's digest).
    fn summary(&self) -> Value {
        json!({
            "id": self.name,
            "execution_arn": self.execution.arn,
            "started_at": rfc3339(Some(self.execution.start)),
            "requested_by": self.requested_by(),
            "accept_branch_head": self.input.get("accept_branch_head").and_then(Value::as_bool).unwrap_or(false),
            "awaiting_approval": self.awaiting_approval,
        })
    }
}

/// What the staging run built and validated, from its plan: the release (the digest-pinned
/// image, or the branch App Runner built) and its source with the build and start commands,
/// which is what a promotion ships.
fn ships(plan: &Value) -> Value {
    json!({"release": plan.get("release"), "source": plan.pointer("/service/source")})
}

/// The API over Step Functions and Parameter Store (where operators' decisions are written).
pub struct Api<S, P> {
    state_machines: S,
    parameters: P,
    config: Config,
}

impl<S: StateMachines, P: ParameterStore + Sync> Api<S, P> {
    pub fn new(state_machines: S, parameters: P, config: Config) -> Self {
        Self { state_machines, parameters, config }
    }

    pub fn state_machines(&self) -> &S {
        &self.state_machines
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Answers one request; every failure is a JSON response, never an error of the function.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let caller = caller(&request);
        let path = request.uri().path();
        let mut allow = None;
        let result = match match_route(request.method().as_str(), path) {
            Matched::Route(route, parameter) => self.route(route, parameter, &request, caller.as_deref()).await,
            Matched::MethodNotAllowed(methods) => {
                allow = HeaderValue::from_str(&methods.join(", ")).ok();
                Err(ApiError::new(StatusCode::METHOD_NOT_ALLOWED, format!("{path} allows {}", methods.join(", "))))
            }
            Matched::NotFound => Err(ApiError::new(StatusCode::NOT_FOUND, format!("no route {path}"))),
        };
        let (status, body) = match result {
            Ok(answer) => answer,
            Err(error) => {
                tracing::warn!(status = error.status.as_u16(), error = %error.message, field = error.field.as_deref(), "request refused");
                (error.status, error.body())
            }
        };
        tracing::info!(method = %request.method(), path, status = status.as_u16(), caller = caller.as_deref(), "request answered");
        let mut response = Response::new(Body::Text(body.to_string()));
        *response.status_mut() = status;
        response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(allow) = allow {
            response.headers_mut().insert(ALLOW, allow);
        }
        response
    }

    async fn route(&self, route: Route, parameter: Option<&str>, request: &Request, caller: Option<&str>) -> Answer {
        // Checked first, like the rest of the input, before any call; unused (empty) by routes
        // that start nothing.
        let key = if route.takes_idempotency_key() { idempotency_key(request.headers())? } else { String::new() };
        match route {
            Route::StartRun => self.start_run(&key, request).await,
            Route::GetRun => self.get_run(&path_name("id", parameter)?).await,
            Route::PromoteRun => self.promote(&path_name("id", parameter)?, &key, request, caller).await,
            Route::ApproveRun => self.decide(&path_name("id", parameter)?, request, Verdict::Approved, caller).await,
            Route::RejectRun => self.decide(&path_name("id", parameter)?, request, Verdict::Rejected, caller).await,
            Route::TeardownEnvironment => self.teardown(parameter.unwrap_or_default(), &key, request, caller).await,
            Route::RedriveRun => self.redrive(&path_name("id", parameter)?, &key, caller).await,
        }
    }

    /// `POST /runs`: validate the run document, then start the staging machine under the key.
    async fn start_run(&self, key: &str, request: &Request) -> Answer {
        let Some(document) = json_body(request.body())? else {
            return Err(ApiError::bad("(document)", "the body must be a run document; {} runs the runbook's defaults"));
        };
        let input = RunInput::from_json(document.clone()).map_err(invalid_document)?;
        input.validate().map_err(invalid_document)?;
        let own = execution_arn(&self.config.staging_state_machine_arn, key);
        self.refuse_while_held(&input.app, LeasedEnvironment::Staging, &own).await?;
        self.start_once(&self.config.staging_state_machine_arn, key, &document).await
    }

    /// 409, before StartExecution, while a running execution other than `own` (the one this
    /// request's key names) holds `app`'s `environment`. A holder that has ended is for the
    /// execution's own lease step to judge: it takes the lease over once the holder's
    /// environment is free (for staging: once the holder's staging is gone).
    async fn refuse_while_held(&self, app: &str, environment: LeasedEnvironment, own: &str) -> Result<(), ApiError> {
        let parameter = lease_parameter(app, environment);
        let stored =
            self.parameters.get_parameter(&parameter).await.map_err(|e| ApiError::upstream("Parameter Store", "GetParameter", e))?;
        // No lease, or something that is not one (which the lease step refuses, naming it).
        let Some(holder) = stored.and_then(|p| Lease::parse(&parameter, p.value.expose()).ok()) else { return Ok(()) };
        if holder.execution_arn == own {
            // A retried request: start_once answers the execution it started.
            return Ok(());
        }
        match self.describe(&holder.execution_arn).await? {
            Some(execution) if EXECUTION.of(&execution.status) == Phase::InProgress => {
                let reason = format!("its execution is {}", execution.status);
                Err(ApiError::held(LeaseHeld { app: app.to_string(), environment, holder, reason }))
            }
            _ => Ok(()),
        }
    }

    /// Starts an execution named `key`, or answers the one the key already started with this
    /// same input: 202 when started (or still running), 200 when it has ended; 409 when the key
    /// was used for a different input.
    async fn start_once(&self, state_machine_arn: &str, key: &str, input: &Value) -> Answer {
        match self.state_machines.start_execution(state_machine_arn, key, &canonical(input).to_string()).await {
            Ok(started) => Ok((
                StatusCode::ACCEPTED,
                json!({ "id": key, "execution_arn": started.execution_arn, "status": "RUNNING", "started_at": rfc3339(started.start_date) }),
            )),
            // Standard workflows answer a running execution again, but refuse the name of one
            // that has ended, whatever the input: still this request if the input is the same.
            Err(e) if e.is(CloudErrorKind::AlreadyExists) => {
                let existing = self.describe(&execution_arn(state_machine_arn, key)).await?;
                match existing {
                    Some(d) if d.input.as_deref().map(json_or_text).as_ref() == Some(input) => Ok((
                        StatusCode::OK,
                        json!({ "id": key, "execution_arn": d.arn, "status": d.status, "started_at": rfc3339(Some(d.start)) }),
                    )),
                    _ => Err(ApiError::field(
                        StatusCode::CONFLICT,
                        IDEMPOTENCY_KEY,
                        format!("{key:?} already started a request with a different body; use a new key for a new request"),
                    )),
                }
            }
            Err(e) => Err(sfn("StartExecution")(e)),
        }
    }

    async fn describe(&self, arn: &str) -> Result<Option<ExecutionInfo>, ApiError> {
        self.state_machines.describe_execution(arn).await.map_err(sfn("DescribeExecution"))
    }

    async fn history(&self, arn: &str) -> Result<Vec<HistoryEvent>, ApiError> {
        self.state_machines.execution_history(arn).await.map_err(sfn("GetExecutionHistory"))
    }

    /// The staging execution named `id`, or 404.
    async fn run(&self, id: &str) -> Result<ExecutionInfo, ApiError> {
        self.describe(&execution_arn(&self.config.staging_state_machine_arn, id))
            .await?
            .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no run {id:?}")))
    }

    /// The running promotions of the staging execution `run_arn`.
    async fn promotions_of(&self, run_arn: &str) -> Result<Vec<RunningPromotion>, ApiError> {
        let running =
            self.state_machines.running_executions(&self.config.promote_state_machine_arn).await.map_err(sfn("ListExecutions"))?;
        let mut found = Vec::new();
        for arn in running {
            let Some(execution) = self.describe(&arn).await? else { continue };
            let input = execution.input.as_deref().map(json_or_text).unwrap_or(Value::Null);
            if execution.status != "RUNNING" || input.get("staging_execution_arn").and_then(Value::as_str) != Some(run_arn) {
                continue;
            }
            let open = history::open_states(&self.history(&arn).await?);
            let awaiting_approval = open.iter().any(|state| AWAITING_STATES.contains(&state.as_str()));
            let name = execution.name.clone().unwrap_or_else(|| arn.rsplit(':').next().unwrap_or_default().to_string());
            found.push(RunningPromotion { execution, name, input, awaiting_approval });
        }
        Ok(found)
    }

    /// `GET /runs/{id}`: status, the states the run is in, its report (the output) or failure,
    /// its plan's run id, what a promotion of it ships, and its running promotions (who asked,
    /// which image, whether it waits for a decision).
    async fn get_run(&self, id: &str) -> Answer {
        let execution = self.run(id).await?;
        let events = self.history(&execution.arn).await?;
        let plan = plan_of(&events)?;
        let run_id = plan.as_ref().and_then(run_id_of);
        let promotions = self.promotions_of(&execution.arn).await?;
        let awaiting_approval = promotions.iter().any(|p| p.awaiting_approval);
        let running = execution.status == "RUNNING";
        let failure =
            execution.error.as_ref().map(|error| json!({ "error": error, "cause": execution.cause.as_deref().map(json_or_text) }));
        Ok((
            StatusCode::OK,
            json!({
                "id": id,
                "run_id": run_id,
                "execution_arn": execution.arn,
                "status": execution.status,
                "started_at": rfc3339(Some(execution.start)),
                "stopped_at": rfc3339(execution.stop),
                "current_states": if running { history::open_states(&events) } else { Vec::new() },
                "last_state": history::last_state(&events),
                "ships": plan.as_ref().map_or(Value::Null, ships),
                "promotions": promotions.iter().map(RunningPromotion::summary).collect::<Vec<_>>(),
                "awaiting_approval": awaiting_approval,
                "report": execution.output.as_deref().map(json_or_text),
                "failure": failure,
            }),
        ))
    }

    /// `POST /runs/{id}/promote`: starts the promote machine on the run, named after the key,
    /// with the caller as `requested_by` (never taken from the body).
    async fn promote(&self, id: &str, key: &str, request: &Request, caller: Option<&str>) -> Answer {
        let body = object_body(request.body(), &PROMOTE_FIELDS)?;
        let caller = caller.ok_or_else(unidentified)?;
        let run = self.run(id).await?;
        if run.status != "SUCCEEDED" {
            return Err(ApiError::conflict(format!("run {id:?} is {}: only a run that passed can be promoted", run.status)));
        }
        let plan = plan_of(&self.history(&run.arn).await?)?;
        let run_id = plan.as_ref().and_then(run_id_of).ok_or_else(|| ApiError::conflict(format!("run {id:?} reports no plan")))?;
        let mut document = body;
        document.insert("run_id".into(), json!(run_id));
        document.insert("staging_execution_arn".into(), json!(run.arn));
        document.insert("requested_by".into(), json!(caller));
        let document = Value::Object(document);
        PromoteInput::from_json(document.clone()).map_err(invalid_document)?;
        // One promotion at a time deploys production: the promote machine's own lease step
        // would refuse a second one after it starts; this answers at once, naming the holder.
        let app = plan.as_ref().and_then(|p| p.get("app")).and_then(Value::as_str).unwrap_or_default();
        let own = execution_arn(&self.config.promote_state_machine_arn, key);
        self.refuse_while_held(app, LeasedEnvironment::Production, &own).await?;
        let (status, mut answer) = self.start_once(&self.config.promote_state_machine_arn, key, &document).await?;
        answer["run"] = json!(id);
        answer["requested_by"] = json!(caller);
        Ok((status, answer))
    }

    /// `POST /runs/{id}/approve|reject`: writes the caller's decision on the promotion of the run
    /// that waits for one (`promotion` names it when several do). An approval by the promotion's
    /// requester, or by a principal not among the stack's approvers, is 403; the promote
    /// machine's `check_approval` checks both again.
    async fn decide(&self, id: &str, request: &Request, verdict: Verdict, caller: Option<&str>) -> Answer {
        let body = object_body(request.body(), &["comment", "promotion"])?;
        let comment = match body.get("comment") {
            None | Some(Value::Null) => None,
            Some(Value::String(c)) if c.chars().count() <= MAX_COMMENT => Some(bounded_comment(c)),
            Some(_) => return Err(ApiError::bad("comment", format!("must be a string of at most {MAX_COMMENT} characters"))),
        };
        let named = match body.get("promotion") {
            None => None,
            Some(Value::String(p)) if is_name(p) => Some(p.clone()),
            Some(_) => return Err(ApiError::bad("promotion", "must be the id POST /runs/{id}/promote answered")),
        };
        let caller = caller.ok_or_else(unidentified)?;
        let run = self.run(id).await?;
        let mut waiting: Vec<RunningPromotion> = self.promotions_of(&run.arn).await?.into_iter().filter(|p| p.awaiting_approval).collect();
        if let Some(named) = &named {
            waiting.retain(|p| &p.name == named);
        }
        let promotion = match waiting.len() {
            0 => return Err(ApiError::conflict(format!("run {id:?} has no pending approval"))),
            1 => waiting.remove(0),
            _ => {
                let names: Vec<&str> = waiting.iter().map(|p| p.name.as_str()).collect();
                return Err(ApiError::field(
                    StatusCode::CONFLICT,
                    "promotion",
                    format!("several promotions of run {id:?} wait: name one of {names:?}"),
                ));
            }
        };
        let requester = promotion.requested_by().unwrap_or_default().to_string();
        if verdict == Verdict::Approved {
            if same_principal(&requester, caller) {
                return Err(ApiError::forbidden(format!(
                    "{caller} requested promotion {:?} and cannot approve it: someone else must",
                    promotion.name
                )));
            }
            if !self.config.approvers.is_empty() && !self.config.approvers.iter().any(|a| same_principal(a, caller)) {
                return Err(ApiError::forbidden(format!("{caller} is not one of the stack's approvers (its Approvers parameter)")));
            }
        }
        let decision = ApprovalDecision {
            verdict,
            by: caller.to_string(),
            requested_by: requester,
            promotion_started_at: promotion.execution.start,
            decided_at: Utc::now(),
            comment,
        };
        decision.write(&self.parameters, &promotion.name).await.map_err(|e| ApiError::upstream("Parameter Store", "PutParameter", e))?;
        tracing::info!(run = id, promotion = promotion.name, decision = verdict_word(verdict), by = caller, "decision written");
        Ok((StatusCode::OK, json!({ "id": id, "promotion": promotion.name, "decision": verdict_word(verdict), "by": caller })))
    }

    /// `POST /environments/{env}/teardown`: starts the teardown machine on a finished run's plan,
    /// with the input the run's own teardown schedule sends.
    async fn teardown(&self, environment: &str, key: &str, request: &Request, caller: Option<&str>) -> Answer {
        if environment != TEARDOWN_ENVIRONMENT {
            return Err(ApiError::bad(
                "env",
                format!("only {TEARDOWN_ENVIRONMENT:?} can be torn down through the API, not {environment:?}"),
            ));
        }
        let body = object_body(request.body(), &["run", "final_snapshot"])?;
        let run = match body.get("run") {
            Some(Value::String(run)) if is_name(run) => run.clone(),
            _ => return Err(ApiError::bad("run", "is required: the id of the run (as POST /runs answered it) whose staging to tear down")),
        };
        let final_snapshot = match body.get("final_snapshot") {
            None => true,
            Some(Value::Bool(keep)) => *keep,
            Some(_) => {
                return Err(ApiError::bad("final_snapshot", "must be true (the default: snapshot the staging database first) or false"))
            }
        };
        let staging = self.run(&run).await?;
        if staging.status == "RUNNING" {
            return Err(ApiError::conflict(format!("run {run:?} is still running; a run that fails rolls itself back")));
        }
        let events = self.history(&staging.arn).await?;
        let Some(plan) = plan_of(&events)? else {
            return Err(ApiError::conflict(format!("run {run:?} ended before it was planned: it created nothing to tear down")));
        };
        let reason = format!("requested through the API by {}", caller.unwrap_or("an unidentified caller"));
        let input = json!({ "plan": plan, "reason": reason, "final_snapshot": final_snapshot });
        let (status, mut body) = self.start_once(&self.config.teardown_state_machine_arn, key, &input).await?;
        body["environment"] = json!(TEARDOWN_ENVIRONMENT);
        body["run"] = json!(run);
        Ok((status, body))
    }

    /// `POST /runs/{id}/redrive`: RedriveExecution on a staging run that stopped where a redrive
    /// continues it: failed, timed out or aborted, not in one of its Fail states (a redrive
    /// would enter it again and fail again), and still holding its staging lease (nobody tore
    /// its environment down or took it since). The key is RedriveExecution's client token.
    async fn redrive(&self, id: &str, key: &str, caller: Option<&str>) -> Answer {
        if key.len() > MAX_CLIENT_TOKEN {
            return Err(ApiError::bad(
                IDEMPOTENCY_KEY,
                format!("a redrive's key is its client token: at most {MAX_CLIENT_TOKEN} characters"),
            ));
        }
        let run = self.run(id).await?;
        if !REDRIVABLE.contains(&run.status.as_str()) {
            return Err(ApiError::conflict(format!(
                "run {id:?} is {}: only a failed, timed-out or aborted run can be redriven",
                run.status
            )));
        }
        let events = self.history(&run.arn).await?;
        // The state entered last is where it ended (a Fail state inside a Parallel whose failure
        // was caught, say StopDatabaseBranch before a rollback, is not).
        let last = events.iter().rev().find(|e| e.entered.is_some());
        if let Some(fail_state) = last.filter(|e| e.kind == "FailStateEntered").and_then(|e| e.entered.as_deref()) {
            return Err(ApiError::conflict(format!(
                "run {id:?} ended in its Fail state {fail_state}: a redrive would enter it again and fail again; start a new run"
            )));
        }
        let Some(plan) = plan_of(&events)? else {
            return Err(ApiError::conflict(format!("run {id:?} stopped before it was planned: start it again instead")));
        };
        let app = plan.get("app").and_then(Value::as_str).unwrap_or_default();
        let parameter = lease_parameter(app, LeasedEnvironment::Staging);
        let stored =
            self.parameters.get_parameter(&parameter).await.map_err(|e| ApiError::upstream("Parameter Store", "GetParameter", e))?;
        match stored.map(|p| Lease::parse(&parameter, p.value.expose())) {
            Some(Ok(lease)) if lease.execution_arn == run.arn => {}
            Some(Ok(holder)) => {
                let reason = "another run took the environment after this one stopped".to_string();
                return Err(ApiError::held(LeaseHeld { app: app.to_string(), environment: LeasedEnvironment::Staging, holder, reason }));
            }
            Some(Err(e)) => return Err(ApiError::conflict(e)),
            None => {
                return Err(ApiError::conflict(format!(
                    "run {id:?} no longer holds {parameter}: its staging was rolled back or torn down; start a new run"
                )))
            }
        }
        let redriven = match self.state_machines.redrive_execution(&run.arn, key).await {
            Ok(date) => date,
            Err(e) if e.is(CloudErrorKind::InvalidState) => return Err(ApiError::conflict(format!("Step Functions refuses: {e}"))),
            Err(e) => return Err(sfn("RedriveExecution")(e)),
        };
        tracing::info!(run = id, by = caller, "run redriven");
        Ok((StatusCode::ACCEPTED, json!({ "id": id, "execution_arn": run.arn, "status": "RUNNING", "redriven_at": rfc3339(redriven) })))
    }
}
