//! The way to the personalization module: loading it, the [`Decider`] the
//! state machine asks, and the slot effects it carries out.
//!
//! Two ways, the same interface:
//!
//! - **separate** (the default build): the module is a second wasm module
//!   (`sillage_p13n.js` and its wasm, beside the SDK), which the loader
//!   imports when [`boot`](super::boot) is given `p13n: () =>
//!   Promise<exports>`; everything crosses as JSON text
//!   ([`sillage_core::sdk::p13n`]). A page whose HTML has no slot loads
//!   only the tracking module; one where a slot appears later gets this one
//!   on demand.
//! - **bundled** (the `bundled` feature: the SDK served to pages whose HTML
//!   has slots, and the browser tests): the module is linked in and called
//!   directly, with the core's own types.
//!
//! What the module says back (slots found, content the page took back, how
//! a patch went) becomes the state machine's inputs.

pub use imp::{load, reset, set_loader, slot_of};

use super::dispatch;
use sillage_core::sdk::{Input, Patch, SlotId};

/// The slot effects the module carries out.
pub enum SlotEffect {
    /// `Effect::FindSlots`.
    Find,
    /// `Effect::Observe`.
    Observe,
    /// `Effect::Frame`.
    Frame,
    /// `Effect::Apply`.
    Apply(SlotId, Patch),
    /// `Effect::Restore`.
    Restore(SlotId, Option<(String, String)>),
    /// `Effect::Reveal`.
    Reveal(SlotId),
}

pub use imp::execute;

#[cfg(feature = "bundled")]
mod imp {
    use super::{dispatch, Input, SlotEffect, SlotId};
    use sillage_core::support::json::Json;
    use sillage_p13n::{api, Message};
    use wasm_bindgen::JsValue;

    /// Nothing to load: the module is linked in.
    pub fn set_loader(_options: &JsValue) {}

    /// `Effect::LoadPersonalization`: configure the module, give the state
    /// machine its decider (no JSON in between).
    pub fn load(config: &Json, query: String) {
        let warnings = api::init(
            config,
            &query,
            Box::new(|m: Message| {
                dispatch(match m {
                    Message::Slots(found) => Input::Slots(found),
                    Message::Lost(id, all) => Input::SlotContentLost(id, all),
                    Message::Applied(slot, done, errors) => Input::Applied { slot, done, errors },
                })
            }),
        );
        super::super::with(|s| s.set_decider(Box::new(api::Local)));
        dispatch(Input::PersonalizationReady(warnings));
    }

    /// Carries out a slot effect.
    pub fn execute(e: SlotEffect) {
        match e {
            SlotEffect::Find => api::find_slots(),
            SlotEffect::Observe => api::observe(),
            SlotEffect::Frame => api::frame(),
            SlotEffect::Apply(id, patch) => api::apply(id, &patch),
            SlotEffect::Restore(id, mark) => api::restore(id, mark.as_ref()),
            SlotEffect::Reveal(id) => api::reveal(id),
        }
    }

    /// The personalized slot (and recommended item) a click landed in.
    pub fn slot_of(target: &web_sys::Element) -> Option<(SlotId, Option<String>)> {
        api::slot_of(target)
    }

    /// Forgets the slots (test support).
    pub fn reset() {
        api::reset();
    }
}

#[cfg(not(feature = "bundled"))]
mod imp {
    use std::cell::RefCell;

    use js_sys::{Function, Promise, Reflect};
    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;

    use super::{dispatch, Input, SlotEffect, SlotId};
    use sillage_core::decide::condition::JsHost;
    use sillage_core::sdk::p13n::{mark_to_json, Decider, Plan, PlanRequest, PlanResponse};
    use sillage_core::sdk::SlotsFound;
    use sillage_core::support::json::{write, Json};
    use sillage_webhost::{push_js_number, BrowserJs};

    thread_local! {
        /// The loader's function that imports the module (`boot({p13n})`).
        static LOADER: RefCell<Option<Function>> = const { RefCell::new(None) };
        /// The module's exports, once loaded.
        static MODULE: RefCell<Option<JsValue>> = const { RefCell::new(None) };
    }

    fn text(v: &Json) -> String {
        let mut out = String::new();
        write(v, &mut out, &push_js_number);
        out
    }

    /// Keeps `boot`'s `p13n` option.
    pub fn set_loader(options: &JsValue) {
        let f = Reflect::get(options, &"p13n".into())
            .ok()
            .and_then(|f| f.dyn_into::<Function>().ok());
        LOADER.with(|l| *l.borrow_mut() = f);
    }

    /// Calls the module's export `name` with `args`; `None` if it is not
    /// loaded or the call threw.
    fn call(name: &str, args: &[JsValue]) -> Option<JsValue> {
        let module = MODULE.with(|m| m.borrow().clone())?;
        let f = Reflect::get(&module, &name.into())
            .ok()?
            .dyn_into::<Function>()
            .ok()?;
        let list: js_sys::Array = args.iter().collect();
        f.apply(&JsValue::NULL, &list).ok()
    }

