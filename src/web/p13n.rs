//! Personalization in the page: finds the slots, asks the core what each
//! shows, applies it to the DOM, reveals the slot and measures it.
//!
//! Markup contract: a slot is `<section data-sillage-slot="hero">default
//! content</section>`; a variant is `<template
//! data-sillage-variant="hero/returning-runner">` (the site's own HTML, the
//! CSP-safe way); `recommend` fills a slot through its `<template
//! data-sillage-item>`, whose `[data-sillage-field]` elements receive `title`,
//! `price`, `url` and `image`.
//!
//! No flicker: the optional head snippet hides only unrevealed slots
//! (`[data-sillage-slot]:not([data-sillage-ready])`, `visibility: hidden`, so
//! nothing moves) until this module marks each slot ready, or until its
//! timeout. Slots present when the SDK starts are decided at once, in the
//! same task (in a microtask, after the calls the page queued before the
//! SDK loaded, so a consent given then counts); slots added later are found
//! by one `MutationObserver` that looks at added nodes matching the slot
//! selector, and are decided in the next animation frame, before it paints.
//! After an SPA navigation every slot is decided again in the next frame. If the snippet's timeout
//! passed first, the slots already showing keep their default for this page
//! view (a late swap is the flicker this avoids).
//!
//! Frameworks re-render: the observer also sees the page replace the
//! children of an applied slot (a virtual DOM resetting what it owns, while
//! the slot element stays), and that slot is decided again in the next
//! frame; what the page put there becomes the slot's default content.
//!
//! Loop guard: an applied slot carries `data-sillage-applied="<rule id>"` and
//! is not applied again for the same decision while it shows it. Applying
//! the same decision to an element again is allowed 3 times a second; past
//! that the element is left alone (one warning) and applied once more when
//! its page has been quiet for a second. A new decision (an SPA route with
//! another rule) starts the count afresh. Our own DOM changes are taken out
//! of the observer's queue, so they never trigger a round.
//!
//! Nothing here decides anything: `core::rules::decide`, `core::p13n` and
//! `core::html` do; this module moves data between them and the DOM.

use std::cell::RefCell;

use js_sys::{Array, Function, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Document, Element};

use super::{env, html, record_now, with, Shell};
use crate::core::attributes::{self, Inputs, LocalTime, SessionInfo};
use crate::core::event::Call;
use crate::core::json::Json;
use crate::core::p13n::{self, Exposures, EXPOSURES_KEY};
use crate::core::rules::CatalogItem;
use crate::core::rules::{decide, Ctx, Op, Preview, Replacement, RuleSet, Shown};
use crate::core::touchpoint::Session;
use crate::core::tracker::JsonEncoder;
use crate::core::visit::Activity;

/// The slot selector.
const SLOT: &str = "[data-sillage-slot]";
/// Set on a slot once it shows its final content (the head snippet keeps
/// unrevealed slots hidden).
const READY: &str = "data-sillage-ready";
/// Set on a slot showing a rule's content: the rule id.
const APPLIED: &str = "data-sillage-applied";
/// Set on a slot showing a rule's content: the variant (or `actions`).
const SHOWN: &str = "data-sillage-shown";
/// Set on `<html>` by the head snippet when its timeout revealed the slots.
const TIMED_OUT: &str = "data-sillage-timeout";
/// Applications of one element allowed within [`RATE_WINDOW_MS`].
const RATE_LIMIT: usize = 3;
/// See [`RATE_LIMIT`].
const RATE_WINDOW_MS: f64 = 1_000.0;
/// Expando holding a slot's default content (a `DocumentFragment`).
const DEFAULT_PROP: &str = "__sillageDefault";
/// Expando holding the times a slot was applied.
const TIMES_PROP: &str = "__sillageTimes";
/// Expando holding the signature of what a slot shows.
const SIG_PROP: &str = "__sillageSig";
/// Expando holding the signature the loop guard's times count.
const LAST_PROP: &str = "__sillageLast";
/// Expando holding the child nodes an application left in a slot (an
/// array), to notice when the page throws them away.
const OWN_PROP: &str = "__sillageOwn";
/// Expando holding when the loop guard last held a slot back (see [`QUIET`]).
const QUIET_PROP: &str = "__sillageQuiet";
/// The selector of slots showing a rule's content.
const APPLIED_SLOT: &str = "[data-sillage-applied]";
/// Marks the nodes `recommend` generated.
const GENERATED: &str = "data-sillage-generated";

/// The personalization settings and state of the page (in the shell).
#[derive(Default)]
pub struct P13n {
    /// Rules, audiences and the catalog from the config.
    pub rules: RuleSet,
    /// `catalog`.
    pub catalog: Vec<CatalogItem>,
    /// Previews (`?sillage_*`, when the config allows `debug`).
    pub preview: Preview,
    /// `sillage.attributes({...})`.
    pub custom: Json,
    /// Consent choices (`sillage.consent`).
    pub consent: Json,
    /// `Personalization Viewed` already recorded in this page view (slot,
    /// rule id).
    viewed: Vec<(String, String)>,
    /// The URL of the page view `viewed` belongs to.
    viewed_url: String,
    /// The first decision round ran.
    pub started: bool,
    /// The loop guard warned.
    warned: bool,
    /// Problems already reported on this page.
    reported: Vec<String>,
}

