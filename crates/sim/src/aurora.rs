//! Aurora: DB clusters and the instances in them. A copy-on-write clone shares its source's
//! storage, so it is `available` after [`SimConfig::aurora_clone`] whatever the size; an
//! instance joins a cluster only once that is available and takes [`SimConfig::aurora_instance`].
//! A cluster holds the master password (ModifyDBCluster; ModifyDBInstance refuses it for a
//! member) and is deleted only once it has no instances left.
//!
//! [`SimConfig::aurora_clone`]: crate::SimConfig::aurora_clone
//! [`SimConfig::aurora_instance`]: crate::SimConfig::aurora_instance

use crate::database::Database;
use crate::rds::{check_identifier, describe_instance, endpoint_address, error, Instance, Lifecycle, Phase, Snapshot};
use crate::seed::{ACCOUNT_ID, DEFAULT_DB_OPTION_GROUP, DEFAULT_DB_PARAMETER_GROUP, PRODUCTION_DB_CLUSTER, RDS_ENDPOINT_SUFFIX, REGION};
use crate::world::{ends, Ctx, Origin, World};
use chrono::{DateTime, Utc};
use rehearsal_core::cloud::{
    CloudResult, ClusterCopyRequest, ClusterInstanceRequest, ClusterSource, DbCluster, DbInstance, DbSnapshot, DbStorage, Endpoint,
};
use rehearsal_core::tags::Tags;
use rehearsal_core::{CloudError, CloudErrorKind};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub(crate) struct Cluster {
    pub id: String,
    pub engine: String,
    pub subnet_group: Option<String>,
    pub security_group_ids: Vec<String>,
    pub parameter_group: String,
    pub master_user: String,
    pub master_password: String,
    /// The shared volume as of the clone: what a new instance in it serves.
    pub data: Database,
    pub storage: DbStorage,
    pub port: u16,
    pub life: Lifecycle,
    /// A new master password and when it takes effect (`None`: never).
    pub password_reset: Option<(String, Option<DateTime<Utc>>)>,
    pub tags: Tags,
    pub origin: Origin,
}

/// What RDS gives a cluster cloned without a cluster parameter group.
const DEFAULT_CLUSTER_PARAMETER_GROUP: &str = "default.aurora-postgresql15";

impl Cluster {
    fn password_pending(&self, t: DateTime<Utc>) -> bool {
        self.password_reset.as_ref().is_some_and(|(_, applied)| applied.is_none_or(|a| t < a))
    }

    pub fn status(&self, t: DateTime<Utc>) -> &'static str {
        match self.life.phase(t) {
            Phase::InProgress => "creating",
            Phase::Ready if self.password_pending(t) => "resetting-master-credentials",
            Phase::Ready => "available",
            Phase::Failed => "cloning-failed",
            Phase::Deleting => "deleting",
            Phase::Gone => "deleted",
        }
    }
}

fn cluster_not_found(id: &str) -> CloudError {
    error(CloudErrorKind::NotFound, "DBClusterNotFoundFault", format!("DBCluster {id} not found."))
}

fn invalid_cluster_state(message: String) -> CloudError {
    error(CloudErrorKind::InvalidState, "InvalidDBClusterStateFault", message)
}

/// Where the writer of a cluster named `id` answers (RDS's `<id>.cluster-<suffix>`).
pub(crate) fn cluster_endpoint_address(id: &str) -> String {
    format!("{id}.cluster-{RDS_ENDPOINT_SUFFIX}")
}

fn cluster_arn(id: &str) -> String {
    format!("arn:aws:rds:{REGION}:{ACCOUNT_ID}:cluster:{id}")
}

impl World {
    pub fn live_cluster(&self, id: &str, t: DateTime<Utc>) -> Option<&Cluster> {
        self.clusters.get(id).filter(|c| c.life.phase(t) != Phase::Gone)
    }

    fn members(&self, cluster_id: &str, t: DateTime<Utc>) -> Vec<String> {
        self.instances
            .values()
            .filter(|i| i.cluster_id.as_deref() == Some(cluster_id) && i.life.phase(t) != Phase::Gone)
            .map(|i| i.id.clone())
            .collect()
    }

