//! The personalization module's side of [`crate::sdk::p13n`]: the compiled
//! `audiences`, `rules` and `catalog`, and the decisions as plain data.
//!
//! In the browser this runs in the second wasm module, which a page loads
//! only when it has slots and the config has rules; natively the state
//! machine's tests, `sillage explain` and the benchmarks use it directly.

use crate::config;
use crate::decide::condition::JsHost;
use crate::decide::explain::Explanation;
use crate::decide::render;
use crate::decide::rules::{
    decide, Assignments, CatalogItem, Ctx, Op, Preview, Replacement, RuleSet, Shown,
};
use crate::sdk::p13n::{Decider, Plan, PlanRequest, PlanResponse};
use crate::sdk::{PatchOp, PatchStep, RecommendedItem};
use crate::support::diag::{push_u64, Diagnostic};
use crate::support::json::Json;

/// The compiled personalization sections of a config.
pub struct Personalizer<H: JsHost> {
    rules: RuleSet,
    catalog: Vec<CatalogItem>,
    preview: Preview,
    host: H,
}

impl<H: JsHost> Personalizer<H> {
    /// Compiles `audiences`, `rules` and `catalog` of the config `doc`, and
    /// the previews of the landing page's `query` (honoured only with
    /// `"debug": true`). Never fails: the problems are returned with their
    /// JSON paths.
    pub fn configure(doc: &Json, query: &str, host: H) -> (Personalizer<H>, Vec<Diagnostic>) {
        let mut out = Vec::new();
        let (rules, catalog) = config::parse_personalization(doc, &host, &mut out);
        let debug = doc.get("debug").and_then(Json::as_bool) == Some(true);
        // The tracking module reports the previews' problems.
        let preview = Preview::from_query(query, debug, &mut Vec::new());
        (
            Personalizer {
                rules,
                catalog,
                preview,
                host,
            },
            out,
        )
    }

    /// The attributes with `audiences`, and the decision.
    fn attributes(&self, req: &PlanRequest) -> Json {
        let mut attrs = req.attributes.clone();
        self.rules.audiences.apply(&mut attrs, &self.host);
        attrs
    }
}

impl<H: JsHost> Decider for Personalizer<H> {
    fn explain(&mut self, req: &PlanRequest) -> Json {
        let attrs = self.attributes(req);
        let assignments = Assignments::from_json(&req.assignments);
        let ctx = Ctx {
            anonymous_id: &req.anonymous_id,
            assignments: &assignments,
            preview: &self.preview,
            host: &self.host,
            now: req.now,
        };
        let decision = decide(&attrs, &self.rules, &ctx);
        let number = |n: f64, out: &mut String| self.host.push_number(n, out);
        Explanation::new(&decision, &attrs, None, &number).rows()
    }

