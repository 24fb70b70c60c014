//! The local PostgreSQL these tests need, and a throw-away database per test on it.

use rehearsal_core::cloud::DbTarget;
use rehearsal_core::Secret;
use std::sync::atomic::{AtomicU32, Ordering};
use tokio_postgres::{Client, NoTls};

pub const PG_HOST: &str = "127.0.0.1";
pub const PG_PORT: u16 = 5432;
pub const PG_USER: &str = "postgres";

/// A plain (not read-only) connection as the superuser, for setting fixtures up. Fails the test,
/// with what to do, when no PostgreSQL answers: these tests are about the real server.
pub async fn admin(database: &str) -> Client {
    let config = format!("host={PG_HOST} port={PG_PORT} user={PG_USER} dbname={database} connect_timeout=5");
    let (client, connection) = tokio_postgres::connect(&config, NoTls).await.unwrap_or_else(|e| {
        panic!(
            "these tests need PostgreSQL at {PG_HOST}:{PG_PORT} accepting user {PG_USER} without a password ({e}). \
             Install and start one: `apt-get install -y postgresql && pg_ctlcluster 15 main start`, with \
             `host all all 127.0.0.1/32 trust` in pg_hba.conf"
        )
    });
    tokio::spawn(connection);
    client
}

/// A database of its own for one test, dropped when the test ends, passed or not.
pub struct TestDb {
    pub name: String,
}

impl TestDb {
    pub async fn create(tag: &str) -> TestDb {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!("rehearsal_probes_{tag}_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        admin("postgres").await.batch_execute(&format!("CREATE DATABASE \"{name}\"")).await.expect("create the test database");
        TestDb { name }
    }

    /// A superuser connection to this database, for fixtures and for looking behind the probe.
    pub async fn admin(&self) -> Client {
        admin(&self.name).await
    }

    /// Where the probe connects: the superuser, trusted on loopback, so no password matters.
    pub fn target(&self) -> DbTarget {
        DbTarget {
            host: PG_HOST.into(),
            port: PG_PORT,
            database: self.name.clone(),
            user: PG_USER.into(),
            password: Secret::new("unused-under-trust"),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which cannot be blocked on: use a runtime of its own.
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async {
                admin("postgres").await.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}: {dropped:?}", self.name);
        }
    }
}
