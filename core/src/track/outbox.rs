//! The durable outbox: the batcher plus persistence, caps and multi-tab
//! hand-over, still sans-IO.
//!
//! Storage is driven as data: the outbox emits [`StoreOp`]s (`Put`/`Delete`
//! of one key) that the shell applies to `localStorage` synchronously, so an
//! event is durable before `track()` returns, at a cost proportional to that
//! event (one key per event; the queue is never re-serialised as a whole).
//!
//! Keys (prefix `sillage.`):
//! - `e.<messageId>`: one event, `v1|<recorded at ms>|<seq>|<event JSON>`
//!   (`seq` orders events recorded in the same millisecond by one tab);
//! - `leases`: which events are in flight or were beaconed, and until when
//!   nobody else may send them: `<until ms>:<id>,<id>;<until>:<id>...`;
//! - `dropped`: events dropped by the caps and not yet reported.
//!
//! Many tabs: every tab writes its events; exactly one tab, the *sender*
//! (elected by the shell with Web Locks, or a storage lease), reads them all
//! ([`Outbox::restore`] when it becomes the sender, [`Outbox::adopt`] for each
//! event another tab writes later) and sends them. A lease keeps the next
//! sender from re-sending a batch that a closed tab had in flight or beaconed
//! until its grace period passed: delivery is at least once, never
//! concurrently twice.

use crate::support::fifo::Fifo as VecDeque;
use crate::support::strsearch::CharSearch;

use crate::support::diag::push_u64;
use crate::support::time::Millis;
use crate::track::batch::{Batcher, Outcome, Report, Transmit};

/// Prefix of every key the outbox writes.
pub const PREFIX: &str = "sillage.";
/// Prefix of event keys.
pub const EVENT_PREFIX: &str = "sillage.e.";
/// The key of the lease list.
pub const LEASES_KEY: &str = "sillage.leases";
/// The key of the unreported dropped count.
pub const DROPPED_KEY: &str = "sillage.dropped";

/// Caps on what the outbox keeps (`collector.queue` in the config).
#[derive(Clone, Debug, PartialEq)]
pub struct Caps {
    /// Most events kept (default 5,000).
    pub max_events: usize,
    /// Most bytes of event JSON kept (default 2,000,000).
    pub max_bytes: usize,
    /// Oldest event kept, in ms (default 7 days).
    pub max_age_ms: Millis,
    /// How long a beaconed batch is assumed delivered before it is sent again
    /// (default 10 s).
    pub beacon_grace_ms: Millis,
    /// How long a batch in flight in another (maybe closed) tab is left alone
    /// (default 30 s).
    pub in_flight_lease_ms: Millis,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            max_events: 5_000,
            max_bytes: 2_000_000,
            max_age_ms: 7.0 * 86_400_000.0,
            beacon_grace_ms: 10_000.0,
            in_flight_lease_ms: 30_000.0,
        }
    }
}

/// A storage write for the shell to apply, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreOp {
    /// `localStorage.setItem(key, value)`
    Put {
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// `localStorage.removeItem(key)`
    Delete {
        /// The key.
        key: String,
    },
}

/// Where events are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// In first-party storage: survives reloads, shared by tabs.
    Storage,
    /// In this page's memory only (storage blocked, private mode, quota).
    Memory,
}

#[derive(Clone, Debug)]
struct Lease {
    until: Millis,
    ids: Vec<String>,
}

/// What [`Outbox::restore`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Restored {
    /// Events taken over for sending.
    pub events: usize,
    /// Stored values that could not be read and were discarded.
    pub corrupt: usize,
    /// Events dropped by the caps (age, count, bytes).
    pub dropped: usize,
}

