//! A local interpreter of AWS Step Functions state machines (Amazon States Language, JSONPath
//! query language) with a virtual clock. It runs the very ASL files deployed to AWS: parse with
//! [`Definition::parse`] (after [`substitute`] for `${...}` placeholders), then [`run`] with a
//! [`TaskInvoker`] that stands in for Lambda. Whatever it cannot run faithfully is refused with
//! [`AslError::Unsupported`] naming the state and the feature.

mod choice;
mod definition;
mod error;
mod events;
mod intrinsic;
mod path;
mod runner;
mod scripted;
mod substitute;
mod template;

pub use definition::Definition;
pub use error::AslError;
pub use events::{Event, Observer, RecordingObserver};
pub use runner::{run, Execution, Outcome, RunOptions, TaskCall, TaskFailure, TaskInvoker};
pub use scripted::ScriptedInvoker;
pub use substitute::substitute;
