//! Executes a definition the way AWS Step Functions does, on a virtual clock: every wait, retry
//! delay and timeout is a `tokio::time` sleep, so under a paused runtime hours pass in milliseconds.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, FixedOffset, Utc};
use futures::future::{try_join_all, FutureExt, LocalBoxFuture};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::Digest;
use tokio::time::Instant;

use crate::choice::parse_timestamp;
use crate::definition::{
    Body, FailField, Handling, IoPath, Machine, Parallel, Resource, ResultPath, Retrier, State, Task, Timeout, Transition, WaitFor,
};
use crate::events::{Event, Observer};
use crate::intrinsic::uuid_text;
use crate::path::{JsonPath, Scope};
use crate::redrive::{Branch, ExecutionRecord, ExecutionStatus, Position};
use crate::{AslError, Definition};

/// The Resource (and the invoker's resource name) of the SNS Publish integration.
pub const SNS_PUBLISH: &str = "arn:aws:states:::sns:publish";

/// AWS's payload quota for state input, output and task results.
const PAYLOAD_LIMIT_BYTES: usize = 256 * 1024;

/// A task's failure as AWS reports it: the error name a Retry or Catch matches, and its cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskFailure {
    pub error: String,
    pub cause: String,
}

/// One invocation of a Task. For `arn:aws:states:::lambda:invoke` (and its `.waitForTaskToken`
/// form), `resource` is `Parameters.FunctionName` (with `:Qualifier` when given) and `input` is
/// `Parameters.Payload`; for a Lambda ARN Resource, `input` is the effective input; for another
/// service integration (`arn:aws:states:::sns:publish`), `resource` is that ARN and `input` the
/// request built from Parameters. `attempt` counts from 1.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskCall {
    pub state: String,
    pub resource: String,
    pub input: Value,
    pub attempt: u32,
    /// For a `.waitForTaskToken` task: the token (`$$.Task.Token`) the invocation waits on.
    pub task_token: Option<String>,
}

/// Runs Task states. Not `Send`: the runner runs on a current-thread runtime.
///
/// A call with a `task_token` is a callback task: the future resolves only when the token is
/// answered, with SendTaskSuccess's output or SendTaskFailure's error and cause (the task's
/// TimeoutSeconds bounds the wait, as in AWS). Its result is not wrapped like lambda:invoke's.
pub trait TaskInvoker {
    fn invoke<'a>(&'a self, call: TaskCall) -> Pin<Box<dyn Future<Output = Result<Value, TaskFailure>> + 'a>>;
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunOptions {
    pub execution_name: String,
    /// A name, or a full state machine ARN to use as `$$.StateMachine.Id` (a name gets a
    /// placeholder ARN in us-east-1, account 123456789012).
    pub state_machine_name: String,
    /// `$$.Execution.StartTime`; `$$.State.EnteredTime` is this plus the virtual elapsed time.
    pub start_time: DateTime<Utc>,
    pub max_history_events: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            execution_name: "local-execution".to_string(),
            state_machine_name: "local-state-machine".to_string(),
            start_time: Utc::now(),
            max_history_events: 25_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Succeeded { output: Value },
    Failed { error: String, cause: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    pub outcome: Outcome,
    /// Virtual time from the execution's start to its end (for a redrive: its StartTime to the
    /// redrive's end).
    pub elapsed: Duration,
    /// Entries AWS would have written to the execution history (a redrive's included).
    pub history_events: usize,
    /// What a [`redrive`] of this execution needs.
    pub record: ExecutionRecord,
}

/// Runs `def` to completion. `Err` is only for problems of the runner itself (the history cap);
/// every ASL failure is `Outcome::Failed` with the error and cause AWS would report.
pub async fn run(
    def: &Definition,
    input: Value,
    tasks: &dyn TaskInvoker,
    observer: &dyn Observer,
    options: &RunOptions,
) -> Result<Execution, AslError> {
    let identity = Identity {
        execution_name: &options.execution_name,
        state_machine_name: &options.state_machine_name,
        input: &input,
        start_time: options.start_time,
        redrive: None,
    };
    let runner = Runner::new(tasks, observer, identity, 0, options.max_history_events);
    runner.record(Event::ExecutionStarted { input: input.clone() }, "")?;
    runner.execute(def, Entry::Start(input.clone())).await
}

/// Redrives the unsuccessful execution `record` describes, as `RedriveExecution` does, starting
/// at `redrive_time` (on the virtual clock, as [`run`] does): its unsuccessful states run again
/// with the input they had, their retry counts reset, and the redrive's events are appended to
/// its history (see the [`redrive`](mod@crate::redrive) module for the rules and their sources).
/// `Err` is [`AslError::NotRedrivable`] (with AWS's reason) before anything runs, or a problem of
/// the runner itself, as for [`run`].
pub async fn redrive(
    def: &Definition,
    record: &ExecutionRecord,
    tasks: &dyn TaskInvoker,
    observer: &dyn Observer,
    redrive_time: DateTime<Utc>,
) -> Result<Execution, AslError> {
    record.check_redrivable(def, redrive_time)?;
    let Some(position) = &record.stopped_in else {
        return Err(AslError::Record { message: "it does not say where the execution stopped".into() });
    };
    let redrive_count = record.redrive_count + 1;
    let identity = Identity {
        execution_name: &record.execution_name,
        state_machine_name: &record.state_machine_name,
        input: &record.input,
        start_time: record.start_time,
        redrive: Some((redrive_count, redrive_time)),
    };
    let runner = Runner::new(tasks, observer, identity, record.history_events, record.history_limit);
    runner.record(Event::ExecutionRedriven { redrive_count, at: runner.elapsed() }, "")?;
    runner.execute(def, Entry::Resume(position)).await
}

/// Who the execution is, and whether this run of it is a redrive (its count and start).
struct Identity<'a> {
    execution_name: &'a str,
    state_machine_name: &'a str,
    input: &'a Value,
    start_time: DateTime<Utc>,
    redrive: Option<(u32, DateTime<Utc>)>,
}

