//! [`LiveCloud`]: the real account and network (the AWS SDK adapters, Stripe and the two network
//! probes) behind every capability trait a step may use, by delegation: what the step Lambdas
//! call, and what `rehearsal run --endpoint-url` calls over the wire. A method added to a trait in
//! `rehearsal_core::cloud` gets its one-line delegation here.
//!
//! In a Lambda the HTTP clients are [`Lazy`]: building one loads the system's root certificates,
//! which only the steps that call the app or Stripe should pay for at init.

use lambda_runtime::Error;
use rehearsal_aws::{load_config, AwsCloud};
use rehearsal_core::checks::db::DbQuery;
use rehearsal_core::cloud::{
    BucketOwner, Clock, CloudResult, ClusterCopyRequest, ClusterInstanceRequest, ContainerImage, ContainerImages, DatabaseMasker,
    DatabaseProbe, DatabaseWarmer, DbCluster, DbInstance, DbSnapshot, DbTarget, Distribution, DistributionSpec, Distributions,
    ExecutionInfo, Executions, HttpClient, HttpError, HttpRequest, HttpResponse, ObjectPage, ObjectStore, ObjectVersion, OneTimeSchedule,
    Parameter, ParameterInfo, ParameterKind, ParameterStore, PaymentWebhooks, ProbeError, Rds, RestoreRequest, Scheduler, ServiceHost,
    ServiceInfo, ServiceLocation, ServiceOperation, ServiceSpec, VersionPage, Warmed, WebhookEndpoint,
};
use rehearsal_core::image::ImageName;
use rehearsal_core::masking::{Findings, MaskingError, MaskingPlan, TableMasked};
use rehearsal_core::tags::Tags;
use rehearsal_core::{CloudError, Secret};
use rehearsal_probes::{PostgresProbe, ReqwestClient, StripeClient, TlsMode};
use serde_json::Value;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

/// Bounds one HTTP attempt against the staging app, connect to last byte.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// App Runner's front end can answer 502/503 or refuse connections for a few seconds after a
/// deployment reports success; a check should not fail the run for that.
const COLD_START_ATTEMPTS: u32 = 3;
const COLD_START_DELAY: Duration = Duration::from_secs(5);
/// Bounds one Stripe request, connect to last byte.
const STRIPE_TIMEOUT: Duration = Duration::from_secs(20);

/// Everything a step may call in the real account. Built once per Lambda container and shared
/// by its invocations (the SDK clients keep their connection pools warm between them). The
/// probes are parameters so a local run over the wire can route them (`rehearsal run
/// --endpoint-url`) while sharing this one delegation.
#[derive(Debug, Clone)]
pub struct LiveCloud<H = ReqwestClient, P = PostgresProbe, S = StripeClient> {
    pub aws: AwsCloud,
    pub http: H,
    pub postgres: P,
    pub stripe: S,
}

/// What a Lambda function runs with.
pub type FunctionCloud = LiveCloud<Lazy<ReqwestClient, HttpError>, PostgresProbe, Lazy<StripeClient, CloudError>>;

impl FunctionCloud {
    /// Region and credentials from the Lambda environment; SQL over TLS verified against the RDS
    /// roots (verify-full); HTTP to the app with cold-start retries; Stripe's API.
    pub async fn from_environment() -> Result<Self, Error> {
        let config = load_config(None).await;
        Ok(Self {
            aws: AwsCloud::new(&config),
            http: Lazy::new(Self::app_http),
            postgres: PostgresProbe::new(TlsMode::VerifyFull),
            stripe: Lazy::new(|| Self::stripe(None)),
        })
    }

    /// HTTP to the staging app as the checks make it: each attempt bounded, with retries while a
    /// fresh deployment's front end comes up.
    pub fn app_http() -> Result<ReqwestClient, HttpError> {
        Ok(ReqwestClient::new(HTTP_TIMEOUT)?.with_cold_start_retries(COLD_START_ATTEMPTS, COLD_START_DELAY))
    }

    /// Stripe's API (another base URL for an emulated one), each request bounded.
    pub fn stripe(base_url: Option<&str>) -> CloudResult<StripeClient> {
        match base_url {
            Some(url) => StripeClient::with_base_url(url, STRIPE_TIMEOUT),
            None => StripeClient::new(STRIPE_TIMEOUT),
        }
    }
}

