//! `sillage check CONFIG.json`: every problem in a config, with its JSON path.
//!
//! Why a CLI: the page reports config problems only as console warnings, and
//! a bad rule is skipped silently for the visitor; site owners run this in
//! their own CI so a typo fails the build instead.
//!
//! Two kinds of problem. Errors come from the config parser (what the page
//! cannot use) and from `core::lint::declared` (bad entries of the
//! `attributes` list, which only this tool reads): exit 1. Warnings come from `core::lint` (what parses but
//! cannot do what was meant: an unknown attribute, a value outside a closed
//! vocabulary); they pass unless `--deny-warnings`. The parser also reports
//! one of them itself, so the page's console shows it: a near-miss event
//! name in the stage model. A parser diagnostic that the lint reports too is
//! printed once, as the warning it is.

use sillage_core::config;
use sillage_core::decide::lint;
use sillage_core::native_js::NativeJs;

/// `sillage check --help`'s exit codes.
pub const EXIT_CODES: &str = "\
Exit codes:
  0  no errors (warnings are printed but pass, unless --deny-warnings)
  1  errors; or warnings with --deny-warnings
  2  bad usage, or CONFIG.json cannot be read or is not JSON";

#[derive(clap::Args)]
pub struct Args {
    /// The config document to check.
    #[arg(value_name = "CONFIG.json")]
    config: String,
    /// Exit 1 on warnings too, so CI fails on them.
    #[arg(long)]
    deny_warnings: bool,
}

fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// Runs `sillage check`; returns the exit code.
pub fn run(args: &Args) -> i32 {
    let path = &args.config;
    let doc = match crate::read_json(path) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let host = NativeJs::new();
    let (cfg, mut errors) = config::parse(&doc, &host);
    lint::declared(&doc, &mut errors);
    let warnings = lint::check(&doc, &cfg, &host);
    errors.retain(|d| !warnings.contains(d));
    for d in &errors {
        println!("{}", d.render());
    }
    for w in &warnings {
        println!("warning: {}", w.render());
    }
    if !errors.is_empty() {
        let mut summary = format!(
            "{path}: {} (the rules and audiences involved are skipped)",
            plural(errors.len(), "error")
        );
        if !warnings.is_empty() {
            summary.push_str(&format!(" and {}", plural(warnings.len(), "warning")));
        }
        eprintln!("{summary}");
        return 1;
    }
    if !warnings.is_empty() && args.deny_warnings {
        eprintln!(
            "{path}: {}, denied by --deny-warnings",
            plural(warnings.len(), "warning")
        );
        return 1;
    }
    let n = |k: &str| {
        doc.get(k)
            .and_then(|v| v.as_arr().map(|a| a.len()).or(v.as_obj().map(|o| o.len())))
            .unwrap_or(0)
    };
    let mut summary = format!(
        "{path}: ok ({} rules in {} slots, {} audiences, {} catalog items)",
        cfg.rules.rules.len(),
        cfg.rules.slots().count(),
        n("audiences"),
        cfg.catalog.len()
    );
    if !warnings.is_empty() {
        summary.push_str(&format!(", {}", plural(warnings.len(), "warning")));
    }
    println!("{summary}");
    0
}
