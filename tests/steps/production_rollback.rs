//! `restore_production_database`, `check_restored_production_database`, `swap_production_database`,
//! `roll_back_production_code`.

use crate::common::{assert_malformed, assert_not_owned, foreign_tags, not_ready, phase, Run};
use rehearsal_core::cloud::{Rds, RestoreRequest};
use rehearsal_core::phase::Phase;
use rehearsal_core::promotion::{RESTORED_FROM_KEY, RETAIN_UNTIL_KEY};
use rehearsal_core::steps::Step;
use rehearsal_core::tags::{Ownership, RunTags};
use rehearsal_sim::seed::{ECR_REGISTRY, ECR_REPOSITORY, PRODUCTION_IMAGE_DIGEST, RELEASE_IMAGE_DIGEST};
use serde_json::{json, Value};

const RESTORE: Step = Step::RestoreProductionDatabase;
const CHECK: Step = Step::CheckRestoredProductionDatabase;
const SWAP: Step = Step::SwapProductionDatabase;
const CODE: Step = Step::RollBackProductionCode;

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_else(|| panic!("{value} is not a string"))
}

/// A promotion whose pre-deployment snapshot is available: what the rollback restores.
async fn promoted(run: &Run) -> Value {
    let promotion = run.promotion();
    let snapshot = run.ok(Step::SnapshotProductionBeforeDeploy, json!({"promotion": promotion})).await;
    run.wait_for(Step::CheckProductionSnapshot, "snapshot", snapshot).await;
    promotion
}

/// The restored copy, available.
async fn restored(run: &Run, promotion: &Value) -> Value {
    let database = run.ok(RESTORE, json!({"promotion": promotion})).await;
    run.wait_for(CHECK, "database", database).await
}

/// Every production write was made by `steps`.
fn written_only_by(run: &Run, steps: &[Step]) {
    let writes = run.account.ledger().production_writes;
    assert!(writes.iter().all(|w| steps.iter().any(|s| s.name() == w.step)), "{:?}", run.production_writes());
}

#[tokio::test(start_paused = true)]
async fn the_snapshot_is_restored_beside_production_tagged_with_where_it_came_from_and_adopted_on_a_retry() {
    let run = Run::planned().await;
    let promotion = promoted(&run).await;
    let id = text(&promotion["restored_db_id"]);
    let database = run.ok(RESTORE, json!({"promotion": promotion})).await;
    assert_eq!(
        (database["instance_id"].as_str(), database["reused"].as_bool(), phase(&database)),
        (Some(id), Some(false), Phase::InProgress)
    );
    let copy = run.operator().describe_instance(id).await.unwrap().unwrap();
    let production = run.operator().describe_instance(&run.plan.production.db_instance_id).await.unwrap().unwrap();
    assert_eq!(
        (copy.class, copy.subnet_group, copy.security_group_ids),
        (production.class, production.subnet_group, production.security_group_ids)
    );
    assert_eq!(copy.tags.get(RESTORED_FROM_KEY), Some(&text(&promotion["snapshot_id"]).to_string()));
    let owner: RunTags = serde_json::from_value(promotion["tags"].clone()).unwrap();
    assert_eq!(owner.ownership(&copy.tags), Ownership::ThisRun);

    let again = run.ok(RESTORE, json!({"promotion": promotion})).await;
    assert_eq!(again["reused"], json!(true));
    assert_eq!(run.created_by(RESTORE), [format!("db-instance {id}")]);
    let available = run.wait_for(CHECK, "database", again).await;
    assert_eq!((phase(&available), available["endpoint"].is_object()), (Phase::Ready, true));
    written_only_by(&run, &[]);
}

#[tokio::test(start_paused = true)]
async fn a_foreign_instance_under_the_restore_name_is_refused() {
    let run = Run::planned().await;
    let promotion = promoted(&run).await;
    let id = text(&promotion["restored_db_id"]).to_string();
    let production = run.operator().describe_instance(&run.plan.production.db_instance_id).await.unwrap().unwrap();
    let request = RestoreRequest {
        instance_id: id.clone(),
        source: rehearsal_core::cloud::RestoreSource::Snapshot(text(&promotion["snapshot_id"]).to_string()),
        class: production.class,
        subnet_group: production.subnet_group,
        security_group_ids: production.security_group_ids,
        parameter_group: None,
        option_group: None,
        publicly_accessible: false,
        tags: foreign_tags(),
    };
    run.operator().restore_instance(&request).await.unwrap();
    assert_not_owned(run.call(RESTORE, json!({"promotion": promotion})).await, &id);
    assert!(run.created_by(RESTORE).is_empty());
}

