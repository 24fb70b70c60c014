//! A local interpreter of AWS Step Functions state machines (Amazon States Language, JSONPath
//! query language) with a virtual clock. It runs the very ASL files deployed to AWS: parse with
//! [`Definition::parse`] (after [`substitute`] for `${...}` placeholders), then [`run`] with a
//! [`TaskInvoker`] that stands in for Lambda.
//!
//! Run: Pass, Task (Lambda function ARNs, `arn:aws:states:::lambda:invoke` and its
//! `.waitForTaskToken` callback form with `$$.Task.Token`, `arn:aws:states:::sns:publish`
//! executed by the [`TaskInvoker`] as a resource name), Choice, Wait,
//! Succeed, Fail, Parallel; InputPath → Parameters → task → ResultSelector → ResultPath →
//! OutputPath; the `$$` context object; all JSONPath intrinsic functions; Retry (per-retrier
//! counts, BackoffRate, MaxDelaySeconds) and Catch; TimeoutSeconds(Path) on tasks and on the
//! state machine; the 256 KiB payload quota; the execution history cap.
//!
//! Refused with [`AslError::Unsupported`] naming the state and the feature: Map and Distributed
//! Map, JSONata, workflow variables (Assign), other service integrations and integration patterns
//! (`.sync`, `.waitForTaskToken` of anything but lambda:invoke), activities, HeartbeatSeconds,
//! Credentials, JitterStrategy FULL, JSONPath filters/functions/slice steps, `$$.Task.Token`
//! outside a callback task, and the rest of the `$$.Task`/`$$.Map` context.
//!
//! Every execution ends with an [`ExecutionRecord`]; [`redrive()`] continues an unsuccessful one
//! from where it stopped, with AWS's RedriveExecution rules (the [`redrive`](mod@redrive) module
//! lists them with their sources).
//!
//! Every wait, retry delay and timeout sleeps on `tokio::time`: under a paused current-thread
//! runtime (tokio's `test-util`, `start_paused(true)`) a 45-minute execution takes milliseconds.
//!
//! Views of a parsed definition that do not run it: [`flowchart`] draws it as a Mermaid
//! flowchart; [`critical_path`] and [`eta`] estimate how long it takes, before and while it
//! runs, from a table of [`ExpectedDurations`].

mod choice;
mod definition;
mod diagram;
mod error;
mod estimate;
mod events;
mod intrinsic;
mod path;
pub mod redrive;
mod runner;
mod scripted;
mod substitute;
mod template;

pub use definition::Definition;
pub use diagram::flowchart;
pub use error::AslError;
pub use estimate::{critical_path, eta, Estimate, EstimateError, ExpectedDurations, PathStep, Span};
pub use events::{Event, Observer, RecordingObserver};
pub use redrive::{Branch, ExecutionRecord, ExecutionStatus, Position};
pub use runner::{redrive, run, Execution, Outcome, RunOptions, TaskCall, TaskFailure, TaskInvoker, SNS_PUBLISH};
pub use scripted::ScriptedInvoker;
pub use substitute::substitute;
