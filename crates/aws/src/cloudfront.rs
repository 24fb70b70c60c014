//! CloudFront: the staging frontend's distribution, reading the private staging bucket through
//! an origin access control, found by its comment, disabled, then deleted with its origin
//! access control.

use crate::error::{absent_if_not_found, from_build, from_sdk, unsupported};
use crate::AwsCloud;
use aws_sdk_cloudfront::types::{
    DefaultCacheBehavior, DistributionConfig, DistributionConfigWithTags, DistributionSummary, HttpVersion, Origin,
    OriginAccessControlConfig, OriginAccessControlOriginTypes, OriginAccessControlSigningBehaviors, OriginAccessControlSigningProtocols,
    Origins, PriceClass, S3OriginConfig, Tag, ViewerProtocolPolicy,
};
use rehearsal_core::cloud::{CloudResult, Distribution, DistributionSpec, Distributions};
use rehearsal_core::tags::Tags;

/// The managed `CachingOptimized` cache policy: long TTLs, no cookies, headers or query strings
/// in the cache key, gzip and brotli (the frontend's hashed assets).
const CACHING_OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";

fn missing(what: &str) -> rehearsal_core::CloudError {
    unsupported("MissingInResponse", format!("CloudFront answered without {what}"))
}

fn from_distribution(d: &aws_sdk_cloudfront::types::Distribution) -> CloudResult<Distribution> {
    // Enabled and Comment live in the configuration; without it, `enabled` would be a guess.
    let config = d.distribution_config().ok_or_else(|| missing(&format!("the configuration of distribution {}", d.id())))?;
    Ok(Distribution {
        id: d.id().to_string(),
        arn: d.arn().to_string(),
        domain_name: d.domain_name().to_string(),
        status: d.status().to_string(),
        enabled: config.enabled(),
        comment: config.comment().to_string(),
    })
}

fn from_summary(s: &DistributionSummary) -> Distribution {
    Distribution {
        id: s.id().to_string(),
        arn: s.arn().to_string(),
        domain_name: s.domain_name().to_string(),
        status: s.status().to_string(),
        enabled: s.enabled(),
        comment: s.comment().to_string(),
    }
}

fn sdk_tags(tags: &Tags) -> CloudResult<aws_sdk_cloudfront::types::Tags> {
    let items = tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(from_build)).collect::<CloudResult<Vec<_>>>()?;
    Ok(aws_sdk_cloudfront::types::Tags::builder().set_items(Some(items)).build())
}

/// One private S3 origin through the origin access control, HTTPS only, `index.html` at the root.
fn distribution_config(spec: &DistributionSpec, oac_id: &str) -> CloudResult<DistributionConfig> {
    let origin = Origin::builder()
        .id(&spec.bucket)
        // The regional REST endpoint: OAC signs requests to it (the website endpoint is public-only).
        .domain_name(format!("{}.s3.{}.amazonaws.com", spec.bucket, spec.region))
        .origin_access_control_id(oac_id)
        // Empty: access is by the origin access control, not a legacy origin access identity.
        .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
        .build()
        .map_err(from_build)?;
    let behavior = DefaultCacheBehavior::builder()
        .target_origin_id(&spec.bucket)
        .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
        .cache_policy_id(CACHING_OPTIMIZED)
        // CachingOptimized keys on the encodings, but CloudFront compresses only when asked to.
        .compress(true)
        .build()
        .map_err(from_build)?;
    DistributionConfig::builder()
        .caller_reference(&spec.name)
        .comment(&spec.name)
        .origins(Origins::builder().quantity(1).items(origin).build().map_err(from_build)?)
        .default_cache_behavior(behavior)
        .default_root_object("index.html")
        .price_class(PriceClass::PriceClass100)
        .enabled(true)
        .http_version(HttpVersion::Http2)
        .build()
        .map_err(from_build)
}

impl AwsCloud {
    /// The id of the origin access control named `name` (ListOriginAccessControls, every page).
    async fn find_origin_access_control(&self, name: &str) -> CloudResult<Option<String>> {
        let mut marker: Option<String> = None;
        loop {
            let out = self.cloudfront.list_origin_access_controls().set_marker(marker.clone()).send().await.map_err(from_sdk)?;
            let Some(list) = out.origin_access_control_list() else { return Ok(None) };
            if let Some(found) = list.items().iter().find(|c| c.name() == name) {
                return Ok(Some(found.id().to_string()));
            }
            // A marker that does not move (moto ignores this one) would list the same page forever.
            match list.next_marker().filter(|m| list.is_truncated() && !m.is_empty() && marker.as_deref() != Some(*m)) {
                Some(next) => marker = Some(next.to_string()),
                None => return Ok(None),
            }
        }
    }

    /// The origin access control named `name`, adopted when a previous attempt created it.
    async fn origin_access_control(&self, name: &str, bucket: &str) -> CloudResult<String> {
        if let Some(id) = self.find_origin_access_control(name).await? {
            return Ok(id);
        }
        let config = OriginAccessControlConfig::builder()
            .name(name)
            .description(format!("Reads s3://{bucket} for the distribution {name}"))
            .origin_access_control_origin_type(OriginAccessControlOriginTypes::S3)
            // Every request signed: the bucket policy admits only this distribution.
            .signing_behavior(OriginAccessControlSigningBehaviors::Always)
            .signing_protocol(OriginAccessControlSigningProtocols::Sigv4)
            .build()
            .map_err(from_build)?;
        let out = self.cloudfront.create_origin_access_control().origin_access_control_config(config).send().await.map_err(from_sdk)?;
        Ok(out.origin_access_control().ok_or_else(|| missing("the created origin access control"))?.id().to_string())
    }
}

