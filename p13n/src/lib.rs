//! The personalization module (wasm32 only): the second of Sillage's two
//! browser modules, loaded only by pages that have slots when the config
//! has rules.
//!
//! It holds the compiled `audiences`, `rules` and `catalog`
//! ([`Personalizer`]) and decides for the tracking module's state machine,
//! which asks through JSON text ([`sillage_core::sdk::p13n`]); and it owns
//! the page's slots: it numbers them, reports them, applies the patches the
//! state machine sends (moving the page's own nodes, never copies: [`dom`])
//! and sanitises config HTML ([`html`]). It keeps no decision of its own:
//! when to decide, the loop guard, consent and exposures are the state
//! machine's.
//!
//! What it tells the tracking module goes through one function given at
//! [`api::init`]: `(kind, json)` with kind `slots` (a `SlotsFound`), `lost`
//! (`[slot, all]`) or `applied` (`[slot, done, [errors]]`).
//!
//! [`api`] is the Rust interface; with the `module` feature (the default)
//! the same functions are exported to JavaScript, and the tracking module
//! reaches them through the module's exports object.
#![cfg(target_arch = "wasm32")]

mod dom;
pub mod html;

use std::cell::RefCell;

use sillage_core::decide::personalizer::Personalizer;
use sillage_core::sdk::p13n::{Decider, PlanRequest, PlanResponse};
use sillage_core::sdk::{Patch, SlotId, SlotsFound};
use sillage_core::support::json::Json;
use sillage_webhost::BrowserJs;

/// What the module tells the tracking module.
pub enum Message {
    /// Slots found (at start, added, or every live slot in a frame).
    Slots(SlotsFound),
    /// The page took back what a patch put in a slot (`true`: all of it).
    Lost(SlotId, bool),
    /// How a patch went: steps applied, and why the others failed.
    Applied(SlotId, usize, Vec<String>),
}

/// Where messages for the tracking module go.
pub type Sink = Box<dyn Fn(Message)>;

thread_local! {
    static DECIDER: RefCell<Option<Personalizer<BrowserJs>>> = const { RefCell::new(None) };
    static SINK: RefCell<Option<Sink>> = const { RefCell::new(None) };
}

/// Tells the tracking module something.
fn send(m: Message) {
    SINK.with(|s| {
        if let Some(f) = s.borrow().as_ref() {
            f(m);
        }
    });
}

/// The module's interface, in the core's types.
pub mod api {
    use super::*;
    use web_sys::Element;

    /// Compiles the personalization sections of the config `doc` with the
    /// landing page's `query` (its previews), and keeps `sink` for what the
    /// module has to say. Returns the config's problems, each a `Diagnostic::to_line`.
    pub fn init(doc: &Json, query: &str, sink: Sink) -> Vec<String> {
        let (p, diags) = Personalizer::configure(doc, query, BrowserJs);
        DECIDER.with(|d| *d.borrow_mut() = Some(p));
        SINK.with(|s| *s.borrow_mut() = Some(sink));
        diags.iter().map(|d| d.to_line()).collect()
    }

    /// The [`Decider`] of the configured rules.
    pub struct Local;

    impl Decider for Local {
        fn plan(&mut self, req: &PlanRequest) -> PlanResponse {
            DECIDER.with(|d| match d.borrow_mut().as_mut() {
                Some(p) => p.plan(req),
                None => PlanResponse::default(),
            })
        }

        fn explain(&mut self, req: &PlanRequest) -> Json {
            DECIDER.with(|d| match d.borrow_mut().as_mut() {
                Some(p) => p.explain(req),
                None => Json::Arr(Vec::new()),
            })
        }
    }

    /// In a microtask: every slot of the page.
    pub fn find_slots() {
        dom::find_slots_soon();
    }

    /// Watches the page for slots added and for content the page takes
    /// back from a slot.
    pub fn observe() {
        dom::observe();
    }

    /// In the next animation frame: every live slot.
    pub fn frame() {
        dom::request_frame();
    }

    /// Applies `patch` to slot `id`; says how it went.
    pub fn apply(id: SlotId, patch: &Patch) {
        dom::apply(id, patch);
    }

    /// The slot's default content back, marked with (rule, label) or not.
    pub fn restore(id: SlotId, mark: Option<&(String, String)>) {
        dom::restore(id, mark);
    }

