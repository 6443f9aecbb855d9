//! A deterministic generator of collector databases for the report: small
//! hand-written journeys whose answers the tests work out by hand, known
//! experiment counts for the statistics, and a seeded simulation of a shop
//! at any scale (the screenshot, the 1M-event timing).
//!
//! Events are written with the collector's own schema (the database is
//! created by [`crate::AppState::open`]) and the same extracted columns as
//! its ingestion, in the Segment-Spec shape the SDK sends.

use std::path::Path;

use rusqlite::{params, Connection};
use serde_json::{json, Map, Value};
use sillage_core::support::time::iso8601;

use super::range::{parse_timestamp, DAY_MS};

/// A minute in milliseconds.
pub const MIN: i64 = 60_000;
/// A day.
pub const DAY: i64 = DAY_MS;
/// An hour.
pub const HOUR: i64 = 60 * MIN;

/// The start of the known-answer journeys: Monday 2 November 2026, 09:00 UTC.
pub fn t0() -> i64 {
    parse_timestamp("2026-11-02T09:00:00.000Z").unwrap_or(0)
}

/// A touchpoint as the SDK records it in `context.sillage.touchpoint`.
#[derive(Clone, Debug)]
pub struct Touch {
    /// Channel group.
    pub channel: &'static str,
    /// Source.
    pub source: &'static str,
    /// Medium.
    pub medium: &'static str,
    /// Campaign name.
    pub campaign: Option<String>,
    /// Paid.
    pub paid: bool,
}

impl Touch {
    /// A touch without campaign.
    pub fn new(channel: &'static str, source: &'static str, medium: &'static str) -> Touch {
        Touch {
            channel,
            source,
            medium,
            campaign: None,
            paid: false,
        }
    }

    /// With a campaign.
    pub fn campaign(mut self, c: &str) -> Touch {
        self.campaign = Some(c.into());
        self
    }

    /// Paid.
    pub fn paid(mut self) -> Touch {
        self.paid = true;
        self
    }

    fn to_json(&self) -> Value {
        let mut o = json!({
            "channel": self.channel, "source": self.source, "medium": self.medium, "paid": self.paid
        });
        if let Some(c) = &self.campaign {
            o["campaign"] = c.clone().into();
        }
        o
    }
}

/// Writes events into a collector database.
pub struct Writer {
    conn: Connection,
    n: u64,
    rng: Rng,
}

impl Writer {
    /// Creates (or opens) the database with the collector's schema and the
    /// report's index, and starts one transaction for all the writes.
    pub fn create(db: &Path) -> Result<Writer, String> {
        let state = crate::AppState::open(crate::Options {
            db: db.to_path_buf(),
            ..crate::Options::default()
        })?;
        drop(state);
        let conn = Connection::open(db).map_err(|e| format!("{}: {e}", db.display()))?;
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .map_err(|e| e.to_string())?;
        if rows > 0 {
            return Err(format!(
                "{} already holds {rows} events: write sample data to a new file",
                db.display()
            ));
        }
        super::migrate(&conn).map_err(|e| e.to_string())?;
        conn.execute_batch("PRAGMA synchronous = OFF; BEGIN;")
            .map_err(|e| e.to_string())?;
        Ok(Writer {
            conn,
            n: 0,
            rng: Rng::new(0x5eed),
        })
    }

