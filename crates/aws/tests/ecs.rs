//! The ECS Express Mode adapter against `aws-smithy-mocks`, with answers shaped as ECS gives
//! them: what it sends, how it reads a service and its deployments over time (creation, canary
//! update, rollback, deletion), and how each error answer is mapped. `tests/winterbaume.rs`
//! runs it against winterbaume's ECS for what that emulator implements; it keeps no service
//! configuration, deployment or tag of an Express service, which is why those are here.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ecs::config::retry::RetryConfig;
use aws_sdk_ecs::operation::create_express_gateway_service::{CreateExpressGatewayServiceInput, CreateExpressGatewayServiceOutput};
use aws_sdk_ecs::operation::delete_express_gateway_service::DeleteExpressGatewayServiceOutput;
use aws_sdk_ecs::operation::describe_express_gateway_service::DescribeExpressGatewayServiceOutput;
use aws_sdk_ecs::operation::list_service_deployments::ListServiceDeploymentsOutput;
use aws_sdk_ecs::operation::list_services::ListServicesOutput;
use aws_sdk_ecs::operation::update_express_gateway_service::{UpdateExpressGatewayServiceInput, UpdateExpressGatewayServiceOutput};
use aws_sdk_ecs::primitives::DateTime;
use aws_sdk_ecs::types::{
    AccessType, EcsExpressGatewayService, ExpressGatewayContainer, ExpressGatewayServiceConfiguration, ExpressGatewayServiceInclude,
    ExpressGatewayServiceNetworkConfiguration, ExpressGatewayServiceStatus, ExpressGatewayServiceStatusCode, IngressPathSummary,
    KeyValuePair, ResourceManagementType, Secret, ServiceDeploymentBrief, ServiceDeploymentStatus, Tag, UpdatedExpressGatewayService,
};
use aws_sdk_ecs::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use rehearsal_aws::AwsCloud;
use rehearsal_core::cloud::{
    EcsExpressSettings, HostSettings, ImageRelease, OperationStatus, ReleaseSource, ServiceBackend, ServiceHost, ServiceLocation,
    ServiceSpec, ServiceStatus, ECS_DELETE_OPERATION,
};
use rehearsal_core::tags::Tags;
use rehearsal_core::CloudErrorKind;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

const CLUSTER: &str = "tableicty";
const SERVICE_ARN: &str = "arn:aws:ecs:us-east-1:783790254091:service/tableicty/tableicty-staging-backend";
const FIRST_REVISION: &str = "arn:aws:ecs:us-east-1:783790254091:service-revision/tableicty/tableicty-staging-backend/4391857260183746501";
const SECOND_REVISION: &str = "arn:aws:ecs:us-east-1:783790254091:service-revision/tableicty/tableicty-staging-backend/4391857260183746502";
const IMAGE: &str = "783790254091.dkr.ecr.us-east-1.amazonaws.com/tableicty-backend@sha256:9a3c5e7f1b2d4f6a8c0e2b4d6f8a1c3e5b7d9f0a2c4e6b8d1f3a5c7e9b0d2f4a";
const OTHER_IMAGE: &str =
    "783790254091.dkr.ecr.us-east-1.amazonaws.com/tableicty-backend@sha256:5d1e8a0c3f7b2946e1a8c0d5f3b7e2a9c4d6f8b0a1e3c5d7f9b2a4c6e8d0f1a3";
const ENDPOINT: &str = "https://tableicty-staging-backend-5c2e9a41.ecs.us-east-1.on.aws/";
const EXECUTION_ROLE: &str = "arn:aws:iam::783790254091:role/rehearsal-staging-execution";
const TASK_ROLE: &str = "arn:aws:iam::783790254091:role/rehearsal-staging-task";
const INFRASTRUCTURE_ROLE: &str = "arn:aws:iam::783790254091:role/ecsInfrastructureRoleForExpressServices";

fn parameter(key: &str) -> String {
    format!("arn:aws:ssm:us-east-1:783790254091:parameter/tableicty/staging/{key}")
}

fn cloud(rules: &[&Rule]) -> AwsCloud {
    let config = SdkConfig::builder().behavior_version(BehaviorVersion::latest()).region(Region::new("us-east-1")).build();
    let mut cloud = AwsCloud::new(&config);
    // Retries off, so an error answer reaches the mapping at once.
    cloud.ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, rules, |c| c.retry_config(RetryConfig::disabled()));
    cloud
}

