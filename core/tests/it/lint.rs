//! `core::lint`: what parses but cannot do what was meant (unknown
//! attributes, values outside a closed vocabulary, near-miss event names),
//! each named by JSON path with a did-you-mean. (`json!` sorts object
//! keys, so warnings within one object come in key order here.)

use serde_json::{json, Value};
use sillage_core::config;
use sillage_core::decide::attributes::{
    self, built_in_paths, Inputs, LocalTime, SessionInfo, Shape,
};
use sillage_core::decide::lint::{self, Known};
use sillage_core::native_js::NativeJs;
use sillage_core::profile::model::StageModel;
use sillage_core::profile::settings::ProfileConfig;
use sillage_core::profile::Profile;
use sillage_core::support::json::Json;
use sillage_core::track::touchpoint::Campaign;

fn js(v: Value) -> Json {
    serde_json::from_value(v).unwrap()
}

/// The warnings for `doc` (a version 1 config is assumed).
fn warnings(mut doc: Value) -> Vec<String> {
    doc["version"] = json!(1);
    let doc = js(doc);
    let host = NativeJs::new();
    let (cfg, _) = config::parse(&doc, &host);
    lint::check(&doc, &cfg, &host)
        .iter()
        .map(|d| d.render())
        .collect()
}

/// A config whose only rule has condition `when`, and whose site declares
/// `plan`, `account.tier` and `account.region.code`.
fn rule(when: Value) -> Value {
    json!({"attributes": ["plan", "account.tier", "account.region.code"],
           "rules": [{"id": "r", "slot": "s", "variant": "v", "when": when}]})
}

const STAGES: &str = "discovery, consideration, purchase, post_purchase, loyalty";

