//! The visitor profile: where the visitor is in their journey, what they
//! care about, and what they intend, worked out on the device.
//!
//! A sans-IO scorer (quinn-proto style): the shell feeds it the events the
//! tracker builds ([`Profile::apply`], with `now`), arms one timer from
//! [`Profile::poll_timeout`] and calls [`Profile::handle_timeout`] when it
//! fires, asks [`Profile::poll_change`] whether the likely stage changed,
//! persists [`Profile::to_storage`] and reads it back with
//! [`Profile::from_storage`]. [`Profile::snapshot`] is what
//! `sillage.profile()` returns.
//!
//! Why it stays cheap and bounded after any number of events: nothing
//! rescans history. Each scoring signal keeps one aggregate (a decayed score
//! with the time it was last brought up to date, a count, the last time it
//! fired), so a stage probability is a sum over the model's signals, and
//! decay is applied lazily (`score * 2^(-elapsed / half-life)`) when a value
//! is read or added to. Interests are the same kind of decayed sums, at most
//! `interests.max` of them. The recent touchpoints are a ring buffer. The
//! stored form is capped at [`MAX_STORAGE_BYTES`] of JSON text.
//!
//! Why probabilities: each stage's weight is its prior plus the decayed
//! points of its signals (never below 0); dividing by the total gives
//! probabilities that sum to 1, and the signals with the most weight are the
//! reasons a site owner can read ("Cart Viewed 12 min ago +3.0 purchase").
//! Regression is decay: a purchase's post-purchase points fade faster than
//! its "past order" consideration points, so a buyer drifts back toward
//! consideration unless repeat orders, reviews or a newsletter make them
//! loyal. Unconverted intent does not vanish either: an abandoned cart or
//! an unsigned quote becomes an intent signal, and signals can score it.

pub mod model;
pub mod settings;
mod store;
pub mod view;

use crate::support::fifo::Fifo as VecDeque;

use crate::decide::rules::experiment::Assignments;
use crate::support::diag::push_u64;
use crate::support::json::Json;
use crate::support::time::Millis;
use crate::track::topics::{self, glob};
use crate::track::touchpoint::Touches;
use model::{Intent, Signal, Stage, StageModel, When, INTENTS, STAGES};
use settings::ProfileConfig;

/// One day in milliseconds.
const DAY: f64 = 86_400_000.0;
/// Largest stored form, in bytes of JSON text (UTF-8, so at least as many
/// as the UTF-16 units `localStorage` counts).
pub const MAX_STORAGE_BYTES: usize = 16_384;
/// Lines kept in the cart.
pub const MAX_CART_LINES: usize = 20;
/// Longest product id, product name, order id or recent name kept, in chars.
pub const MAX_NAME: usize = 64;
/// Engagement units at which an interest reaches 1 - 1/e ≈ 0.63 on the
/// normalised 0..1 scale (`1 - exp(-units / INTEREST_SCALE)`); a page view
/// is worth 1 unit.
pub const INTEREST_SCALE: f64 = 10.0;
/// Normalised interest below which a topic is not shown.
pub const MIN_INTEREST: f64 = 0.01;
/// The snapshot's and the stored form's version.
pub const VERSION: u32 = 1;
/// Reasons in a snapshot.
const SNAPSHOT_REASONS: usize = 5;
/// Reasons given with a stage change.
const CHANGE_REASONS: usize = 3;

/// A value that fades with a half-life: `score` as of `upd`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Decaying {
    score: f64,
    upd: Millis,
}

fn decay(v: f64, elapsed: f64, half_life_ms: f64) -> f64 {
    if elapsed > 0.0 {
        v * pow2(-elapsed / half_life_ms)
    } else {
        v
    }
}

/// `2^x`, without libm's `exp2` and its 4 KB table in the wasm, and the
/// same on every platform: `x = n + f` with `f` in `[0, 1)`, `2^f = e^(f ln
/// 2)` by its Taylor series to the 13th term (relative error below 1e-12),
/// `2^n` from the exponent bits.
pub fn pow2(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    if x >= 1024.0 {
        return f64::INFINITY;
    }
    if x < -1074.0 {
        return 0.0;
    }
    /// `1 / k!` for k = 13 down to 0.
    const INV_FACT: [f64; 14] = [
        1.0 / 6_227_020_800.0,
        1.0 / 479_001_600.0,
        1.0 / 39_916_800.0,
        1.0 / 3_628_800.0,
        1.0 / 362_880.0,
        1.0 / 40_320.0,
        1.0 / 5_040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ];
    let n = x.floor();
    let f = (x - n) * core::f64::consts::LN_2;
    let p = INV_FACT.iter().fold(0.0, |p, c| p * f + c);
    // 2^n in two factors, so subnormal results come out right.
    let half = (n / 2.0).floor();
    let bits = |e: f64| f64::from_bits(((e + 1023.0) as u64) << 52);
    p * bits(half) * bits(n - half)
}

/// Sorts `v` so that `before(a, b)` holds for neighbours where it matters:
/// an insertion sort, for the short lists here (the standard sorts cost
/// about 2 KB of wasm per element type).
fn sort_by(v: &mut [(usize, f64)], before: impl Fn(&(usize, f64), &(usize, f64)) -> bool) {
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && before(&v[j], &v[j - 1]) {
            v.swap(j, j - 1);
            j -= 1;
        }
    }
}

impl Decaying {
    fn at(&self, now: Millis, half_life_ms: f64) -> f64 {
        decay(self.score, now - self.upd, half_life_ms)
    }

