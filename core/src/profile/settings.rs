//! The `profile` config section: interest decay and bounds, the recent
//! touchpoints kept, the post-purchase window, the stage hysteresis, and
//! the thresholds of each intent signal.

use crate::config::number_in;
use crate::profile::model::{Intent, INTENTS};
use crate::support::diag::{check_keys, type_error};
use crate::support::diag::{index_path, key_path, Diagnostic};
use crate::support::json::Json;
use crate::t;

/// Thresholds of the intent signals (`profile.intents`).
#[derive(Clone, Debug, PartialEq)]
pub struct Intents {
    /// `cartAbandoned.minutes`: minutes after the last cart activity
    /// without a checkout (default 30).
    pub cart_minutes: f64,
    /// `quoteNotConverted.days`: days after a quote without an order or a
    /// sign-up (default 14).
    pub quote_days: f64,
    /// `returning.sessions`: the session count from which a visitor is
    /// returning (default 2).
    pub returning_sessions: u32,
    /// `repeatBuyer.orders`: orders from which a visitor is a repeat buyer
    /// (default 2).
    pub repeat_orders: u32,
    /// `frustrated.rageClicks`: rage clicks in a session (default 2).
    pub rage_clicks: u32,
    /// `frustrated.searches`: searches in a row without a product view
    /// (default 3).
    pub searches: u32,
    /// `frustrated.supportSeconds`: active seconds on support pages in a
    /// session (default 120).
    pub support_seconds: f64,
    /// `frustrated.supportPages`: path patterns of support pages.
    pub support_pages: Vec<String>,
    /// `highIntent.probability`: purchase-stage probability from which
    /// intent is high (default 0.4).
    pub high_intent: f64,
    /// `lapsed.days`: days without a visit before a session that make it a
    /// lapsed visitor's return (default 180: an order six months ago and
    /// nothing since).
    pub lapsed_days: f64,
}

impl Default for Intents {
    fn default() -> Intents {
        Intents {
            cart_minutes: 30.0,
            quote_days: 14.0,
            returning_sessions: 2,
            repeat_orders: 2,
            rage_clicks: 2,
            searches: 3,
            support_seconds: 120.0,
            support_pages: DEFAULT_SUPPORT_PAGES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            high_intent: 0.4,
            lapsed_days: 180.0,
        }
    }
}

/// Support pages, for `frustrated`, unless the config names others.
pub const DEFAULT_SUPPORT_PAGES: &[&str] = &["*/support*", "*/help*", "*/faq*", "*/contact*"];

/// The `profile` config section.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileConfig {
    /// `interests.halfLifeDays` (default 14).
    pub interest_half_life_days: f64,
    /// `interests.max`: topics kept, the weakest evicted (default 64).
    pub max_interests: usize,
    /// `interests.topK`: names in `topInterests` (default 5).
    pub top_k: usize,
    /// `recentMax`: recent touchpoints kept (default 200; the storage bound
    /// may keep fewer).
    pub recent_max: usize,
    /// `postPurchaseDays`: the window after an order in which `sinceEvent`
    /// signals without `withinDays` fire (default 30).
    pub post_purchase_days: f64,
    /// `stageMargin`: another stage must beat the current one by this much
    /// probability to become the likely stage (default 0.05), so the stage
    /// does not flap between two close ones.
    pub stage_margin: f64,
    /// Intent thresholds.
    pub intents: Intents,
}

impl Default for ProfileConfig {
    fn default() -> ProfileConfig {
        ProfileConfig {
            interest_half_life_days: 14.0,
            max_interests: 64,
            top_k: 5,
            recent_max: 200,
            post_purchase_days: 30.0,
            stage_margin: 0.05,
            intents: Intents::default(),
        }
    }
}

/// Keys of `profile`.
pub const PROFILE_KEYS: &[&str] = &[
    "interests",
    "recentMax",
    "postPurchaseDays",
    "stageMargin",
    "intents",
];
/// Keys of `profile.interests`.
pub const INTEREST_KEYS: &[&str] = &["halfLifeDays", "max", "topK"];
/// The keys each intent's thresholds take, in [`Intent`] order.
pub const INTENT_KEYS: [&[&str]; 7] = [
    &["minutes"],
    &["days"],
    &["sessions"],
    &["orders"],
    &["rageClicks", "searches", "supportSeconds", "supportPages"],
    &["probability"],
    &["days"],
];

/// An object at `path`, with its keys checked; `None` (reported) otherwise.
fn object<'a>(
    v: &'a Json,
    path: &str,
    known: &[&str],
    out: &mut Vec<Diagnostic>,
) -> Option<&'a Json> {
    match v {
        Json::Obj(entries) => {
            check_keys(entries, path, known, out);
            Some(v)
        }
        _ => {
            out.push(type_error(path, t!("must be an object, not {}"), v));
            None
        }
    }
}

