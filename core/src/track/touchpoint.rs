//! Touchpoints: where a visit comes from, classified in the browser.
//!
//! From the landing URL (UTM parameters, click ids) and the referrer, a
//! [`Touchpoint`] gets a GA4-style default channel group, a source and a
//! medium, its campaign (with Segment's field names), whether it was paid
//! and through which ad network, and the search engine's name. Offline
//! touchpoints (a QR code on a flyer, a store display, a catalogue) arrive
//! through tagged links and get their own `Offline` channel, and AI
//! assistants their own `AI Assistant` channel: the omnichannel journey is
//! the point of this product.
//!
//! The rules follow GA4's published default channel definitions ("[GA4]
//! Default channel group"), rewritten here, in GA4's order, "Paid Other"
//! included; the host table is our own, deliberately short (the sites people
//! actually come from), and sites extend or override it with
//! `channels.sources`. A `utm_source` is a social, search, video or shopping
//! source when it names a known site (`facebook`, `linkedin.com`) or is one
//! of Meta's source abbreviations (`fb`, `ig`, `an`, `msg`; also `meta`,
//! `insta`). Differences from GA4: ad networks' click ids (gclid,
//! msclkid, ttclid, li_fat_id, twclid, dclid...) mark a touchpoint as paid
//! even without UTM tags (GA4 reads only Google's, through the linked ad
//! account); `fbclid` names Meta without making the visit paid (Meta adds it
//! to organic links too), so an untagged `fbclid` landing is Organic Social
//! even when the in-app browser sends no referrer (GA4 says Direct);
//! `newsletter` is an email medium and `affiliates` and `podcast` are
//! mediums of their channels (Unassigned in GA4); `Offline` and
//! `AI Assistant` are Sillage's additions, checked before the organic groups.
//!
//! Sessions are decided here too (sans-IO: time and the new id passed in):
//! 30 minutes without activity, a new campaign or a new external referrer
//! start a new one.

use crate::support::diag::{index_path, key_path, Diagnostic};
use crate::support::json::Json;
use crate::support::strsearch::contains;
use crate::support::time::Millis;
use crate::support::url::{parse, query_pairs};
use crate::t;
use crate::track::capture::host_within;

/// Channel groups, in GA4's spirit plus `Offline` and `AI Assistant`.
pub const CHANNELS: &[&str] = &[
    "Direct",
    "Organic Search",
    "Paid Search",
    "Organic Social",
    "Paid Social",
    "Email",
    "Affiliates",
    "Referral",
    "Display",
    "Paid Other",
    "Organic Video",
    "Paid Video",
    "Organic Shopping",
    "Paid Shopping",
    "SMS",
    "Mobile Push",
    "Audio",
    "Cross-network",
    "AI Assistant",
    "Offline",
    "Unassigned",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Search,
    Social,
    Video,
    Shopping,
    Webmail,
    Ai,
    /// Only for `dclid`: display ads, no site of the host table.
    Display,
}

