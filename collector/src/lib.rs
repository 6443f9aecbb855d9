//! The reference collector: receives Segment-Spec batches and stores each
//! event exactly once in SQLite.
//!
//! Why it exists: the SDK's delivery contract is *at least once* (beacons give
//! no acknowledgement, retries may repeat a request whose response was lost),
//! so a collector must deduplicate by `messageId`. This one does it with
//! `INSERT OR IGNORE` on a primary key, answers 200 only after the
//! transaction committed, and so never acknowledges an event it could lose.
//! It also serves the demo store and the built SDK (with per-path response
//! headers from `www/_headers`, so a test page can be served with a
//! Content-Security-Policy), and, for tests only, can inject faults
//! (`--faults`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rusqlite::{params, Connection};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

/// Largest accepted request body: 512 KB.
pub const MAX_BODY: usize = 512 * 1024;
/// Most events in one batch.
pub const MAX_EVENTS: usize = 1000;

pub mod report;

const TYPES: &[&str] = &["page", "track", "identify", "screen", "group", "alias"];

/// How the collector is set up.
#[derive(Clone, Debug)]
pub struct Options {
    /// SQLite file.
    pub db: PathBuf,
    /// Served at `/`.
    pub www: PathBuf,
    /// The built SDK, served at `/sillage/`.
    pub sdk: PathBuf,
    /// CORS allow-list; `*` allows any origin.
    pub allow_origins: Vec<String>,
    /// Whether the test-only fault injection endpoint is on.
    pub faults: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            db: PathBuf::from("sillage-events.db"),
            www: PathBuf::from("www"),
            sdk: PathBuf::from("target/sillage-sdk"),
            allow_origins: vec!["*".into()],
            faults: false,
        }
    }
}

/// A fault to inject into batch requests, for tests (`POST /v1/faults`).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultSpec {
    /// Answer this status instead of storing (503, 429, ...).
    pub status: Option<u16>,
    /// `Retry-After` header value to send with `status`.
    pub retry_after: Option<String>,
    /// Abort the connection without an answer.
    #[serde(default)]
    pub drop: bool,
    /// Wait this long before answering (the batch is then stored).
    pub delay_ms: Option<u64>,
    /// How long the fault lasts.
    pub for_ms: u64,
}

#[derive(Default)]
struct Stats {
    requests: AtomicU64,
    batches: AtomicU64,
    events_received: AtomicU64,
    events_inserted: AtomicU64,
    duplicates: AtomicU64,
    rejected: AtomicU64,
    faulted: AtomicU64,
    bytes_received: AtomicU64,
}

struct Inner {
    db: Mutex<Connection>,
    stats: Stats,
    faults_enabled: bool,
    fault: Mutex<Option<(FaultSpec, Instant)>>,
}

/// Shared state of the collector.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
    options: Options,
    headers: Arc<PathHeaders>,
}

/// Response headers for the static `www/` paths, read once at start from
/// `www/_headers` in Netlify's format: a path pattern on a line of its own,
/// then its headers on indented `Name: value` lines; `#` starts a comment.
/// A pattern is an exact path, or a prefix followed by `*` (`/test/*`).
///
/// Every block whose pattern matches a request path applies, in file order;
/// a header named twice in one block is sent as one comma-separated value,
/// and a later matching block's value replaces an earlier one's (as Netlify
/// does). Lines that cannot be understood are reported and skipped.
#[derive(Clone, Debug, Default)]
pub struct PathHeaders {
    rules: Vec<(String, Vec<(HeaderName, HeaderValue)>)>,
}

/// The name of the headers file in the `www` directory (never served).
pub const HEADERS_FILE: &str = "_headers";

