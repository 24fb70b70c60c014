//! [`DatabaseProbe`] against a real PostgreSQL: one short-lived connection per query, TLS with
//! full verification against the Amazon RDS roots, and a read-only transaction that is always
//! rolled back, so a check can never change the staging database.

use crate::error_chain;
use crate::values::row_to_json;
use rehearsal_core::checks::db::DbQuery;
use rehearsal_core::cloud::{DatabaseProbe, DbTarget, ProbeError};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};
use std::error::Error as _;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Config, NoTls, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;

/// Where to connect, from the staging DATABASE_URL, with percent-decoded credentials. The parsing
/// lives in core (the rewrite for the staging endpoint shares it); this is its name here.
pub use rehearsal_core::database_url::target as target_from_url;

/// The Amazon RDS CA bundle shipped with the crate; see `certs/README.md` for its provenance.
pub const RDS_CA_BUNDLE_PEM: &str = include_str!("../certs/rds-global-bundle.pem");

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);
/// Client-side allowance on top of the server's statement timeout, for a network that stops
/// answering without closing the connection.
const QUERY_GRACE: Duration = Duration::from_secs(5);

/// How the connection is protected, in libpq's `sslmode` words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// TLS required; the certificate must chain to an RDS root (or a public root, for RDS Proxy)
    /// and name the host connected to.
    #[default]
    VerifyFull,
    /// No TLS. Refused for any host but a loopback one: it exists for local tests only.
    Disable,
}

impl FromStr for TlsMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "verify-full" => Ok(TlsMode::VerifyFull),
            "disable" => Ok(TlsMode::Disable),
            other => Err(format!("TLS mode {other:?} is not one of verify-full, disable")),
        }
    }
}

impl fmt::Display for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsMode::VerifyFull => "verify-full",
            TlsMode::Disable => "disable",
        })
    }
}

#[derive(Clone)]
enum Tls {
    VerifyFull(MakeRustlsConnect),
    Disable,
}

/// Runs each [`DbQuery`] on a fresh connection (a step's handful of checks does not need a pool,
/// and a Lambda keeps nothing between invocations).
#[derive(Clone)]
pub struct PostgresProbe {
    tls: Tls,
    connect_timeout: Duration,
    statement_timeout: Duration,
}

impl fmt::Debug for PostgresProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresProbe")
            .field("tls", &self.tls_mode())
            .field("connect_timeout", &self.connect_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .finish()
    }
}

impl PostgresProbe {
    /// A probe in `mode`; `VerifyFull` trusts the bundled RDS roots and the Mozilla roots.
    pub fn new(mode: TlsMode) -> Self {
        let tls = match mode {
            TlsMode::VerifyFull => Tls::VerifyFull(connector(rds_and_public_roots())),
            TlsMode::Disable => Tls::Disable,
        };
        Self::with_tls(tls)
    }

    /// `VerifyFull` that also trusts the certificates in `pem`: a CA newer than the bundled one,
    /// or a private CA. Fails when `pem` holds no usable certificate.
    pub fn verify_full_with_extra_ca(pem: &str) -> Result<Self, String> {
        let mut roots = rds_and_public_roots();
        let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("extra CA certificates are not valid PEM: {e}"))?;
        if certs.is_empty() {
            return Err("extra CA PEM holds no certificate".into());
        }
        for cert in certs {
            roots.add(cert).map_err(|e| format!("extra CA certificate is not usable as a root: {e}"))?;
        }
        Ok(Self::with_tls(Tls::VerifyFull(connector(roots))))
    }

    fn with_tls(tls: Tls) -> Self {
        Self { tls, connect_timeout: DEFAULT_CONNECT_TIMEOUT, statement_timeout: DEFAULT_STATEMENT_TIMEOUT }
    }

    /// Bounds the TCP connect, the TLS handshake and the login together.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The server cancels any statement running longer than this.
    pub fn with_statement_timeout(mut self, timeout: Duration) -> Self {
        self.statement_timeout = timeout;
        self
    }

    pub(crate) fn statement_timeout(&self) -> Duration {
        self.statement_timeout
    }

    pub fn tls_mode(&self) -> TlsMode {
        match self.tls {
            Tls::VerifyFull(_) => TlsMode::VerifyFull,
            Tls::Disable => TlsMode::Disable,
        }
    }

    pub(crate) async fn connect(&self, target: &DbTarget) -> Result<Client, ProbeError> {
        let mut config = Config::new();
        config
            .host(&target.host)
            .port(target.port)
            .dbname(&target.database)
            .user(&target.user)
            .password(target.password.expose())
            .application_name("rehearsal-probe")
            .connect_timeout(self.connect_timeout);
        let connected = match &self.tls {
            Tls::VerifyFull(tls) => {
                config.ssl_mode(SslMode::Require);
                connect_within(self.connect_timeout, &config, tls.clone()).await
            }
            Tls::Disable => {
                if !is_loopback(&target.host) {
                    return Err(ProbeError::Other(format!(
                        "TLS mode disable is for loopback test databases only; {} is not one, use verify-full",
                        target.host
                    )));
                }
                config.ssl_mode(SslMode::Disable);
                connect_within(self.connect_timeout, &config, NoTls).await
            }
        };
        connected.ok_or_else(|| ProbeError::NotReady(format!("no connection within {} ms", self.connect_timeout.as_millis())))?
    }

    async fn run(&self, client: &mut Client, query: &DbQuery) -> Result<Vec<Vec<serde_json::Value>>, ProbeError> {
        let query_err = |e: tokio_postgres::Error| classify(&e, Phase::Query);
        // A whole number of milliseconds: SET takes no parameters, so nothing else is spliced in.
        client.batch_execute(&format!("SET statement_timeout = {}", self.statement_timeout.as_millis())).await.map_err(query_err)?;
        let transaction = client.build_transaction().read_only(true).start().await.map_err(query_err)?;
        let (sql, params) = query.to_sql();
        // Declared as text so PostgreSQL need not infer the parameters' types from the SQL.
        let typed: Vec<(&(dyn ToSql + Sync), Type)> = params.iter().map(|p| (p as &(dyn ToSql + Sync), Type::TEXT)).collect();
        let rows = transaction.query_typed(&sql, &typed).await.map_err(query_err)?;
        let converted = rows.iter().map(row_to_json).collect::<Result<Vec<_>, _>>().map_err(ProbeError::Query);
        // Read-only work: nothing to keep, whatever happened.
        transaction.rollback().await.map_err(query_err)?;
        converted
    }
}

