//! `sillage schema`: the JSON Schema of the config, generated from Rust
//! "document types" that mirror the config's JSON shape.
//!
//! Why here and not in the core: the core parses configs by hand (serde
//! derives and schemars would cost wasm size), so these types exist only to
//! describe the document, with their doc comments as the descriptions editors
//! show. Two tests keep them honest: the committed `www/sillage.schema.json`
//! must equal this output, and every object's property names must equal the
//! parser's known-key lists (`cli/tests/schema.rs`).
//!

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde_json::{json, Map, Value};
use sillage_core::decide::condition::{LOGICAL_OPS, VALUE_OPS};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Runs `sillage schema`: prints the schema.
pub fn run() -> i32 {
    println!("{}", text());
    0
}

/// The schema as pretty JSON text (what `www/sillage.schema.json` holds).
pub fn text() -> String {
    let mut schema = schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<ConfigDoc>()
        .to_value();
    strip_null(&mut schema);
    if let Value::Object(o) = &mut schema {
        o.insert("$id".into(), json!("/sillage.schema.json"));
    }
    serde_json::to_string_pretty(&schema).unwrap_or_default()
}

/// A missing key is how a config leaves a section out; `null` is rejected by
/// the parser, so `Option` fields must not allow it.
fn strip_null(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if let Some(Value::Array(types)) = o.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let t = types.remove(0);
                    o.insert("type".into(), t);
                }
            }
            if let Some(Value::Array(any)) = o.get_mut("anyOf") {
                any.retain(|s| s != &json!({"type": "null"}));
                if any.len() == 1 {
                    let only = any.remove(0);
                    o.remove("anyOf");
                    if let Value::Object(inner) = only {
                        for (k, x) in inner {
                            o.entry(k).or_insert(x);
                        }
                    }
                }
            }
            o.values_mut().for_each(strip_null);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_null),
        _ => {}
    }
}

/// A Sillage config document. Parsing never fails as a whole: every unknown
/// key or bad value is reported with its JSON path (`sillage check`), and
/// what is usable is used.
#[derive(JsonSchema)]
#[schemars(title = "Sillage config", deny_unknown_fields)]
#[allow(dead_code)]
struct ConfigDoc {
    /// This schema, for editors: `/sillage.schema.json`.
    #[schemars(rename = "$schema")]
    schema: Option<String>,
    /// The config format: always 1.
    version: Version,
    /// Where events are sent. Without it, events stay queued on the device.
    collector: Option<Collector>,
    /// What must never leave the device.
    privacy: Option<Privacy>,
    /// What is captured automatically.
    capture: Option<Capture>,
    /// The site's own channel rules, checked before the built-in ones.
    channels: Option<Channels>,
    /// Topics given by URL path patterns.
    topics: Option<Vec<TopicRule>>,
    /// The journey-stage scoring model: the built-in e-commerce and
    /// lead-generation model, changed or extended by the site's signals.
    stages: Option<Stages>,
    /// Settings of the on-device visitor profile: interests, intent signal
    /// thresholds, how much history is kept.
    profile: Option<ProfileSettings>,
    /// Named conditions, tested by rules and other audiences through the
    /// `audiences` attribute (`{"audiences": {"$elemMatch": {"$eq": "name"}}}`).
    /// Cycles are reported and their audiences never match.
    audiences: Option<BTreeMap<String, Condition>>,
    /// Items the `recommend` action may show (at most 500).
    catalog: Option<Vec<CatalogItem>>,
    /// Personalization rules: by priority (higher first), then position; for
    /// each slot the first matching rule wins. A rule with any problem is
    /// skipped.
    rules: Option<Vec<Rule>>,
    /// Allow the `?sillage_debug=1`, `?sillage_force=slot/variant` and
    /// `?sillage_stage=stage` previews. Default false.
    debug: Option<bool>,
    /// The names of the site's own attributes, given to conditions through
    /// `sillage.attributes({...})`; dot paths are allowed (`account.tier`)
    /// and cover every path below them. `sillage check` warns about a
    /// condition on an attribute that is neither built in nor declared here.
    attributes: Option<AttributeNames>,
    /// How personalization behaves in the page.
    personalization: Option<Personalization>,
}

