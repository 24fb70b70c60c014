//! Connections to a simulated instance, refused as PostgreSQL refuses them, and the SQL probe:
//! the structured checks evaluated on the instance's database model.

use crate::account::SimCloud;
use crate::aurora::cluster_endpoint_address;
use crate::fault::FaultKind;
use crate::rds::{Instance, Phase};
use crate::seed::PRODUCTION_DB;
use crate::world::{Ctx, World};
use chrono::{DateTime, Utc};
use rehearsal_core::checks::db::DbQuery;
use rehearsal_core::cloud::{DatabaseMasker, DatabaseProbe, DbTarget, ProbeError};
use rehearsal_core::masking::{Findings, MaskingError, MaskingPlan, TableMasked};
use rehearsal_core::Secret;
use serde_json::{json, Value};

/// A PostgreSQL connection target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Connection {
    pub host: String,
    pub port: u16,
    pub database: String,
    pub user: String,
    pub password: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConnectError {
    NotReady(String),
    Authentication(String),
    Other(String),
}

impl Connection {
    /// From a `postgres://user:password@host:port/database` URL, parsed as the steps parse it;
    /// the error never echoes it.
    pub fn parse(url: &str) -> Result<Self, String> {
        let target = rehearsal_core::database_url::target(&rehearsal_core::Secret::new(url))?;
        let password = target.password.expose().to_string();
        Ok(Connection { host: target.host, port: target.port, database: target.database, user: target.user, password })
    }
}

impl World {
    /// The database a connection to `host:port` as `user`/`password` reaches at `t`.
    pub fn connect(&mut self, target: &Connection, t: DateTime<Utc>) -> Result<&mut Instance, ConnectError> {
        // A cluster's endpoint reaches its writer: its first instance (a clone has only one).
        let cluster = self
            .clusters
            .values()
            .find(|c| {
                !matches!(c.life.phase(t), Phase::InProgress | Phase::Gone)
                    && cluster_endpoint_address(&c.id).eq_ignore_ascii_case(&target.host)
            })
            .map(|c| c.id.clone());
        let instance = self
            .instances
            .values_mut()
            .filter(|i| i.life.phase(t) != Phase::Gone)
            .filter(|i| match &cluster {
                Some(id) => i.cluster_id.as_ref() == Some(id),
                None => i.address.eq_ignore_ascii_case(&target.host),
            })
            .min_by_key(|i| i.life.created_at)
            .ok_or_else(|| ConnectError::NotReady(format!("could not translate host name \"{}\" to address", target.host)))?;
        // A password reset does not interrupt the instance: it serves (with the old password) meanwhile.
        if instance.port != target.port || !matches!(instance.status(t), "available" | "resetting-master-credentials") {
            return Err(ConnectError::NotReady(format!(
                "connection to server at \"{}\", port {} failed: Connection refused",
                target.host, target.port
            )));
        }
        if instance.master_user != target.user || instance.master_password_at(t) != target.password {
            return Err(ConnectError::Authentication(format!("password authentication failed for user \"{}\"", target.user)));
        }
        if instance.data.name != target.database {
            return Err(ConnectError::Other(format!("database \"{}\" does not exist", target.database)));
        }
        Ok(instance)
    }

    /// The instance a probe's connection reaches, refused as PostgreSQL refuses it.
    pub(crate) fn connect_probe(&mut self, target: &DbTarget, t: DateTime<Utc>) -> Result<&mut Instance, ProbeError> {
        let connection = Connection {
            host: target.host.clone(),
            port: target.port,
            database: target.database.clone(),
            user: target.user.clone(),
            password: target.password.expose().to_string(),
        };
        self.connect(&connection, t).map_err(|e| match e {
            ConnectError::NotReady(why) => ProbeError::NotReady(why),
            ConnectError::Authentication(why) => ProbeError::Authentication(why),
            ConnectError::Other(why) => ProbeError::Other(why),
        })
    }

    fn probe(&mut self, ctx: &Ctx, target: &DbTarget, query: &DbQuery) -> Result<Vec<Vec<Value>>, ProbeError> {
        let instance = self.connect_probe(target, ctx.now)?;
        if let DbQuery::CountRows { table, null_column } = query {
            if instance.data.count_rows(table, null_column.as_deref()).is_ok() {
                // A count reads the whole table: lazy loading is over for it.
                instance.read_in_full(table);
            }
        }
        let data = instance.data.clone();
        let data = if self.has_fault(ctx.step, FaultKind::FailedCheck) {
            self.fire(ctx, FaultKind::FailedCheck, query_name(query));
            data.as_if_never_migrated()
        } else {
            data
        };
        match query {
            DbQuery::TablesLike { prefix } => Ok(data.tables_like(prefix)),
            DbQuery::CountRows { table, null_column } => {
                data.count_rows(table, null_column.as_deref()).map(|n| vec![vec![json!(n)]]).map_err(ProbeError::Query)
            }
            DbQuery::Sql { .. } => Err(ProbeError::Query(
                "the simulated database evaluates only the structured checks; run with a real PostgreSQL for SQL checks".into(),
            )),
        }
    }
}

fn query_name(query: &DbQuery) -> &'static str {
    match query {
        DbQuery::TablesLike { .. } => "TablesLike",
        DbQuery::CountRows { .. } => "CountRows",
        DbQuery::Sql { .. } => "Sql",
    }
}

impl DatabaseProbe for SimCloud {
    async fn query(&self, target: &DbTarget, query: &DbQuery) -> Result<Vec<Vec<Value>>, ProbeError> {
        self.direct("postgres", query_name(query).to_string(), |w, ctx| w.probe(ctx, target, query))
    }
}

impl DatabaseMasker for SimCloud {
    /// `failed-check` makes the masking record its work without changing a value.
    async fn mask(&self, target: &DbTarget, plan: &MaskingPlan, key: &Secret) -> Result<Vec<TableMasked>, MaskingError> {
        self.direct("postgres", "Mask".to_string(), |w, ctx| {
            let masks_nothing = w.has_fault(ctx.step, FaultKind::FailedCheck);
            if masks_nothing {
                w.fire(ctx, FaultKind::FailedCheck, "Mask");
            }
            let instance = w.connect_probe(target, ctx.now)?;
            let report = instance.data.mask(plan, key.expose().as_bytes(), masks_nothing)?;
            if instance.id == PRODUCTION_DB {
                w.production_write(ctx, format!("db-instance {PRODUCTION_DB}"), "UPDATE (masking)");
            }
            Ok(report)
        })
    }

    async fn verify(&self, staging: &DbTarget, production: &DbTarget, plan: &MaskingPlan) -> Result<Findings, MaskingError> {
        self.direct("postgres", "VerifyMasking".to_string(), |w, ctx| {
            let staging_data = w.connect_probe(staging, ctx.now)?.data.clone();
            let production_data = &w.connect_probe(production, ctx.now)?.data;
            Ok(staging_data.masking_findings(production_data, plan))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_parse_with_encoded_credentials() {
        let c = Connection::parse("postgres://tableicty:p%40ss@db.example.com:5433/tableicty").unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.user.as_str(), c.password.as_str(), c.database.as_str()),
            ("db.example.com", 5433, "tableicty", "p@ss", "tableicty")
        );
        assert!(!Connection::parse("mysql://u:hunter2@h/db").unwrap_err().contains("hunter2"));
    }
}
