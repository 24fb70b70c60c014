//! App Runner for the over-the-wire tests, which moto does not emulate: its JSON 1.0 API
//! (`X-Amz-Target: AppRunner.*`) on one loopback port, and the app the services run on another.
//!
//! Services go through App Runner's statuses: an operation is `IN_PROGRESS` (the service
//! `OPERATION_IN_PROGRESS`) for [`SETTLE`], then the deployment resolves the Parameter Store
//! references from moto (as App Runner does at deployment time) and runs the release's start
//! command, i.e. its migrations, against the database DATABASE_URL names (the loopback
//! PostgreSQL standing for the staging RDS instance): `RUNNING`/`SUCCEEDED`, or `CREATE_FAILED`
//! (`FAILED`) when creations are set to fail or the deployment cannot resolve a reference.
//!
//! The app (tableicty as the checklist sees it) answers for a running service by its Host
//! header: health, login with JWTs, refresh, billing, tenant registration and the backfill
//! endpoint, whose `X-Rehearsal-Token` must equal the parameter the service's
//! BACKFILL_TOKEN_PARAMETER names, read from moto when called.

use crate::postgres::{psql, BACKFILL, MIGRATIONS};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rehearsal_core::run::ValidationInput;
use rehearsal_tests::http::{HttpServer, Request, Response};
use rehearsal_tests::moto::{MotoServer, ACCOUNT, REGION};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long an operation runs before it settles.
pub const SETTLE: Duration = Duration::from_millis(1500);

pub const PRODUCTION_SERVICE: &str = "tableicty-backend";
pub const VPC_CONNECTOR: &str = "tableicty-vpc-connector";
pub const REPOSITORY_URL: &str = "https://github.com/tableicty/tableicty-backend";
pub const CONNECTION_ARN: &str = "arn:aws:apprunner:us-east-1:123456789012:connection/tableicty-github/0c9f1e2d3b4a49587a6b5c4d3e2f1a0b";
pub const INSTANCE_ROLE_ARN: &str = "arn:aws:iam::123456789012:role/tableicty-apprunner-instance";
const ACCESS_LIFETIME_SECONDS: i64 = 300;

#[derive(Debug, Clone)]
struct Operation {
    id: String,
    kind: &'static str,
    status: &'static str,
    started: Instant,
    settled: bool,
}

#[derive(Debug, Clone)]
pub struct Service {
    pub arn: String,
    pub name: String,
    pub url: String,
    pub status: String,
    source: Value,
    instance: Value,
    network: Value,
    pub tags: BTreeMap<String, String>,
    operations: Vec<Operation>,
    /// Plain and resolved variables of the running deployment.
    pub environment: Option<BTreeMap<String, String>>,
}

impl Service {
    fn json(&self) -> Value {
        json!({
            "ServiceName": self.name,
            "ServiceId": self.arn.rsplit('/').next(),
            "ServiceArn": self.arn,
            "ServiceUrl": self.url,
            "Status": self.status,
            "SourceConfiguration": self.source,
            "InstanceConfiguration": self.instance,
            "NetworkConfiguration": self.network,
        })
    }

    fn summary(&self) -> Value {
        json!({"ServiceName": self.name, "ServiceId": self.arn.rsplit('/').next(), "ServiceArn": self.arn, "ServiceUrl": self.url, "Status": self.status})
    }

    /// The Parameter Store references it was configured with: variable → parameter ARN.
    pub fn secrets(&self) -> BTreeMap<String, String> {
        let secrets = &self.source["CodeRepository"]["CodeConfiguration"]["CodeConfigurationValues"]["RuntimeEnvironmentSecrets"];
        secrets.as_object().into_iter().flatten().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect()
    }

    fn busy(&self) -> bool {
        self.operations.iter().any(|op| !op.settled)
    }
}

struct State {
    moto: &'static MotoServer,
    services: Vec<Service>,
    fail_creations: bool,
    counter: u32,
    refresh_tokens: BTreeSet<String>,
}

/// The API and the app, sharing the services.
pub struct AppRunner {
    state: Arc<Mutex<State>>,
    pub api: HttpServer,
    pub app: HttpServer,
}

fn error(kind: &str, message: String) -> Response {
    Response::json(400, &json!({"__type": kind, "Message": message})).with_header("x-amzn-ErrorType", kind)
}

