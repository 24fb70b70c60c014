//! The RDS, SSM, S3, CloudFront, Scheduler and Step Functions adapters against moto (`bash scripts/install-moto.sh`).
//!
//! moto's limits, so these tests do not rely on them: every RDS status is `available` at once,
//! renaming onto an existing id silently replaces it (AWS refuses; the rollback's swap always
//! moves the damaged instance aside first), a delete with neither a final snapshot nor
//! SkipFinalSnapshot is accepted (AWS rejects it), and schedules never fire. CloudFront: an
//! enabled distribution is deleted without `DistributionNotDisabled`, IfMatch is required but
//! never compared (so no `PreconditionFailed`), an origin's OriginAccessControlId is not kept in
//! the configuration it answers, ListOriginAccessControls ignores its marker, and an origin
//! access control in use is deleted without `OriginAccessControlInUse`.

use chrono::{Duration, TimeZone, Utc};
use rehearsal_aws::{load_config, AwsCloud, StepFunctions};
use rehearsal_core::cloud::{
    ClusterCopyRequest, ClusterInstanceRequest, ClusterSource, Executions, OneTimeSchedule, ParameterKind, ParameterStore, Rds,
    RestoreRequest, Scheduler, StateMachines,
};
use rehearsal_core::promotion::{RESTORED_FROM_KEY, RETAIN_UNTIL_KEY};
use rehearsal_core::tags::{RunTags, Tags};
use rehearsal_core::{CloudErrorKind, Secret};
use rehearsal_moto::{moto, xml_values, Moto};

const PRODUCTION_DB: &str = "tableicty-production-db";
const STAGING_DB: &str = "tableicty-staging-db";
const SNAPSHOT: &str = "tableicty-production-backup-20251225";

async fn cloud(moto: &Moto) -> AwsCloud {
    AwsCloud::new(&load_config(Some(&moto.server.endpoint())).await)
}

fn run_tags() -> Tags {
    RunTags { app: "tableicty".into(), environment: "staging".into(), run_id: "tableicty-20251225".into() }.to_tags()
}

/// Production as the runbook finds it: a private Postgres instance in a subnet group of two
/// default subnets, behind one security group.
async fn production(moto: &Moto, cloud: &AwsCloud) -> (String, String) {
    let subnets = xml_values(&moto.server.ec2("Action=DescribeSubnets&Filter.1.Name=default-for-az&Filter.1.Value.1=true"), "subnetId");
    assert!(subnets.len() >= 2, "moto has default subnets: {subnets:?}");
    let sg = xml_values(&moto.server.ec2("Action=CreateSecurityGroup&GroupName=tableicty-db&GroupDescription=db"), "groupId").remove(0);
    cloud
        .rds
        .create_db_subnet_group()
        .db_subnet_group_name("tableicty-db-subnets")
        .db_subnet_group_description("tableicty databases")
        .subnet_ids(&subnets[0])
        .subnet_ids(&subnets[1])
        .send()
        .await
        .expect("create the subnet group");
    cloud
        .rds
        .create_db_instance()
        .db_instance_identifier(PRODUCTION_DB)
        .engine("postgres")
        .db_instance_class("db.t3.medium")
        .allocated_storage(20)
        .storage_type("gp3")
        .master_username("tableicty_admin")
        .master_user_password("production-password")
        .db_subnet_group_name("tableicty-db-subnets")
        .vpc_security_group_ids(&sg)
        .publicly_accessible(false)
        .send()
        .await
        .expect("create the production instance");
    ("tableicty-db-subnets".to_string(), sg)
}

#[tokio::test]
async fn production_snapshot_is_tagged_and_a_rerun_answers_already_exists() {
    let moto = moto();
    let cloud = cloud(&moto).await;
    production(&moto, &cloud).await;

    let db = cloud.describe_instance(PRODUCTION_DB).await.unwrap().expect("production exists");
    assert_eq!((db.status.as_str(), db.class.as_str(), db.publicly_accessible), ("available", "db.t3.medium", false));
    assert_eq!(db.endpoint.as_ref().map(|e| e.port), Some(5432));
    assert_eq!((db.storage.allocated_gb, db.storage.storage_type.as_str()), (20, "gp3"));
    assert_eq!(cloud.describe_instance("nope").await, Ok(None));
    assert_eq!(cloud.describe_snapshot(SNAPSHOT).await, Ok(None));

    let snapshot = cloud.create_snapshot(PRODUCTION_DB, SNAPSHOT, &run_tags()).await.unwrap();
    assert_eq!((snapshot.id.as_str(), snapshot.source_id.as_str()), (SNAPSHOT, PRODUCTION_DB));
    assert!(snapshot.arn.ends_with(&format!(":snapshot:{SNAPSHOT}")), "{}", snapshot.arn);
    assert_eq!(snapshot.tags, run_tags());

    let described = cloud.describe_snapshot(SNAPSHOT).await.unwrap().expect("the snapshot exists");
    assert_eq!((described.status.as_str(), &described.tags), ("available", &run_tags()));

    let rerun = cloud.create_snapshot(PRODUCTION_DB, SNAPSHOT, &run_tags()).await.unwrap_err();
    assert_eq!((rerun.kind, rerun.code.as_str()), (CloudErrorKind::AlreadyExists, "DBSnapshotAlreadyExists"));
    assert!(rerun.message.contains(SNAPSHOT), "{rerun}");

    let missing = cloud.create_snapshot("nope", "other-snapshot", &run_tags()).await.unwrap_err();
    assert_eq!((missing.kind, missing.code.as_str()), (CloudErrorKind::NotFound, "DBInstanceNotFound"));

    cloud.delete_snapshot(SNAPSHOT).await.unwrap();
    assert_eq!(cloud.describe_snapshot(SNAPSHOT).await, Ok(None));
    let again = cloud.delete_snapshot(SNAPSHOT).await.unwrap_err();
    assert_eq!((again.kind, again.code.as_str()), (CloudErrorKind::NotFound, "DBSnapshotNotFound"));
}

