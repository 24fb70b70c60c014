//! ECS Express Mode: a service runs a container image behind a load balancer ECS provisions for
//! it (minutes, before the first tasks start). Every change is a new service revision rolled out
//! by a canary deployment: the new tasks start (fetching their `secrets` with the execution role
//! and running the start command's migrations), take 5% of the traffic for the canary bake time,
//! then all of it, and the old tasks stop after the bake time. New tasks that fail are rolled
//! back by ECS (`ROLLBACK_IN_PROGRESS` → `ROLLBACK_SUCCESSFUL`); a first deployment has nothing to
//! roll back to and is `STOPPED`. A deletion drains the service (`DRAINING`, ECS removing what
//! it provisioned) until it is `INACTIVE`.

use crate::account::{Api, SimAccount};
use crate::seed::{
    ACCOUNT_ID, APP_SECURITY_GROUP, DB_SECURITY_GROUP, ECR_REGISTRY, ECR_REPOSITORY, ECS_CLUSTER, ECS_INFRASTRUCTURE_ROLE_ARN, ECS_SUBNETS,
    PRODUCTION_EXECUTION_ROLE_ARN, PRODUCTION_EXPRESS_SERVICE_ARN, PRODUCTION_EXPRESS_URL, PRODUCTION_IMAGE_DIGEST,
    PRODUCTION_PARAMETER_PATH, PRODUCTION_SERVICE, PRODUCTION_TASK_ROLE_ARN, REGION, STAGING_EXECUTION_ROLE_ARN, STAGING_PARAMETER_PATH,
    STAGING_TASK_ROLE_ARN,
};
use crate::ssm::referenced_parameter;
use crate::world::{Ctx, Origin, Outcome, World};
use chrono::{DateTime, Utc};
use rehearsal_core::cloud::{
    CloudResult, EcsExpressSettings, OperationStatus, ReleaseSource, ServiceBackend, ServiceInfo, ServiceOperation, ServiceSpec,
    ServiceStatus, ECS_DELETE_OPERATION,
};
use rehearsal_core::tags::Tags;
use rehearsal_core::{CloudError, CloudErrorKind};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Every ECS deployment's operation kind.
const DEPLOYMENT: &str = "SERVICE_DEPLOYMENT";
/// Every 20th request reaches the canary's tasks (5% of the traffic).
const CANARY_SHARE: u64 = 20;
const ENDPOINT_DOMAIN: &str = "ecs.us-east-1.on.aws";

pub(crate) fn api(action: &'static str) -> Api {
    Api { service: "ecs", action }
}

fn invalid_parameter(message: String) -> CloudError {
    CloudError::new(CloudErrorKind::Fatal, "InvalidParameterException", message)
}

fn service_not_found() -> CloudError {
    CloudError::new(CloudErrorKind::NotFound, "ServiceNotFoundException", "Service not found.")
}

/// `t + d`, saturating at the end of time (what never happens).
fn after(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d).ok().and_then(|d| t.checked_add_signed(d)).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The service's name and the environment its tasks see, or the service's status when no
/// healthy tasks answer.
pub(crate) type Served = Result<(String, BTreeMap<String, String>), String>;