/// (domain, kind, display name). A domain ending in `.*` matches any public
/// suffix (`google.*`: google.fr, google.co.uk).
const HOSTS: &[(&str, Kind, &str)] = &[
    ("google.*", Kind::Search, "google"),
    ("bing.com", Kind::Search, "bing"),
    ("duckduckgo.com", Kind::Search, "duckduckgo"),
    ("search.yahoo.com", Kind::Search, "yahoo"),
    ("yandex.*", Kind::Search, "yandex"),
    ("baidu.com", Kind::Search, "baidu"),
    ("ecosia.org", Kind::Search, "ecosia"),
    ("qwant.com", Kind::Search, "qwant"),
    ("search.naver.com", Kind::Search, "naver"),
    ("seznam.cz", Kind::Search, "seznam"),
    ("search.brave.com", Kind::Search, "brave"),
    ("startpage.com", Kind::Search, "startpage"),
    ("ask.com", Kind::Search, "ask"),
    ("mail.google.com", Kind::Webmail, "gmail"),
    ("outlook.live.com", Kind::Webmail, "outlook"),
    ("outlook.office.com", Kind::Webmail, "outlook"),
    ("mail.yahoo.com", Kind::Webmail, "yahoo mail"),
    ("mail.proton.me", Kind::Webmail, "proton mail"),
    ("facebook.com", Kind::Social, "facebook"),
    ("fb.me", Kind::Social, "facebook"),
    ("instagram.com", Kind::Social, "instagram"),
    ("l.instagram.com", Kind::Social, "instagram"),
    ("t.co", Kind::Social, "x"),
    ("x.com", Kind::Social, "x"),
    ("twitter.com", Kind::Social, "x"),
    ("linkedin.com", Kind::Social, "linkedin"),
    ("lnkd.in", Kind::Social, "linkedin"),
    ("pinterest.*", Kind::Social, "pinterest"),
    ("reddit.com", Kind::Social, "reddit"),
    ("tiktok.com", Kind::Social, "tiktok"),
    ("snapchat.com", Kind::Social, "snapchat"),
    ("threads.net", Kind::Social, "threads"),
    ("bsky.app", Kind::Social, "bluesky"),
    ("mastodon.social", Kind::Social, "mastodon"),
    ("whatsapp.com", Kind::Social, "whatsapp"),
    ("t.me", Kind::Social, "telegram"),
    ("youtube.com", Kind::Video, "youtube"),
    ("youtu.be", Kind::Video, "youtube"),
    ("vimeo.com", Kind::Video, "vimeo"),
    ("twitch.tv", Kind::Video, "twitch"),
    ("dailymotion.com", Kind::Video, "dailymotion"),
    ("amazon.*", Kind::Shopping, "amazon"),
    ("ebay.*", Kind::Shopping, "ebay"),
    ("etsy.com", Kind::Shopping, "etsy"),
    ("shopping.google.com", Kind::Shopping, "google shopping"),
    ("idealo.*", Kind::Shopping, "idealo"),
    ("walmart.com", Kind::Shopping, "walmart"),
    ("aliexpress.com", Kind::Shopping, "aliexpress"),
    ("chatgpt.com", Kind::Ai, "chatgpt"),
    ("chat.openai.com", Kind::Ai, "chatgpt"),
    ("perplexity.ai", Kind::Ai, "perplexity"),
    ("gemini.google.com", Kind::Ai, "gemini"),
    ("copilot.microsoft.com", Kind::Ai, "copilot"),
    ("claude.ai", Kind::Ai, "claude"),
    ("chat.mistral.ai", Kind::Ai, "mistral"),
    ("you.com", Kind::Ai, "you.com"),
];

/// Social sources that are no site's name: Meta's ads abbreviations
/// (`{{site_source_name}}`: Facebook, Instagram, Audience Network,
/// Messenger) and two common shorthands.
const SOCIAL_SOURCES: &[&str] = &["fb", "ig", "an", "msg", "meta", "insta"];

/// Click id parameters: (parameter, network, source, medium and kind
/// without UTM tags, channel then). Ad networks add theirs to ad clicks
/// only, so those are paid; Meta adds `fbclid` to organic links too, so it
/// names the network and the rules decide (Organic Social, or Paid Social
/// with a paid `utm_medium`).
const CLICK_IDS: &[(&str, &str, &str, &str, Kind, &str)] = &[
    (
        "gclid",
        "Google Ads",
        "google",
        "cpc",
        Kind::Search,
        "Paid Search",
    ),
    (
        "gbraid",
        "Google Ads",
        "google",
        "cpc",
        Kind::Search,
        "Paid Search",
    ),
    (
        "wbraid",
        "Google Ads",
        "google",
        "cpc",
        Kind::Search,
        "Paid Search",
    ),
    (
        "msclkid",
        "Microsoft Ads",
        "bing",
        "cpc",
        Kind::Search,
        "Paid Search",
    ),
    ("fbclid", "Meta", "facebook", "social", Kind::Social, ""),
    (
        "ttclid",
        "TikTok Ads",
        "tiktok",
        "paid_social",
        Kind::Social,
        "Paid Social",
    ),
    (
        "li_fat_id",
        "LinkedIn Ads",
        "linkedin",
        "paid_social",
        Kind::Social,
        "Paid Social",
    ),
    (
        "twclid",
        "X Ads",
        "x",
        "paid_social",
        Kind::Social,
        "Paid Social",
    ),
    (
        "dclid",
        "Google Display & Video 360",
        "google",
        "cpc",
        Kind::Display,
        "Display",
    ),
];

/// `utm_medium` values that mark an offline touchpoint.
pub const OFFLINE_MEDIUMS: &[&str] = &[
    "qr",
    "qrcode",
    "qr_code",
    "print",
    "store",
    "instore",
    "in-store",
    "offline",
    "kiosk",
    "catalog",
    "catalogue",
    "flyer",
    "poster",
    "direct_mail",
    "directmail",
    "mail_piece",
    "pos",
    "packaging",
];

/// One site-defined source rule from `channels.sources`.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceRule {
    /// Matches the referrer's host (and its subdomains).
    pub host: Option<String>,
    /// Matches `utm_source` (case-insensitive).
    pub source: Option<String>,
    /// Matches `utm_medium` when given (case-insensitive).
    pub medium: Option<String>,
    /// The channel group to give.
    pub channel: &'static str,
    /// Source name to report instead of the host.
    pub name: Option<String>,
}

