//! `register_stripe_webhook` and `point_stripe_webhook`.

use crate::common::{assert_malformed, assert_not_owned, foreign_tags, invalid_field, not_ready, Run};
use rehearsal_core::cloud::{ParameterKind, ParameterStore, PaymentWebhooks, WebhookEndpoint};
use rehearsal_core::plan::{STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET};
use rehearsal_core::steps::Step;
use rehearsal_core::tags::Ownership;
use rehearsal_core::Secret;
use serde_json::{json, Value};

const REGISTER: Step = Step::RegisterStripeWebhook;
const POINT: Step = Step::PointStripeWebhook;
const SERVICE_HOST: &str = "staging-backend.us-east-1.awsapprunner.com";

/// The staging parameters written (the step reads the staging test key from them), and the
/// step's input.
async fn prepared(run: &Run) -> Value {
    run.ok(Step::WriteStagingParameters, run.with_plan(json!({}))).await;
    run.with_plan(json!({}))
}

async fn test_key(run: &Run) -> Secret {
    run.operator().get_parameter(&run.plan.staging_parameter(STRIPE_SECRET_KEY)).await.unwrap().unwrap().value
}

async fn endpoints(run: &Run) -> Vec<WebhookEndpoint> {
    run.operator().list_webhooks(&test_key(run).await).await.unwrap()
}

fn stripe_calls(run: &Run) -> usize {
    run.account.ledger().calls.iter().filter(|c| c.service == "stripe").count()
}

#[tokio::test(start_paused = true)]
async fn a_fresh_run_registers_at_its_own_buckets_url_in_test_mode_and_keeps_its_secret() {
    let run = Run::planned().await;
    let input = prepared(&run).await;
    let registered = run.ok(REGISTER, input.clone()).await;
    let url = format!("https://{}.s3.amazonaws.com{}", run.plan.frontend.staging_bucket, run.plan.stripe_webhook.path);
    assert_eq!((registered["url"].as_str(), registered["replaced"].clone()), (Some(url.as_str()), json!([])));
    let [endpoint] = endpoints(&run).await.try_into().expect("one endpoint in the test account");
    assert_eq!((endpoint.id.as_str(), endpoint.url.as_str()), (registered["webhook_id"].as_str().unwrap(), url.as_str()));
    assert_eq!(endpoint.enabled_events, run.plan.stripe_webhook.events);
    assert_eq!(run.this_run().ownership(&endpoint.metadata), Ownership::ThisRun);
    let name = run.plan.staging_parameter(STRIPE_WEBHOOK_SECRET);
    assert_eq!(registered["arns"][STRIPE_WEBHOOK_SECRET], json!(rehearsal_sim::parameter_arn(&name)));
    run.assert_this_runs("parameter", &name);
    let secret = run.operator().get_parameter(&name).await.unwrap().unwrap().value;
    assert!(secret.expose().starts_with("whsec_"), "the signing secret Stripe answered at creation");
    assert_eq!(run.production_writes(), Vec::<String>::new());
}

/// A re-run (or a second delivery) finds the run's one endpoint with its secret stored: it keeps
/// both, so a service already running with that secret stays right. Others' endpoints are left.
#[tokio::test(start_paused = true)]
async fn a_rerun_adopts_its_own_endpoint_and_secret_and_leaves_everyone_elses() {
    let run = Run::planned().await;
    let input = prepared(&run).await;
    let key = test_key(&run).await;
    let other =
        run.operator().create_webhook(&key, "https://elsewhere.example/hooks", &["invoice.paid".into()], &foreign_tags()).await.unwrap();
    let first = run.ok(REGISTER, input.clone()).await;
    let name = run.plan.staging_parameter(STRIPE_WEBHOOK_SECRET);
    let secret = run.operator().get_parameter(&name).await.unwrap().unwrap().value;
    let second = run.ok(REGISTER, input).await;
    assert_eq!((second["webhook_id"].clone(), second["replaced"].clone()), (first["webhook_id"].clone(), json!([])));
    assert_eq!(run.operator().get_parameter(&name).await.unwrap().unwrap().value.expose(), secret.expose());
    assert!(run.deleted_by(REGISTER).is_empty());
    assert_eq!(endpoints(&run).await.len(), 2, "the run's and the other one");
    assert!(endpoints(&run).await.iter().any(|e| e.id == other.id));
}