/// A client built at its first use; a failure to build it is the answer of every call.
#[derive(Debug, Clone)]
pub struct Lazy<T, E> {
    client: OnceLock<Result<T, E>>,
    build: fn() -> Result<T, E>,
}

impl<T, E: Clone> Lazy<T, E> {
    pub fn new(build: fn() -> Result<T, E>) -> Self {
        Self { client: OnceLock::new(), build }
    }

    fn get(&self) -> Result<&T, E> {
        self.client.get_or_init(self.build).as_ref().map_err(E::clone)
    }
}

impl HttpClient for Lazy<ReqwestClient, HttpError> {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        self.get()?.send(request).await
    }
}

impl PaymentWebhooks for Lazy<StripeClient, CloudError> {
    async fn list_webhooks(&self, api_key: &Secret) -> CloudResult<Vec<WebhookEndpoint>> {
        self.get()?.list_webhooks(api_key).await
    }

    async fn create_webhook(&self, api_key: &Secret, url: &str, events: &[String], metadata: &Tags) -> CloudResult<WebhookEndpoint> {
        self.get()?.create_webhook(api_key, url, events, metadata).await
    }

    async fn delete_webhook(&self, api_key: &Secret, id: &str) -> CloudResult<()> {
        self.get()?.delete_webhook(api_key, id).await
    }

    async fn update_webhook_url(&self, api_key: &Secret, id: &str, url: &str) -> CloudResult<WebhookEndpoint> {
        self.get()?.update_webhook_url(api_key, id, url).await
    }
}

impl<H, P, S> Clock for LiveCloud<H, P, S> {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.aws.now()
    }
}

impl<H, P, S> Rds for LiveCloud<H, P, S> {
    fn describe_instance(&self, id: &str) -> impl Future<Output = CloudResult<Option<DbInstance>>> + Send {
        self.aws.describe_instance(id)
    }

    fn describe_snapshot(&self, id: &str) -> impl Future<Output = CloudResult<Option<DbSnapshot>>> + Send {
        self.aws.describe_snapshot(id)
    }

    fn create_snapshot(&self, instance_id: &str, snapshot_id: &str, tags: &Tags) -> impl Future<Output = CloudResult<DbSnapshot>> + Send {
        self.aws.create_snapshot(instance_id, snapshot_id, tags)
    }

    fn restore_instance(&self, request: &RestoreRequest) -> impl Future<Output = CloudResult<DbInstance>> + Send {
        self.aws.restore_instance(request)
    }

    fn delete_instance(&self, id: &str, final_snapshot_id: Option<&str>) -> impl Future<Output = CloudResult<()>> + Send {
        self.aws.delete_instance(id, final_snapshot_id)
    }

    fn delete_snapshot(&self, id: &str) -> impl Future<Output = CloudResult<()>> + Send {
        self.aws.delete_snapshot(id)
    }

    fn rename_instance(&self, id: &str, new_id: &str) -> impl Future<Output = CloudResult<DbInstance>> + Send {
        self.aws.rename_instance(id, new_id)
    }

    fn stop_instance(&self, id: &str) -> impl Future<Output = CloudResult<()>> + Send {
        self.aws.stop_instance(id)
    }

    fn reset_master_password(&self, id: &str, password: &Secret) -> impl Future<Output = CloudResult<DbInstance>> + Send {
        self.aws.reset_master_password(id, password)
    }

    fn tag_instance(&self, arn: &str, tags: &Tags) -> impl Future<Output = CloudResult<()>> + Send {
        self.aws.tag_instance(arn, tags)
    }

    fn describe_cluster(&self, id: &str) -> impl Future<Output = CloudResult<Option<DbCluster>>> + Send {
        self.aws.describe_cluster(id)
    }

    fn copy_cluster(&self, request: &ClusterCopyRequest) -> impl Future<Output = CloudResult<DbCluster>> + Send {
        self.aws.copy_cluster(request)
    }

    fn describe_cluster_snapshot(&self, id: &str) -> impl Future<Output = CloudResult<Option<DbSnapshot>>> + Send {
        self.aws.describe_cluster_snapshot(id)
    }

