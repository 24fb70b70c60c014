//! CloudFront: distributions whose every change (creation, disabling) is `InProgress` until it
//! reaches the edge, then `Deployed`; a distribution is deleted only once disabled and deployed
//! (`DistributionNotDisabled` otherwise). A CallerReference is used once: creating again with it
//! answers `DistributionAlreadyExists`, as AWS does. Origin access controls are not modelled
//! (the adapter creates and deletes each with its distribution). Faults apply as to every AWS call; `never-ready` leaves a change in progress forever.

use crate::account::{Api, SimCloud};
use crate::seed::ACCOUNT_ID;
use crate::world::{Ctx, Origin, Outcome, World};
use chrono::{DateTime, Utc};
use rehearsal_core::cloud::{CloudResult, Distribution, DistributionSpec, Distributions};
use rehearsal_core::tags::Tags;
use rehearsal_core::{CloudError, CloudErrorKind};

#[derive(Debug, Clone)]
pub(crate) struct SimDistribution {
    pub id: String,
    pub domain_name: String,
    pub comment: String,
    pub caller_reference: String,
    /// The S3 bucket it serves.
    pub bucket: String,
    pub enabled: bool,
    /// When the last change started reaching the edge; `None` once deleted.
    pub changed_at: Option<DateTime<Utc>>,
    /// How long that change takes; `None`: it never finishes (`never-ready`).
    pub deploy: Option<std::time::Duration>,
    pub tags: Tags,
    pub origin: Origin,
}

impl SimDistribution {
    pub fn arn(&self) -> String {
        format!("arn:aws:cloudfront::{ACCOUNT_ID}:distribution/{}", self.id)
    }

    pub fn deleted(&self) -> bool {
        self.changed_at.is_none()
    }

    pub fn status(&self, t: DateTime<Utc>) -> &'static str {
        match (self.changed_at, self.deploy) {
            (Some(at), Some(deploy)) if t >= at + deploy => "Deployed",
            _ => "InProgress",
        }
    }

    pub fn describe(&self, t: DateTime<Utc>) -> Distribution {
        Distribution {
            id: self.id.clone(),
            arn: self.arn(),
            domain_name: self.domain_name.clone(),
            status: self.status(t).to_string(),
            enabled: self.enabled,
            comment: self.comment.clone(),
        }
    }
}

fn api(action: &'static str) -> Api {
    Api { service: "cloudfront", action }
}

fn no_such_distribution(id: &str) -> CloudError {
    CloudError::new(CloudErrorKind::NotFound, "NoSuchDistribution", format!("The specified distribution does not exist: {id}"))
}

impl World {
    fn live_distribution(&mut self, id: &str) -> CloudResult<&mut SimDistribution> {
        self.distributions.iter_mut().find(|d| d.id == id && !d.deleted()).ok_or_else(|| no_such_distribution(id))
    }

    /// A new change of `distribution` starts propagating now (or never ends, by fault).
    fn change_starts(&mut self, ctx: &Ctx, operation: &str) -> Option<std::time::Duration> {
        match self.outcome(ctx, operation, false) {
            Outcome::Stall => None,
            _ => Some(self.config.distribution_deploy),
        }
    }

    fn create_distribution(&mut self, ctx: &Ctx, spec: &DistributionSpec, tags: &Tags) -> CloudResult<Distribution> {
        let unused = |w: &World| !w.distributions.iter().any(|d| !d.deleted() && d.caller_reference == spec.name);
        if unused(self) && self.plant_conflict(ctx, "CreateDistributionWithTags") {
            // Someone else's distribution under the run's name and reference.
            let deploy = Some(self.config.distribution_deploy);
            let foreign = self.new_distribution(spec, &format!("{}-elsewhere", spec.bucket), Tags::new(), Origin::Foreign, ctx.now, deploy);
            self.foreign(ctx, "distribution", &foreign.id);
            self.distributions.push(foreign);
        }
        if let Some(existing) = self.distributions.iter().find(|d| !d.deleted() && d.caller_reference == spec.name) {
            return Err(CloudError::new(
                CloudErrorKind::AlreadyExists,
                "DistributionAlreadyExists",
                format!("The caller reference {} is already associated with another distribution ({})", spec.name, existing.id),
            ));
        }
        let deploy = self.change_starts(ctx, "CreateDistributionWithTags");
        let created = self.new_distribution(spec, &spec.bucket, tags.clone(), Origin::Created, ctx.now, deploy);
        self.created(ctx, "distribution", &created.id);
        let described = created.describe(ctx.now);
        self.distributions.push(created);
        Ok(described)
    }

