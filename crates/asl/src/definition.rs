//! Parsing and up-front validation of a whole definition, Parallel branches included. Every field
//! is checked against what AWS accepts for its state type; what AWS accepts but this interpreter
//! cannot run faithfully is `AslError::Unsupported` naming the state, never silently ignored.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use chrono::{DateTime, FixedOffset};
use serde_json::{Map, Value};
use sha2::Digest;

use crate::choice::{parse_timestamp, ChoiceRule};
use crate::intrinsic::{is_intrinsic, Call};
use crate::path::{ExprError, JsonPath};
use crate::template::Template;
use crate::AslError;

/// AWS's ceiling for TimeoutSeconds, IntervalSeconds, MaxAttempts and Wait Seconds.
const MAX_SECONDS: u64 = 99_999_999;
/// AWS caps MaxDelaySeconds at one year and a day.
const MAX_DELAY_SECONDS: u64 = 31_622_401;
/// AWS limits state names to 80 characters.
const MAX_NAME_CHARS: usize = 80;

/// A parsed, validated state machine definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    comment: Option<String>,
    pub(crate) timeout_seconds: Option<u64>,
    pub(crate) machine: Machine,
    /// SHA-256 of the text, in hex: what a redrive checks it runs the execution's definition.
    pub(crate) digest: String,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Machine {
    pub(crate) start_at: String,
    pub(crate) states: BTreeMap<String, State>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct State {
    pub(crate) name: String,
    pub(crate) input_path: IoPath,
    pub(crate) output_path: IoPath,
    pub(crate) body: Body,
}

/// InputPath/OutputPath: absent means `$`, null means `{}`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum IoPath {
    Whole,
    Empty,
    Path(JsonPath),
}

