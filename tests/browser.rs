//! Browser tests of the web shell, run in headless Chromium by
//! wasm-bindgen-test (`cargo xtask test`, step 5). They drive the exported
//! API the way the loader and a page do, and look at what the shell stored.
// Tests: the size rules of clippy.toml are for code that ships in the wasm.
#![allow(
    clippy::disallowed_macros,
    clippy::disallowed_methods,
    clippy::disallowed_types
)]
#![cfg(target_arch = "wasm32")]

// Personalization runs in the same wasm here: the personalization module is
// linked in (`bundled`) behind the same JSON interface as in the page.
#[cfg(not(feature = "bundled"))]
compile_error!(
    "the browser tests need the personalization module: run them with --features bundled"
);

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
pub(crate) fn reload(clear: bool) {
    web::debug_reset();
    if clear {
        storage().clear().unwrap();
    }
}

pub(crate) fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &(*k).into(), v).unwrap();
    }
    o.into()
}

/// A collector that is never reached during a test: events stay queued in
/// storage, where [`events`] reads them (without a collector nothing is
/// queued at all), and an explicit `flush()` fails (connection refused on
/// the discard port) and resolves `false`.
const UNREACHED: &str =
    r#"{"url": "http://127.0.0.1:9/never", "batch": {"maxEvents": 500, "flushMs": 60000}}"#;

fn unreached() -> JsValue {
    js_sys::JSON::parse(UNREACHED).unwrap()
}

/// The smallest config whose events stay queued.
fn queued() -> JsValue {
    obj(&[("version", 1.into()), ("collector", unreached())])
}

/// Every event not yet acknowledged, once the current task ended (the SDK
/// writes storage behind, at the end of the task).
pub(crate) async fn events() -> Vec<serde_json::Value> {
    task_end().await;
    web::debug_state()
        .1
        .iter()
        .map(|j| serde_json::from_str(j).expect("events are valid JSON"))
        .collect()
}

/// Resolves after `ms` milliseconds.
pub(crate) async fn sleep(ms: i32) {
    let p = Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    JsFuture::from(p).await.unwrap();
}

/// Resolves after the current task: storage writes the SDK keeps behind
/// until the end of the task (a microtask) are applied by then.
pub(crate) async fn task_end() {
    sleep(0).await;
}

/// Resolves at the next animation frame (after the callbacks the SDK
/// registered before this call, which run first in the same frame).
pub(crate) async fn next_frame() {
    let p = Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .request_animation_frame(&resolve)
            .unwrap();
    });
    JsFuture::from(p).await.unwrap();
}

/// Every `console.warn` message while it lives (the console's own
/// `warn` is put back when it is dropped).
pub(crate) struct Warnings {
    log: Array,
    original: JsValue,
}

impl Warnings {
    pub(crate) fn capture() -> Warnings {
        let console = Reflect::get(&js_sys::global(), &"console".into()).unwrap();
        let original = Reflect::get(&console, &"warn".into()).unwrap();
        let log = Array::new();
        let make = Function::new_with_args(
            "log",
            "return function () { log.push([].slice.call(arguments).map(String).join(' ')); };",
        );
        let recorder = make.call1(&JsValue::NULL, &log).unwrap();
        Reflect::set(&console, &"warn".into(), &recorder).unwrap();
        Warnings { log, original }
    }

    /// The messages so far.
    pub(crate) fn messages(&self) -> Vec<String> {
        self.log.iter().filter_map(|v| v.as_string()).collect()
    }

    /// Asserts that some message contains `needle`.
    pub(crate) fn assert_has(&self, needle: &str) {
        let m = self.messages();
        assert!(
            m.iter().any(|w| w.contains(needle)),
            "no console.warn contains {needle:?}; got {m:#?}"
        );
    }
}

impl Drop for Warnings {
    fn drop(&mut self) {
        let console = Reflect::get(&js_sys::global(), &"console".into()).unwrap();
        let _ = Reflect::set(&console, &"warn".into(), &self.original);
    }
}

fn is_uuid(s: &str) -> bool {
    sillage_core::track::event::is_uuid(s)
}

