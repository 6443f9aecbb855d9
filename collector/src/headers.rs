//! Response headers for the static `www/` routes, from `www/_headers`
//! (Netlify's format).

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

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

/// Adds the `_headers` rules to the static `www/` responses (and keeps the
/// file itself private, as Netlify does).
pub async fn www_headers(
    State(rules): State<Arc<PathHeaders>>,
    req: Request,
    next: Next,
) -> Response {
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