    /// Events written so far.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// Commits.
    pub fn finish(self) -> Result<u64, String> {
        self.conn
            .execute_batch("COMMIT; PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(|e| e.to_string())?;
        Ok(self.n)
    }

    /// Writes one event, filling what the SDK adds (messageId, library,
    /// page, device) and the collector's extracted columns.
    pub fn write(&mut self, mut ev: Map<String, Value>) -> Result<(), String> {
        self.n += 1;
        let id = self.rng.uuid();
        ev.insert("messageId".into(), id.clone().into());
        let ctx = ev
            .entry("context")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(c) = ctx.as_object_mut() {
            c.entry("library")
                .or_insert(json!({"name": "sillage", "version": "0.1.0"}));
        }
        let text = |k: &str| ev.get(k).and_then(Value::as_str).map(str::to_string);
        let session = ev
            .get("context")
            .and_then(|c| c.pointer("/sillage/sessionId"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let ts = text("timestamp");
        self.conn
            .prepare_cached(
                "INSERT INTO events (message_id, type, event, name, anonymous_id, user_id,
                     session_id, timestamp, sent_at, write_key, received_at, payload)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL, ?9, ?10)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    id,
                    text("type"),
                    text("event"),
                    text("name"),
                    text("anonymousId"),
                    text("userId"),
                    session,
                    ts,
                    ts,
                    Value::Object(ev.clone()).to_string(),
                ])
            })
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// One visitor's events, built in time order.
pub struct Visitor<'a> {
    w: &'a mut Writer,
    anon: String,
    user: Option<String>,
    session: String,
    session_index: u32,
    device: &'static str,
    stage: Option<&'static str>,
    /// The visitor's clock, epoch ms.
    pub now: i64,
}

impl<'a> Visitor<'a> {
    /// A new visitor.
    pub fn new(w: &'a mut Writer, anon: &str, now: i64) -> Visitor<'a> {
        let device = ["desktop", "mobile", "mobile", "tablet"][(w.rng.next_u64() % 4) as usize];
        Visitor {
            w,
            anon: anon.into(),
            user: None,
            session: String::new(),
            session_index: 0,
            device,
            stage: None,
            now,
        }
    }

    /// Moves the clock.
    pub fn wait(&mut self, ms: i64) -> &mut Self {
        self.now += ms;
        self
    }

    /// The current stage.
    pub fn stage(&self) -> Option<&'static str> {
        self.stage
    }

    fn base(&mut self, kind: &str) -> Map<String, Value> {
        let mut ev = Map::new();
        ev.insert("type".into(), kind.into());
        ev.insert("anonymousId".into(), self.anon.clone().into());
        if let Some(u) = &self.user {
            ev.insert("userId".into(), u.clone().into());
        }
        ev.insert("timestamp".into(), iso8601(self.now as f64).into());
        ev.insert(
            "context".into(),
            json!({"sillage": {"device": self.device, "sessionId": self.session,
                               "sessionIndex": self.session_index}}),
        );
        ev
    }

    /// A new session whose landing page view carries `touch` (a landing
    /// from the site itself carries none).
    pub fn land(&mut self, path: &str, touch: Option<&Touch>) -> Result<&mut Self, String> {
        self.session = self.w.rng.uuid();
        self.session_index += 1;
        let mut ev = self.base("page");
        let start = if self.session_index == 1 {
            "first"
        } else if touch.is_some_and(|t| t.campaign.is_some()) {
            "campaign"
        } else {
            "timeout"
        };
        let mut url = format!("https://shop.example{path}");
        if let Some(t) = touch {
            if let Some(c) = &t.campaign {
                url.push_str(&format!(
                    "?utm_source={}&utm_medium={}&utm_campaign={}",
                    t.source,
                    t.medium,
                    c.replace(' ', "+")
                ));
            }
        }
        if let Some(s) = ev
            .get_mut("context")
            .and_then(|c| c.get_mut("sillage"))
            .and_then(Value::as_object_mut)
        {
            s.insert("sessionStart".into(), start.into());
            if let Some(t) = touch {
                s.insert("touchpoint".into(), t.to_json());
            }
        }
        page_context(&mut ev, path, &url);
        self.w.write(ev)?;
        Ok(self)
    }

    /// A page view inside the session.
    pub fn page(&mut self, path: &str) -> Result<&mut Self, String> {
        let mut ev = self.base("page");
        page_context(&mut ev, path, &format!("https://shop.example{path}"));
        self.w.write(ev)?;
        Ok(self)
    }

