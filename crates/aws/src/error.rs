//! The one place an SDK error becomes a [`CloudError`]: the kind decides retries and idempotent
//! paths upstream, the service's code and message are kept for the report.

use aws_sdk_rds::config::http::HttpResponse;
use aws_sdk_rds::error::{BuildError, DisplayErrorContext, ProvideErrorMetadata, SdkError};
use rehearsal_core::{CloudError, CloudErrorKind};

/// Codes AWS services use for throttling (the SDK's own retry list, less the quota-like
/// `LimitExceededException`, plus SSM's `TooManyUpdates` for concurrent writes to one parameter).
const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "RequestThrottled",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "BandwidthLimitExceeded",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
    "TooManyUpdates",
];

const UNAVAILABLE: &[&str] = &[
    "InternalFailure",
    "InternalError",
    "InternalServerError",
    "InternalServerException",
    "InternalServiceError",
    "InternalServiceErrorException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    // ECS's answer for a failure on its side.
    "ServerException",
];

const NOT_FOUND: &[&str] = &[
    "DBInstanceNotFound",
    "DBClusterNotFoundFault",
    "DBSnapshotNotFound",
    "DBClusterSnapshotNotFoundFault",
    "ParameterNotFound",
    // SSM's answer to tag calls on a parameter that does not exist.
    "InvalidResourceId",
    "ResourceNotFoundException",
    "ExecutionDoesNotExist",
    "StateMachineDoesNotExist",
    "TaskDoesNotExist",
    "ServiceNotFoundException",
    "ClusterNotFoundException",
    "ServiceDeploymentNotFoundException",
    "RepositoryNotFoundException",
    "ImageNotFoundException",
    "NoSuchBucket",
    "NoSuchKey",
    "NoSuchDistribution",
    "NoSuchOriginAccessControl",
];

const ALREADY_EXISTS: &[&str] = &[
    "DBInstanceAlreadyExists",
    "DBClusterAlreadyExistsFault",
    "DBSnapshotAlreadyExists",
    "DBClusterSnapshotAlreadyExistsFault",
    "ParameterAlreadyExists",
    "ConflictException",
    "ExecutionAlreadyExists",
    // S3: the name is another account's, or already this account's.
    "BucketAlreadyExists",
    "BucketAlreadyOwnedByYou",
    // CloudFront: the CallerReference is another distribution's; the OAC name is taken.
    "DistributionAlreadyExists",
    "OriginAccessControlAlreadyExists",
];

// ECS: the service is DRAINING or INACTIVE. Step Functions: the execution cannot be redriven
// (it succeeded, is running, closed over 14 days ago, or was redriven 1,000 times). S3:
// DeleteBucket while versions are left. CloudFront: a delete of a distribution still enabled or
// deploying, an ETag (IfMatch) that another change made stale, an OAC a distribution still uses.
const INVALID_STATE: &[&str] = &[
    "InvalidDBInstanceState",
    "InvalidDBClusterStateFault",
    "InvalidDBSnapshotState",
    "InvalidDBClusterSnapshotStateFault",
    "InvalidStateException",
    "ServiceNotActiveException",
    "ExecutionNotRedrivable",
    "BucketNotEmpty",
    "DistributionNotDisabled",
    "PreconditionFailed",
    "OriginAccessControlInUse",
];

/// Services without a dedicated code for a duplicate name say so in a generic one: App Runner
/// (`InvalidRequestException`: "… already exists"), ECS (`InvalidParameterException`: "Creation
/// of service was not idempotent" or "… already exists").
fn names_a_duplicate(code: &str, message: &str) -> bool {
    matches!(code, "InvalidRequestException" | "InvalidParameterException")
        && (message.contains("already exists") || message.contains("not idempotent"))
}

