//! The visitor profile: journeys as data (`tests/fixtures/journeys/*.json`),
//! property tests of its invariants, config diagnostics, and the JSON Schema
//! of its snapshot.
//!
//! A journey is a script of touchpoints with relative times. The harness
//! builds each event exactly as the tracker will (Segment Spec plus
//! `context.sillage`: session id, index and start from
//! `touchpoint::session_on`, the landing's `touchpoint::classify`, topics),
//! drives the profile's timers like a shell would (the virtual clock stops
//! at every `poll_timeout()` on the way), and at each checkpoint compares
//! the snapshot with the expectations, validates it against
//! `www/sillage.profile.schema.json`, and reloads the profile from its
//! stored form (which must give the same snapshot) before going on.

use proptest::prelude::*;
use serde_json::{json, Value};
use sillage_core::profile::model::{parse_stages, StageModel};
use sillage_core::profile::settings::{parse_profile, ProfileConfig};
use sillage_core::profile::{push_age, push_points, Profile, MAX_STORAGE_BYTES};
use sillage_core::support::diag::Diagnostic;
use sillage_core::support::json::Json;
use sillage_core::track::journey_events as vocab;
use sillage_core::track::topics;
use sillage_core::track::touchpoint::{
    classify, session_on, ChannelConfig, Session, SESSION_TIMEOUT_MS,
};

/// 2026-03-02T09:00:00Z, a Monday.
const T0: f64 = 1_772_442_000_000.0;

fn to_json(v: &Value) -> Json {
    serde_json::from_value(v.clone()).unwrap()
}

fn to_value(v: &Json) -> Value {
    serde_json::to_value(v).unwrap()
}

/// `1d2h30m10s` in milliseconds.
fn duration(s: &str) -> f64 {
    let (mut total, mut n) = (0.0, String::new());
    for c in s.chars() {
        if c.is_ascii_digit() || c == '.' {
            n.push(c);
            continue;
        }
        let unit = match c {
            'd' => 86_400_000.0,
            'h' => 3_600_000.0,
            'm' => 60_000.0,
            's' => 1000.0,
            _ => panic!("bad duration {s}"),
        };
        total += n.parse::<f64>().unwrap() * unit;
        n.clear();
    }
    assert!(n.is_empty() || n == "0", "bad duration {s}");
    total
}

fn schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../www/sillage.profile.schema.json"
    ))
    .unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

fn assert_valid(schema: &jsonschema::Validator, snap: &Value, at: &str) {
    let errors: Vec<String> = schema
        .iter_errors(snap)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "{at}: snapshot breaks the schema: {errors:#?}\n{snap:#}"
    );
}

/// Builds the events of a journey like the tracker does.
struct Shell {
    host: String,
    channels: ChannelConfig,
    session: Option<Session>,
    ids: u32,
    page_url: String,
    page_path: String,
    now: f64,
}

impl Shell {
    fn new(host: &str) -> Shell {
        Shell {
            host: host.to_string(),
            channels: ChannelConfig::default(),
            session: None,
            ids: 0,
            page_url: String::new(),
            page_path: String::new(),
            now: T0,
        }
    }

    fn sillage(&mut self, touch: Option<&sillage_core::track::touchpoint::Touchpoint>) -> Value {
        self.ids += 1;
        let (s, start) = session_on(
            self.session.as_ref(),
            touch,
            self.now,
            SESSION_TIMEOUT_MS,
            format!("s{}", self.ids),
        );
        let mut ctx = json!({"sessionId": s.id, "sessionIndex": s.index});
        if let Some(start) = start {
            ctx["sessionStart"] = json!(start.as_str());
        }
        self.session = Some(s);
        ctx
    }

    fn page(&mut self, path: &str, referrer: Option<&str>, topics: &[&str]) -> Value {
        let url = format!("{}{}", self.host, path);
        let referrer = referrer
            .map(str::to_string)
            .unwrap_or_else(|| self.page_url.clone());
        let tp = classify(&url, &referrer, &self.channels);
        let mut ctx = self.sillage(Some(&tp));
        if !tp.internal {
            ctx["touchpoint"] = to_value(&tp.to_json());
        }
        ctx["topics"] = json!(topics::normalize(topics.iter().copied()));
        let bare = path.split(['?', '#']).next().unwrap().to_string();
        self.page_url = url.clone();
        self.page_path = bare.clone();
        json!({"type": "page", "properties": {"path": bare, "url": url},
               "context": {"page": {"path": bare, "url": url, "referrer": referrer}, "sillage": ctx}})
    }

    fn track(&mut self, event: &str, props: &Value, topics: Option<&[&str]>) -> Value {
        let mut ctx = self.sillage(None);
        let t = match topics {
            Some(t) => topics::normalize(t.iter().copied()),
            None => topics::from_properties(&to_json(props)),
        };
        if !t.is_empty() {
            ctx["topics"] = json!(t);
        }
        json!({"type": "track", "event": event, "properties": props,
               "context": {"page": {"path": self.page_path, "url": self.page_url, "referrer": ""}, "sillage": ctx}})
    }
}

fn parse_config(cfg: Option<&Value>) -> (StageModel, ProfileConfig) {
    let mut diags = Vec::new();
    let model = cfg
        .and_then(|c| c.get("stages"))
        .map_or_else(StageModel::default, |s| {
            parse_stages(&to_json(s), &mut diags)
        });
    let pc = cfg
        .and_then(|c| c.get("profile"))
        .map_or_else(ProfileConfig::default, |p| {
            parse_profile(&to_json(p), &mut diags)
        });
    assert_eq!(diags, Vec::<Diagnostic>::new(), "fixture config");
    (model, pc)
}

