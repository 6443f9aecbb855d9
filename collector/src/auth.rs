//! Who may do what: the admin token on the read and admin routes, the origin
//! allow-list on the ingestion routes, and strict query strings.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::atomic::Ordering;

use crate::{error, AppState};

/// Compares two secrets in time that depends only on their lengths.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Middleware of every read and admin route: `Authorization: Bearer <admin
/// token>`, or Basic credentials whose password is the admin token (any user
/// name: so a browser can open `/report`), or 401. Without a configured
/// token these routes are closed.
pub async fn require_admin(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(token) = state.options.admin_token.as_deref() else {
        return unauthorized(
            &state,
            "authorization: this collector has no admin token (start it with --admin-token or SILLAGE_ADMIN_TOKEN)",
        );
    };
    match presented_token(req.headers()) {
        None => unauthorized(
            &state,
            "authorization: expected Bearer <admin token> (or Basic with the admin token as password)",
        ),
        Some(t) if !ct_eq(t.as_bytes(), token.as_bytes()) => {
            unauthorized(&state, "authorization: wrong admin token")
        }
        Some(_) => next.run(req).await,
    }
}

/// The admin token a request presents: the Bearer token, or the password of
/// Basic credentials.
fn presented_token(headers: &HeaderMap) -> Option<String> {
    use base64::Engine;
    let (scheme, value) = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim()
        .split_once(' ')?;
    let value = value.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(value.to_string());
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(value)
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    text.split_once(':')
        .map(|(_, password)| password.to_string())
}

fn unauthorized(state: &AppState, message: &str) -> Response {
    state
        .inner
        .stats
        .unauthorized
        .fetch_add(1, Ordering::Relaxed);
    let mut res = error(StatusCode::UNAUTHORIZED, message);
    let h = res.headers_mut();
    h.insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"sillage-collector\""),
    );
    // A browser asks for a user name and password: the password is the
    // admin token.
    h.append(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"sillage-collector\", charset=\"UTF-8\""),
    );
    res
}

/// The query parameters of a request, refusing any not in `known` with a
/// message (for a 400) that names them all.
pub fn query(uri: &Uri, known: &[&str]) -> Result<Vec<(String, String)>, String> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut unknown: Vec<&str> = Vec::new();
    for (k, _) in &pairs {
        if !known.contains(&k.as_str()) && !unknown.contains(&k.as_str()) {
            unknown.push(k);
        }
    }
    if unknown.is_empty() {
        return Ok(pairs);
    }
    let names: Vec<String> = unknown.iter().map(|k| format!("{k:?}")).collect();
    let known = if known.is_empty() {
        "none".to_string()
    } else {
        known.join(", ")
    };
    Err(format!(
        "query: unknown parameter{} {} (known: {known})",
        if names.len() > 1 { "s" } else { "" },
        names.join(", ")
    ))
}

/// The value of one query parameter (the last one given).
pub fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Whether a browser request's `Origin` may use the ingestion routes: any
/// origin with `*` in the list, else a listed origin or the collector's own
/// (the `Host` it was reached at). Requests without `Origin` (servers,
/// same-origin GETs) are not browsers' cross-origin requests and pass.
pub fn origin_allowed(origins: &[String], headers: &HeaderMap) -> Result<(), String> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("");
    if origins
        .iter()
        .any(|o| o == "*" || o.eq_ignore_ascii_case(origin))
    {
        return Ok(());
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let own = origin
        .split_once("://")
        .zip(host)
        .is_some_and(|((_, authority), host)| authority.eq_ignore_ascii_case(host));
    if own {
        Ok(())
    } else {
        Err(format!(
            "origin: {origin} is not allowed to send to this collector"
        ))
    }
}

/// Middleware of the ingestion routes: 403 for a browser origin outside
/// `--origins` (CORS alone would only hide the answer: the events would be
/// stored).
pub async fn require_origin(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match origin_allowed(&state.options.origins, req.headers()) {
        Ok(()) => next.run(req).await,
        Err(m) => {
            state.inner.stats.rejected.fetch_add(1, Ordering::Relaxed);
            error(StatusCode::FORBIDDEN, m).into_response()
        }
    }
}
