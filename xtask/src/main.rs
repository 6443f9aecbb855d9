//! `cargo xtask <task>`: Sillage's set-up, build, demo, test and size
//! pipelines, written in Rust so they can be read and changed like the rest of
//! the code (the cargo-xtask pattern).
//!
//! - `cargo xtask demo [--addr A] [--db PATH]`: install what is missing, build
//!   the SDK, run the reference collector with the demo store; prints the
//!   entry page's URL and the admin token.
//! - `cargo xtask test`: install what is missing (Chromium too), then run every
//!   check in order and end with `N passed, N failed`.
//! - `cargo xtask setup [--browser]`, `cargo xtask build`, `cargo xtask size`:
//!   the pieces on their own.
//! - `cargo xtask types`: the npm package's types alone (written into
//!   `pkg/` without a wasm build, then `tsc --strict -p tests/ts`).
//! - `cargo xtask e2e [ARGS]`: build, then only the Playwright specs (ARGS go
//!   to Playwright, e.g. a file or `-g "title"`), for quick iteration.
//! - `cargo xtask bench [--peers]`: native benchmarks (release build, the
//!   collector's ingestion among them: `collector/examples/ingest_bench.rs`),
//!   the same core workloads compiled to wasm in Chromium
//!   (`tests/wasm_bench.rs`), and browser benchmarks of the whole SDK against
//!   a collector (`tests/bench/browser.mjs`); with `--peers`, also Sillage side
//!   by side with Segment, PostHog, Snowplow and GrowthBook
//!   (`tests/bench/peers.mjs`, the peers pinned in `tests/bench/peers/`), then
//!   `BENCHMARKS.md` is written from all of it (`tests/bench/report.mjs`). It
//!   prints figures, it never fails on them (the machines are shared and
//!   noisy).
//!
//! Every install step is idempotent: it checks first and skips what is there.
//! Nothing here downloads a prebuilt binary (the machines only reach package
//! registries): see ../shared/TOOLCHAIN.md for why each tool comes from where.

