//! Native integration tests: one binary, one module per feature. Each module
//! has a small `check`-style helper and data tables, so a case is one line.
#![cfg(not(target_arch = "wasm32"))]

mod attributes;
mod batch;
mod conditions;
mod config;
mod engage;
mod events;
mod html;
mod lint;
mod outbox;
mod p13n;
mod profile;
mod rules;
mod touchpoint;
mod visit;
mod vocab;
