//! Diagnostics for configs and inputs: "parsing never fails".
//!
//! Every parser in the core returns what it could use plus a list of
//! [`Diagnostic`]s, each naming the JSON path of the bad value, what was wrong,
//! and, for a misspelt key or operator, the closest known name. What was
//! wrong is a template ([`t!`](crate::t!)) and its arguments: the shipped wasm holds the
//! template's code only, and the sentences travel apart, in the catalogue.

/// A message's wording: its code, and (with the `text` feature) its
/// sentence, where each `{}` takes the next argument. Made by [`t!`](crate::t!)
/// from a string literal: the code is computed at compile time from the
/// sentence, so a build without `text` (the shipped wasm) holds the codes
/// and none of the sentences.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tpl {
    /// [`code`] of the sentence.
    pub code: u32,
    /// The sentence itself (only with the `text` feature).
    #[cfg(feature = "text")]
    pub text: &'static str,
}

/// The code of a sentence: 24 bits of its FNV-1a hash, printed as six hex
/// digits. A `const fn`, so [`t!`](crate::t!) computes it at compile time; the
/// catalogue (`sillage_messages.json`, [`catalogue_json`]) maps it back to
/// the sentence.
pub const fn code(text: &str) -> u32 {
    let b = text.as_bytes();
    let mut h: u32 = 0x811c_9dc5;
    let mut i = 0;
    while i < b.len() {
        h ^= b[i] as u32;
        h = h.wrapping_mul(0x0100_0193);
        i += 1;
    }
    (h ^ (h >> 24)) & 0x00ff_ffff
}

/// A message template from a string literal, such as `"must be {}, not {}"`.
/// Without the `text` feature the literal is used at compile time only (to
/// compute its code) and never reaches the binary. For this crate only (the
/// `cfg` in its expansion is read in the caller's crate). Write the
/// literal right after the parenthesis, with `\"` as its only escape:
/// `cargo xtask build` finds the templates in the sources that way
/// ([`templates_in`]), and a test checks every use.
#[macro_export]
macro_rules! t {
    ($text:literal) => {
        $crate::support::diag::Tpl {
            code: const { $crate::support::diag::code($text) },
            #[cfg(feature = "text")]
            text: $text,
        }
    };
}

/// The suggestion appended to a message when a name is close to a known one.
pub const SUGGESTION: Tpl = crate::t!(" (did you mean \"{}\"?)");

/// One problem found in an input, at a JSON path such as `rules[3].when.x`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// JSON path of the offending value (`""` for the document itself).
    pub path: String,
    /// What was wrong (lower-case, no trailing period once filled in).
    pub tpl: Tpl,
    /// The values of the template's `{}`, in order; one more is the known
    /// name closest to a misspelt one, appended as [`SUGGESTION`].
    pub args: Vec<String>,
}

impl Diagnostic {
    /// A diagnostic at `path` with the message `tpl` (add its arguments with
    /// [`Diagnostic::arg`]).
    pub fn new(path: impl Into<String>, tpl: Tpl) -> Diagnostic {
        Diagnostic {
            path: path.into(),
            tpl,
            args: Vec::new(),
        }
    }

    /// The same with the next `{}` of the template filled by `value`.
    pub fn arg(mut self, value: &str) -> Diagnostic {
        self.args.push(value.into());
        self
    }

    /// The same with a number for the next `{}`.
    pub fn num(self, n: u64) -> Diagnostic {
        let mut s = String::new();
        push_u64(&mut s, n);
        self.arg(&s)
    }

    /// The same with a suggestion (after every `{}` is filled).
    pub fn hint(self, known: &str) -> Diagnostic {
        self.arg(known)
    }

    /// `unknown <what> "<name>"` (the template has one `{}` for `name`),
    /// with a suggestion when one of `known` is close.
    pub fn unknown(path: impl Into<String>, tpl: Tpl, name: &str, known: &[&str]) -> Diagnostic {
        let mut d = Diagnostic::new(path, tpl).arg(name);
        d.args.extend(did_you_mean(name, known).map(String::from));
        d
    }

    /// `unknown key "x"`, with a suggestion when one of `known` is close.
    pub fn unknown_key(path: &str, key: &str, known: &[&str]) -> Diagnostic {
        Diagnostic::unknown(key_path(path, key), t!("unknown key \"{}\""), key, known)
    }

