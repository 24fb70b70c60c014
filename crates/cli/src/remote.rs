//! `rehearsal remote …`: start, follow, promote, approve, redrive and tear down runs in the AWS account,
//! calling Step Functions and Parameter Store directly with the caller's credentials, through the
//! very handler the API Lambda runs, so the CLI and the API validate and answer alike. The caller
//! is who STS GetCallerIdentity says the credentials are (what API Gateway's IAM authorizer
//! would report): a promotion's requester, or its approver. Writing a decision needs
//! ssm:PutParameter on /rehearsal/approvals/, which the stack grants only to the API's role; the
//! promote machine refuses a decision written by the promotion's requester either way.

use crate::exit::{CliError, Exit};
use crate::input::read_json;
use rehearsal_api::{answer, request, Api, Config};
use rehearsal_core::cloud::{ParameterStore, StateMachines};
use rehearsal_core::promotion::{parse_approvers, Verdict};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// How often `status --follow` asks again.
const FOLLOW_INTERVAL: Duration = Duration::from_secs(10);

#[derive(clap::Args)]
pub struct RemoteCommand {
    /// The deployed staging state machine (stack output).
    #[arg(long, env = "STAGING_STATE_MACHINE_ARN")]
    staging_state_machine_arn: String,
    /// The deployed promote state machine (stack output).
    #[arg(long, env = "PROMOTE_STATE_MACHINE_ARN")]
    promote_state_machine_arn: String,
    /// The deployed teardown state machine (stack output).
    #[arg(long, env = "TEARDOWN_STATE_MACHINE_ARN")]
    teardown_state_machine_arn: String,
    /// The stack's `Approvers` parameter (comma-separated principal ARNs; empty: anyone but the requester).
    #[arg(long, env = "APPROVERS", default_value = "")]
    approvers: String,
    /// Another endpoint for Step Functions and Parameter Store (moto, LocalStack).
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
    #[command(subcommand)]
    action: RemoteSubcommand,
}

#[derive(clap::Subcommand)]
enum RemoteSubcommand {
    /// Start a staging run; the idempotency key names the execution, so repeating the command
    /// starts nothing twice.
    Start {
        #[arg(long)]
        idempotency_key: String,
        /// The run document (JSON); defaults to `{}`, the runbook's values.
        #[arg(long)]
        input: Option<PathBuf>,
    },
    /// A run's status, current states, report or failure; `--follow` prints each state it
    /// enters until it stops.
    Status {
        id: String,
        #[arg(long)]
        follow: bool,
    },
    /// Promote a run that passed (you are recorded as the requester; someone else approves).
    Promote {
        id: String,
        #[arg(long)]
        idempotency_key: String,
        /// For a production App Runner builds from source: deploy its branch's head, which
        /// staging may not have run (refused without it). An image release deploys the digest
        /// the staging run ran and needs none.
        #[arg(long)]
        accept_branch_head: bool,
    },
    /// Approve the promotion waiting on a run.
    Approve {
        id: String,
        #[arg(long)]
        comment: Option<String>,
        /// The promotion (its id in `promote`), when several wait.
        #[arg(long)]
        promotion: Option<String>,
    },
    /// Reject the promotion waiting on a run.
    Reject {
        id: String,
        #[arg(long)]
        comment: Option<String>,
        #[arg(long)]
        promotion: Option<String>,
    },
    /// Tear a run's staging environment down now (and cancel its teardown schedule).
    Teardown {
        /// The staging run (its id in `start`).
        #[arg(long)]
        run: String,
        #[arg(long)]
        idempotency_key: String,
        /// Skip the staging database's final snapshot.
        #[arg(long)]
        no_final_snapshot: bool,
    },
    /// Continue a failed run from where it stopped (RedriveExecution): for a run that failed
    /// outside its Fail states and still holds its staging; the key is the client token, so
    /// repeating the command within 15 minutes redrives once.
    Redrive {
        id: String,
        #[arg(long)]
        idempotency_key: String,
    },
}

