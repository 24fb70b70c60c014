//! Promotion end to end (runbook step 8 and its Rollback Plan): the real
//! `statemachine/promote.asl.json` run by the local runner after a staging run on the same
//! simulated account, calling the step handlers on a virtual clock.

use rehearsal_cli::follow_up::{
    ApprovalAnswer, ApprovalSettings, MachineReport, EXECUTION_NAME as PROMOTE_EXECUTION, LOCAL_APPROVER, LOCAL_REQUESTER,
};
use rehearsal_cli::report::RunStatus;
use rehearsal_core::checks::http::request;
use rehearsal_core::cloud::{ExecutionInfo, HttpClient, ParameterKind, ParameterStore, Rds, Scheduler};
use rehearsal_core::lease::{lease_parameter, Lease, LeasedEnvironment};
use rehearsal_core::naming::teardown_schedule_name;
use rehearsal_core::plan::SCHEDULE_GROUP;
use rehearsal_core::promotion::{approval_parameter, ApprovalDecision, Promotion, Verdict, RETAIN_UNTIL_KEY};
use rehearsal_core::steps::{invoke, Step};
use rehearsal_core::tags::RunTags;
use rehearsal_core::Secret;
use rehearsal_sim::seed::{
    ECR_REGISTRY, ECR_REPOSITORY, ECS_CLUSTER, PRODUCTION_DB, PRODUCTION_IMAGE_DIGEST, PRODUCTION_SERVICE, PRODUCTION_SERVICE_URL,
    RELEASE_IMAGE, RELEASE_IMAGE_DIGEST, RELEASE_IMAGE_TAG,
};
use rehearsal_sim::SimAccount;
use rehearsal_tests::promotion::{alert_subjects, promote, promote_on, promotion, skipping_allowed, stage, staged};
use rehearsal_tests::{new_account, runtime, RUN_ID};
use serde_json::{json, Value};

/// The steps allowed to write production: the promotion and its rollback.
const PRODUCTION_WRITERS: [&str; 4] =
    ["start_production_deployment", "trigger_production_backfill", "swap_production_database", "roll_back_production_code"];

fn writers(report: &MachineReport) -> Vec<String> {
    report.production_writes.as_array().unwrap().iter().map(|w| w["step"].as_str().unwrap().to_string()).collect()
}

fn production_migrated(account: &SimAccount) -> bool {
    account.database_tables(PRODUCTION_DB).expect("production exists").contains_key("core_tenant")
}

async fn production_health(account: &SimAccount) -> u16 {
    health_at(account, PRODUCTION_SERVICE_URL).await
}

async fn health_at(account: &SimAccount, host: &str) -> u16 {
    let answer = account.session("test").send(request("GET", format!("https://{host}/api/v1/health/"), None, None)).await;
    answer.map_or(0, |r| r.status)
}

/// Who holds production now, if anyone.
async fn production_lease(account: &SimAccount) -> Option<Lease> {
    let name = lease_parameter("tableicty", LeasedEnvironment::Production);
    let stored = account.session("test").get_parameter(&name).await.unwrap()?;
    Some(Lease::parse(&name, stored.value.expose()).unwrap())
}

/// Staging (the runbook's tables, staging service) as the staging run left it.
fn staging_is_up(account: &SimAccount) {
    let existing = account.existing_resources();
    for (kinds, id) in [(["service", "ecs-service"], "tableicty-staging-backend"), (["db-instance"; 2], "tableicty-staging-db")] {
        assert!(existing.iter().any(|r| kinds.contains(&r.kind.as_str()) && r.id == id && r.status != "deleting"), "{id} is gone");
    }
}