#[tokio::test]
async fn staging_is_restored_to_production_s_latest_restorable_time_with_production_s_parameter_group() {
    let moto = moto();
    let cloud = cloud(&moto).await;
    let (subnet_group, sg) = production(&moto, &cloud).await;
    let group = "tableicty-postgres15";
    let created = cloud
        .rds
        .create_db_parameter_group()
        .db_parameter_group_name(group)
        .db_parameter_group_family("postgres15")
        .description("production's settings")
        .send()
        .await;
    created.expect("create the parameter group");
    cloud
        .rds
        .modify_db_instance()
        .db_instance_identifier(PRODUCTION_DB)
        .db_parameter_group_name(group)
        .backup_retention_period(7)
        .apply_immediately(true)
        .send()
        .await
        .expect("give production its parameter group and backups");
    let production = cloud.describe_instance(PRODUCTION_DB).await.unwrap().unwrap();
    assert_eq!((production.parameter_group.as_deref(), production.backup_retention_days), (Some(group), 7));

    let request = RestoreRequest {
        instance_id: STAGING_DB.into(),
        source: rehearsal_core::cloud::RestoreSource::LatestRestorableTime { source_instance_id: PRODUCTION_DB.into() },
        class: "db.t3.micro".into(),
        subnet_group: Some(subnet_group.clone()),
        security_group_ids: vec![sg.clone()],
        parameter_group: production.parameter_group.clone(),
        option_group: None,
        publicly_accessible: false,
        tags: run_tags(),
    };
    let restored = cloud.restore_instance(&request).await.unwrap();
    let described = cloud.describe_instance(STAGING_DB).await.unwrap().expect("staging exists");
    for db in [&restored, &described] {
        assert_eq!((db.id.as_str(), db.class.as_str()), (STAGING_DB, "db.t3.micro"));
        assert_eq!(db.subnet_group.as_deref(), Some(subnet_group.as_str()));
        assert_eq!(db.security_group_ids, vec![sg.clone()]);
        assert_eq!(db.parameter_group.as_deref(), Some(group));
        assert!(!db.publicly_accessible);
        assert_eq!(db.tags, run_tags());
    }
    let rerun = cloud.restore_instance(&request).await.unwrap_err();
    assert_eq!((rerun.kind, rerun.code.as_str()), (CloudErrorKind::AlreadyExists, "DBInstanceAlreadyExists"));
    let unknown = RestoreRequest {
        instance_id: "other-copy".into(),
        source: rehearsal_core::cloud::RestoreSource::LatestRestorableTime { source_instance_id: "nope".into() },
        ..request
    };
    let missing = cloud.restore_instance(&unknown).await.unwrap_err();
    assert_eq!((missing.kind, missing.code.as_str()), (CloudErrorKind::NotFound, "DBInstanceNotFound"));
}

/// Production's Aurora PostgreSQL cluster `id`, in production's network.
async fn production_cluster(cloud: &AwsCloud, id: &str, subnet_group: &str, security_group: &str) {
    cloud
        .rds
        .create_db_cluster()
        .db_cluster_identifier(id)
        .engine("aurora-postgresql")
        .master_username("tableicty_admin")
        .master_user_password("production-password")
        .db_subnet_group_name(subnet_group)
        .vpc_security_group_ids(security_group)
        .send()
        .await
        .expect("create production's cluster");
}

