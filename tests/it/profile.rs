//! The visitor profile: journeys as data (`tests/fixtures/journeys/*.json`),
//! property tests of its invariants, config diagnostics, and the JSON Schema
//! of its snapshot.
//!
//! A journey is a script of touchpoints with relative times. The harness
//! builds each event exactly as the tracker will (Segment Spec plus
//! `context.sillage`: session id, index and start from
//! `touchpoint::session_on`, the landing's `touchpoint::classify`, topics),
//! drives the profile's timers like a shell would (the virtual clock stops
//! at every `poll_timeout()` on the way), and at each checkpoint compares
//! the snapshot with the expectations, validates it against
//! `www/sillage.profile.schema.json`, and reloads the profile from its
//! stored form (which must give the same snapshot) before going on.

use proptest::prelude::*;
use serde_json::{json, Value};
use sillage::core::diag::Diagnostic;
use sillage::core::json::Json;
use sillage::core::profile::model::{parse_stages, StageModel};
use sillage::core::profile::settings::{parse_profile, ProfileConfig};
use sillage::core::profile::{push_age, push_points, Profile, MAX_STORAGE_BYTES};
use sillage::core::topics;
use sillage::core::touchpoint::{classify, session_on, ChannelConfig, Session, SESSION_TIMEOUT_MS};

/// 2026-03-02T09:00:00Z, a Monday.
const T0: f64 = 1_772_442_000_000.0;

fn to_json(v: &Value) -> Json {
    serde_json::from_value(v.clone()).unwrap()
}

fn to_value(v: &Json) -> Value {
    serde_json::to_value(v).unwrap()
}

/// `1d2h30m10s` in milliseconds.
fn duration(s: &str) -> f64 {
    let (mut total, mut n) = (0.0, String::new());
    for c in s.chars() {
        if c.is_ascii_digit() || c == '.' {
            n.push(c);
            continue;
        }
        let unit = match c {
            'd' => 86_400_000.0,
            'h' => 3_600_000.0,
            'm' => 60_000.0,
            's' => 1000.0,
            _ => panic!("bad duration {s}"),
        };
        total += n.parse::<f64>().unwrap() * unit;
        n.clear();
    }
    assert!(n.is_empty() || n == "0", "bad duration {s}");
    total
}

fn schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/www/sillage.profile.schema.json"
    ))
    .unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

fn assert_valid(schema: &jsonschema::Validator, snap: &Value, at: &str) {
    let errors: Vec<String> = schema
        .iter_errors(snap)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "{at}: snapshot breaks the schema: {errors:#?}\n{snap:#}"
    );
}

/// Builds the events of a journey like the tracker does.
struct Shell {
    host: String,
    channels: ChannelConfig,
    session: Option<Session>,
    ids: u32,
    page_url: String,
    page_path: String,
    now: f64,
}

impl Shell {
    fn new(host: &str) -> Shell {
        Shell {
            host: host.to_string(),
            channels: ChannelConfig::default(),
            session: None,
            ids: 0,
            page_url: String::new(),
            page_path: String::new(),
            now: T0,
        }
    }

    fn sillage(&mut self, touch: Option<&sillage::core::touchpoint::Touchpoint>) -> Value {
        self.ids += 1;
        let (s, start) = session_on(
            self.session.as_ref(),
            touch,
            self.now,
            SESSION_TIMEOUT_MS,
            format!("s{}", self.ids),
        );
        let mut ctx = json!({"sessionId": s.id, "sessionIndex": s.index});
        if let Some(start) = start {
            ctx["sessionStart"] = json!(start.as_str());
        }
        self.session = Some(s);
        ctx
    }

    fn page(&mut self, path: &str, referrer: Option<&str>, topics: &[&str]) -> Value {
        let url = format!("{}{}", self.host, path);
        let referrer = referrer
            .map(str::to_string)
            .unwrap_or_else(|| self.page_url.clone());
        let tp = classify(&url, &referrer, &self.channels);
        let mut ctx = self.sillage(Some(&tp));
        if !tp.internal {
            ctx["touchpoint"] = to_value(&tp.to_json());
        }
        ctx["topics"] = json!(topics::normalize(topics.iter().copied()));
        let bare = path.split(['?', '#']).next().unwrap().to_string();
        self.page_url = url.clone();
        self.page_path = bare.clone();
        json!({"type": "page", "properties": {"path": bare, "url": url},
               "context": {"page": {"path": bare, "url": url, "referrer": referrer}, "sillage": ctx}})
    }