/// The `channels` config section.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChannelConfig {
    /// Site rules, checked before the built-in ones.
    pub sources: Vec<SourceRule>,
    /// Other domains of the same site: referrers from them are internal.
    pub internal_domains: Vec<String>,
}

fn str_list(v: &Json, path: &str, out: &mut Vec<Diagnostic>) -> Vec<String> {
    match v {
        Json::Arr(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, x)| match x {
                Json::Str(s) if !s.trim().is_empty() => Some(s.trim().to_ascii_lowercase()),
                _ => {
                    out.push(Diagnostic::new(
                        index_path(path, i),
                        t!("must be a non-empty string"),
                    ));
                    None
                }
            })
            .collect(),
        _ => {
            out.push(Diagnostic::new(path, t!("must be an array of strings")));
            Vec::new()
        }
    }
}

/// Keys of `channels`.
pub const CHANNELS_KEYS: &[&str] = &["sources", "internalDomains"];
/// Keys of `channels.sources[i]`.
pub const SOURCE_KEYS: &[&str] = &["host", "source", "medium", "channel", "name"];

/// Parses `channels: {sources, internalDomains}` with diagnostics.
pub fn parse_channels(v: &Json, out: &mut Vec<Diagnostic>) -> ChannelConfig {
    let mut cfg = ChannelConfig::default();
    let Some(entries) = v.as_obj() else {
        out.push(Diagnostic::new("channels", t!("must be an object")));
        return cfg;
    };
    for (k, val) in entries {
        match k.as_str() {
            "internalDomains" => {
                cfg.internal_domains = str_list(val, "channels.internalDomains", out)
            }
            "sources" => {
                let Some(items) = val.as_arr() else {
                    out.push(Diagnostic::new("channels.sources", t!("must be an array")));
                    continue;
                };
                for (i, item) in items.iter().enumerate() {
                    let path = index_path("channels.sources", i);
                    let text = |key: &str| {
                        item.get(key)
                            .and_then(Json::as_str)
                            .map(|s| s.trim().to_ascii_lowercase())
                    };
                    if let Some(o) = item.as_obj() {
                        for (key, _) in o {
                            if !SOURCE_KEYS.contains(&key.as_str()) {
                                out.push(Diagnostic::unknown_key(&path, key, SOURCE_KEYS));
                            }
                        }
                    } else {
                        out.push(Diagnostic::new(path, t!("must be an object")));
                        continue;
                    }
                    let channel = match item.get("channel").and_then(Json::as_str) {
                        Some(c) => match CHANNELS.iter().find(|x| x.eq_ignore_ascii_case(c)) {
                            Some(x) => *x,
                            None => {
                                out.push(Diagnostic::unknown(
                                    key_path(&path, "channel"),
                                    t!("unknown channel \"{}\""),
                                    c,
                                    CHANNELS,
                                ));
                                continue;
                            }
                        },
                        None => {
                            out.push(Diagnostic::new(key_path(&path, "channel"), t!("missing")));
                            continue;
                        }
                    };
                    let (host, source) = (text("host"), text("source"));
                    if host.is_none() && source.is_none() {
                        out.push(Diagnostic::new(
                            path,
                            t!("needs a host or a source to match"),
                        ));
                        continue;
                    }
                    cfg.sources.push(SourceRule {
                        host,
                        source,
                        medium: text("medium"),
                        channel,
                        name: item.get("name").and_then(Json::as_str).map(str::to_string),
                    });
                }
            }
            other => out.push(Diagnostic::unknown_key("channels", other, CHANNELS_KEYS)),
        }
    }
    cfg
}

/// Campaign fields with Segment's names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Campaign {
    /// `utm_campaign`
    pub name: Option<String>,
    /// `utm_source`
    pub source: Option<String>,
    /// `utm_medium`
    pub medium: Option<String>,
    /// `utm_term`
    pub term: Option<String>,
    /// `utm_content`
    pub content: Option<String>,
}

/// A query parameter's trimmed, non-empty value (names compared
/// case-insensitively).
fn query_param(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(key, v)| key.eq_ignore_ascii_case(name) && !v.trim().is_empty())
        .map(|(_, v)| v.trim().to_string())
}

