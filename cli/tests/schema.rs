//! The committed JSON Schema is the generated one, and it describes exactly
//! the keys the parser knows, so the schema and the parser cannot drift.

use serde_json::Value;
use sillage_core::config::{BATCH_KEYS, CAPTURE_KEYS, COLLECTOR_KEYS, QUEUE_KEYS, TOP_KEYS};
use sillage_core::decide::condition::{LOGICAL_OPS, VALUE_OPS};
use sillage_core::decide::rules::actions::{ACTION_COMMON_KEYS, ACTION_TYPES};
use sillage_core::decide::rules::catalog::CATALOG_ITEM_KEYS;
use sillage_core::decide::rules::experiment::{EXPERIMENT_KEYS, VARIATION_KEYS};
use sillage_core::decide::rules::RULE_KEYS;
use sillage_core::track::topics::TOPIC_RULE_KEYS;
use sillage_core::track::touchpoint::{CHANNELS_KEYS, SOURCE_KEYS};
use std::collections::BTreeSet;
use std::process::Command;

const REGENERATE: &str = "cargo run -p sillage-cli -- schema > www/sillage.schema.json";

fn generated() -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_sillage"))
        .arg("schema")
        .output()
        .expect("sillage runs");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

fn committed() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../www/sillage.schema.json");
    std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!("www/sillage.schema.json: {e}; regenerate it with: {REGENERATE}")
    })
}

#[test]
fn the_committed_schema_is_the_generated_one() {
    assert!(
        committed() == generated(),
        "www/sillage.schema.json is out of date; regenerate it with: {REGENERATE}"
    );
}

/// Every object schema with `properties`, named by its definition (and, for
/// the members of a tagged union, by the tag's value).
fn objects(name: &str, v: &Value, out: &mut Vec<(String, BTreeSet<String>)>) {
    let Value::Object(o) = v else { return };
    if let Some(Value::Object(props)) = o.get("properties") {
        let label = match props.get("type").and_then(|t| t.get("const")) {
            Some(Value::String(tag)) => format!("{name}:{tag}"),
            _ => name.to_string(),
        };
        out.push((label, props.keys().cloned().collect()));
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(Value::Array(items)) = o.get(key) {
            for item in items {
                objects(name, item, out);
            }
        }
    }
}

#[test]
fn every_object_in_the_schema_has_exactly_the_keys_the_parser_knows() {
    let schema: Value = serde_json::from_str(&generated()).unwrap();
    let mut found = Vec::new();
    objects("config", &schema, &mut found);
    for (name, def) in schema["$defs"].as_object().unwrap() {
        objects(name, def, &mut found);
    }
    let mut expected: Vec<(String, &[&str])> = vec![
        ("config".into(), TOP_KEYS),
        ("Collector".into(), COLLECTOR_KEYS),
        ("Batch".into(), BATCH_KEYS),
        ("Queue".into(), QUEUE_KEYS),
        ("Capture".into(), CAPTURE_KEYS),
        (
            "Personalization".into(),
            sillage_core::config::PERSONALIZATION_KEYS,
        ),
        ("Privacy".into(), sillage_core::track::visit::PRIVACY_KEYS),
        ("Stages".into(), sillage_core::profile::model::STAGES_KEYS),
        ("Prior".into(), &sillage_core::profile::model::STAGES),
        (
            "StageSignal".into(),
            sillage_core::profile::model::SIGNAL_KEYS,
        ),
        ("When".into(), sillage_core::profile::model::WHEN_KEYS),
        (
            "SinceEvent".into(),
            sillage_core::profile::model::SINCE_KEYS,
        ),
        (
            "ProfileSettings".into(),
            sillage_core::profile::settings::PROFILE_KEYS,
        ),
        (
            "InterestSettings".into(),
            sillage_core::profile::settings::INTEREST_KEYS,
        ),
        (
            "IntentSettings".into(),
            &sillage_core::profile::model::INTENTS,
        ),
        (
            "CartAbandoned".into(),
            sillage_core::profile::settings::INTENT_KEYS[0],
        ),
        (
            "Days".into(),
            sillage_core::profile::settings::INTENT_KEYS[1],
        ),
        (
            "Returning".into(),
            sillage_core::profile::settings::INTENT_KEYS[2],
        ),
        (
            "RepeatBuyer".into(),
            sillage_core::profile::settings::INTENT_KEYS[3],
        ),
        (
            "Frustrated".into(),
            sillage_core::profile::settings::INTENT_KEYS[4],
        ),
        (
            "HighIntent".into(),
            sillage_core::profile::settings::INTENT_KEYS[5],
        ),
        ("Channels".into(), CHANNELS_KEYS),
        ("SourceRule".into(), SOURCE_KEYS),
        ("TopicRule".into(), TOPIC_RULE_KEYS),
        ("CatalogItem".into(), CATALOG_ITEM_KEYS),
        ("Rule".into(), RULE_KEYS),
        ("Experiment".into(), EXPERIMENT_KEYS),
        ("VariationObject".into(), VARIATION_KEYS),
        ("Condition".into(), LOGICAL_OPS),
        ("Operators".into(), VALUE_OPS),
    ];
    let action_keys: Vec<Vec<&str>> = ACTION_TYPES
        .iter()
        .map(|(_, own)| {
            ACTION_COMMON_KEYS
                .iter()
                .chain(own.iter())
                .copied()
                .collect()
        })
        .collect();
    for ((ty, _), keys) in ACTION_TYPES.iter().zip(&action_keys) {
        expected.push((format!("Action:{ty}"), keys));
    }
    let mut problems = Vec::new();
    for (name, keys) in &expected {
        let want: BTreeSet<String> = keys.iter().map(|k| k.to_string()).collect();
        match found.iter().find(|(n, _)| n == name) {
            None => problems.push(format!("{name}: not in the schema")),
            Some((_, got)) if *got != want => problems.push(format!(
                "{name}: schema has {got:?}, the parser knows {want:?}"
            )),
            Some(_) => {}
        }
    }
    for (name, _) in &found {
        if !expected.iter().any(|(n, _)| n == name) {
            problems.push(format!(
                "{name}: an object in the schema that this test does not know"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn configs_in_www_reference_the_schema_and_check_clean_without_warnings() {
    let www = concat!(env!("CARGO_MANIFEST_DIR"), "/../www");
    let mut seen = 0;
    let dirs = [www.to_string(), format!("{www}/test")];
    let entries = dirs.iter().flat_map(|d| std::fs::read_dir(d).unwrap());
    for entry in entries {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".config.json") {
            continue;
        }
        seen += 1;
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(doc["$schema"], "/sillage.schema.json", "{name}");
        let out = Command::new(env!("CARGO_BIN_EXE_sillage"))
            .args(["check", "--deny-warnings", path.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    assert!(seen >= 4, "{seen} configs");
}

#[test]
fn every_enum_of_words_in_the_schema_has_exactly_the_values_the_parser_knows() {
    let schema: Value = serde_json::from_str(&generated()).unwrap();
    for (name, known) in [
        ("Compress", sillage_core::config::COMPRESS),
        ("Redecide", sillage_core::config::REDECIDE),
    ] {
        let got: BTreeSet<&str> = schema["$defs"][name]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: no enum in the schema"))
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let want: BTreeSet<&str> = known.iter().copied().collect();
        assert_eq!(got, want, "{name}");
    }
}