impl PathHeaders {
    /// Parses a `_headers` file; returns the rules and a warning (with its
    /// line number) for each line skipped.
    pub fn parse(text: &str) -> (PathHeaders, Vec<String>) {
        let mut rules: Vec<(String, Vec<(HeaderName, HeaderValue)>)> = Vec::new();
        let mut warnings = Vec::new();
        // Whether the current block's pattern was usable.
        let mut in_block = false;
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut warn = |m: String| warnings.push(format!("line {}: {m}", i + 1));
            let indented = raw.starts_with([' ', '\t']);
            if !indented {
                in_block = false;
                if !line.starts_with('/') {
                    warn(format!("expected a path starting with /, got {line:?}"));
                } else if line.trim_end_matches('*').contains('*') {
                    warn(format!("{line:?}: * is only allowed at the end of a path"));
                } else if line.contains(char::is_whitespace) {
                    warn(format!("{line:?}: a path cannot contain spaces"));
                } else {
                    rules.push((line.to_string(), Vec::new()));
                    in_block = true;
                }
                continue;
            }
            if !in_block {
                warn(format!(
                    "{line:?}: a header line needs a path line above it"
                ));
                continue;
            }
            let Some((name, value)) = line.split_once(':') else {
                warn(format!("{line:?}: expected Name: value"));
                continue;
            };
            let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.trim().as_bytes()),
                HeaderValue::from_str(value.trim()),
            ) else {
                warn(format!("{line:?}: not a valid header name and value"));
                continue;
            };
            let Some((_, headers)) = rules.last_mut() else {
                continue;
            };
            match headers.iter_mut().find(|(n, _)| *n == name) {
                Some((_, v)) => {
                    let mut joined = v.as_bytes().to_vec();
                    joined.extend_from_slice(b", ");
                    joined.extend_from_slice(value.as_bytes());
                    if let Ok(j) = HeaderValue::from_bytes(&joined) {
                        *v = j;
                    }
                }
                None => headers.push((name, value)),
            }
        }
        (PathHeaders { rules }, warnings)
    }

    /// Reads `www/_headers` if it exists.
    pub fn load(www: &std::path::Path) -> (PathHeaders, Vec<String>) {
        match std::fs::read_to_string(www.join(HEADERS_FILE)) {
            Ok(text) => PathHeaders::parse(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (PathHeaders::default(), vec![]),
            Err(e) => (PathHeaders::default(), vec![format!("cannot read it: {e}")]),
        }
    }

    /// The headers for a request path, in the order they apply.
    pub fn for_path<'a>(
        &'a self,
        path: &'a str,
    ) -> impl Iterator<Item = &'a (HeaderName, HeaderValue)> + 'a {
        self.rules
            .iter()
            .filter(move |(pattern, _)| match pattern.strip_suffix('*') {
                Some(prefix) => path.starts_with(prefix),
                None => path == pattern,
            })
            .flat_map(|(_, headers)| headers)
    }
}

impl AppState {
    /// Opens (or creates) the database in WAL mode.
    pub fn open(options: Options) -> Result<AppState, String> {
        let conn = Connection::open(&options.db)
            .map_err(|e| format!("cannot open {}: {e}", options.db.display()))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA busy_timeout = 5000;
             CREATE TABLE IF NOT EXISTS events (
                 message_id   TEXT PRIMARY KEY,
                 type         TEXT NOT NULL,
                 event        TEXT,
                 name         TEXT,
                 anonymous_id TEXT,
                 user_id      TEXT,
                 session_id   TEXT,
                 timestamp    TEXT,
                 sent_at      TEXT,
                 write_key    TEXT,
                 received_at  TEXT NOT NULL,
                 payload      TEXT NOT NULL
             );
             CREATE INDEX IF NOT EXISTS events_anonymous_id ON events (anonymous_id);",
        )
        .map_err(|e| format!("cannot set up {}: {e}", options.db.display()))?;
        report::migrate(&conn)
            .map_err(|e| format!("cannot set up {}: {e}", options.db.display()))?;
        let (headers, warnings) = PathHeaders::load(&options.www);
        for w in warnings {
            eprintln!(
                "sillage-collector: warning: {}: {w}",
                options.www.join(HEADERS_FILE).display()
            );
        }
        Ok(AppState {
            inner: Arc::new(Inner {
                db: Mutex::new(conn),
                stats: Stats::default(),
                faults_enabled: options.faults,
                fault: Mutex::new(None),
            }),
            options,
            headers: Arc::new(headers),
        })
    }

    /// Checkpoints the WAL into the database file (at shutdown).
    pub fn checkpoint(&self) {
        if let Ok(db) = self.inner.db.lock() {
            let _ = db.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
        }
    }
}

