//! The benchmark workloads, shared by the native examples
//! (`examples/bench_conditions.rs`, `examples/bench_rules.rs`) and the
//! browser benchmark (`tests/wasm_bench.rs`), so both measure exactly the
//! same work. Generic over the JavaScript host (native or the browser's) and
//! the clock (`Instant` or `performance.now()`), in milliseconds.
#![allow(clippy::disallowed_macros, clippy::disallowed_methods)]
#![allow(dead_code)]

use serde_json::json;
use sillage_core::config;
use sillage_core::decide::attributes::{build, Inputs, LocalTime, SessionInfo};
use sillage_core::decide::condition::{Condition, JsHost};
use sillage_core::decide::rules::{decide, Assignments, Ctx, Preview};
use sillage_core::support::json::Json;
use std::hint::black_box;

pub const CONDITIONS: &[&str] = &[
    r#"{"country": {"$in": ["FR", "BE", "CH", "LU"]}}"#,
    r#"{"interests.running": {"$gt": 3}, "stage": "consideration"}"#,
    r#"{"appVersion": {"$vgte": "2.4.0"}, "device": {"$ne": "tv"}}"#,
    r#"{"$or": [{"stage": "purchase"}, {"cart.items": {"$size": {"$gt": 0}}}]}"#,
    r#"{"userAgent": {"$regex": "(Mobile|Tablet)"}}"#,
    r#"{"tags": {"$elemMatch": {"$eq": "newsletter"}}, "visits": {"$gte": 2}}"#,
    r#"{"id": {"$inGroup": "beta"}, "email": {"$exists": true}}"#,
    r#"{"$and": [{"age": {"$gte": 18}}, {"age": {"$lt": 65}}], "$not": {"country": "US"}}"#,
];

pub const ATTRIBUTES: &[&str] = &[
    r#"{"id": "u123", "country": "FR", "stage": "consideration", "age": 34,
        "interests": {"running": 5, "cooking": 1}, "appVersion": "2.10.1", "device": "phone",
        "userAgent": "Mozilla/5.0 (Linux; Android 14) Mobile Safari", "tags": ["newsletter", "vip"],
        "visits": 7, "cart": {"items": [1, 2]}, "email": "a@b.c"}"#,
    r#"{"id": "u9", "country": "US", "stage": "discovery", "age": 17,
        "interests": {"running": 0}, "appVersion": "1.9.0", "device": "desktop",
        "userAgent": "Mozilla/5.0 (Windows NT 10.0) Chrome/130", "tags": [], "visits": 1}"#,
];

