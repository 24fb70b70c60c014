//! A thin Step Functions client for the API Lambda and the CLI: start a rehearsal, follow it,
//! and answer the task tokens its approval steps wait on.

use crate::error::{absent_if_not_found, from_sdk};
use aws_config::SdkConfig;
use aws_sdk_sfn::primitives::DateTime as SdkDateTime;
use aws_sdk_sfn::types::HistoryEvent;
use chrono::{DateTime, Utc};
use rehearsal_core::cloud::{CloudResult, ExecutionInfo, Executions};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartedExecution {
    pub execution_arn: String,
    pub start_date: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionDescription {
    pub execution_arn: String,
    pub state_machine_arn: String,
    pub name: Option<String>,
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`, `PENDING_REDRIVE`.
    pub status: String,
    pub start_date: Option<DateTime<Utc>>,
    pub stop_date: Option<DateTime<Utc>>,
    pub input: Option<String>,
    pub output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
}

fn to_chrono(t: &SdkDateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

#[derive(Debug, Clone)]
pub struct StepFunctions {
    pub client: aws_sdk_sfn::Client,
}

impl StepFunctions {
    pub fn new(config: &SdkConfig) -> Self {
        Self { client: aws_sdk_sfn::Client::new(config) }
    }

    /// `name` makes the start idempotent: while the execution runs, a second start with the same
    /// name and input answers it again; otherwise `ExecutionAlreadyExists` (AlreadyExists).
    pub async fn start_execution(&self, state_machine_arn: &str, name: &str, input: &str) -> CloudResult<StartedExecution> {
        let out =
            self.client.start_execution().state_machine_arn(state_machine_arn).name(name).input(input).send().await.map_err(from_sdk)?;
        Ok(StartedExecution { execution_arn: out.execution_arn().to_string(), start_date: to_chrono(out.start_date()) })
    }

    /// `Ok(None)` when the ARN names no execution.
    pub async fn describe_execution(&self, execution_arn: &str) -> CloudResult<Option<ExecutionDescription>> {
        let out = absent_if_not_found(self.client.describe_execution().execution_arn(execution_arn).send().await.map_err(from_sdk))?;
        Ok(out.map(|o| ExecutionDescription {
            execution_arn: o.execution_arn().to_string(),
            state_machine_arn: o.state_machine_arn().to_string(),
            name: o.name().map(str::to_string),
            status: o.status().as_str().to_string(),
            start_date: to_chrono(o.start_date()),
            stop_date: o.stop_date().and_then(to_chrono),
            input: o.input().map(str::to_string),
            output: o.output().map(str::to_string),
            error: o.error().map(str::to_string),
            cause: o.cause().map(str::to_string),
        }))
    }

    /// Every event of the execution, oldest first, across all pages.
    pub async fn execution_history(&self, execution_arn: &str) -> CloudResult<Vec<HistoryEvent>> {
        let mut pages = self.client.get_execution_history().execution_arn(execution_arn).into_paginator().send();
        let mut events = Vec::new();
        while let Some(page) = pages.next().await {
            events.extend(page.map_err(from_sdk)?.events().iter().cloned());
        }
        Ok(events)
    }

    pub async fn send_task_success(&self, task_token: &str, output: &str) -> CloudResult<()> {
        self.client.send_task_success().task_token(task_token).output(output).send().await.map_err(from_sdk)?;
        Ok(())
    }

    pub async fn send_task_failure(&self, task_token: &str, error: &str, cause: &str) -> CloudResult<()> {
        self.client.send_task_failure().task_token(task_token).error(error).cause(cause).send().await.map_err(from_sdk)?;
        Ok(())
    }
}

impl Executions for crate::AwsCloud {
    async fn describe_execution(&self, arn: &str) -> CloudResult<Option<ExecutionInfo>> {
        let Some(execution) = (StepFunctions { client: self.sfn.clone() }).describe_execution(arn).await? else {
            return Ok(None);
        };
        let start = execution
            .start_date
            .ok_or_else(|| crate::error::unsupported("MissingInResponse", format!("DescribeExecution answered no start date for {arn}")))?;
        Ok(Some(ExecutionInfo {
            arn: execution.execution_arn,
            state_machine_arn: execution.state_machine_arn,
            status: execution.status,
            start,
            stop: execution.stop_date,
            input: execution.input,
            output: execution.output,
        }))
    }
}
