//! `rehearsal run --endpoint-url` end to end: the deployed `staging.asl.json` in the local runner,
//! the step handlers calling moto (RDS, SSM, Scheduler) through the SDK adapters, an App Runner
//! stand-in speaking App Runner's JSON protocol and serving the app, a Stripe stand-in, and the
//! real HTTP and PostgreSQL probes: the app's pages over plain HTTP on loopback and a real
//! PostgreSQL database standing for the staging RDS instance.
//!
//! Where a name resolves nowhere (App Runner's service URLs, moto's RDS endpoints
//! `<id>.aaaaaaaaaa.us-east-1.rds.amazonaws.com`), the run's explicit host overrides send it to
//! loopback: `*.awsapprunner.com` to the app, `*.rds.amazonaws.com` to 127.0.0.1:5432 (the
//! seeded production DATABASE_URL names this test's database, so the rewritten staging URL
//! does too). The clock is real; Wait states are divided by 30.

mod apprunner;
mod postgres;
mod stripe;

use apprunner::{AppRunner, Service};
use chrono::SubsecRound;
use postgres::{TestDatabase, HOST, PORT, USER};
use rehearsal_aws::{load_config, AwsCloud};
use rehearsal_cli::report::{RunReport, RunStatus};
use rehearsal_cli::wire::{connect, run_over_the_wire, HostOverrides, WireOptions, WireRun};
use rehearsal_core::cloud::{ObjectStore, Scheduler};
use rehearsal_core::naming::{final_snapshot_id, production_snapshot_id};
use rehearsal_core::steps::{invoke, Step};
use rehearsal_core::tags::RUN_KEY;
use rehearsal_probes::TlsMode;
use rehearsal_sim::seed::{PRODUCTION_FRONTEND, PRODUCTION_FRONTEND_BUCKET};
use rehearsal_tests::moto::{set_sdk_environment, MotoServer};
use serde_json::{json, Value};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

const PRODUCTION_DB: &str = "tableicty-production-db";
const ADMIN_EMAIL: &str = "testadmin@tableicty.com";
const ADMIN_PASSWORD: &str = "Rehearse-Tq4!mW8zLp2";
const STRIPE_TEST_KEY: &str = "sk_test_51NqTbTestSecretKey3Kd8mQ1wZ6xP4rV9tY2bN7c";
const WAIT_SCALE: u32 = 30;

static MOTO: OnceLock<MotoServer> = OnceLock::new();
static SERIAL: Mutex<()> = Mutex::new(());

/// The shared moto, reset, held exclusively.
fn moto() -> (MutexGuard<'static, ()>, &'static MotoServer) {
    let serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let moto = MOTO.get_or_init(|| {
        set_sdk_environment();
        MotoServer::start(&[])
    });
    moto.reset();
    (serial, moto)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime")
}