impl Campaign {
    /// The UTM tags of a query's `(key, value)` pairs.
    pub fn from_query(pairs: &[(String, String)]) -> Campaign {
        let param = |k: &str| query_param(pairs, k);
        Campaign {
            name: param("utm_campaign"),
            source: param("utm_source"),
            medium: param("utm_medium"),
            term: param("utm_term"),
            content: param("utm_content"),
        }
    }

    fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.source.is_none()
            && self.medium.is_none()
            && self.term.is_none()
            && self.content.is_none()
    }

    /// `context.campaign` (Segment's field names), or `None` when untagged.
    pub fn to_json(&self) -> Option<Json> {
        if self.is_empty() {
            return None;
        }
        let mut o = Json::obj();
        for (k, v) in [
            ("name", &self.name),
            ("source", &self.source),
            ("medium", &self.medium),
            ("term", &self.term),
            ("content", &self.content),
        ] {
            if let Some(v) = v {
                o.set(k, v.as_str().into());
            }
        }
        Some(o)
    }
}

/// A classified touchpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Touchpoint {
    /// The channel group, one of [`CHANNELS`].
    pub channel: &'static str,
    /// `utm_source`, the click network's source, the search engine, the
    /// referrer host, or `(direct)`.
    pub source: String,
    /// `utm_medium`, `organic`, `referral`, `cpc`..., or `(none)`.
    pub medium: String,
    /// The campaign tags.
    pub campaign: Campaign,
    /// Paid: a paid medium, or an ad network's click id (not `fbclid`).
    pub paid: bool,
    /// The network a click id names (`Google Ads`, `Meta`...).
    pub click_id_network: Option<&'static str>,
    /// The search engine's name, for search referrers.
    pub search_engine: Option<&'static str>,
    /// The referrer's host, when there is an external one.
    pub referrer_host: Option<String>,
    /// The referrer is the site itself (or one of its internal domains): not
    /// a new touch.
    pub internal: bool,
}

fn lookup(host: &str) -> Option<(Kind, &'static str)> {
    let host = host.to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host);
    // The most specific pattern wins (mail.google.com over google.*).
    let mut best: Option<(usize, Kind, &'static str)> = None;
    for (d, kind, name) in HOSTS {
        let hit = match d.strip_suffix(".*") {
            // base label then a public suffix of one or two short labels
            Some(base) => {
                // Drop one or two short labels (the public suffix), then
                // the rest must be the base or end in `.base`.
                let mut labels = host.rsplit('.');
                let mut rest = host;
                let mut ok = false;
                for _ in 0..2 {
                    match labels.next() {
                        Some(l) if (2..=3).contains(&l.len()) => {
                            rest = rest
                                .get(..rest.len().saturating_sub(l.len() + 1))
                                .unwrap_or("");
                            ok |= host_within(rest, base);
                        }
                        _ => break,
                    }
                }
                ok
            }
            None => host_within(host, d),
        };
        if hit && best.is_none_or(|b| d.len() > b.0) {
            best = Some((d.len(), *kind, *name));
        }
    }
    best.map(|(_, k, n)| (k, n))
}

/// What the channel table looks at.
struct Facts<'a> {
    paid: bool,
    kind: Option<Kind>,
    med: &'a str,
    src: &'a str,
    shop_campaign: bool,
    /// The click id's channel, when no `utm_medium` says otherwise.
    click_channel: Option<&'static str>,
}

/// One test of a channel rule.
enum Test {
    /// The source is a known site of this kind.
    Kind(Kind),
    /// The medium is one of these.
    Medium(&'static [&'static str]),
    /// The medium contains this.
    MediumHas(&'static str),
    /// The medium ends with this.
    MediumEnds(&'static str),
    /// The source is one of these.
    Source(&'static [&'static str]),
    /// The campaign name mentions shopping.
    ShopCampaign,
    /// A click id names the channel (no `utm_medium`).
    ClickId,
    /// Always.
    Any,
}

const EMAIL: &[&str] = &["email", "e-mail", "e_mail", "e mail", "newsletter"];

