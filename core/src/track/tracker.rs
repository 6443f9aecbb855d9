//! The tracker ties identity, event building and the batcher together.
//!
//! It is still sans-IO: the shell passes `now`, 16 random bytes per event and a
//! [`JsonEncoder`] (the core's writer with the browser's number formatting in
//! the wasm), and drives the [`Outbox`] it exposes.

use crate::config::{CollectorConfig, Config};
use crate::support::diag::Diagnostic;
use crate::support::json::Json;
use crate::support::time::Millis;
use crate::t;
use crate::track::batch::{BatchConfig, Batcher, Outcome, Transmit};
use crate::track::event::{build, uuid_v4, Call, Identity, PageContext};
use crate::track::outbox::{Caps, Durability, Outbox};
use crate::track::visit::{Activity, Visit, VisitConfig};

/// Turns a value into JSON text. The wasm uses `JSON.stringify`, so no JSON
/// serialiser is compiled into it.
pub trait JsonEncoder {
    /// The JSON text of `value`.
    fn encode(&self, value: &Json) -> String;
}

/// What the shell knows about the moment a call is recorded.
#[derive(Clone, Copy, Debug)]
pub struct Moment<'a> {
    /// The page as the browser shows it (the tracker scrubs it).
    pub page: &'a PageContext,
    /// A landing, another page view, or anything else.
    pub activity: Activity,
    /// The page's own topic hints (page views only; lower-cased).
    pub hints: &'a [String],
    /// The session value last stored by any tab.
    pub stored_session: Option<&'a str>,
    /// The coarse device class.
    pub device: &'a str,
}

/// One recorded event.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    /// Its messageId.
    pub message_id: String,
    /// The event as sent (the profile learns from it).
    pub event: Json,
    /// The session value to store for every tab, when it changed.
    pub store_session: Option<String>,
}

/// What becomes of a recorded event beyond the profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// Queued for the collector as built.
    Queue,
    /// Queued as a summary (`privacy.send: "summary"`): `type`, `event`,
    /// `properties`, `messageId`, `anonymousId`, `timestamp` and
    /// `context.library` only.
    Summary,
    /// Not queued: it stays on the device (the profile learns from it).
    Local,
}

/// The fields a summary event keeps.
/// The largest event sent, in bytes of JSON (Segment's API answers 400 to
/// a batch holding a larger one).
pub const MAX_EVENT_BYTES: usize = 32 * 1024;

const SUMMARY_FIELDS: &[&str] = &[
    "type",
    "event",
    "properties",
    "messageId",
    "anonymousId",
    "timestamp",
];

/// Property names holding URLs, scrubbed like the page context.
const URL_PROPERTIES: &[&str] = &["url", "referrer", "page_url", "href", "search"];

/// Records calls as events and queues them for the collector.
#[derive(Debug)]
pub struct Tracker {
    identity: Identity,
    collector: Option<CollectorConfig>,
    /// Where the visitor came from, the session, the page's topics.
    pub visit: Visit,
    /// The durable outbox (batcher, storage ops, caps, multi-tab leases); the
    /// shell drives it.
    pub outbox: Outbox,
}

impl Tracker {
    /// A tracker for a visitor known by `anonymous_id` (and maybe `user_id`),
    /// keeping its events as `durability` allows.
    pub fn new(anonymous_id: String, user_id: Option<String>, durability: Durability) -> Tracker {
        Tracker {
            identity: Identity {
                anonymous_id,
                user_id,
            },
            collector: None,
            visit: Visit::new(),
            outbox: Outbox::new(
                Batcher::new(BatchConfig::default(), None),
                Caps::default(),
                durability,
            ),
        }
    }

    /// Applies a parsed config: where to send and how to batch.
    pub fn configure(&mut self, config: &Config) {
        self.collector = config.collector.clone();
        self.visit.configure(VisitConfig {
            channels: config.channels.clone(),
            topics: config.topics.clone(),
            scrub_params: config.privacy.scrub_params.clone(),
            session_timeout_ms: config.capture.session_timeout_ms,
        });
        if let Some(c) = &self.collector {
            self.outbox
                .batcher
                .reconfigure(c.batch.clone(), c.write_key.clone());
            self.outbox.set_caps(c.queue.clone());
        }
    }

    /// The collector's write key, if the config gives one.
    pub fn write_key(&self) -> Option<&str> {
        self.collector.as_ref()?.write_key.as_deref()
    }

    /// Whether the config asks for gzip-compressed batch bodies.
    pub fn gzip(&self) -> bool {
        self.collector.as_ref().is_some_and(|c| c.gzip)
    }

    /// The collector URL, once a config named one.
    pub fn collector_url(&self) -> Option<&str> {
        self.collector.as_ref().map(|c| c.url.as_str())
    }

    /// Who the events are about.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Takes the identity another tab stored (tabs of a site share one
    /// visitor: if two tabs started at once and each made an id, the last one
    /// stored wins everywhere from the next event on).
    /// A new anonymous id (another tab's, or after `forget()` in another tab)
    /// brings its user id with it, or none.
    pub fn sync_identity(&mut self, anonymous_id: Option<String>, user_id: Option<String>) {
        match anonymous_id {
            Some(a) if crate::track::event::is_uuid(&a) && a != self.identity.anonymous_id => {
                self.identity = Identity {
                    anonymous_id: a,
                    user_id,
                };
            }
            _ => {
                if user_id.is_some() {
                    self.identity.user_id = user_id;
                }
            }
        }
    }

    /// `reset()`: a new anonymous visitor with no user id from the next
    /// event on; what was recorded stays queued, under the old ids.
    pub fn new_visitor(&mut self, anonymous_id: String) {
        self.identity = Identity {
            anonymous_id,
            user_id: None,
        };
    }

