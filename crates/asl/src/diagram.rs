//! A Mermaid flowchart of a parsed definition, for the README and `rehearsal asl diagram`.
//!
//! States are nodes shaped by type (Task a rectangle, Pass a rounded one, Choice a rhombus, Wait
//! a hexagon, Succeed and Fail stadiums coloured green and red); Next and Default are plain
//! edges, Choice rules are edges labelled with the rule, Catch edges are dashed and labelled
//! with the errors they catch, Retry is a line in the node. A Parallel state is a box holding
//! one subgraph per branch side by side, between a fork marker (the Parallel's node, where its
//! incoming edges end) and a join marker (where its Next leaves); its Catch edges leave the box.
//! States come in the order they are reached from StartAt, so the output is the same for the
//! same definition.
//!
//! Node ids are `s_` and the state name with every character but ASCII letters and digits
//! written as `_<hex code>_`: valid Mermaid ids for any name, distinct for distinct names, and
//! never a keyword such as `end`. Labels escape what Mermaid would read as markup.

use std::collections::{BTreeSet, VecDeque};

use crate::definition::{Body, Catcher, Exit, FailField, Machine, Resource, Retrier, State, WaitFor};
use crate::Definition;

/// The definition as a Mermaid flowchart (`flowchart TD`), without a Markdown fence.
pub fn flowchart(definition: &Definition) -> String {
    let mut chart = Chart::default();
    chart.machine(&definition.machine, &Markers { start: "start".into(), end: "finish".into(), own: true }, 1);
    chart.finish()
}

/// Where a machine starts and ends: the top level's own markers, or a branch's fork and join
/// (declared by its Parallel).
struct Markers {
    start: String,
    end: String,
    own: bool,
}

#[derive(Default)]
struct Chart {
    /// Node and subgraph declarations; edges come after all of them, so that no edge can move a
    /// node into another subgraph.
    nodes: Vec<String>,
    edges: Vec<String>,
    markers: Vec<String>,
    succeeded: Vec<String>,
    failed: Vec<String>,
}

impl Chart {
    fn finish(self) -> String {
        let mut out = vec!["flowchart TD".to_string()];
        out.extend(self.nodes);
        out.extend(self.edges);
        out.push("  classDef marker fill:#444,stroke:#444".into());
        out.push("  classDef succeed fill:#e6f4ea,stroke:#2e7d32".into());
        out.push("  classDef fail fill:#fdecea,stroke:#c62828".into());
        for (ids, class) in [(self.markers, "marker"), (self.succeeded, "succeed"), (self.failed, "fail")] {
            if !ids.is_empty() {
                out.push(format!("  class {} {class}", ids.join(",")));
            }
        }
        out.join("\n") + "\n"
    }

    fn marker(&mut self, indent: &str, id: &str) {
        self.nodes.push(format!("{indent}{id}((\" \"))"));
        self.markers.push(id.to_string());
    }

    fn machine(&mut self, machine: &Machine, markers: &Markers, depth: usize) {
        let indent = "  ".repeat(depth);
        if markers.own {
            self.marker(&indent, &markers.start);
        }
        self.edges.push(format!("  {} --> {}", markers.start, node_id(&machine.start_at)));
        let mut ends = false;
        for state in reach_order(machine) {
            self.state(state, depth);
            // A Parallel is left from its join marker, and caught from its box.
            let (next_from, catch_from) = match state.body {
                Body::Parallel(_) => (join_id(&state.name), box_id(&state.name)),
                _ => (node_id(&state.name), node_id(&state.name)),
            };
            for exit in state.exits() {
                ends |= matches!(exit, Exit::End);
                let from = if matches!(exit, Exit::Catch(_)) { &catch_from } else { &next_from };
                self.edges.push(edge(from, exit, &markers.end));
            }
        }
        if markers.own && ends {
            self.marker(&indent, &markers.end);
        }
    }

