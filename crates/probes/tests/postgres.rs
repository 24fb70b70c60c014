//! PostgresProbe against the real local PostgreSQL, on fixtures of the app's schema at each stage
//! of the multi-tenancy rollout (runbook steps 5 and 6).

mod support;

#[path = "postgres/masking.rs"]
mod masking;

#[path = "postgres/prewarm.rs"]
mod prewarm;

use rehearsal_core::checks::db::{backfill_checks, migration_checks, run_checks, DbQuery};
use rehearsal_core::checks::{require_all, CheckResult};
use rehearsal_core::cloud::{DatabaseProbe, DbTarget, ProbeError};
use rehearsal_core::{Secret, StepError};
use rehearsal_probes::{target_from_url, PostgresProbe, TlsMode};
use serde_json::{json, Value};
use std::time::Duration;
use support::TestDb;

fn probe() -> PostgresProbe {
    PostgresProbe::new(TlsMode::Disable)
}

/// Before the release: Django's auth table and the app's issuers and shareholders, with rows.
const BEFORE_MIGRATIONS: &str = "
    CREATE TABLE auth_user (
        id serial PRIMARY KEY, username varchar(150) NOT NULL UNIQUE, email varchar(254) NOT NULL,
        password varchar(128) NOT NULL, is_superuser boolean NOT NULL DEFAULT false);
    CREATE TABLE core_issuer (id bigserial PRIMARY KEY, name varchar(255) NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
    CREATE TABLE core_shareholder (
        id bigserial PRIMARY KEY, issuer_id bigint NOT NULL REFERENCES core_issuer (id), name varchar(255) NOT NULL,
        shares numeric(20, 4) NOT NULL DEFAULT 0);
    INSERT INTO auth_user (username, email, password, is_superuser)
        VALUES ('testadmin', 'testadmin@tableicty.com', 'pbkdf2_sha256$x', true), ('clerk', 'clerk@example.com', 'pbkdf2_sha256$y', false);
    INSERT INTO core_issuer (name) VALUES ('Acme Corp'), ('Globex'), ('Initech');
    INSERT INTO core_shareholder (issuer_id, name, shares)
        VALUES (1, 'Ann', 100), (1, 'Bob', 250.5), (2, 'Cy', 10), (3, 'Di', 0.0001), (3, 'Ed', 99);
";

/// The release's migrations: five new tables, and a nullable tenant on the existing ones.
const MIGRATIONS: &str = "
    CREATE TABLE core_subscriptionplan (id bigserial PRIMARY KEY, name varchar(100) NOT NULL, max_users integer NOT NULL);
    CREATE TABLE core_tenant (id bigserial PRIMARY KEY, name varchar(255) NOT NULL, slug varchar(100) NOT NULL UNIQUE);
    CREATE TABLE core_tenantmembership (
        id bigserial PRIMARY KEY, tenant_id bigint NOT NULL REFERENCES core_tenant (id),
        user_id integer NOT NULL REFERENCES auth_user (id), role varchar(20) NOT NULL);
    CREATE TABLE core_tenantinvitation (
        id bigserial PRIMARY KEY, tenant_id bigint NOT NULL REFERENCES core_tenant (id), email varchar(254) NOT NULL);
    CREATE TABLE core_subscription (
        id bigserial PRIMARY KEY, tenant_id bigint NOT NULL REFERENCES core_tenant (id),
        plan_id bigint NOT NULL REFERENCES core_subscriptionplan (id), status varchar(20) NOT NULL);
    ALTER TABLE core_issuer ADD COLUMN tenant_id bigint NULL REFERENCES core_tenant (id);
    ALTER TABLE core_shareholder ADD COLUMN tenant_id bigint NULL REFERENCES core_tenant (id);
";

/// The backfill's first part: default tenant and plans, issuers assigned, two shareholders not.
const PARTIAL_BACKFILL: &str = "
    INSERT INTO core_subscriptionplan (name, max_users) VALUES ('Starter', 5), ('Enterprise', -1);
    INSERT INTO core_tenant (name, slug) VALUES ('Default', 'default');
    INSERT INTO core_subscription (tenant_id, plan_id, status) VALUES (1, 2, 'active');
    UPDATE core_issuer SET tenant_id = 1;
    UPDATE core_shareholder SET tenant_id = 1 WHERE name IN ('Ann', 'Bob', 'Cy');
";

const FINISH_BACKFILL: &str = "UPDATE core_shareholder SET tenant_id = 1 WHERE tenant_id IS NULL;";

async fn database(stages: &[&str]) -> TestDb {
    let db = TestDb::create("schema").await;
    let admin = db.admin().await;
    for stage in stages {
        admin.batch_execute(stage).await.expect("fixture SQL");
    }
    db
}

async fn checks(db: &TestDb, checks: &[rehearsal_core::checks::db::DbCheck]) -> Vec<CheckResult> {
    run_checks(&probe(), &db.target(), checks).await.expect("the database answers")
}

fn by_name<'a>(results: &'a [CheckResult], name: &str) -> &'a CheckResult {
    results.iter().find(|r| r.name == name).unwrap_or_else(|| panic!("no check {name:?} in {results:?}"))
}

