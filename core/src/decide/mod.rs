//! Deciding what each slot shows: the condition language, the rules and
//! experiments, the attributes conditions see, and what a slot renders
//! beyond the decision (orders, recommendations, exposures).

pub mod attributes;
pub mod bucket;
pub mod condition;
pub mod explain;
pub mod lint;
pub mod personalizer;
pub mod render;
pub mod rules;
