//! The whole SDK as one sans-IO state machine, in the style of quinn-proto's
//! `Connection`.
//!
//! ```text
//!  browser events ──► shell listeners ──► Input ──► Sdk::handle(input, now)
//!                                                        │
//!                           Sdk::poll_effect() ◄─────────┘    Sdk::poll_timeout()
//!                                 │                                  │
//!  storage, fetch/beacon, timers, DOM patches, console ◄── shell executor (one timer)
//! ```
//!
//! Every decision lives here: the lifecycle (calls held while the config
//! loads, the landing), capture (page views, engagement, clicks), the
//! visit, the durable multi-tab outbox with its batching and retries, the
//! sender election, flush settlement, the profile (its debounced writes and
//! which tab announces a stage change), personalization planning (consent,
//! the loop guard, exposures per page view, the debug explanation) and
//! erasure. The shell only turns browser events into [`Input`]s and applies
//! [`Effect`]s; it reads no storage, decides nothing and keeps no state of
//! its own beyond the DOM nodes it was told to move.
//!
//! Time is passed in (`now`, epoch milliseconds); randomness comes from a
//! ChaCha20 stream seeded once by the shell with 32 bytes of
//! `crypto.getRandomValues` ([`Rng`]); JavaScript's built-ins (`JSON.parse`,
//! `RegExp`, number text) come from the [`JsHost`]. Tests drive it natively
//! with a virtual clock that jumps to each [`Sdk::poll_timeout`].

mod api;
mod capture;
pub mod p13n;
mod privacy;
mod say;
mod slots;
mod tabs;

pub use privacy::{noisy_topics, Signals, Tracking, ERASE_KEY, INTERESTS_EVENT};

pub use api::{Arg, Call, Click, PageNow, MAX_STRING_UNITS};
pub use slots::{Patch, PatchOp, PatchStep, RecommendedItem, SlotId, SlotSnapshot};

use crate::support::fifo::Fifo as VecDeque;

use crate::config::{self, Capture, Config};
use crate::decide::condition::JsHost;
use crate::profile::Profile;
use crate::support::diag::{push_usize, Diagnostic};
use crate::support::json::{self, Json};
use crate::support::rng::Rng;
use crate::support::time::Millis;
use crate::track::batch::{Outcome, Report};
use crate::track::capture::{Engagement, PageViewGate, RageClicks};
use crate::track::event::{is_uuid, uuid_v4, PageContext};
use crate::track::outbox::{Durability, StoreOp, EVENT_PREFIX};
use crate::track::tracker::{JsonEncoder, Tracker};
use crate::track::visit::{Activity, SESSION_KEY};

/// Storage key of the anonymous id.
pub const ANONYMOUS_ID_KEY: &str = "sillage.anonymousId";
/// Storage key of the user id set by `identify`.
pub const USER_ID_KEY: &str = "sillage.userId";
/// Storage key `forget()` writes and deletes at once, so that every other
/// tab forgets the visitor too.
pub const FORGET_KEY: &str = "sillage.forget";
/// Storage key of the profile.
pub const PROFILE_KEY: &str = "sillage.profile";
/// Storage key of the consent choices.
pub const CONSENT_KEY: &str = "sillage.consent";
/// Longest wait before a changed profile is written.
pub const PERSIST_AFTER_MS: Millis = 1_000.0;
/// Most of this tab's unacknowledged event ids remembered (the queue's own
/// cap: older ones were dropped).
const OWN_MAX: usize = 5_000;

/// What the shell read of first-party storage when it created the SDK
/// (before the first call, which may come before `boot`).
#[derive(Clone, Debug, Default)]
pub struct Open {
    /// Every stored `sillage.*` key and its value.
    pub stored: Vec<(String, String)>,
    /// Whether `localStorage` works (a probe write succeeded).
    pub durable: bool,
}

/// What the shell read from the browser when the SDK starts.
#[derive(Clone, Debug, Default)]
pub struct Boot {
    /// The page as loaded: the landing.
    pub page: PageContext,
    /// The page now, with its topic hints (for a config applied at once).
    pub now: PageNow,
    /// `navigator.onLine`.
    pub online: bool,
    /// Viewport width and height, and whether the primary pointer is coarse.
    pub viewport: (f64, f64, bool),
    /// Whether the page is visible and focused.
    pub visible: bool,
    /// See [`Boot::visible`].
    pub focused: bool,
    /// Where the config comes from.
    pub config: ConfigSource,
    /// Whether `navigator.locks` exists (else a storage lease elects the
    /// sending tab).
    pub web_locks: bool,
    /// Global Privacy Control and Do Not Track.
    pub signals: Signals,
    /// Whether the browser has `CompressionStream` (for
    /// `collector.compress: "gzip"`).
    pub compression: bool,
    /// Where the catalogue of diagnostics' sentences is
    /// (`sillage_messages.json`), if the shell knows.
    pub messages: Option<String>,
}

