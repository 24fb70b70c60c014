//! The runbook's third part of staging: the frontend. Production's build (the objects of its
//! bucket, or of a release prefix) is copied into a staging bucket the run creates (tagged,
//! public access blocked, SSE-S3 encrypted), and the frontend's runtime configuration object is
//! written there pointing at the staging backend. Production's bucket is only listed and read.
//!
//! The copy needs nothing but the plan, so it runs beside the database restore; the configuration
//! needs the staging service's URL, so it is written once the service runs. Neither lengthens
//! the run (`rehearsal bench critical-path`).
//!
//! With `frontend.serving: cloudfront` the bucket is served by a distribution the run creates
//! (origin access control, the bucket's policy letting only that distribution read). Its domain
//! is known as soon as CreateDistribution answers, so it is staging's FRONTEND_URL before the
//! service exists: the service starts with every variable, and no second deployment is needed.
//!
//! Steps: `copy_staging_frontend` (staging.asl.json `CopyStagingFrontend`, looped by
//! `IsFrontendCopied` while pages are left), `serve_staging_frontend` (`ServeStagingFrontend`),
//! `check_staging_frontend` (`CheckStagingFrontend`, until the distribution is deployed) and
//! `configure_staging_frontend` (`ConfigureStagingFrontend`). Rollback and teardown disable and
//! delete the distribution, empty and delete the bucket (`rollback::remove_staging`). Tests:
//! tests/steps/staging_frontend.rs; end to end,
//! tests/staging_pipeline.rs `happy_path_builds_staging_and_passes_every_check`,
//! `every_fault_in_every_mutating_step_ends_in_success_or_a_clean_rollback`.

use super::staging_parameters::{kind_of, WrittenParameters};
use super::{adopt_or_refuse, write_owned_parameter, Deadline, PlanOnly};
use crate::cloud::{BucketOwner, Clock, Distribution, DistributionSpec, Distributions, ObjectStore, ParameterStore};
use crate::error::CloudResultExt;
use crate::guard::StagingGuard;
use crate::phase::{Phase, DISTRIBUTION};
use crate::plan::{RunPlan, FRONTEND_URL};
use crate::run::FrontendServing;
use crate::secret::Secret;
use crate::{CloudErrorKind, StepError};
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

/// Copies in flight at once: S3 takes thousands per second per prefix; a Lambda's sockets fewer.
pub const COPY_CONCURRENCY: usize = 16;
/// Listing pages (up to 1000 keys each) one invocation copies before handing back to the loop,
/// well inside a Lambda's 15 minutes.
pub const PAGES_PER_INVOCATION: u32 = 5;

/// `$.frontend` in the state: how far the copy is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrontendCopy {
    pub bucket: String,
    /// Objects copied so far (the configuration object is not copied: it is written by
    /// `configure_staging_frontend`).
    pub copied: u64,
    /// The ListObjectsV2 token of the next production page; `None` once `done`.
    pub next_token: Option<String>,
    /// What the definition's `IsFrontendCopied` Choice tests.
    pub done: bool,
    /// The bucket existed already, created by this run (a retry or re-run adopted it).
    pub reused: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopyInput {
    pub plan: RunPlan,
    /// The previous invocation's progress; absent on the first.
    #[serde(default)]
    pub frontend: Option<FrontendCopy>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigureInput {
    pub plan: RunPlan,
    /// The staging service's host name, without scheme.
    pub service_url: String,
}

/// `$.frontend_config`: where the configuration was written and what it now points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrontendConfigured {
    pub bucket: String,
    pub config_key: String,
    pub api_url: String,
}

