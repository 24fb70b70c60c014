//! A simulated AWS account for rehearsals: the runbook's production stack (RDS, Parameter
//! Store, App Runner, the app and its database) in us-east-1, account 123456789012, with ECS
//! Express Mode and the app's ECR repository, that behaves like the real services over virtual
//! time and fails like them.
//!
//! * [`SimAccount`] holds the account; [`SimAccount::session`] gives one step a [`SimCloud`]
//!   handle implementing every capability trait of `rehearsal_core::cloud`. Every call is
//!   recorded in the [`Ledger`] with the step and the virtual time. RDS includes Aurora
//!   clusters (copy-on-write clones, their instances) for an Aurora production
//!   ([`SimAccount::make_production_aurora`]).
//! * Time is tokio's: with a paused clock, a 12-minute restore passes as soon as every task
//!   sleeps. Statuses are computed from the clock when read; nothing runs in the background.
//! * Production is not protected: writes to it are performed and recorded in
//!   [`Ledger::production_writes`], so tests can show the code under test never makes them.
//! * [`Fault`]s make one step's calls throttle, fail, stall, conflict or see a broken deployment.
//! * Step Functions executions run by the local runner are recorded with
//!   [`SimAccount::record_execution`], so a promotion can read the staging run it promotes; SNS
//!   alerts are recorded in [`Ledger::notifications`].

mod account;
mod app;
mod apprunner;
mod aurora;
mod cloudfront;
mod config;
mod database;
mod ecr;
mod ecs;
mod fault;
mod host;
mod ids;
mod ledger;
mod masking;
mod probe;
mod rds;
mod s3;
mod scheduler;
pub mod seed;
mod sns;
mod ssm;
mod stripe;
mod warmup;
mod world;

pub use account::{SimAccount, SimBucket, SimCloud};
pub use app::BACKFILL_TOKEN_PARAMETER_VARIABLE;
pub use config::SimConfig;
pub use database::{DEFAULT_TENANT_SLUG, TENANT_SCOPED_TABLES, TENANT_TABLES};
pub use fault::{Fault, FaultKind, ParseFaultError};
pub use ledger::{Call, CallRecord, ExistingResource, Ledger, Notification, Recorded, Resource, ResourceRecord, Write, WriteRecord};
pub use rds::point_in_time_restore;
pub use s3::MAX_KEYS;
pub use ssm::{parameter_arn, session_principal};
