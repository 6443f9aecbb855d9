//! The web shell (wasm32 only): listeners that turn browser events into the
//! core's [`Input`]s, and an executor that applies its [`Effect`]s. No
//! decision lives here: `core::sdk::Sdk` makes every one.
//!
//! Two rules hold everywhere in here:
//!
//! - Nothing throws into the page. Exported functions return `()` or a
//!   value, or a Promise that resolves; bad input is the core's to report.
//! - Inputs are handled one at a time, in order. An input that arrives
//!   while one is being handled (page code called back by an effect calls
//!   `sillage.track`, a response comes back) is queued and handled next,
//!   never dropped: the core is borrowed only inside `handle` and each
//!   `poll_effect`, never while page code runs.

mod env;
mod net;
mod p13n;

use sillage_webhost::convert;

#[doc(hidden)]
pub use env::BrowserJs;

use sillage_core::support::fifo::Fifo as VecDeque;
use std::cell::{Cell, RefCell};

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;

use sillage_core::sdk::{Arg, Call, Effect, Input, Sdk};

pub use sillage_core::sdk::{ANONYMOUS_ID_KEY, USER_ID_KEY};

thread_local! {
    static SDK: RefCell<Option<Sdk<BrowserJs>>> = const { RefCell::new(None) };
    /// Inputs waiting for the one being handled.
    static QUEUE: RefCell<VecDeque<Input>> = const { RefCell::new(VecDeque::new()) };
    static BUSY: Cell<bool> = const { Cell::new(false) };
    /// Page callbacks and promise resolvers, by the id the core knows.
    static CALLBACKS: RefCell<Vec<(u64, Function)>> = const { RefCell::new(Vec::new()) };
    static NEXT_ID: Cell<u64> = const { Cell::new(1) };
    /// The one timer armed from `poll_timeout`: (handle, due at).
    static TIMER: Cell<Option<(i32, f64)>> = const { Cell::new(None) };
}

/// Runs `f` on the core (created on first use). `None` if it is borrowed,
/// which only a query from inside an effect could meet.
fn with<R>(f: impl FnOnce(&mut Sdk<BrowserJs>) -> R) -> Option<R> {
    SDK.with(|cell| {
        let mut guard = cell.try_borrow_mut().ok()?;
        let sdk = guard.get_or_insert_with(|| {
            let mut sdk = Sdk::new(BrowserJs, env::seed());
            sdk.handle(Input::Open(env::open_facts()), env::now());
            sdk
        });
        Some(f(sdk))
    })
}

/// Hands an input to the core and applies what follows, in order. Called
/// again from inside an effect, it queues the input for the loop below.
pub(crate) fn dispatch(input: Input) {
    QUEUE.with(|q| q.borrow_mut().push_back(input));
    if BUSY.with(|b| b.replace(true)) {
        return;
    }
    while let Some(input) = QUEUE.with(|q| q.borrow_mut().pop_front()) {
        let now = env::now();
        with(|s| s.handle(input, now));
        while let Some(effect) = with(Sdk::poll_effect).flatten() {
            execute(effect);
        }
    }
    arm_timer();
    BUSY.with(|b| b.set(false));
}

