//! How a command ends: one of the documented exit statuses (README: 0 succeeded, 3 rolled back
//! cleanly, 1 failed, 2 refused input), or an error that says which of them it is.

use crate::execution::RunError;
use crate::report::RunStatus;
use std::process::ExitCode;

/// Every exit status the `rehearsal` command has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The run, execution or request succeeded.
    Succeeded,
    /// It failed; for a staging run, without a complete rollback.
    Failed,
    /// The input was refused before anything ran (remotely: the API answered 4xx).
    Refused,
    /// The staging run failed, and its rollback removed everything it had created.
    RolledBack,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Succeeded => 0,
            Exit::Failed => 1,
            Exit::Refused => 2,
            Exit::RolledBack => 3,
        }
    }

    /// The API's answer as an exit status: 2xx succeeded, 4xx refused, anything else failed.
    pub fn of_http_status(status: u16) -> Self {
        match status {
            200..=299 => Exit::Succeeded,
            400..=499 => Exit::Refused,
            _ => Exit::Failed,
        }
    }
}

impl From<RunStatus> for Exit {
    fn from(status: RunStatus) -> Self {
        match status {
            RunStatus::Succeeded => Exit::Succeeded,
            RunStatus::RolledBack => Exit::RolledBack,
            RunStatus::Failed => Exit::Failed,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit.code())
    }
}

/// Why a command stopped before it could report an outcome; `main` prints it as `error: …`.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A file or a value the command was given is refused.
    #[error("{0}")]
    Refused(String),
    /// The pipeline refused its run document or a fault before its first call.
    #[error("{0}\nnothing was run and no AWS call was made")]
    RunRefused(RunError),
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    pub fn exit(&self) -> Exit {
        match self {
            CliError::Refused(_) | CliError::RunRefused(_) => Exit::Refused,
            CliError::Failed(_) => Exit::Failed,
        }
    }
}

impl From<RunError> for CliError {
    fn from(error: RunError) -> Self {
        if error.is_refusal() {
            CliError::RunRefused(error)
        } else {
            CliError::Failed(error.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rehearsal_core::StepError;

    #[test]
    fn statuses_are_the_documented_numbers() {
        let codes: Vec<u8> = [Exit::Succeeded, Exit::RolledBack, Exit::Failed, Exit::Refused].into_iter().map(Exit::code).collect();
        assert_eq!(codes, [0, 3, 1, 2], "README: 0 succeeded, 3 rolled back cleanly, 1 failed, 2 refused input");
        assert_eq!(Exit::from(RunStatus::RolledBack), Exit::RolledBack);
        assert_eq!(
            [200, 202, 400, 409, 404, 502, 503].map(Exit::of_http_status),
            [Exit::Succeeded, Exit::Succeeded, Exit::Refused, Exit::Refused, Exit::Refused, Exit::Failed, Exit::Failed]
        );
    }

    #[test]
    fn a_refused_run_exits_2_saying_nothing_ran() {
        let refused = CliError::from(RunError::Input(StepError::invalid("ttl_hours", "must be 1 to 168")));
        assert_eq!(refused.exit(), Exit::Refused);
        assert!(refused.to_string().ends_with("\nnothing was run and no AWS call was made"), "{refused}");
        let stopped = CliError::from(RunError::Runner("the history limit".into()));
        assert_eq!((stopped.exit(), stopped.to_string().as_str()), (Exit::Failed, "the local runner stopped: the history limit"));
    }
}