    pub(crate) fn describe_cluster(&self, c: &Cluster, ctx: &Ctx) -> DbCluster {
        DbCluster {
            id: c.id.clone(),
            arn: cluster_arn(&c.id),
            status: c.status(ctx.now).to_string(),
            engine: c.engine.clone(),
            subnet_group: c.subnet_group.clone(),
            security_group_ids: c.security_group_ids.clone(),
            parameter_group: Some(c.parameter_group.clone()),
            members: self.members(&c.id, ctx.now),
            master_username: c.master_user.clone(),
            master_password_pending: c.password_pending(ctx.now),
            endpoint: (c.life.phase(ctx.now) != Phase::InProgress)
                .then(|| Endpoint { address: cluster_endpoint_address(&c.id), port: c.port }),
            created_at: (c.life.phase(ctx.now) != Phase::InProgress).then_some(c.life.created_at),
            tags: c.tags.clone(),
        }
    }

    fn note_production_cluster(&mut self, ctx: &Ctx, id: &str, operation: &str) {
        if id == PRODUCTION_DB_CLUSTER {
            self.production_write(ctx, format!("db-cluster {id}"), operation);
        }
    }

    fn plant_foreign_cluster(&mut self, ctx: &Ctx, id: &str) {
        let cluster = Cluster {
            id: id.to_string(),
            engine: "aurora-postgresql".to_string(),
            subnet_group: Some("default".to_string()),
            security_group_ids: vec!["sg-0f9e8d7c6b5a40312".to_string()],
            parameter_group: DEFAULT_CLUSTER_PARAMETER_GROUP.to_string(),
            master_user: "analytics".to_string(),
            master_password: "an4lyt1cs-0wn3d".to_string(),
            data: Database::unrelated("analytics"),
            storage: DbStorage { allocated_gb: 1, storage_type: "aurora".to_string() },
            port: crate::seed::DB_PORT,
            life: Lifecycle::existing(ctx.now - chrono::Duration::days(1)),
            password_reset: None,
            tags: Tags::from([("Owner".to_string(), "analytics-team".to_string())]),
            origin: Origin::Foreign,
        };
        self.clusters.insert(id.to_string(), cluster);
        self.foreign(ctx, "db-cluster", id);
    }

    /// The source's pages as its writer left them, and the password they answer to.
    fn writer_copy(&self, source: &Cluster, t: DateTime<Utc>) -> (Database, String) {
        self.members(&source.id, t)
            .first()
            .and_then(|w| self.instances.get(w))
            .map(|w| (w.data.clone(), w.master_password_at(t).to_string()))
            .unwrap_or_else(|| (source.data.clone(), source.master_password.clone()))
    }

