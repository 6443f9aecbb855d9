//! `sillage eval`: evaluate a targeting condition against attributes, the way
//! the page will.
//!
//! Why a CLI for it: site owners debug "why did this visitor (not) get the
//! variant?" by trying a condition against a set of attributes; `--batch` lets
//! them (and CI) replay many recorded cases in one process, one answer per line,
//! where a bad line reports an error and the batch goes on.

use sillage_core::decide::condition::{check_condition, Condition};
use sillage_core::native_js::NativeJs;
use sillage_core::support::json::Json;
use std::io::{BufRead, Write};

#[derive(clap::Args)]
pub struct Args {
    /// The condition, as JSON (`{"country": {"$in": ["FR", "BE"]}}`).
    #[arg(required_unless_present = "batch")]
    condition: Option<String>,
    /// The attributes, as JSON (`{"country": "FR"}`).
    #[arg(required_unless_present = "batch")]
    attributes: Option<String>,
    /// Saved groups for `$inGroup`/`$notInGroup`, as JSON (`{"beta": ["u1"]}`).
    #[arg(long, value_name = "SAVED_GROUPS")]
    groups: Option<String>,
    /// Read JSON lines of {"condition", "attributes", "savedGroups"} on stdin
    /// and write one answer per line (`error: line N: ...` for a bad line; the
    /// batch goes on).
    #[arg(long, conflicts_with_all = ["condition", "attributes", "groups"])]
    batch: bool,
}

/// Runs `sillage eval`; returns the exit code.
pub fn run(args: &Args) -> i32 {
    if args.batch {
        return run_batch();
    }
    let (Some(condition), Some(attributes)) = (&args.condition, &args.attributes) else {
        // Unreachable: clap requires both without --batch.
        eprintln!("error: expected CONDITION and ATTRIBUTES");
        return 2;
    };
    let parsed = (|| {
        let c = parse_arg("CONDITION", condition)?;
        let a = parse_arg("ATTRIBUTES", attributes)?;
        let g = match &args.groups {
            Some(t) => parse_arg("SAVED_GROUPS", t)?,
            None => Json::obj(),
        };
        Ok::<_, String>((c, a, g))
    })();
    let (c, a, g) = match parsed {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let host = NativeJs::new();
    for d in check_condition(&c, "", &host) {
        eprintln!("warning: {}", d.render());
    }
    let (cond, _) = Condition::parse(&c, &host);
    println!("{}", cond.eval(&a, &g, &host));
    0
}

fn parse_arg(name: &str, text: &str) -> Result<Json, String> {
    serde_json::from_str(text).map_err(|e| format!("{name} is not valid JSON: {e}"))
}

/// One answer per input line, in order; errors are reported in place.
fn run_batch() -> i32 {
    let host = NativeJs::new();
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for (n, line) in stdin.lock().lines().enumerate() {
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: reading stdin: {e}");
                return 1;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let answer = match eval_line(&line, &host) {
            Ok(b) => if b { "true" } else { "false" }.to_string(),
            Err(e) => format!("error: line {}: {e}", n + 1),
        };
        if writeln!(out, "{answer}").is_err() {
            return 1;
        }
    }
    if out.flush().is_err() {
        return 1;
    }
    0
}

fn eval_line(line: &str, host: &NativeJs) -> Result<bool, String> {
    let v: Json = serde_json::from_str(line).map_err(|e| format!("not valid JSON: {e}"))?;
    if !matches!(v, Json::Obj(_)) {
        return Err(String::from("expected an object with \"condition\""));
    }
    let condition = v.get("condition").ok_or("missing \"condition\"")?;
    let attributes = v.get("attributes").cloned().unwrap_or_else(Json::obj);
    let groups = v.get("savedGroups").cloned().unwrap_or_else(Json::obj);
    let (cond, _) = Condition::parse(condition, host);
    Ok(cond.eval(&attributes, &groups, host))
}
