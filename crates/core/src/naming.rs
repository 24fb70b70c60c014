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

/// App Runner names (CreateService ServiceName, CreateVpcConnector VpcConnectorName): 4–40
/// characters, `[A-Za-z0-9][A-Za-z0-9-_]{3,39}`.
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

/// The longest `app`. Every name derived from the run id fits its service's limit whatever the
/// app and the execution, because a run id is at most [`MAX_RUN_ID_LENGTH`]
/// (`naming::tests::every_name_derived_from_the_longest_run_id_fits_its_service`).
pub const MAX_APP_LENGTH: usize = 20;
/// `<start, UTC, to the second>-<FNV-1a of the execution name>`: what tells one app's runs apart.
const RUN_SUFFIX_LENGTH: usize = "20261124090000-9ad76926".len();
/// `<app>-<start>-<digest>`.
pub const MAX_RUN_ID_LENGTH: usize = MAX_APP_LENGTH + 1 + RUN_SUFFIX_LENGTH;
/// RDS DB instance and snapshot identifiers (CreateDBInstance, CreateDBSnapshot).
const MAX_RDS_IDENTIFIER: usize = 63;
const FINAL_SNAPSHOT_INFIX: &str = "-final-";
/// The longest staging instance identifier whose final snapshot
/// (`<instance>-final-<start>-<digest>`) fits RDS's 63 characters.
pub const MAX_STAGING_DB_ID_LENGTH: usize = MAX_RDS_IDENTIFIER - FINAL_SNAPSHOT_INFIX.len() - RUN_SUFFIX_LENGTH;

/// The run's application name: 1 to [`MAX_APP_LENGTH`] lowercase letters, digits and single
/// inner hyphens, starting with a letter, so that every name built from it is a valid RDS
/// identifier (no doubled or trailing hyphen once `-<start>` follows). Returns why not, if invalid.
pub fn app_problem(app: &str) -> Option<String> {
    let valid = (1..=MAX_APP_LENGTH).contains(&app.len())
        && app.starts_with(|c: char| c.is_ascii_lowercase())
        && app.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !app.contains("--")
        && !app.ends_with('-');
    (!valid).then(|| {
        format!("{app:?} must be 1 to {MAX_APP_LENGTH} lowercase letters, digits and single hyphens, starting with a letter and not ending with a hyphen")
    })
}

/// The run's production backup (runbook step 1): `rehearsal-<run id>`.
pub fn production_snapshot_id(run_id: &str) -> String {
    format!("{SNAPSHOT_PREFIX}{run_id}")
}

/// A run is its execution: `<app>-<start, UTC, to the second>-<FNV-1a of the execution name>`,
/// from `$$.Execution.Name` and `$$.Execution.StartTime`, which no caller chooses after the
/// fact (a name is unique per state machine, and the start time is Step Functions'). Every retry
/// and redrive of the execution plans the same id; another execution never does. Its length is
/// the app's plus 24, whatever the execution.
pub fn run_id(app: &str, execution_name: &str, execution_start: DateTime<Utc>) -> String {
    format!("{app}-{}-{:08x}", execution_start.format("%Y%m%d%H%M%S"), fnv1a(execution_name.as_bytes()))
}

/// Whether `id` has the shape [`run_id`] gives (a promotion document names one). Returns why not.
pub fn run_id_problem(id: &str) -> Option<String> {
    let shape = || format!("{id:?} is not a run id (<app>-<YYYYMMDDhhmmss>-<8 hex digits>, at most {MAX_RUN_ID_LENGTH} characters)");
    if id.len() > MAX_RUN_ID_LENGTH || id.len() < RUN_SUFFIX_LENGTH + 2 || !id.is_ascii() {
        return Some(shape());
    }
    let (app, suffix) = id.split_at(id.len() - RUN_SUFFIX_LENGTH - 1);
    let (stamp, digest) = (&suffix[1..15], &suffix[16..]);
    let suffix_ok = suffix.starts_with('-')
        && suffix.as_bytes()[15] == b'-'
        && stamp.chars().all(|c| c.is_ascii_digit())
        && digest.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
    (!suffix_ok || app_problem(app).is_some()).then(shape)
}

/// 32-bit FNV-1a: a short, stable digest of a name (not a security measure: the id's worth is
/// that Step Functions, not the caller, fixes its inputs).
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |hash, b| (hash ^ u32::from(*b)).wrapping_mul(0x0100_0193))
}

/// The staging database's final snapshot at teardown: `<instance>-final-<start>-<digest>` (the
/// run id without its app, which the instance already names, so that it fits RDS's 63 characters
/// for any instance of at most [`MAX_STAGING_DB_ID_LENGTH`]; the snapshot carries the run's tags).
pub fn final_snapshot_id(staging_db: &str, run_id: &str) -> String {
    // By characters: a plan handed to the teardown is not necessarily one this tool made.
    let suffix = run_id.char_indices().rev().nth(RUN_SUFFIX_LENGTH - 1).map_or(run_id, |(start, _)| &run_id[start..]);
    format!("{staging_db}{FINAL_SNAPSHOT_INFIX}{suffix}")
}

/// `staging.source: aurora-clone`: the cloned cluster the staging instance joins. At most 41
/// characters (RDS allows 63); its final snapshot at teardown is named as the instance's would
/// be ([`final_snapshot_id`]: cluster snapshots have names of their own).
pub fn staging_cluster_id(staging_db: &str) -> String {
    format!("{staging_db}-cluster")
}

/// The EventBridge Scheduler schedule that tears a run's staging down.
pub fn teardown_schedule_name(run_id: &str) -> String {
    format!("rehearsal-teardown-{run_id}")
}

