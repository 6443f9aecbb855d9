//! The journey report: known-answer fixtures (every number below is worked
//! out by hand from the journeys in `report::fixture`), the statistics
//! against published values, the date range, the HTML's safety, the JSON
//! and the command line.

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use sillage_collector::report::fixture::{self, Writer, DAY, HOUR, MIN};
use sillage_collector::report::stats::{chi_square_sf, lift, median, srm};
use sillage_collector::report::{self, Range, RangeQuery, Report, Settings};

fn db_with(
    fill: fn(&mut Writer) -> Result<(), String>,
) -> (tempfile::TempDir, rusqlite::Connection) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let mut w = Writer::create(&path).unwrap();
    fill(&mut w).unwrap();
    w.finish().unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    (dir, conn)
}

fn journeys_report(range: &Range) -> Report {
    let (_d, conn) = db_with(fixture::journeys);
    report::build(&conn, range).unwrap()
}

fn close(a: f64, b: f64, what: &str) {
    assert!((a - b).abs() < 1e-9, "{what}: {a} != {b}");
}

#[test]
fn totals_and_funnel_of_the_known_journeys() {
    let r = journeys_report(&Range::all());
    let t = &r.totals;
    // v1, v2, v3, v4, v6, and v5 joined with v5-phone through userId u5.
    assert_eq!(t.visitors, 6);
    // Landings: v1 3, v2 1, v3 2, v4 1, v5 1, v5-phone 1, v6 1.
    assert_eq!((t.sessions, t.touches), (10, 10));
    // o1, o2 (sent twice, counted once), o3.
    assert_eq!((t.orders, t.converting_visitors), (3, 3));
    close(t.revenue, 350.0, "revenue");
    assert_eq!(t.currencies, ["EUR"]);
    assert!(r
        .notes
        .iter()
        .any(|n| n.starts_with("1 repeated Order Completed")));
    let funnel: Vec<(&str, u64)> = r
        .funnel
        .iter()
        .map(|s| (s.stage.as_str(), s.visitors))
        .collect();
    assert_eq!(
        funnel,
        [
            ("discovery", 5),     // all but v6
            ("consideration", 3), // v1, v2, v3
            ("purchase", 4),      // v1, v2, v3, u5
            ("post_purchase", 3), // v1, v2, u5
            ("loyalty", 0),
        ]
    );
    close(r.funnel[0].share, 5.0 / 6.0, "discovery share");
}

#[test]
fn transitions_with_their_median_time_in_the_stage_before() {
    let r = journeys_report(&Range::all());
    let got: Vec<(&str, &str, u64, Option<f64>)> = r
        .transitions
        .iter()
        .map(|t| (t.from.as_str(), t.to.as_str(), t.count, t.median_ms))
        .collect();
    let day = DAY as f64;
    let (min, s) = (MIN as f64, 1000.0);
    assert_eq!(
        got,
        [
            // v1 2 d + 59 s, v2 59 s, v3 1 d + 59 s: the middle one.
            ("discovery", "consideration", 3, Some(day + min - s)),
            // v1, v2, v3 each a minute.
            ("consideration", "purchase", 3, Some(min)),
            // v3 went back two days after its cart.
            ("purchase", "consideration", 1, Some(2.0 * day - 2.0 * min)),
            // v1 2 d + 3 min + 1 s, v2 8 min + 1 s, u5 1 min + 1 s.
            ("purchase", "post_purchase", 3, Some(8.0 * min + s)),
        ]
    );
}

fn paths(rows: &[report::PathRow]) -> Vec<(Vec<&str>, u64)> {
    rows.iter()
        .map(|p| (p.steps.iter().map(String::as_str).collect(), p.visitors))
        .collect()
}

#[test]
fn typical_journeys_before_the_first_order() {
    let r = journeys_report(&Range::all());
    let j = &r.journeys;
    assert_eq!(j.converting_visitors, 3);
    assert_eq!(
        paths(&j.by_channel),
        [
            (vec!["Offline · QR code"], 1),
            (vec!["Paid Search", "Email", "Direct"], 1),
            (vec!["Referral", "Email"], 1),
        ]
    );
    assert_eq!(
        paths(&j.by_stage),
        [
            (vec!["discovery", "consideration", "purchase"], 2), // v1, v2
            (vec!["discovery", "purchase"], 1),                  // u5
        ]
    );
    close(j.by_stage[0].share, 2.0 / 3.0, "share");
}

