//! Teardown end to end: the real `statemachine/teardown.asl.json` after a staging run, with the
//! input the run's schedule sends (a manual teardown sends the same).

use rehearsal_cli::local::{run_on, LocalRun};
use rehearsal_cli::report::RunStatus;
use rehearsal_core::cloud::{ParameterKind, ParameterStore, Rds};
use rehearsal_core::lease::{lease_parameter, Lease, LeasedEnvironment};
use rehearsal_core::steps::Step;
use rehearsal_core::tags::{RunTags, RUN_KEY};
use rehearsal_core::Secret;
use rehearsal_sim::seed::{PRODUCTION_DB, PRODUCTION_SERVICE};
use rehearsal_sim::{Fault, FaultKind};
use rehearsal_tests::promotion::{scheduled_teardown_input, stage, staged, teardown};
use rehearsal_tests::{new_account, runtime, BACKUP_SNAPSHOT, RUN_ID};
use serde_json::json;

fn ids(list: &serde_json::Value) -> Vec<String> {
    list.as_array().unwrap().iter().map(|r| format!("{} {}", r["kind"].as_str().unwrap(), r["id"].as_str().unwrap())).collect()
}

#[test]
fn teardown_deletes_exactly_the_runs_staging_resources_and_twice_is_fine() {
    runtime().block_on(async {
        let account = new_account();
        staged(&account).await;
        // Someone else's parameter under the staging path, not tagged by the tool.
        let operator = account.session("operator");
        operator.put_parameter("/tableicty/staging/NOTES", &Secret::new("kept"), ParameterKind::String, false).await.unwrap();
        let before = account.existing_resources();
        let input = scheduled_teardown_input(&account).await;
        assert_eq!(input["reason"], "time to live");

        let report = teardown(&account, input.clone()).await;
        assert!(report.succeeded, "{:?}: {:?}", report.error, report.cause);
        let deleted = ids(&report.resources_deleted);
        let mut expected: Vec<String> = [
            "service tableicty-staging-backend",
            "db-instance tableicty-staging-db",
            // Staging is gone: the run's lease is released for the next run.
            "parameter /rehearsal/leases/tableicty/staging",
            &format!("schedule rehearsal/rehearsal-teardown-{RUN_ID}"),
        ]
        .map(String::from)
        .to_vec();
        for key in [
            "SECRET_KEY",
            "PGCRYPTO_KEY",
            "STRIPE_SECRET_KEY",
            "STRIPE_PUBLISHABLE_KEY",
            "STRIPE_WEBHOOK_SECRET",
            "DATABASE_URL",
            "FRONTEND_URL",
            "MASKING_KEY",
        ] {
            expected.push(format!("parameter /tableicty/staging/{key}"));
        }
        let webhook = before.iter().find(|r| r.kind == "stripe-webhook").expect("the run's Stripe endpoint");
        expected.push(format!("stripe-webhook {}", webhook.id));
        // The staging frontend bucket, emptied of every version first.
        expected.push("bucket tableicty-staging".to_string());
        let (mut got, mut want) = (deleted.clone(), expected);
        got.sort();
        want.sort();
        assert_eq!(got, want);

        // Kept: the final snapshot, the runbook's production backup, production, others' things.
        let output = report.output.as_ref().unwrap();
        let final_snapshot = output["final_snapshot"].as_str().expect("a final snapshot").to_string();
        // The run id without its app (the instance names it): every staging instance RunInput accepts fits RDS's 63.
        assert_eq!(final_snapshot, "tableicty-staging-db-final-20261124090000-9ad76926");
        // CopyTagsToSnapshot (set on every restore): the final snapshot says whose it is.
        let kept = after_tags(&account, &final_snapshot).await;
        assert_eq!(kept.get("rehearsal:run-id").map(String::as_str), Some(RUN_ID), "{kept:?}");
        let after = account.existing_resources();
        for id in [final_snapshot.as_str(), BACKUP_SNAPSHOT, PRODUCTION_DB, PRODUCTION_SERVICE, "/tableicty/staging/NOTES"] {
            assert!(after.iter().any(|r| r.id == id), "{id} is gone");
        }
        assert_eq!(report.production_writes, json!([]));

        let again = teardown(&account, input).await;
        assert!(again.succeeded, "{:?}: {:?}", again.error, again.cause);
        assert_eq!(again.resources_deleted, json!([]));
        assert_eq!(again.production_writes, json!([]));
    });
}