/// What a service revision runs.
#[derive(Debug, Clone)]
pub(crate) struct ExpressConfig {
    pub image: String,
    pub cpu: String,
    pub memory: String,
    pub port: u16,
    pub health_check_path: String,
    pub environment: BTreeMap<String, String>,
    /// Variable → Parameter Store reference, fetched with the execution role at task start.
    pub secrets: BTreeMap<String, String>,
    pub execution_role_arn: String,
    pub task_role_arn: Option<String>,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Revision {
    pub arn: String,
    pub config: ExpressConfig,
}

/// When a deployment's phases end.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeline {
    /// `PENDING` until then (a first deployment waits for the load balancer).
    pub starts: DateTime<Utc>,
    /// The new tasks are up (or failed): migrations ran, the outcome is known.
    pub tasks: DateTime<Utc>,
    /// All traffic goes to the new tasks.
    pub shifted: DateTime<Utc>,
    pub ends: DateTime<Utc>,
    /// A failed deployment's rollback is done.
    pub rolled_back: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(crate) struct Rollout {
    /// Index of the revision it deploys.
    pub target: usize,
    /// The revision serving when it started; `None` for the service's first deployment.
    pub source: Option<usize>,
    pub at: Timeline,
    /// The `never-ready` fault: its tasks never come up.
    pub stalled: bool,
    pub fails_by_fault: bool,
    /// Decided when the tasks start: the environment they see, or why they failed.
    pub outcome: Option<Result<BTreeMap<String, String>, String>>,
    /// Superseded by a newer deployment, or by the deletion, before it ended.
    pub stopped_at: Option<DateTime<Utc>>,
}

impl Rollout {
    /// ECS's `ServiceDeploymentStatus`.
    pub fn status(&self, t: DateTime<Utc>) -> &'static str {
        if self.stopped_at.is_some_and(|s| t >= s) {
            return "STOPPED";
        }
        if t < self.at.starts {
            return "PENDING";
        }
        if self.stalled || t < self.at.tasks {
            return "IN_PROGRESS";
        }
        match &self.outcome {
            None => "IN_PROGRESS",
            Some(Ok(_)) if t < self.at.ends => "IN_PROGRESS",
            Some(Ok(_)) => "SUCCESSFUL",
            Some(Err(_)) if self.source.is_none() => "STOPPED",
            Some(Err(_)) if t < self.at.rolled_back => "ROLLBACK_IN_PROGRESS",
            Some(Err(_)) => "ROLLBACK_SUCCESSFUL",
        }
    }

    fn operation_status(&self, t: DateTime<Utc>) -> OperationStatus {
        OperationStatus::from_ecs_deployment(self.status(t)).expect("the simulated ECS answers ECS's deployment statuses")
    }

    fn failed(&self, t: DateTime<Utc>) -> bool {
        matches!(self.status(t), "STOPPED" | "ROLLBACK_IN_PROGRESS" | "ROLLBACK_SUCCESSFUL" | "ROLLBACK_FAILED")
    }

    /// The environment of its tasks once they take all the traffic.
    fn serves(&self, t: DateTime<Utc>) -> Option<&BTreeMap<String, String>> {
        let shifted = t >= self.at.shifted && self.stopped_at.is_none_or(|s| s > self.at.shifted);
        self.outcome.as_ref()?.as_ref().ok().filter(|_| shifted && !self.stalled)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ExpressService {
    pub arn: String,
    pub name: String,
    pub cluster: String,
    pub infrastructure_role_arn: String,
    /// The public ingress path's host.
    pub endpoint: String,
    /// The Application Load Balancer ECS provisioned.
    pub load_balancer: String,
    /// When the load balancer is active; `None`: never (stalled).
    pub provisioned_at: Option<DateTime<Utc>>,
    pub revisions: Vec<Revision>,
    pub rollouts: Vec<Rollout>,
    /// Set by a delete: when it is `INACTIVE` (`None`: never, stalled).
    pub deletion: Option<Option<DateTime<Utc>>>,
    pub tags: Tags,
    pub origin: Origin,
    /// Requests its load balancer answered, for the canary's share.
    pub requests: u64,
}

impl ExpressService {
    /// ECS's service status.
    pub fn status(&self, t: DateTime<Utc>) -> &'static str {
        match self.deletion {
            None => "ACTIVE",
            Some(Some(gone)) if t >= gone => "INACTIVE",
            Some(_) => "DRAINING",
        }
    }

    pub fn live(&self, t: DateTime<Utc>) -> bool {
        self.status(t) != "INACTIVE"
    }

    /// The load balancer's state, while it exists.
    pub fn load_balancer_state(&self, t: DateTime<Utc>) -> Option<&'static str> {
        match self.status(t) {
            "INACTIVE" => None,
            "DRAINING" => Some("deprovisioning"),
            _ if self.provisioned_at.is_some_and(|p| t >= p) => Some("active"),
            _ => Some("provisioning"),
        }
    }

    /// The revision DescribeExpressGatewayService shows: the newest not rolled back or stopped.
    fn configured(&self, t: DateTime<Utc>) -> &Revision {
        let rollout = self.rollouts.iter().rev().find(|r| !r.failed(t)).or(self.rollouts.last());
        &self.revisions[rollout.map_or(0, |r| r.target)]
    }

