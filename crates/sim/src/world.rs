//! The account's state: every service's resources (each modelled in its service's module), the
//! faults, the ledger, and what the services share. Nothing here runs in the background: each
//! resource records when its transitions happen, and its status is computed from the virtual
//! clock when it is read. The only side effects of time (a deployment's migrations) are applied
//! by [`World::settle`] before every call, in the order they happened.

use crate::apprunner::Service;
use crate::config::SimConfig;
use crate::fault::{Fault, FaultKind};
use crate::ids::IdSource;
use crate::ledger::{Ledger, Recorded, Resource, ResourceRecord, Write};
use crate::probe::{ConnectError, Connection};
use crate::rds::{Instance, Snapshot};
use crate::scheduler::Schedule;
use crate::seed;
use crate::ssm::Param;
use crate::stripe::Webhook;
use chrono::{DateTime, Utc};
use rehearsal_core::tags::{Tags, RUN_KEY};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Where a resource came from: leftovers are only ever what a session created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origin {
    Seed,
    /// Appeared from elsewhere (the `already-exists` fault).
    Foreign,
    Created,
}

/// How something a step starts will end, decided by the step's faults when it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Succeed,
    Fail,
    Stall,
}

pub(crate) fn after(now: DateTime<Utc>, duration: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

/// When something started now ends; `None` (never) when the step's fault stalls it.
pub(crate) fn ends(now: DateTime<Utc>, duration: Duration, outcome: Outcome) -> Option<DateTime<Utc>> {
    (outcome != Outcome::Stall).then(|| after(now, duration))
}

#[derive(Clone)]
pub(crate) struct World {
    pub config: SimConfig,
    pub ids: IdSource,
    pub instances: BTreeMap<String, Instance>,
    pub snapshots: BTreeMap<String, Snapshot>,
    pub clusters: BTreeMap<String, crate::aurora::Cluster>,
    pub cluster_snapshots: crate::aurora::ClusterSnapshots,
    pub parameters: BTreeMap<String, Param>,
    /// In creation order; names repeat once a service is DELETED.
    pub services: Vec<Service>,
    /// VPC connector name → ARN.
    pub vpc_connectors: BTreeMap<String, String>,
    pub connections: BTreeSet<String>,
    pub subnet_groups: BTreeSet<String>,
    pub schedule_groups: BTreeSet<String>,
    pub schedules: BTreeMap<(String, String), Schedule>,
    /// Stripe webhook endpoints by id, with the mode (`test`/`live`) of the account they are in.
    pub webhooks: BTreeMap<String, Webhook>,
    /// Step Functions executions by ARN, as recorded by whoever ran them locally.
    pub executions: BTreeMap<String, rehearsal_core::cloud::ExecutionInfo>,
    /// SNS topic ARNs.
    pub topics: BTreeSet<String>,
    /// IAM role ARN → the Parameter Store paths its policy lets it read (App Runner instance
    /// roles, ECS execution and task roles).
    pub roles: BTreeMap<String, Vec<String>>,
    pub ecs: crate::ecs::EcsState,
    pub ecr: crate::ecr::EcrState,
    /// S3 buckets by name (the namespace is global: some are other accounts').
    pub buckets: BTreeMap<String, crate::s3::Bucket>,
    /// CloudFront distributions in creation order (deleted ones stay, marked).
    pub distributions: Vec<crate::cloudfront::SimDistribution>,
    pub faults: Vec<Fault>,
    /// Throttled calls so far, per step.
    pub throttled: BTreeMap<String, u32>,
    /// Steps whose `already-exists` fault has planted its conflict.
    pub conflicts_planted: BTreeSet<String>,
    /// Per step with the `slow` fault: the latency its calls added, which its invocation owes.
    pub latency_owed: BTreeMap<String, std::time::Duration>,
    /// AWS calls served per step so far, the one being served included (faults start at a call).
    pub calls_served: BTreeMap<String, u32>,
    /// Steps whose `lost-response` fault has lost an answer.
    pub responses_lost: BTreeSet<String>,
    /// Per step with the `eventual` fault: the account as it was before the step's write, which
    /// its reads see until the time beside it.
    pub stale: BTreeMap<String, (Box<World>, DateTime<Utc>)>,
    pub ledger: Ledger,
}

/// The step and the time of the call being served.
pub(crate) struct Ctx<'a> {
    pub step: &'a str,
    pub now: DateTime<Utc>,
}

impl World {
    pub fn new(config: SimConfig, start: DateTime<Utc>) -> Self {
        let mut world = World {
            config,
            ids: IdSource::new(crate::ids::fnv1a(b"rehearsal-sim")),
            instances: BTreeMap::new(),
            snapshots: BTreeMap::new(),
            clusters: BTreeMap::new(),
            cluster_snapshots: Default::default(),
            parameters: BTreeMap::new(),
            services: Vec::new(),
            vpc_connectors: BTreeMap::new(),
            connections: BTreeSet::new(),
            subnet_groups: BTreeSet::new(),
            schedule_groups: BTreeSet::new(),
            schedules: BTreeMap::new(),
            webhooks: BTreeMap::new(),
            executions: BTreeMap::new(),
            topics: BTreeSet::new(),
            roles: BTreeMap::new(),
            ecs: Default::default(),
            ecr: Default::default(),
            buckets: BTreeMap::new(),
            distributions: Vec::new(),
            faults: Vec::new(),
            throttled: BTreeMap::new(),
            responses_lost: BTreeSet::new(),
            calls_served: BTreeMap::new(),
            latency_owed: BTreeMap::new(),
            stale: BTreeMap::new(),
            conflicts_planted: BTreeSet::new(),
            ledger: Ledger::default(),
        };
        seed::production(&mut world, start);
        world
    }