    /// Adds `v` as of `at` (an earlier `at` adds it already faded).
    fn add(&mut self, v: f64, at: Millis, half_life_ms: f64) {
        if at >= self.upd {
            self.score = self.at(at, half_life_ms) + v;
            self.upd = at;
        } else {
            self.score += decay(v, self.upd - at, half_life_ms);
        }
    }
}

/// One signal's aggregate.
#[derive(Clone, Debug, Default, PartialEq)]
struct Agg {
    value: Decaying,
    /// Matches so far.
    count: u32,
    /// Last match.
    last: Millis,
    /// The last `minCount` match times, for `countWithinDays`.
    times: Vec<Millis>,
}

/// An intent signal's value and when it was set.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Flag {
    value: bool,
    at: Option<Millis>,
}

#[derive(Clone, Debug, PartialEq)]
struct Interest {
    topic: String,
    inferred: Decaying,
    /// A zero-party weight (`set_interest`), which overrides the inferred one.
    explicit: Option<f64>,
}

#[derive(Clone, Debug, PartialEq)]
struct CartLine {
    id: String,
    name: Option<String>,
    category: Option<String>,
    price: Option<f64>,
    quantity: f64,
}

#[derive(Clone, Debug, Default, PartialEq)]
struct Cart {
    lines: Vec<CartLine>,
    currency: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
struct Order {
    id: Option<String>,
    value: f64,
    currency: Option<String>,
    items: f64,
    categories: Vec<String>,
    at: Millis,
    refunded: bool,
}

/// What a recent touchpoint was.
const RECENT_KINDS: [&str; 3] = ["page", "landing", "track"];

#[derive(Clone, Debug, PartialEq)]
struct Recent {
    at: Millis,
    /// Index in [`RECENT_KINDS`].
    kind: u8,
    name: String,
    channel: Option<String>,
}

/// A contributing signal, as shown in reasons.
#[derive(Clone, Debug, PartialEq)]
pub struct Reason {
    /// The signal's id.
    pub signal: String,
    /// The signal's label.
    pub label: String,
    /// The stage it points to.
    pub stage: Stage,
    /// Its current (decayed) weight, to one decimal.
    pub points: f64,
    /// Milliseconds since it last fired.
    pub age_ms: f64,
    /// How often it fired.
    pub count: u32,
    /// `Cart Viewed 12 min ago +3.0 purchase` (`x3` after the label when it
    /// fired three times).
    pub text: String,
}

impl Reason {
    /// `{signal, label, stage, points, ageMs, text}`.
    pub fn to_json(&self) -> Json {
        Json::obj()
            .with("signal", self.signal.as_str())
            .with("label", self.label.as_str())
            .with("stage", self.stage.as_str())
            .with("points", self.points)
            .with("ageMs", self.age_ms)
            .with("text", self.text.as_str())
    }
}

/// The likely stage changed.
#[derive(Clone, Debug, PartialEq)]
pub struct StageChange {
    /// The stage announced before (`None` for a new profile).
    pub from: Option<Stage>,
    /// The new likely stage.
    pub to: Stage,
    /// When it changed.
    pub at: Millis,
    /// The top signals of the new stage.
    pub reasons: Vec<Reason>,
}

impl StageChange {
    /// `{from, to, reasons}`: the properties of a `Journey Stage Changed`
    /// event and the argument of `on("stage")` callbacks.
    pub fn to_json(&self) -> Json {
        Json::obj()
            .with("from", self.from.map_or(Json::Null, |s| s.as_str().into()))
            .with("to", self.to.as_str())
            .with("reasons", reasons_json(&self.reasons))
    }
}

fn reasons_json(r: &[Reason]) -> Json {
    Json::Arr(r.iter().map(Reason::to_json).collect())
}

/// Stage probabilities at a moment.
#[derive(Clone, Debug, PartialEq)]
pub struct StageScores {
    /// Probability of each stage, in [`Stage`] order; non-negative, sum 1.
    pub probabilities: [f64; 5],
    /// The likely stage (the most probable one, unless the stage announced
    /// before is within `stageMargin` of it).
    pub stage: Stage,
    /// The likely stage's lead over the next most probable one, 0..1.
    pub confidence: f64,
}

/// What an event does besides scoring signals, and its interest weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Effect {
    Other,
    Search,
    View,
    Add,
    Remove,
    CartView,
    Checkout,
    Order,
    Refund,
    Quote,
    SignUp,
    Rage,
    Engaged,
}

/// Track events with an effect: (name, effect, interest weight of each of
/// the event's topics). Other track events weigh 1 per topic.
const EVENTS: &[(&str, Effect, f64)] = &[
    ("Products Searched", Effect::Search, 1.0),
    ("Product List Viewed", Effect::Other, 1.0),
    ("Product Viewed", Effect::View, 2.0),
    ("Product Added", Effect::Add, 4.0),
    ("Product Removed", Effect::Remove, 0.0),
    ("Cart Viewed", Effect::CartView, 1.0),
    ("Checkout Started", Effect::Checkout, 3.0),
    ("Order Completed", Effect::Order, 6.0),
    ("Order Refunded", Effect::Refund, 0.0),
    ("Product Reviewed", Effect::Other, 4.0),
    ("Quote Requested", Effect::Quote, 5.0),
    ("Signed Up", Effect::SignUp, 3.0),
    ("Newsletter Subscribed", Effect::Other, 2.0),
    ("Rage Click", Effect::Rage, 0.0),
    ("Page Engaged", Effect::Engaged, 0.0),
];

