//! The attributes object conditions see: exactly the documented names, from
//! the profile snapshot, the session, the page, the device, the time, the
//! consent, the site's own attributes, then the audiences.

use serde_json::json;
use sillage_core::config;
use sillage_core::decide::attributes::{build, Inputs, LocalTime, SessionInfo, BUILT_IN};
use sillage_core::native_js::NativeJs;
use sillage_core::support::json::Json;
use sillage_core::track::touchpoint::Campaign;

fn js(v: serde_json::Value) -> Json {
    serde_json::from_value(v).unwrap()
}

fn profile() -> Json {
    js(json!({
        "stage": "consideration",
        "stageProbabilities": {"discovery": 0.1, "consideration": 0.6, "purchase": 0.2, "post_purchase": 0.05, "loyalty": 0.05},
        "confidence": 0.7,
        "interests": {"running": 0.9, "trail": 0.4},
        "topInterests": ["running", "trail"],
        "signals": {"price_sensitive": {"value": true, "at": 1000}, "size": {"value": "42", "at": 900}},
        "sessions": 4, "pageviews": 31,
        "firstSeen": 1_700_000_000_000.0_f64, "lastSeen": 1_700_100_000_000.0_f64,
        "firstTouch": {"channel": "Organic Search"}, "lastTouch": {"channel": "Paid Social"},
        "channels": ["Organic Search", "Paid Social"],
        "cart": {"items": [{"id": "shoe"}, {"id": "sock"}], "value": 140, "currency": "EUR", "categories": ["shoes"]},
        "orders": 1
    }))
}

/// Builds with the given profile, custom attributes and simulated stage;
/// returns the attributes (as serde JSON) and the rendered diagnostics.
fn check(
    profile: &Json,
    custom: serde_json::Value,
    stage: Option<&str>,
) -> (serde_json::Value, Vec<String>, Vec<String>) {
    let host = NativeJs::new();
    let (cfg, diags) = config::parse(
        &js(json!({"version": 1, "audiences": {
            "runner": {"interests.running": {"$gte": 0.5}},
            "evening_runner": {"audiences": {"$in": ["runner"]}, "time.hour": {"$gte": 18}},
            "buyer": {"stage": "purchase"}
        }})),
        &host,
    );
    assert!(diags.is_empty(), "{diags:?}");
    let campaign = Campaign {
        name: Some("spring".into()),
        source: Some("newsletter".into()),
        medium: Some("email".into()),
        term: None,
        content: None,
    };
    let consent = js(json!({"analytics": true, "personalization": true}));
    let custom = js(custom);
    let profile = &sillage_core::profile::view::ProfileView::from_snapshot(profile);
    let inputs = Inputs {
        profile,
        session: Some(SessionInfo {
            index: 5,
            pageviews: 3,
            started: 1_000_000.0,
            channel: Some("Email"),
            campaign: Some(&campaign),
        }),
        page_url: "https://shop.test/running/shoes?color=red&size=42",
        referrer: "https://Mail.Example.com/inbox",
        device: "mobile",
        time: Some(LocalTime {
            hour: 19,
            weekday: 6,
            date: "2026-03-14",
        }),
        consent: &consent,
        custom: &custom,
        stage,
        now: 1_125_500.0,
    };
    let mut out = Vec::new();
    let attrs = build(&inputs, &cfg.rules.audiences, &host, &mut out);
    let names = attrs
        .as_obj()
        .unwrap()
        .iter()
        .map(|(k, _)| k.clone())
        .collect();
    (
        serde_json::to_value(&attrs).unwrap(),
        names,
        out.iter().map(|d| d.render()).collect(),
    )
}

#[test]
fn every_documented_attribute_from_its_source() {
    let (attrs, names, diags) = check(&profile(), json!({"plan": "pro", "ltv": 420}), None);
    assert!(diags.is_empty());
    assert_eq!(
        attrs,
        json!({
            "stage": "consideration",
            "stageProbability": {"discovery": 0.1, "consideration": 0.6, "purchase": 0.2, "post_purchase": 0.05, "loyalty": 0.05},
            "interests": {"running": 0.9, "trail": 0.4},
            "topInterests": ["running", "trail"],
            "signals": {"price_sensitive": true, "size": "42"},
            "channel": "Email",
            "campaign": {"name": "spring", "source": "newsletter", "medium": "email"},
            "session": {"index": 5, "pageviews": 3, "duration": 125},
            "visitor": {"firstSeen": 1_700_000_000_000_i64, "visits": 5, "returning": true},
            "page": {"url": "https://shop.test/running/shoes?color=red&size=42", "path": "/running/shoes",
                     "query": "color=red&size=42", "referrerHost": "mail.example.com"},
            "device": "mobile",
            "time": {"hour": 19, "weekday": 6, "date": "2026-03-14"},
            "cart": {"items": 2, "value": 140, "categories": ["shoes"]},
            "consent": {"analytics": true, "personalization": true},
            "plan": "pro",
            "ltv": 420,
            "audiences": ["runner", "evening_runner"]
        })
    );
    // The built-in names are exactly the documented ones (custom ones aside).
    let built_in: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| *n != "plan" && *n != "ltv")
        .collect();
    assert_eq!(built_in, BUILT_IN);
}

#[test]
fn custom_attributes_never_replace_built_in_ones() {
    let (attrs, _, diags) = check(
        &profile(),
        json!({"stage": "loyalty", "audiences": ["vip"], "tier": "gold"}),
        None,
    );
    assert_eq!(attrs["stage"], "consideration");
    assert_eq!(attrs["audiences"], json!(["runner", "evening_runner"]));
    assert_eq!(attrs["tier"], "gold");
    assert_eq!(
        diags,
        [
            "attributes.audiences: \"audiences\" is a built-in attribute and cannot be replaced",
            "attributes.stage: \"stage\" is a built-in attribute and cannot be replaced",
        ]
    );
    let (_, _, diags) = check(&profile(), json!([1]), None);
    assert_eq!(diags, ["attributes: must be an object, not array"]);
}

#[test]
fn a_simulated_stage_replaces_the_stage_and_its_probabilities() {
    let (attrs, _, _) = check(&profile(), json!({}), Some("purchase"));
    assert_eq!(attrs["stage"], "purchase");
    assert_eq!(
        attrs["stageProbability"],
        json!({"discovery": 0, "consideration": 0, "purchase": 1, "post_purchase": 0, "loyalty": 0})
    );
    // In dependency order (serde_json's json! sorts the audiences by name).
    assert_eq!(
        attrs["audiences"],
        json!(["buyer", "runner", "evening_runner"])
    );
}

#[test]
fn an_empty_profile_gives_only_what_the_page_knows() {
    let (attrs, names, _) = check(&Json::obj(), json!(null), None);
    assert_eq!(
        names,
        [
            "channel",
            "campaign",
            "session",
            "visitor",
            "page",
            "device",
            "time",
            "consent",
            "audiences"
        ]
    );
    assert_eq!(attrs["visitor"], json!({"visits": 5, "returning": true}));
    assert_eq!(attrs["audiences"], json!([]));
}
