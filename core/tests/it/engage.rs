//! Engagement, page-view gating, rage clicks and link classification.

use sillage_core::track::capture::*;

#[test]
fn active_time_counts_only_visible_focused_and_not_idle() {
    let mut e = Engagement::new(0.0, true, true);
    e.on_input(10_000.0);
    // Idle after 30 s without input: 10 s + 30 s of credit, not 100 s.
    assert_eq!(e.summary(100_000.0).unwrap().active_ms, 40_000.0);
    // Input resumes the clock.
    e.on_input(100_000.0);
    assert_eq!(e.summary(105_000.0).unwrap().active_ms, 45_000.0);
    // Hidden: the clock stops; visible again: it runs.
    e.on_visibility(106_000.0, false);
    assert_eq!(e.summary(200_000.0).unwrap().active_ms, 46_000.0);
    e.on_visibility(200_000.0, true);
    assert_eq!(e.summary(201_000.0).unwrap().active_ms, 47_000.0);
    // Blurred: stops too.
    e.on_focus(201_000.0, false);
    assert_eq!(e.summary(250_000.0).unwrap().active_ms, 47_000.0);
}

#[test]
fn a_page_opened_in_the_background_has_no_engagement() {
    let e = Engagement::new(0.0, false, false);
    assert_eq!(e.summary(60_000.0), None);
}

#[test]
fn scroll_depth_is_the_maximum_percentage_seen() {
    let mut e = Engagement::new(0.0, false, true);
    e.on_scroll(1.0, 800.0, 4_000.0);
    e.on_scroll(2.0, 3_000.0, 4_000.0);
    e.on_scroll(3.0, 1_000.0, 4_000.0);
    let s = e.summary(4.0).unwrap();
    assert_eq!(
        (s.max_scroll_pct, s.active_ms),
        (75.0, 0.0),
        "hidden: scrolled but no active time"
    );
    e.on_scroll(5.0, 9_999.0, 4_000.0);
    assert_eq!(e.summary(6.0).unwrap().max_scroll_pct, 100.0);
    e.on_scroll(7.0, f64::NAN, 0.0);
    assert_eq!(e.summary(8.0).unwrap().max_scroll_pct, 100.0);
}

#[test]
fn page_views_are_deduplicated_and_fragments_ignored() {
    let mut g = PageViewGate::new(false);
    let seq = [
        ("https://s.example/a", true),
        ("https://s.example/a", false),
        ("https://s.example/a#section", false),
        ("https://s.example/b?x=1", true),
        ("https://s.example/b?x=2", true),
        ("https://s.example/a", true),
    ];
    for (url, want) in seq {
        assert_eq!(g.admit(url), want, "{url}");
    }
    let mut h = PageViewGate::new(true);
    assert!(h.admit("https://s.example/#/home"));
    assert!(h.admit("https://s.example/#/cart"));
    assert!(!h.admit("https://s.example/#/cart"));
    h.reset();
    assert!(
        h.admit("https://s.example/#/cart"),
        "a bfcache restore is a new view"
    );
}

#[test]
fn rage_clicks_need_three_close_fast_clicks_and_report_once_per_burst() {
    let mut r = RageClicks::default();
    assert_eq!(r.on_click(0.0, 100.0, 100.0), None);
    assert_eq!(r.on_click(200.0, 110.0, 105.0), None);
    assert_eq!(r.on_click(400.0, 105.0, 100.0), Some(3));
    assert_eq!(
        r.on_click(500.0, 100.0, 100.0),
        None,
        "one report per burst"
    );
    // Far apart in space or in time: not rage.
    let mut r = RageClicks::default();
    r.on_click(0.0, 0.0, 0.0);
    r.on_click(100.0, 200.0, 0.0);
    assert_eq!(r.on_click(200.0, 400.0, 0.0), None);
    let mut r = RageClicks::default();
    r.on_click(0.0, 0.0, 0.0);
    r.on_click(1_100.0, 0.0, 0.0);
    assert_eq!(r.on_click(2_200.0, 0.0, 0.0), None);
    // A new burst after a pause is reported again.
    let mut r = RageClicks::default();
    for t in [0.0, 100.0, 200.0] {
        r.on_click(t, 0.0, 0.0);
    }
    for (t, want) in [(5_000.0, None), (5_100.0, None), (5_200.0, Some(3))] {
        assert_eq!(r.on_click(t, 0.0, 0.0), want);
    }
}

#[test]
fn links_are_outbound_downloads_or_internal() {
    let internal = vec!["shop-checkout.example".to_string()];
    let cases = [
        (
            "https://partner.example/x",
            LinkKind::Outbound("partner.example".into()),
        ),
        (
            "https://WWW.Partner.Example:8443/x",
            LinkKind::Outbound("www.partner.example".into()),
        ),
        ("https://shop.example/about", LinkKind::Internal),
        ("https://www.shop.example/about", LinkKind::Internal),
        ("https://blog.shop.example/post", LinkKind::Internal),
        ("https://pay.shop-checkout.example/", LinkKind::Internal),
        (
            "https://shop.example/files/Guide.PDF?v=2",
            LinkKind::Download("pdf".into()),
        ),
        (
            "https://cdn.other.example/app.dmg",
            LinkKind::Download("dmg".into()),
        ),
        ("mailto:hello@shop.example", LinkKind::Internal),
        ("javascript:void(0)", LinkKind::Internal),
        ("https://shop.example/v1.2/page", LinkKind::Internal),
    ];
    for (href, want) in cases {
        assert_eq!(
            classify_link(href, "www.shop.example", &internal),
            want,
            "{href}"
        );
    }
    assert!(host_within("a.b.example", "b.example"));
    assert!(!host_within("ab.example", "b.example"));
    assert!(!host_within("example", "b.example"));
}

#[test]
fn device_class_is_coarse() {
    assert_eq!(device_class(390.0, 844.0, true), "mobile");
    assert_eq!(device_class(1024.0, 1366.0, true), "tablet");
    assert_eq!(device_class(1920.0, 1080.0, false), "desktop");
    assert_eq!(
        device_class(500.0, 900.0, false),
        "desktop",
        "a narrow desktop window is still a desktop"
    );
}
