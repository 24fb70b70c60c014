//! What an AWS status means for a wait loop, decided here and nowhere else: every state a step
//! returns into a wait loop carries a [`Phase`], and the state machines' Choices test only it
//! and the loop's deadline. The raw status stays beside it, for messages and reports.
//!
//! Each resource kind has the full list AWS documents, each status sorted into a phase. A status
//! missing from a list (AWS adds them over time: RDS did several times) is `in_progress`: most
//! new statuses are transitions, and waiting is bounded by the loop's deadline, whose cause names
//! the raw status. That way an unknown status never lets a run go on with a resource nobody has
//! seen ready, nor rolls back one that is healthy.

use serde::{Deserialize, Serialize};
use Phase::{Failed, Gone, InProgress, Ready};

/// Where a waited-on resource or operation is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Not settled: look again later (until the deadline).
    #[default]
    InProgress,
    /// Settled as wanted.
    Ready,
    /// Settled otherwise: no amount of waiting makes it ready, someone has to act.
    Failed,
    /// Deleted, or being deleted.
    Gone,
}

impl Phase {
    pub const ALL: [Phase; 4] = [Phase::InProgress, Phase::Ready, Phase::Failed, Phase::Gone];

    /// The name the state machines compare against.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::InProgress => "in_progress",
            Phase::Ready => "ready",
            Phase::Failed => "failed",
            Phase::Gone => "gone",
        }
    }
}

/// One resource kind's documented statuses, each with its phase.
#[derive(Debug)]
pub struct Statuses {
    /// What has these statuses, for messages.
    pub kind: &'static str,
    phases: &'static [(&'static str, Phase)],
}

impl Statuses {
    /// The phase of `status`; an undocumented one is [`Phase::InProgress`] (see the module docs).
    pub fn of(&self, status: &str) -> Phase {
        self.phases.iter().find(|(known, _)| *known == status).map_or(Phase::InProgress, |(_, phase)| *phase)
    }

    /// Every documented status, in the order listed.
    pub fn documented(&self) -> impl Iterator<Item = &'static str> {
        self.phases.iter().map(|(status, _)| *status)
    }
}

/// `DBInstanceStatus`, waited on after a restore and during the rollback's renames. The table of
/// https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/accessing-monitoring.html#Overview.DBInstance.Status,
/// plus `deleted`, which the DBInstanceAvailable waiter lists among its failures
/// (https://docs.aws.amazon.com/cli/latest/reference/rds/wait/db-instance-available.html) and the
/// checks report for an instance that vanished. Ready is `available` alone, as for that waiter:
/// the other "billed" statuses are modifications still under way.
pub const DB_INSTANCE: Statuses = Statuses {
    kind: "RDS DB instance",
    phases: &[
        ("available", Ready),
        ("backing-up", InProgress),
        ("configuring-enhanced-monitoring", InProgress),
        ("configuring-iam-database-auth", InProgress),
        ("configuring-log-exports", InProgress),
        ("converting-to-vpc", InProgress),
        ("creating", InProgress),
        ("delete-precheck", Gone),
        ("deleting", Gone),
        ("failed", Failed),
        ("inaccessible-encryption-credentials", Failed),
        // Recoverable by enabling the KMS key and starting the instance: by hand, not by waiting.
        ("inaccessible-encryption-credentials-recoverable", Failed),
        ("incompatible-create", Failed),
        ("incompatible-network", Failed),
        ("incompatible-option-group", Failed),
        ("incompatible-parameters", Failed),
        ("incompatible-restore", Failed),
        // AWS: delete it and try again later, or elsewhere.
        ("insufficient-capacity", Failed),
        ("maintenance", InProgress),
        ("modifying", InProgress),
        ("moving-to-vpc", InProgress),
        ("rebooting", InProgress),
        ("renaming", InProgress),
        ("resetting-master-credentials", InProgress),
        ("restore-error", Failed),
        ("starting", InProgress),
        // Someone stopped a copy this run waits for: it does not start again by itself (for 7 days).
        ("stopped", Failed),
        ("stopping", Failed),
        ("storage-config-upgrade", InProgress),
        ("storage-full", Failed),
        ("storage-initialization", InProgress),
        ("storage-optimization", InProgress),
        ("upgrading", InProgress),
        ("deleted", Gone),
    ],
};

/// `DBCluster.Status` of an Aurora cluster, the table of
/// https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/accessing-monitoring.html#Aurora.Status,
/// plus `deleted` for a cluster that vanished. Ready is `available` alone.
pub const DB_CLUSTER: Statuses = Statuses {
    kind: "RDS DB cluster",
    phases: &[
        ("available", Ready),
        ("backing-up", InProgress),
        ("backtracking", InProgress),
        ("cloning-failed", Failed),
        ("creating", InProgress),
        ("deleting", Gone),
        ("failing-over", InProgress),
        ("inaccessible-encryption-credentials", Failed),
        ("inaccessible-encryption-credentials-recoverable", Failed),
        ("maintenance", InProgress),
        ("migrating", InProgress),
        ("migration-failed", Failed),
        ("modifying", InProgress),
        ("promoting", InProgress),
        ("renaming", InProgress),
        ("resetting-master-credentials", InProgress),
        ("starting", InProgress),
        // Someone stopped the clone this run waits for.
        ("stopped", Failed),
        ("stopping", Failed),
        ("storage-optimization", InProgress),
        ("update-iam-db-auth", InProgress),
        ("upgrading", InProgress),
        ("deleted", Gone),
    ],
};

