//! Masking the staging copy of production (issue 17): the run document's `masking` rules
//! (table → column → strategy), the default rules for tableicty, their validation against the
//! staging database's schema, the masked values themselves (shared by the real PostgreSQL masker
//! and the simulated one, so both write the same values), and how the verification's findings
//! become checklist results.
//!
//! Masking happens after the restore and before the staging service exists, so the app never
//! serves a real person's data.

use crate::checks::CheckResult;
use crate::cloud::ProbeError;
use crate::StepError;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;

/// table → column → strategy.
pub type Rules = BTreeMap<String, BTreeMap<String, Strategy>>;
/// table → column → values: rows whose column holds one of the values are left as they are.
pub type KeepRows = BTreeMap<String, BTreeMap<String, Vec<String>>>;

/// The staging database's bookkeeping table: which rule was applied to which column. Not part
/// of the app's schema, so rules may not name it.
pub const BOOKKEEPING_TABLE: &str = "rehearsal_masking";
/// The staging SecureString holding the run's masking key (hex), written by the mask step.
pub const MASKING_KEY: &str = "MASKING_KEY";
/// How many distinct production values of each masked column the verification looks for.
pub const VERIFICATION_SAMPLE: u32 = 500;

/// How one column is masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy {
    /// Keyed deterministic hash: equal values stay equal (joins), distinct stay distinct (unique).
    Hash,
    /// `user-<hash>@example.invalid`: unique as the originals are.
    Email,
    /// A fake "First Last" chosen by the hash; not unique.
    Name,
    /// A fictional `+1-555-01xx-xxxx` number chosen by the hash; not unique.
    Phone,
    Null,
    Constant(String),
    /// Leave the column as it is (documents a decision about a column).
    Keep,
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Strategy::Hash => f.write_str("hash"),
            Strategy::Email => f.write_str("email"),
            Strategy::Name => f.write_str("name"),
            Strategy::Phone => f.write_str("phone"),
            Strategy::Null => f.write_str("null"),
            Strategy::Constant(value) => write!(f, "constant {value}"),
            Strategy::Keep => f.write_str("keep"),
        }
    }
}

impl std::str::FromStr for Strategy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "hash" => Strategy::Hash,
            "email" => Strategy::Email,
            "name" => Strategy::Name,
            "phone" => Strategy::Phone,
            "null" => Strategy::Null,
            "keep" => Strategy::Keep,
            other => match other.strip_prefix("constant ") {
                Some(value) => Strategy::Constant(value.to_string()),
                None => return Err(format!("{other:?} is not one of hash, email, name, phone, null, \"constant VALUE\", keep")),
            },
        })
    }
}

impl Serialize for Strategy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Strategy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
    }
}

/// The run document's `masking`. `{}` masks with the app's default rules and keeps the test
/// admin's account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MaskingInput {
    /// Masking is on unless this is `false`; the plan and the report say so.
    pub enabled: bool,
    /// Replaces the default rules entirely when given.
    pub rules: Option<Rules>,
    /// Default: the test admin's row of `auth_user` (by `validation.test_admin_email`).
    pub keep_rows: Option<KeepRows>,
    /// Rows per UPDATE.
    pub batch_size: u32,
    /// Bounds each statement of the masking transactions.
    pub statement_timeout_seconds: u32,
}

impl Default for MaskingInput {
    fn default() -> Self {
        Self { enabled: true, rules: None, keep_rows: None, batch_size: 1000, statement_timeout_seconds: 60 }
    }
}

/// The resolved masking, as every step sees it in the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskingPlan {
    pub enabled: bool,
    pub rules: Rules,
    pub keep_rows: KeepRows,
    pub batch_size: u32,
    pub statement_timeout_seconds: u32,
}