#[test]
fn a_production_resource_tagged_as_staging_is_refused() {
    runtime().block_on(async {
        let account = new_account();
        staged(&account).await;
        let input = scheduled_teardown_input(&account).await;
        // Production's database, tagged as this run's staging, named as staging in a forged plan.
        let operator = account.session("operator");
        let production = operator.describe_instance(PRODUCTION_DB).await.unwrap().unwrap();
        let staging_tags = RunTags { app: "tableicty".into(), environment: "staging".into(), run_id: RUN_ID.into() }.to_tags();
        operator.tag_instance(&production.arn, &staging_tags).await.unwrap();
        for (field, value) in [("/plan/staging_db/instance_id", PRODUCTION_DB), ("/plan/service/name", PRODUCTION_SERVICE)] {
            let mut forged = input.clone();
            *forged.pointer_mut(field).unwrap() = json!(value);
            let report = teardown(&account, forged).await;
            assert!(!report.succeeded, "{field}");
            assert_eq!(report.error.as_deref(), Some("ProductionWriteRefusedError"), "{field}: {:?}", report.cause);
            assert_eq!(report.resources_deleted, json!([]), "{field}");
        }
        let described = operator.describe_instance(PRODUCTION_DB).await.unwrap().unwrap();
        assert_eq!(described.status, "available");
        assert_eq!(account.ledger().production_writes.iter().filter(|w| w.step != "operator").count(), 0);
    });
}

/// Another staging run of `{}`, started now under `execution_name`.
async fn another_run(account: &rehearsal_sim::SimAccount, execution_name: &str) -> rehearsal_cli::report::RunReport {
    let run = LocalRun { input: json!({}), faults: vec![], start_time: account.now(), execution_name: execution_name.into() };
    run_on(account, run, std::io::sink()).await.expect("the run completes")
}

#[test]
fn a_run_that_passed_holds_staging_until_its_teardown_and_a_lease_its_teardown_left_is_taken_over() {
    runtime().block_on(async {
        let account = new_account();
        let holder = staged(&account).await;
        // Its staging is up: the next run is refused, naming it, and creates nothing.
        let refused = another_run(&account, "staging-too-soon").await;
        assert_eq!((refused.status, refused.error.as_deref()), (RunStatus::Failed, Some("LeaseHeldError")));
        let cause = refused.cause.unwrap();
        assert!(cause.contains(&holder) && cause.contains("SUCCEEDED, but its staging is still up"), "{cause}");
        assert!(account.existing_resources().iter().all(|r| r.tags.get(RUN_KEY) != Some(&refused.run_id)));

        // Torn down, but the release failed (its Catch ends the teardown all the same): the lease
        // names an ended execution whose staging is gone, and the next run takes it over.
        account.inject(Fault::new(Step::ReleaseStagingLease.name(), FaultKind::Fatal));
        let input = scheduled_teardown_input(&account).await;
        let report = teardown(&account, input).await;
        assert!(report.succeeded, "{:?}: {:?}", report.error, report.cause);
        let name = lease_parameter("tableicty", LeasedEnvironment::Staging);
        assert!(account.existing_resources().iter().any(|r| r.id == name), "the failed release left the lease");
        account.clear_faults(Step::ReleaseStagingLease.name());

        let next = another_run(&account, "staging-next").await;
        assert_eq!(next.status, RunStatus::Succeeded, "{:?}", next.cause);
        let lease = account.session("test").get_parameter(&name).await.unwrap().unwrap();
        assert_eq!(Lease::parse(&name, lease.value.expose()).unwrap().run_id, next.run_id);
    });
}

/// The tags of the snapshot `id`, as RDS describes it.
async fn after_tags(account: &rehearsal_sim::SimAccount, id: &str) -> rehearsal_core::tags::Tags {
    use rehearsal_core::cloud::Rds;
    account.session("test").describe_snapshot(id).await.unwrap().expect("the snapshot exists").tags
}

