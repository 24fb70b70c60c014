//! What a promotion and its rollback need from the account: renames that free the old name at
//! once and answer under the new one only minutes later, stops, tags, StartDeployment with App
//! Runner's own rollback, image-based services, recorded executions and SNS.

use crate::common::{account, minutes, snapshot_and_restore, tags, STAGING_DB, STAGING_ENDPOINT};
use rehearsal_core::checks::db::DbQuery;
use rehearsal_core::cloud::{DatabaseProbe, DbTarget, ExecutionInfo, Executions, ProbeError, Rds, ServiceHost, ServiceLocation::AppRunner};
use rehearsal_core::CloudErrorKind;
use rehearsal_sim::seed::{ALERT_TOPIC_ARN, PRODUCTION_DB, PRODUCTION_IMAGE, PRODUCTION_SERVICE, PRODUCTION_SERVICE_ARN, RELEASE_IMAGE};
use rehearsal_sim::{Fault, FaultKind};

fn target(host: &str) -> DbTarget {
    DbTarget {
        host: host.into(),
        port: 5432,
        database: "tableicty".into(),
        user: "tableicty".into(),
        password: rehearsal_core::Secret::new("Vq7rT2mXc9LwP4sK8nZe"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_rename_frees_the_old_name_at_once_and_answers_under_the_new_one_minutes_later() {
    let account = account();
    snapshot_and_restore(&account).await;
    let s = account.session("swap");
    let renamed = s.rename_instance(STAGING_DB, "tableicty-staging-db-aside").await.unwrap();
    assert_eq!((renamed.id.as_str(), renamed.status.as_str()), ("tableicty-staging-db-aside", "renaming"));
    assert_eq!(s.describe_instance(STAGING_DB).await.unwrap(), None, "the old name is free at once");
    let query = DbQuery::TablesLike { prefix: "core_".into() };
    assert!(matches!(s.query(&target(STAGING_ENDPOINT), &query).await, Err(ProbeError::NotReady(_))), "the old endpoint is gone");
    let new_host = "tableicty-staging-db-aside.c9akciq32.us-east-1.rds.amazonaws.com";
    assert!(matches!(s.query(&target(new_host), &query).await, Err(ProbeError::NotReady(_))), "not yet under the new name");
    // About ten minutes, as in AWS.
    minutes(9).await;
    assert_eq!(s.describe_instance("tableicty-staging-db-aside").await.unwrap().unwrap().status, "renaming");
    minutes(1).await;
    assert_eq!(s.describe_instance("tableicty-staging-db-aside").await.unwrap().unwrap().status, "available");
    assert!(s.query(&target(new_host), &query).await.is_ok());

    // AWS refuses a rename onto an existing identifier (moto would replace it silently).
    let taken = s.rename_instance("tableicty-staging-db-aside", PRODUCTION_DB).await.unwrap_err();
    assert_eq!((taken.kind, taken.code.as_str()), (CloudErrorKind::AlreadyExists, "DBInstanceAlreadyExists"));
    assert!(s.describe_instance(PRODUCTION_DB).await.unwrap().is_some_and(|db| db.status == "available"));
    assert!(
        account.ledger().production_writes.iter().any(|w| w.operation == "ModifyDBInstance"),
        "a rename onto production is a production write"
    );

    let db = s.describe_instance("tableicty-staging-db-aside").await.unwrap().unwrap();
    s.tag_instance(&db.arn, &tags()).await.unwrap();
    s.stop_instance(&db.id).await.unwrap();
    assert_eq!(s.describe_instance(&db.id).await.unwrap().unwrap().status, "stopping");
    assert_eq!(s.stop_instance(&db.id).await.unwrap_err().kind, CloudErrorKind::InvalidState);
    minutes(4).await;
    let stopped = s.describe_instance(&db.id).await.unwrap().unwrap();
    assert_eq!(stopped.status, "stopped");
    assert!(tags().iter().all(|(k, v)| stopped.tags.get(k) == Some(v)));
    // RDS starts a stopped instance again by itself after seven days.
    minutes(7 * 24 * 60 - 1).await;
    assert_eq!(s.describe_instance(&db.id).await.unwrap().unwrap().status, "stopped");
    minutes(1).await;
    assert_eq!(s.describe_instance(&db.id).await.unwrap().unwrap().status, "available");
}

#[tokio::test(start_paused = true)]
async fn start_deployment_runs_the_release_and_a_failed_one_is_rolled_back_by_app_runner() {
    let account = account();
    let s = account.session("start_production_deployment");
    let op = s.start_deployment(PRODUCTION_SERVICE_ARN).await.unwrap();
    assert_eq!(s.find_service(PRODUCTION_SERVICE, &AppRunner).await.unwrap().unwrap().status, "OPERATION_IN_PROGRESS");
    assert_eq!(s.start_deployment(PRODUCTION_SERVICE_ARN).await.unwrap_err().kind, CloudErrorKind::InvalidState);
    minutes(4).await;
    assert_eq!(s.describe_operation(PRODUCTION_SERVICE_ARN, &op).await.unwrap().unwrap().status, "SUCCEEDED");
    assert!(account.database_tables(PRODUCTION_DB).unwrap().contains_key("core_tenant"), "the release migrated production");

    let account = rehearsal_sim::SimAccount::new(Default::default(), crate::common::start());
    account.inject(Fault::new("start_production_deployment", FaultKind::FailedState));
    let s = account.session("start_production_deployment");
    let op = s.start_deployment(PRODUCTION_SERVICE_ARN).await.unwrap();
    minutes(4).await;
    assert_eq!(s.describe_operation(PRODUCTION_SERVICE_ARN, &op).await.unwrap().unwrap().status, "ROLLBACK_SUCCEEDED");
    assert_eq!(s.find_service(PRODUCTION_SERVICE, &AppRunner).await.unwrap().unwrap().status, "RUNNING");
    assert!(account.service_environment(PRODUCTION_SERVICE).is_some(), "the previous deployment still serves");
}

#[tokio::test(start_paused = true)]
async fn an_image_based_service_is_updated_to_another_image_and_back() {
    let account = account();
    let s = account.session("deploy");
    assert_eq!(s.update_service_image(PRODUCTION_SERVICE_ARN, RELEASE_IMAGE).await.unwrap_err().code, "InvalidRequestException");
    account.deploy_production_from_image();
    let info = s.find_service(PRODUCTION_SERVICE, &AppRunner).await.unwrap().unwrap();
    assert_eq!((info.image_identifier.as_deref(), info.source), (Some(PRODUCTION_IMAGE), None));
    s.update_service_image(PRODUCTION_SERVICE_ARN, RELEASE_IMAGE).await.unwrap();
    minutes(4).await;
    assert_eq!(account.service_image(PRODUCTION_SERVICE).as_deref(), Some(RELEASE_IMAGE));
    assert!(account.database_tables(PRODUCTION_DB).unwrap().contains_key("core_tenant"));
    s.update_service_image(PRODUCTION_SERVICE_ARN, PRODUCTION_IMAGE).await.unwrap();
    minutes(4).await;
    assert_eq!(account.service_image(PRODUCTION_SERVICE).as_deref(), Some(PRODUCTION_IMAGE));
}

#[tokio::test(start_paused = true)]
async fn executions_are_described_as_recorded_and_alerts_reach_the_topic() {
    let account = account();
    let s = account.session("verify_rehearsal_passed");
    let arn = "arn:aws:states:us-east-1:123456789012:execution:rehearsal-staging:run-1";
    assert_eq!(s.describe_execution(arn).await.unwrap(), None);
    let execution = ExecutionInfo {
        arn: arn.into(),
        state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:rehearsal-staging".into(),
        name: Some("run-1".into()),
        status: "SUCCEEDED".into(),
        start: crate::common::start(),
        stop: None,
        input: Some("{}".into()),
        output: Some("{}".into()),
        error: None,
        cause: None,
    };
    account.record_execution(execution.clone());
    assert_eq!(s.describe_execution(arn).await.unwrap(), Some(execution));

    let id = s.publish(ALERT_TOPIC_ARN, Some("subject"), "message").unwrap();
    assert_eq!(account.ledger().notifications[0].message_id, id);
    assert_eq!(s.publish("arn:aws:sns:us-east-1:123456789012:nope", None, "m").unwrap_err().kind, CloudErrorKind::NotFound);
}
