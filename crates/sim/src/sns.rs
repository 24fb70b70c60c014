//! SNS: topics the state machines publish their alerts to (`arn:aws:states:::sns:publish`, which
//! the local runner's invoker serves with [`SimCloud::publish`]).

use crate::account::{Api, SimCloud};
use crate::ledger::Notification;
use rehearsal_core::cloud::CloudResult;
use rehearsal_core::{CloudError, CloudErrorKind};

impl SimCloud {
    /// Publishes to a topic of the account; answers the message id.
    pub fn publish(&self, topic_arn: &str, subject: Option<&str>, message: &str) -> CloudResult<String> {
        self.aws(Api { service: "sns", action: "Publish" }, |w, ctx| {
            if !w.topics.contains(topic_arn) {
                return Err(CloudError::new(CloudErrorKind::NotFound, "NotFound", format!("Topic does not exist: {topic_arn}")));
            }
            // SNS limits: subject 100 characters, message 256 KiB.
            if subject.is_some_and(|s| s.is_empty() || s.chars().count() > 100) || message.is_empty() || message.len() > 256 * 1024 {
                return Err(CloudError::new(CloudErrorKind::Fatal, "InvalidParameter", "Invalid parameter: Subject or Message"));
            }
            let message_id = w.ids.uuid();
            w.ledger.notifications.push(Notification {
                topic_arn: topic_arn.to_string(),
                subject: subject.map(str::to_string),
                message: message.to_string(),
                message_id: message_id.clone(),
                at: ctx.now,
            });
            Ok(message_id)
        })
    }
}