#[test]
fn an_approved_promotion_deploys_backfills_checks_production_and_moves_the_teardown() {
    runtime().block_on(async {
        let account = new_account();
        let staging = staged(&account).await;
        assert!(!production_migrated(&account));
        let report = promote(&account, promotion(&staging), &[], ApprovalAnswer::Approve).await;
        assert!(report.succeeded, "{:?}: {:?}", report.error, report.cause);
        let output = report.output.as_ref().unwrap();
        assert_eq!((output["status"].as_str(), output["run_id"].as_str()), (Some("promoted"), Some(RUN_ID)));
        for group in ["migrations", "backfill", "validation"] {
            let checks = output["checks"][group].as_array().unwrap();
            assert!(!checks.is_empty() && checks.iter().all(|c| c["passed"] == Value::Bool(true)), "{group}: {checks:?}");
        }

        // Production runs the release on its migrated, backfilled database and answers.
        assert!(production_migrated(&account));
        assert_eq!(account.null_count(PRODUCTION_DB, "core_issuer", "tenant_id"), Some(Ok(0)));
        assert_eq!(production_health(&account).await, 200);
        assert!(report.entered("CheckApproval") && report.entered("CloseApproval"));
        assert!(writers(&report).iter().all(|w| PRODUCTION_WRITERS.contains(&w.as_str())), "{:?}", report.production_writes);
        assert!(!writers(&report).is_empty());

        // The pre-deployment backup exists; the decision is gone again; staging is up until
        // its teardown, which now fires an hour after the promotion.
        let snapshot = output["predeploy_snapshot_id"].as_str().unwrap();
        assert!(account.existing_resources().iter().any(|r| r.id == snapshot && r.status == "available"));
        let cloud = account.session("test");
        assert_eq!(cloud.get_parameter(&approval_parameter(PROMOTE_EXECUTION)).await.unwrap(), None);
        staging_is_up(&account);
        let schedule = cloud.get_schedule(SCHEDULE_GROUP, &teardown_schedule_name(RUN_ID)).await.unwrap().unwrap();
        assert!(schedule.input.contains("\"reason\":\"promoted\""), "{}", schedule.input);
        assert!(schedule.at <= account.now() + chrono::Duration::minutes(60) && schedule.at > account.now(), "{}", schedule.at);
        assert_eq!(alert_subjects(&report), ["rehearsal: promoted to production"]);
        assert!(report.entered("TakeProductionLease") && report.entered("ReleaseProductionLeaseAfterPromotion"));
        assert_eq!(production_lease(&account).await, None, "the next promotion may have production");
    });
}

#[test]
fn a_rejected_approval_changes_nothing() {
    runtime().block_on(async {
        let account = new_account();
        let staging = staged(&account).await;
        let report = promote(&account, promotion(&staging), &[], ApprovalAnswer::Reject("not during the sale".into())).await;
        assert!(!report.succeeded);
        assert_eq!(report.error.as_deref(), Some("ApprovalRejected"));
        let cause = report.cause.as_deref().unwrap();
        assert!(cause.contains(&format!("rejected by {LOCAL_APPROVER}")) && cause.contains("(untrusted text"), "{cause}");
        assert!(cause.contains("\"not during the sale\""), "{cause}");
        assert_eq!(report.production_writes, json!([]));
        assert!(!report.entered("SnapshotProductionBeforeDeploy"));
        assert!(report.resources_created.as_array().unwrap().iter().all(|r| r["kind"] == "parameter"), "{}", report.resources_created);
        assert!(!production_migrated(&account));
        assert_eq!(account.session("test").get_parameter(&approval_parameter(PROMOTE_EXECUTION)).await.unwrap(), None);
        staging_is_up(&account);
        assert_eq!(alert_subjects(&report), ["rehearsal: not promoted, production unchanged"]);
        assert_eq!(production_lease(&account).await, None);
    });
}