/// The whole HTTP surface.
pub fn app(state: AppState) -> Router {
    let o = &state.options;
    let cors = {
        let origin = if o.allow_origins.iter().any(|x| x == "*") {
            AllowOrigin::any()
        } else {
            AllowOrigin::list(
                o.allow_origins
                    .iter()
                    .filter_map(|x| HeaderValue::from_str(x).ok()),
            )
        };
        CorsLayer::new()
            .allow_origin(origin)
            .allow_methods([Method::GET, Method::POST, Method::DELETE])
            .allow_headers([header::CONTENT_TYPE])
            .expose_headers([header::RETRY_AFTER])
    };
    let sdk = Router::new().fallback_service(ServeDir::new(&o.sdk)).layer(
        SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ),
    );
    let mut api = Router::new()
        .route("/v1/batch", post(ingest))
        .route("/v1/b", post(ingest))
        .route("/v1/events", get(events))
        .route("/v1/stats", get(stats))
        .route("/health", get(|| async { Json(json!({"ok": true})) }));
    if o.faults {
        api = api.route("/v1/faults", post(set_fault).delete(clear_fault));
    }
    let www = Router::new().fallback_service(ServeDir::new(&o.www)).layer(
        middleware::from_fn_with_state(state.headers.clone(), www_headers),
    );
    api.layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(cors)
        .with_state(state.clone())
        .nest_service("/sillage", sdk)
        .fallback_service(www)
        .layer(middleware::from_fn(log))
}

/// Adds the `_headers` rules to the static `www/` responses (and keeps the
/// file itself private, as Netlify does).
async fn www_headers(State(rules): State<Arc<PathHeaders>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if path.strip_prefix('/') == Some(HEADERS_FILE) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let mut res = next.run(req).await;
    for (name, value) in rules.for_path(&path) {
        res.headers_mut().insert(name.clone(), value.clone());
    }
    res
}

/// Number of events in a batch response, for the request log line.
#[derive(Clone, Copy)]
struct EventCount(usize);

async fn log(req: Request, next: Next) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let t0 = Instant::now();
    let res = next.run(req).await;
    let events = res
        .extensions()
        .get::<EventCount>()
        .map(|c| format!(" {} events", c.0))
        .unwrap_or_default();
    eprintln!(
        "{method} {path} {} {}ms{events}",
        res.status().as_u16(),
        t0.elapsed().as_millis()
    );
    res
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": message.into()}))).into_response()
}

/// `2026-11-23T05:24:08.123Z` for now.
fn now_iso() -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as f64)
        .unwrap_or(0.0);
    sillage::core::time::iso8601(ms)
}