#[tokio::test]
async fn an_aurora_clone_gets_its_instance_a_new_password_and_is_deleted_after_it() {
    let moto = moto();
    let cloud = cloud(&moto).await;
    let (subnet_group, sg) = production(&moto, &cloud).await;
    let (source, clone_id, writer) = ("tableicty-production-cluster", "tableicty-staging-db-cluster", "tableicty-aurora-writer");
    production_cluster(&cloud, source, &subnet_group, &sg).await;
    let writer_request = ClusterInstanceRequest {
        instance_id: writer.into(),
        cluster_id: source.into(),
        engine: "aurora-postgresql".into(),
        class: "db.r6g.large".into(),
        parameter_group: None,
        publicly_accessible: false,
        tags: Tags::new(),
    };
    cloud.create_cluster_instance(&writer_request).await.expect("production's writer");
    let production = cloud.describe_instance(writer).await.unwrap().unwrap();
    assert_eq!(production.cluster_id.as_deref(), Some(source));

    let request = ClusterCopyRequest {
        cluster_id: clone_id.into(),
        source: ClusterSource::CopyOnWrite { source_cluster_id: source.into() },
        subnet_group: Some(subnet_group.clone()),
        security_group_ids: vec![sg.clone()],
        parameter_group: None,
        tags: run_tags(),
    };
    let cloned = cloud.copy_cluster(&request).await.unwrap();
    let described = cloud.describe_cluster(clone_id).await.unwrap().expect("the clone exists");
    for cluster in [&cloned, &described] {
        assert_eq!((cluster.id.as_str(), cluster.engine.as_str()), (clone_id, "aurora-postgresql"));
        assert_eq!(cluster.subnet_group.as_deref(), Some(subnet_group.as_str()));
        assert_eq!(cluster.security_group_ids, vec![sg.clone()]);
        assert_eq!(cluster.tags, run_tags());
    }
    // The writer endpoint, known before any instance is in the clone: DATABASE_URL's host.
    let endpoint = described.endpoint.clone().expect("the clone's writer endpoint");
    assert!(endpoint.address.starts_with(&format!("{clone_id}.cluster-")), "{endpoint:?}");
    // AWS answers DBClusterAlreadyExistsFault (mapped to AlreadyExists, crates/aws/src/error.rs),
    // and the step looks the clone up first anyway. moto answers DBClusterSnapshotAlreadyExistsFault
    // only within the minute of the first copy (it names the automated backup it takes for a new
    // cluster by the minute) and accepts the copy after that, so only an error it gives is checked.
    if let Err(rerun) = cloud.copy_cluster(&request).await {
        assert!(rerun.code.ends_with("AlreadyExistsFault"), "{rerun:?}");
    }
    assert_eq!(cloud.describe_cluster("nope").await.unwrap(), None);

    let staging = ClusterInstanceRequest {
        instance_id: STAGING_DB.into(),
        cluster_id: clone_id.into(),
        class: "db.t3.medium".into(),
        tags: run_tags(),
        ..writer_request
    };
    let created = cloud.create_cluster_instance(&staging).await.unwrap();
    assert_eq!((created.cluster_id.as_deref(), created.publicly_accessible, created.tags.clone()), (Some(clone_id), false, run_tags()));
    assert_eq!(cloud.describe_cluster(clone_id).await.unwrap().unwrap().members, vec![STAGING_DB.to_string()]);
    let reset = cloud.reset_cluster_master_password(clone_id, &Secret::new("staging-password-1")).await.unwrap();
    assert_eq!(reset.id, clone_id);

    // The instance goes first: a cluster with members is refused.
    let busy = cloud.delete_cluster(clone_id, None).await.unwrap_err();
    assert_eq!((busy.kind, busy.code.as_str()), (CloudErrorKind::InvalidState, "InvalidDBClusterStateFault"));
    cloud.delete_instance(STAGING_DB, None).await.unwrap();
    cloud.delete_cluster(clone_id, Some("tableicty-staging-db-final-20251225")).await.unwrap();
    assert_eq!(cloud.describe_cluster(clone_id).await.unwrap(), None);
    let gone = cloud.delete_cluster(clone_id, None).await.unwrap_err();
    assert_eq!((gone.kind, gone.code.as_str()), (CloudErrorKind::NotFound, "DBClusterNotFoundFault"));
    assert!(cloud.describe_cluster(source).await.unwrap().is_some(), "production's cluster is untouched");
}

#[tokio::test]
async fn an_aurora_cluster_snapshot_is_restored_as_a_new_cluster() {
    let moto = moto();
    let cloud = cloud(&moto).await;
    let (subnet_group, sg) = production(&moto, &cloud).await;
    let (source, copy_id, snapshot_id) = ("tableicty-production-cluster", "tableicty-staging-db-cluster", "rehearsal-tableicty-1");
    production_cluster(&cloud, source, &subnet_group, &sg).await;

    let taken = cloud.create_cluster_snapshot(source, snapshot_id, &run_tags()).await.unwrap();
    let described = cloud.describe_cluster_snapshot(snapshot_id).await.unwrap().expect("the snapshot exists");
    for snapshot in [&taken, &described] {
        assert_eq!((snapshot.id.as_str(), snapshot.source_id.as_str()), (snapshot_id, source));
        assert!(snapshot.arn.contains(":cluster-snapshot:"), "{snapshot:?}");
        assert_eq!(snapshot.tags, run_tags());
    }
    let twice = cloud.create_cluster_snapshot(source, snapshot_id, &run_tags()).await.unwrap_err();
    assert_eq!((twice.kind, twice.code.as_str()), (CloudErrorKind::AlreadyExists, "DBClusterSnapshotAlreadyExistsFault"));
    assert_eq!(cloud.describe_cluster_snapshot("nope").await.unwrap(), None);
    let unknown = cloud.create_cluster_snapshot("no-such-cluster", "rehearsal-other", &run_tags()).await.unwrap_err();
    assert_eq!((unknown.kind, unknown.code.as_str()), (CloudErrorKind::NotFound, "DBClusterNotFoundFault"));

    let request = ClusterCopyRequest {
        cluster_id: copy_id.into(),
        source: ClusterSource::Snapshot { snapshot_id: snapshot_id.into(), engine: "aurora-postgresql".into() },
        subnet_group: Some(subnet_group.clone()),
        security_group_ids: vec![sg.clone()],
        parameter_group: None,
        tags: run_tags(),
    };
    let restored = cloud.copy_cluster(&request).await.unwrap();
    let copy = cloud.describe_cluster(copy_id).await.unwrap().expect("the copy exists");
    for cluster in [&restored, &copy] {
        assert_eq!((cluster.id.as_str(), cluster.engine.as_str()), (copy_id, "aurora-postgresql"));
        assert_eq!(cluster.subnet_group.as_deref(), Some(subnet_group.as_str()));
        assert_eq!(cluster.tags, run_tags());
    }
    let again = cloud.copy_cluster(&request).await.unwrap_err();
    assert!(again.code.ends_with("AlreadyExistsFault"), "{again:?}");

    cloud.delete_cluster_snapshot(snapshot_id).await.unwrap();
    assert_eq!(cloud.describe_cluster_snapshot(snapshot_id).await.unwrap(), None);
    let gone = cloud.delete_cluster_snapshot(snapshot_id).await.unwrap_err();
    assert_eq!((gone.kind, gone.code.as_str()), (CloudErrorKind::NotFound, "DBClusterSnapshotNotFoundFault"));
}

