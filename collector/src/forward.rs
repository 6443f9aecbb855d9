//! The first-party relay (`--forward URL`): every event this collector stores
//! is queued, in the same transaction, in `forward_queue`; one task sends the
//! queue upstream (a Segment-compatible batch endpoint) in order, in batches
//! of at most 500 events and 490 KB, and takes events out of the queue only
//! after a 2xx. So an acknowledged event is never lost (the queue is in
//! SQLite), and an event is sent again only if no 2xx was seen for it.
//!
//! - 400, 413 and 422 refuse the content: the batch is halved until the
//!   refused event is alone, which is then recorded in `forward_failed`.
//! - Anything else (network errors, timeouts, 408, 429, 5xx, and the
//!   statuses of a configuration problem, 401, 403, 404, 3xx, which must not
//!   drop data) is retried with exponential backoff (equal jitter)
//!   honouring `Retry-After`.
//! - Duplicates are not forwarded: only events that were new to this
//!   collector are queued.
//! - Each forwarded event carries a `sentAt` shifted by the time it waited
//!   here, so the upstream's clock-skew correction
//!   (`receivedAt - (sentAt - timestamp)`) gives the time it would have given
//!   had the browser sent the event straight to it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use sillage_core::support::time::{days_from_civil, iso8601, parse_retry_after};
use std::sync::atomic::Ordering;
use tokio::sync::watch;

use crate::db;
pub use crate::db::Queued;
use crate::AppState;

/// Most events in one upstream request (Segment's batch limit).
pub const UPSTREAM_MAX_EVENTS: usize = 500;
/// Most bytes of JSON in one upstream request (Segment's limit is 500 KB).
pub const UPSTREAM_MAX_BYTES: usize = 490_000;
/// A longer `Retry-After` is capped to this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// Backoff between attempts: `base * 2^(attempt-1)`, capped at `max`, of
/// which a random half is waited on top of the other half (equal jitter).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    /// The first wait's ceiling.
    pub base: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(500),
            max: Duration::from_secs(20),
        }
    }
}

/// How the relay reaches its upstream.
#[derive(Clone, Debug, PartialEq)]
pub struct ForwardOptions {
    /// The upstream batch endpoint (`https://api.segment.io/v1/batch`).
    pub url: String,
    /// The upstream's write key, sent as Basic auth and in the body;
    /// without it each batch carries the write key its events came with.
    pub write_key: Option<String>,
    /// Waits between failed attempts.
    pub backoff: Backoff,
    /// Longest wait for one upstream answer.
    pub timeout: Duration,
}

impl ForwardOptions {
    /// Forwarding to `url` with the default backoff and a 10 s timeout.
    pub fn new(url: impl Into<String>) -> ForwardOptions {
        ForwardOptions {
            url: url.into(),
            write_key: None,
            backoff: Backoff::default(),
            timeout: Duration::from_secs(10),
        }
    }
}

/// The wait before attempt `attempt + 1` (attempt counts from 1):
/// `Retry-After` if the upstream sent a readable one (capped at 10 min),
/// else the backoff, `jitter` (from 0 to 1) choosing within its upper half.
pub fn retry_delay(
    attempt: u32,
    retry_after: Option<&str>,
    now_ms: f64,
    jitter: f64,
    b: &Backoff,
) -> Duration {
    if let Some(ms) = retry_after.and_then(|v| parse_retry_after(v, now_ms)) {
        return Duration::from_millis(ms as u64).min(MAX_RETRY_AFTER);
    }
    let exp = attempt.saturating_sub(1).min(30);
    let ceiling = b.base.saturating_mul(1u32 << exp).min(b.max);
    ceiling / 2 + (ceiling / 2).mul_f64(jitter.clamp(0.0, 1.0))
}

/// What an upstream answer means for the events sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Acknowledged: take them out of the queue.
    Done,
    /// Try again later (the same events).
    Retry,
    /// The content was refused: split, or record the one event as failed.
    Refused,
}

