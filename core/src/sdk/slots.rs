//! Personalization planning: which slot shows what, when it is decided
//! again, the loop guard, consent and the exposures.
//!
//! The shell gives every slot element an id and reports what it read of
//! it ([`SlotSnapshot`]); this module decides (`core::rules::decide`),
//! turns each decision into a [`Patch`] of plain data, and keeps every
//! piece of state that used to live in DOM expandos: what each slot was
//! last given, the loop guard's times, the slots waiting for the page to
//! be quiet, the exposures of the page view. The shell applies a patch by
//! moving the page's own nodes (never copies) and says how it went
//! ([`super::Input::Applied`]).
//!
//! When: the slots present at start are decided in the task that applies
//! the config (in a microtask, after the calls the loader replays), slots
//! added later as soon as the page's mutation observer reports them, and
//! after a change of what the rules read (the URL, consent, attributes, the
//! profile) in the next animation frame, where only the slots whose
//! decision changed are touched. If the head snippet's timeout revealed the
//! defaults first, they stay for that page view: a late swap is the
//! flicker the snippet exists to avoid.
//!
//! Loop guard: a slot is not given the same decision again while it shows
//! it; if the page keeps throwing away what a rule put there (a framework
//! re-rendering), re-applying the same decision is allowed 3 times a
//! second, then once more when the page has been quiet for a second (one
//! warning). Only consecutive applications of one decision count: a rule
//! that stops and starts matching again (attributes, consent, navigation
//! switched back and forth) is a new decision each time.

use super::p13n::{Plan, PlanRequest};
use super::{Effect, Sdk};
use crate::decide::attributes::{self, Inputs, LocalTime, SessionInfo};
use crate::decide::condition::JsHost;
use crate::decide::render::{Exposures, EXPOSURES_KEY};
use crate::decide::rules::{Assignments, Preview};
use crate::profile::view::ProfileView;
use crate::support::fifo::Fifo as VecDeque;
use crate::support::json::Json;
use crate::support::time::{local_time, Millis};
use crate::track::event;
use crate::track::touchpoint::Session;
use crate::track::visit::Activity;

/// A slot element, as the shell numbers it.
pub type SlotId = u32;

/// Applications of one slot allowed within [`RATE_WINDOW_MS`].
pub const RATE_LIMIT: usize = 3;
/// See [`RATE_LIMIT`].
pub const RATE_WINDOW_MS: Millis = 1_000.0;

/// What the shell read of one slot element.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SlotSnapshot {
    /// The shell's id for the element.
    pub id: SlotId,
    /// `data-sillage-slot`.
    pub name: String,
    /// The topics of its element children (`data-sillage-topics`,
    /// lower-cased by the browser), for `reorder`.
    pub children: Vec<String>,
}

/// One step of a patch, on the slot or on the elements `selector` matches
/// inside it.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchStep {
    /// A CSS selector inside the slot (`None`: the slot itself).
    pub selector: Option<String>,
    /// What to do.
    pub op: PatchOp,
}

/// What a patch step does. Each is one safe DOM operation.
#[derive(Clone, Debug, PartialEq)]
pub enum PatchOp {
    /// The content of `<template data-sillage-variant="slot/name">`.
    Variant(String),
    /// Sanitised HTML from the config.
    Html(String),
    /// Text, never parsed.
    Text(String),
    /// An allow-listed attribute (checked again by the shell).
    SetAttribute(String, String),
    /// Add a class.
    AddClass(String),
    /// Remove a class.
    RemoveClass(String),
    /// `hidden`.
    Hide,
    /// No `hidden`.
    Show,
    /// Put the element children in this order (indexes into the current
    /// children; the slot's own children, known from the snapshot).
    Order(Vec<usize>),
    /// Sort the element children by these interests (a target inside the
    /// slot, whose children the snapshot does not know): the shell asks
    /// `core::render::order_by_affinity`.
    SortBy(Vec<(String, f64)>),
    /// Fill from the slot's `<template data-sillage-item>`.
    Recommend(Vec<RecommendedItem>),
}

