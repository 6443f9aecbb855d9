//! The collector's HTTP surface, driven in-process through the Router, plus one
//! test of the real binary over TCP and a graceful shutdown.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use sillage_collector::{app, AppState, Options, MAX_BODY};
use tower::ServiceExt;

struct Env {
    _dir: tempfile::TempDir,
    state: AppState,
    db: std::path::PathBuf,
}

fn env_with(origins: &[&str], faults: bool) -> Env {
    env_full(origins, faults, &[])
}

/// An environment whose www/ also holds `files` (path, content).
fn env_full(origins: &[&str], faults: bool, files: &[(&str, &str)]) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let www = dir.path().join("www");
    let sdk = dir.path().join("sdk");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::create_dir_all(&sdk).unwrap();
    std::fs::write(www.join("hello.html"), "<h1>hi</h1>").unwrap();
    for (path, content) in files {
        let at = www.join(path);
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        std::fs::write(at, content).unwrap();
    }
    std::fs::write(sdk.join("sillage_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let db = dir.path().join("events.db");
    let state = AppState::open(Options {
        db: db.clone(),
        www,
        sdk,
        allow_origins: origins.iter().map(|s| s.to_string()).collect(),
        faults,
    })
    .unwrap();
    Env {
        _dir: dir,
        state,
        db,
    }
}

fn env() -> Env {
    env_with(&["*"], false)
}

fn event(id: &str) -> Value {
    json!({"type": "track", "event": "Signed Up", "messageId": id, "anonymousId": "a-1",
           "timestamp": "2026-11-23T05:24:08.123Z", "properties": {"plan": "pro"},
           "context": {"sillage": {"sessionId": "s-1"}}})
}

fn batch(ids: &[&str]) -> String {
    json!({"batch": ids.iter().map(|i| event(i)).collect::<Vec<_>>(), "sentAt": "2026-11-23T05:24:09.000Z"}).to_string()
}

async fn call(e: &Env, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let res = app(e.state.clone()).oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.unwrap().to_bytes().to_vec(),
    )
}

