//! `sillage touchpoint URL [--referrer R] [--config C]`: how a landing is
//! classified, with exactly the core code the browser runs, so site owners
//! can debug their channel rules (`channels` in the config).

use sillage_core::track::touchpoint::{classify, parse_channels, ChannelConfig};

#[derive(clap::Args)]
pub struct Args {
    /// The landing page's absolute http(s) URL, with its query.
    url: String,
    /// The referrer (document.referrer); none by default.
    #[arg(long, value_name = "URL")]
    referrer: Option<String>,
    /// A config whose `channels` rules (sources, internalDomains) apply.
    #[arg(long, value_name = "CONFIG.json")]
    config: Option<String>,
}

/// Runs the subcommand; returns the exit code.
pub fn run(args: &Args) -> i32 {
    let Args {
        url,
        referrer,
        config,
    } = args;
    if sillage_core::support::url::parse(url).is_none() {
        eprintln!("error: URL: not an absolute http(s) URL: {url}");
        return 2;
    }
    let mut channels = ChannelConfig::default();
    if let Some(path) = config {
        let doc = match crate::read_json(path) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("error: {e}");
                return 2;
            }
        };
        if let Some(c) = doc.get("channels") {
            let mut diags = Vec::new();
            channels = parse_channels(c, &mut diags);
            for d in &diags {
                eprintln!("warning: {path}: {}", d.render());
            }
        }
    }
    let t = classify(url, referrer.as_deref().unwrap_or_default(), &channels);
    let mut out = t.to_json();
    if let Some(c) = t.campaign.to_json() {
        out.set("campaignFields", c);
    }
    match serde_json::to_string_pretty(&out) {
        Ok(s) => {
            println!("{s}");
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}
