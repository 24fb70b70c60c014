//! RDS: instances and manual snapshots, with their lifecycles and error codes.

use crate::account::{Api, SimCloud};
use crate::config::SimConfig;
use crate::database::Database;
use crate::seed::{
    ACCOUNT_ID, BACKUP_WINDOW_HOUR, DB_PORT, DEFAULT_DB_OPTION_GROUP, DEFAULT_DB_PARAMETER_GROUP, PRODUCTION_DB, RDS_ENDPOINT_SUFFIX,
    REGION,
};
use crate::world::{after, ends, Ctx, Origin, Outcome, World};
use chrono::{DateTime, Utc};
use rehearsal_core::cloud::{
    CloudResult, ClusterCopyRequest, ClusterInstanceRequest, ClusterSource, DbCluster, DbInstance, DbSnapshot, DbStorage, Endpoint, Rds,
    RestoreRequest, RestoreSource,
};
use rehearsal_core::naming::rds_identifier_problem;
use rehearsal_core::tags::Tags;
use rehearsal_core::Secret;
use rehearsal_core::{CloudError, CloudErrorKind};
use std::collections::BTreeSet;
use std::time::Duration;

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
    /// When creation began (RDS's `InstanceCreateTime`, `SnapshotCreateTime`).
    pub created_at: DateTime<Utc>,
    /// When creation ends; `None` never (stalled).
    settles_at: Option<DateTime<Utc>>,
    fails: bool,
    /// Set by an accepted delete: when the resource is gone, `None` never (stalled).
    deletion: Option<Option<DateTime<Utc>>>,
}

impl Lifecycle {
    /// Created at `created_at`, long settled.
    pub fn existing(created_at: DateTime<Utc>) -> Self {
        Self { created_at, settles_at: Some(created_at), fails: false, deletion: None }
    }

    pub fn starting(now: DateTime<Utc>, duration: Duration, outcome: Outcome) -> Self {
        Self {
            created_at: now,
            settles_at: (outcome != Outcome::Stall).then(|| after(now, duration)),
            fails: outcome == Outcome::Fail,
            deletion: None,
        }
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
    pub storage: DbStorage,
    pub subnet_group: Option<String>,
    pub security_group_ids: Vec<String>,
    pub parameter_group: String,
    pub option_group: String,
    pub backup_retention_days: u32,
    /// The Aurora cluster it belongs to: its master password is the cluster's.
    pub cluster_id: Option<String>,
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
    /// Stopped, until RDS starts it again by itself seven days after the stop (`None`: running).
    pub stopped: Option<DateTime<Utc>>,
    /// A new master password and when it takes effect (`None`: never); the old one works until then.
    pub password_reset: Option<(String, Option<DateTime<Utc>>)>,
    /// `CopyTagsToSnapshot`: its snapshots (the final one too) carry its tags. This tool's
    /// restores set it.
    pub copy_tags_to_snapshot: bool,
    /// Lazy loading: the tables of a restored volume whose blocks still come from S3 on first
    /// read (slowly), until a warm-up or a full read of the table loaded them.
    pub cold_tables: BTreeSet<String>,
}

impl Instance {
    /// The master password a login must give at `t`.
    pub fn master_password_at(&self, t: DateTime<Utc>) -> &str {
        match &self.password_reset {
            Some((new, Some(applied))) if t >= *applied => new,
            _ => &self.master_password,
        }
    }

    fn password_pending(&self, t: DateTime<Utc>) -> bool {
        self.password_reset.as_ref().is_some_and(|(_, applied)| applied.is_none_or(|a| t < a))
    }

