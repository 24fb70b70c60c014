//! The simulated app and database against core's checklists.

use crate::common::*;
use rehearsal_core::checks::db::{backfill_checks, migration_checks, run_checks, DbQuery};
use rehearsal_core::checks::http::{request, run_checklist, BACKFILL_TOKEN_HEADER};
use rehearsal_core::checks::CheckResult;
use rehearsal_core::cloud::{
    Clock, DatabaseProbe, DbTarget, HttpClient, HttpError, HttpRequest, ParameterKind, ParameterStore, ProbeError, Rds, ServiceHost,
};
use rehearsal_core::run::ValidationInput;
use rehearsal_core::Secret;
use rehearsal_sim::seed::*;
use rehearsal_sim::SimCloud;
use serde_json::{json, Value};

fn target(password: &str) -> DbTarget {
    DbTarget {
        host: STAGING_ENDPOINT.into(),
        port: 5432,
        database: DATABASE_NAME.into(),
        user: DB_MASTER_USER.into(),
        password: Secret::new(password),
    }
}

fn failures(results: &[CheckResult]) -> Vec<&str> {
    results.iter().filter(|r| !r.passed).map(|r| r.name.as_str()).collect()
}

async fn checklist(session: &SimCloud, base_url: &str, password: &Secret, tenant: &str) -> Vec<CheckResult> {
    run_checklist(session, base_url, &ValidationInput::default(), password, tenant, session.now()).await
}

async fn backfill(session: &SimCloud, base_url: &str, token: Option<&str>) -> (u16, Value) {
    let path = ValidationInput::default().backfill_path;
    let mut req = request("POST", format!("{base_url}{path}"), None, None);
    if let Some(token) = token {
        req.headers.push((BACKFILL_TOKEN_HEADER.to_string(), Secret::new(token)));
    }
    let response = session.send(req).await.unwrap();
    (response.status, serde_json::from_str(&response.body).unwrap_or(Value::Null))
}

#[tokio::test(start_paused = true)]
async fn the_checklists_fail_before_the_deployment_and_pass_after_deploy_and_backfill() {
    let account = account();
    snapshot_and_restore(&account).await;
    let probe = account.session("verify_staging_migrations");
    let password = value_of(&account, TEST_ADMIN_PASSWORD_PARAMETER).await;

    let (secrets, database_url) = write_parameters(&account).await;
    let db_password = url::Url::parse(database_url.expose()).unwrap().password().unwrap().to_string();
    let before = run_checks(&probe, &target(&db_password), &migration_checks()).await.unwrap();
    assert_eq!(failures(&before), ["tenant tables exist", "subscription tables exist"]);

    let (info, _) = account.session("create_staging_service").create_service(&spec(secrets), &tags()).await.unwrap();
    let described = account.session("check_staging_service").describe_service(&info.arn).await.unwrap().expect("the service exists");
    let base = format!("https://{}", described.url);
    let validate = account.session("validate_staging");
    let early = checklist(&validate, &base, &password, "rehearsal-check-early").await;
    assert!(early[0].found.contains("connection refused"), "{early:?}");
    assert_eq!(failures(&early), ["health endpoint returns 200", "login as testadmin@tableicty.com"]);

    minutes(6).await;
    let migrated = run_checks(&probe, &target(&db_password), &migration_checks()).await.unwrap();
    assert!(failures(&migrated).is_empty(), "{migrated:?}");
    let not_backfilled = run_checks(&probe, &target(&db_password), &backfill_checks()).await.unwrap();
    assert_eq!(failures(&not_backfilled).len(), 4, "{not_backfilled:?}");

    let trigger = account.session("trigger_staging_backfill");
    assert_eq!(
        backfill(&trigger, &base, Some(BACKFILL_TOKEN)).await,
        (200, json!({"tenants_created": 1, "plans_created": 3, "rows_assigned": 15}))
    );
    assert_eq!(
        backfill(&trigger, &base, Some(BACKFILL_TOKEN)).await,
        (200, json!({"tenants_created": 0, "plans_created": 0, "rows_assigned": 0}))
    );
    let backfilled = run_checks(&probe, &target(&db_password), &backfill_checks()).await.unwrap();
    assert!(failures(&backfilled).is_empty(), "{backfilled:?}");

    let results = checklist(&validate, &base, &password, "rehearsal-check-1").await;
    assert_eq!(results.len(), 5);
    assert!(failures(&results).is_empty(), "{results:?}");
    assert!(results[3].found.contains("users: Unlimited") && results[3].found.contains("storage_gb: 50"), "{:?}", results[3]);
    let again = checklist(&validate, &base, &password, "rehearsal-check-1").await;
    assert_eq!(failures(&again), ["tenant registration"], "a slug registers once");
    let wrong = checklist(&validate, &base, &Secret::new("not-it"), "rehearsal-check-2").await;
    assert_eq!(failures(&wrong), ["login as testadmin@tableicty.com"]);
    assert!(wrong[1].found.contains("HTTP 401"), "{:?}", wrong[1]);
}

