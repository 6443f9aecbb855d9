//! The profile's stored form: versioned, bounded, and read back without
//! trusting it.
//!
//! Why a separate form from the snapshot: the snapshot is derived (stage
//! probabilities, normalised interests), the stored form is the raw state
//! (decayed scores with the time they were brought up to date). Scores are
//! stored as integer millionths, so every number in the text is an integer
//! and its length is known exactly without formatting a float in the core;
//! that is how [`Profile::to_storage`] keeps the text within
//! [`MAX_STORAGE_BYTES`]: it drops the oldest recent touchpoints, then the
//! weakest interests, then (only with a very large site model) the weakest
//! signal aggregates and the cart lines, until it fits.
//!
//! Reading never fails: a document that is not a stored profile, or one
//! from a newer SDK, starts afresh; an unreadable part is reset on its own,
//! each with a diagnostic; nothing panics. `v` is the version: a future v2
//! adds `fn v1_to_v2` to [`MIGRATIONS`], and a v1 document is brought up to
//! date before it is read.

use super::*;
use crate::support::diag::{key_path, Diagnostic};
use crate::t;

/// `MIGRATIONS[i]` turns a stored form of version `i + 1` into version
/// `i + 2`; empty while version 1 is the only one.
const MIGRATIONS: &[fn(&mut Json)] = &[];

/// Integer millionths, for scores.
fn to_micro(v: f64) -> Json {
    Json::Num((v * 1e6).round().clamp(-1e15, 1e15))
}

fn opt(t: Option<Millis>) -> Json {
    t.map_or(Json::Null, Json::Num)
}

fn arr(items: impl IntoIterator<Item = Json>) -> Json {
    Json::Arr(items.into_iter().collect())
}

/// The length of `v`'s JSON text, counting any non-integer number as 24
/// chars (the longest `Number#toString` gives): an upper bound.
fn text_len(v: &Json) -> usize {
    let mut s = String::new();
    crate::support::json::write(v, &mut s, &|_, o| o.push_str("000000000000000000000000"));
    s.len()
}

/// A finite number of a sane size.
fn n(v: Option<&Json>) -> Option<f64> {
    v?.as_f64().filter(|x| x.is_finite() && x.abs() <= 1e16)
}

/// `null` or a number.
fn opt_n(v: Option<&Json>) -> Option<Option<f64>> {
    match v? {
        Json::Null => Some(None),
        x => n(Some(x)).map(Some),
    }
}

fn count(v: Option<&Json>) -> Option<u32> {
    n(v).filter(|x| *x >= 0.0).map(|x| x.min(4e9) as u32)
}

fn text(v: Option<&Json>, max: usize) -> Option<String> {
    let mut s = v?.as_str()?.to_string();
    crate::track::event::cap(&mut s, max);
    Some(s)
}

/// `null`, or a string.
fn opt_text(v: Option<&Json>, max: usize) -> Option<Option<String>> {
    match v {
        None | Some(Json::Null) => Some(None),
        x => text(x, max).map(Some),
    }
}

fn items(v: Option<&Json>) -> Option<&[Json]> {
    v?.as_arr()
}

/// An array of strings, normalised as topics.
fn strings(v: Option<&Json>) -> Option<Vec<String>> {
    let raw = items(v)?
        .iter()
        .map(Json::as_str)
        .collect::<Option<Vec<_>>>()?;
    Some(topics::normalize(raw))
}

/// Brings a stored document to the current version with `migrations`, or
/// says why it cannot be read.
fn migrate(v: &Json, migrations: &[fn(&mut Json)], out: &mut Vec<Diagnostic>) -> Option<Json> {
    let current = migrations.len() as f64 + 1.0;
    let version = v.get("v").and_then(Json::as_f64);
    match version {
        Some(ver) if ver.fract() == 0.0 && (1.0..=current).contains(&ver) => {
            let mut doc = v.clone();
            for m in migrations.get(ver as usize - 1..).unwrap_or(&[]) {
                m(&mut doc);
            }
            doc.set("v", Json::Num(current));
            Some(doc)
        }
        Some(ver) if ver.fract() == 0.0 && ver > current && ver < 1e9 => {
            out.push(
                Diagnostic::new(
                    "profile.v",
                    t!("version {} is newer than this SDK reads ({}), starting afresh"),
                )
                .num(ver as u64)
                .num(current as u64),
            );
            None
        }
        _ => {
            out.push(Diagnostic::new(
                "profile",
                t!("not a stored profile (no version), starting afresh"),
            ));
            None
        }
    }
}

