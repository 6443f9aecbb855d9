//! Rules: which content each slot of the page shows, and why.
//!
//! A rule is `{id, slot, when, variant | actions, priority?, experiment?}`.
//! Rules are ordered by priority (higher first), then by position; for each
//! slot the first rule whose `when` matches wins ([`decide`]). Audiences
//! ([`Audiences`]) are named conditions that rules and other audiences test
//! through the `audiences` attribute; the `catalog` feeds `recommend`.
//!
//! **Config is data, never code.** Conditions are GrowthBook's
//! MongoDB-style language, interpreted by a fixed set of operators
//! (`crate::decide::condition`); actions are a fixed set of DOM operations with
//! string arguments ([`actions`]). There is no eval, no expression language,
//! no function names and no way to name one: `$where`, `$function`, `$expr`
//! and `$accumulator` are unknown operators, reported at load, and evaluate
//! to false (Apache Unomi's condition-injection CVEs are the lesson).
//!
//! Parsing never fails as a whole. A rule with any problem is skipped (a
//! half-understood rule showing content to the wrong visitors is worse than
//! none) and reported with its JSON path; the other rules work.
//!
//! Why compiled once: [`RuleSet::parse`] turns the JSON into conditions,
//! typed actions, per-slot orders and precomputed bucket ranges, so a
//! decision reads the attributes and borrows from the rule set; nothing of
//! the config is cloned per call (GrowthBook's Rust client clones its whole
//! config per evaluation).

pub mod actions;
pub mod audiences;
pub mod catalog;
mod decide;
pub mod experiment;

pub use actions::{Action, Op, Replacement, Strategy};
pub use audiences::Audiences;
pub use catalog::CatalogItem;
pub use decide::{
    decide, Ctx, Decision, ExperimentInfo, Preview, Reason, Shown, SlotDecision, Verdict,
};
pub use experiment::{Assigned, Assignment, Assignments, Experiment, Variation};

use crate::decide::condition::{clause_keys, Condition, JsHost};
use crate::support::diag::{
    check_keys, index_path, key_path, required_string, type_error, Diagnostic,
};
use crate::support::json::Json;
use crate::support::strsearch::CharSearch;
use crate::t;

/// Keys of a rule.
pub const RULE_KEYS: &[&str] = &[
    "id",
    "slot",
    "when",
    "variant",
    "actions",
    "priority",
    "experiment",
];
/// Most rules read; the rest are reported and ignored.
pub const MAX_RULES: usize = 1000;

/// What a rule (or an experiment variation) shows.
#[derive(Clone, Debug, PartialEq)]
pub enum Content {
    /// `variant`: the page's `<template data-sillage-variant="slot/name">`.
    Variant(String),
    /// `actions`: operations on the slot.
    Actions(Vec<Action>),
}

/// One usable rule.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Unique id (`rule_id` of `Personalization Viewed`).
    pub id: String,
    /// The slot it fills (`data-sillage-slot`).
    pub slot: String,
    /// When it applies (`{}` when `when` is absent: always).
    pub when: Condition,
    /// Keys of `when`'s top-level clauses, to name the one that failed.
    pub when_keys: Vec<String>,
    /// What it shows.
    pub content: Content,
    /// Higher goes first (default 0).
    pub priority: f64,
    /// The experiment measuring it, if any.
    pub experiment: Option<Experiment>,
    /// Its index in the config's `rules` array.
    pub position: usize,
}

/// The parsed `audiences` and `rules`: what [`decide`] reads.
#[derive(Clone, Debug, Default)]
pub struct RuleSet {
    /// Audiences in evaluation order.
    pub audiences: Audiences,
    /// The usable rules, in config order.
    pub rules: Vec<Rule>,
    /// Each slot (in order of first appearance) with its rules' indices in
    /// decision order.
    slots: Vec<(String, Vec<usize>)>,
}

/// A slot or variant name: non-empty, no `/` (it separates them in
/// `slot/variant`), no white space.
fn is_name(s: &str) -> bool {
    !s.is_empty() && !s.has_char(|c: char| c == '/' || c.is_ascii_whitespace())
}

fn name_at(item: &Json, at: &str, key: &str, out: &mut Vec<Diagnostic>) -> Option<String> {
    let path = key_path(at, key);
    match item.get(key) {
        Some(Json::Str(s)) if is_name(s) => Some(s.clone()),
        Some(Json::Str(_)) => {
            out.push(Diagnostic::new(
                path,
                t!("must be a non-empty name without / or spaces"),
            ));
            None
        }
        Some(other) => {
            out.push(type_error(&path, t!("must be a string, not {}"), other));
            None
        }
        None => {
            out.push(Diagnostic::new(path, t!("missing")));
            None
        }
    }
}

