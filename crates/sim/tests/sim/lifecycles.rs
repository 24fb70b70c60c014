//! Lifecycles over virtual time, and the errors real AWS answers along the way.

use crate::common::*;
use rehearsal_core::cloud::{
    Clock, OneTimeSchedule, ParameterKind, ParameterStore, Rds, Scheduler, ServiceHost, ServiceLocation::AppRunner,
};
use rehearsal_core::{CloudErrorKind, Secret};
use rehearsal_sim::seed::*;
use std::collections::BTreeMap;

fn code<T: std::fmt::Debug>(result: Result<T, rehearsal_core::CloudError>) -> (CloudErrorKind, String) {
    let e = result.unwrap_err();
    (e.kind, e.code)
}

#[tokio::test(start_paused = true)]
async fn a_snapshot_is_creating_then_available_then_deleted() {
    let account = account();
    let rds = account.session("snapshot_production_database");
    let created = rds.create_snapshot(PRODUCTION_DB, SNAPSHOT, &tags()).await.unwrap();
    assert_eq!((created.status.as_str(), created.source_id.as_str()), ("creating", PRODUCTION_DB));
    assert_eq!(created.arn, format!("arn:aws:rds:us-east-1:123456789012:snapshot:{SNAPSHOT}"));
    assert_eq!(
        code(rds.create_snapshot(PRODUCTION_DB, SNAPSHOT, &tags()).await),
        (CloudErrorKind::AlreadyExists, "DBSnapshotAlreadyExists".into())
    );
    assert_eq!(code(rds.delete_snapshot(SNAPSHOT).await), (CloudErrorKind::InvalidState, "InvalidDBSnapshotState".into()));
    let restore = account.session("restore_staging_database");
    assert_eq!(code(restore.restore_instance(&restore_request(STAGING_DB)).await).1, "InvalidDBSnapshotState");

    minutes(9).await;
    assert_eq!(rds.describe_snapshot(SNAPSHOT).await.unwrap().unwrap().status, "creating");
    minutes(1).await;
    let available = rds.describe_snapshot(SNAPSHOT).await.unwrap().unwrap();
    assert_eq!((available.status.as_str(), &available.tags), ("available", &tags()));

    rds.delete_snapshot(SNAPSHOT).await.unwrap();
    assert_eq!(rds.describe_snapshot(SNAPSHOT).await.unwrap().unwrap().status, "deleting");
    assert_eq!(code(rds.delete_snapshot(SNAPSHOT).await).1, "InvalidDBSnapshotState");
    minutes(1).await;
    assert_eq!(rds.describe_snapshot(SNAPSHOT).await.unwrap(), None);
    assert_eq!(code(rds.delete_snapshot(SNAPSHOT).await), (CloudErrorKind::NotFound, "DBSnapshotNotFound".into()));
    assert_eq!(code(rds.create_snapshot("no-such-db", "x1", &tags()).await).1, "DBInstanceNotFound");
    assert_eq!(code(rds.create_snapshot(PRODUCTION_DB, "1-bad", &tags()).await), (CloudErrorKind::Fatal, "InvalidParameterValue".into()));

    let ledger = account.ledger();
    assert_eq!(ledger.created.iter().map(|r| (r.kind.as_str(), r.id.as_str())).collect::<Vec<_>>(), [("db-snapshot", SNAPSHOT)]);
    assert_eq!(ledger.deleted.len(), 1);
    assert!(ledger.production_writes.is_empty(), "a snapshot of production reads it: {:?}", ledger.production_writes);
    let first = &ledger.calls[0];
    assert_eq!(
        (first.step.as_str(), first.service.as_str(), first.operation.as_str(), first.at),
        ("snapshot_production_database", "rds", "CreateDBSnapshot", start())
    );
}

