//! Errors of the interpreter itself: a definition it refuses, or a run it cannot carry on.
//! ASL failures of an execution (States.* errors, Fail states) are not errors here: they are
//! `Outcome::Failed`, exactly as AWS reports them.

/// Where a definition error sits: a state name, or the state machine itself when empty.
fn at(state: &str) -> String {
    if state.is_empty() {
        "the state machine".to_string()
    } else {
        format!("state '{state}'")
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AslError {
    #[error("the definition is not valid JSON: {0}")]
    Json(String),
    #[error("invalid definition at {}: {message}", at(state))]
    Invalid { state: String, message: String },
    #[error("unsupported ASL feature at {}: {feature}", at(state))]
    Unsupported { state: String, feature: String },
    #[error("definition substitution: no value given for ${{{name}}}")]
    UnknownSubstitution { name: String },
    #[error("the execution history exceeded {limit} events (at state '{state}'); AWS fails such an execution")]
    HistoryLimit { limit: usize, state: String },
    /// RedriveExecution's ExecutionNotRedrivable, with the reason DescribeExecution gives.
    #[error("execution '{execution}' cannot be redriven: {reason}")]
    NotRedrivable { execution: String, reason: String },
    /// An execution record that cannot come from this definition (edited, or from another one).
    #[error("the execution record does not fit the definition: {message}")]
    Record { message: String },
    #[error("invalid task script: {message}")]
    Script { message: String },
}

impl AslError {
    pub(crate) fn invalid(state: &str, message: impl Into<String>) -> Self {
        AslError::Invalid { state: state.to_string(), message: message.into() }
    }

    pub(crate) fn unsupported(state: &str, feature: impl Into<String>) -> Self {
        AslError::Unsupported { state: state.to_string(), feature: feature.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_state_or_the_machine() {
        assert_eq!(AslError::unsupported("Fan", "Map state").to_string(), "unsupported ASL feature at state 'Fan': Map state");
        assert_eq!(AslError::invalid("", "StartAt is missing").to_string(), "invalid definition at the state machine: StartAt is missing");
        assert_eq!(AslError::UnknownSubstitution { name: "Fn".into() }.to_string(), "definition substitution: no value given for ${Fn}");
    }
}
