//! Before anything: validate the run document, then read production (never write it) and fix
//! every name, tag and setting the other steps use. Failing here costs nothing: the state
//! machine fails without a rollback, because nothing was created yet.
//!
//! Step: `plan_rehearsal` (staging.asl.json `PlanRehearsal`; promote's `verify_rehearsal_passed`
//! plans again from the staging execution's input). Tests: tests/steps/plan_rehearsal.rs; end to end,
//! tests/staging_pipeline.rs `the_state_machine_refuses_bad_input_too`,
//! `a_live_stripe_key_under_the_test_path_stops_the_run_before_anything_is_created`, and every other
//! test there, which starts with it.

use super::{parameter_exists, required_parameter};
use crate::cloud::{
    AppRunnerSettings, CodeBuild, ContainerImages, DbCluster, DbInstance, EcsExpressSettings, HostSettings, ImageRelease, ParameterStore,
    Rds, ReleaseSource, ServiceBackend, ServiceHost, ServiceInfo, ServiceLocation, ServiceSource, ServiceSpec,
};
use crate::error::CloudResultExt;
use crate::image::ImageName;
use crate::limits::{command_problem, connection_arn_problem, https_url_problem, iam_role_arn_problem, vpc_connector_problem};
use crate::naming::{parameter_name, production_snapshot_id, run_id, staging_cluster_id};
use crate::phase::{Phase, DB_INSTANCE};
use crate::plan::{
    PlannedRelease, ProductionFacts, RunPlan, SecretKeyPlan, StagingClusterPlan, StagingDbPlan, StripeWebhookPlan, BACKFILL_TOKEN,
    COPIED_FROM_PRODUCTION, DATABASE_URL, STAGING_ENVIRONMENT, STRIPE_KEYS,
};
use crate::run::{ecs_cpu_units, ecs_memory_mib, RunInput, StagingSource, PARAMETER_BACKED_VARIABLES, RUNTIMES};
use crate::tags::RunTags;
use crate::{CloudErrorKind, StepError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Plain variable naming the parameter that holds the backfill endpoint's one-time token; the
/// app reads that parameter when the endpoint is called (its instance role allows it).
pub const BACKFILL_TOKEN_PARAMETER_VARIABLE: &str = "BACKFILL_TOKEN_PARAMETER";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanInput {
    /// The run document, exactly as the console, the API or the CLI sent it.
    pub input: Value,
    /// `$$.Execution.Name` and `$$.Execution.StartTime`: the run's id is derived from them, so
    /// every retry and redrive plans the same names and no caller chooses them.
    pub execution_name: String,
    pub execution_start: DateTime<Utc>,
    /// What the stack decides: `"stack"` in the state machine's Parameters, filled by the
    /// template's `DefinitionSubstitutions`.
    pub stack: StackSettings,
    /// Set by a promotion only (never by a definition): the digest-pinned image the staging
    /// run resolved, so that its plan is made again without resolving a tag that may have moved.
    #[serde(skip)]
    pub pinned_image: Option<String>,
}

/// What the deployed stack, not the caller, decides about the staging service: the role it runs
/// as and how it reaches the VPC (template resources and parameters), and how it is built and
/// started when production's own service does not say (it reads its repository's
/// `apprunner.yaml`, which references production's parameters and so cannot serve staging).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackSettings {
    /// `${StagingInstanceRoleArn}`: the stack's staging instance role, which reads only the
    /// staging parameter path.
    pub staging_instance_role_arn: String,
    /// `${StagingVpcConnector}`: the App Runner VPC connector (name or ARN) staging egresses through.
    pub vpc_connector: String,
    /// `${StagingRepositoryUrl}`, `${StagingConnectionArn}`: the repository staging builds when
    /// production runs an image (and so names none); empty when production's is used.
    pub repository_url: String,
    pub connection_arn: String,
    /// `${StagingRuntime}`, `${StagingBuildCommand}`, `${StagingStartCommand}`.
    pub build: CodeBuild,
    /// `${StagingImageAccessRoleArn}`: the role App Runner pulls staging's ECR image with.
    pub image_access_role_arn: String,
    /// ECS Express Mode: what the stack decides for a staging service there.
    pub ecs: EcsStackSettings,
}