/// What signals are matched against: an event, or an intent turning true.
#[derive(Default)]
struct Occ<'a> {
    event: Option<&'a str>,
    page: bool,
    path: &'a str,
    topics: &'a [String],
    channel: Option<&'a str>,
    start: Option<&'a str>,
    gap: Option<f64>,
    intent: Option<Intent>,
}

fn matches(w: &When, o: &Occ, times: &[(String, Millis)], now: Millis, post_ms: f64) -> bool {
    if w.intent != o.intent {
        return false;
    }
    let visit = w.first_visit || w.return_within_days.is_some();
    let kind_ok = match o.event {
        _ if o.intent.is_some() => true,
        _ if w.event.is_empty() => o.page || visit && o.start.is_some(),
        Some(e) => w.event.iter().any(|x| x == e),
        None => false,
    };
    kind_ok
        && (w.page.is_empty() || w.page.iter().any(|g| glob(g, o.path)))
        && (w.topic.is_empty() || w.topic.iter().any(|t| o.topics.contains(t)))
        && (w.channel.is_empty() || o.channel.is_some_and(|c| w.channel.contains(&c)))
        && (!w.first_visit || o.start == Some("first"))
        && w.return_within_days.is_none_or(|d| {
            o.start.is_some_and(|s| s != "first") && o.gap.is_some_and(|g| g <= d * DAY)
        })
        && w.since_event.as_ref().is_none_or(|(e, days)| {
            let window = days.map_or(post_ms, |d| d * DAY);
            times
                .iter()
                .any(|(n, t)| n == e && now >= *t && now - *t <= window)
        })
}

/// A string, or an integer as its digits (product ids are sometimes numbers).
fn id_text(v: Option<&Json>) -> Option<String> {
    let mut s = match v? {
        Json::Str(s) if !s.trim().is_empty() => s.trim().to_string(),
        Json::Num(n) if n.fract() == 0.0 && *n >= 0.0 && *n < 9e15 => {
            let mut s = String::new();
            push_u64(&mut s, *n as u64);
            s
        }
        _ => return None,
    };
    crate::track::event::cap(&mut s, MAX_NAME);
    Some(s)
}

fn num(v: Option<&Json>) -> Option<f64> {
    v.and_then(Json::as_f64)
        .filter(|n| n.is_finite() && *n >= 0.0 && *n < 1e12)
}

/// Rounds to millionths: what the stored form keeps of a fractional number.
fn micro(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

fn line_from(p: &Json) -> Option<CartLine> {
    Some(CartLine {
        id: id_text(p.get("product_id"))
            .or_else(|| id_text(p.get("sku")))
            .or_else(|| id_text(p.get("name")))?,
        name: id_text(p.get("name")),
        category: topics::normalize(p.get("category").and_then(Json::as_str))
            .into_iter()
            .next(),
        price: num(p.get("price")).map(micro),
        quantity: num(p.get("quantity"))
            .filter(|q| *q > 0.0)
            .map_or(1.0, |q| q.min(1e6).floor().max(1.0)),
    })
}

impl Cart {
    fn items(&self) -> f64 {
        self.lines.iter().map(|l| l.quantity).sum()
    }

    fn value(&self) -> f64 {
        micro(
            self.lines
                .iter()
                .map(|l| l.price.unwrap_or(0.0) * l.quantity)
                .sum(),
        )
    }

    fn categories(&self) -> Vec<String> {
        topics::normalize(self.lines.iter().filter_map(|l| l.category.as_deref()))
    }

    fn add(&mut self, line: CartLine) {
        match self.lines.iter_mut().find(|l| l.id == line.id) {
            Some(l) => {
                l.quantity = (l.quantity + line.quantity).min(1e6);
                l.price = line.price.or(l.price);
                l.category = line.category.or(l.category.take());
                l.name = line.name.or(l.name.take());
            }
            None => {
                if self.lines.len() >= MAX_CART_LINES {
                    self.lines.remove(0);
                }
                self.lines.push(line);
            }
        }
    }

    /// Takes `products[]` as the cart's content, when the event carries it.
    fn replace(&mut self, props: &Json) {
        if let Some(items) = props.get("products").and_then(Json::as_arr) {
            self.lines.clear();
            for p in items.iter().filter_map(line_from) {
                self.add(p);
            }
        }
    }

    fn currency(&mut self, props: &Json) {
        if let Some(c) = id_text(props.get("currency")) {
            self.currency = Some(c);
        }
    }
}

/// The visitor profile. See the module documentation.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    model: StageModel,
    cfg: ProfileConfig,
    first_seen: Option<Millis>,
    last_seen: Option<Millis>,
    sessions: u32,
    session_start: Option<Millis>,
    pageviews: u32,
    touches: Touches,
    /// One per model signal, same order.
    aggs: Vec<Agg>,
    /// Last time of each event some signal's `sinceEvent` names.
    event_times: Vec<(String, Millis)>,
    /// In [`Intent`] order.
    intents: [Flag; 7],
    cart: Cart,
    /// Last cart activity not followed by a checkout (the abandonment clock).
    cart_at: Option<Millis>,
    /// A quote not yet followed by an order or a sign-up.
    quote_at: Option<Millis>,
    last_order: Option<Order>,
    orders: u32,
    interests: Vec<Interest>,
    recent: VecDeque<Recent>,
    page_path: String,
    page_topics: Vec<String>,
    /// This session: searches since the last product view, rage clicks,
    /// active milliseconds on support pages.
    searches: u32,
    rage: u32,
    support_ms: f64,
    announced: Option<Stage>,
    change: Option<StageChange>,
    /// Sticky experiment assignments (the rules engine's store).
    pub assignments: Assignments,
}

