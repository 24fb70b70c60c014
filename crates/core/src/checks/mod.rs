//! Validation checklists (runbook steps 5–7), as data: each result says what was expected and
//! what was found, so a failed run's report explains itself.

pub mod db;
pub mod http;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    pub name: String,
    pub passed: bool,
    pub expected: String,
    pub found: String,
}

impl CheckResult {
    pub fn new(name: &str, passed: bool, expected: impl Into<String>, found: impl Into<String>) -> Self {
        Self { name: name.to_string(), passed, expected: expected.into(), found: found.into() }
    }
}

/// Turns a list of results into the step's answer: all passed, or `CheckFailed` naming each
/// failure with its expectation.
pub fn require_all(results: Vec<CheckResult>) -> Result<Vec<CheckResult>, crate::StepError> {
    let failed: Vec<String> =
        results.iter().filter(|r| !r.passed).map(|r| format!("{}: expected {}, found {}", r.name, r.expected, r.found)).collect();
    if failed.is_empty() {
        Ok(results)
    } else {
        Err(crate::StepError::CheckFailed(failed.join("; ")))
    }
}
