//! Conditions and bucketing: GrowthBook's conformance corpus, the diagnostics
//! of `check_condition`, and "never panics" on arbitrary JSON.

use proptest::prelude::*;
use sillage_core::decide::condition::{check_condition, eval_condition, Condition};
use sillage_core::native_js::NativeJs;
use sillage_core::support::json::Json;

#[path = "../../../tests/support/conformance.rs"]
mod conformance;

/// Where the corpus is: `../shared/conformance/`, beside the checkout
/// (never copied into the project).
const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/conformance/growthbook-cases.json"
);

#[test]
fn growthbook_conformance() {
    // A missing corpus is a failure, never a skip: without it this test
    // would prove nothing.
    let text = std::fs::read_to_string(CORPUS)
        .unwrap_or_else(|e| panic!("conformance corpus missing at {CORPUS}: {e}"));
    let outcome = conformance::run(&text, &NativeJs::new());
    eprint!("{}", outcome.summary());
    assert!(
        outcome.failures.is_empty(),
        "{} conformance failures:\n{}",
        outcome.failures.len(),
        outcome.failures.join("\n")
    );
}

/// `check_condition` at path `rules[3].when`, rendered `path: message`.
fn check(condition: &str, expected: &[&str]) {
    let c: Json = serde_json::from_str(condition).unwrap();
    let got: Vec<String> = check_condition(&c, "rules[3].when", &NativeJs::new())
        .iter()
        .map(|d| d.render())
        .collect();
    assert_eq!(got, expected, "for {condition}");
}

