//! Lazy loading of a restored volume and the warm-up that undoes it (issue 16). A restored
//! instance's tables are cold: a query reads its blocks from S3 at [`LAZY_LOAD_BYTES_PER_SECOND`]
//! instead of the cache's [`CACHED_BYTES_PER_SECOND`], until the table was read in full (the
//! warm-up, or a `count(*)` check). Masking's own reads are not modelled. The warm-up reads the
//! largest tables first within its time limit; a table the limit cuts short stays cold. The
//! virtual clock does not move during a call, so the durations are reported, not waited.

use crate::account::SimCloud;
use crate::rds::Instance;
use crate::seed::PRODUCTION_DB;
use rehearsal_core::cloud::{DatabaseWarmer, DbTarget, ProbeError, TableWarmed, WarmMethod, Warmed};
use std::time::Duration;

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;
/// Blocks fetched from S3 on first access.
pub(crate) const LAZY_LOAD_BYTES_PER_SECOND: u64 = 64 * MIB;
pub(crate) const CACHED_BYTES_PER_SECOND: u64 = 2 * GIB;
/// Planning and the round trip, whatever is read.
const QUERY_OVERHEAD_MS: u64 = 2;
/// The sample query reads about 1% of the table's pages (`TABLESAMPLE SYSTEM (1)`).
const SAMPLE_PERCENT: u64 = 1;

impl Instance {
    /// A table's size on disk: half the allocated storage is used, shared by rows (a table
    /// without rows still takes one row's share).
    pub(crate) fn table_bytes(&self, table: &str) -> u64 {
        let weight = |rows: usize| u64::try_from(rows).unwrap_or(u64::MAX).saturating_add(1);
        let total: u64 = self.data.tables.values().map(|t| weight(t.rows.len())).sum();
        let Some(rows) = self.data.tables.get(table).map(|t| t.rows.len()) else { return 0 };
        let used = u64::from(self.storage.allocated_gb) * GIB / 2;
        used / total.max(1) * weight(rows)
    }

    fn read_millis(&self, table: &str, bytes: u64) -> u64 {
        let rate = if self.cold_tables.contains(table) { LAZY_LOAD_BYTES_PER_SECOND } else { CACHED_BYTES_PER_SECOND };
        QUERY_OVERHEAD_MS + bytes.saturating_mul(1000) / rate
    }

    /// The sample query's latency on `table` as it is now.
    pub(crate) fn sample_query_millis(&self, table: &str) -> u64 {
        self.read_millis(table, self.table_bytes(table) * SAMPLE_PERCENT / 100)
    }

    /// A read of the whole table (`count(*)`, `pg_prewarm`): it is warm afterwards.
    pub(crate) fn read_in_full(&mut self, table: &str) {
        self.cold_tables.remove(table);
    }

    fn warm_largest(&mut self, count: u32, limit: Duration) -> Warmed {
        let mut largest: Vec<(String, u64)> = self.data.tables.keys().map(|t| (t.clone(), self.table_bytes(t))).collect();
        largest.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        largest.truncate(usize::try_from(count).unwrap_or(usize::MAX));
        let Some((sample_table, _)) = largest.first().cloned() else {
            return Warmed {
                tables: vec![],
                sample_table: None,
                first_query_ms_before: 0,
                first_query_ms_after: 0,
                time_limit_reached: false,
            };
        };
        let first_query_ms_before = self.sample_query_millis(&sample_table);
        let mut left = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX).saturating_sub(first_query_ms_before);
        let (mut tables, mut time_limit_reached) = (Vec::new(), false);
        for (table, bytes) in largest {
            if left == 0 {
                time_limit_reached = true;
                break;
            }
            let takes = self.read_millis(&table, bytes);
            let complete = takes <= left;
            tables.push(TableWarmed { table: table.clone(), bytes, method: WarmMethod::PgPrewarm, millis: takes.min(left), complete });
            left = left.saturating_sub(takes);
            if !complete {
                time_limit_reached = true;
                break;
            }
            self.read_in_full(&table);
        }
        let first_query_ms_after = self.sample_query_millis(&sample_table);
        Warmed { tables, sample_table: Some(sample_table), first_query_ms_before, first_query_ms_after, time_limit_reached }
    }
}

impl DatabaseWarmer for SimCloud {
    /// RDS lets the master user create pg_prewarm, so the simulated warm-up always uses it.
    async fn prewarm(&self, target: &DbTarget, tables: u32, limit: Duration) -> Result<Warmed, ProbeError> {
        self.direct("postgres", "Prewarm".to_string(), |w, ctx| {
            let instance = w.connect_probe(target, ctx.now)?;
            let warmed = instance.warm_largest(tables, limit);
            if instance.id == PRODUCTION_DB {
                w.production_write(ctx, format!("db-instance {PRODUCTION_DB}"), "CREATE EXTENSION pg_prewarm");
            }
            Ok(warmed)
        })
    }
}
