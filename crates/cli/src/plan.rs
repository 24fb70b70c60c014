//! `rehearsal plan`: what a staging run would do, before it does anything. It runs the
//! pipeline's own first step (`plan_rehearsal`: validate the document, read production) and one
//! more read of production's database for its storage, then prints the resources the run would
//! create, what it reads, the guards that hold, the expected duration from the critical path of
//! `staging.asl.json` with AWS-typical durations, and the estimated cost. Nothing is written:
//! `tests/diagrams_and_estimates.rs` holds the simulated account's ledger to read calls only.

use crate::exit::{CliError, Exit};
use crate::input::read_json;
use crate::invoker::local_substitutions;
use crate::local::STAGING_DEFINITION;
use chrono::{DateTime, Timelike, Utc};
use rehearsal_asl::{critical_path, ExpectedDurations};
use rehearsal_core::cloud::{DbInstance, ReleaseSource, ServiceBackend};
use rehearsal_core::cost::{estimate, CostEstimate, RunUsage, StagingEnvironment};
use rehearsal_core::durations::TypicalDurations;
use rehearsal_core::error::CloudResultExt;
use rehearsal_core::lease::{lease_parameter, LeasedEnvironment};
use rehearsal_core::plan::{RunPlan, StagingDbPlan};
use rehearsal_core::run::RunInput;
use rehearsal_core::steps::plan_rehearsal::StackSettings;
use rehearsal_core::steps::{invoke, Cloud, Step};
use rehearsal_core::StepError;
use rehearsal_sim::seed::stack_settings;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct PlanCommand {
    /// Plan against the simulated AWS account (no AWS account needed).
    #[arg(long, required = true)]
    local: bool,
    /// The run document (JSON), as `rehearsal run --input` takes it; defaults to `{}`.
    #[arg(long)]
    input: Option<PathBuf>,
    /// Print the plan as JSON instead of text.
    #[arg(long)]
    json: bool,
}

impl PlanCommand {
    pub fn run(self) -> Result<Exit, CliError> {
        let document = read_json("--input", self.input.as_deref())?;
        let start_time = Utc::now().with_nanosecond(0).unwrap_or_else(Utc::now);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().expect("a tokio runtime");
        let account =
            runtime.block_on(async { crate::local::simulated_account(&document, rehearsal_sim::SimConfig::default(), start_time) });
        // Refused as a run refuses it: before the first call.
        crate::execution::checked_input(&document)?;
        // The execution a `rehearsal run --local` started now would be, on the simulated stack.
        let execution_name = crate::local::local_execution_name(start_time);
        let planned = runtime
            .block_on(plan(&account.session("plan"), document, &execution_name, start_time, &stack_settings()))
            .map_err(|error| CliError::Failed(error.to_string()))?;
        if self.json {
            let text = serde_json::to_string_pretty(&planned).map_err(|e| CliError::Failed(format!("the plan is not JSON: {e}")))?;
            println!("{text}");
        } else {
            print!("{}", planned.text());
        }
        Ok(Exit::Succeeded)
    }
}

