//! The web shell (wasm32 only): a thin layer that feeds the core from the
//! browser and applies what it returns.
//!
//! It only translates between JavaScript and the core and performs effects:
//! first-party storage, timers, `fetch`/`sendBeacon`, listeners and console
//! messages. Decisions (what an event looks like, when to send, what to retry)
//! are the core's. Two rules hold everywhere in here:
//!
//! - Nothing throws into the page. Exported functions return `()` or a
//!   Promise that resolves; bad input becomes a console warning that names the
//!   argument; a JS callback that throws is caught and reported.
//! - No borrow of the shell state is held while calling back into page code, so
//!   a callback that calls `sillage.track` again cannot re-enter a borrow.

mod capture;
mod convert;
mod env;
pub mod html;
mod net;
mod p13n;
mod profile;
mod tabs;

#[doc(hidden)]
pub use env::BrowserJs;
#[doc(hidden)]
pub use p13n::debug_rounds;
pub use p13n::{attributes, consent};
pub use profile::{interest, on, profile};

use std::cell::RefCell;

use js_sys::{Array, Function, Promise, Reflect};
use wasm_bindgen::prelude::*;

use crate::core::config::{self, Capture};
use crate::core::diag::Diagnostic;
use crate::core::engage::{Engagement, PageViewGate, RageClicks};
use crate::core::event::{is_uuid, uuid_v4, Call, PageContext};
use crate::core::json::Json;
use crate::core::outbox::{decode_record, Durability, EVENT_PREFIX, PREFIX};
use crate::core::tracker::{Moment, Tracker};
use crate::core::visit::{Activity, SESSION_KEY};

use env::Store;

/// Storage key of the anonymous id.
pub const ANONYMOUS_ID_KEY: &str = "sillage.anonymousId";
/// Storage key of the user id set by `identify`.
pub const USER_ID_KEY: &str = "sillage.userId";

#[derive(PartialEq)]
enum Phase {
    /// Created by an API call before `boot`: events queue, nothing is sent.
    Idle,
    /// `boot` ran; the config is on its way.
    Loading,
    /// The config was applied (or failed to load: then there is no collector).
    Ready,
}

struct Shell {
    tracker: Tracker,
    store: Store,
    phase: Phase,
    ready_callbacks: Vec<Function>,
    flush_waiters: Vec<Function>,
    timer: Option<(i32, f64)>,
    /// What is captured automatically (from the config).
    capture: Capture,
    /// The coarse device class, read once at boot.
    device: &'static str,
    gate: PageViewGate,
    engagement: Engagement,
    /// URL and path of the page view the engagement belongs to.
    engaged_page: (String, String),
    rage: RageClicks,
    /// Whether this page load had its first page view (its landing).
    landed: bool,
    /// The session value all tabs share: read at start, then kept current
    /// by this tab's writes and other tabs' `storage` events (no storage
    /// read per event).
    session: Option<String>,
    /// The page context of the last event (reused while the URL is the same).
    page: Option<PageContext>,
    /// The page as it was at `boot`: the landing, even if a single-page app
    /// navigated while the config loaded.
    boot_page: Option<PageContext>,
    /// A navigation happened while the config loaded (recorded after the
    /// landing).
    nav_pending: bool,
    /// The page context the next page view records (set by a navigation).
    next_page: Option<PageContext>,
    /// The visitor profile, once the config gave its model.
    profile: Option<crate::core::profile::Profile>,
    /// When the profile first changed since it was last written.
    profile_dirty: Option<f64>,
    /// `sillage.on` listeners: (event name, callback).
    listeners: Vec<(String, Function)>,
    /// `privacy.stageEvents`.
    stage_events: bool,
    /// Personalization: rules, catalog, previews, consent, custom attributes.
    p13n: p13n::P13n,
    /// Calls made while the config loads: replayed, in order, after the
    /// automatic page view once it is applied.
    held: Vec<(&'static str, JsValue, JsValue)>,
}

thread_local! {
    static SHELL: RefCell<Option<Shell>> = const { RefCell::new(None) };
}

/// Runs `f` on the shell state, creating it on first use. Returns `None` (and
/// does nothing) if the state is already borrowed, instead of panicking.
fn with<R>(f: impl FnOnce(&mut Shell) -> R) -> Option<R> {
    SHELL.with(|cell| {
        let mut guard = cell.try_borrow_mut().ok()?;
        let shell = guard.get_or_insert_with(Shell::new);
        Some(f(shell))
    })
}

impl Shell {
    fn new() -> Shell {
        let store = Store::open();
        let anonymous_id = match store.get(ANONYMOUS_ID_KEY) {
            Some(id) if is_uuid(&id) => id,
            other => {
                if other.is_some() {
                    env::warn("stored anonymousId was not a UUID; starting a new one");
                }
                let id = uuid_v4(env::random_bytes());
                store.set(ANONYMOUS_ID_KEY, &id);
                id
            }
        };
        let user_id = store.get(USER_ID_KEY).filter(|u| !u.is_empty());
        let session = store.get(SESSION_KEY);
        let durability = if store.durable() {
            Durability::Storage
        } else {
            Durability::Memory
        };
        Shell {
            tracker: Tracker::new(anonymous_id, user_id, durability),
            store,
            phase: Phase::Idle,
            ready_callbacks: Vec::new(),
            flush_waiters: Vec::new(),
            timer: None,
            capture: Capture::default(),
            device: "desktop",
            gate: PageViewGate::default(),
            engagement: capture::new_engagement(),
            engaged_page: Default::default(),
            rage: RageClicks::default(),
            landed: false,
            session,
            page: None,
            boot_page: None,
            nav_pending: false,
            next_page: None,
            profile: None,
            profile_dirty: None,
            listeners: Vec::new(),
            stage_events: true,
            p13n: p13n::P13n::default(),
            held: Vec::new(),
        }
    }