/// One effect.
fn execute(effect: Effect) {
    match effect {
        Effect::Store(op) => {
            if !env::store(&op) {
                // Handled at once: the core moves the writes still pending
                // to memory before anything else happens.
                let now = env::now();
                with(|s| s.handle(Input::StoreFailed(op), now));
            }
        }
        Effect::StoreClear(prefix) => env::store_clear(&prefix),
        Effect::Send {
            batch,
            url,
            body,
            keepalive,
            gzip,
        } => net::send(batch, &url, &body, keepalive, gzip),
        Effect::Beacon { url, body } => net::beacon(&url, &body),
        Effect::LoadConfig(url) => net::load_config(&url),
        Effect::LoadMessages(url) => net::load_messages(&url),
        Effect::Listen => env::listen(),
        Effect::Elect => env::elect(),
        Effect::ReleaseLock => env::release_lock(),
        Effect::ReadLease => dispatch(Input::Heartbeat(env::get(
            sillage_core::track::outbox::SENDER_KEY,
        ))),
        Effect::ReadQueue => dispatch(Input::Sender(env::entries(
            sillage_core::track::outbox::PREFIX,
        ))),
        Effect::Warn(m) => env::warn(&m),
        Effect::Error(m) => env::error(&m),
        Effect::Settle { id, ok } => {
            if let Some(f) = take_callback(id) {
                let _ = f.call1(&JsValue::NULL, &JsValue::from_bool(ok));
            }
        }
        Effect::Call(id) => {
            if let Some(f) = take_callback(id) {
                env::call_safely(&f, "ready callback", &JsValue::UNDEFINED);
            }
        }
        Effect::Announce { listeners, change } => {
            let arg = env::to_js(&change);
            for id in listeners {
                if let Some(f) = callback(id) {
                    env::call_safely(&f, "on(\"stage\") callback", &arg);
                }
            }
        }
        Effect::Apply(id, patch) => p13n::execute(p13n::SlotEffect::Apply(id, patch)),
        Effect::Restore(id, mark) => p13n::execute(p13n::SlotEffect::Restore(id, mark)),
        Effect::Reveal(id) => p13n::execute(p13n::SlotEffect::Reveal(id)),
        Effect::Frame => p13n::execute(p13n::SlotEffect::Frame),
        Effect::FindSlots => p13n::execute(p13n::SlotEffect::Find),
        Effect::Observe => p13n::execute(p13n::SlotEffect::Observe),
        Effect::LiftHiding => env::lift_hiding(),
        Effect::RevealAll => env::reveal_all(),
        Effect::CheckSlots => env::check_slots(),
        Effect::LoadPersonalization { config, query } => p13n::load(&config, query),
        Effect::Mark(name) => env::mark(name),
        Effect::Table(rows) => env::table(&rows),
        Effect::Erase { url, body } => net::erase(&url, &body),
        Effect::AtTaskEnd => env::at_task_end(),
    }
}

/// Arms the one timer for the core's next deadline.
fn arm_timer() {
    let now = env::now();
    let want = with(|s| s.poll_timeout()).flatten();
    match (TIMER.with(Cell::get), want) {
        (Some((_, at)), Some(w)) if at <= w.max(now) => {}
        (current, want) => {
            if let Some((handle, _)) = current {
                env::clear_timeout(handle);
            }
            let next = want.and_then(|at| {
                let at = at.max(now);
                env::set_timeout(at - now).map(|h| (h, at))
            });
            TIMER.with(|t| t.set(next));
        }
    }
}

/// The timer fired.
pub(crate) fn on_timer() {
    TIMER.with(|t| t.set(None));
    dispatch(Input::Timeout);
}

/// Keeps a page function for the core, which knows it by the id returned.
fn keep(f: Function) -> u64 {
    let id = NEXT_ID.with(|n| n.replace(n.get() + 1));
    CALLBACKS.with(|c| c.borrow_mut().push((id, f)));
    id
}

fn callback(id: u64) -> Option<Function> {
    CALLBACKS.with(|c| {
        c.borrow()
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, f)| f.clone())
    })
}

fn take_callback(id: u64) -> Option<Function> {
    CALLBACKS.with(|c| {
        let mut c = c.borrow_mut();
        let i = c.iter().position(|(x, _)| *x == id)?;
        Some(c.remove(i).1)
    })
}

/// A public call, with the page as it is now.
fn call(c: Call) {
    dispatch(Input::Api(c, env::page_now(false)));
}

/// A promise the core settles through `Effect::Settle`.
fn promise(make: impl FnOnce(u64) -> Call) -> Promise {
    let mut resolve = None;
    let p = Promise::new(&mut |r, _| resolve = Some(r));
    if let Some(r) = resolve {
        let id = keep(r);
        call(make(id));
    }
    p
}

fn function(v: &JsValue) -> Option<u64> {
    v.dyn_ref::<Function>().map(|f| keep(f.clone()))
}

