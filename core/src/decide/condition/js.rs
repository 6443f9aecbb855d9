//! The few JavaScript coercions the condition language depends on.
//!
//! GrowthBook's evaluator is JavaScript and leans on the language's implicit
//! conversions (`value + ""`, `value * 1`, `a < b` across types, `!!value`,
//! `JSON.stringify`). To give the same answers, these helpers reproduce the
//! ECMAScript rules for plain JSON data. Three conversions are the host's
//! ([`JsHost`]): non-integer numbers to text, decimal text to numbers, and
//! Unicode lower-casing. The browser does them exactly for free; in Rust they
//! would pull `core::fmt`'s float formatting, `dec2flt` and the Unicode case
//! tables into the wasm. The Rust versions here are the native defaults.

use super::JsHost;
use crate::support::json::Json;
use crate::support::strsearch::CharSearch;
use std::borrow::Cow;
use std::cmp::Ordering;

/// JavaScript truthiness (`!!value`).
pub(crate) fn truthy(v: &Json) -> bool {
    match v {
        Json::Null => false,
        Json::Bool(b) => *b,
        Json::Num(n) => *n != 0.0 && !n.is_nan(),
        Json::Str(s) => !s.is_empty(),
        Json::Arr(_) | Json::Obj(_) => true,
    }
}

/// Appends `String(n)`.
pub(crate) fn push_num(h: &dyn JsHost, out: &mut String, n: f64) {
    if n.is_nan() {
        out.push_str("NaN");
    } else if n.is_infinite() {
        out.push_str(if n > 0.0 { "Infinity" } else { "-Infinity" });
    } else if n == 0.0 {
        out.push('0');
    } else if n.fract() == 0.0 && n.abs() < 1.8e19 {
        if n < 0.0 {
            out.push('-');
        }
        let mut buf = [0u8; 20];
        let mut i = buf.len();
        let mut u = n.abs() as u64;
        loop {
            i -= 1;
            buf[i] = b'0' + (u % 10) as u8;
            u /= 10;
            if u == 0 {
                break;
            }
        }
        for &b in &buf[i..] {
            out.push(b as char);
        }
    } else {
        h.push_number(n, out);
    }
}

/// `String(n)` for a finite non-integer (or huge) `n` with `core::fmt`: the
/// native default of [`JsHost::push_number`].
pub fn push_num_fmt(out: &mut String, n: f64) {
    use std::fmt::Write;
    let a = n.abs();
    if (1e-6..1e21).contains(&a) {
        // Rust's Display is the shortest round-trip decimal, as in JavaScript.
        let _ = write!(out, "{n}");
    } else {
        let mut s = String::new();
        let _ = write!(s, "{n:e}");
        match s.find_char('e') {
            Some(i) if !s[i + 1..].starts_with('-') => {
                out.push_str(&s[..=i]);
                out.push('+');
                out.push_str(&s[i + 1..]);
            }
            _ => out.push_str(&s),
        }
    }
}

/// Appends `String(v)`.
pub(crate) fn push_string(h: &dyn JsHost, out: &mut String, v: &Json) {
    match v {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Num(n) => push_num(h, out, *n),
        Json::Str(s) => out.push_str(s),
        Json::Obj(_) => out.push_str("[object Object]"),
        Json::Arr(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                // `null` items join as empty strings.
                if !matches!(item, Json::Null) {
                    push_string(h, out, item);
                }
            }
        }
    }
}

/// `String(v)`, borrowing when `v` is already a string.
pub(crate) fn to_string<'a>(h: &dyn JsHost, v: &'a Json) -> Cow<'a, str> {
    match v {
        Json::Str(s) => Cow::Borrowed(s),
        Json::Null => Cow::Borrowed("null"),
        Json::Bool(true) => Cow::Borrowed("true"),
        Json::Bool(false) => Cow::Borrowed("false"),
        _ => {
            let mut s = String::new();
            push_string(h, &mut s, v);
            Cow::Owned(s)
        }
    }
}

/// ECMAScript white space and line terminators (what `String.prototype.trim`
/// removes).
fn is_js_space(c: char) -> bool {
    matches!(
        c,
        '\u{9}'..='\u{d}'
            | ' '
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
            | '\u{feff}'
    )
}

/// Whether `c` ends a line for JavaScript's `.` and `$`.
pub(crate) fn is_line_terminator(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}')
}

