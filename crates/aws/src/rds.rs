//! RDS: snapshots of production, the staging instance restored from one, its deletion; for
//! `aurora-clone`, the copy-on-write clone of production's Aurora cluster and its instance.

use crate::error::{absent_if_not_found, from_sdk};
use crate::sfn::to_chrono;
use crate::AwsCloud;
use aws_sdk_rds::types::{
    DbCluster as SdkCluster, DbClusterSnapshot as SdkClusterSnapshot, DbInstance as SdkInstance, DbSnapshot as SdkSnapshot, Tag,
};
use rehearsal_core::cloud::{
    CloudResult, ClusterCopyRequest, ClusterInstanceRequest, ClusterSource, DbCluster, DbInstance, DbSnapshot, DbStorage, Endpoint, Rds,
    RestoreRequest, RestoreSource,
};
use rehearsal_core::tags::Tags;
use rehearsal_core::Secret;

fn to_sdk_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

fn from_sdk_tags(tags: &[Tag]) -> Tags {
    tags.iter().filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string()))).collect()
}

fn instance(db: &SdkInstance) -> DbInstance {
    DbInstance {
        id: db.db_instance_identifier().unwrap_or_default().to_string(),
        arn: db.db_instance_arn().unwrap_or_default().to_string(),
        status: db.db_instance_status().unwrap_or_default().to_string(),
        endpoint: db
            .endpoint()
            .and_then(|e| Some(Endpoint { address: e.address()?.to_string(), port: e.port().and_then(|p| u16::try_from(p).ok())? })),
        class: db.db_instance_class().unwrap_or_default().to_string(),
        storage: DbStorage {
            allocated_gb: db.allocated_storage().and_then(|gb| u32::try_from(gb).ok()).unwrap_or_default(),
            storage_type: db.storage_type().unwrap_or_default().to_string(),
        },
        subnet_group: db.db_subnet_group().and_then(|g| g.db_subnet_group_name()).map(str::to_string),
        security_group_ids: db.vpc_security_groups().iter().filter_map(|g| g.vpc_security_group_id()).map(str::to_string).collect(),
        parameter_group: db.db_parameter_groups().first().and_then(|g| g.db_parameter_group_name()).map(str::to_string),
        option_group: db.option_group_memberships().first().and_then(|g| g.option_group_name()).map(str::to_string),
        backup_retention_days: db.backup_retention_period().and_then(|d| u32::try_from(d).ok()).unwrap_or_default(),
        cluster_id: db.db_cluster_identifier().map(str::to_string),
        publicly_accessible: db.publicly_accessible().unwrap_or(false),
        master_username: db.master_username().unwrap_or_default().to_string(),
        master_password_pending: db.pending_modified_values().and_then(|p| p.master_user_password()).is_some(),
        created_at: db.instance_create_time().and_then(to_chrono),
        tags: from_sdk_tags(db.tag_list()),
    }
}

fn cluster(c: &SdkCluster) -> DbCluster {
    DbCluster {
        id: c.db_cluster_identifier().unwrap_or_default().to_string(),
        arn: c.db_cluster_arn().unwrap_or_default().to_string(),
        status: c.status().unwrap_or_default().to_string(),
        engine: c.engine().unwrap_or_default().to_string(),
        subnet_group: c.db_subnet_group().map(str::to_string),
        security_group_ids: c.vpc_security_groups().iter().filter_map(|g| g.vpc_security_group_id()).map(str::to_string).collect(),
        parameter_group: c.db_cluster_parameter_group().map(str::to_string),
        members: c.db_cluster_members().iter().filter_map(|m| m.db_instance_identifier()).map(str::to_string).collect(),
        master_username: c.master_username().unwrap_or_default().to_string(),
        master_password_pending: c.pending_modified_values().and_then(|p| p.master_user_password()).is_some(),
        endpoint: c.endpoint().and_then(|address| Some(Endpoint { address: address.to_string(), port: u16::try_from(c.port()?).ok()? })),
        created_at: c.cluster_create_time().and_then(to_chrono),
        tags: from_sdk_tags(c.tag_list()),
    }
}

