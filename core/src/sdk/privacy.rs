//! Consent for tracking, Global Privacy Control and Do Not Track, what
//! leaves the device, and erasure.
//!
//! Tracking is in one of three states ([`Tracking`]), worked out from the
//! config's `privacy` section, the visitor's stored choice
//! (`consent.analytics`), and the browser's signals:
//!
//! - **allowed**: events are stored (one key each) and sent, as the
//!   `send` mode says;
//! - **pending** (`consent: "required"`, no choice yet): nothing is written
//!   to storage and nothing is sent; events wait in memory for this page,
//!   to be stored and sent once the visitor agrees, or dropped if they
//!   refuse;
//! - **denied** (an opt-out, a refusal, or GPC/DNT without an explicit
//!   agreement): nothing is queued or sent, the queue and the stored ids
//!   are discarded at once, here and (through the `storage` event) in every
//!   tab.
//!
//! Personalization works in every state: it reads the profile on the
//! device, which never leaves it. The consent choice itself is stored (a
//! strictly necessary record of the visitor's decision), so that every tab
//! and every later page honours it.

use super::{Cause, Effect, Sdk, ANONYMOUS_ID_KEY, CONSENT_KEY, USER_ID_KEY};
use crate::decide::condition::JsHost;
use crate::support::json::Json;
use crate::support::rng::Rng;
use crate::track::outbox::{Durability, DROPPED_KEY, EVENT_PREFIX, LEASES_KEY, SENDER_KEY};
use crate::track::tracker::Keep;
use crate::track::visit::{Send, SESSION_KEY};

/// Storage key of the anonymous ids whose erasure the collector has not
/// confirmed yet (comma-separated).
pub const ERASE_KEY: &str = "sillage.erase";

/// Whether events may be stored and sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tracking {
    /// Stored and sent (as the `send` mode says).
    Allowed,
    /// Held in memory until the visitor decides.
    Pending,
    /// Neither stored nor sent.
    Denied,
}

/// The browser's privacy signals, read at boot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Signals {
    /// `navigator.globalPrivacyControl === true`.
    pub gpc: bool,
    /// `navigator.doNotTrack === "1"` (or `window.doNotTrack`).
    pub dnt: bool,
}

/// The event that shares a session's top interests in `"summary"` mode.
pub const INTERESTS_EVENT: &str = "Interests Shared";
/// Most interests shared per session.
pub const SHARED_INTERESTS: usize = 3;

/// The top interests as shared in `"summary"` mode: each one, independently,
/// is replaced with probability `noise` by a topic drawn uniformly from
/// `topics` (the config's topics), as the Topics API does, so that no
/// receiver learns the exact profile. With no topics to draw from, a
/// replaced interest is left out instead.
pub fn noisy_topics(top: &[String], topics: &[String], noise: f64, rng: &mut Rng) -> Vec<String> {
    let mut out = Vec::with_capacity(top.len());
    for t in top.iter().take(SHARED_INTERESTS) {
        if rng.unit() < noise {
            if topics.is_empty() {
                continue;
            }
            let i = ((rng.unit() * topics.len() as f64) as usize).min(topics.len() - 1);
            if let Some(r) = topics.get(i) {
                out.push(r.clone());
            }
        } else {
            out.push(t.clone());
        }
    }
    out
}

impl<H: JsHost> Sdk<H> {
    /// Whether events may be stored and sent, now.
    pub(super) fn tracking(&self) -> Tracking {
        let p = &self.privacy;
        match self.analytics {
            Some(true) => Tracking::Allowed,
            Some(false) => Tracking::Denied,
            None if (p.respect_gpc && self.signals.gpc) || (p.respect_dnt && self.signals.dnt) => {
                Tracking::Denied
            }
            None if p.consent_required => Tracking::Pending,
            None => Tracking::Allowed,
        }
    }

    /// What becomes of an event named `name` (`None`: a page view), as
    /// tracking and the `send` mode say.
    pub(super) fn keep(&self, name: Option<&str>) -> Keep {
        if self.tracking() == Tracking::Denied || self.on_device_only {
            return Keep::Local;
        }
        match self.privacy.send {
            Send::Events => Keep::Queue,
            Send::None => Keep::Local,
            Send::Summary => match name {
                Some("Journey Stage Changed") | Some(INTERESTS_EVENT) => Keep::Summary,
                _ => Keep::Local,
            },
        }
    }

