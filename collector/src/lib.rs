//! The reference collector: receives Segment-Spec batches and stores each
//! event exactly once in SQLite.
//!
//! Why it exists: the SDK's delivery contract is *at least once* (beacons give
//! no acknowledgement, retries may repeat a request whose response was lost),
//! so a collector must deduplicate by `messageId`. This one does it with
//! `INSERT OR IGNORE` on a primary key, answers 200 only after the
//! transaction committed, and so never acknowledges an event it could lose.
//!
//! It is locked down: only the ingestion routes (`/v1/batch`, `/v1/b`,
//! `/v1/forget`) are open to browsers (optionally only some origins, only
//! with the write key, rate-limited per address); every read and admin route
//! needs the admin token and sends no CORS headers. It can relay what it
//! stores to an upstream pipeline (`forward`), serves the demo store and the
//! built SDK (with per-path response headers from `www/_headers`), and, for
//! tests only, can inject faults (`faults`).

pub mod auth;
pub mod batch;
pub mod cli;
mod db;
pub mod faults;
pub mod forward;
pub mod headers;
mod ingest;
pub mod limit;
mod read;
pub mod report;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rusqlite::Connection;
use serde_json::json;
use tokio::sync::{watch, Notify};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

pub use batch::{validate, MAX_BODY, MAX_EVENTS};
pub use faults::FaultSpec;
pub use forward::ForwardOptions;
pub use headers::{PathHeaders, HEADERS_FILE};
pub use limit::Rate;
pub use read::VISITOR_HEADER;

/// The visitor view's rate limit per address: a page polling every 2 s
/// fits; guessing ids does not (and could not succeed anyway).
pub const VISITOR_RATE: Rate = Rate {
    per_second: 2.0,
    burst: 20.0,
};

/// How the collector is set up.
#[derive(Clone, Debug)]
pub struct Options {
    /// SQLite file.
    pub db: PathBuf,
    /// Served at `/`.
    pub www: PathBuf,
    /// The built SDK, served at `/sillage/`.
    pub sdk: PathBuf,
    /// Browser origins allowed on the ingestion routes; `*` allows any.
    pub origins: Vec<String>,
    /// With a key, batches and forget requests must carry it (401 otherwise).
    pub write_key: Option<String>,
    /// The Bearer token of the read and admin routes; `None` closes them.
    pub admin_token: Option<String>,
    /// Whether `GET /v1/me/events` answers.
    pub visitor_view: bool,
    /// The per-address rate limit of the ingestion routes; `None` is off.
    pub rate_limit: Option<Rate>,
    /// The header holding the client address (behind a reverse proxy).
    pub client_ip_header: Option<HeaderName>,
    /// Events older than this are deleted daily.
    pub retention_days: Option<u32>,
    /// Relay every stored event to this upstream.
    pub forward: Option<ForwardOptions>,
    /// Whether the test-only fault injection endpoint is on.
    pub faults: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            db: PathBuf::from("sillage-events.db"),
            www: PathBuf::from("www"),
            sdk: PathBuf::from("target/sillage-sdk"),
            origins: vec!["*".into()],
            write_key: None,
            admin_token: None,
            visitor_view: false,
            rate_limit: Some(Rate {
                per_second: 50.0,
                burst: 200.0,
            }),
            client_ip_header: None,
            retention_days: None,
            forward: None,
            faults: false,
        }
    }
}

#[derive(Default)]
struct Stats {
    requests: AtomicU64,
    batches: AtomicU64,
    events_received: AtomicU64,
    events_inserted: AtomicU64,
    duplicates: AtomicU64,
    rejected: AtomicU64,
    unauthorized: AtomicU64,
    rate_limited: AtomicU64,
    faulted: AtomicU64,
    bytes_received: AtomicU64,
    forget_requests: AtomicU64,
    forwarded: AtomicU64,
    forward_retries: AtomicU64,
}

