//! Browser tests of the web shell, run in headless Chromium by wasm-bindgen-test.
#![cfg(target_arch = "wasm32")]
