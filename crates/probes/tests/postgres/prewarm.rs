//! The PostgreSQL warm-up: pg_prewarm as the superuser (as the RDS master user may), a
//! sequential read for a user who cannot create the extension, and the time limit.

use super::support::TestDb;
use rehearsal_core::cloud::{DatabaseWarmer, DbTarget, WarmMethod, Warmed};
use rehearsal_probes::{PostgresProbe, TlsMode};
use std::time::Duration;

/// A large table (about 12 MB), a middling one and a small one.
const TABLES: &str = "
    CREATE TABLE core_shareholder (id bigserial PRIMARY KEY, name text NOT NULL, address text NOT NULL);
    INSERT INTO core_shareholder (name, address)
        SELECT 'holder ' || i, i || ' High Street, London, ' || repeat('x', 40) FROM generate_series(1, 120000) AS i;
    CREATE TABLE core_issuer (id bigserial PRIMARY KEY, name text NOT NULL);
    INSERT INTO core_issuer (name) SELECT 'issuer ' || i FROM generate_series(1, 2000) AS i;
    CREATE TABLE django_session (session_key text PRIMARY KEY);
    INSERT INTO django_session VALUES ('abc');
";

async fn database() -> TestDb {
    let db = TestDb::create("prewarm").await;
    db.admin().await.batch_execute(TABLES).await.expect("fixture SQL");
    db
}

fn warmer() -> PostgresProbe {
    PostgresProbe::new(TlsMode::Disable)
}

fn names(warmed: &Warmed) -> Vec<&str> {
    warmed.tables.iter().map(|t| t.table.as_str()).collect()
}

async fn has_pg_prewarm(db: &TestDb) -> bool {
    db.admin().await.query_one("SELECT count(*) FROM pg_extension WHERE extname = 'pg_prewarm'", &[]).await.unwrap().get::<_, i64>(0) == 1
}

#[tokio::test]
async fn the_largest_tables_are_read_with_pg_prewarm_largest_first() {
    let db = database().await;
    let warmed = warmer().prewarm(&db.target(), 2, Duration::from_secs(60)).await.unwrap();
    assert_eq!(names(&warmed), ["core_shareholder", "core_issuer"]);
    assert_eq!(warmed.sample_table.as_deref(), Some("core_shareholder"));
    assert!(warmed.tables.iter().all(|t| t.method == WarmMethod::PgPrewarm && t.complete), "{warmed:?}");
    assert!(warmed.tables[0].bytes > 10_000_000 && warmed.tables[0].bytes > warmed.tables[1].bytes, "{warmed:?}");
    assert!(!warmed.time_limit_reached);
    assert!(has_pg_prewarm(&db).await, "the extension was created");
    // A second warm-up finds the extension and reads again.
    let again = warmer().prewarm(&db.target(), 20, Duration::from_secs(60)).await.unwrap();
    assert_eq!(names(&again), ["core_shareholder", "core_issuer", "django_session"]);
}

/// A login that may read but not create extensions (not the master user): a `count(*)` per table.
struct Reader<'a> {
    db: &'a TestDb,
    role: String,
}

impl<'a> Reader<'a> {
    async fn create(db: &'a TestDb) -> Reader<'a> {
        let role = format!("{}_reader", db.name);
        let admin = db.admin().await;
        admin
            .batch_execute(&format!(
                "CREATE ROLE \"{role}\" LOGIN; GRANT SELECT ON ALL TABLES IN SCHEMA public TO \"{role}\"; \
                 REVOKE CREATE ON SCHEMA public FROM PUBLIC"
            ))
            .await
            .unwrap();
        Reader { db, role }
    }

    fn target(&self) -> DbTarget {
        DbTarget { user: self.role.clone(), ..self.db.target() }
    }

    async fn drop_role(self) {
        let admin = self.db.admin().await;
        admin.batch_execute(&format!("DROP OWNED BY \"{0}\"; DROP ROLE \"{0}\"", self.role)).await.unwrap();
    }
}

#[tokio::test]
async fn a_user_who_cannot_create_the_extension_reads_sequentially() {
    let db = database().await;
    let reader = Reader::create(&db).await;
    let warmed = warmer().prewarm(&reader.target(), 5, Duration::from_secs(60)).await;
    reader.drop_role().await;
    let warmed = warmed.unwrap();
    assert_eq!(names(&warmed), ["core_shareholder", "core_issuer", "django_session"]);
    assert!(warmed.tables.iter().all(|t| t.method == WarmMethod::SequentialRead && t.complete), "{warmed:?}");
    assert!(!has_pg_prewarm(&db).await, "nothing was created");
}

/// A read still running at the limit is cancelled by the server and reported cut short: a row
/// security policy that sleeps on every row makes the reader's count of core_issuer slow.
#[tokio::test]
async fn a_read_the_limit_cancels_is_reported_cut_short_and_ends_the_warm_up() {
    let db = database().await;
    db.admin()
        .await
        .batch_execute(
            "CREATE FUNCTION slow_row() RETURNS boolean LANGUAGE sql AS $$ SELECT pg_sleep(0.01); SELECT true $$; \
             ALTER TABLE core_issuer ENABLE ROW LEVEL SECURITY; CREATE POLICY slow ON core_issuer FOR SELECT USING (slow_row())",
        )
        .await
        .unwrap();
    let reader = Reader::create(&db).await;
    let started = std::time::Instant::now();
    let warmed = warmer().prewarm(&reader.target(), 5, Duration::from_secs(3)).await;
    let took = started.elapsed();
    reader.drop_role().await;
    let warmed = warmed.unwrap();
    assert_eq!(names(&warmed), ["core_shareholder", "core_issuer"], "the small table after it is not started");
    assert!(warmed.tables[0].complete && !warmed.tables[1].complete, "{warmed:?}");
    assert!(warmed.time_limit_reached);
    assert!(took < Duration::from_secs(6), "bounded by the limit: {took:?}");
}

#[tokio::test]
async fn a_limit_too_short_for_a_read_starts_none_and_says_so() {
    let db = database().await;
    let warmed = warmer().prewarm(&db.target(), 5, Duration::from_millis(300)).await.unwrap();
    assert!(warmed.tables.is_empty(), "{warmed:?}");
    assert!(warmed.time_limit_reached);
    assert_eq!(warmed.sample_table.as_deref(), Some("core_shareholder"), "the sample is still timed before and after");
}

#[tokio::test]
async fn an_empty_database_has_nothing_to_warm() {
    let db = TestDb::create("prewarm_empty").await;
    let warmed = warmer().prewarm(&db.target(), 5, Duration::from_secs(10)).await.unwrap();
    assert_eq!(
        warmed,
        Warmed { tables: vec![], sample_table: None, first_query_ms_before: 0, first_query_ms_after: 0, time_limit_reached: false }
    );
}
