//! Rules, audiences, experiments and decisions: fixture tables of configs
//! and attributes with the expected decision per slot, bad configs with
//! their exact messages, and a property test that nothing panics.

use proptest::prelude::*;
use serde_json::json;
use sillage_core::config;
use sillage_core::decide::bucket;
use sillage_core::decide::condition::Condition;
use sillage_core::decide::rules::{
    decide, Assignment, Assignments, Ctx, Decision, Preview, RuleSet, Shown, Verdict,
};
use sillage_core::native_js::NativeJs;
use sillage_core::support::json::Json;

fn js(v: serde_json::Value) -> Json {
    serde_json::from_value(v).unwrap()
}

fn parse(doc: &Json) -> (config::Config, Vec<String>) {
    let (cfg, diags) = config::parse(doc, &NativeJs::new());
    (cfg, diags.iter().map(|d| d.render()).collect())
}

/// `rule -> shown [experiment]` then one line per reason.
fn summary(d: &Decision, slot: &str) -> Vec<String> {
    let Some(s) = d.slot(slot) else {
        return vec![String::from("(no decision)")];
    };
    let shown = match s.shown {
        Shown::Default => String::from("default"),
        Shown::Variant(v) => format!("variant {v}"),
        Shown::Actions(a) => format!("{} actions", a.len()),
    };
    let who = match (s.forced, s.rule) {
        (true, _) => "forced",
        (_, Some(r)) => r.id.as_str(),
        (_, None) => "-",
    };
    let mut head = format!("{who} -> {shown}");
    if let Some(e) = &s.experiment {
        head.push_str(&format!(" [{} {} {}", e.key, e.variation, e.variation_id));
        if e.in_holdout {
            head.push_str(" holdout");
        }
        if e.sticky {
            head.push_str(" sticky");
        }
        head.push(']');
    }
    let mut out = vec![head];
    for r in &s.why {
        out.push(match r.verdict {
            Verdict::Matched => format!("{}: matched", r.rule.id),
            Verdict::Failed(c) => format!("{}: failed {c}", r.rule.id),
            Verdict::Invalid => format!("{}: invalid", r.rule.id),
            Verdict::NotInExperiment => format!("{}: not in experiment", r.rule.id),
        });
    }
    out
}

fn decide_with(
    cfg: &config::Config,
    attributes: &Json,
    id: &str,
    store: &Assignments,
    preview: &Preview,
) -> Vec<(String, Vec<String>)> {
    let host = NativeJs::new();
    let mut attrs = attributes.clone();
    cfg.rules.audiences.apply(&mut attrs, &host);
    let ctx = Ctx {
        anonymous_id: id,
        assignments: store,
        preview,
        host: &host,
        now: 1_000.0,
    };
    let d = decide(&attrs, &cfg.rules, &ctx);
    d.slots
        .iter()
        .map(|s| (s.slot.to_string(), summary(&d, s.slot)))
        .collect()
}

#[test]
fn fixture_tables_of_rules_and_attributes_give_the_expected_decisions() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/rules");
    let mut files = 0;
    let mut failures = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        files += 1;
        let fixture: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let (cfg, diags) = parse(&js(fixture["config"].clone()));
        assert_eq!(diags, Vec::<String>::new(), "{}", path.display());
        for case in fixture["cases"].as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let store = Assignments::from_json(&js(case["assignments"].clone()));
            let mut warnings = Vec::new();
            let preview = Preview::from_query(
                case["query"].as_str().unwrap_or(""),
                cfg.debug,
                &mut warnings,
            );
            assert!(warnings.is_empty(), "{name}: {warnings:?}");
            let got = decide_with(
                &cfg,
                &js(case["attributes"].clone()),
                case["anonymousId"].as_str().unwrap_or("someone"),
                &store,
                &preview,
            );
            for (slot, want) in case["expect"].as_object().unwrap() {
                let want: Vec<String> = serde_json::from_value(want.clone()).unwrap();
                let got = got
                    .iter()
                    .find(|(s, _)| s == slot)
                    .map(|(_, g)| g.clone())
                    .unwrap_or_else(|| vec![String::from("(no decision)")]);
                if got != want {
                    failures.push(format!(
                        "{}: {name}: slot {slot}:\n  want {want:?}\n  got  {got:?}",
                        path.display()
                    ));
                }
            }
        }
    }
    assert!(files > 0);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A config with `rules`/`audiences`/`catalog` sections around `extra`.
