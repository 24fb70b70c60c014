//! The cost section of the runbook: "delete staging resources after successful production
//! deployment". The teardown state machine runs this until nothing is left: the staging
//! service, the staging database (after a final snapshot, by default), the staging parameters,
//! the run's Stripe webhook endpoints, the staging frontend bucket (every version) and, last, the pending teardown schedule. It is the
//! rollback's code ([`remove_staging`]): only what carries this run's staging tags is deleted,
//! and a plan that names a production resource is refused before any call.
//!
//! Step: `teardown_staging` (teardown.asl.json `TearDownStaging`, looped by
//! `WaitBeforeTearingDownAgain`). Tests: tests/steps/teardown.rs; end to end, tests/teardown.rs
//! `teardown_deletes_exactly_the_runs_staging_resources_and_twice_is_fine`,
//! `a_production_resource_tagged_as_staging_is_refused`.

use super::rollback::{remove_staging, RemovalOptions, RollbackState};
use crate::cloud::{Distributions, ObjectStore, ParameterStore, PaymentWebhooks, Rds, Scheduler, ServiceHost};
use crate::naming::final_snapshot_id;
use crate::plan::RunPlan;
use crate::run::parse_document;
use crate::StepError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeardownInput {
    /// The execution input: what the run's schedule sends, or the API and the CLI alike.
    pub request: Value,
    /// How many times the teardown ran before in this execution.
    pub attempts: u32,
}

/// `{"plan": …, "reason": …}`, as `teardown_schedule` builds it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TeardownRequest {
    plan: RunPlan,
    /// Why: `time to live`, `promoted`, or whatever an operator says.
    reason: String,
    /// Snapshot the staging database before deleting it.
    #[serde(default = "keep_a_final_snapshot")]
    final_snapshot: bool,
}

fn keep_a_final_snapshot() -> bool {
    true
}

/// `$.teardown`: the attempt's [`RollbackState`] with the reason it was asked for.
#[derive(Debug, Clone, Serialize)]
pub struct TeardownState {
    pub reason: String,
    #[serde(flatten)]
    pub removal: RollbackState,
}

pub async fn teardown_staging<C: Rds + ParameterStore + ServiceHost + Scheduler + PaymentWebhooks + ObjectStore + Distributions + Sync>(
    cloud: &C,
    input: TeardownInput,
) -> Result<TeardownState, StepError> {
    let request: TeardownRequest = parse_document(input.request, "the teardown request")?;
    let plan = &request.plan;
    let options = RemovalOptions {
        final_snapshot_id: request.final_snapshot.then(|| final_snapshot_id(&plan.staging_db.instance_id, &plan.run_id)),
        keep_backup_snapshot: true,
    };
    let removal = remove_staging(cloud, plan, input.attempts, &options).await?;
    Ok(TeardownState { reason: request.reason, removal })
}
