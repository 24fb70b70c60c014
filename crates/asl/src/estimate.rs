//! How long a definition is expected to run: the duration of its happy path, the critical path
//! (the chain of states that determines it, through the longest branch of every Parallel) and,
//! while an execution runs, an ETA for the rest.
//!
//! The model walks the definition without running it. A Task takes its expected duration (one
//! attempt: no retries, no catches); a Pass or Choice takes no time; a Wait takes its Seconds.
//! A *wait loop* is a cycle of states through a Wait (Choice → Wait → check → Choice): it goes
//! round `ceil(expected / Seconds)` times, where `expected` is how long the thing waited on
//! takes from the moment the loop is entered, and then leaves by the Choice's exit. A Choice
//! outside a loop takes the exit whose rest takes longest among those that can end in success
//! (the first exit when none can), unless [`ExpectedDurations::choices`] says which exit to assume
//! (an input the estimate cannot see, such as whether an approval is required). Once the
//! happy path is left (a caught error starts a rollback), the same rules estimate the rollback.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::definition::{Body, Exit, Machine, State, WaitFor};
use crate::Definition;

/// Expected durations by state name. Names that are not states of the definition are ignored,
/// so one table can serve several definitions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExpectedDurations {
    /// One attempt of each Task state; a Task not listed takes `default_task`.
    pub tasks: BTreeMap<String, Duration>,
    pub default_task: Duration,
    /// For the Wait state of a wait loop: how long the thing it waits on takes to be ready,
    /// counted from when the loop is entered (not listed: ready at the first check). For a Wait
    /// whose time comes from the input (`SecondsPath`, `Timestamp...`): how long it waits.
    pub waits: BTreeMap<String, Duration>,
    /// Choice state → the exit (target state) to assume.
    pub choices: BTreeMap<String, String>,
}

/// One state of the critical path, with expected times from the execution's start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathStep {
    pub name: String,
    /// The Parallel branch it runs in, as in [`crate::Event`]: `"Prepare/1"`, `""` at the top.
    pub path: String,
    pub kind: &'static str,
    /// When it is first entered and last left.
    pub start: Duration,
    pub end: Duration,
    /// How many times it is entered (more than once in a wait loop).
    pub entries: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Estimate {
    /// When the execution is expected to end, from its start.
    pub finish: Duration,
    /// From the current position (the start, for a plan) to the end, in order; for an ETA the
    /// first step is the one being waited on.
    pub critical_path: Vec<PathStep>,
    /// States expected to be entered from the current position on, in every branch (Step
    /// Functions bills each as a state transition), and how many of them are Tasks.
    pub state_entries: u64,
    pub task_entries: u64,
}

impl Estimate {
    /// Expected time left at `now` (elapsed since the start).
    pub fn remaining(&self, now: Duration) -> Duration {
        self.finish.saturating_sub(now)
    }
}

/// One state entered by an execution so far, in the order entered: times since its start;
/// `exited` is `None` while the state runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub name: String,
    pub entered: Duration,
    pub exited: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EstimateError {
    #[error("the execution entered '{0}', which is not a state of the definition")]
    UnknownState(String),
    #[error("the wait loop through '{0}' waits 0 seconds: its iterations cannot be counted")]
    ZeroWait(String),
    #[error("the path from '{0}' does not end (a loop without a way out?)")]
    Endless(String),
    #[error("the assumed exit of Choice '{choice}' is '{target}', which is not one of its exits")]
    UnknownChoiceExit { choice: String, target: String },
}

/// The happy path of `definition` from its start.
pub fn critical_path(definition: &Definition, durations: &ExpectedDurations) -> Result<Estimate, EstimateError> {
    let model = Model::new(definition, durations);
    let run = model.run_from("", Decision::Go(&definition.machine.start_at), None, Duration::ZERO, Counts::new())?;
    Ok(run.into_estimate())
}

