//! The account handle, sessions (one per step invocation) and the inspection API.

use crate::config::SimConfig;
use crate::fault::{Fault, FaultKind, EVENTUAL_LAG};
use crate::ledger::{Call, ExistingResource, Ledger, Recorded};
use crate::rds::Phase;
use crate::seed::{PRODUCTION_IMAGE, PRODUCTION_SERVICE};
use crate::world::{after, run_of, Ctx, Origin, World};
use chrono::{DateTime, Utc};
use rehearsal_core::cloud::{Clock, CloudResult, ExecutionInfo, Executions};
use rehearsal_core::tags::Tags;
use rehearsal_core::{CloudError, CloudErrorKind};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// A simulated AWS account. Cheap to clone; every clone is the same account.
#[derive(Clone)]
pub struct SimAccount {
    shared: Arc<Shared>,
}

struct Shared {
    world: Mutex<World>,
    /// Virtual time is `start + (tokio's Instant::now() - origin)`, so a paused tokio clock
    /// makes hours pass in no time.
    origin: Instant,
    start: DateTime<Utc>,
}

/// Calls as one step: every call is recorded under `step`, and that step's faults apply.
#[derive(Clone)]
pub struct SimCloud {
    account: SimAccount,
    step: Arc<str>,
}

impl SimAccount {
    /// Seeds the production stack. Must be called inside a tokio runtime (the clock is tokio's).
    pub fn new(config: SimConfig, start_time: DateTime<Utc>) -> Self {
        let world = World::new(config, start_time);
        Self { shared: Arc::new(Shared { world: Mutex::new(world), origin: Instant::now(), start: start_time }) }
    }

    /// The virtual time.
    pub fn now(&self) -> DateTime<Utc> {
        let elapsed = Instant::now().saturating_duration_since(self.shared.origin);
        self.shared.start + chrono::Duration::from_std(elapsed).unwrap_or(chrono::Duration::MAX)
    }

    /// The world, with everything that happened up to now applied. Never held across `.await`.
    pub(crate) fn world(&self) -> (MutexGuard<'_, World>, DateTime<Utc>) {
        let now = self.now();
        let mut world = self.shared.world.lock().unwrap_or_else(PoisonError::into_inner);
        world.settle(now);
        (world, now)
    }

    pub fn inject(&self, fault: Fault) {
        self.world().0.faults.push(fault);
    }

    /// How many times each invocation of `step` is delivered: twice under a `duplicate` fault
    /// (which fires for every doubled invocation), else once.
    pub fn deliveries(&self, step: &str) -> usize {
        let (mut world, now) = self.world();
        if !world.has_fault(step, FaultKind::Duplicate) {
            return 1;
        }
        world.fire(&Ctx { step, now }, FaultKind::Duplicate, "Invoke");
        2
    }

    /// The latency `step`'s calls added since the last time this was asked (`slow`): what its
    /// invocation waits before it answers.
    pub fn take_latency(&self, step: &str) -> Duration {
        self.world().0.latency_owed.remove(step).unwrap_or_default()
    }

    /// Removes every fault of `step`, as an operator who fixed its cause would: its next calls
    /// are answered normally.
    pub fn clear_faults(&self, step: &str) {
        self.world().0.faults.retain(|f| f.step != step);
    }

    /// Records an execution the local runner ran (DescribeExecution then answers it).
    pub fn record_execution(&self, execution: ExecutionInfo) {
        self.world().0.executions.insert(execution.arn.clone(), execution);
    }

    /// Makes the seeded production service an image-based one, running
    /// [`PRODUCTION_IMAGE`](crate::seed::PRODUCTION_IMAGE) (the release before the rehearsed one).
    pub fn deploy_production_from_image(&self) {
        let (mut world, now) = self.world();
        if let Some(index) = world.service_named(PRODUCTION_SERVICE, now) {
            for deployment in world.services[index].operations.iter_mut().filter_map(|op| op.deployment.as_mut()) {
                deployment.image = Some(PRODUCTION_IMAGE.to_string());
            }
        }
    }

