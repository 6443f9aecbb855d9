//! `sillage-collector report ...` and `sillage-collector fixture ...`.

use std::path::PathBuf;
use std::time::Instant;

use rusqlite::{Connection, OpenFlags};

use super::fixture::{self, Shop, Writer};
use super::{build_with, html, json, Range, Settings};

/// Usage of `report`.
pub const REPORT_USAGE: &str =
    "usage: sillage-collector report [--db PATH] [--out PATH] [--json PATH]
                                [--from DATE] [--to DATE] [--config PATH]

  --db PATH      the collector's SQLite file (default ./sillage-events.db), opened read-only
  --out PATH     the HTML report (default report.html; - for stdout)
  --json PATH    also write the numbers as JSON (- for stdout)
  --from DATE    first day (YYYY-MM-DD, UTC) or time (YYYY-MM-DDTHH:MM:SSZ) included
  --to DATE      last day included (or a time, excluded)
  --config PATH  the site's Sillage config: experiments' control and weights";

/// Usage of `fixture`.
pub const FIXTURE_USAGE: &str =
    "usage: sillage-collector fixture --db PATH [--events N] [--seed S] [--end YYYY-MM-DD] [--days D]
                                 [--write-config PATH]
       sillage-collector fixture --db PATH --known journeys|experiments [--write-config PATH]

  Writes sample events into a collector database, to try the report or to
  time it: a simulated shop (about N events, default 50,000, over the D days
  (default 42) up to --end), or the tests' hand-written data (--known).
  --write-config writes the Sillage config its experiments run with (for
  `report --config`).";

fn flags<'a>(args: &'a [String], known: &[&str]) -> Result<Vec<(&'a str, &'a str)>, String> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if known.contains(&a.as_str()) {
            let v = it.next().ok_or_else(|| format!("{a} needs a value"))?;
            out.push((a.as_str(), v.as_str()));
        } else {
            return Err(format!("unknown argument: {a}"));
        }
    }
    Ok(out)
}

fn write_out(path: &str, text: &str) -> Result<(), String> {
    if path == "-" {
        print!("{text}");
        return Ok(());
    }
    std::fs::write(path, text).map_err(|e| format!("cannot write {path}: {e}"))
}

/// `report`: returns the exit code.
pub fn report(args: &[String]) -> i32 {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{REPORT_USAGE}");
        return 0;
    }
    match run_report(args) {
        Ok(()) => 0,
        Err((code, e)) => {
            eprintln!("sillage-collector report: {e}");
            if code == 2 {
                eprintln!("{REPORT_USAGE}");
            }
            code
        }
    }
}

fn run_report(args: &[String]) -> Result<(), (i32, String)> {
    let usage = |e: String| (2, e);
    let fl = flags(
        args,
        &["--db", "--out", "--json", "--from", "--to", "--config"],
    )
    .map_err(usage)?;
    let get = |k: &str| fl.iter().rev().find(|(f, _)| *f == k).map(|(_, v)| *v);
    let range = Range::parse(get("--from"), get("--to")).map_err(|e| usage(e.0))?;
    let db = PathBuf::from(get("--db").unwrap_or("sillage-events.db"));
    let mut settings = Settings::default();
    if let Some(path) = get("--config") {
        let text =
            std::fs::read_to_string(path).map_err(|e| (1, format!("cannot read {path}: {e}")))?;
        let doc: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| (1, format!("{path} is not valid JSON: {e}")))?;
        let (s, problems) = Settings::from_config(&doc);
        for p in problems {
            eprintln!("sillage-collector report: warning: {path}: {p}");
        }
        settings = s;
    }
    if !db.is_file() {
        return Err((1, format!("{}: no such database", db.display())));
    }
    let conn = Connection::open_with_flags(&db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| (1, format!("cannot open {}: {e}", db.display())))?;
    let t = Instant::now();
    let report = build_with(&conn, &range, &settings).map_err(|e| (1, e))?;
    let built = t.elapsed();
    let page = html(&report);
    let out = get("--out").unwrap_or("report.html");
    write_out(out, &page).map_err(|e| (1, e))?;
    if let Some(j) = get("--json") {
        let text = serde_json::to_string_pretty(&json(&report)).unwrap_or_default();
        write_out(j, &(text + "\n")).map_err(|e| (1, e))?;
    }
    eprintln!(
        "sillage-collector report: {} events, {} visitors, {} orders: {} ({} KB) in {} ms",
        report.totals.events,
        report.totals.visitors,
        report.totals.orders,
        out,
        page.len() / 1024,
        built.as_millis()
    );
    Ok(())
}

/// `fixture`: returns the exit code.
pub fn fixture_cmd(args: &[String]) -> i32 {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{FIXTURE_USAGE}");
        return 0;
    }
    let run = || -> Result<u64, (i32, String)> {
        let usage = |e: String| (2, e);
        let fl = flags(
            args,
            &[
                "--db",
                "--events",
                "--seed",
                "--end",
                "--days",
                "--known",
                "--write-config",
            ],
        )
        .map_err(usage)?;
        let get = |k: &str| fl.iter().rev().find(|(f, _)| *f == k).map(|(_, v)| *v);
        let db = get("--db").ok_or_else(|| usage("--db is required".into()))?;
        let num = |k: &str, default: u64| -> Result<u64, (i32, String)> {
            match get(k) {
                None => Ok(default),
                Some(v) => v
                    .replace('_', "")
                    .parse()
                    .map_err(|_| usage(format!("{k}: not a whole number: {v}"))),
            }
        };
        let d = Shop::default();
        let shop = Shop {
            seed: num("--seed", d.seed)?,
            events: num("--events", d.events)?,
            end: get("--end").unwrap_or(&d.end).to_string(),
            days: num("--days", d.days as u64)?.clamp(1, 3650) as i64,
        };
        if super::range::parse_date(&shop.end).is_none() {
            return Err(usage(format!("--end: not a YYYY-MM-DD date: {}", shop.end)));
        }
        let known = get("--known");
        if let Some(k) = known.filter(|k| !matches!(*k, "journeys" | "experiments")) {
            return Err(usage(format!(
                "--known: expected journeys or experiments, got {k}"
            )));
        }
        if let Some(path) = get("--write-config") {
            let config = match known {
                Some(_) => fixture::experiments_config(),
                None => fixture::shop_config(),
            };
            let text = serde_json::to_string_pretty(&config).unwrap_or_default();
            write_out(path, &(text + "\n")).map_err(|e| (1, e))?;
        }
        let mut w = Writer::create(std::path::Path::new(db)).map_err(|e| (1, e))?;
        match known {
            Some("journeys") => fixture::journeys(&mut w),
            Some(_) => fixture::experiments(&mut w),
            None => fixture::shop(&mut w, &shop),
        }
        .map_err(|e| (1, e))?;
        w.finish().map_err(|e| (1, e))
    };
    let t = Instant::now();
    match run() {
        Ok(n) => {
            eprintln!(
                "sillage-collector fixture: {n} events written in {} ms",
                t.elapsed().as_millis()
            );
            0
        }
        Err((code, e)) => {
            eprintln!("sillage-collector fixture: {e}");
            if code == 2 {
                eprintln!("{FIXTURE_USAGE}");
            }
            code
        }
    }
}
