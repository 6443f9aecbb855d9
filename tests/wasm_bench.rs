//! Browser benchmarks of the core compiled to wasm, in headless Chromium:
//! the same workloads as the native examples (`benches/workload.rs`), with
//! the browser's own `RegExp`, `toLowerCase` and number text. Run by
//! `cargo xtask bench` (never by `cargo xtask test`: figures, not a gate).
// Tests: the size rules of clippy.toml are for code that ships in the wasm.
#![allow(
    clippy::disallowed_macros,
    clippy::disallowed_methods,
    clippy::disallowed_types
)]
#![cfg(target_arch = "wasm32")]

#[path = "../core/benches/workload.rs"]
mod workload;

use sillage::web::BrowserJs;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn clock() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}

fn report(line: &str) {
    web_sys::console::log_1(&line.into());
}

#[wasm_bindgen_test]
fn conditions_per_ms_in_wasm() {
    // One warm-up pass lets the engine tier up, as a page's code does.
    let _ = workload::conditions_per_ms(&BrowserJs, 2_000, &clock);
    let (per_ms, hits) = workload::conditions_per_ms(&BrowserJs, 20_000, &clock);
    report(&format!(
        "wasm: {per_ms:.0} condition evaluations/ms ({:.0} ns each; {hits} true)",
        1e6 / per_ms
    ));
    assert!(hits > 0);
}

#[wasm_bindgen_test]
fn decision_time_for_200_rules_in_wasm() {
    let _ = workload::decisions(&BrowserJs, 200, &clock);
    let (full, only, shown) = workload::decisions(&BrowserJs, 2_000, &clock);
    report(&format!(
        "wasm: 200 rules: build + decide p50 {:.0} us, p95 {:.0} us, p99 {:.0} us; decide only p50 {:.0} us, p95 {:.0} us ({shown} of 20 slots personalized)",
        full[0], full[1], full[2], only[0], only[1]
    ));
}

#[wasm_bindgen_test]
fn track_core_work_in_wasm() {
    let _ = workload::track_core_us(500, &clock);
    let us = workload::track_core_us(5_000, &clock);
    report(&format!(
        "wasm: track() core work (record + profile apply): {us:.1} us/event"
    ));
}

/// A megabyte of text given to `track()` is refused by its length before it
/// is copied or scanned (issue 11, item 5: 1.7 s before, 5 ms at most wanted).
#[wasm_bindgen_test]
fn oversized_input_is_refused_before_any_work() {
    let config = js_sys::JSON::parse(r#"{"config": {"version": 1}}"#).unwrap();
    sillage::web::boot(config);
    let huge = wasm_bindgen::JsValue::from_str(&"x".repeat(1 << 20));
    let props = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&props, &"notes".into(), &huge);
    let mut times = Vec::new();
    for i in 0..11 {
        let t = clock();
        if i % 2 == 0 {
            sillage::web::track(huge.clone(), wasm_bindgen::JsValue::UNDEFINED);
        } else {
            sillage::web::track("Notes Saved".into(), props.clone().into());
        }
        times.push(clock() - t);
    }
    times.sort_by(f64::total_cmp);
    report(&format!(
        "wasm: track() given a 1 MB string (name or property), refused: {:.2} ms median, {:.2} ms max",
        times[times.len() / 2],
        times[times.len() - 1]
    ));
}