/// The rest of an execution that has entered `spans` so far and is `now` into its run.
pub fn eta(definition: &Definition, durations: &ExpectedDurations, spans: &[Span], now: Duration) -> Result<Estimate, EstimateError> {
    let model = Model::new(definition, durations);
    if let Some(unknown) = spans.iter().find(|s| !model.states.contains_key(s.name.as_str())) {
        return Err(EstimateError::UnknownState(unknown.name.clone()));
    }
    let indexed: Vec<(usize, &Span)> = spans.iter().enumerate().collect();
    let run = model.resume(&definition.machine, "", &indexed, now)?;
    Ok(run.into_estimate())
}

/// Wait entries per Wait state in the current visit of its loop.
type Counts<'d> = BTreeMap<&'d str, u64>;

/// States entered along one walk; the critical path is the walk through the longest branches.
struct Run {
    end: Duration,
    steps: Vec<PathStep>,
    entries: u64,
    tasks: u64,
}

impl Run {
    fn new(at: Duration) -> Run {
        Run { end: at, steps: Vec::new(), entries: 0, tasks: 0 }
    }

    fn into_estimate(self) -> Estimate {
        Estimate { finish: self.end, critical_path: self.steps, state_entries: self.entries, task_entries: self.tasks }
    }

    fn record(&mut self, state: &State, path: &str, start: Duration, end: Duration) {
        self.push(PathStep { name: state.name.clone(), path: path.to_string(), kind: state.kind(), start, end, entries: 1 });
    }

    /// Adds a step, folding a state already on the path into its first row.
    fn push(&mut self, step: PathStep) {
        self.end = self.end.max(step.end);
        match self.steps.iter_mut().find(|s| s.name == step.name) {
            Some(row) => {
                row.end = row.end.max(step.end);
                row.entries += step.entries;
            }
            None => self.steps.push(step),
        }
    }

    fn append(&mut self, other: Run) {
        self.entries += other.entries;
        self.tasks += other.tasks;
        other.steps.into_iter().for_each(|s| self.push(s));
        self.end = self.end.max(other.end);
    }
}

/// What a state leads to on the path being estimated.
enum Decision<'d> {
    End,
    Go(&'d str),
    /// Several exits could be the happy one: the longest is taken.
    Longest(Vec<&'d str>),
}

/// A cycle of states (strongly connected through Next, Choice rules and Default).
struct Loop<'d> {
    members: BTreeSet<&'d str>,
    waits: Vec<&'d str>,
}

/// Walks never enter more states than this; only an endless loop gets there.
const STATE_BUDGET: u64 = 200_000;

struct Model<'d> {
    durations: &'d ExpectedDurations,
    states: BTreeMap<&'d str, &'d State>,
    /// States from which a successful end (Succeed, or `End` of the machine or branch) can be
    /// reached without a catch.
    succeeds: BTreeSet<&'d str>,
    loops: Vec<Loop<'d>>,
    loop_of: BTreeMap<&'d str, usize>,
    budget: Cell<u64>,
}

/// The transitions of the happy path: Next, Choice rules and Default.
fn happy_targets(state: &State) -> Vec<&str> {
    state.exits().into_iter().filter(|e| !matches!(e, Exit::Catch(_))).filter_map(Exit::target).collect()
}

