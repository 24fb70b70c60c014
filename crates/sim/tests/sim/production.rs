//! The seeded production stack, writes to it, and what a run leaves behind.

use crate::common::*;
use rehearsal_core::cloud::{ParameterKind, ParameterStore, Rds, ServiceHost, ServiceLocation::AppRunner};
use rehearsal_core::Secret;
use rehearsal_sim::seed::*;
use std::collections::BTreeMap;

#[tokio::test(start_paused = true)]
async fn production_is_seeded_as_the_runbook_describes() {
    let account = account();
    let s = account.session("plan_rehearsal");
    let db = s.describe_instance(PRODUCTION_DB).await.unwrap().unwrap();
    assert_eq!(
        (db.status.as_str(), db.class.as_str(), db.subnet_group.as_deref()),
        ("available", "db.t3.small", Some("tableicty-db-subnets"))
    );
    assert_eq!((db.security_group_ids, db.publicly_accessible), (vec!["sg-0a1b2c3d4e5f60718".to_string()], false));
    assert_eq!(db.endpoint.unwrap().address, "tableicty-production-db.c9akciq32.us-east-1.rds.amazonaws.com");
    assert_eq!(db.arn, "arn:aws:rds:us-east-1:123456789012:db:tableicty-production-db");
    assert!(!db.tags.keys().any(|k| k.starts_with("rehearsal:")));

    let url = s.get_parameter("/tableicty/production/DATABASE_URL").await.unwrap().unwrap();
    assert_eq!(url.kind, ParameterKind::SecureString);
    assert_eq!(url.arn, "arn:aws:ssm:us-east-1:123456789012:parameter/tableicty/production/DATABASE_URL");
    assert!(
        url.value.expose().starts_with("postgres://tableicty:")
            && url.value.expose().ends_with("@tableicty-production-db.c9akciq32.us-east-1.rds.amazonaws.com:5432/tableicty")
    );
    for (name, kind, prefix) in [
        ("/tableicty/production/STRIPE_SECRET_KEY", ParameterKind::SecureString, "sk_live_"),
        ("/tableicty/production/STRIPE_PUBLISHABLE_KEY", ParameterKind::String, "pk_live_"),
        ("/tableicty/production/STRIPE_WEBHOOK_SECRET", ParameterKind::SecureString, "whsec_"),
        ("/tableicty/production/FRONTEND_URL", ParameterKind::String, "https://app.tableicty.com"),
        ("/tableicty/production/SECRET_KEY", ParameterKind::SecureString, ""),
        ("/tableicty/production/PGCRYPTO_KEY", ParameterKind::SecureString, ""),
        ("/tableicty/rehearsal/STRIPE_SECRET_KEY", ParameterKind::SecureString, "sk_test_"),
        ("/tableicty/rehearsal/STRIPE_WEBHOOK_SECRET", ParameterKind::SecureString, "whsec_test"),
        ("/tableicty/rehearsal/STRIPE_PUBLISHABLE_KEY", ParameterKind::String, "pk_test_"),
        ("/tableicty/rehearsal/TEST_ADMIN_PASSWORD", ParameterKind::SecureString, ""),
    ] {
        let p = s.get_parameter(name).await.unwrap().unwrap_or_else(|| panic!("{name}"));
        assert_eq!(p.kind, kind, "{name}");
        assert!(p.value.expose().starts_with(prefix) && !p.value.expose().is_empty(), "{name}");
    }

    let service = s.find_service(PRODUCTION_SERVICE, &AppRunner).await.unwrap().unwrap();
    assert_eq!((service.arn.as_str(), service.status.as_str()), (PRODUCTION_SERVICE_ARN, "RUNNING"));
    assert_eq!(service.url, PRODUCTION_SERVICE_URL);
    let source = service.source.unwrap();
    assert_eq!(
        (source.repository_url.as_str(), source.branch.as_str(), source.connection_arn.as_str()),
        (REPOSITORY_URL, "main", CONNECTION_ARN)
    );
    assert_eq!(service.instance_role_arn.as_deref(), Some("arn:aws:iam::123456789012:role/tableicty-apprunner-instance"));
    assert_eq!(service.vpc_connector_arn.as_deref(), Some(VPC_CONNECTOR_ARN));
    assert_eq!(service.secrets["DATABASE_URL"], url.arn);
    assert_eq!(s.find_vpc_connector("tableicty-vpc-connector").await.unwrap().as_deref(), Some(VPC_CONNECTOR_ARN));
    assert_eq!(s.find_vpc_connector(VPC_CONNECTOR_ARN).await.unwrap().as_deref(), Some(VPC_CONNECTOR_ARN));
    assert_eq!(s.find_vpc_connector("other").await.unwrap(), None);
    assert_eq!(account.service_environment(PRODUCTION_SERVICE).unwrap()["FRONTEND_URL"], "https://app.tableicty.com");
    assert!(account.ledger().production_writes.is_empty());
}

