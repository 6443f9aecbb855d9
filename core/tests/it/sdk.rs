//! The whole SDK as one state machine (`core::sdk::Sdk`), driven natively
//! the way the web shell drives it, on a virtual clock: a fake browser
//! executes the effects (storage, requests, the sender lock, the DOM of the
//! slots) and feeds back the completions. The bugs the browser and e2e
//! tests found late each have a test here, in the layer where the logic
//! lives.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{json, Value};
use sillage_core::decide::condition::JsHost;
use sillage_core::decide::personalizer::{Personalizer, ThroughJson};
use sillage_core::native_js::NativeJs;
use sillage_core::sdk::{
    Arg, Boot, Call, Click, ConfigSource, Effect, Input, Open, PageNow, Patch, PatchOp, Sdk,
    SlotId, SlotSnapshot, SlotsFound, SlotsWhy,
};
use sillage_core::support::json::Json;
use sillage_core::track::batch::Outcome;
use sillage_core::track::outbox::StoreOp;

/// 2026-03-02T09:00:00Z.
const T0: f64 = 1_772_442_000_000.0;

fn j(v: Value) -> Json {
    serde_json::from_value(v).unwrap()
}

fn arg(v: Value) -> Arg {
    Arg::json(j(v))
}

/// A value through its JSON text, as it crosses between the browser's two
/// modules.
fn cross(v: &Json) -> Json {
    let text = serde_json::to_string(&serde_json::to_value(v).unwrap()).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A slot in the fake page: its name, children's topics, and what the SDK
/// did to it.
#[derive(Clone, Debug, Default)]
struct FakeSlot {
    name: String,
    children: Vec<String>,
    /// The last patch applied (`None`: the default shows).
    shown: Option<Patch>,
    /// `data-sillage-applied` / `data-sillage-shown`.
    mark: Option<(String, String)>,
    ready: bool,
    /// How many patches were applied.
    applied: usize,
}

/// One tab of the fake browser, sharing `storage` with the others.
struct Tab {
    sdk: Sdk<NativeJs>,
    /// Requests sent and not answered: (batch, body, keepalive).
    sent: VecDeque<(u64, String, bool)>,
    /// Whether each request sent was to be gzipped, in order.
    gzipped: Vec<bool>,
    beacons: Vec<String>,
    warnings: Vec<String>,
    errors: Vec<String>,
    settled: Vec<(u64, bool)>,
    announced: Vec<Json>,
    calls: Vec<u64>,
    slots: BTreeMap<SlotId, FakeSlot>,
    frame: bool,
    find: bool,
    /// The `storage` events this tab's writes cause in the other tabs.
    out: Vec<(String, Option<String>)>,
    /// Steps that fail when applied (by op), as a page without a template would.
    failing: Vec<&'static str>,
    wants_lock: bool,
    /// Erasure requests sent: (url, body).
    erasures: Vec<(String, String)>,
    /// The lock was granted: `Input::Sender` comes after this task, with
    /// what is stored then (as `navigator.locks` calls back later).
    granted: bool,
    tables: Vec<Json>,
    /// The page has no slot yet and the shell watches for one.
    watching: bool,
    /// Times the personalization module was asked for.
    p13n_loads: usize,
    /// Every slot was revealed as it is (no personalization).
    revealed_all: bool,
    /// The SDK asked for the end of the task and it has not come (only
    /// while `World::tasks_by_hand`).
    task_end: bool,
    /// Times the catalogue of diagnostics' sentences was asked for.
    messages_loads: usize,
}

/// The fake browser: one storage, several tabs, one clock.
struct World {
    now: f64,
    storage: BTreeMap<String, String>,
    tabs: Vec<Tab>,
    /// Who holds the sender lock.
    lock: Option<usize>,
    storage_full: bool,
    next_id: SlotId,
    /// Global Privacy Control and Do Not Track in the next tabs booted.
    signals: sillage_core::sdk::Signals,
    /// Whether the browser has `CompressionStream`.
    compression: bool,
    /// What the collector answers to erasure requests.
    erase_ok: bool,
    /// The personalization module fails to load.
    p13n_fails: bool,
    /// Tasks end only when the test says so ([`World::end_task`]); else
    /// each `input` is a task of its own and ends with it.
    tasks_by_hand: bool,
    /// Where the next tabs booted find the catalogue of diagnostics'
    /// sentences (`None`: the shell was given no URL).
    messages_url: Option<String>,
    /// The catalogue does not load.
    messages_fail: bool,
}

impl World {
    fn new() -> World {
        World {
            now: T0,
            storage: BTreeMap::new(),
            tabs: Vec::new(),
            lock: None,
            storage_full: false,
            next_id: 100,
            signals: Default::default(),
            compression: true,
            erase_ok: true,
            p13n_fails: false,
            tasks_by_hand: false,
            messages_url: Some("/sillage/sillage_messages.json".into()),
            messages_fail: false,
        }
    }

    /// Ends tab `t`'s task: the microtask the SDK asked for runs.
    fn end_task(&mut self, t: usize) {
        assert!(
            std::mem::take(&mut self.tabs[t].task_end),
            "no end of task was asked for"
        );
        self.input(t, Input::TaskEnd);
    }

    /// Opens a tab (its SDK sees what is stored).
    fn open(&mut self) -> usize {
        let seed = [self.tabs.len() as u8 + 1; 32];
        let sdk = Sdk::new(NativeJs::new(), seed);
        self.tabs.push(Tab {
            sdk,
            sent: VecDeque::new(),
            gzipped: Vec::new(),
            beacons: Vec::new(),
            warnings: Vec::new(),
            messages_loads: 0,
            errors: Vec::new(),
            settled: Vec::new(),
            announced: Vec::new(),
            calls: Vec::new(),
            slots: BTreeMap::new(),
            frame: false,
            find: false,
            out: Vec::new(),
            failing: Vec::new(),
            wants_lock: false,
            granted: false,
            erasures: Vec::new(),
            tables: Vec::new(),
            watching: false,
            p13n_loads: 0,
            revealed_all: false,
            task_end: false,
        });
        let t = self.tabs.len() - 1;
        let stored = self.entries();
        self.input(
            t,
            Input::Open(Open {
                stored,
                durable: true,
            }),
        );
        t
    }

    fn entries(&self) -> Vec<(String, String)> {
        self.storage
            .iter()
            .filter(|(k, _)| k.starts_with("sillage."))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    fn page(url: &str) -> PageNow {
        PageNow {
            href: url.into(),
            title: "Page".into(),
            hints: Vec::new(),
        }
    }

    /// Boots tab `t` on `url` with an inline config.
    fn boot(&mut self, t: usize, url: &str, config: Value) {
        self.boot_with(t, url, "", ConfigSource::Inline(Ok(j(config))));
    }

    fn boot_with(&mut self, t: usize, url: &str, referrer: &str, config: ConfigSource) {
        let u = url::Url::parse(url).unwrap();
        let search = u.query().map(|q| format!("?{q}")).unwrap_or_default();
        let boot = Boot {
            page: sillage_core::track::event::PageContext {
                url: url.into(),
                path: u.path().into(),
                search,
                referrer: referrer.into(),
                title: "Page".into(),
            },
            now: World::page(url),
            online: true,
            viewport: (1280.0, 800.0, false),
            visible: true,
            focused: true,
            config,
            web_locks: true,
            signals: self.signals,
            compression: self.compression,
            messages: self.messages_url.clone(),
        };
        self.input(t, Input::Boot(boot));
    }

    /// Handles an input in tab `t`, then executes every effect (and the
    /// completions they cause), as the shell's dispatch loop does.
    fn input(&mut self, t: usize, input: Input) {
        let mut queue = VecDeque::from([input]);
        while let Some(i) = queue.pop_front() {
            self.tabs[t].sdk.handle(i, self.now);
            while let Some(e) = self.tabs[t].sdk.poll_effect() {
                self.execute(t, e, &mut queue);
            }
            if queue.is_empty() && std::mem::take(&mut self.tabs[t].granted) {
                queue.push_back(Input::Sender(self.entries()));
            }
        }
        // Other tabs see this tab's storage writes.
        let out = std::mem::take(&mut self.tabs[t].out);
        for (key, value) in out {
            for other in 0..self.tabs.len() {
                if other != t {
                    self.input(
                        other,
                        Input::StorageChanged {
                            key: Some(key.clone()),
                            value: value.clone(),
                        },
                    );
                }
            }
        }
    }

    fn execute(&mut self, t: usize, e: Effect, queue: &mut VecDeque<Input>) {
        match e {
            Effect::Store(op) => {
                let refused = self.storage_full && matches!(op, StoreOp::Put { .. });
                if refused {
                    self.tabs[t].sdk.handle(Input::StoreFailed(op), self.now);
                    return;
                }
                match op {
                    StoreOp::Put { key, value } => {
                        self.storage.insert(key.clone(), value.clone());
                        self.tabs[t].out.push((key, Some(value)));
                    }
                    StoreOp::Delete { key } => {
                        self.storage.remove(&key);
                        self.tabs[t].out.push((key, None));
                    }
                }
            }
            Effect::StoreClear(prefix) => {
                let keys: Vec<String> = self
                    .storage
                    .keys()
                    .filter(|k| k.starts_with(&prefix))
                    .cloned()
                    .collect();
                for k in keys {
                    self.storage.remove(&k);
                    self.tabs[t].out.push((k, None));
                }
            }
            Effect::Send {
                batch,
                body,
                keepalive,
                gzip,
                ..
            } => {
                self.tabs[t].gzipped.push(gzip);
                self.tabs[t].sent.push_back((batch, body, keepalive))
            }
            Effect::Beacon { body, .. } => self.tabs[t].beacons.push(body),
            Effect::LoadConfig(_) | Effect::Listen | Effect::Observe => {}
            Effect::Elect => {
                if self.lock.is_none() {
                    self.lock = Some(t);
                    self.tabs[t].granted = true;
                } else {
                    self.tabs[t].wants_lock = true;
                }
            }
            Effect::ReleaseLock => {
                if self.lock == Some(t) {
                    self.lock = None;
                    // The next tab waiting gets it.
                    if let Some(next) =
                        (0..self.tabs.len()).find(|&o| o != t && self.tabs[o].wants_lock)
                    {
                        self.tabs[next].wants_lock = false;
                        self.lock = Some(next);
                        let entries = self.entries();
                        self.input(next, Input::Sender(entries));
                    }
                }
            }
            Effect::ReadLease => queue.push_back(Input::Heartbeat(
                self.storage.get("sillage.sender").cloned(),
            )),
            Effect::ReadQueue => queue.push_back(Input::Sender(self.entries())),
            Effect::Warn(m) => self.tabs[t].warnings.push(m),
            Effect::Error(m) => self.tabs[t].errors.push(m),
            Effect::Settle { id, ok } => self.tabs[t].settled.push((id, ok)),
            Effect::Call(id) => self.tabs[t].calls.push(id),
            Effect::Announce { change, .. } => self.tabs[t].announced.push(change),
            Effect::Apply(id, patch) => {
                // Patches cross to the personalization module as JSON.
                let patch = Patch::from_json(&cross(&patch.to_json()));
                let failing = self.tabs[t].failing.clone();
                let s = self.tabs[t].slots.entry(id).or_default();
                let mut done = 0;
                let mut errors = Vec::new();
                for step in &patch.steps {
                    let kind = match &step.op {
                        PatchOp::Variant(_) => "variant",
                        PatchOp::Recommend(items) if items.is_empty() => "recommend-empty",
                        PatchOp::Recommend(_) => "recommend",
                        _ => "other",
                    };
                    if failing.contains(&kind) || kind == "recommend-empty" {
                        errors.push(format!("{kind} failed"));
                    } else {
                        done += 1;
                    }
                }
                if done > 0 {
                    s.shown = Some(patch.clone());
                    s.mark = patch.mark.clone();
                    s.applied += 1;
                } else {
                    s.shown = None;
                    s.mark = None;
                }
                s.ready = true;
                queue.push_back(Input::Applied {
                    slot: id,
                    done,
                    errors,
                });
            }
            Effect::Restore(id, mark) => {
                let s = self.tabs[t].slots.entry(id).or_default();
                s.shown = None;
                s.mark = mark;
                s.ready = true;
            }
            Effect::Reveal(id) => self.tabs[t].slots.entry(id).or_default().ready = true,
            Effect::Frame => self.tabs[t].frame = true,
            Effect::FindSlots => self.tabs[t].find = true,
            Effect::LiftHiding | Effect::Mark(_) => {}
            Effect::Table(rows) => self.tabs[t].tables.push(rows),
            Effect::Erase { url, body } => {
                self.tabs[t].erasures.push((url, body));
                queue.push_back(Input::Erased(self.erase_ok));
            }
            Effect::CheckSlots => {
                let present = !self.tabs[t].slots.is_empty();
                self.tabs[t].watching = !present;
                queue.push_back(Input::SlotsPresent(present));
            }
            Effect::LoadPersonalization { config, query } => {
                self.tabs[t].p13n_loads += 1;
                if self.p13n_fails {
                    queue.push_back(Input::PersonalizationFailed("network error".into()));
                    return;
                }
                // The second module, behind the same JSON the browser's
                // modules exchange.
                let (personalizer, diags) =
                    Personalizer::configure(&config, &query, NativeJs::new());
                self.tabs[t].sdk.set_decider(Box::new(ThroughJson {
                    inner: personalizer,
                    host: NativeJs::new(),
                }));
                queue.push_back(Input::PersonalizationReady(
                    diags.iter().map(|d| d.to_line()).collect(),
                ));
            }
            Effect::LoadMessages(url) => {
                assert_eq!(Some(&url), self.messages_url.as_ref());
                self.tabs[t].messages_loads += 1;
                let catalogue = (!self.messages_fail).then(|| {
                    NativeJs::new()
                        .parse_json(&super::messages::catalogue())
                        .expect("the catalogue is JSON")
                });
                queue.push_back(Input::Messages(catalogue));
            }
            Effect::AtTaskEnd if self.tasks_by_hand => {
                assert!(!self.tabs[t].task_end, "asked twice in one task");
                self.tabs[t].task_end = true;
            }
            // The microtask runs once the task's inputs are handled.
            Effect::AtTaskEnd => queue.push_back(Input::TaskEnd),
            Effect::RevealAll => {
                for s in self.tabs[t].slots.values_mut() {
                    s.ready = true;
                }
                self.tabs[t].revealed_all = true;
            }
        }
    }

    fn snapshots(&self, t: usize) -> Vec<SlotSnapshot> {
        self.tabs[t]
            .slots
            .iter()
            .map(|(id, s)| SlotSnapshot {
                id: *id,
                name: s.name.clone(),
                children: s.children.clone(),
            })
            .collect()
    }

    /// Puts slots in tab `t`'s page (before personalization starts).
    fn add_slots(&mut self, t: usize, slots: &[(&str, &[&str])]) -> Vec<SlotId> {
        let mut ids = Vec::new();
        for (name, children) in slots {
            self.next_id += 1;
            self.tabs[t].slots.insert(
                self.next_id,
                FakeSlot {
                    name: name.to_string(),
                    children: children.iter().map(|c| c.to_string()).collect(),
                    ..FakeSlot::default()
                },
            );
            ids.push(self.next_id);
        }
        ids
    }

    /// Runs the microtask the SDK asked for: every slot, at start.
    fn start_slots(&mut self, t: usize) {
        assert!(
            self.tabs[t].find,
            "personalization did not ask for the slots"
        );
        self.tabs[t].find = false;
        let slots = self.snapshots(t);
        self.input(
            t,
            // Found by the personalization module: it crosses as JSON.
            Input::Slots(SlotsFound::from_json(&cross(
                &SlotsFound {
                    slots,
                    why: SlotsWhy::Start,
                    tz_offset_min: 0.0,
                    timed_out: false,
                }
                .to_json(),
            ))),
        );
    }

    /// The next animation frame, if one was asked for: `true` if it ran.
    fn frame(&mut self, t: usize) -> bool {
        if !std::mem::take(&mut self.tabs[t].frame) {
            return false;
        }
        let slots = self.snapshots(t);
        self.input(
            t,
            // Found by the personalization module: it crosses as JSON.
            Input::Slots(SlotsFound::from_json(&cross(
                &SlotsFound {
                    slots,
                    why: SlotsWhy::Frame,
                    tz_offset_min: 0.0,
                    timed_out: false,
                }
                .to_json(),
            ))),
        );
        true
    }

    fn api(&mut self, t: usize, call: Call, url: &str) {
        self.input(t, Input::Api(call, World::page(url)));
    }

    fn track(&mut self, t: usize, event: &str, props: Value) {
        self.api(
            t,
            Call::Track {
                event: arg(json!(event)),
                properties: arg(props),
            },
            "https://shop.example/",
        );
    }

    /// Moves the clock to `to`, stopping at every deadline on the way.
    fn advance_to(&mut self, to: f64) {
        loop {
            let next = self
                .tabs
                .iter()
                .enumerate()
                .filter_map(|(i, tab)| tab.sdk.poll_timeout().map(|d| (i, d)))
                .filter(|(_, d)| *d <= to)
                .min_by(|a, b| a.1.total_cmp(&b.1));
            match next {
                Some((i, d)) => {
                    self.now = self.now.max(d);
                    self.input(i, Input::Timeout);
                }
                None => break,
            }
        }
        self.now = to;
    }

    fn advance(&mut self, ms: f64) {
        self.advance_to(self.now + ms);
    }

    /// Answers tab `t`'s oldest request with `status`.
    fn respond(&mut self, t: usize, status: u16) -> String {
        let (batch, body, _) = self.tabs[t].sent.pop_front().expect("a request was sent");
        self.input(
            t,
            Input::Response {
                batch,
                outcome: Outcome::Status {
                    code: status,
                    retry_after_ms: None,
                },
                jitter: 0.5,
            },
        );
        body
    }

    /// Every stored event, oldest first.
    fn stored(&self) -> Vec<Value> {
        let mut v: Vec<(f64, u64, Value)> = self
            .storage
            .iter()
            .filter(|(k, _)| k.starts_with("sillage.e."))
            .filter_map(|(_, v)| sillage_core::track::outbox::decode_record(v))
            .map(|(at, seq, json)| (at, seq, serde_json::from_str(json).unwrap()))
            .collect();
        v.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        v.into_iter().map(|x| x.2).collect()
    }
}

/// The names (or page paths) of events in a batch body.
fn names(body: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(body).unwrap();
    v["batch"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["event"].as_str().map(String::from).unwrap_or_else(|| {
                format!("page {}", e["context"]["page"]["path"].as_str().unwrap())
            })
        })
        .collect()
}

fn collector() -> Value {
    json!({"version": 1, "collector": {"url": "/v1/batch"}, "capture": {"engagement": false}})
}

#[test]
fn an_event_is_stored_by_the_end_of_its_task_and_deleted_once_acknowledged() {
    let mut w = World::new();
    let t = w.open();
    w.boot(t, "https://shop.example/", collector());
    w.track(t, "Plan Chosen", json!({"plan": "pro"}));
    // Stored (one key per event) by the end of the task that recorded it.
    let names_stored: Vec<String> = w
        .stored()
        .iter()
        .map(|e| e["event"].as_str().unwrap_or("page").to_string())
        .collect();
    assert_eq!(names_stored, ["page", "Plan Chosen"]);
    // Not the sender yet? It is: the lock was free at boot.
    w.api(t, Call::Flush(1), "https://shop.example/");
    let body = w.respond(t, 200);
    assert_eq!(names(&body), ["page /", "Plan Chosen"]);
    assert_eq!(w.tabs[t].settled, [(1, true)]);
    assert!(w.stored().is_empty(), "acknowledged events are deleted");
}

/// The names stored, oldest first.
fn stored_names(w: &World) -> Vec<String> {
    w.stored()
        .iter()
        .map(|e| e["event"].as_str().unwrap_or("page").to_string())
        .collect()
}

#[test]
fn a_tasks_writes_land_together_when_it_ends_and_at_once_when_the_page_hides() {
    let mut w = World::new();
    let t = w.open();
    w.boot(t, "https://shop.example/", collector());
    assert_eq!(stored_names(&w), ["page"]);
    w.tasks_by_hand = true;
    // Three calls in one task: nothing is written while it runs, and the
    // end of the task is asked for once.
    for name in ["One", "Two", "Three"] {
        w.track(t, name, json!({}));
    }
    assert_eq!(stored_names(&w), ["page"], "written before the task ended");
    assert_eq!(w.tabs[t].sdk.writes_waiting(), 3);
    w.end_task(t);
    assert_eq!(stored_names(&w), ["page", "One", "Two", "Three"]);
    assert_eq!(w.tabs[t].sdk.writes_waiting(), 0);
    // The page is hidden: what the task recorded is written at once, with
    // no end of task (the page may never run another microtask).
    w.track(t, "Four", json!({}));
    w.input(t, Input::Visibility(true));
    assert!(stored_names(&w).contains(&"Four".to_string()));
    assert_eq!(w.tabs[t].sdk.writes_waiting(), 0);
    // So is a page going away.
    w.end_task(t);
    w.input(t, Input::Visibility(false));
    w.track(t, "Five", json!({}));
    w.input(t, Input::PageHide);
    assert!(stored_names(&w).contains(&"Five".to_string()));
    // Acknowledgements are writes too (deletes), behind like the others.
    w.end_task(t);
}

#[test]
fn a_forget_in_the_task_that_recorded_events_leaves_none_of_them_stored() {
    let mut w = World::new();
    let t = w.open();
    w.boot(t, "https://shop.example/", collector());
    let old = w.tabs[t].sdk.debug_state().0;
    w.tasks_by_hand = true;
    w.track(t, "Before Forget", json!({}));
    // The clear is applied after the writes waiting, never before them.
    w.api(t, Call::Forget(1), "https://shop.example/");
    w.end_task(t);
    assert!(
        !w.stored().iter().any(|e| e["anonymousId"] == old.as_str()),
        "{:?}",
        w.stored()
    );
}

#[test]
fn a_tab_elected_before_its_task_ended_sends_what_the_task_recorded() {
    let mut w = World::new();
    let a = w.open();
    w.boot(a, "https://shop.example/", collector());
    let b = w.open();
    w.boot(b, "https://shop.example/b", collector());
    w.tasks_by_hand = true;
    // Tab b is not the sender: its events are only in storage, and these
    // are not there yet when the lock comes to it.
    w.track(b, "Waiting In B", json!({}));
    assert!(!stored_names(&w).contains(&"Waiting In B".to_string()));
    w.input(a, Input::PageHide);
    assert_eq!(w.lock, Some(b));
    w.end_task(b);
    w.tasks_by_hand = false;
    w.api(b, Call::Flush(1), "https://shop.example/b");
    let body = w.respond(b, 200);
    assert!(names(&body).contains(&"Waiting In B".to_string()), "{body}");
    assert!(!stored_names(&w).contains(&"Waiting In B".to_string()));
}

#[test]
fn batches_are_gzipped_only_when_the_config_asks_and_the_browser_can() {
    let gzip = json!({"version": 1, "collector": {"url": "/v1/batch", "compress": "gzip"},
        "capture": {"engagement": false}});
    for (config, browser_can, want) in [
        (gzip.clone(), true, true),
        (gzip, false, false),
        (collector(), true, false),
    ] {
        let mut w = World::new();
        w.compression = browser_can;
        let t = w.open();
        w.boot(t, "https://shop.example/", config);
        w.track(t, "One", json!({}));
        w.api(t, Call::Flush(1), "https://shop.example/");
        w.respond(t, 200);
        w.track(t, "Two", json!({}));
        w.api(t, Call::Flush(2), "https://shop.example/");
        w.respond(t, 200);
        assert_eq!(w.tabs[t].gzipped, [want, want], "browser_can={browser_can}");
        assert_eq!(w.tabs[t].settled, [(1, true), (2, true)]);
    }
}

#[test]
fn flush_right_after_boot_waits_for_the_sending_tab_and_resolves_true() {
    // The lock is granted later (as `navigator.locks` does, asynchronously).
    let mut w = World::new();
    w.lock = Some(99);
    let t = w.open();
    w.boot(t, "https://shop.example/", collector());
    w.track(t, "Early", json!({}));
    w.api(t, Call::Flush(7), "https://shop.example/");
    assert!(
        w.tabs[t].settled.is_empty(),
        "not settled before anything was sent"
    );
    assert!(w.tabs[t].sent.is_empty());
    // The lock comes: this tab sends, the collector acknowledges.
    w.lock = Some(t);
    let entries = w.entries();
    w.input(t, Input::Sender(entries));
    let body = w.respond(t, 200);
    assert_eq!(names(&body), ["page /", "Early"]);
    assert_eq!(w.tabs[t].settled, [(7, true)]);
}

#[test]
fn a_flush_called_while_the_config_loads_waits_for_the_events_recorded_before() {
    // The stub's queue replays `track` and `flush` right after boot, before
    // the config (and so the collector and the consent mode) is known.
    let mut w = World::new();
    let t = w.open();
    w.boot_with(
        t,
        "https://shop.example/",
        "",
        ConfigSource::Url("/config.json".into()),
    );
    w.track(t, "Early", json!({}));
    w.api(t, Call::Flush(3), "https://shop.example/");
    w.input(
        t,
        Input::ConfigLoaded(j(collector()), World::page("https://shop.example/")),
    );
    assert!(
        w.tabs[t].settled.is_empty(),
        "not settled before the events were acknowledged: {:?}",
        w.tabs[t].settled
    );
    let body = w.respond(t, 200);
    assert_eq!(names(&body), ["page /", "Early"]);
    assert_eq!(w.tabs[t].settled, [(3, true)]);
}

#[test]
fn a_flush_in_a_tab_that_does_not_send_resolves_when_the_sending_tab_delivered() {
    let mut w = World::new();
    let a = w.open();
    w.boot(a, "https://shop.example/a", collector());
    let b = w.open();
    w.boot(b, "https://shop.example/b", collector());
    assert_eq!(w.lock, Some(a));
    w.track(b, "From B", json!({}));
    w.api(b, Call::Flush(3), "https://shop.example/b");
    assert!(w.tabs[b].settled.is_empty());
    // B asked the sending tab to flush through storage; A sends B's events.
    w.advance(0.0);
    let body = w.respond(a, 200);
    assert!(names(&body).contains(&"From B".to_string()), "{body}");
    assert_eq!(w.tabs[b].settled, [(3, true)]);
}

#[test]
fn an_outage_is_retried_with_backoff_and_delivers_everything_once() {
    let mut w = World::new();
    let t = w.open();
    w.boot(t, "https://shop.example/", collector());
    for i in 0..30 {
        w.track(t, &format!("E{i}"), json!({}));
    }
    let mut requests = 0;
    let mut delivered = Vec::new();
    // 10 s of 503, then 200.
    let end = w.now + 10_000.0;
    while delivered.len() < 31 {
        if let Some((batch, body, _)) = w.tabs[t].sent.pop_front() {
            requests += 1;
            let code = if w.now < end { 503 } else { 200 };
            if code == 200 {
                delivered.extend(names(&body));
            }
            w.input(
                t,
                Input::Response {
                    batch,
                    outcome: Outcome::Status {
                        code,
                        retry_after_ms: None,
                    },
                    jitter: 0.5,
                },
            );
        } else {
            let next = w.tabs[t]
                .sdk
                .poll_timeout()
                .unwrap_or_else(|| panic!("nothing scheduled after {delivered:?}"));
            w.advance_to(next);
        }
        assert!(requests < 20, "{requests} requests");
    }
    let mut unique = delivered.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 31, "no loss, no duplicate");
    assert!(requests <= 10, "{requests} requests");
}

