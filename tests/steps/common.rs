//! What the per-step tests share: a run planned by `plan_rehearsal` on a fresh simulated account
//! from the end-to-end tests' run document, each step invoked through its JSON boundary as its
//! Lambda would be (in a session named after the step, so its faults apply and the ledger names
//! it), and the earlier steps' results made by invoking those steps, never written by hand.

use rehearsal_cli::follow_up::LOCAL_REQUESTER;
use rehearsal_core::cloud::Clock;
use rehearsal_core::phase::Phase;
use rehearsal_core::plan::RunPlan;
use rehearsal_core::promotion::{PromoteInput, Promotion};
use rehearsal_core::steps::{invoke, Step};
use rehearsal_core::tags::{Ownership, RunTags, Tags};
use rehearsal_core::StepError;
use rehearsal_sim::{ExistingResource, Fault, FaultKind, SimAccount, SimCloud};
use rehearsal_tests::{new_account, run_document, stack_settings, start_time};
use serde_json::{json, Value};
use std::time::Duration;

/// How often a test polls a check, as the state machines' Wait states do.
const POLL: Duration = Duration::from_secs(60);
/// More polls than any simulated resource needs to settle (the slowest, a restore, takes ~12).
const MAX_POLLS: usize = 120;

/// What the staging machine passes `plan_rehearsal` for `document`: the execution named
/// `staging` started at [`start_time`] (so the run id is [`rehearsal_tests::RUN_ID`]) on the
/// simulated stack.
pub fn plan_input(document: Value) -> Value {
    json!({"input": document, "execution_name": "staging", "execution_start": start_time(), "stack": stack_settings()})
}

/// The name of the promote execution [`Run::promotion`] stands for.
pub const PROMOTE_EXECUTION: &str = "promote";

/// One rehearsal on its own simulated account, planned but with nothing created yet.
pub struct Run {
    pub account: SimAccount,
    pub plan: RunPlan,
}

impl Run {
    pub async fn planned() -> Run {
        Run::planned_on(new_account()).await
    }

    /// The run planned on `account` (where, say, a staging run already passed).
    pub async fn planned_on(account: SimAccount) -> Run {
        let plan = invoke(&account.session(Step::PlanRehearsal.name()), Step::PlanRehearsal, plan_input(run_document()))
            .await
            .expect("the run document plans");
        Run { account, plan: serde_json::from_value(plan).expect("plan_rehearsal answers a plan") }
    }

    /// Invokes `step` as its Lambda would be.
    pub async fn call(&self, step: Step, input: Value) -> Result<Value, StepError> {
        invoke(&self.account.session(step.name()), step, input).await
    }

    /// Invokes `step`, which must succeed.
    pub async fn ok(&self, step: Step, input: Value) -> Value {
        self.call(step, input).await.unwrap_or_else(|e| panic!("{}: {e}", step.name()))
    }

    /// `{"plan": …}` plus `fields`: the shape of most steps' input.
    pub fn with_plan(&self, fields: Value) -> Value {
        let mut input = json!({"plan": self.plan});
        input.as_object_mut().unwrap().extend(fields.as_object().expect("fields are an object").clone());
        input
    }

    /// Calls `check` with `{"plan", key: state}` once a (virtual) minute, as a wait loop does,
    /// until the phase is no longer `in_progress`; answers the last state.
    pub async fn wait_for(&self, check: Step, key: &str, mut state: Value) -> Value {
        for _ in 0..MAX_POLLS {
            if phase(&state) != Phase::InProgress {
                return state;
            }
            tokio::time::sleep(POLL).await;
            state = self.ok(check, self.with_plan(json!({ key: state }))).await;
        }
        panic!("{} still in progress after {MAX_POLLS} polls: {state}", check.name())
    }

    /// Calls a step that removes things (`rollback_staging`, `teardown_staging`) again, a minute
    /// apart, with the attempts so far, until its phase is `ready`; answers every attempt's state.
    pub async fn until_removed(&self, step: Step, input: impl Fn(u32) -> Value) -> Vec<Value> {
        let mut attempts = Vec::new();
        for _ in 0..MAX_POLLS {
            let state = self.ok(step, input(attempts.len() as u32)).await;
            let done = phase(&state) == Phase::Ready;
            attempts.push(state);
            if done {
                return attempts;
            }
            tokio::time::sleep(POLL).await;
        }
        panic!("{} not done after {MAX_POLLS} attempts: {:?}", step.name(), attempts.last())
    }

