//! The event vocabulary the journey model understands.
//!
//! Segment Spec's e-commerce events, plus the lead-generation events Sillage
//! adds. Sites may send any other name (it passes through unchanged); these
//! names are the ones the stage model and the rules know, so a near-miss
//! (`Product Add`, `checkout started`) or a property of the wrong type (a
//! price sent as `"€129"`) gets a console warning that names the fix. The
//! event is recorded as sent either way.

use crate::support::diag::{did_you_mean, key_path, Diagnostic};
use crate::support::json::Json;

/// Segment Spec e-commerce events.
pub const COMMERCE_EVENTS: &[&str] = &[
    "Products Searched",
    "Product List Viewed",
    "Product Viewed",
    "Product Added",
    "Product Removed",
    "Cart Viewed",
    "Checkout Started",
    "Order Completed",
    "Order Refunded",
    "Product Reviewed",
    "Coupon Applied",
];

/// Lead-generation events.
pub const LEAD_EVENTS: &[&str] = &[
    "Quote Requested",
    "Signed Up",
    "Newsletter Subscribed",
    "Support Contacted",
    "Survey Answered",
];

/// Properties that must be numbers when present (Segment Spec).
const NUMERIC: &[&str] = &[
    "price", "quantity", "value", "revenue", "total", "subtotal", "shipping", "tax", "discount",
    "rating", "position",
];
/// Properties that must be strings when present.
const TEXT: &[&str] = &[
    "product_id",
    "sku",
    "category",
    "name",
    "brand",
    "order_id",
    "currency",
    "query",
];

fn is_known(name: &str) -> bool {
    COMMERCE_EVENTS.contains(&name) || LEAD_EVENTS.contains(&name)
}

fn check_props(props: &Json, path: &str, out: &mut Vec<Diagnostic>) {
    let Some(entries) = props.as_obj() else {
        return;
    };
    for (k, v) in entries {
        let bad = match v {
            Json::Null => None,
            _ if NUMERIC.contains(&k.as_str()) && v.as_f64().is_none() => Some("must be a number"),
            _ if TEXT.contains(&k.as_str()) && v.as_str().is_none() && v.as_f64().is_none() => {
                Some("must be a string")
            }
            _ => None,
        };
        if let Some(m) = bad {
            let mut msg = String::from(m);
            msg.push_str(" (Segment Spec), not ");
            msg.push_str(v.type_name());
            out.push(Diagnostic::new(key_path(path, k), msg));
        }
    }
    if let Some(Json::Arr(items)) = props.get("products") {
        for (i, p) in items.iter().enumerate() {
            check_props(
                p,
                &crate::support::diag::index_path(&key_path(path, "products"), i),
                out,
            );
        }
    }
}

/// `"<name>" is not in the journey vocabulary (did you mean "<known>"?)` when
/// `name` is a near miss of a known event name (differs in case, or by a
/// typo); `None` for known names and for the site's own vocabulary.
pub fn near_miss(name: &str) -> Option<String> {
    if is_known(name) {
        return None;
    }
    let known: Vec<&str> = COMMERCE_EVENTS.iter().chain(LEAD_EVENTS).copied().collect();
    let s = known
        .iter()
        .find(|k| k.eq_ignore_ascii_case(name))
        .copied()
        .or_else(|| did_you_mean(name, &known))?;
    let mut m = String::from("\"");
    m.push_str(name);
    m.push_str("\" is not in the journey vocabulary (did you mean \"");
    m.push_str(s);
    m.push_str("\"?)");
    Some(m)
}

/// Warnings for a track event: a near-miss of a known name, or known
/// properties of the wrong type. Unknown names far from any known one are
/// the site's own vocabulary and get no warning.
pub fn check_track(name: &str, properties: &Json) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if !is_known(name) {
        if let Some(mut m) = near_miss(name) {
            m.push_str("; it is recorded as sent");
            out.push(Diagnostic::new("track.event", m));
        }
        return out;
    }
    check_props(properties, "track.properties", &mut out);
    out
}
