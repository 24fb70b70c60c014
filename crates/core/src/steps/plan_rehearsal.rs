//! Before anything: validate the run document, then read production (never write it) and fix
//! every name, tag and setting the other steps use. Failing here costs nothing: the state
//! machine fails without a rollback, because nothing was created yet.
//!
//! Step: `plan_rehearsal` (staging.asl.json `PlanRehearsal`; promote's `verify_rehearsal_passed`
//! plans again from the staging execution's input). Tests: tests/steps/plan_rehearsal.rs; end to end,
//! tests/staging_pipeline.rs `the_state_machine_refuses_bad_input_too`,
//! `a_live_stripe_key_under_the_test_path_stops_the_run_before_anything_is_created`, and every other
//! test there, which starts with it.

use super::required_parameter;
use crate::cloud::{
    AppRunnerSettings, CodeBuild, HostSettings, ParameterStore, Rds, ReleaseSource, ServiceHost, ServiceLocation, ServiceSource,
    ServiceSpec,
};
use crate::error::CloudResultExt;
use crate::naming::{default_run_id, parameter_name, production_snapshot_id};
use crate::plan::{
    ProductionFacts, RunPlan, StagingDbPlan, StripeWebhookPlan, BACKFILL_TOKEN, COPIED_FROM_PRODUCTION, DATABASE_URL, STAGING_ENVIRONMENT,
    STRIPE_KEYS,
};
use crate::run::RunInput;
use crate::tags::RunTags;
use crate::StepError;
use chrono::{DateTime, Utc};
use serde::Deserialize;
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
    /// `$$.Execution.StartTime`: fixes the run date, so every retry plans the same names.
    pub execution_start: DateTime<Utc>,
}

pub async fn plan_rehearsal<C: Rds + ParameterStore + ServiceHost + Sync>(cloud: &C, input: PlanInput) -> Result<RunPlan, StepError> {
    let run = RunInput::from_json(input.input)?;
    run.validate()?;
    let run_date = run.run_date.unwrap_or_else(|| input.execution_start.date_naive());
    let run_id = run.run_id.clone().unwrap_or_else(|| default_run_id(&run.app, run_date));

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

    for key in COPIED_FROM_PRODUCTION.iter().chain([DATABASE_URL].iter()) {
        required_parameter(cloud, &parameter_name(&run.production.parameter_path, key)).await?;
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
    required_parameter(cloud, &run.validation.test_admin_password_parameter).await?;

    let vpc_connector_arn = cloud
        .find_vpc_connector(&run.service.vpc_connector)
        .await
        .op("ListVpcConnectors")?
        .ok_or_else(|| StepError::invalid("service.vpc_connector", format!("no VPC connector named {}", run.service.vpc_connector)))?;
    let production_source = production_service.source.clone();
    let source = ServiceSource {
        repository_url: run
            .service
            .repository_url
            .clone()
            .or_else(|| production_source.as_ref().map(|s| s.repository_url.clone()))
            .ok_or_else(|| StepError::invalid("service.repository_url", "production's service is not built from a repository; give one"))?,
        branch: run.service.branch.clone(),
        connection_arn: run
            .service
            .connection_arn
            .clone()
            .or_else(|| production_source.as_ref().map(|s| s.connection_arn.clone()))
            .ok_or_else(|| StepError::invalid("service.connection_arn", "production's service has no source connection; give one"))?,
    };
    let instance_role_arn = run
        .service
        .instance_role_arn
        .clone()
        .or_else(|| production_service.instance_role_arn.clone())
        .ok_or_else(|| StepError::invalid("service.instance_role_arn", "production's service has no instance role; give one"))?;

    let staging_parameter_path = run.staging.parameter_path.clone();
    let mut environment: BTreeMap<String, String> = run.service.environment.clone();
    environment.insert(BACKFILL_TOKEN_PARAMETER_VARIABLE.to_string(), parameter_name(&staging_parameter_path, BACKFILL_TOKEN));

    Ok(RunPlan {
        app: run.app.clone(),
        tags: RunTags { app: run.app.clone(), environment: STAGING_ENVIRONMENT.to_string(), run_id: run_id.clone() },
        run_id,
        run_date,
        started_at: input.execution_start,
        production: ProductionFacts {
            db_instance_id: production_db.id.clone(),
            parameter_path: run.production.parameter_path.clone(),
            service_name: production_service.name.clone(),
            service_arn: production_service.arn.clone(),
        },
        snapshot_id: production_snapshot_id(&production_db.id, run_date),
        staging_db: StagingDbPlan {
            instance_id: run.staging.db_instance_id.clone(),
            class: run.staging.db_instance_class.clone(),
            // The runbook: same subnet group and security groups as production.
            subnet_group: run.staging.db_subnet_group.clone().or(production_db.subnet_group.clone()),
            security_group_ids: run.staging.vpc_security_group_ids.clone().unwrap_or(production_db.security_group_ids.clone()),
            publicly_accessible: false,
        },
        staging_parameter_path,
        stripe_test_parameter_path: run.stripe.test_parameter_path.clone(),
        stripe_publishable_key: run.stripe.publishable_key.clone(),
        stripe_webhook: StripeWebhookPlan { path: run.stripe.webhook_path.clone(), events: run.stripe.webhook_events.clone() },
        service: ServiceSpec {
            name: run.service.name.clone(),
            cpu: run.service.cpu.clone(),
            memory: run.service.memory.clone(),
            port: run.service.port,
            source: ReleaseSource::Code {
                repository: source,
                build: CodeBuild {
                    runtime: run.service.runtime.clone(),
                    build_command: run.service.build_command.clone(),
                    start_command: run.service.start_command.clone(),
                },
                auto_deployments: run.service.auto_deployments,
            },
            health_check_path: run.validation.health_path.clone(),
            environment,
            secrets: BTreeMap::new(),
            host: HostSettings::AppRunner(AppRunnerSettings { vpc_connector_arn, instance_role_arn }),
        },
        validation: run.validation.clone(),
        ttl_hours: run.ttl_hours,
        timeouts: run.timeouts.clone(),
        masking: run.masking.resolve(&run.app, &run.validation.test_admin_email)?,
    })
}
