//! The ECR adapter against `aws-smithy-mocks`, for what winterbaume (`tests/winterbaume.rs`)
//! cannot show: what DescribeImages is asked (the registry's account and region), throttling and
//! the other error answers, and answers it must not trust.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ecr::config::retry::RetryConfig;
use aws_sdk_ecr::operation::describe_images::DescribeImagesOutput;
use aws_sdk_ecr::primitives::DateTime;
use aws_sdk_ecr::types::ImageDetail;
use aws_sdk_ecr::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use rehearsal_aws::AwsCloud;
use rehearsal_core::cloud::ContainerImages;
use rehearsal_core::image::ImageName;
use rehearsal_core::CloudErrorKind;

const DIGEST: &str = "sha256:9a3c5e7f1b2d4f6a8c0e2b4d6f8a1c3e5b7d9f0a2c4e6b8d1f3a5c7e9b0d2f4a";

fn cloud(rules: &[&Rule]) -> AwsCloud {
    let config = SdkConfig::builder().behavior_version(BehaviorVersion::latest()).region(Region::new("us-east-1")).build();
    let mut cloud = AwsCloud::new(&config);
    cloud.ecr = mock_client!(aws_sdk_ecr, RuleMode::MatchAny, rules, |c| c.retry_config(RetryConfig::disabled()));
    cloud
}

fn error_body(code: &str, message: &str) -> Option<String> {
    Some(format!(r#"{{"__type":"com.amazonaws.ecr#{code}","message":"{message}"}}"#))
}

fn detail(digest: &str) -> ImageDetail {
    ImageDetail::builder()
        .registry_id("783790254091")
        .repository_name("tableicty/backend")
        .image_digest(digest)
        .image_tags("release-42")
        .image_pushed_at(DateTime::from_secs(1_766_566_800))
        .build()
}

#[tokio::test]
async fn describe_images_is_asked_for_the_named_image_in_the_registrys_account() {
    let tagged = mock!(Client::describe_images)
        .match_requests(|r| {
            let id = &r.image_ids()[0];
            r.registry_id() == Some("783790254091")
                && r.repository_name() == Some("tableicty/backend")
                && (id.image_tag(), id.image_digest()) == (Some("release-42"), None)
        })
        .then_output(|| DescribeImagesOutput::builder().image_details(detail(DIGEST)).build());
    let cloud = cloud(&[&tagged]);
    let image = ImageName::parse("783790254091.dkr.ecr.us-east-1.amazonaws.com/tableicty/backend:release-42").unwrap();

    let resolved = cloud.resolve_image(&image).await.unwrap().expect("resolved");
    assert_eq!(resolved.pinned(), format!("783790254091.dkr.ecr.us-east-1.amazonaws.com/tableicty/backend@{DIGEST}"));
    assert_eq!((resolved.tags, resolved.pushed_at.map(|t| t.timestamp())), (vec!["release-42".to_string()], Some(1_766_566_800)));
    assert_eq!(tagged.num_calls(), 1);

    // A repository in another region is asked through a client for that region, built with the
    // same settings (here, the mock).
    let elsewhere = ImageName::parse("783790254091.dkr.ecr.eu-west-1.amazonaws.com/tableicty/backend:release-42").unwrap();
    assert_eq!(cloud.resolve_image(&elsewhere).await.unwrap().unwrap().digest, DIGEST);
    assert_eq!(tagged.num_calls(), 2);
}

#[tokio::test]
async fn an_answer_for_another_digest_or_without_one_is_refused() {
    let other = "sha256:5d1e8a0c3f7b2946e1a8c0d5f3b7e2a9c4d6f8b0a1e3c5d7f9b2a4c6e8d0f1a3";
    let answers = mock!(Client::describe_images)
        .sequence()
        .output(move || DescribeImagesOutput::builder().image_details(detail(other)).build())
        .output(|| DescribeImagesOutput::builder().image_details(ImageDetail::builder().build()).build())
        .build();
    let cloud = cloud(&[&answers]);
    let pinned = ImageName::parse(&format!("783790254091.dkr.ecr.us-east-1.amazonaws.com/tableicty/backend@{DIGEST}")).unwrap();
    assert_eq!(cloud.resolve_image(&pinned).await.unwrap_err().code, "UnexpectedDigest");
    assert_eq!(cloud.resolve_image(&pinned).await.unwrap_err().code, "MissingInResponse");
}

#[tokio::test]
async fn error_answers_are_mapped_and_a_missing_image_is_none() {
    let image = ImageName::parse("783790254091.dkr.ecr.us-east-1.amazonaws.com/tableicty/backend:release-42").unwrap();
    let missing = mock!(Client::describe_images)
        .sequence()
        .http_status(400, error_body("ImageNotFoundException", "The image with imageId {imageTag:'release-42'} does not exist"))
        .build();
    assert_eq!(cloud(&[&missing]).resolve_image(&image).await, Ok(None));
    for (status, code, kind) in [
        (400, "ThrottlingException", CloudErrorKind::Throttled),
        (400, "RepositoryNotFoundException", CloudErrorKind::NotFound),
        (400, "AccessDeniedException", CloudErrorKind::AccessDenied),
        (500, "ServerException", CloudErrorKind::Unavailable),
        (400, "InvalidParameterException", CloudErrorKind::Fatal),
    ] {
        let rule = mock!(Client::describe_images).sequence().http_status(status, error_body(code, "explained")).build();
        let err = cloud(&[&rule]).resolve_image(&image).await.unwrap_err();
        assert_eq!((err.kind, err.code.as_str(), err.message.as_str()), (kind, code, "explained"), "HTTP {status} {code}");
    }
}