/// The durable outbox. See the module docs.
#[derive(Debug)]
pub struct Outbox {
    /// The batching state machine.
    pub batcher: Batcher,
    caps: Caps,
    durability: Durability,
    sender: bool,
    /// Events held back until a lease expires: (until, id, json, at).
    held: Vec<(Millis, String, String, Millis)>,
    leases: Vec<Lease>,
    /// The messageIds of the batch in flight.
    in_flight_ids: Vec<String>,
    dropped: u64,
    /// Dropped count carried by the batch in flight.
    reported: u64,
    ops: VecDeque<StoreOp>,
    /// Byte size of each known event, in recording order, for the caps.
    sizes: VecDeque<(String, usize, Millis)>,
    bytes: usize,
    seq: u64,
}

fn event_key(id: &str) -> String {
    let mut k = String::with_capacity(EVENT_PREFIX.len() + id.len());
    k.push_str(EVENT_PREFIX);
    k.push_str(id);
    k
}

fn push_ms(s: &mut String, ms: Millis) {
    push_u64(
        s,
        if ms.is_finite() && ms > 0.0 {
            ms as u64
        } else {
            0
        },
    );
}

fn parse_ms(s: &str) -> Option<Millis> {
    if s.len() > 16 {
        return None;
    }
    crate::support::diag::parse_u64(s).map(|n| n as f64)
}

/// Encodes a stored event.
pub fn encode_record(at: Millis, seq: u64, json: &str) -> String {
    let mut v = String::with_capacity(json.len() + 24);
    v.push_str("v1|");
    push_ms(&mut v, at);
    v.push('|');
    push_u64(&mut v, seq);
    v.push('|');
    v.push_str(json);
    v
}

/// Decodes a stored event into (recorded at, seq, JSON); `None` if corrupt.
pub fn decode_record(value: &str) -> Option<(Millis, u64, &str)> {
    let rest = value.strip_prefix("v1|")?;
    let (at, rest) = rest.split_at_char('|')?;
    let (seq, json) = rest.split_at_char('|')?;
    let at = parse_ms(at)?;
    let seq = parse_ms(seq)? as u64;
    // Cheap sanity check: an event is a JSON object.
    (json.starts_with('{') && json.ends_with('}')).then_some((at, seq, json))
}

impl Outbox {
    /// An outbox over `batcher`. With [`Durability::Storage`] it emits store
    /// ops and sends only once told it is the sender; with
    /// [`Durability::Memory`] it keeps everything in memory and always sends.
    pub fn new(batcher: Batcher, caps: Caps, durability: Durability) -> Outbox {
        Outbox {
            batcher,
            caps,
            durability,
            sender: durability == Durability::Memory,
            held: Vec::new(),
            leases: Vec::new(),
            in_flight_ids: Vec::new(),
            dropped: 0,
            reported: 0,
            ops: VecDeque::new(),
            sizes: VecDeque::new(),
            bytes: 0,
            seq: 0,
        }
    }

    /// Where events are kept.
    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// Whether this tab sends.
    pub fn is_sender(&self) -> bool {
        self.sender
    }

    /// Storage refused a write (quota, blocked): keep going in memory from
    /// now on, sending this tab's events itself. `failed` is the op that was
    /// refused; it and every op not yet applied are taken into memory, so no
    /// event is lost. Events already written stay stored for a later sender.
    pub fn fall_back_to_memory(&mut self, failed: StoreOp) {
        self.durability = Durability::Memory;
        self.sender = true;
        let mut pending: Vec<StoreOp> = self.ops.drain().collect();
        pending.insert(0, failed);
        for op in pending {
            if let StoreOp::Put { key, value } = op {
                if let (Some(id), Some((at, _, json))) =
                    (key.strip_prefix(EVENT_PREFIX), decode_record(&value))
                {
                    self.take(id.to_string(), json.to_string(), at);
                }
            }
        }
    }

