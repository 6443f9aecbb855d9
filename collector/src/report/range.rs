//! The report's date range, parsed from `from`/`to` (query strings or flags),
//! and the ISO-8601 timestamps of events turned into milliseconds.

use std::fmt;

use serde::Deserialize;
use sillage_core::support::time::{days_from_civil, iso8601};

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;

/// Which events a report covers, by their `timestamp` (the time the event
/// happened in the browser): `from` inclusive, `to` exclusive, either open.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Range {
    /// First millisecond included.
    pub from: Option<i64>,
    /// First millisecond excluded.
    pub to: Option<i64>,
}

/// `?from=&to=` of `/report` and `/v1/report` (the lead wires it as
/// `Query<RangeQuery>`, then [`RangeQuery::range`] gives a 400-worthy error).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeQuery {
    /// `YYYY-MM-DD` (from the start of that UTC day) or
    /// `YYYY-MM-DDTHH:MM[:SS[.fff]]Z`.
    pub from: Option<String>,
    /// `YYYY-MM-DD` (up to the end of that UTC day, included) or a UTC time
    /// (excluded).
    pub to: Option<String>,
}

impl RangeQuery {
    /// The range, or an error naming the bad parameter.
    pub fn range(&self) -> Result<Range, RangeError> {
        Range::parse(self.from.as_deref(), self.to.as_deref())
    }
}

/// A bad `from` or `to`: the message names the parameter and the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeError(pub String);

impl fmt::Display for RangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RangeError {}

/// Whether a bound is the range's start or its end.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    From,
    To,
}

impl Range {
    /// Every event.
    pub fn all() -> Range {
        Range::default()
    }

    /// Parses `from` and `to` (absent or empty means open). A date alone
    /// covers its whole UTC day on either side; a time must be UTC (`Z`).
    pub fn parse(from: Option<&str>, to: Option<&str>) -> Result<Range, RangeError> {
        let from_ms = bound("from", from, Side::From)?;
        let to_ms = bound("to", to, Side::To)?;
        if let (Some(f), Some(t), Some(fr), Some(tr)) = (from_ms, to_ms, from, to) {
            if t <= f {
                return Err(RangeError(format!(
                    "to: {:?} ends before from {:?} starts",
                    tr.trim(),
                    fr.trim()
                )));
            }
        }
        let (from, to) = (from_ms, to_ms);
        Ok(Range { from, to })
    }

    /// The inclusive lower bound as the text `timestamp` is compared with.
    pub fn from_text(&self) -> Option<String> {
        self.from.map(|ms| iso8601(ms as f64))
    }

    /// The exclusive upper bound as text.
    pub fn to_text(&self) -> Option<String> {
        self.to.map(|ms| iso8601(ms as f64))
    }
}

fn bound(name: &str, raw: Option<&str>, side: Side) -> Result<Option<i64>, RangeError> {
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let bad = |why: &str| {
        RangeError(format!(
            "{name}: {raw:?} {why} (expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ, in UTC)"
        ))
    };
    if raw.len() == 10 {
        let day = parse_date(raw).ok_or_else(|| bad("is not a valid date"))?;
        let start = day * DAY_MS;
        return Ok(Some(match side {
            Side::From => start,
            Side::To => start + DAY_MS,
        }));
    }
    if !raw.ends_with('Z') && !raw.ends_with('z') {
        return Err(bad("must be a date or a UTC time ending in Z"));
    }
    parse_timestamp(raw)
        .map(Some)
        .ok_or_else(|| bad("is not a valid time"))
}

fn digits(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date, checking the calendar.
pub fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (digits(&s[0..4])?, digits(&s[5..7])?, digits(&s[8..10])?);
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m as u32, d as u32))
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Milliseconds since the epoch of an ISO-8601 timestamp:
/// `YYYY-MM-DDTHH:MM[:SS[.f+]]` followed by `Z` or `±HH:MM` (or nothing,
/// read as UTC). `None` for anything else.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let s = s.trim();
    let day = parse_date(s.get(0..10)?)?;
    let rest = s.get(10..)?;
    let rest = rest.strip_prefix('T').or_else(|| rest.strip_prefix(' '))?;
    let (h, rest) = (digits(rest.get(0..2)?)?, rest.get(2..)?);
    let rest = rest.strip_prefix(':')?;
    let (mi, mut rest) = (digits(rest.get(0..2)?)?, rest.get(2..)?);
    let mut sec = 0;
    let mut ms = 0;
    if let Some(r) = rest.strip_prefix(':') {
        sec = digits(r.get(0..2)?)?;
        rest = r.get(2..)?;
        if let Some(r) = rest.strip_prefix('.') {
            let n = r.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 {
                return None;
            }
            let frac = &r[..n];
            let mut scaled = 0;
            for (i, b) in frac.bytes().take(3).enumerate() {
                scaled += i64::from(b - b'0') * [100, 10, 1][i];
            }
            ms = scaled;
            rest = &r[n..];
        }
    }
    if h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let offset_min = match rest {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let r = rest.get(1..)?;
            let (oh, om) = match r.len() {
                5 if r.as_bytes()[2] == b':' => (digits(r.get(0..2)?)?, digits(r.get(3..5)?)?),
                4 => (digits(r.get(0..2)?)?, digits(r.get(2..4)?)?),
                2 => (digits(r)?, 0),
                _ => return None,
            };
            if oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 60 + om)
        }
    };
    Some(day * DAY_MS + ((h * 60 + mi - offset_min) * 60 + sec) * 1000 + ms)
}

/// `YYYY-MM-DD` of the UTC day holding `ms`.
pub fn day_text(ms: i64) -> String {
    let mut s = iso8601(ms as f64);
    s.truncate(10);
    s
}