    fn track(&mut self, event: &str, props: &Value, topics: Option<&[&str]>) -> Value {
        let mut ctx = self.sillage(None);
        let t = match topics {
            Some(t) => topics::normalize(t.iter().copied()),
            None => topics::from_properties(&to_json(props)),
        };
        if !t.is_empty() {
            ctx["topics"] = json!(t);
        }
        json!({"type": "track", "event": event, "properties": props,
               "context": {"page": {"path": self.page_path, "url": self.page_url, "referrer": ""}, "sillage": ctx}})
    }
}

fn parse_config(cfg: Option<&Value>) -> (StageModel, ProfileConfig) {
    let mut diags = Vec::new();
    let model = cfg
        .and_then(|c| c.get("stages"))
        .map_or_else(StageModel::default, |s| {
            parse_stages(&to_json(s), &mut diags)
        });
    let pc = cfg
        .and_then(|c| c.get("profile"))
        .map_or_else(ProfileConfig::default, |p| {
            parse_profile(&to_json(p), &mut diags)
        });
    assert_eq!(diags, Vec::<Diagnostic>::new(), "fixture config");
    (model, pc)
}

fn check_invariants(snap: &Value, at: &str) {
    let p = &snap["stageProbabilities"];
    let sum: f64 = [
        "discovery",
        "consideration",
        "purchase",
        "post_purchase",
        "loyalty",
    ]
    .iter()
    .map(|s| {
        let v = p[s].as_f64().unwrap();
        assert!(v.is_finite() && v >= 0.0, "{at}: {s} = {v}");
        v
    })
    .sum();
    assert!((sum - 1.0).abs() < 1e-9, "{at}: probabilities sum to {sum}");
}

/// Compares one checkpoint's expectations with the snapshot.
fn check_point(want: &Value, snap: &Value, changes: &[String], at: &str) {
    let fail = |what: &str| panic!("{at}: {what}\nsnapshot: {snap:#}\nchanges: {changes:?}");
    for (k, w) in want.as_object().unwrap() {
        match k.as_str() {
            "stage" | "sessions" | "pageviews" | "orders" | "topInterests" | "channels" => {
                if snap[k] != *w {
                    fail(&format!("{k}: want {w}, got {}", snap[k]));
                }
            }
            "probabilities" => {
                for (s, b) in w.as_object().unwrap() {
                    let v = snap["stageProbabilities"][s].as_f64().unwrap();
                    let (lo, hi) = (b[0].as_f64().unwrap(), b[1].as_f64().unwrap());
                    if !(lo..=hi).contains(&v) {
                        fail(&format!("{s} probability {v} not in [{lo}, {hi}]"));
                    }
                }
            }
            "signals" => {
                for (s, v) in w.as_object().unwrap() {
                    if snap["signals"][s]["value"] != *v {
                        fail(&format!("signal {s}: want {v}"));
                    }
                }
            }
            "interests" => {
                for (t, b) in w.as_object().unwrap() {
                    let v = snap["interests"][t].as_f64().unwrap_or(0.0);
                    let (lo, hi) = (b[0].as_f64().unwrap(), b[1].as_f64().unwrap());
                    if !(lo..=hi).contains(&v) {
                        fail(&format!("interest {t} = {v} not in [{lo}, {hi}]"));
                    }
                }
            }
            "reason" => {
                if snap["reasons"][0]["signal"] != *w {
                    fail(&format!("top reason: want {w}"));
                }
            }
            "reasonText" => {
                if snap["reasons"][0]["text"] != *w {
                    fail(&format!("top reason text: want {w}"));
                }
            }
            "firstTouch" | "lastTouch" => {
                if snap[k]["channel"] != *w {
                    fail(&format!("{k}: want channel {w}"));
                }
            }
            "cart" | "lastOrder" => {
                for (f, v) in w.as_object().unwrap() {
                    if snap[k][f] != *v {
                        fail(&format!("{k}.{f}: want {v}"));
                    }
                }
            }
            "changes" => {
                let want: Vec<String> = serde_json::from_value(w.clone()).unwrap();
                if want != changes {
                    fail(&format!("stage changes: want {want:?}"));
                }
            }
            other => panic!("{at}: unknown expectation {other}"),
        }
    }
}

