//! Network effects: batch requests, beacons and the config fetch.
//!
//! Batches go out as `text/plain` so the request is CORS-simple: no preflight
//! that could be lost at unload, and `sendBeacon` accepts it.

use js_sys::{Array, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Blob, BlobPropertyBag, Response};

use super::env;
use crate::core::batch::{Outcome, Transmit};
use crate::core::time::parse_retry_after;

#[wasm_bindgen]
extern "C" {
    /// Any promise, seen through `then` with plain JS functions (one-shot
    /// closures free themselves once called).
    pub(crate) type Thenable;
    #[wasm_bindgen(method, js_name = then)]
    pub(crate) fn then_js(this: &Thenable, ok: &JsValue, err: &JsValue);
}

/// Runs `ok` or `err` when `p` settles.
fn then(p: Promise, ok: impl FnOnce(JsValue) + 'static, err: impl FnOnce(JsValue) + 'static) {
    let ok = Closure::once_into_js(ok);
    let err = Closure::once_into_js(err);
    p.unchecked_ref::<Thenable>().then_js(&ok, &err);
}

fn set(o: &Object, k: &str, v: &JsValue) {
    let _ = Reflect::set(o, &JsValue::from_str(k), v);
}

fn post(url: &str, body: &str) -> Option<Promise> {
    let init = Object::new();
    set(&init, "method", &"POST".into());
    set(&init, "body", &body.into());
    // Lets the request finish if the page goes away meanwhile (64 KB budget;
    // batches stay under maxBytes <= 60,000).
    set(&init, "keepalive", &JsValue::TRUE);
    set(&init, "credentials", &"omit".into());
    let w = web_sys::window()?;
    Some(w.fetch_with_str_and_init(url, init.unchecked_ref()))
}

/// Sends one batch with `fetch` and feeds the outcome back to the core.
pub fn send(url: &str, t: Transmit) {
    let id = t.batch_id;
    let done = move |outcome: Outcome| {
        super::with(|s| {
            s.tracker
                .handle_response(id, outcome, env::now(), env::jitter());
            super::tabs::apply_ops(s);
        });
        super::pump();
    };
    let Some(p) = post(url, &t.body) else {
        done(Outcome::NetworkError);
        return;
    };
    let done2 = done;
    then(
        p,
        move |resp| {
            let outcome = match resp.dyn_into::<Response>() {
                Ok(r) => Outcome::Status {
                    code: r.status(),
                    retry_after_ms: r
                        .headers()
                        .get("Retry-After")
                        .ok()
                        .flatten()
                        .and_then(|v| parse_retry_after(&v, env::now())),
                },
                Err(_) => Outcome::NetworkError,
            };
            done(outcome);
        },
        move |_| done2(Outcome::NetworkError),
    );
}

/// Sends a body at unload: `sendBeacon` with a `text/plain` Blob, falling back
/// to `fetch` with `keepalive` when the beacon is refused.
pub fn beacon(url: &str, body: &str) {
    let queued = (|| {
        let w = web_sys::window()?;
        let opts = BlobPropertyBag::new();
        opts.set_type("text/plain");
        let parts = Array::of1(&JsValue::from_str(body));
        let blob = Blob::new_with_str_sequence_and_options(&parts, &opts).ok()?;
        w.navigator()
            .send_beacon_with_opt_blob(url, Some(&blob))
            .ok()
    })();
    if queued != Some(true) {
        if let Some(p) = post(url, body) {
            then(p, |_| {}, |_| {});
        }
    }
}

/// Fetches the config document, then hands it (or its absence) to the shell.
pub fn load_config(url: &str) {
    let Some(w) = web_sys::window() else {
        super::apply_config(None, "");
        return;
    };
    let source = url.to_string();
    let fail = {
        let source = source.clone();
        move |why: String| {
            let mut m = String::from("could not load config ");
            m.push_str(&source);
            m.push_str(": ");
            m.push_str(&why);
            m.push_str("; events stay on this device");
            env::warn(&m);
            super::apply_config(None, "");
        }
    };
    let fail2 = fail.clone();
    then(
        w.fetch_with_str(url),
        move |resp| {
            let Ok(r) = resp.dyn_into::<Response>() else {
                return fail("no response".into());
            };
            if !r.ok() {
                let mut why = String::from("HTTP ");
                crate::core::diag::push_usize(&mut why, r.status() as usize);
                return fail(why);
            }
            match r.json() {
                Ok(p) => {
                    let fail3 = fail.clone();
                    then(
                        p,
                        move |v| super::apply_config(Some(v), &source),
                        move |e| {
                            let mut why = String::from("invalid JSON: ");
                            why.push_str(&env::error_text(&e));
                            fail3(why)
                        },
                    )
                }
                Err(e) => fail(env::error_text(&e)),
            }
        },
        move |e| fail2(env::error_text(&e)),
    );
}