impl RemoteCommand {
    /// Answers the action as the API would, printing its JSON body; the exit status follows
    /// the HTTP status.
    pub fn run(self) -> Result<Exit, CliError> {
        let (action, follow_run) = match self.action {
            RemoteSubcommand::Start { idempotency_key, input } => {
                (RemoteAction::Start { idempotency_key, document: read_json("--input", input.as_deref())? }, false)
            }
            RemoteSubcommand::Status { id, follow } => (RemoteAction::Status { id }, follow),
            RemoteSubcommand::Promote { id, idempotency_key, accept_branch_head } => {
                (RemoteAction::Promote { id, idempotency_key, accept_branch_head }, false)
            }
            RemoteSubcommand::Approve { id, comment, promotion } => {
                (RemoteAction::Decide { id, verdict: Verdict::Approved, comment, promotion }, false)
            }
            RemoteSubcommand::Reject { id, comment, promotion } => {
                (RemoteAction::Decide { id, verdict: Verdict::Rejected, comment, promotion }, false)
            }
            RemoteSubcommand::Teardown { run, idempotency_key, no_final_snapshot } => {
                (RemoteAction::Teardown { idempotency_key, run, final_snapshot: !no_final_snapshot }, false)
            }
            RemoteSubcommand::Redrive { id, idempotency_key } => (RemoteAction::Redrive { id, idempotency_key }, false),
        };
        let config = Config {
            staging_state_machine_arn: self.staging_state_machine_arn,
            promote_state_machine_arn: self.promote_state_machine_arn,
            teardown_state_machine_arn: self.teardown_state_machine_arn,
            approvers: parse_approvers(&self.approvers),
        };
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
        let (status, body) = runtime.block_on(async {
            let sdk = rehearsal_aws::load_config(self.endpoint_url.as_deref()).await;
            let api = Api::new(rehearsal_aws::StepFunctions::new(&sdk), rehearsal_aws::AwsCloud::new(&sdk), config);
            match (&action, follow_run) {
                (RemoteAction::Status { id }, true) => follow(&api, id, FOLLOW_INTERVAL, std::io::stdout()).await,
                (RemoteAction::Promote { .. } | RemoteAction::Decide { .. } | RemoteAction::Redrive { .. }, _) => {
                    match rehearsal_aws::caller_arn(&sdk).await {
                        Ok(caller) => call_as(&api, &action, Some(&caller)).await,
                        Err(e) => (403, json!({ "error": format!("who these credentials are (STS GetCallerIdentity) is unknown: {e}") })),
                    }
                }
                _ => call(&api, &action).await,
            }
        });
        println!("{}", serde_json::to_string_pretty(&body).unwrap_or_default());
        Ok(Exit::of_http_status(status))
    }
}

/// One remote action, as the API's route it maps to.
#[derive(Debug, Clone, PartialEq)]
pub enum RemoteAction {
    Start { idempotency_key: String, document: Value },
    Status { id: String },
    Promote { id: String, idempotency_key: String, accept_branch_head: bool },
    Decide { id: String, verdict: Verdict, comment: Option<String>, promotion: Option<String> },
    Teardown { idempotency_key: String, run: String, final_snapshot: bool },
    Redrive { id: String, idempotency_key: String },
}

impl RemoteAction {
    fn http(&self) -> (&'static str, String, Option<&str>, Option<Value>) {
        match self {
            RemoteAction::Start { idempotency_key, document } => ("POST", "/runs".into(), Some(idempotency_key), Some(document.clone())),
            RemoteAction::Status { id } => ("GET", format!("/runs/{id}"), None, None),
            RemoteAction::Promote { id, idempotency_key, accept_branch_head } => {
                let body = if *accept_branch_head { json!({ "accept_branch_head": true }) } else { json!({}) };
                ("POST", format!("/runs/{id}/promote"), Some(idempotency_key), Some(body))
            }
            RemoteAction::Decide { id, verdict, comment, promotion } => {
                let mut body = json!({});
                if let Some(comment) = comment {
                    body["comment"] = json!(comment);
                }
                if let Some(promotion) = promotion {
                    body["promotion"] = json!(promotion);
                }
                let route = if *verdict == Verdict::Approved { "approve" } else { "reject" };
                ("POST", format!("/runs/{id}/{route}"), None, Some(body))
            }
            RemoteAction::Teardown { idempotency_key, run, final_snapshot } => (
                "POST",
                "/environments/staging/teardown".into(),
                Some(idempotency_key),
                Some(json!({ "run": run, "final_snapshot": final_snapshot })),
            ),
            RemoteAction::Redrive { id, idempotency_key } => ("POST", format!("/runs/{id}/redrive"), Some(idempotency_key), None),
        }
    }
}

/// Answers one action from an unidentified caller: the HTTP status the API would give and its
/// JSON body.
pub async fn call<S: StateMachines, P: ParameterStore + Sync>(api: &Api<S, P>, action: &RemoteAction) -> (u16, Value) {
    call_as(api, action, None).await
}

/// Answers one action from `caller` (an IAM principal ARN).
pub async fn call_as<S: StateMachines, P: ParameterStore + Sync>(
    api: &Api<S, P>,
    action: &RemoteAction,
    caller: Option<&str>,
) -> (u16, Value) {
    let (method, path, key, body) = action.http();
    match request(method, &path, key, body.as_ref(), caller) {
        Ok(req) => answer(&api.handle(req).await),
        Err(e) => (400, json!({ "error": e })),
    }
}

/// Follows a run until it stops, printing each state it enters (from the execution history,
/// polled every `interval`), then answers its final status.
pub async fn follow<S: StateMachines, P: ParameterStore + Sync, W: Write>(
    api: &Api<S, P>,
    id: &str,
    interval: Duration,
    mut out: W,
) -> (u16, Value) {
    let mut seen = BTreeSet::new();
    loop {
        let (status, body) = call(api, &RemoteAction::Status { id: id.to_string() }).await;
        if status != 200 {
            return (status, body);
        }
        for state in body["current_states"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            if seen.insert(state.to_string()) {
                // Progress is best effort: a closed pipe must not stop the follow.
                let _ = writeln!(out, "  {state}");
            }
        }
        if body["status"] != "RUNNING" {
            return (status, body);
        }
        tokio::time::sleep(interval).await;
    }
}