/// `DBSnapshot.Status`: `creating` from CreateDBSnapshot
/// (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBSnapshot.html), the
/// success and failure values of the DBSnapshotAvailable waiter
/// (https://docs.aws.amazon.com/cli/latest/reference/rds/wait/db-snapshot-available.html), and
/// `deleted` as DeleteDBSnapshot answers it.
pub const DB_SNAPSHOT: Statuses = Statuses {
    kind: "RDS DB snapshot",
    phases: &[
        ("creating", InProgress),
        ("available", Ready),
        ("failed", Failed),
        ("incompatible-restore", Failed),
        ("incompatible-parameters", Failed),
        ("deleting", Gone),
        ("deleted", Gone),
    ],
};

/// CloudFront `Distribution.Status`
/// (https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_Distribution.html): a change
/// is `InProgress` until every edge location has it.
pub const DISTRIBUTION: Statuses = Statuses { kind: "CloudFront distribution", phases: &[("InProgress", InProgress), ("Deployed", Ready)] };

/// App Runner `Service.Status` (https://docs.aws.amazon.com/apprunner/latest/api/API_Service.html).
/// A paused service serves nothing until someone resumes it.
pub const APP_RUNNER_SERVICE: Statuses = Statuses {
    kind: "App Runner service",
    phases: &[
        ("CREATE_FAILED", Failed),
        ("RUNNING", Ready),
        ("DELETED", Gone),
        ("DELETE_FAILED", Failed),
        ("PAUSED", Failed),
        ("OPERATION_IN_PROGRESS", InProgress),
    ],
};

/// App Runner `OperationSummary.Status`
/// (https://docs.aws.amazon.com/apprunner/latest/api/API_OperationSummary.html). A deployment
/// App Runner is rolling back has failed, but is not over: waiting for the rollback to end leaves
/// the service on its previous deployment before anything else touches it (and tells the code
/// rollback that App Runner already did its work).
pub const APP_RUNNER_OPERATION: Statuses = Statuses {
    kind: "App Runner operation",
    phases: &[
        ("PENDING", InProgress),
        ("IN_PROGRESS", InProgress),
        ("FAILED", Failed),
        ("SUCCEEDED", Ready),
        ("ROLLBACK_IN_PROGRESS", InProgress),
        ("ROLLBACK_FAILED", Failed),
        ("ROLLBACK_SUCCEEDED", Failed),
    ],
};

/// Step Functions `DescribeExecution` status
/// (https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeExecution.html).
/// `PENDING_REDRIVE`: a redrive was asked for and the execution is about to run again.
pub const EXECUTION: Statuses = Statuses {
    kind: "Step Functions execution",
    phases: &[
        ("RUNNING", InProgress),
        ("SUCCEEDED", Ready),
        ("FAILED", Failed),
        ("TIMED_OUT", Failed),
        ("ABORTED", Failed),
        ("PENDING_REDRIVE", InProgress),
    ],
};

/// Every kind, for checks that look at all of them (no definition may compare a status).
pub const ALL: [&Statuses; 7] =
    [&DB_INSTANCE, &DB_CLUSTER, &DB_SNAPSHOT, &APP_RUNNER_SERVICE, &APP_RUNNER_OPERATION, &EXECUTION, &DISTRIBUTION];

