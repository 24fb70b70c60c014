//! Runbook step 8, "Promote to Production", and its Rollback Plan. The promotion document names
//! the staging run that passed; [`Promotion`] is what `verify_rehearsal_passed` makes of it once that
//! run is proven to have passed: the staging plan (re-derived from the execution itself, never
//! taken from the caller), and every production name the promotion and its rollback use.

use crate::limits::{check_document_size, execution_arn_problem, principal_arn_problem};
use crate::naming::{promotion_identifiers, rds_identifier_problem, run_id_problem};
use crate::plan::RunPlan;
use crate::run::parse_document;
use crate::tags::RunTags;
use crate::StepError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub const PRODUCTION_ENVIRONMENT: &str = "production";
/// Where the API writes an operator's decision on a waiting promotion:
/// `<path><promote execution name>/decision` ([`approval_parameter`]). Only the API's role may
/// write under it (the template scopes PutParameter to it); `check_approval` reads it.
pub const APPROVALS_PATH: &str = "/rehearsal/approvals/";
/// The error a promotion ends with when its approval was rejected.
pub const APPROVAL_REJECTED: &str = "ApprovalRejected";
/// How long a promotion waits for its decision before it ends unpromoted.
pub const APPROVAL_WAIT_HOURS: i64 = 72;
/// The longest comment a decision keeps; the rest is cut (it reaches alerts, marked untrusted).
pub const MAX_COMMENT: usize = 500;
/// The longest principal ARN accepted (IAM's own limit for an assumed-role ARN is lower).
const MAX_PRINCIPAL: usize = 2048;
/// On the pre-deployment copy restored during a rollback: the snapshot it came from. Tells the
/// restored instance from the damaged one once both have carried the production name.
pub const RESTORED_FROM_KEY: &str = "rehearsal:restored-from";
/// On the damaged instance kept for forensics: the day after which it may be deleted.
pub const RETAIN_UNTIL_KEY: &str = "rehearsal:retain-until";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Approval {
    /// Wait for an operator's decision (the default).
    #[default]
    Required,
    /// Promote without asking (e.g. a pipeline that approved elsewhere). Refused unless the
    /// stack's `AllowApprovalSkip` parameter is `true`.
    Skip,
}

/// The promotion document: what the API, the CLI or a console execution sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PromoteInput {
    /// The staging run's id; must match what that execution reports.
    pub run_id: String,
    /// The staging execution that passed.
    pub staging_execution_arn: String,
    pub approval: Approval,
    /// Days the damaged database of a rolled-back promotion is kept (stopped) for forensics.
    pub forensics_retention_days: u32,
    /// Minutes staging stays up after a successful promotion before its teardown fires.
    pub teardown_delay_minutes: u32,
    /// For a production service App Runner builds from source: deploy its branch's head, which
    /// staging may not have run (a commit pushed since staging built is deployed unrehearsed).
    /// Refused unless set: an image release promotes exactly the digest staging ran.
    pub accept_branch_head: bool,
    /// Who asked for the promotion: the caller's IAM principal ARN, as the API saw it
    /// (`POST /runs/{id}/promote`). Required unless the approval is skipped; its approver must be
    /// someone else.
    pub requested_by: Option<String>,
}

impl Default for PromoteInput {
    fn default() -> Self {
        Self {
            run_id: String::new(),
            staging_execution_arn: String::new(),
            approval: Approval::Required,
            forensics_retention_days: 14,
            teardown_delay_minutes: 60,
            accept_branch_head: false,
            requested_by: None,
        }
    }
}

impl PromoteInput {
    pub fn from_json(value: serde_json::Value) -> Result<Self, StepError> {
        if value.get("release_image").is_some() {
            return Err(StepError::invalid(
                "release_image",
                "is not accepted in the promotion document: a promotion deploys the image digest the staging run ran (its output's release)",
            ));
        }
        check_document_size(&value)?;
        let input: PromoteInput = parse_document(value, "the promotion document")?;
        input.validate()?;
        Ok(input)
    }

    fn validate(&self) -> Result<(), StepError> {
        if self.run_id.is_empty() {
            return Err(StepError::invalid("run_id", "names the staging run to promote; it is required"));
        }
        if let Some(problem) = run_id_problem(&self.run_id) {
            return Err(StepError::invalid("run_id", problem));
        }
        if let Some(problem) = execution_arn_problem(&self.staging_execution_arn) {
            return Err(StepError::invalid("staging_execution_arn", format!("must be the ARN of the staging run's execution: {problem}")));
        }
        if !(1..=365).contains(&self.forensics_retention_days) {
            return Err(StepError::invalid("forensics_retention_days", format!("{} is outside 1 to 365", self.forensics_retention_days)));
        }
        if self.teardown_delay_minutes > 7 * 24 * 60 {
            return Err(StepError::invalid("teardown_delay_minutes", "is more than a week"));
        }
        match &self.requested_by {
            Some(principal) => match principal_arn_problem(principal, MAX_PRINCIPAL) {
                Some(problem) => Err(StepError::invalid("requested_by", format!("must be an IAM principal ARN: {problem}"))),
                None => Ok(()),
            },
            None if self.approval == Approval::Required => Err(StepError::invalid(
                "requested_by",
                "names who asked for the promotion (its approver must be someone else); it is required",
            )),
            _ => Ok(()),
        }
    }
}