fn check_errors(extra: serde_json::Value, want: &[&str]) {
    let mut doc = json!({"version": 1});
    for (k, v) in extra.as_object().unwrap() {
        doc[k] = v.clone();
    }
    let (_, got) = parse(&js(doc.clone()));
    assert_eq!(got, want, "config: {doc}");
}

#[test]
fn bad_configs_are_reported_with_exact_messages() {
    let rule = |r: serde_json::Value| json!({"rules": [r]});
    let table: Vec<(serde_json::Value, &[&str])> = vec![
        (
            rule(json!({"id": "r", "slot": "hero", "variant": "v",
                        "when": {"interests": {"running": {"$gtt": 0.5}}}})),
            &[],
        ),
        (
            rule(json!({"id": "r", "slot": "hero", "variant": "v",
                        "when": {"interests.running": {"$gtt": 0.5}}})),
            &["rules[0].when.interests.running: unknown operator \"$gtt\" (did you mean \"$gt\"?)"],
        ),
        (
            json!({"rules": [{"id": "a", "slot": "s", "variant": "v"}, {"id": "b", "slot": "s", "variant": "v"},
                             {"id": "c", "slot": "s", "variant": "v"},
                             {"id": "d", "slot": "s", "variant": "v", "whn": {}}]}),
            &["rules[3].whn: unknown key \"whn\" (did you mean \"when\"?)"],
        ),
        (
            rule(json!({"slot": "hero", "variant": "v"})),
            &["rules[0].id: missing"],
        ),
        (
            json!({"rules": [{"id": "r", "slot": "a", "variant": "v"}, {"id": "r", "slot": "b", "variant": "v"}]}),
            &["rules[1].id: duplicate rule id \"r\""],
        ),
        (
            rule(json!({"id": "r", "slot": "hero/x", "variant": "v"})),
            &["rules[0].slot: must be a non-empty name without / or spaces"],
        ),
        (
            rule(json!({"id": "r", "slot": "hero"})),
            &["rules[0]: needs a variant or actions"],
        ),
        (
            rule(json!({"id": "r", "slot": "hero", "variant": "v", "actions": [{"type": "hide"}]})),
            &["rules[0]: has both variant and actions: keep one"],
        ),
        (
            rule(json!({"id": "r", "slot": "hero", "variant": "v", "priority": "high"})),
            &["rules[0].priority: must be a number, not string"],
        ),
        (
            rule(json!({"id": "r", "slot": "hero", "variant": "v", "when": {"page.path": {"$regex": "(unclosed"}}})),
            &["rules[0].when.page.path: invalid regular expression \"(unclosed\""],
        ),
        (
            rule(json!({"id": "r", "slot": "hero", "variant": "v", "when": {"audiences": {"$elemMatch": {"$eq": "hot_runer"}}}})),
            &["rules[0].when.audiences.$elemMatch.$eq: unknown audience \"hot_runer\""],
        ),
        (
            json!({"audiences": {"hot_runner": {}},
                   "rules": [{"id": "r", "slot": "hero", "variant": "v", "when": {"audiences": {"$in": ["hot_runer"]}}}]}),
            &["rules[0].when.audiences.$in[0]: unknown audience \"hot_runer\" (did you mean \"hot_runner\"?)"],
        ),
        (
            json!({"audiences": {"a": {"audiences": {"$in": ["b"]}}, "b": {"audiences": {"$in": ["a"]}}}}),
            &["audiences.a: audience cycle a -> b -> a"],
        ),
        (
            json!({"audiences": {"me": {"audiences": {"$elemMatch": {"$eq": "me"}}}}}),
            &["audiences.me: audience cycle me -> me"],
        ),
        (
            json!({"audiences": {"x": {"age": {"$gte": "a", "$foo": 1}}}}),
            &["audiences.x.age: unknown operator \"$foo\""],
        ),
        (json!({"audiences": []}), &["audiences: must be an object of audience name to condition, not array"]),
        (json!({"rules": {}}), &["rules: must be an array of rules, not object"]),
        (json!({"rules": [3]}), &["rules[0]: must be a rule object {id, slot, when, ...}, not number"]),
        (json!({"debug": "yes"}), &["debug: must be true or false, not string"]),
        // Actions.
        (
            rule(json!({"id": "r", "slot": "s", "actions": [{"type": "setTxt", "text": "x"}]})),
            &["rules[0].actions[0].type: unknown action \"setTxt\" (did you mean \"setText\"?)"],
        ),
        (
            rule(json!({"id": "r", "slot": "s", "actions": [{"type": "setText", "txt": "x"}]})),
            &[
                "rules[0].actions[0].txt: unknown key \"txt\" (did you mean \"text\"?)",
                "rules[0].actions[0].text: missing",
            ],
        ),
        (
            rule(json!({"id": "r", "slot": "s", "actions": []})),
            &["rules[0].actions: must list from 1 to 20 actions"],
        ),
        (
            rule(json!({"id": "r", "slot": "s", "actions": [{"type": "setAttribute", "name": "onclick", "value": "alert(1)"}]})),
            &["rules[0].actions[0].name: attribute \"onclick\" is not allowed (allowed: class title lang dir role aria-label aria-hidden data-sillage-track data-sillage-props href target rel hreflang src srcset sizes alt width height loading decoding media type cite datetime start reversed value colspan rowspan scope)"],
        ),
        (
            rule(json!({"id": "r", "slot": "s", "actions": [{"type": "setAttribute", "name": "href", "value": " JavaScript:alert(1)"}]})),
            &["rules[0].actions[0].value: must be an http(s) or relative URL"],
        ),
        (
            rule(json!({"id": "r", "slot": "s", "actions": [{"type": "setAttribute", "name": "href", "value": "java\tscript:alert(1)"}]})),
            &["rules[0].actions[0].value: must be an http(s) or relative URL"],
        ),
        (
            rule(json!({"id": "r", "slot": "s", "actions": [{"type": "setAttribute", "name": "data-sillage-applied", "value": "x"}]})),
            &["rules[0].actions[0].name: attribute \"data-sillage-applied\" is not allowed (allowed: class title lang dir role aria-label aria-hidden data-sillage-track data-sillage-props href target rel hreflang src srcset sizes alt width height loading decoding media type cite datetime start reversed value colspan rowspan scope)"],
        ),
        (
            rule(json!({"id": "r", "slot": "s", "actions": [{"type": "replace", "variant": "a", "html": "<b>x</b>"}]})),
            &["rules[0].actions[0]: replace needs exactly one of variant or html"],
        ),
        (
            rule(json!({"id": "r", "slot": "s", "actions": [{"type": "addClass", "class": "a b"}]})),
            &["rules[0].actions[0].class: must be a non-empty name without spaces"],
        ),
        (
            rule(json!({"id": "r", "slot": "s", "actions": [{"type": "recommend", "strategy": "crossSel"}]})),
            &["rules[0].actions[0].strategy: unknown strategy \"crossSel\" (did you mean \"crossSell\"?)"],
        ),
        (
            rule(json!({"id": "r", "slot": "s", "actions": [{"type": "recommend", "strategy": "upSell", "limit": 50}]})),
            &["rules[0].actions[0].limit: must be a whole number from 1 to 20, not number"],
        ),
        // Experiments.
        (
            rule(json!({"id": "r", "slot": "s", "variant": "v", "experiment": {"variants": ["a", "b"]}})),
            &["rules[0].experiment.key: missing"],
        ),
        (
            rule(json!({"id": "r", "slot": "s", "variant": "v", "experiment": {"key": "k", "variants": ["a"]}})),
            &["rules[0].experiment.variants: must list from 2 to 10 variations (the control first)"],
        ),
        (
            rule(json!({"id": "r", "slot": "s", "variant": "v", "experiment": {"key": "k", "variants": ["a", "a"]}})),
            &["rules[0].experiment.variants[1]: duplicate variation id \"a\""],
        ),
        (
            rule(json!({"id": "r", "slot": "s", "variant": "v", "experiment": {"key": "k", "variants": ["", {"variant": "x"}]}})),
            &[
                "rules[0].experiment.variants[0]: variation id must be a non-empty string",
                "rules[0].experiment.variants[1].id: missing",
            ],
        ),
        (
            rule(json!({"id": "r", "slot": "s", "variant": "v", "experiment": {"key": "k", "variants": ["a", "b"], "weights": [0.5, 0.6]}})),
            &["rules[0].experiment.weights: must add up to 1"],
        ),
        (
            rule(json!({"id": "r", "slot": "s", "variant": "v", "experiment": {"key": "k", "variants": ["a", "b"], "weights": [1]}})),
            &["rules[0].experiment.weights: must have one weight per variation (2), not 1"],
        ),
        (
            rule(json!({"id": "r", "slot": "s", "variant": "v", "experiment": {"key": "k", "variants": ["a", "b"], "holdout": 5}})),
            &["rules[0].experiment.holdout: must be a number from 0 to 1, not number"],
        ),
        (
            rule(json!({"id": "r", "slot": "s", "variant": "v", "experiment": {"key": "k", "variants": [{"id": "a", "variant": "x"}, "b"]}})),
            &["rules[0].experiment.variants[0]: the control (variants[0]) always shows the default content"],
        ),
        (
            json!({"rules": [{"id": "r1", "slot": "s", "variant": "v", "experiment": {"key": "k", "variants": ["a", "b"]}},
                             {"id": "r2", "slot": "t", "variant": "v", "experiment": {"key": "k", "variants": ["a", "b"], "bucketVersion": -1}}]}),
            &[
                "rules[1].experiment.bucketVersion: must be a whole number from 0, not number",
                "rules[1].experiment.key: duplicate experiment key \"k\"",
            ],
        ),
        // Catalog.
        (
            json!({"catalog": [{"id": "shoe", "title": "Shoe", "url": "/shoe", "complements": ["sokc", "zz"]},
                               {"id": "sock", "title": "Sock", "url": "https://shop.test/sock", "tier": 2},
                               {"id": "b", "title": "B", "url": "javascript:alert(1)"},
                               {"id": "c", "titel": "C", "url": "/c", "price": -1}]}),
            &[
                "catalog[2].url: must be an http(s) or relative URL",
                "catalog[3].titel: unknown key \"titel\" (did you mean \"title\"?)",
                "catalog[3].title: missing",
                "catalog[3].price: must be a number from 0, not number",
                "catalog[0].complements[0]: unknown catalog item \"sokc\" (did you mean \"sock\"?)",
                "catalog[0].complements[1]: unknown catalog item \"zz\"",
            ],
        ),
        (json!({"catalog": {}}), &["catalog: must be an array of items, not object"]),
    ];
    for (extra, want) in table {
        check_errors(extra, want);
    }
}

