//! The visit: what every event says about where the visitor came from, the
//! session it belongs to and what the page is about, as the collector
//! receives it. Each case is a sequence of events recorded by one or more
//! tabs sharing one stored session, and what each event carries.

use serde_json::{json, Value};
use sillage_core::config::parse;
use sillage_core::support::json::Json;
use sillage_core::track::event::{Call, PageContext};
use sillage_core::track::outbox::Durability;
use sillage_core::track::tracker::{JsonEncoder, Keep, Moment, Tracker};
use sillage_core::track::visit::Activity;

struct Enc;
impl JsonEncoder for Enc {
    fn encode(&self, v: &Json) -> String {
        let mut s = String::new();
        sillage_core::support::json::write(v, &mut s, &|n, out| out.push_str(&n.to_string()));
        s
    }
}

const MIN: f64 = 60_000.0;
const T0: f64 = 1_795_411_448_000.0;

/// One step: which tab, when (minutes after T0), what kind of event, the
/// page URL, `document.referrer`, the page's topic hints.
struct Step {
    tab: usize,
    at_min: f64,
    activity: Activity,
    url: &'static str,
    referrer: &'static str,
    hints: &'static [&'static str],
}

const fn step(
    tab: usize,
    at_min: f64,
    activity: Activity,
    url: &'static str,
    referrer: &'static str,
) -> Step {
    Step {
        tab,
        at_min,
        activity,
        url,
        referrer,
        hints: &[],
    }
}

use Activity::{Landing, Other, PageView};

/// A tracker for one visitor (one tab), configured with `config`.
fn tracker(config: Value) -> Tracker {
    let (cfg, diags) = parse(
        &serde_json::from_value(config).unwrap(),
        &sillage_core::native_js::NativeJs::new(),
    );
    assert!(diags.is_empty(), "{diags:?}");
    let mut t = Tracker::new(
        "a1b2c3d4-0000-4000-8000-000000000000".into(),
        None,
        Durability::Memory,
    );
    t.configure(&cfg);
    t
}

/// Runs the steps with `tabs` trackers sharing one stored session (as
/// localStorage does) and returns each event as sent.
fn run(config: Value, tabs: usize, steps: &[Step]) -> Vec<Value> {
    let mut trackers: Vec<Tracker> = (0..tabs).map(|_| tracker(config.clone())).collect();
    let mut stored: Option<String> = None;
    let mut out = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        let path = s
            .url
            .split_once("://")
            .and_then(|(_, r)| r.find('/').map(|i| &r[i..]))
            .unwrap_or("/")
            .split(['?', '#'])
            .next()
            .unwrap()
            .to_string();
        let page = PageContext {
            url: s.url.into(),
            path,
            referrer: s.referrer.into(),
            title: "t".into(),
            search: String::new(),
        };
        let hints: Vec<String> = s.hints.iter().map(|h| h.to_string()).collect();
        let m = Moment {
            page: &page,
            activity: s.activity,
            hints: &hints,
            stored_session: stored.as_deref(),
            device: "mobile",
        };
        let call = match s.activity {
            Other => Call::Track {
                event: "Clicked".into(),
                properties: Json::obj().with("url", s.url),
            },
            _ => Call::Page {
                category: Json::Null,
                name: Json::Null,
                properties: Json::Null,
            },
        };
        let r = trackers[s.tab]
            .record(
                call,
                &m,
                T0 + s.at_min * MIN,
                [[i as u8; 16], [100 + i as u8; 16]],
                &Enc,
                Keep::Queue,
            )
            .unwrap();
        if let Some(v) = r.store_session {
            stored = Some(v);
        }
        out.push(serde_json::from_str(&Enc.encode(&r.event)).unwrap());
    }
    out
}