struct Inner {
    /// The one writer.
    db: Mutex<Connection>,
    /// Reads (WAL: they never wait for the writer).
    reader: Mutex<Connection>,
    stats: Stats,
    faults: faults::Faults,
    ingest_limit: Option<limit::Limiter>,
    visitor_limit: limit::Limiter,
    /// Wakes the relay when events were queued.
    forward_wake: Notify,
}

/// Shared state of the collector.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
    options: Arc<Options>,
    headers: Arc<PathHeaders>,
}

impl AppState {
    /// Opens (or creates) the database in WAL mode.
    pub fn open(options: Options) -> Result<AppState, String> {
        let (writer, reader) = db::open(&options.db).map_err(|e| format!("cannot open {e}"))?;
        report::migrate(&writer)
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
                db: Mutex::new(writer),
                reader: Mutex::new(reader),
                stats: Stats::default(),
                faults: faults::Faults::default(),
                ingest_limit: options.rate_limit.map(limit::Limiter::new),
                visitor_limit: limit::Limiter::new(VISITOR_RATE),
                forward_wake: Notify::new(),
            }),
            options: Arc::new(options),
            headers: Arc::new(headers),
        })
    }

    /// The options it runs with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Checkpoints the WAL into the database file (at shutdown).
    pub fn checkpoint(&self) {
        if let Ok(db) = self.inner.db.lock() {
            let _ = db.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
        }
    }

    /// Deletes every event received before `cutoff_ms` (epoch milliseconds),
    /// a chunk at a time so ingestion is never held up for long; returns how
    /// many.
    pub async fn delete_received_before(&self, cutoff_ms: f64) -> Result<usize, String> {
        let cutoff = sillage_core::support::time::iso8601(cutoff_ms);
        let mut total = 0;
        loop {
            let cutoff = cutoff.clone();
            let n = self
                .write(move |db| db::delete_older(db, &cutoff, 5_000))
                .await?;
            total += n;
            if n == 0 {
                return Ok(total);
            }
        }
    }

    /// Starts the background tasks: the daily retention sweep (with
    /// `retention_days`) and the relay (with `forward`).
    pub fn start_background(&self) -> Background {
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        if let Some(days) = self.options.retention_days {
            let (state, mut stopped) = (self.clone(), stopped.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let cutoff = now_ms() - f64::from(days) * 86_400_000.0;
                    match state.delete_received_before(cutoff).await {
                        Ok(0) => {}
                        Ok(n) => eprintln!(
                            "sillage-collector: retention: deleted {n} events older than {days} days"
                        ),
                        Err(e) => eprintln!("sillage-collector: retention: {e}"),
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(86_400)) => {}
                        _ = stopped.changed() => return,
                    }
                }
            }));
        }
        if let Some(f) = &self.options.forward {
            tasks.push(tokio::spawn(forward::run(self.clone(), f.clone(), stopped)));
        }
        Background { stop, tasks }
    }
}

