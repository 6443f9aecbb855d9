//! How long the journey report takes, phase by phase, on a database of the
//! simulated shop (a figure, never a gate):
//!
//! ```sh
//! cargo run --release -p sillage-collector --example report_bench -- [EVENTS] [DB]
//! ```
//!
//! EVENTS defaults to 1,000,000; DB to a file in the temporary directory,
//! written by the fixture generator when it does not exist yet (kept for the
//! next run: delete it to regenerate). The report is built three times; the
//! best wall and CPU time of each phase is printed.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};
use sillage_collector::report::{self, fixture, load::Facts, Range, Settings};

/// Time on the CPU of this thread (Linux; 0 elsewhere): the machines the
/// figures come from are shared, so wall time alone can mislead.
fn cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

/// Wall and CPU time of `f`.
fn timed<T>(f: impl FnOnce() -> T) -> ((Duration, Duration), T) {
    let (t, c) = (Instant::now(), cpu());
    let v = f();
    ((t.elapsed(), cpu().saturating_sub(c)), v)
}

fn min(a: (Duration, Duration), b: (Duration, Duration)) -> (Duration, Duration) {
    (a.0.min(b.0), a.1.min(b.1))
}

fn ms(d: (Duration, Duration)) -> String {
    format!(
        "{:>7.0} ms wall {:>7.0} ms CPU",
        d.0.as_secs_f64() * 1e3,
        d.1.as_secs_f64() * 1e3
    )
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let events: u64 = args
        .first()
        .and_then(|a| a.replace('_', "").parse().ok())
        .unwrap_or(1_000_000);
    let db = args
        .get(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join(format!("sillage-report-bench-{events}.db")));
    if !db.exists() {
        let t = Instant::now();
        let mut w = fixture::Writer::create(&db).expect("create the database");
        let shop = fixture::Shop {
            events,
            ..fixture::Shop::default()
        };
        fixture::shop(&mut w, &shop).expect("simulate");
        let n = w.finish().expect("commit");
        println!(
            "fixture: {n} events written to {} in {:.1} s",
            db.display(),
            t.elapsed().as_secs_f64()
        );
    }
    let size = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
    let conn = Connection::open_with_flags(&db, OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open");
    let (settings, _) = Settings::from_config(&fixture::shop_config());
    let all = Range::all();
    let week = Range::parse(Some("2026-11-24"), Some("2026-11-30")).expect("range");
    let max = (Duration::MAX, Duration::MAX);
    let (mut load, mut compute, mut html, mut total, mut last7) = (max, max, max, max, max);
    let mut out = None;
    for _ in 0..3 {
        let (tl, facts) = timed(|| Facts::load(&conn, &all).expect("query"));
        let kept = facts.facts.len();
        let (tc, rep) = timed(|| report::compute::compute(facts, &all, &settings));
        let (th, page) = timed(|| report::html(&rep));
        load = min(load, tl);
        compute = min(compute, tc);
        html = min(html, th);
        total = min(total, (tl.0 + tc.0 + th.0, tl.1 + tc.1 + th.1));
        let (tw, wr) = timed(|| report::build_with(&conn, &week, &settings).expect("build"));
        last7 = min(last7, tw);
        out = Some((kept, rep, page.len(), wr.totals.events));
    }
    let (kept, rep, page, week_events) = out.expect("ran");
    println!(
        "report over {} events ({:.0} MB database, {kept} rows kept as facts, {} visitors), best of 3:",
        rep.totals.events,
        size as f64 / 1e6,
        rep.totals.visitors
    );
    println!("  query + facts {}", ms(load));
    println!("  compute       {}", ms(compute));
    println!("  html          {} ({} KB)", ms(html), page / 1024);
    println!("  total         {}", ms(total));
    println!("  last 7 days   {} ({week_events} events)", ms(last7));
}