    /// RestoreDBClusterToPointInTime (copy-on-write, to the latest restorable time: the source's
    /// writer's data as of now, in [`SimConfig::aurora_clone`] whatever the size) or
    /// RestoreDBClusterFromSnapshot (the snapshot's data, in [`SimConfig::restore`], as an instance
    /// restore).
    ///
    /// [`SimConfig::aurora_clone`]: crate::SimConfig::aurora_clone
    /// [`SimConfig::restore`]: crate::SimConfig::restore
    pub(crate) fn copy_cluster(&mut self, ctx: &Ctx, request: &ClusterCopyRequest) -> CloudResult<DbCluster> {
        let id = &request.cluster_id;
        let operation = request.source.operation();
        check_identifier("DBClusterIdentifier", id)?;
        self.note_production_cluster(ctx, id, operation);
        if self.live_cluster(id, ctx.now).is_none() && self.plant_conflict(ctx, operation) {
            self.plant_foreign_cluster(ctx, id);
        }
        if self.live_cluster(id, ctx.now).is_some() {
            return Err(error(CloudErrorKind::AlreadyExists, "DBClusterAlreadyExistsFault", format!("DB Cluster {id} already exists")));
        }
        let (engine, data, master_user, master_password, storage, port, takes) = match &request.source {
            ClusterSource::CopyOnWrite { source_cluster_id } => {
                let source = self.live_cluster(source_cluster_id, ctx.now).ok_or_else(|| cluster_not_found(source_cluster_id))?;
                if source.life.phase(ctx.now) != Phase::Ready {
                    return Err(invalid_cluster_state(format!(
                        "DB cluster {} is not available for a clone (it is {}).",
                        source.id,
                        source.status(ctx.now)
                    )));
                }
                let (data, password) = self.writer_copy(source, ctx.now);
                (
                    source.engine.clone(),
                    data,
                    source.master_user.clone(),
                    password,
                    source.storage.clone(),
                    source.port,
                    self.config.aurora_clone,
                )
            }
            ClusterSource::Snapshot { snapshot_id, engine } => {
                let snapshot = self.live_cluster_snapshot(snapshot_id, ctx.now).ok_or_else(|| cluster_snapshot_not_found(snapshot_id))?;
                if snapshot.life.phase(ctx.now) != Phase::Ready {
                    return Err(error(
                        CloudErrorKind::InvalidState,
                        "InvalidDBClusterSnapshotStateFault",
                        format!("Cluster snapshot {snapshot_id} is not available (it is {}).", snapshot.status(ctx.now)),
                    ));
                }
                let s = snapshot.clone();
                (engine.clone(), s.data, s.master_user, s.master_password, s.storage, s.port, self.config.restore)
            }
        };
        self.check_network(request.subnet_group.as_deref(), &request.security_group_ids)?;
        let outcome = self.outcome(ctx, operation, true);
        let cluster = Cluster {
            id: id.clone(),
            engine,
            subnet_group: Some(request.subnet_group.clone().unwrap_or_else(|| "default".to_string())),
            security_group_ids: request.security_group_ids.clone(),
            parameter_group: request.parameter_group.clone().unwrap_or_else(|| DEFAULT_CLUSTER_PARAMETER_GROUP.to_string()),
            master_user,
            master_password,
            data,
            storage,
            port,
            life: Lifecycle::starting(ctx.now, takes, outcome),
            password_reset: None,
            tags: request.tags.clone(),
            origin: Origin::Created,
        };
        let described = self.describe_cluster(&cluster, ctx);
        self.clusters.insert(id.clone(), cluster);
        self.created(ctx, "db-cluster", id);
        Ok(described)
    }

    pub fn live_cluster_snapshot(&self, id: &str, t: DateTime<Utc>) -> Option<&Snapshot> {
        self.cluster_snapshots.get(id).filter(|s| s.life.phase(t) != Phase::Gone)
    }

    /// Starts a snapshot of an available cluster (its writer's data as of now), in
    /// [`SimConfig::snapshot`] as an instance's; `failed-state`/`never-ready` apply. Reading
    /// production's cluster is not a write to it.
    ///
    /// [`SimConfig::snapshot`]: crate::SimConfig::snapshot
    fn start_cluster_snapshot(
        &mut self,
        ctx: &Ctx,
        cluster_id: &str,
        snapshot_id: &str,
        tags: &Tags,
        operation: &str,
    ) -> CloudResult<Snapshot> {
        check_identifier("DBClusterSnapshotIdentifier", snapshot_id)?;
        if self.live_cluster_snapshot(snapshot_id, ctx.now).is_some() {
            return Err(error(
                CloudErrorKind::AlreadyExists,
                "DBClusterSnapshotAlreadyExistsFault",
                format!("Cannot create the cluster snapshot because one with the identifier {snapshot_id} already exists."),
            ));
        }
        let source = self.live_cluster(cluster_id, ctx.now).ok_or_else(|| cluster_not_found(cluster_id))?;
        if source.status(ctx.now) != "available" {
            return Err(invalid_cluster_state(format!("DB cluster {cluster_id} is not available (it is {}).", source.status(ctx.now))));
        }
        let (data, master_password) = self.writer_copy(source, ctx.now);
        let (master_user, storage, port) = (source.master_user.clone(), source.storage.clone(), source.port);
        let outcome = self.outcome(ctx, operation, true);
        let snapshot = Snapshot {
            id: snapshot_id.to_string(),
            source_id: cluster_id.to_string(),
            storage,
            data,
            master_user,
            master_password,
            port,
            life: Lifecycle::starting(ctx.now, self.config.snapshot, outcome),
            tags: tags.clone(),
            origin: Origin::Created,
        };
        self.cluster_snapshots.insert(snapshot_id.to_string(), snapshot.clone());
        self.created(ctx, "db-cluster-snapshot", snapshot_id);
        Ok(snapshot)
    }

