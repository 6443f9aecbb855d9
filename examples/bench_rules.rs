//! Decision time for a 200-rule config (20 slots of 10 rules, 10 audiences,
//! 10 experiments), natively: p50/p95/p99 of `attributes::build` +
//! `decide`, and of `decide` alone. Most rules do not match, so nearly every
//! condition is evaluated (the worst case); one slot runs an experiment, so
//! each decision also hashes.
//!
//! Run with `cargo run --release --example bench_rules`. The goal is a p95 of
//! 1 ms or less in the browser.

use serde_json::json;
use sillage::core::attributes::{build, Inputs, LocalTime, SessionInfo};
use sillage::core::config;
use sillage::core::json::Json;
use sillage::core::rules::{decide, Assignments, Ctx, Preview};
use sillage::native_js::NativeJs;
use std::hint::black_box;
use std::time::Instant;

fn condition(i: usize) -> serde_json::Value {
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

fn config() -> Json {
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

fn percentiles(mut ns: Vec<f64>) -> (f64, f64, f64) {
    ns.sort_by(f64::total_cmp);
    let at = |p: f64| ns[((ns.len() as f64 * p) as usize).min(ns.len() - 1)] / 1000.0;
    (at(0.5), at(0.95), at(0.99))
}

fn main() {
    let host = NativeJs::new();
    let (cfg, diags) = config::parse(&config(), &host);
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
        host: &host,
        now: 60_000.0,
    };
    let rounds = 20_000;
    let (mut full, mut only) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    let mut shown = 0usize;
    for _ in 0..rounds {
        let t0 = Instant::now();
        let attrs = build(
            black_box(&inputs),
            &cfg.rules.audiences,
            &host,
            &mut Vec::new(),
        );
        let t1 = Instant::now();
        let d = decide(black_box(&attrs), &cfg.rules, &ctx);
        let t2 = Instant::now();
        shown += d.slots.iter().filter(|s| s.rule.is_some()).count();
        full.push((t2 - t0).as_nanos() as f64);
        only.push((t2 - t1).as_nanos() as f64);
    }
    let (a50, a95, a99) = percentiles(full);
    let (d50, d95, d99) = percentiles(only);
    println!(
        "200 rules, 20 slots, 10 audiences, 10 experiments; {} of 20 slots personalized\n\
         build + decide: p50 {a50:.1} us, p95 {a95:.1} us, p99 {a99:.1} us\n\
         decide only:    p50 {d50:.1} us, p95 {d95:.1} us, p99 {d99:.1} us",
        shown / rounds
    );
}
