//! EventBridge Scheduler: one-time schedules in groups. Like moto, schedules never fire; they
//! stay listed until deleted.

use crate::account::{Api, SimCloud};
use crate::seed::{ACCOUNT_ID, REGION};
use crate::world::{Ctx, Origin, World};
use rehearsal_core::cloud::{CloudResult, OneTimeSchedule, Scheduler};
use rehearsal_core::{CloudError, CloudErrorKind};

#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    pub schedule: OneTimeSchedule,
    pub origin: Origin,
}

fn api(action: &'static str) -> Api {
    Api { service: "scheduler", action }
}

fn validation(message: String) -> CloudError {
    CloudError::new(CloudErrorKind::Fatal, "ValidationException", message)
}

fn not_found(group: &str, name: &str) -> CloudError {
    CloudError::new(CloudErrorKind::NotFound, "ResourceNotFoundException", format!("Schedule {name} does not exist in group {group}."))
}

fn key(group: &str, name: &str) -> (String, String) {
    (group.to_string(), name.to_string())
}

impl World {
    /// What CreateSchedule and UpdateSchedule both validate.
    fn check_schedule(schedule: &OneTimeSchedule) -> CloudResult<()> {
        let name = &schedule.name;
        if name.is_empty() || name.len() > 64 || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            return Err(validation(format!("Schedule name {name:?} must be 1 to 64 letters, digits, '-', '_' or '.'.")));
        }
        if serde_json::from_str::<serde_json::Value>(&schedule.input).is_err() {
            return Err(validation("Input must be valid JSON for a Step Functions target.".into()));
        }
        if !schedule.target_arn.starts_with("arn:aws:") || !schedule.role_arn.starts_with(&format!("arn:aws:iam::{ACCOUNT_ID}:role/")) {
            return Err(validation("Target and RoleArn must be ARNs of this account.".into()));
        }
        Ok(())
    }

    fn create_schedule(&mut self, ctx: &Ctx, schedule: &OneTimeSchedule) -> CloudResult<()> {
        let (group, name) = (&schedule.group, &schedule.name);
        Self::check_schedule(schedule)?;
        if !self.schedule_groups.contains(group) {
            return Err(CloudError::new(
                CloudErrorKind::NotFound,
                "ResourceNotFoundException",
                format!("Schedule group {group} does not exist."),
            ));
        }
        if !self.schedules.contains_key(&key(group, name)) && self.plant_conflict(ctx, "CreateSchedule") {
            let foreign = OneTimeSchedule {
                target_arn: format!("arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:nightly-report"),
                input: "{}".into(),
                ..schedule.clone()
            };
            self.schedules.insert(key(group, name), Schedule { schedule: foreign, origin: Origin::Foreign });
            self.foreign(ctx, "schedule", &format!("{group}/{name}"));
        }
        if self.schedules.contains_key(&key(group, name)) {
            return Err(CloudError::new(CloudErrorKind::AlreadyExists, "ConflictException", format!("Schedule {name} already exists.")));
        }
        self.schedules.insert(key(group, name), Schedule { schedule: schedule.clone(), origin: Origin::Created });
        self.created(ctx, "schedule", &format!("{group}/{name}"));
        Ok(())
    }

    /// UpdateSchedule: the schedule must exist; it keeps its origin (whoever made it).
    fn update_schedule(&mut self, schedule: &OneTimeSchedule) -> CloudResult<()> {
        Self::check_schedule(schedule)?;
        let existing =
            self.schedules.get_mut(&key(&schedule.group, &schedule.name)).ok_or_else(|| not_found(&schedule.group, &schedule.name))?;
        existing.schedule = schedule.clone();
        Ok(())
    }

    fn delete_schedule(&mut self, ctx: &Ctx, group: &str, name: &str) -> CloudResult<()> {
        self.schedules.remove(&key(group, name)).ok_or_else(|| not_found(group, name))?;
        self.deleted(ctx, "schedule", &format!("{group}/{name}"));
        Ok(())
    }
}

impl Scheduler for SimCloud {
    async fn create_schedule(&self, schedule: &OneTimeSchedule) -> CloudResult<()> {
        self.aws(api("CreateSchedule"), |w, ctx| w.create_schedule(ctx, schedule))
    }

    async fn get_schedule(&self, group: &str, name: &str) -> CloudResult<Option<OneTimeSchedule>> {
        self.aws(api("GetSchedule"), |w, _| Ok(w.schedules.get(&key(group, name)).map(|s| s.schedule.clone())))
    }

    async fn update_schedule(&self, schedule: &OneTimeSchedule) -> CloudResult<()> {
        self.aws(api("UpdateSchedule"), |w, _| w.update_schedule(schedule))
    }

    async fn delete_schedule(&self, group: &str, name: &str) -> CloudResult<()> {
        self.aws(api("DeleteSchedule"), |w, ctx| w.delete_schedule(ctx, group, name))
    }
}