#[tokio::test]
async fn before_migrations_no_multi_tenancy_table_is_found() {
    let db = database(&[BEFORE_MIGRATIONS]).await;
    let results = checks(&db, &migration_checks()).await;
    let tenant = by_name(&results, "tenant tables exist");
    assert!(!tenant.passed);
    assert_eq!(tenant.found, "[] (missing core_tenant, core_tenantmembership, core_tenantinvitation)");
    let subscription = by_name(&results, "subscription tables exist");
    assert!(!subscription.passed);
    assert_eq!(subscription.found, "[] (missing core_subscription, core_subscriptionplan)");

    // The backfill checks fail on the missing table and column, with the server's words.
    let results = checks(&db, &backfill_checks()).await;
    assert!(results.iter().all(|r| !r.passed), "{results:?}");
    let tenant = by_name(&results, "default tenant exists");
    assert!(tenant.found.contains("relation \"public.core_tenant\" does not exist"), "{}", tenant.found);
    let issuers = by_name(&results, "every issuer has a tenant");
    assert!(issuers.found.contains("column \"tenant_id\" does not exist"), "{}", issuers.found);
    assert!(issuers.found.starts_with("query failed: "), "{}", issuers.found);
}

#[tokio::test]
async fn after_migrations_the_tables_exist_and_nothing_is_backfilled() {
    let db = database(&[BEFORE_MIGRATIONS, MIGRATIONS]).await;
    let results = checks(&db, &migration_checks()).await;
    assert!(results.iter().all(|r| r.passed), "{results:?}");
    assert_eq!(by_name(&results, "tenant tables exist").found, "core_tenant, core_tenantinvitation, core_tenantmembership");
    assert_eq!(by_name(&results, "subscription tables exist").found, "core_subscription, core_subscriptionplan");

    let results = checks(&db, &backfill_checks()).await;
    let found: Vec<(&str, bool, &str)> = results.iter().map(|r| (r.name.as_str(), r.passed, r.found.as_str())).collect();
    assert_eq!(
        found,
        [
            ("default tenant exists", false, "0"),
            ("subscription plans exist", false, "0"),
            ("every issuer has a tenant", false, "3"),
            ("every shareholder has a tenant", false, "5"),
        ]
    );
}

#[tokio::test]
async fn a_partial_backfill_fails_on_the_rows_left_without_a_tenant() {
    let db = database(&[BEFORE_MIGRATIONS, MIGRATIONS, PARTIAL_BACKFILL]).await;
    let results = checks(&db, &backfill_checks()).await;
    let found: Vec<(&str, bool, &str)> = results.iter().map(|r| (r.name.as_str(), r.passed, r.found.as_str())).collect();
    assert_eq!(
        found,
        [
            ("default tenant exists", true, "1"),
            ("subscription plans exist", true, "2"),
            ("every issuer has a tenant", true, "0"),
            ("every shareholder has a tenant", false, "2"),
        ]
    );
    let Err(StepError::CheckFailed(why)) = require_all(results) else { panic!("a partial backfill must fail the step") };
    assert_eq!(why, "every shareholder has a tenant: expected 0, found 2");
}

#[tokio::test]
async fn a_full_backfill_passes_every_check() {
    let db = database(&[BEFORE_MIGRATIONS, MIGRATIONS, PARTIAL_BACKFILL, FINISH_BACKFILL]).await;
    let mut all = checks(&db, &migration_checks()).await;
    all.extend(checks(&db, &backfill_checks()).await);
    assert_eq!(require_all(all).expect("every check passes").len(), 6);
}