/// ResultPath: null discards the result; the default `$` replaces the input with it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ResultPath {
    Discard,
    Path(JsonPath),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Transition {
    Next(String),
    End,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Body {
    Pass { parameters: Option<Template>, result: Option<Value>, result_path: ResultPath, transition: Transition },
    Task(Box<Task>),
    Choice { choices: Vec<ChoiceRule>, default: Option<String> },
    Wait { wait: WaitFor, transition: Transition },
    Succeed,
    Fail { error: FailField, cause: FailField },
    Parallel(Box<Parallel>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Task {
    pub(crate) resource: Resource,
    pub(crate) timeout: Timeout,
    pub(crate) handling: Handling,
    pub(crate) transition: Transition,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Parallel {
    pub(crate) branches: Vec<Machine>,
    pub(crate) handling: Handling,
    pub(crate) transition: Transition,
}

/// The fields Task and Parallel share: result processing and error handling.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Handling {
    pub(crate) parameters: Option<Template>,
    pub(crate) result_selector: Option<Template>,
    pub(crate) result_path: ResultPath,
    pub(crate) retry: Vec<Retrier>,
    pub(crate) catch: Vec<Catcher>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Resource {
    /// `arn:aws:states:::lambda:invoke`: Parameters carry FunctionName and Payload.
    LambdaInvoke,
    /// `arn:aws:states:::lambda:invoke.waitForTaskToken`: as `LambdaInvoke`, then the task waits
    /// until its `$$.Task.Token` is answered (SendTaskSuccess / SendTaskFailure).
    LambdaInvokeWaitForTaskToken,
    /// `arn:aws:states:::sns:publish`: Parameters are the Publish request.
    SnsPublish,
    /// A Lambda function ARN used directly as the Resource.
    Function(String),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Timeout {
    Seconds(u64),
    Path(JsonPath),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum WaitFor {
    Seconds(u64),
    Timestamp(DateTime<FixedOffset>),
    SecondsPath(JsonPath),
    TimestampPath(JsonPath),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FailField {
    Absent,
    Literal(String),
    Path(JsonPath),
    Intrinsic(Call),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Retrier {
    pub(crate) errors: Vec<String>,
    pub(crate) interval_seconds: u64,
    pub(crate) max_attempts: u64,
    pub(crate) backoff_rate: f64,
    pub(crate) max_delay_seconds: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Catcher {
    pub(crate) errors: Vec<String>,
    pub(crate) next: String,
    pub(crate) result_path: ResultPath,
}

impl State {
    pub(crate) fn kind(&self) -> &'static str {
        match self.body {
            Body::Pass { .. } => "Pass",
            Body::Task(_) => "Task",
            Body::Choice { .. } => "Choice",
            Body::Wait { .. } => "Wait",
            Body::Succeed => "Succeed",
            Body::Fail { .. } => "Fail",
            Body::Parallel(_) => "Parallel",
        }
    }

    /// Every way out of this state, in definition order: Next (or End), the Choice rules and
    /// Default, then the catchers. Succeed and Fail have none.
    pub(crate) fn exits(&self) -> Vec<Exit<'_>> {
        fn next(t: &Transition) -> Exit<'_> {
            match t {
                Transition::Next(next) => Exit::Next(next),
                Transition::End => Exit::End,
            }
        }
        let mut out = Vec::new();
        match &self.body {
            Body::Pass { transition, .. } | Body::Wait { transition, .. } => out.push(next(transition)),
            Body::Task(task) => {
                out.push(next(&task.transition));
                out.extend(task.handling.catch.iter().map(Exit::Catch));
            }
            Body::Parallel(parallel) => {
                out.push(next(&parallel.transition));
                out.extend(parallel.handling.catch.iter().map(Exit::Catch));
            }
            Body::Choice { choices, default } => {
                out.extend(choices.iter().map(Exit::Rule));
                out.extend(default.as_deref().map(Exit::Default));
            }
            Body::Succeed | Body::Fail { .. } => {}
        }
        out
    }

    /// Every state this one can move to, for the target and reachability checks.
    fn targets(&self) -> Vec<&str> {
        self.exits().into_iter().filter_map(|exit| exit.target()).collect()
    }
}

/// One way out of a state.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Exit<'a> {
    Next(&'a str),
    /// `"End": true`: the machine (or the Parallel branch) ends here, successfully.
    End,
    Rule(&'a ChoiceRule),
    Default(&'a str),
    Catch(&'a Catcher),
}

impl<'a> Exit<'a> {
    pub(crate) fn target(self) -> Option<&'a str> {
        match self {
            Exit::Next(to) | Exit::Default(to) => Some(to),
            Exit::Rule(rule) => Some(&rule.next),
            Exit::Catch(catcher) => Some(&catcher.next),
            Exit::End => None,
        }
    }
}

impl Definition {
    /// Parses and validates a definition (after any `${...}` substitution).
    pub fn parse(json_text: &str) -> Result<Definition, AslError> {
        let value: Value = serde_json::from_str(json_text).map_err(|e| AslError::Json(e.to_string()))?;
        let map = value.as_object().ok_or_else(|| AslError::invalid("", "the definition must be a JSON object"))?;
        let top = Fields { state: "", map };
        top.allow(&["Comment", "StartAt", "States", "Version", "TimeoutSeconds", "QueryLanguage"], "the state machine")?;
        top.query_language()?;
        if let Some(version) = top.string("Version")? {
            if version != "1.0" {
                return Err(AslError::invalid("", format!("Version must be \"1.0\", not \"{version}\"")));
            }
        }
        let comment = top.string("Comment")?;
        let timeout_seconds = top.integer("TimeoutSeconds", 1, MAX_SECONDS)?;
        let mut names = BTreeSet::new();
        let machine = parse_machine(&top, &mut names)?;
        let digest = sha2::Sha256::digest(json_text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        Ok(Definition { comment, timeout_seconds, machine, digest })
    }

    /// Every state name, Parallel branch states included (each after its Parallel state).
    pub fn state_names(&self) -> Vec<String> {
        self.state_kinds().into_iter().map(|(name, _)| name).collect()
    }

    /// Every state name with its type (`Task`, `Wait`, ...), in the order of [`Self::state_names`].
    pub fn state_kinds(&self) -> Vec<(String, &'static str)> {
        fn walk(machine: &Machine, out: &mut Vec<(String, &'static str)>) {
            for state in machine.states.values() {
                out.push((state.name.clone(), state.kind()));
                if let Body::Parallel(parallel) = &state.body {
                    parallel.branches.iter().for_each(|b| walk(b, out));
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.machine, &mut out);
        out
    }

    pub fn comment(&self) -> Option<&str> {
        self.comment.as_deref()
    }
}

/// Field access for one state (or the machine, when `state` is empty) with errors naming both.
struct Fields<'a> {
    state: &'a str,
    map: &'a Map<String, Value>,
}

impl Fields<'_> {
    fn invalid(&self, message: impl Into<String>) -> AslError {
        AslError::invalid(self.state, message)
    }

    fn expr(&self, field: &str, error: ExprError) -> AslError {
        match error {
            ExprError::Invalid(m) => self.invalid(format!("{field}: {m}")),
            ExprError::Unsupported(m) => AslError::unsupported(self.state, format!("{field}: {m}")),
        }
    }

    fn allow(&self, allowed: &[&str], what: &str) -> Result<(), AslError> {
        match self.map.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(key) => Err(self.invalid(format!("the field '{key}' is not allowed in {what}"))),
            None => Ok(()),
        }
    }

    fn query_language(&self) -> Result<(), AslError> {
        match self.map.get("QueryLanguage") {
            None => Ok(()),
            Some(Value::String(l)) if l == "JSONPath" => Ok(()),
            Some(Value::String(l)) if l == "JSONata" => Err(AslError::unsupported(self.state, "QueryLanguage JSONata")),
            Some(other) => Err(self.invalid(format!("QueryLanguage must be \"JSONPath\" or \"JSONata\", not {other}"))),
        }
    }

    fn string(&self, key: &str) -> Result<Option<String>, AslError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.invalid(format!("{key} must be a string, not {other}"))),
        }
    }

    fn required_string(&self, key: &str) -> Result<String, AslError> {
        self.string(key)?.ok_or_else(|| self.invalid(format!("{key} is required")))
    }

    fn integer(&self, key: &str, min: u64, max: u64) -> Result<Option<u64>, AslError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
                _ => Err(self.invalid(format!("{key} must be an integer from {min} to {max}, not {v}"))),
            },
        }
    }

    fn path(&self, key: &str) -> Result<Option<JsonPath>, AslError> {
        match self.string(key)? {
            None => Ok(None),
            Some(text) => JsonPath::parse(&text).map(Some).map_err(|e| self.expr(key, e)),
        }
    }

    /// A path that must name a single value (`SecondsPath`, `TimeoutSecondsPath`, ...).
    fn reference(&self, key: &str, text: &str) -> Result<JsonPath, AslError> {
        let path = JsonPath::parse(text).map_err(|e| self.expr(key, e))?;
        if !path.is_definite() {
            return Err(self.invalid(format!("{key} '{text}' must be a reference path naming one value")));
        }
        Ok(path)
    }

    fn reference_path(&self, key: &str) -> Result<Option<JsonPath>, AslError> {
        self.string(key)?.map(|text| self.reference(key, &text)).transpose()
    }

    fn io_path(&self, key: &str) -> Result<IoPath, AslError> {
        if self.map.get(key) == Some(&Value::Null) {
            return Ok(IoPath::Empty);
        }
        Ok(self.path(key)?.map_or(IoPath::Whole, IoPath::Path))
    }

    fn result_path(&self, key: &str) -> Result<ResultPath, AslError> {
        if self.map.get(key) == Some(&Value::Null) {
            return Ok(ResultPath::Discard);
        }
        match self.reference_path(key)? {
            None => Ok(ResultPath::Path(JsonPath::root())),
            Some(path) if path.is_context() => Err(self.invalid(format!("{key} may not point into the context object"))),
            Some(path) => Ok(ResultPath::Path(path)),
        }
    }

    fn template(&self, key: &str) -> Result<Option<Template>, AslError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(v @ Value::Object(_)) => Template::parse(v).map(Some).map_err(|e| self.expr(key, e)),
            Some(other) => Err(self.invalid(format!("{key} must be a JSON object, not {other}"))),
        }
    }

    fn transition(&self) -> Result<Transition, AslError> {
        let next = self.string("Next")?;
        let end = match self.map.get("End") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => return Err(self.invalid(format!("End must be a boolean, not {other}"))),
        };
        match (next, end) {
            (Some(_), true) => Err(self.invalid("Next and End may not both be set")),
            (Some(next), false) => Ok(Transition::Next(next)),
            (None, true) => Ok(Transition::End),
            (None, false) => Err(self.invalid("the state needs Next or \"End\": true")),
        }
    }

    fn error_names(&self, value: Option<&Value>, what: &str) -> Result<Vec<String>, AslError> {
        let names = match value {
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .map(|v| v.as_str().map(str::to_string).ok_or_else(|| self.invalid(format!("{what} ErrorEquals must hold strings"))))
                .collect::<Result<Vec<_>, _>>()?,
            _ => return Err(self.invalid(format!("{what} needs a non-empty ErrorEquals array"))),
        };
        if names.len() > 1 && names.iter().any(|n| n == "States.ALL") {
            return Err(self.invalid(format!("{what}: States.ALL must appear alone in ErrorEquals")));
        }
        Ok(names)
    }

    fn objects(&self, key: &str) -> Result<Vec<&Map<String, Value>>, AslError> {
        match self.map.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => {
                items.iter().map(|v| v.as_object().ok_or_else(|| self.invalid(format!("every entry of {key} must be an object")))).collect()
            }
            Some(other) => Err(self.invalid(format!("{key} must be an array, not {other}"))),
        }
    }

    fn retry(&self) -> Result<Vec<Retrier>, AslError> {
        let entries = self.objects("Retry")?;
        let mut out = Vec::with_capacity(entries.len());
        for (i, map) in entries.iter().enumerate() {
            let what = format!("Retry[{i}]");
            let f = Fields { state: self.state, map };
            f.allow(
                &["ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy", "Comment"],
                &format!("a retrier ({what})"),
            )?;
            let errors = self.error_names(map.get("ErrorEquals"), &what)?;
            if errors.iter().any(|e| e == "States.ALL") && i + 1 != entries.len() {
                return Err(self.invalid(format!("{what}: a States.ALL retrier must be the last one")));
            }
            match f.string("JitterStrategy")?.as_deref() {
                None | Some("NONE") => {}
                Some("FULL") => return Err(AslError::unsupported(self.state, format!("{what}: JitterStrategy FULL (random delays)"))),
                Some(other) => return Err(self.invalid(format!("{what}: JitterStrategy must be FULL or NONE, not {other}"))),
            }
            let backoff_rate = match map.get("BackoffRate") {
                None => 2.0,
                Some(v) => match v.as_f64() {
                    Some(rate) if rate >= 1.0 => rate,
                    _ => return Err(self.invalid(format!("{what}: BackoffRate must be a number of at least 1.0, not {v}"))),
                },
            };
            out.push(Retrier {
                errors,
                interval_seconds: f.integer("IntervalSeconds", 1, MAX_SECONDS)?.unwrap_or(1),
                max_attempts: f.integer("MaxAttempts", 0, MAX_SECONDS)?.unwrap_or(3),
                backoff_rate,
                max_delay_seconds: f.integer("MaxDelaySeconds", 1, MAX_DELAY_SECONDS)?,
            });
        }
        Ok(out)
    }

    fn catch(&self) -> Result<Vec<Catcher>, AslError> {
        let entries = self.objects("Catch")?;
        let mut out = Vec::with_capacity(entries.len());
        for (i, map) in entries.iter().enumerate() {
            let what = format!("Catch[{i}]");
            let f = Fields { state: self.state, map };
            for key in ["Output", "Assign"] {
                if map.contains_key(key) {
                    return Err(AslError::unsupported(self.state, format!("{what}: {key} (JSONata or workflow variables)")));
                }
            }
            f.allow(&["ErrorEquals", "Next", "ResultPath", "Comment"], &format!("a catcher ({what})"))?;
            let errors = self.error_names(map.get("ErrorEquals"), &what)?;
            if errors.iter().any(|e| e == "States.ALL") && i + 1 != entries.len() {
                return Err(self.invalid(format!("{what}: a States.ALL catcher must be the last one")));
            }
            let next = f.string("Next")?.ok_or_else(|| self.invalid(format!("{what} needs Next")))?;
            out.push(Catcher { errors, next, result_path: f.result_path("ResultPath")? });
        }
        Ok(out)
    }

    fn handling(&self) -> Result<Handling, AslError> {
        Ok(Handling {
            parameters: self.template("Parameters")?,
            result_selector: self.template("ResultSelector")?,
            result_path: self.result_path("ResultPath")?,
            retry: self.retry()?,
            catch: self.catch()?,
        })
    }

    fn fail_field(&self, literal: &str, path: &str) -> Result<FailField, AslError> {
        match (self.string(literal)?, self.string(path)?) {
            (Some(_), Some(_)) => Err(self.invalid(format!("{literal} and {path} may not both be set"))),
            (Some(text), None) => Ok(FailField::Literal(text)),
            (None, Some(text)) if is_intrinsic(&text) => Call::parse(&text).map(FailField::Intrinsic).map_err(|e| self.expr(path, e)),
            (None, Some(text)) => self.reference(path, &text).map(FailField::Path),
            (None, None) => Ok(FailField::Absent),
        }
    }
}

