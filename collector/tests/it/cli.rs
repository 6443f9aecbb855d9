//! The real binary: its command line, serving over TCP, graceful shutdown.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};

use crate::{batch, TOKEN};

const BIN: &str = env!("CARGO_BIN_EXE_sillage-collector");

/// The binary, running on a free port.
pub struct Server {
    child: Child,
    pub addr: String,
}

impl Server {
    /// Starts it on `db` with `args` (and the admin token in its environment).
    pub fn start(db: &Path, args: &[&str]) -> Server {
        let dir = db.parent().unwrap().to_str().unwrap();
        let mut child = Command::new(BIN)
            .args(["--addr", "127.0.0.1:0", "--db"])
            .arg(db)
            .args(["--www", dir, "--sdk", dir])
            .args(args)
            .env("SILLAGE_ADMIN_TOKEN", TOKEN)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("sillage-collector listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Server { child, addr }
    }

    /// SIGTERM, then the exit status.
    pub fn stop(&mut self) -> ExitStatus {
        assert!(Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap()
            .success());
        self.child.wait().unwrap()
    }
}

/// Sends one HTTP/1.1 request over TCP; returns the status code and body.
fn http(addr: &str, method: &str, path: &str, headers: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/plain\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split(' ').nth(1).unwrap().parse().unwrap();
    (
        status,
        out.split("\r\n\r\n").nth(1).unwrap_or("").to_string(),
    )
}

#[test]
fn the_binary_serves_and_keeps_acknowledged_events_across_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("e.db");
    let mut server = Server::start(&db, &[]);
    let (status, body) = http(&server.addr, "POST", "/v1/batch", "", &batch(&["d1", "d2"]));
    assert_eq!(status, 200, "{body}");
    assert_eq!(http(&server.addr, "GET", "/health", "", "").0, 200);
    // The token comes from SILLAGE_ADMIN_TOKEN.
    assert_eq!(http(&server.addr, "GET", "/v1/stats", "", "").0, 401);
    let auth = format!("Authorization: Bearer {TOKEN}\r\n");
    let (status, body) = http(&server.addr, "GET", "/v1/stats", &auth, "");
    assert_eq!(status, 200);
    assert!(body.contains("\"eventsInserted\":2"), "{body}");
    assert!(server.stop().success(), "graceful exit");
    let c = rusqlite::Connection::open(&db).unwrap();
    let n: i64 = c
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);
}

#[test]
fn the_relay_queue_survives_a_shutdown_during_an_upstream_outage() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("e.db");
    // Nothing listens on the upstream's port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{closed}/v1/batch");
    let mut server = Server::start(&db, &["--forward", &url]);
    let (status, _) = http(
        &server.addr,
        "POST",
        "/v1/batch",
        "",
        &batch(&["q1", "q2", "q3"]),
    );
    assert_eq!(status, 200);
    let auth = format!("Authorization: Bearer {TOKEN}\r\n");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !http(&server.addr, "GET", "/v1/stats", &auth, "")
        .1
        .contains("\"forwardRetries\":2")
    {
        assert!(std::time::Instant::now() < deadline, "the relay retries");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // SIGTERM while the relay waits to retry: a clean exit, the queue kept.
    assert!(server.stop().success());
    let c = rusqlite::Connection::open(&db).unwrap();
    let n: i64 = c
        .query_row("SELECT count(*) FROM forward_queue", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 3);
}

#[test]
fn a_sigterm_as_soon_as_the_address_is_printed_is_graceful() {
    // A harness stops the collector as soon as it has read the first line:
    // the signal handlers must be in place by then.
    let dir = tempfile::tempdir().unwrap();
    for i in 0..10 {
        let mut server = Server::start(&dir.path().join("e.db"), &[]);
        assert!(server.stop().success(), "round {i}");
    }
}

#[test]
fn the_binary_rate_limits_by_the_tcp_peer_address() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(
        &dir.path().join("e.db"),
        &["--rate-limit", "0.1", "--rate-burst", "2"],
    );
    let statuses: Vec<u16> = (0..3)
        .map(|i| {
            http(
                &server.addr,
                "POST",
                "/v1/batch",
                "",
                &batch(&[&format!("r{i}")]),
            )
            .0
        })
        .collect();
    assert_eq!(statuses, [200, 200, 429]);
    assert!(server.stop().success());
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("SILLAGE_ADMIN_TOKEN")
        .env_remove("SILLAGE_WRITE_KEY")
        .output()
        .unwrap()
}

