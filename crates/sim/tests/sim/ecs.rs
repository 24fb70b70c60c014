//! ECS Express Mode over virtual time: provisioning, canary deployments, ECS's own rollback,
//! the execution role's reach, draining, the errors ECS answers, and the fault kinds.

use crate::common::*;
use rehearsal_core::checks::http::{request, run_checklist};
use rehearsal_core::cloud::{
    Clock, EcsExpressSettings, HostSettings, HttpClient, ImageRelease, OperationStatus, ParameterKind, ParameterStore, ReleaseSource,
    ServiceHost, ServiceLocation, ServiceSpec, ServiceStatus, ECS_DELETE_OPERATION,
};
use rehearsal_core::run::ValidationInput;
use rehearsal_core::{CloudErrorKind, Secret};
use rehearsal_sim::seed::*;
use rehearsal_sim::{Fault, FaultKind, SimAccount, SimCloud};
use serde_json::json;
use std::collections::BTreeMap;

fn pinned(digest: &str) -> String {
    format!("{ECR_REGISTRY}/{ECR_REPOSITORY}@{digest}")
}

fn in_cluster() -> ServiceLocation {
    ServiceLocation::EcsExpress { cluster: ECS_CLUSTER.into() }
}

fn settings() -> EcsExpressSettings {
    EcsExpressSettings {
        cluster: ECS_CLUSTER.into(),
        subnets: ECS_SUBNETS.map(String::from).to_vec(),
        security_groups: vec![APP_SECURITY_GROUP.into()],
        execution_role_arn: STAGING_EXECUTION_ROLE_ARN.into(),
        task_role_arn: Some(STAGING_TASK_ROLE_ARN.into()),
        infrastructure_role_arn: ECS_INFRASTRUCTURE_ROLE_ARN.into(),
    }
}

/// The staging service on ECS Express, from the release pinned by digest.
fn express_spec(secrets: BTreeMap<String, String>) -> ServiceSpec {
    ServiceSpec {
        cpu: "1024".into(),
        memory: "2048".into(),
        source: ReleaseSource::Image(ImageRelease { image: pinned(RELEASE_IMAGE_DIGEST), access_role_arn: None }),
        host: HostSettings::EcsExpress(settings()),
        ..spec(secrets)
    }
}

fn code<T: std::fmt::Debug>(result: Result<T, rehearsal_core::CloudError>) -> (CloudErrorKind, String) {
    let e = result.unwrap_err();
    (e.kind, e.code)
}

async fn operation(s: &SimCloud, arn: &str, id: &str) -> (OperationStatus, String) {
    let op = s.describe_operation(arn, id).await.unwrap().unwrap();
    (op.status, op.host_status)
}

fn resource_state(account: &SimAccount, kind: &str) -> Vec<String> {
    account.existing_resources().into_iter().filter(|r| r.kind == kind).map(|r| format!("{} {}", r.id, r.status)).collect()
}

/// Snapshot, restore, parameters, and the Express service created and deployed (12 minutes).
async fn express_staged(account: &SimAccount) -> (String, String, BTreeMap<String, String>) {
    snapshot_and_restore(account).await;
    let (secrets, _) = write_parameters(account).await;
    let (info, _) = account.session("create_staging_service").create_service(&express_spec(secrets.clone()), &tags()).await.unwrap();
    minutes(12).await;
    (info.arn, format!("https://{}", info.url), secrets)
}

