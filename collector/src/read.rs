//! The read and admin routes (behind the admin token, no CORS), and the
//! visitor view (`GET /v1/me/events`).

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::auth::{param, query};
use crate::db::{self, Filters, Person};
use crate::{error, faults::FaultSpec, storage_error, AppState};

/// The header a visitor presents their anonymousId in to read their own
/// events.
pub const VISITOR_HEADER: &str = "sillage-anonymous-id";

/// A whole number from 1 to `max` (or `default` when absent); a message
/// naming the parameter otherwise.
fn limit(pairs: &[(String, String)], default: u32, max: u32) -> Result<u32, String> {
    match param(pairs, "limit") {
        None => Ok(default),
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| format!("limit: must be a whole number from 1 to {max}, not {v:?}")),
    }
}

fn bad(message: String) -> Response {
    error(StatusCode::BAD_REQUEST, message)
}

fn events_response(events: Vec<Value>) -> Response {
    Json(json!({ "events": events })).into_response()
}

/// `GET /v1/events?limit=&type=&event=&anonymousId=&userId=`: the most recent
/// events matching every filter given (default 100, at most 10,000), oldest
/// first, each with `receivedAt`.
pub async fn events(State(state): State<AppState>, uri: Uri) -> Response {
    const FILTERS: [(&str, &str); 4] = [
        ("type", "type"),
        ("event", "event"),
        ("anonymousId", "anonymous_id"),
        ("userId", "user_id"),
    ];
    let pairs = match query(&uri, &["limit", "type", "event", "anonymousId", "userId"]) {
        Ok(p) => p,
        Err(m) => return bad(m),
    };
    let n = match limit(&pairs, 100, 10_000) {
        Ok(n) => n,
        Err(m) => return bad(m),
    };
    let filters: Filters = FILTERS
        .iter()
        .filter_map(|(p, column)| param(&pairs, p).map(|v| (*column, v.to_string())))
        .collect();
    match state.read(move |db| db::events(db, &filters, n)).await {
        Ok(events) => events_response(events),
        Err(e) => storage_error(e),
    }
}

/// `GET /v1/stats`: counters since start, and the forward queue.
pub async fn stats(State(state): State<AppState>, uri: Uri) -> Response {
    if let Err(m) = query(&uri, &[]) {
        return bad(m);
    }
    let (pending, failed) = match state.read(db::forward_counts).await {
        Ok(c) => c,
        Err(e) => return storage_error(e),
    };
    let s = &state.inner.stats;
    let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
    Json(json!({
        "requests": g(&s.requests),
        "batches": g(&s.batches),
        "eventsReceived": g(&s.events_received),
        "eventsInserted": g(&s.events_inserted),
        "duplicates": g(&s.duplicates),
        "rejected": g(&s.rejected),
        "unauthorized": g(&s.unauthorized),
        "rateLimited": g(&s.rate_limited),
        "faulted": g(&s.faulted),
        "bytesReceived": g(&s.bytes_received),
        "forgetRequests": g(&s.forget_requests),
        "forwarded": g(&s.forwarded),
        "forwardRetries": g(&s.forward_retries),
        "forwardPending": pending,
        "forwardFailed": failed,
    }))
    .into_response()
}

/// The person a request names: exactly one of `anonymousId` and `userId`.
fn person(get: impl Fn(&str) -> Option<String>) -> Result<Person, String> {
    match (get("anonymousId"), get("userId")) {
        (Some(_), Some(_)) => Err("anonymousId, userId: give one, not both".into()),
        (None, None) => Err("anonymousId or userId: one is required".into()),
        (Some(a), None) if !a.is_empty() => Ok(Person::Anonymous(a)),
        (None, Some(u)) if !u.is_empty() => Ok(Person::User(u)),
        (Some(_), None) => Err("anonymousId: must not be empty".into()),
        (None, Some(_)) => Err("userId: must not be empty".into()),
    }
}

/// `GET /v1/export?anonymousId=` or `?userId=`: a person's events as NDJSON,
/// oldest first.
pub async fn export(State(state): State<AppState>, uri: Uri) -> Response {
    let pairs = match query(&uri, &["anonymousId", "userId"]) {
        Ok(p) => p,
        Err(m) => return bad(m),
    };
    let who = match person(|k| param(&pairs, k).map(str::to_string)) {
        Ok(p) => p,
        Err(m) => return error(StatusCode::BAD_REQUEST, format!("query: {m}")),
    };
    match state.read(move |db| db::export(db, &who)).await {
        Ok(body) => (
            [
                (header::CONTENT_TYPE, "application/x-ndjson"),
                (header::CACHE_CONTROL, "no-store"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"sillage-export.ndjson\"",
                ),
            ],
            Body::from(body),
        )
            .into_response(),
        Err(e) => storage_error(e),
    }
}

