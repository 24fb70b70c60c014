//! Capability traits: the narrow slices of AWS each step (and the API) needs, with the result
//! types they answer. The SDK adapters (`rehearsal-aws`: the Lambdas, the API, the CLI over the
//! wire) and the simulated account (local runs, tests) implement them; handlers are generic over
//! them.
//!
//! Methods return `impl Future + Send` so Lambda handlers built on them stay `Send`.

use crate::image::ImageName;
use crate::secret::Secret;
use crate::tags::Tags;
use crate::CloudError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
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
    /// What the instance's storage costs by (a restore gets its snapshot's).
    pub storage: DbStorage,
    pub subnet_group: Option<String>,
    pub security_group_ids: Vec<String>,
    /// `DBParameterGroups[0]`: a restore gets the engine's default unless told.
    pub parameter_group: Option<String>,
    /// `OptionGroupMemberships[0]`: likewise.
    pub option_group: Option<String>,
    /// `BackupRetentionPeriod`: 0 means no automated backups, so no point-in-time restore.
    pub backup_retention_days: u32,
    /// `DBClusterIdentifier`: the Aurora cluster the instance belongs to (its storage, backups
    /// and master password are the cluster's), `None` for a standalone instance.
    pub cluster_id: Option<String>,
    pub publicly_accessible: bool,
    /// `MasterUsername`: the only login ModifyDBInstance can give a new password.
    pub master_username: String,
    /// A new master password waits to be applied (`PendingModifiedValues.MasterUserPassword`).
    pub master_password_pending: bool,
    /// `InstanceCreateTime`; RDS shows none while the instance is still being created.
    pub created_at: Option<DateTime<Utc>>,
    pub tags: Tags,
}

/// An instance's allocated storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbStorage {
    pub allocated_gb: u32,
    /// `gp2`, `gp3`, `io1`, `io2`, `standard`.
    pub storage_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbSnapshot {
    pub id: String,
    pub arn: String,
    /// The instance's (`DBInstanceIdentifier`), or the cluster's for a cluster snapshot.
    pub source_id: String,
    /// `creating`, `available`, `failed`, …
    pub status: String,
    /// `SnapshotCreateTime`: when the snapshot was taken.
    pub created_at: Option<DateTime<Utc>>,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreRequest {
    pub instance_id: String,
    pub source: RestoreSource,
    pub class: String,
    pub subnet_group: Option<String>,
    pub security_group_ids: Vec<String>,
    /// Set explicitly: a restore otherwise gets the engine's default parameter and option groups.
    pub parameter_group: Option<String>,
    pub option_group: Option<String>,
    pub publicly_accessible: bool,
    pub tags: Tags,
}

/// What a new instance is restored from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreSource {
    /// `RestoreDBInstanceFromDBSnapshot`.
    Snapshot(String),
    /// `RestoreDBInstanceToPointInTime` with `UseLatestRestorableTime`: the source instance's
    /// automated backups and transaction logs, up to about five minutes ago.
    LatestRestorableTime { source_instance_id: String },
}

impl RestoreSource {
    /// The RDS operation that restores from it.
    pub fn operation(&self) -> &'static str {
        match self {
            Self::Snapshot(_) => "RestoreDBInstanceFromDBSnapshot",
            Self::LatestRestorableTime { .. } => "RestoreDBInstanceToPointInTime",
        }
    }
}

/// An Aurora DB cluster (DescribeDBClusters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbCluster {
    pub id: String,
    pub arn: String,
    /// `creating`, `available`, `resetting-master-credentials`, `deleting`, …
    pub status: String,
    /// `aurora-postgresql`, `aurora-mysql`: what a new instance in it must be created with.
    pub engine: String,
    pub subnet_group: Option<String>,
    pub security_group_ids: Vec<String>,
    /// `DBClusterParameterGroup`: a clone gets the engine's default unless told.
    pub parameter_group: Option<String>,
    /// `DBClusterMembers`: its instances.
    pub members: Vec<String>,
    pub master_username: String,
    /// A new master password waits to be applied (`PendingModifiedValues.MasterUserPassword`).
    pub master_password_pending: bool,
    /// The writer endpoint (`Endpoint`, `Port`), which follows a failover: where an app connects.
    /// Known once the cluster exists, before any instance is in it.
    pub endpoint: Option<Endpoint>,
    /// `ClusterCreateTime`.
    pub created_at: Option<DateTime<Utc>>,
    pub tags: Tags,
}

/// A new Aurora cluster copied from production's, its network and settings set explicitly (RDS
/// otherwise gives the defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterCopyRequest {
    pub cluster_id: String,
    pub source: ClusterSource,
    pub subnet_group: Option<String>,
    pub security_group_ids: Vec<String>,
    pub parameter_group: Option<String>,
    pub tags: Tags,
}

/// What a new cluster is copied from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterSource {
    /// `RestoreDBClusterToPointInTime` with `RestoreType=copy-on-write` and
    /// `UseLatestRestorableTime`: the new cluster shares the source's storage pages until either
    /// writes one, so it takes minutes whatever the size.
    CopyOnWrite { source_cluster_id: String },
    /// `RestoreDBClusterFromSnapshot` of a cluster snapshot (RDS requires the engine).
    Snapshot { snapshot_id: String, engine: String },
}

