//! The PostgreSQL warm-up of the staging copy (issue 16): the largest tables of `public` are
//! read, largest first, with `pg_prewarm` where `CREATE EXTENSION IF NOT EXISTS pg_prewarm`
//! succeeds (RDS lets the master user create it), otherwise with `SELECT count(*)`, each read
//! under a `statement_timeout` of what is left of the limit. A sample of the largest table's
//! pages is counted before and after, timed: the first-query latency the report compares.

use crate::postgres::{classify, Phase};
use crate::PostgresProbe;
use rehearsal_core::cloud::{DatabaseWarmer, DbTarget, ProbeError, TableWarmed, WarmMethod, Warmed};
use std::time::{Duration, Instant};
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

/// Below this, a table read is not started: it would be cancelled before it read anything useful.
const LEAST_READ: Duration = Duration::from_millis(500);

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn query_error(e: tokio_postgres::Error) -> ProbeError {
    classify(&e, Phase::Query)
}

fn cancelled_by_timeout(e: &tokio_postgres::Error) -> bool {
    e.as_db_error().is_some_and(|db| *db.code() == SqlState::QUERY_CANCELED)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

async fn set_statement_timeout(client: &Client, timeout: Duration) -> Result<(), ProbeError> {
    // A whole number of milliseconds: SET takes no parameters, so nothing else is spliced in.
    client.batch_execute(&format!("SET statement_timeout = {}", timeout.as_millis().max(1))).await.map_err(query_error)
}

/// About 1% of the table's pages (`TABLESAMPLE SYSTEM`), the same ones for the same `seed`:
/// before and after use different seeds, so the second query does not just find the pages the
/// first one loaded.
async fn timed_sample(client: &Client, table: &str, seed: u32) -> Result<u64, ProbeError> {
    let started = Instant::now();
    client
        .batch_execute(&format!("SELECT count(*) FROM public.{} TABLESAMPLE SYSTEM (1) REPEATABLE ({seed})", ident(table)))
        .await
        .map_err(query_error)?;
    Ok(millis(started.elapsed()))
}

/// Whether `pg_prewarm` can be used: the extension exists or this user may create it.
async fn pg_prewarm_available(client: &Client) -> bool {
    match client.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm").await {
        Ok(()) => true,
        Err(e) => {
            tracing::info!(error = %query_error(e), "pg_prewarm cannot be created; reading sequentially");
            false
        }
    }
}

impl PostgresProbe {
    /// The `count` largest tables of `public`, largest first, with their sizes.
    async fn largest_tables(client: &Client, count: u32) -> Result<Vec<(String, u64)>, ProbeError> {
        let rows = client
            .query(
                "SELECT c.relname::text, pg_table_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'm') ORDER BY 2 DESC, 1 LIMIT $1",
                &[&i64::from(count)],
            )
            .await
            .map_err(query_error)?;
        Ok(rows.iter().map(|r| (r.get(0), u64::try_from(r.get::<_, i64>(1)).unwrap_or(0))).collect())
    }
}

impl DatabaseWarmer for PostgresProbe {
    async fn prewarm(&self, target: &DbTarget, tables: u32, limit: Duration) -> Result<Warmed, ProbeError> {
        let deadline = Instant::now() + limit;
        let client = self.connect(target).await?;
        set_statement_timeout(&client, limit).await?;
        let largest = Self::largest_tables(&client, tables).await?;
        let Some((sample_table, _)) = largest.first().cloned() else {
            return Ok(Warmed {
                tables: vec![],
                sample_table: None,
                first_query_ms_before: 0,
                first_query_ms_after: 0,
                time_limit_reached: false,
            });
        };
        let first_query_ms_before = timed_sample(&client, &sample_table, 1).await?;
        let method = if pg_prewarm_available(&client).await { WarmMethod::PgPrewarm } else { WarmMethod::SequentialRead };
        let (mut warmed, mut time_limit_reached) = (Vec::new(), false);
        for (table, bytes) in largest {
            let left = deadline.saturating_duration_since(Instant::now());
            if left < LEAST_READ {
                time_limit_reached = true;
                break;
            }
            set_statement_timeout(&client, left).await?;
            let sql = match method {
                WarmMethod::PgPrewarm => format!("SELECT pg_prewarm('public.{}'::regclass)", ident(&table).replace('\'', "''")),
                WarmMethod::SequentialRead => format!("SELECT count(*) FROM public.{}", ident(&table)),
            };
            let started = Instant::now();
            let complete = match client.batch_execute(&sql).await {
                Ok(()) => true,
                Err(e) if cancelled_by_timeout(&e) => false,
                Err(e) => return Err(query_error(e)),
            };
            warmed.push(TableWarmed { table, bytes, method, millis: millis(started.elapsed()), complete });
            if !complete {
                time_limit_reached = true;
                break;
            }
        }
        // The sample after is timed whatever the limit left: it is one small query.
        set_statement_timeout(&client, self.statement_timeout()).await?;
        let first_query_ms_after = timed_sample(&client, &sample_table, 2).await?;
        Ok(Warmed { tables: warmed, sample_table: Some(sample_table), first_query_ms_before, first_query_ms_after, time_limit_reached })
    }
}