/// Classifies a service's error code (and HTTP status, when there was a response).
pub(crate) fn classify(code: &str, message: &str, status: Option<u16>) -> CloudErrorKind {
    if THROTTLING.contains(&code) || code.ends_with("ThrottlingException") || status == Some(429) {
        CloudErrorKind::Throttled
    } else if code.starts_with("AccessDenied") {
        CloudErrorKind::AccessDenied
    } else if NOT_FOUND.contains(&code) {
        CloudErrorKind::NotFound
    } else if ALREADY_EXISTS.contains(&code) || names_a_duplicate(code, message) {
        CloudErrorKind::AlreadyExists
    } else if INVALID_STATE.contains(&code) {
        CloudErrorKind::InvalidState
    } else if UNAVAILABLE.contains(&code) || status.is_some_and(|s| s >= 500) {
        CloudErrorKind::Unavailable
    } else {
        CloudErrorKind::Fatal
    }
}

/// Converts any SDK operation error. Only the service's code and message are kept: never the
/// request, whose fields may hold a parameter value.
pub(crate) fn from_sdk<E>(err: SdkError<E, HttpResponse>) -> CloudError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    match &err {
        SdkError::ServiceError(_) => {
            let code = err.code().unwrap_or("Unknown");
            let message = err.message().map(str::to_string).unwrap_or_else(|| match status {
                Some(s) => format!("HTTP {s} without a message"),
                None => "no message".to_string(),
            });
            CloudError::new(classify(code, &message, status), code, message)
        }
        SdkError::TimeoutError(_) => CloudError::new(CloudErrorKind::Unavailable, "Timeout", DisplayErrorContext(&err).to_string()),
        SdkError::DispatchFailure(_) => {
            CloudError::new(CloudErrorKind::Unavailable, "DispatchFailure", DisplayErrorContext(&err).to_string())
        }
        // The body could not be parsed; its text may be a decrypted value, so it is not quoted.
        SdkError::ResponseError(_) => {
            let kind = if status.is_some_and(|s| s >= 500) { CloudErrorKind::Unavailable } else { CloudErrorKind::Fatal };
            let status = status.map_or_else(|| "no status".to_string(), |s| format!("HTTP {s}"));
            CloudError::new(kind, "ResponseError", format!("the response could not be read ({status})"))
        }
        SdkError::ConstructionFailure(_) => {
            CloudError::new(CloudErrorKind::Fatal, "ConstructionFailure", DisplayErrorContext(&err).to_string())
        }
        _ => CloudError::new(CloudErrorKind::Fatal, "Unknown", DisplayErrorContext(&err).to_string()),
    }
}

/// A request or type builder refused its input (a required field missing).
pub(crate) fn from_build(err: BuildError) -> CloudError {
    CloudError::new(CloudErrorKind::Fatal, "InvalidRequest", err.to_string())
}

/// An answer this adapter cannot represent in the capability types.
pub(crate) fn unsupported(code: &str, message: impl Into<String>) -> CloudError {
    CloudError::new(CloudErrorKind::Fatal, code, message)
}

