//! `copy_staging_frontend`, `serve_staging_frontend`, `check_staging_frontend` and
//! `configure_staging_frontend`, and the removal of the bucket and the distribution by the
//! rollback, on the simulated account's S3 and CloudFront.

use crate::common::{assert_not_owned, invalid_field, not_ready, Run};
use rehearsal_core::cloud::{ObjectStore, ParameterStore};
use rehearsal_core::plan::FRONTEND_URL;
use rehearsal_core::run::FrontendServing;
use rehearsal_core::steps::Step;
use rehearsal_core::StepError;
use rehearsal_sim::seed;
use rehearsal_sim::FaultKind;
use serde_json::{json, Value};

const COPY: Step = Step::CopyStagingFrontend;
const CONFIGURE: Step = Step::ConfigureStagingFrontend;
const SERVE: Step = Step::ServeStagingFrontend;
const CHECK: Step = Step::CheckStagingFrontend;
const BUCKET: &str = "tableicty-staging";

/// Calls the copy as `IsFrontendCopied` does, until it says it is done; answers every state.
async fn copy_all(run: &Run) -> Vec<Value> {
    let mut states = vec![run.ok(COPY, run.with_plan(json!({}))).await];
    while states.last().unwrap()["done"] != json!(true) {
        let last = states.last().unwrap().clone();
        states.push(run.ok(COPY, run.with_plan(json!({"frontend": last}))).await);
        assert!(states.len() < 10, "the copy never ends: {states:?}");
    }
    states
}

#[tokio::test(start_paused = true)]
async fn production_s_build_is_copied_page_by_page_into_a_private_tagged_bucket_and_a_rerun_adopts_it() {
    let run = Run::planned().await;
    // More pages than one invocation lists (5 of 1000 keys).
    run.account.add_production_frontend_objects("assets/chunk-", 5500);
    let states = copy_all(&run).await;
    assert_eq!(states.len(), 2, "{states:?}");
    assert_eq!(states[0]["done"], json!(false));
    assert!(states[0]["next_token"].is_string());
    let total = 5500 + seed::PRODUCTION_FRONTEND.len() - 1;
    assert_eq!(states[1]["copied"], json!(total));
    assert_eq!(run.created_by(COPY), vec![format!("bucket {BUCKET}")]);

    let bucket = run.account.bucket(BUCKET).unwrap();
    assert_eq!(bucket.objects.len(), total, "every object but the configuration");
    assert!(!bucket.objects.contains_key("config.json"), "production's configuration was copied");
    assert!(bucket.public_access_blocked && bucket.encryption == Some("AES256"));
    assert_eq!(bucket.tags, run.this_run().to_tags());
    assert!(run.production_writes().is_empty(), "{:?}", run.production_writes());

    // A re-run adopts the bucket and copies again to the same result.
    let again = copy_all(&run).await;
    assert_eq!(again[0]["reused"], json!(true));
    assert_eq!(run.created_by(COPY).len(), 1);
    assert_eq!(run.account.bucket(BUCKET).unwrap().objects, bucket.objects);
}