/// The stack's ECS Express settings (`"stack": {"ecs": …}` in the definitions). Cluster and
/// network may be empty: staging then takes production's service's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EcsStackSettings {
    /// `${EcsCluster}`: the cluster production's service runs in, and staging's too.
    pub cluster: String,
    /// `${EcsSubnetIds}`, `${EcsSecurityGroupIds}`: comma-separated; empty means production's.
    pub subnets: String,
    pub security_groups: String,
    /// `${StagingEcsExecutionRoleArn}`, `${StagingEcsTaskRoleArn}`: staging's own roles (the
    /// execution role fetches only the staging path's parameters), never production's.
    pub execution_role_arn: String,
    pub task_role_arn: String,
    /// `${EcsInfrastructureRoleArn}`: lets ECS manage staging's load balancer; empty means production's.
    pub infrastructure_role_arn: String,
}

impl EcsStackSettings {
    fn list(value: &str) -> Vec<String> {
        value.split(',').map(str::trim).filter(|v| !v.is_empty()).map(str::to_string).collect()
    }

    /// Staging's ECS settings: the stack's cluster and roles ([`StackSettings::check_backend`]
    /// made sure they are set), and the stack's network and infrastructure role or else
    /// production's service's.
    fn staging_settings(&self, production: Option<&EcsExpressSettings>) -> Result<EcsExpressSettings, StepError> {
        let or_production = |ours: Vec<String>, theirs: Option<&Vec<String>>| match ours.is_empty() {
            true => theirs.cloned().unwrap_or_default(),
            false => ours,
        };
        let infrastructure_role_arn = match (self.infrastructure_role_arn.as_str(), production) {
            ("", Some(production)) => production.infrastructure_role_arn.clone(),
            ("", None) => {
                return Err(StepError::invalid(
                    "stack.ecs.infrastructure_role_arn",
                    "production's service names none: set the stack's EcsInfrastructureRoleArn",
                ))
            }
            (role, _) => role.to_string(),
        };
        let settings = EcsExpressSettings {
            cluster: self.cluster.clone(),
            subnets: or_production(Self::list(&self.subnets), production.map(|p| &p.subnets)),
            security_groups: or_production(Self::list(&self.security_groups), production.map(|p| &p.security_groups)),
            execution_role_arn: self.execution_role_arn.clone(),
            task_role_arn: Some(self.task_role_arn.clone()),
            infrastructure_role_arn,
        };
        if settings.subnets.is_empty() {
            return Err(StepError::invalid("stack.ecs.subnets", "production's service names none: set the stack's EcsSubnetIds"));
        }
        Ok(settings)
    }
}

impl StackSettings {
    /// Where production's service is looked up: App Runner, or the stack's ECS cluster.
    pub fn production_location(&self, backend: ServiceBackend) -> ServiceLocation {
        match backend {
            ServiceBackend::AppRunner => ServiceLocation::AppRunner,
            ServiceBackend::EcsExpress => ServiceLocation::EcsExpress { cluster: self.ecs.cluster.clone() },
        }
    }

    /// What the document's backend and release need from the stack, before any call.
    fn check_backend(&self, backend: ServiceBackend, image: bool) -> Result<(), StepError> {
        let missing = |field: &str, parameter: &str| {
            Err(StepError::invalid(field, format!("must be set for service.backend {} (the stack's {parameter})", backend.name())))
        };
        match backend {
            ServiceBackend::AppRunner if image && self.image_access_role_arn.is_empty() => {
                missing("stack.image_access_role_arn", "StagingImageAccessRole")
            }
            ServiceBackend::EcsExpress if self.ecs.cluster.is_empty() => missing("stack.ecs.cluster", "EcsCluster"),
            ServiceBackend::EcsExpress if self.ecs.execution_role_arn.is_empty() => {
                missing("stack.ecs.execution_role_arn", "StagingEcsExecutionRole")
            }
            ServiceBackend::EcsExpress if self.ecs.task_role_arn.is_empty() => missing("stack.ecs.task_role_arn", "StagingEcsTaskRole"),
            _ => Ok(()),
        }
    }