/// Where a machine starts: its StartAt with an input, or where a redriven execution stopped.
enum Entry<'s> {
    Start(Value),
    Resume(&'s Position),
}

struct Failure {
    error: String,
    cause: String,
}

/// Why a state did not produce an output: an ASL failure (which Retry/Catch may handle and which
/// ends the execution as Failed) or a runner-level abort that ends `run` with `Err`.
enum Halt {
    Failed(Failure),
    Abort(AslError),
}

impl From<AslError> for Halt {
    fn from(e: AslError) -> Self {
        Halt::Abort(e)
    }
}

type Flow<T> = Result<T, Halt>;

enum Step<'s> {
    Next(&'s str, Value),
    End(Value),
}

/// The outcome of a state with Retry/Catch: its result, or the catcher that took over.
enum Handled<'s> {
    Done(Value),
    Caught(&'s str, Value),
}

/// What a state's error causes and its context object need to know about its entry.
struct Entered<'s> {
    state: &'s State,
    path: &'s str,
    at: Duration,
    event_id: usize,
}

impl Entered<'_> {
    /// States.Runtime with the prefix AWS puts on its causes.
    fn runtime(&self, cause: impl Display) -> Halt {
        Halt::Failed(Failure {
            error: "States.Runtime".into(),
            cause: format!(
                "An error occurred while executing the state '{}' (entered at the event id #{}). {cause}",
                self.state.name, self.event_id
            ),
        })
    }
}

/// AWS never retries or catches these, not even with States.ALL.
fn is_terminal(error: &str) -> bool {
    error == "States.Runtime" || error == "States.DataLimitExceeded"
}

/// States.ALL matches every (non-terminal) error; States.TaskFailed every one but States.Timeout.
fn error_matches(names: &[String], error: &str) -> bool {
    names.iter().any(|n| n == error || n == "States.ALL" || (n == "States.TaskFailed" && error != "States.Timeout"))
}

/// IntervalSeconds × BackoffRate^(retries this retrier already made), capped by MaxDelaySeconds.
fn retry_delay(retrier: &Retrier, previous: u64) -> Duration {
    let exponent = i32::try_from(previous).unwrap_or(i32::MAX);
    let mut seconds = retrier.interval_seconds as f64 * retrier.backoff_rate.powi(exponent);
    if let Some(cap) = retrier.max_delay_seconds {
        seconds = seconds.min(cap as f64);
    }
    Duration::try_from_secs_f64(seconds).unwrap_or(Duration::from_secs(u64::from(u32::MAX)))
}

struct Runner<'r> {
    tasks: &'r dyn TaskInvoker,
    observer: &'r dyn Observer,
    identity: Identity<'r>,
    /// Virtual time from the execution's start to this run's (a redrive's) start.
    offset: Duration,
    clock: Instant,
    history: Cell<usize>,
    history_limit: usize,
    invocations: Cell<u64>,
    execution: Value,
    state_machine: Value,
    /// What request ids and task tokens derive from: the execution, and the redrive if any.
    seed: String,
    /// Per machine path, the state it is in and that state's raw input: where a redrive resumes.
    positions: RefCell<BTreeMap<String, (String, Value)>>,
    /// Per Parallel branch path, the output of a branch that succeeded in its state's attempt.
    branch_outputs: RefCell<BTreeMap<String, Value>>,
}