    /// Shows slot `id` (`data-sillage-ready`).
    pub fn reveal(id: SlotId) {
        dom::reveal(id);
    }

    /// The personalized slot (and recommended item) a click landed in.
    pub fn slot_of(target: &Element) -> Option<(SlotId, Option<String>)> {
        dom::slot_of(target)
    }

    /// Forgets the slots (test support: a reload would).
    pub fn reset() {
        dom::reset();
    }
}

/// The JavaScript exports of the separate module: the same interface, in
/// JSON text ([`sillage_core::sdk::p13n`]'s forms).
#[cfg(feature = "module")]
mod exports {
    use super::*;
    use js_sys::Function;
    use sillage_core::decide::condition::JsHost;
    use sillage_core::support::json::write;
    use sillage_webhost::push_js_number;
    use wasm_bindgen::prelude::*;

    fn text(v: &Json) -> String {
        let mut out = String::new();
        write(v, &mut out, &push_js_number);
        out
    }

    fn parse(s: &str) -> Json {
        BrowserJs.parse_json(s).unwrap_or(Json::Null)
    }

    /// `init(config, query, sink)`: `config` the whole config document as
    /// JSON text; `sink(kind, json)` gets `slots` (a `SlotsFound`), `lost`
    /// (`[slot, all]`) or `applied` (`[slot, done, [errors]]`). Returns the
    /// config's problems as a JSON array of strings.
    #[wasm_bindgen]
    pub fn init(config: &str, query: &str, sink: Function) -> String {
        let warnings = api::init(
            &parse(config),
            query,
            Box::new(move |m: Message| {
                let (kind, v) = match m {
                    Message::Slots(found) => ("slots", found.to_json()),
                    Message::Lost(id, all) => {
                        ("lost", Json::Arr(vec![f64::from(id).into(), all.into()]))
                    }
                    Message::Applied(id, done, errors) => (
                        "applied",
                        Json::Arr(vec![
                            f64::from(id).into(),
                            (done as f64).into(),
                            Json::Arr(errors.into_iter().map(Json::Str).collect()),
                        ]),
                    ),
                };
                let _ = sink.call2(&JsValue::NULL, &kind.into(), &text(&v).into());
            }),
        );
        text(&Json::Arr(warnings.into_iter().map(Json::Str).collect()))
    }

    /// A `PlanRequest` (JSON text) decided: a `PlanResponse`.
    #[wasm_bindgen]
    pub fn plan(req: &str) -> String {
        text(
            &api::Local
                .plan(&PlanRequest::from_json(&parse(req)))
                .to_json(),
        )
    }

    /// A `PlanRequest` explained: the rows of the debug table.
    #[wasm_bindgen]
    pub fn explain(req: &str) -> String {
        text(&api::Local.explain(&PlanRequest::from_json(&parse(req))))
    }

    /// See [`api::find_slots`].
    #[wasm_bindgen]
    pub fn find_slots() {
        api::find_slots();
    }

    /// See [`api::observe`].
    #[wasm_bindgen]
    pub fn observe() {
        api::observe();
    }

    /// See [`api::frame`].
    #[wasm_bindgen]
    pub fn frame() {
        api::frame();
    }

    /// Applies a `Patch` (JSON text) to slot `id`.
    #[wasm_bindgen]
    pub fn apply(id: u32, patch: &str) {
        api::apply(id, &Patch::from_json(&parse(patch)));
    }

    /// The default back, marked with `[rule, label]` (JSON text) or `null`.
    #[wasm_bindgen]
    pub fn restore(id: u32, mark: &str) {
        let mark = sillage_core::sdk::p13n::mark_from_json(&parse(mark));
        api::restore(id, mark.as_ref());
    }

    /// See [`api::reveal`].
    #[wasm_bindgen]
    pub fn reveal(id: u32) {
        api::reveal(id);
    }

    /// `[slot, item | null]` as JSON text, or empty text.
    #[wasm_bindgen]
    pub fn slot_of(target: web_sys::Element) -> String {
        match api::slot_of(&target) {
            Some((id, item)) => text(&Json::Arr(vec![f64::from(id).into(), item.into()])),
            None => String::new(),
        }
    }

    /// See [`api::reset`].
    #[wasm_bindgen]
    pub fn reset() {
        api::reset();
    }
}