/// Where the config comes from, in the order the SDK looks.
#[derive(Clone, Debug, Default)]
pub enum ConfigSource {
    /// `<script type="application/json" id="sillage-config">`, parsed (or
    /// why it could not be).
    Inline(Result<Json, String>),
    /// `boot({config})`.
    Options(Json),
    /// `data-config` / `boot({configUrl})`: to be fetched.
    Url(String),
    /// Nothing: events stay on the device.
    #[default]
    None,
}

/// Everything that can happen to the SDK.
#[derive(Clone, Debug)]
pub enum Input {
    /// The SDK exists: what is stored. Calls made before `boot` are
    /// recorded with the default settings.
    Open(Open),
    /// The SDK starts.
    Boot(Boot),
    /// A public method was called.
    Api(Call, PageNow),
    /// The config document arrived (from the network), and the page now.
    ConfigLoaded(Json, PageNow),
    /// The config could not be fetched or parsed: why, and the page now.
    ConfigFailed(String, PageNow),
    /// The URL changed (`pushState`, `replaceState`, `popstate`,
    /// `hashchange`): the slots now, the page view after the current task
    /// ([`Input::PageSettled`]).
    Navigated(PageNow),
    /// The task after a navigation ended: frameworks have set the title.
    PageSettled(PageNow),
    /// The page came back from the back-forward cache.
    Restored(PageNow),
    /// The page was hidden (`true`) or shown again.
    Visibility(bool),
    /// The page is being unloaded or put in the back-forward cache.
    PageHide,
    /// The window gained (`true`) or lost focus.
    Focus(bool),
    /// Pointer, key, wheel or touch input.
    UserActive,
    /// The page scrolled: the bottom of the viewport and the page height.
    Scroll(f64, f64),
    /// A click, with what the shell found around its target.
    Click(Click),
    /// `online` / `offline`.
    Online(bool),
    /// Another tab changed a stored value (`storage` event).
    StorageChanged {
        /// The key (`None`: storage was cleared).
        key: Option<String>,
        /// The new value (`None`: removed).
        value: Option<String>,
    },
    /// A storage write was refused (quota, blocked): the op that failed.
    StoreFailed(StoreOp),
    /// This tab is the sender now (it got the Web Lock, or the lease held
    /// after [`Effect::ReadQueue`]): every stored `sillage.*` entry, read now.
    Sender(Vec<(String, String)>),
    /// A heartbeat of the storage-lease election: the value of
    /// [`crate::track::outbox::SENDER_KEY`] now.
    Heartbeat(Option<String>),
    /// What the collector answered for a batch.
    Response {
        /// The batch id of [`Effect::Send`].
        batch: u64,
        /// The outcome.
        outcome: Outcome,
        /// A random number in `[0, 1)` for the retry's full-jitter backoff
        /// (`Math.random()`).
        jitter: f64,
    },
    /// Slots found in the page (at start, added later, or every live slot
    /// when the SDK asked for a frame), with the local time's offset.
    Slots(SlotsFound),
    /// The page replaced what a rule put in a slot (a framework
    /// re-rendering the children it owns). `true`: all of it, so what the
    /// page put there is the slot's new default content.
    SlotContentLost(SlotId, bool),
    /// What applying a patch did: how many steps took, and the problems.
    Applied {
        /// The slot.
        slot: SlotId,
        /// Steps applied.
        done: usize,
        /// Why the others failed.
        errors: Vec<String>,
    },
    /// A timer set from [`Sdk::poll_timeout`] fired.
    Timeout,
    /// What the collector answered to [`Effect::Erase`]: erased (2xx).
    Erased(bool),
    /// Whether the page has slots now ([`Effect::CheckSlots`]); `true` also
    /// when one appears later.
    SlotsPresent(bool),
    /// The personalization module is loaded and configured (the shell gave
    /// it to [`Sdk::set_decider`]); its problems with the config, each a
    /// [`Diagnostic::to_line`].
    PersonalizationReady(Vec<String>),
    /// The catalogue of diagnostics' sentences ([`Effect::LoadMessages`]),
    /// or `None` if it could not load.
    Messages(Option<Json>),
    /// The personalization module could not load: why.
    PersonalizationFailed(String),
    /// The task that asked for it with [`Effect::AtTaskEnd`] has ended (a
    /// microtask): the storage writes it made are applied now.
    TaskEnd,
}

/// [`Input::Slots`].
#[derive(Clone, Debug, Default)]
pub struct SlotsFound {
    /// The slots, each with what the shell read of it.
    pub slots: Vec<SlotSnapshot>,
    /// Why they are reported.
    pub why: SlotsWhy,
    /// Minutes to add to local time to get UTC (`Date#getTimezoneOffset`).
    pub tz_offset_min: f64,
    /// The head snippet's timeout already revealed the slots (`<html
    /// data-sillage-timeout>`).
    pub timed_out: bool,
}

/// Why slots are reported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SlotsWhy {
    /// Every slot of the page when personalization starts.
    #[default]
    Start,
    /// Slots added to the page since.
    Added,
    /// Every live slot, in the frame the SDK asked for.
    Frame,
}