/// `personalization`: how slots follow the visitor's journey.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct Personalization {
    /// When slots are decided again: `"change"` (the default) when something
    /// their rules read changes (the stage, a signal, an interest, the cart,
    /// consent, an attribute), in the next frame, touching only the slots
    /// whose decision changed; `"navigation"` only at a page view, so that
    /// content never moves under the reader.
    redecide: Option<Redecide>,
}

/// `personalization.redecide`.
#[derive(JsonSchema)]
#[allow(dead_code, non_camel_case_types)]
enum Redecide {
    change,
    navigation,
}

/// The `attributes` list: names, none built in.
struct AttributeNames;

impl JsonSchema for AttributeNames {
    fn schema_name() -> Cow<'static, str> {
        "AttributeNames".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let built_in = format!(
            "^({})(\\.|$)",
            sillage_core::decide::attributes::BUILT_IN.join("|")
        );
        json_schema!({
            "description": "The site's own attribute names (dot paths allowed).",
            "type": "array",
            "items": {
                "description": "An attribute name or dot path (`plan`, `account.tier`), not starting with `$` and not under a built-in attribute.",
                "type": "string",
                "pattern": "^[^$.][^.]*(\\.[^.]+)*$",
                "not": {"pattern": built_in},
            },
        })
    }
}

struct Version;

impl JsonSchema for Version {
    fn schema_name() -> Cow<'static, str> {
        "Version".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"description": "The config format: always 1.", "const": 1})
    }
}

/// `collector`: where and how events are sent.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct Collector {
    /// Absolute or page-relative URL that receives `POST` batches.
    #[schemars(length(min = 1))]
    url: String,
    /// Sent as `writeKey` in every batch body.
    write_key: Option<String>,
    /// When a batch leaves.
    batch: Option<Batch>,
    /// Caps of the durable queue on the device.
    queue: Option<Queue>,
    /// `"gzip"`: batch bodies are gzip-compressed where the browser has
    /// `CompressionStream`, signalled by `?ce=gzip` in the URL (the request
    /// stays CORS-simple); beacons at unload go uncompressed. Default
    /// `"none"`, for pipelines that cannot read it.
    compress: Option<Compress>,
}

/// `collector.compress`.
#[derive(JsonSchema)]
#[allow(dead_code, non_camel_case_types)]
enum Compress {
    none,
    gzip,
}

/// `collector.batch`: flush triggers.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct Batch {
    /// Events per batch. Default 20.
    #[schemars(range(min = 1, max = 500))]
    max_events: Option<u32>,
    /// Bytes per batch (also caps one request). Default 60000.
    #[schemars(range(min = 1000, max = 60000))]
    max_bytes: Option<u32>,
    /// Milliseconds an event may wait. Default 2000.
    #[schemars(range(min = 0, max = 60000))]
    flush_ms: Option<u32>,
}

/// `collector.queue`: past a cap the oldest events are dropped.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct Queue {
    /// Events kept. Default 5000.
    #[schemars(range(min = 1, max = 100000))]
    max_events: Option<u32>,
    /// Bytes kept. Default 2000000.
    #[schemars(range(min = 10000, max = 4000000))]
    max_bytes: Option<u32>,
    /// Days an event is kept. Default 7.
    #[schemars(range(min = 1, max = 90))]
    max_age_days: Option<f64>,
}

/// `capture`: automatic capture switches.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct Capture {
    /// Page views on load, SPA navigation and back-forward cache restores. Default true.
    pageviews: Option<bool>,
    /// Fragment changes (`#/route`) are page views. Default false.
    hash_routing: Option<bool>,
    /// `Page Engaged` with active time and scroll depth. Default true.
    engagement: Option<bool>,
    /// Tracked, outbound, download and rage clicks. Default true.
    clicks: Option<bool>,
    /// Minutes without activity that end a session (1 to 1440). Default 30.
    #[schemars(range(min = 1, max = 1440))]
    session_timeout_minutes: Option<f64>,
}

/// A journey stage.
#[derive(JsonSchema)]
#[allow(dead_code, non_camel_case_types)]
enum StageName {
    discovery,
    consideration,
    purchase,
    post_purchase,
    loyalty,
}