/// GA4's channel rules after Direct, Cross-network and Offline, in GA4's
/// order (a click id's own channel comes in before "Paid Other"):
/// (channel, needs paid?, any of these tests). Data rather than an if-chain
/// of string comparisons: much smaller in the wasm.
const RULES: &[(&str, Option<bool>, &[Test])] = &[
    (
        "Paid Shopping",
        Some(true),
        &[Test::Kind(Kind::Shopping), Test::ShopCampaign],
    ),
    ("Paid Search", Some(true), &[Test::Kind(Kind::Search)]),
    ("Paid Social", Some(true), &[Test::Kind(Kind::Social)]),
    ("Paid Video", Some(true), &[Test::Kind(Kind::Video)]),
    (
        "Display",
        None,
        &[Test::Medium(&[
            "display",
            "banner",
            "expandable",
            "interstitial",
            "cpm",
        ])],
    ),
    ("", None, &[Test::ClickId]),
    ("Paid Other", Some(true), &[Test::Any]),
    (
        "AI Assistant",
        None,
        &[
            Test::Kind(Kind::Ai),
            Test::Source(&["chatgpt.com"]),
            Test::Medium(&["ai"]),
        ],
    ),
    (
        "Organic Shopping",
        None,
        &[Test::Kind(Kind::Shopping), Test::ShopCampaign],
    ),
    (
        "Organic Social",
        None,
        &[
            Test::Kind(Kind::Social),
            Test::Medium(&[
                "social",
                "social-network",
                "social-media",
                "sm",
                "social network",
                "social media",
            ]),
        ],
    ),
    (
        "Organic Video",
        None,
        &[Test::Kind(Kind::Video), Test::MediumHas("video")],
    ),
    (
        "Organic Search",
        None,
        &[Test::Kind(Kind::Search), Test::Medium(&["organic"])],
    ),
    (
        "Referral",
        None,
        &[Test::Medium(&["referral", "app", "link"])],
    ),
    (
        "Email",
        None,
        &[
            Test::Medium(EMAIL),
            Test::Source(EMAIL),
            Test::Kind(Kind::Webmail),
        ],
    ),
    (
        "Affiliates",
        None,
        &[Test::Medium(&["affiliate", "affiliates"])],
    ),
    ("Audio", None, &[Test::Medium(&["audio", "podcast"])]),
    (
        "SMS",
        None,
        &[Test::Medium(&["sms"]), Test::Source(&["sms"])],
    ),
    (
        "Mobile Push",
        None,
        &[
            Test::MediumEnds("push"),
            Test::MediumHas("mobile"),
            Test::MediumHas("notification"),
            Test::Source(&["firebase"]),
        ],
    ),
];

fn by_table(f: &Facts) -> Option<&'static str> {
    RULES.iter().find_map(|(channel, paid, tests)| {
        if paid.is_some_and(|p| p != f.paid) {
            return None;
        }
        let hit = tests.iter().any(|t| match t {
            Test::Kind(k) => f.kind == Some(*k),
            Test::Medium(list) => list.contains(&f.med),
            Test::MediumHas(x) => contains(f.med, x),
            Test::MediumEnds(x) => f.med.ends_with(x),
            Test::Source(list) => list.contains(&f.src),
            Test::ShopCampaign => f.shop_campaign,
            Test::ClickId => f.click_channel.is_some(),
            Test::Any => true,
        });
        match (hit, *channel) {
            (false, _) => None,
            (true, "") => f.click_channel,
            (true, c) => Some(c),
        }
    })
}

fn is_paid_medium(m: &str) -> bool {
    contains(m, "cp") || m == "ppc" || m == "retargeting" || m.starts_with("paid")
}