#[tokio::test]
async fn the_probe_cannot_write() {
    let db = database(&[BEFORE_MIGRATIONS, MIGRATIONS]).await;
    let insert = DbQuery::Sql { sql: "INSERT INTO core_tenant (name, slug) VALUES ('Sneaky', 'sneaky')".into() };
    let Err(ProbeError::Query(why)) = probe().query(&db.target(), &insert).await else { panic!("an INSERT must fail") };
    assert_eq!(why, "cannot execute INSERT in a read-only transaction (SQLSTATE 25006)");
    // A second statement cannot sneak past either: the extended protocol takes one.
    let two = DbQuery::Sql { sql: "SELECT 1; DELETE FROM core_issuer".into() };
    let Err(ProbeError::Query(why)) = probe().query(&db.target(), &two).await else { panic!("two statements must fail") };
    assert!(why.contains("cannot insert multiple commands into a prepared statement"), "{why}");

    let admin = db.admin().await;
    let tenants: i64 = admin.query_one("SELECT count(*) FROM core_tenant", &[]).await.unwrap().get(0);
    let issuers: i64 = admin.query_one("SELECT count(*) FROM core_issuer", &[]).await.unwrap().get(0);
    assert_eq!((tenants, issuers), (0, 3));

    let settings = DbQuery::Sql { sql: "SELECT current_setting('transaction_read_only'), current_setting('statement_timeout')".into() };
    let rows = probe().with_statement_timeout(Duration::from_millis(1500)).query(&db.target(), &settings).await.unwrap();
    assert_eq!(rows, vec![vec![json!("on"), json!("1500ms")]]);
}

#[tokio::test]
async fn a_statement_past_the_timeout_is_cancelled_by_the_server() {
    let db = TestDb::create("timeout").await;
    let slow = DbQuery::Sql { sql: "SELECT pg_sleep(10)".into() };
    let started = std::time::Instant::now();
    let result = probe().with_statement_timeout(Duration::from_millis(300)).query(&db.target(), &slow).await;
    assert_eq!(result, Err(ProbeError::Query("canceling statement due to statement timeout (SQLSTATE 57014)".into())));
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn values_map_to_json_as_the_checks_read_them() {
    let db = TestDb::create("values").await;
    let sql = "SELECT 1::smallint, 2::integer, 9007199254740993::bigint, 'tenant'::text, 'x'::varchar, 'pad'::char(5), \
               true, NULL::integer, NULL::text, 1.5::float8, 'core'::name, table_name \
               FROM information_schema.tables WHERE table_name = 'pg_class'";
    let rows = probe().query(&db.target(), &DbQuery::Sql { sql: sql.into() }).await.unwrap();
    let expected: Vec<Value> = vec![
        json!(1),
        json!(2),
        json!(9007199254740993_i64),
        json!("tenant"),
        json!("x"),
        json!("pad  "),
        json!(true),
        Value::Null,
        Value::Null,
        json!(1.5),
        json!("core"),
        json!("pg_class"),
    ];
    assert_eq!(rows, vec![expected]);

    // numeric reads as the exact text PostgreSQL itself prints for it.
    let numerics = "SELECT v, v::text FROM (VALUES (12345.678::numeric), (0.001), (-5), (100000000), (0.00), ('NaN'), \
                    (1e-20), (-0.5), (123456789012345678901234567890.123456789), (250.5000::numeric(20, 4))) AS t(v)";
    let rows = probe().query(&db.target(), &DbQuery::Sql { sql: numerics.into() }).await.unwrap();
    assert_eq!(rows.len(), 10);
    for row in &rows {
        assert_eq!(row[0], row[1], "numeric read differently from the server's text");
    }

    let unreadable = DbQuery::Sql { sql: "SELECT now() AS started".into() };
    let Err(ProbeError::Query(why)) = probe().query(&db.target(), &unreadable).await else { panic!("a timestamp is not read") };
    assert_eq!(why, "column started: has type timestamptz, which the probe does not read (cast it to text)");
}

#[tokio::test]
async fn tables_like_matches_the_prefix_literally() {
    // The prefix goes in as a text parameter and is compared literally: `_` is no wildcard here.
    let db = database(&[
        "CREATE TABLE core_tenant (id int); CREATE TABLE coreXtenantmembership (id int); CREATE TABLE core_tenant_history (id int);",
    ])
    .await;
    let rows = probe().query(&db.target(), &DbQuery::TablesLike { prefix: "core_tenant".into() }).await.unwrap();
    assert_eq!(rows, vec![vec![json!("core_tenant")], vec![json!("core_tenant_history")]]);
}

#[tokio::test]
async fn a_closed_port_is_not_ready() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let target = DbTarget { host: "127.0.0.1".into(), port, database: "app".into(), user: "app".into(), password: Secret::new("pw") };
    let result = probe().query(&target, &DbQuery::Sql { sql: "SELECT 1".into() }).await;
    let Err(ProbeError::NotReady(why)) = &result else { panic!("expected NotReady, got {result:?}") };
    assert!(why.to_lowercase().contains("refused"), "{why}");
    // And run_checks turns it into the step error the state machine retries.
    let Err(StepError::DatabaseNotReady(why)) = run_checks(&probe(), &target, &migration_checks()).await else { panic!("not ready") };
    assert!(why.starts_with(&format!("127.0.0.1:{port}: ")), "{why}");
}