#[tokio::test]
async fn staging_is_restored_private_renamed_and_deleted_with_a_final_snapshot() {
    let moto = moto();
    let cloud = cloud(&moto).await;
    let (subnet_group, sg) = production(&moto, &cloud).await;
    cloud.create_snapshot(PRODUCTION_DB, SNAPSHOT, &run_tags()).await.unwrap();

    let request = RestoreRequest {
        instance_id: STAGING_DB.into(),
        source: rehearsal_core::cloud::RestoreSource::Snapshot(SNAPSHOT.into()),
        class: "db.t3.micro".into(),
        subnet_group: Some(subnet_group.clone()),
        security_group_ids: vec![sg.clone()],
        parameter_group: None,
        option_group: None,
        publicly_accessible: false,
        tags: run_tags(),
    };
    let restored = cloud.restore_instance(&request).await.unwrap();
    let described = cloud.describe_instance(STAGING_DB).await.unwrap().expect("staging exists");
    for db in [&restored, &described] {
        assert_eq!(db.id, STAGING_DB);
        assert_eq!(db.class, "db.t3.micro");
        assert_eq!(db.subnet_group.as_deref(), Some(subnet_group.as_str()));
        assert_eq!(db.security_group_ids, vec![sg.clone()]);
        assert!(!db.publicly_accessible);
        assert_eq!(db.tags, run_tags());
    }
    assert!(described.endpoint.is_some());
    let raw = cloud.rds.describe_db_instances().db_instance_identifier(STAGING_DB).send().await.unwrap();
    assert_eq!(raw.db_instances()[0].copy_tags_to_snapshot(), Some(true));

    let rerun = cloud.restore_instance(&request).await.unwrap_err();
    assert_eq!((rerun.kind, rerun.code.as_str()), (CloudErrorKind::AlreadyExists, "DBInstanceAlreadyExists"));

    // The restored copy keeps production's master user; its password is reset (moto accepts
    // ModifyDBInstance MasterUserPassword and applies it at once, so nothing stays pending).
    assert_eq!(described.master_username, "tableicty_admin");
    let reset = cloud.reset_master_password(STAGING_DB, &Secret::new("0123456789abcdef0123456789abcdef")).await.unwrap();
    assert_eq!((reset.id.as_str(), reset.master_username.as_str()), (STAGING_DB, "tableicty_admin"));
    let after = cloud.describe_instance(STAGING_DB).await.unwrap().expect("staging exists");
    assert!(!after.master_password_pending, "{after:?}");
    let missing = cloud.reset_master_password("nope", &Secret::new("0123456789abcdef")).await.unwrap_err();
    assert_eq!((missing.kind, missing.code.as_str()), (CloudErrorKind::NotFound, "DBInstanceNotFound"));

    let renamed = cloud.rename_instance(STAGING_DB, "tableicty-staging-db-old").await.unwrap();
    assert_eq!(renamed.id, "tableicty-staging-db-old");
    assert_eq!(cloud.describe_instance(STAGING_DB).await, Ok(None));
    assert_eq!(cloud.describe_instance("tableicty-staging-db-old").await.unwrap().map(|db| db.class), Some("db.t3.micro".to_string()));
    let missing = cloud.rename_instance("nope", "nope-2").await.unwrap_err();
    assert_eq!(missing.kind, CloudErrorKind::NotFound);

    cloud.delete_instance("tableicty-staging-db-old", Some("tableicty-staging-final")).await.unwrap();
    assert_eq!(cloud.describe_instance("tableicty-staging-db-old").await, Ok(None));
    let last = cloud.describe_snapshot("tableicty-staging-final").await.unwrap().expect("the final snapshot exists");
    assert_eq!(last.source_id, "tableicty-staging-db-old");
    assert_eq!(last.tags, run_tags(), "CopyTagsToSnapshot puts the run's tags on the final snapshot");

    let gone = cloud.delete_instance("tableicty-staging-db-old", None).await.unwrap_err();
    assert_eq!((gone.kind, gone.code.as_str()), (CloudErrorKind::NotFound, "DBInstanceNotFound"));
}

#[tokio::test]
async fn a_production_rollback_swaps_the_restored_copy_in_under_the_production_name() {
    let moto = moto();
    let cloud = cloud(&moto).await;
    let (subnet_group, sg) = production(&moto, &cloud).await;
    let predeploy = "tableicty-production-predeploy-202611241000";
    cloud.create_snapshot(PRODUCTION_DB, predeploy, &run_tags()).await.unwrap();
    let (restored, damaged) = ("tableicty-production-db-restored-202611241000", "tableicty-production-db-damaged-202611241000");
    let mut tags = run_tags();
    tags.insert(RESTORED_FROM_KEY.into(), predeploy.into());
    let request = RestoreRequest {
        instance_id: restored.into(),
        source: rehearsal_core::cloud::RestoreSource::Snapshot(predeploy.into()),
        class: "db.t3.medium".into(),
        subnet_group: Some(subnet_group),
        security_group_ids: vec![sg],
        parameter_group: None,
        option_group: None,
        publicly_accessible: false,
        tags,
    };
    cloud.restore_instance(&request).await.unwrap();

    // The damaged instance goes aside first: its name is free before the copy takes it.
    assert_eq!(cloud.rename_instance(PRODUCTION_DB, damaged).await.unwrap().id, damaged);
    assert_eq!(cloud.describe_instance(PRODUCTION_DB).await, Ok(None));
    assert_eq!(cloud.rename_instance(restored, PRODUCTION_DB).await.unwrap().id, PRODUCTION_DB);
    let production = cloud.describe_instance(PRODUCTION_DB).await.unwrap().expect("the copy answers as production");
    assert_eq!(production.tags.get(RESTORED_FROM_KEY).map(String::as_str), Some(predeploy));
    assert_eq!(cloud.describe_instance(restored).await, Ok(None));

    // The damaged one is kept for forensics: tagged with its retention, stopped.
    let kept = cloud.describe_instance(damaged).await.unwrap().expect("the damaged instance is kept");
    let retain = Tags::from([(RETAIN_UNTIL_KEY.to_string(), "2026-12-08".to_string())]);
    cloud.tag_instance(&kept.arn, &retain).await.unwrap();
    cloud.stop_instance(damaged).await.unwrap();
    let kept = cloud.describe_instance(damaged).await.unwrap().unwrap();
    assert_eq!(kept.tags.get(RETAIN_UNTIL_KEY).map(String::as_str), Some("2026-12-08"));
    assert!(["stopping", "stopped"].contains(&kept.status.as_str()), "{}", kept.status);
    let missing = cloud.stop_instance("nope").await.unwrap_err();
    assert_eq!(missing.kind, CloudErrorKind::NotFound);
}