    /// Whether values about this visitor (the profile) may be written to
    /// storage now: not while consent is pending, and, where the config
    /// requires consent, only once it was given.
    pub(super) fn may_store(&self) -> bool {
        self.storage_works
            && match self.tracking() {
                Tracking::Allowed => true,
                Tracking::Pending => false,
                Tracking::Denied => !self.privacy.consent_required,
            }
    }

    /// Whether batches may leave now.
    pub(super) fn may_send(&self) -> bool {
        self.tracking() == Tracking::Allowed && self.privacy.send != Send::None
    }

    /// Brings storage and sending in line with the tracking state: when
    /// allowed, what waited in memory is written (ids, session, queue) and
    /// this tab enters the election of the sending tab; when denied, the
    /// queue and the stored ids are discarded.
    pub(super) fn sync_privacy(&mut self) {
        match self.tracking() {
            Tracking::Allowed => {
                if !self.storage_works || self.durable() {
                    return;
                }
                self.tracker.outbox.promote();
                let ids = self.tracker.identity().clone();
                self.put(ANONYMOUS_ID_KEY, ids.anonymous_id);
                if let Some(u) = ids.user_id {
                    self.put(USER_ID_KEY, u);
                }
                if let Some(s) = self.session.clone() {
                    self.put(SESSION_KEY, s);
                }
                self.store_ops();
                self.profile_dirty.get_or_insert(0.0);
                self.after_writes(if self.tabs.web_locks {
                    Effect::Elect
                } else {
                    Effect::ReadLease
                });
            }
            Tracking::Pending => {}
            Tracking::Denied => {
                let was_stored = self.durable();
                self.tracker.outbox.discard();
                self.own.clear();
                if was_stored || self.ids_stored {
                    self.discard_stored();
                }
            }
        }
        self.ids_stored = self.durable();
    }

    /// Deletes what tracking stored: the queue, the ids, the session, the
    /// leases, the exposures; and stops sending.
    fn discard_stored(&mut self) {
        self.after_writes(Effect::StoreClear(EVENT_PREFIX.to_string()));
        for k in [
            ANONYMOUS_ID_KEY,
            USER_ID_KEY,
            SESSION_KEY,
            LEASES_KEY,
            DROPPED_KEY,
            crate::decide::render::EXPOSURES_KEY,
        ] {
            self.delete(k);
        }
        self.after_writes(Effect::ReleaseLock);
        if !self.tabs.web_locks {
            self.delete(SENDER_KEY);
        }
    }

    /// `consent({analytics})`: the visitor's choice about tracking. An
    /// agreement that overrides Global Privacy Control or Do Not Track
    /// counts only from the visitor's own action (a click or a key in this
    /// task: `navigator.userActivation.isActive`).
    /// Returns whether the choice was taken.
    pub(super) fn analytics_choice(&mut self, agreed: bool, activated: bool) -> bool {
        let signal = (self.privacy.respect_gpc && self.signals.gpc)
            || (self.privacy.respect_dnt && self.signals.dnt);
        if agreed && signal && !activated {
            let d = crate::support::diag::Diagnostic::new(
                "consent.analytics",
                crate::t!("the browser asks not to be tracked (Global Privacy Control or Do Not Track); only the visitor's own action (a click) can agree, so this call was ignored"),
            );
            self.warn_diag(&d);
            return false;
        }
        self.analytics = Some(agreed);
        if self.phase == super::Phase::Ready {
            self.sync_privacy();
        }
        true
    }

    /// Another tab stored a consent choice.
    pub(super) fn consent_stored(&mut self) {
        self.analytics = self.slots.consent.get("analytics").and_then(Json::as_bool);
        if self.phase == super::Phase::Ready {
            self.sync_privacy();
        }
    }

    /// The erasure URL of the reference collector: `…/v1/batch` (or `/b`)
    /// gives `…/v1/forget`. Other pipelines erase with their own tools.
    pub(super) fn forget_url(&self) -> Option<String> {
        let url = self.tracker.collector_url()?;
        let path = url.split(['?', '#']).next().unwrap_or(url);
        let (base, last) = path.rsplit_once('/')?;
        matches!(last, "batch" | "b").then(|| {
            let mut u = String::from(base);
            u.push_str("/forget");
            u
        })
    }

