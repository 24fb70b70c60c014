//! The one bootstrap of every function in the template: [`run`] reads the function's handler
//! (`Handler:` in the template, which Lambda passes to a custom runtime as `_HANDLER`) and serves
//! that [`Function`]. A handler it does not know fails the init through the Runtime API
//! (`/runtime/init/error`), naming it and listing the known ones, before any client is built.

use crate::{handle, log_subscriber, logging, FunctionCloud};
use lambda_runtime::{Diagnostic, Error};
use lambda_runtime_api_client::{build_request, PooledClient};
use rehearsal_api::{Api, Config};
use rehearsal_aws::{load_config, AwsCloud, StepFunctions};
use rehearsal_core::steps::Step;
use std::env;

/// Where Lambda puts the function's configured handler.
pub const HANDLER_VARIABLE: &str = "_HANDLER";

/// What one function of the template serves, named by its handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// A runbook step, under [`Step::name`].
    Step(Step),
    /// The HTTP API behind API Gateway (rehearsal-api), under [`Function::API`].
    Api,
}

impl Function {
    /// The API function's handler.
    pub const API: &'static str = "api";

    /// Every function, the API first, then the steps as [`Step::ALL`] lists them.
    pub fn all() -> impl Iterator<Item = Function> {
        std::iter::once(Function::Api).chain(Step::ALL.iter().copied().map(Function::Step))
    }

    /// The `Handler:` a function of the template gives to serve this.
    pub fn handler(self) -> &'static str {
        match self {
            Function::Step(step) => step.name(),
            Function::Api => Self::API,
        }
    }

    /// The function a handler names; `None` (unset) and `""` are the missing handler.
    pub fn from_handler(handler: Option<&str>) -> Result<Function, InitError> {
        let handler = handler.filter(|h| !h.is_empty()).ok_or(InitError::MissingHandler)?;
        Function::all().find(|f| f.handler() == handler).ok_or_else(|| InitError::UnknownHandler(handler.to_string()))
    }
}

/// Why a function could not start. Lambda answers the invocation that started the container with
/// it, and retries the init on the next one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InitError {
    #[error("no handler: {HANDLER_VARIABLE} is not set; the function's Handler must be one of {}", known_handlers())]
    MissingHandler,
    #[error("unknown handler {0:?}: the function's Handler must be one of {known}", known = known_handlers())]
    UnknownHandler(String),
    /// The function's environment or its clients (the API's state machine ARNs, the HTTP clients).
    #[error("{0}")]
    Setup(String),
}

impl InitError {
    /// The `errorType` Lambda reports, in its `Runtime.` category.
    pub fn error_type(&self) -> &'static str {
        match self {
            InitError::MissingHandler | InitError::UnknownHandler(_) => "Runtime.NoSuchHandler",
            InitError::Setup(_) => "Runtime.InitError",
        }
    }

    pub fn diagnostic(&self) -> Diagnostic {
        Diagnostic { error_type: self.error_type().into(), error_message: self.to_string() }
    }
}

fn known_handlers() -> String {
    Function::all().map(Function::handler).collect::<Vec<_>>().join(", ")
}

/// A function ready to serve: its clients are built.
enum Ready {
    Step(Step, FunctionCloud),
    Api(Api<StepFunctions, AwsCloud>),
}

/// The bootstrap's `main`: logs, the function its handler names, its clients, then the runtime
/// loop until the container is stopped. An init failure is reported to the Runtime API and
/// returned, which ends the process as Lambda expects after `/init/error`.
pub async fn run() -> Result<(), Error> {
    tracing::subscriber::set_global_default(log_subscriber(&logging::directives_from_env(), std::io::stdout))?;
    match init(env::var(HANDLER_VARIABLE).ok().as_deref()).await {
        Ok(Ready::Step(step, cloud)) => lambda_runtime::run(lambda_runtime::service_fn(|event| handle(&cloud, step, event))).await,
        Ok(Ready::Api(api)) => {
            let api = &api;
            lambda_http::run(lambda_http::service_fn(move |request| async move { Ok::<_, Error>(api.handle(request).await) })).await
        }
        Err(error) => {
            tracing::error!(error_type = error.error_type(), error_message = %error, "init failed");
            if let Err(report) = report_init_error(&error).await {
                tracing::error!(error_message = %report, "the init error could not be reported to the Runtime API");
            }
            Err(error.into())
        }
    }
}

async fn init(handler: Option<&str>) -> Result<Ready, InitError> {
    let setup = |e: Error| InitError::Setup(e.to_string());
    match Function::from_handler(handler)? {
        Function::Step(step) => Ok(Ready::Step(step, FunctionCloud::from_environment().await.map_err(setup)?)),
        Function::Api => {
            let config = Config::from_env().map_err(InitError::Setup)?;
            let sdk = load_config(None).await;
            Ok(Ready::Api(Api::new(StepFunctions::new(&sdk), AwsCloud::new(&sdk), config)))
        }
    }
}

/// POST `/runtime/init/error`. Outside Lambda (no `AWS_LAMBDA_RUNTIME_API`) there is no one to
/// tell, and the returned error is the whole answer.
async fn report_init_error(error: &InitError) -> Result<(), Error> {
    if env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        return Ok(());
    }
    let body = serde_json::to_vec(&error.diagnostic())?;
    let request = build_request()
        .method("POST")
        .uri("/2018-06-01/runtime/init/error")
        .header("Lambda-Runtime-Function-Error-Type", error.error_type())
        .header("Content-Type", "application/json")
        .body(body.into())?;
    let response = PooledClient::builder().build().call(request).await?;
    if !response.status().is_success() {
        return Err(format!("the Runtime API answered {}", response.status()).into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_and_the_api_is_found_by_its_handler() {
        assert_eq!(Function::from_handler(Some("api")), Ok(Function::Api));
        for &step in Step::ALL {
            assert_eq!(Function::from_handler(Some(step.name())), Ok(Function::Step(step)));
        }
        assert_eq!(Function::all().count(), Step::ALL.len() + 1);
    }

    #[test]
    fn an_unknown_or_missing_handler_is_named_with_the_known_ones() {
        let unknown = Function::from_handler(Some("bootstrap")).unwrap_err();
        assert_eq!(unknown, InitError::UnknownHandler("bootstrap".into()));
        let message = unknown.to_string();
        let listed = format!("unknown handler \"bootstrap\": the function's Handler must be one of api, {}, ", Step::ALL[0].name());
        assert!(message.starts_with(&listed), "{message}");
        for &step in Step::ALL {
            assert!(message.contains(step.name()), "{message} lacks {}", step.name());
        }
        assert_eq!(unknown.error_type(), "Runtime.NoSuchHandler");

        for missing in [None, Some("")] {
            let error = Function::from_handler(missing).unwrap_err();
            assert_eq!(error, InitError::MissingHandler);
            assert!(error.to_string().starts_with("no handler: _HANDLER is not set"), "{error}");
        }
    }
}