fn check_invariants(snap: &Value, at: &str) {
    let p = &snap["stageProbabilities"];
    let sum: f64 = [
        "discovery",
        "consideration",
        "purchase",
        "post_purchase",
        "loyalty",
    ]
    .iter()
    .map(|s| {
        let v = p[s].as_f64().unwrap();
        assert!(v.is_finite() && v >= 0.0, "{at}: {s} = {v}");
        v
    })
    .sum();
    assert!((sum - 1.0).abs() < 1e-9, "{at}: probabilities sum to {sum}");
}

/// Compares one checkpoint's expectations with the snapshot.
fn check_point(want: &Value, snap: &Value, changes: &[String], at: &str) {
    let fail = |what: &str| panic!("{at}: {what}\nsnapshot: {snap:#}\nchanges: {changes:?}");
    for (k, w) in want.as_object().unwrap() {
        match k.as_str() {
            "stage" | "sessions" | "pageviews" | "orders" | "topInterests" | "channels" => {
                if snap[k] != *w {
                    fail(&format!("{k}: want {w}, got {}", snap[k]));
                }
            }
            "probabilities" => {
                for (s, b) in w.as_object().unwrap() {
                    let v = snap["stageProbabilities"][s].as_f64().unwrap();
                    let (lo, hi) = (b[0].as_f64().unwrap(), b[1].as_f64().unwrap());
                    if !(lo..=hi).contains(&v) {
                        fail(&format!("{s} probability {v} not in [{lo}, {hi}]"));
                    }
                }
            }
            "signals" => {
                for (s, v) in w.as_object().unwrap() {
                    if snap["signals"][s]["value"] != *v {
                        fail(&format!("signal {s}: want {v}"));
                    }
                }
            }
            "interests" => {
                for (t, b) in w.as_object().unwrap() {
                    let v = snap["interests"][t].as_f64().unwrap_or(0.0);
                    let (lo, hi) = (b[0].as_f64().unwrap(), b[1].as_f64().unwrap());
                    if !(lo..=hi).contains(&v) {
                        fail(&format!("interest {t} = {v} not in [{lo}, {hi}]"));
                    }
                }
            }
            "reason" => {
                if snap["reasons"][0]["signal"] != *w {
                    fail(&format!("top reason: want {w}"));
                }
            }
            "reasonText" => {
                if snap["reasons"][0]["text"] != *w {
                    fail(&format!("top reason text: want {w}"));
                }
            }
            "reasonTexts" => {
                for t in w.as_array().unwrap() {
                    if !snap["reasons"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|r| r["text"] == *t)
                    {
                        fail(&format!("no reason {t}"));
                    }
                }
            }
            "firstTouch" | "lastTouch" => {
                if snap[k]["channel"] != *w {
                    fail(&format!("{k}: want channel {w}"));
                }
            }
            "cart" | "lastOrder" => {
                for (f, v) in w.as_object().unwrap() {
                    if snap[k][f] != *v {
                        fail(&format!("{k}.{f}: want {v}"));
                    }
                }
            }
            "changes" => {
                let want: Vec<String> = serde_json::from_value(w.clone()).unwrap();
                if want != changes {
                    fail(&format!("stage changes: want {want:?}"));
                }
            }
            other => panic!("{at}: unknown expectation {other}"),
        }
    }
}

/// With the built-in model, a visitor without an order is never post-purchase
/// or loyal, and no reason says so (issue 11: no "Thank you for your order"
/// for a visitor with 0 orders).
fn never_thanked_without_an_order(snap: &Value, at: &str) {
    if snap["orders"] != json!(0) {
        return;
    }
    let after = |s: &Value| s == "post_purchase" || s == "loyalty";
    assert!(
        !after(&snap["stage"]),
        "{at}: {} with 0 orders",
        snap["stage"]
    );
    for r in snap["reasons"].as_array().unwrap() {
        assert!(
            !after(&r["stage"]),
            "{at}: reason {} with 0 orders",
            r["text"]
        );
    }
}