/// Checks a batch body; the message names the bad field by JSON path.
pub fn validate(body: &Value) -> Result<&Vec<Value>, String> {
    let obj = body.as_object().ok_or("body: must be a JSON object")?;
    let batch = match obj.get("batch") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        _ => return Err("batch: must be a non-empty array".into()),
    };
    if batch.len() > MAX_EVENTS {
        return Err(format!(
            "batch: at most {MAX_EVENTS} events, got {}",
            batch.len()
        ));
    }
    for (k, what) in [("sentAt", "a string"), ("writeKey", "a string")] {
        if obj.get(k).is_some_and(|v| !v.is_string()) {
            return Err(format!("{k}: must be {what}"));
        }
    }
    if obj.get("context").is_some_and(|v| !v.is_object()) {
        return Err("context: must be an object".into());
    }
    for (i, ev) in batch.iter().enumerate() {
        let at = |field: &str| format!("batch[{i}].{field}");
        let ev = ev
            .as_object()
            .ok_or_else(|| format!("batch[{i}]: must be an object"))?;
        let nonempty = |k: &str| {
            ev.get(k)
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty())
        };
        match ev.get("type").and_then(Value::as_str) {
            None => return Err(format!("{}: missing", at("type"))),
            Some(t) if !TYPES.contains(&t) => {
                return Err(format!(
                    "{}: must be one of {}",
                    at("type"),
                    TYPES.join(", ")
                ))
            }
            Some("track") if !nonempty("event") => {
                return Err(format!(
                    "{}: must be a non-empty string for a track event",
                    at("event")
                ))
            }
            Some(_) => {}
        }
        match ev.get("messageId") {
            None => return Err(format!("{}: missing", at("messageId"))),
            Some(Value::String(s)) if !s.is_empty() && s.len() <= 128 => {}
            Some(_) => {
                return Err(format!(
                    "{}: must be a non-empty string of at most 128 characters",
                    at("messageId")
                ))
            }
        }
        if !nonempty("anonymousId") && !nonempty("userId") {
            return Err(format!("{}: missing (or userId)", at("anonymousId")));
        }
        if !ev.get("timestamp").is_some_and(Value::is_string) {
            return Err(format!("{}: must be a string", at("timestamp")));
        }
        for k in ["properties", "context", "traits"] {
            if ev.get(k).is_some_and(|v| !v.is_object()) {
                return Err(format!("{}: must be an object", at(k)));
            }
        }
    }
    Ok(batch)
}

fn text(v: &Map<String, Value>, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_string)
}

/// Stores a validated batch in one transaction; returns (inserted, duplicates).
fn store(db: &mut Connection, body: &Value, batch: &[Value]) -> rusqlite::Result<(usize, usize)> {
    let received_at = now_iso();
    let sent_at = body.get("sentAt").and_then(Value::as_str);
    let write_key = body.get("writeKey").and_then(Value::as_str);
    let batch_context = body.get("context").and_then(Value::as_object);
    let tx = db.transaction()?;
    let mut inserted = 0;
    {
        let mut stmt = tx.prepare_cached(
            "INSERT OR IGNORE INTO events (message_id, type, event, name, anonymous_id, user_id,
                 session_id, timestamp, sent_at, write_key, received_at, payload)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?;
        for ev in batch {
            let mut ev = ev.as_object().cloned().unwrap_or_default();
            // Segment's batch-level context applies to every event in the batch.
            if let Some(bc) = batch_context {
                let ctx = ev
                    .entry("context")
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Some(ctx) = ctx.as_object_mut() {
                    merge(ctx, bc);
                }
            }
            let session = ev
                .get("context")
                .and_then(|c| c.pointer("/sillage/sessionId"))
                .and_then(Value::as_str)
                .map(str::to_string);
            inserted += stmt.execute(params![
                text(&ev, "messageId"),
                text(&ev, "type"),
                text(&ev, "event"),
                text(&ev, "name"),
                text(&ev, "anonymousId"),
                text(&ev, "userId"),
                session,
                text(&ev, "timestamp"),
                sent_at,
                write_key,
                received_at,
                Value::Object(ev).to_string(),
            ])?;
        }
    }
    tx.commit()?;
    Ok((inserted, batch.len() - inserted))
}

