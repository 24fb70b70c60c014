//! The state machines leave statuses to Rust ([`rehearsal_core::phase`]): no Choice of any
//! statemachine/*.asl.json compares an AWS status, string comparisons are on a `phase` only, and
//! each wait loop's Choice has at most 3 rules, on its phase and its deadline (a time or a
//! number of attempts).

use rehearsal_core::phase::{self, Phase};
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::path::Path;

/// Every definition, by file name.
fn definitions() -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../statemachine");
    let mut found: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().ends_with(".asl.json"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            (path.file_name().unwrap().to_string_lossy().into_owned(), serde_json::from_str(&text).unwrap())
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(!found.is_empty(), "no statemachine/*.asl.json in {}", dir.display());
    found
}

/// Every state of `states` and of the Parallel branches in it, each with the states of its own
/// scope (where its `Next` and `Default` point).
fn all_states<'a>(states: &'a Map<String, Value>, out: &mut Vec<(&'a str, &'a Value, &'a Map<String, Value>)>) {
    for (name, state) in states {
        out.push((name, state, states));
        for branch in state.get("Branches").and_then(Value::as_array).into_iter().flatten() {
            all_states(branch["States"].as_object().expect("a branch's States"), out);
        }
    }
}

/// The comparisons of a rule, through `And`, `Or` and `Not`: (variable, operator, operand).
fn comparisons<'a>(rule: &'a Value, out: &mut Vec<(&'a str, &'a str, &'a Value)>) {
    let rule = rule.as_object().expect("a Choice rule is an object");
    for (key, value) in rule {
        match key.as_str() {
            "And" | "Or" => value.as_array().expect("a list of rules").iter().for_each(|r| comparisons(r, out)),
            "Not" => comparisons(value, out),
            "Variable" | "Next" | "Comment" => {}
            operator => out.push((rule["Variable"].as_str().expect("a comparison has a Variable"), operator, value)),
        }
    }
}

/// What each Choice does wrong.
fn problems(file: &str, definition: &Value) -> (Vec<String>, usize) {
    let statuses: BTreeSet<&str> = phase::ALL.iter().flat_map(|kind| kind.documented()).collect();
    let phases: Vec<&str> = Phase::ALL.iter().map(|p| p.as_str()).collect();
    let mut states = Vec::new();
    all_states(definition["States"].as_object().expect("States"), &mut states);
    let (mut found, mut waits) = (Vec::new(), 0);
    for (name, state, scope) in states {
        if state["Type"] != "Choice" {
            continue;
        }
        let rules = state["Choices"].as_array().expect("Choices");
        let mut leaves = Vec::new();
        rules.iter().for_each(|r| comparisons(r, &mut leaves));
        for &(variable, operator, operand) in &leaves {
            let on_phase = variable.ends_with(".phase");
            if let Some(text) = operand.as_str() {
                if statuses.contains(text) && !(on_phase && phases.contains(&text)) {
                    found.push(format!("{file} {name}: {variable} {operator} {text:?}, an AWS status"));
                }
            }
            if operator.starts_with("String")
                && !(on_phase && operator == "StringEquals" && operand.as_str().is_some_and(|p| phases.contains(&p)))
            {
                found.push(format!(
                    "{file} {name}: {variable} {operator} {operand}: strings are compared only as `phase` StringEquals one of {phases:?}"
                ));
            }
        }
        // A wait loop: when nothing decides, it waits and looks again.
        let default = state["Default"].as_str().and_then(|d| scope.get(d));
        if default.is_some_and(|d| d["Type"] == "Wait") {
            waits += 1;
            if rules.len() > 3 {
                found.push(format!("{file} {name}: {} rules in a wait Choice (at most 3)", rules.len()));
            }
            let ready = leaves.iter().any(|&(v, o, p)| v.ends_with(".phase") && o == "StringEquals" && p == Phase::Ready.as_str());
            if !ready {
                found.push(format!("{file} {name}: a wait Choice that never tests for `ready`"));
            }
            for &(variable, operator, _) in &leaves {
                let deadline = variable.ends_with(".timed_out") || variable.ends_with(".attempts");
                // IsNull: whether there is anything to wait for at all.
                if !(variable.ends_with(".phase") || deadline || operator == "IsNull") {
                    found.push(format!("{file} {name}: a wait Choice tests {variable}, not its phase or deadline"));
                }
            }
        }
    }
    (found, waits)
}

#[test]
fn choices_test_phases_not_aws_statuses_and_wait_choices_have_at_most_three_rules() {
    let mut found = Vec::new();
    for (file, definition) in definitions() {
        let (problems, waits) = problems(&file, &definition);
        assert!(waits > 0, "{file}: no wait Choice found, so nothing was checked");
        found.extend(problems);
    }
    assert!(found.is_empty(), "\n{}", found.join("\n"));
}

#[test]
fn the_check_catches_a_status_a_long_choice_and_a_wait_on_something_else() {
    let definition = serde_json::json!({"StartAt": "Done?", "States": {
        "Done?": {"Type": "Choice", "Default": "Wait", "Choices": [
            {"Variable": "$.db.status", "StringEquals": "available", "Next": "End"},
            {"Or": [{"Variable": "$.db.phase", "StringEquals": "failed"}, {"Variable": "$.db.phase", "StringEquals": "incompatible-restore"}], "Next": "End"},
            {"Variable": "$.db.timed_out", "BooleanEquals": true, "Next": "End"},
            {"Variable": "$.db.endpoint", "IsPresent": false, "Next": "End"}
        ]},
        "Wait": {"Type": "Wait", "Seconds": 1, "Next": "Done?"},
        "End": {"Type": "Succeed"}
    }});
    let (found, waits) = problems("made-up.asl.json", &definition);
    assert_eq!(waits, 1);
    let expected = [
        "$.db.status StringEquals \"available\", an AWS status",
        "$.db.status StringEquals \"available\": strings are compared only",
        "$.db.phase StringEquals \"incompatible-restore\", an AWS status",
        "$.db.phase StringEquals \"incompatible-restore\": strings are compared only",
        "4 rules in a wait Choice",
        "a wait Choice that never tests for `ready`",
        "tests $.db.status, not its phase or deadline",
        "tests $.db.endpoint, not its phase or deadline",
    ];
    for problem in expected {
        assert!(found.iter().any(|f| f.contains(problem)), "{problem:?} not in {found:#?}");
    }
    assert_eq!(found.len(), expected.len(), "{found:#?}");
}
