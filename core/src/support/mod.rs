//! What the rest of the core is built on: the `Json` value, diagnostics
//! with JSON paths, URLs, time, HTML sanitising, randomness, and lean
//! replacements for std's substring search and stable sort (size).

pub mod diag;
pub mod fifo;
pub mod html;
pub mod json;
pub mod rng;
pub mod sort;
pub mod strsearch;
pub mod time;
pub mod url;