/// A deployment (an App Runner operation on a service): a service that failed or is gone decides
/// it whatever the operation says; otherwise the operation does.
pub fn deployment(service_status: &str, operation_status: &str) -> Phase {
    match APP_RUNNER_SERVICE.of(service_status) {
        phase @ (Failed | Gone) => phase,
        InProgress | Ready => APP_RUNNER_OPERATION.of(operation_status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// `statuses` lists exactly the statuses of `expected`, AWS's documented list sorted by
    /// phase, once each, and gives each its phase.
    fn sorts(statuses: &Statuses, expected: &[(Phase, &[&str])]) {
        let listed: Vec<&str> = statuses.documented().collect();
        let unique: BTreeSet<&str> = listed.iter().copied().collect();
        assert_eq!(unique.len(), listed.len(), "{}: a status listed twice", statuses.kind);
        let documented: BTreeSet<&str> = expected.iter().flat_map(|(_, group)| group.iter().copied()).collect();
        assert_eq!(unique, documented, "{}: the documented list", statuses.kind);
        for (phase, group) in expected {
            for status in *group {
                assert_eq!(statuses.of(status), *phase, "{}: {status}", statuses.kind);
            }
        }
    }

    #[test]
    fn db_cluster_statuses() {
        sorts(
            &DB_CLUSTER,
            &[
                (Ready, &["available"]),
                (
                    InProgress,
                    &[
                        "backing-up",
                        "backtracking",
                        "creating",
                        "failing-over",
                        "maintenance",
                        "migrating",
                        "modifying",
                        "promoting",
                        "renaming",
                        "resetting-master-credentials",
                        "starting",
                        "storage-optimization",
                        "update-iam-db-auth",
                        "upgrading",
                    ],
                ),
                (
                    Failed,
                    &[
                        "cloning-failed",
                        "inaccessible-encryption-credentials",
                        "inaccessible-encryption-credentials-recoverable",
                        "migration-failed",
                        "stopped",
                        "stopping",
                    ],
                ),
                (Gone, &["deleting", "deleted"]),
            ],
        );
    }

    #[test]
    fn db_instance_statuses() {
        sorts(
            &DB_INSTANCE,
            &[
                (Ready, &["available"]),
                (
                    InProgress,
                    &[
                        "backing-up",
                        "configuring-enhanced-monitoring",
                        "configuring-iam-database-auth",
                        "configuring-log-exports",
                        "converting-to-vpc",
                        "creating",
                        "maintenance",
                        "modifying",
                        "moving-to-vpc",
                        "rebooting",
                        "renaming",
                        "resetting-master-credentials",
                        "starting",
                        "storage-config-upgrade",
                        "storage-initialization",
                        "storage-optimization",
                        "upgrading",
                    ],
                ),
                (
                    Failed,
                    &[
                        "failed",
                        "inaccessible-encryption-credentials",
                        "inaccessible-encryption-credentials-recoverable",
                        "incompatible-create",
                        "incompatible-network",
                        "incompatible-option-group",
                        "incompatible-parameters",
                        "incompatible-restore",
                        "insufficient-capacity",
                        "restore-error",
                        "stopped",
                        "stopping",
                        "storage-full",
                    ],
                ),
                // `deleted`: the waiter's, and what the checks report for a vanished instance.
                (Gone, &["delete-precheck", "deleting", "deleted"]),
            ],
        );
    }

    #[test]
    fn db_snapshot_statuses() {
        sorts(
            &DB_SNAPSHOT,
            &[
                (Ready, &["available"]),
                (InProgress, &["creating"]),
                (Failed, &["failed", "incompatible-restore", "incompatible-parameters"]),
                (Gone, &["deleting", "deleted"]),
            ],
        );
    }

    #[test]
    fn app_runner_service_statuses() {
        sorts(
            &APP_RUNNER_SERVICE,
            &[
                (Ready, &["RUNNING"]),
                (InProgress, &["OPERATION_IN_PROGRESS"]),
                (Failed, &["CREATE_FAILED", "DELETE_FAILED", "PAUSED"]),
                (Gone, &["DELETED"]),
            ],
        );
    }

    #[test]
    fn app_runner_operation_statuses() {
        sorts(
            &APP_RUNNER_OPERATION,
            &[
                (Ready, &["SUCCEEDED"]),
                (InProgress, &["PENDING", "IN_PROGRESS", "ROLLBACK_IN_PROGRESS"]),
                (Failed, &["FAILED", "ROLLBACK_FAILED", "ROLLBACK_SUCCEEDED"]),
            ],
        );
    }

    #[test]
    fn execution_statuses() {
        sorts(
            &EXECUTION,
            &[(Ready, &["SUCCEEDED"]), (InProgress, &["RUNNING", "PENDING_REDRIVE"]), (Failed, &["FAILED", "TIMED_OUT", "ABORTED"])],
        );
    }

    #[test]
    fn an_undocumented_status_is_in_progress_for_every_kind() {
        for kind in ALL {
            assert_eq!(kind.of("some-status-aws-adds-next-year"), InProgress, "{}", kind.kind);
        }
    }

    #[test]
    fn a_deployment_follows_its_operation_unless_the_service_failed_or_is_gone() {
        assert_eq!(deployment("OPERATION_IN_PROGRESS", "IN_PROGRESS"), InProgress);
        // CreateService answers before the service is RUNNING: the operation decides.
        assert_eq!(deployment("OPERATION_IN_PROGRESS", "SUCCEEDED"), Ready);
        assert_eq!(deployment("RUNNING", "SUCCEEDED"), Ready);
        assert_eq!(deployment("RUNNING", "ROLLBACK_SUCCEEDED"), Failed);
        assert_eq!(deployment("RUNNING", "ROLLBACK_IN_PROGRESS"), InProgress);
        assert_eq!(deployment("CREATE_FAILED", "IN_PROGRESS"), Failed);
        assert_eq!(deployment("PAUSED", "SUCCEEDED"), Failed);
        assert_eq!(deployment("DELETED", "SUCCEEDED"), Gone);
    }

    #[test]
    fn phases_serialize_as_the_state_machines_compare_them() {
        for phase in Phase::ALL {
            assert_eq!(serde_json::to_value(phase).unwrap(), serde_json::json!(phase.as_str()));
            assert_eq!(serde_json::from_value::<Phase>(serde_json::json!(phase.as_str())).unwrap(), phase);
        }
    }
}
