//! Native integration tests: one binary, one module per feature. Each module
//! has a small `check`-style helper and data tables, so a case is one line.
#![cfg(not(target_arch = "wasm32"))]
// Native tooling: the size rules of clippy.toml are for code that ships in
// the wasm.
#![allow(
    clippy::disallowed_macros,
    clippy::disallowed_methods,
    clippy::disallowed_types
)]

mod attributes;
mod batch;
mod conditions;
mod config;
mod engage;
mod events;
mod html;
mod lint;
mod messages;
mod outbox;
mod p13n;
mod profile;
mod rules;
mod sdk;
mod touchpoint;
mod visit;
mod vocab;