/// Production as the runbook finds it, in moto: the RDS instance, its parameters (DATABASE_URL
/// naming `database`), the Stripe test keys and the test admin's password, the Scheduler group
/// the SAM template creates, and the frontend build in its bucket.
async fn seed_production(aws: &AwsCloud, database: &TestDatabase) {
    aws.rds
        .create_db_instance()
        .db_instance_identifier(PRODUCTION_DB)
        .engine("postgres")
        .db_instance_class("db.t3.small")
        .allocated_storage(20)
        .master_username(USER)
        .master_user_password("production-password")
        .publicly_accessible(false)
        .send()
        .await
        .expect("the production instance");
    let url =
        format!("postgres://{USER}:production-password@{PRODUCTION_DB}.aaaaaaaaaa.us-east-1.rds.amazonaws.com:{PORT}/{}", database.name);
    let parameters = [
        ("/tableicty/production/DATABASE_URL", url.as_str(), "SecureString"),
        ("/tableicty/production/SECRET_KEY", "django-prod-8f#kq2!vz7@xw3$mn5^tb9&hc1*rd6", "SecureString"),
        ("/tableicty/production/PGCRYPTO_KEY", "pgcrypto-4e9a1c7f2b8d6e0a3c5f7b9d1e2a4c6f", "SecureString"),
        ("/tableicty/production/STRIPE_SECRET_KEY", "sk_live_51NqTbLiveSecretKey7Hd2kQ9wX4mZ8pR3vT6yB1nC5", "SecureString"),
        ("/tableicty/production/STRIPE_PUBLISHABLE_KEY", "pk_live_51NqTbLivePublishable2Xc7Vb4Nm9Qw1Er6Ty3Ui8", "String"),
        ("/tableicty/production/FRONTEND_URL", "https://app.tableicty.com", "String"),
        ("/tableicty/rehearsal/STRIPE_SECRET_KEY", STRIPE_TEST_KEY, "SecureString"),
        ("/tableicty/rehearsal/STRIPE_PUBLISHABLE_KEY", "pk_test_51NqTbTestPublishable6Zx1Cv8Bn3Mq5Wr2Et9Yu4", "String"),
        ("/tableicty/rehearsal/TEST_ADMIN_PASSWORD", ADMIN_PASSWORD, "SecureString"),
    ];
    for (name, value, kind) in parameters {
        aws.ssm.put_parameter().name(name).value(value).r#type(kind.into()).send().await.unwrap_or_else(|e| panic!("{name}: {e:?}"));
    }
    aws.scheduler.create_schedule_group().name("rehearsal").send().await.expect("the rehearsal schedule group");
    // Production's frontend build, as the simulated account holds it.
    aws.s3.create_bucket().bucket(PRODUCTION_FRONTEND_BUCKET).send().await.expect("the production frontend bucket");
    for (key, content_type, body) in PRODUCTION_FRONTEND {
        aws.put_object(PRODUCTION_FRONTEND_BUCKET, key, body.as_bytes().to_vec(), content_type).await.expect("a frontend object");
    }
}

/// Everything around one run: moto seeded, the App Runner and Stripe stand-ins, the database.
struct Stage {
    _serial: MutexGuard<'static, ()>,
    moto: &'static MotoServer,
    apprunner: AppRunner,
    stripe: stripe::Stripe,
    database: TestDatabase,
    options: WireOptions,
}

impl Stage {
    fn new() -> Self {
        let (serial, moto) = moto();
        let database = TestDatabase::create(ADMIN_EMAIL, ADMIN_PASSWORD);
        runtime().block_on(async { seed_production(&AwsCloud::new(&load_config(Some(&moto.endpoint())).await), &database).await });
        let apprunner = AppRunner::start(moto);
        let stripe = stripe::Stripe::start(STRIPE_TEST_KEY);
        let rule = |text: String| HostOverrides::parse_rule(&text).expect("a host rule");
        let options = WireOptions {
            endpoint_url: moto.endpoint(),
            apprunner_endpoint_url: Some(apprunner.api.url()),
            stripe_api_url: Some(stripe.server.url()),
            http_overrides: HostOverrides::new(vec![rule(format!("*.awsapprunner.com=127.0.0.1:{}", apprunner.app.port()))]),
            db_overrides: HostOverrides::new(vec![rule(format!("*.rds.amazonaws.com={HOST}:{PORT}"))]),
            db_tls: TlsMode::Disable,
            wait_scale: WAIT_SCALE,
        };
        Self { _serial: serial, moto, apprunner, stripe, database, options }
    }

    fn run(&self, start: chrono::DateTime<chrono::Utc>) -> RunReport {
        // moto's restore copies nothing: both DATABASE_URLs route to the one real database, so
        // masking would write the database production's URL names and compare it with itself.
        // The masker is tested on a real copy in crates/probes/tests/postgres/masking.rs.
        let input = json!({"masking": {"enabled": false}});
        let run = WireRun { input, start_time: start, execution_name: "wire-test".into() };
        runtime().block_on(run_over_the_wire(&self.options, run, std::io::sink())).expect("the run runs")
    }

