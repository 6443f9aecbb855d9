//! The stage model: which signals point to which journey stage, as data.
//!
//! Why data and not code: a site owner must be able to see why a visitor is
//! in a stage and change it without a release. Each signal names the stage
//! it points to, the points it adds, how fast those points fade (a
//! half-life), and when it fires (`when`: an event, a page pattern, a topic,
//! a landing channel, a first visit, a return within N days, an intent
//! signal becoming true, optionally only within N days of another event),
//! with optional repetition rules (`minCount`, `countWithinDays`).
//!
//! The built-in model ([`StageModel::default`]) covers e-commerce and lead
//! generation. It is written as a compact table ([`DEFAULTS`]) in a tiny
//! `when` notation read once at start-up: the core has no JSON parser in the
//! wasm, and a table costs less code than a constructor call per signal.
//! `stages` in the config adds signals, replaces default ones by id (fields
//! left out are kept from the default), or drops the defaults altogether.

use crate::config::number_in;
use crate::support::diag::{check_keys, type_error};
use crate::support::diag::{index_path, key_path, Diagnostic};
use crate::support::json::Json;
use crate::support::strsearch::CharSearch;
use crate::t;
use crate::track::topics;
use crate::track::touchpoint::CHANNELS;

/// The five journey stages, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Finding out the site exists: content, first visits.
    Discovery,
    /// Weighing options: product views, comparisons, reviews, pricing; a
    /// lead (signed up or subscribed, never ordered).
    Consideration,
    /// About to buy: a cart or a checkout in the last 7 days, a quote
    /// request, and no order since.
    Purchase,
    /// Just bought: an order, then its tracking, delivery, support, surveys.
    PostPurchase,
    /// Coming back for more: repeat orders, or a review or a share after an
    /// order.
    Loyalty,
}

/// Stage names as they appear in config and snapshots, in [`Stage`] order.
pub const STAGES: [&str; 5] = [
    "discovery",
    "consideration",
    "purchase",
    "post_purchase",
    "loyalty",
];

impl Stage {
    /// Every stage, in order.
    pub const ALL: [Stage; 5] = [
        Stage::Discovery,
        Stage::Consideration,
        Stage::Purchase,
        Stage::PostPurchase,
        Stage::Loyalty,
    ];

    /// `discovery`, `consideration`, `purchase`, `post_purchase`, `loyalty`.
    pub fn as_str(self) -> &'static str {
        STAGES[self as usize]
    }

    /// The stage with this name.
    pub fn from_name(name: &str) -> Option<Stage> {
        by_name(&STAGES, &Stage::ALL, name)
    }
}

/// The intent signals the profile keeps, each a value with the time it was set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intent {
    /// Items in the cart and no checkout within N minutes or by the next session.
    CartAbandoned,
    /// A quote requested and no order or sign-up within N days.
    QuoteNotConverted,
    /// The visitor is in their Nth session or later (default 2).
    Returning,
    /// N orders or more (default 2).
    RepeatBuyer,
    /// Rage clicks, searches without a product view, or long support reading,
    /// in this session.
    Frustrated,
    /// The purchase stage's probability is at least a threshold.
    HighIntent,
    /// This session came after N days without a visit (default 180).
    Lapsed,
}

/// Intent names as they appear in config and snapshots, in [`Intent`] order.
pub const INTENTS: [&str; 7] = [
    "cartAbandoned",
    "quoteNotConverted",
    "returning",
    "repeatBuyer",
    "frustrated",
    "highIntent",
    "lapsed",
];

impl Intent {
    /// Every intent, in order.
    pub const ALL: [Intent; 7] = [
        Intent::CartAbandoned,
        Intent::QuoteNotConverted,
        Intent::Returning,
        Intent::RepeatBuyer,
        Intent::Frustrated,
        Intent::HighIntent,
        Intent::Lapsed,
    ];

