//! The PostgreSQL masker and its verification, on tableicty's schema before the release with
//! realistic person data: a production database and its staging copy.

use super::support::TestDb;
use rehearsal_core::cloud::DatabaseMasker;
use rehearsal_core::masking::{default_rules, evaluate, rule_digest, MaskingError, MaskingInput, MaskingPlan, Strategy, TableMasked};
use rehearsal_core::Secret;
use rehearsal_probes::{PostgresProbe, TlsMode};
use serde_json::json;

const ADMIN: &str = "testadmin@tableicty.com";

/// Django's auth_user, the issuers, 2,400 shareholders with contact and tax details, and an
/// audit log that joins users by username (as a text key).
const APP_SCHEMA: &str = "
    CREATE TABLE auth_user (
        id serial PRIMARY KEY, password varchar(128) NOT NULL, is_superuser boolean NOT NULL DEFAULT false,
        username varchar(150) NOT NULL UNIQUE, first_name varchar(150) NOT NULL, last_name varchar(150) NOT NULL,
        email varchar(254) NOT NULL UNIQUE);
    CREATE TABLE core_issuer (id bigserial PRIMARY KEY, name varchar(255) NOT NULL, ticker varchar(8) NOT NULL);
    CREATE TABLE core_shareholder (
        id bigserial PRIMARY KEY, issuer_id bigint NOT NULL REFERENCES core_issuer (id), name varchar(255) NOT NULL,
        email varchar(254) NULL, phone varchar(32) NULL, address text NULL, encrypted_tax_id bytea NULL,
        shares numeric(20, 4) NOT NULL DEFAULT 0);
    CREATE TABLE core_auditlog (id bigserial PRIMARY KEY, username varchar(150) NOT NULL, action text NOT NULL);
    INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email) VALUES
        ('pbkdf2_sha256$600000$salt$adminhash', true, 'testadmin', 'Test', 'Admin', 'testadmin@tableicty.com'),
        ('pbkdf2_sha256$600000$salt$h1', false, 'mgarcia', 'Maria', 'Garcia', 'maria.garcia@acme-holdings.example'),
        ('pbkdf2_sha256$600000$salt$h2', false, 'jsmith', 'John', 'Smith', 'john.smith@northwind.example'),
        ('pbkdf2_sha256$600000$salt$h3', false, 'lchen', 'Li', 'Chen', 'li.chen@globex.example');
    INSERT INTO core_issuer (name, ticker) VALUES ('Acme Holdings', 'ACMH'), ('Northwind Traders', 'NWTR'), ('Globex Corporation', 'GLBX');
    INSERT INTO core_shareholder (issuer_id, name, email, phone, address, encrypted_tax_id, shares)
        SELECT 1 + i % 3,
               (ARRAY['Ann','Bob','Carla','Deepak','Elena','Farid','Grace','Hiro'])[1 + i % 8] || ' ' ||
               (ARRAY['Smith','Jones','Okafor','Müller','Rossi','Tanaka','Silva'])[1 + i % 7],
               CASE WHEN i % 10 = 0 THEN NULL ELSE 'holder' || i || '@mail.example' END,
               '+44 20 7946 ' || lpad(i::text, 4, '0'),
               i || ' High Street, London',
               decode(md5('tax' || i), 'hex'),
               i * 10
        FROM generate_series(1, 2400) AS i;
    INSERT INTO core_auditlog (username, action)
        SELECT (ARRAY['testadmin','mgarcia','jsmith','lchen'])[1 + i % 4], 'login' FROM generate_series(1, 40) AS i;
";

fn probe() -> PostgresProbe {
    PostgresProbe::new(TlsMode::Disable)
}

fn key() -> Secret {
    Secret::new("a3f1c2d4e5b6a7980112233445566778899aabbccddeeff00112233445566778")
}

/// The default rules plus the audit log's usernames (hashed as auth_user's are, so they join);
/// the admin's audit rows are kept with its account, or they would no longer join it.
fn plan(batch_size: u32) -> MaskingPlan {
    let mut rules = default_rules("tableicty").unwrap();
    rules.insert("core_auditlog".into(), [("username".to_string(), Strategy::Hash)].into());
    let keep = json!({"auth_user": {"email": [ADMIN]}, "core_auditlog": {"username": ["testadmin"]}});
    let input =
        MaskingInput { rules: Some(rules), keep_rows: Some(serde_json::from_value(keep).unwrap()), batch_size, ..MaskingInput::default() };
    input.resolve("tableicty", ADMIN).unwrap()
}