#[test]
fn a_navigation_while_the_config_loads_comes_after_the_landing() {
    let mut w = World::new();
    let t = w.open();
    w.boot_with(
        t,
        "https://shop.example/?utm_source=flyer&utm_medium=qr",
        "",
        ConfigSource::Url("/config.json".into()),
    );
    w.input(
        t,
        Input::Navigated(World::page("https://shop.example/spa/during-load")),
    );
    w.input(
        t,
        Input::PageSettled(World::page("https://shop.example/spa/during-load")),
    );
    w.input(
        t,
        Input::ConfigLoaded(
            j(collector()),
            World::page("https://shop.example/spa/during-load"),
        ),
    );
    let pages: Vec<Value> = w
        .stored()
        .into_iter()
        .filter(|e| e["type"] == "page")
        .collect();
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert!(pages[0]["context"]["page"]["url"]
        .as_str()
        .unwrap()
        .contains("utm_medium=qr"));
    assert_eq!(
        pages[0]["context"]["sillage"]["touchpoint"]["channel"],
        "Offline"
    );
    assert_eq!(pages[1]["context"]["page"]["path"], "/spa/during-load");
    assert!(pages[1]["context"]["sillage"].get("touchpoint").is_none());
}

fn p13n_config() -> Value {
    json!({"version": 1, "collector": {"url": "/v1/batch"}, "capture": {"engagement": false},
    "rules": [
      {"id": "hero-r", "slot": "hero", "variant": "runner"},
      {"id": "trail-r", "slot": "banner", "when": {"page.path": "/trail"}, "variant": "trail"},
      {"id": "road-r", "slot": "banner", "when": {"page.path": "/road"}, "variant": "road"}
    ]})
}