/// The verdict for an upstream status: only 400, 413 and 422 say that the
/// content is at fault. Every other failure (401, 403, 404, 405: a wrong
/// URL or key; 408, 429, 5xx: the upstream's trouble) is retried, so a
/// configuration mistake delays events but never drops them.
pub fn verdict(status: u16) -> Verdict {
    match status {
        200..=299 => Verdict::Done,
        400 | 413 | 422 => Verdict::Refused,
        _ => Verdict::Retry,
    }
}

/// Milliseconds since the epoch of an ISO-8601 instant with a `Z` or
/// `±HH:MM` offset (`2026-11-23T05:24:08.123Z`).
pub fn parse_iso8601(s: &str) -> Option<f64> {
    let num = |a: usize, b: usize| -> Option<i64> {
        let t = s.get(a..b)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let sep = |i: usize, c: &[u8]| s.as_bytes().get(i).is_some_and(|b| c.contains(b));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (y, mo, d, h, mi, se) = (
        num(0, 4)?,
        num(5, 7)?,
        num(8, 10)?,
        num(11, 13)?,
        num(14, 16)?,
        num(17, 19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = s.get(19..)?;
    let mut ms = 0.0;
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        ms = format!("0.{}", frac.get(..n)?).parse::<f64>().ok()? * 1000.0;
        rest = frac.get(n..)?;
    }
    let offset_min = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (oh, om) = rest.get(1..)?.split_once(':')?;
            if oh.len() != 2 || om.len() != 2 {
                return None;
            }
            sign * (oh.parse::<i64>().ok()? * 60 + om.parse::<i64>().ok()?)
        }
    };
    let secs = days_from_civil(y, mo as u32, d as u32) * 86_400 + h * 3600 + mi * 60 + se
        - offset_min * 60;
    Some(secs as f64 * 1000.0 + ms)
}

/// One upstream request.
#[derive(Debug)]
pub struct Outgoing {
    /// The queue places of its events.
    pub seqs: Vec<i64>,
    /// The JSON body.
    pub body: Vec<u8>,
    /// The write key it is sent with.
    pub write_key: Option<String>,
}

/// Builds the next request from the oldest queued events: those with the
/// first one's write key (or all, with a fixed upstream key), at most
/// `max_events` and [`UPSTREAM_MAX_BYTES`] (always at least one event).
pub fn build(
    rows: &[Queued],
    fixed_key: Option<&str>,
    now_ms: f64,
    max_events: usize,
) -> Option<Outgoing> {
    let first = rows.first()?;
    let key = fixed_key
        .map(str::to_string)
        .or_else(|| first.write_key.clone());
    let mut seqs = Vec::new();
    let mut events = Vec::new();
    let mut bytes = 64 + key.as_ref().map_or(0, String::len);
    for row in rows {
        if seqs.len() >= max_events || (fixed_key.is_none() && row.write_key != key) {
            break;
        }
        let mut ev: Map<String, Value> = serde_json::from_str(&row.payload).unwrap_or_default();
        if let (Some(sent), Some(received)) = (
            row.sent_at.as_deref().and_then(parse_iso8601),
            parse_iso8601(&row.received_at),
        ) {
            let waited = (now_ms - received).max(0.0);
            ev.insert("sentAt".into(), Value::String(iso8601(sent + waited)));
        }
        let ev = Value::Object(ev);
        let len = ev.to_string().len() + 1;
        if !seqs.is_empty() && bytes + len > UPSTREAM_MAX_BYTES {
            break;
        }
        bytes += len;
        seqs.push(row.seq);
        events.push(ev);
    }
    let mut body = Map::new();
    body.insert("batch".into(), Value::Array(events));
    if let Some(k) = &key {
        body.insert("writeKey".into(), Value::String(k.clone()));
    }
    Some(Outgoing {
        seqs,
        body: Value::Object(body).to_string().into_bytes(),
        write_key: key,
    })
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as f64)
        .unwrap_or(0.0)
}

/// A small generator for the backoff jitter (splitmix64).
struct Jitter(u64);