#[tokio::test(start_paused = true)]
async fn a_service_provisions_its_load_balancer_then_its_first_deployment_serves_the_app() {
    let account = account();
    snapshot_and_restore(&account).await;
    let (secrets, _) = write_parameters(&account).await;
    let ecs = account.session("create_staging_service");
    let (info, first) = ecs.create_service(&express_spec(secrets.clone()), &tags()).await.unwrap();
    assert_eq!(info.arn, format!("arn:aws:ecs:us-east-1:123456789012:service/{ECS_CLUSTER}/{STAGING_SERVICE}"));
    assert_eq!(first, info.arn, "a creation's operation is its first deployment");
    assert!(info.url.starts_with(&format!("{STAGING_SERVICE}-")) && info.url.ends_with(".ecs.us-east-1.on.aws"), "{}", info.url);
    assert_eq!((info.status, info.host_status.as_str()), (ServiceStatus::OperationInProgress, "ACTIVE"));
    assert_eq!(
        (info.image_identifier, info.secrets.clone(), info.tags.clone()),
        (Some(pinned(RELEASE_IMAGE_DIGEST)), secrets.clone(), tags())
    );
    assert_eq!(info.ecs, Some(settings()));
    assert_eq!(operation(&ecs, &info.arn, &first).await, (OperationStatus::Pending, "PENDING".into()));
    assert_eq!(resource_state(&account, "load-balancer").len(), 1);
    assert!(resource_state(&account, "load-balancer")[0].ends_with(" provisioning"));
    let base = format!("https://{}", info.url);
    let validate = account.session("validate_staging");
    let health = validate.send(request("GET", format!("{base}/api/v1/health/"), None, None)).await.unwrap_err();
    assert!(health.to_string().contains("dns error"), "no load balancer answers yet: {health}");
    assert_eq!(
        code(ecs.create_service(&express_spec(secrets.clone()), &tags()).await),
        (CloudErrorKind::AlreadyExists, "InvalidParameterException".into())
    );

    minutes(4).await;
    assert_eq!(operation(&ecs, &info.arn, &first).await.0, OperationStatus::InProgress);
    assert!(resource_state(&account, "load-balancer")[0].ends_with(" active"));
    minutes(2).await;
    // The tasks are up: the release's start command migrated the staging database, and with
    // no old tasks to shift from, they take all the traffic at once, baking for 3 minutes.
    assert!(account.database_tables(STAGING_DB).unwrap().contains_key("core_tenant"));
    assert!(!account.database_tables(PRODUCTION_DB).unwrap().contains_key("core_tenant"));
    assert_eq!(operation(&ecs, &info.arn, &first).await.0, OperationStatus::InProgress);
    minutes(3).await;
    assert_eq!(operation(&ecs, &info.arn, &first).await, (OperationStatus::Succeeded, "SUCCESSFUL".into()));
    let running = ecs.find_service(STAGING_SERVICE, &in_cluster()).await.unwrap().unwrap();
    assert_eq!((running.arn.as_str(), running.status), (info.arn.as_str(), ServiceStatus::Running));
    assert_eq!(ecs.find_service(STAGING_SERVICE, &ServiceLocation::EcsExpress { cluster: "default".into() }).await.unwrap(), None);
    let environment = account.express_service_environment(ECS_CLUSTER, STAGING_SERVICE).unwrap();
    assert_eq!(environment["SECRET_KEY"], value_of(&account, &format!("{PRODUCTION_PARAMETER_PATH}SECRET_KEY")).await.expose());

    let password = value_of(&account, TEST_ADMIN_PASSWORD_PARAMETER).await;
    let results = run_checklist(&validate, &base, &ValidationInput::default(), &password, "rehearsal-ecs", validate.now()).await;
    assert!(results[0].passed && results[1].passed, "health and login answer from the ECS endpoint: {results:?}");
    let ledger = account.ledger();
    assert_eq!(
        ledger.created.iter().map(|r| (r.kind.as_str(), r.id.as_str())).collect::<Vec<_>>().last(),
        Some(&("ecs-service", STAGING_SERVICE))
    );
    assert!(ledger.production_writes.is_empty(), "{:?}", ledger.production_writes);
    assert!(ledger.calls.iter().any(|c| (c.service.as_str(), c.operation.as_str()) == ("ecs", "CreateExpressGatewayService")));
}

