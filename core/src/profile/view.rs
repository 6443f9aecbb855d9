//! What personalization reads of the profile, typed: [`ProfileView`].
//!
//! Why not the snapshot: the snapshot is the page's JSON document
//! (`sillage.profile()`), with reasons, history and touches nobody decides
//! on. Conditions, recommendations and reorders read a handful of fields;
//! reading them from typed fields (not `snapshot.get_path("cart.products")`)
//! means a rename breaks the build, not a rule, and the view is the compact
//! thing that crosses to the personalization engine.

use super::{Profile, MIN_INTEREST, STAGES};
use crate::profile::model::INTENTS;
use crate::support::json::Json;
use crate::support::time::Millis;

/// The cart, as rules see it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CartView {
    /// Items (the sum of quantities).
    pub items: f64,
    /// Value (the sum of price × quantity).
    pub value: f64,
    /// Categories of the items, in cart order.
    pub categories: Vec<String>,
    /// Product ids, in cart order.
    pub products: Vec<String>,
}

/// What personalization reads of the profile. See the module docs. A
/// field is `None` when the profile does not say (no profile yet, or a
/// snapshot document without it): conditions then see no such attribute.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProfileView {
    /// The likely stage.
    pub stage: Option<String>,
    /// One probability per stage, in stage order.
    pub probabilities: Option<[f64; 5]>,
    /// Topic to score (0..1), strongest first.
    pub interests: Option<Vec<(String, f64)>>,
    /// The strongest topics' names.
    pub top_interests: Option<Vec<String>>,
    /// The signals: (name, value).
    pub signals: Option<Vec<(String, Json)>>,
    /// The channel of the last touch that was not Direct.
    pub last_channel: Option<String>,
    /// When the visitor was first seen (epoch ms).
    pub first_seen: Option<Millis>,
    /// Sessions on this device.
    pub sessions: Option<u32>,
    /// The cart.
    pub cart: Option<CartView>,
}

impl ProfileView {
    /// The interests, or none.
    pub fn interests(&self) -> &[(String, f64)] {
        self.interests.as_deref().unwrap_or(&[])
    }

    /// The view of a profile snapshot document (what `sillage.profile()`
    /// returns, and what `sillage explain` reads from a file).
    pub fn from_snapshot(s: &Json) -> ProfileView {
        let num = |v: Option<&Json>| v.and_then(Json::as_f64);
        let strings = |v: &Json| -> Vec<String> {
            v.as_arr()
                .unwrap_or(&[])
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        };
        let probabilities = s.get("stageProbabilities").map(|o| {
            let mut p = [0.0; 5];
            for (x, name) in p.iter_mut().zip(STAGES) {
                *x = num(o.get(name)).unwrap_or(0.0);
            }
            p
        });
        let interests = s.get("interests").and_then(Json::as_obj).map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_f64().map(|x| (k.clone(), x)))
                .collect()
        });
        let signals = s.get("signals").and_then(Json::as_obj).map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.get("value").cloned().unwrap_or(Json::Null)))
                .collect()
        });
        let cart = s.get("cart").map(|c| CartView {
            items: match c.get("items") {
                Some(Json::Arr(xs)) => xs.len() as f64,
                other => num(other).unwrap_or(0.0),
            },
            value: num(c.get("value")).unwrap_or(0.0),
            categories: c.get("categories").map(strings).unwrap_or_default(),
            products: c
                .get("products")
                .and_then(Json::as_arr)
                .unwrap_or(&[])
                .iter()
                .filter_map(|p| p.get("id").and_then(Json::as_str).map(str::to_string))
                .collect(),
        });
        ProfileView {
            stage: s.get("stage").and_then(Json::as_str).map(str::to_string),
            probabilities,
            interests,
            top_interests: s.get("topInterests").map(strings),
            signals,
            last_channel: s
                .get_path("lastTouch.channel")
                .and_then(Json::as_str)
                .map(str::to_string),
            first_seen: num(s.get("firstSeen")),
            sessions: num(s.get("sessions")).map(|n| n as u32),
            cart,
        }
    }
}

impl Profile {
    /// What personalization reads of the profile at `now`.
    pub fn view(&self, now: Millis) -> ProfileView {
        let sc = self.scores(now);
        let interests = self.interests_at(now);
        let top = interests
            .iter()
            .take(self.cfg.top_k)
            .map(|(t, _)| t.clone())
            .collect();
        ProfileView {
            stage: Some(sc.stage.as_str().to_string()),
            probabilities: Some(sc.probabilities),
            interests: Some(interests),
            top_interests: Some(top),
            signals: Some(
                INTENTS
                    .iter()
                    .zip(&self.intents)
                    .map(|(n, f)| (n.to_string(), Json::Bool(f.value)))
                    .collect(),
            ),
            last_channel: self
                .touches
                .last_non_direct
                .as_ref()
                .map(|t| t.channel.clone()),
            first_seen: self.first_seen,
            sessions: Some(self.sessions),
            cart: Some(CartView {
                items: self.cart.items(),
                value: self.cart.value(),
                categories: self.cart.categories(),
                products: self.cart.lines.iter().map(|l| l.id.clone()).collect(),
            }),
        }
    }

    /// Interest scores at `now` (to 3 decimals), at least
    /// [`MIN_INTEREST`], strongest first (ties by name).
    pub(super) fn interests_at(&self, now: Millis) -> Vec<(String, f64)> {
        let mut order: Vec<(usize, f64)> = (self.interests.iter())
            .map(|i| (self.interest_value(i, now) * 1000.0).round() / 1000.0)
            .enumerate()
            .filter(|(_, v)| *v >= MIN_INTEREST)
            .collect();
        let topic = |i: usize| self.interests.get(i).map_or("", |x| x.topic.as_str());
        super::sort_by(&mut order, |a, b| {
            a.1 > b.1 || a.1 == b.1 && topic(a.0) < topic(b.0)
        });
        order
            .iter()
            .map(|&(i, v)| (topic(i).to_string(), v))
            .collect()
    }
}
