//! Browser facts and effects the shell needs: time, randomness, the page
//! context, first-party storage, timers, listeners and the console.

use std::cell::{Cell, RefCell};

use js_sys::Function;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Storage, VisibilityState};

use crate::core::batch::Report;
use crate::core::diag::{push_usize, Diagnostic};
use crate::core::event::PageContext;
use crate::core::json::{write, Json};
use crate::core::tracker::JsonEncoder;

/// Epoch milliseconds.
pub fn now() -> f64 {
    js_sys::Date::now()
}

thread_local! {
    /// Random bytes fetched 256 at a time: one `getRandomValues` call costs
    /// several microseconds, about as much for 256 bytes as for 16.
    static POOL: RefCell<([u8; 256], usize)> = const { RefCell::new(([0; 256], 256)) };
}

/// 16 bytes from `crypto.getRandomValues` (available in every context, unlike
/// `crypto.randomUUID`), or from `Math.random` where there is no crypto.
pub fn random_bytes() -> [u8; 16] {
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        if p.1 + 16 > p.0.len() {
            let ok = web_sys::window()
                .and_then(|w| w.crypto().ok())
                .is_some_and(|c| c.get_random_values_with_u8_array(&mut p.0).is_ok());
            if !ok {
                for x in p.0.iter_mut() {
                    *x = (js_sys::Math::random() * 256.0) as u8;
                }
            }
            p.1 = 0;
        }
        let mut b = [0u8; 16];
        let at = p.1;
        b.copy_from_slice(p.0.get(at..at + 16).unwrap_or(&[0; 16]));
        p.1 += 16;
        b
    })
}

/// A random number in `[0, 1)` (backoff jitter).
pub fn jitter() -> f64 {
    js_sys::Math::random()
}

/// What the page looks like now, reusing `last` when the URL did not change
/// (one `location.href` and one `document.title` read instead of five reads:
/// every call into the browser costs a string copy).
pub fn page_context_since(last: &mut Option<PageContext>) -> PageContext {
    let Some(w) = web_sys::window() else {
        return PageContext::default();
    };
    let href = w.location().href().unwrap_or_default();
    if let Some(p) = last.as_mut().filter(|p| p.url == href) {
        if let Some(d) = w.document() {
            p.title = d.title();
        }
        return p.clone();
    }
    let p = page_context();
    *last = Some(p.clone());
    p
}

/// What the page looks like now.
pub fn page_context() -> PageContext {
    let Some(w) = web_sys::window() else {
        return PageContext::default();
    };
    let loc = w.location();
    let doc = w.document();
    PageContext {
        url: loc.href().unwrap_or_default(),
        path: loc.pathname().unwrap_or_default(),
        search: loc.search().unwrap_or_default(),
        referrer: doc.as_ref().map(|d| d.referrer()).unwrap_or_default(),
        title: doc.as_ref().map(|d| d.title()).unwrap_or_default(),
    }
}

/// Whether the browser believes it is online.
pub fn online() -> bool {
    web_sys::window().is_none_or(|w| w.navigator().on_line())
}

/// The text of `<script type="application/json" id="sillage-config">`, if any.
pub fn inline_config() -> Option<String> {
    let el = web_sys::window()?
        .document()?
        .get_element_by_id("sillage-config")?;
    el.text_content().filter(|t| !t.trim().is_empty())
}

/// First-party storage: `localStorage`, or memory where it is blocked or full.
pub struct Store {
    local: Option<Storage>,
    memory: RefCell<Vec<(String, String)>>,
    warned: Cell<bool>,
}

impl Store {
    /// Opens `localStorage`, checking that a write really works (Safari's
    /// private mode and blocked storage throw on access or on write).
    pub fn open() -> Store {
        let local = web_sys::window()
            .and_then(|w| w.local_storage().ok().flatten())
            .filter(|s| {
                let probe = "sillage.probe";
                s.set_item(probe, "1").is_ok() && s.remove_item(probe).is_ok()
            });
        let store = Store {
            local,
            memory: RefCell::new(Vec::new()),
            warned: Cell::new(false),
        };
        if store.local.is_none() {
            store.warn_memory();
        }
        store
    }

