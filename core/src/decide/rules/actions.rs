//! The `actions` of a rule: what to do to its slot, as typed data.
//!
//! Why data and not code: an action names one of a fixed set of DOM
//! operations with plain string arguments; the web shell maps each to one
//! safe DOM call (text is set as text, `html` goes through the sanitiser,
//! attributes through an allow-list). Nothing in a config is ever evaluated,
//! so a config cannot inject script (Unomi's condition-injection CVEs are the
//! lesson). The checks that need no DOM (attribute allow-list, URL schemes,
//! lengths) are made here, at load, so `sillage check` reports them.

use crate::support::diag::{index_path, key_path, type_error, Diagnostic};
use crate::support::json::Json;
use crate::support::strsearch::CharSearch;
use crate::t;

/// One action, applied to the slot or to `selector` inside it.
#[derive(Clone, Debug, PartialEq)]
pub struct Action {
    /// A CSS selector inside the slot (`None`: the slot itself).
    pub selector: Option<String>,
    /// What to do.
    pub op: Op,
}

/// What an action does.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Replace the content with a variant template or sanitised HTML.
    Replace(Replacement),
    /// Set the text (never parsed as HTML).
    SetText(String),
    /// Set an allow-listed attribute.
    SetAttribute {
        /// Attribute name, as spelt in `core::html::ATTRIBUTES`.
        name: String,
        /// Its value (a safe URL for `href`/`src`).
        value: String,
    },
    /// Add a class.
    AddClass(String),
    /// Remove a class.
    RemoveClass(String),
    /// Hide the element.
    Hide,
    /// Show the element.
    Show,
    /// Sort the children by the visitor's interest in their `data-sillage-topics`.
    Reorder,
    /// Fill from the catalog.
    Recommend {
        /// How items are picked.
        strategy: Strategy,
        /// How many at most.
        limit: u32,
    },
}

/// The content of a `replace`.
#[derive(Clone, Debug, PartialEq)]
pub enum Replacement {
    /// `<template data-sillage-variant="slot/name">` in the page.
    Variant(String),
    /// HTML from the config, sanitised by the shell before use.
    Html(String),
}

/// How `recommend` picks catalog items.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// `crossSell`: complements of the cart's items.
    CrossSell,
    /// `upSell`: a higher tier in the same topic.
    UpSell,
    /// `interests`: items of the visitor's top interests.
    Interests,
}

/// Each action `type` and its own keys (besides [`ACTION_COMMON_KEYS`]).
pub const ACTION_TYPES: &[(&str, &[&str])] = &[
    ("replace", &["variant", "html"]),
    ("setText", &["text"]),
    ("setAttribute", &["name", "value"]),
    ("addClass", &["class"]),
    ("removeClass", &["class"]),
    ("hide", &[]),
    ("show", &[]),
    ("reorder", &[]),
    ("recommend", &["strategy", "limit"]),
];
/// Keys every action may have.
pub const ACTION_COMMON_KEYS: &[&str] = &["type", "selector"];
/// `recommend` strategies.
pub const STRATEGIES: &[&str] = &["crossSell", "upSell", "interests"];
/// Most actions in one list.
pub const MAX_ACTIONS: usize = 20;
/// Longest `html`, in bytes.
pub const MAX_HTML: usize = 16_384;
/// Longest text, selector, class or attribute value, in bytes.
pub const MAX_TEXT: usize = 2_000;
/// Default and largest `recommend.limit`.
pub const RECOMMEND_LIMIT: (u32, u32) = (4, 20);

fn text(
    item: &Json,
    path: &str,
    key: &str,
    required: bool,
    out: &mut Vec<Diagnostic>,
) -> Option<String> {
    let at = key_path(path, key);
    match item.get(key) {
        Some(Json::Str(s)) if s.len() > MAX_TEXT && key != "html" => {
            out.push(Diagnostic::new(at, t!("longer than 2000 bytes")));
            None
        }
        Some(Json::Str(s)) if s.len() > MAX_HTML => {
            out.push(Diagnostic::new(at, t!("longer than 16384 bytes")));
            None
        }
        Some(Json::Str(s)) => Some(s.clone()),
        Some(other) => {
            out.push(type_error(&at, t!("must be a string, not {}"), other));
            None
        }
        None if required => {
            out.push(Diagnostic::new(at, t!("missing")));
            None
        }
        None => None,
    }
}

/// A non-empty single token (a class name, a variant name).
fn token(item: &Json, path: &str, key: &str, out: &mut Vec<Diagnostic>) -> Option<String> {
    let s = text(item, path, key, true, out)?;
    if s.is_empty() || s.has_char(|c: char| c.is_ascii_whitespace()) {
        out.push(Diagnostic::new(
            key_path(path, key),
            t!("must be a non-empty name without spaces"),
        ));
        return None;
    }
    Some(s)
}

