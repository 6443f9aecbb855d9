//! Reading a batch request: content type, encoding (gzip with a size limit),
//! JSON, the write key and the Segment-Spec shape. Every rejection names what
//! was wrong (a header, a query parameter, or the JSON path of the bad field).

use std::borrow::Cow;
use std::io::Read;

use axum::http::{header, HeaderMap, StatusCode};
use base64::Engine;
use serde_json::Value;

/// Largest accepted request body, before and after decompression: 512 KB.
pub const MAX_BODY: usize = 512 * 1024;
/// Most events in one batch (as Segment's batch API).
pub const MAX_EVENTS: usize = 500;
/// Longest accepted `messageId`, in bytes.
pub const MAX_MESSAGE_ID: usize = 128;
/// The Segment-Spec event types.
pub const TYPES: &[&str] = &["page", "track", "identify", "screen", "group", "alias"];

/// Why a request was refused: its status and a message naming the culprit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// 400, 401, 413 or 415.
    pub status: StatusCode,
    /// `batch[2].messageId: missing`, `ce: only gzip is accepted, not br`, ...
    pub message: String,
}

impl Rejection {
    fn new(status: StatusCode, message: impl Into<String>) -> Rejection {
        Rejection {
            status,
            message: message.into(),
        }
    }

    /// A 400 naming the bad field.
    pub fn bad(message: impl Into<String>) -> Rejection {
        Rejection::new(StatusCode::BAD_REQUEST, message)
    }
}

/// How a request body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// As is.
    Identity,
    /// gzip: `?ce=gzip` (browsers: keeps the request CORS-simple) or
    /// `Content-Encoding: gzip` (server-to-server senders).
    Gzip,
}

/// Accepts `text/plain` (what browsers send, CORS-simple), `application/json`
/// or no content type; 415 otherwise.
pub fn check_content_type(headers: &HeaderMap) -> Result<(), Rejection> {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if matches!(ctype.as_str(), "" | "text/plain" | "application/json") {
        Ok(())
    } else {
        Err(Rejection::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("content-type: expected text/plain or application/json, got {ctype}"),
        ))
    }
}

/// The body's encoding from the `ce` query parameter and the
/// `Content-Encoding` header; 415 for anything but gzip.
pub fn encoding(ce: Option<&str>, headers: &HeaderMap) -> Result<Encoding, Rejection> {
    let mut enc = Encoding::Identity;
    if let Some(ce) = ce {
        if !ce.eq_ignore_ascii_case("gzip") {
            return Err(Rejection::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("ce: only gzip is accepted, not {ce:?}"),
            ));
        }
        enc = Encoding::Gzip;
    }
    if let Some(v) = headers.get(header::CONTENT_ENCODING) {
        let v = v.to_str().unwrap_or("").trim().to_ascii_lowercase();
        match v.as_str() {
            "gzip" | "x-gzip" => enc = Encoding::Gzip,
            "" | "identity" => {}
            other => {
                return Err(Rejection::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    format!("content-encoding: only gzip is accepted, not {other:?}"),
                ))
            }
        }
    }
    Ok(enc)
}

/// Decodes the body. A gzip body is inflated into at most [`MAX_BODY`] + 1
/// bytes, so a zip bomb costs 512 KB of memory and gets 413; a body that is
/// not valid gzip gets 400.
pub fn decode(body: &[u8], enc: Encoding) -> Result<Cow<'_, [u8]>, Rejection> {
    match enc {
        Encoding::Identity => Ok(Cow::Borrowed(body)),
        Encoding::Gzip => {
            let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(MAX_BODY + 1));
            flate2::read::MultiGzDecoder::new(body)
                .take(MAX_BODY as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| Rejection::bad(format!("body: not valid gzip: {e}")))?;
            if out.len() > MAX_BODY {
                return Err(Rejection::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("body: more than {MAX_BODY} bytes once decompressed"),
                ));
            }
            Ok(Cow::Owned(out))
        }
    }
}

/// Parses the JSON text of a body.
pub fn parse_json(body: &[u8]) -> Result<Value, Rejection> {
    serde_json::from_slice(body).map_err(|e| Rejection::bad(format!("body: invalid JSON: {e}")))
}

/// The user name of an `Authorization: Basic` header (Segment sends the
/// write key as the user name with an empty password). `Err` if the header
/// is there but is not readable Basic credentials.
pub fn basic_user(headers: &HeaderMap) -> Result<Option<String>, &'static str> {
    const NOT_BASIC: &str =
        "authorization: expected Basic credentials with the write key as user name";
    let Some(v) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let v = v.to_str().map_err(|_| NOT_BASIC)?.trim();
    let (scheme, creds) = v.split_once(' ').ok_or(NOT_BASIC)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(NOT_BASIC);
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(creds.trim())
        .map_err(|_| NOT_BASIC)?;
    let text = String::from_utf8(raw).map_err(|_| NOT_BASIC)?;
    Ok(Some(
        text.split_once(':')
            .map_or(text.as_str(), |(u, _)| u)
            .to_string(),
    ))
}

/// With `--write-key`, a request is accepted only if it carries the key, in
/// its body (`writeKey`) or as the Basic auth user name, and every key it
/// carries is that key; 401 otherwise.
pub fn check_write_key(expected: &str, body: &Value, headers: &HeaderMap) -> Result<(), Rejection> {
    let unauthorized = |m: &str| Rejection::new(StatusCode::UNAUTHORIZED, m);
    let basic = basic_user(headers).map_err(unauthorized)?;
    let in_body = body.get("writeKey").and_then(Value::as_str);
    let given: Vec<&str> = basic.as_deref().into_iter().chain(in_body).collect();
    if given.is_empty() {
        return Err(unauthorized(
            "writeKey: missing (this collector requires a write key)",
        ));
    }
    if !given
        .iter()
        .all(|k| crate::auth::ct_eq(k.as_bytes(), expected.as_bytes()))
    {
        return Err(unauthorized("writeKey: not this collector's write key"));
    }
    Ok(())
}

/// Checks a batch body; the message names the bad field by JSON path. The
/// batch is accepted or refused as a whole: a 2xx has stored every event.
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
        validate_event(i, ev)?;
    }
    Ok(batch)
}

fn validate_event(i: usize, ev: &Value) -> Result<(), String> {
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
        Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_MESSAGE_ID => {}
        Some(_) => {
            return Err(format!(
                "{}: must be a non-empty string of at most {MAX_MESSAGE_ID} bytes",
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
    Ok(())
}
