//! The boundary between the two modules of the SDK in the browser.
//!
//! Every page loads the tracking module (tracking, the profile, the whole
//! state machine of [`super::Sdk`], slot bookkeeping included). The
//! personalization module (the condition engine, audiences, rules,
//! experiments, the catalog, the explanation, the HTML sanitiser and the
//! DOM executor) loads only on pages that need it. The state machine asks
//! it for decisions through [`Decider`]; in the browser the tracking shell
//! implements it by handing JSON text to the other module, so everything
//! that crosses is here, with its JSON form (`to_json` / `from_json`), and
//! the native tests run the same path through the same JSON.
//!
//! What crosses is small: the attributes the tracking module worked out
//! (without `audiences`, which need the condition engine), the interests and
//! the cart's products, the visitor's id and experiment assignments, and the
//! slots to decide; back come plans of plain data ([`Plan`]), new
//! assignments and, with `?sillage_debug`, the explanation's rows.

use super::{
    Patch, PatchOp, PatchStep, RecommendedItem, SlotId, SlotSnapshot, SlotsFound, SlotsWhy,
};
use crate::support::json::Json;
use crate::support::time::Millis;

/// Decisions, from the personalization module.
pub trait Decider {
    /// Decides `req.slots`.
    fn plan(&mut self, req: &PlanRequest) -> PlanResponse;
    /// Every slot's decision now, explained (rows of the debug table).
    fn explain(&mut self, req: &PlanRequest) -> Json;
}

/// What a decision reads.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlanRequest {
    /// The attributes, without `audiences`
    /// ([`crate::decide::attributes::base`]).
    pub attributes: Json,
    /// The visitor's interests, strongest first (for `reorder` and
    /// `recommend`).
    pub interests: Vec<(String, f64)>,
    /// The product ids in the cart (for `recommend`).
    pub cart: Vec<String>,
    /// The visitor's id (experiment hashing).
    pub anonymous_id: String,
    /// The sticky experiment assignments (their stored form).
    pub assignments: Json,
    /// The slots to decide.
    pub slots: Vec<SlotSnapshot>,
    /// Now.
    pub now: Millis,
    /// Whether to return the explanation's rows (`?sillage_debug`).
    pub rows: bool,
}

/// One slot's plan: the patch, or the default.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// The slot.
    pub id: SlotId,
    /// The rule that decided it.
    pub rule: Option<String>,
    /// What it shows, as measured: the variant, `actions` or `default`.
    pub label: String,
    /// What makes two decisions the same (the loop guard compares it).
    pub signature: String,
    /// `None`: the default content.
    pub steps: Option<Vec<PatchStep>>,
    /// The event to record once it shows: name and properties.
    pub exposure: Option<(String, Json)>,
    /// The experiment it is about, if any.
    pub experiment: Option<String>,
}

/// The decisions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlanResponse {
    /// One per requested slot.
    pub plans: Vec<Plan>,
    /// Experiment assignments made now (their stored form, one each).
    pub assigned: Vec<Json>,
    /// The explanation's rows, when asked.
    pub rows: Option<Json>,
}

fn strings(v: Option<&Json>) -> Vec<String> {
    v.and_then(Json::as_arr)
        .unwrap_or(&[])
        .iter()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect()
}

fn text(v: Option<&Json>) -> Option<String> {
    v.and_then(Json::as_str).map(str::to_string)
}

fn num(v: Option<&Json>) -> f64 {
    v.and_then(Json::as_f64).unwrap_or(0.0)
}

fn str_array(items: &[String]) -> Json {
    Json::Arr(items.iter().map(|s| s.as_str().into()).collect())
}

impl SlotSnapshot {
    /// `[id, name, [topics...]]`.
    pub fn to_json(&self) -> Json {
        Json::Arr(vec![
            f64::from(self.id).into(),
            self.name.as_str().into(),
            str_array(&self.children),
        ])
    }

    /// See [`SlotSnapshot::to_json`].
    pub fn from_json(v: &Json) -> SlotSnapshot {
        let a = v.as_arr().unwrap_or(&[]);
        SlotSnapshot {
            id: num(a.first()) as SlotId,
            name: text(a.get(1)).unwrap_or_default(),
            children: strings(a.get(2)),
        }
    }
}

fn snapshots(v: Option<&Json>) -> Vec<SlotSnapshot> {
    v.and_then(Json::as_arr)
        .unwrap_or(&[])
        .iter()
        .map(SlotSnapshot::from_json)
        .collect()
}

