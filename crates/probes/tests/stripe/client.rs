//! The client alone: requests, pagination, idempotency, error mapping, keys kept out of errors.

use crate::stand_in::{Scripted, StripeStandIn, PAGE_SIZE};
use rehearsal_core::cloud::PaymentWebhooks;
use rehearsal_core::tags::{Tags, RUN_KEY};
use rehearsal_core::{CloudError, CloudErrorKind, Secret};
use rehearsal_probes::{StripeClient, STRIPE_API_VERSION};
use serde_json::json;
use std::time::Duration;

pub const KEY: &str = "sk_test_51StandInKey0123456789";

fn key() -> Secret {
    Secret::new(KEY)
}

fn client(stand_in: &StripeStandIn) -> StripeClient {
    StripeClient::with_base_url(&stand_in.base_url, Duration::from_secs(5)).unwrap()
}

fn metadata(run: &str) -> Tags {
    Tags::from([("rehearsal:tool".to_string(), "rehearsal".to_string()), (RUN_KEY.to_string(), run.to_string())])
}

fn events() -> Vec<String> {
    vec!["invoice.paid".into(), "customer.subscription.deleted".into()]
}

/// Whether an error mentions the key or any recognisable part of it, in any formatting.
fn leaks(error: &CloudError, key: &str) -> bool {
    let tail = &key[key.len() - 8..];
    [format!("{error}"), format!("{error:?}")].iter().any(|text| text.contains(key) || text.contains(tail))
}

#[tokio::test]
async fn endpoints_are_created_listed_across_pages_and_deleted() {
    let stripe = StripeStandIn::start(KEY).await;
    let client = client(&stripe);
    // Two made by hand, three by the client: all five are listed.
    stripe.seed("https://hooks.example.com/stripe", Tags::new());
    stripe.seed("https://zapier.example.com/hook", Tags::from([("owner".to_string(), "ops".to_string())]));
    let mut created = Vec::new();
    for i in 2..5 {
        let url = format!("https://staging-{i}.example.com/api/v1/billing/webhook/");
        created.push(client.create_webhook(&key(), &url, &events(), &metadata(&format!("run-{i}"))).await.unwrap());
    }
    let stored = stripe.endpoints();
    let newest = &created[2];
    let url = "https://staging-4.example.com/api/v1/billing/webhook/";
    // What Stripe read from the form (metadata keys with ':' included) and what the client read back.
    assert_eq!((stored[0].url.as_str(), &stored[0].enabled_events, &stored[0].metadata), (url, &events(), &metadata("run-4")));
    assert_eq!(
        (newest.id.as_str(), newest.url.as_str(), &newest.enabled_events, &newest.metadata),
        (stored[0].id.as_str(), url, &events(), &metadata("run-4"))
    );
    assert_eq!(newest.secret.as_ref().map(Secret::expose), Some(stored[0].secret.as_str()), "the secret comes with the creation");

    let listed = client.list_webhooks(&key()).await.unwrap();
    let listed_ids: Vec<&str> = listed.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(listed_ids, stored.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), "every page, in Stripe's order");
    assert!(listed.iter().all(|e| e.secret.is_none()), "a list never carries secrets");
    assert_eq!((&listed[2].metadata, &listed[4].metadata), (&metadata("run-2"), &Tags::new()));

    // Five endpoints in pages of two: three GETs, each after the last id of the page before.
    let gets: Vec<String> = stripe.requests().into_iter().filter(|r| r.method == "GET").map(|r| r.path).collect();
    let after = |id: &str| format!("/v1/webhook_endpoints?limit=100&starting_after={id}");
    assert_eq!(
        gets,
        vec!["/v1/webhook_endpoints?limit=100".to_string(), after(&stored[PAGE_SIZE - 1].id), after(&stored[2 * PAGE_SIZE - 1].id)]
    );

    let gone = &created[0].id;
    client.delete_webhook(&key(), gone).await.unwrap();
    assert_eq!(client.list_webhooks(&key()).await.unwrap().len(), 4);
    assert!(stripe.endpoints().iter().all(|e| e.id != *gone));
    let again = client.delete_webhook(&key(), gone).await.unwrap_err();
    assert_eq!((again.kind, again.code.as_str()), (CloudErrorKind::NotFound, "resource_missing"), "{again}");
    assert!(again.message.contains(gone.as_str()), "{again}");
}

