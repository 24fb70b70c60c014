//! The ECS Express, App Runner and ECR adapters against winterbaume 0.2.0, an independent AWS
//! emulator that serves the SDK's requests in-process (winterbaume-ecs, -apprunner, -ecr plugged
//! into the SDK's HTTP client): the requests must pass its models and its answers the SDK's.
//!
//! What winterbaume implements, read from its source, and where the rest is tested instead:
//!
//! * **ECS Express Mode** (`tests/ecs.rs` with `aws-smithy-mocks` for the rest): real are
//!   CreateExpressGatewayService (the cluster must exist, a name is unique in its cluster),
//!   DescribeExpressGatewayService (name, ARN, cluster; always `ACTIVE`) and
//!   DeleteExpressGatewayService (the service is forgotten at once, where ECS drains it to
//!   `INACTIVE`). It keeps no configuration (image, roles, network, variables, secrets, ingress
//!   path), no tags of an Express service, and no deployment (ListServiceDeployments lists none),
//!   and its UpdateExpressGatewayService answers no target revision; its ListServices does not
//!   list Express services; it answers a missing service with `InvalidParameterException`, where
//!   ECS says `ServiceNotFoundException`/`ResourceNotFoundException`; it never throttles.
//! * **App Runner** (`tests/apprunner.rs` for the rest): real are CreateService (unique names;
//!   the source configuration passes its model, code or image, but is not kept), ListServices,
//!   DescribeService, DeleteService (forgotten at once), StartDeployment, TagResource and
//!   ListTagsForResource (the tags CreateService is given are not listed). ListOperations and
//!   ListVpcConnectors are not implemented. Its error answers are XML where App Runner speaks
//!   JSON 1.0, so the SDK reads no code from them (`Unknown`): every error mapping is tested
//!   with mocks.
//! * **ECR** (`tests/ecr.rs` for throttling): CreateRepository, PutImage (the digest is the
//!   manifest's SHA-256; a tag pushed again moves) and DescribeImages are real, with
//!   `RepositoryNotFoundException` and `ImageNotFoundException` as ECR answers them. It deletes an
//!   image whose last tag moved away, where ECR keeps it untagged.

use aws_config::{BehaviorVersion, Region};
use rehearsal_aws::AwsCloud;
use rehearsal_core::cloud::{
    AppRunnerSettings, CodeBuild, ContainerImages, EcsExpressSettings, HostSettings, ImageRelease, OperationStatus, ReleaseSource,
    ServiceBackend, ServiceHost, ServiceLocation, ServiceSource, ServiceSpec, ServiceStatus,
};
use rehearsal_core::image::ImageName;
use rehearsal_core::tags::Tags;
use rehearsal_core::CloudErrorKind;
use std::collections::BTreeMap;
use winterbaume_core::MockAws;

const ACCOUNT: &str = "123456789012";
const REGISTRY: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const CLUSTER: &str = "tableicty";

async fn emulated() -> AwsCloud {
    let mock = MockAws::builder()
        .with_service(winterbaume_ecs::EcsService::new())
        .with_service(winterbaume_apprunner::AppRunnerService::new())
        .with_service(winterbaume_ecr::EcrService::new())
        .build();
    let config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(mock.http_client())
        .credentials_provider(mock.credentials_provider())
        .region(Region::new("us-east-1"))
        .load()
        .await;
    AwsCloud::new(&config)
}

fn tags() -> Tags {
    Tags::from([("rehearsal:run-id".to_string(), "tableicty-20251225".to_string())])
}

fn staging_spec(name: &str, source: ReleaseSource, host: HostSettings) -> ServiceSpec {
    ServiceSpec {
        name: name.into(),
        cpu: "1024".into(),
        memory: "2048".into(),
        port: 8000,
        source,
        health_check_path: "/api/v1/health/".into(),
        environment: BTreeMap::from([("IS_PRODUCTION".into(), "False".into())]),
        secrets: BTreeMap::from([(
            "DATABASE_URL".into(),
            format!("arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/tableicty/staging/DATABASE_URL"),
        )]),
        host,
    }
}

fn image() -> ReleaseSource {
    ReleaseSource::Image(ImageRelease {
        image: format!("{REGISTRY}/tableicty-backend@sha256:9a3c5e7f1b2d4f6a8c0e2b4d6f8a1c3e5b7d9f0a2c4e6b8d1f3a5c7e9b0d2f4a"),
        access_role_arn: None,
    })
}

