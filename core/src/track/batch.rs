//! The batcher: a sans-IO state machine in the style of quinn-proto.
//!
//! It owns the events waiting to be sent and decides when to send which, but
//! it never sends, sleeps or reads a clock. The shell drives it:
//!
//! - [`Batcher::push`] an event (already serialised, with its messageId);
//! - [`Batcher::poll_transmit`] for a batch to send now (at most one in flight);
//! - [`Batcher::handle_response`] with what the collector answered;
//! - [`Batcher::poll_timeout`] for when to call `poll_transmit` again;
//! - [`Batcher::on_hidden`] when the page is hidden, for beacon bodies.
//!
//! Events are serialised once, when recorded; a batch body is assembled by
//! concatenating them, so the wasm needs no JSON serialiser. `maxEvents`,
//! `maxBytes` and `flushMs` are *triggers*: when a backlog built up (the
//! collector was down, or a request was in flight), the next batch takes as
//! many events as fit in `maxBytes`, so an outage costs few requests.
//! A messageId never changes across retries: collectors deduplicate on it.

use crate::support::fifo::Fifo as VecDeque;

use crate::support::json::push_str_literal;
use crate::support::time::{iso8601, Millis};

/// Flush triggers, from `collector.batch` in the config.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchConfig {
    /// Flush when this many events are waiting (`maxEvents`, default 20).
    pub max_events: usize,
    /// Flush when the waiting events reach this many bytes; also the most one
    /// request carries (`maxBytes`, default 60,000: under the 64 KB keepalive
    /// and beacon limit).
    pub max_bytes: usize,
    /// Flush this long after the oldest waiting event was recorded (`flushMs`,
    /// default 2,000).
    pub flush_ms: Millis,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_events: 20,
            max_bytes: 60_000,
            flush_ms: 2_000.0,
        }
    }
}

/// First retry delay ceiling; doubles per attempt.
pub const BACKOFF_BASE_MS: Millis = 1_000.0;
/// Retry delay ceiling.
pub const BACKOFF_MAX_MS: Millis = 60_000.0;
/// The longest `Retry-After` honoured.
pub const RETRY_AFTER_MAX_MS: Millis = 300_000.0;
/// Bytes of a batch body beyond its events: `{"batch":[`, `sentAt`, `writeKey`.
const BODY_OVERHEAD: usize = 64;

/// One recorded event, serialised.
#[derive(Clone, Debug, PartialEq)]
pub struct Pending {
    /// The event's messageId.
    pub message_id: String,
    /// The event as JSON text.
    pub json: String,
    /// When it was recorded.
    pub at: Millis,
}

/// A batch to send now.
#[derive(Clone, Debug, PartialEq)]
pub struct Transmit {
    /// Pass back to [`Batcher::handle_response`].
    pub batch_id: u64,
    /// The request body: `{"batch":[...],"sentAt":...,"writeKey"?:...}`.
    pub body: String,
    /// The messageIds inside, in order.
    pub message_ids: Vec<String>,
}

/// What came back for a batch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Outcome {
    /// An HTTP status, with `Retry-After` already turned into a delay in ms.
    Status {
        /// The status code.
        code: u16,
        /// The parsed `Retry-After` delay, if the header was present and valid.
        retry_after_ms: Option<Millis>,
    },
    /// The request failed without a status (offline, DNS, CORS, reset).
    NetworkError,
}

/// Something the shell should tell the site about.
#[derive(Clone, Debug, PartialEq)]
pub enum Report {
    /// A batch was refused for good (400, 401, 403, 422, ...): its events are dropped.
    Dropped {
        /// The status that dropped it.
        status: u16,
        /// How many events were dropped.
        count: usize,
    },
}

#[derive(Debug)]
struct Formed {
    events: Vec<Pending>,
    /// Whether waiting events may join it (not for halves of a 413).
    top_up: bool,
}