/// tableicty's person-identifying columns, from its schema as the repository models it (the
/// simulated database, the PostgreSQL fixtures): Django's users, and the shareholders' contact
/// and tax details. Issuers are companies; holdings are not identifying without the names.
pub fn default_rules(app: &str) -> Option<Rules> {
    if app != "tableicty" {
        return None;
    }
    let table = |columns: &[(&str, Strategy)]| columns.iter().map(|(c, s)| (c.to_string(), s.clone())).collect();
    Some(BTreeMap::from([
        (
            "auth_user".to_string(),
            table(&[
                ("email", Strategy::Email),
                ("username", Strategy::Hash),
                ("first_name", Strategy::Name),
                ("last_name", Strategy::Name),
            ]),
        ),
        (
            "core_shareholder".to_string(),
            table(&[
                ("name", Strategy::Name),
                ("email", Strategy::Email),
                ("phone", Strategy::Phone),
                ("address", Strategy::Null),
                ("encrypted_tax_id", Strategy::Null),
            ]),
        ),
    ]))
}

fn is_identifier(name: &str) -> bool {
    !name.is_empty() && name.len() <= 63 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl MaskingInput {
    /// The rules, keep list and limits the run uses; refuses what no database could accept.
    pub fn resolve(&self, app: &str, test_admin_email: &str) -> Result<MaskingPlan, StepError> {
        let rules = match (&self.rules, default_rules(app)) {
            (Some(rules), _) => rules.clone(),
            (None, Some(defaults)) => defaults,
            (None, None) if !self.enabled => Rules::new(),
            (None, None) => {
                return Err(StepError::invalid(
                    "masking.rules",
                    format!("there are no default rules for the app {app:?}: give rules, or masking.enabled: false"),
                ))
            }
        };
        let keep_rows = self.keep_rows.clone().unwrap_or_else(|| {
            BTreeMap::from([("auth_user".to_string(), BTreeMap::from([("email".to_string(), vec![test_admin_email.to_string()])]))])
        });
        for (table, columns) in &rules {
            for (column, strategy) in columns {
                let field = format!("masking.rules.{table}.{column}");
                if !is_identifier(table) || !is_identifier(column) {
                    return Err(StepError::invalid(field, "table and column names are letters, digits and _ (at most 63)"));
                }
                if table == BOOKKEEPING_TABLE {
                    return Err(StepError::invalid(field, "is the masking's own bookkeeping table"));
                }
                if matches!(strategy, Strategy::Constant(v) if v.is_empty()) {
                    return Err(StepError::invalid(field, "constant needs a value (\"constant VALUE\")"));
                }
            }
        }
        for (table, columns) in &keep_rows {
            for (column, values) in columns {
                let field = format!("masking.keep_rows.{table}.{column}");
                if !is_identifier(table) || !is_identifier(column) {
                    return Err(StepError::invalid(field, "table and column names are letters, digits and _ (at most 63)"));
                }
                if values.is_empty() {
                    return Err(StepError::invalid(field, "lists no value to keep"));
                }
            }
        }
        if !(1..=50_000).contains(&self.batch_size) {
            return Err(StepError::invalid("masking.batch_size", format!("{} is outside 1 to 50000 rows", self.batch_size)));
        }
        if !(1..=900).contains(&self.statement_timeout_seconds) {
            return Err(StepError::invalid(
                "masking.statement_timeout_seconds",
                format!("{} is outside 1 to 900 seconds (a Lambda's limit)", self.statement_timeout_seconds),
            ));
        }
        Ok(MaskingPlan {
            enabled: self.enabled,
            rules,
            keep_rows,
            batch_size: self.batch_size,
            statement_timeout_seconds: self.statement_timeout_seconds,
        })
    }
}

/// One column of the staging database, as information_schema and its unique indexes describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnInfo {
    /// information_schema's `data_type`: `text`, `character varying`, `bigint`, …
    pub data_type: String,
    pub max_length: Option<u32>,
    pub nullable: bool,
    /// In a unique index or the primary key.
    pub unique: bool,
}

/// table → column → description, of the `public` schema.
pub type Schema = BTreeMap<String, BTreeMap<String, ColumnInfo>>;

const TEXT_TYPES: [&str; 3] = ["text", "character varying", "character"];
/// The longest value each generated strategy writes.
const HASH_LEN: usize = 32;
const EMAIL_LEN: usize = "user-".len() + 16 + "@example.invalid".len();
const PHONE_LEN: usize = "+1-555-0100-0000".len();