#[tokio::test(start_paused = true)]
async fn the_backfill_token_is_read_from_parameter_store_at_request_time() {
    let account = account();
    let staged = stage(&account).await;
    let trigger = account.session("trigger_staging_backfill");
    assert_eq!(backfill(&trigger, &staged.url, None).await.0, 403);
    assert_eq!(backfill(&trigger, &staged.url, Some("guess")).await.0, 403);
    let ssm = account.session("trigger_staging_backfill");
    ssm.put_parameter("/tableicty/staging/BACKFILL_TOKEN", &Secret::new("rotated"), ParameterKind::SecureString, true).await.unwrap();
    assert_eq!(backfill(&trigger, &staged.url, Some(BACKFILL_TOKEN)).await.0, 403, "the old token no longer matches");
    assert_eq!(backfill(&trigger, &staged.url, Some("rotated")).await.0, 200);
    ssm.delete_parameter("/tableicty/staging/BACKFILL_TOKEN").await.unwrap();
    assert_eq!(backfill(&trigger, &staged.url, Some("rotated")).await.0, 403, "no parameter, no backfill");
    let reads = account.ledger().calls.into_iter().filter(|c| c.step == "app:tableicty-staging-backend").count();
    assert_eq!(reads, 5, "the app reads the token parameter on every call");
}

#[tokio::test(start_paused = true)]
async fn tokens_expire_on_the_virtual_clock_and_endpoints_need_them() {
    let account = account();
    let staged = stage(&account).await;
    let http = account.session("validate_staging");
    let paths = ValidationInput::default();
    let password = value_of(&account, TEST_ADMIN_PASSWORD_PARAMETER).await;
    let login = http
        .send(request(
            "POST",
            format!("{}{}", staged.url, paths.login_path),
            None,
            Some(json!({"email": TEST_ADMIN_EMAIL, "password": password.expose()})),
        ))
        .await
        .unwrap();
    assert_eq!(login.status, 200);
    let tokens: Value = serde_json::from_str(&login.body).unwrap();
    let access = Secret::new(tokens["access"].as_str().unwrap());
    let refresh = tokens["refresh"].as_str().unwrap().to_string();
    let billing = |token: Option<Secret>| {
        let http = http.clone();
        let url = format!("{}{}", staged.url, paths.billing_path);
        async move { http.send(request("GET", url, token.as_ref(), None)).await.unwrap().status }
    };
    assert_eq!(billing(Some(access.clone())).await, 200);
    assert_eq!(billing(None).await, 401);
    assert_eq!(billing(Some(Secret::new(refresh.clone()))).await, 401, "a refresh token is not an access token");
    minutes(5).await;
    assert_eq!(billing(Some(access)).await, 401, "access tokens live 5 minutes");
    let refreshed =
        http.send(request("POST", format!("{}{}", staged.url, paths.refresh_path), None, Some(json!({"refresh": refresh})))).await.unwrap();
    assert_eq!(refreshed.status, 200);
    let new_access: Value = serde_json::from_str(&refreshed.body).unwrap();
    assert_eq!(billing(Some(Secret::new(new_access["access"].as_str().unwrap()))).await, 200);
    minutes(24 * 60).await;
    let expired =
        http.send(request("POST", format!("{}{}", staged.url, paths.refresh_path), None, Some(json!({"refresh": refresh})))).await.unwrap();
    assert_eq!(expired.status, 401);
    let missing = http.send(request("GET", format!("{}/api/v1/nope/", staged.url), None, None)).await.unwrap();
    assert_eq!(missing.status, 404);
    let wrong_method = http.send(request("GET", format!("{}{}", staged.url, paths.login_path), None, None)).await.unwrap();
    assert_eq!(wrong_method.status, 405);
    let unknown_host = http.send(request("GET", "https://nowhere.us-east-1.awsapprunner.com/".into(), None, None)).await;
    assert!(matches!(unknown_host, Err(HttpError::Connect(_))), "{unknown_host:?}");
}

