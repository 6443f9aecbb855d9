//! `sillage check CONFIG.json`: every problem in a config, with its JSON path.
//!
//! Why a CLI: the page reports config problems only as console warnings, and
//! a bad rule is skipped silently for the visitor; site owners run this in
//! their own CI so a typo fails the build instead (exit 1 on any problem).

use sillage::core::config;
use sillage::native_js::NativeJs;

const USAGE: &str = "usage: sillage check CONFIG.json";

/// Runs `sillage check`; returns the exit code.
pub fn run(args: &[String]) -> i32 {
    let [path] = args else {
        eprintln!("{USAGE}");
        return 2;
    };
    let doc = match crate::read_json(path) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let host = NativeJs::new();
    let (cfg, diags) = config::parse(&doc, &host);
    for d in &diags {
        println!("{}", d.render());
    }
    if !diags.is_empty() {
        eprintln!(
            "{path}: {} problem{} (the rules and audiences involved are skipped)",
            diags.len(),
            if diags.len() == 1 { "" } else { "s" }
        );
        return 1;
    }
    let n = |k: &str| {
        doc.get(k)
            .and_then(|v| v.as_arr().map(|a| a.len()).or(v.as_obj().map(|o| o.len())))
            .unwrap_or(0)
    };
    println!(
        "{path}: ok ({} rules in {} slots, {} audiences, {} catalog items)",
        cfg.rules.rules.len(),
        cfg.rules.slots().count(),
        n("audiences"),
        cfg.catalog.len()
    );
    0
}