/// `Number(s)`: JavaScript's StringToNumber.
pub(crate) fn str_to_num(h: &dyn JsHost, s: &str) -> f64 {
    let t = s.trim_matches(is_js_space);
    if t.is_empty() {
        return 0.0;
    }
    let radix = match t.get(..2) {
        Some("0x" | "0X") => 16,
        Some("0o" | "0O") => 8,
        Some("0b" | "0B") => 2,
        _ => 0,
    };
    if radix != 0 {
        let digits = t.get(2..).unwrap_or("");
        if digits.is_empty() {
            return f64::NAN;
        }
        let mut n = 0.0f64;
        for c in digits.chars() {
            match c.to_digit(radix) {
                Some(d) => n = n * f64::from(radix) + f64::from(d),
                None => return f64::NAN,
            }
        }
        return n;
    }
    let unsigned = t.strip_prefix(['+', '-']).unwrap_or(t);
    if unsigned == "Infinity" {
        return if t.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
    }
    if !is_decimal_literal(unsigned) {
        return f64::NAN;
    }
    h.parse_decimal(t)
}

/// `digits [. digits?] | . digits`, then an optional exponent.
fn is_decimal_literal(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        digits += i - frac_start;
    }
    if digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == b.len()
}

/// `Number(v)` (what `v * 1` computes).
pub(crate) fn to_num(h: &dyn JsHost, v: &Json) -> f64 {
    match v {
        Json::Null => 0.0,
        Json::Bool(b) => f64::from(u8::from(*b)),
        Json::Num(n) => *n,
        Json::Str(s) => str_to_num(h, s),
        Json::Obj(_) => f64::NAN,
        Json::Arr(_) => str_to_num(h, &to_string(h, v)),
    }
}

/// A primitive as the relational operators see it.
#[derive(Clone, Debug)]
pub(crate) enum Prim<'a> {
    /// A string (compared as UTF-16 when both sides are strings).
    Str(Cow<'a, str>),
    /// Anything else, already converted to a number.
    Num(f64),
}

/// `ToPrimitive` then, for non-strings, `ToNumber`.
pub(crate) fn to_prim<'a>(h: &dyn JsHost, v: &'a Json) -> Prim<'a> {
    match v {
        Json::Str(s) => Prim::Str(Cow::Borrowed(s)),
        Json::Arr(_) | Json::Obj(_) => Prim::Str(to_string(h, v)),
        _ => Prim::Num(to_num(h, v)),
    }
}

/// Compares strings by UTF-16 code units, as JavaScript does.
pub(crate) fn cmp_utf16(a: &str, b: &str) -> Ordering {
    if a.is_ascii() || b.is_ascii() {
        // Code point order equals UTF-16 order unless both sides hold
        // characters at or above U+E000.
        return a.cmp(b);
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

/// JavaScript's `a < b` on primitives: `None` when a number side is NaN.
pub(crate) fn less_than(h: &dyn JsHost, a: &Prim, b: &Prim) -> Option<bool> {
    match (a, b) {
        (Prim::Str(x), Prim::Str(y)) => Some(cmp_utf16(x, y) == Ordering::Less),
        _ => {
            let x = prim_num(h, a);
            let y = prim_num(h, b);
            if x.is_nan() || y.is_nan() {
                None
            } else {
                Some(x < y)
            }
        }
    }
}

fn prim_num(h: &dyn JsHost, p: &Prim) -> f64 {
    match p {
        Prim::Str(s) => str_to_num(h, s),
        Prim::Num(n) => *n,
    }
}

/// `a === b` for values coming from different JSON documents: arrays and
/// objects are never identical.
pub(crate) fn strict_eq(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Null, Json::Null) => true,
        (Json::Bool(x), Json::Bool(y)) => x == y,
        (Json::Num(x), Json::Num(y)) => x == y,
        (Json::Str(x), Json::Str(y)) => x == y,
        _ => false,
    }
}

/// `Array.prototype.includes` equality (SameValueZero) across documents.
pub(crate) fn same_value_zero(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Num(x), Json::Num(y)) => x == y || (x.is_nan() && y.is_nan()),
        _ => strict_eq(a, b),
    }
}

/// The canonical array index a property key names, if any (`"0"`, `"17"`, not
/// `"01"`).
pub(crate) fn array_index(key: &str) -> Option<u32> {
    if key.is_empty() || key.len() > 10 || (key.len() > 1 && key.starts_with('0')) {
        return None;
    }
    if !key.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = crate::support::diag::parse_u64(key)?;
    // 2^32 - 1 is not an array index.
    u32::try_from(n).ok().filter(|&n| n != u32::MAX)
}