impl<'r> Runner<'r> {
    fn new(tasks: &'r dyn TaskInvoker, observer: &'r dyn Observer, identity: Identity<'r>, history: usize, history_limit: usize) -> Self {
        let given = identity.state_machine_name;
        let (machine_id, machine_name) = match given.split_once(":stateMachine:") {
            Some((_, name)) if given.starts_with("arn:") => (given.to_string(), name.to_string()),
            _ => (format!("arn:aws:states:us-east-1:123456789012:stateMachine:{given}"), given.to_string()),
        };
        let execution_id = format!("{}:{}", machine_id.replacen(":stateMachine:", ":execution:", 1), identity.execution_name);
        // The Id as JSON writes it: what the request ids and tokens have always derived from.
        let id_seed = Value::from(execution_id.as_str()).to_string();
        let mut execution = json!({
            "Id": execution_id,
            "Input": identity.input,
            "Name": identity.execution_name,
            "StartTime": iso_millis(identity.start_time),
            "RedriveCount": 0,
        });
        let (offset, seed) = match identity.redrive {
            None => (Duration::ZERO, id_seed),
            Some((count, at)) => {
                execution["RedriveCount"] = json!(count);
                execution["RedriveTime"] = json!(iso_millis(at));
                ((at - identity.start_time).to_std().unwrap_or(Duration::ZERO), format!("{id_seed}|redrive-{count}"))
            }
        };
        Runner {
            tasks,
            observer,
            identity,
            offset,
            clock: Instant::now(),
            history: Cell::new(history),
            history_limit,
            invocations: Cell::new(0),
            execution,
            state_machine: json!({"Id": machine_id, "Name": machine_name}),
            seed,
            positions: RefCell::default(),
            branch_outputs: RefCell::default(),
        }
    }

    fn elapsed(&self) -> Duration {
        self.offset + self.clock.elapsed()
    }

    fn now(&self) -> DateTime<Utc> {
        at_offset(self.identity.start_time, self.elapsed())
    }

    /// Runs the top-level machine under the state machine's TimeoutSeconds (counted from this
    /// run's start: a redrive resets it) and records how the execution ended.
    async fn execute(&self, def: &Definition, entry: Entry<'_>) -> Result<Execution, AslError> {
        let body = self.run_machine(&def.machine, "", entry);
        let (flow, status) = match def.timeout_seconds {
            Some(seconds) => match tokio::time::timeout(Duration::from_secs(seconds), body).await {
                Ok(flow) => (flow, ExecutionStatus::Failed),
                Err(_) => {
                    let cause = format!("The execution ran longer than the state machine's TimeoutSeconds ({seconds} s)");
                    (Err(Halt::Failed(Failure { error: "States.Timeout".into(), cause })), ExecutionStatus::TimedOut)
                }
            },
            None => (body.await, ExecutionStatus::Failed),
        };
        let (outcome, status) = match flow {
            Ok(output) => {
                self.record(Event::ExecutionSucceeded { output: output.clone(), at: self.elapsed() }, "")?;
                (Outcome::Succeeded { output }, ExecutionStatus::Succeeded)
            }
            Err(Halt::Failed(Failure { error, cause })) => {
                self.record(Event::ExecutionFailed { error: error.clone(), cause: cause.clone(), at: self.elapsed() }, "")?;
                (Outcome::Failed { error, cause }, status)
            }
            Err(Halt::Abort(e)) => return Err(e),
        };
        let stopped_in = match &outcome {
            Outcome::Succeeded { .. } => None,
            // States.DataLimitExceeded reruns a Parallel whole, so no branch is kept.
            Outcome::Failed { error, .. } => self.stopped_in(&def.machine, "", error != "States.DataLimitExceeded"),
        };
        let record = ExecutionRecord {
            execution_name: self.identity.execution_name.to_string(),
            state_machine_name: self.identity.state_machine_name.to_string(),
            definition_digest: def.digest.clone(),
            input: self.identity.input.clone(),
            start_time: self.identity.start_time,
            stop_time: self.now(),
            status,
            redrive_count: self.identity.redrive.map_or(0, |(count, _)| count),
            redrive_time: self.identity.redrive.map(|(_, at)| at),
            history_events: self.history.get(),
            history_limit: self.history_limit,
            stopped_in,
        };
        Ok(Execution { outcome, elapsed: self.elapsed(), history_events: self.history.get(), record })
    }

