//! Per-address token buckets: the rate limit of the ingestion routes and of
//! the visitor view.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use crate::{error, AppState};

/// A rate: `per_second` tokens added per second, at most `burst` saved up.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    /// Sustained requests per second.
    pub per_second: f64,
    /// Requests that may come at once after a quiet spell.
    pub burst: f64,
}

/// Buckets beyond this many are pruned of the full ones (idle addresses).
const PRUNE_ABOVE: usize = 10_000;

/// One token bucket per client address (per /64 for IPv6, since a client
/// gets a whole /64 and can rotate addresses inside it).
pub struct Limiter {
    rate: Rate,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl Limiter {
    /// A limiter with every bucket starting full.
    pub fn new(rate: Rate) -> Limiter {
        Limiter {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `ip` at `now`; `Err(wait)` if there is none, with
    /// how long until there is one.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let Rate { per_second, burst } = self.rate;
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.saturating_duration_since(*at).as_secs_f64() * per_second < burst
            });
        }
        let (tokens, at) = buckets.entry(key(ip)).or_insert((burst, now));
        *tokens =
            (*tokens + now.saturating_duration_since(*at).as_secs_f64() * per_second).min(burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / per_second))
        }
    }
}

fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

/// The client's address: with `--client-ip-header`, the last address in that
/// header (the one the proxy in front of the collector appended; earlier ones
/// are the client's say-so), else the TCP peer.
pub fn client_ip(
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
    from: Option<&HeaderName>,
) -> Option<IpAddr> {
    if let Some(name) = from {
        let last = headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse::<IpAddr>().ok())
            .next_back();
        if last.is_some() {
            return last;
        }
    }
    peer.map(|p| p.ip())
}

/// Which limiter a route uses.
#[derive(Clone, Copy)]
pub enum Which {
    /// `POST /v1/batch`, `/v1/b`, `/v1/forget`.
    Ingest,
    /// `GET /v1/me/events`.
    Visitor,
}

/// Middleware: 429 with `Retry-After` (whole seconds, at least 1) when the
/// client's bucket is empty. A request whose address is unknown shares one
/// bucket with the others like it.
pub async fn rate_limited(
    State((state, which)): State<(AppState, Which)>,
    req: Request,
    next: Next,
) -> Response {
    let limiter = match which {
        Which::Ingest => state.inner.ingest_limit.as_ref(),
        Which::Visitor => Some(&state.inner.visitor_limit),
    };
    let Some(limiter) = limiter else {
        return next.run(req).await;
    };
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let ip = client_ip(req.headers(), peer, state.options.client_ip_header.as_ref())
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    match limiter.check(ip, Instant::now()) {
        Ok(()) => next.run(req).await,
        Err(wait) => {
            state
                .inner
                .stats
                .rate_limited
                .fetch_add(1, Ordering::Relaxed);
            let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
            let mut res = error(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "rate limit: at most {} requests per second from one address (bursts of {}); retry in {secs} s",
                    limiter.rate.per_second, limiter.rate.burst
                ),
            );
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            res
        }
    }
}
