//! S3: the staging frontend's bucket created, tagged, private and encrypted; production's bucket
//! listed and read; objects copied, written, and every version deleted with the bucket; the
//! bucket policy that lets the staging distribution read it.

use crate::error::{from_build, from_sdk};
use crate::AwsCloud;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, Delete, ObjectIdentifier, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, Tagging,
};
use rehearsal_core::cloud::{BucketOwner, CloudResult, ObjectPage, ObjectStore, ObjectVersion, StoredObject, VersionPage};
use rehearsal_core::tags::Tags;

fn sdk_tags(tags: &Tags) -> CloudResult<Vec<Tag>> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(from_build)).collect()
}

/// CopyObject's `x-amz-copy-source`: `bucket/key` with the key URL-encoded (keys may hold any
/// UTF-8), `/` kept.
fn copy_source(bucket: &str, key: &str) -> String {
    let mut encoded = String::with_capacity(key.len());
    for byte in key.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => encoded.push(char::from(byte)),
            other => encoded.push_str(&format!("%{other:02X}")),
        }
    }
    format!("{bucket}/{encoded}")
}

/// `null` is the version id S3 gives objects of a bucket that was never versioned.
fn version_id(id: Option<&str>) -> Option<String> {
    id.filter(|id| *id != "null").map(str::to_string)
}

impl ObjectStore for AwsCloud {
    async fn bucket_owner(&self, bucket: &str) -> CloudResult<BucketOwner> {
        match self.s3.head_bucket().bucket(bucket).send().await {
            Ok(_) => Ok(BucketOwner::ThisAccount),
            Err(e) => match e.raw_response().map(|r| r.status().as_u16()) {
                Some(404) => Ok(BucketOwner::Missing),
                // HeadBucket answers 403 without a body for a bucket of another account (or one
                // this role may not see): either way, not one to touch.
                Some(403) => Ok(BucketOwner::OtherAccount),
                _ => Err(from_sdk(e)),
            },
        }
    }

    async fn create_bucket(&self, bucket: &str, tags: &Tags) -> CloudResult<()> {
        let region = self.s3.config().region().map(|r| r.as_ref().to_string()).unwrap_or_default();
        let mut configuration = CreateBucketConfiguration::builder().set_tags(Some(sdk_tags(tags)?));
        // us-east-1 takes no location constraint (S3 refuses its name).
        if !region.is_empty() && region != "us-east-1" {
            configuration = configuration.location_constraint(BucketLocationConstraint::from(region.as_str()));
        }
        self.s3.create_bucket().bucket(bucket).create_bucket_configuration(configuration.build()).send().await.map_err(from_sdk)?;
        // us-east-1 answers 200 to a re-creation of a bucket the account owns: its tags are then
        // left as they are. An untagged one (an endpoint that ignores CreateBucketConfiguration.Tags)
        // gets the creation's tags.
        if self.bucket_tags(bucket).await?.is_empty() {
            let tagging = Tagging::builder().set_tag_set(Some(sdk_tags(tags)?)).build().map_err(from_build)?;
            self.s3.put_bucket_tagging().bucket(bucket).tagging(tagging).send().await.map_err(from_sdk)?;
        }
        let block = PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .ignore_public_acls(true)
            .block_public_policy(true)
            .restrict_public_buckets(true)
            .build();
        self.s3.put_public_access_block().bucket(bucket).public_access_block_configuration(block).send().await.map_err(from_sdk)?;
        let default = ServerSideEncryptionByDefault::builder().sse_algorithm(ServerSideEncryption::Aes256).build().map_err(from_build)?;
        let rule = ServerSideEncryptionRule::builder().apply_server_side_encryption_by_default(default).build();
        let encryption = ServerSideEncryptionConfiguration::builder().rules(rule).build().map_err(from_build)?;
        self.s3.put_bucket_encryption().bucket(bucket).server_side_encryption_configuration(encryption).send().await.map_err(from_sdk)?;
        Ok(())
    }

