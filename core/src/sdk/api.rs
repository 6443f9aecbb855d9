//! The public methods as data, and what each does.

use super::{Cause, Effect, Phase, Sdk, ANONYMOUS_ID_KEY, USER_ID_KEY};
use crate::decide::condition::JsHost;
use crate::support::diag::{key_path, Diagnostic};
use crate::support::json::Json;
use crate::support::time::Millis;
use crate::t;
use crate::track::event::{self, uuid_v4, PageContext};
use crate::track::outbox::PREFIX;
use crate::track::tracker::{JsonEncoder, Moment};
use crate::track::visit::Activity;

/// A value the page passed, as the shell converted it.
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    /// Not given (`undefined`).
    Missing,
    /// JSON data (`null` included), and the values that were left out of it
    /// because JSON cannot hold them (a DOM node, a class instance, a
    /// function): `(path, what it was)`.
    Json(Json, Vec<(String, String)>),
    /// Nothing usable: why (a cycle, a value JSON cannot hold at the top).
    Invalid(String),
    /// A string longer than a whole event may be (its length in UTF-16
    /// units, at `path` inside the argument): the shell refuses it before
    /// copying it, so a megabyte of text costs nothing.
    TooLong(String, usize),
}

/// The longest string an argument may hold, in UTF-16 units: longer is
/// always over the 32 KB of JSON an event may be
/// ([`crate::track::tracker::MAX_EVENT_BYTES`]).
pub const MAX_STRING_UNITS: usize = crate::track::tracker::MAX_EVENT_BYTES;

impl Arg {
    /// Plain JSON data, nothing left out.
    pub fn json(v: impl Into<Json>) -> Arg {
        Arg::Json(v.into(), Vec::new())
    }

    fn value(&self) -> Option<&Json> {
        match self {
            Arg::Json(v, _) => Some(v),
            _ => None,
        }
    }

    fn str(&self) -> Option<&str> {
        self.value().and_then(Json::as_str)
    }

    /// The value for `path`: `Null` when missing; a diagnostic when
    /// invalid. Values left out are reported as warnings into `notes`.
    fn take(self, path: &str, notes: &mut Vec<Diagnostic>) -> Result<Json, Diagnostic> {
        match self {
            Arg::Missing => Ok(Json::Null),
            Arg::Json(v, dropped) => {
                for (at, what) in dropped {
                    let mut p = String::from(path);
                    if !at.is_empty() {
                        p.push('.');
                        p.push_str(&at);
                    }
                    notes.push(Diagnostic::new(p, t!("{} is not JSON data; left out")).arg(&what));
                }
                Ok(v)
            }
            Arg::TooLong(at, units) => {
                let mut p = String::from(path);
                if !at.is_empty() {
                    p.push('.');
                    p.push_str(&at);
                }
                Err(Diagnostic::new(
                    p,
                    t!("is a string of {} characters, more than an event may hold (32 KB of JSON)"),
                )
                .num(units as u64))
            }
            Arg::Invalid(why) => Err(if why.is_empty() {
                Diagnostic::new(path, t!("is not JSON-compatible"))
            } else {
                Diagnostic::new(path, t!("is not JSON-compatible: {}")).arg(&why)
            }),
        }
    }
}

/// What the page looks like at a call: the two reads that may change
/// between calls (the rest follows from the URL, or is fixed for the page
/// load), and, for page views, the page's topic hints.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PageNow {
    /// `location.href`.
    pub href: String,
    /// `document.title`.
    pub title: String,
    /// `<meta name="sillage:topics">` and `data-sillage-topics` on `<body>`
    /// and `<main>`, lower-cased (page views only).
    pub hints: Vec<String>,
}

