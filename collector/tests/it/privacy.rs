//! Issue 14: a visitor's forget request, and erasure and export by an admin.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::{json, Value};

use crate::{admin, call, event_of, gzip, post, post_req, Env};

/// Stores events of three visitors: a-1 (anonymous, then logged in as
/// u-1), a-2 (anonymous), a-3 (a shared device: u-2, then u-1).
async fn three_visitors(e: &Env) {
    let with_user = |id: &str, anon: &str, user: &str| {
        let mut ev = event_of(id, anon);
        ev["userId"] = json!(user);
        ev
    };
    let events = vec![
        event_of("a1-anon", "a-1"),
        with_user("a1-u1", "a-1", "u-1"),
        event_of("a2-anon", "a-2"),
        event_of("a3-anon", "a-3"),
        with_user("a3-u2", "a-3", "u-2"),
        with_user("a3-u1", "a-3", "u-1"),
        with_user("u1-only", "a-4", "u-1"),
    ];
    let a = post(e, json!({"batch": events}).to_string()).await;
    assert_eq!(a.status, StatusCode::OK);
}

fn forget_req(body: &str) -> Request<Body> {
    post_req("/v1/forget", "text/plain", body.to_string())
}

#[tokio::test]
async fn forget_deletes_every_row_of_the_anonymous_id_and_no_other() {
    let e = Env::new();
    three_visitors(&e).await;
    let a = call(&e, forget_req(r#"{"anonymousId":"a-1","writeKey":"wk"}"#)).await;
    assert_eq!(
        (a.status, a.json()),
        (StatusCode::ACCEPTED, json!({"ok": true}))
    );
    assert_eq!(e.ids(), ["a2-anon", "a3-anon", "a3-u2", "a3-u1", "u1-only"]);
    // An unknown id (or one already forgotten) gets the same answer.
    for id in ["a-1", "never-seen"] {
        let a = call(&e, forget_req(&json!({"anonymousId": id}).to_string())).await;
        assert_eq!(
            (a.status, a.json()),
            (StatusCode::ACCEPTED, json!({"ok": true})),
            "{id}"
        );
    }
    // As application/json, and gzip-compressed like batches.
    let a = call(
        &e,
        post_req("/v1/forget", "application/json", r#"{"anonymousId":"a-2"}"#),
    )
    .await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    let a = call(
        &e,
        post_req(
            "/v1/forget?ce=gzip",
            "text/plain",
            gzip(br#"{"anonymousId":"a-3"}"#),
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    assert_eq!(e.ids(), ["u1-only"]);
    assert_eq!(crate::admin_get(&e, "/v1/stats").await["forgetRequests"], 5);
}

#[tokio::test]
async fn a_bad_forget_body_gets_400_naming_the_field() {
    let e = Env::new();
    three_visitors(&e).await;
    let cases = [
        ("{", "body: invalid JSON"),
        ("[]", "body: must be a JSON object"),
        ("{}", "anonymousId: missing"),
        (
            r#"{"anonymousId":""}"#,
            "anonymousId: must be a non-empty string of at most 128 bytes",
        ),
        (
            r#"{"anonymousId":7}"#,
            "anonymousId: must be a non-empty string of at most 128 bytes",
        ),
        (
            r#"{"anonymousId":"a-1","writeKey":1}"#,
            "writeKey: must be a string",
        ),
        (
            r#"{"anonymousID":"a-1"}"#,
            "anonymousID: unknown field (expected anonymousId, writeKey, sentAt)",
        ),
        (
            r#"{"anonymousId":"a-1","userId":"u-1"}"#,
            "userId: unknown field (expected anonymousId, writeKey, sentAt)",
        ),
    ];
    for (body, want) in cases {
        let a = call(&e, forget_req(body)).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            a.error().starts_with(want),
            "{} should start with {want}",
            a.error()
        );
    }
    assert_eq!(e.rows(), 7);
}

#[tokio::test]
async fn with_a_write_key_a_forget_request_must_carry_it() {
    let e = Env::with(|o| o.write_key = Some("wk-right".into()));
    let ok = json!({"batch": [event_of("m", "a-1")], "writeKey": "wk-right"}).to_string();
    assert_eq!(post(&e, ok).await.status, StatusCode::OK);
    for body in [
        r#"{"anonymousId":"a-1","writeKey":"wk-wrong"}"#,
        r#"{"anonymousId":"a-1"}"#,
    ] {
        let a = call(&e, forget_req(body)).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{body}");
    }
    assert_eq!(e.rows(), 1);
    let a = call(
        &e,
        forget_req(r#"{"anonymousId":"a-1","writeKey":"wk-right"}"#),
    )
    .await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    assert_eq!(e.rows(), 0);
}

async fn export(e: &Env, query: &str) -> Vec<String> {
    let a = call(
        e,
        admin("GET", &format!("/v1/export?{query}"), Body::empty()),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{query}: {}", a.error());
    assert_eq!(a.headers[header::CONTENT_TYPE], "application/x-ndjson");
    String::from_utf8(a.body)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            assert!(v["receivedAt"].is_string());
            v["messageId"].as_str().unwrap().to_string()
        })
        .collect()
}

#[tokio::test]
async fn an_admin_exports_a_persons_events_as_ndjson() {
    let e = Env::new();
    three_visitors(&e).await;
    // u-1: their own rows, and the anonymous rows of every device they used;
    // not u-2's rows on the shared device.
    assert_eq!(
        export(&e, "userId=u-1").await,
        ["a1-anon", "a1-u1", "a3-anon", "a3-u1", "u1-only"]
    );
    assert_eq!(
        export(&e, "anonymousId=a-3").await,
        ["a3-anon", "a3-u2", "a3-u1"]
    );
    assert_eq!(export(&e, "userId=nobody").await, Vec::<String>::new());
    for (q, want) in [
        ("", "query: anonymousId or userId: one is required"),
        (
            "userId=u-1&anonymousId=a-1",
            "query: anonymousId, userId: give one, not both",
        ),
        ("userId=", "query: userId: must not be empty"),
    ] {
        let a = call(&e, admin("GET", &format!("/v1/export?{q}"), Body::empty())).await;
        assert_eq!(
            (a.status, a.error().as_str()),
            (StatusCode::BAD_REQUEST, want),
            "{q}"
        );
    }
}

#[tokio::test]
async fn an_admin_erases_a_person_by_user_id() {
    let e = Env::new();
    three_visitors(&e).await;
    let a = call(&e, admin("POST", "/v1/admin/forget", r#"{"userId":"u-1"}"#)).await;
    assert_eq!(
        (a.status, a.json()),
        (StatusCode::OK, json!({"ok": true, "deleted": 5}))
    );
    assert_eq!(e.ids(), ["a2-anon", "a3-u2"]);
    let a = call(
        &e,
        admin("POST", "/v1/admin/forget", r#"{"anonymousId":"a-2"}"#),
    )
    .await;
    assert_eq!(a.json()["deleted"], 1);
    let a = call(&e, admin("POST", "/v1/admin/forget", r#"{"userId":"u-1"}"#)).await;
    assert_eq!(a.json()["deleted"], 0);
    for (body, want) in [
        ("{}", "anonymousId or userId: one is required"),
        (
            r#"{"userId":"u","anonymousId":"a"}"#,
            "anonymousId, userId: give one, not both",
        ),
        (r#"{"userId":5}"#, "userId: must be a string"),
        (
            r#"{"email":"x@example.com"}"#,
            "email: unknown field (expected anonymousId or userId)",
        ),
        ("nope", "body: invalid JSON"),
    ] {
        let a = call(&e, admin("POST", "/v1/admin/forget", body)).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            a.error().starts_with(want),
            "{} should start with {want}",
            a.error()
        );
    }
    assert_eq!(e.ids(), ["a3-u2"]);
}
