//! The site's config document (`"version": 1`).
//!
//! Parsing never fails as a whole ([rust-analyzer's rule]): [`parse`] returns the
//! usable [`Config`] plus a [`Diagnostic`] for every problem, each with its JSON
//! path, so one typo never breaks the page. Later features add their sections
//! here; keys no feature understands yet are reported as unknown.
//!
//! [rust-analyzer's rule]: https://github.com/rust-lang/rust-analyzer

use crate::core::batch::BatchConfig;
use crate::core::diag::{key_path, Diagnostic};
use crate::core::json::Json;
use crate::core::outbox::Caps;

/// The parsed config.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Config {
    /// Where and how to send events; `None` keeps events queued on the device.
    pub collector: Option<CollectorConfig>,
    /// What is captured automatically.
    pub capture: Capture,
}

/// `capture: {pageviews?, hashRouting?, engagement?, clicks?}`: what the SDK
/// records without being asked.
#[derive(Clone, Debug, PartialEq)]
pub struct Capture {
    /// Page views on load, SPA navigation and back-forward cache restores
    /// (default true; false for sites that call `sillage.page()` themselves).
    pub pageviews: bool,
    /// Fragment changes (`#/route`) are page views (default false).
    pub hash_routing: bool,
    /// `Page Engaged` events with active time and scroll depth (default true).
    pub engagement: bool,
    /// Tracked, outbound, download and rage clicks (default true).
    pub clicks: bool,
}

impl Default for Capture {
    fn default() -> Self {
        Capture {
            pageviews: true,
            hash_routing: false,
            engagement: true,
            clicks: true,
        }
    }
}

/// `collector: {url, writeKey?, batch?}`
#[derive(Clone, Debug, PartialEq)]
pub struct CollectorConfig {
    /// Absolute or page-relative URL that receives `POST` batches.
    pub url: String,
    /// Optional write key, sent as `writeKey` in every batch body.
    pub write_key: Option<String>,
    /// Batching thresholds.
    pub batch: BatchConfig,
    /// Caps of the durable queue.
    pub queue: Caps,
}

const TOP_KEYS: &[&str] = &["$schema", "version", "collector", "capture"];
const CAPTURE_KEYS: &[&str] = &["pageviews", "hashRouting", "engagement", "clicks"];
const COLLECTOR_KEYS: &[&str] = &["url", "writeKey", "batch", "queue"];
const BATCH_KEYS: &[&str] = &["maxEvents", "maxBytes", "flushMs"];
const QUEUE_KEYS: &[&str] = &["maxEvents", "maxBytes", "maxAgeDays"];

pub(crate) fn check_keys(
    obj: &[(String, Json)],
    path: &str,
    known: &[&str],
    out: &mut Vec<Diagnostic>,
) {
    for (k, _) in obj {
        if !known.contains(&k.as_str()) {
            out.push(Diagnostic::unknown_key(path, k, known));
        }
    }
}

pub(crate) fn type_error(path: &str, want: &str, got: &Json) -> Diagnostic {
    let mut m = String::from("must be ");
    m.push_str(want);
    m.push_str(", not ");
    m.push_str(got.type_name());
    Diagnostic::new(path, m)
}

/// Reads a number in `[min, max]` at `obj.key`, or reports it and keeps `default`.
pub(crate) fn number_in(
    obj: &Json,
    path: &str,
    key: &str,
    (min, max): (f64, f64),
    default: f64,
    out: &mut Vec<Diagnostic>,
) -> f64 {
    match obj.get(key) {
        None => default,
        Some(Json::Num(n)) if *n >= min && *n <= max => *n,
        Some(v) => {
            let mut want = String::from("a number from ");
            if min < 0.0 {
                want.push('-');
            }
            crate::core::diag::push_usize(&mut want, min.abs() as usize);
            want.push_str(" to ");
            crate::core::diag::push_usize(&mut want, max as usize);
            out.push(type_error(&key_path(path, key), &want, v));
            default
        }
    }
}