    /// The name used in config and snapshots.
    pub fn as_str(self) -> &'static str {
        INTENTS[self as usize]
    }

    /// The intent with this name.
    pub fn from_name(name: &str) -> Option<Intent> {
        by_name(&INTENTS, &Intent::ALL, name)
    }
}

/// When a signal fires. Every condition given must hold; lists match any
/// of their items.
///
/// Without `event` a signal looks at page views, except that `firstVisit`
/// and `returnWithinDays` look at whatever event starts a session. With
/// `intent` it fires only when that intent signal turns true (such an
/// occurrence has no event, page, topic or channel).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct When {
    /// Track event names.
    pub event: Vec<String>,
    /// Path patterns (`*` matches any run of characters), matched against
    /// the page view's path (`properties.page_path` for `Page Engaged`).
    pub page: Vec<String>,
    /// Normalised topics; the event must carry one of them.
    pub topic: Vec<String>,
    /// Channel groups of the landing touchpoint (landings only).
    pub channel: Vec<&'static str>,
    /// The event starts the visitor's first session.
    pub first_visit: bool,
    /// The event starts a later session, at most this many days after the
    /// previous activity.
    pub return_within_days: Option<f64>,
    /// The intent signal turning true.
    pub intent: Option<Intent>,
    /// Only within `withinDays` after the last time `event` happened (the
    /// window is the profile's post-purchase window when `None`).
    pub since_event: Option<(String, Option<f64>)>,
}

/// One scoring signal.
#[derive(Clone, Debug, PartialEq)]
pub struct Signal {
    /// Unique id (`cartViewed`); a site signal with a default's id replaces it.
    pub id: String,
    /// Shown in reasons (`Cart Viewed 12 min ago +3.0 purchase`).
    pub label: String,
    /// The stage its points go to.
    pub stage: Stage,
    /// Points added each time it fires (negative points take some away).
    pub points: f64,
    /// Days after which its accumulated points are worth half.
    pub half_life_days: f64,
    /// When it fires.
    pub when: When,
    /// It adds points only from its `minCount`th match on (default 1).
    pub min_count: u32,
    /// Count only the matches within this many days (with `min_count`).
    pub count_within_days: Option<f64>,
    /// Stages whose points it wipes out when it fires (except the signals
    /// firing on the same event): an order completes the purchase and the
    /// consideration that led to it, so `orderCompleted` clears both.
    pub clears: Vec<Stage>,
    /// For this many days after it last fired, and until its points are
    /// cleared, signals of earlier stages add no points: `productAdded`
    /// holds purchase for 7 days (browsing more products does not make a
    /// visitor with a fresh cart a "considering" one), and an order, which
    /// clears purchase, ends the hold.
    pub hold_days: Option<f64>,
}

/// The stage model: prior weights plus the signals.
#[derive(Clone, Debug, PartialEq)]
pub struct StageModel {
    /// Weight of each stage before any evidence, in [`Stage`] order.
    pub prior: [f64; 5],
    /// The signals, at most [`MAX_SIGNALS`].
    pub signals: Vec<Signal>,
}

/// Most signals in a model (defaults included).
pub const MAX_SIGNALS: usize = 64;
/// Highest `minCount`.
pub const MAX_MIN_COUNT: u32 = 10;
/// Longest signal id or label kept, in chars.
pub const MAX_ID_LEN: usize = 40;

/// The item of `all` whose name (same index in `names`) is `name`.
fn by_name<T: Copy>(names: &[&str], all: &[T], name: &str) -> Option<T> {
    let i = names.iter().position(|s| *s == name)?;
    all.get(i).copied()
}

/// The built-in priors: a visitor nobody knows anything about is discovering.
pub const DEFAULT_PRIOR: [f64; 5] = [1.0, 0.5, 0.25, 0.1, 0.1];

macro_rules! content_pages {
    () => {
        "/blog*|/articles*|/guides*|/news*|/stories*|/journal*|/magazine*|/learn*"
    };
}

