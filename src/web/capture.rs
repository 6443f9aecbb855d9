//! Automatic capture: page views (load, SPA navigation, back-forward cache),
//! engagement (`Page Engaged`), and clicks (tracked elements, outbound links,
//! downloads, rage clicks).
//!
//! The shell only reports facts with their time to the core's
//! `engage` state machines and records what they decide. Listeners are
//! passive and page-lifetime; every handler is a few property reads.

use js_sys::{Function, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::{env, record_now, with};
use crate::core::engage::{classify_link, device_class, Engagement, LinkKind};
use crate::core::event::Call;
use crate::core::json::Json;
use crate::core::visit::Activity;

fn get(o: &JsValue, k: &str) -> JsValue {
    Reflect::get(o, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED)
}

fn num(o: &JsValue, k: &str) -> f64 {
    get(o, k).as_f64().unwrap_or(0.0)
}

fn visible() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .is_none_or(|d| d.visibility_state() == web_sys::VisibilityState::Visible)
}

fn focused() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .is_none_or(|d| d.has_focus().unwrap_or(true))
}

/// A fresh engagement tracker for the page view starting now.
pub fn new_engagement() -> Engagement {
    Engagement::new(env::now(), visible(), focused())
}

/// The coarse device class for `context.sillage.device`.
pub fn device() -> &'static str {
    let Some(w) = web_sys::window() else {
        return "desktop";
    };
    let width = w
        .inner_width()
        .ok()
        .and_then(|v| v.as_f64())
        .unwrap_or(1024.0);
    let height = w
        .inner_height()
        .ok()
        .and_then(|v| v.as_f64())
        .unwrap_or(768.0);
    let coarse = w
        .match_media("(pointer: coarse)")
        .ok()
        .flatten()
        .is_some_and(|m| m.matches());
    device_class(width, height, coarse)
}

/// The page's own topic hints: `<meta name="sillage:topics">` and
/// `data-sillage-topics` on `<body>` and `<main>`, lower-cased by the browser
/// (its `toLowerCase` knows every script; the core then trims and caps).
pub fn topic_hints() -> Vec<String> {
    let mut out = Vec::new();
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else {
        return out;
    };
    let mut push = |v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.trim().is_empty()) {
            out.push(env::lower(&v));
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

/// Records a page view of the current URL if the gate admits it (and
/// automatic page views are on), first closing the previous page's
/// engagement.
pub fn on_navigation() {
    // Before the config is applied, the landing's page view is not recorded
    // yet: this navigation's comes right after it.
    let ready = with(|s| {
        let ready = s.phase == super::Phase::Ready;
        s.nav_pending |= !ready;
        ready
    });
    if ready == Some(true) {
        navigate(env::page_context());
    }
}

/// Records a page view of `page` if the gate admits it (see
/// [`on_navigation`]).
pub fn navigate(page: crate::core::event::PageContext) {
    let admitted = with(|s| {
        if !s.capture.pageviews {
            return None;
        }
        s.gate
            .admit(&page.url)
            .then_some(!s.engaged_page.0.is_empty())
    })
    .flatten();
    if let Some(had_previous) = admitted {
        if had_previous {
            emit_engagement();
        }
        with(|s| {
            s.engaged_page = (page.url.clone(), page.path.clone());
            s.engagement = new_engagement();
            s.next_page = Some(page);
        });
        record_now(
            Call::Page {
                properties: Json::Null,
            },
            Activity::PageView,
        );
    }
}

/// Records `Page Engaged` for the page being left or hidden, if anything
/// was engaged, and starts counting afresh.
pub fn emit_engagement() {
    let now = env::now();
    let summary = with(|s| {
        if !s.capture.engagement || s.engaged_page.0.is_empty() {
            return None;
        }
        let sum = s.engagement.summary(now);
        s.engagement = Engagement::new(now, visible(), focused());
        sum.map(|e| (e, s.engaged_page.clone()))
    })
    .flatten();
    if let Some((e, (url, path))) = summary {
        record_now(
            Call::Track {
                event: "Page Engaged".into(),
                properties: Json::obj()
                    .with("active_time_ms", e.active_ms)
                    .with("scroll_depth_pct", e.max_scroll_pct)
                    .with("page_url", url)
                    .with("page_path", path),
            },
            Activity::Other,
        );
    }
}

/// Scroll: the deepest point seen.
pub fn on_scroll() {
    let Some(w) = web_sys::window() else {
        return;
    };
    let doc = w.document().and_then(|d| d.document_element());
    let height = doc.as_ref().map_or(0.0, |d| f64::from(d.scroll_height()));
    let seen = w.scroll_y().unwrap_or(0.0)
        + w.inner_height()
            .ok()
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0);
    let now = env::now();
    with(|s| s.engagement.on_scroll(now, seen, height));
}