#[path = "browser/conformance.rs"]
mod conformance;
#[path = "browser/html.rs"]
mod html;
#[path = "browser/p13n.rs"]
mod p13n;

#[wasm_bindgen_test]
async fn anonymous_id_is_created_stored_and_reused_across_reloads() {
    reload(true);
    web::track("First".into(), JsValue::UNDEFINED);
    // The event is written behind, at the end of the task, not within the
    // call.
    let event_keys = || {
        let s = storage();
        (0..s.length().unwrap())
            .filter_map(|i| s.key(i).unwrap())
            .filter(|k| k.starts_with("sillage.e."))
            .count()
    };
    assert_eq!(event_keys(), 0, "written inside track()");
    task_end().await;
    assert_eq!(event_keys(), 1, "not written by the end of the task");
    let stored = storage()
        .get_item(ANONYMOUS_ID_KEY)
        .unwrap()
        .expect("stored");
    assert!(is_uuid(&stored), "{stored}");
    let ev = events().await;
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["anonymousId"], stored.as_str());

    reload(false);
    web::track("Second".into(), JsValue::UNDEFINED);
    assert_eq!(web::debug_state().0, stored, "a reload keeps the id");
    assert_eq!(events().await[0]["anonymousId"], stored.as_str());
}

#[wasm_bindgen_test]
async fn a_corrupt_stored_id_is_replaced_not_thrown() {
    reload(true);
    storage().set_item(ANONYMOUS_ID_KEY, "<script>").unwrap();
    web::track("X".into(), JsValue::UNDEFINED);
    task_end().await;
    let id = web::debug_state().0;
    assert!(is_uuid(&id));
    assert_eq!(storage().get_item(ANONYMOUS_ID_KEY).unwrap().unwrap(), id);
}

