//! The command line (clap). `serve` is the default subcommand: the flags of
//! `sillage-collector serve ...` are accepted without it.

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::http::HeaderName;
use clap::{Args, Parser, Subcommand};

use crate::forward::ForwardOptions;
use crate::limit::Rate;
use crate::Options;

/// The reference collector for Sillage: stores Segment-Spec batches exactly
/// once in SQLite, serves the demo store and the SDK, and can relay to an
/// upstream pipeline.
#[derive(Debug, Parser)]
#[command(
    name = "sillage-collector",
    version,
    args_conflicts_with_subcommands = true,
    after_help = "Without a subcommand, `serve` runs with the flags given. See collector/README.md."
)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The flags of `serve`, when no subcommand is named.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the collector (the default).
    Serve(Box<ServeArgs>),
    /// Write the journey report (HTML, and JSON with --json) from a
    /// collector database, read-only; `report --help` lists its flags
    #[command(disable_help_flag = true)]
    Report {
        /// The report's flags
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Write sample events into a collector database (to try or time the
    /// report); `fixture --help` lists its flags
    #[command(disable_help_flag = true)]
    Fixture {
        /// The fixture's flags
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

impl Cli {
    /// The serve flags, whether `serve` was named or not (their defaults
    /// when another subcommand is).
    pub fn serve_args(self) -> ServeArgs {
        match self.command {
            Some(Command::Serve(a)) => *a,
            _ => self.serve,
        }
    }
}

/// Flags of `serve`.
#[derive(Debug, Args, Clone)]
pub struct ServeArgs {
    /// Where to listen; port 0 picks a free port (the first line on stdout
    /// says which: `sillage-collector listening on http://ADDR`)
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// The SQLite file
    #[arg(long, value_name = "PATH", default_value = "sillage-events.db")]
    pub db: PathBuf,

    /// Served at / (with the response headers of www/_headers)
    #[arg(long, value_name = "DIR", default_value = "www")]
    pub www: PathBuf,

    /// The built SDK, served at /sillage/ (with its .br/.gz files if present)
    #[arg(long, value_name = "DIR", default_value = "target/sillage-sdk")]
    pub sdk: PathBuf,

    /// Browser origins allowed to send batches and forget requests
    /// (repeatable or comma-separated; `*` for any, the default). Also the
    /// origins allowed to read the visitor view cross-origin.
    #[arg(
        long = "origins",
        visible_alias = "allow-origin",
        value_name = "ORIGIN",
        value_delimiter = ',',
        value_parser = parse_origin
    )]
    pub origins: Vec<String>,

    /// Accept only batches (and forget requests) carrying this write key, in
    /// the body's `writeKey` or as Basic auth user name; 401 otherwise
    #[arg(
        long,
        value_name = "KEY",
        env = "SILLAGE_WRITE_KEY",
        hide_env_values = true
    )]
    pub write_key: Option<String>,

    /// The Bearer token of the read and admin routes (at least 16
    /// characters); without one they answer 401
    #[arg(
        long,
        value_name = "TOKEN",
        env = "SILLAGE_ADMIN_TOKEN",
        hide_env_values = true,
        value_parser = parse_token
    )]
    pub admin_token: Option<String>,

    /// Turn on GET /v1/me/events: a visitor reads their own events by
    /// presenting their anonymousId (see the threat model in the README)
    #[arg(long)]
    pub visitor_view: bool,

    /// Requests per second one client address may make to the ingestion
    /// routes, sustained (0 turns the limit off)
    #[arg(long, value_name = "N", default_value_t = 50.0, value_parser = parse_rate)]
    pub rate_limit: f64,

    /// Requests one client address may make at once after a quiet spell
    #[arg(long, value_name = "N", default_value_t = 200.0, value_parser = parse_rate)]
    pub rate_burst: f64,

    /// Take the client address from this header's last entry (set by the
    /// one reverse proxy in front of the collector), e.g. X-Forwarded-For
    #[arg(long, value_name = "HEADER")]
    pub client_ip_header: Option<HeaderName>,

    /// Delete events received more than this many days ago (at start, then
    /// daily); events are kept forever without it
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..))]
    pub retention_days: Option<u32>,

    /// Relay: forward every stored event once to this Segment-compatible
    /// batch endpoint, with a durable retry queue in the database
    #[arg(long, value_name = "URL", value_parser = parse_url)]
    pub forward: Option<String>,

    /// The write key of the upstream (Basic auth and `writeKey`); without it
    /// each batch is forwarded with the write key it came with
    #[arg(
        long,
        value_name = "KEY",
        requires = "forward",
        env = "SILLAGE_FORWARD_WRITE_KEY",
        hide_env_values = true
    )]
    pub forward_write_key: Option<String>,

    /// Enable POST/DELETE /v1/faults (fault injection, for tests only)
    #[arg(long)]
    pub faults: bool,
}

impl ServeArgs {
    /// The address to listen on and the collector's options.
    pub fn into_options(self) -> (SocketAddr, Options) {
        let rate = (self.rate_limit > 0.0).then_some(Rate {
            per_second: self.rate_limit,
            burst: self.rate_burst.max(1.0),
        });
        let forward = self.forward.map(|url| ForwardOptions {
            write_key: self.forward_write_key,
            ..ForwardOptions::new(url)
        });
        let options = Options {
            db: self.db,
            www: self.www,
            sdk: self.sdk,
            origins: if self.origins.is_empty() {
                vec!["*".into()]
            } else {
                self.origins
            },
            write_key: self.write_key,
            admin_token: self.admin_token,
            visitor_view: self.visitor_view,
            rate_limit: rate,
            client_ip_header: self.client_ip_header,
            retention_days: self.retention_days,
            forward,
            faults: self.faults,
        };
        (self.addr, options)
    }
}

/// `*`, or an origin: `scheme://host[:port]` with no path.
pub fn parse_origin(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s == "*" {
        return Ok(s.into());
    }
    let Some((scheme, host)) = s.split_once("://") else {
        return Err(format!(
            "{s:?} is not an origin (expected scheme://host[:port], or *)"
        ));
    };
    if !matches!(scheme, "http" | "https") || host.is_empty() || host.contains(['/', '?', '#', ' '])
    {
        return Err(format!(
            "{s:?} is not an origin (expected http(s)://host[:port] with no path, or *)"
        ));
    }
    // Browsers send origins in lower case.
    Ok(s.to_ascii_lowercase())
}

/// A rate: a finite number, 0 or more.
pub fn parse_rate(s: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .ok()
        .filter(|r| r.is_finite() && *r >= 0.0)
        .ok_or_else(|| format!("{s:?} is not a number of requests, 0 or more"))
}

/// An admin token: at least 16 visible ASCII characters.
pub fn parse_token(s: &str) -> Result<String, String> {
    if s.len() < 16 {
        return Err(format!("must be at least 16 characters, got {}", s.len()));
    }
    if !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("must be visible ASCII characters, without spaces".into());
    }
    Ok(s.into())
}

/// An http(s) URL.
pub fn parse_url(s: &str) -> Result<String, String> {
    let u = reqwest::Url::parse(s).map_err(|e| format!("{s:?}: {e}"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(format!("{s:?}: expected an http or https URL"));
    }
    Ok(s.into())
}