/// A public method call, with its arguments as the page gave them.
#[derive(Clone, Debug, PartialEq)]
pub enum Call {
    /// `track(event, properties?)`
    Track {
        /// The event name.
        event: Arg,
        /// Its properties.
        properties: Arg,
    },
    /// `page(category?, name?, properties?)`, Segment's overloads: an
    /// object first is the properties; one string is the name; two are the
    /// category and the name.
    Page {
        /// The first argument.
        a: Arg,
        /// The second.
        b: Arg,
        /// The third.
        c: Arg,
    },
    /// `identify(userId?, traits?)`
    Identify {
        /// The site's user id.
        user_id: Arg,
        /// Traits.
        traits: Arg,
    },
    /// `group(groupId, traits?)`
    Group {
        /// The account or company id.
        group_id: Arg,
        /// Its traits.
        traits: Arg,
    },
    /// `alias(userId, previousId?)`
    Alias {
        /// The new id.
        user_id: Arg,
        /// The id it replaces (default: the current user id, else the
        /// anonymous id).
        previous_id: Arg,
    },
    /// `reset()`: a new anonymous id, no user; the profile stays.
    Reset,
    /// `flush()`, resolving promise `id`.
    Flush(u64),
    /// `forget()`, resolving promise `id`.
    Forget(u64),
    /// `ready(callback)`: callback `id`, or `None` when not a function.
    Ready(Option<u64>),
    /// `on(event, callback)`.
    On {
        /// The event name.
        event: Arg,
        /// The callback's id, or `None` when not a function.
        callback: Option<u64>,
    },
    /// `interest(topic, weight)`; the topic lower-cased by the browser.
    Interest {
        /// The topic.
        topic: Arg,
        /// 0 to 1.
        weight: Arg,
    },
    /// `consent(choices)`, and whether the visitor's own action is behind
    /// it (`navigator.userActivation.isActive`).
    Consent(Arg, bool),
    /// `attributes(object)`
    Attributes(Arg),
}

/// A click, with what the shell found around its target.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Click {
    /// Viewport coordinates.
    pub x: f64,
    /// See [`Click::x`].
    pub y: f64,
    /// The target's tag name, lower-cased.
    pub tag: String,
    /// The closest `[data-sillage-track]`: its name and the text of its
    /// `data-sillage-props`.
    pub tracked: Option<(String, Option<Result<Json, ()>>)>,
    /// The closest `a[href]`'s resolved URL.
    pub link: Option<String>,
    /// The closest link or button is there (for `Personalization Clicked`).
    pub actionable: bool,
    /// The closest slot (its id) and the closest recommended item's id.
    pub slot: Option<(super::SlotId, Option<String>)>,
    /// `location.hostname`.
    pub host: String,
}

/// Event names `on` accepts.
const EVENTS: &[&str] = &["stage"];

