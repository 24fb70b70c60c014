//! Core's staging step and rollback with the real client: Parameter Store from the simulated
//! account, Stripe from the stand-in.

use crate::stand_in::StripeStandIn;
use chrono::{TimeZone, Utc};
use rehearsal_core::cloud::{
    BucketOwner, CloudResult, ClusterCopyRequest, ClusterInstanceRequest, DbCluster, DbInstance, DbSnapshot, Distribution,
    DistributionSpec, Distributions, ObjectPage, ObjectStore, ObjectVersion, OneTimeSchedule, Parameter, ParameterInfo, ParameterKind,
    ParameterStore, PaymentWebhooks, Rds, RestoreRequest, Scheduler, ServiceHost, ServiceInfo, ServiceLocation, ServiceOperation,
    ServiceSpec, VersionPage, WebhookEndpoint,
};
use rehearsal_core::plan::{STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET};
use rehearsal_core::steps::plan_rehearsal::{plan_rehearsal, PlanInput};
use rehearsal_core::steps::rollback::{rollback_staging, RollbackInput};
use rehearsal_core::steps::staging_parameters::write_staging_parameters;
use rehearsal_core::steps::stripe_webhook::{
    parking_url, point_stripe_webhook, register_stripe_webhook, PointWebhookInput, RegisteredWebhook,
};
use rehearsal_core::steps::PlanOnly;
use rehearsal_core::tags::{Tags, RUN_KEY};
use rehearsal_core::{RunPlan, Secret, StepError};
use rehearsal_probes::StripeClient;
use rehearsal_sim::{SimAccount, SimCloud, SimConfig};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

const SERVICE_HOST: &str = "k7w2p9x4qm.us-east-1.awsapprunner.com";

/// The simulated account for everything but Stripe, which is the real client.
struct TestCloud {
    sim: SimCloud,
    stripe: StripeClient,
}

impl ParameterStore for TestCloud {
    async fn get_parameter(&self, name: &str) -> CloudResult<Option<Parameter>> {
        self.sim.get_parameter(name).await
    }
    async fn describe_parameter(&self, name: &str) -> CloudResult<Option<ParameterInfo>> {
        self.sim.describe_parameter(name).await
    }
    async fn put_parameter(&self, name: &str, value: &Secret, kind: ParameterKind, overwrite: bool) -> CloudResult<String> {
        self.sim.put_parameter(name, value, kind, overwrite).await
    }
    async fn create_parameter(&self, name: &str, value: &Secret, kind: ParameterKind, tags: &Tags) -> CloudResult<String> {
        self.sim.create_parameter(name, value, kind, tags).await
    }
    async fn parameter_tags(&self, name: &str) -> CloudResult<Tags> {
        self.sim.parameter_tags(name).await
    }
    async fn add_parameter_tags(&self, name: &str, tags: &Tags) -> CloudResult<()> {
        self.sim.add_parameter_tags(name, tags).await
    }
    async fn delete_parameter(&self, name: &str) -> CloudResult<()> {
        self.sim.delete_parameter(name).await
    }
}

impl PaymentWebhooks for TestCloud {
    async fn list_webhooks(&self, api_key: &Secret) -> CloudResult<Vec<WebhookEndpoint>> {
        self.stripe.list_webhooks(api_key).await
    }
    async fn create_webhook(&self, api_key: &Secret, url: &str, events: &[String], metadata: &Tags) -> CloudResult<WebhookEndpoint> {
        self.stripe.create_webhook(api_key, url, events, metadata).await
    }
    async fn delete_webhook(&self, api_key: &Secret, id: &str) -> CloudResult<()> {
        self.stripe.delete_webhook(api_key, id).await
    }
    async fn update_webhook_url(&self, api_key: &Secret, id: &str, url: &str) -> CloudResult<WebhookEndpoint> {
        self.stripe.update_webhook_url(api_key, id, url).await
    }
}

// The rollback also looks for the service, the database, the snapshot, the schedule, the
// frontend's bucket and its distribution.