fn exposures(w: &World) -> Vec<Value> {
    w.stored()
        .into_iter()
        .filter(|e| e["event"] == "Personalization Viewed")
        .map(|e| e["properties"].clone())
        .collect()
}

#[test]
fn the_personalization_module_loads_only_for_a_page_with_slots_and_a_config_with_rules() {
    // Rules, but no slot: the module is not loaded; the shell watches.
    let mut w = World::new();
    let t = w.open();
    w.boot(t, "https://shop.example/", p13n_config());
    assert_eq!(w.tabs[t].p13n_loads, 0);
    assert!(w.tabs[t].watching);
    // A single-page app adds a slot: now it loads, and the slot is decided.
    let ids = w.add_slots(t, &[("hero", &[])]);
    w.input(t, Input::SlotsPresent(true));
    assert_eq!(w.tabs[t].p13n_loads, 1);
    w.start_slots(t);
    assert!(w.tabs[t].slots[&ids[0]].shown.is_some(), "the rule applied");
    // Only once.
    w.input(t, Input::SlotsPresent(true));
    assert_eq!(w.tabs[t].p13n_loads, 1);

    // Slots, but no rules: nothing to decide, nothing loaded, shown at once.
    let mut w = World::new();
    let t = w.open();
    let ids = w.add_slots(t, &[("hero", &[])]);
    w.boot(t, "https://shop.example/", collector());
    assert_eq!(w.tabs[t].p13n_loads, 0);
    assert!(w.tabs[t].revealed_all && w.tabs[t].slots[&ids[0]].ready);
}