#[test]
fn channels_by_the_stage_the_visitor_was_in() {
    let r = journeys_report(&Range::all());
    let c = &r.channels_by_stage;
    assert_eq!(
        c.stages,
        [
            "discovery",
            "consideration",
            "purchase",
            "post_purchase",
            "loyalty",
            "(no stage)"
        ]
    );
    let rows: Vec<(&str, Vec<u64>)> = c
        .rows
        .iter()
        .map(|r| (r.channel.as_str(), r.touches.clone()))
        .collect();
    assert_eq!(
        rows,
        [
            // v1 (back with a cart in purchase), v4 (new: its first stage).
            ("Direct", vec![1, 0, 1, 0, 0, 0]),
            // v1 in discovery; u5's phone: u5 was in discovery.
            ("Email", vec![2, 0, 0, 0, 0, 0]),
            // v1 new; v6 never had a stage.
            ("Paid Search", vec![1, 0, 0, 0, 0, 1]),
            ("Offline · QR code", vec![1, 0, 0, 0, 0, 0]),
            ("Organic Search", vec![1, 0, 0, 0, 0, 0]),
            ("Paid Social", vec![1, 0, 0, 0, 0, 0]),
            ("Referral", vec![1, 0, 0, 0, 0, 0]),
        ]
    );
}

/// Time-decay weights, by hand: ½ per 7 days before the order, normalised.
fn decay(ages_ms: &[i64]) -> Vec<f64> {
    let raw: Vec<f64> = ages_ms
        .iter()
        .map(|a| 0.5f64.powf(*a as f64 / (7.0 * DAY as f64)))
        .collect();
    let sum: f64 = raw.iter().sum();
    raw.iter().map(|w| w / sum).collect()
}

#[test]
fn attribution_under_the_five_models_by_hand() {
    let r = journeys_report(&Range::all());
    let a = &r.attribution;
    assert_eq!(a.orders, 3);
    assert_eq!(
        a.models,
        [
            "first-touch",
            "last-touch",
            "linear",
            "position-based",
            "time-decay"
        ]
    );
    // o1 (100): Paid Search 4 d 5 min before, Email 2 d 5 min before, Direct 5 min before.
    let d1 = decay(&[4 * DAY + 5 * MIN, 2 * DAY + 5 * MIN, 5 * MIN]);
    // o3 (200): Referral 3 d 3 min before, Email 3 min before.
    let d3 = decay(&[3 * DAY + 3 * MIN, 3 * MIN]);
    // (channel, orders per model, revenue per model)
    let want: Vec<(&str, [f64; 5], [f64; 5])> = vec![
        ("Offline · QR code", [1.0; 5], [50.0; 5]),
        (
            "Email",
            [0.0, 1.0, 1.0 / 3.0 + 0.5, 0.2 + 0.5, d1[1] + d3[1]],
            [
                0.0,
                200.0,
                100.0 / 3.0 + 100.0,
                20.0 + 100.0,
                100.0 * d1[1] + 200.0 * d3[1],
            ],
        ),
        (
            "Referral",
            [1.0, 0.0, 0.5, 0.5, d3[0]],
            [200.0, 0.0, 100.0, 100.0, 200.0 * d3[0]],
        ),
        (
            "Direct",
            [0.0, 1.0, 1.0 / 3.0, 0.4, d1[2]],
            [0.0, 100.0, 100.0 / 3.0, 40.0, 100.0 * d1[2]],
        ),
        (
            "Paid Search",
            [1.0, 0.0, 1.0 / 3.0, 0.4, d1[0]],
            [100.0, 0.0, 100.0 / 3.0, 40.0, 100.0 * d1[0]],
        ),
    ];
    let got: Vec<&str> = a.rows.iter().map(|r| r.channel.as_str()).collect();
    assert_eq!(
        got,
        want.iter().map(|w| w.0).collect::<Vec<_>>(),
        "rows by linear credit"
    );
    for (row, (channel, orders, revenue)) in a.rows.iter().zip(&want) {
        for m in 0..5 {
            close(row.orders[m], orders[m], &format!("{channel} orders {m}"));
            close(
                row.share[m],
                orders[m] / 3.0,
                &format!("{channel} share {m}"),
            );
            close(
                row.revenue[m],
                revenue[m],
                &format!("{channel} revenue {m}"),
            );
        }
    }
    // Every model hands out every order and all the revenue.
    for m in 0..5 {
        close(a.rows.iter().map(|r| r.orders[m]).sum(), 3.0, "orders");
        close(a.rows.iter().map(|r| r.revenue[m]).sum(), 350.0, "revenue");
    }
    let camps: Vec<(&str, &str, u64, f64)> = r
        .campaigns
        .iter()
        .map(|c| {
            (
                c.campaign.as_str(),
                c.channel.as_str(),
                c.touches,
                c.linear_orders,
            )
        })
        .collect();
    assert_eq!(camps.len(), 4);
    assert_eq!(
        camps[0],
        (fixture::EVIL_CAMPAIGN, "Offline · QR code", 1, 1.0)
    );
    assert_eq!((camps[1].0, camps[1].2), ("november", 2));
    close(camps[1].3, 1.0 / 3.0 + 0.5, "november");
    assert_eq!((camps[2].0, camps[2].2), ("spring", 2));
    close(camps[2].3, 1.0 / 3.0, "spring");
    assert_eq!(camps[3], ("trail-video", "Paid Social", 1, 0.0));
}