#[wasm_bindgen_test]
async fn the_queue_stub_is_replayed_in_order_and_promises_settle() {
    reload(true);
    let resolved = Function::new_with_args(
        "v",
        "window.__sillageFlushed = v === false ? 'not delivered' : String(v)",
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
    web::boot(obj(&[("config", queued())]));
    web::replay(q.into());
    let ev = events().await;
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
    // The queued flush settles once its request failed (the collector is
    // never reached); polled, so a loaded machine's slow refusal is waited for.
    let mut flushed = JsValue::UNDEFINED;
    for _ in 0..250 {
        flushed = Reflect::get(&web_sys::window().unwrap(), &"__sillageFlushed".into()).unwrap();
        if !flushed.is_undefined() {
            break;
        }
        sleep(20).await;
    }
    assert_eq!(flushed.as_string().as_deref(), Some("not delivered"));
}

#[wasm_bindgen_test]
async fn a_bad_config_leaves_the_page_working() {
    reload(true);
    let ready_calls =
        Function::new_no_args("window.__sillageReady = (window.__sillageReady || 0) + 1");
    web::ready(ready_calls.clone().into());
    let warnings = Warnings::capture();
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
        .await
        .iter()
        .filter_map(|e| e["event"].as_str().map(String::from))
        .collect();
    assert_eq!(names, ["Still Works"]);
    let ready = Reflect::get(&web_sys::window().unwrap(), &"__sillageReady".into()).unwrap();
    assert_eq!(ready.as_f64(), Some(1.0));
    // Booted without `messagesUrl`: the shipped wasm has no sentences, so
    // each diagnostic is its JSON path, its code and its arguments.
    warnings.assert_has("sillage: config (boot options): version: code ");
    warnings.assert_has(&format!(
        "sillage: config (boot options): colector: code {} (colector, collector)",
        code_of(r#"unknown key "{}""#)
    ));
    warnings.assert_has("sillage: track.properties: code ");
    warnings.assert_has("sillage: track.event: code ");
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
        .await
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
    task_end().await;
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
    // The device holds nothing until the new visitor's first event.
    assert_eq!(storage().get_item(ANONYMOUS_ID_KEY).unwrap(), None);
    web::track("After".into(), JsValue::UNDEFINED);
    task_end().await;
    assert_eq!(
        storage().get_item(ANONYMOUS_ID_KEY).unwrap().as_deref(),
        Some(after.as_str())
    );
}

#[wasm_bindgen_test]
async fn large_numbers_survive_the_wasm_json_writer() {
    // usize is 32 bits in the wasm: epoch milliseconds must not be cut.
    reload(true);
    let props = js_sys::JSON::parse(
        r#"{"ms": 1795411448123, "neg": -5000000000000000, "f": 0.1, "e": 1e21}"#,
    )
    .unwrap();
    web::track("Big".into(), props);
    let ev = events().await.pop().unwrap();
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
    web::boot(obj(&[("config", queued())]));
    JsFuture::from(p).await.unwrap();
    sleep(50).await; // the Web Lock is granted asynchronously
    let names: Vec<String> = events()
        .await
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
    web::boot(obj(&[("config", queued())]));
    task_end().await;
    let lease = storage()
        .get_item("sillage.sender")
        .unwrap()
        .expect("claimed at once");
    assert!(lease.contains('|'), "{lease}");
    // The claim is confirmed at the next heartbeat (2 s); then this tab sends.
    // (Polled, up to 8 s, so a loaded machine's late timer does not fail it.)
    for _ in 0..40 {
        if web::debug_is_sender() {
            break;
        }
        sleep(200).await;
    }
    let stored_lease = storage().get_item("sillage.sender").unwrap().unwrap();
    assert!(
        stored_lease.starts_with(lease.split('|').next().unwrap()),
        "still ours: {stored_lease}"
    );
    let names: Vec<String> = events()
        .await
        .iter()
        .filter_map(|e| e["event"].as_str().map(String::from))
        .collect();
    assert_eq!(names, ["Before Election"]);
    assert!(web::debug_is_sender(), "the lease made this tab the sender");
    reload(true);
    let desc = obj(&[("value", original), ("configurable", true.into())]);
    js_sys::Reflect::define_property(&nav, &"locks".into(), desc.unchecked_ref()).unwrap();
}

/// Boots a fresh shell with a collector never reached (events stay in
/// storage, where `events()` reads them) and the given capture switches.
async fn boot_capturing(capture: JsValue) {
    reload(true);
    let cfg = obj(&[
        ("version", 1.into()),
        ("collector", unreached()),
        ("capture", capture),
    ]);
    web::boot(obj(&[("config", cfg)]));
    sleep(0).await;
}

async fn names_of(kind: &str) -> Vec<String> {
    events()
        .await
        .iter()
        .filter(|e| e["type"] == kind)
        .map(|e| {
            e["event"]
                .as_str()
                .or(e["properties"]["path"].as_str())
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

fn history() -> web_sys::History {
    web_sys::window().unwrap().history().unwrap()
}

/// Waits (up to 6 s, for a loaded machine) until `n` page views were
/// recorded; fails the test if they never are.
async fn wait_for_views(n: usize) {
    for _ in 0..120 {
        if names_of("page").await.len() >= n {
            return;
        }
        sleep(50).await;
    }
    panic!("expected {n} page views, got {:?}", names_of("page").await);
}

#[wasm_bindgen_test]
async fn spa_navigation_records_page_views_without_duplicates() {
    let start = web_sys::window().unwrap().location().pathname().unwrap();
    boot_capturing(obj(&[("engagement", false.into())])).await;
    let h = history();
    h.push_state_with_url(&JsValue::NULL, "", Some("/spa/a"))
        .unwrap();
    sleep(10).await;
    h.replace_state_with_url(&JsValue::NULL, "", Some("/spa/a"))
        .unwrap(); // same URL: no view
    h.push_state_with_url(&JsValue::NULL, "", Some("/spa/a#details"))
        .unwrap(); // fragment only: no view
    sleep(10).await;
    h.replace_state_with_url(&JsValue::NULL, "", Some("/spa/b?q=1"))
        .unwrap(); // a new URL: a view
    sleep(10).await;
    wait_for_views(3).await;
    h.back().unwrap(); // popstate: back to /spa/a (the /spa/a#details entry was replaced)
    wait_for_views(4).await;
    h.back().unwrap(); // popstate: back to the start page
    wait_for_views(5).await;
    let views = names_of("page").await;
    assert_eq!(views[0], start, "the automatic page view on load");
    assert_eq!(&views[1..3], ["/spa/a", "/spa/b"]);
    assert_eq!(views[3], "/spa/a", "popstate is a page view: {views:?}");
    assert_eq!(views[4], start, "back to the start page: {views:?}");
    assert_eq!(views.len(), 5, "{views:?}");
    h.replace_state_with_url(&JsValue::NULL, "", Some(&start))
        .unwrap();
}

#[wasm_bindgen_test]
async fn hash_routing_makes_fragments_page_views_and_pageviews_can_be_off() {
    boot_capturing(obj(&[
        ("hashRouting", true.into()),
        ("engagement", false.into()),
    ]))
    .await;
    let start = web_sys::window().unwrap().location().href().unwrap();
    history()
        .push_state_with_url(&JsValue::NULL, "", Some("#/cart"))
        .unwrap();
    sleep(10).await;
    assert_eq!(names_of("page").await.len(), 2, "load + #/cart");
    history()
        .replace_state_with_url(&JsValue::NULL, "", Some(&start))
        .unwrap();

    boot_capturing(obj(&[("pageviews", false.into())])).await;
    history()
        .push_state_with_url(&JsValue::NULL, "", Some("/spa/off"))
        .unwrap();
    sleep(10).await;
    assert!(
        names_of("page").await.is_empty(),
        "capture.pageviews: false records none"
    );
    history()
        .replace_state_with_url(&JsValue::NULL, "", Some(&start))
        .unwrap();
}

fn click_at(el: &web_sys::Element, x: f64, y: f64) {
    let init = web_sys::MouseEventInit::new();
    init.set_bubbles(true);
    init.set_cancelable(true);
    init.set_client_x(x as i32);
    init.set_client_y(y as i32);
    let e = web_sys::MouseEvent::new_with_mouse_event_init_dict("click", &init).unwrap();
    el.dispatch_event(&e).unwrap();
}

fn element(html: &str) -> web_sys::Element {
    let doc = web_sys::window().unwrap().document().unwrap();
    let div = doc.create_element("div").unwrap();
    div.set_inner_html(html);
    doc.body().unwrap().append_child(&div).unwrap();
    div.first_element_child().unwrap()
}

#[wasm_bindgen_test]
async fn tracked_outbound_download_and_rage_clicks() {
    boot_capturing(obj(&[("engagement", false.into())])).await;
    let tracked = element(
        r#"<button data-sillage-track="Size Guide Opened" data-sillage-props='{"sku":"TRAIL-1"}'><span>Size guide</span></button>"#,
    );
    click_at(&tracked.first_element_child().unwrap(), 10.0, 10.0); // a click inside counts
    let bad = element(
        r#"<button data-sillage-track="Broken Props" data-sillage-props="{not json">x</button>"#,
    );
    click_at(&bad, 300.0, 300.0);
    // Links: the page stops the navigation; the SDK still records the click.
    let stop = Closure::<dyn FnMut(web_sys::Event)>::new(|e: web_sys::Event| e.prevent_default());
    let out = element(r#"<a href="https://partner.example/offer">partner</a>"#);
    out.add_event_listener_with_callback("click", stop.as_ref().unchecked_ref())
        .unwrap();
    click_at(&out, 600.0, 10.0);
    let file = element(r#"<a href="/files/catalogue-2026.pdf">catalogue</a>"#);
    file.add_event_listener_with_callback("click", stop.as_ref().unchecked_ref())
        .unwrap();
    click_at(&file, 900.0, 10.0);
    stop.forget();
    // Three quick clicks in the same spot: one rage click.
    let dead = element(r#"<div>not a button</div>"#);
    for _ in 0..4 {
        click_at(&dead, 50.0, 500.0);
    }
    let ev = events().await;
    let find = |name: &str| {
        ev.iter()
            .find(|e| e["event"] == name)
            .unwrap_or_else(|| panic!("no {name}: {ev:?}"))
            .clone()
    };
    assert_eq!(
        find("Size Guide Opened")["properties"],
        serde_json::json!({"sku": "TRAIL-1"})
    );
    assert_eq!(find("Broken Props")["properties"], serde_json::json!({}));
    let o = find("Outbound Link Clicked");
    assert_eq!(
        (
            o["properties"]["host"].as_str(),
            o["properties"]["url"].as_str()
        ),
        (
            Some("partner.example"),
            Some("https://partner.example/offer")
        )
    );
    assert_eq!(find("File Downloaded")["properties"]["extension"], "pdf");
    let rage: Vec<_> = ev.iter().filter(|e| e["event"] == "Rage Click").collect();
    assert_eq!(rage.len(), 1, "one report per burst");
    assert_eq!(rage[0]["properties"]["clicks"], 3);
}

fn set_visibility(state: &str) {
    let doc = web_sys::window().unwrap().document().unwrap();
    let getter = Function::new_no_args(&format!("return '{state}'"));
    let desc = obj(&[("get", getter.into()), ("configurable", true.into())]);
    js_sys::Reflect::define_property(&doc, &"visibilityState".into(), desc.unchecked_ref())
        .unwrap();
    doc.dispatch_event(&web_sys::Event::new("visibilitychange").unwrap())
        .unwrap();
}

#[wasm_bindgen_test]
async fn page_engaged_carries_active_time_and_scroll_depth_when_hidden() {
    let doc = web_sys::window().unwrap().document().unwrap();
    let tall = element(r#"<div style="height: 5000px">tall</div>"#);
    boot_capturing(obj(&[])).await;
    let w = web_sys::window().unwrap();
    w.scroll_to_with_x_and_y(0.0, 2000.0);
    w.dispatch_event(&web_sys::Event::new("scroll").unwrap())
        .unwrap();
    sleep(300).await; // visible and focused: active time accrues
    set_visibility("hidden");
    let ev = events().await;
    let engaged: Vec<_> = ev.iter().filter(|e| e["event"] == "Page Engaged").collect();
    assert_eq!(engaged.len(), 1, "{ev:?}");
    let p = &engaged[0]["properties"];
    assert!(p["scroll_depth_pct"].as_f64().unwrap() > 0.0, "{p}");
    assert!(p["page_path"].is_string());
    // While hidden, no time accrues: hiding again records nothing new.
    sleep(200).await;
    set_visibility("hidden");
    assert_eq!(
        events()
            .await
            .iter()
            .filter(|e| e["event"] == "Page Engaged")
            .count(),
        1
    );
    let _ = js_sys::Reflect::delete_property(&doc, &"visibilityState".into());
    w.scroll_to_with_x_and_y(0.0, 0.0);
    tall.remove();
}

#[wasm_bindgen_test]
async fn a_back_forward_cache_restore_is_a_new_page_view() {
    boot_capturing(obj(&[("engagement", false.into())])).await;
    assert_eq!(names_of("page").await.len(), 1);
    let init = web_sys::PageTransitionEventInit::new();
    init.set_persisted(true);
    let e = web_sys::PageTransitionEvent::new_with_event_init_dict("pageshow", &init).unwrap();
    web_sys::window().unwrap().dispatch_event(&e).unwrap();
    sleep(10).await;
    assert_eq!(
        names_of("page").await.len(),
        2,
        "same URL, but a new view after a restore"
    );
    // A plain (not persisted) pageshow is the first load: no extra view.
    let plain = web_sys::PageTransitionEvent::new("pageshow").unwrap();
    web_sys::window().unwrap().dispatch_event(&plain).unwrap();
    sleep(10).await;
    assert_eq!(names_of("page").await.len(), 2);
}

#[wasm_bindgen_test]
async fn page_views_carry_the_session_the_landing_touchpoint_topics_and_no_personal_data() {
    let start = web_sys::window().unwrap().location().href().unwrap();
    let doc = web_sys::window().unwrap().document().unwrap();
    let meta = doc.create_element("meta").unwrap();
    meta.set_attribute("name", "sillage:topics").unwrap();
    meta.set_attribute("content", "Trail, ÉTÉ").unwrap();
    doc.body().unwrap().append_child(&meta).unwrap();
    let body = doc.body().unwrap();
    body.set_attribute("data-sillage-topics", "shoes").unwrap();
    reload(true);
    let cfg = obj(&[
        ("version", 1.into()),
        ("collector", unreached()),
        ("capture", obj(&[("engagement", false.into())])),
        (
            "topics",
            Array::of1(&obj(&[
                ("topic", "running".into()),
                ("path", "/spa/run/*".into()),
            ]))
            .into(),
        ),
    ]);
    web::boot(obj(&[("config", cfg)]));
    sleep(0).await;
    history()
        .push_state_with_url(
            &JsValue::NULL,
            "",
            Some("/spa/run/x?email=ann%40mail.example&utm_source=news&utm_medium=email"),
        )
        .unwrap();
    wait_for_views(2).await;
    web::track("Clicked".into(), JsValue::UNDEFINED);
    let ev = events().await;
    let stored = storage()
        .get_item("sillage.session")
        .unwrap()
        .expect("stored");
    let session_id = stored.split('|').nth(1).unwrap();
    for e in &ev {
        assert_eq!(e["context"]["sillage"]["sessionId"], session_id);
        assert_eq!(e["context"]["sillage"]["sessionIndex"], 1);
    }
    let (landing, spa, click) = (&ev[0], &ev[1], &ev[2]);
    assert_eq!(landing["context"]["sillage"]["sessionStart"], "first");
    assert!(landing["context"]["sillage"]["touchpoint"]["channel"].is_string());
    assert!(spa["context"]["sillage"].get("touchpoint").is_none());
    assert_eq!(
        spa["context"]["sillage"]["topics"],
        serde_json::json!(["trail", "été", "shoes", "running"])
    );
    assert!(click["context"]["sillage"].get("topics").is_none());
    let url = spa["context"]["page"]["url"].as_str().unwrap();
    assert!(
        url.ends_with("/spa/run/x?email=[redacted]&utm_source=news&utm_medium=email"),
        "{url}"
    );
    assert_eq!(
        spa["context"]["page"]["referrer"],
        landing["context"]["page"]["url"]
    );
    assert_eq!(
        spa["context"]["campaign"],
        serde_json::json!({"source": "news", "medium": "email"})
    );
    let text = serde_json::to_string(&ev).unwrap();
    assert!(!text.contains("ann%40") && !text.contains("ann@"), "{text}");
    meta.remove();
    body.remove_attribute("data-sillage-topics").unwrap();
    history()
        .replace_state_with_url(&JsValue::NULL, "", Some(&start))
        .unwrap();
}

fn profile() -> serde_json::Value {
    let v = web::profile();
    serde_json::from_str(&String::from(js_sys::JSON::stringify(&v).unwrap())).unwrap()
}

fn pagehide() {
    web_sys::window()
        .unwrap()
        .dispatch_event(&web_sys::Event::new("pagehide").unwrap())
        .unwrap();
}

async fn boot_profiling() {
    let cfg = obj(&[
        ("version", 1.into()),
        ("collector", unreached()),
        ("capture", obj(&[("engagement", false.into())])),
    ]);
    web::boot(obj(&[("config", cfg)]));
    sleep(0).await;
}

fn track_with(event: &str, props: &[(&str, JsValue)]) {
    web::track(event.into(), obj(props));
}

#[wasm_bindgen_test]
async fn the_profile_is_scored_persisted_and_read_back_after_a_reload() {
    reload(true);
    boot_profiling().await;
    for sku in ["a", "b", "c"] {
        track_with(
            "Product Viewed",
            &[("product_id", sku.into()), ("category", "Trail".into())],
        );
    }
    let before = profile();
    assert_eq!(before["stage"], "consideration", "{before}");
    assert_eq!(before["topInterests"][0], "trail");
    assert!(before["interests"]["trail"].as_f64().unwrap() > 0.0);
    let sum: f64 = [
        "discovery",
        "consideration",
        "purchase",
        "post_purchase",
        "loyalty",
    ]
    .iter()
    .map(|s| before["stageProbabilities"][s].as_f64().unwrap())
    .sum();
    assert!((sum - 1.0).abs() < 1e-9, "{sum}");
    // Written at once when the page goes away, then read by the next load.
    pagehide();
    assert!(storage().get_item("sillage.profile").unwrap().is_some());
    reload(false);
    boot_profiling().await;
    let after = profile();
    assert_eq!(after["stage"], "consideration");
    assert_eq!(after["sessions"], before["sessions"]);
    assert_eq!(after["interests"]["trail"], before["interests"]["trail"]);
    assert_eq!(
        after["pageviews"].as_u64().unwrap(),
        before["pageviews"].as_u64().unwrap() + 1,
        "the reload's page view counts"
    );
}

#[wasm_bindgen_test]
async fn a_corrupt_stored_profile_is_reset_with_a_warning_not_thrown() {
    for junk in [
        "{not json",
        "42",
        r#"{"v": 1, "signals": "x", "interests": [1, 2], "cart": {"lines": 7}}"#,
        r#"{"v": 99}"#,
    ] {
        reload(true);
        storage().set_item("sillage.profile", junk).unwrap();
        let warnings = Warnings::capture();
        boot_profiling().await;
        warnings.assert_has("sillage: stored profile");
        drop(warnings);
        track_with(
            "Product Added",
            &[("product_id", "x".into()), ("price", 10.into())],
        );
        let p = profile();
        assert!(p["stage"].is_string(), "{junk}: {p}");
        assert_eq!(p["cart"]["items"], 1, "{junk}: {p}");
    }
}

#[wasm_bindgen_test]
async fn a_stage_change_calls_listeners_and_is_recorded_as_an_event() {
    reload(true);
    boot_profiling().await;
    let seen = js_sys::Array::new();
    let cb = Closure::<dyn FnMut(JsValue)>::new({
        let seen = seen.clone();
        move |v: JsValue| {
            seen.push(&v);
        }
    });
    web::on("stage".into(), cb.as_ref().clone());
    let warnings = Warnings::capture();
    web::on("stgae".into(), cb.as_ref().clone()); // a typo: warned, ignored
    warnings.assert_has(&format!(
        "sillage: on: code {} (stgae, stage)",
        code_of(r#"unknown event "{}""#)
    ));
    drop(warnings);
    cb.forget();
    track_with(
        "Product Added",
        &[("product_id", "x".into()), ("price", 99.into())],
    );
    track_with("Checkout Started", &[("value", 99.into())]);
    let changes: Vec<serde_json::Value> = seen
        .iter()
        .map(|v| serde_json::from_str(&String::from(js_sys::JSON::stringify(&v).unwrap())).unwrap())
        .collect();
    let last = changes.last().expect("a change was announced");
    assert_eq!(last["to"], "purchase", "{changes:?}");
    assert!(last["reasons"][0]["text"]
        .as_str()
        .unwrap()
        .contains("purchase"));
    let recorded: Vec<serde_json::Value> = events()
        .await
        .into_iter()
        .filter(|e| e["event"] == "Journey Stage Changed")
        .collect();
    assert_eq!(recorded.last().unwrap()["properties"]["to"], "purchase");
    assert_eq!(recorded.len(), changes.len(), "one event per change");
}

#[wasm_bindgen_test]
async fn an_explicit_interest_shows_in_the_profile_and_bad_input_is_warned() {
    reload(true);
    boot_profiling().await;
    web::interest("Yoga".into(), 0.9.into());
    let warnings = Warnings::capture();
    web::interest("x".into(), 3.into()); // out of range: ignored with a warning
    web::interest(5.into(), JsValue::UNDEFINED);
    // Without the catalogue (no `messagesUrl`), the path and the code.
    let needle = format!(
        "sillage: interest: code {}",
        code_of("needs a topic (string) and a weight (number from 0 to 1)")
    );
    assert_eq!(
        warnings
            .messages()
            .iter()
            .filter(|m| m.contains(&needle))
            .count(),
        2,
        "{:?}",
        warnings.messages()
    );
    drop(warnings);
    let p = profile();
    assert_eq!(p["interests"]["yoga"], 0.9, "{p}");
    assert!(p["interests"].get("x").is_none());
}

#[wasm_bindgen_test]
async fn a_navigation_while_the_config_loads_comes_after_the_landing() {
    let start = web_sys::window().unwrap().location().href().unwrap();
    reload(true);
    history()
        .replace_state_with_url(&JsValue::NULL, "", Some("?utm_source=flyer&utm_medium=qr"))
        .unwrap();
    // A config that takes a network round trip to (fail to) load.
    web::boot(obj(&[("configUrl", "/no-such-config.json".into())]));
    history()
        .push_state_with_url(&JsValue::NULL, "", Some("/spa/during-load"))
        .unwrap();
    wait_for_views(2).await;
    let views: Vec<serde_json::Value> = events()
        .await
        .into_iter()
        .filter(|e| e["type"] == "page")
        .collect();
    assert_eq!(views.len(), 2, "{views:?}");
    assert!(views[0]["context"]["page"]["url"]
        .as_str()
        .unwrap()
        .contains("utm_medium=qr"));
    assert_eq!(
        views[0]["context"]["sillage"]["touchpoint"]["channel"],
        "Offline"
    );
    assert_eq!(views[1]["context"]["page"]["path"], "/spa/during-load");
    assert!(views[1]["context"]["sillage"].get("touchpoint").is_none());
    history()
        .replace_state_with_url(&JsValue::NULL, "", Some(&start))
        .unwrap();
}

#[wasm_bindgen_test]
async fn calls_made_from_page_code_the_sdk_runs_are_queued_and_handled_in_order() {
    reload(true);
    // A ready callback runs while the SDK applies its effects; what it calls
    // is queued, never dropped, and handled before `boot` returns.
    let flushed = Array::new();
    let inside = Closure::<dyn FnMut()>::new({
        let flushed = flushed.clone();
        move || {
            web::track("Inside Ready".into(), JsValue::UNDEFINED);
            flushed.push(&web::flush());
            web::track("Inside Ready Again".into(), JsValue::UNDEFINED);
        }
    });
    web::ready(inside.as_ref().clone());
    inside.forget();
    web::boot(obj(&[("config", queued())]));
    let names: Vec<String> = events()
        .await
        .iter()
        .filter_map(|e| e["event"].as_str().map(String::from))
        .collect();
    assert_eq!(names, ["Inside Ready", "Inside Ready Again"]);
    // The flush asked for inside the callback settles (not delivered: false).
    assert_eq!(flushed.length(), 1);
    let p: Promise = flushed.get(0).dyn_into().unwrap();
    assert_eq!(JsFuture::from(p).await.unwrap(), JsValue::FALSE);

    // A stage listener that records an event: the change first, then its event.
    let listener = Closure::<dyn FnMut(JsValue)>::new(|_change: JsValue| {
        web::track("Listener Saw It".into(), JsValue::UNDEFINED);
    });
    web::on("stage".into(), listener.as_ref().clone());
    listener.forget();
    web::track(
        "Product Added".into(),
        obj(&[("product_id", "x".into()), ("price", 10.into())]),
    );
    web::track("Checkout Started".into(), obj(&[("value", 10.into())]));
    let names: Vec<String> = events()
        .await
        .iter()
        .filter_map(|e| e["event"].as_str().map(String::from))
        .collect();
    let change = names.iter().position(|n| n == "Journey Stage Changed");
    let heard = names.iter().position(|n| n == "Listener Saw It");
    assert!(
        change.is_some() && heard.is_some() && change < heard,
        "{names:?}"
    );
}

/// The code the shipped wasm prints for a diagnostic's sentence.
fn code_of(sentence: &str) -> String {
    let mut hex = String::new();
    sillage_core::support::diag::push_code(&mut hex, sillage_core::support::diag::code(sentence));
    hex
}
