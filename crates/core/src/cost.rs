//! What a staging environment costs, estimated from the price table that ships in the repo
//! (`estimates/prices.json`, compiled in: dated, by region, each price with where it was found).
//!
//! The environment is billed by the hour while it exists (the database instance and its
//! storage, the production snapshot the run keeps, the service, advanced parameters) and once
//! per run (Step Functions transitions, Lambda, the teardown schedule). A price the table does
//! not have for the region is not guessed: its line has no amount and is named in
//! [`CostEstimate::unknown`], and the totals cover the other lines.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::cloud::{DbInstance, ServiceBackend};
use crate::plan::RunPlan;

const TABLE: &str = include_str!("../estimates/prices.json");

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceTable {
    pub as_of: NaiveDate,
    pub currency: String,
    /// AWS bills GB-month prices by the hour over this many hours.
    pub hours_per_month: f64,
    pub about: String,
    /// Service → the AWS pricing page its prices are checked against.
    pub pages: BTreeMap<String, String>,
    pub regions: BTreeMap<String, RegionPrices>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionPrices {
    /// Instance class → USD per hour (Single-AZ, PostgreSQL).
    pub rds_instance_hour: BTreeMap<String, Price>,
    /// `gp2` / `gp3` → USD per GB-month.
    pub rds_storage_gb_month: BTreeMap<String, Price>,
    pub rds_snapshot_gb_month: Price,
    pub apprunner_provisioned_gb_hour: Price,
    pub apprunner_active_vcpu_hour: Price,
    pub apprunner_active_gb_hour: Price,
    pub fargate_vcpu_hour: Price,
    pub fargate_gb_hour: Price,
    pub alb_hour: Price,
    pub alb_lcu_hour: Price,
    pub parameter_store_standard_parameter_month: Price,
    pub parameter_store_advanced_parameter_month: Price,
    pub parameter_store_higher_throughput_10k_requests: Price,
    pub step_functions_1k_transitions: Price,
    pub lambda_1m_requests: Price,
    pub lambda_arm_gb_second: Price,
    pub scheduler_1m_invocations: Price,
}

/// One price and where it was found; `usd` is `None` where it could not be.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub usd: Option<f64>,
    pub found: String,
}

impl PriceTable {
    /// The table that ships with this build.
    pub fn shipped() -> &'static PriceTable {
        static PARSED: OnceLock<PriceTable> = OnceLock::new();
        // The unit tests parse the same text, so a broken table fails the build's tests.
        PARSED.get_or_init(|| serde_json::from_str(TABLE).expect("estimates/prices.json is valid"))
    }
}

/// What one staging environment consists of, and what one run uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StagingEnvironment {
    pub region: String,
    pub db_instance_class: String,
    /// Allocated storage of the restored instance (the production instance's).
    pub db_storage_gb: f64,
    /// `gp2` or `gp3`.
    pub db_storage_type: String,
    /// Size of the production snapshot the run takes (kept after the run).
    pub snapshot_gb: f64,
    pub backend: Backend,
    /// Parameters in the advanced tier (the run writes standard ones, which are free).
    pub standard_parameters: u32,
    pub advanced_parameters: u32,
    /// How long staging lives before the scheduled teardown.
    pub ttl_hours: f64,
    pub run: RunUsage,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Backend {
    /// One provisioned instance; `active_share` is the share of the time it serves requests
    /// (1.0 is the upper bound: always active).
    AppRunner { vcpu: f64, memory_gb: f64, active_share: f64 },
    /// ECS Express Mode: Fargate tasks behind an Application Load Balancer using `lcu` load
    /// balancer capacity units on average.
    EcsExpress { vcpu: f64, memory_gb: f64, tasks: u32, lcu: f64 },
}