#[test]
fn values_outside_a_closed_vocabulary_are_named_with_the_fix() {
    let never = "this condition can never match";
    let table: Vec<(Value, Vec<String>)> = vec![
        // Plain equality, $eq, $ne, $in, $nin, for each vocabulary.
        (rule(json!({"stage": "considration"})), vec![format!(r#"rules[0].when.stage: "considration" is not a stage (did you mean "consideration"?); {never}"#)]),
        (rule(json!({"stage": {"$eq": "Purchase"}})), vec![format!(r#"rules[0].when.stage.$eq: "Purchase" is not a stage (did you mean "purchase"?); {never}"#)]),
        (rule(json!({"stage": {"$ne": "buying"}})), vec![format!(r#"rules[0].when.stage.$ne: "buying" is not a stage (one of {STAGES}); this condition always matches"#)]),
        (rule(json!({"stage": {"$in": ["purchase", "postpurchase"]}})), vec![r#"rules[0].when.stage.$in[1]: "postpurchase" is not a stage (did you mean "post_purchase"?); this item can never match"#.to_string()]),
        (rule(json!({"stage": {"$nin": ["loyality"]}})), vec![r#"rules[0].when.stage.$nin[0]: "loyality" is not a stage (did you mean "loyalty"?); this item excludes nobody"#.to_string()]),
        (rule(json!({"device": "phone"})), vec![format!(r#"rules[0].when.device: "phone" is not a device class (one of mobile, tablet, desktop); {never}"#)]),
        (rule(json!({"device": {"$in": ["Tablet"]}})), vec![r#"rules[0].when.device.$in[0]: "Tablet" is not a device class (did you mean "tablet"?); this item can never match"#.to_string()]),
        (rule(json!({"channel": "Paid search"})), vec![format!(r#"rules[0].when.channel: "Paid search" is not a channel group (did you mean "Paid Search"?); {never}"#)]),
        (rule(json!({"channel": {"$nin": ["Emial"]}})), vec![r#"rules[0].when.channel.$nin[0]: "Emial" is not a channel group (did you mean "Email"?); this item excludes nobody"#.to_string()]),
        // The case-insensitive operators ignore case, and nothing else.
        (rule(json!({"channel": {"$ini": ["paid search", "EMAIL"]}, "device": {"$nini": ["MOBILE"]}})), vec![]),
        (rule(json!({"stage": {"$ini": ["PURCHSE"]}})), vec![r#"rules[0].when.stage.$ini[0]: "PURCHSE" is not a stage (did you mean "purchase"?); this item can never match"#.to_string()]),
        // Patterns are run against the vocabulary.
        (rule(json!({"stage": {"$regex": "^(purchase|loyalty)$"}, "device": {"$regexi": "^MOB"}})), vec![]),
        (rule(json!({"stage": {"$regex": "^Purchase"}})), vec![format!(r#"rules[0].when.stage.$regex: the pattern "^Purchase" matches no stage ({STAGES}); {never}"#)]),
        // Inside $not, $and, $or, $nor, and audiences.
        (rule(json!({"$or": [{"stage": "purchase"}, {"$and": [{"device": "mobil"}]}], "$nor": [{"$not": {"stage": {"$not": {"$eq": "lojalty"}}}}]})), vec![
            format!(r#"rules[0].when.$nor[0].$not.stage.$not.$eq: "lojalty" is not a stage (did you mean "loyalty"?); {never}"#),
            format!(r#"rules[0].when.$or[1].$and[0].device: "mobil" is not a device class (did you mean "mobile"?); {never}"#),
        ]),
        (json!({"audiences": {"late": {"stage": "consider"}}}), vec![format!(r#"audiences.late.stage: "consider" is not a stage (did you mean "consideration"?); {never}"#)]),
        // Good values, values of other types, other operators and other
        // attributes are not its business.
        (rule(json!({"stage": {"$in": ["purchase", "loyalty"], "$exists": true, "$type": "string"}, "device": null, "channel": {"$eq": 3},
                     "page.path": "considration", "plan": "considration", "stage.length": 3})), vec![
            r#"rules[0].when.stage.length: unknown attribute "stage.length": "stage" is a single value with nothing below it"#.to_string(),
        ]),
    ];
    for (doc, want) in table {
        assert_eq!(warnings(doc.clone()), want, "{doc}");
    }
}

#[test]
fn attributes_that_are_neither_built_in_nor_declared_are_named_with_the_fix() {
    let declared = r#"neither built in nor declared in the config's "attributes""#;
    let table: Vec<(Value, Vec<String>)> = vec![
        (rule(json!({"Stage": "purchase"})), vec![format!(r#"rules[0].when.Stage: unknown attribute "Stage" (did you mean "stage"?): {declared}"#)]),
        (rule(json!({"interest.running": {"$gt": 0.5}})), vec![format!(r#"rules[0].when.interest.running: unknown attribute "interest.running" (did you mean "interests.running"?): {declared}"#)]),
        (rule(json!({"member": true})), vec![format!(r#"rules[0].when.member: unknown attribute "member": {declared}"#)]),
        (rule(json!({"pln": "pro"})), vec![format!(r#"rules[0].when.pln: unknown attribute "pln" (did you mean "plan"?): {declared}"#)]),
        (rule(json!({"account.region.cod": "FR", "account.teir": "gold"})), vec![
            format!(r#"rules[0].when.account.region.cod: unknown attribute "account.region.cod" (did you mean "account.region.code"?): {declared}"#),
            format!(r#"rules[0].when.account.teir: unknown attribute "account.teir" (did you mean "account.tier"?): {declared}"#),
        ]),
        (rule(json!({"cart.total": {"$gt": 100}})), vec![r#"rules[0].when.cart.total: unknown attribute "cart.total": "cart" has only items, value, categories"#.to_string()]),
        (rule(json!({"visitor.returnin": true})), vec![r#"rules[0].when.visitor.returnin: unknown attribute "visitor.returnin" (did you mean "visitor.returning"?): "visitor" has only firstSeen, visits, returning"#.to_string()]),
        (rule(json!({"stageProbability.buying": {"$gt": 0.5}})), vec![format!(r#"rules[0].when.stageProbability.buying: unknown attribute "stageProbability.buying": "stageProbability" has only {STAGES}"#)]),
        (rule(json!({"signals.cartabandoned": true})), vec![r#"rules[0].when.signals.cartabandoned: unknown attribute "signals.cartabandoned" (did you mean "signals.cartAbandoned"?): "signals" has only cartAbandoned, quoteNotConverted, returning, repeatBuyer, frustrated, highIntent, lapsed"#.to_string()]),
        // A stage-model signal is not an attribute: say so.
        (rule(json!({"signals.checkoutStarted": true})), vec![r#"rules[0].when.signals.checkoutStarted: unknown attribute "signals.checkoutStarted": "checkoutStarted" is a signal of the stage model; signals.* holds the intent signals only"#.to_string()]),
        (
            json!({"stages": {"signals": [{"id": "demoBooked", "stage": "purchase", "points": 5, "when": {"event": "Demo Booked"}}]},
                   "rules": [{"id": "r", "slot": "s", "variant": "v", "when": {"signals.demoBooked": true}}]}),
            vec![r#"rules[0].when.signals.demoBooked: unknown attribute "signals.demoBooked": "demoBooked" is a signal of the stage model; signals.* holds the intent signals only"#.to_string()],
        ),
        // Lists: indexes and length only; values: nothing below.
        (rule(json!({"topInterests.first": "trail", "cart.categories.0.name": "x", "page.url.host": "x"})), vec![
            r#"rules[0].when.cart.categories.0.name: unknown attribute "cart.categories.0.name": "cart.categories.0" is a single value with nothing below it"#.to_string(),
            r#"rules[0].when.page.url.host: unknown attribute "page.url.host": "page.url" is a single value with nothing below it"#.to_string(),
            r#"rules[0].when.topInterests.first: unknown attribute "topInterests.first": "topInterests" is a list: only .0, .1, ... and .length reach into it (or test its items with $elemMatch)"#.to_string(),
        ]),
        // Built in, declared, below a declared name, open objects, list
        // items: all fine; so are operators the parser reports, and paths
        // inside $elemMatch (they are the items').
        (rule(json!({
            "stage": "purchase", "stageProbability.loyalty": {"$gt": 0.1}, "interests.trail running": 0.5,
            "topInterests.0": "trail", "topInterests.length": {"$gt": 1}, "signals.lapsed": true,
            "channel": "Email", "campaign.medium": "email", "session.index": 2, "visitor.firstSeen": 1,
            "page.referrerHost": "x", "device": "tablet", "time.weekday": 1, "cart.categories": {"$elemMatch": {"name": "x"}},
            "consent.ads.v2": true, "audiences": {"$elemMatch": {"$eq": "x"}}, "plan": "pro", "plan.features.0": "sso",
            "account": {"$exists": true}, "account.region": {"$exists": true}, "account.tier.level": 2,
            "$where": "1", "x": {"$gtt": 1}
        })), vec![
            format!(r#"rules[0].when.x: unknown attribute "x": {declared}"#),
        ]),
        // Without the declaration, the site's attribute is unknown.
        (json!({"rules": [{"id": "r", "slot": "s", "variant": "v", "when": {"plan": "pro"}}]}), vec![format!(r#"rules[0].when.plan: unknown attribute "plan": {declared}"#)]),
    ];
    for (doc, want) in table {
        assert_eq!(warnings(doc.clone()), want, "{doc}");
    }
}

#[test]
fn near_miss_event_names_in_the_stage_model_are_named() {
    let doc = json!({"stages": {"signals": [
        {"id": "a", "stage": "purchase", "points": 1, "when": {"event": "Product Add"}},
        {"id": "b", "stage": "purchase", "points": 1, "when": {"event": ["Demo Booked", "checkout started"], "sinceEvent": {"event": "Order Complete", "withinDays": 7}}},
        {"id": "c", "stage": "purchase", "points": 1, "when": {"event": "Webinar Attended", "sinceEvent": {"event": "Signed Up"}}}
    ]}});
    assert_eq!(
        warnings(doc),
        [
            r#"stages.signals[0].when.event: "Product Add" is not in the journey vocabulary (did you mean "Product Added"?)"#,
            r#"stages.signals[1].when.event[1]: "checkout started" is not in the journey vocabulary (did you mean "Checkout Started"?)"#,
            r#"stages.signals[1].when.sinceEvent.event: "Order Complete" is not in the journey vocabulary (did you mean "Order Completed"?)"#,
        ]
    );
}

#[test]
fn declared_attributes_are_names_or_dot_paths_of_the_sites_own() {
    let table: &[(Value, &[&str], &[&str])] = &[
        (json!({}), &[], &[]),
        (
            json!({"attributes": ["plan", "account.tier", "ltv_eur", "plan", "a.$b"]}),
            &[],
            &["plan", "account.tier", "ltv_eur", "plan", "a.$b"],
        ),
        (
            json!({"attributes": "plan"}),
            &["attributes: must be an array of attribute names, not string"],
            &[],
        ),
        (
            json!({"attributes": ["plan", 3, null, "", "a..b", ".a", "a.", "$where"]}),
            &[
                "attributes[1]: must be an attribute name (a string), not number",
                "attributes[2]: must be an attribute name (a string), not null",
                r#"attributes[3]: "" must be a name or a dot path ("plan", "account.tier")"#,
                r#"attributes[4]: "a..b" must be a name or a dot path ("plan", "account.tier")"#,
                r#"attributes[5]: ".a" must be a name or a dot path ("plan", "account.tier")"#,
                r#"attributes[6]: "a." must be a name or a dot path ("plan", "account.tier")"#,
                r#"attributes[7]: "$where" must not start with $ (conditions read that as an operator)"#,
            ],
            &["plan"],
        ),
        (
            json!({"attributes": ["stage", "cart.total", "Stage"]}),
            &[
                r#"attributes[0]: "stage" is a built-in attribute and cannot be replaced"#,
                r#"attributes[1]: "cart.total" is inside the built-in attribute "cart", which the site cannot replace or extend"#,
            ],
            &["Stage"],
        ),
    ];
    for (doc, want, names) in table {
        let doc_json = js(doc.clone());
        let mut out = Vec::new();
        let got = lint::declared(&doc_json, &mut out);
        let rendered: Vec<String> = out.iter().map(|d| d.render()).collect();
        assert_eq!(rendered, *want, "{doc}");
        assert_eq!(got, *names, "{doc}");
    }
}

/// Every dot path into `v` (array items by index, and `.length`).
fn paths(v: &Json, at: &str, out: &mut Vec<String>) {
    let join = |k: &str| {
        if at.is_empty() {
            k.to_string()
        } else {
            format!("{at}.{k}")
        }
    };
    match v {
        Json::Obj(m) => {
            for (k, x) in m {
                out.push(join(k));
                paths(x, &join(k), out);
            }
        }
        Json::Arr(items) => {
            out.push(join("length"));
            for (i, x) in items.iter().enumerate() {
                out.push(join(&i.to_string()));
                paths(x, &join(&i.to_string()), out);
            }
        }
        _ => {}
    }
}

/// The lint's table of built-in paths and what `attributes::build` makes
/// are the same: every path of a full attributes object is known, and
/// every known path is in it.
#[test]
fn the_known_paths_are_exactly_what_attributes_build_makes() {
    let host = NativeJs::new();
    let mut profile = Profile::new(StageModel::default(), ProfileConfig::default()).snapshot(0.0);
    profile.set("interests", js(json!({"trail": 0.5})));
    profile.set("topInterests", js(json!(["trail"])));
    profile.set("firstSeen", Json::Num(1.0));
    profile.set(
        "cart",
        js(json!({"items": 2, "value": 140, "categories": ["shoes"]})),
    );
    let campaign = Campaign {
        name: Some("spring".into()),
        source: Some("newsletter".into()),
        medium: Some("email".into()),
        term: Some("shoes".into()),
        content: Some("hero".into()),
    };
    let consent = js(json!({"personalization": true}));
    let custom = js(json!({"plan": "pro", "account": {"tier": "gold"}}));
    let (cfg, diags) = config::parse(
        &js(json!({"version": 1, "attributes": ["plan", "account.tier"],
                   "audiences": {"all": {}}})),
        &host,
    );
    assert!(diags.is_empty(), "{diags:?}");
    let profile = sillage_core::profile::view::ProfileView::from_snapshot(&profile);
    let inputs = Inputs {
        profile: &profile,
        session: Some(SessionInfo {
            index: 2,
            pageviews: 3,
            started: 0.0,
            channel: Some("Email"),
            campaign: Some(&campaign),
        }),
        page_url: "https://shop.test/trail?x=1",
        referrer: "https://mail.example/",
        device: "mobile",
        time: Some(LocalTime {
            hour: 9,
            weekday: 1,
            date: "2026-03-16",
        }),
        consent: &consent,
        custom: &custom,
        stage: None,
        now: 1000.0,
    };
    let attrs = attributes::build(&inputs, &cfg.rules.audiences, &host, &mut Vec::new());
    let doc = js(json!({"attributes": ["plan", "account.tier"]}));
    let known = Known::new(&lint::declared(&doc, &mut Vec::new()), &cfg.stages);
    let mut all = Vec::new();
    paths(&attrs, "", &mut all);
    for p in &all {
        assert_eq!(known.check_path(p), None, "{p}");
    }
    for (p, shape) in built_in_paths() {
        assert!(all.contains(&p), "{p} is in the table but not built");
        let v = attrs.get_path(&p).unwrap();
        let fits = match shape {
            Shape::Value => !matches!(v, Json::Obj(_) | Json::Arr(_)),
            Shape::List => matches!(v, Json::Arr(_)),
            Shape::Object | Shape::Open => matches!(v, Json::Obj(_)),
        };
        assert!(fits, "{p}: {shape:?} but built as {v:?}");
    }
}