/// Runs one journey file; returns how many checkpoints it passed.
fn run_journey(path: &std::path::Path, schema: &jsonschema::Validator) -> usize {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let (model, cfg) = parse_config(doc.get("config"));
    let mut shell = Shell::new(doc["host"].as_str().unwrap_or("https://shop.example"));
    let mut p = Profile::new(model.clone(), cfg.clone());
    let mut changes: Vec<String> = Vec::new();
    let mut checks = 0;
    let builtin = doc.get("config").and_then(|c| c.get("stages")).is_none();
    for (i, step) in doc["steps"].as_array().unwrap().iter().enumerate() {
        let at = format!("{name} step {i}");
        // Another visitor, from scratch, on another device.
        if step.get("newVisitor").is_some() {
            p = p.cleared();
            let now = shell.now;
            shell = Shell::new(&shell.host);
            shell.now = now;
            changes.clear();
            continue;
        }
        let target = shell.now + duration(step["after"].as_str().unwrap_or("0"));
        // The shell's one timer: run what falls due on the way.
        while let Some(due) = p.poll_timeout().filter(|d| *d <= target) {
            assert!(due >= shell.now - 1.0, "{at}: timeout in the past");
            p.handle_timeout(due);
        }
        shell.now = target;
        let topics: Vec<&str> = step["topics"]
            .as_array()
            .map(|a| a.iter().map(|t| t.as_str().unwrap()).collect())
            .unwrap_or_default();
        let event = if let Some(page) = step["page"].as_str() {
            Some(shell.page(page, step["referrer"].as_str(), &topics))
        } else if let Some(name) = step["track"].as_str() {
            let props = step.get("properties").cloned().unwrap_or(json!({}));
            let t = step.get("topics").map(|_| &topics[..]);
            Some(shell.track(name, &props, t))
        } else if let Some(e) = step.get("engaged") {
            let props = json!({"active_time_ms": e[0], "scroll_depth_pct": e[1],
                               "page_path": shell.page_path, "page_url": shell.page_url});
            Some(shell.track("Page Engaged", &props, Some(&[])))
        } else if let Some(x) = step.get("interest") {
            p.set_interest(x[0].as_str().unwrap(), x[1].as_f64().unwrap(), shell.now);
            None
        } else {
            None
        };
        if let Some(e) = event {
            p.apply(&to_json(&e), shell.now);
        } else if step.get("check").is_none() && step.get("interest").is_none() {
            p.handle_timeout(shell.now);
        }
        while let Some(c) = p.poll_change() {
            let from = c.from.map_or("none", |s| s.as_str());
            changes.push(format!("{from}->{}", c.to.as_str()));
            let props = to_value(&c.to_json());
            assert_eq!(props["to"], json!(c.to.as_str()));
        }
        if let Some(want) = step.get("check") {
            let snap = to_value(&p.snapshot(shell.now));
            check_invariants(&snap, &at);
            assert_valid(schema, &snap, &at);
            check_point(want, &snap, &changes, &at);
            if builtin {
                never_thanked_without_an_order(&snap, &at);
            }
            changes.clear();
            checks += 1;
            // Reload, as the next page load would.
            let stored = p.to_storage();
            let text = serde_json::to_string(&to_value(&stored)).unwrap();
            assert!(
                text.len() <= MAX_STORAGE_BYTES,
                "{at}: stored {} bytes",
                text.len()
            );
            let before = to_value(&p.snapshot(shell.now));
            let (q, diags) = Profile::from_storage(
                &serde_json::from_str(&text).unwrap(),
                model.clone(),
                cfg.clone(),
            );
            assert_eq!(diags, vec![], "{at}: reload");
            assert_eq!(
                to_value(&q.snapshot(shell.now)),
                before,
                "{at}: reload changed the snapshot"
            );
            assert_eq!(
                q.poll_timeout(),
                p.poll_timeout(),
                "{at}: reload changed the timers"
            );
            p = q;
        }
    }
    checks
}

#[test]
fn journeys() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/journeys");
    let schema = schema();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 12,
        "at least 12 journeys, found {}",
        files.len()
    );
    for f in &files {
        let checks = run_journey(f, &schema);
        assert!(checks >= 2, "{}: at least two checkpoints", f.display());
    }
}

#[test]
fn reason_text_formats_ages_and_points_without_fmt() {
    let ages: &[(f64, &str)] = &[
        (-5.0, "just now"),
        (59_999.0, "just now"),
        (60_000.0, "1 min ago"),
        (12.0 * 60_000.0, "12 min ago"),
        (59.9 * 60_000.0, "59 min ago"),
        (3_600_000.0, "1 h ago"),
        (47.9 * 3_600_000.0, "47 h ago"),
        (2.0 * 86_400_000.0, "2 days ago"),
        (400.0 * 86_400_000.0, "400 days ago"),
    ];
    for (ms, want) in ages {
        let mut s = String::new();
        push_age(&mut s, *ms);
        assert_eq!(s, *want, "{ms}");
    }
    let points: &[(f64, &str)] = &[
        (3.0, "+3.0"),
        (2.96, "+3.0"),
        (0.04, "+0.0"),
        (-1.25, "-1.3"),
        (-0.01, "+0.0"),
        (12.34, "+12.3"),
    ];
    for (v, want) in points {
        let mut s = String::new();
        push_points(&mut s, *v);
        assert_eq!(s, *want, "{v}");
    }
}

/// A small deterministic generator (xorshift64*), so one proptest seed
/// stands for a whole 10,000-event history.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
    fn word(&mut self, max: u64) -> String {
        let len = 1 + self.below(max);
        (0..len)
            .map(|_| (b'a' + self.below(26) as u8) as char)
            .collect()
    }
}

/// The vocabulary, the capture events, sharing, and one name of the site's own.
fn event_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = vocab::COMMERCE_EVENTS
        .iter()
        .chain(vocab::LEAD_EVENTS)
        .copied()
        .collect();
    names.extend([
        "Rage Click",
        "Outbound Link Clicked",
        "File Downloaded",
        "Product Shared",
        "Something Else",
    ]);
    names
}
const PATHS: &[&str] = &[
    "/",
    "/blog/a",
    "/guides/b",
    "/p/x",
    "/p/x/reviews",
    "/compare",
    "/pricing",
    "/cart",
    "/checkout",
    "/orders/1",
    "/help/returns",
    "/support",
    "/account",
    "/delivery",
];
const REFERRERS: &[&str] = &[
    "",
    "https://www.google.com/",
    "https://l.instagram.com/",
    "https://mail.google.com/",
    "https://chatgpt.com/",
    "https://news.example/article",
];

/// One random event (or a zero-party interest, or a timer) at a random time.
fn random_step(rng: &mut Rng, shell: &mut Shell, p: &mut Profile) {
    random_step_of(rng, shell, p, &event_names())
}