impl Profile {
    /// The stored form: a JSON object of at most [`MAX_STORAGE_BYTES`] of
    /// text. To get there it first rounds scores to the millionths the text
    /// keeps and, if needed, drops the oldest recent touchpoints, then the
    /// weakest interests, *from the profile itself*, so what is in memory is
    /// what a reload will read.
    pub fn to_storage(&mut self) -> Json {
        for a in &mut self.aggs {
            a.value.score = micro(a.value.score.clamp(-1e9, 1e9));
        }
        for i in &mut self.interests {
            i.inferred.score = micro(i.inferred.score.clamp(-1e9, 1e9));
        }
        loop {
            let doc = self.storage_json();
            let len = text_len(&doc);
            if len <= MAX_STORAGE_BYTES || !self.shrink(len - MAX_STORAGE_BYTES) {
                return doc;
            }
        }
    }

    /// Drops about `excess` bytes of the least useful state; false when
    /// nothing is left to drop.
    fn shrink(&mut self, mut excess: usize) -> bool {
        let now = self.last_seen.unwrap_or(0.0);
        if !self.recent.is_empty() {
            while excess > 0 {
                let Some(r) = self.recent.pop_front() else {
                    break;
                };
                excess = excess.saturating_sub(text_len(&recent_json(&r)) + 1);
            }
            return true;
        }
        if !self.interests.is_empty() {
            while excess > 0 {
                let Some(i) = self.weakest_interest(now) else {
                    break;
                };
                let gone = self.interests.swap_remove(i);
                excess = excess.saturating_sub(gone.topic.len() + 40);
            }
            return true;
        }
        let weakest = (self.model.signals.iter().zip(&self.aggs))
            .enumerate()
            .filter(|(_, (_, a))| a.count > 0)
            .min_by(|(_, (s, a)), (_, (t, b))| {
                let v = |s: &Signal, a: &Agg| a.value.at(now, Self::half_life_ms(s)).abs();
                v(s, a).total_cmp(&v(t, b))
            })
            .map(|(i, _)| i);
        if let Some(a) = weakest.and_then(|i| self.aggs.get_mut(i)) {
            *a = Agg::default();
            return true;
        }
        !core::mem::take(&mut self.cart.lines).is_empty()
            | !core::mem::take(&mut self.event_times).is_empty()
    }

    fn storage_json(&self) -> Json {
        let mut signals = Json::obj();
        for (s, a) in self.model.signals.iter().zip(&self.aggs) {
            if a.count > 0 {
                let mut v = vec![
                    to_micro(a.value.score),
                    Json::Num(a.value.upd),
                    Json::Num(f64::from(a.count)),
                    Json::Num(a.last),
                ];
                v.extend(a.times.iter().map(|t| Json::Num(*t)));
                signals.set(&s.id, Json::Arr(v));
            }
        }
        let mut intents = Json::obj();
        for (name, f) in INTENTS.iter().zip(&self.intents) {
            if let Some(at) = f.at {
                intents.set(name, arr([f.value.into(), at.into()]));
            }
        }
        let interests = self.interests.iter().map(|i| {
            arr([
                i.topic.as_str().into(),
                to_micro(i.inferred.score),
                i.inferred.upd.into(),
                i.explicit.map_or(Json::Null, to_micro),
            ])
        });
        let page_topics = self.page_topics.iter().map(|t| t.as_str().into());
        Json::obj()
            .with("v", f64::from(VERSION))
            .with("seen", arr([opt(self.first_seen), opt(self.last_seen)]))
            .with(
                "sessions",
                arr([f64::from(self.sessions).into(), opt(self.session_start)]),
            )
            .with("pageviews", f64::from(self.pageviews))
            .with("touches", self.touches.to_json())
            .with("signals", signals)
            .with(
                "events",
                arr(self
                    .event_times
                    .iter()
                    .map(|(e, t)| arr([e.as_str().into(), (*t).into()]))),
            )
            .with("intents", intents)
            .with("timers", arr([opt(self.cart_at), opt(self.quote_at)]))
            .with(
                "session",
                arr([
                    f64::from(self.searches).into(),
                    f64::from(self.rage).into(),
                    self.support_ms.into(),
                ]),
            )
            .with("interests", arr(interests))
            .with("cart", self.cart_json(false))
            .with(
                "order",
                self.last_order.as_ref().map_or(Json::Null, order_json),
            )
            .with("orders", f64::from(self.orders))
            .with(
                "page",
                arr([self.page_path.as_str().into(), arr(page_topics)]),
            )
            .with("recent", self.recent_json())
            .with(
                "stage",
                self.announced.map_or(Json::Null, |s| s.as_str().into()),
            )
            .with("assignments", self.assignments.to_json())
    }