use std::env;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{exit, Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const WASM_TARGET: &str = "wasm32-unknown-unknown";
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The SDK as served under `/sillage/`.
const SDK_DIR: &str = "target/sillage-sdk";
/// Crates that must never be in the core's (native) dependency tree.
const WEB_CRATES: &[&str] = &[
    "wasm-bindgen",
    "web-sys",
    "js-sys",
    "serde-wasm-bindgen",
    "gloo",
    "wasm-bindgen-futures",
];

fn main() {
    let args: Vec<String> = env::args().skip(1).collect();
    let root = project_root();
    env::set_current_dir(&root).expect("cd to the project root");
    set_path(&root);
    let rest = &args[args.len().min(1)..];
    let ok = match args.first().map(String::as_str) {
        Some("demo") => demo(rest),
        Some("test") => test(),
        Some("setup") => setup(rest.iter().any(|a| a == "--browser")),
        Some("build") => setup(false) && build_sdk(),
        Some("types") => setup(false) && typescript(&mut Tally::default()),
        Some("size") => {
            size_report().is_some_and(|r| r.within_budget && r.loader_ok && r.sentences_out)
        }
        Some("bench") => bench(rest),
        Some("e2e") => {
            let mut t = Tally::default();
            setup(true) && build_sdk() && build_collector() && e2e(&mut t, rest)
        }
        _ => {
            eprintln!(
                "usage: cargo xtask <demo [--addr HOST:PORT] [--db PATH] | test | setup [--browser] | build | types | size | bench [--peers] | e2e [PLAYWRIGHT ARGS]>"
            );
            exit(2);
        }
    };
    exit(if ok { 0 } else { 1 });
}

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Puts `node_modules/.bin` (binaryen's wasm-opt, Playwright) and cargo's bin
/// dir first on PATH for every child.
fn set_path(root: &Path) {
    let mut dirs = vec![root.join("node_modules/.bin")];
    if let Some(home) = env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
    {
        dirs.push(home.join("bin"));
    }
    if let Some(p) = env::var_os("PATH") {
        dirs.extend(env::split_paths(&p));
    }
    env::set_var("PATH", env::join_paths(dirs).expect("valid PATH"));
}

fn say(msg: &str) {
    println!("\x1b[1mxtask:\x1b[0m {msg}");
    let _ = std::io::stdout().flush();
}

fn run(cmd: &mut Command) -> bool {
    say(&format!("$ {}", describe(cmd)));
    match cmd.status() {
        Ok(s) => s.success(),
        Err(e) => {
            say(&format!("could not start {}: {e}", describe(cmd)));
            false
        }
    }
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// The first line a command prints, if it runs.
fn output_of(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The exact wasm-bindgen version in Cargo.lock: the CLI must match it.
fn locked_wasm_bindgen() -> Option<String> {
    let lock = fs::read_to_string("Cargo.lock").ok()?;
    let mut lines = lock.lines();
    while let Some(l) = lines.next() {
        if l == "name = \"wasm-bindgen\"" {
            let v = lines.next()?;
            return Some(
                v.strip_prefix("version = \"")?
                    .trim_end_matches('"')
                    .to_string(),
            );
        }
    }
    None
}

fn is_root() -> bool {
    output_of("id", &["-u"]).as_deref() == Some("0")
}

/// Installs what the pipelines need, skipping what is present.
fn setup(browser: bool) -> bool {
    let mut ok = true;
    let targets = output_of("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    if !targets.lines().any(|t| t == WASM_TARGET) {
        ok &= run(Command::new("rustup").args(["target", "add", WASM_TARGET]));
    }
    if !Path::new("Cargo.lock").exists() {
        ok &= run(Command::new("cargo").args(["generate-lockfile"]));
    }
    match locked_wasm_bindgen() {
        None => {
            say("cannot find wasm-bindgen in Cargo.lock");
            ok = false;
        }
        Some(v) => {
            let have = output_of("wasm-bindgen", &["--version"]).unwrap_or_default();
            if have != format!("wasm-bindgen {v}") {
                // No --locked: its lockfile pins a webpki-roots the registry no longer serves.
                ok &= run(Command::new("cargo").args([
                    "install",
                    "wasm-bindgen-cli",
                    "--version",
                    &v,
                ]));
            }
        }
    }
    if npm_needed() {
        ok &= run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]));
    }
    if browser {
        ok &= setup_browser();
    }
    ok
}

fn npm_needed() -> bool {
    let marker = Path::new("node_modules/.package-lock.json");
    let modified = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
    !Path::new("node_modules/.bin/wasm-opt").exists()
        || !Path::new("node_modules/.bin/terser").exists()
        || !Path::new("node_modules/.bin/playwright").exists()
        || !Path::new("node_modules/.bin/tsc").exists()
        || !Path::new("node_modules/json-schema-to-typescript/package.json").exists()
        || modified(marker) < modified(Path::new("package-lock.json"))
}

fn setup_browser() -> bool {
    if Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists() {
        return true;
    }
    let cmd =
        "apt-get update && apt-get install -y --no-install-recommends chromium chromium-driver";
    if !(is_root() && Path::new("/etc/debian_version").exists()) {
        say(&format!(
            "Chromium and chromedriver are missing; install them with:\n    sudo sh -c '{cmd}'"
        ));
        return false;
    }
    let install = || {
        run(Command::new("apt-get").args([
            "install",
            "-y",
            "--no-install-recommends",
            "chromium",
            "chromium-driver",
        ]))
    };
    run(Command::new("apt-get").arg("update"))
        && (install() || (run(Command::new("apt-get").args(["install", "-y", "-f"])) && install()))
}

/// The browser builds: (cargo package, features, output name). A page whose
/// HTML has no slot loads the tracking module (`sillage`); if a slot
/// appears later and the config has rules, it loads the personalization
/// module (`sillage_p13n`) beside it. A page whose HTML has slots loads the
/// two linked together (`sillage_full`, the `bundled` feature: no second
/// runtime, no JSON in between).
const MODULES: [(&str, &str, &str); 3] = [
    ("sillage", "", "sillage"),
    ("sillage-p13n", "", "sillage_p13n"),
    ("sillage", "bundled", "sillage_full"),
];

/// wasm-opt's flags: size first (`-Oz`), run to a fixed point, inline
/// functions with one caller only when small (`-ocimfs 15`: measured 9 KB
/// gzip less than `-Oz` alone), and no name, producer or feature sections.
const WASM_OPT: &[&str] = &[
    "-Oz",
    "--converge",
    "-ocimfs",
    "15",
    // Flattening and re-looping the control flow, then shrinking again,
    // gives gzip a more regular body: 1.1 KB less for the full build.
    "--flatten",
    "--rereloop",
    "-Oz",
    "-Oz",
    "--strip-debug",
    "--strip-producers",
    "--strip-target-features",
    // Rust's data starts well above the first KB: addresses below are free.
    "--low-memory-unused",
    "--enable-bulk-memory",
    "--enable-sign-ext",
    "--enable-nontrapping-float-to-int",
    "--enable-mutable-globals",
    "--enable-reference-types",
    "--enable-multivalue",
];

/// Builds the two browser modules (cargo, wasm-bindgen, wasm-opt), writes
/// the npm package in `pkg/` and lays the SDK out as served:
/// `target/sillage-sdk/{sillage.js (the loader), sillage_glue.js,
/// sillage_bg.wasm, sillage_p13n.js, sillage_p13n_bg.wasm}`, each with its
/// `.gz` and `.br`.
fn build_sdk() -> bool {
    if !Path::new("node_modules/.bin/wasm-opt").exists() {
        say("node_modules/.bin/wasm-opt is missing (run `npm ci`)");
        return false;
    }
    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    let _ = fs::create_dir_all("pkg");
    for (package, features, name) in MODULES {
        // One package per cargo run: features are not unified between them.
        let built = run(Command::new("cargo")
            .args(["build", "--release", "--target", WASM_TARGET, "-p", package])
            .args(if features.is_empty() {
                Vec::new()
            } else {
                vec!["--features", features]
            }));
        let raw = target_dir
            .join(WASM_TARGET)
            .join("release")
            .join(format!("{}.wasm", package.replace('-', "_")));
        let bound = built
            && run(Command::new("wasm-bindgen")
                .args(["--target", "web", "--out-dir", "pkg", "--out-name", name])
                .arg(&raw))
            && public_api_matches(name);
        let optimized = bound
            && run(Command::new("node_modules/.bin/wasm-opt")
                .arg(format!("pkg/{name}_bg.wasm"))
                .arg("-o")
                .arg(format!("pkg/{name}_bg.wasm"))
                .args(WASM_OPT));
        if !(optimized && minify_names(name)) {
            return false;
        }
    }
    if !write_types() {
        return false;
    }
    let sdk = Path::new(SDK_DIR);
    let copied = fs::create_dir_all(sdk).and_then(|_| {
        for (_, _, name) in MODULES {
            let wasm = format!("{name}_bg.wasm");
            fs::copy(Path::new("pkg").join(&wasm), sdk.join(&wasm))?;
        }
        Ok(())
    });
    if let Err(e) = copied {
        say(&format!("could not lay out {SDK_DIR}: {e}"));
        return false;
    }
    // The served JS is minified (about 2 KB gzip less); pkg/ keeps the
    // readable glue for npm users and their own bundlers.
    let minify = |from: &str, to: &str, module: bool| {
        let mut cmd = Command::new("node_modules/.bin/terser");
        cmd.arg(from);
        if module {
            cmd.arg("--module");
        }
        cmd.args(["--compress", "--mangle", "--comments", "/^!/", "-o"])
            .arg(sdk.join(to));
        run(&mut cmd)
    };
    minify("www/sillage.js", "sillage.js", false)
        && minify("pkg/sillage.js", "sillage_glue.js", true)
        && minify("pkg/sillage_p13n.js", "sillage_p13n.js", true)
        && minify("pkg/sillage_full.js", "sillage_full.js", true)
        && write_messages(sdk)
        && precompress(sdk, &[&SDK_FILES[..], &[MESSAGES]].concat())
        && copy_panel(sdk)
}

/// The catalogue of diagnostics' sentences, `sillage_messages.json`: every
/// `t!("...")` template of the core's sources by its code. The shipped wasm
/// holds only the codes; the SDK fetches this file beside itself when the
/// config says `"debug": true` or has errors, or a preview link cannot be
/// honoured. Not counted in the size budget; compressed beside itself like
/// the SDK's files; written into `pkg/` too, for npm users.
fn write_messages(sdk: &Path) -> bool {
    let templates = match templates() {
        Ok(t) => t,
        Err(e) => {
            say(&format!(
                "could not read core/src for the message catalogue: {e}"
            ));
            return false;
        }
    };
    let json = sillage_core::support::diag::catalogue_json(&templates);
    let written = fs::write(sdk.join(MESSAGES), &json)
        .and_then(|_| fs::write(Path::new("pkg").join(MESSAGES), &json));
    if let Err(e) = written {
        say(&format!("could not write {MESSAGES}: {e}"));
        return false;
    }
    true
}

/// See [`write_messages`].
const MESSAGES: &str = "sillage_messages.json";

/// Every diagnostic's sentence: the `t!("...")` templates of `core/src`.
fn templates() -> std::io::Result<Vec<String>> {
    fn walk(dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
        for entry in fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                walk(&path, out)?;
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.extend(sillage_core::support::diag::templates_in(
                    &fs::read_to_string(&path)?,
                ));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(Path::new("core/src"), &mut out)?;
    Ok(out)
}

/// The sentences of diagnostics found in the shipped wasm files: for each
/// template, its longest run of text between placeholders, if 16 bytes or
/// more (a shorter one may occur in other text by chance). Must be none.
fn sentences_in_wasm() -> Option<Vec<String>> {
    let mut templates = templates().ok()?;
    templates.sort_unstable();
    templates.dedup();
    let mut wasm = Vec::new();
    for f in SDK_FILES.iter().filter(|f| f.ends_with(".wasm")) {
        wasm.push(fs::read(Path::new(SDK_DIR).join(f)).ok()?);
    }
    let mut found = Vec::new();
    let mut checked = 0;
    for t in &templates {
        let Some(run) = t
            .split("{}")
            .max_by_key(|r| r.len())
            .filter(|r| r.len() >= 16)
        else {
            continue;
        };
        checked += 1;
        if wasm
            .iter()
            .any(|w| w.windows(run.len()).any(|x| x == run.as_bytes()))
        {
            found.push(t.clone());
        }
    }
    say(&format!(
        "diagnostics' sentences: {} sentences ({checked} long enough to search for), {} found in the wasm files{}",
        templates.len(),
        found.len(),
        if found.is_empty() {
            ""
        } else {
            " (they must not be)"
        }
    ));
    Some(found)
}

/// The journey panel (`www/sillage-panel.js` and its stylesheet), served
/// beside the SDK so that the loader finds it on any site with
/// `?sillage_debug=1`. It is not part of the SDK: not minified, not in
/// `SDK_FILES`, never counted in the size budget.
const PANEL_FILES: [&str; 2] = ["sillage-panel.js", "sillage-panel.css"];

fn copy_panel(sdk: &Path) -> bool {
    for f in PANEL_FILES {
        if let Err(e) = fs::copy(Path::new("www").join(f), sdk.join(f)) {
            say(&format!("could not copy www/{f} beside the SDK: {e}"));
            return false;
        }
    }
    true
}

/// Renames the wasm's imports, exports and import module to one or two
/// letters (binaryen's `--minify-imports-and-exports-and-modules`) and the
/// glue's references to match. wasm-bindgen names each import after the
/// function and a 16-digit hash (`__wbg_setItem_1ea3fdfc3e5a9d12`), text
/// gzip cannot shrink, twice (in the wasm and in the glue).
fn minify_names(name: &str) -> bool {
    let wasm = format!("pkg/{name}_bg.wasm");
    let glue = format!("pkg/{name}.js");
    say(&format!("minifying the import and export names of {wasm}"));
    let out = Command::new("node_modules/.bin/wasm-opt")
        .arg(&wasm)
        .arg("-o")
        .arg(&wasm)
        .arg("--minify-imports-and-exports-and-modules")
        .args(WASM_OPT.iter().filter(|f| f.starts_with("--enable")))
        .output();
    let Some(out) = out.ok().filter(|o| o.status.success()) else {
        say("wasm-opt --minify-imports-and-exports-and-modules failed");
        return false;
    };
    // Its map: `["module", "old", "new"],` per import, `["old", "new"],`
    // per export.
    let map = String::from_utf8_lossy(&out.stdout).to_string();
    let mut imports: Vec<(String, String)> = Vec::new();
    let mut exports: Vec<(String, String)> = Vec::new();
    let mut old_module = None;
    for line in map.lines() {
        let quoted: Vec<&str> = line.split('"').skip(1).step_by(2).collect();
        match quoted.as_slice() {
            [module, old, new] => {
                old_module.get_or_insert_with(|| module.to_string());
                imports.push((old.to_string(), new.to_string()));
            }
            [old, new] => exports.push((old.to_string(), new.to_string())),
            _ => {}
        }
    }
    // The module's new name, from the wasm itself.
    let script = "const fs=require('fs');const m=new WebAssembly.Module(fs.readFileSync(process.argv[1]));console.log([...new Set(WebAssembly.Module.imports(m).map(i=>i.module))].join(' '))";
    let new_module = output_of("node", &["-e", script, &wasm]).unwrap_or_default();
    let (Some(old_module), false) = (
        old_module,
        new_module.is_empty() || new_module.contains(' '),
    ) else {
        say(&format!(
            "{wasm}: expected one import module, found {new_module:?}"
        ));
        return false;
    };
    let Ok(js) = fs::read_to_string(&glue) else {
        say(&format!("cannot read {glue}"));
        return false;
    };
    let js = js.replace(
        &format!("\"{old_module}\": import0"),
        &format!("\"{new_module}\": import0"),
    );
    // Each identifier: an export after `wasm.`, else an import name.
    let mut outjs = String::with_capacity(js.len());
    let mut ident = String::new();
    let mut renamed = 0;
    let flush = |ident: &mut String, outjs: &mut String, renamed: &mut usize| {
        if ident.is_empty() {
            return;
        }
        let after_wasm = outjs.ends_with("wasm.");
        let table = if after_wasm { &exports } else { &imports };
        match table.iter().find(|(old, _)| old == ident) {
            Some((_, new)) => {
                outjs.push_str(new);
                *renamed += 1;
            }
            None => outjs.push_str(ident),
        }
        ident.clear();
    };
    for c in js.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '$' {
            ident.push(c);
        } else {
            flush(&mut ident, &mut outjs, &mut renamed);
            outjs.push(c);
        }
    }
    flush(&mut ident, &mut outjs, &mut renamed);
    let expected = imports.len() + exports.len();
    if renamed < expected {
        say(&format!(
            "{glue}: renamed {renamed} references for {expected} names: the glue does not match the wasm"
        ));
        return false;
    }
    fs::write(&glue, outjs).is_ok()
}

/// `pkg/package.json`: both modules, the personalization one as
/// `sillage/p13n`.
const NPM_PACKAGE: &str = r#"{
  "name": "sillage",
  "type": "module",
  "description": "On-device customer-journey tracking and personalization, compiled to WebAssembly",
  "version": "0.1.0",
  "license": "MIT OR Apache-2.0",
  "files": [
    "sillage.js",
    "sillage_bg.wasm",
    "sillage.d.ts",
    "sillage_p13n.js",
    "sillage_p13n_bg.wasm",
    "sillage_p13n.d.ts",
    "sillage_full.js",
    "sillage_full_bg.wasm",
    "sillage_full.d.ts",
    "config.d.ts",
    "profile.d.ts",
    "sillage_messages.json"
  ],
  "main": "sillage.js",
  "types": "sillage.d.ts",
  "exports": {
    ".": { "types": "./sillage.d.ts", "default": "./sillage.js" },
    "./p13n": { "types": "./sillage_p13n.d.ts", "default": "./sillage_p13n.js" },
    "./full": { "types": "./sillage_full.d.ts", "default": "./sillage_full.js" },
    "./sillage_full_bg.wasm": "./sillage_full_bg.wasm",
    "./sillage_bg.wasm": "./sillage_bg.wasm",
    "./sillage_p13n_bg.wasm": "./sillage_p13n_bg.wasm",
    "./sillage_messages.json": "./sillage_messages.json"
  },
  "sideEffects": false
}
"#;

