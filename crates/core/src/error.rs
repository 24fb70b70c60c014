//! Errors. [`StepError`] variants have stable names ([`StepError::name`]) that a Lambda reports
//! as its `errorType`, so the state machines can `Retry` the transient ones and `Catch` the rest.

use std::fmt;

/// What an AWS (or simulated) API call answered when it did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudError {
    pub kind: CloudErrorKind,
    /// The service's own error code, e.g. `ThrottlingException`, `DBInstanceNotFound`.
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloudErrorKind {
    /// Throttling: retry with backoff.
    Throttled,
    /// 5xx or a connection problem: retry.
    Unavailable,
    NotFound,
    AlreadyExists,
    /// The resource exists but is in a state that forbids the call (e.g. deleting a DB that is
    /// still creating). Worth asking again later.
    InvalidState,
    AccessDenied,
    /// Anything else: a bad request, a quota, an unknown code.
    Fatal,
}

impl CloudError {
    pub fn new(kind: CloudErrorKind, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { kind, code: code.into(), message: message.into() }
    }

    pub fn is(&self, kind: CloudErrorKind) -> bool {
        self.kind == kind
    }
}

impl fmt::Display for CloudError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for CloudError {}

/// Why a step did not complete. The variant name is the error name the ASL matches.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    /// The run document is invalid; names the field. Raised before any AWS call.
    #[error("invalid input: field `{field}`: {reason}")]
    InvalidInput { field: String, reason: String },
    #[error("throttled by {operation}: {source}")]
    Throttled { operation: String, source: CloudError },
    #[error("{operation} is unavailable: {source}")]
    Transient { operation: String, source: CloudError },
    /// A resource with the name this run needs exists but was not created by this run.
    #[error("{resource} exists but was not created by this run ({detail}); refusing to touch it")]
    ResourceNotOwned { resource: String, detail: String },
    /// The guard refused a write to a production resource outside promote/rollback.
    #[error("refused to write production resource {resource}: {detail}")]
    ProductionWriteRefused { resource: String, detail: String },
    /// A production resource the run reads from is missing or unusable.
    #[error("production precondition failed: {0}")]
    ProductionNotReady(String),
    /// Production's instance is busy (backing up, modifying, in maintenance…) and cannot be
    /// snapshotted now: not a failure, the state machine asks again for a while.
    #[error("production is busy: {0}")]
    ProductionBusy(String),
    /// The database is still starting: not a failure, ask again.
    #[error("database not ready: {0}")]
    DatabaseNotReady(String),
    /// A validation check ran and did not hold.
    #[error("check failed: {0}")]
    CheckFailed(String),
    /// Any other cloud answer: not worth retrying.
    #[error("{operation} failed: {source}")]
    Fatal { operation: String, source: CloudError },
    /// A step's input is not what the state machine should send (a definition bug).
    #[error("malformed step input: {0}")]
    MalformedInput(String),
    /// Another run holds the environment (its lease, [`crate::lease`]); nothing was done.
    #[error("{0}")]
    LeaseHeld(crate::lease::LeaseHeld),
}

impl StepError {
    /// The stable error name; the ASL `Retry`/`Catch` blocks match these.
    pub fn name(&self) -> &'static str {
        match self {
            StepError::InvalidInput { .. } => "InvalidInputError",
            StepError::Throttled { .. } => "ThrottledError",
            StepError::Transient { .. } => "TransientError",
            StepError::ResourceNotOwned { .. } => "ResourceNotOwnedError",
            StepError::ProductionWriteRefused { .. } => "ProductionWriteRefusedError",
            StepError::ProductionNotReady(_) => "ProductionNotReadyError",
            StepError::ProductionBusy(_) => "ProductionBusyError",
            StepError::DatabaseNotReady(_) => "DatabaseNotReadyError",
            StepError::CheckFailed(_) => "CheckFailedError",
            StepError::Fatal { .. } => "FatalError",
            StepError::MalformedInput(_) => "MalformedInputError",
            StepError::LeaseHeld(_) => "LeaseHeldError",
        }
    }

    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        StepError::InvalidInput { field: field.into(), reason: reason.into() }
    }

    /// Classifies a failed call: throttling and 5xx become retryable, the rest fatal.
    /// Callers that have an idempotent path for NotFound/AlreadyExists match those first.
    pub fn from_cloud(operation: &str, source: CloudError) -> Self {
        let operation = operation.to_string();
        match source.kind {
            CloudErrorKind::Throttled => StepError::Throttled { operation, source },
            CloudErrorKind::Unavailable => StepError::Transient { operation, source },
            _ => StepError::Fatal { operation, source },
        }
    }
}

/// Adds the operation name to a cloud error: `rds.describe(...).await.op("DescribeDBInstances")?`.
pub trait CloudResultExt<T> {
    fn op(self, operation: &str) -> Result<T, StepError>;
}

impl<T> CloudResultExt<T> for Result<T, CloudError> {
    fn op(self, operation: &str) -> Result<T, StepError> {
        self.map_err(|e| StepError::from_cloud(operation, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_errors_are_classified_for_retry() {
        let t = StepError::from_cloud("X", CloudError::new(CloudErrorKind::Throttled, "ThrottlingException", "slow down"));
        assert_eq!(t.name(), "ThrottledError");
        let u = StepError::from_cloud("X", CloudError::new(CloudErrorKind::Unavailable, "InternalFailure", "500"));
        assert_eq!(u.name(), "TransientError");
        let f = StepError::from_cloud("X", CloudError::new(CloudErrorKind::AccessDenied, "AccessDenied", "no"));
        assert_eq!(f.name(), "FatalError");
        assert!(f.to_string().contains("AccessDenied: no"));
    }
}