    fn create_cluster_snapshot(
        &self,
        cluster_id: &str,
        snapshot_id: &str,
        tags: &Tags,
    ) -> impl Future<Output = CloudResult<DbSnapshot>> + Send {
        self.aws.create_cluster_snapshot(cluster_id, snapshot_id, tags)
    }

    fn delete_cluster_snapshot(&self, id: &str) -> impl Future<Output = CloudResult<()>> + Send {
        self.aws.delete_cluster_snapshot(id)
    }

    fn create_cluster_instance(&self, request: &ClusterInstanceRequest) -> impl Future<Output = CloudResult<DbInstance>> + Send {
        self.aws.create_cluster_instance(request)
    }

    fn reset_cluster_master_password(&self, id: &str, password: &Secret) -> impl Future<Output = CloudResult<DbCluster>> + Send {
        self.aws.reset_cluster_master_password(id, password)
    }

    fn delete_cluster(&self, id: &str, final_snapshot_id: Option<&str>) -> impl Future<Output = CloudResult<()>> + Send {
        self.aws.delete_cluster(id, final_snapshot_id)
    }
}

impl<H, P, S> ParameterStore for LiveCloud<H, P, S> {
    fn get_parameter(&self, name: &str) -> impl Future<Output = CloudResult<Option<Parameter>>> + Send {
        self.aws.get_parameter(name)
    }

    fn describe_parameter(&self, name: &str) -> impl Future<Output = CloudResult<Option<ParameterInfo>>> + Send {
        self.aws.describe_parameter(name)
    }

    fn put_parameter(
        &self,
        name: &str,
        value: &Secret,
        kind: ParameterKind,
        overwrite: bool,
    ) -> impl Future<Output = CloudResult<String>> + Send {
        self.aws.put_parameter(name, value, kind, overwrite)
    }

    fn create_parameter(
        &self,
        name: &str,
        value: &Secret,
        kind: ParameterKind,
        tags: &Tags,
    ) -> impl Future<Output = CloudResult<String>> + Send {
        self.aws.create_parameter(name, value, kind, tags)
    }

    fn parameter_tags(&self, name: &str) -> impl Future<Output = CloudResult<Tags>> + Send {
        self.aws.parameter_tags(name)
    }

    fn add_parameter_tags(&self, name: &str, tags: &Tags) -> impl Future<Output = CloudResult<()>> + Send {
        self.aws.add_parameter_tags(name, tags)
    }

    fn delete_parameter(&self, name: &str) -> impl Future<Output = CloudResult<()>> + Send {
        self.aws.delete_parameter(name)
    }
}

impl<H, P, S> ServiceHost for LiveCloud<H, P, S> {
    fn find_service(&self, name: &str, location: &ServiceLocation) -> impl Future<Output = CloudResult<Option<ServiceInfo>>> + Send {
        self.aws.find_service(name, location)
    }

    fn describe_service(&self, arn: &str) -> impl Future<Output = CloudResult<Option<ServiceInfo>>> + Send {
        self.aws.describe_service(arn)
    }

    fn create_service(&self, spec: &ServiceSpec, tags: &Tags) -> impl Future<Output = CloudResult<(ServiceInfo, String)>> + Send {
        self.aws.create_service(spec, tags)
    }

    fn update_service_secrets(&self, arn: &str, secrets: &BTreeMap<String, String>) -> impl Future<Output = CloudResult<String>> + Send {
        self.aws.update_service_secrets(arn, secrets)
    }

    fn describe_operation(&self, arn: &str, operation_id: &str) -> impl Future<Output = CloudResult<Option<ServiceOperation>>> + Send {
        self.aws.describe_operation(arn, operation_id)
    }

    fn latest_operation(&self, arn: &str) -> impl Future<Output = CloudResult<Option<ServiceOperation>>> + Send {
        self.aws.latest_operation(arn)
    }

    fn delete_service(&self, arn: &str) -> impl Future<Output = CloudResult<String>> + Send {
        self.aws.delete_service(arn)
    }

    fn start_deployment(&self, arn: &str) -> impl Future<Output = CloudResult<String>> + Send {
        self.aws.start_deployment(arn)
    }