/// The tracked element or link a click landed in, and what to record.
pub fn on_click(e: JsValue) {
    let now = env::now();
    let (x, y) = (num(&e, "clientX"), num(&e, "clientY"));
    let target = get(&e, "target");
    let Ok(el) = target.dyn_into::<web_sys::Element>() else {
        return;
    };
    let enabled = with(|s| {
        s.engagement.on_input(now);
        s.capture.clicks
    });
    if enabled != Some(true) {
        return;
    }
    if let Some(n) = with(|s| s.rage.on_click(now, x, y)).flatten() {
        record_now(
            Call::Track {
                event: "Rage Click".into(),
                properties: Json::obj()
                    .with("clicks", n as f64)
                    .with("element", el.tag_name().to_ascii_lowercase())
                    .with("x", x.round())
                    .with("y", y.round()),
            },
            Activity::Other,
        );
    }
    // Inside a personalized slot, every click recorded carries the slot, the
    // variant and the rule, so conversions can be attributed.
    let attribution = super::p13n::attribution(&el);
    let attributed = |mut props: Json| {
        if let Some(Json::Obj(extra)) = &attribution {
            if matches!(props, Json::Null) {
                props = Json::obj();
            }
            for (k, v) in extra {
                props.set(k, v.clone());
            }
        }
        props
    };
    let mut recorded = false;
    if let Ok(Some(tracked)) = el.closest("[data-sillage-track]") {
        let name = tracked
            .get_attribute("data-sillage-track")
            .unwrap_or_default();
        let props = match tracked.get_attribute("data-sillage-props") {
            None => Json::Null,
            Some(text) => match js_sys::JSON::parse(&text)
                .ok()
                .and_then(|v| super::convert::from_js(&v))
            {
                Some(p @ Json::Obj(_)) => p,
                _ => {
                    let mut m = String::from("data-sillage-props on [data-sillage-track=\"");
                    m.push_str(&name);
                    m.push_str("\"] is not a JSON object; recording the click without it");
                    env::warn(&m);
                    Json::Null
                }
            },
        };
        record_now(
            Call::Track {
                event: name.into(),
                properties: attributed(props),
            },
            Activity::Other,
        );
        recorded = true;
    }
    if let Ok(Some(a)) = el.closest("a[href]") {
        let href = get(&a, "href").as_string().unwrap_or_default();
        let host = web_sys::window()
            .and_then(|w| w.location().hostname().ok())
            .unwrap_or_default();
        let internal = with(|s| s.tracker.visit.config().channels.internal_domains.clone())
            .unwrap_or_default();
        match classify_link(&href, &host, &internal) {
            LinkKind::Outbound(to) => {
                record_now(
                    Call::Track {
                        event: "Outbound Link Clicked".into(),
                        properties: attributed(Json::obj().with("url", href).with("host", to)),
                    },
                    Activity::Other,
                );
                recorded = true;
            }
            LinkKind::Download(ext) => {
                record_now(
                    Call::Track {
                        event: "File Downloaded".into(),
                        properties: attributed(
                            Json::obj().with("url", href).with("extension", ext),
                        ),
                    },
                    Activity::Other,
                );
                recorded = true;
            }
            LinkKind::Internal => {}
        }
    }
    // Any other link or button click in a personalized slot is measured too.
    if !recorded && attribution.is_some() {
        if let Ok(Some(target)) = el.closest("a[href], button") {
            let mut props = attributed(Json::obj());
            if let Some(href) = get(&target, "href").as_string() {
                props.set("url", href.into());
            }
            record_now(
                Call::Track {
                    event: "Personalization Clicked".into(),
                    properties: props,
                },
                Activity::Other,
            );
        }
    }
}

/// Wraps `history.pushState` and `replaceState` so SPA navigations are seen.
/// The wrapper calls the original first (with the page's own `this` and
/// arguments), then looks at the URL after the current task, when frameworks
/// have usually set the new title.
pub fn wrap_history(w: &web_sys::Window) {
    let Ok(history) = w.history() else {
        return;
    };
    for name in ["pushState", "replaceState"] {
        let Ok(original) = get(&history, name).dyn_into::<Function>() else {
            continue;
        };
        let h = history.clone();
        let wrapper = Closure::<dyn FnMut(JsValue, JsValue, JsValue) -> JsValue>::new(
            move |state: JsValue, title: JsValue, url: JsValue| {
                let args = js_sys::Array::of3(&state, &title, &url);
                let result = original.apply(&h, &args);
                // The slots now (for the next frame), the page view after
                // this task (frameworks set the title meanwhile).
                super::p13n::on_navigation();
                soon(on_navigation);
                // Errors of the page's own call (a cross-origin URL, say) are
                // the page's: hand them back unchanged.
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

/// Runs `f` after the current task.
pub fn soon(f: fn()) {
    if let Some(w) = web_sys::window() {
        let cb = Closure::once_into_js(f);
        let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(cb.unchecked_ref(), 0);
    }
}

/// A back-forward cache restore is a new page view of the same URL.
pub fn on_restore() {
    with(|s| {
        s.gate.reset();
        s.engagement = new_engagement();
    });
    on_navigation();
    super::p13n::on_restore();
}

/// Window focus or blur.
pub fn on_focus(focused: bool) {
    let now = env::now();
    with(|s| s.engagement.on_focus(now, focused));
}

/// Any input (pointer, key, wheel, touch).
pub fn on_input() {
    let now = env::now();
    with(|s| s.engagement.on_input(now));
}

/// Visibility changed: engagement first (so `Page Engaged` leaves with the
/// beacon when the page is hidden).
pub fn on_visibility(hidden: bool) {
    let now = env::now();
    if hidden {
        with(|s| s.engagement.on_visibility(now, false));
        emit_engagement();
    } else {
        with(|s| s.engagement.on_visibility(now, true));
    }
}
