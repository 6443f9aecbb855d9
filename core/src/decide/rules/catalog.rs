//! The `catalog`: the few items a `recommend` action may show.
//!
//! Why in the config: personalization runs on the device, with no server to
//! ask for recommendations, so a site lists its candidates (a few hundred at
//! most) and the page picks among them by the visitor's cart and interests.

use crate::support::diag::{check_keys, index_path, key_path, type_error, Diagnostic};
use crate::support::json::Json;
use crate::t;

/// Keys of a catalog item.
pub const CATALOG_ITEM_KEYS: &[&str] = &[
    "id",
    "title",
    "url",
    "image",
    "price",
    "topics",
    "tier",
    "complements",
];
/// Most items kept.
pub const MAX_ITEMS: usize = 500;

/// One catalog item.
#[derive(Clone, Debug, PartialEq)]
pub struct CatalogItem {
    /// Unique id (also what `complements` and cart items name).
    pub id: String,
    /// Shown title (set as text).
    pub title: String,
    /// Link, http(s) or relative.
    pub url: String,
    /// Image URL, http(s) or relative.
    pub image: Option<String>,
    /// Price, in the site's currency.
    pub price: Option<f64>,
    /// Topics, normalised as page topics are.
    pub topics: Vec<String>,
    /// Tier for up-sell (higher is better); `None`: not an up-sell candidate.
    pub tier: Option<u32>,
    /// Ids of items that go with this one (cross-sell).
    pub complements: Vec<String>,
}

fn string(
    item: &Json,
    at: &str,
    key: &str,
    url: bool,
    out: &mut Vec<Diagnostic>,
) -> Option<String> {
    let path = key_path(at, key);
    match item.get(key)? {
        Json::Str(s)
            if !s.trim().is_empty()
                && (!url || crate::support::html::url_allowed(s, key == "image")) =>
        {
            Some(s.trim().to_string())
        }
        Json::Str(_) if url => {
            out.push(Diagnostic::new(
                path,
                t!("must be an http(s) or relative URL"),
            ));
            None
        }
        other => {
            out.push(type_error(
                &path,
                t!("must be a non-empty string, not {}"),
                other,
            ));
            None
        }
    }
}

fn strings(item: &Json, at: &str, key: &str, out: &mut Vec<Diagnostic>) -> Vec<String> {
    match item.get(key) {
        None => Vec::new(),
        Some(Json::Arr(xs))
            if xs
                .iter()
                .all(|x| matches!(x, Json::Str(s) if !s.is_empty())) =>
        {
            xs.iter()
                .filter_map(Json::as_str)
                .map(str::to_string)
                .collect()
        }
        Some(other) => {
            out.push(type_error(
                &key_path(at, key),
                t!("must be an array of non-empty strings, not {}"),
                other,
            ));
            Vec::new()
        }
    }
}

/// Parses the `catalog` section: a bad item is skipped; a `complements` id
/// that names no item is reported and ignored.
pub fn parse(v: &Json, out: &mut Vec<Diagnostic>) -> Vec<CatalogItem> {
    let Json::Arr(entries) = v else {
        out.push(type_error(
            "catalog",
            t!("must be an array of items, not {}"),
            v,
        ));
        return Vec::new();
    };
    let mut items: Vec<CatalogItem> = Vec::new();
    let mut positions: Vec<usize> = Vec::new();
    for (i, item) in entries.iter().enumerate() {
        let at = index_path("catalog", i);
        if i >= MAX_ITEMS {
            out.push(Diagnostic::new(
                at,
                t!("more than 500 items: the rest are ignored"),
            ));
            break;
        }
        let Json::Obj(o) = item else {
            out.push(type_error(
                &at,
                t!("must be an object {id, title, url, ...}, not {}"),
                item,
            ));
            continue;
        };
        let before = out.len();
        check_keys(o, &at, CATALOG_ITEM_KEYS, out);
        for key in ["id", "title", "url"] {
            if item.get(key).is_none() {
                out.push(Diagnostic::new(key_path(&at, key), t!("missing")));
            }
        }
        let id = string(item, &at, "id", false, out);
        if let Some(id) = &id {
            if items.iter().any(|x| x.id == *id) {
                out.push(
                    Diagnostic::new(key_path(&at, "id"), t!("duplicate catalog id \"{}\""))
                        .arg(id.as_str()),
                );
            }
        }
        let title = string(item, &at, "title", false, out);
        let url = string(item, &at, "url", true, out);
        let image = string(item, &at, "image", true, out);
        let price = match item.get("price") {
            None => None,
            Some(Json::Num(n)) if *n >= 0.0 => Some(*n),
            Some(other) => {
                out.push(type_error(
                    &key_path(&at, "price"),
                    t!("must be a number from 0, not {}"),
                    other,
                ));
                None
            }
        };
        let tier = match item.get("tier") {
            None => None,
            Some(Json::Num(n)) if n.fract() == 0.0 && (0.0..=1000.0).contains(n) => Some(*n as u32),
            Some(other) => {
                out.push(type_error(
                    &key_path(&at, "tier"),
                    t!("must be a whole number from 0 to 1000, not {}"),
                    other,
                ));
                None
            }
        };
        let raw_topics = strings(item, &at, "topics", out);
        let topics = crate::track::topics::normalize(raw_topics.iter().map(String::as_str));
        let complements = strings(item, &at, "complements", out);
        if out.len() != before {
            continue;
        }
        let (Some(id), Some(title), Some(url)) = (id, title, url) else {
            continue;
        };
        items.push(CatalogItem {
            id,
            title,
            url,
            image,
            price,
            topics,
            tier,
            complements,
        });
        positions.push(i);
    }
    let ids: Vec<String> = items.iter().map(|x| x.id.clone()).collect();
    let names: Vec<&str> = ids.iter().map(String::as_str).collect();
    for (item, pos) in items.iter_mut().zip(positions) {
        let at = key_path(&index_path("catalog", pos), "complements");
        let mut j = 0;
        item.complements.retain(|c| {
            let ok = names.contains(&c.as_str());
            if !ok {
                out.push(Diagnostic::unknown(
                    index_path(&at, j),
                    t!("unknown catalog item \"{}\""),
                    c,
                    &names,
                ));
            }
            j += 1;
            ok
        });
    }
    items
}