#[test]
fn when_the_personalization_module_fails_to_load_defaults_show_and_tracking_goes_on() {
    let mut w = World::new();
    w.p13n_fails = true;
    let t = w.open();
    let ids = w.add_slots(t, &[("hero", &[])]);
    w.boot(t, "https://shop.example/", p13n_config());
    assert_eq!(w.tabs[t].p13n_loads, 1);
    assert!(w.tabs[t].revealed_all && w.tabs[t].slots[&ids[0]].ready);
    assert!(w.tabs[t].slots[&ids[0]].shown.is_none());
    assert_eq!(
        w.tabs[t].warnings,
        ["personalization could not load (network error); the page shows its default content"]
    );
    w.track(t, "Still Tracked", json!({}));
    let names: Vec<Value> = w
        .stored()
        .into_iter()
        .filter_map(|e| e.get("event").cloned())
        .collect();
    assert_eq!(names, [json!("Still Tracked")]);
    assert!(w.tabs[t].sdk.debug(w.now).get("slots") == Some(&Json::Arr(Vec::new())));
}

#[test]
fn the_personalization_modules_config_problems_are_reported_with_their_paths() {
    let mut w = World::new();
    let t = w.open();
    w.add_slots(t, &[("hero", &[])]);
    let config = json!({"version": 1, "rules": [
        {"id": "ok", "slot": "hero", "variant": "runner"},
        {"id": "bad", "slot": "hero", "when": {"stage": {"$bogus": 1}}, "variant": "x"}
    ]});
    w.boot(t, "https://shop.example/", config);
    let warned: Vec<&String> = w.tabs[t]
        .warnings
        .iter()
        .filter(|m| m.contains("rules[1]"))
        .collect();
    assert_eq!(warned.len(), 1, "{:?}", w.tabs[t].warnings);
    assert!(
        warned[0]
            == "config (inline #sillage-config): rules[1].when.stage: unknown operator \"$bogus\"",
        "{}",
        warned[0]
    );
}

#[test]
fn a_config_with_errors_loads_the_sentences_once_and_prints_its_diagnostics_in_them() {
    let mut w = World::new();
    let t = w.open();
    w.add_slots(t, &[("hero", &[])]);
    let config = json!({"version": 1, "colector": {}, "capture": {"clicks": "yes"}, "rules": [
        {"id": "bad", "slot": "hero", "when": {"stage": {"$bogus": 1}}, "variant": "x"}
    ]});
    w.boot(t, "https://shop.example/", config);
    // Both modules' problems, in words, from the one catalogue.
    assert_eq!(w.tabs[t].messages_loads, 1);
    let config_lines: Vec<&String> = w.tabs[t]
        .warnings
        .iter()
        .filter(|m| m.starts_with("config ("))
        .collect();
    assert_eq!(
        config_lines,
        [
            "config (inline #sillage-config): colector: unknown key \"colector\" (did you mean \"collector\"?)",
            "config (inline #sillage-config): capture.clicks: must be true or false, not string",
            "config (inline #sillage-config): rules[0].when.stage: unknown operator \"$bogus\"",
        ]
    );
    assert!(!w.tabs[t].warnings.iter().any(|m| m.contains("code ")));
}

#[test]
fn without_the_sentences_a_diagnostic_prints_its_path_code_and_arguments() {
    let code_of = |text: &str| {
        let mut hex = String::new();
        sillage_core::support::diag::push_code(&mut hex, sillage_core::support::diag::code(text));
        hex
    };
    for (fails, url) in [
        (true, Some("/sillage/sillage_messages.json")),
        (false, None),
    ] {
        let mut w = World::new();
        w.messages_fail = fails;
        w.messages_url = url.map(String::from);
        let t = w.open();
        w.add_slots(t, &[("hero", &[])]);
        let config = json!({"version": 1, "rules": [
            {"id": "a", "slot": "hero", "when": {"stage": {"$bogus": 1}}, "variant": "x"},
            {"id": "b", "slot": "hero", "when": {"stage": {"$nope": 1}}, "variant": "x"}
        ]});
        w.boot(t, "https://shop.example/", config);
        assert_eq!(w.tabs[t].messages_loads, usize::from(url.is_some()));
        let code = code_of("unknown operator \"{}\"");
        let warned: Vec<String> = w.tabs[t]
            .warnings
            .iter()
            .filter(|m| !m.starts_with("personalization"))
            .cloned()
            .collect();
        assert_eq!(
            warned,
            [
                format!(
                    "config (inline #sillage-config): rules[0].when.stage: code {code} ($bogus)"
                ),
                format!(
                    "config (inline #sillage-config): rules[1].when.stage: code {code} ($nope)"
                ),
            ],
            "the catalogue fails: {fails}"
        );
    }
}

