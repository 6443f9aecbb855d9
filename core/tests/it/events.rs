//! Events as the collector receives them: Segment-Spec shape, ids, time.

use serde_json::{json, Value};
use sillage_core::support::json::Json;
use sillage_core::track::event::{is_uuid, uuid_v4, Call, PageContext};
use sillage_core::track::outbox::Durability;
use sillage_core::track::tracker::{JsonEncoder, Keep, Moment, Tracker};
use sillage_core::track::visit::Activity;

/// Encodes with the core's own writer, as the wasm does (floats via Rust here).
struct Enc;
impl JsonEncoder for Enc {
    fn encode(&self, v: &Json) -> String {
        let mut s = String::new();
        sillage_core::support::json::write(v, &mut s, &|n, out| out.push_str(&n.to_string()));
        s
    }
}

fn page() -> PageContext {
    PageContext {
        url: "https://shop.example/trail?utm_source=x".into(),
        path: "/trail".into(),
        referrer: "https://www.google.com/".into(),
        title: "Trail shoes".into(),
        search: "?utm_source=x".into(),
    }
}

fn j(v: Value) -> Json {
    serde_json::from_value(v).unwrap()
}

fn record(t: &mut Tracker, call: Call) -> Result<Value, String> {
    static N: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);
    let random = [N.fetch_add(1, std::sync::atomic::Ordering::Relaxed); 16];
    let page = page();
    let moment = Moment {
        page: &page,
        activity: Activity::Other,
        hints: &[],
        stored_session: None,
        device: "desktop",
    };
    t.record(
        call,
        &moment,
        1_795_411_448_123.0,
        [random; 2],
        &Enc,
        Keep::Queue,
    )
    .map_err(|d| d.render())?;
    let last = t.outbox.batcher.pending().last().unwrap().json.clone();
    Ok(serde_json::from_str(&last).expect("the core writes valid JSON"))
}

#[test]
fn track_event_has_the_segment_shape() {
    let mut t = Tracker::new(
        "a1b2c3d4-0000-4000-8000-000000000000".into(),
        None,
        Durability::Memory,
    );
    let ev = record(
        &mut t,
        Call::Track {
            event: j(json!("Signed Up")),
            properties: j(json!({"plan": "pro", "seats": 3, "ratio": 0.25, "tags": ["a", null]})),
        },
    )
    .unwrap();
    assert_eq!(ev["type"], "track");
    assert_eq!(ev["event"], "Signed Up");
    assert_eq!(
        ev["properties"],
        json!({"plan": "pro", "seats": 3, "ratio": 0.25, "tags": ["a", null]})
    );
    assert_eq!(ev["anonymousId"], "a1b2c3d4-0000-4000-8000-000000000000");
    assert_eq!(ev["timestamp"], "2026-11-23T05:24:08.123Z");
    assert!(is_uuid(ev["messageId"].as_str().unwrap()));
    assert_eq!(
        ev["context"]["library"],
        json!({"name": "sillage", "version": env!("CARGO_PKG_VERSION")})
    );
    assert_eq!(
        ev["context"]["page"],
        json!({"path": "/trail", "referrer": "https://www.google.com/", "search": "?utm_source=x",
               "title": "Trail shoes", "url": "https://shop.example/trail?utm_source=x"})
    );
    assert!(ev.get("userId").is_none());
}

#[test]
fn page_event_merges_page_fields_and_lifts_the_name() {
    let mut t = Tracker::new("x".into(), None, Durability::Memory);
    let ev = record(
        &mut t,
        Call::Page {
            category: Json::Null,
            name: Json::Null,
            properties: j(json!({"name": "Pricing", "path": "/override"})),
        },
    )
    .unwrap();
    assert_eq!(ev["type"], "page");
    assert_eq!(ev["name"], "Pricing");
    assert_eq!(ev["properties"]["path"], "/override");
    assert_eq!(ev["properties"]["title"], "Trail shoes");
    let ev = record(
        &mut t,
        Call::Page {
            category: Json::Null,
            name: Json::Null,
            properties: Json::Null,
        },
    )
    .unwrap();
    assert!(ev.get("name").is_none());
    assert_eq!(
        ev["properties"]["url"],
        "https://shop.example/trail?utm_source=x"
    );
}

#[test]
fn identify_sets_the_user_for_later_events() {
    let mut t = Tracker::new("x".into(), None, Durability::Memory);
    let ev = record(
        &mut t,
        Call::Identify {
            user_id: j(json!("u-42")),
            traits: j(json!({"plan": "pro"})),
        },
    )
    .unwrap();
    assert_eq!(ev["type"], "identify");
    assert_eq!(ev["userId"], "u-42");
    assert_eq!(ev["traits"], json!({"plan": "pro"}));
    let ev = record(
        &mut t,
        Call::Track {
            event: j(json!("Next")),
            properties: Json::Null,
        },
    )
    .unwrap();
    assert_eq!(ev["userId"], "u-42");
    assert_eq!(ev["properties"], json!({}));
}