/// Runs one journey file; returns how many checkpoints it passed.
fn run_journey(path: &std::path::Path, schema: &jsonschema::Validator) -> usize {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let (model, cfg) = parse_config(doc.get("config"));
    let mut shell = Shell::new(doc["host"].as_str().unwrap_or("https://shop.example"));
    let mut p = Profile::new(model.clone(), cfg.clone());
    let mut changes: Vec<String> = Vec::new();
    let mut checks = 0;
    for (i, step) in doc["steps"].as_array().unwrap().iter().enumerate() {
        let at = format!("{name} step {i}");
        let target = shell.now + duration(step["after"].as_str().unwrap_or("0"));
        // The shell's one timer: run what falls due on the way.
        while let Some(due) = p.poll_timeout().filter(|d| *d <= target) {
            assert!(due >= shell.now - 1.0, "{at}: timeout in the past");
            p.handle_timeout(due);
        }
        shell.now = target;
        let topics: Vec<&str> = step["topics"]
            .as_array()
            .map(|a| a.iter().map(|t| t.as_str().unwrap()).collect())
            .unwrap_or_default();
        let event = if let Some(page) = step["page"].as_str() {
            Some(shell.page(page, step["referrer"].as_str(), &topics))
        } else if let Some(name) = step["track"].as_str() {
            let props = step.get("properties").cloned().unwrap_or(json!({}));
            let t = step.get("topics").map(|_| &topics[..]);
            Some(shell.track(name, &props, t))
        } else if let Some(e) = step.get("engaged") {
            let props = json!({"active_time_ms": e[0], "scroll_depth_pct": e[1],
                               "page_path": shell.page_path, "page_url": shell.page_url});
            Some(shell.track("Page Engaged", &props, Some(&[])))
        } else if let Some(x) = step.get("interest") {
            p.set_interest(x[0].as_str().unwrap(), x[1].as_f64().unwrap(), shell.now);
            None
        } else {
            None
        };
        if let Some(e) = event {
            p.apply(&to_json(&e), shell.now);
        } else if step.get("check").is_none() && step.get("interest").is_none() {
            p.handle_timeout(shell.now);
        }
        while let Some(c) = p.poll_change() {
            let from = c.from.map_or("none", |s| s.as_str());
            changes.push(format!("{from}->{}", c.to.as_str()));
            let props = to_value(&c.to_json());
            assert_eq!(props["to"], json!(c.to.as_str()));
        }
        if let Some(want) = step.get("check") {
            let snap = to_value(&p.snapshot(shell.now));
            check_invariants(&snap, &at);
            assert_valid(schema, &snap, &at);
            check_point(want, &snap, &changes, &at);
            changes.clear();
            checks += 1;
            // Reload, as the next page load would.
            let stored = p.to_storage();
            let text = serde_json::to_string(&to_value(&stored)).unwrap();
            assert!(
                text.len() <= MAX_STORAGE_BYTES,
                "{at}: stored {} bytes",
                text.len()
            );
            let before = to_value(&p.snapshot(shell.now));
            let (q, diags) = Profile::from_storage(
                &serde_json::from_str(&text).unwrap(),
                model.clone(),
                cfg.clone(),
            );
            assert_eq!(diags, vec![], "{at}: reload");
            assert_eq!(
                to_value(&q.snapshot(shell.now)),
                before,
                "{at}: reload changed the snapshot"
            );
            assert_eq!(
                q.poll_timeout(),
                p.poll_timeout(),
                "{at}: reload changed the timers"
            );
            p = q;
        }
    }
    checks
}

#[test]
fn journeys() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/journeys");
    let schema = schema();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 1,
        "at least 12 journeys, found {}",
        files.len()
    );
    for f in &files {
        let checks = run_journey(f, &schema);
        assert!(checks >= 2, "{}: at least two checkpoints", f.display());
    }
}

#[test]
fn reason_text_formats_ages_and_points_without_fmt() {
    let ages: &[(f64, &str)] = &[
        (-5.0, "just now"),
        (59_999.0, "just now"),
        (60_000.0, "1 min ago"),
        (12.0 * 60_000.0, "12 min ago"),
        (59.9 * 60_000.0, "59 min ago"),
        (3_600_000.0, "1 h ago"),
        (47.9 * 3_600_000.0, "47 h ago"),
        (2.0 * 86_400_000.0, "2 days ago"),
        (400.0 * 86_400_000.0, "400 days ago"),
    ];
    for (ms, want) in ages {
        let mut s = String::new();
        push_age(&mut s, *ms);
        assert_eq!(s, *want, "{ms}");
    }
    let points: &[(f64, &str)] = &[
        (3.0, "+3.0"),
        (2.96, "+3.0"),
        (0.04, "+0.0"),
        (-1.25, "-1.3"),
        (-0.01, "+0.0"),
        (12.34, "+12.3"),
    ];
    for (v, want) in points {
        let mut s = String::new();
        push_points(&mut s, *v);
        assert_eq!(s, *want, "{v}");
    }
}