    fn state(&mut self, state: &State, depth: usize) {
        let indent = "  ".repeat(depth);
        let id = node_id(&state.name);
        let mut lines = vec![state.name.clone()];
        let node = match &state.body {
            Body::Task(task) => {
                match &task.resource {
                    Resource::LambdaInvokeWaitForTaskToken => lines.push("waits for a callback".into()),
                    Resource::SnsPublish => lines.push("sns:publish".into()),
                    Resource::LambdaInvoke | Resource::Function(_) => {}
                }
                lines.extend(retry_line(&task.handling.retry));
                format!("{id}[\"{}\"]", label(&lines))
            }
            Body::Pass { .. } => format!("{id}(\"{}\")", label(&lines)),
            Body::Choice { .. } => format!("{id}{{\"{}\"}}", label(&lines)),
            Body::Wait { wait, .. } => {
                lines.push(match wait {
                    WaitFor::Seconds(seconds) => format!("wait {seconds} s"),
                    WaitFor::SecondsPath(path) => format!("wait {} s", path.text()),
                    WaitFor::Timestamp(at) => format!("wait until {}", at.to_rfc3339()),
                    WaitFor::TimestampPath(path) => format!("wait until {}", path.text()),
                });
                format!("{id}{{{{\"{}\"}}}}", label(&lines))
            }
            Body::Succeed => {
                self.succeeded.push(id.clone());
                format!("{id}([\"{}\"])", label(&lines))
            }
            Body::Fail { error, .. } => {
                if let FailField::Literal(error) = error {
                    lines.push(format!("error {error}"));
                }
                self.failed.push(id.clone());
                format!("{id}([\"{}\"])", label(&lines))
            }
            Body::Parallel(parallel) => {
                lines[0] = format!("{} (Parallel)", state.name);
                lines.extend(retry_line(&parallel.handling.retry));
                self.nodes.push(format!("{indent}subgraph {} [\"{}\"]", box_id(&state.name), label(&lines)));
                let inner = format!("{indent}  ");
                self.marker(&inner, &id);
                let markers = Markers { start: id, end: join_id(&state.name), own: false };
                for (i, branch) in parallel.branches.iter().enumerate() {
                    self.nodes.push(format!("{inner}subgraph b{i}_{} [\"branch {}\"]", escape_id(&state.name), i + 1));
                    self.machine(branch, &markers, depth + 2);
                    self.nodes.push(format!("{inner}end"));
                }
                self.marker(&inner, &markers.end);
                self.nodes.push(format!("{indent}end"));
                return;
            }
        };
        self.nodes.push(format!("{indent}{node}"));
    }
}

/// The states of `machine` breadth first from StartAt, following exits in definition order.
fn reach_order(machine: &Machine) -> Vec<&State> {
    let mut seen = BTreeSet::from([machine.start_at.as_str()]);
    let mut queue = VecDeque::from([machine.start_at.as_str()]);
    let mut out = Vec::new();
    while let Some(name) = queue.pop_front() {
        let state = &machine.states[name];
        out.push(state);
        for target in state.exits().into_iter().filter_map(Exit::target) {
            if seen.insert(target) {
                queue.push_back(target);
            }
        }
    }
    // The parser refuses unreachable states; this keeps every state even so.
    out.extend(machine.states.values().filter(|s| !seen.contains(s.name.as_str())));
    out
}

fn edge(from: &str, exit: Exit, end: &str) -> String {
    match exit {
        Exit::Next(to) => format!("  {from} --> {}", node_id(to)),
        Exit::End => format!("  {from} --> {end}"),
        Exit::Rule(rule) => format!("  {from} -->|\"{}\"| {}", text(&rule.describe()), node_id(&rule.next)),
        Exit::Default(to) => format!("  {from} -->|\"default\"| {}", node_id(to)),
        Exit::Catch(catcher) => format!("  {from} -.->|\"{}\"| {}", text(&catch_label(catcher)), node_id(&catcher.next)),
    }
}

fn catch_label(catcher: &Catcher) -> String {
    const SHOWN: usize = 3;
    let mut names = catcher.errors.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ");
    if catcher.errors.len() > SHOWN {
        names.push_str(&format!(" +{} more", catcher.errors.len() - SHOWN));
    }
    format!("catch {names}")
}

/// `retry 8× on DatabaseNotReadyError, 6× on 6 errors`; retriers with no attempts are left out.
fn retry_line(retry: &[Retrier]) -> Option<String> {
    let parts: Vec<String> = retry
        .iter()
        .filter(|r| r.max_attempts > 0)
        .map(|r| {
            let on = match r.errors.as_slice() {
                [one] if one == "States.ALL" => "any error".to_string(),
                [one] => one.clone(),
                many => format!("{} errors", many.len()),
            };
            format!("{}× on {on}", r.max_attempts)
        })
        .collect();
    (!parts.is_empty()).then(|| format!("retry {}", parts.join(", ")))
}

fn node_id(name: &str) -> String {
    format!("s_{}", escape_id(name))
}

/// The box of a Parallel state, and its join marker (its fork marker is its node).
fn box_id(name: &str) -> String {
    format!("p_{}", escape_id(name))
}

fn join_id(name: &str) -> String {
    format!("j_{}", escape_id(name))
}