/// Parses `StartAt`/`States` of the machine or of one Parallel branch, checking that every
/// transition stays inside it and every state is reachable. State names are unique machine-wide.
fn parse_machine(fields: &Fields, names: &mut BTreeSet<String>) -> Result<Machine, AslError> {
    let owner = fields.state;
    let start_at = fields.required_string("StartAt")?;
    let states_map = match fields.map.get("States") {
        Some(Value::Object(map)) if !map.is_empty() => map,
        _ => return Err(fields.invalid("States must be a non-empty object")),
    };
    let mut states = BTreeMap::new();
    for (name, value) in states_map {
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(AslError::invalid(name, format!("state names must have 1 to {MAX_NAME_CHARS} characters")));
        }
        if !names.insert(name.clone()) {
            return Err(AslError::invalid(name, "the state name is used more than once in the state machine"));
        }
        states.insert(name.clone(), parse_state(name, value, names)?);
    }
    if !states.contains_key(&start_at) {
        return Err(fields.invalid(format!("StartAt '{start_at}' is not a state of {}", scope_name(owner))));
    }
    for state in states.values() {
        if let Some(target) = state.targets().into_iter().find(|t| !states.contains_key(*t)) {
            return Err(AslError::invalid(
                &state.name,
                format!("the transition target '{target}' is not a state of {}", scope_name(owner)),
            ));
        }
    }
    let mut reached = BTreeSet::from([start_at.as_str()]);
    let mut queue = VecDeque::from([start_at.as_str()]);
    while let Some(name) = queue.pop_front() {
        for target in states[name].targets() {
            if reached.insert(target) {
                queue.push_back(target);
            }
        }
    }
    if let Some(unreached) = states.keys().find(|n| !reached.contains(n.as_str())) {
        return Err(AslError::invalid(unreached, format!("the state is not reachable from StartAt '{start_at}'")));
    }
    Ok(Machine { start_at, states })
}