impl MaskingPlan {
    /// The rules that change a column, by table (`keep` changes nothing).
    pub fn masked_columns(&self) -> BTreeMap<&str, Vec<(&str, &Strategy)>> {
        let mut tables = BTreeMap::new();
        for (table, columns) in &self.rules {
            let masked: Vec<(&str, &Strategy)> =
                columns.iter().filter(|(_, s)| **s != Strategy::Keep).map(|(c, s)| (c.as_str(), s)).collect();
            if !masked.is_empty() {
                tables.insert(table.as_str(), masked);
            }
        }
        tables
    }

    /// Refuses, naming the rule, a rule the staging database cannot take: an unknown table or
    /// column, a strategy that does not fit the column's type, length, NOT NULL or uniqueness.
    pub fn check_schema(&self, schema: &Schema) -> Result<(), MaskingError> {
        for (table, columns) in &self.rules {
            for (column, strategy) in columns {
                let refuse = |reason: String| MaskingError::Refused { field: format!("masking.rules.{table}.{column}"), reason };
                let Some(described) = schema.get(table) else {
                    return Err(refuse(format!("the staging database has no table {table:?}")));
                };
                let Some(info) = described.get(column) else {
                    return Err(refuse(format!("{table} has no column {column:?}")));
                };
                let written = match strategy {
                    Strategy::Keep | Strategy::Null => None,
                    Strategy::Hash => Some(HASH_LEN),
                    Strategy::Email => Some(EMAIL_LEN),
                    Strategy::Phone => Some(PHONE_LEN),
                    Strategy::Name => Some(NAME_MAX_LEN),
                    Strategy::Constant(value) => Some(value.chars().count()),
                };
                if let Some(length) = written {
                    if !TEXT_TYPES.contains(&info.data_type.as_str()) {
                        return Err(refuse(format!("{strategy} writes text; the column is {}", info.data_type)));
                    }
                    if info.max_length.is_some_and(|max| (max as usize) < length) {
                        return Err(refuse(format!(
                            "{strategy} writes up to {length} characters; the column holds {}",
                            info.max_length.unwrap_or_default()
                        )));
                    }
                }
                match strategy {
                    Strategy::Null if !info.nullable => return Err(refuse("null on a NOT NULL column".into())),
                    Strategy::Name | Strategy::Phone | Strategy::Constant(_) if info.unique => {
                        return Err(refuse(format!("{strategy} repeats values; the column is unique (use hash or email)")))
                    }
                    _ => {}
                }
            }
        }
        for (table, columns) in &self.keep_rows {
            for column in columns.keys() {
                if schema.get(table).is_none_or(|t| !t.contains_key(column)) {
                    return Err(MaskingError::Refused {
                        field: format!("masking.keep_rows.{table}.{column}"),
                        reason: format!("the staging database has no column {table}.{column}"),
                    });
                }
            }
        }
        Ok(())
    }

    /// Whether a row, given its values of the keep columns of its table, is kept as it is.
    pub fn keeps(&self, table: &str, value_of: impl Fn(&str) -> Option<String>) -> bool {
        self.keep_rows
            .get(table)
            .is_some_and(|columns| columns.iter().any(|(column, values)| value_of(column).is_some_and(|v| values.contains(&v))))
    }
}

/// A digest of a rule, recorded with the column in the bookkeeping table: a re-run that finds
/// the same digest leaves the column alone.
pub fn rule_digest(strategy: &Strategy) -> String {
    hex(&Sha256::digest(strategy.to_string().as_bytes()))[..16].to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The run's masking key: 32 random bytes, as hex.
pub fn new_key() -> Result<String, StepError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| StepError::MalformedInput(format!("no randomness for the masking key: {e}")))?;
    Ok(hex(&bytes))
}