/// Evaluations per millisecond of [`CONDITIONS`] against [`ATTRIBUTES`],
/// over `rounds` rounds; also the number that were true.
pub fn conditions_per_ms(host: &dyn JsHost, rounds: usize, clock: &dyn Fn() -> f64) -> (f64, u64) {
    let groups: Json = serde_json::from_str(r#"{"beta": ["u1", "u123", "u77"]}"#).unwrap();
    let conditions: Vec<Condition> = CONDITIONS
        .iter()
        .map(|c| Condition::parse(&serde_json::from_str(c).unwrap(), host).0)
        .collect();
    let attributes: Vec<Json> = ATTRIBUTES
        .iter()
        .map(|a| serde_json::from_str(a).unwrap())
        .collect();
    let mut hits = 0u64;
    let start = clock();
    for _ in 0..rounds {
        for a in &attributes {
            for c in &conditions {
                hits += u64::from(black_box(c).eval(black_box(a), &groups, host));
            }
        }
    }
    let ms = clock() - start;
    let evals = (rounds * attributes.len() * conditions.len()) as f64;
    (evals / ms, hits)
}

pub fn condition(i: usize) -> serde_json::Value {
    let t = i as f64 / 200.0;
    match i % 8 {
        0 => json!({"interests.running": {"$gt": 0.95 + t / 100.0}, "stage": "purchase"}),
        1 => {
            json!({"audiences": {"$elemMatch": {"$eq": format!("aud{}", i % 10)}}, "device": "tablet"})
        }
        2 => json!({"cart.value": {"$gte": 500 + i}, "cart.items": {"$gt": 0}}),
        3 => {
            json!({"$or": [{"stage": "loyalty"}, {"signals.vip": true}], "visitor.visits": {"$gt": 50}})
        }
        4 => json!({"page.path": {"$regex": format!("^/collection-{i}/")}}),
        5 => json!({"topInterests": {"$all": ["golf", "tennis"]}, "time.hour": {"$lt": 6}}),
        6 => {
            json!({"campaign.name": {"$in": [format!("spring-{i}"), "summer"]}, "channel": "Email"})
        }
        _ => {
            json!({"$and": [{"session.pageviews": {"$gte": 30}}, {"consent.personalization": true}], "$not": {"device": "mobile"}})
        }
    }
}

/// A 200-rule config: 20 slots of 10 rules, 10 audiences, 10 experiments.
pub fn config() -> Json {
    let audiences: serde_json::Map<String, serde_json::Value> = (0..10)
        .map(|i| {
            let cond = if i == 0 {
                json!({"interests.running": {"$gte": 0.5}})
            } else {
                json!({"audiences": {"$in": [format!("aud{}", i - 1)]}, "stageProbability.purchase": {"$gt": i as f64 / 20.0}})
            };
            (format!("aud{i}"), cond)
        })
        .collect();
    let rules: Vec<serde_json::Value> = (0..200)
        .map(|i| {
            let mut r = json!({
                "id": format!("rule-{i}"),
                "slot": format!("slot-{}", i % 20),
                "priority": (i % 7) as f64,
                "when": condition(i),
            });
            if i % 20 == 3 {
                r["actions"] = json!([{"type": "setText", "selector": "h2", "text": "Hello"}, {"type": "addClass", "class": "hot"}]);
                r["experiment"] = json!({"key": format!("exp-{i}"), "variants": ["control", "treatment"]});
                r["when"] = json!({"device": "mobile", "consent.personalization": true});
            } else {
                r["variant"] = json!(format!("v{i}"));
            }
            r
        })
        .collect();
    serde_json::from_value(json!({"version": 1, "audiences": audiences, "rules": rules})).unwrap()
}

/// p50, p95 and p99 (in microseconds) of one decision for the 200-rule
/// config: `attributes::build` + `decide`, and `decide` alone; and how many
/// of the 20 slots were personalized.
pub fn decisions(
    host: &dyn JsHost,
    rounds: usize,
    clock: &dyn Fn() -> f64,
) -> ([f64; 3], [f64; 3], usize) {
    let (cfg, diags) = config::parse(&config(), host);
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(cfg.rules.rules.len(), 200);
    let profile: Json = serde_json::from_value(json!({
        "stage": "consideration",
        "stageProbabilities": {"discovery": 0.1, "consideration": 0.6, "purchase": 0.2, "post_purchase": 0.05, "loyalty": 0.05},
        "interests": {"running": 0.8, "trail": 0.5, "yoga": 0.1},
        "topInterests": ["running", "trail", "yoga"],
        "signals": {"vip": {"value": false, "at": 1}},
        "sessions": 4, "firstSeen": 1.7e12,
        "cart": {"items": 2, "value": 140, "categories": ["shoes"]}
    }))
    .unwrap();
    let consent: Json = serde_json::from_value(json!({"personalization": true})).unwrap();
    let custom = Json::obj().with("plan", "pro");
    let profile = sillage_core::profile::view::ProfileView::from_snapshot(&profile);
    let inputs = Inputs {
        profile: &profile,
        session: Some(SessionInfo {
            index: 4,
            pageviews: 3,
            started: 0.0,
            channel: Some("Organic Search"),
            campaign: None,
        }),
        page_url: "https://shop.example/running/shoes?color=red",
        referrer: "https://www.google.com/",
        device: "mobile",
        time: Some(LocalTime {
            hour: 19,
            weekday: 2,
            date: "2026-03-10",
        }),
        consent: &consent,
        custom: &custom,
        stage: None,
        now: 60_000.0,
    };
    let store = Assignments::new();
    let preview = Preview::default();
    let ctx = Ctx {
        anonymous_id: "3f2a9c1e-visitor",
        assignments: &store,
        preview: &preview,
        host,
        now: 60_000.0,
    };
    let (mut full, mut only) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    let mut shown = 0usize;
    for _ in 0..rounds {
        let t0 = clock();
        let attrs = build(
            black_box(&inputs),
            &cfg.rules.audiences,
            host,
            &mut Vec::new(),
        );
        let t1 = clock();
        let d = decide(black_box(&attrs), &cfg.rules, &ctx);
        let t2 = clock();
        shown += d.slots.iter().filter(|s| s.rule.is_some()).count();
        full.push((t2 - t0) * 1000.0);
        only.push((t2 - t1) * 1000.0);
    }
    (percentiles(full), percentiles(only), shown / rounds)
}

fn percentiles(mut us: Vec<f64>) -> [f64; 3] {
    us.sort_unstable_by(f64::total_cmp);
    let at = |p: f64| us[((us.len() as f64 * p) as usize).min(us.len() - 1)];
    [at(0.5), at(0.95), at(0.99)]
}

/// Microseconds per `track()`'s core work: the tracker records a
/// `Product Viewed` (event built, serialised, queued with its store op) and
/// the profile applies it, over `events` events.
pub fn track_core_us(events: u32, clock: &dyn Fn() -> f64) -> f64 {
    use sillage_core::profile::Profile;
    use sillage_core::track::event::{Call, PageContext};
    use sillage_core::track::outbox::Durability;
    use sillage_core::track::tracker::{JsonEncoder, Keep, Moment, Tracker};
    use sillage_core::track::visit::Activity;
    struct Enc;
    impl JsonEncoder for Enc {
        fn encode(&self, v: &Json) -> String {
            let mut s = String::with_capacity(512);
            sillage_core::support::json::write(v, &mut s, &|n, o| {
                // Whole cents, as most prices are: no float formatting.
                sillage_core::support::diag::push_u64(o, n as u64);
            });
            s
        }
    }
    let page = PageContext {
        url: "https://shop.example/p/trail?utm_source=newsletter".into(),
        path: "/p/trail".into(),
        referrer: "https://www.google.com/".into(),
        title: "Trail runner".into(),
        search: "?utm_source=newsletter".into(),
    };
    let mut t = Tracker::new(
        "0f8fad5b-d9cb-469f-a165-70867728950e".into(),
        None,
        Durability::Storage,
    );
    t.outbox.restore(&[], 0.0);
    let mut profile = Profile::new(Default::default(), Default::default());
    let mut stored: Option<String> = None;
    let start = clock();
    for i in 0..events {
        let mut r = [0u8; 16];
        r[..4].copy_from_slice(&i.to_le_bytes());
        let m = Moment {
            page: &page,
            activity: Activity::Other,
            hints: &[],
            stored_session: stored.as_deref(),
            device: "desktop",
        };
        let props = Json::obj()
            .with("product_id", "SKU-1")
            .with("price", 129.0)
            .with("category", "running");
        let rec = t
            .record(
                sillage_core::track::event::Call::Track {
                    event: "Product Viewed".into(),
                    properties: props,
                },
                &m,
                1.7e12 + f64::from(i),
                [r, r],
                &Enc,
                Keep::Queue,
            )
            .unwrap();
        if let Some(s) = rec.store_session {
            stored = Some(s);
        }
        profile.apply(&rec.event, 1.7e12 + f64::from(i));
        while t.outbox.poll_store_op().is_some() {}
        let _ = Call::Page {
            category: Json::Null,
            name: Json::Null,
            properties: Json::Null,
        };
    }
    (clock() - start) * 1000.0 / f64::from(events)
}