/// The running background tasks.
pub struct Background {
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Background {
    /// Stops them and waits until they have (a forward request in flight
    /// finishes first).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// The whole HTTP surface.
pub fn app(state: AppState) -> Router {
    let o = &state.options;
    let exposed = [header::RETRY_AFTER];
    // Ingestion: open to browsers (the origins of --origins), rate-limited.
    let ingest_cors = CorsLayer::new()
        .allow_origin(if o.origins.iter().any(|x| x == "*") {
            AllowOrigin::any()
        } else {
            AllowOrigin::list(origin_values(&o.origins))
        })
        .allow_methods([Method::POST])
        .allow_headers([
            header::CONTENT_TYPE,
            header::CONTENT_ENCODING,
            header::AUTHORIZATION,
        ])
        .expose_headers(exposed.clone());
    let ingest = Router::new()
        .route("/v1/batch", post(ingest::batch))
        .route("/v1/b", post(ingest::batch))
        .route("/v1/forget", post(ingest::forget))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(
            (state.clone(), limit::Which::Ingest),
            limit::rate_limited,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_origin,
        ))
        .layer(ingest_cors);
    // The visitor view: same origin, or the origins listed by name (never *).
    let mut visitor = Router::new()
        .route("/v1/me/events", get(read::me_events))
        .layer(middleware::from_fn_with_state(
            (state.clone(), limit::Which::Visitor),
            limit::rate_limited,
        ));
    let named: Vec<HeaderValue> = origin_values(&o.origins).collect();
    if !named.is_empty() {
        visitor = visitor.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(named))
                .allow_methods([Method::GET])
                .allow_headers([HeaderName::from_static(VISITOR_HEADER)])
                .expose_headers(exposed),
        );
    }
    // Reading and administration: the admin token, and no CORS at all. Every
    // read route belongs here, the journey report's included.
    let mut admin = Router::new()
        .route("/v1/events", get(read::events))
        .route("/v1/stats", get(read::stats))
        .route("/v1/export", get(read::export))
        .route("/v1/admin/forget", post(read::admin_forget))
        .route("/report", get(read::report_page))
        .route("/v1/report", get(read::report_json));
    if o.faults {
        admin = admin.route(
            "/v1/faults",
            post(read::set_fault).delete(read::clear_fault),
        );
    }
    let admin =
        admin
            .layer(DefaultBodyLimit::max(64 * 1024))
            .route_layer(middleware::from_fn_with_state(
                state.clone(),
                auth::require_admin,
            ));
    let sdk = Router::new()
        .fallback_service(
            ServeDir::new(&o.sdk)
                .precompressed_br()
                .precompressed_gzip(),
        )
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ))
        .layer(SetResponseHeaderLayer::appending(
            header::VARY,
            HeaderValue::from_static("accept-encoding"),
        ));
    let www = Router::new().fallback_service(ServeDir::new(&o.www)).layer(
        middleware::from_fn_with_state(state.headers.clone(), headers::www_headers),
    );
    Router::new()
        .route("/health", get(|| async { Json(json!({"ok": true})) }))
        .merge(ingest)
        .merge(visitor)
        .merge(admin)
        .with_state(state.clone())
        .nest_service("/sillage", sdk)
        .fallback_service(www)
        .layer(middleware::from_fn(log))
}

fn origin_values(origins: &[String]) -> impl Iterator<Item = HeaderValue> + '_ {
    origins
        .iter()
        .filter(|x| *x != "*")
        .filter_map(|x| HeaderValue::from_str(x).ok())
}

/// Number of events in a batch response, for the request log line.
#[derive(Clone, Copy)]
struct EventCount(usize);

async fn log(req: Request, next: Next) -> Response {
    // The path only: a query string may carry ids.
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

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as f64)
        .unwrap_or(0.0)
}

/// `2026-11-23T05:24:08.123Z` for now.
fn now_iso() -> String {
    sillage_core::support::time::iso8601(now_ms())
}

/// The answer to a database failure: 500 naming it.
fn storage_error(e: String) -> Response {
    error(StatusCode::INTERNAL_SERVER_ERROR, format!("storage: {e}"))
}

/// Runs `f` on a connection, off the async threads. A poisoned lock is
/// taken anyway: a transaction that a panic interrupted was rolled back.
async fn on<T: Send + 'static>(
    conn: fn(&Inner) -> &Mutex<Connection>,
    inner: Arc<Inner>,
    f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(move || {
        let mut db = conn(&inner).lock().unwrap_or_else(|e| e.into_inner());
        f(&mut db).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

impl AppState {
    /// Runs `f` on the reader connection (never waits for the writer).
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, String> {
        on(|i| &i.reader, self.inner.clone(), move |db| f(db)).await
    }

    /// Runs `f` on the one writer connection.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, String> {
        on(|i| &i.db, self.inner.clone(), f).await
    }
}

fn count(a: &AtomicU64, n: u64) {
    a.fetch_add(n, Ordering::Relaxed);
}