/// What one run uses once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunUsage {
    pub state_transitions: u64,
    pub lambda_invocations: u64,
    pub lambda_gb_seconds: f64,
    pub schedule_invocations: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostEstimate {
    pub region: String,
    pub currency: String,
    pub prices_as_of: NaiveDate,
    pub lines: Vec<CostLine>,
    /// Sums of the lines whose price is known.
    pub per_hour: f64,
    pub per_day: f64,
    pub per_run: f64,
    pub ttl_hours: f64,
    /// The run once plus the environment for its time to live.
    pub for_ttl: f64,
    /// Lines without a price for the region (the totals leave them out).
    pub unknown: Vec<String>,
    /// Says plainly what this is.
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostLine {
    pub item: String,
    /// What is billed, readable: `1 instance`, `20 GB`, `75 transitions`.
    pub quantity: String,
    pub unit_price: Option<f64>,
    /// `hour`, `GB-month`, `1,000 transitions`, ...
    pub unit: String,
    pub per_hour: Option<f64>,
    pub per_run: Option<f64>,
    /// Where the price was found.
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CostError {
    #[error("region: the price table has no prices for {region}; it covers {known}")]
    UnknownRegion { region: String, known: String },
    #[error("{field}: the price table has no {value:?} (it knows {known})")]
    Unknown { field: &'static str, value: String, known: String },
}

/// Memory of most step functions (the template's Globals; a few have 256 MB): the estimate's
/// Lambda GB-seconds use it.
const LAMBDA_MEMORY_GB: f64 = 0.125;

impl RunUsage {
    /// One execution that enters `state_entries` states, `task_entries` of them Lambda tasks of
    /// `task_seconds` each, and fires the teardown schedule once.
    pub fn of_execution(state_entries: u64, task_entries: u64, task_seconds: f64) -> Self {
        Self {
            state_transitions: state_entries,
            lambda_invocations: task_entries,
            lambda_gb_seconds: task_entries as f64 * LAMBDA_MEMORY_GB * task_seconds,
            schedule_invocations: 1,
        }
    }
}

impl StagingEnvironment {
    /// What `plan` creates: its staging instance class with production's storage (a restore
    /// gets the snapshot's, which is production's), the snapshot, the service as planned, the
    /// staging parameters, for the plan's time to live, in production's region.
    pub fn of_plan(plan: &RunPlan, production_db: &DbInstance, run: RunUsage) -> Result<Self, CostError> {
        let region = production_db.arn.split(':').nth(3).filter(|r| !r.is_empty()).ok_or_else(|| CostError::Unknown {
            field: "region",
            value: production_db.arn.clone(),
            known: "an RDS ARN (arn:aws:rds:<region>:…)".into(),
        })?;
        // App Runner's words ("1 vCPU", "2 GB") or ECS's units (1024 CPU units, 2048 MiB).
        let size = |field: &'static str, text: &str, units: fn(&str) -> Option<u32>| {
            units(text).map(|n| f64::from(n) / 1024.0).ok_or_else(|| CostError::Unknown {
                field,
                value: text.to_string(),
                known: "sizes in vCPU and GB, or in CPU units and MiB".into(),
            })
        };
        let (vcpu, memory_gb) = (
            size("service.cpu", &plan.service.cpu, crate::run::ecs_cpu_units)?,
            size("service.memory", &plan.service.memory, crate::run::ecs_memory_mib)?,
        );
        let backend = match plan.service.host.backend() {
            ServiceBackend::AppRunner => Backend::AppRunner { vcpu, memory_gb, active_share: 1.0 },
            // One task behind its load balancer at a light load: a staging copy serves its testers.
            ServiceBackend::EcsExpress => Backend::EcsExpress { vcpu, memory_gb, tasks: 1, lcu: 1.0 },
        };
        let storage = f64::from(production_db.storage.allocated_gb);
        Ok(Self {
            region: region.to_string(),
            db_instance_class: plan.staging_db.class.clone(),
            db_storage_gb: storage,
            db_storage_type: production_db.storage.storage_type.clone(),
            snapshot_gb: storage,
            backend,
            standard_parameters: plan.staging_parameter_names().len() as u32,
            advanced_parameters: 0,
            ttl_hours: f64::from(plan.ttl_hours),
            run,
        })
    }
}

/// The estimate for `env` from the shipped table.
pub fn estimate(env: &StagingEnvironment) -> Result<CostEstimate, CostError> {
    estimate_with(PriceTable::shipped(), env)
}

pub fn estimate_with(table: &PriceTable, env: &StagingEnvironment) -> Result<CostEstimate, CostError> {
    let known = |keys: Vec<&String>| keys.into_iter().map(String::as_str).collect::<Vec<_>>().join(", ");
    let prices = table
        .regions
        .get(&env.region)
        .ok_or_else(|| CostError::UnknownRegion { region: env.region.clone(), known: known(table.regions.keys().collect()) })?;
    let class = prices.rds_instance_hour.get(&env.db_instance_class).ok_or_else(|| CostError::Unknown {
        field: "db_instance_class",
        value: env.db_instance_class.clone(),
        known: known(prices.rds_instance_hour.keys().collect()),
    })?;
    let storage = prices.rds_storage_gb_month.get(&env.db_storage_type).ok_or_else(|| CostError::Unknown {
        field: "db_storage_type",
        value: env.db_storage_type.clone(),
        known: known(prices.rds_storage_gb_month.keys().collect()),
    })?;
    let month = table.hours_per_month;
    let mut lines = Lines::default();
    lines.hourly(format!("RDS instance {}", env.db_instance_class), "1 instance".into(), class, "hour", 1.0);
    lines.hourly(
        format!("RDS storage ({})", env.db_storage_type),
        format!("{} GB", number(env.db_storage_gb)),
        storage,
        "GB-month",
        env.db_storage_gb / month,
    );
    lines.hourly(
        "RDS snapshot of production (free while the region's backups fit in its database storage)".into(),
        format!("{} GB", number(env.snapshot_gb)),
        &prices.rds_snapshot_gb_month,
        "GB-month",
        env.snapshot_gb / month,
    );
    match &env.backend {
        Backend::AppRunner { vcpu, memory_gb, active_share } => {
            // An active instance pays for its vCPU and for memory beyond what is provisioned,
            // which for the one instance staging runs is none.
            let memory = format!("{} GB", number(*memory_gb));
            lines.hourly(
                "App Runner provisioned instance (memory)".into(),
                memory,
                &prices.apprunner_provisioned_gb_hour,
                "GB-hour",
                *memory_gb,
            );
            lines.hourly(
                format!("App Runner active instance (vCPU, {}% of the time)", number(active_share * 100.0)),
                format!("{} vCPU", number(*vcpu)),
                &prices.apprunner_active_vcpu_hour,
                "vCPU-hour",
                vcpu * active_share,
            );
        }
        Backend::EcsExpress { vcpu, memory_gb, tasks, lcu } => {
            let tasks = f64::from(*tasks);
            let each = format!("{} task(s) of", number(tasks));
            lines.hourly(
                "Fargate vCPU".into(),
                format!("{each} {} vCPU", number(*vcpu)),
                &prices.fargate_vcpu_hour,
                "vCPU-hour",
                tasks * vcpu,
            );
            lines.hourly(
                "Fargate memory".into(),
                format!("{each} {} GB", number(*memory_gb)),
                &prices.fargate_gb_hour,
                "GB-hour",
                tasks * memory_gb,
            );
            lines.hourly("Application Load Balancer".into(), "1 load balancer".into(), &prices.alb_hour, "hour", 1.0);
            lines.hourly(
                "Application Load Balancer capacity".into(),
                format!("{} LCU", number(*lcu)),
                &prices.alb_lcu_hour,
                "LCU-hour",
                *lcu,
            );
        }
    }
    let tiers = [
        ("standard", env.standard_parameters, &prices.parameter_store_standard_parameter_month),
        ("advanced", env.advanced_parameters, &prices.parameter_store_advanced_parameter_month),
    ];
    for (tier, count, price) in tiers {
        // The run writes standard parameters; an advanced line only when there are some.
        if tier == "standard" || count > 0 {
            lines.hourly(
                format!("Parameter Store {tier} parameters"),
                count.to_string(),
                price,
                "parameter-month",
                f64::from(count) / month,
            );
        }
    }
    let run = &env.run;
    let per_run = [
        (
            "Step Functions state transitions",
            run.state_transitions.to_string(),
            &prices.step_functions_1k_transitions,
            "1,000 transitions",
            run.state_transitions as f64 / 1000.0,
        ),
        (
            "Lambda requests",
            run.lambda_invocations.to_string(),
            &prices.lambda_1m_requests,
            "1M requests",
            run.lambda_invocations as f64 / 1e6,
        ),
        (
            "Lambda compute (Arm)",
            format!("{} GB-s", number(run.lambda_gb_seconds)),
            &prices.lambda_arm_gb_second,
            "GB-second",
            run.lambda_gb_seconds,
        ),
        (
            "EventBridge Scheduler (the teardown)",
            run.schedule_invocations.to_string(),
            &prices.scheduler_1m_invocations,
            "1M invocations",
            run.schedule_invocations as f64 / 1e6,
        ),
    ];
    for (item, quantity, price, unit, units) in per_run {
        lines.once(item.into(), quantity, price, unit, units);
    }
    let per_hour: f64 = lines.0.iter().filter_map(|l| l.per_hour).sum();
    let per_run: f64 = lines.0.iter().filter_map(|l| l.per_run).sum();
    let unknown: Vec<String> = lines.0.iter().filter(|l| l.unit_price.is_none()).map(|l| l.item.clone()).collect();
    let mut note = format!(
        "An estimate, not a quote or a bill: {} on-demand list prices for {} from the table of {} (crates/core/estimates/prices.json), before free tiers, taxes and data transfer.",
        table.currency, env.region, table.as_of
    );
    if !unknown.is_empty() {
        note.push_str(&format!(" The table has no price here for: {}; the totals leave them out.", unknown.join(", ")));
    }
    Ok(CostEstimate {
        region: env.region.clone(),
        currency: table.currency.clone(),
        prices_as_of: table.as_of,
        per_hour,
        per_day: per_hour * 24.0,
        per_run,
        ttl_hours: env.ttl_hours,
        for_ttl: per_hour * env.ttl_hours + per_run,
        unknown,
        note,
        lines: lines.0,
    })
}

#[derive(Default)]
struct Lines(Vec<CostLine>);

/// When a line is billed.
#[derive(Clone, Copy, PartialEq)]
enum Billed {
    /// While the environment exists: `units` of the price per hour.
    Hourly,
    /// Once per run: `units` of the price.
    PerRun,
}

impl Lines {
    fn hourly(&mut self, item: String, quantity: String, price: &Price, unit: &str, units: f64) {
        self.push(Billed::Hourly, item, quantity, price, unit, units);
    }

    fn once(&mut self, item: String, quantity: String, price: &Price, unit: &str, units: f64) {
        self.push(Billed::PerRun, item, quantity, price, unit, units);
    }

    fn push(&mut self, billed: Billed, item: String, quantity: String, price: &Price, unit: &str, units: f64) {
        let amount = price.usd.map(|p| p * units);
        self.0.push(CostLine {
            item,
            quantity,
            unit_price: price.usd,
            unit: unit.into(),
            per_hour: amount.filter(|_| billed == Billed::Hourly),
            per_run: amount.filter(|_| billed == Billed::PerRun),
            source: price.found.clone(),
        });
    }
}

/// `0.25`, `20`, `12.5`: no trailing zeros.
fn number(x: f64) -> String {
    let text = format!("{x:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(region: &str, backend: Backend) -> StagingEnvironment {
        StagingEnvironment {
            region: region.into(),
            db_instance_class: "db.t3.micro".into(),
            db_storage_gb: 20.0,
            db_storage_type: "gp2".into(),
            snapshot_gb: 20.0,
            backend,
            standard_parameters: 8,
            advanced_parameters: 0,
            ttl_hours: 24.0,
            run: RunUsage { state_transitions: 120, lambda_invocations: 40, lambda_gb_seconds: 20.0, schedule_invocations: 1 },
        }
    }

    fn app_runner() -> Backend {
        Backend::AppRunner { vcpu: 0.25, memory_gb: 0.5, active_share: 1.0 }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    fn line<'a>(estimate: &'a CostEstimate, item: &str) -> &'a CostLine {
        estimate.lines.iter().find(|l| l.item.starts_with(item)).unwrap_or_else(|| panic!("no line {item}: {:#?}", estimate.lines))
    }

    #[test]
    fn the_shipped_table_covers_the_allowed_classes_in_four_regions_and_every_price_says_where_it_is_from() {
        let table = PriceTable::shipped();
        for region in ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1"] {
            let prices = &table.regions[region];
            for size in ["micro", "small", "medium", "large", "xlarge", "2xlarge"] {
                for family in ["db.t3", "db.t4g"] {
                    assert!(prices.rds_instance_hour.contains_key(&format!("{family}.{size}")), "{region} {family}.{size}");
                }
            }
            for price in prices.rds_instance_hour.values().chain(prices.rds_storage_gb_month.values()) {
                assert!(!price.found.is_empty());
                assert!(price.usd.is_none_or(|usd| usd >= 0.0));
            }
        }
        assert_eq!(table.hours_per_month, 730.0);
    }

    #[test]
    fn app_runner_staging_in_us_east_1_adds_up_line_by_line() {
        let estimate = estimate(&env("us-east-1", app_runner())).unwrap();
        // 0.018 instance + 20 × 0.115 / 730 storage + 20 × 0.095 / 730 snapshot
        // + 0.5 × 0.007 provisioned memory + 0.25 × 0.064 active vCPU; standard parameters free.
        let hour = 0.018 + 20.0 * 0.115 / 730.0 + 20.0 * 0.095 / 730.0 + 0.5 * 0.007 + 0.25 * 0.064;
        assert!(close(estimate.per_hour, hour), "{} vs {hour}", estimate.per_hour);
        assert!(close(estimate.per_day, hour * 24.0));
        // 120 transitions, 40 requests, 20 GB-s, one schedule.
        let run = 0.12 * 0.025 + 40.0 / 1e6 * 0.20 + 20.0 * 0.0000133334 + 1.0 / 1e6;
        assert!(close(estimate.per_run, run), "{} vs {run}", estimate.per_run);
        assert!(close(estimate.for_ttl, hour * 24.0 + run));
        assert!(estimate.unknown.is_empty(), "{:?}", estimate.unknown);
        assert!(close(line(&estimate, "RDS instance").per_hour.unwrap(), 0.018));
        assert_eq!(line(&estimate, "RDS storage").quantity, "20 GB");
        assert_eq!(line(&estimate, "Parameter Store standard").per_hour, Some(0.0));
        assert!(line(&estimate, "App Runner active").item.contains("100% of the time"));
        assert!(estimate.note.starts_with("An estimate, not a quote or a bill"), "{}", estimate.note);
        assert!(estimate.note.contains("2026-12-01") && estimate.note.contains("us-east-1"), "{}", estimate.note);
        // An idle service pays for its provisioned memory only.
        let idle =
            estimate_with(PriceTable::shipped(), &env("us-east-1", Backend::AppRunner { vcpu: 0.25, memory_gb: 0.5, active_share: 0.0 }));
        assert!(close(estimate.per_hour - idle.unwrap().per_hour, 0.25 * 0.064));
    }

    #[test]
    fn ecs_express_pays_fargate_tasks_and_the_load_balancer() {
        let backend = Backend::EcsExpress { vcpu: 1.0, memory_gb: 2.0, tasks: 2, lcu: 0.5 };
        let estimate = estimate(&env("us-east-1", backend)).unwrap();
        let service = 2.0 * 0.04048 + 2.0 * 2.0 * 0.004445 + 0.0225 + 0.5 * 0.008;
        let database = 0.018 + 20.0 * 0.115 / 730.0 + 20.0 * 0.095 / 730.0;
        assert!(close(estimate.per_hour, service + database), "{}", estimate.per_hour);
        assert_eq!(line(&estimate, "Fargate vCPU").quantity, "2 task(s) of 1 vCPU");
        assert!(estimate.lines.iter().all(|l| !l.item.starts_with("App Runner")));
    }

    #[test]
    fn prices_the_table_lacks_are_named_and_left_out_not_guessed() {
        let estimate = estimate(&env("eu-central-1", app_runner())).unwrap();
        assert!(estimate.unknown.iter().any(|u| u == "RDS instance db.t3.micro"), "{:?}", estimate.unknown);
        assert!(estimate.unknown.iter().any(|u| u.starts_with("App Runner provisioned")));
        assert!(line(&estimate, "RDS instance").per_hour.is_none());
        assert!(estimate.note.contains("no price here for: RDS instance db.t3.micro"), "{}", estimate.note);
        // Step Functions is priced there, and is all the run's known cost but Lambda and the Scheduler.
        assert!(close(line(&estimate, "Step Functions").per_run.unwrap(), 0.12 * 0.025));
        assert!(close(estimate.per_run, 0.12 * 0.025));
    }

    #[test]
    fn unknown_regions_classes_and_storage_types_name_the_field() {
        let mut bad = env("ap-south-7", app_runner());
        assert_eq!(
            estimate(&bad).unwrap_err().to_string(),
            "region: the price table has no prices for ap-south-7; it covers eu-central-1, eu-west-1, us-east-1, us-west-2"
        );
        bad.region = "us-east-1".into();
        bad.db_instance_class = "db.r6g.large".into();
        assert!(estimate(&bad).unwrap_err().to_string().starts_with("db_instance_class: the price table has no \"db.r6g.large\""));
        bad.db_instance_class = "db.t3.micro".into();
        bad.db_storage_type = "io2".into();
        assert!(estimate(&bad).unwrap_err().to_string().starts_with("db_storage_type:"));
    }

    #[test]
    fn numbers_read_without_trailing_zeros() {
        assert_eq!(number(0.25), "0.25");
        assert_eq!(number(20.0), "20");
        assert_eq!(number(12.5), "12.5");
    }
}
