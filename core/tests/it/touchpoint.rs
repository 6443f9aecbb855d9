//! Touchpoint classification, sessions and URL scrubbing: data tables.

use sillage_core::support::json::Json;
use sillage_core::support::url::{has_email, parse, query_pairs, scrub};
use sillage_core::track::touchpoint::{
    classify, parse_channels, session_on, ChannelConfig, Session, SessionStart, SESSION_TIMEOUT_MS,
};

const S: &str = "https://shop.example";

/// (landing path+query, referrer, channel, source, medium, campaign, paid)
type Case = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
);

const CASES: &[Case] = &[
    // Direct and internal
    ("/", "", "Direct", "(direct)", "(none)", "", false),
    ("/p/trail", "", "Direct", "(direct)", "(none)", "", false),
    ("/#top", "", "Direct", "(direct)", "(none)", "", false),
    (
        "/",
        "https://shop.example/cart",
        "Direct",
        "(direct)",
        "(none)",
        "",
        false,
    ),
    (
        "/",
        "https://www.shop.example/",
        "Direct",
        "(direct)",
        "(none)",
        "",
        false,
    ),
    (
        "/",
        "https://blog.shop.example/post",
        "Direct",
        "(direct)",
        "(none)",
        "",
        false,
    ),
    (
        "/",
        "https://checkout.shop-pay.example/done",
        "Direct",
        "(direct)",
        "(none)",
        "",
        false,
    ),
    // Organic search, engine names
    (
        "/",
        "https://www.google.com/",
        "Organic Search",
        "google",
        "organic",
        "",
        false,
    ),
    (
        "/",
        "https://www.google.fr/",
        "Organic Search",
        "google",
        "organic",
        "",
        false,
    ),
    (
        "/",
        "https://www.google.co.uk/search?q=x",
        "Organic Search",
        "google",
        "organic",
        "",
        false,
    ),
    (
        "/",
        "https://www.google.com.br/",
        "Organic Search",
        "google",
        "organic",
        "",
        false,
    ),
    (
        "/",
        "https://www.bing.com/search?q=shoes",
        "Organic Search",
        "bing",
        "organic",
        "",
        false,
    ),
    (
        "/",
        "https://duckduckgo.com/",
        "Organic Search",
        "duckduckgo",
        "organic",
        "",
        false,
    ),
    (
        "/",
        "https://search.yahoo.com/",
        "Organic Search",
        "yahoo",
        "organic",
        "",
        false,
    ),
    (
        "/",
        "https://yandex.ru/",
        "Organic Search",
        "yandex",
        "organic",
        "",
        false,
    ),
    (
        "/",
        "https://www.baidu.com/",
        "Organic Search",
        "baidu",
        "organic",
        "",
        false,
    ),
    (
        "/",
        "https://www.ecosia.org/",
        "Organic Search",
        "ecosia",
        "organic",
        "",
        false,
    ),
    (
        "/",
        "https://www.qwant.com/",
        "Organic Search",
        "qwant",
        "organic",
        "",
        false,
    ),
    (
        "/",
        "https://search.naver.com/",
        "Organic Search",
        "naver",
        "organic",
        "",
        false,
    ),
    (
        "/",
        "https://www.seznam.cz/",
        "Organic Search",
        "seznam",
        "organic",
        "",
        false,
    ),
    (
        "/",
        "https://search.brave.com/",
        "Organic Search",
        "brave",
        "organic",
        "",
        false,
    ),
    (
        "/",
        "https://www.startpage.com/",
        "Organic Search",
        "startpage",
        "organic",
        "",
        false,
    ),
    (
        "/?utm_source=newsletter-partner&utm_medium=organic",
        "",
        "Organic Search",
        "newsletter-partner",
        "organic",
        "",
        false,
    ),
    // Paid search
    (
        "/?gclid=abc",
        "https://www.google.com/",
        "Paid Search",
        "google",
        "cpc",
        "",
        true,
    ),
    ("/?gbraid=abc", "", "Paid Search", "google", "cpc", "", true),
    ("/?wbraid=abc", "", "Paid Search", "google", "cpc", "", true),
    (
        "/?msclkid=abc",
        "https://www.bing.com/",
        "Paid Search",
        "bing",
        "cpc",
        "",
        true,
    ),
    (
        "/?utm_source=google&utm_medium=cpc&utm_campaign=trail-fr",
        "",
        "Paid Search",
        "google",
        "cpc",
        "trail-fr",
        true,
    ),
    (
        "/?utm_source=bing&utm_medium=ppc",
        "",
        "Paid Search",
        "bing",
        "ppc",
        "",
        true,
    ),
    (
        "/?utm_source=google&utm_medium=paidsearch",
        "",
        "Paid Search",
        "google",
        "paidsearch",
        "",
        true,
    ),
    (
        "/?utm_source=google&utm_medium=cpc&gclid=1",
        "",
        "Paid Search",
        "google",
        "cpc",
        "",
        true,
    ),
    (
        "/?utm_source=duckduckgo&utm_medium=retargeting",
        "",
        "Paid Search",
        "duckduckgo",
        "retargeting",
        "",
        true,
    ),
    // Organic social
    (
        "/",
        "https://www.facebook.com/",
        "Organic Social",
        "facebook",
        "social",
        "",
        false,
    ),
    (
        "/",
        "https://m.facebook.com/",
        "Organic Social",
        "facebook",
        "social",
        "",
        false,
    ),
    (
        "/",
        "https://l.instagram.com/",
        "Organic Social",
        "instagram",
        "social",
        "",
        false,
    ),
    (
        "/",
        "https://www.instagram.com/",
        "Organic Social",
        "instagram",
        "social",
        "",
        false,
    ),
    (
        "/",
        "https://t.co/abc",
        "Organic Social",
        "x",
        "social",
        "",
        false,
    ),
    (
        "/",
        "https://www.linkedin.com/feed/",
        "Organic Social",
        "linkedin",
        "social",
        "",
        false,
    ),
    (
        "/",
        "https://www.pinterest.fr/pin/1",
        "Organic Social",
        "pinterest",
        "social",
        "",
        false,
    ),
    (
        "/",
        "https://www.reddit.com/r/running",
        "Organic Social",
        "reddit",
        "social",
        "",
        false,
    ),
    (
        "/",
        "https://www.tiktok.com/@x",
        "Organic Social",
        "tiktok",
        "social",
        "",
        false,
    ),
    (
        "/",
        "https://bsky.app/profile/x",
        "Organic Social",
        "bluesky",
        "social",
        "",
        false,
    ),
    (
        "/?utm_source=forum&utm_medium=social",
        "",
        "Organic Social",
        "forum",
        "social",
        "",
        false,
    ),
    (
        "/?utm_source=instagram&utm_medium=story",
        "",
        "Organic Social",
        "instagram",
        "story",
        "",
        false,
    ),
    // Paid social
    (
        "/?ttclid=abc",
        "",
        "Paid Social",
        "tiktok",
        "paid_social",
        "",
        true,
    ),
    (
        "/?li_fat_id=abc",
        "",
        "Paid Social",
        "linkedin",
        "paid_social",
        "",
        true,
    ),
    (
        "/?twclid=abc",
        "",
        "Paid Social",
        "x",
        "paid_social",
        "",
        true,
    ),
    (
        "/?utm_source=facebook&utm_medium=paid_social&utm_campaign=spring",
        "",
        "Paid Social",
        "facebook",
        "paid_social",
        "spring",
        true,
    ),
    (
        "/?utm_source=instagram&utm_medium=cpc",
        "",
        "Paid Social",
        "instagram",
        "cpc",
        "",
        true,
    ),
    (
        "/?utm_source=linkedin&utm_medium=cpm",
        "",
        "Paid Social",
        "linkedin",
        "cpm",
        "",
        true,
    ),
    // Issue 11: Meta's source abbreviations are social sources, paid or not;
    // fbclid names Meta without making the visit paid.
    (
        "/?utm_source=ig&utm_medium=paid_social",
        "",
        "Paid Social",
        "ig",
        "paid_social",
        "",
        true,
    ),
    (
        "/?utm_source=fb&utm_medium=paid_social&utm_campaign=spring",
        "",
        "Paid Social",
        "fb",
        "paid_social",
        "spring",
        true,
    ),
    (
        "/?utm_source=an&utm_medium=cpc",
        "",
        "Paid Social",
        "an",
        "cpc",
        "",
        true,
    ),
    (
        "/?utm_source=msg&utm_medium=paid",
        "",
        "Paid Social",
        "msg",
        "paid",
        "",
        true,
    ),
    (
        "/?utm_source=facebook&utm_medium=paid",
        "",
        "Paid Social",
        "facebook",
        "paid",
        "",
        true,
    ),
    (
        "/?utm_source=Instagram&utm_medium=Paid_Social",
        "",
        "Paid Social",
        "instagram",
        "paid_social",
        "",
        true,
    ),
    (
        "/?utm_source=ig&utm_medium=paid_social&fbclid=x1",
        "https://l.instagram.com/",
        "Paid Social",
        "ig",
        "paid_social",
        "",
        true,
    ),
    (
        "/?fbclid=x1&utm_medium=paid_social",
        "",
        "Paid Social",
        "facebook",
        "paid_social",
        "",
        true,
    ),
    (
        "/?fbclid=x1&utm_medium=cpc",
        "https://l.instagram.com/",
        "Paid Social",
        "instagram",
        "cpc",
        "",
        true,
    ),
    (
        "/?utm_source=fb&utm_medium=social",
        "",
        "Organic Social",
        "fb",
        "social",
        "",
        false,
    ),
    (
        "/?utm_source=ig",
        "",
        "Organic Social",
        "ig",
        "(not set)",
        "",
        false,
    ),
    (
        "/?utm_source=an&utm_medium=referral",
        "",
        "Organic Social",
        "an",
        "referral",
        "",
        false,
    ),
    (
        "/?utm_source=msg&utm_medium=story",
        "",
        "Organic Social",
        "msg",
        "story",
        "",
        false,
    ),
    (
        "/?fbclid=x1",
        "https://l.instagram.com/",
        "Organic Social",
        "instagram",
        "social",
        "",
        false,
    ),
    (
        "/?fbclid=x1",
        "https://l.facebook.com/",
        "Organic Social",
        "facebook",
        "social",
        "",
        false,
    ),
    (
        "/?fbclid=x1",
        "",
        "Organic Social",
        "facebook",
        "social",
        "",
        false,
    ),
    (
        "/?fbclid=x1",
        "https://news.example/a",
        "Organic Social",
        "facebook",
        "social",
        "",
        false,
    ),
    (
        "/?fbclid=x1&utm_source=newsletter&utm_medium=email",
        "",
        "Email",
        "newsletter",
        "email",
        "",
        false,
    ),
    // Video
    (
        "/",
        "https://www.youtube.com/watch?v=1",
        "Organic Video",
        "youtube",
        "referral",
        "",
        false,
    ),
    (
        "/",
        "https://vimeo.com/1",
        "Organic Video",
        "vimeo",
        "referral",
        "",
        false,
    ),
    (
        "/",
        "https://www.twitch.tv/x",
        "Organic Video",
        "twitch",
        "referral",
        "",
        false,
    ),
    (
        "/?utm_source=youtube&utm_medium=cpc",
        "",
        "Paid Video",
        "youtube",
        "cpc",
        "",
        true,
    ),
    (
        "/?utm_source=partner&utm_medium=video",
        "",
        "Organic Video",
        "partner",
        "video",
        "",
        false,
    ),
    // Shopping
    (
        "/",
        "https://www.amazon.de/",
        "Organic Shopping",
        "amazon",
        "referral",
        "",
        false,
    ),
    (
        "/",
        "https://www.ebay.fr/",
        "Organic Shopping",
        "ebay",
        "referral",
        "",
        false,
    ),
    (
        "/",
        "https://www.etsy.com/",
        "Organic Shopping",
        "etsy",
        "referral",
        "",
        false,
    ),
    (
        "/?utm_source=idealo&utm_medium=referral",
        "",
        "Organic Shopping",
        "idealo",
        "referral",
        "",
        false,
    ),
    (
        "/?utm_source=google&utm_medium=cpc&utm_campaign=shopping-fr",
        "",
        "Paid Shopping",
        "google",
        "cpc",
        "shopping-fr",
        true,
    ),
    (
        "/?utm_source=amazon&utm_medium=cpc",
        "",
        "Paid Shopping",
        "amazon",
        "cpc",
        "",
        true,
    ),
    (
        "/?utm_source=x&utm_medium=referral&utm_campaign=shop-week",
        "",
        "Organic Shopping",
        "x",
        "referral",
        "shop-week",
        false,
    ),
    // Display, cross-network
    (
        "/?utm_source=dv360&utm_medium=display",
        "",
        "Display",
        "dv360",
        "display",
        "",
        false,
    ),
    (
        "/?utm_source=network&utm_medium=banner",
        "",
        "Display",
        "network",
        "banner",
        "",
        false,
    ),
    (
        "/?utm_source=network&utm_medium=interstitial",
        "",
        "Display",
        "network",
        "interstitial",
        "",
        false,
    ),
    ("/?dclid=abc", "", "Display", "google", "cpc", "", true),
    (
        "/?utm_source=google&utm_medium=cpc&utm_campaign=pmax-cross-network",
        "",
        "Cross-network",
        "google",
        "cpc",
        "pmax-cross-network",
        true,
    ),
    // Email
    (
        "/?utm_source=newsletter&utm_medium=email&utm_campaign=nov",
        "",
        "Email",
        "newsletter",
        "email",
        "nov",
        false,
    ),
    (
        "/?utm_source=crm&utm_medium=e-mail",
        "",
        "Email",
        "crm",
        "e-mail",
        "",
        false,
    ),
    (
        "/?utm_source=email",
        "",
        "Email",
        "email",
        "(not set)",
        "",
        false,
    ),
    (
        "/",
        "https://mail.google.com/mail/u/0/",
        "Email",
        "gmail",
        "email",
        "",
        false,
    ),
    (
        "/",
        "https://outlook.live.com/mail/",
        "Email",
        "outlook",
        "email",
        "",
        false,
    ),
    (
        "/",
        "https://mail.yahoo.com/",
        "Email",
        "yahoo mail",
        "email",
        "",
        false,
    ),
    (
        "/?utm_source=brevo&utm_medium=newsletter",
        "",
        "Email",
        "brevo",
        "newsletter",
        "",
        false,
    ),
    // Affiliates, audio, SMS, push
    (
        "/?utm_source=awin&utm_medium=affiliate",
        "",
        "Affiliates",
        "awin",
        "affiliate",
        "",
        false,
    ),
    (
        "/?utm_source=podcast-x&utm_medium=audio",
        "",
        "Audio",
        "podcast-x",
        "audio",
        "",
        false,
    ),
    (
        "/?utm_source=sms&utm_medium=text",
        "",
        "SMS",
        "sms",
        "text",
        "",
        false,
    ),
    (
        "/?utm_source=crm&utm_medium=sms",
        "",
        "SMS",
        "crm",
        "sms",
        "",
        false,
    ),
    (
        "/?utm_source=app&utm_medium=push",
        "",
        "Mobile Push",
        "app",
        "push",
        "",
        false,
    ),
    (
        "/?utm_source=firebase&utm_medium=notification",
        "",
        "Mobile Push",
        "firebase",
        "notification",
        "",
        false,
    ),
    (
        "/?utm_source=app&utm_medium=web-push",
        "",
        "Mobile Push",
        "app",
        "web-push",
        "",
        false,
    ),
    // Referral
    (
        "/",
        "https://blog.runner.example/best-shoes",
        "Referral",
        "blog.runner.example",
        "referral",
        "",
        false,
    ),
    (
        "/",
        "https://www.partner.example/",
        "Referral",
        "partner.example",
        "referral",
        "",
        false,
    ),
    (
        "/",
        "http://news.example:8080/a",
        "Referral",
        "news.example",
        "referral",
        "",
        false,
    ),
    (
        "/?utm_source=partner&utm_medium=referral",
        "",
        "Referral",
        "partner",
        "referral",
        "",
        false,
    ),
    (
        "/?utm_source=partner&utm_medium=link",
        "",
        "Referral",
        "partner",
        "link",
        "",
        false,
    ),
    // AI assistants
    (
        "/",
        "https://chatgpt.com/",
        "AI Assistant",
        "chatgpt",
        "referral",
        "",
        false,
    ),
    (
        "/",
        "https://chat.openai.com/c/1",
        "AI Assistant",
        "chatgpt",
        "referral",
        "",
        false,
    ),
    (
        "/",
        "https://www.perplexity.ai/search/x",
        "AI Assistant",
        "perplexity",
        "referral",
        "",
        false,
    ),
    (
        "/",
        "https://gemini.google.com/app",
        "AI Assistant",
        "gemini",
        "referral",
        "",
        false,
    ),
    (
        "/",
        "https://copilot.microsoft.com/",
        "AI Assistant",
        "copilot",
        "referral",
        "",
        false,
    ),
    (
        "/",
        "https://claude.ai/chat/1",
        "AI Assistant",
        "claude",
        "referral",
        "",
        false,
    ),
    (
        "/?utm_source=chatgpt.com",
        "",
        "AI Assistant",
        "chatgpt.com",
        "(not set)",
        "",
        false,
    ),
    // Offline: QR codes, print, stores, kiosks
    (
        "/?utm_source=flyer-paris&utm_medium=qr&utm_campaign=spring-store",
        "",
        "Offline",
        "flyer-paris",
        "qr",
        "spring-store",
        false,
    ),
    (
        "/?utm_source=store-lyon&utm_medium=store",
        "",
        "Offline",
        "store-lyon",
        "store",
        "",
        false,
    ),
    (
        "/?utm_source=catalogue-2026&utm_medium=print",
        "",
        "Offline",
        "catalogue-2026",
        "print",
        "",
        false,
    ),
    (
        "/?utm_source=mall&utm_medium=kiosk",
        "",
        "Offline",
        "mall",
        "kiosk",
        "",
        false,
    ),
    (
        "/?utm_source=tv&utm_medium=offline",
        "",
        "Offline",
        "tv",
        "offline",
        "",
        false,
    ),
    (
        "/?utm_source=box&utm_medium=packaging",
        "",
        "Offline",
        "box",
        "packaging",
        "",
        false,
    ),
    (
        "/?utm_source=postcard&utm_medium=direct_mail",
        "",
        "Offline",
        "postcard",
        "direct_mail",
        "",
        false,
    ),
    (
        "/?utm_source=QR&utm_medium=QR",
        "https://www.google.com/",
        "Offline",
        "qr",
        "qr",
        "",
        false,
    ),
    (
        "/?utm_source=flyer&utm_medium=qr",
        "https://shop.example/",
        "Offline",
        "flyer",
        "qr",
        "",
        false,
    ),
    // Paid Other: a paid medium and no more specific match (GA4)
    (
        "/?utm_medium=cpc",
        "",
        "Paid Other",
        "(not set)",
        "cpc",
        "",
        true,
    ),
    (
        "/?utm_source=partner&utm_medium=paid",
        "",
        "Paid Other",
        "partner",
        "paid",
        "",
        true,
    ),
    (
        "/?utm_source=partner&utm_medium=retargeting",
        "",
        "Paid Other",
        "partner",
        "retargeting",
        "",
        true,
    ),
    (
        "/?utm_source=newsletter-partner&utm_medium=ppc",
        "",
        "Paid Other",
        "newsletter-partner",
        "ppc",
        "",
        true,
    ),
    (
        "/?utm_source=partner&utm_medium=paid-native",
        "",
        "Paid Other",
        "partner",
        "paid-native",
        "",
        true,
    ),
    (
        "/?utm_source=dv360&utm_medium=cpm",
        "",
        "Display",
        "dv360",
        "cpm",
        "",
        true,
    ),
    (
        "/?utm_source=email&utm_medium=referral",
        "",
        "Referral",
        "email",
        "referral",
        "",
        false,
    ),
    // Unassigned
    (
        "/?utm_source=partner&utm_medium=whatever",
        "",
        "Unassigned",
        "partner",
        "whatever",
        "",
        false,
    ),
    (
        "/?utm_campaign=only-a-name",
        "",
        "Unassigned",
        "(not set)",
        "(not set)",
        "only-a-name",
        false,
    ),
    // Encoding, case, empty values
    (
        "/?utm_source=News+Letter&utm_medium=Email&utm_campaign=Black%20Friday",
        "",
        "Email",
        "news letter",
        "email",
        "Black Friday",
        false,
    ),
    (
        "/?UTM_SOURCE=google&UTM_MEDIUM=CPC",
        "",
        "Paid Search",
        "google",
        "cpc",
        "",
        true,
    ),
    (
        "/?utm_source=&utm_medium=",
        "",
        "Direct",
        "(direct)",
        "(none)",
        "",
        false,
    ),
    (
        "/?utm_source=%E2%9C%93&utm_medium=email",
        "",
        "Email",
        "\u{2713}",
        "email",
        "",
        false,
    ),
];