/// The fields a case looks at: session index, why it started (if it did),
/// channel, source, medium, campaign name, page views of the session so far
/// are checked separately.
fn summary(ev: &Value) -> (u64, String, String, String, String, String) {
    let s = &ev["context"]["sillage"];
    let t = &s["touchpoint"];
    let text = |v: &Value| v.as_str().unwrap_or("").to_string();
    (
        s["sessionIndex"].as_u64().unwrap(),
        text(&s["sessionStart"]),
        text(&t["channel"]),
        text(&t["source"]),
        text(&t["medium"]),
        text(&ev["context"]["campaign"]["name"]),
    )
}

type Want = (
    u64,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

fn check(config: Value, tabs: usize, steps: &[Step], want: &[Want]) {
    let events = run(config, tabs, steps);
    for (i, (ev, w)) in events.iter().zip(want).enumerate() {
        let got = summary(ev);
        let want = (
            w.0,
            w.1.to_string(),
            w.2.to_string(),
            w.3.to_string(),
            w.4.to_string(),
            w.5.to_string(),
        );
        assert_eq!(got, want, "step {i}: {}", steps[i].url);
    }
}

fn cfg() -> Value {
    json!({"version": 1})
}

#[test]
fn a_qr_code_landing_then_browsing_is_one_offline_session() {
    check(
        cfg(),
        1,
        &[
            step(0, 0.0, Landing, "https://shop.example/store?utm_source=lyon&utm_medium=qr&utm_campaign=flyer-spring", ""),
            step(0, 1.0, PageView, "https://shop.example/p/trail", ""),
            step(0, 2.0, Other, "https://shop.example/p/trail", ""),
        ],
        &[
            (1, "first", "Offline", "lyon", "qr", "flyer-spring"),
            (1, "", "", "", "", ""),
            (1, "", "", "", "", ""),
        ],
    );
}

#[test]
fn an_email_landing_then_a_new_campaign_splits_the_session() {
    check(
        cfg(),
        1,
        &[
            step(
                0,
                0.0,
                Landing,
                "https://shop.example/?utm_source=newsletter&utm_medium=email&utm_campaign=nov",
                "",
            ),
            step(
                0,
                5.0,
                Landing,
                "https://shop.example/sale?utm_source=facebook&utm_medium=cpc&utm_campaign=bf",
                "https://m.facebook.com/",
            ),
            step(
                0,
                6.0,
                Landing,
                "https://shop.example/cart",
                "https://shop.example/sale",
            ),
        ],
        &[
            (1, "first", "Email", "newsletter", "email", "nov"),
            (2, "campaign", "Paid Social", "facebook", "cpc", "bf"),
            (2, "", "", "", "", ""),
        ],
    );
}

#[test]
fn thirty_idle_minutes_end_a_session_and_the_timeout_is_configurable() {
    let steps = [
        step(
            0,
            0.0,
            Landing,
            "https://shop.example/",
            "https://www.google.com/",
        ),
        step(0, 29.0, Other, "https://shop.example/", ""),
        step(0, 58.0, PageView, "https://shop.example/a", ""),
        step(0, 89.0, Other, "https://shop.example/a", ""),
    ];
    check(
        cfg(),
        1,
        &steps,
        &[
            (1, "first", "Organic Search", "google", "organic", ""),
            (1, "", "", "", "", ""),
            (1, "", "", "", "", ""),
            (2, "timeout", "", "", "", ""),
        ],
    );
    check(
        json!({"version": 1, "capture": {"sessionTimeoutMinutes": 10}}),
        1,
        &steps,
        &[
            (1, "first", "Organic Search", "google", "organic", ""),
            (2, "timeout", "", "", "", ""),
            (3, "timeout", "", "", "", ""),
            (4, "timeout", "", "", "", ""),
        ],
    );
}

#[test]
fn tabs_share_one_session_and_a_new_referrer_in_any_tab_splits_it() {
    check(
        cfg(),
        2,
        &[
            step(0, 0.0, Landing, "https://shop.example/", ""),
            step(
                1,
                1.0,
                Landing,
                "https://shop.example/p/1",
                "https://shop.example/",
            ),
            step(1, 2.0, Other, "https://shop.example/p/1", ""),
            step(
                0,
                3.0,
                Landing,
                "https://shop.example/",
                "https://www.bing.com/",
            ),
            step(1, 4.0, Other, "https://shop.example/p/1", ""),
        ],
        &[
            (1, "first", "Direct", "(direct)", "(none)", ""),
            (1, "", "", "", "", ""),
            (1, "", "", "", "", ""),
            (2, "referrer", "Organic Search", "bing", "organic", ""),
            (2, "", "", "", "", ""),
        ],
    );
    let events = run(
        cfg(),
        2,
        &[
            step(0, 0.0, Landing, "https://shop.example/", ""),
            step(
                1,
                1.0,
                Landing,
                "https://shop.example/p/1",
                "https://shop.example/",
            ),
            step(0, 2.0, PageView, "https://shop.example/p/2", ""),
        ],
    );
    let ids: Vec<&Value> = events
        .iter()
        .map(|e| &e["context"]["sillage"]["sessionId"])
        .collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
    assert_eq!(ids[0], "64646464-6464-4464-a464-646464646464");
}

#[test]
fn internal_domains_and_site_rules_come_from_the_config() {
    check(
        json!({"version": 1, "channels": {
            "internalDomains": ["shop-pay.example"],
            "sources": [{"source": "partner", "channel": "Affiliates", "name": "Partner Co"}]
        }}),
        1,
        &[
            step(
                0,
                0.0,
                Landing,
                "https://shop.example/?utm_source=partner&utm_medium=link",
                "",
            ),
            step(
                0,
                5.0,
                Landing,
                "https://shop.example/thanks",
                "https://checkout.shop-pay.example/done",
            ),
        ],
        &[
            (1, "first", "Affiliates", "Partner Co", "link", ""),
            (1, "", "", "", "", ""),
        ],
    );
}

#[test]
fn spa_page_views_have_the_previous_page_as_referrer_and_their_topics() {
    let events = run(
        json!({"version": 1, "topics": [{"topic": "Running", "path": "/running/*"}]}),
        1,
        &[
            Step {
                hints: &["trail, Shoes  ", "trail"],
                ..step(
                    0,
                    0.0,
                    Landing,
                    "https://shop.example/running/trail",
                    "https://www.google.com/",
                )
            },
            step(
                0,
                1.0,
                PageView,
                "https://shop.example/about",
                "https://www.google.com/",
            ),
            step(
                0,
                2.0,
                Other,
                "https://shop.example/about",
                "https://www.google.com/",
            ),
        ],
    );
    let page = |i: usize| &events[i]["context"]["page"];
    assert_eq!(page(0)["referrer"], "https://www.google.com/");
    assert_eq!(page(1)["referrer"], "https://shop.example/running/trail");
    assert_eq!(
        events[1]["properties"]["referrer"],
        "https://shop.example/running/trail"
    );
    assert_eq!(
        events[0]["context"]["sillage"]["topics"],
        json!(["trail", "shoes", "running"])
    );
    assert_eq!(events[1]["context"]["sillage"].get("topics"), None);
    assert_eq!(events[2]["context"]["sillage"].get("topics"), None);
    assert_eq!(events[2]["context"]["sillage"]["device"], "mobile");
}

#[test]
fn personal_data_never_leaves_in_urls_referrers_or_url_properties() {
    let events = run(
        json!({"version": 1, "privacy": {"scrubParams": ["member"]}}),
        1,
        &[
            step(
                0,
                0.0,
                Landing,
                "https://shop.example/confirm?email=ann%40mail.example&member=42&utm_source=newsletter&utm_medium=email",
                "https://mail.example/?to=ann@mail.example",
            ),
            step(0, 1.0, Other, "https://shop.example/u/ann@mail.example/orders?token=abc", ""),
        ],
    );
    let text = serde_json::to_string(&events).unwrap();
    for leak in ["ann%40", "ann@", "=42", "abc"] {
        assert!(!text.contains(leak), "{leak} leaked: {text}");
    }
    assert_eq!(
        events[0]["context"]["page"]["url"],
        "https://shop.example/confirm?email=[redacted]&member=[redacted]&utm_source=newsletter&utm_medium=email"
    );
    assert_eq!(
        events[0]["context"]["page"]["search"],
        "?email=[redacted]&member=[redacted]&utm_source=newsletter&utm_medium=email"
    );
    assert_eq!(
        events[0]["context"]["campaign"],
        json!({"source": "newsletter", "medium": "email"})
    );
    assert_eq!(
        events[1]["properties"]["url"],
        "https://shop.example/u/[redacted]/orders?token=[redacted]"
    );
}

#[test]
fn a_bad_call_leaves_the_session_untouched() {
    let mut t = tracker(json!({"version": 1}));
    let page = PageContext {
        url: "https://shop.example/".into(),
        path: "/".into(),
        ..PageContext::default()
    };
    let m = Moment {
        page: &page,
        activity: Landing,
        hints: &[],
        stored_session: None,
        device: "desktop",
    };
    let bad = Call::Page {
        category: Json::Null,
        name: Json::Null,
        properties: Json::Str("x".into()),
    };
    let err = t
        .record(bad, &m, T0, [[1; 16]; 2], &Enc, Keep::Queue)
        .unwrap_err();
    assert_eq!(
        err.render(),
        "page.properties: must be an object, not string"
    );
    assert!(t.visit.topics().is_empty());
    assert_eq!(t.outbox.batcher.pending().count(), 0);
}

#[test]
fn the_shared_session_is_rewritten_only_when_it_changes_at_minute_scale() {
    let mut t = tracker(json!({"version": 1}));
    let page = PageContext {
        url: "https://shop.example/".into(),
        path: "/".into(),
        ..PageContext::default()
    };
    let mut stored: Option<String> = None;
    let mut writes = Vec::new();
    // (ms after T0, activity): a landing, two clicks within 5 s, one later,
    // a page view 1 s later (a new page view always counts).
    for (i, (at, activity)) in [
        (0.0, Landing),
        (1_000.0, Other),
        (4_000.0, Other),
        (6_000.0, Other),
        (7_000.0, PageView),
    ]
    .into_iter()
    .enumerate()
    {
        let m = Moment {
            page: &page,
            activity,
            hints: &[],
            stored_session: stored.as_deref(),
            device: "desktop",
        };
        let call = match activity {
            Other => Call::Track {
                event: "Clicked".into(),
                properties: Json::Null,
            },
            _ => Call::Page {
                category: Json::Null,
                name: Json::Null,
                properties: Json::Null,
            },
        };
        let r = t
            .record(call, &m, T0 + at, [[i as u8; 16]; 2], &Enc, Keep::Queue)
            .unwrap();
        writes.push(r.store_session.is_some());
        if let Some(s) = r.store_session {
            stored = Some(s);
        }
    }
    assert_eq!(writes, [true, false, false, true, true]);
}

#[test]
fn commerce_events_carry_the_topics_of_their_categories() {
    let events = run(
        json!({"version": 1}),
        1,
        &[step(0, 0.0, Landing, "https://shop.example/p/1", "")],
    );
    assert!(events[0]["context"]["sillage"].get("topics").is_none());
    let mut t = tracker(json!({"version": 1}));
    let page = PageContext {
        url: "https://shop.example/p/1".into(),
        path: "/p/1".into(),
        ..PageContext::default()
    };
    let m = Moment {
        page: &page,
        activity: Other,
        hints: &[],
        stored_session: None,
        device: "desktop",
    };
    let props: Json = serde_json::from_value(json!({"products": [
        {"product_id": "a", "category": "Trail Running"}, {"product_id": "b", "category": "Socks"}]}))
    .unwrap();
    let r = t
        .record(
            Call::Track {
                event: "Cart Viewed".into(),
                properties: props,
            },
            &m,
            T0,
            [[9; 16]; 2],
            &Enc,
            Keep::Queue,
        )
        .unwrap();
    let ev: Value = serde_json::from_str(&Enc.encode(&r.event)).unwrap();
    assert_eq!(
        ev["context"]["sillage"]["topics"],
        json!(["trail running", "socks"])
    );
}
