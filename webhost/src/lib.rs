//! What both of Sillage's browser modules (tracking, and personalization)
//! need of the browser: the [`BrowserJs`] host that gives the core
//! JavaScript's own `RegExp`, `toLowerCase`, number text and `JSON.parse`;
//! values to and from JavaScript ([`convert`]); the console.
//!
//! It exports nothing to JavaScript itself: each module's shell does.
#![cfg(target_arch = "wasm32")]

pub mod convert;

/// The allocator of both modules: talc, smaller than Rust's default
/// dlmalloc in wasm and no slower for the SDK's small, short-lived
/// allocations (measured with `cargo xtask bench`).
#[cfg(not(target_feature = "atomics"))]
#[global_allocator]
static TALC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

use std::cell::RefCell;

use js_sys::{Function, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use sillage_core::support::json::{write, Json};

fn field(e: &JsValue, name: &str) -> JsValue {
    Reflect::get(e, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

// ----- the console -----

fn prefixed(msg: &str) -> JsValue {
    let mut s = String::with_capacity(9 + msg.len());
    s.push_str("sillage: ");
    s.push_str(msg);
    JsValue::from_str(&s)
}

/// `console.warn("sillage: ...")`.
pub fn warn(msg: &str) {
    web_sys::console::warn_1(&prefixed(msg));
}

/// `console.error("sillage: ...")`.
pub fn error(msg: &str) {
    web_sys::console::error_1(&prefixed(msg));
}

/// The message of a thrown value.
pub fn error_text(e: &JsValue) -> String {
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        return err.message().into();
    }
    e.as_string().unwrap_or_else(|| "unknown error".into())
}

/// Calls a page callback with `arg`; if it throws, says so instead of
/// passing it on.
pub fn call_safely(f: &Function, what: &str, arg: &JsValue) {
    if let Err(e) = f.call1(&JsValue::NULL, arg) {
        let mut m = String::from(what);
        m.push_str(" threw: ");
        m.push_str(&error_text(&e));
        error(&m);
    }
}

/// `console.table(rows)`.
pub fn table(rows: &Json) {
    let console = field(&js_sys::global(), "console");
    if let Ok(t) = field(&console, "table").dyn_into::<Function>() {
        let _ = t.call1(&console, &to_js(rows));
    }
}

/// `performance.mark(name)`.
pub fn mark(name: &str) {
    if let Some(perf) = web_sys::window().and_then(|w| w.performance()) {
        let _ = perf.mark(name);
    }
}

/// A core value as a plain JS object (the browser parses the core's text).
pub fn to_js(v: &Json) -> JsValue {
    let mut text = String::new();
    write(v, &mut text, &push_js_number);
    js_sys::JSON::parse(&text).unwrap_or(JsValue::NULL)
}

/// The browser's own `RegExp`, `toLowerCase`, `Number#toString`,
/// `parseFloat` and `JSON.parse` for the core (see
/// [`sillage_core::decide::condition::JsHost`]): exact JavaScript answers, and none
/// of Rust's float formatting, float parsing, JSON parser or Unicode tables
/// in the wasm.
pub struct BrowserJs;

impl sillage_core::decide::condition::JsHost for BrowserJs {
    fn is_match(&self, pattern: &str, case_insensitive: bool, input: &str) -> Option<bool> {
        regex_match(pattern, case_insensitive, input)
    }

    fn to_lower(&self, s: &str) -> String {
        lower(s)
    }

    fn push_number(&self, n: f64, out: &mut String) {
        push_js_number(n, out);
    }

    fn parse_decimal(&self, s: &str) -> f64 {
        js_sys::Number::parse_float(s)
    }

    fn parse_json(&self, text: &str) -> Option<Json> {
        js_sys::JSON::parse(text)
            .ok()
            .and_then(|v| convert::json(&v))
    }
}

/// `s.toLowerCase()`: the browser's (Rust's Unicode tables would cost
/// about 20 KB of wasm).
pub fn lower(s: &str) -> String {
    js_sys::JsString::from(s).to_lower_case().into()
}

/// Appends `String(n)` as the browser writes it.
pub fn push_js_number(n: f64, out: &mut String) {
    if let Ok(s) = js_sys::Number::from(n).to_string_with_radix(10) {
        out.push_str(&String::from(s));
    }
}

#[wasm_bindgen]
extern "C" {
    /// `RegExp(pattern, flags)`, which throws on an invalid pattern.
    #[wasm_bindgen(catch, js_name = RegExp)]
    fn new_regexp(pattern: &str, flags: &str) -> Result<js_sys::RegExp, JsValue>;
}

/// Compiled patterns, most recent last (`None`: invalid).
type RegexCache = Vec<(String, bool, Option<js_sys::RegExp>)>;

thread_local! {
    static REGEXES: RefCell<RegexCache> = const { RefCell::new(Vec::new()) };
}

/// Most patterns kept compiled.
const REGEX_CACHE: usize = 64;

/// `new RegExp(pattern, flags).test(input)`; `None` when the pattern is
/// invalid (the constructor throws, which is caught here).
fn regex_match(pattern: &str, case_insensitive: bool, input: &str) -> Option<bool> {
    REGEXES.with(|cache| {
        let mut cache = cache.borrow_mut();
        let found = cache
            .iter()
            .position(|(p, ci, _)| *ci == case_insensitive && p == pattern);
        let re = match found {
            Some(i) => cache.get(i)?.2.clone(),
            None => {
                let re = new_regexp(pattern, if case_insensitive { "i" } else { "" }).ok();
                if cache.len() >= REGEX_CACHE {
                    cache.remove(0);
                }
                cache.push((pattern.to_string(), case_insensitive, re.clone()));
                re
            }
        };
        re.map(|r| r.test(input))
    })
}
