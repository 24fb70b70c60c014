//! The account's state. Nothing here runs in the background: each resource records when its
//! transitions happen, and its status is computed from the virtual clock when it is read.
//! The only side effects of time (a deployment's migrations) are applied by [`World::settle`]
//! before every call, in the order they happened.

use crate::config::SimConfig;
use crate::database::Database;
use crate::fault::{Fault, FaultKind};
use crate::ids::IdSource;
use crate::ledger::{Ledger, ResourceRecord, WriteRecord};
use crate::seed;
use chrono::{DateTime, Utc};
use rehearsal_core::cloud::{OneTimeSchedule, ParameterKind, ServiceSource};
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    InProgress,
    Ready,
    Failed,
    Deleting,
    Gone,
}

/// Creation and deletion of an RDS resource on the virtual clock.
#[derive(Debug, Clone)]
pub(crate) struct Lifecycle {
    /// When creation ends; `None` never (stalled).
    settles_at: Option<DateTime<Utc>>,
    fails: bool,
    /// Set by an accepted delete: when the resource is gone, `None` never (stalled).
    deletion: Option<Option<DateTime<Utc>>>,
}

fn after(now: DateTime<Utc>, duration: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

/// When something started now ends; `None` (never) when the step's fault stalls it.
pub(crate) fn ends(now: DateTime<Utc>, duration: Duration, outcome: Outcome) -> Option<DateTime<Utc>> {
    (outcome != Outcome::Stall).then(|| after(now, duration))
}

impl Lifecycle {
    pub fn existing() -> Self {
        Self { settles_at: Some(DateTime::<Utc>::MIN_UTC), fails: false, deletion: None }
    }

    pub fn starting(now: DateTime<Utc>, duration: Duration, outcome: Outcome) -> Self {
        Self { settles_at: (outcome != Outcome::Stall).then(|| after(now, duration)), fails: outcome == Outcome::Fail, deletion: None }
    }

    pub fn phase(&self, t: DateTime<Utc>) -> Phase {
        if let Some(gone_at) = self.deletion {
            return if gone_at.is_some_and(|g| t >= g) { Phase::Gone } else { Phase::Deleting };
        }
        match self.settles_at {
            Some(s) if t >= s => {
                if self.fails {
                    Phase::Failed
                } else {
                    Phase::Ready
                }
            }
            _ => Phase::InProgress,
        }
    }

    /// In progress with no end: what `never-ready` leaves behind. Deleting it is accepted.
    pub fn stalled(&self, t: DateTime<Utc>) -> bool {
        match self.phase(t) {
            Phase::InProgress => self.settles_at.is_none(),
            Phase::Deleting => self.deletion == Some(None),
            _ => false,
        }
    }

    pub fn delete(&mut self, now: DateTime<Utc>, duration: Duration, outcome: Outcome) {
        self.deletion = Some((outcome != Outcome::Stall).then(|| after(now, duration)));
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Instance {
    pub id: String,
    pub class: String,
    pub subnet_group: Option<String>,
    pub security_group_ids: Vec<String>,
    pub publicly_accessible: bool,
    pub address: String,
    pub port: u16,
    pub master_user: String,
    pub master_password: String,
    pub data: Database,
    pub life: Lifecycle,
    pub tags: Tags,
    pub origin: Origin,
    /// A modification of an available instance: `renaming` or `stopping` until then (`None`: never ends).
    pub busy: Option<(&'static str, Option<DateTime<Utc>>)>,
    pub stopped: bool,
}

impl Instance {
    /// RDS's status string for the phase.
    pub fn status(&self, t: DateTime<Utc>) -> &'static str {
        match self.life.phase(t) {
            Phase::InProgress => "creating",
            Phase::Ready => match self.busy {
                Some((status, until)) if until.is_none_or(|u| t < u) => status,
                _ if self.stopped => "stopped",
                _ => "available",
            },
            Phase::Failed => "incompatible-restore",
            Phase::Deleting => "deleting",
            Phase::Gone => "deleted",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub id: String,
    pub source_instance_id: String,
    /// The source's data and credentials when the snapshot started.
    pub data: Database,
    pub master_user: String,
    pub master_password: String,
    pub port: u16,
    pub life: Lifecycle,
    pub tags: Tags,
    pub origin: Origin,
}

impl Snapshot {
    pub fn status(&self, t: DateTime<Utc>) -> &'static str {
        match self.life.phase(t) {
            Phase::InProgress => "creating",
            Phase::Ready => "available",
            Phase::Failed => "failed",
            Phase::Deleting => "deleting",
            Phase::Gone => "deleted",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Param {
    pub kind: ParameterKind,
    pub value: String,
    pub version: u64,
    pub tags: Tags,
    pub origin: Origin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpKind {
    Create,
    Update,
    Deploy,
    Delete,
}

impl OpKind {
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Create => "CREATE_SERVICE",
            OpKind::Update => "UPDATE_SERVICE",
            OpKind::Deploy => "START_DEPLOYMENT",
            OpKind::Delete => "DELETE_SERVICE",
        }
    }
}

/// What a deployment runs: plain variables, Parameter Store references, and the references'
/// values as fetched when the deployment started (or why they could not be).
#[derive(Debug, Clone)]
pub(crate) struct Deployment {
    pub environment: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, String>,
    pub resolved: Result<BTreeMap<String, String>, String>,
    /// The image deployed, for an image-based service.
    pub image: Option<String>,
    /// Whether the code is the multi-tenancy release, whose start command migrates the database
    /// (production's running deployment is the release before it).
    pub runs_release: bool,
}

impl Deployment {
    /// The environment the running container sees.
    pub fn environment(&self) -> Option<BTreeMap<String, String>> {
        let mut env = self.environment.clone();
        env.extend(self.resolved.clone().ok()?);
        Some(env)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Operation {
    pub id: String,
    pub kind: OpKind,
    /// `None`: never ends (stalled).
    pub ends_at: Option<DateTime<Utc>>,
    /// Decided when it starts (faults), or for a deployment when it ends ([`World::settle`]).
    pub succeeded: Option<bool>,
    pub fails_by_fault: bool,
    pub deployment: Option<Deployment>,
}

impl Operation {
    pub fn ended(&self, t: DateTime<Utc>) -> bool {
        self.ends_at.is_some_and(|e| t >= e)
    }

    pub fn status(&self, t: DateTime<Utc>) -> &'static str {
        match (self.ended(t), self.succeeded) {
            (true, Some(true)) => "SUCCEEDED",
            // A failed deployment of a running service is rolled back by App Runner itself.
            (true, Some(false)) if matches!(self.kind, OpKind::Update | OpKind::Deploy) => "ROLLBACK_SUCCEEDED",
            (true, Some(false)) => "FAILED",
            _ => "IN_PROGRESS",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Service {
    pub arn: String,
    pub name: String,
    pub url: String,
    /// The code repository; `None` for a service created from an image.
    pub source: Option<ServiceSource>,
    pub instance_role_arn: String,
    pub vpc_connector_arn: String,
    pub tags: Tags,
    pub origin: Origin,
    pub operations: Vec<Operation>,
}

impl Service {
    pub fn status(&self, t: DateTime<Utc>) -> &'static str {
        let Some(last) = self.operations.last() else { return "RUNNING" };
        if last.kind == OpKind::Delete {
            return match (last.ended(t), last.succeeded) {
                (false, _) => "OPERATION_IN_PROGRESS",
                (true, Some(true)) => "DELETED",
                (true, _) => "DELETE_FAILED",
            };
        }
        if self.operations.iter().any(|op| !op.ended(t)) {
            return "OPERATION_IN_PROGRESS";
        }
        let created = self.operations.iter().find(|op| op.kind == OpKind::Create);
        if created.is_some_and(|op| op.succeeded == Some(false)) {
            return "CREATE_FAILED";
        }
        "RUNNING"
    }

    pub fn deleted(&self, t: DateTime<Utc>) -> bool {
        self.status(t) == "DELETED"
    }

    /// The deployment serving traffic: the last one that succeeded, unless a delete began.
    pub fn running(&self, t: DateTime<Utc>) -> Option<&Deployment> {
        if self.operations.iter().any(|op| op.kind == OpKind::Delete && op.succeeded != Some(false)) {
            return None;
        }
        self.operations.iter().rev().find(|op| op.ended(t) && op.succeeded == Some(true)).and_then(|op| op.deployment.as_ref())
    }

    /// The configuration DescribeService shows: the newest deployment not rolled back.
    pub fn configured(&self, t: DateTime<Utc>) -> Option<&Deployment> {
        self.operations
            .iter()
            .rev()
            .filter(|op| op.deployment.is_some())
            .find(|op| !op.ended(t) || op.succeeded == Some(true) || op.kind == OpKind::Create)
            .and_then(|op| op.deployment.as_ref())
    }

    pub fn in_progress(&self, t: DateTime<Utc>) -> Option<&Operation> {
        self.operations.iter().find(|op| !op.ended(t))
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    pub schedule: OneTimeSchedule,
    pub origin: Origin,
}

#[derive(Debug, Clone)]
pub(crate) struct Webhook {
    pub mode: &'static str,
    pub endpoint: rehearsal_core::cloud::WebhookEndpoint,
    pub origin: Origin,
}

pub(crate) struct World {
    pub config: SimConfig,
    pub ids: IdSource,
    pub instances: BTreeMap<String, Instance>,
    pub snapshots: BTreeMap<String, Snapshot>,
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
    pub ecs: crate::ecs::EcsState,
    pub ecr: crate::ecr::EcrState,
    pub faults: Vec<Fault>,
    /// Throttled calls so far, per step.
    pub throttled: BTreeMap<String, u32>,
    /// Steps whose `already-exists` fault has planted its conflict.
    pub conflicts_planted: BTreeSet<String>,
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
            ecs: Default::default(),
            ecr: Default::default(),
            faults: Vec::new(),
            throttled: BTreeMap::new(),
            conflicts_planted: BTreeSet::new(),
            ledger: Ledger::default(),
        };
        seed::production(&mut world, start);
        world
    }

    pub fn has_fault(&self, step: &str, kind: FaultKind) -> bool {
        self.faults.iter().any(|f| f.step == step && f.kind == kind)
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
        ResourceRecord { kind: kind.to_string(), id: id.to_string(), step: ctx.step.to_string(), at: ctx.now }
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
        self.ledger.production_writes.push(WriteRecord {
            resource,
            operation: operation.to_string(),
            step: ctx.step.to_string(),
            at: ctx.now,
        });
    }

    pub fn live_instance(&self, id: &str, t: DateTime<Utc>) -> Option<&Instance> {
        self.instances.get(id).filter(|i| i.life.phase(t) != Phase::Gone)
    }

    pub fn live_snapshot(&self, id: &str, t: DateTime<Utc>) -> Option<&Snapshot> {
        self.snapshots.get(id).filter(|s| s.life.phase(t) != Phase::Gone)
    }

    /// The service with this name that is not DELETED.
    pub fn service_named(&self, name: &str, t: DateTime<Utc>) -> Option<usize> {
        self.services.iter().position(|s| s.name == name && !s.deleted(t))
    }

    pub fn service_by_arn(&self, arn: &str) -> Option<usize> {
        self.services.iter().position(|s| s.arn == arn)
    }

    /// The database a connection to `host:port` as `user`/`password` reaches at `t`.
    pub fn connect(&mut self, target: &Connection, t: DateTime<Utc>) -> Result<&mut Instance, ConnectError> {
        let instance = self
            .instances
            .values_mut()
            .find(|i| i.address.eq_ignore_ascii_case(&target.host) && i.life.phase(t) != Phase::Gone)
            .ok_or_else(|| ConnectError::NotReady(format!("could not translate host name \"{}\" to address", target.host)))?;
        if instance.port != target.port || instance.status(t) != "available" {
            return Err(ConnectError::NotReady(format!(
                "connection to server at \"{}\", port {} failed: Connection refused",
                target.host, target.port
            )));
        }
        if instance.master_user != target.user || instance.master_password != target.password {
            return Err(ConnectError::Authentication(format!("password authentication failed for user \"{}\"", target.user)));
        }
        if instance.data.name != target.database {
            return Err(ConnectError::Other(format!("database \"{}\" does not exist", target.database)));
        }
        Ok(instance)
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

/// A PostgreSQL connection target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Connection {
    pub host: String,
    pub port: u16,
    pub database: String,
    pub user: String,
    pub password: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConnectError {
    NotReady(String),
    Authentication(String),
    Other(String),
}

impl Connection {
    /// From a `postgres://user:password@host:port/database` URL, parsed as the steps parse it;
    /// the error never echoes it.
    pub fn parse(url: &str) -> Result<Self, String> {
        let target = rehearsal_core::database_url::target(&rehearsal_core::Secret::new(url))?;
        let password = target.password.expose().to_string();
        Ok(Connection { host: target.host, port: target.port, database: target.database, user: target.user, password })
    }
}

/// The run a resource belongs to, from its tags; `None` when untagged (it still counts as a
/// leftover of whichever run asks, since nothing says it is another run's).
pub(crate) fn run_of(tags: &Tags) -> Option<&str> {
    tags.get(RUN_KEY).map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_parse_with_encoded_credentials() {
        let c = Connection::parse("postgres://tableicty:p%40ss@db.example.com:5433/tableicty").unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.user.as_str(), c.password.as_str(), c.database.as_str()),
            ("db.example.com", 5433, "tableicty", "p@ss", "tableicty")
        );
        assert!(!Connection::parse("mysql://u:hunter2@h/db").unwrap_err().contains("hunter2"));
    }

    #[test]
    fn lifecycles_follow_the_clock() {
        let t0 = DateTime::from_timestamp(1_000_000, 0).unwrap();
        let minute = Duration::from_secs(60);
        let mut life = Lifecycle::starting(t0, minute, Outcome::Succeed);
        assert_eq!(life.phase(t0), Phase::InProgress);
        assert_eq!(life.phase(after(t0, minute)), Phase::Ready);
        life.delete(after(t0, minute), minute, Outcome::Succeed);
        assert_eq!(life.phase(after(t0, minute)), Phase::Deleting);
        assert_eq!(life.phase(after(t0, 2 * minute)), Phase::Gone);
        let stalled = Lifecycle::starting(t0, minute, Outcome::Stall);
        assert!(stalled.stalled(after(t0, 1000 * minute)));
        assert_eq!(Lifecycle::starting(t0, minute, Outcome::Fail).phase(after(t0, minute)), Phase::Failed);
    }
}