impl Jitter {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// An upstream answer: its status (none if the request failed), its
/// `Retry-After`, and what happened, for the log.
struct Answer {
    status: Option<u16>,
    retry_after: Option<String>,
    what: String,
}

/// Sends one request.
async fn send(client: &reqwest::Client, opts: &ForwardOptions, out: &Outgoing) -> Answer {
    let mut req = client
        .post(&opts.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(out.body.clone());
    if let Some(k) = &out.write_key {
        req = req.basic_auth(k, Some(""));
    }
    match req.send().await {
        Err(e) => Answer {
            status: None,
            retry_after: None,
            what: format!("upstream unreachable: {e}"),
        },
        Ok(res) => {
            let status = res.status().as_u16();
            let retry_after = res
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let text = res.text().await.unwrap_or_default();
            let text: String = text.chars().take(200).collect();
            Answer {
                status: Some(status),
                retry_after,
                what: format!("upstream answered {status} {text}"),
            }
        }
    }
}

/// The relay task: runs until `stop` turns true (or its sender is dropped).
/// A request in flight is finished first (at most `opts.timeout`).
pub async fn run(state: AppState, opts: ForwardOptions, mut stop: watch::Receiver<bool>) {
    let client = match reqwest::Client::builder()
        .timeout(opts.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("sillage-collector/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sillage-collector: forward: cannot build the HTTP client: {e}");
            return;
        }
    };
    let stats = &state.inner.stats;
    let mut jitter = Jitter(now_ms().to_bits() ^ u64::from(std::process::id()));
    let mut attempt = 0u32;
    let mut limit = UPSTREAM_MAX_EVENTS;
    loop {
        if *stop.borrow() {
            return;
        }
        let rows = state.read(|db| db::queued(db, UPSTREAM_MAX_EVENTS)).await;
        let out = match rows {
            Err(e) => {
                eprintln!("sillage-collector: forward: cannot read the queue: {e}");
                if pause(Duration::from_secs(1), &mut stop).await {
                    return;
                }
                continue;
            }
            Ok(rows) => build(&rows, opts.write_key.as_deref(), now_ms(), limit),
        };
        let Some(out) = out else {
            tokio::select! {
                _ = state.inner.forward_wake.notified() => {}
                _ = stop.changed() => return,
            }
            continue;
        };
        let n = out.seqs.len();
        let answer = send(&client, &opts, &out).await;
        let what = &answer.what;
        match answer.status.map_or(Verdict::Retry, verdict) {
            Verdict::Done => {
                // Counted when acknowledged, before the queue shows it.
                stats.forwarded.fetch_add(n as u64, Ordering::Relaxed);
                if let Err(e) = unqueue(&state, out.seqs, None).await {
                    eprintln!("sillage-collector: forward: cannot update the queue: {e}");
                }
                attempt = 0;
                limit = (limit * 2).min(UPSTREAM_MAX_EVENTS);
            }
            Verdict::Retry => {
                attempt += 1;
                stats.forward_retries.fetch_add(1, Ordering::Relaxed);
                let wait = retry_delay(
                    attempt,
                    answer.retry_after.as_deref(),
                    now_ms(),
                    jitter.next(),
                    &opts.backoff,
                );
                eprintln!(
                    "sillage-collector: forward: {n} events: {what}; attempt {attempt}, next in {:.1} s",
                    wait.as_secs_f64()
                );
                if pause(wait, &mut stop).await {
                    return;
                }
            }
            Verdict::Refused if n > 1 => {
                limit = (n / 2).max(1);
                eprintln!(
                    "sillage-collector: forward: {n} events: {what}; trying {limit} at a time"
                );
            }
            Verdict::Refused => {
                let failure = Some((answer.status.unwrap_or(400), what.clone()));
                if let Err(e) = unqueue(&state, out.seqs, failure).await {
                    eprintln!("sillage-collector: forward: cannot update the queue: {e}");
                }
                eprintln!("sillage-collector: forward: 1 event refused for good: {what}");
                attempt = 0;
            }
        }
    }
}

/// Sleeps `d`; `true` if told to stop meanwhile.
async fn pause(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => *stop.borrow(),
        _ = stop.changed() => true,
    }
}

async fn unqueue(
    state: &AppState,
    seqs: Vec<i64>,
    failure: Option<(u16, String)>,
) -> Result<(), String> {
    state
        .write(move |db| {
            let at = iso8601(now_ms());
            let failure = failure.as_ref().map(|(s, e)| (*s, e.as_str(), at.as_str()));
            db::unqueue(db, &seqs, failure)
        })
        .await
}