#[test]
fn a_bad_rule_is_skipped_and_the_others_still_work() {
    let doc = js(json!({"version": 1, "rules": [
        {"id": "bad", "slot": "hero", "variant": "x", "priority": 5, "when": {"stage": {"$eqq": "purchase"}}},
        {"id": "good", "slot": "hero", "variant": "y", "when": {"stage": "purchase"}}
    ]}));
    let (cfg, diags) = parse(&doc);
    assert_eq!(diags.len(), 1);
    let ids: Vec<&str> = cfg.rules.rules.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["good"]);
    let got = decide_with(
        &cfg,
        &js(json!({"stage": "purchase"})),
        "v",
        &Assignments::new(),
        &Preview::default(),
    );
    assert_eq!(got[0].1[0], "good -> variant y");
}

#[test]
fn config_is_data_never_code() {
    // Operators that would run code elsewhere (MongoDB, Unomi) are unknown
    // here: reported at load, false at evaluation, and the rule is skipped.
    let host = NativeJs::new();
    for op in ["$where", "$function", "$expr", "$accumulator", "$eval"] {
        for (cond, path) in [
            (json!({ op: "function() { return true }" }), "rules[0].when"),
            (
                json!({"stage": { op: "this.stage == 'x'" }}),
                "rules[0].when.stage",
            ),
        ] {
            let c = js(cond.clone());
            let (compiled, diags) = Condition::parse_at(&c, "rules[0].when", &host);
            assert!(
                !compiled.eval(&js(json!({"stage": "x"})), &Json::Null, &host),
                "{cond}"
            );
            let messages: Vec<String> = diags.iter().map(|d| d.render()).collect();
            assert_eq!(messages.len(), 1, "{cond}: {messages:?}");
            assert!(
                messages[0].starts_with(&format!("{path}: unknown operator \"{op}\"")),
                "{messages:?}"
            );
            let doc = js(
                json!({"version": 1, "rules": [{"id": "r", "slot": "s", "variant": "v", "when": cond}]}),
            );
            let (cfg, diags) = parse(&doc);
            assert_eq!(diags.len(), 1);
            assert!(cfg.rules.rules.is_empty());
        }
    }
}