/// Object entries in JavaScript property order: integer-like keys first in
/// ascending order, then the other keys in insertion order.
pub(crate) fn js_order(m: &[(String, Json)]) -> Vec<&(String, Json)> {
    let mut v: Vec<&(String, Json)> = m.iter().collect();
    if m.iter().any(|(k, _)| array_index(k).is_some()) {
        let key = |e: &&(String, Json)| array_index(&e.0).map_or((1, 0), |i| (0, i));
        crate::support::sort::sort_small(&mut v, |a, b| key(a) < key(b));
    }
    v
}

/// `JSON.stringify(a) === JSON.stringify(b)` for plain JSON data.
pub(crate) fn stringify_eq(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Arr(x), Json::Arr(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| stringify_eq(p, q))
        }
        (Json::Obj(x), Json::Obj(y)) => {
            if x.len() != y.len() {
                return false;
            }
            let plain = |m: &[(String, Json)]| m.iter().all(|(k, _)| array_index(k).is_none());
            if plain(x) && plain(y) {
                x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| ka == kb && stringify_eq(va, vb))
            } else {
                js_order(x)
                    .into_iter()
                    .zip(js_order(y))
                    .all(|((ka, va), (kb, vb))| ka == kb && stringify_eq(va, vb))
            }
        }
        // Distinct finite numbers always stringify differently; 0 and -0 alike.
        _ => strict_eq(a, b),
    }
}

/// Whether a JavaScript pattern repeats a group that itself contains a
/// repetition or an alternation (`(a+)+`, `(a|aa)*`, `(x*y?){2,}`): the shape
/// that makes a backtracking engine like the browser's take exponential time.
/// Escapes and character classes are skipped; `?` and `{0,1}`/`{n}` bounds
/// are not repetitions that can explode.
pub(crate) fn may_backtrack(pattern: &str) -> bool {
    // For each open group: whether it holds a repetition or an alternation.
    let mut stack: Vec<bool> = Vec::new();
    let mut last_group_risky = false;
    let b = pattern.as_bytes();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let mut closed = false;
        match c {
            b'\\' => i += 1,
            b'[' => {
                i += 1;
                while let Some(&x) = b.get(i) {
                    match x {
                        b'\\' => i += 1,
                        b']' => break,
                        _ => {}
                    }
                    i += 1;
                }
            }
            b'(' => stack.push(false),
            b')' => {
                last_group_risky = stack.pop().unwrap_or(false);
                if last_group_risky {
                    if let Some(outer) = stack.last_mut() {
                        *outer = true;
                    }
                }
                closed = true;
            }
            b'|' => {
                if let Some(top) = stack.last_mut() {
                    *top = true;
                }
            }
            b'*' | b'+' => {
                if let Some(top) = stack.last_mut() {
                    *top = true;
                }
            }
            b'{' if is_unbounded_repeat(b.get(i..).unwrap_or(&[])) => {
                if let Some(top) = stack.last_mut() {
                    *top = true;
                }
            }
            _ => {}
        }
        i += 1;
        if closed && last_group_risky {
            // What follows the group: a repetition makes it explode.
            match b.get(i) {
                Some(b'*' | b'+') => return true,
                Some(b'{') if is_unbounded_repeat(b.get(i..).unwrap_or(&[])) => return true,
                _ => {}
            }
        }
    }
    false
}

/// Whether `s` starts with `{n,}` or `{n,m}` with m > 1.
fn is_unbounded_repeat(s: &[u8]) -> bool {
    let end = s.iter().position(|&c| c == b'}').unwrap_or(0);
    let Some(inner) = s.get(1..end) else {
        return false;
    };
    let mut parts = inner.split(|&c| c == b',');
    let lo = parts.next().unwrap_or(&[]);
    if lo.is_empty() || !lo.iter().all(u8::is_ascii_digit) {
        return false;
    }
    match parts.next() {
        None => false,
        Some([]) => true,
        Some(hi) => {
            hi.iter().all(u8::is_ascii_digit)
                && hi.len() <= 9
                && hi.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')) > 1
        }
    }
}

