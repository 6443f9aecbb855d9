//! The pure core. Architecture invariant: nothing in here touches web-sys,
//! js-sys, wasm-bindgen, a clock, a random source or any I/O; `cargo xtask
//! test` checks it. Everything it computes (events, batch bodies, decisions)
//! is returned as data for the shell to apply.

pub mod attributes;
pub mod batch;
pub mod bucket;
pub mod condition;
pub mod config;
pub mod diag;
pub mod engage;
pub mod event;
pub mod html;
pub mod json;
pub mod lint;
pub mod outbox;
pub mod p13n;
pub mod profile;
pub mod rules;
pub mod text;
pub mod time;
pub mod topics;
pub mod touchpoint;
pub mod tracker;
pub mod url;
pub mod visit;
pub mod vocab;