#[tokio::test(start_paused = true)]
async fn a_restore_copies_the_data_and_gets_its_own_endpoint() {
    let account = account();
    account.session("s").create_snapshot(PRODUCTION_DB, SNAPSHOT, &tags()).await.unwrap();
    minutes(10).await;
    let rds = account.session("restore_staging_database");
    let restored = rds.restore_instance(&restore_request(STAGING_DB)).await.unwrap();
    assert_eq!((restored.status.as_str(), restored.endpoint.as_ref()), ("creating", None));
    assert_eq!(
        code(rds.restore_instance(&restore_request(STAGING_DB)).await),
        (CloudErrorKind::AlreadyExists, "DBInstanceAlreadyExists".into())
    );
    assert_eq!(code(rds.delete_instance(STAGING_DB, None).await), (CloudErrorKind::InvalidState, "InvalidDBInstanceState".into()));
    let mut bad_group = restore_request("other-db");
    bad_group.subnet_group = Some("nope".into());
    assert_eq!(code(rds.restore_instance(&bad_group).await), (CloudErrorKind::NotFound, "DBSubnetGroupNotFoundFault".into()));

    minutes(12).await;
    let available = rds.describe_instance(STAGING_DB).await.unwrap().unwrap();
    assert_eq!(available.status, "available");
    let endpoint = available.endpoint.unwrap();
    assert_eq!((endpoint.address.as_str(), endpoint.port), (STAGING_ENDPOINT, 5432));
    assert_eq!((available.class.as_str(), available.subnet_group.as_deref()), ("db.t3.micro", Some(DB_SUBNET_GROUP)));
    assert_eq!(
        (available.security_group_ids, available.publicly_accessible, available.tags),
        (vec![DB_SECURITY_GROUP.to_string()], false, tags())
    );
    let production_tables = account.database_tables(PRODUCTION_DB).unwrap();
    assert_eq!(account.database_tables(STAGING_DB).unwrap(), production_tables);
    assert!(production_tables["core_issuer"] > 0 && production_tables["core_shareholder"] > production_tables["core_issuer"]);
    assert!(!production_tables.contains_key("core_tenant"), "production is before multi-tenancy");

    let final_snapshot = "tableicty-staging-final";
    rds.delete_instance(STAGING_DB, Some(final_snapshot)).await.unwrap();
    assert_eq!(rds.describe_instance(STAGING_DB).await.unwrap().unwrap().status, "deleting");
    assert_eq!(rds.describe_snapshot(final_snapshot).await.unwrap().unwrap().status, "creating");
    assert_eq!(code(rds.delete_instance(STAGING_DB, None).await).1, "InvalidDBInstanceState");
    minutes(5).await;
    assert_eq!(rds.describe_instance(STAGING_DB).await.unwrap(), None);
    assert_eq!(code(rds.delete_instance(STAGING_DB, None).await), (CloudErrorKind::NotFound, "DBInstanceNotFound".into()));
    minutes(5).await;
    assert_eq!(rds.describe_snapshot(final_snapshot).await.unwrap().unwrap().status, "available");
    assert!(account.ledger().created.iter().any(|r| r.id == final_snapshot && r.step == "restore_staging_database"));
}