/// The built-in signals: `(id, stage, points, half-life in days, label,
/// when)`. `when` is `;`-separated `key=value` conditions, values
/// `|`-separated: `e` events, `p` path patterns, `t` topics, `c` channels,
/// `f` first visit, `r` return within days, `i` intent, `s` since an event
/// (within the post-purchase window, or `d` days), `n` minCount, `w`
/// countWithinDays, `x` the stages it clears, `h` the days it holds its
/// stage.
///
/// The model reads like a marketer's funnel (issue 11): a first page view is
/// discovery; three product views, a comparison or a review read is
/// consideration, and so is a lead (a sign-up or a newsletter subscription
/// without an order); a cart event or a quote request is purchase at once and
/// holds it for 7 (14) days, until an order; an order is post-purchase; two
/// orders, or a review or a share after an order, is loyalty; a return after
/// 180 days away starts over in discovery.
pub const DEFAULTS: &[(&str, Stage, f64, f64, &str, &str)] = {
    use Stage::*;
    // A purchase milestone: it wipes out the stages before it (and an
    // earlier order's post-purchase) and holds purchase for 7 days.
    macro_rules! milestone {
        ($when:literal) => {
            concat!($when, ";h=7;x=discovery|consideration|post_purchase")
        };
    }
    &[
        ("firstVisit", Discovery, 3.0, 14.0, "First visit", "f"),
        (
            "contentLanding",
            Discovery,
            4.0,
            7.0,
            "Landed on content from search or social",
            concat!(
                "c=Organic Search|Paid Search|Organic Social|Paid Social|Organic Video|AI Assistant;p=",
                content_pages!()
            ),
        ),
        ("contentPage", Discovery, 0.5, 7.0, "Content page", concat!("p=", content_pages!())),
        (
            "lapsedReturn",
            Discovery,
            3.0,
            14.0,
            "Back after a long absence",
            "i=lapsed;x=consideration",
        ),
        ("productViewed", Consideration, 1.5, 14.0, "Product Viewed", "e=Product Viewed"),
        (
            "comparing",
            Consideration,
            1.5,
            14.0,
            "Compared products",
            "e=Product Viewed;n=3;w=7;x=discovery",
        ),
        ("comparePage", Consideration, 2.0, 14.0, "Comparison page", "p=*/compare*|*-vs-*;x=discovery"),
        ("reviews", Consideration, 2.0, 14.0, "Read reviews", "p=*/reviews*|*/review/*;x=discovery"),
        ("pricing", Consideration, 2.5, 14.0, "Pricing page", "p=*/pricing*|*/plans*;x=discovery"),
        ("searched", Consideration, 1.0, 14.0, "Products Searched", "e=Products Searched"),
        ("listViewed", Consideration, 0.5, 14.0, "Product List Viewed", "e=Product List Viewed"),
        ("returnVisit", Consideration, 2.0, 14.0, "Came back within 7 days", "r=7"),
        ("signedUp", Consideration, 4.0, 90.0, "Signed Up (a lead)", "e=Signed Up;h=3650;x=discovery"),
        (
            "newsletter",
            Consideration,
            4.0,
            90.0,
            "Newsletter Subscribed (a lead)",
            "e=Newsletter Subscribed;h=3650;x=discovery",
        ),
        ("pastOrder", Consideration, 3.0, 90.0, "Past order", "e=Order Completed"),
        ("productAdded", Purchase, 3.0, 7.0, "Product Added", milestone!("e=Product Added")),
        ("productRemoved", Purchase, -1.0, 7.0, "Product Removed", "e=Product Removed"),
        ("cartViewed", Purchase, 3.0, 7.0, "Cart Viewed", milestone!("e=Cart Viewed")),
        ("cartPage", Purchase, 1.0, 7.0, "Cart or checkout page", "p=/cart*|/basket*|/checkout*"),
        (
            "checkoutStarted",
            Purchase,
            5.0,
            7.0,
            "Checkout Started",
            milestone!("e=Checkout Started"),
        ),
        ("couponApplied", Purchase, 2.0, 7.0, "Coupon Applied", "e=Coupon Applied"),
        (
            "quoteRequested",
            Purchase,
            5.0,
            14.0,
            "Quote Requested",
            "e=Quote Requested;h=14;x=discovery|consideration|post_purchase",
        ),
        (
            "quoteNotConverted",
            Purchase,
            4.0,
            30.0,
            "Quote not converted",
            "i=quoteNotConverted;h=14",
        ),
        ("cartAbandoned", Purchase, 2.0, 7.0, "Cart abandoned", "i=cartAbandoned"),
        (
            "orderCompleted",
            PostPurchase,
            10.0,
            10.0,
            "Order Completed",
            "e=Order Completed;x=consideration|purchase",
        ),
        (
            "orderTracking",
            PostPurchase,
            3.0,
            7.0,
            "Order tracking page",
            "p=*/orders*|*/order-status*|*/track*;s=Order Completed",
        ),
        (
            "deliveryPages",
            PostPurchase,
            2.0,
            7.0,
            "Delivery or returns page",
            "p=*/delivery*|*/shipping*|*/returns*;s=Order Completed",
        ),
        (
            "supportPages",
            PostPurchase,
            2.0,
            7.0,
            "Support page after an order",
            "p=*/support*|*/help*|*/faq*|*/contact*;s=Order Completed",
        ),
        (
            "supportContacted",
            PostPurchase,
            3.0,
            7.0,
            "Support Contacted after an order",
            "e=Support Contacted;s=Order Completed",
        ),
        (
            "surveyAnswered",
            PostPurchase,
            3.0,
            14.0,
            "Survey Answered",
            "e=Survey Answered;s=Order Completed",
        ),
        (
            "orderRefunded",
            PostPurchase,
            2.0,
            14.0,
            "Order Refunded",
            "e=Order Refunded;s=Order Completed;d=365",
        ),
        ("repeatOrder", Loyalty, 8.0, 120.0, "Repeat order", "e=Order Completed;n=2"),
        (
            "reviewed",
            Loyalty,
            5.0,
            90.0,
            "Product Reviewed after an order",
            "e=Product Reviewed;s=Order Completed;d=3650;x=consideration|post_purchase",
        ),
        (
            "shared",
            Loyalty,
            4.0,
            60.0,
            "Shared after an order",
            "e=Product Shared|Cart Shared|Content Shared|Shared;s=Order Completed;d=3650;x=consideration|post_purchase",
        ),
        (
            "accountPages",
            Loyalty,
            1.0,
            30.0,
            "Account page after an order",
            "p=/account*|/my-account*|/profile*|/wishlist*;s=Order Completed;d=3650",
        ),
    ]
};

