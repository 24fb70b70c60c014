//! S3: buckets (names global: another account may hold one), objects with versions, listings
//! of at most 1000 keys per page, and the errors S3 answers (BucketAlreadyExists,
//! BucketAlreadyOwnedByYou, NoSuchBucket, BucketNotEmpty).

use crate::account::{Api, SimCloud};
use crate::seed::PRODUCTION_FRONTEND_BUCKET;
use crate::world::{Ctx, Origin, World};
use rehearsal_core::cloud::{BucketOwner, CloudResult, ObjectPage, ObjectStore, ObjectVersion, StoredObject, VersionPage};
use rehearsal_core::tags::Tags;
use rehearsal_core::{CloudError, CloudErrorKind};
use std::collections::BTreeMap;

/// S3's page size for ListObjectsV2 and ListObjectVersions.
pub const MAX_KEYS: usize = 1000;

#[derive(Debug, Clone)]
pub(crate) struct Version {
    /// `None`: the `null` version of an unversioned bucket.
    pub id: Option<String>,
    /// `None`: a delete marker.
    pub body: Option<Vec<u8>>,
    pub content_type: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    /// Held by another account: this account's calls are denied.
    pub foreign_account: bool,
    pub versioned: bool,
    pub tags: Tags,
    pub public_access_blocked: bool,
    pub encryption: Option<&'static str>,
    /// The bucket policy document, if one was put.
    pub policy: Option<String>,
    /// Key → versions, oldest first.
    pub objects: BTreeMap<String, Vec<Version>>,
    pub origin: Origin,
}

impl Bucket {
    pub fn new(origin: Origin, tags: Tags, versioned: bool) -> Self {
        // Since 2023 every new bucket has public access blocked and SSE-S3 by default.
        Self {
            foreign_account: origin == Origin::Foreign,
            versioned,
            tags,
            public_access_blocked: true,
            encryption: Some("AES256"),
            policy: None,
            objects: BTreeMap::new(),
            origin,
        }
    }

    fn current(&self, key: &str) -> Option<&Version> {
        self.objects.get(key)?.last().filter(|v| v.body.is_some())
    }

    fn version_count(&self) -> usize {
        self.objects.values().map(Vec::len).sum()
    }
}

fn api(action: &'static str) -> Api {
    Api { service: "s3", action }
}

fn error(kind: CloudErrorKind, code: &str, message: String) -> CloudError {
    CloudError::new(kind, code, message)
}

fn no_such_bucket(bucket: &str) -> CloudError {
    error(CloudErrorKind::NotFound, "NoSuchBucket", format!("The specified bucket does not exist: {bucket}"))
}

fn denied(bucket: &str) -> CloudError {
    error(CloudErrorKind::AccessDenied, "AccessDenied", format!("Access Denied: bucket {bucket} belongs to another account"))
}

/// An S3 ETag: the quoted hex MD5-like digest of the body (FNV here: only equality matters).
fn etag(body: &[u8]) -> String {
    format!("\"{:016x}\"", crate::ids::fnv1a(body))
}

impl World {
    fn bucket(&self, bucket: &str) -> CloudResult<&Bucket> {
        match self.buckets.get(bucket) {
            None => Err(no_such_bucket(bucket)),
            Some(b) if b.foreign_account => Err(denied(bucket)),
            Some(b) => Ok(b),
        }
    }

    fn bucket_mut(&mut self, ctx: &Ctx, bucket: &str, operation: &str) -> CloudResult<&mut Bucket> {
        if bucket == PRODUCTION_FRONTEND_BUCKET {
            self.production_write(ctx, format!("bucket {bucket}"), operation);
        }
        match self.buckets.get_mut(bucket) {
            None => Err(no_such_bucket(bucket)),
            Some(b) if b.foreign_account => Err(denied(bucket)),
            Some(b) => Ok(b),
        }
    }

