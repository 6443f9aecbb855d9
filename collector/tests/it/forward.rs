//! The relay (`--forward`): a collector forwarding to a second collector
//! (the upstream, with faults), on real TCP ports; and the pure parts (the
//! retry delay, the verdicts, the upstream batch with its shifted `sentAt`).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use sillage_collector::forward::{
    build, parse_iso8601, retry_delay, verdict, Backoff, Queued, Verdict, UPSTREAM_MAX_BYTES,
};
use sillage_collector::{app, AppState, Background, ForwardOptions};
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::{admin, admin_get, event_of, post, post_req, Env};

const UP_KEY: &str = "upstream-write-key";

/// A collector served on a TCP port, stoppable and restartable on that port.
struct Served {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Served {
    async fn start(state: AppState, addr: SocketAddr) -> Served {
        let listener = TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(
                listener,
                app(state).into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        Served {
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    async fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
    }
}

/// The upstream: faults on, a write key, no rate limit (the relay is one
/// address sending everything).
fn upstream() -> Env {
    Env::with(|o| {
        o.faults = true;
        o.rate_limit = None;
        o.write_key = Some(UP_KEY.into());
    })
}

fn relay(to: SocketAddr, backoff: Backoff, key: &str) -> Env {
    Env::with(|o| {
        o.rate_limit = None;
        o.forward = Some(ForwardOptions {
            write_key: Some(key.into()),
            backoff,
            timeout: Duration::from_secs(5),
            ..ForwardOptions::new(format!("http://{to}/v1/batch"))
        });
    })
}

fn fast() -> Backoff {
    Backoff {
        base: Duration::from_millis(50),
        max: Duration::from_millis(500),
    }
}

/// Stats of a collector state, in-process (whether it is served or not).
async fn stats_of(state: &AppState) -> Value {
    let mut req = admin("GET", "/v1/stats", Body::empty());
    req.extensions_mut().insert(ConnectInfo(crate::peer()));
    let res = app(state.clone()).oneshot(req).await.unwrap();
    serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap()
}

async fn fault(up: &Env, spec: Value) {
    let a = crate::call(up, admin("POST", "/v1/faults", spec.to_string())).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.error());
}

/// Posts a batch of `n` events `{prefix}-{i}` to the relay; returns the ids.
async fn send(relay: &Env, prefix: &str, n: usize) -> Vec<String> {
    let ids: Vec<String> = (0..n).map(|i| format!("{prefix}-{i}")).collect();
    let events: Vec<Value> = ids.iter().map(|id| event_of(id, "a-1")).collect();
    let body =
        json!({"batch": events, "sentAt": "2026-11-23T05:24:09.000Z", "writeKey": "browser-key"});
    let a = post(relay, body.to_string()).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.error());
    ids
}

/// Waits until the relay's queue is empty (or `within` has passed).
async fn drained(relay: &Env, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let st = stats_of(&relay.state).await;
        if st["forwardPending"] == 0 || Instant::now() > deadline {
            return st;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_loses_nothing_and_forwards_nothing_twice_through_faults_and_a_30_s_outage() {
    let up = upstream();
    let mut served = Served::start(up.state.clone(), "127.0.0.1:0".parse().unwrap()).await;
    // The product's own backoff (500 ms doubling up to 20 s).
    let relay = relay(served.addr, Backoff::default(), UP_KEY);
    let background: Background = relay.state.start_background();
    let mut sent = Vec::new();

    // Refusals and dropped connections: nothing stored upstream by those.
    fault(&up, json!({"status": 503, "requests": 3})).await;
    sent.extend(send(&relay, "a", 20).await);
    sent.extend(send(&relay, "b", 20).await);
    assert_eq!(
        drained(&relay, Duration::from_secs(30)).await["forwardPending"],
        0
    );
    fault(&up, json!({"drop": true, "requests": 2})).await;
    sent.extend(send(&relay, "c", 20).await);
    assert_eq!(
        drained(&relay, Duration::from_secs(30)).await["forwardPending"],
        0
    );
    fault(
        &up,
        json!({"status": 429, "retryAfter": "1", "requests": 1}),
    )
    .await;
    sent.extend(send(&relay, "d", 20).await);
    assert_eq!(
        drained(&relay, Duration::from_secs(30)).await["forwardPending"],
        0
    );
    // The browser sends a batch again (its answer was lost): stored once by
    // the relay, and not forwarded again.
    send(&relay, "a", 20).await;

    // A 30 s outage: the upstream is gone (connections refused), the relay
    // keeps accepting and acknowledging.
    let before = stats_of(&up.state).await;
    served.stop().await;
    let t0 = Instant::now();
    for round in 0..3 {
        sent.extend(send(&relay, &format!("outage{round}"), 20).await);
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
    assert!(t0.elapsed() >= Duration::from_secs(30));
    assert!(
        stats_of(&relay.state).await["forwardPending"]
            .as_u64()
            .unwrap()
            >= 60
    );
    // The upstream comes back on the same port, with the same database.
    let again = AppState::open(up.state.options().clone()).unwrap();
    let mut served_again = Served::start(again.clone(), served.addr).await;
    let st = drained(&relay, Duration::from_secs(60)).await;
    assert_eq!(
        st["forwardPending"], 0,
        "the queue drained after the outage"
    );
    let after = stats_of(&again).await;

    // No event lost, none forwarded twice (the upstream saw no duplicate).
    let stored: BTreeSet<String> = up.ids().into_iter().collect();
    let want: BTreeSet<String> = sent.iter().cloned().collect();
    assert_eq!(stored, want);
    assert_eq!(up.rows() as usize, sent.len());
    assert_eq!(
        before["duplicates"].as_u64().unwrap() + after["duplicates"].as_u64().unwrap(),
        0
    );
    assert_eq!(st["forwarded"].as_u64().unwrap() as usize, sent.len());
    assert!(st["forwardRetries"].as_u64().unwrap() >= 6 + 2, "{st}");
    assert_eq!(st["forwardFailed"], 0);
    // The upstream's rows came with its write key (Basic auth and body).
    assert_eq!(
        up.sql_count(&format!(
            "SELECT count(*) FROM events WHERE write_key = '{UP_KEY}'"
        )) as usize,
        sent.len()
    );
    background.stop().await;
    served_again.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_batch_is_halved_until_the_refused_event_is_alone() {
    let up = upstream();
    let mut served = Served::start(up.state.clone(), "127.0.0.1:0".parse().unwrap()).await;
    let relay = relay(served.addr, fast(), UP_KEY);
    // 4 events; the upstream refuses the next 3 requests: [0 1 2 3], [0 1],
    // [0]; event 0 is then recorded as refused, and 1, 2, 3 go through.
    fault(&up, json!({"status": 400, "requests": 3})).await;
    send(&relay, "s", 4).await;
    let background = relay.state.start_background();
    let st = drained(&relay, Duration::from_secs(20)).await;
    assert_eq!(
        (st["forwardPending"].as_u64(), st["forwardFailed"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(up.ids(), ["s-1", "s-2", "s-3"]);
    let c = rusqlite::Connection::open(&relay.db).unwrap();
    let (id, status): (String, i64) = c
        .query_row("SELECT message_id, status FROM forward_failed", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((id.as_str(), status), ("s-0", 400));
    background.stop().await;
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_upstream_key_is_retried_never_dropped() {
    let up = upstream();
    let mut served = Served::start(up.state.clone(), "127.0.0.1:0".parse().unwrap()).await;
    let relay = relay(served.addr, fast(), "not-the-upstream-key");
    send(&relay, "w", 3).await;
    let background = relay.state.start_background();
    let deadline = Instant::now() + Duration::from_secs(20);
    let st = loop {
        let st = stats_of(&relay.state).await;
        if st["forwardRetries"].as_u64().unwrap() >= 3 || Instant::now() > deadline {
            break st;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(st["forwardRetries"].as_u64().unwrap() >= 3);
    assert_eq!(
        (st["forwardPending"].as_u64(), st["forwardFailed"].as_u64()),
        (Some(3), Some(0))
    );
    assert_eq!(
        stats_of(&up.state).await["unauthorized"].as_u64().unwrap(),
        st["forwardRetries"].as_u64().unwrap()
    );
    background.stop().await;
    served.stop().await;
    assert_eq!(up.rows(), 0);
}

#[tokio::test]
async fn forgetting_a_visitor_takes_their_events_out_of_the_queue() {
    let relay = relay("127.0.0.1:9".parse().unwrap(), fast(), UP_KEY);
    let events = vec![
        event_of("x1", "a-1"),
        event_of("y1", "a-2"),
        event_of("x2", "a-1"),
    ];
    post(&relay, json!({"batch": events}).to_string()).await;
    assert_eq!(relay.sql_count("SELECT count(*) FROM forward_queue"), 3);
    let a = crate::call(
        &relay,
        post_req("/v1/forget", "text/plain", r#"{"anonymousId":"a-1"}"#),
    )
    .await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    assert_eq!(relay.sql_count("SELECT count(*) FROM forward_queue"), 1);
    assert_eq!(admin_get(&relay, "/v1/stats").await["forwardPending"], 1);
    // Without --forward, nothing is queued.
    let plain = Env::new();
    post(&plain, json!({"batch": [event_of("z", "a-1")]}).to_string()).await;
    assert_eq!(plain.sql_count("SELECT count(*) FROM forward_queue"), 0);
}

#[test]
fn the_retry_delay_honours_retry_after_else_backs_off_with_jitter() {
    let b = Backoff {
        base: Duration::from_millis(500),
        max: Duration::from_secs(20),
    };
    let ms = |d: Duration| d.as_millis() as u64;
    // (attempt, Retry-After, jitter, wait in ms)
    let cases: &[(u32, Option<&str>, f64, u64)] = &[
        (1, None, 0.0, 250),
        (1, None, 1.0, 500),
        (2, None, 0.5, 750),
        (3, None, 0.0, 1_000),
        (6, None, 1.0, 16_000),
        (7, None, 1.0, 20_000),
        (40, None, 0.0, 10_000),
        (1, Some("3"), 0.0, 3_000),
        (9, Some("3"), 1.0, 3_000),
        (1, Some("0"), 0.5, 0),
        (1, Some("86400"), 0.5, 600_000),
        // An HTTP date 90 s after "now".
        (1, Some("Thu, 01 Jan 1970 00:01:30 GMT"), 0.0, 90_000),
        // Unreadable: the backoff.
        (1, Some("soon"), 1.0, 500),
    ];
    for &(attempt, ra, jitter, want) in cases {
        assert_eq!(
            ms(retry_delay(attempt, ra, 0.0, jitter, &b)),
            want,
            "{attempt} {ra:?} {jitter}"
        );
    }
}

#[test]
fn upstream_statuses_are_retried_or_refused() {
    let cases: &[(u16, Verdict)] = &[
        (200, Verdict::Done),
        (202, Verdict::Done),
        (204, Verdict::Done),
        (301, Verdict::Retry),
        (400, Verdict::Refused),
        (401, Verdict::Retry),
        (403, Verdict::Retry),
        (404, Verdict::Retry),
        (405, Verdict::Retry),
        (409, Verdict::Retry),
        (408, Verdict::Retry),
        (413, Verdict::Refused),
        (422, Verdict::Refused),
        (429, Verdict::Retry),
        (500, Verdict::Retry),
        (503, Verdict::Retry),
    ];
    for &(status, want) in cases {
        assert_eq!(verdict(status), want, "{status}");
    }
}

#[test]
fn iso_instants_are_read_with_their_offsets() {
    let cases: &[(&str, Option<f64>)] = &[
        ("1970-01-01T00:00:00Z", Some(0.0)),
        ("1970-01-01T00:00:01.5Z", Some(1_500.0)),
        ("2026-11-23T05:24:08.123Z", Some(1_795_411_448_123.0)),
        ("2026-11-23T06:24:08.123+01:00", Some(1_795_411_448_123.0)),
        ("2026-11-23T00:24:08.123-05:00", Some(1_795_411_448_123.0)),
        ("2026-11-23 05:24:08Z", Some(1_795_411_448_000.0)),
        ("2026-11-23T05:24:08", None),
        ("2026-13-23T05:24:08Z", None),
        ("2026-11-23T05:24:08.Z", None),
        ("2026-11-23T05:24:08+0100", None),
        ("yesterday", None),
        ("", None),
        ("2026-11-23T05:24:0é", None),
    ];
    for &(s, want) in cases {
        assert_eq!(parse_iso8601(s), want, "{s}");
    }
}

fn queued(seq: i64, key: Option<&str>, payload: Value) -> Queued {
    Queued {
        seq,
        payload: payload.to_string(),
        sent_at: Some("2026-11-23T05:24:10.000Z".into()),
        received_at: "2026-11-23T05:24:12.000Z".into(),
        write_key: key.map(str::to_string),
    }
}

#[test]
fn an_upstream_batch_shifts_sent_at_by_the_wait_and_keeps_one_write_key() {
    let ev = |id: &str| json!({"type": "track", "event": "E", "messageId": id, "timestamp": "2026-11-23T05:24:09.000Z"});
    let rows = vec![
        queued(1, Some("k1"), ev("m1")),
        queued(2, Some("k1"), ev("m2")),
        queued(3, Some("k2"), ev("m3")),
    ];
    // Forwarded 30 s after it was received here.
    let now = parse_iso8601("2026-11-23T05:24:42.000Z").unwrap();
    let out = build(&rows, None, now, 500).unwrap();
    assert_eq!(out.seqs, [1, 2], "stops at another write key");
    assert_eq!(out.write_key.as_deref(), Some("k1"));
    let body: Value = serde_json::from_slice(&out.body).unwrap();
    assert_eq!(body["writeKey"], "k1");
    assert!(
        body.get("sentAt").is_none(),
        "no batch-level sentAt: each event has its own"
    );
    // received 05:24:12, sent by the browser at 05:24:10, forwarded 30 s later.
    assert_eq!(body["batch"][0]["sentAt"], "2026-11-23T05:24:40.000Z");
    assert_eq!(body["batch"][0]["timestamp"], "2026-11-23T05:24:09.000Z");
    // With the upstream's own key, every write key goes in one batch.
    let out = build(&rows, Some("up"), now, 500).unwrap();
    assert_eq!((out.seqs.len(), out.write_key.as_deref()), (3, Some("up")));
    // At most max_events, and at most UPSTREAM_MAX_BYTES (but at least one).
    assert_eq!(build(&rows, Some("up"), now, 2).unwrap().seqs, [1, 2]);
    let big = json!({"messageId": "big", "pad": "x".repeat(UPSTREAM_MAX_BYTES / 2)});
    let rows = vec![
        queued(1, None, big.clone()),
        queued(2, None, big.clone()),
        queued(3, None, big),
    ];
    assert_eq!(build(&rows, None, now, 500).unwrap().seqs, [1]);
    assert!(build(&[], None, now, 500).is_none());
}
