//! `sillage explain CONFIG.json PROFILE.json`: what each slot would show
//! this visitor, and why, computed by the same core code as the page.
//!
//! Why: "why did (not) this visitor get the variant?" is the first question
//! about any rule; the answer names, for every rule considered, the first
//! top-level clause of its `when` that failed, with the attribute's value.

use clap::builder::PossibleValuesParser;
use sillage::core::attributes::{self, Inputs, LocalTime, SessionInfo, DEVICES, STAGES};
use sillage::core::config;
use sillage::core::json::Json;
use sillage::core::lint;
use sillage::core::rules::{decide, Assignments, Ctx, Preview, Shown, Verdict};
use sillage::core::touchpoint::{classify, ChannelConfig};
use sillage::native_js::NativeJs;

#[derive(clap::Args)]
pub struct Args {
    /// The config document.
    #[arg(value_name = "CONFIG.json")]
    config: String,
    /// The visitor's profile snapshot (`sillage.profile()`'s object; its
    /// `anonymousId` and `assignments` are used when present).
    #[arg(value_name = "PROFILE.json")]
    profile: String,
    /// The page the visitor is on.
    #[arg(long, value_name = "URL", default_value = "https://example.com/")]
    page: String,
    /// The page's referrer (the session's landing touchpoint comes from it).
    #[arg(long, value_name = "URL")]
    referrer: Option<String>,
    /// The site's own attributes (`sillage.attributes({...})`), as JSON.
    #[arg(long, value_name = "JSON", value_parser = crate::json_arg)]
    attributes: Option<Json>,
    /// The consent choices, as JSON [default: {"personalization": true}].
    #[arg(long, value_name = "JSON", value_parser = crate::json_arg)]
    consent: Option<Json>,
    /// The device class.
    #[arg(long, default_value = "desktop", value_parser = PossibleValuesParser::new(DEVICES))]
    device: String,
    /// The anonymous id experiments hash [default: the profile's anonymousId].
    #[arg(long, value_name = "ANONYMOUS_ID")]
    id: Option<String>,
    /// The time of the decision, in epoch milliseconds [default: now].
    #[arg(long, value_name = "EPOCH_MS")]
    now: Option<f64>,
    /// Preview a variant in a slot, as `?sillage_force` does (repeatable).
    #[arg(long, value_name = "SLOT/VARIANT")]
    force: Vec<String>,
    /// Simulate a journey stage, as `?sillage_stage` does.
    #[arg(long, value_parser = PossibleValuesParser::new(STAGES))]
    stage: Option<String>,
    /// Print the decision and the attributes as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `sillage explain`; returns the exit code.
pub fn run(o: &Args) -> i32 {
    let now = o.now.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_millis() as f64)
    });
    let referrer = o.referrer.as_deref().unwrap_or_default();
    let custom = o.attributes.clone().unwrap_or(Json::Null);
    let consent = o
        .consent
        .clone()
        .unwrap_or_else(|| Json::obj().with("personalization", true));
    let mut query = String::new();
    for f in &o.force {
        query.push_str("&sillage_force=");
        query.push_str(f);
    }
    if let Some(s) = &o.stage {
        query.push_str("&sillage_stage=");
        query.push_str(s);
    }
    let (doc, profile) = match (crate::read_json(&o.config), crate::read_json(&o.profile)) {
        (Ok(d), Ok(p)) => (d, p),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let host = NativeJs::new();
    let (cfg, mut diags) = config::parse(&doc, &host);
    lint::declared(&doc, &mut diags);
    let lints = lint::check(&doc, &cfg, &host);
    for d in diags.iter().filter(|d| !lints.contains(d)).chain(&lints) {
        eprintln!("warning: {}: {}", o.config, d.render());
    }
    let mut warnings = Vec::new();
    let preview = Preview::from_query(&query, true, &mut warnings);
    let channels = doc
        .get("channels")
        .map(|c| sillage::core::touchpoint::parse_channels(c, &mut Vec::new()))
        .unwrap_or_else(ChannelConfig::default);
    let landing = classify(&o.page, referrer, &channels);
    let index = profile
        .get("sessions")
        .and_then(Json::as_f64)
        .unwrap_or(1.0)
        .max(1.0);
    let days = (now / 86_400_000.0).floor() as i64;
    let (y, m, d) = sillage::core::time::civil_from_days(days);
    let date = format!("{y:04}-{m:02}-{d:02}");
    let inputs = Inputs {
        profile: &profile,
        session: Some(SessionInfo {
            index: index as u32,
            pageviews: 1,
            started: now,
            channel: Some(landing.channel),
            campaign: Some(&landing.campaign),
        }),
        page_url: &o.page,
        referrer,
        device: &o.device,
        time: Some(LocalTime {
            hour: ((now / 3_600_000.0).floor() as i64).rem_euclid(24) as u8,
            weekday: (days + 4).rem_euclid(7) as u8,
            date: &date,
        }),
        consent: &consent,
        custom: &custom,
        stage: preview.stage.as_deref(),
        now,
    };
    let attrs = attributes::build(&inputs, &cfg.rules.audiences, &host, &mut warnings);
    for w in &warnings {
        eprintln!("warning: {}", w.render());
    }
    let assignments = profile
        .get("assignments")
        .map(Assignments::from_json)
        .unwrap_or_default();
    let id =
        o.id.clone()
            .or_else(|| {
                profile
                    .get("anonymousId")
                    .and_then(Json::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_default();
    let ctx = Ctx {
        anonymous_id: &id,
        assignments: &assignments,
        preview: &preview,
        host: &host,
        now,
    };
    let decision = decide(&attrs, &cfg.rules, &ctx);
    if o.json {
        let out = decision.to_json().with("attributes", attrs);
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
        return 0;
    }
    if decision.slots.is_empty() {
        println!("no slots: the config has no usable rules");
    }
    for s in &decision.slots {
        let shown = match s.shown {
            Shown::Default => String::from("the default content"),
            Shown::Variant(v) => format!("variant \"{v}\" (template {}/{v})", s.slot),
            Shown::Actions(a) => {
                format!("{} action{}", a.len(), if a.len() == 1 { "" } else { "s" })
            }
        };
        let by = match (s.forced, s.rule, &s.experiment) {
            (true, _, _) => String::from(" (forced by --force)"),
            (_, Some(r), Some(e)) => format!(
                " by rule {}, experiment {} variation {} \"{}\"{}{}",
                r.id,
                e.key,
                e.variation,
                e.variation_id,
                if e.in_holdout {
                    ", in the holdout"
                } else if e.variation == 0 {
                    ", the control"
                } else {
                    ""
                },
                if e.sticky {
                    ", sticky"
                } else {
                    ", assigned now"
                }
            ),
            (_, Some(r), None) => format!(" by rule {}", r.id),
            (_, None, _) => String::from(": no rule matched"),
        };
        println!("{}: {shown}{by}", s.slot);
        for r in &s.why {
            let rule_json = doc
                .get("rules")
                .and_then(|rs| rs.as_arr())
                .and_then(|rs| rs.get(r.rule.position));
            let why = match r.verdict {
                Verdict::Matched => String::from("matched"),
                Verdict::Invalid => String::from("its condition cannot be evaluated"),
                Verdict::NotInExperiment => {
                    String::from("matched, but this visitor is outside the experiment's coverage")
                }
                Verdict::Failed(key) => {
                    let clause = rule_json
                        .and_then(|j| j.get_path("when"))
                        .and_then(|w| w.get(key))
                        .map(|c| serde_json::to_string(c).unwrap_or_default())
                        .unwrap_or_default();
                    if key.starts_with('$') {
                        format!("failed: {key} {clause}")
                    } else {
                        let value = attrs.get_path(key).map_or(String::from("missing"), |v| {
                            serde_json::to_string(v).unwrap_or_default()
                        });
                        format!("failed: {key} {clause} (is {value})")
                    }
                }
            };
            println!("  rule {} (priority {}): {why}", r.rule.id, r.rule.priority);
        }
    }
    0
}