/// Everything the SDK asks the shell to do, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Write or delete in `localStorage`, now (synchronously).
    Store(StoreOp),
    /// Delete every stored key starting with this prefix.
    StoreClear(String),
    /// `fetch` a batch; answer with [`Input::Response`].
    Send {
        /// The batch id.
        batch: u64,
        /// Where.
        url: String,
        /// The body (`text/plain`).
        body: String,
        /// Whether the request may outlive the page (`keepalive`).
        keepalive: bool,
        /// Whether to gzip the body (with `CompressionStream`) and add
        /// `ce=gzip` to the URL's query, so the collector knows.
        gzip: bool,
    },
    /// `sendBeacon` a body (falling back to `fetch` with `keepalive`).
    Beacon {
        /// Where.
        url: String,
        /// The body.
        body: String,
    },
    /// Fetch the config: answer with [`Input::ConfigLoaded`] or
    /// [`Input::ConfigFailed`].
    LoadConfig(String),
    /// Fetch the catalogue of diagnostics' sentences (JSON): answer with
    /// [`Input::Messages`].
    LoadMessages(String),
    /// Install the page listeners (once).
    Listen,
    /// Ask for the sender lock (`navigator.locks.request("sillage:sender")`),
    /// answered by [`Input::Sender`] once granted.
    Elect,
    /// Release the sender lock.
    ReleaseLock,
    /// Read the storage lease (no Web Locks): answer with
    /// [`Input::Heartbeat`].
    ReadLease,
    /// Read every stored `sillage.*` entry: answer with [`Input::Sender`].
    ReadQueue,
    /// `console.warn("sillage: " + text)`.
    Warn(String),
    /// `console.error("sillage: " + text)`.
    Error(String),
    /// Resolve a `flush()` / `forget()` promise.
    Settle {
        /// Its id.
        id: u64,
        /// The value.
        ok: bool,
    },
    /// Call a page callback (`ready`) with no argument.
    Call(u64),
    /// Call `on("stage")` listeners with the change.
    Announce {
        /// The listeners.
        listeners: Vec<u64>,
        /// `{from, to, reasons}`.
        change: Json,
    },
    /// Put a patch on a slot: undo what Sillage did there before (moving
    /// the page's own nodes back), then apply the steps; answer with
    /// [`Input::Applied`].
    Apply(SlotId, Patch),
    /// Undo what Sillage did in a slot: its default content back, marked
    /// with the rule that owns it (a control or holdout visitor) or not.
    Restore(SlotId, Option<(String, String)>),
    /// Show a slot (`data-sillage-ready`).
    Reveal(SlotId),
    /// Ask for the next animation frame; answer with [`Input::Slots`]
    /// (`SlotsWhy::Frame`).
    Frame,
    /// Remove the head snippet's hiding style.
    LiftHiding,
    /// `performance.mark(name)`.
    Mark(&'static str),
    /// `console.table(rows)`.
    Table(Json),
    /// In a microtask (after the calls the loader replays in this task),
    /// report every slot of the page: [`Input::Slots`] with
    /// `SlotsWhy::Start`.
    FindSlots,
    /// Watch the page for added slots and for content the page takes back
    /// from a slot ([`Input::Slots`] `Added`, [`Input::SlotContentLost`]).
    Observe,
    /// Ask the collector to erase a forgotten visitor (`POST` a `text/plain`
    /// body, `keepalive`); answer with [`Input::Erased`].
    Erase {
        /// Where.
        url: String,
        /// `{"anonymousId": ..., "writeKey"?: ...}`.
        body: String,
    },
    /// Say whether the page has slots ([`Input::SlotsPresent`]); if not,
    /// watch for the first one and say so when it comes.
    CheckSlots,
    /// Load the personalization module and configure it with the config
    /// document and the landing page's query (its previews); then
    /// [`Sdk::set_decider`] and [`Input::PersonalizationReady`], or
    /// [`Input::PersonalizationFailed`].
    LoadPersonalization {
        /// The whole config document.
        config: Json,
        /// The landing page's query, without `?`.
        query: String,
    },
    /// Show every slot as it is (`data-sillage-ready` on each) and remove
    /// the head snippet's hiding style: no personalization on this page.
    RevealAll,
    /// Storage writes are waiting: answer with [`Input::TaskEnd`] at the
    /// end of the current task (`queueMicrotask`). Asked once per task.
    AtTaskEnd,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Calls arrived before `boot`: they wait.
    Idle,
    /// Booted; the config is on its way.
    Loading,
    /// The config was applied (or failed to load).
    Ready,
}

/// What moved the stage, so that one tab records the change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cause {
    /// An event this tab recorded: this tab records the change.
    OwnEvent,
    /// Time: the sending tab records it.
    Time,
    /// Another tab's event: that tab records it.
    OtherTab,
}