#[test]
fn a_promotion_is_refused_while_another_one_holds_production_and_leaves_its_lease() {
    runtime().block_on(async {
        let account = new_account();
        let staging = staged(&account).await;
        // Another promotion is running (waiting for its approval, say) and holds production.
        let other = Lease {
            execution_arn: "arn:aws:states:us-east-1:123456789012:execution:rehearsal-promote:promote-41".into(),
            run_id: "tableicty-20261123090000-00000000".into(),
            started_at: account.now(),
        };
        let tags = RunTags { app: "tableicty".into(), environment: "production".into(), run_id: other.run_id.clone() }.to_tags();
        let name = lease_parameter("tableicty", LeasedEnvironment::Production);
        account.session("operator").create_parameter(&name, &Secret::new(other.to_value()), ParameterKind::String, &tags).await.unwrap();
        account.record_execution(ExecutionInfo {
            arn: other.execution_arn.clone(),
            state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:rehearsal-promote".into(),
            name: Some("promote-41".into()),
            status: "RUNNING".into(),
            start: other.started_at,
            stop: None,
            input: Some("{}".into()),
            output: None,
            error: None,
            cause: None,
        });

        let report = promote(&account, promotion(&staging), &[], ApprovalAnswer::Approve).await;
        assert_eq!(report.error.as_deref(), Some("LeaseHeldError"), "{:?}", report.cause);
        let cause = report.cause.as_deref().unwrap();
        assert!(cause.contains(&other.execution_arn) && cause.contains(&other.run_id), "{cause}");
        assert!(!report.entered("CheckApproval") && !report.entered("SnapshotProductionBeforeDeploy"));
        assert_eq!(report.production_writes, json!([]));
        assert_eq!(alert_subjects(&report), ["rehearsal: not promoted, production unchanged"]);
        // Its way out released nothing: the lease is the other promotion's.
        assert_eq!(production_lease(&account).await, Some(other));
    });
}

#[test]
fn an_unanswered_approval_expires_and_changes_nothing() {
    runtime().block_on(async {
        let account = new_account();
        let staging = staged(&account).await;
        let report = promote(&account, promotion(&staging), &[], ApprovalAnswer::Never).await;
        assert_eq!(report.error.as_deref(), Some("States.Timeout"));
        assert!(report.virtual_seconds >= 3.0 * 24.0 * 3600.0);
        assert_eq!(report.production_writes, json!([]));
        assert!(!production_migrated(&account));
    });
}

#[test]
fn only_a_passed_staging_run_of_the_named_run_id_is_promoted() {
    runtime().block_on(async {
        let account = new_account();
        let (failed, status) = stage(&account, json!({}), &["validate_staging=failed-check"]).await;
        assert_eq!(status, RunStatus::RolledBack);
        let report = promote(&account, promotion(&failed), &[], ApprovalAnswer::Approve).await;
        assert_eq!(report.error.as_deref(), Some("CheckFailedError"));
        assert!(report.cause.as_deref().unwrap().contains("did not pass"), "{:?}", report.cause);

        let account = new_account();
        let staging = staged(&account).await;
        let wrong = json!({"run_id": "tableicty-20261123090000-9ad76926", "staging_execution_arn": staging, "approval": "skip"});
        let report = promote_on(&account, skipping_allowed(), wrong, &[], ApprovalAnswer::Approve).await;
        assert_eq!(report.error.as_deref(), Some("InvalidInputError"));
        assert!(report.cause.as_deref().unwrap().contains("run_id"), "{:?}", report.cause);
        let unknown = promotion(&staging.replace(":staging", ":other"));
        assert_eq!(promote(&account, unknown, &[], ApprovalAnswer::Approve).await.error.as_deref(), Some("InvalidInputError"));
        assert!(!production_migrated(&account));
        assert_eq!(alert_subjects(&report), ["rehearsal: promotion refused, production unchanged"]);
    });
}

#[test]
fn an_aurora_production_is_refused_before_any_production_write() {
    runtime().block_on(async {
        let account = new_account();
        account.make_production_aurora();
        let (staging, status) = stage(&account, json!({"staging": {"source": "aurora-clone"}}), &[]).await;
        assert_eq!(status, RunStatus::Succeeded);
        let report = promote(&account, promotion(&staging), &[], ApprovalAnswer::Approve).await;
        assert_eq!(report.error.as_deref(), Some("InvalidInputError"), "{:?}", report.cause);
        let cause = report.cause.as_deref().unwrap();
        assert!(cause.contains("staging_execution_arn") && cause.contains("Aurora"), "{cause}");
        assert!(writers(&report).is_empty(), "{:?}", writers(&report));
        assert!(!production_migrated(&account));
    });
}