impl Distributions for AwsCloud {
    async fn find_distribution(&self, name: &str) -> CloudResult<Option<Distribution>> {
        let mut marker: Option<String> = None;
        loop {
            let out = self.cloudfront.list_distributions().set_marker(marker.clone()).send().await.map_err(from_sdk)?;
            let Some(list) = out.distribution_list() else { return Ok(None) };
            if let Some(found) = list.items().iter().find(|d| d.comment() == name) {
                return Ok(Some(from_summary(found)));
            }
            // A marker that does not move would list the same page forever.
            match list.next_marker().filter(|m| list.is_truncated() && !m.is_empty() && marker.as_deref() != Some(*m)) {
                Some(next) => marker = Some(next.to_string()),
                None => return Ok(None),
            }
        }
    }

    async fn describe_distribution(&self, id: &str) -> CloudResult<Option<Distribution>> {
        let out = self.cloudfront.get_distribution().id(id).send().await.map_err(from_sdk);
        let Some(out) = absent_if_not_found(out)? else { return Ok(None) };
        from_distribution(out.distribution().ok_or_else(|| missing(&format!("distribution {id}")))?).map(Some)
    }

    async fn create_distribution(&self, spec: &DistributionSpec, tags: &Tags) -> CloudResult<Distribution> {
        let oac_id = self.origin_access_control(&spec.name, &spec.bucket).await?;
        let with_tags =
            DistributionConfigWithTags::builder().distribution_config(distribution_config(spec, &oac_id)?).tags(sdk_tags(tags)?).build();
        let out =
            self.cloudfront.create_distribution_with_tags().distribution_config_with_tags(with_tags).send().await.map_err(from_sdk)?;
        from_distribution(out.distribution().ok_or_else(|| missing("the created distribution"))?)
    }

    async fn distribution_tags(&self, arn: &str) -> CloudResult<Tags> {
        let out = self.cloudfront.list_tags_for_resource().resource(arn).send().await.map_err(from_sdk)?;
        Ok(out
            .tags()
            .map(|t| t.items().iter().map(|t| (t.key().to_string(), t.value().unwrap_or_default().to_string())).collect())
            .unwrap_or_default())
    }

    async fn disable_distribution(&self, id: &str) -> CloudResult<Distribution> {
        let out = self.cloudfront.get_distribution_config().id(id).send().await.map_err(from_sdk)?;
        let etag = out.e_tag().ok_or_else(|| missing(&format!("the ETag of distribution {id}")))?;
        let mut config = out.distribution_config().ok_or_else(|| missing(&format!("the configuration of distribution {id}")))?.clone();
        if !config.enabled {
            // An update would start another deployment, delaying the delete by its propagation.
            return self.describe_distribution(id).await?.ok_or_else(|| missing(&format!("distribution {id}")));
        }
        // The whole configuration goes back: UpdateDistribution replaces every setting.
        config.enabled = false;
        let out = self.cloudfront.update_distribution().id(id).if_match(etag).distribution_config(config).send().await.map_err(from_sdk)?;
        from_distribution(out.distribution().ok_or_else(|| missing(&format!("the updated distribution {id}")))?)
    }

    async fn delete_distribution(&self, id: &str) -> CloudResult<()> {
        let out = self.cloudfront.get_distribution().id(id).send().await.map_err(from_sdk)?;
        let etag = out.e_tag().ok_or_else(|| missing(&format!("the ETag of distribution {id}")))?;
        let name = from_distribution(out.distribution().ok_or_else(|| missing(&format!("distribution {id}")))?)?.comment;
        self.cloudfront.delete_distribution().id(id).if_match(etag).send().await.map_err(from_sdk)?;
        let Some(oac_id) = self.find_origin_access_control(&name).await? else { return Ok(()) };
        // Its ETag: DeleteOriginAccessControl takes it as IfMatch.
        let Some(oac) = absent_if_not_found(self.cloudfront.get_origin_access_control().id(&oac_id).send().await.map_err(from_sdk))? else {
            return Ok(());
        };
        let etag = oac.e_tag().ok_or_else(|| missing(&format!("the ETag of origin access control {oac_id}")))?;
        let deleted = self.cloudfront.delete_origin_access_control().id(&oac_id).if_match(etag).send().await.map_err(from_sdk);
        // Gone in between (another attempt deleted it): what this call was to do.
        absent_if_not_found(deleted)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_names_the_distribution_and_reads_the_bucket_through_the_origin_access_control() {
        let spec =
            DistributionSpec { name: "tableicty-staging-20251225".into(), bucket: "tableicty-staging".into(), region: "eu-west-1".into() };
        let config = distribution_config(&spec, "E2QWRUHAPOMQZL").unwrap();
        assert_eq!((config.caller_reference(), config.comment()), (spec.name.as_str(), spec.name.as_str()));
        let origin = &config.origins().unwrap().items()[0];
        assert_eq!(origin.domain_name(), "tableicty-staging.s3.eu-west-1.amazonaws.com");
        assert_eq!(origin.origin_access_control_id(), Some("E2QWRUHAPOMQZL"));
        assert_eq!(origin.s3_origin_config().map(S3OriginConfig::origin_access_identity), Some(""));
        let behavior = config.default_cache_behavior().unwrap();
        assert_eq!(behavior.target_origin_id(), origin.id());
        assert_eq!(behavior.viewer_protocol_policy(), &ViewerProtocolPolicy::RedirectToHttps);
        assert_eq!(behavior.cache_policy_id(), Some(CACHING_OPTIMIZED));
        assert_eq!(config.default_root_object(), Some("index.html"));
        assert_eq!(
            (config.price_class(), config.enabled(), config.http_version()),
            (Some(&PriceClass::PriceClass100), true, Some(&HttpVersion::Http2))
        );
    }
}
