//! Experiments: which variation of a rule a visitor sees, whether they are
//! held out, and the sticky record of both.
//!
//! Why GrowthBook's hashing: a site that also runs GrowthBook on its server
//! gets the same split for the same key and visitor id. The seeds, exactly:
//!
//! - **variation**: `n = hash(seed = key, value = anonymousId, version 2)`,
//!   i.e. FNV-1a 32 of the decimal text of FNV-1a 32 of `key + anonymousId`,
//!   modulo 10,000, over 10,000; the variation is the bucket range holding `n`
//!   (`getBucketRanges(variants, coverage, weights)`); outside every range the
//!   visitor is not in the experiment and the rule is passed over.
//! - **holdout**: `hash(seed = "holdout:" + key, value = anonymousId,
//!   version 2) < holdout`. A second, independent hash, so changing weights or
//!   coverage never moves anyone in or out of the holdout.
//!
//! Assignments are sticky: once made they are kept in [`Assignments`] (the
//! profile persists them) and reused even when weights change, until the
//! experiment's `bucketVersion` changes; then the visitor is assigned afresh
//! from the current weights (as GrowthBook's sticky bucketing does). The hash
//! itself does not depend on `bucketVersion`: to reshuffle everyone, use a new
//! key.

use super::{parse_content_into, Content};
use crate::decide::bucket::{choose_variation, get_bucket_ranges, hash};
use crate::support::diag::{
    check_keys, index_path, key_path, required_string, type_error, Diagnostic,
};
use crate::support::json::Json;
use crate::support::time::Millis;
use crate::t;

/// Share of visitors held out by default (they see the default content).
pub const DEFAULT_HOLDOUT: f64 = 0.05;
/// Most variations in one experiment (control included).
pub const MAX_VARIATIONS: usize = 10;
/// Most assignments kept; past it the oldest is forgotten.
pub const MAX_ASSIGNMENTS: usize = 50;
/// Prefix of the holdout hash seed (`"holdout:" + key`).
pub const HOLDOUT_SEED_PREFIX: &str = "holdout:";

/// Keys of `rules[i].experiment`.
pub const EXPERIMENT_KEYS: &[&str] = &[
    "key",
    "variants",
    "weights",
    "coverage",
    "holdout",
    "bucketVersion",
];
/// Keys of a variation given as an object.
pub const VARIATION_KEYS: &[&str] = &["id", "variant", "actions"];

/// `rules[i].experiment`: the rule's content measured against the default.
#[derive(Clone, Debug, PartialEq)]
pub struct Experiment {
    /// The experiment key (hash seed, `experiment_id` of `Experiment Viewed`).
    pub key: String,
    /// The variations; `[0]` is the control, which sees the default content.
    pub variations: Vec<Variation>,
    /// Weight of each variation (equal when not given), summing to 1.
    pub weights: Vec<f64>,
    /// Share of visitors in the experiment (default 1).
    pub coverage: f64,
    /// Share of the experiment's visitors held out (default 0.05).
    pub holdout: f64,
    /// Changing it discards earlier sticky assignments (default 0).
    pub bucket_version: u32,
    ranges: Vec<(f64, f64)>,
}

/// One variation of an experiment.
#[derive(Clone, Debug, PartialEq)]
pub struct Variation {
    /// Its id, reported as `variation_id` alongside the index.
    pub id: String,
    /// Its own content; `None` shows the rule's (or, for the control, the
    /// default content).
    pub content: Option<Content>,
}

/// The outcome of [`Experiment::assign`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Assigned {
    /// Variation index (0 is the control).
    pub variation: u32,
    /// Held out: sees the default content whatever the variation.
    pub in_holdout: bool,
    /// Read from the store rather than hashed now.
    pub sticky: bool,
}

