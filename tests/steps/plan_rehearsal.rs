//! `plan_rehearsal`.

use crate::common::{assert_malformed, invalid_field, minutes, not_ready, plan_input, Run};
use rehearsal_core::limits::MAX_DOCUMENT_BYTES;
use rehearsal_core::plan::STAGING_ENVIRONMENT;
use rehearsal_core::steps::Step;
use rehearsal_tests::{run_document, start_time, BACKUP_SNAPSHOT, RUN_ID};
use serde_json::json;

const PLAN: Step = Step::PlanRehearsal;

/// Planning reads production and fixes every name; a retry later plans the very same run.
#[tokio::test(start_paused = true)]
async fn the_plan_only_reads_and_a_retry_plans_the_same_names() {
    let run = Run::planned().await;
    assert_eq!((run.plan.run_id.as_str(), run.plan.started_at), (RUN_ID, start_time()));
    assert_eq!((run.plan.tags.run_id.as_str(), run.plan.tags.environment.as_str()), (RUN_ID, STAGING_ENVIRONMENT));
    assert_eq!(run.plan.snapshot_id, BACKUP_SNAPSHOT, "a name only this tool makes");
    let reads = ["Describe", "Get", "List"];
    assert!(run.calls_of(PLAN).iter().all(|c| reads.iter().any(|r| c.starts_with(r))), "{:?}", run.calls_of(PLAN));
    assert!(run.account.ledger().created.is_empty() && run.production_writes().is_empty());

    minutes(20).await;
    let again = run.ok(PLAN, plan_input(run_document())).await;
    assert_eq!(again, json!(run.plan));
}

#[tokio::test(start_paused = true)]
async fn a_production_database_that_is_missing_stops_the_plan_naming_it() {
    let run = Run::planned().await;
    let mut document = run_document();
    document["production"] = json!({"db_instance_id": "tableicty-old-production-db"});
    not_ready(run.call(PLAN, plan_input(document)).await, "tableicty-old-production-db");
}

#[tokio::test(start_paused = true)]
async fn bad_input_is_refused_naming_the_field_before_any_call() {
    let run = Run::planned().await;
    let calls = run.calls_of(PLAN).len();
    assert_malformed(
        run.call(PLAN, {
            let mut input = plan_input(run_document());
            input["execution_start"] = json!("yesterday");
            input
        })
        .await,
        "execution_start",
    );
    let mut document = run_document();
    document["ttl_hours"] = json!(0);
    assert_eq!(invalid_field(run.call(PLAN, plan_input(document)).await).0, "ttl_hours");
    assert_eq!(run.calls_of(PLAN).len(), calls);
}