    /// Reads a stored form back. Never fails: a document that is not a
    /// stored profile (or is from a newer SDK) gives an empty profile, an
    /// unreadable part is reset on its own, each with a diagnostic
    /// (`profile.cart: unreadable, reset`); signals the model no longer has
    /// are dropped silently. Bounds of `cfg` (interests, recent) apply.
    pub fn from_storage(
        v: &Json,
        model: StageModel,
        cfg: ProfileConfig,
    ) -> (Profile, Vec<Diagnostic>) {
        let mut out = Vec::new();
        let mut p = Profile::new(model, cfg);
        let Some(doc) = migrate(v, MIGRATIONS, &mut out) else {
            return (p, out);
        };
        type Reader = fn(&mut Profile, &Json) -> Option<()>;
        const PARTS: &[(&str, Reader)] = &[
            ("seen", Profile::read_seen),
            ("sessions", Profile::read_sessions),
            ("touches", Profile::read_touches),
            ("signals", Profile::read_signals),
            ("events", Profile::read_events),
            ("intents", Profile::read_intents),
            ("timers", Profile::read_timers),
            ("session", Profile::read_session),
            ("interests", Profile::read_interests),
            ("cart", Profile::read_cart),
            ("order", Profile::read_order),
            ("page", Profile::read_page),
            ("recent", Profile::read_recent),
            ("stage", Profile::read_stage),
            ("assignments", Profile::read_assignments),
        ];
        p.read_counts(&doc, &mut out);
        for (key, read) in PARTS {
            let part = doc.get(key).unwrap_or(&Json::Null);
            if read(&mut p, part).is_none() {
                out.push(Diagnostic::new(
                    key_path("profile", key),
                    t!("unreadable, reset"),
                ));
            }
        }
        (p, out)
    }

    // Each reader parses its whole part before it assigns anything, so a
    // part that fails half-way leaves the fresh profile's defaults.

    fn read_assignments(&mut self, v: &Json) -> Option<()> {
        // Absent in profiles stored before experiments were kept here.
        if !matches!(v, Json::Null) {
            v.as_arr()?;
        }
        self.assignments = Assignments::from_json(v);
        Some(())
    }

    fn read_seen(&mut self, v: &Json) -> Option<()> {
        let a = items(Some(v))?;
        (self.first_seen, self.last_seen) = (opt_n(a.first())?, opt_n(a.get(1))?);
        Some(())
    }

    fn read_sessions(&mut self, v: &Json) -> Option<()> {
        let a = items(Some(v))?;
        (self.sessions, self.session_start) = (count(a.first())?, opt_n(a.get(1))?);
        Some(())
    }

    fn read_touches(&mut self, v: &Json) -> Option<()> {
        v.as_obj()?;
        self.touches = Touches::from_json(v);
        Some(())
    }

    fn read_signals(&mut self, v: &Json) -> Option<()> {
        let mut aggs = vec![Agg::default(); self.model.signals.len()];
        for (id, a) in v.as_obj()? {
            let a = items(Some(a))?;
            let Some(i) = self.model.signals.iter().position(|s| s.id == *id) else {
                continue;
            };
            let min = self.model.signals.get(i)?.min_count as usize;
            let times = a.get(4..).unwrap_or(&[]);
            *aggs.get_mut(i)? = Agg {
                value: Decaying {
                    score: n(a.first()).filter(|x| x.abs() <= 1e15)? / 1e6,
                    upd: n(a.get(1))?,
                },
                count: count(a.get(2))?,
                last: n(a.get(3))?,
                times: times
                    .iter()
                    .skip(times.len().saturating_sub(min))
                    .map(|t| n(Some(t)))
                    .collect::<Option<_>>()?,
            };
        }
        self.aggs = aggs;
        Some(())
    }

    fn read_events(&mut self, v: &Json) -> Option<()> {
        self.event_times = items(Some(v))?
            .iter()
            .take(model::MAX_SIGNALS)
            .map(|e| {
                let e = items(Some(e))?;
                Some((text(e.first(), MAX_NAME)?, n(e.get(1))?))
            })
            .collect::<Option<_>>()?;
        Some(())
    }

    fn read_intents(&mut self, v: &Json) -> Option<()> {
        let mut flags = [Flag::default(); 7];
        for (name, f) in v.as_obj()? {
            let f = items(Some(f))?;
            flags[Intent::from_name(name)? as usize] = Flag {
                value: f.first()?.as_bool()?,
                at: Some(n(f.get(1))?),
            };
        }
        self.intents = flags;
        Some(())
    }

    fn read_timers(&mut self, v: &Json) -> Option<()> {
        let a = items(Some(v))?;
        (self.cart_at, self.quote_at) = (opt_n(a.first())?, opt_n(a.get(1))?);
        Some(())
    }

    fn read_session(&mut self, v: &Json) -> Option<()> {
        let a = items(Some(v))?;
        (self.searches, self.rage, self.support_ms) =
            (count(a.first())?, count(a.get(1))?, n(a.get(2))?);
        Some(())
    }

