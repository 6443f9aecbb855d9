//! `sillage`: the site owner's command-line tool.
//!
//! The arguments are parsed by clap (derive), so every command has `--help`
//! (and `-h`, and `sillage help <command>`) and `--version`, printed on
//! stdout with exit code 0; a usage error names the argument on stderr and
//! exits 2.

mod check;
mod eval;
mod explain;
mod schema;
mod touchpoint;

use clap::{Parser, Subcommand};
use sillage_core::support::json::Json;

/// The exit codes of `sillage` as a whole.
const ALL_EXIT_CODES: &str = "\
Exit codes:
  0  done (check: no errors; warnings pass unless --deny-warnings)
  1  check found errors, or warnings with --deny-warnings; an I/O error
  2  bad usage, or an input that cannot be read or is not JSON";

/// The exit codes of the commands other than `check`.
const EXIT_CODES: &str = "\
Exit codes:
  0  done
  1  an I/O error (reading stdin, writing stdout)
  2  bad usage, or an input that cannot be read or is not JSON";

/// Debug Sillage's channel rules, check configs and explain personalization
/// decisions, with the same core code the browser runs.
#[derive(Parser)]
#[command(
    name = "sillage",
    version,
    propagate_version = true,
    arg_required_else_help = true,
    after_help = ALL_EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Classify a landing: channel, source, medium, campaign, click id.
    ///
    /// Prints, as JSON, how the page classifies a visit that lands on URL
    /// from REFERRER: the channel group (GA4-style, plus Offline and AI
    /// Assistant), source, medium, campaign, term, content, paid, click-id
    /// network and search engine.
    #[command(after_help = EXIT_CODES)]
    Touchpoint(touchpoint::Args),
    /// Evaluate a targeting condition against attributes.
    ///
    /// Prints true or false for a GrowthBook-compatible condition, the way
    /// the page evaluates it. Suspicious conditions (an unknown operator)
    /// get a warning on stderr.
    #[command(after_help = EXIT_CODES)]
    Eval(eval::Args),
    /// Report every problem in a config, with its JSON path.
    ///
    /// Errors are what the page cannot use: an unknown key or operator, a
    /// bad value, an unknown audience (the rules and audiences involved are
    /// skipped). Each is printed on stdout as `path: message`.
    ///
    /// Warnings are what parses but cannot do what was meant: a condition on
    /// an attribute that is neither built in nor declared in the config's
    /// `attributes` (it is always null), a value outside a closed vocabulary
    /// (stage names, device classes, channel groups: the condition can
    /// never match), a stage-model event name close to a journey event
    /// (`Cart Viewd`). Each is printed as `warning: path: message`, with a
    /// did-you-mean when a known name is close.
    #[command(after_help = check::EXIT_CODES)]
    Check(check::Args),
    /// Show what each slot would display for a visitor, and why.
    ///
    /// For each slot: the variant, actions or default it shows, the rule
    /// (and experiment variation) that decided it, and for each rule
    /// considered `matched` or the clause that failed with the value it saw.
    /// Config problems are printed on stderr as warnings.
    #[command(after_help = EXIT_CODES)]
    Explain(explain::Args),
    /// Print the config's JSON Schema (www/sillage.schema.json).
    #[command(after_help = EXIT_CODES)]
    Schema,
}

fn main() {
    let code = match Cli::parse().command {
        Command::Touchpoint(a) => touchpoint::run(&a),
        Command::Eval(a) => eval::run(&a),
        Command::Check(a) => check::run(&a),
        Command::Explain(a) => explain::run(&a),
        Command::Schema => schema::run(),
    };
    std::process::exit(code);
}

/// Reads a JSON file into the core's value, naming the file in errors.
pub fn read_json(path: &str) -> Result<Json, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{path} is not valid JSON: {e}"))
}

/// A JSON argument, for clap's `value_parser`.
pub fn json_arg(text: &str) -> Result<Json, String> {
    serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))
}