/// What a [`DEFAULTS`] `when` spec gives besides the [`When`].
struct Extra {
    min_count: u32,
    count_within_days: Option<f64>,
    clears: Vec<Stage>,
    hold_days: Option<f64>,
}

fn from_table(spec: &str) -> (When, Extra) {
    let mut w = When::default();
    let mut x = Extra {
        min_count: 1,
        count_within_days: None,
        clears: Vec::new(),
        hold_days: None,
    };
    let mut since_days = None;
    for part in spec.split(';') {
        let (k, v) = part.split_at_char('=').unwrap_or((part, ""));
        let list = || v.split('|').map(str::to_string).collect::<Vec<_>>();
        let num = || v.parse::<u32>().map_or(0.0, f64::from);
        match k {
            "e" => w.event = list(),
            "p" => w.page = list(),
            "t" => w.topic = list(),
            "c" => {
                w.channel = v
                    .split('|')
                    .filter_map(|c| CHANNELS.iter().find(|x| **x == c).copied())
                    .collect()
            }
            "f" => w.first_visit = true,
            "r" => w.return_within_days = Some(num()),
            "i" => w.intent = Intent::from_name(v),
            "s" => w.since_event = Some((v.to_string(), None)),
            "d" => since_days = Some(num()),
            "n" => x.min_count = num() as u32,
            "x" => x.clears = v.split('|').filter_map(Stage::from_name).collect(),
            "h" => x.hold_days = Some(num()),
            _ => x.count_within_days = Some(num()),
        }
    }
    if let Some((_, d)) = &mut w.since_event {
        *d = since_days;
    }
    (w, x)
}

