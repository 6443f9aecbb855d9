//! The ingestion routes: `POST /v1/batch` (and `/v1/b`) and `POST /v1/forget`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::batch::{self, Rejection};
use crate::db::{self, Person};
use crate::{count, faults, now_iso, storage_error, AppState, EventCount};

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        crate::error(self.status, self.message)
    }
}

/// Reads a request body as JSON: content type, encoding (`?ce=gzip` or
/// `Content-Encoding: gzip`), size after decompression, JSON, write key.
fn read_json(
    state: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, Rejection> {
    batch::check_content_type(headers)?;
    let ce = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "ce")
        .map(|(_, v)| v.into_owned());
    let enc = batch::encoding(ce.as_deref(), headers)?;
    let text = batch::decode(body, enc)?;
    let value = batch::parse_json(&text)?;
    if let Some(key) = &state.options.write_key {
        batch::check_write_key(key, &value, headers)?;
    }
    Ok(value)
}

/// The body, or the refusal of one too large to read (413, in the same
/// JSON form as every other error).
fn body_or_refusal(body: Result<Bytes, BytesRejection>) -> Result<Bytes, Rejection> {
    body.map_err(|e| Rejection {
        status: e.status(),
        message: if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            format!("body: more than {} bytes", batch::MAX_BODY)
        } else {
            format!("body: {}", e.body_text())
        },
    })
}

fn refuse(state: &AppState, r: Rejection) -> Response {
    let stats = &state.inner.stats;
    count(
        if r.status == StatusCode::UNAUTHORIZED {
            &stats.unauthorized
        } else {
            &stats.rejected
        },
        1,
    );
    r.into_response()
}

/// `POST /v1/batch`: validates the whole batch, stores it in one
/// transaction, and answers 200 only after the commit.
pub async fn batch(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let stats = &state.inner.stats;
    count(&stats.requests, 1);
    let body = match body_or_refusal(body) {
        Ok(b) => b,
        Err(r) => return refuse(&state, r),
    };
    count(&stats.bytes_received, body.len() as u64);
    let fault = if state.options.faults {
        state.inner.faults.take()
    } else {
        None
    };
    if let Some(f) = &fault {
        if let Some(res) = faults::before_store(f).await {
            count(&stats.faulted, 1);
            return res;
        }
    }
    let parsed = match read_json(&state, &uri, &headers, &body) {
        Ok(v) => v,
        Err(r) => return refuse(&state, r),
    };
    let n = match batch::validate(&parsed) {
        Ok(events) => events.len(),
        Err(m) => return refuse(&state, Rejection::bad(m)),
    };
    let forward = state.options.forward.is_some();
    let stored = state
        .write(move |db| {
            let events = parsed["batch"].as_array().map_or(&[][..], Vec::as_slice);
            db::store(db, &parsed, events, &now_iso(), forward)
        })
        .await;
    let (inserted, duplicates) = match stored {
        Ok(v) => v,
        Err(e) => return storage_error(e),
    };
    // Committed: from here on the events are safe, and may be acknowledged.
    if forward && inserted > 0 {
        state.inner.forward_wake.notify_one();
    }
    count(&stats.batches, 1);
    count(&stats.events_received, n as u64);
    count(&stats.events_inserted, inserted as u64);
    count(&stats.duplicates, duplicates as u64);
    let answer = json!({
        "ok": true, "received": n, "inserted": inserted, "duplicates": duplicates
    });
    let mut res = match &fault {
        Some(f) => {
            count(&stats.faulted, 1);
            faults::after_store(f, answer.to_string().into_bytes())
        }
        None => Json(answer).into_response(),
    };
    res.extensions_mut().insert(EventCount(n));
    res
}

/// The fields a forget request may have.
const FORGET_FIELDS: &[&str] = &["anonymousId", "writeKey", "sentAt"];

/// The anonymousId of a forget request body; the message names the field.
pub fn forget_target(body: &Value) -> Result<String, String> {
    let obj = body.as_object().ok_or("body: must be a JSON object")?;
    if let Some(k) = obj.keys().find(|k| !FORGET_FIELDS.contains(&k.as_str())) {
        return Err(format!(
            "{k}: unknown field (expected {})",
            FORGET_FIELDS.join(", ")
        ));
    }
    for k in ["writeKey", "sentAt"] {
        if obj.get(k).is_some_and(|v| !v.is_string()) {
            return Err(format!("{k}: must be a string"));
        }
    }
    match obj.get("anonymousId") {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 128 => Ok(s.clone()),
        None => Err("anonymousId: missing".into()),
        Some(_) => Err("anonymousId: must be a non-empty string of at most 128 bytes".into()),
    }
}

/// `POST /v1/forget`: deletes every row of an anonymousId (and its place in
/// the forward queue), then answers 202 whether or not there were any, so
/// it tells nothing about which ids exist.
pub async fn forget(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    count(&state.inner.stats.forget_requests, 1);
    let body = match body_or_refusal(body) {
        Ok(b) => b,
        Err(r) => return refuse(&state, r),
    };
    let parsed = match read_json(&state, &uri, &headers, &body) {
        Ok(v) => v,
        Err(r) => return refuse(&state, r),
    };
    let id = match forget_target(&parsed) {
        Ok(id) => id,
        Err(m) => return refuse(&state, Rejection::bad(m)),
    };
    let who = Person::Anonymous(id);
    match state.write(move |db| db::delete_person(db, &who)).await {
        Ok(_) => (StatusCode::ACCEPTED, Json(json!({"ok": true}))).into_response(),
        Err(e) => storage_error(e),
    }
}