/// [`random_step`] with these track event names.
fn random_step_of(rng: &mut Rng, shell: &mut Shell, p: &mut Profile, names: &[&str]) {
    let r = rng.below(1000);
    // Time mostly moves forward by seconds to days; sometimes it jumps
    // back (a device clock corrected).
    let dt = match rng.below(20) {
        0 => -(rng.below(3_600_000) as f64),
        1 => rng.below(90 * 86_400_000) as f64,
        2..=5 => rng.below(3 * 86_400_000) as f64,
        _ => rng.below(600_000) as f64,
    };
    shell.now += dt;
    let topics: Vec<String> = (0..rng.below(4))
        .map(|_| format!("t{}", rng.below(150)))
        .collect();
    let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
    let ev = if r < 350 {
        let mut path = rng.pick(PATHS).to_string();
        if rng.below(10) == 0 {
            path.push_str(&"/long".repeat(rng.below(400) as usize));
        }
        if rng.below(5) == 0 {
            let c = rng.word(300);
            path.push_str(&format!(
                "?utm_source=s{}&utm_medium=email&utm_campaign={c}",
                rng.below(9)
            ));
        }
        let referrer = (rng.below(3) == 0).then(|| rng.pick(REFERRERS));
        shell.page(&path, referrer, &topics)
    } else if r < 500 {
        let props = json!({"active_time_ms": rng.below(2_000_000), "scroll_depth_pct": rng.below(150),
                           "page_path": shell.page_path});
        shell.track("Page Engaged", &props, None)
    } else if r < 980 {
        let id = if rng.below(4) == 0 {
            rng.word(200)
        } else {
            format!("p{}", rng.below(40))
        };
        let product = json!({"product_id": id, "name": rng.word(100), "category": rng.word(50),
                             "price": rng.below(100_000) as f64 / 100.0, "quantity": rng.below(5)});
        let mut props = product.clone();
        if rng.below(3) == 0 {
            props = json!({"products": (0..rng.below(30)).map(|_| product.clone()).collect::<Vec<_>>(),
                           "order_id": rng.word(120), "revenue": rng.below(1_000_000), "currency": "EUR"});
        }
        let name = if rng.below(30) == 0 {
            rng.word(200)
        } else {
            rng.pick(names).to_string()
        };
        shell.track(&name, &props, (!topics.is_empty()).then_some(&topics[..]))
    } else if r < 990 {
        let w = rng.below(1500) as f64 / 1000.0 - 0.2;
        p.set_interest(&format!("z{}", rng.below(80)), w, shell.now);
        return;
    } else {
        p.handle_timeout(shell.now);
        return;
    };
    p.apply(&to_json(&ev), shell.now);
}