impl<'d> Model<'d> {
    fn new(definition: &'d Definition, durations: &'d ExpectedDurations) -> Model<'d> {
        let mut model = Model {
            durations,
            states: BTreeMap::new(),
            succeeds: BTreeSet::new(),
            loops: Vec::new(),
            loop_of: BTreeMap::new(),
            budget: Cell::new(STATE_BUDGET),
        };
        model.analyse(&definition.machine);
        model
    }

    fn analyse(&mut self, machine: &'d Machine) {
        for state in machine.states.values() {
            self.states.insert(&state.name, state);
            if let Body::Parallel(parallel) = &state.body {
                parallel.branches.iter().for_each(|b| self.analyse(b));
            }
        }
        let ends = |s: &State| matches!(s.body, Body::Succeed) || s.exits().iter().any(|e| matches!(e, Exit::End));
        let mut succeeds: BTreeSet<&str> = machine.states.values().filter(|s| ends(s)).map(|s| s.name.as_str()).collect();
        loop {
            let more: Vec<&str> = machine
                .states
                .values()
                .filter(|s| !succeeds.contains(s.name.as_str()) && happy_targets(s).iter().any(|t| succeeds.contains(t)))
                .map(|s| s.name.as_str())
                .collect();
            if more.is_empty() {
                break;
            }
            succeeds.extend(more);
        }
        self.succeeds.extend(succeeds);
        // Reachability in one step or more; two states are in one loop when each reaches the other.
        let reach: BTreeMap<&str, BTreeSet<&str>> = machine
            .states
            .keys()
            .map(|name| {
                let mut seen = BTreeSet::new();
                let mut stack = happy_targets(&machine.states[name]);
                while let Some(next) = stack.pop() {
                    if seen.insert(next) {
                        stack.extend(happy_targets(&machine.states[next]));
                    }
                }
                (name.as_str(), seen)
            })
            .collect();
        for (name, reached) in &reach {
            if !reached.contains(name) || self.loop_of.contains_key(name) {
                continue;
            }
            let members: BTreeSet<&str> = reached.iter().copied().filter(|other| reach[other].contains(name)).collect();
            let waits = members.iter().copied().filter(|m| matches!(machine.states[*m].body, Body::Wait { .. })).collect();
            let id = self.loops.len();
            members.iter().for_each(|m| {
                self.loop_of.insert(m, id);
            });
            self.loops.push(Loop { members, waits });
        }
    }

    fn task_duration(&self, name: &str) -> Duration {
        self.durations.tasks.get(name).copied().unwrap_or(self.durations.default_task)
    }

    /// How long one entry of Wait `state` takes.
    fn wait_duration(&self, state: &State) -> Duration {
        match &state.body {
            Body::Wait { wait: WaitFor::Seconds(seconds), .. } => Duration::from_secs(*seconds),
            _ => self.durations.waits.get(&state.name).copied().unwrap_or_default(),
        }
    }

    /// How many times a loop's Wait is entered before the loop may be left.
    fn iterations(&self, wait: &str) -> Result<u64, EstimateError> {
        let expected = self.durations.waits.get(wait).copied().unwrap_or_default();
        if expected.is_zero() {
            return Ok(0);
        }
        match &self.states[wait].body {
            Body::Wait { wait: WaitFor::Seconds(0), .. } => Err(EstimateError::ZeroWait(wait.to_string())),
            Body::Wait { wait: WaitFor::Seconds(seconds), .. } => {
                Ok(u64::try_from(expected.as_millis().div_ceil(u128::from(*seconds) * 1000)).unwrap_or(u64::MAX))
            }
            _ => Ok(1),
        }
    }

    fn decide(&self, state: &'d State, counts: &Counts<'d>) -> Result<Decision<'d>, EstimateError> {
        let exits = state.exits();
        let targets: Vec<&'d str> = happy_targets(state);
        if !matches!(state.body, Body::Choice { .. }) {
            return Ok(targets.first().map_or(Decision::End, |t| Decision::Go(t)));
        }
        if let Some(assumed) = self.durations.choices.get(&state.name) {
            return match targets.iter().find(|t| **t == assumed) {
                Some(target) => Ok(Decision::Go(target)),
                None => Err(EstimateError::UnknownChoiceExit { choice: state.name.clone(), target: assumed.clone() }),
            };
        }
        let mut candidates: Vec<&'d str> = Vec::new();
        for target in targets {
            if !candidates.contains(&target) {
                candidates.push(target);
            }
        }
        if let Some(&id) = self.loop_of.get(state.name.as_str()) {
            let circle = &self.loops[id];
            let (inside, outside): (Vec<&str>, Vec<&str>) = candidates.iter().partition(|c| circle.members.contains(*c));
            let mut more = false;
            for wait in &circle.waits {
                more |= counts.get(wait).copied().unwrap_or(0) < self.iterations(wait)?;
            }
            if (more || outside.is_empty()) && !inside.is_empty() {
                let default = exits.iter().find_map(|e| match e {
                    Exit::Default(to) if circle.members.contains(to) => Some(*to),
                    _ => None,
                });
                return Ok(Decision::Go(default.unwrap_or(inside[0])));
            }
            candidates = outside;
        }
        let successful: Vec<&'d str> = candidates.iter().copied().filter(|c| self.succeeds.contains(c)).collect();
        Ok(match successful.len() {
            0 => candidates.first().map_or(Decision::End, |c| Decision::Go(c)),
            1 => Decision::Go(successful[0]),
            _ => Decision::Longest(successful),
        })
    }

    /// Walks `machine` from `decision` at time `t` to its end.
    fn run_from(
        &self,
        path: &str,
        mut decision: Decision<'d>,
        mut previous: Option<&'d str>,
        mut t: Duration,
        mut counts: Counts<'d>,
    ) -> Result<Run, EstimateError> {
        let mut run = Run::new(t);
        loop {
            let name = match decision {
                Decision::End => return Ok(run),
                Decision::Go(name) => name,
                Decision::Longest(candidates) => {
                    let mut best: Option<Run> = None;
                    for candidate in candidates {
                        let rest = self.run_from(path, Decision::Go(candidate), previous, t, counts.clone())?;
                        if best.as_ref().is_none_or(|b| rest.end > b.end) {
                            best = Some(rest);
                        }
                    }
                    run.append(best.unwrap_or_else(|| Run::new(t)));
                    return Ok(run);
                }
            };
            let state = self.states[name];
            let left = self.budget.get().checked_sub(1).ok_or_else(|| EstimateError::Endless(name.to_string()))?;
            self.budget.set(left);
            if let Some(&id) = self.loop_of.get(name) {
                if previous.is_none_or(|p| !self.loops[id].members.contains(p)) {
                    self.loops[id].waits.iter().for_each(|w| {
                        counts.remove(w);
                    });
                }
            }
            run.entries += 1;
            let start = t;
            match &state.body {
                Body::Task(_) => {
                    run.tasks += 1;
                    t += self.task_duration(name);
                }
                Body::Wait { .. } => {
                    *counts.entry(name).or_insert(0) += 1;
                    t += self.wait_duration(state);
                }
                Body::Parallel(parallel) => {
                    let branches = parallel.branches.iter().enumerate().map(|(i, branch)| {
                        let start_at = Decision::Go(branch.start_at.as_str());
                        self.run_from(&branch_path(path, name, i), start_at, None, t, Counts::new())
                    });
                    let branches = branches.collect::<Result<Vec<_>, _>>()?;
                    t = self.join(&mut run, state, path, start, branches);
                    decision = self.decide(state, &counts)?;
                    previous = Some(name);
                    continue;
                }
                Body::Pass { .. } | Body::Choice { .. } | Body::Succeed | Body::Fail { .. } => {}
            }
            run.record(state, path, start, t);
            decision = self.decide(state, &counts)?;
            previous = Some(name);
        }
    }

    /// Records Parallel `state` (entered at `start`) and its longest branch; returns its end.
    fn join(&self, run: &mut Run, state: &State, path: &str, start: Duration, branches: Vec<Run>) -> Duration {
        let end = branches.iter().map(|b| b.end).fold(start, Duration::max);
        run.record(state, path, start, end);
        // The first branch that ends last is the critical one; every branch's entries count.
        let critical = branches.iter().position(|b| b.end == end);
        for (i, branch) in branches.into_iter().enumerate() {
            run.entries += branch.entries;
            run.tasks += branch.tasks;
            if Some(i) == critical {
                branch.steps.into_iter().for_each(|s| run.push(s));
            }
        }
        end
    }

    /// The rest of `machine` after the spans entered in it so far (`spans` holds every span
    /// from the machine's latest entry on, with its index in the execution's order).
    fn resume(&self, machine: &'d Machine, path: &str, spans: &[(usize, &Span)], now: Duration) -> Result<Run, EstimateError> {
        let own: Vec<(usize, &Span)> = spans.iter().copied().filter(|(_, s)| machine.states.contains_key(&s.name)).collect();
        let Some(&(index, last)) = own.last() else {
            return self.run_from(path, Decision::Go(&machine.start_at), None, now, Counts::new());
        };
        let state = self.states[last.name.as_str()];
        let name = state.name.as_str();
        // Wait entries so far in the current visit of the loop the execution is in.
        let mut counts = Counts::new();
        if let Some(&id) = self.loop_of.get(name) {
            let circle = &self.loops[id];
            for (_, span) in own.iter().rev().take_while(|(_, s)| circle.members.contains(s.name.as_str())) {
                if let Some(wait) = circle.waits.iter().find(|w| **w == span.name) {
                    *counts.entry(wait).or_insert(0) += 1;
                }
            }
        }
        let Some(exited) = last.exited else {
            // The state still runs: its remaining time first.
            let mut run = Run::new(now);
            let end = match &state.body {
                Body::Task(_) => (last.entered + self.task_duration(name)).max(now),
                Body::Wait { .. } => (last.entered + self.wait_duration(state)).max(now),
                Body::Parallel(parallel) => {
                    let later: Vec<(usize, &Span)> = spans.iter().copied().filter(|(i, _)| *i > index).collect();
                    let branches = parallel
                        .branches
                        .iter()
                        .enumerate()
                        .map(|(i, branch)| self.resume(branch, &branch_path(path, name, i), &later, now).map(|b| floor(b, now)))
                        .collect::<Result<Vec<_>, _>>()?;
                    self.join(&mut run, state, path, last.entered, branches)
                }
                _ => now,
            };
            if !matches!(state.body, Body::Parallel(_)) {
                run.record(state, path, last.entered, end);
            }
            run.append(self.run_from(path, self.decide(state, &counts)?, Some(name), end, counts)?);
            return Ok(run);
        };
        // The state was left and its successor not yet entered; a machine that ended is over.
        match self.decide(state, &counts)? {
            Decision::End => Ok(Run::new(exited)),
            decision => self.run_from(path, decision, Some(name), now, counts),
        }
    }
}

