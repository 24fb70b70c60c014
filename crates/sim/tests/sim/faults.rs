//! Each fault kind, applied to one step's sessions only.

use crate::common::*;
use rehearsal_core::checks::db::{backfill_checks, migration_checks, run_checks};
use rehearsal_core::checks::http::run_checklist;
use rehearsal_core::cloud::{
    Clock, DbTarget, OneTimeSchedule, ParameterKind, ParameterStore, Rds, Scheduler, ServiceHost, ServiceLocation::AppRunner,
};
use rehearsal_core::run::ValidationInput;
use rehearsal_core::tags::{Ownership, RunTags};
use rehearsal_core::{CloudErrorKind, Secret};
use rehearsal_sim::seed::*;
use rehearsal_sim::{Fault, FaultKind, SimAccount};

fn inject(account: &SimAccount, spec: &str) {
    account.inject(spec.parse::<Fault>().unwrap());
}

fn fired(account: &SimAccount) -> Vec<(String, FaultKind, String)> {
    account.ledger().faults_fired
}

#[tokio::test(start_paused = true)]
async fn throttle_fails_the_first_two_calls_of_the_step_only() {
    let account = account();
    inject(&account, "plan_rehearsal=throttle");
    let other = account.session("check_production_snapshot");
    assert!(other.describe_instance(PRODUCTION_DB).await.is_ok(), "other steps are not throttled");
    for _ in 0..2 {
        // A new session per attempt: the count is per step, across invocations.
        let e = account.session("plan_rehearsal").describe_instance(PRODUCTION_DB).await.unwrap_err();
        assert_eq!((e.kind, e.code.as_str()), (CloudErrorKind::Throttled, "ThrottlingException"));
    }
    let s = account.session("plan_rehearsal");
    assert!(s.describe_instance(PRODUCTION_DB).await.unwrap().is_some());
    assert!(s.get_parameter(TEST_ADMIN_PASSWORD_PARAMETER).await.is_ok());
    assert_eq!(fired(&account), vec![("plan_rehearsal".into(), FaultKind::Throttle, "DescribeDBInstances".into()); 2]);
    assert_eq!(account.ledger().calls.len(), 5, "failed calls are recorded too");
}

#[tokio::test(start_paused = true)]
async fn unavailable_answers_503_forever_and_fatal_is_access_denied() {
    let account = account();
    inject(&account, "write_staging_parameters=unavailable");
    inject(&account, "snapshot_production_database=fatal");
    let ssm = account.session("write_staging_parameters");
    for _ in 0..3 {
        let e = ssm.put_parameter("/tableicty/staging/X", &Secret::new("x"), ParameterKind::String, false).await.unwrap_err();
        assert_eq!((e.kind, e.code.as_str()), (CloudErrorKind::Unavailable, "ServiceUnavailable"));
        minutes(60).await;
    }
    let e = account.session("snapshot_production_database").create_snapshot(PRODUCTION_DB, SNAPSHOT, &tags()).await.unwrap_err();
    assert_eq!((e.kind, e.code.as_str()), (CloudErrorKind::AccessDenied, "AccessDeniedException"));
    assert!(e.message.contains("rds:CreateDBSnapshot"), "{}", e.message);
    assert!(account.existing_resources().iter().all(|r| r.id != SNAPSHOT && r.id != "/tableicty/staging/X"), "nothing was done");
    assert_eq!(fired(&account).len(), 4);
}

#[tokio::test(start_paused = true)]
async fn clearing_a_steps_faults_answers_its_next_calls_and_keeps_the_others() {
    let account = account();
    inject(&account, "write_staging_parameters=unavailable");
    inject(&account, "write_staging_parameters=fatal");
    inject(&account, "snapshot_production_database=fatal");
    let ssm = account.session("write_staging_parameters");
    assert!(ssm.put_parameter("/tableicty/staging/X", &Secret::new("x"), ParameterKind::String, false).await.is_err());
    account.clear_faults("write_staging_parameters");
    ssm.put_parameter("/tableicty/staging/X", &Secret::new("x"), ParameterKind::String, false).await.unwrap();
    let e = account.session("snapshot_production_database").create_snapshot(PRODUCTION_DB, SNAPSHOT, &tags()).await.unwrap_err();
    assert_eq!(e.kind, CloudErrorKind::AccessDenied, "another step's fault stays");
}

