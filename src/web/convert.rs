//! JavaScript values to the core's [`Json`], by hand.
//!
//! serde-wasm-bindgen would do this too, but it drags serde's error messages
//! and with them `core::fmt`'s float formatting (~20 KB of wasm) into the
//! SDK. The values that reach here are already plain JSON data (from
//! `JSON.parse`, `Response.json()`, or a page value passed through
//! `JSON.stringify` first), so a short walk over js-sys is all it takes.

use js_sys::{Array, Object};
use wasm_bindgen::{JsCast, JsValue};

use crate::core::json::Json;

/// Deepest nesting accepted; deeper values are refused rather than risking
/// the stack.
pub const MAX_DEPTH: u32 = 64;

/// Converts a plain JSON-like value. `None` for anything JSON cannot hold
/// (functions, symbols, bigints) or nesting deeper than [`MAX_DEPTH`].
pub fn from_js(v: &JsValue) -> Option<Json> {
    walk(v, 0)
}

fn walk(v: &JsValue, depth: u32) -> Option<Json> {
    if depth > MAX_DEPTH {
        return None;
    }
    if v.is_null() || v.is_undefined() {
        return Some(Json::Null);
    }
    if let Some(b) = v.as_bool() {
        return Some(Json::Bool(b));
    }
    if let Some(n) = v.as_f64() {
        return Some(Json::Num(n));
    }
    if let Some(s) = v.as_string() {
        return Some(Json::Str(s));
    }
    if Array::is_array(v) {
        let arr: &Array = v.unchecked_ref();
        let mut out = Vec::with_capacity(arr.length() as usize);
        for item in arr.iter() {
            out.push(walk(&item, depth + 1)?);
        }
        return Some(Json::Arr(out));
    }
    if v.is_object() && !v.is_function() {
        let entries = Object::entries(v.unchecked_ref());
        let mut out = Vec::with_capacity(entries.length() as usize);
        for pair in entries.iter() {
            let pair: Array = pair.unchecked_into();
            let key = pair.get(0).as_string()?;
            out.push((key, walk(&pair.get(1), depth + 1)?));
        }
        return Some(Json::Obj(out));
    }
    None
}