#[test]
fn personalization_per_slot_and_rule() {
    let r = journeys_report(&Range::all());
    let p = &r.personalization;
    // Sessions with an order: v1's third, v2's, u5's phone.
    assert_eq!((p.sessions, p.converted_sessions), (10, 3));
    let rows: Vec<(&str, &str, Vec<&str>, [u64; 5])> = p
        .rows
        .iter()
        .map(|r| {
            (
                r.slot.as_str(),
                r.rule_id.as_str(),
                r.variants.iter().map(String::as_str).collect(),
                [
                    r.exposures,
                    r.sessions,
                    r.clicks,
                    r.clicked_sessions,
                    r.converted_sessions,
                ],
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            // v1 (clicked, ordered in a later session) and v3 (twice in one session).
            ("hero", "hero-runner", vec!["runner"], [3, 2, 1, 1, 0]),
            // v2 clicked and ordered in that session.
            (
                fixture::EVIL_SLOT,
                "evil-rule",
                vec!["<b>bold</b>"],
                [1, 1, 0, 0, 0]
            ),
            ("recs", "recs-cross", vec!["actions"], [1, 1, 1, 1, 1]),
        ]
    );
}

#[test]
fn carts_and_quotes_per_day() {
    let r = journeys_report(&Range::all());
    let o = &r.over_time;
    assert_eq!(o.period, "day");
    // From the first event (2 Nov) to the last (12 Nov).
    assert_eq!(o.rows.len(), 11);
    assert_eq!(o.rows[0].start, "2026-11-02");
    let row = |d: &str| o.rows.iter().find(|r| r.start == d).unwrap();
    // v2 ordered in its cart's session; v3 never ordered.
    let r3 = row("2026-11-03");
    assert_eq!((r3.carts, r3.abandoned, r3.recovered), (2, 1, 0));
    // v1 left its cart and ordered two days later.
    let r4 = row("2026-11-04");
    assert_eq!((r4.carts, r4.abandoned, r4.recovered), (1, 1, 1));
    // v5's quote: a sign-up two days later.
    let r2 = row("2026-11-02");
    assert_eq!((r2.quotes, r2.quotes_converted), (1, 1));
    // v4's quote: nothing in the 7 days after (the data runs to 12 Nov).
    assert_eq!(
        (r3.quotes, r3.quotes_unconverted, r3.quotes_pending),
        (1, 1, 0)
    );
    let totals: u64 = o.rows.iter().map(|r| r.carts + r.quotes).sum();
    assert_eq!(totals, 5);
}

#[test]
fn a_quote_with_less_than_seven_days_after_it_is_pending() {
    // Up to 5 Nov: v4's quote (3 Nov) has only two days of data after it.
    let r = journeys_report(&Range::parse(None, Some("2026-11-05")).unwrap());
    let q: Vec<(String, u64, u64, u64)> = r
        .over_time
        .rows
        .iter()
        .filter(|r| r.quotes > 0)
        .map(|r| {
            (
                r.start.clone(),
                r.quotes_converted,
                r.quotes_unconverted,
                r.quotes_pending,
            )
        })
        .collect();
    assert_eq!(
        q,
        [
            ("2026-11-02".into(), 1, 0, 0),
            ("2026-11-03".into(), 0, 0, 1)
        ]
    );
}

#[test]
fn the_range_selects_events_by_their_timestamp() {
    // 2 Nov only: v1, v3, v5 landed and entered discovery; v5 is not yet
    // joined to u5 (the identify is on 4 Nov).
    let r = journeys_report(&Range::parse(Some("2026-11-02"), Some("2026-11-02")).unwrap());
    assert_eq!(
        (r.totals.visitors, r.totals.touches, r.totals.orders),
        (3, 3, 0)
    );
    assert_eq!(r.funnel[0].visitors, 3);
    assert_eq!(r.from.as_deref(), Some("2026-11-02T00:00:00.000Z"));
    assert_eq!(r.to.as_deref(), Some("2026-11-03T00:00:00.000Z"));
    // From 12 Nov: v6 alone.
    let r = journeys_report(&Range::parse(Some("2026-11-12"), None).unwrap());
    assert_eq!((r.totals.visitors, r.totals.touches), (1, 1));
    assert_eq!(r.channels_by_stage.rows[0].touches[5], 1);
    // A time bound is exclusive on the right: v1's order at 09:05 on 6 Nov.
    let at = |to: &str| {
        journeys_report(&Range::parse(Some("2026-11-06T00:00:00Z"), Some(to)).unwrap())
            .totals
            .orders
    };
    assert_eq!(at("2026-11-06T09:05:00Z"), 0);
    assert_eq!(at("2026-11-06T09:05:00.001Z"), 1);
}

#[test]
fn long_ranges_count_weeks_from_monday() {
    let r = journeys_report(&Range::parse(Some("2026-01-01"), Some("2026-12-31")).unwrap());
    let o = &r.over_time;
    assert_eq!(o.period, "week");
    // 1 Jan 2026 is a Thursday: the first week starts on Monday 29 Dec 2025;
    // 31 Dec 2026 is in the week of Monday 28 Dec 2026.
    assert_eq!(o.rows.first().unwrap().start, "2025-12-29");
    assert_eq!(o.rows.last().unwrap().start, "2026-12-28");
    assert_eq!(o.rows.len(), 53);
    let w = o.rows.iter().find(|r| r.start == "2026-11-02").unwrap();
    assert_eq!((w.quotes, w.carts), (2, 3));
}

#[test]
fn range_parameters_are_checked_with_clear_errors() {
    // (from, to, the bounds as the query compares them)
    type Case<'a> = (
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
    );
    let ok: &[Case] = &[
        (None, None, None, None),
        (Some(""), Some(" "), None, None),
        (
            Some("2026-11-02"),
            Some("2026-11-02"),
            Some("2026-11-02T00:00:00.000Z"),
            Some("2026-11-03T00:00:00.000Z"),
        ),
        (
            Some("2024-02-29"),
            None,
            Some("2024-02-29T00:00:00.000Z"),
            None,
        ),
        (
            Some("2026-11-02T10:30Z"),
            Some("2026-11-02T10:30:05.5Z"),
            Some("2026-11-02T10:30:00.000Z"),
            Some("2026-11-02T10:30:05.500Z"),
        ),
    ];
    for (from, to, want_from, want_to) in ok {
        let r = Range::parse(*from, *to).unwrap();
        assert_eq!(
            (r.from_text().as_deref(), r.to_text().as_deref()),
            (*want_from, *want_to),
            "{from:?} {to:?}"
        );
    }
    let bad: &[(Option<&str>, Option<&str>, &str)] = &[
        (
            Some("yesterday"),
            None,
            "from: \"yesterday\" must be a date or a UTC time ending in Z",
        ),
        (
            Some("2026-13-01"),
            None,
            "from: \"2026-13-01\" is not a valid date",
        ),
        (
            None,
            Some("2025-02-29"),
            "to: \"2025-02-29\" is not a valid date",
        ),
        (
            None,
            Some("2026-11-02T10:00:00+02:00"),
            "to: \"2026-11-02T10:00:00+02:00\" must be a date or a UTC time ending in Z",
        ),
        (
            None,
            Some("2026-11-02T25:00:00Z"),
            "to: \"2026-11-02T25:00:00Z\" is not a valid time",
        ),
        (
            Some("2026-11-03"),
            Some("2026-11-02"),
            "to: \"2026-11-02\" ends before from \"2026-11-03\" starts",
        ),
        (
            Some("2026-11-02T10:00Z"),
            Some("2026-11-02T10:00:00.000Z"),
            "to: \"2026-11-02T10:00:00.000Z\" ends before from \"2026-11-02T10:00Z\" starts",
        ),
        (
            Some("€€€€€€€€€Z"),
            None,
            "from: \"€€€€€€€€€Z\" is not a valid time",
        ),
    ];
    for (from, to, want) in bad {
        let e = Range::parse(*from, *to).unwrap_err().to_string();
        assert!(e.starts_with(want), "{e}\n  should start with\n{want}");
        assert!(e.contains("from") || e.contains("to"), "{e}");
    }
    // The query-string form used by the HTTP routes.
    let q: RangeQuery = serde_json::from_value(serde_json::json!({"from": "2026-11-02"})).unwrap();
    assert_eq!(
        q.range().unwrap().from_text().unwrap(),
        "2026-11-02T00:00:00.000Z"
    );
    let q: RangeQuery = serde_json::from_value(serde_json::json!({"to": "soon"})).unwrap();
    assert!(q.range().unwrap_err().0.starts_with("to: \"soon\""));
    assert!(serde_json::from_value::<RangeQuery>(serde_json::json!({"form": "x"})).is_err());
}