/// Creates the staging bucket tagged, or adopts one this run created; refuses a name another
/// account or anyone but this run holds. Answers whether it existed.
async fn ensure_staging_bucket<C: ObjectStore + Sync>(cloud: &C, plan: &RunPlan) -> Result<bool, StepError> {
    let bucket = &plan.frontend.staging_bucket;
    let refuse_foreign =
        || StepError::ResourceNotOwned { resource: format!("bucket {bucket}"), detail: "another AWS account owns this bucket name".into() };
    let existed = match cloud.bucket_owner(bucket).await.op("HeadBucket")? {
        BucketOwner::OtherAccount => return Err(refuse_foreign()),
        BucketOwner::ThisAccount => true,
        BucketOwner::Missing => match cloud.create_bucket(bucket, &plan.tags.to_tags()).await {
            Ok(()) => false,
            // Taken between our look and our create: by whom decides.
            Err(e) if e.is(CloudErrorKind::AlreadyExists) && e.code == "BucketAlreadyOwnedByYou" => true,
            Err(e) if e.is(CloudErrorKind::AlreadyExists) => return Err(refuse_foreign()),
            Err(e) => return Err(StepError::from_cloud("CreateBucket", e)),
        },
    };
    // Even after a creation: in us-east-1 S3 answers 200 to re-creating a bucket the account owns.
    let tags = match cloud.bucket_tags(bucket).await {
        // Bucket configurations are eventually consistent: the retry sees it.
        Err(e) if e.is(CloudErrorKind::NotFound) => return Err(not_visible_yet("GetBucketTagging", e)),
        other => other.op("GetBucketTagging")?,
    };
    adopt_or_refuse(&plan.tags, &format!("bucket {bucket}"), &tags)?;
    Ok(existed)
}

pub async fn copy_staging_frontend<C: ObjectStore + Sync>(cloud: &C, input: CopyInput) -> Result<FrontendCopy, StepError> {
    let plan = &input.plan;
    let frontend = &plan.frontend;
    StagingGuard::new(plan).bucket_write(&frontend.staging_bucket)?;
    let mut progress = match input.frontend {
        Some(previous) if previous.done => return Ok(previous),
        Some(previous) => previous,
        None => {
            let reused = ensure_staging_bucket(cloud, plan).await?;
            FrontendCopy { bucket: frontend.staging_bucket.clone(), reused, ..FrontendCopy::default() }
        }
    };
    if progress.bucket != frontend.staging_bucket {
        return Err(StepError::invalid("frontend.bucket", format!("{:?} is not the plan's staging bucket", progress.bucket)));
    }
    let config = format!("{}{}", frontend.release_prefix, frontend.config_key);
    for _ in 0..PAGES_PER_INVOCATION {
        let page = match cloud.list_objects(&frontend.production_bucket, &frontend.release_prefix, progress.next_token.as_deref()).await {
            Err(e) if e.is(CloudErrorKind::NotFound) => {
                return Err(StepError::ProductionNotReady(format!(
                    "production frontend bucket {} does not exist",
                    frontend.production_bucket
                )))
            }
            other => other.op("ListObjectsV2")?,
        };
        // A re-run copies again: CopyObject overwrites with the same bytes, so the result is the same.
        let keys: Vec<String> = page.objects.into_iter().map(|o| o.key).filter(|k| *k != config && !k.ends_with('/')).collect();
        let copied = keys.len() as u64;
        stream::iter(keys.into_iter().map(|key| async move {
            let staged = &key[frontend.release_prefix.len()..];
            cloud.copy_object(&frontend.production_bucket, &key, &frontend.staging_bucket, staged).await.op("CopyObject")
        }))
        .buffer_unordered(COPY_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
        progress.copied += copied;
        progress.next_token = page.next_token;
        if progress.next_token.is_none() {
            progress.done = true;
            break;
        }
    }
    tracing::info!(copied = progress.copied, done = progress.done, "staging frontend copied");
    Ok(progress)
}

/// Production's configuration with its API URL field pointed at the staging backend.
fn staging_config(production: &[u8], field: &str, api_url: &str, key: &str) -> Result<Vec<u8>, StepError> {
    let mut config: serde_json::Value = serde_json::from_slice(production)
        .map_err(|e| StepError::ProductionNotReady(format!("production's frontend configuration {key} is not JSON: {e}")))?;
    match config.get_mut(field) {
        Some(value @ serde_json::Value::String(_)) => *value = serde_json::Value::String(api_url.to_string()),
        _ => {
            return Err(StepError::ProductionNotReady(format!(
                "production's frontend configuration {key} has no string field {field:?} (frontend.api_url_field)"
            )))
        }
    }
    serde_json::to_vec_pretty(&config).map_err(|e| StepError::MalformedInput(format!("configuration could not be encoded: {e}")))
}

/// A resource just made (or just found) that a read does not show yet: AWS's reads lag its
/// writes, so the state machine's retry looks again.
fn not_visible_yet(operation: &str, source: crate::CloudError) -> StepError {
    StepError::Transient { operation: operation.into(), source }
}

/// The staging bucket, which only this run may have created: written to only then.
async fn this_runs_bucket<C: ObjectStore + Sync>(cloud: &C, plan: &RunPlan) -> Result<(), StepError> {
    let bucket = &plan.frontend.staging_bucket;
    match cloud.bucket_owner(bucket).await.op("HeadBucket")? {
        BucketOwner::ThisAccount => {
            adopt_or_refuse(&plan.tags, &format!("bucket {bucket}"), &cloud.bucket_tags(bucket).await.op("GetBucketTagging")?)
        }
        BucketOwner::Missing => Err(StepError::CheckFailed(format!("staging frontend bucket {bucket} does not exist"))),
        BucketOwner::OtherAccount => Err(StepError::ResourceNotOwned {
            resource: format!("bucket {bucket}"),
            detail: "another AWS account owns this bucket name".into(),
        }),
    }
}

/// `$.served`: the distribution serving the staging frontend.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrontendServed {
    pub distribution_id: String,
    pub distribution_arn: String,
    /// `https://d….cloudfront.net`: staging's FRONTEND_URL.
    pub url: String,
    /// `InProgress` until the distribution reaches every edge location, then `Deployed`.
    pub status: String,
    /// What the wait loop tests ([`DISTRIBUTION`]); every check computes it anew.
    #[serde(default)]
    pub phase: Phase,
    /// The distribution existed already, created by this run (a retry or re-run adopted it).
    pub reused: bool,
    #[serde(flatten)]
    pub wait: Deadline,
    /// FRONTEND_URL's ARN, for the service's references.
    #[serde(flatten)]
    pub parameters: WrittenParameters,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckServedInput {
    pub plan: RunPlan,
    pub served: FrontendServed,
}

/// Lets only `distribution_arn` read the bucket's objects (origin access control): the bucket
/// stays private, public access blocked.
fn origin_access_policy(bucket: &str, distribution_arn: &str) -> String {
    let partition = distribution_arn.split(':').nth(1).unwrap_or("aws");
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "StagingFrontendDistributionReadsObjects",
            "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject",
            "Resource": format!("arn:{partition}:s3:::{bucket}/*"),
            "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}}
        }]
    })
    .to_string()
}

