//! Personalization as data: what the page needs, beyond the decision, to
//! render a slot and to measure it.
//!
//! The rules engine ([`crate::decide::rules::decide()`]) says what each slot
//! shows; this module works out the parts that depend on the visitor's
//! profile and the site's catalog, and the measurement events:
//!
//! - [`order_by_affinity`]: the `reorder` action, "sort by what I care
//!   about": a slot's children ordered by the visitor's interest in their
//!   topics (`data-sillage-topics`), stably, so equal children keep the
//!   site's order;
//! - [`recommend()`]: the `recommend` action's items: cross-sell (the
//!   complements of what is in the cart), up-sell (the next tier up in the
//!   same topic), or the visitor's top interests;
//! - [`exposure`]: the `Personalization Viewed` / `Experiment Viewed` event a
//!   rendered slot records, and [`Exposures`], which keeps `Experiment Viewed`
//!   to once per session per experiment.
//!
//! Everything here is pure; the web shell reads the DOM and applies.

use crate::decide::rules::{CatalogItem, Strategy};
use crate::decide::rules::{Shown, SlotDecision};
use crate::support::json::Json;
use crate::support::sort::sort_small;
use crate::support::strsearch::CharSearch;

/// How much the visitor cares about something with these topics: the
/// strongest interest among them, plus a tenth of the others (so two
/// matching topics beat one), 0 when none matches.
pub fn affinity<'a>(topics: impl IntoIterator<Item = &'a str>, interests: &[(String, f64)]) -> f64 {
    let (mut best, mut sum) = (0.0f64, 0.0);
    for t in topics {
        if let Some((_, s)) = interests.iter().find(|(k, _)| k == t) {
            best = best.max(*s);
            sum += s;
        }
    }
    best + (sum - best) / 10.0
}

/// The order of a slot's children (each given by its topics) by the
/// visitor's affinity, strongest first; children of equal affinity (and
/// those without topics) keep their order.
pub fn order_by_affinity(children: &[Vec<String>], interests: &[(String, f64)]) -> Vec<usize> {
    let scores: Vec<f64> = children
        .iter()
        .map(|t| affinity(t.iter().map(String::as_str), interests))
        .collect();
    let mut order: Vec<usize> = (0..children.len()).collect();
    let score = |i: &usize| scores.get(*i).copied().unwrap_or(0.0);
    sort_small(&mut order, |a, b| score(a) > score(b));
    order
}

/// The catalog items to show for `strategy`, at most `limit`, never one
/// already in the cart. Empty when the strategy finds nothing (the slot then
/// keeps its default content).
pub fn recommend<'a>(
    catalog: &'a [CatalogItem],
    strategy: Strategy,
    limit: usize,
    cart: &[String],
    interests: &[(String, f64)],
) -> Vec<&'a CatalogItem> {
    let in_cart: Vec<&str> = cart.iter().map(String::as_str).collect();
    let find = |id: &str| catalog.iter().find(|c| c.id == id);
    let mut out: Vec<&CatalogItem> = Vec::new();
    let push = |out: &mut Vec<&'a CatalogItem>, item: &'a CatalogItem| {
        if out.len() < limit
            && !in_cart.contains(&item.id.as_str())
            && !out.iter().any(|o| o.id == item.id)
        {
            out.push(item);
        }
    };
    match strategy {
        Strategy::CrossSell => {
            // What goes with the cart's items, in cart order; then the items
            // that name a cart item as their complement.
            for id in &in_cart {
                if let Some(item) = find(id) {
                    for c in item.complements.iter().filter_map(|c| find(c)) {
                        push(&mut out, c);
                    }
                }
            }
            for item in catalog {
                if item
                    .complements
                    .iter()
                    .any(|c| in_cart.contains(&c.as_str()))
                {
                    push(&mut out, item);
                }
            }
        }
        Strategy::UpSell => {
            // For each cart item with a tier: the items of a higher tier that
            // share a topic, the nearest tier first.
            for id in &in_cart {
                let Some(base) = find(id) else { continue };
                let Some(tier) = base.tier else { continue };
                let mut better: Vec<&CatalogItem> = catalog
                    .iter()
                    .filter(|c| {
                        c.tier.is_some_and(|t| t > tier)
                            && c.topics.iter().any(|t| base.topics.contains(t))
                    })
                    .collect();
                sort_small(&mut better, |a, b| a.tier < b.tier);
                for c in better {
                    push(&mut out, c);
                }
            }
        }
        Strategy::Interests => {
            let mut scored: Vec<(&CatalogItem, f64)> = catalog
                .iter()
                .map(|c| (c, affinity(c.topics.iter().map(String::as_str), interests)))
                .filter(|(_, s)| *s > 0.0)
                .collect();
            sort_small(&mut scored, |a, b| a.1 > b.1);
            for (c, _) in scored {
                push(&mut out, c);
            }
        }
    }
    out
}