    /// The environment the tasks taking all the traffic see.
    pub fn serving(&self, t: DateTime<Utc>) -> Option<&BTreeMap<String, String>> {
        if self.deletion.is_some() {
            return None;
        }
        self.rollouts.iter().rev().find_map(|r| r.serves(t))
    }

    /// A canary's environment while it takes its share of the traffic.
    fn canary(&self, t: DateTime<Utc>) -> Option<&BTreeMap<String, String>> {
        let r = self.rollouts.last().filter(|r| r.source.is_some() && r.at.tasks <= t && t < r.at.shifted && r.stopped_at.is_none())?;
        r.outcome.as_ref()?.as_ref().ok()
    }

    fn describe(&self, t: DateTime<Utc>) -> ServiceInfo {
        let newest = self.rollouts.last().map(|r| r.operation_status(t));
        let ever_succeeded = self.rollouts.iter().any(|r| r.status(t) == "SUCCESSFUL");
        let status = ServiceStatus::from_ecs(self.status(t), newest, ever_succeeded).expect("the simulated ECS answers ECS's statuses");
        let config = &self.configured(t).config;
        ServiceInfo {
            arn: self.arn.clone(),
            name: self.name.clone(),
            backend: ServiceBackend::EcsExpress,
            url: self.endpoint.clone(),
            status,
            host_status: self.status(t).to_string(),
            source: None,
            build: None,
            image_identifier: Some(config.image.clone()),
            instance_role_arn: config.task_role_arn.clone(),
            vpc_connector_arn: None,
            ecs: Some(EcsExpressSettings {
                cluster: self.cluster.clone(),
                subnets: config.subnets.clone(),
                security_groups: config.security_groups.clone(),
                execution_role_arn: config.execution_role_arn.clone(),
                task_role_arn: config.task_role_arn.clone(),
                infrastructure_role_arn: self.infrastructure_role_arn.clone(),
            }),
            secrets: config.secrets.clone(),
            tags: self.tags.clone(),
        }
    }
}

/// ECS's clusters, network and services (the roles it may be handed are the account's, `World::roles`).
#[derive(Debug, Clone, Default)]
pub(crate) struct EcsState {
    pub clusters: BTreeSet<String>,
    pub subnets: BTreeSet<String>,
    pub security_groups: BTreeSet<String>,
    /// In creation order; a name (and ARN) repeats once the service is `INACTIVE`.
    pub services: Vec<ExpressService>,
}

pub(crate) fn seed(world: &mut World) {
    let ecs = &mut world.ecs;
    ecs.clusters.extend(["default".to_string(), ECS_CLUSTER.to_string()]);
    ecs.subnets.extend(ECS_SUBNETS.map(String::from));
    ecs.security_groups.extend([APP_SECURITY_GROUP.to_string(), DB_SECURITY_GROUP.to_string()]);
    for (role, paths) in [
        (ECS_INFRASTRUCTURE_ROLE_ARN, None),
        (PRODUCTION_EXECUTION_ROLE_ARN, Some(PRODUCTION_PARAMETER_PATH)),
        (PRODUCTION_TASK_ROLE_ARN, None),
        (STAGING_EXECUTION_ROLE_ARN, Some(STAGING_PARAMETER_PATH)),
        (STAGING_TASK_ROLE_ARN, None),
    ] {
        world.roles.insert(role.to_string(), paths.into_iter().map(String::from).collect());
    }
}