    /// Turns production's automated backups off (retention 0), as ModifyDBInstance
    /// `BackupRetentionPeriod=0` would: no point-in-time restore is possible then.
    pub fn disable_production_backups(&self) {
        let (mut world, _) = self.world();
        if let Some(production) = world.instances.get_mut(crate::seed::PRODUCTION_DB) {
            production.backup_retention_days = 0;
        }
    }

    /// Makes production an Aurora PostgreSQL cluster
    /// ([`PRODUCTION_DB_CLUSTER`](crate::seed::PRODUCTION_DB_CLUSTER)) whose writer is the seeded
    /// production instance: RDS then snapshots and restores its database by cluster only.
    pub fn make_production_aurora(&self) {
        crate::aurora::production_cluster(&mut self.world().0);
    }

    /// Makes production busy for `minutes` (`backing-up`, `modifying`, `maintenance`,
    /// `storage-optimization`…): RDS refuses CreateDBSnapshot meanwhile (InvalidDBInstanceState).
    pub fn make_production_busy(&self, status: &'static str, minutes: i64) {
        let (mut world, now) = self.world();
        if let Some(production) = world.instances.get_mut(crate::seed::PRODUCTION_DB) {
            production.busy = Some((status, Some(now + chrono::Duration::minutes(minutes))));
        }
    }

    /// Adds a variable production's App Runner service reads from Parameter Store (a parameter
    /// `<production path><name>` holding `value`), as its next deployment would.
    pub fn add_production_secret(&self, name: &str, value: &str) {
        let (mut world, now) = self.world();
        let parameter = format!("{}{name}", crate::seed::PRODUCTION_PARAMETER_PATH);
        let param = crate::ssm::Param {
            kind: rehearsal_core::cloud::ParameterKind::SecureString,
            value: value.to_string(),
            version: 1,
            tags: Tags::new(),
            origin: crate::world::Origin::Seed,
            writer: crate::ssm::session_principal("seed"),
        };
        world.parameters.insert(parameter.clone(), param);
        if let Some(index) = world.service_named(PRODUCTION_SERVICE, now) {
            for deployment in world.services[index].operations.iter_mut().filter_map(|op| op.deployment.as_mut()) {
                deployment.secrets.insert(name.to_string(), crate::ssm::parameter_arn(&parameter));
            }
        }
    }

    /// The parameter and option groups an instance has (RDS's `DBParameterGroups[0]`,
    /// `OptionGroupMemberships[0]`).
    pub fn db_groups(&self, instance_id: &str) -> Option<(String, String)> {
        let (world, now) = self.world();
        world.live_instance(instance_id, now).map(|i| (i.parameter_group.clone(), i.option_group.clone()))
    }

    /// Puts a snapshot of instance `source` named `id` with `tags`, taken at `created_at`, as
    /// someone with RDS rights could by hand (a forged run tag included).
    pub fn plant_snapshot(&self, id: &str, source: &str, tags: Tags, created_at: DateTime<Utc>) -> Result<(), String> {
        self.world().0.plant_snapshot(id, source, tags, created_at)
    }

    /// Adds `count` objects under `prefix` to production's frontend bucket, as a build with many
    /// assets would have.
    pub fn add_production_frontend_objects(&self, prefix: &str, count: usize) {
        let (mut world, _) = self.world();
        for i in 0..count {
            world.seed_frontend_object(&format!("{prefix}{i:05}.js"), format!("asset {i}").as_bytes(), "application/javascript");
        }
    }

    /// Another account takes the bucket name (S3's namespace is global).
    pub fn plant_foreign_bucket(&self, bucket: &str) {
        let (mut world, _) = self.world();
        world.buckets.insert(bucket.to_string(), crate::s3::Bucket::new(Origin::Foreign, Tags::new(), false));
    }

    /// Turns versioning on for a bucket of this account, as PutBucketVersioning would.
    pub fn enable_bucket_versioning(&self, bucket: &str) {
        if let Some(b) = self.world().0.buckets.get_mut(bucket) {
            b.versioned = true;
        }
    }