impl ClusterSource {
    /// The RDS operation that copies from it.
    pub fn operation(&self) -> &'static str {
        match self {
            Self::CopyOnWrite { .. } => "RestoreDBClusterToPointInTime",
            Self::Snapshot { .. } => "RestoreDBClusterFromSnapshot",
        }
    }
}

/// `CreateDBInstance` in a cluster: an Aurora cluster answers queries only through its instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterInstanceRequest {
    pub instance_id: String,
    pub cluster_id: String,
    /// The cluster's engine (CreateDBInstance requires it to match).
    pub engine: String,
    pub class: String,
    /// The instance's DB parameter group (the cluster's is the clone's).
    pub parameter_group: Option<String>,
    pub publicly_accessible: bool,
    pub tags: Tags,
}

pub trait Rds {
    /// `Ok(None)` when the instance does not exist.
    fn describe_instance(&self, id: &str) -> impl Future<Output = CloudResult<Option<DbInstance>>> + Send;
    fn describe_snapshot(&self, id: &str) -> impl Future<Output = CloudResult<Option<DbSnapshot>>> + Send;
    fn create_snapshot(&self, instance_id: &str, snapshot_id: &str, tags: &Tags) -> impl Future<Output = CloudResult<DbSnapshot>> + Send;
    /// From a snapshot or to the latest restorable time ([`RestoreSource::operation`]).
    fn restore_instance(&self, request: &RestoreRequest) -> impl Future<Output = CloudResult<DbInstance>> + Send;
    /// Always explicit about the final snapshot: `None` skips it (AWS rejects leaving both unset).
    fn delete_instance(&self, id: &str, final_snapshot_id: Option<&str>) -> impl Future<Output = CloudResult<()>> + Send;
    fn delete_snapshot(&self, id: &str) -> impl Future<Output = CloudResult<()>> + Send;
    /// ModifyDBInstance with a new identifier, applied at once: the old name (and its endpoint) is
    /// free immediately; the instance answers under the new name only once it is `available` again
    /// (`renaming` meanwhile). AWS refuses a new identifier that exists (DBInstanceAlreadyExists).
    fn rename_instance(&self, id: &str, new_id: &str) -> impl Future<Output = CloudResult<DbInstance>> + Send;
    /// StopDBInstance: `stopping`, then `stopped` (RDS starts it again by itself after 7 days).
    fn stop_instance(&self, id: &str) -> impl Future<Output = CloudResult<()>> + Send;
    /// ModifyDBInstance `MasterUserPassword` with ApplyImmediately: the instance is
    /// `resetting-master-credentials` (or still `available`, the change pending) until the new
    /// password is in effect; the old one works until then.
    fn reset_master_password(&self, id: &str, password: &Secret) -> impl Future<Output = CloudResult<DbInstance>> + Send;
    /// AddTagsToResource on an instance, by its ARN; existing keys are overwritten.
    fn tag_instance(&self, arn: &str, tags: &Tags) -> impl Future<Output = CloudResult<()>> + Send;
    /// `Ok(None)` when the cluster does not exist.
    fn describe_cluster(&self, id: &str) -> impl Future<Output = CloudResult<Option<DbCluster>>> + Send;
    fn copy_cluster(&self, request: &ClusterCopyRequest) -> impl Future<Output = CloudResult<DbCluster>> + Send;
    /// DescribeDBClusterSnapshots by identifier; `source_id` is the source cluster's.
    fn describe_cluster_snapshot(&self, id: &str) -> impl Future<Output = CloudResult<Option<DbSnapshot>>> + Send;
    /// CreateDBClusterSnapshot: refused (`InvalidDBClusterStateFault`) unless the cluster is `available`.
    fn create_cluster_snapshot(
        &self,
        cluster_id: &str,
        snapshot_id: &str,
        tags: &Tags,
    ) -> impl Future<Output = CloudResult<DbSnapshot>> + Send;
    fn delete_cluster_snapshot(&self, id: &str) -> impl Future<Output = CloudResult<()>> + Send;
    /// Refused (`InvalidDBClusterStateFault`) until the cluster is `available`.
    fn create_cluster_instance(&self, request: &ClusterInstanceRequest) -> impl Future<Output = CloudResult<DbInstance>> + Send;
    /// ModifyDBCluster `MasterUserPassword` with ApplyImmediately: an Aurora instance's master
    /// password is its cluster's (ModifyDBInstance refuses it). The old one works until applied.
    fn reset_cluster_master_password(&self, id: &str, password: &Secret) -> impl Future<Output = CloudResult<DbCluster>> + Send;
    /// Refused (`InvalidDBClusterStateFault`) while the cluster still has instances: delete them
    /// first. `None` skips the final cluster snapshot (AWS rejects leaving both unset).
    fn delete_cluster(&self, id: &str, final_snapshot_id: Option<&str>) -> impl Future<Output = CloudResult<()>> + Send;
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

/// What DescribeParameters tells of a parameter: never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterInfo {
    pub name: String,
    pub kind: ParameterKind,
    pub version: u64,
    /// `LastModifiedUser`: the IAM principal ARN that wrote the current version.
    pub last_modified_user: Option<String>,
}