fn parse_one(item: &Json, at: &str, out: &mut Vec<Diagnostic>) -> Option<Action> {
    let Json::Obj(entries) = item else {
        out.push(type_error(
            at,
            t!("must be an action object {type, ...}, not {}"),
            item,
        ));
        return None;
    };
    let names: Vec<&str> = ACTION_TYPES.iter().map(|(n, _)| *n).collect();
    let ty = match item.get("type") {
        Some(Json::Str(t)) => t.as_str(),
        Some(other) => {
            out.push(type_error(
                &key_path(at, "type"),
                t!("must be an action name, not {}"),
                other,
            ));
            return None;
        }
        None => {
            out.push(Diagnostic::new(key_path(at, "type"), t!("missing")));
            return None;
        }
    };
    let Some((_, own)) = ACTION_TYPES.iter().find(|(n, _)| *n == ty) else {
        out.push(Diagnostic::unknown(
            key_path(at, "type"),
            t!("unknown action \"{}\""),
            ty,
            &names,
        ));
        return None;
    };
    for (k, _) in entries {
        if !ACTION_COMMON_KEYS.contains(&k.as_str()) && !own.contains(&k.as_str()) {
            let mut known: Vec<&str> = ACTION_COMMON_KEYS.to_vec();
            known.extend_from_slice(own);
            out.push(Diagnostic::unknown_key(at, k, &known));
        }
    }
    let selector = match text(item, at, "selector", false, out) {
        Some(s) if s.trim().is_empty() => {
            out.push(Diagnostic::new(
                key_path(at, "selector"),
                t!("must not be empty"),
            ));
            None
        }
        s => s,
    };
    let op = match ty {
        "replace" => match (item.get("variant"), item.get("html")) {
            (Some(_), None) => Op::Replace(Replacement::Variant(token(item, at, "variant", out)?)),
            (None, Some(_)) => Op::Replace(Replacement::Html(text(item, at, "html", true, out)?)),
            _ => {
                out.push(Diagnostic::new(
                    at,
                    t!("replace needs exactly one of variant or html"),
                ));
                return None;
            }
        },
        "setText" => Op::SetText(text(item, at, "text", true, out)?),
        "setAttribute" => {
            let name = text(item, at, "name", true, out)?.to_ascii_lowercase();
            let value = text(item, at, "value", true, out)?;
            // The same allow-list as HTML from the config (`core::html`),
            // checked again in the page against the element it lands on.
            match crate::support::html::check_attribute_anywhere(&name, &value) {
                Ok(n) => Op::SetAttribute {
                    name: n.to_string(),
                    value,
                },
                Err(crate::support::html::Refusal::Name) => {
                    // The allowed names, each once, separated by spaces.
                    let mut allowed = String::new();
                    let mut seen: Vec<&str> = Vec::new();
                    for n in crate::support::html::attribute_names() {
                        if !seen.contains(&n) {
                            if !seen.is_empty() {
                                allowed.push(' ');
                            }
                            seen.push(n);
                            allowed.push_str(n);
                        }
                    }
                    out.push(
                        Diagnostic::new(
                            key_path(at, "name"),
                            t!("attribute \"{}\" is not allowed (allowed: {})"),
                        )
                        .arg(&name)
                        .arg(&allowed),
                    );
                    return None;
                }
                Err(_) => {
                    let why = match name.as_str() {
                        "target" => t!("must be _blank or _self"),
                        "rel" => t!("must not contain opener"),
                        "srcset" => t!("every URL must be http(s), relative or a data: image"),
                        _ => t!("must be an http(s) or relative URL"),
                    };
                    out.push(Diagnostic::new(key_path(at, "value"), why));
                    return None;
                }
            }
        }
        "addClass" => Op::AddClass(token(item, at, "class", out)?),
        "removeClass" => Op::RemoveClass(token(item, at, "class", out)?),
        "hide" => Op::Hide,
        "show" => Op::Show,
        "reorder" => Op::Reorder,
        _ => {
            let spath = key_path(at, "strategy");
            let strategy = match item.get("strategy") {
                Some(Json::Str(s)) => match STRATEGIES.iter().position(|x| x == s) {
                    Some(0) => Strategy::CrossSell,
                    Some(1) => Strategy::UpSell,
                    Some(_) => Strategy::Interests,
                    None => {
                        out.push(Diagnostic::unknown(
                            spath,
                            t!("unknown strategy \"{}\""),
                            s,
                            STRATEGIES,
                        ));
                        return None;
                    }
                },
                Some(other) => {
                    out.push(type_error(
                        &spath,
                        t!("must be crossSell, upSell or interests, not {}"),
                        other,
                    ));
                    return None;
                }
                None => {
                    out.push(Diagnostic::new(spath, t!("missing")));
                    return None;
                }
            };
            let (default, max) = RECOMMEND_LIMIT;
            let limit = match item.get("limit") {
                None => default,
                Some(Json::Num(n)) if n.fract() == 0.0 && *n >= 1.0 && *n <= f64::from(max) => {
                    *n as u32
                }
                Some(other) => {
                    out.push(type_error(
                        &key_path(at, "limit"),
                        t!("must be a whole number from 1 to 20, not {}"),
                        other,
                    ));
                    return None;
                }
            };
            Op::Recommend { strategy, limit }
        }
    };
    Some(Action { selector, op })
}

/// Parses an `actions` list at `path`; `None` (with diagnostics) when any
/// action is bad, so a half-applied list never reaches the page.
pub(crate) fn parse(v: &Json, path: &str, out: &mut Vec<Diagnostic>) -> Option<Vec<Action>> {
    let Json::Arr(items) = v else {
        out.push(type_error(
            path,
            t!("must be an array of actions, not {}"),
            v,
        ));
        return None;
    };
    if items.is_empty() || items.len() > MAX_ACTIONS {
        out.push(Diagnostic::new(path, t!("must list from 1 to 20 actions")));
        return None;
    }
    let before = out.len();
    let actions: Vec<Action> = items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| parse_one(item, &index_path(path, i), out))
        .collect();
    (out.len() == before).then_some(actions)
}
