//! `sillage touchpoint URL [--referrer R] [--config C]`: how a landing is
//! classified, with exactly the core code the browser runs, so site owners
//! can debug their channel rules (`channels` in the config).

use sillage::core::touchpoint::{classify, parse_channels, ChannelConfig};

const USAGE: &str = "usage: sillage touchpoint URL [--referrer REFERRER] [--config CONFIG.json]";

/// Runs the subcommand; returns the exit code.
pub fn run(args: &[String]) -> i32 {
    let mut url = None;
    let mut referrer = String::new();
    let mut config = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--referrer" | "--config" => {
                let Some(v) = it.next() else {
                    eprintln!("error: {a} needs a value\n{USAGE}");
                    return 2;
                };
                if a == "--referrer" {
                    referrer = v.clone();
                } else {
                    config = Some(v.clone());
                }
            }
            other if other.starts_with("--") => {
                eprintln!("error: unknown option {other}\n{USAGE}");
                return 2;
            }
            other if url.is_none() => url = Some(other.to_string()),
            other => {
                eprintln!("error: unexpected argument {other}\n{USAGE}");
                return 2;
            }
        }
    }
    let Some(url) = url else {
        eprintln!("{USAGE}");
        return 2;
    };
    if sillage::core::url::parse(&url).is_none() {
        eprintln!("error: URL: not an absolute http(s) URL: {url}");
        return 2;
    }
    let mut channels = ChannelConfig::default();
    if let Some(path) = config {
        let doc = match crate::read_json(&path) {
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
    let t = classify(&url, &referrer, &channels);
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