/// Production and its staging copy: the same data.
async fn databases() -> (TestDb, TestDb) {
    let (production, staging) = (TestDb::create("mask_prod").await, TestDb::create("mask_staging").await);
    for db in [&production, &staging] {
        db.admin().await.batch_execute(APP_SCHEMA).await.expect("fixture SQL");
    }
    (production, staging)
}

/// Every row of the app's tables, for "nothing changed".
async fn contents(db: &TestDb) -> String {
    let sql = "SELECT string_agg(t, ';' ORDER BY t) FROM (
        SELECT row_to_json(x)::text AS t FROM auth_user x UNION ALL SELECT row_to_json(x)::text FROM core_shareholder x
        UNION ALL SELECT row_to_json(x)::text FROM core_auditlog x UNION ALL SELECT row_to_json(x)::text FROM core_issuer x) s";
    db.admin().await.query_one(sql, &[]).await.unwrap().get(0)
}

async fn values(db: &TestDb, table: &str, column: &str) -> Vec<Option<String>> {
    // The admin's row is kept: it is not a masked value.
    let filter = match table {
        "auth_user" => format!(" WHERE email <> '{ADMIN}'"),
        "core_auditlog" => " WHERE username <> 'testadmin'".to_string(),
        _ => String::new(),
    };
    let sql = format!("SELECT {column}::text FROM {table}{filter} ORDER BY id");
    db.admin().await.query(&sql, &[]).await.unwrap().iter().map(|r| r.get(0)).collect()
}

fn summary(report: &[TableMasked]) -> Vec<(&str, usize, usize, u64, u64)> {
    report.iter().map(|t| (t.table.as_str(), t.columns.len(), t.already_masked.len(), t.rows_masked, t.rows_kept)).collect()
}

