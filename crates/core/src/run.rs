//! The run document: what a console execution, the API and the CLI send to start a rehearsal.
//! Every field has the runbook's value as its default, so `{}` rehearses tableicty as the guide
//! does. [`RunInput::validate`] refuses bad input with the field's name before any AWS call.

use crate::cloud::ServiceBackend;
use crate::image::ImageName;
use crate::limits::{
    branch_problem, bucket_name_problem, check_document_size, db_instance_class_problem, email_problem, object_key_problem,
    parameter_name_problem, parameter_path_problem, staging_setting_problem, url_path_problem, variable_name_problem,
    MAX_ENVIRONMENT_VARIABLES,
};
use crate::naming::{
    app_problem, path_is_within, promotion_identifiers_problem, rds_identifier_problem, service_name_problem, MAX_STAGING_DB_ID_LENGTH,
};
use crate::StepError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunInput {
    /// Application name, used in tags and default names. The run's id is not the document's:
    /// it is derived from the execution (`naming::run_id`).
    pub app: String,
    /// Hours staging lives before the scheduled teardown (1 to 168).
    pub ttl_hours: u32,
    pub production: ProductionInput,
    pub staging: StagingInput,
    pub service: ServiceInput,
    pub stripe: StripeInput,
    pub validation: ValidationInput,
    /// How long each wait may take before the run gives up and rolls back.
    pub timeouts: TimeoutsInput,
    /// Masking of person data in the staging copy, before the service exists (on by default).
    pub masking: crate::masking::MaskingInput,
    /// The staging frontend: production's build copied into a staging bucket, its runtime
    /// configuration pointed at the staging backend.
    pub frontend: FrontendInput,
}

/// `frontend`: where production's build is, the staging bucket, and the runtime configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FrontendInput {
    /// Production's frontend bucket: only listed and read.
    pub production_bucket: String,
    /// Copy only the objects under this key prefix (a release, `releases/41/`), which becomes
    /// the staging bucket's root; empty: the whole bucket.
    pub release_prefix: String,
    /// The bucket the run creates (S3 names are global: one another account holds is refused).
    pub staging_bucket: String,
    /// The runtime configuration object, relative to the release prefix.
    pub config_key: String,
    /// The top-level string field of that JSON object that holds the API URL.
    pub api_url_field: String,
    pub serving: FrontendServing,
}

/// How the staging frontend is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FrontendServing {
    /// The runbook's: the build in a private S3 bucket (public access blocked), as production's.
    #[default]
    S3,
    /// An S3 website endpoint: needs a public bucket policy, which blocked public access forbids.
    S3Website,
    /// A CloudFront distribution with origin access control, created by the run: the bucket stays
    /// private, the frontend is served over HTTPS at the distribution's domain, which is also
    /// staging's FRONTEND_URL (known before the service starts, so it needs no redeploy).
    Cloudfront,
}

impl Default for FrontendInput {
    fn default() -> Self {
        Self {
            production_bucket: "tableicty-frontend".into(),
            release_prefix: String::new(),
            staging_bucket: "tableicty-staging".into(),
            config_key: "config.json".into(),
            api_url_field: "apiUrl".into(),
            serving: FrontendServing::S3,
        }
    }
}

impl FrontendInput {
    /// The staging bucket must be a bucket of its own, the keys inside it, the serving mode one
    /// that is built.
    fn validate(&self) -> Result<(), StepError> {
        let bad = |field: &str, reason: String| Err(StepError::invalid(field, reason));
        for (field, bucket) in [("frontend.production_bucket", &self.production_bucket), ("frontend.staging_bucket", &self.staging_bucket)]
        {
            if let Some(problem) = bucket_name_problem(bucket) {
                return bad(field, problem);
            }
        }
        if self.staging_bucket == self.production_bucket {
            return bad(
                "frontend.staging_bucket",
                format!("{:?} is the production bucket, which a staging run only reads", self.staging_bucket),
            );
        }
        if !self.release_prefix.is_empty() {
            if !self.release_prefix.ends_with('/') {
                return bad("frontend.release_prefix", format!("{:?} must end with '/'", self.release_prefix));
            }
            if let Some(problem) = object_key_problem(&self.release_prefix) {
                return bad("frontend.release_prefix", problem);
            }
        }
        if self.config_key.is_empty() || self.config_key.ends_with('/') {
            return bad("frontend.config_key", format!("{:?} must name an object, not a prefix", self.config_key));
        }
        if let Some(problem) = object_key_problem(&format!("{}{}", self.release_prefix, self.config_key)) {
            return bad("frontend.config_key", problem);
        }
        if self.api_url_field.is_empty() || self.api_url_field.len() > 128 || self.api_url_field.chars().any(char::is_control) {
            return bad("frontend.api_url_field", "must be 1 to 128 characters without control characters".into());
        }
        match self.serving {
            FrontendServing::S3 | FrontendServing::Cloudfront => Ok(()),
            FrontendServing::S3Website => bad(
                "frontend.serving",
                "s3-website needs a public bucket policy, which the staging bucket's blocked public access forbids (and website \
                 endpoints serve no HTTPS); use s3"
                    .into(),
            ),
        }
    }
}

