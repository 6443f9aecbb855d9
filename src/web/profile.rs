//! The visitor profile in the page: loading it, feeding it every event (this
//! tab's and the other tabs'), persisting it, announcing stage changes.
//!
//! The scoring is the core's (`core::profile`); this module only moves data.
//! Persistence is debounced: the stored form (up to 16 KB) is written at most
//! once a second while events arrive, and at once when the page is hidden, so
//! recording an event never pays for a 16 KB `setItem`. Every tab applies
//! every event (its own, and the other tabs' through the `storage` event of
//! their queued events), so the tabs' profiles agree and whichever writes last
//! writes the same profile.

use js_sys::Function;
use wasm_bindgen::prelude::*;

use super::{env, record_now, with, Shell};
use crate::core::event::Call;
use crate::core::json::Json;
use crate::core::profile::model::StageModel;
use crate::core::profile::settings::ProfileConfig;
use crate::core::profile::{Profile, StageChange};
use crate::core::tracker::JsonEncoder;
use crate::core::visit::Activity;

/// Storage key of the profile.
pub const PROFILE_KEY: &str = "sillage.profile";

/// Longest wait before a changed profile is written.
const PERSIST_AFTER_MS: f64 = 1_000.0;

/// Event names `sillage.on` accepts.
const EVENTS: &[&str] = &["stage"];

/// Reads the stored profile (or starts one) with the config's model.
pub fn load(s: &mut Shell, model: StageModel, cfg: ProfileConfig) {
    let stored = s
        .store
        .get(PROFILE_KEY)
        .and_then(|text| js_sys::JSON::parse(&text).ok())
        .and_then(|v| super::convert::from_js(&v));
    let profile = match stored {
        Some(json) => {
            let (p, diags) = Profile::from_storage(&json, model, cfg);
            for d in diags {
                let mut m = String::from("stored profile: ");
                m.push_str(&d.render());
                m.push_str(" (that part was reset)");
                env::warn(&m);
            }
            p
        }
        None => {
            if s.store.get(PROFILE_KEY).is_some() {
                env::warn("stored profile was unreadable; starting a new one");
            }
            Profile::new(model, cfg)
        }
    };
    s.profile = Some(profile);
}

/// Applies one event to the profile and notes that it must be written.
pub fn apply(s: &mut Shell, event: &Json, now: f64) {
    if let Some(p) = s.profile.as_mut() {
        p.apply(event, now);
        s.profile_dirty.get_or_insert(now);
    }
}

/// Another tab queued an event (`storage` event): the profile learns it too.
pub fn adopt(s: &mut Shell, stored_record: &str, now: f64) {
    let Some((_, _, json)) = crate::core::outbox::decode_record(stored_record) else {
        return;
    };
    if let Some(ev) = js_sys::JSON::parse(json)
        .ok()
        .and_then(|v| super::convert::from_js(&v))
    {
        apply(s, &ev, now);
    }
}