/// The batching and retry state machine. See the module docs.
#[derive(Debug)]
pub struct Batcher {
    cfg: BatchConfig,
    write_key: Option<String>,
    queue: VecDeque<Pending>,
    queue_bytes: usize,
    ready: VecDeque<Formed>,
    in_flight: Option<(u64, Vec<Pending>)>,
    next_id: u64,
    retry_at: Option<Millis>,
    attempt: u32,
    flush_requested: bool,
    online: bool,
    reports: VecDeque<Report>,
    context: Option<String>,
    beaconed: Vec<Pending>,
}

impl Batcher {
    /// An empty batcher.
    pub fn new(cfg: BatchConfig, write_key: Option<String>) -> Batcher {
        Batcher {
            cfg,
            write_key,
            queue: VecDeque::new(),
            queue_bytes: 0,
            ready: VecDeque::new(),
            in_flight: None,
            next_id: 1,
            retry_at: None,
            attempt: 0,
            flush_requested: false,
            online: true,
            reports: VecDeque::new(),
            context: None,
            beaconed: Vec::new(),
        }
    }

    /// Replaces the thresholds and write key (when the config arrives).
    pub fn reconfigure(&mut self, cfg: BatchConfig, write_key: Option<String>) {
        self.cfg = cfg;
        self.write_key = write_key;
    }

    /// Queues a serialised event.
    pub fn push(&mut self, message_id: String, json: String, now: Millis) {
        self.queue_bytes += json.len() + 1;
        self.queue.push_back(Pending {
            message_id,
            json,
            at: now,
        });
    }

    /// Forgets every event (not the config): the tab stopped being the sender
    /// and the events live on in storage for the next one.
    pub fn clear(&mut self) {
        self.queue.clear();
        self.queue_bytes = 0;
        self.ready.clear();
        self.in_flight = None;
        self.retry_at = None;
        self.attempt = 0;
        self.flush_requested = false;
        self.beaconed.clear();
    }

    /// Sets a batch-level `context` object (JSON text) added to every body
    /// from now on: Segment's batch API merges it into each event. The outbox
    /// uses it for `context.sillage.dropped` and `context.sillage.storage`.
    pub fn set_batch_context(&mut self, context: Option<String>) {
        self.context = context;
    }

    /// Removes waiting (not in flight) events by messageId; returns the ids
    /// found. The caps drop the oldest events, which sit at the front of the
    /// queue: those are popped in O(1) each; only the rest costs a scan.
    pub fn remove_waiting(&mut self, ids: &[String]) -> Vec<String> {
        let mut found = Vec::new();
        let mut rest = Vec::new();
        for id in ids {
            match self.queue.front() {
                Some(p) if p.message_id == *id => {
                    self.queue_bytes -= p.json.len() + 1;
                    found.extend(self.queue.pop_front().map(|p| p.message_id));
                }
                _ => rest.push(id),
            }
        }
        if rest.is_empty() {
            return found;
        }
        let mut keep = |p: &Pending| {
            let hit = rest.contains(&&p.message_id);
            if hit {
                found.push(p.message_id.clone());
            }
            !hit
        };
        let mut removed_bytes = 0;
        self.queue.retain(|p| {
            let k = keep(p);
            if !k {
                removed_bytes += p.json.len() + 1;
            }
            k
        });
        self.queue_bytes -= removed_bytes;
        for f in self.ready.iter_mut() {
            f.events.retain(|p| keep(p));
        }
        self.ready.retain(|f| !f.events.is_empty());
        found
    }

    /// The events handed to beacons by the last [`Batcher::on_hidden`].
    pub fn take_beaconed(&mut self) -> Vec<Pending> {
        std::mem::take(&mut self.beaconed)
    }

    /// Asks for everything waiting to be sent without waiting for `flushMs`.
    pub fn flush(&mut self) {
        self.flush_requested = true;
    }

    /// Tells the batcher whether the browser is online; offline pauses sending.
    pub fn set_online(&mut self, online: bool) {
        self.online = online;
        if online {
            // Coming back online is news worth acting on at once.
            self.retry_at = None;
        }
    }