fn not_found(arn: &str) -> Response {
    error("ResourceNotFoundException", format!("Resource {arn} is not found"))
}

fn tags_of(request: &Value) -> BTreeMap<String, String> {
    let tags = request["Tags"].as_array().into_iter().flatten();
    tags.filter_map(|t| Some((t["Key"].as_str()?.to_string(), t["Value"].as_str().unwrap_or_default().to_string()))).collect()
}

fn parameter_name(arn: &str) -> Option<String> {
    arn.split_once(":parameter").map(|(_, name)| name.to_string())
}

/// A SecureString's value, decrypted, from moto.
pub fn read_parameter(moto: &MotoServer, name: &str) -> Option<String> {
    let answer = moto.aws_json("ssm", "AmazonSSM.GetParameter", &json!({"Name": name, "WithDecryption": true}));
    answer.json()["Parameter"]["Value"].as_str().map(str::to_string)
}

/// The database part of a `postgres://…/database?…` URL.
fn database_of(url: &str) -> Option<String> {
    let path = url.split_once("://")?.1.split_once('/')?.1;
    Some(path.split('?').next()?.to_string()).filter(|d| !d.is_empty())
}

impl State {
    fn next_id(&mut self) -> String {
        self.counter += 1;
        format!("{:032x}", 0x5eed_0000_u64 * 7919 + u64::from(self.counter) * 104_729)
    }

    fn find(&mut self, arn: &str) -> Option<&mut Service> {
        self.services.iter_mut().find(|s| s.arn == arn)
    }

    /// Settles every operation that has run long enough.
    fn advance(&mut self) {
        let moto = self.moto;
        let fail_creations = self.fail_creations;
        for service in &mut self.services {
            let Some(index) = service.operations.iter().position(|op| !op.settled && op.started.elapsed() >= SETTLE) else { continue };
            let kind = service.operations[index].kind;
            let outcome = match kind {
                "DELETE_SERVICE" => {
                    service.status = "DELETED".into();
                    "SUCCEEDED"
                }
                "CREATE_SERVICE" if fail_creations => {
                    service.status = "CREATE_FAILED".into();
                    "FAILED"
                }
                _ => match deploy(moto, &service.source) {
                    Ok(environment) => {
                        service.environment = Some(environment);
                        service.status = "RUNNING".into();
                        "SUCCEEDED"
                    }
                    Err(_) if kind == "CREATE_SERVICE" => {
                        service.status = "CREATE_FAILED".into();
                        "FAILED"
                    }
                    // A failed update leaves the previous deployment running.
                    Err(_) => {
                        service.status = "RUNNING".into();
                        "ROLLBACK_SUCCEEDED"
                    }
                },
            };
            let op = &mut service.operations[index];
            op.status = outcome;
            op.settled = true;
        }
    }

    fn start(&mut self, arn: &str, kind: &'static str) -> Result<String, Response> {
        let id = self.next_id();
        let service = self.find(arn).ok_or_else(|| not_found(arn))?;
        if service.busy() || service.status == "DELETED" {
            return Err(error("InvalidStateException", format!("Service {arn} is in {} state", service.status)));
        }
        service.status = "OPERATION_IN_PROGRESS".into();
        service.operations.push(Operation { id: id.clone(), kind, status: "IN_PROGRESS", started: Instant::now(), settled: false });
        Ok(id)
    }