#[tokio::test(start_paused = true)]
async fn failed_state_ends_what_the_step_starts_in_its_failed_state() {
    let account = account();
    inject(&account, "snapshot_production_database=failed-state");
    let rds = account.session("snapshot_production_database");
    rds.create_snapshot(PRODUCTION_DB, SNAPSHOT, &tags()).await.unwrap();
    minutes(10).await;
    assert_eq!(rds.describe_snapshot(SNAPSHOT).await.unwrap().unwrap().status, "failed");
    rds.delete_snapshot(SNAPSHOT).await.unwrap();
    minutes(1).await;

    let account = self::account();
    inject(&account, "restore_staging_database=failed-state");
    inject(&account, "create_staging_service=failed-state");
    inject(&account, "publish_frontend_url=failed-state");
    account.session("s").create_snapshot(PRODUCTION_DB, SNAPSHOT, &tags()).await.unwrap();
    minutes(10).await;
    let rds = account.session("restore_staging_database");
    rds.restore_instance(&restore_request(STAGING_DB)).await.unwrap();
    minutes(12).await;
    assert_eq!(rds.describe_instance(STAGING_DB).await.unwrap().unwrap().status, "incompatible-restore");
    assert_eq!(
        rds.delete_instance(STAGING_DB, Some("final-x")).await.unwrap_err().code,
        "InvalidDBInstanceState",
        "no final snapshot of a failed restore"
    );
    rds.delete_instance(STAGING_DB, None).await.unwrap();
    minutes(5).await;
    account.session("restore_again").restore_instance(&restore_request(STAGING_DB)).await.unwrap();
    minutes(12).await;

    let (secrets, _) = write_parameters(&account).await;
    let apprunner = account.session("create_staging_service");
    let (info, op) = apprunner.create_service(&spec(secrets.clone()), &tags()).await.unwrap();
    minutes(6).await;
    assert_eq!(apprunner.describe_service(&info.arn).await.unwrap().unwrap().status, "CREATE_FAILED");
    assert_eq!(apprunner.describe_operation(&info.arn, &op).await.unwrap().unwrap().status, "FAILED");
    apprunner.delete_service(&info.arn).await.unwrap();
    minutes(2).await;
    assert_eq!(apprunner.describe_service(&info.arn).await.unwrap().unwrap().status, "DELETE_FAILED", "a delete is an operation too");
    account.session("rollback_staging").delete_service(&info.arn).await.unwrap();
    minutes(2).await;
    assert_eq!(apprunner.describe_service(&info.arn).await.unwrap().unwrap().status, "DELETED");

    let (info, _) = account.session("create_again").create_service(&spec(secrets.clone()), &tags()).await.unwrap();
    minutes(6).await;
    let before = account.service_environment(STAGING_SERVICE).unwrap();
    let publish = account.session("publish_frontend_url");
    publish.put_parameter("/tableicty/staging/FRONTEND_URL", &Secret::new("https://new"), ParameterKind::String, true).await.unwrap();
    let update = publish.update_service_secrets(&info.arn, &secrets).await.unwrap();
    minutes(4).await;
    assert_eq!(publish.describe_operation(&info.arn, &update).await.unwrap().unwrap().status, "ROLLBACK_SUCCEEDED");
    assert_eq!(publish.describe_service(&info.arn).await.unwrap().unwrap().status, "RUNNING");
    assert_eq!(account.service_environment(STAGING_SERVICE).unwrap(), before, "the previous deployment keeps serving");
    let kinds: Vec<String> = fired(&account).into_iter().map(|(step, kind, op)| format!("{step} {kind} {op}")).collect();
    assert_eq!(
        kinds,
        [
            "restore_staging_database failed-state RestoreDBInstanceFromDBSnapshot",
            "create_staging_service failed-state CreateService",
            "create_staging_service failed-state DeleteService",
            "publish_frontend_url failed-state UpdateService"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn never_ready_stalls_forever_and_deleting_is_accepted() {
    let account = account();
    inject(&account, "snapshot_production_database=never-ready");
    inject(&account, "restore_staging_database=never-ready");
    inject(&account, "create_staging_service=never-ready");
    let rds = account.session("snapshot_production_database");
    rds.create_snapshot(PRODUCTION_DB, SNAPSHOT, &tags()).await.unwrap();
    minutes(7 * 24 * 60).await;
    assert_eq!(rds.describe_snapshot(SNAPSHOT).await.unwrap().unwrap().status, "creating");
    let cleanup = account.session("rollback_staging");
    cleanup.delete_snapshot(SNAPSHOT).await.unwrap();
    minutes(1).await;
    assert_eq!(cleanup.describe_snapshot(SNAPSHOT).await.unwrap(), None);

    account.session("s").create_snapshot(PRODUCTION_DB, SNAPSHOT, &tags()).await.unwrap();
    minutes(10).await;
    account.session("restore_staging_database").restore_instance(&restore_request(STAGING_DB)).await.unwrap();
    minutes(24 * 60).await;
    assert_eq!(cleanup.describe_instance(STAGING_DB).await.unwrap().unwrap().status, "creating");
    cleanup.delete_instance(STAGING_DB, None).await.unwrap();
    minutes(5).await;
    assert_eq!(cleanup.describe_instance(STAGING_DB).await.unwrap(), None);

    let apprunner = account.session("create_staging_service");
    let (info, op) = apprunner.create_service(&spec(Default::default()), &tags()).await.unwrap();
    minutes(24 * 60).await;
    assert_eq!(apprunner.describe_service(&info.arn).await.unwrap().unwrap().status, "OPERATION_IN_PROGRESS");
    assert_eq!(apprunner.describe_operation(&info.arn, &op).await.unwrap().unwrap().status, "IN_PROGRESS");
    assert_eq!(cleanup.update_service_secrets(&info.arn, &Default::default()).await.unwrap_err().kind, CloudErrorKind::InvalidState);
    cleanup.delete_service(&info.arn).await.unwrap();
    minutes(2).await;
    assert_eq!(cleanup.describe_service(&info.arn).await.unwrap().unwrap().status, "DELETED");
    assert!(account.leftovers(RUN).iter().all(|l| l.starts_with("db-snapshot")), "{:?}", account.leftovers(RUN));
}

#[tokio::test(start_paused = true)]
async fn already_exists_plants_a_foreign_resource_that_is_never_the_runs() {
    let account = account();
    for step in [
        "snapshot_production_database",
        "restore_staging_database",
        "write_staging_parameters",
        "create_staging_service",
        "schedule_staging_teardown",
    ] {
        inject(&account, &format!("{step}=already-exists"));
    }
    let run = RunTags { app: "tableicty".into(), environment: "staging".into(), run_id: RUN.into() };

    let rds = account.session("snapshot_production_database");
    let e = rds.create_snapshot(PRODUCTION_DB, SNAPSHOT, &tags()).await.unwrap_err();
    assert_eq!((e.kind, e.code.as_str()), (CloudErrorKind::AlreadyExists, "DBSnapshotAlreadyExists"));
    let foreign = rds.describe_snapshot(SNAPSHOT).await.unwrap().unwrap();
    assert_eq!((run.ownership(&foreign.tags), foreign.status.as_str()), (Ownership::Foreign, "available"));
    assert_ne!(foreign.source_id, PRODUCTION_DB);
    rds.create_snapshot(PRODUCTION_DB, "tableicty-production-backup-alt", &tags()).await.unwrap();
    minutes(10).await;

    let e = account.session("restore_staging_database").restore_instance(&restore_request(STAGING_DB)).await.unwrap_err();
    assert_eq!((e.kind, e.code.as_str()), (CloudErrorKind::AlreadyExists, "DBInstanceAlreadyExists"));
    let instance = rds.describe_instance(STAGING_DB).await.unwrap().unwrap();
    assert_eq!((run.ownership(&instance.tags), instance.class.as_str()), (Ownership::Foreign, "db.t3.medium"));

    let ssm = account.session("write_staging_parameters");
    let name = "/tableicty/staging/SECRET_KEY";
    let e = ssm.put_parameter(name, &Secret::new("copied"), ParameterKind::SecureString, false).await.unwrap_err();
    assert_eq!((e.kind, e.code.as_str()), (CloudErrorKind::AlreadyExists, "ParameterAlreadyExists"));
    assert_eq!(run.ownership(&ssm.parameter_tags(name).await.unwrap()), Ownership::Foreign);
    assert_ne!(value_of(&account, name).await.expose(), "copied");
    ssm.put_parameter("/tableicty/staging/PGCRYPTO_KEY", &Secret::new("k"), ParameterKind::SecureString, false).await.unwrap();

    let e = account.session("create_staging_service").create_service(&spec(Default::default()), &tags()).await.unwrap_err();
    assert_eq!((e.kind, e.code.as_str()), (CloudErrorKind::AlreadyExists, "InvalidRequestException"));
    let service = rds.find_service(STAGING_SERVICE, &AppRunner).await.unwrap().unwrap();
    assert_eq!((run.ownership(&service.tags), service.status.as_str()), (Ownership::Foreign, "RUNNING"));

    let scheduler = account.session("schedule_staging_teardown");
    let schedule = OneTimeSchedule {
        name: format!("rehearsal-teardown-{RUN}"),
        group: "rehearsal".into(),
        at: scheduler.now(),
        target_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:rehearsal-teardown".into(),
        role_arn: "arn:aws:iam::123456789012:role/rehearsal-scheduler".into(),
        input: serde_json::json!({"plan": {"run_id": RUN}}).to_string(),
    };
    assert_eq!(scheduler.create_schedule(&schedule).await.unwrap_err().code, "ConflictException");
    assert_ne!(scheduler.get_schedule("rehearsal", &schedule.name).await.unwrap().unwrap().target_arn, schedule.target_arn);

    let ledger = account.ledger();
    assert_eq!(ledger.foreign.len(), 5);
    assert_eq!(ledger.faults_fired.len(), 5, "once per step");
    let left = account.leftovers(RUN);
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(left.contains(&"db-snapshot tableicty-production-backup-alt (available)".to_string()));
    assert!(left.contains(&"parameter /tableicty/staging/PGCRYPTO_KEY (SecureString)".to_string()), "untagged but created: {left:?}");
    let existing = account.existing_resources();
    for foreign in &ledger.foreign {
        assert!(existing.iter().any(|r| r.kind == foreign.kind && r.id == foreign.id), "{foreign:?} is still there");
    }
}

#[tokio::test(start_paused = true)]
async fn failed_check_makes_one_step_see_a_broken_deployment() {
    let account = account();
    inject(&account, "validate_staging=failed-check");
    inject(&account, "trigger_staging_backfill=failed-check");
    let staged = stage(&account).await;
    let trigger = account.session("trigger_staging_backfill");
    let mut req =
        rehearsal_core::checks::http::request("POST", format!("{}{}", staged.url, ValidationInput::default().backfill_path), None, None);
    req.headers.push((rehearsal_core::checks::http::BACKFILL_TOKEN_HEADER.into(), Secret::new(BACKFILL_TOKEN)));
    assert_eq!(rehearsal_core::cloud::HttpClient::send(&trigger, req).await.unwrap().status, 200, "only health and login break");

    let url = url::Url::parse(staged.database_url.expose()).unwrap();
    let target = DbTarget {
        host: STAGING_ENDPOINT.into(),
        port: 5432,
        database: DATABASE_NAME.into(),
        user: DB_MASTER_USER.into(),
        password: Secret::new(url.password().unwrap()),
    };
    let checks: Vec<_> = migration_checks().into_iter().chain(backfill_checks()).collect();
    let healthy = account.session("verify_staging_backfill");
    assert!(run_checks(&healthy, &target, &checks).await.unwrap().iter().all(|r| r.passed));
    let broken = account.session("validate_staging");
    let results = run_checks(&broken, &target, &checks).await.unwrap();
    assert!(results.iter().all(|r| !r.passed), "{results:?}");
    assert!(results[2].found.contains("relation \"public.core_tenant\" does not exist"), "{:?}", results[2]);
    assert_eq!((results[4].found.as_str(), results[5].found.as_str()), ("4", "11"), "NULL tenant ids");

    let password = value_of(&account, TEST_ADMIN_PASSWORD_PARAMETER).await;
    let http = run_checklist(&broken, &staged.url, &ValidationInput::default(), &password, "rehearsal-check-x", broken.now()).await;
    assert_eq!(http.iter().map(|r| (r.passed, r.found.as_str())).collect::<Vec<_>>(), [(false, "HTTP 500"), (false, "HTTP 500")]);
    let good = run_checklist(&healthy, &staged.url, &ValidationInput::default(), &password, "rehearsal-check-y", healthy.now()).await;
    assert!(good.iter().all(|r| r.passed), "{good:?}");
    assert!(fired(&account).iter().all(|(step, kind, _)| step == "validate_staging" && *kind == FaultKind::FailedCheck));
    assert_eq!(fired(&account).len(), 8);
}

#[tokio::test(start_paused = true)]
async fn eventual_lets_the_steps_reads_lag_its_writes_for_ten_seconds_and_only_its_own() {
    let account = account();
    inject(&account, "write_staging_parameters=eventual");
    let step = account.session("write_staging_parameters");
    let name = "/tableicty/staging/SECRET_KEY";
    step.put_parameter(name, &Secret::new("one"), ParameterKind::SecureString, false).await.unwrap();
    assert!(step.get_parameter(name).await.unwrap().is_none(), "the step's read does not see its write yet");
    assert!(account.session("operator").get_parameter(name).await.unwrap().is_some(), "others' reads are not lagged");
    // A second write within the lag: reads still see the account as before the first.
    step.put_parameter(name, &Secret::new("two"), ParameterKind::SecureString, true).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(9)).await;
    assert!(step.get_parameter(name).await.unwrap().is_none());
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(step.get_parameter(name).await.unwrap().unwrap().value.expose(), "two", "ten seconds on, it sees both writes");
    // The next write starts another lag, from what it then read.
    step.put_parameter(name, &Secret::new("three"), ParameterKind::SecureString, true).await.unwrap();
    assert_eq!(step.get_parameter(name).await.unwrap().unwrap().value.expose(), "two");
    assert!(fired(&account).iter().all(|(s, kind, _)| s == "write_staging_parameters" && *kind == FaultKind::Eventual));
    assert_eq!(fired(&account).len(), 3);
}

#[tokio::test(start_paused = true)]
async fn slow_adds_one_to_five_seconds_a_call_which_the_invocation_owes_once() {
    let account = account();
    inject(&account, "write_staging_parameters=slow");
    let step = account.session("write_staging_parameters");
    for key in ["A", "B", "C"] {
        step.put_parameter(&format!("/tableicty/staging/{key}"), &Secret::new("x"), ParameterKind::String, false).await.unwrap();
    }
    account.session("operator").get_parameter("/tableicty/staging/A").await.unwrap();
    let owed = account.take_latency("write_staging_parameters");
    assert!((3..=15).contains(&owed.as_secs()), "{owed:?}");
    assert_eq!(account.take_latency("write_staging_parameters"), std::time::Duration::ZERO, "owed once");
    assert_eq!(account.take_latency("operator"), std::time::Duration::ZERO, "only the step's calls are slow");
    assert_eq!(fired(&account).len(), 3);
}