    fn create_bucket(&mut self, ctx: &Ctx, bucket: &str, tags: &Tags) -> CloudResult<()> {
        if !self.buckets.contains_key(bucket) && self.plant_conflict(ctx, "CreateBucket") {
            self.buckets.insert(bucket.to_string(), Bucket::new(Origin::Foreign, Tags::new(), false));
            self.foreign(ctx, "bucket", bucket);
        }
        match self.buckets.get(bucket) {
            Some(b) if b.foreign_account => Err(error(
                CloudErrorKind::AlreadyExists,
                "BucketAlreadyExists",
                "The requested bucket name is not available. The bucket namespace is shared by all users of the system.".into(),
            )),
            Some(_) => Err(error(
                CloudErrorKind::AlreadyExists,
                "BucketAlreadyOwnedByYou",
                "Your previous request to create the named bucket succeeded and you already own it.".into(),
            )),
            None => {
                self.buckets.insert(bucket.to_string(), Bucket::new(Origin::Created, tags.clone(), false));
                self.created(ctx, "bucket", bucket);
                Ok(())
            }
        }
    }

    fn put_version(&mut self, ctx: &Ctx, bucket: &str, key: &str, body: Vec<u8>, content_type: String, operation: &str) -> CloudResult<()> {
        let id = self.ids.alphanumeric(32);
        let b = self.bucket_mut(ctx, bucket, operation)?;
        let versions = b.objects.entry(key.to_string()).or_default();
        let version = Version { id: b.versioned.then_some(id), body: Some(body), content_type };
        if b.versioned {
            versions.push(version);
        } else {
            *versions = vec![version];
        }
        Ok(())
    }

    fn copy_object(&mut self, ctx: &Ctx, from_bucket: &str, from_key: &str, bucket: &str, key: &str) -> CloudResult<()> {
        let source = self
            .bucket(from_bucket)?
            .current(from_key)
            .cloned()
            .ok_or_else(|| error(CloudErrorKind::NotFound, "NoSuchKey", format!("The specified key does not exist: {from_key}")))?;
        self.put_version(ctx, bucket, key, source.body.unwrap_or_default(), source.content_type, "CopyObject")
    }

    fn delete_versions(&mut self, ctx: &Ctx, bucket: &str, versions: &[ObjectVersion]) -> CloudResult<()> {
        if versions.len() > MAX_KEYS {
            return Err(error(CloudErrorKind::Fatal, "MalformedXML", format!("DeleteObjects takes at most {MAX_KEYS} keys")));
        }
        let b = self.bucket_mut(ctx, bucket, "DeleteObjects")?;
        for v in versions {
            if let Some(list) = b.objects.get_mut(&v.key) {
                list.retain(|existing| existing.id != v.version_id);
                if list.is_empty() {
                    b.objects.remove(&v.key);
                }
            }
        }
        Ok(())
    }

    fn delete_bucket(&mut self, ctx: &Ctx, bucket: &str) -> CloudResult<()> {
        let b = self.bucket_mut(ctx, bucket, "DeleteBucket")?;
        if b.version_count() > 0 {
            return Err(error(CloudErrorKind::InvalidState, "BucketNotEmpty", "The bucket you tried to delete is not empty".into()));
        }
        self.buckets.remove(bucket);
        self.deleted(ctx, "bucket", bucket);
        Ok(())
    }

    /// Puts objects into production's frontend bucket as its deployment pipeline would (not a
    /// session's call: nothing is recorded).
    pub(crate) fn seed_frontend_object(&mut self, key: &str, body: &[u8], content_type: &str) {
        let id = self.ids.alphanumeric(32);
        if let Some(b) = self.buckets.get_mut(PRODUCTION_FRONTEND_BUCKET) {
            let version = Version { id: b.versioned.then_some(id), body: Some(body.to_vec()), content_type: content_type.to_string() };
            b.objects.entry(key.to_string()).or_default().push(version);
        }
    }
}