fn assert_sane(p: &Profile, now: f64, at: &str) {
    let s = p.scores(now);
    let sum: f64 = s.probabilities.iter().sum();
    assert!((sum - 1.0).abs() < 1e-9, "{at}: sum {sum}");
    assert!(
        s.probabilities.iter().all(|x| x.is_finite() && *x >= 0.0),
        "{at}: {:?}",
        s.probabilities
    );
    assert!(
        (0.0..=1.0).contains(&s.confidence),
        "{at}: confidence {}",
        s.confidence
    );
    for r in p.reasons(now, s.stage, 64) {
        assert!(r.points.is_finite() && r.age_ms >= 0.0, "{at}: {r:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    /// 10,000 random events: probabilities sum to 1, scores stay finite
    /// and non-negative, the stored form stays within 16 KB, and a reload
    /// gives the same snapshot.
    #[test]
    fn ten_thousand_random_events_keep_the_invariants(seed in 1u64..u64::MAX) {
        let mut rng = Rng(seed);
        let mut shell = Shell::new("https://shop.example");
        let mut p = Profile::new(StageModel::default(), ProfileConfig::default());
        for i in 0..10_000 {
            random_step(&mut rng, &mut shell, &mut p);
            if i % 97 == 0 {
                assert_sane(&p, shell.now, &format!("event {i}"));
                let due = p.poll_timeout();
                prop_assert!(due.is_none_or(f64::is_finite));
            }
            if i % 2_500 == 0 {
                let text = serde_json::to_string(&to_value(&p.to_storage())).unwrap();
                prop_assert!(text.len() <= MAX_STORAGE_BYTES, "event {}: {} bytes", i, text.len());
            }
        }
        let stored = to_value(&p.to_storage());
        let text = serde_json::to_string(&stored).unwrap();
        prop_assert!(text.len() <= MAX_STORAGE_BYTES, "{} bytes", text.len());
        let snap = to_value(&p.snapshot(shell.now));
        check_invariants(&snap, "end");
        assert_valid(&schema(), &snap, "end");
        let (q, diags) = Profile::from_storage(&to_json(&stored), StageModel::default(), ProfileConfig::default());
        prop_assert!(diags.is_empty(), "{:?}", diags);
        prop_assert_eq!(to_value(&q.snapshot(shell.now)), snap);
    }

    /// 2,000 random events without an order (sign-ups, newsletters,
    /// reviews, shares, refunds, support, account pages included): never
    /// post-purchase or loyalty, and no reason for either (issue 11).
    #[test]
    fn without_an_order_no_stage_or_reason_says_the_visitor_bought(seed in 1u64..u64::MAX) {
        let mut rng = Rng(seed);
        let mut shell = Shell::new("https://shop.example");
        let mut p = Profile::new(StageModel::default(), ProfileConfig::default());
        let names: Vec<&str> = event_names().into_iter().filter(|n| *n != "Order Completed").collect();
        for i in 0..2_000 {
            random_step_of(&mut rng, &mut shell, &mut p, &names);
            if i % 7 == 0 {
                let snap = to_value(&p.snapshot(shell.now));
                never_thanked_without_an_order(&snap, &format!("event {i}"));
            }
        }
    }

    /// Whatever is in storage, reading it never panics and gives a profile
    /// that works.
    #[test]
    fn from_storage_never_panics(doc in arb_json(), seed in 1u64..u64::MAX) {
        let (mut p, _) = Profile::from_storage(&to_json(&doc), StageModel::default(), ProfileConfig::default());
        exercise(&mut p, seed);
    }

    /// A real stored profile with one part replaced by anything: that part
    /// is reset with a diagnostic naming it, the rest is kept.
    #[test]
    fn a_corrupt_part_is_reset_on_its_own(part in 0usize..64, junk in arb_json(), seed in 1u64..u64::MAX) {
        let (stored, model, cfg) = sample_stored();
        let mut doc = stored.clone();
        let keys: Vec<String> = doc.as_object().unwrap().keys().filter(|k| *k != "v").cloned().collect();
        let key = keys[part % keys.len()].clone();
        doc[&key] = junk;
        let (mut p, diags) = Profile::from_storage(&to_json(&doc), model, cfg);
        for d in &diags {
            prop_assert_eq!(&d.path, &format!("profile.{key}"));
            prop_assert_eq!(d.message(), "unreadable, reset");
        }
        exercise(&mut p, seed);
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1e300f64..1e300).prop_map(|n| json!(n)),
        "[a-z]{0,8}".prop_map(Value::String),
        Just(json!("discovery")),
        Just(json!(1)),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        "[a-z]{1,6}",
                        Just("v".to_string()),
                        Just("cart".to_string()),
                        Just("signals".to_string()),
                        Just("productViewed".to_string()),
                        Just("interests".to_string()),
                        Just("recent".to_string()),
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// A stored profile from a short busy history, with its model and config.
fn sample_stored() -> (Value, StageModel, ProfileConfig) {
    let mut rng = Rng(42);
    let mut shell = Shell::new("https://shop.example");
    let mut p = Profile::new(StageModel::default(), ProfileConfig::default());
    for _ in 0..300 {
        random_step(&mut rng, &mut shell, &mut p);
    }
    (
        to_value(&p.to_storage()),
        StageModel::default(),
        ProfileConfig::default(),
    )
}

/// Drives a (possibly restored) profile a little and checks it still holds.
fn exercise(p: &mut Profile, seed: u64) {
    let mut rng = Rng(seed);
    let mut shell = Shell::new("https://shop.example");
    for i in 0..30 {
        random_step(&mut rng, &mut shell, p);
        assert_sane(p, shell.now, &format!("step {i}"));
    }
    let snap = to_value(&p.snapshot(shell.now));
    check_invariants(&snap, "restored");
    let text = serde_json::to_string(&to_value(&p.to_storage())).unwrap();
    assert!(text.len() <= MAX_STORAGE_BYTES);
}

/// Runs `parse_stages` and `parse_profile` on `doc` and compares the
/// rendered diagnostics.
fn check_config(doc: Value, want: &[&str]) -> (StageModel, ProfileConfig) {
    let mut diags = Vec::new();
    let model = doc.get("stages").map_or_else(StageModel::default, |s| {
        parse_stages(&to_json(s), &mut diags)
    });
    let cfg = doc.get("profile").map_or_else(ProfileConfig::default, |p| {
        parse_profile(&to_json(p), &mut diags)
    });
    let got: Vec<String> = diags.iter().map(Diagnostic::render).collect();
    assert_eq!(got, want, "{doc}");
    (model, cfg)
}

#[test]
fn stage_config_diagnostics_name_their_json_path() {
    let table: &[(Value, &[&str])] = &[
        (json!({"stages": []}), &["stages: must be an object, not array"]),
        (
            json!({"stages": {"usedefaults": false, "prior": {"considration": 2, "loyalty": -1}}}),
            &[
                "stages.usedefaults: unknown key \"usedefaults\" (did you mean \"useDefaults\"?)",
                "stages.prior.considration: unknown stage \"considration\" (did you mean \"consideration\"?)",
                "stages.prior.loyalty: must be a number from 0 to 100, not -1",
            ],
        ),
        (json!({"stages": {"useDefaults": "no"}}), &["stages.useDefaults: must be true or false, not string"]),
        (json!({"stages": {"signals": {}}}), &["stages.signals: must be an array, not object"]),
        (
            json!({"stages": {"signals": ["x", {"stage": "purchase"}, {"id": ""}]}}),
            &[
                "stages.signals[0]: must be an object, not string",
                "stages.signals[1].id: missing",
                "stages.signals[2].id: must be a non-empty string, not string",
            ],
        ),
        (
            json!({"stages": {"signals": [{"id": "x", "stage": "buying", "points": "3", "when": {"event": "Demo"}}]}}),
            &[
                "stages.signals[0].stage: unknown stage \"buying\"",
                "stages.signals[0].points: must be a number from -100 to 100, not string",
            ],
        ),
        (
            json!({"stages": {"signals": [{"id": "x", "stage": "purchase", "points": 3}]}}),
            &["stages.signals[0].when: missing"],
        ),
        (
            json!({"stages": {"signals": [{"id": "x", "stage": "purchase", "points": 3, "when": {}, "halfLifeDay": 3}]}}),
            &[
                "stages.signals[0].halfLifeDay: unknown key \"halfLifeDay\" (did you mean \"halfLifeDays\"?)",
                "stages.signals[0].when: needs at least one condition",
            ],
        ),
        (
            json!({"stages": {"signals": [{"id": "x", "stage": "purchase", "points": 3, "when": {"evnt": "A", "intent": "cartAbandon"}}]}}),
            &[
                "stages.signals[0].when.evnt: unknown key \"evnt\" (did you mean \"event\"?)",
                "stages.signals[0].when.intent: unknown intent \"cartAbandon\" (did you mean \"cartAbandoned\"?)",
            ],
        ),
        (
            json!({"stages": {"signals": [{"id": "x", "stage": "purchase", "points": 3, "when": {"intent": "highIntent", "page": "/x"}}]}}),
            &["stages.signals[0].when: intent cannot be combined with event, page, topic, channel, firstVisit or returnWithinDays"],
        ),
        (
            json!({"stages": {"signals": [{"id": "x", "stage": "purchase", "points": 3,
                   "when": {"page": ["/ok", "pricing"], "channel": "Emial"}}]}}),
            &[
                "stages.signals[0].when.page[1]: must be a path pattern starting with / or *",
                "stages.signals[0].when.channel: unknown channel \"Emial\" (did you mean \"Email\"?)",
            ],
        ),
        (
            json!({"stages": {"signals": [{"id": "x", "stage": "purchase", "points": 3,
                   "when": {"event": "Cart Viewd", "sinceEvent": {"event": "Order Completed", "withinDay": 3}}}]}}),
            &[
                "stages.signals[0].when.event: \"Cart Viewd\" is not in the journey vocabulary (did you mean \"Cart Viewed\"?)",
                "stages.signals[0].when.sinceEvent.withinDay: unknown key \"withinDay\" (did you mean \"withinDays\"?)",
            ],
        ),
        (
            json!({"stages": {"signals": [{"id": "x", "stage": "purchase", "points": 3, "when": {"sinceEvent": "Order Completed"}}]}}),
            &["stages.signals[0].when.sinceEvent: must be an object {event, withinDays}, not string"],
        ),
        (
            json!({"stages": {"signals": [{"id": "x", "stage": "purchase", "points": 3, "when": {"event": []},
                   "minCount": 11, "countWithinDays": 0, "halfLifeDays": 0}]}}),
            &[
                "stages.signals[0].when.event: must be a string or a non-empty array of strings, not array",
                "stages.signals[0].halfLifeDays: must be a number above 0 and at most 3650, not 0",
                "stages.signals[0].minCount: must be a number from 1 to 10, not 11",
                "stages.signals[0].countWithinDays: must be a number above 0 and at most 3650, not 0",
            ],
        ),
        (
            json!({"stages": {"signals": [{"id": "cartViewed", "clears": ["purchase", "buy"]}]}}),
            &["stages.signals[0].clears[1]: unknown stage \"buy\""],
        ),
        (
            json!({"stages": {"signals": [{"id": "cartViewed", "holdDays": 0}, {"id": "x", "stage": "purchase", "points": 1,
                   "when": {"event": "Demo Booked"}, "holdDay": 3, "holdDays": "7"}]}}),
            &[
                "stages.signals[0].holdDays: must be a number above 0 and at most 3650, not 0",
                "stages.signals[1].holdDay: unknown key \"holdDay\" (did you mean \"holdDays\"?)",
                "stages.signals[1].holdDays: must be a number above 0 and at most 3650, not string",
            ],
        ),
    ];
    for (doc, want) in table {
        check_config(doc.clone(), want);
    }
}

#[test]
fn profile_config_diagnostics_name_their_json_path() {
    let table: &[(Value, &[&str])] = &[
        (json!({"profile": 3}), &["profile: must be an object, not number"]),
        (
            json!({"profile": {"interest": {}, "recentMax": 5000, "stageMargin": "x"}}),
            &[
                "profile.interest: unknown key \"interest\" (did you mean \"interests\"?)",
                "profile.recentMax: must be a number from 0 to 1000, not 5000",
                "profile.stageMargin: must be a number from 0 to 1, not string",
            ],
        ),
        (
            json!({"profile": {"interests": {"halflifeDays": 3, "max": 0, "topK": 5}}}),
            &[
                "profile.interests.halflifeDays: unknown key \"halflifeDays\" (did you mean \"halfLifeDays\"?)",
                "profile.interests.max: must be a number from 1 to 256, not 0",
            ],
        ),
        (
            json!({"profile": {"intents": {"cartAbandon": {}, "lapsed": {"day": 90}, "frustrated": {"supportPages": ["help"], "rageClicks": 0}, "highIntent": 0.5}}}),
            &[
                "profile.intents.cartAbandon: unknown intent \"cartAbandon\" (did you mean \"cartAbandoned\"?)",
                "profile.intents.frustrated.rageClicks: must be a number from 1 to 100, not 0",
                "profile.intents.frustrated.supportPages[0]: must be a path pattern starting with / or *",
                "profile.intents.highIntent: must be an object, not number",
                "profile.intents.lapsed.day: unknown key \"day\" (did you mean \"days\"?)",
            ],
        ),
        (json!({"profile": {"intents": []}}), &["profile.intents: must be an object, not array"]),
    ];
    for (doc, want) in table {
        check_config(doc.clone(), want);
    }
}

#[test]
fn site_signals_replace_defaults_by_id_and_keep_what_they_leave_out() {
    let (model, cfg) = check_config(
        json!({
            "stages": {"prior": {"loyalty": 2},
                       "signals": [{"id": "cartViewed", "points": 6, "label": "Basket seen"},
                                   {"id": "signedUp", "holdDays": 30},
                                   {"id": "demo", "stage": "purchase", "points": 8, "when": {"event": ["Demo Booked", "Demo Requested"]}, "minCount": 2, "holdDays": 10}]},
            "profile": {"interests": {"halfLifeDays": 30, "max": 8, "topK": 3}, "recentMax": 20,
                        "postPurchaseDays": 45, "stageMargin": 0,
                        "intents": {"cartAbandoned": {"minutes": 10}, "quoteNotConverted": {"days": 3},
                                    "returning": {"sessions": 3}, "repeatBuyer": {"orders": 3},
                                    "frustrated": {"rageClicks": 1, "searches": 5, "supportSeconds": 30, "supportPages": ["/aide*"]},
                                    "highIntent": {"probability": 0.6}, "lapsed": {"days": 120}}}
        }),
        &[],
    );
    let defaults = StageModel::default();
    assert_eq!(model.signals.len(), defaults.signals.len() + 1);
    assert_eq!(model.prior[4], 2.0);
    let cart = model.signals.iter().find(|s| s.id == "cartViewed").unwrap();
    let was = defaults
        .signals
        .iter()
        .find(|s| s.id == "cartViewed")
        .unwrap();
    assert_eq!((cart.points, cart.label.as_str()), (6.0, "Basket seen"));
    assert_eq!(
        (
            cart.stage,
            &cart.when,
            cart.half_life_days,
            &cart.clears,
            cart.hold_days
        ),
        (
            was.stage,
            &was.when,
            was.half_life_days,
            &was.clears,
            Some(7.0)
        )
    );
    let signed = model.signals.iter().find(|s| s.id == "signedUp").unwrap();
    assert_eq!((signed.hold_days, signed.points), (Some(30.0), 4.0));
    let demo = model.signals.last().unwrap();
    assert_eq!(
        (
            demo.id.as_str(),
            demo.min_count,
            demo.half_life_days,
            demo.hold_days
        ),
        ("demo", 2, 30.0, Some(10.0))
    );
    assert_eq!(demo.when.event, ["Demo Booked", "Demo Requested"]);
    let i = &cfg.intents;
    assert_eq!(
        (
            cfg.interest_half_life_days,
            cfg.max_interests,
            cfg.top_k,
            cfg.recent_max,
            cfg.post_purchase_days,
            cfg.stage_margin
        ),
        (30.0, 8, 3, 20, 45.0, 0.0)
    );
    assert_eq!(
        (
            i.cart_minutes,
            i.quote_days,
            i.returning_sessions,
            i.repeat_orders,
            i.rage_clicks,
            i.searches,
            i.support_seconds,
            i.high_intent,
            i.lapsed_days
        ),
        (10.0, 3.0, 3, 3, 1, 5, 30.0, 0.6, 120.0)
    );
    assert_eq!(i.support_pages, ["/aide*"]);
    let (model, _) = check_config(
        json!({"stages": {"useDefaults": false, "signals": [{"id": "only", "stage": "loyalty", "points": 1, "when": {"topic": "Trail"}}]}}),
        &[],
    );
    assert_eq!(model.signals.len(), 1);
    assert_eq!(model.signals[0].when.topic, ["trail"]);
}

/// A row of the built-in model: (id, stage, points, half-life days, clears,
/// hold days).
type ModelRow = (String, String, f64, f64, Vec<String>, Option<f64>);

/// The rows of docs/profile.md's "The built-in model" table.
fn documented_model() -> Vec<ModelRow> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/profile.md"))
        .unwrap();
    let section = doc
        .split("### The built-in model\n")
        .nth(1)
        .expect("docs/profile.md has a \"The built-in model\" section");
    let section = section.split("\n### ").next().unwrap();
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            // "", signal, stage, points, half-life, fires on, clears, holds, ""
            assert_eq!(cells.len(), 9, "docs/profile.md row {l}");
            let num = |c: &str| c.parse::<f64>().unwrap_or_else(|_| panic!("{c} in {l}"));
            (
                cells[1].trim_matches('`').to_string(),
                cells[2].to_string(),
                num(cells[3]),
                num(cells[4]),
                cells[6]
                    .split(", ")
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect(),
                (!cells[7].is_empty()).then(|| num(cells[7])),
            )
        })
        .collect()
}

