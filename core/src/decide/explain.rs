//! Why each slot shows what it shows, as one type: [`Explanation`].
//!
//! `sillage explain` prints it as text ([`Explanation::text`]) and the page
//! logs it as a console table under `?sillage_debug=1`
//! ([`Explanation::rows`]): one rendering of a decision, so the two never
//! disagree about a rule.

use crate::decide::rules::{Decision, Shown, Verdict};
use crate::support::diag::push_u64;
use crate::support::json::{write, Json};

/// What a slot shows.
#[derive(Clone, Debug, PartialEq)]
pub enum Shows {
    /// Its default content.
    Default,
    /// A variant template.
    Variant(String),
    /// This many actions.
    Actions(usize),
}

/// The experiment behind a slot's decision.
#[derive(Clone, Debug, PartialEq)]
pub struct ExperimentNote {
    /// Its key.
    pub key: String,
    /// The variation's index (0: the control).
    pub variation: u32,
    /// The variation's id.
    pub variation_id: String,
    /// Held out: sees the default.
    pub in_holdout: bool,
    /// From the visitor's sticky assignment rather than hashed now.
    pub sticky: bool,
}

/// What became of one rule considered for a slot.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// It matched.
    Matched,
    /// A clause failed: its key, the clause as written (when the config
    /// document is at hand), and the value the attribute had.
    Failed {
        /// The top-level key of `when` that failed.
        key: String,
        /// The clause's JSON text.
        clause: Option<String>,
        /// The attribute's value as JSON text (`None`: missing), for keys
        /// that are attributes.
        value: Option<String>,
    },
    /// Its condition cannot be evaluated.
    Invalid,
    /// It matched, but the visitor is outside the experiment's coverage.
    NotInExperiment,
}

/// One rule considered for a slot.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleNote {
    /// Its id.
    pub rule: String,
    /// Its priority.
    pub priority: f64,
    /// What became of it.
    pub outcome: Outcome,
}

/// One slot's decision, explained.
#[derive(Clone, Debug, PartialEq)]
pub struct SlotNote {
    /// The slot.
    pub slot: String,
    /// The winning rule.
    pub rule: Option<String>,
    /// What it shows.
    pub shows: Shows,
    /// The experiment, if the rule runs one.
    pub experiment: Option<ExperimentNote>,
    /// Forced by a preview (`?sillage_force`, `--force`).
    pub forced: bool,
    /// Every rule considered, in order, the winner last.
    pub why: Vec<RuleNote>,
}

/// Every slot's decision, explained. See the module docs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Explanation {
    /// One per slot.
    pub slots: Vec<SlotNote>,
}

/// `v` as compact JSON text, numbers as `number` writes them.
fn text(v: &Json, number: &dyn Fn(f64, &mut String)) -> String {
    let mut s = String::new();
    write(v, &mut s, number);
    s
}

impl Explanation {
    /// Explains `decision`, made on `attributes`. With the config document
    /// (`rules` as written), a failed clause is shown as written.
    pub fn new(
        decision: &Decision,
        attributes: &Json,
        config: Option<&Json>,
        number: &dyn Fn(f64, &mut String),
    ) -> Explanation {
        let rules = config.and_then(|c| c.get("rules")).and_then(Json::as_arr);
        let slots = decision
            .slots
            .iter()
            .map(|s| SlotNote {
                slot: s.slot.to_string(),
                rule: s.rule.map(|r| r.id.clone()),
                shows: match s.shown {
                    Shown::Default => Shows::Default,
                    Shown::Variant(v) => Shows::Variant(v.to_string()),
                    Shown::Actions(a) => Shows::Actions(a.len()),
                },
                experiment: s.experiment.map(|e| ExperimentNote {
                    key: e.key.to_string(),
                    variation: e.variation,
                    variation_id: e.variation_id.to_string(),
                    in_holdout: e.in_holdout,
                    sticky: e.sticky,
                }),
                forced: s.forced,
                why: s
                    .why
                    .iter()
                    .map(|r| RuleNote {
                        rule: r.rule.id.clone(),
                        priority: r.rule.priority,
                        outcome: match r.verdict {
                            Verdict::Matched => Outcome::Matched,
                            Verdict::Invalid => Outcome::Invalid,
                            Verdict::NotInExperiment => Outcome::NotInExperiment,
                            Verdict::Failed(key) => Outcome::Failed {
                                key: key.to_string(),
                                clause: rules
                                    .and_then(|rs| rs.get(r.rule.position))
                                    .and_then(|j| j.get("when"))
                                    .and_then(|w| w.get(key))
                                    .map(|c| text(c, number)),
                                value: (!key.starts_with('$'))
                                    .then(|| attributes.get_path(key).map(|v| text(v, number)))
                                    .flatten(),
                            },
                        },
                    })
                    .collect(),
            })
            .collect();
        Explanation { slots }
    }