    pub(crate) fn create_cluster_snapshot(
        &mut self,
        ctx: &Ctx,
        cluster_id: &str,
        snapshot_id: &str,
        tags: &Tags,
    ) -> CloudResult<DbSnapshot> {
        if self.live_cluster_snapshot(snapshot_id, ctx.now).is_none() && self.plant_conflict(ctx, "CreateDBClusterSnapshot") {
            self.plant_foreign_snapshot(ctx, snapshot_id, true);
        }
        let snapshot = self.start_cluster_snapshot(ctx, cluster_id, snapshot_id, tags, "CreateDBClusterSnapshot")?;
        Ok(describe_cluster_snapshot(&snapshot, ctx))
    }

    /// CreateDBInstance with a DBClusterIdentifier: the cluster must be available.
    pub(crate) fn create_cluster_instance(&mut self, ctx: &Ctx, request: &ClusterInstanceRequest) -> CloudResult<DbInstance> {
        let id = &request.instance_id;
        check_identifier("DBInstanceIdentifier", id)?;
        self.note_production_cluster(ctx, &request.cluster_id, "CreateDBInstance");
        if self.live_instance(id, ctx.now).is_none() && self.plant_conflict(ctx, "CreateDBInstance") {
            self.plant_foreign_instance(ctx, id);
        }
        if self.live_instance(id, ctx.now).is_some() {
            return Err(error(CloudErrorKind::AlreadyExists, "DBInstanceAlreadyExists", "DB instance already exists".to_string()));
        }
        let cluster = self.live_cluster(&request.cluster_id, ctx.now).ok_or_else(|| cluster_not_found(&request.cluster_id))?.clone();
        if cluster.status(ctx.now) != "available" {
            return Err(invalid_cluster_state(format!(
                "DB cluster {} is not in the available state (it is {}).",
                cluster.id,
                cluster.status(ctx.now)
            )));
        }
        if request.engine != cluster.engine {
            return Err(error(
                CloudErrorKind::Fatal,
                "InvalidParameterCombination",
                format!("The engine {} does not match the DB cluster's engine {}.", request.engine, cluster.engine),
            ));
        }
        let outcome = self.outcome(ctx, "CreateDBInstance", true);
        let cold_tables = cluster.data.tables.keys().cloned().collect();
        let instance = Instance {
            id: id.clone(),
            class: request.class.clone(),
            storage: cluster.storage.clone(),
            subnet_group: cluster.subnet_group.clone(),
            security_group_ids: cluster.security_group_ids.clone(),
            parameter_group: request.parameter_group.clone().unwrap_or_else(|| DEFAULT_DB_PARAMETER_GROUP.to_string()),
            option_group: DEFAULT_DB_OPTION_GROUP.to_string(),
            backup_retention_days: 1,
            cluster_id: Some(cluster.id.clone()),
            publicly_accessible: request.publicly_accessible,
            address: endpoint_address(id),
            port: cluster.port,
            master_user: cluster.master_user.clone(),
            master_password: cluster.master_password.clone(),
            data: cluster.data.clone(),
            life: Lifecycle::starting(ctx.now, self.config.aurora_instance, outcome),
            tags: request.tags.clone(),
            origin: Origin::Created,
            busy: None,
            stopped: None,
            password_reset: cluster.password_reset.clone(),
            copy_tags_to_snapshot: true,
            cold_tables,
        };
        let described = describe_instance(&instance, ctx);
        self.instances.insert(id.clone(), instance);
        self.created(ctx, "db-instance", id);
        Ok(described)
    }

    /// ModifyDBCluster `MasterUserPassword`: every member answers to it once applied.
    pub(crate) fn reset_cluster_master_password(&mut self, ctx: &Ctx, id: &str, password: &str) -> CloudResult<DbCluster> {
        self.note_production_cluster(ctx, id, "ModifyDBCluster");
        crate::rds::check_master_password(password)?;
        let cluster = self.live_cluster(id, ctx.now).ok_or_else(|| cluster_not_found(id))?;
        if cluster.status(ctx.now) != "available" {
            return Err(invalid_cluster_state(format!(
                "DB cluster {id} is not in the available state (it is {}).",
                cluster.status(ctx.now)
            )));
        }
        let outcome = self.outcome(ctx, "ModifyDBCluster", false);
        let reset = Some((password.to_string(), ends(ctx.now, self.config.password_reset, outcome)));
        for member in self.members(id, ctx.now) {
            if let Some(instance) = self.instances.get_mut(&member) {
                instance.password_reset = reset.clone();
            }
        }
        let cluster = self.clusters.get_mut(id).ok_or_else(|| cluster_not_found(id))?;
        cluster.password_reset = reset;
        let cluster = cluster.clone();
        Ok(self.describe_cluster(&cluster, ctx))
    }