#[test]
fn event_timestamps_with_offsets_and_without_milliseconds() {
    use sillage_collector::report::range::parse_timestamp;
    let base = parse_timestamp("2026-11-02T09:00:00.000Z").unwrap();
    for (text, delta) in [
        ("2026-11-02T09:00:00Z", 0),
        ("2026-11-02T09:00Z", 0),
        ("2026-11-02T09:00:00.5Z", 500),
        ("2026-11-02T09:00:00.123456Z", 123),
        ("2026-11-02T11:00:00+02:00", 0),
        ("2026-11-02T04:30:00-0430", 0),
        ("2026-11-02 09:00:00", 0),
    ] {
        assert_eq!(parse_timestamp(text), Some(base + delta), "{text}");
    }
    for text in [
        "",
        "2026-11-02",
        "2026-11-02T9:00Z",
        "2026-11-02T09:00:00+25:00",
        "2026-11-02T09:00:00.Z",
        "2026-11-02T09:00:00€€",
    ] {
        assert_eq!(parse_timestamp(text), None, "{text}");
    }
}

#[test]
fn chi_square_upper_tail_against_published_quantiles() {
    // (x, df, P(X >= x)): the 0.5, 0.9, 0.95, 0.99 and 0.999 quantiles of the
    // chi-square distribution (as R's qchisq gives them).
    let table: &[(f64, f64, f64)] = &[
        (0.015_790_774, 1.0, 0.9),
        (0.454_936_42, 1.0, 0.5),
        (3.841_458_8, 1.0, 0.05),
        (6.634_896_6, 1.0, 0.01),
        (10.827_566, 1.0, 0.001),
        (5.991_464_5, 2.0, 0.05),
        (13.815_511, 2.0, 0.001),
        (7.814_727_9, 3.0, 0.05),
        (16.266_236, 3.0, 0.001),
        (18.307_038, 10.0, 0.05),
        (29.588_298, 10.0, 0.001),
        (124.342_11, 100.0, 0.05),
    ];
    for &(x, df, p) in table {
        let got = chi_square_sf(x, df);
        assert!((got - p).abs() / p < 2e-6, "x={x} df={df}: {got} != {p}");
    }
    // Two degrees of freedom have a closed form: exp(-x/2).
    for x in [0.1, 1.0, 7.5, 40.0] {
        let got = chi_square_sf(x, 2.0);
        assert!((got - (-x / 2.0f64).exp()).abs() < 1e-14, "{x}");
    }
    // One degree of freedom: erfc(sqrt(x/2)); 18.18 = the SRM fixture below.
    let got = chi_square_sf(200.0 / 11.0, 1.0);
    assert!((got - 2.007_865_612_426_481e-5).abs() < 1e-12, "{got}");
    assert_eq!(chi_square_sf(0.0, 3.0), 1.0);
}

