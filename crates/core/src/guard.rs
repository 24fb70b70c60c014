//! The production guard. Every mutating call a staging step makes goes through it first; it
//! refuses anything that names a production resource, and any parameter write outside the
//! staging path. Promote and rollback of production have their own, explicit paths.

use crate::plan::RunPlan;
use crate::StepError;

pub struct StagingGuard<'a> {
    plan: &'a RunPlan,
}

impl<'a> StagingGuard<'a> {
    pub fn new(plan: &'a RunPlan) -> Self {
        Self { plan }
    }

    fn refuse(resource: &str, detail: &str) -> Result<(), StepError> {
        Err(StepError::ProductionWriteRefused { resource: resource.to_string(), detail: detail.to_string() })
    }

    /// A write to a DB instance or snapshot id.
    pub fn db_write(&self, id: &str) -> Result<(), StepError> {
        if id.eq_ignore_ascii_case(&self.plan.production.db_instance_id) {
            return Self::refuse(id, "it is the production database");
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

    /// A write to a service, by name or ARN.
    pub fn service_write(&self, name_or_arn: &str) -> Result<(), StepError> {
        let prod = &self.plan.production;
        if name_or_arn.eq_ignore_ascii_case(&prod.service_name) || name_or_arn == prod.service_arn {
            return Self::refuse(name_or_arn, "it is the production service");
        }
        Ok(())
    }
}
