//! `rehearsal run --endpoint-url URL`: the deployed `staging.asl.json` in the local runner, with
//! the step handlers calling real endpoints over the wire: the SDK adapters for RDS, SSM, the
//! Scheduler and Step Functions at `URL` (moto, LocalStack), App Runner at its own endpoint, Stripe,
//! and the real HTTP and PostgreSQL probes for the checks.
//!
//! Time is real here. Under tokio's paused clock the runtime jumps to the next timer whenever
//! every task waits, and a task waiting on a socket counts as waiting: a reqwest call to a server
//! answering in 500 ms fails at once with its 10 s timeout, and one SDK call of 500 ms moves the
//! clock by over an hour (idle-connection timers), which would fire the definition's
//! TimeoutSeconds and the probes' connect and statement timeouts for nothing. So Wait states
//! really wait, and [`WireOptions::wait_scale`] divides their `Seconds` (at least 1 s each) for
//! emulators whose resources settle at once; retry intervals, timeouts and `SecondsPath` or
//! `Timestamp` waits are kept as deployed.

use crate::execution::{checked_input, definition, execute, planned_run_id, RunError};
use crate::invoker::{local_substitutions, StepInvoker};
use crate::local::STAGING_DEFINITION;
use crate::report::{RunAccount, RunReport};
use chrono::{DateTime, Utc};
use rehearsal_asl::RunOptions;
use rehearsal_aws::{load_config, AwsCloud};
use rehearsal_core::checks::db::DbQuery;
use rehearsal_core::cloud::{
    DatabaseMasker, DatabaseProbe, DatabaseWarmer, DbTarget, HttpClient, HttpError, HttpRequest, HttpResponse, ProbeError, Warmed,
};
use rehearsal_core::masking::{Findings, MaskingError, MaskingPlan, TableMasked};
use rehearsal_core::Secret;
use rehearsal_lambda::LiveCloud;
use rehearsal_probes::{PostgresProbe, ReqwestClient, TlsMode};
use serde_json::Value;
use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

/// `HOST=IP:PORT` rules sending what is addressed to HOST (exactly, or any subdomain for
/// `*.suffix`) to a loopback address instead: for an emulated app or database on this machine,
/// whose names (App Runner's service URL, moto's RDS endpoint) resolve nowhere.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostOverrides(Vec<(String, SocketAddr)>);

impl HostOverrides {
    /// Parses `HOST=IP:PORT`; the address must be a loopback one, so nothing that was meant to go
    /// over TLS leaves the machine in plain text.
    pub fn parse_rule(text: &str) -> Result<(String, SocketAddr), String> {
        let (host, addr) = text.split_once('=').ok_or_else(|| format!("{text:?} is not HOST=IP:PORT"))?;
        let addr: SocketAddr = addr.parse().map_err(|e| format!("{text:?}: {addr:?} is not IP:PORT ({e})"))?;
        if host.is_empty() || host == "*." {
            return Err(format!("{text:?} names no host"));
        }
        if !addr.ip().is_loopback() {
            return Err(format!("{text:?}: {addr} is not a loopback address"));
        }
        Ok((host.to_ascii_lowercase(), addr))
    }

    pub fn new(rules: Vec<(String, SocketAddr)>) -> Self {
        Self(rules)
    }

    /// Where `host` is sent instead, by the first rule that matches it.
    pub fn target(&self, host: &str) -> Option<SocketAddr> {
        let host = host.to_ascii_lowercase();
        self.0.iter().find(|(rule, _)| matches(rule, &host)).map(|(_, addr)| *addr)
    }
}

fn matches(rule: &str, host: &str) -> bool {
    match rule.strip_prefix("*.") {
        Some(suffix) => host.strip_suffix(suffix).is_some_and(|head| head.ends_with('.') && head.len() > 1),
        None => rule == host,
    }
}

/// The HTTP probe, with `https://HOST/…` of an overridden host sent as plain HTTP to its
/// loopback address, with the original `Host` header (what App Runner's front end would see).
#[derive(Debug, Clone)]
pub struct OverriddenHttp {
    client: ReqwestClient,
    overrides: HostOverrides,
}

impl OverriddenHttp {
    pub fn new(client: ReqwestClient, overrides: HostOverrides) -> Self {
        Self { client, overrides }
    }

    fn rewrite(&self, mut request: HttpRequest) -> HttpRequest {
        let Ok(url) = url::Url::parse(&request.url) else { return request };
        let Some(host) = url.host_str() else { return request };
        let Some(addr) = self.overrides.target(host) else { return request };
        if url.scheme() != "https" {
            return request;
        }
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        let rest = &url[url::Position::BeforePath..];
        request.url = format!("http://{addr}{rest}");
        request.headers.push(("Host".to_string(), Secret::new(authority)));
        request
    }
}

