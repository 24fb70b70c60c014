//! The rehearsal API Lambda: the state machine ARNs from the environment, the Step Functions and
//! Parameter Store clients built once for the container's life, and [`Api::handle`] for every
//! request.

use lambda_http::{service_fn, Error, Request};
use rehearsal_api::{Api, Config};
use rehearsal_aws::{load_config, AwsCloud, StepFunctions};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .json()
        .with_ansi(false)
        .without_time()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    let config = Config::from_env()?;
    let sdk = load_config(None).await;
    let api = Api::new(StepFunctions::new(&sdk), AwsCloud::new(&sdk), config);
    let api = &api;
    lambda_http::run(service_fn(move |request: Request| async move { Ok::<_, Error>(api.handle(request).await) })).await
}
