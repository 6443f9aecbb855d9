//! Condition evaluations per millisecond for a realistic rule mix, natively.
//!
//! Run with `cargo run --release --example bench_conditions`. The budget this
//! tracks is >= 2,000 evaluations per ms in the browser; GrowthBook's JS SDK
//! takes ~2.2 us per condition.

use sillage::core::condition::Condition;
use sillage::core::json::Json;
use sillage::native_js::NativeJs;
use std::hint::black_box;
use std::time::Instant;

const CONDITIONS: &[&str] = &[
    r#"{"country": {"$in": ["FR", "BE", "CH", "LU"]}}"#,
    r#"{"interests.running": {"$gt": 3}, "stage": "consideration"}"#,
    r#"{"appVersion": {"$vgte": "2.4.0"}, "device": {"$ne": "tv"}}"#,
    r#"{"$or": [{"stage": "purchase"}, {"cart.items": {"$size": {"$gt": 0}}}]}"#,
    r#"{"userAgent": {"$regex": "(Mobile|Tablet)"}}"#,
    r#"{"tags": {"$elemMatch": {"$eq": "newsletter"}}, "visits": {"$gte": 2}}"#,
    r#"{"id": {"$inGroup": "beta"}, "email": {"$exists": true}}"#,
    r#"{"$and": [{"age": {"$gte": 18}}, {"age": {"$lt": 65}}], "$not": {"country": "US"}}"#,
];

const ATTRIBUTES: &[&str] = &[
    r#"{"id": "u123", "country": "FR", "stage": "consideration", "age": 34,
        "interests": {"running": 5, "cooking": 1}, "appVersion": "2.10.1", "device": "phone",
        "userAgent": "Mozilla/5.0 (Linux; Android 14) Mobile Safari", "tags": ["newsletter", "vip"],
        "visits": 7, "cart": {"items": [1, 2]}, "email": "a@b.c"}"#,
    r#"{"id": "u9", "country": "US", "stage": "discovery", "age": 17,
        "interests": {"running": 0}, "appVersion": "1.9.0", "device": "desktop",
        "userAgent": "Mozilla/5.0 (Windows NT 10.0) Chrome/130", "tags": [], "visits": 1}"#,
];

fn main() {
    let host = NativeJs::new();
    let groups: Json = serde_json::from_str(r#"{"beta": ["u1", "u123", "u77"]}"#).unwrap();
    let conditions: Vec<Condition> = CONDITIONS
        .iter()
        .map(|c| Condition::parse(&serde_json::from_str(c).unwrap(), &host).0)
        .collect();
    let attributes: Vec<Json> = ATTRIBUTES
        .iter()
        .map(|a| serde_json::from_str(a).unwrap())
        .collect();
    let rounds = 200_000;
    let mut hits = 0u64;
    let start = Instant::now();
    for _ in 0..rounds {
        for a in &attributes {
            for c in &conditions {
                hits += u64::from(black_box(c).eval(black_box(a), &groups, &host));
            }
        }
    }
    let elapsed = start.elapsed();
    let evals = (rounds * attributes.len() * conditions.len()) as f64;
    println!(
        "{evals} evaluations in {:.1} ms: {:.0} evaluations/ms ({:.0} ns each; {hits} true)",
        elapsed.as_secs_f64() * 1e3,
        evals / (elapsed.as_secs_f64() * 1e3),
        elapsed.as_secs_f64() * 1e9 / evals
    );
}