/// The content of `item` (a rule or a variation object): exactly one of
/// `variant` or `actions`; `None` when absent (reported if `required`) or bad.
pub(crate) fn parse_content_into(
    item: &Json,
    at: &str,
    required: bool,
    out: &mut Vec<Diagnostic>,
) -> Option<Content> {
    match (item.get("variant"), item.get("actions")) {
        (Some(_), Some(_)) => {
            out.push(Diagnostic::new(
                at,
                t!("has both variant and actions: keep one"),
            ));
            None
        }
        (Some(_), None) => name_at(item, at, "variant", out).map(Content::Variant),
        (None, Some(a)) => actions::parse(a, &key_path(at, "actions"), out).map(Content::Actions),
        (None, None) => {
            if required {
                out.push(Diagnostic::new(at, t!("needs a variant or actions")));
            }
            None
        }
    }
}

impl RuleSet {
    /// Parses the `audiences` and `rules` sections (either may be absent).
    pub fn parse(
        audiences: Option<&Json>,
        rules: Option<&Json>,
        host: &dyn JsHost,
        out: &mut Vec<Diagnostic>,
    ) -> RuleSet {
        let mut set = RuleSet {
            audiences: audiences
                .map_or_else(Audiences::default, |a| Audiences::parse(a, host, out)),
            ..RuleSet::default()
        };
        let Some(rules) = rules else {
            return set;
        };
        let Json::Arr(items) = rules else {
            out.push(type_error(
                "rules",
                t!("must be an array of rules, not {}"),
                rules,
            ));
            return set;
        };
        let empty = Json::obj();
        for (i, item) in items.iter().enumerate() {
            let at = index_path("rules", i);
            if i >= MAX_RULES {
                out.push(Diagnostic::new(
                    at,
                    t!("more than 1000 rules: the rest are ignored"),
                ));
                break;
            }
            let Json::Obj(entries) = item else {
                out.push(type_error(
                    &at,
                    t!("must be a rule object {id, slot, when, ...}, not {}"),
                    item,
                ));
                continue;
            };
            let before = out.len();
            check_keys(entries, &at, RULE_KEYS, out);
            let id = required_string(item, &at, "id", out);
            if let Some(id) = id
                .as_ref()
                .filter(|id| set.rules.iter().any(|r| r.id == **id))
            {
                out.push(
                    Diagnostic::new(key_path(&at, "id"), t!("duplicate rule id \"{}\""))
                        .arg(id.as_str()),
                );
            }
            let slot = name_at(item, &at, "slot", out);
            let when_json = item.get("when").unwrap_or(&empty);
            let when_path = key_path(&at, "when");
            let (when, diags) = Condition::parse_checked(when_json, &when_path, host);
            out.extend(diags);
            audiences::check_references(when_json, &when_path, set.audiences.declared(), out);
            let content = parse_content_into(item, &at, true, out);
            let priority = match item.get("priority") {
                None => 0.0,
                Some(Json::Num(n)) => *n,
                Some(other) => {
                    out.push(type_error(
                        &key_path(&at, "priority"),
                        t!("must be a number, not {}"),
                        other,
                    ));
                    0.0
                }
            };
            let experiment = item
                .get("experiment")
                .and_then(|e| experiment::parse(e, &key_path(&at, "experiment"), out));
            if let Some(e) = &experiment {
                let taken = set
                    .rules
                    .iter()
                    .any(|r| r.experiment.as_ref().is_some_and(|x| x.key == e.key));
                if taken {
                    out.push(
                        Diagnostic::new(
                            key_path(&at, "experiment.key"),
                            t!("duplicate experiment key \"{}\""),
                        )
                        .arg(e.key.as_str()),
                    );
                }
            }
            let (Some(id), Some(slot), Some(content)) = (id, slot, content) else {
                continue;
            };
            if out.len() != before {
                continue;
            }
            set.rules.push(Rule {
                id,
                slot,
                when_keys: clause_keys(when_json)
                    .into_iter()
                    .map(str::to_string)
                    .collect(),
                when,
                content,
                priority,
                experiment,
                position: i,
            });
        }
        for (ri, r) in set.rules.iter().enumerate() {
            match set.slots.iter_mut().find(|(s, _)| *s == r.slot) {
                Some((_, order)) => order.push(ri),
                None => set.slots.push((r.slot.clone(), vec![ri])),
            }
        }
        let rules = &set.rules;
        for (_, order) in &mut set.slots {
            // Higher priority first; equal priorities keep their position.
            crate::support::sort::sort_small(order, |&a, &b| {
                rules.get(a).map_or(0.0, |r| r.priority) > rules.get(b).map_or(0.0, |r| r.priority)
            });
        }
        set
    }

    /// The slots that have rules, in order of first appearance, each with
    /// its rules in decision order.
    pub fn slots(&self) -> impl Iterator<Item = (&str, impl Iterator<Item = &Rule>)> {
        self.slots
            .iter()
            .map(|(s, order)| (s.as_str(), order.iter().filter_map(|&i| self.rules.get(i))))
    }

    /// The rule with `id`.
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }
}