fn check_config(world: &World, config: &ExpressConfig) -> CloudResult<()> {
    // AWS's own table (the same one the run document is checked against before any call).
    use rehearsal_core::run::fargate_allows;
    let cpu_memory = (config.cpu.parse::<u32>(), config.memory.parse::<u32>());
    if !matches!(cpu_memory, (Ok(cpu), Ok(memory)) if fargate_allows(cpu, memory)) {
        return Err(CloudError::new(
            CloudErrorKind::Fatal,
            "ClientException",
            format!("No Fargate configuration exists for given values: {} CPU, {} memory.", config.cpu, config.memory),
        ));
    }
    if config.port == 0 {
        return Err(invalid_parameter("primaryContainer.containerPort must be 1 to 65535.".into()));
    }
    if !config.health_check_path.starts_with('/') {
        return Err(invalid_parameter(format!("healthCheckPath {:?} must start with '/'.", config.health_check_path)));
    }
    if let Some(subnet) = config.subnets.iter().find(|s| !world.ecs.subnets.contains(*s)) {
        return Err(invalid_parameter(format!(
            "Error retrieving subnet information for [{subnet}]: The subnet ID '{subnet}' does not exist"
        )));
    }
    if let Some(group) = config.security_groups.iter().find(|g| !world.ecs.security_groups.contains(*g)) {
        return Err(invalid_parameter(format!(
            "Error retrieving security group information for [{group}]: The security group '{group}' does not exist"
        )));
    }
    for role in std::iter::once(&config.execution_role_arn).chain(config.task_role_arn.iter()) {
        if !world.roles.contains_key(role) {
            return Err(invalid_parameter(format!("Role is not valid: {role}")));
        }
    }
    let ssm_arn = format!("arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter/");
    for (variable, reference) in &config.secrets {
        if reference.starts_with("arn:") && !reference.starts_with(&ssm_arn) {
            return Err(invalid_parameter(format!(
                "secrets {variable}: valueFrom must be an SSM parameter of account {ACCOUNT_ID} in {REGION} (the simulated account has no Secrets Manager), got {reference}"
            )));
        }
        if config.environment.contains_key(variable) {
            return Err(invalid_parameter(format!("{variable} is both an environment variable and a secret.")));
        }
    }
    Ok(())
}

impl World {
    /// The newest service with this ARN (a recreated service gets its predecessor's ARN).
    fn express_index(&self, arn: &str) -> Option<usize> {
        self.ecs.services.iter().rposition(|s| s.arn == arn)
    }

    /// The cluster a short name or ARN names.
    fn cluster_named(&self, cluster: &str) -> Option<String> {
        let name = cluster.strip_prefix(&format!("arn:aws:ecs:{REGION}:{ACCOUNT_ID}:cluster/")).unwrap_or(cluster);
        self.ecs.clusters.get(name).cloned()
    }

    /// The live (`ACTIVE` or `DRAINING`) service of that name in the cluster.
    pub(crate) fn express_named(&self, cluster: &str, name: &str, t: DateTime<Utc>) -> Option<usize> {
        let cluster = self.cluster_named(cluster)?;
        self.ecs.services.iter().rposition(|s| s.cluster == cluster && s.name == name && s.live(t))
    }

    fn is_production_express(&self, index: usize) -> bool {
        let service = &self.ecs.services[index];
        service.origin == Origin::Seed && service.name == PRODUCTION_SERVICE
    }

    pub(crate) fn describe_express(&self, index: usize, t: DateTime<Utc>) -> ServiceInfo {
        self.ecs.services[index].describe(t)
    }

    pub(crate) fn express_by_arn(&self, arn: &str, t: DateTime<Utc>) -> Option<ServiceInfo> {
        self.express_index(arn).map(|s| self.describe_express(s, t))
    }

    /// A deployment's timeline from `now`: a first one waits for the load balancer (`None`:
    /// it never comes).
    fn timeline(&self, now: DateTime<Utc>, provisioned_at: Option<DateTime<Utc>>, canary: bool) -> Timeline {
        let starts = provisioned_at.map_or(DateTime::<Utc>::MAX_UTC, |p| p.max(now));
        let tasks = after(starts, self.config.express_tasks);
        let shifted = if canary { after(tasks, self.config.express_canary_bake) } else { tasks };
        Timeline {
            starts,
            tasks,
            shifted,
            ends: after(shifted, self.config.express_bake),
            rolled_back: after(tasks, self.config.express_rollback),
        }
    }

    fn new_service(&mut self, cluster: &str, name: &str, infrastructure_role_arn: &str, tags: &Tags, origin: Origin) -> ExpressService {
        ExpressService {
            arn: format!("arn:aws:ecs:{REGION}:{ACCOUNT_ID}:service/{cluster}/{name}"),
            name: name.to_string(),
            cluster: cluster.to_string(),
            infrastructure_role_arn: infrastructure_role_arn.to_string(),
            endpoint: format!("{name}-{}.{ENDPOINT_DOMAIN}", self.ids.hex(8)),
            load_balancer: format!("ecs-express-{}", self.ids.hex(12)),
            provisioned_at: None,
            revisions: Vec::new(),
            rollouts: Vec::new(),
            deletion: None,
            tags: tags.clone(),
            origin,
            requests: 0,
        }
    }