fn served_phase(distribution: &Distribution) -> Phase {
    // Disabled means someone is removing it: it will not serve staging again.
    if distribution.enabled {
        DISTRIBUTION.of(&distribution.status)
    } else {
        Phase::Failed
    }
}

/// Creates (or adopts) the run's distribution in front of the staging bucket, lets it read the
/// bucket, and writes its URL as staging's FRONTEND_URL.
pub async fn serve_staging_frontend<C: ObjectStore + Distributions + ParameterStore + Clock + Sync>(
    cloud: &C,
    input: PlanOnly,
) -> Result<FrontendServed, StepError> {
    let plan = &input.plan;
    let bucket = &plan.frontend.staging_bucket;
    StagingGuard::new(plan).bucket_write(bucket)?;
    if plan.frontend.serving != FrontendServing::Cloudfront {
        return Err(StepError::invalid("frontend.serving", "the staging frontend is served by CloudFront only with serving: cloudfront"));
    }
    this_runs_bucket(cloud, plan).await?;
    let name = plan.distribution_name();
    let (distribution, reused) = match cloud.find_distribution(&name).await.op("ListDistributions")? {
        Some(found) => (found, true),
        None => {
            // Staging lives in production's region; the plan names it only in ARNs.
            let region = plan.production.service_arn.split(':').nth(3).filter(|r| !r.is_empty()).ok_or_else(|| {
                StepError::invalid("production.service_arn", format!("{:?} names no region", plan.production.service_arn))
            })?;
            let spec = DistributionSpec { name: name.clone(), bucket: bucket.clone(), region: region.to_string() };
            match cloud.create_distribution(&spec, &plan.tags.to_tags()).await {
                Ok(created) => (created, false),
                // Made meanwhile (its tags tell whether by this run: a concurrent delivery, or an
                // attempt whose answer was lost). A CallerReference is the account's own, so a
                // distribution holding it that the listing does not show yet will show.
                Err(e) if e.is(CloudErrorKind::AlreadyExists) => match cloud.find_distribution(&name).await.op("ListDistributions")? {
                    Some(found) => (found, true),
                    None => return Err(not_visible_yet("ListDistributions", e)),
                },
                Err(e) => return Err(StepError::from_cloud("CreateDistributionWithTags", e)),
            }
        }
    };
    let resource = format!("distribution {} ({name})", distribution.id);
    let tags = match cloud.distribution_tags(&distribution.arn).await {
        Err(e) if e.is(CloudErrorKind::NotFound) => return Err(not_visible_yet("ListTagsForResource", e)),
        other => other.op("ListTagsForResource")?,
    };
    adopt_or_refuse(&plan.tags, &resource, &tags)?;
    cloud.put_bucket_policy(bucket, &origin_access_policy(bucket, &distribution.arn)).await.op("PutBucketPolicy")?;
    let url = format!("https://{}", distribution.domain_name);
    let arn = write_owned_parameter(cloud, plan, FRONTEND_URL, &Secret::new(url.clone()), kind_of(FRONTEND_URL)).await?;
    tracing::info!(distribution = %distribution.id, url = %url, reused, "staging frontend served");
    Ok(FrontendServed {
        distribution_id: distribution.id.clone(),
        distribution_arn: distribution.arn.clone(),
        url,
        phase: served_phase(&distribution),
        status: distribution.status,
        reused,
        wait: Deadline::start(cloud.now(), plan.timeouts.service_minutes),
        parameters: WrittenParameters { arns: [(FRONTEND_URL.to_string(), arn)].into() },
    })
}