#[test]
fn debug_loads_the_sentences_and_the_calls_made_meanwhile_wait_for_them() {
    let mut w = World::new();
    let t = w.open();
    // The calls made while the config loads are replayed once it is
    // applied, and their diagnostics wait for the catalogue.
    w.boot_with(
        t,
        "https://shop.example/",
        "",
        ConfigSource::Url("/c.json".into()),
    );
    w.track(t, "", json!({}));
    assert!(w.tabs[t].warnings.is_empty(), "{:?}", w.tabs[t].warnings);
    w.input(
        t,
        Input::ConfigLoaded(
            NativeJs::new()
                .parse_json(r#"{"version": 1, "debug": true}"#)
                .expect("JSON"),
            World::page("https://shop.example/"),
        ),
    );
    assert_eq!(w.tabs[t].messages_loads, 1);
    assert_eq!(
        w.tabs[t].warnings,
        ["track.event: must be a non-empty string of at most 200 characters; the event was dropped"]
    );
    // Without debug and without errors the catalogue is never fetched.
    let mut w = World::new();
    let t = w.open();
    w.boot(t, "https://shop.example/", collector());
    w.track(t, "Fine", json!({}));
    assert_eq!(w.tabs[t].messages_loads, 0);
}

#[test]
fn a_consent_declined_before_load_counts_for_the_first_decision() {
    let mut w = World::new();
    let t = w.open();
    let ids = w.add_slots(t, &[("hero", &[])]);
    w.boot_with(
        t,
        "https://shop.example/",
        "",
        ConfigSource::Url("/c.json".into()),
    );
    // Queued by the stub and replayed before the config arrived.
    w.api(
        t,
        Call::Consent(arg(json!({"personalization": false})), false),
        "https://shop.example/",
    );
    w.input(
        t,
        Input::ConfigLoaded(j(p13n_config()), World::page("https://shop.example/")),
    );
    w.start_slots(t);
    let s = &w.tabs[t].slots[&ids[0]];
    assert!(s.ready && s.shown.is_none() && s.mark.is_none(), "{s:?}");
    assert!(
        exposures(&w).is_empty(),
        "no exposure for a declined consent"
    );
    // And after an inline config, with the stub's calls replayed in the same task.
    let mut w = World::new();
    let t = w.open();
    let ids = w.add_slots(t, &[("hero", &[])]);
    w.boot(t, "https://shop.example/", p13n_config());
    w.api(
        t,
        Call::Consent(arg(json!({"personalization": false})), false),
        "https://shop.example/",
    );
    w.start_slots(t);
    assert!(w.tabs[t].slots[&ids[0]].shown.is_none());
    assert!(exposures(&w).is_empty());
}

#[test]
fn after_an_spa_navigation_the_slots_follow_in_the_next_frame_without_the_loop_guard() {
    let mut w = World::new();
    let t = w.open();
    let ids = w.add_slots(t, &[("banner", &[])]);
    w.boot(t, "https://shop.example/", p13n_config());
    w.start_slots(t);
    assert!(w.tabs[t].slots[&ids[0]].shown.is_none(), "no rule on /");
    // Quick route changes, 100 ms apart: each shows in the next frame.
    for (i, (path, want)) in [
        ("/trail", Some("trail")),
        ("/road", Some("road")),
        ("/", None),
        ("/trail", Some("trail")),
        ("/road", Some("road")),
    ]
    .into_iter()
    .enumerate()
    {
        let url = format!("https://shop.example{path}");
        w.input(t, Input::Navigated(World::page(&url)));
        assert!(w.frame(t), "step {i}: a frame was asked for");
        let shown = w.tabs[t].slots[&ids[0]]
            .shown
            .as_ref()
            .map(|p| match &p.steps[0].op {
                PatchOp::Variant(v) => v.clone(),
                other => panic!("{other:?}"),
            });
        assert_eq!(shown.as_deref(), want, "step {i} ({path})");
        w.input(t, Input::PageSettled(World::page(&url)));
        w.advance(100.0);
    }
    assert!(
        w.tabs[t].warnings.iter().all(|m| !m.contains("re-applied")),
        "{:?}",
        w.tabs[t].warnings
    );
    // One exposure per slot per page view.
    let rules: Vec<String> = exposures(&w)
        .iter()
        .map(|p| p["rule_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(rules, ["trail-r", "road-r", "trail-r", "road-r"]);
}

#[test]
fn a_slot_a_framework_keeps_resetting_is_applied_again_within_the_loop_guard() {
    let mut w = World::new();
    let t = w.open();
    let ids = w.add_slots(t, &[("hero", &[])]);
    w.boot(t, "https://shop.example/", p13n_config());
    w.start_slots(t);
    let id = ids[0];
    assert_eq!(w.tabs[t].slots[&id].applied, 1);
    // The framework resets the slot every 50 ms.
    for _ in 0..10 {
        w.advance(50.0);
        w.tabs[t].slots.get_mut(&id).unwrap().shown = None;
        w.input(t, Input::SlotContentLost(id, true));
        w.frame(t);
    }
    // 3 applications a second, then left alone with one warning.
    let s = &w.tabs[t].slots[&id];
    assert_eq!(s.applied, 3, "{s:?}");
    let warned: Vec<&String> = w.tabs[t]
        .warnings
        .iter()
        .filter(|m| m.contains("re-applied 3 times"))
        .collect();
    assert_eq!(warned.len(), 1);
    // Quiet for a second: applied once more, and it shows again.
    w.advance(1_000.0);
    assert!(w.frame(t), "the quiet retry asked for a frame");
    assert_eq!(w.tabs[t].slots[&id].applied, 4);
    assert!(w.tabs[t].slots[&id].shown.is_some());
    // One exposure for the page view, however often it was applied.
    assert_eq!(exposures(&w).len(), 1);
}

#[test]
fn a_visitor_switching_a_rule_on_and_off_quickly_is_not_a_framework_fight() {
    // Attributes toggled 10 times in half a second: each switch on applies
    // the rule, each switch off restores the default, and the loop guard
    // (meant for pages that throw away what a rule put there) stays quiet.
    let mut w = World::new();
    let t = w.open();
    let ids = w.add_slots(t, &[("hero", &[])]);
    let config = json!({"version": 1, "collector": {"url": "/v1/batch"}, "capture": {"engagement": false},
        "rules": [{"id": "on-r", "slot": "hero", "when": {"step": "on"}, "variant": "runner"}]});
    w.boot(t, "https://shop.example/", config);
    w.start_slots(t);
    let id = ids[0];
    assert!(w.tabs[t].slots[&id].shown.is_none(), "no rule yet");
    for i in 0..10 {
        w.advance(50.0);
        let step = if i % 2 == 0 { "on" } else { "off" };
        w.api(
            t,
            Call::Attributes(arg(json!({ "step": step }))),
            "https://shop.example/",
        );
        w.frame(t);
        let s = &w.tabs[t].slots[&id];
        assert_eq!(
            s.shown.is_some(),
            step == "on",
            "switch {i} ({step}): {s:?}"
        );
    }
    assert_eq!(
        w.tabs[t].slots[&id].applied, 5,
        "each switch on applied the rule"
    );
    let warned = w.tabs[t].warnings.iter().any(|m| m.contains("re-applied"));
    assert!(!warned, "{:?}", w.tabs[t].warnings);
}

#[test]
fn control_and_holdout_visitors_are_measured_and_see_the_default() {
    let mut w = World::new();
    let t = w.open();
    let ids = w.add_slots(t, &[("cta", &[])]);
    let config = json!({"version": 1, "collector": {"url": "/v1/batch"}, "rules": [
        {"id": "cta-test", "slot": "cta", "experiment": {"key": "k", "variants": ["control", "bold"], "weights": [1, 0], "holdout": 0},
         "actions": [{"type": "setText", "selector": "a", "text": "Shop now"}]}]});
    w.boot(t, "https://shop.example/", config);
    w.start_slots(t);
    let s = &w.tabs[t].slots[&ids[0]];
    assert!(s.shown.is_none());
    assert_eq!(s.mark, Some(("cta-test".into(), "default".into())));
    let viewed: Vec<Value> = w
        .stored()
        .into_iter()
        .filter(|e| e["event"] == "Experiment Viewed")
        .collect();
    assert_eq!(viewed.len(), 1);
    assert_eq!(viewed[0]["properties"]["variation_id"], "control");
}

#[test]
fn a_missing_variant_is_reported_once_and_the_default_stays() {
    let mut w = World::new();
    let t = w.open();
    w.tabs[t].failing.push("variant");
    let ids = w.add_slots(t, &[("hero", &[])]);
    w.boot(t, "https://shop.example/", p13n_config());
    w.start_slots(t);
    let s = &w.tabs[t].slots[&ids[0]];
    assert!(s.ready && s.shown.is_none() && s.mark.is_none());
    assert_eq!(
        w.tabs[t].errors,
        ["slot \"hero\" (rule \"hero-r\"): variant failed; the default content stays"]
    );
    assert!(exposures(&w).is_empty(), "nothing shown, nothing measured");
    // Not tried again while the decision is the same.
    w.input(
        t,
        Input::Api(
            Call::Attributes(arg(json!({"x": 1}))),
            World::page("https://shop.example/"),
        ),
    );
    w.frame(t);
    assert_eq!(w.tabs[t].errors.len(), 1);
}

#[test]
fn a_stage_change_is_recorded_by_the_tab_that_caused_it_and_heard_by_every_tab() {
    let mut w = World::new();
    let a = w.open();
    w.boot(a, "https://shop.example/", collector());
    let b = w.open();
    w.boot(b, "https://shop.example/", collector());
    for t in [a, b] {
        w.api(
            t,
            Call::On {
                event: arg(json!("stage")),
                callback: Some(1),
            },
            "https://shop.example/",
        );
    }
    w.track(a, "Product Added", json!({"product_id": "x", "price": 10}));
    w.track(a, "Checkout Started", json!({"value": 10}));
    let changes: Vec<Value> = w
        .stored()
        .into_iter()
        .filter(|e| e["event"] == "Journey Stage Changed")
        .collect();
    assert!(!changes.is_empty());
    assert_eq!(changes.last().unwrap()["properties"]["to"], "purchase");
    // Both tabs' listeners heard it; only tab A recorded it (once per change).
    assert_eq!(w.tabs[a].announced.len(), changes.len());
    assert_eq!(w.tabs[b].announced.len(), changes.len());
}

#[test]
fn clicks_in_a_personalized_slot_are_attributed_to_its_rule() {
    let mut w = World::new();
    let t = w.open();
    let ids = w.add_slots(t, &[("hero", &[])]);
    w.boot(t, "https://shop.example/", p13n_config());
    w.start_slots(t);
    w.input(
        t,
        Input::Click(Click {
            tag: "a".into(),
            link: Some("https://shop.example/trail".into()),
            actionable: true,
            slot: Some((ids[0], None)),
            host: "shop.example".into(),
            ..Click::default()
        }),
    );
    let clicked: Vec<Value> = w
        .stored()
        .into_iter()
        .filter(|e| e["event"] == "Personalization Clicked")
        .collect();
    assert_eq!(clicked.len(), 1);
    assert_eq!(
        clicked[0]["properties"],
        json!({"slot": "hero", "variant": "runner", "rule_id": "hero-r", "url": "https://shop.example/trail"})
    );
}

#[test]
fn blocked_storage_keeps_events_in_memory_with_one_warning() {
    let mut w = World::new();
    let t = w.open();
    w.boot(t, "https://shop.example/", collector());
    w.storage_full = true;
    w.track(t, "From Memory", json!({}));
    w.track(t, "Again", json!({}));
    w.api(t, Call::Flush(1), "https://shop.example/");
    let body = w.respond(t, 200);
    assert!(names(&body).contains(&"From Memory".to_string()));
    assert!(body.contains("\"storage\":\"memory\""), "{body}");
    let warned = w.tabs[t]
        .warnings
        .iter()
        .filter(|m| m.contains("localStorage is unavailable"))
        .count();
    assert_eq!(warned, 1);
}

#[test]
fn an_event_over_32_kb_is_refused_whole_and_the_batch_is_not_lost() {
    // Segment's API answers 400 to a batch holding an event over 32 KB:
    // such an event is refused at the call, the others go on.
    let mut w = World::new();
    let t = w.open();
    w.boot(t, "https://shop.example/", collector());
    let props = |n: usize| {
        let mut m = serde_json::Map::new();
        for i in 0..n {
            m.insert(format!("field{i}"), json!("x".repeat(1_000)));
        }
        Value::Object(m)
    };
    w.track(t, "Big", props(40));
    w.track(t, "Fits", props(25));
    assert_eq!(w.tabs[t].warnings.len(), 1, "{:?}", w.tabs[t].warnings);
    let warning = &w.tabs[t].warnings[0];
    assert!(
        warning.starts_with("track: the event is 4")
            && warning.contains("over 32 KB")
            && warning.ends_with("the event was dropped"),
        "{warning}"
    );
    let names: Vec<Value> = w
        .stored()
        .into_iter()
        .filter_map(|e| e.get("event").cloned())
        .collect();
    assert_eq!(names, [json!("Fits")]);
}

#[test]
fn bad_arguments_are_warned_and_say_the_event_was_dropped() {
    let mut w = World::new();
    let t = w.open();
    w.boot(t, "https://shop.example/", collector());
    w.api(
        t,
        Call::Track {
            event: arg(json!("X")),
            properties: arg(json!("str")),
        },
        "https://shop.example/",
    );
    w.api(
        t,
        Call::Track {
            event: arg(json!("Y")),
            properties: Arg::Invalid("a cycle at self".into()),
        },
        "https://shop.example/",
    );
    w.api(
        t,
        Call::Track {
            event: arg(json!("Z")),
            properties: Arg::Json(
                j(json!({"ok": 1})),
                vec![("el".into(), "a DOM node (button)".into())],
            ),
        },
        "https://shop.example/",
    );
    assert_eq!(
        w.tabs[t].warnings,
        [
            "track.properties: must be an object, not string; the event was dropped",
            "track.properties: is not JSON-compatible: a cycle at self; the event was dropped",
            "track.properties.el: a DOM node (button) is not JSON data; left out",
        ]
    );
    let names: Vec<Value> = w
        .stored()
        .into_iter()
        .filter_map(|e| e.get("event").cloned())
        .collect();
    assert_eq!(names, [json!("Z")]);
}

#[test]
fn oversized_input_is_refused_with_its_path_and_nothing_is_recorded() {
    let mut w = World::new();
    let t = w.open();
    w.boot(t, "https://shop.example/", collector());
    // What the shell gives for a string it refused by its length alone.
    w.api(
        t,
        Call::Track {
            event: Arg::TooLong(String::new(), 1 << 20),
            properties: Arg::Missing,
        },
        "https://shop.example/",
    );
    w.api(
        t,
        Call::Track {
            event: arg(json!("Notes Saved")),
            properties: Arg::TooLong("notes".into(), 40_000),
        },
        "https://shop.example/",
    );
    // A name that did reach the core, a megabyte long: refused by its
    // length, with no near-miss search over it.
    let huge = "Product Addedd".repeat(75_000);
    w.api(
        t,
        Call::Track {
            event: arg(json!(huge)),
            properties: Arg::Missing,
        },
        "https://shop.example/",
    );
    assert_eq!(
        w.tabs[t].warnings,
        [
            "track.event: is a string of 1048576 characters, more than an event may hold (32 KB of JSON); the event was dropped",
            "track.properties.notes: is a string of 40000 characters, more than an event may hold (32 KB of JSON); the event was dropped",
            "track.event: must be a non-empty string of at most 200 characters; the event was dropped",
        ]
    );
    assert!(
        w.stored().iter().all(|e| e["type"] == "page"),
        "only the landing's page view is stored"
    );
    assert_eq!(
        sillage_core::support::diag::did_you_mean(&huge, &["Product Added"]),
        None
    );
}

fn journey_config(redecide: &str) -> Value {
    json!({"version": 1, "collector": {"url": "/v1/batch"}, "capture": {"engagement": false},
    "personalization": {"redecide": redecide},
    "catalog": [
      {"id": "shoe", "title": "Trail shoe", "url": "/p/shoe", "price": 129, "topics": ["trail"], "complements": ["sock"]},
      {"id": "sock", "title": "Socks", "url": "/p/sock", "price": 29, "topics": ["trail"]}],
    "rules": [
      {"id": "cart-hero", "slot": "hero", "when": {"stage": "purchase"}, "variant": "cart"},
      {"id": "cross", "slot": "recs", "when": {"cart.items": {"$gte": 1}},
       "actions": [{"type": "recommend", "strategy": "crossSell"}]},
      {"id": "vip", "slot": "badge", "when": {"tier": "gold"}, "variant": "gold"},
      {"id": "runner", "slot": "picks", "when": {"interests.trail": {"$gt": 0.5}}, "variant": "trail"}
    ]})
}

#[test]
fn slots_follow_the_journey_without_a_reload() {
    let mut w = World::new();
    let t = w.open();
    let ids = w.add_slots(
        t,
        &[("hero", &[]), ("recs", &[]), ("badge", &[]), ("picks", &[])],
    );
    w.boot(t, "https://shop.example/p/shoe", journey_config("change"));
    w.start_slots(t);
    let shown = |w: &World, i: usize| w.tabs[t].slots[&ids[i]].shown.is_some();
    assert!(!shown(&w, 0) && !shown(&w, 1) && !shown(&w, 2) && !shown(&w, 3));
    // The cart fills: the cross-sell block and the stage's hero follow in
    // the next frame.
    w.track(
        t,
        "Product Added",
        json!({"product_id": "shoe", "price": 129, "category": "trail"}),
    );
    assert!(w.frame(t), "a change the rules read asks for a frame");
    assert!(shown(&w, 1), "cross-sell filled without a reload");
    let recs = w.tabs[t].slots[&ids[1]].shown.clone().unwrap();
    assert!(
        matches!(&recs.steps[0].op, PatchOp::Recommend(items) if items.len() == 1 && items[0].id == "sock")
    );
    assert!(shown(&w, 0), "the purchase stage's hero");
    let applied_before = w.tabs[t].slots[&ids[0]].applied;
    // An attribute: only the slot whose decision changes is touched.
    w.api(
        t,
        Call::Attributes(arg(json!({"tier": "gold"}))),
        "https://shop.example/p/shoe",
    );
    assert!(w.frame(t));
    assert!(shown(&w, 2));
    assert_eq!(
        w.tabs[t].slots[&ids[0]].applied, applied_before,
        "unchanged slots are left alone"
    );
    // An interest crossing the rule's threshold.
    w.api(
        t,
        Call::Interest {
            topic: arg(json!("trail")),
            weight: arg(json!(0.9)),
        },
        "https://shop.example/p/shoe",
    );
    assert!(w.frame(t));
    assert!(shown(&w, 3));
    // Consent withdrawn: every default at once, no frame needed.
    w.api(
        t,
        Call::Consent(arg(json!({"personalization": false})), false),
        "https://shop.example/p/shoe",
    );
    assert!(!shown(&w, 0) && !shown(&w, 1) && !shown(&w, 2) && !shown(&w, 3));
}

#[test]
fn with_redecide_navigation_content_moves_only_at_a_navigation() {
    let mut w = World::new();
    let t = w.open();
    let ids = w.add_slots(t, &[("recs", &[])]);
    w.boot(
        t,
        "https://shop.example/p/shoe",
        journey_config("navigation"),
    );
    w.start_slots(t);
    w.track(
        t,
        "Product Added",
        json!({"product_id": "shoe", "price": 129}),
    );
    assert!(!w.frame(t), "no frame for a change of the profile");
    assert!(w.tabs[t].slots[&ids[0]].shown.is_none());
    // The next page view decides again.
    w.input(
        t,
        Input::Navigated(World::page("https://shop.example/cart")),
    );
    assert!(w.frame(t));
    assert!(w.tabs[t].slots[&ids[0]].shown.is_some());
}

#[test]
fn segment_calls_page_group_alias_and_reset() {
    let mut w = World::new();
    let t = w.open();
    w.boot(t, "https://shop.example/docs", collector());
    let url = "https://shop.example/docs";
    let page = |a: Value, b: Value, c: Value| Call::Page {
        a: if a.is_null() { Arg::Missing } else { arg(a) },
        b: if b.is_null() { Arg::Missing } else { arg(b) },
        c: if c.is_null() { Arg::Missing } else { arg(c) },
    };
    w.api(
        t,
        page(json!("Docs"), json!("Intro"), json!({"section": 1})),
        url,
    );
    w.api(
        t,
        page(json!("Pricing"), json!({"plan": "pro"}), Value::Null),
        url,
    );
    w.api(
        t,
        page(json!({"name": "Legacy"}), Value::Null, Value::Null),
        url,
    );
    w.api(
        t,
        Call::Group {
            group_id: arg(json!("acme")),
            traits: arg(json!({"plan": "team"})),
        },
        url,
    );
    let anon = w.tabs[t].sdk.debug_state().0;
    w.api(
        t,
        Call::Alias {
            user_id: arg(json!("u-2")),
            previous_id: Arg::Missing,
        },
        url,
    );
    let stored = w.stored();
    let pages: Vec<&Value> = stored.iter().filter(|e| e["type"] == "page").collect();
    // The landing, then the three calls.
    assert_eq!(pages.len(), 4);
    assert_eq!(
        (&pages[1]["category"], &pages[1]["name"]),
        (&json!("Docs"), &json!("Intro"))
    );
    assert_eq!(pages[1]["properties"]["category"], "Docs");
    assert_eq!(pages[1]["properties"]["name"], "Intro");
    assert_eq!(pages[1]["properties"]["section"], 1);
    assert_eq!(pages[1]["properties"]["path"], "/docs");
    assert_eq!(pages[2]["name"], "Pricing");
    assert!(pages[2].get("category").is_none());
    assert_eq!(pages[2]["properties"]["plan"], "pro");
    assert_eq!(pages[3]["name"], "Legacy");
    let group = stored.iter().find(|e| e["type"] == "group").unwrap();
    assert_eq!(group["groupId"], "acme");
    assert_eq!(group["traits"], json!({"plan": "team"}));
    let alias = stored.iter().find(|e| e["type"] == "alias").unwrap();
    assert_eq!(alias["userId"], "u-2");
    assert_eq!(
        alias["previousId"],
        anon.as_str(),
        "the anonymous id, without a user id"
    );
    assert_eq!(
        w.storage.get("sillage.userId").map(String::as_str),
        Some("u-2")
    );
    // A bad group id is named, and the event dropped.
    w.api(
        t,
        Call::Group {
            group_id: arg(json!("")),
            traits: Arg::Missing,
        },
        url,
    );
    assert_eq!(
        w.tabs[t].warnings.last().unwrap(),
        "group.groupId: must be a non-empty string of at most 200 characters; the event was dropped"
    );
    // reset(): a new anonymous id and no user from now on; the profile stays.
    let sessions = w.tabs[t]
        .sdk
        .profile(w.now)
        .unwrap()
        .get("sessions")
        .cloned();
    w.api(t, Call::Reset, url);
    w.track(t, "After Reset", json!({}));
    let after = w
        .stored()
        .into_iter()
        .find(|e| e["event"] == "After Reset")
        .unwrap();
    assert_ne!(after["anonymousId"], anon.as_str());
    assert!(after.get("userId").is_none());
    assert_eq!(
        w.storage.get("sillage.anonymousId"),
        after["anonymousId"].as_str().map(String::from).as_ref()
    );
    assert!(!w.storage.contains_key("sillage.userId"));
    assert_eq!(
        w.tabs[t]
            .sdk
            .profile(w.now)
            .unwrap()
            .get("sessions")
            .cloned(),
        sessions
    );
}

fn privacy(p: Value) -> Value {
    let mut c = collector();
    c["privacy"] = p;
    c
}

fn sillage_keys(w: &World) -> Vec<String> {
    w.storage
        .keys()
        .filter(|k| k.starts_with("sillage."))
        .cloned()
        .collect()
}

/// Every event sent so far by tab `t` (answering each request with 200).
fn send_all(w: &mut World, t: usize) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        w.advance(60_000.0);
        if w.tabs[t].sent.is_empty() {
            return out;
        }
        while !w.tabs[t].sent.is_empty() {
            let body = w.respond(t, 200);
            let v: Value = serde_json::from_str(&body).unwrap();
            out.extend(v["batch"].as_array().unwrap().iter().cloned());
        }
    }
}

fn event_names(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            e["event"]
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| e["type"].as_str().unwrap().into())
        })
        .collect()
}