    /// The state the machine at `path` stopped in, with its Parallel branches as they were.
    fn stopped_in(&self, machine: &Machine, path: &str, keep_branches: bool) -> Option<Position> {
        let (name, input) = self.positions.borrow().get(path).cloned()?;
        let branches = match &machine.states[&name].body {
            Body::Parallel(parallel) if keep_branches => Some(
                parallel
                    .branches
                    .iter()
                    .enumerate()
                    .map(|(i, branch)| {
                        let branch_path = format!("{}/{i}", branch_base(path, &name));
                        if let Some(output) = self.branch_outputs.borrow().get(&branch_path) {
                            return Branch::Succeeded { output: output.clone() };
                        }
                        self.stopped_in(branch, &branch_path, keep_branches).map_or(Branch::NotStarted, Branch::Unsuccessful)
                    })
                    .collect(),
            ),
            _ => None,
        };
        Some(Position { state: name, input, branches })
    }

    /// Forgets what earlier attempts of the Parallel state at `base` left in its branches.
    fn forget_branches(&self, base: &str) {
        let prefix = format!("{base}/");
        self.positions.borrow_mut().retain(|path, _| !path.starts_with(&prefix));
        self.branch_outputs.borrow_mut().retain(|path, _| !path.starts_with(&prefix));
    }

    /// Counts history entries against the cap AWS enforces, then reports the event.
    fn record(&self, event: Event, state: &str) -> Result<usize, AslError> {
        self.count(event.history_weight(), state)?;
        self.observer.on_event(&event);
        Ok(self.history.get())
    }

    fn count(&self, entries: usize, state: &str) -> Result<(), AslError> {
        let total = self.history.get() + entries;
        if total > self.history_limit {
            return Err(AslError::HistoryLimit { limit: self.history_limit, state: state.to_string() });
        }
        self.history.set(total);
        Ok(())
    }

    fn context(&self, entered: &Entered, retry_count: u32) -> Value {
        let entered_time = at_offset(self.identity.start_time, entered.at);
        json!({
            "Execution": self.execution.clone(),
            "StateMachine": self.state_machine.clone(),
            "State": {"Name": entered.state.name, "EnteredTime": iso_millis(entered_time), "RetryCount": retry_count},
        })
    }

    fn select(&self, path: &JsonPath, input: &Value, entered: &Entered, retry_count: u32) -> Result<Value, String> {
        let context = if path.is_context() { self.context(entered, retry_count) } else { Value::Null };
        Scope { input, context: &context }.resolve(path)
    }

    fn input_path(&self, entered: &Entered, raw: &Value) -> Flow<Value> {
        match &entered.state.input_path {
            IoPath::Whole => Ok(raw.clone()),
            IoPath::Empty => Ok(json!({})),
            IoPath::Path(path) => {
                self.select(path, raw, entered, 0).map_err(|e| entered.runtime(format!("Invalid path '{}' : {e}", path.text())))
            }
        }
    }

    fn output_path(&self, entered: &Entered, value: Value) -> Flow<Value> {
        let output = match &entered.state.output_path {
            IoPath::Whole => value,
            IoPath::Empty => json!({}),
            IoPath::Path(path) => {
                self.select(path, &value, entered, 0).map_err(|e| entered.runtime(format!("Invalid path '{}' : {e}", path.text())))?
            }
        };
        check_size(entered, &output, "output")?;
        Ok(output)
    }

    fn run_machine<'s>(&'s self, machine: &'s Machine, path: &'s str, entry: Entry<'s>) -> LocalBoxFuture<'s, Flow<Value>> {
        async move {
            let (mut name, mut input, mut branches) = match entry {
                Entry::Start(input) => (machine.start_at.as_str(), input, None),
                Entry::Resume(position) => (position.state.as_str(), position.input.clone(), position.branches.as_deref()),
            };
            loop {
                // Only the state a redrive resumes in has branches to resume.
                match self.run_state(&machine.states[name], path, input, branches.take()).await? {
                    Step::Next(next, output) => {
                        name = next;
                        input = output;
                    }
                    Step::End(output) => return Ok(output),
                }
            }
        }
        .boxed_local()
    }

