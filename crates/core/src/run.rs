//! The run document: what a console execution, the API and the CLI send to start a rehearsal.
//! Every field has the runbook's value as its default, so `{}` rehearses tableicty as the guide
//! does. [`RunInput::validate`] refuses bad input with the field's name before any AWS call.

use crate::naming::{parameter_path_problem, path_is_within, rds_identifier_problem, service_name_problem};
use crate::StepError;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunInput {
    /// Application name, used in tags and default names.
    pub app: String,
    /// Identifies the run in tags; a re-run with the same id adopts what the first one created.
    /// Default: `<app>-<YYYYMMDD>` of `run_date`.
    pub run_id: Option<String>,
    /// The day the backup is named after. Default: the execution's start date (UTC).
    pub run_date: Option<NaiveDate>,
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
}

/// The production stack, only ever read by a staging run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProductionInput {
    pub db_instance_id: String,
    pub parameter_path: String,
    pub service_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StagingInput {
    pub db_instance_id: String,
    pub db_instance_class: String,
    /// A copy of production data is never public; `true` is refused.
    pub publicly_accessible: bool,
    /// Default: the production instance's subnet group (same VPC).
    pub db_subnet_group: Option<String>,
    /// Default: the production instance's security groups (App Runner can reach it).
    pub vpc_security_group_ids: Option<Vec<String>>,
    pub parameter_path: String,
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
    pub branch: String,
    /// Managed runtime, build and start commands: mirror the app's `apprunner.yaml` (its
    /// migrations run on start, before the server).
    pub runtime: String,
    pub build_command: String,
    pub start_command: String,
    /// Default: the production service's repository.
    pub repository_url: Option<String>,
    /// Default: the production service's GitHub connection.
    pub connection_arn: Option<String>,
    /// The runbook deploys manually; automatic deployments are off unless set.
    pub auto_deployments: bool,
    /// VPC connector name (or ARN) the service egresses through.
    pub vpc_connector: String,
    /// Default: the production service's instance role (it can read Parameter Store).
    pub instance_role_arn: Option<String>,
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
            run_id: None,
            run_date: None,
            ttl_hours: 24,
            production: ProductionInput::default(),
            staging: StagingInput::default(),
            service: ServiceInput::default(),
            stripe: StripeInput::default(),
            validation: ValidationInput::default(),
            timeouts: TimeoutsInput::default(),
            masking: crate::masking::MaskingInput::default(),
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
            publicly_accessible: false,
            db_subnet_group: None,
            vpc_security_group_ids: None,
            parameter_path: "/tableicty/staging/".into(),
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
            branch: "main".into(),
            runtime: "PYTHON_311".into(),
            build_command: "pip install -r requirements.txt".into(),
            start_command: "sh -c 'python manage.py migrate --noinput && gunicorn --bind 0.0.0.0:8000 tableicty.wsgi:application'".into(),
            repository_url: None,
            connection_arn: None,
            auto_deployments: false,
            vpc_connector: "tableicty-vpc-connector".into(),
            instance_role_arn: None,
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
const RUNTIMES: [&str; 12] = [
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
        parse_document(value, "the run document")
    }

    /// Every rule the run document must satisfy; the first broken one is returned.
    pub fn validate(&self) -> Result<(), StepError> {
        let bad = |field: &str, reason: String| Err(StepError::invalid(field, reason));
        if self.app.is_empty() || !self.app.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
            return bad("app", format!("{:?} must be lowercase letters, digits and hyphens", self.app));
        }
        if let Some(run_id) = &self.run_id {
            if run_id.is_empty() || run_id.len() > 48 || !run_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return bad("run_id", format!("{run_id:?} must be 1 to 48 letters, digits or hyphens"));
            }
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
        if self.staging.db_instance_id.eq_ignore_ascii_case(&self.production.db_instance_id) {
            return bad("staging.db_instance_id", "must differ from production.db_instance_id".into());
        }
        if !CLASS_PREFIXES.iter().any(|p| self.staging.db_instance_class.starts_with(p)) {
            return bad(
                "staging.db_instance_class",
                format!("{:?} is not a small burstable class (db.t3.* or db.t4g.*)", self.staging.db_instance_class),
            );
        }
        if self.staging.publicly_accessible {
            return bad("staging.publicly_accessible", "a copy of production data must not be publicly accessible".into());
        }
        if let Some(groups) = &self.staging.vpc_security_group_ids {
            if groups.is_empty() || groups.iter().any(|g| !g.starts_with("sg-")) {
                return bad("staging.vpc_security_group_ids", "must be a non-empty list of sg-… ids".into());
            }
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
        if !self.stripe.webhook_path.starts_with('/') {
            return bad("stripe.webhook_path", format!("{:?} must start with /", self.stripe.webhook_path));
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
        if !CPU_VALUES.contains(&self.service.cpu.as_str()) {
            return bad("service.cpu", format!("{:?} is not one of {CPU_VALUES:?}", self.service.cpu));
        }
        if !MEMORY_VALUES.contains(&self.service.memory.as_str()) {
            return bad("service.memory", format!("{:?} is not one of {MEMORY_VALUES:?}", self.service.memory));
        }
        if self.service.port < 1024 {
            return bad("service.port", format!("{} is a privileged port; App Runner apps listen on 1024-65535", self.service.port));
        }
        if self.service.branch.trim().is_empty() {
            return bad("service.branch", "must not be empty".into());
        }
        if !RUNTIMES.contains(&self.service.runtime.as_str()) {
            return bad("service.runtime", format!("{:?} is not one of {RUNTIMES:?}", self.service.runtime));
        }
        for (field, command) in
            [("service.build_command", &self.service.build_command), ("service.start_command", &self.service.start_command)]
        {
            if command.trim().is_empty() {
                return bad(field, "must not be empty".into());
            }
        }
        if let Some(url) = &self.service.repository_url {
            if !url.starts_with("https://") {
                return bad("service.repository_url", format!("{url:?} must be an https:// repository URL"));
            }
        }
        for (field, arn) in
            [("service.connection_arn", &self.service.connection_arn), ("service.instance_role_arn", &self.service.instance_role_arn)]
        {
            if let Some(arn) = arn {
                if !arn.starts_with("arn:aws") {
                    return bad(field, format!("{arn:?} is not an ARN"));
                }
            }
        }
        for (name, value) in &self.service.environment {
            if PARAMETER_BACKED_VARIABLES.contains(&name.as_str()) || name == "BACKFILL_TOKEN_PARAMETER" {
                return bad(
                    &format!("service.environment.{name}"),
                    "is set by the run itself; it must not be given in the run document".into(),
                );
            }
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return bad("service.environment", format!("{name:?} is not a valid variable name"));
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
            if !path.starts_with('/') {
                return bad(field, format!("{path:?} must start with /"));
            }
        }
        if !self.validation.test_admin_email.contains('@') {
            return bad("validation.test_admin_email", "is not an email address".into());
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
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        assert_eq!(refused(json!({"staging": {"publicly_accessible": true}})), "staging.publicly_accessible");
        assert_eq!(refused(json!({"service": {"name": "tableicty-backend"}})), "service.name");
        assert_eq!(refused(json!({"service": {"environment": {"IS_PRODUCTION": "True"}}})), "service.environment.IS_PRODUCTION");
        assert_eq!(refused(json!({"service": {"environment": {"DATABASE_URL": "x"}}})), "service.environment.DATABASE_URL");
        assert_eq!(refused(json!({"timeouts": {"restore_minutes": 100000}})), "timeouts.restore_minutes");
        assert_eq!(refused(json!({"staging": {"db_instance_class": 3}})), "staging.db_instance_class");
        assert_eq!(refused(json!([])), "(document)");
        assert_eq!(refused(json!({"masking": {"rules": {"auth_user": {"email": "scramble"}}}})), "masking.rules.auth_user.email");
        assert_eq!(refused(json!({"app": "ledgerly"})), "masking.rules");
    }
}
