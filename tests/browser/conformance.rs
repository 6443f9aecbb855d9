//! GrowthBook's conformance corpus through the host that ships: the
//! browser's own `RegExp`, `toLowerCase`, `Number#toString` and
//! `parseFloat` (`BrowserJs`), with the same compiled conditions the SDK
//! uses. The corpus is embedded at build time from `../shared/conformance/`
//! (the build script names the path): a missing corpus fails the build of
//! this test binary, so it can never pass by being absent.

use sillage::web::BrowserJs;
use wasm_bindgen_test::*;

#[path = "../support/conformance.rs"]
mod corpus;

#[wasm_bindgen_test]
fn growthbook_conformance_through_the_browsers_builtins() {
    let outcome = corpus::run(include_str!(env!("SILLAGE_CONFORMANCE_CASES")), &BrowserJs);
    web_sys::console::log_1(&outcome.summary().into());
    assert!(
        outcome.failures.is_empty(),
        "{} conformance failures through BrowserJs:\n{}",
        outcome.failures.len(),
        outcome.failures.join("\n")
    );
    let total: usize = outcome.ran.values().sum();
    assert_eq!(total, corpus::SUITES.iter().map(|(_, n)| n).sum::<usize>());
}