/// `Ok(None)` for a not-found answer, so `describe_*`/`get_*` can tell "absent" from "failed".
pub(crate) fn absent_if_not_found<T>(result: Result<T, CloudError>) -> Result<Option<T>, CloudError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.is(CloudErrorKind::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CloudErrorKind::*;

    #[test]
    fn codes_are_classified() {
        for (code, message, status, kind) in [
            ("Throttling", "Rate exceeded", Some(400), Throttled),
            ("ThrottlingException", "", Some(400), Throttled),
            ("TooManyRequestsException", "", Some(400), Throttled),
            ("RequestLimitExceeded", "", Some(503), Throttled),
            ("KmsThrottlingException", "", Some(400), Throttled),
            ("TooManyUpdates", "", Some(400), Throttled),
            ("Anything", "", Some(429), Throttled),
            ("InternalFailure", "", None, Unavailable),
            ("ServiceUnavailable", "", Some(503), Unavailable),
            ("SomethingNew", "", Some(502), Unavailable),
            ("DBInstanceNotFound", "", Some(404), NotFound),
            ("DBClusterNotFoundFault", "", Some(404), NotFound),
            ("DBClusterAlreadyExistsFault", "", Some(400), AlreadyExists),
            ("InvalidDBClusterStateFault", "", Some(400), InvalidState),
            ("DBSnapshotNotFound", "", Some(404), NotFound),
            ("DBClusterSnapshotNotFoundFault", "", Some(404), NotFound),
            ("DBClusterSnapshotAlreadyExistsFault", "", Some(400), AlreadyExists),
            ("InvalidDBClusterSnapshotStateFault", "", Some(400), InvalidState),
            ("ParameterNotFound", "", Some(400), NotFound),
            ("ResourceNotFoundException", "", Some(400), NotFound),
            ("DBInstanceAlreadyExists", "", Some(400), AlreadyExists),
            ("DBSnapshotAlreadyExists", "", Some(400), AlreadyExists),
            ("ParameterAlreadyExists", "", Some(400), AlreadyExists),
            ("ConflictException", "", Some(409), AlreadyExists),
            ("InvalidRequestException", "Service with the provided name already exists: x", Some(400), AlreadyExists),
            ("InvalidRequestException", "Invalid CPU value", Some(400), Fatal),
            ("InvalidParameterException", "Creation of service was not idempotent.", Some(400), AlreadyExists),
            ("InvalidParameterException", "Express gateway service web already exists.", Some(400), AlreadyExists),
            ("InvalidParameterException", "Invalid subnet", Some(400), Fatal),
            ("ServiceNotFoundException", "", Some(400), NotFound),
            ("ClusterNotFoundException", "", Some(400), NotFound),
            ("RepositoryNotFoundException", "", Some(400), NotFound),
            ("ImageNotFoundException", "", Some(400), NotFound),
            ("ServiceNotActiveException", "", Some(400), InvalidState),
            ("ServerException", "", Some(500), Unavailable),
            ("ClientException", "", Some(400), Fatal),
            ("InvalidDBInstanceState", "", Some(400), InvalidState),
            ("InvalidDBSnapshotState", "", Some(400), InvalidState),
            ("InvalidStateException", "", Some(400), InvalidState),
            ("AccessDenied", "", Some(403), AccessDenied),
            ("AccessDeniedException", "", Some(400), AccessDenied),
            ("ValidationException", "", Some(400), Fatal),
            ("LimitExceededException", "", Some(400), Fatal),
            ("DBSubnetGroupNotFoundFault", "", Some(404), Fatal),
            ("NoSuchBucket", "", Some(404), NotFound),
            ("BucketAlreadyExists", "", Some(409), AlreadyExists),
            ("BucketAlreadyOwnedByYou", "", Some(409), AlreadyExists),
            ("BucketNotEmpty", "", Some(409), InvalidState),
            ("NoSuchDistribution", "", Some(404), NotFound),
            ("NoSuchOriginAccessControl", "", Some(404), NotFound),
            ("DistributionAlreadyExists", "", Some(409), AlreadyExists),
            ("OriginAccessControlAlreadyExists", "", Some(409), AlreadyExists),
            ("DistributionNotDisabled", "", Some(409), InvalidState),
            ("PreconditionFailed", "", Some(412), InvalidState),
            ("OriginAccessControlInUse", "", Some(409), InvalidState),
        ] {
            assert_eq!(classify(code, message, status), kind, "{code} {message} {status:?}");
        }
    }

    #[test]
    fn not_found_becomes_none_and_other_errors_stay() {
        assert_eq!(absent_if_not_found::<u8>(Err(CloudError::new(NotFound, "ParameterNotFound", ""))), Ok(None));
        assert_eq!(absent_if_not_found(Ok(1)), Ok(Some(1)));
        let throttled = CloudError::new(Throttled, "Throttling", "");
        assert_eq!(absent_if_not_found::<u8>(Err(throttled.clone())), Err(throttled));
    }
}