pub trait ParameterStore {
    /// Reads with decryption; `Ok(None)` when absent.
    fn get_parameter(&self, name: &str) -> impl Future<Output = CloudResult<Option<Parameter>>> + Send;
    /// Whether it exists and who wrote it, without reading (or decrypting) the value
    /// (DescribeParameters, filtered on the exact name); `Ok(None)` when absent.
    fn describe_parameter(&self, name: &str) -> impl Future<Output = CloudResult<Option<ParameterInfo>>> + Send;
    /// Creates or overwrites; returns the stored parameter's ARN.
    fn put_parameter(
        &self,
        name: &str,
        value: &Secret,
        kind: ParameterKind,
        overwrite: bool,
    ) -> impl Future<Output = CloudResult<String>> + Send;
    /// PutParameter without overwrite, tagged in the same call: the parameter never exists
    /// untagged, and of two concurrent creations exactly one succeeds (the other is
    /// `AlreadyExists`, `ParameterAlreadyExists`). What a lease is taken and every staging
    /// parameter created with; returns the stored parameter's ARN.
    fn create_parameter(
        &self,
        name: &str,
        value: &Secret,
        kind: ParameterKind,
        tags: &Tags,
    ) -> impl Future<Output = CloudResult<String>> + Send;
    fn parameter_tags(&self, name: &str) -> impl Future<Output = CloudResult<Tags>> + Send;
    fn add_parameter_tags(&self, name: &str, tags: &Tags) -> impl Future<Output = CloudResult<()>> + Send;
    fn delete_parameter(&self, name: &str) -> impl Future<Output = CloudResult<()>> + Send;
}

// ---------------------------------------------------------------- the service host (App Runner, ECS Express Mode)

/// The hosting backend a service runs on: App Runner (closed to new customers since
/// 2026-04-30), or ECS Express Mode, which AWS offers instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ServiceBackend {
    #[default]
    #[serde(rename = "apprunner")]
    AppRunner,
    #[serde(rename = "ecs-express")]
    EcsExpress,
}

impl ServiceBackend {
    /// The backend an ARN names (`arn:<partition>:apprunner:…`, `arn:<partition>:ecs:…`).
    pub fn of_arn(arn: &str) -> Option<Self> {
        match arn.split(':').nth(2) {
            Some("apprunner") if arn.starts_with("arn:") => Some(Self::AppRunner),
            Some("ecs") if arn.starts_with("arn:") => Some(Self::EcsExpress),
            _ => None,
        }
    }

    /// The run document's name for it (`service.backend`).
    pub fn name(self) -> &'static str {
        match self {
            Self::AppRunner => "apprunner",
            Self::EcsExpress => "ecs-express",
        }
    }
}

/// A code repository and branch (App Runner builds a service from source).
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

/// What the service runs: code the host builds from a branch (App Runner only), or a container
/// image pinned by digest (both backends), so what staging validated is what ships.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ReleaseSource {
    Code { repository: ServiceSource, build: CodeBuild, auto_deployments: bool },
    Image(ImageRelease),
}

/// A container image to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageRelease {
    /// `<registry>/<repository>@sha256:<digest>`, as [`ContainerImage::pinned`] spells it.
    pub image: String,
    /// The role App Runner pulls a private ECR image with (`AuthenticationConfiguration.
    /// AccessRoleArn`). ECS Express pulls with the task execution role: `None` there.
    pub access_role_arn: Option<String>,
}

/// App Runner's settings for a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppRunnerSettings {
    /// Egress into the VPC (the database is private).
    pub vpc_connector_arn: String,
    /// The role the app runs as; it also fetches the Parameter Store references.
    pub instance_role_arn: String,
}

/// ECS Express Mode's settings for a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EcsExpressSettings {
    /// Cluster short name or ARN.
    pub cluster: String,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    /// Pulls the image and fetches the `secrets` at task start.
    pub execution_role_arn: String,
    /// The role the app's code runs as.
    pub task_role_arn: Option<String>,
    /// Lets ECS create and remove the load balancer, target groups, security groups and
    /// scaling policies it manages for the service.
    pub infrastructure_role_arn: String,
}

/// The backend a service is created on, with that backend's own settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum HostSettings {
    #[serde(rename = "apprunner")]
    AppRunner(AppRunnerSettings),
    #[serde(rename = "ecs-express")]
    EcsExpress(EcsExpressSettings),
}

impl HostSettings {
    pub fn backend(&self) -> ServiceBackend {
        match self {
            Self::AppRunner(_) => ServiceBackend::AppRunner,
            Self::EcsExpress(_) => ServiceBackend::EcsExpress,
        }
    }

    /// Where a service with these settings is found by name.
    pub fn location(&self) -> ServiceLocation {
        match self {
            Self::AppRunner(_) => ServiceLocation::AppRunner,
            Self::EcsExpress(ecs) => ServiceLocation::EcsExpress { cluster: ecs.cluster.clone() },
        }
    }
}

/// Where to look a service up by name: App Runner names are unique per account and region,
/// ECS names per cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServiceLocation {
    AppRunner,
    EcsExpress { cluster: String },
}

