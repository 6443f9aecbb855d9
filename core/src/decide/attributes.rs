//! The one object that rule and audience conditions see.
//!
//! Why one documented object, built in one place: site owners write
//! conditions against attribute names (`interests.running`, `cart.items`),
//! so those names are an API. [`build`] makes exactly these, from the profile
//! snapshot, the session, the page, the device, the local time and the
//! consent choices; then the site's own attributes (`sillage.attributes`),
//! which may not replace a built-in one; then `audiences`.
//!
//! | attribute | type | from |
//! |---|---|---|
//! | `stage` | string | profile `stage` (or `?sillage_stage`) |
//! | `stageProbability.<stage>` | number 0..1 | profile `stageProbabilities` |
//! | `interests.<topic>` | number 0..1 | profile `interests` |
//! | `topInterests` | array of topics | profile `topInterests` |
//! | `signals.<name>` | the signal's value | profile `signals.<name>.value` |
//! | `channel` | channel group | the session's landing, else the profile's `lastTouch` |
//! | `campaign.name/source/medium/term/content` | string | the session's landing |
//! | `session.index/pageviews/duration` | number (duration in seconds) | the session |
//! | `visitor.firstSeen` | epoch ms | profile `firstSeen` |
//! | `visitor.visits` | number | profile `sessions` (at least the session index) |
//! | `visitor.returning` | boolean | visits > 1 |
//! | `page.url/path/query/referrerHost` | string (query without `?`) | the page |
//! | `device` | `mobile`, `tablet` or `desktop` | the shell |
//! | `time.hour` (0..23), `time.weekday` (0 = Sunday..6), `time.date` (`YYYY-MM-DD`) | local time | the shell |
//! | `cart.items` (count), `cart.value`, `cart.categories` | | profile `cart` |
//! | `consent.<purpose>` | boolean | consent choices |
//! | `audiences` | array of names | the matched audiences |
//!
//! Absent inputs leave their attributes out (a condition then sees `null`).

use crate::decide::condition::JsHost;
use crate::decide::rules::Audiences;
use crate::support::diag::{key_path, Diagnostic};
use crate::support::json::Json;
use crate::support::time::Millis;
use crate::t;
use crate::track::touchpoint::Campaign;

/// The journey stages, in order (the profile's).
pub use crate::profile::model::STAGES;
use crate::profile::view::ProfileView;

/// The built-in top-level attribute names; custom attributes cannot use them.
pub const BUILT_IN: &[&str] = &[
    "stage",
    "stageProbability",
    "interests",
    "topInterests",
    "signals",
    "channel",
    "campaign",
    "session",
    "visitor",
    "page",
    "device",
    "time",
    "cart",
    "consent",
    "audiences",
];

/// The device classes of the `device` attribute.
pub const DEVICES: [&str; 3] = ["mobile", "tablet", "desktop"];

/// What an attribute holds, as far as a condition's dot path can reach into
/// it (GrowthBook's `getPath` descends objects and arrays, nothing else).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// A string, number or boolean: nothing below it.
    Value,
    /// An array of values: `.0`, `.1`, ... and `.length` below it.
    List,
    /// An object whose keys are the paths listed under it.
    Object,
    /// An object with keys of its own (`interests.<topic>`,
    /// `consent.<purpose>`, the site's attributes): any path below it.
    Open,
}

/// The built-in attributes with their sub-paths (the table above), fixed
/// part: `stageProbability.<stage>` and `signals.<intent>` are added by
/// [`built_in_paths`].
const PATHS: &[(&str, Shape)] = &[
    ("stage", Shape::Value),
    ("stageProbability", Shape::Object),
    ("interests", Shape::Open),
    ("topInterests", Shape::List),
    ("signals", Shape::Object),
    ("channel", Shape::Value),
    ("campaign", Shape::Object),
    ("campaign.name", Shape::Value),
    ("campaign.source", Shape::Value),
    ("campaign.medium", Shape::Value),
    ("campaign.term", Shape::Value),
    ("campaign.content", Shape::Value),
    ("session", Shape::Object),
    ("session.index", Shape::Value),
    ("session.pageviews", Shape::Value),
    ("session.duration", Shape::Value),
    ("visitor", Shape::Object),
    ("visitor.firstSeen", Shape::Value),
    ("visitor.visits", Shape::Value),
    ("visitor.returning", Shape::Value),
    ("page", Shape::Object),
    ("page.url", Shape::Value),
    ("page.path", Shape::Value),
    ("page.query", Shape::Value),
    ("page.referrerHost", Shape::Value),
    ("device", Shape::Value),
    ("time", Shape::Object),
    ("time.hour", Shape::Value),
    ("time.weekday", Shape::Value),
    ("time.date", Shape::Value),
    ("cart", Shape::Object),
    ("cart.items", Shape::Value),
    ("cart.value", Shape::Value),
    ("cart.categories", Shape::List),
    ("consent", Shape::Open),
    ("audiences", Shape::List),
];