/// Two endpoints of the run (a registration that stopped after creating one): which one the
/// stored secret belongs to is unknown, so a new one replaces both, once its secret is stored.
#[tokio::test(start_paused = true)]
async fn an_attempt_that_stopped_after_creating_is_replaced_with_everything_of_the_run() {
    let run = Run::planned().await;
    let input = prepared(&run).await;
    let key = test_key(&run).await;
    let first = run.ok(REGISTER, input.clone()).await;
    let stray =
        run.operator().create_webhook(&key, "https://x.example/h", &["invoice.paid".into()], &run.this_run().to_tags()).await.unwrap();
    let third = run.ok(REGISTER, input).await;
    let mut replaced: Vec<String> = serde_json::from_value(third["replaced"].clone()).unwrap();
    replaced.sort();
    let mut expected = vec![first["webhook_id"].as_str().unwrap().to_string(), stray.id];
    expected.sort();
    assert_eq!(replaced, expected);
    let ids: Vec<String> = endpoints(&run).await.into_iter().map(|e| e.id).collect();
    assert_eq!(ids, [third["webhook_id"].as_str().unwrap().to_string()]);
    let secret_parameter = format!("parameter {}", run.plan.staging_parameter(STRIPE_WEBHOOK_SECRET));
    assert_eq!(run.created_by(REGISTER).iter().filter(|c| **c == secret_parameter).count(), 1, "overwritten, not created again");
}

#[tokio::test(start_paused = true)]
async fn a_foreign_secret_parameter_is_refused() {
    let run = Run::planned().await;
    let input = prepared(&run).await;
    let name = run.plan.staging_parameter(STRIPE_WEBHOOK_SECRET);
    run.operator().put_parameter(&name, &Secret::new("whsec_someone"), ParameterKind::SecureString, false).await.unwrap();
    assert_not_owned(run.call(REGISTER, input).await, &name);
    assert_eq!(run.operator().get_parameter(&name).await.unwrap().unwrap().value.expose(), "whsec_someone");
}

#[tokio::test(start_paused = true)]
async fn a_live_key_in_the_staging_path_is_refused_before_any_stripe_call() {
    let run = Run::planned().await;
    let input = prepared(&run).await;
    let name = run.plan.staging_parameter(STRIPE_SECRET_KEY);
    run.operator().put_parameter(&name, &Secret::new("sk_live_51NqTbLiveSecretKey"), ParameterKind::SecureString, true).await.unwrap();
    let (field, reason) = invalid_field(run.call(REGISTER, input).await);
    assert!(field == "stripe.test_parameter_path" && reason.contains(&name), "{reason}");
    assert_eq!(stripe_calls(&run), 0);
}

#[tokio::test(start_paused = true)]
async fn a_staging_key_that_vanished_stops_the_step_naming_it() {
    let run = Run::planned().await;
    let input = prepared(&run).await;
    let name = run.plan.staging_parameter(STRIPE_SECRET_KEY);
    run.operator().delete_parameter(&name).await.unwrap();
    not_ready(run.call(REGISTER, input).await, &name);
    assert_eq!(stripe_calls(&run), 0);
}

/// Pointing the endpoint at the service keeps its secret: the one the service already references.
#[tokio::test(start_paused = true)]
async fn pointing_the_endpoint_at_the_service_keeps_its_id_and_secret() {
    let run = Run::planned().await;
    let registered = run.ok(REGISTER, prepared(&run).await).await;
    let name = run.plan.staging_parameter(STRIPE_WEBHOOK_SECRET);
    let secret = run.operator().get_parameter(&name).await.unwrap().unwrap().value;
    let pointed = run.ok(POINT, run.with_plan(json!({"webhook": registered, "service_url": SERVICE_HOST}))).await;
    let url = format!("https://{SERVICE_HOST}{}", run.plan.stripe_webhook.path);
    assert_eq!((pointed["webhook_id"].clone(), pointed["url"].as_str()), (registered["webhook_id"].clone(), Some(url.as_str())));
    let [endpoint] = endpoints(&run).await.try_into().expect("still one endpoint");
    assert_eq!(endpoint.url, url);
    assert_eq!(run.operator().get_parameter(&name).await.unwrap().unwrap().value.expose(), secret.expose());
    assert!(run.created_by(POINT).is_empty() && run.deleted_by(POINT).is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_endpoint_deleted_before_it_is_pointed_fails_the_check_naming_it() {
    let run = Run::planned().await;
    let registered = run.ok(REGISTER, prepared(&run).await).await;
    let id = registered["webhook_id"].as_str().unwrap().to_string();
    run.operator().delete_webhook(&test_key(&run).await, &id).await.unwrap();
    match run.call(POINT, run.with_plan(json!({"webhook": registered, "service_url": SERVICE_HOST}))).await {
        Err(rehearsal_core::StepError::CheckFailed(why)) => assert!(why.contains(&id), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_malformed_service_url_is_refused_naming_the_field() {
    let run = Run::planned().await;
    let registered = run.ok(REGISTER, prepared(&run).await).await;
    let before = stripe_calls(&run);
    assert_malformed(run.call(POINT, run.with_plan(json!({"webhook": registered, "service_url": {"host": "x"}}))).await, "service_url");
    assert_eq!(invalid_field(run.call(POINT, run.with_plan(json!({"webhook": registered, "service_url": "x/y"}))).await).0, "service_url");
    assert_malformed(run.call(POINT, run.with_plan(json!({"webhook": registered}))).await, "service_url");
    assert_eq!(stripe_calls(&run), before, "nothing reached Stripe");
}
