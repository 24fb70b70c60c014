//! AWS SDK adapters behind the rehearsal capability traits.
//!
//! [`AwsCloud`] holds one client per service, built once from an [`SdkConfig`], and implements
//! [`Rds`](rehearsal_core::cloud::Rds), [`ParameterStore`](rehearsal_core::cloud::ParameterStore),
//! [`ServiceHost`](rehearsal_core::cloud::ServiceHost) (App Runner and ECS Express Mode, by the
//! ARN, spec or location of each call), [`ContainerImages`](rehearsal_core::cloud::ContainerImages)
//! (ECR, read-only), [`ObjectStore`](rehearsal_core::cloud::ObjectStore) (S3),
//! [`Distributions`](rehearsal_core::cloud::Distributions) (CloudFront),
//! [`Scheduler`](rehearsal_core::cloud::Scheduler) (EventBridge Scheduler),
//! [`Executions`](rehearsal_core::cloud::Executions) (Step Functions) and [`Clock`].
//! [`StepFunctions`] implements the Step Functions traits, `Executions` and
//! [`StateMachines`](rehearsal_core::cloud::StateMachines) (for the API Lambda and the CLI).
//!
//! Every SDK error goes through one mapping into [`CloudError`](rehearsal_core::CloudError),
//! keeping the service's code and message; parameter values never appear in errors.

mod apprunner;
mod cloudfront;
mod ecr;
mod ecs;
mod error;
mod host;
mod rds;
mod s3;
mod scheduler;
mod sfn;
mod ssm;

pub use sfn::StepFunctions;

use aws_config::{BehaviorVersion, SdkConfig};
use chrono::{DateTime, Utc};
use rehearsal_core::cloud::Clock;

/// Loads region and credentials from the environment (Lambda's, or a developer's profile).
/// `endpoint_url` points every client at one local endpoint (moto, LocalStack).
pub async fn load_config(endpoint_url: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// The IAM principal ARN the credentials of `config` act as (STS GetCallerIdentity): what API
/// Gateway's IAM authorizer would report for a request they sign.
pub async fn caller_arn(config: &SdkConfig) -> rehearsal_core::cloud::CloudResult<String> {
    let out = aws_sdk_sts::Client::new(config).get_caller_identity().send().await.map_err(error::from_sdk)?;
    out.arn().map(str::to_string).ok_or_else(|| error::unsupported("MissingInResponse", "GetCallerIdentity answered no ARN"))
}

/// The real AWS account. Clients are cheap to clone and meant to be built once per Lambda
/// container; the fields are public so a caller can reach an operation no trait covers.
#[derive(Debug, Clone)]
pub struct AwsCloud {
    pub rds: aws_sdk_rds::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub apprunner: aws_sdk_apprunner::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub ecr: aws_sdk_ecr::Client,
    pub s3: aws_sdk_s3::Client,
    pub cloudfront: aws_sdk_cloudfront::Client,
    pub scheduler: aws_sdk_scheduler::Client,
    pub sfn: StepFunctions,
}

impl AwsCloud {
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            rds: aws_sdk_rds::Client::new(config),
            ssm: aws_sdk_ssm::Client::new(config),
            apprunner: aws_sdk_apprunner::Client::new(config),
            ecs: aws_sdk_ecs::Client::new(config),
            ecr: aws_sdk_ecr::Client::new(config),
            // A local endpoint (moto) serves buckets by path, not by virtual host.
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(config).force_path_style(config.endpoint_url().is_some()).build(),
            ),
            // Global (one endpoint whatever the region); an endpoint override in `config`
            // (moto) applies to it as to every other client.
            cloudfront: aws_sdk_cloudfront::Client::new(config),
            scheduler: aws_sdk_scheduler::Client::new(config),
            sfn: StepFunctions::new(config),
        }
    }
}

impl Clock for AwsCloud {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
