//! ECR in the simulated account (tags and digests, a tag that moves) and App Runner services
//! created from a pinned image.

use crate::common::*;
use rehearsal_core::cloud::{
    ContainerImages, ImageRelease, OperationStatus, ReleaseSource, ServiceHost, ServiceLocation::AppRunner, ServiceSpec, ServiceStatus,
};
use rehearsal_core::image::ImageName;
use rehearsal_core::CloudErrorKind;
use rehearsal_sim::seed::*;
use rehearsal_sim::{Fault, FaultKind};
use std::collections::BTreeMap;

fn name(reference: &str) -> ImageName {
    ImageName::parse(&format!("{ECR_REGISTRY}/{ECR_REPOSITORY}{reference}")).unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_tag_resolves_to_its_digest_until_it_moves_and_a_digest_names_one_image_forever() {
    let account = account();
    let ecr = account.session("plan_rehearsal");
    let release = ecr.resolve_image(&name(":release-42")).await.unwrap().expect("the release is pushed");
    assert_eq!(release.digest, RELEASE_IMAGE_DIGEST);
    assert_eq!(release.pinned(), format!("{ECR_REGISTRY}/{ECR_REPOSITORY}@{RELEASE_IMAGE_DIGEST}"));
    assert_eq!(release.tags, ["release-42", "latest"]);
    assert!(release.pushed_at.is_some_and(|t| t < start()));
    assert_eq!(ecr.resolve_image(&name(":release-41")).await.unwrap().unwrap().digest, PRODUCTION_IMAGE_DIGEST);

    // Someone pushes a new build under the release's tag after the plan resolved it.
    let rebuilt = account.push_image("release-42");
    assert_ne!(rebuilt, RELEASE_IMAGE_DIGEST);
    assert_eq!(account.image_digest("release-42").as_deref(), Some(rebuilt.as_str()));
    assert_eq!(ecr.resolve_image(&name(":release-42")).await.unwrap().unwrap().digest, rebuilt);
    let pinned = ecr.resolve_image(&name(&format!("@{RELEASE_IMAGE_DIGEST}"))).await.unwrap().expect("still in the repository");
    assert_eq!((pinned.digest.as_str(), pinned.tags.as_slice()), (RELEASE_IMAGE_DIGEST, ["latest".to_string()].as_slice()));

    assert_eq!(ecr.resolve_image(&name(":release-99")).await.unwrap(), None);
    for other in [
        format!("{ECR_REGISTRY}/tableicty-frontend:v1"),
        format!("210987654321.dkr.ecr.us-east-1.amazonaws.com/{ECR_REPOSITORY}:release-42"),
        format!("123456789012.dkr.ecr.eu-west-1.amazonaws.com/{ECR_REPOSITORY}:release-42"),
    ] {
        let e = ecr.resolve_image(&ImageName::parse(&other).unwrap()).await.unwrap_err();
        assert_eq!((e.kind, e.code.as_str()), (CloudErrorKind::NotFound, "RepositoryNotFoundException"), "{other}");
    }
    let calls = account.ledger().calls;
    assert!(calls.iter().all(|c| (c.service.as_str(), c.operation.as_str()) == ("ecr", "DescribeImages")), "read-only: {calls:?}");

    account.inject(Fault::new("throttled", FaultKind::Throttle));
    let e = account.session("throttled").resolve_image(&name(":release-42")).await.unwrap_err();
    assert_eq!((e.kind, e.code.as_str()), (CloudErrorKind::Throttled, "ThrottlingException"));
}

fn image_spec(secrets: BTreeMap<String, String>, image: String, access_role: Option<&str>) -> ServiceSpec {
    ServiceSpec { source: ReleaseSource::Image(ImageRelease { image, access_role_arn: access_role.map(String::from) }), ..spec(secrets) }
}

#[tokio::test(start_paused = true)]
async fn app_runner_runs_a_pinned_image_pulled_with_its_access_role() {
    let account = account();
    snapshot_and_restore(&account).await;
    let (secrets, _) = write_parameters(&account).await;
    let apprunner = account.session("create_staging_service");
    let release = format!("{ECR_REGISTRY}/{ECR_REPOSITORY}@{RELEASE_IMAGE_DIGEST}");
    let refused = apprunner.create_service(&image_spec(secrets.clone(), release.clone(), None), &tags()).await.unwrap_err();
    assert_eq!((refused.kind, refused.code.as_str()), (CloudErrorKind::Fatal, "InvalidRequestException"));
    assert!(refused.message.contains("AccessRoleArn"), "{refused}");

    let (info, operation) =
        apprunner.create_service(&image_spec(secrets, release.clone(), Some(ECR_ACCESS_ROLE_ARN)), &tags()).await.unwrap();
    assert_eq!((info.image_identifier.as_deref(), info.source.as_ref()), (Some(release.as_str()), None));
    minutes(6).await;
    assert_eq!(apprunner.describe_operation(&info.arn, &operation).await.unwrap().unwrap().status, OperationStatus::Succeeded);
    assert_eq!(apprunner.find_service(STAGING_SERVICE, &AppRunner).await.unwrap().unwrap().status, ServiceStatus::Running);
    assert_eq!(account.service_image(STAGING_SERVICE), Some(release));
    assert!(account.database_tables(STAGING_DB).unwrap().contains_key("core_tenant"), "the release's image migrated staging");
}

#[tokio::test(start_paused = true)]
async fn an_image_app_runner_cannot_pull_fails_the_creation() {
    let account = account();
    let apprunner = account.session("create_staging_service");
    let missing = format!("{ECR_REGISTRY}/{ECR_REPOSITORY}@sha256:{}", "0".repeat(64));
    let (info, operation) =
        apprunner.create_service(&image_spec(BTreeMap::new(), missing, Some(ECR_ACCESS_ROLE_ARN)), &tags()).await.unwrap();
    minutes(6).await;
    assert_eq!(apprunner.describe_operation(&info.arn, &operation).await.unwrap().unwrap().status, OperationStatus::Failed);
    assert_eq!(apprunner.describe_service(&info.arn).await.unwrap().unwrap().status, ServiceStatus::CreateFailed);
}
