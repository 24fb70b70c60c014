//! Capability traits: the narrow slices of AWS each step (and the API) needs, with the result
//! types they answer. The SDK adapters (`rehearsal-aws`: the Lambdas, the API, the CLI over the
//! wire) and the simulated account (local runs, tests) implement them; handlers are generic over
//! them.
//!
//! Methods return `impl Future + Send` so Lambda handlers built on them stay `Send`.

use crate::secret::Secret;
use crate::tags::Tags;
use crate::CloudError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::future::Future;

pub type CloudResult<T> = Result<T, CloudError>;

/// Current time: the wall clock in Lambda, the virtual clock locally.
pub trait Clock {
    fn now(&self) -> DateTime<Utc>;
}

// ---------------------------------------------------------------- RDS

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub address: String,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbInstance {
    pub id: String,
    pub arn: String,
    /// RDS status string: `creating`, `available`, `failed`, `incompatible-restore`, …
    pub status: String,
    pub endpoint: Option<Endpoint>,
    pub class: String,
    pub subnet_group: Option<String>,
    pub security_group_ids: Vec<String>,
    pub publicly_accessible: bool,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbSnapshot {
    pub id: String,
    pub arn: String,
    pub source_instance_id: String,
    /// `creating`, `available`, `failed`, …
    pub status: String,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreRequest {
    pub instance_id: String,
    pub snapshot_id: String,
    pub class: String,
    pub subnet_group: Option<String>,
    pub security_group_ids: Vec<String>,
    pub publicly_accessible: bool,
    pub tags: Tags,
}

pub trait Rds {
    /// `Ok(None)` when the instance does not exist.
    fn describe_instance(&self, id: &str) -> impl Future<Output = CloudResult<Option<DbInstance>>> + Send;
    fn describe_snapshot(&self, id: &str) -> impl Future<Output = CloudResult<Option<DbSnapshot>>> + Send;
    fn create_snapshot(&self, instance_id: &str, snapshot_id: &str, tags: &Tags) -> impl Future<Output = CloudResult<DbSnapshot>> + Send;
    fn restore_instance_from_snapshot(&self, request: &RestoreRequest) -> impl Future<Output = CloudResult<DbInstance>> + Send;
    /// Always explicit about the final snapshot: `None` skips it (AWS rejects leaving both unset).
    fn delete_instance(&self, id: &str, final_snapshot_id: Option<&str>) -> impl Future<Output = CloudResult<()>> + Send;
    fn delete_snapshot(&self, id: &str) -> impl Future<Output = CloudResult<()>> + Send;
    /// ModifyDBInstance with a new identifier, applied at once: the old name (and its endpoint) is
    /// free immediately; the instance answers under the new name only once it is `available` again
    /// (`renaming` meanwhile). AWS refuses a new identifier that exists (DBInstanceAlreadyExists).
    fn rename_instance(&self, id: &str, new_id: &str) -> impl Future<Output = CloudResult<DbInstance>> + Send;
    /// StopDBInstance: `stopping`, then `stopped` (RDS starts it again by itself after 7 days).
    fn stop_instance(&self, id: &str) -> impl Future<Output = CloudResult<()>> + Send;
    /// AddTagsToResource on an instance, by its ARN; existing keys are overwritten.
    fn tag_instance(&self, arn: &str, tags: &Tags) -> impl Future<Output = CloudResult<()>> + Send;
}

// ---------------------------------------------------------------- SSM Parameter Store

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ParameterKind {
    String,
    SecureString,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter {
    pub name: String,
    pub arn: String,
    pub kind: ParameterKind,
    /// Decrypted for SecureString.
    pub value: Secret,
    pub version: u64,
}

pub trait ParameterStore {
    /// Reads with decryption; `Ok(None)` when absent.
    fn get_parameter(&self, name: &str) -> impl Future<Output = CloudResult<Option<Parameter>>> + Send;
    /// Creates or overwrites; returns the stored parameter's ARN.
    fn put_parameter(
        &self,
        name: &str,
        value: &Secret,
        kind: ParameterKind,
        overwrite: bool,
    ) -> impl Future<Output = CloudResult<String>> + Send;
    fn parameter_tags(&self, name: &str) -> impl Future<Output = CloudResult<Tags>> + Send;
    fn add_parameter_tags(&self, name: &str, tags: &Tags) -> impl Future<Output = CloudResult<()>> + Send;
    fn delete_parameter(&self, name: &str) -> impl Future<Output = CloudResult<()>> + Send;
}

// ---------------------------------------------------------------- the service host (App Runner today)

/// Where the service's code comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSource {
    pub repository_url: String,
    pub branch: String,
    pub connection_arn: String,
}

/// How the host builds and starts the code. Given through the API (App Runner: configuration
/// source `API`), so the repository's `apprunner.yaml`, which references production's
/// parameters, is ignored by the staging service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeBuild {
    /// A managed runtime, e.g. App Runner's `PYTHON_311`.
    pub runtime: String,
    pub build_command: String,
    pub start_command: String,
}

/// Everything needed to create the staging service, independent of the hosting backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSpec {
    pub name: String,
    pub cpu: String,
    pub memory: String,
    pub port: u16,
    pub source: ServiceSource,
    pub build: CodeBuild,
    /// HTTP health check path (the app's health endpoint).
    pub health_check_path: String,
    pub auto_deployments: bool,
    pub vpc_connector_arn: String,
    pub instance_role_arn: String,
    /// Plain-text variables.
    pub environment: BTreeMap<String, String>,
    /// Variables resolved from Parameter Store at deployment: name → parameter ARN.
    pub secrets: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceInfo {
    pub arn: String,
    pub name: String,
    /// Host name without scheme, e.g. `abc123.us-east-1.awsapprunner.com`.
    pub url: String,
    /// `OPERATION_IN_PROGRESS`, `RUNNING`, `CREATE_FAILED`, `DELETED`, `DELETE_FAILED`, `PAUSED`.
    pub status: String,
    /// The code repository, for a service built from source.
    pub source: Option<ServiceSource>,
    /// The configured image (`ImageIdentifier`), for a service deployed from a container image.
    pub image_identifier: Option<String>,
    pub instance_role_arn: Option<String>,
    pub vpc_connector_arn: Option<String>,
    pub secrets: BTreeMap<String, String>,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceOperation {
    pub id: String,
    /// `CREATE_SERVICE`, `UPDATE_SERVICE`, `START_DEPLOYMENT`, `DELETE_SERVICE`, …
    pub kind: String,
    /// `PENDING`, `IN_PROGRESS`, `SUCCEEDED`, `FAILED`, `ROLLBACK_IN_PROGRESS`,
    /// `ROLLBACK_SUCCEEDED`, `ROLLBACK_FAILED`.
    pub status: String,
}

/// The hosting backend, App Runner's shape. App Runner, the one implementation (besides the
/// simulated account's), is closed to new customers; ECS Express Mode, which replaces it, is not
/// implemented yet.
pub trait ServiceHost {
    fn find_service(&self, name: &str) -> impl Future<Output = CloudResult<Option<ServiceInfo>>> + Send;
    /// `Ok(None)` when the ARN names no service.
    fn describe_service(&self, arn: &str) -> impl Future<Output = CloudResult<Option<ServiceInfo>>> + Send;
    /// Starts creation; answers at once with the service (and its URL) and the operation id.
    fn create_service(&self, spec: &ServiceSpec, tags: &Tags) -> impl Future<Output = CloudResult<(ServiceInfo, String)>> + Send;
    /// Replaces the Parameter Store references; starts a deployment; returns its operation id.
    fn update_service_secrets(&self, arn: &str, secrets: &BTreeMap<String, String>) -> impl Future<Output = CloudResult<String>> + Send;
    fn describe_operation(&self, arn: &str, operation_id: &str) -> impl Future<Output = CloudResult<Option<ServiceOperation>>> + Send;
    fn delete_service(&self, arn: &str) -> impl Future<Output = CloudResult<String>> + Send;
    /// StartDeployment: deploys the branch's latest commit (code) or pulls the configured image
    /// again; returns the operation id. A failed deployment is rolled back by the host itself.
    fn start_deployment(&self, arn: &str) -> impl Future<Output = CloudResult<String>> + Send;
    /// UpdateService with another `ImageIdentifier` (image-based services only); starts a
    /// deployment and returns its operation id. App Runner has no "redeploy a previous
    /// deployment" call: this is how an image-based service goes back to an earlier release.
    fn update_service_image(&self, arn: &str, image_identifier: &str) -> impl Future<Output = CloudResult<String>> + Send;
    /// Resolves a VPC connector name (or ARN) to its ARN.
    fn find_vpc_connector(&self, name_or_arn: &str) -> impl Future<Output = CloudResult<Option<String>>> + Send;
}

// ---------------------------------------------------------------- EventBridge Scheduler

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OneTimeSchedule {
    pub name: String,
    pub group: String,
    /// Fires once at this time (`at(yyyy-mm-ddThh:mm:ss)`, UTC).
    pub at: DateTime<Utc>,
    pub target_arn: String,
    pub role_arn: String,
    /// JSON the target receives.
    pub input: String,
}

pub trait Scheduler {
    fn create_schedule(&self, schedule: &OneTimeSchedule) -> impl Future<Output = CloudResult<()>> + Send;
    fn get_schedule(&self, group: &str, name: &str) -> impl Future<Output = CloudResult<Option<OneTimeSchedule>>> + Send;
    fn delete_schedule(&self, group: &str, name: &str) -> impl Future<Output = CloudResult<()>> + Send;
}

// ---------------------------------------------------------------- Step Functions

/// A state machine execution as DescribeExecution answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionInfo {
    pub arn: String,
    pub state_machine_arn: String,
    pub name: Option<String>,
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`, `PENDING_REDRIVE`.
    pub status: String,
    pub start: DateTime<Utc>,
    pub stop: Option<DateTime<Utc>>,
    /// The execution's input and output as JSON text.
    pub input: Option<String>,
    pub output: Option<String>,
    /// Why it failed: the error name, and the cause (often JSON text).
    pub error: Option<String>,
    pub cause: Option<String>,
}

/// What StartExecution answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartedExecution {
    pub execution_arn: String,
    pub start_date: Option<DateTime<Utc>>,
}

/// One event of an execution's history (GetExecutionHistory), as far as reading which states
/// ran and what they answered needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEvent {
    /// The event type: `TaskStateEntered`, `ParallelStateFailed`, `ExecutionSucceeded`, …
    pub kind: String,
    /// The state a `…StateEntered` event enters.
    pub entered: Option<String>,
    /// The state a `…StateExited` event leaves, with its output.
    pub exited: Option<StateExit>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateExit {
    pub name: String,
    /// JSON text.
    pub output: Option<String>,
    /// The history keeps at most 256 KiB of a state's output: a longer one is cut.
    pub output_truncated: bool,
}

/// Reads executions: how a promotion proves the staging run it promotes passed.
pub trait Executions {
    /// `Ok(None)` when the ARN names no execution.
    fn describe_execution(&self, arn: &str) -> impl Future<Output = CloudResult<Option<ExecutionInfo>>> + Send;
}

/// Starts executions, follows them and answers the task tokens they wait on: what the API and
/// `rehearsal remote` do with the deployed state machines.
pub trait StateMachines: Executions + Sync {
    /// Standard workflows: the same name and input while the execution runs answers it again;
    /// otherwise a taken name is `AlreadyExists`.
    fn start_execution(
        &self,
        state_machine_arn: &str,
        name: &str,
        input: &str,
    ) -> impl Future<Output = CloudResult<StartedExecution>> + Send;
    /// Every event, oldest first.
    fn execution_history(&self, execution_arn: &str) -> impl Future<Output = CloudResult<Vec<HistoryEvent>>> + Send;
    fn send_task_success(&self, task_token: &str, output: &str) -> impl Future<Output = CloudResult<()>> + Send;
    fn send_task_failure(&self, task_token: &str, error: &str, cause: &str) -> impl Future<Output = CloudResult<()>> + Send;
}

// ---------------------------------------------------------------- Stripe webhook endpoints

/// A Stripe webhook endpoint. Its `metadata` carries the run's tags, like any AWS resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: String,
    pub url: String,
    pub enabled_events: Vec<String>,
    pub metadata: Tags,
    /// The signing secret: Stripe reveals it only in the answer to the creation.
    pub secret: Option<Secret>,
}

/// Stripe's webhook endpoints API, called with the staging **test** secret key.
pub trait PaymentWebhooks {
    /// Every endpoint of the key's account (all pages).
    fn list_webhooks(&self, api_key: &Secret) -> impl Future<Output = CloudResult<Vec<WebhookEndpoint>>> + Send;
    fn create_webhook(
        &self,
        api_key: &Secret,
        url: &str,
        events: &[String],
        metadata: &Tags,
    ) -> impl Future<Output = CloudResult<WebhookEndpoint>> + Send;
    fn delete_webhook(&self, api_key: &Secret, id: &str) -> impl Future<Output = CloudResult<()>> + Send;
}

/// Whether a Stripe secret key is a test-mode key (live keys must never reach a staging call).
pub fn is_stripe_test_key(key: &Secret) -> bool {
    ["sk_test_", "rk_test_"].iter().any(|p| key.expose().starts_with(p))
}

// ---------------------------------------------------------------- HTTP to the app

#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    /// Header values may be secrets (tokens), so they are kept out of `Debug` output.
    pub headers: Vec<(String, Secret)>,
    pub body: Option<Secret>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("timed out after {0} s")]
    Timeout(u64),
    #[error("{0}")]
    Other(String),
}

pub trait HttpClient {
    fn send(&self, request: HttpRequest) -> impl Future<Output = Result<HttpResponse, HttpError>> + Send;
}

// ---------------------------------------------------------------- SQL checks

/// Where the staging database answers, from the staging DATABASE_URL SecureString.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbTarget {
    pub host: String,
    pub port: u16,
    pub database: String,
    pub user: String,
    pub password: Secret,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    /// Still starting, refusing connections: ask again later.
    #[error("not ready: {0}")]
    NotReady(String),
    #[error("authentication failed: {0}")]
    Authentication(String),
    #[error("query failed: {0}")]
    Query(String),
    #[error("{0}")]
    Other(String),
}

/// Runs one read-only query and answers its rows as JSON arrays.
pub trait DatabaseProbe {
    fn query(
        &self,
        target: &DbTarget,
        query: &crate::checks::db::DbQuery,
    ) -> impl Future<Output = Result<Vec<Vec<serde_json::Value>>, ProbeError>> + Send;
}
