//! `sillage`: the site owner's command-line tool.

mod check;
mod eval;
mod explain;
mod schema;
mod touchpoint;

use sillage::core::json::Json;

const USAGE: &str = "usage: sillage <command> ...

commands:
  check CONFIG.json                  report every problem in a config (exit 1 if any)
  explain CONFIG.json PROFILE.json [--page URL] [--attributes JSON] [--json]
                                     what each slot shows this visitor, and why
  eval CONDITION ATTRIBUTES [--groups SAVED_GROUPS] | eval --batch   evaluate a targeting condition
  schema                             print the config's JSON Schema
  touchpoint URL [--referrer R] [--config C]   classify a landing (channel, source, medium, campaign)";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let code = match args.get(1).map(String::as_str) {
        Some("check") => check::run(&args[2..]),
        Some("explain") => explain::run(&args[2..]),
        Some("eval") => eval::run(&args[2..]),
        Some("schema") => schema::run(&args[2..]),
        Some("touchpoint") => touchpoint::run(&args[2..]),
        _ => {
            eprintln!("{USAGE}");
            2
        }
    };
    std::process::exit(code);
}

/// Reads a JSON file into the core's value, naming the file in errors.
pub fn read_json(path: &str) -> Result<Json, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{path} is not valid JSON: {e}"))
}
