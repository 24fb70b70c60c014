//! How long things take in the simulated account. The defaults are the runbook's timings.

use std::time::Duration;

/// Durations of the simulated lifecycles (virtual time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimConfig {
    /// `CreateDBSnapshot`: `creating` → `available` (also a final snapshot).
    pub snapshot: Duration,
    /// `RestoreDBInstanceFromDBSnapshot`: `creating` → `available`.
    pub restore: Duration,
    /// `CreateService`: `OPERATION_IN_PROGRESS` → `RUNNING`.
    pub service_create: Duration,
    /// A deployment started by `UpdateService`.
    pub deployment: Duration,
    /// `DeleteDBInstance`: `deleting` → gone.
    pub instance_delete: Duration,
    /// `DeleteService`: `OPERATION_IN_PROGRESS` → `DELETED`.
    pub service_delete: Duration,
    /// `DeleteDBSnapshot`: `deleting` → gone.
    pub snapshot_delete: Duration,
    /// `ModifyDBInstance` with a new identifier: `renaming` → `available` under the new name.
    pub rename: Duration,
    /// `StopDBInstance`: `stopping` → `stopped`.
    pub stop: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        let minutes = |m: u64| Duration::from_secs(60 * m);
        Self {
            snapshot: minutes(10),
            restore: minutes(12),
            service_create: minutes(6),
            deployment: minutes(4),
            instance_delete: minutes(5),
            service_delete: minutes(2),
            snapshot_delete: minutes(1),
            rename: minutes(3),
            stop: minutes(4),
        }
    }
}