fn cluster_snapshot(s: &SdkClusterSnapshot) -> DbSnapshot {
    DbSnapshot {
        id: s.db_cluster_snapshot_identifier().unwrap_or_default().to_string(),
        arn: s.db_cluster_snapshot_arn().unwrap_or_default().to_string(),
        source_id: s.db_cluster_identifier().unwrap_or_default().to_string(),
        status: s.status().unwrap_or_default().to_string(),
        created_at: s.snapshot_create_time().and_then(to_chrono),
        tags: from_sdk_tags(s.tag_list()),
    }
}

fn snapshot(s: &SdkSnapshot) -> DbSnapshot {
    DbSnapshot {
        id: s.db_snapshot_identifier().unwrap_or_default().to_string(),
        arn: s.db_snapshot_arn().unwrap_or_default().to_string(),
        source_id: s.db_instance_identifier().unwrap_or_default().to_string(),
        status: s.status().unwrap_or_default().to_string(),
        created_at: s.snapshot_create_time().and_then(to_chrono),
        tags: from_sdk_tags(s.tag_list()),
    }
}

fn missing(operation: &str, id: &str) -> rehearsal_core::CloudError {
    crate::error::unsupported("MissingInResponse", format!("{operation} answered without the resource for {id}"))
}

impl Rds for AwsCloud {
    async fn describe_instance(&self, id: &str) -> CloudResult<Option<DbInstance>> {
        let out = absent_if_not_found(self.rds.describe_db_instances().db_instance_identifier(id).send().await.map_err(from_sdk))?;
        Ok(out.and_then(|o| o.db_instances().iter().find(|db| db.db_instance_identifier() == Some(id)).map(instance)))
    }

    async fn describe_snapshot(&self, id: &str) -> CloudResult<Option<DbSnapshot>> {
        let out = absent_if_not_found(self.rds.describe_db_snapshots().db_snapshot_identifier(id).send().await.map_err(from_sdk))?;
        Ok(out.and_then(|o| o.db_snapshots().iter().find(|s| s.db_snapshot_identifier() == Some(id)).map(snapshot)))
    }

    async fn create_snapshot(&self, instance_id: &str, snapshot_id: &str, tags: &Tags) -> CloudResult<DbSnapshot> {
        let out = self
            .rds
            .create_db_snapshot()
            .db_instance_identifier(instance_id)
            .db_snapshot_identifier(snapshot_id)
            .set_tags(Some(to_sdk_tags(tags)))
            .send()
            .await
            .map_err(from_sdk)?;
        out.db_snapshot().map(snapshot).ok_or_else(|| missing("CreateDBSnapshot", snapshot_id))
    }

    async fn restore_instance(&self, request: &RestoreRequest) -> CloudResult<DbInstance> {
        // The two restore calls take the new instance's settings alike, on builders of two types.
        macro_rules! new_instance {
            ($builder:expr) => {
                $builder
                    .db_instance_class(&request.class)
                    .set_db_subnet_group_name(request.subnet_group.clone())
                    .set_vpc_security_group_ids(Some(request.security_group_ids.clone()))
                    .set_db_parameter_group_name(request.parameter_group.clone())
                    .set_option_group_name(request.option_group.clone())
                    .publicly_accessible(request.publicly_accessible)
                    .set_tags(Some(to_sdk_tags(&request.tags)))
                    // Snapshots later taken of the new instance carry its ownership tags.
                    .copy_tags_to_snapshot(true)
                    .send()
                    .await
                    .map_err(from_sdk)?
                    .db_instance
            };
        }
        let out = match &request.source {
            RestoreSource::Snapshot(snapshot_id) => new_instance!(self
                .rds
                .restore_db_instance_from_db_snapshot()
                .db_instance_identifier(&request.instance_id)
                .db_snapshot_identifier(snapshot_id)),
            RestoreSource::LatestRestorableTime { source_instance_id } => new_instance!(self
                .rds
                .restore_db_instance_to_point_in_time()
                .source_db_instance_identifier(source_instance_id)
                .use_latest_restorable_time(true)
                .target_db_instance_identifier(&request.instance_id)),
        };
        out.as_ref().map(instance).ok_or_else(|| missing(request.source.operation(), &request.instance_id))
    }