/// `POST /v1/admin/forget {"userId": ...}` or `{"anonymousId": ...}`:
/// erases a person's rows; answers how many were deleted.
pub async fn admin_forget(State(state): State<AppState>, uri: Uri, body: Bytes) -> Response {
    if let Err(m) = query(&uri, &[]) {
        return bad(m);
    }
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("body: invalid JSON: {e}")),
    };
    let Some(obj) = value.as_object() else {
        return error(StatusCode::BAD_REQUEST, "body: must be a JSON object");
    };
    if let Some(k) = obj
        .keys()
        .find(|k| !matches!(k.as_str(), "anonymousId" | "userId"))
    {
        return error(
            StatusCode::BAD_REQUEST,
            format!("{k}: unknown field (expected anonymousId or userId)"),
        );
    }
    if let Some(k) = ["anonymousId", "userId"]
        .iter()
        .find(|k| obj.get(**k).is_some_and(|v| !v.is_string()))
    {
        return error(StatusCode::BAD_REQUEST, format!("{k}: must be a string"));
    }
    let who = match person(|k| obj.get(k).and_then(Value::as_str).map(str::to_string)) {
        Ok(p) => p,
        Err(m) => return error(StatusCode::BAD_REQUEST, m),
    };
    match state.write(move |db| db::delete_person(db, &who)).await {
        Ok(n) => Json(json!({"ok": true, "deleted": n})).into_response(),
        Err(e) => storage_error(e),
    }
}

/// Whether `s` is a UUID in the SDK's form: 36 characters, lower-case hex
/// in groups of 8-4-4-4-12.
pub fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}

/// `GET /v1/me/events?limit=` with the header `Sillage-Anonymous-Id`: the
/// most recent events (default 50, at most 200) of the anonymousId presented,
/// and of no other. The id is a random UUID that only the visitor's browser
/// holds; see the threat model in collector/README.md.
pub async fn me_events(State(state): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    if !state.options.visitor_view {
        return error(
            StatusCode::NOT_FOUND,
            "the visitor view is off (start the collector with --visitor-view)",
        );
    }
    let pairs = match query(&uri, &["limit"]) {
        Ok(p) => p,
        Err(m) => return bad(m),
    };
    let n = match limit(&pairs, 50, 200) {
        Ok(n) => n,
        Err(m) => return bad(m),
    };
    let id =
        match headers
            .get(VISITOR_HEADER)
            .map(|v| v.to_str().unwrap_or(""))
        {
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Sillage-Anonymous-Id: missing (the header carries your own anonymousId)",
                )
            }
            Some(v) if !is_uuid(v) => return error(
                StatusCode::BAD_REQUEST,
                "Sillage-Anonymous-Id: must be a lower-case UUID (the SDK's random anonymousId)",
            ),
            Some(v) => v.to_string(),
        };
    let filters = vec![("anonymous_id", id)];
    let mut res = match state.read(move |db| db::events(db, &filters, n)).await {
        Ok(events) => events_response(events),
        Err(e) => storage_error(e),
    };
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// `POST /v1/faults` (with `--faults`): puts a fault in force.
pub async fn set_fault(State(state): State<AppState>, body: Bytes) -> Response {
    let spec: FaultSpec = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("fault: {e}")),
    };
    if let Err(m) = spec.check() {
        return error(StatusCode::BAD_REQUEST, format!("fault: {m}"));
    }
    state.inner.faults.set(spec);
    Json(json!({"ok": true})).into_response()
}

/// `DELETE /v1/faults`: ends the fault in force.
pub async fn clear_fault(State(state): State<AppState>) -> Response {
    state.inner.faults.clear();
    Json(json!({"ok": true})).into_response()
}

/// Builds the journey report for `?from=&to=` on a connection of its own
/// (read-only, off the async threads): a long report never holds up the
/// other reads.
async fn report_for(state: &AppState, uri: &Uri) -> Result<crate::report::Report, Response> {
    let pairs = query(uri, &["from", "to"]).map_err(bad)?;
    let range = crate::report::Range::parse(param(&pairs, "from"), param(&pairs, "to"))
        .map_err(|e| bad(e.0))?;
    let path = state.options().db.clone();
    let built = tokio::task::spawn_blocking(move || {
        let db = rusqlite::Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .map_err(|e| e.to_string())?;
        db.execute_batch("PRAGMA busy_timeout = 5000;")
            .map_err(|e| e.to_string())?;
        crate::report::build(&db, &range)
    })
    .await
    .map_err(|e| e.to_string());
    match built {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) | Err(e) => Err(storage_error(e)),
    }
}

/// `GET /report?from=&to=`: the journey report as a page.
pub async fn report_page(State(state): State<AppState>, uri: Uri) -> Response {
    match report_for(&state, &uri).await {
        Ok(r) => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            crate::report::html(&r),
        )
            .into_response(),
        Err(res) => res,
    }
}

/// `GET /v1/report?from=&to=`: the journey report's numbers as JSON.
pub async fn report_json(State(state): State<AppState>, uri: Uri) -> Response {
    match report_for(&state, &uri).await {
        Ok(r) => Json(crate::report::json(&r)).into_response(),
        Err(res) => res,
    }
}