/// Classifies a landing: `page_url` (`location.href`), `referrer`
/// (`document.referrer`, may be empty) and the site's channel config.
pub fn classify(page_url: &str, referrer: &str, cfg: &ChannelConfig) -> Touchpoint {
    let page = parse(page_url);
    let pairs = page
        .as_ref()
        .map(|u| query_pairs(u.query))
        .unwrap_or_default();
    let campaign = Campaign::from_query(&pairs);
    let click = CLICK_IDS
        .iter()
        .find(|(p, ..)| query_param(&pairs, p).is_some());
    let page_host = page.as_ref().map_or("", |u| u.host).to_ascii_lowercase();
    let page_bare = page_host
        .strip_prefix("www.")
        .unwrap_or(&page_host)
        .to_string();
    let ref_url = parse(referrer);
    let ref_host = ref_url.as_ref().map(|u| u.host.to_ascii_lowercase());
    let internal = ref_host.as_deref().is_some_and(|h| {
        host_within(h, &page_bare)
            || host_within(&page_bare, h.strip_prefix("www.").unwrap_or(h))
            || cfg.internal_domains.iter().any(|d| host_within(h, d))
    });
    let external_ref = ref_host.clone().filter(|_| !internal);
    let known = external_ref.as_deref().and_then(lookup);

    let lower = |o: &Option<String>| o.as_deref().map(str::to_ascii_lowercase);
    let (src_l, med_l, name_l) = (
        lower(&campaign.source),
        lower(&campaign.medium),
        lower(&campaign.name),
    );
    // Source and medium, GA4-style.
    let (mut source, mut medium) = match (&campaign.source, &campaign.medium, click, &external_ref)
    {
        (Some(s), m, _, _) => (
            s.to_ascii_lowercase(),
            m.as_deref().unwrap_or("(not set)").to_ascii_lowercase(),
        ),
        (None, Some(m), _, Some(h)) => (
            known.map_or(h.clone(), |k| k.1.to_string()),
            m.to_ascii_lowercase(),
        ),
        (None, Some(m), c, None) => (
            c.map_or("(not set)", |c| c.2).to_string(),
            m.to_ascii_lowercase(),
        ),
        // The click's network, or the referrer when it is a site of the
        // same kind (an `fbclid` from l.instagram.com is instagram's).
        (None, None, Some(&(_, _, src, med, kind, _)), _) => (
            known
                .filter(|k| k.0 == kind)
                .map_or(src, |k| k.1)
                .to_string(),
            med.to_string(),
        ),
        (None, None, None, Some(h)) => match known {
            Some((Kind::Search, n)) => (n.to_string(), "organic".into()),
            Some((Kind::Social, n)) => (n.to_string(), "social".into()),
            Some((Kind::Webmail, n)) => (n.to_string(), "email".into()),
            Some((_, n)) => (n.to_string(), "referral".into()),
            None => (
                h.strip_prefix("www.").unwrap_or(h).to_string(),
                "referral".into(),
            ),
        },
        (None, None, None, None) if campaign.is_empty() => ("(direct)".into(), "(none)".into()),
        (None, None, None, None) => ("(not set)".into(), "(not set)".into()),
    };
    let paid =
        click.is_some_and(|c| is_paid_medium(c.3)) || med_l.as_deref().is_some_and(is_paid_medium);
    // The kind of the source: from the referrer, else from utm_source's
    // name, else from the click id's network.
    let kind = known
        .map(|k| k.0)
        .or_else(|| {
            let s = src_l.as_deref()?;
            if SOCIAL_SOURCES.contains(&s) {
                return Some(Kind::Social);
            }
            HOSTS
                .iter()
                .find(|(d, _, n)| {
                    let d = d.strip_suffix(".*").unwrap_or(d);
                    *n == s || d == s || d.strip_suffix(".com") == Some(s)
                })
                .map(|(_, k, _)| *k)
        })
        .or(click.filter(|_| src_l.is_none()).map(|c| c.4));
    let med = medium.clone();
    let src = src_l.clone().unwrap_or_default();
    let shop_campaign = name_l.as_deref().is_some_and(|n| contains(n, "shop"));

    // Site rules first.
    let rule = cfg.sources.iter().find(|r| {
        let host_ok = r
            .host
            .as_deref()
            .is_none_or(|h| external_ref.as_deref().is_some_and(|x| host_within(x, h)));
        let src_ok = r.source.as_deref().is_none_or(|s| src == s);
        let med_ok = r.medium.as_deref().is_none_or(|m| med == m);
        host_ok
            && src_ok
            && med_ok
            && (r.host.is_some() && external_ref.is_some() || r.source.is_some() && !src.is_empty())
    });
    let channel: &'static str = if let Some(r) = rule {
        if let Some(n) = &r.name {
            source = n.clone();
        }
        r.channel
    } else if source == "(direct)" && (medium == "(none)" || medium == "(not set)") {
        "Direct"
    } else if name_l
        .as_deref()
        .is_some_and(|n| contains(n, "cross-network"))
    {
        "Cross-network"
    } else if OFFLINE_MEDIUMS.contains(&med.as_str()) || OFFLINE_MEDIUMS.contains(&src.as_str()) {
        "Offline"
    } else if let Some(ch) = by_table(&Facts {
        paid,
        kind,
        med: &med,
        src: &src,
        shop_campaign,
        click_channel: click
            .filter(|c| campaign.medium.is_none() && !c.5.is_empty())
            .map(|c| c.5),
    }) {
        ch
    } else {
        "Unassigned"
    };
    if channel == "Direct" {
        medium = "(none)".into();
    }
    Touchpoint {
        channel,
        source,
        medium,
        campaign,
        paid,
        click_id_network: click.map(|c| c.1),
        search_engine: match known {
            Some((Kind::Search, n)) => Some(n),
            _ => None,
        },
        referrer_host: external_ref,
        internal,
    }
}

