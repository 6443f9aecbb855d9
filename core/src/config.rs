//! The site's config document (`"version": 1`).
//!
//! Parsing never fails as a whole ([rust-analyzer's rule]): [`parse`] returns the
//! usable [`Config`] plus a [`Diagnostic`] for every problem, each with its JSON
//! path, so one typo never breaks the page. Later features add their sections
//! here; keys no feature understands yet are reported as unknown.
//!
//! [rust-analyzer's rule]: https://github.com/rust-lang/rust-analyzer

use crate::decide::condition::JsHost;
use crate::decide::rules::{catalog, CatalogItem, RuleSet};
use crate::profile::model::{parse_stages, StageModel};
use crate::profile::settings::{parse_profile, ProfileConfig};
use crate::support::diag::{check_keys, key_path, required_string, type_error, Diagnostic};
use crate::support::json::Json;
use crate::t;
use crate::track::batch::BatchConfig;
use crate::track::outbox::Caps;
use crate::track::topics::{parse_rules, TopicRule};
use crate::track::touchpoint::{parse_channels, ChannelConfig, SESSION_TIMEOUT_MS};
use crate::track::visit::{parse_privacy, Privacy};

/// The parsed config.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// Where and how to send events; `None` keeps events queued on the device.
    pub collector: Option<CollectorConfig>,
    /// What is captured automatically.
    pub capture: Capture,
    /// What must never leave the device.
    pub privacy: Privacy,
    /// Site channel rules and internal domains.
    pub channels: ChannelConfig,
    /// URL-pattern topic rules.
    pub topics: Vec<TopicRule>,
    /// `stages`: the journey-stage scoring model (the built-in one unless
    /// the site changes it).
    pub stages: StageModel,
    /// `profile`: interest, intent and storage settings of the profile.
    pub profile: ProfileConfig,
    /// `audiences` and `rules`, compiled.
    pub rules: RuleSet,
    /// `catalog`: the items `recommend` may show.
    pub catalog: Vec<CatalogItem>,
    /// `debug`: the `?sillage_debug`, `?sillage_force` and `?sillage_stage`
    /// previews are honoured (default false).
    pub debug: bool,
    /// `personalization.redecide: "navigation"`: slots are decided again
    /// only at a navigation (content never moves under the reader), not
    /// when something their rules read changes (`"change"`, the default).
    pub redecide_at_navigation_only: bool,
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
    /// Inactivity that ends a session (`sessionTimeoutMinutes`, default 30).
    pub session_timeout_ms: f64,
}

impl Default for Capture {
    fn default() -> Self {
        Capture {
            pageviews: true,
            hash_routing: false,
            engagement: true,
            clicks: true,
            session_timeout_ms: SESSION_TIMEOUT_MS,
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
    /// `compress: "gzip"`: batch bodies are gzip-compressed where the
    /// browser has `CompressionStream` (signalled by `?ce=gzip` in the URL,
    /// so the request stays CORS-simple). Off by default (`"none"`): a
    /// third-party pipeline may not read it.
    pub gzip: bool,
}

/// The top-level keys. `attributes` (the site's own attribute names) is
/// accepted and ignored here: the page has no use for it, so its checks are
/// `sillage check`'s alone ([`crate::decide::lint::declared`]), like
/// `$schema`'s are the editor's.
pub const TOP_KEYS: &[&str] = &[
    "$schema",
    "version",
    "collector",
    "privacy",
    "capture",
    "channels",
    "topics",
    "stages",
    "profile",
    "audiences",
    "catalog",
    "rules",
    "debug",
    "attributes",
    "personalization",
];
/// Keys of `personalization`.
pub const PERSONALIZATION_KEYS: &[&str] = &["redecide"];
/// The values of `personalization.redecide`.
pub const REDECIDE: &[&str] = &["change", "navigation"];
/// Keys of `capture`.
pub const CAPTURE_KEYS: &[&str] = &[
    "pageviews",
    "hashRouting",
    "engagement",
    "clicks",
    "sessionTimeoutMinutes",
];
/// Keys of `collector`.
pub const COLLECTOR_KEYS: &[&str] = &["url", "writeKey", "batch", "queue", "compress"];
/// The values of `collector.compress`.
pub const COMPRESS: &[&str] = &["none", "gzip"];
/// Keys of `collector.batch`.
pub const BATCH_KEYS: &[&str] = &["maxEvents", "maxBytes", "flushMs"];
/// Keys of `collector.queue`.
pub const QUEUE_KEYS: &[&str] = &["maxEvents", "maxBytes", "maxAgeDays"];

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
            let mut lo = String::new();
            if min < 0.0 {
                lo.push('-');
            }
            crate::support::diag::push_usize(&mut lo, min.abs() as usize);
            let mut hi = String::new();
            crate::support::diag::push_usize(&mut hi, max as usize);
            out.push(crate::support::diag::range_error(
                &key_path(path, key),
                t!("must be a number from {} to {}, not {}"),
                t!("must be a number from {} to {}"),
                v,
                vec![lo, hi],
            ));
            default
        }
    }
}

