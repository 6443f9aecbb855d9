//! GrowthBook's conformance corpus (`../shared/conformance/growthbook-cases.json`,
//! never copied into the project), run through a [`JsHost`]: natively with
//! `NativeJs` (`tests/it/conditions.rs`) and in Chromium with the shipped
//! `BrowserJs` (`tests/browser/conformance.rs`), through the same compiled
//! conditions the SDK uses. Both must pass every case of the suites below.

use std::collections::BTreeMap;

use sillage_core::decide::bucket::{
    choose_variation, get_bucket_ranges, get_equal_weights, hash, in_namespace,
};
use sillage_core::decide::condition::{check_condition, eval_condition, Condition, JsHost};
use sillage_core::support::json::Json;

/// Suites Sillage implements, with their case counts in spec 0.8.0.
pub const SUITES: &[(&str, usize)] = &[
    ("evalCondition", 248),
    ("hash", 15),
    ("getBucketRange", 13),
    ("chooseVariation", 13),
    ("inNamespace", 16),
    ("getEqualWeights", 6),
];

/// What a run found: cases run per suite, and every failure by name.
pub struct Outcome {
    /// Cases run, per suite.
    pub ran: BTreeMap<&'static str, usize>,
    /// `suite / case: detail`, one per failing case (and per suite whose
    /// case count is not the expected one).
    pub failures: Vec<String>,
}

impl Outcome {
    /// One line per suite: `evalCondition: 248/248 passed`.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        for (suite, _) in SUITES {
            let ran = self.ran.get(suite).copied().unwrap_or(0);
            let failed = self
                .failures
                .iter()
                .filter(|f| f.starts_with(&format!("{suite} / ")))
                .count();
            out.push_str(&format!("{suite}: {}/{ran} passed\n", ran - failed));
        }
        out
    }
}

fn json(v: &serde_json::Value) -> Json {
    serde_json::from_value(v.clone()).expect("corpus value converts")
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-8
}

fn ranges(v: &serde_json::Value) -> Vec<(f64, f64)> {
    v.as_array()
        .expect("ranges array")
        .iter()
        .map(|r| (r[0].as_f64().unwrap(), r[1].as_f64().unwrap()))
        .collect()
}

fn cases<'a>(corpus: &'a serde_json::Value, suite: &str) -> &'a Vec<serde_json::Value> {
    corpus[suite]
        .as_array()
        .unwrap_or_else(|| panic!("the corpus has no {suite} suite"))
}

/// Runs every supported suite of the corpus `text` through `host`.
pub fn run(text: &str, host: &dyn JsHost) -> Outcome {
    let corpus: serde_json::Value = serde_json::from_str(text).expect("corpus is valid JSON");
    let mut failures: Vec<String> = Vec::new();
    let mut fail = |suite: &str, name: &str, detail: String| {
        failures.push(format!("{suite} / {name}: {detail}"));
    };
    let mut ran = BTreeMap::new();

    for case in cases(&corpus, "evalCondition") {
        let c = case.as_array().unwrap();
        let name = c[0].as_str().unwrap();
        let condition = json(&c[1]);
        let attributes = json(&c[2]);
        let expected = c[3].as_bool().unwrap();
        let groups = c.get(4).map(json).unwrap_or_else(Json::obj);
        let direct = eval_condition(&attributes, &condition, &groups, host);
        // The SDK compiles a condition once and evaluates it many times.
        let (compiled, _) = Condition::parse(&condition, host);
        let again = compiled.eval(&attributes, &groups, host);
        // Check must run (and not panic) on every corpus condition too.
        let _ = check_condition(&condition, "when", host);
        if direct != expected || again != expected {
            fail(
                "evalCondition",
                name,
                format!("expected {expected}, got {direct} (compiled: {again})"),
            );
        }
        *ran.entry("evalCondition").or_insert(0) += 1;
    }

    for case in cases(&corpus, "hash") {
        let c = case.as_array().unwrap();
        let (seed, value) = (c[0].as_str().unwrap(), c[1].as_str().unwrap());
        let version = c[2].as_u64().unwrap() as u32;
        let got = hash(seed, value, version);
        let ok = match (c[3].as_f64(), got) {
            (Some(e), Some(g)) => close(e, g),
            (None, None) => true,
            _ => false,
        };
        if !ok {
            let name = format!("{seed}/{value}/v{version}");
            fail("hash", &name, format!("expected {}, got {got:?}", c[3]));
        }
        *ran.entry("hash").or_insert(0) += 1;
    }

    for case in cases(&corpus, "getBucketRange") {
        let c = case.as_array().unwrap();
        let name = c[0].as_str().unwrap();
        let args = c[1].as_array().unwrap();
        let n = args[0].as_i64().unwrap();
        let coverage = args[1].as_f64().unwrap();
        let weights: Option<Vec<f64>> = args[2]
            .as_array()
            .map(|w| w.iter().map(|x| x.as_f64().unwrap()).collect());
        let got = get_bucket_ranges(n, coverage, weights.as_deref());
        let want = ranges(&c[2]);
        let ok = got.len() == want.len()
            && got
                .iter()
                .zip(&want)
                .all(|(g, w)| close(g.0, w.0) && close(g.1, w.1));
        if !ok {
            fail(
                "getBucketRange",
                name,
                format!("expected {want:?}, got {got:?}"),
            );
        }
        *ran.entry("getBucketRange").or_insert(0) += 1;
    }

    for case in cases(&corpus, "chooseVariation") {
        let c = case.as_array().unwrap();
        let name = c[0].as_str().unwrap();
        let got = choose_variation(c[1].as_f64().unwrap(), &ranges(&c[2]));
        let want = c[3].as_i64().unwrap() as i32;
        if got != want {
            fail(
                "chooseVariation",
                name,
                format!("expected {want}, got {got}"),
            );
        }
        *ran.entry("chooseVariation").or_insert(0) += 1;
    }

    for case in cases(&corpus, "inNamespace") {
        let c = case.as_array().unwrap();
        let name = c[0].as_str().unwrap();
        let ns = c[2].as_array().unwrap();
        let got = in_namespace(
            c[1].as_str().unwrap(),
            (
                ns[0].as_str().unwrap(),
                ns[1].as_f64().unwrap(),
                ns[2].as_f64().unwrap(),
            ),
        );
        let want = c[3].as_bool().unwrap();
        if got != want {
            fail("inNamespace", name, format!("expected {want}, got {got}"));
        }
        *ran.entry("inNamespace").or_insert(0) += 1;
    }

    for case in cases(&corpus, "getEqualWeights") {
        let c = case.as_array().unwrap();
        let n = c[0].as_i64().unwrap();
        let want: Vec<f64> = c[1]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        let got = get_equal_weights(n);
        if got.len() != want.len() || !got.iter().zip(&want).all(|(g, w)| close(*g, *w)) {
            fail(
                "getEqualWeights",
                &n.to_string(),
                format!("expected {want:?}, got {got:?}"),
            );
        }
        *ran.entry("getEqualWeights").or_insert(0) += 1;
    }

    for (suite, count) in SUITES {
        let got = ran.get(suite).copied().unwrap_or(0);
        if got != *count {
            failures.push(format!("{suite}: ran {got} cases, expected {count}"));
        }
    }
    Outcome { ran, failures }
}