/// A lost answer in each teardown step that changes something (Step Functions runs it again),
/// or its invocation delivered twice at once:
/// the teardown still succeeds and leaves nothing of the run but what it keeps on purpose (the
/// final snapshot, production's backup).
#[test]
fn a_lost_or_doubled_delivery_in_any_changing_teardown_step_still_tears_everything_down() {
    let steps: Vec<Step> = Step::ALL
        .iter()
        .copied()
        .filter(|s| s.mutates() && rehearsal_cli::follow_up::TEARDOWN_DEFINITION.contains(&format!("${{{}}}", s.arn_key())))
        .collect();
    assert!(!steps.is_empty());
    runtime().block_on(async {
        let mut problems = Vec::new();
        for (step, kind) in steps.iter().flat_map(|s| [(*s, FaultKind::LostResponse), (*s, FaultKind::Duplicate)]) {
            let account = new_account();
            staged(&account).await;
            let input = scheduled_teardown_input(&account).await;
            account.inject(Fault::new(step.name(), kind));
            let report = teardown(&account, input).await;
            let fired = !account.ledger().faults_fired.is_empty();
            let left: Vec<String> = account
                .existing_resources()
                .iter()
                .filter(|r| r.tags.get(RUN_KEY).map(String::as_str) == Some(RUN_ID) && r.kind != "db-snapshot")
                .map(|r| format!("{} {}", r.kind, r.id))
                .collect();
            if !report.succeeded {
                problems.push(format!("{step:?} {kind}: {:?} {:?}", report.error, report.cause));
            } else if !fired {
                problems.push(format!("{step:?} {kind}: the fault never fired"));
            } else if !left.is_empty() {
                problems.push(format!("{step:?} {kind}: left {left:?}"));
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    });
}

#[test]
fn an_aurora_clone_is_torn_down_instance_first_then_the_cluster_with_its_final_snapshot() {
    aurora_copy_is_torn_down_instance_first("aurora-clone");
}

/// The copy restored from the safety cluster snapshot goes the same way; the backup stays.
#[test]
fn an_aurora_copy_restored_from_the_cluster_snapshot_is_torn_down_keeping_the_backup() {
    let account = aurora_copy_is_torn_down_instance_first("snapshot");
    runtime().block_on(async {
        let backup = account.session("test").describe_cluster_snapshot(rehearsal_tests::BACKUP_SNAPSHOT).await.unwrap();
        assert_eq!(backup.map(|s| s.source_id).as_deref(), Some(rehearsal_sim::seed::PRODUCTION_DB_CLUSTER), "the backup is kept");
    });
}

fn aurora_copy_is_torn_down_instance_first(source: &str) -> rehearsal_sim::SimAccount {
    runtime().block_on(async {
        let account = new_account();
        account.make_production_aurora();
        let (_, status) = stage(&account, json!({"staging": {"source": source}}), &[]).await;
        assert_eq!(status, RunStatus::Succeeded);
        let input = scheduled_teardown_input(&account).await;
        let report = teardown(&account, input).await;
        assert!(report.succeeded, "{:?}: {:?}", report.error, report.cause);
        let deleted = ids(&report.resources_deleted);
        let instance = deleted.iter().position(|d| d == "db-instance tableicty-staging-db").expect("the instance deleted");
        let cluster = deleted.iter().position(|d| d == "db-cluster tableicty-staging-db-cluster").expect("the clone deleted");
        assert!(instance < cluster, "{deleted:?}");
        let created = ids(&report.resources_created);
        assert!(created.iter().any(|c| c.starts_with("db-cluster-snapshot tableicty-staging-db-final-")), "{created:?}");
        // What stays is documented to: the final snapshot, and the backup when there is one.
        let kept = |left: &String| {
            left.starts_with("db-cluster-snapshot tableicty-staging-db-final-")
                || (source == "snapshot" && left.starts_with(&format!("db-cluster-snapshot {} ", rehearsal_tests::BACKUP_SNAPSHOT)))
        };
        let left = account.leftovers(RUN_ID);
        assert!(left.iter().all(kept), "{left:?}");
        assert!(account.ledger().production_writes.is_empty(), "{:?}", account.ledger().production_writes);
        let rds = account.session("test");
        assert!(rds.describe_cluster(rehearsal_sim::seed::PRODUCTION_DB_CLUSTER).await.unwrap().is_some());
        account
    })
}
