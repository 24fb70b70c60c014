//! RDS: instances and manual snapshots, with their lifecycles and error codes.

use crate::account::{Api, SimCloud};
use crate::database::Database;
use crate::seed::{ACCOUNT_ID, DB_PORT, PRODUCTION_DB, RDS_ENDPOINT_SUFFIX, REGION};
use crate::world::{ends, Ctx, Instance, Lifecycle, Origin, Phase, Snapshot, World};
use rehearsal_core::cloud::{CloudResult, DbInstance, DbSnapshot, Endpoint, Rds, RestoreRequest};
use rehearsal_core::naming::rds_identifier_problem;
use rehearsal_core::tags::Tags;
use rehearsal_core::{CloudError, CloudErrorKind};

fn api(action: &'static str) -> Api {
    Api { service: "rds", action }
}

fn error(kind: CloudErrorKind, code: &str, message: String) -> CloudError {
    CloudError::new(kind, code, message)
}

fn instance_not_found(id: &str) -> CloudError {
    error(CloudErrorKind::NotFound, "DBInstanceNotFound", format!("DBInstance {id} not found."))
}

fn snapshot_not_found(id: &str) -> CloudError {
    error(CloudErrorKind::NotFound, "DBSnapshotNotFound", format!("DBSnapshot {id} not found."))
}

fn check_identifier(what: &str, id: &str) -> CloudResult<()> {
    match rds_identifier_problem(id) {
        Some(problem) => Err(error(
            CloudErrorKind::Fatal,
            "InvalidParameterValue",
            format!("The parameter {what} is not a valid identifier: {problem}."),
        )),
        None => Ok(()),
    }
}