    /// A track event.
    pub fn track(&mut self, event: &str, properties: Value) -> Result<&mut Self, String> {
        let mut ev = self.base("track");
        ev.insert("event".into(), event.into());
        ev.insert("properties".into(), properties);
        self.w.write(ev)?;
        Ok(self)
    }

    /// `Journey Stage Changed` to `to`.
    pub fn stage_to(&mut self, to: &'static str) -> Result<&mut Self, String> {
        let from = self.stage;
        self.stage = Some(to);
        self.track(
            "Journey Stage Changed",
            json!({"from": from, "to": to, "reasons": [{"signal": "fixture", "stage": to}]}),
        )
    }

    /// `identify` with a userId; later events carry it.
    pub fn identify(&mut self, user: &str) -> Result<&mut Self, String> {
        self.user = Some(user.into());
        let mut ev = self.base("identify");
        ev.insert("traits".into(), json!({"plan": "free"}));
        self.w.write(ev)?;
        Ok(self)
    }

    /// `Order Completed`.
    pub fn order(&mut self, id: &str, revenue: f64) -> Result<&mut Self, String> {
        self.track(
            "Order Completed",
            json!({"order_id": id, "revenue": revenue, "currency": "EUR",
                   "products": [{"product_id": "TRAIL-1", "price": revenue, "quantity": 1}]}),
        )
    }

    /// `Personalization Viewed`.
    pub fn pz_view(&mut self, slot: &str, rule: &str, variant: &str) -> Result<&mut Self, String> {
        self.track(
            "Personalization Viewed",
            json!({"slot": slot, "rule_id": rule, "variant": variant}),
        )
    }

    /// `Personalization Clicked`.
    pub fn pz_click(&mut self, slot: &str, rule: &str, variant: &str) -> Result<&mut Self, String> {
        self.track(
            "Personalization Clicked",
            json!({"slot": slot, "rule_id": rule, "variant": variant, "href": "/p/TRAIL-1"}),
        )
    }

    /// `Experiment Viewed`.
    pub fn exp_view(
        &mut self,
        exp: &str,
        variation: &str,
        holdout: bool,
    ) -> Result<&mut Self, String> {
        self.track(
            "Experiment Viewed",
            json!({"experiment_id": exp, "variation_id": variation, "in_holdout": holdout,
                   "slot": "hero", "rule_id": format!("{exp}-rule")}),
        )
    }
}

fn page_context(ev: &mut Map<String, Value>, path: &str, url: &str) {
    if let Some(c) = ev.get_mut("context").and_then(Value::as_object_mut) {
        c.insert(
            "page".into(),
            json!({"path": path, "referrer": "", "search": "", "title": "Trail shop", "url": url}),
        );
    }
    ev.insert("properties".into(), json!({"path": path, "url": url}));
}

/// A small, fast, seeded generator (SplitMix64).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// Seeded.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo + 1).max(1) as u64) as i64
    }

    /// An index picked by weight.
    pub fn pick(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.unit() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }

    /// A UUID v4 text.
    pub fn uuid(&mut self) -> String {
        let (a, b) = (self.next_u64(), self.next_u64());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | ((b >> 48) & 0x3fff),
            b & 0xffff_ffff_ffff
        )
    }
}

/// The campaign name the known journeys use to attempt an XSS in the report.
pub const EVIL_CAMPAIGN: &str = "<script>alert('campaign')</script><img src=x onerror=alert(1)>";
/// The slot name that attempts it through personalization.
pub const EVIL_SLOT: &str = "\"><svg onload=alert('slot')>";

