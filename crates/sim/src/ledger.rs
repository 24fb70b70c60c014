//! What happened in the simulated account, for reports and assertions.

use crate::fault::FaultKind;
use chrono::{DateTime, Utc};
use rehearsal_core::tags::Tags;
use serde::Serialize;

/// Everything recorded so far, in the order it happened.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Ledger {
    /// Every call made through a session, including the ones a fault answered.
    pub calls: Vec<CallRecord>,
    /// Resources created through a session.
    pub created: Vec<ResourceRecord>,
    /// Accepted delete calls (the resource may still be `deleting`).
    pub deleted: Vec<ResourceRecord>,
    /// Calls that reached a production resource with a mutation, whether or not AWS accepted it.
    pub production_writes: Vec<WriteRecord>,
    /// `(step, kind, operation)` for each time a fault changed an answer.
    pub faults_fired: Vec<(String, FaultKind, String)>,
    /// Resources that appeared from elsewhere (the `already-exists` fault): not created by any run.
    pub foreign: Vec<ResourceRecord>,
    /// Messages published to SNS topics (the state machines' alerts).
    pub notifications: Vec<Notification>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notification {
    pub topic_arn: String,
    pub subject: Option<String>,
    pub message: String,
    pub message_id: String,
    pub at: DateTime<Utc>,
}

/// One ledger entry: what happened, and which step did it when. Serialised flat
/// (`{"step", "at", …what}`); reads of `what`'s fields go through `Deref`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recorded<T> {
    pub step: String,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub what: T,
}

impl<T> std::ops::Deref for Recorded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.what
    }
}

pub type CallRecord = Recorded<Call>;
pub type ResourceRecord = Recorded<Resource>;
pub type WriteRecord = Recorded<Write>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Call {
    /// `rds`, `ssm`, `apprunner`, `scheduler`, `http`, `postgres`.
    pub service: String,
    /// The API action (`CreateDBSnapshot`), `METHOD /path` for HTTP, the query kind for SQL.
    pub operation: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resource {
    /// `db-instance`, `db-snapshot`, `parameter`, `service`, `schedule`.
    pub kind: String,
    /// Identifier, parameter name, service name, or `group/name` for a schedule.
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Write {
    /// `<kind> <id>`, e.g. `parameter /tableicty/production/FRONTEND_URL`.
    pub resource: String,
    pub operation: String,
}

/// A resource that exists now, as `existing_resources` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExistingResource {
    pub kind: String,
    pub id: String,
    pub status: String,
    pub tags: Tags,
}