#[test]
fn an_approval_cannot_be_skipped_without_the_stack_parameter_nor_given_by_its_requester() {
    runtime().block_on(async {
        let account = new_account();
        let staging = staged(&account).await;
        let skip = json!({"run_id": RUN_ID, "staging_execution_arn": staging, "approval": "skip"});
        let report = promote(&account, skip, &[], ApprovalAnswer::Never).await;
        assert_eq!(report.error.as_deref(), Some("InvalidInputError"));
        let cause = report.cause.as_deref().unwrap();
        assert!(cause.contains("field `approval`") && cause.contains("AllowApprovalSkip"), "{cause}");
        assert!(!report.entered("CheckApproval"));

        // No requester: nobody could tell its approver apart from it.
        let anonymous = json!({"run_id": RUN_ID, "staging_execution_arn": staging});
        let report = promote(&account, anonymous, &[], ApprovalAnswer::Approve).await;
        assert!(report.cause.as_deref().unwrap().contains("field `requested_by`"), "{:?}", report.cause);

        // The requester's own approval, however it got written, is refused by the check itself.
        let report = promote(&account, promotion(&staging), &[], ApprovalAnswer::ApproveAs(LOCAL_REQUESTER.into())).await;
        assert_eq!(report.error.as_deref(), Some("CheckFailedError"));
        assert!(report.cause.as_deref().unwrap().contains("cannot approve it"), "{:?}", report.cause);

        // An approver outside the stack's list is refused too.
        let listed =
            ApprovalSettings { approvers: vec!["arn:aws:iam::123456789012:user/release-manager".into()], ..ApprovalSettings::default() };
        let report = promote_on(&account, listed, promotion(&staging), &[], ApprovalAnswer::Approve).await;
        assert!(report.cause.as_deref().unwrap().contains("not one of the stack's approvers"), "{:?}", report.cause);
        assert_eq!(report.production_writes, json!([]));
        assert!(!production_migrated(&account));
        assert_eq!(account.session("test").get_parameter(&approval_parameter(PROMOTE_EXECUTION)).await.unwrap(), None);
    });
}

/// How a failure at one promote step must end.
enum Expect {
    /// Before production changed: not promoted, nothing written.
    Unchanged(&'static str),
    /// After: production rolled back, failing with the error that started it.
    RolledBack(&'static str),
    /// After, with the step that reads production's service failing for good: the rollback
    /// did its work (database swapped, image updated back) but cannot see the service settle,
    /// and says so.
    RollbackUnconfirmed,
}

/// One failure at each promote step, on production as `backend` runs it, promoting `document`'s
/// staging run; answers what went wrong.
async fn failures_at_each_promote_step(backend: Backend) -> Vec<String> {
    let cases = [
        ("snapshot_production_before_deploy=failed-state", Expect::Unchanged("SnapshotFailedError")),
        ("snapshot_production_before_deploy=fatal", Expect::Unchanged("FatalError")),
        ("record_production_source=unavailable", Expect::Unchanged("TransientError")),
        ("start_production_deployment=fatal", Expect::Unchanged("FatalError")),
        ("start_production_deployment=failed-state", Expect::RolledBack("DeploymentFailedError")),
        ("start_production_deployment=never-ready", Expect::RolledBack("DeploymentTimedOutError")),
        ("check_production_service=fatal", Expect::RolledBack("FatalError")),
        ("verify_production_migrations=failed-check", Expect::RolledBack("CheckFailedError")),
        ("trigger_production_backfill=fatal", Expect::RolledBack("FatalError")),
        ("verify_production_backfill=failed-check", Expect::RolledBack("CheckFailedError")),
        ("validate_production=failed-check", Expect::RolledBack("CheckFailedError")),
    ];
    let mut problems = Vec::new();
    for (fault, mut expect) in cases {
        // Only an image-based production has a code rollback to wait for with that step.
        if backend == Backend::EcsExpress && fault == "check_production_service=fatal" {
            expect = Expect::RollbackUnconfirmed;
        }
        let account = new_account();
        let document = backend.prepare(&account);
        let (staging, status) = stage(&account, document, &[]).await;
        assert_eq!(status, RunStatus::Succeeded);
        let input = json!({"run_id": RUN_ID, "staging_execution_arn": staging, "approval": "skip", "accept_branch_head": true});
        let report = promote_on(&account, skipping_allowed(), input, &[fault], ApprovalAnswer::Never).await;
        if let Err(problem) = check_failure(&account, &report, &expect, backend).await {
            problems.push(format!("{fault}: {problem}\n  error {:?}\n  cause {:?}", report.error, report.cause));
        }
    }
    problems
}

/// How production runs in a test.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Backend {
    /// The runbook: App Runner building its branch.
    AppRunnerSource,
    /// ECS Express Mode, from the release image.
    EcsExpress,
}

impl Backend {
    /// Sets production up on the account; answers the staging run document that rehearses it.
    fn prepare(self, account: &SimAccount) -> Value {
        match self {
            Backend::AppRunnerSource => json!({}),
            Backend::EcsExpress => {
                account.deploy_production_on_ecs_express();
                json!({"service": {"backend": "ecs-express", "image": RELEASE_IMAGE, "cpu": "1 vCPU", "memory": "2 GB"}})
            }
        }
    }