/// The hand-written journeys the tests check by hand (see
/// `collector/tests/report.rs` for each visitor's expected numbers):
///
/// - `v1`: Paid Search (t0) → Email (t0+2d) → Direct (t0+4d, order o1, 100);
///   stages discovery → consideration → purchase → post_purchase; sees and
///   clicks the hero in session 2, orders in session 3; a cart in session 2.
/// - `v2`: Offline QR (t0+1d, the malicious campaign), a cart, the recs slot
///   seen and clicked, order o2 (50) in the same session, the same order
///   sent twice; discovery → consideration → purchase → post_purchase.
/// - `v3`: Organic Search (t0), Paid Social (t0+1d) with a cart and no
///   order; discovery → consideration → purchase → consideration (back);
///   sees the hero twice in one session.
/// - `v4`: Direct (t0+1d), a quote and nothing after: unconverted (data
///   runs to t0+10d); discovery.
/// - `v5` and `v5-phone`, joined by userId `u5`: Referral (t0) with a quote,
///   sign-up and identify at t0+2d (the quote converts); the phone lands from
///   Email at t0+3d and orders o3 (200); discovery → purchase → post_purchase.
/// - `v6`: Paid Search at t0+10d, nothing else; the malicious slot seen.
pub fn journeys(w: &mut Writer) -> Result<(), String> {
    let t0 = t0();
    let ps = Touch::new("Paid Search", "google", "cpc")
        .campaign("spring")
        .paid();
    let email = Touch::new("Email", "newsletter", "email").campaign("november");
    let direct = Touch::new("Direct", "(direct)", "(none)");

    let mut v = Visitor::new(w, "v1", t0);
    v.land("/", Some(&ps))?.wait(1000).stage_to("discovery")?;
    v.wait(2 * DAY_MS - 1000).land("/", Some(&email))?;
    v.wait(MIN).stage_to("consideration")?;
    v.pz_view("hero", "hero-runner", "runner")?;
    v.pz_click("hero", "hero-runner", "runner")?;
    v.track(
        "Product Added",
        json!({"product_id": "TRAIL-1", "price": 100}),
    )?;
    v.wait(MIN).stage_to("purchase")?;
    v.now = t0 + 4 * DAY_MS;
    v.land("/cart", Some(&direct))?;
    v.wait(5 * MIN).order("o1", 100.0)?;
    v.wait(1000).stage_to("post_purchase")?;

    let qr = Touch::new("Offline", "flyer", "qr").campaign(EVIL_CAMPAIGN);
    let mut v = Visitor::new(w, "v2", t0 + DAY_MS);
    v.land("/", Some(&qr))?.wait(1000).stage_to("discovery")?;
    v.wait(MIN).stage_to("consideration")?;
    v.track(
        "Product Added",
        json!({"product_id": "SOCKS-3", "price": 50}),
    )?;
    v.wait(MIN).stage_to("purchase")?;
    v.pz_view("recs", "recs-cross", "actions")?;
    v.pz_click("recs", "recs-cross", "actions")?;
    v.wait(8 * MIN).order("o2", 50.0)?;
    v.wait(1000).stage_to("post_purchase")?;
    v.wait(1000).order("o2", 50.0)?;

    let os = Touch::new("Organic Search", "google", "organic");
    let psoc = Touch::new("Paid Social", "facebook", "paid_social")
        .campaign("trail-video")
        .paid();
    let mut v = Visitor::new(w, "v3", t0);
    v.land("/", Some(&os))?.wait(1000).stage_to("discovery")?;
    v.now = t0 + DAY_MS;
    v.land("/", Some(&psoc))?;
    v.pz_view("hero", "hero-runner", "runner")?;
    v.wait(MIN).stage_to("consideration")?;
    v.page("/")?.pz_view("hero", "hero-runner", "runner")?;
    v.track(
        "Product Added",
        json!({"product_id": "TRAIL-1", "price": 129}),
    )?;
    v.wait(MIN).stage_to("purchase")?;
    v.now = t0 + 3 * DAY_MS;
    v.page("/")?.stage_to("consideration")?;

    let mut v = Visitor::new(w, "v4", t0 + DAY_MS);
    v.land("/pro", Some(&direct))?
        .wait(1000)
        .stage_to("discovery")?;
    v.track("Quote Requested", json!({"quote_id": "q4"}))?;

    let referral = Touch::new("Referral", "runners.example", "referral");
    let mut v = Visitor::new(w, "v5", t0);
    v.land("/pro", Some(&referral))?
        .wait(1000)
        .stage_to("discovery")?;
    v.track("Quote Requested", json!({"quote_id": "q5"}))?;
    v.wait(2 * DAY_MS).identify("u5")?;
    v.track("Signed Up", json!({"plan": "pro"}))?;
    let mut v = Visitor::new(w, "v5-phone", t0 + 3 * DAY_MS);
    v.user = Some("u5".into());
    v.land("/", Some(&email))?;
    v.wait(2 * MIN).stage_to("purchase")?;
    v.wait(MIN).order("o3", 200.0)?;
    v.wait(1000).stage_to("post_purchase")?;

    let mut v = Visitor::new(w, "v6", t0 + 10 * DAY_MS);
    v.land("/", Some(&ps))?;
    v.pz_view(EVIL_SLOT, "evil-rule", "<b>bold</b>")?;
    Ok(())
}