#[tokio::test]
async fn delete_without_final_snapshot_leaves_no_snapshot() {
    let moto = moto();
    let cloud = cloud(&moto).await;
    production(&moto, &cloud).await;
    cloud.delete_instance(PRODUCTION_DB, None).await.unwrap();
    assert_eq!(cloud.describe_instance(PRODUCTION_DB).await, Ok(None));
    let snapshots = cloud.rds.describe_db_snapshots().send().await.unwrap();
    assert!(snapshots.db_snapshots().is_empty(), "{:?}", snapshots.db_snapshots());
}

#[tokio::test]
async fn parameters_are_copied_to_the_staging_path_with_tags() {
    let moto = moto();
    let cloud = cloud(&moto).await;
    let production = [
        ("SECRET_KEY", ParameterKind::SecureString, "django-secret"),
        ("PGCRYPTO_KEY", ParameterKind::SecureString, "pgcrypto-secret"),
        ("ALLOWED_HOSTS", ParameterKind::String, "tableicty.com"),
    ];
    for (key, kind, value) in production {
        cloud.put_parameter(&format!("/tableicty/production/{key}"), &Secret::new(value), kind, false).await.unwrap();
    }

    for (key, kind, value) in production {
        let source = cloud.get_parameter(&format!("/tableicty/production/{key}")).await.unwrap().expect("production parameter");
        assert_eq!((source.kind, source.value.expose(), source.version), (kind, value, 1));
        let name = format!("/tableicty/staging/{key}");
        let arn = cloud.put_parameter(&name, &source.value, source.kind, false).await.unwrap();
        assert!(arn.starts_with("arn:aws:ssm:us-east-1:") && arn.ends_with(&format!(":parameter{name}")), "{arn}");
        cloud.add_parameter_tags(&name, &run_tags()).await.unwrap();

        let copy = cloud.get_parameter(&name).await.unwrap().expect("staging parameter");
        assert_eq!((copy.name.as_str(), copy.arn.as_str(), copy.kind, copy.value.expose()), (name.as_str(), arn.as_str(), kind, value));
        assert_eq!(cloud.parameter_tags(&name).await.unwrap(), run_tags());
    }

    let name = "/tableicty/staging/SECRET_KEY";
    let exists = cloud.put_parameter(name, &Secret::new("rotated"), ParameterKind::SecureString, false).await.unwrap_err();
    assert_eq!((exists.kind, exists.code.as_str()), (CloudErrorKind::AlreadyExists, "ParameterAlreadyExists"));
    assert!(!exists.to_string().contains("rotated"), "{exists}");

    cloud.put_parameter(name, &Secret::new("rotated"), ParameterKind::SecureString, true).await.unwrap();
    let rotated = cloud.get_parameter(name).await.unwrap().expect("overwritten");
    assert_eq!((rotated.value.expose(), rotated.version), ("rotated", 2));
    // Overwriting keeps the tags the copy added.
    assert_eq!(cloud.parameter_tags(name).await.unwrap(), run_tags());
    // Without decryption a SecureString is not its plain value.
    let raw = cloud.ssm.get_parameter().name(name).with_decryption(false).send().await.unwrap();
    assert_ne!(raw.parameter().and_then(|p| p.value()), Some("rotated"));

    cloud.delete_parameter(name).await.unwrap();
    assert_eq!(cloud.get_parameter(name).await, Ok(None));
    let again = cloud.delete_parameter(name).await.unwrap_err();
    assert_eq!((again.kind, again.code.as_str()), (CloudErrorKind::NotFound, "ParameterNotFound"));
    let untagged = cloud.parameter_tags(name).await.unwrap_err();
    assert_eq!(untagged.kind, CloudErrorKind::NotFound, "{untagged}");
}

#[tokio::test]
async fn a_parameter_created_without_overwrite_is_tagged_in_the_same_call_and_created_once() {
    let moto = moto();
    let cloud = cloud(&moto).await;
    let name = "/rehearsal/leases/tableicty/staging";
    let arn = cloud.create_parameter(name, &Secret::new("first"), ParameterKind::String, &run_tags()).await.unwrap();
    assert!(arn.starts_with("arn:aws:ssm:") && arn.ends_with(&format!(":parameter{name}")), "{arn}");
    assert_eq!(cloud.parameter_tags(name).await.unwrap(), run_tags());
    let taken = cloud.create_parameter(name, &Secret::new("second"), ParameterKind::String, &run_tags()).await.unwrap_err();
    assert_eq!((taken.kind, taken.code.as_str()), (CloudErrorKind::AlreadyExists, "ParameterAlreadyExists"));
    assert_eq!(cloud.get_parameter(name).await.unwrap().unwrap().value.expose(), "first");
}

