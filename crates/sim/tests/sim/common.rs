//! The runbook's steps 1–4 through the traits, and small helpers.

use chrono::{DateTime, TimeZone, Utc};
use rehearsal_core::cloud::{
    AppRunnerSettings, CodeBuild, HostSettings, ParameterKind, ParameterStore, Rds, ReleaseSource, RestoreRequest, ServiceHost,
    ServiceSource, ServiceSpec,
};
use rehearsal_core::tags::{RunTags, Tags};
use rehearsal_core::Secret;
use rehearsal_sim::seed::*;
use rehearsal_sim::{SimAccount, SimConfig, BACKFILL_TOKEN_PARAMETER_VARIABLE};
use std::collections::BTreeMap;
use std::time::Duration;

pub const RUN: &str = "tableicty-20251225";
pub const SNAPSHOT: &str = "tableicty-production-backup-20251225";
pub const STAGING_DB: &str = "tableicty-staging-db";
pub const STAGING_ENDPOINT: &str = "tableicty-staging-db.c9akciq32.us-east-1.rds.amazonaws.com";
pub const STAGING_SERVICE: &str = "tableicty-staging-backend";
pub const STAGING_PATH: &str = "/tableicty/staging/";
pub const BACKFILL_TOKEN: &str = "one-time-token-7f3a";

pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 12, 25, 9, 0, 0).unwrap()
}

pub fn account() -> SimAccount {
    SimAccount::new(SimConfig::default(), start())
}

/// Lets virtual time pass (instantly, the clock being paused).
pub async fn minutes(m: u64) {
    tokio::time::sleep(Duration::from_secs(60 * m)).await;
}

pub fn run_tags(run_id: &str) -> Tags {
    RunTags { app: "tableicty".into(), environment: "staging".into(), run_id: run_id.into() }.to_tags()
}

pub fn tags() -> Tags {
    run_tags(RUN)
}

pub fn restore_request(id: &str) -> RestoreRequest {
    RestoreRequest {
        instance_id: id.into(),
        source: rehearsal_core::cloud::RestoreSource::Snapshot(SNAPSHOT.into()),
        class: "db.t3.micro".into(),
        subnet_group: Some(DB_SUBNET_GROUP.into()),
        security_group_ids: vec![DB_SECURITY_GROUP.into()],
        parameter_group: None,
        option_group: None,
        publicly_accessible: false,
        tags: tags(),
    }
}

pub fn spec(secrets: BTreeMap<String, String>) -> ServiceSpec {
    ServiceSpec {
        name: STAGING_SERVICE.into(),
        cpu: "0.25 vCPU".into(),
        memory: "0.5 GB".into(),
        port: 8000,
        source: ReleaseSource::Code {
            repository: ServiceSource {
                repository_url: REPOSITORY_URL.into(),
                branch: "main".into(),
                connection_arn: CONNECTION_ARN.into(),
            },
            build: CodeBuild {
                runtime: "PYTHON_311".into(),
                build_command: "pip install -r requirements.txt".into(),
                start_command: "./start.sh".into(),
            },
            auto_deployments: false,
        },
        health_check_path: "/api/v1/health/".into(),
        host: HostSettings::AppRunner(AppRunnerSettings {
            vpc_connector_arn: VPC_CONNECTOR_ARN.into(),
            instance_role_arn: STAGING_INSTANCE_ROLE_ARN.into(),
        }),
        environment: BTreeMap::from([
            ("IS_PRODUCTION".into(), "False".into()),
            ("DEBUG".into(), "False".into()),
            ("ALLOWED_HOSTS".into(), "*".into()),
            (BACKFILL_TOKEN_PARAMETER_VARIABLE.into(), format!("{STAGING_PATH}BACKFILL_TOKEN")),
        ]),
        secrets,
    }
}

pub async fn value_of(account: &SimAccount, name: &str) -> Secret {
    account.session("operator").get_parameter(name).await.unwrap().unwrap_or_else(|| panic!("{name} missing")).value
}

/// Where staging got to.
pub struct Staged {
    pub service_arn: String,
    pub url: String,
    pub database_url: Secret,
    pub secrets: BTreeMap<String, String>,
}

pub async fn snapshot_and_restore(account: &SimAccount) {
    account.session("snapshot_production_database").create_snapshot(PRODUCTION_DB, SNAPSHOT, &tags()).await.unwrap();
    minutes(10).await;
    account.session("restore_staging_database").restore_instance(&restore_request(STAGING_DB)).await.unwrap();
    minutes(12).await;
}

/// Writes the staging parameters (tagged) and answers variable → ARN.
pub async fn write_parameters(account: &SimAccount) -> (BTreeMap<String, String>, Secret) {
    let ssm = account.session("write_staging_parameters");
    let mut secrets = BTreeMap::new();
    let mut values = Vec::new();
    for key in ["SECRET_KEY", "PGCRYPTO_KEY"] {
        values.push((key, value_of(account, &format!("{PRODUCTION_PARAMETER_PATH}{key}")).await, ParameterKind::SecureString));
    }
    for (key, kind) in [
        ("STRIPE_SECRET_KEY", ParameterKind::SecureString),
        ("STRIPE_WEBHOOK_SECRET", ParameterKind::SecureString),
        ("STRIPE_PUBLISHABLE_KEY", ParameterKind::String),
    ] {
        values.push((key, value_of(account, &format!("{STRIPE_TEST_PARAMETER_PATH}{key}")).await, kind));
    }
    let production_url = value_of(account, &format!("{PRODUCTION_PARAMETER_PATH}DATABASE_URL")).await;
    let database_url = Secret::new(production_url.expose().replace(PRODUCTION_DB_ENDPOINT, STAGING_ENDPOINT));
    values.push(("DATABASE_URL", database_url.clone(), ParameterKind::SecureString));
    values.push(("FRONTEND_URL", Secret::new("https://staging.pending"), ParameterKind::String));
    for (key, value, kind) in values {
        let name = format!("{STAGING_PATH}{key}");
        let arn = ssm.put_parameter(&name, &value, kind, false).await.unwrap();
        ssm.add_parameter_tags(&name, &tags()).await.unwrap();
        secrets.insert(key.to_string(), arn);
    }
    let token = format!("{STAGING_PATH}BACKFILL_TOKEN");
    ssm.put_parameter(&token, &Secret::new(BACKFILL_TOKEN), ParameterKind::SecureString, false).await.unwrap();
    ssm.add_parameter_tags(&token, &tags()).await.unwrap();
    (secrets, database_url)
}

/// Runbook steps 1–4: snapshot, restore, parameters, service, each waited for.
pub async fn stage(account: &SimAccount) -> Staged {
    snapshot_and_restore(account).await;
    let (secrets, database_url) = write_parameters(account).await;
    let (info, _) = account.session("create_staging_service").create_service(&spec(secrets.clone()), &tags()).await.unwrap();
    minutes(6).await;
    // CreateService may answer without ServiceUrl: DescribeService has it.
    let described = account.session("check_staging_service").describe_service(&info.arn).await.unwrap().expect("the service exists");
    Staged { service_arn: info.arn, url: format!("https://{}", described.url), database_url, secrets }
}