/// GrowthBook's `paddedVersionString`: numeric parts left-padded to 5 with
/// spaces, a `~` appended to plain `x.y.z` so it sorts after its pre-releases.
pub(crate) fn padded_version(h: &dyn JsHost, v: &Json) -> String {
    let mut owned = String::new();
    let s: &str = match v {
        Json::Num(n) => {
            push_num(h, &mut owned, *n);
            &owned
        }
        Json::Str(s) if !s.is_empty() => s,
        _ => "0",
    };
    // replace(/(^v|\+.*$)/g, ""): a leading "v", and the first "+" whose tail
    // holds no line terminator (`.` stops at them).
    let mut s = s.strip_prefix('v').unwrap_or(s);
    let mut search = 0;
    while let Some(i) = s
        .get(search..)
        .and_then(|r| r.find_char('+'))
        .map(|i| i + search)
    {
        if !s.get(i + 1..).unwrap_or("").has_char(is_line_terminator) {
            s = s.get(..i).unwrap_or(s);
            break;
        }
        search = i + 1;
    }
    let count = s.split(['-', '.']).count();
    let mut out = String::with_capacity(s.len() + 16);
    for (i, part) in s
        .split(['-', '.'])
        .chain((count == 3).then_some("~"))
        .enumerate()
    {
        if i > 0 {
            out.push('-');
        }
        if !part.is_empty() && part.len() < 5 && part.bytes().all(|b| b.is_ascii_digit()) {
            for _ in part.len()..5 {
                out.push(' ');
            }
        }
        out.push_str(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    struct RustHost;
    impl JsHost for RustHost {
        fn is_match(&self, _: &str, _: bool, _: &str) -> Option<bool> {
            None
        }
        fn parse_json(&self, _: &str) -> Option<Json> {
            None
        }
    }
    const H: &dyn JsHost = &RustHost;

    fn s(v: &Json) -> String {
        to_string(H, v).into_owned()
    }

    #[test]
    fn number_strings_follow_javascript() {
        assert_eq!(s(&Json::Num(3.0)), "3");
        assert_eq!(s(&Json::Num(-0.0)), "0");
        assert_eq!(s(&Json::Num(0.1)), "0.1");
        assert_eq!(s(&Json::Num(1e21)), "1e+21");
        assert_eq!(s(&Json::Num(1.5e-7)), "1.5e-7");
        assert_eq!(s(&Json::Num(123456789012.5)), "123456789012.5");
        let arr = Json::Arr(vec![Json::Num(1.0), Json::Null, Json::Str("a".into())]);
        assert_eq!(s(&arr), "1,,a");
    }

    #[test]
    fn string_to_number_follows_javascript() {
        assert_eq!(str_to_num(H, " 12 "), 12.0);
        assert_eq!(str_to_num(H, ""), 0.0);
        assert_eq!(str_to_num(H, "0x1f"), 31.0);
        assert_eq!(str_to_num(H, "-Infinity"), f64::NEG_INFINITY);
        assert_eq!(str_to_num(H, ".5"), 0.5);
        assert_eq!(str_to_num(H, "5."), 5.0);
        assert!(str_to_num(H, "inf").is_nan());
        assert!(str_to_num(H, "1e").is_nan());
        assert!(str_to_num(H, "abc").is_nan());
    }

    #[test]
    fn versions_are_padded() {
        assert_eq!(
            padded_version(H, &Json::from("v1.2.3+build")),
            "    1-    2-    3-~"
        );
        assert_eq!(
            padded_version(H, &Json::from("1.0.0-beta.1")),
            "    1-    0-    0-beta-    1"
        );
        assert_eq!(padded_version(H, &Json::Null), "    0");
    }

    #[test]
    fn nested_repetitions_are_caught() {
        for p in [
            "(a+)+$",
            "^(a|aa)*b",
            "(x*y){2,}",
            "((ab)*c)+",
            "(\\d+\\.)+\\d+",
            "(a{1,10})+",
        ] {
            assert!(may_backtrack(p), "{p}");
        }
        for p in [
            "(Mobile|Tablet)",
            "^hello",
            "(a+)?",
            "(ab)+",
            "[(a+)+]",
            "\\(a+\\)+",
            "(a|b){1}",
            "(a+){0,1}",
            "-12-25$",
            "/???***[)",
        ] {
            assert!(!may_backtrack(p), "{p}");
        }
    }

    #[test]
    fn utf16_order() {
        // U+FF61 sorts after U+1F600 in UTF-16 (surrogates are 0xD8xx).
        assert_eq!(cmp_utf16("\u{ff61}", "\u{1f600}"), Ordering::Greater);
    }
}