    fn plan(&mut self, req: &PlanRequest) -> PlanResponse {
        let attrs = self.attributes(req);
        let assignments = Assignments::from_json(&req.assignments);
        let ctx = Ctx {
            anonymous_id: &req.anonymous_id,
            assignments: &assignments,
            preview: &self.preview,
            host: &self.host,
            now: req.now,
        };
        let decision = decide(&attrs, &self.rules, &ctx);
        // With `?sillage_debug`: the same explanation `sillage explain` prints.
        let rows = req.rows.then(|| {
            let number = |n: f64, out: &mut String| self.host.push_number(n, out);
            Explanation::new(&decision, &attrs, None, &number).rows()
        });
        let interests = req.interests.as_slice();
        let mut plans = Vec::with_capacity(req.slots.len());
        for slot in &req.slots {
            let Some(sd) = decision.slot(&slot.name) else {
                plans.push(Plan {
                    id: slot.id,
                    ..Plan::default()
                });
                continue;
            };
            let label = render::shown_label(sd);
            let mut signature = String::from(label);
            let steps = match sd.shown {
                Shown::Default => None,
                Shown::Variant(v) => Some(vec![PatchStep {
                    selector: None,
                    op: PatchOp::Variant(v.to_string()),
                }]),
                Shown::Actions(actions) => Some(
                    actions
                        .iter()
                        .map(|a| {
                            let op = match &a.op {
                                Op::Replace(Replacement::Variant(v)) => PatchOp::Variant(v.clone()),
                                Op::Replace(Replacement::Html(h)) => PatchOp::Html(h.clone()),
                                Op::SetText(t) => PatchOp::Text(t.clone()),
                                Op::SetAttribute { name, value } => {
                                    PatchOp::SetAttribute(name.clone(), value.clone())
                                }
                                Op::AddClass(c) => PatchOp::AddClass(c.clone()),
                                Op::RemoveClass(c) => PatchOp::RemoveClass(c.clone()),
                                Op::Hide => PatchOp::Hide,
                                Op::Show => PatchOp::Show,
                                Op::Reorder if a.selector.is_none() => {
                                    // The slot's own children: the order
                                    // itself is the signature, so a small
                                    // change of scores moves nothing.
                                    let topics: Vec<Vec<String>> = slot
                                        .children
                                        .iter()
                                        .map(|t| crate::track::topics::normalize([t.as_str()]))
                                        .collect();
                                    let order = render::order_by_affinity(&topics, interests);
                                    for i in &order {
                                        signature.push('|');
                                        push_u64(&mut signature, *i as u64);
                                    }
                                    PatchOp::Order(order)
                                }
                                Op::Reorder => {
                                    for (t, v) in interests {
                                        signature.push('|');
                                        signature.push_str(t);
                                        signature.push('=');
                                        push_u64(&mut signature, (v * 100.0) as u64);
                                    }
                                    PatchOp::SortBy(interests.to_vec())
                                }
                                Op::Recommend { strategy, limit } => {
                                    let items = render::recommend(
                                        &self.catalog,
                                        *strategy,
                                        *limit as usize,
                                        &req.cart,
                                        interests,
                                    );
                                    let mut out = Vec::with_capacity(items.len());
                                    for i in items {
                                        signature.push('|');
                                        signature.push_str(&i.id);
                                        out.push(RecommendedItem {
                                            id: i.id.clone(),
                                            title: i.title.clone(),
                                            price: i.price.map(|n| {
                                                let mut s = String::new();
                                                self.host.push_number(n, &mut s);
                                                s
                                            }),
                                            url: i.url.clone(),
                                            image: i.image.clone(),
                                        });
                                    }
                                    PatchOp::Recommend(out)
                                }
                            };
                            PatchStep {
                                selector: a.selector.clone(),
                                op,
                            }
                        })
                        .collect(),
                ),
            };
            plans.push(Plan {
                id: slot.id,
                rule: sd.rule.map(|r| r.id.clone()),
                label: label.to_string(),
                signature,
                steps,
                exposure: render::exposure(sd).map(|(n, p)| (n.to_string(), p)),
                experiment: sd.experiment.as_ref().map(|e| e.key.to_string()),
            });
        }
        let mut assigned = Assignments::new();
        for a in decision.assigned {
            assigned.insert(a);
        }
        let assigned = match assigned.to_json() {
            Json::Arr(items) => items,
            _ => Vec::new(),
        };
        PlanResponse {
            plans,
            assigned,
            rows,
        }
    }
}

/// A [`Decider`] that sends every request and answer through their JSON
/// text, as the browser does between its two modules: the native tests of
/// the state machine run the shipped path.
pub struct ThroughJson<D: Decider, H: JsHost> {
    /// The decider on the other side.
    pub inner: D,
    /// Writes and parses the JSON text.
    pub host: H,
}

impl<D: Decider, H: JsHost> ThroughJson<D, H> {
    fn cross(&self, v: &Json) -> Json {
        let mut text = String::new();
        let number = |n: f64, out: &mut String| self.host.push_number(n, out);
        crate::support::json::write(v, &mut text, &number);
        self.host.parse_json(&text).unwrap_or(Json::Null)
    }
}

impl<D: Decider, H: JsHost> Decider for ThroughJson<D, H> {
    fn plan(&mut self, req: &PlanRequest) -> PlanResponse {
        let req = PlanRequest::from_json(&self.cross(&req.to_json()));
        let res = self.inner.plan(&req);
        PlanResponse::from_json(&self.cross(&res.to_json()))
    }

    fn explain(&mut self, req: &PlanRequest) -> Json {
        let req = PlanRequest::from_json(&self.cross(&req.to_json()));
        let rows = self.inner.explain(&req);
        self.cross(&rows)
    }
}
