//! The event vocabulary the journey model understands.
//!
//! Segment Spec's e-commerce events, plus the lead-generation events Sillage
//! adds. Sites may send any other name (it passes through unchanged); these
//! names are the ones the stage model and the rules know, so a near-miss
//! (`Product Add`, `checkout started`) or a property of the wrong type (a
//! price sent as `"€129"`) gets a console warning that names the fix. The
//! event is recorded as sent either way.

use crate::support::diag::{did_you_mean, key_path, type_error, Diagnostic};
use crate::support::json::Json;
use crate::t;

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
            _ if NUMERIC.contains(&k.as_str()) && v.as_f64().is_none() => {
                Some(t!("must be a number (Segment Spec), not {}"))
            }
            _ if TEXT.contains(&k.as_str()) && v.as_str().is_none() && v.as_f64().is_none() => {
                Some(t!("must be a string (Segment Spec), not {}"))
            }
            _ => None,
        };
        if let Some(tpl) = bad {
            out.push(type_error(&key_path(path, k), tpl, v));
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

/// The known event name that `name` is a near miss of (differs in case, or
/// by a typo); `None` for known names and for the site's own vocabulary.
fn closest_known(name: &str) -> Option<&'static str> {
    if is_known(name) {
        return None;
    }
    let known: Vec<&'static str> = COMMERCE_EVENTS.iter().chain(LEAD_EVENTS).copied().collect();
    known
        .iter()
        .find(|k| k.eq_ignore_ascii_case(name))
        .copied()
        .or_else(|| did_you_mean(name, &known))
}

/// At `path`: `"<name>" is not in the journey vocabulary (did you mean
/// "<known>"?)` when `name` is a near miss of a known event name (differs in
/// case, or by a typo); `None` for known names and for the site's own
/// vocabulary.
pub fn near_miss(path: impl Into<String>, name: &str) -> Option<Diagnostic> {
    let s = closest_known(name)?;
    Some(
        Diagnostic::new(path, t!("\"{}\" is not in the journey vocabulary"))
            .arg(name)
            .hint(s),
    )
}

/// Warnings for a track event: a near-miss of a known name, or known
/// properties of the wrong type. Unknown names far from any known one are
/// the site's own vocabulary and get no warning.
pub fn check_track(name: &str, properties: &Json) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if !is_known(name) {
        if let Some(s) = closest_known(name) {
            out.push(
                Diagnostic::new(
                    "track.event",
                    t!("\"{}\" is not in the journey vocabulary (did you mean \"{}\"?); it is recorded as sent"),
                )
                .arg(name)
                .arg(s),
            );
        }
        return out;
    }
    check_props(properties, "track.properties", &mut out);
    out
}