/// Visitors exposed to experiments with known counts: `(experiment,
/// variation, in_holdout, visitors, of whom convert)`.
pub const EXPERIMENTS: &[(&str, &str, bool, u64, u64)] = &[
    ("hero-headline", "control", false, 1000, 100),
    ("hero-headline", "benefit", false, 1000, 120),
    ("hero-headline", "benefit", true, 100, 8),
    ("checkout-trust", "control", false, 1000, 50),
    ("checkout-trust", "badges", false, 1200, 60),
    ("free-shipping", "control", false, 1000, 40),
    ("free-shipping", "banner", false, 500, 30),
    ("free-shipping", "sticky", false, 500, 20),
];

/// One visitor per exposure of [`EXPERIMENTS`]: lands (Direct), sees the
/// experiment; the first `converting` of each group order an hour later.
pub fn experiments(w: &mut Writer) -> Result<(), String> {
    let t0 = t0();
    let direct = Touch::new("Direct", "(direct)", "(none)");
    let mut k = 0i64;
    for &(exp, variation, holdout, n, conv) in EXPERIMENTS {
        for i in 0..n {
            k += 1;
            let anon = format!("{exp}-{variation}-{holdout}-{i}");
            let mut v = Visitor::new(w, &anon, t0 + k * MIN);
            v.land("/", Some(&direct))?;
            v.exp_view(exp, variation, holdout)?;
            if i < conv {
                v.wait(HOUR).order(&format!("{anon}-order"), 80.0)?;
            }
        }
    }
    Ok(())
}

/// The config the experiments of [`experiments`] run with (`free-shipping`
/// weighs its variations 50/25/25).
pub fn experiments_config() -> Value {
    json!({
        "version": 1,
        "rules": [
            {"id": "hero-headline-rule", "slot": "hero", "variant": "benefit",
             "experiment": {"key": "hero-headline", "variants": ["control", "benefit"]}},
            {"id": "checkout-trust-rule", "slot": "trust", "variant": "badges",
             "experiment": {"key": "checkout-trust", "variants": ["control", "badges"]}},
            {"id": "free-shipping-rule", "slot": "banner", "variant": "banner",
             "experiment": {"key": "free-shipping", "variants": ["control", "banner", "sticky"],
                            "weights": [0.5, 0.25, 0.25]}}
        ]
    })
}

/// What a simulated shop looks like.
#[derive(Clone, Debug)]
pub struct Shop {
    /// Seed.
    pub seed: u64,
    /// Stop after about this many events.
    pub events: u64,
    /// The last day simulated (`YYYY-MM-DD`); the simulation covers the
    /// `days` before it.
    pub end: String,
    /// Days simulated.
    pub days: i64,
}