#[test]
fn check_reports_problems_with_paths() {
    check(r#"{"interests.running": {"$gt": 3}, "country": "FR"}"#, &[]);
    check(
        r#"{"interests.running": {"$gtt": 3}}"#,
        &[r#"rules[3].when.interests.running: unknown operator "$gtt" (did you mean "$gt"?)"#],
    );
    check(
        r#"{"tags": {"$in": "vip"}}"#,
        &[r#"rules[3].when.tags: "$in" needs an array, got string"#],
    );
    check(
        r#"{"ua": {"$regex": "/???***[)"}}"#,
        &[r#"rules[3].when.ua: invalid regular expression "/???***[)""#],
    );
    check(
        r#"{"v": {"$regex": "^(\\d+\\.)+$"}}"#,
        &[
            r#"rules[3].when.v: regular expression "^(\d+\.)+$" repeats a group that itself repeats or alternates, which can backtrack for seconds in the browser; it never matches (rewrite it without the nested repetition)"#,
        ],
    );
    check(
        r#"{"ua": {"$regexi": 5}}"#,
        &[r#"rules[3].when.ua: "$regexi" needs a pattern string, got number"#],
    );
    check(
        r#"{"$or": {"a": 1}}"#,
        &[r#"rules[3].when: "$or" needs an array of conditions, got object"#],
    );
    check(
        r#"{"$and": [{"a": 1}, 3]}"#,
        &[r#"rules[3].when.$and[1]: condition must be an object, got number"#],
    );
    check(
        r#"{"$orr": []}"#,
        &[r#"rules[3].when: unknown operator "$orr" (did you mean "$or"?)"#],
    );
    check(
        r#"{"$gt": 1}"#,
        &[
            r#"rules[3].when: operator "$gt" must be applied to an attribute, as in {"attr": {"$gt": ...}}"#,
        ],
    );
    check(
        r#"{"age": {"$type": "strng"}}"#,
        &[r#"rules[3].when.age: unknown type "strng" (did you mean "string"?)"#],
    );
    check(
        r#"{"hobbies": {"$elemMatch": {"name": {"$regexx": "^a"}}}}"#,
        &[
            r#"rules[3].when.hobbies.$elemMatch.name: unknown operator "$regexx" (did you mean "$regex"?)"#,
        ],
    );
    check(
        r#"{"tags": {"$all": [{"$ne": [1]}]}}"#,
        &[
            r#"rules[3].when.tags.$all[0]: "$ne" compares by identity, so an array never equals the attribute"#,
        ],
    );
    check(
        r#"{"a": {"$exists": "yes"}, "b": {"$inGroup": 3}}"#,
        &[
            r#"rules[3].when.a: "$exists" needs a boolean, got string"#,
            r#"rules[3].when.b: "$inGroup" needs a saved group id (a string), got number"#,
        ],
    );
    check(
        r#"{"a": {"$gt": 1, "b": 2}}"#,
        &["rules[3].when.a: object mixes operators and attribute names, so it is compared as a literal value"],
    );
    check(
        "null",
        &["rules[3].when: condition must be an object, got null"],
    );
}

#[test]
fn compiled_condition_is_reusable() {
    let host = NativeJs::new();
    let c: Json = serde_json::from_str(
        r#"{"country": {"$in": ["FR", "BE"]}, "version": {"$vgte": "2.0.0"}}"#,
    )
    .unwrap();
    let (cond, diags) = Condition::parse(&c, &host);
    assert!(diags.is_empty());
    let typo: Json = serde_json::from_str(r#"{"age": {"$gtt": 3}}"#).unwrap();
    let (_, diags) = Condition::parse_at(&typo, "rules[0].when", &host);
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].path, "rules[0].when.age");
    let yes: Json = serde_json::from_str(r#"{"country": "FR", "version": "2.1.0"}"#).unwrap();
    let no: Json = serde_json::from_str(r#"{"country": "FR", "version": "1.9.9"}"#).unwrap();
    let groups = Json::obj();
    for _ in 0..3 {
        assert!(cond.eval(&yes, &groups, &host));
        assert!(!cond.eval(&no, &groups, &host));
    }
}

/// Answers GrowthBook's JavaScript gives beyond the corpus (worked out from
/// the ECMAScript coercion rules `mongrule.ts` relies on).
#[test]
fn javascript_coercions_match_growthbook() {
    let host = NativeJs::new();
    let cases: &[(&str, &str, bool)] = &[
        // A missing attribute is null, and null * 1 === 0.
        (r#"{"x": 0}"#, r#"{}"#, true),
        (r#"{"n": {"$gt": 4}}"#, r#"{"n": "5"}"#, true),
        // Two strings compare as text.
        (r#"{"n": {"$gt": "10"}}"#, r#"{"n": "9"}"#, true),
        (r#"{"n": {"$gt": "abc"}}"#, r#"{"n": 5}"#, false),
        (r#"{"n": {"$lte": "abc"}}"#, r#"{"n": 5}"#, false),
        (r#"{"a": {"$lte": null}}"#, r#"{"a": false}"#, true),
        (r#"{"tags.length": 2}"#, r#"{"tags": ["a", "b"]}"#, true),
        (r#"{"tags.1": "b"}"#, r#"{"tags": ["a", "b"]}"#, true),
        (r#"{"a": "1,2"}"#, r#"{"a": [1, 2]}"#, true),
        (r#"{"a": "0.1"}"#, r#"{"a": 0.1}"#, true),
        (r#"{"a": "1e+21"}"#, r#"{"a": 1e21}"#, true),
        (r#"{"a": "-0"}"#, r#"{"a": -0.0}"#, false),
        (r#"{"a": {"$regex": "^nu"}}"#, r#"{}"#, true),
        (r#"{"a": {"$eq": [1]}}"#, r#"{"a": [1]}"#, false),
        (r#"{"a": [1]}"#, r#"{"a": [1]}"#, true),
        (
            r#"{"a": {"1": 1, "b": 2}}"#,
            r#"{"a": {"b": 2, "1": 1}}"#,
            true,
        ),
        (
            r#"{"a": {"b": 2, "c": 1}}"#,
            r#"{"a": {"c": 1, "b": 2}}"#,
            false,
        ),
        (
            r#"{"v": {"$vgt": "1.0.0-beta"}}"#,
            r#"{"v": "v1.0.0+build.7"}"#,
            true,
        ),
        // JavaScript would throw inside $not: the whole condition is false.
        (r#"{"$not": {"$or": null}}"#, r#"{}"#, false),
        (r#"{"$or": {"a": 1}}"#, r#"{}"#, true),
        (r#"{"$nor": {"a": 1}}"#, r#"{}"#, false),
    ];
    for (condition, attributes, expected) in cases {
        let c: Json = serde_json::from_str(condition).unwrap();
        let a: Json = serde_json::from_str(attributes).unwrap();
        let got = eval_condition(&a, &c, &Json::obj(), &host);
        assert_eq!(got, *expected, "{condition} on {attributes}");
    }
}

#[test]
fn deep_nesting_is_false_and_reported() {
    let host = NativeJs::new();
    let mut c = Json::obj().with("a", 1.0);
    for _ in 0..1_000 {
        c = Json::obj().with("$not", Json::obj().with("$not", c));
    }
    let (cond, diags) = Condition::parse(&c, &host);
    assert!(!cond.eval(&Json::obj().with("a", 1.0), &Json::obj(), &host));
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].message(), "condition nested deeper than 64 levels");
    let mut v = Json::obj().with("$eq", 1.0);
    for _ in 0..1_000 {
        v = Json::obj().with("$not", v);
    }
    let c = Json::obj().with("a", v);
    assert!(!eval_condition(
        &Json::obj().with("a", 2.0),
        &c,
        &Json::obj(),
        &host
    ));
    // Within the limit, nesting works as usual: 20 `$not`s cancel out.
    let mut c = Json::obj().with("a", 1.0);
    for _ in 0..20 {
        c = Json::obj().with("$not", c);
    }
    assert!(eval_condition(
        &Json::obj().with("a", 1.0),
        &c,
        &Json::obj(),
        &host
    ));
}

fn arb_key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "$eq",
            "$ne",
            "$gt",
            "$gte",
            "$lt",
            "$lte",
            "$in",
            "$nin",
            "$all",
            "$ini",
            "$nini",
            "$alli",
            "$elemMatch",
            "$size",
            "$exists",
            "$type",
            "$regex",
            "$regexi",
            "$not",
            "$and",
            "$or",
            "$nor",
            "$veq",
            "$vne",
            "$vgt",
            "$vgte",
            "$vlt",
            "$vlte",
            "$inGroup",
            "$notInGroup",
            "$bogus",
            "a",
            "a.b",
            "0",
            "length",
            "",
        ])
        .prop_map(String::from),
        "[a-z$.0-9]{0,6}",
    ]
}

fn arb_json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        prop_oneof![
            any::<f64>(),
            -10.0..10.0f64,
            (-3i32..20).prop_map(f64::from)
        ]
        .prop_map(Json::Num),
        prop_oneof![
            "[ -~]{0,8}",
            Just("1.2.3".to_string()),
            Just("(a|b)+[".to_string()),
            Just("\u{1f600}É".to_string()),
        ]
        .prop_map(Json::Str),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Json::Arr),
            prop::collection::vec((arb_key(), inner), 0..5).prop_map(Json::Obj),
        ]
    })
}

proptest! {
    /// Parsing, evaluating and checking never panic, and wrapping a condition
    /// in a one-item `$and` or `$or` never changes its answer (JavaScript
    /// exceptions included: they make both sides false).
    #[test]
    fn never_panics_on_arbitrary_json(
        condition in arb_json(),
        attributes in arb_json(),
        groups in arb_json(),
    ) {
        let host = NativeJs::new();
        let (compiled, _) = Condition::parse(&condition, &host);
        let plain = compiled.eval(&attributes, &groups, &host);
        prop_assert_eq!(plain, eval_condition(&attributes, &condition, &groups, &host));
        for op in ["$and", "$or"] {
            let wrapped = Json::obj().with(op, Json::Arr(vec![condition.clone()]));
            prop_assert_eq!(
                eval_condition(&attributes, &wrapped, &groups, &host),
                plain,
                "{} around {:?}", op, condition
            );
        }
        let _ = check_condition(&condition, "when", &host);
    }
}

#[test]
fn regexes_cannot_stall_the_page() {
    let host = NativeJs::new();
    let eval = |c: &str, v: &str| {
        let c: Json = serde_json::from_str(c).unwrap();
        eval_condition(&Json::obj().with("v", v), &c, &Json::obj(), &host)
    };
    // A catastrophic shape never runs, whatever the input.
    assert!(!eval(r#"{"v": {"$regex": "^(a+)+$"}}"#, "aaaa"));
    // Inputs are bounded: up to 1,024 characters match, longer never do.
    let at_cap = "x".repeat(sillage_core::decide::condition::MAX_REGEX_INPUT);
    assert!(eval(r#"{"v": {"$regex": "x$"}}"#, &at_cap));
    assert!(!eval(r#"{"v": {"$regex": "x$"}}"#, &format!("{at_cap}x")));
}
