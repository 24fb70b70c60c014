//! The App Runner adapter against `aws-smithy-mocks`: every call it makes, what it sends (from
//! code and from an image), and how each error answer is mapped. `tests/winterbaume.rs` runs it
//! against winterbaume's App Runner for what that emulator implements.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_apprunner::config::retry::RetryConfig;
use aws_sdk_apprunner::operation::create_service::{CreateServiceInput, CreateServiceOutput};
use aws_sdk_apprunner::operation::delete_service::DeleteServiceOutput;
use aws_sdk_apprunner::operation::describe_service::DescribeServiceOutput;
use aws_sdk_apprunner::operation::list_operations::ListOperationsOutput;
use aws_sdk_apprunner::operation::list_services::ListServicesOutput;
use aws_sdk_apprunner::operation::list_tags_for_resource::ListTagsForResourceOutput;
use aws_sdk_apprunner::operation::list_vpc_connectors::ListVpcConnectorsOutput;
use aws_sdk_apprunner::operation::update_service::{UpdateServiceInput, UpdateServiceOutput};
use aws_sdk_apprunner::primitives::DateTime;
use aws_sdk_apprunner::types::{
    AuthenticationConfiguration, CodeConfiguration, CodeConfigurationValues, CodeRepository, ConfigurationSource, EgressConfiguration,
    EgressType, HealthCheckProtocol, ImageRepositoryType, InstanceConfiguration, NetworkConfiguration, OperationStatus, OperationSummary,
    OperationType, Runtime, Service, ServiceStatus, ServiceSummary, SourceCodeVersion, SourceCodeVersionType, SourceConfiguration, Tag,
    VpcConnector, VpcConnectorStatus,
};
use aws_sdk_apprunner::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use rehearsal_aws::AwsCloud;
use rehearsal_core::cloud::{
    self, AppRunnerSettings, CodeBuild, HostSettings, ImageRelease, ReleaseSource, ServiceHost, ServiceLocation, ServiceOperation,
    ServiceSource, ServiceSpec,
};
use rehearsal_core::tags::Tags;
use rehearsal_core::CloudErrorKind;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

const PRODUCTION_ARN: &str = "arn:aws:apprunner:us-east-1:783790254091:service/tableicty-backend/prod";
const STAGING_ARN: &str = "arn:aws:apprunner:us-east-1:783790254091:service/tableicty-staging-backend/stag";
const CONNECTION: &str = "arn:aws:apprunner:us-east-1:783790254091:connection/github/abc";
const ROLE: &str = "arn:aws:iam::783790254091:role/tableicty-apprunner-instance";
const CONNECTOR: &str = "arn:aws:apprunner:us-east-1:783790254091:vpcconnector/tableicty-vpc-connector/3/c3";

fn parameter(key: &str) -> String {
    format!("arn:aws:ssm:us-east-1:783790254091:parameter/tableicty/staging/{key}")
}

fn cloud(rules: &[&Rule]) -> AwsCloud {
    // The other clients are never called here; they only need a config to exist.
    let config = SdkConfig::builder().behavior_version(BehaviorVersion::latest()).region(Region::new("us-east-1")).build();
    let mut cloud = AwsCloud::new(&config);
    // Retries off, so an error answer reaches the mapping at once.
    cloud.apprunner = mock_client!(aws_sdk_apprunner, RuleMode::MatchAny, rules, |c| c.retry_config(RetryConfig::disabled()));
    cloud
}

