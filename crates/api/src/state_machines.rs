//! The Step Functions calls the API makes, as a trait: the SDK client implements it, and a test
//! can wrap that to count the calls.

use rehearsal_aws::{ExecutionDescription, HistoryEvent, StartedExecution, StepFunctions};
use rehearsal_core::cloud::CloudResult;
use std::future::Future;

pub trait StateMachines: Sync {
    /// Standard workflows: the same name and input while the execution runs answers it again;
    /// otherwise a taken name is `AlreadyExists`.
    fn start_execution(
        &self,
        state_machine_arn: &str,
        name: &str,
        input: &str,
    ) -> impl Future<Output = CloudResult<StartedExecution>> + Send;
    /// `Ok(None)` when no execution has this ARN.
    fn describe_execution(&self, execution_arn: &str) -> impl Future<Output = CloudResult<Option<ExecutionDescription>>> + Send;
    /// Every event, oldest first.
    fn execution_history(&self, execution_arn: &str) -> impl Future<Output = CloudResult<Vec<HistoryEvent>>> + Send;
    fn send_task_success(&self, task_token: &str, output: &str) -> impl Future<Output = CloudResult<()>> + Send;
    fn send_task_failure(&self, task_token: &str, error: &str, cause: &str) -> impl Future<Output = CloudResult<()>> + Send;
}

impl StateMachines for StepFunctions {
    fn start_execution(
        &self,
        state_machine_arn: &str,
        name: &str,
        input: &str,
    ) -> impl Future<Output = CloudResult<StartedExecution>> + Send {
        StepFunctions::start_execution(self, state_machine_arn, name, input)
    }

    fn describe_execution(&self, execution_arn: &str) -> impl Future<Output = CloudResult<Option<ExecutionDescription>>> + Send {
        StepFunctions::describe_execution(self, execution_arn)
    }

    fn execution_history(&self, execution_arn: &str) -> impl Future<Output = CloudResult<Vec<HistoryEvent>>> + Send {
        StepFunctions::execution_history(self, execution_arn)
    }

    fn send_task_success(&self, task_token: &str, output: &str) -> impl Future<Output = CloudResult<()>> + Send {
        StepFunctions::send_task_success(self, task_token, output)
    }

    fn send_task_failure(&self, task_token: &str, error: &str, cause: &str) -> impl Future<Output = CloudResult<()>> + Send {
        StepFunctions::send_task_failure(self, task_token, error, cause)
    }
}