#[tokio::test(start_paused = true)]
async fn a_service_is_created_updated_and_deleted_through_operations() {
    let account = account();
    snapshot_and_restore(&account).await;
    let (secrets, _) = write_parameters(&account).await;
    let apprunner = account.session("create_staging_service");
    let (info, operation) = apprunner.create_service(&spec(secrets.clone()), &tags()).await.unwrap();
    // ServiceUrl is optional in CreateService's answer; DescribeService names it.
    assert!(info.url.is_empty(), "{}", info.url);
    let url = apprunner.describe_service(&info.arn).await.unwrap().expect("the service exists").url;
    assert!(url.ends_with(".us-east-1.awsapprunner.com") && url.len() == 10 + ".us-east-1.awsapprunner.com".len(), "{url}");
    assert!(info.arn.starts_with("arn:aws:apprunner:us-east-1:123456789012:service/tableicty-staging-backend/"));
    assert_eq!((info.status.as_str(), &info.secrets, &info.tags), ("OPERATION_IN_PROGRESS", &secrets, &tags()));
    let op = apprunner.describe_operation(&info.arn, &operation).await.unwrap().unwrap();
    assert_eq!((op.kind.as_str(), op.status.as_str()), ("CREATE_SERVICE", "IN_PROGRESS"));
    assert_eq!(
        code(apprunner.update_service_secrets(&info.arn, &secrets).await),
        (CloudErrorKind::InvalidState, "InvalidStateException".into())
    );
    assert_eq!(code(apprunner.delete_service(&info.arn).await).0, CloudErrorKind::InvalidState);
    assert_eq!(
        code(apprunner.create_service(&spec(secrets.clone()), &tags()).await),
        (CloudErrorKind::AlreadyExists, "InvalidRequestException".into())
    );
    // Only App Runner's instance configurations: 0.25 vCPU comes with 0.5 or 1 GB.
    let oversized = rehearsal_core::cloud::ServiceSpec { name: "tableicty-other".into(), memory: "4 GB".into(), ..spec(secrets.clone()) };
    assert_eq!(code(apprunner.create_service(&oversized, &tags()).await), (CloudErrorKind::Fatal, "InvalidRequestException".into()));
    assert!(account.service_environment(STAGING_SERVICE).is_none(), "nothing runs before the first deployment ends");

    minutes(6).await;
    assert_eq!(apprunner.find_service(STAGING_SERVICE, &AppRunner).await.unwrap().unwrap().status, "RUNNING");
    assert_eq!(apprunner.describe_operation(&info.arn, &operation).await.unwrap().unwrap().status, "SUCCEEDED");
    assert_eq!(apprunner.describe_operation(&info.arn, "nope").await.unwrap(), None);

    let update = apprunner.update_service_secrets(&info.arn, &secrets).await.unwrap();
    assert_eq!(apprunner.describe_service(&info.arn).await.unwrap().unwrap().status, "OPERATION_IN_PROGRESS");
    minutes(4).await;
    let op = apprunner.describe_operation(&info.arn, &update).await.unwrap().unwrap();
    assert_eq!((op.kind.as_str(), op.status.as_str()), ("UPDATE_SERVICE", "SUCCEEDED"));

    let delete = apprunner.delete_service(&info.arn).await.unwrap();
    assert_eq!(apprunner.describe_service(&info.arn).await.unwrap().unwrap().status, "OPERATION_IN_PROGRESS");
    minutes(2).await;
    assert_eq!(apprunner.describe_service(&info.arn).await.unwrap().unwrap().status, "DELETED");
    assert_eq!(apprunner.describe_operation(&info.arn, &delete).await.unwrap().unwrap().status, "SUCCEEDED");
    assert_eq!(apprunner.find_service(STAGING_SERVICE, &AppRunner).await.unwrap(), None);
    assert_eq!(code(apprunner.delete_service(&info.arn).await), (CloudErrorKind::NotFound, "ResourceNotFoundException".into()));
    assert_eq!(apprunner.describe_service("arn:aws:apprunner:us-east-1:123456789012:service/x/y").await.unwrap(), None);
}

