//! Issue 16: a restored RDS volume loads its blocks lazily from S3, so the first queries on a
//! fresh staging copy can be many times slower than production's and the checks flaky.
//! `prewarm_staging_database` (`staging.prewarm.enabled`) reads the copy's largest tables once
//! it is masked, before the staging service exists: `pg_prewarm` where the extension can be
//! created (RDS PostgreSQL offers it to the master user), otherwise a sequential read, within
//! `max_seconds` overall. The report says per table what was read and how, and the first-query
//! latency of a sample query on the largest table before and after. It runs in the databases'
//! VPC; with prewarm off the definition's Choice skips it.
//!
//! Step: `prewarm_staging_database` (staging.asl.json `PrewarmStagingDatabase`). Tests:
//! tests/steps/prewarm.rs; the PostgreSQL warmer in crates/probes/tests/postgres/prewarm.rs;
//! end to end, tests/staging_pipeline.rs `prewarm_reads_the_restored_copy_before_the_service_exists`.

use super::migrations::database_target;
use super::PlanOnly;
use crate::cloud::{Clock, DatabaseWarmer, ParameterStore, ProbeError, Rds, Warmed};
use crate::error::CloudResultExt;
use crate::plan::Environment;
use crate::StepError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What the warm-up did, for the state (`$.prewarm`), the output and the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrewarmReport {
    pub enabled: bool,
    pub max_seconds: u32,
    #[serde(flatten)]
    pub warmed: Warmed,
    pub started_at: DateTime<Utc>,
    pub seconds: i64,
}

pub async fn prewarm_staging_database<C: ParameterStore + Rds + DatabaseWarmer + Clock + Sync>(
    cloud: &C,
    input: PlanOnly,
) -> Result<PrewarmReport, StepError> {
    let plan = &input.plan;
    let settings = plan.staging_db.prewarm;
    if !settings.enabled {
        // The definition never calls it then: a call is a forged or stale input.
        return Err(StepError::invalid("plan.staging_db.prewarm.enabled", "is false: the warm-up is off for this run"));
    }
    let started_at = cloud.now();
    let target = database_target(cloud, plan, Environment::Staging).await?;
    // CREATE EXTENSION is a write: only in the copy this run restored, which RDS names (this
    // step reads nothing of production's, not even its DATABASE_URL).
    let instance = &plan.staging_db.instance_id;
    let described = cloud.describe_instance(instance).await.op("DescribeDBInstances")?;
    let endpoint = described
        .and_then(|i| i.endpoint)
        .ok_or_else(|| StepError::ProductionNotReady(format!("staging database {instance} has no endpoint")))?;
    if !endpoint.address.eq_ignore_ascii_case(&target.host) || endpoint.port != target.port {
        return Err(StepError::ResourceNotOwned {
            resource: format!("database at {}:{}", target.host, target.port),
            detail: format!(
                "the staging DATABASE_URL does not reach staging instance {instance} ({}:{}), the only database the warm-up writes in",
                endpoint.address, endpoint.port
            ),
        });
    }
    let limit = Duration::from_secs(u64::from(settings.max_seconds));
    let warmed = cloud.prewarm(&target, settings.tables, limit).await.map_err(|e| match e {
        ProbeError::NotReady(why) => StepError::DatabaseNotReady(format!("{}: {why}", target.host)),
        other => StepError::CheckFailed(format!("warming the staging database at {}: {other}", target.host)),
    })?;
    let seconds = (cloud.now() - started_at).num_seconds();
    tracing::info!(
        tables = warmed.tables.len(),
        before_ms = warmed.first_query_ms_before,
        after_ms = warmed.first_query_ms_after,
        time_limit_reached = warmed.time_limit_reached,
        "staging database warmed"
    );
    Ok(PrewarmReport { enabled: true, max_seconds: settings.max_seconds, warmed, started_at, seconds })
}
