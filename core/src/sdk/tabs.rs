//! Many tabs, one visitor: the sending tab's election, what other tabs
//! change in storage, and the browser's `keepalive` budget.
//!
//! Every tab writes its events to storage; exactly one, the *sender*, reads
//! them all and sends them: the holder of the Web Lock `sillage:sender`, or,
//! where `navigator.locks` is missing, of a lease key renewed by a
//! heartbeat (`core::outbox::lease_step`). Other tabs' changes of the
//! visitor, the session, consent and the queue arrive as `storage` events,
//! so recording an event reads no storage.
//!
//! `keepalive`: Chromium lets a page have at most 64 KiB of `keepalive`
//! request bodies in flight, beacons included, and a request's share comes
//! back only when it completes. So a batch is sent with `keepalive` (it
//! then survives the page closing) only while the bodies in flight leave
//! room; beyond that it is sent without, which only risks a retry from the
//! next page, never a request refused by the browser.

use super::{Cause, Effect, Sdk, ANONYMOUS_ID_KEY, CONSENT_KEY, PROFILE_KEY, USER_ID_KEY};
use crate::decide::condition::JsHost;
use crate::support::diag::push_usize;
use crate::support::json::Json;
use crate::support::time::Millis;
use crate::track::event::uuid_v4;
use crate::track::outbox::{
    lease_step, LeaseStep, StoreOp, EVENT_PREFIX, SENDER_HEARTBEAT_MS, SENDER_KEY,
};
use crate::track::visit::SESSION_KEY;

/// Storage key a tab writes to ask the sending tab to flush now.
pub const FLUSH_KEY: &str = "sillage.flush";

/// Chromium's budget of `keepalive` bodies in flight per page.
pub const KEEPALIVE_BUDGET: usize = 65_536;
/// Room left in the budget for what a page hide sends.
pub const KEEPALIVE_MARGIN: usize = 4_096;
/// How long a beacon's body is counted against the budget (it gives no
/// completion).
pub const BEACON_COUNTED_MS: Millis = 10_000.0;

/// The tabs' state. See the module docs.
#[derive(Debug, Default)]
pub(super) struct Tabs {
    /// Whether `navigator.locks` exists.
    pub web_locks: bool,
    /// The stored profile text read at boot (parsed with the config's model).
    pub stored_profile: Option<String>,
    /// This tab's id in the storage-lease election.
    id: String,
    /// The lease election: this tab wrote a claim at the last heartbeat.
    claimed: bool,
    /// Next heartbeat.
    heartbeat_at: Option<Millis>,
    /// Bodies sent with `keepalive` and not settled: (batch, or 0 for a
    /// beacon; bytes; until when a beacon is counted).
    keepalive: Vec<(u64, usize, Millis)>,
}

impl Tabs {
    /// Whether batch `batch`'s body of `len` bytes may go with
    /// `keepalive` now (leaving a margin for the beacons of a page hide),
    /// counting it if so.
    pub fn keepalive_for(&mut self, batch: u64, len: usize) -> bool {
        let used: usize = self.keepalive.iter().map(|k| k.1).sum();
        let ok = used + len <= KEEPALIVE_BUDGET - KEEPALIVE_MARGIN;
        if ok {
            self.keepalive.push((batch, len, f64::INFINITY));
        }
        ok
    }

    /// A beacon of `len` bytes was handed to the browser at `now`.
    pub fn beaconed(&mut self, len: usize, now: Millis) {
        self.keepalive.push((0, len, now + BEACON_COUNTED_MS));
    }

    /// A response came back: its `keepalive` share is free again (the shell
    /// consumed or cancelled its body before reporting it).
    pub fn settled(&mut self, batch: u64) {
        self.keepalive.retain(|k| k.0 != batch || k.0 == 0);
    }

    /// Beacons old enough are assumed done.
    fn expire(&mut self, now: Millis) {
        self.keepalive.retain(|k| k.2 > now);
    }