#[tokio::test]
async fn a_silent_server_times_out_as_not_ready() {
    // Accepts the connection and never answers, like a half-started instance behind a load balancer.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(socket);
    });
    let target = DbTarget { host: "127.0.0.1".into(), port, database: "app".into(), user: "app".into(), password: Secret::new("pw") };
    let result = probe().with_connect_timeout(Duration::from_millis(300)).query(&target, &DbQuery::Sql { sql: "SELECT 1".into() }).await;
    assert_eq!(result, Err(ProbeError::NotReady("no connection within 300 ms".into())));
    held.abort();
}

#[tokio::test]
async fn login_problems_are_told_apart() {
    let db = TestDb::create("login").await;
    let role = format!("{}_nologin", db.name);
    db.admin().await.batch_execute(&format!("CREATE ROLE \"{role}\" NOLOGIN")).await.unwrap();
    let query = DbQuery::Sql { sql: "SELECT 1".into() };

    // The server's own 28000, through trust authentication: the role may not log in. The role is
    // cluster-wide, so it goes before anything is asserted.
    let nologin = probe().query(&DbTarget { user: role.clone(), ..db.target() }, &query).await;
    db.admin().await.batch_execute(&format!("DROP ROLE \"{role}\"")).await.unwrap();
    assert_eq!(nologin, Err(ProbeError::Authentication(format!("role \"{role}\" is not permitted to log in (SQLSTATE 28000)"))));
    let unknown = DbTarget { user: "nobody_at_all".into(), ..db.target() };
    let result = probe().query(&unknown, &query).await;
    assert_eq!(result, Err(ProbeError::Authentication("role \"nobody_at_all\" does not exist (SQLSTATE 28000)".into())));

    // A database that is not there is neither "not ready" nor a failed login.
    let missing = DbTarget { database: format!("{}_missing", db.name), ..db.target() };
    let Err(ProbeError::Other(why)) = probe().query(&missing, &query).await else { panic!("a missing database is Other") };
    assert!(why.contains("does not exist (SQLSTATE 3D000)"), "{why}");
}

#[tokio::test]
async fn disable_is_refused_for_a_remote_host_before_connecting() {
    let url = Secret::new("postgres://tableicty_admin:s3cr%40t@staging.abc.us-east-1.rds.amazonaws.com:5432/tableicty_production");
    let target = target_from_url(&url).unwrap();
    assert_eq!(target.password.expose(), "s3cr@t");
    let started = std::time::Instant::now();
    let result = probe().query(&target, &DbQuery::Sql { sql: "SELECT 1".into() }).await;
    let Err(ProbeError::Other(why)) = result else { panic!("disable must be refused for {}", target.host) };
    assert!(why.contains("loopback") && why.contains("staging.abc.us-east-1.rds.amazonaws.com"), "{why}");
    assert!(!why.contains("s3cr"), "{why}");
    assert!(started.elapsed() < Duration::from_millis(100), "it tried to connect");
}

#[tokio::test]
async fn a_database_url_reaches_the_database() {
    let db = TestDb::create("url").await;
    let target = target_from_url(&Secret::new(format!("postgresql://postgres:any%20thing@127.0.0.1:5432/{}", db.name))).unwrap();
    assert_eq!((target.user.as_str(), target.password.expose()), ("postgres", "any thing"));
    let rows = probe().query(&target, &DbQuery::Sql { sql: "SELECT current_database()::text".into() }).await.unwrap();
    assert_eq!(rows, vec![vec![json!(db.name)]]);
}
