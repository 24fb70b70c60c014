//! Masking in the database model, as the PostgreSQL masker does it: the rules checked against
//! the schema first (a refusal changes nothing), kept rows left alone, the same masked values
//! (`rehearsal_core::masking::masked_value`), and the bookkeeping table that makes a re-run
//! change nothing. The verification's findings come from both models, read only.

use crate::database::{Database, Table};
use rehearsal_core::masking::{
    masked_value, rule_digest, ColumnFindings, ColumnInfo, Findings, KeptFindings, MaskingError, MaskingPlan, Schema, TableFindings,
    TableMasked, BOOKKEEPING_TABLE, VERIFICATION_SAMPLE,
};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// tableicty's column types where a rule could care (Django's `auth_user`, the app's models);
/// any other column is nullable text.
type ColumnType = (&'static str, &'static str, &'static str, Option<u32>, bool, bool);
/// `(table, column, data_type, max_length, nullable, unique)`.
const COLUMN_TYPES: [ColumnType; 17] = [
    ("auth_user", "id", "integer", None, false, true),
    ("auth_user", "email", "character varying", Some(254), false, true),
    ("auth_user", "password", "character varying", Some(128), false, false),
    ("auth_user", "is_superuser", "boolean", None, false, false),
    ("auth_user", "username", "character varying", Some(150), false, true),
    ("auth_user", "first_name", "character varying", Some(150), false, false),
    ("auth_user", "last_name", "character varying", Some(150), false, false),
    ("core_issuer", "id", "bigint", None, false, true),
    ("core_issuer", "name", "character varying", Some(255), false, false),
    ("core_issuer", "ticker", "character varying", Some(8), false, true),
    ("core_shareholder", "id", "bigint", None, false, true),
    ("core_shareholder", "name", "character varying", Some(255), false, false),
    ("core_shareholder", "issuer_id", "bigint", None, false, false),
    ("core_shareholder", "shares", "numeric", None, false, false),
    ("core_shareholder", "email", "character varying", Some(254), true, false),
    ("core_shareholder", "phone", "character varying", Some(32), true, false),
    ("core_shareholder", "encrypted_tax_id", "bytea", None, true, false),
];

/// The app's foreign keys: `(table, column, referenced table)`.
const FOREIGN_KEYS: [(&str, &str, &str); 7] = [
    ("core_shareholder", "issuer_id", "core_issuer"),
    ("core_shareholder", "tenant_id", "core_tenant"),
    ("core_issuer", "tenant_id", "core_tenant"),
    ("core_tenantmembership", "tenant_id", "core_tenant"),
    ("core_tenantmembership", "user_id", "auth_user"),
    ("core_subscription", "tenant_id", "core_tenant"),
    ("core_subscription", "plan_id", "core_subscriptionplan"),
];

/// A value as PostgreSQL's `::text` would give it.
fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

impl Database {
    pub fn schema(&self) -> Schema {
        let mut schema = Schema::new();
        for (name, table) in self.tables.iter().filter(|(name, _)| *name != BOOKKEEPING_TABLE) {
            for column in &table.columns {
                let described = COLUMN_TYPES.iter().find(|(t, c, ..)| t == name && c == column);
                let info = match described {
                    Some((_, _, data_type, max_length, nullable, unique)) => {
                        ColumnInfo { data_type: data_type.to_string(), max_length: *max_length, nullable: *nullable, unique: *unique }
                    }
                    None => ColumnInfo { data_type: "text".into(), max_length: None, nullable: true, unique: column == "id" },
                };
                schema.entry(name.clone()).or_default().insert(column.clone(), info);
            }
        }
        schema
    }

    fn foreign_keys(&self, table: &str) -> Vec<String> {
        let Some(t) = self.tables.get(table) else { return vec![] };
        FOREIGN_KEYS
            .iter()
            .filter(|(name, column, _)| *name == table && t.columns.iter().any(|c| c == column))
            .map(|(_, column, target)| format!("{table}_{column}_fkey: FOREIGN KEY ({column}) REFERENCES {target}(id)"))
            .collect()
    }

    /// Masks as the PostgreSQL masker does. `masks_nothing` is the `failed-check` fault: the
    /// work is recorded as done but no value changes, the broken masking the verification
    /// exists to catch.
    pub fn mask(&mut self, plan: &MaskingPlan, key: &[u8], masks_nothing: bool) -> Result<Vec<TableMasked>, MaskingError> {
        plan.check_schema(&self.schema())?;
        let mut bookkeeping = self
            .tables
            .remove(BOOKKEEPING_TABLE)
            .unwrap_or_else(|| Table::new(&["table_name", "column_name", "rule_digest", "rows_masked"]));
        let mut report = Vec::new();
        for (name, columns) in plan.masked_columns() {
            let digest_of = |column: &str| {
                bookkeeping
                    .rows
                    .iter()
                    .find(|r| r["table_name"] == json!(name) && r["column_name"] == json!(column))
                    .map(|r| r["rule_digest"].clone())
            };
            let (todo, mut outcome) = TableMasked::start(name, &columns, |c| digest_of(c).and_then(|d| d.as_str().map(str::to_string)));
            let table = self.tables.get_mut(name).expect("check_schema found the table");
            if !todo.is_empty() {
                for row in &mut table.rows {
                    if plan.keeps(name, |c| text(row.get(c))) {
                        outcome.rows_kept += 1;
                        continue;
                    }
                    outcome.rows_masked += 1;
                    if masks_nothing {
                        continue;
                    }
                    for (column, strategy) in &todo {
                        let masked = text(row.get(*column)).and_then(|o| masked_value(strategy, key, &o));
                        row.insert(column.to_string(), masked.map_or(Value::Null, Value::String));
                    }
                }
            }
            for (column, strategy) in &todo {
                bookkeeping.rows.retain(|r| !(r["table_name"] == json!(name) && r["column_name"] == json!(column)));
                bookkeeping.insert(json!({"table_name": name, "column_name": column, "rule_digest": rule_digest(strategy),
                    "rows_masked": outcome.rows_masked}));
            }
            report.push(outcome);
        }
        self.tables.insert(BOOKKEEPING_TABLE.to_string(), bookkeeping);
        Ok(report)
    }

    /// What the verification finds comparing this (staging) with `production`.
    pub fn masking_findings(&self, production: &Database, plan: &MaskingPlan) -> Findings {
        let rows = |db: &Database, table: &str| db.tables.get(table).map(|t| t.rows.clone()).unwrap_or_default();
        let mut findings = Findings::default();
        for (table, columns) in plan.masked_columns() {
            let (before, after) = (rows(production, table), rows(self, table));
            let unkept = |rows: &[crate::database::Row]| -> Vec<crate::database::Row> {
                rows.iter().filter(|r| !plan.keeps(table, |c| text(r.get(c)))).cloned().collect()
            };
            let (before_unkept, after_unkept) = (unkept(&before), unkept(&after));
            let column_findings = columns
                .iter()
                .map(|(column, _)| {
                    let sample: BTreeSet<String> =
                        before_unkept.iter().filter_map(|r| text(r.get(*column))).take(VERIFICATION_SAMPLE as usize).collect();
                    let left: BTreeSet<String> =
                        after_unkept.iter().filter_map(|r| text(r.get(*column))).filter(|v| sample.contains(v)).collect();
                    ColumnFindings { column: column.to_string(), sampled: sample.len() as u64, remaining: left.len() as u64 }
                })
                .collect();
            findings.tables.push(TableFindings {
                table: table.to_string(),
                production_rows: before.len() as u64,
                staging_rows: after.len() as u64,
                production_foreign_keys: production.foreign_keys(table),
                staging_foreign_keys: self.foreign_keys(table),
                columns: column_findings,
            });
        }
        for (table, columns) in &plan.keep_rows {
            for (column, values) in columns {
                for value in values {
                    let matching = |db: &Database| -> Vec<crate::database::Row> {
                        rows(db, table).into_iter().filter(|r| text(r.get(column)).as_deref() == Some(value)).collect()
                    };
                    let (before, after) = (matching(production), matching(self));
                    findings.kept.push(KeptFindings::compare(table, column, value, &before, &after));
                }
            }
        }
        findings
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rehearsal_core::masking::{evaluate, MaskingInput};

    fn prod() -> Database {
        Database::pre_multi_tenancy("tableicty", "testadmin@tableicty.com", "pw")
    }

    fn plan() -> MaskingPlan {
        MaskingInput::default().resolve("tableicty", "testadmin@tableicty.com").unwrap()
    }

    #[test]
    fn default_rules_mask_the_people_keep_the_admin_pass_the_verification_and_a_rerun_changes_nothing() {
        let production = prod();
        let mut staging = production.clone();
        let report = staging.mask(&plan(), b"key", false).unwrap();
        let summary: Vec<(&str, usize, u64, u64)> =
            report.iter().map(|t| (t.table.as_str(), t.columns.len(), t.rows_masked, t.rows_kept)).collect();
        assert_eq!(summary, [("auth_user", 4, 2, 1), ("core_shareholder", 5, 11, 0)]);
        assert_eq!(staging.password_hash_of("testadmin@tableicty.com"), production.password_hash_of("testadmin@tableicty.com"));
        assert_eq!(staging.password_hash_of("cfo@acme-holdings.example"), None, "nobody's real address is left to log in with");
        let results = evaluate(&staging.masking_findings(&production, &plan()));
        assert!(results.iter().all(|r| r.passed), "{results:#?}");

        let masked = staging.clone();
        let again = staging.mask(&plan(), b"key", false).unwrap();
        assert!(again.iter().all(|t| t.rows_masked == 0 && t.columns.is_empty()), "{again:?}");
        assert_eq!(staging, masked);
    }

    #[test]
    fn a_refused_rule_changes_nothing_and_a_masking_that_masks_nothing_fails_the_verification() {
        let production = prod();
        let mut staging = production.clone();
        let bad = MaskingInput {
            rules: Some(serde_json::from_value(json!({"auth_user": {"username": "name"}})).unwrap()),
            ..MaskingInput::default()
        };
        let err = staging.mask(&bad.resolve("tableicty", "testadmin@tableicty.com").unwrap(), b"key", false).unwrap_err();
        assert!(matches!(&err, MaskingError::Refused { field, .. } if field == "masking.rules.auth_user.username"), "{err:?}");
        assert_eq!(staging, production, "not even the bookkeeping table");

        staging.mask(&plan(), b"key", true).unwrap();
        let failed: Vec<String> =
            evaluate(&staging.masking_findings(&production, &plan())).into_iter().filter(|r| !r.passed).map(|r| r.name).collect();
        assert_eq!(failed.len(), 9, "every masked column: {failed:?}");
        assert!(failed.contains(&"masking_verified: core_shareholder.email".to_string()));
    }
}