fn parse_collector(v: &Json, out: &mut Vec<Diagnostic>) -> Option<CollectorConfig> {
    let path = "collector";
    let Json::Obj(obj) = v else {
        out.push(type_error(path, "an object", v));
        return None;
    };
    check_keys(obj, path, COLLECTOR_KEYS, out);
    let url = match v.get("url") {
        Some(Json::Str(s)) if !s.trim().is_empty() => s.trim().to_string(),
        Some(other) => {
            out.push(type_error("collector.url", "a non-empty string", other));
            return None;
        }
        None => {
            out.push(Diagnostic::new("collector.url", "missing"));
            return None;
        }
    };
    let write_key = match v.get("writeKey") {
        None | Some(Json::Null) => None,
        Some(Json::Str(s)) => Some(s.clone()),
        Some(other) => {
            out.push(type_error("collector.writeKey", "a string", other));
            None
        }
    };
    let mut batch = BatchConfig::default();
    match v.get("batch") {
        None => {}
        Some(b @ Json::Obj(entries)) => {
            let bp = "collector.batch";
            check_keys(entries, bp, BATCH_KEYS, out);
            let d = BatchConfig::default();
            batch.max_events =
                number_in(b, bp, "maxEvents", (1.0, 500.0), d.max_events as f64, out) as usize;
            batch.max_bytes = number_in(
                b,
                bp,
                "maxBytes",
                (1000.0, 60_000.0),
                d.max_bytes as f64,
                out,
            ) as usize;
            batch.flush_ms = number_in(b, bp, "flushMs", (0.0, 60_000.0), d.flush_ms, out);
        }
        Some(other) => out.push(type_error("collector.batch", "an object", other)),
    }
    let mut queue = Caps::default();
    match v.get("queue") {
        None => {}
        Some(q @ Json::Obj(entries)) => {
            let qp = "collector.queue";
            check_keys(entries, qp, QUEUE_KEYS, out);
            let d = Caps::default();
            queue.max_events = number_in(
                q,
                qp,
                "maxEvents",
                (1.0, 100_000.0),
                d.max_events as f64,
                out,
            ) as usize;
            queue.max_bytes = number_in(
                q,
                qp,
                "maxBytes",
                (10_000.0, 4_000_000.0),
                d.max_bytes as f64,
                out,
            ) as usize;
            queue.max_age_ms = number_in(
                q,
                qp,
                "maxAgeDays",
                (1.0, 90.0),
                d.max_age_ms / 86_400_000.0,
                out,
            ) * 86_400_000.0;
        }
        Some(other) => out.push(type_error("collector.queue", "an object", other)),
    }
    Some(CollectorConfig {
        url,
        write_key,
        batch,
        queue,
    })
}

fn parse_capture(v: &Json, out: &mut Vec<Diagnostic>) -> Capture {
    let mut c = Capture::default();
    let Json::Obj(entries) = v else {
        out.push(type_error("capture", "an object", v));
        return c;
    };
    check_keys(entries, "capture", CAPTURE_KEYS, out);
    for (key, slot) in [
        ("pageviews", &mut c.pageviews),
        ("hashRouting", &mut c.hash_routing),
        ("engagement", &mut c.engagement),
        ("clicks", &mut c.clicks),
    ] {
        match v.get(key) {
            None => {}
            Some(Json::Bool(b)) => *slot = *b,
            Some(other) => out.push(type_error(
                &key_path("capture", key),
                "true or false",
                other,
            )),
        }
    }
    c
}

/// Parses a config document. Never fails: what is usable is kept, every
/// problem is reported with its JSON path.
pub fn parse(doc: &Json) -> (Config, Vec<Diagnostic>) {
    let mut out = Vec::new();
    let mut cfg = Config::default();
    let Json::Obj(top) = doc else {
        out.push(type_error("", "a JSON object", doc));
        return (cfg, out);
    };
    check_keys(top, "", TOP_KEYS, &mut out);
    match doc.get("version") {
        Some(Json::Num(n)) if *n == 1.0 => {}
        None => out.push(Diagnostic::new(
            "version",
            "missing (this SDK reads version 1 configs)",
        )),
        Some(_) => out.push(Diagnostic::new(
            "version",
            "must be 1 (this SDK reads version 1 configs)",
        )),
    }
    if let Some(c) = doc.get("collector") {
        cfg.collector = parse_collector(c, &mut out);
    }
    if let Some(c) = doc.get("capture") {
        cfg.capture = parse_capture(c, &mut out);
    }
    (cfg, out)
}