#[tokio::test(start_paused = true)]
async fn what_ecs_refuses_is_refused_with_its_error() {
    let account = account();
    let ecs = account.session("create_staging_service");
    let with = |change: fn(&mut ServiceSpec)| {
        let mut spec = express_spec(BTreeMap::new());
        change(&mut spec);
        spec
    };
    for (spec, expected) in [
        (with(|s| s.memory = "512".into()), (CloudErrorKind::Fatal, "ClientException")),
        (with(|s| s.cpu = "1 vCPU".into()), (CloudErrorKind::Fatal, "ClientException")),
        (with(|s| s.name = "staging backend".into()), (CloudErrorKind::Fatal, "InvalidParameterException")),
        (with(|s| s.health_check_path = "health".into()), (CloudErrorKind::Fatal, "InvalidParameterException")),
        (
            with(|s| {
                if let HostSettings::EcsExpress(e) = &mut s.host {
                    e.cluster = "missing".into();
                }
            }),
            (CloudErrorKind::NotFound, "ClusterNotFoundException"),
        ),
        (
            with(|s| {
                if let HostSettings::EcsExpress(e) = &mut s.host {
                    e.subnets = vec!["subnet-00000000000000000".into()];
                }
            }),
            (CloudErrorKind::Fatal, "InvalidParameterException"),
        ),
        (
            with(|s| {
                if let HostSettings::EcsExpress(e) = &mut s.host {
                    e.execution_role_arn = "arn:aws:iam::123456789012:role/nobody".into();
                }
            }),
            (CloudErrorKind::Fatal, "InvalidParameterException"),
        ),
        (
            with(|s| {
                s.source = ReleaseSource::Image(ImageRelease {
                    image: pinned(RELEASE_IMAGE_DIGEST),
                    access_role_arn: Some(ECR_ACCESS_ROLE_ARN.into()),
                })
            }),
            (CloudErrorKind::Fatal, "InvalidParameterException"),
        ),
        (
            with(|s| s.secrets = BTreeMap::from([("DEBUG".into(), rehearsal_sim::parameter_arn("/tableicty/staging/DEBUG"))])),
            (CloudErrorKind::Fatal, "InvalidParameterException"),
        ),
        (
            with(|s| s.secrets = BTreeMap::from([("TOKEN".into(), "arn:aws:secretsmanager:us-east-1:123456789012:secret:token".into())])),
            (CloudErrorKind::Fatal, "InvalidParameterException"),
        ),
    ] {
        let (kind, error) = code(ecs.create_service(&spec, &tags()).await);
        assert_eq!((kind, error.as_str()), expected, "{spec:?}");
    }
    let mut aws_tag = tags();
    aws_tag.insert("aws:reserved".into(), "x".into());
    assert_eq!(code(ecs.create_service(&express_spec(BTreeMap::new()), &aws_tag).await).1, "InvalidParameterException");
    assert!(resource_state(&account, "ecs-service").is_empty(), "nothing was created");
    let absent = "arn:aws:ecs:us-east-1:123456789012:service/tableicty/nothing";
    assert_eq!(ecs.describe_service(absent).await.unwrap(), None);
    assert_eq!(
        code(ecs.update_service_image(absent, &pinned(RELEASE_IMAGE_DIGEST)).await),
        (CloudErrorKind::NotFound, "ServiceNotFoundException".into())
    );
    assert_eq!(code(ecs.delete_service(absent).await), (CloudErrorKind::NotFound, "ServiceNotFoundException".into()));
    assert_eq!(code(ecs.start_deployment(absent).await).1, "UnsupportedOperation");
}