    /// Runs one state; `branches` resumes a Parallel state's branches as a redrive found them.
    async fn run_state<'s>(&'s self, state: &'s State, path: &'s str, raw: Value, branches: Option<&'s [Branch]>) -> Flow<Step<'s>> {
        let at = self.elapsed();
        let entered_event =
            Event::StateEntered { path: path.into(), name: state.name.clone(), kind: state.kind().into(), at, input: raw.clone() };
        let event_id = self.record(entered_event, &state.name)?;
        self.positions.borrow_mut().insert(path.to_string(), (state.name.clone(), raw.clone()));
        let entered = Entered { state, path, at, event_id };
        let (output, transition): (Value, Option<&Transition>) = match &state.body {
            Body::Pass { parameters, result, result_path, transition } => {
                let effective = self.input_path(&entered, &raw)?;
                let built = match parameters {
                    Some(template) => {
                        let context = self.context(&entered, 0);
                        template.eval(&Scope { input: &effective, context: &context }).map_err(|e| entered.runtime(e))?
                    }
                    None => effective,
                };
                check_size(&entered, &built, "input after Parameters")?;
                let result = result.clone().unwrap_or(built);
                (self.output_path(&entered, apply_result_path(result_path, &raw, result)?)?, Some(transition))
            }
            Body::Task(task) => match self.with_retries(&entered, Work::Task(task), &task.handling, &raw, None).await? {
                Handled::Done(output) => (self.output_path(&entered, output)?, Some(&task.transition)),
                Handled::Caught(next, output) => return Ok(Step::Next(next, output)),
            },
            Body::Parallel(parallel) => {
                match self.with_retries(&entered, Work::Parallel(parallel), &parallel.handling, &raw, branches).await? {
                    Handled::Done(output) => (self.output_path(&entered, output)?, Some(&parallel.transition)),
                    Handled::Caught(next, output) => return Ok(Step::Next(next, output)),
                }
            }
            Body::Choice { choices, default } => {
                let effective = self.input_path(&entered, &raw)?;
                let context = self.context(&entered, 0);
                let scope = Scope { input: &effective, context: &context };
                let mut target = None;
                for choice in choices {
                    if choice.matches(&scope).map_err(|e| entered.runtime(e))? {
                        target = Some(choice.next.as_str());
                        break;
                    }
                }
                let next = target
                    .or(default.as_deref())
                    .ok_or_else(|| Halt::Failed(Failure { error: "States.NoChoiceMatched".into(), cause: "No Matches!".into() }))?;
                let output = self.output_path(&entered, effective)?;
                self.exit(&entered, &output)?;
                return Ok(Step::Next(next, output));
            }
            Body::Wait { wait, transition } => {
                let effective = self.input_path(&entered, &raw)?;
                let delay = self.wait_delay(&entered, wait, &effective)?;
                let until = self.elapsed() + delay;
                self.record(
                    Event::WaitStarted {
                        path: path.into(),
                        name: state.name.clone(),
                        at: self.elapsed(),
                        until_seconds: until.as_secs_f64(),
                    },
                    &state.name,
                )?;
                tokio::time::sleep(delay).await;
                (self.output_path(&entered, effective)?, Some(transition))
            }
            Body::Succeed => {
                let effective = self.input_path(&entered, &raw)?;
                (self.output_path(&entered, effective)?, None)
            }
            Body::Fail { error, cause } => {
                let context = self.context(&entered, 0);
                let scope = Scope { input: &raw, context: &context };
                let error = fail_text(&entered, error, &scope, "ErrorPath")?;
                let cause = fail_text(&entered, cause, &scope, "CausePath")?;
                return Err(Halt::Failed(Failure { error, cause }));
            }
        };
        self.exit(&entered, &output)?;
        Ok(match transition {
            Some(Transition::Next(next)) => Step::Next(next, output),
            Some(Transition::End) | None => Step::End(output),
        })
    }

    fn exit(&self, entered: &Entered, output: &Value) -> Result<(), AslError> {
        let event =
            Event::StateExited { path: entered.path.into(), name: entered.state.name.clone(), at: self.elapsed(), output: output.clone() };
        self.record(event, &entered.state.name).map(drop)
    }

    fn wait_delay(&self, entered: &Entered, wait: &WaitFor, effective: &Value) -> Flow<Duration> {
        let until = |target: DateTime<FixedOffset>| (target.with_timezone(&Utc) - self.now()).to_std().unwrap_or(Duration::ZERO);
        Ok(match wait {
            WaitFor::Seconds(seconds) => Duration::from_secs(*seconds),
            WaitFor::Timestamp(target) => until(*target),
            WaitFor::SecondsPath(path) => {
                let value = self
                    .select(path, effective, entered, 0)
                    .map_err(|e| entered.runtime(format!("Invalid path '{}' : {e}", path.text())))?;
                let seconds = value.as_u64().ok_or_else(|| {
                    entered.runtime(format!("The SecondsPath '{}' must reference a non-negative integer, not {value}", path.text()))
                })?;
                Duration::from_secs(seconds)
            }
            WaitFor::TimestampPath(path) => {
                let value = self
                    .select(path, effective, entered, 0)
                    .map_err(|e| entered.runtime(format!("Invalid path '{}' : {e}", path.text())))?;
                let target = value.as_str().and_then(parse_timestamp).ok_or_else(|| {
                    entered.runtime(format!("The TimestampPath '{}' must reference an RFC 3339 timestamp, not {value}", path.text()))
                })?;
                until(target)
            }
        })
    }