    /// Runbook steps 1–4 and the teardown schedule: everything a staging run makes before its
    /// checks, the Stripe endpoint included.
    pub async fn staging_built(&self) {
        let (service, _) = self.service_running().await;
        let webhook = self.ok(Step::RegisterStripeWebhook, self.with_plan(json!({}))).await;
        self.ok(Step::PointStripeWebhook, self.with_plan(json!({"webhook": webhook, "service_url": service["url"]}))).await;
        self.ok(Step::ScheduleStagingTeardown, self.with_plan(targets())).await;
    }

    pub fn inject(&self, step: Step, kind: FaultKind) {
        self.account.inject(Fault::new(step.name(), kind));
    }

    /// Someone else's session, to make what the run must not touch.
    pub fn operator(&self) -> SimCloud {
        self.account.session("operator")
    }

    pub fn this_run(&self) -> &RunTags {
        &self.plan.tags
    }

    /// `kind id` of every resource `step` created, as the ledger has it.
    pub fn created_by(&self, step: Step) -> Vec<String> {
        self.account.ledger().created.iter().filter(|r| r.step == step.name()).map(|r| format!("{} {}", r.kind, r.id)).collect()
    }

    /// `kind id` of every deletion `step` asked for.
    pub fn deleted_by(&self, step: Step) -> Vec<String> {
        self.account.ledger().deleted.iter().filter(|r| r.step == step.name()).map(|r| format!("{} {}", r.kind, r.id)).collect()
    }

    /// The operations `step` called, in order.
    pub fn calls_of(&self, step: Step) -> Vec<String> {
        self.account.ledger().calls.iter().filter(|c| c.step == step.name()).map(|c| c.operation.clone()).collect()
    }

    /// What the `already-exists` fault planted, by id.
    pub fn foreign_ids(&self) -> Vec<String> {
        self.account.ledger().foreign.iter().map(|r| r.id.clone()).collect()
    }

    /// Every write any step made to a production resource.
    pub fn production_writes(&self) -> Vec<String> {
        self.account.ledger().production_writes.iter().map(|w| format!("{} {} by {}", w.operation, w.resource, w.step)).collect()
    }

    /// The resource of `kind` named `id`, as it exists now.
    pub fn existing(&self, kind: &str, id: &str) -> Option<ExistingResource> {
        self.account.existing_resources().into_iter().find(|r| r.kind == kind && r.id == id)
    }

    /// The resource exists and carries this run's tags (tool, app, environment, run id).
    pub fn assert_this_runs(&self, kind: &str, id: &str) {
        let resource = self.existing(kind, id).unwrap_or_else(|| panic!("no {kind} {id}"));
        assert_eq!(self.this_run().ownership(&resource.tags), Ownership::ThisRun, "{kind} {id}: {:?}", resource.tags);
    }

    /// Runbook step 1, waited for: the production snapshot, available.
    pub async fn snapshot_available(&self) -> Value {
        let snapshot = self.ok(Step::SnapshotProductionDatabase, self.with_plan(json!({}))).await;
        self.wait_for(Step::CheckProductionSnapshot, "snapshot", snapshot).await
    }

    /// Runbook steps 1 and 2, waited for: the staging database, available.
    pub async fn database_available(&self) -> Value {
        let snapshot = self.snapshot_available().await;
        let database = self.ok(Step::RestoreStagingDatabase, self.with_plan(json!({"snapshot_id": snapshot["snapshot_id"]}))).await;
        self.wait_for(Step::CheckStagingDatabase, "database", database).await
    }

    /// Runbook step 3 on an available staging database, whose password then becomes the one of
    /// its DATABASE_URL: every parameter the service references,
    /// variable → ARN, as the staging definition merges them.
    pub async fn parameters_written(&self) -> Value {
        let database = self.database_available().await;
        let mut secrets = self.ok(Step::WriteStagingParameters, self.with_plan(json!({}))).await["arns"].clone();
        let url = self.ok(Step::WriteStagingDatabaseUrl, self.with_plan(json!({"endpoint": database["endpoint"]}))).await;
        secrets.as_object_mut().unwrap().extend(url["arns"].as_object().unwrap().clone());
        // The copy gets the URL's new password, as the staging machine does next.
        let reset = self.ok(Step::ResetStagingDatabasePassword, self.with_plan(json!({"database": database}))).await;
        assert_eq!(phase(&self.wait_for(Step::CheckStagingDatabase, "database", reset).await), Phase::Ready);
        secrets
    }

