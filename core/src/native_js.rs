//! The native [`JsHost`]: JavaScript `RegExp` itself, through `regress`, an
//! ECMAScript regular expression engine written in Rust, for tests and the
//! CLI.
//!
//! Why it lives outside the core and never reaches the wasm: the browser has
//! JavaScript's own `RegExp`, which is exactly what GrowthBook uses, so the web
//! shell implements [`JsHost`] with it and the wasm carries no regex engine
//! at all. Natively, `regress` parses the same syntax (look-around,
//! back-references, Annex B's lenient forms) and, fed UCS-2 code units as a
//! JavaScript string is, matches with the same semantics as a pattern
//! compiled without the `u` flag (as GrowthBook compiles them): the native
//! and browser answers agree by construction rather than by a translation
//! of one syntax into another. The GrowthBook corpus runs through both
//! hosts (`tests/it/conditions.rs` natively, `tests/browser/conformance.rs`
//! in Chromium).
//!
//! Bounds, so no pattern or input can stall the caller: the core never hands
//! an input longer than `MAX_REGEX_INPUT` characters to a host and refuses
//! nested repetitions at load; here an input longer than [`MAX_INPUT`]
//! characters does not match either, and at most [`CACHE_SIZE`] compiled
//! patterns are kept per case mode (the cache is cleared when full).

// Native only (the `native-js` feature): the size rules of clippy.toml are
// for code that ships in the wasm.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

use crate::decide::condition::JsHost;
use regress::{Flags, Regex};
use std::cell::RefCell;
use std::collections::HashMap;

/// Inputs longer than this many characters never match.
pub const MAX_INPUT: usize = 1024;

/// How many compiled patterns are cached.
pub const CACHE_SIZE: usize = 256;

/// A [`JsHost`] backed by `regress`, with a pattern cache.
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
            let flags = Flags {
                icase: case_insensitive,
                ..Flags::default()
            };
            cache.insert(pattern.to_string(), Regex::with_flags(pattern, flags).ok());
        }
        let re = cache.get(pattern)?.as_ref()?;
        if input.chars().nth(MAX_INPUT).is_some() {
            return Some(false);
        }
        // A JavaScript string is UTF-16 code units, and a pattern without
        // the `u` flag sees them one by one (UCS-2).
        let units: Vec<u16> = input.encode_utf16().collect();
        Some(re.find_from_ucs2(&units, 0).next().is_some())
    }

    fn parse_json(&self, text: &str) -> Option<crate::support::json::Json> {
        serde_json::from_str(text).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, ci: bool, s: &str) -> Option<bool> {
        NativeJs::new().is_match(p, ci, s)
    }

    #[test]
    fn javascript_semantics_without_the_u_flag() {
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
        // Without `u`, `.` is one UTF-16 code unit: an emoji is two.
        assert_eq!(m(r"^.$", false, "😀"), Some(false));
        assert_eq!(m(r"^..$", false, "😀"), Some(true));
    }

    #[test]
    fn look_around_and_back_references_work_as_in_the_browser() {
        assert_eq!(m(r"(a)\1", false, "aa"), Some(true));
        assert_eq!(m(r"(a)\1", false, "ab"), Some(false));
        assert_eq!(m(r"a(?=b)", false, "ab"), Some(true));
        assert_eq!(m(r"(?<!x)b", false, "xb"), Some(false));
        assert_eq!(m(r"(?<name>a)\k<name>", false, "aa"), Some(true));
    }

    #[test]
    fn invalid_patterns_are_none() {
        assert_eq!(m("/???***[)", false, "hello"), None);
        assert_eq!(m("(", false, "("), None);
        assert_eq!(m("a{2,1}", false, "aa"), None);
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
