//! SQL checks against the staging database. A query is structured data so that every backend
//! can answer it: a real PostgreSQL turns it into parameterised SQL, the simulated account
//! evaluates it against its model of the database. `Sql` is free-form and needs a real database.

use super::CheckResult;
use crate::cloud::{DatabaseProbe, DbTarget, ProbeError};
use crate::StepError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DbQuery {
    /// Names of tables in the `public` schema whose name starts with `prefix`; one row each.
    TablesLike { prefix: String },
    /// One row with `COUNT(*)` of `table`, optionally only rows where `null_column IS NULL`.
    CountRows { table: String, null_column: Option<String> },
    /// Any read-only SQL (runs in a read-only transaction).
    Sql { sql: String },
}

impl DbQuery {
    /// The SQL a real PostgreSQL runs, with its text parameters. Identifiers are quoted.
    pub fn to_sql(&self) -> (String, Vec<String>) {
        let ident = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        match self {
            DbQuery::TablesLike { prefix } => (
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = 'public' AND left(table_name, length($1)) = $1 ORDER BY 1"
                    .to_string(),
                vec![prefix.clone()],
            ),
            DbQuery::CountRows { table, null_column: None } => (format!("SELECT COUNT(*) FROM public.{}", ident(table)), vec![]),
            DbQuery::CountRows { table, null_column: Some(col) } => {
                (format!("SELECT COUNT(*) FROM public.{} WHERE {} IS NULL", ident(table), ident(col)), vec![])
            }
            DbQuery::Sql { sql } => (sql.clone(), vec![]),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Expectation {
    /// The first column of the rows includes every one of these values.
    IncludesAll(Vec<String>),
    /// The single value (first column of the first row) is at least this number.
    AtLeast(i64),
    /// The single value equals this number.
    Equals(i64),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DbCheck {
    pub name: String,
    pub query: DbQuery,
    pub expect: Expectation,
}

impl DbCheck {
    fn new(name: &str, query: DbQuery, expect: Expectation) -> Self {
        Self { name: name.to_string(), query, expect }
    }

    /// Compares rows with the expectation.
    pub fn evaluate(&self, rows: &[Vec<Value>]) -> CheckResult {
        let text = |v: &Value| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
        match &self.expect {
            Expectation::IncludesAll(wanted) => {
                let found: Vec<String> = rows.iter().filter_map(|r| r.first()).map(text).collect();
                let missing: Vec<&String> = wanted.iter().filter(|w| !found.contains(w)).collect();
                let found_text = if missing.is_empty() {
                    found.join(", ")
                } else {
                    format!("[{}] (missing {})", found.join(", "), missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "))
                };
                CheckResult::new(&self.name, missing.is_empty(), wanted.join(", "), found_text)
            }
            Expectation::AtLeast(n) | Expectation::Equals(n) => {
                let value = rows.first().and_then(|r| r.first()).and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()));
                let passed = match (&self.expect, value) {
                    (Expectation::AtLeast(_), Some(v)) => v >= *n,
                    (Expectation::Equals(_), Some(v)) => v == *n,
                    _ => false,
                };
                let expected = if matches!(self.expect, Expectation::AtLeast(_)) { format!("at least {n}") } else { format!("{n}") };
                CheckResult::new(&self.name, passed, expected, value.map_or("no number".to_string(), |v| v.to_string()))
            }
        }
    }
}

/// Runbook step 5: the multi-tenancy tables exist.
pub fn migration_checks() -> Vec<DbCheck> {
    let tables = |v: &[&str]| Expectation::IncludesAll(v.iter().map(|s| s.to_string()).collect());
    vec![
        DbCheck::new(
            "tenant tables exist",
            DbQuery::TablesLike { prefix: "core_tenant".into() },
            tables(&["core_tenant", "core_tenantmembership", "core_tenantinvitation"]),
        ),
        DbCheck::new(
            "subscription tables exist",
            DbQuery::TablesLike { prefix: "core_subscription".into() },
            tables(&["core_subscription", "core_subscriptionplan"]),
        ),
    ]
}

/// Runbook step 6: the backfill created the default tenant and plans and assigned every row.
pub fn backfill_checks() -> Vec<DbCheck> {
    let count =
        |table: &str, null_column: Option<&str>| DbQuery::CountRows { table: table.into(), null_column: null_column.map(str::to_string) };
    vec![
        DbCheck::new("default tenant exists", count("core_tenant", None), Expectation::AtLeast(1)),
        DbCheck::new("subscription plans exist", count("core_subscriptionplan", None), Expectation::AtLeast(1)),
        DbCheck::new("every issuer has a tenant", count("core_issuer", Some("tenant_id")), Expectation::Equals(0)),
        DbCheck::new("every shareholder has a tenant", count("core_shareholder", Some("tenant_id")), Expectation::Equals(0)),
    ]
}

/// Runs every check; a database that is still starting is `DatabaseNotReady` (retried by the
/// state machine), anything else that stops a query is a failed check with the reason.
pub async fn run_checks<P: DatabaseProbe>(probe: &P, target: &DbTarget, checks: &[DbCheck]) -> Result<Vec<CheckResult>, StepError> {
    let mut results = Vec::with_capacity(checks.len());
    for check in checks {
        let result = match probe.query(target, &check.query).await {
            Ok(rows) => check.evaluate(&rows),
            Err(ProbeError::NotReady(why)) => return Err(StepError::DatabaseNotReady(format!("{}:{}: {why}", target.host, target.port))),
            Err(other) => CheckResult::new(&check.name, false, "the query to run", other.to_string()),
        };
        results.push(result);
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expectations_compare_rows() {
        let tables = &migration_checks()[0];
        let ok = tables.evaluate(&[vec![json!("core_tenant")], vec![json!("core_tenantinvitation")], vec![json!("core_tenantmembership")]]);
        assert!(ok.passed, "{ok:?}");
        let missing = tables.evaluate(&[vec![json!("core_tenant")]]);
        assert!(!missing.passed);
        assert!(missing.found.contains("missing core_tenantmembership"), "{}", missing.found);
        let none_null = &backfill_checks()[2];
        assert!(none_null.evaluate(&[vec![json!(0)]]).passed);
        let some_null = none_null.evaluate(&[vec![json!(3)]]);
        assert!(!some_null.passed && some_null.found == "3" && some_null.expected == "0");
        assert!(backfill_checks()[0].evaluate(&[vec![json!("2")]]).passed);
        assert!(!backfill_checks()[0].evaluate(&[]).passed);
    }

    #[test]
    fn identifiers_are_quoted_in_sql() {
        let (sql, params) = DbQuery::CountRows { table: "a\"b".into(), null_column: Some("t".into()) }.to_sql();
        assert_eq!(sql, "SELECT COUNT(*) FROM public.\"a\"\"b\" WHERE \"t\" IS NULL");
        assert!(params.is_empty());
    }
}