/// The CloudFront distribution serving a run's staging frontend (its comment and
/// CallerReference) and its origin access control (Name).
pub fn distribution_name(run_id: &str) -> String {
    format!("rehearsal-frontend-{run_id}")
}

/// CloudFront origin access control names: 1–64 characters (the stricter of the two uses).
pub fn origin_access_control_name_problem(name: &str) -> Option<String> {
    let valid = (1..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    (!valid).then(|| format!("{name:?} is not an origin access control name (1 to 64 letters, digits, '-', '_', '.')"))
}

/// EventBridge Scheduler (CreateSchedule Name): 1–64 characters of `[0-9a-zA-Z-_.]`.
pub fn schedule_name_problem(name: &str) -> Option<String> {
    let valid = (1..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    (!valid).then(|| format!("{name:?} is not a schedule name (1 to 64 letters, digits, '-', '_', '.')"))
}

/// The identifiers a promotion of `production_db` started at `at` uses (its Rollback Plan's):
/// the pre-deployment snapshot `rehearsal-<production>-predeploy-<minute>` (a name only this tool
/// makes, under the prefix its IAM policies scope snapshots to), the instance that snapshot is
/// restored to, and the name the damaged instance is moved to.
pub fn promotion_identifiers(production_db: &str, at: DateTime<Utc>) -> [String; 3] {
    let stamp = at.format("%Y%m%d%H%M");
    let stem = production_db.strip_suffix("-db").unwrap_or(production_db);
    [
        format!("{SNAPSHOT_PREFIX}{stem}-predeploy-{stamp}"),
        format!("{production_db}-restored-{stamp}"),
        format!("{production_db}-damaged-{stamp}"),
    ]
}

/// Why a promotion of `production_db` could not name its identifiers, if it could not (the
/// minute stamp is always 12 digits, so any time stands for all).
pub fn promotion_identifiers_problem(production_db: &str) -> Option<String> {
    promotion_identifiers(production_db, DateTime::UNIX_EPOCH)
        .iter()
        .find_map(|id| rds_identifier_problem(id).map(|problem| format!("a promotion's identifier {id:?} {problem}")))
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
    use crate::checks::http::{check_tenant_name, MAX_TENANT_SLUG};

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
        assert_eq!(final_snapshot_id("tableicty-staging-db", &id), "tableicty-staging-db-final-20251225090000-9ad76926");
        let forged = "é".repeat(RUN_SUFFIX_LENGTH + 1);
        assert_eq!(final_snapshot_id("db", &forged), format!("db-final-{}", &forged[2..]), "a forged id is cut by characters");
        assert_eq!(run_id_problem(&id), None);
        for bad in [
            "r",
            "tableicty-20261124",
            "tableicty-2025122509000x-9ad76926",
            "tableicty-20251225090000-9AD76926",
            "Tableicty-20251225090000-9ad76926",
        ] {
            assert!(run_id_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn apps_make_valid_names() {
        assert_eq!(app_problem("tableicty"), None);
        for bad in ["", "1app", "App", "a--b", "app-", "a_b", &"a".repeat(MAX_APP_LENGTH + 1)] {
            assert!(app_problem(bad).is_some(), "{bad:?}");
        }
    }

    /// Item 6 of issue 13: a name built from the run id must fit its service whatever the
    /// document and the execution. The longest of every input a name is built from: the app,
    /// the staging instance, any execution name (its digest is always 8 hex digits) and the
    /// latest start Step Functions could give.
    #[test]
    fn every_name_derived_from_the_longest_run_id_fits_its_service() {
        let start = "9999-12-31T23:59:59Z".parse().unwrap();
        let id = run_id(&"a".repeat(MAX_APP_LENGTH), &"x".repeat(80), start);
        assert_eq!((id.len(), run_id_problem(&id)), (MAX_RUN_ID_LENGTH, None), "{id}");
        let staging_db = format!("s{}", "-s".repeat((MAX_STAGING_DB_ID_LENGTH - 1) / 2));
        assert_eq!((staging_db.len(), rds_identifier_problem(&staging_db)), (MAX_STAGING_DB_ID_LENGTH, None));
        type Rule = fn(&str) -> Option<String>;
        let named: [(&str, String, Rule); 4] = [
            ("backup snapshot (RDS, 63)", production_snapshot_id(&id), rds_identifier_problem),
            ("final snapshot (RDS, 63)", final_snapshot_id(&staging_db, &id), rds_identifier_problem),
            ("teardown schedule (Scheduler, 64)", teardown_schedule_name(&id), schedule_name_problem),
            ("frontend distribution (CloudFront OAC, 64)", distribution_name(&id), origin_access_control_name_problem),
        ];
        for (what, name, problem) in named {
            assert_eq!(problem(&name), None, "{what}: {name}");
        }
        // The run id is a tag value (AWS: 256 characters) and Stripe metadata (500).
        assert!(id.len() <= 256);
        let tenant = check_tenant_name(&id, start);
        assert!(tenant.len() <= MAX_TENANT_SLUG, "{tenant}");
        // A promotion's identifiers are built from production's instance: the longest that
        // fits is refused by the staging run already (RunInput::validate), not minutes into a promotion.
        assert_eq!(promotion_identifiers_problem(&format!("{}-db", "p".repeat(30))), None);
        assert!(promotion_identifiers_problem(&"p".repeat(31)).is_some());
    }

    #[test]
    fn paths_compare_by_segment() {
        assert!(path_is_within("/tableicty/production/", "/tableicty/production/"));
        assert!(path_is_within("/tableicty/production/x/", "/tableicty/production"));
        assert!(!path_is_within("/tableicty/production-copy/", "/tableicty/production/"));
        assert!(path_is_within("/Tableicty/Production/", "/tableicty/production/"));
    }
}