    /// The account as it is now, for a stale view (without the stale views themselves).
    pub fn before_this_call(&mut self) -> World {
        let stale = std::mem::take(&mut self.stale);
        let copy = self.clone();
        self.stale = stale;
        copy
    }

    /// Whether `kind` is in force for `step`'s call being served (its faults start at a call).
    pub fn has_fault(&self, step: &str, kind: FaultKind) -> bool {
        let served = self.calls_served.get(step).copied().unwrap_or(0);
        // From the first call: in force before any too (a delivery, a call to the app).
        self.faults.iter().any(|f| f.step == step && f.kind == kind && (f.from_call <= 1 || served >= f.from_call))
    }

    pub fn fire(&mut self, ctx: &Ctx, kind: FaultKind, operation: &str) {
        self.ledger.faults_fired.push((ctx.step.to_string(), kind, operation.to_string()));
    }

    /// How what this call starts will end: `never-ready` stalls it, `failed-state` fails it
    /// (when it has a failed state: an RDS deletion has none).
    pub fn outcome(&mut self, ctx: &Ctx, operation: &str, can_fail: bool) -> Outcome {
        for (kind, outcome) in [(FaultKind::NeverReady, Outcome::Stall), (FaultKind::FailedState, Outcome::Fail)] {
            if self.has_fault(ctx.step, kind) && (can_fail || outcome == Outcome::Stall) {
                self.fire(ctx, kind, operation);
                return outcome;
            }
        }
        Outcome::Succeed
    }

    /// Whether this create call should first meet a foreign resource (once per step).
    pub fn plant_conflict(&mut self, ctx: &Ctx, operation: &str) -> bool {
        if !self.has_fault(ctx.step, FaultKind::AlreadyExists) || self.conflicts_planted.contains(ctx.step) {
            return false;
        }
        self.conflicts_planted.insert(ctx.step.to_string());
        self.fire(ctx, FaultKind::AlreadyExists, operation);
        true
    }

    fn record(ctx: &Ctx, kind: &str, id: &str) -> ResourceRecord {
        Recorded { step: ctx.step.to_string(), at: ctx.now, what: Resource { kind: kind.to_string(), id: id.to_string() } }
    }

    pub fn created(&mut self, ctx: &Ctx, kind: &str, id: &str) {
        self.ledger.created.push(Self::record(ctx, kind, id));
    }

    pub fn deleted(&mut self, ctx: &Ctx, kind: &str, id: &str) {
        self.ledger.deleted.push(Self::record(ctx, kind, id));
    }

    pub fn foreign(&mut self, ctx: &Ctx, kind: &str, id: &str) {
        self.ledger.foreign.push(Self::record(ctx, kind, id));
    }

    pub fn production_write(&mut self, ctx: &Ctx, resource: String, operation: &str) {
        self.ledger.production_writes.push(Recorded {
            step: ctx.step.to_string(),
            at: ctx.now,
            what: Write { resource, operation: operation.to_string() },
        });
    }

    /// Applies what time did since the last call: deployments that ended start their
    /// containers, whose start command runs Django's migrations against DATABASE_URL; a
    /// deployment whose secrets could not be fetched or whose migrations cannot reach the
    /// database fails (a rolled-back update keeps the previous deployment serving).
    pub fn settle(&mut self, now: DateTime<Utc>) {
        let mut due: Vec<(DateTime<Utc>, usize, usize)> = Vec::new();
        for (s, service) in self.services.iter().enumerate() {
            for (o, op) in service.operations.iter().enumerate() {
                if op.succeeded.is_none() && op.ended(now) {
                    due.push((op.ends_at.unwrap_or(now), s, o));
                }
            }
        }
        due.sort();
        for (at, s, o) in due {
            let op = &self.services[s].operations[o];
            let succeeded = !op.fails_by_fault
                && op.deployment.clone().is_some_and(|d| d.environment().is_some_and(|env| self.migrate(&env, d.runs_release, at).is_ok()));
            self.services[s].operations[o].succeeded = Some(succeeded);
        }
        self.settle_express_deployments(now);
    }

    /// Every release's start command runs `migrate`, so it needs the database; only the
    /// multi-tenancy release (`release`) has migrations to apply.
    pub(crate) fn migrate(&mut self, env: &BTreeMap<String, String>, release: bool, at: DateTime<Utc>) -> Result<(), ConnectError> {
        let target = env
            .get("DATABASE_URL")
            .and_then(|url| Connection::parse(url).ok())
            .ok_or_else(|| ConnectError::Other("DATABASE_URL is missing or malformed".into()))?;
        let instance = self.connect(&target, at)?;
        if release {
            instance.data.migrate(&at.to_rfc3339());
        }
        Ok(())
    }
}

/// The run a resource belongs to, from its tags; `None` when untagged (it still counts as a
/// leftover of whichever run asks, since nothing says it is another run's).
pub(crate) fn run_of(tags: &Tags) -> Option<&str> {
    tags.get(RUN_KEY).map(String::as_str)
}
