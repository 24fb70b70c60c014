//! `teardown_staging` (the whole teardown, by `teardown.asl.json`, is in tests/teardown.rs).

use crate::common::{invalid_field, phase, Run};
use rehearsal_core::cloud::Scheduler;
use rehearsal_core::naming::final_snapshot_id;
use rehearsal_core::phase::Phase;
use rehearsal_core::plan::SCHEDULE_GROUP;
use rehearsal_core::steps::Step;
use serde_json::{json, Value};

const TEARDOWN: Step = Step::TeardownStaging;

/// What the run's schedule sends, as `schedule_staging_teardown` wrote it.
async fn scheduled_request(run: &Run) -> Value {
    let schedule = run.operator().get_schedule(SCHEDULE_GROUP, &run.plan.teardown_schedule_name()).await.unwrap().expect("scheduled");
    serde_json::from_str(&schedule.input).unwrap()
}

fn attempts(request: &Value) -> impl Fn(u32) -> Value + '_ {
    move |attempts| json!({"request": request, "attempts": attempts})
}

#[tokio::test(start_paused = true)]
async fn each_attempt_says_what_is_pending_until_staging_is_gone_with_a_final_snapshot() {
    let run = Run::planned().await;
    run.staging_built().await;
    let request = scheduled_request(&run).await;
    let states = run.until_removed(TEARDOWN, attempts(&request)).await;
    let first = &states[0];
    assert_eq!((phase(first), first["reason"].as_str()), (Phase::InProgress, Some("time to live")));
    assert!(!first["pending"].as_array().unwrap().is_empty(), "{first}");
    let last = states.last().unwrap();
    assert_eq!(last["attempts"].as_u64(), Some(states.len() as u64));
    let final_snapshot = final_snapshot_id(&run.plan.staging_db.instance_id, &run.plan.run_id);
    assert_eq!(last["final_snapshot"].as_str(), Some(final_snapshot.as_str()));
    assert!(run.existing("db-snapshot", &final_snapshot).is_some() && run.existing("db-snapshot", &run.plan.snapshot_id).is_some());
    assert!(last["kept"].to_string().contains(&run.plan.snapshot_id), "the backup is kept: {last}");
    assert_eq!(run.production_writes(), Vec::<String>::new());
}

#[tokio::test(start_paused = true)]
async fn an_operator_may_skip_the_final_snapshot() {
    let run = Run::planned().await;
    run.staging_built().await;
    let mut request = scheduled_request(&run).await;
    request["final_snapshot"] = json!(false);
    request["reason"] = json!("operator: release abandoned");
    let states = run.until_removed(TEARDOWN, attempts(&request)).await;
    assert_eq!(states.last().unwrap()["final_snapshot"], Value::Null);
    assert!(run.existing("db-snapshot", &final_snapshot_id(&run.plan.staging_db.instance_id, &run.plan.run_id)).is_none());
    assert_eq!(run.account.leftovers(&run.plan.run_id), [format!("db-snapshot {} (available)", run.plan.snapshot_id)]);
}

/// The request is an execution input anyone may send: it is a document, and its errors name
/// the field like the run document's.
#[tokio::test(start_paused = true)]
async fn a_request_without_a_plan_is_refused_naming_the_field() {
    let run = Run::planned().await;
    for (request, field) in
        [(json!({"reason": "x"}), "(document)"), (json!({"plan": {}, "reason": "x"}), "plan"), (json!([]), "(document)")]
    {
        let (named, _) = invalid_field(run.call(TEARDOWN, json!({"request": request, "attempts": 0})).await);
        assert!(named.starts_with(field), "{request}: {named}");
    }
    assert!(run.calls_of(TEARDOWN).is_empty());
}