/// The production stack, only ever read by a staging run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProductionInput {
    pub db_instance_id: String,
    pub parameter_path: String,
    pub service_name: String,
}

/// The staging copy's size and names. Its subnet group and security groups are production's
/// instance's, and it is never public: the document has no say in its network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StagingInput {
    pub db_instance_id: String,
    pub db_instance_class: String,
    pub parameter_path: String,
    /// Django's SECRET_KEY: production's (`copy`, as the runbook does) or a new one (`generate`).
    pub secret_key: SecretKeySource,
    /// Where the copy comes from: `snapshot` (the runbook: restore the safety snapshot once it
    /// is taken) or `point-in-time` (restore production's automated backups to the latest
    /// restorable time while the safety snapshot, which the rollback plan still gets, is taken)
    /// or `aurora-clone` (production's instance is in an Aurora cluster, its DBClusterIdentifier:
    /// clone that cluster copy-on-write and add one staging instance).
    pub source: StagingSource,
    /// Issue 16: read the copy's largest tables once it is masked, before the service exists:
    /// a restored RDS volume loads its blocks lazily from S3, so first queries are slow.
    pub prewarm: PrewarmInput,
}

/// `staging.prewarm`: off unless enabled; bounded in time and in tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrewarmInput {
    pub enabled: bool,
    /// The whole warm-up's limit; what is not read by then stays cold.
    pub max_seconds: u32,
    /// How many of the largest tables are read.
    pub tables: u32,
}

impl Default for PrewarmInput {
    fn default() -> Self {
        Self { enabled: false, max_seconds: 300, tables: 5 }
    }
}

impl PrewarmInput {
    /// The step is one Lambda invocation (at most 900 s): a minute is left for connecting, reading
    /// the parameters and the sample query after.
    pub const MAX_SECONDS: std::ops::RangeInclusive<u32> = 10..=840;
    pub const TABLES: std::ops::RangeInclusive<u32> = 1..=20;
}

/// How the staging copy is made. The plan says what each costs in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StagingSource {
    /// Restore the production snapshot of runbook step 1 (the runbook's order).
    #[default]
    Snapshot,
    /// `RestoreDBInstanceToPointInTime` (latest restorable time), started beside the snapshot:
    /// the snapshot's minutes leave the critical path. Needs production's automated backups.
    PointInTime,
    /// Production is an instance of an Aurora cluster: clone that cluster copy-on-write
    /// (minutes, whatever its size) and add one instance of `staging.db_instance_class`.
    AuroraClone,
}

impl StagingSource {
    pub fn name(self) -> &'static str {
        match self {
            Self::Snapshot => "snapshot",
            Self::PointInTime => "point-in-time",
            Self::AuroraClone => "aurora-clone",
        }
    }
}

/// Where staging's SECRET_KEY comes from. The plan says what the choice exposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretKeySource {
    /// Production's, as the runbook copies it.
    #[default]
    Copy,
    /// A new random key for staging alone.
    Generate,
}

