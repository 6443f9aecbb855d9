//! JavaScript values to the core's [`Json`], by hand.
//!
//! serde-wasm-bindgen would do this too, but it drags serde's error messages
//! and with them `core::fmt`'s float formatting (~20 KB of wasm) into the
//! SDK. The walk follows `JSON.stringify` (`toJSON`, dates as text,
//! `undefined` and functions left out of objects) without its cost, and
//! says what it left out: a DOM node, a class instance, a `Map` would
//! otherwise leave the page as a silent `{}`.

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use sillage_core::sdk::{Arg, MAX_STRING_UNITS};
use sillage_core::support::json::Json;

/// Deepest nesting accepted.
pub const MAX_DEPTH: usize = 64;

/// A page's argument: missing, JSON data (with what was left out), or
/// unusable (a cycle).
pub fn arg(v: &JsValue) -> Arg {
    if v.is_undefined() {
        return Arg::Missing;
    }
    let mut w = Walk {
        cap: true,
        ..Walk::default()
    };
    let got = w.value(v, &mut String::new());
    if let Some((at, units)) = w.too_long {
        return Arg::TooLong(at, units);
    }
    match got {
        Ok(Some(j)) => Arg::Json(j, w.dropped),
        Ok(None) => {
            let what = w.dropped.pop().map(|(_, what)| what).unwrap_or_default();
            Arg::Invalid(what)
        }
        Err(why) => Arg::Invalid(why),
    }
}

/// Plain JSON data (from `JSON.parse`, `Response.json()`): `None` for
/// anything else.
pub fn json(v: &JsValue) -> Option<Json> {
    let mut w = Walk::default();
    match w.value(v, &mut String::new()) {
        Ok(Some(j)) if w.dropped.is_empty() => Some(j),
        _ => None,
    }
}

#[derive(Default)]
struct Walk {
    /// The objects being walked (a cycle comes back to one).
    stack: Vec<JsValue>,
    /// What was left out: (path, what it was).
    dropped: Vec<(String, String)>,
    /// Whether strings over [`MAX_STRING_UNITS`] are refused (API
    /// arguments: such a string can never be part of an event).
    cap: bool,
    /// The first string refused: (path, length in UTF-16 units).
    too_long: Option<(String, usize)>,
}

/// What `v` is, when it is not plain data.
fn not_data(v: &JsValue) -> Option<String> {
    if v.is_function() {
        return None;
    }
    if v.dyn_ref::<web_sys::Node>().is_some() {
        let name = Reflect::get(v, &"nodeName".into())
            .ok()
            .and_then(|n| n.as_string())
            .unwrap_or_default();
        let mut m = String::from("a DOM node (");
        m.push_str(&name.to_ascii_lowercase());
        m.push(')');
        return Some(m);
    }
    if v.is_bigint() {
        return Some("a BigInt".into());
    }
    if v.is_symbol() {
        return Some("a Symbol".into());
    }
    let proto = Object::get_prototype_of(v);
    // A plain object's prototype is `Object.prototype`, whose own is null.
    if proto.is_null() || Object::get_prototype_of(&proto).is_null() || Array::is_array(v) {
        return None;
    }
    let name = Reflect::get(&proto, &"constructor".into())
        .ok()
        .and_then(|c| Reflect::get(&c, &"name".into()).ok())
        .and_then(|n| n.as_string())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "class".into());
    let mut m = String::from("a ");
    m.push_str(&name);
    m.push_str(" instance");
    Some(m)
}

impl Walk {
    /// `Ok(None)`: left out (recorded in `dropped`); `Err`: a cycle or
    /// nesting too deep.
    fn value(&mut self, v: &JsValue, path: &mut String) -> Result<Option<Json>, String> {
        if v.is_null() {
            return Ok(Some(Json::Null));
        }
        if let Some(b) = v.as_bool() {
            return Ok(Some(Json::Bool(b)));
        }
        if let Some(n) = v.as_f64() {
            // JSON has no NaN or Infinity: `null`, as JSON.stringify does.
            return Ok(Some(if n.is_finite() {
                Json::Num(n)
            } else {
                Json::Null
            }));
        }
        if let Some(js) = v.dyn_ref::<js_sys::JsString>() {
            // The length first (no copy): a megabyte of text is refused in
            // no time instead of being copied, scanned and then refused.
            let units = js.length() as usize;
            if self.cap && units > MAX_STRING_UNITS {
                self.too_long.get_or_insert((path.clone(), units));
                return Err(String::new());
            }
            return Ok(Some(Json::Str(v.as_string().unwrap_or_default())));
        }
        if v.is_undefined() || v.is_function() {
            return Ok(None);
        }
        // `toJSON` first (a Date gives its ISO text), as JSON.stringify.
        if let Ok(f) =
            Reflect::get(v, &"toJSON".into()).and_then(|f| f.dyn_into::<js_sys::Function>())
        {
            let key = JsValue::from_str(path.rsplit('.').next().unwrap_or(""));
            return match f.call1(v, &key) {
                Ok(out) if !out.is_object() => self.value(&out, path),
                Ok(out) => self.object(&out, path),
                Err(e) => Err(super::error_text(&e)),
            };
        }
        if let Some(what) = not_data(v) {
            self.dropped.push((path.clone(), what));
            return Ok(None);
        }
        self.object(v, path)
    }

    fn object(&mut self, v: &JsValue, path: &mut String) -> Result<Option<Json>, String> {
        if self.stack.len() >= MAX_DEPTH {
            return Err("nested deeper than 64 levels".into());
        }
        if self.stack.iter().any(|s| Object::is(s, v)) {
            let mut m = String::from("a cycle");
            if !path.is_empty() {
                m.push_str(" at ");
                m.push_str(path);
            }
            return Err(m);
        }
        self.stack.push(v.clone());
        let len = path.len();
        let out = if Array::is_array(v) {
            let arr: &Array = v.unchecked_ref();
            let mut out = Vec::with_capacity(arr.length() as usize);
            for (i, item) in arr.iter().enumerate() {
                if !path.is_empty() {
                    path.push('.');
                }
                sillage_core::support::diag::push_usize(path, i);
                // In arrays, what JSON cannot hold becomes `null`.
                out.push(self.value(&item, path)?.unwrap_or(Json::Null));
                path.truncate(len);
            }
            Json::Arr(out)
        } else {
            let entries = Object::entries(v.unchecked_ref());
            let mut out = Vec::with_capacity(entries.length() as usize);
            for pair in entries.iter() {
                let pair: Array = pair.unchecked_into();
                let Some(key) = pair.get(0).as_string() else {
                    continue;
                };
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&key);
                let item = self.value(&pair.get(1), path);
                path.truncate(len);
                if let Some(j) = item? {
                    out.push((key, j));
                }
            }
            Json::Obj(out)
        };
        self.stack.pop();
        Ok(Some(out))
    }
}
