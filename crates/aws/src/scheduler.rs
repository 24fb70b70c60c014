//! EventBridge Scheduler: the one-time schedule that tears a rehearsal down when its TTL ends.

use crate::error::{absent_if_not_found, from_build, from_sdk, unsupported};
use crate::AwsCloud;
use aws_sdk_scheduler::types::{ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, ScheduleState, Target};
use chrono::{DateTime, NaiveDateTime, Utc};
use rehearsal_core::cloud::{CloudResult, OneTimeSchedule, Scheduler};

const AT_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

/// `at(yyyy-mm-ddThh:mm:ss)`: one-time schedules take whole seconds, no zone suffix.
fn at_expression(at: DateTime<Utc>) -> String {
    format!("at({})", at.format(AT_FORMAT))
}

fn parse_at(expression: &str) -> Option<DateTime<Utc>> {
    let inner = expression.strip_prefix("at(")?.strip_suffix(')')?;
    Some(NaiveDateTime::parse_from_str(inner, AT_FORMAT).ok()?.and_utc())
}

/// A one-time schedule's settings on a CreateSchedule or UpdateSchedule builder (UpdateSchedule
/// replaces every setting, so both name them all).
macro_rules! one_time {
    ($builder:expr, $schedule:expr) => {{
        let schedule: &OneTimeSchedule = $schedule;
        let target =
            Target::builder().arn(&schedule.target_arn).role_arn(&schedule.role_arn).input(&schedule.input).build().map_err(from_build)?;
        $builder
            .name(&schedule.name)
            .group_name(&schedule.group)
            .schedule_expression(at_expression(schedule.at))
            .schedule_expression_timezone("UTC")
            .flexible_time_window(FlexibleTimeWindow::builder().mode(FlexibleTimeWindowMode::Off).build().map_err(from_build)?)
            // The schedule removes itself once it has fired; nothing is left to clean up.
            .action_after_completion(ActionAfterCompletion::Delete)
            .state(ScheduleState::Enabled)
            .target(target)
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(())
    }};
}

impl Scheduler for AwsCloud {
    async fn create_schedule(&self, schedule: &OneTimeSchedule) -> CloudResult<()> {
        one_time!(self.scheduler.create_schedule(), schedule)
    }

    async fn update_schedule(&self, schedule: &OneTimeSchedule) -> CloudResult<()> {
        one_time!(self.scheduler.update_schedule(), schedule)
    }

    async fn get_schedule(&self, group: &str, name: &str) -> CloudResult<Option<OneTimeSchedule>> {
        let Some(out) = absent_if_not_found(self.scheduler.get_schedule().group_name(group).name(name).send().await.map_err(from_sdk))?
        else {
            return Ok(None);
        };
        let expression = out.schedule_expression().unwrap_or_default();
        let timezone = out.schedule_expression_timezone().unwrap_or("UTC");
        let at = parse_at(expression).filter(|_| timezone == "UTC").ok_or_else(|| {
            unsupported(
                "UnsupportedSchedule",
                format!("schedule {group}/{name} is `{expression}` in {timezone}, not a one-time schedule in UTC"),
            )
        })?;
        let target = out.target().ok_or_else(|| unsupported("MissingInResponse", format!("schedule {group}/{name} has no target")))?;
        Ok(Some(OneTimeSchedule {
            name: out.name().unwrap_or(name).to_string(),
            group: out.group_name().unwrap_or(group).to_string(),
            at,
            target_arn: target.arn().to_string(),
            role_arn: target.role_arn().to_string(),
            input: target.input().unwrap_or_default().to_string(),
        }))
    }

    async fn delete_schedule(&self, group: &str, name: &str) -> CloudResult<()> {
        self.scheduler.delete_schedule().group_name(group).name(name).send().await.map_err(from_sdk)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn at_expressions_round_trip_in_whole_seconds() {
        let at = Utc.with_ymd_and_hms(2025, 12, 26, 18, 5, 9).unwrap() + chrono::Duration::milliseconds(750);
        assert_eq!(at_expression(at), "at(2025-12-26T18:05:09)");
        assert_eq!(parse_at("at(2025-12-26T18:05:09)"), Some(Utc.with_ymd_and_hms(2025, 12, 26, 18, 5, 9).unwrap()));
        assert_eq!(parse_at("rate(5 minutes)"), None);
        assert_eq!(parse_at("cron(0 12 * * ? *)"), None);
    }
}