/// One catalog item to render, its fields ready.
#[derive(Clone, Debug, PartialEq)]
pub struct RecommendedItem {
    /// Its id (`data-sillage-item-id`).
    pub id: String,
    /// `[data-sillage-field="title"]`.
    pub title: String,
    /// `[data-sillage-field="price"]`, as text.
    pub price: Option<String>,
    /// `[data-sillage-field="url"]`'s `href`.
    pub url: String,
    /// `[data-sillage-field="image"]`'s `src`.
    pub image: Option<String>,
}

/// What to put in a slot.
#[derive(Clone, Debug, PartialEq)]
pub struct Patch {
    /// The steps, in order.
    pub steps: Vec<PatchStep>,
    /// When any step took (or there are none): the rule id and what it
    /// shows, for `data-sillage-applied` and `data-sillage-shown`.
    pub mark: Option<(String, String)>,
}

/// Whether slots follow the visitor's journey as it happens
/// (`personalization.redecide`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Redecide {
    /// When something a rule reads changes (the default).
    #[default]
    Change,
    /// Only at a navigation (content never moves under the reader).
    Navigation,
}

#[derive(Clone, Debug, Default)]
struct SlotState {
    id: SlotId,
    name: String,
    /// The rule and signature it was last given (applied or not).
    given: Option<String>,
    /// What it shows: (rule, label), as marked in the page.
    showing: Option<(String, String)>,
    /// Revealed.
    ready: bool,
    /// The loop guard's times for `last`.
    times: Vec<Millis>,
    last: String,
    /// The patch given and not yet reported applied.
    applying: Option<Applying>,
}

/// A patch on its way: its rule, its mark, and the exposure to record once
/// it took (with the experiment it is about).
#[derive(Clone, Debug)]
struct Applying {
    rule: Option<String>,
    mark: Option<(String, String)>,
    exposure: Option<(String, Json)>,
    experiment: Option<String>,
}

/// The planner's state. See the module docs.
#[derive(Default)]
pub(super) struct Planner {
    /// The config has rules (or a preview forces a variant): the page needs
    /// the personalization module once it has slots.
    pub wanted: bool,
    /// The personalization module is loaded and configured.
    pub ready: bool,
    preview: Preview,
    hash_routing: bool,
    pub redecide: Redecide,
    /// `sillage.consent` choices.
    pub consent: Json,
    /// `sillage.attributes` values.
    custom: Json,
    started: bool,
    /// The head snippet's timeout showed the defaults: they stay for this
    /// page view.
    frozen: bool,
    slots: Vec<SlotState>,
    /// Slots to decide in the next frame (`all`: every one).
    pending: Vec<SlotId>,
    all: bool,
    frame: bool,
    /// Slots the loop guard held back: (slot, when it was last held).
    quiet: Vec<(SlotId, Millis)>,
    /// `Personalization Viewed` recorded in this page view: (slot, rule).
    viewed: Vec<(String, String)>,
    view_key: String,
    /// `Experiment Viewed` once per session, shared by the tabs.
    exposures: Exposures,
    warned: bool,
    tz_offset_min: f64,
    /// Decision rounds run (test support).
    pub rounds: u32,
}

impl Planner {
    /// Reads what the slots need from storage: consent, exposures.
    pub fn load(&mut self, stored: &[(String, String)], host: &dyn JsHost) {
        let get = |k: &str| stored.iter().find(|(key, _)| key == k).map(|(_, v)| v);
        self.consent = get(super::CONSENT_KEY)
            .and_then(|t| host.parse_json(t))
            .filter(|v| matches!(v, Json::Obj(_)))
            .unwrap_or_else(Json::obj);
        self.exposures = Exposures::decode(get(EXPOSURES_KEY).map_or("", String::as_str));
        self.custom = Json::obj();
    }

    /// Whether the config has rules (`has_rules`), the landing's
    /// previews, and whether fragments are routes.
    pub fn configure(&mut self, has_rules: bool, preview: Preview, hash_routing: bool) {
        self.wanted = has_rules || !preview.force.is_empty();
        self.preview = preview;
        self.hash_routing = hash_routing;
    }

    fn active(&self) -> bool {
        self.wanted && self.ready
    }