impl PlanRequest {
    /// Its JSON form.
    pub fn to_json(&self) -> Json {
        Json::obj()
            .with("attributes", self.attributes.clone())
            .with(
                "interests",
                Json::Arr(
                    self.interests
                        .iter()
                        .map(|(t, x)| Json::Arr(vec![t.as_str().into(), (*x).into()]))
                        .collect(),
                ),
            )
            .with("cart", str_array(&self.cart))
            .with("anonymousId", self.anonymous_id.as_str())
            .with("assignments", self.assignments.clone())
            .with(
                "slots",
                Json::Arr(self.slots.iter().map(SlotSnapshot::to_json).collect()),
            )
            .with("now", self.now)
            .with("rows", self.rows)
    }

    /// See [`PlanRequest::to_json`].
    pub fn from_json(v: &Json) -> PlanRequest {
        PlanRequest {
            attributes: v.get("attributes").cloned().unwrap_or_else(Json::obj),
            interests: v
                .get("interests")
                .and_then(Json::as_arr)
                .unwrap_or(&[])
                .iter()
                .filter_map(|p| {
                    let p = p.as_arr()?;
                    Some((p.first()?.as_str()?.to_string(), p.get(1)?.as_f64()?))
                })
                .collect(),
            cart: strings(v.get("cart")),
            anonymous_id: text(v.get("anonymousId")).unwrap_or_default(),
            assignments: v.get("assignments").cloned().unwrap_or(Json::Null),
            slots: snapshots(v.get("slots")),
            now: num(v.get("now")),
            rows: v.get("rows").and_then(Json::as_bool).unwrap_or(false),
        }
    }
}

impl PatchStep {
    /// `[selector | null, op, args...]`.
    pub fn to_json(&self) -> Json {
        let sel = self.selector.clone().into();
        let (op, args): (&str, Vec<Json>) = match &self.op {
            PatchOp::Variant(v) => ("variant", vec![v.as_str().into()]),
            PatchOp::Html(h) => ("html", vec![h.as_str().into()]),
            PatchOp::Text(t) => ("text", vec![t.as_str().into()]),
            PatchOp::SetAttribute(n, v) => ("attr", vec![n.as_str().into(), v.as_str().into()]),
            PatchOp::AddClass(c) => ("addClass", vec![c.as_str().into()]),
            PatchOp::RemoveClass(c) => ("removeClass", vec![c.as_str().into()]),
            PatchOp::Hide => ("hide", Vec::new()),
            PatchOp::Show => ("show", Vec::new()),
            PatchOp::Order(order) => (
                "order",
                vec![Json::Arr(
                    order.iter().map(|i| (*i as f64).into()).collect(),
                )],
            ),
            PatchOp::SortBy(interests) => (
                "sortBy",
                vec![Json::Arr(
                    interests
                        .iter()
                        .map(|(t, x)| Json::Arr(vec![t.as_str().into(), (*x).into()]))
                        .collect(),
                )],
            ),
            PatchOp::Recommend(items) => (
                "recommend",
                vec![Json::Arr(
                    items
                        .iter()
                        .map(|i| {
                            Json::Arr(vec![
                                i.id.as_str().into(),
                                i.title.as_str().into(),
                                i.price.clone().into(),
                                i.url.as_str().into(),
                                i.image.clone().into(),
                            ])
                        })
                        .collect(),
                )],
            ),
        };
        let mut out = vec![sel, op.into()];
        out.extend(args);
        Json::Arr(out)
    }

    /// See [`PatchStep::to_json`]; `None` for an unknown step.
    pub fn from_json(v: &Json) -> Option<PatchStep> {
        let a = v.as_arr()?;
        let arg = |i: usize| text(a.get(i)).unwrap_or_default();
        let op = match a.get(1)?.as_str()? {
            "variant" => PatchOp::Variant(arg(2)),
            "html" => PatchOp::Html(arg(2)),
            "text" => PatchOp::Text(arg(2)),
            "attr" => PatchOp::SetAttribute(arg(2), arg(3)),
            "addClass" => PatchOp::AddClass(arg(2)),
            "removeClass" => PatchOp::RemoveClass(arg(2)),
            "hide" => PatchOp::Hide,
            "show" => PatchOp::Show,
            "order" => PatchOp::Order(
                a.get(2)?
                    .as_arr()?
                    .iter()
                    .filter_map(|i| i.as_f64().map(|n| n as usize))
                    .collect(),
            ),
            "sortBy" => PatchOp::SortBy(
                a.get(2)?
                    .as_arr()?
                    .iter()
                    .filter_map(|p| {
                        let p = p.as_arr()?;
                        Some((p.first()?.as_str()?.to_string(), p.get(1)?.as_f64()?))
                    })
                    .collect(),
            ),
            "recommend" => PatchOp::Recommend(
                a.get(2)?
                    .as_arr()?
                    .iter()
                    .filter_map(|i| {
                        let i = i.as_arr()?;
                        Some(RecommendedItem {
                            id: text(i.first())?,
                            title: text(i.get(1)).unwrap_or_default(),
                            price: text(i.get(2)),
                            url: text(i.get(3)).unwrap_or_default(),
                            image: text(i.get(4)),
                        })
                    })
                    .collect(),
            ),
            _ => return None,
        };
        Some(PatchStep {
            selector: text(a.first()),
            op,
        })
    }
}