/// Everything needed to create the staging service, on either backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSpec {
    pub name: String,
    /// In the backend's units: App Runner `0.25 vCPU`… (or `256`…), ECS CPU units `256`….
    pub cpu: String,
    /// App Runner `0.5 GB`… (or `512`…), ECS MiB `512`….
    pub memory: String,
    pub port: u16,
    pub source: ReleaseSource,
    /// HTTP health check path (the app's health endpoint).
    pub health_check_path: String,
    /// Plain-text variables.
    pub environment: BTreeMap<String, String>,
    /// Variables resolved from Parameter Store at deployment: name → parameter ARN (App Runner
    /// `RuntimeEnvironmentSecrets`, ECS `secrets[].valueFrom`).
    pub secrets: BTreeMap<String, String>,
    pub host: HostSettings,
}

/// A service's state, in one vocabulary for both backends (App Runner's words, which the state
/// machines match); the host's own word is [`ServiceInfo::host_status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ServiceStatus {
    /// Being created, deployed or deleted (ECS: a deployment in flight, or `DRAINING`).
    OperationInProgress,
    /// Serving its last successful deployment.
    Running,
    /// Its first deployment failed: nothing serves.
    CreateFailed,
    /// Deleted (ECS: `INACTIVE`).
    Deleted,
    DeleteFailed,
    Paused,
}

impl ServiceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OperationInProgress => "OPERATION_IN_PROGRESS",
            Self::Running => "RUNNING",
            Self::CreateFailed => "CREATE_FAILED",
            Self::Deleted => "DELETED",
            Self::DeleteFailed => "DELETE_FAILED",
            Self::Paused => "PAUSED",
        }
    }

    /// App Runner's `ServiceStatus`, which this vocabulary is.
    pub fn from_app_runner(status: &str) -> Option<Self> {
        [Self::OperationInProgress, Self::Running, Self::CreateFailed, Self::Deleted, Self::DeleteFailed, Self::Paused]
            .into_iter()
            .find(|s| s.as_str() == status)
    }

    /// An ECS Express service's status (`ACTIVE`, `DRAINING`, `INACTIVE`) with its newest
    /// deployment's status, and whether any deployment of it ever succeeded. `None` for a word
    /// ECS does not use.
    pub fn from_ecs(service_status: &str, newest_deployment: Option<OperationStatus>, ever_succeeded: bool) -> Option<Self> {
        Some(match service_status {
            "INACTIVE" => Self::Deleted,
            "DRAINING" => Self::OperationInProgress,
            "ACTIVE" => match newest_deployment {
                // ECS lists the first deployment shortly after the create answers.
                None => Self::OperationInProgress,
                Some(op) if !op.ended() => Self::OperationInProgress,
                Some(OperationStatus::Succeeded | OperationStatus::RollbackSucceeded) => Self::Running,
                Some(_) if ever_succeeded => Self::Running,
                Some(_) => Self::CreateFailed,
            },
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceInfo {
    pub arn: String,
    pub name: String,
    pub backend: ServiceBackend,
    /// Host name without scheme, e.g. `abc123.us-east-1.awsapprunner.com` (ECS: the public
    /// ingress path's endpoint).
    pub url: String,
    pub status: ServiceStatus,
    /// The host's own status: App Runner's, or ECS's `ACTIVE`, `DRAINING`, `INACTIVE`.
    pub host_status: String,
    /// The code repository, for a service built from source.
    pub source: Option<ServiceSource>,
    /// How it is built and started, when that is configured through the API (App Runner's
    /// `CodeConfigurationValues` with configuration source `API`); `None` for a service that
    /// reads its repository's `apprunner.yaml`, or runs an image.
    pub build: Option<CodeBuild>,
    /// The configured image (App Runner `ImageIdentifier`, ECS the primary container's image),
    /// for a service deployed from a container image.
    pub image_identifier: Option<String>,
    /// The role the app runs as: App Runner's instance role, ECS's task role.
    pub instance_role_arn: Option<String>,
    pub vpc_connector_arn: Option<String>,
    /// An ECS Express service's cluster, network and roles, from its newest configuration.
    pub ecs: Option<EcsExpressSettings>,
    pub secrets: BTreeMap<String, String>,
    pub tags: Tags,
}

/// How an operation (App Runner) or a service deployment (ECS) stands, in App Runner's words,
/// which the state machines match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OperationStatus {
    Pending,
    InProgress,
    Succeeded,
    Failed,
    /// The host is rolling a failed deployment back to the previous one.
    RollbackInProgress,
    /// The failed deployment was rolled back: the previous one serves.
    RollbackSucceeded,
    RollbackFailed,
}

impl OperationStatus {
    const ALL: [Self; 7] = [
        Self::Pending,
        Self::InProgress,
        Self::Succeeded,
        Self::Failed,
        Self::RollbackInProgress,
        Self::RollbackSucceeded,
        Self::RollbackFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::InProgress => "IN_PROGRESS",
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
            Self::RollbackInProgress => "ROLLBACK_IN_PROGRESS",
            Self::RollbackSucceeded => "ROLLBACK_SUCCEEDED",
            Self::RollbackFailed => "ROLLBACK_FAILED",
        }
    }

    /// Whether nothing more will happen to the operation.
    pub fn ended(self) -> bool {
        !matches!(self, Self::Pending | Self::InProgress | Self::RollbackInProgress)
    }

    /// App Runner's `OperationStatus`, which this vocabulary is.
    pub fn from_app_runner(status: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == status)
    }

    /// An ECS service deployment's status. A deployment ECS stopped (its circuit breaker, with
    /// nothing to roll back to) failed; `ROLLBACK_*` is a failed deployment ECS rolls back.
    pub fn from_ecs_deployment(status: &str) -> Option<Self> {
        Some(match status {
            "PENDING" => Self::Pending,
            // STOP_REQUESTED ends STOPPED.
            "IN_PROGRESS" | "STOP_REQUESTED" => Self::InProgress,
            "SUCCESSFUL" => Self::Succeeded,
            "STOPPED" => Self::Failed,
            "ROLLBACK_REQUESTED" | "ROLLBACK_IN_PROGRESS" => Self::RollbackInProgress,
            "ROLLBACK_SUCCESSFUL" => Self::RollbackSucceeded,
            "ROLLBACK_FAILED" => Self::RollbackFailed,
            _ => return None,
        })
    }
}

