//! Condition evaluations per millisecond for a realistic rule mix, natively
//! (the browser's figure comes from `tests/wasm_bench.rs`, same workload).
//!
//! Run with `cargo run --release --example bench_conditions`. The budget this
//! tracks is >= 2,000 evaluations per ms in the browser; GrowthBook's JS SDK
//! takes ~2.2 us per condition.
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
    let (per_ms, hits) = workload::conditions_per_ms(&NativeJs::new(), 200_000, &clock);
    println!(
        "native: {per_ms:.0} condition evaluations/ms ({:.0} ns each; {hits} true)",
        1e6 / per_ms
    );
}
