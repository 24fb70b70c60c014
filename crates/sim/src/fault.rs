//! Faults injected into one step's sessions, parsed from `STEP=KIND` (the CLI's `--fault`).

use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// How a step's calls go wrong. Every kind is deterministic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// The step's first 2 AWS calls (over all its invocations) are throttled.
    Throttle,
    /// Every AWS call of the step answers HTTP 503.
    Unavailable,
    /// Every AWS call of the step is denied by IAM.
    Fatal,
    /// What the step creates or starts ends in its failed state.
    FailedState,
    /// What the step creates or starts stays in progress forever (deleting it is accepted).
    NeverReady,
    /// A foreign resource with the same name appears just before the step's first create.
    AlreadyExists,
    /// The database and the app answer the step as a broken deployment would: no tenant
    /// tables, NULL tenant ids, health and login 500.
    FailedCheck,
    /// The step's first AWS call that changes something (over all its invocations) takes
    /// effect, but its answer is lost: the caller sees HTTP 503, as after a timeout or a
    /// dropped connection, and Step Functions runs the step again.
    LostResponse,
    /// Every invocation of the step is delivered twice, both at once (Lambda's at-least-once
    /// delivery); the state machine sees the first one's answer.
    Duplicate,
    /// The step's reads lag its writes (AWS's eventual consistency): for [`EVENTUAL_LAG`] after
    /// a call of the step that changes something, the step's Describe/Get/List/Head calls are
    /// answered from the account as it was just before that call.
    Eventual,
    /// Every AWS call of the step takes 1 to 5 s longer (drawn per call), so the step's answer
    /// comes that much later (the latencies add up, as for calls made one after another): its
    /// Lambda may outlast the state's TimeoutSeconds.
    Slow,
}

/// How long a step with the `eventual` fault reads the account as it was before its write:
/// shorter than a wait loop's 30 s, longer than Step Functions' first retries (2 s, then 4 s).
pub const EVENTUAL_LAG: std::time::Duration = std::time::Duration::from_secs(10);

impl FaultKind {
    pub const ALL: &'static [FaultKind] = &[
        FaultKind::Throttle,
        FaultKind::Unavailable,
        FaultKind::Fatal,
        FaultKind::FailedState,
        FaultKind::NeverReady,
        FaultKind::AlreadyExists,
        FaultKind::FailedCheck,
        FaultKind::LostResponse,
        FaultKind::Duplicate,
        FaultKind::Eventual,
        FaultKind::Slow,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Throttle => "throttle",
            FaultKind::Unavailable => "unavailable",
            FaultKind::Fatal => "fatal",
            FaultKind::FailedState => "failed-state",
            FaultKind::NeverReady => "never-ready",
            FaultKind::AlreadyExists => "already-exists",
            FaultKind::FailedCheck => "failed-check",
            FaultKind::LostResponse => "lost-response",
            FaultKind::Duplicate => "duplicate",
            FaultKind::Eventual => "eventual",
            FaultKind::Slow => "slow",
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a fault specification was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseFaultError(String);

fn known_kinds() -> String {
    FaultKind::ALL.iter().map(|k| k.name()).collect::<Vec<_>>().join(", ")
}

impl FromStr for FaultKind {
    type Err = ParseFaultError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FaultKind::ALL
            .iter()
            .copied()
            .find(|k| k.name() == s.trim())
            .ok_or_else(|| ParseFaultError(format!("unknown fault kind {s:?}; expected one of {}", known_kinds())))
    }
}

/// One fault: `kind` applies to the calls of sessions named `step`, from the step's
/// `from_call`-th AWS call on (counted over all its invocations; 1: from the first), written
/// `STEP=KIND@N`: a fault can meet a step half-way, after its first calls did their work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fault {
    pub step: String,
    pub kind: FaultKind,
    pub from_call: u32,
}

impl Fault {
    /// From the step's first call.
    pub fn new(step: impl Into<String>, kind: FaultKind) -> Self {
        Self { step: step.into(), kind, from_call: 1 }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.from_call {
            1 => write!(f, "{}={}", self.step, self.kind),
            n => write!(f, "{}={}@{n}", self.step, self.kind),
        }
    }
}

impl FromStr for Fault {
    type Err = ParseFaultError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let Some((step, kind)) = s.split_once('=') else {
            return Err(ParseFaultError(format!(
                "fault {s:?} has no '='; expected STEP=KIND, e.g. restore_staging_database=failed-state (kinds: {})",
                known_kinds()
            )));
        };
        let step = step.trim();
        if step.is_empty() {
            return Err(ParseFaultError(format!("fault {s:?} names no step before '='; expected STEP=KIND")));
        }
        if kind.trim().is_empty() {
            return Err(ParseFaultError(format!("fault {s:?} names no kind after '='; expected one of {}", known_kinds())));
        }
        let (kind, from_call) = match kind.split_once('@') {
            None => (kind, 1),
            Some((kind, n)) => match n.trim().parse::<u32>() {
                Ok(n) if n >= 1 => (kind, n),
                _ => return Err(ParseFaultError(format!("fault {s:?}: after '@' comes the call it starts at, 1 or more"))),
            },
        };
        let kind = kind.parse().map_err(|ParseFaultError(why)| ParseFaultError(format!("fault {s:?}: {why}")))?;
        Ok(Fault { step: step.to_string(), kind, from_call })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for &kind in FaultKind::ALL {
            assert_eq!(kind.to_string().parse::<FaultKind>(), Ok(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), serde_json::json!(kind.name()));
        }
    }

    #[test]
    fn faults_parse_and_explain_what_is_wrong() {
        let fault: Fault = "restore_staging_database=failed-state".parse().unwrap();
        assert_eq!(fault, Fault::new("restore_staging_database", FaultKind::FailedState));
        assert_eq!(fault.to_string(), "restore_staging_database=failed-state");
        let later: Fault = "copy_staging_frontend=fatal@3".parse().unwrap();
        assert_eq!((later.kind, later.from_call, later.to_string().as_str()), (FaultKind::Fatal, 3, "copy_staging_frontend=fatal@3"));
        for bad in ["x=fatal@0", "x=fatal@", "x=fatal@two"] {
            assert!(bad.parse::<Fault>().unwrap_err().to_string().contains("after '@'"), "{bad}");
        }
        let no_eq = "restore_staging_database".parse::<Fault>().unwrap_err().to_string();
        assert!(no_eq.contains("no '='") && no_eq.contains("never-ready"), "{no_eq}");
        assert!("=throttle".parse::<Fault>().unwrap_err().to_string().contains("names no step"));
        assert!("x=".parse::<Fault>().unwrap_err().to_string().contains("names no kind"));
        let unknown = "x=explode".parse::<Fault>().unwrap_err().to_string();
        assert!(unknown.contains("unknown fault kind \"explode\"") && unknown.contains("failed-check"), "{unknown}");
    }
}