#[tokio::test(start_paused = true)]
async fn an_update_rolls_out_by_canary_and_the_old_tasks_serve_until_all_traffic_shifts() {
    let account = account();
    let (arn, base, mut secrets) = express_staged(&account).await;
    let validate = account.session("validate_staging");
    let routes = ValidationInput::default();
    let password = value_of(&account, TEST_ADMIN_PASSWORD_PARAMETER).await;
    let login = json!({"email": TEST_ADMIN_EMAIL, "password": password.expose()});
    let token = |response: rehearsal_core::cloud::HttpResponse| {
        Secret::new(serde_json::from_str::<serde_json::Value>(&response.body).unwrap()["access"].as_str().unwrap().to_string())
    };
    let access = token(validate.send(request("POST", format!("{base}{}", routes.login_path), None, Some(login.clone()))).await.unwrap());

    // A new SECRET_KEY: sessions signed with the old one are refused by the new tasks.
    let ssm = account.session("write_staging_parameters");
    let rotated = ssm
        .put_parameter("/tableicty/staging/SECRET_KEY_ROTATED", &Secret::new("rotated-key"), ParameterKind::SecureString, false)
        .await
        .unwrap();
    secrets.insert("SECRET_KEY".into(), rotated);
    let publish = account.session("publish_frontend_url");
    let revision = publish.update_service_secrets(&arn, &secrets).await.unwrap();
    assert!(revision.starts_with(&format!("arn:aws:ecs:us-east-1:123456789012:service-revision/{ECS_CLUSTER}/{STAGING_SERVICE}/")));
    assert_eq!(operation(&publish, &arn, &revision).await.0, OperationStatus::InProgress);
    assert_eq!(publish.describe_service(&arn).await.unwrap().unwrap().status, ServiceStatus::OperationInProgress);
    assert_eq!(code(publish.delete_service("arn:aws:ecs:us-east-1:123456789012:service/tableicty/x").await).1, "ServiceNotFoundException");

    let billing = || request("GET", format!("{base}{}", routes.billing_path), Some(&access), None);
    let mut statuses = Vec::new();
    minutes(2).await;
    // The canary's tasks are up and take 5% of the requests: one in twenty.
    for _ in 0..20 {
        statuses.push(validate.send(billing()).await.unwrap().status);
    }
    assert_eq!((statuses.iter().filter(|s| **s == 200).count(), statuses.iter().filter(|s| **s == 401).count()), (19, 1), "{statuses:?}");
    let old = account.express_service_environment(ECS_CLUSTER, STAGING_SERVICE).unwrap();
    assert_ne!(old["SECRET_KEY"], "rotated-key", "the old tasks still take the traffic");

    minutes(3).await;
    assert_eq!(account.express_service_environment(ECS_CLUSTER, STAGING_SERVICE).unwrap()["SECRET_KEY"], "rotated-key");
    assert_eq!(validate.send(billing()).await.unwrap().status, 401, "all traffic reaches the new tasks");
    assert_eq!(operation(&publish, &arn, &revision).await.0, OperationStatus::InProgress, "baking before the old tasks stop");
    minutes(3).await;
    assert_eq!(operation(&publish, &arn, &revision).await, (OperationStatus::Succeeded, "SUCCESSFUL".into()));
    let info = publish.describe_service(&arn).await.unwrap().unwrap();
    assert_eq!((info.status, info.secrets["SECRET_KEY"].as_str()), (ServiceStatus::Running, secrets["SECRET_KEY"].as_str()));
    let fresh = token(validate.send(request("POST", format!("{base}{}", routes.login_path), None, Some(login))).await.unwrap());
    assert_eq!(validate.send(request("GET", format!("{base}{}", routes.billing_path), Some(&fresh), None)).await.unwrap().status, 200);
}

#[tokio::test(start_paused = true)]
async fn a_deployment_whose_tasks_fail_is_rolled_back_by_ecs_and_the_old_revision_keeps_serving() {
    let account = account();
    let (arn, _, _) = express_staged(&account).await;
    let before = account.express_service_environment(ECS_CLUSTER, STAGING_SERVICE).unwrap();
    let deploy = account.session("deploy");
    // A tag no image has: the new tasks cannot pull it.
    let missing = format!("{ECR_REGISTRY}/{ECR_REPOSITORY}:release-99");
    let revision = deploy.update_service_image(&arn, &missing).await.unwrap();
    assert_eq!(deploy.describe_service(&arn).await.unwrap().unwrap().image_identifier.as_deref(), Some(missing.as_str()));
    minutes(2).await;
    assert_eq!(operation(&deploy, &arn, &revision).await, (OperationStatus::RollbackInProgress, "ROLLBACK_IN_PROGRESS".into()));
    minutes(2).await;
    assert_eq!(operation(&deploy, &arn, &revision).await, (OperationStatus::RollbackSucceeded, "ROLLBACK_SUCCESSFUL".into()));
    let info = deploy.describe_service(&arn).await.unwrap().unwrap();
    assert_eq!((info.status, info.image_identifier), (ServiceStatus::Running, Some(pinned(RELEASE_IMAGE_DIGEST))));
    assert_eq!(account.express_service_environment(ECS_CLUSTER, STAGING_SERVICE), Some(before));

    // The `failed-state` fault fails the deployment the same way.
    account.inject(Fault::new("publish_frontend_url", FaultKind::FailedState));
    let publish = account.session("publish_frontend_url");
    let revision = publish.update_service_secrets(&arn, &info.secrets).await.unwrap();
    minutes(4).await;
    assert_eq!(operation(&publish, &arn, &revision).await.0, OperationStatus::RollbackSucceeded);
    // A later update supersedes one in flight, which ECS stops.
    let first = deploy.update_service_image(&arn, &pinned(RELEASE_IMAGE_DIGEST)).await.unwrap();
    let second = deploy.update_service_secrets(&arn, &info.secrets).await.unwrap();
    assert_eq!(operation(&deploy, &arn, &first).await, (OperationStatus::Failed, "STOPPED".into()));
    minutes(8).await;
    assert_eq!(operation(&deploy, &arn, &second).await.0, OperationStatus::Succeeded);
}