    /// AWS's formats for what the stack names (checked before the first call of the plan, and of
    /// a promotion, which plans again).
    pub(crate) fn validate(&self) -> Result<(), StepError> {
        if let Some(problem) = iam_role_arn_problem(&self.staging_instance_role_arn) {
            return Err(StepError::invalid("stack.staging_instance_role_arn", format!("is not an IAM role ARN: {problem}")));
        }
        if let Some(problem) = Some(&self.repository_url).filter(|url| !url.is_empty()).and_then(|url| https_url_problem(url)) {
            return Err(StepError::invalid("stack.repository_url", problem));
        }
        if let Some(problem) = Some(&self.connection_arn).filter(|arn| !arn.is_empty()).and_then(|arn| connection_arn_problem(arn)) {
            return Err(StepError::invalid("stack.connection_arn", format!("is not an App Runner connection ARN: {problem}")));
        }
        for (field, role) in [
            ("stack.image_access_role_arn", &self.image_access_role_arn),
            ("stack.ecs.execution_role_arn", &self.ecs.execution_role_arn),
            ("stack.ecs.task_role_arn", &self.ecs.task_role_arn),
            ("stack.ecs.infrastructure_role_arn", &self.ecs.infrastructure_role_arn),
        ] {
            if let Some(problem) = iam_role_arn_problem(role).filter(|_| !role.is_empty()) {
                return Err(StepError::invalid(field, format!("is not an IAM role ARN: {problem}")));
            }
        }
        for (field, list, prefix) in
            [("stack.ecs.subnets", &self.ecs.subnets, "subnet-"), ("stack.ecs.security_groups", &self.ecs.security_groups, "sg-")]
        {
            if let Some(bad) = EcsStackSettings::list(list).into_iter().find(|id| !id.starts_with(prefix)) {
                return Err(StepError::invalid(field, format!("{bad:?} is not a {prefix}… id")));
            }
        }
        if let Some(problem) = vpc_connector_problem(&self.vpc_connector) {
            return Err(StepError::invalid("stack.vpc_connector", format!("is not a VPC connector's name or ARN: {problem}")));
        }
        if !RUNTIMES.contains(&self.build.runtime.as_str()) {
            return Err(StepError::invalid("stack.build.runtime", format!("{:?} is not one of {RUNTIMES:?}", self.build.runtime)));
        }
        for (field, command) in
            [("stack.build.build_command", &self.build.build_command), ("stack.build.start_command", &self.build.start_command)]
        {
            if let Some(problem) = command_problem(command) {
                return Err(StepError::invalid(field, problem));
            }
        }
        Ok(())
    }
}

