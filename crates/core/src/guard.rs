//! The guards. Every mutating call a staging step makes goes through [`StagingGuard`] first; it
//! refuses anything that names a production resource, and any parameter write outside the
//! staging path. Only the promote and production-rollback handlers hold a [`ProductionGuard`],
//! the one capability that admits production, and only production's own resources.

use crate::plan::{RunPlan, BACKFILL_TOKEN};
use crate::promotion::Promotion;
use crate::StepError;

pub struct StagingGuard<'a> {
    plan: &'a RunPlan,
}

impl<'a> StagingGuard<'a> {
    pub fn new(plan: &'a RunPlan) -> Self {
        Self { plan }
    }

    fn refuse(resource: &str, detail: &str) -> Result<(), StepError> {
        refuse(resource, detail)
    }

    /// The plan itself must keep staging and production apart: a plan whose staging names are
    /// production's (a forged or corrupted teardown request) is refused before any call.
    pub fn plan_is_safe(&self) -> Result<(), StepError> {
        let (plan, prod) = (self.plan, &self.plan.production);
        self.db_write(&plan.staging_db.instance_id)?;
        if let Some(cluster) = &plan.staging_db.cluster {
            self.cluster_write(&cluster.cluster_id)?;
        }
        self.service_write(&plan.service.name)?;
        self.bucket_write(&plan.frontend.staging_bucket)?;
        if crate::naming::path_is_within(&plan.staging_parameter_path, &prod.parameter_path)
            || crate::naming::path_is_within(&prod.parameter_path, &plan.staging_parameter_path)
        {
            return Self::refuse(&plan.staging_parameter_path, "the staging parameter path overlaps the production path");
        }
        Ok(())
    }

    /// A write to a DB instance or snapshot id.
    pub fn db_write(&self, id: &str) -> Result<(), StepError> {
        if id.eq_ignore_ascii_case(&self.plan.production.db_instance_id) {
            return Self::refuse(id, "it is the production database");
        }
        Ok(())
    }

    /// A write to a DB cluster: never production's.
    pub fn cluster_write(&self, id: &str) -> Result<(), StepError> {
        if self.plan.production.db_cluster_id.as_deref().is_some_and(|prod| id.eq_ignore_ascii_case(prod)) {
            return Self::refuse(id, "it is the production database's cluster");
        }
        Ok(())
    }

    /// A write to a parameter: only names under the staging path are allowed.
    pub fn parameter_write(&self, name: &str) -> Result<(), StepError> {
        if crate::naming::path_is_within(name, &self.plan.production.parameter_path) {
            return Self::refuse(name, "it is under the production parameter path");
        }
        if !name.starts_with(&self.plan.staging_parameter_path) {
            return Self::refuse(name, "a staging run writes only under the staging parameter path");
        }
        Ok(())
    }

    /// A write to an S3 bucket or its objects: never production's frontend bucket.
    pub fn bucket_write(&self, bucket: &str) -> Result<(), StepError> {
        if bucket == self.plan.frontend.production_bucket {
            return Self::refuse(bucket, "it is the production frontend bucket");
        }
        Ok(())
    }

    /// A write to a service, by name or ARN.
    pub fn service_write(&self, name_or_arn: &str) -> Result<(), StepError> {
        let prod = &self.plan.production;
        if name_or_arn.eq_ignore_ascii_case(&prod.service_name) || name_or_arn == prod.service_arn {
            return Self::refuse(name_or_arn, "it is the production service");
        }
        Ok(())
    }
}

fn refuse(resource: &str, detail: &str) -> Result<(), StepError> {
    Err(StepError::ProductionWriteRefused { resource: resource.to_string(), detail: detail.to_string() })
}

/// What a promotion may write: production's database under its own name and the two names a
/// rollback moves it through, production's service, and its one-time backfill token. Anything
/// else (staging included) is refused, so a promote handler cannot wander either.
pub struct ProductionGuard<'a> {
    promotion: &'a Promotion,
}

impl<'a> ProductionGuard<'a> {
    pub fn new(promotion: &'a Promotion) -> Self {
        Self { promotion }
    }

    pub fn db_write(&self, id: &str) -> Result<(), StepError> {
        let p = self.promotion;
        if [&p.plan.production.db_instance_id, &p.restored_db_id, &p.damaged_db_id].iter().any(|allowed| id.eq_ignore_ascii_case(allowed)) {
            return Ok(());
        }
        refuse(id, "a promotion writes only production's database and its rollback copies")
    }

    pub fn service_write(&self, arn: &str) -> Result<(), StepError> {
        if arn == self.promotion.plan.production.service_arn {
            return Ok(());
        }
        refuse(arn, "a promotion deploys only the production service it planned")
    }

    pub fn parameter_write(&self, name: &str) -> Result<(), StepError> {
        if name == self.promotion.plan.production_parameter(BACKFILL_TOKEN) {
            return Ok(());
        }
        refuse(name, "a promotion writes only production's one-time backfill token")
    }
}
