//! App Runner: services, their operations and deployments. A deployment fetches its Parameter
//! Store references when it starts; its container runs Django's migrations when it ends.

use crate::account::Api;
use crate::seed::{ACCOUNT_ID, APP_RUNNER_DOMAIN, PRODUCTION_SERVICE, REGION, VPC_CONNECTOR_ARN};
use crate::ssm::referenced_parameter;
use crate::world::{ends, Ctx, Origin, Outcome, World};
use chrono::{DateTime, Utc};
use rehearsal_core::cloud::{
    AppRunnerSettings, CloudResult, CodeBuild, OperationStatus, ReleaseSource, ServiceBackend, ServiceInfo, ServiceOperation,
    ServiceSource, ServiceSpec, ServiceStatus,
};
use rehearsal_core::naming::service_name_problem;
use rehearsal_core::tags::Tags;
use rehearsal_core::{CloudError, CloudErrorKind};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpKind {
    Create,
    Update,
    Deploy,
    Delete,
}

impl OpKind {
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Create => "CREATE_SERVICE",
            OpKind::Update => "UPDATE_SERVICE",
            OpKind::Deploy => "START_DEPLOYMENT",
            OpKind::Delete => "DELETE_SERVICE",
        }
    }
}

/// What a deployment runs: plain variables, Parameter Store references, and the references'
/// values as fetched when the deployment started (or why they could not be).
#[derive(Debug, Clone)]
pub(crate) struct Deployment {
    pub environment: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, String>,
    pub resolved: Result<BTreeMap<String, String>, String>,
    /// The image deployed, for an image-based service.
    pub image: Option<String>,
    /// Whether the code is the multi-tenancy release, whose start command migrates the database
    /// (production's running deployment is the release before it).
    pub runs_release: bool,
}

