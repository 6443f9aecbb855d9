//! The collector's tests, one binary with a module per feature. Most drive
//! the HTTP surface in-process through the Router (`call`); `cli` runs the
//! real binary, and `forward` runs collectors on real TCP ports.

mod api;
mod cli;
mod faults;
mod forward;
mod limits;
mod parser;
mod privacy;
mod security;

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use sillage_collector::{app, AppState, Options};
use tower::ServiceExt;

/// The admin token of the test collectors.
pub const TOKEN: &str = "test-admin-token-0123456789";

pub struct Env {
    pub dir: tempfile::TempDir,
    pub state: AppState,
    pub db: PathBuf,
}

impl Default for Env {
    fn default() -> Env {
        Env::with(|_| {})
    }
}

impl Env {
    /// A collector with the default options, the admin token [`TOKEN`], and
    /// a www/ and an SDK directory with a file each.
    pub fn new() -> Env {
        Env::with(|_| {})
    }

    /// The same, with the options changed by `f` (and www/ files added by
    /// [`Env::with_files`]).
    pub fn with(f: impl FnOnce(&mut Options)) -> Env {
        Env::with_files(&[], f)
    }

    pub fn with_files(files: &[(&str, &[u8])], f: impl FnOnce(&mut Options)) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let www = dir.path().join("www");
        let sdk = dir.path().join("sdk");
        std::fs::create_dir_all(&www).unwrap();
        std::fs::create_dir_all(&sdk).unwrap();
        std::fs::write(www.join("hello.html"), "<h1>hi</h1>").unwrap();
        for (path, content) in files {
            let at = dir.path().join(path);
            std::fs::create_dir_all(at.parent().unwrap()).unwrap();
            std::fs::write(at, content).unwrap();
        }
        std::fs::write(sdk.join("sillage_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
        let db = dir.path().join("events.db");
        let mut options = Options {
            db: db.clone(),
            www,
            sdk,
            admin_token: Some(TOKEN.into()),
            ..Options::default()
        };
        f(&mut options);
        let state = AppState::open(options).unwrap();
        Env { dir, state, db }
    }

    /// Rows in the events table.
    pub fn rows(&self) -> i64 {
        self.sql_count("SELECT count(*) FROM events")
    }

    pub fn sql_count(&self, sql: &str) -> i64 {
        let c = rusqlite::Connection::open(&self.db).unwrap();
        c.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// The stored messageIds, in order.
    pub fn ids(&self) -> Vec<String> {
        let c = rusqlite::Connection::open(&self.db).unwrap();
        let mut s = c
            .prepare("SELECT message_id FROM events ORDER BY rowid")
            .unwrap();
        let ids = s
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        ids
    }
}

/// A valid track event of visitor `anon`.
pub fn event_of(id: &str, anon: &str) -> Value {
    json!({"type": "track", "event": "Signed Up", "messageId": id, "anonymousId": anon,
           "timestamp": "2026-11-23T05:24:08.123Z", "properties": {"plan": "pro"},
           "context": {"sillage": {"sessionId": "s-1"}}})
}

pub fn event(id: &str) -> Value {
    event_of(id, "a-1")
}

/// A batch of events of visitor `a-1`.
pub fn batch(ids: &[&str]) -> String {
    json!({"batch": ids.iter().map(|i| event(i)).collect::<Vec<_>>(), "sentAt": "2026-11-23T05:24:09.000Z"}).to_string()
}

/// The address requests come from unless they say otherwise.
pub fn peer() -> SocketAddr {
    "127.0.0.1:40000".parse().unwrap()
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The `error` message of a JSON error answer.
    pub fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or("").to_string()
    }
}

/// Runs one request through the whole router (from [`peer`] unless the
/// request carries its own `ConnectInfo`).
pub async fn call(e: &Env, mut req: Request<Body>) -> Answer {
    if req.extensions().get::<ConnectInfo<SocketAddr>>().is_none() {
        req.extensions_mut().insert(ConnectInfo(peer()));
    }
    let res = app(e.state.clone()).oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes().to_vec(),
    }
}

/// `POST path` with a content type and a body.
pub fn post_req(path: &str, ctype: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, ctype)
        .body(body.into())
        .unwrap()
}

/// `POST /v1/batch` as `text/plain`.
pub async fn post(e: &Env, body: String) -> Answer {
    call(e, post_req("/v1/batch", "text/plain", body)).await
}

/// A request with the admin token.
pub fn admin(method: &str, path: &str, body: impl Into<Body>) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(body.into())
        .unwrap()
}

/// `GET path` with the admin token; asserts a 200 and returns the JSON.
pub async fn admin_get(e: &Env, path: &str) -> Value {
    let a = call(e, admin("GET", path, Body::empty())).await;
    assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.error());
    a.json()
}

/// gzip of `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}