const FIRST_NAMES: [&str; 16] = [
    "Avery", "Blake", "Casey", "Devon", "Emery", "Finley", "Harper", "Jordan", "Kendall", "Logan", "Morgan", "Parker", "Quinn", "Reese",
    "Rowan", "Skyler",
];
/// Invented surnames, so that a masked name is not some real shareholder's.
const LAST_NAMES: [&str; 16] = [
    "Ashgrove",
    "Brambleton",
    "Copperfield",
    "Dunmere",
    "Elderwood",
    "Fernhollow",
    "Glimmerton",
    "Hazelby",
    "Ivorydale",
    "Juniperly",
    "Kestrelmoor",
    "Larkspurr",
    "Marrowind",
    "Nettlecombe",
    "Oakhaven",
    "Quillfeather",
];
const NAME_MAX_LEN: usize = 7 + 1 + 12;

/// The masked value of one non-NULL original (`None` writes NULL). Deterministic for a key:
/// the real and the simulated masker write the same values, and equal originals (a join) stay
/// equal. NULL originals stay NULL whatever the strategy.
pub fn masked_value(strategy: &Strategy, key: &[u8], original: &str) -> Option<String> {
    let digest = || {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes a key of any length");
        mac.update(original.as_bytes());
        mac.finalize().into_bytes()
    };
    match strategy {
        Strategy::Keep => Some(original.to_string()),
        Strategy::Null => None,
        Strategy::Constant(value) => Some(value.clone()),
        Strategy::Hash => Some(hex(&digest())[..HASH_LEN].to_string()),
        Strategy::Email => Some(format!("user-{}@example.invalid", &hex(&digest())[..16])),
        Strategy::Name => {
            let d = digest();
            Some(format!("{} {}", FIRST_NAMES[usize::from(d[0]) % 16], LAST_NAMES[usize::from(d[1]) % 16]))
        }
        Strategy::Phone => {
            let d = digest();
            let n = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
            Some(format!("+1-555-01{:02}-{:04}", n % 100, (n / 100) % 10_000))
        }
    }
}

/// Why masking (or its verification) did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaskingError {
    /// A rule the database cannot take; nothing was changed.
    Refused {
        field: String,
        reason: String,
    },
    Probe(ProbeError),
}

impl From<ProbeError> for MaskingError {
    fn from(e: ProbeError) -> Self {
        MaskingError::Probe(e)
    }
}

impl MaskingError {
    /// As the step answers it: a refused rule is bad input naming it; a database still
    /// starting is retried; anything else fails the step (and the run rolls back).
    pub fn into_step_error(self, host: &str) -> StepError {
        match self {
            MaskingError::Refused { field, reason } => StepError::invalid(field, reason),
            MaskingError::Probe(ProbeError::NotReady(why)) => StepError::DatabaseNotReady(format!("{host}: {why}")),
            MaskingError::Probe(other) => StepError::CheckFailed(format!("masking the staging database at {host}: {other}")),
        }
    }
}

/// What masking did to one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableMasked {
    pub table: String,
    /// Columns masked by this run.
    pub columns: Vec<String>,
    /// Columns a previous run already masked with the same rule (left alone).
    pub already_masked: Vec<String>,
    pub rows_masked: u64,
    pub rows_kept: u64,
}

impl TableMasked {
    /// Which of a table's rules still need applying, given the rule digest a previous run
    /// recorded for a column: the columns to mask, and the outcome so far.
    pub fn start<'a>(
        table: &str,
        columns: &[(&'a str, &'a Strategy)],
        recorded: impl Fn(&str) -> Option<String>,
    ) -> (Vec<(&'a str, &'a Strategy)>, TableMasked) {
        let (todo, already): (Vec<_>, Vec<_>) = columns.iter().partition(|(c, s)| recorded(c) != Some(rule_digest(s)));
        let names = |list: &[(&str, &Strategy)]| list.iter().map(|(c, _)| c.to_string()).collect();
        let outcome =
            TableMasked { table: table.to_string(), columns: names(&todo), already_masked: names(&already), rows_masked: 0, rows_kept: 0 };
        (todo, outcome)
    }
}

/// The verification's findings for one table: what the backend counted, for [`evaluate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableFindings {
    pub table: String,
    pub production_rows: u64,
    pub staging_rows: u64,
    /// Each foreign key as `name: definition`, sorted.
    pub production_foreign_keys: Vec<String>,
    pub staging_foreign_keys: Vec<String>,
    pub columns: Vec<ColumnFindings>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnFindings {
    pub column: String,
    /// Distinct non-NULL production values looked for (kept rows aside).
    pub sampled: u64,
    /// How many of them the staging column still holds (kept rows aside).
    pub remaining: u64,
}

