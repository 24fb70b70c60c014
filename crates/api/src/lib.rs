//! The rehearsal HTTP API, served by one Lambda behind an API Gateway HTTP API with IAM (SigV4)
//! authorization. `infra/openapi.yaml` documents it; [`Route::ALL`] is what the handler answers.
//!
//! * `POST /runs`: the body is a run document, validated as the staging machine's first step
//!   does, before any AWS call (400 naming the field). The `Idempotency-Key` header names the
//!   staging execution, so a retried request starts nothing twice (409 when the key was used for
//!   another document). 409 too, naming the holder, while a running execution of another run
//!   holds the app's staging lease ([`rehearsal_core::lease`]).
//! * `GET /runs/{id}`: status, the states the run is in (from the execution history), its report
//!   (the execution's output) or failure, its run id, what a promotion of it would ship (the
//!   source the staging run built: repository and branch, or image, and its commands), and its
//!   running promotions (who requested each, whether it accepted a source-built production's branch head, whether it awaits a decision).
//! * `POST /runs/{id}/promote`: starts the promote machine on a run that passed; the
//!   `Idempotency-Key` names the promotion, and `requested_by` is the caller's IAM principal
//!   (API Gateway's `requestContext.authorizer.iam.userArn`), never the body's.
//! * `POST /runs/{id}/approve`, `/reject`: writes the caller's decision, with the caller's
//!   principal, to [`approval_parameter`](rehearsal_core::promotion::approval_parameter)`(promotion)`,
//!   which the promote machine's `check_approval` step reads. An approval by the promotion's
//!   requester, or by a principal outside the stack's `APPROVERS`, is a 403; no promotion
//!   waiting is a 409. There is no task token to leak: the decision parameter is writable only by
//!   the API's role, and `check_approval` checks again who gave and who wrote it.
//! * `POST /environments/staging/teardown`: starts the teardown machine on a finished run's plan.
//!
//! [`Api`] is generic over [`StateMachines`](rehearsal_core::cloud::StateMachines) (start,
//! describe, history, list running) and [`ParameterStore`](rehearsal_core::cloud::ParameterStore),
//! which `rehearsal-aws` implements over the SDK.

mod api;
mod history;
mod local_request;
mod routes;

pub use api::{execution_arn, Api, Config, IDEMPOTENCY_KEY, PLAN_STATE, TEARDOWN_ENVIRONMENT};
pub use local_request::{answer, request};
pub use routes::{match_route, Matched, Route};