impl SecretKeySource {
    /// What the choice means for production, for the plan and the operator.
    pub fn exposes(self) -> &'static str {
        match self {
            Self::Copy => {
                "staging holds production's SECRET_KEY: whoever can read the staging parameters or run code on staging can sign \
                 sessions, password-reset links and anything else Django signs that production accepts; PGCRYPTO_KEY is copied \
                 too (the restored data is encrypted with it)"
            }
            Self::Generate => {
                "staging signs with its own SECRET_KEY: what it signs is worthless on production and production's sessions and \
                 links are invalid on staging; PGCRYPTO_KEY is still production's (the restored data is encrypted with it)"
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceInput {
    pub name: String,
    /// App Runner CPU: "0.25 vCPU", "0.5 vCPU", "1 vCPU", "2 vCPU" or "4 vCPU".
    pub cpu: String,
    /// App Runner memory: "0.5 GB" up to "12 GB".
    pub memory: String,
    pub port: u16,
    /// Where staging runs: `apprunner` (the runbook's; closed to new customers since
    /// 2026-04-30) or `ecs-express` (ECS Express Mode, what AWS offers instead). Production
    /// runs on the same backend: a rehearsal deploys as production does.
    pub backend: ServiceBackend,
    /// The release as a container image in ECR, `<registry>/<repository>:<tag>` or
    /// `…@sha256:<digest>`. The plan pins a tag to its digest once; staging runs that digest and
    /// the promotion deploys exactly it. Required on `ecs-express`; without it, App Runner
    /// builds `branch`.
    pub image: Option<String>,
    /// The branch of production's repository staging builds when no image is named: the one thing about the code the
    /// document chooses. Repository, connection, runtime and commands are production's (or the
    /// stack's), and the service runs as the stack's staging role.
    pub branch: String,
    /// The runbook deploys manually; automatic deployments are off unless set.
    pub auto_deployments: bool,
    /// Plain-text environment variables.
    pub environment: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StripeInput {
    /// Where the Stripe **test** keys live (STRIPE_SECRET_KEY, STRIPE_PUBLISHABLE_KEY,
    /// STRIPE_WEBHOOK_SECRET). Secret values never travel in the run document.
    pub test_parameter_path: String,
    /// Optional inline publishable key (not a secret); must be a `pk_test_` key.
    pub publishable_key: Option<String>,
    /// The app's Stripe webhook path; the run registers `https://<staging URL><path>` with Stripe.
    pub webhook_path: String,
    /// Events the staging webhook endpoint receives.
    pub webhook_events: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ValidationInput {
    pub health_path: String,
    pub login_path: String,
    pub refresh_path: String,
    pub billing_path: String,
    pub tenant_register_path: String,
    /// The one-time endpoint that runs the data backfill (runbook step 6, option A).
    pub backfill_path: String,
    pub test_admin_email: String,
    /// SecureString holding the test admin's password.
    pub test_admin_password_parameter: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimeoutsInput {
    pub snapshot_minutes: u32,
    pub restore_minutes: u32,
    pub service_minutes: u32,
}

impl Default for RunInput {
    fn default() -> Self {
        Self {
            app: "tableicty".into(),
            ttl_hours: 24,
            production: ProductionInput::default(),
            staging: StagingInput::default(),
            service: ServiceInput::default(),
            stripe: StripeInput::default(),
            validation: ValidationInput::default(),
            timeouts: TimeoutsInput::default(),
            masking: crate::masking::MaskingInput::default(),
            frontend: FrontendInput::default(),
        }
    }
}

impl Default for ProductionInput {
    fn default() -> Self {
        Self {
            db_instance_id: "tableicty-production-db".into(),
            parameter_path: "/tableicty/production/".into(),
            service_name: "tableicty-backend".into(),
        }
    }
}

impl Default for StagingInput {
    fn default() -> Self {
        Self {
            db_instance_id: "tableicty-staging-db".into(),
            db_instance_class: "db.t3.micro".into(),
            parameter_path: "/tableicty/staging/".into(),
            secret_key: SecretKeySource::Copy,
            source: StagingSource::Snapshot,
            prewarm: PrewarmInput::default(),
        }
    }
}

impl Default for ServiceInput {
    fn default() -> Self {
        Self {
            name: "tableicty-staging-backend".into(),
            cpu: "0.25 vCPU".into(),
            memory: "0.5 GB".into(),
            port: 8000,
            backend: ServiceBackend::AppRunner,
            image: None,
            branch: "main".into(),
            auto_deployments: false,
            environment: BTreeMap::from([
                ("IS_PRODUCTION".to_string(), "False".to_string()),
                ("DEBUG".to_string(), "False".to_string()),
                ("ALLOWED_HOSTS".to_string(), "*".to_string()),
            ]),
        }
    }
}

impl Default for StripeInput {
    fn default() -> Self {
        Self {
            test_parameter_path: "/tableicty/rehearsal/".into(),
            publishable_key: None,
            webhook_path: "/api/v1/billing/webhook/".into(),
            webhook_events: [
                "checkout.session.completed",
                "customer.subscription.created",
                "customer.subscription.updated",
                "customer.subscription.deleted",
                "invoice.paid",
                "invoice.payment_failed",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

impl Default for ValidationInput {
    fn default() -> Self {
        Self {
            health_path: "/api/v1/health/".into(),
            login_path: "/api/v1/auth/login/".into(),
            refresh_path: "/api/v1/auth/refresh/".into(),
            billing_path: "/api/v1/billing/subscription/".into(),
            tenant_register_path: "/api/v1/tenant/register/".into(),
            backfill_path: "/api/v1/admin/backfill-tenants/".into(),
            test_admin_email: "testadmin@tableicty.com".into(),
            test_admin_password_parameter: "/tableicty/rehearsal/TEST_ADMIN_PASSWORD".into(),
        }
    }
}

impl Default for TimeoutsInput {
    fn default() -> Self {
        Self { snapshot_minutes: 60, restore_minutes: 90, service_minutes: 30 }
    }
}

/// App Runner's managed runtimes.
pub(crate) const RUNTIMES: [&str; 12] = [
    "PYTHON_3",
    "PYTHON_311",
    "NODEJS_12",
    "NODEJS_14",
    "NODEJS_16",
    "NODEJS_18",
    "NODEJS_22",
    "CORRETTO_8",
    "CORRETTO_11",
    "GO_1",
    "DOTNET_6",
    "RUBY_31",
];
const CPU_VALUES: [&str; 5] = ["0.25 vCPU", "0.5 vCPU", "1 vCPU", "2 vCPU", "4 vCPU"];
const MEMORY_VALUES: [&str; 9] = ["0.5 GB", "1 GB", "2 GB", "3 GB", "4 GB", "6 GB", "8 GB", "10 GB", "12 GB"];
/// Only small burstable classes: a rehearsal copy that needs more is a mistake worth stopping.
const CLASS_PREFIXES: [&str; 2] = ["db.t3.", "db.t4g."];
/// Environment variables the run sets itself from Parameter Store; plain values may not shadow them.
pub const PARAMETER_BACKED_VARIABLES: [&str; 7] =
    ["DATABASE_URL", "SECRET_KEY", "PGCRYPTO_KEY", "STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SECRET", "FRONTEND_URL"];

/// Fields the run document no longer takes, with where the value comes from instead: a
/// document that still carries one is refused naming it (the caller would otherwise expect it to
/// apply). Commands, repository, connection, role and network decide what runs with which
/// powers, so they are production's or the stack's, never the caller's.
const NOT_ACCEPTED: [(&str, &str); 19] = [
    ("run_id", "a run's id is derived from its execution (name and start time)"),
    ("run_date", "a run's names are derived from its execution (name and start time)"),
    ("service.runtime", "staging takes it from production's service (or the stack's StagingRuntime)"),
    ("service.build_command", "staging takes it from production's service (or the stack's StagingBuildCommand)"),
    ("service.start_command", "staging takes it from production's service (or the stack's StagingStartCommand)"),
    ("service.repository_url", "staging takes it from production's service"),
    ("service.connection_arn", "staging takes it from production's service"),
    ("service.instance_role_arn", "staging runs as the stack's staging instance role"),
    ("service.vpc_connector", "staging takes it from the stack's StagingVpcConnector"),
    ("service.access_role_arn", "App Runner pulls staging's image with the stack's StagingImageAccessRole"),
    ("service.execution_role_arn", "staging's ECS tasks start with the stack's StagingEcsExecutionRole, which reads only the staging path"),
    ("service.task_role_arn", "staging's ECS tasks run as the stack's StagingEcsTaskRole"),
    ("service.infrastructure_role_arn", "ECS manages staging's load balancer with the stack's EcsInfrastructureRoleArn"),
    ("service.cluster", "staging runs in production's cluster (or the stack's EcsCluster)"),
    ("service.subnets", "staging takes them from production's service (or the stack's EcsSubnetIds)"),
    ("service.security_groups", "staging takes them from production's service (or the stack's EcsSecurityGroupIds)"),
    ("staging.db_subnet_group", "staging takes it from production's database instance"),
    ("staging.vpc_security_group_ids", "staging takes them from production's database instance"),
    ("staging.publicly_accessible", "the staging copy is never publicly accessible"),
];

/// Parses an execution's input document into `T`, naming the offending field on error.
pub fn parse_document<T: serde::de::DeserializeOwned>(value: serde_json::Value, what: &str) -> Result<T, StepError> {
    // serde would also read a struct from an array; a document is an object only.
    if !value.is_object() {
        return Err(StepError::invalid("(document)", format!("{what} must be a JSON object")));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        // The path names the field, including an unknown one.
        let field = match e.path().to_string() {
            p if p == "." => "(document)".to_string(),
            p => p,
        };
        StepError::invalid(field, e.inner().to_string())
    })
}

impl RunInput {
    /// Parses a run document, naming the offending field on error.
    pub fn from_json(value: serde_json::Value) -> Result<Self, StepError> {
        for (field, source) in NOT_ACCEPTED {
            if value.pointer(&format!("/{}", field.replace('.', "/"))).is_some() {
                return Err(StepError::invalid(field, format!("is not accepted in the run document: {source}")));
            }
        }
        check_document_size(&value)?;
        parse_document(value, "the run document")
    }

    /// Every rule the run document must satisfy; the first broken one is returned.
    pub fn validate(&self) -> Result<(), StepError> {
        let bad = |field: &str, reason: String| Err(StepError::invalid(field, reason));
        if let Some(problem) = app_problem(&self.app) {
            return bad("app", problem);
        }
        let prewarm = &self.staging.prewarm;
        if !PrewarmInput::MAX_SECONDS.contains(&prewarm.max_seconds) {
            return bad(
                "staging.prewarm.max_seconds",
                format!("{} is outside 10 to 840 seconds (the step is one Lambda invocation, 900 s at most)", prewarm.max_seconds),
            );
        }
        if !PrewarmInput::TABLES.contains(&prewarm.tables) {
            return bad("staging.prewarm.tables", format!("{} is outside 1 to 20 tables", prewarm.tables));
        }
        if !(1..=168).contains(&self.ttl_hours) {
            return bad("ttl_hours", format!("{} is outside 1 to 168 hours (one week)", self.ttl_hours));
        }
        for (field, id) in
            [("production.db_instance_id", &self.production.db_instance_id), ("staging.db_instance_id", &self.staging.db_instance_id)]
        {
            if let Some(problem) = rds_identifier_problem(id) {
                return bad(field, format!("{id:?} is not a valid RDS identifier: {problem}"));
            }
        }
        if self.staging.db_instance_id.len() > MAX_STAGING_DB_ID_LENGTH {
            return bad(
                "staging.db_instance_id",
                format!("is longer than {MAX_STAGING_DB_ID_LENGTH} characters: its final snapshot <id>-final-<start>-<digest> would not fit RDS's 63"),
            );
        }
        if let Some(problem) = promotion_identifiers_problem(&self.production.db_instance_id) {
            return bad("production.db_instance_id", problem);
        }
        if self.staging.db_instance_id.eq_ignore_ascii_case(&self.production.db_instance_id) {
            return bad("staging.db_instance_id", "must differ from production.db_instance_id".into());
        }
        if let Some(problem) = db_instance_class_problem(&self.staging.db_instance_class) {
            return bad("staging.db_instance_class", problem);
        }
        if !CLASS_PREFIXES.iter().any(|p| self.staging.db_instance_class.starts_with(p)) {
            return bad(
                "staging.db_instance_class",
                format!("{:?} is not a small burstable class (db.t3.* or db.t4g.*)", self.staging.db_instance_class),
            );
        }
        for (field, path) in [
            ("production.parameter_path", &self.production.parameter_path),
            ("staging.parameter_path", &self.staging.parameter_path),
            ("stripe.test_parameter_path", &self.stripe.test_parameter_path),
        ] {
            if let Some(problem) = parameter_path_problem(path) {
                return bad(field, format!("{path:?} {problem}"));
            }
        }
        let (prod, staging) = (&self.production.parameter_path, &self.staging.parameter_path);
        if path_is_within(staging, prod) {
            return bad("staging.parameter_path", format!("{staging:?} is equal to or inside the production path {prod:?}"));
        }
        if path_is_within(prod, staging) {
            return bad("staging.parameter_path", format!("{staging:?} contains the production path {prod:?}"));
        }
        let stripe = &self.stripe.test_parameter_path;
        if path_is_within(stripe, prod) {
            return bad(
                "stripe.test_parameter_path",
                format!("{stripe:?} is inside the production path: staging must use Stripe test keys"),
            );
        }
        if path_is_within(stripe, staging) {
            return bad("stripe.test_parameter_path", format!("{stripe:?} is inside the staging path, which teardown deletes"));
        }
        if let Some(key) = &self.stripe.publishable_key {
            if key.starts_with("pk_live_") {
                return bad("stripe.publishable_key", "is a live key (pk_live_…); staging must use a test key (pk_test_…)".into());
            }
            if !key.starts_with("pk_test_") {
                return bad("stripe.publishable_key", "must be a Stripe test publishable key (pk_test_…)".into());
            }
        }
        if let Some(problem) = url_path_problem(&self.stripe.webhook_path) {
            return bad("stripe.webhook_path", problem);
        }
        if self.stripe.webhook_events.is_empty()
            || self
                .stripe
                .webhook_events
                .iter()
                .any(|e| e.is_empty() || !e.chars().all(|c| c.is_ascii_lowercase() || c == '.' || c == '_' || c == '*'))
        {
            return bad("stripe.webhook_events", "must be a non-empty list of Stripe event names like invoice.paid".into());
        }
        let password = &self.validation.test_admin_password_parameter;
        if let Some(problem) = parameter_name_problem(password) {
            return bad("validation.test_admin_password_parameter", format!("{password:?} {problem}"));
        }
        if !password.starts_with('/') || path_is_within(password, staging) {
            return bad(
                "validation.test_admin_password_parameter",
                format!("{password:?} must be an absolute parameter name outside the staging path"),
            );
        }
        for (field, name) in [("service.name", &self.service.name), ("production.service_name", &self.production.service_name)] {
            if let Some(problem) = service_name_problem(name) {
                return bad(field, format!("{name:?} {problem}"));
            }
        }
        if self.service.name.eq_ignore_ascii_case(&self.production.service_name) {
            return bad("service.name", "must differ from production.service_name".into());
        }
        self.validate_release()?;
        if self.service.port < 1024 {
            return bad("service.port", format!("{} is a privileged port; apps listen on 1024-65535", self.service.port));
        }
        if let Some(problem) = branch_problem(&self.service.branch) {
            return bad("service.branch", problem);
        }
        if self.service.environment.len() > MAX_ENVIRONMENT_VARIABLES {
            return bad(
                "service.environment",
                format!("sets {} variables; at most {MAX_ENVIRONMENT_VARIABLES}", self.service.environment.len()),
            );
        }
        for (name, value) in &self.service.environment {
            if PARAMETER_BACKED_VARIABLES.contains(&name.as_str()) || name == "BACKFILL_TOKEN_PARAMETER" {
                return bad(
                    &format!("service.environment.{name}"),
                    "is set by the run itself; it must not be given in the run document".into(),
                );
            }
            if let Some(problem) = variable_name_problem(name) {
                return bad("service.environment", problem);
            }
            if let Some(problem) = staging_setting_problem(name, value) {
                return bad(&format!("service.environment.{name}"), problem);
            }
            if name == "IS_PRODUCTION" && !value.eq_ignore_ascii_case("false") {
                return bad("service.environment.IS_PRODUCTION", "staging must run with IS_PRODUCTION=False".into());
            }
        }
        for (field, path) in [
            ("validation.health_path", &self.validation.health_path),
            ("validation.login_path", &self.validation.login_path),
            ("validation.refresh_path", &self.validation.refresh_path),
            ("validation.billing_path", &self.validation.billing_path),
            ("validation.tenant_register_path", &self.validation.tenant_register_path),
            ("validation.backfill_path", &self.validation.backfill_path),
        ] {
            if let Some(problem) = url_path_problem(path) {
                return bad(field, problem);
            }
        }
        if let Some(problem) = email_problem(&self.validation.test_admin_email) {
            return bad("validation.test_admin_email", problem);
        }
        for (field, minutes) in [
            ("timeouts.snapshot_minutes", self.timeouts.snapshot_minutes),
            ("timeouts.restore_minutes", self.timeouts.restore_minutes),
            ("timeouts.service_minutes", self.timeouts.service_minutes),
        ] {
            if !(5..=360).contains(&minutes) {
                return bad(field, format!("{minutes} is outside 5 to 360 minutes"));
            }
        }
        self.masking.resolve(&self.app, &self.validation.test_admin_email)?;
        self.frontend.validate()
    }

    /// The release (an image, or App Runner's branch) and the size in the backend's vocabulary.
    fn validate_release(&self) -> Result<(), StepError> {
        let service = &self.service;
        let image = match &service.image {
            Some(image) => Some(ImageName::parse(image).map_err(|problem| StepError::invalid("service.image", problem))?),
            None => None,
        };
        match service.backend {
            ServiceBackend::AppRunner => {
                if !CPU_VALUES.contains(&service.cpu.as_str()) {
                    return Err(StepError::invalid("service.cpu", format!("{:?} is not one of {CPU_VALUES:?}", service.cpu)));
                }
                if !MEMORY_VALUES.contains(&service.memory.as_str()) {
                    return Err(StepError::invalid("service.memory", format!("{:?} is not one of {MEMORY_VALUES:?}", service.memory)));
                }
                let units = (ecs_cpu_units(&service.cpu).unwrap_or_default(), ecs_memory_mib(&service.memory).unwrap_or_default());
                if !app_runner_allows(units.0, units.1) {
                    return Err(StepError::invalid(
                        "service.memory",
                        format!("App Runner offers no {} instance with {} (see its instance configurations)", service.cpu, service.memory),
                    ));
                }
            }
            ServiceBackend::EcsExpress => {
                if image.is_none() {
                    return Err(StepError::invalid(
                        "service.image",
                        "ecs-express runs a container image (ECS never builds source): name the release's ECR image",
                    ));
                }
                let cpu = ecs_cpu_units(&service.cpu).ok_or_else(|| {
                    StepError::invalid("service.cpu", format!("{:?} is not CPU units (256, 512, 1024, …) or vCPU", service.cpu))
                })?;
                let memory = ecs_memory_mib(&service.memory)
                    .ok_or_else(|| StepError::invalid("service.memory", format!("{:?} is not MiB (512, 1024, …) or GB", service.memory)))?;
                if !fargate_allows(cpu, memory) {
                    return Err(StepError::invalid(
                        "service.memory",
                        format!("{memory} MiB is not a Fargate size for {cpu} CPU units (see the task size table of Amazon ECS)"),
                    ));
                }
            }
        }
        if image.is_none() && service.branch.trim().is_empty() {
            return Err(StepError::invalid("service.branch", "must not be empty"));
        }
        Ok(())
    }
}

/// ECS CPU units from the document's `service.cpu`: units (`"1024"`) or App Runner's words
/// (`"1 vCPU"`), so one document can move between backends.
pub fn ecs_cpu_units(cpu: &str) -> Option<u32> {
    let units = match cpu.strip_suffix(" vCPU") {
        Some(vcpu) => (vcpu.parse::<f64>().ok()? * 1024.0) as u32,
        None => cpu.parse().ok()?,
    };
    (units > 0).then_some(units)
}

/// Memory in MiB from the document's `service.memory`: MiB (`"2048"`) or App Runner's words (`"2 GB"`).
pub fn ecs_memory_mib(memory: &str) -> Option<u32> {
    let mib = match memory.strip_suffix(" GB") {
        Some(gb) => (gb.parse::<f64>().ok()? * 1024.0) as u32,
        None => memory.parse().ok()?,
    };
    (mib > 0).then_some(mib)
}

/// The CPU (units) and memory (MiB) pairs App Runner's instances come in (App Runner developer
/// guide, "Instance configuration"): any other pair is refused by CreateService.
pub fn app_runner_allows(cpu: u32, memory: u32) -> bool {
    match cpu {
        256 => [512, 1024].contains(&memory),
        512 => memory == 1024,
        1024 => [2048, 3072, 4096].contains(&memory),
        2048 => [4096, 6144].contains(&memory),
        4096 => [8192, 10240, 12288].contains(&memory),
        _ => false,
    }
}

/// Fargate's CPU units and the memory (MiB) each allows (Amazon ECS task size table), which
/// ECS Express services are sized by.
pub fn fargate_allows(cpu: u32, memory: u32) -> bool {
    let range = |low: u32, high: u32, step: u32| memory >= low && memory <= high && (memory - low).is_multiple_of(step);
    match cpu {
        256 => [512, 1024, 2048].contains(&memory),
        512 => range(1024, 4096, 1024),
        1024 => range(2048, 8192, 1024),
        2048 => range(4096, 16384, 1024),
        4096 => range(8192, 30720, 1024),
        8192 => range(16384, 61440, 4096),
        16384 => range(32768, 122880, 8192),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::naming::MAX_APP_LENGTH;
    use serde_json::json;

    fn refused(doc: serde_json::Value) -> String {
        let doc_text = doc.to_string();
        let input = match RunInput::from_json(doc) {
            Ok(input) => input,
            Err(StepError::InvalidInput { field, .. }) => return field,
            Err(other) => panic!("unexpected {other:?}"),
        };
        match input.validate() {
            Err(StepError::InvalidInput { field, .. }) => field,
            other => panic!("accepted {doc_text}: {other:?}"),
        }
    }

    #[test]
    fn the_empty_document_is_the_runbook() {
        let input = RunInput::from_json(json!({})).unwrap();
        input.validate().unwrap();
        assert_eq!(input.staging.db_instance_id, "tableicty-staging-db");
        assert_eq!(input.staging.db_instance_class, "db.t3.micro");
        assert_eq!(input.service.port, 8000);
        assert_eq!(input.service.environment["ALLOWED_HOSTS"], "*");
    }

    #[test]
    fn the_example_document_is_accepted() {
        let example: serde_json::Value = serde_json::from_str(include_str!("../../../examples/staging-run.json")).unwrap();
        RunInput::from_json(example).unwrap().validate().unwrap();
    }

    #[test]
    fn the_ecs_express_example_is_accepted_and_sizes_read_in_either_vocabulary() {
        let example: serde_json::Value = serde_json::from_str(include_str!("../../../examples/ecs-express-run.json")).unwrap();
        let input = RunInput::from_json(example).unwrap();
        input.validate().unwrap();
        assert_eq!(input.service.backend, ServiceBackend::EcsExpress);
        assert_eq!(
            [ecs_cpu_units("0.25 vCPU"), ecs_cpu_units("1 vCPU"), ecs_cpu_units("2048"), ecs_cpu_units("x")],
            [Some(256), Some(1024), Some(2048), None]
        );
        assert_eq!(
            [ecs_memory_mib("0.5 GB"), ecs_memory_mib("2 GB"), ecs_memory_mib("3072"), ecs_memory_mib("0")],
            [Some(512), Some(2048), Some(3072), None]
        );
        assert!(fargate_allows(256, 512) && fargate_allows(1024, 8192) && !fargate_allows(256, 4096) && !fargate_allows(300, 1024));
        assert!(
            app_runner_allows(256, 512)
                && app_runner_allows(4096, 12288)
                && !app_runner_allows(256, 2048)
                && !app_runner_allows(2048, 2048)
        );
    }

    #[test]
    fn each_bad_field_is_named() {
        assert_eq!(refused(json!({"staging": {"db_instance_id": "1bad"}})), "staging.db_instance_id");
        assert_eq!(refused(json!({"staging": {"db_instance_id": "tableicty-production-db"}})), "staging.db_instance_id");
        assert_eq!(refused(json!({"staging": {"parameter_path": "/tableicty/production/"}})), "staging.parameter_path");
        assert_eq!(refused(json!({"staging": {"parameter_path": "/tableicty/production/staging/"}})), "staging.parameter_path");
        assert_eq!(refused(json!({"staging": {"parameter_path": "/tableicty/"}})), "staging.parameter_path");
        assert_eq!(refused(json!({"stripe": {"publishable_key": "pk_live_123"}})), "stripe.publishable_key");
        assert_eq!(refused(json!({"stripe": {"test_parameter_path": "/tableicty/production/"}})), "stripe.test_parameter_path");
        assert_eq!(refused(json!({"bogus": 1})), "bogus");
        assert_eq!(refused(json!({"staging": {"bogus": 1}})), "staging.bogus");
        assert_eq!(refused(json!({"ttl_hours": 0})), "ttl_hours");
        assert_eq!(refused(json!({"ttl_hours": 10000})), "ttl_hours");
        assert_eq!(refused(json!({"staging": {"db_instance_class": "db.r6g.16xlarge"}})), "staging.db_instance_class");
        assert_eq!(refused(json!({"service": {"cpu": "64 vCPU"}})), "service.cpu");
        assert_eq!(refused(json!({"service": {"memory": "512 GB"}})), "service.memory");
        assert_eq!(refused(json!({"service": {"cpu": "0.25 vCPU", "memory": "4 GB"}})), "service.memory");
        for field in NOT_ACCEPTED.map(|(f, _)| f) {
            let document = match field.split_once('.') {
                Some((section, key)) => json!({section: {key: "x"}}),
                None => json!({field: "x"}),
            };
            assert_eq!(refused(document), field);
        }
        match RunInput::from_json(json!({"service": {"start_command": "sh -c 'curl x | sh'"}})) {
            Err(e) => assert_eq!(
                e.to_string(),
                "invalid input: field `service.start_command`: is not accepted in the run document: staging takes it from \
                 production's service (or the stack's StagingStartCommand)"
            ),
            Ok(_) => panic!("accepted"),
        }
        assert_eq!(refused(json!({"app": "a".repeat(MAX_APP_LENGTH + 1)})), "app");
        assert_eq!(refused(json!({"service": {"name": "tableicty-backend"}})), "service.name");
        assert_eq!(refused(json!({"service": {"environment": {"IS_PRODUCTION": "True"}}})), "service.environment.IS_PRODUCTION");
        assert_eq!(refused(json!({"service": {"environment": {"DATABASE_URL": "x"}}})), "service.environment.DATABASE_URL");
        assert_eq!(refused(json!({"timeouts": {"restore_minutes": 100000}})), "timeouts.restore_minutes");
        assert_eq!(refused(json!({"staging": {"db_instance_class": 3}})), "staging.db_instance_class");
        assert_eq!(refused(json!({"staging": {"secret_key": "reuse"}})), "staging.secret_key");
        assert_eq!(refused(json!({"staging": {"source": "aurora"}})), "staging.source");
        assert_eq!(refused(json!([])), "(document)");
        assert_eq!(refused(json!({"masking": {"rules": {"auth_user": {"email": "scramble"}}}})), "masking.rules.auth_user.email");
        assert_eq!(refused(json!({"app": "ledgerly"})), "masking.rules");
        // AWS's rules (crate::limits), and a staging copy that would serve debug pages.
        assert_eq!(refused(json!({"app": "tableicty-"})), "app");
        assert_eq!(refused(json!({"service": {"environment": {"DEBUG": "True"}}})), "service.environment.DEBUG");
        assert_eq!(refused(json!({"service": {"environment": {"DEBUG": "on"}}})), "service.environment.DEBUG");
        assert_eq!(refused(json!({"staging": {"parameter_path": "/tableicty/../staging/"}})), "staging.parameter_path");
        assert_eq!(refused(json!({"staging": {"db_instance_id": "s".repeat(MAX_STAGING_DB_ID_LENGTH + 1)}})), "staging.db_instance_id");
        assert_eq!(refused(json!({"service": {"branch": "x".repeat(crate::limits::MAX_STRING_BYTES + 1)}})), "service.branch");
        assert_eq!(refused(json!({"validation": {"test_admin_email": "a@b"}})), "validation.test_admin_email");
        // The staging frontend: production's bucket is only read, keys stay inside the bucket.
        assert_eq!(refused(json!({"frontend": {"staging_bucket": "tableicty-frontend"}})), "frontend.staging_bucket");
        assert_eq!(refused(json!({"frontend": {"staging_bucket": "Tableicty_Staging"}})), "frontend.staging_bucket");
        assert_eq!(refused(json!({"frontend": {"production_bucket": "192.168.1.1"}})), "frontend.production_bucket");
        assert_eq!(refused(json!({"frontend": {"config_key": "s3://other-bucket/config.json"}})), "frontend.config_key");
        assert_eq!(refused(json!({"frontend": {"config_key": "../config.json"}})), "frontend.config_key");
        assert_eq!(refused(json!({"frontend": {"config_key": "/config.json"}})), "frontend.config_key");
        assert_eq!(refused(json!({"frontend": {"release_prefix": "releases/41"}})), "frontend.release_prefix");
        assert_eq!(refused(json!({"frontend": {"release_prefix": "releases/../"}})), "frontend.release_prefix");
        assert_eq!(refused(json!({"frontend": {"serving": "s3-website"}})), "frontend.serving");
        assert_eq!(refused(json!({"frontend": {"api_url_field": ""}})), "frontend.api_url_field");
    }
}