    /// A new revision of the service.
    fn revision(&mut self, cluster: &str, name: &str, config: ExpressConfig) -> Revision {
        Revision { arn: format!("arn:aws:ecs:{REGION}:{ACCOUNT_ID}:service-revision/{cluster}/{name}/{}", self.ids.hex(19)), config }
    }

    /// A service's first deployment, which waits for its load balancer.
    fn first_rollout(&mut self, service: &mut ExpressService, config: ExpressConfig, outcome: Outcome, now: DateTime<Utc>) {
        let revision = self.revision(&service.cluster, &service.name, config);
        let at = self.timeline(now, service.provisioned_at, false);
        service.revisions.push(revision);
        service.rollouts.push(Rollout {
            target: 0,
            source: None,
            at,
            stalled: outcome == Outcome::Stall,
            fails_by_fault: outcome == Outcome::Fail,
            outcome: None,
            stopped_at: None,
        });
    }

    /// What the `already-exists` fault plants: someone else's service of that name, running.
    fn plant_foreign_express(&mut self, ctx: &Ctx, cluster: &str, name: &str, config: ExpressConfig) {
        let owner = Tags::from([("Owner".to_string(), "platform-team".to_string())]);
        let mut service = self.new_service(cluster, name, ECS_INFRASTRUCTURE_ROLE_ARN, &owner, Origin::Foreign);
        let day_ago = ctx.now - chrono::Duration::days(1);
        service.provisioned_at = Some(day_ago);
        let environment = config.environment.clone();
        self.first_rollout(&mut service, ExpressConfig { secrets: BTreeMap::new(), ..config }, Outcome::Succeed, day_ago);
        service.rollouts[0].outcome = Some(Ok(environment));
        self.ecs.services.push(service);
        self.foreign(ctx, "ecs-service", name);
    }

    pub(crate) fn create_express_service(
        &mut self,
        ctx: &Ctx,
        spec: &ServiceSpec,
        settings: &EcsExpressSettings,
        tags: &Tags,
    ) -> CloudResult<(ServiceInfo, String)> {
        if spec.name.is_empty() || spec.name.len() > 255 || !spec.name.chars().all(|c| c.is_ascii_alphanumeric() || "_-".contains(c)) {
            return Err(invalid_parameter(format!("serviceName {:?} must be 1 to 255 letters, digits, '_' or '-'.", spec.name)));
        }
        let cluster = self
            .cluster_named(&settings.cluster)
            .ok_or_else(|| CloudError::new(CloudErrorKind::NotFound, "ClusterNotFoundException", "Cluster not found."))?;
        let ReleaseSource::Image(release) = &spec.source else {
            return Err(invalid_parameter(format!(
                "primaryContainer.image is required: ECS Express runs container images, {} names code",
                spec.name
            )));
        };
        if release.access_role_arn.is_some() {
            return Err(invalid_parameter("ECS pulls images with the task execution role; there is no image access role".into()));
        }
        let config = ExpressConfig {
            image: release.image.clone(),
            cpu: spec.cpu.clone(),
            memory: spec.memory.clone(),
            port: spec.port,
            health_check_path: spec.health_check_path.clone(),
            environment: spec.environment.clone(),
            secrets: spec.secrets.clone(),
            execution_role_arn: settings.execution_role_arn.clone(),
            task_role_arn: settings.task_role_arn.clone(),
            subnets: settings.subnets.clone(),
            security_groups: settings.security_groups.clone(),
        };
        if self.express_named(&cluster, &spec.name, ctx.now).is_none() && self.plant_conflict(ctx, "CreateExpressGatewayService") {
            self.plant_foreign_express(ctx, &cluster, &spec.name, config.clone());
        }
        if self.express_named(&cluster, &spec.name, ctx.now).is_some() {
            return Err(CloudError::new(
                CloudErrorKind::AlreadyExists,
                "InvalidParameterException",
                "Creation of service was not idempotent.",
            ));
        }
        if !self.roles.contains_key(&settings.infrastructure_role_arn) {
            return Err(invalid_parameter(format!("Role is not valid: {}", settings.infrastructure_role_arn)));
        }
        check_config(self, &config)?;
        crate::apprunner::check_tags(tags, invalid_parameter)?;

        let outcome = self.outcome(ctx, "CreateExpressGatewayService", true);
        let mut service = self.new_service(&cluster, &spec.name, &settings.infrastructure_role_arn, tags, Origin::Created);
        service.provisioned_at = (outcome != Outcome::Stall).then(|| after(ctx.now, self.config.express_provision));
        self.first_rollout(&mut service, config, outcome, ctx.now);
        let info = service.describe(ctx.now);
        self.ecs.services.push(service);
        self.created(ctx, "ecs-service", &spec.name);
        Ok((info.clone(), info.arn))
    }