#[tokio::test(start_paused = true)]
async fn a_deployment_whose_secret_is_missing_or_whose_database_is_unreachable_fails() {
    let account = account();
    let apprunner = account.session("create_staging_service");
    let missing = BTreeMap::from([("DATABASE_URL".to_string(), rehearsal_sim::parameter_arn("/tableicty/staging/DATABASE_URL"))]);
    let (info, operation) = apprunner.create_service(&spec(missing), &tags()).await.unwrap();
    minutes(6).await;
    assert_eq!(apprunner.describe_service(&info.arn).await.unwrap().unwrap().status, "CREATE_FAILED");
    assert_eq!(apprunner.describe_operation(&info.arn, &operation).await.unwrap().unwrap().status, "FAILED");
    assert_eq!(code(apprunner.update_service_secrets(&info.arn, &BTreeMap::new()).await).0, CloudErrorKind::InvalidState);
    apprunner.delete_service(&info.arn).await.unwrap();
    minutes(2).await;

    // The staging DATABASE_URL written before the instance exists: migrations cannot connect.
    let ssm = account.session("write_staging_database_url");
    let url = value_of(&account, "/tableicty/production/DATABASE_URL").await.expose().replace(PRODUCTION_DB_ENDPOINT, STAGING_ENDPOINT);
    let arn = ssm.put_parameter("/tableicty/staging/DATABASE_URL", &Secret::new(url), ParameterKind::SecureString, false).await.unwrap();
    let secrets = BTreeMap::from([("DATABASE_URL".to_string(), arn)]);
    let (info, _) = apprunner.create_service(&spec(secrets), &tags()).await.unwrap();
    minutes(6).await;
    assert_eq!(apprunner.describe_service(&info.arn).await.unwrap().unwrap().status, "CREATE_FAILED");
}

#[tokio::test(start_paused = true)]
async fn parameters_have_versions_types_and_tags() {
    let account = account();
    let ssm = account.session("write_staging_parameters");
    let name = "/tableicty/staging/FRONTEND_URL";
    assert_eq!(ssm.get_parameter(name).await.unwrap(), None);
    let arn = ssm.put_parameter(name, &Secret::new("https://a"), ParameterKind::SecureString, false).await.unwrap();
    assert_eq!(arn, "arn:aws:ssm:us-east-1:123456789012:parameter/tableicty/staging/FRONTEND_URL");
    assert_eq!(
        code(ssm.put_parameter(name, &Secret::new("https://b"), ParameterKind::String, false).await),
        (CloudErrorKind::AlreadyExists, "ParameterAlreadyExists".into())
    );
    assert_eq!(ssm.parameter_tags(name).await.unwrap(), BTreeMap::new());
    ssm.add_parameter_tags(name, &tags()).await.unwrap();
    ssm.put_parameter(name, &Secret::new("https://b"), ParameterKind::String, true).await.unwrap();
    let p = ssm.get_parameter(name).await.unwrap().unwrap();
    assert_eq!((p.kind, p.value.expose(), p.version, p.arn.as_str()), (ParameterKind::String, "https://b", 2, arn.as_str()));
    assert_eq!(ssm.parameter_tags(name).await.unwrap(), tags(), "an overwrite keeps the tags");
    assert_eq!(code(ssm.put_parameter("relative/name", &Secret::new("x"), ParameterKind::String, false).await).1, "ValidationException");
    assert_eq!(code(ssm.put_parameter(name, &Secret::new(""), ParameterKind::String, true).await).1, "ValidationException");
    ssm.delete_parameter(name).await.unwrap();
    assert_eq!(code(ssm.delete_parameter(name).await), (CloudErrorKind::NotFound, "ParameterNotFound".into()));
    assert_eq!(code(ssm.parameter_tags(name).await), (CloudErrorKind::NotFound, "InvalidResourceId".into()));
    assert_eq!(code(ssm.add_parameter_tags(name, &tags()).await).1, "InvalidResourceId");
}

