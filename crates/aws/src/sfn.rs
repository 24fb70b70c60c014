//! Step Functions: the one adapter behind [`Executions`] (a promotion reading the staging run)
//! and [`StateMachines`] (the API and the CLI starting runs and promotions, and following them).

use crate::error::{absent_if_not_found, from_sdk, unsupported};
use aws_config::SdkConfig;
use aws_sdk_sfn::primitives::DateTime as SdkDateTime;
use aws_sdk_sfn::types::ExecutionStatus;
use chrono::{DateTime, Utc};
use rehearsal_core::cloud::{CloudResult, ExecutionInfo, Executions, HistoryEvent, StartedExecution, StateExit, StateMachines};

/// Any SDK's timestamp (they all are aws-smithy-types' `DateTime`) in chrono.
pub(crate) fn to_chrono(t: &SdkDateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

fn history_event(event: &aws_sdk_sfn::types::HistoryEvent) -> HistoryEvent {
    HistoryEvent {
        kind: event.r#type().as_str().to_string(),
        entered: event.state_entered_event_details().map(|d| d.name().to_string()),
        exited: event.state_exited_event_details().map(|d| StateExit {
            name: d.name().to_string(),
            output: d.output().map(str::to_string),
            output_truncated: d.output_details().is_some_and(|o| o.truncated()),
        }),
    }
}

#[derive(Debug, Clone)]
pub struct StepFunctions {
    pub client: aws_sdk_sfn::Client,
}

impl StepFunctions {
    pub fn new(config: &SdkConfig) -> Self {
        Self { client: aws_sdk_sfn::Client::new(config) }
    }

    /// Every event of the execution as the SDK answers it, oldest first, across all pages: for
    /// readers that need more of an event than [`HistoryEvent`] keeps (task parameters, inputs).
    pub async fn sdk_history(&self, execution_arn: &str) -> CloudResult<Vec<aws_sdk_sfn::types::HistoryEvent>> {
        let mut pages = self.client.get_execution_history().execution_arn(execution_arn).into_paginator().send();
        let mut events = Vec::new();
        while let Some(page) = pages.next().await {
            events.extend(page.map_err(from_sdk)?.events().iter().cloned());
        }
        Ok(events)
    }
}

impl Executions for StepFunctions {
    async fn describe_execution(&self, arn: &str) -> CloudResult<Option<ExecutionInfo>> {
        let Some(o) = absent_if_not_found(self.client.describe_execution().execution_arn(arn).send().await.map_err(from_sdk))? else {
            return Ok(None);
        };
        let start = to_chrono(o.start_date())
            .ok_or_else(|| unsupported("MissingInResponse", format!("DescribeExecution answered no start date for {arn}")))?;
        Ok(Some(ExecutionInfo {
            arn: o.execution_arn().to_string(),
            state_machine_arn: o.state_machine_arn().to_string(),
            name: o.name().map(str::to_string),
            status: o.status().as_str().to_string(),
            start,
            stop: o.stop_date().and_then(to_chrono),
            input: o.input().map(str::to_string),
            output: o.output().map(str::to_string),
            error: o.error().map(str::to_string),
            cause: o.cause().map(str::to_string),
        }))
    }
}

impl StateMachines for StepFunctions {
    /// `name` makes the start idempotent: while the execution runs, a second start with the same
    /// name and input answers it again; otherwise `ExecutionAlreadyExists` (AlreadyExists).
    async fn start_execution(&self, state_machine_arn: &str, name: &str, input: &str) -> CloudResult<StartedExecution> {
        let out =
            self.client.start_execution().state_machine_arn(state_machine_arn).name(name).input(input).send().await.map_err(from_sdk)?;
        Ok(StartedExecution { execution_arn: out.execution_arn().to_string(), start_date: to_chrono(out.start_date()) })
    }

    async fn execution_history(&self, execution_arn: &str) -> CloudResult<Vec<HistoryEvent>> {
        Ok(self.sdk_history(execution_arn).await?.iter().map(history_event).collect())
    }

    async fn running_executions(&self, state_machine_arn: &str) -> CloudResult<Vec<String>> {
        let mut arns = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .client
                .list_executions()
                .state_machine_arn(state_machine_arn)
                .status_filter(ExecutionStatus::Running)
                .set_next_token(token)
                .send()
                .await
                .map_err(from_sdk)?;
            arns.extend(out.executions().iter().map(|e| e.execution_arn().to_string()));
            match out.next_token() {
                Some(next) => token = Some(next.to_string()),
                None => return Ok(arns),
            }
        }
    }

    async fn redrive_execution(&self, execution_arn: &str, client_token: &str) -> CloudResult<Option<DateTime<Utc>>> {
        let out = self.client.redrive_execution().execution_arn(execution_arn).client_token(client_token).send().await.map_err(from_sdk)?;
        Ok(to_chrono(out.redrive_date()))
    }
}

impl Executions for crate::AwsCloud {
    fn describe_execution(&self, arn: &str) -> impl std::future::Future<Output = CloudResult<Option<ExecutionInfo>>> + Send {
        self.sfn.describe_execution(arn)
    }
}