    /// UpdateExpressGatewayService: a new revision from the configured one as `change` makes
    /// it, rolled out by a new deployment (which supersedes one in flight). Answers the revision.
    fn update_express(
        &mut self,
        ctx: &Ctx,
        arn: &str,
        change: impl FnOnce(ExpressConfig) -> CloudResult<ExpressConfig>,
    ) -> CloudResult<String> {
        let index = self.express_index(arn).ok_or_else(service_not_found)?;
        if self.is_production_express(index) {
            self.production_write(ctx, format!("ECS service {PRODUCTION_SERVICE}"), "UpdateExpressGatewayService");
        }
        let service = &self.ecs.services[index];
        if service.status(ctx.now) != "ACTIVE" {
            return Err(CloudError::new(CloudErrorKind::InvalidState, "ServiceNotActiveException", "Service was not ACTIVE."));
        }
        let config = change(service.configured(ctx.now).config.clone())?;
        check_config(self, &config)?;
        let serving = service.rollouts.iter().rposition(|r| r.serves(ctx.now).is_some()).map(|r| service.rollouts[r].target);
        let (cluster, name) = (service.cluster.clone(), service.name.clone());
        let revision = self.revision(&cluster, &name, config);
        let revision_arn = revision.arn.clone();
        let at = self.timeline(ctx.now, self.ecs.services[index].provisioned_at, serving.is_some());
        let outcome = self.outcome(ctx, "UpdateExpressGatewayService", true);
        let service = &mut self.ecs.services[index];
        for rollout in service.rollouts.iter_mut().filter(|r| matches!(r.status(ctx.now), "PENDING" | "IN_PROGRESS")) {
            rollout.stopped_at = Some(ctx.now);
        }
        service.revisions.push(revision);
        service.rollouts.push(Rollout {
            target: service.revisions.len() - 1,
            source: serving,
            at,
            stalled: outcome == Outcome::Stall,
            fails_by_fault: outcome == Outcome::Fail,
            outcome: None,
            stopped_at: None,
        });
        Ok(revision_arn)
    }

    pub(crate) fn update_express_secrets(&mut self, ctx: &Ctx, arn: &str, secrets: &BTreeMap<String, String>) -> CloudResult<String> {
        self.update_express(ctx, arn, |config| Ok(ExpressConfig { secrets: secrets.clone(), ..config }))
    }

    pub(crate) fn update_express_image(&mut self, ctx: &Ctx, arn: &str, image: &str) -> CloudResult<String> {
        self.update_express(ctx, arn, |config| Ok(ExpressConfig { image: image.to_string(), ..config }))
    }

    pub(crate) fn express_operation(&self, arn: &str, operation_id: &str, t: DateTime<Utc>) -> Option<ServiceOperation> {
        let service = &self.ecs.services[self.express_index(arn)?];
        if operation_id == ECS_DELETE_OPERATION {
            service.deletion?;
            let status = service.status(t);
            let done = if status == "INACTIVE" { OperationStatus::Succeeded } else { OperationStatus::InProgress };
            return Some(ServiceOperation {
                id: operation_id.into(),
                kind: ECS_DELETE_OPERATION.into(),
                status: done,
                host_status: status.into(),
            });
        }
        let rollout = if operation_id == service.arn {
            service.rollouts.first()
        } else {
            service.rollouts.iter().find(|r| service.revisions[r.target].arn == operation_id)
        }?;
        Some(ServiceOperation {
            id: operation_id.into(),
            kind: DEPLOYMENT.into(),
            status: rollout.operation_status(t),
            host_status: rollout.status(t).into(),
        })
    }