#[tokio::test(start_paused = true)]
async fn a_bucket_name_another_account_or_another_owner_holds_is_refused_and_left_alone() {
    let run = Run::planned().await;
    run.account.plant_foreign_bucket(BUCKET);
    assert_not_owned(run.call(COPY, run.with_plan(json!({}))).await, BUCKET);
    assert!(!run.calls_of(COPY).iter().any(|c| c == "CreateBucket" || c == "CopyObject"), "{:?}", run.calls_of(COPY));

    // This account's bucket, not made by this run: refused too, nothing copied into it.
    let run = Run::planned().await;
    run.operator().create_bucket(BUCKET, &Default::default()).await.unwrap();
    assert_not_owned(run.call(COPY, run.with_plan(json!({}))).await, BUCKET);
    assert!(run.account.bucket(BUCKET).unwrap().objects.is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_already_exists_race_is_refused() {
    let run = Run::planned().await;
    run.inject(COPY, rehearsal_sim::FaultKind::AlreadyExists);
    assert_not_owned(run.call(COPY, run.with_plan(json!({}))).await, BUCKET);
    assert_eq!(run.foreign_ids(), vec![BUCKET.to_string()]);
}

#[tokio::test(start_paused = true)]
async fn the_configuration_points_at_the_staging_backend_and_keeps_production_s_other_fields() {
    let run = Run::planned().await;
    copy_all(&run).await;
    let configured = run.ok(CONFIGURE, run.with_plan(json!({"service_url": "abc123.us-east-1.awsapprunner.com"}))).await;
    assert_eq!(configured["api_url"], json!("https://abc123.us-east-1.awsapprunner.com"));
    let config: Value = serde_json::from_slice(&run.account.bucket(BUCKET).unwrap().objects["config.json"]).unwrap();
    assert_eq!(config["apiUrl"], json!("https://abc123.us-east-1.awsapprunner.com"));
    assert!(config["stripePublishableKey"].is_string(), "{config}");
    let production = run.account.bucket(seed::PRODUCTION_FRONTEND_BUCKET).unwrap();
    let original: Value = serde_json::from_slice(&production.objects["config.json"]).unwrap();
    assert_eq!(original["apiUrl"], json!("https://api.tableicty.com"), "production's configuration changed");
    assert!(run.production_writes().is_empty());

    // A field production's configuration lacks stops the step, naming it.
    let mut plan = run.plan.clone();
    plan.frontend.api_url_field = "backendUrl".into();
    not_ready(run.call(CONFIGURE, json!({"plan": plan, "service_url": "abc123.us-east-1.awsapprunner.com"})).await, "backendUrl");
    // A URL that is not a host name is refused.
    assert!(matches!(
        run.call(CONFIGURE, run.with_plan(json!({"service_url": "evil.example/x"}))).await,
        Err(StepError::InvalidInput { field, .. }) if field == "service_url"
    ));
}

#[tokio::test(start_paused = true)]
async fn a_plan_naming_production_s_bucket_as_staging_is_refused_before_any_call() {
    let run = Run::planned().await;
    let mut plan = run.plan.clone();
    plan.frontend.staging_bucket = seed::PRODUCTION_FRONTEND_BUCKET.into();
    for step in [COPY, CONFIGURE, Step::RollbackStaging] {
        let input = match step {
            COPY => json!({"plan": plan}),
            CONFIGURE => json!({"plan": plan, "service_url": "abc.us-east-1.awsapprunner.com"}),
            _ => json!({"plan": plan, "attempts": 0}),
        };
        assert!(matches!(run.call(step, input).await, Err(StepError::ProductionWriteRefused { .. })), "{}", step.name());
        assert!(run.calls_of(step).is_empty(), "{}: {:?}", step.name(), run.calls_of(step));
    }
}

#[tokio::test(start_paused = true)]
async fn the_rollback_deletes_every_version_and_the_bucket_and_keeps_a_foreign_one() {
    let run = Run::planned().await;
    run.account.add_production_frontend_objects("assets/chunk-", 1200);
    copy_all(&run).await;
    // Versioned since, with older versions and more than one page of them.
    run.account.enable_bucket_versioning(BUCKET);
    copy_all(&run).await;
    assert!(run.account.bucket(BUCKET).unwrap().versions > 2000);
    let attempts = run.until_removed(Step::RollbackStaging, |n| run.with_plan(json!({"attempts": n}))).await;
    assert!(attempts[0]["deleted"].to_string().contains(BUCKET), "{attempts:?}");
    assert_eq!(run.account.bucket(BUCKET), None);
    assert!(run.production_writes().is_empty());

    let run = Run::planned().await;
    run.account.plant_foreign_bucket(BUCKET);
    let attempts = run.until_removed(Step::RollbackStaging, |n| run.with_plan(json!({"attempts": n}))).await;
    assert!(attempts[0]["kept"].to_string().contains(BUCKET), "{attempts:?}");
    assert!(!run.calls_of(Step::RollbackStaging).iter().any(|c| c == "DeleteBucket" || c == "DeleteObjects"));
}

/// A run whose document says `frontend.serving: cloudfront`, its build copied.
async fn served_run() -> Run {
    let mut run = Run::planned().await;
    run.plan.frontend.serving = FrontendServing::Cloudfront;
    run.plan.frontend_distribution = true;
    copy_all(&run).await;
    run
}

#[tokio::test(start_paused = true)]
async fn served_through_cloudfront_only_the_runs_distribution_reads_the_bucket_and_its_url_is_frontend_url() {
    let run = served_run().await;
    let served = run.ok(SERVE, run.with_plan(json!({}))).await;
    let id = served["distribution_id"].as_str().unwrap().to_string();
    let frontend_url = run.plan.staging_parameter(FRONTEND_URL);
    assert_eq!(run.created_by(SERVE), [format!("distribution {id}"), format!("parameter {frontend_url}")]);
    run.assert_this_runs("distribution", &id);
    assert_eq!(
        (served["phase"].as_str(), served["status"].as_str(), served["reused"].as_bool()),
        (Some("in_progress"), Some("InProgress"), Some(false))
    );

    let (distribution, origin) = run.account.distributions().pop().expect("one distribution");
    assert_eq!((distribution.comment.as_str(), origin.as_str()), (run.plan.distribution_name().as_str(), BUCKET));
    let url = format!("https://{}", distribution.domain_name);
    assert!(url.ends_with(".cloudfront.net") && served["url"] == json!(url), "{served}");
    assert_eq!(run.operator().get_parameter(&frontend_url).await.unwrap().unwrap().value.expose(), url);
    assert_eq!(served["arns"][FRONTEND_URL], json!(rehearsal_sim::parameter_arn(&frontend_url)));

    let bucket = run.account.bucket(BUCKET).unwrap();
    let policy: Value = serde_json::from_str(bucket.policy.as_deref().expect("a bucket policy")).unwrap();
    let statement = &policy["Statement"][0];
    assert_eq!(statement["Principal"], json!({"Service": "cloudfront.amazonaws.com"}));
    assert_eq!(statement["Condition"]["StringEquals"]["AWS:SourceArn"], json!(distribution.arn));
    assert_eq!(statement["Resource"], json!(format!("arn:aws:s3:::{BUCKET}/*")));
    assert!(bucket.public_access_blocked, "the bucket stays private");

    let deployed = run.wait_for(CHECK, "served", served.clone()).await;
    assert_eq!((deployed["phase"].as_str(), deployed["status"].as_str()), (Some("ready"), Some("Deployed")));
    // A re-run (or a retried invocation) adopts it.
    let again = run.ok(SERVE, run.with_plan(json!({}))).await;
    assert_eq!((again["distribution_id"].as_str(), again["reused"].as_bool()), (Some(id.as_str()), Some(true)));
    assert_eq!(run.created_by(SERVE).len(), 2, "nothing created again");
    assert!(run.production_writes().is_empty(), "{:?}", run.production_writes());
}

#[tokio::test(start_paused = true)]
async fn a_lost_answer_to_the_creation_is_adopted_on_the_retry() {
    let run = served_run().await;
    run.inject(SERVE, FaultKind::LostResponse);
    assert!(run.call(SERVE, run.with_plan(json!({}))).await.is_err());
    let served = run.ok(SERVE, run.with_plan(json!({}))).await;
    assert_eq!(run.account.distributions().len(), 1);
    assert_eq!(served["reused"], json!(true));
}

#[tokio::test(start_paused = true)]
async fn a_distribution_under_the_runs_name_that_another_made_is_refused_and_left_alone() {
    let run = served_run().await;
    run.inject(SERVE, FaultKind::AlreadyExists);
    assert_not_owned(run.call(SERVE, run.with_plan(json!({}))).await, &run.plan.distribution_name());
    assert!(run.created_by(SERVE).is_empty());
    assert!(!run.calls_of(SERVE).iter().any(|c| c == "PutBucketPolicy" || c == "PutParameter"), "{:?}", run.calls_of(SERVE));
    let attempts = run.until_removed(Step::RollbackStaging, |n| run.with_plan(json!({"attempts": n}))).await;
    assert!(attempts[0]["kept"].to_string().contains("distribution"), "{attempts:?}");
    assert_eq!(run.account.distributions().len(), 1, "the foreign distribution is kept");
}

#[tokio::test(start_paused = true)]
async fn serving_is_refused_unless_the_document_asks_for_cloudfront() {
    let run = Run::planned().await;
    assert_eq!(invalid_field(run.call(SERVE, run.with_plan(json!({}))).await).0, "frontend.serving");
    assert!(run.calls_of(SERVE).is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_rollback_disables_the_distribution_then_deletes_it_once_that_is_deployed() {
    let run = served_run().await;
    let served = run.ok(SERVE, run.with_plan(json!({}))).await;
    let attempts = run.until_removed(Step::RollbackStaging, |n| run.with_plan(json!({"attempts": n}))).await;
    assert!(attempts[0]["pending"].to_string().contains("disabling"), "{attempts:?}");
    assert!(attempts.len() > 2, "disabled, then deleted minutes later: {attempts:?}");
    assert_eq!(run.deleted_by(Step::RollbackStaging).iter().filter(|d| d.starts_with("distribution")).count(), 1);
    assert!(run.account.distributions().is_empty() && run.account.bucket(BUCKET).is_none());
    assert!(run.existing("distribution", served["distribution_id"].as_str().unwrap()).is_none());
}
