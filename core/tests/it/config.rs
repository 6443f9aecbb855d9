//! Config parsing: what is usable is kept, every problem is named by JSON path.

use serde_json::json;
use sillage_core::config::parse;
use sillage_core::support::json::Json;

fn check(doc: serde_json::Value, want_errors: &[&str]) -> sillage_core::config::Config {
    let doc: Json = serde_json::from_value(doc).unwrap();
    let (cfg, diags) = parse(&doc, &sillage_core::native_js::NativeJs::new());
    let got: Vec<String> = diags.iter().map(|d| d.render()).collect();
    assert_eq!(got, want_errors);
    cfg
}

#[test]
fn a_good_config_has_no_errors() {
    let cfg = check(
        json!({"$schema": "/sillage.schema.json", "version": 1,
               "collector": {"url": "/v1/batch", "writeKey": "wk", "batch": {"maxEvents": 5, "maxBytes": 30000, "flushMs": 0}}}),
        &[],
    );
    let c = cfg.collector.unwrap();
    assert_eq!(
        (c.url.as_str(), c.write_key.as_deref()),
        ("/v1/batch", Some("wk"))
    );
    assert_eq!(
        (c.batch.max_events, c.batch.max_bytes, c.batch.flush_ms),
        (5, 30000, 0.0)
    );
    assert!(!c.gzip, "bodies go uncompressed unless asked");
    for (compress, gzip) in [("gzip", true), ("none", false)] {
        let cfg = check(
            json!({"version": 1, "collector": {"url": "/b", "compress": compress}}),
            &[],
        );
        assert_eq!(cfg.collector.unwrap().gzip, gzip, "{compress}");
    }
}

#[test]
fn errors_name_their_json_path() {
    let table: &[(serde_json::Value, &[&str])] = &[
        (json!([]), &["must be a JSON object, not array"]),
        (
            json!({}),
            &["version: missing (this SDK reads version 1 configs)"],
        ),
        (
            json!({"version": 2}),
            &["version: must be 1 (this SDK reads version 1 configs)"],
        ),
        (
            json!({"version": 1, "colector": {}}),
            &["colector: unknown key \"colector\" (did you mean \"collector\"?)"],
        ),
        (
            json!({"version": 1, "zzzzzzzz": 1}),
            &["zzzzzzzz: unknown key \"zzzzzzzz\""],
        ),
        (
            json!({"version": 1, "collector": "x"}),
            &["collector: must be an object, not string"],
        ),
        (
            json!({"version": 1, "collector": {}}),
            &["collector.url: missing"],
        ),
        (
            json!({"version": 1, "collector": {"url": " "}}),
            &["collector.url: must be a non-empty string, not string"],
        ),
        (
            json!({"version": 1, "collector": {"url": "/b", "writekey": "k"}}),
            &["collector.writekey: unknown key \"writekey\" (did you mean \"writeKey\"?)"],
        ),
        (
            json!({"version": 1, "collector": {"url": "/b", "writeKey": 5}}),
            &["collector.writeKey: must be a string, not number"],
        ),
        (
            json!({"version": 1, "collector": {"url": "/b", "compress": "gz"}}),
            &["collector.compress: must be \"none\" or \"gzip\", not \"gz\""],
        ),
        (
            json!({"version": 1, "collector": {"url": "/b", "compress": true}}),
            &["collector.compress: must be \"none\" or \"gzip\", not boolean"],
        ),
        (
            json!({"version": 1, "collector": {"url": "/b", "batch": {"maxEvents": 0, "maxBytes": 99999, "flushMs": "soon", "maxEvent": 1}}}),
            &[
                "collector.batch.maxEvent: unknown key \"maxEvent\" (did you mean \"maxEvents\"?)",
                "collector.batch.maxEvents: must be a number from 1 to 500, not 0",
                "collector.batch.maxBytes: must be a number from 1000 to 60000, not 99999",
                "collector.batch.flushMs: must be a number from 0 to 60000, not string",
            ],
        ),
    ];
    for (doc, want) in table {
        check(doc.clone(), want);
    }
}

#[test]
fn bad_parts_fall_back_and_good_parts_are_kept() {
    let cfg = check(
        json!({"version": 1, "collector": {"url": "/b", "batch": {"maxEvents": -1, "flushMs": 500}}}),
        &["collector.batch.maxEvents: must be a number from 1 to 500, not -1"],
    );
    let b = cfg.collector.unwrap().batch;
    assert_eq!(
        (b.max_events, b.flush_ms),
        (20, 500.0),
        "default for the bad one, the good one kept"
    );
}

#[test]
fn capture_switches() {
    let cfg = check(
        json!({"version": 1, "capture": {"pageviews": false, "hashRouting": true}}),
        &[],
    );
    assert!(
        !cfg.capture.pageviews
            && cfg.capture.hash_routing
            && cfg.capture.engagement
            && cfg.capture.clicks
    );
    let cfg = check(
        json!({"version": 1, "capture": {"clicks": "no", "pageview": false}}),
        &[
            "capture.pageview: unknown key \"pageview\" (did you mean \"pageviews\"?)",
            "capture.clicks: must be true or false, not string",
        ],
    );
    assert!(cfg.capture.clicks, "a bad value keeps the default");
    check(
        json!({"version": 1, "capture": []}),
        &["capture: must be an object, not array"],
    );
}

#[test]
fn privacy_channels_topics_and_sessions() {
    let cfg = check(
        json!({"version": 1,
               "privacy": {"scrubParams": ["Member", "ref_id"]},
               "capture": {"sessionTimeoutMinutes": 45},
               "channels": {"internalDomains": ["pay.example"]},
               "topics": [{"topic": "running", "path": "/running/*"}]}),
        &[],
    );
    assert_eq!(cfg.privacy.scrub_params, ["member", "ref_id"]);
    assert_eq!(cfg.capture.session_timeout_ms, 45.0 * 60_000.0);
    assert_eq!(cfg.channels.internal_domains, ["pay.example"]);
    assert_eq!(cfg.topics.len(), 1);
    let cfg = check(
        json!({"version": 1,
               "privacy": {"scrubParam": [], "scrubParams": ["ok", 3]},
               "capture": {"sessionTimeoutMinutes": 0.5},
               "topics": [{"topic": "x", "path": "nope"}],
               "chanels": {}}),
        &[
            "chanels: unknown key \"chanels\" (did you mean \"channels\"?)",
            "capture.sessionTimeoutMinutes: must be a number from 1 to 1440",
            "privacy.scrubParam: unknown key \"scrubParam\" (did you mean \"scrubParams\"?)",
            "privacy.scrubParams[1]: must be a non-empty string",
            "topics[0].path: must be a path starting with /",
        ],
    );
    assert_eq!(cfg.privacy.scrub_params, ["ok"], "the good entry is kept");
    assert_eq!(cfg.capture.session_timeout_ms, 30.0 * 60_000.0);
}

#[test]
fn attributes_is_a_known_key_that_the_page_ignores() {
    // Only `sillage check` reads it (`core::lint::declared`, tested there).
    check(
        json!({"version": 1, "attributes": ["plan", "account.tier"]}),
        &[],
    );
    check(json!({"version": 1, "attributes": [3, "stage"]}), &[]);
    check(
        json!({"version": 1, "atributes": []}),
        &["atributes: unknown key \"atributes\" (did you mean \"attributes\"?)"],
    );
}