fn parse_collector(v: &Json, out: &mut Vec<Diagnostic>) -> Option<CollectorConfig> {
    let path = "collector";
    let Json::Obj(obj) = v else {
        out.push(type_error(path, t!("must be an object, not {}"), v));
        return None;
    };
    check_keys(obj, path, COLLECTOR_KEYS, out);
    let url = required_string(v, path, "url", out)?;
    let write_key = match v.get("writeKey") {
        None | Some(Json::Null) => None,
        Some(Json::Str(s)) => Some(s.clone()),
        Some(other) => {
            out.push(type_error(
                "collector.writeKey",
                t!("must be a string, not {}"),
                other,
            ));
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
        Some(other) => out.push(type_error(
            "collector.batch",
            t!("must be an object, not {}"),
            other,
        )),
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
        Some(other) => out.push(type_error(
            "collector.queue",
            t!("must be an object, not {}"),
            other,
        )),
    }
    let gzip = match v.get("compress") {
        None => false,
        Some(Json::Str(s)) if COMPRESS.contains(&s.as_str()) => s == "gzip",
        Some(other) => {
            out.push(match other {
                Json::Str(s) => Diagnostic::new(
                    "collector.compress",
                    t!("must be \"none\" or \"gzip\", not \"{}\""),
                )
                .arg(s.as_str()),
                _ => type_error(
                    "collector.compress",
                    t!("must be \"none\" or \"gzip\", not {}"),
                    other,
                ),
            });
            false
        }
    };
    Some(CollectorConfig {
        url,
        write_key,
        batch,
        queue,
        gzip,
    })
}

fn parse_capture(v: &Json, out: &mut Vec<Diagnostic>) -> Capture {
    let mut c = Capture::default();
    let Json::Obj(entries) = v else {
        out.push(type_error("capture", t!("must be an object, not {}"), v));
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
                t!("must be true or false, not {}"),
                other,
            )),
        }
    }
    c.session_timeout_ms = number_in(
        v,
        "capture",
        "sessionTimeoutMinutes",
        (1.0, 1440.0),
        SESSION_TIMEOUT_MS / 60_000.0,
        out,
    ) * 60_000.0;
    c
}

/// Parses a config document. Never fails: what is usable is kept, every
/// problem is reported with its JSON path. `host` gives conditions their
/// JavaScript built-ins (regex validation, number text).
pub fn parse(doc: &Json, host: &dyn JsHost) -> (Config, Vec<Diagnostic>) {
    let (mut cfg, mut out) = parse_tracking(doc);
    if doc.as_obj().is_some() {
        let (rules, catalog) = parse_personalization(doc, host, &mut out);
        cfg.rules = rules;
        cfg.catalog = catalog;
    }
    (cfg, out)
}

/// The personalization sections (`audiences`, `rules`, `catalog`), which
/// only the personalization module compiles.
pub fn parse_personalization(
    doc: &Json,
    host: &dyn JsHost,
    out: &mut Vec<Diagnostic>,
) -> (RuleSet, Vec<CatalogItem>) {
    let rules = RuleSet::parse(doc.get("audiences"), doc.get("rules"), host, out);
    let catalog = doc
        .get("catalog")
        .map(|c| catalog::parse(c, out))
        .unwrap_or_default();
    (rules, catalog)
}

/// Whether the config has rules for the personalization module: a
/// non-empty `rules` array (it is parsed, and its problems reported, by
/// that module).
pub fn has_rules(doc: &Json) -> bool {
    doc.get("rules")
        .and_then(Json::as_arr)
        .is_some_and(|r| !r.is_empty())
}

/// Everything but the personalization sections: what the tracking module
/// (the one every page loads) reads. `cfg.rules` and `cfg.catalog` stay
/// empty.
pub fn parse_tracking(doc: &Json) -> (Config, Vec<Diagnostic>) {
    let mut out = Vec::new();
    let mut cfg = Config::default();
    let Json::Obj(top) = doc else {
        out.push(type_error("", t!("must be a JSON object, not {}"), doc));
        return (cfg, out);
    };
    check_keys(top, "", TOP_KEYS, &mut out);
    match doc.get("version") {
        Some(Json::Num(n)) if *n == 1.0 => {}
        None => out.push(Diagnostic::new(
            "version",
            t!("missing (this SDK reads version 1 configs)"),
        )),
        Some(_) => out.push(Diagnostic::new(
            "version",
            t!("must be 1 (this SDK reads version 1 configs)"),
        )),
    }
    if let Some(c) = doc.get("collector") {
        cfg.collector = parse_collector(c, &mut out);
    }
    if let Some(c) = doc.get("capture") {
        cfg.capture = parse_capture(c, &mut out);
    }
    match doc.get("debug") {
        None => {}
        Some(Json::Bool(b)) => cfg.debug = *b,
        Some(other) => out.push(type_error(
            "debug",
            t!("must be true or false, not {}"),
            other,
        )),
    }
    if let Some(p) = doc.get("privacy") {
        cfg.privacy = parse_privacy(p, &mut out);
    }
    if let Some(c) = doc.get("channels") {
        cfg.channels = parse_channels(c, &mut out);
    }
    if let Some(t) = doc.get("topics") {
        cfg.topics = parse_rules(t, &mut out);
    }
    if let Some(s) = doc.get("stages") {
        cfg.stages = parse_stages(s, &mut out);
    }
    if let Some(p) = doc.get("profile") {
        cfg.profile = parse_profile(p, &mut out);
    }
    if let Some(p) = doc.get("personalization") {
        match p.as_obj() {
            Some(entries) => {
                check_keys(entries, "personalization", PERSONALIZATION_KEYS, &mut out);
                match p.get("redecide") {
                    None => {}
                    Some(Json::Str(s)) if REDECIDE.contains(&s.as_str()) => {
                        cfg.redecide_at_navigation_only = s == "navigation";
                    }
                    Some(Json::Str(s)) => out.push(Diagnostic::unknown(
                        "personalization.redecide",
                        t!("unknown value \"{}\""),
                        s,
                        REDECIDE,
                    )),
                    Some(other) => out.push(type_error(
                        "personalization.redecide",
                        t!("must be \"change\" or \"navigation\", not {}"),
                        other,
                    )),
                }
            }
            None => out.push(type_error(
                "personalization",
                t!("must be an object, not {}"),
                p,
            )),
        }
    }
    (cfg, out)
}