/// A status vocabulary prints, and compares with the state machines' strings, as its words.
macro_rules! spelled_as_words {
    ($($status:ty),*) => {$(
        impl fmt::Display for $status {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<&str> for $status {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    )*};
}

spelled_as_words!(ServiceStatus, OperationStatus);

/// An App Runner operation or an ECS service deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceOperation {
    pub id: String,
    /// App Runner `CREATE_SERVICE`, `UPDATE_SERVICE`, `START_DEPLOYMENT`, `DELETE_SERVICE`, …;
    /// ECS `SERVICE_DEPLOYMENT`, or `DELETE_SERVICE` for the draining of a deleted service.
    pub kind: String,
    pub status: OperationStatus,
    /// The host's own word, e.g. ECS's `ROLLBACK_SUCCESSFUL`.
    pub host_status: String,
}

/// The operation id of an ECS Express deletion: ECS has no delete operation, the service drains
/// (`DRAINING`) until it is `INACTIVE`.
pub const ECS_DELETE_OPERATION: &str = "DELETE_SERVICE";

/// The hosting backend, App Runner or ECS Express Mode: each call goes to the backend the ARN
/// (or the spec, or the location) names.
///
/// Operation ids are opaque. ECS has no operation objects: a create's id is the new service's
/// ARN (its first deployment), an update's is the service revision it deploys, a delete's is
/// [`ECS_DELETE_OPERATION`]. ECS lists a deployment shortly after the call that starts it;
/// until then the operation is `PENDING`.
pub trait ServiceHost {
    /// The live service of that name (App Runner: not `DELETED`; ECS: in the cluster).
    fn find_service(&self, name: &str, location: &ServiceLocation) -> impl Future<Output = CloudResult<Option<ServiceInfo>>> + Send;
    /// `Ok(None)` when the ARN names no service.
    fn describe_service(&self, arn: &str) -> impl Future<Output = CloudResult<Option<ServiceInfo>>> + Send;
    /// Starts creation; answers at once with the service (and its URL) and the operation id.
    fn create_service(&self, spec: &ServiceSpec, tags: &Tags) -> impl Future<Output = CloudResult<(ServiceInfo, String)>> + Send;
    /// Replaces the Parameter Store references; starts a deployment; returns its operation id.
    fn update_service_secrets(&self, arn: &str, secrets: &BTreeMap<String, String>) -> impl Future<Output = CloudResult<String>> + Send;
    /// `Ok(None)` when the service or the operation does not exist.
    fn describe_operation(&self, arn: &str, operation_id: &str) -> impl Future<Output = CloudResult<Option<ServiceOperation>>> + Send;
    /// The service's newest operation (App Runner: ListOperations' first entry, the last
    /// started; ECS: the newest service deployment); `Ok(None)` when there is none or no service.
    fn latest_operation(&self, arn: &str) -> impl Future<Output = CloudResult<Option<ServiceOperation>>> + Send;
    fn delete_service(&self, arn: &str) -> impl Future<Output = CloudResult<String>> + Send;
    /// StartDeployment (App Runner only): deploys the branch's latest commit (code) or pulls the
    /// configured image again; returns the operation id. A failed deployment is rolled back by
    /// the host itself.
    fn start_deployment(&self, arn: &str) -> impl Future<Output = CloudResult<String>> + Send;
    /// Deploys another image (image-based services only), keeping everything else; returns the
    /// operation id. Neither host has "redeploy a previous deployment": this is how a service
    /// goes back to an earlier release.
    fn update_service_image(&self, arn: &str, image_identifier: &str) -> impl Future<Output = CloudResult<String>> + Send;
    /// Resolves an App Runner VPC connector name (or ARN) to its ARN.
    fn find_vpc_connector(&self, name_or_arn: &str) -> impl Future<Output = CloudResult<Option<String>>> + Send;
}

// ---------------------------------------------------------------- container images (ECR)

/// An image as its registry describes it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerImage {
    /// `<registry>/<repository>`.
    pub repository_uri: String,
    /// `sha256:<64 hex digits>`.
    pub digest: String,
    /// Every tag on the image now (a tag can move to another image later).
    pub tags: Vec<String>,
    pub pushed_at: Option<DateTime<Utc>>,
}