fn scope_name(owner: &str) -> String {
    if owner.is_empty() {
        "the state machine".to_string()
    } else {
        format!("this branch of Parallel '{owner}'")
    }
}

const COMMON: [&str; 3] = ["Type", "Comment", "QueryLanguage"];

fn parse_state(name: &str, value: &Value, names: &mut BTreeSet<String>) -> Result<State, AslError> {
    let map = value.as_object().ok_or_else(|| AslError::invalid(name, "a state must be a JSON object"))?;
    let f = Fields { state: name, map };
    let kind = f.required_string("Type")?;
    f.query_language()?;
    check_task_token_use(name, map)?;
    for key in ["Assign", "Arguments", "Output"] {
        if map.contains_key(key) {
            let what = if key == "Assign" { "Assign (workflow variables)".to_string() } else { format!("{key} (a JSONata field)") };
            return Err(AslError::unsupported(name, what));
        }
    }
    let (allowed, unsupported): (&[&str], &[&str]) = match kind.as_str() {
        "Pass" => (&["Next", "End", "InputPath", "OutputPath", "Parameters", "Result", "ResultPath"], &[]),
        "Task" => (
            &[
                "Next",
                "End",
                "Resource",
                "InputPath",
                "OutputPath",
                "Parameters",
                "ResultSelector",
                "ResultPath",
                "Retry",
                "Catch",
                "TimeoutSeconds",
                "TimeoutSecondsPath",
            ],
            &["HeartbeatSeconds", "HeartbeatSecondsPath", "Credentials"],
        ),
        "Choice" => (&["Choices", "Default", "InputPath", "OutputPath"], &[]),
        "Wait" => (&["Next", "End", "InputPath", "OutputPath", "Seconds", "Timestamp", "SecondsPath", "TimestampPath"], &[]),
        "Succeed" => (&["InputPath", "OutputPath"], &[]),
        "Fail" => (&["Error", "ErrorPath", "Cause", "CausePath"], &[]),
        "Parallel" => {
            (&["Next", "End", "Branches", "InputPath", "OutputPath", "Parameters", "ResultSelector", "ResultPath", "Retry", "Catch"], &[])
        }
        "Map" => {
            let distributed = ["ItemReader", "ItemBatcher", "ResultWriter", "ToleratedFailurePercentage", "ToleratedFailureCount"]
                .iter()
                .find(|k| map.contains_key(**k))
                .map(|k| k.to_string())
                .or_else(|| {
                    let mode = map.get("ItemProcessor")?.get("ProcessorConfig")?.get("Mode")?;
                    (mode == "DISTRIBUTED").then(|| "ProcessorConfig.Mode DISTRIBUTED".to_string())
                });
            let feature = match distributed {
                Some(field) => format!("Distributed Map state ({field})"),
                None => "Map state".to_string(),
            };
            return Err(AslError::unsupported(name, feature));
        }
        other => return Err(AslError::invalid(name, format!("unknown state type '{other}'"))),
    };
    if let Some(key) = map.keys().find(|k| unsupported.contains(&k.as_str())) {
        return Err(AslError::unsupported(name, format!("{key} on a Task state")));
    }
    let allowed: Vec<&str> = COMMON.iter().chain(allowed).copied().collect();
    f.allow(&allowed, &format!("a {kind} state"))?;
    let body = match kind.as_str() {
        "Pass" => Body::Pass {
            parameters: f.template("Parameters")?,
            result: map.get("Result").cloned(),
            result_path: f.result_path("ResultPath")?,
            transition: f.transition()?,
        },
        "Task" => Body::Task(Box::new(parse_task(&f)?)),
        "Choice" => {
            let rules = match map.get("Choices") {
                Some(Value::Array(rules)) if !rules.is_empty() => rules,
                _ => return Err(f.invalid("Choices must be a non-empty array")),
            };
            for (i, rule) in rules.iter().enumerate() {
                if let Some(key) = ["Assign", "Condition"].into_iter().find(|k| rule.get(*k).is_some()) {
                    return Err(AslError::unsupported(name, format!("Choices[{i}].{key} (workflow variables or JSONata)")));
                }
            }
            let choices = rules
                .iter()
                .enumerate()
                .map(|(i, rule)| ChoiceRule::parse(rule).map_err(|m| f.invalid(format!("Choices[{i}]: {m}"))))
                .collect::<Result<Vec<_>, _>>()?;
            Body::Choice { choices, default: f.string("Default")? }
        }
        "Wait" => Body::Wait { wait: parse_wait(&f)?, transition: f.transition()? },
        "Succeed" => Body::Succeed,
        "Fail" => Body::Fail { error: f.fail_field("Error", "ErrorPath")?, cause: f.fail_field("Cause", "CausePath")? },
        _ => {
            let branches = match map.get("Branches") {
                Some(Value::Array(branches)) if !branches.is_empty() => branches,
                _ => return Err(f.invalid("Branches must be a non-empty array")),
            };
            let mut parsed = Vec::with_capacity(branches.len());
            for (i, branch) in branches.iter().enumerate() {
                let branch_map = branch.as_object().ok_or_else(|| f.invalid(format!("Branches[{i}] must be an object")))?;
                let bf = Fields { state: name, map: branch_map };
                bf.allow(&["StartAt", "States", "Comment"], &format!("Branches[{i}]"))?;
                parsed.push(parse_machine(&bf, names)?);
            }
            Body::Parallel(Box::new(Parallel { branches: parsed, handling: f.handling()?, transition: f.transition()? }))
        }
    };
    Ok(State { name: name.to_string(), input_path: f.io_path("InputPath")?, output_path: f.io_path("OutputPath")?, body })
}

