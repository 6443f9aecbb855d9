//! Sillage in the browser: the web shell around `sillage-core`.
//!
//! - [`sillage_core`] is pure Rust: no web APIs, no clock, no randomness,
//!   no I/O; the whole SDK is its state machine `sdk::Sdk`.
//! - `web` (wasm32 only) turns browser events into the core's inputs and
//!   applies its effects: storage, timers, network, DOM patches, console.
//!
//! See ARCHITECTURE.md for the codemap and the invariants.
#![deny(missing_docs)]

#[cfg(target_arch = "wasm32")]
pub mod web;