    /// A bucket's current objects (key → body), its tags, whether public access is blocked and
    /// its default encryption; `None` when this account holds no such bucket.
    pub fn bucket(&self, bucket: &str) -> Option<SimBucket> {
        let (world, _) = self.world();
        let b = world.buckets.get(bucket).filter(|b| !b.foreign_account)?;
        Some(SimBucket {
            objects: b.objects.iter().filter_map(|(k, v)| Some((k.clone(), v.last()?.body.clone()?))).collect(),
            versions: b.objects.values().map(Vec::len).sum(),
            tags: b.tags.clone(),
            public_access_blocked: b.public_access_blocked,
            encryption: b.encryption,
            policy: b.policy.clone(),
        })
    }

    /// The distributions not deleted, as GetDistribution shows them now, with the bucket each serves.
    pub fn distributions(&self) -> Vec<(rehearsal_core::cloud::Distribution, String)> {
        let (world, now) = self.world();
        world.distributions.iter().filter(|d| !d.deleted()).map(|d| (d.describe(now), d.bucket.clone())).collect()
    }

    pub fn session(&self, step: &str) -> SimCloud {
        SimCloud { account: self.clone(), step: Arc::from(step) }
    }

    pub fn ledger(&self) -> Ledger {
        self.world().0.ledger.clone()
    }

    /// What sessions created that still exists (including what is still `deleting`) and
    /// belongs to `run_id` by its tags, or carries no run tag at all. Seeded and foreign
    /// resources never count. Each entry reads `<kind> <id> (<status>)`.
    pub fn leftovers(&self, run_id: &str) -> Vec<String> {
        let (world, now) = self.world();
        let belongs = |tags: &Tags| run_of(tags).is_none_or(|run| run == run_id);
        let mut left = Vec::new();
        for r in existing(&world, now) {
            if r.origin != Origin::Created {
                continue;
            }
            let ours = match r.kind {
                "schedule" => schedule_run(&world, &r.id).is_none_or(|run| run == run_id),
                _ => belongs(&r.resource.tags),
            };
            if ours {
                left.push(format!("{} {} ({})", r.kind, r.id, r.resource.status));
            }
        }
        left
    }

    /// Everything that exists now, seeded and foreign resources included.
    pub fn existing_resources(&self) -> Vec<ExistingResource> {
        let (world, now) = self.world();
        existing(&world, now).into_iter().map(|r| r.resource).collect()
    }

    /// The environment the running deployment of the (not deleted) App Runner service `name`
    /// sees: plain variables plus Parameter Store references as resolved when that deployment
    /// started.
    pub fn service_environment(&self, service_name: &str) -> Option<BTreeMap<String, String>> {
        let (world, now) = self.world();
        let service = &world.services[world.service_named(service_name, now)?];
        service.running(now)?.environment()
    }

    /// The image of the App Runner service's configured deployment, for an image-based service.
    pub fn service_image(&self, service_name: &str) -> Option<String> {
        let (world, now) = self.world();
        let service = &world.services[world.service_named(service_name, now)?];
        service.configured(now)?.image.clone()
    }

    /// The environment the tasks taking all the traffic of the live ECS Express service `name`
    /// in `cluster` see (secrets as fetched when they started).
    pub fn express_service_environment(&self, cluster: &str, service_name: &str) -> Option<BTreeMap<String, String>> {
        let (world, now) = self.world();
        world.ecs.services[world.express_named(cluster, service_name, now)?].serving(now).cloned()
    }

    /// Table name → row count of an instance's database (whatever its status).
    pub fn database_tables(&self, instance_id: &str) -> Option<BTreeMap<String, usize>> {
        let (world, now) = self.world();
        Some(world.live_instance(instance_id, now)?.data.row_counts())
    }

    /// Rows of `table` whose `column` is NULL; `Err` as PostgreSQL would answer.
    pub fn null_count(&self, instance_id: &str, table: &str, column: &str) -> Option<Result<i64, String>> {
        let (world, now) = self.world();
        Some(world.live_instance(instance_id, now)?.data.count_rows(table, Some(column)))
    }
}

/// What [`SimAccount::bucket`] shows of a bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimBucket {
    pub objects: BTreeMap<String, Vec<u8>>,
    /// Every version and delete marker.
    pub versions: usize,
    pub tags: Tags,
    pub public_access_blocked: bool,
    pub encryption: Option<&'static str>,
    pub policy: Option<String>,
}

struct Listed {
    kind: &'static str,
    id: String,
    origin: Origin,
    resource: ExistingResource,
}