impl HttpClient for OverriddenHttp {
    fn send(&self, request: HttpRequest) -> impl Future<Output = Result<HttpResponse, HttpError>> + Send {
        self.client.send(self.rewrite(request))
    }
}

/// The PostgreSQL probe, connecting to the loopback address of an overridden host.
#[derive(Debug, Clone)]
pub struct OverriddenPostgres {
    probe: PostgresProbe,
    overrides: HostOverrides,
}

impl OverriddenPostgres {
    pub fn new(probe: PostgresProbe, overrides: HostOverrides) -> Self {
        Self { probe, overrides }
    }
}

impl OverriddenPostgres {
    /// The loopback address an overridden host answers on.
    fn route(&self, target: &DbTarget) -> DbTarget {
        match self.overrides.target(&target.host) {
            Some(addr) => DbTarget { host: addr.ip().to_string(), port: addr.port(), ..target.clone() },
            None => target.clone(),
        }
    }
}

impl DatabaseProbe for OverriddenPostgres {
    async fn query(&self, target: &DbTarget, query: &DbQuery) -> Result<Vec<Vec<Value>>, ProbeError> {
        self.probe.query(&self.route(target), query).await
    }
}

impl DatabaseMasker for OverriddenPostgres {
    async fn mask(&self, target: &DbTarget, plan: &MaskingPlan, key: &Secret) -> Result<Vec<TableMasked>, MaskingError> {
        self.probe.mask(&self.route(target), plan, key).await
    }

    async fn verify(&self, staging: &DbTarget, production: &DbTarget, plan: &MaskingPlan) -> Result<Findings, MaskingError> {
        self.probe.verify(&self.route(staging), &self.route(production), plan).await
    }
}

impl DatabaseWarmer for OverriddenPostgres {
    async fn prewarm(&self, target: &DbTarget, tables: u32, limit: Duration) -> Result<Warmed, ProbeError> {
        self.probe.prewarm(&self.route(target), tables, limit).await
    }
}

/// Where the run's calls go.
#[derive(Debug, Clone)]
pub struct WireOptions {
    /// RDS, SSM, the Scheduler and Step Functions.
    pub endpoint_url: String,
    /// App Runner; `endpoint_url` when `None`.
    pub apprunner_endpoint_url: Option<String>,
    /// Stripe's API base URL; Stripe itself when `None`.
    pub stripe_api_url: Option<String>,
    pub http_overrides: HostOverrides,
    pub db_overrides: HostOverrides,
    pub db_tls: TlsMode,
    /// Divides every Wait state's `Seconds` (1 keeps the definition as deployed).
    pub wait_scale: u32,
}

/// Every capability a step may use, over the wire: the Lambdas' own composite, with the probes'
/// host overrides.
pub type WireCloud = LiveCloud<OverriddenHttp, OverriddenPostgres>;

/// Region and credentials from the environment, as the SDK reads them anywhere; the HTTP and
/// Stripe clients as the Lambdas build them.
pub async fn connect(options: &WireOptions) -> Result<WireCloud, RunError> {
    let config = load_config(Some(&options.endpoint_url)).await;
    let mut aws = AwsCloud::new(&config);
    if let Some(url) = &options.apprunner_endpoint_url {
        aws.apprunner = AwsCloud::new(&load_config(Some(url)).await).apprunner;
    }
    let http = LiveCloud::app_http().map_err(|e| RunError::Setup(format!("the HTTP client: {e}")))?;
    let stripe = LiveCloud::stripe(options.stripe_api_url.as_deref()).map_err(|e| RunError::Setup(format!("the Stripe client: {e}")))?;
    Ok(LiveCloud {
        aws,
        http: OverriddenHttp::new(http, options.http_overrides.clone()),
        postgres: OverriddenPostgres::new(PostgresProbe::new(options.db_tls), options.db_overrides.clone()),
        stripe,
    })
}

/// `definition` with every Wait state's `Seconds` divided by `scale`, rounded up, at least 1.
pub fn scale_waits(definition: &str, scale: u32) -> Result<String, RunError> {
    fn walk(states: &mut Value, scale: u64) {
        let Some(states) = states.as_object_mut() else { return };
        for state in states.values_mut() {
            if state["Type"] == "Wait" {
                if let Some(seconds) = state.get("Seconds").and_then(Value::as_u64) {
                    state["Seconds"] = Value::from(seconds.div_ceil(scale).max(1));
                }
            }
            for branch in state.get_mut("Branches").and_then(Value::as_array_mut).into_iter().flatten() {
                walk(&mut branch["States"], scale);
            }
        }
    }
    if scale <= 1 {
        return Ok(definition.to_string());
    }
    let mut value: Value = serde_json::from_str(definition).map_err(|e| RunError::Definition(e.to_string()))?;
    walk(&mut value["States"], u64::from(scale));
    Ok(value.to_string())
}