/// An intent signal.
#[derive(JsonSchema)]
#[allow(dead_code, non_camel_case_types)]
enum IntentName {
    cartAbandoned,
    quoteNotConverted,
    returning,
    repeatBuyer,
    frustrated,
    highIntent,
    lapsed,
}

/// One name, or a list of names (any of them matches).
#[derive(JsonSchema)]
#[schemars(untagged)]
#[allow(dead_code)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// `stages`: the journey-stage scoring model.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct Stages {
    /// Keep the built-in signals (default true); false keeps only the site's.
    use_defaults: Option<bool>,
    /// Points every stage starts with (0 to 100), before any signal.
    /// Defaults: discovery 1, consideration 0.5, purchase 0.25,
    /// post_purchase 0.1, loyalty 0.1.
    prior: Option<Prior>,
    /// Scoring signals (at most 64). A signal with the id of a built-in one
    /// replaces it; the fields it leaves out keep the built-in values.
    signals: Option<Vec<StageSignal>>,
}

/// `stages.prior`: the points each stage starts with.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct Prior {
    /// 0 to 100.
    discovery: Option<f64>,
    /// 0 to 100.
    consideration: Option<f64>,
    /// 0 to 100.
    purchase: Option<f64>,
    /// 0 to 100.
    post_purchase: Option<f64>,
    /// 0 to 100.
    loyalty: Option<f64>,
}

/// One scoring signal: when it fires, it adds `points` to `stage`, decaying
/// with the half-life.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct StageSignal {
    /// Unique id (at most 40 characters); a built-in id replaces that signal.
    #[schemars(length(min = 1, max = 40))]
    id: String,
    /// Shown in the profile's reasons (at most 40 characters; default: the
    /// event name or the id).
    label: Option<String>,
    /// The stage it points to.
    stage: Option<StageName>,
    /// Points added each time it fires (-100 to 100).
    #[schemars(range(min = -100, max = 100))]
    points: Option<f64>,
    /// Days after which the points are worth half (default 30, at most 3650).
    half_life_days: Option<f64>,
    /// When it fires: every condition given must hold.
    when: Option<When>,
    /// Fire only from the Nth match on (1 to 10, default 1).
    #[schemars(range(min = 1, max = 10))]
    min_count: Option<u32>,
    /// Count matches within this many days only.
    count_within_days: Option<f64>,
    /// Stages whose points are cleared when it fires (an order completes the
    /// purchase).
    clears: Option<Vec<StageName>>,
    /// Days after it fires during which signals of earlier stages add no
    /// points, until its own points are cleared (above 0, at most 3650;
    /// `productAdded` holds purchase for 7 days, until an order).
    hold_days: Option<f64>,
}

/// `when`: what makes a signal fire. Without `event`, it looks at page views.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct When {
    /// Track event name(s).
    event: Option<OneOrMany>,
    /// Page path pattern(s); `*` matches any run of characters.
    page: Option<OneOrMany>,
    /// Topic(s) of the page or event.
    topic: Option<OneOrMany>,
    /// Channel group(s) of the session's landing.
    channel: Option<OneOrMany>,
    /// The visitor's first visit.
    first_visit: Option<bool>,
    /// A session starting within this many days of the previous one.
    return_within_days: Option<f64>,
    /// An intent signal turning true (alone: no other condition with it).
    intent: Option<IntentName>,
    /// Only within some days after an event (default: `profile.postPurchaseDays`).
    since_event: Option<SinceEvent>,
}

/// `when.sinceEvent`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct SinceEvent {
    /// The event that opens the window.
    event: String,
    /// The window, in days.
    within_days: Option<f64>,
}

/// `profile`: settings of the on-device visitor profile.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct ProfileSettings {
    /// Interest decay and size.
    interests: Option<InterestSettings>,
    /// Recent touchpoints kept (default 200; the 16 KB storage bound may keep
    /// fewer).
    recent_max: Option<u32>,
    /// Days after an order in which post-purchase signals fire (default 30).
    post_purchase_days: Option<f64>,
    /// Probability by which another stage must beat the current one to
    /// become the likely stage (default 0.05), so the stage does not flap.
    stage_margin: Option<f64>,
    /// Intent signal thresholds.
    intents: Option<IntentSettings>,
}