    pub fn warn_memory(&self) {
        if !self.warned.replace(true) {
            warn("localStorage is unavailable; keeping state in memory for this page only");
        }
    }

    /// Whether values survive a reload and are shared with other tabs.
    pub fn durable(&self) -> bool {
        self.local.is_some()
    }

    /// Writes a value to durable storage; `false` if storage refused it
    /// (quota, blocked) or there is none.
    pub fn try_set(&self, key: &str, value: &str) -> bool {
        self.local
            .as_ref()
            .is_some_and(|s| s.set_item(key, value).is_ok())
    }

    /// Every stored `(key, value)` whose key starts with `prefix`.
    pub fn entries(&self, prefix: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(s) = &self.local {
            let n = s.length().unwrap_or(0);
            for i in 0..n {
                if let Ok(Some(k)) = s.key(i) {
                    if k.starts_with(prefix) {
                        if let Ok(Some(v)) = s.get_item(&k) {
                            out.push((k, v));
                        }
                    }
                }
            }
        }
        out
    }

    /// Reads a value.
    pub fn get(&self, key: &str) -> Option<String> {
        if let Some(s) = &self.local {
            if let Ok(v) = s.get_item(key) {
                return v;
            }
        }
        self.memory
            .borrow()
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    /// Writes a value, falling back to memory (with one warning) if storage
    /// refuses it.
    pub fn set(&self, key: &str, value: &str) {
        if let Some(s) = &self.local {
            if s.set_item(key, value).is_ok() {
                return;
            }
            self.warn_memory();
        }
        let mut m = self.memory.borrow_mut();
        match m.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value.to_string(),
            None => m.push((key.to_string(), value.to_string())),
        }
    }

    /// Deletes a value.
    pub fn remove(&self, key: &str) {
        if let Some(s) = &self.local {
            let _ = s.remove_item(key);
        }
        self.memory.borrow_mut().retain(|(k, _)| k != key);
    }
}

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

/// Warns about a diagnostic, `path: message`.
pub fn warn_diag(d: &Diagnostic) {
    warn(&d.render());
}

/// Tells the site about something the batcher reported.
pub fn report(r: &Report) {
    match r {
        Report::Dropped { status, count } => {
            let mut m = String::from("the collector refused a batch with HTTP ");
            push_usize(&mut m, *status as usize);
            m.push_str("; dropped ");
            push_usize(&mut m, *count);
            m.push_str(" events");
            error(&m);
        }
    }
}

/// The message of a thrown value, for console messages.
pub fn error_text(e: &JsValue) -> String {
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        return err.message().into();
    }
    e.as_string().unwrap_or_else(|| "unknown error".into())
}

/// Calls a page callback; if it throws, reports it instead of propagating.
pub fn call_safely(f: &Function, what: &str) {
    if let Err(e) = f.call0(&JsValue::NULL) {
        let mut m = String::from(what);
        m.push_str(" threw: ");
        m.push_str(&error_text(&e));
        error(&m);
    }
}

/// Serialises events with the core's writer and the browser's number
/// formatting, so no JSON library is compiled into the wasm.
pub struct Encoder;

impl JsonEncoder for Encoder {
    fn encode(&self, value: &Json) -> String {
        let mut out = String::with_capacity(512);
        write(value, &mut out, &push_js_number);
        out
    }
}

thread_local! {
    static TIMER_CB: Closure<dyn FnMut()> = Closure::new(super::on_timer);
    static LISTENING: Cell<bool> = const { Cell::new(false) };
}

/// `setTimeout(onTimer, ms)`; the handle, if the browser gave one.
pub fn set_timeout(ms: f64) -> Option<i32> {
    let w = web_sys::window()?;
    TIMER_CB.with(|cb| {
        w.set_timeout_with_callback_and_timeout_and_arguments_0(
            cb.as_ref().unchecked_ref(),
            ms.ceil().min(2_147_483_647.0) as i32,
        )
        .ok()
    })
}