#[tokio::test]
async fn teardown_is_scheduled_once_at_a_time_then_deleted() {
    let moto = moto();
    let cloud = cloud(&moto).await;
    cloud.scheduler.create_schedule_group().name("rehearsal").send().await.unwrap();
    let schedule = OneTimeSchedule {
        name: "tableicty-20251225-teardown".into(),
        group: "rehearsal".into(),
        at: Utc.with_ymd_and_hms(2025, 12, 26, 18, 30, 0).unwrap(),
        target_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:rehearsal-teardown".into(),
        role_arn: "arn:aws:iam::123456789012:role/rehearsal-scheduler".into(),
        input: r#"{"run_id":"tableicty-20251225"}"#.into(),
    };
    assert_eq!(cloud.get_schedule("rehearsal", &schedule.name).await, Ok(None));

    cloud.create_schedule(&schedule).await.unwrap();
    assert_eq!(cloud.get_schedule("rehearsal", &schedule.name).await, Ok(Some(schedule.clone())));
    let raw = cloud.scheduler.get_schedule().group_name("rehearsal").name(&schedule.name).send().await.unwrap();
    assert_eq!(raw.schedule_expression(), Some("at(2025-12-26T18:30:00)"));
    assert_eq!(raw.schedule_expression_timezone(), Some("UTC"));
    assert_eq!(raw.flexible_time_window().map(|w| w.mode().as_str()), Some("OFF"));
    assert_eq!(raw.action_after_completion().map(|a| a.as_str()), Some("DELETE"));

    let rerun = cloud.create_schedule(&OneTimeSchedule { at: schedule.at + Duration::hours(1), ..schedule.clone() }).await.unwrap_err();
    assert_eq!((rerun.kind, rerun.code.as_str()), (CloudErrorKind::AlreadyExists, "ConflictException"));

    // UpdateSchedule replaces the time, target and input in place.
    let moved = OneTimeSchedule { at: schedule.at + Duration::hours(2), input: r#"{"run_id":"moved"}"#.into(), ..schedule.clone() };
    cloud.update_schedule(&moved).await.unwrap();
    assert_eq!(cloud.get_schedule("rehearsal", &schedule.name).await, Ok(Some(moved.clone())));
    let absent = cloud.update_schedule(&OneTimeSchedule { name: "never-created".into(), ..moved }).await.unwrap_err();
    assert!(absent.is(CloudErrorKind::NotFound), "{absent:?}");
    cloud.delete_schedule("rehearsal", &schedule.name).await.unwrap();
    assert_eq!(cloud.get_schedule("rehearsal", &schedule.name).await, Ok(None));
    let again = cloud.delete_schedule("rehearsal", &schedule.name).await.unwrap_err();
    assert_eq!((again.kind, again.code.as_str()), (CloudErrorKind::NotFound, "ResourceNotFoundException"));
}

#[tokio::test]
async fn step_functions_start_describe_and_history() {
    let moto = moto();
    let sfn = StepFunctions::new(&load_config(Some(&moto.server.endpoint())).await);
    let machine = sfn
        .client
        .create_state_machine()
        .name("rehearsal")
        .definition(r#"{"StartAt":"Done","States":{"Done":{"Type":"Pass","End":true}}}"#)
        .role_arn("arn:aws:iam::123456789012:role/rehearsal-states")
        .send()
        .await
        .unwrap();
    let arn = machine.state_machine_arn();

    let started = sfn.start_execution(arn, "tableicty-20251225", r#"{"app":"tableicty"}"#).await.unwrap();
    assert!(started.execution_arn.ends_with(":tableicty-20251225"), "{}", started.execution_arn);
    assert!(started.start_date.is_some());
    // Same name and input while running: the same execution; another input: AlreadyExists.
    let same = sfn.start_execution(arn, "tableicty-20251225", r#"{"app":"tableicty"}"#).await.unwrap();
    assert_eq!(same.execution_arn, started.execution_arn);
    let other = sfn.start_execution(arn, "tableicty-20251225", r#"{"app":"other"}"#).await.unwrap_err();
    assert_eq!((other.kind, other.code.as_str()), (CloudErrorKind::AlreadyExists, "ExecutionAlreadyExists"));

    let described = sfn.describe_execution(&started.execution_arn).await.unwrap().expect("the execution exists");
    assert_eq!(described.state_machine_arn, arn);
    assert_eq!(described.name.as_deref(), Some("tableicty-20251225"));
    assert_eq!(described.input.as_deref(), Some(r#"{"app":"tableicty"}"#));
    assert!(!described.status.is_empty());

    assert!(!sfn.execution_history(&started.execution_arn).await.unwrap().is_empty());

    let missing = arn.replace(":stateMachine:", ":execution:").to_string() + ":nope";
    assert_eq!(sfn.describe_execution(&missing).await, Ok(None));
    let no_machine = sfn.start_execution(&arn.replace("rehearsal", "nope"), "x", "{}").await.unwrap_err();
    assert_eq!((no_machine.kind, no_machine.code.as_str()), (CloudErrorKind::NotFound, "StateMachineDoesNotExist"));
}

/// The staging frontend over the wire: a copy of more than one listing page, the bucket tagged,
/// private and encrypted, then emptied version by version and deleted.
#[tokio::test]
async fn a_staging_bucket_is_copied_into_over_pages_and_deleted_with_every_version() {
    use rehearsal_core::cloud::{BucketOwner, ObjectStore};
    let moto = moto();
    let cloud = cloud(&moto).await;
    let (production, staging) = ("tableicty-frontend", "tableicty-staging");
    cloud.s3.create_bucket().bucket(production).send().await.unwrap();
    for i in 0..1005 {
        cloud
            .put_object(production, &format!("assets/{i:05}.js"), format!("asset {i}").into_bytes(), "application/javascript")
            .await
            .unwrap();
    }
    assert_eq!(cloud.bucket_owner(staging).await.unwrap(), BucketOwner::Missing);
    cloud.create_bucket(staging, &run_tags()).await.unwrap();
    assert_eq!(cloud.bucket_owner(staging).await.unwrap(), BucketOwner::ThisAccount);
    assert_eq!(cloud.bucket_tags(staging).await.unwrap(), run_tags());
    // us-east-1 answers a re-creation of one's own bucket 200 (elsewhere BucketAlreadyOwnedByYou):
    // the tags stay as they were, so the step's tag check still decides.
    let mut foreign_tags = Tags::new();
    foreign_tags.insert("team".into(), "web".into());
    cloud.create_bucket(staging, &foreign_tags).await.unwrap();
    assert_eq!(cloud.bucket_tags(staging).await.unwrap(), run_tags());
    let block = cloud.s3.get_public_access_block().bucket(staging).send().await.unwrap();
    let block = block.public_access_block_configuration().unwrap();
    assert_eq!(
        [block.block_public_acls(), block.ignore_public_acls(), block.block_public_policy(), block.restrict_public_buckets()],
        [Some(true); 4]
    );
    let encryption = cloud.s3.get_bucket_encryption().bucket(staging).send().await.unwrap();
    let rule = &encryption.server_side_encryption_configuration().unwrap().rules()[0];
    assert_eq!(rule.apply_server_side_encryption_by_default().unwrap().sse_algorithm().as_str(), "AES256");

    // Two pages of production, copied.
    let first = cloud.list_objects(production, "assets/", None).await.unwrap();
    assert_eq!(first.objects.len(), 1000);
    let second = cloud.list_objects(production, "assets/", first.next_token.as_deref()).await.unwrap();
    assert_eq!((second.objects.len(), second.next_token), (5, None));
    for object in first.objects.iter().chain(&second.objects) {
        cloud.copy_object(production, &object.key, staging, &object.key).await.unwrap();
    }
    assert_eq!(cloud.get_object(staging, "assets/01004.js").await.unwrap(), Some(b"asset 1004".to_vec()));
    assert_eq!(cloud.get_object(staging, "missing.js").await.unwrap(), None);

    // Versioned, with an older version of one key: more than a page of versions to delete.
    let versioning =
        aws_sdk_s3::types::VersioningConfiguration::builder().status(aws_sdk_s3::types::BucketVersioningStatus::Enabled).build();
    cloud.s3.put_bucket_versioning().bucket(staging).versioning_configuration(versioning).send().await.unwrap();
    cloud.put_object(staging, "config.json", b"{}".to_vec(), "application/json").await.unwrap();
    cloud.put_object(staging, "config.json", b"{\"apiUrl\": \"x\"}".to_vec(), "application/json").await.unwrap();
    let busy = cloud.delete_bucket(staging).await.unwrap_err();
    assert!(busy.is(CloudErrorKind::InvalidState), "{busy}");
    let mut pages = 0;
    loop {
        let page = cloud.list_object_versions(staging).await.unwrap();
        cloud.delete_object_versions(staging, &page.versions).await.unwrap();
        pages += 1;
        if !page.truncated {
            break;
        }
    }
    assert_eq!(pages, 2);
    cloud.delete_bucket(staging).await.unwrap();
    assert_eq!(cloud.bucket_owner(staging).await.unwrap(), BucketOwner::Missing);
}

/// A distribution of the simplest kind, straight through the SDK: someone else's, to fill the
/// account's listing.
async fn someone_elses_distribution(cloud: &AwsCloud, n: usize) {
    use aws_sdk_cloudfront::types::{DefaultCacheBehavior, DistributionConfig, Origin, Origins, S3OriginConfig, ViewerProtocolPolicy};
    let origin = Origin::builder()
        .id("other")
        .domain_name("other-site.s3.us-east-1.amazonaws.com")
        .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
        .build()
        .unwrap();
    let behavior = DefaultCacheBehavior::builder()
        .target_origin_id("other")
        .viewer_protocol_policy(ViewerProtocolPolicy::AllowAll)
        .cache_policy_id("658327ea-f89d-4fab-a63d-7e88639e58f6")
        .build()
        .unwrap();
    let config = DistributionConfig::builder()
        .caller_reference(format!("other-{n}"))
        .comment(format!("other site {n}"))
        .origins(Origins::builder().quantity(1).items(origin).build().unwrap())
        .default_cache_behavior(behavior)
        .enabled(true)
        .build()
        .unwrap();
    cloud.cloudfront.create_distribution().distribution_config(config).send().await.expect("create another distribution");
}

/// The origin access controls named `name` (one page: moto ignores the marker).
async fn origin_access_controls(cloud: &AwsCloud, name: &str) -> Vec<aws_sdk_cloudfront::types::OriginAccessControlSummary> {
    let out = cloud.cloudfront.list_origin_access_controls().send().await.unwrap();
    out.origin_access_control_list().map(|l| l.items().to_vec()).unwrap_or_default().into_iter().filter(|c| c.name() == name).collect()
}

/// The staging frontend's distribution over the wire: created in front of the bucket through an
/// origin access control, found by name past the first listing page, disabled keeping the rest
/// of its configuration, deleted with its origin access control.
#[tokio::test]
async fn a_distribution_is_created_for_the_staging_bucket_found_by_name_disabled_and_deleted_with_its_origin_access_control() {
    use aws_sdk_cloudfront::types::{
        OriginAccessControlOriginTypes, OriginAccessControlSigningBehaviors, OriginAccessControlSigningProtocols,
    };
    use rehearsal_core::cloud::{DistributionSpec, Distributions, ObjectStore};
    let moto = moto();
    let cloud = cloud(&moto).await;
    let bucket = "tableicty-staging";
    cloud.create_bucket(bucket, &run_tags()).await.unwrap();
    // ListDistributions answers 100 a page: ours comes on the second.
    for n in 0..100 {
        someone_elses_distribution(&cloud, n).await;
    }
    let spec = DistributionSpec { name: "tableicty-20251225-frontend".into(), bucket: bucket.into(), region: "us-east-1".into() };
    assert_eq!(cloud.find_distribution(&spec.name).await, Ok(None));

    let created = cloud.create_distribution(&spec, &run_tags()).await.unwrap();
    assert!(created.domain_name.ends_with(".cloudfront.net"), "{}", created.domain_name);
    assert!(created.arn.ends_with(&format!(":distribution/{}", created.id)), "{}", created.arn);
    assert_eq!((created.comment.as_str(), created.enabled), (spec.name.as_str(), true));
    assert_eq!(cloud.distribution_tags(&created.arn).await.unwrap(), run_tags());
    let oacs = origin_access_controls(&cloud, &spec.name).await;
    assert_eq!(oacs.len(), 1, "{oacs:?}");
    assert_eq!(
        (oacs[0].origin_access_control_origin_type(), oacs[0].signing_behavior(), oacs[0].signing_protocol()),
        (&OriginAccessControlOriginTypes::S3, &OriginAccessControlSigningBehaviors::Always, &OriginAccessControlSigningProtocols::Sigv4)
    );
    let config = cloud.cloudfront.get_distribution_config().id(&created.id).send().await.unwrap();
    let config = config.distribution_config().unwrap();
    let origin = &config.origins().unwrap().items()[0];
    assert_eq!(origin.domain_name(), "tableicty-staging.s3.us-east-1.amazonaws.com");
    assert_eq!((config.caller_reference(), config.default_root_object()), (spec.name.as_str(), Some("index.html")));
    assert_eq!(config.default_cache_behavior().unwrap().viewer_protocol_policy().as_str(), "redirect-to-https");

    let found = cloud.find_distribution(&spec.name).await.unwrap().expect("found on the second page");
    assert_eq!(
        (found.id.as_str(), found.arn.as_str(), found.domain_name.as_str()),
        (created.id.as_str(), created.arn.as_str(), created.domain_name.as_str())
    );
    let described = cloud.describe_distribution(&created.id).await.unwrap().expect("it exists");
    assert_eq!((described.id.as_str(), described.enabled, described.comment.as_str()), (created.id.as_str(), true, spec.name.as_str()));
    assert_eq!(cloud.describe_distribution("E000000000000").await, Ok(None));

    // The CallerReference taken: moto answers DistributionAlreadyExists for any second creation
    // (as CloudFront's current API reference says; older ones replayed an identical request). The
    // origin access control of the first attempt is adopted, not made twice.
    let again = cloud.create_distribution(&spec, &run_tags()).await.unwrap_err();
    assert_eq!((again.kind, again.code.as_str()), (CloudErrorKind::AlreadyExists, "DistributionAlreadyExists"), "{again}");
    assert_eq!(origin_access_controls(&cloud, &spec.name).await.len(), 1);

    // moto deletes an enabled distribution (CloudFront answers DistributionNotDisabled, which
    // error.rs maps to InvalidState): nothing to assert here.

    let disabled = cloud.disable_distribution(&created.id).await.unwrap();
    assert_eq!((disabled.id.as_str(), disabled.enabled), (created.id.as_str(), false));
    assert!(!cloud.describe_distribution(&created.id).await.unwrap().unwrap().enabled);
    let config = cloud.cloudfront.get_distribution_config().id(&created.id).send().await.unwrap();
    let config = config.distribution_config().unwrap();
    assert_eq!((config.comment(), config.default_root_object()), (spec.name.as_str(), Some("index.html")), "the rest stays");
    // Already disabled: answered as it is.
    assert!(!cloud.disable_distribution(&created.id).await.unwrap().enabled);

    cloud.delete_distribution(&created.id).await.unwrap();
    assert_eq!(cloud.describe_distribution(&created.id).await, Ok(None));
    assert_eq!(cloud.find_distribution(&spec.name).await, Ok(None));
    assert!(origin_access_controls(&cloud, &spec.name).await.is_empty(), "its origin access control went with it");
    let gone = cloud.delete_distribution(&created.id).await.unwrap_err();
    assert_eq!((gone.kind, gone.code.as_str()), (CloudErrorKind::NotFound, "NoSuchDistribution"), "{gone}");
    let missing = cloud.disable_distribution(&created.id).await.unwrap_err();
    assert_eq!(missing.kind, CloudErrorKind::NotFound, "{missing}");
}

#[tokio::test]
async fn a_bucket_policy_is_put_and_read_back() {
    use rehearsal_core::cloud::ObjectStore;
    let moto = moto();
    let cloud = cloud(&moto).await;
    let bucket = "tableicty-staging";
    cloud.create_bucket(bucket, &run_tags()).await.unwrap();
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Sid":"CloudFrontReads","Effect":"Allow","Principal":{"Service":"cloudfront.amazonaws.com"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::tableicty-staging/*","Condition":{"StringEquals":{"AWS:SourceArn":"arn:aws:cloudfront::123456789012:distribution/E2QWRUHAPOMQZL"}}}]}"#;
    cloud.put_bucket_policy(bucket, policy).await.unwrap();
    let read = cloud.s3.get_bucket_policy().bucket(bucket).send().await.unwrap();
    assert_eq!(read.policy(), Some(policy));
    // PutBucketPolicy replaces the policy whole.
    let narrower = policy.replace("tableicty-staging/*", "tableicty-staging/index.html");
    cloud.put_bucket_policy(bucket, &narrower).await.unwrap();
    assert_eq!(cloud.s3.get_bucket_policy().bucket(bucket).send().await.unwrap().policy(), Some(narrower.as_str()));

    let missing = cloud.put_bucket_policy("tableicty-nobody", policy).await.unwrap_err();
    assert_eq!((missing.kind, missing.code.as_str()), (CloudErrorKind::NotFound, "NoSuchBucket"), "{missing}");
}