impl<H: JsHost> Sdk<H> {
    /// A public method.
    pub(super) fn api(&mut self, call: Call, page: PageNow, now: Millis) {
        // Calls that record or send wait for the config and the landing;
        // `flush` and `forget` too, so that they come after the events the
        // page recorded before them.
        let waits = matches!(
            call,
            Call::Track { .. }
                | Call::Page { .. }
                | Call::Identify { .. }
                | Call::Group { .. }
                | Call::Alias { .. }
                | Call::Reset
                | Call::Flush(_)
                | Call::Forget(_)
        );
        // (Before `boot`, calls are recorded at once with the defaults.)
        if waits && self.phase == Phase::Loading {
            self.held.push((call, page));
            return;
        }
        match call {
            Call::Track { event, properties } => {
                let mut notes = Vec::new();
                let built = (|| {
                    Ok(event::Call::Track {
                        event: event.take("track.event", &mut notes)?,
                        properties: properties.take("track.properties", &mut notes)?,
                    })
                })();
                self.record_call(built, notes, &page, Activity::Other, now);
            }
            Call::Page { a, b, c } => {
                let mut notes = Vec::new();
                let built = page_call(a, b, c, &mut notes);
                self.record_call(built, notes, &page, Activity::PageView, now);
            }
            Call::Identify { user_id, traits } => {
                let mut notes = Vec::new();
                let built = (|| {
                    Ok(event::Call::Identify {
                        user_id: user_id.take("identify.userId", &mut notes)?,
                        traits: traits.take("identify.traits", &mut notes)?,
                    })
                })();
                if self.record_call(built, notes, &page, Activity::Other, now) {
                    if let Some(u) = self.tracker.identity().user_id.clone() {
                        if self.durable() {
                            self.put(USER_ID_KEY, u);
                        }
                    }
                }
            }
            Call::Group { group_id, traits } => {
                let mut notes = Vec::new();
                let built = (|| {
                    Ok(event::Call::Group {
                        group_id: group_id.take("group.groupId", &mut notes)?,
                        traits: traits.take("group.traits", &mut notes)?,
                    })
                })();
                self.record_call(built, notes, &page, Activity::Other, now);
            }
            Call::Alias {
                user_id,
                previous_id,
            } => {
                let mut notes = Vec::new();
                let built = (|| {
                    Ok(event::Call::Alias {
                        user_id: user_id.take("alias.userId", &mut notes)?,
                        previous_id: previous_id.take("alias.previousId", &mut notes)?,
                    })
                })();
                if self.record_call(built, notes, &page, Activity::Other, now) {
                    if let Some(u) = self.tracker.identity().user_id.clone() {
                        if self.durable() {
                            self.put(USER_ID_KEY, u);
                        }
                    }
                }
            }
            Call::Reset => self.reset(),
            Call::Flush(id) => self.flush(id),
            Call::Forget(id) => self.forget(id, now),
            Call::Ready(cb) => match cb {
                None => {
                    self.warn_diag(&Diagnostic::new("ready", t!("callback must be a function")))
                }
                Some(cb) if self.phase == Phase::Ready => self.effects.push_back(Effect::Call(cb)),
                Some(cb) => self.ready_callbacks.push(cb),
            },
            Call::On { event, callback } => {
                let name = event.str().unwrap_or_default().to_string();
                if !EVENTS.contains(&name.as_str()) {
                    let d = Diagnostic::unknown("on", t!("unknown event \"{}\""), &name, EVENTS);
                    self.warn_diag(&d);
                } else if let Some(cb) = callback {
                    self.stage_listeners.push(cb);
                } else {
                    self.warn_diag(&Diagnostic::new("on", t!("callback must be a function")));
                }
            }
            Call::Interest { topic, weight } => self.interest(topic, weight, now),
            Call::Consent(choices, activated) => self.consent(choices, activated, now),
            Call::Attributes(values) => self.attributes(values, now),
        }
    }

    /// Records an event built from a call (or reports why it could not be):
    /// `true` when it was recorded.
    pub(super) fn record_call(
        &mut self,
        call: Result<event::Call, Diagnostic>,
        notes: Vec<Diagnostic>,
        page: &PageNow,
        activity: Activity,
        now: Millis,
    ) -> bool {
        for n in &notes {
            self.warn_diag(n);
        }
        match call {
            Ok(call) => self.record(call, page, activity, now),
            Err(d) => {
                self.say(&d, "; the event was dropped");
                false
            }
        }
    }

    /// Records one event now: the visit, the outbox, the profile.
    pub(super) fn record(
        &mut self,
        call: event::Call,
        page: &PageNow,
        activity: Activity,
        now: Millis,
    ) -> bool {
        // Storage is taken up when the first event may be stored (calls
        // before `boot` use the defaults: tracking implied).
        if !self.durable() && self.storage_works && self.tracking() == super::Tracking::Allowed {
            self.sync_privacy();
        }
        if let event::Call::Track {
            event: Json::Str(name),
            properties,
        } = &call
        {
            for d in crate::track::journey_events::check_track(name, properties) {
                self.warn_diag(&d);
            }
        }
        let activity = match activity {
            Activity::Other => Activity::Other,
            _ if self.landed => Activity::PageView,
            _ => Activity::Landing,
        };
        self.sync_page(page);
        let ctx = self.page.clone().capped();
        let hints = if activity == Activity::Other {
            Vec::new()
        } else {
            page.hints.clone()
        };
        let moment = Moment {
            page: &ctx,
            activity,
            hints: &hints,
            stored_session: self.session.as_deref(),
            device: self.device,
        };
        let random = [self.rng.bytes16(), self.rng.bytes16()];
        let encoder = super::HostEncoder(&self.host);
        let keep = self.keep(match &call {
            event::Call::Track {
                event: Json::Str(n),
                ..
            } => Some(n.as_str()),
            _ => None,
        });
        let result = self
            .tracker
            .record(call, &moment, now, random, &encoder, keep);
        match result {
            Ok(r) => {
                if keep != crate::track::tracker::Keep::Local {
                    self.own_recorded(r.message_id.clone());
                }
                self.landed |= activity != Activity::Other;
                if let Some(p) = self.profile.as_mut() {
                    p.apply(&r.event, now);
                    self.profile_dirty.get_or_insert(now);
                }
                if let Some(session) = r.store_session {
                    if self.durable() {
                        self.put(crate::track::visit::SESSION_KEY, session.clone());
                    }
                    self.session = Some(session);
                }
                let started = r.event.get_path("context.sillage.sessionStart").is_some();
                self.store_ops();
                self.announce(Cause::OwnEvent, now);
                self.slots.inputs_changed(&mut self.effects);
                if started && activity != Activity::Other {
                    self.share_interests(now);
                }
                true
            }
            Err(d) => {
                self.say(&d, "; the event was dropped");
                false
            }
        }
    }

