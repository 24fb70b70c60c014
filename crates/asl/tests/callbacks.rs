//! Callback tasks (`lambda:invoke.waitForTaskToken` with `$$.Task.Token`) and the SNS Publish
//! integration, through the public API on tokio's paused clock. The invoker here plays the
//! Lambda and the operator: it answers each token after a delay, or never.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use rehearsal_asl::{run, Definition, Outcome, RunOptions, TaskCall, TaskFailure, TaskInvoker, SNS_PUBLISH};
use serde_json::{json, Value};

/// How the operator answers a token.
#[derive(Clone)]
enum Answer {
    Success(Value),
    Failure(&'static str),
    Never,
}

struct Operator {
    answers: RefCell<Vec<Answer>>,
    after: Duration,
    calls: RefCell<Vec<TaskCall>>,
}

impl Operator {
    fn new(answers: Vec<Answer>, after: Duration) -> Self {
        Self { answers: RefCell::new(answers), after, calls: RefCell::default() }
    }
}

impl TaskInvoker for Operator {
    fn invoke<'a>(&'a self, call: TaskCall) -> Pin<Box<dyn Future<Output = Result<Value, TaskFailure>> + 'a>> {
        Box::pin(async move {
            self.calls.borrow_mut().push(call.clone());
            if call.resource == SNS_PUBLISH {
                return Ok(json!({"MessageId": "m-1"}));
            }
            if call.task_token.is_none() {
                return Ok(json!({"lambda": "answered"}));
            }
            let answer = self.answers.borrow_mut().remove(0);
            tokio::time::sleep(self.after).await;
            match answer {
                Answer::Success(output) => Ok(output),
                Answer::Failure(error) => Err(TaskFailure { error: error.into(), cause: "the operator said no".into() }),
                Answer::Never => std::future::pending().await,
            }
        })
    }
}

fn approval_machine(extra: Value) -> Definition {
    let mut task = json!({
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:ask", "Payload": {"token.$": "$$.Task.Token", "run.$": "$.run"}},
        "ResultPath": "$.answer",
        "Catch": [{"ErrorEquals": ["ApprovalRejected"], "ResultPath": "$.rejected", "Next": "Rejected"}],
        "Next": "Done"
    });
    task.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let machine = json!({"StartAt": "Ask", "States": {"Ask": task, "Done": {"Type": "Succeed"}, "Rejected": {"Type": "Fail", "Error": "NotApproved"}}});
    Definition::parse(&machine.to_string()).expect("a valid definition")
}

fn options() -> RunOptions {
    RunOptions { start_time: Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap(), ..RunOptions::default() }
}

#[tokio::test(start_paused = true)]
async fn the_task_waits_for_its_token_and_takes_the_callback_output_unwrapped() {
    let operator = Operator::new(vec![Answer::Success(json!({"approved_by": "ops"}))], Duration::from_secs(3 * 3600));
    let execution = run(&approval_machine(json!({})), json!({"run": "r-1"}), &operator, &(), &options()).await.unwrap();
    match execution.outcome {
        Outcome::Succeeded { output } => assert_eq!(output, json!({"run": "r-1", "answer": {"approved_by": "ops"}})),
        other => panic!("{other:?}"),
    }
    assert!(execution.elapsed >= Duration::from_secs(3 * 3600), "the execution did not wait: {:?}", execution.elapsed);
    let calls = operator.calls.borrow();
    let token = calls[0].task_token.clone().expect("a callback call carries its token");
    assert_eq!(calls[0].input, json!({"token": token, "run": "r-1"}), "the Payload got $$.Task.Token");
    assert!(token.len() >= 40, "an opaque token: {token}");
}

#[tokio::test(start_paused = true)]
async fn send_task_failure_is_the_tasks_error_for_catch() {
    let operator = Operator::new(vec![Answer::Failure("ApprovalRejected")], Duration::from_secs(60));
    let execution = run(&approval_machine(json!({})), json!({"run": "r-1"}), &operator, &(), &options()).await.unwrap();
    assert_eq!(execution.outcome, Outcome::Failed { error: "NotApproved".into(), cause: String::new() });
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_token_times_out_at_the_tasks_timeout() {
    let operator = Operator::new(vec![Answer::Never], Duration::ZERO);
    let execution = run(&approval_machine(json!({"TimeoutSeconds": 7200})), json!({"run": "r"}), &operator, &(), &options()).await.unwrap();
    match execution.outcome {
        Outcome::Failed { error, .. } => assert_eq!(error, "States.Timeout"),
        other => panic!("{other:?}"),
    }
    assert_eq!(execution.elapsed, Duration::from_secs(7200));
}

#[tokio::test(start_paused = true)]
async fn each_attempt_gets_a_new_token() {
    let operator = Operator::new(vec![Answer::Failure("Flaky"), Answer::Success(json!(1))], Duration::from_secs(1));
    let retry = json!({"Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 1, "MaxAttempts": 1}]});
    let execution = run(&approval_machine(retry), json!({"run": "r"}), &operator, &(), &options()).await.unwrap();
    assert!(matches!(execution.outcome, Outcome::Succeeded { .. }), "{:?}", execution.outcome);
    let calls = operator.calls.borrow();
    assert_eq!(calls.len(), 2);
    assert_ne!(calls[0].task_token, calls[1].task_token);
}

#[tokio::test(start_paused = true)]
async fn sns_publish_goes_to_the_invoker_by_its_resource_name() {
    let machine = json!({"StartAt": "Alert", "States": {"Alert": {
        "Type": "Task",
        "Resource": "arn:aws:states:::sns:publish",
        "Parameters": {"TopicArn": "arn:aws:sns:us-east-1:123456789012:alerts", "Subject": "done", "Message.$": "States.Format('run {} done', $.run)"},
        "ResultPath": "$.published",
        "End": true
    }}});
    let operator = Operator::new(vec![], Duration::ZERO);
    let definition = Definition::parse(&machine.to_string()).unwrap();
    let execution = run(&definition, json!({"run": "r-9"}), &operator, &(), &options()).await.unwrap();
    assert_eq!(execution.outcome, Outcome::Succeeded { output: json!({"run": "r-9", "published": {"MessageId": "m-1"}}) });
    let calls = operator.calls.borrow();
    assert_eq!((calls[0].resource.as_str(), calls[0].task_token.as_ref()), (SNS_PUBLISH, None));
    assert_eq!(
        calls[0].input,
        json!({"TopicArn": "arn:aws:sns:us-east-1:123456789012:alerts", "Subject": "done", "Message": "run r-9 done"})
    );
}

#[test]
fn malformed_integrations_are_refused_naming_the_state() {
    let refused = |state: Value| {
        let machine = json!({"StartAt": "A", "States": {"A": state}});
        Definition::parse(&machine.to_string()).expect_err("refused").to_string()
    };
    let no_message =
        refused(json!({"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "Parameters": {"TopicArn": "t"}, "End": true}));
    assert!(no_message.contains("'A'") && no_message.contains("Message"), "{no_message}");
    let no_target =
        refused(json!({"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "Parameters": {"Message": "m"}, "End": true}));
    assert!(no_target.contains("TopicArn"), "{no_target}");
    let bogus = refused(
        json!({"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "Parameters": {"Message": "m", "TopicArn": "t", "Bogus": 1}, "End": true}),
    );
    assert!(bogus.contains("'Bogus'"), "{bogus}");
    let no_function = refused(
        json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken", "Parameters": {"Payload": {}}, "End": true}),
    );
    assert!(no_function.contains("FunctionName"), "{no_function}");
}
