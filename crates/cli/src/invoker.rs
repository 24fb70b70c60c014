//! Runs the step handlers in-process as the state machine's Lambda tasks: the resource ARN
//! names the function, the function names the step. Errors travel as a Lambda reports them:
//! `Error` is the error type (what `Retry`/`Catch` match), `Cause` the JSON error object.

use rehearsal_asl::{TaskCall, TaskFailure, TaskInvoker};
use rehearsal_core::steps::{invoke, Cloud, Step};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";

/// The ARN a step's function has in the local account (the SAM template names them alike).
pub fn function_arn(step: Step) -> String {
    format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:rehearsal-{}", step.name().replace('_', "-"))
}

/// Values for the definitions' `${…}` substitutions, as the SAM template fills them.
pub fn local_substitutions() -> BTreeMap<String, String> {
    let mut values: BTreeMap<String, String> = Step::ALL.iter().map(|s| (s.arn_key().to_string(), function_arn(*s))).collect();
    values.insert("TeardownStateMachineArn".into(), format!("arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:rehearsal-teardown"));
    values.insert("SchedulerRoleArn".into(), format!("arn:aws:iam::{ACCOUNT}:role/rehearsal-scheduler"));
    // The stack's staging settings, as the simulated account's deployment has them.
    let stack = rehearsal_sim::seed::stack_settings();
    for (key, value) in [
        ("StagingInstanceRoleArn", stack.staging_instance_role_arn),
        ("StagingVpcConnector", stack.vpc_connector),
        ("StagingRepositoryUrl", stack.repository_url),
        ("StagingConnectionArn", stack.connection_arn),
        ("StagingRuntime", stack.build.runtime),
        ("StagingBuildCommand", stack.build.build_command),
        ("StagingStartCommand", stack.build.start_command),
        ("StagingImageAccessRoleArn", stack.image_access_role_arn),
        ("EcsCluster", stack.ecs.cluster),
        ("EcsSubnetIds", stack.ecs.subnets),
        ("EcsSecurityGroupIds", stack.ecs.security_groups),
        ("StagingEcsExecutionRoleArn", stack.ecs.execution_role_arn),
        ("StagingEcsTaskRoleArn", stack.ecs.task_role_arn),
        ("EcsInfrastructureRoleArn", stack.ecs.infrastructure_role_arn),
    ] {
        values.insert(key.to_string(), value);
    }
    values
}

/// Lambda's error shape for a failed invocation.
pub fn lambda_failure(error_type: &str, message: &str) -> TaskFailure {
    TaskFailure { error: error_type.to_string(), cause: json!({"errorType": error_type, "errorMessage": message}).to_string() }
}

/// How many times one invocation of a step is delivered.
type Deliveries<'a> = Box<dyn Fn(Step) -> usize + 'a>;
/// How long an invocation of a step that just ran takes beyond its calls' answers.
type Latency<'a> = Box<dyn Fn(Step) -> std::time::Duration + 'a>;

/// Calls the handlers with a cloud built per step (so the simulated account knows which step
/// made each call).
pub struct StepInvoker<'a, F> {
    cloud_for: F,
    functions: BTreeMap<String, Step>,
    deliveries: Deliveries<'a>,
    latency: Latency<'a>,
}

impl<'a, C: Cloud, F: Fn(Step) -> C> StepInvoker<'a, F> {
    pub fn new(cloud_for: F) -> Self {
        Self {
            cloud_for,
            functions: Step::ALL.iter().map(|s| (function_arn(*s), *s)).collect(),
            deliveries: Box::new(|_| 1),
            latency: Box::new(|_| std::time::Duration::ZERO),
        }
    }

    /// Delivers each invocation of a step `deliveries(step)` times, all at once, as Lambda's
    /// at-least-once delivery may; the state machine sees the first delivery's answer.
    pub fn delivering(self, deliveries: impl Fn(Step) -> usize + 'a) -> Self {
        Self { deliveries: Box::new(deliveries), ..self }
    }

    /// Each invocation answers `latency(step)` after its handler returned (slow AWS calls), on
    /// the clock the state machine's TimeoutSeconds is measured on.
    pub fn slowed_by(self, latency: impl Fn(Step) -> std::time::Duration + 'a) -> Self {
        Self { latency: Box::new(latency), ..self }
    }
}

impl<C: Cloud, F: Fn(Step) -> C> TaskInvoker for StepInvoker<'_, F> {
    fn invoke<'a>(&'a self, call: TaskCall) -> Pin<Box<dyn Future<Output = Result<Value, TaskFailure>> + 'a>> {
        Box::pin(async move {
            let Some(step) = self.functions.get(&call.resource).copied() else {
                // What Lambda answers for a function that does not exist.
                return Err(lambda_failure("Lambda.ResourceNotFoundException", &format!("Function not found: {}", call.resource)));
            };
            let deliveries = (self.deliveries)(step);
            let cloud = (self.cloud_for)(step);
            let answer = if deliveries <= 1 {
                invoke(&cloud, step, call.input).await
            } else {
                let others: Vec<C> = (1..deliveries).map(|_| (self.cloud_for)(step)).collect();
                let first = invoke(&cloud, step, call.input.clone());
                let rest = futures::future::join_all(others.iter().map(|other| invoke(other, step, call.input.clone())));
                futures::future::join(first, rest).await.0
            };
            let late = (self.latency)(step);
            if !late.is_zero() {
                tokio::time::sleep(late).await;
            }
            answer.map_err(|e| lambda_failure(e.name(), &e.to_string()))
        })
    }
}