    /// `path: message`, the message filled into `text` (the template's
    /// sentence) with the suggestion filled into `suggestion`; without
    /// `text`, the short form `path: code <hex> (arguments)`.
    pub fn render_with(&self, text: Option<&str>, suggestion: Option<&str>) -> String {
        let mut s = String::new();
        if !self.path.is_empty() {
            s.push_str(&self.path);
            s.push_str(": ");
        }
        match text.filter(|t| !t.is_empty()) {
            None => {
                s.push_str("code ");
                push_code(&mut s, self.tpl.code);
                for (i, a) in self.args.iter().enumerate() {
                    s.push_str(if i == 0 { " (" } else { ", " });
                    s.push_str(a);
                }
                if !self.args.is_empty() {
                    s.push(')');
                }
            }
            Some(text) => {
                let used = fill(&mut s, text, &self.args);
                if let Some(h) = self.args.get(used) {
                    fill(
                        &mut s,
                        suggestion.unwrap_or(" ({}?)"),
                        core::slice::from_ref(h),
                    );
                }
            }
        }
        s
    }

    /// The full sentence, without the path (the CLI, native tests).
    #[cfg(feature = "text")]
    pub fn message(&self) -> String {
        Diagnostic {
            path: String::new(),
            ..self.clone()
        }
        .render()
    }

    /// `path: message` with the full sentence (the CLI, native tests).
    #[cfg(feature = "text")]
    pub fn render(&self) -> String {
        self.render_with(Some(self.tpl.text), Some(SUGGESTION.text))
    }

    /// `path: code <hex> (arguments)`: what the shipped wasm prints
    /// without the catalogue.
    pub fn render_short(&self) -> String {
        self.render_with(None, None)
    }

    /// One line that carries the whole diagnostic across the boundary
    /// between the wasm modules: the code (in decimal), the path and the
    /// arguments, separated by U+001F.
    pub fn to_line(&self) -> String {
        let mut s = String::new();
        push_u64(&mut s, self.tpl.code.into());
        for f in core::iter::once(&self.path).chain(&self.args) {
            s.push('\u{1f}');
            s.push_str(f);
        }
        s
    }

    /// The diagnostic [`Diagnostic::to_line`] wrote (`None` if `line` is not
    /// one). Its template's sentence is not carried: it comes from the
    /// catalogue.
    pub fn from_line(line: &str) -> Option<Diagnostic> {
        let mut f = line.split('\u{1f}').map(String::from);
        let code = parse_u64(&f.next()?).filter(|c| *c < 1 << 24)? as u32;
        Some(Diagnostic {
            path: f.next()?,
            tpl: Tpl {
                code,
                #[cfg(feature = "text")]
                text: "",
            },
            args: f.collect(),
        })
    }
}

/// Appends `text` to `out` with each `{}` replaced by the next of `args` (a
/// `{}` without an argument is kept as is); returns how many were used.
pub fn fill(out: &mut String, text: &str, args: &[String]) -> usize {
    // Char by char, without `str::find` or slicing: their generic searcher
    // and panic paths cost the wasm kilobytes.
    let mut used = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '{' && chars.peek() == Some(&'}') {
            chars.next();
            match args.get(used) {
                Some(a) => {
                    out.push_str(a);
                    used += 1;
                }
                None => out.push_str("{}"),
            }
        } else {
            out.push(c);
        }
    }
    used
}

/// Appends `code` as six lower-case hex digits.
pub fn push_code(s: &mut String, code: u32) {
    for shift in (0..6).rev() {
        let d = (code >> (shift * 4)) & 0xf;
        s.push(char::from_digit(d, 16).unwrap_or('0'));
    }
}

/// Every template of `source` (Rust source text): the string literal of each
/// `t!` call whose argument is a string literal, unescaped (only `\"` and
/// `\\` are allowed in templates).
/// `sillage_messages.json` is built from the core's sources with it.
pub fn templates_in(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = source;
    while let Some(i) = crate::support::strsearch::find(rest, "t!(\"") {
        let preceded = source.len() - rest.len() + i;
        let ident_before = source[..preceded]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        rest = &rest[i + 4..];
        let mut text = String::new();
        let mut chars = rest.char_indices();
        let mut end = rest.len();
        while let Some((j, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, e)) = chars.next() {
                        text.push(e);
                    }
                }
                '"' => {
                    end = j + 1;
                    break;
                }
                c => text.push(c),
            }
        }
        rest = &rest[end..];
        if !ident_before {
            out.push(text);
        }
    }
    out
}