impl P13n {
    /// Whether the visitor denied personalization.
    pub fn denied(&self) -> bool {
        matches!(self.consent.get("personalization"), Some(Json::Bool(false)))
    }
}

thread_local! {
    /// The observer of added slots, and the elements waiting for a frame.
    static WATCH: RefCell<Option<web_sys::MutationObserver>> = const { RefCell::new(None) };
    static PENDING: RefCell<Vec<Element>> = const { RefCell::new(Vec::new()) };
    static FRAME: RefCell<Option<i32>> = const { RefCell::new(None) };
    /// Slots the loop guard held back, waiting for their page to be quiet.
    static QUIET: RefCell<Vec<Element>> = const { RefCell::new(Vec::new()) };
    static QUIET_TIMER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Decision rounds run on this page (test support).
    static ROUNDS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Test support: how many decision rounds ran on this page, so a test can
/// assert that a re-decision really happened within a frame.
#[doc(hidden)]
pub fn debug_rounds() -> u32 {
    ROUNDS.with(std::cell::Cell::get)
}

fn document() -> Option<Document> {
    web_sys::window()?.document()
}

fn all_slots(doc: &Document) -> Vec<Element> {
    let mut out = Vec::new();
    if let Ok(list) = doc.query_selector_all(SLOT) {
        for i in 0..list.length() {
            if let Some(el) = list.item(i).and_then(|n| n.dyn_into::<Element>().ok()) {
                out.push(el);
            }
        }
    }
    out
}

fn reveal(el: &Element) {
    let _ = el.set_attribute(READY, "");
}

/// Removes the head snippet's style: every slot present is decided, and
/// later ones are decided before the frame that would show them.
fn lift_hiding(doc: &Document) {
    if let Some(style) = doc.get_element_by_id("sillage-hide") {
        style.remove();
    }
}

/// Starts personalization once the config is applied and the first page
/// view recorded: the slots present now are decided in this task, in a
/// microtask. The loader replays the calls the page queued before the SDK
/// loaded (`consent`, `attributes`, `interest`, `track`) right after `boot`,
/// in the same task, so they count for the first decision: a visitor who
/// declined personalization never gets a personalized slot or an exposure,
/// even for a moment.
pub fn start() {
    let run = Closure::once_into_js(start_now as fn());
    js_sys::Promise::resolve(&JsValue::UNDEFINED)
        .unchecked_ref::<super::net::Thenable>()
        .then_js(&run, &JsValue::UNDEFINED);
}

fn start_now() {
    let Some(doc) = document() else { return };
    let active = with(|s| {
        s.p13n.started = true;
        s.p13n.viewed_url = view_key(s.capture.hash_routing);
        !s.p13n.rules.rules.is_empty() || !s.p13n.preview.force.is_empty()
    })
    .unwrap_or(false);
    let slots = all_slots(&doc);
    if !active {
        slots.iter().for_each(reveal);
        lift_hiding(&doc);
        return;
    }
    let timed_out = doc
        .document_element()
        .is_some_and(|h| h.has_attribute(TIMED_OUT));
    if timed_out {
        // The defaults are showing: no late swap on this page view.
        slots.iter().for_each(reveal);
    } else {
        round(slots, false);
    }
    lift_hiding(&doc);
    mark_decided();
    observe(&doc);
}

fn mark_decided() {
    if let Some(perf) = web_sys::window().and_then(|w| w.performance()) {
        let _ = perf.mark("sillage:decided");
    }
}

/// The page view exposures belong to, keyed as page views are.
fn view_key(hash_routing: bool) -> String {
    let url = web_sys::window()
        .and_then(|w| w.location().href().ok())
        .unwrap_or_default();
    crate::core::engage::page_key(&url, hash_routing).to_string()
}

/// The URL may have changed (`pushState`, `replaceState`, `popstate`,
/// `hashchange`): every slot is decided again in the next frame. Called
/// synchronously by the history wrapper and the listeners, not after the
/// page view (which waits a task for the title), so the frame that follows
/// the navigation already shows the new route's content. Exposures count
/// afresh for each URL (a change of the fragment alone counts only with hash
/// routing, as for page views), whether or not a page view is recorded.
pub fn on_navigation() {
    let started = with(|s| {
        let url = view_key(s.capture.hash_routing);
        if s.p13n.viewed_url != url {
            s.p13n.viewed.clear();
            s.p13n.viewed_url = url;
        }
        s.p13n.started
    })
    .unwrap_or(false);
    if started {
        refresh();
    }
}

/// A page restored from the back-forward cache is a new page view of the
/// same URL: its exposures count again.
pub fn on_restore() {
    with(|s| s.p13n.viewed_url.clear());
    on_navigation();
}

/// Something the decisions depend on changed (the URL, consent, custom
/// attributes): decide every slot again in the next frame.
pub fn refresh() {
    let started = with(|s| s.p13n.started).unwrap_or(false);
    if let Some(doc) = document().filter(|_| started) {
        schedule(all_slots(&doc));
    }
}

fn observe(doc: &Document) {
    let cb = Closure::<dyn FnMut(Array)>::new(|records: Array| {
        let mut found = Vec::new();
        for r in records.iter() {
            // The page threw away what a rule put in a slot (a framework
            // re-rendering the children it owns): decide it again.
            if let Some(slot) = Reflect::get(&r, &"target".into())
                .ok()
                .and_then(|t| t.dyn_into::<Element>().ok())
                .and_then(|t| t.closest(APPLIED_SLOT).ok().flatten())
            {
                if content_lost(&slot) {
                    found.push(slot);
                }
            }
            let Ok(added) = Reflect::get(&r, &"addedNodes".into()) else {
                continue;
            };
            let added: web_sys::NodeList = added.unchecked_into();
            for i in 0..added.length() {
                let Some(el) = added.item(i).and_then(|n| n.dyn_into::<Element>().ok()) else {
                    continue;
                };
                if el.matches(SLOT).unwrap_or(false) {
                    found.push(el.clone());
                }
                if let Ok(inner) = el.query_selector_all(SLOT) {
                    for j in 0..inner.length() {
                        if let Some(e) = inner.item(j).and_then(|n| n.dyn_into::<Element>().ok()) {
                            found.push(e);
                        }
                    }
                }
            }
        }
        if !found.is_empty() {
            schedule(found);
        }
    });
    let Ok(obs) = web_sys::MutationObserver::new(cb.as_ref().unchecked_ref()) else {
        return;
    };
    let init = web_sys::MutationObserverInit::new();
    init.set_child_list(true);
    init.set_subtree(true);
    if let Some(root) = doc.document_element() {
        let _ = obs.observe_with_options(&root, &init);
    }
    cb.forget();
    WATCH.with(|w| *w.borrow_mut() = Some(obs));
}

/// Drops the observer's records of our own DOM changes.
fn forget_own_mutations() {
    WATCH.with(|w| {
        if let Some(o) = w.borrow().as_ref() {
            let _ = o.take_records();
        }
    });
}

/// Queues elements for the next animation frame.
fn schedule(elements: Vec<Element>) {
    PENDING.with(|p| {
        let mut p = p.borrow_mut();
        for e in elements {
            if !p.iter().any(|x| x == &e) {
                p.push(e);
            }
        }
    });
    let queued = FRAME.with(|f| f.borrow().is_some());
    if queued {
        return;
    }
    let Some(w) = web_sys::window() else { return };
    let cb = Closure::once_into_js(on_frame as fn());
    if let Ok(id) = w.request_animation_frame(cb.unchecked_ref()) {
        FRAME.with(|f| *f.borrow_mut() = Some(id));
    }
}

/// The animation frame after [`schedule`]: decides what is pending.
fn on_frame() {
    FRAME.with(|f| *f.borrow_mut() = None);
    let elements = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
    let elements: Vec<Element> = elements.into_iter().filter(|e| e.is_connected()).collect();
    if !elements.is_empty() {
        round(elements, true);
    }
}

/// What to put in one slot, owned, so it is applied with no borrow of the
/// shell held (DOM changes may run page code).
struct Plan {
    el: Element,
    slot: String,
    rule: Option<String>,
    label: String,
    /// What the content depends on beyond the rule (the order `reorder`
    /// chose, the items `recommend` picked): same signature, same content.
    signature: String,
    render: Render,
    exposure: Option<(&'static str, Json)>,
    experiment: Option<String>,
}

enum Render {
    Default,
    Variant(String),
    Actions(Vec<(Option<String>, Step)>),
}

enum Step {
    Op(Op),
    Reorder(Vec<(String, f64)>),
    Recommend(Vec<CatalogItem>),
}

/// Local time from the browser's `Date`.
fn local_time() -> (u8, u8, String) {
    let d = js_sys::Date::new_0();
    let mut date = String::with_capacity(10);
    crate::core::diag::push_u64(&mut date, u64::from(d.get_full_year()));
    for n in [d.get_month() + 1, d.get_date()] {
        date.push('-');
        if n < 10 {
            date.push('0');
        }
        crate::core::diag::push_u64(&mut date, u64::from(n));
    }
    (d.get_hours() as u8, d.get_day() as u8, date)
}

/// Decides `elements` and applies the decisions. `again`: a later round
/// (SPA navigation, added slots), where an element showing the same rule is
/// left alone.
fn round(elements: Vec<Element>, again: bool) {
    ROUNDS.with(|r| r.set(r.get() + 1));
    let now = env::now();
    let (hour, weekday, date) = local_time();
    let page = env::page_context();
    let plans =
        with(|s| plan(s, &elements, now, &page, (hour, weekday, &date))).unwrap_or_default();
    let mut debug_rows = Vec::new();
    for p in plans {
        if let Some(row) = p.1 {
            debug_rows.push(row);
        }
        apply(p.0, again, now);
    }
    forget_own_mutations();
    if !debug_rows.is_empty() {
        debug_table(&debug_rows);
    }
}

/// Builds the attributes, decides, and turns each element's decision into an
/// owned plan (plus, with `?sillage_debug`, a console row).
fn plan(
    s: &mut Shell,
    elements: &[Element],
    now: f64,
    page: &crate::core::event::PageContext,
    (hour, weekday, date): (u8, u8, &str),
) -> Vec<(Plan, Option<Json>)> {
    let snapshot = match s.profile.as_mut() {
        Some(p) => {
            p.handle_timeout(now);
            p.snapshot(now)
        }
        None => Json::obj(),
    };
    let session = s.session.as_deref().and_then(Session::decode);
    let landing = s.tracker.visit.landing();
    let inputs = Inputs {
        profile: &snapshot,
        session: session.as_ref().map(|ss| SessionInfo {
            index: ss.index,
            pageviews: ss.pageviews,
            started: ss.started,
            channel: landing.map(|t| t.channel),
            campaign: landing.map(|t| &t.campaign),
        }),
        page_url: &page.url,
        referrer: &page.referrer,
        device: s.device,
        time: Some(LocalTime {
            hour,
            weekday,
            date,
        }),
        consent: &s.p13n.consent,
        custom: &s.p13n.custom,
        stage: s.p13n.preview.stage.as_deref(),
        now,
    };
    let mut diags = Vec::new();
    let attrs = attributes::build(
        &inputs,
        &s.p13n.rules.audiences,
        &env::BrowserJs,
        &mut diags,
    );
    for d in diags {
        env::warn_diag(&d);
    }
    let anonymous_id = s.tracker.identity().anonymous_id.clone();
    let empty = crate::core::rules::Assignments::new();
    let assignments = s.profile.as_ref().map_or(&empty, |p| &p.assignments);
    let ctx = Ctx {
        anonymous_id: &anonymous_id,
        assignments,
        preview: &s.p13n.preview,
        host: &env::BrowserJs,
        now,
    };
    let decision = decide(&attrs, &s.p13n.rules, &ctx);
    let interests = p13n::interests(&snapshot);
    let denied = s.p13n.denied();
    let mut plans = Vec::with_capacity(elements.len());
    for el in elements {
        let slot = el.get_attribute("data-sillage-slot").unwrap_or_default();
        let sd = decision.slot(&slot).filter(|_| !denied);
        let Some(sd) = sd else {
            plans.push((
                Plan {
                    el: el.clone(),
                    slot,
                    rule: None,
                    label: String::new(),
                    signature: String::new(),
                    render: Render::Default,
                    exposure: None,
                    experiment: None,
                },
                None,
            ));
            continue;
        };
        let render = match sd.shown {
            Shown::Default => Render::Default,
            Shown::Variant(v) => Render::Variant(v.to_string()),
            Shown::Actions(actions) => Render::Actions(
                actions
                    .iter()
                    .map(|a| {
                        let step = match &a.op {
                            Op::Reorder => Step::Reorder(interests.clone()),
                            Op::Recommend { strategy, limit } => Step::Recommend(
                                p13n::recommend(
                                    &s.p13n.catalog,
                                    *strategy,
                                    *limit as usize,
                                    &snapshot,
                                )
                                .into_iter()
                                .cloned()
                                .collect(),
                            ),
                            other => Step::Op(other.clone()),
                        };
                        (a.selector.clone(), step)
                    })
                    .collect(),
            ),
        };
        let row = s.p13n.preview.debug.then(|| {
            let mut why = String::new();
            for r in &sd.why {
                if !why.is_empty() {
                    why.push_str("; ");
                }
                why.push_str(&r.rule.id);
                why.push_str(": ");
                match r.verdict {
                    crate::core::rules::Verdict::Matched => why.push_str("matched"),
                    crate::core::rules::Verdict::Failed(k) => {
                        why.push_str("failed ");
                        why.push_str(k);
                    }
                    crate::core::rules::Verdict::Invalid => why.push_str("invalid"),
                    crate::core::rules::Verdict::NotInExperiment => {
                        why.push_str("not in experiment")
                    }
                }
            }
            Json::obj()
                .with("slot", sd.slot)
                .with("rule", sd.rule.map(|r| r.id.clone()))
                .with("shows", p13n::shown_label(sd))
                .with(
                    "experiment",
                    sd.experiment.map(|e| {
                        let mut t = e.key.to_string();
                        t.push('/');
                        t.push_str(e.variation_id);
                        if e.in_holdout {
                            t.push_str(" (holdout)");
                        }
                        t
                    }),
                )
                .with("forced", sd.forced)
                .with("why", why)
        });
        let mut signature = String::from(p13n::shown_label(sd));
        if let Render::Actions(steps) = &render {
            for (_, step) in steps {
                match step {
                    Step::Reorder(interests) => {
                        for (t, v) in interests {
                            signature.push('|');
                            signature.push_str(t);
                            signature.push('=');
                            crate::core::diag::push_u64(&mut signature, (v * 100.0) as u64);
                        }
                    }
                    Step::Recommend(items) => {
                        for i in items {
                            signature.push('|');
                            signature.push_str(&i.id);
                        }
                    }
                    Step::Op(_) => {}
                }
            }
        }
        plans.push((
            Plan {
                el: el.clone(),
                slot: slot.clone(),
                rule: sd.rule.map(|r| r.id.clone()),
                label: p13n::shown_label(sd).to_string(),
                signature,
                render,
                exposure: p13n::exposure(sd),
                experiment: sd.experiment.map(|e| e.key.to_string()),
            },
            row,
        ));
    }
    let assigned = decision.assigned;
    if !assigned.is_empty() {
        if let Some(p) = s.profile.as_mut() {
            for a in assigned {
                p.assignments.insert(a);
            }
            s.profile_dirty.get_or_insert(now);
        }
    }
    plans
}

fn debug_table(rows: &[Json]) {
    let data = super::profile::to_js(&Json::Arr(rows.to_vec()));
    let console = Reflect::get(&js_sys::global(), &"console".into()).unwrap_or(JsValue::UNDEFINED);
    if let Ok(table) =
        Reflect::get(&console, &"table".into()).and_then(|t| t.dyn_into::<Function>())
    {
        let _ = table.call1(&console, &data);
    }
}

/// Whether applying `signature` to `el` now would pass the loop guard's
/// limit; if not, counts this application. Only re-applications of the same
/// decision count (a framework undoing it): a new decision (an SPA route
/// with another rule) starts the count afresh. The times are an expando
/// array, the decision they count another expando.
fn too_often(el: &Element, signature: &str, now: f64) -> bool {
    let same = Reflect::get(el, &LAST_PROP.into())
        .ok()
        .and_then(|v| v.as_string())
        .is_some_and(|last| last == signature);
    let times = Reflect::get(el, &TIMES_PROP.into())
        .ok()
        .and_then(|v| v.dyn_into::<Array>().ok())
        .filter(|_| same)
        .unwrap_or_default();
    let recent: Vec<f64> = times
        .iter()
        .filter_map(|t| t.as_f64())
        .filter(|t| now - t < RATE_WINDOW_MS)
        .collect();
    if recent.len() >= RATE_LIMIT {
        return true;
    }
    let fresh = Array::new();
    for t in recent {
        fresh.push(&t.into());
    }
    fresh.push(&now.into());
    let _ = Reflect::set(el, &TIMES_PROP.into(), &fresh);
    let _ = Reflect::set(el, &LAST_PROP.into(), &signature.into());
    false
}

/// The slot's default content, saved before its first change.
fn saved_default(el: &Element) -> Option<web_sys::DocumentFragment> {
    Reflect::get(el, &DEFAULT_PROP.into())
        .ok()
        .and_then(|v| v.dyn_into::<web_sys::DocumentFragment>().ok())
}

fn save_default(el: &Element, doc: &Document) {
    if saved_default(el).is_some() {
        return;
    }
    save_children(el, doc);
    // The default's attributes that actions may change.
    for name in ["class", "hidden"] {
        let mut key = String::from(DEFAULT_PROP);
        key.push_str(name);
        let v = el.get_attribute(name).map_or(JsValue::NULL, |v| v.into());
        let _ = Reflect::set(el, &key.into(), &v);
    }
}

/// Saves a copy of the slot's children as its default content.
fn save_children(el: &Element, doc: &Document) {
    let frag = doc.create_document_fragment();
    let kids = el.child_nodes();
    for i in 0..kids.length() {
        if let Some(n) = kids.item(i).and_then(|n| n.clone_node_with_deep(true).ok()) {
            let _ = frag.append_child(&n);
        }
    }
    let _ = Reflect::set(el, &DEFAULT_PROP.into(), &frag);
}

/// Whether the page removed what the last application put in `slot`. If
/// it replaced all of it, what it put there is the new default content.
/// Either way the slot no longer shows its decision, so the next round
/// applies it again (within the loop guard).
fn content_lost(slot: &Element) -> bool {
    let Some(own) = Reflect::get(slot, &OWN_PROP.into())
        .ok()
        .and_then(|v| v.dyn_into::<Array>().ok())
    else {
        return false;
    };
    let node: &web_sys::Node = slot;
    let kept = own
        .iter()
        .filter(|n| {
            n.unchecked_ref::<web_sys::Node>()
                .parent_node()
                .is_some_and(|p| &p == node)
        })
        .count();
    if kept == own.length() as usize {
        return false;
    }
    if let Some(doc) = document().filter(|_| kept == 0) {
        save_children(slot, &doc);
    }
    for prop in [OWN_PROP, SIG_PROP] {
        let _ = Reflect::set(slot, &prop.into(), &JsValue::UNDEFINED);
    }
    true
}

/// Remembers the child nodes an application left in `el`.
fn remember_content(el: &Element) {
    let own = Array::from(&el.child_nodes());
    let _ = Reflect::set(el, &OWN_PROP.into(), &own);
}

/// Applies `el` again once the page has left it alone for a second (the
/// loop guard held it back at `now`).
fn retry_when_quiet(el: &Element, now: f64) {
    let _ = Reflect::set(el, &QUIET_PROP.into(), &now.into());
    QUIET.with(|q| {
        let mut q = q.borrow_mut();
        if !q.contains(el) {
            q.push(el.clone());
        }
    });
    if !QUIET_TIMER.with(|t| t.replace(true)) {
        arm_quiet(RATE_WINDOW_MS);
    }
}

/// One timer for every element waiting for quiet.
fn arm_quiet(after: f64) {
    if let Some(w) = web_sys::window() {
        let cb = Closure::once_into_js(on_quiet as fn());
        let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(
            cb.unchecked_ref(),
            after.ceil() as i32,
        );
    }
}

fn on_quiet() {
    let now = env::now();
    let mut due = Vec::new();
    let mut wait = f64::INFINITY;
    QUIET.with(|q| {
        q.borrow_mut().retain(|el| {
            let last = Reflect::get(el, &QUIET_PROP.into())
                .ok()
                .and_then(|v| v.as_f64())
                .unwrap_or(0.0);
            let left = last + RATE_WINDOW_MS - now;
            if left > 0.0 {
                wait = wait.min(left);
                return true;
            }
            if el.is_connected() {
                due.push(el.clone());
            }
            false
        });
    });
    if !due.is_empty() {
        schedule(due);
    }
    if wait.is_finite() {
        arm_quiet(wait);
    } else {
        QUIET_TIMER.with(|t| t.set(false));
    }
}

fn restore_default(el: &Element) {
    let Some(frag) = saved_default(el) else {
        return;
    };
    if let Ok(copy) = frag.clone_node_with_deep(true) {
        replace_children(el, &copy);
    }
    for name in ["class", "hidden"] {
        let mut key = String::from(DEFAULT_PROP);
        key.push_str(name);
        match Reflect::get(el, &key.into())
            .ok()
            .and_then(|v| v.as_string())
        {
            Some(v) => {
                let _ = el.set_attribute(name, &v);
            }
            None => {
                let _ = el.remove_attribute(name);
            }
        }
    }
    let _ = el.remove_attribute(APPLIED);
    let _ = el.remove_attribute(SHOWN);
    for prop in [SIG_PROP, OWN_PROP] {
        let _ = Reflect::set(el, &prop.into(), &JsValue::UNDEFINED);
    }
}

fn replace_children(el: &Element, with: &web_sys::Node) {
    while let Some(c) = el.first_child() {
        let _ = el.remove_child(&c);
    }
    let _ = el.append_child(with);
}

/// Reports a problem applying a slot, once per page.
fn error(slot: &str, rule: Option<&str>, what: &str) {
    let mut m = String::from("slot \"");
    m.push_str(slot);
    m.push('"');
    if let Some(r) = rule {
        m.push_str(" (rule \"");
        m.push_str(r);
        m.push_str("\")");
    }
    m.push_str(": ");
    m.push_str(what);
    m.push_str("; the default content stays");
    let first = with(|s| {
        let first = !s.p13n.reported.contains(&m);
        if first {
            s.p13n.reported.push(m.clone());
        }
        first
    })
    .unwrap_or(true);
    if first {
        env::error(&m);
    }
}

/// `<template data-sillage-variant="slot/variant">`'s content, copied.
fn variant_content(doc: &Document, slot: &str, variant: &str) -> Option<web_sys::Node> {
    let list = doc
        .query_selector_all("template[data-sillage-variant]")
        .ok()?;
    for i in 0..list.length() {
        let t = list.item(i)?.dyn_into::<Element>().ok()?;
        let name = t.get_attribute("data-sillage-variant").unwrap_or_default();
        if name.split_once('/') == Some((slot, variant)) {
            let content = Reflect::get(&t, &"content".into()).ok()?;
            return content
                .unchecked_into::<web_sys::Node>()
                .clone_node_with_deep(true)
                .ok();
        }
    }
    None
}

fn targets(el: &Element, selector: Option<&str>) -> Result<Vec<Element>, ()> {
    let Some(sel) = selector else {
        return Ok(vec![el.clone()]);
    };
    let list = el.query_selector_all(sel).map_err(|_| ())?;
    Ok((0..list.length())
        .filter_map(|i| list.item(i).and_then(|n| n.dyn_into::<Element>().ok()))
        .collect())
}

/// Applies one plan to its element, reveals it and measures it.
fn apply(p: Plan, again: bool, now: f64) {
    let Some(doc) = document() else { return };
    let el = &p.el;
    let showing = el.get_attribute(APPLIED);
    // What this element was last given (rule and signature), applied or
    // not: a decision that failed (a missing template) is not retried
    // either until it changes.
    let mut wanted = p.rule.clone().unwrap_or_default();
    wanted.push('|');
    wanted.push_str(&p.signature);
    let given = Reflect::get(el, &SIG_PROP.into())
        .ok()
        .and_then(|v| v.as_string());
    let same = match &given {
        Some(g) => *g == wanted,
        None => p.rule.is_none() && showing.is_none(),
    };
    if again && same && el.has_attribute(READY) {
        return;
    }
    if !matches!(p.render, Render::Default) && too_often(el, &p.signature, now) {
        let warn = with(|s| !std::mem::replace(&mut s.p13n.warned, true)).unwrap_or(false);
        if warn {
            let mut m = String::from("slot \"");
            m.push_str(&p.slot);
            m.push_str("\" was re-rendered and re-applied 3 times within a second; leaving it alone until the page is quiet for a second (is a framework fighting the personalization?)");
            env::warn(&m);
        }
        if given.is_none() {
            // The page's content shows: say so to click attribution.
            let _ = el.remove_attribute(APPLIED);
            let _ = el.remove_attribute(SHOWN);
        }
        reveal(el);
        retry_when_quiet(el, now);
        return;
    }
    let ok = match &p.render {
        Render::Default => {
            restore_default(el);
            true
        }
        Render::Variant(v) => {
            if saved_default(el).is_some() {
                restore_default(el);
            }
            match variant_content(&doc, &p.slot, v) {
                Some(content) => {
                    save_default(el, &doc);
                    replace_children(el, &content);
                    true
                }
                None => {
                    let mut m = String::from("no <template data-sillage-variant=\"");
                    m.push_str(&p.slot);
                    m.push('/');
                    m.push_str(v);
                    m.push_str("\"> in the page");
                    error(&p.slot, p.rule.as_deref(), &m);
                    false
                }
            }
        }
        Render::Actions(steps) => {
            if saved_default(el).is_some() {
                restore_default(el);
            }
            save_default(el, &doc);
            let mut done = 0;
            for (selector, step) in steps {
                match targets(el, selector.as_deref()) {
                    Ok(list) => {
                        for t in list {
                            match run(&doc, el, &t, step) {
                                Ok(()) => done += 1,
                                Err(why) => error(&p.slot, p.rule.as_deref(), &why),
                            }
                        }
                    }
                    Err(()) => {
                        let mut m = String::from("invalid selector \"");
                        m.push_str(selector.as_deref().unwrap_or(""));
                        m.push('"');
                        error(&p.slot, p.rule.as_deref(), &m);
                    }
                }
            }
            if done == 0 {
                restore_default(el);
            }
            done > 0
        }
    };
    if ok {
        if let Some(r) = &p.rule {
            let _ = el.set_attribute(APPLIED, r);
            let _ = el.set_attribute(SHOWN, &p.label);
            if !matches!(p.render, Render::Default) {
                remember_content(el);
            }
        }
    }
    let _ = Reflect::set(el, &SIG_PROP.into(), &wanted.as_str().into());
    if !el.has_attribute(READY) {
        reveal(el);
    }
    if ok || p.experiment.is_some() {
        measure(&p);
    }
}

/// One action on one target.
fn run(doc: &Document, slot: &Element, t: &Element, step: &Step) -> Result<(), String> {
    let owned = |s: &'static str| s.to_string();
    match step {
        Step::Op(Op::Replace(Replacement::Variant(v))) => {
            let name = slot.get_attribute("data-sillage-slot").unwrap_or_default();
            let content = variant_content(doc, &name, v).ok_or_else(|| {
                let mut m = String::from("no <template data-sillage-variant=\"");
                m.push_str(&name);
                m.push('/');
                m.push_str(v);
                m.push_str("\"> in the page");
                m
            })?;
            replace_children(t, &content);
            Ok(())
        }
        Step::Op(Op::Replace(Replacement::Html(h))) => {
            html::set_html(t, h).map(|_| ()).map_err(owned)
        }
        Step::Op(Op::SetText(text)) => html::set_text(t, text).map_err(owned),
        Step::Op(Op::SetAttribute { name, value }) => html::set_attribute_checked(t, name, value)
            .map_err(|why| {
                let mut m = String::from("setAttribute ");
                m.push_str(name);
                m.push_str(": ");
                m.push_str(why);
                m
            }),
        Step::Op(Op::AddClass(c)) => t.class_list().add_1(c).map_err(|_| owned("bad class name")),
        Step::Op(Op::RemoveClass(c)) => t
            .class_list()
            .remove_1(c)
            .map_err(|_| owned("bad class name")),
        Step::Op(Op::Hide) => t
            .set_attribute("hidden", "")
            .map_err(|_| owned("cannot hide")),
        Step::Op(Op::Show) => t
            .remove_attribute("hidden")
            .map_err(|_| owned("cannot show")),
        Step::Op(Op::Reorder) | Step::Reorder(_) => {
            let interests = match step {
                Step::Reorder(i) => i.as_slice(),
                _ => &[],
            };
            reorder(t, interests);
            Ok(())
        }
        Step::Op(Op::Recommend { .. }) => Ok(()),
        Step::Recommend(items) => recommend(t, items),
    }
}

/// Sorts `t`'s element children by the visitor's interest in their
/// `data-sillage-topics` (the core decides the order).
fn reorder(t: &Element, interests: &[(String, f64)]) {
    let kids = t.children();
    let mut els = Vec::new();
    let mut topics = Vec::new();
    for i in 0..kids.length() {
        if let Some(k) = kids.item(i) {
            let raw = k.get_attribute("data-sillage-topics").unwrap_or_default();
            let lower = env::lower(&raw);
            topics.push(crate::core::topics::normalize([lower.as_str()]));
            els.push(k);
        }
    }
    for i in p13n::order_by_affinity(&topics, interests) {
        if let Some(k) = els.get(i) {
            let _ = t.append_child(k);
        }
    }
}

/// Fills `t` from the catalog through its `<template data-sillage-item>`.
fn recommend(t: &Element, items: &[CatalogItem]) -> Result<(), String> {
    if items.is_empty() {
        return Err("recommend found nothing for this visitor".into());
    }
    let template = t
        .query_selector("template[data-sillage-item]")
        .ok()
        .flatten()
        .ok_or_else(|| "recommend needs a <template data-sillage-item> in the slot".to_string())?;
    let content: web_sys::Node = Reflect::get(&template, &"content".into())
        .map_err(|_| "not a template".to_string())?
        .unchecked_into();
    // Earlier recommendations go; the template stays.
    if let Ok(old) = t.query_selector_all(&{
        let mut s = String::from("[");
        s.push_str(GENERATED);
        s.push(']');
        s
    }) {
        for i in 0..old.length() {
            if let Some(n) = old.item(i) {
                if let Some(parent) = n.parent_node() {
                    let _ = parent.remove_child(&n);
                }
            }
        }
    }
    for item in items {
        let Ok(copy) = content.clone_node_with_deep(true) else {
            continue;
        };
        let frag: web_sys::DocumentFragment = copy.unchecked_into();
        if let Ok(fields) = frag.query_selector_all("[data-sillage-field]") {
            for i in 0..fields.length() {
                let Some(f) = fields.item(i).and_then(|n| n.dyn_into::<Element>().ok()) else {
                    continue;
                };
                match f.get_attribute("data-sillage-field").as_deref() {
                    Some("title") => {
                        let _ = html::set_text(&f, &item.title);
                    }
                    Some("price") => {
                        if let Some(p) = item.price {
                            let mut s = String::new();
                            env::push_js_number(p, &mut s);
                            let _ = html::set_text(&f, &s);
                        }
                    }
                    Some("url") => {
                        let _ = html::set_attribute_checked(&f, "href", &item.url);
                    }
                    Some("image") => {
                        if let Some(src) = &item.image {
                            let _ = html::set_attribute_checked(&f, "src", src);
                            let _ = html::set_attribute_checked(&f, "alt", &item.title);
                        }
                    }
                    _ => {}
                }
            }
        }
        let kids = frag.children();
        for i in 0..kids.length() {
            if let Some(k) = kids.item(i) {
                let _ = k.set_attribute(GENERATED, "");
                let _ = k.set_attribute("data-sillage-item-id", &item.id);
            }
        }
        let _ = t.append_child(&frag);
    }
    Ok(())
}

/// Records the exposure of a rendered slot: `Experiment Viewed` once per
/// session per experiment, `Personalization Viewed` once per page view per
/// slot and rule.
fn measure(p: &Plan) {
    let Some((name, props)) = &p.exposure else {
        return;
    };
    let first = with(|s| match &p.experiment {
        Some(key) => {
            let session = s
                .session
                .as_deref()
                .and_then(Session::decode)
                .map(|ss| ss.id)
                .unwrap_or_default();
            let mut e = Exposures::decode(&s.store.get(EXPOSURES_KEY).unwrap_or_default());
            let first = e.first_in_session(&session, key);
            if first {
                s.store.set(EXPOSURES_KEY, &e.encode());
            }
            first
        }
        None => {
            let key = (p.slot.clone(), p.rule.clone().unwrap_or_default());
            let first = !s.p13n.viewed.contains(&key);
            if first {
                s.p13n.viewed.push(key);
            }
            first
        }
    })
    .unwrap_or(false);
    if first {
        record_now(
            Call::Track {
                event: (*name).into(),
                properties: props.clone(),
            },
            Activity::Other,
        );
    }
}

/// The personalization a click landed in, for attribution: `slot`,
/// `variant`, `rule_id` (and `item_id` inside a recommendation).
pub fn attribution(el: &Element) -> Option<Json> {
    let slot = el.closest("[data-sillage-applied]").ok().flatten()?;
    let mut o = Json::obj()
        .with(
            "slot",
            slot.get_attribute("data-sillage-slot").unwrap_or_default(),
        )
        .with("variant", slot.get_attribute(SHOWN).unwrap_or_default())
        .with("rule_id", slot.get_attribute(APPLIED).unwrap_or_default());
    if let Some(item) = el.closest("[data-sillage-item-id]").ok().flatten() {
        o.set(
            "item_id",
            item.get_attribute("data-sillage-item-id")
                .unwrap_or_default()
                .into(),
        );
    }
    Some(o)
}

/// `sillage.attributes({...})`: the site's own attributes for rule
/// conditions (they cannot replace a built-in one). Slots are decided again
/// in the next frame.
#[wasm_bindgen]
pub fn attributes(values: JsValue) {
    let v = match super::to_json(&values, "attributes") {
        Ok(v @ Json::Obj(_)) => v,
        Ok(_) => {
            env::warn("attributes: must be an object");
            return;
        }
        Err(d) => {
            env::warn_diag(&d);
            return;
        }
    };
    with(|s| {
        if !matches!(s.p13n.custom, Json::Obj(_)) {
            s.p13n.custom = Json::obj();
        }
        if let (Json::Obj(new), Json::Obj(cur)) = (v, &mut s.p13n.custom) {
            for (k, val) in new {
                match cur.iter_mut().find(|(ck, _)| *ck == k) {
                    Some(slot) => slot.1 = val,
                    None => cur.push((k, val)),
                }
            }
        }
    });
    refresh();
}

/// Storage key of the consent choices.
pub const CONSENT_KEY: &str = "sillage.consent";

/// The stored consent choices (an object), read at start.
pub fn load_consent(s: &mut Shell) {
    s.p13n.consent = s
        .store
        .get(CONSENT_KEY)
        .and_then(|t| js_sys::JSON::parse(&t).ok())
        .and_then(|v| super::convert::from_js(&v))
        .filter(|v| matches!(v, Json::Obj(_)))
        .unwrap_or_else(Json::obj);
}

/// `sillage.consent(choices)`: the visitor's choices, an object of purpose to
/// boolean (`{"personalization": false}`), merged into the stored ones and
/// seen by rule conditions as `consent.*`. With `personalization: false` the
/// slots show their default content at once and nothing is decided.
#[wasm_bindgen]
pub fn consent(choices: JsValue) {
    let v = match super::to_json(&choices, "consent") {
        Ok(Json::Obj(entries)) => entries,
        Ok(_) => {
            env::warn("consent: must be an object of purpose to true or false");
            return;
        }
        Err(d) => {
            env::warn_diag(&d);
            return;
        }
    };
    let denied = with(|s| {
        for (k, val) in v {
            let Json::Bool(_) = val else {
                let mut m = String::from("consent.");
                m.push_str(&k);
                m.push_str(": must be true or false");
                env::warn(&m);
                continue;
            };
            s.p13n.consent.set(&k, val);
        }
        let text = super::env::Encoder.encode(&s.p13n.consent);
        s.store.set(CONSENT_KEY, &text);
        s.p13n.denied()
    })
    .unwrap_or(false);
    if denied {
        if let Some(doc) = document() {
            for el in all_slots(&doc) {
                restore_default(&el);
                reveal(&el);
            }
            forget_own_mutations();
        }
    } else {
        refresh();
    }
}