#[test]
fn consent_required_stores_and_sends_nothing_until_given_then_everything_in_order() {
    let mut w = World::new();
    let t = w.open();
    let ids = w.add_slots(t, &[("hero", &[])]);
    let mut config = p13n_config();
    config["privacy"] = json!({"consent": "required"});
    w.boot(t, "https://shop.example/", config);
    w.start_slots(t);
    w.track(t, "Before Consent", json!({"n": 1}));
    assert!(
        send_all(&mut w, t).is_empty(),
        "nothing is sent before consent"
    );
    assert_eq!(
        sillage_keys(&w),
        Vec::<String>::new(),
        "nothing is stored before consent"
    );
    // Personalization runs from memory meanwhile.
    assert!(w.tabs[t].slots[&ids[0]].shown.is_some());
    // The visitor agrees: the held events are stored and sent, in order.
    w.api(
        t,
        Call::Consent(arg(json!({"analytics": true})), true),
        "https://shop.example/",
    );
    w.track(t, "After Consent", json!({}));
    let names = event_names(&send_all(&mut w, t));
    assert_eq!(names[0], "page");
    let before = names.iter().position(|n| n == "Before Consent").unwrap();
    let after = names.iter().position(|n| n == "After Consent").unwrap();
    assert!(before < after, "{names:?}");
    assert!(w.storage.contains_key("sillage.anonymousId"));
    assert_eq!(w.storage["sillage.consent"], r#"{"analytics":true}"#);
}

#[test]
fn a_refusal_drops_what_was_held_and_later_pages_honour_it() {
    let mut w = World::new();
    let t = w.open();
    w.boot(
        t,
        "https://shop.example/",
        privacy(json!({"consent": "required"})),
    );
    w.track(t, "Held", json!({}));
    w.api(
        t,
        Call::Consent(arg(json!({"analytics": false})), true),
        "https://shop.example/",
    );
    w.track(t, "After Refusal", json!({}));
    assert!(send_all(&mut w, t).is_empty());
    // Only the choice itself is kept, so the next page knows it.
    assert_eq!(sillage_keys(&w), ["sillage.consent"]);
    let t2 = w.open();
    w.boot(
        t2,
        "https://shop.example/next",
        privacy(json!({"consent": "required"})),
    );
    w.track(t2, "Next Page", json!({}));
    assert!(send_all(&mut w, t2).is_empty());
    assert_eq!(sillage_keys(&w), ["sillage.consent"]);
}

#[test]
fn an_opt_out_discards_the_queue_and_the_ids_in_every_tab() {
    let mut w = World::new();
    let a = w.open();
    w.boot(a, "https://shop.example/a", collector());
    let b = w.open();
    w.boot(b, "https://shop.example/b", collector());
    assert_eq!(w.lock, Some(a));
    w.track(b, "Before Withdrawal", json!({}));
    w.track(a, "Also Before", json!({}));
    // Tab B withdraws; tab A (the sender) hears it through storage.
    w.api(
        b,
        Call::Consent(arg(json!({"analytics": false})), true),
        "https://shop.example/b",
    );
    w.track(a, "After In A", json!({}));
    w.track(b, "After In B", json!({}));
    for t in [a, b] {
        assert!(
            send_all(&mut w, t).is_empty(),
            "tab {t} sent after the withdrawal"
        );
    }
    let keys = sillage_keys(&w);
    assert!(
        keys.iter().all(|k| !k.starts_with("sillage.e.")),
        "{keys:?}"
    );
    assert!(
        !keys.contains(&"sillage.anonymousId".to_string()),
        "{keys:?}"
    );
    // The profile still learns, on the device.
    assert!(w.tabs[a].sdk.profile(w.now).is_some());
}

#[test]
fn gpc_and_dnt_opt_out_unless_the_visitor_agrees_by_their_own_action() {
    for (gpc, dnt, respect) in [(true, false, "respectGpc"), (false, true, "respectDnt")] {
        let mut w = World::new();
        w.signals = sillage_core::sdk::Signals { gpc, dnt };
        let t = w.open();
        let ids = w.add_slots(t, &[("hero", &[])]);
        w.boot(t, "https://shop.example/", p13n_config());
        w.start_slots(t);
        w.track(t, "Signal", json!({}));
        assert!(send_all(&mut w, t).is_empty(), "{respect}: nothing is sent");
        assert!(sillage_keys(&w)
            .iter()
            .all(|k| !k.starts_with("sillage.e.")));
        assert!(
            w.tabs[t].slots[&ids[0]].shown.is_some(),
            "personalization still works"
        );
        // A script's agreement without the visitor's action is ignored.
        w.api(
            t,
            Call::Consent(arg(json!({"analytics": true})), false),
            "https://shop.example/",
        );
        assert!(w.tabs[t]
            .warnings
            .last()
            .unwrap()
            .contains("only the visitor's own action"));
        w.track(t, "Still Nothing", json!({}));
        assert!(send_all(&mut w, t).is_empty());
        // The visitor's click agrees.
        w.api(
            t,
            Call::Consent(arg(json!({"analytics": true})), true),
            "https://shop.example/",
        );
        w.track(t, "Agreed", json!({}));
        assert_eq!(event_names(&send_all(&mut w, t)), ["Agreed"]);
        // A site may ignore the signal altogether.
        let mut w = World::new();
        w.signals = sillage_core::sdk::Signals { gpc, dnt };
        let t = w.open();
        w.boot(t, "https://shop.example/", privacy(json!({respect: false})));
        w.track(t, "Ignored Signal", json!({}));
        assert!(event_names(&send_all(&mut w, t)).contains(&"Ignored Signal".to_string()));
    }
}

#[test]
fn send_modes_decide_what_leaves_the_device() {
    // "none": nothing is sent or queued; the profile still learns.
    let mut w = World::new();
    let t = w.open();
    w.boot(t, "https://shop.example/", privacy(json!({"send": "none"})));
    w.track(t, "Product Added", json!({"product_id": "x", "price": 5}));
    assert!(send_all(&mut w, t).is_empty());
    assert!(sillage_keys(&w)
        .iter()
        .all(|k| !k.starts_with("sillage.e.")));
    assert_eq!(
        w.tabs[t].sdk.profile(w.now).unwrap().get("stage"),
        Some(&Json::Str("purchase".into()))
    );

    // "summary": only stage changes and the session's shared interests,
    // field by field.
    let mut w = World::new();
    let t = w.open();
    let mut c = privacy(json!({"send": "summary", "noise": 0}));
    c["topics"] =
        json!([{"topic": "trail", "path": "/trail/*"}, {"topic": "road", "path": "/road/*"}]);
    w.boot(t, "https://shop.example/trail/shoes", c.clone());
    w.api(
        t,
        Call::Interest {
            topic: arg(json!("trail")),
            weight: arg(json!(0.9)),
        },
        "https://shop.example/",
    );
    w.track(t, "Product Added", json!({"product_id": "x", "price": 5}));
    // A new session later: its top interests are shared once.
    w.advance(31.0 * 60_000.0);
    w.api(t, page_view(), "https://shop.example/trail/boots");
    w.api(t, page_view(), "https://shop.example/trail/socks");
    let sent = send_all(&mut w, t);
    let names = event_names(&sent);
    assert!(
        names
            .iter()
            .all(|n| n == "Journey Stage Changed" || n == "Interests Shared"),
        "{names:?}"
    );
    assert!(names.contains(&"Journey Stage Changed".to_string()));
    // Once per session: the landing's, and the new session's (not again at
    // its second page view).
    assert_eq!(
        names.iter().filter(|n| *n == "Interests Shared").count(),
        2,
        "{names:?}"
    );
    for e in &sent {
        let mut keys: Vec<&String> = e.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "anonymousId",
                "context",
                "event",
                "messageId",
                "properties",
                "timestamp",
                "type"
            ],
            "{e}"
        );
        assert_eq!(
            e["context"].as_object().unwrap().keys().collect::<Vec<_>>(),
            ["library"],
            "{e}"
        );
    }
    let shared = sent
        .iter()
        .find(|e| e["event"] == "Interests Shared")
        .unwrap();
    assert_eq!(shared["properties"], json!({"topics": ["trail"]}));
}

