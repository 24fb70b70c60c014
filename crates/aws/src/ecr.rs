//! ECR as [`ContainerImages`]: what a tag or digest of a repository names now, read with
//! `DescribeImages` (read-only: nothing is pulled, pushed or tagged).

use crate::error::{from_sdk, unsupported};
use crate::AwsCloud;
use aws_sdk_ecr::config::Region;
use aws_sdk_ecr::types::ImageIdentifier;
use chrono::DateTime;
use rehearsal_core::cloud::{CloudResult, ContainerImage, ContainerImages};
use rehearsal_core::image::{ImageName, ImageReference};

impl AwsCloud {
    /// The ECR client for the registry's region (a repository may live in another region than
    /// the one the clients were built for).
    fn ecr_in(&self, region: &str) -> aws_sdk_ecr::Client {
        if self.ecr.config().region().is_some_and(|r| r.as_ref() == region) {
            return self.ecr.clone();
        }
        aws_sdk_ecr::Client::from_conf(self.ecr.config().to_builder().region(Region::new(region.to_string())).build())
    }
}

impl ContainerImages for AwsCloud {
    async fn resolve_image(&self, image: &ImageName) -> CloudResult<Option<ContainerImage>> {
        let id = match &image.reference {
            ImageReference::Tag(tag) => ImageIdentifier::builder().image_tag(tag).build(),
            ImageReference::Digest(digest) => ImageIdentifier::builder().image_digest(digest).build(),
        };
        let call = self
            .ecr_in(&image.region)
            .describe_images()
            .registry_id(&image.registry_id)
            .repository_name(&image.repository)
            .image_ids(id)
            .send()
            .await;
        let out = match call.map_err(from_sdk) {
            Err(e) if e.code == "ImageNotFoundException" => return Ok(None),
            other => other?,
        };
        let Some(detail) = out.image_details().first() else { return Ok(None) };
        let digest = detail
            .image_digest()
            .filter(|d| d.starts_with("sha256:"))
            .ok_or_else(|| unsupported("MissingInResponse", format!("DescribeImages answered no sha256 digest for {image}")))?;
        if let ImageReference::Digest(asked) = &image.reference {
            if asked != digest {
                return Err(unsupported("UnexpectedDigest", format!("DescribeImages answered {digest} for {image}")));
            }
        }
        Ok(Some(ContainerImage {
            repository_uri: image.repository_uri(),
            digest: digest.to_string(),
            tags: detail.image_tags().to_vec(),
            pushed_at: detail.image_pushed_at().and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos())),
        }))
    }
}
