//! The batch endpoint, reads, static files and `_headers`.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::{json, Value};

use crate::{admin_get, batch, call, event, post, post_req, Env};

#[tokio::test]
async fn bad_batches_get_400_naming_the_field_and_store_nothing() {
    let e = Env::new();
    let mut no_id = event("x");
    no_id.as_object_mut().unwrap().remove("messageId");
    let cases: Vec<(String, &str)> = vec![
        ("{not json".into(), "body: invalid JSON"),
        ("[]".into(), "body: must be a JSON object"),
        (json!({"batch": []}).to_string(), "batch: must be a non-empty array"),
        (json!({"batch": [event("ok"), no_id]}).to_string(), "batch[1].messageId: missing"),
        (json!({"batch": [{"type": "track", "messageId": "m", "anonymousId": "a", "timestamp": "t"}]}).to_string(),
         "batch[0].event: must be a non-empty string for a track event"),
        (json!({"batch": [{"type": "bogus", "messageId": "m", "anonymousId": "a", "timestamp": "t"}]}).to_string(),
         "batch[0].type: must be one of page, track, identify, screen, group, alias"),
        (json!({"batch": [{"type": "page", "messageId": "m", "timestamp": "t"}]}).to_string(),
         "batch[0].anonymousId: missing (or userId)"),
        (json!({"batch": [{"type": "page", "messageId": "m", "anonymousId": "a"}]}).to_string(),
         "batch[0].timestamp: must be a string"),
        (json!({"batch": [{"type": "page", "messageId": "m", "anonymousId": "a", "timestamp": "t", "properties": 1}]}).to_string(),
         "batch[0].properties: must be an object"),
        (json!({"batch": [event("ok")], "sentAt": 5}).to_string(), "sentAt: must be a string"),
        (json!({"batch": [{"type": "page", "messageId": "m".repeat(129), "anonymousId": "a", "timestamp": "t"}]}).to_string(),
         "batch[0].messageId: must be a non-empty string of at most 128 bytes"),
    ];
    for (body, want) in cases {
        let a = post(&e, body).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{want}");
        let msg = a.error();
        assert!(msg.starts_with(want), "{msg} should start with {want}");
    }
    assert_eq!(e.rows(), 0);
    assert_eq!(admin_get(&e, "/v1/stats").await["rejected"], 11);
}