#[test]
fn lift_interval_and_median_by_hand() {
    // 120/1000 against 100/1000: RR 1.2, SE of ln RR sqrt(0.88/120 + 0.9/100).
    let l = lift(120, 1000, 100, 1000).unwrap();
    let se = (0.88f64 / 120.0 + 0.9 / 100.0).sqrt();
    close(l.estimate, 0.2, "estimate");
    close(
        l.low,
        (1.2f64.ln() - 1.959_963_984_540_054 * se).exp() - 1.0,
        "low",
    );
    close(
        l.high,
        (1.2f64.ln() + 1.959_963_984_540_054 * se).exp() - 1.0,
        "high",
    );
    // The same numbers written out: [-6.589%, +54.158%].
    assert!((l.low - -0.065_894_248_937).abs() < 1e-9 && (l.high - 0.541_581_344_897).abs() < 1e-9);
    assert!(!l.significant());
    assert!(lift(300, 1000, 100, 1000).unwrap().significant());
    assert_eq!(lift(0, 1000, 100, 1000), None);
    assert_eq!(lift(10, 1000, 0, 1000), None);
    assert_eq!(median(&mut [5, 1, 3]), Some(3.0));
    assert_eq!(median(&mut [4, 1, 3, 2]), Some(2.5));
    assert_eq!(median(&mut []), None);
    let s = srm(&[1000, 1200], &[1.0, 1.0]).unwrap();
    close(s.chi_square, 200.0 / 11.0, "chi");
    assert_eq!((s.df, s.mismatch), (1, true));
    let s = srm(&[1000, 500, 500], &[0.5, 0.25, 0.25]).unwrap();
    assert_eq!((s.chi_square, s.mismatch), (0.0, false));
    assert!(srm(&[5], &[1.0]).is_none());
    assert!(srm(&[0, 0], &[1.0, 1.0]).is_none());
    assert!(srm(&[3, 1], &[1.0, 0.0]).unwrap().mismatch);
}

