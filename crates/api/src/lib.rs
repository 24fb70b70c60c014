//! The rehearsal HTTP API, served by one Lambda behind an API Gateway HTTP API with IAM (SigV4)
//! authorization. `infra/openapi.yaml` documents it; [`Route::ALL`] is what the handler answers.
//!
//! * `POST /runs`: the body is a run document, validated as the staging machine's first step
//!   does, before any AWS call (400 naming the field). The `Idempotency-Key` header names the
//!   staging execution, so a retried request starts nothing twice (409 when the key was used for
//!   another document).
//! * `GET /runs/{id}`: status, the states the run is in (from the execution history), its report
//!   (the execution's output) or failure, its run id, and whether a promotion of it awaits approval.
//! * `POST /runs/{id}/approve`, `/reject`: answers the approval a promotion of the run waits on.
//!   The promote machine's `request_approval` step keeps the waiting task's token in the
//!   SecureString [`approval_parameter`](rehearsal_core::promotion::approval_parameter)`(run id)`;
//!   the API reads it and sends SendTaskSuccess, or SendTaskFailure with
//!   [`APPROVAL_REJECTED`](rehearsal_core::promotion::APPROVAL_REJECTED). No parameter, or a token
//!   nobody waits on any more, is a 409.
//! * `POST /environments/staging/teardown`: starts the teardown machine on a finished run's plan.
//!
//! [`Api`] is generic over [`StateMachines`](rehearsal_core::cloud::StateMachines) (start,
//! describe, history, send-task-*) and [`ParameterStore`](rehearsal_core::cloud::ParameterStore),
//! which `rehearsal-aws` implements over the SDK.

mod api;
mod history;
mod local_request;
mod routes;

pub use api::{execution_arn, Api, Config, IDEMPOTENCY_KEY, PLAN_STATE, TEARDOWN_ENVIRONMENT};
pub use local_request::{answer, request};
pub use routes::{match_route, Matched, Route};