impl ContainerImage {
    /// `<repository uri>@<digest>`: the form every step after the plan uses.
    pub fn pinned(&self) -> String {
        format!("{}@{}", self.repository_uri, self.digest)
    }
}

/// Reads a container registry (ECR `DescribeImages`): never pushes, tags or deletes.
pub trait ContainerImages {
    /// The image a tag or digest names now. `Ok(None)` when the repository has no such image;
    /// a repository that does not exist is a `NotFound` error (`RepositoryNotFoundException`).
    fn resolve_image(&self, image: &ImageName) -> impl Future<Output = CloudResult<Option<ContainerImage>>> + Send;
}

// ---------------------------------------------------------------- S3 (the staging frontend)

/// One object as ListObjectsV2 lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredObject {
    pub key: String,
    pub etag: String,
    pub size: u64,
}

/// One page of ListObjectsV2 (at most 1000 keys); `next_token` continues it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectPage {
    pub objects: Vec<StoredObject>,
    pub next_token: Option<String>,
}

/// One version (or delete marker) as ListObjectVersions lists it; `version_id` is `None` for
/// the `null` version of a bucket that was never versioned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectVersion {
    pub key: String,
    pub version_id: Option<String>,
}

/// The first page of ListObjectVersions (at most 1000 versions and delete markers).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VersionPage {
    pub versions: Vec<ObjectVersion>,
    /// More are listed after these (`IsTruncated`).
    pub truncated: bool,
}

/// Who owns a bucket name (HeadBucket): names are global, so another account may hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BucketOwner {
    Missing,
    ThisAccount,
    /// HeadBucket answers 403: the name is another account's.
    OtherAccount,
}

/// The S3 calls the staging frontend needs: production's bucket is only listed and read.
pub trait ObjectStore {
    fn bucket_owner(&self, bucket: &str) -> impl Future<Output = CloudResult<BucketOwner>> + Send;
    /// CreateBucket with `tags` (CreateBucketConfiguration.Tags, so it never exists untagged),
    /// then its public access blocked (all four settings) and SSE-S3 default encryption.
    /// A name another account holds is `AlreadyExists` (`BucketAlreadyExists`); one this
    /// account holds is `AlreadyExists` too (`BucketAlreadyOwnedByYou`), except in us-east-1,
    /// which answers success and changes nothing (the caller checks the tags either way).
    fn create_bucket(&self, bucket: &str, tags: &Tags) -> impl Future<Output = CloudResult<()>> + Send;
    /// GetBucketTagging; a bucket without tags answers an empty set.
    fn bucket_tags(&self, bucket: &str) -> impl Future<Output = CloudResult<Tags>> + Send;
    /// ListObjectsV2 under `prefix`, one page.
    fn list_objects(&self, bucket: &str, prefix: &str, token: Option<&str>) -> impl Future<Output = CloudResult<ObjectPage>> + Send;
    /// CopyObject within the account (objects up to 5 GB), keeping content type and metadata.
    fn copy_object(&self, from_bucket: &str, from_key: &str, bucket: &str, key: &str) -> impl Future<Output = CloudResult<()>> + Send;
    /// GetObject's body; `Ok(None)` when there is no such key.
    fn get_object(&self, bucket: &str, key: &str) -> impl Future<Output = CloudResult<Option<Vec<u8>>>> + Send;
    fn put_object(&self, bucket: &str, key: &str, body: Vec<u8>, content_type: &str) -> impl Future<Output = CloudResult<()>> + Send;
    /// ListObjectVersions' first page: versions and delete markers. Emptying a bucket lists
    /// from the start again after each deletion, so no marker is needed (nor can go stale).
    fn list_object_versions(&self, bucket: &str) -> impl Future<Output = CloudResult<VersionPage>> + Send;
    /// DeleteObjects by version (at most 1000): permanent, no delete marker is left.
    fn delete_object_versions(&self, bucket: &str, versions: &[ObjectVersion]) -> impl Future<Output = CloudResult<()>> + Send;
    /// DeleteBucket: `InvalidState` (`BucketNotEmpty`) while any version is left.
    fn delete_bucket(&self, bucket: &str) -> impl Future<Output = CloudResult<()>> + Send;
    /// PutBucketPolicy, replacing the bucket's policy with `policy` (a JSON document).
    fn put_bucket_policy(&self, bucket: &str, policy: &str) -> impl Future<Output = CloudResult<()>> + Send;
}

// ---------------------------------------------------------------- CloudFront (serving the staging frontend)

/// A distribution as GetDistribution describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Distribution {
    pub id: String,
    pub arn: String,
    /// `dxxxxxxxxxxxxx.cloudfront.net`: known as soon as CreateDistribution answers.
    pub domain_name: String,
    /// `InProgress` while a change propagates to the edge, then `Deployed`.
    pub status: String,
    pub enabled: bool,
    /// The distribution's comment, which names it (distributions have no name of their own).
    pub comment: String,
}

