//! Property tests of the batch path (issue 15): arbitrary bytes never make it
//! panic, and a 2xx has stored exactly the valid events (a batch is stored
//! whole or not at all), plain or gzip-compressed.

use axum::http::StatusCode;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

use crate::{call, gzip, post_req, Env};

/// The documented rules of a batch (collector/README.md), written again
/// here: the distinct messageIds it stores, in order, or `None` if the
/// batch must be refused.
fn oracle(body: &Value) -> Option<Vec<String>> {
    let obj = body.as_object()?;
    let batch = obj.get("batch")?.as_array()?;
    if batch.is_empty() || batch.len() > 500 {
        return None;
    }
    if ["sentAt", "writeKey"]
        .iter()
        .any(|k| obj.get(*k).is_some_and(|v| !v.is_string()))
        || obj.get("context").is_some_and(|v| !v.is_object())
    {
        return None;
    }
    let mut ids: Vec<String> = Vec::new();
    for ev in batch {
        let ev = ev.as_object()?;
        let s = |k: &str| ev.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
        let ty = s("type")?;
        if !["page", "track", "identify", "screen", "group", "alias"].contains(&ty)
            || (ty == "track" && s("event").is_none())
            || (s("anonymousId").is_none() && s("userId").is_none())
            || !ev.get("timestamp").is_some_and(Value::is_string)
            || ["properties", "context", "traits"]
                .iter()
                .any(|k| ev.get(*k).is_some_and(|v| !v.is_object()))
        {
            return None;
        }
        let id = s("messageId")?;
        if id.len() > 128 {
            return None;
        }
        if !ids.iter().any(|i| i == id) {
            ids.push(id.to_string());
        }
    }
    Some(ids)
}

/// One way to spoil an event (or none).
#[derive(Clone, Copy, Debug)]
enum Spoil {
    None,
    Remove(&'static str),
    Set(&'static str, fn() -> Value),
    NotAnObject,
}

fn spoils() -> impl Strategy<Value = Spoil> {
    prop_oneof![
        6 => Just(Spoil::None),
        1 => prop::sample::select(vec!["type", "event", "messageId", "anonymousId", "timestamp"]).prop_map(Spoil::Remove),
        1 => prop::sample::select(vec![
            ("type", (|| json!("bogus")) as fn() -> Value),
            ("type", || json!(3)),
            ("event", || json!("")),
            ("messageId", || json!("")),
            ("messageId", || json!("m".repeat(129))),
            ("messageId", || json!(12)),
            ("anonymousId", || json!("")),
            ("userId", || json!("u-1")),
            ("timestamp", || json!(1)),
            ("properties", || json!([1])),
            ("context", || json!("c")),
            ("traits", || json!(null)),
        ]).prop_map(|(k, v)| Spoil::Set(k, v)),
        1 => Just(Spoil::NotAnObject),
    ]
}

fn event(id: String, kind: &str, spoil: Spoil) -> Value {
    let mut ev = json!({"type": kind, "messageId": id, "anonymousId": "a-1",
                        "timestamp": "2026-11-23T05:24:08.123Z", "properties": {"n": 1}});
    if kind == "track" {
        ev["event"] = json!("Product Viewed");
    }
    match spoil {
        Spoil::None => {}
        Spoil::Remove(k) => {
            ev.as_object_mut().unwrap().remove(k);
        }
        Spoil::Set(k, v) => ev[k] = v(),
        Spoil::NotAnObject => ev = json!(["not", "an", "event"]),
    }
    ev
}

/// Batches: mostly valid, some spoiled, message ids from a small pool (so
/// some repeat), optional batch-level fields of either right or wrong types.
fn batches() -> impl Strategy<Value = Value> {
    let one = (
        0u8..12,
        prop::sample::select(vec![
            "page", "track", "identify", "screen", "group", "alias",
        ]),
        spoils(),
    )
        .prop_map(|(id, kind, spoil)| event(format!("m-{id}"), kind, spoil));
    (
        prop::collection::vec(one, 0..8),
        prop::option::of(prop_oneof![
            Just(json!("2026-11-23T05:24:09.000Z")),
            Just(json!(5))
        ]),
        prop::option::of(prop_oneof![
            Just(json!({"sillage": {"dropped": 1}})),
            Just(json!([]))
        ]),
        prop::option::of(prop_oneof![Just(json!("wk")), Just(json!(false))]),
        0u8..20,
    )
        .prop_map(|(events, sent_at, context, key, shape)| {
            let mut body = Map::new();
            match shape {
                0 => {}
                1 => {
                    body.insert("batch".into(), json!({"not": "an array"}));
                }
                _ => {
                    body.insert("batch".into(), Value::Array(events));
                }
            }
            for (k, v) in [("sentAt", sent_at), ("context", context), ("writeKey", key)] {
                if let Some(v) = v {
                    body.insert(k.into(), v);
                }
            }
            Value::Object(body)
        })
}

/// Sends `body` (gzip-compressed if asked) to a fresh collector; checks the
/// answer against what the oracle says of `parsed` (`None`: not JSON).
fn check(body: Vec<u8>, compressed: bool, parsed: Option<&Value>) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let e = Env::with(|o| o.rate_limit = None);
    let (path, bytes) = if compressed {
        ("/v1/batch?ce=gzip", gzip(&body))
    } else {
        ("/v1/batch", body)
    };
    let a = rt.block_on(call(&e, post_req(path, "text/plain", bytes)));
    let want = parsed.and_then(oracle);
    match want {
        Some(ids) => {
            prop_assert_eq!(a.status, StatusCode::OK, "{}", a.error());
            prop_assert_eq!(e.ids(), ids.clone());
            prop_assert_eq!(a.json()["inserted"].as_u64(), Some(ids.len() as u64));
        }
        None => {
            prop_assert!(a.status.is_client_error(), "{} {}", a.status, a.error());
            prop_assert!(!a.error().is_empty());
            prop_assert_eq!(e.rows(), 0);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn a_2xx_stores_exactly_the_valid_events(body in batches(), compressed in any::<bool>()) {
        check(body.to_string().into_bytes(), compressed, Some(&body))?;
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_store_nothing_unless_valid(
        bytes in prop::collection::vec(any::<u8>(), 0..600),
        compressed in any::<bool>(),
    ) {
        let parsed: Option<Value> = serde_json::from_slice(&bytes).ok();
        check(bytes, compressed, parsed.as_ref())?;
    }

    #[test]
    fn damaged_batches_never_panic_and_store_all_or_nothing(
        body in batches(),
        cuts in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..4),
        compressed in any::<bool>(),
    ) {
        // Flip, insert or delete a few bytes of a batch's JSON text: often
        // still JSON, sometimes still a valid batch.
        let mut bytes = body.to_string().into_bytes();
        for (at, byte, op) in cuts {
            if bytes.is_empty() {
                break;
            }
            let i = at.index(bytes.len());
            match op {
                0 => bytes[i] = byte,
                1 => bytes.insert(i, byte),
                _ => {
                    bytes.remove(i);
                }
            }
        }
        let parsed: Option<Value> = serde_json::from_slice(&bytes).ok();
        check(bytes, compressed, parsed.as_ref())?;
    }

    #[test]
    fn arbitrary_bytes_as_gzip_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        // Not compressed by us: the bytes themselves are the "gzip" body.
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let e = Env::with(|o| o.rate_limit = None);
        let a = rt.block_on(call(&e, post_req("/v1/batch?ce=gzip", "text/plain", bytes)));
        prop_assert!(a.status.is_client_error(), "{}", a.status);
        prop_assert_eq!(e.rows(), 0);
    }
}