/// What `rehearsal plan` prints.
#[derive(Debug, Clone, Serialize)]
pub struct StagingPlan {
    pub app: String,
    pub run_id: String,
    /// What the run reads of production (it never writes there).
    pub reads: Vec<PlannedResource>,
    /// What it creates, each tagged with the run's tags.
    pub creates: Vec<PlannedResource>,
    pub guards: Vec<String>,
    /// The critical path of staging.asl.json with AWS-typical durations, in minutes.
    pub expected_minutes: f64,
    pub critical_path: Vec<String>,
    pub cost: CostEstimate,
    /// What the cost is estimated for.
    pub environment: StagingEnvironment,
    /// The plan itself, as `plan_rehearsal` answers it to the next states.
    pub plan: RunPlan,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedResource {
    pub kind: String,
    pub name: String,
    pub settings: String,
}

fn resource(kind: &str, name: impl Into<String>, settings: impl Into<String>) -> PlannedResource {
    PlannedResource { kind: kind.into(), name: name.into(), settings: settings.into() }
}

/// Plans a run of `document` by the execution `execution_name` started at `start_time`, on a
/// stack with `stack`'s settings, with `cloud`'s read calls only; a bad document is refused,
/// naming the field, before the first.
pub async fn plan<C: Cloud>(
    cloud: &C,
    document: Value,
    execution_name: &str,
    start_time: DateTime<Utc>,
    stack: &StackSettings,
) -> Result<StagingPlan, StepError> {
    RunInput::from_json(document.clone())?.validate()?;
    let input = json!({"input": document, "execution_name": execution_name, "execution_start": start_time, "stack": stack});
    let planned = invoke(cloud, Step::PlanRehearsal, input).await?;
    let plan: RunPlan = serde_json::from_value(planned).map_err(|e| StepError::MalformedInput(format!("the plan: {e}")))?;
    let production_db = cloud
        .describe_instance(&plan.production.db_instance_id)
        .await
        .op("DescribeDBInstances")?
        .ok_or_else(|| StepError::ProductionNotReady(format!("production database {} vanished", plan.production.db_instance_id)))?;

    let durations = TypicalDurations::aws();
    let mut waits = durations.wait_durations();
    if plan.staging_db.restore_from_backups {
        // The copy has been restoring since before the snapshot's wait loop began.
        let restoring = waits.get("WaitForSnapshot").copied().unwrap_or_default();
        waits.entry("WaitForDatabase".to_string()).and_modify(|restore| *restore = restore.saturating_sub(restoring));
    }
    let expected = ExpectedDurations {
        tasks: durations.task_durations(),
        default_task: durations.default_task(),
        waits,
        choices: staging_choices(&plan.staging_db, plan.frontend_distribution),
    };
    let definition =
        crate::execution::definition(STAGING_DEFINITION, &local_substitutions()).map_err(|e| StepError::MalformedInput(e.to_string()))?;
    let path = critical_path(&definition, &expected).map_err(|e| StepError::MalformedInput(format!("the critical path: {e}")))?;
    let usage = RunUsage::of_execution(path.state_entries, path.task_entries, durations.default_task().as_secs_f64());
    let environment = StagingEnvironment::of_plan(&plan, &production_db, usage)
        .map_err(|e| StepError::MalformedInput(format!("the cost estimate: {e}")))?;
    let cost = estimate(&environment).map_err(|e| StepError::MalformedInput(format!("the cost estimate: {e}")))?;

    Ok(StagingPlan {
        app: plan.app.clone(),
        run_id: plan.run_id.clone(),
        reads: reads(&plan, &production_db),
        creates: creates(&plan, &production_db),
        guards: guards(&plan),
        expected_minutes: path.finish.as_secs_f64() / 60.0,
        critical_path: path.critical_path.iter().map(|s| s.name.clone()).collect(),
        cost,
        environment,
        plan,
    })
}

/// The exits `staging.asl.json`'s Choices take for a plan: its source Choices for an Aurora clone
/// (`staging.source: aurora-clone`), a copy restored from production's automated backups
/// (`point-in-time`) or from the safety snapshot, its warm-up Choice (`staging.prewarm.enabled`),
/// and its frontend Choices (`frontend.serving: cloudfront` serves it and makes FRONTEND_URL the
/// distribution's, so no second deployment).
pub fn staging_choices(staging_db: &StagingDbPlan, frontend_distribution: bool) -> BTreeMap<String, String> {
    let (first, after_snapshot) = match (staging_db.clone_cluster, staging_db.restore_from_backups, staging_db.snapshot_cluster) {
        (true, _, _) => ("NoInstanceSnapshot", "IsDatabaseAvailable"),
        (false, true, _) => ("RestoreStagingDatabaseToPointInTime", "IsDatabaseAvailable"),
        (false, false, true) => ("SnapshotProductionDatabase", "RestoreStagingCluster"),
        (false, false, false) => ("SnapshotProductionDatabase", "RestoreStagingDatabase"),
    };
    let warm_up = if staging_db.prewarm.enabled { "PrewarmStagingDatabase" } else { "PrewarmOff" };
    let (served, frontend_url) = if frontend_distribution {
        ("ServeStagingFrontend", "FrontendUrlPublished")
    } else {
        ("StagingFrontendNotServed", "PublishFrontendUrl")
    };
    BTreeMap::from([
        ("ChooseStagingSource".to_string(), first.to_string()),
        ("IsRestoreStarted".to_string(), after_snapshot.to_string()),
        ("IsPrewarmOn".to_string(), warm_up.to_string()),
        ("IsFrontendServedByCloudFront".to_string(), served.to_string()),
        ("IsFrontendUrlPublished".to_string(), frontend_url.to_string()),
    ])
}

fn reads(plan: &RunPlan, production_db: &DbInstance) -> Vec<PlannedResource> {
    let image = plan.release.requested_image.as_ref().map(|requested| {
        resource(
            "image",
            requested,
            format!("resolved once to its digest (ECR DescribeImages): {}", plan.release.image.as_deref().unwrap_or("")),
        )
    });
    let mut reads = vec![
        resource(
            "db-instance",
            &production_db.id,
            format!(
                "{}, {} GB {}, must be available",
                production_db.class, production_db.storage.allocated_gb, production_db.storage.storage_type
            ),
        ),
        resource("service", &plan.production.service_name, format!("its source and roles ({})", plan.production.service_arn)),
        resource("parameters", format!("{}*", plan.production.parameter_path), "must exist; copied values listed under creates"),
        resource("parameters", format!("{}*", plan.stripe_test_parameter_path), "Stripe test keys (live keys are refused)"),
        resource("parameter", &plan.validation.test_admin_password_parameter, "the checklist's test admin"),
    ];
    reads.extend(image);
    reads
}

fn creates(plan: &RunPlan, production_db: &DbInstance) -> Vec<PlannedResource> {
    let db = &plan.staging_db;
    let source = match &plan.service.source {
        ReleaseSource::Code { repository, .. } => format!("built from {} branch {}", repository.repository_url, repository.branch),
        ReleaseSource::Image(image) => format!("image {}", image.image),
    };
    let network = format!(
        "subnet group {}, security groups {}, not public",
        db.subnet_group.as_deref().unwrap_or("default"),
        db.security_group_ids.join(" ")
    );
    let mut creates = vec![resource(
        "parameter",
        lease_parameter(&plan.app, LeasedEnvironment::Staging),
        "the staging lease: refuses other runs until this one's rollback or teardown",
    )];
    match &db.cluster {
        // aurora-clone: no snapshot (RDS takes none of a cluster member; the clone needs none).
        Some(clone) if db.clone_cluster => creates.extend([
            resource("db-cluster", &clone.cluster_id, format!("copy-on-write clone of {}, {network}", clone.source_cluster_id)),
            resource("db-instance", &db.instance_id, format!("{} in {}, not public", db.class, clone.cluster_id)),
        ]),
        Some(copy) => creates.extend([
            resource("db-cluster-snapshot", &plan.snapshot_id, format!("of {} (kept after the run as its backup)", copy.source_cluster_id)),
            resource("db-cluster", &copy.cluster_id, format!("restored from the cluster snapshot, {network}")),
            resource("db-instance", &db.instance_id, format!("{} in {}, not public", db.class, copy.cluster_id)),
        ]),
        None => creates.extend([
            resource("db-snapshot", &plan.snapshot_id, format!("of {} (kept after the run as its backup)", production_db.id)),
            resource(
                "db-instance",
                &db.instance_id,
                format!(
                    "{}, {} GB {} from the snapshot, {network}",
                    db.class, production_db.storage.allocated_gb, production_db.storage.storage_type
                ),
            ),
        ]),
    }
    creates.extend(plan.staging_parameter_names().into_iter().map(|name| resource("parameter", name, "under the staging path only")));
    creates.push(resource("service", &plan.service.name, {
        let backend = plan.service.host.backend();
        let (cpu, memory) = match backend {
            ServiceBackend::AppRunner => (plan.service.cpu.clone(), plan.service.memory.clone()),
            ServiceBackend::EcsExpress => (format!("{} CPU units", plan.service.cpu), format!("{} MiB", plan.service.memory)),
        };
        let pinned = match &plan.release.requested_image {
            Some(requested) => format!(" (pinned from {requested})"),
            None => String::new(),
        };
        format!("{source}{pinned} on {}, {cpu} / {memory}", backend.name())
    }));
    creates.push(resource("stripe-webhook", format!("<staging URL>{}", plan.stripe_webhook.path), plan.stripe_webhook.events.join(", ")));
    creates.push(resource(
        "schedule",
        plan.teardown_schedule_name(),
        format!("one-time, tears staging down {} h after the start", plan.ttl_hours),
    ));
    creates
}

fn guards(plan: &RunPlan) -> Vec<String> {
    vec![
        format!(
            "production is only read: every write is refused on {} (database), {} (service) and {} (parameters)",
            plan.production.db_instance_id, plan.production.service_name, plan.production.parameter_path
        ),
        format!("everything created is tagged rehearsal:run-id={}; a re-run adopts only what carries it", plan.run_id),
        "any failure rolls staging back (everything above but the snapshot is deleted)".to_string(),
        format!("staging is torn down by its schedule after {} h even if nobody does it", plan.ttl_hours),
    ]
}

impl StagingPlan {
    /// The cost of this environment for an execution that used `run`.
    pub fn cost_of(&self, run: RunUsage) -> Result<CostEstimate, rehearsal_core::cost::CostError> {
        estimate(&StagingEnvironment { run, ..self.environment.clone() })
    }