/// Issue 13, item 5: what AWS would refuse (or what is plainly unsafe) is refused by the plan,
/// naming the field, before its first call: no account call at all is made for any of these.
#[tokio::test(start_paused = true)]
async fn documents_and_stack_settings_against_aws_rules_are_refused_naming_the_field_before_any_call() {
    let run = Run::planned().await;
    let levels = format!("/{}", "l/".repeat(15));
    let variables: serde_json::Map<String, serde_json::Value> = (0..51).map(|i| (format!("SETTING_{i}"), json!("x"))).collect();
    let keep_rows: Vec<String> = (0..600).map(|i| format!("user-{i:04}@tableicty.com-padding-padding-padding-padding-padding")).collect();
    let documents = [
        (json!({"app": "tableicty-"}), "app"),
        (json!({"production": {"db_instance_id": "p".repeat(40)}}), "production.db_instance_id"),
        (json!({"staging": {"db_instance_id": format!("tableicty-staging-{}", "d".repeat(16))}}), "staging.db_instance_id"),
        (json!({"staging": {"db_instance_class": "db.t3.micro --x"}}), "staging.db_instance_class"),
        (json!({"staging": {"parameter_path": "/tableicty/staging/../production/"}}), "staging.parameter_path"),
        (json!({"staging": {"parameter_path": "/tableicty/./staging/"}}), "staging.parameter_path"),
        (json!({"staging": {"parameter_path": "/tableicty//staging/"}}), "staging.parameter_path"),
        (json!({"production": {"parameter_path": levels}}), "production.parameter_path"),
        (json!({"stripe": {"test_parameter_path": "/ssm-keys/rehearsal/"}}), "stripe.test_parameter_path"),
        (json!({"stripe": {"test_parameter_path": format!("/{}/", "k".repeat(600))}}), "stripe.test_parameter_path"),
        (
            json!({"validation": {"test_admin_password_parameter": "/tableicty/rehearsal/../production/TEST_ADMIN_PASSWORD"}}),
            "validation.test_admin_password_parameter",
        ),
        (json!({"service": {"name": "tab"}}), "service.name"),
        (json!({"service": {"name": "t".repeat(41)}}), "service.name"),
        (json!({"production": {"service_name": "-backend"}}), "production.service_name"),
        (json!({"service": {"branch": "main..release"}}), "service.branch"),
        (json!({"service": {"environment": {"AWSAPPRUNNER_PORT": "1"}}}), "service.environment"),
        (json!({"service": {"environment": variables}}), "service.environment"),
        (json!({"stripe": {"webhook_path": "/api/../admin/"}}), "stripe.webhook_path"),
        (json!({"validation": {"health_path": "/health/?debug=1"}}), "validation.health_path"),
        (json!({"validation": {"test_admin_email": "admin@localhost"}}), "validation.test_admin_email"),
        (json!({"service": {"branch": "b".repeat(3000)}}), "service.branch"),
        (json!({"masking": {"keep_rows": {"auth_user": {"email": keep_rows}}}}), "(document)"),
    ];
    // Every truthy spelling Django would read as on.
    let debug = ["True", "true", "1", "yes", "on", "TRUE"]
        .map(|on| (json!({"service": {"environment": {"DEBUG": on}}}), "service.environment.DEBUG"));
    let before = run.account.ledger().calls.len();
    for (document, field) in documents.into_iter().chain(debug) {
        let text = document.to_string();
        let mut sent = run_document();
        sent.as_object_mut().unwrap().extend(document.as_object().unwrap().clone());
        let (named, reason) = invalid_field(run.call(PLAN, plan_input(sent)).await);
        assert_eq!(named, field, "{}: {reason}", &text[..text.len().min(120)]);
    }
    let stack = [
        ("staging_instance_role_arn", json!("arn:aws:iam::123456789012:user/rehearsal-staging-instance")),
        ("staging_instance_role_arn", json!("arn:azure:iam::123456789012:role/rehearsal-staging-instance")),
        ("staging_instance_role_arn", json!("arn:aws:iam::1234567:role/rehearsal-staging-instance")),
        ("staging_instance_role_arn", json!(format!("arn:aws:iam::123456789012:role/{}", "r".repeat(65)))),
        ("connection_arn", json!("arn:aws:apprunner:us-east-1:123456789012:service/tableicty-github/0c9f1e2d")),
        ("connection_arn", json!("arn:aws:apprunner:us-east-1:123456789012:connection/gh/0c9f1e2d")),
        ("vpc_connector", json!("tableicty vpc")),
        ("repository_url", json!("http://github.com/tableicty/tableicty-backend")),
    ];
    for (key, value) in stack {
        let mut input = plan_input(run_document());
        input["stack"][key] = value.clone();
        assert_eq!(invalid_field(run.call(PLAN, input).await).0, format!("stack.{key}"), "{value}");
    }
    let mut input = plan_input(run_document());
    input["stack"]["build"]["start_command"] = json!("gunicorn app\nrm -rf /");
    assert_eq!(invalid_field(run.call(PLAN, input).await).0, "stack.build.start_command");
    assert_eq!(run.account.ledger().calls.len(), before, "no AWS call for a refused document");
}

/// The largest document accepted plans, its plan stays far below a state's 256 KiB, and the
/// teardown takes that plan (a teardown request carries a whole plan, so it is not bounded as a
/// document is).
#[tokio::test(start_paused = true)]
async fn the_largest_document_accepted_plans_and_its_plan_fits_every_state() {
    let run = Run::planned().await;
    let mut document = json!({"masking": {"keep_rows": {"auth_user": {"email": []}}}});
    let mut n = 0;
    while document.to_string().len() + 40 < MAX_DOCUMENT_BYTES {
        document["masking"]["keep_rows"]["auth_user"]["email"].as_array_mut().unwrap().push(json!(format!("user-{n}@tableicty.com")));
        n += 1;
    }
    let plan = run.ok(PLAN, plan_input(document)).await;
    let size = plan.to_string().len();
    assert!(size < 256 * 1024 / 4, "a plan of {size} bytes");
    let removal = run.ok(Step::TeardownStaging, json!({"request": {"plan": plan, "reason": "the largest plan"}, "attempts": 0})).await;
    assert_eq!(removal["reason"], json!("the largest plan"));
}
