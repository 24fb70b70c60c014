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
    /// A CloudFront distribution's change reaching every edge location (creation, disabling).
    pub distribution_deploy: Duration,
}

impl SimConfig {
    /// Every duration multiplied by its own `factor()` (called once per duration, in the
    /// order of the fields): an account whose calls take other, still realistic, times.
    pub fn scaled_each(self, mut factor: impl FnMut() -> f64) -> Self {
        Self {
            snapshot: self.snapshot.mul_f64(factor()),
            restore: self.restore.mul_f64(factor()),
            log_replay_per_hour: self.log_replay_per_hour.mul_f64(factor()),
            aurora_clone: self.aurora_clone.mul_f64(factor()),
            aurora_instance: self.aurora_instance.mul_f64(factor()),
            service_create: self.service_create.mul_f64(factor()),
            deployment: self.deployment.mul_f64(factor()),
            instance_delete: self.instance_delete.mul_f64(factor()),
            service_delete: self.service_delete.mul_f64(factor()),
            snapshot_delete: self.snapshot_delete.mul_f64(factor()),
            rename: self.rename.mul_f64(factor()),
            stop: self.stop.mul_f64(factor()),
            password_reset: self.password_reset.mul_f64(factor()),
            express_provision: self.express_provision.mul_f64(factor()),
            express_tasks: self.express_tasks.mul_f64(factor()),
            express_canary_bake: self.express_canary_bake.mul_f64(factor()),
            express_bake: self.express_bake.mul_f64(factor()),
            express_rollback: self.express_rollback.mul_f64(factor()),
            express_drain: self.express_drain.mul_f64(factor()),
            distribution_deploy: self.distribution_deploy.mul_f64(factor()),
        }
    }
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
            distribution_deploy: minutes(5),
        }
    }
}