impl Profile {
    /// An empty profile scored with `model` and `cfg`.
    pub fn new(model: StageModel, cfg: ProfileConfig) -> Profile {
        Profile {
            aggs: vec![Agg::default(); model.signals.len()],
            model,
            cfg,
            first_seen: None,
            last_seen: None,
            sessions: 0,
            session_start: None,
            pageviews: 0,
            touches: Touches::default(),
            event_times: Vec::new(),
            intents: [Flag::default(); 7],
            cart: Cart::default(),
            cart_at: None,
            quote_at: None,
            last_order: None,
            orders: 0,
            interests: Vec::new(),
            recent: VecDeque::new(),
            page_path: String::new(),
            page_topics: Vec::new(),
            searches: 0,
            rage: 0,
            support_ms: 0.0,
            announced: None,
            change: None,
            assignments: Assignments::new(),
        }
    }

    /// An empty profile with the same model and settings (after `forget()`).
    pub fn cleared(&self) -> Profile {
        Profile::new(self.model.clone(), self.cfg.clone())
    }

    fn half_life_ms(s: &Signal) -> f64 {
        s.half_life_days * DAY
    }

    /// Takes one event the tracker built (Segment Spec, with
    /// `context.sillage`) into account. O(number of signals + topics):
    /// nothing rescans history.
    pub fn apply(&mut self, ev: &Json, now: Millis) {
        if !now.is_finite() {
            return;
        }
        let now = now.floor();
        self.advance(now);
        let page = ev.get("type").and_then(Json::as_str) == Some("page");
        let name = ev
            .get("event")
            .and_then(Json::as_str)
            .filter(|_| !page && ev.get("type").and_then(Json::as_str) == Some("track"));
        let props = ev.get("properties").unwrap_or(&Json::Null);
        let sl = ev.get_path("context.sillage");
        let field = |k: &str| sl.and_then(|s| s.get(k));
        let (effect, weight) = name
            .and_then(|n| EVENTS.iter().find(|e| e.0 == n))
            .map_or((Effect::Other, 1.0), |e| (e.1, e.2));
        let engaged = effect == Effect::Engaged;
        let mut path = match engaged {
            true => props.get("page_path").and_then(Json::as_str),
            false => ev.get_path("context.page.path").and_then(Json::as_str),
        }
        .unwrap_or(if engaged { &self.page_path } else { "" })
        .to_string();
        crate::track::event::cap(&mut path, 2000);
        let mut topics = topics::normalize(
            field("topics")
                .and_then(Json::as_arr)
                .unwrap_or(&[])
                .iter()
                .filter_map(Json::as_str),
        );
        if topics.is_empty() && engaged && path == self.page_path {
            topics = self.page_topics.clone();
        } else if topics.is_empty() && name.is_some() {
            topics = topics::from_properties(props);
        }
        let touch = field("touchpoint").filter(|t| t.get("internal") != Some(&Json::Bool(true)));
        let channel = touch.and_then(|t| t.get("channel")).and_then(Json::as_str);
        let start = field("sessionStart").and_then(Json::as_str);
        let gap = self.last_seen.map(|l| now - l);

        self.first_seen = self.first_seen.or(Some(now));
        if let Some(start) = start {
            let index = num(field("sessionIndex")).map_or(0, |n| n.min(1e9) as u32);
            self.start_session(start, gap, index, now);
        }
        self.last_seen = Some(self.last_seen.map_or(now, |l| l.max(now)));
        if let Some(t) = touch {
            self.touches.update_json(t, now);
        }
        let occ = Occ {
            event: name,
            page,
            path: &path,
            topics: &topics,
            channel,
            start,
            gap,
            intent: None,
        };
        self.fire(&occ, now);

        if page {
            self.pageviews = self.pageviews.saturating_add(1);
            self.add_interest(&topics, 1.0, now);
            let kind = if touch.is_some() { 1 } else { 0 };
            self.remember(now, kind, &path, channel);
            self.page_path = path;
            self.page_topics = topics;
        } else if let Some(name) = name {
            self.track(name, effect, props, &path, &topics, weight, now);
        }
        if let Some(name) = name {
            if self
                .model
                .signals
                .iter()
                .any(|s| s.when.since_event.as_ref().is_some_and(|(e, _)| e == name))
            {
                match self.event_times.iter_mut().find(|(n, _)| n == name) {
                    Some(slot) => slot.1 = slot.1.max(now),
                    None => self.event_times.push((name.to_string(), now)),
                }
            }
        }
        self.settle(now);
    }