/// The profile's next deadline: its own timer, or the debounced write.
pub fn poll_timeout(s: &Shell) -> Option<f64> {
    let own = s.profile.as_ref().and_then(Profile::poll_timeout);
    let write = s.profile_dirty.map(|t| t + PERSIST_AFTER_MS);
    match (own, write) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Timers that fell due, and the write if it is due (or `force`d, when the
/// page is hidden).
pub fn on_timer(s: &mut Shell, now: f64, force: bool) {
    if let Some(p) = s.profile.as_mut() {
        if p.poll_timeout().is_some_and(|t| t <= now) {
            p.handle_timeout(now);
        }
    }
    let due = s
        .profile_dirty
        .is_some_and(|t| force || t + PERSIST_AFTER_MS <= now);
    if due {
        persist(s);
    }
}

/// Writes the profile now.
pub fn persist(s: &mut Shell) {
    let Some(p) = s.profile.as_mut() else {
        return;
    };
    let text = env::Encoder.encode(&p.to_storage());
    s.store.set(PROFILE_KEY, &text);
    s.profile_dirty = None;
}

/// What moved the stage: which tab records the `Journey Stage Changed`
/// event, so that every tab's listeners hear the change but the collector
/// gets it once.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// An event this tab recorded: this tab records the change.
    OwnEvent,
    /// Time (decay, an intent's deadline): the sending tab records it.
    Time,
    /// Another tab's event: that tab records it.
    OtherTab,
}

/// A stage change to announce: to `on("stage")` listeners, and as a
/// `Journey Stage Changed` event where the privacy settings allow.
fn take_change(s: &mut Shell, cause: Cause) -> Option<(StageChange, Vec<Function>, bool)> {
    let mut change = s.profile.as_mut()?.poll_change()?;
    // A new visitor's first stage is where the journey starts, not a change.
    while change.from.is_none() {
        change = s.profile.as_mut()?.poll_change()?;
    }
    let listeners = s
        .listeners
        .iter()
        .filter(|(name, _)| name == "stage")
        .map(|(_, f)| f.clone())
        .collect();
    let record = s.stage_events
        && match cause {
            Cause::OwnEvent => true,
            Cause::Time => s.tracker.outbox.is_sender(),
            Cause::OtherTab => false,
        };
    Some((change, listeners, record))
}

/// Announces stage changes (outside any borrow of the shell: listeners are
/// page code and may call back into the SDK).
pub fn announce(cause: Cause) {
    while let Some((change, listeners, record)) = with(|s| take_change(s, cause)).flatten() {
        let payload = change.to_json();
        if record {
            record_now(
                Call::Track {
                    event: "Journey Stage Changed".into(),
                    properties: payload.clone(),
                },
                Activity::Other,
            );
        }
        if !listeners.is_empty() {
            let arg = to_js(&payload);
            for f in listeners {
                if let Err(e) = f.call1(&JsValue::NULL, &arg) {
                    let mut m = String::from("on(\"stage\") callback threw: ");
                    m.push_str(&env::error_text(&e));
                    env::error(&m);
                }
            }
        }
    }
}

/// A core value as a plain JS object (the browser parses the core's text).
pub fn to_js(v: &Json) -> JsValue {
    js_sys::JSON::parse(&env::Encoder.encode(v)).unwrap_or(JsValue::NULL)
}

/// `sillage.profile()`: the profile snapshot, a plain object (`null` before
/// the config was applied).
#[wasm_bindgen]
pub fn profile() -> JsValue {
    let now = env::now();
    let snapshot = with(|s| {
        let p = s.profile.as_mut()?;
        // Decay may have moved the stage since the last event.
        p.handle_timeout(now);
        Some(p.snapshot(now))
    })
    .flatten();
    announce(Cause::Time);
    snapshot.map_or(JsValue::NULL, |v| to_js(&v))
}

/// `sillage.interest(topic, weight)`: an explicit (zero-party) interest, 0
/// to 1, which overrides the inferred one and does not fade; 0 hides it.
#[wasm_bindgen]
pub fn interest(topic: JsValue, weight: JsValue) {
    let (Some(t), Some(w)) = (topic.as_string(), weight.as_f64()) else {
        env::warn("interest: needs a topic (string) and a weight (number from 0 to 1)");
        return;
    };
    let t = env::lower(&t);
    if t.trim().is_empty() || !(0.0..=1.0).contains(&w) {
        env::warn("interest: needs a topic (string) and a weight (number from 0 to 1)");
        return;
    }
    let now = env::now();
    with(|s| {
        if let Some(p) = s.profile.as_mut() {
            p.set_interest(&t, w, now);
            s.profile_dirty.get_or_insert(now);
        }
    });
    announce(Cause::OwnEvent);
    super::pump();
}

/// `sillage.on(name, callback)`: `"stage"` calls `callback({from, to,
/// reasons})` when the likely journey stage changes.
#[wasm_bindgen]
pub fn on(name: JsValue, callback: JsValue) {
    let name = name.as_string().unwrap_or_default();
    if !EVENTS.contains(&name.as_str()) {
        let mut m = String::from("on: ");
        m.push_str(&crate::core::diag::unknown("event", &name, EVENTS));
        env::warn(&m);
        return;
    }
    let Ok(f) = callback.dyn_into::<Function>() else {
        env::warn("on: callback must be a function");
        return;
    };
    with(|s| s.listeners.push((name, f)));
}