/// Looks once at the distribution: deployed, still propagating, or gone.
pub async fn check_staging_frontend<C: Distributions + Clock + Sync>(
    cloud: &C,
    input: CheckServedInput,
) -> Result<FrontendServed, StepError> {
    let served = input.served;
    let (status, phase) = match cloud.describe_distribution(&served.distribution_id).await.op("GetDistribution")? {
        None => ("deleted".to_string(), Phase::Gone),
        Some(d) => (d.status.clone(), served_phase(&d)),
    };
    Ok(FrontendServed { status, phase, wait: Deadline::check(served.wait.deadline, cloud.now()), ..served })
}

pub async fn configure_staging_frontend<C: ObjectStore + Sync>(cloud: &C, input: ConfigureInput) -> Result<FrontendConfigured, StepError> {
    let plan = &input.plan;
    let frontend = &plan.frontend;
    let bucket = &frontend.staging_bucket;
    StagingGuard::new(plan).bucket_write(bucket)?;
    if input.service_url.is_empty() || input.service_url.contains('/') {
        return Err(StepError::invalid("service_url", format!("{:?} is not a host name", input.service_url)));
    }
    this_runs_bucket(cloud, plan).await?;
    let source = format!("{}{}", frontend.release_prefix, frontend.config_key);
    let production = cloud.get_object(&frontend.production_bucket, &source).await.op("GetObject")?.ok_or_else(|| {
        StepError::ProductionNotReady(format!(
            "production's frontend configuration s3://{}/{source} does not exist",
            frontend.production_bucket
        ))
    })?;
    let api_url = format!("https://{}", input.service_url);
    let body = staging_config(&production, &frontend.api_url_field, &api_url, &source)?;
    cloud.put_object(bucket, &frontend.config_key, body, "application/json").await.op("PutObject")?;
    tracing::info!(bucket = %bucket, key = %frontend.config_key, "staging frontend configured");
    Ok(FrontendConfigured { bucket: bucket.clone(), config_key: frontend.config_key.clone(), api_url })
}
