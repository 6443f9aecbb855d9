//! Network effects: batch requests, beacons and the config fetch.
//!
//! Batches go out as `text/plain`, so the request is CORS-simple: no
//! preflight that could be lost at unload, and `sendBeacon` accepts it.
//!
//! Chromium lets a page have 64 KiB of `keepalive` bodies in flight (beacons
//! included) and gives a request's share back only when it completes: a
//! response whose body is never read (behind `Cache-Control: no-store`)
//! keeps its share for the life of the page. So every response body is
//! cancelled before the outcome is reported, and a request the browser
//! refuses locally with `keepalive` is sent again at once without it: a
//! local refusal is never taken for an outage. The core decides which
//! requests use `keepalive` at all.

use js_sys::{Array, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Blob, BlobPropertyBag, Response};

use super::{dispatch, env};
use sillage_core::sdk::Input;
use sillage_core::support::json::Json;
use sillage_core::support::time::parse_retry_after;
use sillage_core::track::batch::Outcome;

#[wasm_bindgen]
extern "C" {
    /// Any promise, seen through `then` with plain JS functions (one-shot
    /// closures free themselves once called).
    type Thenable;
    #[wasm_bindgen(method, js_name = then)]
    fn then_js(this: &Thenable, ok: &JsValue, err: &JsValue);
}

/// Calls `ok` with `p`'s value once it resolves.
pub fn on_settle(p: &Promise, ok: &JsValue) {
    p.unchecked_ref::<Thenable>()
        .then_js(ok, &JsValue::UNDEFINED);
}

/// Runs `ok` or `err` when `p` settles.
pub fn then(p: Promise, ok: impl FnOnce(JsValue) + 'static, err: impl FnOnce(JsValue) + 'static) {
    then_boxed(p, Box::new(ok), Box::new(err));
}

/// [`then`] with one closure type for every caller: each distinct closure
/// given to `Closure::once_into_js` costs its own JS-callable shims in the
/// wasm (about 300 bytes each), so the callers' closures are boxed first.
fn then_boxed(p: Promise, ok: Box<dyn FnOnce(JsValue)>, err: Box<dyn FnOnce(JsValue)>) {
    let ok = Closure::once_into_js(move |v: JsValue| ok(v));
    let err = Closure::once_into_js(move |v: JsValue| err(v));
    p.unchecked_ref::<Thenable>().then_js(&ok, &err);
}

#[wasm_bindgen]
extern "C" {
    /// `CompressionStream` (checked to exist at boot: `Boot::compression`).
    type CompressionStream;
    #[wasm_bindgen(constructor, catch)]
    fn new(format: &str) -> Result<CompressionStream, JsValue>;
}

/// `body` gzipped: `new Response(blob.stream().pipeThrough(new
/// CompressionStream("gzip"))).arrayBuffer()`; posted as it is, with no
/// `Content-Type`, so the request stays CORS-simple.
fn gzip(body: &str) -> Option<Promise> {
    let parts = Array::of1(&JsValue::from_str(body));
    let blob = Blob::new_with_str_sequence(&parts).ok()?;
    let cs = CompressionStream::new("gzip").ok()?;
    let stream = blob.stream().pipe_through(cs.unchecked_ref());
    Response::new_with_opt_readable_stream(Some(&stream))
        .ok()?
        .array_buffer()
        .ok()
}

/// `url` with `ce=gzip` added to its query (the encoding of a CORS-simple
/// request cannot be a header).
fn gzip_url(url: &str) -> String {
    let mut u = String::from(url);
    u.push(if url.bytes().any(|b| b == b'?') {
        '&'
    } else {
        '?'
    });
    u.push_str("ce=gzip");
    u
}

fn post(url: &str, body: &JsValue, keepalive: bool) -> Option<Promise> {
    let init = Object::new();
    let set = |k: &str, v: &JsValue| {
        let _ = Reflect::set(&init, &JsValue::from_str(k), v);
    };
    set("method", &"POST".into());
    set("body", body);
    set("keepalive", &JsValue::from_bool(keepalive));
    set("credentials", &"omit".into());
    let w = web_sys::window()?;
    Some(w.fetch_with_str_and_init(url, init.unchecked_ref()))
}

/// The outcome of a response, its body cancelled (so a `keepalive` share
/// is given back even when the response may not be cached).
fn outcome(resp: JsValue) -> Outcome {
    let Ok(r) = resp.dyn_into::<Response>() else {
        return Outcome::NetworkError;
    };
    if let Some(body) = r.body() {
        let _ = body.cancel();
    }
    Outcome::Status {
        code: r.status(),
        retry_after_ms: r
            .headers()
            .get("Retry-After")
            .ok()
            .flatten()
            .and_then(|v| parse_retry_after(&v, env::now())),
    }
}