/// `profile.interests`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct InterestSettings {
    /// Days after which an interest is worth half (default 14).
    half_life_days: Option<f64>,
    /// Topics kept, the weakest evicted (default 64).
    max: Option<u32>,
    /// Names in `topInterests` (default 5).
    top_k: Option<u32>,
}

/// `profile.intents`: the thresholds of each intent signal.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct IntentSettings {
    /// Items in the cart and no checkout within `minutes` (default 30), or by
    /// the next session.
    cart_abandoned: Option<CartAbandoned>,
    /// A quote requested and no order or sign-up within `days` (default 14).
    quote_not_converted: Option<Days>,
    /// The Nth session or later (default 2).
    returning: Option<Returning>,
    /// N orders or more (default 2).
    repeat_buyer: Option<RepeatBuyer>,
    /// Rage clicks, searches without a product view, or long support reading.
    frustrated: Option<Frustrated>,
    /// The purchase probability at least `probability` (default 0.4).
    high_intent: Option<HighIntent>,
    /// This session came after `days` without a visit (default 180).
    lapsed: Option<Days>,
}

/// `profile.intents.cartAbandoned`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct CartAbandoned {
    /// Minutes without a checkout.
    minutes: Option<f64>,
}

/// A number of days.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct Days {
    /// Days.
    days: Option<f64>,
}

/// `profile.intents.returning`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct Returning {
    /// Sessions.
    sessions: Option<u32>,
}

/// `profile.intents.repeatBuyer`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct RepeatBuyer {
    /// Orders.
    orders: Option<u32>,
}

/// `profile.intents.frustrated`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct Frustrated {
    /// Rage clicks in this session (default 2).
    rage_clicks: Option<u32>,
    /// Searches in a row without a product view (default 3).
    searches: Option<u32>,
    /// Seconds of active time on support pages (default 120).
    support_seconds: Option<f64>,
    /// Path patterns of support pages (default `*/support*`, `*/help*`,
    /// `*/faq*`, `*/contact*`).
    support_pages: Option<Vec<String>>,
}

/// `profile.intents.highIntent`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct HighIntent {
    /// The purchase probability, 0 to 1.
    probability: Option<f64>,
}

/// `privacy`: consent for tracking, the browser's privacy signals, what
/// leaves the device (PRIVACY.md says it field by field).
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct Privacy {
    /// Query parameter names scrubbed from every URL and referrer (as
    /// `[redacted]`), on top of the built-in list (email, token, password,
    /// key, session, code, phone, ssn, name, address...).
    scrub_params: Option<Vec<String>>,
    /// Record a change of the likely journey stage as a `Journey Stage
    /// Changed` event (from, to, reasons). Default true. The profile itself
    /// never leaves the device.
    stage_events: Option<bool>,
    /// `"implied"` (the default): tracking runs until
    /// `sillage.consent({analytics: false})`. `"required"`: nothing is
    /// written to storage and nothing is sent until
    /// `sillage.consent({analytics: true})`; events recorded before wait in
    /// memory for this page (sent on agreement, dropped on refusal).
    consent: Option<ConsentMode>,
    /// What leaves the device: `"events"` (the default, the event stream),
    /// `"summary"` (only `Journey Stage Changed` and, once per session, the
    /// top 3 interests with noise as `Interests Shared`), `"none"`.
    send: Option<SendMode>,
    /// In `"summary"` mode, the probability (0 to 1, default 0.05) that each
    /// shared interest is replaced by a topic drawn at random from `topics`.
    #[schemars(range(min = 0.0, max = 1.0))]
    noise: Option<f64>,
    /// Treat `navigator.globalPrivacyControl` as `analytics: false` (default
    /// true); only `consent({analytics: true})` from the visitor's own
    /// action overrides it. Personalization on the device still runs.
    respect_gpc: Option<bool>,
    /// The same for Do Not Track (`navigator.doNotTrack === "1"`; default
    /// true).
    respect_dnt: Option<bool>,
}

/// `privacy.consent`.
#[derive(JsonSchema)]
#[allow(dead_code, non_camel_case_types)]
enum ConsentMode {
    implied,
    required,
}