/// Every path a condition may use on the built-in attributes, with its
/// shape: what [`build`] makes (the table above). `sillage check` warns
/// about the others (`crate::decide::lint`); the page does not need it.
pub fn built_in_paths() -> Vec<(String, Shape)> {
    let mut paths: Vec<(String, Shape)> = PATHS.iter().map(|(p, s)| (p.to_string(), *s)).collect();
    for (parent, keys) in [
        ("stageProbability", &STAGES[..]),
        ("signals", &crate::profile::model::INTENTS[..]),
    ] {
        for k in keys {
            paths.push((key_path(parent, k), Shape::Value));
        }
    }
    paths
}

/// Most custom attributes kept.
pub const MAX_CUSTOM: usize = 50;

/// The current session.
#[derive(Clone, Copy, Debug)]
pub struct SessionInfo<'a> {
    /// 1 for the visitor's first session.
    pub index: u32,
    /// Page views in this session.
    pub pageviews: u32,
    /// When it started.
    pub started: Millis,
    /// Channel group of its landing touchpoint.
    pub channel: Option<&'a str>,
    /// Campaign of its landing touchpoint.
    pub campaign: Option<&'a Campaign>,
}

/// Local time, as the shell reads it (`Date`'s getters).
#[derive(Clone, Copy, Debug)]
pub struct LocalTime<'a> {
    /// 0..23
    pub hour: u8,
    /// 0 (Sunday) .. 6, as `Date#getDay`.
    pub weekday: u8,
    /// `YYYY-MM-DD`.
    pub date: &'a str,
}

/// Everything [`build`] reads.
#[derive(Clone, Copy, Debug)]
pub struct Inputs<'a> {
    /// What personalization reads of the profile (`ProfileView::default()`:
    /// none yet).
    pub profile: &'a ProfileView,
    /// The current session.
    pub session: Option<SessionInfo<'a>>,
    /// The page URL.
    pub page_url: &'a str,
    /// `document.referrer`.
    pub referrer: &'a str,
    /// `mobile`, `tablet` or `desktop`.
    pub device: &'a str,
    /// Local time.
    pub time: Option<LocalTime<'a>>,
    /// Consent choices (`{"personalization": true, ...}`).
    pub consent: &'a Json,
    /// The site's attributes (`sillage.attributes({...})`).
    pub custom: &'a Json,
    /// A simulated stage (`?sillage_stage`, debug only).
    pub stage: Option<&'a str>,
    /// Now.
    pub now: Millis,
}

/// Builds the attributes object. Problems with the custom attributes are
/// pushed to `out` (paths `attributes.<name>`); they never stop the build.
pub fn build(
    inputs: &Inputs,
    audiences: &Audiences,
    host: &dyn JsHost,
    out: &mut Vec<Diagnostic>,
) -> Json {
    let mut a = base(inputs, out);
    audiences.apply(&mut a, host);
    a
}

