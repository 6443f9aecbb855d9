//! Native benchmarks of the pure core, run by `cargo xtask bench` in release
//! mode. Plain loops timed with `Instant` (the core itself never reads a
//! clock): figures to compare runs on one machine, not a gate.
// Native tooling: the size rules of clippy.toml are for code that ships in
// the wasm.
#![allow(
    clippy::disallowed_macros,
    clippy::disallowed_methods,
    clippy::disallowed_types
)]

use std::time::Instant;

use sillage_core::profile::model::StageModel;
use sillage_core::profile::settings::ProfileConfig;
use sillage_core::profile::Profile;
use sillage_core::support::json::{write, Json};
use sillage_core::track::batch::{BatchConfig, Batcher, Outcome};
use sillage_core::track::event::{Call, PageContext};
use sillage_core::track::outbox::{Caps, Durability, Outbox};
use sillage_core::track::touchpoint::{
    classify, session_on, ChannelConfig, Session, SESSION_TIMEOUT_MS,
};
use sillage_core::track::tracker::{JsonEncoder, Keep, Moment, Tracker};
use sillage_core::track::visit::Activity;

struct Enc;
impl JsonEncoder for Enc {
    fn encode(&self, v: &Json) -> String {
        let mut s = String::with_capacity(512);
        write(v, &mut s, &|n, o| o.push_str(&n.to_string()));
        s
    }
}

fn per_op(label: &str, n: u32, f: impl FnMut(u32)) {
    let mut f = f;
    let t0 = Instant::now();
    for i in 0..n {
        f(i);
    }
    let ns = t0.elapsed().as_nanos() as f64 / f64::from(n);
    println!("native: {label}: {:.2} us/op over {n} ops", ns / 1000.0);
}

fn main() {
    let page = PageContext {
        url: "https://shop.example/p/trail?utm_source=newsletter".into(),
        path: "/p/trail".into(),
        referrer: "https://www.google.com/".into(),
        title: "Trail runner".into(),
        search: "?utm_source=newsletter".into(),
    };
    let props = Json::obj()
        .with("product_id", "SKU-1")
        .with("price", 129.5)
        .with("category", "running");

    // One `Product Viewed` event with distinct random bytes per call.
    let record = |t: &mut Tracker, i: u32| {
        let mut r = [0u8; 16];
        r[..4].copy_from_slice(&i.to_le_bytes());
        let call = Call::Track {
            event: "Product Viewed".into(),
            properties: props.clone(),
        };
        let moment = Moment {
            page: &page,
            activity: Activity::Other,
            hints: &[],
            stored_session: None,
            device: "desktop",
        };
        t.record(call, &moment, f64::from(i), [r, r], &Enc, Keep::Queue)
            .unwrap();
    };

    // Record: build the event, serialise it, store op, queue (as the
    // sender), with the collector answering 200 (the normal case).
    let mut t = Tracker::new(
        "0f8fad5b-d9cb-469f-a165-70867728950e".into(),
        None,
        Durability::Storage,
    );
    let cfg = sillage_core::config::parse(
        &Json::obj()
            .with("version", 1.0)
            .with("collector", Json::obj().with("url", "/v1/batch")),
        &sillage_core::native_js::NativeJs::new(),
    )
    .0;
    t.configure(&cfg);
    t.outbox.restore(&[], 0.0);
    per_op(
        "track() in the core (build + serialise + store op + queue), collector up",
        20_000,
        |i| {
            record(&mut t, i);
            if let Some(tr) = t.poll_transmit(f64::from(i)) {
                t.handle_response(
                    tr.batch_id,
                    Outcome::Status {
                        code: 200,
                        retry_after_ms: None,
                    },
                    f64::from(i),
                    0.5,
                );
            }
            while t.outbox.poll_store_op().is_some() {}
        },
    );
    // The same with the collector down and the queue at its caps.
    let mut t = Tracker::new(
        "0f8fad5b-d9cb-469f-a165-70867728950e".into(),
        None,
        Durability::Storage,
    );
    t.outbox.restore(&[], 0.0);
    per_op(
        "track() in the core, queue full at its 2 MB cap (oldest dropped per event)",
        20_000,
        |i| {
            record(&mut t, i);
            while t.outbox.poll_store_op().is_some() {}
        },
    );

    // Batching: push, transmit and acknowledge 100,000 events.
    let mut b = Batcher::new(BatchConfig::default(), None);
    let json = Enc.encode(&props);
    let mut sent = 0;
    per_op("batcher push + transmit + ack, per event", 100_000, |i| {
        b.push(i.to_string(), json.clone(), f64::from(i));
        if let Some(tr) = b.poll_transmit(f64::from(i)) {
            sent += 1;
            b.handle_response(
                tr.batch_id,
                Outcome::Status {
                    code: 200,
                    retry_after_ms: None,
                },
                f64::from(i),
                0.5,
            );
        }
    });
    println!("native: 100,000 pushed events made {sent} requests (maxEvents 20)");

    // Restore: a full queue taken over by a new sender.
    let mut o = Outbox::new(
        Batcher::new(BatchConfig::default(), None),
        Caps::default(),
        Durability::Storage,
    );
    o.restore(&[], 0.0);
    for i in 0..5_000u32 {
        o.record(format!("{i:08}"), json.clone(), f64::from(i));
    }
    let mut entries = Vec::new();
    while let Some(op) = o.poll_store_op() {
        if let sillage_core::track::outbox::StoreOp::Put { key, value } = op {
            entries.push((key, value));
        }
    }
    let t0 = Instant::now();
    let mut n = Outbox::new(
        Batcher::new(BatchConfig::default(), None),
        Caps::default(),
        Durability::Storage,
    );
    let r = n.restore(&entries, 10_000.0);
    println!(
        "native: restore of a full queue ({} events): {:.2} ms",
        r.events,
        t0.elapsed().as_secs_f64() * 1000.0
    );

    bench_profile();
}