pub async fn plan_rehearsal<C: Rds + ParameterStore + ServiceHost + ContainerImages + Sync>(
    cloud: &C,
    input: PlanInput,
) -> Result<RunPlan, StepError> {
    let run = RunInput::from_json(input.input)?;
    run.validate()?;
    input.stack.validate()?;
    let stack = &input.stack;
    let backend = run.service.backend;
    stack.check_backend(backend, run.service.image.is_some())?;
    let run_id = run_id(&run.app, &input.execution_name, input.execution_start);
    let snapshot_id = production_snapshot_id(&run_id);

    let production_db = match cloud.describe_instance(&run.production.db_instance_id).await.op("DescribeDBInstances")? {
        // Busy (backing up, modifying, in maintenance…) is fine: the snapshot step waits it out.
        Some(db) if matches!(DB_INSTANCE.of(&db.status), Phase::Ready | Phase::InProgress) => db,
        Some(db) => return Err(StepError::ProductionNotReady(format!("production database {} is {}, not available", db.id, db.status))),
        None => return Err(StepError::ProductionNotReady(format!("production database {} does not exist", run.production.db_instance_id))),
    };
    if run.staging.source == StagingSource::PointInTime && production_db.backup_retention_days == 0 {
        return Err(StepError::invalid(
            "staging.source",
            format!(
                "point-in-time restores production's automated backups, but {} keeps none (backup retention 0): use snapshot",
                production_db.id
            ),
        ));
    }
    let production_cluster = production_cluster(cloud, &run.staging.source, &production_db).await?;
    let production_service =
        cloud.find_service(&run.production.service_name, &stack.production_location(backend)).await.op("ListServices")?.ok_or_else(
            || {
                StepError::ProductionNotReady(format!(
                    "production service {} does not exist on {}",
                    run.production.service_name,
                    backend.name()
                ))
            },
        )?;

    // Every variable production's service reads from Parameter Store reaches staging too: from
    // this run's own parameters, or as a staging value the document gives. Copying the others
    // from production could hand staging another live credential, so the run refuses instead.
    let unserved: Vec<String> = production_service
        .secrets
        .iter()
        .filter(|(name, _)| !PARAMETER_BACKED_VARIABLES.contains(&name.as_str()) && !run.service.environment.contains_key(*name))
        .map(|(name, arn)| format!("{name} (from {arn})"))
        .collect();
    if !unserved.is_empty() {
        return Err(StepError::invalid(
            "service.environment",
            format!(
                "production's service also reads {} from Parameter Store; staging would start without: give each a staging value here",
                unserved.join(", ")
            ),
        ));
    }

    // Production's values are only checked for, never read here: write_staging_parameters
    // reads the ones it copies.
    for key in COPIED_FROM_PRODUCTION.iter().chain([DATABASE_URL].iter()) {
        parameter_exists(cloud, &parameter_name(&run.production.parameter_path, key)).await?;
    }
    for key in STRIPE_KEYS {
        let name = parameter_name(&run.stripe.test_parameter_path, key);
        let value = required_parameter(cloud, &name).await?;
        if value.expose().starts_with("sk_live_") || value.expose().starts_with("pk_live_") || value.expose().starts_with("rk_live_") {
            return Err(StepError::invalid(
                "stripe.test_parameter_path",
                format!("{name} holds a live Stripe key; staging must use test keys"),
            ));
        }
    }
    parameter_exists(cloud, &run.validation.test_admin_password_parameter).await?;

    let (source, release) = match &run.service.image {
        Some(requested) => {
            let image = pin_release_image(cloud, requested, input.pinned_image.as_deref()).await?;
            let access_role_arn = (backend == ServiceBackend::AppRunner).then(|| stack.image_access_role_arn.clone());
            let release = PlannedRelease { backend, requested_image: Some(requested.clone()), image: Some(image.clone()), branch: None };
            (ReleaseSource::Image(ImageRelease { image, access_role_arn }), release)
        }
        None => {
            let release = PlannedRelease { backend, requested_image: None, image: None, branch: Some(run.service.branch.clone()) };
            (code_release(&run, stack, &production_service)?, release)
        }
    };
    let (cpu, memory, host) = match backend {
        ServiceBackend::AppRunner => {
            let vpc_connector_arn = cloud
                .find_vpc_connector(&stack.vpc_connector)
                .await
                .op("ListVpcConnectors")?
                .ok_or_else(|| StepError::invalid("stack.vpc_connector", format!("no VPC connector named {}", stack.vpc_connector)))?;
            // Never production's role: it reads production's parameters (live Stripe keys).
            let settings = AppRunnerSettings { vpc_connector_arn, instance_role_arn: stack.staging_instance_role_arn.clone() };
            (run.service.cpu.clone(), run.service.memory.clone(), HostSettings::AppRunner(settings))
        }
        ServiceBackend::EcsExpress => {
            let settings = stack.ecs.staging_settings(production_service.ecs.as_ref())?;
            // Validated: both parse.
            let units = |value: Option<u32>| value.map(|v| v.to_string()).unwrap_or_default();
            (units(ecs_cpu_units(&run.service.cpu)), units(ecs_memory_mib(&run.service.memory)), HostSettings::EcsExpress(settings))
        }
    };

    let staging_parameter_path = run.staging.parameter_path.clone();
    let mut environment: BTreeMap<String, String> = run.service.environment.clone();
    environment.insert(BACKFILL_TOKEN_PARAMETER_VARIABLE.to_string(), parameter_name(&staging_parameter_path, BACKFILL_TOKEN));

    Ok(RunPlan {
        app: run.app.clone(),
        tags: RunTags { app: run.app.clone(), environment: STAGING_ENVIRONMENT.to_string(), run_id: run_id.clone() },
        run_id,
        started_at: input.execution_start,
        production: ProductionFacts {
            db_instance_id: production_db.id.clone(),
            db_cluster_id: production_db.cluster_id.clone(),
            parameter_path: run.production.parameter_path.clone(),
            service_name: production_service.name.clone(),
            service_arn: production_service.arn.clone(),
        },
        snapshot_id,
        staging_db: StagingDbPlan {
            // RDS answers identifiers in lowercase, whatever case they were given in.
            instance_id: run.staging.db_instance_id.to_ascii_lowercase(),
            class: run.staging.db_instance_class.clone(),
            restore_from_backups: run.staging.source == StagingSource::PointInTime,
            clone_cluster: production_cluster.is_some() && run.staging.source == StagingSource::AuroraClone,
            snapshot_cluster: production_cluster.is_some() && run.staging.source == StagingSource::Snapshot,
            cluster: production_cluster.as_ref().map(|source| StagingClusterPlan {
                cluster_id: staging_cluster_id(&run.staging.db_instance_id.to_ascii_lowercase()),
                source_cluster_id: source.id.clone(),
                engine: source.engine.clone(),
                parameter_group: source.parameter_group.clone(),
            }),
            prewarm: run.staging.prewarm,
            parameter_group: production_db.parameter_group.clone(),
            // A default option group (`default:…`) is what a restore gets anyway; naming it could
            // only fail (an emulator reports one it does not have).
            // (An Aurora instance has none to give: its engine has no options.)
            option_group: production_db.option_group.clone().filter(|group| !group.starts_with("default:") && production_cluster.is_none()),
            // The runbook: same subnet group and security groups as production (an Aurora
            // cluster's are its own), never the caller's.
            subnet_group: production_cluster.as_ref().map_or(&production_db.subnet_group, |c| &c.subnet_group).clone(),
            security_group_ids: production_cluster.as_ref().map_or(&production_db.security_group_ids, |c| &c.security_group_ids).clone(),
        },
        staging_parameter_path,
        secret_key: SecretKeyPlan { source: run.staging.secret_key, exposes: run.staging.secret_key.exposes().to_string() },
        stripe_test_parameter_path: run.stripe.test_parameter_path.clone(),
        frontend: run.frontend.clone(),
        frontend_distribution: run.frontend.serving == crate::run::FrontendServing::Cloudfront,
        stripe_publishable_key: run.stripe.publishable_key.clone(),
        stripe_webhook: StripeWebhookPlan { path: run.stripe.webhook_path.clone(), events: run.stripe.webhook_events.clone() },
        service: ServiceSpec {
            name: run.service.name.clone(),
            cpu,
            memory,
            port: run.service.port,
            source,
            health_check_path: run.validation.health_path.clone(),
            environment,
            secrets: BTreeMap::new(),
            host,
        },
        release,
        validation: run.validation.clone(),
        ttl_hours: run.ttl_hours,
        timeouts: run.timeouts.clone(),
        masking: run.masking.resolve(&run.app, &run.validation.test_admin_email)?,
    })
}

