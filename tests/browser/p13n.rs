//! Personalization in the page (`src/web/p13n.rs`) in a real DOM: every
//! action, slots added later, no re-application of an unchanged decision,
//! consent, a missing variant, and click attribution.

use js_sys::{Array, Reflect};
use sillage::web;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{Document, Element};

use super::{events, next_frame, obj, reload, sleep};

fn document() -> Document {
    web_sys::window().unwrap().document().unwrap()
}

/// A fresh page holding `markup`, booted with `config` (a JSON text).
async fn page(markup: &str, config: &str) -> Element {
    page_with(markup, config, true).await
}

/// [`page`], keeping what the previous page stored unless `clear`.
async fn page_with(markup: &str, config: &str, clear: bool) -> Element {
    reload(clear);
    let doc = document();
    if let Some(old) = doc.get_element_by_id("p13n-fixture") {
        old.remove();
    }
    let root = doc.create_element("div").unwrap();
    root.set_id("p13n-fixture");
    root.set_inner_html(markup);
    doc.body().unwrap().append_child(&root).unwrap();
    let cfg = js_sys::JSON::parse(config).unwrap();
    web::boot(obj(&[("config", cfg)]));
    sleep(0).await;
    root
}

fn slot(root: &Element, name: &str) -> Element {
    let mut sel = String::from("[data-sillage-slot=\"");
    sel.push_str(name);
    sel.push_str("\"]");
    root.query_selector(&sel).unwrap().unwrap()
}

fn text(el: &Element) -> String {
    el.text_content()
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Waits for the next animation frame and asserts that a decision round
/// ran in it: the SDK decides the slots a change touched in the first frame
/// after the change. (The microtask first lets the slot observer queue its
/// frame callback before this one, as it does before the page's next frame.)
async fn decided_within_a_frame() {
    wasm_bindgen_futures::JsFuture::from(js_sys::Promise::resolve(&JsValue::UNDEFINED))
        .await
        .unwrap();
    let before = web::debug_rounds();
    next_frame().await;
    assert!(
        web::debug_rounds() > before,
        "no decision round ran within a frame"
    );
}

const MARKUP: &str = r#"
<section data-sillage-slot="hero"><h2>Welcome</h2></section>
<template data-sillage-variant="hero/runner"><h2>Trail shoes for you</h2><a href="/trail" id="cta">See</a></template>
<section data-sillage-slot="promo" class="plain"><h2>Promotions</h2><a href="/promos">All</a><small class="fine">Conditions apply</small><p class="later" hidden>Later</p></section>
<section data-sillage-slot="banner"><p>Default banner</p></section>
<ul data-sillage-slot="list"><li data-sillage-topics="Road">Road</li><li data-sillage-topics="yoga">Yoga</li><li data-sillage-topics="trail">Trail</li></ul>
<section data-sillage-slot="recs"><p>Popular</p><template data-sillage-item><article><a data-sillage-field="url"><span data-sillage-field="title"></span></a><span data-sillage-field="price"></span></article></template></section>
<section data-sillage-slot="missing"><p>Missing default</p></section>
<section data-sillage-slot="free"><p>No rule</p></section>
"#;

const CONFIG: &str = r#"{"version": 1, "capture": {"engagement": false},
    "collector": {"url": "http://127.0.0.1:9/never", "batch": {"maxEvents": 500, "flushMs": 60000}},
 "catalog": [
   {"id": "shoe", "title": "Trail shoe", "url": "/p/shoe", "price": 129, "topics": ["trail"], "complements": ["sock"]},
   {"id": "sock", "title": "Socks", "url": "/p/sock", "price": 29.5, "topics": ["trail"]}],
 "rules": [
   {"id": "hero-r", "slot": "hero", "variant": "runner"},
   {"id": "promo-r", "slot": "promo", "actions": [
     {"type": "setText", "selector": "h2", "text": "<b>Free</b> shipping"},
     {"type": "setAttribute", "selector": "a", "name": "href", "value": "/checkout"},
     {"type": "setAttribute", "selector": "a", "name": "target", "value": "_blank"},
     {"type": "addClass", "class": "hot"},
     {"type": "removeClass", "class": "plain"},
     {"type": "hide", "selector": ".fine"},
     {"type": "show", "selector": ".later"}]},
   {"id": "banner-r", "slot": "banner", "actions": [{"type": "replace", "html": "<p>Hi <b>you</b><script>window.__p13nXss=1</script><img src=x onerror=\"window.__p13nXss=1\"></p>"}]},
   {"id": "list-r", "slot": "list", "actions": [{"type": "reorder"}]},
   {"id": "recs-r", "slot": "recs", "when": {"cart.items": {"$gte": 1}}, "actions": [{"type": "recommend", "strategy": "crossSell"}]},
   {"id": "missing-r", "slot": "missing", "variant": "nowhere"}
 ]}"#;

