//! Two answers the shared local server cannot give, since it trusts every loopback login: a wrong
//! password (SQLSTATE 28P01) and a server that is up but not yet accepting connections (57P03).
//! Each test makes a private cluster with the machine's own initdb and pg_ctl, with password
//! (SCRAM) authentication, on a free port, and removes it afterwards.

use rehearsal_core::checks::db::{migration_checks, run_checks, DbQuery};
use rehearsal_core::cloud::{DatabaseProbe, ProbeError};
use rehearsal_core::{Secret, StepError};
use rehearsal_probes::{target_from_url, PostgresProbe, TlsMode};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use tokio_postgres::NoTls;

/// The newest PostgreSQL server binaries installed the Debian way, or whatever pg_config names.
fn bin_dir() -> PathBuf {
    let mut installed: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dirs| dirs.filter_map(|d| d.ok()).map(|d| d.path().join("bin")).filter(|bin| bin.join("initdb").exists()).collect())
        .unwrap_or_default();
    installed.sort_by_key(|bin| bin.parent().and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok()).unwrap_or(0));
    installed
        .pop()
        .or_else(|| {
            let out = Command::new("pg_config").arg("--bindir").output().ok()?;
            Some(PathBuf::from(String::from_utf8(out.stdout).ok()?.trim())).filter(|bin| bin.join("initdb").exists())
        })
        .expect("these tests need PostgreSQL's server programs (initdb, pg_ctl): `apt-get install -y postgresql`")
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}

/// PostgreSQL refuses to run as root; as root, run its programs as the postgres user.
fn server_command(program: &Path) -> Command {
    if running_as_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(mut command: Command, what: &str) {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(out.status.success(), "{what} failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl Cluster {
    /// A new cluster; `standby` starts it as a standby with hot standby off, which answers every
    /// connection with 57P03 the way a server still starting up does.
    fn start(standby: bool) -> Cluster {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let bin = bin_dir();
        let dir = std::env::temp_dir().join(format!("rehearsal-probes-pg-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)));
        std::fs::create_dir_all(&dir).unwrap();
        if running_as_root() {
            let mut chown = Command::new("chown");
            chown.arg("postgres:").arg(&dir);
            run(chown, "chown the cluster directory to postgres");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let cluster = Cluster { bin, dir, port };
        let data = cluster.dir.join("data");
        let mut initdb = server_command(&cluster.bin.join("initdb"));
        initdb.arg("-D").arg(&data).args(["-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync"]);
        run(initdb, "initdb");
        if standby {
            let conf = std::fs::read_to_string(data.join("postgresql.conf")).unwrap();
            std::fs::write(data.join("postgresql.conf"), conf + "\nhot_standby = off\n").unwrap();
            std::fs::write(data.join("standby.signal"), "").unwrap();
        }
        let options =
            format!("-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off", cluster.dir.display());
        let mut start = server_command(&cluster.bin.join("pg_ctl"));
        start.arg("-D").arg(&data).args(["-o", &options, "-w", "-t", "30", "-l"]).arg(cluster.dir.join("log")).arg("start");
        run(start, "pg_ctl start");
        cluster
    }

    /// The superuser over the cluster's Unix socket, trusted there.
    async fn admin(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::Config::new()
            .host_path(&self.dir)
            .port(self.port)
            .user("postgres")
            .dbname("postgres")
            .connect(NoTls)
            .await
            .expect("connect to the private cluster's socket");
        tokio::spawn(connection);
        client
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let mut stop = server_command(&self.bin.join("pg_ctl"));
        stop.arg("-D").arg(self.dir.join("data")).args(["-m", "immediate", "stop"]);
        let _ = stop.output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn a_wrong_password_is_an_authentication_failure() {
    let cluster = Cluster::start(false);
    cluster.admin().await.batch_execute("CREATE ROLE rehearsal_app LOGIN PASSWORD 'p@ss w:rd/%'").await.unwrap();
    let probe = PostgresProbe::new(TlsMode::Disable);
    let query = DbQuery::Sql { sql: "SELECT current_user::text".into() };

    let wrong = target_from_url(&Secret::new(format!("postgres://rehearsal_app:guess@127.0.0.1:{}/postgres", cluster.port))).unwrap();
    let result = probe.query(&wrong, &query).await;
    assert_eq!(
        result,
        Err(ProbeError::Authentication("password authentication failed for user \"rehearsal_app\" (SQLSTATE 28P01)".into()))
    );

    // The same login with the right password, percent-encoded in the URL as in the SecureString.
    let url = format!("postgres://rehearsal_app:p%40ss%20w%3Ard%2F%25@127.0.0.1:{}/postgres", cluster.port);
    let right = target_from_url(&Secret::new(url)).unwrap();
    assert_eq!(probe.query(&right, &query).await.unwrap(), vec![vec![json!("rehearsal_app")]]);
}

#[tokio::test]
async fn a_server_not_yet_accepting_connections_is_not_ready() {
    let cluster = Cluster::start(true);
    let target = target_from_url(&Secret::new(format!("postgres://postgres:pw@127.0.0.1:{}/postgres", cluster.port))).unwrap();
    let probe = PostgresProbe::new(TlsMode::Disable);
    let result = probe.query(&target, &DbQuery::Sql { sql: "SELECT 1".into() }).await;
    assert_eq!(result, Err(ProbeError::NotReady("the database system is not accepting connections (SQLSTATE 57P03)".into())));
    let Err(StepError::DatabaseNotReady(why)) = run_checks(&probe, &target, &migration_checks()).await else {
        panic!("the step must report the database as not ready, for the state machine to retry")
    };
    assert!(why.contains("57P03"), "{why}");
}