#[test]
fn the_default_model_is_the_documented_table() {
    let want = documented_model();
    assert!(
        want.len() >= 30,
        "{} rows read from docs/profile.md",
        want.len()
    );
    let got: Vec<_> = StageModel::default()
        .signals
        .iter()
        .map(|s| {
            (
                s.id.clone(),
                s.stage.as_str().to_string(),
                s.points,
                s.half_life_days,
                s.clears
                    .iter()
                    .map(|c| c.as_str().to_string())
                    .collect::<Vec<_>>(),
                s.hold_days,
            )
        })
        .collect();
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w, "DEFAULTS and docs/profile.md differ");
    }
    assert_eq!(got.len(), want.len(), "DEFAULTS and docs/profile.md differ");
    // Every `when` in the table parsed into at least one condition.
    for s in StageModel::default().signals {
        let w = &s.when;
        let any = !w.event.is_empty()
            || !w.page.is_empty()
            || !w.channel.is_empty()
            || w.first_visit
            || w.return_within_days.is_some()
            || w.intent.is_some();
        assert!(any, "{}", s.id);
    }
}

#[test]
fn storage_is_bounded_by_dropping_recent_touchpoints_then_interests() {
    let long = |i: usize| format!("/{}/{i}", "x".repeat(70));
    // A long history of long paths and many long topics: the ring buffer
    // gives way, the interests stay.
    // 400 page views, each with a 76-char path and ten 32-char topics out
    // of 64.
    let fill = |p: &mut Profile| {
        let mut shell = Shell::new("https://shop.example");
        for i in 0..400 {
            shell.now += 60_000.0;
            let topics: Vec<String> = (0..10)
                .map(|j| format!("{:0>32}", (i * 10 + j) % 64))
                .collect();
            let t: Vec<&str> = topics.iter().map(String::as_str).collect();
            p.apply(&to_json(&shell.page(&long(i), None, &t)), shell.now);
        }
        shell.now
    };
    let mut p = Profile::new(StageModel::default(), ProfileConfig::default());
    let now = fill(&mut p);
    let before = to_value(&p.snapshot(now));
    assert_eq!(before["recent"].as_array().unwrap().len(), 200);
    assert_eq!(before["interests"].as_object().unwrap().len(), 64);
    let text = serde_json::to_string(&to_value(&p.to_storage())).unwrap();
    let after = to_value(&p.snapshot(now));
    let kept = after["recent"].as_array().unwrap().len();
    assert!(text.len() <= MAX_STORAGE_BYTES, "{} bytes", text.len());
    assert!(
        text.len() > MAX_STORAGE_BYTES - 200,
        "no more dropped than needed: {} bytes",
        text.len()
    );
    assert!((1..200).contains(&kept), "kept {kept}");
    assert_eq!(
        after["recent"][kept - 1],
        before["recent"][199],
        "the newest are kept"
    );
    assert_eq!(after["interests"].as_object().unwrap().len(), 64);

    // A site model with 64 signals that each keep 10 match times: even an
    // empty ring buffer is not enough, so the weakest interests go next.
    let mut signals = Vec::new();
    for i in 0..64 {
        signals.push(json!({"id": format!("{:x>36}{i:02}", ""), "stage": "consideration", "points": 1,
                            "when": {"page": "/*"}, "minCount": 10, "countWithinDays": 3650, "halfLifeDays": 3650}));
    }
    let (model, cfg) = check_config(
        json!({"stages": {"useDefaults": false, "signals": signals}}),
        &[],
    );
    let mut p = Profile::new(model.clone(), cfg.clone());
    let now = fill(&mut p);
    let stored = to_value(&p.to_storage());
    let text = serde_json::to_string(&stored).unwrap();
    let after = to_value(&p.snapshot(now));
    assert!(text.len() <= MAX_STORAGE_BYTES, "{} bytes", text.len());
    assert_eq!(after["recent"].as_array().unwrap().len(), 0);
    let n = after["interests"].as_object().unwrap().len();
    assert!((1..64).contains(&n), "kept {n} interests");
    let (q, diags) = Profile::from_storage(&to_json(&stored), model, cfg);
    assert!(diags.is_empty());
    assert_eq!(to_value(&q.snapshot(now)), after);
}