#[tokio::test]
async fn the_same_message_ids_are_stored_once() {
    let e = Env::new();
    let ids = |v: &Value| (v["inserted"].as_u64(), v["duplicates"].as_u64());
    let a = call(
        &e,
        post_req("/v1/batch", "text/plain;charset=UTF-8", batch(&["a", "b"])),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(ids(&a.json()), (Some(2), Some(0)));
    let a = call(
        &e,
        post_req("/v1/batch", "application/json", batch(&["a", "b"])),
    )
    .await;
    assert_eq!(ids(&a.json()), (Some(0), Some(2)));
    let a = call(&e, post_req("/v1/b", "text/plain", batch(&["b", "c"]))).await;
    assert_eq!(ids(&a.json()), (Some(1), Some(1)));
    assert_eq!(e.rows(), 3);
    let ev = admin_get(&e, "/v1/events?limit=10").await;
    let got: Vec<&str> = ev["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["messageId"].as_str().unwrap())
        .collect();
    assert_eq!(got, ["a", "b", "c"], "oldest first");
    assert!(ev["events"][0]["receivedAt"].is_string());
    let st = admin_get(&e, "/v1/stats").await;
    assert_eq!(
        (
            st["requests"].as_u64(),
            st["eventsReceived"].as_u64(),
            st["eventsInserted"].as_u64(),
            st["duplicates"].as_u64()
        ),
        (Some(3), Some(6), Some(3), Some(3))
    );
    let c = rusqlite::Connection::open(&e.db).unwrap();
    let (session, sent_at): (String, String) = c
        .query_row(
            "SELECT session_id, sent_at FROM events WHERE message_id = 'a'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (session.as_str(), sent_at.as_str()),
        ("s-1", "2026-11-23T05:24:09.000Z")
    );
}

#[tokio::test]
async fn batch_level_context_is_merged_into_each_event() {
    let e = Env::new();
    let body =
        json!({"batch": [event("m")], "context": {"sillage": {"dropped": 3, "storage": "memory"}}})
            .to_string();
    assert_eq!(post(&e, body).await.status, StatusCode::OK);
    let ev = admin_get(&e, "/v1/events").await;
    assert_eq!(
        ev["events"][0]["context"]["sillage"],
        json!({"sessionId": "s-1", "dropped": 3, "storage": "memory"})
    );
}

#[tokio::test]
async fn content_types_other_than_text_or_json_get_415() {
    let e = Env::new();
    let a = call(&e, post_req("/v1/batch", "application/xml", batch(&["x"]))).await;
    assert_eq!(a.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        a.error(),
        "content-type: expected text/plain or application/json, got application/xml"
    );
    assert_eq!(e.rows(), 0);
}

#[tokio::test]
async fn events_filter_by_every_parameter_and_limit() {
    let e = Env::new();
    let mut page = crate::event_of("p", "a-2");
    page["type"] = json!("page");
    page.as_object_mut().unwrap().remove("event");
    let mut user = crate::event_of("u", "a-3");
    user["userId"] = json!("user@example.com");
    let body = json!({"batch": [event("1"), event("2"), event("3"), page, user]}).to_string();
    assert_eq!(post(&e, body).await.status, StatusCode::OK);
    let ids = |v: Value| -> Vec<String> {
        v["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["messageId"].as_str().unwrap().to_string())
            .collect()
    };
    let cases: &[(&str, &[&str])] = &[
        ("/v1/events", &["1", "2", "3", "p", "u"]),
        ("/v1/events?limit=2", &["p", "u"]),
        ("/v1/events?type=page", &["p"]),
        ("/v1/events?event=Signed%20Up", &["1", "2", "3", "u"]),
        ("/v1/events?event=Signed%20Up&limit=1", &["u"]),
        ("/v1/events?anonymousId=a-1", &["1", "2", "3"]),
        ("/v1/events?anonymousId=a-1&type=page", &[]),
        ("/v1/events?userId=user%40example.com", &["u"]),
    ];
    for (path, want) in cases {
        assert_eq!(ids(admin_get(&e, path).await), *want, "{path}");
    }
    for (path, want) in [
        (
            "/v1/events?limit=0",
            "limit: must be a whole number from 1 to 10000, not \"0\"",
        ),
        (
            "/v1/events?limit=x",
            "limit: must be a whole number from 1 to 10000, not \"x\"",
        ),
    ] {
        let a = call(&e, crate::admin("GET", path, Body::empty())).await;
        assert_eq!(
            (a.status, a.error().as_str()),
            (StatusCode::BAD_REQUEST, want)
        );
    }
    let a = call(&e, Request::get("/health").body(Body::empty()).unwrap()).await;
    assert_eq!((a.status, a.json()), (StatusCode::OK, json!({"ok": true})));
}

#[tokio::test]
async fn static_files_and_the_sdk_are_served() {
    let e = Env::new();
    let a = call(&e, Request::get("/hello.html").body(Body::empty()).unwrap()).await;
    assert_eq!(
        (a.status, a.body.as_slice()),
        (StatusCode::OK, b"<h1>hi</h1>".as_slice())
    );
    let a = call(
        &e,
        Request::get("/sillage/sillage_bg.wasm")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.headers[header::CONTENT_TYPE], "application/wasm");
    assert_eq!(a.headers[header::CACHE_CONTROL], "no-cache");
    let a = call(&e, Request::get("/nope.html").body(Body::empty()).unwrap()).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_sdk_is_served_precompressed_when_the_files_are_there() {
    let files: &[(&str, &[u8])] = &[
        ("sdk/sillage.js", b"plain"),
        ("sdk/sillage.js.br", b"brotli"),
        ("sdk/sillage.js.gz", b"gzip"),
        ("sdk/sillage_glue.js", b"glue"),
        ("sdk/sillage_glue.js.gz", b"glue-gzip"),
    ];
    let e = Env::with_files(files, |_| {});
    // (path, Accept-Encoding, Content-Encoding, body, Content-Type)
    let cases: &[(&str, &str, Option<&str>, &str, &str)] = &[
        (
            "/sillage/sillage.js",
            "gzip, deflate, br",
            Some("br"),
            "brotli",
            "text/javascript",
        ),
        (
            "/sillage/sillage.js",
            "gzip",
            Some("gzip"),
            "gzip",
            "text/javascript",
        ),
        ("/sillage/sillage.js", "", None, "plain", "text/javascript"),
        (
            "/sillage/sillage_glue.js",
            "br",
            None,
            "glue",
            "text/javascript",
        ),
        (
            "/sillage/sillage_glue.js",
            "br, gzip",
            Some("gzip"),
            "glue-gzip",
            "text/javascript",
        ),
        (
            "/sillage/sillage_bg.wasm",
            "br, gzip",
            None,
            "\0asm\x01\0\0\0",
            "application/wasm",
        ),
    ];
    for &(path, accept, encoding, body, ctype) in cases {
        let a = call(
            &e,
            Request::get(path)
                .header(header::ACCEPT_ENCODING, accept)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        let get = |n: header::HeaderName| a.headers.get(n).map(|v| v.to_str().unwrap().to_string());
        assert_eq!(a.status, StatusCode::OK, "{path} {accept}");
        assert_eq!(
            get(header::CONTENT_ENCODING).as_deref(),
            encoding,
            "{path} {accept}"
        );
        assert_eq!(String::from_utf8_lossy(&a.body), body, "{path} {accept}");
        assert!(
            get(header::CONTENT_TYPE).unwrap().starts_with(ctype),
            "{path}"
        );
        assert!(
            a.headers
                .get_all(header::VARY)
                .iter()
                .any(|v| v.to_str().unwrap().eq_ignore_ascii_case("accept-encoding")),
            "{path}: Vary: Accept-Encoding"
        );
    }
}

const HEADERS: &str = "\
# Test pages served with a policy
/test/csp.html
  Content-Security-Policy: script-src 'self'; object-src 'none'
  X-Test: one
  X-Test: two

/test/*
  X-Frame-Options: DENY
  X-Test: later block wins
";

#[tokio::test]
async fn www_paths_get_the_headers_of_every_matching_headers_block() {
    let e = Env::with_files(
        &[
            ("www/_headers", HEADERS.as_bytes()),
            ("www/test/csp.html", b"<p>csp</p>"),
            ("www/test/other.html", b"<p>other</p>"),
        ],
        |_| {},
    );
    let csp = "script-src 'self'; object-src 'none'";
    // (path, status, Content-Security-Policy, X-Frame-Options, X-Test)
    type Case<'a> = (
        &'a str,
        u16,
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
    );
    let later = Some("later block wins");
    let cases: &[Case] = &[
        ("/test/csp.html", 200, Some(csp), Some("DENY"), later),
        ("/test/csp.html?x=1", 200, Some(csp), Some("DENY"), later),
        ("/test/other.html", 200, None, Some("DENY"), later),
        ("/test/missing.html", 404, None, Some("DENY"), later),
        ("/hello.html", 200, None, None, None),
        // Only the static routes: not the SDK, not the API.
        ("/sillage/sillage_bg.wasm", 200, None, None, None),
        ("/health", 200, None, None, None),
        // The file itself is not served.
        ("/_headers", 404, None, None, None),
    ];
    for &(path, status, csp, frame, test) in cases {
        let a = call(&e, Request::get(path).body(Body::empty()).unwrap()).await;
        let get = |n: &str| a.headers.get(n).map(|v| v.to_str().unwrap());
        assert_eq!(
            (
                a.status.as_u16(),
                get("content-security-policy"),
                get("x-frame-options"),
                get("x-test")
            ),
            (status, csp, frame, test),
            "{path}"
        );
    }
}

#[test]
fn a_headers_file_reports_each_line_it_skips() {
    use sillage_collector::PathHeaders;
    // (file, warnings, headers for /a)
    type Case<'a> = (&'a str, &'a [&'a str], &'a [(&'a str, &'a str)]);
    let cases: &[Case] = &[
        (
            "/a\n  X-A: 1\n\ta-b: 2\n",
            &[],
            &[("x-a", "1"), ("a-b", "2")],
        ),
        ("# only a comment\n\n", &[], &[]),
        ("/a\n  X-A: 1\n  X-A: 2\n", &[], &[("x-a", "1, 2")]),
        (
            "/*\n  X-A: all\n/a\n  X-A: mine\n",
            &[],
            &[("x-a", "all"), ("x-a", "mine")],
        ),
        (
            "  X-A: 1\n/a\n  X-B: 2\n",
            &["line 1: \"X-A: 1\": a header line needs a path line above it"],
            &[("x-b", "2")],
        ),
        (
            "a\n  X-A: 1\n",
            &[
                "line 1: expected a path starting with /, got \"a\"",
                "line 2: \"X-A: 1\": a header line needs a path line above it",
            ],
            &[],
        ),
        (
            "/*/b\n  X-A: 1\n",
            &[
                "line 1: \"/*/b\": * is only allowed at the end of a path",
                "line 2: \"X-A: 1\": a header line needs a path line above it",
            ],
            &[],
        ),
        (
            "/a\n  no colon\n  Bad Name: 1\n  X-C: 3\n",
            &[
                "line 2: \"no colon\": expected Name: value",
                "line 3: \"Bad Name: 1\": not a valid header name and value",
            ],
            &[("x-c", "3")],
        ),
    ];
    for &(text, warnings, headers) in cases {
        let (rules, got) = PathHeaders::parse(text);
        assert_eq!(got, warnings, "{text:?}");
        let got: Vec<(String, String)> = rules
            .for_path("/a")
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_string()))
            .collect();
        let want: Vec<(String, String)> = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        assert_eq!(got, want, "{text:?}");
    }
}