fn check_table(cfg: &ChannelConfig, cases: &[Case]) -> Vec<String> {
    let mut failures = Vec::new();
    for (path, referrer, channel, source, medium, campaign, paid) in cases {
        let url = format!("{S}{path}");
        let t = classify(&url, referrer, cfg);
        let got = (
            t.channel,
            t.source.as_str(),
            t.medium.as_str(),
            t.campaign.name.as_deref().unwrap_or(""),
            t.paid,
        );
        let want = (*channel, *source, *medium, *campaign, *paid);
        if got != want {
            failures.push(format!("{url} <- {referrer:?}: got {got:?}, want {want:?}"));
        }
    }
    failures
}

fn cfg(v: serde_json::Value) -> ChannelConfig {
    let doc: Json = serde_json::from_value(v).unwrap();
    let mut errs = Vec::new();
    let c = parse_channels(&doc, &mut errs);
    assert!(errs.is_empty(), "{errs:?}");
    c
}

#[test]
fn channel_table() {
    let c = cfg(serde_json::json!({"internalDomains": ["shop-pay.example"]}));
    let failures = check_table(&c, CASES);
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn every_channel_group_is_covered_by_the_table() {
    for ch in sillage_core::track::touchpoint::CHANNELS {
        assert!(CASES.iter().any(|c| c.2 == *ch), "no case for {ch}");
    }
}

#[test]
fn click_ids_name_their_network_and_search_referrers_their_engine() {
    let c = ChannelConfig::default();
    // Ad networks tag ad clicks only: paid. Meta tags organic links too
    // (issue 11): fbclid names the network, the visit is not paid.
    for (param, network, paid) in [
        ("gclid", "Google Ads", true),
        ("gbraid", "Google Ads", true),
        ("wbraid", "Google Ads", true),
        ("msclkid", "Microsoft Ads", true),
        ("fbclid", "Meta", false),
        ("ttclid", "TikTok Ads", true),
        ("li_fat_id", "LinkedIn Ads", true),
        ("twclid", "X Ads", true),
        ("dclid", "Google Display & Video 360", true),
    ] {
        let t = classify(&format!("{S}/?{param}=x1"), "", &c);
        assert_eq!(
            (t.click_id_network, t.paid),
            (Some(network), paid),
            "{param}"
        );
    }
    let t = classify(&format!("{S}/"), "https://www.google.de/search?q=a", &c);
    assert_eq!(t.search_engine, Some("google"));
    assert_eq!(t.referrer_host.as_deref(), Some("www.google.de"));
}

#[test]
fn site_rules_extend_and_override_the_table() {
    let c = cfg(serde_json::json!({"sources": [
        {"host": "community.example", "channel": "Organic Social", "name": "our forum"},
        {"source": "partner", "medium": "whatever", "channel": "affiliates"},
        {"host": "google.com", "channel": "Referral"}
    ]}));
    let cases: &[Case] = &[
        (
            "/",
            "https://community.example/t/1",
            "Organic Social",
            "our forum",
            "referral",
            "",
            false,
        ),
        (
            "/?utm_source=partner&utm_medium=whatever",
            "",
            "Affiliates",
            "partner",
            "whatever",
            "",
            false,
        ),
        (
            "/?utm_source=partner&utm_medium=email",
            "",
            "Email",
            "partner",
            "email",
            "",
            false,
        ),
        (
            "/",
            "https://www.google.com/",
            "Referral",
            "google",
            "organic",
            "",
            false,
        ),
    ];
    let failures = check_table(&c, cases);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn channel_config_errors_name_their_path() {
    let doc: Json = serde_json::from_value(serde_json::json!({
        "sources": [{"host": "a.example", "channel": "Paid Serch"}, {"channel": "Email"}, {"hots": "x", "source": "y", "channel": "SMS"}, 3],
        "internalDomains": ["ok.example", 5],
        "internal": []
    })).unwrap();
    let mut errs = Vec::new();
    let c = parse_channels(&doc, &mut errs);
    let got: Vec<String> = errs.iter().map(|d| d.render()).collect();
    // (serde_json hands the keys over sorted.)
    assert_eq!(got, [
        "channels.internal: unknown key \"internal\"",
        "channels.internalDomains[1]: must be a non-empty string",
        "channels.sources[0].channel: unknown channel \"Paid Serch\" (did you mean \"Paid Search\"?)",
        "channels.sources[1]: needs a host or a source to match",
        "channels.sources[2].hots: unknown key \"hots\" (did you mean \"host\"?)",
        "channels.sources[3]: must be an object",
    ]);
    assert_eq!(c.sources.len(), 1, "the good rule is kept");
    assert_eq!(c.internal_domains, ["ok.example"]);
}

fn sess(key: &str, last: f64) -> Session {
    Session {
        id: "s1".into(),
        index: 1,
        started: 0.0,
        last,
        pageviews: 3,
        key: key.into(),
    }
}

/// (previous session key and last activity, landing, referrer, now, expected start)
#[test]
fn session_decisions() {
    let c = ChannelConfig::default();
    let min = 60_000.0;
    type SessionCase = (
        Option<(&'static str, f64)>,
        &'static str,
        &'static str,
        f64,
        Option<SessionStart>,
    );
    let cases: &[SessionCase] = &[
        (None, "/", "", 0.0, Some(SessionStart::First)),
        (Some(("", 0.0)), "/", "", 29.0 * min, None),
        (
            Some(("", 0.0)),
            "/",
            "",
            31.0 * min,
            Some(SessionStart::Timeout),
        ),
        (
            Some(("", 0.0)),
            "/?utm_source=newsletter&utm_medium=email",
            "",
            min,
            Some(SessionStart::NewCampaign),
        ),
        (
            Some(("c:newsletter|email|", 0.0)),
            "/?utm_source=newsletter&utm_medium=email",
            "",
            min,
            None,
        ),
        (
            Some(("c:newsletter|email|", 0.0)),
            "/?utm_source=flyer&utm_medium=qr",
            "",
            min,
            Some(SessionStart::NewCampaign),
        ),
        (
            Some(("c:newsletter|email|", 0.0)),
            "/?gclid=1",
            "",
            min,
            Some(SessionStart::NewCampaign),
        ),
        (
            Some(("", 0.0)),
            "/",
            "https://www.google.com/",
            min,
            Some(SessionStart::NewReferrer),
        ),
        (
            Some(("r:www.google.com", 0.0)),
            "/",
            "https://www.google.com/",
            min,
            None,
        ),
        (
            Some(("r:www.google.com", 0.0)),
            "/",
            "https://www.bing.com/",
            min,
            Some(SessionStart::NewReferrer),
        ),
        (
            Some(("r:www.google.com", 0.0)),
            "/cart",
            "https://shop.example/p/1",
            min,
            None,
        ),
        (
            Some(("c:newsletter|email|", 0.0)),
            "/cart",
            "https://shop.example/",
            min,
            None,
        ),
        (Some(("c:newsletter|email|", 0.0)), "/", "", min, None),
        (
            Some(("c:newsletter|email|", 0.0)),
            "/?utm_source=newsletter&utm_medium=email",
            "",
            40.0 * min,
            Some(SessionStart::Timeout),
        ),
    ];
    for (prev, path, referrer, now, want) in cases {
        let prev = prev.map(|(k, last)| sess(k, last));
        let t = classify(&format!("{S}{path}"), referrer, &c);
        let (s, start) = session_on(
            prev.as_ref(),
            Some(&t),
            *now,
            SESSION_TIMEOUT_MS,
            "s2".into(),
        );
        assert_eq!(
            start, *want,
            "{path} <- {referrer:?} at {now} after {prev:?}"
        );
        match (start, &prev) {
            (None, Some(p)) => assert_eq!(
                (s.id.as_str(), s.index, s.pageviews, s.last),
                ("s1", 1, p.pageviews + 1, *now)
            ),
            (Some(_), p) => assert_eq!(
                (s.id.as_str(), s.index, s.pageviews),
                ("s2", p.as_ref().map_or(1, |p| p.index + 1), 1)
            ),
            _ => unreachable!(),
        }
    }
    // Other activity (not a page view) keeps the session alive without counting a view.
    let (s, start) = session_on(
        Some(&sess("", 0.0)),
        None,
        10.0 * min,
        SESSION_TIMEOUT_MS,
        "x".into(),
    );
    assert_eq!((start, s.pageviews, s.last), (None, 3, 10.0 * min));
    // Storage form round-trips; junk is rejected.
    assert_eq!(Session::decode(&s.encode()), Some(s.clone()));
    for junk in [
        "",
        "v1|",
        "v2|a|1|2|3|4|k",
        "v1|a|x|2|3|4|k",
        "v1||1|2|3|4|k",
    ] {
        assert_eq!(Session::decode(junk), None, "{junk}");
    }
}

#[test]
fn urls_are_read_leniently() {
    let u = parse("https://user:pw@Shop.Example:8443/a/b?x=1&y=%20z#frag").unwrap();
    assert_eq!(
        (u.host, u.path, u.query, u.fragment),
        ("Shop.Example", "/a/b", "x=1&y=%20z", "frag")
    );
    let u = parse("http://[::1]:8080?q").unwrap();
    assert_eq!((u.host, u.path, u.query), ("[::1]", "/", "q"));
    for bad in [
        "",
        "/relative",
        "ftp://x",
        "https://",
        "https:///path",
        "javascript:alert(1)",
        "https://@/x",
    ] {
        assert_eq!(parse(bad), None, "{bad}");
    }
    assert_eq!(
        query_pairs("a=1&b=%zz&c=%E2%9C%93&d&e=x+y&&"),
        [
            ("a".to_string(), "1".to_string()),
            ("b".into(), "%zz".into()),
            ("c".into(), "\u{2713}".into()),
            ("d".into(), "".into()),
            ("e".into(), "x y".into())
        ]
    );
}

#[test]
fn personal_data_is_scrubbed_from_urls() {
    let extra = vec!["customer_ref".to_string()];
    let cases = [
        ("https://shop.example/p?utm_source=x&email=a%40b.com", "https://shop.example/p?utm_source=x&email=[redacted]"),
        ("https://shop.example/p?Token=abc&ok=1", "https://shop.example/p?Token=[redacted]&ok=1"),
        ("https://shop.example/p?next=%2Fhome&contact=jane.doe%40mail.example", "https://shop.example/p?next=%2Fhome&contact=[redacted]"),
        ("https://shop.example/users/jane@mail.example/orders", "https://shop.example/users/[redacted]/orders"),
        ("https://shop.example/p#email=jane@mail.example", "https://shop.example/p#[redacted]"),
        ("https://shop.example/p?customer_ref=77", "https://shop.example/p?customer_ref=[redacted]"),
        ("https://user:secret@shop.example/p", "https://shop.example/p"),
        ("https://shop.example/p?password=x&pwd=y&phone=1&session_id=2&code=3", "https://shop.example/p?password=[redacted]&pwd=[redacted]&phone=[redacted]&session_id=[redacted]&code=[redacted]"),
        ("https://shop.example/p?q=running+shoes", "https://shop.example/p?q=running+shoes"),
        ("https://shop.example/@brand/page", "https://shop.example/@brand/page"),
        ("not a url with jane@mail.example", "[redacted]"),
        ("", ""),
    ];
    for (input, want) in cases {
        assert_eq!(scrub(input, &extra), want, "{input}");
    }
    assert!(has_email("a.b+c@d-e.example"));
    assert!(!has_email("@brand"));
    assert!(!has_email("a@b"));
}

#[test]
fn topics_are_normalised_capped_and_matched_by_path() {
    use sillage_core::track::topics::{from_path, glob, normalize, parse_rules};
    assert_eq!(
        normalize(["Running, Trail ", "  trail", "ULTRA   Running"]),
        ["running", "trail", "ultra running"]
    );
    assert_eq!(normalize(["a,b,c,d,e,f,g,h,i,j,k,l"]).len(), 10);
    assert_eq!(normalize(["x".repeat(50).as_str()])[0].len(), 32);
    assert!(normalize([" , ,"]).is_empty());
    for (pat, path, want) in [
        ("/running/*", "/running/shoes", true),
        ("/running/*", "/running/", true),
        ("/running/*", "/run", false),
        ("/*/sale", "/shoes/sale", true),
        ("/*/sale", "/shoes/sale/x", false),
        ("/blog", "/blog", true),
        ("/blog", "/blog/x", false),
        ("*", "/anything", true),
        ("/a*b*c", "/axxbyyc", true),
        ("/a*b*c", "/axxc", false),
        ("*/reviews*", "/p/x/reviews", true),
        ("*-vs-*", "/trail-vs-road", true),
        ("/a*a", "/a", false),
        ("**", "/x", true),
        ("/é*", "/été", true),
        ("/é*", "/ecole", false),
    ] {
        assert_eq!(glob(pat, path), want, "{pat} {path}");
    }
    let doc: Json = serde_json::from_value(serde_json::json!([
        {"topic": "Running", "path": "/running/*"}, {"topic": "trail", "path": "/running/trail*"},
        {"topic": "", "path": "/x"}, {"topic": "x", "path": "no-slash"}, {"topic": "y", "path": "/y", "paht": 1}
    ])).unwrap();
    let mut errs = Vec::new();
    let rules = parse_rules(&doc, &mut errs);
    let got: Vec<String> = errs.iter().map(|d| d.render()).collect();
    assert_eq!(
        got,
        [
            "topics[2].topic: must be a non-empty string",
            "topics[3].path: must be a path starting with /",
            "topics[4].paht: unknown key \"paht\" (did you mean \"path\"?)"
        ]
    );
    assert_eq!(
        from_path(&rules, "/running/trail-shoes").collect::<Vec<_>>(),
        ["running", "trail"]
    );
}

#[test]
fn the_profile_keeps_first_touch_last_non_direct_touch_and_channels() {
    use sillage_core::track::touchpoint::Touches;
    let c = ChannelConfig::default();
    let mut t = Touches::default();
    let visits = [
        (
            "/?utm_source=flyer&utm_medium=qr&utm_campaign=store",
            "",
            1.0,
        ),
        ("/", "", 2.0),
        ("/", "https://www.google.com/", 3.0),
        ("/cart", "https://shop.example/", 4.0),
        ("/", "", 5.0),
    ];
    for (path, referrer, at) in visits {
        t.update(&classify(&format!("{S}{path}"), referrer, &c), at);
    }
    let first = t.first.clone().unwrap();
    assert_eq!(
        (first.channel.as_str(), first.campaign.as_deref(), first.at),
        ("Offline", Some("store"), 1.0)
    );
    let last = t.last_non_direct.clone().unwrap();
    assert_eq!(
        (last.channel.as_str(), last.source.as_str(), last.at),
        ("Organic Search", "google", 3.0)
    );
    assert_eq!(t.channels, ["Offline", "Direct", "Organic Search"]);
    assert_eq!(Touches::from_json(&t.to_json()), t, "storage round trip");
    assert_eq!(
        Touches::from_json(&Json::Str("junk".into())),
        Touches::default()
    );
}
