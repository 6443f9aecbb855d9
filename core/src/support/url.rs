//! A small URL reader, and the scrubbing of personal data out of URLs.
//!
//! Why not the `url` crate: it brings IDNA tables and a full WHATWG parser,
//! tens of KB of wasm for what the SDK needs: the host, the path and the
//! query pairs of URLs the browser already normalised (`location.href`,
//! `document.referrer`). Anything this reader cannot make sense of is
//! treated as "no URL", never a panic.

use crate::support::strsearch::split_once;
use crate::support::strsearch::CharSearch;

/// The parts of an absolute http(s) URL the SDK looks at.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Url<'a> {
    /// `http` or `https`, lower-case as given.
    pub scheme: &'a str,
    /// The host without userinfo or port, as given (compare case-insensitively).
    pub host: &'a str,
    /// The path, `/` when empty.
    pub path: &'a str,
    /// The query without `?` (may be empty).
    pub query: &'a str,
    /// The fragment without `#` (may be empty).
    pub fragment: &'a str,
}

/// Reads an absolute `http:`/`https:` URL; `None` for anything else.
pub fn parse(url: &str) -> Option<Url<'_>> {
    let url = url.trim();
    let (scheme, rest) = split_once(url, "://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let (rest, fragment) = rest.split_at_char('#').unwrap_or((rest, ""));
    let (rest, query) = rest.split_at_char('?').unwrap_or((rest, ""));
    let (authority, path) = match rest.find_char('/') {
        Some(i) => (rest.get(..i)?, rest.get(i..)?),
        None => (rest, "/"),
    };
    let hostport = authority.rsplit('@').next()?;
    let host = if let Some(v6) = hostport.strip_prefix('[') {
        let end = v6.find_char(']')?;
        hostport.get(..end + 2)?
    } else {
        hostport.split(':').next()?
    };
    if host.is_empty() {
        return None;
    }
    Some(Url {
        scheme,
        host,
        path,
        query,
        fragment,
    })
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes a query component (`+` is a space); invalid escapes stay
/// as they are, invalid UTF-8 is replaced.
pub fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                match (
                    b.get(i + 1).and_then(|&c| hex(c)),
                    b.get(i + 2).and_then(|&c| hex(c)),
                ) {
                    (Some(h), Some(l)) => {
                        out.push(h * 16 + l);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The query's `(key, value)` pairs, decoded, in order.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_at_char('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Query parameter names removed from every URL before anything is stored or
/// sent (case-insensitive). Sites add their own with `privacy.scrubParams`.
pub const SCRUB_PARAMS: &[&str] = &[
    "email",
    "e-mail",
    "e_mail",
    "mail",
    "token",
    "access_token",
    "id_token",
    "refresh_token",
    "password",
    "passwd",
    "pwd",
    "pass",
    "auth",
    "authorization",
    "key",
    "apikey",
    "api_key",
    "secret",
    "session",
    "sessionid",
    "session_id",
    "sid",
    "code",
    "otp",
    "pin",
    "phone",
    "tel",
    "mobile",
    "ssn",
    "iban",
    "card",
    "cc",
    "cvv",
    "address",
    "zip",
    "postcode",
    "birthdate",
    "dob",
    "first_name",
    "last_name",
    "firstname",
    "lastname",
    "name",
    "user",
    "username",
    "login",
];

/// Whether `s` contains something shaped like an email address.
pub fn has_email(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter().enumerate().any(|(i, &c)| {
        c == b'@' && i > 0 && {
            let before = i.checked_sub(1).and_then(|j| b.get(j));
            let local = before.is_some_and(|x| x.is_ascii_alphanumeric() || b"._%+-".contains(x));
            let domain = b.get(i + 1..).unwrap_or(&[]);
            let d: Vec<u8> = domain
                .iter()
                .copied()
                .take_while(|x| x.is_ascii_alphanumeric() || *x == b'.' || *x == b'-')
                .collect();
            local && d.contains(&b'.') && d.first().is_some_and(u8::is_ascii_alphanumeric)
        }
    })
}

/// Removes personal data from a URL: deny-listed query parameters (default
/// list plus `extra`) and any query parameter, path segment or fragment
/// holding an email address are replaced by the marker `[redacted]` (the
/// parameter name stays, so analysts can see that something was removed).
/// Returns the URL unchanged when nothing personal is in it.
pub fn scrub(url: &str, extra: &[String]) -> String {
    let Some(u) = parse(url) else {
        return if has_email(url) {
            String::from("[redacted]")
        } else {
            url.to_string()
        };
    };
    let deny = |k: &str| {
        let k = decode(k);
        SCRUB_PARAMS.iter().any(|d| d.eq_ignore_ascii_case(&k))
            || extra.iter().any(|d| d.eq_ignore_ascii_case(&k))
    };
    let mut query = String::new();
    for (i, part) in u.query.split('&').filter(|p| !p.is_empty()).enumerate() {
        if i > 0 {
            query.push('&');
        }
        let (k, v) = part.split_at_char('=').unwrap_or((part, ""));
        if deny(k) || has_email(&decode(v)) {
            query.push_str(k);
            query.push_str("=[redacted]");
        } else {
            query.push_str(part);
        }
    }
    let path: String = if has_email(&decode(u.path)) {
        u.path
            .split('/')
            .map(|seg| {
                if has_email(&decode(seg)) {
                    "[redacted]"
                } else {
                    seg
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    } else {
        u.path.to_string()
    };
    let mut out = String::with_capacity(url.len());
    // Scheme and authority as given (without userinfo: it never belongs in analytics).
    out.push_str(u.scheme);
    out.push_str("://");
    let authority = split_once(url, "://")
        .map(|(_, r)| r.split(['/', '?', '#']).next().unwrap_or(""))
        .unwrap_or("");
    out.push_str(authority.rsplit('@').next().unwrap_or(""));
    out.push_str(&path);
    if !query.is_empty() {
        out.push('?');
        out.push_str(&query);
    }
    if !u.fragment.is_empty() {
        out.push('#');
        if has_email(&decode(u.fragment)) {
            out.push_str("[redacted]");
        } else {
            out.push_str(u.fragment);
        }
    }
    out
}
