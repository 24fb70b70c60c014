//! The PostgreSQL masker of the staging copy and its verification against production.
//!
//! Masking reads the schema (information_schema's columns, pg_index's unique indexes), refuses
//! a rule that does not fit before any change, then masks each table in one transaction: rows
//! are read through a portal (its snapshot does not see the transaction's own updates, so no
//! row is masked twice) in batches of `batch_size` and updated by `ctid`, every statement under
//! `statement_timeout`. The bookkeeping table `rehearsal_masking` records (table, column, rule
//! digest) in the same transaction, so a re-run, or a retry after a failure, leaves what is done
//! alone. The values come from `rehearsal_core::masking::masked_value`, as in the simulated one.

use crate::postgres::{classify, Phase};
use crate::PostgresProbe;
use rehearsal_core::cloud::{DatabaseMasker, DbTarget};
use rehearsal_core::masking::{
    masked_value, rule_digest, ColumnFindings, ColumnInfo, Findings, KeptFindings, MaskingError, MaskingPlan, Schema, Strategy,
    TableFindings, TableMasked, BOOKKEEPING_TABLE, VERIFICATION_SAMPLE,
};
use rehearsal_core::Secret;
use std::collections::{BTreeMap, BTreeSet};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, GenericClient, Transaction};

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn query_error(e: tokio_postgres::Error) -> MaskingError {
    MaskingError::Probe(classify(&e, Phase::Query))
}

/// The `public` schema as the rules are checked against it (the bookkeeping table aside).
async fn describe(client: &Client) -> Result<Schema, MaskingError> {
    let unique: BTreeSet<(String, String)> = client
        .query(
            "SELECT t.relname::text, a.attname::text FROM pg_index i \
             JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace \
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY (i.indkey) \
             WHERE i.indisunique AND n.nspname = 'public'",
            &[],
        )
        .await
        .map_err(query_error)?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut schema = Schema::new();
    let columns = client
        .query(
            "SELECT table_name::text, column_name::text, data_type::text, character_maximum_length::int, is_nullable = 'YES' \
             FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> $1",
            &[&BOOKKEEPING_TABLE],
        )
        .await
        .map_err(query_error)?;
    for row in columns {
        let (table, column): (String, String) = (row.get(0), row.get(1));
        let info = ColumnInfo {
            data_type: row.get(2),
            max_length: row.get::<_, Option<i32>>(3).and_then(|n| u32::try_from(n).ok()),
            nullable: row.get(4),
            unique: unique.contains(&(table.clone(), column.clone())),
        };
        schema.entry(table).or_default().insert(column, info);
    }
    Ok(schema)
}

/// `NOT (kept)` for `table`'s keep_rows, with its parameters from `$first` on: kept rows are
/// neither masked nor sampled.
fn not_kept(plan: &MaskingPlan, table: &str, first: usize) -> (String, Vec<Vec<String>>) {
    let Some(columns) = plan.keep_rows.get(table) else { return ("true".into(), vec![]) };
    let terms: Vec<String> =
        columns.keys().enumerate().map(|(i, c)| format!("COALESCE({}::text = ANY (${}::text[]), false)", ident(c), first + i)).collect();
    (format!("NOT ({})", terms.join(" OR ")), columns.values().cloned().collect())
}

fn params(values: &[Vec<String>]) -> Vec<&(dyn ToSql + Sync)> {
    values.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

async fn mask_table(
    client: &mut Client,
    plan: &MaskingPlan,
    key: &[u8],
    table: &str,
    columns: &[(&str, &Strategy)],
) -> Result<TableMasked, MaskingError> {
    let tx = client.transaction().await.map_err(query_error)?;
    tx.batch_execute(&format!("SET LOCAL statement_timeout = '{}s'", plan.statement_timeout_seconds)).await.map_err(query_error)?;
    // One masker per table at a time: a retry that overlaps a slow first attempt waits for it.
    tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&format!("{BOOKKEEPING_TABLE}:{table}")]).await.map_err(query_error)?;
    let done: BTreeMap<String, String> = tx
        .query(&format!("SELECT column_name, rule_digest FROM public.{BOOKKEEPING_TABLE} WHERE table_name = $1"), &[&table])
        .await
        .map_err(query_error)?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let (todo, mut outcome) = TableMasked::start(table, columns, |c| done.get(c).cloned());
    if !todo.is_empty() {
        let (rows_masked, rows_kept) = mask_rows(&tx, plan, key, table, &todo).await?;
        (outcome.rows_masked, outcome.rows_kept) = (rows_masked, rows_kept);
        for (column, strategy) in &todo {
            tx.execute(
                &format!(
                    "INSERT INTO public.{BOOKKEEPING_TABLE} (table_name, column_name, rule_digest, rows_masked) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (table_name, column_name) DO UPDATE SET rule_digest = EXCLUDED.rule_digest, \
                     rows_masked = EXCLUDED.rows_masked, applied_at = now()"
                ),
                &[&table, column, &rule_digest(strategy), &i64::try_from(rows_masked).unwrap_or(i64::MAX)],
            )
            .await
            .map_err(query_error)?;
        }
    }
    tx.commit().await.map_err(query_error)?;
    Ok(outcome)
}