#[tokio::test(start_paused = true)]
async fn schedules_are_kept_and_never_fire() {
    let account = account();
    let scheduler = account.session("schedule_staging_teardown");
    let schedule = OneTimeSchedule {
        name: format!("rehearsal-teardown-{RUN}"),
        group: "rehearsal".into(),
        at: scheduler.now() + chrono::Duration::hours(24),
        target_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:rehearsal-teardown".into(),
        role_arn: "arn:aws:iam::123456789012:role/rehearsal-scheduler".into(),
        input: serde_json::json!({"plan": {"run_id": RUN}}).to_string(),
    };
    scheduler.create_schedule(&schedule).await.unwrap();
    assert_eq!(code(scheduler.create_schedule(&schedule).await), (CloudErrorKind::AlreadyExists, "ConflictException".into()));
    let elsewhere = OneTimeSchedule { group: "no-such-group".into(), ..schedule.clone() };
    assert_eq!(code(scheduler.create_schedule(&elsewhere).await), (CloudErrorKind::NotFound, "ResourceNotFoundException".into()));
    minutes(48 * 60).await;
    assert_eq!(scheduler.get_schedule("rehearsal", &schedule.name).await.unwrap(), Some(schedule.clone()));
    assert_eq!(account.leftovers(RUN), [format!("schedule rehearsal/{} (ENABLED)", schedule.name)]);
    assert!(account.leftovers("another-run").is_empty());
    scheduler.delete_schedule("rehearsal", &schedule.name).await.unwrap();
    assert_eq!(scheduler.get_schedule("rehearsal", &schedule.name).await.unwrap(), None);
    assert_eq!(code(scheduler.delete_schedule("rehearsal", &schedule.name).await).0, CloudErrorKind::NotFound);
}

#[tokio::test(start_paused = true)]
async fn the_environment_is_resolved_when_a_deployment_starts() {
    let account = account();
    let staged = stage(&account).await;
    assert_eq!(account.service_environment(STAGING_SERVICE).unwrap()["FRONTEND_URL"], "https://staging.pending");
    let ssm = account.session("publish_frontend_url");
    ssm.put_parameter("/tableicty/staging/FRONTEND_URL", &Secret::new(staged.url.clone()), ParameterKind::String, true).await.unwrap();
    minutes(30).await;
    let env = account.service_environment(STAGING_SERVICE).unwrap();
    assert_eq!(env["FRONTEND_URL"], "https://staging.pending", "a running deployment keeps what it fetched");
    assert_eq!(env["DATABASE_URL"], staged.database_url.expose());
    assert_eq!(env["ALLOWED_HOSTS"], "*");
    assert!(env["STRIPE_SECRET_KEY"].starts_with("sk_test_"));

    let apprunner = account.session("publish_frontend_url");
    let operation = apprunner.update_service_secrets(&staged.service_arn, &staged.secrets).await.unwrap();
    minutes(3).await;
    assert_eq!(
        account.service_environment(STAGING_SERVICE).unwrap()["FRONTEND_URL"],
        "https://staging.pending",
        "the old deployment serves until the new one is up"
    );
    minutes(1).await;
    assert_eq!(apprunner.describe_operation(&staged.service_arn, &operation).await.unwrap().unwrap().status, "SUCCEEDED");
    assert_eq!(account.service_environment(STAGING_SERVICE).unwrap()["FRONTEND_URL"], staged.url);
}

#[tokio::test(start_paused = true)]
async fn the_staging_instance_role_cannot_fetch_production_parameters() {
    let account = account();
    snapshot_and_restore(&account).await;
    let (mut secrets, _) = write_parameters(&account).await;
    secrets.insert(
        "STRIPE_SECRET_KEY".into(),
        format!("arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter{PRODUCTION_PARAMETER_PATH}STRIPE_SECRET_KEY"),
    );
    let apprunner = account.session("create_staging_service");
    let (info, operation) = apprunner.create_service(&spec(secrets), &tags()).await.unwrap();
    minutes(6).await;
    assert_eq!(apprunner.describe_operation(&info.arn, &operation).await.unwrap().unwrap().status, "FAILED");
    assert_eq!(apprunner.describe_service(&info.arn).await.unwrap().unwrap().status, "CREATE_FAILED");
    assert!(account.service_environment(STAGING_SERVICE).is_none(), "nothing serves with production's key");
}

#[tokio::test(start_paused = true)]
async fn the_clock_is_virtual() {
    let account = account();
    let session = account.session("any");
    assert_eq!(session.now(), start());
    minutes(90).await;
    assert_eq!(session.now(), start() + chrono::Duration::minutes(90));
    assert_eq!(account.now(), session.now());
}