/// Staging's release as an image pinned by digest: the staging run resolves the document's tag
/// once (ECR, read-only); a promotion passes the digest that run resolved, which must be an image
/// of the same repository.
/// Production's Aurora cluster when production's instance is in one (copied by cluster:
/// `aurora-clone`, or `snapshot` through a cluster snapshot); `None` for a standalone instance.
/// Each combination that cannot work is refused here, naming the field, before any write.
async fn production_cluster<C: Rds + Sync>(
    cloud: &C,
    source: &StagingSource,
    production: &DbInstance,
) -> Result<Option<DbCluster>, StepError> {
    let refuse = |why: String| Err(StepError::invalid("staging.source", why));
    let cluster_id = match (source, &production.cluster_id) {
        (StagingSource::AuroraClone, None) => {
            return refuse(format!(
            "aurora-clone clones production's Aurora cluster, but {} is a standalone instance (no DBClusterIdentifier): use snapshot or \
                 point-in-time",
            production.id
        ))
        }
        (StagingSource::PointInTime, Some(id)) => {
            return refuse(format!(
                "{} is an instance of the DB cluster {id}: RDS restores a cluster's database to a point in time by cluster, and \
                 aurora-clone does that copy-on-write in minutes: use aurora-clone (or snapshot)",
                production.id
            ))
        }
        (_, Some(id)) => id,
        (_, None) => return Ok(None),
    };
    let cluster = cloud
        .describe_cluster(cluster_id)
        .await
        .op("DescribeDBClusters")?
        .ok_or_else(|| StepError::ProductionNotReady(format!("production database cluster {cluster_id} does not exist")))?;
    // A Multi-AZ DB cluster (engine `postgres`) has a DBClusterIdentifier too, but no
    // copy-on-write, and no instance can be added to one.
    if !cluster.engine.starts_with("aurora") {
        return refuse(format!(
            "{} copies an Aurora cluster by adding a staging instance to its copy, which only Aurora allows: {cluster_id} is a {} cluster",
            source.name(),
            cluster.engine
        ));
    }
    Ok(Some(cluster))
}