/// The SDK. See the module docs.
pub struct Sdk<H: JsHost> {
    host: H,
    rng: Rng,
    phase: Phase,
    tracker: Tracker,
    profile: Option<Profile>,
    profile_dirty: Option<Millis>,
    capture: Capture,
    device: &'static str,
    gate: PageViewGate,
    engagement: Engagement,
    engaged_page: Option<(String, String)>,
    rage: RageClicks,
    /// The page now (kept current from the inputs).
    page: PageContext,
    /// The landing, kept until the config is applied.
    boot_page: Option<PageContext>,
    /// A navigation happened while the config loaded.
    nav_pending: Option<PageNow>,
    landed: bool,
    /// The session value all tabs share.
    session: Option<String>,
    stage_events: bool,
    /// Calls made while the config loads, in order.
    held: Vec<(Call, PageNow)>,
    ready_callbacks: Vec<u64>,
    stage_listeners: Vec<u64>,
    /// `flush()` promises waiting: (id, the events they wait for).
    flushes: Vec<(u64, Vec<String>)>,
    tabs: tabs::Tabs,
    slots: slots::Planner,
    effects: VecDeque<Effect>,
    /// Storage writes waiting for the end of the task (write-behind), in
    /// order.
    writes: Vec<StoreOp>,
    /// [`Effect::AtTaskEnd`] was asked and [`Input::TaskEnd`] has not come.
    task_end_asked: bool,
    /// The input being handled ends the task, or the page is hidden or
    /// going away: every write waiting is handed out when it is handled.
    write_through: bool,
    /// Problems already reported on this page (each once).
    reported: Vec<String>,
    /// Where the config came from, for its diagnostics.
    config_source: String,
    /// The catalogue of diagnostics' sentences.
    messages: say::Catalogue,
    /// [`Boot::messages`].
    messages_url: Option<String>,
    /// The events this tab recorded and has not seen acknowledged (their
    /// stored keys deleted, by this tab or the sending one), oldest first.
    own: VecDeque<String>,
    /// Events this tab sent and the collector acknowledged, and refused for
    /// good, since the page loaded (for the debug panel).
    delivered: (u64, u64),
    /// The config's `privacy` section.
    privacy: crate::track::visit::Privacy,
    /// The browser's privacy signals.
    signals: Signals,
    /// [`Boot::compression`].
    compression: bool,
    /// The visitor's choice about tracking (`consent.analytics`).
    analytics: Option<bool>,
    /// Whether first-party storage works at all.
    storage_works: bool,
    /// Whether the ids were written to storage.
    ids_stored: bool,
    /// The config's topics (the noise of shared interests).
    topics: Vec<String>,
    /// Anonymous ids whose erasure the collector has not confirmed.
    erasing: Vec<String>,
    erase_in_flight: bool,
    /// `forget()` promises waiting for the erasure request.
    forgetting: Vec<u64>,
    /// The config has no `collector`: nothing is queued or sent.
    on_device_only: bool,
    /// The personalization module, once loaded.
    decider: Option<Box<dyn p13n::Decider>>,
    /// Where the personalization module is.
    p13n: P13n,
    /// The config document and the landing's query, kept for the
    /// personalization module.
    config_doc: Option<(Json, String)>,
}

/// Where the personalization module is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum P13n {
    /// Not asked for (no rules, or no slot yet).
    #[default]
    Off,
    /// Asked for.
    Loading,
    /// Loaded and configured.
    Ready,
    /// It could not load: the defaults show.
    Failed,
}

/// The core's JSON writer with the host's number text.
struct HostEncoder<'a>(&'a dyn JsHost);

impl JsonEncoder for HostEncoder<'_> {
    fn encode(&self, value: &Json) -> String {
        let mut out = String::with_capacity(512);
        json::write(value, &mut out, &|n: f64, out: &mut String| {
            self.0.push_number(n, out)
        });
        out
    }
}

impl<H: JsHost> Sdk<H> {
    /// A new SDK, not started yet (calls made now wait for
    /// [`Input::Boot`]). `seed`: 32 random bytes from the platform.
    pub fn new(host: H, seed: [u8; 32]) -> Sdk<H> {
        let mut rng = Rng::new(seed);
        let anonymous_id = uuid_v4(rng.bytes16());
        Sdk {
            host,
            rng,
            phase: Phase::Idle,
            tracker: Tracker::new(anonymous_id, None, Durability::Memory),
            profile: None,
            profile_dirty: None,
            capture: Capture::default(),
            device: "desktop",
            gate: PageViewGate::default(),
            engagement: Engagement::new(0.0, true, true),
            engaged_page: None,
            rage: RageClicks::default(),
            page: PageContext::default(),
            boot_page: None,
            nav_pending: None,
            landed: false,
            session: None,
            stage_events: true,
            held: Vec::new(),
            ready_callbacks: Vec::new(),
            stage_listeners: Vec::new(),
            flushes: Vec::new(),
            tabs: tabs::Tabs::default(),
            slots: slots::Planner::default(),
            effects: VecDeque::new(),
            writes: Vec::new(),
            task_end_asked: false,
            write_through: false,
            reported: Vec::new(),
            config_source: String::new(),
            messages: Default::default(),
            messages_url: None,
            own: VecDeque::new(),
            delivered: (0, 0),
            privacy: Default::default(),
            signals: Signals::default(),
            compression: false,
            analytics: None,
            storage_works: false,
            ids_stored: false,
            topics: Vec::new(),
            erasing: Vec::new(),
            erase_in_flight: false,
            forgetting: Vec::new(),
            on_device_only: false,
            decider: None,
            p13n: P13n::Off,
            config_doc: None,
        }
    }