fn page_view() -> Call {
    Call::Page {
        a: Arg::Missing,
        b: Arg::Missing,
        c: Arg::Missing,
    }
}

#[test]
fn without_a_collector_nothing_ever_leaves_the_device() {
    let mut w = World::new();
    let t = w.open();
    let ids = w.add_slots(t, &[("hero", &[])]);
    let mut c = p13n_config();
    c.as_object_mut().unwrap().remove("collector");
    w.boot(t, "https://shop.example/", c);
    w.start_slots(t);
    for i in 0..30 {
        w.track(t, &format!("E{i}"), json!({}));
    }
    w.api(t, Call::Flush(1), "https://shop.example/");
    w.input(t, Input::Visibility(true));
    w.advance(600_000.0);
    assert!(w.tabs[t].sent.is_empty() && w.tabs[t].beacons.is_empty());
    assert_eq!(w.tabs[t].settled, [(1, false)]);
    assert!(w.tabs[t].slots[&ids[0]].shown.is_some());
    // Nothing is queued for a collector that does not exist, and a mode the
    // site chose is not warned about.
    assert!(w.stored().is_empty(), "{:?}", sillage_keys(&w));
    assert_eq!(w.tabs[t].warnings, Vec::<String>::new());
    // The profile still learns.
    w.track(t, "Product Added", json!({"product_id": "p1", "price": 5}));
    let p = w.tabs[t].sdk.profile(w.now).unwrap();
    assert_eq!(p.get("stage").and_then(Json::as_str), Some("purchase"));
}