fn steps_to_json(steps: &[PatchStep]) -> Json {
    Json::Arr(steps.iter().map(PatchStep::to_json).collect())
}

fn steps_from_json(v: &Json) -> Vec<PatchStep> {
    v.as_arr()
        .unwrap_or(&[])
        .iter()
        .filter_map(PatchStep::from_json)
        .collect()
}

/// A slot's mark (rule, what it shows) as JSON: `[rule, label]` or null.
pub fn mark_to_json(mark: Option<&(String, String)>) -> Json {
    match mark {
        Some((r, l)) => Json::Arr(vec![r.as_str().into(), l.as_str().into()]),
        None => Json::Null,
    }
}

/// See [`mark_to_json`].
pub fn mark_from_json(v: &Json) -> Option<(String, String)> {
    let a = v.as_arr()?;
    Some((text(a.first())?, text(a.get(1))?))
}

impl Patch {
    /// `{steps, mark}`.
    pub fn to_json(&self) -> Json {
        Json::obj()
            .with("steps", steps_to_json(&self.steps))
            .with("mark", mark_to_json(self.mark.as_ref()))
    }

    /// See [`Patch::to_json`].
    pub fn from_json(v: &Json) -> Patch {
        Patch {
            steps: v.get("steps").map(steps_from_json).unwrap_or_default(),
            mark: v.get("mark").and_then(mark_from_json),
        }
    }
}

impl Plan {
    fn to_json(&self) -> Json {
        let mut o = Json::obj()
            .with("id", f64::from(self.id))
            .with("rule", self.rule.clone())
            .with("label", self.label.as_str())
            .with("signature", self.signature.as_str())
            .with("experiment", self.experiment.clone());
        if let Some(steps) = &self.steps {
            o.set("steps", steps_to_json(steps));
        }
        if let Some((name, props)) = &self.exposure {
            o.set(
                "exposure",
                Json::Arr(vec![name.as_str().into(), props.clone()]),
            );
        }
        o
    }

    fn from_json(v: &Json) -> Plan {
        Plan {
            id: num(v.get("id")) as SlotId,
            rule: text(v.get("rule")),
            label: text(v.get("label")).unwrap_or_default(),
            signature: text(v.get("signature")).unwrap_or_default(),
            steps: v.get("steps").map(steps_from_json),
            exposure: v.get("exposure").and_then(Json::as_arr).and_then(|e| {
                Some((
                    text(e.first())?,
                    e.get(1).cloned().unwrap_or_else(Json::obj),
                ))
            }),
            experiment: text(v.get("experiment")),
        }
    }
}

impl PlanResponse {
    /// Its JSON form.
    pub fn to_json(&self) -> Json {
        let mut o = Json::obj()
            .with(
                "plans",
                Json::Arr(self.plans.iter().map(Plan::to_json).collect()),
            )
            .with("assigned", Json::Arr(self.assigned.clone()));
        if let Some(rows) = &self.rows {
            o.set("rows", rows.clone());
        }
        o
    }

    /// See [`PlanResponse::to_json`].
    pub fn from_json(v: &Json) -> PlanResponse {
        PlanResponse {
            plans: v
                .get("plans")
                .and_then(Json::as_arr)
                .unwrap_or(&[])
                .iter()
                .map(Plan::from_json)
                .collect(),
            assigned: v
                .get("assigned")
                .and_then(Json::as_arr)
                .map(<[Json]>::to_vec)
                .unwrap_or_default(),
            rows: v.get("rows").cloned(),
        }
    }
}

impl SlotsFound {
    /// `{why, slots, tz, timedOut}`.
    pub fn to_json(&self) -> Json {
        Json::obj()
            .with(
                "why",
                match self.why {
                    SlotsWhy::Start => "start",
                    SlotsWhy::Added => "added",
                    SlotsWhy::Frame => "frame",
                },
            )
            .with(
                "slots",
                Json::Arr(self.slots.iter().map(SlotSnapshot::to_json).collect()),
            )
            .with("tz", self.tz_offset_min)
            .with("timedOut", self.timed_out)
    }

    /// See [`SlotsFound::to_json`].
    pub fn from_json(v: &Json) -> SlotsFound {
        SlotsFound {
            slots: snapshots(v.get("slots")),
            why: match v.get("why").and_then(Json::as_str) {
                Some("added") => SlotsWhy::Added,
                Some("frame") => SlotsWhy::Frame,
                _ => SlotsWhy::Start,
            },
            tz_offset_min: num(v.get("tz")),
            timed_out: v.get("timedOut").and_then(Json::as_bool).unwrap_or(false),
        }
    }
}