    /// Runbook steps 1–4: the staging service created and running. Answers its state and the
    /// secrets it references.
    pub async fn service_running(&self) -> (Value, Value) {
        let secrets = self.parameters_written().await;
        let service = self.ok(Step::CreateStagingService, self.with_plan(json!({"secrets": secrets}))).await;
        let service = self.wait_for(Step::CheckStagingService, "service", service).await;
        assert_eq!(phase(&service), Phase::Ready, "{service}");
        (service, secrets)
    }

    /// What `verify_rehearsal_passed` makes of a promotion of this run (it re-derives this same
    /// plan from the staging execution), started now.
    pub fn promotion(&self) -> Value {
        let document = PromoteInput {
            run_id: self.plan.run_id.clone(),
            staging_execution_arn: "arn:aws:states:us-east-1:123456789012:execution:rehearsal-staging:staging".into(),
            requested_by: Some(LOCAL_REQUESTER.into()),
            // The runbook's production builds its branch.
            accept_branch_head: true,
            ..PromoteInput::default()
        };
        let started = self.account.session("promotion").now();
        json!(Promotion::new(self.plan.clone(), &document, started, PROMOTE_EXECUTION).expect("a valid promotion"))
    }
}

/// The ARNs the template substitutes into both definitions' teardown-schedule states.
pub fn targets() -> Value {
    let values = rehearsal_cli::invoker::local_substitutions();
    json!({"teardown_state_machine_arn": values["TeardownStateMachineArn"], "scheduler_role_arn": values["SchedulerRoleArn"]})
}

/// Lets virtual time pass (at once: the clock is paused).
pub async fn minutes(m: u64) {
    tokio::time::sleep(Duration::from_secs(m * 60)).await;
}

/// The `phase` a check put in its state.
pub fn phase(state: &Value) -> Phase {
    serde_json::from_value(state["phase"].clone()).unwrap_or_else(|e| panic!("no phase in {state}: {e}"))
}

/// The step refused a resource it did not create, naming it.
pub fn assert_not_owned(result: Result<Value, StepError>, resource: &str) {
    match result {
        Err(StepError::ResourceNotOwned { resource: named, .. }) => assert!(named.contains(resource), "{named} does not name {resource}"),
        other => panic!("expected ResourceNotOwned for {resource}, got {other:?}"),
    }
}

/// The checks ran and some failed: their message.
pub fn check_failed(result: Result<Value, StepError>) -> String {
    match result {
        Err(StepError::CheckFailed(why)) => why,
        other => panic!("expected CheckFailed, got {other:?}"),
    }
}

/// Something the step depends on is missing: the message, which must name it.
pub fn not_ready(result: Result<Value, StepError>, name: &str) {
    match result {
        Err(StepError::ProductionNotReady(why)) => assert!(why.contains(name), "{why} does not name {name}"),
        other => panic!("expected ProductionNotReady naming {name}, got {other:?}"),
    }
}

/// The run document (or a value checked against it) was refused: the field and the reason.
pub fn invalid_field(result: Result<Value, StepError>) -> (String, String) {
    match result {
        Err(StepError::InvalidInput { field, reason }) => (field, reason),
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

/// The step refused its input, naming the field.
pub fn assert_malformed(result: Result<Value, StepError>, field: &str) {
    match result {
        Err(StepError::MalformedInput(message)) => assert!(message.contains(field), "{message} does not name {field}"),
        other => panic!("expected MalformedInput naming {field}, got {other:?}"),
    }
}

/// Tags that say nothing of any run: what an operator's own resource carries.
pub fn foreign_tags() -> Tags {
    Tags::from([("owner".to_string(), "platform-team".to_string())])
}

/// `input` with the value at `pointer` replaced by an array, which no step field accepts.
pub fn garbled(mut input: Value, pointer: &str) -> Value {
    *input.pointer_mut(pointer).unwrap_or_else(|| panic!("no {pointer} in the input")) = json!(["not", "this"]);
    input
}