#[tokio::test(start_paused = true)]
async fn the_app_fails_when_its_database_goes_away() {
    let account = account();
    let staged = stage(&account).await;
    let http = account.session("validate_staging");
    let health = format!("{}{}", staged.url, ValidationInput::default().health_path);
    let ok = http.send(HttpRequest { method: "GET".into(), url: health.clone(), headers: vec![], body: None }).await.unwrap();
    assert_eq!((ok.status, ok.body.as_str()), (200, r#"{"status":"ok"}"#));
    account.session("rollback_staging").delete_instance(STAGING_DB, None).await.unwrap();
    let broken = http.send(HttpRequest { method: "GET".into(), url: health, headers: vec![], body: None }).await.unwrap();
    assert_eq!(broken.status, 500);
    account.session("rollback_staging").delete_service(&staged.service_arn).await.unwrap();
    let gone = http.send(request("GET", format!("{}/", staged.url), None, None)).await;
    assert!(matches!(gone, Err(HttpError::Connect(_))), "{gone:?}");
}

#[tokio::test(start_paused = true)]
async fn a_master_password_reset_applies_after_resetting_master_credentials() {
    let account = account();
    snapshot_and_restore(&account).await;
    let probe = account.session("verify_staging_migrations");
    let tables = DbQuery::TablesLike { prefix: "core_".into() };
    let production_url = value_of(&account, "/tableicty/production/DATABASE_URL").await;
    let old = url::Url::parse(production_url.expose()).unwrap().password().unwrap().to_string();
    assert!(probe.query(&target(&old), &tables).await.is_ok(), "a restored copy answers to production's password");

    let rds = account.session("reset_staging_database_password");
    let bad = rds.reset_master_password(STAGING_DB, &Secret::new("short")).await.unwrap_err();
    assert_eq!(bad.code, "InvalidParameterValue");
    let modified = rds.reset_master_password(STAGING_DB, &Secret::new("0123456789abcdef0123")).await.unwrap();
    assert_eq!((modified.status.as_str(), modified.master_password_pending), ("resetting-master-credentials", true));
    assert_eq!(modified.master_username, DB_MASTER_USER);
    let busy = rds.reset_master_password(STAGING_DB, &Secret::new("0123456789abcdef0123")).await.unwrap_err();
    assert_eq!(busy.code, "InvalidDBInstanceState");
    assert!(probe.query(&target(&old), &tables).await.is_ok(), "the old password works until the change is applied");
    minutes(2).await;
    let applied = rds.describe_instance(STAGING_DB).await.unwrap().unwrap();
    assert_eq!((applied.status.as_str(), applied.master_password_pending), ("available", false));
    assert!(matches!(probe.query(&target(&old), &tables).await, Err(ProbeError::Authentication(_))));
    assert!(probe.query(&target("0123456789abcdef0123"), &tables).await.is_ok());
    // Production keeps its own.
    assert!(account.ledger().production_writes.is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_probe_answers_like_postgres() {
    let account = account();
    account.session("s").create_snapshot(PRODUCTION_DB, SNAPSHOT, &tags()).await.unwrap();
    minutes(10).await;
    account.session("restore_staging_database").restore_instance(&restore_request(STAGING_DB)).await.unwrap();
    let probe = account.session("verify_staging_migrations");
    let tables = DbQuery::TablesLike { prefix: "core_".into() };
    let production_url = value_of(&account, "/tableicty/production/DATABASE_URL").await;
    let password = url::Url::parse(production_url.expose()).unwrap().password().unwrap().to_string();
    assert!(matches!(probe.query(&target(&password), &tables).await, Err(ProbeError::NotReady(_))));
    let not_ready = run_checks(&probe, &target(&password), &migration_checks()).await.unwrap_err();
    assert_eq!(not_ready.name(), "DatabaseNotReadyError");
    minutes(12).await;
    assert_eq!(probe.query(&target(&password), &tables).await.unwrap(), vec![vec![json!("core_issuer")], vec![json!("core_shareholder")]]);
    assert!(
        matches!(probe.query(&target("wrong"), &tables).await, Err(ProbeError::Authentication(m)) if m.contains("password authentication failed"))
    );
    let other_db = DbTarget { database: "postgres_other".into(), ..target(&password) };
    assert!(matches!(probe.query(&other_db, &tables).await, Err(ProbeError::Other(m)) if m.contains("does not exist")));
    let count = DbQuery::CountRows { table: "core_tenant".into(), null_column: None };
    assert_eq!(
        probe.query(&target(&password), &count).await,
        Err(ProbeError::Query("relation \"public.core_tenant\" does not exist".into()))
    );
    let issuers = DbQuery::CountRows { table: "core_issuer".into(), null_column: None };
    assert_eq!(probe.query(&target(&password), &issuers).await, Ok(vec![vec![json!(4)]]));
    let sql = DbQuery::Sql { sql: "SELECT 1".into() };
    assert!(matches!(probe.query(&target(&password), &sql).await, Err(ProbeError::Query(m)) if m.contains("structured checks")));
    account.session("rollback_staging").delete_instance(STAGING_DB, None).await.unwrap();
    assert!(matches!(probe.query(&target(&password), &tables).await, Err(ProbeError::NotReady(_))));
    minutes(5).await;
    assert!(matches!(probe.query(&target(&password), &tables).await, Err(ProbeError::NotReady(_))));
    assert_eq!(account.ledger().calls.iter().filter(|c| c.service == "postgres").count(), 10);
}