fn experiment_rules(experiment: serde_json::Value) -> config::Config {
    let doc = js(json!({"version": 1, "rules": [
        {"id": "r", "slot": "s", "variant": "v", "experiment": experiment}
    ]}));
    let (cfg, diags) = parse(&doc);
    assert_eq!(diags, Vec::<String>::new());
    cfg
}

/// (variation, in_holdout) of `id`, or `None` when outside the experiment.
fn assign(cfg: &config::Config, id: &str, store: &Assignments) -> Option<(u32, bool)> {
    let e = cfg.rules.rules[0].experiment.as_ref().unwrap();
    e.assign(id, store).map(|a| (a.variation, a.in_holdout))
}

#[test]
fn experiments_use_growthbook_hash_v2_and_a_separate_holdout_hash() {
    let cfg = experiment_rules(
        json!({"key": "hero-test", "variants": ["control", "a", "b"], "weights": [0.5, 0.25, 0.25]}),
    );
    let ranges = bucket::get_bucket_ranges(3, 1.0, Some(&[0.5, 0.25, 0.25]));
    let mut counts = [0usize; 3];
    let mut held = 0;
    let n = 10_000;
    for i in 0..n {
        let id = format!("visitor-{i}");
        let (v, h) = assign(&cfg, &id, &Assignments::new()).unwrap();
        // The documented seeds: variation from hash(key, id, 2), holdout from
        // hash("holdout:" + key, id, 2) < 0.05.
        let want = bucket::choose_variation(bucket::hash("hero-test", &id, 2).unwrap(), &ranges);
        assert_eq!(v as i32, want, "{id}");
        assert_eq!(
            h,
            bucket::hash("holdout:hero-test", &id, 2).unwrap() < 0.05,
            "{id}"
        );
        counts[v as usize] += 1;
        held += usize::from(h);
    }
    let share = |c: usize| c as f64 / n as f64;
    assert!((share(counts[0]) - 0.5).abs() < 0.02, "{counts:?}");
    assert!((share(counts[1]) - 0.25).abs() < 0.02, "{counts:?}");
    assert!((share(held) - 0.05).abs() < 0.01, "{held}");
    // Changing the weights moves nobody in or out of the holdout.
    let other = experiment_rules(
        json!({"key": "hero-test", "variants": ["control", "a", "b"], "weights": [0.1, 0.1, 0.8]}),
    );
    for i in 0..2_000 {
        let id = format!("visitor-{i}");
        let a = assign(&cfg, &id, &Assignments::new()).unwrap();
        let b = assign(&other, &id, &Assignments::new()).unwrap();
        assert_eq!(a.1, b.1, "{id}");
    }
}