/// Starts the SDK: records the landing, reads the config (inline
/// `<script type="application/json" id="sillage-config">`, else
/// `options.config`, else fetched from `options.configUrl`) and installs the
/// page listeners. Called once by the loader; npm users call it themselves.
#[wasm_bindgen]
pub fn boot(options: JsValue) {
    p13n::set_loader(&options);
    dispatch(Input::Boot(env::boot_facts(&options)));
}

/// Replays calls queued by the loader's stub before the SDK was ready, in
/// order. Each item is `[method, args, resolve?]`.
#[wasm_bindgen(skip_typescript)]
pub fn replay(queue: JsValue) {
    let Ok(items) = queue.dyn_into::<js_sys::Array>() else {
        return;
    };
    for item in items.iter() {
        let item = js_sys::Array::from(&item);
        let method = item.get(0).as_string().unwrap_or_default();
        let args = js_sys::Array::from(&item.get(1));
        let (a, b, c) = (args.get(0), args.get(1), args.get(2));
        let result = match method.as_str() {
            "track" => {
                track(a, b);
                None
            }
            "page" => {
                page(a, b, c);
                None
            }
            "identify" => {
                identify(a, b);
                None
            }
            "group" => {
                group(a, b);
                None
            }
            "alias" => {
                alias(a, b);
                None
            }
            "reset" => {
                reset();
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
            "flush" => Some(JsValue::from(flush())),
            "forget" => Some(JsValue::from(forget())),
            // Before the config was applied there is no profile yet: the
            // stub's promise settles once it is (`ready`).
            "profile" | "debug" => {
                if let Ok(resolve) = item.get(2).dyn_into::<Function>() {
                    let of_profile = method == "profile";
                    ready(Closure::once_into_js(move || {
                        let v = if of_profile { profile() } else { debug() };
                        let _ = resolve.call1(&JsValue::NULL, &v);
                    }));
                }
                None
            }
            other => {
                let mut m = String::from("unknown queued call \"");
                m.push_str(other);
                m.push('"');
                env::warn(&m);
                None
            }
        };
        if let (Some(v), Ok(resolve)) = (result, item.get(2).dyn_into::<Function>()) {
            // A value or a promise of one: the stub's promise follows it.
            net::on_settle(&Promise::resolve(&v), &resolve);
        }
    }
}

/// `sillage.track(event, properties?)`: records a track event.
#[wasm_bindgen]
pub fn track(event: JsValue, properties: JsValue) {
    call(Call::Track {
        event: convert::arg(&event),
        properties: convert::arg(&properties),
    });
}

/// `sillage.page(category?, name?, properties?)`: records a page view.
#[wasm_bindgen]
pub fn page(a: JsValue, b: JsValue, c: JsValue) {
    dispatch(Input::Api(
        Call::Page {
            a: convert::arg(&a),
            b: convert::arg(&b),
            c: convert::arg(&c),
        },
        env::page_now(true),
    ));
}

/// `sillage.identify(userId?, traits?)`: sets the user id (kept in
/// first-party storage) and records an identify event.
#[wasm_bindgen]
pub fn identify(user_id: JsValue, traits: JsValue) {
    call(Call::Identify {
        user_id: convert::arg(&user_id),
        traits: convert::arg(&traits),
    });
}

/// `sillage.group(groupId, traits?)`: the account the user belongs to.
#[wasm_bindgen]
pub fn group(group_id: JsValue, traits: JsValue) {
    call(Call::Group {
        group_id: convert::arg(&group_id),
        traits: convert::arg(&traits),
    });
}

/// `sillage.alias(userId, previousId?)`: links two user ids.
#[wasm_bindgen]
pub fn alias(user_id: JsValue, previous_id: JsValue) {
    call(Call::Alias {
        user_id: convert::arg(&user_id),
        previous_id: convert::arg(&previous_id),
    });
}

/// `sillage.reset()`: a new anonymous id and no user from now on; the
/// on-device profile stays (`forget()` erases it).
#[wasm_bindgen]
pub fn reset() {
    call(Call::Reset);
}

/// `sillage.ready(callback)`: calls `callback` once the config was applied
/// (at once if it already was).
#[wasm_bindgen]
pub fn ready(callback: JsValue) {
    call(Call::Ready(function(&callback)));
}

/// `sillage.flush()`: sends everything waiting now. Resolves to `true` once
/// every event this page recorded before the call was acknowledged, or to
/// `false` if there is no collector or a send failed (the events stay
/// queued for retry). It never rejects.
#[wasm_bindgen]
pub fn flush() -> Promise {
    promise(Call::Flush)
}

/// `sillage.forget()`: erases this visitor from the device (ids, events
/// not yet sent, session, profile, exposures); a new anonymous id is used
/// from then on. Resolves to `true`.
#[wasm_bindgen]
pub fn forget() -> Promise {
    promise(Call::Forget)
}

/// `sillage.on(name, callback)`: `"stage"` calls `callback({from, to,
/// reasons})` when the likely journey stage changes.
#[wasm_bindgen]
pub fn on(name: JsValue, callback: JsValue) {
    call(Call::On {
        event: convert::arg(&name),
        callback: function(&callback),
    });
}

/// `sillage.interest(topic, weight)`: an explicit interest, 0 to 1, which
/// overrides the inferred one and does not fade; 0 hides it.
#[wasm_bindgen]
pub fn interest(topic: JsValue, weight: JsValue) {
    let topic = match topic.as_string() {
        Some(t) => Arg::json(env::lower(&t)),
        None => convert::arg(&topic),
    };
    call(Call::Interest {
        topic,
        weight: convert::arg(&weight),
    });
}

/// `sillage.consent(choices)`: the visitor's choices, an object of purpose
/// to boolean, merged into the stored ones.
#[wasm_bindgen]
pub fn consent(choices: JsValue) {
    call(Call::Consent(convert::arg(&choices), env::user_activated()));
}

/// `sillage.attributes({...})`: the site's own attributes for rule
/// conditions.
#[wasm_bindgen]
pub fn attributes(values: JsValue) {
    call(Call::Attributes(convert::arg(&values)));
}

/// `sillage.profile()`: the profile snapshot, a plain object (`null`
/// before the config was applied).
#[wasm_bindgen]
pub fn profile() -> JsValue {
    let now = env::now();
    let snapshot = with(|s| s.profile(now)).flatten();
    // Decay may have moved the stage: the core announces it.
    dispatch(Input::Timeout);
    snapshot.map_or(JsValue::NULL, |v| env::to_js(&v))
}

/// `sillage.debug()`: what the journey panel shows besides the profile:
/// consent, the queue, whether this tab sends, each slot's decision and why.
#[wasm_bindgen]
pub fn debug() -> JsValue {
    let now = env::now();
    with(|s| s.debug(now)).map_or(JsValue::NULL, |v| env::to_js(&v))
}

/// Test support: the current anonymous id and the JSON text of every event
/// not yet acknowledged (in storage, or in memory without storage), oldest
/// first.
#[doc(hidden)]
pub fn debug_state() -> (String, Vec<String>) {
    let (id, memory) = with(|s| s.debug_state()).unwrap_or_default();
    let stored = env::stored_events();
    (id, if env::durable() { stored } else { memory })
}

/// Test support: whether this tab is the one that sends.
#[doc(hidden)]
pub fn debug_is_sender() -> bool {
    with(|s| s.is_sender()).unwrap_or(false)
}

/// Test support: how many decision rounds ran on this page.
#[doc(hidden)]
pub fn debug_rounds() -> u32 {
    with(|s| s.rounds()).unwrap_or(0)
}

/// Test support: drops the SDK's state, as a page reload would.
#[doc(hidden)]
pub fn debug_reset() {
    dispatch(Input::PageHide);
    SDK.with(|cell| {
        if let Ok(mut g) = cell.try_borrow_mut() {
            g.take();
        }
    });
    if let Some((h, _)) = TIMER.with(|t| t.take()) {
        env::clear_timeout(h);
    }
    p13n::reset();
    env::stop_watching();
}