    /// What carries `run_id`'s tag (or, for schedules, its name) in moto and the stand-ins.
    fn leftovers(&self, run_id: &str) -> Vec<String> {
        let mut left = Vec::new();
        runtime().block_on(async {
            let aws = AwsCloud::new(&load_config(Some(&self.moto.endpoint())).await);
            for db in aws.rds.describe_db_instances().send().await.expect("instances").db_instances() {
                if db.tag_list().iter().any(|t| t.key() == Some(RUN_KEY) && t.value() == Some(run_id)) {
                    left.push(format!("db {}", db.db_instance_identifier().unwrap_or_default()));
                }
            }
            for snapshot in aws.rds.describe_db_snapshots().send().await.expect("snapshots").db_snapshots() {
                if snapshot.tag_list().iter().any(|t| t.key() == Some(RUN_KEY) && t.value() == Some(run_id)) {
                    left.push(format!("snapshot {}", snapshot.db_snapshot_identifier().unwrap_or_default()));
                }
            }
            let mut pages = aws.ssm.describe_parameters().into_paginator().send();
            let mut names = Vec::new();
            while let Some(page) = pages.next().await {
                names.extend(page.expect("parameters").parameters().iter().filter_map(|p| p.name().map(str::to_string)));
            }
            for name in &names {
                let tags = aws.ssm.list_tags_for_resource().resource_type("Parameter".into()).resource_id(name).send().await.expect("tags");
                if tags.tag_list().iter().any(|t| t.key() == RUN_KEY && t.value() == run_id) {
                    left.push(format!("parameter {name}"));
                }
            }
            let schedules = aws.scheduler.list_schedules().group_name("rehearsal").send().await.expect("schedules");
            for schedule in schedules.schedules() {
                if schedule.name().is_some_and(|n| n.contains(run_id)) {
                    left.push(format!("schedule {}", schedule.name().unwrap_or_default()));
                }
            }
        });
        for service in self.apprunner.services() {
            if service.status != "DELETED" && service.tags.get(RUN_KEY).map(String::as_str) == Some(run_id) {
                left.push(format!("service {} ({})", service.name, service.status));
            }
        }
        for endpoint in self.stripe.endpoints() {
            if endpoint.metadata.get(RUN_KEY).map(String::as_str) == Some(run_id) {
                left.push(format!("stripe webhook {}", endpoint.id));
            }
        }
        left
    }

    fn staging_service(&self) -> Service {
        self.apprunner.services().into_iter().find(|s| s.name == "tableicty-staging-backend").expect("the staging service exists")
    }
}

fn start_time() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