    /// Storage may be used now (consent given): every event held in memory
    /// is written, and this tab sends again only once elected.
    pub fn promote(&mut self) {
        if self.durability == Durability::Storage {
            return;
        }
        self.durability = Durability::Storage;
        let held: Vec<(String, String, Millis)> = self
            .batcher
            .pending()
            .map(|p| (p.message_id.clone(), p.json.clone(), p.at))
            .collect();
        for (id, json, at) in held {
            self.seq += 1;
            self.put(event_key(&id), encode_record(at, self.seq, &json));
        }
        self.sender = false;
        self.forget_memory();
    }

    /// Every event in memory is dropped (consent refused or withdrawn); the
    /// outbox keeps to memory from now on. What is stored is the caller's
    /// to delete.
    pub fn discard(&mut self) {
        self.durability = Durability::Memory;
        self.sender = true;
        self.forget_memory();
        self.ops.clear();
        self.dropped = 0;
    }

    fn forget_memory(&mut self) {
        self.batcher.clear();
        self.held.clear();
        self.leases.clear();
        self.in_flight_ids.clear();
        self.sizes.clear();
        self.bytes = 0;
        self.reported = 0;
    }

    /// This tab stops being the sender (its page is hidden into the
    /// back-forward cache, or another tab took over): forget the events in
    /// memory; they live on in storage for the next sender.
    pub fn step_down(&mut self) {
        if self.durability == Durability::Memory {
            return;
        }
        self.sender = false;
        self.batcher.clear();
        self.held.clear();
        self.leases.clear();
        self.in_flight_ids.clear();
        self.sizes.clear();
        self.bytes = 0;
        self.reported = 0;
    }

    /// Replaces the caps (when the config arrives).
    pub fn set_caps(&mut self, caps: Caps) {
        self.caps = caps;
    }

    /// Events dropped by the caps and not yet reported to the collector.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The next storage write to apply, in order.
    pub fn poll_store_op(&mut self) -> Option<StoreOp> {
        self.ops.pop_front()
    }

    fn put(&mut self, key: String, value: String) {
        if self.durability == Durability::Storage {
            self.ops.push_back(StoreOp::Put { key, value });
        }
    }

    fn delete(&mut self, key: String) {
        if self.durability == Durability::Storage {
            self.ops.push_back(StoreOp::Delete { key });
        }
    }

    /// Records a new event: durable at once (one `Put`), queued for sending if
    /// this tab is the sender.
    pub fn record(&mut self, message_id: String, json: String, now: Millis) {
        self.seq += 1;
        self.put(event_key(&message_id), encode_record(now, self.seq, &json));
        if self.sender {
            self.take(message_id, json, now);
            self.enforce_caps(now);
        }
    }

    /// Whether this sender already holds event `id` (queued, in flight or
    /// held back). Linear, but only other tabs' events are checked, never the
    /// tab's own (fresh UUIDs).
    fn holds(&self, id: &str) -> bool {
        self.sizes.iter().any(|(x, ..)| x == id)
    }

    fn take(&mut self, id: String, json: String, at: Millis) {
        self.bytes += json.len();
        self.sizes.push_back((id.clone(), json.len(), at));
        self.batcher.push(id, json, at);
    }

    /// Drops the oldest events beyond the caps (count, bytes, age). The batch
    /// in flight is neither dropped nor counted: its outcome decides, and an
    /// acknowledgement frees it in a moment.
    fn enforce_caps(&mut self, now: Millis) {
        // Fast path, O(1): within the caps even counting the batch in flight.
        let oldest_ok = self
            .sizes
            .front()
            .is_none_or(|(_, _, at)| *at >= now - self.caps.max_age_ms);
        if self.sizes.len() <= self.caps.max_events
            && self.bytes <= self.caps.max_bytes
            && oldest_ok
        {
            return;
        }
        let mut gone: Vec<String> = Vec::new();
        // The batch in flight is usually at the front (oldest first): stop
        // looking once all of it was found.
        let (mut n, mut b) = (0, 0);
        for (id, len, _) in &self.sizes {
            if n == self.in_flight_ids.len() {
                break;
            }
            if self.in_flight_ids.contains(id) {
                n += 1;
                b += len;
            }
        }
        let (mut count, mut bytes) = (self.sizes.len() - n, self.bytes - b);
        let mut i = 0;
        while let Some((id, len, at)) = self.sizes.get(i) {
            let over = count > self.caps.max_events
                || bytes > self.caps.max_bytes
                || *at < now - self.caps.max_age_ms;
            if !over {
                break;
            }
            if self.in_flight_ids.contains(id) {
                i += 1;
                continue;
            }
            count -= 1;
            bytes -= len;
            self.bytes -= len;
            gone.push(id.clone());
            self.sizes.remove(i);
        }
        if gone.is_empty() {
            return;
        }
        self.batcher.remove_waiting(&gone);
        self.held.retain(|(_, id, _, _)| !gone.contains(id));
        for id in &gone {
            self.delete(event_key(id));
        }
        self.note_dropped(gone.len() as u64);
    }