fn parse_task(f: &Fields) -> Result<Task, AslError> {
    let resource_text = f.required_string("Resource")?;
    let resource = classify_resource(f.state, &resource_text)?;
    let handling = f.handling()?;
    match resource {
        Resource::LambdaInvoke | Resource::LambdaInvokeWaitForTaskToken => check_lambda_invoke_parameters(f)?,
        Resource::SnsPublish => check_sns_publish_parameters(f)?,
        Resource::Function(_) => {}
    }
    let timeout = match (f.integer("TimeoutSeconds", 1, MAX_SECONDS)?, f.reference_path("TimeoutSecondsPath")?) {
        (Some(_), Some(_)) => return Err(f.invalid("TimeoutSeconds and TimeoutSecondsPath may not both be set")),
        (Some(seconds), None) => Timeout::Seconds(seconds),
        (None, Some(path)) => Timeout::Path(path),
        (None, None) => Timeout::Seconds(MAX_SECONDS),
    };
    Ok(Task { resource, timeout, handling, transition: f.transition()? })
}

fn classify_resource(state: &str, resource: &str) -> Result<Resource, AslError> {
    if resource.contains("${") {
        return Err(AslError::invalid(state, format!("Resource '{resource}' holds an unsubstituted ${{...}} placeholder")));
    }
    let parts: Vec<&str> = resource.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, "states", "", "", integration] => match integration.split_once('.') {
            None if *integration == "lambda:invoke" => Ok(Resource::LambdaInvoke),
            None if *integration == "sns:publish" => Ok(Resource::SnsPublish),
            Some(("lambda:invoke", "waitForTaskToken")) => Ok(Resource::LambdaInvokeWaitForTaskToken),
            Some(("lambda:invoke" | "sns:publish", pattern)) => Err(AslError::unsupported(
                state,
                format!("integration pattern .{pattern} (only request-response, and .waitForTaskToken of lambda:invoke, are run)"),
            )),
            _ => Err(AslError::unsupported(
                state,
                format!("service integration '{integration}' (only lambda:invoke, sns:publish and Lambda ARNs are run)"),
            )),
        },
        ["arn", _, "lambda", region, account, function]
            if !region.is_empty() && !account.is_empty() && function.starts_with("function:") =>
        {
            Ok(Resource::Function(resource.to_string()))
        }
        ["arn", _, "states", _, _, rest] if rest.starts_with("activity:") => Err(AslError::unsupported(state, "activity tasks")),
        _ => Err(AslError::unsupported(state, format!("Resource '{resource}' (only lambda:invoke and Lambda function ARNs are run)"))),
    }
}

