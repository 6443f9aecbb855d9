//! Personalization as data: reorder by affinity, recommendations from the
//! catalog, exposure events and their once-per-session record.

use serde_json::{json, Value};
use sillage_core::config;
use sillage_core::decide::render::{exposure, order_by_affinity, recommend, Exposures};
use sillage_core::decide::rules::Assignments;
use sillage_core::decide::rules::{decide, Ctx, Preview, Strategy};
use sillage_core::native_js::NativeJs;
use sillage_core::profile::view::ProfileView;
use sillage_core::support::json::Json;

fn j(v: Value) -> Json {
    serde_json::from_value(v).unwrap()
}

fn interests(pairs: &[(&str, f64)]) -> Vec<(String, f64)> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[test]
fn reorder_puts_what_the_visitor_cares_about_first_and_keeps_ties_in_place() {
    let kids = |t: &[&[&str]]| -> Vec<Vec<String>> {
        t.iter()
            .map(|ts| ts.iter().map(|s| s.to_string()).collect())
            .collect()
    };
    type Case<'a> = (&'a [&'a [&'a str]], &'a [(&'a str, f64)], &'a [usize]);
    let table: &[Case] = &[
        // No interests: the site's order.
        (&[&["road"], &["trail"], &[]], &[], &[0, 1, 2]),
        (&[&["road"], &["trail"], &[]], &[("trail", 0.8)], &[1, 0, 2]),
        (
            &[&["road"], &["trail"], &["yoga"], &[]],
            &[("trail", 0.3), ("yoga", 0.9), ("road", 0.3)],
            &[2, 0, 1, 3],
        ),
        // Two matching topics beat one of the same strength.
        (
            &[&["trail"], &["trail", "road"]],
            &[("trail", 0.5), ("road", 0.4)],
            &[1, 0],
        ),
        (&[], &[("trail", 0.5)], &[]),
    ];
    for (children, ints, want) in table {
        assert_eq!(
            order_by_affinity(&kids(children), &interests(ints)),
            want.to_vec(),
            "{children:?} {ints:?}"
        );
    }
}

fn catalog() -> Vec<sillage_core::decide::rules::CatalogItem> {
    let doc = j(json!({"version": 1, "catalog": [
        {"id": "shoe-1", "title": "Trail shoe", "url": "/p/shoe-1", "topics": ["trail"], "tier": 1, "complements": ["sock", "gaiter"]},
        {"id": "shoe-2", "title": "Trail shoe pro", "url": "/p/shoe-2", "topics": ["trail"], "tier": 2},
        {"id": "shoe-3", "title": "Trail shoe elite", "url": "/p/shoe-3", "topics": ["trail"], "tier": 3},
        {"id": "road-2", "title": "Road shoe pro", "url": "/p/road-2", "topics": ["road"], "tier": 2},
        {"id": "sock", "title": "Socks", "url": "/p/sock", "topics": ["trail", "road"]},
        {"id": "gaiter", "title": "Gaiter", "url": "/p/gaiter", "topics": ["trail"]},
        {"id": "bottle", "title": "Bottle", "url": "/p/bottle", "topics": ["hydration"], "complements": ["shoe-1"]},
        {"id": "mat", "title": "Yoga mat", "url": "/p/mat", "topics": ["yoga"]}
    ]}));
    let (cfg, diags) = config::parse(&doc, &NativeJs::new());
    assert!(diags.is_empty(), "{diags:?}");
    cfg.catalog
}

/// `recommend` for a profile view: its cart's products and its interests.
fn rec<'a>(
    catalog: &'a [sillage_core::decide::rules::CatalogItem],
    strategy: Strategy,
    limit: usize,
    view: &ProfileView,
) -> Vec<&'a sillage_core::decide::rules::CatalogItem> {
    let cart: Vec<String> = view
        .cart
        .as_ref()
        .map(|c| c.products.clone())
        .unwrap_or_default();
    recommend(catalog, strategy, limit, &cart, view.interests())
}

fn ids(items: &[&sillage_core::decide::rules::CatalogItem]) -> Vec<String> {
    items.iter().map(|i| i.id.clone()).collect()
}

#[test]
fn recommendations_cross_sell_up_sell_and_follow_interests() {
    let catalog = catalog();
    let with_cart = |cart: &[&str], ints: Value| {
        j(json!({
            "cart": {"products": cart.iter().map(|id| json!({"id": id})).collect::<Vec<_>>()},
            "interests": ints
        }))
    };
    let p = with_cart(&["shoe-1"], json!({}));
    // Complements of the cart, then items naming a cart item as complement.
    assert_eq!(
        ids(&rec(
            &catalog,
            Strategy::CrossSell,
            4,
            &ProfileView::from_snapshot(&p)
        )),
        ["sock", "gaiter", "bottle"]
    );
    assert_eq!(
        ids(&rec(
            &catalog,
            Strategy::CrossSell,
            1,
            &ProfileView::from_snapshot(&p)
        )),
        ["sock"]
    );
    // The next tier up in the same topic first; never another topic.
    assert_eq!(
        ids(&rec(
            &catalog,
            Strategy::UpSell,
            4,
            &ProfileView::from_snapshot(&p)
        )),
        ["shoe-2", "shoe-3"]
    );
    // Nothing in the cart: nothing to cross- or up-sell (the default stays).
    let empty = with_cart(&[], json!({"yoga": 0.9, "trail": 0.2}));
    assert!(rec(
        &catalog,
        Strategy::CrossSell,
        4,
        &ProfileView::from_snapshot(&empty)
    )
    .is_empty());
    assert!(rec(
        &catalog,
        Strategy::UpSell,
        4,
        &ProfileView::from_snapshot(&empty)
    )
    .is_empty());
    assert_eq!(
        ids(&rec(
            &catalog,
            Strategy::Interests,
            3,
            &ProfileView::from_snapshot(&empty)
        )),
        ["mat", "shoe-1", "shoe-2"]
    );
    // What is already in the cart is never recommended.
    let p = with_cart(&["shoe-1", "sock"], json!({"trail": 0.9}));
    let got = ids(&rec(
        &catalog,
        Strategy::Interests,
        10,
        &ProfileView::from_snapshot(&p),
    ));
    assert!(!got.contains(&"shoe-1".to_string()) && !got.contains(&"sock".to_string()));
    assert_eq!(
        ids(&rec(
            &catalog,
            Strategy::CrossSell,
            4,
            &ProfileView::from_snapshot(&p)
        )),
        ["gaiter", "bottle"]
    );
}