    fn api(&mut self, target: &str, request: &Value) -> Response {
        self.advance();
        let arn = request["ServiceArn"].as_str().or(request["ResourceArn"].as_str()).unwrap_or_default().to_string();
        match target {
            "AppRunner.CreateService" => {
                let name = request["ServiceName"].as_str().unwrap_or_default().to_string();
                if self.services.iter().any(|s| s.name == name && s.status != "DELETED") {
                    return error("InvalidRequestException", format!("Service with the provided name already exists: {name}"));
                }
                let id = self.next_id();
                let host = format!("{}.{REGION}.awsapprunner.com", &id[22..]);
                let service = Service {
                    arn: format!("arn:aws:apprunner:{REGION}:{ACCOUNT}:service/{name}/{id}"),
                    name,
                    url: host,
                    status: "OPERATION_IN_PROGRESS".into(),
                    source: request["SourceConfiguration"].clone(),
                    instance: request["InstanceConfiguration"].clone(),
                    network: request["NetworkConfiguration"].clone(),
                    tags: tags_of(request),
                    operations: vec![],
                    environment: None,
                };
                let operation = self.next_id();
                let mut service = service;
                service.operations.push(Operation {
                    id: operation.clone(),
                    kind: "CREATE_SERVICE",
                    status: "IN_PROGRESS",
                    started: Instant::now(),
                    settled: false,
                });
                let body = json!({"Service": service.json(), "OperationId": operation});
                self.services.push(service);
                Response::json(200, &body)
            }
            "AppRunner.DescribeService" => match self.find(&arn) {
                Some(service) => Response::json(200, &json!({"Service": service.json()})),
                None => not_found(&arn),
            },
            "AppRunner.ListServices" => {
                Response::json(200, &json!({"ServiceSummaryList": self.services.iter().map(Service::summary).collect::<Vec<_>>()}))
            }
            "AppRunner.ListTagsForResource" => match self.find(&arn) {
                Some(service) => {
                    let tags: Vec<Value> = service.tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect();
                    Response::json(200, &json!({"Tags": tags}))
                }
                None => not_found(&arn),
            },
            "AppRunner.ListOperations" => match self.find(&arn) {
                Some(service) => {
                    let operations: Vec<Value> = service
                        .operations
                        .iter()
                        .rev()
                        .map(|op| json!({"Id": op.id, "Type": op.kind, "Status": op.status, "TargetArn": service.arn}))
                        .collect();
                    Response::json(200, &json!({"OperationSummaryList": operations}))
                }
                None => not_found(&arn),
            },
            "AppRunner.UpdateService" => {
                let source = request["SourceConfiguration"].clone();
                match self.start(&arn, "UPDATE_SERVICE") {
                    Ok(operation) => {
                        let service = self.find(&arn).expect("started above");
                        if !source.is_null() {
                            service.source = source;
                        }
                        Response::json(200, &json!({"Service": service.json(), "OperationId": operation}))
                    }
                    Err(response) => response,
                }
            }
            "AppRunner.StartDeployment" => match self.start(&arn, "START_DEPLOYMENT") {
                Ok(operation) => Response::json(200, &json!({"OperationId": operation})),
                Err(response) => response,
            },
            "AppRunner.DeleteService" => {
                // A service whose creation failed can be deleted; one still settling cannot.
                match self.start(&arn, "DELETE_SERVICE") {
                    Ok(operation) => {
                        let service = self.find(&arn).expect("started above");
                        // Traffic stops as the deletion starts.
                        service.environment = None;
                        Response::json(200, &json!({"Service": service.json(), "OperationId": operation}))
                    }
                    Err(response) => response,
                }
            }
            "AppRunner.ListVpcConnectors" => {
                let arn = format!("arn:aws:apprunner:{REGION}:{ACCOUNT}:vpcconnector/{VPC_CONNECTOR}/1/3a8e5c1f7b2d4e6f9a0b1c2d3e4f5a6b");
                Response::json(
                    200,
                    &json!({"VpcConnectors": [{"VpcConnectorName": VPC_CONNECTOR, "VpcConnectorArn": arn, "VpcConnectorRevision": 1, "Status": "ACTIVE"}]}),
                )
            }
            other => error("UnknownOperationException", format!("this App Runner stand-in does not implement {other}")),
        }
    }
}

/// A deployment: the code configuration's variables, its Parameter Store references resolved
/// from moto, then the migrations against the database DATABASE_URL names.
fn deploy(moto: &MotoServer, source: &Value) -> Result<BTreeMap<String, String>, String> {
    let values = &source["CodeRepository"]["CodeConfiguration"]["CodeConfigurationValues"];
    let mut environment: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in values["RuntimeEnvironmentVariables"].as_object().into_iter().flatten() {
        environment.insert(name.clone(), value.as_str().unwrap_or_default().to_string());
    }
    for (name, arn) in values["RuntimeEnvironmentSecrets"].as_object().into_iter().flatten() {
        let arn = arn.as_str().unwrap_or_default();
        let value = parameter_name(arn).and_then(|p| read_parameter(moto, &p)).ok_or_else(|| format!("{name}: cannot resolve {arn}"))?;
        environment.insert(name.clone(), value);
    }
    if let Some(database) = environment.get("DATABASE_URL").and_then(|url| database_of(url)) {
        psql(&database, MIGRATIONS, &[])?;
    }
    Ok(environment)
}