/// The optimized Lambda integration accepts a fixed set of parameters; those that change the
/// result's shape (asynchronous invocation, log tails) are not modelled.
fn check_lambda_invoke_parameters(f: &Fields) -> Result<(), AslError> {
    let Some(Value::Object(parameters)) = f.map.get("Parameters") else {
        return Err(f.invalid("arn:aws:states:::lambda:invoke needs Parameters with FunctionName"));
    };
    if !parameters.contains_key("FunctionName") && !parameters.contains_key("FunctionName.$") {
        return Err(f.invalid("arn:aws:states:::lambda:invoke needs Parameters.FunctionName"));
    }
    for key in parameters.keys() {
        let field = key.strip_suffix(".$").unwrap_or(key);
        match (field, parameters.get(key)) {
            ("FunctionName" | "Payload" | "Qualifier", _) => {}
            ("InvocationType", Some(Value::String(t))) if t == "RequestResponse" && !key.ends_with(".$") => {}
            ("InvocationType" | "ClientContext" | "LogType", _) => {
                return Err(AslError::unsupported(
                    f.state,
                    format!("lambda:invoke parameter '{key}' (only a plain RequestResponse call is run)"),
                ))
            }
            _ => return Err(f.invalid(format!("'{key}' is not a parameter of lambda:invoke"))),
        }
    }
    Ok(())
}

/// The Publish request: a message and where it goes.
fn check_sns_publish_parameters(f: &Fields) -> Result<(), AslError> {
    const FIELDS: [&str; 9] = [
        "TopicArn",
        "TargetArn",
        "PhoneNumber",
        "Message",
        "Subject",
        "MessageAttributes",
        "MessageStructure",
        "MessageDeduplicationId",
        "MessageGroupId",
    ];
    let Some(Value::Object(parameters)) = f.map.get("Parameters") else {
        return Err(f.invalid("arn:aws:states:::sns:publish needs Parameters with Message and TopicArn"));
    };
    let given = |field: &str| parameters.contains_key(field) || parameters.contains_key(&format!("{field}.$"));
    if let Some(key) = parameters.keys().find(|k| !FIELDS.contains(&k.strip_suffix(".$").unwrap_or(k))) {
        return Err(f.invalid(format!("'{key}' is not a parameter of sns:publish")));
    }
    if !given("Message") {
        return Err(f.invalid("sns:publish needs Parameters.Message"));
    }
    if !["TopicArn", "TargetArn", "PhoneNumber"].into_iter().any(given) {
        return Err(f.invalid("sns:publish needs one of TopicArn, TargetArn and PhoneNumber"));
    }
    Ok(())
}

/// `$$.Task.Token` exists only while a callback task (`.waitForTaskToken`) runs; anywhere else
/// AWS has no token to give, so the definition is refused naming the state.
fn check_task_token_use(name: &str, map: &Map<String, Value>) -> Result<(), AslError> {
    fn mentions(value: &Value) -> bool {
        match value {
            Value::String(s) => s.contains("$$.Task"),
            Value::Array(items) => items.iter().any(mentions),
            Value::Object(fields) => fields.values().any(mentions),
            _ => false,
        }
    }
    let callback = map.get("Resource").and_then(Value::as_str).is_some_and(|r| r.ends_with(":lambda:invoke.waitForTaskToken"));
    // Branches hold other states, checked on their own.
    if !callback && map.iter().any(|(key, value)| key != "Branches" && mentions(value)) {
        return Err(AslError::unsupported(name, "$$.Task.Token outside a .waitForTaskToken task (there is no token to give)"));
    }
    Ok(())
}

