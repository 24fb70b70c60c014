//! The JSON files the commands read: run documents, ASL inputs and task scripts.

use crate::exit::CliError;
use serde_json::Value;
use std::path::Path;

/// A JSON file given as `flag`, or `{}` when none was given.
pub(crate) fn read_json(flag: &str, path: Option<&Path>) -> Result<Value, CliError> {
    let Some(path) = path else { return Ok(serde_json::json!({})) };
    let text = std::fs::read_to_string(path).map_err(|e| CliError::Refused(format!("{flag} {}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| CliError::Refused(format!("{flag} {} is not JSON: {e}", path.display())))
}
