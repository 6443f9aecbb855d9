//! The browser as the core sees it: facts read into inputs (time, the
//! page, storage, the page's events), effects carried out (storage writes,
//! timers, the sender lock, the console), and JavaScript's built-ins for
//! the core ([`BrowserJs`]).

use std::cell::{Cell, RefCell};

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::Storage;

use super::dispatch;
use sillage_core::sdk::{Boot, Click, ConfigSource, Input, Open, PageNow};
use sillage_core::track::event::PageContext;
use sillage_core::track::outbox::{decode_record, StoreOp, EVENT_PREFIX};
pub use sillage_webhost::{
    call_safely, error, error_text, lower, mark, table, to_js, warn, BrowserJs,
};

/// Epoch milliseconds.
pub fn now() -> f64 {
    js_sys::Date::now()
}

/// 32 bytes from `crypto.getRandomValues` (or `Math.random` where there is
/// no crypto), to seed the core's random stream.
pub fn seed() -> [u8; 32] {
    let mut b = [0u8; 32];
    let ok = web_sys::window()
        .and_then(|w| w.crypto().ok())
        .is_some_and(|c| c.get_random_values_with_u8_array(&mut b).is_ok());
    if !ok {
        for x in b.iter_mut() {
            *x = (js_sys::Math::random() * 256.0) as u8;
        }
    }
    b
}

fn document() -> Option<web_sys::Document> {
    web_sys::window()?.document()
}