#[tokio::test(start_paused = true)]
async fn the_staging_execution_role_cannot_fetch_production_parameters() {
    let account = account();
    snapshot_and_restore(&account).await;
    let production_key = rehearsal_sim::parameter_arn(&format!("{PRODUCTION_PARAMETER_PATH}SECRET_KEY"));
    let ecs = account.session("create_staging_service");
    let (info, first) = ecs.create_service(&express_spec(BTreeMap::from([("SECRET_KEY".into(), production_key)])), &tags()).await.unwrap();
    minutes(6).await;
    // The tasks stopped before any traffic; a first deployment has nothing to roll back to.
    assert_eq!(operation(&ecs, &info.arn, &first).await, (OperationStatus::Failed, "STOPPED".into()));
    assert_eq!(ecs.describe_service(&info.arn).await.unwrap().unwrap().status, ServiceStatus::CreateFailed);
    assert_eq!(account.express_service_environment(ECS_CLUSTER, STAGING_SERVICE), None);
}

#[tokio::test(start_paused = true)]
async fn a_deleted_service_drains_with_its_load_balancer_until_inactive() {
    let account = account();
    let (arn, base, _) = express_staged(&account).await;
    let teardown = account.session("teardown_staging");
    assert_eq!(teardown.describe_operation(&arn, ECS_DELETE_OPERATION).await.unwrap(), None, "not being deleted");
    assert_eq!(teardown.delete_service(&arn).await.unwrap(), ECS_DELETE_OPERATION);
    assert_eq!(operation(&teardown, &arn, ECS_DELETE_OPERATION).await, (OperationStatus::InProgress, "DRAINING".into()));
    let draining = teardown.describe_service(&arn).await.unwrap().unwrap();
    assert_eq!((draining.status, draining.host_status.as_str()), (ServiceStatus::OperationInProgress, "DRAINING"));
    assert!(resource_state(&account, "load-balancer")[0].ends_with(" deprovisioning"));
    let refused = account.session("validate_staging").send(request("GET", format!("{base}/api/v1/health/"), None, None)).await.unwrap_err();
    assert!(refused.to_string().contains("DRAINING"), "{refused}");
    assert_eq!(code(teardown.delete_service(&arn).await), (CloudErrorKind::InvalidState, "ServiceNotActiveException".into()));
    assert_eq!(code(teardown.update_service_image(&arn, &pinned(RELEASE_IMAGE_DIGEST)).await).1, "ServiceNotActiveException");
    assert!(teardown.find_service(STAGING_SERVICE, &in_cluster()).await.unwrap().is_some(), "listed while draining");
    assert_eq!(account.leftovers(RUN).iter().filter(|l| l.contains("DRAINING") || l.contains("deprovisioning")).count(), 2);

    minutes(5).await;
    assert_eq!(operation(&teardown, &arn, ECS_DELETE_OPERATION).await, (OperationStatus::Succeeded, "INACTIVE".into()));
    assert_eq!(teardown.describe_service(&arn).await.unwrap().unwrap().status, ServiceStatus::Deleted);
    assert_eq!(teardown.find_service(STAGING_SERVICE, &in_cluster()).await.unwrap(), None);
    assert!(resource_state(&account, "load-balancer").is_empty() && resource_state(&account, "ecs-service").is_empty());
    assert!(
        account.leftovers(RUN).iter().all(|l| !l.starts_with("ecs-service") && !l.starts_with("load-balancer")),
        "{:?}",
        account.leftovers(RUN)
    );
    assert!(account.ledger().deleted.iter().any(|r| (r.kind.as_str(), r.id.as_str()) == ("ecs-service", STAGING_SERVICE)));

    // The name is free again; the new service has the same ARN and starts from scratch.
    let (again, _) = teardown.create_service(&express_spec(BTreeMap::new()), &tags()).await.unwrap();
    assert_eq!((again.arn.as_str(), again.status), (arn.as_str(), ServiceStatus::OperationInProgress));
}

