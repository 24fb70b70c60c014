//! verify-full for real: a TLS front (certificates made here) in front of the local PostgreSQL.
//! It answers PostgreSQL's SSLRequest, completes the handshake, and relays the decrypted stream
//! to the server, the way a TLS-terminating RDS endpoint looks to the client.

mod support;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rehearsal_core::checks::db::DbQuery;
use rehearsal_core::cloud::{DatabaseProbe, DbTarget, ProbeError};
use rehearsal_probes::{PostgresProbe, TlsMode};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use support::{TestDb, PG_HOST, PG_PORT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// PostgreSQL's SSLRequest: length 8, then the magic code 80877103.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 4, 210, 22, 47];

struct Pki {
    ca_pem: String,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: Vec<u8>,
}

/// A private CA and a server certificate from it for `server_name`.
fn pki(server_name: &str) -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec![server_name.to_string()]).unwrap().signed_by(&server_key, &ca).unwrap();
    Pki { ca_pem: ca.pem(), server_chain: vec![server.der().clone()], server_key: server_key.serialize_der() }
}

/// Serves TLS on a free loopback port; answers how many handshakes completed.
async fn tls_front(pki: &Pki) -> (u16, Arc<AtomicUsize>) {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(pki.server_chain.clone(), PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.server_key.clone())))
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let handshakes = Arc::new(AtomicUsize::new(0));
    let counted = handshakes.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let (acceptor, counted) = (acceptor.clone(), counted.clone());
            tokio::spawn(async move {
                let mut request = [0u8; 8];
                if client.read_exact(&mut request).await.is_err() || request != SSL_REQUEST {
                    return; // Only TLS is served: a plaintext startup is dropped.
                }
                client.write_all(b"S").await.unwrap();
                let Ok(mut tls) = acceptor.accept(client).await else { return };
                counted.fetch_add(1, Ordering::SeqCst);
                let mut server = TcpStream::connect((PG_HOST, PG_PORT)).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut server).await;
            });
        }
    });
    (port, handshakes)
}

fn via(port: u16, host: &str, db: &TestDb) -> DbTarget {
    DbTarget { host: host.into(), port, ..db.target() }
}

fn select_db() -> DbQuery {
    DbQuery::Sql { sql: "SELECT current_database()::text".into() }
}

#[tokio::test]
async fn verify_full_connects_to_a_server_whose_certificate_it_trusts() {
    let db = TestDb::create("tls").await;
    db.admin().await.batch_execute("CREATE TABLE core_tenant (id int); INSERT INTO core_tenant VALUES (1), (2);").await.unwrap();
    let pki = pki("localhost");
    let (port, handshakes) = tls_front(&pki).await;
    let probe = PostgresProbe::verify_full_with_extra_ca(&pki.ca_pem).unwrap();
    assert_eq!(probe.tls_mode(), TlsMode::VerifyFull);
    let target = via(port, "localhost", &db);
    let rows = probe.query(&target, &DbQuery::CountRows { table: "core_tenant".into(), null_column: None }).await.unwrap();
    assert_eq!(rows, vec![vec![json!(2)]]);
    let rows = probe.query(&target, &select_db()).await.unwrap();
    assert_eq!(rows, vec![vec![json!(db.name)]]);
    assert_eq!(handshakes.load(Ordering::SeqCst), 2, "each query is one connection, each over TLS");
}

#[tokio::test]
async fn verify_full_refuses_a_certificate_from_an_unknown_ca() {
    let db = TestDb::create("tls").await;
    let (port, handshakes) = tls_front(&pki("localhost")).await;
    // Only the bundled RDS and public roots: this CA is neither.
    let result = PostgresProbe::new(TlsMode::VerifyFull).query(&via(port, "localhost", &db), &select_db()).await;
    let Err(ProbeError::Other(why)) = &result else { panic!("expected a certificate error, got {result:?}") };
    assert!(why.contains("invalid peer certificate: UnknownIssuer"), "{why}");
    assert_eq!(handshakes.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn verify_full_refuses_a_certificate_for_another_host() {
    let db = TestDb::create("tls").await;
    let pki = pki("staging-db.internal.example");
    let (port, _) = tls_front(&pki).await;
    let probe = PostgresProbe::verify_full_with_extra_ca(&pki.ca_pem).unwrap();
    let result = probe.query(&via(port, "localhost", &db), &select_db()).await;
    let Err(ProbeError::Other(why)) = &result else { panic!("expected a certificate error, got {result:?}") };
    assert!(why.contains("certificate not valid for name \"localhost\""), "{why}");
}

#[tokio::test]
async fn verify_full_never_falls_back_to_plaintext() {
    // The real server without the front: it either refuses TLS or shows a certificate that chains
    // to no trusted root; both must fail rather than continue without verification.
    let db = TestDb::create("tls").await;
    let result = PostgresProbe::new(TlsMode::VerifyFull).query(&via(PG_PORT, PG_HOST, &db), &select_db()).await;
    let Err(ProbeError::Other(why)) = &result else { panic!("expected a TLS error, got {result:?}") };
    assert!(why.contains("server does not support TLS") || why.contains("invalid peer certificate"), "{why}");
}

#[test]
fn an_extra_ca_must_hold_a_certificate() {
    assert!(PostgresProbe::verify_full_with_extra_ca("").unwrap_err().contains("no certificate"));
    let garbage = "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n";
    assert!(PostgresProbe::verify_full_with_extra_ca(garbage).is_err());
}