#[test]
fn unreadable_storage_starts_afresh_with_a_warning() {
    let (stored, model, cfg) = sample_stored();
    let table: &[(Value, &[&str])] = &[
        (
            json!("garbage"),
            &["profile: not a stored profile (no version), starting afresh"],
        ),
        (
            json!({"seen": [1, 2]}),
            &["profile: not a stored profile (no version), starting afresh"],
        ),
        (
            json!({"v": 1.5}),
            &["profile: not a stored profile (no version), starting afresh"],
        ),
        (
            json!({"v": 7}),
            &["profile.v: version 7 is newer than this SDK reads (1), starting afresh"],
        ),
    ];
    for (doc, want) in table {
        let (p, diags) = Profile::from_storage(&to_json(doc), model.clone(), cfg.clone());
        let got: Vec<String> = diags.iter().map(Diagnostic::render).collect();
        assert_eq!(got, *want);
        assert_eq!(p, Profile::new(model.clone(), cfg.clone()));
    }
    // Parts are independent: a broken cart and broken interests are reset,
    // the sessions and signals survive.
    let mut doc = stored.clone();
    doc["cart"] = json!({"products": [{"id": 5}]});
    doc["interests"] = json!([["ok", 1, 2, null], "not an entry"]);
    doc["orders"] = json!(-3);
    let (p, diags) = Profile::from_storage(&to_json(&doc), model.clone(), cfg.clone());
    let got: Vec<String> = diags.iter().map(Diagnostic::render).collect();
    assert_eq!(
        got,
        [
            "profile.orders: unreadable, reset",
            "profile.interests: unreadable, reset",
            "profile.cart: unreadable, reset"
        ]
    );
    let (whole, _) = Profile::from_storage(&to_json(&stored), model, cfg);
    let (a, b) = (to_value(&p.snapshot(T0)), to_value(&whole.snapshot(T0)));
    assert_eq!(a["sessions"], b["sessions"]);
    assert_eq!(a["stageProbabilities"], b["stageProbabilities"]);
    assert_eq!(a["interests"], json!({}));
    assert_eq!(a["orders"], json!(0));
}