#[tokio::test(start_paused = true)]
async fn the_fault_kinds_apply_to_the_ecs_calls() {
    let account = account();
    for fault in
        ["create_staging_service=never-ready", "teardown_staging=never-ready", "again=already-exists", "throttled=throttle", "denied=fatal"]
    {
        account.inject(fault.parse().unwrap());
    }
    let ecs = account.session("create_staging_service");
    let (stalled, first) = ecs.create_service(&express_spec(BTreeMap::new()), &tags()).await.unwrap();
    minutes(60).await;
    assert_eq!(operation(&ecs, &stalled.arn, &first).await.0, OperationStatus::Pending, "the load balancer never comes");
    assert!(resource_state(&account, "load-balancer")[0].ends_with(" provisioning"));
    let teardown = account.session("teardown_staging");
    teardown.delete_service(&stalled.arn).await.unwrap();
    minutes(60).await;
    assert_eq!(operation(&teardown, &stalled.arn, ECS_DELETE_OPERATION).await.0, OperationStatus::InProgress, "draining forever");

    let again = account.session("again");
    let spec = ServiceSpec { name: "tableicty-staging-two".into(), ..express_spec(BTreeMap::new()) };
    assert_eq!(code(again.create_service(&spec, &tags()).await), (CloudErrorKind::AlreadyExists, "InvalidParameterException".into()));
    let foreign = again.find_service("tableicty-staging-two", &in_cluster()).await.unwrap().unwrap();
    assert_eq!((foreign.status, foreign.tags.get("Owner").map(String::as_str)), (ServiceStatus::Running, Some("platform-team")));
    assert!(account.ledger().foreign.iter().any(|r| r.id == "tableicty-staging-two"));

    let throttled = account.session("throttled");
    for _ in 0..2 {
        assert_eq!(code(throttled.describe_service(&foreign.arn).await), (CloudErrorKind::Throttled, "ThrottlingException".into()));
    }
    assert!(throttled.describe_service(&foreign.arn).await.unwrap().is_some());
    let denied = account.session("denied").update_service_image(&foreign.arn, "x").await.unwrap_err();
    assert_eq!(denied.kind, CloudErrorKind::AccessDenied);
    assert!(denied.message.contains("ecs:UpdateExpressGatewayService"), "{}", denied.message);
}

#[tokio::test(start_paused = true)]
async fn production_on_ecs_express_takes_the_pinned_release_and_goes_back_to_the_digest_it_ran() {
    let account = account();
    account.deploy_production_on_ecs_express();
    let promote = account.session("start_production_deployment");
    let production = promote.find_service(PRODUCTION_SERVICE, &in_cluster()).await.unwrap().unwrap();
    assert_eq!((production.arn.as_str(), production.url.as_str()), (PRODUCTION_EXPRESS_SERVICE_ARN, PRODUCTION_EXPRESS_URL));
    assert_eq!((production.status, production.image_identifier.clone()), (ServiceStatus::Running, Some(pinned(PRODUCTION_IMAGE_DIGEST))));
    assert_eq!(production.ecs.as_ref().map(|e| e.execution_role_arn.as_str()), Some(PRODUCTION_EXECUTION_ROLE_ARN));
    let health = format!("https://{PRODUCTION_EXPRESS_URL}/api/v1/health/");
    assert_eq!(account.session("check").send(request("GET", health.clone(), None, None)).await.unwrap().status, 200);

    let revision = promote.update_service_image(&production.arn, &pinned(RELEASE_IMAGE_DIGEST)).await.unwrap();
    minutes(8).await;
    assert_eq!(operation(&promote, &production.arn, &revision).await.0, OperationStatus::Succeeded);
    assert!(account.database_tables(PRODUCTION_DB).unwrap().contains_key("core_tenant"), "the release migrated production");
    let writes = account.ledger().production_writes;
    assert_eq!(
        writes.iter().map(|w| (w.operation.as_str(), w.step.as_str())).collect::<Vec<_>>(),
        [("UpdateExpressGatewayService", "start_production_deployment")]
    );

    let rollback = account.session("roll_back_production_code");
    let back = rollback.update_service_image(&production.arn, &production.image_identifier.clone().unwrap()).await.unwrap();
    minutes(8).await;
    assert_eq!(operation(&rollback, &production.arn, &back).await.0, OperationStatus::Succeeded);
    assert_eq!(rollback.describe_service(&production.arn).await.unwrap().unwrap().image_identifier, Some(pinned(PRODUCTION_IMAGE_DIGEST)));
    assert_eq!(account.session("check").send(request("GET", health, None, None)).await.unwrap().status, 200);
}