impl Rds for TestCloud {
    async fn describe_instance(&self, id: &str) -> CloudResult<Option<DbInstance>> {
        self.sim.describe_instance(id).await
    }
    async fn describe_snapshot(&self, id: &str) -> CloudResult<Option<DbSnapshot>> {
        self.sim.describe_snapshot(id).await
    }
    async fn create_snapshot(&self, instance_id: &str, snapshot_id: &str, tags: &Tags) -> CloudResult<DbSnapshot> {
        self.sim.create_snapshot(instance_id, snapshot_id, tags).await
    }
    async fn restore_instance(&self, request: &RestoreRequest) -> CloudResult<DbInstance> {
        self.sim.restore_instance(request).await
    }
    async fn delete_instance(&self, id: &str, final_snapshot_id: Option<&str>) -> CloudResult<()> {
        self.sim.delete_instance(id, final_snapshot_id).await
    }
    async fn delete_snapshot(&self, id: &str) -> CloudResult<()> {
        self.sim.delete_snapshot(id).await
    }
    async fn rename_instance(&self, id: &str, new_id: &str) -> CloudResult<DbInstance> {
        self.sim.rename_instance(id, new_id).await
    }
    async fn stop_instance(&self, id: &str) -> CloudResult<()> {
        self.sim.stop_instance(id).await
    }
    async fn reset_master_password(&self, id: &str, password: &Secret) -> CloudResult<DbInstance> {
        self.sim.reset_master_password(id, password).await
    }
    async fn tag_instance(&self, arn: &str, tags: &Tags) -> CloudResult<()> {
        self.sim.tag_instance(arn, tags).await
    }
    async fn describe_cluster(&self, id: &str) -> CloudResult<Option<DbCluster>> {
        self.sim.describe_cluster(id).await
    }
    async fn copy_cluster(&self, request: &ClusterCopyRequest) -> CloudResult<DbCluster> {
        self.sim.copy_cluster(request).await
    }
    async fn describe_cluster_snapshot(&self, id: &str) -> CloudResult<Option<DbSnapshot>> {
        self.sim.describe_cluster_snapshot(id).await
    }
    async fn create_cluster_snapshot(&self, cluster_id: &str, snapshot_id: &str, tags: &Tags) -> CloudResult<DbSnapshot> {
        self.sim.create_cluster_snapshot(cluster_id, snapshot_id, tags).await
    }
    async fn delete_cluster_snapshot(&self, id: &str) -> CloudResult<()> {
        self.sim.delete_cluster_snapshot(id).await
    }
    async fn create_cluster_instance(&self, request: &ClusterInstanceRequest) -> CloudResult<DbInstance> {
        self.sim.create_cluster_instance(request).await
    }
    async fn reset_cluster_master_password(&self, id: &str, password: &Secret) -> CloudResult<DbCluster> {
        self.sim.reset_cluster_master_password(id, password).await
    }
    async fn delete_cluster(&self, id: &str, final_snapshot_id: Option<&str>) -> CloudResult<()> {
        self.sim.delete_cluster(id, final_snapshot_id).await
    }
}

impl ServiceHost for TestCloud {
    async fn find_service(&self, name: &str, location: &ServiceLocation) -> CloudResult<Option<ServiceInfo>> {
        self.sim.find_service(name, location).await
    }
    async fn describe_service(&self, arn: &str) -> CloudResult<Option<ServiceInfo>> {
        self.sim.describe_service(arn).await
    }
    async fn create_service(&self, spec: &ServiceSpec, tags: &Tags) -> CloudResult<(ServiceInfo, String)> {
        self.sim.create_service(spec, tags).await
    }
    async fn update_service_secrets(&self, arn: &str, secrets: &BTreeMap<String, String>) -> CloudResult<String> {
        self.sim.update_service_secrets(arn, secrets).await
    }
    async fn describe_operation(&self, arn: &str, operation_id: &str) -> CloudResult<Option<ServiceOperation>> {
        self.sim.describe_operation(arn, operation_id).await
    }
    async fn latest_operation(&self, arn: &str) -> CloudResult<Option<ServiceOperation>> {
        self.sim.latest_operation(arn).await
    }
    async fn delete_service(&self, arn: &str) -> CloudResult<String> {
        self.sim.delete_service(arn).await
    }
    async fn start_deployment(&self, arn: &str) -> CloudResult<String> {
        self.sim.start_deployment(arn).await
    }
    async fn update_service_image(&self, arn: &str, image_identifier: &str) -> CloudResult<String> {
        self.sim.update_service_image(arn, image_identifier).await
    }
    async fn find_vpc_connector(&self, name_or_arn: &str) -> CloudResult<Option<String>> {
        self.sim.find_vpc_connector(name_or_arn).await
    }
}