impl Default for StageModel {
    /// The built-in e-commerce and lead-generation model ([`DEFAULTS`]).
    fn default() -> StageModel {
        StageModel {
            prior: DEFAULT_PRIOR,
            signals: DEFAULTS
                .iter()
                .map(|&(id, stage, points, half_life_days, label, spec)| {
                    let (when, x) = from_table(spec);
                    Signal {
                        id: id.to_string(),
                        label: label.to_string(),
                        stage,
                        points,
                        half_life_days,
                        when,
                        min_count: x.min_count,
                        count_within_days: x.count_within_days,
                        clears: x.clears,
                        hold_days: x.hold_days,
                    }
                })
                .collect(),
        }
    }
}

/// Keys of `stages`.
pub const STAGES_KEYS: &[&str] = &["useDefaults", "prior", "signals"];
/// Keys of a `stages.signals[i]`.
pub const SIGNAL_KEYS: &[&str] = &[
    "id",
    "label",
    "stage",
    "points",
    "halfLifeDays",
    "when",
    "minCount",
    "countWithinDays",
    "clears",
    "holdDays",
];
/// Keys of a signal's `when`.
pub const WHEN_KEYS: &[&str] = &[
    "event",
    "page",
    "topic",
    "channel",
    "firstVisit",
    "returnWithinDays",
    "intent",
    "sinceEvent",
];
/// Keys of `when.sinceEvent`.
pub const SINCE_KEYS: &[&str] = &["event", "withinDays"];

/// A string or an array of non-empty strings, each checked by `item`.
fn strings(
    v: &Json,
    path: &str,
    out: &mut Vec<Diagnostic>,
    item: &mut dyn FnMut(&str, &str, &mut Vec<Diagnostic>) -> bool,
) -> Option<Vec<String>> {
    let one = [v.clone()];
    let items = match v {
        Json::Str(_) => &one[..],
        Json::Arr(a) if !a.is_empty() => a,
        _ => {
            out.push(type_error(
                path,
                t!("must be a string or a non-empty array of strings, not {}"),
                v,
            ));
            return None;
        }
    };
    let mut got = Vec::new();
    for (i, x) in items.iter().enumerate() {
        let at = if matches!(v, Json::Arr(_)) {
            index_path(path, i)
        } else {
            path.to_string()
        };
        match x.as_str().filter(|s| !s.trim().is_empty()) {
            Some(s) if item(s, &at, out) => got.push(s.trim().to_string()),
            Some(_) => return None,
            None => {
                out.push(type_error(&at, t!("must be a non-empty string, not {}"), x));
                return None;
            }
        }
    }
    Some(got)
}

fn stage_at(v: Option<&Json>, path: &str, out: &mut Vec<Diagnostic>) -> Option<Stage> {
    match v {
        Some(Json::Str(s)) => {
            let st = Stage::from_name(s);
            if st.is_none() {
                out.push(Diagnostic::unknown(
                    path,
                    t!("unknown stage \"{}\""),
                    s,
                    &STAGES,
                ));
            }
            st
        }
        Some(other) => {
            out.push(type_error(path, t!("must be a stage name, not {}"), other));
            None
        }
        None => {
            out.push(Diagnostic::new(path, t!("missing")));
            None
        }
    }
}