    fn note_dropped(&mut self, n: u64) {
        if n == 0 {
            return;
        }
        self.dropped += n;
        let mut v = String::new();
        push_u64(&mut v, self.dropped);
        self.put(DROPPED_KEY.to_string(), v);
    }

    /// This tab became the sender: takes over every stored event. `entries`
    /// are all stored `(key, value)` pairs under [`PREFIX`]. Corrupt values
    /// and events past the caps are deleted; events leased to another tab
    /// (in flight there, or beaconed) are held back until the lease ends.
    pub fn restore(&mut self, entries: &[(String, String)], now: Millis) -> Restored {
        let mut report = Restored::default();
        self.sender = true;
        let mut leased: Vec<(Millis, Vec<String>)> = Vec::new();
        let mut events: Vec<(Millis, u64, String, String)> = Vec::new();
        for (key, value) in entries {
            if key == LEASES_KEY {
                match parse_leases(value) {
                    Some(l) => leased = l,
                    None => report.corrupt += 1,
                }
            } else if key == DROPPED_KEY {
                self.dropped += parse_ms(value).unwrap_or(0.0) as u64;
            } else if let Some(id) = key.strip_prefix(EVENT_PREFIX) {
                match decode_record(value) {
                    Some((at, seq, json)) if !id.is_empty() => {
                        events.push((at, seq, id.to_string(), json.to_string()))
                    }
                    _ => {
                        report.corrupt += 1;
                        self.delete(key.clone());
                    }
                }
            }
        }
        // Oldest first, so leftovers go out before new events.
        events.sort_unstable_by(|a, b| {
            a.0.total_cmp(&b.0)
                .then(a.1.cmp(&b.1))
                .then_with(|| a.2.cmp(&b.2))
        });
        let dropped_before = self.dropped;
        let mut kept_leases = Vec::new();
        for (until, ids) in leased {
            if until > now {
                kept_leases.push(Lease { until, ids });
            }
        }
        // Usually empty: a tab becomes the sender before it holds anything.
        let check = !self.sizes.is_empty();
        for (at, _, id, json) in events {
            if check && self.holds(&id) {
                continue;
            }
            let lease = kept_leases
                .iter()
                .find(|l| l.ids.contains(&id))
                .map(|l| l.until);
            match lease {
                Some(until) => {
                    self.bytes += json.len();
                    self.sizes.push_back((id.clone(), json.len(), at));
                    self.held.push((until, id, json, at));
                }
                None => self.take(id, json, at),
            }
            report.events += 1;
        }
        self.leases = kept_leases;
        self.write_leases();
        self.enforce_caps(now);
        report.dropped = (self.dropped - dropped_before) as usize;
        report.events -= report.dropped.min(report.events);
        report
    }

    /// Another tab wrote event `key` = `value` (seen through a `storage`
    /// event); the sender adopts it.
    pub fn adopt(&mut self, key: &str, value: &str, now: Millis) {
        if !self.sender {
            return;
        }
        if let (Some(id), Some((at, _, json))) =
            (key.strip_prefix(EVENT_PREFIX), decode_record(value))
        {
            if !self.holds(id) {
                self.take(id.to_string(), json.to_string(), at);
                self.enforce_caps(now);
            }
        }
    }