#[tokio::test]
async fn masking_leaves_no_production_value_keeps_joins_uniqueness_and_the_admin_and_a_rerun_changes_nothing() {
    let (production, staging) = databases().await;
    let plan = plan(100);
    let report = probe().mask(&staging.target(), &plan, &key()).await.expect("masked");
    assert_eq!(
        summary(&report),
        [("auth_user", 4, 0, 3, 1), ("core_auditlog", 1, 0, 30, 10), ("core_shareholder", 5, 0, 2400, 0)],
        "in batches of 100, every row once; the admin kept"
    );

    for (table, columns) in plan.masked_columns() {
        for (column, _) in columns {
            let before: std::collections::BTreeSet<String> = values(&production, table, column).await.into_iter().flatten().collect();
            let after = values(&staging, table, column).await;
            assert!(!before.is_empty(), "{table}.{column} has production data");
            let left: Vec<&String> = after.iter().flatten().filter(|v| before.contains(*v)).collect();
            assert!(left.is_empty(), "{table}.{column} still holds production values {left:?}");
        }
    }
    let db = staging.admin().await;
    let one = |sql: &'static str| {
        let db = &db;
        async move { db.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    assert_eq!(one("SELECT count(*) FROM core_auditlog a JOIN auth_user u ON u.username = a.username").await, 40, "joins hold");
    assert_eq!(one("SELECT count(DISTINCT email) FROM auth_user").await, 4, "unique stays unique");
    assert_eq!(one("SELECT count(DISTINCT email) FROM core_shareholder").await, 2160);
    assert_eq!(one("SELECT count(*) FROM core_shareholder WHERE email IS NULL").await, 240, "NULL stays NULL");
    assert_eq!(one("SELECT count(*) FROM core_shareholder WHERE address IS NOT NULL OR encrypted_tax_id IS NOT NULL").await, 0);
    assert_eq!(one("SELECT count(*) FROM core_shareholder WHERE email NOT LIKE 'user-%@example.invalid'").await, 0);
    // The admin logs in with the stored hash under its email, exactly as in production.
    let login = "SELECT password || username || is_superuser::text FROM auth_user WHERE email = 'testadmin@tableicty.com'";
    let credential = |db: tokio_postgres::Client| async move { db.query_one(login, &[]).await.unwrap().get::<_, String>(0) };
    assert_eq!(credential(staging.admin().await).await, credential(production.admin().await).await);

    let results = evaluate(&probe().verify(&staging.target(), &production.target(), &plan).await.expect("verified"));
    assert!(results.iter().all(|r| r.passed), "{results:#?}");
    assert_eq!(results.len(), 10 + 3 * 2 + 2, "a check per masked column, row count and foreign keys per table, one per kept value");

    let masked = contents(&staging).await;
    let again = probe().mask(&staging.target(), &plan, &key()).await.expect("masked again");
    assert_eq!(summary(&again), [("auth_user", 0, 4, 0, 0), ("core_auditlog", 0, 1, 0, 0), ("core_shareholder", 0, 5, 0, 0)]);
    assert_eq!(contents(&staging).await, masked, "a re-run changes nothing");
}

#[tokio::test]
async fn bad_rules_are_refused_before_any_update() {
    let (production, staging) = databases().await;
    let before = contents(&staging).await;
    for (rules, field, reason) in [
        (json!({"auth_user": {"username": "name"}}), "masking.rules.auth_user.username", "name repeats values; the column is unique"),
        (json!({"auth_user": {"email": "null"}}), "masking.rules.auth_user.email", "null on a NOT NULL column"),
        (json!({"core_shareholder": {"tax_id": "null"}}), "masking.rules.core_shareholder.tax_id", "core_shareholder has no column"),
        (
            json!({"core_shareholder": {"shares": "hash"}}),
            "masking.rules.core_shareholder.shares",
            "hash writes text; the column is numeric",
        ),
        (json!({"core_issuer": {"ticker": "hash"}}), "masking.rules.core_issuer.ticker", "the column holds 8"),
        (json!({"core_shareholders": {"name": "name"}}), "masking.rules.core_shareholders.name", "no table"),
    ] {
        // A good rule first: a refusal of any rule changes nothing at all.
        let mut rules: rehearsal_core::masking::Rules = serde_json::from_value(rules).unwrap();
        rules.entry("core_auditlog".into()).or_default().insert("username".into(), Strategy::Hash);
        let plan = MaskingInput { rules: Some(rules), ..MaskingInput::default() }.resolve("tableicty", ADMIN).unwrap();
        match probe().mask(&staging.target(), &plan, &key()).await {
            Err(MaskingError::Refused { field: f, reason: r }) => {
                assert_eq!(f, field);
                assert!(r.contains(reason), "{field}: {r}");
            }
            other => panic!("{field}: {other:?}"),
        }
    }
    assert_eq!(contents(&staging).await, before, "nothing was updated");
    let bookkeeping: Option<String> =
        staging.admin().await.query_one("SELECT to_regclass('public.rehearsal_masking')::text", &[]).await.unwrap().get(0);
    assert_eq!(bookkeeping, None, "not even the bookkeeping table was created");
    drop(production);
}

#[tokio::test]
async fn verification_catches_a_rule_that_masked_nothing() {
    let (production, staging) = databases().await;
    let plan = plan(1000);
    // A stale record, as a restore over a masked copy would leave: the masker skips the column.
    let db = staging.admin().await;
    db.batch_execute(
        "CREATE TABLE rehearsal_masking (table_name text NOT NULL, column_name text NOT NULL, rule_digest text NOT NULL, \
         rows_masked bigint NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (table_name, column_name))",
    )
    .await
    .unwrap();
    db.execute("INSERT INTO rehearsal_masking VALUES ('core_shareholder', 'email', $1, 2160)", &[&rule_digest(&Strategy::Email)])
        .await
        .unwrap();
    let report = probe().mask(&staging.target(), &plan, &key()).await.unwrap();
    assert_eq!(report[2].already_masked, ["email"]);
    let failed: Vec<String> = evaluate(&probe().verify(&staging.target(), &production.target(), &plan).await.unwrap())
        .into_iter()
        .filter(|r| !r.passed)
        .map(|r| format!("{}: expected {}, found {}", r.name, r.expected, r.found))
        .collect();
    assert_eq!(failed, ["masking_verified: core_shareholder.email: expected none of 500 sampled production values, found 500 remain"]);

    // A kept row that staging changed is caught too.
    db.batch_execute("UPDATE auth_user SET first_name = 'Changed' WHERE email = 'testadmin@tableicty.com'").await.unwrap();
    let findings = probe().verify(&staging.target(), &production.target(), &plan).await.unwrap();
    let admin = findings.kept.iter().find(|k| k.table == "auth_user").unwrap();
    assert!(admin.production_rows == 1 && !admin.unchanged, "{findings:?}");
}
