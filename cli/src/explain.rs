//! `sillage explain CONFIG.json PROFILE.json`: what each slot would show
//! this visitor, and why, computed by the same core code as the page.
//!
//! Why: "why did (not) this visitor get the variant?" is the first question
//! about any rule; the answer names, for every rule considered, the first
//! top-level clause of its `when` that failed, with the attribute's value.

use sillage::core::attributes::{self, Inputs, LocalTime, SessionInfo};
use sillage::core::config;
use sillage::core::json::Json;
use sillage::core::rules::{decide, Assignments, Ctx, Preview, Shown, Verdict};
use sillage::core::touchpoint::{classify, ChannelConfig};
use sillage::native_js::NativeJs;

const USAGE: &str = "usage: sillage explain CONFIG.json PROFILE.json [--page URL] [--referrer URL]
       [--attributes JSON] [--consent JSON] [--device mobile|tablet|desktop] [--id ANONYMOUS_ID]
       [--now EPOCH_MS] [--force SLOT/VARIANT] [--stage STAGE] [--json]";

struct Opts {
    config: String,
    profile: String,
    page: String,
    referrer: String,
    attributes: Json,
    consent: Json,
    device: String,
    id: Option<String>,
    now: f64,
    query: String,
    json: bool,
}

fn opts(args: &[String]) -> Result<Opts, String> {
    let mut positional = Vec::new();
    let mut o = Opts {
        config: String::new(),
        profile: String::new(),
        page: String::from("https://example.com/"),
        referrer: String::new(),
        attributes: Json::Null,
        consent: Json::obj().with("personalization", true),
        device: String::from("desktop"),
        id: None,
        now: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_millis() as f64),
        query: String::new(),
        json: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--page" => o.page = value()?,
            "--referrer" => o.referrer = value()?,
            "--attributes" => o.attributes = json_arg("--attributes", &value()?)?,
            "--consent" => o.consent = json_arg("--consent", &value()?)?,
            "--device" => o.device = value()?,
            "--id" => o.id = Some(value()?),
            "--now" => {
                let v = value()?;
                o.now = v.parse().map_err(|_| format!("--now: not a number: {v}"))?
            }
            "--force" => o.query.push_str(&format!("&sillage_force={}", value()?)),
            "--stage" => o.query.push_str(&format!("&sillage_stage={}", value()?)),
            "--json" => o.json = true,
            other if other.starts_with("--") => return Err(format!("unknown option {other}")),
            other => positional.push(other.to_string()),
        }
    }
    let [config, profile] = <[String; 2]>::try_from(positional)
        .map_err(|_| String::from("expected CONFIG.json and PROFILE.json"))?;
    o.config = config;
    o.profile = profile;
    Ok(o)
}

fn json_arg(name: &str, text: &str) -> Result<Json, String> {
    serde_json::from_str(text).map_err(|e| format!("{name} is not valid JSON: {e}"))
}

/// Runs `sillage explain`; returns the exit code.
pub fn run(args: &[String]) -> i32 {
    let o = match opts(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}\n{USAGE}");
            return 2;
        }
    };
    let (doc, profile) = match (crate::read_json(&o.config), crate::read_json(&o.profile)) {
        (Ok(d), Ok(p)) => (d, p),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let host = NativeJs::new();
    let (cfg, diags) = config::parse(&doc, &host);
    for d in &diags {
        eprintln!("warning: {}: {}", o.config, d.render());
    }
    let mut warnings = Vec::new();
    let preview = Preview::from_query(&o.query, true, &mut warnings);
    let channels = doc
        .get("channels")
        .map(|c| sillage::core::touchpoint::parse_channels(c, &mut Vec::new()))
        .unwrap_or_else(ChannelConfig::default);
    let landing = classify(&o.page, &o.referrer, &channels);
    let index = profile
        .get("sessions")
        .and_then(Json::as_f64)
        .unwrap_or(1.0)
        .max(1.0);
    let days = (o.now / 86_400_000.0).floor() as i64;
    let (y, m, d) = sillage::core::time::civil_from_days(days);
    let date = format!("{y:04}-{m:02}-{d:02}");
    let inputs = Inputs {
        profile: &profile,
        session: Some(SessionInfo {
            index: index as u32,
            pageviews: 1,
            started: o.now,
            channel: Some(landing.channel),
            campaign: Some(&landing.campaign),
        }),
        page_url: &o.page,
        referrer: &o.referrer,
        device: &o.device,
        time: Some(LocalTime {
            hour: ((o.now / 3_600_000.0).floor() as i64).rem_euclid(24) as u8,
            weekday: (days + 4).rem_euclid(7) as u8,
            date: &date,
        }),
        consent: &o.consent,
        custom: &o.attributes,
        stage: preview.stage.as_deref(),
        now: o.now,
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
        now: o.now,
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