#[tokio::test]
async fn an_endpoint_is_pointed_at_a_new_url_and_keeps_its_secret() {
    let stripe = StripeStandIn::start(KEY).await;
    let client = client(&stripe);
    let created = client.create_webhook(&key(), "https://old.example.com/hook/", &events(), &metadata("r")).await.unwrap();
    let url = "https://d111111abcdef8.cloudfront.net/api/v1/billing/webhook/?mode=staging&a=b c";

    let updated = client.update_webhook_url(&key(), &created.id, url).await.unwrap();
    assert_eq!((updated.id.as_str(), updated.url.as_str()), (created.id.as_str(), url));
    assert_eq!((&updated.enabled_events, &updated.metadata), (&events(), &metadata("r")), "only the URL changes");
    assert_eq!(updated.secret, None, "Stripe reveals the secret only to the creation");
    let stored = stripe.endpoints();
    assert_eq!((stored[0].url.as_str(), Some(stored[0].secret.as_str())), (url, created.secret.as_ref().map(Secret::expose)));

    let request = stripe.requests().pop().unwrap();
    assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", format!("/v1/webhook_endpoints/{}", created.id).as_str()));
    assert_eq!(request.header("content-type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(
        url::form_urlencoded::parse(request.body.as_bytes()).into_owned().collect::<Vec<_>>(),
        [("url".to_string(), url.to_string())]
    );
    assert_eq!(request.header("authorization"), Some(format!("Bearer {KEY}").as_str()));
    assert_eq!(request.header("stripe-version"), Some(STRIPE_API_VERSION));

    let missing = client.update_webhook_url(&key(), "we_gone", url).await.unwrap_err();
    assert_eq!((missing.kind, missing.code.as_str()), (CloudErrorKind::NotFound, "resource_missing"), "{missing}");
    let wrong = client.update_webhook_url(&Secret::new("sk_test_51WrongKeyQwErTy987"), &created.id, url).await.unwrap_err();
    assert!(wrong.kind == CloudErrorKind::AccessDenied && !leaks(&wrong, "sk_test_51WrongKeyQwErTy987"), "{wrong:?}");
}

#[tokio::test]
async fn every_request_is_authenticated_and_pinned_and_creations_carry_an_idempotency_key() {
    let stripe = StripeStandIn::start(KEY).await;
    let client = client(&stripe);
    let created = client.create_webhook(&key(), "https://a.example.com/hook/", &events(), &metadata("tableicty-20251225")).await.unwrap();
    client.list_webhooks(&key()).await.unwrap();
    client.delete_webhook(&key(), &created.id).await.unwrap();

    let requests = stripe.requests();
    let methods: Vec<&str> = requests.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(methods, ["POST", "GET", "DELETE"]);
    for request in &requests {
        assert_eq!(request.header("authorization"), Some(format!("Bearer {KEY}").as_str()), "{request:?}");
        assert_eq!(request.header("stripe-version"), Some(STRIPE_API_VERSION), "{request:?}");
    }
    assert_eq!(requests[2].path, format!("/v1/webhook_endpoints/{}", created.id));
    let idempotency_key = requests[0].header("idempotency-key").unwrap();
    assert!(idempotency_key.starts_with("rehearsal-tableicty-20251225-"), "{idempotency_key}");
    assert!(requests[1..].iter().all(|r| r.header("idempotency-key").is_none()), "only creations need one");
}

#[tokio::test]
async fn a_lost_answer_is_sent_again_under_the_same_key_and_makes_one_endpoint() {
    let stripe = StripeStandIn::start(KEY).await;
    // The connection drops after Stripe created the endpoint.
    stripe.script(Scripted::HangUp);
    let created = client(&stripe).create_webhook(&key(), "https://a.example.com/hook/", &events(), &metadata("r")).await.unwrap();
    // The answer arrives only after the client stopped waiting.
    stripe.script(Scripted::Slow(Duration::from_secs(2)));
    let quick = StripeClient::with_base_url(&stripe.base_url, Duration::from_millis(300)).unwrap();
    let second = quick.create_webhook(&key(), "https://b.example.com/hook/", &events(), &metadata("r")).await.unwrap();

    let stored = stripe.endpoints();
    assert_eq!(stored.len(), 2, "one endpoint per creation: {stored:?}");
    assert_eq!(
        (created.id.as_str(), created.secret.as_ref().map(Secret::expose)),
        (stored[1].id.as_str(), Some(stored[1].secret.as_str()))
    );
    assert_eq!((second.id.as_str(), second.secret.as_ref().map(Secret::expose)), (stored[0].id.as_str(), Some(stored[0].secret.as_str())));
    let keys: Vec<String> = stripe.requests().iter().map(|r| r.header("idempotency-key").unwrap().to_string()).collect();
    assert_eq!(keys.len(), 4);
    assert_eq!((&keys[0], &keys[2]), (&keys[1], &keys[3]), "each retry under its creation's key");
    assert_ne!(keys[0], keys[2]);
}

#[tokio::test]
async fn each_creation_has_a_key_of_its_own() {
    // The staging step deletes this run's endpoint and creates it again on a re-run: a key
    // shared by the two creations would replay the deleted endpoint.
    let stripe = StripeStandIn::start(KEY).await;
    let client = client(&stripe);
    let url = "https://a.example.com/hook/";
    let first = client.create_webhook(&key(), url, &events(), &metadata("r")).await.unwrap();
    client.delete_webhook(&key(), &first.id).await.unwrap();
    let second = client.create_webhook(&key(), url, &events(), &metadata("r")).await.unwrap();
    assert_ne!(first.id, second.id);
    assert_eq!(stripe.endpoints().iter().map(|e| &e.id).collect::<Vec<_>>(), [&second.id]);
}

#[tokio::test]
async fn failures_map_to_the_kinds_the_steps_retry_or_stop_on() {
    let stripe = StripeStandIn::start(KEY).await;
    let client = client(&stripe);
    let stripe_error = |kind: &str, code: Option<&str>, message: &str| {
        let mut error = json!({"type": kind, "message": message});
        if let Some(code) = code {
            error["code"] = json!(code);
        }
        json!({ "error": error })
    };
    let cases = [
        (429, stripe_error("invalid_request_error", Some("rate_limit"), "Too many requests."), CloudErrorKind::Throttled, "rate_limit"),
        (500, stripe_error("api_error", None, "Something went wrong on Stripe's end."), CloudErrorKind::Unavailable, "api_error"),
        (503, json!("<html>Service Unavailable</html>"), CloudErrorKind::Unavailable, "http_503"),
        (
            403,
            stripe_error("invalid_request_error", None, "This key lacks permissions."),
            CloudErrorKind::AccessDenied,
            "invalid_request_error",
        ),
        (400, stripe_error("invalid_request_error", Some("url_invalid"), "Invalid URL: not https"), CloudErrorKind::Fatal, "url_invalid"),
        (302, json!(""), CloudErrorKind::Fatal, "http_302"),
    ];
    for (status, body, kind, code) in cases {
        stripe.script(Scripted::Answer(status, body.clone()));
        let error = client.list_webhooks(&key()).await.unwrap_err();
        assert_eq!((error.kind, error.code.as_str()), (kind, code), "HTTP {status}: {error}");
        let expected =
            body.pointer("/error/message").and_then(|m| m.as_str()).map_or(format!("Stripe answered HTTP {status}"), str::to_string);
        assert_eq!(error.message, expected, "Stripe's message, or the status when the body is not Stripe's");
    }

    // A create answered (even with a 500) is not sent again: only a lost answer is.
    let posts = |s: &StripeStandIn| s.requests().iter().filter(|r| r.method == "POST").count();
    stripe.script(Scripted::Answer(500, stripe_error("api_error", None, "boom")));
    let error = client.create_webhook(&key(), "https://a.example.com/", &events(), &metadata("r")).await.unwrap_err();
    assert_eq!((error.kind, posts(&stripe)), (CloudErrorKind::Unavailable, 1));

    // Stripe's own validation, from the stand-in.
    let error = client.create_webhook(&key(), "https://a.example.com/", &[], &metadata("r")).await.unwrap_err();
    assert_eq!((error.kind, error.code.as_str()), (CloudErrorKind::Fatal, "parameter_missing"), "{error}");

    // Only Stripe's resource_missing is NotFound; a 404 for a wrong base URL must not read as
    // "already deleted" to a rollback.
    let wrong_base = StripeClient::with_base_url(&format!("{}/stripe", stripe.base_url), Duration::from_secs(5)).unwrap();
    let error = wrong_base.delete_webhook(&key(), "we_x").await.unwrap_err();
    assert_eq!((error.kind, error.code.as_str()), (CloudErrorKind::Fatal, "invalid_request_error"), "{error}");
    assert!(error.message.starts_with("Unrecognized request URL"), "{error}");
}

#[tokio::test]
async fn transport_failures_are_unavailable() {
    let stripe = StripeStandIn::start(KEY).await;
    stripe.script(Scripted::Slow(Duration::from_secs(2)));
    let quick = StripeClient::with_base_url(&stripe.base_url, Duration::from_millis(300)).unwrap();
    let error = quick.list_webhooks(&key()).await.unwrap_err();
    assert_eq!(
        (error.kind, error.code.as_str(), error.message.as_str()),
        (CloudErrorKind::Unavailable, "timeout", "Stripe did not answer within 1 s")
    );
    assert_eq!(stripe.requests().len(), 1, "a list is the state machine's to retry");

    stripe.script(Scripted::HangUp);
    let error = client(&stripe).delete_webhook(&key(), "we_x").await.unwrap_err();
    assert_eq!((error.kind, error.code.as_str()), (CloudErrorKind::Unavailable, "connection_lost"), "{error}");

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let nowhere = StripeClient::with_base_url(&format!("http://127.0.0.1:{closed}"), Duration::from_secs(5)).unwrap();
    let error = nowhere.create_webhook(&key(), "https://a.example.com/", &events(), &metadata("r")).await.unwrap_err();
    assert_eq!((error.kind, error.code.as_str()), (CloudErrorKind::Unavailable, "connection_failed"), "{error}");
    assert!(!leaks(&error, KEY), "{error}");
}

#[tokio::test]
async fn a_key_never_reaches_an_error() {
    let stripe = StripeStandIn::start(KEY).await;
    let client = client(&stripe);
    let wrong = "sk_test_51WrongKeyQwErTy987";
    // The stand-in quotes the rejected key whole.
    let error = client.list_webhooks(&Secret::new(wrong)).await.unwrap_err();
    assert_eq!((error.kind, error.code.as_str()), (CloudErrorKind::AccessDenied, "invalid_request_error"), "{error}");
    assert_eq!(error.message, "Invalid API Key provided: ***");
    assert!(stripe.requests()[0].body.is_empty() && !leaks(&error, wrong), "{error:?}");
    let error = client.delete_webhook(&Secret::new(wrong), "we_1").await.unwrap_err();
    assert!(error.kind == CloudErrorKind::AccessDenied && !leaks(&error, wrong), "{error:?}");

    // A key HTTP cannot carry (pasted with its line break) is refused before anything is sent.
    let pasted = format!("{KEY}\n");
    let error = client.list_webhooks(&Secret::new(&pasted)).await.unwrap_err();
    assert_eq!((error.kind, error.code.as_str()), (CloudErrorKind::Fatal, "invalid_request"), "{error}");
    assert!(!leaks(&error, KEY), "{error:?}");
    assert_eq!(stripe.requests().len(), 2);

    // Any Stripe key quoted in a message, Stripe's starred form included.
    let message = format!("Key {KEY} and rk_live_****************abcd cannot be used here.");
    stripe.script(Scripted::Answer(400, json!({"error": {"type": "invalid_request_error", "message": message}})));
    let error = client.list_webhooks(&key()).await.unwrap_err();
    assert_eq!(error.message, "Key *** and *** cannot be used here.");

    // A body that does not parse is described, not quoted: it may hold a signing secret.
    let broken = json!({"id": "we_1", "url": "https://a.example.com/", "enabled_events": "whsec_notQuoted", "secret": "whsec_notQuoted"});
    stripe.script(Scripted::Answer(200, broken));
    let error = client.create_webhook(&key(), "https://a.example.com/", &events(), &metadata("r")).await.unwrap_err();
    assert_eq!((error.kind, error.code.as_str()), (CloudErrorKind::Fatal, "unexpected_response"), "{error}");
    assert!(!error.message.contains("whsec_"), "{error}");
}

#[tokio::test]
async fn a_pagination_that_does_not_advance_is_an_error_not_a_loop() {
    let stripe = StripeStandIn::start(KEY).await;
    let client = client(&stripe);
    stripe.script(Scripted::Answer(200, json!({"object": "list", "data": [], "has_more": true})));
    let error = client.list_webhooks(&key()).await.unwrap_err();
    assert_eq!((error.kind, error.code.as_str()), (CloudErrorKind::Fatal, "pagination_stalled"), "{error}");

    let page =
        json!({"object": "list", "has_more": true, "data": [{"id": "we_1", "url": "https://a.example.com/", "enabled_events": ["*"]}]});
    stripe.script(Scripted::Answer(200, page.clone()));
    stripe.script(Scripted::Answer(200, page));
    let error = client.list_webhooks(&key()).await.unwrap_err();
    assert_eq!(error.code, "pagination_stalled", "{error}");
    assert_eq!(stripe.requests().len(), 3);
}