/// The attributes without `audiences`: what the page's tracking module
/// works out and hands to the personalization module, which adds the
/// audiences (they need the condition engine).
pub fn base(inputs: &Inputs, out: &mut Vec<Diagnostic>) -> Json {
    let p = inputs.profile;
    let mut a = Json::Obj(Vec::with_capacity(BUILT_IN.len() + 4));
    match inputs.stage {
        Some(stage) => {
            a.set("stage", stage.into());
            let probs = STAGES
                .iter()
                .map(|s| {
                    (
                        s.to_string(),
                        Json::Num(if *s == stage { 1.0 } else { 0.0 }),
                    )
                })
                .collect();
            a.set("stageProbability", Json::Obj(probs));
        }
        None => {
            if let Some(stage) = &p.stage {
                a.set("stage", stage.as_str().into());
            }
            if let Some(probs) = p.probabilities {
                let probs = STAGES
                    .iter()
                    .zip(probs)
                    .map(|(s, x)| (s.to_string(), Json::Num(x)))
                    .collect();
                a.set("stageProbability", Json::Obj(probs));
            }
        }
    }
    // What the profile does not say is absent.
    if let Some(interests) = &p.interests {
        let o = interests
            .iter()
            .map(|(t, x)| (t.clone(), Json::Num(*x)))
            .collect();
        a.set("interests", Json::Obj(o));
    }
    if let Some(top) = &p.top_interests {
        a.set(
            "topInterests",
            Json::Arr(top.iter().map(|t| t.as_str().into()).collect()),
        );
    }
    if let Some(signals) = &p.signals {
        a.set("signals", Json::Obj(signals.clone()));
    }
    let session = inputs.session;
    let channel = session
        .and_then(|s| s.channel)
        .or(p.last_channel.as_deref());
    if let Some(c) = channel {
        a.set("channel", c.into());
    }
    if let Some(c) = session.and_then(|s| s.campaign).and_then(Campaign::to_json) {
        a.set("campaign", c);
    }
    let mut visits = f64::from(p.sessions.unwrap_or(0));
    if let Some(s) = session {
        visits = visits.max(f64::from(s.index));
        a.set(
            "session",
            Json::obj()
                .with("index", f64::from(s.index))
                .with("pageviews", f64::from(s.pageviews))
                .with(
                    "duration",
                    ((inputs.now - s.started) / 1000.0).max(0.0).floor(),
                ),
        );
    }
    let mut visitor = Json::obj();
    if let Some(t) = p.first_seen {
        visitor.set("firstSeen", t.into());
    }
    a.set(
        "visitor",
        visitor
            .with("visits", visits)
            .with("returning", visits > 1.0),
    );
    let page = crate::support::url::parse(inputs.page_url).unwrap_or_default();
    let referrer_host = crate::support::url::parse(inputs.referrer)
        .map(|u| u.host.to_ascii_lowercase())
        .unwrap_or_default();
    a.set(
        "page",
        Json::obj()
            .with("url", inputs.page_url)
            .with("path", page.path)
            .with("query", page.query)
            .with("referrerHost", referrer_host),
    );
    a.set("device", inputs.device.into());
    if let Some(t) = inputs.time {
        a.set(
            "time",
            Json::obj()
                .with("hour", f64::from(t.hour))
                .with("weekday", f64::from(t.weekday))
                .with("date", t.date),
        );
    }
    if let Some(cart) = &p.cart {
        a.set(
            "cart",
            Json::obj()
                .with("items", cart.items)
                .with("value", cart.value)
                .with(
                    "categories",
                    Json::Arr(cart.categories.iter().map(|c| c.as_str().into()).collect()),
                ),
        );
    }
    if let Json::Obj(_) = inputs.consent {
        a.set("consent", inputs.consent.clone());
    }
    match inputs.custom {
        Json::Obj(m) => {
            for (i, (k, v)) in m.iter().enumerate() {
                let at = key_path("attributes", k);
                if BUILT_IN.contains(&k.as_str()) {
                    out.push(
                        Diagnostic::new(
                            at,
                            t!("\"{}\" is a built-in attribute and cannot be replaced"),
                        )
                        .arg(k.as_str()),
                    );
                } else if i >= MAX_CUSTOM {
                    out.push(Diagnostic::new(
                        at,
                        t!("more than 50 custom attributes: ignored"),
                    ));
                } else {
                    a.set(k, v.clone());
                }
            }
        }
        Json::Null => {}
        other => out.push(crate::support::diag::type_error(
            "attributes",
            t!("must be an object, not {}"),
            other,
        )),
    }
    a
}