    /// The newest deployment, named by the revision it deploys.
    pub(crate) fn latest_express_operation(&self, arn: &str, t: DateTime<Utc>) -> Option<ServiceOperation> {
        let service = &self.ecs.services[self.express_index(arn)?];
        let rollout = service.rollouts.last()?;
        Some(ServiceOperation {
            id: service.revisions[rollout.target].arn.clone(),
            kind: DEPLOYMENT.into(),
            status: rollout.operation_status(t),
            host_status: rollout.status(t).into(),
        })
    }

    pub(crate) fn delete_express_service(&mut self, ctx: &Ctx, arn: &str) -> CloudResult<String> {
        let index = self.express_index(arn).ok_or_else(service_not_found)?;
        if self.is_production_express(index) {
            self.production_write(ctx, format!("ECS service {PRODUCTION_SERVICE}"), "DeleteExpressGatewayService");
        }
        if self.ecs.services[index].status(ctx.now) != "ACTIVE" {
            return Err(CloudError::new(CloudErrorKind::InvalidState, "ServiceNotActiveException", "Service was not ACTIVE."));
        }
        // A drain has no failed state; `never-ready` leaves it DRAINING.
        let outcome = self.outcome(ctx, "DeleteExpressGatewayService", false);
        let gone = crate::world::ends(ctx.now, self.config.express_drain, outcome);
        let service = &mut self.ecs.services[index];
        for rollout in service.rollouts.iter_mut().filter(|r| matches!(r.status(ctx.now), "PENDING" | "IN_PROGRESS")) {
            rollout.stopped_at = Some(ctx.now);
        }
        service.deletion = Some(gone);
        let name = service.name.clone();
        self.deleted(ctx, "ecs-service", &name);
        Ok(ECS_DELETE_OPERATION.to_string())
    }

    /// What the new tasks of a deployment see when they start at `at`: the image pulled, the
    /// secrets fetched with the execution role, the start command's migrations run. `Err` says
    /// why they stopped, as ECS reports it.
    fn start_tasks(&mut self, config: &ExpressConfig, fails_by_fault: bool, at: DateTime<Utc>) -> Result<BTreeMap<String, String>, String> {
        if fails_by_fault {
            return Err("Task failed ELB health checks".into());
        }
        let runs_release = self.pull_image(&config.image)?.runs_release;
        let readable = self.roles.get(&config.execution_role_arn).cloned().unwrap_or_default();
        let mut environment = config.environment.clone();
        for (variable, reference) in &config.secrets {
            let denied = || {
                format!(
                    "ResourceInitializationError: unable to pull secrets: AccessDeniedException: {} is not authorized to perform \
                     ssm:GetParameters on resource {reference} (secret {variable})",
                    config.execution_role_arn
                )
            };
            let found = referenced_parameter(self, reference);
            let name =
                found.as_ref().map_or_else(|| reference.rsplit(":parameter").next().unwrap_or(reference).to_string(), |(n, _)| n.clone());
            if !readable.iter().any(|path| name.starts_with(path.as_str())) {
                return Err(denied());
            }
            let (_, param) = found.ok_or_else(|| {
                format!("ResourceInitializationError: unable to pull secrets: invalid parameters: {reference} (secret {variable})")
            })?;
            environment.insert(variable.clone(), param.value.clone());
        }
        self.migrate(&environment, runs_release, at).map_err(|e| format!("Essential container in task exited: migrate: {e:?}"))?;
        Ok(environment)
    }

    /// Decides the deployments whose tasks started since the last call, in the order they did.
    pub(crate) fn settle_express_deployments(&mut self, now: DateTime<Utc>) {
        let mut due: Vec<(DateTime<Utc>, usize, usize)> = Vec::new();
        for (s, service) in self.ecs.services.iter().enumerate() {
            for (r, rollout) in service.rollouts.iter().enumerate() {
                let superseded = rollout.stopped_at.is_some_and(|stop| stop <= rollout.at.tasks);
                if rollout.outcome.is_none() && !rollout.stalled && !superseded && rollout.at.tasks <= now {
                    due.push((rollout.at.tasks, s, r));
                }
            }
        }
        due.sort();
        for (at, s, r) in due {
            let rollout = &self.ecs.services[s].rollouts[r];
            let (config, fails) = (self.ecs.services[s].revisions[rollout.target].config.clone(), rollout.fails_by_fault);
            let outcome = self.start_tasks(&config, fails, at);
            self.ecs.services[s].rollouts[r].outcome = Some(outcome);
        }
    }