pub struct WireRun {
    pub input: Value,
    pub start_time: DateTime<Utc>,
    pub execution_name: String,
}

/// Runs the staging pipeline over the wire on a runtime whose clock is real (not paused); the
/// run document is refused before any call.
pub async fn run_over_the_wire<W: Write>(options: &WireOptions, run: WireRun, progress: W) -> Result<RunReport, RunError> {
    let input = checked_input(&run.input)?;
    let definition = definition(&scale_waits(STAGING_DEFINITION, options.wait_scale)?, &local_substitutions())?;
    let cloud = connect(options).await?;
    let invoker = StepInvoker::new(|_| cloud.clone());
    let run_options = RunOptions { execution_name: run.execution_name.clone(), start_time: run.start_time, ..RunOptions::default() };
    let executed = execute(&definition, run.input, &invoker, &run_options, progress).await?;
    let run_id = planned_run_id(&input, &run.execution_name, run.start_time);
    Ok(RunReport::new(executed, run_id, run.execution_name, run.start_time, RunAccount::OverTheWire { wait_scale: options.wait_scale }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_rules_match_exactly_or_by_subdomain_and_only_to_loopback() {
        let rules = HostOverrides::new(vec![
            HostOverrides::parse_rule("*.awsapprunner.com=127.0.0.1:8080").unwrap(),
            HostOverrides::parse_rule("DB.example.com=[::1]:5432").unwrap(),
        ]);
        assert_eq!(rules.target("abc.us-east-1.awsapprunner.com"), Some("127.0.0.1:8080".parse().unwrap()));
        assert_eq!(rules.target("awsapprunner.com"), None);
        assert_eq!(rules.target("evilawsapprunner.com"), None);
        assert_eq!(rules.target("db.EXAMPLE.com"), Some("[::1]:5432".parse().unwrap()));
        assert_eq!(rules.target("x.db.example.com"), None);
        assert!(HostOverrides::parse_rule("a.com=10.0.0.1:80").unwrap_err().contains("not a loopback"));
        assert!(HostOverrides::parse_rule("a.com").is_err());
        assert!(HostOverrides::parse_rule("a.com=localhost:80").is_err());
        assert!(HostOverrides::parse_rule("=127.0.0.1:80").is_err());
    }

    #[test]
    fn overridden_https_goes_to_loopback_as_http_with_the_original_host() {
        let http = OverriddenHttp::new(
            ReqwestClient::new(std::time::Duration::from_secs(10)).unwrap(),
            HostOverrides::new(vec![HostOverrides::parse_rule("*.awsapprunner.com=127.0.0.1:8080").unwrap()]),
        );
        let request = |url: &str| HttpRequest { method: "GET".into(), url: url.into(), headers: vec![], body: None };
        let rewritten = http.rewrite(request("https://abc.us-east-1.awsapprunner.com/api/v1/health/?x=1"));
        assert_eq!(rewritten.url, "http://127.0.0.1:8080/api/v1/health/?x=1");
        assert_eq!(rewritten.headers.len(), 1);
        assert_eq!((rewritten.headers[0].0.as_str(), rewritten.headers[0].1.expose()), ("Host", "abc.us-east-1.awsapprunner.com"));
        // Other hosts, and plain http, are left alone.
        assert_eq!(http.rewrite(request("https://api.stripe.com/v1/x")).url, "https://api.stripe.com/v1/x");
        assert_eq!(http.rewrite(request("http://abc.us-east-1.awsapprunner.com/")).url, "http://abc.us-east-1.awsapprunner.com/");
    }

    #[test]
    fn waits_are_divided_rounding_up_to_at_least_a_second() {
        let definition = r#"{"StartAt": "P", "States": {
            "P": {"Type": "Parallel", "Branches": [{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": true}}}], "Next": "V"},
            "V": {"Type": "Wait", "Seconds": 45, "Next": "Z"},
            "Z": {"Type": "Wait", "SecondsPath": "$.s", "Next": "T"},
            "T": {"Type": "Task", "Resource": "r", "TimeoutSeconds": 300, "End": true}}}"#;
        let scaled: Value = serde_json::from_str(&scale_waits(definition, 30).unwrap()).unwrap();
        assert_eq!(scaled["States"]["P"]["Branches"][0]["States"]["W"]["Seconds"], 2);
        assert_eq!(scaled["States"]["V"]["Seconds"], 2);
        assert_eq!(scaled["States"]["Z"]["SecondsPath"], "$.s");
        assert_eq!(scaled["States"]["T"]["TimeoutSeconds"], 300);
        assert_eq!(serde_json::from_str::<Value>(&scale_waits(definition, 1000).unwrap()).unwrap()["States"]["V"]["Seconds"], 1);
        assert_eq!(scale_waits(definition, 1).unwrap(), definition);
    }
}
