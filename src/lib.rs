//! Sillage: on-device customer-journey tracking and personalization.
//!
//! - [`core`] is pure Rust: no web APIs, no clock, no randomness, no I/O. Time and
//!   random bytes are passed in; everything it computes is returned as data.
//! - `web` (wasm32 only) is the thin shell that feeds the core from the browser and
//!   applies what the core returns: storage, timers, network, DOM.
//!
//! See ARCHITECTURE.md for the codemap and the invariants.
#![deny(missing_docs)]

pub mod core;

#[cfg(not(target_arch = "wasm32"))]
pub mod native_js;

#[cfg(target_arch = "wasm32")]
pub mod web;