    /// The personalization module, loaded after [`Effect::LoadPersonalization`]
    /// (then [`Input::PersonalizationReady`]).
    pub fn set_decider(&mut self, decider: Box<dyn p13n::Decider>) {
        self.decider = Some(decider);
    }

    /// The JavaScript host.
    pub fn host(&self) -> &H {
        &self.host
    }

    /// Decision rounds run on this page (test support).
    pub fn rounds(&self) -> u32 {
        self.slots.rounds
    }

    /// The next thing for the shell to do.
    ///
    /// Storage writes are behind: a [`Effect::Store`] is held until the
    /// task that made it ends ([`Input::TaskEnd`], asked once per task with
    /// [`Effect::AtTaskEnd`]), so a task's writes land together after the
    /// calls that made them returned. They are handed out at once when the
    /// page hides or goes away, and before any effect that needs storage as
    /// they leave it (`after_writes`), in order.
    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.effects.pop_front()
    }

    /// A storage write: held until the end of the task (see
    /// [`Sdk::poll_effect`]).
    fn write(&mut self, op: StoreOp) {
        if !self.task_end_asked {
            self.task_end_asked = true;
            self.effects.push_back(Effect::AtTaskEnd);
        }
        self.writes.push(op);
    }

    /// Hands out every write waiting, in order.
    fn flush_writes(&mut self) {
        for op in self.writes.drain(..) {
            self.effects.push_back(Effect::Store(op));
        }
    }

    /// An effect that must see storage as the writes before it left it (a
    /// clear, a read of storage, the sender lock asked for or let go, a
    /// beacon, an erasure): the writes waiting go first. Writes made after
    /// it wait again. (A lock is granted later: if writes wait then, the
    /// queue is read again after them, [`Input::Sender`].)
    pub(super) fn after_writes(&mut self, e: Effect) {
        self.flush_writes();
        self.effects.push_back(e);
    }

    /// Storage writes held for the end of the task (test support).
    pub fn writes_waiting(&self) -> usize {
        self.writes.len()
    }

    /// When to deliver [`Input::Timeout`] next (epoch ms; a time in the past
    /// means at once), or `None`.
    pub fn poll_timeout(&self) -> Option<Millis> {
        // Batches are due only where they may leave.
        let mut at = self
            .may_send()
            .then(|| self.tracker.poll_timeout())
            .flatten();
        let mut min = |t: Option<Millis>| {
            if let Some(t) = t {
                at = Some(at.map_or(t, |a: Millis| a.min(t)));
            }
        };
        min(self.profile.as_ref().and_then(Profile::poll_timeout));
        min(self.profile_dirty.map(|t| t + PERSIST_AFTER_MS));
        min(self.slots.poll_timeout());
        min(self.tabs.poll_timeout());
        at
    }

    /// Handles one input at `now`.
    pub fn handle(&mut self, input: Input, now: Millis) {
        match input {
            Input::Open(o) => self.open(o),
            Input::Boot(b) => self.boot(b, now),
            Input::Api(call, page) => self.api(call, page, now),
            Input::ConfigLoaded(doc, page) => self.apply_config(Some(doc), page, now),
            Input::ConfigFailed(why, page) => {
                let mut m = String::from("could not load config ");
                m.push_str(&self.config_source);
                m.push_str(": ");
                m.push_str(&why);
                m.push_str("; events stay on this device");
                self.warn(m);
                self.apply_config(None, page, now);
            }
            Input::Navigated(p) => self.navigated(p, now),
            Input::PageSettled(p) => self.page_settled(p, now),
            Input::Restored(p) => self.restored(p, now),
            Input::Visibility(hidden) => self.visibility(hidden, now),
            Input::PageHide => {
                self.write_through = true;
                self.on_hidden(now);
                self.step_down();
            }
            Input::Focus(f) => self.engagement.on_focus(now, f),
            Input::UserActive => self.engagement.on_input(now),
            Input::Scroll(seen, height) => self.engagement.on_scroll(now, seen, height),
            Input::Click(c) => self.click(c, now),
            Input::Online(on) => self.tracker.outbox.batcher.set_online(on),
            Input::StorageChanged { key, value } => self.storage_changed(key, value, now),
            Input::StoreFailed(op) => self.store_failed(op),
            // Elected before the end of the task that made writes: read
            // the queue again once they are applied.
            Input::Sender(_) if !self.writes.is_empty() => self.after_writes(Effect::ReadQueue),
            Input::Sender(entries) => self.become_sender(&entries, now),
            Input::Heartbeat(stored) => self.heartbeat(stored.as_deref(), now),
            Input::Response {
                batch,
                outcome,
                jitter,
            } => {
                self.response_settled(batch);
                let before = self.tracker.outbox.batcher.unacknowledged();
                self.tracker.handle_response(batch, outcome, now, jitter);
                let settled =
                    before.saturating_sub(self.tracker.outbox.batcher.unacknowledged()) as u64;
                match outcome {
                    Outcome::Status {
                        code: 200..=299, ..
                    } => self.delivered.0 += settled,
                    _ => self.delivered.1 += settled,
                }
            }
            Input::Slots(found) => self.slots_found(found, now),
            Input::SlotContentLost(id, all) => self.slots.content_lost(id, all, &mut self.effects),
            Input::Applied { slot, done, errors } => self.applied(slot, done, errors, now),
            Input::Timeout => self.timeout(now),
            Input::Erased(ok) => self.erased(ok),
            Input::SlotsPresent(present) => self.slots_present(present),
            Input::PersonalizationReady(warnings) => self.personalization_ready(warnings),
            Input::Messages(catalogue) => self.messages_arrived(catalogue),
            Input::PersonalizationFailed(why) => self.personalization_failed(why),
            Input::TaskEnd => {
                self.task_end_asked = false;
                self.write_through = true;
            }
        }
        self.after(now);
        if std::mem::take(&mut self.write_through) {
            self.flush_writes();
        }
    }

    /// After every input: send what is due, write what must be written,
    /// settle flushes, announce stage changes.
    fn after(&mut self, now: Millis) {
        self.announce(Cause::Time, now);
        while let Some(t) = self
            .may_send()
            .then(|| self.tracker.poll_transmit(now))
            .flatten()
        {
            let url = self.tracker.collector_url().unwrap_or_default().to_string();
            let keepalive = self.tabs.keepalive_for(t.batch_id, t.body.len());
            let gzip = self.compression && self.tracker.gzip();
            self.effects.push_back(Effect::Send {
                batch: t.batch_id,
                url,
                body: t.body,
                keepalive,
                gzip,
            });
        }
        self.store_ops();
        while let Some(report) = self.tracker.outbox.poll_report() {
            match report {
                Report::Dropped { status, count } => {
                    let mut m = String::from("the collector refused a batch with HTTP ");
                    push_usize(&mut m, status as usize);
                    m.push_str("; dropped ");
                    push_usize(&mut m, count);
                    m.push_str(" events");
                    self.effects.push_back(Effect::Error(m));
                }
            }
        }
        self.settle_flushes();
    }

    /// Moves the outbox's storage writes into effects (an event's key
    /// deleted means it was acknowledged, or dropped for good).
    fn store_ops(&mut self) {
        while let Some(op) = self.tracker.outbox.poll_store_op() {
            if let StoreOp::Delete { key } = &op {
                if let Some(id) = key.strip_prefix(EVENT_PREFIX) {
                    self.forget_pending(id);
                }
            }
            self.write(op);
        }
    }

    /// Event `id` is no longer waiting to be acknowledged.
    fn forget_pending(&mut self, id: &str) {
        if let Some(i) = self.own.iter().position(|x| x == id) {
            self.own.remove(i);
        }
    }

    /// Event `id` was recorded by this tab.
    fn own_recorded(&mut self, id: String) {
        if self.own.len() >= OWN_MAX {
            self.own.pop_front();
        }
        self.own.push_back(id);
    }

    /// Whether an event this tab recorded may still be unacknowledged.
    fn pending(&self, id: &str) -> bool {
        if self.durable() {
            self.own.iter().any(|x| x == id)
        } else {
            self.tracker
                .outbox
                .batcher
                .pending()
                .any(|p| p.message_id == id)
        }
    }

    fn warn(&mut self, text: impl Into<String>) {
        self.effects.push_back(Effect::Warn(text.into()));
    }

    fn warn_diag(&mut self, d: &Diagnostic) {
        self.say(d, "");
    }

    /// Reports `text` once per page.
    fn error_once(&mut self, text: String) {
        if !self.reported.contains(&text) {
            self.reported.push(text.clone());
            self.effects.push_back(Effect::Error(text));
        }
    }

    fn put(&mut self, key: &str, value: String) {
        self.write(StoreOp::Put {
            key: key.to_string(),
            value,
        });
    }

    fn delete(&mut self, key: &str) {
        self.write(StoreOp::Delete {
            key: key.to_string(),
        });
    }

    fn encode(&self, v: &Json) -> String {
        HostEncoder(&self.host).encode(v)
    }

    fn durable(&self) -> bool {
        self.tracker.outbox.durability() == Durability::Storage
    }

    // ----- start -----

    fn open(&mut self, o: Open) {
        let get = |k: &str| o.stored.iter().find(|(key, _)| key == k).map(|(_, v)| v);
        self.storage_works = o.durable;
        if !o.durable {
            self.warn("localStorage is unavailable; keeping state in memory for this page only");
        }
        let stored_id = get(ANONYMOUS_ID_KEY);
        self.ids_stored = stored_id.is_some();
        let anonymous_id = match stored_id {
            Some(id) if is_uuid(id) => id.clone(),
            other => {
                if other.is_some() {
                    self.warn("stored anonymousId was not a UUID; starting a new one");
                }
                uuid_v4(self.rng.bytes16())
            }
        };
        let user_id = get(USER_ID_KEY).filter(|u| !u.is_empty()).cloned();
        self.session = get(SESSION_KEY).cloned();
        // Events are kept in memory until tracking is known to be allowed
        // (the config may require consent); then they are stored.
        self.tracker = Tracker::new(anonymous_id, user_id, Durability::Memory);
        self.slots.load(&o.stored, &self.host);
        self.analytics = self.slots.consent.get("analytics").and_then(Json::as_bool);
        self.tabs.stored_profile = get(PROFILE_KEY).cloned();
        self.erasing = get(privacy::ERASE_KEY)
            .map(|v| {
                v.split(',')
                    .filter(|s| is_uuid(s))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
    }

    fn boot(&mut self, b: Boot, now: Millis) {
        if self.phase != Phase::Idle {
            self.warn("boot() was called more than once; ignoring the repeat");
            return;
        }
        self.phase = Phase::Loading;
        self.tabs.web_locks = b.web_locks;
        self.page = b.page.clone();
        self.boot_page = Some(b.page);
        self.tracker.outbox.batcher.set_online(b.online);
        self.device = crate::track::capture::device_class(b.viewport.0, b.viewport.1, b.viewport.2);
        self.engagement = Engagement::new(now, b.visible, b.focused);
        self.signals = b.signals;
        self.compression = b.compression;
        self.messages_url = b.messages;
        self.effects.push_back(Effect::Listen);
        let page = b.now;
        match b.config {
            ConfigSource::Inline(Ok(doc)) => {
                self.config_source = "inline #sillage-config".into();
                self.apply_config(Some(doc), page, now)
            }
            ConfigSource::Inline(Err(why)) => {
                let mut m = String::from("inline #sillage-config is not valid JSON: ");
                m.push_str(&why);
                self.warn(m);
                self.apply_config(None, page, now);
            }
            ConfigSource::Options(doc) => {
                self.config_source = "boot options".into();
                self.apply_config(Some(doc), page, now)
            }
            ConfigSource::Url(url) => {
                self.config_source = url.clone();
                self.effects.push_back(Effect::LoadConfig(url));
            }
            ConfigSource::None => {
                self.warn("no config (add data-config to the script tag or an inline #sillage-config); events stay on this device");
                self.apply_config(None, page, now);
            }
        }
    }
}

impl<H: JsHost> Sdk<H> {
    /// Applies a config (or its absence), records the landing, replays the
    /// calls that waited, runs the `ready` callbacks and starts
    /// personalization.
    fn apply_config(&mut self, doc: Option<Json>, page: PageNow, now: Millis) {
        if self.phase == Phase::Ready {
            return;
        }
        let mut stages = Default::default();
        let mut profile_cfg = Default::default();
        if let Some(doc) = doc {
            // The personalization sections are the personalization module's
            // to parse (and report).
            let (cfg, diags): (Config, _) = config::parse_tracking(&doc);
            if cfg.debug || !diags.is_empty() {
                self.want_messages();
            }
            for d in &diags {
                self.say_config(d);
            }
            // No `collector` at all is the on-device-only mode: nothing is
            // queued, nothing is sent, ever. One that cannot be used keeps
            // events on the device for a later page with a working config.
            self.on_device_only = doc.get("collector").is_none();
            if cfg.collector.is_none() && !self.on_device_only {
                self.warn("config has no usable collector.url; events stay on this device");
            }
            self.tracker.configure(&cfg);
            self.capture = cfg.capture.clone();
            self.gate = PageViewGate::new(cfg.capture.hash_routing);
            self.stage_events = cfg.privacy.stage_events;
            self.privacy = cfg.privacy.clone();
            self.topics = Vec::new();
            for r in &cfg.topics {
                if !self.topics.contains(&r.topic) {
                    self.topics.push(r.topic.clone());
                }
            }
            stages = cfg.stages.clone();
            profile_cfg = cfg.profile.clone();
            let landing = self.boot_page.as_ref().unwrap_or(&self.page);
            let query = landing
                .search
                .strip_prefix('?')
                .unwrap_or(&landing.search)
                .to_string();
            let mut diags = Vec::new();
            let preview = crate::decide::rules::Preview::from_query(&query, cfg.debug, &mut diags);
            // Someone is previewing: their problems are worth the sentences.
            if !diags.is_empty() {
                self.want_messages();
            }
            for d in &diags {
                self.warn_diag(d);
            }
            self.slots.redecide = if cfg.redecide_at_navigation_only {
                slots::Redecide::Navigation
            } else {
                slots::Redecide::Change
            };
            self.slots
                .configure(config::has_rules(&doc), preview, cfg.capture.hash_routing);
            self.config_doc = Some((doc, query));
        }
        self.load_profile(stages, profile_cfg);
        self.phase = Phase::Ready;
        // What tracking may do is known now: store what waited, or not.
        self.sync_privacy();
        self.erase_pending();
        // The landing's page view first (the page as it was at boot, even if
        // a single-page app navigated meanwhile), then that navigation, then
        // what the page asked for meanwhile, in order.
        let landing = self.boot_page.take().unwrap_or_else(|| self.page.clone());
        let landing_now = PageNow {
            href: landing.url.clone(),
            title: page.title.clone(),
            hints: page.hints.clone(),
        };
        self.page = landing;
        self.page_view(landing_now, now);
        if self.engaged_page.is_none() {
            self.engaged_page = Some((self.page.url.clone(), self.page.path.clone()));
        }
        if let Some(nav) = self.nav_pending.take() {
            self.page_view(nav, now);
        }
        for (call, at) in std::mem::take(&mut self.held) {
            self.api(call, at, now);
        }
        for cb in std::mem::take(&mut self.ready_callbacks) {
            self.effects.push_back(Effect::Call(cb));
        }
        // Personalization: its module loads once the page has a slot.
        self.effects.push_back(if self.slots.wanted {
            Effect::CheckSlots
        } else {
            Effect::RevealAll
        });
    }

    /// The page has slots (now or, later, a first one): load the
    /// personalization module if the config has rules.
    fn slots_present(&mut self, present: bool) {
        if !present {
            // Nothing to hide meanwhile; a slot added later is decided
            // when it comes.
            self.effects.push_back(Effect::LiftHiding);
            return;
        }
        if !self.slots.wanted || self.p13n != P13n::Off {
            return;
        }
        let Some((config, query)) = self.config_doc.clone() else {
            return;
        };
        self.p13n = P13n::Loading;
        self.effects
            .push_back(Effect::LoadPersonalization { config, query });
    }

    /// The personalization module is ready: its problems with the config
    /// are reported, and the slots of the page are found and decided.
    fn personalization_ready(&mut self, warnings: Vec<String>) {
        if !warnings.is_empty() {
            self.want_messages();
        }
        for d in warnings.iter().filter_map(|w| Diagnostic::from_line(w)) {
            self.say_config(&d);
        }
        if self.decider.is_none() {
            self.personalization_failed("the module gave no decider".into());
            return;
        }
        self.p13n = P13n::Ready;
        self.slots.ready = true;
        self.effects.push_back(Effect::FindSlots);
    }

    /// The personalization module could not load: the page shows its
    /// defaults, tracking goes on.
    fn personalization_failed(&mut self, why: String) {
        self.p13n = P13n::Failed;
        self.decider = None;
        let mut m = String::from("personalization could not load (");
        m.push_str(&why);
        m.push_str("); the page shows its default content");
        self.warn(m);
        self.effects.push_back(Effect::RevealAll);
    }

    /// Loads the stored profile (or starts one) with the config's model.
    fn load_profile(
        &mut self,
        model: crate::profile::model::StageModel,
        cfg: crate::profile::settings::ProfileConfig,
    ) {
        let text = self.tabs.stored_profile.take();
        let parsed = text.as_deref().and_then(|t| self.host.parse_json(t));
        let profile = match parsed {
            Some(json) => {
                let (p, diags) = Profile::from_storage(&json, model, cfg);
                for d in diags {
                    self.say_in("stored profile", &d, " (that part was reset)");
                }
                p
            }
            None => {
                if text.is_some() {
                    self.warn("stored profile was unreadable; starting a new one");
                }
                Profile::new(model, cfg)
            }
        };
        self.profile = Some(profile);
    }

    /// Writes the profile now, if it changed.
    fn persist_profile(&mut self, _now: Millis) {
        if self.profile_dirty.take().is_none() {
            return;
        }
        let Some(p) = self.profile.as_mut() else {
            return;
        };
        let stored = p.to_storage();
        let text = HostEncoder(&self.host).encode(&stored);
        if self.may_store() {
            self.put(PROFILE_KEY, text);
        }
    }

    /// Announces stage changes: to `on("stage")` listeners, and as a
    /// `Journey Stage Changed` event recorded once, by the tab whose event
    /// caused it (by the sending tab when time did), where the privacy
    /// settings allow.
    fn announce(&mut self, cause: Cause, now: Millis) {
        loop {
            let Some(change) = self.profile.as_mut().and_then(Profile::poll_change) else {
                return;
            };
            // A new visitor's first stage is where the journey starts.
            if change.from.is_none() {
                continue;
            }
            let payload = change.to_json();
            let record = self.stage_events
                && match cause {
                    Cause::OwnEvent => true,
                    Cause::Time => self.tracker.outbox.is_sender(),
                    Cause::OtherTab => false,
                };
            if record {
                self.record(
                    crate::track::event::Call::Track {
                        event: "Journey Stage Changed".into(),
                        properties: payload.clone(),
                    },
                    &PageNow::default(),
                    Activity::Other,
                    now,
                );
            }
            if !self.stage_listeners.is_empty() {
                self.effects.push_back(Effect::Announce {
                    listeners: self.stage_listeners.clone(),
                    change: payload,
                });
            }
            self.slots.inputs_changed(&mut self.effects);
        }
    }

    /// A timer fired: whatever fell due.
    fn timeout(&mut self, now: Millis) {
        if let Some(p) = self.profile.as_mut() {
            if p.poll_timeout().is_some_and(|t| t <= now) {
                p.handle_timeout(now);
                self.slots.inputs_changed(&mut self.effects);
            }
        }
        if self
            .profile_dirty
            .is_some_and(|t| t + PERSIST_AFTER_MS <= now)
        {
            self.persist_profile(now);
        }
        self.slots.timeout(now, &mut self.effects);
        self.tabs_timeout(now);
    }
}