fn jwt(token_type: &str, lifetime: i64, serial: u32) -> String {
    let now = chrono::Utc::now().timestamp();
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "typ": "JWT"}).to_string());
    let claims = URL_SAFE_NO_PAD.encode(json!({"token_type": token_type, "exp": now + lifetime, "jti": serial, "user_id": 1}).to_string());
    format!("{header}.{claims}.{}", URL_SAFE_NO_PAD.encode(format!("stand-in-signature-{serial}")))
}

fn body_field(request: &Request, name: &str) -> Option<String> {
    request.json().get(name)?.as_str().map(str::to_string)
}

fn server_error() -> Response {
    Response::new(500, "text/html", "<h1>Server Error (500)</h1>")
}

impl State {
    fn app(&mut self, request: &Request) -> Response {
        self.advance();
        let host = request.header("Host").unwrap_or_default().split(':').next().unwrap_or_default().to_string();
        // The running deployment serves while an update deploys (App Runner swaps traffic only
        // once the new one is healthy).
        let Some(service) = self.services.iter().find(|s| s.url == host && s.environment.is_some()) else {
            return Response::new(404, "text/plain", format!("no running service at {host}"));
        };
        let environment = service.environment.clone().unwrap_or_default();
        let Some(database) = environment.get("DATABASE_URL").and_then(|url| database_of(url)) else { return server_error() };
        let routes = ValidationInput::default();
        let path = request.path();
        let bearer_ok =
            || request.header("Authorization").and_then(|a| a.strip_prefix("Bearer ")).is_some_and(|t| t.split('.').count() == 3);
        match (request.method.as_str(), path) {
            ("GET", p) if p == routes.health_path => match psql(&database, "SELECT 1", &[]) {
                Ok(_) => Response::json(200, &json!({"status": "ok"})),
                Err(_) => server_error(),
            },
            ("POST", p) if p == routes.login_path => {
                let (Some(email), Some(password)) = (body_field(request, "email"), body_field(request, "password")) else {
                    return Response::json(400, &json!({"email": ["This field is required."]}));
                };
                let found = psql(
                    &database,
                    "SELECT count(*) FROM core_user WHERE email = :'email' AND password = encode(sha256(convert_to(:'password', 'UTF8')), 'hex')",
                    &[("email", &email), ("password", &password)],
                );
                match found.as_deref() {
                    Ok("1") => {
                        self.counter += 2;
                        let refresh = jwt("refresh", 86_400, self.counter);
                        self.refresh_tokens.insert(refresh.clone());
                        Response::json(
                            200,
                            &json!({"access": jwt("access", ACCESS_LIFETIME_SECONDS, self.counter - 1), "refresh": refresh}),
                        )
                    }
                    Ok(_) => Response::json(401, &json!({"detail": "No active account found with the given credentials"})),
                    Err(_) => server_error(),
                }
            }
            ("POST", p) if p == routes.refresh_path => match body_field(request, "refresh") {
                Some(token) if self.refresh_tokens.contains(&token) => {
                    self.counter += 1;
                    Response::json(200, &json!({"access": jwt("access", ACCESS_LIFETIME_SECONDS, self.counter)}))
                }
                _ => Response::json(401, &json!({"detail": "Token is invalid or expired"})),
            },
            ("GET", p) if p == routes.billing_path => {
                if !bearer_ok() {
                    return Response::json(401, &json!({"detail": "Authentication credentials were not provided."}));
                }
                let plan = psql(
                    &database,
                    "SELECT p.name, p.max_users, p.max_issuers, p.storage_gb FROM core_subscription s \
                     JOIN core_subscriptionplan p ON p.id = s.plan_id ORDER BY s.id LIMIT 1",
                    &[],
                );
                match plan {
                    Ok(row) => {
                        let fields: Vec<&str> = row.split('|').collect();
                        let number = |i: usize| fields.get(i).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
                        let limits = json!({"users": number(1), "issuers": number(2), "storage_gb": number(3)});
                        Response::json(200, &json!({"plan": {"name": fields[0], "limits": limits}, "status": "active"}))
                    }
                    // The release's tables are missing: the ORM's "relation does not exist".
                    Err(_) => server_error(),
                }
            }
            ("POST", p) if p == routes.tenant_register_path => {
                if !bearer_ok() {
                    return Response::json(401, &json!({"detail": "Authentication credentials were not provided."}));
                }
                let (Some(name), Some(slug)) = (body_field(request, "name"), body_field(request, "slug")) else {
                    return Response::json(400, &json!({"name": ["This field is required."]}));
                };
                match psql(
                    &database,
                    "INSERT INTO core_tenant (name, slug) VALUES (:'name', :'slug') RETURNING id",
                    &[("name", &name), ("slug", &slug)],
                ) {
                    Ok(id) => Response::json(201, &json!({"id": id.parse::<i64>().unwrap_or(0), "name": name, "slug": slug})),
                    Err(e) if e.contains("duplicate key") => {
                        Response::json(400, &json!({"slug": ["tenant with this slug already exists."]}))
                    }
                    Err(_) => server_error(),
                }
            }
            ("POST", p) if p == routes.backfill_path => {
                let expected = environment.get("BACKFILL_TOKEN_PARAMETER").and_then(|name| read_parameter(self.moto, name));
                let given = request.header("X-Rehearsal-Token");
                if expected.is_none() || given != expected.as_deref() {
                    return Response::json(403, &json!({"detail": "You do not have permission to perform this action."}));
                }
                match psql(&database, BACKFILL, &[]) {
                    Ok(assigned) => {
                        Response::json(200, &json!({"rows_assigned": assigned.lines().last().unwrap_or("0").parse::<i64>().unwrap_or(0)}))
                    }
                    Err(_) => server_error(),
                }
            }
            _ => Response::json(404, &json!({"detail": "Not found."})),
        }
    }
}