    #[allow(clippy::too_many_arguments)]
    fn track(
        &mut self,
        name: &str,
        effect: Effect,
        props: &Json,
        path: &str,
        topics: &[String],
        weight: f64,
        now: Millis,
    ) {
        let t = &self.cfg.intents;
        let (rage_max, search_max, support_max) =
            (t.rage_clicks, t.searches, t.support_seconds * 1000.0);
        if effect != Effect::Engaged {
            self.remember(now, 2, name, None);
        }
        self.add_interest(topics, weight, now);
        match effect {
            Effect::Engaged => {
                let active = num(props.get("active_time_ms")).unwrap_or(0.0).floor();
                let scroll = num(props.get("scroll_depth_pct")).unwrap_or(0.0).min(100.0);
                self.add_interest(topics, (active / 30_000.0).min(4.0) + scroll / 100.0, now);
                if self.cfg.intents.support_pages.iter().any(|g| glob(g, path)) {
                    self.support_ms += active;
                    if self.support_ms >= support_max {
                        self.set_intent(Intent::Frustrated, true, now);
                    }
                }
            }
            Effect::Search => {
                self.searches = self.searches.saturating_add(1);
                if self.searches >= search_max {
                    self.set_intent(Intent::Frustrated, true, now);
                }
            }
            Effect::View => self.searches = 0,
            Effect::Rage => {
                self.rage = self.rage.saturating_add(1);
                if self.rage >= rage_max {
                    self.set_intent(Intent::Frustrated, true, now);
                }
            }
            Effect::Add => {
                self.cart.currency(props);
                if let Some(line) = line_from(props) {
                    self.cart.add(line);
                }
                self.cart_at = Some(now);
                self.set_intent(Intent::CartAbandoned, false, now);
            }
            Effect::Remove => {
                if let Some(line) = line_from(props) {
                    let all = props.get("quantity").is_none();
                    let lines = &mut self.cart.lines;
                    if let Some(l) = lines.iter_mut().find(|l| l.id == line.id) {
                        l.quantity -= if all { f64::MAX } else { line.quantity };
                    }
                    lines.retain(|l| l.quantity > 0.0);
                }
                if self.cart.lines.is_empty() {
                    self.cart_at = None;
                    self.set_intent(Intent::CartAbandoned, false, now);
                }
            }
            Effect::CartView => {
                self.cart.currency(props);
                self.cart.replace(props);
                let open = !self.intents[Intent::CartAbandoned as usize].value;
                if !self.cart.lines.is_empty() && (self.cart_at.is_some() || open) {
                    self.cart_at = Some(now);
                }
            }
            Effect::Checkout => {
                self.cart.currency(props);
                self.cart.replace(props);
                self.cart_at = None;
                self.set_intent(Intent::CartAbandoned, false, now);
            }
            Effect::Order => {
                let mut bought = Cart::default();
                bought.replace(props);
                if bought.lines.is_empty() {
                    bought = core::mem::take(&mut self.cart);
                }
                let value = ["revenue", "total", "value"]
                    .iter()
                    .find_map(|k| num(props.get(k)))
                    .map_or(bought.value(), micro);
                self.last_order = Some(Order {
                    id: id_text(props.get("order_id")),
                    value,
                    currency: id_text(props.get("currency"))
                        .or(bought.currency.take())
                        .or(self.cart.currency.take()),
                    items: bought.items(),
                    categories: bought.categories(),
                    at: now,
                    refunded: false,
                });
                self.orders = self.orders.saturating_add(1);
                self.cart = Cart::default();
                self.cart_at = None;
                self.quote_at = None;
                self.set_intent(Intent::CartAbandoned, false, now);
                self.set_intent(Intent::QuoteNotConverted, false, now);
                if self.orders >= self.cfg.intents.repeat_orders {
                    self.set_intent(Intent::RepeatBuyer, true, now);
                }
            }
            Effect::Refund => {
                if let Some(o) = &mut self.last_order {
                    o.refunded = true;
                }
            }
            Effect::Quote => {
                self.quote_at = Some(now);
                self.set_intent(Intent::QuoteNotConverted, false, now);
            }
            Effect::SignUp => {
                self.quote_at = None;
                self.set_intent(Intent::QuoteNotConverted, false, now);
            }
            Effect::Other => {}
        }
    }

    fn start_session(&mut self, start: &str, gap: Option<f64>, index: u32, now: Millis) {
        self.sessions = self.sessions.saturating_add(1).max(index);
        self.session_start = Some(now);
        self.searches = 0;
        self.rage = 0;
        self.support_ms = 0.0;
        self.set_intent(Intent::Frustrated, false, now);
        let t = &self.cfg.intents;
        let lapsed = start != "first" && gap.is_some_and(|g| g >= t.lapsed_days * DAY);
        let returning = self.sessions >= t.returning_sessions;
        self.set_intent(Intent::Lapsed, lapsed, now);
        if returning {
            self.set_intent(Intent::Returning, true, now);
        }
        if self.cart_at.take().is_some() {
            self.set_intent(Intent::CartAbandoned, true, now);
        }
    }

    /// Scores every signal that `o` matches, at `at`. A match of a signal
    /// whose stage is below a live hold ([`Signal::hold_days`]) is counted
    /// but adds no points; a hold of a stage this occurrence clears does not
    /// count (an order ends the cart's hold before its own "past order"
    /// points are added).
    fn fire(&mut self, o: &Occ, at: Millis) {
        let post = self.cfg.post_purchase_days * DAY;
        // Bit sets: at most 64 signals (`model::MAX_SIGNALS`), 5 stages.
        let (mut clears, mut fired, mut due) = (0u8, 0u64, 0u64);
        for (i, (s, a)) in self
            .model
            .signals
            .iter()
            .zip(self.aggs.iter_mut())
            .enumerate()
        {
            if !matches(&s.when, o, &self.event_times, at, post) {
                continue;
            }
            fired |= 1 << (i % 64);
            a.count = a.count.saturating_add(1);
            a.last = a.last.max(at);
            let min = s.min_count as usize;
            let ok = match s.count_within_days {
                Some(days) => {
                    a.times.push(at);
                    if a.times.len() > min {
                        a.times.remove(0);
                    }
                    a.times.len() >= min && a.times.first().is_some_and(|t| at - t <= days * DAY)
                }
                None => a.count as usize >= min,
            };
            if ok {
                due |= 1 << (i % 64);
                clears |= s.clears.iter().fold(0, |m, st| m | 1 << *st as u8);
            }
        }
        if due == 0 {
            return;
        }
        // The highest stage a live hold keeps (those below it score nothing).
        let mut held = 0;
        for (i, (s, a)) in self.model.signals.iter().zip(&self.aggs).enumerate() {
            let st = s.stage as u8;
            let live = (a.value.score != 0.0 || due & 1 << (i % 64) != 0)
                && clears & 1 << st == 0
                && s.hold_days
                    .is_some_and(|d| at >= a.last && at - a.last <= d * DAY);
            if live {
                held = held.max(st);
            }
        }
        for (i, (s, a)) in (self.model.signals.iter())
            .zip(self.aggs.iter_mut())
            .enumerate()
        {
            if due & 1 << (i % 64) != 0 && s.stage as u8 >= held {
                a.value.add(s.points, at, Self::half_life_ms(s));
            }
        }
        if clears == 0 {
            return;
        }
        for (i, a) in self.aggs.iter_mut().enumerate() {
            let stage = self.model.signals.get(i).map_or(0, |s| s.stage as u8);
            if clears & 1 << stage != 0 && fired & 1 << (i % 64) == 0 {
                a.value = Decaying {
                    score: 0.0,
                    upd: at.max(a.value.upd),
                };
            }
        }
    }