/// `$.promotion` in the promote state machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Promotion {
    /// The staging run's plan: production facts, names, validation settings.
    pub plan: RunPlan,
    pub staging_execution_arn: String,
    pub started_at: DateTime<Utc>,
    /// What the promotion creates carries the run id with environment `production`.
    pub tags: RunTags,
    pub approval_required: bool,
    /// The backup taken right before the deployment (the Rollback Plan's "pre-deployment snapshot").
    pub snapshot_id: String,
    /// Where a rollback restores that snapshot before it takes production's name.
    pub restored_db_id: String,
    /// The name the damaged instance is moved to.
    pub damaged_db_id: String,
    pub retain_damaged_until: DateTime<Utc>,
    /// The digest-pinned image the staging run ran (its output's `release.image`): the only
    /// image this promotion deploys. `None`: production builds its branch's head.
    pub release_image: Option<String>,
    /// Production builds its branch's head, which staging may not have run; the document
    /// accepted that (`accept_branch_head`). The report and the alert say so.
    pub branch_head_accepted: bool,
    /// What production is given, in words for the report and the alert.
    pub deploys: String,
    pub teardown_delay_minutes: u32,
    /// `$$.Execution.Name` of the promotion: keys its decision parameter.
    pub execution_name: String,
    pub requested_by: Option<String>,
}

impl Promotion {
    pub fn new(plan: RunPlan, input: &PromoteInput, started_at: DateTime<Utc>, execution_name: &str) -> Result<Self, StepError> {
        let release_image = plan.release.image.clone();
        let [snapshot_id, restored_db_id, damaged_db_id] = promotion_identifiers(&plan.production.db_instance_id, started_at);
        for id in [&snapshot_id, &restored_db_id, &damaged_db_id] {
            if let Some(problem) = rds_identifier_problem(id) {
                return Err(StepError::invalid("production.db_instance_id", format!("the promotion's identifier {id:?} {problem}")));
            }
        }
        Ok(Promotion {
            tags: RunTags { app: plan.app.clone(), environment: PRODUCTION_ENVIRONMENT.to_string(), run_id: plan.run_id.clone() },
            staging_execution_arn: input.staging_execution_arn.clone(),
            started_at,
            approval_required: input.approval == Approval::Required,
            snapshot_id,
            restored_db_id,
            damaged_db_id,
            retain_damaged_until: started_at + chrono::Duration::days(i64::from(input.forensics_retention_days)),
            branch_head_accepted: release_image.is_none() && input.accept_branch_head,
            deploys: match (&release_image, &plan.release.branch) {
                (Some(image), _) => format!("the image staging ran, {image}"),
                (None, branch) => format!(
                    "the head of its branch {} as App Runner builds it now, which staging may not have run (accepted by accept_branch_head)",
                    branch.as_deref().unwrap_or("(production's)")
                ),
            },
            release_image,
            teardown_delay_minutes: input.teardown_delay_minutes,
            execution_name: execution_name.to_string(),
            requested_by: input.requested_by.clone(),
            plan,
        })
    }

    pub fn approval_parameter(&self) -> String {
        approval_parameter(&self.execution_name)
    }

    /// When an unanswered approval gives up.
    pub fn approval_deadline(&self) -> DateTime<Utc> {
        self.started_at + chrono::Duration::hours(APPROVAL_WAIT_HOURS)
    }
}

/// The String parameter the API writes an operator's decision on the promote execution named
/// `execution_name` to (a JSON [`ApprovalDecision`]).
pub fn approval_parameter(execution_name: &str) -> String {
    format!("{APPROVALS_PATH}{execution_name}/decision")
}

