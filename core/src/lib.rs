//! Sillage's pure core: on-device customer-journey tracking and
//! personalization as data.
//!
//! Architecture invariant: nothing in this crate touches web-sys, js-sys,
//! wasm-bindgen, a clock, a random source or any I/O. Its `Cargo.toml` has
//! no web dependency, so the compiler enforces the first part; clippy's
//! `disallowed-methods` (`clippy.toml`) the rest. Time and random bytes are
//! passed in; everything it computes (events, batch bodies, decisions, DOM
//! patches) is returned as data for the shell to apply.
//!
//! - [`sdk`]: the whole SDK as one sans-IO state machine
//!   (`Sdk::handle`, `poll_effect`, `poll_timeout`);
//! - [`track`]: capture, the visit, touchpoints, events, batching, the
//!   durable outbox;
//! - [`profile`]: the visitor profile (journey stage, interests, signals);
//! - [`decide`]: conditions, rules, attributes, what slots render;
//! - [`support`]: JSON, URLs, time, diagnostics, HTML sanitising, randomness;
//! - [`config`]: the config document, parsed with diagnostics.
#![deny(missing_docs)]

pub mod config;
pub mod decide;
pub mod profile;
pub mod sdk;
pub mod support;
pub mod track;

#[cfg(feature = "native-js")]
pub mod native_js;