/// The npm package's public types, written by hand in `types/`: (module,
/// its `.d.ts`, whether it must declare every function the module
/// exports). wasm-bindgen's own `.d.ts` types every argument `any` and
/// lists the wasm's internal exports (closure shims, the loader's
/// `replay`); the personalization module's functions are the tracking
/// module's internal protocol, so its types declare only `init`.
const TYPES: [(&str, &str, bool); 3] = [
    ("sillage", "types/sillage.d.ts", true),
    ("sillage_p13n", "types/sillage_p13n.d.ts", false),
    ("sillage_full", "types/sillage.d.ts", true),
];

/// The functions a `.d.ts` declares: `export function NAME`, and
/// `default` for `export default function`.
fn declared_functions(dts: &str) -> std::collections::BTreeSet<String> {
    dts.lines()
        .filter_map(|l| {
            let rest = l.trim_start().strip_prefix("export ")?;
            if rest.starts_with("default function") {
                return Some("default".to_string());
            }
            let name = rest.strip_prefix("function ")?;
            let end = name
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
                .unwrap_or(name.len());
            Some(name[..end].to_string())
        })
        .collect()
}

/// Run right after wasm-bindgen wrote `pkg/NAME.d.ts` (every export of the
/// module): whether the hand-written types declare only functions the
/// module exports and, for the tracking API, every one of them.
fn public_api_matches(name: &str) -> bool {
    let Some((_, file, complete)) = TYPES.iter().find(|(n, _, _)| *n == name) else {
        say(&format!("xtask's TYPES has no types for the module {name}"));
        return false;
    };
    let generated = fs::read_to_string(format!("pkg/{name}.d.ts")).unwrap_or_default();
    let public = fs::read_to_string(file).unwrap_or_default();
    let problems = api_problems(&generated, &public, *complete);
    for p in &problems {
        say(&format!("{file} and the module {name}: {p}"));
    }
    problems.is_empty()
}