fn parse_wait(f: &Fields) -> Result<WaitFor, AslError> {
    let given: Vec<&str> =
        ["Seconds", "Timestamp", "SecondsPath", "TimestampPath"].into_iter().filter(|k| f.map.contains_key(*k)).collect();
    let [key] = given[..] else {
        return Err(f.invalid("a Wait state needs exactly one of Seconds, Timestamp, SecondsPath and TimestampPath"));
    };
    match key {
        "Seconds" => Ok(WaitFor::Seconds(f.integer(key, 0, MAX_SECONDS)?.unwrap_or(0))),
        "Timestamp" => {
            let text = f.required_string(key)?;
            parse_timestamp(&text)
                .map(WaitFor::Timestamp)
                .ok_or_else(|| f.invalid(format!("Timestamp '{text}' is not an RFC 3339 timestamp")))
        }
        "SecondsPath" => Ok(WaitFor::SecondsPath(f.reference(key, &f.required_string(key)?)?)),
        _ => Ok(WaitFor::TimestampPath(f.reference(key, &f.required_string(key)?)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<Definition, AslError> {
        Definition::parse(&v.to_string())
    }

    fn machine(states: Value) -> Value {
        json!({"StartAt": "A", "States": states})
    }

    fn unsupported(v: Value) -> (String, String) {
        match parse(v) {
            Err(AslError::Unsupported { state, feature }) => (state, feature),
            other => panic!("expected Unsupported, got {other:?}"),
        }
    }

    fn invalid(v: Value) -> (String, String) {
        match parse(v) {
            Err(AslError::Invalid { state, message }) => (state, message),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    const FN: &str = "arn:aws:lambda:eu-west-1:123456789012:function:probe";

    #[test]
    fn parses_every_state_type_and_lists_names_recursively() {
        let def = parse(json!({
            "Comment": "rehearsal",
            "StartAt": "A",
            "States": {
                "A": {"Type": "Pass", "Next": "B"},
                "B": {"Type": "Task", "Resource": FN, "Next": "C"},
                "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": true, "Next": "D"}], "Default": "E"},
                "D": {"Type": "Wait", "Seconds": 5, "Next": "P"},
                "P": {"Type": "Parallel", "Next": "S", "Branches": [
                    {"StartAt": "P1", "States": {"P1": {"Type": "Succeed"}}},
                    {"StartAt": "P2", "States": {"P2": {"Type": "Pass", "End": true}}}
                ]},
                "S": {"Type": "Succeed"},
                "E": {"Type": "Fail", "Error": "E", "Cause": "c"}
            }
        }))
        .unwrap();
        assert_eq!(def.comment(), Some("rehearsal"));
        assert_eq!(def.state_names(), ["A", "B", "C", "D", "E", "P", "P1", "P2", "S"]);
        assert_eq!(def.state_kinds()[3], ("D".to_string(), "Wait"));
    }

    #[test]
    fn structural_errors_name_the_state() {
        assert_eq!(invalid(json!({"StartAt": "Nope", "States": {"A": {"Type": "Succeed"}}})).0, "");
        assert_eq!(
            invalid(machine(json!({"A": {"Type": "Pass", "Next": "Ghost"}}))),
            ("A".into(), "the transition target 'Ghost' is not a state of the state machine".into())
        );
        assert_eq!(invalid(machine(json!({"A": {"Type": "Succeed"}, "B": {"Type": "Succeed"}}))).0, "B");
        assert_eq!(invalid(machine(json!({"A": {"Type": "Pass"}}))).1, "the state needs Next or \"End\": true");
        assert_eq!(invalid(machine(json!({"A": {"Type": "Pass", "Next": "A", "End": true}}))).1, "Next and End may not both be set");
        assert_eq!(invalid(machine(json!({"A": {"Type": "Bogus"}}))).1, "unknown state type 'Bogus'");
        assert_eq!(
            invalid(machine(json!({"A": {"Type": "Succeed", "Next": "A"}}))).1,
            "the field 'Next' is not allowed in a Succeed state"
        );
        assert_eq!(invalid(machine(json!({"A": {"Type": "Wait", "Seconds": "5", "End": true}}))).0, "A");
        assert_eq!(invalid(machine(json!({"A": {"Type": "Wait", "Seconds": 5, "SecondsPath": "$.s", "End": true}}))).0, "A");
        assert_eq!(invalid(machine(json!({"A": {"Type": "Pass", "ResultPath": "$.a[*]", "End": true}}))).0, "A");
        assert_eq!(invalid(machine(json!({"A": {"Type": "Pass", "ResultPath": "$$.x", "End": true}}))).0, "A");
        assert_eq!(invalid(machine(json!({"A": {"Type": "Pass", "Parameters": [1], "End": true}}))).0, "A");
        assert_eq!(invalid(machine(json!({"A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "Next": "A"}]}}))).0, "A");
        assert_eq!(invalid(machine(json!({"A": {"Type": "Fail", "Error": "x", "ErrorPath": "$.e"}}))).0, "A");
        assert!(matches!(Definition::parse("{not json"), Err(AslError::Json(_))));
    }

    #[test]
    fn branch_transitions_stay_inside_the_branch_and_names_are_unique() {
        let escaping = machine(json!({
            "A": {"Type": "Parallel", "Next": "Z", "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Pass", "Next": "Z"}}}]},
            "Z": {"Type": "Succeed"}
        }));
        assert_eq!(invalid(escaping).1, "the transition target 'Z' is not a state of this branch of Parallel 'A'");
        let duplicate = machine(json!({
            "A": {"Type": "Parallel", "Next": "Z", "Branches": [{"StartAt": "Z", "States": {"Z": {"Type": "Succeed"}}}]},
            "Z": {"Type": "Succeed"}
        }));
        assert_eq!(invalid(duplicate).0, "Z");
    }

    #[test]
    fn retry_and_catch_shapes_are_checked() {
        let task = |extra: Value| {
            let mut t = json!({"Type": "Task", "Resource": FN, "End": true});
            t.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            machine(json!({"A": t, "H": {"Type": "Succeed"}}))
        };
        let ok = task(
            json!({"Retry": [{"ErrorEquals": ["X"], "MaxAttempts": 0}, {"ErrorEquals": ["States.ALL"], "MaxDelaySeconds": 5, "JitterStrategy": "NONE"}], "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H", "ResultPath": "$.err"}]}),
        );
        assert!(parse(ok).is_ok());
        assert!(invalid(task(json!({"Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}]}))).1.contains("must be the last"));
        assert!(invalid(task(json!({"Retry": [{"ErrorEquals": ["States.ALL", "X"]}]}))).1.contains("alone"));
        assert!(invalid(task(json!({"Retry": [{"ErrorEquals": []}]}))).1.contains("non-empty ErrorEquals"));
        assert!(invalid(task(json!({"Retry": [{"ErrorEquals": ["X"], "BackoffRate": 0.5}]}))).1.contains("BackoffRate"));
        assert!(invalid(task(json!({"Retry": [{"ErrorEquals": ["X"], "IntervalSeconds": 0}]}))).1.contains("IntervalSeconds"));
        assert!(invalid(task(json!({"Retry": [{"ErrorEquals": ["X"], "Bogus": 1}]}))).1.contains("'Bogus'"));
        assert!(invalid(task(json!({"Catch": [{"ErrorEquals": ["X"]}]}))).1.contains("needs Next"));
        assert!(invalid(task(json!({"Catch": [{"ErrorEquals": ["X"], "Next": "Nowhere"}]}))).1.contains("'Nowhere'"));
        assert_eq!(unsupported(task(json!({"Retry": [{"ErrorEquals": ["X"], "JitterStrategy": "FULL"}]}))).0, "A");
    }

    #[test]
    fn unsupported_features_name_the_state_and_feature() {
        let one = |state: Value| unsupported(machine(json!({"A": state})));
        assert_eq!(one(json!({"Type": "Map", "ItemProcessor": {}, "End": true})), ("A".into(), "Map state".into()));
        assert_eq!(one(json!({"Type": "Map", "ItemReader": {}, "End": true})).1, "Distributed Map state (ItemReader)");
        assert_eq!(one(json!({"Type": "Task", "Resource": FN, "HeartbeatSeconds": 10, "End": true})).1, "HeartbeatSeconds on a Task state");
        assert!(one(
            json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.sync", "Parameters": {"FunctionName": "f"}, "End": true})
        )
        .1
        .contains(".sync"));
        assert!(one(json!({"Type": "Task", "Resource": "arn:aws:states:::sns:publish.waitForTaskToken", "Parameters": {"TopicArn": "t", "Message": "m"}, "End": true})).1.contains(".waitForTaskToken"));
        assert!(one(json!({"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "End": true})).1.contains("sqs:sendMessage"));
        let token = json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "f", "Payload": {"t.$": "$$.Task.Token"}}, "End": true});
        assert!(one(token).1.contains("$$.Task.Token outside"));
        assert!(one(json!({"Type": "Pass", "Parameters": {"t.$": "$$.Task.Token"}, "End": true})).1.contains("$$.Task.Token outside"));
        assert!(one(json!({"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem", "End": true})).1.contains("dynamodb:putItem"));
        assert!(one(json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "f", "InvocationType": "Event"}, "End": true})).1.contains("InvocationType"));
        assert_eq!(one(json!({"Type": "Pass", "QueryLanguage": "JSONata", "End": true})).1, "QueryLanguage JSONata");
        assert_eq!(one(json!({"Type": "Pass", "Assign": {"x": 1}, "End": true})).1, "Assign (workflow variables)");
        assert!(one(json!({"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": true, "Assign": {"v": 1}, "Next": "A"}]}))
            .1
            .contains("Choices[0].Assign"));
        assert!(one(json!({"Type": "Pass", "Parameters": {"t.$": "$$.Task.Token"}, "End": true})).1.contains("$$.Task.Token"));
        assert!(one(json!({"Type": "Pass", "Parameters": {"t.$": "$.a[?(@.x)]"}, "End": true})).1.contains("filter"));
        let top = unsupported(json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Succeed"}}}));
        assert_eq!(top.0, "");
        let nested = unsupported(machine(
            json!({"A": {"Type": "Parallel", "End": true, "Branches": [{"StartAt": "M", "States": {"M": {"Type": "Map", "End": true}}}]}}),
        ));
        assert_eq!(nested.0, "M");
    }

    #[test]
    fn task_resources_and_lambda_parameters() {
        let task = |resource: &str, parameters: Value| {
            parse(machine(json!({"A": {"Type": "Task", "Resource": resource, "Parameters": parameters, "End": true}})))
        };
        assert!(task("arn:aws:states:::lambda:invoke", json!({"FunctionName": "f", "Payload.$": "$"})).is_ok());
        assert!(task("arn:aws:states:::lambda:invoke", json!({"FunctionName.$": "$.fn", "Qualifier": "live"})).is_ok());
        assert!(task("arn:aws-us-gov:lambda:us-gov-west-1:1:function:f:live", json!({})).is_ok());
        assert!(matches!(task("arn:aws:states:::lambda:invoke", json!({"Payload.$": "$"})), Err(AslError::Invalid { .. })));
        assert!(matches!(task("arn:aws:states:::lambda:invoke", json!({"FunctionName": "f", "Bogus": 1})), Err(AslError::Invalid { .. })));
        match task("${ProbeFunction}", json!({})) {
            Err(AslError::Invalid { state, message }) => {
                assert_eq!(state, "A");
                assert!(message.contains("unsubstituted"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(task("arn:aws:states:eu-west-1:1:activity:a", json!({})), Err(AslError::Unsupported { .. })));
    }
}
