//! The Step Functions adapter's RedriveExecution against `aws-smithy-mocks` (moto has no
//! RedriveExecution): what it is asked (the execution and the client token that makes a retried
//! request redrive once), what it answers, and how Step Functions' refusals are classified.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sfn::config::retry::RetryConfig;
use aws_sdk_sfn::operation::redrive_execution::RedriveExecutionOutput;
use aws_sdk_sfn::primitives::DateTime;
use aws_sdk_sfn::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use rehearsal_aws::StepFunctions;
use rehearsal_core::cloud::StateMachines;
use rehearsal_core::CloudErrorKind;

const EXECUTION: &str = "arn:aws:states:us-east-1:123456789012:execution:rehearsal-staging:release-42";

fn sfn(rules: &[&Rule]) -> StepFunctions {
    let config = SdkConfig::builder().behavior_version(BehaviorVersion::latest()).region(Region::new("us-east-1")).build();
    let mut sfn = StepFunctions::new(&config);
    sfn.client = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, rules, |c| c.retry_config(RetryConfig::disabled()));
    sfn
}

#[tokio::test]
async fn a_redrive_names_the_execution_and_its_client_token_and_answers_the_redrive_date() {
    let redrive = mock!(Client::redrive_execution)
        .match_requests(|r| r.execution_arn() == Some(EXECUTION) && r.client_token() == Some("redrive-42"))
        .then_output(|| RedriveExecutionOutput::builder().redrive_date(DateTime::from_secs(1_796_212_800)).build().unwrap());
    let answered = sfn(&[&redrive]).redrive_execution(EXECUTION, "redrive-42").await.unwrap();
    assert_eq!(answered.map(|t| t.timestamp()), Some(1_796_212_800));
    assert_eq!(redrive.num_calls(), 1);
}

#[tokio::test]
async fn step_functions_refusals_are_classified_for_the_api() {
    for (status, code, kind) in [
        // Succeeded, running, closed over 14 days ago, or redriven 1,000 times.
        (400, "ExecutionNotRedrivable", CloudErrorKind::InvalidState),
        (400, "ExecutionDoesNotExist", CloudErrorKind::NotFound),
        (400, "ThrottlingException", CloudErrorKind::Throttled),
        (400, "AccessDeniedException", CloudErrorKind::AccessDenied),
        (400, "ExecutionLimitExceeded", CloudErrorKind::Fatal),
    ] {
        let body = format!(r#"{{"__type":"com.amazonaws.swf.service.v2.model#{code}","message":"explained"}}"#);
        let rule = mock!(Client::redrive_execution).sequence().http_status(status, Some(body)).build();
        let err = sfn(&[&rule]).redrive_execution(EXECUTION, "redrive-42").await.unwrap_err();
        assert_eq!((err.kind, err.code.as_str(), err.message.as_str()), (kind, code, "explained"), "HTTP {status} {code}");
    }
}