/// What is wrong between the functions a module exports (`generated`,
/// wasm-bindgen's `.d.ts`) and those its public types declare.
fn api_problems(generated: &str, public: &str, complete: bool) -> Vec<String> {
    let exported = declared_functions(generated);
    let declared = declared_functions(public);
    if exported.is_empty() || declared.is_empty() {
        return vec!["no function found in one of the two .d.ts files".into()];
    }
    let mut problems: Vec<String> = declared
        .difference(&exported)
        .map(|f| format!("{f}() is declared but not exported"))
        .collect();
    if complete {
        problems.extend(exported.difference(&declared).map(|f| {
            format!("{f}() is exported but not declared (type it, or mark it `skip_typescript` if it is internal)")
        }));
    }
    problems
}

/// Writes the npm package's types and manifest into `pkg/`: `config.d.ts`
/// and `profile.d.ts` generated from the JSON Schemas by
/// json-schema-to-typescript (`types/generate.mjs`), each module's
/// hand-written `.d.ts` in place of wasm-bindgen's (whose `_bg.wasm.d.ts`
/// go), and `package.json`.
/// Needs no wasm build.
fn write_types() -> bool {
    if let Err(e) = fs::create_dir_all("pkg") {
        say(&format!("could not create pkg/: {e}"));
        return false;
    }
    if !run(Command::new("node").args(["types/generate.mjs", "pkg"])) {
        return false;
    }
    for (name, file, _) in TYPES {
        if let Err(e) = fs::copy(file, format!("pkg/{name}.d.ts")) {
            say(&format!("could not copy {file} to pkg/{name}.d.ts: {e}"));
            return false;
        }
        // wasm-bindgen's types of the raw wasm exports: internal names, and
        // stale once they are minified.
        let _ = fs::remove_file(format!("pkg/{name}_bg.wasm.d.ts"));
    }
    if let Err(e) = fs::write("pkg/package.json", NPM_PACKAGE) {
        say(&format!("could not write pkg/package.json: {e}"));
        return false;
    }
    true
}

/// Where the TypeScript check's generated cases go (beside the consumer,
/// so that `sillage` resolves the same way; not committed).
const TS_GENERATED: &str = "tests/ts/generated";

/// The TypeScript check, one test: the package's types written into `pkg/`,
/// then `tsc --strict -p tests/ts` on a typed consumer (the documented
/// calls, and `@ts-expect-error` on the mistakes the types must refuse),
/// on every config of `www/` typed as a `Config`, and on the README's
/// TypeScript examples.
fn typescript(t: &mut Tally) -> bool {
    let ok = write_types()
        && link_package()
        && write_ts_cases()
        && run(Command::new("node_modules/.bin/tsc").args(["-p", "tests/ts"]));
    if ok {
        say("the npm package's types pass tsc --strict (tests/ts)");
        t.passed += 1;
    } else {
        t.failed += 1;
    }
    ok
}

/// `tests/ts/node_modules/sillage`, a link to `pkg/`, so that the consumer
/// imports the package by its name, through its `exports`.
fn link_package() -> bool {
    let link = Path::new("tests/ts/node_modules/sillage");
    if fs::symlink_metadata(link).is_ok() {
        return true;
    }
    let made = fs::create_dir_all("tests/ts/node_modules").and_then(|_| {
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("../../../pkg", link)
        }
        #[cfg(not(unix))]
        {
            Err(std::io::Error::other(
                "symbolic links are made on unix only",
            ))
        }
    });
    if let Err(e) = &made {
        say(&format!("could not link {} to pkg/: {e}", link.display()));
    }
    made.is_ok()
}

/// Writes the generated cases of the TypeScript check into
/// [`TS_GENERATED`]: every `*.config.json` of `www/` and `www/test/` as a
/// value typed `Config` (a JSON document is a TypeScript expression), and
/// each ` ```ts ` block of the README as a module of its own.
fn write_ts_cases() -> bool {
    let dir = Path::new(TS_GENERATED);
    let _ = fs::remove_dir_all(dir);
    if let Err(e) = fs::create_dir_all(dir) {
        say(&format!("could not create {TS_GENERATED}: {e}"));
        return false;
    }
    let mut files: Vec<PathBuf> = ["www", "www/test"]
        .iter()
        .filter_map(|d| fs::read_dir(d).ok())
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".config.json"))
        .collect();
    files.sort();
    let mut configs = String::from("import type { Config } from 'sillage';\n");
    for (i, f) in files.iter().enumerate() {
        let Ok(json) = fs::read_to_string(f) else {
            say(&format!("cannot read {}", f.display()));
            return false;
        };
        configs.push_str(&format!(
            "\n// {}\nexport const config{i}: Config = {};\n",
            f.display(),
            json.trim()
        ));
    }
    let readme = fs::read_to_string("README.md").unwrap_or_default();
    let mut cases = vec![("www-configs.ts".to_string(), configs)];
    let mut block: Option<String> = None;
    for line in readme.lines() {
        match (&mut block, line.trim_end()) {
            (None, "```ts") => block = Some(String::from("// README.md\n")),
            (Some(code), "```") => {
                code.push_str("export {};\n");
                cases.push((format!("readme-{}.ts", cases.len()), code.clone()));
                block = None;
            }
            (Some(code), l) => {
                code.push_str(l);
                code.push('\n');
            }
            (None, _) => {}
        }
    }
    if files.is_empty() || cases.len() < 2 {
        say("expected configs in www/ and a ```ts block in README.md");
        return false;
    }
    for (name, text) in cases {
        if let Err(e) = fs::write(dir.join(&name), text) {
            say(&format!("could not write {TS_GENERATED}/{name}: {e}"));
            return false;
        }
    }
    true
}

/// The files of the SDK that are served, and compressed beside themselves:
/// the loader, then (glue, wasm) of each build.
const SDK_FILES: [&str; 7] = [
    "sillage.js",
    "sillage_glue.js",
    "sillage_bg.wasm",
    "sillage_full.js",
    "sillage_full_bg.wasm",
    "sillage_p13n.js",
    "sillage_p13n_bg.wasm",
];

/// Writes `F.br` (quality 11) and `F.gz` (level 9) beside each SDK file with
/// Node's zlib, so the collector serves them precompressed. Always rewritten:
/// a stale `.br` beside a new file would serve the old SDK.
fn precompress(sdk: &Path, files: &[&str]) -> bool {
    let script = "const z=require('zlib'),fs=require('fs');for(const f of process.argv.slice(1)){const b=fs.readFileSync(f);fs.writeFileSync(f+'.gz',z.gzipSync(b,{level:9}));fs.writeFileSync(f+'.br',z.brotliCompressSync(b,{params:{[z.constants.BROTLI_PARAM_QUALITY]:11}}))}";
    let mut cmd = Command::new("node");
    cmd.args(["-e", script]);
    for f in files {
        cmd.arg(sdk.join(f));
    }
    run(&mut cmd)
}

fn collector_bin() -> PathBuf {
    let dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    dir.join("debug/sillage-collector")
}

