//! `mask_staging_database`, `verify_masking`.

use crate::common::{assert_malformed, not_ready, Run};
use rehearsal_core::cloud::{ParameterKind, ParameterStore};
use rehearsal_core::masking::MASKING_KEY;
use rehearsal_core::plan::DATABASE_URL;
use rehearsal_core::steps::Step;
use serde_json::{json, Value};

const MASK: Step = Step::MaskStagingDatabase;
const VERIFY: Step = Step::VerifyMasking;

fn rows(report: &Value) -> Vec<(String, u64, u64)> {
    let tables = report["tables"].as_array().unwrap();
    tables
        .iter()
        .map(|t| (t["table"].as_str().unwrap().to_string(), t["rows_masked"].as_u64().unwrap(), t["rows_kept"].as_u64().unwrap()))
        .collect()
}

/// A fresh run masks with a new key it keeps as a tagged SecureString; a re-run reads the key
/// back and changes nothing; the verification passes; production is only read.
#[tokio::test(start_paused = true)]
async fn masking_keeps_its_key_passes_the_verification_and_a_rerun_changes_nothing() {
    let run = Run::planned().await;
    run.parameters_written().await;
    let first = run.ok(MASK, run.with_plan(json!({}))).await;
    assert_eq!(rows(&first), [("auth_user".to_string(), 2, 1), ("core_shareholder".to_string(), 11, 0)]);
    let key = run.plan.staging_parameter(MASKING_KEY);
    assert!(run.created_by(MASK).iter().any(|c| c.contains(&key)), "{:?}", run.created_by(MASK));
    run.assert_this_runs("parameter", &key);
    assert!(run.calls_of(MASK).iter().any(|c| c.ends_with("Mask")), "{:?}", run.calls_of(MASK));

    let again = run.ok(MASK, run.with_plan(json!({}))).await;
    assert_eq!(rows(&again), [("auth_user".to_string(), 0, 0), ("core_shareholder".to_string(), 0, 0)]);
    assert_eq!(again["tables"][0]["already_masked"].as_array().unwrap().len(), 4, "{again}");

    let checks = run.ok(VERIFY, run.with_plan(json!({}))).await;
    assert!(checks["checks"].as_array().unwrap().iter().all(|c| c["passed"] == json!(true)), "{checks}");
    assert!(run.production_writes().is_empty(), "{:?}", run.production_writes());
}

#[tokio::test(start_paused = true)]
async fn without_the_staging_url_there_is_nothing_to_mask_and_a_malformed_input_is_named() {
    let run = Run::planned().await;
    not_ready(run.call(MASK, run.with_plan(json!({}))).await, DATABASE_URL);
    not_ready(run.call(VERIFY, run.with_plan(json!({}))).await, DATABASE_URL);
    assert_malformed(run.call(MASK, run.with_plan(json!({"bogus": 1}))).await, "bogus");
}

#[tokio::test(start_paused = true)]
async fn masking_refuses_a_staging_url_that_points_at_production() {
    let run = Run::planned().await;
    run.database_available().await;
    // A staging DATABASE_URL someone pointed at production's database.
    let operator = run.operator();
    let production = operator.get_parameter(&run.plan.production_parameter(DATABASE_URL)).await.unwrap().expect("production's URL");
    operator.put_parameter(&run.plan.staging_parameter(DATABASE_URL), &production.value, ParameterKind::SecureString, false).await.unwrap();
    let refused = run.call(MASK, run.with_plan(json!({}))).await.unwrap_err();
    assert_eq!(refused.name(), "ProductionWriteRefusedError", "{refused}");
    assert!(refused.to_string().contains("points at production's database"), "{refused}");
    assert!(!run.calls_of(MASK).iter().any(|c| c.contains("Mask")), "the masker was never called: {:?}", run.calls_of(MASK));
    assert!(run.production_writes().is_empty());
}
