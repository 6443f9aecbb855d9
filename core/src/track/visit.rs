//! The visit: what the tracker adds to every event about where the visitor
//! came from, which session they are in and what the page is about.
//!
//! The shell hands over raw browser facts (the page context, the topic hints
//! it read from the document, the session another tab may have stored, and
//! whether this page view is the landing of a page load); this module decides,
//! as data:
//!
//! - the page context as it may leave the device: personal query parameters
//!   and email addresses scrubbed from the URL, the referrer and the search
//!   string (see [`crate::support::url::scrub`]);
//! - the landing's [`Touchpoint`] (channel, source, campaign...), sent as
//!   `context.sillage.touchpoint`, and `context.campaign` (Segment's names)
//!   while the page URL carries UTM tags;
//! - the session (`context.sillage.sessionId`, `sessionIndex`, and
//!   `sessionStart` on the event that started one), shared by every tab
//!   through the one stored value the shell passes in and writes back;
//! - the page's topics (`context.sillage.topics`) from the page's hints and
//!   the config's URL rules.
//!
//! Sans-IO: time and the random bytes of a new session id are passed in.

use crate::support::diag::{index_path, Diagnostic};
use crate::support::json::Json;
use crate::support::strsearch::contains;
use crate::support::strsearch::CharSearch;
use crate::support::time::Millis;
use crate::support::url::{parse as parse_url, query_pairs, scrub};
use crate::t;
use crate::track::event::{uuid_v4, PageContext};
use crate::track::topics::{self, TopicRule};
use crate::track::touchpoint::{
    classify, session_on, Campaign, ChannelConfig, Session, Touchpoint, SESSION_TIMEOUT_MS,
};
use crate::track::tracker::Moment;

/// Storage key of the session shared by the site's tabs.
pub const SESSION_KEY: &str = "sillage.session";

/// The stored session's last-activity time is only rewritten once it is
/// this far behind (one storage write per event would cost more than the
/// event).
pub const LAST_ACTIVITY_GRANULARITY_MS: Millis = 5_000.0;

/// What leaves the device (`privacy.send`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Send {
    /// The event stream (the default).
    #[default]
    Events,
    /// No page or track events: only `Journey Stage Changed`, and at most 3
    /// top interests per session, each replaced by a random configured
    /// topic with probability `privacy.noise`.
    Summary,
    /// Nothing.
    None,
}

/// The values of `privacy.send`.
pub const SEND_MODES: &[&str] = &["events", "summary", "none"];
/// The values of `privacy.consent`.
pub const CONSENT_MODES: &[&str] = &["implied", "required"];

/// `privacy`: consent, what leaves the device, what must never leave it.
#[derive(Clone, Debug, PartialEq)]
pub struct Privacy {
    /// Query parameter names scrubbed from URLs on top of the default
    /// deny-list, lower-cased.
    pub scrub_params: Vec<String>,
    /// Whether a change of the likely journey stage is recorded as a
    /// `Journey Stage Changed` event (`stageEvents`, default true). The
    /// profile itself never leaves the device.
    pub stage_events: bool,
    /// `consent: "required"`: nothing is stored or sent before
    /// `sillage.consent({analytics: true})` (default `"implied"`: tracking
    /// runs unless the visitor opts out).
    pub consent_required: bool,
    /// `send`.
    pub send: Send,
    /// `noise`: the probability that a shared interest is replaced by a
    /// random configured topic (default 0.05).
    pub noise: f64,
    /// `respectGpc` (default true): `navigator.globalPrivacyControl` opts
    /// the visitor out of tracking.
    pub respect_gpc: bool,
    /// `respectDnt` (default true): `navigator.doNotTrack` does the same.
    pub respect_dnt: bool,
}

impl Default for Privacy {
    fn default() -> Privacy {
        Privacy {
            scrub_params: Vec::new(),
            stage_events: true,
            consent_required: false,
            send: Send::Events,
            noise: 0.05,
            respect_gpc: true,
            respect_dnt: true,
        }
    }
}