    async fn delete_instance(&self, id: &str, final_snapshot_id: Option<&str>) -> CloudResult<()> {
        // Both fields are always sent: AWS rejects a delete that leaves them unset.
        self.rds
            .delete_db_instance()
            .db_instance_identifier(id)
            .skip_final_snapshot(final_snapshot_id.is_none())
            .set_final_db_snapshot_identifier(final_snapshot_id.map(str::to_string))
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(())
    }

    async fn delete_snapshot(&self, id: &str) -> CloudResult<()> {
        self.rds.delete_db_snapshot().db_snapshot_identifier(id).send().await.map_err(from_sdk)?;
        Ok(())
    }

    /// ModifyDBInstance NewDBInstanceIdentifier with ApplyImmediately: the endpoint follows the
    /// new name after RDS reboots the instance.
    async fn rename_instance(&self, id: &str, new_id: &str) -> CloudResult<DbInstance> {
        let out = self
            .rds
            .modify_db_instance()
            .db_instance_identifier(id)
            .new_db_instance_identifier(new_id)
            .apply_immediately(true)
            .send()
            .await
            .map_err(from_sdk)?;
        out.db_instance().map(instance).ok_or_else(|| missing("ModifyDBInstance", id))
    }

    /// ModifyDBInstance MasterUserPassword with ApplyImmediately (RDS reports the change under
    /// PendingModifiedValues until it is applied).
    async fn reset_master_password(&self, id: &str, password: &Secret) -> CloudResult<DbInstance> {
        let out = self
            .rds
            .modify_db_instance()
            .db_instance_identifier(id)
            .master_user_password(password.expose())
            .apply_immediately(true)
            .send()
            .await
            .map_err(from_sdk)?;
        out.db_instance().map(instance).ok_or_else(|| missing("ModifyDBInstance", id))
    }

    async fn stop_instance(&self, id: &str) -> CloudResult<()> {
        self.rds.stop_db_instance().db_instance_identifier(id).send().await.map_err(from_sdk)?;
        Ok(())
    }

    async fn tag_instance(&self, arn: &str, tags: &Tags) -> CloudResult<()> {
        self.rds.add_tags_to_resource().resource_name(arn).set_tags(Some(to_sdk_tags(tags))).send().await.map_err(from_sdk)?;
        Ok(())
    }

    async fn describe_cluster(&self, id: &str) -> CloudResult<Option<DbCluster>> {
        let out = absent_if_not_found(self.rds.describe_db_clusters().db_cluster_identifier(id).send().await.map_err(from_sdk))?;
        Ok(out.and_then(|o| o.db_clusters().iter().find(|c| c.db_cluster_identifier() == Some(id)).map(cluster)))
    }

