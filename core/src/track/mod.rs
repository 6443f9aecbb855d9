//! Tracking: what is captured, the visit every event describes, the events
//! themselves, and their delivery (batching, retries, the durable outbox).

pub mod batch;
pub mod capture;
pub mod event;
pub mod journey_events;
pub mod outbox;
pub mod topics;
pub mod touchpoint;
pub mod tracker;
pub mod visit;