fn ecs_settings(cluster: &str) -> HostSettings {
    HostSettings::EcsExpress(EcsExpressSettings {
        cluster: cluster.into(),
        subnets: vec!["subnet-0c1d2e3f4a5b60711".into()],
        security_groups: vec!["sg-0f1e2d3c4b5a69788".into()],
        execution_role_arn: format!("arn:aws:iam::{ACCOUNT}:role/rehearsal-staging-execution"),
        task_role_arn: Some(format!("arn:aws:iam::{ACCOUNT}:role/rehearsal-staging-task")),
        infrastructure_role_arn: format!("arn:aws:iam::{ACCOUNT}:role/ecsInfrastructureRoleForExpressServices"),
    })
}

#[tokio::test]
async fn ecs_express_services_are_created_described_and_deleted() {
    let cloud = emulated().await;
    cloud.ecs.create_cluster().cluster_name(CLUSTER).send().await.unwrap();
    let spec = staging_spec("tableicty-staging-backend", image(), ecs_settings(CLUSTER));

    let (created, operation) = cloud.create_service(&spec, &tags()).await.unwrap();
    assert_eq!(
        (created.name.as_str(), created.backend, created.host_status.as_str()),
        (spec.name.as_str(), ServiceBackend::EcsExpress, "ACTIVE")
    );
    assert_eq!(operation, created.arn, "the creation's operation is the service's first deployment");
    assert_eq!(created.tags, tags(), "CreateExpressGatewayService does not echo tags: the ones sent");

    let described = cloud.describe_service(&created.arn).await.unwrap().expect("described by its ARN");
    assert_eq!((described.arn.as_str(), described.name.as_str()), (created.arn.as_str(), spec.name.as_str()));
    // No deployment listed yet: still being created (winterbaume never lists one).
    assert_eq!(described.status, ServiceStatus::OperationInProgress);
    let first = cloud.describe_operation(&created.arn, &operation).await.unwrap().expect("the service exists");
    assert_eq!((first.status, first.kind.as_str()), (OperationStatus::Pending, "SERVICE_DEPLOYMENT"));

    let duplicate = cloud.create_service(&spec, &tags()).await.unwrap_err();
    assert_eq!((duplicate.kind, duplicate.code.as_str()), (CloudErrorKind::AlreadyExists, "InvalidParameterException"), "{duplicate}");
    let no_cluster = cloud.create_service(&staging_spec("other", image(), ecs_settings("missing")), &tags()).await.unwrap_err();
    assert_eq!((no_cluster.kind, no_cluster.code.as_str()), (CloudErrorKind::NotFound, "ClusterNotFoundException"), "{no_cluster}");

    // The adapter updates the container it reads back; winterbaume keeps none, so nothing is sent.
    let unreadable = cloud.update_service_image(&created.arn, "x").await.unwrap_err();
    assert_eq!((unreadable.kind, unreadable.code.as_str()), (CloudErrorKind::Fatal, "UnsupportedServiceConfiguration"), "{unreadable}");

    assert_eq!(cloud.delete_service(&created.arn).await.unwrap(), "DELETE_SERVICE");
    let again = cloud.delete_service(&created.arn).await.unwrap_err();
    assert!(again.message.contains("not found"), "the code and message are winterbaume's own: {again}");
    // Deleted, the name is free again in the cluster.
    cloud.create_service(&spec, &tags()).await.unwrap();
}

