//! Ownership tags. Every resource a run creates carries them; rollback and teardown delete only
//! what carries them, and adoption on a re-run is decided by them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const TOOL_KEY: &str = "rehearsal:tool";
/// The tool's mark on what a promotion creates in production (its pre-deployment snapshot, the
/// copy a rollback restores and makes production, the damaged instance it keeps): a key of its
/// own, so that after a production rollback the live production database carries nothing that
/// staging's deletions key on (`aws:ResourceTag/rehearsal:tool` in their IAM policies).
pub const PRODUCTION_TOOL_KEY: &str = "rehearsal:production-tool";
pub const TOOL_VALUE: &str = "rehearsal";
pub const ENVIRONMENT_KEY: &str = "rehearsal:environment";
pub const RUN_KEY: &str = "rehearsal:run-id";
pub const APP_KEY: &str = "rehearsal:app";

/// Tags as a sorted map (AWS APIs take lists of key/value pairs; adapters convert).
pub type Tags = BTreeMap<String, String>;

/// Who owns a resource, read from its tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// Created by this tool for this environment and this run.
    ThisRun,
    /// Created by this tool for the same environment but another run (a leftover rehearsal).
    OtherRun(String),
    /// Not created by this tool (or for another environment).
    Foreign,
}

/// The tags a run puts on everything it creates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunTags {
    pub app: String,
    pub environment: String,
    pub run_id: String,
}

impl RunTags {
    fn tool_key(&self) -> &'static str {
        if self.environment == crate::promotion::PRODUCTION_ENVIRONMENT {
            PRODUCTION_TOOL_KEY
        } else {
            TOOL_KEY
        }
    }

    pub fn to_tags(&self) -> Tags {
        Tags::from([
            (self.tool_key().to_string(), TOOL_VALUE.to_string()),
            (APP_KEY.to_string(), self.app.clone()),
            (ENVIRONMENT_KEY.to_string(), self.environment.clone()),
            (RUN_KEY.to_string(), self.run_id.clone()),
        ])
    }

    pub fn ownership(&self, tags: &Tags) -> Ownership {
        let is = |k: &str, v: &str| tags.get(k).map(String::as_str) == Some(v);
        if !is(self.tool_key(), TOOL_VALUE) || !is(ENVIRONMENT_KEY, &self.environment) || !is(APP_KEY, &self.app) {
            return Ownership::Foreign;
        }
        match tags.get(RUN_KEY) {
            Some(run) if *run == self.run_id => Ownership::ThisRun,
            Some(run) => Ownership::OtherRun(run.clone()),
            None => Ownership::Foreign,
        }
    }

    /// Tags with any owner explained, for error messages.
    pub fn describe_owner(tags: &Tags) -> String {
        match (tags.get(TOOL_KEY).or(tags.get(PRODUCTION_TOOL_KEY)), tags.get(ENVIRONMENT_KEY), tags.get(RUN_KEY)) {
            (Some(_), Some(env), Some(run)) => format!("tagged by rehearsal for environment {env}, run {run}"),
            _ => "not tagged by rehearsal".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> RunTags {
        RunTags { app: "tableicty".into(), environment: "staging".into(), run_id: "tableicty-20251225".into() }
    }

    #[test]
    fn ownership_follows_the_tags() {
        let tags = run().to_tags();
        assert_eq!(run().ownership(&tags), Ownership::ThisRun);
        let mut other = tags.clone();
        other.insert(RUN_KEY.into(), "tableicty-20251224".into());
        assert_eq!(run().ownership(&other), Ownership::OtherRun("tableicty-20251224".into()));
        let mut prod = tags.clone();
        prod.insert(ENVIRONMENT_KEY.into(), "production".into());
        assert_eq!(run().ownership(&prod), Ownership::Foreign);
        assert_eq!(run().ownership(&Tags::new()), Ownership::Foreign);

        // A promotion's mark is another key: nothing it leaves in production (the live
        // database after a rollback) carries the key staging's deletions match.
        let promotion = RunTags { environment: crate::promotion::PRODUCTION_ENVIRONMENT.into(), ..run() };
        let production = promotion.to_tags();
        assert!(!production.contains_key(TOOL_KEY), "{production:?}");
        assert_eq!(promotion.ownership(&production), Ownership::ThisRun);
        assert_eq!(run().ownership(&production), Ownership::Foreign);
    }
}
