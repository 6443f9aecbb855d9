//! The decision: for each slot, the winning rule's content (or the default)
//! and why, as data the page applies and `sillage explain` prints.

use super::experiment::{Assignment, Assignments};
use super::{Action, Content, Rule, RuleSet};
use crate::decide::attributes::STAGES;
use crate::decide::condition::JsHost;
use crate::support::diag::Diagnostic;
use crate::support::json::Json;
use crate::support::strsearch::CharSearch;
use crate::support::time::Millis;
use crate::t;

/// The previews of `?sillage_debug`, `?sillage_force` and `?sillage_stage`
/// (honoured only when the config allows `debug`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Preview {
    /// `?sillage_debug=1`: log each slot's decision and reasons.
    pub debug: bool,
    /// `?sillage_force=slot/variant` (repeatable, or comma-separated): show
    /// that variant in that slot whatever the rules say.
    pub force: Vec<(String, String)>,
    /// `?sillage_stage=purchase`: simulate a journey stage (the attributes
    /// builder reads it).
    pub stage: Option<String>,
}

/// The query parameters of [`Preview`].
pub const PREVIEW_PARAMS: &[&str] = &["sillage_debug", "sillage_force", "sillage_stage"];

impl Preview {
    /// Reads the preview parameters from a page query (without `?`). When
    /// `allowed` is false (no `"debug": true` in the config) they are ignored
    /// and reported.
    pub fn from_query(query: &str, allowed: bool, out: &mut Vec<Diagnostic>) -> Preview {
        let mut p = Preview::default();
        for (k, v) in crate::support::url::query_pairs(query) {
            let Some(name) = PREVIEW_PARAMS.iter().find(|n| **n == k) else {
                continue;
            };
            let mut path = String::from("?");
            path.push_str(name);
            if !allowed {
                out.push(Diagnostic::new(
                    path,
                    t!("previews are off (set \"debug\": true in the config)"),
                ));
                continue;
            }
            match *name {
                "sillage_debug" => p.debug = !matches!(v.as_str(), "0" | "false"),
                "sillage_force" => {
                    for item in v.split(',').filter(|s| !s.is_empty()) {
                        match item.split_at_char('/') {
                            Some((s, var)) if super::is_name(s) && super::is_name(var) => {
                                p.force.push((s.to_string(), var.to_string()))
                            }
                            _ => {
                                out.push(
                                    Diagnostic::new(
                                        path.clone(),
                                        t!("expected slot/variant, got \"{}\""),
                                    )
                                    .arg(item),
                                );
                            }
                        }
                    }
                }
                _ => match STAGES.iter().find(|s| **s == v) {
                    Some(s) => p.stage = Some(s.to_string()),
                    None => out.push(Diagnostic::unknown(
                        path,
                        t!("unknown stage \"{}\""),
                        &v,
                        &STAGES,
                    )),
                },
            }
        }
        p
    }

    /// The variant forced for `slot`.
    pub fn forced(&self, slot: &str) -> Option<&str> {
        self.force
            .iter()
            .find(|(s, _)| s == slot)
            .map(|(_, v)| v.as_str())
    }
}

/// What [`decide`] needs besides the attributes and the rules.
pub struct Ctx<'a> {
    /// The visitor's anonymous id (hashed for experiments).
    pub anonymous_id: &'a str,
    /// Sticky experiment assignments (read only; new ones are returned in
    /// [`Decision::assigned`]).
    pub assignments: &'a Assignments,
    /// Previews (empty unless the config allows `debug`).
    pub preview: &'a Preview,
    /// JavaScript built-ins for conditions.
    pub host: &'a dyn JsHost,
    /// Now, stamped on new assignments.
    pub now: Millis,
}