/// Reads `when`; `None` (with diagnostics) when it cannot be used.
fn parse_when(v: &Json, path: &str, out: &mut Vec<Diagnostic>) -> Option<When> {
    let Json::Obj(entries) = v else {
        out.push(type_error(path, t!("must be an object, not {}"), v));
        return None;
    };
    check_keys(entries, path, WHEN_KEYS, out);
    let mut w = When::default();
    let mut ok = true;
    let at = |k: &str| key_path(path, k);
    if let Some(e) = v.get("event") {
        let mut warn = |s: &str, p: &str, out: &mut Vec<Diagnostic>| {
            out.extend(crate::track::journey_events::near_miss(p, s.trim()));
            true
        };
        match strings(e, &at("event"), out, &mut warn) {
            Some(list) => w.event = list,
            None => ok = false,
        }
    }
    if let Some(p) = v.get("page") {
        let mut pattern = |s: &str, p: &str, out: &mut Vec<Diagnostic>| {
            let good = s.starts_with('/') || s.starts_with('*');
            if !good {
                out.push(Diagnostic::new(
                    p,
                    t!("must be a path pattern starting with / or *"),
                ));
            }
            good
        };
        match strings(p, &at("page"), out, &mut pattern) {
            Some(list) => w.page = list,
            None => ok = false,
        }
    }
    if let Some(t) = v.get("topic") {
        match strings(t, &at("topic"), out, &mut |_, _, _| true) {
            Some(list) => w.topic = topics::normalize(list.iter().map(String::as_str)),
            None => ok = false,
        }
    }
    if let Some(c) = v.get("channel") {
        let mut channels = Vec::new();
        let mut known = |s: &str, p: &str, out: &mut Vec<Diagnostic>| {
            let hit = CHANNELS.iter().find(|x| x.eq_ignore_ascii_case(s.trim()));
            match hit {
                Some(x) => channels.push(*x),
                None => out.push(Diagnostic::unknown(
                    p,
                    t!("unknown channel \"{}\""),
                    s,
                    CHANNELS,
                )),
            }
            hit.is_some()
        };
        ok &= strings(c, &at("channel"), out, &mut known).is_some();
        w.channel = channels;
    }
    match v.get("firstVisit") {
        None => {}
        Some(Json::Bool(b)) => w.first_visit = *b,
        Some(other) => {
            out.push(type_error(
                &at("firstVisit"),
                t!("must be true or false, not {}"),
                other,
            ));
            ok = false;
        }
    }
    if v.get("returnWithinDays").is_some() {
        let d = number_in(v, path, "returnWithinDays", (1.0, 365.0), f64::NAN, out);
        ok &= !d.is_nan();
        w.return_within_days = Some(d);
    }
    match v.get("intent") {
        None => {}
        Some(Json::Str(s)) => match Intent::from_name(s) {
            Some(i) => w.intent = Some(i),
            None => {
                out.push(Diagnostic::unknown(
                    at("intent"),
                    t!("unknown intent \"{}\""),
                    s,
                    &INTENTS,
                ));
                ok = false;
            }
        },
        Some(other) => {
            out.push(type_error(
                &at("intent"),
                t!("must be an intent name, not {}"),
                other,
            ));
            ok = false;
        }
    }
    if let Some(s) = v.get("sinceEvent") {
        let sp = at("sinceEvent");
        match (s, s.get("event").and_then(Json::as_str)) {
            (Json::Obj(entries), Some(e)) if !e.trim().is_empty() => {
                check_keys(entries, &sp, SINCE_KEYS, out);
                let days = s
                    .get("withinDays")
                    .map(|_| number_in(s, &sp, "withinDays", (1.0, 3650.0), f64::NAN, out));
                ok &= !days.is_some_and(f64::is_nan);
                w.since_event = Some((e.trim().to_string(), days));
            }
            (Json::Obj(_), _) => {
                out.push(Diagnostic::new(
                    key_path(&sp, "event"),
                    t!("must be a non-empty string"),
                ));
                ok = false;
            }
            _ => {
                out.push(type_error(
                    &sp,
                    t!("must be an object {event, withinDays}, not {}"),
                    s,
                ));
                ok = false;
            }
        }
    }
    let situational = !w.event.is_empty()
        || !w.page.is_empty()
        || !w.topic.is_empty()
        || !w.channel.is_empty()
        || w.first_visit
        || w.return_within_days.is_some();
    if ok && w.intent.is_some() && situational {
        out.push(Diagnostic::new(
            path,
            t!("intent cannot be combined with event, page, topic, channel, firstVisit or returnWithinDays"),
        ));
        ok = false;
    }
    if ok && !situational && w.intent.is_none() {
        out.push(Diagnostic::new(path, t!("needs at least one condition")));
        ok = false;
    }
    ok.then_some(w)
}