    /// Events recorded and not yet acknowledged (waiting, retrying or in flight).
    pub fn unacknowledged(&self) -> usize {
        self.queue.len()
            + self.ready.iter().map(|f| f.events.len()).sum::<usize>()
            + self.in_flight.as_ref().map_or(0, |(_, e)| e.len())
    }

    /// Every unacknowledged event, oldest first: in flight, then awaiting
    /// retry, then waiting.
    pub fn pending(&self) -> impl Iterator<Item = &Pending> {
        let flying = self.in_flight.iter().flat_map(|(_, e)| e.iter());
        let formed = self.ready.iter().flat_map(|f| f.events.iter());
        flying.chain(formed).chain(self.queue.iter())
    }

    /// Whether a request is in flight.
    pub fn in_flight(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Whether the last request failed and a retry is scheduled.
    pub fn retrying(&self) -> bool {
        self.attempt > 0
    }

    fn due(&self, now: Millis) -> bool {
        match self.queue.front() {
            None => false,
            Some(oldest) => {
                self.flush_requested
                    || self.queue.len() >= self.cfg.max_events
                    || self.queue_bytes >= self.cfg.max_bytes
                    || now >= oldest.at + self.cfg.flush_ms
            }
        }
    }

    fn take_fitting(&mut self, batch: &mut Vec<Pending>, mut size: usize) {
        // How many fit, then all of them at once (one move of the rest).
        let mut n = 0;
        while let Some(next) = self.queue.get(n) {
            let len = next.json.len() + 1;
            if (!batch.is_empty() || n > 0) && size + len > self.cfg.max_bytes {
                break;
            }
            size += len;
            self.queue_bytes -= len;
            n += 1;
        }
        batch.extend(self.queue.take_front(n));
        if self.queue.is_empty() {
            self.flush_requested = false;
        }
    }

    fn body(&self, events: &[Pending], now: Millis) -> String {
        let size = events.iter().map(|e| e.json.len() + 1).sum::<usize>() + BODY_OVERHEAD;
        let mut body = String::with_capacity(size);
        body.push_str("{\"batch\":[");
        for (i, e) in events.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(&e.json);
        }
        body.push_str("],\"sentAt\":\"");
        body.push_str(&iso8601(now));
        body.push('"');
        if let Some(c) = &self.context {
            body.push_str(",\"context\":");
            body.push_str(c);
        }
        if let Some(k) = &self.write_key {
            body.push_str(",\"writeKey\":");
            push_str_literal(&mut body, k);
        }
        body.push('}');
        body
    }

    /// A numbered request body for `events`.
    fn numbered(&mut self, events: &[Pending], now: Millis) -> Transmit {
        let batch_id = self.next_id;
        self.next_id += 1;
        Transmit {
            batch_id,
            body: self.body(events, now),
            message_ids: events.iter().map(|e| e.message_id.clone()).collect(),
        }
    }

    fn transmit(&mut self, events: Vec<Pending>, now: Millis) -> Transmit {
        let t = self.numbered(&events, now);
        self.in_flight = Some((t.batch_id, events));
        t
    }

    /// The batch to send now, if any. At most one request is in flight.
    pub fn poll_transmit(&mut self, now: Millis) -> Option<Transmit> {
        if !self.online || self.in_flight.is_some() || self.retry_at.is_some_and(|t| now < t) {
            return None;
        }
        let events = if let Some(formed) = self.ready.pop_front() {
            let mut events = formed.events;
            if formed.top_up {
                let size = events.iter().map(|e| e.json.len() + 1).sum::<usize>();
                self.take_fitting(&mut events, size + BODY_OVERHEAD);
            }
            events
        } else if self.due(now) {
            let mut events = Vec::new();
            self.take_fitting(&mut events, BODY_OVERHEAD);
            events
        } else {
            return None;
        };
        Some(self.transmit(events, now))
    }