    async fn copy_cluster(&self, request: &ClusterCopyRequest) -> CloudResult<DbCluster> {
        // The two calls take the new cluster's settings alike, on builders of two types.
        macro_rules! new_cluster {
            ($builder:expr) => {
                $builder
                    .db_cluster_identifier(&request.cluster_id)
                    .set_db_subnet_group_name(request.subnet_group.clone())
                    .set_vpc_security_group_ids(Some(request.security_group_ids.clone()))
                    .set_db_cluster_parameter_group_name(request.parameter_group.clone())
                    .set_tags(Some(to_sdk_tags(&request.tags)))
                    // Snapshots later taken of the copy (its final one) carry its ownership tags.
                    .copy_tags_to_snapshot(true)
                    .send()
                    .await
                    .map_err(from_sdk)?
                    .db_cluster
            };
        }
        let out = match &request.source {
            ClusterSource::CopyOnWrite { source_cluster_id } => new_cluster!(self
                .rds
                .restore_db_cluster_to_point_in_time()
                .source_db_cluster_identifier(source_cluster_id)
                .restore_type("copy-on-write")
                .use_latest_restorable_time(true)),
            ClusterSource::Snapshot { snapshot_id, engine } => {
                new_cluster!(self.rds.restore_db_cluster_from_snapshot().snapshot_identifier(snapshot_id).engine(engine))
            }
        };
        out.as_ref().map(cluster).ok_or_else(|| missing(request.source.operation(), &request.cluster_id))
    }

    async fn describe_cluster_snapshot(&self, id: &str) -> CloudResult<Option<DbSnapshot>> {
        let out = absent_if_not_found(
            self.rds.describe_db_cluster_snapshots().db_cluster_snapshot_identifier(id).send().await.map_err(from_sdk),
        )?;
        Ok(out.and_then(|o| o.db_cluster_snapshots().iter().find(|s| s.db_cluster_snapshot_identifier() == Some(id)).map(cluster_snapshot)))
    }

    async fn create_cluster_snapshot(&self, cluster_id: &str, snapshot_id: &str, tags: &Tags) -> CloudResult<DbSnapshot> {
        let out = self
            .rds
            .create_db_cluster_snapshot()
            .db_cluster_identifier(cluster_id)
            .db_cluster_snapshot_identifier(snapshot_id)
            .set_tags(Some(to_sdk_tags(tags)))
            .send()
            .await
            .map_err(from_sdk)?;
        out.db_cluster_snapshot().map(cluster_snapshot).ok_or_else(|| missing("CreateDBClusterSnapshot", snapshot_id))
    }

    async fn delete_cluster_snapshot(&self, id: &str) -> CloudResult<()> {
        self.rds.delete_db_cluster_snapshot().db_cluster_snapshot_identifier(id).send().await.map_err(from_sdk)?;
        Ok(())
    }

    async fn create_cluster_instance(&self, request: &ClusterInstanceRequest) -> CloudResult<DbInstance> {
        let out = self
            .rds
            .create_db_instance()
            .db_instance_identifier(&request.instance_id)
            .db_cluster_identifier(&request.cluster_id)
            .engine(&request.engine)
            .db_instance_class(&request.class)
            .set_db_parameter_group_name(request.parameter_group.clone())
            .publicly_accessible(request.publicly_accessible)
            .set_tags(Some(to_sdk_tags(&request.tags)))
            .send()
            .await
            .map_err(from_sdk)?;
        out.db_instance().map(instance).ok_or_else(|| missing("CreateDBInstance", &request.instance_id))
    }

    async fn reset_cluster_master_password(&self, id: &str, password: &Secret) -> CloudResult<DbCluster> {
        let out = self
            .rds
            .modify_db_cluster()
            .db_cluster_identifier(id)
            .master_user_password(password.expose())
            .apply_immediately(true)
            .send()
            .await
            .map_err(from_sdk)?;
        out.db_cluster().map(cluster).ok_or_else(|| missing("ModifyDBCluster", id))
    }

    async fn delete_cluster(&self, id: &str, final_snapshot_id: Option<&str>) -> CloudResult<()> {
        let request = self.rds.delete_db_cluster().db_cluster_identifier(id);
        let request = match final_snapshot_id {
            Some(snapshot_id) => request.final_db_snapshot_identifier(snapshot_id).skip_final_snapshot(false),
            None => request.skip_final_snapshot(true),
        };
        request.send().await.map_err(from_sdk)?;
        Ok(())
    }
}