#[wasm_bindgen_test]
async fn every_action_applies_and_every_slot_is_revealed() {
    let root = page(MARKUP, CONFIG).await;
    // The variant template.
    let hero = slot(&root, "hero");
    assert_eq!(text(&hero), "Trail shoes for youSee");
    assert_eq!(
        hero.get_attribute("data-sillage-applied").as_deref(),
        Some("hero-r")
    );
    assert_eq!(
        hero.get_attribute("data-sillage-shown").as_deref(),
        Some("runner")
    );
    // setText (as text, never HTML), setAttribute (checked, target _blank
    // forces rel), classes, hide and show.
    let promo = slot(&root, "promo");
    let h2 = promo.query_selector("h2").unwrap().unwrap();
    assert_eq!(h2.text_content().unwrap(), "<b>Free</b> shipping");
    assert!(h2.first_element_child().is_none());
    let a = promo.query_selector("a").unwrap().unwrap();
    assert_eq!(a.get_attribute("href").as_deref(), Some("/checkout"));
    assert_eq!(
        a.get_attribute("rel").as_deref(),
        Some("noopener noreferrer")
    );
    assert_eq!(promo.get_attribute("class").as_deref(), Some("hot"));
    assert!(promo
        .query_selector(".fine")
        .unwrap()
        .unwrap()
        .has_attribute("hidden"));
    assert!(!promo
        .query_selector(".later")
        .unwrap()
        .unwrap()
        .has_attribute("hidden"));
    // Sanitised HTML: the markup stays, the script and the handler go.
    let banner = slot(&root, "banner");
    assert_eq!(
        banner
            .query_selector("b")
            .unwrap()
            .unwrap()
            .text_content()
            .unwrap(),
        "you"
    );
    assert!(banner.query_selector("script").unwrap().is_none());
    let img = banner.query_selector("img").unwrap().unwrap();
    assert!(img.get_attribute("onerror").is_none());
    sleep(50).await;
    assert!(Reflect::get(&js_sys::global(), &"__p13nXss".into())
        .unwrap()
        .is_undefined());
    // No interests yet: the site's order.
    assert_eq!(text(&slot(&root, "list")), "RoadYogaTrail");
    // recommend's rule waits for a cart: the default stays.
    let recs = slot(&root, "recs");
    assert!(recs.get_attribute("data-sillage-applied").is_none());
    // A missing variant: the default stays, revealed.
    let missing = slot(&root, "missing");
    assert_eq!(text(&missing), "Missing default");
    assert!(missing.get_attribute("data-sillage-applied").is_none());
    // Every slot shows, with or without a rule.
    let all = root.query_selector_all("[data-sillage-slot]").unwrap();
    for i in 0..all.length() {
        let el: Element = all.item(i).unwrap().dyn_into().unwrap();
        assert!(
            el.has_attribute("data-sillage-ready"),
            "{:?}",
            el.get_attribute("data-sillage-slot")
        );
    }

    // The visitor shows interest and fills a cart: reorder and recommend
    // follow in the next frames.
    web::interest("trail".into(), 0.9.into());
    web::interest("yoga".into(), 0.4.into());
    web::track(
        "Product Added".into(),
        obj(&[("product_id", "shoe".into()), ("price", 129.into())]),
    );
    web::attributes(obj(&[]));
    decided_within_a_frame().await;
    assert_eq!(text(&slot(&root, "list")), "TrailYogaRoad");
    let recs = slot(&root, "recs");
    assert_eq!(
        recs.get_attribute("data-sillage-applied").as_deref(),
        Some("recs-r")
    );
    let items = recs.query_selector_all("[data-sillage-item-id]").unwrap();
    assert_eq!(items.length(), 1, "socks only: the shoe is in the cart");
    let item: Element = items.item(0).unwrap().dyn_into().unwrap();
    assert_eq!(
        item.get_attribute("data-sillage-item-id").as_deref(),
        Some("sock")
    );
    assert_eq!(text(&item), "Socks29.5");
    assert_eq!(
        item.query_selector("a")
            .unwrap()
            .unwrap()
            .get_attribute("href")
            .as_deref(),
        Some("/p/sock")
    );

    // Each applied slot was measured once.
    let viewed: Vec<serde_json::Value> = events()
        .await
        .into_iter()
        .filter(|e| e["event"] == "Personalization Viewed")
        .collect();
    let mut rules: Vec<&str> = viewed
        .iter()
        .map(|e| e["properties"]["rule_id"].as_str().unwrap())
        .collect();
    rules.sort_unstable();
    assert_eq!(
        rules,
        ["banner-r", "hero-r", "list-r", "promo-r", "recs-r"],
        "{viewed:?}"
    );
    assert_eq!(viewed[0]["properties"]["slot"], "hero");
    assert_eq!(viewed[0]["properties"]["variant"], "runner");
}

