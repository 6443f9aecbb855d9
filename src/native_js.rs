//! The native [`JsHost`]: JavaScript `RegExp` semantics approximated with
//! the `regex` crate, for tests and the CLI.
//!
//! Why it lives outside the core and never reaches the wasm: the browser has
//! JavaScript's own `RegExp`, which is exactly what GrowthBook uses, so the web
//! shell implements [`JsHost`] with it and the wasm carries no regex engine
//! at all.
//!
//! How JavaScript syntax is mapped (non-`u` mode, as GrowthBook compiles its
//! patterns): `\d`, `\w`, `\b` and their negations are ASCII-only as in
//! JavaScript; `\s` uses JavaScript's white-space set; `.` stops at `\r`,
//! U+2028 and U+2029 as well as `\n`; `\/` is a plain slash. Known differences,
//! in principle: the `regex` crate has no look-around and no back-references, so
//! such patterns are reported invalid (false) here while the browser accepts
//! them; JavaScript's lenient Annex B forms are mapped (a lone `{`, `}` or
//! `]`, `\p` or `\a` as letters) except `\c` and octal escapes, which are
//! rejected; case-insensitive matching uses Unicode simple case folding rather
//! than JavaScript's upper-casing; `.` and classes work on Unicode
//! scalar values rather than UTF-16 code units.
//!
//! Bounds, so no pattern or input can stall the caller: an input longer than
//! [`MAX_INPUT`] characters does not match (the condition is false), compiled
//! programs are capped at 1 MB, and at most [`CACHE_SIZE`] compiled patterns are
//! kept per case mode (the cache is cleared when full).

use crate::core::condition::JsHost;
use regex::{Regex, RegexBuilder};
use std::cell::RefCell;
use std::collections::HashMap;

/// Inputs longer than this many characters never match.
pub const MAX_INPUT: usize = 1024;

/// How many compiled patterns are cached.
pub const CACHE_SIZE: usize = 256;

/// A [`JsHost`] backed by the `regex` crate, with a pattern cache.
#[derive(Default, Debug)]
pub struct NativeJs {
    /// Compiled patterns (`None`: invalid), case-sensitive then insensitive.
    cache: RefCell<[HashMap<String, Option<Regex>>; 2]>,
}

impl NativeJs {
    /// An engine with an empty cache.
    pub fn new() -> NativeJs {
        NativeJs::default()
    }
}

impl JsHost for NativeJs {
    fn is_match(&self, pattern: &str, case_insensitive: bool, input: &str) -> Option<bool> {
        let mut caches = self.cache.borrow_mut();
        let cache = &mut caches[usize::from(case_insensitive)];
        if !cache.contains_key(pattern) {
            if cache.len() >= CACHE_SIZE {
                cache.clear();
            }
            let compiled = translate(pattern).and_then(|p| {
                RegexBuilder::new(&p)
                    .case_insensitive(case_insensitive)
                    .size_limit(1 << 20)
                    .build()
                    .ok()
            });
            cache.insert(pattern.to_string(), compiled);
        }
        let re = cache.get(pattern)?.as_ref()?;
        if input.chars().nth(MAX_INPUT).is_some() {
            return Some(false);
        }
        Some(re.is_match(input))
    }
}

const JS_SPACE: &str = r"\t\n\x0B\x0C\r \u{A0}\u{1680}\u{2000}-\u{200A}\u{2028}\u{2029}\u{202F}\u{205F}\u{3000}\u{FEFF}";