fn list_page(b: &Bucket, prefix: &str, token: Option<&str>) -> ObjectPage {
    let after = token.unwrap_or_default();
    let mut objects = Vec::new();
    let mut next_token = None;
    for (key, versions) in b.objects.range(prefix.to_string()..) {
        if !key.starts_with(prefix) {
            break;
        }
        if token.is_some() && key.as_str() <= after {
            continue;
        }
        let Some(body) = versions.last().and_then(|v| v.body.as_ref()) else { continue };
        if objects.len() == MAX_KEYS {
            next_token = objects.last().map(|o: &StoredObject| o.key.clone());
            break;
        }
        objects.push(StoredObject { key: key.clone(), etag: etag(body), size: body.len() as u64 });
    }
    ObjectPage { objects, next_token }
}

fn version_page(b: &Bucket) -> VersionPage {
    // Newest first within a key, as S3 lists them.
    let mut versions: Vec<ObjectVersion> = b
        .objects
        .iter()
        .flat_map(|(key, versions)| versions.iter().rev().map(move |v| ObjectVersion { key: key.clone(), version_id: v.id.clone() }))
        .take(MAX_KEYS + 1)
        .collect();
    let truncated = versions.len() > MAX_KEYS;
    versions.truncate(MAX_KEYS);
    VersionPage { versions, truncated }
}

impl ObjectStore for SimCloud {
    async fn bucket_owner(&self, bucket: &str) -> CloudResult<BucketOwner> {
        self.aws(api("HeadBucket"), |w, _| {
            Ok(match w.buckets.get(bucket) {
                None => BucketOwner::Missing,
                Some(b) if b.foreign_account => BucketOwner::OtherAccount,
                Some(_) => BucketOwner::ThisAccount,
            })
        })
    }

    async fn create_bucket(&self, bucket: &str, tags: &Tags) -> CloudResult<()> {
        self.aws(api("CreateBucket"), |w, ctx| w.create_bucket(ctx, bucket, tags))
    }

    async fn bucket_tags(&self, bucket: &str) -> CloudResult<Tags> {
        self.aws(api("GetBucketTagging"), |w, _| Ok(w.bucket(bucket)?.tags.clone()))
    }

    async fn list_objects(&self, bucket: &str, prefix: &str, token: Option<&str>) -> CloudResult<ObjectPage> {
        self.aws(api("ListObjectsV2"), |w, _| Ok(list_page(w.bucket(bucket)?, prefix, token)))
    }

    async fn copy_object(&self, from_bucket: &str, from_key: &str, bucket: &str, key: &str) -> CloudResult<()> {
        self.aws(api("CopyObject"), |w, ctx| w.copy_object(ctx, from_bucket, from_key, bucket, key))
    }

    async fn get_object(&self, bucket: &str, key: &str) -> CloudResult<Option<Vec<u8>>> {
        self.aws(api("GetObject"), |w, _| Ok(w.bucket(bucket)?.current(key).and_then(|v| v.body.clone())))
    }

    async fn put_object(&self, bucket: &str, key: &str, body: Vec<u8>, content_type: &str) -> CloudResult<()> {
        self.aws(api("PutObject"), |w, ctx| w.put_version(ctx, bucket, key, body, content_type.to_string(), "PutObject"))
    }

    async fn list_object_versions(&self, bucket: &str) -> CloudResult<VersionPage> {
        self.aws(api("ListObjectVersions"), |w, _| Ok(version_page(w.bucket(bucket)?)))
    }

    async fn delete_object_versions(&self, bucket: &str, versions: &[ObjectVersion]) -> CloudResult<()> {
        self.aws(api("DeleteObjects"), |w, ctx| w.delete_versions(ctx, bucket, versions))
    }

    async fn delete_bucket(&self, bucket: &str) -> CloudResult<()> {
        self.aws(api("DeleteBucket"), |w, ctx| w.delete_bucket(ctx, bucket))
    }

    async fn put_bucket_policy(&self, bucket: &str, policy: &str) -> CloudResult<()> {
        self.aws(api("PutBucketPolicy"), |w, ctx| {
            if serde_json::from_str::<serde_json::Value>(policy).is_err() {
                return Err(error(CloudErrorKind::Fatal, "MalformedPolicy", "Policies must be valid JSON".into()));
            }
            w.bucket_mut(ctx, bucket, "PutBucketPolicy")?.policy = Some(policy.to_string());
            Ok(())
        })
    }
}