/// A random admin token for a collector this pipeline starts: 32 bytes
/// from the system's random source, in hex.
fn admin_token() -> Option<String> {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn build_collector() -> bool {
    run(Command::new("cargo").args(["build", "-p", "sillage-collector"]))
}

fn demo(args: &[String]) -> bool {
    let mut addr = "127.0.0.1:8080".to_string();
    let mut db = "sillage-events.db".to_string();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match (a.as_str(), it.next()) {
            ("--addr", Some(v)) => addr = v.clone(),
            ("--db", Some(v)) => db = v.clone(),
            _ => {
                say(&format!(
                    "unknown demo argument {a:?} (expected --addr HOST:PORT or --db PATH)"
                ));
                return false;
            }
        }
    }
    if !(setup(false) && build_sdk() && build_collector()) {
        return false;
    }
    // The admin token of the read routes: the one in the environment, or a
    // new one. It reaches the collector through its environment (not its
    // command line, which other users of the machine can read).
    let Some(token) = env::var("SILLAGE_ADMIN_TOKEN").ok().or_else(admin_token) else {
        say("cannot read /dev/urandom for an admin token (set SILLAGE_ADMIN_TOKEN)");
        return false;
    };
    say(&format!(
        "demo store: http://{addr}/start.html  (pick how you arrive; events are stored in {db}; Ctrl-C stops)"
    ));
    say(&format!("admin token: {token}"));
    say(&format!(
        "journey report: http://{addr}/report  (user name anything, password the admin token)"
    ));
    say(&format!(
        "    curl -H 'Authorization: Bearer {token}' http://{addr}/v1/stats"
    ));
    let mut cmd = Command::new(collector_bin());
    cmd.args([
        "--addr",
        &addr,
        "--db",
        &db,
        "--www",
        "www",
        "--sdk",
        SDK_DIR,
        "--visitor-view",
    ])
    .env("SILLAGE_ADMIN_TOKEN", &token);
    // Become the collector: Ctrl-C then reaches it directly and it shuts down
    // gracefully, keeping every acknowledged event.
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let err = cmd.exec();
        say(&format!("could not start the collector: {err}"));
        false
    }
    #[cfg(not(unix))]
    {
        cmd.status().is_ok_and(|s| s.success())
    }
}

/// Tallies of one pipeline run. Tests (what cargo, wasm-bindgen-test and
/// Playwright count) and pipeline checks (set-up, fmt, clippy, purity, the
/// size budget) are counted apart, so `N passed` counts tests only.
#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
    /// Skipped (ignored) tests, by name.
    skipped: Vec<String>,
    /// Pipeline checks: (name, ok).
    checks: Vec<(String, bool)>,
    steps: Vec<(String, bool, Duration)>,
}

impl Tally {
    fn step(&mut self, name: &str, f: impl FnOnce(&mut Tally) -> bool) {
        say(&format!("== {name}"));
        let t0 = Instant::now();
        let ok = f(self);
        let took = t0.elapsed();
        say(&format!(
            "== {name}: {} in {:.1}s",
            if ok { "ok" } else { "FAILED" },
            took.as_secs_f64()
        ));
        self.steps.push((name.to_string(), ok, took));
    }

    /// A pipeline check (not a test): fmt, clippy, purity, the budget.
    fn check(&mut self, name: &str, ok: bool) -> bool {
        self.checks.push((name.to_string(), ok));
        ok
    }
}

/// The skips allowed, each with its reason: `tests/allowed-skips.txt`, one
/// `name | reason` per line (`#` starts a comment). A skipped test is
/// allowed when its name contains an entry's name.
const ALLOWED_SKIPS: &str = "tests/allowed-skips.txt";

/// Reads the allow-list: (name, reason) pairs, or the lines that are not
/// of that form.
fn allowed_skips() -> Result<Vec<(String, String)>, Vec<String>> {
    let text = fs::read_to_string(ALLOWED_SKIPS).unwrap_or_default();
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('|') {
            Some((name, reason)) if !name.trim().is_empty() && !reason.trim().is_empty() => {
                ok.push((name.trim().to_string(), reason.trim().to_string()))
            }
            _ => bad.push(format!(
                "{ALLOWED_SKIPS}:{}: expected `test name | reason`, got {line:?}",
                i + 1
            )),
        }
    }
    if bad.is_empty() {
        Ok(ok)
    } else {
        Err(bad)
    }
}

/// Runs a test command, streaming its output and adding up the counts it
/// prints (`test result: ... N passed; M failed; K ignored` for cargo and
/// wasm-bindgen-test, `N passed` / `N failed` / `N flaky` / `N skipped` for
/// Playwright) and the names of skipped tests (`test x ... ignored`, and
/// Playwright's `-` lines). A command that fails without reporting a
/// failure counts as one failure.
fn run_counted(t: &mut Tally, cmd: &mut Command) -> bool {
    say(&format!("$ {}", describe(cmd)));
    let mut child = match cmd.stdout(Stdio::piped()).spawn() {
        Ok(c) => c,
        Err(e) => {
            say(&format!("could not start: {e}"));
            t.failed += 1;
            return false;
        }
    };
    let mut c = Counts::default();
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            println!("{line}");
            c.read(&line);
        }
    }
    let status = child.wait().map(|s| s.success()).unwrap_or(false);
    if !status && c.failed == 0 {
        c.failed = 1;
    }
    // A skip whose name was not printed still counts.
    while c.names.len() < c.skipped {
        c.names.push(format!("(unnamed skip in {})", describe(cmd)));
    }
    let Counts {
        passed,
        failed,
        names,
        ..
    } = c;
    t.passed += passed;
    t.failed += failed;
    t.skipped.extend(names);
    status && failed == 0
}

/// What a test runner's output said.
#[derive(Default, Debug, PartialEq)]
struct Counts {
    passed: usize,
    failed: usize,
    skipped: usize,
    /// The names of the skipped tests printed.
    names: Vec<String>,
}

impl Counts {
    /// Reads one line of cargo's, wasm-bindgen-test's or Playwright's
    /// (list reporter) output.
    fn read(&mut self, line: &str) {
        let l = strip_ansi(line.trim());
        if let Some(rest) = l.strip_prefix("test result: ") {
            self.passed += count_before(rest, " passed");
            self.failed += count_before(rest, " failed");
            self.skipped += count_before(rest, " ignored");
        } else if let Some(name) = l.strip_prefix("test ").and_then(|r| {
            r.strip_suffix(" ... ignored")
                .or_else(|| r.split_once(" ... ignored, ").map(|(n, _)| n))
        }) {
            self.names.push(name.to_string());
        } else if let Some(n) = playwright_count(&l, "passed") {
            self.passed += n;
        } else if let Some(n) = playwright_count(&l, "failed") {
            self.failed += n;
        } else if let Some(n) = playwright_count(&l, "flaky") {
            self.failed += n;
        } else if let Some(n) =
            playwright_count(&l, "skipped").or_else(|| playwright_count(&l, "did not run"))
        {
            // Tests of a project whose dependency failed did not run.
            self.skipped += n;
        } else if let Some(name) = l.strip_prefix("- ") {
            // Playwright's list reporter: `-  3 tests/e2e/x.spec.ts:1:1 › title`.
            let name = name.trim_start();
            if name
                .split(' ')
                .next()
                .is_some_and(|n| n.parse::<u32>().is_ok())
            {
                self.names.push(name.to_string());
            }
        }
    }
}

/// `s` without terminal colour codes.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn count_before(s: &str, word: &str) -> usize {
    s.find(word)
        .and_then(|i| s[..i].rsplit([' ', ';', '.']).next()?.parse().ok())
        .unwrap_or(0)
}

/// Playwright's summary lines: `12 passed (3.4s)`, `1 failed`, `2 flaky`.
fn playwright_count(line: &str, word: &str) -> Option<usize> {
    let (n, rest) = line.split_once(' ')?;
    let n: usize = n.parse().ok()?;
    (rest == word || rest.starts_with(&format!("{word} ("))).then_some(n)
}

