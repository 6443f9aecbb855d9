//! The journey vocabulary: near-miss names and mistyped Spec properties warn;
//! everything is recorded as sent.

use serde_json::json;
use sillage_core::support::json::Json;
use sillage_core::track::event::{cap, cap_strings, PageContext};
use sillage_core::track::journey_events::{check_track, COMMERCE_EVENTS, LEAD_EVENTS};

fn check(name: &str, props: serde_json::Value, want: &[&str]) {
    let props: Json = serde_json::from_value(props).unwrap();
    let got: Vec<String> = check_track(name, &props)
        .iter()
        .map(|d| d.render())
        .collect();
    assert_eq!(got, want, "{name}");
}

#[test]
fn known_names_and_good_properties_are_silent() {
    for name in COMMERCE_EVENTS.iter().chain(LEAD_EVENTS) {
        check(
            name,
            json!({"price": 12.5, "product_id": "SKU-1", "quantity": 2}),
            &[],
        );
    }
    check("Wishlist Shared", json!({"price": "free"}), &[]);
}

#[test]
fn near_misses_and_mistyped_properties_warn() {
    check("Product Add", json!({}), &["track.event: \"Product Add\" is not in the journey vocabulary (did you mean \"Product Added\"?); it is recorded as sent"]);
    check("checkout started", json!({}), &["track.event: \"checkout started\" is not in the journey vocabulary (did you mean \"Checkout Started\"?); it is recorded as sent"]);
    check(
        "Order Completed",
        json!({"revenue": "€129", "order_id": 42, "currency": ["EUR"],
        "products": [{"price": 1}, {"quantity": "two"}]}),
        &[
            "track.properties.currency: must be a string (Segment Spec), not array",
            "track.properties.revenue: must be a number (Segment Spec), not string",
            "track.properties.products[1].quantity: must be a number (Segment Spec), not string",
        ],
    );
}

#[test]
fn strings_are_capped() {
    let mut s = "é".repeat(1_500);
    cap(&mut s, 1_000);
    assert_eq!(s.chars().count(), 1_000);
    let mut v: Json =
        serde_json::from_value(json!({"a": "x".repeat(5_000), "b": ["y".repeat(1_001)], "n": 5}))
            .unwrap();
    cap_strings(&mut v);
    assert_eq!(v.get("a").unwrap().as_str().unwrap().len(), 1_000);
    assert_eq!(
        v.get("b").unwrap().as_arr().unwrap()[0]
            .as_str()
            .unwrap()
            .len(),
        1_000
    );
    let p = PageContext {
        url: "u".repeat(3_000),
        title: "t".repeat(3_000),
        ..Default::default()
    }
    .capped();
    assert_eq!((p.url.len(), p.title.len()), (2_000, 1_000));
}