impl Deployment {
    /// The environment the running container sees.
    pub fn environment(&self) -> Option<BTreeMap<String, String>> {
        let mut env = self.environment.clone();
        env.extend(self.resolved.clone().ok()?);
        Some(env)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Operation {
    pub id: String,
    pub kind: OpKind,
    /// `None`: never ends (stalled).
    pub ends_at: Option<DateTime<Utc>>,
    /// Decided when it starts (faults), or for a deployment when it ends ([`World::settle`]).
    pub succeeded: Option<bool>,
    pub fails_by_fault: bool,
    pub deployment: Option<Deployment>,
}

impl Operation {
    pub fn ended(&self, t: DateTime<Utc>) -> bool {
        self.ends_at.is_some_and(|e| t >= e)
    }

    pub fn status(&self, t: DateTime<Utc>) -> &'static str {
        match (self.ended(t), self.succeeded) {
            (true, Some(true)) => "SUCCEEDED",
            // A failed deployment of a running service is rolled back by App Runner itself.
            (true, Some(false)) if matches!(self.kind, OpKind::Update | OpKind::Deploy) => "ROLLBACK_SUCCEEDED",
            (true, Some(false)) => "FAILED",
            _ => "IN_PROGRESS",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Service {
    pub arn: String,
    pub name: String,
    pub url: String,
    /// The code repository; `None` for a service created from an image.
    pub source: Option<ServiceSource>,
    /// The build configured through the API; `None` when the service reads apprunner.yaml.
    pub build: Option<CodeBuild>,
    pub instance_role_arn: String,
    pub vpc_connector_arn: String,
    pub tags: Tags,
    pub origin: Origin,
    pub operations: Vec<Operation>,
}

impl Service {
    pub fn status(&self, t: DateTime<Utc>) -> &'static str {
        let Some(last) = self.operations.last() else { return "RUNNING" };
        if last.kind == OpKind::Delete {
            return match (last.ended(t), last.succeeded) {
                (false, _) => "OPERATION_IN_PROGRESS",
                (true, Some(true)) => "DELETED",
                (true, _) => "DELETE_FAILED",
            };
        }
        if self.operations.iter().any(|op| !op.ended(t)) {
            return "OPERATION_IN_PROGRESS";
        }
        let created = self.operations.iter().find(|op| op.kind == OpKind::Create);
        if created.is_some_and(|op| op.succeeded == Some(false)) {
            return "CREATE_FAILED";
        }
        "RUNNING"
    }

    pub fn deleted(&self, t: DateTime<Utc>) -> bool {
        self.status(t) == "DELETED"
    }

    /// The deployment serving traffic: the last one that succeeded, unless a delete began.
    pub fn running(&self, t: DateTime<Utc>) -> Option<&Deployment> {
        if self.operations.iter().any(|op| op.kind == OpKind::Delete && op.succeeded != Some(false)) {
            return None;
        }
        self.operations.iter().rev().find(|op| op.ended(t) && op.succeeded == Some(true)).and_then(|op| op.deployment.as_ref())
    }

    /// The configuration DescribeService shows: the newest deployment not rolled back.
    pub fn configured(&self, t: DateTime<Utc>) -> Option<&Deployment> {
        self.operations
            .iter()
            .rev()
            .filter(|op| op.deployment.is_some())
            .find(|op| !op.ended(t) || op.succeeded == Some(true) || op.kind == OpKind::Create)
            .and_then(|op| op.deployment.as_ref())
    }

    pub fn in_progress(&self, t: DateTime<Utc>) -> Option<&Operation> {
        self.operations.iter().find(|op| !op.ended(t))
    }
}

const CPU: [&str; 10] = ["0.25 vCPU", "0.5 vCPU", "1 vCPU", "2 vCPU", "4 vCPU", "256", "512", "1024", "2048", "4096"];
const MEMORY: [&str; 9] = ["0.5 GB", "1 GB", "2 GB", "3 GB", "4 GB", "6 GB", "8 GB", "10 GB", "12 GB"];

pub(crate) fn api(action: &'static str) -> Api {
    Api { service: "apprunner", action }
}

fn invalid_request(message: String) -> CloudError {
    CloudError::new(CloudErrorKind::Fatal, "InvalidRequestException", message)
}

fn not_found(arn: &str) -> CloudError {
    CloudError::new(CloudErrorKind::NotFound, "ResourceNotFoundException", format!("Resource not found: {arn}"))
}

/// The values of a deployment's Parameter Store references, fetched with the instance role.
/// The error names the variable and the reference, never a value.
/// The references fetched as the instance `role` fetches them at deployment: a parameter outside
/// the paths its policy allows is denied (an unknown role reads nothing).
pub(crate) fn resolve_secrets(world: &World, role: &str, secrets: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>, String> {
    let readable = world.roles.get(role).map(Vec::as_slice).unwrap_or_default();
    secrets
        .iter()
        .map(|(variable, reference)| match referenced_parameter(world, reference) {
            Some((name, _)) if !readable.iter().any(|path| name.starts_with(path.as_str())) => Err(format!(
                "failed to fetch secret {variable}: {role} is not authorized to perform ssm:GetParameters on resource {reference}"
            )),
            Some((_, param)) => Ok((variable.clone(), param.value.clone())),
            None => Err(format!("failed to fetch secret {variable}: parameter {reference} does not exist")),
        })
        .collect()
}

fn check_references(environment: &BTreeMap<String, String>, secrets: &BTreeMap<String, String>) -> CloudResult<()> {
    let ssm_arn = format!("arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter/");
    for (variable, reference) in secrets {
        if reference.starts_with("arn:") && !reference.starts_with(&ssm_arn) {
            return Err(invalid_request(format!(
                "Secret {variable} must reference an SSM parameter of account {ACCOUNT_ID} in {REGION} (the simulated account has no Secrets Manager), got {reference}"
            )));
        }
        if environment.contains_key(variable) {
            return Err(invalid_request(format!("{variable} is both a plain environment variable and a secret")));
        }
    }
    Ok(())
}

/// AWS's tag rules (App Runner and ECS alike), refused with the service's own error.
pub(crate) fn check_tags(tags: &Tags, error: fn(String) -> CloudError) -> CloudResult<()> {
    if tags.len() > 50 || tags.keys().any(|k| k.to_ascii_lowercase().starts_with("aws:")) {
        return Err(error("Tags: at most 50, and no key may start with aws:".into()));
    }
    Ok(())
}

pub(crate) fn describe(service: &Service, now: DateTime<Utc>) -> ServiceInfo {
    let image = service.configured(now).and_then(|d| d.image.clone());
    let host_status = service.status(now);
    ServiceInfo {
        arn: service.arn.clone(),
        name: service.name.clone(),
        backend: ServiceBackend::AppRunner,
        url: service.url.clone(),
        status: ServiceStatus::from_app_runner(host_status).expect("the simulated App Runner answers App Runner's statuses"),
        host_status: host_status.to_string(),
        // A service has either a code or an image repository.
        source: if image.is_none() { service.source.clone() } else { None },
        build: if image.is_none() { service.build.clone() } else { None },
        image_identifier: image,
        instance_role_arn: Some(service.instance_role_arn.clone()),
        vpc_connector_arn: Some(service.vpc_connector_arn.clone()),
        ecs: None,
        secrets: service.configured(now).map(|d| d.secrets.clone()).unwrap_or_default(),
        tags: service.tags.clone(),
    }
}

pub(crate) fn operation(op: &Operation, now: DateTime<Utc>) -> ServiceOperation {
    let status = op.status(now);
    ServiceOperation {
        id: op.id.clone(),
        kind: op.kind.name().to_string(),
        status: OperationStatus::from_app_runner(status).expect("the simulated App Runner answers App Runner's statuses"),
        host_status: status.to_string(),
    }
}

impl World {
    /// The service with this name that is not DELETED.
    pub fn service_named(&self, name: &str, t: DateTime<Utc>) -> Option<usize> {
        self.services.iter().position(|s| s.name == name && !s.deleted(t))
    }

    pub fn service_by_arn(&self, arn: &str) -> Option<usize> {
        self.services.iter().position(|s| s.arn == arn)
    }

    fn is_production_service(&self, arn: &str) -> bool {
        self.service_by_arn(arn).is_some_and(|s| self.services[s].name == PRODUCTION_SERVICE)
    }

    fn new_operation(
        &mut self,
        kind: OpKind,
        ends_at: Option<DateTime<Utc>>,
        outcome: Outcome,
        deployment: Option<Deployment>,
    ) -> Operation {
        let deploys = deployment.is_some();
        Operation {
            id: self.ids.hex(32),
            kind,
            ends_at,
            // A deployment's success is decided when it ends (migrations); a deletion's now.
            succeeded: (!deploys).then_some(outcome != Outcome::Fail),
            fails_by_fault: outcome == Outcome::Fail,
            deployment,
        }
    }

    fn plant_foreign_service(&mut self, ctx: &Ctx, name: &str) {
        let deployment = Deployment {
            environment: BTreeMap::from([("APP".to_string(), "prototype".to_string())]),
            secrets: BTreeMap::new(),
            resolved: Ok(BTreeMap::new()),
            image: None,
            runs_release: false,
        };
        let mut op = self.new_operation(OpKind::Create, Some(ctx.now - chrono::Duration::days(1)), Outcome::Succeed, Some(deployment));
        op.succeeded = Some(true);
        let service = Service {
            arn: format!("arn:aws:apprunner:{REGION}:{ACCOUNT_ID}:service/{name}/{}", self.ids.hex(32)),
            name: name.to_string(),
            url: format!("{}.{APP_RUNNER_DOMAIN}", self.ids.alphanumeric(10)),
            source: Some(ServiceSource {
                repository_url: "https://github.com/platform-team/prototype".into(),
                branch: "experiment".into(),
                connection_arn: crate::seed::CONNECTION_ARN.into(),
            }),
            build: None,
            instance_role_arn: format!("arn:aws:iam::{ACCOUNT_ID}:role/prototype-apprunner"),
            vpc_connector_arn: VPC_CONNECTOR_ARN.to_string(),
            tags: Tags::from([("Owner".to_string(), "platform-team".to_string())]),
            origin: Origin::Foreign,
            operations: vec![op],
        };
        self.services.push(service);
        self.foreign(ctx, "service", name);
    }

    pub(crate) fn create_service(
        &mut self,
        ctx: &Ctx,
        spec: &ServiceSpec,
        settings: &AppRunnerSettings,
        tags: &Tags,
    ) -> CloudResult<(ServiceInfo, String)> {
        if let Some(problem) = service_name_problem(&spec.name) {
            return Err(invalid_request(format!("ServiceName {:?} {problem}", spec.name)));
        }
        if self.service_named(&spec.name, ctx.now).is_none() && self.plant_conflict(ctx, "CreateService") {
            self.plant_foreign_service(ctx, &spec.name);
        }
        if self.service_named(&spec.name, ctx.now).is_some() {
            return Err(CloudError::new(
                CloudErrorKind::AlreadyExists,
                "InvalidRequestException",
                format!("Service with the provided name already exists: {}", spec.name),
            ));
        }
        // AWS's own pairs (the same table the run document is checked against before any call).
        let units = (rehearsal_core::run::ecs_cpu_units(&spec.cpu), rehearsal_core::run::ecs_memory_mib(&spec.memory));
        if !CPU.contains(&spec.cpu.as_str())
            || !MEMORY.contains(&spec.memory.as_str())
            || !matches!(units, (Some(cpu), Some(memory)) if rehearsal_core::run::app_runner_allows(cpu, memory))
        {
            return Err(invalid_request(format!("Unsupported CPU/memory combination: {} / {}", spec.cpu, spec.memory)));
        }
        if spec.port == 0 {
            return Err(invalid_request("Port must be 1 to 65535".into()));
        }
        if !self.vpc_connectors.values().any(|arn| *arn == settings.vpc_connector_arn) {
            return Err(invalid_request(format!("VPC connector {} does not exist", settings.vpc_connector_arn)));
        }
        let role_of_account = |role: &str| role.starts_with(&format!("arn:aws:iam::{ACCOUNT_ID}:role/"));
        let (source, build, image) = match &spec.source {
            ReleaseSource::Code { repository, build, .. } => {
                if !self.connections.contains(&repository.connection_arn) {
                    return Err(invalid_request(format!("Connection {} does not exist", repository.connection_arn)));
                }
                (Some(repository.clone()), Some(build.clone()), None)
            }
            ReleaseSource::Image(release) => match &release.access_role_arn {
                Some(role) if role_of_account(role) => (None, None, Some(release.image.clone())),
                Some(role) => return Err(invalid_request(format!("AccessRoleArn {role} is not a role of this account"))),
                None => {
                    return Err(invalid_request("AuthenticationConfiguration.AccessRoleArn is required for a private ECR image".into()))
                }
            },
        };
        if !role_of_account(&settings.instance_role_arn) {
            return Err(invalid_request(format!("InstanceRoleArn {} is not a role of this account", settings.instance_role_arn)));
        }
        check_references(&spec.environment, &spec.secrets)?;
        check_tags(tags, invalid_request)?;

        let outcome = self.outcome(ctx, "CreateService", true);
        // What the deployment fetches when it starts: the image (if any), then the references.
        let resolved = match image.as_deref().map(|i| self.pull_image(i)) {
            Some(Err(why)) => Err(why),
            _ => resolve_secrets(self, &settings.instance_role_arn, &spec.secrets),
        };
        let deployment = Deployment {
            environment: spec.environment.clone(),
            secrets: spec.secrets.clone(),
            resolved,
            // The branch's head, or the image: the release being rehearsed.
            runs_release: image.as_deref().is_none_or(|i| self.image_runs_release(i)),
            image,
        };
        let op = self.new_operation(OpKind::Create, ends(ctx.now, self.config.service_create, outcome), outcome, Some(deployment));
        let operation_id = op.id.clone();
        let service = Service {
            arn: format!("arn:aws:apprunner:{REGION}:{ACCOUNT_ID}:service/{}/{}", spec.name, self.ids.hex(32)),
            name: spec.name.clone(),
            url: format!("{}.{APP_RUNNER_DOMAIN}", self.ids.alphanumeric(10)),
            source,
            build,
            instance_role_arn: settings.instance_role_arn.clone(),
            vpc_connector_arn: settings.vpc_connector_arn.clone(),
            tags: tags.clone(),
            origin: Origin::Created,
            operations: vec![op],
        };
        // ServiceUrl is optional in CreateService's answer: callers read it from DescribeService.
        let info = ServiceInfo { url: String::new(), ..describe(&service, ctx.now) };
        self.services.push(service);
        self.created(ctx, "service", &spec.name);
        Ok((info, operation_id))
    }

    /// Starts a deployment of a RUNNING service: its configured deployment as `change` makes it.
    /// Parameter Store references are resolved now, when the deployment starts.
    fn redeploy(
        &mut self,
        ctx: &Ctx,
        arn: &str,
        operation: &str,
        kind: OpKind,
        change: impl FnOnce(Deployment) -> CloudResult<Deployment>,
    ) -> CloudResult<String> {
        if self.is_production_service(arn) {
            self.production_write(ctx, format!("service {PRODUCTION_SERVICE}"), operation);
        }
        let index = self.service_by_arn(arn).filter(|s| !self.services[*s].deleted(ctx.now)).ok_or_else(|| not_found(arn))?;
        let service = &self.services[index];
        let status = service.status(ctx.now);
        if status != "RUNNING" {
            return Err(CloudError::new(
                CloudErrorKind::InvalidState,
                "InvalidStateException",
                format!("Service cannot be updated in the current state: {status}."),
            ));
        }
        let configured = service.configured(ctx.now).cloned().ok_or_else(|| invalid_request(format!("{arn} has no deployment")))?;
        let mut deployment = change(configured)?;
        deployment.resolved = resolve_secrets(self, &service.instance_role_arn, &deployment.secrets);
        let outcome = self.outcome(ctx, operation, true);
        let op = self.new_operation(kind, ends(ctx.now, self.config.deployment, outcome), outcome, Some(deployment));
        let id = op.id.clone();
        self.services[index].operations.push(op);
        Ok(id)
    }

    pub(crate) fn update_service_secrets(&mut self, ctx: &Ctx, arn: &str, secrets: &BTreeMap<String, String>) -> CloudResult<String> {
        self.redeploy(ctx, arn, "UpdateService", OpKind::Update, |d| {
            check_references(&d.environment, secrets)?;
            Ok(Deployment { secrets: secrets.clone(), ..d })
        })
    }

    /// Code: the branch's head, which is the release. Image: the configured image pulled again
    /// (a tag may have moved).
    pub(crate) fn start_deployment(&mut self, ctx: &Ctx, arn: &str) -> CloudResult<String> {
        let configured = self.service_by_arn(arn).and_then(|s| self.services[s].configured(ctx.now)?.image.clone());
        let runs_release = configured.as_deref().is_none_or(|image| self.image_runs_release(image));
        self.redeploy(ctx, arn, "StartDeployment", OpKind::Deploy, |d| Ok(Deployment { runs_release, ..d }))
    }

    pub(crate) fn update_service_image(&mut self, ctx: &Ctx, arn: &str, image: &str) -> CloudResult<String> {
        let runs_release = self.image_runs_release(image);
        self.redeploy(ctx, arn, "UpdateService", OpKind::Update, |d| match d.image {
            None => Err(invalid_request(format!("{arn} is built from source code; it has no ImageRepository to update"))),
            Some(_) => Ok(Deployment { image: Some(image.to_string()), runs_release, ..d }),
        })
    }

    pub(crate) fn delete_service(&mut self, ctx: &Ctx, arn: &str) -> CloudResult<String> {
        if self.is_production_service(arn) {
            self.production_write(ctx, format!("service {PRODUCTION_SERVICE}"), "DeleteService");
        }
        let index = self.service_by_arn(arn).filter(|s| !self.services[*s].deleted(ctx.now)).ok_or_else(|| not_found(arn))?;
        if let Some(running) = self.services[index].in_progress(ctx.now) {
            if running.ends_at.is_some() {
                return Err(CloudError::new(
                    CloudErrorKind::InvalidState,
                    "InvalidStateException",
                    format!("Service cannot be deleted while operation {} ({}) is in progress.", running.id, running.kind.name()),
                ));
            }
        }
        // Only a stalled operation can still be in progress here: the delete cancels it.
        for op in self.services[index].operations.iter_mut().filter(|op| !op.ended(ctx.now)) {
            op.ends_at = Some(ctx.now);
            op.succeeded = Some(false);
        }
        let outcome = self.outcome(ctx, "DeleteService", true);
        let op = self.new_operation(OpKind::Delete, ends(ctx.now, self.config.service_delete, outcome), outcome, None);
        let id = op.id.clone();
        let name = self.services[index].name.clone();
        self.services[index].operations.push(op);
        self.deleted(ctx, "service", &name);
        Ok(id)
    }
}