#[test]
fn happy_path_over_the_wire_builds_staging_and_passes_every_check() {
    let stage = Stage::new();
    let start = start_time();
    let wall = Instant::now();
    let report = stage.run(start);
    assert_eq!(report.status, RunStatus::Succeeded, "{:?}: {:?}\n{:#?}", report.error, report.cause, report.summary);
    // A handful of real one-second waits, not the definition's minutes.
    assert!(wall.elapsed() < Duration::from_secs(90), "{:?}", wall.elapsed());

    // Every check of runbook steps 5-7 ran against the real database and the app, and passed.
    let names: Vec<&str> = report.checks.iter().map(|c| c["name"].as_str().unwrap_or_default()).collect();
    for expected in
        ["tenant tables exist", "every issuer has a tenant", "health endpoint returns 200", "token refresh", "tenant registration"]
    {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    assert!(report.checks.iter().all(|c| c["passed"] == true), "{:#?}", report.checks);

    // The staging service runs with the staging parameters only, and the app's URL is the run's.
    let service = stage.staging_service();
    assert_eq!(service.status, "RUNNING");
    let output = report.output.as_ref().unwrap();
    assert_eq!(output["staging_url"], format!("https://{}", service.url));
    let secrets = service.secrets();
    assert!(
        secrets.contains_key("DATABASE_URL") && secrets.contains_key("FRONTEND_URL") && secrets.contains_key("STRIPE_WEBHOOK_SECRET"),
        "{secrets:?}"
    );
    assert!(secrets.values().all(|arn| arn.contains(":parameter/tableicty/staging/")), "{secrets:?}");
    let environment = service.environment.clone().expect("the running deployment's environment");
    assert_eq!(environment["FRONTEND_URL"], format!("https://{}", service.url));
    assert!(
        environment["DATABASE_URL"].contains("tableicty-staging-db.aaaaaaaaaa.us-east-1.rds.amazonaws.com"),
        "not the staging endpoint"
    );
    assert_eq!(environment["STRIPE_SECRET_KEY"], STRIPE_TEST_KEY);

    // The database got the migrations and the backfill; the checklist's tenant was registered.
    let count = |sql: &str| stage.database.sql(sql, &[]).expect("a count");
    assert_eq!(count("SELECT count(*) FROM core_issuer WHERE tenant_id IS NULL"), "0");
    assert_eq!(count("SELECT count(*) FROM core_tenant WHERE slug LIKE 'rehearsal-check-%'"), "1");
    // A test-mode Stripe endpoint for the staging URL, tagged with the run.
    let webhooks = stage.stripe.endpoints();
    assert_eq!(webhooks.len(), 1, "{webhooks:?}");
    assert_eq!(webhooks[0].url, format!("https://{}/api/v1/billing/webhook/", service.url));
    assert_eq!(webhooks[0].metadata.get(RUN_KEY), Some(&report.run_id));
    // Production's service was only read.
    let production = stage.apprunner.services().into_iter().find(|s| s.name == "tableicty-backend").unwrap();
    assert_eq!((production.status.as_str(), production.environment.is_none()), ("RUNNING", true));

    // Staging stays up until its teardown: what it is made of is there, tagged with the run.
    let left = stage.leftovers(&report.run_id);
    for kind in [
        "db tableicty-staging-db",
        "snapshot rehearsal-tableicty-",
        "parameter /tableicty/staging/DATABASE_URL",
        // The run holds its app's staging until the teardown releases it.
        "parameter /rehearsal/leases/tableicty/staging",
        "schedule rehearsal-teardown-",
        "service tableicty-staging-backend",
        "stripe webhook",
    ] {
        assert!(left.iter().any(|l| l.starts_with(kind)), "{kind} not in {left:?}");
    }

    // Its EventBridge schedule in moto: one time, at the end of the time to live, starting the
    // teardown machine with the run's plan; the teardown step, given exactly that input, removes
    // staging (the database after a final snapshot) and the schedule, and keeps the backup; the
    // release of the lease follows.
    runtime().block_on(async {
        let cloud = connect(&stage.options).await.expect("the wire cloud");
        let name = format!("rehearsal-teardown-{}", report.run_id);
        let schedule = cloud.get_schedule("rehearsal", &name).await.expect("GetSchedule").expect("the teardown schedule");
        // Scheduler's at() has whole seconds.
        assert_eq!(schedule.at, (start + chrono::Duration::hours(24)).trunc_subsecs(0));
        assert_eq!(schedule.target_arn, "arn:aws:states:us-east-1:123456789012:stateMachine:rehearsal-teardown");
        let request: Value = serde_json::from_str(&schedule.input).expect("JSON input");
        assert_eq!(request["plan"]["run_id"], report.run_id);
        for attempt in 0..20 {
            let state =
                invoke(&cloud, Step::TeardownStaging, json!({"request": request, "attempts": attempt})).await.expect("a teardown attempt");
            if state["complete"] == true {
                // As the teardown machine does next: staging is gone, the run's lease goes too.
                let released = invoke(&cloud, Step::ReleaseStagingLease, json!({"plan": request["plan"]})).await.expect("the release");
                assert_eq!(released["released"], true, "{released}");
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        panic!("the teardown did not complete");
    });
    let mut left = stage.leftovers(&report.run_id);
    left.sort();
    assert_eq!(
        left,
        vec![
            format!("snapshot {}", production_snapshot_id(&report.run_id)),
            format!("snapshot {}", final_snapshot_id("tableicty-staging-db", &report.run_id)),
        ]
    );
}

#[test]
fn a_service_that_fails_to_create_rolls_everything_back_over_the_wire() {
    let stage = Stage::new();
    stage.apprunner.fail_creations();
    let report = stage.run(start_time());
    assert_eq!(report.status, RunStatus::RolledBack, "{:?}: {:?}\n{:#?}", report.error, report.cause, report.summary);
    assert_eq!(report.error.as_deref(), Some("ServiceFailedError"));
    assert_eq!(report.cause.as_deref(), Some("service tableicty-staging-backend ended CREATE_FAILED (operation FAILED)"));
    let entered: Vec<&str> = report.summary.iter().map(|s| s.name.as_str()).collect();
    for state in ["WaitForService", "ServiceFailed", "StartRollback", "RollbackStaging", "RolledBack"] {
        assert!(entered.contains(&state), "{state} not in {entered:?}");
    }
    // Deleting the failed service took a while: the rollback ran again after a wait.
    assert!(report.summary.iter().any(|s| s.name == "RollbackStaging" && s.times_entered > 1), "{:#?}", report.summary);
    assert_eq!(stage.leftovers(&report.run_id), Vec::<String>::new());
    assert_eq!(stage.staging_service().status, "DELETED");
}