/// Masks `columns` of every row not kept; answers (rows masked, rows kept).
async fn mask_rows(
    tx: &Transaction<'_>,
    plan: &MaskingPlan,
    key: &[u8],
    table: &str,
    columns: &[(&str, &Strategy)],
) -> Result<(u64, u64), MaskingError> {
    let keep_columns: Vec<&String> = plan.keep_rows.get(table).map(|k| k.keys().collect()).unwrap_or_default();
    // Values are read only for the columns whose masked value depends on them.
    let valued: Vec<&(&str, &Strategy)> = columns.iter().filter(|(_, s)| **s != Strategy::Null).collect();
    let read: Vec<String> =
        keep_columns.iter().map(|c| c.as_str()).chain(valued.iter().map(|(c, _)| *c)).map(|c| format!("{}::text", ident(c))).collect();
    let select = format!("SELECT ctid::text{} FROM public.{}", read.iter().map(|c| format!(", {c}")).collect::<String>(), ident(table));
    let assignments: Vec<String> = columns
        .iter()
        .map(|(c, s)| match valued.iter().position(|(v, _)| v == c) {
            Some(i) if **s != Strategy::Null => format!("{} = v.c{i}", ident(c)),
            _ => format!("{} = NULL", ident(c)),
        })
        .collect();
    let update = format!(
        "UPDATE public.{} AS t SET {} FROM unnest($1::text[]{}) AS v(tid{}) WHERE t.ctid = v.tid::tid",
        ident(table),
        assignments.join(", "),
        (0..valued.len()).map(|i| format!(", ${}::text[]", i + 2)).collect::<String>(),
        (0..valued.len()).map(|i| format!(", c{i}")).collect::<String>(),
    );
    let statement = tx.prepare(&select).await.map_err(query_error)?;
    let portal = tx.bind(&statement, &[]).await.map_err(query_error)?;
    let batch = i32::try_from(plan.batch_size).unwrap_or(i32::MAX);
    let (mut masked, mut kept) = (0u64, 0u64);
    loop {
        let rows = tx.query_portal(&portal, batch).await.map_err(query_error)?;
        if rows.is_empty() {
            break;
        }
        let mut tids: Vec<String> = Vec::with_capacity(rows.len());
        let mut values: Vec<Vec<Option<String>>> = vec![Vec::with_capacity(rows.len()); valued.len()];
        for row in &rows {
            let keeps = plan.keeps(table, |c| keep_columns.iter().position(|k| k.as_str() == c).and_then(|i| row.get(i + 1)));
            if keeps {
                kept += 1;
                continue;
            }
            tids.push(row.get(0));
            for (i, (_, strategy)) in valued.iter().enumerate() {
                let original: Option<String> = row.get(1 + keep_columns.len() + i);
                values[i].push(original.and_then(|o| masked_value(strategy, key, &o)));
            }
        }
        if !tids.is_empty() {
            let mut arguments: Vec<&(dyn ToSql + Sync)> = vec![&tids];
            arguments.extend(values.iter().map(|v| v as &(dyn ToSql + Sync)));
            masked += tx.execute(&update, &arguments).await.map_err(query_error)?;
        }
    }
    Ok((masked, kept))
}

/// A read-only transaction for the verification, under the masking's statement timeout.
async fn reader<'a>(client: &'a mut Client, plan: &MaskingPlan) -> Result<Transaction<'a>, MaskingError> {
    let tx = client.build_transaction().read_only(true).start().await.map_err(query_error)?;
    tx.batch_execute(&format!("SET LOCAL statement_timeout = '{}s'", plan.statement_timeout_seconds)).await.map_err(query_error)?;
    Ok(tx)
}

async fn count(db: &impl GenericClient, table: &str) -> Result<u64, MaskingError> {
    let row = db.query_one(&format!("SELECT count(*) FROM public.{}", ident(table)), &[]).await.map_err(query_error)?;
    Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or_default())
}