fn experiments_report(settings: &Settings) -> Report {
    let (_d, conn) = db_with(fixture::experiments);
    report::build_with(&conn, &Range::all(), settings).unwrap()
}

#[test]
fn experiments_lift_holdout_and_sample_ratio_mismatch() {
    let r = experiments_report(&Settings::default());
    let ids: Vec<&str> = r.experiments.iter().map(|e| e.id.as_str()).collect();
    // Most exposed first.
    assert_eq!(ids, ["checkout-trust", "hero-headline", "free-shipping"]);
    let exp = |id: &str| r.experiments.iter().find(|e| e.id == id).unwrap();

    let h = exp("hero-headline");
    assert_eq!(
        (h.control.as_str(), h.source.as_str()),
        ("control", "events")
    );
    let rows: Vec<(&str, u64, u64)> = h
        .variations
        .iter()
        .map(|v| (v.id.as_str(), v.visitors, v.conversions))
        .collect();
    assert_eq!(rows, [("control", 1000, 100), ("benefit", 1000, 120)]);
    assert_eq!(h.variations[0].lift, None);
    let l = h.variations[1].lift.unwrap();
    assert!((l.estimate - 0.2).abs() < 1e-12);
    assert!((l.low - -0.065_894_248_937).abs() < 1e-9, "{l:?}");
    assert!((l.high - 0.541_581_344_897).abs() < 1e-9, "{l:?}");
    let hold = h.holdout.as_ref().unwrap();
    assert_eq!((hold.visitors, hold.conversions), (100, 8));
    // 120/1000 against the holdout's 8/100: +50% [-24.4%, +197.7%].
    let vh = h.treatment_vs_holdout.unwrap();
    assert!((vh.estimate - 0.5).abs() < 1e-12);
    assert!(
        (vh.low - -0.244_258_180_369).abs() < 1e-9 && (vh.high - 1.977_207_217_536).abs() < 1e-9
    );
    let s = h.srm.as_ref().unwrap();
    assert_eq!((s.chi_square, s.mismatch), (0.0, false));

    // 1000 against 1200 on an equal split: chi-square 18.18, p = 2.0e-5.
    let t = exp("checkout-trust");
    let s = t.srm.as_ref().unwrap();
    assert!(s.mismatch);
    assert!((s.p_value - 2.007_865_612_426_481e-5).abs() < 1e-12);
    assert_eq!(s.expected, [1100.0, 1100.0]);

    // 1000/500/500 looks like a mismatch on an equal split...
    let f = exp("free-shipping");
    assert_eq!(f.variations[0].id, "control");
    assert!(f.srm.as_ref().unwrap().mismatch);
    assert!(f.holdout.is_none());
    // ...and is what the config's 50/25/25 weights ask for.
    let (settings, problems) = Settings::from_config(&fixture::experiments_config());
    assert_eq!(problems, Vec::<String>::new());
    let r = experiments_report(&settings);
    let f = r
        .experiments
        .iter()
        .find(|e| e.id == "free-shipping")
        .unwrap();
    assert_eq!(f.source, "config");
    assert_eq!(f.expected_shares, [0.5, 0.25, 0.25]);
    assert!(!f.srm.as_ref().unwrap().mismatch);
    let html = report::html(&r);
    assert!(
        html.contains("Sample ratio mismatch"),
        "checkout-trust still warns"
    );
}

#[test]
fn config_order_names_the_control_and_unknown_variations_are_noted() {
    let config = serde_json::json!({"version": 1, "rules": [
        {"id": "r", "slot": "hero", "variant": "benefit",
         "experiment": {"key": "hero-headline", "variants": ["benefit", "control", "extra"]}}]});
    let (settings, _) = Settings::from_config(&config);
    let r = experiments_report(&settings);
    let h = r
        .experiments
        .iter()
        .find(|e| e.id == "hero-headline")
        .unwrap();
    assert_eq!(h.control, "benefit");
    let ids: Vec<(&str, u64)> = h
        .variations
        .iter()
        .map(|v| (v.id.as_str(), v.visitors))
        .collect();
    assert_eq!(ids, [("benefit", 1000), ("control", 1000), ("extra", 0)]);
    // control against benefit: 100/1000 over 120/1000.
    assert!((h.variations[1].lift.unwrap().estimate - (0.1 / 0.12 - 1.0)).abs() < 1e-12);
    let config = serde_json::json!({"version": 1, "rules": [
        {"id": "r", "slot": "hero", "variant": "benefit",
         "experiment": {"key": "hero-headline", "variants": ["control", "other"]}}]});
    let r = experiments_report(&Settings::from_config(&config).0);
    assert!(r.notes.iter().any(|n| n
        == "Experiment hero-headline: variations benefit are not in the config and are left out."));
}