/// An awsJson error answer, parsed by the SDK exactly as a real one would be.
fn error_rule(status: u16, code: &str, message: &str) -> (u16, Option<String>) {
    (status, Some(format!(r#"{{"__type":"com.amazonaws.apprunner#{code}","Message":"{message}"}}"#)))
}

fn api_source(secrets: &[(&str, &str)]) -> SourceConfiguration {
    let values = CodeConfigurationValues::builder()
        .runtime(Runtime::Python311)
        .build_command("pip install -r requirements.txt")
        .start_command("./start.sh")
        .port("8000")
        .runtime_environment_variables("IS_PRODUCTION", "True")
        .set_runtime_environment_secrets(Some(secrets.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()))
        .build()
        .unwrap();
    source_with(
        CodeConfiguration::builder().configuration_source(ConfigurationSource::Api).code_configuration_values(values).build().unwrap(),
    )
}

fn source_with(code_configuration: CodeConfiguration) -> SourceConfiguration {
    SourceConfiguration::builder()
        .code_repository(
            CodeRepository::builder()
                .repository_url("https://github.com/tableicty/backend")
                .source_code_version(SourceCodeVersion::builder().r#type(SourceCodeVersionType::Branch).value("main").build().unwrap())
                .code_configuration(code_configuration)
                .build()
                .unwrap(),
        )
        .auto_deployments_enabled(false)
        .authentication_configuration(AuthenticationConfiguration::builder().connection_arn(CONNECTION).build())
        .build()
}

fn service(name: &str, arn: &str, status: ServiceStatus, source: SourceConfiguration) -> Service {
    Service::builder()
        .service_name(name)
        .service_id("id")
        .service_arn(arn)
        .service_url(format!("{name}.us-east-1.awsapprunner.com"))
        .created_at(DateTime::from_secs(1_766_620_800))
        .updated_at(DateTime::from_secs(1_766_620_800))
        .status(status)
        .source_configuration(source)
        .instance_configuration(InstanceConfiguration::builder().cpu("1024").memory("2048").instance_role_arn(ROLE).build())
        .network_configuration(
            NetworkConfiguration::builder()
                .egress_configuration(EgressConfiguration::builder().egress_type(EgressType::Vpc).vpc_connector_arn(CONNECTOR).build())
                .build(),
        )
        .build()
        .unwrap()
}

fn production() -> Service {
    service("tableicty-backend", PRODUCTION_ARN, ServiceStatus::Running, api_source(&[("SECRET_KEY", "arn:production/SECRET_KEY")]))
}

fn describe(service: fn() -> Service) -> Rule {
    let arn = service().service_arn;
    mock!(Client::describe_service)
        .match_requests(move |r| r.service_arn() == Some(arn.as_str()))
        .then_output(move || DescribeServiceOutput::builder().service(service()).build())
}

fn summary(name: &str, arn: &str, status: ServiceStatus) -> ServiceSummary {
    ServiceSummary::builder().service_name(name).service_arn(arn).status(status).build()
}

#[tokio::test]
async fn find_service_pages_through_list_services_and_describes_the_live_one() {
    let first = mock!(Client::list_services).match_requests(|r| r.next_token().is_none()).then_output(|| {
        ListServicesOutput::builder()
            .service_summary_list(summary("other", "arn:other", ServiceStatus::Running))
            .service_summary_list(summary("tableicty-backend", "arn:deleted", ServiceStatus::Deleted))
            .next_token("page-2")
            .build()
            .unwrap()
    });
    let second = mock!(Client::list_services).match_requests(|r| r.next_token() == Some("page-2")).then_output(|| {
        ListServicesOutput::builder()
            .service_summary_list(summary("tableicty-backend", PRODUCTION_ARN, ServiceStatus::Running))
            .build()
            .unwrap()
    });
    let tags = mock!(Client::list_tags_for_resource)
        .match_requests(|r| r.resource_arn() == Some(PRODUCTION_ARN))
        .then_output(|| ListTagsForResourceOutput::builder().tags(Tag::builder().key("team").value("tableicty").build()).build());
    let describe = describe(production);
    let cloud = cloud(&[&first, &second, &describe, &tags]);

    let found = cloud.find_service("tableicty-backend", &ServiceLocation::AppRunner).await.unwrap().expect("found on the second page");
    assert_eq!((first.num_calls(), second.num_calls(), describe.num_calls()), (1, 1, 1));
    assert_eq!(found.arn, PRODUCTION_ARN);
    assert_eq!(found.name, "tableicty-backend");
    assert_eq!(found.url, "tableicty-backend.us-east-1.awsapprunner.com");
    assert_eq!(found.status, "RUNNING");
    assert_eq!(
        found.source,
        Some(ServiceSource {
            repository_url: "https://github.com/tableicty/backend".into(),
            branch: "main".into(),
            connection_arn: CONNECTION.into()
        })
    );
    assert_eq!(found.instance_role_arn.as_deref(), Some(ROLE));
    assert_eq!(found.vpc_connector_arn.as_deref(), Some(CONNECTOR));
    assert_eq!(found.secrets, BTreeMap::from([("SECRET_KEY".to_string(), "arn:production/SECRET_KEY".to_string())]));
    assert_eq!(found.tags, Tags::from([("team".to_string(), "tableicty".to_string())]));

    assert_eq!(cloud.find_service("missing", &ServiceLocation::AppRunner).await, Ok(None));
    assert_eq!(describe.num_calls(), 1, "nothing is described when no service has the name");
}

#[tokio::test]
async fn describe_service_answers_none_for_an_unknown_arn() {
    let (status, body) = error_rule(400, "ResourceNotFoundException", "Service not found");
    let missing = mock!(Client::describe_service).sequence().http_status(status, body).build();
    let cloud = cloud(&[&missing]);
    assert_eq!(cloud.describe_service("arn:missing").await, Ok(None));
}

fn spec() -> ServiceSpec {
    ServiceSpec {
        name: "tableicty-staging-backend".into(),
        cpu: "0.25 vCPU".into(),
        memory: "0.5 GB".into(),
        port: 8000,
        source: ReleaseSource::Code {
            repository: ServiceSource {
                repository_url: "https://github.com/tableicty/backend".into(),
                branch: "main".into(),
                connection_arn: CONNECTION.into(),
            },
            build: CodeBuild {
                runtime: "PYTHON_311".into(),
                build_command: "pip install -r requirements.txt".into(),
                start_command: "./start.sh".into(),
            },
            auto_deployments: false,
        },
        health_check_path: "/api/v1/health/".into(),
        environment: BTreeMap::from([("IS_PRODUCTION".into(), "False".into()), ("DEBUG".into(), "False".into())]),
        secrets: BTreeMap::from([("DATABASE_URL".into(), parameter("DATABASE_URL")), ("SECRET_KEY".into(), parameter("SECRET_KEY"))]),
        host: HostSettings::AppRunner(AppRunnerSettings { vpc_connector_arn: CONNECTOR.into(), instance_role_arn: ROLE.into() }),
    }
}

fn staging() -> Service {
    service("tableicty-staging-backend", STAGING_ARN, ServiceStatus::OperationInProgress, api_source(&[]))
}

#[tokio::test]
async fn create_service_sends_the_whole_spec() {
    let sent: Arc<Mutex<Option<CreateServiceInput>>> = Arc::default();
    let capture = sent.clone();
    let create = mock!(Client::create_service).then_compute_output(move |input| {
        *capture.lock().unwrap() = Some(input.clone());
        CreateServiceOutput::builder().service(staging()).operation_id("op-create").build().unwrap()
    });
    let cloud = cloud(&[&create]);
    let tags = Tags::from([("rehearsal:run-id".to_string(), "tableicty-20251225".to_string())]);

    let (info, operation) = cloud.create_service(&spec(), &tags).await.unwrap();
    assert_eq!(operation, "op-create");
    assert_eq!((info.arn.as_str(), info.status.as_str()), (STAGING_ARN, "OPERATION_IN_PROGRESS"));
    assert_eq!(info.url, "tableicty-staging-backend.us-east-1.awsapprunner.com");
    assert_eq!(info.tags, tags);

    let input = sent.lock().unwrap().take().expect("CreateService was called");
    assert_eq!(input.service_name(), Some("tableicty-staging-backend"));
    let source = input.source_configuration().expect("a source configuration");
    assert_eq!(source.auto_deployments_enabled(), Some(false));
    assert_eq!(source.authentication_configuration().and_then(|a| a.connection_arn()), Some(CONNECTION));
    let repo = source.code_repository().expect("a code repository");
    assert_eq!(repo.repository_url(), "https://github.com/tableicty/backend");
    let version = repo.source_code_version().expect("a version");
    assert_eq!((version.r#type(), version.value()), (&SourceCodeVersionType::Branch, "main"));
    let code = repo.code_configuration().expect("a code configuration");
    assert_eq!(code.configuration_source(), &ConfigurationSource::Api);
    let values = code.code_configuration_values().expect("values");
    assert_eq!(values.runtime(), &Runtime::Python311);
    assert_eq!(values.build_command(), Some("pip install -r requirements.txt"));
    assert_eq!(values.start_command(), Some("./start.sh"));
    assert_eq!(values.port(), Some("8000"));
    let expected_env: HashMap<String, String> = spec().environment.into_iter().collect();
    let expected_secrets: HashMap<String, String> = spec().secrets.into_iter().collect();
    assert_eq!(values.runtime_environment_variables(), Some(&expected_env));
    assert_eq!(values.runtime_environment_secrets(), Some(&expected_secrets));
    let instance = input.instance_configuration().expect("an instance configuration");
    assert_eq!((instance.cpu(), instance.memory(), instance.instance_role_arn()), (Some("0.25 vCPU"), Some("0.5 GB"), Some(ROLE)));
    let egress = input.network_configuration().and_then(|n| n.egress_configuration()).expect("egress");
    assert_eq!((egress.egress_type(), egress.vpc_connector_arn()), (Some(&EgressType::Vpc), Some(CONNECTOR)));
    let health = input.health_check_configuration().expect("a health check");
    assert_eq!((health.protocol(), health.path()), (Some(&HealthCheckProtocol::Http), Some("/api/v1/health/")));
    assert_eq!(input.tags(), &[Tag::builder().key("rehearsal:run-id").value("tableicty-20251225").build()]);
}

#[tokio::test]
async fn create_service_maps_a_duplicate_name() {
    let (status, body) =
        error_rule(400, "InvalidRequestException", "Service with the provided name already exists: tableicty-staging-backend");
    let duplicate = mock!(Client::create_service).sequence().http_status(status, body).build();
    let cloud = cloud(&[&duplicate]);

    let exists = cloud.create_service(&spec(), &Tags::new()).await.unwrap_err();
    assert_eq!((exists.kind, exists.code.as_str()), (CloudErrorKind::AlreadyExists, "InvalidRequestException"));
    assert!(exists.message.contains("already exists"), "{exists}");
    assert_eq!(duplicate.num_calls(), 1);
}

const IMAGE: &str = "783790254091.dkr.ecr.us-east-1.amazonaws.com/tableicty-backend@sha256:9a3c5e7f1b2d4f6a8c0e2b4d6f8a1c3e5b7d9f0a2c4e6b8d1f3a5c7e9b0d2f4a";
const ACCESS_ROLE: &str = "arn:aws:iam::783790254091:role/service-role/AppRunnerECRAccessRole";

#[tokio::test]
async fn create_service_from_an_image_pins_it_and_pulls_with_the_access_role() {
    let sent: Arc<Mutex<Option<CreateServiceInput>>> = Arc::default();
    let capture = sent.clone();
    let create = mock!(Client::create_service).then_compute_output(move |input| {
        *capture.lock().unwrap() = Some(input.clone());
        CreateServiceOutput::builder().service(staging()).operation_id("op-create").build().unwrap()
    });
    let cloud = cloud(&[&create]);
    let image = ServiceSpec {
        source: ReleaseSource::Image(ImageRelease { image: IMAGE.into(), access_role_arn: Some(ACCESS_ROLE.into()) }),
        ..spec()
    };

    let (info, operation) = cloud.create_service(&image, &Tags::new()).await.unwrap();
    assert_eq!((operation.as_str(), info.status), ("op-create", cloud::ServiceStatus::OperationInProgress));
    let input = sent.lock().unwrap().take().expect("CreateService was called");
    let source = input.source_configuration().expect("a source configuration");
    assert!(source.code_repository().is_none());
    // Nothing to watch: the image is pinned by digest.
    assert_eq!(source.auto_deployments_enabled(), Some(false));
    let authentication = source.authentication_configuration().expect("an authentication configuration");
    assert_eq!((authentication.access_role_arn(), authentication.connection_arn()), (Some(ACCESS_ROLE), None));
    let repository = source.image_repository().expect("an image repository");
    assert_eq!((repository.image_identifier(), repository.image_repository_type()), (IMAGE, &ImageRepositoryType::Ecr));
    let configuration = repository.image_configuration().expect("an image configuration");
    let expected_env: HashMap<String, String> = spec().environment.into_iter().collect();
    let expected_secrets: HashMap<String, String> = spec().secrets.into_iter().collect();
    assert_eq!(configuration.port(), Some("8000"));
    assert_eq!(configuration.runtime_environment_variables(), Some(&expected_env));
    assert_eq!(configuration.runtime_environment_secrets(), Some(&expected_secrets));
    assert_eq!(input.instance_configuration().and_then(|i| i.instance_role_arn()), Some(ROLE));
}

#[tokio::test]
async fn update_service_secrets_replaces_only_the_parameter_references() {
    let sent: Arc<Mutex<Option<UpdateServiceInput>>> = Arc::default();
    let capture = sent.clone();
    let update = mock!(Client::update_service).then_compute_output(move |input| {
        *capture.lock().unwrap() = Some(input.clone());
        UpdateServiceOutput::builder().service(staging()).operation_id("op-update").build().unwrap()
    });
    let describe = describe(|| {
        service("tableicty-staging-backend", STAGING_ARN, ServiceStatus::Running, api_source(&[("SECRET_KEY", "arn:old/SECRET_KEY")]))
    });
    let cloud = cloud(&[&describe, &update]);

    let secrets =
        BTreeMap::from([("SECRET_KEY".to_string(), parameter("SECRET_KEY")), ("FRONTEND_URL".to_string(), parameter("FRONTEND_URL"))]);
    assert_eq!(cloud.update_service_secrets(STAGING_ARN, &secrets).await.unwrap(), "op-update");

    let input = sent.lock().unwrap().take().expect("UpdateService was called");
    assert_eq!(input.service_arn(), Some(STAGING_ARN));
    let new = secrets.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>();
    // Equal to the described configuration in everything but the secrets.
    assert_eq!(input.source_configuration(), Some(&api_source(&new)));
}

#[tokio::test]
async fn update_service_secrets_refuses_what_it_cannot_change() {
    let update = mock!(Client::update_service).then_output(|| UpdateServiceOutput::builder().operation_id("x").build().unwrap());
    let describe = describe(|| {
        let from_file = CodeConfiguration::builder().configuration_source(ConfigurationSource::Repository).build().unwrap();
        service("tableicty-staging-backend", STAGING_ARN, ServiceStatus::Running, source_with(from_file))
    });
    let (status, body) = error_rule(400, "ResourceNotFoundException", "Service not found");
    let missing = mock!(Client::describe_service)
        .match_requests(|r| r.service_arn() == Some("arn:missing"))
        .sequence()
        .http_status(status, body)
        .build();
    let cloud = cloud(&[&describe, &missing, &update]);

    let from_file = cloud.update_service_secrets(STAGING_ARN, &BTreeMap::new()).await.unwrap_err();
    assert_eq!((from_file.kind, from_file.code.as_str()), (CloudErrorKind::Fatal, "UnsupportedSourceConfiguration"));
    let gone = cloud.update_service_secrets("arn:missing", &BTreeMap::new()).await.unwrap_err();
    assert_eq!(gone.kind, CloudErrorKind::NotFound);
    assert_eq!(update.num_calls(), 0);
}

fn operation(id: &str, kind: OperationType, status: OperationStatus) -> OperationSummary {
    OperationSummary::builder().id(id).r#type(kind).status(status).target_arn(STAGING_ARN).build()
}

#[tokio::test]
async fn describe_operation_pages_through_list_operations() {
    let first = mock!(Client::list_operations)
        .match_requests(|r| r.next_token().is_none() && r.service_arn() == Some(STAGING_ARN))
        .then_output(|| {
            ListOperationsOutput::builder()
                .operation_summary_list(operation("op-update", OperationType::UpdateService, OperationStatus::InProgress))
                .next_token("page-2")
                .build()
        });
    let second = mock!(Client::list_operations).match_requests(|r| r.next_token() == Some("page-2")).then_output(|| {
        ListOperationsOutput::builder()
            .operation_summary_list(operation("op-create", OperationType::CreateService, OperationStatus::Succeeded))
            .build()
    });
    let cloud = cloud(&[&first, &second]);

    assert_eq!(
        cloud.describe_operation(STAGING_ARN, "op-create").await,
        Ok(Some(ServiceOperation {
            id: "op-create".into(),
            kind: "CREATE_SERVICE".into(),
            status: cloud::OperationStatus::Succeeded,
            host_status: "SUCCEEDED".into()
        }))
    );
    assert_eq!(cloud.describe_operation(STAGING_ARN, "op-unknown").await, Ok(None));
}

#[tokio::test]
async fn latest_operation_is_the_first_listed_the_last_started() {
    let newest = mock!(Client::list_operations)
        .match_requests(|r| r.service_arn() == Some(STAGING_ARN) && r.max_results() == Some(1))
        .then_output(|| {
            ListOperationsOutput::builder()
                .operation_summary_list(operation("op-deploy", OperationType::StartDeployment, OperationStatus::InProgress))
                .next_token("page-2")
                .build()
        });
    let cloud = cloud(&[&newest]);
    let latest = cloud.latest_operation(STAGING_ARN).await.unwrap().expect("an operation");
    assert_eq!(
        (latest.id.as_str(), latest.kind.as_str(), latest.status),
        ("op-deploy", "START_DEPLOYMENT", cloud::OperationStatus::InProgress)
    );
    assert_eq!(newest.num_calls(), 1, "one page is enough");
}

#[tokio::test]
async fn delete_service_answers_its_operation_and_maps_a_busy_service() {
    let (status, body) = error_rule(400, "InvalidStateException", "Service is in OPERATION_IN_PROGRESS state");
    let delete = mock!(Client::delete_service)
        .sequence()
        .output(|| DeleteServiceOutput::builder().service(staging()).operation_id("op-delete").build().unwrap())
        .http_status(status, body)
        .build();
    let cloud = cloud(&[&delete]);
    assert_eq!(cloud.delete_service(STAGING_ARN).await.unwrap(), "op-delete");
    let busy = cloud.delete_service(STAGING_ARN).await.unwrap_err();
    assert_eq!((busy.kind, busy.code.as_str()), (CloudErrorKind::InvalidState, "InvalidStateException"));
}

fn connector(name: &str, revision: i32, status: VpcConnectorStatus) -> VpcConnector {
    VpcConnector::builder()
        .vpc_connector_name(name)
        .vpc_connector_arn(format!("arn:aws:apprunner:us-east-1:783790254091:vpcconnector/{name}/{revision}/c{revision}"))
        .vpc_connector_revision(revision)
        .status(status)
        .build()
}

#[tokio::test]
async fn find_vpc_connector_picks_the_newest_active_revision() {
    let first = mock!(Client::list_vpc_connectors).match_requests(|r| r.next_token().is_none()).then_output(|| {
        ListVpcConnectorsOutput::builder()
            .vpc_connectors(connector("tableicty-vpc-connector", 1, VpcConnectorStatus::Inactive))
            .vpc_connectors(connector("tableicty-vpc-connector", 3, VpcConnectorStatus::Active))
            .next_token("page-2")
            .build()
            .unwrap()
    });
    let second = mock!(Client::list_vpc_connectors).match_requests(|r| r.next_token() == Some("page-2")).then_output(|| {
        ListVpcConnectorsOutput::builder()
            .vpc_connectors(connector("tableicty-vpc-connector", 2, VpcConnectorStatus::Active))
            .vpc_connectors(connector("tableicty-vpc-connector", 4, VpcConnectorStatus::Inactive))
            .vpc_connectors(connector("other", 9, VpcConnectorStatus::Active))
            .build()
            .unwrap()
    });
    let cloud = cloud(&[&first, &second]);

    assert_eq!(cloud.find_vpc_connector("tableicty-vpc-connector").await.unwrap().as_deref(), Some(CONNECTOR));
    let second_revision = "arn:aws:apprunner:us-east-1:783790254091:vpcconnector/tableicty-vpc-connector/2/c2";
    assert_eq!(cloud.find_vpc_connector(second_revision).await.unwrap().as_deref(), Some(second_revision));
    let inactive = "arn:aws:apprunner:us-east-1:783790254091:vpcconnector/tableicty-vpc-connector/1/c1";
    assert_eq!(cloud.find_vpc_connector(inactive).await, Ok(None));
    assert_eq!(cloud.find_vpc_connector("missing").await, Ok(None));
}

#[tokio::test]
async fn error_answers_are_mapped_with_their_code_and_message() {
    for (status, code, kind) in [
        (400, "ThrottlingException", CloudErrorKind::Throttled),
        (429, "TooManyRequestsException", CloudErrorKind::Throttled),
        (500, "InternalServiceErrorException", CloudErrorKind::Unavailable),
        (503, "ServiceUnavailableException", CloudErrorKind::Unavailable),
        (400, "AccessDeniedException", CloudErrorKind::AccessDenied),
        (400, "ResourceNotFoundException", CloudErrorKind::NotFound),
        (400, "InvalidStateException", CloudErrorKind::InvalidState),
        (400, "ServiceQuotaExceededException", CloudErrorKind::Fatal),
        (400, "InvalidRequestException", CloudErrorKind::Fatal),
    ] {
        let (status, body) = error_rule(status, code, "explained");
        let rule = mock!(Client::delete_service).sequence().http_status(status, body).build();
        let err = cloud(&[&rule]).delete_service(STAGING_ARN).await.unwrap_err();
        assert_eq!((err.kind, err.code.as_str(), err.message.as_str()), (kind, code, "explained"), "HTTP {status} {code}");
    }

    let bare = mock!(Client::delete_service).sequence().http_status(502, None).build();
    let err = cloud(&[&bare]).delete_service(STAGING_ARN).await.unwrap_err();
    assert_eq!(err.kind, CloudErrorKind::Unavailable, "{err}");
}

#[tokio::test]
async fn an_unreachable_endpoint_is_unavailable() {
    // Nothing listens on port 1 of the loopback: the connection is refused.
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_apprunner::config::Credentials::new("testing", "testing", None, None, "test"))
        .endpoint_url("http://127.0.0.1:1")
        .retry_config(RetryConfig::disabled())
        .load()
        .await;
    let err = AwsCloud::new(&config).delete_service(STAGING_ARN).await.unwrap_err();
    assert_eq!((err.kind, err.code.as_str()), (CloudErrorKind::Unavailable, "DispatchFailure"), "{err}");
}