/// A number above 0 and at most 3650 (days) at `obj.key`, else `default`.
fn positive(obj: &Json, path: &str, key: &str, default: f64, out: &mut Vec<Diagnostic>) -> f64 {
    match obj.get(key) {
        None => default,
        Some(Json::Num(n)) if *n > 0.0 && *n <= 3650.0 => *n,
        Some(other) => {
            let p = key_path(path, key);
            out.push(crate::support::diag::range_error(
                &p,
                t!("must be a number above 0 and at most 3650, not {}"),
                t!("must be a number above 0 and at most 3650"),
                other,
                Vec::new(),
            ));
            default
        }
    }
}

fn text_at(v: &Json, path: &str, out: &mut Vec<Diagnostic>) -> Option<String> {
    match v.as_str().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        Some(s) => {
            let mut s = s.to_string();
            crate::track::event::cap(&mut s, MAX_ID_LEN);
            Some(s)
        }
        None => {
            out.push(type_error(
                path,
                t!("must be a non-empty string, not {}"),
                v,
            ));
            None
        }
    }
}

/// Reads one site signal; `base` is the default it replaces, if any.
fn parse_signal(
    v: &Json,
    path: &str,
    id: String,
    base: Option<&Signal>,
    out: &mut Vec<Diagnostic>,
) -> Option<Signal> {
    let at = |k: &str| key_path(path, k);
    let label = match v.get("label") {
        Some(l) => text_at(l, &at("label"), out),
        None => None,
    };
    let stage = match (v.get("stage"), base) {
        (None, Some(b)) => Some(b.stage),
        (s, _) => stage_at(s, &at("stage"), out),
    };
    let points = match (v.get("points"), base) {
        (None, Some(b)) => b.points,
        (None, None) => {
            out.push(Diagnostic::new(at("points"), t!("missing")));
            f64::NAN
        }
        _ => number_in(v, path, "points", (-100.0, 100.0), f64::NAN, out),
    };
    let when = match (v.get("when"), base) {
        (None, Some(b)) => Some(b.when.clone()),
        (None, None) => {
            out.push(Diagnostic::new(at("when"), t!("missing")));
            None
        }
        (Some(w), _) => parse_when(w, &at("when"), out),
    };
    let d = base.map_or((30.0, 1.0), |b| (b.half_life_days, f64::from(b.min_count)));
    let half_life_days = positive(v, path, "halfLifeDays", d.0, out);
    let min_count = number_in(
        v,
        path,
        "minCount",
        (1.0, f64::from(MAX_MIN_COUNT)),
        d.1,
        out,
    ) as u32;
    let count_within_days = match v.get("countWithinDays") {
        None => base.and_then(|b| b.count_within_days),
        Some(_) => Some(positive(v, path, "countWithinDays", 30.0, out)),
    };
    let hold_days = match v.get("holdDays") {
        None => base.and_then(|b| b.hold_days),
        Some(_) => Some(positive(v, path, "holdDays", 7.0, out)),
    };
    let clears = match v.get("clears") {
        None => base.map(|b| b.clears.clone()).unwrap_or_default(),
        Some(c) => {
            let mut stages = Vec::new();
            let mut known = |s: &str, p: &str, out: &mut Vec<Diagnostic>| {
                let st = Stage::from_name(s.trim());
                match st {
                    Some(st) => stages.push(st),
                    None => out.push(Diagnostic::unknown(
                        p,
                        t!("unknown stage \"{}\""),
                        s,
                        &STAGES,
                    )),
                }
                st.is_some()
            };
            strings(c, &at("clears"), out, &mut known)?;
            stages
        }
    };
    let (Some(stage), Some(when), false) = (stage, when, points.is_nan()) else {
        return None;
    };
    Some(Signal {
        label: label
            .or_else(|| base.map(|b| b.label.clone()))
            .unwrap_or_else(|| id.clone()),
        id,
        stage,
        points,
        half_life_days,
        when,
        min_count: min_count.max(1),
        count_within_days,
        clears,
        hold_days,
    })
}

