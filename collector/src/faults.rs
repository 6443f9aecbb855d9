//! Fault injection for tests (`--faults`, `POST /v1/faults`): failures before
//! a batch is stored (a status, a dropped connection, a delay) and changes to
//! the successful answer after it is committed (`no-store`, 204, a slow body,
//! a gzip body). A fault lasts a time (`forMs`) or a number of batch requests
//! (`requests`), which does not depend on how fast a loaded machine runs.

use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// A fault, as posted to `/v1/faults`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultSpec {
    /// Answer this status instead of storing (503, 429, ...).
    pub status: Option<u16>,
    /// `Retry-After` header value to send with `status`.
    pub retry_after: Option<String>,
    /// Abort the connection without an answer (nothing stored).
    #[serde(default)]
    pub drop: bool,
    /// Wait this long before handling the request.
    pub delay_ms: Option<u64>,
    /// Store, then answer 200 with `Cache-Control: no-store`.
    #[serde(default)]
    pub no_store: bool,
    /// Store, then answer 204 with no body.
    #[serde(default)]
    pub no_content: bool,
    /// Store, then send the headers at once and the body a piece at a time
    /// over this many milliseconds.
    pub slow_body_ms: Option<u64>,
    /// Store, then answer with a gzip-encoded body (`Content-Encoding: gzip`).
    #[serde(default)]
    pub gzip: bool,
    /// The fault lasts this long...
    pub for_ms: Option<u64>,
    /// ...or for this many batch requests.
    pub requests: Option<u64>,
}

impl FaultSpec {
    /// Checks that the fault can be applied; the message names the field.
    pub fn check(&self) -> Result<(), String> {
        match (self.for_ms, self.requests) {
            (None, None) => return Err("forMs or requests: one is required".into()),
            (Some(_), Some(_)) => return Err("forMs, requests: give one, not both".into()),
            (_, Some(0)) => return Err("requests: must be at least 1".into()),
            _ => {}
        }
        if let Some(s) = self.status {
            if !(200..=599).contains(&s) {
                return Err(format!("status: must be from 200 to 599, not {s}"));
            }
        }
        let success = [
            ("noStore", self.no_store),
            ("noContent", self.no_content),
            ("slowBodyMs", self.slow_body_ms.is_some()),
            ("gzip", self.gzip),
        ];
        let failure = [("status", self.status.is_some()), ("drop", self.drop)];
        if let (Some((s, _)), Some((f, _))) =
            (success.iter().find(|x| x.1), failure.iter().find(|x| x.1))
        {
            return Err(format!(
                "{s}: changes a successful answer, so it cannot go with {f}"
            ));
        }
        if self.status.is_some() && self.drop {
            return Err("drop: cannot go with status".into());
        }
        if self.retry_after.is_some() && self.status.is_none() {
            return Err("retryAfter: goes with status".into());
        }
        if let Some(v) = &self.retry_after {
            HeaderValue::from_str(v)
                .map_err(|_| format!("retryAfter: not a header value: {v:?}"))?;
        }
        if self.no_content && (self.gzip || self.slow_body_ms.is_some()) {
            return Err("noContent: has no body, so it cannot go with gzip or slowBodyMs".into());
        }
        Ok(())
    }
}

/// A fault in force: the spec, until when, how many requests are left.
type Active = (FaultSpec, Option<Instant>, Option<u64>);

/// The fault in force, if any.
#[derive(Default)]
pub struct Faults {
    active: Mutex<Option<Active>>,
}

impl Faults {
    /// Puts a checked fault in force, replacing any other.
    pub fn set(&self, spec: FaultSpec) {
        let until = spec
            .for_ms
            .map(|ms| Instant::now() + Duration::from_millis(ms));
        let left = spec.requests;
        *self.active.lock().unwrap_or_else(|e| e.into_inner()) = Some((spec, until, left));
    }

    /// Ends the fault in force.
    pub fn clear(&self) {
        *self.active.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The fault that applies to this batch request (and counts it).
    pub fn take(&self) -> Option<FaultSpec> {
        let mut guard = self.active.lock().unwrap_or_else(|e| e.into_inner());
        let (spec, until, left) = guard.as_mut()?;
        if until.is_some_and(|u| Instant::now() >= u) {
            *guard = None;
            return None;
        }
        let spec = spec.clone();
        if let Some(n) = left {
            *n -= 1;
            if *n == 0 {
                *guard = None;
            }
        }
        Some(spec)
    }
}

/// The answer of a fault that fails the request before anything is stored,
/// or `None` if the fault lets it through (after its delay).
pub async fn before_store(spec: &FaultSpec) -> Option<Response> {
    if let Some(ms) = spec.delay_ms {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if spec.drop {
        return Some(aborted());
    }
    let code = spec.status?;
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let mut res = crate::error(status, "fault injected");
    if let Some(v) = spec
        .retry_after
        .as_deref()
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    Some(res)
}

/// The successful answer (`body` is its JSON), changed by the fault. The
/// events are already committed when this runs.
pub fn after_store(spec: &FaultSpec, body: Vec<u8>) -> Response {
    if spec.no_content {
        return StatusCode::NO_CONTENT.into_response();
    }
    let mut headers = vec![(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    )];
    let body = if spec.gzip {
        headers.push((header::CONTENT_ENCODING, HeaderValue::from_static("gzip")));
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let _ = enc.write_all(&body);
        enc.finish().unwrap_or_default()
    } else {
        body
    };
    if spec.no_store {
        headers.push((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
    }
    let body = match spec.slow_body_ms {
        Some(ms) => Body::from_stream(Trickle::new(body, Duration::from_millis(ms))),
        None => Body::from(body),
    };
    let mut res = Response::new(body);
    for (k, v) in headers {
        res.headers_mut().insert(k, v);
    }
    res
}

/// A body that fails mid-stream: hyper then aborts the connection, which the
/// browser sees as a network error.
fn aborted() -> Response {
    Response::new(Body::from_stream(Trickle {
        pieces: Vec::new(),
        gap: Duration::ZERO,
        sleep: None,
        fail: true,
    }))
}

/// Sends a body in pieces, `gap` apart (the first at once), or fails.
struct Trickle {
    /// The pieces still to send, last first.
    pieces: Vec<Bytes>,
    gap: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    fail: bool,
}

/// Pieces a slow body is cut into.
const PIECES: usize = 8;

impl Trickle {
    fn new(body: Vec<u8>, over: Duration) -> Trickle {
        let size = body.len().div_ceil(PIECES).max(1);
        let mut pieces: Vec<Bytes> = body.chunks(size).map(Bytes::copy_from_slice).collect();
        pieces.reverse();
        let gap = over / pieces.len().saturating_sub(1).max(1) as u32;
        Trickle {
            pieces,
            gap,
            sleep: None,
            fail: false,
        }
    }
}

impl futures_core::Stream for Trickle {
    type Item = Result<Bytes, std::io::Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.fail {
            self.fail = false;
            return Poll::Ready(Some(Err(std::io::Error::other("fault: dropped"))));
        }
        if let Some(sleep) = self.sleep.as_mut() {
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
        let Some(piece) = self.pieces.pop() else {
            return Poll::Ready(None);
        };
        if !self.pieces.is_empty() {
            let gap = self.gap;
            self.sleep = Some(Box::pin(tokio::time::sleep(gap)));
        }
        Poll::Ready(Some(Ok(piece)))
    }
}