fn parse_intent(i: Intent, v: &Json, path: &str, t: &mut Intents, out: &mut Vec<Diagnostic>) {
    let n = |key: &str, range: (f64, f64), d: f64, out: &mut Vec<Diagnostic>| {
        number_in(v, path, key, range, d, out)
    };
    match i {
        Intent::CartAbandoned => t.cart_minutes = n("minutes", (1.0, 1440.0), t.cart_minutes, out),
        Intent::QuoteNotConverted => t.quote_days = n("days", (1.0, 365.0), t.quote_days, out),
        Intent::Returning => {
            t.returning_sessions = n(
                "sessions",
                (2.0, 1000.0),
                f64::from(t.returning_sessions),
                out,
            ) as u32
        }
        Intent::RepeatBuyer => {
            t.repeat_orders = n("orders", (2.0, 1000.0), f64::from(t.repeat_orders), out) as u32
        }
        Intent::Frustrated => {
            t.rage_clicks = n("rageClicks", (1.0, 100.0), f64::from(t.rage_clicks), out) as u32;
            t.searches = n("searches", (2.0, 100.0), f64::from(t.searches), out) as u32;
            t.support_seconds = n("supportSeconds", (1.0, 3600.0), t.support_seconds, out);
            match v.get("supportPages") {
                None => {}
                Some(Json::Arr(items)) => {
                    let p = key_path(path, "supportPages");
                    let mut pages = Vec::new();
                    for (j, x) in items.iter().enumerate() {
                        match x
                            .as_str()
                            .filter(|s| s.starts_with('/') || s.starts_with('*'))
                        {
                            Some(s) => pages.push(s.to_string()),
                            None => out.push(Diagnostic::new(
                                index_path(&p, j),
                                t!("must be a path pattern starting with / or *"),
                            )),
                        }
                    }
                    t.support_pages = pages;
                }
                Some(other) => out.push(type_error(
                    &key_path(path, "supportPages"),
                    t!("must be an array of path patterns, not {}"),
                    other,
                )),
            }
        }
        Intent::HighIntent => t.high_intent = n("probability", (0.0, 1.0), t.high_intent, out),
        Intent::Lapsed => t.lapsed_days = n("days", (1.0, 3650.0), t.lapsed_days, out),
    }
}

/// Parses the `profile` config section:
///
/// ```json
/// {"interests": {"halfLifeDays": 14, "max": 64, "topK": 5},
///  "recentMax": 200, "postPurchaseDays": 30, "stageMargin": 0.05,
///  "intents": {"cartAbandoned": {"minutes": 30}, "quoteNotConverted": {"days": 7},
///              "returning": {"sessions": 2}, "repeatBuyer": {"orders": 2},
///              "frustrated": {"rageClicks": 2, "searches": 3, "supportSeconds": 120,
///                             "supportPages": ["*/support*", "*/help*"]},
///              "highIntent": {"probability": 0.4}, "lapsed": {"days": 60}}}
/// ```
///
/// Never fails: a bad value keeps its default, with a diagnostic.
pub fn parse_profile(v: &Json, out: &mut Vec<Diagnostic>) -> ProfileConfig {
    let mut c = ProfileConfig::default();
    let Some(v) = object(v, "profile", PROFILE_KEYS, out) else {
        return c;
    };
    if let Some(i) = v.get("interests") {
        if let Some(i) = object(i, "profile.interests", INTEREST_KEYS, out) {
            let p = "profile.interests";
            c.interest_half_life_days = number_in(
                i,
                p,
                "halfLifeDays",
                (1.0, 3650.0),
                c.interest_half_life_days,
                out,
            );
            c.max_interests = number_in(i, p, "max", (1.0, 256.0), 64.0, out) as usize;
            c.top_k = number_in(i, p, "topK", (1.0, 64.0), 5.0, out) as usize;
        }
    }
    c.recent_max = number_in(v, "profile", "recentMax", (0.0, 1000.0), 200.0, out) as usize;
    c.post_purchase_days = number_in(v, "profile", "postPurchaseDays", (1.0, 365.0), 30.0, out);
    c.stage_margin = number_in(v, "profile", "stageMargin", (0.0, 1.0), 0.05, out);
    match v.get("intents") {
        None => {}
        Some(Json::Obj(items)) => {
            for (k, val) in items {
                let path = key_path("profile.intents", k);
                match Intent::from_name(k) {
                    Some(intent) => {
                        let keys = INTENT_KEYS[intent as usize];
                        if let Some(val) = object(val, &path, keys, out) {
                            parse_intent(intent, val, &path, &mut c.intents, out);
                        }
                    }
                    None => out.push(Diagnostic::unknown(
                        path,
                        t!("unknown intent \"{}\""),
                        k,
                        &INTENTS,
                    )),
                }
            }
        }
        Some(other) => out.push(type_error(
            "profile.intents",
            t!("must be an object, not {}"),
            other,
        )),
    }
    c
}