/// Parses the `stages` config section:
///
/// ```json
/// {"useDefaults": true,
///  "prior": {"discovery": 1},
///  "signals": [{"id": "demoBooked", "label": "Demo booked", "stage": "purchase",
///               "points": 6, "halfLifeDays": 14,
///               "when": {"event": "Demo Booked"}, "minCount": 1}]}
/// ```
///
/// Never fails: a bad signal is skipped with a diagnostic naming its JSON
/// path (`stages.signals[2].when.intent: unknown intent ...`), the rest is used.
pub fn parse_stages(v: &Json, out: &mut Vec<Diagnostic>) -> StageModel {
    let mut model = StageModel::default();
    let Json::Obj(entries) = v else {
        out.push(type_error("stages", t!("must be an object, not {}"), v));
        return model;
    };
    check_keys(entries, "stages", STAGES_KEYS, out);
    match v.get("useDefaults") {
        None | Some(Json::Bool(true)) => {}
        Some(Json::Bool(false)) => model.signals.clear(),
        Some(other) => out.push(type_error(
            "stages.useDefaults",
            t!("must be true or false, not {}"),
            other,
        )),
    }
    match v.get("prior") {
        None => {}
        Some(p @ Json::Obj(items)) => {
            for (k, _) in items {
                match Stage::from_name(k) {
                    Some(s) => {
                        model.prior[s as usize] = number_in(
                            p,
                            "stages.prior",
                            k,
                            (0.0, 100.0),
                            model.prior[s as usize],
                            out,
                        )
                    }
                    None => out.push(Diagnostic::unknown(
                        key_path("stages.prior", k),
                        t!("unknown stage \"{}\""),
                        k,
                        &STAGES,
                    )),
                }
            }
        }
        Some(other) => out.push(type_error(
            "stages.prior",
            t!("must be an object, not {}"),
            other,
        )),
    }
    let items = match v.get("signals") {
        None => return model,
        Some(Json::Arr(items)) => items,
        Some(other) => {
            out.push(type_error(
                "stages.signals",
                t!("must be an array, not {}"),
                other,
            ));
            return model;
        }
    };
    for (i, item) in items.iter().enumerate() {
        let path = index_path("stages.signals", i);
        let Json::Obj(entries) = item else {
            out.push(type_error(&path, t!("must be an object, not {}"), item));
            continue;
        };
        check_keys(entries, &path, SIGNAL_KEYS, out);
        let Some(id) = (match item.get("id") {
            Some(x) => text_at(x, &key_path(&path, "id"), out),
            None => {
                out.push(Diagnostic::new(key_path(&path, "id"), t!("missing")));
                None
            }
        }) else {
            continue;
        };
        let slot = model.signals.iter().position(|s| s.id == id);
        if slot.is_none() && model.signals.len() >= MAX_SIGNALS {
            out.push(Diagnostic::new(
                path,
                t!("too many signals (at most 64), ignored"),
            ));
            continue;
        }
        let base = slot.and_then(|j| model.signals.get(j));
        if let Some(sig) = parse_signal(item, &path, id, base, out) {
            match slot.and_then(|j| model.signals.get_mut(j)) {
                Some(old) => *old = sig,
                None => model.signals.push(sig),
            }
        }
    }
    model
}
