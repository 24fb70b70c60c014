//! The SQL probe against a simulated instance: connection errors as PostgreSQL reports them,
//! and the structured checks evaluated on the instance's database model.

use crate::account::SimCloud;
use crate::fault::FaultKind;
use crate::world::{ConnectError, Connection, Ctx, World};
use rehearsal_core::checks::db::DbQuery;
use rehearsal_core::cloud::{DatabaseProbe, DbTarget, ProbeError};
use serde_json::{json, Value};

impl World {
    fn probe(&mut self, ctx: &Ctx, target: &DbTarget, query: &DbQuery) -> Result<Vec<Vec<Value>>, ProbeError> {
        let connection = Connection {
            host: target.host.clone(),
            port: target.port,
            database: target.database.clone(),
            user: target.user.clone(),
            password: target.password.expose().to_string(),
        };
        let data = match self.connect(&connection, ctx.now) {
            Ok(instance) => instance.data.clone(),
            Err(ConnectError::NotReady(why)) => return Err(ProbeError::NotReady(why)),
            Err(ConnectError::Authentication(why)) => return Err(ProbeError::Authentication(why)),
            Err(ConnectError::Other(why)) => return Err(ProbeError::Other(why)),
        };
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