fn field(e: &JsValue, name: &str) -> JsValue {
    Reflect::get(e, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

// ----- storage -----

thread_local! {
    /// `localStorage`, if a write works (Safari's private mode and blocked
    /// storage throw on access or on write).
    static LOCAL: Option<Storage> = web_sys::window()
        .and_then(|w| w.local_storage().ok().flatten())
        .filter(|s| {
            let probe = "sillage.probe";
            s.set_item(probe, "1").is_ok() && s.remove_item(probe).is_ok()
        });
}

/// Whether storage works.
pub fn durable() -> bool {
    LOCAL.with(Option::is_some)
}

/// Applies one storage op; `false` if storage refused it.
pub fn store(op: &StoreOp) -> bool {
    LOCAL.with(|s| {
        let Some(s) = s else { return false };
        match op {
            StoreOp::Put { key, value } => s.set_item(key, value).is_ok(),
            StoreOp::Delete { key } => {
                let _ = s.remove_item(key);
                true
            }
        }
    })
}

/// Reads one value.
pub fn get(key: &str) -> Option<String> {
    LOCAL.with(|s| s.as_ref()?.get_item(key).ok().flatten())
}

/// Every stored `(key, value)` whose key starts with `prefix`.
pub fn entries(prefix: &str) -> Vec<(String, String)> {
    LOCAL.with(|s| {
        let mut out = Vec::new();
        if let Some(s) = s {
            for i in 0..s.length().unwrap_or(0) {
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
    })
}

/// Deletes every key starting with `prefix`.
pub fn store_clear(prefix: &str) {
    for (k, _) in entries(prefix) {
        store(&StoreOp::Delete { key: k });
    }
}

/// The stored events' JSON, oldest first (test support).
pub fn stored_events() -> Vec<String> {
    let mut stored: Vec<(f64, u64, String)> = entries(EVENT_PREFIX)
        .iter()
        .filter_map(|(_, v)| decode_record(v).map(|(at, seq, j)| (at, seq, j.to_string())))
        .collect();
    stored.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    stored.into_iter().map(|(_, _, j)| j).collect()
}

// ----- the page -----

/// The page's topic hints: `<meta name="sillage:topics">` and
/// `data-sillage-topics` on `<body>` and `<main>`, lower-cased by the
/// browser (its `toLowerCase` knows every script).
fn topic_hints() -> Vec<String> {
    let mut out = Vec::new();
    let Some(doc) = document() else {
        return out;
    };
    let mut push = |v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.trim().is_empty()) {
            out.push(lower(&v));
        }
    };
    if let Ok(Some(meta)) = doc.query_selector("meta[name=\"sillage:topics\"]") {
        push(meta.get_attribute("content"));
    }
    for sel in ["body", "main"] {
        if let Ok(Some(el)) = doc.query_selector(sel) {
            push(el.get_attribute("data-sillage-topics"));
        }
    }
    out
}

/// `location.href` and `document.title` now (and the topic hints, for a
/// page view).
pub fn page_now(hints: bool) -> PageNow {
    PageNow {
        href: web_sys::window()
            .and_then(|w| w.location().href().ok())
            .unwrap_or_default(),
        title: document().map(|d| d.title()).unwrap_or_default(),
        hints: if hints { topic_hints() } else { Vec::new() },
    }
}

/// What is stored, for the core's first input.
pub fn open_facts() -> Open {
    Open {
        stored: entries(sillage_core::track::outbox::PREFIX),
        durable: durable(),
    }
}

/// Everything the core needs to start.
pub fn boot_facts(options: &JsValue) -> Boot {
    let w = web_sys::window();
    let doc = document();
    let loc = w.as_ref().map(|w| w.location());
    let num = |v: Option<Result<JsValue, JsValue>>, d: f64| {
        v.and_then(|r| r.ok()).and_then(|v| v.as_f64()).unwrap_or(d)
    };
    let inline = doc
        .as_ref()
        .and_then(|d| d.get_element_by_id("sillage-config"))
        .and_then(|el| el.text_content())
        .filter(|t| !t.trim().is_empty());
    let config = match inline {
        Some(text) => ConfigSource::Inline(match js_sys::JSON::parse(&text) {
            Ok(v) => super::convert::json(&v).ok_or_else(|| "not JSON data".to_string()),
            Err(e) => Err(error_text(&e)),
        }),
        None => {
            let cfg = field(options, "config");
            match (cfg.is_undefined(), field(options, "configUrl").as_string()) {
                (false, _) => match super::convert::json(&cfg) {
                    Some(v) => ConfigSource::Options(v),
                    None => {
                        ConfigSource::Inline(Err("boot options' config is not JSON data".into()))
                    }
                },
                (true, Some(url)) => ConfigSource::Url(url),
                _ => ConfigSource::None,
            }
        }
    };
    let visible = doc.as_ref().is_none_or(|d| visibility_is(d, "visible"));
    let locks = w
        .as_ref()
        .map(|w| field(&field(w.navigator().as_ref(), "locks"), "request"))
        .is_some_and(|f| f.is_function());
    Boot {
        page: PageContext {
            url: loc.as_ref().and_then(|l| l.href().ok()).unwrap_or_default(),
            path: loc
                .as_ref()
                .and_then(|l| l.pathname().ok())
                .unwrap_or_default(),
            search: loc
                .as_ref()
                .and_then(|l| l.search().ok())
                .unwrap_or_default(),
            referrer: doc.as_ref().map(|d| d.referrer()).unwrap_or_default(),
            title: doc.as_ref().map(|d| d.title()).unwrap_or_default(),
        },
        now: page_now(true),
        online: w.as_ref().is_none_or(|w| w.navigator().on_line()),
        viewport: (
            num(w.as_ref().map(|w| w.inner_width()), 1024.0),
            num(w.as_ref().map(|w| w.inner_height()), 768.0),
            w.as_ref()
                .and_then(|w| w.match_media("(pointer: coarse)").ok().flatten())
                .is_some_and(|m| m.matches()),
        ),
        visible,
        focused: doc.as_ref().is_none_or(|d| d.has_focus().unwrap_or(true)),
        config,
        web_locks: locks,
        signals: signals(),
        compression: w
            .as_ref()
            .is_some_and(|w| field(w.as_ref(), "CompressionStream").is_function()),
        messages: field(options, "messagesUrl").as_string(),
    }
}

/// Global Privacy Control and Do Not Track, as the browser says them.
fn signals() -> sillage_core::sdk::Signals {
    let Some(w) = web_sys::window() else {
        return Default::default();
    };
    let nav = w.navigator();
    let dnt = |v: JsValue| matches!(v.as_string().as_deref(), Some("1" | "yes"));
    sillage_core::sdk::Signals {
        gpc: field(nav.as_ref(), "globalPrivacyControl") == JsValue::TRUE,
        dnt: dnt(field(nav.as_ref(), "doNotTrack")) || dnt(field(w.as_ref(), "doNotTrack")),
    }
}

/// Whether the visitor's own action is behind the current task (a click or
/// a key press: `navigator.userActivation.isActive`).
pub fn user_activated() -> bool {
    web_sys::window()
        .map(|w| field(&field(w.navigator().as_ref(), "userActivation"), "isActive"))
        .is_some_and(|v| v.is_truthy())
}

// ----- timers -----

thread_local! {
    static TIMER_CB: Closure<dyn FnMut()> = Closure::new(super::on_timer);
    static LISTENING: Cell<bool> = const { Cell::new(false) };
    /// Resolves the promise that holds the Web Lock (releases it).
    static RELEASE: RefCell<Option<Function>> = const { RefCell::new(None) };
    /// Lock requests made and not granted yet, and how many of them were
    /// released before their grant (let go the moment they are granted).
    static WAITING: Cell<(u32, u32)> = const { Cell::new((0, 0)) };
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

/// Runs `f` after the current task.
pub fn soon(f: impl FnOnce() + 'static) {
    soon_boxed(Box::new(f));
}

/// [`soon`] with one closure type for every caller (see `net::then`).
fn soon_boxed(f: Box<dyn FnOnce()>) {
    if let Some(w) = web_sys::window() {
        let cb = Closure::once_into_js(f);
        let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(cb.unchecked_ref(), 0);
    }
}

/// Hands [`Input::TaskEnd`] to the core at the end of the current task
/// (`queueMicrotask`): the storage writes of the task land then.
pub fn at_task_end() {
    if let Some(w) = web_sys::window() {
        let f: Box<dyn FnOnce()> = Box::new(|| dispatch(Input::TaskEnd));
        w.queue_microtask(Closure::once_into_js(f).unchecked_ref());
    }
}

// ----- the sender lock -----

/// Asks for the Web Lock `sillage:sender`; once granted, this tab sends
/// (until the page hides and releases it).
pub fn elect() {
    let Some(w) = web_sys::window() else { return };
    let locks = field(w.navigator().as_ref(), "locks");
    let Ok(request) = field(&locks, "request").dyn_into::<Function>() else {
        return;
    };
    WAITING.with(|w| w.set((w.get().0 + 1, w.get().1)));
    let granted = Closure::once_into_js(move |_lock: JsValue| -> JsValue {
        let (waiting, dropped) = WAITING.with(|w| w.get());
        WAITING.with(|w| w.set((waiting.saturating_sub(1), dropped.saturating_sub(1))));
        if dropped > 0 {
            // Released while it waited: give it back at once.
            return JsValue::UNDEFINED;
        }
        let mut release = None;
        let held = Promise::new(&mut |resolve, _| release = Some(resolve));
        RELEASE.with(|r| *r.borrow_mut() = release);
        dispatch(Input::Sender(entries(sillage_core::track::outbox::PREFIX)));
        held.into()
    });
    let _ = request.call2(&locks, &"sillage:sender".into(), &granted);
}

/// Releases the Web Lock: the one held, or else the request still waiting
/// for it (a tab that steps down before its grant must not be granted the
/// lock afterwards, or its next request would queue behind itself).
pub fn release_lock() {
    if let Some(release) = RELEASE.with(|r| r.borrow_mut().take()) {
        let _ = release.call0(&JsValue::NULL);
        return;
    }
    WAITING.with(|w| {
        let (waiting, dropped) = w.get();
        if waiting > dropped {
            w.set((waiting, dropped + 1));
        }
    });
}

// ----- the page's events -----

/// Every page event the SDK hears goes through this one function (one
/// closure type: each costs its own glue).
fn on_event(e: JsValue) {
    let kind = field(&e, "type").as_string().unwrap_or_default();
    let input = match kind.as_str() {
        "visibilitychange" => {
            Input::Visibility(document().is_some_and(|d| visibility_is(&d, "hidden")))
        }
        "pagehide" => Input::PageHide,
        "pageshow" if field(&e, "persisted").is_truthy() => Input::Restored(page_now(true)),
        "pageshow" => return,
        "storage" => Input::StorageChanged {
            key: field(&e, "key").as_string(),
            value: field(&e, "newValue").as_string(),
        },
        "online" => Input::Online(true),
        "offline" => Input::Online(false),
        "click" => Input::Click(click(&e)),
        "scroll" => {
            let Some(w) = web_sys::window() else { return };
            let height = document()
                .and_then(|d| d.document_element())
                .map_or(0.0, |d| f64::from(d.scroll_height()));
            let seen = w.scroll_y().unwrap_or(0.0)
                + w.inner_height()
                    .ok()
                    .and_then(|v| v.as_f64())
                    .unwrap_or(0.0);
            Input::Scroll(seen, height)
        }
        "popstate" | "hashchange" => {
            navigated();
            return;
        }
        "focus" | "blur" => Input::Focus(kind == "focus"),
        _ => Input::UserActive,
    };
    dispatch(input);
}

/// The URL may have changed: the slots now (for the next frame), the page
/// view after this task (frameworks set the title meanwhile).
fn navigated() {
    dispatch(Input::Navigated(page_now(false)));
    soon(|| dispatch(Input::PageSettled(page_now(true))));
}

/// What is around a click's target.
fn click(e: &JsValue) -> Click {
    let num = |k: &str| field(e, k).as_f64().unwrap_or(0.0);
    let mut c = Click {
        x: num("clientX"),
        y: num("clientY"),
        host: web_sys::window()
            .and_then(|w| w.location().hostname().ok())
            .unwrap_or_default(),
        ..Click::default()
    };
    let Ok(el) = field(e, "target").dyn_into::<web_sys::Element>() else {
        return c;
    };
    c.tag = el.tag_name().to_ascii_lowercase();
    if let Ok(Some(t)) = el.closest("[data-sillage-track]") {
        let name = t.get_attribute("data-sillage-track").unwrap_or_default();
        let props = t.get_attribute("data-sillage-props").map(|text| {
            js_sys::JSON::parse(&text)
                .ok()
                .and_then(|v| super::convert::json(&v))
                .ok_or(())
        });
        c.tracked = Some((name, props));
    }
    if let Ok(Some(a)) = el.closest("a[href]") {
        c.link = field(&a, "href").as_string();
    }
    c.actionable = el.closest("a[href], button").ok().flatten().is_some();
    c.slot = super::p13n::slot_of(&el);
    c
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
    wrap_history(&w);
    let cb = Closure::<dyn FnMut(JsValue)>::new(on_event);
    let f: &Function = cb.as_ref().unchecked_ref();
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

/// Wraps `history.pushState` and `replaceState` so SPA navigations are
/// seen: the original first (with the page's own `this` and arguments),
/// then the SDK.
fn wrap_history(w: &web_sys::Window) {
    let Ok(history) = w.history() else {
        return;
    };
    for name in ["pushState", "replaceState"] {
        let Ok(original) = field(&history, name).dyn_into::<Function>() else {
            continue;
        };
        let h = history.clone();
        let wrapper = Closure::<dyn FnMut(JsValue, JsValue, JsValue) -> JsValue>::new(
            move |state: JsValue, title: JsValue, url: JsValue| {
                let result = original.apply(&h, &js_sys::Array::of3(&state, &title, &url));
                navigated();
                // Errors of the page's own call are the page's: handed back.
                match result {
                    Ok(v) => v,
                    Err(e) => wasm_bindgen::throw_val(e),
                }
            },
        );
        let _ = Reflect::set(&history, &JsValue::from_str(name), wrapper.as_ref());
        wrapper.forget();
    }
}

// ----- JavaScript's built-ins for the core -----

// ----- slots, before (or without) the personalization module -----

const SLOT: &str = "[data-sillage-slot]";

thread_local! {
    /// Watches for a first slot while the page has none.
    static WATCH: RefCell<Option<web_sys::MutationObserver>> = const { RefCell::new(None) };
}

/// Removes the head snippet's style: the slots show as they are.
pub fn lift_hiding() {
    if let Some(style) = document().and_then(|d| d.get_element_by_id("sillage-hide")) {
        style.remove();
    }
}

/// No personalization on this page: every slot shows as it is.
pub fn reveal_all() {
    if let Some(list) = document().and_then(|d| d.query_selector_all(SLOT).ok()) {
        for i in 0..list.length() {
            if let Some(el) = list
                .item(i)
                .and_then(|n| n.dyn_into::<web_sys::Element>().ok())
            {
                let _ = el.set_attribute("data-sillage-ready", "");
            }
        }
    }
    lift_hiding();
}

fn has_slot() -> bool {
    document()
        .and_then(|d| d.query_selector(SLOT).ok().flatten())
        .is_some()
}

/// `Effect::CheckSlots`: whether the page has a slot; if not, watches for
/// the first one (a single-page app adding it later).
pub fn check_slots() {
    if has_slot() {
        dispatch(Input::SlotsPresent(true));
        return;
    }
    dispatch(Input::SlotsPresent(false));
    let Some(root) = document().and_then(|d| d.document_element()) else {
        return;
    };
    let cb = Closure::<dyn FnMut()>::new(|| {
        if has_slot() {
            stop_watching();
            dispatch(Input::SlotsPresent(true));
        }
    });
    let Ok(obs) = web_sys::MutationObserver::new(cb.as_ref().unchecked_ref()) else {
        return;
    };
    cb.forget();
    let init = web_sys::MutationObserverInit::new();
    init.set_child_list(true);
    init.set_subtree(true);
    let _ = obs.observe_with_options(&root, &init);
    WATCH.with(|w| *w.borrow_mut() = Some(obs));
}

/// Stops watching for a first slot.
pub fn stop_watching() {
    if let Some(o) = WATCH.with(|w| w.borrow_mut().take()) {
        o.disconnect();
    }
}

/// Whether `document.visibilityState` is `state`, read as the string it is:
/// web-sys's enum conversion carries a panic path and its message into the
/// wasm.
fn visibility_is(d: &web_sys::Document, state: &str) -> bool {
    field(d.as_ref(), "visibilityState") == state
}