    fn denied(&self) -> bool {
        matches!(self.consent.get("personalization"), Some(Json::Bool(false)))
    }

    /// Asks for a frame in which `ids` (or every slot) are decided again.
    fn schedule(&mut self, ids: &[SlotId], all: bool, fx: &mut VecDeque<Effect>) {
        if !self.started || !self.active() {
            return;
        }
        self.all |= all;
        for id in ids {
            if !self.pending.contains(id) {
                self.pending.push(*id);
            }
        }
        if !self.frame {
            self.frame = true;
            fx.push_back(Effect::Frame);
        }
    }

    /// Something a rule may read changed (the profile, attributes): the
    /// slots are decided again in the next frame, unless the site wants
    /// content to move only at navigations, or this page view shows the
    /// defaults for good.
    pub fn inputs_changed(&mut self, fx: &mut VecDeque<Effect>) {
        if self.redecide == Redecide::Change && !self.frozen && !self.denied() {
            self.schedule(&[], true, fx);
        }
    }

    /// The URL changed: every slot in the next frame; a new page view (by
    /// its key) counts its exposures afresh.
    pub fn navigated(&mut self, key: &str, fx: &mut VecDeque<Effect>) {
        if self.view_key != key {
            self.viewed.clear();
            self.view_key = key.to_string();
            self.frozen = false;
        }
        self.schedule(&[], true, fx);
    }

    /// A back-forward cache restore is a new page view of the same URL.
    pub fn restored(&mut self) {
        self.view_key.clear();
    }

    /// Consent changed: denied shows every default at once; granted
    /// decides every slot in the next frame.
    pub fn consent_changed(&mut self, fx: &mut VecDeque<Effect>, _now: Millis) {
        if self.denied() {
            for s in &mut self.slots {
                s.given = None;
                s.showing = None;
                s.applying = None;
                fx.push_back(Effect::Restore(s.id, None));
                s.ready = true;
            }
        } else {
            self.schedule(&[], true, fx);
        }
    }

    /// `sillage.attributes({...})`: merged into the site's attributes.
    pub fn set_custom(&mut self, new: Vec<(String, Json)>) {
        if !matches!(self.custom, Json::Obj(_)) {
            self.custom = Json::obj();
        }
        for (k, v) in new {
            self.custom.set(&k, v);
        }
    }

    /// The page threw away what a rule put in a slot: decide it again in
    /// the next frame (within the loop guard).
    pub fn content_lost(&mut self, id: SlotId, _all: bool, fx: &mut VecDeque<Effect>) {
        if let Some(s) = self.slots.iter_mut().find(|s| s.id == id) {
            s.given = None;
        }
        self.schedule(&[id], false, fx);
    }

    /// `forget()`: nothing of this visitor's is kept.
    pub fn forget(&mut self) {
        self.exposures = Exposures::decode("");
        self.viewed.clear();
    }

    /// The next quiet retry.
    pub fn poll_timeout(&self) -> Option<Millis> {
        self.quiet
            .iter()
            .map(|(_, t)| t + RATE_WINDOW_MS)
            .reduce(f64::min)
    }

    /// Slots held back by the loop guard whose page has been quiet for a
    /// second are decided again in the next frame.
    pub fn timeout(&mut self, now: Millis, fx: &mut VecDeque<Effect>) {
        let due: Vec<SlotId> = self
            .quiet
            .iter()
            .filter(|(_, t)| t + RATE_WINDOW_MS <= now)
            .map(|(id, _)| *id)
            .collect();
        if due.is_empty() {
            return;
        }
        self.quiet.retain(|(id, _)| !due.contains(id));
        self.schedule(&due, false, fx);
    }

    /// What a click in slot `id` is attributed to: `slot`, `variant`,
    /// `rule_id` (and `item_id` inside a recommendation).
    pub fn attribution(&self, id: SlotId, item: Option<&str>) -> Option<Json> {
        let s = self.slots.iter().find(|s| s.id == id)?;
        let (rule, label) = s.showing.as_ref()?;
        let mut o = Json::obj()
            .with("slot", s.name.as_str())
            .with("variant", label.as_str())
            .with("rule_id", rule.as_str());
        if let Some(item) = item {
            o.set("item_id", item.into());
        }
        Some(o)
    }

