//! How long things take in the simulated account. The defaults are the runbook's timings.

use std::time::Duration;

/// Durations of the simulated lifecycles (virtual time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimConfig {
    /// `CreateDBSnapshot`: `creating` → `available` (also a final snapshot).
    pub snapshot: Duration,
    /// `RestoreDBInstanceFromDBSnapshot`: `creating` → `available`; a point-in-time restore
    /// takes as long for its automated backup, then replays the log.
    pub restore: Duration,
    /// `RestoreDBInstanceToPointInTime`: replaying one hour of transaction log written since the
    /// latest automated backup.
    pub log_replay_per_hour: Duration,
    /// `RestoreDBClusterToPointInTime` copy-on-write: `creating` → `available`, whatever the
    /// size (the clone shares its source's pages).
    pub aurora_clone: Duration,
    /// `CreateDBInstance` in an available Aurora cluster: `creating` → `available`.
    pub aurora_instance: Duration,
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
    /// `ModifyDBInstance` with a new identifier: `renaming` → `available` under the new name
    /// (about ten minutes in AWS).
    pub rename: Duration,
    /// `StopDBInstance`: `stopping` → `stopped`.
    pub stop: Duration,
    /// `ModifyDBInstance` with a new master password: `resetting-master-credentials` →
    /// `available`, the new password in effect.
    pub password_reset: Duration,
    /// `CreateExpressGatewayService`: the load balancer, target groups and security groups ECS
    /// provisions before the first tasks start (the first deployment is `PENDING` meanwhile).
    pub express_provision: Duration,
    /// An ECS deployment's new tasks: pulling the image and starting (migrations run then)
    /// until they pass their health checks.
    pub express_tasks: Duration,
    /// Canary: how long 5% of the traffic goes to the new tasks before all of it does (not for a
    /// service's first deployment, which has no old tasks).
    pub express_canary_bake: Duration,
    /// After all traffic shifted, before the old tasks stop and the deployment is `SUCCESSFUL`.
    pub express_bake: Duration,
    /// A failed deployment's rollback: `ROLLBACK_IN_PROGRESS` → `ROLLBACK_SUCCESSFUL`.
    pub express_rollback: Duration,
    /// `DeleteExpressGatewayService`: `DRAINING` (ECS removes what it provisioned) → `INACTIVE`.
    pub express_drain: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        let minutes = |m: u64| Duration::from_secs(60 * m);
        Self {
            snapshot: minutes(10),
            restore: minutes(12),
            log_replay_per_hour: Duration::from_secs(10),
            aurora_clone: minutes(5),
            aurora_instance: minutes(5),
            service_create: minutes(6),
            deployment: minutes(4),
            instance_delete: minutes(5),
            service_delete: minutes(2),
            snapshot_delete: minutes(1),
            rename: minutes(10),
            stop: minutes(4),
            password_reset: minutes(2),
            express_provision: minutes(4),
            express_tasks: minutes(2),
            express_canary_bake: minutes(3),
            express_bake: minutes(3),
            express_rollback: minutes(2),
            express_drain: minutes(5),
        }
    }
}
