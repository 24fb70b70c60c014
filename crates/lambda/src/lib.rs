//! Runs rehearsal's AWS Lambda functions: every runbook [`Step`] and the HTTP API, from one
//! bootstrap (`functions/bootstrap`, which is [`run`]) that serves the [`Function`] its handler
//! names.
//!
//! * [`run`] sets up JSON logs, builds the clients once ([`FunctionCloud`] for a step) and runs the
//!   Lambda runtime loop with [`handle`] as the handler; an unknown handler fails the init.
//! * A [`StepError`] answers a Lambda error whose `errorType` is [`StepError::name`] (what the
//!   state machine's `Retry`/`Catch` match) and whose `errorMessage` is its text; a panic answers
//!   [`PANIC_ERROR`] and the container keeps serving.
//! * Log lines name the step, the request id, the run id and the outcome, with the error's name
//!   and text; never the input or the output.

mod cloud;
mod function;
mod logging;

pub use cloud::{FunctionCloud, Lazy, LiveCloud};
pub use function::{run, Function, InitError, HANDLER_VARIABLE};
pub use lambda_runtime::{Context, Diagnostic, Error, LambdaEvent};
pub use logging::log_subscriber;
pub use rehearsal_core::steps::Step;

use futures::FutureExt;
use rehearsal_core::steps::{invoke, Cloud};
use rehearsal_core::StepError;
use serde_json::Value;
use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use tracing::{field, Instrument, Span};

/// The `errorType` of an invocation whose handler panicked.
pub const PANIC_ERROR: &str = "PanicError";

/// One invocation of `step` on `cloud`: the JSON boundary of `rehearsal_core::steps::invoke`
/// inside [`handle_with`].
pub async fn handle<C: Cloud>(cloud: &C, step: Step, event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    // Boxed: the steps' futures nested in the runtime's layers overflow rustc's layout query depth.
    handle_with(step, event, |input| Box::pin(invoke(cloud, step, input))).await
}

/// Runs `handler` on the event's payload in a span carrying the step, the request id and the run
/// id, logs the outcome, and turns a step error or a panic into the Lambda error response.
pub async fn handle_with<F, Fut>(step: Step, event: LambdaEvent<Value>, handler: F) -> Result<Value, Diagnostic>
where
    F: FnOnce(Value) -> Fut,
    Fut: Future<Output = Result<Value, StepError>>,
{
    let (input, context) = event.into_parts();
    let span = tracing::info_span!("invocation", step = step.name(), request_id = %context.request_id, run_id = field::Empty);
    if let Some(run_id) = run_id_of(&input) {
        span.record("run_id", run_id);
    }
    async move {
        tracing::info!("step started");
        // Inside the async block, so a panic while building the handler's future is caught too.
        // Unwind safety: a panicked invocation leaves nothing behind that the next one reads
        // besides the clients, whose state is their connection pools.
        let outcome = AssertUnwindSafe(async move { handler(input).await }).catch_unwind().await;
        match outcome {
            Ok(Ok(output)) => {
                // The plan step is where the run id is decided: its output is the plan.
                if let (Step::PlanRehearsal, Some(run_id)) = (step, output.get("run_id").and_then(Value::as_str)) {
                    Span::current().record("run_id", run_id);
                }
                tracing::info!(outcome = "succeeded", "step succeeded");
                Ok(output)
            }
            Ok(Err(error)) => {
                tracing::warn!(outcome = "failed", error_type = error.name(), error_message = %error, "step failed");
                Err(diagnostic(&error))
            }
            Err(panic) => {
                let message = format!("{} panicked: {}", step.name(), panic_message(panic.as_ref()));
                tracing::error!(outcome = "panicked", error_type = PANIC_ERROR, error_message = %message, "step panicked");
                Err(Diagnostic { error_type: PANIC_ERROR.into(), error_message: message })
            }
        }
    }
    .instrument(span)
    .await
}

/// The Lambda error response for a step error. (A `From<StepError> for Diagnostic` cannot live
/// here: both types are foreign to this crate.)
pub fn diagnostic(error: &StepError) -> Diagnostic {
    Diagnostic { error_type: error.name().into(), error_message: error.to_string() }
}

/// Every step after the plan receives it as `plan`.
fn run_id_of(input: &Value) -> Option<&str> {
    input.pointer("/plan/run_id").and_then(Value::as_str)
}

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    if let Some(text) = panic.downcast_ref::<&str>() {
        text
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text
    } else {
        "a panic without a message"
    }
}