    /// Whether applying `signature` to slot `s` now passes the loop guard;
    /// counts this application if so. Only re-applications of the same
    /// decision count: a new decision starts afresh.
    fn too_often(s: &mut SlotState, signature: &str, now: Millis) -> bool {
        if s.last != signature {
            s.times.clear();
            s.last = signature.to_string();
        }
        s.times.retain(|t| now - t < RATE_WINDOW_MS);
        if s.times.len() >= RATE_LIMIT {
            return true;
        }
        s.times.push(now);
        false
    }
}

impl<H: JsHost> Sdk<H> {
    /// Slots reported by the shell.
    pub(super) fn slots_found(&mut self, found: super::SlotsFound, now: Millis) {
        self.slots.tz_offset_min = found.tz_offset_min;
        let p = &mut self.slots;
        // Forget the elements that are gone (every live one is reported
        // with each frame).
        if found.why == super::SlotsWhy::Frame {
            p.slots.retain(|s| found.slots.iter().any(|f| f.id == s.id));
            p.quiet
                .retain(|(id, _)| found.slots.iter().any(|f| f.id == *id));
        }
        for f in &found.slots {
            if !p.slots.iter().any(|s| s.id == f.id) {
                p.slots.push(SlotState {
                    id: f.id,
                    name: f.name.clone(),
                    ..SlotState::default()
                });
            }
        }
        match found.why {
            super::SlotsWhy::Start => {
                p.started = true;
                p.view_key =
                    crate::track::capture::page_key(&self.page.url, p.hash_routing).to_string();
                if !p.active() {
                    for f in &found.slots {
                        self.effects.push_back(Effect::Reveal(f.id));
                    }
                    self.effects.push_back(Effect::LiftHiding);
                    return;
                }
                if found.timed_out {
                    // The defaults are showing: no late swap on this page view.
                    p.frozen = true;
                    for f in &found.slots {
                        self.effects.push_back(Effect::Reveal(f.id));
                    }
                } else {
                    self.round(&found.slots, false, now);
                }
                self.effects.push_back(Effect::LiftHiding);
                self.effects.push_back(Effect::Mark("sillage:decided"));
                self.effects.push_back(Effect::Observe);
            }
            super::SlotsWhy::Added => {
                // Decided in the next frame, before it paints, with any
                // other change of the same task.
                let ids: Vec<SlotId> = found.slots.iter().map(|f| f.id).collect();
                p.schedule(&ids, false, &mut self.effects);
            }
            super::SlotsWhy::Frame => {
                p.frame = false;
                let all = std::mem::take(&mut p.all);
                let pending = std::mem::take(&mut p.pending);
                let chosen: Vec<SlotSnapshot> = found
                    .slots
                    .into_iter()
                    .filter(|f| all || pending.contains(&f.id))
                    .collect();
                if !chosen.is_empty() && p.started && p.active() {
                    self.round(&chosen, true, now);
                }
            }
        }
    }

    /// Decides `slots` and gives each its patch. `again`: a later round,
    /// where a slot showing the same decision is left alone.
    fn round(&mut self, slots: &[SlotSnapshot], again: bool, now: Millis) {
        self.slots.rounds += 1;
        let (plans, rows) = self.plan(slots, now);
        for plan in plans {
            self.give(plan, again, now);
        }
        if let Some(rows) = rows {
            self.effects.push_back(Effect::Table(rows));
        }
    }