/// `privacy.send`.
#[derive(JsonSchema)]
#[allow(dead_code, non_camel_case_types)]
enum SendMode {
    events,
    summary,
    none,
}

/// `channels`: site channel rules.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct Channels {
    /// Rules checked before the built-in classification.
    sources: Option<Vec<SourceRule>>,
    /// Other domains of the same site: referrers from them are internal.
    internal_domains: Option<Vec<String>>,
}

/// A site source rule: needs `host` or `source`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct SourceRule {
    /// Matches the referrer's host and its subdomains.
    host: Option<String>,
    /// Matches `utm_source` (case-insensitive).
    source: Option<String>,
    /// Matches `utm_medium` (case-insensitive).
    medium: Option<String>,
    /// The channel group to give.
    channel: ChannelName,
    /// Source name to report instead of the host.
    name: Option<String>,
}

struct ChannelName;

impl JsonSchema for ChannelName {
    fn schema_name() -> Cow<'static, str> {
        "ChannelName".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A channel group (GA4's, plus Offline and AI Assistant).",
            "enum": sillage_core::track::touchpoint::CHANNELS,
        })
    }
}

/// A topic given to pages whose path matches.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct TopicRule {
    /// The topic (normalised: lower-case, at most 32 characters).
    topic: String,
    /// A path pattern starting with `/`; `*` matches any run of characters.
    #[schemars(regex(pattern = r"^/"))]
    path: String,
}

/// A catalog item.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct CatalogItem {
    /// Unique id, named by `complements` and cart items.
    #[schemars(length(min = 1))]
    id: String,
    /// Title, shown as text.
    title: String,
    /// Link: http(s) or relative.
    url: String,
    /// Image URL: http(s) or relative.
    image: Option<String>,
    /// Price in the site's currency.
    #[schemars(range(min = 0))]
    price: Option<f64>,
    /// Topics, for the `interests` strategy.
    topics: Option<Vec<String>>,
    /// Tier for `upSell` (higher is better).
    #[schemars(range(min = 0, max = 1000))]
    tier: Option<u32>,
    /// Ids of items that go with this one (`crossSell`).
    complements: Option<Vec<String>>,
}

/// A personalization rule: exactly one of `variant` or `actions`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)]
struct Rule {
    /// Unique id, reported as `rule_id`.
    #[schemars(length(min = 1))]
    id: String,
    /// The slot it fills (`data-sillage-slot`): no `/`, no spaces.
    #[schemars(regex(pattern = r"^[^/\s]+$"))]
    slot: String,
    /// When it applies; always when absent.
    when: Option<Condition>,
    /// Show the page's `<template data-sillage-variant="slot/variant">`.
    #[schemars(regex(pattern = r"^[^/\s]+$"))]
    variant: Option<String>,
    /// Operations on the slot (1 to 20), applied in order.
    #[schemars(length(min = 1, max = 20))]
    actions: Option<Vec<Action>>,
    /// Higher is considered first. Default 0.
    priority: Option<f64>,
    /// Measure this rule against the default content.
    experiment: Option<Experiment>,
}

/// An experiment: GrowthBook hash v2 of the key and the anonymous id; sticky.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct Experiment {
    /// Experiment key: the hash seed and `experiment_id`.
    #[schemars(length(min = 1))]
    key: String,
    /// 2 to 10 variations, the control first. The control and the holdout
    /// see the default content; the others the rule's content, or their own.
    #[schemars(length(min = 2, max = 10))]
    variants: Vec<VariationDoc>,
    /// One weight per variation, adding up to 1. Default: equal.
    weights: Option<Vec<f64>>,
    /// Share of visitors in the experiment. Default 1.
    #[schemars(range(min = 0, max = 1))]
    coverage: Option<f64>,
    /// Share held out (default content, hashed separately). Default 0.05.
    #[schemars(range(min = 0, max = 1))]
    holdout: Option<f64>,
    /// Change it to discard sticky assignments and re-bucket. Default 0.
    #[schemars(range(min = 0))]
    bucket_version: Option<u32>,
}