impl Default for Shop {
    fn default() -> Shop {
        Shop {
            seed: 7,
            events: 50_000,
            end: "2026-11-30".into(),
            days: 42,
        }
    }
}

/// The config the simulated shop runs its experiments with
/// (`free-shipping` weighs its variations 50/25/25, the holdout is 5%).
pub fn shop_config() -> Value {
    json!({
        "version": 1,
        "rules": [
            {"id": "hero-headline-rule", "slot": "hero", "variant": "benefit",
             "experiment": {"key": "hero-headline", "variants": ["control", "benefit"]}},
            {"id": "checkout-trust-rule", "slot": "trust", "variant": "badges",
             "experiment": {"key": "checkout-trust", "variants": ["control", "badges"],
                            "holdout": 0}},
            {"id": "free-shipping-rule", "slot": "banner", "variant": "banner",
             "experiment": {"key": "free-shipping", "variants": ["control", "banner", "sticky"],
                            "weights": [0.5, 0.25, 0.25], "holdout": 0}}
        ]
    })
}

/// The channels of the simulation: channel, source, medium, campaign (empty
/// for none), paid, weight for a first visit, weight for a return visit.
const CHANNELS: &[(&str, &str, &str, &str, bool, f64, f64)] = &[
    ("Organic Search", "google", "organic", "", false, 24.0, 10.0),
    (
        "Paid Search",
        "google",
        "cpc",
        "trail-season",
        true,
        14.0,
        6.0,
    ),
    ("Paid Search", "bing", "cpc", "brand", true, 3.0, 2.0),
    ("Direct", "(direct)", "(none)", "", false, 12.0, 30.0),
    (
        "Email",
        "newsletter",
        "email",
        "november-news",
        false,
        2.0,
        16.0,
    ),
    ("Email", "crm", "email", "cart-reminder", false, 0.0, 6.0),
    (
        "Organic Social",
        "instagram.com",
        "referral",
        "",
        false,
        9.0,
        4.0,
    ),
    (
        "Paid Social",
        "facebook",
        "paid_social",
        "trail-video",
        true,
        8.0,
        3.0,
    ),
    (
        "Referral",
        "runnersworld.example",
        "referral",
        "",
        false,
        5.0,
        2.0,
    ),
    (
        "Affiliates",
        "partnerco",
        "affiliate",
        "partner-q4",
        false,
        3.0,
        1.0,
    ),
    (
        "AI Assistant",
        "chatgpt.com",
        "referral",
        "",
        false,
        3.0,
        1.0,
    ),
    (
        "Offline",
        "race-flyer",
        "qr",
        "autumn-trail-race",
        false,
        4.0,
        2.0,
    ),
    (
        "Offline",
        "store-lyon",
        "store",
        "in-store-display",
        false,
        3.0,
        3.0,
    ),
    (
        "Offline",
        "winter-catalogue",
        "print",
        "winter-catalogue",
        false,
        2.0,
        2.0,
    ),
];

fn channels() -> Vec<(Touch, f64, f64)> {
    CHANNELS
        .iter()
        .map(|&(channel, source, medium, campaign, paid, first, back)| {
            let mut t = Touch::new(channel, source, medium);
            if !campaign.is_empty() {
                t = t.campaign(campaign);
            }
            t.paid = paid;
            (t, first, back)
        })
        .collect()
}