fn test() -> bool {
    let mut t = Tally::default();
    let t0 = Instant::now();
    let mut tools = false;
    t.step("set-up (idempotent installs)", |t| {
        tools = setup(true);
        t.check("set-up", tools)
    });
    t.step("1. cargo fmt --check", |t| {
        let ok = run(Command::new("cargo").args(["fmt", "--all", "--check"]));
        t.check("fmt", ok)
    });
    t.step("2. clippy -D warnings (native and wasm32)", |t| {
        let native = run(Command::new("cargo").args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]));
        let wasm = run(Command::new("cargo").args([
            "clippy",
            "-p",
            "sillage",
            "-p",
            "sillage-p13n",
            "-p",
            "sillage-webhost",
            "--target",
            WASM_TARGET,
            // The libs and their tests, with every feature (the bundled
            // build and the module's exports); examples and benches are
            // native tools.
            "--lib",
            "--tests",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ]));
        t.check("clippy (native)", native) & t.check("clippy (wasm32)", wasm)
    });
    t.step("3. native tests", |t| {
        // Every test binary runs even when one fails: all failures count.
        run_counted(
            t,
            Command::new("cargo").args(["test", "--workspace", "--no-fail-fast"]),
        )
    });
    t.step("4. the core builds with no web crate", |t| {
        let ok = check_core_is_pure();
        t.check("core purity", ok)
    });
    t.step(
        "5. browser tests (wasm-bindgen-test, headless Chromium)",
        |t| {
            if !tools {
                return t.check("browser tests need the set-up", false);
            }
            run_counted(
                t,
                Command::new("cargo")
                    .args([
                        "test",
                        "-p",
                        "sillage",
                        "--target",
                        WASM_TARGET,
                        "--features",
                        "bundled",
                        "--test",
                        "browser",
                    ])
                    .env(
                        "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
                        "wasm-bindgen-test-runner",
                    )
                    .env("CHROMEDRIVER", CHROMEDRIVER)
                    .env("WASM_BINDGEN_TEST_TIMEOUT", "120"),
            )
        },
    );
    t.step("6. e2e tests (Playwright, Chromium, real collector)", |t| {
        if !(tools && build_sdk() && build_collector()) {
            return t.check("e2e needs the SDK and the collector built", false);
        }
        e2e(t, &[])
    });
    t.step(
        "7. TypeScript: the npm package's types (tsc --strict)",
        |t| {
            if !tools {
                return t.check("the TypeScript check needs the set-up", false);
            }
            typescript(t)
        },
    );
    t.step("8. size report and budget", |t| {
        let report = size_report();
        let loader = report.as_ref().is_some_and(|r| r.loader_ok);
        let budget = report.as_ref().is_some_and(|r| r.within_budget);
        let sentences = report.as_ref().is_some_and(|r| r.sentences_out);
        t.check("loader under 1 KB gzip", loader)
            & t.check("size budget", budget)
            & t.check("no diagnostic sentence in the wasm", sentences)
    });
    let skips_ok = t.step_skips();
    println!();
    for (name, ok, took) in &t.steps {
        println!(
            "  {} {name} ({:.1}s)",
            if *ok { "ok    " } else { "FAILED" },
            took.as_secs_f64()
        );
    }
    println!("  total {:.1}s", t0.elapsed().as_secs_f64());
    let failed_checks: Vec<&str> = t
        .checks
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(n, _)| n.as_str())
        .collect();
    println!(
        "checks: {} ok, {} failed{}",
        t.checks.len() - failed_checks.len(),
        failed_checks.len(),
        if failed_checks.is_empty() {
            String::new()
        } else {
            format!(" ({})", failed_checks.join(", "))
        }
    );
    println!(
        "{} passed, {} failed, {} skipped",
        t.passed,
        t.failed,
        t.skipped.len()
    );
    t.failed == 0 && failed_checks.is_empty() && skips_ok && t.steps.iter().all(|(_, ok, _)| *ok)
}

impl Tally {
    /// Prints every skipped test with its reason from the allow-list; a
    /// skip the list does not name (or a malformed list) fails the run.
    fn step_skips(&mut self) -> bool {
        let allowed = match allowed_skips() {
            Ok(a) => a,
            Err(bad) => {
                for b in &bad {
                    say(b);
                }
                return self.check("allowed skips list", false);
            }
        };
        let mut ok = true;
        for name in &self.skipped {
            match allowed.iter().find(|(n, _)| name.contains(n.as_str())) {
                Some((_, reason)) => say(&format!("skipped (allowed: {reason}): {name}")),
                None => {
                    say(&format!(
                        "SKIPPED without a reason in {ALLOWED_SKIPS}: {name}"
                    ));
                    ok = false;
                }
            }
        }
        self.check("every skip allowed", ok)
    }
}

/// Architecture invariant: the core knows nothing of the web. Its crate,
/// `sillage-core`, has no web crate in its dependency tree (any target, any
/// feature), so the compiler enforces it; and it builds for wasm32 on its
/// own. (No clock, no randomness, no I/O: `core/clippy.toml`, step 2.)
fn check_core_is_pure() -> bool {
    let tree = output_of(
        "cargo",
        &[
            "tree",
            "-p",
            "sillage-core",
            "-e",
            "normal",
            "--all-features",
            "--target",
            "all",
            "--prefix",
            "none",
        ],
    );
    let Some(tree) = tree else {
        say("cargo tree failed");
        return false;
    };
    let mut ok = true;
    let mut crates = 0;
    for line in tree.lines() {
        let name = line.split(' ').next().unwrap_or("");
        crates += 1;
        if WEB_CRATES.contains(&name) {
            say(&format!("sillage-core depends on {name}"));
            ok = false;
        }
    }
    ok &= run(Command::new("cargo").args(["check", "-p", "sillage-core", "--target", WASM_TARGET]));
    if ok {
        say(&format!(
            "core is pure: no web crate among its {crates} dependency lines, and it builds for {WASM_TARGET} alone"
        ));
    }
    ok
}

/// A collector for the e2e tests and the benchmarks: fault injection and
/// the visitor view on, a random admin token (in its environment, and in
/// the tests' as `SILLAGE_ADMIN_TOKEN`).
struct Collector {
    child: Child,
    base: String,
    token: String,
}

impl Collector {
    fn start(db: &Path) -> Option<Collector> {
        let token = admin_token()?;
        let mut child = Command::new(collector_bin())
            .args([
                "--addr",
                "127.0.0.1:0",
                "--faults",
                "--visitor-view",
                "--www",
                "www",
                "--sdk",
                SDK_DIR,
                "--db",
            ])
            .arg(db)
            .env("SILLAGE_ADMIN_TOKEN", &token)
            .stdout(Stdio::piped())
            .spawn()
            .ok()?;
        let mut first = String::new();
        BufReader::new(child.stdout.take()?)
            .read_line(&mut first)
            .ok()?;
        let base = first
            .trim()
            .strip_prefix("sillage-collector listening on ")?
            .trim_end_matches('/')
            .to_string();
        Some(Collector { child, base, token })
    }

    fn stop(mut self) -> Option<ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().ok()
    }
}

