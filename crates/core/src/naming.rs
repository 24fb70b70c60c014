//! Naming rules: AWS identifier constraints and the names a run derives.

use chrono::{DateTime, Utc};

/// RDS DB instance and snapshot identifiers: 1–63 letters, digits or hyphens, starting with a
/// letter, no two consecutive hyphens, not ending with a hyphen. Returns why not, if invalid.
pub fn rds_identifier_problem(id: &str) -> Option<String> {
    if id.is_empty() || id.len() > 63 {
        return Some(format!("must be 1 to 63 characters (got {})", id.len()));
    }
    if !id.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Some("must start with a letter".into());
    }
    if let Some(c) = id.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-')) {
        return Some(format!("may contain only letters, digits and hyphens (found {c:?})"));
    }
    if id.contains("--") {
        return Some("must not contain two consecutive hyphens".into());
    }
    if id.ends_with('-') {
        return Some("must not end with a hyphen".into());
    }
    None
}

/// SSM parameter path prefix: starts and ends with `/`, segments of `[A-Za-z0-9_.-]`.
pub fn parameter_path_problem(path: &str) -> Option<String> {
    if !path.starts_with('/') || !path.ends_with('/') || path.len() < 3 {
        return Some("must look like /app/environment/ (leading and trailing slash)".into());
    }
    if path.len() > 1011 {
        return Some("is longer than SSM allows".into());
    }
    if path.trim_matches('/').split('/').any(|seg| seg.is_empty() || !seg.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))) {
        return Some("segments may contain only letters, digits, '_', '.' and '-'".into());
    }
    if path.to_ascii_lowercase().starts_with("/aws/") || path.to_ascii_lowercase().starts_with("/ssm/") {
        return Some("must not be under the reserved /aws or /ssm prefixes".into());
    }
    None
}

/// App Runner service name: 4–40 characters, `[A-Za-z0-9][A-Za-z0-9-_]*`.
pub fn service_name_problem(name: &str) -> Option<String> {
    if !(4..=40).contains(&name.len()) {
        return Some(format!("must be 4 to 40 characters (got {})", name.len()));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Some("may contain only letters, digits, '-' and '_', starting with a letter or digit".into());
    }
    None
}

/// Every snapshot a staging run takes is named `rehearsal-<run id>`: a name only this tool
/// makes (the IAM policies that delete or tag snapshots are scoped to the prefix).
pub const SNAPSHOT_PREFIX: &str = "rehearsal-";

/// The longest `app` a run id can carry and still leave its snapshot name within RDS's 63
/// characters.
pub const MAX_APP_LENGTH: usize = 20;

/// The run's production backup (runbook step 1): `rehearsal-<run id>`.
pub fn production_snapshot_id(run_id: &str) -> String {
    format!("{SNAPSHOT_PREFIX}{run_id}")
}

/// A run is its execution: `<app>-<start, UTC, to the second>-<FNV-1a of the execution name>`,
/// from `$$.Execution.Name` and `$$.Execution.StartTime`, which no caller chooses after the
/// fact (a name is unique per state machine, and the start time is Step Functions'). Every retry
/// and redrive of the execution plans the same id; another execution never does.
pub fn run_id(app: &str, execution_name: &str, execution_start: DateTime<Utc>) -> String {
    format!("{app}-{}-{:08x}", execution_start.format("%Y%m%d%H%M%S"), fnv1a(execution_name.as_bytes()))
}

/// 32-bit FNV-1a: a short, stable digest of a name (not a security measure: the id's worth is
/// that Step Functions, not the caller, fixes its inputs).
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |hash, b| (hash ^ u32::from(*b)).wrapping_mul(0x0100_0193))
}

/// The staging database's final snapshot at teardown: `<instance>-final-<run id>`, cut to RDS's
/// 63 characters without a trailing or doubled hyphen.
pub fn final_snapshot_id(staging_db: &str, run_id: &str) -> String {
    let full = format!("{staging_db}-final-{run_id}").replace("--", "-");
    full.chars().take(63).collect::<String>().trim_end_matches('-').to_string()
}

/// The EventBridge Scheduler schedule that tears a run's staging down.
pub fn teardown_schedule_name(run_id: &str) -> String {
    format!("rehearsal-teardown-{run_id}")
}

/// Full name of a parameter under a path (`/tableicty/staging/` + `SECRET_KEY`).
pub fn parameter_name(path: &str, key: &str) -> String {
    format!("{path}{key}")
}

/// Whether `inner` is `outer` or below it, comparing whole path segments.
pub fn path_is_within(inner: &str, outer: &str) -> bool {
    let norm = |p: &str| format!("/{}/", p.trim_matches('/')).to_ascii_lowercase();
    norm(inner).starts_with(&norm(outer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rds_identifiers_follow_aws_rules() {
        assert_eq!(rds_identifier_problem("tableicty-staging-db"), None);
        assert!(rds_identifier_problem("1db").unwrap().contains("start with a letter"));
        assert!(rds_identifier_problem("a--b").unwrap().contains("consecutive"));
        assert!(rds_identifier_problem("ab-").unwrap().contains("end with"));
        assert!(rds_identifier_problem("a_b").unwrap().contains("only letters"));
        assert!(rds_identifier_problem(&"a".repeat(64)).unwrap().contains("1 to 63"));
    }

    #[test]
    fn a_run_is_named_by_its_execution() {
        let start = "2025-12-25T09:00:00Z".parse().unwrap();
        let id = run_id("tableicty", "staging", start);
        assert_eq!(id, "tableicty-20251225090000-9ad76926");
        assert_ne!(run_id("tableicty", "staging-2", start), id, "another execution");
        assert_ne!(run_id("tableicty", "staging", start + chrono::Duration::seconds(1)), id, "another start");
        assert_eq!(production_snapshot_id(&id), "rehearsal-tableicty-20251225090000-9ad76926");
        let longest = production_snapshot_id(&run_id(&"a".repeat(MAX_APP_LENGTH), "x", start));
        assert!(rds_identifier_problem(&longest).is_none(), "{longest}");
        assert_eq!(final_snapshot_id("tableicty-staging-db", "tableicty-20251225"), "tableicty-staging-db-final-tableicty-20251225");
        let long = final_snapshot_id(&"a".repeat(60), "run-1");
        assert!(long.len() <= 63 && rds_identifier_problem(&long).is_none(), "{long}");
    }

    #[test]
    fn paths_compare_by_segment() {
        assert!(path_is_within("/tableicty/production/", "/tableicty/production/"));
        assert!(path_is_within("/tableicty/production/x/", "/tableicty/production"));
        assert!(!path_is_within("/tableicty/production-copy/", "/tableicty/production/"));
        assert!(path_is_within("/Tableicty/Production/", "/tableicty/production/"));
        assert!(parameter_path_problem("/tableicty/staging/").is_none());
        assert!(parameter_path_problem("tableicty/staging").is_some());
        assert!(parameter_path_problem("/aws/x/").is_some());
    }
}