#[tokio::test]
async fn the_journey_report_is_served_to_the_site_owner() {
    let e = Env::new();
    post(&e, batch(&["r1", "r2", "r3"])).await;
    let all = admin_get(&e, "/v1/report").await;
    assert_eq!(all["totals"]["events"], 3, "{all}");
    assert_eq!(all["from"], Value::Null);
    // The range applies (the events are of 2026-11-23).
    let before = admin_get(&e, "/v1/report?to=2026-11-22").await;
    assert_eq!(before["totals"]["events"], 0);
    assert_eq!(before["to"], "2026-11-23T00:00:00.000Z");
    // The page: self-contained HTML.
    let page = call(&e, crate::admin("GET", "/report?from=2026-11-23", "")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.headers[header::CONTENT_TYPE],
        "text/html; charset=utf-8"
    );
    let html = String::from_utf8(page.body).unwrap();
    assert!(
        html.starts_with("<!doctype html>") || html.starts_with("<!DOCTYPE html>"),
        "{}",
        &html[..40]
    );
    // Bad parameters are named.
    for (path, named) in [
        ("/v1/report?from=yesterday", "from"),
        ("/report?to=2026-13-01", "to"),
        ("/v1/report?since=2026-01-01", "since"),
    ] {
        let a = call(&e, crate::admin("GET", path, "")).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{path}");
        assert!(a.error().contains(named), "{path}: {}", a.error());
    }
}