impl Scheduler for TestCloud {
    async fn create_schedule(&self, schedule: &OneTimeSchedule) -> CloudResult<()> {
        self.sim.create_schedule(schedule).await
    }
    async fn get_schedule(&self, group: &str, name: &str) -> CloudResult<Option<OneTimeSchedule>> {
        self.sim.get_schedule(group, name).await
    }
    async fn update_schedule(&self, schedule: &OneTimeSchedule) -> CloudResult<()> {
        self.sim.update_schedule(schedule).await
    }
    async fn delete_schedule(&self, group: &str, name: &str) -> CloudResult<()> {
        self.sim.delete_schedule(group, name).await
    }
}

impl ObjectStore for TestCloud {
    async fn bucket_owner(&self, bucket: &str) -> CloudResult<BucketOwner> {
        self.sim.bucket_owner(bucket).await
    }
    async fn create_bucket(&self, bucket: &str, tags: &Tags) -> CloudResult<()> {
        self.sim.create_bucket(bucket, tags).await
    }
    async fn bucket_tags(&self, bucket: &str) -> CloudResult<Tags> {
        self.sim.bucket_tags(bucket).await
    }
    async fn list_objects(&self, bucket: &str, prefix: &str, token: Option<&str>) -> CloudResult<ObjectPage> {
        self.sim.list_objects(bucket, prefix, token).await
    }
    async fn copy_object(&self, from_bucket: &str, from_key: &str, bucket: &str, key: &str) -> CloudResult<()> {
        self.sim.copy_object(from_bucket, from_key, bucket, key).await
    }
    async fn get_object(&self, bucket: &str, key: &str) -> CloudResult<Option<Vec<u8>>> {
        self.sim.get_object(bucket, key).await
    }
    async fn put_object(&self, bucket: &str, key: &str, body: Vec<u8>, content_type: &str) -> CloudResult<()> {
        self.sim.put_object(bucket, key, body, content_type).await
    }
    async fn list_object_versions(&self, bucket: &str) -> CloudResult<VersionPage> {
        self.sim.list_object_versions(bucket).await
    }
    async fn delete_object_versions(&self, bucket: &str, versions: &[ObjectVersion]) -> CloudResult<()> {
        self.sim.delete_object_versions(bucket, versions).await
    }
    async fn delete_bucket(&self, bucket: &str) -> CloudResult<()> {
        self.sim.delete_bucket(bucket).await
    }
    async fn put_bucket_policy(&self, bucket: &str, policy: &str) -> CloudResult<()> {
        self.sim.put_bucket_policy(bucket, policy).await
    }
}

impl Distributions for TestCloud {
    async fn find_distribution(&self, name: &str) -> CloudResult<Option<Distribution>> {
        self.sim.find_distribution(name).await
    }
    async fn describe_distribution(&self, id: &str) -> CloudResult<Option<Distribution>> {
        self.sim.describe_distribution(id).await
    }
    async fn create_distribution(&self, spec: &DistributionSpec, tags: &Tags) -> CloudResult<Distribution> {
        self.sim.create_distribution(spec, tags).await
    }
    async fn distribution_tags(&self, arn: &str) -> CloudResult<Tags> {
        self.sim.distribution_tags(arn).await
    }
    async fn disable_distribution(&self, id: &str) -> CloudResult<Distribution> {
        self.sim.disable_distribution(id).await
    }
    async fn delete_distribution(&self, id: &str) -> CloudResult<()> {
        self.sim.delete_distribution(id).await
    }
}

/// The account planned for a run of `{}` with the staging parameters written (runbook steps
/// 0 and 3), and a stand-in accepting the staging test key.
struct Staged {
    account: SimAccount,
    plan: RunPlan,
    stripe: StripeStandIn,
}