/// The same IAM principal: ARNs compare without case (IAM names are case-insensitive).
pub fn same_principal(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// `APPROVERS` / `${Approvers}`: principal ARNs separated by commas; empty means anyone but the
/// requester.
pub fn parse_approvers(list: &str) -> Vec<String> {
    list.split(',').map(str::trim).filter(|a| !a.is_empty()).map(str::to_string).collect()
}

/// The first `MAX_COMMENT` characters of a comment, with a mark when cut.
pub fn bounded_comment(comment: &str) -> String {
    match comment.char_indices().nth(MAX_COMMENT) {
        Some((end, _)) => format!("{}… (cut)", &comment[..end]),
        None => comment.to_string(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Approved,
    Rejected,
}

/// An operator's decision, as the API writes it to [`approval_parameter`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalDecision {
    pub verdict: Verdict,
    /// The approver's (or rejecter's) IAM principal ARN, as the API saw it.
    pub by: String,
    /// The requester the promotion carries; `check_approval` compares both.
    pub requested_by: String,
    /// The promote execution's start: a decision left by an earlier execution of the same name
    /// does not count for this one.
    pub promotion_started_at: DateTime<Utc>,
    pub decided_at: DateTime<Utc>,
    /// Bounded ([`MAX_COMMENT`]); untrusted text.
    pub comment: Option<String>,
}

impl ApprovalDecision {
    /// Writes the decision (overwriting an earlier one of the same execution: the last word counts
    /// until the machine reads it).
    pub async fn write<C: crate::cloud::ParameterStore + Sync>(
        &self,
        cloud: &C,
        execution_name: &str,
    ) -> crate::cloud::CloudResult<String> {
        let text = serde_json::to_string(self).expect("a decision encodes");
        cloud.put_parameter(&approval_parameter(execution_name), &crate::Secret::new(text), crate::cloud::ParameterKind::String, true).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_document_is_checked_field_by_field() {
        let arn = "arn:aws:states:us-east-1:123456789012:execution:rehearsal-staging:x";
        let who = "arn:aws:iam::123456789012:user/dev";
        let run = "tableicty-20261124090000-9ad76926";
        let ok = PromoteInput::from_json(json!({"run_id": run, "staging_execution_arn": arn, "requested_by": who})).unwrap();
        assert_eq!((ok.approval, ok.forensics_retention_days, ok.requested_by.as_deref()), (Approval::Required, 14, Some(who)));
        // Nobody approves a skipped approval, so it needs no requester (the stack decides whether it may be skipped).
        let skip = PromoteInput::from_json(json!({"run_id": run, "staging_execution_arn": arn, "approval": "skip"})).unwrap();
        assert_eq!(skip.approval, Approval::Skip);
        let field = |doc: serde_json::Value| match PromoteInput::from_json(doc) {
            Err(StepError::InvalidInput { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(json!({"staging_execution_arn": arn, "requested_by": who})), "run_id");
        assert_eq!(field(json!({"run_id": run, "staging_execution_arn": arn})), "requested_by");
        assert_eq!(field(json!({"run_id": run, "staging_execution_arn": arn, "requested_by": "someone"})), "requested_by");
        assert_eq!(field(json!({"run_id": run, "staging_execution_arn": "x", "requested_by": who})), "staging_execution_arn");
        assert_eq!(field(json!({"run_id": run, "staging_execution_arn": arn, "approval": "maybe"})), "approval");
        assert_eq!(field(json!({"run_id": run, "staging_execution_arn": arn, "forensics_retention_days": 0})), "forensics_retention_days");
        assert_eq!(field(json!({"run_id": run, "staging_execution_arn": arn, "bogus": 1})), "bogus");
        // AWS's formats, before any call (tests/steps/promote.rs: and no call is made).
        assert_eq!(field(json!({"run_id": "r", "staging_execution_arn": arn, "requested_by": who})), "run_id");
        let machine = "arn:aws:states:us-east-1:123456789012:stateMachine:rehearsal-staging";
        assert_eq!(field(json!({"run_id": run, "staging_execution_arn": machine, "requested_by": who})), "staging_execution_arn");
        let other_account = "arn:aws:iam::1234:user/dev";
        assert_eq!(field(json!({"run_id": run, "staging_execution_arn": arn, "requested_by": other_account})), "requested_by");
        // The image a promotion deploys is the staging run's, never the document's.
        assert_eq!(field(json!({"run_id": run, "staging_execution_arn": arn, "requested_by": who, "release_image": "x"})), "release_image");
    }

    #[test]
    fn comments_are_bounded_and_approver_lists_parsed() {
        assert_eq!(bounded_comment("ship it"), "ship it");
        let long = "é".repeat(MAX_COMMENT + 10);
        assert_eq!(bounded_comment(&long).chars().count(), MAX_COMMENT + "… (cut)".chars().count());
        assert_eq!(parse_approvers(" arn:a , ,arn:b"), ["arn:a", "arn:b"]);
        assert!(parse_approvers("").is_empty());
        assert!(same_principal("arn:aws:iam::1:user/Ops", "arn:aws:iam::1:user/ops"));
        assert_eq!(approval_parameter("promote-42"), "/rehearsal/approvals/promote-42/decision");
    }
}