/// Keys of `privacy`.
pub const PRIVACY_KEYS: &[&str] = &[
    "scrubParams",
    "stageEvents",
    "consent",
    "send",
    "noise",
    "respectGpc",
    "respectDnt",
];

/// Parses `privacy` with diagnostics.
pub fn parse_privacy(v: &Json, out: &mut Vec<Diagnostic>) -> Privacy {
    let mut p = Privacy::default();
    let Some(entries) = v.as_obj() else {
        out.push(Diagnostic::new("privacy", t!("must be an object")));
        return p;
    };
    for (k, val) in entries {
        match k.as_str() {
            "scrubParams" => match val.as_arr() {
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        match item.as_str().map(str::trim) {
                            Some(s) if !s.is_empty() => p.scrub_params.push(s.to_ascii_lowercase()),
                            _ => out.push(Diagnostic::new(
                                index_path("privacy.scrubParams", i),
                                t!("must be a non-empty string"),
                            )),
                        }
                    }
                }
                None => out.push(Diagnostic::new(
                    "privacy.scrubParams",
                    t!("must be an array of query parameter names"),
                )),
            },
            "stageEvents" | "respectGpc" | "respectDnt" => match val {
                Json::Bool(b) => match k.as_str() {
                    "stageEvents" => p.stage_events = *b,
                    "respectGpc" => p.respect_gpc = *b,
                    _ => p.respect_dnt = *b,
                },
                other => out.push(crate::support::diag::type_error(
                    &crate::support::diag::key_path("privacy", k),
                    t!("must be true or false, not {}"),
                    other,
                )),
            },
            "consent" | "send" => {
                let (values, path) = if k == "consent" {
                    (CONSENT_MODES, "privacy.consent")
                } else {
                    (SEND_MODES, "privacy.send")
                };
                match val.as_str() {
                    Some(s) if values.contains(&s) => match s {
                        "required" => p.consent_required = true,
                        "implied" => p.consent_required = false,
                        "summary" => p.send = Send::Summary,
                        "none" => p.send = Send::None,
                        _ => p.send = Send::Events,
                    },
                    Some(s) => out.push(Diagnostic::unknown(
                        path,
                        t!("unknown value \"{}\""),
                        s,
                        values,
                    )),
                    None => out.push(crate::support::diag::type_error(
                        path,
                        t!("must be a string, not {}"),
                        val,
                    )),
                }
            }
            "noise" => {
                p.noise = crate::config::number_in(v, "privacy", "noise", (0.0, 1.0), 0.05, out)
            }
            other => out.push(Diagnostic::unknown_key("privacy", other, PRIVACY_KEYS)),
        }
    }
    p
}

/// What the visit needs from the config.
#[derive(Clone, Debug, PartialEq)]
pub struct VisitConfig {
    /// Channel rules and internal domains.
    pub channels: ChannelConfig,
    /// URL-pattern topic rules.
    pub topics: Vec<TopicRule>,
    /// Extra query parameters to scrub.
    pub scrub_params: Vec<String>,
    /// Inactivity that ends a session.
    pub session_timeout_ms: Millis,
}

impl Default for VisitConfig {
    fn default() -> Self {
        VisitConfig {
            channels: ChannelConfig::default(),
            topics: Vec::new(),
            scrub_params: Vec::new(),
            session_timeout_ms: SESSION_TIMEOUT_MS,
        }
    }
}

/// A page view that brings no new touch (internal navigation, an SPA route):
/// it counts in the session and never splits it.
const NOT_A_TOUCH: Touchpoint = Touchpoint {
    channel: "Direct",
    source: String::new(),
    medium: String::new(),
    campaign: Campaign {
        name: None,
        source: None,
        medium: None,
        term: None,
        content: None,
    },
    paid: false,
    click_id_network: None,
    search_engine: None,
    referrer_host: None,
    internal: true,
};

