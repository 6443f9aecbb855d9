//! Browser tests of the web shell, run in headless Chromium by
//! wasm-bindgen-test (`cargo xtask test`, step 5). They drive the exported
//! API the way the loader and a page do, and look at what the shell stored.
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Function, Object, Promise, Reflect};
use sillage::web::{self, ANONYMOUS_ID_KEY};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn storage() -> web_sys::Storage {
    web_sys::window().unwrap().local_storage().unwrap().unwrap()
}

/// A fresh page: no shell state, empty storage.
fn reload(clear: bool) {
    web::debug_reset();
    if clear {
        storage().clear().unwrap();
    }
}

fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &(*k).into(), v).unwrap();
    }
    o.into()
}

fn events() -> Vec<serde_json::Value> {
    web::debug_state()
        .1
        .iter()
        .map(|j| serde_json::from_str(j).expect("events are valid JSON"))
        .collect()
}

/// Resolves after `ms` milliseconds.
async fn sleep(ms: i32) {
    let p = Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    JsFuture::from(p).await.unwrap();
}

fn is_uuid(s: &str) -> bool {
    sillage::core::event::is_uuid(s)
}

#[wasm_bindgen_test]
fn anonymous_id_is_created_stored_and_reused_across_reloads() {
    reload(true);
    web::track("First".into(), JsValue::UNDEFINED);
    let stored = storage()
        .get_item(ANONYMOUS_ID_KEY)
        .unwrap()
        .expect("stored");
    assert!(is_uuid(&stored), "{stored}");
    let ev = events();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["anonymousId"], stored.as_str());

    reload(false);
    web::track("Second".into(), JsValue::UNDEFINED);
    assert_eq!(web::debug_state().0, stored, "a reload keeps the id");
    assert_eq!(events()[0]["anonymousId"], stored.as_str());
}

#[wasm_bindgen_test]
fn a_corrupt_stored_id_is_replaced_not_thrown() {
    reload(true);
    storage().set_item(ANONYMOUS_ID_KEY, "<script>").unwrap();
    web::track("X".into(), JsValue::UNDEFINED);
    let id = web::debug_state().0;
    assert!(is_uuid(&id));
    assert_eq!(storage().get_item(ANONYMOUS_ID_KEY).unwrap().unwrap(), id);
}

#[wasm_bindgen_test]
async fn the_queue_stub_is_replayed_in_order_and_promises_settle() {
    reload(true);
    let resolved = Function::new_with_args(
        "v",
        "window.__sillageFlushed = v === false ? 'no collector' : String(v)",
    );
    let q = Array::new();
    q.push(&Array::of2(
        &"track".into(),
        &Array::of2(&"Q1".into(), &obj(&[("n", 1.into())])),
    ));
    q.push(&Array::of2(
        &"page".into(),
        &Array::of1(&obj(&[("name", "Pricing".into())])),
    ));
    q.push(&Array::of2(&"track".into(), &Array::of1(&"Q2".into())));
    q.push(&Array::of2(&"nonsense".into(), &Array::new()));
    q.push(&Array::of3(&"flush".into(), &Array::new(), &resolved));
    web::boot(obj(&[("config", obj(&[("version", 1.into())]))]));
    web::replay(q.into());
    let ev = events();
    let kinds: Vec<String> = ev
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["type"].as_str().unwrap(),
                e["event"].as_str().or(e["name"].as_str()).unwrap_or("")
            )
        })
        .collect();
    // The automatic page view comes first, then the queue in order.
    assert_eq!(kinds, ["page:", "track:Q1", "page:Pricing", "track:Q2"]);
    assert_eq!(ev[1]["properties"]["n"], 1);
    sleep(10).await;
    let flushed = Reflect::get(&web_sys::window().unwrap(), &"__sillageFlushed".into()).unwrap();
    assert_eq!(flushed.as_string().as_deref(), Some("no collector"));
}

