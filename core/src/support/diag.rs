//! Diagnostics for configs and inputs: "parsing never fails".
//!
//! Every parser in the core returns what it could use plus a list of
//! [`Diagnostic`]s, each naming the JSON path of the bad value, what was wrong,
//! and, for a misspelt key or operator, the closest known name.

/// One problem found in an input, at a JSON path such as `rules[3].when.x`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// JSON path of the offending value (`""` for the document itself).
    pub path: String,
    /// What was wrong, lower-case, no trailing period.
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            path: path.into(),
            message: message.into(),
        }
    }

    /// `path: message` (or just the message at the root).
    pub fn render(&self) -> String {
        if self.path.is_empty() {
            self.message.clone()
        } else {
            let mut s = String::with_capacity(self.path.len() + 2 + self.message.len());
            s.push_str(&self.path);
            s.push_str(": ");
            s.push_str(&self.message);
            s
        }
    }

    /// `unknown key "x"`, with a suggestion when one of `known` is close.
    pub fn unknown_key(path: &str, key: &str, known: &[&str]) -> Diagnostic {
        Diagnostic::new(key_path(path, key), unknown("key", key, known))
    }
}

/// Reports every key of `obj` (at `path`) that is not in `known`.
pub fn check_keys(
    obj: &[(String, crate::support::json::Json)],
    path: &str,
    known: &[&str],
    out: &mut Vec<Diagnostic>,
) {
    for (k, _) in obj {
        if !known.contains(&k.as_str()) {
            out.push(Diagnostic::unknown_key(path, k, known));
        }
    }
}

/// `must be <want>, not <type of got>`.
pub fn type_error(path: &str, want: &str, got: &crate::support::json::Json) -> Diagnostic {
    let mut m = String::from("must be ");
    m.push_str(want);
    m.push_str(", not ");
    m.push_str(got.type_name());
    Diagnostic::new(path, m)
}

/// The non-empty string at `obj.key` (trimmed), or `None` after reporting
/// it missing or of the wrong type.
pub fn required_string(
    obj: &crate::support::json::Json,
    parent: &str,
    key: &str,
    out: &mut Vec<Diagnostic>,
) -> Option<String> {
    match obj.get(key) {
        Some(crate::support::json::Json::Str(s)) if !s.trim().is_empty() => {
            Some(s.trim().to_string())
        }
        Some(other) => {
            out.push(type_error(
                &key_path(parent, key),
                "a non-empty string",
                other,
            ));
            None
        }
        None => {
            out.push(Diagnostic::new(key_path(parent, key), "missing"));
            None
        }
    }
}

/// `must be <want>, not <value>` for a number out of range (naming it when
/// it is a whole number), else the type error.
pub fn range_error(path: &str, want: &str, got: &crate::support::json::Json) -> Diagnostic {
    let crate::support::json::Json::Num(n) = got else {
        return type_error(path, want, got);
    };
    let mut m = String::from("must be ");
    m.push_str(want);
    if n.fract() == 0.0 && n.abs() < 1e15 {
        m.push_str(", not ");
        if *n < 0.0 {
            m.push('-');
        }
        push_u64(&mut m, n.abs() as u64);
    }
    Diagnostic::new(path, m)
}

/// `unknown <what> "<name>"` plus ` (did you mean "<x>"?)` when a candidate is close.
pub fn unknown(what: &str, name: &str, known: &[&str]) -> String {
    let mut m = String::new();
    m.push_str("unknown ");
    m.push_str(what);
    m.push_str(" \"");
    m.push_str(name);
    m.push('"');
    if let Some(s) = did_you_mean(name, known) {
        m.push_str(" (did you mean \"");
        m.push_str(s);
        m.push_str("\"?)");
    }
    m
}

/// The JSON path of `key` inside the object at `parent`.
pub fn key_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        let mut s = String::with_capacity(parent.len() + 1 + key.len());
        s.push_str(parent);
        s.push('.');
        s.push_str(key);
        s
    }
}

/// The JSON path of item `i` of the array at `parent`.
pub fn index_path(parent: &str, i: usize) -> String {
    let mut s = String::with_capacity(parent.len() + 6);
    s.push_str(parent);
    s.push('[');
    push_usize(&mut s, i);
    s.push(']');
    s
}

/// Appends the decimal digits of `n` (no `core::fmt`).
pub fn push_usize(s: &mut String, n: usize) {
    push_u64(s, n as u64);
}

/// Appends the decimal digits of `n` (no `core::fmt`). Use this, not
/// [`push_usize`], for anything that may exceed 2^32: `usize` is 32 bits in
/// the wasm (epoch milliseconds are not).
pub fn push_u64(s: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &b in &buf[i..] {
        s.push(b as char);
    }
}

/// Reads a run of 1 to 19 ASCII digits (no sign, no spaces) without
/// `str::parse`, whose generic code costs wasm bytes; `None` otherwise.
pub fn parse_u64(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 {
        return None;
    }
    s.bytes().try_fold(0u64, |n, b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}

/// The candidate closest to `word` by edit distance, if it is close enough to be
/// a plausible typo (at most a third of the word's length, and at most 3 edits).
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let len = word.chars().count();
    let limit = (len / 3).clamp(1, 3);
    candidates
        .iter()
        // The distance is at least the difference in length: a word far
        // longer than every candidate (a megabyte pasted as an event name)
        // costs one count, not a quadratic table per candidate.
        .filter(|c| c.chars().count().abs_diff(len) <= limit)
        .map(|c| (levenshtein(word, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Edit distance between two strings, counted in chars, where swapping two
/// neighbours counts as one edit (optimal string alignment): `paht` is one
/// typo away from `path`, not two.
pub fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for (j, cell) in d.iter_mut().enumerate().take(w) {
        *cell = j;
    }
    for i in 1..=a.len() {
        d[i * w] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1)
                .min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
        }
    }
    d[a.len() * w + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(did_you_mean("$gtt", &["$gt", "$gte", "$lt"]), Some("$gt"));
        assert_eq!(
            did_you_mean("colector", &["collector", "rules"]),
            Some("collector")
        );
        assert_eq!(did_you_mean("zzzzzz", &["collector", "rules"]), None);
        assert_eq!(
            did_you_mean("paht", &["path", "topic"]),
            Some("path"),
            "a swap is one edit"
        );
        assert_eq!(levenshtein("kitten", "sitting"), 3);
    }

    #[test]
    fn renders_paths() {
        let d = Diagnostic::unknown_key(&index_path("rules", 3), "whn", &["when", "slot"]);
        assert_eq!(
            d.render(),
            "rules[3].whn: unknown key \"whn\" (did you mean \"when\"?)"
        );
        assert_eq!(
            Diagnostic::new("", "not an object").render(),
            "not an object"
        );
        let mut s = String::new();
        push_usize(&mut s, 1_234_050);
        assert_eq!(s, "1234050");
        for (text, want) in [
            ("0", Some(0)),
            ("1795411448123", Some(1_795_411_448_123)),
            ("9999999999999999999", Some(9_999_999_999_999_999_999)),
            ("", None),
            ("-1", None),
            ("+1", None),
            (" 1", None),
            ("1e3", None),
            ("12345678901234567890", None),
        ] {
            assert_eq!(parse_u64(text), want, "{text:?}");
        }
    }
}