/// An awsJson 1.1 error answer, parsed by the SDK exactly as a real one would be.
fn error_body(code: &str, message: &str) -> Option<String> {
    Some(format!(r#"{{"__type":"com.amazonaws.ecs#{code}","message":"{message}"}}"#))
}

fn settings() -> EcsExpressSettings {
    EcsExpressSettings {
        cluster: CLUSTER.into(),
        subnets: vec!["subnet-0c1d2e3f4a5b60711".into(), "subnet-0c1d2e3f4a5b60722".into()],
        security_groups: vec!["sg-0f1e2d3c4b5a69788".into()],
        execution_role_arn: EXECUTION_ROLE.into(),
        task_role_arn: Some(TASK_ROLE.into()),
        infrastructure_role_arn: INFRASTRUCTURE_ROLE.into(),
    }
}

fn spec() -> ServiceSpec {
    ServiceSpec {
        name: "tableicty-staging-backend".into(),
        cpu: "1024".into(),
        memory: "2048".into(),
        port: 8000,
        source: ReleaseSource::Image(ImageRelease { image: IMAGE.into(), access_role_arn: None }),
        health_check_path: "/api/v1/health/".into(),
        environment: BTreeMap::from([("IS_PRODUCTION".into(), "False".into()), ("DEBUG".into(), "False".into())]),
        secrets: BTreeMap::from([("DATABASE_URL".into(), parameter("DATABASE_URL")), ("SECRET_KEY".into(), parameter("SECRET_KEY"))]),
        host: HostSettings::EcsExpress(settings()),
    }
}

fn secrets(pairs: &[(&str, String)]) -> Vec<Secret> {
    pairs.iter().map(|(name, arn)| Secret::builder().name(*name).value_from(arn).build().unwrap()).collect()
}

fn container(image: &str, secret_list: Vec<Secret>) -> ExpressGatewayContainer {
    ExpressGatewayContainer::builder()
        .image(image)
        .container_port(8000)
        .environment(KeyValuePair::builder().name("DEBUG").value("False").build())
        .environment(KeyValuePair::builder().name("IS_PRODUCTION").value("False").build())
        .set_secrets(Some(secret_list))
        .build()
        .unwrap()
}

fn configuration(revision: &str, created: i64, container: ExpressGatewayContainer) -> ExpressGatewayServiceConfiguration {
    let settings = settings();
    ExpressGatewayServiceConfiguration::builder()
        .service_revision_arn(revision)
        .execution_role_arn(EXECUTION_ROLE)
        .task_role_arn(TASK_ROLE)
        .cpu("1024")
        .memory("2048")
        .network_configuration(
            ExpressGatewayServiceNetworkConfiguration::builder()
                .set_subnets(Some(settings.subnets))
                .set_security_groups(Some(settings.security_groups))
                .build(),
        )
        .health_check_path("/api/v1/health/")
        .primary_container(container)
        .ingress_paths(IngressPathSummary::builder().access_type(AccessType::Public).endpoint(ENDPOINT).build().unwrap())
        .created_at(DateTime::from_secs(created))
        .build()
}

fn first_configuration() -> ExpressGatewayServiceConfiguration {
    configuration(FIRST_REVISION, 1_766_653_200, container(IMAGE, secrets(&[("DATABASE_URL", parameter("DATABASE_URL"))])))
}

fn service(status: ExpressGatewayServiceStatusCode, configurations: Vec<ExpressGatewayServiceConfiguration>) -> EcsExpressGatewayService {
    EcsExpressGatewayService::builder()
        .cluster(CLUSTER)
        .service_name("tableicty-staging-backend")
        .service_arn(SERVICE_ARN)
        .infrastructure_role_arn(INFRASTRUCTURE_ROLE)
        .status(ExpressGatewayServiceStatus::builder().status_code(status).build())
        .set_active_configurations(Some(configurations))
        .tags(Tag::builder().key("rehearsal:run-id").value("tableicty-20251225").build())
        .build()
}

fn deployment(id: &str, revision: &str, status: ServiceDeploymentStatus, created: i64) -> ServiceDeploymentBrief {
    ServiceDeploymentBrief::builder()
        .service_deployment_arn(format!("arn:aws:ecs:us-east-1:783790254091:service-deployment/tableicty/tableicty-staging-backend/{id}"))
        .service_arn(SERVICE_ARN)
        .target_service_revision_arn(revision)
        .status(status)
        .created_at(DateTime::from_secs(created))
        .build()
}

/// ECS as the test sets it: the service DescribeExpressGatewayService answers (`None`: not
/// found) and the deployments ListServiceDeployments lists, in any order.
#[derive(Default)]
struct Ecs {
    service: Mutex<Option<EcsExpressGatewayService>>,
    deployments: Mutex<Vec<ServiceDeploymentBrief>>,
}

impl Ecs {
    fn set(&self, service: Option<EcsExpressGatewayService>, deployments: Vec<ServiceDeploymentBrief>) {
        *self.service.lock().unwrap() = service;
        *self.deployments.lock().unwrap() = deployments;
    }

    /// Rules answering DescribeExpressGatewayService (with its tags) and ListServiceDeployments
    /// (for this service in its cluster) from the state.
    fn rules(self: &Arc<Self>) -> (Rule, Rule) {
        let ecs = self.clone();
        let describe = mock!(Client::describe_express_gateway_service)
            .match_requests(|r| r.service_arn() == Some(SERVICE_ARN) && r.include() == [ExpressGatewayServiceInclude::Tags])
            .then_compute_response(move |_| match ecs.service.lock().unwrap().clone() {
                Some(service) => {
                    aws_smithy_mocks::MockResponse::Output(DescribeExpressGatewayServiceOutput::builder().service(service).build())
                }
                None => aws_smithy_mocks::MockResponse::Http(http_error(400, "ResourceNotFoundException", "Service not found")),
            });
        let ecs = self.clone();
        let list = mock!(Client::list_service_deployments)
            .match_requests(|r| r.service() == Some(SERVICE_ARN) && r.cluster() == Some(CLUSTER))
            .then_compute_output(move |_| {
                // Newest first, as ECS lists them: the adapter must not rely on the order.
                let mut listed = ecs.deployments.lock().unwrap().clone();
                listed.reverse();
                ListServiceDeploymentsOutput::builder().set_service_deployments(Some(listed)).build()
            });
        (describe, list)
    }
}

fn http_error(status: u16, code: &str, message: &str) -> aws_sdk_ecs::config::http::HttpResponse {
    aws_sdk_ecs::config::http::HttpResponse::new(
        aws_smithy_runtime_api::http::StatusCode::try_from(status).unwrap(),
        aws_smithy_types::body::SdkBody::from(error_body(code, message).unwrap()),
    )
}

#[tokio::test]
async fn create_sends_the_whole_spec_and_answers_the_service_with_its_first_deployment_to_wait_for() {
    let sent: Arc<Mutex<Option<CreateExpressGatewayServiceInput>>> = Arc::default();
    let capture = sent.clone();
    let create = mock!(Client::create_express_gateway_service).then_compute_output(move |input| {
        *capture.lock().unwrap() = Some(input.clone());
        // ECS answers the service without its tags.
        let mut created = service(ExpressGatewayServiceStatusCode::Active, vec![first_configuration()]);
        created.tags = None;
        CreateExpressGatewayServiceOutput::builder().service(created).build()
    });
    let cloud = cloud(&[&create]);
    let tags = Tags::from([("rehearsal:run-id".to_string(), "tableicty-20251225".to_string())]);

    let (info, operation) = cloud.create_service(&spec(), &tags).await.unwrap();
    assert_eq!(operation, SERVICE_ARN, "a creation's operation is the service's first deployment");
    assert_eq!(
        (info.arn.as_str(), info.backend, info.status),
        (SERVICE_ARN, ServiceBackend::EcsExpress, ServiceStatus::OperationInProgress)
    );
    assert_eq!((info.host_status.as_str(), info.url.as_str()), ("ACTIVE", "tableicty-staging-backend-5c2e9a41.ecs.us-east-1.on.aws"));
    assert_eq!((info.image_identifier.as_deref(), info.instance_role_arn.as_deref()), (Some(IMAGE), Some(TASK_ROLE)));
    assert_eq!(info.ecs, Some(settings()));
    assert_eq!(info.secrets, BTreeMap::from([("DATABASE_URL".to_string(), parameter("DATABASE_URL"))]));
    assert_eq!(info.tags, tags);
    assert_eq!((info.source, info.vpc_connector_arn), (None, None));

    let input = sent.lock().unwrap().take().expect("CreateExpressGatewayService was called");
    assert_eq!((input.service_name(), input.cluster()), (Some("tableicty-staging-backend"), Some(CLUSTER)));
    assert_eq!(
        (input.execution_role_arn(), input.task_role_arn(), input.infrastructure_role_arn()),
        (Some(EXECUTION_ROLE), Some(TASK_ROLE), Some(INFRASTRUCTURE_ROLE))
    );
    assert_eq!((input.cpu(), input.memory(), input.health_check_path()), (Some("1024"), Some("2048"), Some("/api/v1/health/")));
    let network = input.network_configuration().expect("a network configuration");
    assert_eq!((network.subnets(), network.security_groups()), (&settings().subnets[..], &settings().security_groups[..]));
    let primary = input.primary_container().expect("a primary container");
    assert_eq!((primary.image(), primary.container_port()), (IMAGE, Some(8000)));
    let environment: Vec<(&str, &str)> = primary.environment().iter().map(|kv| (kv.name().unwrap(), kv.value().unwrap())).collect();
    assert_eq!(environment, [("DEBUG", "False"), ("IS_PRODUCTION", "False")]);
    assert_eq!(primary.secrets(), secrets(&[("DATABASE_URL", parameter("DATABASE_URL")), ("SECRET_KEY", parameter("SECRET_KEY"))]));
    assert_eq!(input.tags(), &[Tag::builder().key("rehearsal:run-id").value("tableicty-20251225").build()]);
}

#[tokio::test]
async fn create_refuses_what_ecs_express_cannot_run_before_any_call() {
    let create = mock!(Client::create_express_gateway_service).then_output(|| {
        CreateExpressGatewayServiceOutput::builder().service(service(ExpressGatewayServiceStatusCode::Active, vec![])).build()
    });
    let cloud = cloud(&[&create]);
    let with_access_role = ServiceSpec {
        source: ReleaseSource::Image(ImageRelease {
            image: IMAGE.into(),
            access_role_arn: Some("arn:aws:iam::783790254091:role/x".into()),
        }),
        ..spec()
    };
    let code = ServiceSpec {
        source: ReleaseSource::Code {
            repository: rehearsal_core::cloud::ServiceSource {
                repository_url: "https://github.com/tableicty/backend".into(),
                branch: "main".into(),
                connection_arn: "arn:aws:apprunner:us-east-1:783790254091:connection/github/abc".into(),
            },
            build: rehearsal_core::cloud::CodeBuild {
                runtime: "PYTHON_311".into(),
                build_command: "make".into(),
                start_command: "./start.sh".into(),
            },
            auto_deployments: false,
        },
        ..spec()
    };
    for spec in [with_access_role, code] {
        let error = cloud.create_service(&spec, &Tags::new()).await.unwrap_err();
        assert_eq!((error.kind, error.code.as_str()), (CloudErrorKind::Fatal, "UnsupportedSource"), "{error}");
    }
    assert_eq!(create.num_calls(), 0);
    let start = cloud.start_deployment(SERVICE_ARN).await.unwrap_err();
    assert_eq!((start.kind, start.code.as_str()), (CloudErrorKind::Fatal, "UnsupportedOperation"));
}

#[tokio::test]
async fn a_creation_is_described_until_its_first_deployment_completes() {
    let ecs = Arc::new(Ecs::default());
    let (describe, list) = ecs.rules();
    let cloud = cloud(&[&describe, &list]);
    let active = || Some(service(ExpressGatewayServiceStatusCode::Active, vec![first_configuration()]));
    let first = |status| vec![deployment("first", FIRST_REVISION, status, 1_766_653_200)];

    // ECS lists the deployment a moment after the create answers.
    ecs.set(active(), vec![]);
    let operation = cloud.describe_operation(SERVICE_ARN, SERVICE_ARN).await.unwrap().unwrap();
    assert_eq!((operation.status, operation.host_status.as_str()), (OperationStatus::Pending, "PENDING"));
    assert_eq!(cloud.describe_service(SERVICE_ARN).await.unwrap().unwrap().status, ServiceStatus::OperationInProgress);

    for (listed, operation_status, service_status) in [
        (ServiceDeploymentStatus::Pending, OperationStatus::Pending, ServiceStatus::OperationInProgress),
        (ServiceDeploymentStatus::InProgress, OperationStatus::InProgress, ServiceStatus::OperationInProgress),
        (ServiceDeploymentStatus::Successful, OperationStatus::Succeeded, ServiceStatus::Running),
    ] {
        ecs.set(active(), first(listed.clone()));
        let operation = cloud.describe_operation(SERVICE_ARN, SERVICE_ARN).await.unwrap().unwrap();
        assert_eq!(
            (operation.status, operation.host_status.as_str(), operation.kind.as_str()),
            (operation_status, listed.as_str(), "SERVICE_DEPLOYMENT")
        );
        let info = cloud.describe_service(SERVICE_ARN).await.unwrap().unwrap();
        assert_eq!((info.status, info.host_status.as_str()), (service_status, "ACTIVE"));
        assert_eq!(info.tags, Tags::from([("rehearsal:run-id".to_string(), "tableicty-20251225".to_string())]));
    }

    // A first deployment ECS stopped (its tasks never became healthy) leaves nothing serving.
    ecs.set(active(), first(ServiceDeploymentStatus::Stopped));
    assert_eq!(cloud.describe_operation(SERVICE_ARN, SERVICE_ARN).await.unwrap().unwrap().status, OperationStatus::Failed);
    assert_eq!(cloud.describe_service(SERVICE_ARN).await.unwrap().unwrap().status, ServiceStatus::CreateFailed);
    ecs.set(None, vec![]);
    assert_eq!(cloud.describe_service(SERVICE_ARN).await, Ok(None));
}

#[tokio::test]
async fn an_update_replaces_only_the_secrets_and_its_canary_is_followed_through_a_rollback() {
    let ecs = Arc::new(Ecs::default());
    let (describe, list) = ecs.rules();
    let sent: Arc<Mutex<Vec<UpdateExpressGatewayServiceInput>>> = Arc::default();
    let capture = sent.clone();
    let update = mock!(Client::update_express_gateway_service).then_compute_output(move |input| {
        capture.lock().unwrap().push(input.clone());
        let target = ExpressGatewayServiceConfiguration::builder().service_revision_arn(SECOND_REVISION).build();
        let updated = UpdatedExpressGatewayService::builder().service_arn(SERVICE_ARN).target_configuration(target).build();
        UpdateExpressGatewayServiceOutput::builder().service(updated).build()
    });
    let cloud = cloud(&[&describe, &list, &update]);
    let created = deployment("first", FIRST_REVISION, ServiceDeploymentStatus::Successful, 1_766_653_200);
    ecs.set(Some(service(ExpressGatewayServiceStatusCode::Active, vec![first_configuration()])), vec![created.clone()]);

    let new =
        BTreeMap::from([("DATABASE_URL".to_string(), parameter("DATABASE_URL")), ("FRONTEND_URL".to_string(), parameter("FRONTEND_URL"))]);
    let operation = cloud.update_service_secrets(SERVICE_ARN, &new).await.unwrap();
    assert_eq!(operation, SECOND_REVISION, "an update's operation is the revision it deploys");
    let input = sent.lock().unwrap().pop().expect("UpdateExpressGatewayService was called");
    assert_eq!(input.service_arn(), Some(SERVICE_ARN));
    // The described container in everything but its secrets; nothing else is sent.
    let expected = container(IMAGE, secrets(&[("DATABASE_URL", parameter("DATABASE_URL")), ("FRONTEND_URL", parameter("FRONTEND_URL"))]));
    assert_eq!(input.primary_container(), Some(&expected));
    assert_eq!((input.cpu(), input.execution_role_arn(), input.network_configuration()), (None, None, None));

    let second = |status| deployment("second", SECOND_REVISION, status, 1_766_660_400);
    let canary = configuration(SECOND_REVISION, 1_766_660_400, expected.clone());
    for (status, operation_status, service_status) in [
        (ServiceDeploymentStatus::InProgress, OperationStatus::InProgress, ServiceStatus::OperationInProgress),
        (ServiceDeploymentStatus::RollbackRequested, OperationStatus::RollbackInProgress, ServiceStatus::OperationInProgress),
        (ServiceDeploymentStatus::RollbackInProgress, OperationStatus::RollbackInProgress, ServiceStatus::OperationInProgress),
    ] {
        ecs.set(
            Some(service(ExpressGatewayServiceStatusCode::Active, vec![first_configuration(), canary.clone()])),
            vec![created.clone(), second(status)],
        );
        assert_eq!(cloud.describe_operation(SERVICE_ARN, SECOND_REVISION).await.unwrap().unwrap().status, operation_status);
        let info = cloud.describe_service(SERVICE_ARN).await.unwrap().unwrap();
        assert_eq!(info.status, service_status);
        assert_eq!(info.secrets, new, "the newest configuration is the one being deployed");
    }
    // Rolled back: the first revision serves again, and is the only active configuration.
    ecs.set(
        Some(service(ExpressGatewayServiceStatusCode::Active, vec![first_configuration()])),
        vec![created.clone(), second(ServiceDeploymentStatus::RollbackSuccessful)],
    );
    let operation = cloud.describe_operation(SERVICE_ARN, SECOND_REVISION).await.unwrap().unwrap();
    assert_eq!((operation.status, operation.host_status.as_str()), (OperationStatus::RollbackSucceeded, "ROLLBACK_SUCCESSFUL"));
    let info = cloud.describe_service(SERVICE_ARN).await.unwrap().unwrap();
    assert_eq!((info.status, info.secrets.len()), (ServiceStatus::Running, 1));
    // The creation's operation is still the first deployment.
    assert_eq!(cloud.describe_operation(SERVICE_ARN, SERVICE_ARN).await.unwrap().unwrap().status, OperationStatus::Succeeded);

    // A deployment of the image production ran before: only the image changes.
    cloud.update_service_image(SERVICE_ARN, OTHER_IMAGE).await.unwrap();
    let input = sent.lock().unwrap().pop().expect("UpdateExpressGatewayService was called");
    let mut expected = first_configuration().primary_container.unwrap();
    expected.image = OTHER_IMAGE.into();
    assert_eq!(input.primary_container(), Some(&expected));

    ecs.set(None, vec![]);
    let gone = cloud.update_service_image(SERVICE_ARN, IMAGE).await.unwrap_err();
    assert_eq!(gone.kind, CloudErrorKind::NotFound);
    assert_eq!(update.num_calls(), 2);
}

#[tokio::test]
async fn a_deletion_drains_the_service_until_it_is_inactive() {
    let ecs = Arc::new(Ecs::default());
    let (describe, list) = ecs.rules();
    let delete = mock!(Client::delete_express_gateway_service)
        .match_requests(|r| r.service_arn() == Some(SERVICE_ARN))
        .sequence()
        .output(|| DeleteExpressGatewayServiceOutput::builder().service(service(ExpressGatewayServiceStatusCode::Draining, vec![])).build())
        .http_status(400, error_body("ServiceNotActiveException", "Service was not ACTIVE."))
        .build();
    let cloud = cloud(&[&describe, &list, &delete]);
    let serving = vec![deployment("first", FIRST_REVISION, ServiceDeploymentStatus::Successful, 1_766_653_200)];
    ecs.set(Some(service(ExpressGatewayServiceStatusCode::Active, vec![first_configuration()])), serving.clone());
    assert_eq!(cloud.describe_operation(SERVICE_ARN, ECS_DELETE_OPERATION).await, Ok(None), "not being deleted");

    assert_eq!(cloud.delete_service(SERVICE_ARN).await.unwrap(), ECS_DELETE_OPERATION);
    ecs.set(Some(service(ExpressGatewayServiceStatusCode::Draining, vec![first_configuration()])), serving.clone());
    let draining = cloud.describe_operation(SERVICE_ARN, ECS_DELETE_OPERATION).await.unwrap().unwrap();
    assert_eq!(
        (draining.status, draining.host_status.as_str(), draining.kind.as_str()),
        (OperationStatus::InProgress, "DRAINING", "DELETE_SERVICE")
    );
    assert_eq!(cloud.describe_service(SERVICE_ARN).await.unwrap().unwrap().status, ServiceStatus::OperationInProgress);
    let again = cloud.delete_service(SERVICE_ARN).await.unwrap_err();
    assert_eq!((again.kind, again.code.as_str()), (CloudErrorKind::InvalidState, "ServiceNotActiveException"));

    ecs.set(Some(service(ExpressGatewayServiceStatusCode::Inactive, vec![])), serving);
    assert_eq!(cloud.describe_operation(SERVICE_ARN, ECS_DELETE_OPERATION).await.unwrap().unwrap().status, OperationStatus::Succeeded);
    let info = cloud.describe_service(SERVICE_ARN).await.unwrap().unwrap();
    assert_eq!((info.status, info.host_status.as_str(), info.ecs), (ServiceStatus::Deleted, "INACTIVE", None));
}

#[tokio::test]
async fn find_service_lists_the_clusters_express_services_and_describes_the_named_one() {
    let ecs = Arc::new(Ecs::default());
    let (describe, list) = ecs.rules();
    let first = mock!(Client::list_services)
        .match_requests(|r| {
            r.cluster() == Some(CLUSTER) && r.resource_management_type() == Some(&ResourceManagementType::Ecs) && r.next_token().is_none()
        })
        .then_output(|| {
            ListServicesOutput::builder()
                .service_arns("arn:aws:ecs:us-east-1:783790254091:service/tableicty/tableicty-backend")
                .next_token("page-2")
                .build()
        });
    let second = mock!(Client::list_services)
        .match_requests(|r| r.next_token() == Some("page-2"))
        .then_output(|| ListServicesOutput::builder().service_arns(SERVICE_ARN).build());
    let (status, body) = (400, error_body("ClusterNotFoundException", "Cluster not found."));
    let no_cluster =
        mock!(Client::list_services).match_requests(|r| r.cluster() == Some("missing")).sequence().http_status(status, body).build();
    let cloud = cloud(&[&first, &second, &no_cluster, &describe, &list]);
    ecs.set(
        Some(service(ExpressGatewayServiceStatusCode::Active, vec![first_configuration()])),
        vec![deployment("first", FIRST_REVISION, ServiceDeploymentStatus::Successful, 1_766_653_200)],
    );

    let in_cluster = ServiceLocation::EcsExpress { cluster: CLUSTER.into() };
    let found = cloud.find_service("tableicty-staging-backend", &in_cluster).await.unwrap().expect("found on the second page");
    assert_eq!((found.arn.as_str(), found.status), (SERVICE_ARN, ServiceStatus::Running));
    assert_eq!(cloud.find_service("tableicty-other", &in_cluster).await, Ok(None));
    let missing = ServiceLocation::EcsExpress { cluster: "missing".into() };
    assert_eq!(cloud.find_service("tableicty-staging-backend", &missing).await, Ok(None), "no cluster, no service in it");
}

#[tokio::test]
async fn error_answers_are_mapped_with_their_code_and_message() {
    for (status, code, message, kind) in [
        (400, "ThrottlingException", "Rate exceeded", CloudErrorKind::Throttled),
        (500, "ServerException", "explained", CloudErrorKind::Unavailable),
        (400, "AccessDeniedException", "explained", CloudErrorKind::AccessDenied),
        (400, "ServiceNotFoundException", "Service not found.", CloudErrorKind::NotFound),
        (400, "ClusterNotFoundException", "Cluster not found.", CloudErrorKind::NotFound),
        (400, "InvalidParameterException", "Creation of service was not idempotent.", CloudErrorKind::AlreadyExists),
        (400, "ServiceNotActiveException", "Service was not ACTIVE.", CloudErrorKind::InvalidState),
        (400, "ClientException", "No Fargate configuration exists for given values: 256 CPU, 4096 memory.", CloudErrorKind::Fatal),
        (400, "InvalidParameterException", "Error retrieving subnet information", CloudErrorKind::Fatal),
    ] {
        let rule = mock!(Client::create_express_gateway_service).sequence().http_status(status, error_body(code, message)).build();
        let err = cloud(&[&rule]).create_service(&spec(), &Tags::new()).await.unwrap_err();
        assert_eq!((err.kind, err.code.as_str(), err.message.as_str()), (kind, code, message), "HTTP {status} {code}");
    }
    let bare = mock!(Client::delete_express_gateway_service).sequence().http_status(503, None).build();
    let err = cloud(&[&bare]).delete_service(SERVICE_ARN).await.unwrap_err();
    assert_eq!(err.kind, CloudErrorKind::Unavailable, "{err}");
}
