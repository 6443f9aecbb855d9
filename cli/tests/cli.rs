//! The `sillage` binary, run as a site owner would.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn sillage(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sillage"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sillage runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).unwrap()
}

#[test]
fn eval_prints_true_or_false() {
    let c = r#"{"country": {"$in": ["FR", "BE"]}, "age": {"$gte": 18}}"#;
    let yes = sillage(&["eval", c, r#"{"country": "FR", "age": 30}"#], "");
    assert!(yes.status.success());
    assert_eq!(text(&yes.stdout), "true\n");
    let no = sillage(&["eval", c, r#"{"country": "DE", "age": 30}"#], "");
    assert!(no.status.success());
    assert_eq!(text(&no.stdout), "false\n");
}

#[test]
fn eval_uses_saved_groups() {
    let c = r#"{"id": {"$inGroup": "beta"}}"#;
    let a = r#"{"id": "u2"}"#;
    let out = sillage(&["eval", c, a, "--groups", r#"{"beta": ["u1", "u2"]}"#], "");
    assert_eq!(text(&out.stdout), "true\n");
    let out = sillage(&["eval", c, a], "");
    assert_eq!(text(&out.stdout), "false\n");
}

#[test]
fn eval_names_the_bad_argument() {
    let out = sillage(&["eval", "{", "{}"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).starts_with("error: CONDITION is not valid JSON"));
    let out = sillage(&["eval", "{}", "[1,"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).starts_with("error: ATTRIBUTES is not valid JSON"));
    let out = sillage(&["eval", "{}", "{}", "--groups", "x"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).starts_with("error: SAVED_GROUPS is not valid JSON"));
    assert!(out.stdout.is_empty());
}

#[test]
fn eval_warns_about_suspicious_conditions() {
    let out = sillage(&["eval", r#"{"age": {"$gtt": 3}}"#, r#"{"age": 5}"#], "");
    assert_eq!(text(&out.stdout), "false\n");
    assert_eq!(
        text(&out.stderr),
        "warning: age: unknown operator \"$gtt\" (did you mean \"$gt\"?)\n"
    );
}

#[test]
fn batch_answers_every_line_and_goes_on_after_errors() {
    let input = [
        r#"{"condition": {"a": 1}, "attributes": {"a": 1}}"#,
        "not json",
        r#"{"attributes": {"a": 1}}"#,
        r#"{"condition": {"a": {"$regex": "^x"}}, "attributes": {"a": "xyz"}}"#,
        r#"{"condition": {"id": {"$notInGroup": "g"}}, "attributes": {"id": 1}, "savedGroups": {"g": [1]}}"#,
    ]
    .join("\n");
    let out = sillage(&["eval", "--batch"], &input);
    assert!(out.status.success());
    let lines: Vec<String> = text(&out.stdout).lines().map(String::from).collect();
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert_eq!(lines[0], "true");
    assert!(
        lines[1].starts_with("error: line 2: not valid JSON"),
        "{}",
        lines[1]
    );
    assert_eq!(lines[2], "error: line 3: missing \"condition\"");
    assert_eq!(lines[3], "true");
    assert_eq!(lines[4], "false");
}

#[test]
fn unknown_command_prints_usage() {
    let out = sillage(&["nope"], "");
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("unrecognized subcommand 'nope'"), "{err}");
    assert!(err.contains("Usage: sillage <COMMAND>"), "{err}");
    assert!(out.stdout.is_empty());
    let out = sillage(&[], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("Commands:"));
}

const COMMANDS: [&str; 5] = ["touchpoint", "eval", "check", "explain", "schema"];

#[test]
fn help_prints_usage_on_stdout_and_exits_0_everywhere() {
    let mut cases: Vec<(Vec<&str>, String)> = vec![
        (vec!["--help"], "Usage: sillage <COMMAND>".into()),
        (vec!["-h"], "Usage: sillage <COMMAND>".into()),
        (vec!["help"], "Usage: sillage <COMMAND>".into()),
    ];
    for c in COMMANDS {
        let usage = format!("Usage: sillage {c}");
        cases.push((vec!["help", c], usage.clone()));
        cases.push((vec![c, "--help"], usage.clone()));
        cases.push((vec![c, "-h"], usage));
    }
    for (args, want) in &cases {
        let out = sillage(args, "");
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(stdout.contains(want), "{args:?}: {stdout}");
        assert!(stdout.contains("Exit codes:"), "{args:?}: {stdout}");
        assert!(out.stderr.is_empty(), "{args:?}: {}", text(&out.stderr));
    }
    // Every flag is in its command's usage (issue 11: explain's were not).
    for (command, flags) in [
        ("touchpoint", &["--referrer", "--config"][..]),
        ("eval", &["--groups", "--batch"]),
        ("check", &["--deny-warnings"]),
        (
            "explain",
            &[
                "--page",
                "--referrer",
                "--attributes",
                "--consent",
                "--device",
                "--id",
                "--now",
                "--force",
                "--stage",
                "--json",
            ],
        ),
    ] {
        let help = text(&sillage(&[command, "--help"], "").stdout);
        for flag in flags {
            assert!(help.contains(flag), "{command} --help lacks {flag}: {help}");
        }
    }
}

#[test]
fn version_prints_on_stdout_and_exits_0_everywhere() {
    let version = env!("CARGO_PKG_VERSION");
    let mut cases = vec![vec!["--version"], vec!["-V"]];
    for c in COMMANDS {
        cases.push(vec![c, "--version"]);
    }
    for args in &cases {
        let out = sillage(args, "");
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let stdout = text(&out.stdout);
        assert!(
            stdout.starts_with("sillage") && stdout.trim_end().ends_with(version),
            "{args:?}: {stdout}"
        );
    }
}

#[test]
fn an_unknown_flag_is_a_usage_error_that_names_it() {
    for c in COMMANDS {
        let out = sillage(&[c, "--bogus"], "");
        assert_eq!(out.status.code(), Some(2), "{c}");
        let err = text(&out.stderr);
        assert!(err.contains("unexpected argument '--bogus'"), "{c}: {err}");
        assert!(err.contains(&format!("Usage: sillage {c}")), "{c}: {err}");
        assert!(out.stdout.is_empty(), "{c}");
    }
    let out = sillage(&["check", "--deny-warning", "c.json"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("a similar argument exists: '--deny-warnings'"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn bad_option_values_are_usage_errors() {
    let p = files("bad-values", &[("c.json", STORE), ("p.json", "{}")]);
    for (args, want) in [
        (
            vec!["explain", &p[0], &p[1], "--device", "phone"],
            "invalid value 'phone' for '--device <DEVICE>'",
        ),
        (
            vec!["explain", &p[0], &p[1], "--stage", "buying"],
            "invalid value 'buying' for '--stage <STAGE>'",
        ),
        (
            vec!["explain", &p[0], &p[1], "--consent", "{"],
            "invalid value '{' for '--consent <JSON>': not valid JSON",
        ),
        (
            vec!["explain", &p[0], &p[1], "--now", "soon"],
            "invalid value 'soon' for '--now <EPOCH_MS>'",
        ),
        (
            vec!["eval", "--batch", "{}"],
            "the argument '--batch' cannot be used with",
        ),
        (vec!["eval", "{}"], "required arguments were not provided"),
        (vec!["schema", "x"], "unexpected argument 'x'"),
    ] {
        let out = sillage(&args, "");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn touchpoint_classifies_a_landing() {
    let out = sillage(
        &[
            "touchpoint",
            "https://shop.example/?utm_source=flyer&utm_medium=qr&utm_campaign=spring&gclid=x",
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(v["channel"], "Offline");
    assert_eq!(
        (
            v["source"].as_str(),
            v["medium"].as_str(),
            v["campaign"].as_str()
        ),
        (Some("flyer"), Some("qr"), Some("spring"))
    );
    assert_eq!(
        (v["paid"].as_bool(), v["clickIdNetwork"].as_str()),
        (Some(true), Some("Google Ads"))
    );
    let out = sillage(
        &[
            "touchpoint",
            "https://shop.example/",
            "--referrer",
            "https://www.google.fr/",
        ],
        "",
    );
    let v: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(
        (v["channel"].as_str(), v["searchEngine"].as_str()),
        (Some("Organic Search"), Some("google"))
    );
}

#[test]
fn touchpoint_uses_the_site_channel_rules_and_reports_their_errors() {
    let dir = std::env::temp_dir().join(format!("sillage-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("config.json");
    std::fs::write(&cfg, r#"{"version": 1, "channels": {"sources": [{"host": "forum.example", "channel": "Organic Social", "name": "our forum"}, {"host": "x.example", "channel": "Socail"}]}}"#).unwrap();
    let out = sillage(
        &[
            "touchpoint",
            "https://shop.example/",
            "--referrer",
            "https://forum.example/t/1",
            "--config",
            cfg.to_str().unwrap(),
        ],
        "",
    );
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(
        (v["channel"].as_str(), v["source"].as_str()),
        (Some("Organic Social"), Some("our forum"))
    );
    assert!(
        text(&out.stderr).contains("channels.sources[1].channel: unknown channel \"Socail\""),
        "{}",
        text(&out.stderr)
    );
    let bad = sillage(&["touchpoint", "not-a-url"], "");
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("URL: not an absolute http(s) URL"));
    let _ = std::fs::remove_dir_all(dir);
}

/// Writes `files` into a fresh directory; returns their paths.
fn files(test: &str, files: &[(&str, &str)]) -> Vec<String> {
    let dir = std::env::temp_dir().join(format!("sillage-cli-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    files
        .iter()
        .map(|(name, content)| {
            let p = dir.join(name);
            std::fs::write(&p, content).unwrap();
            p.to_str().unwrap().to_string()
        })
        .collect()
}

const STORE: &str = r#"{
  "$schema": "/sillage.schema.json", "version": 1,
  "audiences": {"runner": {"interests.running": {"$gte": 0.5}}},
  "rules": [
    {"id": "vip", "slot": "hero", "priority": 10, "when": {"cart.value": {"$gt": 200}}, "variant": "vip"},
    {"id": "returning-runner", "slot": "hero", "variant": "returning-runner",
     "when": {"audiences": {"$elemMatch": {"$eq": "runner"}}, "visitor.returning": true}},
    {"id": "promo", "slot": "promo", "when": {"page.path": {"$regex": "^/sale"}}, "actions": [{"type": "hide"}]}
  ]
}"#;

#[test]
fn check_is_quiet_and_zero_on_a_clean_config() {
    let p = files("check-ok", &[("c.json", STORE)]);
    let out = sillage(&["check", &p[0]], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert_eq!(
        text(&out.stdout),
        format!(
            "{}: ok (3 rules in 2 slots, 1 audiences, 0 catalog items)\n",
            p[0]
        )
    );
}

#[test]
fn check_prints_every_problem_with_its_path_and_fails() {
    let bad = r#"{"version": 1, "rules": [
        {"id": "a", "slot": "hero", "variant": "v", "when": {"interests.running": {"$gtt": 0.5}}},
        {"id": "b", "slot": "hero", "actions": [{"type": "setAttribute", "name": "href", "value": "javascript:alert(1)"}]}
    ], "audiences": {"x": {"audiences": {"$in": ["x"]}}}, "debug": 1}"#;
    let p = files("check-bad", &[("c.json", bad), ("broken.json", "{")]);
    let out = sillage(&["check", &p[0]], "");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stdout),
        "debug: must be true or false, not number\n\
         audiences.x: audience cycle x -> x\n\
         rules[0].when.interests.running: unknown operator \"$gtt\" (did you mean \"$gt\"?)\n\
         rules[1].actions[0].value: must be an http(s) or relative URL\n"
    );
    assert!(
        text(&out.stderr).contains("4 errors"),
        "{}",
        text(&out.stderr)
    );
    let out = sillage(&["check", &p[1]], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("broken.json is not valid JSON"));
    let out = sillage(&["check"], "");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn explain_prints_each_slot_with_its_reasons() {
    let profile = r#"{"anonymousId": "a1", "interests": {"running": 0.8}, "sessions": 3, "cart": {"items": 1, "value": 40}}"#;
    let p = files("explain", &[("c.json", STORE), ("p.json", profile)]);
    let out = sillage(
        &[
            "explain",
            &p[0],
            &p[1],
            "--page",
            "https://shop.test/sale/shoes",
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "hero: variant \"returning-runner\" (template hero/returning-runner) by rule returning-runner\n\
         \x20 rule vip (priority 10): failed: cart.value {\"$gt\":200} (is 40)\n\
         \x20 rule returning-runner (priority 0): matched\n\
         promo: 1 action by rule promo\n\
         \x20 rule promo (priority 0): matched\n"
    );
    let out = sillage(
        &[
            "explain",
            &p[0],
            &p[1],
            "--attributes",
            r#"{"x": 1}"#,
            "--force",
            "hero/test",
            "--json",
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(v["slots"][0]["variant"], "test");
    assert_eq!(v["slots"][0]["forced"], true);
    assert_eq!(v["slots"][1]["default"], true);
    assert_eq!(v["slots"][1]["why"][0]["clause"], "page.path");
    assert_eq!(v["attributes"]["x"], 1);
    assert_eq!(v["attributes"]["audiences"], serde_json::json!(["runner"]));
    let out = sillage(&["explain", &p[0]], "");
    assert_eq!(out.status.code(), Some(2));
}

/// A config with one rule whose condition is `when`.
fn one_rule(when: &str) -> String {
    format!(
        r#"{{"version": 1, "attributes": ["plan", "account.tier"], "rules": [{{"id": "r", "slot": "hero", "variant": "v", "when": {when}}}]}}"#
    )
}

#[test]
fn check_warns_about_conditions_that_cannot_do_what_was_meant() {
    let stages = "one of discovery, consideration, purchase, post_purchase, loyalty";
    let table: Vec<(String, String)> = vec![
        (
            one_rule(r#"{"stage": "considration"}"#),
            r#"rules[0].when.stage: "considration" is not a stage (did you mean "consideration"?); this condition can never match"#.into(),
        ),
        (
            one_rule(r#"{"stage": {"$in": ["purchase", "buying"]}}"#),
            format!(r#"rules[0].when.stage.$in[1]: "buying" is not a stage ({stages}); this item can never match"#),
        ),
        (
            one_rule(r#"{"device": {"$ne": "Mobile"}}"#),
            r#"rules[0].when.device.$ne: "Mobile" is not a device class (did you mean "mobile"?); this condition always matches"#.into(),
        ),
        (
            one_rule(r#"{"$or": [{"channel": "Organic search"}]}"#),
            r#"rules[0].when.$or[0].channel: "Organic search" is not a channel group (did you mean "Organic Search"?); this condition can never match"#.into(),
        ),
        (
            one_rule(r#"{"Stage": "consideration"}"#),
            r#"rules[0].when.Stage: unknown attribute "Stage" (did you mean "stage"?): neither built in nor declared in the config's "attributes""#.into(),
        ),
        (
            one_rule(r#"{"account.tire": "gold"}"#),
            r#"rules[0].when.account.tire: unknown attribute "account.tire" (did you mean "account.tier"?): neither built in nor declared in the config's "attributes""#.into(),
        ),
        (
            one_rule(r#"{"cart.valeu": {"$gt": 100}}"#),
            r#"rules[0].when.cart.valeu: unknown attribute "cart.valeu" (did you mean "cart.value"?): "cart" has only items, value, categories"#.into(),
        ),
        (
            r#"{"version": 1, "stages": {"signals": [{"id": "x", "stage": "purchase", "points": 1, "when": {"event": "Demo Booked", "sinceEvent": {"event": "Order Complete"}}}]}}"#.into(),
            r#"stages.signals[0].when.sinceEvent.event: "Order Complete" is not in the journey vocabulary (did you mean "Order Completed"?)"#.into(),
        ),
        (
            // The parser reports this one too (for the page's console); it
            // is printed once, as a warning.
            r#"{"version": 1, "stages": {"signals": [{"id": "x", "stage": "purchase", "points": 1, "when": {"event": "Cart Viewd"}}]}}"#.into(),
            r#"stages.signals[0].when.event: "Cart Viewd" is not in the journey vocabulary (did you mean "Cart Viewed"?)"#.into(),
        ),
    ];
    for (i, (config, warning)) in table.iter().enumerate() {
        let p = files(&format!("warn-{i}"), &[("c.json", config)]);
        let out = sillage(&["check", &p[0]], "");
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{config}: {stdout}");
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 2, "{config}: {stdout}");
        assert_eq!(lines[0], format!("warning: {warning}"), "{config}");
        assert!(
            lines[1].starts_with(&format!("{}: ok (", p[0])) && lines[1].ends_with("), 1 warning"),
            "{}",
            lines[1]
        );
        let denied = sillage(&["check", "--deny-warnings", &p[0]], "");
        assert_eq!(denied.status.code(), Some(1), "{config}");
        assert_eq!(text(&denied.stdout), format!("warning: {warning}\n"));
        assert_eq!(
            text(&denied.stderr),
            format!("{}: 1 warning, denied by --deny-warnings\n", p[0])
        );
    }
}

#[test]
fn check_accepts_built_in_and_declared_attributes_and_reports_bad_declarations() {
    let clean = one_rule(
        r#"{"stage": {"$in": ["purchase", "loyalty"]}, "device": "mobile", "channel": {"$ini": ["organic search"]},
            "plan": "pro", "account.tier.level": 2, "interests.trail": {"$gt": 0.5}, "consent.ads": true,
            "signals.cartAbandoned": true, "stageProbability.purchase": {"$gt": 0.4}, "topInterests.0": "trail",
            "audiences.length": 0, "page.path": {"$regex": "^/sale"}}"#,
    );
    let bad = r#"{"version": 1, "attributes": ["plan", "stage.x", "", 3, "plan"],
                  "rules": [{"id": "r", "slot": "hero", "variant": "v", "when": {"stage": "considration", "plan": "pro"}}]}"#;
    let p = files("declared", &[("clean.json", &clean), ("bad.json", bad)]);
    let out = sillage(&["check", "--deny-warnings", &p[0]], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert_eq!(
        text(&out.stdout),
        format!(
            "{}: ok (1 rules in 1 slots, 0 audiences, 0 catalog items)\n",
            p[0]
        )
    );
    let out = sillage(&["check", &p[1]], "");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stdout),
        "attributes[1]: \"stage.x\" is inside the built-in attribute \"stage\", which the site cannot replace or extend\n\
         attributes[2]: \"\" must be a name or a dot path (\"plan\", \"account.tier\")\n\
         attributes[3]: must be an attribute name (a string), not number\n\
         warning: rules[0].when.stage: \"considration\" is not a stage (did you mean \"consideration\"?); this condition can never match\n"
    );
    assert_eq!(
        text(&out.stderr),
        format!(
            "{}: 3 errors (the rules and audiences involved are skipped) and 1 warning\n",
            p[1]
        )
    );
}

#[test]
fn explain_prints_the_warnings_on_stderr() {
    let p = files(
        "explain-warn",
        &[
            ("c.json", &one_rule(r#"{"Stage": "purchase"}"#)),
            ("p.json", "{}"),
        ],
    );
    let out = sillage(&["explain", &p[0], &p[1]], "");
    assert!(out.status.success());
    assert_eq!(
        text(&out.stderr),
        format!("warning: {}: rules[0].when.Stage: unknown attribute \"Stage\" (did you mean \"stage\"?): neither built in nor declared in the config's \"attributes\"\n", p[0])
    );
    assert_eq!(
        text(&out.stdout),
        "hero: the default content: no rule matched\n  rule r (priority 0): failed: Stage \"purchase\" (is missing)\n"
    );
}

#[test]
fn explain_force_is_repeatable() {
    let p = files("explain-force", &[("c.json", STORE), ("p.json", "{}")]);
    let out = sillage(
        &[
            "explain", &p[0], &p[1], "--force", "hero/a", "--force", "promo/b", "--json",
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    let forced: Vec<(&str, &str)> = v["slots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["forced"] == true)
        .map(|s| (s["slot"].as_str().unwrap(), s["variant"].as_str().unwrap()))
        .collect();
    assert_eq!(forced, [("hero", "a"), ("promo", "b")]);
}