/// Deep-merges `from` into `into`, keeping what `into` already has.
fn merge(into: &mut Map<String, Value>, from: &Map<String, Value>) {
    for (k, v) in from {
        match (into.get_mut(k), v) {
            (Some(Value::Object(a)), Value::Object(b)) => merge(a, b),
            (Some(_), _) => {}
            (None, v) => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

fn active_fault(state: &AppState) -> Option<FaultSpec> {
    let mut guard = state.inner.fault.lock().ok()?;
    match guard.as_ref() {
        Some((spec, until)) if Instant::now() < *until => Some(spec.clone()),
        Some(_) => {
            *guard = None;
            None
        }
        None => None,
    }
}

/// A body that fails mid-stream: hyper then aborts the connection, which the
/// browser sees as a network error.
fn aborted() -> Response {
    Response::new(Body::from_stream(failing_stream()))
}

fn failing_stream() -> impl futures_core::Stream<Item = Result<Bytes, std::io::Error>> {
    struct Fail(bool);
    impl futures_core::Stream for Fail {
        type Item = Result<Bytes, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            if self.0 {
                return std::task::Poll::Ready(None);
            }
            self.0 = true;
            std::task::Poll::Ready(Some(Err(std::io::Error::other("fault: dropped"))))
        }
    }
    Fail(false)
}

async fn ingest(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let stats = &state.inner.stats;
    stats.requests.fetch_add(1, Ordering::Relaxed);
    stats
        .bytes_received
        .fetch_add(body.len() as u64, Ordering::Relaxed);
    if let Some(fault) = active_fault(&state) {
        if let Some(ms) = fault.delay_ms {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        if fault.drop {
            stats.faulted.fetch_add(1, Ordering::Relaxed);
            return aborted();
        }
        if let Some(code) = fault.status {
            stats.faulted.fetch_add(1, Ordering::Relaxed);
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let mut res = error(status, "fault injected");
            if let Some(v) = fault
                .retry_after
                .and_then(|v| HeaderValue::from_str(&v).ok())
            {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return res;
        }
    }
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !matches!(ctype.as_str(), "" | "text/plain" | "application/json") {
        stats.rejected.fetch_add(1, Ordering::Relaxed);
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("content-type: expected text/plain or application/json, got {ctype}"),
        );
    }
    let parsed: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            stats.rejected.fetch_add(1, Ordering::Relaxed);
            return error(StatusCode::BAD_REQUEST, format!("body: invalid JSON: {e}"));
        }
    };
    let n = match validate(&parsed) {
        Ok(batch) => batch.len(),
        Err(m) => {
            stats.rejected.fetch_add(1, Ordering::Relaxed);
            return error(StatusCode::BAD_REQUEST, m);
        }
    };
    let inner = state.inner.clone();
    let result = tokio::task::spawn_blocking(move || {
        let mut db = inner
            .db
            .lock()
            .map_err(|_| "database lock poisoned".to_string())?;
        let batch = parsed["batch"].as_array().cloned().unwrap_or_default();
        store(&mut db, &parsed, &batch).map_err(|e| e.to_string())
    })
    .await;
    match result {
        Ok(Ok((inserted, duplicates))) => {
            stats.batches.fetch_add(1, Ordering::Relaxed);
            stats.events_received.fetch_add(n as u64, Ordering::Relaxed);
            stats
                .events_inserted
                .fetch_add(inserted as u64, Ordering::Relaxed);
            stats
                .duplicates
                .fetch_add(duplicates as u64, Ordering::Relaxed);
            let mut res = Json(json!({
                "ok": true, "received": n, "inserted": inserted, "duplicates": duplicates
            }))
            .into_response();
            res.extensions_mut().insert(EventCount(n));
            res
        }
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("storage: {e}")),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("storage: {e}")),
    }
}

#[derive(Deserialize)]
struct EventsQuery {
    limit: Option<u32>,
    #[serde(rename = "type")]
    kind: Option<String>,
    event: Option<String>,
}