/// A variation: its id, or `{id, variant | actions}` with its own content.
#[derive(JsonSchema)]
#[schemars(untagged, rename = "Variation")]
#[allow(dead_code)]
enum VariationDoc {
    /// The variation id.
    Id(String),
    /// A variation with its own content.
    Own(Variation),
}

/// A variation with its own content (not for the control).
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields, rename = "VariationObject")]
#[allow(dead_code)]
struct Variation {
    /// The variation id.
    id: String,
    /// Its variant template name.
    variant: Option<String>,
    /// Its actions.
    actions: Option<Vec<Action>>,
}

/// An action on the slot, or on `selector` inside it. Content from the
/// config is data: text is set as text, `html` is sanitised, attributes are
/// allow-listed.
#[derive(JsonSchema)]
#[schemars(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
enum Action {
    /// Replace the content with a variant template or sanitised HTML
    /// (exactly one of `variant` or `html`).
    Replace {
        /// A CSS selector inside the slot.
        selector: Option<String>,
        /// The variant template name (`slot/variant`).
        variant: Option<String>,
        /// HTML, sanitised with a strict allow-list (at most 16384 bytes).
        html: Option<String>,
    },
    /// Set the text (never HTML).
    SetText {
        /// A CSS selector inside the slot.
        selector: Option<String>,
        /// The text.
        text: String,
    },
    /// Set an allow-listed attribute (the allow-list of HTML from the config:
    /// `class`, `title`, `lang`, `dir`, `role`, `aria-*`; `href`, `target`,
    /// `rel` on links; `src`, `srcset`, `alt`, `width`, `height`, `loading`
    /// on images...); URLs only http(s) or relative (images: also `data:`
    /// PNG, GIF, JPEG, WebP, AVIF).
    SetAttribute {
        /// A CSS selector inside the slot.
        selector: Option<String>,
        /// The attribute name.
        name: String,
        /// Its value.
        value: String,
    },
    /// Add a class.
    AddClass {
        /// A CSS selector inside the slot.
        selector: Option<String>,
        /// The class name.
        class: String,
    },
    /// Remove a class.
    RemoveClass {
        /// A CSS selector inside the slot.
        selector: Option<String>,
        /// The class name.
        class: String,
    },
    /// Hide the element.
    Hide {
        /// A CSS selector inside the slot.
        selector: Option<String>,
    },
    /// Show the element.
    Show {
        /// A CSS selector inside the slot.
        selector: Option<String>,
    },
    /// Sort the children by the visitor's interest in their `data-sillage-topics`.
    Reorder {
        /// A CSS selector inside the slot.
        selector: Option<String>,
    },
    /// Fill from the catalog through the slot's `<template data-sillage-item>`.
    Recommend {
        /// A CSS selector inside the slot.
        selector: Option<String>,
        /// `crossSell` (complements of the cart's items), `upSell` (a higher
        /// tier in the same topic) or `interests` (the top interests).
        strategy: Strategy,
        /// How many items at most. Default 4.
        #[schemars(range(min = 1, max = 20))]
        limit: Option<u32>,
    },
}

/// How `recommend` picks items.
#[derive(JsonSchema)]
#[schemars(rename_all = "camelCase")]
#[allow(dead_code)]
enum Strategy {
    /// Complements of the cart's items.
    CrossSell,
    /// A higher tier in the same topic.
    UpSell,
    /// Items of the visitor's top interests.
    Interests,
}

/// A GrowthBook-style condition: attribute paths (`interests.running`) to
/// values or operator objects, plus `$and`, `$or`, `$nor`, `$not`. Data,
/// never code: there is no `$where`, `$expr` or `$function`.
struct Condition;

