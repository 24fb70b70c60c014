//! `rehearsal bench critical-path`: how close each `staging.source` comes to the shortest time
//! its dependencies allow. For each source it runs the deployed `staging.asl.json` on the
//! simulated account (virtual clock) and prints the run's time, the lower bound of its dependency
//! chain with the same durations, and their ratio, at the account's default durations and with
//! the database's durations scaled (a larger database snapshots and restores longer).

use crate::exit::{CliError, Exit};
use crate::local::{run_on, LocalRun};
use crate::report::RunStatus;
use chrono::{DateTime, Utc};
use rehearsal_core::run::{FrontendServing, StagingSource};
use rehearsal_sim::{SimAccount, SimConfig};
use serde_json::json;
use std::time::Duration;

#[derive(clap::Subcommand)]
pub enum BenchCommand {
    /// Virtual time of a staging run per `staging.source` against the lower bound of its
    /// dependency chain, at the default durations and with the database's scaled.
    CriticalPath(CriticalPathCommand),
}

impl BenchCommand {
    pub fn run(self) -> Result<Exit, CliError> {
        match self {
            BenchCommand::CriticalPath(command) => command.run(),
        }
    }
}

#[derive(clap::Args)]
pub struct CriticalPathCommand {
    /// Also run with the snapshot and restore durations multiplied by this (a database this
    /// many times larger).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(2..=100))]
    scale: u32,
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct CriticalPath {
    pub case: Case,
    pub scale: u32,
    /// The run's virtual time.
    pub run: Duration,
    pub lower_bound: Duration,
}

impl CriticalPath {
    pub fn ratio(&self) -> f64 {
        self.run.as_secs_f64() / self.lower_bound.as_secs_f64()
    }
}

/// What a row runs: a source on production's kind of database, the frontend served one way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Case {
    pub source: StagingSource,
    /// Production is an Aurora cluster (`aurora-clone` needs one; `snapshot` then takes the
    /// cluster snapshot path).
    pub aurora: bool,
    /// `frontend.serving`: with `cloudfront` FRONTEND_URL is known before the service starts,
    /// so the service's second deployment is not needed.
    pub serving: FrontendServing,
}

impl Case {
    /// Every source on its kind of production, with the runbook's frontend and then CloudFront's.
    pub fn all() -> Vec<Case> {
        let sources = [
            (StagingSource::Snapshot, false),
            (StagingSource::PointInTime, false),
            (StagingSource::AuroraClone, true),
            (StagingSource::Snapshot, true),
        ];
        [FrontendServing::S3, FrontendServing::Cloudfront]
            .into_iter()
            .flat_map(|serving| sources.map(|(source, aurora)| Case { source, aurora, serving }))
            .collect()
    }

    pub fn label(self) -> String {
        match (self.source, self.aurora) {
            (StagingSource::Snapshot, true) => "snapshot (aurora)".to_string(),
            (source, _) => source.name().to_string(),
        }
    }
}

/// A fixed start (09:00 UTC, six hours after the simulated backup window): the same table on
/// every machine and day.
pub(crate) fn bench_start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-24T09:00:00Z").expect("a valid time").with_timezone(&Utc)
}

/// The database's lifecycles `scale` times as long.
fn scaled(scale: u32) -> SimConfig {
    let base = SimConfig::default();
    SimConfig { snapshot: base.snapshot * scale, restore: base.restore * scale, ..base }
}

/// The dependency chain of a staging run with `config`'s durations: the copy must exist
/// (snapshot then restore, the point-in-time restore beside the snapshot, or the Aurora clone
/// then its instance) and answer to the staging password (and, served by CloudFront, the
/// distribution be created, which runs beside it), and only then can the service start; its
/// own URL as FRONTEND_URL takes a second deployment. Everything else runs beside it or takes
/// no simulated time.
pub fn lower_bound(case: Case, config: &SimConfig, start: DateTime<Utc>) -> Duration {
    // An Aurora copy's instance is created once the copy is available, its password (the
    // cluster's) reset meanwhile.
    let aurora_instance = config.aurora_instance.max(config.password_reset);
    let copy = match (case.source, case.aurora) {
        (StagingSource::Snapshot, false) => config.snapshot + config.restore + config.password_reset,
        (StagingSource::Snapshot, true) => config.snapshot + config.restore + aurora_instance,
        (StagingSource::PointInTime, _) => config.snapshot.max(rehearsal_sim::point_in_time_restore(config, start)) + config.password_reset,
        // None of it depends on the database's size, and no snapshot is taken of an Aurora
        // production for a clone.
        (StagingSource::AuroraClone, _) => config.aurora_clone + aurora_instance,
    };
    match case.serving {
        FrontendServing::Cloudfront => copy.max(config.distribution_deploy) + config.service_create,
        _ => copy + config.service_create + config.deployment,
    }
}

/// Runs the staging pipeline of `case` on an account with `config`'s durations.
pub async fn measure(case: Case, scale: u32) -> Result<CriticalPath, CliError> {
    let source = case.source;
    let config = scaled(scale);
    let start = bench_start();
    let account = SimAccount::new(config, start);
    if case.aurora {
        account.make_production_aurora();
    }
    let run = LocalRun {
        // The longest waits allowed: a larger database's snapshot outlasts the default hour.
        input: json!({
            "staging": {"source": source.name()},
            "frontend": {"serving": case.serving},
            "timeouts": {"snapshot_minutes": 360, "restore_minutes": 360}
        }),
        faults: Vec::new(),
        start_time: start,
        execution_name: format!(
            "bench-{}-{}-{}-{scale}",
            source.name(),
            if case.aurora { "aurora" } else { "rds" },
            serving_name(case.serving)
        ),
    };
    let report = run_on(&account, run, std::io::sink()).await.map_err(|e| CliError::Failed(e.to_string()))?;
    if report.status != RunStatus::Succeeded {
        return Err(CliError::Failed(format!("the {} run did not succeed: {:?} {:?}", source.name(), report.error, report.cause)));
    }
    Ok(CriticalPath { case, scale, run: Duration::from_secs_f64(report.seconds), lower_bound: lower_bound(case, &config, start) })
}

fn serving_name(serving: FrontendServing) -> &'static str {
    match serving {
        FrontendServing::Cloudfront => "cloudfront",
        _ => "s3",
    }
}

fn minutes(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() / 60.0)
}

impl CriticalPathCommand {
    pub fn run(self) -> Result<Exit, CliError> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().expect("a tokio runtime");
        println!("staging.source     frontend    database  run (virtual min)  lower bound (min)  ratio");
        for scale in [1, self.scale] {
            for case in Case::all() {
                let row = runtime.block_on(measure(case, scale))?;
                let size = if scale == 1 { "default".to_string() } else { format!("{scale}x") };
                println!(
                    "{:<17}  {:<10}  {size:<8}  {:>17}  {:>17}  {:>5.3}",
                    case.label(),
                    serving_name(case.serving),
                    minutes(row.run),
                    minutes(row.lower_bound),
                    row.ratio()
                );
            }
        }
        Ok(Exit::Succeeded)
    }
}