#[test]
fn forget_in_one_tab_makes_every_tab_forget_the_visitor() {
    let mut w = World::new();
    let a = w.open();
    w.boot(a, "https://shop.example/", collector());
    let b = w.open();
    w.boot(b, "https://shop.example/cart", collector());
    w.track(b, "Product Added", json!({"product_id": "p1", "price": 10}));
    let old = w.tabs[b].sdk.debug_state().0;
    assert_eq!(w.tabs[a].sdk.debug_state().0, old, "one visitor");
    w.api(a, Call::Forget(1), "https://shop.example/");
    // Tab b forgot them too: its next event has a new id, its profile
    // starts over, and no key of the old visitor comes back.
    w.track(b, "After", json!({}));
    let after = w
        .stored()
        .into_iter()
        .find(|e| e["event"] == "After")
        .unwrap();
    assert_ne!(after["anonymousId"], old.as_str());
    let profile = w.tabs[b].sdk.profile(w.now).unwrap();
    assert_eq!(
        profile.get("cart").and_then(|c| c.get("items")),
        Some(&Json::Num(0.0)),
        "{profile:?}"
    );
    assert!(
        !w.stored().iter().any(|e| e["anonymousId"] == old.as_str()),
        "nothing is stored under the old id"
    );
    // What tab b sends from now on never carries the old id.
    for body in send_all(&mut w, b).iter().chain(send_all(&mut w, a).iter()) {
        assert_ne!(body["anonymousId"], old.as_str());
    }
}

#[test]
fn after_a_forget_in_the_sending_tab_a_flush_in_the_other_tab_settles() {
    // tests/e2e/privacy.spec.ts: a sends; a forgets and steps down, so b
    // takes the lock; b hears of the forget and forgets too. Without b
    // letting go of the lock there, its next event asked for the lock it
    // held (a Web Lock request queues behind its own holder): nothing was
    // sent again and b's flush never settled.
    let mut w = World::new();
    let a = w.open();
    w.boot(a, "https://shop.example/", collector());
    let b = w.open();
    w.boot(b, "https://shop.example/", collector());
    assert_eq!(w.lock, Some(a));
    send_all(&mut w, a);
    w.api(a, Call::Forget(1), "https://shop.example/");
    send_all(&mut w, a);
    send_all(&mut w, b);
    assert_eq!(w.tabs[a].settled, [(1, true)]);
    w.track(b, "Other Tab After Forget", json!({}));
    w.api(b, Call::Flush(2), "https://shop.example/");
    let mut sent = Vec::new();
    for _ in 0..5 {
        sent.extend(send_all(&mut w, a));
        sent.extend(send_all(&mut w, b));
    }
    assert!(
        event_names(&sent).contains(&"Other Tab After Forget".to_string()),
        "sent: {:?}, lock: {:?}",
        event_names(&sent),
        w.lock
    );
    assert_eq!(w.tabs[b].settled, [(2, true)], "lock: {:?}", w.lock);
}

#[test]
fn forget_empties_the_device_and_asks_the_collector_to_erase_the_old_id() {
    let mut w = World::new();
    let t = w.open();
    w.boot(t, "https://shop.example/", collector());
    w.api(
        t,
        Call::Consent(arg(json!({"personalization": true})), true),
        "https://shop.example/",
    );
    w.track(t, "Before", json!({}));
    w.api(
        t,
        Call::Identify {
            user_id: arg(json!("u1")),
            traits: Arg::Missing,
        },
        "https://shop.example/",
    );
    let old = w.tabs[t].sdk.debug_state().0;
    w.api(t, Call::Forget(9), "https://shop.example/");
    assert_eq!(
        sillage_keys(&w),
        Vec::<String>::new(),
        "nothing of the visitor is left"
    );
    assert_eq!(w.tabs[t].settled, [(9, true)]);
    let (url, body) = w.tabs[t].erasures.last().unwrap().clone();
    assert_eq!(url, "/v1/forget");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"anonymousId": old})
    );
    // The next event has a new id and no user; the profile starts over.
    w.track(t, "After", json!({}));
    let after = w
        .stored()
        .into_iter()
        .find(|e| e["event"] == "After")
        .unwrap();
    assert_ne!(after["anonymousId"], old.as_str());
    assert!(after.get("userId").is_none());
    assert_eq!(
        w.tabs[t].sdk.profile(w.now).unwrap().get("orders"),
        Some(&Json::Num(0.0))
    );
    // A collector that does not answer: the erasure is owed and sent again
    // by a later page.
    let mut w = World::new();
    w.erase_ok = false;
    let t = w.open();
    w.boot(t, "https://shop.example/", collector());
    let old = w.tabs[t].sdk.debug_state().0;
    w.api(t, Call::Forget(1), "https://shop.example/");
    assert_eq!(w.storage.get("sillage.erase"), Some(&old));
    w.erase_ok = true;
    let t2 = w.open();
    w.boot(t2, "https://shop.example/", collector());
    assert!(w.tabs[t2].erasures.iter().any(|(_, b)| b.contains(&old)));
    assert!(!w.storage.contains_key("sillage.erase"));
}

#[test]
fn flush_settles_false_at_once_while_nothing_may_be_sent() {
    // Consent pending (held in memory), refused, or `send: "none"`: the
    // flush cannot deliver anything, so it says so at once instead of
    // waiting for a send that is not allowed.
    for (privacy_section, choice) in [
        (json!({"consent": "required"}), None),
        (json!({"consent": "required"}), Some(false)),
        (json!({"send": "none"}), None),
    ] {
        let mut w = World::new();
        let t = w.open();
        w.boot(t, "https://shop.example/", privacy(privacy_section.clone()));
        if let Some(agreed) = choice {
            w.api(
                t,
                Call::Consent(arg(json!({"analytics": agreed})), true),
                "https://shop.example/",
            );
        }
        w.track(t, "Held", json!({}));
        w.api(t, Call::Flush(7), "https://shop.example/");
        assert_eq!(
            w.tabs[t].settled,
            [(7, false)],
            "{privacy_section} {choice:?}"
        );
        assert!(send_all(&mut w, t).is_empty());
    }
    // A flush waiting on a send (the collector down) when the visitor
    // withdraws: those events are discarded, not delivered.
    let mut w = World::new();
    let t = w.open();
    w.boot(t, "https://shop.example/", collector());
    w.track(t, "Waiting", json!({}));
    w.advance(60_000.0);
    w.api(t, Call::Flush(8), "https://shop.example/");
    assert!(
        w.tabs[t].settled.is_empty(),
        "waits for the batch in flight"
    );
    w.api(
        t,
        Call::Consent(arg(json!({"analytics": false})), true),
        "https://shop.example/",
    );
    assert_eq!(w.tabs[t].settled, [(8, false)]);
    // Once consent is given, a flush delivers what was held.
    let mut w = World::new();
    let t = w.open();
    w.boot(
        t,
        "https://shop.example/",
        privacy(json!({"consent": "required"})),
    );
    w.track(t, "Held", json!({}));
    w.api(
        t,
        Call::Consent(arg(json!({"analytics": true})), true),
        "https://shop.example/",
    );
    w.api(t, Call::Flush(9), "https://shop.example/");
    let names = event_names(&send_all(&mut w, t));
    assert!(names.contains(&"Held".to_string()), "{names:?}");
    assert_eq!(w.tabs[t].settled, [(9, true)]);
}

#[test]
fn forget_gives_up_the_sending_tab_so_the_new_visitor_s_events_are_sent() {
    // The tab that forgets held the sender lock: it must let go of it, or
    // its next election waits on itself and nothing is ever sent again.
    let mut w = World::new();
    let t = w.open();
    w.boot(t, "https://shop.example/", collector());
    assert_eq!(w.lock, Some(t));
    w.track(t, "Before", json!({}));
    assert!(event_names(&send_all(&mut w, t)).contains(&"Before".to_string()));
    w.api(t, Call::Forget(1), "https://shop.example/");
    w.track(t, "After", json!({}));
    w.api(t, Call::Flush(2), "https://shop.example/");
    assert_eq!(event_names(&send_all(&mut w, t)), ["After"]);
    assert_eq!(w.tabs[t].settled, [(1, true), (2, true)]);
    assert!(!w.storage.keys().any(|k| k.starts_with("sillage.e.")));
}

#[test]
fn an_effect_that_reads_storage_sees_the_writes_before_it_and_later_ones_stay_behind() {
    // Before `boot` the SDK knows of no Web Locks: the first event reads the
    // sender lease (a read of storage) between its writes.
    let mut sdk = Sdk::new(NativeJs::new(), [1; 32]);
    sdk.handle(
        Input::Open(Open {
            stored: vec![],
            durable: true,
        }),
        T0,
    );
    while sdk.poll_effect().is_some() {}
    sdk.handle(
        Input::Api(
            Call::Track {
                event: arg(json!("First")),
                properties: arg(json!({})),
            },
            World::page("https://shop.example/"),
        ),
        T0,
    );
    let mut effects = Vec::new();
    while let Some(e) = sdk.poll_effect() {
        effects.push(match e {
            Effect::Store(StoreOp::Put { key, .. }) => format!("put {key}"),
            Effect::ReadLease => "read lease".into(),
            Effect::AtTaskEnd => "at task end".into(),
            other => format!("{other:?}"),
        });
    }
    assert_eq!(
        effects,
        ["at task end", "put sillage.anonymousId", "read lease"],
        "the write before the read is applied first; the event waits"
    );
    assert_eq!(sdk.writes_waiting(), 2, "the session and the event");
    sdk.handle(Input::TaskEnd, T0);
    let mut keys = Vec::new();
    while let Some(e) = sdk.poll_effect() {
        if let Effect::Store(StoreOp::Put { key, .. }) = e {
            keys.push(key);
        }
    }
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], "sillage.session");
    assert!(keys[1].starts_with("sillage.e."), "{keys:?}");
}