impl JsonSchema for Condition {
    fn schema_name() -> Cow<'static, str> {
        "Condition".into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let cond = g.subschema_for::<Condition>().to_value();
        let value = g.subschema_for::<ConditionValue>();
        let mut props = Map::new();
        for op in LOGICAL_OPS {
            let (s, d) = match *op {
                "$not" => (cond.clone(), "The condition must not hold."),
                "$and" => (
                    json!({"type": "array", "items": cond}),
                    "Every condition holds.",
                ),
                "$or" => (
                    json!({"type": "array", "items": cond}),
                    "At least one condition holds.",
                ),
                "$nor" => (
                    json!({"type": "array", "items": cond}),
                    "No condition holds.",
                ),
                other => panic!("no schema for logical operator {other}"),
            };
            let mut s = s;
            s["description"] = json!(d);
            props.insert(op.to_string(), s);
        }
        json_schema!({
            "description": "A GrowthBook-style condition: attribute paths (`interests.running`) to values or operator objects, plus `$and`, `$or`, `$nor`, `$not`. Data, never code: there is no `$where`, `$expr` or `$function`.",
            "type": "object",
            "properties": props,
            "propertyNames": {"anyOf": [{"enum": LOGICAL_OPS}, {"not": {"pattern": "^\\$"}}]},
            "additionalProperties": value,
        })
    }
}

/// What an attribute is compared with: a value, or an operator object.
struct ConditionValue;

impl JsonSchema for ConditionValue {
    fn schema_name() -> Cow<'static, str> {
        "ConditionValue".into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let ops = g.subschema_for::<Operators>();
        json_schema!({
            "description": "A value the attribute must equal, or an operator object.",
            "anyOf": [
                ops,
                {"type": ["string", "number", "boolean", "null", "array"]},
                {"type": "object", "propertyNames": {"not": {"pattern": "^\\$"}}},
            ],
        })
    }
}

/// An object of operators applied to one attribute; all must hold.
struct Operators;

impl JsonSchema for Operators {
    fn schema_name() -> Cow<'static, str> {
        "Operators".into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let value = g.subschema_for::<ConditionValue>().to_value();
        let cond = g.subschema_for::<Condition>().to_value();
        let scalar = json!({"type": ["string", "number"]});
        let array = json!({"type": "array"});
        let string = json!({"type": "string"});
        let mut props = Map::new();
        for op in VALUE_OPS {
            let (mut s, d) = match *op {
                "$eq" => (json!({}), "Equals (strictly)."),
                "$ne" => (json!({}), "Does not equal."),
                "$gt" => (scalar.clone(), "Greater than."),
                "$gte" => (scalar.clone(), "Greater than or equal."),
                "$lt" => (scalar.clone(), "Less than."),
                "$lte" => (scalar.clone(), "Less than or equal."),
                "$in" => (
                    array.clone(),
                    "Is one of (or, for an array attribute, shares one).",
                ),
                "$nin" => (array.clone(), "Is none of."),
                "$ini" => (array.clone(), "`$in`, ignoring case."),
                "$nini" => (array.clone(), "`$nin`, ignoring case."),
                "$all" => (array.clone(), "The array attribute holds all of these."),
                "$alli" => (array.clone(), "`$all`, ignoring case."),
                "$elemMatch" => (
                    json!({"anyOf": [cond.clone(), value.clone()]}),
                    "Some element of the array attribute matches.",
                ),
                "$size" => (value.clone(), "The array attribute's length matches."),
                "$exists" => (
                    json!({"type": "boolean"}),
                    "The attribute is present (or absent).",
                ),
                "$type" => (
                    json!({"enum": ["string", "number", "boolean", "object", "array", "null"]}),
                    "The attribute's JSON type.",
                ),
                "$regex" => (
                    string.clone(),
                    "Matches this JavaScript regular expression.",
                ),
                "$regexi" => (string.clone(), "`$regex`, ignoring case."),
                "$not" => (value.clone(), "The operators must not hold."),
                "$veq" => (string.clone(), "Version equals (`1.2.3`)."),
                "$vne" => (string.clone(), "Version differs."),
                "$vgt" => (string.clone(), "Version greater than."),
                "$vgte" => (string.clone(), "Version greater than or equal."),
                "$vlt" => (string.clone(), "Version less than."),
                "$vlte" => (string.clone(), "Version less than or equal."),
                "$inGroup" => (string.clone(), "Is in this saved group."),
                "$notInGroup" => (string.clone(), "Is not in this saved group."),
                other => panic!("no schema for operator {other}"),
            };
            s["description"] = json!(d);
            props.insert(op.to_string(), s);
        }
        json_schema!({
            "description": "Operators applied to one attribute; all must hold.",
            "type": "object",
            "properties": props,
            "additionalProperties": false,
            "minProperties": 1,
        })
    }
}