    fn record(&mut self, call: Call, activity: Activity) {
        if let Call::Track {
            event: Json::Str(name),
            properties,
        } = &call
        {
            for d in crate::core::vocab::check_track(name, properties) {
                env::warn_diag(&d);
            }
        }
        let activity = match activity {
            Activity::Other => Activity::Other,
            _ if self.landed => Activity::PageView,
            _ => Activity::Landing,
        };
        let now = env::now();
        let page = match self.next_page.take() {
            Some(p) if activity != Activity::Other => p,
            _ => env::page_context_since(&mut self.page),
        }
        .capped();
        let hints = if activity == Activity::Other {
            Vec::new()
        } else {
            capture::topic_hints()
        };
        let moment = Moment {
            page: &page,
            activity,
            hints: &hints,
            stored_session: self.session.as_deref(),
            device: self.device,
        };
        let random = [env::random_bytes(), env::random_bytes()];
        match self
            .tracker
            .record(call, &moment, now, random, &env::Encoder)
        {
            Ok(r) => {
                self.landed |= activity != Activity::Other;
                profile::apply(self, &r.event, now);
                if let Some(session) = r.store_session {
                    self.store.set(SESSION_KEY, &session);
                    self.session = Some(session);
                }
            }
            Err(d) => env::warn_diag(&d),
        }
        tabs::apply_ops(self);
    }
}

/// Converts a value from the page into [`Json`] the way `JSON.stringify`
/// sees it (dates become strings, functions vanish, cycles are refused), so
/// that no page object can make the SDK throw or loop.
fn to_json(v: &JsValue, what: &str) -> Result<Json, Diagnostic> {
    if v.is_undefined() || v.is_null() {
        return Ok(Json::Null);
    }
    let bad = |why: &str| {
        let mut m = String::from("is not JSON-compatible");
        if !why.is_empty() {
            m.push_str(": ");
            m.push_str(why);
        }
        Diagnostic::new(what, m)
    };
    if let Some(s) = v.as_string() {
        return Ok(Json::Str(s));
    }
    let text = js_sys::JSON::stringify(v).map_err(|e| bad(&env::error_text(&e)))?;
    let parsed = js_sys::JSON::parse(&String::from(text)).map_err(|e| bad(&env::error_text(&e)))?;
    convert::from_js(&parsed).ok_or_else(|| bad(""))
}

fn record_js(activity: Activity, build: impl FnOnce() -> Result<Call, Diagnostic>) {
    match build() {
        Ok(call) => record_now(call, activity),
        Err(d) => env::warn_diag(&d),
    }
}

/// Records a call now and sends what is due. Page views pass
/// [`Activity::PageView`]; the first one of the page load becomes the
/// landing.
pub(crate) fn record_now(call: Call, activity: Activity) {
    with(|s| s.record(call, activity));
    profile::announce(profile::Cause::OwnEvent);
    pump();
}

/// While the config loads, API calls wait (in order) so that the automatic
/// page view comes first. Returns whether the call was held.
fn hold(method: &'static str, a: &JsValue, b: &JsValue) -> bool {
    with(|s| {
        let waiting = s.phase == Phase::Loading;
        if waiting {
            s.held.push((method, a.clone(), b.clone()));
        }
        waiting
    })
    .unwrap_or(false)
}

/// Sends what is due and arms the timer for what will be. Resolves flush
/// promises once nothing is left, or once a send failed and waits for retry.
pub(crate) fn pump() {
    let now = env::now();
    let (sends, url, waiters) = match with(|s| {
        let mut sends = Vec::new();
        while let Some(t) = s.tracker.poll_transmit(now) {
            sends.push(t);
        }
        let url = s.tracker.collector_url().map(str::to_string);
        tabs::apply_ops(s);
        let b = &s.tracker.outbox.batcher;
        let settle = s.phase == Phase::Ready
            && (url.is_none()
                || !s.tracker.outbox.is_sender()
                || b.unacknowledged() == 0
                || (b.retrying() && !b.in_flight()));
        let waiters = if settle {
            std::mem::take(&mut s.flush_waiters)
        } else {
            Vec::new()
        };
        let delivered = url.is_some()
            && s.tracker.outbox.is_sender()
            && s.tracker.outbox.batcher.unacknowledged() == 0;
        arm_timer(s, now);
        while let Some(report) = s.tracker.outbox.poll_report() {
            env::report(&report);
        }
        (sends, url, (waiters, delivered))
    }) {
        Some(x) => x,
        None => return,
    };
    if let Some(url) = url {
        for t in sends {
            net::send(&url, t);
        }
    }
    let (waiters, delivered) = waiters;
    for resolve in waiters {
        let _ = resolve.call1(&JsValue::NULL, &JsValue::from_bool(delivered));
    }
}

fn arm_timer(s: &mut Shell, now: f64) {
    let want = match (s.tracker.poll_timeout(), profile::poll_timeout(s)) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    match (s.timer, want) {
        (Some((_, at)), Some(w)) if at <= w.max(now) => {}
        (current, want) => {
            if let Some((handle, _)) = current {
                env::clear_timeout(handle);
            }
            s.timer = want.and_then(|at| {
                let at = at.max(now);
                env::set_timeout(at - now).map(|h| (h, at))
            });
        }
    }
}

/// Called by the timer: forget the fired handle, then pump.
pub(crate) fn on_timer() {
    let now = env::now();
    with(|s| {
        s.timer = None;
        profile::on_timer(s, now, false);
    });
    profile::announce(profile::Cause::Time);
    pump();
}

/// Called when the page is hidden or being unloaded: everything not in flight
/// leaves now by beacon.
pub(crate) fn on_hidden() {
    let now = env::now();
    with(|s| profile::on_timer(s, now, true));
    let Some((url, bodies)) = with(|s| {
        let url = s.tracker.collector_url()?.to_string();
        let bodies = s.tracker.on_hidden(now);
        tabs::apply_ops(s);
        Some((url, bodies))
    })
    .flatten() else {
        return;
    };
    for t in bodies {
        net::beacon(&url, &t.body);
    }
}

/// Called on the `online`/`offline` events.
pub(crate) fn on_network(online: bool) {
    with(|s| s.tracker.outbox.batcher.set_online(online));
    pump();
}

/// Starts the SDK: records the page view, reads the config (inline
/// `<script type="application/json" id="sillage-config">`, else
/// `options.config`, else fetched from `options.configUrl`) and installs the
/// page listeners. Called once by the loader; npm users call it themselves.
#[wasm_bindgen]
pub fn boot(options: JsValue) {
    let first = with(|s| {
        if s.phase != Phase::Idle {
            return false;
        }
        s.phase = Phase::Loading;
        true
    });
    if first != Some(true) {
        env::warn("boot() was called more than once; ignoring the repeat");
        return;
    }
    // The landing, before any single-page-app navigation while the config
    // loads.
    with(|s| s.boot_page = Some(env::page_context()));
    env::listen();
    with(|s| {
        s.tracker.outbox.batcher.set_online(env::online());
        s.device = capture::device();
    });
    tabs::elect();
    let get = |k: &str| Reflect::get(&options, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED);
    if let Some(text) = env::inline_config() {
        match js_sys::JSON::parse(&text) {
            Ok(v) => apply_config(Some(v), "inline #sillage-config"),
            Err(e) => {
                let mut m = String::from("inline #sillage-config is not valid JSON: ");
                m.push_str(&env::error_text(&e));
                env::warn(&m);
                apply_config(None, "");
            }
        }
    } else if !get("config").is_undefined() {
        apply_config(Some(get("config")), "boot options");
    } else if let Some(url) = get("configUrl").as_string() {
        net::load_config(&url);
    } else {
        env::warn("no config (add data-config to the script tag or an inline #sillage-config); events stay on this device");
        apply_config(None, "");
    }
}

/// Applies a config value (or its absence), then runs the `ready` callbacks.
pub(crate) fn apply_config(value: Option<JsValue>, source: &str) {
    if let Some(v) = value {
        match convert::from_js(&v) {
            Some(doc) => {
                let (cfg, diags) = config::parse(&doc, &env::BrowserJs);
                for d in &diags {
                    let mut m = String::from("config (");
                    m.push_str(source);
                    m.push_str("): ");
                    m.push_str(&d.render());
                    env::warn(&m);
                }
                if cfg.collector.is_none() {
                    env::warn("config has no usable collector.url; events stay on this device");
                }
                with(|s| {
                    s.tracker.configure(&cfg);
                    s.capture = cfg.capture.clone();
                    s.gate = PageViewGate::new(cfg.capture.hash_routing);
                    s.stage_events = cfg.privacy.stage_events;
                    profile::load(s, cfg.stages.clone(), cfg.profile.clone());
                });
                let mut diags = Vec::new();
                let query = env::page_context().search;
                let preview = crate::core::rules::Preview::from_query(
                    query.strip_prefix('?').unwrap_or(&query),
                    cfg.debug,
                    &mut diags,
                );
                for d in &diags {
                    env::warn_diag(d);
                }
                with(move |s| {
                    s.p13n.rules = cfg.rules;
                    s.p13n.catalog = cfg.catalog;
                    s.p13n.preview = preview;
                });
            }
            None => env::warn("config is not a JSON document; events stay on this device"),
        }
    }
    with(|s| {
        if s.profile.is_none() {
            // No usable config: the built-in model still profiles the visit.
            profile::load(s, Default::default(), Default::default());
        }
        p13n::load_consent(s);
    });
    let (callbacks, held) = with(|s| {
        s.phase = Phase::Ready;
        (
            std::mem::take(&mut s.ready_callbacks),
            std::mem::take(&mut s.held),
        )
    })
    .unwrap_or_default();
    // The automatic page view first, then what the page asked for meanwhile.
    // (Without automatic page views, engagement is about this page as loaded.)
    let landing = with(|s| s.boot_page.take()).flatten();
    capture::navigate(landing.unwrap_or_else(env::page_context));
    if with(|s| std::mem::take(&mut s.nav_pending)).unwrap_or(false) {
        capture::on_navigation();
    }
    with(|s| {
        if s.engaged_page.0.is_empty() {
            let p = env::page_context();
            s.engaged_page = (p.url, p.path);
        }
    });
    for (method, a, b) in held {
        match method {
            "track" => track(a, b),
            "page" => page(a),
            _ => identify(a, b),
        }
    }
    for cb in callbacks {
        env::call_safely(&cb, "ready callback");
    }
    p13n::start();
    pump();
}

/// Replays calls queued by the loader's stub before the SDK was ready, in
/// order. Each item is `[method, args, resolve?]`.
#[wasm_bindgen]
pub fn replay(queue: JsValue) {
    let Ok(items) = queue.dyn_into::<Array>() else {
        return;
    };
    for item in items.iter() {
        let item = Array::from(&item);
        let method = item.get(0).as_string().unwrap_or_default();
        let args = Array::from(&item.get(1));
        let (a, b) = (args.get(0), args.get(1));
        let promise = match method.as_str() {
            "track" => {
                track(a, b);
                None
            }
            "page" => {
                page(a);
                None
            }
            "identify" => {
                identify(a, b);
                None
            }
            "consent" => {
                consent(a);
                None
            }
            "on" => {
                on(a, b);
                None
            }
            "interest" => {
                interest(a, b);
                None
            }
            "attributes" => {
                attributes(a);
                None
            }
            "ready" => {
                ready(a);
                None
            }
            "flush" => Some(flush()),
            "forget" => Some(forget()),
            other => {
                let mut m = String::from("unknown queued call \"");
                m.push_str(other);
                m.push('"');
                env::warn(&m);
                None
            }
        };
        if let (Some(p), Ok(resolve)) = (promise, item.get(2).dyn_into::<Function>()) {
            p.unchecked_ref::<net::Thenable>()
                .then_js(&resolve, &JsValue::UNDEFINED);
        }
    }
}

/// `sillage.track(event, properties?)`: records a track event.
#[wasm_bindgen]
pub fn track(event: JsValue, properties: JsValue) {
    if hold("track", &event, &properties) {
        return;
    }
    record_js(Activity::Other, || {
        Ok(Call::Track {
            event: to_json(&event, "track.event")?,
            properties: to_json(&properties, "track.properties")?,
        })
    });
}

/// `sillage.page(properties?)`: records a page view.
#[wasm_bindgen]
pub fn page(properties: JsValue) {
    if hold("page", &properties, &JsValue::UNDEFINED) {
        return;
    }
    record_js(Activity::PageView, || {
        Ok(Call::Page {
            properties: to_json(&properties, "page.properties")?,
        })
    });
}

/// `sillage.identify(userId?, traits?)`: sets the user id (kept in
/// first-party storage) and records an identify event.
#[wasm_bindgen]
pub fn identify(user_id: JsValue, traits: JsValue) {
    if hold("identify", &user_id, &traits) {
        return;
    }
    let call = (|| {
        Ok(Call::Identify {
            user_id: to_json(&user_id, "identify.userId")?,
            traits: to_json(&traits, "identify.traits")?,
        })
    })();
    record_js(Activity::Other, || call);
    with(|s| {
        if let Some(u) = &s.tracker.identity().user_id {
            let u = u.clone();
            s.store.set(USER_ID_KEY, &u);
        }
    });
}

/// `sillage.ready(callback)`: calls `callback` once the config was applied (at
/// once if it already was).
#[wasm_bindgen]
pub fn ready(callback: JsValue) {
    let Ok(cb) = callback.dyn_into::<Function>() else {
        env::warn("ready: callback must be a function");
        return;
    };
    let now = with(|s| {
        if s.phase == Phase::Ready {
            true
        } else {
            s.ready_callbacks.push(cb.clone());
            false
        }
    });
    if now == Some(true) {
        env::call_safely(&cb, "ready callback");
    }
}

/// `sillage.flush()`: sends everything waiting now. The Promise resolves to
/// `true` once all recorded events were acknowledged, or to `false` if there
/// is no collector or a send failed (the events stay queued for retry). It
/// never rejects.
#[wasm_bindgen]
pub fn flush() -> Promise {
    let mut waiter = None;
    let promise = Promise::new(&mut |resolve, _reject| waiter = Some(resolve));
    with(|s| {
        s.tracker.outbox.batcher.flush();
        s.flush_waiters.extend(waiter.take());
    });
    pump();
    promise
}

/// `sillage.forget()`: erases this visitor from the device: everything
/// Sillage stored (ids, events not yet sent, leases) and what this tab holds
/// in memory. A new anonymous id is used from then on. Resolves to `true`.
#[wasm_bindgen]
pub fn forget() -> Promise {
    with(|s| {
        for (key, _) in s.store.entries(PREFIX) {
            s.store.remove(&key);
        }
        s.store.remove(ANONYMOUS_ID_KEY);
        s.store.remove(USER_ID_KEY);
        let id = uuid_v4(env::random_bytes());
        s.store.set(ANONYMOUS_ID_KEY, &id);
        s.tracker.reset(id);
        s.session = None;
        s.profile = s.profile.as_ref().map(|p| p.cleared());
        s.profile_dirty = None;
        for resolve in std::mem::take(&mut s.flush_waiters) {
            let _ = resolve.call1(&JsValue::NULL, &JsValue::FALSE);
        }
    });
    Promise::resolve(&JsValue::TRUE)
}

/// Test support: the current anonymous id and the JSON text of every event
/// not yet acknowledged (in storage, or in memory without storage), oldest
/// first. Not exported to JavaScript.
#[doc(hidden)]
pub fn debug_state() -> (String, Vec<String>) {
    with(|s| {
        let events = if s.tracker.outbox.durability() == Durability::Storage {
            let mut stored: Vec<(f64, u64, String)> = s
                .store
                .entries(EVENT_PREFIX)
                .iter()
                .filter_map(|(_, v)| decode_record(v).map(|(at, seq, j)| (at, seq, j.to_string())))
                .collect();
            stored.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            stored.into_iter().map(|(_, _, j)| j).collect()
        } else {
            s.tracker
                .outbox
                .batcher
                .pending()
                .map(|p| p.json.clone())
                .collect()
        };
        (s.tracker.identity().anonymous_id.clone(), events)
    })
    .unwrap_or_default()
}

/// Test support: whether this tab is the one that sends.
#[doc(hidden)]
pub fn debug_is_sender() -> bool {
    with(|s| s.tracker.outbox.is_sender()).unwrap_or(false)
}

/// Test support: drops the shell state, as a page reload would.
#[doc(hidden)]
pub fn debug_reset() {
    tabs::step_down();
    SHELL.with(|cell| {
        if let Ok(mut g) = cell.try_borrow_mut() {
            if let Some(s) = g.take() {
                if let Some((h, _)) = s.timer {
                    env::clear_timeout(h);
                }
            }
        }
    });
}