    fn new_distribution(
        &mut self,
        spec: &DistributionSpec,
        bucket: &str,
        tags: Tags,
        origin: Origin,
        now: DateTime<Utc>,
        deploy: Option<std::time::Duration>,
    ) -> SimDistribution {
        SimDistribution {
            id: format!("E{}", self.ids.alphanumeric(13).to_uppercase()),
            domain_name: format!("d{}.cloudfront.net", self.ids.alphanumeric(13)),
            comment: spec.name.clone(),
            caller_reference: spec.name.clone(),
            bucket: bucket.to_string(),
            enabled: true,
            changed_at: Some(now),
            deploy,
            tags,
            origin,
        }
    }

    fn disable_distribution(&mut self, ctx: &Ctx, id: &str) -> CloudResult<Distribution> {
        let enabled = self.live_distribution(id)?.enabled;
        if enabled {
            let deploy = self.change_starts(ctx, "UpdateDistribution");
            let d = self.live_distribution(id)?;
            d.enabled = false;
            d.changed_at = Some(ctx.now);
            d.deploy = deploy;
        }
        Ok(self.live_distribution(id)?.describe(ctx.now))
    }

    fn delete_distribution(&mut self, ctx: &Ctx, id: &str) -> CloudResult<()> {
        let d = self.live_distribution(id)?;
        if d.enabled || d.status(ctx.now) != "Deployed" {
            return Err(CloudError::new(
                CloudErrorKind::InvalidState,
                "DistributionNotDisabled",
                format!("The distribution {id} you are trying to delete has not been disabled and deployed"),
            ));
        }
        d.changed_at = None;
        self.deleted(ctx, "distribution", id);
        Ok(())
    }
}

impl Distributions for SimCloud {
    async fn find_distribution(&self, name: &str) -> CloudResult<Option<Distribution>> {
        self.aws(api("ListDistributions"), |w, ctx| {
            Ok(w.distributions.iter().find(|d| !d.deleted() && d.comment == name).map(|d| d.describe(ctx.now)))
        })
    }

    async fn describe_distribution(&self, id: &str) -> CloudResult<Option<Distribution>> {
        self.aws(api("GetDistribution"), |w, ctx| {
            Ok(w.distributions.iter().find(|d| d.id == id && !d.deleted()).map(|d| d.describe(ctx.now)))
        })
    }

    async fn create_distribution(&self, spec: &DistributionSpec, tags: &Tags) -> CloudResult<Distribution> {
        self.aws(api("CreateDistributionWithTags"), |w, ctx| w.create_distribution(ctx, spec, tags))
    }

    async fn distribution_tags(&self, arn: &str) -> CloudResult<Tags> {
        self.aws(api("ListTagsForResource"), |w, _| {
            w.distributions.iter().find(|d| d.arn() == arn && !d.deleted()).map(|d| d.tags.clone()).ok_or_else(|| no_such_distribution(arn))
        })
    }

    async fn disable_distribution(&self, id: &str) -> CloudResult<Distribution> {
        self.aws(api("UpdateDistribution"), |w, ctx| w.disable_distribution(ctx, id))
    }

    async fn delete_distribution(&self, id: &str) -> CloudResult<()> {
        self.aws(api("DeleteDistribution"), |w, ctx| w.delete_distribution(ctx, id))
    }
}