    /// Runs attempts of a Task or Parallel state, applying its retriers and catchers as AWS does:
    /// the first retrier whose ErrorEquals matches decides (each keeps its own count); once it is
    /// exhausted, or none matches, the first matching catcher takes over. The counts start at 0,
    /// on a redrive too. `branches` resumes a Parallel's first attempt as a redrive found it.
    async fn with_retries<'s>(
        &'s self,
        entered: &Entered<'s>,
        work: Work<'s>,
        handling: &'s Handling,
        raw: &Value,
        mut branches: Option<&'s [Branch]>,
    ) -> Flow<Handled<'s>> {
        let effective = self.input_path(entered, raw)?;
        let mut counts = vec![0u64; handling.retry.len()];
        let mut retries = 0u32;
        loop {
            let attempt = match work {
                Work::Task(task) => self.task_attempt(entered, task, raw, &effective, retries).await,
                Work::Parallel(parallel) => self.parallel_attempt(entered, parallel, raw, &effective, retries, branches.take()).await,
            };
            let failure = match attempt {
                Ok(output) => return Ok(Handled::Done(output)),
                Err(Halt::Abort(e)) => return Err(Halt::Abort(e)),
                Err(Halt::Failed(failure)) if is_terminal(&failure.error) => return Err(Halt::Failed(failure)),
                Err(Halt::Failed(failure)) => failure,
            };
            if let Some(i) = handling.retry.iter().position(|r| error_matches(&r.errors, &failure.error)) {
                if counts[i] < handling.retry[i].max_attempts {
                    let delay = retry_delay(&handling.retry[i], counts[i]);
                    counts[i] += 1;
                    retries += 1;
                    let event = Event::RetryScheduled {
                        path: entered.path.into(),
                        name: entered.state.name.clone(),
                        at: self.elapsed(),
                        error: failure.error.clone(),
                        attempt: retries + 1,
                        delay_seconds: delay.as_secs_f64(),
                    };
                    self.record(event, &entered.state.name)?;
                    tokio::time::sleep(delay).await;
                    continue;
                }
            }
            let Some(catcher) = handling.catch.iter().find(|c| error_matches(&c.errors, &failure.error)) else {
                return Err(Halt::Failed(failure));
            };
            let error_output = json!({"Error": failure.error, "Cause": failure.cause});
            // A catcher's output skips OutputPath: it is the raw input with the error at ResultPath.
            let output = apply_result_path(&catcher.result_path, raw, error_output)?;
            let event = Event::ErrorCaught {
                path: entered.path.into(),
                name: entered.state.name.clone(),
                at: self.elapsed(),
                error: failure.error,
                next: catcher.next.clone(),
            };
            self.record(event, &entered.state.name)?;
            return Ok(Handled::Caught(&catcher.next, output));
        }
    }

    /// ResultSelector then ResultPath, shared by Task and Parallel.
    fn finish(&self, entered: &Entered, handling: &Handling, raw: &Value, result: Value, context: &Value) -> Flow<Value> {
        let selected = match &handling.result_selector {
            Some(template) => template.eval(&Scope { input: &result, context }).map_err(|e| entered.runtime(e))?,
            None => result,
        };
        apply_result_path(&handling.result_path, raw, selected)
    }

    fn parameters(&self, entered: &Entered, handling: &Handling, effective: &Value, context: &Value) -> Flow<Value> {
        let input = match &handling.parameters {
            Some(template) => template.eval(&Scope { input: effective, context }).map_err(|e| entered.runtime(e))?,
            None => effective.clone(),
        };
        check_size(entered, &input, "input after Parameters")?;
        Ok(input)
    }

    async fn task_attempt(&self, entered: &Entered<'_>, task: &Task, raw: &Value, effective: &Value, retries: u32) -> Flow<Value> {
        let name = &entered.state.name;
        let mut context = self.context(entered, retries);
        let attempt = retries + 1;
        let task_token = (task.resource == Resource::LambdaInvokeWaitForTaskToken).then(|| self.task_token(entered, attempt));
        if let Some(token) = &task_token {
            context["Task"] = json!({ "Token": token });
        }
        let input = self.parameters(entered, &task.handling, effective, &context)?;
        let (resource, payload) = match &task.resource {
            Resource::Function(arn) => (arn.clone(), input),
            Resource::LambdaInvoke | Resource::LambdaInvokeWaitForTaskToken => lambda_target(entered, input)?,
            Resource::SnsPublish => (SNS_PUBLISH.to_string(), input),
        };
        let timeout = match &task.timeout {
            Timeout::Seconds(seconds) => *seconds,
            Timeout::Path(path) => {
                let value = self
                    .select(path, effective, entered, retries)
                    .map_err(|e| entered.runtime(format!("Invalid path '{}' : {e}", path.text())))?;
                value.as_u64().filter(|s| *s > 0).ok_or_else(|| {
                    entered.runtime(format!("The TimeoutSecondsPath '{}' must reference a positive integer, not {value}", path.text()))
                })?
            }
        };
        let scheduled =
            Event::TaskScheduled { path: entered.path.into(), name: name.clone(), resource: resource.clone(), attempt, at: self.elapsed() };
        self.record(scheduled, name)?;
        let call = TaskCall { state: name.clone(), resource: resource.clone(), input: payload, attempt, task_token };
        let outcome = tokio::time::timeout(Duration::from_secs(timeout), self.tasks.invoke(call))
            .await
            .unwrap_or_else(|_| Err(TaskFailure { error: "States.Timeout".into(), cause: String::new() }));
        let result = match outcome {
            Ok(result) => {
                let event = Event::TaskSucceeded {
                    path: entered.path.into(),
                    name: name.clone(),
                    resource,
                    attempt,
                    at: self.elapsed(),
                    output: result.clone(),
                };
                self.record(event, name)?;
                result
            }
            Err(TaskFailure { error, cause }) => {
                let event = Event::TaskFailed {
                    path: entered.path.into(),
                    name: name.clone(),
                    resource,
                    attempt,
                    at: self.elapsed(),
                    error: error.clone(),
                    cause: cause.clone(),
                };
                self.record(event, name)?;
                return Err(Halt::Failed(Failure { error, cause }));
            }
        };
        let result = match task.resource {
            Resource::LambdaInvoke => self.lambda_response(entered, attempt, result),
            Resource::Function(_) | Resource::LambdaInvokeWaitForTaskToken | Resource::SnsPublish => result,
        };
        check_size(entered, &result, "task result")?;
        self.finish(entered, &task.handling, raw, result, &context)
    }

    /// An opaque token per execution, state and attempt (repeatable, like the request ids).
    fn task_token(&self, entered: &Entered, attempt: u32) -> String {
        let seed = format!("task-token|{}|{}|{}|{attempt}", self.seed, entered.path, entered.state.name);
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(seed.as_bytes()))
    }

    /// The response object of the optimized Lambda integration around the function's result.
    /// The request id is derived from the execution, state and call so that runs are repeatable.
    fn lambda_response(&self, entered: &Entered, attempt: u32, payload: Value) -> Value {
        let call = self.invocations.get() + 1;
        self.invocations.set(call);
        let seed = format!("{}|{}|{}|{attempt}|{call}", self.seed, entered.path, entered.state.name);
        let digest = sha2::Sha256::digest(seed.as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        let request_id = uuid_text(&bytes);
        json!({
            "ExecutedVersion": "$LATEST",
            "Payload": payload,
            "SdkHttpMetadata": {
                "AllHttpHeaders": {
                    "Content-Type": ["application/json"],
                    "X-Amz-Executed-Version": ["$LATEST"],
                    "x-amzn-RequestId": [request_id],
                },
                "HttpHeaders": {
                    "Content-Type": "application/json",
                    "X-Amz-Executed-Version": "$LATEST",
                    "x-amzn-RequestId": request_id,
                },
                "HttpStatusCode": 200,
            },
            "SdkResponseMetadata": {"RequestId": request_id},
            "StatusCode": 200,
        })
    }

    async fn parallel_attempt<'s>(
        &'s self,
        entered: &Entered<'s>,
        parallel: &'s Parallel,
        raw: &Value,
        effective: &Value,
        retries: u32,
        resumed: Option<&'s [Branch]>,
    ) -> Flow<Value> {
        let name = &entered.state.name;
        let context = self.context(entered, retries);
        let input = self.parameters(entered, &parallel.handling, effective, &context)?;
        // ParallelStateStarted, then ParallelStateSucceeded or ParallelStateFailed.
        self.count(1, name)?;
        let base = branch_base(entered.path, name);
        self.forget_branches(&base);
        let branches = parallel.branches.iter().enumerate().map(|(i, branch)| {
            let path = format!("{base}/{i}");
            let input = input.clone();
            async move {
                let output = match resumed.map(|branches| &branches[i]) {
                    // A redrive keeps what a branch produced and reruns only the others.
                    Some(Branch::Succeeded { output }) => output.clone(),
                    Some(Branch::Unsuccessful(position)) => self.run_machine(branch, &path, Entry::Resume(position)).await?,
                    Some(Branch::NotStarted) | None => self.run_machine(branch, &path, Entry::Start(input)).await?,
                };
                self.branch_outputs.borrow_mut().insert(path, output.clone());
                Flow::Ok(output)
            }
        });
        // The first branch to fail ends the join, dropping (cancelling) the others mid-flight.
        let outputs = try_join_all(branches).await;
        self.count(1, name)?;
        self.finish(entered, &parallel.handling, raw, Value::Array(outputs?), &context)
    }
}

