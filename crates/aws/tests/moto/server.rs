//! moto's server for the adapter tests: one per test binary, started on first use on a free
//! loopback port, reset before every test, which run one at a time.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// Runs moto in the background and kills it when stdin closes: on `Drop`, and also when the
/// test process exits without dropping (the shared server lives in a `static`).
const WATCHDOG: &str = r#""$0" -H 127.0.0.1 -p "$1" >"$2" 2>&1 </dev/null & pid=$!
read -r line || true
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
exit 0"#;

const STARTUP: Duration = Duration::from_secs(60);

pub struct MotoServer {
    child: Child,
    port: u16,
    log: PathBuf,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the repository root exists")
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a free loopback port");
    listener.local_addr().expect("a bound address").port()
}

impl MotoServer {
    /// Starts `.venv/bin/moto_server` and waits until it answers.
    pub fn start() -> Self {
        let root = repo_root();
        let bin = root.join(".venv/bin/moto_server");
        assert!(
            bin.exists(),
            "moto is not installed ({} is missing): run `bash scripts/install-moto.sh` in {}",
            bin.display(),
            root.display()
        );
        let port = free_port();
        let log = Path::new(env!("CARGO_TARGET_TMPDIR")).join("moto_server.log");
        let child = Command::new("sh")
            .args(["-c", WATCHDOG])
            .arg(&bin)
            .arg(port.to_string())
            .arg(&log)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn sh to run moto_server");
        let mut server = Self { child, port, log };
        let started = Instant::now();
        while server.request("GET", "/moto-api/", "").is_err() {
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

    /// Forgets every resource of every service.
    pub fn reset(&self) {
        let response = self.request("POST", "/moto-api/reset", "").expect("moto answers the reset");
        assert!(response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200"), "reset failed: {response}");
    }

    /// An EC2 Query API call, for the few fixtures (subnets, security groups) this crate has no
    /// client for. moto reads the service from the credential scope and checks no signature.
    pub fn ec2(&self, params: &str) -> String {
        let auth = "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0";
        let body = format!("{params}&Version=2016-11-15");
        let response =
            self.request_with("POST", "/", &body, &[("Authorization", auth), ("Content-Type", "application/x-www-form-urlencoded")]);
        let response = response.expect("moto answers EC2");
        assert!(response.contains(" 200 "), "EC2 {params} failed: {response}");
        response
    }

    fn request(&self, method: &str, path: &str, body: &str) -> std::io::Result<String> {
        self.request_with(method, path, body, &[])
    }

    fn request_with(&self, method: &str, path: &str, body: &str, headers: &[(&str, &str)]) -> std::io::Result<String> {
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
        if response.starts_with("HTTP/") {
            Ok(response)
        } else {
            Err(std::io::Error::other(format!("not an HTTP answer: {response:?}")))
        }
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        // Closing stdin makes the watchdog kill moto; then reap the watchdog.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

static SERVER: OnceLock<MotoServer> = OnceLock::new();
static SERIAL: Mutex<()> = Mutex::new(());

/// One test's hold on the shared server: exclusive, and starting from an empty account.
pub struct Moto {
    _serial: MutexGuard<'static, ()>,
    pub server: &'static MotoServer,
}

pub fn moto() -> Moto {
    // A failed test poisons the lock; the next one still starts from a reset server.
    let serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let server = SERVER.get_or_init(|| {
        // The SDK reads these like in Lambda; set once, while no other test runs.
        std::env::set_var("AWS_REGION", "us-east-1");
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        std::env::remove_var("AWS_SESSION_TOKEN");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        MotoServer::start()
    });
    server.reset();
    Moto { _serial: serial, server }
}

/// The text of every `<tag>…</tag>` in an XML answer.
pub fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(&open).skip(1).filter_map(|rest| rest.split_once(&close)).map(|(value, _)| value.to_string()).collect()
}