    /// What the module says, as the state machine's inputs.
    fn on_message(kind: &str, msg: &str) {
        let v = BrowserJs.parse_json(msg).unwrap_or(Json::Null);
        let at = |i: usize| {
            v.as_arr()
                .and_then(|a| a.get(i))
                .cloned()
                .unwrap_or(Json::Null)
        };
        let id = |j: &Json| j.as_f64().unwrap_or(0.0) as SlotId;
        let input = match kind {
            "slots" => Input::Slots(SlotsFound::from_json(&v)),
            "lost" => Input::SlotContentLost(id(&at(0)), at(1).as_bool().unwrap_or(false)),
            "applied" => Input::Applied {
                slot: id(&at(0)),
                done: at(1).as_f64().unwrap_or(0.0) as usize,
                errors: at(2)
                    .as_arr()
                    .unwrap_or(&[])
                    .iter()
                    .filter_map(|e| e.as_str().map(str::to_string))
                    .collect(),
            },
            _ => return,
        };
        dispatch(input);
    }

    /// The module is there: configure it, give the state machine its
    /// decider (the module, through JSON text).
    fn ready(config: &str, query: &str) {
        let sink = Closure::<dyn Fn(String, String)>::new(|kind: String, msg: String| {
            on_message(&kind, &msg)
        })
        .into_js_value();
        let warnings = call("init", &[config.into(), query.into(), sink])
            .and_then(|w| w.as_string())
            .unwrap_or_default();
        let warnings: Vec<String> = BrowserJs
            .parse_json(&warnings)
            .and_then(|w| w.as_arr().map(<[Json]>::to_vec))
            .unwrap_or_default()
            .into_iter()
            .filter_map(|w| w.as_str().map(str::to_string))
            .collect();
        super::super::with(|s| s.set_decider(Box::new(Bridge)));
        dispatch(Input::PersonalizationReady(warnings));
    }

    /// `Effect::LoadPersonalization`: import the module (the loader's
    /// function), then configure it.
    pub fn load(config: &Json, query: String) {
        let config = text(config);
        let loaded = LOADER
            .with(|l| l.borrow().clone())
            .and_then(|f| f.call0(&JsValue::NULL).ok())
            .and_then(|p| p.dyn_into::<Promise>().ok());
        let Some(loaded) = loaded else {
            dispatch(Input::PersonalizationFailed(
                "boot() was given no p13n module loader".into(),
            ));
            return;
        };
        super::super::net::then(
            loaded,
            move |module: JsValue| {
                MODULE.with(|m| *m.borrow_mut() = Some(module));
                ready(&config, &query);
            },
            |e: JsValue| {
                dispatch(Input::PersonalizationFailed(super::super::env::error_text(
                    &e,
                )))
            },
        );
    }

    /// The state machine's [`Decider`]: the module, through JSON text.
    struct Bridge;

    impl Bridge {
        fn ask(&self, name: &str, req: &PlanRequest) -> Option<Json> {
            let answer = call(name, &[text(&req.to_json()).into()])?.as_string()?;
            BrowserJs.parse_json(&answer)
        }
    }

    impl Decider for Bridge {
        fn plan(&mut self, req: &PlanRequest) -> PlanResponse {
            match self.ask("plan", req) {
                Some(res) => PlanResponse::from_json(&res),
                // The module failed: every slot shows its default.
                None => PlanResponse {
                    plans: req
                        .slots
                        .iter()
                        .map(|s| Plan {
                            id: s.id,
                            ..Plan::default()
                        })
                        .collect(),
                    ..PlanResponse::default()
                },
            }
        }

        fn explain(&mut self, req: &PlanRequest) -> Json {
            self.ask("explain", req)
                .unwrap_or_else(|| Json::Arr(Vec::new()))
        }
    }

    /// Carries out a slot effect in the module.
    pub fn execute(e: SlotEffect) {
        let id = |id: SlotId| JsValue::from(id);
        let _ = match e {
            SlotEffect::Find => call("find_slots", &[]),
            SlotEffect::Observe => call("observe", &[]),
            SlotEffect::Frame => call("frame", &[]),
            SlotEffect::Apply(s, patch) => call("apply", &[id(s), text(&patch.to_json()).into()]),
            SlotEffect::Restore(s, mark) => call(
                "restore",
                &[id(s), text(&mark_to_json(mark.as_ref())).into()],
            ),
            SlotEffect::Reveal(s) => call("reveal", &[id(s)]),
        };
    }

    /// The personalized slot (and recommended item) a click landed in.
    pub fn slot_of(target: &web_sys::Element) -> Option<(SlotId, Option<String>)> {
        let answer = call("slot_of", &[target.into()])?.as_string()?;
        let v = BrowserJs.parse_json(&answer)?;
        let a = v.as_arr()?;
        Some((
            a.first()?.as_f64()? as SlotId,
            a.get(1).and_then(Json::as_str).map(str::to_string),
        ))
    }

    /// Forgets the slots (test support).
    pub fn reset() {
        let _ = call("reset", &[]);
    }
}