/// The name a slot's content is measured by: the variant, `actions`, or
/// `default` (a control or holdout visitor).
pub fn shown_label<'a>(sd: &SlotDecision<'a>) -> &'a str {
    match sd.shown {
        Shown::Default => "default",
        Shown::Variant(v) => v,
        Shown::Actions(_) => "actions",
    }
}

/// The event a slot records once it is rendered: `Experiment Viewed`
/// (`experiment_id`, `variation_id`, `in_holdout`, and the slot) for a rule
/// running an experiment, whatever the visitor sees (control and holdout
/// included: that is what makes the comparison); `Personalization Viewed`
/// (`slot`, `rule_id`, `variant`) for a plain rule; nothing for the default
/// content or a forced preview.
pub fn exposure(sd: &SlotDecision) -> Option<(&'static str, Json)> {
    if sd.forced {
        return None;
    }
    let rule = sd.rule?;
    Some(match &sd.experiment {
        Some(e) => (
            "Experiment Viewed",
            Json::obj()
                .with("experiment_id", e.key)
                .with("variation_id", e.variation_id)
                .with("in_holdout", e.in_holdout)
                .with("slot", sd.slot)
                .with("rule_id", rule.id.as_str()),
        ),
        None => (
            "Personalization Viewed",
            Json::obj()
                .with("slot", sd.slot)
                .with("rule_id", rule.id.as_str())
                .with("variant", shown_label(sd)),
        ),
    })
}

/// Storage key of [`Exposures`].
pub const EXPOSURES_KEY: &str = "sillage.exposures";

/// The experiments already exposed in the current session, so that
/// `Experiment Viewed` is recorded once per session per experiment (shared
/// by the tabs through one stored value: `sessionId|key,key`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Exposures {
    session: String,
    keys: Vec<String>,
}

/// Most experiment keys remembered for one session.
const MAX_EXPOSURES: usize = 100;

impl Exposures {
    /// Reads the stored form; anything unreadable is an empty record.
    pub fn decode(v: &str) -> Exposures {
        match v.split_at_char('|') {
            Some((session, keys)) => Exposures {
                session: session.to_string(),
                keys: keys
                    .split(',')
                    .filter(|k| !k.is_empty())
                    .take(MAX_EXPOSURES)
                    .map(str::to_string)
                    .collect(),
            },
            None => Exposures::default(),
        }
    }

    /// The stored form.
    pub fn encode(&self) -> String {
        let mut s = self.session.clone();
        s.push('|');
        for (i, k) in self.keys.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(k);
        }
        s
    }

    /// Whether `key` should be recorded now in `session`; remembers it if
    /// so. A new session starts a new record.
    pub fn first_in_session(&mut self, session: &str, key: &str) -> bool {
        if self.session != session {
            self.session = session.to_string();
            self.keys.clear();
        }
        // Keys are config names (no `,` or `|` survive as such).
        let key: String = key.chars().filter(|c| *c != ',' && *c != '|').collect();
        if self.keys.contains(&key) {
            return false;
        }
        if self.keys.len() < MAX_EXPOSURES {
            self.keys.push(key);
        }
        true
    }
}
