//! Topic hints for the interest model.
//!
//! A page says what it is about through `<meta name="sillage:topics">`,
//! `data-sillage-topics` on `<body>` or `<main>`, URL-pattern rules in the
//! config (`topics: [{"topic": "running", "path": "/running/*"}]`), and the
//! category properties of commerce events. Whatever the source, topics are
//! normalised the same way and capped, so a page cannot flood the profile.

use crate::support::diag::{index_path, key_path, Diagnostic};
use crate::support::json::Json;
use crate::t;

/// Most topics kept per page view or event.
pub const MAX_TOPICS: usize = 10;
/// Longest topic kept, in chars.
pub const MAX_TOPIC_LEN: usize = 32;

/// Normalises raw hints (each may be a comma-separated list): ASCII letters
/// lower-cased (the shell lower-cases page hints fully with the browser's
/// `toLowerCase` first: Unicode case tables would cost ~20 KB of wasm),
/// trimmed, runs of ASCII whitespace collapsed to one space, at most
/// [`MAX_TOPIC_LEN`] chars, duplicates removed, at most [`MAX_TOPICS`], in
/// order of appearance.
pub fn normalize<'a>(raw: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out = Vec::new();
    for hint in raw {
        push_hint(&mut out, hint);
    }
    out
}

/// Adds the topics of one raw hint to `out` (one char loop: `split_whitespace`
/// and `trim_end` bring Unicode tables and panicking slices into the wasm).
fn push_hint(out: &mut Vec<String>, hint: &str) {
    for part in hint.split(',') {
        let (mut t, mut n, mut space) = (String::new(), 0, false);
        for c in part.chars() {
            if c.is_ascii_whitespace() {
                space = n > 0;
                continue;
            }
            if n + usize::from(space) >= MAX_TOPIC_LEN {
                break;
            }
            if space {
                t.push(' ');
                n += 1;
                space = false;
            }
            t.push(c.to_ascii_lowercase());
            n += 1;
        }
        if !t.is_empty() && !out.contains(&t) && out.len() < MAX_TOPICS {
            out.push(t);
        }
    }
}

/// Topics from the category properties of a commerce event (Segment Spec):
/// `category`, `categories` (a string or an array of strings) and each
/// `products[].category`, normalised like page hints.
pub fn from_properties(props: &Json) -> Vec<String> {
    fn take<'a>(v: Option<&'a Json>, raw: &mut Vec<&'a str>) {
        match v {
            Some(Json::Str(s)) => raw.push(s),
            Some(Json::Arr(items)) => raw.extend(items.iter().filter_map(Json::as_str)),
            _ => {}
        }
    }
    let mut raw = Vec::new();
    take(props.get("category"), &mut raw);
    take(props.get("categories"), &mut raw);
    for p in props.get("products").and_then(Json::as_arr).unwrap_or(&[]) {
        take(p.get("category"), &mut raw);
    }
    normalize(raw)
}

/// `topics[i]`: the topic a URL path pattern gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicRule {
    /// The topic, normalised.
    pub topic: String,
    /// A path pattern where `*` matches any run of characters.
    pub path: String,
}

/// Keys of `topics[i]`.
pub const TOPIC_RULE_KEYS: &[&str] = &["topic", "path"];

/// Parses the `topics` config section.
pub fn parse_rules(v: &Json, out: &mut Vec<Diagnostic>) -> Vec<TopicRule> {
    let Some(items) = v.as_arr() else {
        out.push(Diagnostic::new(
            "topics",
            t!("must be an array of {topic, path}"),
        ));
        return Vec::new();
    };
    let mut rules = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = index_path("topics", i);
        let Some(o) = item.as_obj() else {
            out.push(Diagnostic::new(at, t!("must be an object {topic, path}")));
            continue;
        };
        for (k, _) in o {
            if !TOPIC_RULE_KEYS.contains(&k.as_str()) {
                out.push(Diagnostic::unknown_key(&at, k, TOPIC_RULE_KEYS));
            }
        }
        let topic = item
            .get("topic")
            .and_then(Json::as_str)
            .map(|t| normalize([t]));
        let path = item
            .get("path")
            .and_then(Json::as_str)
            .filter(|p| p.starts_with('/'));
        match (topic.and_then(|mut t| t.drain(..).next()), path) {
            (Some(topic), Some(path)) => rules.push(TopicRule {
                topic,
                path: path.to_string(),
            }),
            (None, _) => out.push(Diagnostic::new(
                key_path(&at, "topic"),
                t!("must be a non-empty string"),
            )),
            (_, None) => out.push(Diagnostic::new(
                key_path(&at, "path"),
                t!("must be a path starting with /"),
            )),
        }
    }
    rules
}

/// Whether `path` matches `pattern` (`*` matches any run of characters).
///
/// Works on bytes: `str`'s substring search and its panicking slices cost
/// about 5 KB of wasm (the two-way searcher, `char` Debug formatting).
pub fn glob(pattern: &str, path: &str) -> bool {
    let mut parts = pattern.as_bytes().split(|b| *b == b'*');
    let first = parts.next().unwrap_or(&[]);
    let Some(mut rest) = path.as_bytes().strip_prefix(first) else {
        return false;
    };
    let mut parts = parts.peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            return rest.ends_with(part);
        }
        if part.is_empty() {
            continue;
        }
        match rest.windows(part.len()).position(|w| w == part) {
            Some(at) => rest = rest.get(at + part.len()..).unwrap_or(&[]),
            None => return false,
        }
    }
    rest.is_empty()
}

/// The topics the config's path rules give `path`.
pub fn from_path<'a>(rules: &'a [TopicRule], path: &str) -> impl Iterator<Item = &'a str> {
    let path = path.to_string();
    rules
        .iter()
        .filter(move |r| glob(&r.path, &path))
        .map(|r| r.topic.as_str())
}
