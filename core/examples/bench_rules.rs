//! Decision time for a 200-rule config (20 slots of 10 rules, 10 audiences,
//! 10 experiments), natively: p50/p95/p99 of `attributes::build` +
//! `decide`, and of `decide` alone. Most rules do not match, so nearly every
//! condition is evaluated (the worst case); one slot runs an experiment, so
//! each decision also hashes. The browser's figure comes from
//! `tests/wasm_bench.rs`, same workload.
//!
//! Run with `cargo run --release --example bench_rules`. The goal is a p95 of
//! 1 ms or less in the browser.
// Native tooling: the size rules of clippy.toml are for code that ships in
// the wasm.
#![allow(
    clippy::disallowed_macros,
    clippy::disallowed_methods,
    clippy::disallowed_types
)]

#[path = "../benches/workload.rs"]
mod workload;

use sillage_core::native_js::NativeJs;
use std::time::Instant;

fn main() {
    let t0 = Instant::now();
    let clock = move || t0.elapsed().as_secs_f64() * 1e3;
    let (full, only, shown) = workload::decisions(&NativeJs::new(), 20_000, &clock);
    println!(
        "native: 200 rules, 20 slots, 10 audiences, 10 experiments; {shown} of 20 slots personalized\n\
         native: build + decide: p50 {:.1} us, p95 {:.1} us, p99 {:.1} us\n\
         native: decide only:    p50 {:.1} us, p95 {:.1} us, p99 {:.1} us",
        full[0], full[1], full[2], only[0], only[1], only[2]
    );
}
