//! Calendar arithmetic on epoch milliseconds, without a clock and without
//! `core::fmt`: the caller passes `now`, the core formats and parses.

use crate::support::diag::push_u64;
use crate::support::strsearch::CharSearch;

/// Milliseconds since the Unix epoch, as JavaScript's `Date.now()` gives them.
pub type Millis = f64;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The (year, month, day) of a day count since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn push_digits(out: &mut String, v: i64, width: usize) {
    let mut buf = [b'0'; 12];
    let mut v = v.unsigned_abs();
    let mut i = buf.len();
    while v > 0 || buf.len() - i < width {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    for &b in &buf[i..] {
        out.push(b as char);
    }
}

/// ISO-8601 UTC with milliseconds: `2026-11-23T05:24:08.123Z`.
pub fn iso8601(ms: Millis) -> String {
    let ms = if ms.is_finite() { ms.floor() as i64 } else { 0 };
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (y, mo, d) = civil_from_days(days);
    let mut s = String::with_capacity(24);
    push_digits(&mut s, y, 4);
    s.push('-');
    push_digits(&mut s, mo as i64, 2);
    s.push('-');
    push_digits(&mut s, d as i64, 2);
    s.push('T');
    push_digits(&mut s, rem / 3_600_000, 2);
    s.push(':');
    push_digits(&mut s, rem / 60_000 % 60, 2);
    s.push(':');
    push_digits(&mut s, rem / 1000 % 60, 2);
    s.push('.');
    push_digits(&mut s, rem % 1000, 3);
    s.push('Z');
    s
}

fn parse_num(s: &str) -> Option<i64> {
    if s.len() > 10 {
        return None;
    }
    crate::support::diag::parse_u64(s).map(|n| n as i64)
}

/// Parses an HTTP `Retry-After` value, either delay-seconds or an IMF-fixdate
/// (`Wed, 21 Oct 2015 07:28:00 GMT`), into a delay in milliseconds from `now`.
/// A date in the past gives 0. Anything else gives `None`.
pub fn parse_retry_after(value: &str, now: Millis) -> Option<Millis> {
    let v = value.trim();
    if let Some(secs) = parse_num(v) {
        return Some(secs as f64 * 1000.0);
    }
    // IMF-fixdate: day-name "," SP date1 SP time-of-day SP GMT
    let rest = v.split_at_char(',')?.1.strip_prefix(' ')?;
    let mut it = rest.split(' ');
    let day = parse_num(it.next()?)?;
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mon = it.next()?;
    let month = MONTHS.iter().position(|m| *m == mon)? as u32 + 1;
    let year = parse_num(it.next()?)?;
    let mut hms = it.next()?.split(':');
    let (h, mi, se) = (
        parse_num(hms.next()?)?,
        parse_num(hms.next()?)?,
        parse_num(hms.next()?)?,
    );
    if it.next()? != "GMT" || it.next().is_some() || day > 31 || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let at = (days_from_civil(year, month, day as u32) * 86_400 + h * 3600 + mi * 60 + se) as f64
        * 1000.0;
    Some((at - now).max(0.0))
}

/// Local time at `now` for a `Date#getTimezoneOffset` of `offset_min`:
/// (hour, weekday with 0 = Sunday, `YYYY-MM-DD`).
pub fn local_time(now: Millis, offset_min: f64) -> (u8, u8, String) {
    let local = now - offset_min * 60_000.0;
    let days = (local / 86_400_000.0).floor();
    let ms_of_day = local - days * 86_400_000.0;
    let (y, m, d) = civil_from_days(days as i64);
    let mut date = String::with_capacity(10);
    push_u64(&mut date, y.max(0) as u64);
    for n in [m, d] {
        date.push('-');
        if n < 10 {
            date.push('0');
        }
        push_u64(&mut date, u64::from(n));
    }
    // 1970-01-01 was a Thursday.
    let weekday = ((days as i64 + 4).rem_euclid(7)) as u8;
    ((ms_of_day / 3_600_000.0) as u8, weekday, date)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_iso8601() {
        assert_eq!(iso8601(0.0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_795_411_448_123.0), "2026-11-23T05:24:08.123Z");
        assert_eq!(iso8601(951_782_400_000.0), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn civil_round_trip() {
        for d in (-800_000..800_000).step_by(997) {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("3", 0.0), Some(3000.0));
        assert_eq!(parse_retry_after(" 120 ", 0.0), Some(120_000.0));
        let now = 1_445_412_470_000.0; // 2015-10-21T07:27:50Z
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(10_000.0)
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now + 60_000.0),
            Some(0.0)
        );
        assert_eq!(parse_retry_after("-1", 0.0), None);
        assert_eq!(parse_retry_after("soon", 0.0), None);
        assert_eq!(
            parse_retry_after("Wed, 21 Foo 2015 07:28:00 GMT", 0.0),
            None
        );
    }

    #[test]
    fn local_time_follows_the_page_s_time_zone() {
        // 2026-03-14T19:30:00Z, a Saturday.
        let now = 1_773_516_600_000.0;
        assert_eq!(local_time(now, 0.0), (19, 6, "2026-03-14".to_string()));
        // UTC+5 (getTimezoneOffset -300): past midnight, Sunday.
        assert_eq!(local_time(now, -300.0), (0, 0, "2026-03-15".to_string()));
        // UTC-8.
        assert_eq!(local_time(now, 480.0), (11, 6, "2026-03-14".to_string()));
    }
}