/// What the staging frontend's distribution serves: one private S3 origin read through an
/// origin access control, HTTPS only, `index.html` at the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistributionSpec {
    /// Names the distribution (its comment and CallerReference) and its origin access control.
    pub name: String,
    pub bucket: String,
    pub region: String,
}

pub trait Distributions {
    /// The distribution whose comment is `name` (ListDistributions, every page).
    fn find_distribution(&self, name: &str) -> impl Future<Output = CloudResult<Option<Distribution>>> + Send;
    fn describe_distribution(&self, id: &str) -> impl Future<Output = CloudResult<Option<Distribution>>> + Send;
    /// An origin access control named `spec.name` (adopted when one exists), then
    /// CreateDistributionWithTags with `spec.name` as CallerReference and comment: a second
    /// creation with it answers `AlreadyExists` (`DistributionAlreadyExists`).
    fn create_distribution(&self, spec: &DistributionSpec, tags: &Tags) -> impl Future<Output = CloudResult<Distribution>> + Send;
    fn distribution_tags(&self, arn: &str) -> impl Future<Output = CloudResult<Tags>> + Send;
    /// UpdateDistribution with `Enabled=false` (the configuration read with its ETag first);
    /// a distribution is deleted only once disabled and deployed.
    fn disable_distribution(&self, id: &str) -> impl Future<Output = CloudResult<Distribution>> + Send;
    /// DeleteDistribution, then its origin access control. `InvalidState`
    /// (`DistributionNotDisabled`) while it is enabled or its change still propagates.
    fn delete_distribution(&self, id: &str) -> impl Future<Output = CloudResult<()>> + Send;
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
    /// Replaces an existing schedule's time, target and input at once (UpdateSchedule): it is
    /// never absent in between, as it would be between a delete and a create.
    fn update_schedule(&self, schedule: &OneTimeSchedule) -> impl Future<Output = CloudResult<()>> + Send;
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

/// Starts executions and follows them: what the API and `rehearsal remote` do with the deployed
/// state machines.
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
    /// The ARNs of the machine's executions that are running (ListExecutions, every page).
    fn running_executions(&self, state_machine_arn: &str) -> impl Future<Output = CloudResult<Vec<String>>> + Send;
    /// RedriveExecution: a failed, timed-out or aborted execution runs again from where it
    /// stopped. `client_token` makes a retried request answer the same redrive (Step Functions
    /// keeps the last ten tokens for 15 minutes). Answers the redrive date; `InvalidState` when
    /// Step Functions refuses (`ExecutionNotRedrivable`), `NotFound` for no such execution.
    fn redrive_execution(&self, execution_arn: &str, client_token: &str)
        -> impl Future<Output = CloudResult<Option<DateTime<Utc>>>> + Send;
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
    /// Points an endpoint at `url`; its signing secret stays the same.
    fn update_webhook_url(&self, api_key: &Secret, id: &str, url: &str) -> impl Future<Output = CloudResult<WebhookEndpoint>> + Send;
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

// ---------------------------------------------------------------- masking the staging copy

/// Masks person data in the staging database and verifies it against production's.
pub trait DatabaseMasker {
    /// Checks the rules against the database's schema before any change (a refusal names the
    /// rule), then masks table by table, each in one transaction, in batches; a column a
    /// previous run masked with the same rule is left alone. `key` (hex) keys the hashes.
    fn mask(
        &self,
        target: &DbTarget,
        plan: &crate::masking::MaskingPlan,
        key: &Secret,
    ) -> impl Future<Output = Result<Vec<crate::masking::TableMasked>, crate::masking::MaskingError>> + Send;
    /// Reads both databases only: for each masked column, which sampled production values
    /// staging still holds; row counts, foreign keys and the kept rows of both.
    fn verify(
        &self,
        staging: &DbTarget,
        production: &DbTarget,
        plan: &crate::masking::MaskingPlan,
    ) -> impl Future<Output = Result<crate::masking::Findings, crate::masking::MaskingError>> + Send;
}

// ---------------------------------------------------------------- warming the staging copy

/// How a table was read into the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WarmMethod {
    /// `pg_prewarm(table)`: reads every block of the table's main fork.
    PgPrewarm,
    /// `SELECT count(*)`: a sequential scan, where the extension cannot be created.
    SequentialRead,
}

/// One table the warm-up read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableWarmed {
    pub table: String,
    /// The table's size on disk (`pg_table_size`).
    pub bytes: u64,
    pub method: WarmMethod,
    pub millis: u64,
    /// `false`: the time limit cancelled the read part way.
    pub complete: bool,
}

/// What a warm-up did, and the sample query's latency on the largest table before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Warmed {
    pub tables: Vec<TableWarmed>,
    /// The largest table, where the sample query ran (`None`: the database has no table).
    pub sample_table: Option<String>,
    pub first_query_ms_before: u64,
    pub first_query_ms_after: u64,
    /// The time limit ended the warm-up before every table was read.
    pub time_limit_reached: bool,
}