    /// Keeps the page context current: a new URL gives a new path and
    /// search (from the URL itself), the title is read at every call.
    pub(super) fn sync_page(&mut self, page: &PageNow) {
        if page.href.is_empty() {
            return;
        }
        if page.href != self.page.url {
            let (path, search) = match crate::support::url::parse(&page.href) {
                Some(u) => {
                    let mut search = String::new();
                    if !u.query.is_empty() {
                        search.push('?');
                        search.push_str(u.query);
                    }
                    (u.path.to_string(), search)
                }
                None => (String::new(), String::new()),
            };
            self.page = PageContext {
                url: page.href.clone(),
                path,
                search,
                referrer: self.page.referrer.clone(),
                title: page.title.clone(),
            };
        } else {
            self.page.title.clone_from(&page.title);
        }
    }

    fn reset(&mut self) {
        let id = uuid_v4(self.rng.bytes16());
        self.tracker.new_visitor(id.clone());
        if self.durable() {
            self.put(ANONYMOUS_ID_KEY, id);
            self.delete(USER_ID_KEY);
        }
    }

    fn flush(&mut self, id: u64) {
        self.tracker.outbox.batcher.flush();
        // What it waits for: everything this tab recorded until now.
        let pending: Vec<String> = self.own.iter().cloned().collect();
        self.flushes.push((id, pending));
        // The sending tab may be another one: ask it (a storage key).
        if !self.tracker.outbox.is_sender() && self.durable() {
            let mut v = String::new();
            crate::support::diag::push_u64(&mut v, self.own.len() as u64);
            v.push('@');
            crate::support::diag::push_u64(&mut v, self.rng.bytes16()[0] as u64);
            self.put(super::tabs::FLUSH_KEY, v);
        }
    }

    /// Settles the flushes that can be: once what they wait for was
    /// acknowledged (`true`), or when it cannot be (no collector, a send
    /// failed and waits for its retry, nothing may be sent now: consent
    /// pending or refused, `send: "none"`: `false`).
    pub(super) fn settle_flushes(&mut self) {
        if self.flushes.is_empty() || self.phase != Phase::Ready {
            return;
        }
        // Events held until consent, or discarded by a refusal, are not
        // acknowledged: waiting for them would never end.
        let no_collector = self.tracker.collector_url().is_none() || !self.may_send();
        let sender = self.tracker.outbox.is_sender();
        let b = &self.tracker.outbox.batcher;
        let failed = sender && b.retrying() && !b.in_flight();
        // A tab that does not send learns of acknowledgements when the
        // sending tab deletes the events (`storage` events).
        let mut settled = Vec::new();
        let flushes = std::mem::take(&mut self.flushes);
        for (id, waits) in flushes {
            let delivered = !no_collector && waits.iter().all(|w| !self.pending(w));
            if no_collector || failed || delivered {
                settled.push((id, delivered && !failed));
            } else {
                self.flushes.push((id, waits));
            }
        }
        for (id, ok) in settled {
            self.effects.push_back(Effect::Settle { id, ok });
        }
    }