fn snapshot_exists(id: &str) -> CloudError {
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

fn describe_instance(i: &Instance, ctx: &Ctx) -> DbInstance {
    let phase = i.life.phase(ctx.now);
    DbInstance {
        id: i.id.clone(),
        arn: instance_arn(&i.id),
        status: i.status(ctx.now).to_string(),
        // RDS has no endpoint to show while the instance is still being created.
        endpoint: (phase != Phase::InProgress).then(|| Endpoint { address: i.address.clone(), port: i.port }),
        class: i.class.clone(),
        subnet_group: i.subnet_group.clone(),
        security_group_ids: i.security_group_ids.clone(),
        publicly_accessible: i.publicly_accessible,
        tags: i.tags.clone(),
    }
}

fn describe_snapshot(s: &Snapshot, ctx: &Ctx) -> DbSnapshot {
    DbSnapshot {
        id: s.id.clone(),
        arn: snapshot_arn(&s.id),
        source_instance_id: s.source_instance_id.clone(),
        status: s.status(ctx.now).to_string(),
        tags: s.tags.clone(),
    }
}

impl World {
    /// Starts a snapshot of `instance` (its data as of now); `failed-state`/`never-ready` apply.
    fn start_snapshot(&mut self, ctx: &Ctx, instance_id: &str, snapshot_id: &str, tags: &Tags, operation: &str) -> CloudResult<Snapshot> {
        let source = self.live_instance(instance_id, ctx.now).ok_or_else(|| instance_not_found(instance_id))?.clone();
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
            source_instance_id: instance_id.to_string(),
            data: source.data.clone(),
            master_user: source.master_user.clone(),
            master_password: source.master_password.clone(),
            port: source.port,
            life: Lifecycle::starting(ctx.now, self.config.snapshot, outcome),
            tags: tags.clone(),
            origin: Origin::Created,
        };
        self.snapshots.insert(snapshot_id.to_string(), snapshot.clone());
        self.created(ctx, "db-snapshot", snapshot_id);
        Ok(snapshot)
    }

    fn plant_foreign_snapshot(&mut self, ctx: &Ctx, id: &str) {
        let snapshot = Snapshot {
            id: id.to_string(),
            source_instance_id: "analytics-reporting-db".to_string(),
            data: Database::unrelated("analytics"),
            master_user: "analytics".to_string(),
            master_password: "an4lyt1cs-0wn3d".to_string(),
            port: DB_PORT,
            life: Lifecycle::existing(),
            tags: Tags::from([("Owner".to_string(), "analytics-team".to_string())]),
            origin: Origin::Foreign,
        };
        self.snapshots.insert(id.to_string(), snapshot);
        self.foreign(ctx, "db-snapshot", id);
    }

    fn plant_foreign_instance(&mut self, ctx: &Ctx, id: &str) {
        let instance = Instance {
            id: id.to_string(),
            class: "db.t3.medium".to_string(),
            subnet_group: Some("default".to_string()),
            security_group_ids: vec!["sg-0f9e8d7c6b5a40312".to_string()],
            publicly_accessible: false,
            address: endpoint_address(id),
            port: DB_PORT,
            master_user: "analytics".to_string(),
            master_password: "an4lyt1cs-0wn3d".to_string(),
            data: Database::unrelated("analytics"),
            life: Lifecycle::existing(),
            tags: Tags::from([("Owner".to_string(), "analytics-team".to_string())]),
            origin: Origin::Foreign,
            busy: None,
            stopped: false,
        };
        self.instances.insert(id.to_string(), instance);
        self.foreign(ctx, "db-instance", id);
    }

    fn create_snapshot(&mut self, ctx: &Ctx, instance_id: &str, snapshot_id: &str, tags: &Tags) -> CloudResult<DbSnapshot> {
        check_identifier("DBSnapshotIdentifier", snapshot_id)?;
        if self.live_snapshot(snapshot_id, ctx.now).is_none() && self.plant_conflict(ctx, "CreateDBSnapshot") {
            self.plant_foreign_snapshot(ctx, snapshot_id);
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
        let snapshot = self.live_snapshot(&request.snapshot_id, ctx.now).ok_or_else(|| snapshot_not_found(&request.snapshot_id))?.clone();
        if snapshot.life.phase(ctx.now) != Phase::Ready {
            return Err(error(
                CloudErrorKind::InvalidState,
                "InvalidDBSnapshotState",
                format!("Snapshot {} is not in available state (it is {}).", snapshot.id, snapshot.status(ctx.now)),
            ));
        }
        if let Some(group) = request.subnet_group.as_ref().filter(|g| !self.subnet_groups.contains(*g)) {
            return Err(error(
                CloudErrorKind::NotFound,
                "DBSubnetGroupNotFoundFault",
                format!("DB subnet group '{group}' does not exist."),
            ));
        }
        if let Some(bad) = request.security_group_ids.iter().find(|g| !g.starts_with("sg-")) {
            return Err(error(CloudErrorKind::Fatal, "InvalidParameterValue", format!("Invalid security group: {bad}")));
        }
        let outcome = self.outcome(ctx, "RestoreDBInstanceFromDBSnapshot", true);
        let instance = Instance {
            id: id.clone(),
            class: request.class.clone(),
            subnet_group: Some(request.subnet_group.clone().unwrap_or_else(|| "default".to_string())),
            security_group_ids: request.security_group_ids.clone(),
            publicly_accessible: request.publicly_accessible,
            address: endpoint_address(id),
            port: snapshot.port,
            master_user: snapshot.master_user.clone(),
            master_password: snapshot.master_password.clone(),
            data: snapshot.data.clone(),
            life: Lifecycle::starting(ctx.now, self.config.restore, outcome),
            tags: request.tags.clone(),
            origin: Origin::Created,
            busy: None,
            stopped: false,
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
            self.start_snapshot(ctx, id, snapshot_id, &Tags::new(), "DeleteDBInstance")?;
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
            instance.stopped = true;
        }
        Ok(())
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
        let snapshot = self.live_snapshot(id, ctx.now).ok_or_else(|| snapshot_not_found(id))?;
        let stalled = snapshot.life.stalled(ctx.now);
        match snapshot.life.phase(ctx.now) {
            Phase::InProgress | Phase::Deleting if !stalled => {
                return Err(error(
                    CloudErrorKind::InvalidState,
                    "InvalidDBSnapshotState",
                    format!("Cannot delete the snapshot {id} because it is {}.", snapshot.status(ctx.now)),
                ))
            }
            _ => {}
        }
        let outcome = self.outcome(ctx, "DeleteDBSnapshot", false);
        let duration = self.config.snapshot_delete;
        if let Some(snapshot) = self.snapshots.get_mut(id) {
            snapshot.life.delete(ctx.now, duration, outcome);
        }
        self.deleted(ctx, "db-snapshot", id);
        Ok(())
    }
}

impl Rds for SimCloud {
    async fn describe_instance(&self, id: &str) -> CloudResult<Option<DbInstance>> {
        self.aws(api("DescribeDBInstances"), |w, ctx| Ok(w.live_instance(id, ctx.now).map(|i| describe_instance(i, ctx))))
    }

    async fn describe_snapshot(&self, id: &str) -> CloudResult<Option<DbSnapshot>> {
        self.aws(api("DescribeDBSnapshots"), |w, ctx| Ok(w.live_snapshot(id, ctx.now).map(|s| describe_snapshot(s, ctx))))
    }

    async fn create_snapshot(&self, instance_id: &str, snapshot_id: &str, tags: &Tags) -> CloudResult<DbSnapshot> {
        self.aws(api("CreateDBSnapshot"), |w, ctx| w.create_snapshot(ctx, instance_id, snapshot_id, tags))
    }

    async fn restore_instance_from_snapshot(&self, request: &RestoreRequest) -> CloudResult<DbInstance> {
        self.aws(api("RestoreDBInstanceFromDBSnapshot"), |w, ctx| w.restore(ctx, request))
    }

    async fn delete_instance(&self, id: &str, final_snapshot_id: Option<&str>) -> CloudResult<()> {
        self.aws(api("DeleteDBInstance"), |w, ctx| w.delete_instance(ctx, id, final_snapshot_id))
    }

    async fn delete_snapshot(&self, id: &str) -> CloudResult<()> {
        self.aws(api("DeleteDBSnapshot"), |w, ctx| w.delete_snapshot(ctx, id))
    }

    async fn rename_instance(&self, id: &str, new_id: &str) -> CloudResult<DbInstance> {
        self.aws(api("ModifyDBInstance"), |w, ctx| w.rename_instance(ctx, id, new_id))
    }

    async fn stop_instance(&self, id: &str) -> CloudResult<()> {
        self.aws(api("StopDBInstance"), |w, ctx| w.stop_instance(ctx, id))
    }

    async fn tag_instance(&self, arn: &str, tags: &Tags) -> CloudResult<()> {
        self.aws(api("AddTagsToResource"), |w, ctx| w.tag_instance(ctx, arn, tags))
    }
}