fn e2e(t: &mut Tally, extra: &[String]) -> bool {
    // The Segment wire-compatibility spec serves analytics-next from the peers.
    if !setup_peers() {
        return t.check("the pinned peers installed", false);
    }
    let dir = env::temp_dir().join(format!("sillage-e2e-{}", std::process::id()));
    let _ = fs::create_dir_all(&dir);
    let db = dir.join("events.db");
    let Some(collector) = Collector::start(&db) else {
        say("the collector did not start");
        return t.check("collector started", false);
    };
    say(&format!(
        "collector at {} with database {}",
        collector.base,
        db.display()
    ));
    let ok = run_counted(
        t,
        Command::new("node")
            .args([
                "node_modules/@playwright/test/cli.js",
                "test",
                "--config",
                "tests/e2e/playwright.config.ts",
            ])
            .args(extra)
            .env("SILLAGE_BASE_URL", &collector.base)
            .env("SILLAGE_ADMIN_TOKEN", &collector.token)
            .env("SILLAGE_DB", &db)
            .env("SILLAGE_AUDIT_DIR", dir.join("audit")),
    );
    let stopped = collector.stop().is_some_and(|s| s.success());
    if !stopped {
        say("the collector did not stop cleanly");
    }
    let _ = fs::remove_dir_all(&dir);
    t.check("collector stopped cleanly", stopped) && ok
}

/// Where `cargo xtask bench` leaves what it measured (the inputs of BENCHMARKS.md).
const BENCH_OUT: &str = "target/bench";
/// The peers' own npm project (pinned apart from the main dev dependencies).
const PEERS_DIR: &str = "tests/bench/peers";

/// Installs the pinned peers (`npm ci --prefix tests/bench/peers`) when they
/// are missing or older than their lockfile.
fn setup_peers() -> bool {
    let dir = Path::new(PEERS_DIR);
    let modified = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
    let marker = dir.join("node_modules/.package-lock.json");
    let needed = !dir
        .join("node_modules/@segment/analytics-next/package.json")
        .exists()
        || modified(&marker) < modified(&dir.join("package-lock.json"));
    !needed
        || run(Command::new("npm").args(["ci", "--prefix", PEERS_DIR, "--no-audit", "--no-fund"]))
}

/// Runs a command, streaming its output and keeping its stdout lines.
fn run_tee(cmd: &mut Command, keep: &mut String) -> bool {
    say(&format!("$ {}", describe(cmd)));
    let mut child = match cmd.stdout(Stdio::piped()).spawn() {
        Ok(c) => c,
        Err(e) => {
            say(&format!("could not start: {e}"));
            return false;
        }
    };
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            println!("{line}");
            keep.push_str(&line);
            keep.push('\n');
        }
    }
    child.wait().is_ok_and(|s| s.success())
}

/// Native benchmarks (`cargo run --release --example bench`), the core in
/// wasm in Chromium, then browser benchmarks (`tests/bench/browser.mjs`)
/// against a fresh collector; with `--peers`, Sillage side by side with its
/// peers and `BENCHMARKS.md` written from everything.
fn bench(args: &[String]) -> bool {
    let mut peers = false;
    for a in args {
        match a.as_str() {
            "--peers" => peers = true,
            _ => {
                say(&format!("unknown bench argument {a:?} (expected --peers)"));
                return false;
            }
        }
    }
    if !(setup(true) && build_sdk() && build_collector()) {
        return false;
    }
    if peers && !setup_peers() {
        return false;
    }
    let out = Path::new(BENCH_OUT);
    if let Err(e) = fs::create_dir_all(out) {
        say(&format!("could not create {BENCH_OUT}: {e}"));
        return false;
    }
    let mut lines = String::new();
    let mut native = run_tee(
        Command::new("cargo").args([
            "run",
            "--release",
            "--quiet",
            "-p",
            "sillage-core",
            "--example",
            "bench",
        ]),
        &mut lines,
    );
    for example in ["bench_conditions", "bench_rules"] {
        native &= run_tee(
            Command::new("cargo").args([
                "run",
                "--release",
                "--quiet",
                "-p",
                "sillage-core",
                "--example",
                example,
            ]),
            &mut lines,
        );
    }
    // The collector's ingestion: 10,000 events in batches of 20 over loopback.
    native &= run(Command::new("cargo").args([
        "run",
        "--release",
        "--quiet",
        "-p",
        "sillage-collector",
        "--example",
        "ingest_bench",
    ]));
    // The same condition and decision workloads compiled to wasm, in Chromium
    // (release build; `--nocapture` shows their console lines).
    let wasm = run_tee(
        Command::new("cargo")
            .args([
                "test",
                "--release",
                "-p",
                "sillage",
                "--target",
                WASM_TARGET,
                "--test",
                "wasm_bench",
                "--",
                "--nocapture",
            ])
            .env(
                "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
                "wasm-bindgen-test-runner",
            )
            .env("CHROMEDRIVER", CHROMEDRIVER)
            .env("WASM_BINDGEN_TEST_TIMEOUT", "300"),
        &mut lines,
    );
    native &= wasm;
    let project = out.join("project.txt");
    let _ = fs::write(&project, &lines);
    let dir = env::temp_dir().join(format!("sillage-bench-{}", std::process::id()));
    let _ = fs::create_dir_all(&dir);
    let Some(collector) = Collector::start(&dir.join("bench.db")) else {
        say("the collector did not start");
        return false;
    };
    let browser = Command::new("node")
        .args(["tests/bench/browser.mjs", &collector.base])
        .env("SILLAGE_ADMIN_TOKEN", &collector.token)
        .output();
    collector.stop();
    let _ = fs::remove_dir_all(&dir);
    let browser_json = out.join("browser.json");
    let browser_ok = match browser {
        Ok(o) if o.status.success() => {
            println!("browser: {}", String::from_utf8_lossy(&o.stdout).trim());
            fs::write(&browser_json, &o.stdout).is_ok()
        }
        Ok(o) => {
            say(&format!(
                "browser bench failed: {}",
                String::from_utf8_lossy(&o.stderr)
            ));
            false
        }
        Err(e) => {
            say(&format!("could not run node: {e}"));
            false
        }
    };
    if !peers {
        say("BENCHMARKS.md is written by `cargo xtask bench --peers` (Sillage side by side with its peers)");
        return native && browser_ok;
    }
    // Progress goes to stderr (inherited); the figures to peers.json.
    let peers_json = out.join("peers.json");
    let _ = fs::remove_file(&peers_json);
    let side_by_side = run(Command::new("node").args([
        "tests/bench/peers.mjs",
        "--reps",
        "5",
        "--out",
        &peers_json.to_string_lossy(),
    ]));
    let mut report = Command::new("node");
    report.args(["tests/bench/report.mjs", "--project"]);
    report
        .arg(&project)
        .arg("--command")
        .arg("cargo xtask bench --peers");
    if browser_ok {
        report.arg("--browser").arg(&browser_json);
    }
    // peers.mjs writes what it measured even when a scenario failed.
    if peers_json.exists() {
        report.arg("--peers").arg(&peers_json);
    }
    report.args(["--out", "BENCHMARKS.md"]);
    let written = run(&mut report);
    if written {
        say("wrote BENCHMARKS.md");
    }
    native && browser_ok && side_by_side && written
}

/// The loader's promise in the README: under 1 KB gzip.
const LOADER_GZIP_MAX: u64 = 1024;

/// What [`size_report`] measured and concluded.
struct SizeReport {
    /// Whether the gzip total is within `size-budget.json`.
    within_budget: bool,
    /// Whether the loader is under [`LOADER_GZIP_MAX`] gzip.
    loader_ok: bool,
    /// Whether no diagnostic's sentence is in a shipped wasm
    /// ([`sentences_in_wasm`]).
    sentences_out: bool,
}