    /// `forget()`: everything on the device goes (profile, queue, ids,
    /// experiment assignments, consent choice, session); with a collector,
    /// one erasure request for the old anonymous id (kept until the
    /// collector confirms it, and sent again from a later page if needed).
    fn forget(&mut self, id: u64, _now: Millis) {
        let old = self.tracker.identity().anonymous_id.clone();
        // This tab stops sending, as at page hide (the sender lock is let
        // go): the new visitor's first event elects a sender again, which
        // would otherwise wait for the lock this tab still holds.
        self.step_down();
        self.after_writes(Effect::StoreClear(PREFIX.to_string()));
        // Every other tab forgets them too (a value they see change).
        let mut nonce = String::new();
        crate::support::diag::push_u64(&mut nonce, u64::from(self.rng.bytes16()[0]));
        self.put(super::FORGET_KEY, nonce);
        self.delete(super::FORGET_KEY);
        self.forget_here();
        for (fid, _) in std::mem::take(&mut self.flushes) {
            self.effects
                .push_back(Effect::Settle { id: fid, ok: false });
        }
        // The new visitor's ids are written with its first event (under the
        // config's consent rules): until then the device holds nothing.
        if self.forget_url().is_some() {
            if !self.erasing.contains(&old) {
                self.erasing.push(old);
            }
            if self.storage_works {
                let v = self.erasing.join(",");
                self.put(super::privacy::ERASE_KEY, v);
            }
            self.forgetting.push(id);
            self.erase_in_flight = false;
            self.erase_pending();
        } else {
            self.effects.push_back(Effect::Settle { id, ok: true });
        }
    }

    /// Forgets the visitor in this tab's memory: a new anonymous id, no
    /// user, no queue, no session, a profile started over, no exposures, no
    /// choices. (Storage is `forget()`'s to clear.)
    pub(super) fn forget_here(&mut self) {
        let fresh = uuid_v4(self.rng.bytes16());
        self.tracker.reset(fresh);
        self.tracker.outbox.discard();
        self.own.clear();
        self.session = None;
        self.profile = self.profile.as_ref().map(|p| p.cleared());
        self.profile_dirty = None;
        self.slots.forget();
        self.slots.consent = Json::obj();
        self.analytics = None;
        self.ids_stored = false;
    }

    fn interest(&mut self, topic: Arg, weight: Arg, now: Millis) {
        let t = topic.str().map(str::trim).unwrap_or("");
        let w = weight.value().and_then(Json::as_f64);
        let (Some(w), false) = (w, t.is_empty()) else {
            self.warn_diag(&Diagnostic::new(
                "interest",
                t!("needs a topic (string) and a weight (number from 0 to 1)"),
            ));
            return;
        };
        if !(0.0..=1.0).contains(&w) {
            self.warn_diag(&Diagnostic::new(
                "interest",
                t!("needs a topic (string) and a weight (number from 0 to 1)"),
            ));
            return;
        }
        let t = t.to_string();
        if let Some(p) = self.profile.as_mut() {
            p.set_interest(&t, w, now);
            self.profile_dirty.get_or_insert(now);
        }
        self.announce(Cause::OwnEvent, now);
        self.slots.inputs_changed(&mut self.effects);
    }

    fn consent(&mut self, choices: Arg, activated: bool, now: Millis) {
        let mut notes = Vec::new();
        let entries = match choices.take("consent", &mut notes) {
            Ok(Json::Obj(e)) => e,
            Ok(_) => {
                self.warn_diag(&Diagnostic::new(
                    "consent",
                    t!("must be an object of purpose to true or false"),
                ));
                return;
            }
            Err(d) => {
                self.warn_diag(&d);
                return;
            }
        };
        let mut analytics = None;
        for (k, val) in entries {
            let Json::Bool(b) = val else {
                let d = Diagnostic::new(key_path("consent", &k), t!("must be true or false"));
                self.warn_diag(&d);
                continue;
            };
            if k == "analytics" {
                analytics = Some(b);
            } else {
                self.slots.consent.set(&k, val);
            }
        }
        if let Some(agreed) = analytics {
            if self.analytics_choice(agreed, activated) {
                self.slots.consent.set("analytics", Json::Bool(agreed));
            }
        }
        self.store_consent();
        self.slots.consent_changed(&mut self.effects, now);
    }