/// What kind of event is being recorded, as far as the visit is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activity {
    /// The first page view of a page load: its referrer and campaign tags
    /// are a touchpoint (unless the referrer is the site itself).
    Landing,
    /// Any later page view (SPA navigation, a back-forward cache restore, a
    /// manual `page()` call).
    PageView,
    /// Anything else (track, identify).
    Other,
}

/// The context of one event, decided by [`Visit::on_event`].
#[derive(Clone, Debug, PartialEq)]
pub struct EventContext {
    /// The page as it may be sent (scrubbed; for SPA page views the
    /// referrer is the previous page).
    pub page: PageContext,
    /// More `context` entries: `campaign` and `sillage` (session, touchpoint,
    /// topics; the shell adds the device class).
    pub extra: Json,
    /// The session value to store for every tab, when it changed.
    pub store_session: Option<String>,
    /// The page view this event starts (scrubbed URL and topics), to be
    /// [committed](Visit::commit) once the event is recorded.
    pub page_view: Option<(String, Vec<String>)>,
    /// The landing's touchpoint, if this event is a landing that is a touch.
    pub touch: Option<Touchpoint>,
}

/// The visit state of one page (tab).
#[derive(Clone, Debug, Default)]
pub struct Visit {
    config: VisitConfig,
    /// The scrubbed URL of the current page view, and its topics.
    current: Option<(String, Vec<String>)>,
    /// The touchpoint of this page load's landing (when it was a touch).
    landing: Option<Touchpoint>,
    /// The last page context scrubbed: most events of a page share it, and
    /// scrubbing and reading campaign tags is most of an event's cost.
    scrubbed: Option<Scrubbed>,
}

/// A page context as it may leave the device, with the raw values it came
/// from.
#[derive(Clone, Debug)]
struct Scrubbed {
    raw_url: String,
    raw_referrer: String,
    raw_path: String,
    url: String,
    search: String,
    path: String,
    referrer: String,
    campaign: Option<Json>,
}

fn campaign_of(url: &str) -> Option<Json> {
    let u = parse_url(url)?;
    if !contains(&u.query.to_ascii_lowercase(), "utm_") {
        return None;
    }
    Campaign::from_query(&query_pairs(u.query)).to_json()
}

/// The scrubbed `?query` of a scrubbed URL (`location.search` form).
fn search_of(url: &str) -> String {
    match url.split('#').next().unwrap_or("").split_at_char('?') {
        Some((_, q)) if !q.is_empty() => {
            let mut s = String::with_capacity(q.len() + 1);
            s.push('?');
            s.push_str(q);
            s
        }
        _ => String::new(),
    }
}

impl Visit {
    /// A visit with the default config.
    pub fn new() -> Visit {
        Visit::default()
    }

    /// Applies the config's channel, topic, privacy and session settings.
    pub fn configure(&mut self, config: VisitConfig) {
        self.config = config;
        self.scrubbed = None;
    }

    /// The config in use.
    pub fn config(&self) -> &VisitConfig {
        &self.config
    }

    /// Scrubs personal data out of a URL with the site's extra parameters.
    pub fn scrub(&self, url: &str) -> String {
        scrub(url, &self.config.scrub_params)
    }

    /// The topics of the current page view.
    pub fn topics(&self) -> &[String] {
        self.current.as_ref().map_or(&[], |c| c.1.as_slice())
    }