    /// What a decision reads now, for `slots`: the attributes (without
    /// `audiences`, which the personalization module adds), the interests,
    /// the cart, the visitor's id and assignments.
    fn request(&mut self, slots: Vec<SlotSnapshot>, now: Millis) -> PlanRequest {
        let view = match self.profile.as_mut() {
            Some(p) => {
                p.handle_timeout(now);
                p.view(now)
            }
            None => ProfileView::default(),
        };
        let session = self.session.as_deref().and_then(Session::decode);
        let landing = self.tracker.visit.landing();
        let (hour, weekday, date) = local_time(now, self.slots.tz_offset_min);
        let p = &self.slots;
        let inputs = Inputs {
            profile: &view,
            session: session.as_ref().map(|ss| SessionInfo {
                index: ss.index,
                pageviews: ss.pageviews,
                started: ss.started,
                channel: landing.map(|t| t.channel),
                campaign: landing.map(|t| &t.campaign),
            }),
            page_url: &self.page.url,
            referrer: &self.page.referrer,
            device: self.device,
            time: Some(LocalTime {
                hour,
                weekday,
                date: &date,
            }),
            consent: &p.consent,
            custom: &p.custom,
            stage: p.preview.stage.as_deref(),
            now,
        };
        let mut diags = Vec::new();
        let attributes = attributes::base(&inputs, &mut diags);
        let rows = p.preview.debug;
        for d in diags {
            self.warn_diag(&d);
        }
        PlanRequest {
            attributes,
            interests: view.interests().to_vec(),
            cart: view.cart.map(|c| c.products).unwrap_or_default(),
            anonymous_id: self.tracker.identity().anonymous_id.clone(),
            assignments: self
                .profile
                .as_ref()
                .map_or(Json::Arr(Vec::new()), |p| p.assignments.to_json()),
            slots,
            now,
            rows,
        }
    }

    /// Whether `?sillage_debug=1` is on, in a config that allows it
    /// (`"debug": true`): the journey panel opens itself then.
    pub(super) fn debug_mode(&self) -> bool {
        self.slots.preview.debug
    }

    /// Every slot's decision now, explained (the debug panel's; nothing is
    /// assigned or applied); empty while the personalization module is not
    /// loaded.
    pub(super) fn explain(&mut self, now: Millis) -> Json {
        if !self.slots.active() || self.decider.is_none() {
            return Json::Arr(Vec::new());
        }
        let req = self.request(Vec::new(), now);
        match self.decider.as_mut() {
            Some(d) => d.explain(&req),
            None => Json::Arr(Vec::new()),
        }
    }

    /// The decision for `slots`, from the personalization module, as plans
    /// (and, with `?sillage_debug`, the explanation's console rows). With
    /// personalization consent denied, every slot shows its default.
    fn plan(&mut self, slots: &[SlotSnapshot], now: Millis) -> (Vec<Plan>, Option<Json>) {
        let defaults = |slots: &[SlotSnapshot]| {
            slots
                .iter()
                .map(|s| Plan {
                    id: s.id,
                    ..Plan::default()
                })
                .collect()
        };
        if self.slots.denied() || self.decider.is_none() {
            return (defaults(slots), None);
        }
        let req = self.request(slots.to_vec(), now);
        let Some(decider) = self.decider.as_mut() else {
            return (defaults(slots), None);
        };
        let res = decider.plan(&req);
        if !res.assigned.is_empty() {
            if let Some(p) = self.profile.as_mut() {
                for a in Assignments::from_json(&Json::Arr(res.assigned)).iter() {
                    p.assignments.insert(a.clone());
                }
                self.profile_dirty.get_or_insert(now);
            }
        }
        (res.plans, res.rows)
    }