fn existing(world: &World, now: DateTime<Utc>) -> Vec<Listed> {
    let entry = |kind: &'static str, id: &str, status: &str, tags: &Tags, origin: &Origin| Listed {
        kind,
        id: id.to_string(),
        origin: origin.clone(),
        resource: ExistingResource { kind: kind.to_string(), id: id.to_string(), status: status.to_string(), tags: tags.clone() },
    };
    let mut out = Vec::new();
    for i in world.instances.values().filter(|i| i.life.phase(now) != Phase::Gone) {
        out.push(entry("db-instance", &i.id, i.status(now), &i.tags, &i.origin));
    }
    for c in world.clusters.values().filter(|c| c.life.phase(now) != Phase::Gone) {
        out.push(entry("db-cluster", &c.id, c.status(now), &c.tags, &c.origin));
    }
    for s in world.snapshots.values().filter(|s| s.life.phase(now) != Phase::Gone) {
        out.push(entry("db-snapshot", &s.id, s.status(now), &s.tags, &s.origin));
    }
    for s in world.cluster_snapshots.values().filter(|s| s.life.phase(now) != Phase::Gone) {
        out.push(entry("db-cluster-snapshot", &s.id, s.status(now), &s.tags, &s.origin));
    }
    for (name, p) in &world.parameters {
        let kind = match p.kind {
            rehearsal_core::cloud::ParameterKind::String => "String",
            rehearsal_core::cloud::ParameterKind::SecureString => "SecureString",
        };
        out.push(entry("parameter", name, kind, &p.tags, &p.origin));
    }
    for s in world.services.iter().filter(|s| !s.deleted(now)) {
        out.push(entry("service", &s.name, s.status(now), &s.tags, &s.origin));
    }
    for s in &world.ecs.services {
        if let Some(state) = s.load_balancer_state(now) {
            out.push(entry("ecs-service", &s.name, s.status(now), &s.tags, &s.origin));
            // ECS created it for the service and removes it with the service.
            out.push(entry("load-balancer", &s.load_balancer, state, &s.tags, &s.origin));
        }
    }
    for (id, w) in &world.webhooks {
        out.push(entry("stripe-webhook", id, w.mode, &w.endpoint.metadata, &w.origin));
    }
    for (name, b) in &world.buckets {
        out.push(entry("bucket", name, if b.public_access_blocked { "private" } else { "public" }, &b.tags, &b.origin));
    }
    for d in world.distributions.iter().filter(|d| !d.deleted()) {
        out.push(entry("distribution", &d.id, d.status(now), &d.tags, &d.origin));
    }
    for ((group, name), s) in &world.schedules {
        out.push(entry("schedule", &format!("{group}/{name}"), "ENABLED", &Tags::new(), &s.origin));
    }
    out
}

/// A schedule has no tags; the run it tears down is in its input (`/plan/run_id`).
fn schedule_run(world: &World, id: &str) -> Option<String> {
    let (group, name) = id.split_once('/')?;
    let schedule = world.schedules.get(&(group.to_string(), name.to_string()))?;
    let input: serde_json::Value = serde_json::from_str(&schedule.schedule.input).ok()?;
    input.pointer("/plan/run_id")?.as_str().map(str::to_string)
}

/// An AWS API action, for the ledger, IAM messages and faults.
#[derive(Clone, Copy)]
pub(crate) struct Api {
    /// IAM prefix and ledger service name: `rds`, `ssm`, `apprunner`, `ecs`, `ecr`, `scheduler`.
    pub service: &'static str,
    pub action: &'static str,
}

impl Api {
    /// Every action but a read (AWS names reads Describe…, Get…, List…, S3's HeadBucket).
    fn changes_something(self) -> bool {
        !["Describe", "Get", "List", "Head"].iter().any(|read| self.action.starts_with(read))
    }
}

impl SimCloud {
    pub fn step(&self) -> &str {
        &self.step
    }