/// The tags and attributes the report may contain: anything else (a tag or
/// an `on*` attribute smuggled in through the data) fails.
const TAGS: &[&str] = &[
    "!doctype", "html", "head", "meta", "title", "style", "body", "main", "header", "h1", "h2",
    "h3", "p", "div", "span", "b", "i", "code", "section", "table", "tr", "th", "td", "svg",
    "defs", "marker", "path", "rect", "text", "tspan", "line", "circle", "details", "summary",
    "footer", "ul", "li",
];

/// Tag names and attribute names of an HTML text, read the way a browser's
/// tokenizer would (quoted values skipped, `<style>` content raw text).
fn tags(html: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let b = html.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'<' {
            i += 1;
            continue;
        }
        i += 1;
        let closing = b.get(i) == Some(&b'/');
        if closing {
            i += 1;
        }
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' && b[i] != b'/' {
            i += 1;
        }
        let name = html[start..i].to_ascii_lowercase();
        let mut attrs = Vec::new();
        loop {
            while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
                i += 1;
            }
            if i >= b.len() || b[i] == b'>' {
                i += 1;
                break;
            }
            let s = i;
            while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'=' && b[i] != b'>' {
                i += 1;
            }
            attrs.push(html[s..i].to_ascii_lowercase());
            if b.get(i) == Some(&b'=') {
                i += 1;
                let q = b[i];
                assert!(q == b'"', "unquoted attribute value in <{name}>");
                i += 1;
                while b[i] != q {
                    i += 1;
                }
                i += 1;
            }
        }
        if !closing {
            if name == "style" {
                let end = html[i..].find("</style>").unwrap();
                i += end;
            }
            out.push((name, attrs));
        }
    }
    out
}

#[test]
fn data_cannot_inject_markup_into_the_report() {
    let r = journeys_report(&Range::all());
    let html = report::html(&r);
    let mut seen = HashSet::new();
    for (name, attrs) in tags(&html) {
        assert!(TAGS.contains(&name.as_str()), "unexpected tag <{name}>");
        for a in attrs {
            assert!(
                !a.starts_with("on"),
                "event handler attribute {a} on <{name}>"
            );
            assert!(
                ![
                    "src",
                    "href",
                    "xlink:href",
                    "srcdoc",
                    "action",
                    "formaction"
                ]
                .contains(&a.as_str()),
                "URL attribute {a} on <{name}>"
            );
            seen.insert(a);
        }
        assert_ne!(name, "script");
    }
    assert!(seen.contains("title"));
    // The malicious names are there, as text.
    assert!(html.contains("&lt;script&gt;alert(&#39;campaign&#39;)&lt;/script&gt;"));
    assert!(html.contains("&quot;&gt;&lt;svg onload=alert(&#39;slot&#39;)&gt;"));
    assert!(html.contains("&lt;b&gt;bold&lt;/b&gt;"));
    assert!(!html.contains(fixture::EVIL_CAMPAIGN) && !html.contains(fixture::EVIL_SLOT));
    // Nothing is fetched: no URL at all, and a CSP that would block one.
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("//"));
    assert!(html.contains("default-src 'none'"));
}

#[test]
fn the_page_has_every_section_even_without_data() {
    let (_d, conn) = db_with(|_| Ok(()));
    let r = report::build(&conn, &Range::all()).unwrap();
    assert_eq!((r.totals.events, r.totals.visitors), (0, 0));
    let html = report::html(&r);
    for id in [
        "funnel",
        "flow",
        "journeys",
        "channels",
        "attribution",
        "personalization",
        "experiments",
        "abandonment",
    ] {
        assert!(html.contains(&format!("<section id=\"{id}\">")), "{id}");
    }
    assert!(html.contains("No stage changes in this period."));
    let full = report::html(&journeys_report(&Range::all()));
    assert!(full.contains("Paid Search") && full.contains("Offline · QR code"));
    assert!(full.contains("2 Nov 2026 – 12 Nov 2026"));
}