    async fn bucket_tags(&self, bucket: &str) -> CloudResult<Tags> {
        match self.s3.get_bucket_tagging().bucket(bucket).send().await.map_err(from_sdk) {
            Ok(out) => Ok(out.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect()),
            Err(e) if e.code == "NoSuchTagSet" => Ok(Tags::new()),
            Err(e) => Err(e),
        }
    }

    async fn list_objects(&self, bucket: &str, prefix: &str, token: Option<&str>) -> CloudResult<ObjectPage> {
        let out = self
            .s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token.map(str::to_string))
            .send()
            .await
            .map_err(from_sdk)?;
        let objects = out
            .contents()
            .iter()
            .map(|o| StoredObject {
                key: o.key().unwrap_or_default().to_string(),
                etag: o.e_tag().unwrap_or_default().to_string(),
                size: u64::try_from(o.size().unwrap_or_default()).unwrap_or_default(),
            })
            .collect();
        let next_token = out.next_continuation_token().filter(|_| out.is_truncated().unwrap_or(false)).map(str::to_string);
        Ok(ObjectPage { objects, next_token })
    }

    async fn copy_object(&self, from_bucket: &str, from_key: &str, bucket: &str, key: &str) -> CloudResult<()> {
        self.s3.copy_object().copy_source(copy_source(from_bucket, from_key)).bucket(bucket).key(key).send().await.map_err(from_sdk)?;
        Ok(())
    }

    async fn get_object(&self, bucket: &str, key: &str) -> CloudResult<Option<Vec<u8>>> {
        let out = match self.s3.get_object().bucket(bucket).key(key).send().await.map_err(from_sdk) {
            Ok(out) => out,
            Err(e) if e.code == "NoSuchKey" => return Ok(None),
            Err(e) => return Err(e),
        };
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| rehearsal_core::CloudError::new(rehearsal_core::CloudErrorKind::Unavailable, "ReadError", e.to_string()))?;
        Ok(Some(body.into_bytes().to_vec()))
    }

    async fn put_object(&self, bucket: &str, key: &str, body: Vec<u8>, content_type: &str) -> CloudResult<()> {
        self.s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(())
    }

    async fn list_object_versions(&self, bucket: &str) -> CloudResult<VersionPage> {
        let out = self.s3.list_object_versions().bucket(bucket).send().await.map_err(from_sdk)?;
        let versions = out.versions().iter().map(|v| (v.key(), v.version_id()));
        let markers = out.delete_markers().iter().map(|m| (m.key(), m.version_id()));
        let versions = versions
            .chain(markers)
            .map(|(key, id)| ObjectVersion { key: key.unwrap_or_default().to_string(), version_id: version_id(id) })
            .collect();
        Ok(VersionPage { versions, truncated: out.is_truncated().unwrap_or(false) })
    }

    async fn delete_object_versions(&self, bucket: &str, versions: &[ObjectVersion]) -> CloudResult<()> {
        let objects = versions
            .iter()
            .map(|v| {
                ObjectIdentifier::builder().key(&v.key).set_version_id(Some(v.version_id.clone().unwrap_or_else(|| "null".into()))).build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(from_build)?;
        let delete = Delete::builder().set_objects(Some(objects)).quiet(true).build().map_err(from_build)?;
        let out = self.s3.delete_objects().bucket(bucket).delete(delete).send().await.map_err(from_sdk)?;
        // DeleteObjects answers 200 with per-key errors.
        if let Some(e) = out.errors().first() {
            let code = e.code().unwrap_or("Unknown");
            let message = format!(
                "{} of {} keys not deleted, first {}: {}",
                out.errors().len(),
                versions.len(),
                e.key().unwrap_or_default(),
                e.message().unwrap_or_default()
            );
            return Err(rehearsal_core::CloudError::new(crate::error::classify(code, &message, None), code, message));
        }
        Ok(())
    }

    async fn delete_bucket(&self, bucket: &str) -> CloudResult<()> {
        self.s3.delete_bucket().bucket(bucket).send().await.map_err(from_sdk)?;
        Ok(())
    }

    async fn put_bucket_policy(&self, bucket: &str, policy: &str) -> CloudResult<()> {
        self.s3.put_bucket_policy().bucket(bucket).policy(policy).send().await.map_err(from_sdk)?;
        Ok(())
    }
}