/// One kept row set, compared whole between production and staging.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptFindings {
    pub table: String,
    pub column: String,
    pub value: String,
    pub production_rows: u64,
    pub unchanged: bool,
}

impl KeptFindings {
    /// The rows whose `column` is `value` in `table`, as production and staging hold them.
    pub fn compare<R: PartialEq>(table: &str, column: &str, value: &str, production: &[R], staging: &[R]) -> Self {
        KeptFindings {
            table: table.to_string(),
            column: column.to_string(),
            value: value.to_string(),
            production_rows: production.len() as u64,
            unchanged: production == staging,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Findings {
    pub tables: Vec<TableFindings>,
    pub kept: Vec<KeptFindings>,
}

/// The checklist items of the verification (`masking_verified`): every masked column holds no
/// sampled production value, row counts are production's, none of its foreign keys is lost,
/// kept rows are as they were.
pub fn evaluate(findings: &Findings) -> Vec<CheckResult> {
    let mut results = Vec::new();
    for t in &findings.tables {
        for c in &t.columns {
            results.push(CheckResult::new(
                &format!("masking_verified: {}.{}", t.table, c.column),
                c.remaining == 0,
                format!("none of {} sampled production values", c.sampled),
                format!("{} remain", c.remaining),
            ));
        }
        results.push(CheckResult::new(
            &format!("masking_verified: {} row count", t.table),
            t.production_rows == t.staging_rows,
            format!("{} (production)", t.production_rows),
            t.staging_rows.to_string(),
        ));
        // Masking must lose none of production's; the app's migrations (a re-run adopts a
        // migrated copy) may have added some.
        let lost: Vec<&String> = t.production_foreign_keys.iter().filter(|fk| !t.staging_foreign_keys.contains(fk)).collect();
        results.push(CheckResult::new(
            &format!("masking_verified: {} foreign keys", t.table),
            lost.is_empty(),
            format!("production's {}", t.production_foreign_keys.len()),
            if lost.is_empty() { format!("{} present", t.production_foreign_keys.len()) } else { format!("missing {lost:?}") },
        ));
    }
    for k in &findings.kept {
        results.push(CheckResult::new(
            &format!("masking_verified: kept {}.{} = {}", k.table, k.column, k.value),
            k.unchanged && k.production_rows > 0,
            "the production rows, unchanged",
            match (k.production_rows, k.unchanged) {
                (0, _) => "no such row in production".to_string(),
                (n, true) => format!("{n} unchanged"),
                (n, false) => format!("{n} in production, changed in staging"),
            },
        ));
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn column(data_type: &str, max_length: Option<u32>, nullable: bool, unique: bool) -> ColumnInfo {
        ColumnInfo { data_type: data_type.into(), max_length, nullable, unique }
    }

    fn schema() -> Schema {
        BTreeMap::from([
            (
                "auth_user".to_string(),
                BTreeMap::from([
                    ("id".to_string(), column("integer", None, false, true)),
                    ("email".to_string(), column("character varying", Some(254), false, true)),
                    ("username".to_string(), column("character varying", Some(150), false, true)),
                    ("first_name".to_string(), column("character varying", Some(150), false, false)),
                    ("last_name".to_string(), column("character varying", Some(150), false, false)),
                ]),
            ),
            (
                "core_shareholder".to_string(),
                BTreeMap::from([
                    ("name".to_string(), column("character varying", Some(255), false, false)),
                    ("email".to_string(), column("character varying", Some(254), true, false)),
                    ("phone".to_string(), column("character varying", Some(32), true, false)),
                    ("address".to_string(), column("text", None, true, false)),
                    ("encrypted_tax_id".to_string(), column("bytea", None, true, false)),
                    ("shares".to_string(), column("numeric", None, false, false)),
                ]),
            ),
        ])
    }

    fn plan(doc: serde_json::Value) -> Result<MaskingPlan, StepError> {
        serde_json::from_value::<MaskingInput>(doc).unwrap().resolve("tableicty", "admin@tableicty.com")
    }

    fn refusal(doc: serde_json::Value) -> String {
        match plan(doc).unwrap().check_schema(&schema()) {
            Err(MaskingError::Refused { field, reason }) => format!("{field}: {reason}"),
            other => panic!("accepted: {other:?}"),
        }
    }

    #[test]
    fn the_empty_document_masks_tableictys_person_columns_and_keeps_the_admin() {
        let plan = plan(json!({})).unwrap();
        assert!(plan.enabled);
        assert_eq!(plan.rules["auth_user"]["email"], Strategy::Email);
        assert_eq!(plan.rules["core_shareholder"]["encrypted_tax_id"], Strategy::Null);
        assert_eq!(plan.keep_rows["auth_user"]["email"], ["admin@tableicty.com"]);
        plan.check_schema(&schema()).unwrap();
        assert!(plan.keeps("auth_user", |c| (c == "email").then(|| "admin@tableicty.com".to_string())));
        assert!(!plan.keeps("auth_user", |_| Some("cfo@acme.example".to_string())));
        assert!(!plan.masked_columns().values().flatten().any(|(_, s)| **s == Strategy::Keep));
    }

    #[test]
    fn another_app_needs_rules_or_masking_off() {
        let input = MaskingInput::default();
        let err = input.resolve("ledgerly", "a@b.c").unwrap_err();
        assert!(matches!(&err, StepError::InvalidInput { field, .. } if field == "masking.rules"), "{err}");
        let off = MaskingInput { enabled: false, ..MaskingInput::default() };
        assert!(off.resolve("ledgerly", "a@b.c").unwrap().rules.is_empty());
    }

    #[test]
    fn strategies_read_and_print_as_the_document_writes_them() {
        let rules: Rules = serde_json::from_value(json!({"t": {"a": "hash", "b": "constant n/a", "c": "keep"}})).unwrap();
        assert_eq!(rules["t"]["b"], Strategy::Constant("n/a".into()));
        assert_eq!(serde_json::to_value(&rules).unwrap(), json!({"t": {"a": "hash", "b": "constant n/a", "c": "keep"}}));
        let err = serde_json::from_value::<Rules>(json!({"t": {"a": "scramble"}})).unwrap_err().to_string();
        assert!(err.contains("\"scramble\" is not one of"), "{err}");
    }

    #[test]
    fn bad_rules_are_refused_naming_the_rule() {
        let users = |rule: serde_json::Value| json!({"rules": {"auth_user": rule}});
        assert_eq!(
            refusal(json!({"rules": {"nope": {"email": "hash"}}})),
            "masking.rules.nope.email: the staging database has no table \"nope\""
        );
        assert!(refusal(users(json!({"mail": "email"}))).starts_with("masking.rules.auth_user.mail: auth_user has no column"));
        assert!(refusal(users(json!({"id": "hash"}))).starts_with("masking.rules.auth_user.id: hash writes text; the column is integer"));
        assert!(refusal(users(json!({"email": "null"}))).starts_with("masking.rules.auth_user.email: null on a NOT NULL"));
        assert!(refusal(users(json!({"email": "name"})))
            .starts_with("masking.rules.auth_user.email: name repeats values; the column is unique"));
        assert!(refusal(users(json!({"username": "constant x"}))).contains("unique"));
        assert!(refusal(json!({"rules": {"core_shareholder": {"phone": "email"}}}))
            .starts_with("masking.rules.core_shareholder.phone: email writes up to 37"));
        assert!(refusal(json!({"keep_rows": {"auth_user": {"login": ["x"]}}})).starts_with("masking.keep_rows.auth_user.login"));
        let field = |doc| match plan(doc) {
            Err(StepError::InvalidInput { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(json!({"rules": {"rehearsal_masking": {"x": "hash"}}})), "masking.rules.rehearsal_masking.x");
        assert_eq!(field(json!({"rules": {"a;drop": {"x": "hash"}}})), "masking.rules.a;drop.x");
        assert_eq!(field(json!({"rules": {"t": {"x": "constant "}}})), "masking.rules.t.x");
        assert_eq!(field(json!({"keep_rows": {"t": {"x": []}}})), "masking.keep_rows.t.x");
        assert_eq!(field(json!({"batch_size": 0})), "masking.batch_size");
        assert_eq!(field(json!({"statement_timeout_seconds": 0})), "masking.statement_timeout_seconds");
    }

    #[test]
    fn masked_values_are_deterministic_per_key_keep_joins_and_fit_their_columns() {
        let (key, other) = (b"k1".as_slice(), b"k2".as_slice());
        for strategy in [Strategy::Hash, Strategy::Email, Strategy::Name, Strategy::Phone] {
            let a = masked_value(&strategy, key, "ann@acme.example").unwrap();
            assert_eq!(Some(&a), masked_value(&strategy, key, "ann@acme.example").as_ref(), "{strategy}: equal stays equal");
            assert_ne!(a, "ann@acme.example");
            assert!(a.chars().count() <= [HASH_LEN, EMAIL_LEN, NAME_MAX_LEN, PHONE_LEN].into_iter().max().unwrap());
            if matches!(strategy, Strategy::Hash | Strategy::Email) {
                assert_ne!(Some(a.clone()), masked_value(&strategy, key, "bob@acme.example"), "{strategy}: distinct stays distinct");
                assert_ne!(Some(a), masked_value(&strategy, other, "ann@acme.example"), "{strategy}: another key, another value");
            }
        }
        assert_eq!(masked_value(&Strategy::Hash, key, "x").unwrap().len(), HASH_LEN);
        assert_eq!(masked_value(&Strategy::Email, key, "x").unwrap().len(), EMAIL_LEN);
        assert_eq!(masked_value(&Strategy::Phone, key, "x").unwrap().len(), PHONE_LEN);
        let longest = FIRST_NAMES.iter().map(|f| f.len()).max().unwrap() + 1 + LAST_NAMES.iter().map(|l| l.len()).max().unwrap();
        assert!(longest <= NAME_MAX_LEN);
        assert_eq!(masked_value(&Strategy::Null, key, "x"), None);
        assert_eq!(masked_value(&Strategy::Constant("n/a".into()), key, "x").as_deref(), Some("n/a"));
        assert_ne!(rule_digest(&Strategy::Hash), rule_digest(&Strategy::Email));
        assert_eq!(new_key().unwrap().len(), 64);
    }

    #[test]
    fn findings_become_checklist_items() {
        let table = TableFindings {
            table: "auth_user".into(),
            production_rows: 3,
            staging_rows: 3,
            production_foreign_keys: vec![],
            staging_foreign_keys: vec![],
            columns: vec![ColumnFindings { column: "email".into(), sampled: 2, remaining: 0 }],
        };
        let kept =
            KeptFindings { table: "auth_user".into(), column: "email".into(), value: "a@b.c".into(), production_rows: 1, unchanged: true };
        let ok = Findings { tables: vec![table.clone()], kept: vec![kept.clone()] };
        assert!(evaluate(&ok).iter().all(|r| r.passed), "{:?}", evaluate(&ok));
        let leaked = TableFindings { columns: vec![ColumnFindings { column: "email".into(), sampled: 2, remaining: 2 }], ..table.clone() };
        let lost = TableFindings { staging_rows: 2, production_foreign_keys: vec!["fk".into()], ..table };
        let changed = KeptFindings { unchanged: false, ..kept.clone() };
        let absent = KeptFindings { production_rows: 0, ..kept };
        let failed: Vec<String> = evaluate(&Findings { tables: vec![leaked, lost], kept: vec![changed, absent] })
            .into_iter()
            .filter(|r| !r.passed)
            .map(|r| format!("{}: {}", r.name, r.found))
            .collect();
        assert_eq!(
            failed,
            [
                "masking_verified: auth_user.email: 2 remain",
                "masking_verified: auth_user row count: 2",
                "masking_verified: auth_user foreign keys: missing [\"fk\"]",
                "masking_verified: kept auth_user.email = a@b.c: 1 in production, changed in staging",
                "masking_verified: kept auth_user.email = a@b.c: no such row in production",
            ]
        );
    }
}