    /// RDS's status string for the phase.
    pub fn status(&self, t: DateTime<Utc>) -> &'static str {
        match self.life.phase(t) {
            Phase::InProgress => "creating",
            Phase::Ready => match self.busy {
                Some((status, until)) if until.is_none_or(|u| t < u) => status,
                _ if self.stopped.is_some_and(|restarts| t < restarts) => "stopped",
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
    pub source_id: String,
    /// The source's storage, which a restore gets.
    pub storage: DbStorage,
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

fn api(action: &'static str) -> Api {
    Api { service: "rds", action }
}

pub(crate) fn error(kind: CloudErrorKind, code: &str, message: String) -> CloudError {
    CloudError::new(kind, code, message)
}

fn instance_not_found(id: &str) -> CloudError {
    error(CloudErrorKind::NotFound, "DBInstanceNotFound", format!("DBInstance {id} not found."))
}

fn snapshot_not_found(id: &str) -> CloudError {
    error(CloudErrorKind::NotFound, "DBSnapshotNotFound", format!("DBSnapshot {id} not found."))
}

pub(crate) fn check_identifier(what: &str, id: &str) -> CloudResult<()> {
    match rds_identifier_problem(id) {
        Some(problem) => Err(error(
            CloudErrorKind::Fatal,
            "InvalidParameterValue",
            format!("The parameter {what} is not a valid identifier: {problem}."),
        )),
        None => Ok(()),
    }
}

pub(crate) fn snapshot_exists(id: &str) -> CloudError {
    error(
        CloudErrorKind::AlreadyExists,
        "DBSnapshotAlreadyExists",
        format!("Cannot create the snapshot because a snapshot with the identifier {id} already exists."),
    )
}

fn instance_arn(id: &str) -> String {
    format!("arn:aws:rds:{REGION}:{ACCOUNT_ID}:db:{id}")
}

fn snapshot_arn(id: &str) -> String {
    format!("arn:aws:rds:{REGION}:{ACCOUNT_ID}:snapshot:{id}")
}

/// Where an instance named `id` answers.
pub(crate) fn endpoint_address(id: &str) -> String {
    format!("{id}.{RDS_ENDPOINT_SUFFIX}")
}

pub(crate) fn describe_instance(i: &Instance, ctx: &Ctx) -> DbInstance {
    let phase = i.life.phase(ctx.now);
    DbInstance {
        id: i.id.clone(),
        arn: instance_arn(&i.id),
        status: i.status(ctx.now).to_string(),
        // RDS has no endpoint to show while the instance is still being created.
        endpoint: (phase != Phase::InProgress).then(|| Endpoint { address: i.address.clone(), port: i.port }),
        class: i.class.clone(),
        storage: i.storage.clone(),
        subnet_group: i.subnet_group.clone(),
        security_group_ids: i.security_group_ids.clone(),
        parameter_group: Some(i.parameter_group.clone()),
        option_group: Some(i.option_group.clone()),
        backup_retention_days: i.backup_retention_days,
        cluster_id: i.cluster_id.clone(),
        publicly_accessible: i.publicly_accessible,
        master_username: i.master_user.clone(),
        // A member's pending password shows on its cluster (DescribeDBClusters).
        master_password_pending: i.cluster_id.is_none() && i.password_pending(ctx.now),
        created_at: (phase != Phase::InProgress).then_some(i.life.created_at),
        tags: i.tags.clone(),
    }
}

fn describe_snapshot(s: &Snapshot, ctx: &Ctx) -> DbSnapshot {
    DbSnapshot {
        id: s.id.clone(),
        arn: snapshot_arn(&s.id),
        source_id: s.source_id.clone(),
        status: s.status(ctx.now).to_string(),
        created_at: Some(s.life.created_at),
        tags: s.tags.clone(),
    }
}

/// What a restore copies, from a snapshot or from an instance's backups.
struct Copy {
    storage: DbStorage,
    port: u16,
    master_user: String,
    master_password: String,
    data: Database,
}

/// How long a point-in-time restore started at `now` takes: the latest daily automated backup
/// (taken at the backup window) restored, then the transaction log written since replayed.
pub fn point_in_time_restore(config: &SimConfig, now: DateTime<Utc>) -> std::time::Duration {
    let today = now.date_naive().and_hms_opt(BACKUP_WINDOW_HOUR, 0, 0).expect("a valid hour").and_utc();
    let latest = if today <= now { today } else { today - chrono::Duration::days(1) };
    config.restore + config.log_replay_per_hour.mul_f64((now - latest).num_seconds() as f64 / 3600.0)
}

impl World {
    pub fn live_instance(&self, id: &str, t: DateTime<Utc>) -> Option<&Instance> {
        self.instances.get(id).filter(|i| i.life.phase(t) != Phase::Gone)
    }

    /// A new instance's or cluster's subnet group must exist and its security groups be ids.
    pub(crate) fn check_network(&self, subnet_group: Option<&str>, security_group_ids: &[String]) -> CloudResult<()> {
        if let Some(group) = subnet_group.filter(|g| !self.subnet_groups.contains(*g)) {
            return Err(error(
                CloudErrorKind::NotFound,
                "DBSubnetGroupNotFoundFault",
                format!("DB subnet group '{group}' does not exist."),
            ));
        }
        if let Some(bad) = security_group_ids.iter().find(|g| !g.starts_with("sg-")) {
            return Err(error(CloudErrorKind::Fatal, "InvalidParameterValue", format!("Invalid security group: {bad}")));
        }
        Ok(())
    }

    pub fn live_snapshot(&self, id: &str, t: DateTime<Utc>) -> Option<&Snapshot> {
        self.snapshots.get(id).filter(|s| s.life.phase(t) != Phase::Gone)
    }

    /// Starts a snapshot of `instance` (its data as of now); `failed-state`/`never-ready` apply.
    fn start_snapshot(&mut self, ctx: &Ctx, instance_id: &str, snapshot_id: &str, tags: &Tags, operation: &str) -> CloudResult<Snapshot> {
        let source = self.live_instance(instance_id, ctx.now).ok_or_else(|| instance_not_found(instance_id))?.clone();
        if let Some(cluster) = &source.cluster_id {
            return Err(error(
                CloudErrorKind::Fatal,
                "InvalidParameterCombination",
                format!("The DB instance {instance_id} is a member of the DB cluster {cluster}: snapshot the cluster (CreateDBClusterSnapshot)."),
            ));
        }
        if source.status(ctx.now) != "available" {
            return Err(error(
                CloudErrorKind::InvalidState,
                "InvalidDBInstanceState",
                format!("Instance {instance_id} is not currently in the available state (it is {}).", source.status(ctx.now)),
            ));
        }
        let outcome = self.outcome(ctx, operation, true);
        let snapshot = Snapshot {
            id: snapshot_id.to_string(),
            source_id: instance_id.to_string(),
            storage: source.storage.clone(),
            data: source.data.clone(),
            master_user: source.master_user.clone(),
            master_password: source.master_password_at(ctx.now).to_string(),
            port: source.port,
            life: Lifecycle::starting(ctx.now, self.config.snapshot, outcome),
            tags: tags.clone(),
            origin: Origin::Created,
        };
        self.snapshots.insert(snapshot_id.to_string(), snapshot.clone());
        self.created(ctx, "db-snapshot", snapshot_id);
        Ok(snapshot)
    }

    /// A snapshot someone made by hand of `source` at `created_at`, carrying `tags` (perhaps
    /// forged to look like a run's).
    pub(crate) fn plant_snapshot(&mut self, id: &str, source: &str, tags: Tags, created_at: DateTime<Utc>) -> Result<(), String> {
        let instance = self.instances.get(source).ok_or_else(|| format!("no instance {source}"))?;
        let snapshot = Snapshot {
            id: id.to_string(),
            source_id: source.to_string(),
            storage: instance.storage.clone(),
            data: instance.data.clone(),
            master_user: instance.master_user.clone(),
            master_password: instance.master_password.clone(),
            port: instance.port,
            life: Lifecycle::existing(created_at),
            tags,
            origin: Origin::Foreign,
        };
        self.snapshots.insert(id.to_string(), snapshot);
        Ok(())
    }

    /// Someone else's snapshot (`of_cluster`: a cluster snapshot) under `id`, of another database.
    pub(crate) fn plant_foreign_snapshot(&mut self, ctx: &Ctx, id: &str, of_cluster: bool) {
        let snapshot = Snapshot {
            id: id.to_string(),
            source_id: if of_cluster { "analytics-reporting-cluster" } else { "analytics-reporting-db" }.to_string(),
            storage: DbStorage { allocated_gb: 100, storage_type: "gp2".to_string() },
            data: Database::unrelated("analytics"),
            master_user: "analytics".to_string(),
            master_password: "an4lyt1cs-0wn3d".to_string(),
            port: DB_PORT,
            life: Lifecycle::existing(ctx.now - chrono::Duration::days(1)),
            tags: Tags::from([("Owner".to_string(), "analytics-team".to_string())]),
            origin: Origin::Foreign,
        };
        match of_cluster {
            false => self.snapshots.insert(id.to_string(), snapshot),
            true => self.cluster_snapshots.insert(id.to_string(), snapshot),
        };
        self.foreign(ctx, if of_cluster { "db-cluster-snapshot" } else { "db-snapshot" }, id);
    }

    pub(crate) fn plant_foreign_instance(&mut self, ctx: &Ctx, id: &str) {
        let instance = Instance {
            id: id.to_string(),
            class: "db.t3.medium".to_string(),
            storage: DbStorage { allocated_gb: 100, storage_type: "gp2".to_string() },
            subnet_group: Some("default".to_string()),
            security_group_ids: vec!["sg-0f9e8d7c6b5a40312".to_string()],
            parameter_group: DEFAULT_DB_PARAMETER_GROUP.to_string(),
            option_group: DEFAULT_DB_OPTION_GROUP.to_string(),
            backup_retention_days: 1,
            cluster_id: None,
            publicly_accessible: false,
            address: endpoint_address(id),
            port: DB_PORT,
            master_user: "analytics".to_string(),
            master_password: "an4lyt1cs-0wn3d".to_string(),
            data: Database::unrelated("analytics"),
            life: Lifecycle::existing(ctx.now - chrono::Duration::days(1)),
            tags: Tags::from([("Owner".to_string(), "analytics-team".to_string())]),
            origin: Origin::Foreign,
            busy: None,
            stopped: None,
            password_reset: None,
            copy_tags_to_snapshot: false,
            cold_tables: BTreeSet::new(),
        };
        self.instances.insert(id.to_string(), instance);
        self.foreign(ctx, "db-instance", id);
    }

    fn create_snapshot(&mut self, ctx: &Ctx, instance_id: &str, snapshot_id: &str, tags: &Tags) -> CloudResult<DbSnapshot> {
        check_identifier("DBSnapshotIdentifier", snapshot_id)?;
        if self.live_snapshot(snapshot_id, ctx.now).is_none() && self.plant_conflict(ctx, "CreateDBSnapshot") {
            self.plant_foreign_snapshot(ctx, snapshot_id, false);
        }
        if self.live_snapshot(snapshot_id, ctx.now).is_some() {
            return Err(snapshot_exists(snapshot_id));
        }
        let snapshot = self.start_snapshot(ctx, instance_id, snapshot_id, tags, "CreateDBSnapshot")?;
        Ok(describe_snapshot(&snapshot, ctx))
    }

    fn restore(&mut self, ctx: &Ctx, request: &RestoreRequest) -> CloudResult<DbInstance> {
        let id = &request.instance_id;
        check_identifier("DBInstanceIdentifier", id)?;
        if !request.class.starts_with("db.") {
            return Err(error(CloudErrorKind::Fatal, "InvalidParameterValue", format!("Invalid DB Instance class: {}", request.class)));
        }
        if self.live_instance(id, ctx.now).is_none() && self.plant_conflict(ctx, "RestoreDBInstanceFromDBSnapshot") {
            self.plant_foreign_instance(ctx, id);
        }
        if self.live_instance(id, ctx.now).is_some() {
            return Err(error(CloudErrorKind::AlreadyExists, "DBInstanceAlreadyExists", "DB instance already exists".to_string()));
        }
        let (copy, restore_takes) = match &request.source {
            RestoreSource::Snapshot(snapshot_id) => {
                let snapshot = self.live_snapshot(snapshot_id, ctx.now).ok_or_else(|| snapshot_not_found(snapshot_id))?.clone();
                if snapshot.life.phase(ctx.now) != Phase::Ready {
                    return Err(error(
                        CloudErrorKind::InvalidState,
                        "InvalidDBSnapshotState",
                        format!("Snapshot {} is not in available state (it is {}).", snapshot.id, snapshot.status(ctx.now)),
                    ));
                }
                let copy = Copy {
                    storage: snapshot.storage,
                    port: snapshot.port,
                    master_user: snapshot.master_user,
                    master_password: snapshot.master_password,
                    data: snapshot.data,
                };
                (copy, self.config.restore)
            }
            RestoreSource::LatestRestorableTime { source_instance_id } => {
                let source = self.live_instance(source_instance_id, ctx.now).ok_or_else(|| instance_not_found(source_instance_id))?;
                if source.backup_retention_days == 0 {
                    return Err(error(
                        CloudErrorKind::Fatal,
                        "PointInTimeRestoreNotEnabled",
                        format!("SourceDBInstanceIdentifier {source_instance_id} refers to a DB instance with BackupRetentionPeriod equal to 0."),
                    ));
                }
                let copy = Copy {
                    storage: source.storage.clone(),
                    port: source.port,
                    master_user: source.master_user.clone(),
                    master_password: source.master_password_at(ctx.now).to_string(),
                    data: source.data.clone(),
                };
                (copy, point_in_time_restore(&self.config, ctx.now))
            }
        };
        self.check_network(request.subnet_group.as_deref(), &request.security_group_ids)?;
        let outcome = self.outcome(ctx, request.source.operation(), true);
        let cold_tables = copy.data.tables.keys().cloned().collect();
        let instance = Instance {
            id: id.clone(),
            class: request.class.clone(),
            storage: copy.storage,
            subnet_group: Some(request.subnet_group.clone().unwrap_or_else(|| "default".to_string())),
            security_group_ids: request.security_group_ids.clone(),
            parameter_group: request.parameter_group.clone().unwrap_or_else(|| DEFAULT_DB_PARAMETER_GROUP.to_string()),
            option_group: request.option_group.clone().unwrap_or_else(|| DEFAULT_DB_OPTION_GROUP.to_string()),
            backup_retention_days: 1,
            cluster_id: None,
            publicly_accessible: request.publicly_accessible,
            address: endpoint_address(id),
            port: copy.port,
            master_user: copy.master_user,
            master_password: copy.master_password,
            data: copy.data,
            life: Lifecycle::starting(ctx.now, restore_takes, outcome),
            tags: request.tags.clone(),
            origin: Origin::Created,
            busy: None,
            stopped: None,
            password_reset: None,
            copy_tags_to_snapshot: true,
            cold_tables,
        };
        let described = describe_instance(&instance, ctx);
        self.instances.insert(id.clone(), instance);
        self.created(ctx, "db-instance", id);
        Ok(described)
    }

    fn delete_instance(&mut self, ctx: &Ctx, id: &str, final_snapshot_id: Option<&str>) -> CloudResult<()> {
        if id == PRODUCTION_DB {
            self.production_write(ctx, format!("db-instance {id}"), "DeleteDBInstance");
        }
        let instance = self.live_instance(id, ctx.now).ok_or_else(|| instance_not_found(id))?;
        let stalled = instance.life.stalled(ctx.now);
        match instance.life.phase(ctx.now) {
            Phase::Deleting if !stalled => {
                return Err(error(
                    CloudErrorKind::InvalidState,
                    "InvalidDBInstanceState",
                    format!("Instance {id} is already being deleted."),
                ))
            }
            Phase::InProgress if !stalled => {
                return Err(error(
                    CloudErrorKind::InvalidState,
                    "InvalidDBInstanceState",
                    format!("Instance {id} is currently creating - a final snapshot cannot be taken and it cannot be deleted yet."),
                ))
            }
            _ => {}
        }
        if let Some(snapshot_id) = final_snapshot_id {
            check_identifier("FinalDBSnapshotIdentifier", snapshot_id)?;
            if self.live_snapshot(snapshot_id, ctx.now).is_some() {
                return Err(snapshot_exists(snapshot_id));
            }
            // A final snapshot needs an available instance; this fails for one that never
            // became available (or failed to), exactly as RDS refuses it.
            let tags = self.instances.get(id).filter(|i| i.copy_tags_to_snapshot).map(|i| i.tags.clone()).unwrap_or_default();
            self.start_snapshot(ctx, id, snapshot_id, &tags, "DeleteDBInstance")?;
        }
        let outcome = self.outcome(ctx, "DeleteDBInstance", false);
        let duration = self.config.instance_delete;
        if let Some(instance) = self.instances.get_mut(id) {
            instance.life.delete(ctx.now, duration, outcome);
        }
        self.deleted(ctx, "db-instance", id);
        Ok(())
    }

    /// An available instance, or RDS's InvalidDBInstanceState.
    fn available_instance(&self, ctx: &Ctx, id: &str) -> CloudResult<&Instance> {
        let instance = self.live_instance(id, ctx.now).ok_or_else(|| instance_not_found(id))?;
        match instance.status(ctx.now) {
            "available" => Ok(instance),
            status => Err(error(
                CloudErrorKind::InvalidState,
                "InvalidDBInstanceState",
                format!("Instance {id} is not currently in the available state (it is {status})."),
            )),
        }
    }

    fn note_production_instance(&mut self, ctx: &Ctx, ids: &[&str], operation: &str) {
        if ids.contains(&PRODUCTION_DB) {
            self.production_write(ctx, format!("db-instance {PRODUCTION_DB}"), operation);
        }
    }

    /// The old name and its endpoint are free at once; the new name answers after `rename`.
    fn rename_instance(&mut self, ctx: &Ctx, id: &str, new_id: &str) -> CloudResult<DbInstance> {
        check_identifier("NewDBInstanceIdentifier", new_id)?;
        self.note_production_instance(ctx, &[id, new_id], "ModifyDBInstance");
        if self.live_instance(new_id, ctx.now).is_some() {
            return Err(error(
                CloudErrorKind::AlreadyExists,
                "DBInstanceAlreadyExists",
                format!("DB instance {new_id} already exists; cannot rename {id} to it."),
            ));
        }
        self.available_instance(ctx, id)?;
        let outcome = self.outcome(ctx, "ModifyDBInstance", false);
        let until = ends(ctx.now, self.config.rename, outcome);
        let mut instance = self.instances.remove(id).ok_or_else(|| instance_not_found(id))?;
        instance.id = new_id.to_string();
        instance.address = endpoint_address(new_id);
        instance.busy = Some(("renaming", until));
        let described = describe_instance(&instance, ctx);
        self.instances.insert(new_id.to_string(), instance);
        Ok(described)
    }

    fn stop_instance(&mut self, ctx: &Ctx, id: &str) -> CloudResult<()> {
        self.note_production_instance(ctx, &[id], "StopDBInstance");
        self.available_instance(ctx, id)?;
        let outcome = self.outcome(ctx, "StopDBInstance", false);
        let until = ends(ctx.now, self.config.stop, outcome);
        if let Some(instance) = self.instances.get_mut(id) {
            instance.busy = Some(("stopping", until));
            // RDS starts a stopped instance again after seven days.
            instance.stopped = Some(
                until.unwrap_or(DateTime::<Utc>::MAX_UTC).checked_add_signed(chrono::Duration::days(7)).unwrap_or(DateTime::<Utc>::MAX_UTC),
            );
        }
        Ok(())
    }

    /// The new password takes effect once `resetting-master-credentials` ends.
    fn reset_master_password(&mut self, ctx: &Ctx, id: &str, password: &str) -> CloudResult<DbInstance> {
        self.note_production_instance(ctx, &[id], "ModifyDBInstance");
        check_master_password(password)?;
        if let Some(cluster) = self.available_instance(ctx, id)?.cluster_id.as_ref() {
            return Err(error(
                CloudErrorKind::Fatal,
                "InvalidParameterCombination",
                format!("The DB instance {id} is a member of the DB cluster {cluster}: modify the cluster's MasterUserPassword instead."),
            ));
        }
        let outcome = self.outcome(ctx, "ModifyDBInstance", false);
        let until = ends(ctx.now, self.config.password_reset, outcome);
        let instance = self.instances.get_mut(id).ok_or_else(|| instance_not_found(id))?;
        instance.busy = Some(("resetting-master-credentials", until));
        instance.password_reset = Some((password.to_string(), until));
        Ok(describe_instance(instance, ctx))
    }

    fn tag_instance(&mut self, ctx: &Ctx, arn: &str, tags: &Tags) -> CloudResult<()> {
        let id = self
            .instances
            .values()
            .find(|i| instance_arn(&i.id) == arn && i.life.phase(ctx.now) != Phase::Gone)
            .map(|i| i.id.clone())
            .ok_or_else(|| error(CloudErrorKind::NotFound, "DBInstanceNotFound", format!("DBInstance {arn} not found.")))?;
        self.note_production_instance(ctx, &[&id], "AddTagsToResource");
        if let Some(instance) = self.instances.get_mut(&id) {
            instance.tags.extend(tags.clone());
        }
        Ok(())
    }

    fn delete_snapshot(&mut self, ctx: &Ctx, id: &str) -> CloudResult<()> {
        self.delete_any_snapshot(ctx, id, false)
    }

    pub(crate) fn delete_cluster_snapshot(&mut self, ctx: &Ctx, id: &str) -> CloudResult<()> {
        self.delete_any_snapshot(ctx, id, true)
    }

    /// DeleteDBSnapshot, or DeleteDBClusterSnapshot with `of_cluster`: refused while it is taken.
    fn delete_any_snapshot(&mut self, ctx: &Ctx, id: &str, of_cluster: bool) -> CloudResult<()> {
        let (operation, kind, invalid_state) = match of_cluster {
            false => ("DeleteDBSnapshot", "db-snapshot", "InvalidDBSnapshotState"),
            true => ("DeleteDBClusterSnapshot", "db-cluster-snapshot", "InvalidDBClusterSnapshotStateFault"),
        };
        let snapshot = match of_cluster {
            false => self.live_snapshot(id, ctx.now).ok_or_else(|| snapshot_not_found(id))?,
            true => self.live_cluster_snapshot(id, ctx.now).ok_or_else(|| crate::aurora::cluster_snapshot_not_found(id))?,
        };
        let stalled = snapshot.life.stalled(ctx.now);
        match snapshot.life.phase(ctx.now) {
            Phase::InProgress | Phase::Deleting if !stalled => {
                return Err(error(
                    CloudErrorKind::InvalidState,
                    invalid_state,
                    format!("Cannot delete the snapshot {id} because it is {}.", snapshot.status(ctx.now)),
                ))
            }
            _ => {}
        }
        let outcome = self.outcome(ctx, operation, false);
        let duration = self.config.snapshot_delete;
        let snapshots = if of_cluster { &mut self.cluster_snapshots } else { &mut self.snapshots };
        if let Some(snapshot) = snapshots.get_mut(id) {
            snapshot.life.delete(ctx.now, duration, outcome);
        }
        self.deleted(ctx, kind, id);
        Ok(())
    }
}

/// RDS's rule for `MasterUserPassword` (ModifyDBInstance and ModifyDBCluster alike).
pub(crate) fn check_master_password(password: &str) -> CloudResult<()> {
    if !(8..=128).contains(&password.len()) || password.chars().any(|c| !c.is_ascii_graphic() || "/\"@".contains(c)) {
        return Err(error(
            CloudErrorKind::Fatal,
            "InvalidParameterValue",
            "The parameter MasterUserPassword is not a valid password: 8 to 128 printable ASCII characters, not /, \", @ or space."
                .to_string(),
        ));
    }
    Ok(())
}

/// RDS identifiers are case-insensitive: RDS stores and answers them in lowercase.
fn rds_id(id: &str) -> String {
    id.to_ascii_lowercase()
}

impl Rds for SimCloud {
    async fn describe_instance(&self, id: &str) -> CloudResult<Option<DbInstance>> {
        let id = rds_id(id);
        self.aws(api("DescribeDBInstances"), |w, ctx| Ok(w.live_instance(&id, ctx.now).map(|i| describe_instance(i, ctx))))
    }

    async fn describe_snapshot(&self, id: &str) -> CloudResult<Option<DbSnapshot>> {
        let id = rds_id(id);
        self.aws(api("DescribeDBSnapshots"), |w, ctx| Ok(w.live_snapshot(&id, ctx.now).map(|s| describe_snapshot(s, ctx))))
    }

    async fn create_snapshot(&self, instance_id: &str, snapshot_id: &str, tags: &Tags) -> CloudResult<DbSnapshot> {
        let (instance_id, snapshot_id) = (rds_id(instance_id), rds_id(snapshot_id));
        self.aws(api("CreateDBSnapshot"), |w, ctx| w.create_snapshot(ctx, &instance_id, &snapshot_id, tags))
    }

    async fn restore_instance(&self, request: &RestoreRequest) -> CloudResult<DbInstance> {
        let source = match &request.source {
            RestoreSource::Snapshot(id) => RestoreSource::Snapshot(rds_id(id)),
            RestoreSource::LatestRestorableTime { source_instance_id } => {
                RestoreSource::LatestRestorableTime { source_instance_id: rds_id(source_instance_id) }
            }
        };
        let request = RestoreRequest { instance_id: rds_id(&request.instance_id), source, ..request.clone() };
        self.aws(api(request.source.operation()), |w, ctx| w.restore(ctx, &request))
    }

    async fn delete_instance(&self, id: &str, final_snapshot_id: Option<&str>) -> CloudResult<()> {
        let (id, final_snapshot_id) = (rds_id(id), final_snapshot_id.map(rds_id));
        self.aws(api("DeleteDBInstance"), |w, ctx| w.delete_instance(ctx, &id, final_snapshot_id.as_deref()))
    }

    async fn delete_snapshot(&self, id: &str) -> CloudResult<()> {
        let id = rds_id(id);
        self.aws(api("DeleteDBSnapshot"), |w, ctx| w.delete_snapshot(ctx, &id))
    }

    async fn rename_instance(&self, id: &str, new_id: &str) -> CloudResult<DbInstance> {
        let (id, new_id) = (rds_id(id), rds_id(new_id));
        self.aws(api("ModifyDBInstance"), |w, ctx| w.rename_instance(ctx, &id, &new_id))
    }

    async fn stop_instance(&self, id: &str) -> CloudResult<()> {
        let id = rds_id(id);
        self.aws(api("StopDBInstance"), |w, ctx| w.stop_instance(ctx, &id))
    }

    async fn reset_master_password(&self, id: &str, password: &Secret) -> CloudResult<DbInstance> {
        let id = rds_id(id);
        self.aws(api("ModifyDBInstance"), |w, ctx| w.reset_master_password(ctx, &id, password.expose()))
    }

    async fn tag_instance(&self, arn: &str, tags: &Tags) -> CloudResult<()> {
        self.aws(api("AddTagsToResource"), |w, ctx| w.tag_instance(ctx, arn, tags))
    }

    async fn describe_cluster(&self, id: &str) -> CloudResult<Option<DbCluster>> {
        let id = rds_id(id);
        self.aws(api("DescribeDBClusters"), |w, ctx| Ok(w.live_cluster(&id, ctx.now).map(|c| w.describe_cluster(c, ctx))))
    }

    async fn copy_cluster(&self, request: &ClusterCopyRequest) -> CloudResult<DbCluster> {
        let source = match &request.source {
            ClusterSource::CopyOnWrite { source_cluster_id } => ClusterSource::CopyOnWrite { source_cluster_id: rds_id(source_cluster_id) },
            ClusterSource::Snapshot { snapshot_id, engine } => {
                ClusterSource::Snapshot { snapshot_id: rds_id(snapshot_id), engine: engine.clone() }
            }
        };
        let request = ClusterCopyRequest { cluster_id: rds_id(&request.cluster_id), source, ..request.clone() };
        self.aws(api(request.source.operation()), |w, ctx| w.copy_cluster(ctx, &request))
    }

    async fn describe_cluster_snapshot(&self, id: &str) -> CloudResult<Option<DbSnapshot>> {
        let id = rds_id(id);
        self.aws(api("DescribeDBClusterSnapshots"), |w, ctx| {
            Ok(w.live_cluster_snapshot(&id, ctx.now).map(|s| crate::aurora::describe_cluster_snapshot(s, ctx)))
        })
    }

    async fn create_cluster_snapshot(&self, cluster_id: &str, snapshot_id: &str, tags: &Tags) -> CloudResult<DbSnapshot> {
        let (cluster_id, snapshot_id) = (rds_id(cluster_id), rds_id(snapshot_id));
        self.aws(api("CreateDBClusterSnapshot"), |w, ctx| w.create_cluster_snapshot(ctx, &cluster_id, &snapshot_id, tags))
    }

    async fn delete_cluster_snapshot(&self, id: &str) -> CloudResult<()> {
        let id = rds_id(id);
        self.aws(api("DeleteDBClusterSnapshot"), |w, ctx| w.delete_cluster_snapshot(ctx, &id))
    }

    async fn create_cluster_instance(&self, request: &ClusterInstanceRequest) -> CloudResult<DbInstance> {
        let request = ClusterInstanceRequest {
            instance_id: rds_id(&request.instance_id),
            cluster_id: rds_id(&request.cluster_id),
            ..request.clone()
        };
        self.aws(api("CreateDBInstance"), |w, ctx| w.create_cluster_instance(ctx, &request))
    }

    async fn reset_cluster_master_password(&self, id: &str, password: &Secret) -> CloudResult<DbCluster> {
        let id = rds_id(id);
        self.aws(api("ModifyDBCluster"), |w, ctx| w.reset_cluster_master_password(ctx, &id, password.expose()))
    }

    async fn delete_cluster(&self, id: &str, final_snapshot_id: Option<&str>) -> CloudResult<()> {
        let (id, final_snapshot_id) = (rds_id(id), final_snapshot_id.map(rds_id));
        self.aws(api("DeleteDBCluster"), |w, ctx| w.delete_cluster(ctx, &id, final_snapshot_id.as_deref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