impl Touchpoint {
    /// The fields `sillage touchpoint` prints and page views carry in
    /// `context.sillage.touchpoint`.
    pub fn to_json(&self) -> Json {
        let mut o = Json::obj()
            .with("channel", self.channel)
            .with("source", self.source.as_str())
            .with("medium", self.medium.as_str())
            .with("paid", self.paid);
        let c = &self.campaign;
        for (k, v) in [
            ("campaign", &c.name),
            ("term", &c.term),
            ("content", &c.content),
        ] {
            if let Some(v) = v {
                o.set(k, v.as_str().into());
            }
        }
        if let Some(n) = self.click_id_network {
            o.set("clickIdNetwork", n.into());
        }
        if let Some(n) = self.search_engine {
            o.set("searchEngine", n.into());
        }
        if let Some(h) = &self.referrer_host {
            o.set("referrerHost", h.as_str().into());
        }
        if self.internal {
            o.set("internal", true.into());
        }
        o
    }

    /// What starts a new session if it changes: the campaign (tags or click
    /// id), else the external referrer; `None` for direct and internal visits.
    pub fn session_key(&self) -> Option<String> {
        if self.internal {
            return None;
        }
        let c = &self.campaign;
        if !c.is_empty() || self.click_id_network.is_some() {
            let mut k = String::from("c:");
            for v in [&c.source, &c.medium, &c.name, &c.term, &c.content]
                .into_iter()
                .flatten()
            {
                k.push_str(v);
                k.push('|');
            }
            k.push_str(self.click_id_network.unwrap_or(""));
            return Some(k);
        }
        self.referrer_host.as_ref().map(|h| {
            let mut k = String::from("r:");
            k.push_str(h);
            k
        })
    }
}

/// Default inactivity that ends a session.
pub const SESSION_TIMEOUT_MS: Millis = 30.0 * 60_000.0;

/// A visit: shared by all tabs of the site (the shell stores it).
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    /// Sent as `context.sillage.sessionId`.
    pub id: String,
    /// 1 for the visitor's first session, then 2, 3...
    pub index: u32,
    /// When it started.
    pub started: Millis,
    /// Last activity.
    pub last: Millis,
    /// Page views so far.
    pub pageviews: u32,
    /// The campaign or referrer that started it ([`Touchpoint::session_key`]).
    pub key: String,
}

/// Why a new session started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionStart {
    /// No session before on this device.
    First,
    /// The previous one had been idle too long.
    Timeout,
    /// A different campaign (or click id) arrived.
    NewCampaign,
    /// A different external referrer arrived.
    NewReferrer,
}

impl SessionStart {
    /// `first`, `timeout`, `campaign`, `referrer`.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStart::First => "first",
            SessionStart::Timeout => "timeout",
            SessionStart::NewCampaign => "campaign",
            SessionStart::NewReferrer => "referrer",
        }
    }
}

/// Decides the session for activity at `now`. `touch` is the landing's
/// touchpoint for a page view, `None` for other activity. Returns the
/// session to store and why a new one started, if it did.
pub fn session_on(
    prev: Option<&Session>,
    touch: Option<&Touchpoint>,
    now: Millis,
    timeout: Millis,
    new_id: String,
) -> (Session, Option<SessionStart>) {
    let key = touch.and_then(Touchpoint::session_key);
    let start = match prev {
        None => Some(SessionStart::First),
        Some(p) if now - p.last > timeout => Some(SessionStart::Timeout),
        Some(p) => match &key {
            Some(k) if *k != p.key => Some(if k.starts_with("c:") {
                SessionStart::NewCampaign
            } else {
                SessionStart::NewReferrer
            }),
            _ => None,
        },
    };
    let page = u32::from(touch.is_some());
    match (start, prev) {
        (None, Some(p)) => {
            let mut s = p.clone();
            s.last = now.max(p.last);
            s.pageviews += page;
            (s, None)
        }
        (start, prev) => (
            Session {
                id: new_id,
                index: prev.map_or(1, |p| p.index + 1),
                started: now,
                last: now,
                pageviews: page,
                key: key.unwrap_or_default(),
            },
            start,
        ),
    }
}

impl Session {
    /// Compact storage form: `v1|id|index|started|last|pageviews|key`.
    pub fn encode(&self) -> String {
        let mut s = String::from("v1|");
        s.push_str(&self.id);
        for n in [
            self.index as u64,
            self.started as u64,
            self.last as u64,
            self.pageviews as u64,
        ] {
            s.push('|');
            crate::support::diag::push_u64(&mut s, n);
        }
        s.push('|');
        s.push_str(&self.key);
        s
    }

    /// Reads [`Session::encode`]'s form; `None` if corrupt.
    pub fn decode(v: &str) -> Option<Session> {
        let mut it = v.strip_prefix("v1|")?.splitn(6, '|');
        let id = it.next()?.to_string();
        let mut num = || crate::support::diag::parse_u64(it.next()?);
        let (index, started, last, pageviews) = (num()?, num()?, num()?, num()?);
        let key = it.next()?.to_string();
        (!id.is_empty()).then_some(Session {
            id,
            index: index as u32,
            started: started as f64,
            last: last as f64,
            pageviews: pageviews as u32,
            key,
        })
    }
}