/// 10,000 events as the tracker builds them: page views (a landing per
/// session), Page Engaged, commerce events, over about 100 days.
fn profile_events(topics: u32) -> Vec<(Json, f64)> {
    let cfg = ChannelConfig::default();
    let mut session: Option<Session> = None;
    let (mut now, mut out) = (1_772_442_000_000.0, Vec::new());
    let steps = [
        "landing",
        "engaged",
        "page",
        "Product Viewed",
        "engaged",
        "page",
        "Product Added",
        "Cart Viewed",
        "Products Searched",
        "page",
        "Checkout Started",
        "Order Completed",
    ];
    for i in 0..10_000u32 {
        let step = steps[i as usize % steps.len()];
        now += if step == "landing" {
            2.0 * 86_400_000.0
        } else {
            45_000.0
        };
        let topic = format!("topic {}", i % topics);
        let (url, referrer) = match step {
            "landing" => (
                "https://shop.example/blog/post?utm_source=news&utm_medium=email",
                "",
            ),
            _ => ("https://shop.example/p/trail-shoe", "https://shop.example/"),
        };
        let tp = classify(url, referrer, &cfg);
        let page = step == "landing" || step == "page";
        let (s, start) = session_on(
            session.as_ref(),
            page.then_some(&tp),
            now,
            SESSION_TIMEOUT_MS,
            format!("s{i}"),
        );
        let mut ctx = Json::obj()
            .with("sessionId", s.id.as_str())
            .with("sessionIndex", f64::from(s.index))
            .with(
                "topics",
                Json::Arr(vec![topic.as_str().into(), "running".into()]),
            );
        if let Some(start) = start {
            ctx.set("sessionStart", start.as_str().into());
        }
        if step == "landing" {
            ctx.set("touchpoint", tp.to_json());
        }
        session = Some(s);
        let context = Json::obj()
            .with(
                "page",
                Json::obj().with("path", "/p/trail-shoe").with("url", url),
            )
            .with("sillage", ctx);
        let product = Json::obj()
            .with("product_id", format!("p{}", i % 13))
            .with("category", "Trail Shoes")
            .with("price", 129.5);
        let ev = match step {
            "landing" | "page" => Json::obj().with("type", "page"),
            "engaged" => Json::obj()
                .with("type", "track")
                .with("event", "Page Engaged")
                .with(
                    "properties",
                    Json::obj()
                        .with("active_time_ms", 65_000.0)
                        .with("scroll_depth_pct", 80.0)
                        .with("page_path", "/p/trail-shoe"),
                ),
            name => Json::obj()
                .with("type", "track")
                .with("event", name)
                .with("properties", product.clone()),
        };
        out.push((ev.with("context", context), now));
    }
    out
}

fn bench_profile() {
    for (topics, what) in [
        (40, "40 topics in turn"),
        (
            97,
            "97 topics in turn, so most events evict the weakest of 64",
        ),
    ] {
        let events = profile_events(topics);
        let mut p = Profile::new(StageModel::default(), ProfileConfig::default());
        let t0 = Instant::now();
        for (ev, now) in &events {
            p.apply(ev, *now);
            while p.poll_change().is_some() {}
        }
        let per = t0.elapsed().as_secs_f64() * 1e6 / events.len() as f64;
        println!(
            "native: profile apply() (default model, 35 signals, {what}): {per:.2} us/event over {} events",
            events.len()
        );
        let now = events.last().map_or(0.0, |e| e.1);
        let n = 1_000;
        let t0 = Instant::now();
        for i in 0..n {
            std::hint::black_box(p.snapshot(now + f64::from(i)));
        }
        println!(
            "native: profile snapshot(): {:.2} us",
            t0.elapsed().as_secs_f64() * 1e6 / f64::from(n)
        );
        let t0 = Instant::now();
        let stored = p.to_storage();
        let took = t0.elapsed().as_secs_f64() * 1e6;
        let text = Enc.encode(&stored);
        println!(
            "native: profile to_storage() after 10,000 events: {took:.0} us, {} bytes of JSON \
             (cap 16,384); snapshot {} bytes",
            text.len(),
            Enc.encode(&p.snapshot(now)).len()
        );
    }
}