#[test]
fn exposures_name_the_rule_or_the_experiment_and_are_once_per_session() {
    let host = NativeJs::new();
    let doc = j(json!({"version": 1, "rules": [
        {"id": "hero-runner", "slot": "hero", "when": {"interests.trail": {"$gt": 0.5}}, "variant": "runner"},
        {"id": "promo-test", "slot": "promo", "variant": "big",
         "experiment": {"key": "promo-2026", "variants": ["control", "big"], "holdout": 0}}
    ]}));
    let (cfg, diags) = config::parse(&doc, &host);
    assert!(diags.is_empty(), "{diags:?}");
    let attrs = j(json!({"interests": {"trail": 0.9}}));
    let store = Assignments::new();
    let preview = Preview::default();
    let ctx = Ctx {
        anonymous_id: "a1b2c3d4-0000-4000-8000-000000000000",
        assignments: &store,
        preview: &preview,
        host: &host,
        now: 0.0,
    };
    let d = decide(&attrs, &cfg.rules, &ctx);
    let (name, props) = exposure(d.slot("hero").unwrap()).unwrap();
    assert_eq!(name, "Personalization Viewed");
    assert_eq!(
        serde_json::to_value(&props).unwrap(),
        json!({"slot": "hero", "rule_id": "hero-runner", "variant": "runner"})
    );
    let (name, props) = exposure(d.slot("promo").unwrap()).unwrap();
    assert_eq!(name, "Experiment Viewed");
    let props = serde_json::to_value(&props).unwrap();
    assert_eq!(props["experiment_id"], "promo-2026");
    assert!(["control", "big"].contains(&props["variation_id"].as_str().unwrap()));
    assert_eq!(props["in_holdout"], false);
    // No rule matched: nothing to measure.
    let d = decide(&j(json!({})), &cfg.rules, &ctx);
    assert!(exposure(d.slot("hero").unwrap()).is_none());

    let mut e = Exposures::decode("garbage");
    assert!(e.first_in_session("s1", "promo-2026"));
    assert!(!e.first_in_session("s1", "promo-2026"));
    assert!(e.first_in_session("s1", "other"));
    let mut again = Exposures::decode(&e.encode());
    assert!(!again.first_in_session("s1", "other"), "{}", e.encode());
    assert!(again.first_in_session("s2", "promo-2026"), "a new session");
}

#[test]
fn holdout_visitors_see_the_default_and_their_exposure_says_so() {
    use sillage_core::decide::bucket::hash;
    use sillage_core::decide::rules::Shown;
    let host = NativeJs::new();
    let doc = j(json!({"version": 1, "rules": [
        {"id": "cta-test", "slot": "cta",
         "experiment": {"key": "holdout-demo", "variants": ["control", "bold"]},
         "actions": [{"type": "setText", "selector": "a", "text": "Shop now"}]}
    ]}));
    let (cfg, diags) = config::parse(&doc, &host);
    assert!(diags.is_empty(), "{diags:?}");
    // Visitors bucketed into "bold", in and out of the default 5% holdout.
    let visitor = |holdout: bool| {
        (0u64..)
            .map(|i| format!("00000000-0000-4000-8000-{i:012}"))
            .find(|id| {
                hash("holdout-demo", id, 2).unwrap() >= 0.5
                    && (hash("holdout:holdout-demo", id, 2).unwrap() < 0.05) == holdout
            })
            .unwrap()
    };
    let store = Assignments::new();
    let preview = Preview::default();
    for holdout in [true, false] {
        let id = visitor(holdout);
        let ctx = Ctx {
            anonymous_id: &id,
            assignments: &store,
            preview: &preview,
            host: &host,
            now: 0.0,
        };
        let d = decide(&j(json!({})), &cfg.rules, &ctx);
        let sd = d.slot("cta").unwrap();
        // The rule owns the slot either way, so the exposure is measured.
        assert_eq!(sd.rule.map(|r| r.id.as_str()), Some("cta-test"));
        assert_eq!(
            matches!(sd.shown, Shown::Default),
            holdout,
            "{id}: the holdout sees the default, the others the variation"
        );
        let (name, props) = exposure(sd).unwrap();
        assert_eq!(name, "Experiment Viewed");
        let props = serde_json::to_value(&props).unwrap();
        assert_eq!(props["in_holdout"], holdout, "{props}");
        assert_eq!(props["variation_id"], "bold", "{props}");
    }
}