async fn foreign_keys(db: &impl GenericClient, table: &str) -> Result<Vec<String>, MaskingError> {
    let rows = db
        .query(
            "SELECT conname::text || ': ' || pg_get_constraintdef(oid) FROM pg_constraint \
             WHERE contype = 'f' AND conrelid = to_regclass($1) ORDER BY 1",
            &[&format!("public.{}", ident(table))],
        )
        .await
        .map_err(query_error)?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

async fn column_findings(
    production: &impl GenericClient,
    staging: &impl GenericClient,
    plan: &MaskingPlan,
    table: &str,
    column: &str,
) -> Result<ColumnFindings, MaskingError> {
    let (kept_filter, keep_values) = not_kept(plan, table, 1);
    let sample_sql = format!(
        "SELECT v FROM (SELECT DISTINCT {c}::text AS v FROM public.{t} WHERE {c} IS NOT NULL AND {kept_filter}) s ORDER BY random() LIMIT {VERIFICATION_SAMPLE}",
        c = ident(column),
        t = ident(table),
    );
    let sample: Vec<String> =
        production.query(&sample_sql, &params(&keep_values)).await.map_err(query_error)?.iter().map(|r| r.get(0)).collect();
    // `$1` is the sample here.
    let (kept_filter, keep_values) = not_kept(plan, table, 2);
    let remaining_sql = format!(
        "SELECT count(DISTINCT {c}::text) FROM public.{t} WHERE {c}::text = ANY ($1::text[]) AND {kept_filter}",
        c = ident(column),
        t = ident(table),
    );
    let mut arguments: Vec<&(dyn ToSql + Sync)> = vec![&sample];
    arguments.extend(params(&keep_values));
    let remaining: i64 = staging.query_one(&remaining_sql, &arguments).await.map_err(query_error)?.get(0);
    Ok(ColumnFindings { column: column.to_string(), sampled: sample.len() as u64, remaining: u64::try_from(remaining).unwrap_or_default() })
}

async fn kept_rows(db: &impl GenericClient, table: &str, column: &str, value: &str) -> Result<Vec<String>, MaskingError> {
    let sql = format!("SELECT row_to_json(x)::text FROM public.{} x WHERE x.{}::text = $1 ORDER BY 1", ident(table), ident(column));
    Ok(db.query(&sql, &[&value]).await.map_err(query_error)?.iter().map(|r| r.get(0)).collect())
}

impl DatabaseMasker for PostgresProbe {
    async fn mask(&self, target: &DbTarget, plan: &MaskingPlan, key: &Secret) -> Result<Vec<TableMasked>, MaskingError> {
        let mut client = self.connect(target).await?;
        plan.check_schema(&describe(&client).await?)?;
        client
            .batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS public.{BOOKKEEPING_TABLE} (table_name text NOT NULL, column_name text NOT NULL, \
                 rule_digest text NOT NULL, rows_masked bigint NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), \
                 PRIMARY KEY (table_name, column_name))"
            ))
            .await
            .map_err(query_error)?;
        let mut report = Vec::new();
        for (table, columns) in plan.masked_columns() {
            report.push(mask_table(&mut client, plan, key.expose().as_bytes(), table, &columns).await?);
        }
        Ok(report)
    }

    async fn verify(&self, staging: &DbTarget, production: &DbTarget, plan: &MaskingPlan) -> Result<Findings, MaskingError> {
        let (mut staging_client, mut production_client) = (self.connect(staging).await?, self.connect(production).await?);
        let (s, p) = (reader(&mut staging_client, plan).await?, reader(&mut production_client, plan).await?);
        let mut findings = Findings::default();
        for (table, columns) in plan.masked_columns() {
            let mut column_results = Vec::new();
            for (column, _) in columns {
                column_results.push(column_findings(&p, &s, plan, table, column).await?);
            }
            findings.tables.push(TableFindings {
                table: table.to_string(),
                production_rows: count(&p, table).await?,
                staging_rows: count(&s, table).await?,
                production_foreign_keys: foreign_keys(&p, table).await?,
                staging_foreign_keys: foreign_keys(&s, table).await?,
                columns: column_results,
            });
        }
        for (table, columns) in &plan.keep_rows {
            for (column, values) in columns {
                for value in values {
                    let before = kept_rows(&p, table, column, value).await?;
                    let after = kept_rows(&s, table, column, value).await?;
                    findings.kept.push(KeptFindings::compare(table, column, value, &before, &after));
                }
            }
        }
        s.rollback().await.map_err(query_error)?;
        p.rollback().await.map_err(query_error)?;
        Ok(findings)
    }
}