async fn pin_release_image<C: ContainerImages + Sync>(cloud: &C, requested: &str, pinned: Option<&str>) -> Result<String, StepError> {
    let name = ImageName::parse(requested).map_err(|problem| StepError::invalid("service.image", problem))?;
    if let Some(pinned) = pinned {
        return match ImageName::parse(pinned) {
            Ok(image) if image.is_pinned() && image.repository_uri() == name.repository_uri() => Ok(image.to_string()),
            _ => {
                Err(StepError::MalformedInput(format!("the staging run's release {pinned:?} is not a digest of {}", name.repository_uri())))
            }
        };
    }
    match cloud.resolve_image(&name).await {
        Ok(Some(image)) => Ok(image.pinned()),
        Ok(None) => Err(StepError::invalid("service.image", format!("{name} names no image in its repository"))),
        Err(e) if e.is(CloudErrorKind::NotFound) => {
            Err(StepError::invalid("service.image", format!("the repository {} does not exist", name.repository_uri())))
        }
        Err(e) => Err(StepError::from_cloud("DescribeImages", e)),
    }
}

/// App Runner builds staging from production's repository (the stack's for an image-based
/// production) at the document's branch: staging rehearses production's code, and the document
/// picks only the branch.
fn code_release(run: &RunInput, stack: &StackSettings, production_service: &ServiceInfo) -> Result<ReleaseSource, StepError> {
    let (repository_url, connection_arn) = match production_service.source.clone() {
        Some(source) => (source.repository_url, source.connection_arn),
        None if !stack.repository_url.is_empty() && !stack.connection_arn.is_empty() => {
            (stack.repository_url.clone(), stack.connection_arn.clone())
        }
        None => {
            return Err(StepError::invalid(
                "stack.repository_url",
                format!(
                    "production service {} runs an image and names no repository: set the stack's StagingRepositoryUrl and StagingConnectionArn",
                    production_service.name
                ),
            ))
        }
    };
    let repository = ServiceSource { repository_url, branch: run.service.branch.clone(), connection_arn };
    // Production's build when its service is configured through the API; the stack's when it
    // reads apprunner.yaml.
    let build = production_service.build.clone().unwrap_or_else(|| stack.build.clone());
    Ok(ReleaseSource::Code { repository, build, auto_deployments: run.service.auto_deployments })
}