    fn release_held(&mut self, now: Millis) {
        if self.held.iter().all(|(until, ..)| *until > now) {
            return;
        }
        let (due, keep): (Vec<_>, Vec<_>) = self.held.drain(..).partition(|(u, ..)| *u <= now);
        self.held = keep;
        for (_, id, json, at) in due {
            self.batcher.push(id, json, at);
        }
        self.leases.retain(|l| l.until > now);
        self.write_leases();
    }

    fn write_leases(&mut self) {
        if self.leases.is_empty() {
            self.delete(LEASES_KEY.to_string());
            return;
        }
        let mut v = String::new();
        for (i, l) in self.leases.iter().enumerate() {
            if i > 0 {
                v.push(';');
            }
            push_ms(&mut v, l.until);
            v.push(':');
            v.push_str(&l.ids.join(","));
        }
        self.put(LEASES_KEY.to_string(), v);
    }

    fn batch_context(&self) -> Option<String> {
        let memory = self.durability == Durability::Memory;
        if self.dropped == 0 && !memory {
            return None;
        }
        let mut c = String::from("{\"sillage\":{");
        if self.dropped > 0 {
            c.push_str("\"dropped\":");
            push_u64(&mut c, self.dropped);
        }
        if memory {
            if self.dropped > 0 {
                c.push(',');
            }
            c.push_str("\"storage\":\"memory\"");
        }
        c.push_str("}}");
        Some(c)
    }

    /// The batch to send now, if this tab is the sender and one is due. The
    /// batch is leased in storage while in flight.
    pub fn poll_transmit(&mut self, now: Millis) -> Option<Transmit> {
        if !self.sender {
            return None;
        }
        self.release_held(now);
        let ctx = self.batch_context();
        self.batcher.set_batch_context(ctx);
        let t = self.batcher.poll_transmit(now)?;
        self.reported = self.dropped;
        self.in_flight_ids = t.message_ids.clone();
        if self.durability == Durability::Storage {
            self.leases.push(Lease {
                until: now + self.caps.in_flight_lease_ms,
                ids: t.message_ids.clone(),
            });
            self.write_leases();
        }
        Some(t)
    }

    /// Feeds back a response: on 2xx the events are deleted from storage; on a
    /// permanent refusal they are dropped (and reported by the batcher); on a
    /// retryable failure they stay.
    pub fn handle_response(&mut self, batch_id: u64, outcome: Outcome, now: Millis, jitter: f64) {
        let before = self.batcher.unacknowledged();
        let ids = std::mem::take(&mut self.in_flight_ids);
        self.batcher.handle_response(batch_id, outcome, now, jitter);
        let settled = self.batcher.unacknowledged() < before;
        self.leases
            .retain(|l| !l.ids.iter().any(|i| ids.contains(i)));
        if settled {
            // Acknowledged, or refused for good: either way, gone.
            for id in &ids {
                self.delete(event_key(id));
            }
            self.sizes.retain(|(id, ..)| !ids.contains(id));
            self.bytes = self.sizes.iter().map(|(_, l, _)| l).sum();
            let ok = matches!(
                outcome,
                Outcome::Status {
                    code: 200..=299,
                    ..
                }
            );
            if ok && self.reported > 0 {
                self.dropped = self.dropped.saturating_sub(self.reported);
                self.reported = 0;
                if self.dropped == 0 {
                    self.delete(DROPPED_KEY.to_string());
                }
            }
        } else if self.batcher.in_flight() {
            // A stale response: the batch in flight is another one.
            self.in_flight_ids = ids;
            return;
        }
        self.write_leases();
        // A batch back from flight counts toward the caps again.
        self.enforce_caps(now);
    }