    /// Sets an intent signal; true when it turned true (and fired signals).
    fn set_intent(&mut self, i: Intent, value: bool, at: Millis) -> bool {
        let f = &mut self.intents[i as usize];
        if f.value == value {
            return false;
        }
        *f = Flag {
            value,
            at: Some(at),
        };
        if value {
            let occ = Occ {
                intent: Some(i),
                ..Occ::default()
            };
            self.fire(&occ, at);
        }
        value
    }

    fn add_interest(&mut self, topics: &[String], w: f64, now: Millis) {
        if w <= 0.0 {
            return;
        }
        for t in topics {
            let hl = self.cfg.interest_half_life_days * DAY;
            if let Some(i) = self.slot(t, now) {
                i.inferred.add(w, now, hl);
            }
        }
    }

    /// The interest for `topic`, made room for (the weakest evicted).
    fn slot(&mut self, topic: &str, now: Millis) -> Option<&mut Interest> {
        let pos = match self.interests.iter().position(|i| i.topic == topic) {
            Some(p) => p,
            None => {
                if self.interests.len() >= self.cfg.max_interests {
                    let weakest = self.weakest_interest(now)?;
                    self.interests.swap_remove(weakest);
                }
                self.interests.push(Interest {
                    topic: topic.to_string(),
                    inferred: Decaying::default(),
                    explicit: None,
                });
                self.interests.len() - 1
            }
        };
        self.interests.get_mut(pos)
    }

    fn interest_value(&self, i: &Interest, now: Millis) -> f64 {
        i.explicit.unwrap_or_else(|| {
            let units = i.inferred.at(now, self.cfg.interest_half_life_days * DAY);
            1.0 - pow2(-units.max(0.0) / INTEREST_SCALE * core::f64::consts::LOG2_E)
        })
    }

    fn weakest_interest(&self, now: Millis) -> Option<usize> {
        let mut weakest: Option<(usize, f64)> = None;
        for (i, x) in self.interests.iter().enumerate() {
            let v = self.interest_value(x, now);
            if weakest.is_none_or(|(_, w)| v < w) {
                weakest = Some((i, v));
            }
        }
        weakest.map(|(i, _)| i)
    }

    /// Records an explicit (zero-party) interest, as `sillage.interest(topic,
    /// weight)` does: `weight` (clamped to 0..1) replaces the inferred score
    /// of the normalised topic in snapshots and does not decay; inferred
    /// engagement keeps accruing underneath but is not shown while an
    /// explicit weight is set. 0 means "not interested" (hidden). A topic
    /// that normalises to nothing, or a weight that is not a number, is
    /// ignored.
    pub fn set_interest(&mut self, topic: &str, weight: f64, now: Millis) {
        let Some(t) = topics::normalize([topic]).into_iter().next() else {
            return;
        };
        if weight.is_nan() || !now.is_finite() {
            return;
        }
        if let Some(i) = self.slot(&t, now.floor()) {
            i.explicit = Some(micro(weight.clamp(0.0, 1.0)));
        }
    }

    fn remember(&mut self, at: Millis, kind: u8, name: &str, channel: Option<&str>) {
        if self.cfg.recent_max == 0 {
            return;
        }
        let mut name = name.to_string();
        crate::track::event::cap(&mut name, MAX_NAME);
        let mut channel = channel.map(str::to_string);
        if let Some(c) = &mut channel {
            crate::track::event::cap(c, MAX_NAME);
        }
        while self.recent.len() >= self.cfg.recent_max {
            self.recent.pop_front();
        }
        self.recent.push_back(Recent {
            at,
            kind,
            name,
            channel,
        });
    }