/// What a slot shows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shown<'a> {
    /// Its default content (no rule, control or holdout).
    Default,
    /// The variant template `slot/name`.
    Variant(&'a str),
    /// These actions.
    Actions(&'a [Action]),
}

impl<'a> Shown<'a> {
    fn of(c: &'a Content) -> Shown<'a> {
        match c {
            Content::Variant(v) => Shown::Variant(v),
            Content::Actions(a) => Shown::Actions(a),
        }
    }
}

/// Why a rule did or did not win.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict<'a> {
    /// Its `when` matched: it won.
    Matched,
    /// This top-level clause of `when` failed (its key, as written).
    Failed(&'a str),
    /// Its `when` cannot be evaluated (too deep): false.
    Invalid,
    /// It matched, but the visitor falls outside the experiment's coverage.
    NotInExperiment,
}

/// One rule considered for a slot.
#[derive(Clone, Copy, Debug)]
pub struct Reason<'a> {
    /// The rule.
    pub rule: &'a Rule,
    /// What happened.
    pub verdict: Verdict<'a>,
}

/// The experiment side of a slot's decision (for `Experiment Viewed`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExperimentInfo<'a> {
    /// Experiment key (`experiment_id`).
    pub key: &'a str,
    /// Variation index (0 is the control).
    pub variation: u32,
    /// Variation id as written in the config.
    pub variation_id: &'a str,
    /// Held out (sees the default content).
    pub in_holdout: bool,
    /// From the sticky store rather than hashed now.
    pub sticky: bool,
}

/// One slot's decision.
#[derive(Clone, Debug)]
pub struct SlotDecision<'a> {
    /// The slot name.
    pub slot: &'a str,
    /// The winning rule (also for the control and the holdout of an experiment).
    pub rule: Option<&'a Rule>,
    /// What to show.
    pub shown: Shown<'a>,
    /// Set when the winning rule runs an experiment.
    pub experiment: Option<ExperimentInfo<'a>>,
    /// Shown by `?sillage_force`, not by the rules.
    pub forced: bool,
    /// Every rule considered, in order, the winner last.
    pub why: Vec<Reason<'a>>,
}

/// The decision for every slot that has rules (or is forced).
#[derive(Clone, Debug, Default)]
pub struct Decision<'a> {
    /// Per slot, in the order slots first appear in the rules, then forced
    /// slots without rules.
    pub slots: Vec<SlotDecision<'a>>,
    /// Experiment assignments made now, for the sticky store.
    pub assigned: Vec<Assignment>,
}

/// Decides every slot. Pure: the same inputs give the same decision.
///
/// `attributes` is the object of `crate::decide::attributes::build`
/// (with `audiences`). Nothing of `rules` is cloned: the decision borrows.
pub fn decide<'a>(attributes: &Json, rules: &'a RuleSet, ctx: &Ctx<'a>) -> Decision<'a> {
    let mut d = Decision {
        slots: Vec::with_capacity(rules.slots.len()),
        assigned: Vec::new(),
    };
    for (slot, order) in &rules.slots {
        if let Some(v) = ctx.preview.forced(slot) {
            d.slots.push(forced(slot, v));
            continue;
        }
        let mut sd = SlotDecision {
            slot,
            rule: None,
            shown: Shown::Default,
            experiment: None,
            forced: false,
            why: Vec::new(),
        };
        for rule in order.iter().filter_map(|&i| rules.rules.get(i)) {
            let verdict = match rule.when.eval_why(attributes, &Json::Null, ctx.host) {
                Ok(()) => Verdict::Matched,
                Err(Some(i)) => Verdict::Failed(rule.when_keys.get(i).map_or("", String::as_str)),
                Err(None) => Verdict::Invalid,
            };
            if verdict != Verdict::Matched {
                sd.why.push(Reason { rule, verdict });
                continue;
            }
            let shown = match &rule.experiment {
                None => Shown::of(&rule.content),
                Some(exp) => {
                    let Some(a) = exp.assign(ctx.anonymous_id, ctx.assignments) else {
                        sd.why.push(Reason {
                            rule,
                            verdict: Verdict::NotInExperiment,
                        });
                        continue;
                    };
                    if !a.sticky {
                        d.assigned.push(Assignment {
                            key: exp.key.clone(),
                            variation: a.variation,
                            in_holdout: a.in_holdout,
                            bucket_version: exp.bucket_version,
                            at: ctx.now,
                        });
                    }
                    let var = exp.variations.get(a.variation as usize);
                    sd.experiment = Some(ExperimentInfo {
                        key: &exp.key,
                        variation: a.variation,
                        variation_id: var.map_or("", |v| v.id.as_str()),
                        in_holdout: a.in_holdout,
                        sticky: a.sticky,
                    });
                    if a.in_holdout || a.variation == 0 {
                        Shown::Default
                    } else {
                        Shown::of(
                            var.and_then(|v| v.content.as_ref())
                                .unwrap_or(&rule.content),
                        )
                    }
                }
            };
            sd.why.push(Reason { rule, verdict });
            sd.rule = Some(rule);
            sd.shown = shown;
            break;
        }
        d.slots.push(sd);
    }
    for (slot, v) in &ctx.preview.force {
        if !d.slots.iter().any(|s| s.slot == slot) {
            d.slots.push(forced(slot, v));
        }
    }
    d
}