#[tokio::test]
async fn app_runner_services_from_code_and_from_an_image_are_created_found_tagged_and_deleted() {
    let cloud = emulated().await;
    let app_runner = HostSettings::AppRunner(AppRunnerSettings {
        vpc_connector_arn: format!("arn:aws:apprunner:us-east-1:{ACCOUNT}:vpcconnector/tableicty-vpc-connector/1/3a8e"),
        instance_role_arn: format!("arn:aws:iam::{ACCOUNT}:role/tableicty-apprunner-instance"),
    });
    let code = ReleaseSource::Code {
        repository: ServiceSource {
            repository_url: "https://github.com/tableicty/tableicty-backend".into(),
            branch: "main".into(),
            connection_arn: format!("arn:aws:apprunner:us-east-1:{ACCOUNT}:connection/tableicty-github/0c9f"),
        },
        build: CodeBuild {
            runtime: "PYTHON_311".into(),
            build_command: "pip install -r requirements.txt".into(),
            start_command: "./start.sh".into(),
        },
        auto_deployments: false,
    };
    let from_image = ReleaseSource::Image(ImageRelease {
        image: format!("{REGISTRY}/tableicty-backend@sha256:9a3c5e7f1b2d4f6a8c0e2b4d6f8a1c3e5b7d9f0a2c4e6b8d1f3a5c7e9b0d2f4a"),
        access_role_arn: Some(format!("arn:aws:iam::{ACCOUNT}:role/service-role/AppRunnerECRAccessRole")),
    });

    let (built, _) = cloud.create_service(&staging_spec("tableicty-staging-backend", code, app_runner.clone()), &tags()).await.unwrap();
    let (pulled, operation) =
        cloud.create_service(&staging_spec("tableicty-staging-image", from_image, app_runner), &tags()).await.unwrap();
    assert!(!operation.is_empty());
    assert_eq!((pulled.backend, pulled.status), (ServiceBackend::AppRunner, ServiceStatus::Running));

    // Tags applied with TagResource are listed back with the service.
    let tag = aws_sdk_apprunner::types::Tag::builder().key("team").value("tableicty").build();
    cloud.apprunner.tag_resource().resource_arn(&pulled.arn).tags(tag).send().await.unwrap();
    let found = cloud.find_service("tableicty-staging-image", &ServiceLocation::AppRunner).await.unwrap().expect("listed");
    assert_eq!((found.arn.as_str(), found.url.is_empty()), (pulled.arn.as_str(), false));
    assert_eq!(found.tags, Tags::from([("team".to_string(), "tableicty".to_string())]));

    assert!(!cloud.start_deployment(&built.arn).await.unwrap().is_empty());
    cloud.delete_service(&built.arn).await.unwrap();
    assert_eq!(cloud.find_service("tableicty-staging-backend", &ServiceLocation::AppRunner).await, Ok(None));
    assert!(cloud.find_service("tableicty-staging-image", &ServiceLocation::AppRunner).await.unwrap().is_some());
}

#[tokio::test]
async fn ecr_tags_and_digests_resolve_to_the_image_they_name_now() {
    let cloud = emulated().await;
    cloud.ecr.create_repository().repository_name("tableicty-backend").send().await.unwrap();
    let push = |manifest: &'static str, tag: &'static str| {
        let ecr = cloud.ecr.clone();
        async move {
            let out = ecr.put_image().repository_name("tableicty-backend").image_manifest(manifest).image_tag(tag).send().await.unwrap();
            out.image().and_then(|i| i.image_id()?.image_digest()).unwrap().to_string()
        }
    };
    let release_41 = push(r#"{"schemaVersion":2,"config":{"digest":"sha256:41"}}"#, "release-41").await;
    push(r#"{"schemaVersion":2,"config":{"digest":"sha256:41"}}"#, "stable").await;
    let name = |reference: &str| ImageName::parse(&format!("{REGISTRY}/tableicty-backend{reference}")).unwrap();

    let resolved = cloud.resolve_image(&name(":release-41")).await.unwrap().expect("the tag names an image");
    assert_eq!(resolved.digest, release_41);
    assert_eq!(resolved.pinned(), format!("{REGISTRY}/tableicty-backend@{release_41}"));
    let mut image_tags = resolved.tags.clone();
    image_tags.sort();
    assert_eq!(image_tags, ["release-41", "stable"]);
    assert!(resolved.pushed_at.is_some());

    // The tag moves to a new build; the digest still names the image it named.
    let rebuilt = push(r#"{"schemaVersion":2,"config":{"digest":"sha256:42"}}"#, "release-41").await;
    assert_ne!(rebuilt, release_41);
    assert_eq!(cloud.resolve_image(&name(":release-41")).await.unwrap().unwrap().digest, rebuilt);
    let pinned = cloud.resolve_image(&name(&format!("@{release_41}"))).await.unwrap().expect("the digest still names its image");
    assert_eq!((pinned.digest.as_str(), pinned.tags.as_slice()), (release_41.as_str(), ["stable".to_string()].as_slice()));

    assert_eq!(cloud.resolve_image(&name(":release-99")).await, Ok(None));
    let missing = ImageName::parse(&format!("{REGISTRY}/tableicty-frontend:v1")).unwrap();
    let error = cloud.resolve_image(&missing).await.unwrap_err();
    assert_eq!((error.kind, error.code.as_str()), (CloudErrorKind::NotFound, "RepositoryNotFoundException"), "{error}");
}
