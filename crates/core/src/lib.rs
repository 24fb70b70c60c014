//! The rehearsal library: everything the step Lambdas, the local runner and the CLI share.
//!
//! * [`run`]: the run document a console execution, the API and the CLI all send, with the
//!   runbook's values as defaults, validated before any AWS call.
//! * [`plan`]: the resolved plan every step works from (names, tags, production facts).
//! * [`promotion`]: the promotion document and the names a promotion and its rollback use.
//! * [`limits`]: AWS's formats and length limits for everything a document or the stack names.
//! * [`lease`]: one run at a time per environment (a Parameter Store parameter per app and
//!   environment, created without overwrite).
//! * [`naming`], [`tags`], [`guard`]: naming rules, ownership tags, and the guards: staging's
//!   refuses writes to production, production's admits only the promotion's own resources.
//! * [`cloud`]: the narrow capability traits (RDS, SSM, the service host on App Runner or ECS
//!   Express Mode, container images, Scheduler, Step Functions executions, HTTP, database
//!   probe, clock) that the SDK adapters and the simulated account implement.
//! * [`image`]: ECR image names, by tag or pinned by digest.
//! * [`steps`]: one module per runbook step, each an async handler generic over those traits.
//! * [`phase`]: what each AWS status means for a wait loop (the state machines test only that).
//! * [`checks`]: the database and HTTP validation checklists, as data.
//! * [`cost`], [`durations`]: what a staging environment costs and how long things take in
//!   AWS, from the dated, sourced tables in `estimates/`, compiled in.
//! * [`masking`]: the rules that mask person data in the staging copy, and their checks.
//! * [`markdown_report`]: a run's report as Markdown, with its timeline as a Mermaid Gantt chart.

pub mod checks;
pub mod cloud;
pub mod cost;
pub mod database_url;
pub mod durations;
pub mod error;
pub mod guard;
pub mod image;
pub mod lease;
pub mod limits;
pub mod markdown_report;
pub mod masking;
pub mod naming;
pub mod phase;
pub mod plan;
pub mod promotion;
pub mod run;
pub mod secret;
pub mod steps;
pub mod tags;
pub mod untrusted;

pub use error::{CloudError, CloudErrorKind, StepError};
pub use plan::RunPlan;
pub use run::RunInput;
pub use secret::Secret;