#[test]
fn coverage_leaves_visitors_out_and_the_next_rule_can_win() {
    let doc = js(json!({"version": 1, "rules": [
        {"id": "exp", "slot": "s", "variant": "v", "experiment": {"key": "k", "variants": ["c", "t"], "coverage": 0.2}},
        {"id": "fallback", "slot": "s", "priority": -1, "variant": "f"}
    ]}));
    let (cfg, diags) = parse(&doc);
    assert!(diags.is_empty());
    let mut outside = 0;
    for i in 0..1_000 {
        let id = format!("v{i}");
        let got = decide_with(
            &cfg,
            &Json::obj(),
            &id,
            &Assignments::new(),
            &Preview::default(),
        );
        if got[0].1[0] == "fallback -> variant f" {
            assert_eq!(got[0].1[1], "exp: not in experiment");
            outside += 1;
        }
    }
    assert!((750..850).contains(&outside), "{outside}");
}

#[test]
fn assignments_are_sticky_until_the_bucket_version_changes() {
    let v0 = experiment_rules(json!({"key": "k", "variants": ["c", "t"], "holdout": 0}));
    let v1 = experiment_rules(
        json!({"key": "k", "variants": ["c", "t"], "holdout": 0, "bucketVersion": 1}),
    );
    let host = NativeJs::new();
    // Find a visitor hashed into the control, then store the treatment for them.
    let id = (0..100)
        .map(|i| format!("v{i}"))
        .find(|id| assign(&v0, id, &Assignments::new()) == Some((0, false)))
        .unwrap();
    let mut store = Assignments::new();
    store.insert(Assignment {
        key: "k".into(),
        variation: 1,
        in_holdout: false,
        bucket_version: 0,
        at: 5.0,
    });
    assert_eq!(assign(&v0, &id, &store), Some((1, false)), "sticky");
    assert_eq!(assign(&v1, &id, &store), Some((0, false)), "re-bucketed");
    // decide reports the new assignment for the store, and not a sticky one.
    let preview = Preview::default();
    let ctx = Ctx {
        anonymous_id: &id,
        assignments: &store,
        preview: &preview,
        host: &host,
        now: 42.0,
    };
    let d = decide(&Json::obj(), &v1.rules, &ctx);
    assert_eq!(
        d.assigned,
        [Assignment {
            key: "k".into(),
            variation: 0,
            in_holdout: false,
            bucket_version: 1,
            at: 42.0
        }]
    );
    let d = decide(&Json::obj(), &v0.rules, &ctx);
    assert!(d.assigned.is_empty());
    assert!(d.slots[0].experiment.unwrap().sticky);
}