/// One remembered touch.
#[derive(Clone, Debug, PartialEq)]
pub struct Touch {
    /// Channel group.
    pub channel: String,
    /// Source.
    pub source: String,
    /// Medium.
    pub medium: String,
    /// Campaign name, if tagged.
    pub campaign: Option<String>,
    /// When.
    pub at: Millis,
}

/// Longest source, medium or campaign kept by [`Touches::update_json`], in chars.
pub const MAX_TOUCH_TEXT: usize = 100;

/// Most channels remembered in [`Touches::channels`].
pub const MAX_CHANNELS_SEEN: usize = 20;

/// What the visitor profile keeps about touchpoints: the first touch, the
/// last non-direct touch, and the channels seen (in order of first sight).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Touches {
    /// The very first touchpoint on this device.
    pub first: Option<Touch>,
    /// The latest touchpoint that was not Direct (nor internal).
    pub last_non_direct: Option<Touch>,
    /// Channel groups seen, oldest first, at most [`MAX_CHANNELS_SEEN`].
    pub channels: Vec<String>,
}

impl Touches {
    /// Takes a landing touchpoint into account (internal navigation is not a
    /// touch).
    pub fn update(&mut self, t: &Touchpoint, now: Millis) {
        if !t.internal {
            self.remember(Touch {
                channel: t.channel.to_string(),
                source: t.source.clone(),
                medium: t.medium.clone(),
                campaign: t.campaign.name.clone(),
                at: now,
            });
        }
    }

    /// Takes a landing into account from its JSON form
    /// (`context.sillage.touchpoint`, as [`Touchpoint::to_json`] writes it),
    /// which is what the visitor profile is fed. Strings are cut at
    /// [`MAX_TOUCH_TEXT`] chars; a touchpoint without a channel, or marked
    /// internal, is ignored.
    pub fn update_json(&mut self, t: &Json, now: Millis) {
        let text = |k: &str| {
            t.get(k).and_then(Json::as_str).map(|s| {
                let mut s = s.to_string();
                crate::track::event::cap(&mut s, MAX_TOUCH_TEXT);
                s
            })
        };
        if t.get("internal") == Some(&Json::Bool(true)) {
            return;
        }
        if let Some(channel) = text("channel") {
            self.remember(Touch {
                channel,
                source: text("source").unwrap_or_default(),
                medium: text("medium").unwrap_or_default(),
                campaign: text("campaign"),
                at: now,
            });
        }
    }

    fn remember(&mut self, touch: Touch) {
        if !self.channels.contains(&touch.channel) && self.channels.len() < MAX_CHANNELS_SEEN {
            self.channels.push(touch.channel.clone());
        }
        if self.first.is_none() {
            self.first = Some(touch.clone());
        }
        if touch.channel != "Direct" {
            self.last_non_direct = Some(touch);
        }
    }

    /// JSON form, for storage and the profile snapshot.
    pub fn to_json(&self) -> Json {
        let touch = |t: &Option<Touch>| match t {
            None => Json::Null,
            Some(t) => Json::obj()
                .with("channel", t.channel.as_str())
                .with("source", t.source.as_str())
                .with("medium", t.medium.as_str())
                .with("campaign", t.campaign.clone())
                .with("at", t.at),
        };
        Json::obj()
            .with("firstTouch", touch(&self.first))
            .with("lastTouch", touch(&self.last_non_direct))
            .with(
                "channels",
                Json::Arr(self.channels.iter().map(|c| c.as_str().into()).collect()),
            )
    }

    /// Reads [`Touches::to_json`]'s form; unreadable parts are dropped.
    pub fn from_json(v: &Json) -> Touches {
        let touch = |k: &str| {
            let t = v.get(k)?;
            let s = |f: &str| t.get(f).and_then(Json::as_str).map(str::to_string);
            Some(Touch {
                channel: s("channel")?,
                source: s("source")?,
                medium: s("medium")?,
                campaign: s("campaign"),
                at: t.get("at").and_then(Json::as_f64)?,
            })
        };
        Touches {
            first: touch("firstTouch"),
            last_non_direct: touch("lastTouch"),
            channels: v
                .get("channels")
                .and_then(Json::as_arr)
                .map(|a| {
                    a.iter()
                        .filter_map(Json::as_str)
                        .take(MAX_CHANNELS_SEEN)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}