/// Reads the largest tables of the staging copy into the cache, within a time limit.
pub trait DatabaseWarmer {
    /// Reads the `tables` largest tables of the `public` schema, largest first, with
    /// `pg_prewarm` where the extension can be created, otherwise sequentially; stops at `limit`.
    fn prewarm(
        &self,
        target: &DbTarget,
        tables: u32,
        limit: std::time::Duration,
    ) -> impl Future<Output = Result<Warmed, ProbeError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arns_name_their_backend() {
        assert_eq!(ServiceBackend::of_arn("arn:aws:apprunner:us-east-1:123456789012:service/web/abc"), Some(ServiceBackend::AppRunner));
        assert_eq!(ServiceBackend::of_arn("arn:aws-cn:ecs:cn-north-1:123456789012:service/c/web"), Some(ServiceBackend::EcsExpress));
        assert_eq!(ServiceBackend::of_arn("arn:aws:rds:us-east-1:123456789012:db:web"), None);
        assert_eq!(ServiceBackend::of_arn("ecs:service"), None);
        assert_eq!(serde_json::to_value(ServiceBackend::EcsExpress).unwrap(), json!(ServiceBackend::EcsExpress.name()));
    }

    #[test]
    fn ecs_deployments_map_to_operation_statuses_and_a_rollback_is_a_failure() {
        for (ecs, status, ended) in [
            ("PENDING", OperationStatus::Pending, false),
            ("IN_PROGRESS", OperationStatus::InProgress, false),
            ("STOP_REQUESTED", OperationStatus::InProgress, false),
            ("SUCCESSFUL", OperationStatus::Succeeded, true),
            ("STOPPED", OperationStatus::Failed, true),
            ("ROLLBACK_REQUESTED", OperationStatus::RollbackInProgress, false),
            ("ROLLBACK_IN_PROGRESS", OperationStatus::RollbackInProgress, false),
            ("ROLLBACK_SUCCESSFUL", OperationStatus::RollbackSucceeded, true),
            ("ROLLBACK_FAILED", OperationStatus::RollbackFailed, true),
        ] {
            assert_eq!(OperationStatus::from_ecs_deployment(ecs), Some(status), "{ecs}");
            assert_eq!(status.ended(), ended, "{ecs}");
            assert_eq!(OperationStatus::from_app_runner(status.as_str()), Some(status));
        }
        assert_eq!(OperationStatus::from_ecs_deployment("SUCCEEDED"), None, "App Runner's word is not ECS's");
        assert_eq!(serde_json::to_value(OperationStatus::RollbackSucceeded).unwrap(), json!("ROLLBACK_SUCCEEDED"));
        assert!(OperationStatus::RollbackSucceeded == "ROLLBACK_SUCCEEDED");
    }

    #[test]
    fn an_ecs_service_status_reads_its_newest_deployment() {
        use OperationStatus::*;
        use ServiceStatus::*;
        for (ecs, newest, ever_succeeded, status) in [
            ("ACTIVE", None, false, OperationInProgress),
            ("ACTIVE", Some(InProgress), true, OperationInProgress),
            ("ACTIVE", Some(RollbackInProgress), true, OperationInProgress),
            ("ACTIVE", Some(Succeeded), true, Running),
            ("ACTIVE", Some(RollbackSucceeded), true, Running),
            ("ACTIVE", Some(Failed), false, CreateFailed),
            ("ACTIVE", Some(Failed), true, Running),
            ("DRAINING", Some(Succeeded), true, OperationInProgress),
            ("INACTIVE", Some(Succeeded), true, Deleted),
        ] {
            assert_eq!(ServiceStatus::from_ecs(ecs, newest, ever_succeeded), Some(status), "{ecs} {newest:?}");
        }
        assert_eq!(ServiceStatus::from_ecs("RUNNING", None, false), None);
        assert_eq!(ServiceStatus::from_app_runner("DELETE_FAILED"), Some(DeleteFailed));
        assert_eq!(Running.to_string(), "RUNNING");
    }

    #[test]
    fn a_spec_serializes_its_release_and_backend_by_name() {
        let spec = ServiceSpec {
            name: "web".into(),
            cpu: "1024".into(),
            memory: "2048".into(),
            port: 8000,
            source: ReleaseSource::Image(ImageRelease { image: "registry/web@sha256:abc".into(), access_role_arn: None }),
            health_check_path: "/health".into(),
            environment: BTreeMap::new(),
            secrets: BTreeMap::new(),
            host: HostSettings::EcsExpress(EcsExpressSettings {
                cluster: "c".into(),
                subnets: vec!["subnet-1".into()],
                security_groups: vec!["sg-1".into()],
                execution_role_arn: "arn:aws:iam::1:role/x".into(),
                task_role_arn: None,
                infrastructure_role_arn: "arn:aws:iam::1:role/i".into(),
            }),
        };
        let value = serde_json::to_value(&spec).unwrap();
        assert_eq!(value["source"], json!({"image": {"image": "registry/web@sha256:abc", "access_role_arn": null}}));
        assert_eq!(value["host"]["ecs-express"]["cluster"], json!("c"));
        assert_eq!(serde_json::from_value::<ServiceSpec>(value).unwrap(), spec);
        assert_eq!(spec.host.location(), ServiceLocation::EcsExpress { cluster: "c".into() });
        assert_eq!(spec.host.backend(), ServiceBackend::EcsExpress);
    }
}