#[test]
fn the_assignment_store_is_bounded_and_round_trips() {
    let mut store = Assignments::new();
    for i in 0..60 {
        store.insert(Assignment {
            key: format!("k{i}"),
            variation: i % 3,
            in_holdout: i % 7 == 0,
            bucket_version: 1,
            at: f64::from(i),
        });
    }
    assert_eq!(
        store.len(),
        sillage_core::decide::rules::experiment::MAX_ASSIGNMENTS
    );
    assert!(store.get("k0").is_none(), "the oldest is forgotten");
    assert!(store.get("k59").is_some());
    assert_eq!(Assignments::from_json(&store.to_json()), store);
    let junk = js(json!([{"key": "a"}, 3, {"key": "b", "variation": 1, "bucketVersion": 0}]));
    assert_eq!(Assignments::from_json(&junk).len(), 1);
}

#[test]
fn audiences_are_evaluated_in_dependency_order() {
    let doc = js(json!({"version": 1, "audiences": {
        "c": {"audiences": {"$all": ["a", "b"]}},
        "b": {"audiences": {"$in": ["a"]}, "device": "mobile"},
        "a": {"interests.running": {"$gt": 0.5}},
        "none": {"audiences": {"$size": 0}}
    }}));
    let (cfg, diags) = parse(&doc);
    assert!(diags.is_empty(), "{diags:?}");
    let order: Vec<&str> = cfg
        .rules
        .audiences
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(order, ["a", "b", "c", "none"]);
    let host = NativeJs::new();
    for (attrs, want) in [
        (
            json!({"interests": {"running": 0.9}, "device": "mobile"}),
            json!(["a", "b", "c"]),
        ),
        (
            json!({"interests": {"running": 0.9}, "device": "desktop"}),
            json!(["a"]),
        ),
        (json!({}), json!(["none"])),
    ] {
        let mut a = js(attrs);
        cfg.rules.audiences.apply(&mut a, &host);
        assert_eq!(a.get("audiences"), Some(&js(want)));
    }
}

#[test]
fn previews_are_honoured_only_when_debug_is_allowed() {
    let mut out = Vec::new();
    let p = Preview::from_query(
        "a=1&sillage_force=hero%2Freturning-runner&sillage_stage=purchase&sillage_debug=1",
        true,
        &mut out,
    );
    assert!(out.is_empty());
    assert_eq!(
        p.force,
        [("hero".to_string(), "returning-runner".to_string())]
    );
    assert_eq!((p.stage.as_deref(), p.debug), (Some("purchase"), true));
    let p = Preview::from_query("sillage_force=hero/x", false, &mut out);
    assert_eq!(p, Preview::default());
    let p = Preview::from_query("sillage_stage=purchse&sillage_force=hero", true, &mut out);
    assert_eq!(p, Preview::default());
    let got: Vec<String> = out.iter().map(|d| d.render()).collect();
    assert_eq!(
        got,
        [
            "?sillage_force: previews are off (set \"debug\": true in the config)",
            "?sillage_stage: unknown stage \"purchse\" (did you mean \"purchase\"?)",
            "?sillage_force: expected slot/variant, got \"hero\"",
        ]
    );
}