    /// Decides the context of an event recorded at `now` in the moment `m`
    /// (the raw page context, the page's topic hints, the session value last
    /// stored by any tab, the device class), changing nothing until
    /// [`Visit::commit`] (it only remembers the scrubbed page context, which
    /// the next events of the page reuse). `new_id` holds the random bytes of a session id,
    /// used if a new session starts.
    pub fn on_event(&mut self, m: &Moment, now: Millis, new_id: [u8; 16]) -> EventContext {
        let (activity, page, hints, stored) = (m.activity, m.page, m.hints, m.stored_session);
        let is_page = activity != Activity::Other;
        let seen = self.scrubbed.as_ref().filter(|c| {
            c.raw_url == page.url && c.raw_referrer == page.referrer && c.raw_path == page.path
        });
        let clean = match seen {
            Some(c) => c,
            None => {
                let url = self.scrub(&page.url);
                // The path too, from the scrubbed URL (an email in a path segment).
                let path = match parse_url(&url) {
                    Some(u) if page.path.has_char(|c| c == '@') || contains(&page.path, "%40") => {
                        u.path.to_string()
                    }
                    _ => page.path.clone(),
                };
                self.scrubbed.insert(Scrubbed {
                    raw_url: page.url.clone(),
                    raw_referrer: page.referrer.clone(),
                    raw_path: page.path.clone(),
                    search: search_of(&url),
                    campaign: campaign_of(&url),
                    referrer: self.scrub(&page.referrer),
                    path,
                    url,
                })
            }
        };
        let campaign = clean.campaign.clone();
        let mut out_page = PageContext {
            search: clean.search.clone(),
            path: clean.path.clone(),
            title: page.title.clone(),
            referrer: clean.referrer.clone(),
            url: clean.url.clone(),
        };
        if activity == Activity::PageView {
            // In a single-page app `document.referrer` stays the landing's
            // referrer; the page the visitor came from is the previous view.
            if let Some((prev, _)) = &self.current {
                if *prev != out_page.url {
                    out_page.referrer = prev.clone();
                }
            }
        }
        let touch: Option<Touchpoint> = (activity == Activity::Landing)
            .then(|| classify(&page.url, &page.referrer, &self.config.channels))
            .filter(|t| !t.internal);
        let page_view = is_page.then(|| {
            let mut raw: Vec<&str> = hints.iter().map(String::as_str).collect();
            raw.extend(topics::from_path(&self.config.topics, &page.path));
            (out_page.url.clone(), topics::normalize(raw))
        });

        let prev = stored.and_then(Session::decode);
        let not_a_touch = NOT_A_TOUCH;
        let (session, started) = session_on(
            prev.as_ref(),
            match (is_page, &touch) {
                (true, Some(t)) => Some(t),
                (true, None) => Some(&not_a_touch),
                (false, _) => None,
            },
            now,
            self.config.session_timeout_ms,
            uuid_v4(new_id),
        );
        let mut sillage = Json::obj()
            .with("device", m.device)
            .with("sessionId", session.id.as_str())
            .with("sessionIndex", f64::from(session.index));
        if let Some(start) = started {
            sillage.set("sessionStart", start.as_str().into());
        }
        if let Some(t) = &touch {
            sillage.set("touchpoint", t.to_json());
        }
        if let Some((_, topics)) = &page_view {
            if !topics.is_empty() {
                sillage.set(
                    "topics",
                    Json::Arr(topics.iter().map(|t| t.as_str().into()).collect()),
                );
            }
        }
        let mut extra = Json::obj();
        if let Some(c) = campaign {
            extra.set("campaign", c);
        }
        extra.set("sillage", sillage);
        // Activity within a few seconds of the stored time changes nothing
        // worth a storage write (sessions are decided at minute scale).
        let unchanged = prev.as_ref().is_some_and(|p| {
            started.is_none()
                && p.pageviews == session.pageviews
                && session.last - p.last < LAST_ACTIVITY_GRANULARITY_MS
        });
        EventContext {
            page: out_page,
            extra,
            store_session: (!unchanged).then(|| session.encode()),
            page_view,
            touch,
        }
    }

    /// Makes an event's page view the current one (after it was recorded),
    /// and remembers a landing's touchpoint.
    pub fn commit(&mut self, page_view: Option<(String, Vec<String>)>, touch: Option<Touchpoint>) {
        if page_view.is_some() {
            self.current = page_view;
        }
        if touch.is_some() {
            self.landing = touch;
        }
    }

    /// The touchpoint of this page load's landing, when it was a touch (not
    /// internal navigation).
    pub fn landing(&self) -> Option<&Touchpoint> {
        self.landing.as_ref()
    }
}