impl Staged {
    async fn new() -> Staged {
        let account = SimAccount::new(SimConfig::default(), Utc.with_ymd_and_hms(2025, 12, 25, 9, 0, 0).unwrap());
        let execution_start = account.now();
        let plan = plan_rehearsal(
            &account.session("plan_rehearsal"),
            PlanInput {
                input: json!({}),
                execution_name: "staging".into(),
                execution_start,
                stack: rehearsal_sim::seed::stack_settings(),
                pinned_image: None,
            },
        )
        .await
        .unwrap();
        write_staging_parameters(&account.session("write_staging_parameters"), PlanOnly { plan: plan.clone() }).await.unwrap();
        let key = parameter(&account, &plan.staging_parameter(STRIPE_SECRET_KEY)).await.expect("the staging key was written");
        assert!(key.expose().starts_with("sk_test_"));
        let stripe = StripeStandIn::start(key.expose()).await;
        Staged { account, plan, stripe }
    }

    fn cloud(&self, step: &str) -> TestCloud {
        TestCloud {
            sim: self.account.session(step),
            stripe: StripeClient::with_base_url(&self.stripe.base_url, Duration::from_secs(5)).unwrap(),
        }
    }

    async fn register(&self) -> Result<RegisteredWebhook, StepError> {
        register_stripe_webhook(&self.cloud("register_stripe_webhook"), PlanOnly { plan: self.plan.clone() }).await
    }

    async fn point(&self, webhook: RegisteredWebhook) -> Result<RegisteredWebhook, StepError> {
        let input = PointWebhookInput { plan: self.plan.clone(), webhook, service_url: SERVICE_HOST.into() };
        point_stripe_webhook(&self.cloud("point_stripe_webhook"), input).await
    }

    /// The stand-in's endpoints whose metadata names this run.
    fn this_runs_endpoints(&self) -> Vec<crate::stand_in::Stored> {
        self.stripe.endpoints().into_iter().filter(|e| e.metadata.get(RUN_KEY) == Some(&self.plan.run_id)).collect()
    }

    /// Endpoints of the same account that are not this run's: two by hand, one left by another rehearsal.
    fn seed_others(&self) {
        let mut other_run = self.plan.tags.to_tags();
        other_run.insert(RUN_KEY.into(), "tableicty-20251224".into());
        self.stripe.seed("https://hooks.example.com/stripe", BTreeMap::new());
        self.stripe.seed(&format!("https://{SERVICE_HOST}/api/v1/billing/webhook/"), other_run);
        self.stripe.seed("https://zapier.example.com/hook", BTreeMap::from([("owner".into(), "ops".into())]));
    }

    fn other_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> =
            self.stripe.endpoints().into_iter().filter(|e| e.metadata.get(RUN_KEY) != Some(&self.plan.run_id)).map(|e| e.id).collect();
        ids.sort();
        ids
    }
}

async fn parameter(account: &SimAccount, name: &str) -> Option<Secret> {
    account.session("operator").get_parameter(name).await.unwrap().map(|p| p.value)
}

#[tokio::test]
async fn the_endpoint_is_created_parked_its_secret_stored_then_pointed_at_the_service_keeping_it() {
    let staged = Staged::new().await;
    let registered = staged.register().await.unwrap();

    let ours = staged.this_runs_endpoints();
    assert_eq!(ours.len(), 1, "{ours:?}");
    let endpoint = &ours[0];
    let parked = parking_url(&staged.plan);
    assert_eq!((registered.webhook_id.as_str(), registered.url.as_str()), (endpoint.id.as_str(), parked.as_str()));
    assert_eq!((&endpoint.url, &endpoint.enabled_events), (&parked, &staged.plan.stripe_webhook.events));
    assert_eq!(endpoint.metadata, staged.plan.tags.to_tags());
    assert!(registered.replaced.is_empty());

    let name = staged.plan.staging_parameter(STRIPE_WEBHOOK_SECRET);
    let stored = parameter(&staged.account, &name).await.expect("STRIPE_WEBHOOK_SECRET written");
    assert_eq!(stored.expose(), endpoint.secret, "the signing secret Stripe answered the creation with");
    let tags = staged.account.session("operator").parameter_tags(&name).await.unwrap();
    assert_eq!(tags, staged.plan.tags.to_tags());
    let arn = &registered.parameters.arns[STRIPE_WEBHOOK_SECRET];
    assert!(arn.ends_with(&format!("parameter{name}")), "{arn}");

    // Over the wire, Stripe's update answers without the secret: the stored one stays valid.
    let pointed = staged.point(registered.clone()).await.unwrap();
    let url = format!("https://{SERVICE_HOST}{}", staged.plan.stripe_webhook.path);
    assert_eq!((pointed.webhook_id.as_str(), pointed.url.as_str()), (registered.webhook_id.as_str(), url.as_str()));
    let ours = staged.this_runs_endpoints();
    assert_eq!((ours.len(), &ours[0].url, &ours[0].secret), (1, &url, &endpoint.secret), "the same endpoint, moved");
    assert_eq!(parameter(&staged.account, &name).await.map(|s| s.expose().to_string()), Some(endpoint.secret.clone()));
}