/// The most recent `limit` events (default 100, at most 10,000), oldest first.
async fn events(State(state): State<AppState>, Query(q): Query<EventsQuery>) -> Response {
    let limit = q.limit.unwrap_or(100).min(10_000);
    let inner = state.inner.clone();
    let rows = tokio::task::spawn_blocking(move || -> rusqlite::Result<Vec<Value>> {
        let db = inner.db.lock().map_err(|_| rusqlite::Error::InvalidQuery)?;
        let mut stmt = db.prepare(
            "SELECT payload, received_at FROM events
             WHERE (?1 IS NULL OR type = ?1) AND (?2 IS NULL OR event = ?2)
             ORDER BY rowid DESC LIMIT ?3",
        )?;
        let mut out: Vec<Value> = stmt
            .query_map(params![q.kind, q.event, limit], |r| {
                let payload: String = r.get(0)?;
                let received: String = r.get(1)?;
                let mut v: Value = serde_json::from_str(&payload).unwrap_or(Value::Null);
                if let Some(o) = v.as_object_mut() {
                    o.insert("receivedAt".into(), Value::String(received));
                }
                Ok(v)
            })?
            .collect::<rusqlite::Result<_>>()?;
        out.reverse();
        Ok(out)
    })
    .await;
    match rows {
        Ok(Ok(events)) => Json(json!({ "events": events })).into_response(),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn stats(State(state): State<AppState>) -> Json<Value> {
    let s = &state.inner.stats;
    let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
    Json(json!({
        "requests": g(&s.requests),
        "batches": g(&s.batches),
        "eventsReceived": g(&s.events_received),
        "eventsInserted": g(&s.events_inserted),
        "duplicates": g(&s.duplicates),
        "rejected": g(&s.rejected),
        "faulted": g(&s.faulted),
        "bytesReceived": g(&s.bytes_received),
    }))
}

async fn set_fault(State(state): State<AppState>, body: Bytes) -> Response {
    if !state.inner.faults_enabled {
        return error(StatusCode::NOT_FOUND, "faults are off");
    }
    let spec: FaultSpec = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("fault: {e}")),
    };
    let until = Instant::now() + Duration::from_millis(spec.for_ms);
    if let Ok(mut f) = state.inner.fault.lock() {
        *f = Some((spec, until));
    }
    Json(json!({"ok": true})).into_response()
}

async fn clear_fault(State(state): State<AppState>) -> Response {
    if let Ok(mut f) = state.inner.fault.lock() {
        *f = None;
    }
    Json(json!({"ok": true})).into_response()
}

/// Parsed command line.
#[derive(Debug)]
pub struct Cli {
    /// Where to listen.
    pub addr: SocketAddr,
    /// Everything else.
    pub options: Options,
}

/// The usage text.
pub const USAGE: &str =
    "usage: sillage-collector [--addr HOST:PORT] [--db PATH] [--www DIR] [--sdk DIR]
                         [--allow-origin ORIGIN]... [--faults]

  --addr HOST:PORT      where to listen (default 127.0.0.1:8080; port 0 picks a free port)
  --db PATH             SQLite file (default ./sillage-events.db)
  --www DIR             served at / (default www)
  --sdk DIR             the built SDK, served at /sillage/ (default target/sillage-sdk)
  --allow-origin ORIGIN CORS allow-list entry, repeatable (default *)
  --faults              enable POST/DELETE /v1/faults (fault injection, for tests only)";

/// Parses the command line (without the program name).
pub fn parse_args(args: &[String]) -> Result<Cli, String> {
    let mut addr: SocketAddr = "127.0.0.1:8080".parse().expect("valid default");
    let mut options = Options::default();
    let mut origins = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "--addr" => {
                let v = value("--addr")?;
                addr = v
                    .parse()
                    .map_err(|_| format!("--addr: not a HOST:PORT address: {v}"))?;
            }
            "--db" => options.db = PathBuf::from(value("--db")?),
            "--www" => options.www = PathBuf::from(value("--www")?),
            "--sdk" => options.sdk = PathBuf::from(value("--sdk")?),
            "--allow-origin" => origins.push(value("--allow-origin")?),
            "--faults" => options.faults = true,
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    if !origins.is_empty() {
        options.allow_origins = origins;
    }
    Ok(Cli { addr, options })
}