/// The catalogue: a JSON object from each template's code (six hex digits)
/// to its sentence, for the given templates (sorted by code, each once).
pub fn catalogue_json(templates: &[String]) -> String {
    let mut all: Vec<(u32, &str)> = templates.iter().map(|t| (code(t), t.as_str())).collect();
    all.sort_unstable();
    all.dedup();
    let mut s = String::from("{");
    for (i, (c, t)) in all.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push('"');
        push_code(&mut s, *c);
        s.push_str("\":\"");
        for ch in t.chars() {
            match ch {
                '"' => s.push_str("\\\""),
                '\\' => s.push_str("\\\\"),
                c => s.push(c),
            }
        }
        s.push('"');
    }
    s.push('}');
    s
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

/// `tpl` (`must be <want>, not {}`) with the type of `got`.
pub fn type_error(path: &str, tpl: Tpl, got: &crate::support::json::Json) -> Diagnostic {
    Diagnostic::new(path, tpl).arg(got.type_name())
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
                t!("must be a non-empty string, not {}"),
                other,
            ));
            None
        }
        None => {
            out.push(Diagnostic::new(key_path(parent, key), t!("missing")));
            None
        }
    }
}

/// For a number out of range: `not` (`must be <want>, not {}`) naming it
/// when it is a whole number, else `plain` (`must be <want>`); for another
/// type, `not` with the type. `first` fill the templates' first `{}`s (the
/// bounds, when the sentence names them).
pub fn range_error(
    path: &str,
    not: Tpl,
    plain: Tpl,
    got: &crate::support::json::Json,
    first: Vec<String>,
) -> Diagnostic {
    let d = |tpl| Diagnostic {
        path: path.into(),
        tpl,
        args: first,
    };
    let crate::support::json::Json::Num(n) = got else {
        return d(not).arg(got.type_name());
    };
    if n.fract() == 0.0 && n.abs() < 1e15 {
        let mut s = String::new();
        if *n < 0.0 {
            s.push('-');
        }
        push_u64(&mut s, n.abs() as u64);
        d(not).arg(&s)
    } else {
        d(plain)
    }
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
            Diagnostic::new("", t!("not an object")).render(),
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

    #[test]
    #[allow(clippy::disallowed_macros)] // test code
    fn codes_carry_a_diagnostic_without_its_sentence() {
        let d = Diagnostic::unknown(
            "rules[0].when.stage",
            t!("unknown stage \"{}\""),
            "purchse",
            &["purchase", "loyalty"],
        );
        assert_eq!(
            d.render(),
            "rules[0].when.stage: unknown stage \"purchse\" (did you mean \"purchase\"?)"
        );
        let mut hex = String::new();
        push_code(&mut hex, code("unknown stage \"{}\""));
        assert_eq!(hex.len(), 6);
        assert_eq!(
            d.render_short(),
            format!("rules[0].when.stage: code {hex} (purchse, purchase)")
        );
        // Across the module boundary, then rendered from the catalogue.
        let back = Diagnostic::from_line(&d.to_line()).expect("a line");
        assert_eq!((&back.path, &back.args), (&d.path, &d.args));
        assert_eq!(back.tpl.code, d.tpl.code);
        let templates = templates_in(
            "let a = t!(\"unknown stage \\\"{}\\\"\"); let b = crate::t!(\" (did you mean \\\"{}\\\"?)\"); not_t!(\"x\")",
        );
        assert_eq!(
            templates,
            ["unknown stage \"{}\"", " (did you mean \"{}\"?)"]
        );
        let json = catalogue_json(&templates);
        let parsed: serde_json::Value = serde_json::from_str(&json).expect("JSON");
        let lookup = |c: u32| {
            let mut k = String::new();
            push_code(&mut k, c);
            parsed[&k].as_str()
        };
        assert_eq!(
            back.render_with(lookup(back.tpl.code), lookup(SUGGESTION.code)),
            d.render()
        );
        let mut s = String::new();
        assert_eq!(fill(&mut s, "a {} b {}", &["1".into()]), 1);
        assert_eq!(s, "a 1 b {}");
    }
}