    /// Sends the erasure requests still owed (ids forgotten on an earlier
    /// page that the collector did not confirm).
    pub(super) fn erase_pending(&mut self) {
        if self.erasing.is_empty() || self.erase_in_flight {
            return;
        }
        let Some(url) = self.forget_url() else {
            return;
        };
        let mut body = String::from("{\"anonymousId\":");
        crate::support::json::push_str_literal(&mut body, &self.erasing[0]);
        if let Some(k) = self.tracker.write_key() {
            body.push_str(",\"writeKey\":");
            crate::support::json::push_str_literal(&mut body, k);
        }
        body.push('}');
        self.erase_in_flight = true;
        self.after_writes(Effect::Erase { url, body });
    }

    /// What the collector answered to an erasure request.
    pub(super) fn erased(&mut self, ok: bool) {
        self.erase_in_flight = false;
        if ok && !self.erasing.is_empty() {
            self.erasing.remove(0);
        }
        if self.storage_works {
            if self.erasing.is_empty() {
                self.delete(ERASE_KEY);
            } else {
                let v = self.erasing.join(",");
                self.put(ERASE_KEY, v);
            }
        }
        for id in std::mem::take(&mut self.forgetting) {
            self.effects.push_back(Effect::Settle { id, ok: true });
        }
        if ok {
            // The next one, if several are owed.
            self.erase_pending();
        }
    }

    /// In `"summary"` mode, at the start of each session: the visitor's
    /// top interests, with noise.
    pub(super) fn share_interests(&mut self, now: crate::support::time::Millis) {
        if self.privacy.send != Send::Summary || self.tracking() == Tracking::Denied {
            return;
        }
        let Some(view) = self.profile.as_ref().map(|p| p.view(now)) else {
            return;
        };
        let top = view.top_interests.unwrap_or_default();
        if top.is_empty() {
            return;
        }
        let shared = noisy_topics(&top, &self.topics, self.privacy.noise, &mut self.rng);
        if shared.is_empty() {
            return;
        }
        self.record(
            crate::track::event::Call::Track {
                event: INTERESTS_EVENT.into(),
                properties: Json::obj().with(
                    "topics",
                    Json::Arr(shared.into_iter().map(Json::Str).collect()),
                ),
            },
            &super::PageNow::default(),
            crate::track::visit::Activity::Other,
            now,
        );
        self.announce(Cause::OwnEvent, now);
    }

    /// Whether events are kept in storage now.
    pub(super) fn storage_label(&self) -> &'static str {
        if self.tracker.outbox.durability() == Durability::Storage {
            "local"
        } else {
            "memory"
        }
    }

    /// The consent record stored: the visitor's choices.
    pub(super) fn store_consent(&mut self) {
        if !self.storage_works {
            return;
        }
        let text = self.encode(&self.slots.consent);
        self.put(CONSENT_KEY, text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_replaces_an_interest_at_the_configured_rate() {
        let mut rng = Rng::new([9; 32]);
        let topics: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        let top: Vec<String> = ["x", "y", "z", "w"].iter().map(|s| s.to_string()).collect();
        // 100,000 simulated visitors, 3 interests each.
        let (mut replaced, mut shared) = (0u32, 0u32);
        for _ in 0..100_000 {
            let out = noisy_topics(&top, &topics, 0.05, &mut rng);
            assert_eq!(
                out.len(),
                3,
                "at most 3, none lost with topics to draw from"
            );
            for (o, t) in out.iter().zip(&top) {
                shared += 1;
                if o != t {
                    assert!(topics.contains(o));
                    replaced += 1;
                }
            }
        }
        let rate = f64::from(replaced) / f64::from(shared);
        assert!((0.045..=0.055).contains(&rate), "replacement rate {rate}");
        // Without topics to draw from, a replaced interest is left out.
        let mut left_out = 0;
        for _ in 0..10_000 {
            left_out += 3 - noisy_topics(&top, &[], 0.05, &mut rng).len();
        }
        let rate = left_out as f64 / 30_000.0;
        assert!((0.04..=0.06).contains(&rate), "left out {rate}");
        assert_eq!(noisy_topics(&top, &topics, 0.0, &mut rng), top[..3]);
    }
}
