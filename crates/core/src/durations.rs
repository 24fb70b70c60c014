//! How long things typically take in a real AWS account, by state name of the definitions:
//! `estimates/durations.json`, compiled in (the Lambdas and the CLI need no file at run time).
//! The critical path and ETA of `rehearsal_asl` take these as their expected durations; each
//! entry says where its figure comes from.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use chrono::NaiveDate;
use serde::Deserialize;

const TABLE: &str = include_str!("../estimates/durations.json");

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypicalDurations {
    pub as_of: NaiveDate,
    pub about: String,
    pub default_task_seconds: u64,
    pub default_task_source: String,
    /// One invocation of these Task states, where it differs from the default.
    pub tasks: BTreeMap<String, Sourced>,
    /// For the Wait state of each wait loop: how long what it polls takes.
    pub waits: BTreeMap<String, Sourced>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sourced {
    pub seconds: u64,
    pub source: String,
}

impl TypicalDurations {
    /// The table that ships with this build.
    pub fn aws() -> &'static TypicalDurations {
        static PARSED: OnceLock<TypicalDurations> = OnceLock::new();
        // The unit test below parses the same text, so a broken table fails the build's tests.
        PARSED.get_or_init(|| serde_json::from_str(TABLE).expect("estimates/durations.json is valid"))
    }

    pub fn default_task(&self) -> Duration {
        Duration::from_secs(self.default_task_seconds)
    }

    /// Task state → one invocation.
    pub fn task_durations(&self) -> BTreeMap<String, Duration> {
        self.tasks.iter().map(|(name, d)| (name.clone(), Duration::from_secs(d.seconds))).collect()
    }

    /// Wait state → how long what its loop polls takes.
    pub fn wait_durations(&self) -> BTreeMap<String, Duration> {
        self.waits.iter().map(|(name, d)| (name.clone(), Duration::from_secs(d.seconds))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_table_parses_and_every_figure_has_a_source() {
        let table = TypicalDurations::aws();
        assert!(table.default_task_seconds > 0 && !table.default_task_source.is_empty());
        for (name, entry) in table.tasks.iter().chain(&table.waits) {
            assert!(entry.seconds > 0, "{name}");
            assert!(entry.source.len() > 20, "{name} needs a source");
        }
        assert_eq!(table.wait_durations()["WaitForSnapshot"], Duration::from_secs(600));
        assert_eq!(table.task_durations()["ValidateStaging"], Duration::from_secs(15));
    }
}