    fn update_service_image(&self, arn: &str, image_identifier: &str) -> impl Future<Output = CloudResult<String>> + Send {
        self.aws.update_service_image(arn, image_identifier)
    }

    fn find_vpc_connector(&self, name_or_arn: &str) -> impl Future<Output = CloudResult<Option<String>>> + Send {
        self.aws.find_vpc_connector(name_or_arn)
    }
}

impl<H, P, S> ContainerImages for LiveCloud<H, P, S> {
    fn resolve_image(&self, image: &ImageName) -> impl Future<Output = CloudResult<Option<ContainerImage>>> + Send {
        self.aws.resolve_image(image)
    }
}

impl<H, P, S> ObjectStore for LiveCloud<H, P, S> {
    fn bucket_owner(&self, bucket: &str) -> impl Future<Output = CloudResult<BucketOwner>> + Send {
        self.aws.bucket_owner(bucket)
    }

    fn create_bucket(&self, bucket: &str, tags: &Tags) -> impl Future<Output = CloudResult<()>> + Send {
        self.aws.create_bucket(bucket, tags)
    }

    fn bucket_tags(&self, bucket: &str) -> impl Future<Output = CloudResult<Tags>> + Send {
        self.aws.bucket_tags(bucket)
    }

    fn list_objects(&self, bucket: &str, prefix: &str, token: Option<&str>) -> impl Future<Output = CloudResult<ObjectPage>> + Send {
        self.aws.list_objects(bucket, prefix, token)
    }

    fn copy_object(&self, from_bucket: &str, from_key: &str, bucket: &str, key: &str) -> impl Future<Output = CloudResult<()>> + Send {
        self.aws.copy_object(from_bucket, from_key, bucket, key)
    }

    fn get_object(&self, bucket: &str, key: &str) -> impl Future<Output = CloudResult<Option<Vec<u8>>>> + Send {
        self.aws.get_object(bucket, key)
    }

    fn put_object(&self, bucket: &str, key: &str, body: Vec<u8>, content_type: &str) -> impl Future<Output = CloudResult<()>> + Send {
        self.aws.put_object(bucket, key, body, content_type)
    }

    fn list_object_versions(&self, bucket: &str) -> impl Future<Output = CloudResult<VersionPage>> + Send {
        self.aws.list_object_versions(bucket)
    }

    fn delete_object_versions(&self, bucket: &str, versions: &[ObjectVersion]) -> impl Future<Output = CloudResult<()>> + Send {
        self.aws.delete_object_versions(bucket, versions)
    }

    fn delete_bucket(&self, bucket: &str) -> impl Future<Output = CloudResult<()>> + Send {
        self.aws.delete_bucket(bucket)
    }

    fn put_bucket_policy(&self, bucket: &str, policy: &str) -> impl Future<Output = CloudResult<()>> + Send {
        self.aws.put_bucket_policy(bucket, policy)
    }
}

impl<H, P, S> Distributions for LiveCloud<H, P, S> {
    fn find_distribution(&self, name: &str) -> impl Future<Output = CloudResult<Option<Distribution>>> + Send {
        self.aws.find_distribution(name)
    }

    fn describe_distribution(&self, id: &str) -> impl Future<Output = CloudResult<Option<Distribution>>> + Send {
        self.aws.describe_distribution(id)
    }

    fn create_distribution(&self, spec: &DistributionSpec, tags: &Tags) -> impl Future<Output = CloudResult<Distribution>> + Send {
        self.aws.create_distribution(spec, tags)
    }

    fn distribution_tags(&self, arn: &str) -> impl Future<Output = CloudResult<Tags>> + Send {
        self.aws.distribution_tags(arn)
    }

    fn disable_distribution(&self, id: &str) -> impl Future<Output = CloudResult<Distribution>> + Send {
        self.aws.disable_distribution(id)
    }

    fn delete_distribution(&self, id: &str) -> impl Future<Output = CloudResult<()>> + Send {
        self.aws.delete_distribution(id)
    }
}

impl<H, P, S> Scheduler for LiveCloud<H, P, S> {
    fn create_schedule(&self, schedule: &OneTimeSchedule) -> impl Future<Output = CloudResult<()>> + Send {
        self.aws.create_schedule(schedule)
    }

