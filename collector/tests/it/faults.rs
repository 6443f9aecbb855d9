//! Fault injection (`--faults`): failures before storing, changes to the
//! successful answer after the commit (issue 11), and faults that last a
//! number of requests.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use sillage_collector::app;
use tower::ServiceExt;

use crate::{admin, admin_get, batch, call, peer, post, post_req, Env};

async fn set(e: &Env, spec: &str) -> crate::Answer {
    call(e, admin("POST", "/v1/faults", spec.to_string())).await
}

fn faulty() -> Env {
    Env::with(|o| o.faults = true)
}

#[tokio::test]
async fn faults_are_injected_only_when_enabled() {
    let off = Env::new();
    let a = set(&off, r#"{"status":503,"forMs":1000}"#).await;
    assert!(a.status.is_client_error(), "{}", a.status);
    assert_eq!(post(&off, batch(&["f"])).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_status_fault_refuses_without_storing_for_its_duration() {
    let e = faulty();
    assert_eq!(
        set(&e, r#"{"status":429,"retryAfter":"3","forMs":60000}"#)
            .await
            .status,
        StatusCode::OK
    );
    for _ in 0..2 {
        let a = post(&e, batch(&["f"])).await;
        assert_eq!(
            (a.status, a.headers[header::RETRY_AFTER].to_str().unwrap()),
            (StatusCode::TOO_MANY_REQUESTS, "3")
        );
    }
    assert_eq!(e.rows(), 0);
    call(&e, admin("DELETE", "/v1/faults", Body::empty())).await;
    assert_eq!(post(&e, batch(&["f"])).await.status, StatusCode::OK);
    // A fault whose time is over is gone.
    set(&e, r#"{"status":503,"forMs":0}"#).await;
    assert_eq!(post(&e, batch(&["g"])).await.status, StatusCode::OK);
    assert_eq!(admin_get(&e, "/v1/stats").await["faulted"], 2);
}

#[tokio::test]
async fn a_fault_can_last_a_number_of_requests() {
    let e = faulty();
    set(&e, r#"{"status":503,"requests":3}"#).await;
    let mut statuses = Vec::new();
    for i in 0..5 {
        statuses.push(post(&e, batch(&[&format!("n{i}")])).await.status.as_u16());
    }
    assert_eq!(statuses, [503, 503, 503, 200, 200]);
    assert_eq!(e.ids(), ["n3", "n4"]);
    // Only batch requests count: reads and other routes do not use it up.
    set(&e, r#"{"drop":true,"requests":1}"#).await;
    admin_get(&e, "/v1/stats").await;
    let a = call(
        &e,
        post_req("/v1/forget", "text/plain", r#"{"anonymousId":"zz"}"#),
    )
    .await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    // The dropped connection: the body fails mid-stream.
    let mut req = post_req("/v1/batch", "text/plain", batch(&["dropped"]));
    req.extensions_mut().insert(ConnectInfo(peer()));
    let res = app(e.state.clone()).oneshot(req).await.unwrap();
    assert!(res.into_body().collect().await.is_err());
    assert_eq!(post(&e, batch(&["after"])).await.status, StatusCode::OK);
    assert_eq!(e.ids(), ["n3", "n4", "after"]);
}

#[tokio::test]
async fn a_delay_fault_answers_late_and_stores() {
    let e = faulty();
    set(&e, r#"{"delayMs":300,"requests":1}"#).await;
    let t0 = Instant::now();
    assert_eq!(post(&e, batch(&["late"])).await.status, StatusCode::OK);
    assert!(t0.elapsed() >= Duration::from_millis(300));
    assert_eq!(e.ids(), ["late"]);
}

#[tokio::test]
async fn success_faults_change_the_answer_after_the_events_are_stored() {
    let e = faulty();
    // no-store on the 200.
    set(&e, r#"{"noStore":true,"requests":1}"#).await;
    let a = post(&e, batch(&["s1"])).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(a.json()["inserted"], 1);
    // 204 with no body.
    set(&e, r#"{"noContent":true,"requests":1}"#).await;
    let a = post(&e, batch(&["s2"])).await;
    assert_eq!((a.status, a.body.len()), (StatusCode::NO_CONTENT, 0));
    // A gzip body.
    set(&e, r#"{"gzip":true,"noStore":true,"requests":1}"#).await;
    let a = post(&e, batch(&["s3"])).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.headers[header::CONTENT_ENCODING], "gzip");
    assert_eq!(a.headers[header::CACHE_CONTROL], "no-store");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&a.body[..]), &mut text)
        .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (v["ok"].as_bool(), v["inserted"].as_u64()),
        (Some(true), Some(1))
    );
    assert_eq!(e.ids(), ["s1", "s2", "s3"]);
    assert_eq!(admin_get(&e, "/v1/stats").await["faulted"], 3);
}

#[tokio::test]
async fn a_slow_body_comes_after_the_commit_a_piece_at_a_time() {
    let e = faulty();
    set(&e, r#"{"slowBodyMs":400,"requests":1}"#).await;
    let mut req = post_req("/v1/batch", "text/plain", batch(&["slow"]));
    req.extensions_mut().insert(ConnectInfo(peer()));
    let t0 = Instant::now();
    let res = app(e.state.clone()).oneshot(req).await.unwrap();
    // The headers are here and the events are already committed.
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(e.ids(), ["slow"]);
    let mut body = res.into_body();
    let mut pieces = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            pieces.push(data);
        }
    }
    assert!(
        t0.elapsed() >= Duration::from_millis(400),
        "the body took the time asked"
    );
    assert!(pieces.len() > 1, "it came in pieces");
    let all: Vec<u8> = pieces.concat();
    let v: Value = serde_json::from_slice(&all).unwrap();
    assert_eq!(v["inserted"], 1);
}

#[tokio::test]
async fn a_fault_that_cannot_apply_gets_400_naming_the_field() {
    let e = faulty();
    let cases = [
        (
            r#"{"status":503}"#,
            "fault: forMs or requests: one is required",
        ),
        (
            r#"{"status":503,"forMs":1,"requests":1}"#,
            "fault: forMs, requests: give one, not both",
        ),
        (
            r#"{"status":503,"requests":0}"#,
            "fault: requests: must be at least 1",
        ),
        (
            r#"{"status":99,"requests":1}"#,
            "fault: status: must be from 200 to 599, not 99",
        ),
        (
            r#"{"status":503,"noStore":true,"requests":1}"#,
            "fault: noStore: changes a successful answer, so it cannot go with status",
        ),
        (
            r#"{"drop":true,"gzip":true,"requests":1}"#,
            "fault: gzip: changes a successful answer, so it cannot go with drop",
        ),
        (
            r#"{"drop":true,"status":503,"requests":1}"#,
            "fault: drop: cannot go with status",
        ),
        (
            r#"{"retryAfter":"3","requests":1}"#,
            "fault: retryAfter: goes with status",
        ),
        (
            r#"{"noContent":true,"slowBodyMs":5,"requests":1}"#,
            "fault: noContent: has no body, so it cannot go with gzip or slowBodyMs",
        ),
        (r#"{"bogus":1,"forMs":1}"#, "fault: unknown field `bogus`"),
    ];
    for (spec, want) in cases {
        let a = set(&e, spec).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{spec}");
        assert!(
            a.error().starts_with(want),
            "{} should start with {want}",
            a.error()
        );
    }
    assert_eq!(
        post(&e, batch(&["ok"])).await.status,
        StatusCode::OK,
        "no fault was set"
    );
}