#[test]
fn help_and_version_print_to_stdout_and_exit_0() {
    for flag in ["--help", "-h", "serve --help"] {
        let out = run(&flag.split(' ').collect::<Vec<_>>());
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{flag}");
        assert!(
            stdout.contains("Usage: sillage-collector"),
            "{flag}: {stdout}"
        );
        for f in [
            "--addr",
            "--db",
            "--www",
            "--sdk",
            "--origins",
            "--write-key",
            "--admin-token",
            "--visitor-view",
            "--rate-limit",
            "--rate-burst",
            "--client-ip-header",
            "--retention-days",
            "--forward",
            "--forward-write-key",
            "--faults",
        ] {
            assert!(stdout.contains(f), "{flag} does not mention {f}");
        }
        assert!(
            stdout.contains("allow-origin"),
            "the old name is shown as an alias"
        );
    }
    let out = run(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("sillage-collector {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn bad_arguments_exit_2_naming_them() {
    let cases: &[(&[&str], &str)] = &[
        (&["--port", "80"], "unexpected argument '--port'"),
        (&["serve", "--bogus"], "unexpected argument '--bogus'"),
        (
            &["--addr", "localhost"],
            "invalid value 'localhost' for '--addr <HOST:PORT>'",
        ),
        (
            &["--origins", "shop.example"],
            "\"shop.example\" is not an origin (expected scheme://host[:port], or *)",
        ),
        (
            &["--allow-origin", "https://shop.example/path"],
            "is not an origin (expected http(s)://host[:port] with no path, or *)",
        ),
        (
            &["--admin-token", "short"],
            "must be at least 16 characters, got 5",
        ),
        (
            &["--retention-days", "0"],
            "invalid value '0' for '--retention-days <DAYS>'",
        ),
        (
            &["--forward", "ftp://x.example/v1/batch"],
            "expected an http or https URL",
        ),
        (&["--forward-write-key", "k"], "--forward <URL>"),
        (&["bogus"], "unrecognized subcommand 'bogus'"),
        (
            &["--rate-limit=-1"],
            "\"-1\" is not a number of requests, 0 or more",
        ),
        (
            &["--rate-burst", "inf"],
            "\"inf\" is not a number of requests, 0 or more",
        ),
    ];
    for (args, want) in cases {
        let out = run(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
    }
}

#[test]
fn the_flags_become_options() {
    use clap::Parser;
    use sillage_collector::cli::Cli;
    let parse = |args: &[&str]| {
        let mut v = vec!["sillage-collector"];
        v.extend_from_slice(args);
        Cli::try_parse_from(v).unwrap().serve_args().into_options()
    };
    let (addr, o) = parse(&[]);
    assert_eq!(addr.to_string(), "127.0.0.1:8080");
    assert_eq!(o.origins, ["*"]);
    assert_eq!(
        o.rate_limit,
        Some(sillage_collector::Rate {
            per_second: 50.0,
            burst: 200.0
        })
    );
    assert!(!o.visitor_view && !o.faults && o.forward.is_none() && o.retention_days.is_none());
    // serve is the default subcommand; --allow-origin is --origins; lists
    // may be comma-separated.
    for args in [
        &["serve", "--origins", "https://A.example,https://b.example"][..],
        &[
            "--allow-origin",
            "https://a.example",
            "--origins",
            "https://b.example",
        ][..],
    ] {
        assert_eq!(
            parse(args).1.origins,
            ["https://a.example", "https://b.example"],
            "{args:?}"
        );
    }
    let (_, o) = parse(&[
        "--rate-limit",
        "0",
        "--visitor-view",
        "--retention-days",
        "30",
        "--forward",
        "https://api.segment.io/v1/batch",
        "--forward-write-key",
        "up",
        "--write-key",
        "wk",
        "--admin-token",
        "0123456789abcdef",
        "--client-ip-header",
        "X-Forwarded-For",
    ]);
    assert_eq!(o.rate_limit, None);
    assert!(o.visitor_view);
    assert_eq!(o.retention_days, Some(30));
    let f = o.forward.unwrap();
    assert_eq!(
        (f.url.as_str(), f.write_key.as_deref()),
        ("https://api.segment.io/v1/batch", Some("up"))
    );
    assert_eq!(o.write_key.as_deref(), Some("wk"));
    assert_eq!(o.admin_token.as_deref(), Some("0123456789abcdef"));
    assert_eq!(o.client_ip_header.unwrap().as_str(), "x-forwarded-for");
}