#[wasm_bindgen_test]
async fn a_bad_config_leaves_the_page_working() {
    reload(true);
    let ready_calls =
        Function::new_no_args("window.__sillageReady = (window.__sillageReady || 0) + 1");
    web::ready(ready_calls.clone().into());
    // Wrong version, wrong types, a misspelt key: warnings, never a throw.
    let bad = js_sys::JSON::parse(r#"{"version": 2, "collector": 42, "colector": {"url": "/x"}}"#)
        .unwrap();
    web::boot(obj(&[("config", bad)]));
    web::track("Still Works".into(), obj(&[("ok", true.into())]));
    // A callback that throws is reported, not propagated.
    web::ready(Function::new_no_args("throw new Error('site bug')").into());
    // Values JSON cannot hold are refused with a warning.
    let cyclic = Object::new();
    Reflect::set(&cyclic, &"self".into(), &cyclic).unwrap();
    web::track("Cyclic".into(), cyclic.into());
    web::track(42.into(), JsValue::UNDEFINED);
    let names: Vec<String> = events()
        .iter()
        .filter_map(|e| e["event"].as_str().map(String::from))
        .collect();
    assert_eq!(names, ["Still Works"]);
    let ready = Reflect::get(&web_sys::window().unwrap(), &"__sillageReady".into()).unwrap();
    assert_eq!(ready.as_f64(), Some(1.0));
}

#[wasm_bindgen_test]
async fn a_missing_config_url_keeps_events_on_the_device() {
    reload(true);
    let p = Promise::new(&mut |resolve, _| web::ready(resolve.into()));
    web::boot(obj(&[("configUrl", "/no-such-config.json".into())]));
    web::track("Queued".into(), JsValue::UNDEFINED);
    JsFuture::from(p).await.unwrap();
    let flushed = JsFuture::from(web::flush()).await.unwrap();
    assert_eq!(
        flushed,
        JsValue::FALSE,
        "no collector: flush says nothing was delivered"
    );
    let names: Vec<String> = events()
        .iter()
        .filter_map(|e| e["event"].as_str().map(String::from))
        .collect();
    assert_eq!(names, ["Queued"]);
}

#[wasm_bindgen_test]
async fn forget_erases_the_visitor_from_the_device() {
    reload(true);
    web::identify("user-1".into(), JsValue::UNDEFINED);
    web::track("Before".into(), JsValue::UNDEFINED);
    let before = web::debug_state().0;
    assert_eq!(
        storage().get_item(web::USER_ID_KEY).unwrap().as_deref(),
        Some("user-1")
    );
    JsFuture::from(web::forget()).await.unwrap();
    let (after, pending) = web::debug_state();
    assert_ne!(before, after);
    assert!(pending.is_empty(), "unsent events are erased too");
    assert_eq!(storage().get_item(web::USER_ID_KEY).unwrap(), None);
    assert_eq!(
        storage().get_item(ANONYMOUS_ID_KEY).unwrap().as_deref(),
        Some(after.as_str())
    );
}

#[wasm_bindgen_test]
fn large_numbers_survive_the_wasm_json_writer() {
    // usize is 32 bits in the wasm: epoch milliseconds must not be cut.
    reload(true);
    let props = js_sys::JSON::parse(
        r#"{"ms": 1795411448123, "neg": -5000000000000000, "f": 0.1, "e": 1e21}"#,
    )
    .unwrap();
    web::track("Big".into(), props);
    let ev = events().pop().unwrap();
    assert_eq!(
        ev["properties"],
        serde_json::json!({"ms": 1795411448123u64, "neg": -5000000000000000i64, "f": 0.1, "e": 1e21})
    );
}

#[wasm_bindgen_test]
async fn stored_events_survive_a_reload_and_the_sender_takes_them_over() {
    reload(true);
    web::track("Before Reload 1".into(), JsValue::UNDEFINED);
    web::track("Before Reload 2".into(), JsValue::UNDEFINED);
    reload(false);
    let p = Promise::new(&mut |resolve, _| web::ready(resolve.into()));
    web::boot(obj(&[("config", obj(&[("version", 1.into())]))]));
    JsFuture::from(p).await.unwrap();
    sleep(50).await; // the Web Lock is granted asynchronously
    let names: Vec<String> = events()
        .iter()
        .filter_map(|e| e["event"].as_str().map(String::from))
        .collect();
    assert_eq!(names, ["Before Reload 1", "Before Reload 2"]);
    assert_eq!(
        storage().get_item("sillage.dropped").unwrap(),
        None,
        "nothing was dropped"
    );
}

#[wasm_bindgen_test]
async fn without_web_locks_a_storage_lease_elects_the_sender() {
    reload(true);
    let nav = web_sys::window().unwrap().navigator();
    let original = Reflect::get(&nav, &"locks".into()).unwrap();
    let desc = obj(&[("value", JsValue::UNDEFINED), ("configurable", true.into())]);
    js_sys::Reflect::define_property(&nav, &"locks".into(), desc.unchecked_ref()).unwrap();
    web::track("Before Election".into(), JsValue::UNDEFINED);
    web::boot(obj(&[("config", obj(&[("version", 1.into())]))]));
    let lease = storage()
        .get_item("sillage.sender")
        .unwrap()
        .expect("claimed at once");
    assert!(lease.contains('|'), "{lease}");
    // The claim is confirmed at the next heartbeat (2 s); then this tab sends.
    sleep(2_300).await;
    let stored_lease = storage().get_item("sillage.sender").unwrap().unwrap();
    assert!(
        stored_lease.starts_with(lease.split('|').next().unwrap()),
        "still ours: {stored_lease}"
    );
    let names: Vec<String> = events()
        .iter()
        .filter_map(|e| e["event"].as_str().map(String::from))
        .collect();
    assert_eq!(names, ["Before Election"]);
    assert!(web::debug_is_sender(), "the lease made this tab the sender");
    reload(true);
    let desc = obj(&[("value", original), ("configurable", true.into())]);
    js_sys::Reflect::define_property(&nav, &"locks".into(), desc.unchecked_ref()).unwrap();
}