impl AppRunner {
    /// Seeded with production's service (running, built from the repository) and its VPC
    /// connector.
    pub fn start(moto: &'static MotoServer) -> Self {
        let production = Service {
            arn: format!("arn:aws:apprunner:{REGION}:{ACCOUNT}:service/{PRODUCTION_SERVICE}/5f0c2e7a9b1d4c3e8f6a2b9d0c7e1f34"),
            name: PRODUCTION_SERVICE.into(),
            url: format!("mx3p7kq2vd.{REGION}.awsapprunner.com"),
            status: "RUNNING".into(),
            source: json!({
                "CodeRepository": {
                    "RepositoryUrl": REPOSITORY_URL,
                    "SourceCodeVersion": {"Type": "BRANCH", "Value": "main"},
                    "CodeConfiguration": {"ConfigurationSource": "REPOSITORY"}
                },
                "AutoDeploymentsEnabled": true,
                "AuthenticationConfiguration": {"ConnectionArn": CONNECTION_ARN}
            }),
            instance: json!({"Cpu": "1024", "Memory": "2048", "InstanceRoleArn": INSTANCE_ROLE_ARN}),
            network: json!({"EgressConfiguration": {"EgressType": "VPC"}}),
            tags: BTreeMap::from([("Project".into(), "tableicty".into()), ("Environment".into(), "production".into())]),
            operations: vec![],
            environment: None,
        };
        let state = Arc::new(Mutex::new(State {
            moto,
            services: vec![production],
            fail_creations: false,
            counter: 0,
            refresh_tokens: BTreeSet::new(),
        }));
        let api_state = state.clone();
        let api = HttpServer::start(move |request: Request| {
            let target = request.header("X-Amz-Target").unwrap_or_default().to_string();
            api_state.lock().unwrap_or_else(PoisonError::into_inner).api(&target, &request.json())
        });
        let app_state = state.clone();
        let app = HttpServer::start(move |request: Request| app_state.lock().unwrap_or_else(PoisonError::into_inner).app(&request));
        Self { state, api, app }
    }

    /// Every creation from now on ends CREATE_FAILED.
    pub fn fail_creations(&self) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).fail_creations = true;
    }

    /// The services, as they are now.
    pub fn services(&self) -> Vec<Service> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.advance();
        state.services.clone()
    }
}