/// The Rollback Plan's swap: the damaged instance moves aside and is kept (tagged, stopped),
/// the copy takes production's name, so DATABASE_URL stays right.
#[tokio::test(start_paused = true)]
async fn the_swap_puts_the_copy_under_productions_name_and_keeps_the_damaged_one() {
    let run = Run::planned().await;
    let promotion = promoted(&run).await;
    let before = run.operator().describe_instance(&run.plan.production.db_instance_id).await.unwrap().unwrap();
    restored(&run, &promotion).await;
    let mut swap = json!({"actions": [], "waiting_for": null, "attempts": 0});
    for _ in 0..60 {
        swap = run.ok(SWAP, json!({"promotion": promotion, "swap": swap})).await;
        if phase(&swap) == Phase::Ready {
            break;
        }
        crate::common::minutes(1).await;
    }
    assert_eq!(phase(&swap), Phase::Ready, "{swap}");
    assert!(swap["actions"].as_array().unwrap().len() >= 3, "{swap}");
    let now = run.operator().describe_instance(&run.plan.production.db_instance_id).await.unwrap().unwrap();
    assert_eq!(now.tags.get(RESTORED_FROM_KEY), Some(&text(&promotion["snapshot_id"]).to_string()));
    assert_eq!(now.endpoint, before.endpoint, "DATABASE_URL still points at production's name");
    let damaged = run.operator().describe_instance(text(&promotion["damaged_db_id"])).await.unwrap().unwrap();
    assert!(damaged.tags.contains_key(RETAIN_UNTIL_KEY) && ["stopping", "stopped"].contains(&damaged.status.as_str()), "{damaged:?}");
    assert!(run.account.ledger().deleted.iter().all(|d| d.id != damaged.id), "the damaged database is never deleted");
    written_only_by(&run, &[SWAP]);
}

#[tokio::test(start_paused = true)]
async fn a_swap_without_the_copy_stops_naming_it() {
    let run = Run::planned().await;
    let promotion = run.promotion();
    let id = text(&promotion["restored_db_id"]).to_string();
    not_ready(run.call(SWAP, json!({"promotion": promotion, "swap": {"actions": [], "waiting_for": null, "attempts": 0}})).await, &id);
    written_only_by(&run, &[]);
    assert_malformed(run.call(SWAP, json!({"promotion": promotion, "swap": {"actions": "none", "attempts": 0}})).await, "swap.actions");
}

/// The deployment the promotion started, as `start_production_deployment` answers it, and what
/// production ran before.
async fn deploying(run: &Run, promotion: &Value) -> (Value, Value) {
    let source = run.ok(Step::RecordProductionSource, json!({"promotion": promotion})).await;
    let deployment = run.ok(Step::StartProductionDeployment, json!({"promotion": promotion, "source": source})).await;
    (source, deployment)
}

#[tokio::test(start_paused = true)]
async fn a_source_built_service_gets_the_manual_action_and_no_call() {
    let run = Run::planned().await;
    let promotion = run.promotion();
    let (source, deployment) = deploying(&run, &promotion).await;
    let code = run.ok(CODE, json!({"promotion": promotion, "source": source, "deployment": deployment})).await;
    let manual = text(&code["manual_action"]);
    assert!(manual.contains(text(&source["service_arn"])) && manual.contains("git revert"), "{manual}");
    assert_eq!(code["service"], Value::Null);
    assert!(run.calls_of(CODE).is_empty(), "{:?}", run.calls_of(CODE));
}

#[tokio::test(start_paused = true)]
async fn an_image_based_service_is_updated_back_to_the_image_it_ran() {
    let run = Run::planned().await;
    run.account.deploy_production_from_image();
    let mut promotion = run.promotion();
    promotion["release_image"] = json!(format!("{ECR_REGISTRY}/{ECR_REPOSITORY}@{RELEASE_IMAGE_DIGEST}"));
    let (source, deployment) = deploying(&run, &promotion).await;
    let image = text(&source["image_identifier"]).to_string();
    // What production ran, by the digest its tag named when recorded (the tag is kept beside it).
    assert_eq!(image, format!("{ECR_REGISTRY}/{ECR_REPOSITORY}@{PRODUCTION_IMAGE_DIGEST}"));
    assert_eq!(source["configured_image"], json!(rehearsal_sim::seed::PRODUCTION_IMAGE));
    let input = |deployment: &Value| json!({"promotion": promotion, "source": source, "deployment": deployment});
    // While the deployment still runs, App Runner refuses an update: the Task retries.
    assert_eq!(run.call(CODE, input(&deployment)).await.unwrap_err().name(), "TransientError");
    let deployed = run.wait_for(Step::CheckProductionService, "service", deployment).await;
    let code = run.ok(CODE, input(&deployed)).await;
    assert_eq!((code["manual_action"].clone(), phase(&code["service"])), (Value::Null, Phase::InProgress));
    assert!(text(&code["action"]).contains(&image), "{code}");
    assert_eq!(run.calls_of(CODE), ["UpdateService", "UpdateService"]);
    let rolled_back = run.wait_for(Step::CheckProductionService, "service", code["service"].clone()).await;
    assert_eq!(phase(&rolled_back), Phase::Ready, "{rolled_back}");
    assert_eq!(run.account.service_image(&run.plan.production.service_name), Some(image));
    written_only_by(&run, &[Step::StartProductionDeployment, CODE]);
}