impl DatabaseProbe for PostgresProbe {
    async fn query(&self, target: &DbTarget, query: &DbQuery) -> Result<Vec<Vec<serde_json::Value>>, ProbeError> {
        let mut client = self.connect(target).await?;
        let limit = self.statement_timeout + QUERY_GRACE;
        match tokio::time::timeout(limit, self.run(&mut client, query)).await {
            Ok(result) => result,
            Err(_) => Err(ProbeError::NotReady(format!("{}:{} gave no answer within {} ms", target.host, target.port, limit.as_millis()))),
        }
    }
}

/// Connects and logs in, all within `timeout` (`None` when it ran out); tokio-postgres' own
/// connect timeout covers only the TCP connect.
async fn connect_within<T>(timeout: Duration, config: &Config, tls: T) -> Option<Result<Client, ProbeError>>
where
    T: MakeTlsConnect<Socket>,
    T::Stream: Send + 'static,
{
    let (client, connection) = match tokio::time::timeout(timeout, config.connect(tls)).await.ok()? {
        Ok(connected) => connected,
        Err(e) => return Some(Err(classify(&e, Phase::Connect))),
    };
    // The connection task ends once the client is dropped; its errors also reach the client's
    // calls, so they are only logged here.
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %error_chain(&e), "PostgreSQL connection ended with an error");
        }
    });
    Some(Ok(client))
}

fn connector(roots: RootCertStore) -> MakeRustlsConnect {
    // An explicit provider: the process may link more than one, and then rustls has no default.
    let config = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("aws-lc-rs supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    MakeRustlsConnect::new(config)
}

/// The bundled RDS roots (direct connections) plus the Mozilla roots (RDS Proxy presents an
/// Amazon Trust Services certificate).
fn rds_and_public_roots() -> RootCertStore {
    let mut roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    for cert in CertificateDer::pem_slice_iter(RDS_CA_BUNDLE_PEM.as_bytes()) {
        roots.add(cert.expect("bundled RDS CA bundle is valid PEM (a test checks it)")).expect("bundled RDS CA is usable as a root");
    }
    roots
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.trim_matches(['[', ']']).parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Connect,
    Query,
}

pub(crate) fn classify(error: &tokio_postgres::Error, phase: Phase) -> ProbeError {
    if let Some(db) = error.as_db_error() {
        let message = format!("{} (SQLSTATE {})", db.message(), db.code().code());
        return classify_sqlstate(db.code(), message, phase);
    }
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            if matches!(io.kind(), std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::TimedOut) {
                return ProbeError::NotReady(error_chain(error));
            }
        }
        source = cause.source();
    }
    ProbeError::Other(error_chain(error))
}

fn classify_sqlstate(code: &SqlState, message: String, phase: Phase) -> ProbeError {
    if *code == SqlState::CANNOT_CONNECT_NOW {
        ProbeError::NotReady(message)
    } else if *code == SqlState::INVALID_PASSWORD || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION {
        ProbeError::Authentication(message)
    } else if phase == Phase::Query {
        ProbeError::Query(message)
    } else {
        ProbeError::Other(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_modes_parse_and_print_in_libpq_words() {
        for mode in [TlsMode::VerifyFull, TlsMode::Disable] {
            assert_eq!(mode.to_string().parse::<TlsMode>(), Ok(mode));
        }
        assert!("require".parse::<TlsMode>().unwrap_err().contains("verify-full, disable"));
        assert_eq!(TlsMode::default(), TlsMode::VerifyFull);
    }

    #[test]
    fn the_bundled_rds_roots_all_load() {
        let bundled = CertificateDer::pem_slice_iter(RDS_CA_BUNDLE_PEM.as_bytes()).count();
        assert!(bundled >= 100, "only {bundled} certificates in the bundle");
        let roots = rds_and_public_roots();
        assert_eq!(roots.len(), bundled + webpki_roots::TLS_SERVER_ROOTS.len());
        let subjects: Vec<String> =
            roots.roots.iter().map(|anchor| String::from_utf8_lossy(anchor.subject.as_ref()).into_owned()).collect();
        assert!(subjects.iter().any(|s| s.contains("Amazon RDS us-east-1 Root CA RSA2048 G1")), "no us-east-1 RSA2048 G1 root");
    }

    #[test]
    fn only_loopback_hosts_count_as_loopback() {
        for host in ["localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]"] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["staging.abc.us-east-1.rds.amazonaws.com", "10.0.0.5", "localhost.example.com", "0.0.0.0"] {
            assert!(!is_loopback(host), "{host}");
        }
    }
}