async fn post(e: &Env, ctype: &str, body: String) -> (StatusCode, Value) {
    let req = Request::post("/v1/batch")
        .header(header::CONTENT_TYPE, ctype)
        .body(Body::from(body))
        .unwrap();
    let (s, _, b) = call(e, req).await;
    (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

async fn get_json(e: &Env, path: &str) -> Value {
    let (s, _, b) = call(e, Request::get(path).body(Body::empty()).unwrap()).await;
    assert_eq!(s, StatusCode::OK, "{path}");
    serde_json::from_slice(&b).unwrap()
}

fn rows(e: &Env) -> i64 {
    let c = rusqlite::Connection::open(&e.db).unwrap();
    c.query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn bad_batches_get_400_naming_the_field_and_store_nothing() {
    let e = env();
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
    ];
    for (body, want) in cases {
        let (s, v) = post(&e, "text/plain", body).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{want}");
        let msg = v["error"].as_str().unwrap();
        assert!(msg.starts_with(want), "{msg} should start with {want}");
    }
    assert_eq!(rows(&e), 0);
    assert_eq!(get_json(&e, "/v1/stats").await["rejected"], 10);
}

#[tokio::test]
async fn bodies_above_512_kb_get_413() {
    let e = env();
    let pad = "x".repeat(MAX_BODY);
    let (s, _) = post(
        &e,
        "text/plain",
        format!("{{\"batch\":[],\"pad\":\"{pad}\"}}"),
    )
    .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    // Just under the limit is read (and judged on its shape, not its size).
    let pad = "x".repeat(MAX_BODY - 100);
    let (s, _) = post(
        &e,
        "text/plain",
        format!("{{\"batch\":[],\"pad\":\"{pad}\"}}"),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_same_message_ids_are_stored_once() {
    let e = env();
    let (s, v) = post(&e, "text/plain;charset=UTF-8", batch(&["a", "b"])).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (v["inserted"].as_u64(), v["duplicates"].as_u64()),
        (Some(2), Some(0))
    );
    let (_, v) = post(&e, "application/json", batch(&["a", "b"])).await;
    assert_eq!(
        (v["inserted"].as_u64(), v["duplicates"].as_u64()),
        (Some(0), Some(2))
    );
    let (_, v) = post(&e, "text/plain", batch(&["b", "c"])).await;
    assert_eq!(
        (v["inserted"].as_u64(), v["duplicates"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(rows(&e), 3);
    let ev = get_json(&e, "/v1/events?limit=10").await;
    let ids: Vec<&str> = ev["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["messageId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a", "b", "c"], "oldest first");
    assert!(ev["events"][0]["receivedAt"].is_string());
    let st = get_json(&e, "/v1/stats").await;
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
    let e = env();
    let body =
        json!({"batch": [event("m")], "context": {"sillage": {"dropped": 3, "storage": "memory"}}})
            .to_string();
    assert_eq!(post(&e, "text/plain", body).await.0, StatusCode::OK);
    let ev = get_json(&e, "/v1/events").await;
    assert_eq!(
        ev["events"][0]["context"]["sillage"],
        json!({"sessionId": "s-1", "dropped": 3, "storage": "memory"})
    );
}

#[tokio::test]
async fn content_types_other_than_text_or_json_get_415() {
    let e = env();
    assert_eq!(
        post(&e, "application/xml", batch(&["x"])).await.0,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    assert_eq!(rows(&e), 0);
}

#[tokio::test]
async fn events_filters_and_limits() {
    let e = env();
    post(&e, "text/plain", batch(&["1", "2", "3"])).await;
    let ev = get_json(&e, "/v1/events?limit=2").await;
    let ids: Vec<&str> = ev["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["messageId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["2", "3"], "the most recent, oldest first");
    assert_eq!(
        get_json(&e, "/v1/events?type=page").await["events"],
        json!([])
    );
    assert_eq!(
        get_json(&e, "/v1/events?event=Signed%20Up").await["events"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(get_json(&e, "/health").await, json!({"ok": true}));
}

async fn cors(e: &Env, method: &str, origin: &str) -> axum::http::HeaderMap {
    let mut req = Request::builder()
        .method(method)
        .uri("/v1/batch")
        .header(header::ORIGIN, origin);
    if method == "OPTIONS" {
        req = req
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type");
    } else {
        req = req.header(header::CONTENT_TYPE, "text/plain");
    }
    let body = if method == "POST" {
        Body::from(batch(&["c"]))
    } else {
        Body::empty()
    };
    call(e, req.body(body).unwrap()).await.1
}

#[tokio::test]
async fn cors_follows_the_allow_list() {
    let e = env_with(&["https://shop.example"], false);
    let h = cors(&e, "POST", "https://shop.example").await;
    assert_eq!(
        h[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://shop.example"
    );
    assert!(h.get_all(header::VARY).iter().any(|v| v
        .to_str()
        .unwrap()
        .to_ascii_lowercase()
        .contains("origin")));
    assert_eq!(
        h[header::ACCESS_CONTROL_EXPOSE_HEADERS]
            .to_str()
            .unwrap()
            .to_ascii_lowercase(),
        "retry-after"
    );
    let h = cors(&e, "POST", "https://evil.example").await;
    assert!(h.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    let h = cors(&e, "OPTIONS", "https://shop.example").await;
    assert_eq!(
        h[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://shop.example"
    );
    assert!(h[header::ACCESS_CONTROL_ALLOW_METHODS]
        .to_str()
        .unwrap()
        .contains("POST"));

    let any = env();
    assert_eq!(
        cors(&any, "POST", "https://anywhere.example").await[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "*"
    );
}

#[tokio::test]
async fn static_files_and_the_sdk_are_served() {
    let e = env();
    let (s, _, b) = call(&e, Request::get("/hello.html").body(Body::empty()).unwrap()).await;
    assert_eq!(
        (s, b.as_slice()),
        (StatusCode::OK, b"<h1>hi</h1>".as_slice())
    );
    let (s, h, _) = call(
        &e,
        Request::get("/sillage/sillage_bg.wasm")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "application/wasm");
    assert_eq!(h[header::CACHE_CONTROL], "no-cache");
    let (s, _, _) = call(&e, Request::get("/nope.html").body(Body::empty()).unwrap()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
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
    let e = env_full(
        &["*"],
        false,
        &[
            ("_headers", HEADERS),
            ("test/csp.html", "<p>csp</p>"),
            ("test/other.html", "<p>other</p>"),
        ],
    );
    let csp = "script-src 'self'; object-src 'none'";
    /// (path, status, Content-Security-Policy, X-Frame-Options, X-Test)
    type Case<'a> = (
        &'a str,
        u16,
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
    );
    let cases: &[Case] = &[
        (
            "/test/csp.html",
            200,
            Some(csp),
            Some("DENY"),
            Some("later block wins"),
        ),
        (
            "/test/csp.html?x=1",
            200,
            Some(csp),
            Some("DENY"),
            Some("later block wins"),
        ),
        (
            "/test/other.html",
            200,
            None,
            Some("DENY"),
            Some("later block wins"),
        ),
        (
            "/test/missing.html",
            404,
            None,
            Some("DENY"),
            Some("later block wins"),
        ),
        ("/hello.html", 200, None, None, None),
        // Only the static routes: not the SDK, not the API.
        ("/sillage/sillage_bg.wasm", 200, None, None, None),
        ("/health", 200, None, None, None),
        // The file itself is not served.
        ("/_headers", 404, None, None, None),
    ];
    for &(path, status, csp, frame, test) in cases {
        let (s, h, _) = call(&e, Request::get(path).body(Body::empty()).unwrap()).await;
        let get = |n: &str| h.get(n).map(|v| v.to_str().unwrap());
        assert_eq!(
            (
                s.as_u16(),
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
    /// (file, warnings, headers for /a)
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
async fn faults_are_injected_only_when_enabled() {
    let off = env();
    let req = Request::post("/v1/faults")
        .body(Body::from(r#"{"status":503,"forMs":1000}"#))
        .unwrap();
    assert_ne!(call(&off, req).await.0, StatusCode::OK);

    let e = env_with(&["*"], true);
    let req = Request::post("/v1/faults")
        .body(Body::from(
            r#"{"status":429,"retryAfter":"3","forMs":60000}"#,
        ))
        .unwrap();
    assert_eq!(call(&e, req).await.0, StatusCode::OK);
    let req = Request::post("/v1/batch")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(batch(&["f"])))
        .unwrap();
    let (s, h, _) = call(&e, req).await;
    assert_eq!(
        (s, h[header::RETRY_AFTER].to_str().unwrap()),
        (StatusCode::TOO_MANY_REQUESTS, "3")
    );
    assert_eq!(rows(&e), 0);
    let req = Request::post("/v1/faults")
        .body(Body::from(r#"{"bogus":1,"forMs":1}"#))
        .unwrap();
    assert_eq!(call(&e, req).await.0, StatusCode::BAD_REQUEST);
    call(
        &e,
        Request::delete("/v1/faults").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(
        post(&e, "text/plain", batch(&["f"])).await.0,
        StatusCode::OK
    );
    assert_eq!(get_json(&e, "/v1/stats").await["faulted"], 1);
}

/// Sends one HTTP/1.1 request over TCP; returns the status code and body.
fn http(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split(' ').nth(1).unwrap().parse().unwrap();
    (
        status,
        out.split("\r\n\r\n").nth(1).unwrap_or("").to_string(),
    )
}

#[test]
fn the_binary_serves_and_keeps_acknowledged_events_across_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("e.db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sillage-collector"))
        .args(["--addr", "127.0.0.1:0", "--db"])
        .arg(&db)
        .args([
            "--www",
            dir.path().to_str().unwrap(),
            "--sdk",
            dir.path().to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("sillage-collector listening on http://")
        .unwrap()
        .to_string();
    let (status, body) = http(&addr, "POST", "/v1/batch", &batch(&["d1", "d2"]));
    assert_eq!(status, 200, "{body}");
    assert_eq!(http(&addr, "GET", "/health", "").0, 200);
    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    assert!(child.wait().unwrap().success(), "graceful exit");
    let c = rusqlite::Connection::open(&db).unwrap();
    let n: i64 = c
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);
}

#[test]
fn bad_arguments_are_named() {
    let out = Command::new(env!("CARGO_BIN_EXE_sillage-collector"))
        .arg("--port")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown argument: --port"));
}