/// ASCII letters and digits as they are, any other character as `_<hex code>_`.
fn escape_id(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_string() } else { format!("_{:x}_", u32::from(c)) }).collect()
}

fn label(lines: &[String]) -> String {
    lines.iter().map(|l| text(l)).collect::<Vec<_>>().join("<br/>")
}

/// Text inside a quoted Mermaid label: characters Mermaid reads as markup become its entity
/// codes (`#34;` for a double quote), line breaks become spaces.
fn text(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '#' | '"' | '<' | '>' | '&' | '|' | '`' => format!("#{};", u32::from(c)),
            '\n' | '\r' => " ".to_string(),
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const FN: &str = "arn:aws:lambda:us-east-1:123456789012:function:f";

    #[test]
    fn a_small_definition_in_full() {
        let def = Definition::parse(
            &json!({
                "StartAt": "Start job",
                "States": {
                    "Start job": {"Type": "Task", "Resource": FN, "Next": "Is it done?",
                        "Retry": [{"ErrorEquals": ["Busy"], "MaxAttempts": 4}, {"ErrorEquals": ["States.ALL"], "MaxAttempts": 0}],
                        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Give up"}]},
                    "Is it done?": {"Type": "Choice", "Choices": [
                        {"Variable": "$.phase", "StringEquals": "ready", "Next": "Both"},
                        {"Variable": "$.tries", "NumericGreaterThan": 3, "Next": "Give up"}
                    ], "Default": "Wait a bit"},
                    "Wait a bit": {"Type": "Wait", "Seconds": 30, "Next": "Start job"},
                    "Both": {"Type": "Parallel", "Next": "Done", "Branches": [
                        {"StartAt": "Left", "States": {"Left": {"Type": "Pass", "End": true}}},
                        {"StartAt": "Right", "States": {"Right": {"Type": "Task", "Resource": FN, "End": true}}}
                    ], "Catch": [{"ErrorEquals": ["A", "B"], "Next": "Give up"}]},
                    "Done": {"Type": "Succeed"},
                    "Give up": {"Type": "Fail", "Error": "Gave<up>"}
                }
            })
            .to_string(),
        )
        .unwrap();
        let expected = r##"flowchart TD
  start((" "))
  s_Start_20_job["Start job<br/>retry 4× on Busy"]
  s_Is_20_it_20_done_3f_{"Is it done?"}
  s_Give_20_up(["Give up<br/>error Gave#60;up#62;"])
  subgraph p_Both ["Both (Parallel)"]
    s_Both((" "))
    subgraph b0_Both ["branch 1"]
      s_Left("Left")
    end
    subgraph b1_Both ["branch 2"]
      s_Right["Right"]
    end
    j_Both((" "))
  end
  s_Wait_20_a_20_bit{{"Wait a bit<br/>wait 30 s"}}
  s_Done(["Done"])
  start --> s_Start_20_job
  s_Start_20_job --> s_Is_20_it_20_done_3f_
  s_Start_20_job -.->|"catch States.ALL"| s_Give_20_up
  s_Is_20_it_20_done_3f_ -->|"$.phase == 'ready'"| s_Both
  s_Is_20_it_20_done_3f_ -->|"$.tries #62; 3"| s_Give_20_up
  s_Is_20_it_20_done_3f_ -->|"default"| s_Wait_20_a_20_bit
  s_Both --> s_Left
  s_Left --> j_Both
  s_Both --> s_Right
  s_Right --> j_Both
  j_Both --> s_Done
  p_Both -.->|"catch A, B"| s_Give_20_up
  s_Wait_20_a_20_bit --> s_Start_20_job
  classDef marker fill:#444,stroke:#444
  classDef succeed fill:#e6f4ea,stroke:#2e7d32
  classDef fail fill:#fdecea,stroke:#c62828
  class start,s_Both,j_Both marker
  class s_Done succeed
  class s_Give_20_up fail
"##;
        assert_eq!(flowchart(&def), expected);
    }

    #[test]
    fn ids_are_valid_and_distinct_for_any_name() {
        for (name, id) in [("end", "s_end"), ("a_b", "s_a_5f_b"), ("a b", "s_a_20_b"), ("ä", "s__e4_"), ("x--o", "s_x_2d__2d_o")] {
            assert_eq!(node_id(name), id);
            assert!(id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{id}");
        }
        // `_` itself is escaped, so a name can never spell another name's escape.
        assert_ne!(node_id("a_20_b"), node_id("a b"));
        assert_eq!(text("say \"#1\" <b>&`x`|y"), "say #34;#35;1#34; #60;b#62;#38;#96;x#96;#124;y");
    }
}
