//! `sillage explain CONFIG.json PROFILE.json`: what each slot would show
//! this visitor, and why, computed by the same core code as the page.
//!
//! Why: "why did (not) this visitor get the variant?" is the first question
//! about any rule; the answer names, for every rule considered, the first
//! top-level clause of its `when` that failed, with the attribute's value.

use clap::builder::PossibleValuesParser;
use sillage_core::config;
use sillage_core::decide::attributes::{self, Inputs, LocalTime, SessionInfo, DEVICES, STAGES};
use sillage_core::decide::condition::JsHost;
use sillage_core::decide::explain::Explanation;
use sillage_core::decide::lint;
use sillage_core::decide::rules::{decide, Assignments, Ctx, Preview};
use sillage_core::native_js::NativeJs;
use sillage_core::support::json::Json;
use sillage_core::track::touchpoint::{classify, ChannelConfig};

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
        .map(|c| sillage_core::track::touchpoint::parse_channels(c, &mut Vec::new()))
        .unwrap_or_else(ChannelConfig::default);
    let landing = classify(&o.page, referrer, &channels);
    let index = profile
        .get("sessions")
        .and_then(Json::as_f64)
        .unwrap_or(1.0)
        .max(1.0);
    // The decision's local time is UTC here (the page uses its own zone).
    let (hour, weekday, date) = sillage_core::support::time::local_time(now, 0.0);
    let view = sillage_core::profile::view::ProfileView::from_snapshot(&profile);
    let inputs = Inputs {
        profile: &view,
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
            hour,
            weekday,
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
    let number = |n: f64, out: &mut String| host.push_number(n, out);
    let explanation = Explanation::new(&decision, &attrs, Some(&doc), &number);
    print!("{}", explanation.text(&number));
    0
}