    /// Feeds back the outcome of batch `batch_id`. `jitter` is a random number
    /// in `[0, 1)` used for the full-jitter backoff.
    pub fn handle_response(&mut self, batch_id: u64, outcome: Outcome, now: Millis, jitter: f64) {
        let events = match self.in_flight.take() {
            Some((id, events)) if id == batch_id => events,
            other => {
                self.in_flight = other;
                return;
            }
        };
        let (code, retry_after) = match outcome {
            Outcome::Status {
                code,
                retry_after_ms,
            } => (code, retry_after_ms),
            Outcome::NetworkError => (0, None),
        };
        match code {
            200..=299 => {
                self.attempt = 0;
                self.retry_at = None;
            }
            413 if events.len() > 1 => {
                let mut first = events;
                let second = first.split_off(first.len() / 2);
                self.ready.push_front(Formed {
                    events: second,
                    top_up: false,
                });
                self.ready.push_front(Formed {
                    events: first,
                    top_up: false,
                });
            }
            0 | 408 | 429 | 500..=599 => {
                self.attempt = self.attempt.saturating_add(1);
                let delay = match retry_after {
                    Some(ms) => ms.clamp(0.0, RETRY_AFTER_MAX_MS),
                    None => {
                        let exp = (self.attempt - 1).min(16) as i32;
                        let ceiling = (BACKOFF_BASE_MS * 2f64.powi(exp)).min(BACKOFF_MAX_MS);
                        ceiling * jitter.clamp(0.0, 1.0)
                    }
                };
                self.retry_at = Some(now + delay);
                self.ready.push_front(Formed {
                    events,
                    top_up: true,
                });
            }
            status => self.reports.push_back(Report::Dropped {
                status,
                count: events.len(),
            }),
        }
    }

    /// When to call [`Batcher::poll_transmit`] next (epoch ms; a time in the
    /// past means now), or `None` when there is nothing to do until an event,
    /// a response or a change of network state arrives.
    pub fn poll_timeout(&self) -> Option<Millis> {
        if !self.online || self.in_flight.is_some() {
            return None;
        }
        let at = if !self.ready.is_empty() {
            0.0
        } else if let Some(oldest) = self.queue.front() {
            if self.flush_requested
                || self.queue.len() >= self.cfg.max_events
                || self.queue_bytes >= self.cfg.max_bytes
            {
                0.0
            } else {
                oldest.at + self.cfg.flush_ms
            }
        } else {
            return None;
        };
        Some(self.retry_at.map_or(at, |r| r.max(at)))
    }

    /// Something to tell the site, if any.
    pub fn poll_report(&mut self) -> Option<Report> {
        self.reports.pop_front()
    }

    /// The page is being hidden and may never come back: hands over every
    /// event not in flight as beacon bodies of at most `maxBytes` each.
    /// The request in flight (sent with `keepalive`) is left to finish.
    /// Offline, nothing leaves: a beacon could not be delivered, and the
    /// events stay queued (and stored) for the next sender.
    pub fn on_hidden(&mut self, now: Millis) -> Vec<Transmit> {
        self.beaconed.clear();
        if !self.online {
            return Vec::new();
        }
        let mut bodies = Vec::new();
        while let Some(formed) = self.ready.pop_front() {
            for chunk in self.chunks(formed.events) {
                bodies.push(self.beacon(chunk, now));
            }
        }
        while !self.queue.is_empty() {
            let mut events = Vec::new();
            self.take_fitting(&mut events, BODY_OVERHEAD);
            bodies.push(self.beacon(events, now));
        }
        self.retry_at = None;
        self.attempt = 0;
        bodies
    }

    fn chunks(&self, events: Vec<Pending>) -> Vec<Vec<Pending>> {
        let mut out: Vec<Vec<Pending>> = Vec::new();
        let mut size = BODY_OVERHEAD;
        for e in events {
            let len = e.json.len() + 1;
            match out.last_mut() {
                Some(last) if size + len <= self.cfg.max_bytes => last.push(e),
                _ => {
                    size = BODY_OVERHEAD;
                    out.push(vec![e]);
                }
            }
            size += len;
        }
        out
    }

    fn beacon(&mut self, events: Vec<Pending>, now: Millis) -> Transmit {
        let t = self.numbered(&events, now);
        self.beaconed.extend(events);
        t
    }
}
