//! How many events per second one collector ingests on this machine, over
//! loopback: `cargo run --release -p sillage-collector --example ingest_bench`
//! (also run by `cargo xtask bench`).
//!
//! A collector with its production settings (WAL, `synchronous = FULL`: each
//! batch is fsynced before its 200; the per-address rate limit on, set high
//! enough that it never refuses, so its cost is counted) serves on a free
//! port of 127.0.0.1; clients in the same process post `--events` events
//! (default 10,000) in batches of `--batch` (default 20) as `text/plain`,
//! first one at a time (the latency of one batch: p50, p99), then from
//! `--concurrency` clients at once (default 8: the throughput). Figures from
//! a shared, noisy machine: read them as orders of magnitude, never as a gate.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::json;
use sillage_collector::{app, AppState, Options, Rate};

struct Args {
    events: usize,
    batch: usize,
    concurrency: usize,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        events: 10_000,
        batch: 20,
        concurrency: 8,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || -> Result<usize, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{flag} needs a whole number above 0"))
        };
        match flag.as_str() {
            "--events" => a.events = value()?,
            "--batch" => a.batch = value()?,
            "--concurrency" => a.concurrency = value()?,
            other => {
                return Err(format!(
                    "unknown argument {other:?} (expected --events N, --batch N, --concurrency N)"
                ))
            }
        }
    }
    Ok(a)
}

/// The body of batch `n` of run `run`: `size` page-sized track events.
fn body(run: &str, n: usize, size: usize) -> String {
    let events: Vec<_> = (0..size)
        .map(|i| {
            json!({"type": "track", "event": "Product Viewed", "messageId": format!("{run}-{n}-{i}"),
                   "anonymousId": format!("6f1c1d9e-2b4a-4c3e-9f7a-{:012x}", n % 97),
                   "timestamp": "2026-11-23T05:24:08.123Z",
                   "properties": {"product_id": format!("SKU-{i}"), "price": 129.5, "category": "running"},
                   "context": {"library": {"name": "sillage", "version": "0.1.0"},
                               "page": {"path": "/products/trail", "title": "Trail runner", "url": "https://shop.example/products/trail"},
                               "sillage": {"sessionId": "s-1"}}})
        })
        .collect();
    json!({"batch": events, "sentAt": "2026-11-23T05:24:09.000Z", "writeKey": "bench"}).to_string()
}

/// Posts batches `from..to` one after the other; returns each one's latency.
async fn client(
    http: reqwest::Client,
    url: String,
    run: String,
    batches: std::ops::Range<usize>,
    size: usize,
) -> Vec<Duration> {
    let mut out = Vec::with_capacity(batches.len());
    for n in batches {
        let body = body(&run, n, size);
        let t0 = Instant::now();
        let res = http
            .post(&url)
            .header("content-type", "text/plain")
            .body(body)
            .send()
            .await
            .expect("the collector answers");
        let status = res.status();
        let _ = res.bytes().await;
        assert!(status.is_success(), "batch {n}: {status}");
        out.push(t0.elapsed());
    }
    out
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ingest_bench: {e}");
            std::process::exit(2);
        }
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let state = AppState::open(Options {
        db: dir.path().join("bench.db"),
        www: dir.path().into(),
        sdk: dir.path().into(),
        rate_limit: Some(Rate {
            per_second: 1e9,
            burst: 1e9,
        }),
        ..Options::default()
    })
    .expect("the database opens");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app(state).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    let url = format!("http://{addr}/v1/batch");
    let http = reqwest::Client::new();
    let batches = a.events.div_ceil(a.batch);
    // Warm-up (connections, SQLite's cache): not counted.
    client(http.clone(), url.clone(), "warm".into(), 0..20, a.batch).await;

    let t0 = Instant::now();
    let mut one = client(http.clone(), url.clone(), "seq".into(), 0..batches, a.batch).await;
    let seq_secs = t0.elapsed().as_secs_f64();
    one.sort();

    let t0 = Instant::now();
    let per = batches.div_ceil(a.concurrency);
    let tasks: Vec<_> = (0..a.concurrency)
        .map(|c| {
            let range = (c * per).min(batches)..((c + 1) * per).min(batches);
            tokio::spawn(client(
                http.clone(),
                url.clone(),
                "par".into(),
                range,
                a.batch,
            ))
        })
        .collect();
    let mut many = Vec::new();
    for t in tasks {
        many.extend(t.await.unwrap());
    }
    let par_secs = t0.elapsed().as_secs_f64();
    many.sort();
    let events = (batches * a.batch) as f64;
    println!(
        "collector ingest, {} events in batches of {} over loopback ({} cores):",
        batches * a.batch,
        a.batch,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "  one client:   {:>8.0} events/s, {:>6.0} batches/s; latency p50 {:.2} ms, p99 {:.2} ms",
        events / seq_secs,
        batches as f64 / seq_secs,
        pct(&one, 0.5),
        pct(&one, 0.99)
    );
    println!(
        "  {} clients:   {:>8.0} events/s, {:>6.0} batches/s; latency p50 {:.2} ms, p99 {:.2} ms",
        a.concurrency,
        events / par_secs,
        batches as f64 / par_secs,
        pct(&many, 0.5),
        pct(&many, 0.99)
    );
    println!(
        "{}",
        json!({
            "events": batches * a.batch, "batch": a.batch, "concurrency": a.concurrency,
            "sequential": {"eventsPerSecond": events / seq_secs, "p50Ms": pct(&one, 0.5), "p99Ms": pct(&one, 0.99)},
            "concurrent": {"eventsPerSecond": events / par_secs, "p50Ms": pct(&many, 0.5), "p99Ms": pct(&many, 0.99)},
        })
    );
}