    fn production_host(self) -> &'static str {
        match self {
            Backend::AppRunnerSource => PRODUCTION_SERVICE_URL,
            Backend::EcsExpress => rehearsal_sim::seed::PRODUCTION_EXPRESS_URL,
        }
    }

    /// The environment production's running app sees.
    fn production_environment(self, account: &SimAccount) -> Option<std::collections::BTreeMap<String, String>> {
        match self {
            Backend::AppRunnerSource => account.service_environment(PRODUCTION_SERVICE),
            Backend::EcsExpress => account.express_service_environment(ECS_CLUSTER, PRODUCTION_SERVICE),
        }
    }
}

#[test]
fn a_failure_at_each_promote_step_leaves_production_as_it_was() {
    let problems = runtime().block_on(failures_at_each_promote_step(Backend::AppRunnerSource));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn on_ecs_express_a_failure_at_each_promote_step_leaves_production_as_it_was() {
    let problems = runtime().block_on(failures_at_each_promote_step(Backend::EcsExpress));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

async fn check_failure(account: &SimAccount, report: &MachineReport, expect: &Expect, backend: Backend) -> Result<(), String> {
    let ensure = |ok: bool, what: &str| if ok { Ok(()) } else { Err(what.to_string()) };
    ensure(!report.succeeded, "it succeeded")?;
    staging_is_up(account);
    ensure(
        account.session("test").describe_instance(PRODUCTION_DB).await.unwrap().is_some_and(|db| db.status == "available"),
        "production DB is not available under its identifier",
    )?;
    ensure(!production_migrated(account), "production's data is not as of the snapshot")?;
    ensure(health_at(account, backend.production_host()).await == 200, "production does not answer through its DATABASE_URL")?;
    let env = backend.production_environment(account).ok_or("production runs nothing")?;
    ensure(env["DATABASE_URL"].contains(&format!("@{PRODUCTION_DB}.")), "DATABASE_URL moved")?;
    ensure(production_lease(account).await.is_none(), "the promotion kept production's lease")?;
    match expect {
        Expect::Unchanged(error) => {
            ensure(report.error.as_deref() == Some(*error), "another error")?;
            ensure(report.production_writes == json!([]), "production was written")?;
            ensure(alert_subjects(report) == ["rehearsal: not promoted, production unchanged"], "wrong alerts")
        }
        Expect::RolledBack(error) => {
            ensure(report.error.as_deref() == Some(*error), "another error")?;
            ensure(writers(report).iter().all(|w| PRODUCTION_WRITERS.contains(&w.as_str())), "a non-promote step wrote production")?;
            ensure(alert_subjects(report) == ["rehearsal: rolling production back", "rehearsal: production rolled back"], "wrong alerts")?;
            let cause = report.cause.as_deref().unwrap_or_default();
            ensure(cause.contains("production rolled back") && cause.contains("renamed the restored copy"), "the cause lacks the actions")?;
            // Source-built production: App Runner rolled itself back, or the operator is told what
            // to do; on ECS, ECS rolled its canary back or production went back to its digest.
            let code_rolled_back = match backend {
                Backend::AppRunnerSource => cause.contains("rolled the deployment") || cause.contains("git revert"),
                Backend::EcsExpress => {
                    (cause.contains("rolled the deployment") || cause.contains(&pinned(PRODUCTION_IMAGE_DIGEST)))
                        && account.express_service_image(ECS_CLUSTER, PRODUCTION_SERVICE) == Some(pinned(PRODUCTION_IMAGE_DIGEST))
                }
            };
            ensure(code_rolled_back, "no code rollback reported")?;
            let damaged = account
                .existing_resources()
                .into_iter()
                .find(|r| r.id.starts_with(&format!("{PRODUCTION_DB}-damaged-")))
                .ok_or("the damaged database was not kept")?;
            ensure(damaged.status == "stopping" || damaged.status == "stopped", "the damaged database was not stopped")?;
            ensure(damaged.tags.contains_key(RETAIN_UNTIL_KEY), "the damaged database has no retention tag")
        }
        Expect::RollbackUnconfirmed => {
            ensure(report.error.as_deref() == Some("ProductionRollbackFailedError"), "another error")?;
            let cause = report.cause.as_deref().unwrap_or_default();
            ensure(
                cause.contains("renamed the restored copy") && cause.contains("back to the image it ran before"),
                "the cause lacks the actions",
            )?;
            ensure(
                account.express_service_image(ECS_CLUSTER, PRODUCTION_SERVICE) == Some(pinned(PRODUCTION_IMAGE_DIGEST)),
                "production is not back on its digest",
            )
        }
    }
}

/// `repository@digest` of the app's repository.
fn pinned(digest: &str) -> String {
    format!("{ECR_REGISTRY}/{ECR_REPOSITORY}@{digest}")
}

/// Production on `backend` running release-41; staging rehearses release-42 by its tag, which
/// then moves to a new build. The promotion deploys the digest staging ran, never the tag's new
/// one; with the last check failing, production goes back to the digest it ran before.
async fn an_image_release_is_promoted_by_the_digest_staging_ran(backend: &str) {
    let image = |account: &SimAccount| match backend {
        "ecs-express" => account.express_service_image(ECS_CLUSTER, PRODUCTION_SERVICE),
        _ => account.service_image(PRODUCTION_SERVICE),
    };
    let document = json!({"service": {"backend": backend, "image": RELEASE_IMAGE, "cpu": "1 vCPU", "memory": "2 GB"}});
    for (fault, production_ends_on) in [(None, RELEASE_IMAGE_DIGEST), (Some("validate_production=failed-check"), PRODUCTION_IMAGE_DIGEST)] {
        let account = new_account();
        match backend {
            "ecs-express" => account.deploy_production_on_ecs_express(),
            _ => account.deploy_production_from_image(),
        }
        let (staging, status) = stage(&account, document.clone(), &[]).await;
        assert_eq!(status, RunStatus::Succeeded, "{backend}");
        assert!(
            account.express_service_image(ECS_CLUSTER, "tableicty-staging-backend").or(account.service_image("tableicty-staging-backend"))
                == Some(pinned(RELEASE_IMAGE_DIGEST)),
            "{backend}: staging runs the digest the tag named at planning"
        );
        let moved = account.push_image(RELEASE_IMAGE_TAG);
        assert_ne!(moved, RELEASE_IMAGE_DIGEST);

        // The document cannot name another image; an image release needs no opt-in.
        let naming = json!({"run_id": RUN_ID, "staging_execution_arn": staging, "approval": "skip", "release_image": RELEASE_IMAGE});
        let refused = promote_on(&account, skipping_allowed(), naming, &[], ApprovalAnswer::Never).await;
        assert!(refused.cause.as_deref().unwrap_or_default().contains("field `release_image`"), "{:?}", refused.cause);
        assert_eq!(refused.production_writes, json!([]));

        let input = json!({"run_id": RUN_ID, "staging_execution_arn": staging, "approval": "skip"});
        let report = promote_on(&account, skipping_allowed(), input, &fault.into_iter().collect::<Vec<_>>(), ApprovalAnswer::Never).await;
        assert_eq!(report.succeeded, fault.is_none(), "{backend} {fault:?}: {:?} {:?}", report.error, report.cause);
        assert_eq!(image(&account), Some(pinned(production_ends_on)), "{backend} {fault:?}");
        assert_eq!(report.output.as_ref().and_then(|o| o["deployed"].as_str()).is_some(), fault.is_none(), "{:?}", report.output);
        if fault.is_some() {
            assert!(report.cause.as_deref().unwrap().contains(&pinned(PRODUCTION_IMAGE_DIGEST)), "{:?}", report.cause);
            assert!(!production_migrated(&account));
        }
    }
}

#[test]
fn an_image_release_on_app_runner_deploys_what_staging_ran_and_rolls_back_to_what_production_ran() {
    runtime().block_on(an_image_release_is_promoted_by_the_digest_staging_ran("apprunner"));
}

#[test]
fn an_image_release_on_ecs_express_deploys_what_staging_ran_and_rolls_back_to_what_production_ran() {
    runtime().block_on(an_image_release_is_promoted_by_the_digest_staging_ran("ecs-express"));
}

#[test]
fn a_source_built_production_is_promoted_only_when_the_document_accepts_its_branch_head() {
    runtime().block_on(async {
        let account = new_account();
        let staging = staged(&account).await;
        let without = json!({"run_id": RUN_ID, "staging_execution_arn": staging, "approval": "skip"});
        let report = promote_on(&account, skipping_allowed(), without, &[], ApprovalAnswer::Never).await;
        assert_eq!(report.error.as_deref(), Some("InvalidInputError"));
        assert!(report.cause.as_deref().unwrap().contains("field `accept_branch_head`"), "{:?}", report.cause);
        // Refused before any production call: nothing after the verification ran.
        assert!(!report.entered("SnapshotProductionBeforeDeploy") && !report.entered("RecordProductionSource"));
        assert_eq!(report.production_writes, json!([]));

        let accepted = json!({"run_id": RUN_ID, "staging_execution_arn": staging, "approval": "skip", "accept_branch_head": true});
        let report = promote_on(&account, skipping_allowed(), accepted, &[], ApprovalAnswer::Never).await;
        assert!(report.succeeded, "{:?}", report.cause);
        let deployed = report.output.as_ref().and_then(|o| o["deployed"].as_str()).unwrap_or_default().to_string();
        assert!(deployed.contains("head of its branch main") && deployed.contains("may not have run"), "{deployed}");
        let alerts = report.notifications.as_array().unwrap();
        assert!(alerts.iter().any(|a| a["message"].as_str().is_some_and(|m| m.contains(&deployed))), "{alerts:?}");
    });
}

#[test]
fn check_approval_refuses_a_decision_the_requester_wrote_whoever_it_names() {
    runtime().block_on(async {
        let account = new_account();
        let staging = staged(&account).await;
        // The requester is a session of the account, so the parameter's LastModifiedUser is theirs.
        let requester = rehearsal_sim::session_principal("developer");
        let document = json!({"run_id": RUN_ID, "staging_execution_arn": staging, "requested_by": requester, "accept_branch_head": true});
        let verify = json!({
            "input": document,
            "execution_start": account.now(),
            "execution_name": "promote-7",
            "staging_state_machine_arn": rehearsal_cli::follow_up::staging_state_machine_arn(),
            "allow_approval_skip": "false",
            "stack": rehearsal_tests::stack_settings(),
        });
        let verified = invoke(&account.session("verify_rehearsal_passed"), Step::VerifyRehearsalPassed, verify).await.unwrap();
        let promotion: Promotion = serde_json::from_value(verified).unwrap();
        let checker = account.session("check_approval");
        let check = || invoke(&checker, Step::CheckApproval, json!({"promotion": promotion, "approvers": ""}));
        assert_eq!(check().await.unwrap()["phase"], "in_progress");

        let forged = ApprovalDecision {
            verdict: Verdict::Approved,
            by: LOCAL_APPROVER.into(),
            requested_by: requester.clone(),
            promotion_started_at: promotion.started_at,
            decided_at: account.now(),
            comment: None,
        };
        forged.write(&account.session("developer"), "promote-7").await.unwrap();
        let refused = check().await.unwrap_err().to_string();
        assert!(refused.contains(&format!("written by the requester {requester}")), "{refused}");

        // The same decision written by the API's session counts.
        forged.write(&account.session("api"), "promote-7").await.unwrap();
        let approved = check().await.unwrap();
        assert_eq!((approved["phase"].as_str(), approved["by"].as_str()), (Some("ready"), Some(LOCAL_APPROVER)));
    });
}

/// A lost answer in any step of the promotion that changes something (Step Functions runs the
/// step again), its invocation delivered twice at once, its reads lagging its writes, or its
/// calls slow: the
/// promotion still ends promoted, production answers on the release, and only the production
/// writers wrote it. The production rollback's steps are not entered here (see
/// `lagging_reads_in_the_production_rollback_still_roll_production_back`).
async fn lost_or_doubled_deliveries_in_each_changing_promote_step(backend: Backend) -> Vec<String> {
    let promote_steps: Vec<Step> = Step::ALL
        .iter()
        .copied()
        .filter(|s| s.mutates() && rehearsal_cli::follow_up::PROMOTE_DEFINITION.contains(&format!("${{{}}}", s.arn_key())))
        .collect();
    let mut problems = Vec::new();
    let mut fired_in = 0;
    for (step, kind) in promote_steps.iter().flat_map(|s| [(*s, "lost-response"), (*s, "duplicate"), (*s, "eventual"), (*s, "slow")]) {
        let account = new_account();
        let document = backend.prepare(&account);
        let (staging, status) = stage(&account, document, &[]).await;
        assert_eq!(status, RunStatus::Succeeded);
        let input = json!({"run_id": RUN_ID, "staging_execution_arn": staging, "approval": "skip", "accept_branch_head": true});
        let fault = format!("{}={kind}", step.name());
        let report = promote_on(&account, skipping_allowed(), input, &[&fault], ApprovalAnswer::Never).await;
        let ledger = account.ledger();
        let called = ledger.calls.iter().any(|c| c.step == step.name());
        let fired = !ledger.faults_fired.is_empty();
        fired_in += usize::from(fired);
        if !report.succeeded {
            problems.push(format!("{fault}: {:?} {:?}", report.error, report.cause));
        } else if called && !fired && kind != "eventual" {
            // (A step that reads nothing after its writes never meets a lagging read.)
            problems.push(format!("{fault}: the step ran but the fault never fired"));
        } else if !writers(&report).iter().all(|w| PRODUCTION_WRITERS.contains(&w.as_str())) {
            problems.push(format!("{fault}: production written by {:?}", report.production_writes));
        } else if health_at(&account, backend.production_host()).await != 200 || !production_migrated(&account) {
            problems.push(format!("{fault}: production does not run the release"));
        }
    }
    if fired_in < 10 {
        problems.push(format!("the faults fired in only {fired_in} runs"));
    }
    problems
}

#[test]
fn a_lost_or_doubled_delivery_in_any_changing_promote_step_still_promotes() {
    let problems = runtime().block_on(lost_or_doubled_deliveries_in_each_changing_promote_step(Backend::AppRunnerSource));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn on_ecs_express_a_lost_or_doubled_delivery_in_any_changing_promote_step_still_promotes() {
    let problems = runtime().block_on(lost_or_doubled_deliveries_in_each_changing_promote_step(Backend::EcsExpress));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Reads lagging their writes in each step of the production rollback (a failed check starts
/// it): production is still rolled back, with the check's error.
#[test]
fn lagging_reads_in_the_production_rollback_still_roll_production_back() {
    runtime().block_on(async {
        let mut problems = Vec::new();
        for step in [
            Step::RestoreProductionDatabase,
            Step::CheckRestoredProductionDatabase,
            Step::SwapProductionDatabase,
            Step::RollBackProductionCode,
        ] {
            let account = new_account();
            let (staging, status) = stage(&account, json!({}), &[]).await;
            assert_eq!(status, RunStatus::Succeeded);
            let input = json!({"run_id": RUN_ID, "staging_execution_arn": staging, "approval": "skip", "accept_branch_head": true});
            let fault = format!("{}=eventual", step.name());
            let report =
                promote_on(&account, skipping_allowed(), input, &[&fault, "validate_production=failed-check"], ApprovalAnswer::Never).await;
            if let Err(problem) = check_failure(&account, &report, &Expect::RolledBack("CheckFailedError"), Backend::AppRunnerSource).await
            {
                problems.push(format!("{fault}: {problem}\n  error {:?}\n  cause {:?}", report.error, report.cause));
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    });
}