/// A branch that ended before `now` holds its Parallel until at least `now`.
fn floor(mut run: Run, now: Duration) -> Run {
    run.end = run.end.max(now);
    run
}

/// The branch path the runner reports for branch `i` of Parallel `name` inside `path`.
fn branch_path(path: &str, name: &str, i: usize) -> String {
    if path.is_empty() {
        format!("{name}/{i}")
    } else {
        format!("{path}/{name}/{i}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const FN: &str = "arn:aws:lambda:us-east-1:123456789012:function:f";

    fn def(states: Value, start: &str) -> Definition {
        Definition::parse(&json!({"StartAt": start, "States": states}).to_string()).unwrap()
    }

    fn task(next: &str) -> Value {
        json!({"Type": "Task", "Resource": FN, "Next": next})
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn durations(tasks: &[(&str, u64)], waits: &[(&str, u64)]) -> ExpectedDurations {
        ExpectedDurations {
            tasks: tasks.iter().map(|(n, s)| (n.to_string(), secs(*s))).collect(),
            default_task: secs(1),
            waits: waits.iter().map(|(n, s)| (n.to_string(), secs(*s))).collect(),
            choices: BTreeMap::new(),
        }
    }

    fn names(estimate: &Estimate) -> Vec<&str> {
        estimate.critical_path.iter().map(|s| s.name.as_str()).collect()
    }

    /// Start → IsReady? (ready → Done, failed → Broken, else Wait 60 s → Check → IsReady?).
    fn wait_loop() -> Definition {
        def(
            json!({
                "Start": task("IsReady"),
                "IsReady": {"Type": "Choice", "Choices": [
                    {"Variable": "$.phase", "StringEquals": "ready", "Next": "Done"},
                    {"Variable": "$.phase", "StringEquals": "failed", "Next": "Broken"}
                ], "Default": "Wait"},
                "Wait": {"Type": "Wait", "Seconds": 60, "Next": "Check"},
                "Check": task("IsReady"),
                "Broken": {"Type": "Fail", "Error": "Broken"},
                "Done": {"Type": "Succeed"}
            }),
            "Start",
        )
    }

    #[test]
    fn a_straight_line_adds_up_tasks_and_waits() {
        let d =
            def(json!({"A": task("W"), "W": {"Type": "Wait", "Seconds": 10, "Next": "B"}, "B": task("Z"), "Z": {"Type": "Succeed"}}), "A");
        let estimate = critical_path(&d, &durations(&[("A", 5)], &[])).unwrap();
        assert_eq!(estimate.finish, secs(16));
        let steps: Vec<(&str, &str, u64, u64)> =
            estimate.critical_path.iter().map(|s| (s.name.as_str(), s.kind, s.start.as_secs(), s.end.as_secs())).collect();
        assert_eq!(steps, [("A", "Task", 0, 5), ("W", "Wait", 5, 15), ("B", "Task", 15, 16), ("Z", "Succeed", 16, 16)]);
        assert_eq!((estimate.state_entries, estimate.task_entries), (4, 2));
        assert_eq!(estimate.remaining(secs(10)), secs(6));
    }

    #[test]
    fn a_parallel_takes_its_longest_branch_and_counts_every_branch() {
        let d = def(
            json!({
                "P": {"Type": "Parallel", "Next": "After", "Branches": [
                    {"StartAt": "Short", "States": {"Short": {"Type": "Task", "Resource": FN, "End": true}}},
                    {"StartAt": "Long1", "States": {"Long1": task("Long2"), "Long2": {"Type": "Task", "Resource": FN, "End": true}}}
                ]},
                "After": {"Type": "Pass", "End": true}
            }),
            "P",
        );
        let estimate = critical_path(&d, &durations(&[("Short", 30), ("Long1", 20), ("Long2", 25)], &[])).unwrap();
        assert_eq!(estimate.finish, secs(45));
        assert_eq!(names(&estimate), ["P", "Long1", "Long2", "After"]);
        assert_eq!(estimate.critical_path[1].path, "P/1");
        assert_eq!((estimate.critical_path[0].start, estimate.critical_path[0].end), (secs(0), secs(45)));
        assert_eq!((estimate.state_entries, estimate.task_entries), (5, 3));
    }

    #[test]
    fn a_wait_loop_goes_round_until_what_it_waits_on_is_expected_ready() {
        let d = wait_loop();
        // 150 s of waiting at 60 s a round: three rounds, each with a 2 s check.
        let estimate = critical_path(&d, &durations(&[("Start", 4), ("Check", 2)], &[("Wait", 150)])).unwrap();
        assert_eq!(estimate.finish, secs(4 + 3 * (60 + 2)));
        assert_eq!(names(&estimate), ["Start", "IsReady", "Wait", "Check", "Done"]);
        let entries: Vec<u64> = estimate.critical_path.iter().map(|s| s.entries).collect();
        assert_eq!(entries, [1, 4, 3, 3, 1]);
        // Exactly a multiple of the Wait: no extra round; nothing listed: ready at the first check.
        assert_eq!(critical_path(&d, &durations(&[], &[("Wait", 120)])).unwrap().finish, secs(1 + 2 * 61));
        assert_eq!(critical_path(&d, &durations(&[], &[])).unwrap().finish, secs(1));
    }

    #[test]
    fn a_choice_takes_its_longest_successful_exit_unless_told() {
        let d = def(
            json!({
                "Ask": {"Type": "Choice", "Choices": [
                    {"Variable": "$.approval", "BooleanEquals": true, "Next": "Approve"},
                    {"Variable": "$.broken", "BooleanEquals": true, "Next": "Broken"}
                ], "Default": "Go"},
                "Approve": task("Go"),
                "Go": {"Type": "Task", "Resource": FN, "End": true},
                "Broken": {"Type": "Fail"}
            }),
            "Ask",
        );
        let mut table = durations(&[("Approve", 3600), ("Go", 10)], &[]);
        assert_eq!(names(&critical_path(&d, &table).unwrap()), ["Ask", "Approve", "Go"]);
        table.choices.insert("Ask".into(), "Go".into());
        assert_eq!(critical_path(&d, &table).unwrap().finish, secs(10));
        table.choices.insert("Ask".into(), "Elsewhere".into());
        assert_eq!(
            critical_path(&d, &table).unwrap_err(),
            EstimateError::UnknownChoiceExit { choice: "Ask".into(), target: "Elsewhere".into() }
        );
    }

    #[test]
    fn loops_that_cannot_be_counted_or_left_are_errors() {
        let zero = def(
            json!({
                "C": {"Type": "Choice", "Choices": [{"Variable": "$.ok", "BooleanEquals": true, "Next": "Z"}], "Default": "W"},
                "W": {"Type": "Wait", "Seconds": 0, "Next": "C"},
                "Z": {"Type": "Succeed"}
            }),
            "C",
        );
        assert_eq!(critical_path(&zero, &durations(&[], &[("W", 10)])).unwrap_err(), EstimateError::ZeroWait("W".into()));
        let endless = def(json!({"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}), "A");
        assert!(matches!(critical_path(&endless, &durations(&[], &[])), Err(EstimateError::Endless(_))));
    }

    #[test]
    fn the_eta_counts_what_is_left_of_the_running_state_and_the_loop() {
        let d = wait_loop();
        let table = durations(&[("Start", 4), ("Check", 2)], &[("Wait", 150)]);
        let span =
            |name: &str, entered: u64, exited: Option<u64>| Span { name: name.into(), entered: secs(entered), exited: exited.map(secs) };
        // Nothing entered yet: the whole run.
        assert_eq!(eta(&d, &table, &[], secs(0)).unwrap().finish, secs(190));
        // Start runs for 3 of its 4 s.
        let running = eta(&d, &table, &[span("Start", 0, None)], secs(3)).unwrap();
        assert_eq!((running.finish, running.critical_path[0].name.as_str()), (secs(190), "Start"));
        // Second round, waiting: one more round after this one.
        let second = [
            span("Start", 0, Some(4)),
            span("IsReady", 4, Some(4)),
            span("Wait", 4, Some(64)),
            span("Check", 64, Some(66)),
            span("IsReady", 66, Some(66)),
            span("Wait", 66, None),
        ];
        let estimate = eta(&d, &table, &second, secs(100)).unwrap();
        assert_eq!(estimate.finish, secs(190));
        assert_eq!(estimate.remaining(secs(100)), secs(90));
        assert_eq!(estimate.critical_path[0].name, "Wait");
        // Slower than expected: past the expected rounds, the next check is taken to succeed.
        let mut late = second[..5].to_vec();
        for round in [66, 128] {
            late.extend([span("Wait", round, Some(round + 60)), span("Check", round + 60, Some(round + 62))]);
            late.push(span("IsReady", round + 62, Some(round + 62)));
        }
        late.push(span("Wait", 190, None));
        assert_eq!(eta(&d, &table, &late, secs(200)).unwrap().finish, secs(252));
        // A state the definition does not have.
        assert_eq!(eta(&d, &table, &[span("Ghost", 0, None)], secs(1)).unwrap_err(), EstimateError::UnknownState("Ghost".into()));
    }

    #[test]
    fn after_a_caught_error_the_eta_follows_the_rollback() {
        let d = def(
            json!({
                "Work": {"Type": "Task", "Resource": FN, "Next": "Done", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Undo"}]},
                "Done": {"Type": "Succeed"},
                "Undo": task("Undone"),
                "Undone": {"Type": "Fail", "Error": "RolledBack"}
            }),
            "Work",
        );
        let table = durations(&[("Work", 100), ("Undo", 30)], &[]);
        // The plan does not count the rollback.
        assert_eq!(names(&critical_path(&d, &table).unwrap()), ["Work", "Done"]);
        let spans = [
            Span { name: "Work".into(), entered: secs(0), exited: Some(secs(7)) },
            Span { name: "Undo".into(), entered: secs(7), exited: None },
        ];
        let estimate = eta(&d, &table, &spans, secs(10)).unwrap();
        assert_eq!((estimate.finish, names(&estimate)), (secs(37), vec!["Undo", "Undone"]));
    }
}