    /// Gives one slot its plan: the patch, a restore, or nothing when it
    /// already shows it; the loop guard may hold it back.
    fn give(&mut self, plan: Plan, again: bool, now: Millis) {
        let Some(s) = self.slots.slots.iter_mut().find(|s| s.id == plan.id) else {
            return;
        };
        let mut wanted = plan.rule.clone().unwrap_or_default();
        wanted.push('|');
        wanted.push_str(&plan.signature);
        let same = match &s.given {
            Some(g) => *g == wanted,
            None => plan.rule.is_none() && s.showing.is_none(),
        };
        if again && same && s.ready {
            return;
        }
        if plan.steps.is_some() && Planner::too_often(s, &plan.signature, now) {
            let (name, first) = (s.name.clone(), s.given.is_none());
            if first {
                // The page's content shows: clicks are not attributed.
                s.showing = None;
                self.effects.push_back(Effect::Restore(plan.id, None));
            } else {
                self.effects.push_back(Effect::Reveal(plan.id));
            }
            s.ready = true;
            match self.slots.quiet.iter_mut().find(|(id, _)| *id == plan.id) {
                Some(q) => q.1 = now,
                None => self.slots.quiet.push((plan.id, now)),
            }
            if !std::mem::replace(&mut self.slots.warned, true) {
                self.warn_diag(
                    &crate::support::diag::Diagnostic::new(
                        "",
                        crate::t!("slot \"{}\" was re-rendered and re-applied 3 times within a second; leaving it alone until the page is quiet for a second (is a framework fighting the personalization?)"),
                    )
                    .arg(&name),
                );
            }
            return;
        }
        s.given = Some(wanted);
        s.ready = true;
        if plan.steps.is_none() {
            // The default in between: applying a rule again afterwards is a
            // new decision (the visitor's own switching), not a fight.
            s.last.clear();
            s.times.clear();
        }
        let mark = plan.rule.clone().map(|r| (r, plan.label.clone()));
        match plan.steps {
            None => {
                // The default content (no rule, a control or holdout
                // visitor, denied consent): shown at once, measured at once.
                s.showing = mark.clone();
                self.effects.push_back(Effect::Restore(plan.id, mark));
                if let Some(rule) = plan.rule {
                    self.measure(plan.id, rule, plan.exposure, plan.experiment, now);
                }
            }
            Some(steps) => {
                s.applying = Some(Applying {
                    rule: plan.rule,
                    mark: mark.clone(),
                    exposure: plan.exposure,
                    experiment: plan.experiment,
                });
                s.showing = None;
                self.effects
                    .push_back(Effect::Apply(plan.id, Patch { steps, mark }));
            }
        }
    }

    /// What applying a patch did: problems reported (once per page), what
    /// the slot shows, and its exposure.
    pub(super) fn applied(&mut self, id: SlotId, done: usize, errors: Vec<String>, now: Millis) {
        let Some(s) = self.slots.slots.iter_mut().find(|s| s.id == id) else {
            return;
        };
        let Some(a) = s.applying.take() else {
            return;
        };
        let ok = done > 0;
        if ok {
            s.showing = a.mark.clone();
        }
        let name = s.name.clone();
        for why in errors {
            let mut m = String::from("slot \"");
            m.push_str(&name);
            m.push('"');
            if let Some(r) = &a.rule {
                m.push_str(" (rule \"");
                m.push_str(r);
                m.push_str("\")");
            }
            m.push_str(": ");
            m.push_str(&why);
            m.push_str("; the default content stays");
            self.error_once(m);
        }
        if ok || a.experiment.is_some() {
            if let Some(rule) = a.rule {
                self.measure(id, rule, a.exposure, a.experiment, now);
            }
        }
    }

    /// Records the exposure of a rendered slot: `Experiment Viewed` once
    /// per session per experiment, `Personalization Viewed` once per page
    /// view per slot and rule.
    fn measure(
        &mut self,
        id: SlotId,
        rule: String,
        exposure: Option<(String, Json)>,
        experiment: Option<String>,
        now: Millis,
    ) {
        let Some((name, props)) = exposure else {
            return;
        };
        let first = match &experiment {
            Some(key) => {
                let session = self
                    .session
                    .as_deref()
                    .and_then(Session::decode)
                    .map(|s| s.id)
                    .unwrap_or_default();
                let first = self.slots.exposures.first_in_session(&session, key);
                if first && self.durable() {
                    let v = self.slots.exposures.encode();
                    self.put(EXPOSURES_KEY, v);
                }
                first
            }
            None => {
                let slot = self
                    .slots
                    .slots
                    .iter()
                    .find(|s| s.id == id)
                    .map(|s| s.name.clone())
                    .unwrap_or_default();
                let key = (slot, rule);
                let first = !self.slots.viewed.contains(&key);
                if first {
                    self.slots.viewed.push(key);
                }
                first
            }
        };
        if first {
            self.record(
                event::Call::Track {
                    event: Json::Str(name),
                    properties: props,
                },
                &super::PageNow::default(),
                Activity::Other,
                now,
            );
        }
    }
}