    pub fn poll_timeout(&self) -> Option<Millis> {
        let beacons = self
            .keepalive
            .iter()
            .filter(|k| k.2.is_finite())
            .map(|k| k.2)
            .reduce(f64::min);
        match (self.heartbeat_at, beacons) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

impl<H: JsHost> Sdk<H> {
    /// This tab won the election: it takes over every stored event.
    pub(super) fn become_sender(&mut self, entries: &[(String, String)], now: Millis) {
        let r = self.tracker.outbox.restore(entries, now);
        if r.corrupt > 0 {
            let mut m = String::from("discarded ");
            push_usize(&mut m, r.corrupt);
            m.push_str(" unreadable stored values");
            self.warn(m);
        }
        self.store_ops();
    }

    /// The page is going away (or into the back-forward cache): this tab
    /// stops sending and lets another tab, or the next load, take over.
    pub(super) fn step_down(&mut self) {
        if !self.durable() {
            return;
        }
        self.tracker.outbox.step_down();
        if !self.tabs.web_locks && !self.tabs.id.is_empty() {
            // Our lease ends now rather than in 5 s.
            self.tabs.claimed = false;
            self.tabs.heartbeat_at = None;
            self.write(StoreOp::Delete {
                key: SENDER_KEY.to_string(),
            });
        }
        self.after_writes(Effect::ReleaseLock);
    }

    /// One heartbeat of the storage-lease election (no Web Locks):
    /// `stored` is the lease key's value now.
    pub(super) fn heartbeat(&mut self, stored: Option<&str>, now: Millis) {
        if self.tabs.id.is_empty() {
            self.tabs.id = uuid_v4(self.rng.bytes16());
        }
        let sender = self.tracker.outbox.is_sender();
        let step = lease_step(stored, &self.tabs.id, now, sender, self.tabs.claimed);
        self.tabs.heartbeat_at = Some(now + SENDER_HEARTBEAT_MS);
        match step {
            LeaseStep::Write(v) => {
                self.tabs.claimed = !sender;
                self.write(StoreOp::Put {
                    key: SENDER_KEY.to_string(),
                    value: v,
                });
            }
            LeaseStep::StepDown => {
                self.tabs.claimed = false;
                self.tracker.outbox.step_down();
            }
            LeaseStep::Become => {
                self.tabs.claimed = false;
                // This tab sends now: the shell reads every stored entry
                // and answers with `Input::Sender`.
                self.after_writes(Effect::ReadQueue);
            }
            LeaseStep::Wait => self.tabs.claimed = false,
        }
    }

    /// Another tab changed a stored value.
    pub(super) fn storage_changed(
        &mut self,
        key: Option<String>,
        value: Option<String>,
        now: Millis,
    ) {
        let Some(key) = key else {
            return;
        };
        match key.as_str() {
            // Another tab forgot the visitor (`forget()`): this tab forgets
            // them too, so that nothing it still holds leaves or is stored
            // again under the old id, and its next event gets a new one.
            // It lets go of the sender lock first, as the tab that forgot
            // did: its next event elects a sender again, which would wait
            // for the lock it still holds.
            super::FORGET_KEY if value.is_some() => {
                self.step_down();
                self.forget_here()
            }
            ANONYMOUS_ID_KEY | USER_ID_KEY => {
                // Tabs of a site share one visitor: the last one stored wins.
                let (a, u) = if key == ANONYMOUS_ID_KEY {
                    (value, None)
                } else {
                    (None, value.filter(|u| !u.is_empty()))
                };
                self.tracker.sync_identity(a, u);
            }
            SESSION_KEY => self.session = value,
            CONSENT_KEY => {
                let v = value.and_then(|t| self.host.parse_json(&t));
                self.slots.consent = v
                    .filter(|v| matches!(v, Json::Obj(_)))
                    .unwrap_or_else(Json::obj);
                self.consent_stored();
                self.slots.consent_changed(&mut self.effects, now);
            }
            FLUSH_KEY => self.tracker.outbox.batcher.flush(),
            PROFILE_KEY | SENDER_KEY => {}
            _ => {
                let Some(id) = key.strip_prefix(EVENT_PREFIX) else {
                    return;
                };
                match value {
                    // The sending tab deleted it: delivered (or dropped).
                    None => self.forget_pending(id),
                    Some(v) => {
                        // Another tab's event: the profile learns it, the
                        // sender adopts it.
                        if let Some((_, _, json)) = crate::track::outbox::decode_record(&v) {
                            if let (Some(ev), Some(p)) =
                                (self.host.parse_json(json), self.profile.as_mut())
                            {
                                p.apply(&ev, now);
                                self.profile_dirty.get_or_insert(now);
                            }
                        }
                        self.tracker.outbox.adopt(&key, &v, now);
                        self.store_ops();
                        self.announce(Cause::OtherTab, now);
                        self.slots.inputs_changed(&mut self.effects);
                    }
                }
            }
        }
    }

    /// Storage refused a write: from now on this tab keeps its events in
    /// memory and sends them itself (one warning; nothing is lost).
    pub(super) fn store_failed(&mut self, op: StoreOp) {
        let event = matches!(&op, StoreOp::Put { key, .. } if key.starts_with(EVENT_PREFIX));
        if self.storage_works {
            self.warn("localStorage is unavailable; keeping state in memory for this page only");
        }
        // Storage refused once: this page keeps to memory from now on.
        self.storage_works = false;
        if event || self.durable() {
            self.tracker.outbox.fall_back_to_memory(op);
        }
    }

    /// Timers of the tabs: expired beacons, the next heartbeat (asked of
    /// the shell as an election step with the lease key's value).
    pub(super) fn tabs_timeout(&mut self, now: Millis) {
        self.tabs.expire(now);
        if self.tabs.heartbeat_at.is_some_and(|t| t <= now) {
            self.tabs.heartbeat_at = None;
            self.after_writes(Effect::ReadLease);
        }
    }

    /// A response came back for `batch`.
    pub(super) fn response_settled(&mut self, batch: u64) {
        self.tabs.settled(batch);
    }
}