#[wasm_bindgen_test]
async fn slots_added_later_are_decided_within_a_frame_and_unchanged_ones_are_left_alone() {
    let root = page(MARKUP, CONFIG).await;
    let late = document().create_element("div").unwrap();
    late.set_attribute("data-sillage-slot", "hero").unwrap();
    late.set_inner_html("<h2>Late default</h2>");
    root.append_child(&late).unwrap();
    decided_within_a_frame().await;
    assert_eq!(
        late.get_attribute("data-sillage-applied").as_deref(),
        Some("hero-r")
    );
    assert_eq!(text(&late), "Trail shoes for youSee");

    // A new round with the same decisions changes nothing in the DOM.
    let changes = Array::new();
    let record = Closure::<dyn FnMut(Array)>::new({
        let changes = changes.clone();
        move |records: Array| {
            for r in records.iter() {
                changes.push(&r);
            }
        }
    });
    let watcher = web_sys::MutationObserver::new(record.as_ref().unchecked_ref()).unwrap();
    let init = web_sys::MutationObserverInit::new();
    init.set_child_list(true);
    init.set_subtree(true);
    init.set_attributes(true);
    watcher.observe_with_options(&root, &init).unwrap();
    web::attributes(obj(&[("vip", true.into())]));
    decided_within_a_frame().await;
    watcher.disconnect();
    record.forget();
    assert_eq!(
        changes.length(),
        0,
        "an unchanged decision is not applied again"
    );
}

#[wasm_bindgen_test]
async fn denied_consent_shows_the_defaults_and_granted_consent_brings_personalization_back() {
    let root = page(MARKUP, CONFIG).await;
    let hero = slot(&root, "hero");
    assert_eq!(text(&hero), "Trail shoes for youSee");
    web::consent(obj(&[("personalization", false.into())]));
    assert_eq!(text(&hero), "Welcome", "restored at once");
    assert!(hero.get_attribute("data-sillage-applied").is_none());
    let promo = slot(&root, "promo");
    assert_eq!(promo.get_attribute("class").as_deref(), Some("plain"));
    assert!(promo.has_attribute("data-sillage-ready"));
    // Granted again in the same page view: back within a frame.
    web::consent(obj(&[("personalization", true.into())]));
    decided_within_a_frame().await;
    assert_eq!(text(&hero), "Trail shoes for youSee");
    web::consent(obj(&[("personalization", false.into())]));
    // Stored: a reload keeps the choice.
    let root = page_with(MARKUP, CONFIG, false).await;
    assert_eq!(text(&slot(&root, "hero")), "Welcome");
    web::consent(obj(&[("personalization", true.into())]));
    decided_within_a_frame().await;
    assert_eq!(text(&slot(&root, "hero")), "Trail shoes for youSee");
}

#[wasm_bindgen_test]
async fn clicks_in_a_personalized_slot_carry_the_slot_variant_and_rule() {
    let root = page(MARKUP, CONFIG).await;
    let cta = root.query_selector("#cta").unwrap().unwrap();
    // Keep the test page where it is.
    let stop = Closure::<dyn FnMut(web_sys::Event)>::new(|e: web_sys::Event| e.prevent_default());
    cta.add_event_listener_with_callback("click", stop.as_ref().unchecked_ref())
        .unwrap();
    stop.forget();
    cta.dyn_ref::<web_sys::HtmlElement>().unwrap().click();
    let clicked: Vec<serde_json::Value> = events()
        .await
        .into_iter()
        .filter(|e| e["event"] == "Personalization Clicked")
        .collect();
    assert_eq!(clicked.len(), 1);
    let p = &clicked[0]["properties"];
    assert_eq!(
        (
            p["slot"].as_str(),
            p["variant"].as_str(),
            p["rule_id"].as_str()
        ),
        (Some("hero"), Some("runner"), Some("hero-r"))
    );
    assert!(p["url"].as_str().unwrap().ends_with("/trail"));
}