/// The path prefix of the branches of Parallel state `name` in the machine at `path`.
fn branch_base(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}/{name}")
    }
}

fn at_offset(start: DateTime<Utc>, elapsed: Duration) -> DateTime<Utc> {
    start + chrono::Duration::from_std(elapsed).unwrap_or(chrono::Duration::MAX)
}

#[derive(Clone, Copy)]
enum Work<'s> {
    Task(&'s Task),
    Parallel(&'s Parallel),
}

fn iso_millis(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn check_size(entered: &Entered, value: &Value, what: &str) -> Flow<()> {
    let size = serde_json::to_vec(value).map(|bytes| bytes.len()).unwrap_or(0);
    if size <= PAYLOAD_LIMIT_BYTES {
        return Ok(());
    }
    Err(Halt::Failed(Failure {
        error: "States.DataLimitExceeded".into(),
        cause: format!(
            "The {what} of the state '{}' has {size} bytes, more than the {PAYLOAD_LIMIT_BYTES}-byte payload quota",
            entered.state.name
        ),
    }))
}

fn apply_result_path(result_path: &ResultPath, raw: &Value, result: Value) -> Flow<Value> {
    match result_path {
        ResultPath::Discard => Ok(raw.clone()),
        ResultPath::Path(path) => path.assign(raw.clone(), result).map_err(|e| {
            Halt::Failed(Failure {
                error: "States.ResultPathMatchFailure".into(),
                cause: format!("Unable to apply ResultPath '{}' to the state's input: {e}", path.text()),
            })
        }),
    }
}

/// Splits the built lambda:invoke Parameters into the function to call and its payload.
fn lambda_target(entered: &Entered, parameters: Value) -> Flow<(String, Value)> {
    let function = match parameters.get("FunctionName") {
        Some(Value::String(f)) => f.clone(),
        other => {
            return Err(entered.runtime(format!("lambda:invoke needs FunctionName to be a string, got {}", other.unwrap_or(&Value::Null))))
        }
    };
    let resource = match parameters.get("Qualifier") {
        None => function,
        Some(Value::String(q)) => format!("{function}:{q}"),
        Some(other) => return Err(entered.runtime(format!("lambda:invoke needs Qualifier to be a string, got {other}"))),
    };
    Ok((resource, parameters.get("Payload").cloned().unwrap_or_else(|| json!({}))))
}

fn fail_text(entered: &Entered, field: &FailField, scope: &Scope, name: &str) -> Flow<String> {
    let value = match field {
        FailField::Absent => return Ok(String::new()),
        FailField::Literal(text) => return Ok(text.clone()),
        FailField::Path(path) => scope.resolve(path).map_err(|e| entered.runtime(format!("Invalid path '{}' : {e}", path.text())))?,
        FailField::Intrinsic(call) => call.eval(scope).map_err(|e| entered.runtime(e))?,
    };
    match value {
        Value::String(text) => Ok(text),
        other => Err(entered.runtime(format!("{name} must produce a string, not {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retrier(interval_seconds: u64, backoff_rate: f64, max_delay_seconds: Option<u64>) -> Retrier {
        Retrier { errors: vec!["States.ALL".into()], interval_seconds, max_attempts: 3, backoff_rate, max_delay_seconds }
    }

    #[test]
    fn delays_grow_by_the_backoff_rate_and_respect_the_cap() {
        let r = retrier(3, 1.5, None);
        assert_eq!((0..3).map(|n| retry_delay(&r, n).as_secs_f64()).collect::<Vec<_>>(), [3.0, 4.5, 6.75]);
        let capped = retrier(1, 2.0, Some(5));
        assert_eq!(retry_delay(&capped, 10), Duration::from_secs(5));
        // An absurd exponent saturates instead of panicking on an infinite duration.
        assert!(retry_delay(&retrier(1, 2.0, None), 5000) >= Duration::from_secs(u64::from(u32::MAX)));
    }

    #[test]
    fn error_name_matching() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(error_matches(&names(&["States.ALL"]), "Anything"));
        assert!(error_matches(&names(&["States.TaskFailed"]), "Lambda.Unknown"));
        assert!(!error_matches(&names(&["States.TaskFailed"]), "States.Timeout"));
        assert!(error_matches(&names(&["A", "States.Timeout"]), "States.Timeout"));
        assert!(!error_matches(&names(&["A"]), "B"));
        assert!(is_terminal("States.Runtime") && is_terminal("States.DataLimitExceeded") && !is_terminal("States.Timeout"));
    }
}