/// Sends one batch with `fetch` (gzipped first when the core says so; a
/// body that cannot be compressed goes as it is); the outcome goes back to
/// the core.
pub fn send(batch: u64, url: &str, body: &str, keepalive: bool, gzip: bool) {
    let plain = JsValue::from_str(body);
    match gzip.then(|| self::gzip(body)).flatten() {
        Some(p) => {
            let (url, gz) = (url.to_string(), gzip_url(url));
            then(
                p,
                move |bytes| send_body(batch, &gz, bytes, keepalive),
                move |_| send_body(batch, &url, plain, keepalive),
            )
        }
        None => send_body(batch, url, plain, keepalive),
    }
}

/// Posts one batch's body. A `keepalive` request that fails without a
/// response is sent once more, at once, without `keepalive` (the browser
/// may have refused it locally).
fn send_body(batch: u64, url: &str, body: JsValue, keepalive: bool) {
    let done = move |o: Outcome| {
        dispatch(Input::Response {
            batch,
            outcome: o,
            jitter: js_sys::Math::random(),
        })
    };
    let Some(p) = post(url, &body, keepalive) else {
        done(Outcome::NetworkError);
        return;
    };
    let url = url.to_string();
    then(
        p,
        move |resp| done(outcome(resp)),
        move |_| {
            if !keepalive {
                return done(Outcome::NetworkError);
            }
            match post(&url, &body, false) {
                Some(p) => then(
                    p,
                    move |resp| done(outcome(resp)),
                    move |_| done(Outcome::NetworkError),
                ),
                None => done(Outcome::NetworkError),
            }
        },
    );
}

/// Sends a body at unload: `sendBeacon` with a `text/plain` Blob; if the
/// browser refuses it, `fetch` with `keepalive`; if that is refused too, a
/// plain `fetch` (it may not outlive the page, but the events stay stored
/// for a later send).
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
    if queued == Some(true) {
        return;
    }
    let body = JsValue::from_str(body);
    let Some(p) = post(url, &body, true) else {
        return;
    };
    let url = url.to_string();
    then(
        p,
        |resp| {
            let _ = outcome(resp);
        },
        move |_| {
            if let Some(p) = post(&url, &body, false) {
                then(
                    p,
                    |resp| {
                        let _ = outcome(resp);
                    },
                    |_| {},
                );
            }
        },
    );
}

/// Asks the collector to erase a forgotten visitor; the core hears whether
/// it did (2xx).
pub fn erase(url: &str, body: &str) {
    let done = |ok: bool| dispatch(Input::Erased(ok));
    let Some(p) = post(url, &JsValue::from_str(body), true) else {
        done(false);
        return;
    };
    then(
        p,
        move |resp| {
            let ok = matches!(
                outcome(resp),
                Outcome::Status {
                    code: 200..=299,
                    ..
                }
            );
            done(ok)
        },
        move |_| done(false),
    );
}

/// Fetches the config document; the core gets it, or why it failed.
pub fn load_config(url: &str) {
    let fail = |why: String| dispatch(Input::ConfigFailed(why, env::page_now(true)));
    fetch_json(
        url,
        |doc| dispatch(Input::ConfigLoaded(doc, env::page_now(true))),
        fail,
    );
}

/// `Effect::LoadMessages`: the catalogue of diagnostics' sentences.
pub fn load_messages(url: &str) {
    fetch_json(
        url,
        |doc| dispatch(Input::Messages(Some(doc))),
        |_| dispatch(Input::Messages(None)),
    );
}

/// Fetches `url` as JSON data: `ok` with it, or `fail` with why not.
fn fetch_json(url: &str, ok: fn(Json), fail: fn(String)) {
    let Some(w) = web_sys::window() else {
        fail("no window".into());
        return;
    };
    then(
        w.fetch_with_str(url),
        move |resp| {
            let Ok(r) = resp.dyn_into::<Response>() else {
                return fail("no response".into());
            };
            if !r.ok() {
                let mut why = String::from("HTTP ");
                sillage_core::support::diag::push_usize(&mut why, r.status() as usize);
                return fail(why);
            }
            match r.json() {
                Ok(p) => then(
                    p,
                    move |v| match super::convert::json(&v) {
                        Some(doc) => ok(doc),
                        None => fail("not JSON data".into()),
                    },
                    move |e| {
                        let mut why = String::from("invalid JSON: ");
                        why.push_str(&env::error_text(&e));
                        fail(why)
                    },
                ),
                Err(e) => fail(env::error_text(&e)),
            }
        },
        move |e| fail(env::error_text(&e)),
    );
}