impl Experiment {
    /// The visitor's variation: the stored one when its `bucketVersion` is
    /// current, else hashed. `None` when the visitor falls outside the
    /// coverage or has no id.
    pub fn assign(&self, anonymous_id: &str, store: &Assignments) -> Option<Assigned> {
        if let Some(a) = store.get(&self.key) {
            if a.bucket_version == self.bucket_version
                && (a.variation as usize) < self.variations.len()
            {
                return Some(Assigned {
                    variation: a.variation,
                    in_holdout: a.in_holdout,
                    sticky: true,
                });
            }
        }
        if anonymous_id.is_empty() {
            return None;
        }
        let n = hash(&self.key, anonymous_id, 2)?;
        let variation = u32::try_from(choose_variation(n, &self.ranges)).ok()?;
        let mut seed = String::with_capacity(HOLDOUT_SEED_PREFIX.len() + self.key.len());
        seed.push_str(HOLDOUT_SEED_PREFIX);
        seed.push_str(&self.key);
        let in_holdout = self.holdout > 0.0 && hash(&seed, anonymous_id, 2)? < self.holdout;
        Some(Assigned {
            variation,
            in_holdout,
            sticky: false,
        })
    }
}

/// A sticky assignment, as the profile stores it.
#[derive(Clone, Debug, PartialEq)]
pub struct Assignment {
    /// Experiment key.
    pub key: String,
    /// Variation index.
    pub variation: u32,
    /// Held out.
    pub in_holdout: bool,
    /// The experiment's `bucketVersion` when assigned.
    pub bucket_version: u32,
    /// When it was made (for forgetting the oldest).
    pub at: Millis,
}

/// The visitor's sticky assignments, at most [`MAX_ASSIGNMENTS`], one per key.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Assignments(Vec<Assignment>);

impl Assignments {
    /// No assignments.
    pub fn new() -> Assignments {
        Assignments(Vec::new())
    }

    /// The assignment for `key`.
    pub fn get(&self, key: &str) -> Option<&Assignment> {
        self.0.iter().find(|a| a.key == key)
    }

    /// Records `a`, replacing the one with the same key; when full, the
    /// oldest is forgotten.
    pub fn insert(&mut self, a: Assignment) {
        if let Some(old) = self.0.iter_mut().find(|x| x.key == a.key) {
            *old = a;
            return;
        }
        if self.0.len() >= MAX_ASSIGNMENTS {
            let oldest = (0..self.0.len()).min_by(|&i, &j| self.0[i].at.total_cmp(&self.0[j].at));
            if let Some(i) = oldest {
                self.0.swap_remove(i);
            }
        }
        self.0.push(a);
    }