    /// The environment of the tasks a request to `host` reaches: `None` when no load balancer
    /// answers that host, `Err(status)` when it answers with no healthy tasks behind it.
    pub(crate) fn express_serving(&mut self, host: &str, t: DateTime<Utc>) -> Option<Served> {
        let index = self
            .ecs
            .services
            .iter()
            .rposition(|s| s.endpoint == host && s.load_balancer_state(t).is_some_and(|lb| lb != "provisioning"))?;
        let service = &mut self.ecs.services[index];
        service.requests += 1;
        let canary = service.canary(t).filter(|_| service.requests.is_multiple_of(CANARY_SHARE));
        let environment = canary.or_else(|| service.serving(t)).cloned();
        Some(environment.map(|env| (service.name.clone(), env)).ok_or_else(|| service.status(t).to_string()))
    }
}

impl SimAccount {
    /// The image the live ECS Express service `name` in `cluster` is configured with (its
    /// newest deployment's, or the one it rolled back to).
    pub fn express_service_image(&self, cluster: &str, service_name: &str) -> Option<String> {
        let (world, now) = self.world();
        Some(world.ecs.services[world.express_named(cluster, service_name, now)?].configured(now).config.image.clone())
    }

    /// Adds production on ECS Express Mode next to the App Runner one: `tableicty-backend` in
    /// cluster `tableicty` at [`PRODUCTION_EXPRESS_SERVICE_ARN`], running release-41 pinned by
    /// digest with production's variables and Parameter Store references, deployed 30 days ago.
    pub fn deploy_production_on_ecs_express(&self) {
        let (mut world, now) = self.world();
        let Some(deployment) =
            world.services.iter().find(|s| s.arn == crate::seed::PRODUCTION_SERVICE_ARN).and_then(|s| s.operations[0].deployment.clone())
        else {
            return;
        };
        let mut environment = deployment.environment.clone();
        let hosts = environment.get("ALLOWED_HOSTS").cloned().unwrap_or_default();
        environment.insert("ALLOWED_HOSTS".into(), format!("{hosts},.{ENDPOINT_DOMAIN}"));
        let config = ExpressConfig {
            image: format!("{ECR_REGISTRY}/{ECR_REPOSITORY}@{PRODUCTION_IMAGE_DIGEST}"),
            cpu: "1024".into(),
            memory: "2048".into(),
            port: 8000,
            health_check_path: "/api/v1/health/".into(),
            environment,
            secrets: deployment.secrets.clone(),
            execution_role_arn: PRODUCTION_EXECUTION_ROLE_ARN.into(),
            task_role_arn: Some(PRODUCTION_TASK_ROLE_ARN.into()),
            subnets: ECS_SUBNETS.map(String::from).to_vec(),
            security_groups: vec![APP_SECURITY_GROUP.into()],
        };
        let deployed = now - chrono::Duration::days(30);
        let tags = world.services.iter().find(|s| s.name == PRODUCTION_SERVICE).map(|s| s.tags.clone()).unwrap_or_default();
        let mut service = world.new_service(ECS_CLUSTER, PRODUCTION_SERVICE, ECS_INFRASTRUCTURE_ROLE_ARN, &tags, Origin::Seed);
        debug_assert_eq!(service.arn, PRODUCTION_EXPRESS_SERVICE_ARN);
        service.endpoint = PRODUCTION_EXPRESS_URL.to_string();
        service.provisioned_at = Some(deployed);
        let mut running = config.environment.clone();
        running.extend(deployment.resolved.clone().unwrap_or_default());
        world.first_rollout(&mut service, config, Outcome::Succeed, deployed);
        service.rollouts[0].outcome = Some(Ok(running));
        world.ecs.services.push(service);
    }
}