/// `clearTimeout(handle)`.
pub fn clear_timeout(handle: i32) {
    if let Some(w) = web_sys::window() {
        w.clear_timeout_with_handle(handle);
    }
}

fn field(e: &JsValue, name: &str) -> JsValue {
    js_sys::Reflect::get(e, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

/// Every page event the SDK hears goes through this one function: a single
/// wasm-bindgen closure instead of one per event (each closure type costs
/// its own glue in the wasm and the JS).
fn on_event(e: JsValue) {
    let kind = field(&e, "type").as_string().unwrap_or_default();
    match kind.as_str() {
        "visibilitychange" => {
            let hidden = web_sys::window()
                .and_then(|w| w.document())
                .is_some_and(|d| d.visibility_state() == VisibilityState::Hidden);
            super::capture::on_visibility(hidden);
            if hidden {
                super::on_hidden();
            }
        }
        "pagehide" => {
            super::on_hidden();
            super::tabs::step_down();
        }
        "pageshow" => {
            if field(&e, "persisted").is_truthy() {
                super::tabs::elect();
                super::capture::on_restore();
            }
        }
        "storage" => super::tabs::on_storage(
            field(&e, "key").as_string(),
            field(&e, "newValue").as_string(),
        ),
        "online" => super::on_network(true),
        "offline" => super::on_network(false),
        "click" => super::capture::on_click(e),
        "scroll" => super::capture::on_scroll(),
        "popstate" | "hashchange" => {
            super::p13n::on_navigation();
            super::capture::soon(super::capture::on_navigation);
        }
        "focus" | "blur" => super::capture::on_focus(kind == "focus"),
        _ => super::capture::on_input(),
    }
}

/// Installs the page-lifetime listeners (once): visibility, hide, restore,
/// storage, network, navigation, focus, input, scroll and clicks. All
/// passive; input and clicks are heard in the capture phase, so a page that
/// stops propagation does not hide them.
pub fn listen() {
    if LISTENING.with(|l| l.replace(true)) {
        return;
    }
    let Some(w) = web_sys::window() else {
        return;
    };
    super::capture::wrap_history(&w);
    let cb = Closure::<dyn FnMut(JsValue)>::new(on_event);
    let f: &js_sys::Function = cb.as_ref().unchecked_ref();
    let options = |capture: bool| {
        let o = web_sys::AddEventListenerOptions::new();
        o.set_passive(true);
        o.set_capture(capture);
        o
    };
    let (bubble, capture) = (options(false), options(true));
    let win: &web_sys::EventTarget = &w;
    for name in [
        "pagehide",
        "pageshow",
        "storage",
        "online",
        "offline",
        "popstate",
        "hashchange",
        "focus",
        "blur",
        "scroll",
    ] {
        let _ =
            win.add_event_listener_with_callback_and_add_event_listener_options(name, f, &bubble);
    }
    for name in ["pointerdown", "keydown", "wheel", "touchstart"] {
        let _ =
            win.add_event_listener_with_callback_and_add_event_listener_options(name, f, &capture);
    }
    if let Some(doc) = w.document() {
        let _ = doc.add_event_listener_with_callback_and_add_event_listener_options(
            "visibilitychange",
            f,
            &bubble,
        );
        let _ = doc
            .add_event_listener_with_callback_and_add_event_listener_options("click", f, &capture);
    }
    // Page-lifetime: never removed, so the closure lives as long as the page.
    cb.forget();
}

/// The browser's own `RegExp`, `toLowerCase`, `Number#toString` and
/// `parseFloat` for the condition language (see
/// [`crate::core::condition::JsHost`]): exact JavaScript answers, and none of
/// Rust's float formatting, float parsing or Unicode tables in the wasm.
pub struct BrowserJs;

impl crate::core::condition::JsHost for BrowserJs {
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
}

/// `s.toLowerCase()`: the browser's, which knows every script (Rust's
/// Unicode tables would cost about 20 KB of wasm).
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

/// Compiled patterns, most recent last (`None`: invalid). Conditions are
/// compiled once, so a page sees a handful of distinct patterns.
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
