//! Durable storage and the choice of the one tab that sends.
//!
//! Every tab writes its events to `localStorage` (the outbox's store ops,
//! applied synchronously, so an event is durable before `track()` returns).
//! One tab at a time is the *sender*: it holds the Web Lock
//! `sillage:sender`, or, where `navigator.locks` is missing, a lease key
//! renewed by a heartbeat (see `core::outbox::lease_step`). The sender takes
//! over every stored event and adopts the ones other tabs write later, seen
//! through the `storage` event. At `pagehide` the sender beacons what it holds
//! and steps down, so a tab going into the back-forward cache never blocks
//! the others; `pageshow` puts it back in the election.
//!
//! Why localStorage and not IndexedDB: its writes are synchronous, so an
//! event is on disk when `track()` returns, even if the page dies in the next
//! instant; IndexedDB transactions started at unload are not guaranteed to
//! commit. Each event is its own key, so a write costs the event, not the
//! queue.

use std::cell::{Cell, RefCell};

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::{env, with, Shell};
use crate::core::outbox::{
    lease_step, LeaseStep, StoreOp, PREFIX, SENDER_HEARTBEAT_MS, SENDER_KEY,
};

thread_local! {
    /// Resolves the promise that holds the Web Lock (releases it).
    static RELEASE: RefCell<Option<Function>> = const { RefCell::new(None) };
    /// Storage-lease fallback: whether this tab wrote a claim last heartbeat.
    static CLAIMED: Cell<bool> = const { Cell::new(false) };
    static LEASE_STARTED: Cell<bool> = const { Cell::new(false) };
    static TAB_ID: RefCell<String> = RefCell::new(crate::core::event::uuid_v4(env::random_bytes()));
}

/// Applies the outbox's pending store ops. A refused write (quota, blocked)
/// moves the outbox to memory with one warning; nothing is lost.
pub fn apply_ops(s: &mut Shell) {
    while let Some(op) = s.tracker.outbox.poll_store_op() {
        match &op {
            StoreOp::Put { key, value } => {
                if !s.store.try_set(key, value) {
                    s.store.warn_memory();
                    s.tracker.outbox.fall_back_to_memory(op);
                    return;
                }
            }
            StoreOp::Delete { key } => s.store.remove(key),
        }
    }
}

/// This tab won the election: take over every stored event.
fn become_sender() {
    let now = env::now();
    let found = with(|s| {
        let entries = s.store.entries(PREFIX);
        let r = s.tracker.outbox.restore(&entries, now);
        apply_ops(s);
        r
    });
    if let Some(r) = found {
        if r.corrupt > 0 {
            let mut m = String::from("discarded ");
            crate::core::diag::push_usize(&mut m, r.corrupt);
            m.push_str(" unreadable stored values");
            env::warn(&m);
        }
    }
    super::pump();
}

/// Enters the election (at boot, and again when the page comes back from the
/// back-forward cache).
pub fn elect() {
    let durable =
        with(|s| s.tracker.outbox.durability() == crate::core::outbox::Durability::Storage);
    if durable != Some(true) {
        return;
    }
    let Some(w) = web_sys::window() else {
        return;
    };
    let locks = Reflect::get(&w.navigator(), &"locks".into()).unwrap_or(JsValue::UNDEFINED);
    let request = Reflect::get(&locks, &"request".into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok());
    match request {
        Some(request) => {
            let granted = Closure::once_into_js(move |_lock: JsValue| -> JsValue {
                let mut release = None;
                let held = Promise::new(&mut |resolve, _| release = Some(resolve));
                RELEASE.with(|r| *r.borrow_mut() = release);
                become_sender();
                held.into()
            });
            let _ = request.call2(&locks, &"sillage:sender".into(), &granted);
        }
        None => {
            if !LEASE_STARTED.with(|c| c.replace(true)) {
                // Page-lifetime heartbeat, never cleared.
                let cb = Closure::<dyn FnMut()>::new(heartbeat);
                let _ = w.set_interval_with_callback_and_timeout_and_arguments_0(
                    cb.as_ref().unchecked_ref(),
                    SENDER_HEARTBEAT_MS as i32,
                );
                cb.forget();
            }
            heartbeat();
        }
    }
}

/// One heartbeat of the storage-lease election.
fn heartbeat() {
    let now = env::now();
    let me = TAB_ID.with(|t| t.borrow().clone());
    let step = with(|s| {
        let stored = s.store.get(SENDER_KEY);
        let step = lease_step(
            stored.as_deref(),
            &me,
            now,
            s.tracker.outbox.is_sender(),
            CLAIMED.with(Cell::get),
        );
        match &step {
            LeaseStep::Write(v) => {
                CLAIMED.with(|c| c.set(!s.tracker.outbox.is_sender()));
                s.store.try_set(SENDER_KEY, v);
            }
            LeaseStep::StepDown => {
                CLAIMED.with(|c| c.set(false));
                s.tracker.outbox.step_down();
            }
            LeaseStep::Become | LeaseStep::Wait => CLAIMED.with(|c| c.set(false)),
        }
        step
    });
    if step == Some(LeaseStep::Become) {
        become_sender();
    }
}

/// The page is going away or into the back-forward cache: stop sending and
/// let another tab (or the next load) take over.
pub fn step_down() {
    with(|s| {
        s.tracker.outbox.step_down();
        if s.store
            .get(SENDER_KEY)
            .is_some_and(|v| TAB_ID.with(|t| v.starts_with(t.borrow().as_str())))
        {
            s.store.remove(SENDER_KEY);
        }
    });
    if let Some(release) = RELEASE.with(|r| r.borrow_mut().take()) {
        let _ = release.call0(&JsValue::NULL);
    }
}

/// A `storage` event: another tab wrote an event; the sender adopts it.
pub fn on_storage(key: Option<String>, value: Option<String>) {
    let Some(key) = key else {
        return;
    };
    // Another tab changed the visitor or the session: take it over, so every
    // tab records the same visitor and session without reading storage per
    // event.
    if key == super::ANONYMOUS_ID_KEY || key == super::USER_ID_KEY {
        with(|s| {
            let anonymous = s.store.get(super::ANONYMOUS_ID_KEY);
            let user = s.store.get(super::USER_ID_KEY).filter(|u| !u.is_empty());
            s.tracker.sync_identity(anonymous, user);
        });
        return;
    }
    if key == crate::core::visit::SESSION_KEY {
        with(|s| s.session = value);
        return;
    }
    let Some(value) = value else {
        return;
    };
    if !key.starts_with(crate::core::outbox::EVENT_PREFIX) {
        return;
    }
    let now = env::now();
    with(|s| {
        super::profile::adopt(s, &value, now);
        s.tracker.outbox.adopt(&key, &value, now);
        apply_ops(s);
    });
    super::profile::announce(super::profile::Cause::OtherTab);
    super::pump();
}
