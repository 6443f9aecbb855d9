//! The catalogue of diagnostics' sentences (`sillage_messages.json`): built
//! from the core's sources by the same scanner `cargo xtask build` uses, one
//! code per sentence.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use sillage_core::support::diag::{catalogue_json, code, templates_in};

fn sources() -> &'static Vec<(String, String)> {
    static SOURCES: OnceLock<Vec<(String, String)>> = OnceLock::new();
    SOURCES.get_or_init(|| {
        fn walk(dir: &Path, out: &mut Vec<(String, String)>) {
            for entry in std::fs::read_dir(dir).expect("core/src") {
                let path = entry.expect("an entry").path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).expect("a source file");
                    out.push((path.display().to_string(), text));
                }
            }
        }
        let mut out = Vec::new();
        walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut out);
        out
    })
}

/// Every template of the core's sources.
fn templates() -> Vec<String> {
    sources()
        .iter()
        .flat_map(|(_, text)| templates_in(text))
        .collect()
}

/// The catalogue, as `cargo xtask build` writes it.
pub fn catalogue() -> String {
    static CATALOGUE: OnceLock<String> = OnceLock::new();
    CATALOGUE
        .get_or_init(|| catalogue_json(&templates()))
        .clone()
}

#[test]
fn every_sentence_has_its_own_code() {
    let all = templates();
    assert!(all.len() > 150, "only {} templates found", all.len());
    let mut by_code: BTreeMap<u32, &str> = BTreeMap::new();
    for t in &all {
        if let Some(other) = by_code.insert(code(t), t) {
            assert_eq!(other, t, "two sentences share a code");
        }
    }
    let parsed: serde_json::Value = serde_json::from_str(&catalogue()).expect("JSON");
    assert_eq!(parsed.as_object().map(|o| o.len()), Some(by_code.len()));
    for (c, t) in by_code {
        let key = format!("{c:06x}");
        assert_eq!(parsed[&key].as_str(), Some(t), "{key}");
    }
}

/// The scanner finds a template only as `t!("...")` with `\"` as its only
/// escape: anything else would compile but be missing from the catalogue.
#[test]
fn every_template_is_one_the_scanner_reads() {
    let mut seen = 0;
    for (file, text) in sources() {
        for (i, _) in text.match_indices("t!(") {
            let before = text[..i].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let rest = &text[i + 3..];
            // The macro's own definition and the documentation's examples.
            if rest.starts_with("$text") || rest.starts_with("\\\"") {
                continue;
            }
            assert!(
                rest.starts_with('"'),
                "{file}: `t!(` not followed by a string literal: {}",
                &rest[..rest.len().min(40)]
            );
            let body = &rest[1..];
            let mut escaped = false;
            let mut end = None;
            for (j, c) in body.char_indices() {
                if c == '"' && !escaped {
                    end = Some(j);
                    break;
                }
                escaped = c == '\\' && !escaped;
            }
            let literal = &body[..end.expect("a closing quote")];
            let mut chars = literal.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    assert_eq!(
                        chars.next(),
                        Some('"'),
                        "{file}: only \\\" may be escaped in a template: {literal}"
                    );
                }
            }
            seen += 1;
        }
    }
    assert_eq!(seen, templates().len());
}
