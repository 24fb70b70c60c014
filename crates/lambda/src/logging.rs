//! JSON log lines for CloudWatch.
//!
//! Two limits hold whatever `RUST_LOG` says, because below them libraries print payloads:
//! * nothing finer than DEBUG: at TRACE, lambda_runtime prints every raw event and the SDK every
//!   request and response body (a PutParameter carries a secret value in its body);
//! * `log` records are not forwarded (no `LogTracer`): tokio-postgres logs statement parameters
//!   at DEBUG through `log`.

use std::env;
use tracing::Subscriber;
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

/// The filter directives a function runs with: `RUST_LOG`, else the level of Lambda's advanced
/// logging controls (`AWS_LAMBDA_LOG_LEVEL`), else `info`.
pub fn directives_from_env() -> String {
    if let Some(rust_log) = env::var("RUST_LOG").ok().filter(|v| !v.trim().is_empty()) {
        return rust_log;
    }
    match env::var("AWS_LAMBDA_LOG_LEVEL") {
        // Lambda's levels are log4j's; tracing has no FATAL.
        Ok(level) if level.eq_ignore_ascii_case("fatal") => "error".into(),
        Ok(level) if !level.trim().is_empty() => level.to_ascii_lowercase(),
        _ => "info".into(),
    }
}

/// One JSON object per line: level, message and fields at the top, the invocation span's fields
/// (step, request id, run id) under `span`. No timestamp: CloudWatch stamps every line. Directives
/// that do not parse are skipped (a typo in `RUST_LOG` must not stop the function).
pub fn log_subscriber<W>(directives: &str, writer: W) -> impl Subscriber + Send + Sync + 'static
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::builder().with_default_directive(LevelFilter::INFO.into()).parse_lossy(directives);
    let format = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_ansi(false)
        .without_time()
        .with_writer(writer);
    tracing_subscriber::registry().with(LevelFilter::DEBUG).with(filter).with(format)
}
