//! Native benchmarks of the pure core, run by `cargo xtask bench` in release
//! mode. Plain loops timed with `Instant` (the core itself never reads a
//! clock): figures to compare runs on one machine, not a gate.

use std::time::Instant;

use sillage::core::batch::{BatchConfig, Batcher, Outcome};
use sillage::core::event::{Call, PageContext};
use sillage::core::json::{write, Json};
use sillage::core::outbox::{Caps, Durability, Outbox};
use sillage::core::tracker::{JsonEncoder, Moment, Tracker};
use sillage::core::visit::Activity;

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
        t.record(call, &moment, f64::from(i), [r, r], &Enc).unwrap();
    };

    // Record: build the event, serialise it, store op, queue (as the
    // sender), with the collector answering 200 (the normal case).
    let mut t = Tracker::new(
        "0f8fad5b-d9cb-469f-a165-70867728950e".into(),
        None,
        Durability::Storage,
    );
    let cfg = sillage::core::config::parse(
        &Json::obj()
            .with("version", 1.0)
            .with("collector", Json::obj().with("url", "/v1/batch")),
        &sillage::native_js::NativeJs::new(),
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
        if let sillage::core::outbox::StoreOp::Put { key, value } = op {
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
}
