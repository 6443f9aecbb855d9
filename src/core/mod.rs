//! The pure core. Architecture invariant: nothing in here touches web-sys,
//! js-sys, wasm-bindgen, a clock, a random source or any I/O; `xtask test`
//! checks it.

pub mod bucket;
pub mod condition;
pub mod diag;
pub mod json;