#[test]
fn the_decision_as_json() {
    let doc = js(json!({"version": 1, "rules": [
        {"id": "r1", "slot": "hero", "variant": "v", "when": {"stage": "purchase"}},
        {"id": "r2", "slot": "hero", "priority": -1, "actions": [{"type": "hide"}]}
    ]}));
    let (cfg, _) = parse(&doc);
    let host = NativeJs::new();
    let (store, preview) = (Assignments::new(), Preview::default());
    let ctx = Ctx {
        anonymous_id: "x",
        assignments: &store,
        preview: &preview,
        host: &host,
        now: 0.0,
    };
    let d = decide(&js(json!({"stage": "discovery"})), &cfg.rules, &ctx);
    let got: serde_json::Value = serde_json::to_value(d.to_json()).unwrap();
    assert_eq!(
        got,
        json!({"slots": [{"slot": "hero", "rule": "r2", "actions": 1, "forced": false, "why": [
            {"rule": "r1", "result": "failed", "clause": "stage"},
            {"rule": "r2", "result": "matched"}
        ]}], "assigned": []})
    );
}

/// Arbitrary JSON, biased towards the config's own keys and operators so
/// the generator reaches deep into the parsers.
fn arb_json() -> impl Strategy<Value = Json> {
    let key = prop_oneof![
        Just("rules".to_string()),
        Just("audiences".to_string()),
        Just("catalog".to_string()),
        Just("when".to_string()),
        Just("id".to_string()),
        Just("slot".to_string()),
        Just("variant".to_string()),
        Just("actions".to_string()),
        Just("type".to_string()),
        Just("experiment".to_string()),
        Just("variants".to_string()),
        Just("weights".to_string()),
        Just("key".to_string()),
        Just("$or".to_string()),
        Just("$elemMatch".to_string()),
        Just("$regex".to_string()),
        Just("$in".to_string()),
        Just("$not".to_string()),
        Just("$size".to_string()),
        Just("complements".to_string()),
        "[a-z$]{1,6}",
    ];
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        prop_oneof![Just(0.0), Just(1.0), Just(0.5), Just(-1.0), any::<f64>()].prop_map(Json::Num),
        prop_oneof![
            Just("a".to_string()),
            Just("hero".to_string()),
            Just("setText".to_string()),
            Just("(".to_string()),
            ".{0,8}"
        ]
        .prop_map(Json::Str),
    ];
    leaf.prop_recursive(6, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Json::Arr),
            prop::collection::vec((key.clone(), inner), 0..5).prop_map(Json::Obj),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_and_decide_never_panic(
        rules in arb_json(),
        audiences in arb_json(),
        catalog in arb_json(),
        attributes in arb_json(),
        query in "[a-z_=&/%,]{0,40}",
    ) {
        let doc = Json::obj()
            .with("version", 1.0)
            .with("debug", true)
            .with("rules", rules)
            .with("audiences", audiences)
            .with("catalog", catalog);
        let host = NativeJs::new();
        let (cfg, _) = config::parse(&doc, &host);
        let mut warnings = Vec::new();
        let preview = Preview::from_query(&query, true, &mut warnings);
        let profile = sillage_core::profile::view::ProfileView::from_snapshot(&attributes);
        let inputs = sillage_core::decide::attributes::Inputs {
            profile: &profile,
            session: None,
            page_url: "https://x.test/a?b=c",
            referrer: "",
            device: "mobile",
            time: None,
            consent: &attributes,
            custom: &attributes,
            stage: preview.stage.as_deref(),
            now: 0.0,
        };
        let attrs = sillage_core::decide::attributes::build(&inputs, &cfg.rules.audiences, &host, &mut warnings);
        let store = Assignments::new();
        let ctx = Ctx { anonymous_id: "someone", assignments: &store, preview: &preview, host: &host, now: 0.0 };
        let d = decide(&attrs, &cfg.rules, &ctx);
        let _ = d.to_json();
        // And rules given as the whole set parse the same way through RuleSet.
        let mut out = Vec::new();
        let again = RuleSet::parse(doc.get("audiences"), doc.get("rules"), &host, &mut out);
        prop_assert_eq!(again.rules.len(), cfg.rules.rules.len());
    }
}
