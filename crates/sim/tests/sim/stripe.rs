//! Stripe's webhook endpoints: the secret only on creation, test and live accounts apart.

use crate::common::{account, tags, RUN};
use rehearsal_core::cloud::PaymentWebhooks;
use rehearsal_core::{CloudErrorKind, Secret};

#[tokio::test(start_paused = true)]
async fn endpoints_reveal_their_secret_once_and_stay_in_their_mode() {
    let account = account();
    let stripe = account.session("register_stripe_webhook");
    let test = Secret::new("sk_test_abc");
    let events = vec!["invoice.paid".to_string()];
    let created = stripe.create_webhook(&test, "https://x.awsapprunner.com/hook/", &events, &tags()).await.unwrap();
    assert!(created.secret.as_ref().is_some_and(|s| s.expose().starts_with("whsec_")));
    let listed = stripe.list_webhooks(&test).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].id.as_str(), listed[0].secret.is_none(), &listed[0].metadata), (created.id.as_str(), true, &tags()));
    assert_eq!(account.leftovers(RUN).len(), 1, "a created endpoint is a leftover until deleted");
    assert!(stripe.list_webhooks(&Secret::new("sk_live_abc")).await.unwrap().is_empty(), "live account sees test endpoints");
    let wrong_mode = stripe.delete_webhook(&Secret::new("sk_live_abc"), &created.id).await.unwrap_err();
    assert_eq!(wrong_mode.kind, CloudErrorKind::NotFound);
    let bad_key = stripe.list_webhooks(&Secret::new("not-a-key")).await.unwrap_err();
    assert_eq!(bad_key.kind, CloudErrorKind::AccessDenied);
    assert!(!bad_key.message.contains("not-a-key"), "the key is echoed: {bad_key}");
    stripe.delete_webhook(&test, &created.id).await.unwrap();
    assert_eq!(stripe.delete_webhook(&test, &created.id).await.unwrap_err().kind, CloudErrorKind::NotFound);
    assert!(account.leftovers(RUN).is_empty());
}