    fn get_schedule(&self, group: &str, name: &str) -> impl Future<Output = CloudResult<Option<OneTimeSchedule>>> + Send {
        self.aws.get_schedule(group, name)
    }

    fn update_schedule(&self, schedule: &OneTimeSchedule) -> impl Future<Output = CloudResult<()>> + Send {
        self.aws.update_schedule(schedule)
    }

    fn delete_schedule(&self, group: &str, name: &str) -> impl Future<Output = CloudResult<()>> + Send {
        self.aws.delete_schedule(group, name)
    }
}

impl<H, P, S> Executions for LiveCloud<H, P, S> {
    fn describe_execution(&self, arn: &str) -> impl Future<Output = CloudResult<Option<ExecutionInfo>>> + Send {
        self.aws.describe_execution(arn)
    }
}

impl<H, P, S: PaymentWebhooks> PaymentWebhooks for LiveCloud<H, P, S> {
    fn list_webhooks(&self, api_key: &Secret) -> impl Future<Output = CloudResult<Vec<WebhookEndpoint>>> + Send {
        self.stripe.list_webhooks(api_key)
    }

    fn create_webhook(
        &self,
        api_key: &Secret,
        url: &str,
        events: &[String],
        metadata: &Tags,
    ) -> impl Future<Output = CloudResult<WebhookEndpoint>> + Send {
        self.stripe.create_webhook(api_key, url, events, metadata)
    }

    fn delete_webhook(&self, api_key: &Secret, id: &str) -> impl Future<Output = CloudResult<()>> + Send {
        self.stripe.delete_webhook(api_key, id)
    }

    fn update_webhook_url(&self, api_key: &Secret, id: &str, url: &str) -> impl Future<Output = CloudResult<WebhookEndpoint>> + Send {
        self.stripe.update_webhook_url(api_key, id, url)
    }
}

impl<H: HttpClient, P, S> HttpClient for LiveCloud<H, P, S> {
    fn send(&self, request: HttpRequest) -> impl Future<Output = Result<HttpResponse, HttpError>> + Send {
        self.http.send(request)
    }
}

impl<H, P: DatabaseProbe, S> DatabaseProbe for LiveCloud<H, P, S> {
    fn query(&self, target: &DbTarget, query: &DbQuery) -> impl Future<Output = Result<Vec<Vec<Value>>, ProbeError>> + Send {
        self.postgres.query(target, query)
    }
}

impl<H, P: DatabaseMasker, S> DatabaseMasker for LiveCloud<H, P, S> {
    fn mask(
        &self,
        target: &DbTarget,
        plan: &MaskingPlan,
        key: &Secret,
    ) -> impl Future<Output = Result<Vec<TableMasked>, MaskingError>> + Send {
        self.postgres.mask(target, plan, key)
    }

    fn verify(
        &self,
        staging: &DbTarget,
        production: &DbTarget,
        plan: &MaskingPlan,
    ) -> impl Future<Output = Result<Findings, MaskingError>> + Send {
        self.postgres.verify(staging, production, plan)
    }
}

impl<H, P: DatabaseWarmer, S> DatabaseWarmer for LiveCloud<H, P, S> {
    fn prewarm(&self, target: &DbTarget, tables: u32, limit: Duration) -> impl Future<Output = Result<Warmed, ProbeError>> + Send {
        self.postgres.prewarm(target, tables, limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static BUILDS: AtomicUsize = AtomicUsize::new(0);

    #[tokio::test]
    async fn a_lazy_client_is_built_at_its_first_use_once_and_a_failure_answers_every_call() {
        let client: Lazy<ReqwestClient, HttpError> = Lazy::new(|| {
            BUILDS.fetch_add(1, Ordering::SeqCst);
            Err(HttpError::Other("no root certificates".into()))
        });
        assert_eq!(BUILDS.load(Ordering::SeqCst), 0, "nothing is built before a call");
        let request = HttpRequest { method: "GET".into(), url: "https://staging.example/health".into(), headers: vec![], body: None };
        for _ in 0..2 {
            assert_eq!(client.send(request.clone()).await, Err(HttpError::Other("no root certificates".into())));
        }
        assert_eq!(BUILDS.load(Ordering::SeqCst), 1);
    }
}