    /// When to call [`Outbox::poll_transmit`] next.
    pub fn poll_timeout(&self) -> Option<Millis> {
        if !self.sender {
            return None;
        }
        let held = self.held.iter().map(|(u, ..)| *u).reduce(f64::min);
        match (self.batcher.poll_timeout(), held) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Something to tell the site, if any.
    pub fn poll_report(&mut self) -> Option<Report> {
        self.batcher.poll_report()
    }

    /// The page is hidden: everything this sender holds (not in flight) goes
    /// out as beacon bodies. The events stay stored, leased for the beacon
    /// grace period, then are sent again (delivery is at least once) unless
    /// the page is gone and the next load finds them first.
    pub fn on_hidden(&mut self, now: Millis) -> Vec<Transmit> {
        if !self.sender {
            return Vec::new();
        }
        let ctx = self.batch_context();
        self.batcher.set_batch_context(ctx);
        let beacons = self.batcher.on_hidden(now);
        let until = now + self.caps.beacon_grace_ms;
        let mut ids = Vec::new();
        for t in &beacons {
            ids.extend(t.message_ids.iter().cloned());
        }
        if ids.is_empty() {
            return beacons;
        }
        for p in self.batcher.take_beaconed() {
            if ids.contains(&p.message_id) {
                self.held.push((until, p.message_id, p.json, p.at));
            }
        }
        if self.durability == Durability::Storage {
            self.leases.push(Lease { until, ids });
            self.write_leases();
        }
        beacons
    }
}

fn parse_leases(v: &str) -> Option<Vec<(Millis, Vec<String>)>> {
    let mut out = Vec::new();
    if v.is_empty() {
        return Some(out);
    }
    for part in v.split(';') {
        let (until, ids) = part.split_at_char(':')?;
        out.push((
            parse_ms(until)?,
            ids.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        ));
    }
    Some(out)
}

/// The key of the sender lease, for browsers without Web Locks.
pub const SENDER_KEY: &str = "sillage.sender";
/// How long a sender lease lasts without renewal.
pub const SENDER_LEASE_MS: Millis = 5_000.0;
/// How often the sender renews its lease and the others check it.
pub const SENDER_HEARTBEAT_MS: Millis = 2_000.0;

/// What a tab should do at a heartbeat of the storage-lease election.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseStep {
    /// Write this value to [`SENDER_KEY`]: renew our lease, or claim a free
    /// one (then check again after a short pause before sending).
    Write(String),
    /// The claim held: this tab is the sender now.
    Become,
    /// Another tab holds the lease: this tab must stop sending.
    StepDown,
    /// Nothing to do.
    Wait,
}

/// One heartbeat of the storage-lease election (the fallback where
/// `navigator.locks` is missing). `stored` is the current value of
/// [`SENDER_KEY`], `me` this tab's id, `sender` whether this tab sends and
/// `claimed` whether it wrote a claim at the previous step.
pub fn lease_step(
    stored: Option<&str>,
    me: &str,
    now: Millis,
    sender: bool,
    claimed: bool,
) -> LeaseStep {
    let holder = stored.and_then(|v| {
        let (id, until) = v.split_at_char('|')?;
        Some((id, parse_ms(until)?))
    });
    let mine = |until: Millis| {
        let mut v = String::with_capacity(me.len() + 16);
        v.push_str(me);
        v.push('|');
        push_ms(&mut v, until);
        v
    };
    match holder {
        Some((id, _)) if id == me && claimed && !sender => LeaseStep::Become,
        Some((id, _)) if id == me => LeaseStep::Write(mine(now + SENDER_LEASE_MS)),
        Some((_, until)) if until > now => {
            if sender {
                LeaseStep::StepDown
            } else {
                LeaseStep::Wait
            }
        }
        // Free, expired or unreadable: claim it.
        _ => LeaseStep::Write(mine(now + SENDER_LEASE_MS)),
    }
}