/// Simulates a shop until about `shop.events` events are written.
///
/// Each visitor comes back in sessions a few days apart through weighted
/// channels (offline ones included); their profile moves discovery →
/// consideration (product views) → purchase (a cart) → post-purchase (an
/// order) → loyalty (a second order), and back to consideration when a cart
/// is left. Personalization slots show per stage and are clicked now and
/// then (a click makes an add more likely); three experiments run, one with a
/// real effect (`hero-headline`: `benefit` converts better) and one losing a
/// share of one variation's exposures (`checkout-trust`: a sample ratio
/// mismatch). Some visitors are businesses that request quotes.
pub fn shop(w: &mut Writer, shop: &Shop) -> Result<(), String> {
    let end_day = super::range::parse_date(&shop.end)
        .ok_or_else(|| format!("end: {:?} is not a YYYY-MM-DD date", shop.end))?;
    let end = (end_day + 1) * DAY_MS;
    let start = end - shop.days * DAY_MS;
    let mut rng = Rng::new(shop.seed);
    let chans = channels();
    let first_w: Vec<f64> = chans.iter().map(|c| c.1).collect();
    let return_w: Vec<f64> = chans.iter().map(|c| c.2).collect();
    let products = [
        ("TRAIL-1", 129.0),
        ("TRAIL-PRO", 179.0),
        ("JACKET-2", 189.0),
        ("SOCKS-3", 29.0),
        ("BOTTLE-4", 19.0),
    ];
    let mut vid = 0u64;
    while w.count() < shop.events {
        vid += 1;
        let anon = rng.uuid();
        let first = start + (rng.unit() * (end - start) as f64) as i64;
        let b2b = rng.chance(0.06);
        let mut v = Visitor::new(w, &anon, first);
        let mut orders = 0;
        let mut cart = false;
        let mut quoted: Option<i64> = None;
        let mut returning = false;
        let bias = rng.unit();
        // Experiments: assignment by visitor, holdout 5%.
        let hero = if rng.chance(0.05) {
            ("benefit", true)
        } else if rng.chance(0.5) {
            ("control", false)
        } else {
            ("benefit", false)
        };
        let trust = if rng.chance(0.5) { "control" } else { "badges" };
        // The badges page loses a fifth of its exposure events.
        let trust_seen = trust == "control" || rng.chance(0.8);
        let ship = ["control", "banner", "sticky"][rng.pick(&[0.5, 0.25, 0.25])];
        let sessions = 1 + rng.pick(&[40.0, 25.0, 15.0, 10.0, 6.0, 4.0]);
        let mut seen_exp = false;
        for s in 0..sessions {
            if v.now >= end || w_count(&v) >= shop.events {
                break;
            }
            let ch = if s == 0 {
                rng.pick(&first_w)
            } else {
                rng.pick(&return_w)
            };
            let touch = chans[ch].0.clone();
            let path = if b2b { "/pro" } else { "/" };
            v.land(path, Some(&touch))?;
            if v.stage().is_none() {
                v.wait(rng.range(300, 2000)).stage_to("discovery")?;
            } else if returning && v.stage() == Some("post_purchase") {
                v.wait(rng.range(300, 2000)).stage_to("loyalty")?;
            }
            returning = true;
            // The hero slot on the home page.
            let (rule, variant) = match v.stage() {
                Some("post_purchase" | "loyalty") => ("hero-loyal", "loyal"),
                Some("purchase") => ("hero-shopper", "buyer"),
                _ if bias > 0.5 => ("hero-runner", "runner"),
                _ => ("hero-default", "default"),
            };
            let mut clicked = false;
            if rule != "hero-default" {
                v.wait(rng.range(200, 900)).pz_view("hero", rule, variant)?;
                if rng.chance(0.09) {
                    v.wait(rng.range(2_000, 20_000))
                        .pz_click("hero", rule, variant)?;
                    clicked = true;
                }
            }
            if !seen_exp {
                seen_exp = true;
                v.wait(100).exp_view("hero-headline", hero.0, hero.1)?;
                if trust_seen {
                    v.exp_view("checkout-trust", trust, false)?;
                }
                v.exp_view("free-shipping", ship, false)?;
            }
            let views = rng.range(1, 5);
            for _ in 0..views {
                let (p, price) = products[rng.pick(&[5.0, 2.0, 2.0, 3.0, 2.0])];
                v.wait(rng.range(5_000, 90_000)).page(&format!("/p/{p}"))?;
                v.track("Product Viewed", json!({"product_id": p, "price": price}))?;
                if rng.chance(0.3) {
                    v.wait(rng.range(5_000, 40_000)).track(
                        "Page Engaged",
                        json!({"active_time_ms": rng.range(2_000, 60_000), "scroll_depth_pct": rng.range(10, 100)}),
                    )?;
                }
            }
            if views >= 2 && v.stage() == Some("discovery") {
                v.wait(rng.range(500, 3000)).stage_to("consideration")?;
            }
            if b2b && quoted.is_none() && rng.chance(0.5) {
                v.wait(rng.range(20_000, 120_000))
                    .track("Quote Requested", json!({"quote_id": rng.uuid()}))?;
                quoted = Some(v.now);
                if v.stage() != Some("purchase") {
                    v.wait(1000).stage_to("purchase")?;
                }
            }
            let mut p_add = match v.stage() {
                Some("discovery") => 0.08,
                Some("consideration") => 0.3,
                Some("purchase") => 0.45,
                _ => 0.25,
            };
            if clicked {
                p_add += 0.2;
            }
            if rng.chance(p_add) {
                let (p, price) = products[rng.pick(&[5.0, 2.0, 2.0, 3.0, 2.0])];
                v.wait(rng.range(10_000, 60_000)).track(
                    "Product Added",
                    json!({"product_id": p, "price": price, "quantity": 1}),
                )?;
                cart = true;
                if matches!(v.stage(), Some("discovery" | "consideration")) {
                    v.wait(1000).stage_to("purchase")?;
                }
                if cart && rng.chance(0.35) {
                    v.wait(rng.range(3_000, 30_000))
                        .pz_view("recs", "recs-cross", "actions")?;
                    if rng.chance(0.12) {
                        v.wait(rng.range(2_000, 10_000)).pz_click(
                            "recs",
                            "recs-cross",
                            "actions",
                        )?;
                    }
                }
            }
            let mut p_order: f64 = if cart { 0.42 } else { 0.0 };
            if hero.0 == "benefit" && !hero.1 {
                p_order *= 1.15;
            }
            if ship != "control" {
                p_order *= 1.03;
            }
            if let Some(q) = quoted {
                if v.now - q < 7 * DAY_MS && rng.chance(0.4) {
                    p_order = p_order.max(0.8);
                }
            }
            if p_order > 0.0 && rng.chance(p_order) {
                v.wait(rng.range(20_000, 90_000))
                    .track("Checkout Started", json!({}))?;
                if v.stage() != Some("purchase") {
                    v.wait(1000).stage_to("purchase")?;
                }
                orders += 1;
                let revenue = 19.0 + (rng.range(0, 300) as f64);
                v.wait(rng.range(30_000, 240_000))
                    .order(&format!("{vid}-{orders}"), revenue)?;
                cart = false;
                quoted = None;
                let next = if orders >= 2 {
                    "loyalty"
                } else {
                    "post_purchase"
                };
                if v.stage() != Some(next) {
                    v.wait(1000).stage_to(next)?;
                }
                if orders == 1 && rng.chance(0.3) {
                    v.wait(5_000).identify(&format!("user-{vid}"))?;
                    v.track("Signed Up", json!({"plan": "member"}))?;
                }
            } else if cart && v.stage() == Some("purchase") && rng.chance(0.5) {
                // Left the cart: next session the profile cools down.
                v.wait(rng.range(60_000, 600_000)).page("/")?;
                v.stage_to("consideration")?;
            }
            // The next session: a few hours to a week later.
            let gap = (rng.unit().powi(2) * 7.0 * DAY_MS as f64) as i64 + 2 * HOUR;
            v.wait(gap);
        }
    }
    Ok(())
}

fn w_count(v: &Visitor<'_>) -> u64 {
    v.w.count()
}