/// Rewrites a JavaScript pattern into `regex` crate syntax; `None` when it
/// uses something the crate cannot express faithfully.
fn translate(js: &str) -> Option<String> {
    let mut out = String::with_capacity(js.len() + 16);
    let mut chars = js.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let e = chars.next()?;
                match e {
                    'd' if in_class => out.push_str("0-9"),
                    'd' => out.push_str("[0-9]"),
                    'D' if in_class => return None,
                    'D' => out.push_str("[^0-9]"),
                    'w' if in_class => out.push_str("0-9A-Za-z_"),
                    'w' => out.push_str("[0-9A-Za-z_]"),
                    'W' if in_class => return None,
                    'W' => out.push_str("[^0-9A-Za-z_]"),
                    's' if in_class => out.push_str(JS_SPACE),
                    's' => {
                        out.push('[');
                        out.push_str(JS_SPACE);
                        out.push(']');
                    }
                    'S' if in_class => return None,
                    'S' => {
                        out.push_str("[^");
                        out.push_str(JS_SPACE);
                        out.push(']');
                    }
                    'b' if in_class => out.push_str(r"\x08"),
                    'b' => out.push_str(r"(?-u:\b)"),
                    'B' => out.push_str(r"(?-u:\B)"),
                    // Back-references are not supported by the crate.
                    '1'..='9' => return None,
                    'u' if chars.peek() == Some(&'{') => return None,
                    'u' => {
                        let hex: String = (0..4).filter_map(|_| chars.next()).collect();
                        if hex.len() != 4 || !hex.chars().all(|h| h.is_ascii_hexdigit()) {
                            return None;
                        }
                        out.push_str(r"\u{");
                        out.push_str(&hex);
                        out.push('}');
                    }
                    '0' => out.push_str(r"\x00"),
                    'x' => {
                        let mut ahead = chars.clone();
                        let hex: String = (0..2).filter_map(|_| ahead.next()).collect();
                        if hex.len() == 2 && hex.chars().all(|h| h.is_ascii_hexdigit()) {
                            chars = ahead;
                            out.push_str(r"\x");
                            out.push_str(&hex);
                        } else {
                            // Annex B: a lone `\x` is the letter.
                            out.push('x');
                        }
                    }
                    't' | 'n' | 'v' | 'f' | 'r' => {
                        out.push('\\');
                        out.push(e);
                    }
                    // Control escapes have no equivalent in the crate.
                    'c' => return None,
                    // Annex B identity escapes: `\p`, `\a`, `\k`... are the
                    // letters themselves in non-Unicode JavaScript patterns.
                    e if e.is_ascii_alphanumeric() => out.push(e),
                    // Identity escapes of punctuation: escape it for the crate
                    // only when it is a meta character there.
                    e => {
                        if regex_syntax_is_meta(e) {
                            out.push('\\');
                        }
                        out.push(e);
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    out.push(chars.next()?);
                }
                // `[]` matches nothing and `[^]` anything in JavaScript.
                if chars.peek() == Some(&']') {
                    chars.next();
                    in_class = false;
                    if out.ends_with('^') {
                        out.truncate(out.len() - 2);
                        out.push_str(r"(?s:.)");
                    } else {
                        out.truncate(out.len() - 1);
                        out.push_str(r"[^\x00-\x{10FFFF}]");
                    }
                }
            }
            '[' => out.push_str(r"\["),
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '{' if !in_class => {
                // Annex B: a `{` that does not start `{n}`, `{n,}` or `{n,m}` is
                // a literal brace.
                let rest: String = chars.clone().take_while(|&c| c != '}').collect();
                let closed = chars.clone().nth(rest.chars().count()) == Some('}');
                let (lo, hi) = rest.split_once(',').unwrap_or((&rest, "0"));
                let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
                if closed && !lo.is_empty() && digits(lo) && digits(hi) {
                    out.push('{');
                    for _ in 0..=rest.chars().count() {
                        out.push(chars.next()?);
                    }
                } else {
                    out.push_str(r"\{");
                }
            }
            '}' | ']' if !in_class => {
                out.push('\\');
                out.push(c);
            }
            '.' if !in_class => out.push_str(r"[^\n\r\u{2028}\u{2029}]"),
            // Set operators (`&&`, `~~`) of the crate are plain characters in
            // JavaScript classes.
            '&' | '~' if in_class => {
                out.push('\\');
                out.push(c);
            }
            '(' if chars.peek() == Some(&'?') => {
                // Only non-capturing groups are supported; look-around and
                // named groups (`(?<name>`) are not.
                out.push('(');
                out.push(chars.next()?);
                if chars.peek() != Some(&':') {
                    return None;
                }
            }
            c => out.push(c),
        }
    }
    Some(out)
}

fn regex_syntax_is_meta(c: char) -> bool {
    regex::escape(c.encode_utf8(&mut [0; 4])).starts_with('\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, ci: bool, s: &str) -> Option<bool> {
        NativeJs::new().is_match(p, ci, s)
    }

    #[test]
    fn javascript_classes_are_ascii() {
        assert_eq!(m(r"^\d+$", false, "123"), Some(true));
        assert_eq!(m(r"^\d+$", false, "١٢٣"), Some(false));
        assert_eq!(m(r"^\w+$", false, "é"), Some(false));
        assert_eq!(m(r"\bfoo\b", false, "a foo b"), Some(true));
        assert_eq!(m(r"a.b", false, "a\rb"), Some(false));
        assert_eq!(m(r"a\/b", false, "a/b"), Some(true));
        assert_eq!(m(r"[^]", false, "\n"), Some(true));
        assert_eq!(m(r"[]", false, "x"), Some(false));
        assert_eq!(m(r"^\p{L}$", false, "p{L}"), Some(true));
        assert_eq!(m(r"^\x41\x$", false, "Ax"), Some(true));
        assert_eq!(m(r"^a\0$", false, "a\0"), Some(true));
        assert_eq!(m(r"[a&&b]", false, "&"), Some(true));
        assert_eq!(m(r"^\a$", false, "a"), Some(true));
        assert_eq!(m(r"^a{2}$", false, "aa"), Some(true));
        assert_eq!(m(r"^a{1,}b{,2}$", false, "aab{,2}"), Some(true));
        assert_eq!(m(r"^a{x}]$", false, "a{x}]"), Some(true));
    }

    #[test]
    fn invalid_and_unsupported_patterns_are_none() {
        assert_eq!(m("/???***[)", false, "hello"), None);
        assert_eq!(m(r"(a)\1", false, "aa"), None);
        assert_eq!(m(r"a(?=b)", false, "ab"), None);
    }

    #[test]
    fn long_inputs_never_match() {
        let long = "a".repeat(MAX_INPUT + 1);
        assert_eq!(m("a", false, &long), Some(false));
        let edge = "a".repeat(MAX_INPUT);
        assert_eq!(m("a", false, &edge), Some(true));
    }

    #[test]
    fn case_insensitive() {
        assert_eq!(m("(MOBILE|TABLET)", true, "android mobile"), Some(true));
        assert_eq!(m("(MOBILE|TABLET)", false, "android mobile"), Some(false));
    }
}