/// Prints raw, gzip and brotli sizes of the loader, the glue and the wasm
/// (compressed by Node's zlib, which every machine here has) and checks the
/// gzip total against `size-budget.json` and the loader against its 1 KB.
fn size_report() -> Option<SizeReport> {
    let files = SDK_FILES;
    let paths: Vec<String> = files.iter().map(|f| format!("{SDK_DIR}/{f}")).collect();
    if let Some(missing) = paths.iter().find(|p| !Path::new(p).exists()) {
        say(&format!(
            "{missing} is missing: run `cargo xtask build` first"
        ));
        return None;
    }
    let script = "const z=require('zlib'),fs=require('fs');for(const f of process.argv.slice(1)){const b=fs.readFileSync(f);console.log([b.length,z.gzipSync(b,{level:9}).length,z.brotliCompressSync(b,{params:{[z.constants.BROTLI_PARAM_QUALITY]:11}}).length].join(' '))}";
    let mut args = vec!["-e", script];
    args.extend(paths.iter().map(String::as_str));
    let out = output_of("node", &args)?;
    let rows: Vec<[u64; 3]> = out
        .lines()
        .map(|l| {
            let v: Vec<u64> = l.split(' ').filter_map(|x| x.parse().ok()).collect();
            [v[0], v[1], v[2]]
        })
        .collect();
    let budgets = fs::read_to_string("size-budget.json").unwrap_or_default();
    let budget = |key: &str| -> Option<u64> {
        let quoted = format!("\"{key}\"");
        let i = budgets.find(&quoted)?;
        let rest = budgets[i + quoted.len()..]
            .trim_start()
            .strip_prefix(':')?
            .trim_start();
        rest.split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse::<u64>()
            .ok()
    };
    println!("{:<22} {:>9} {:>9} {:>9}", "file", "raw", "gzip", "brotli");
    for (f, r) in files.iter().zip(&rows) {
        println!("{:<22} {:>9} {:>9} {:>9}", f, r[0], r[1], r[2]);
    }
    // What each kind of page loads: the loader, the tracking module's glue
    // and wasm; a page with slots (and a config with rules) also the
    // personalization module's.
    let sum = |files: &[usize]| {
        let mut t = [0u64; 3];
        for r in files.iter().filter_map(|i| rows.get(*i)) {
            for i in 0..3 {
                t[i] += r[i];
            }
        }
        t
    };
    // A page whose slots come later (a single-page app) loads the tracking
    // module, then the personalization module: reported, not budgeted.
    let late = sum(&[0, 1, 2, 5, 6]);
    println!(
        "{:<22} {:>9} {:>9} {:>9}",
        "slots added later", late[0], late[1], late[2]
    );
    let mut within_budget = true;
    for (what, files, key) in [
        ("page without slots", &[0, 1, 2][..], "gzipPageWithoutSlots"),
        ("page with slots", &[0, 3, 4][..], "gzipPageWithSlots"),
    ] {
        let t = sum(files);
        println!("{:<22} {:>9} {:>9} {:>9}", what, t[0], t[1], t[2]);
        match budget(key) {
            None => {
                say(&format!("size-budget.json has no {key}"));
                within_budget = false;
            }
            Some(b) => {
                let ok = t[1] <= b;
                within_budget &= ok;
                say(&format!(
                    "{what}: {} bytes gzip ({:.1} KB), brotli {} ({:.1} KB), against a budget of {} bytes ({:.1} KB): {}",
                    t[1],
                    t[1] as f64 / 1024.0,
                    t[2],
                    t[2] as f64 / 1024.0,
                    b,
                    b as f64 / 1024.0,
                    if ok { "within budget" } else { "OVER BUDGET" }
                ));
            }
        }
    }
    let loader_gzip = rows.first().map_or(u64::MAX, |r| r[1]);
    let loader_ok = loader_gzip <= LOADER_GZIP_MAX;
    say(&format!(
        "loader {loader_gzip} bytes gzip against its {LOADER_GZIP_MAX}: {}",
        if loader_ok { "ok" } else { "TOO LARGE" }
    ));
    let sentences_out = sentences_in_wasm().is_some_and(|f| {
        for t in &f {
            say(&format!("in the wasm: {t:?}"));
        }
        f.is_empty()
    });
    Some(SizeReport {
        within_budget,
        loader_ok,
        sentences_out,
    })
}

#[cfg(test)]
mod tests {
    use super::{api_problems, declared_functions, Counts};

    /// wasm-bindgen's `.d.ts` and the hand-written one name their
    /// functions the same way; overloads count once.
    #[test]
    fn declared_functions_are_read_from_a_dts() {
        let generated = "export function track(event: any, properties: any): void;\n\
            export function initSync(module: { module: SyncInitInput } | SyncInitInput): InitOutput;\n\
            export interface InitOutput {\n  readonly replay: (a: any) => void;\n}\n\
            export default function __wbg_init (module_or_path?: any): Promise<InitOutput>;\n";
        let public =
            "/** Records a page view. */\nexport function page(properties?: Properties): void;\n\
            export function page(name: string, properties?: Properties): void;\n\
            export type Stage = Profile['stage'];\n\
            export default function init(options?: {}): Promise<unknown>;\n";
        let names = |s: &str| declared_functions(s).into_iter().collect::<Vec<_>>();
        assert_eq!(names(generated), ["default", "initSync", "track"]);
        assert_eq!(names(public), ["default", "page"]);
        let ours = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../types/sillage.d.ts"
        ))
        .unwrap();
        assert!(declared_functions(&ours).contains("track"));
        assert!(!declared_functions(&ours).contains("replay"));
    }

    /// The build fails when the module and its types disagree.
    #[test]
    fn the_public_types_must_match_the_exports() {
        let generated = "export function track(event: any, properties: any): void;\n\
            export function flush(): Promise<any>;\n\
            export function initSync(module: SyncInitInput): InitOutput;\n\
            export default function __wbg_init (module_or_path?: any): Promise<InitOutput>;\n";
        let public = "export function track(event: string, properties?: Properties): void;\n\
            export function initSync(options: { module: BufferSource }): unknown;\n\
            export function profile(): Profile | null;\n\
            export default function init(): Promise<unknown>;\n";
        assert_eq!(
            api_problems(generated, public, true),
            [
                "profile() is declared but not exported",
                "flush() is exported but not declared (type it, or mark it `skip_typescript` if it is internal)"
            ]
        );
        // The personalization module's functions are internal.
        assert_eq!(
            api_problems(generated, public, false),
            ["profile() is declared but not exported"]
        );
        assert!(api_problems(generated, generated, true).is_empty());
        assert_eq!(api_problems("", public, true).len(), 1);
    }

    /// Lines as cargo, wasm-bindgen-test-runner and Playwright print them.
    #[test]
    fn runner_output_is_counted() {
        let mut c = Counts::default();
        for line in [
            "test core::a ... ok",
            "test core::b ... ignored",
            "test core::c ... ignored, needs a network",
            "test result: ok. 5 passed; 1 failed; 2 ignored; 0 measured; 0 filtered out; finished in 0.1s",
            "  \u{1b}[32m✓\u{1b}[39m  1 tests/e2e/a.spec.ts:2:1 › runs (13ms)",
            "  -  2 tests/e2e/a.spec.ts:3:6 › is skipped",
            "  1 skipped",
            "  3 passed (991ms)",
            "  1 flaky",
            "  2 failed",
            "  1 did not run",
        ] {
            c.read(line);
        }
        assert_eq!((c.passed, c.failed, c.skipped), (8, 4, 4));
        assert_eq!(
            c.names,
            [
                "core::b",
                "core::c",
                "2 tests/e2e/a.spec.ts:3:6 › is skipped"
            ]
        );
    }
}
