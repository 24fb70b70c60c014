//! One run at a time per environment. A staging run holds its app's staging environment from
//! its plan to the end of its rollback or teardown; a promotion holds production from its
//! verification to its end. The lease is a String parameter, `/rehearsal/leases/<app>/<staging|
//! production>`, whose value is a [`Lease`] document; it is created without overwrite (tagged in
//! the same call), which Parameter Store grants to exactly one of two concurrent creators.
//! The steps that take and release it are in [`crate::steps::lease`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The path every lease lives under (the template confines the lease steps' writes to it).
pub const LEASE_PATH: &str = "/rehearsal/leases/";

/// What a lease is held on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeasedEnvironment {
    Staging,
    Production,
}

impl LeasedEnvironment {
    pub fn name(self) -> &'static str {
        match self {
            Self::Staging => "staging",
            Self::Production => "production",
        }
    }
}

/// The lease parameter of `app`'s `environment`. An app name is at most a few dozen lowercase
/// letters, digits and hyphens (`RunInput::validate`), so this stays far within Parameter
/// Store's 1011 characters and 15 levels.
pub fn lease_parameter(app: &str, environment: LeasedEnvironment) -> String {
    format!("{LEASE_PATH}{app}/{}", environment.name())
}

/// Who holds an environment: the value of its lease parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lease {
    /// The holder's execution: a staging run's, or a promotion's.
    pub execution_arn: String,
    /// The staging run (for a promotion: the staging run it promotes).
    pub run_id: String,
    /// When the holder's execution started.
    pub started_at: DateTime<Utc>,
}

impl Lease {
    /// The parameter's value.
    pub fn to_value(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a lease parameter's value; anything else is an error naming the parameter, so that
    /// nobody takes over (or deletes) what may be someone's.
    pub fn parse(parameter: &str, value: &str) -> Result<Self, String> {
        serde_json::from_str(value)
            .map_err(|e| format!("parameter {parameter} does not hold a lease ({e}); delete it by hand once no run uses the environment"))
    }
}

impl fmt::Display for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "run {} (execution {}, started at {})", self.run_id, self.execution_arn, self.started_at.to_rfc3339())
    }
}

/// Why a run may not have an environment: who holds it, and why that holder still counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseHeld {
    pub app: String,
    pub environment: LeasedEnvironment,
    pub holder: Lease,
    /// Why the holder still holds it (its execution runs, or its staging is still up).
    pub reason: String,
}

impl fmt::Display for LeaseHeld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the {} environment of {} is held by {}: {}", self.environment.name(), self.app, self.holder, self.reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn lease() -> Lease {
        Lease {
            execution_arn: "arn:aws:states:us-east-1:123456789012:execution:rehearsal-staging:release-42".into(),
            run_id: "tableicty-20261124090000-9ad76926".into(),
            started_at: Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap(),
        }
    }

    #[test]
    fn a_lease_reads_back_what_it_wrote_and_refuses_anything_else() {
        assert_eq!(Lease::parse("/p", &lease().to_value()), Ok(lease()));
        let refused = Lease::parse("/rehearsal/leases/tableicty/staging", "{\"run_id\": \"x\"}").unwrap_err();
        assert!(refused.contains("/rehearsal/leases/tableicty/staging"), "{refused}");
        assert!(Lease::parse("/p", "taken").is_err());
    }

    #[test]
    fn leases_are_per_app_and_environment_and_the_refusal_names_the_holder() {
        assert_eq!(lease_parameter("tableicty", LeasedEnvironment::Staging), "/rehearsal/leases/tableicty/staging");
        assert_eq!(lease_parameter("tableicty", LeasedEnvironment::Production), "/rehearsal/leases/tableicty/production");
        let held =
            LeaseHeld { app: "tableicty".into(), environment: LeasedEnvironment::Staging, holder: lease(), reason: "it runs".into() };
        let text = held.to_string();
        for part in [
            "staging environment of tableicty",
            "tableicty-20261124090000-9ad76926",
            "rehearsal-staging:release-42",
            "2026-11-24T09:00:00+00:00",
        ] {
            assert!(text.contains(part), "{text}");
        }
    }
}