/// The run's one endpoint, found past the first page, is adopted with its stored secret (a
/// service already running has that secret); others' endpoints are left alone.
#[tokio::test]
async fn a_re_run_adopts_this_runs_endpoint_and_its_secret_found_on_a_later_page() {
    let staged = Staged::new().await;
    let first = staged.register().await.unwrap();
    // Created after this run's endpoint, so listing newest first puts it on a later page.
    staged.seed_others();
    let others = staged.other_ids();
    let position = staged.stripe.endpoints().iter().position(|e| e.id == first.webhook_id).unwrap();
    assert!(position >= crate::stand_in::PAGE_SIZE, "this run's endpoint is past the first page");
    let name = staged.plan.staging_parameter(STRIPE_WEBHOOK_SECRET);
    let stored = parameter(&staged.account, &name).await.unwrap();

    let second = staged.register().await.unwrap();
    assert_eq!((second.webhook_id.as_str(), second.replaced.len()), (first.webhook_id.as_str(), 0));
    let ours = staged.this_runs_endpoints();
    assert_eq!(ours.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), [first.webhook_id.as_str()], "exactly one endpoint of this run");
    let again = parameter(&staged.account, &name).await.unwrap();
    assert_eq!((again.expose(), stored.expose()), (ours[0].secret.as_str(), ours[0].secret.as_str()), "the endpoint's own secret, kept");
    assert_eq!(staged.other_ids(), others, "endpoints of others are left alone");
}

#[tokio::test]
async fn a_live_key_is_refused_before_any_request_reaches_stripe() {
    let staged = Staged::new().await;
    let live = Secret::new("sk_live_51NqTbLiveKeyThatMustNotLeave");
    let key_name = staged.plan.staging_parameter(STRIPE_SECRET_KEY);
    staged.account.session("operator").put_parameter(&key_name, &live, ParameterKind::SecureString, true).await.unwrap();

    let error = staged.register().await.unwrap_err();
    assert!(matches!(&error, StepError::InvalidInput { field, .. } if field == "stripe.test_parameter_path"), "{error:?}");
    assert!(!error.to_string().contains(live.expose()), "{error}");
    assert!(staged.stripe.requests().is_empty(), "{:?}", staged.stripe.requests());
    assert_eq!(parameter(&staged.account, &staged.plan.staging_parameter(STRIPE_WEBHOOK_SECRET)).await, None);
}

#[tokio::test]
async fn the_rollback_deletes_this_runs_endpoint_and_only_that() {
    let staged = Staged::new().await;
    staged.register().await.unwrap();
    staged.seed_others();
    let others = staged.other_ids();

    let rollback =
        rollback_staging(&staged.cloud("rollback_staging"), RollbackInput { plan: staged.plan.clone(), attempts: 0 }).await.unwrap();
    assert!(rollback.deleted.contains(&"Stripe webhook endpoints".to_string()), "{rollback:?}");
    assert!(rollback.complete && rollback.failed.is_empty(), "{rollback:?}");
    assert!(staged.this_runs_endpoints().is_empty());
    assert_eq!(staged.other_ids(), others);
    // The key went with the other staging parameters, after the endpoints it reaches.
    assert_eq!(parameter(&staged.account, &staged.plan.staging_parameter(STRIPE_SECRET_KEY)).await, None);

    let again =
        rollback_staging(&staged.cloud("rollback_staging"), RollbackInput { plan: staged.plan.clone(), attempts: 1 }).await.unwrap();
    assert!(again.complete && again.deleted.is_empty(), "{again:?}");
}