#[tokio::test(start_paused = true)]
async fn writes_to_production_are_performed_and_recorded() {
    let account = account();
    let careless = account.session("careless_step");
    let frontend = "/tableicty/production/FRONTEND_URL";
    careless.put_parameter(frontend, &Secret::new("https://oops"), ParameterKind::String, true).await.unwrap();
    careless.add_parameter_tags(frontend, &tags()).await.unwrap();
    careless.put_parameter("/tableicty/production/NEW", &Secret::new("x"), ParameterKind::String, false).await.unwrap();
    careless.delete_parameter("/tableicty/production/NEW").await.unwrap();
    let op = careless.update_service_secrets(PRODUCTION_SERVICE_ARN, &BTreeMap::new()).await.unwrap();
    careless.delete_instance(PRODUCTION_DB, None).await.unwrap();
    assert_eq!(value_of(&account, frontend).await.expose(), "https://oops", "the simulator does not protect production");
    assert_eq!(careless.describe_instance(PRODUCTION_DB).await.unwrap().unwrap().status, "deleting");
    let writes: Vec<(String, String)> =
        account.ledger().production_writes.into_iter().map(|w| (w.what.resource, w.what.operation)).collect();
    let expected = [
        ("parameter /tableicty/production/FRONTEND_URL", "PutParameter"),
        ("parameter /tableicty/production/FRONTEND_URL", "AddTagsToResource"),
        ("parameter /tableicty/production/NEW", "PutParameter"),
        ("parameter /tableicty/production/NEW", "DeleteParameter"),
        ("service tableicty-backend", "UpdateService"),
        ("db-instance tableicty-production-db", "DeleteDBInstance"),
    ];
    assert_eq!(writes, expected.map(|(r, o)| (r.to_string(), o.to_string())));
    assert!(account.ledger().production_writes.iter().all(|w| w.step == "careless_step"));
    // The redeploy drops every secret, so the container starts without DATABASE_URL and rolls back.
    minutes(4).await;
    assert_eq!(careless.describe_operation(PRODUCTION_SERVICE_ARN, &op).await.unwrap().unwrap().status, "ROLLBACK_SUCCEEDED");
    assert!(account.leftovers(RUN).is_empty(), "production is not the run's: {:?}", account.leftovers(RUN));
}

#[tokio::test(start_paused = true)]
async fn staging_migrations_change_the_copy_not_production() {
    let account = account();
    stage(&account).await;
    let staging = account.database_tables(STAGING_DB).unwrap();
    for table in rehearsal_sim::TENANT_TABLES {
        assert!(staging.contains_key(table), "{table} missing after the deployment: {staging:?}");
    }
    assert_eq!(account.null_count(STAGING_DB, "core_issuer", "tenant_id"), Some(Ok(4)), "existing rows get NULL tenant_id");
    let production = account.database_tables(PRODUCTION_DB).unwrap();
    assert!(!production.contains_key("core_tenant"), "the snapshot is a copy: {production:?}");
    assert_eq!(account.null_count(PRODUCTION_DB, "core_issuer", "tenant_id"), Some(Err("column \"tenant_id\" does not exist".into())));
}

#[tokio::test(start_paused = true)]
async fn leftovers_are_what_the_run_created_until_deletion_finishes() {
    let account = account();
    let staged = stage(&account).await;
    let other_run = account.session("other_run");
    other_run.put_parameter("/tableicty/other/X", &Secret::new("x"), ParameterKind::String, false).await.unwrap();
    other_run.add_parameter_tags("/tableicty/other/X", &run_tags("tableicty-20251224")).await.unwrap();

    let left = account.leftovers(RUN);
    for expected in [
        format!("db-snapshot {SNAPSHOT} (available)"),
        format!("db-instance {STAGING_DB} (available)"),
        "parameter /tableicty/staging/DATABASE_URL (SecureString)".to_string(),
        "parameter /tableicty/staging/BACKFILL_TOKEN (SecureString)".to_string(),
        format!("service {STAGING_SERVICE} (RUNNING)"),
    ] {
        assert!(left.contains(&expected), "{expected} not in {left:?}");
    }
    assert!(!left.iter().any(|l| l.contains("/tableicty/other/") || l.contains(PRODUCTION_DB)), "{left:?}");
    assert_eq!(account.leftovers("tableicty-20251224"), ["parameter /tableicty/other/X (String)"]);

    let teardown = account.session("rollback_staging");
    teardown.delete_service(&staged.service_arn).await.unwrap();
    teardown.delete_instance(STAGING_DB, None).await.unwrap();
    teardown.delete_snapshot(SNAPSHOT).await.unwrap();
    for name in account.existing_resources().into_iter().filter(|r| r.kind == "parameter" && r.id.starts_with(STAGING_PATH)) {
        teardown.delete_parameter(&name.id).await.unwrap();
    }
    let deleting = account.leftovers(RUN);
    assert_eq!(deleting.len(), 3, "still deleting: {deleting:?}");
    assert!(deleting.contains(&format!("db-instance {STAGING_DB} (deleting)")), "{deleting:?}");
    minutes(5).await;
    assert_eq!(account.leftovers(RUN), Vec::<String>::new());
    assert!(account.existing_resources().iter().any(|r| r.id == PRODUCTION_DB && r.status == "available"));
}