#[test]
fn bad_arguments_are_named_and_record_nothing() {
    let cases: &[(Call, &str)] = &[
        (
            Call::Track {
                event: j(json!("")),
                properties: Json::Null,
            },
            "track.event: must be a non-empty string of at most 200 characters",
        ),
        (
            Call::Track {
                event: j(json!(42)),
                properties: Json::Null,
            },
            "track.event: must be a non-empty string of at most 200 characters",
        ),
        (
            Call::Track {
                event: j(json!("x".repeat(201))),
                properties: Json::Null,
            },
            "track.event: must be a non-empty string of at most 200 characters",
        ),
        (
            Call::Track {
                event: j(json!("Ok")),
                properties: j(json!([1])),
            },
            "track.properties: must be an object, not array",
        ),
        (
            Call::Page {
                category: Json::Null,
                name: Json::Null,
                properties: j(json!("home")),
            },
            "page.properties: must be an object, not string",
        ),
        (
            Call::Identify {
                user_id: j(json!(7)),
                traits: Json::Null,
            },
            "identify.userId: must be a non-empty string of at most 200 characters, or null",
        ),
        (
            Call::Identify {
                user_id: Json::Null,
                traits: j(json!(true)),
            },
            "identify.traits: must be an object, not boolean",
        ),
    ];
    for (call, want) in cases {
        let mut t = Tracker::new("x".into(), None, Durability::Memory);
        assert_eq!(record(&mut t, call.clone()).unwrap_err(), *want);
        assert_eq!(t.outbox.batcher.unacknowledged(), 0, "{want}");
    }
}

#[test]
fn uuids_are_version_4() {
    let id = uuid_v4([0xff; 16]);
    assert_eq!(id, "ffffffff-ffff-4fff-bfff-ffffffffffff");
    assert!(is_uuid(&id));
    assert!(is_uuid(&uuid_v4([0; 16])));
    for bad in [
        "",
        "not-a-uuid",
        "FFFFFFFF-FFFF-4FFF-BFFF-FFFFFFFFFFFF",
        "ffffffffffff-4fff-bfff-ffffffffffff0000",
    ] {
        assert!(!is_uuid(bad), "{bad}");
    }
}

#[test]
fn the_json_writer_round_trips_through_serde_json() {
    let v = json!({"s": "quote \" backslash \\ newline \n tab \t ctrl \u{1} é 😀", "n": -12, "f": 1.5e-7,
                   "big": 1e21, "a": [true, false, null, {}], "o": {"k": []}});
    let mut out = String::new();
    sillage_core::support::json::write(&j(v.clone()), &mut out, &|n, o| o.push_str(&n.to_string()));
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), v);
    let mut out = String::new();
    sillage_core::support::json::write(&Json::Num(f64::NAN), &mut out, &|_, _| unreachable!());
    assert_eq!(out, "null");
}

#[test]
fn tabs_converge_on_the_stored_identity() {
    let a = "11111111-1111-4111-8111-111111111111".to_string();
    let b = "22222222-2222-4222-8222-222222222222".to_string();
    let mut t = Tracker::new(a.clone(), None, Durability::Memory);
    t.sync_identity(Some("garbage".into()), None);
    assert_eq!(t.identity().anonymous_id, a, "unreadable ids are ignored");
    t.sync_identity(Some(a.clone()), Some("u-1".into()));
    assert_eq!(
        t.identity().user_id.as_deref(),
        Some("u-1"),
        "identify in another tab"
    );
    t.sync_identity(Some(b.clone()), None);
    assert_eq!(
        (
            t.identity().anonymous_id.as_str(),
            t.identity().user_id.as_deref()
        ),
        (b.as_str(), None),
        "forget() in another tab: a new visitor, without the old user id"
    );
}

proptest::proptest! {
    /// The core's JSON writer escapes any string so that a JSON parser reads
    /// it back unchanged (events are built by it in the wasm).
    #[test]
    fn any_string_survives_the_json_writer(s in "\\PC*|[\\x00-\\x20\"\\\\]*", k in ".*") {
        let v = Json::obj().with(&k, s.as_str());
        let text = Enc.encode(&v);
        let back: Value = serde_json::from_str(&text).unwrap();
        proptest::prop_assert_eq!(back[&k].as_str(), Some(s.as_str()));
    }
}