fn forced<'a>(slot: &'a str, variant: &'a str) -> SlotDecision<'a> {
    SlotDecision {
        slot,
        rule: None,
        shown: Shown::Variant(variant),
        experiment: None,
        forced: true,
        why: Vec::new(),
    }
}

impl Decision<'_> {
    /// The decision of `slot`.
    pub fn slot(&self, slot: &str) -> Option<&SlotDecision<'_>> {
        self.slots.iter().find(|s| s.slot == slot)
    }

    /// Machine-readable form (`sillage explain --json`, the debug console):
    /// `{"slots": [{"slot", "rule", "variant" | "actions" (count) | "default": true,
    /// "experiment"?: {"key", "variation", "variationId", "inHoldout", "sticky"},
    /// "forced", "why": [{"rule", "result": "matched" | "failed" | "invalid" |
    /// "not in experiment", "clause"?}]}], "assigned": [...]}`.
    pub fn to_json(&self) -> Json {
        let slots = self
            .slots
            .iter()
            .map(|s| {
                let mut o = Json::obj()
                    .with("slot", s.slot)
                    .with("rule", s.rule.map(|r| r.id.clone()));
                match s.shown {
                    Shown::Default => o.set("default", Json::Bool(true)),
                    Shown::Variant(v) => o.set("variant", v.into()),
                    Shown::Actions(a) => o.set("actions", Json::Num(a.len() as f64)),
                }
                if let Some(e) = &s.experiment {
                    o.set(
                        "experiment",
                        Json::obj()
                            .with("key", e.key)
                            .with("variation", f64::from(e.variation))
                            .with("variationId", e.variation_id)
                            .with("inHoldout", e.in_holdout)
                            .with("sticky", e.sticky),
                    );
                }
                o.set("forced", Json::Bool(s.forced));
                let why = s
                    .why
                    .iter()
                    .map(|r| {
                        let (result, clause) = match r.verdict {
                            Verdict::Matched => ("matched", None),
                            Verdict::Failed(c) => ("failed", Some(c)),
                            Verdict::Invalid => ("invalid", None),
                            Verdict::NotInExperiment => ("not in experiment", None),
                        };
                        let mut w = Json::obj()
                            .with("rule", r.rule.id.as_str())
                            .with("result", result);
                        if let Some(c) = clause {
                            w.set("clause", c.into());
                        }
                        w
                    })
                    .collect();
                o.with("why", Json::Arr(why))
            })
            .collect();
        let mut assigned = Assignments::new();
        for a in &self.assigned {
            assigned.insert(a.clone());
        }
        Json::obj()
            .with("slots", Json::Arr(slots))
            .with("assigned", assigned.to_json())
    }
}