    /// Serves one AWS call: records it, lets the step's faults answer first, then runs it.
    pub(crate) fn aws<T>(&self, api: Api, call: impl FnOnce(&mut World, &Ctx) -> CloudResult<T>) -> CloudResult<T> {
        let (mut world, now) = self.account.world();
        let ctx = Ctx { step: &self.step, now };
        world.ledger.calls.push(Recorded {
            step: ctx.step.to_string(),
            at: now,
            what: Call { service: api.service.into(), operation: api.action.into() },
        });
        let served = world.calls_served.entry(ctx.step.to_string()).or_insert(0);
        *served += 1;
        let served = *served;
        if world.has_fault(ctx.step, FaultKind::Slow) {
            // 1 to 5 s, the same for the same call of the same step.
            let extra = Duration::from_secs(1 + crate::ids::fnv1a(format!("{}#{served}", ctx.step).as_bytes()) % 5);
            *world.latency_owed.entry(ctx.step.to_string()).or_default() += extra;
            world.fire(&ctx, FaultKind::Slow, api.action);
        }
        gate(&mut world, &ctx, api)?;
        let answer = if api.changes_something() {
            if world.has_fault(ctx.step, FaultKind::Eventual) && world.stale.get(ctx.step).is_none_or(|(_, until)| now >= *until) {
                let before = world.before_this_call();
                world.stale.insert(ctx.step.to_string(), (Box::new(before), after(now, EVENTUAL_LAG)));
            }
            call(&mut world, &ctx)?
        } else {
            match world.stale.remove(ctx.step) {
                Some((mut before, until)) if now < until => {
                    world.fire(&ctx, FaultKind::Eventual, api.action);
                    let answer = call(&mut before, &ctx);
                    world.stale.insert(ctx.step.to_string(), (before, until));
                    answer?
                }
                _ => call(&mut world, &ctx)?,
            }
        };
        if api.changes_something()
            && world.has_fault(ctx.step, FaultKind::LostResponse)
            && world.responses_lost.insert(ctx.step.to_string())
        {
            world.fire(&ctx, FaultKind::LostResponse, api.action);
            return Err(CloudError::new(CloudErrorKind::Unavailable, "ServiceUnavailable", "Service Unavailable (HTTP 503)"));
        }
        Ok(answer)
    }

    /// Serves a call to the app or its database (not AWS APIs: only `failed-check` applies).
    pub(crate) fn direct<T>(&self, service: &str, operation: String, call: impl FnOnce(&mut World, &Ctx) -> T) -> T {
        let (mut world, now) = self.account.world();
        let ctx = Ctx { step: &self.step, now };
        world.ledger.calls.push(Recorded { step: ctx.step.to_string(), at: now, what: Call { service: service.into(), operation } });
        call(&mut world, &ctx)
    }
}

/// The faults that answer instead of the service: IAM denial, 503, throttling.
fn gate(world: &mut World, ctx: &Ctx, api: Api) -> CloudResult<()> {
    let operation = api.action;
    if world.has_fault(ctx.step, FaultKind::Fatal) {
        world.fire(ctx, FaultKind::Fatal, operation);
        return Err(CloudError::new(
            CloudErrorKind::AccessDenied,
            "AccessDeniedException",
            format!(
                "User: {principal} is not authorized to perform: {service}:{operation} \
                 because no identity-based policy allows the {service}:{operation} action",
                principal = crate::ssm::session_principal(ctx.step),
                service = api.service
            ),
        ));
    }
    if world.has_fault(ctx.step, FaultKind::Unavailable) {
        world.fire(ctx, FaultKind::Unavailable, operation);
        return Err(CloudError::new(CloudErrorKind::Unavailable, "ServiceUnavailable", "Service Unavailable (HTTP 503)"));
    }
    if world.has_fault(ctx.step, FaultKind::Throttle) {
        let count = world.throttled.entry(ctx.step.to_string()).or_insert(0);
        if *count < 2 {
            *count += 1;
            world.fire(ctx, FaultKind::Throttle, operation);
            return Err(CloudError::new(CloudErrorKind::Throttled, "ThrottlingException", "Rate exceeded"));
        }
    }
    Ok(())
}

impl Executions for SimCloud {
    async fn describe_execution(&self, arn: &str) -> CloudResult<Option<ExecutionInfo>> {
        self.aws(Api { service: "states", action: "DescribeExecution" }, |w, _| Ok(w.executions.get(arn).cloned()))
    }
}

impl Clock for SimCloud {
    fn now(&self) -> DateTime<Utc> {
        self.account.now()
    }
}
