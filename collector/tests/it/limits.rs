//! Issue 15's limits (body size, events per batch, the per-address rate
//! limit, retention) and issue 16's compressed bodies.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request, StatusCode};
use serde_json::json;
use sillage_collector::{Rate, MAX_BODY, MAX_EVENTS};

use crate::{admin_get, batch, call, gzip, post, post_req, Env};

#[tokio::test]
async fn bodies_above_512_kb_get_413() {
    let e = Env::new();
    let pad = "x".repeat(MAX_BODY);
    let a = post(&e, format!("{{\"batch\":[],\"pad\":\"{pad}\"}}")).await;
    assert_eq!(
        (a.status, a.error().as_str()),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            "body: more than 524288 bytes"
        )
    );
    let forget = post_req("/v1/forget", "text/plain", "x".repeat(MAX_BODY + 1));
    assert_eq!(call(&e, forget).await.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Just under the limit is read (and judged on its shape, not its size).
    let pad = "x".repeat(MAX_BODY - 100);
    let a = post(&e, format!("{{\"batch\":[],\"pad\":\"{pad}\"}}")).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_batch_holds_at_most_500_events() {
    let e = Env::new();
    let ids: Vec<String> = (0..=MAX_EVENTS).map(|i| format!("m{i}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let a = post(&e, batch(&refs)).await;
    assert_eq!(
        (a.status, a.error().as_str()),
        (
            StatusCode::BAD_REQUEST,
            "batch: at most 500 events, got 501"
        )
    );
    assert_eq!(e.rows(), 0);
    let a = post(&e, batch(&refs[..MAX_EVENTS])).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(e.rows(), 500);
}

fn from(ip: &str, path: &str, body: String) -> Request<Body> {
    let mut req = post_req(path, "text/plain", body);
    let addr: SocketAddr = format!("{ip}:5000").parse().unwrap();
    req.extensions_mut().insert(ConnectInfo(addr));
    req
}

#[tokio::test]
async fn ingestion_is_rate_limited_per_address_with_retry_after() {
    let e = Env::with(|o| {
        o.rate_limit = Some(Rate {
            per_second: 0.5,
            burst: 3.0,
        })
    });
    for i in 0..3 {
        let a = call(
            &e,
            from("10.0.0.1", "/v1/batch", batch(&[&format!("a{i}")])),
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "request {i}");
    }
    // The bucket is empty: 429, with the wait for the next token (2 s at 0.5/s).
    for path in ["/v1/batch", "/v1/b", "/v1/forget"] {
        let a = call(&e, from("10.0.0.1", path, batch(&["late"]))).await;
        assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{path}");
        assert_eq!(a.headers[header::RETRY_AFTER], "2");
        assert_eq!(
            a.error(),
            "rate limit: at most 0.5 requests per second from one address (bursts of 3); retry in 2 s"
        );
    }
    // Other addresses have their own bucket; an IPv6 /64 is one address.
    let a = call(&e, from("10.0.0.2", "/v1/batch", batch(&["b0"]))).await;
    assert_eq!(a.status, StatusCode::OK);
    for i in 0..3 {
        let ip = format!("[2001:db8:1:2::{i}]");
        let a = call(&e, from(&ip, "/v1/batch", batch(&[&format!("v6-{i}")]))).await;
        assert_eq!(a.status, StatusCode::OK, "{ip}");
    }
    let a = call(
        &e,
        from("[2001:db8:1:2:ffff::9]", "/v1/batch", batch(&["v6-late"])),
    )
    .await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    let a = call(
        &e,
        from("[2001:db8:1:3::1]", "/v1/batch", batch(&["v6-other"])),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(e.rows(), 3 + 1 + 3 + 1);
    assert_eq!(admin_get(&e, "/v1/stats").await["rateLimited"], 4);
    // The read routes are not rate-limited (they need the token instead).
    for _ in 0..5 {
        admin_get(&e, "/v1/stats").await;
    }
}

#[tokio::test]
async fn behind_a_proxy_the_address_comes_from_the_last_forwarded_entry() {
    let e = Env::with(|o| {
        o.rate_limit = Some(Rate {
            per_second: 0.5,
            burst: 1.0,
        });
        o.client_ip_header = Some("x-forwarded-for".parse().unwrap());
    });
    // All arrive from the proxy (10.0.0.1); the client says anything first,
    // the proxy appends the address it saw.
    let send = |xff: &'static str, id: &'static str| {
        let mut req = from("10.0.0.1", "/v1/batch", batch(&[id]));
        req.headers_mut()
            .insert("x-forwarded-for", xff.parse().unwrap());
        req
    };
    assert_eq!(
        call(&e, send("198.51.100.7", "p1")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        call(&e, send("203.0.113.9", "p2")).await.status,
        StatusCode::OK
    );
    let a = call(&e, send("1.2.3.4, 198.51.100.7", "p3")).await;
    assert_eq!(
        a.status,
        StatusCode::TOO_MANY_REQUESTS,
        "a spoofed first entry changes nothing"
    );
}

#[tokio::test]
async fn retention_deletes_events_received_before_the_cutoff_and_their_queue_places() {
    let e = Env::with(|o| {
        o.forward = Some(sillage_collector::ForwardOptions::new(
            "http://127.0.0.1:9/v1/batch",
        ))
    });
    post(&e, batch(&["old-1", "old-2", "new-1"])).await;
    let c = rusqlite::Connection::open(&e.db).unwrap();
    c.execute(
        "UPDATE events SET received_at = '2020-01-01T00:00:00.000Z' WHERE message_id LIKE 'old-%'",
        [],
    )
    .unwrap();
    let cutoff = sillage_core::support::time::iso8601(0.0);
    assert_eq!(cutoff, "1970-01-01T00:00:00.000Z");
    assert_eq!(e.state.delete_received_before(0.0).await.unwrap(), 0);
    // 2021-01-01
    let n = e
        .state
        .delete_received_before(1_609_459_200_000.0)
        .await
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(e.ids(), ["new-1"]);
    assert_eq!(e.sql_count("SELECT count(*) FROM forward_queue"), 1);
}

#[test]
fn the_binary_deletes_old_events_at_start_with_retention_days() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("e.db");
    {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let e = Env::with(|o| o.db = db.clone());
        rt.block_on(post(&e, batch(&["old", "recent"])));
        let c = rusqlite::Connection::open(&db).unwrap();
        let ten_days_ago = sillage_core::support::time::iso8601(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis() as f64
                - 10.0 * 86_400_000.0,
        );
        c.execute(
            "UPDATE events SET received_at = ?1 WHERE message_id = 'old'",
            [ten_days_ago],
        )
        .unwrap();
    }
    let mut server = crate::cli::Server::start(&db, &["--retention-days", "7"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let ids = loop {
        let c = rusqlite::Connection::open(&db).unwrap();
        let n: i64 = c
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .unwrap();
        if n == 1 || std::time::Instant::now() > deadline {
            let id: String = c
                .query_row("SELECT group_concat(message_id) FROM events", [], |r| {
                    r.get(0)
                })
                .unwrap();
            break id;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(ids, "recent");
    assert!(server.stop().success());
}

#[tokio::test]
async fn gzip_bodies_are_accepted_by_query_or_header() {
    let e = Env::new();
    let a = call(
        &e,
        post_req(
            "/v1/batch?ce=gzip",
            "text/plain",
            gzip(batch(&["g1"]).as_bytes()),
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.error());
    let mut req = post_req(
        "/v1/batch",
        "application/json",
        gzip(batch(&["g2"]).as_bytes()),
    );
    req.headers_mut()
        .insert(header::CONTENT_ENCODING, "gzip".parse().unwrap());
    assert_eq!(call(&e, req).await.status, StatusCode::OK);
    let a = call(
        &e,
        post_req(
            "/v1/b?ce=gzip",
            "text/plain",
            gzip(batch(&["g3"]).as_bytes()),
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(e.ids(), ["g1", "g2", "g3"]);
    // bytesReceived counts the bytes on the wire.
    let st = admin_get(&e, "/v1/stats").await;
    assert!(st["bytesReceived"].as_u64().unwrap() < 3 * batch(&["g1"]).len() as u64);
}

#[tokio::test]
async fn bad_or_oversized_compressed_bodies_are_refused() {
    let e = Env::new();
    // A zip bomb: 50 MB of zeros in about 50 KB. It is inflated into at most
    // 512 KB + 1 byte, then refused.
    let bomb = gzip(&vec![b' '; 50 * 1024 * 1024]);
    assert!(bomb.len() < MAX_BODY);
    let just_over =
        gzip(format!("{{\"batch\":[],\"pad\":\"{}\"}}", "x".repeat(MAX_BODY)).as_bytes());
    let truncated = {
        let g = gzip(batch(&["t"]).as_bytes());
        g[..g.len() / 2].to_vec()
    };
    let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        (
            "/v1/batch?ce=gzip",
            bomb,
            StatusCode::PAYLOAD_TOO_LARGE,
            "body: more than 524288 bytes once decompressed",
        ),
        (
            "/v1/batch?ce=gzip",
            just_over,
            StatusCode::PAYLOAD_TOO_LARGE,
            "body: more than 524288 bytes once decompressed",
        ),
        (
            "/v1/batch?ce=gzip",
            batch(&["plain"]).into_bytes(),
            StatusCode::BAD_REQUEST,
            "body: not valid gzip: invalid gzip header",
        ),
        (
            "/v1/batch?ce=gzip",
            truncated,
            StatusCode::BAD_REQUEST,
            "body: not valid gzip",
        ),
        (
            "/v1/batch?ce=br",
            batch(&["b"]).into_bytes(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "ce: only gzip is accepted, not \"br\"",
        ),
    ];
    for (path, body, status, err) in cases {
        let a = call(&e, post_req(path, "text/plain", body)).await;
        assert_eq!(a.status, status, "{path} {err}");
        assert!(
            a.error().starts_with(err),
            "{} should start with {err}",
            a.error()
        );
    }
    let mut req = post_req("/v1/batch", "text/plain", batch(&["d"]));
    req.headers_mut()
        .insert(header::CONTENT_ENCODING, "deflate".parse().unwrap());
    let a = call(&e, req).await;
    assert_eq!(
        (a.status, a.error().as_str()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content-encoding: only gzip is accepted, not \"deflate\""
        )
    );
    assert_eq!(e.rows(), 0);
    // A gzip body of an invalid batch gets the same 400 as a plain one.
    let bad = json!({"batch": [{"type": "page"}]}).to_string();
    let a = call(
        &e,
        post_req("/v1/batch?ce=gzip", "text/plain", gzip(bad.as_bytes())),
    )
    .await;
    assert_eq!(a.error(), "batch[0].messageId: missing");
}