    pub(crate) fn delete_cluster(&mut self, ctx: &Ctx, id: &str, final_snapshot_id: Option<&str>) -> CloudResult<()> {
        self.note_production_cluster(ctx, id, "DeleteDBCluster");
        let cluster = self.live_cluster(id, ctx.now).ok_or_else(|| cluster_not_found(id))?;
        let stalled = cluster.life.stalled(ctx.now);
        match cluster.life.phase(ctx.now) {
            Phase::Deleting if !stalled => return Err(invalid_cluster_state(format!("DB cluster {id} is already being deleted."))),
            Phase::InProgress if !stalled => {
                return Err(invalid_cluster_state(format!("DB cluster {id} is creating and cannot be deleted yet.")))
            }
            _ => {}
        }
        let members = self.members(id, ctx.now);
        if !members.is_empty() {
            return Err(invalid_cluster_state(format!(
                "Cluster cannot be deleted, it still contains DB instances in non-deleting state: {}.",
                members.join(", ")
            )));
        }
        if let Some(snapshot_id) = final_snapshot_id {
            // Only an available cluster can be snapshotted: one that never came up cannot.
            let tags = cluster.tags.clone();
            self.start_cluster_snapshot(ctx, id, snapshot_id, &tags, "DeleteDBCluster")?;
        }
        let outcome = self.outcome(ctx, "DeleteDBCluster", false);
        let duration = self.config.instance_delete;
        if let Some(cluster) = self.clusters.get_mut(id) {
            cluster.life.delete(ctx.now, duration, outcome);
        }
        self.deleted(ctx, "db-cluster", id);
        Ok(())
    }
}

/// The production cluster of an Aurora production (`SimAccount::make_production_aurora`): its
/// writer is the seeded production instance, whose data it serves.
pub(crate) fn production_cluster(world: &mut World) {
    let Some(writer) = world.instances.get_mut(crate::seed::PRODUCTION_DB) else { return };
    writer.cluster_id = Some(PRODUCTION_DB_CLUSTER.to_string());
    writer.parameter_group = crate::seed::PRODUCTION_AURORA_PARAMETER_GROUP.to_string();
    let cluster = Cluster {
        id: PRODUCTION_DB_CLUSTER.to_string(),
        engine: "aurora-postgresql".to_string(),
        subnet_group: writer.subnet_group.clone(),
        security_group_ids: writer.security_group_ids.clone(),
        parameter_group: crate::seed::PRODUCTION_CLUSTER_PARAMETER_GROUP.to_string(),
        master_user: writer.master_user.clone(),
        master_password: writer.master_password.clone(),
        data: writer.data.clone(),
        storage: DbStorage { allocated_gb: 1, storage_type: "aurora".to_string() },
        port: writer.port,
        life: writer.life.clone(),
        password_reset: None,
        tags: writer.tags.clone(),
        origin: Origin::Seed,
    };
    world.clusters.insert(PRODUCTION_DB_CLUSTER.to_string(), cluster);
}

/// Cluster snapshots by identifier: taken by CreateDBClusterSnapshot or as a cluster was deleted.
pub(crate) type ClusterSnapshots = BTreeMap<String, Snapshot>;

pub(crate) fn cluster_snapshot_not_found(id: &str) -> CloudError {
    error(CloudErrorKind::NotFound, "DBClusterSnapshotNotFoundFault", format!("DBClusterSnapshot {id} not found."))
}

pub(crate) fn describe_cluster_snapshot(s: &Snapshot, ctx: &Ctx) -> DbSnapshot {
    DbSnapshot {
        id: s.id.clone(),
        arn: format!("arn:aws:rds:{REGION}:{ACCOUNT_ID}:cluster-snapshot:{}", s.id),
        source_id: s.source_id.clone(),
        status: s.status(ctx.now).to_string(),
        created_at: Some(s.life.created_at),
        tags: s.tags.clone(),
    }
}