    fn read_interests(&mut self, v: &Json) -> Option<()> {
        let mut kept: Vec<Interest> = Vec::new();
        for i in items(Some(v))? {
            let i = items(Some(i))?;
            let topic = topics::normalize([i.first()?.as_str()?])
                .into_iter()
                .next()?;
            if kept.iter().any(|x| x.topic == topic) {
                return None;
            }
            kept.push(Interest {
                topic,
                inferred: Decaying {
                    score: n(i.get(1)).filter(|x| x.abs() <= 1e15)? / 1e6,
                    upd: n(i.get(2))?,
                },
                explicit: opt_n(i.get(3))?.map(|x| micro((x / 1e6).clamp(0.0, 1.0))),
            });
        }
        self.interests = kept;
        let now = self.last_seen.unwrap_or(0.0);
        while self.interests.len() > self.cfg.max_interests {
            let w = self.weakest_interest(now)?;
            self.interests.swap_remove(w);
        }
        Some(())
    }

    fn read_cart(&mut self, v: &Json) -> Option<()> {
        let lines = items(v.get("products"))?
            .iter()
            .take(MAX_CART_LINES)
            .map(|l| {
                Some(CartLine {
                    id: text(l.get("id"), MAX_NAME)?,
                    name: opt_text(l.get("name"), MAX_NAME)?,
                    category: opt_text(l.get("category"), topics::MAX_TOPIC_LEN)?,
                    price: opt_n(Some(l.get("price").unwrap_or(&Json::Null)))?,
                    quantity: n(l.get("quantity")).filter(|q| *q > 0.0)?,
                })
            })
            .collect::<Option<_>>()?;
        self.cart = Cart {
            lines,
            currency: opt_text(v.get("currency"), MAX_NAME)?,
        };
        Some(())
    }

    fn read_order(&mut self, v: &Json) -> Option<()> {
        self.last_order = match v {
            Json::Null => None,
            o => Some(Order {
                id: opt_text(o.get("orderId"), MAX_NAME)?,
                value: n(o.get("value"))?,
                currency: opt_text(o.get("currency"), MAX_NAME)?,
                items: n(o.get("items"))?,
                categories: strings(o.get("categories"))?,
                at: n(o.get("at"))?,
                refunded: o.get("refunded")?.as_bool()?,
            }),
        };
        Some(())
    }

    fn read_page(&mut self, v: &Json) -> Option<()> {
        let a = items(Some(v))?;
        (self.page_path, self.page_topics) = (text(a.first(), 2000)?, strings(a.get(1))?);
        Some(())
    }

    fn read_recent(&mut self, v: &Json) -> Option<()> {
        let all = items(Some(v))?;
        let keep = all.len().saturating_sub(self.cfg.recent_max);
        self.recent = all
            .get(keep..)?
            .iter()
            .map(|r| {
                let r = items(Some(r))?;
                let kind = r.get(1)?.as_str()?;
                Some(Recent {
                    at: n(r.first())?,
                    kind: RECENT_KINDS.iter().position(|k| *k == kind)? as u8,
                    name: text(r.get(2), MAX_NAME)?,
                    channel: opt_text(r.get(3), MAX_NAME)?,
                })
            })
            .collect::<Option<_>>()?;
        Some(())
    }

    fn read_stage(&mut self, v: &Json) -> Option<()> {
        self.announced = match v {
            Json::Null => None,
            s => Some(Stage::from_name(s.as_str()?)?),
        };
        Some(())
    }

    /// `pageviews` and `orders`.
    fn read_counts(&mut self, doc: &Json, out: &mut Vec<Diagnostic>) {
        for (key, slot) in [
            ("pageviews", &mut self.pageviews),
            ("orders", &mut self.orders),
        ] {
            match count(doc.get(key)) {
                Some(c) => *slot = c,
                None => out.push(Diagnostic::new(
                    key_path("profile", key),
                    t!("unreadable, reset"),
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bump(doc: &mut Json) {
        let seen = doc.get("lastSeen").cloned().unwrap_or_default();
        doc.set("seen", Json::Arr(vec![Json::Null, seen]));
    }

    #[test]
    fn migrations_bring_old_versions_up_to_date() {
        let mut out = Vec::new();
        let v1 = Json::obj().with("v", 1.0).with("lastSeen", 5.0);
        let doc = migrate(&v1, &[bump], &mut out).unwrap();
        assert_eq!(doc.get("v"), Some(&Json::Num(2.0)));
        assert_eq!(
            doc.get("seen"),
            Some(&Json::Arr(vec![Json::Null, Json::Num(5.0)]))
        );
        let v2 = Json::obj().with("v", 2.0);
        assert_eq!(migrate(&v2, &[bump], &mut out), Some(v2.clone()));
        assert!(out.is_empty());
        assert_eq!(migrate(&v2, &[], &mut out), None);
        assert_eq!(
            out[0].render(),
            "profile.v: version 2 is newer than this SDK reads (1), starting afresh"
        );
    }
}