    /// What `sillage explain` prints: a line per slot, then one per rule
    /// considered.
    pub fn text(&self, number: &dyn Fn(f64, &mut String)) -> String {
        let mut out = String::new();
        if self.slots.is_empty() {
            out.push_str("no slots: the config has no usable rules\n");
        }
        for s in &self.slots {
            out.push_str(&s.slot);
            out.push_str(": ");
            out.push_str(&s.shown());
            out.push_str(&s.by());
            out.push('\n');
            for r in &s.why {
                out.push_str("  rule ");
                out.push_str(&r.rule);
                out.push_str(" (priority ");
                out.push_str(&text(&Json::Num(r.priority), number));
                out.push_str("): ");
                out.push_str(&r.outcome.text());
                out.push('\n');
            }
        }
        out
    }

    /// The page's `console.table` under `?sillage_debug=1`: one row per
    /// slot (`slot`, `rule`, `shows`, `experiment`, `forced`, `why`).
    pub fn rows(&self) -> Json {
        Json::Arr(
            self.slots
                .iter()
                .map(|s| {
                    let mut why = String::new();
                    for r in &s.why {
                        if !why.is_empty() {
                            why.push_str("; ");
                        }
                        why.push_str(&r.rule);
                        why.push_str(": ");
                        why.push_str(&r.outcome.text());
                    }
                    Json::obj()
                        .with("slot", s.slot.as_str())
                        .with("rule", s.rule.clone())
                        .with("shows", s.shown())
                        .with(
                            "experiment",
                            s.experiment.as_ref().map(ExperimentNote::short),
                        )
                        .with("forced", s.forced)
                        .with("why", why)
                })
                .collect(),
        )
    }
}

impl ExperimentNote {
    /// `key/variation` (and ` (holdout)`).
    fn short(&self) -> String {
        let mut t = self.key.clone();
        t.push('/');
        t.push_str(&self.variation_id);
        if self.in_holdout {
            t.push_str(" (holdout)");
        }
        t
    }
}

impl SlotNote {
    /// `the default content`, `variant "v" (template slot/v)`, `2 actions`.
    fn shown(&self) -> String {
        match &self.shows {
            Shows::Default => "the default content".into(),
            Shows::Variant(v) => {
                let mut t = String::from("variant \"");
                t.push_str(v);
                t.push_str("\" (template ");
                t.push_str(&self.slot);
                t.push('/');
                t.push_str(v);
                t.push(')');
                t
            }
            Shows::Actions(n) => {
                let mut t = String::new();
                push_u64(&mut t, *n as u64);
                t.push_str(if *n == 1 { " action" } else { " actions" });
                t
            }
        }
    }

    /// ` by rule r, experiment k variation 1 "v", sticky` and the like.
    fn by(&self) -> String {
        if self.forced {
            return " (forced by --force)".into();
        }
        let Some(rule) = &self.rule else {
            return ": no rule matched".into();
        };
        let mut t = String::from(" by rule ");
        t.push_str(rule);
        if let Some(e) = &self.experiment {
            t.push_str(", experiment ");
            t.push_str(&e.key);
            t.push_str(" variation ");
            push_u64(&mut t, u64::from(e.variation));
            t.push_str(" \"");
            t.push_str(&e.variation_id);
            t.push('"');
            if e.in_holdout {
                t.push_str(", in the holdout");
            } else if e.variation == 0 {
                t.push_str(", the control");
            }
            t.push_str(if e.sticky {
                ", sticky"
            } else {
                ", assigned now"
            });
        }
        t
    }
}

impl Outcome {
    fn text(&self) -> String {
        match self {
            Outcome::Matched => "matched".into(),
            Outcome::Invalid => "its condition cannot be evaluated".into(),
            Outcome::NotInExperiment => {
                "matched, but this visitor is outside the experiment's coverage".into()
            }
            Outcome::Failed { key, clause, value } => {
                let mut t = String::from("failed: ");
                t.push_str(key);
                if let Some(c) = clause {
                    t.push(' ');
                    t.push_str(c);
                }
                if !key.starts_with('$') {
                    t.push_str(" (is ");
                    t.push_str(value.as_deref().unwrap_or("missing"));
                    t.push(')');
                }
                t
            }
        }
    }
}
