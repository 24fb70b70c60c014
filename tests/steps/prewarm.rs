//! `prewarm_staging_database`, on the simulated account's lazily loaded restored copy.

use crate::common::{assert_malformed, invalid_field, not_ready, Run};
use rehearsal_core::checks::db::DbQuery;
use rehearsal_core::cloud::{DatabaseProbe, ParameterKind, ParameterStore};
use rehearsal_core::plan::DATABASE_URL;
use rehearsal_core::steps::Step;
use serde_json::{json, Value};

const PREWARM: Step = Step::PrewarmStagingDatabase;

/// The step's input for the run's plan with `staging.prewarm` on, limited to `max_seconds`.
fn warm_up(run: &Run, max_seconds: u32) -> Value {
    let mut plan = run.plan.clone();
    plan.staging_db.prewarm.enabled = true;
    plan.staging_db.prewarm.max_seconds = max_seconds;
    json!({"plan": plan})
}

fn tables(report: &Value) -> Vec<(String, String, bool)> {
    let tables = report["tables"].as_array().unwrap();
    tables
        .iter()
        .map(|t| (t["table"].as_str().unwrap().to_string(), t["method"].as_str().unwrap().to_string(), t["complete"].as_bool().unwrap()))
        .collect()
}

fn millis(report: &Value, key: &str) -> u64 {
    report[key].as_u64().unwrap_or_else(|| panic!("no {key} in {report}"))
}

/// A restored copy reads slowly until warmed: the largest tables are read first, the time limit
/// cuts the list short, and the sample query on the largest table is faster afterwards; a
/// second warm-up finds the table warm already. Production is never touched.
#[tokio::test(start_paused = true)]
async fn the_largest_tables_are_read_first_within_the_limit_and_the_first_query_gets_faster() {
    let run = Run::planned().await;
    run.parameters_written().await;
    let report = run.ok(PREWARM, warm_up(&run, 300)).await;
    assert_eq!(report["enabled"], json!(true));
    assert_eq!(report["sample_table"], json!("core_shareholder"), "{report}");
    let read = tables(&report);
    assert_eq!(read[0], ("core_shareholder".to_string(), "pg-prewarm".to_string(), true), "{report}");
    let bytes: Vec<u64> = report["tables"].as_array().unwrap().iter().map(|t| t["bytes"].as_u64().unwrap()).collect();
    assert!(bytes.windows(2).all(|w| w[0] >= w[1]), "largest first: {bytes:?}");
    // The simulated copy holds ~25 GiB, read from S3 at 64 MiB/s: more than 300 seconds.
    assert_eq!(report["time_limit_reached"], json!(true), "{report}");
    assert!(!read.last().unwrap().2, "the last table read was cut short: {report}");
    let (before, after) = (millis(&report, "first_query_ms_before"), millis(&report, "first_query_ms_after"));
    assert!(before > 10 * after, "before {before} ms, after {after} ms");
    assert!(run.calls_of(PREWARM).iter().any(|c| c.ends_with("Prewarm")), "{:?}", run.calls_of(PREWARM));

    let again = run.ok(PREWARM, warm_up(&run, 840)).await;
    assert_eq!(millis(&again, "first_query_ms_before"), millis(&again, "first_query_ms_after"), "warm already: {again}");
    assert_eq!(again["time_limit_reached"], json!(false), "{again}");
    assert_eq!(tables(&again).len(), 5, "staging.prewarm.tables' default: {again}");
    assert!(tables(&again).iter().all(|(_, _, complete)| *complete), "{again}");
    assert!(run.production_writes().is_empty(), "{:?}", run.production_writes());
}

/// A count over the whole table (as the backfill checks run) loads it as a warm-up would.
#[tokio::test(start_paused = true)]
async fn a_full_read_by_a_check_warms_the_table_it_counts() {
    let run = Run::planned().await;
    run.parameters_written().await;
    let operator = run.operator();
    let url = operator.get_parameter(&run.plan.staging_parameter(DATABASE_URL)).await.unwrap().expect("the staging URL");
    let target = rehearsal_core::database_url::target(&url.value).unwrap();
    let count = DbQuery::CountRows { table: "core_shareholder".into(), null_column: None };
    assert_eq!(operator.query(&target, &count).await.unwrap(), [[json!(11)]]);
    let report = run.ok(PREWARM, warm_up(&run, 840)).await;
    assert_eq!(millis(&report, "first_query_ms_before"), millis(&report, "first_query_ms_after"), "counted, so warm: {report}");
    assert!(report["tables"][0]["millis"].as_u64().unwrap() < report["tables"][1]["millis"].as_u64().unwrap(), "{report}");
}

#[tokio::test(start_paused = true)]
async fn with_prewarm_off_the_step_refuses_and_reads_nothing() {
    let run = Run::planned().await;
    run.parameters_written().await;
    let (field, reason) = invalid_field(run.call(PREWARM, run.with_plan(json!({}))).await);
    assert_eq!(field, "plan.staging_db.prewarm.enabled", "{reason}");
    assert!(run.calls_of(PREWARM).is_empty(), "{:?}", run.calls_of(PREWARM));
}

#[tokio::test(start_paused = true)]
async fn a_staging_url_reaching_another_database_than_the_copy_is_refused_before_the_extension_is_created() {
    let run = Run::planned().await;
    not_ready(run.call(PREWARM, warm_up(&run, 60)).await, DATABASE_URL);
    run.database_available().await;
    let operator = run.operator();
    let production = operator.get_parameter(&run.plan.production_parameter(DATABASE_URL)).await.unwrap().expect("production's URL");
    operator.put_parameter(&run.plan.staging_parameter(DATABASE_URL), &production.value, ParameterKind::SecureString, false).await.unwrap();
    let refused = run.call(PREWARM, warm_up(&run, 60)).await.unwrap_err();
    assert_eq!(refused.name(), "ResourceNotOwnedError", "{refused}");
    assert!(refused.to_string().contains(&run.plan.staging_db.instance_id), "{refused}");
    assert!(!run.calls_of(PREWARM).iter().any(|c| c.ends_with("Prewarm")), "{:?}", run.calls_of(PREWARM));
    assert!(run.production_writes().is_empty());
    let mut malformed = warm_up(&run, 60);
    malformed["bogus"] = json!(1);
    assert_malformed(run.call(PREWARM, malformed).await, "bogus");
}