    /// Starts over as a new anonymous visitor (after `forget()`), dropping
    /// every event not yet sent from memory. (The shell deletes the stored
    /// ones.)
    pub fn reset(&mut self, anonymous_id: String) {
        self.identity = Identity {
            anonymous_id,
            user_id: None,
        };
        let (cfg, key, caps) = self
            .collector
            .as_ref()
            .map(|c| (c.batch.clone(), c.write_key.clone(), c.queue.clone()))
            .unwrap_or_default();
        let sender = self.outbox.is_sender();
        let durability = self.outbox.durability();
        self.outbox = Outbox::new(Batcher::new(cfg, key), caps, durability);
        if sender {
            self.outbox.restore(&[], 0.0);
        }
    }

    /// Records one call at `now` (`random`: the bytes of the messageId and
    /// of a session id, if one starts). Returns the event, or a diagnostic
    /// naming the bad argument (nothing is recorded then, and the session is
    /// left as it was).
    pub fn record(
        &mut self,
        call: Call,
        m: &Moment,
        now: Millis,
        random: [[u8; 16]; 2],
        encoder: &dyn JsonEncoder,
        keep: Keep,
    ) -> Result<Recorded, Diagnostic> {
        let mut user_id = self.identity.user_id.clone();
        let mut call = call;
        match &mut call {
            Call::Identify { user_id: u, .. } => {
                if let Some(id) = crate::track::event::id_arg(u, "identify.userId")? {
                    user_id = Some(id);
                }
            }
            Call::Alias {
                user_id: u,
                previous_id,
            } => {
                let Ok(Some(id)) = crate::track::event::id_arg(u, "alias.userId") else {
                    return Err(Diagnostic::new(
                        "alias.userId",
                        t!("must be a non-empty string of at most 200 characters"),
                    ));
                };
                let previous = crate::track::event::id_arg(previous_id, "alias.previousId")?
                    .or_else(|| user_id.clone())
                    .unwrap_or_else(|| self.identity.anonymous_id.clone());
                *previous_id = Json::Str(previous);
                user_id = Some(id);
            }
            _ => {}
        }
        let who = Identity {
            anonymous_id: self.identity.anonymous_id.clone(),
            user_id,
        };
        let cx = self.visit.on_event(m, now, random[1]);
        let message_id = uuid_v4(random[0]);
        // Commerce events say what they are about through their categories.
        let mut extra = cx.extra;
        if let Call::Track { properties, .. } = &call {
            let topics = crate::track::topics::from_properties(properties);
            if let (false, Some(sillage)) = (topics.is_empty(), extra.get_mut("sillage")) {
                sillage.set(
                    "topics",
                    Json::Arr(topics.into_iter().map(Json::Str).collect()),
                );
            }
        }
        let what = match &call {
            Call::Track { .. } => "track",
            Call::Page { .. } => "page",
            Call::Identify { .. } => "identify",
            Call::Group { .. } => "group",
            Call::Alias { .. } => "alias",
        };
        let mut event = build(call, &who, &cx.page, &extra, message_id.clone(), now)?;
        if let Some(Json::Obj(props)) = event.get_mut("properties") {
            for (k, v) in props.iter_mut() {
                if let (true, Json::Str(u)) = (URL_PROPERTIES.contains(&k.as_str()), &*v) {
                    *v = Json::Str(self.visit.scrub(u));
                }
            }
        }
        // What leaves the device, encoded before anything is committed: an
        // event too large for the pipelines is refused as a whole.
        let body = match keep {
            Keep::Queue => Some(encoder.encode(&event)),
            Keep::Summary => {
                let mut summary = Json::obj();
                for k in SUMMARY_FIELDS {
                    if let Some(v) = event.get(k) {
                        summary.set(k, v.clone());
                    }
                }
                let library = event
                    .get_path("context.library")
                    .cloned()
                    .unwrap_or_default();
                summary.set("context", Json::obj().with("library", library));
                Some(encoder.encode(&summary))
            }
            Keep::Local => None,
        };
        if let Some(b) = &body {
            if b.len() > MAX_EVENT_BYTES {
                return Err(Diagnostic::new(
                    what,
                    t!("the event is {} bytes of JSON; pipelines refuse events over 32 KB (Segment's limit), so it was not recorded"),
                )
                .num(b.len() as u64));
            }
        }
        self.identity = who;
        self.visit.commit(cx.page_view, cx.touch);
        if let Some(b) = body {
            self.outbox.record(message_id.clone(), b, now);
        }
        Ok(Recorded {
            message_id,
            event,
            store_session: cx.store_session,
        })
    }

    /// The batch to send now, if there is a collector and one is due.
    pub fn poll_transmit(&mut self, now: Millis) -> Option<Transmit> {
        self.collector.as_ref()?;
        self.outbox.poll_transmit(now)
    }

    /// Feeds back a response (see [`Outbox::handle_response`]).
    pub fn handle_response(&mut self, batch_id: u64, outcome: Outcome, now: Millis, jitter: f64) {
        self.outbox.handle_response(batch_id, outcome, now, jitter);
    }

    /// When to call [`Tracker::poll_transmit`] next (see [`Outbox::poll_timeout`]).
    pub fn poll_timeout(&self) -> Option<Millis> {
        self.collector.as_ref()?;
        self.outbox.poll_timeout()
    }

    /// Beacon bodies for page hide (see [`Outbox::on_hidden`]).
    pub fn on_hidden(&mut self, now: Millis) -> Vec<Transmit> {
        if self.collector.is_none() {
            return Vec::new();
        }
        self.outbox.on_hidden(now)
    }
}
