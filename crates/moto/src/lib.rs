//! moto's server for the tests of every crate: `.venv/bin/moto_server` (installed by
//! `scripts/install-moto.sh`) on a free loopback port, killed with the test process; optional
//! environment for the server (MOTO_PORT, where moto's Step Functions engine sends its Lambda
//! calls), the moto-api config, raw JSON- and Query-protocol calls for fixtures, and [`moto`]: one
//! shared server per test binary, reset before each test, which then run one at a time.

use serde_json::Value;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// Runs moto in the background and kills it when stdin closes: on `Drop`, and also when the
/// test process exits without dropping (a shared server lives in a `static`).
const WATCHDOG: &str = r#""$0" -H 127.0.0.1 -p "$1" >"$2" 2>&1 </dev/null & pid=$!
read -r line || true
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
exit 0"#;

const STARTUP: Duration = Duration::from_secs(60);

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

pub struct MotoServer {
    child: Child,
    port: u16,
    log: PathBuf,
}

/// The repository root (this crate sits in `crates/moto`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the repository root exists")
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a free loopback port");
    listener.local_addr().expect("a bound address").port()
}

/// The SDK reads region and credentials from the environment, as in Lambda. Call once, before
/// any SDK client is built (the test binaries do it while starting their server).
pub fn set_sdk_environment() {
    std::env::set_var("AWS_REGION", REGION);
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    std::env::remove_var("AWS_SESSION_TOKEN");
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
}

/// An HTTP answer: status and body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

impl MotoServer {
    /// Starts `.venv/bin/moto_server` with `env` added to its environment and waits until it
    /// answers.
    pub fn start(env: &[(&str, String)]) -> Self {
        let root = repo_root();
        let bin = root.join(".venv/bin/moto_server");
        assert!(
            bin.exists(),
            "moto is not installed ({} is missing): run `bash scripts/install-moto.sh` in {}",
            bin.display(),
            root.display()
        );
        let port = free_port();
        // One log per test binary, replaced by its next run.
        let binary = std::env::current_exe().ok().and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned())).unwrap_or_default();
        let log = root.join(format!("target/moto_server-{binary}.log"));
        let mut command = Command::new("sh");
        command.args(["-c", WATCHDOG]).arg(&bin).arg(port.to_string()).arg(&log);
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn sh to run moto_server");
        let mut server = Self { child, port, log };
        let started = Instant::now();
        while server.request("GET", "/moto-api/", "", &[]).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("moto_server exited ({status}); see {}", server.log.display());
            }
            assert!(started.elapsed() < STARTUP, "moto_server did not answer within {STARTUP:?}; see {}", server.log.display());
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Forgets every resource of every service (the moto-api config stays).
    pub fn reset(&self) {
        let answer = self.request("POST", "/moto-api/reset", "", &[]).expect("moto answers the reset");
        assert_eq!(answer.status, 200, "reset failed: {}", answer.body);
    }

    /// POST `/moto-api/config`, e.g. `{"stepfunctions": {"execute_state_machine": true}}`.
    pub fn configure(&self, config: &Value) {
        let answer = self.request("POST", "/moto-api/config", &config.to_string(), &[]).expect("moto answers the config");
        assert!((200..300).contains(&answer.status), "config {config} refused: {}", answer.body);
    }

    /// One call of an AWS JSON-protocol API (SSM, App Runner, …). moto reads the service from the
    /// credential scope and checks no signature.
    pub fn aws_json(&self, service: &str, target: &str, body: &Value) -> Answer {
        let auth = format!("AWS4-HMAC-SHA256 Credential=testing/20250101/{REGION}/{service}/aws4_request, SignedHeaders=host, Signature=0");
        let headers = [("Authorization", auth.as_str()), ("X-Amz-Target", target), ("Content-Type", "application/x-amz-json-1.1")];
        self.request("POST", "/", &body.to_string(), &headers).unwrap_or_else(|e| panic!("moto answers {target}: {e}"))
    }

    /// An AWS Query-protocol call (RDS, EC2, …), `params` form-encoded.
    pub fn aws_query(&self, service: &str, params: &str) -> Answer {
        let auth = format!("AWS4-HMAC-SHA256 Credential=testing/20250101/{REGION}/{service}/aws4_request, SignedHeaders=host, Signature=0");
        let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/x-www-form-urlencoded")];
        self.request("POST", "/", params, &headers).unwrap_or_else(|e| panic!("moto answers {service} {params}: {e}"))
    }

    /// An EC2 Query API call, for the few fixtures (subnets, security groups) the adapters have
    /// no client for; answers the XML.
    pub fn ec2(&self, params: &str) -> String {
        let answer = self.aws_query("ec2", &format!("{params}&Version=2016-11-15"));
        assert_eq!(answer.status, 200, "EC2 {params} failed: {}", answer.body);
        answer.body
    }

    fn request(&self, method: &str, path: &str, body: &str, headers: &[(&str, &str)]) -> std::io::Result<Answer> {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut request =
            format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\nConnection: close\r\n", self.port, body.len());
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(body);
        stream.write_all(request.as_bytes())?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        let status = response
            .strip_prefix("HTTP/1.1 ")
            .or_else(|| response.strip_prefix("HTTP/1.0 "))
            .and_then(|rest| rest.get(..3)?.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {response:?}")))?;
        let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or_default();
        Ok(Answer { status, body })
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        // Closing stdin makes the watchdog kill moto; then reap the watchdog.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// The text of every `<tag>…</tag>` in an XML answer.
pub fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(&open).skip(1).filter_map(|rest| rest.split_once(&close)).map(|(value, _)| value.to_string()).collect()
}

static SERVER: OnceLock<MotoServer> = OnceLock::new();
static SERIAL: Mutex<()> = Mutex::new(());

/// One test's hold on the shared server: exclusive, and starting from an empty account.
pub struct Moto {
    _serial: MutexGuard<'static, ()>,
    pub server: &'static MotoServer,
}

/// The test binary's shared server, reset for the calling test.
pub fn moto() -> Moto {
    // A failed test poisons the lock; the next one still starts from a reset server.
    let serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let server = SERVER.get_or_init(|| {
        // Set once, while no other test runs.
        set_sdk_environment();
        MotoServer::start(&[])
    });
    server.reset();
    Moto { _serial: serial, server }
}
