//! The real network implementations of core's probe traits, used by the step Lambdas:
//!
//! * [`PostgresProbe`]: [`DatabaseProbe`](rehearsal_core::cloud::DatabaseProbe) over
//!   tokio-postgres with rustls, verifying the server against the bundled Amazon RDS roots, every
//!   query in a read-only transaction that is rolled back.
//!   It is also the [`DatabaseMasker`](rehearsal_core::cloud::DatabaseMasker) of the staging
//!   copy: rules checked against information_schema, one transaction per table, batches, a
//!   bookkeeping table that makes a re-run change nothing, and the read-only verification.
//!   And the [`DatabaseWarmer`](rehearsal_core::cloud::DatabaseWarmer): the largest tables read
//!   with `pg_prewarm` or sequentially, within a time limit, a sample query timed around it.
//! * [`ReqwestClient`]: [`HttpClient`](rehearsal_core::cloud::HttpClient) over reqwest, no
//!   redirects followed, with optional retries while the service is still starting.
//! * [`StripeClient`]: [`PaymentWebhooks`](rehearsal_core::cloud::PaymentWebhooks) over Stripe's
//!   REST API with reqwest: every page of the endpoint list, idempotent creation, Stripe's
//!   errors as `CloudError`s, keys kept out of every message.

mod http;
mod masking;
mod postgres;
mod prewarm;
mod stripe;
mod values;

pub use http::ReqwestClient;
pub use postgres::{target_from_url, PostgresProbe, TlsMode, RDS_CA_BUNDLE_PEM};
pub use stripe::{StripeClient, STRIPE_API_BASE, STRIPE_API_VERSION};

/// An error and its causes on one line; the libraries' top-level text alone ("error connecting
/// to server", "error sending request") does not say what went wrong.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
