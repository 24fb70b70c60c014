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
    AppRunnerSettings, CodeBuild, HostSettings, ParameterStore, Rds, ReleaseSource, ServiceHost, ServiceLocation, ServiceSource,
    ServiceSpec,
};
use crate::error::CloudResultExt;
use crate::limits::{command_problem, connection_arn_problem, https_url_problem, iam_role_arn_problem, vpc_connector_problem};
use crate::naming::{parameter_name, production_snapshot_id, run_id};
use crate::plan::{
    ProductionFacts, RunPlan, SecretKeyPlan, StagingDbPlan, StripeWebhookPlan, BACKFILL_TOKEN, COPIED_FROM_PRODUCTION, DATABASE_URL,
    STAGING_ENVIRONMENT, STRIPE_KEYS,
};
use crate::run::{RunInput, RUNTIMES};
use crate::tags::RunTags;
use crate::StepError;
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
}

impl StackSettings {
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

pub async fn plan_rehearsal<C: Rds + ParameterStore + ServiceHost + Sync>(cloud: &C, input: PlanInput) -> Result<RunPlan, StepError> {
    let run = RunInput::from_json(input.input)?;
    run.validate()?;
    input.stack.validate()?;
    let stack = &input.stack;
    let run_id = run_id(&run.app, &input.execution_name, input.execution_start);
    let snapshot_id = production_snapshot_id(&run_id);

    let production_db = match cloud.describe_instance(&run.production.db_instance_id).await.op("DescribeDBInstances")? {
        Some(db) if db.status == "available" => db,
        Some(db) => return Err(StepError::ProductionNotReady(format!("production database {} is {}, not available", db.id, db.status))),
        None => return Err(StepError::ProductionNotReady(format!("production database {} does not exist", run.production.db_instance_id))),
    };
    let production_service = cloud
        .find_service(&run.production.service_name, &ServiceLocation::AppRunner)
        .await
        .op("ListServices")?
        .ok_or_else(|| StepError::ProductionNotReady(format!("production service {} does not exist", run.production.service_name)))?;

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

    let vpc_connector_arn = cloud
        .find_vpc_connector(&stack.vpc_connector)
        .await
        .op("ListVpcConnectors")?
        .ok_or_else(|| StepError::invalid("stack.vpc_connector", format!("no VPC connector named {}", stack.vpc_connector)))?;
    // Repository and connection are production's (the stack's for an image-based production):
    // staging rehearses production's code, and the document picks only the branch.
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
    let source = ServiceSource { repository_url, branch: run.service.branch.clone(), connection_arn };
    // Production's build when its service is configured through the API; the stack's when it
    // reads apprunner.yaml.
    let build = production_service.build.clone().unwrap_or_else(|| stack.build.clone());

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
            parameter_path: run.production.parameter_path.clone(),
            service_name: production_service.name.clone(),
            service_arn: production_service.arn.clone(),
        },
        snapshot_id,
        staging_db: StagingDbPlan {
            instance_id: run.staging.db_instance_id.clone(),
            class: run.staging.db_instance_class.clone(),
            // The runbook: same subnet group and security groups as production, never the caller's.
            subnet_group: production_db.subnet_group.clone(),
            security_group_ids: production_db.security_group_ids.clone(),
        },
        staging_parameter_path,
        secret_key: SecretKeyPlan { source: run.staging.secret_key, exposes: run.staging.secret_key.exposes().to_string() },
        stripe_test_parameter_path: run.stripe.test_parameter_path.clone(),
        stripe_publishable_key: run.stripe.publishable_key.clone(),
        stripe_webhook: StripeWebhookPlan { path: run.stripe.webhook_path.clone(), events: run.stripe.webhook_events.clone() },
        service: ServiceSpec {
            name: run.service.name.clone(),
            cpu: run.service.cpu.clone(),
            memory: run.service.memory.clone(),
            port: run.service.port,
            source: ReleaseSource::Code { repository: source, build, auto_deployments: run.service.auto_deployments },
            health_check_path: run.validation.health_path.clone(),
            environment,
            secrets: BTreeMap::new(),
            host: HostSettings::AppRunner(AppRunnerSettings {
                vpc_connector_arn,
                // Never production's role: it reads production's parameters (live Stripe keys).
                instance_role_arn: stack.staging_instance_role_arn.clone(),
            }),
        },
        validation: run.validation.clone(),
        ttl_hours: run.ttl_hours,
        timeouts: run.timeouts.clone(),
        masking: run.masking.resolve(&run.app, &run.validation.test_admin_email)?,
    })
}
