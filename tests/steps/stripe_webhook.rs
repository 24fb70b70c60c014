//! `register_stripe_webhook`.

use crate::common::{assert_malformed, assert_not_owned, foreign_tags, invalid_field, not_ready, Run};
use rehearsal_core::cloud::{ParameterKind, ParameterStore, PaymentWebhooks, WebhookEndpoint};
use rehearsal_core::plan::{STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET};
use rehearsal_core::steps::Step;
use rehearsal_core::tags::Ownership;
use rehearsal_core::Secret;
use serde_json::{json, Value};

const REGISTER: Step = Step::RegisterStripeWebhook;

/// The staging parameters written (the step reads the staging test key from them), and the
/// step's input for the service at `host`.
async fn prepared(run: &Run) -> Value {
    run.ok(Step::WriteStagingParameters, run.with_plan(json!({}))).await;
    run.with_plan(json!({"service_url": "staging-backend.us-east-1.awsapprunner.com"}))
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
async fn a_fresh_run_registers_the_staging_url_in_test_mode_and_keeps_its_secret() {
    let run = Run::planned().await;
    let input = prepared(&run).await;
    let registered = run.ok(REGISTER, input.clone()).await;
    let url = format!("https://{}{}", input["service_url"].as_str().unwrap(), run.plan.stripe_webhook.path);
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

/// Stripe reveals a secret only at creation: a re-run replaces its own endpoint.
#[tokio::test(start_paused = true)]
async fn a_rerun_replaces_its_own_endpoint_and_leaves_everyone_elses() {
    let run = Run::planned().await;
    let input = prepared(&run).await;
    let key = test_key(&run).await;
    let other =
        run.operator().create_webhook(&key, "https://elsewhere.example/hooks", &["invoice.paid".into()], &foreign_tags()).await.unwrap();
    let first = run.ok(REGISTER, input.clone()).await;
    let second = run.ok(REGISTER, input).await;
    assert_eq!(second["replaced"], json!([first["webhook_id"]]));
    assert_eq!(run.deleted_by(REGISTER), [format!("stripe-webhook {}", first["webhook_id"].as_str().unwrap())]);
    let mut left: Vec<String> = endpoints(&run).await.into_iter().map(|e| e.id).collect();
    left.sort();
    let mut expected = vec![other.id, second["webhook_id"].as_str().unwrap().to_string()];
    expected.sort();
    assert_eq!(left, expected);
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

#[tokio::test(start_paused = true)]
async fn a_malformed_service_url_is_refused_naming_the_field() {
    let run = Run::planned().await;
    assert_malformed(run.call(REGISTER, run.with_plan(json!({"service_url": {"host": "x"}}))).await, "service_url");
    assert_malformed(run.call(REGISTER, run.with_plan(json!({}))).await, "service_url");
    assert!(run.calls_of(REGISTER).is_empty());
}