    fn attributes(&mut self, values: Arg, _now: Millis) {
        let mut notes = Vec::new();
        match values.take("attributes", &mut notes) {
            Ok(Json::Obj(new)) => {
                for n in &notes {
                    self.warn_diag(n);
                }
                self.slots.set_custom(new);
                self.slots.inputs_changed(&mut self.effects);
            }
            Ok(_) => self.warn_diag(&Diagnostic::new("attributes", t!("must be an object"))),
            Err(d) => self.warn_diag(&d),
        }
    }
}

/// Segment's `page` overloads: `page(properties)`, `page(name,
/// properties?)`, `page(category, name, properties?)`. A `name` (or
/// `category`) property is the event's own when no argument gives it.
fn page_call(
    a: Arg,
    b: Arg,
    c: Arg,
    notes: &mut Vec<Diagnostic>,
) -> Result<event::Call, Diagnostic> {
    let is_str = |x: &Arg| matches!(x, Arg::Json(Json::Str(_), _));
    let (category, name, properties) = match (is_str(&a), is_str(&b)) {
        (true, true) => (
            a.take("page.category", notes)?,
            b.take("page.name", notes)?,
            c.take("page.properties", notes)?,
        ),
        (true, false) => (
            Json::Null,
            a.take("page.name", notes)?,
            b.take("page.properties", notes)?,
        ),
        _ => (Json::Null, Json::Null, a.take("page.properties", notes)?),
    };
    Ok(event::Call::Page {
        category,
        name,
        properties,
    })
}

impl<H: JsHost> Sdk<H> {
    /// The anonymous id and every event not yet acknowledged, as JSON text,
    /// oldest first (test support).
    pub fn debug_state(&self) -> (String, Vec<String>) {
        (
            self.tracker.identity().anonymous_id.clone(),
            self.tracker
                .outbox
                .batcher
                .pending()
                .map(|p| p.json.clone())
                .collect(),
        )
    }

    /// Whether this tab sends.
    pub fn is_sender(&self) -> bool {
        self.tracker.outbox.is_sender()
    }

    /// `sillage.debug()`: what the journey panel shows besides the profile:
    /// consent, the queue (waiting, in flight, retrying, delivered, refused,
    /// dropped by the caps, where events are kept), whether this tab sends,
    /// whether `?sillage_debug=1` is honoured (`debugMode`), and each slot's
    /// decision explained (`Explanation::rows`).
    pub fn debug(&mut self, now: Millis) -> Json {
        let b = &self.tracker.outbox.batcher;
        let queue = Json::obj()
            .with("waiting", b.unacknowledged() as f64)
            .with("inFlight", b.in_flight())
            .with("retrying", b.retrying())
            .with("delivered", self.delivered.0 as f64)
            .with("refused", self.delivered.1 as f64)
            .with("dropped", self.tracker.outbox.dropped() as f64)
            .with("storage", self.storage_label())
            .with(
                "tracking",
                match self.tracking() {
                    super::Tracking::Allowed => "allowed",
                    super::Tracking::Pending => "pending",
                    super::Tracking::Denied => "denied",
                },
            )
            .with(
                "collector",
                self.tracker.collector_url().map(str::to_string),
            );
        Json::obj()
            .with("consent", self.slots.consent.clone())
            .with("sender", self.tracker.outbox.is_sender())
            .with("debugMode", self.debug_mode())
            .with("queue", queue)
            .with("slots", self.explain(now))
    }

    /// `sillage.profile()`: the snapshot at `now` (`None` before the
    /// config was applied).
    pub fn profile(&mut self, now: Millis) -> Option<Json> {
        let p = self.profile.as_mut()?;
        // Decay may have moved the stage since the last event.
        p.handle_timeout(now);
        Some(p.snapshot(now))
    }

    /// The JSON text of `v`, as the SDK writes it.
    pub fn to_text(&self, v: &Json) -> String {
        super::HostEncoder(&self.host).encode(v)
    }
}