    /// All assignments.
    pub fn iter(&self) -> impl Iterator<Item = &Assignment> {
        self.0.iter()
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// None stored.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Storage form: `[{key, variation, inHoldout, bucketVersion, at}]`.
    pub fn to_json(&self) -> Json {
        Json::Arr(
            self.0
                .iter()
                .map(|a| {
                    Json::obj()
                        .with("key", a.key.as_str())
                        .with("variation", f64::from(a.variation))
                        .with("inHoldout", a.in_holdout)
                        .with("bucketVersion", f64::from(a.bucket_version))
                        .with("at", a.at)
                })
                .collect(),
        )
    }

    /// Reads [`Assignments::to_json`]'s form; unreadable entries are dropped.
    pub fn from_json(v: &Json) -> Assignments {
        let mut out = Assignments::new();
        for item in v.as_arr().unwrap_or(&[]) {
            let int = |k: &str| {
                item.get(k)
                    .and_then(Json::as_f64)
                    .filter(|n| n.fract() == 0.0 && *n >= 0.0 && *n <= f64::from(u32::MAX))
                    .map(|n| n as u32)
            };
            let (Some(key), Some(variation), Some(bucket_version)) = (
                item.get("key").and_then(Json::as_str),
                int("variation"),
                int("bucketVersion"),
            ) else {
                continue;
            };
            out.insert(Assignment {
                key: key.to_string(),
                variation,
                in_holdout: item.get("inHoldout").and_then(Json::as_bool) == Some(true),
                bucket_version,
                at: item.get("at").and_then(Json::as_f64).unwrap_or(0.0),
            });
        }
        out
    }
}

/// A number in `[min, max]` at `obj.key`, `default` when absent.
fn fraction(obj: &Json, path: &str, key: &str, default: f64, out: &mut Vec<Diagnostic>) -> f64 {
    match obj.get(key) {
        None => default,
        Some(Json::Num(n)) if (0.0..=1.0).contains(n) => *n,
        Some(v) => {
            out.push(type_error(
                &key_path(path, key),
                t!("must be a number from 0 to 1, not {}"),
                v,
            ));
            default
        }
    }
}

/// Parses `experiment` at `path`; problems are pushed to `out` (the caller
/// skips the rule when there are any).
pub(crate) fn parse(v: &Json, path: &str, out: &mut Vec<Diagnostic>) -> Option<Experiment> {
    let Json::Obj(entries) = v else {
        out.push(type_error(path, t!("must be an object, not {}"), v));
        return None;
    };
    check_keys(entries, path, EXPERIMENT_KEYS, out);
    let key = required_string(v, path, "key", out).unwrap_or_default();
    let vpath = key_path(path, "variants");
    let mut variations: Vec<Variation> = Vec::new();
    match v.get("variants") {
        Some(Json::Arr(items)) if (2..=MAX_VARIATIONS).contains(&items.len()) => {
            for (i, item) in items.iter().enumerate() {
                let at = index_path(&vpath, i);
                let var = match item {
                    Json::Str(s) => Variation {
                        id: s.clone(),
                        content: None,
                    },
                    Json::Obj(o) => {
                        check_keys(o, &at, VARIATION_KEYS, out);
                        let id = required_string(item, &at, "id", out).unwrap_or_default();
                        let content = parse_content_into(item, &at, false, out);
                        if i == 0 && content.is_some() {
                            out.push(Diagnostic::new(
                                at.clone(),
                                t!("the control (variants[0]) always shows the default content"),
                            ));
                        }
                        Variation { id, content }
                    }
                    other => {
                        out.push(type_error(
                            &at,
                            t!("must be a variation id or {id, variant | actions}, not {}"),
                            other,
                        ));
                        continue;
                    }
                };
                if var.id.trim().is_empty() {
                    if matches!(item, Json::Str(_)) {
                        out.push(Diagnostic::new(
                            at,
                            t!("variation id must be a non-empty string"),
                        ));
                    }
                } else if variations.iter().any(|x| x.id == var.id) {
                    out.push(
                        Diagnostic::new(at, t!("duplicate variation id \"{}\""))
                            .arg(var.id.as_str()),
                    );
                }
                variations.push(var);
            }
        }
        Some(Json::Arr(_)) => out.push(Diagnostic::new(
            vpath.clone(),
            t!("must list from 2 to 10 variations (the control first)"),
        )),
        Some(other) => out.push(type_error(
            &vpath,
            t!("must be an array of variations, not {}"),
            other,
        )),
        None => out.push(Diagnostic::new(vpath.clone(), t!("missing"))),
    }
    let n = variations.len();
    let weights = match v.get("weights") {
        None => vec![1.0 / n.max(1) as f64; n],
        Some(Json::Arr(ws)) => {
            let wpath = key_path(path, "weights");
            let nums: Vec<f64> = ws.iter().filter_map(Json::as_f64).collect();
            let sum: f64 = nums.iter().sum();
            if nums.len() != ws.len() || nums.iter().any(|w| !(0.0..=1.0).contains(w)) {
                out.push(Diagnostic::new(wpath, t!("must be numbers from 0 to 1")));
            } else if nums.len() != n {
                out.push(
                    Diagnostic::new(wpath, t!("must have one weight per variation ({}), not {}"))
                        .num(n as u64)
                        .num(nums.len() as u64),
                );
            } else if !(0.99..=1.01).contains(&sum) {
                out.push(Diagnostic::new(wpath, t!("must add up to 1")));
            }
            nums
        }
        Some(other) => {
            out.push(type_error(
                &key_path(path, "weights"),
                t!("must be an array of numbers, not {}"),
                other,
            ));
            Vec::new()
        }
    };
    let coverage = fraction(v, path, "coverage", 1.0, out);
    let holdout = fraction(v, path, "holdout", DEFAULT_HOLDOUT, out);
    let bucket_version = match v.get("bucketVersion") {
        None => 0,
        Some(Json::Num(x)) if x.fract() == 0.0 && (0.0..=1e9).contains(x) => *x as u32,
        Some(other) => {
            out.push(type_error(
                &key_path(path, "bucketVersion"),
                t!("must be a whole number from 0, not {}"),
                other,
            ));
            0
        }
    };
    let ranges = get_bucket_ranges(n as i64, coverage, Some(&weights));
    Some(Experiment {
        key,
        variations,
        weights,
        coverage,
        holdout,
        bucket_version,
        ranges,
    })
}