    /// The plan as a person reads it.
    pub fn text(&self) -> String {
        let mut out =
            format!("rehearsal plan: a staging run of {} (run id {}), read-only: nothing was created or changed\n", self.app, self.run_id);
        let table = |out: &mut String, title: &str, rows: &[PlannedResource]| {
            out.push_str(&format!("\n{title}\n"));
            let kind = rows.iter().map(|r| r.kind.len()).max().unwrap_or(0);
            let name = rows.iter().map(|r| r.name.len()).max().unwrap_or(0);
            for row in rows {
                out.push_str(&format!("  {:kind$}  {:name$}  {}\n", row.kind, row.name, row.settings));
            }
        };
        table(&mut out, "Reads from production (never writes):", &self.reads);
        table(&mut out, "Would create:", &self.creates);
        out.push_str("\nGuards:\n");
        for guard in &self.guards {
            out.push_str(&format!("  - {guard}\n"));
        }
        out.push_str(&format!(
            "\nExpected duration: about {:.0} min (critical path of statemachine/staging.asl.json with AWS-typical durations: {})\n",
            self.expected_minutes,
            self.critical_path.iter().filter(|s| s.starts_with("WaitFor")).cloned().collect::<Vec<_>>().join(", ")
        ));
        let cost = &self.cost;
        out.push_str(&format!(
            "\nEstimated cost in {} ({} list prices as of {}): {:.3} per hour, {:.2} per day; {:.2} for this run and its {} h time to live\n",
            cost.region, cost.currency, cost.prices_as_of, cost.per_hour, cost.per_day, cost.for_ttl, cost.ttl_hours
        ));
        for line in &cost.lines {
            let per_hour = line.per_hour.map(|p| format!("{p:.4}/h")).unwrap_or_default();
            let per_run = line.per_run.map(|p| format!("{p:.4}/run")).unwrap_or_default();
            out.push_str(&format!("  {:<70} {:>14} {:>12} {:>12}\n", line.item, line.quantity, per_hour, per_run));
        }
        if !cost.unknown.is_empty() {
            out.push_str(&format!("  without a price here (left out of the totals): {}\n", cost.unknown.join(", ")));
        }
        out.push_str(&format!("  {}\n", cost.note));
        out
    }
}