    /// The next time [`Profile::handle_timeout`] must run (an abandoned cart
    /// or an unconverted quote falls due), if any.
    pub fn poll_timeout(&self) -> Option<Millis> {
        let t = &self.cfg.intents;
        let cart = self
            .cart_at
            .map(|c| (c + t.cart_minutes * 60_000.0).floor());
        let quote = self.quote_at.map(|q| (q + t.quote_days * DAY).floor());
        match (cart, quote) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Applies what fell due by `now`: intent signals turn true at their
    /// deadline (not at `now`), so their points decay from then.
    fn advance(&mut self, now: Millis) {
        let t = &self.cfg.intents;
        let (cart_ms, quote_ms) = (t.cart_minutes * 60_000.0, t.quote_days * DAY);
        if let Some(due) = self.cart_at.map(|c| (c + cart_ms).floor()) {
            if due <= now {
                self.cart_at = None;
                self.set_intent(Intent::CartAbandoned, true, due);
            }
        }
        if let Some(due) = self.quote_at.map(|q| (q + quote_ms).floor()) {
            if due <= now {
                self.quote_at = None;
                self.set_intent(Intent::QuoteNotConverted, true, due);
            }
        }
    }

    /// Runs the timers due by `now` (see [`Profile::poll_timeout`]).
    pub fn handle_timeout(&mut self, now: Millis) {
        if now.is_finite() {
            let now = now.floor();
            self.advance(now);
            self.settle(now);
        }
    }

    /// Updates `highIntent` and the announced stage.
    fn settle(&mut self, now: Millis) {
        let mut p = self.probabilities(now);
        let high = p[Stage::Purchase as usize] >= self.cfg.intents.high_intent;
        if self.set_intent(Intent::HighIntent, high, now) {
            p = self.probabilities(now);
        }
        let stage = self.likely(&p);
        if self.announced != Some(stage) {
            let from = self.change.take().map_or(self.announced, |c| c.from);
            self.announced = Some(stage);
            if from != Some(stage) {
                self.change = Some(StageChange {
                    from,
                    to: stage,
                    at: now,
                    reasons: self.reasons(now, stage, CHANGE_REASONS),
                });
            }
        }
    }

    /// The likely stage's change since the last call, if it changed
    /// (changes in between are merged: from the first, to the last).
    pub fn poll_change(&mut self) -> Option<StageChange> {
        self.change.take()
    }

    fn probabilities(&self, now: Millis) -> [f64; 5] {
        let mut s = self.model.prior;
        for (sig, a) in self.model.signals.iter().zip(&self.aggs) {
            if let Some(x) = s.get_mut(sig.stage as usize) {
                *x += a.value.at(now, Self::half_life_ms(sig));
            }
        }
        for x in &mut s {
            if !(*x > 0.0 && x.is_finite()) {
                *x = 0.0;
            }
        }
        let total: f64 = s.iter().sum();
        if !(total > 0.0 && total.is_finite()) {
            return [0.2; 5];
        }
        s.map(|x| x / total)
    }

    /// The most probable stage, unless the announced one is within the margin.
    fn likely(&self, p: &[f64; 5]) -> Stage {
        let best = (0..5).fold(0, |b, i| if p[i] > p[b] { i } else { b });
        match self.announced {
            Some(a) if p[a as usize] + self.cfg.stage_margin >= p[best] => a,
            _ => Stage::ALL[best],
        }
    }

    /// Stage probabilities, the likely stage and the confidence at `now`.
    pub fn scores(&self, now: Millis) -> StageScores {
        let p = self.probabilities(now);
        let stage = self.likely(&p);
        let other = (0..5)
            .filter(|i| *i != stage as usize)
            .fold(0.0, |m: f64, i| m.max(p[i]));
        StageScores {
            probabilities: p,
            stage,
            confidence: (p[stage as usize] - other).max(0.0),
        }
    }

    /// The signals carrying weight now: those of `stage` first, then by
    /// weight; at most `n`.
    pub fn reasons(&self, now: Millis, stage: Stage, n: usize) -> Vec<Reason> {
        let mut r: Vec<(usize, f64)> = (self.model.signals.iter().zip(&self.aggs))
            .map(|(s, a)| a.value.at(now, Self::half_life_ms(s)))
            .enumerate()
            .filter(|(_, w)| w.abs() >= 0.05)
            .collect();
        // The stage's own signals first, then by weight; ties keep the
        // model's order (the sort is stable).
        let key = |&(i, w): &(usize, f64)| {
            let mine = self.model.signals.get(i).is_some_and(|s| s.stage == stage);
            w.abs() + if mine { 1e12 } else { 0.0 }
        };
        sort_by(&mut r, |a, b| key(a) > key(b));
        r.iter()
            .take(n)
            .filter_map(|&(i, w)| {
                let (s, a) = (self.model.signals.get(i)?, self.aggs.get(i)?);
                let age = (now - a.last).max(0.0);
                Some(Reason {
                    signal: s.id.clone(),
                    label: s.label.clone(),
                    stage: s.stage,
                    points: (w * 10.0).round() / 10.0,
                    age_ms: age,
                    count: a.count,
                    text: reason_text(&s.label, a.count, age, w, s.stage),
                })
            })
            .collect()
    }

    /// The plain object `sillage.profile()` returns (see
    /// `www/sillage.profile.schema.json` for every field).
    pub fn snapshot(&self, now: Millis) -> Json {
        let sc = self.scores(now);
        let mut probs = Json::obj();
        for (name, p) in STAGES.iter().zip(sc.probabilities) {
            probs.set(name, p.into());
        }
        let interests = self.interests_at(now);
        let top: Vec<Json> = interests
            .iter()
            .take(self.cfg.top_k)
            .map(|(t, _)| t.as_str().into())
            .collect();
        let mut signals = Json::obj();
        for (name, f) in INTENTS.iter().zip(&self.intents) {
            signals.set(
                name,
                Json::obj()
                    .with("value", f.value)
                    .with("at", f.at.map_or(Json::Null, Json::Num)),
            );
        }
        let touches = self.touches.to_json();
        let part = |k: &str| touches.get(k).cloned().unwrap_or_default();
        let time = |t: Option<Millis>| t.map_or(Json::Null, Json::Num);
        Json::obj()
            .with("version", f64::from(VERSION))
            .with("stage", sc.stage.as_str())
            .with("stageProbabilities", probs)
            .with("confidence", sc.confidence)
            .with(
                "reasons",
                reasons_json(&self.reasons(now, sc.stage, SNAPSHOT_REASONS)),
            )
            .with(
                "interests",
                Json::Obj(
                    interests
                        .into_iter()
                        .map(|(t, v)| (t, Json::Num(v)))
                        .collect(),
                ),
            )
            .with("topInterests", Json::Arr(top))
            .with("signals", signals)
            .with("sessions", f64::from(self.sessions))
            .with("pageviews", f64::from(self.pageviews))
            .with("firstSeen", time(self.first_seen))
            .with("lastSeen", time(self.last_seen))
            .with("firstTouch", part("firstTouch"))
            .with("lastTouch", part("lastTouch"))
            .with("channels", part("channels"))
            .with("cart", self.cart_json(true))
            .with(
                "lastOrder",
                self.last_order.as_ref().map_or(Json::Null, order_json),
            )
            .with("orders", f64::from(self.orders))
            .with("recent", self.recent_json())
    }

    /// `{items, value, currency, categories, products}`; `products` holds
    /// `{id, name?, category?, price?, quantity}` (the stored form omits
    /// the derived totals).
    fn cart_json(&self, totals: bool) -> Json {
        let c = &self.cart;
        let products = c
            .lines
            .iter()
            .map(|l| {
                let mut o = Json::obj().with("id", l.id.as_str());
                for (k, v) in [("name", &l.name), ("category", &l.category)] {
                    if let Some(v) = v {
                        o.set(k, v.as_str().into());
                    }
                }
                if let Some(p) = l.price {
                    o.set("price", p.into());
                }
                o.with("quantity", l.quantity)
            })
            .collect();
        let mut o = Json::obj();
        if totals {
            o.set("items", c.items().into());
            o.set("value", c.value().into());
        }
        o.set("currency", c.currency.clone().into());
        if totals {
            o.set(
                "categories",
                Json::Arr(c.categories().into_iter().map(Json::Str).collect()),
            );
        }
        o.with("products", Json::Arr(products))
    }

    fn recent_json(&self) -> Json {
        Json::Arr(self.recent.iter().map(recent_json).collect())
    }
}

fn recent_json(r: &Recent) -> Json {
    let mut a = vec![
        Json::Num(r.at),
        RECENT_KINDS
            .get(r.kind as usize)
            .copied()
            .unwrap_or("page")
            .into(),
        r.name.as_str().into(),
    ];
    if let Some(c) = &r.channel {
        a.push(c.as_str().into());
    }
    Json::Arr(a)
}

fn order_json(o: &Order) -> Json {
    Json::obj()
        .with("orderId", o.id.clone())
        .with("value", o.value)
        .with("currency", o.currency.clone())
        .with("items", o.items)
        .with(
            "categories",
            Json::Arr(o.categories.iter().map(|c| c.as_str().into()).collect()),
        )
        .with("at", o.at)
        .with("refunded", o.refunded)
}

/// `just now`, `N min ago`, `N h ago`, `N days ago` (`1 day ago`).
pub fn push_age(out: &mut String, age_ms: f64) {
    let min = (age_ms.max(0.0) / 60_000.0).floor() as u64;
    let (n, unit) = match min {
        0 => return out.push_str("just now"),
        1..=59 => (min, " min ago"),
        60..=2879 => (min / 60, " h ago"),
        _ => (min / 1440, " days ago"),
    };
    push_u64(out, n);
    out.push_str(if n == 1 && unit == " days ago" {
        " day ago"
    } else {
        unit
    });
}

/// `+3.0`, `-1.5`: a sign and one decimal, by integer arithmetic.
pub fn push_points(out: &mut String, v: f64) {
    let tenths = (v.abs() * 10.0).round().min(1e15) as u64;
    out.push(if v < 0.0 && tenths > 0 { '-' } else { '+' });
    push_u64(out, tenths / 10);
    out.push('.');
    push_u64(out, tenths % 10);
}

fn reason_text(label: &str, count: u32, age: f64, w: f64, stage: Stage) -> String {
    let mut t = String::with_capacity(label.len() + 32);
    t.push_str(label);
    if count > 1 {
        t.push_str(" x");
        push_u64(&mut t, u64::from(count));
    }
    t.push(' ');
    push_age(&mut t, age);
    t.push(' ');
    push_points(&mut t, w);
    t.push(' ');
    t.push_str(stage.as_str());
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pow2_matches_libm() {
        let mut x = -1100.0;
        while x < 1030.0 {
            let (got, want) = (pow2(x), x.exp2());
            let err = if want.is_infinite() {
                if got == want {
                    0.0
                } else {
                    1.0
                }
            } else if want == 0.0 {
                got.abs()
            } else {
                ((got - want) / want).abs()
            };
            assert!(
                err < 1e-12 || want < 1e-300 && (got - want).abs() < 1e-310,
                "{x}: {got} vs {want}"
            );
            x += 0.37;
        }
        assert_eq!(pow2(0.0), 1.0);
        assert_eq!(pow2(-1.0), 0.5);
        assert_eq!(pow2(10.0), 1024.0);
        assert!(pow2(f64::NAN).is_nan());
        assert_eq!(pow2(f64::NEG_INFINITY), 0.0);
    }
}