#[test]
fn the_json_carries_the_same_numbers() {
    let r = journeys_report(&Range::all());
    let j = report::json(&r);
    assert_eq!(j["totals"]["visitors"], 6);
    assert_eq!(j["funnel"][2]["stage"], "purchase");
    assert_eq!(j["funnel"][2]["visitors"], 4);
    assert_eq!(j["transitions"][0]["medianMs"], (DAY + MIN - 1000) as f64);
    assert_eq!(j["attribution"]["models"][4], "time-decay");
    assert_eq!(j["journeys"]["byStage"][0]["visitors"], 2);
    assert_eq!(j["personalization"]["rows"][0]["ruleId"], "hero-runner");
    assert_eq!(j["overTime"]["period"], "day");
}

#[test]
fn migrate_adds_the_timestamp_index_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.db");
    // A database of the collector before the report existed.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE events (message_id TEXT PRIMARY KEY, timestamp TEXT)")
        .unwrap();
    let has = |c: &rusqlite::Connection| -> i64 {
        c.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'events_timestamp'",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(has(&conn), 0);
    report::migrate(&conn).unwrap();
    report::migrate(&conn).unwrap();
    assert_eq!(has(&conn), 1);
    // The collector adds it when it opens a database.
    let path = dir.path().join("new.db");
    sillage_collector::AppState::open(sillage_collector::Options {
        db: path.clone(),
        ..Default::default()
    })
    .unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    assert_eq!(has(&conn), 1);
    // A bounded range is read through it.
    let plan: Vec<String> = conn
        .prepare(&format!(
            "EXPLAIN QUERY PLAN {}",
            report::SQL.replace("true /*range*/", "timestamp >= ?1 AND timestamp < ?2")
        ))
        .unwrap()
        .query_map(["2026-11-01", "2026-11-02"], |r| r.get::<_, String>(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        plan.iter().any(|p| p.contains("events_timestamp")),
        "{plan:?}"
    );
}

#[test]
fn the_readme_shows_the_query_the_report_runs() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    assert!(
        readme.contains(report::SQL),
        "collector/README.md must show report::SQL verbatim"
    );
}

#[test]
fn the_simulated_shop_is_deterministic_and_has_every_section() {
    let run = || {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shop.db");
        let mut w = Writer::create(&path).unwrap();
        let shop = fixture::Shop {
            events: 3000,
            ..Default::default()
        };
        fixture::shop(&mut w, &shop).unwrap();
        let n = w.finish().unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        let (s, _) = Settings::from_config(&fixture::shop_config());
        (n, report::build_with(&conn, &Range::all(), &s).unwrap())
    };
    let (n, a) = run();
    let (m, b) = run();
    assert!((3000..3100).contains(&n), "{n}");
    assert_eq!(n, m);
    assert_eq!(a, b);
    assert!(a.totals.orders > 0 && a.experiments.len() == 3 && !a.personalization.rows.is_empty());
    assert!(a
        .channels_by_stage
        .rows
        .iter()
        .any(|r| r.channel == "Offline · store"));
    assert!(a.over_time.rows.iter().any(|r| r.quotes > 0));
    let _ = HOUR;
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sillage-collector"))
}

#[test]
fn the_report_and_fixture_commands() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("j.db");
    let out = bin()
        .args(["fixture", "--known", "journeys", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // It never writes into a database that holds events.
    let again = bin()
        .args(["fixture", "--known", "journeys", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds 46 events"));

    let html = dir.path().join("r.html");
    let json = dir.path().join("r.json");
    let out = bin()
        .args(["report", "--db"])
        .arg(&db)
        .arg("--out")
        .arg(&html)
        .arg("--json")
        .arg(&json)
        .args(["--from", "2026-11-01", "--to", "2026-11-30"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("46 events, 6 visitors, 3 orders"), "{err}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!doctype html>") && page.contains("1 Nov 2026 – 30 Nov 2026"));
    let j: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(j["totals"]["orders"], 3);

    for (args, code, message) in [
        (
            vec!["--from", "tomorrow"],
            2,
            "from: \"tomorrow\" must be a date",
        ),
        (vec!["--bogus"], 2, "unknown argument: --bogus"),
        (vec!["--to"], 2, "--to needs a value"),
        (
            vec!["--config", "/nonexistent.json"],
            1,
            "cannot read /nonexistent.json",
        ),
    ] {
        let out = bin()
            .arg("report")
            .arg("--db")
            .arg(&db)
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(message), "{args:?}: {err}");
    }
    let out = bin()
        .args(["report", "--db"])
        .arg(dir.path().join("missing.db"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.db: no such database"));
    let out = bin()
        .args(["fixture", "--db", "x.db", "--known", "all"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("--known: expected journeys or experiments, got all"));
}
