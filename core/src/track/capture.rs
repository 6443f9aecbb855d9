//! Engagement, navigation and click signals, as sans-IO state machines.
//!
//! The shell reports raw browser facts (visibility, focus, input, scroll
//! position, clicks, URL changes) with the time they happened; these types
//! decide what they mean: whether a URL change is a new page view, how long
//! the visitor was actually active, how deep they scrolled, whether clicks
//! were rage clicks, and whether a link leads off-site or to a file.

use crate::support::time::Millis;

/// Time without input after which a visible page counts as idle (30 s).
pub const IDLE_AFTER_MS: Millis = 30_000.0;

/// Active time and scroll depth on one page view.
///
/// Time counts only while the page is visible *and* focused, and stops
/// [`IDLE_AFTER_MS`] after the last input (a visitor reading without moving
/// still counts for 30 s; a tab left open over lunch does not).
#[derive(Clone, Debug, PartialEq)]
pub struct Engagement {
    visible: bool,
    focused: bool,
    /// Start of the current active stretch, if active.
    since: Option<Millis>,
    last_input: Millis,
    active_ms: Millis,
    max_scroll: f64,
}

/// What one page view's engagement amounted to.
#[derive(Clone, Debug, PartialEq)]
pub struct EngagementSummary {
    /// Milliseconds visible, focused and not idle.
    pub active_ms: Millis,
    /// Deepest scroll reached, 0..=100 (percent of the page height seen).
    pub max_scroll_pct: f64,
}

impl Engagement {
    /// A page view starting at `now`.
    pub fn new(now: Millis, visible: bool, focused: bool) -> Engagement {
        let mut e = Engagement {
            visible,
            focused,
            since: None,
            last_input: now,
            active_ms: 0.0,
            max_scroll: 0.0,
        };
        e.resume(now);
        e
    }

    fn resume(&mut self, now: Millis) {
        if self.visible
            && self.focused
            && self.since.is_none()
            && now - self.last_input < IDLE_AFTER_MS
        {
            self.since = Some(now);
        }
    }

    /// Closes the current active stretch at `now` (capped at the idle limit).
    fn pause(&mut self, now: Millis) {
        if let Some(start) = self.since.take() {
            let end = now.min(self.last_input + IDLE_AFTER_MS).max(start);
            self.active_ms += end - start;
        }
    }

    /// Brings the idle state up to date: a stretch past the idle limit ends.
    fn settle(&mut self, now: Millis) {
        if self.since.is_some() && now - self.last_input >= IDLE_AFTER_MS {
            self.pause(now);
        }
    }

    /// Whether the page is visible now.
    pub fn visible(&self) -> bool {
        self.visible
    }

    /// Whether the window has focus now.
    pub fn focused(&self) -> bool {
        self.focused
    }

    /// The same page's attention, counted afresh from `now` (a new page
    /// view, or after `Page Engaged` was recorded).
    pub fn restart(&self, now: Millis) -> Engagement {
        Engagement::new(now, self.visible, self.focused)
    }

    /// The page became visible or hidden.
    pub fn on_visibility(&mut self, now: Millis, visible: bool) {
        self.settle(now);
        self.pause(now);
        self.visible = visible;
        if visible {
            // Coming back to a tab is itself a sign of attention.
            self.last_input = now;
        }
        self.resume(now);
    }

    /// The window gained or lost focus.
    pub fn on_focus(&mut self, now: Millis, focused: bool) {
        self.settle(now);
        self.pause(now);
        self.focused = focused;
        if focused {
            self.last_input = now;
        }
        self.resume(now);
    }

    /// Any input: pointer, key, touch, wheel or scroll.
    pub fn on_input(&mut self, now: Millis) {
        self.settle(now);
        self.last_input = now;
        self.resume(now);
    }

    /// The visitor scrolled: `seen_bottom` is the lowest pixel row seen
    /// (`scrollY + innerHeight`), `page_height` the document's height.
    pub fn on_scroll(&mut self, now: Millis, seen_bottom: f64, page_height: f64) {
        self.on_input(now);
        if page_height > 0.0 && seen_bottom.is_finite() {
            let pct = (seen_bottom / page_height * 100.0).clamp(0.0, 100.0);
            self.max_scroll = self.max_scroll.max(pct.round());
        }
    }

    /// The engagement so far, or `None` if there was none to speak of.
    pub fn summary(&self, now: Millis) -> Option<EngagementSummary> {
        let mut e = self.clone();
        e.settle(now);
        e.pause(now);
        let active_ms = e.active_ms.round();
        (active_ms >= 1.0 || e.max_scroll > 0.0).then_some(EngagementSummary {
            active_ms,
            max_scroll_pct: e.max_scroll,
        })
    }
}

/// What identifies a page view: the URL, without its fragment unless the
/// site routes by fragment (`capture.hashRouting`).
pub fn page_key(url: &str, hash_routing: bool) -> &str {
    if hash_routing {
        url
    } else {
        url.split('#').next().unwrap_or(url)
    }
}

/// Decides which URL changes are new page views.
///
/// The same URL twice in a row is one page view (a `replaceState` that only
/// updates state, a framework calling `pushState` twice); a change of the
/// fragment alone is not a page view unless the site uses hash routing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PageViewGate {
    last: Option<String>,
    /// Whether `#/route` changes are page views (`capture.hashRouting`).
    pub hash_routing: bool,
}

impl PageViewGate {
    /// A gate; `hash_routing` makes fragment changes page views.
    pub fn new(hash_routing: bool) -> PageViewGate {
        PageViewGate {
            last: None,
            hash_routing,
        }
    }

    /// Whether navigating to `url` is a new page view; remembers it if so.
    pub fn admit(&mut self, url: &str) -> bool {
        let key = page_key(url, self.hash_routing);
        if self.last.as_deref() == Some(key) {
            return false;
        }
        self.last = Some(key.to_string());
        true
    }

    /// Forgets the last URL, so the next one is admitted (a back-forward
    /// cache restore is a new page view of the same URL).
    pub fn reset(&mut self) {
        self.last = None;
    }
}

/// Rage clicks: at least [`RAGE_CLICKS`] clicks within [`RAGE_WINDOW_MS`] and
/// [`RAGE_RADIUS_PX`] of each other.
pub const RAGE_CLICKS: usize = 3;
/// See [`RAGE_CLICKS`].
pub const RAGE_WINDOW_MS: Millis = 1_000.0;
/// See [`RAGE_CLICKS`].
pub const RAGE_RADIUS_PX: f64 = 30.0;

/// Detects rage clicks, a frustration signal.
#[derive(Clone, Debug, Default)]
pub struct RageClicks {
    recent: Vec<(Millis, f64, f64)>,
    /// Whether the current burst was already reported.
    reported: bool,
}

impl RageClicks {
    /// Records a click at (`x`, `y`) px. Returns the number of clicks in the
    /// burst the first time it reaches [`RAGE_CLICKS`]; one report per burst.
    pub fn on_click(&mut self, now: Millis, x: f64, y: f64) -> Option<usize> {
        self.recent.retain(|(t, cx, cy)| {
            now - t <= RAGE_WINDOW_MS && (cx - x).hypot(cy - y) <= RAGE_RADIUS_PX
        });
        if self.recent.is_empty() {
            self.reported = false;
        }
        self.recent.push((now, x, y));
        if self.recent.len() >= RAGE_CLICKS && !self.reported {
            self.reported = true;
            return Some(self.recent.len());
        }
        None
    }
}

/// File extensions whose links count as downloads.
pub const DOWNLOAD_EXTENSIONS: &[&str] = &[
    "pdf", "zip", "gz", "tgz", "rar", "7z", "dmg", "exe", "msi", "pkg", "apk", "csv", "xls",
    "xlsx", "doc", "docx", "ppt", "pptx", "odt", "ods", "txt", "rtf", "epub", "mp3", "wav", "mp4",
    "mov", "avi", "mkv", "iso",
];

/// What a clicked link is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkKind {
    /// To a file: its extension.
    Download(String),
    /// Off-site: the destination host.
    Outbound(String),
    /// Within the site, or not a web link.
    Internal,
}

fn host_of(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?;
    // Drop a port, keeping IPv6 brackets intact.
    let host = match host.rfind(':') {
        Some(i) if !host.ends_with(']') => host.get(..i)?,
        _ => host,
    };
    (!host.is_empty()).then_some(host)
}

/// Whether `host` is `domain` or one of its subdomains (case-insensitive).
pub fn host_within(host: &str, domain: &str) -> bool {
    let host = host.trim_end_matches('.');
    let domain = domain.trim_start_matches('.').trim_end_matches('.');
    let (h, d) = (host.as_bytes(), domain.as_bytes());
    if d.is_empty() || h.len() < d.len() {
        return false;
    }
    let cut = h.len() - d.len();
    h[cut..].eq_ignore_ascii_case(d) && (cut == 0 || h[cut - 1] == b'.')
}

/// Classifies a clicked link (`href` as resolved by the browser) seen on a
/// page of `page_host`; `internal` lists the site's other domains. A link to
/// a file is a download even on the site itself.
pub fn classify_link(href: &str, page_host: &str, internal: &[String]) -> LinkKind {
    let Some(host) = host_of(href) else {
        return LinkKind::Internal;
    };
    let path = href
        .split(['?', '#'])
        .next()
        .unwrap_or("")
        .rsplit('/')
        .next()
        .unwrap_or("");
    if let Some((_, ext)) = path.rsplit_once('.') {
        let ext = ext.to_ascii_lowercase();
        if DOWNLOAD_EXTENSIONS.contains(&ext.as_str()) {
            return LinkKind::Download(ext);
        }
    }
    let same = |d: &str| host_within(host, d) || host_within(d, host);
    let bare = page_host.strip_prefix("www.").unwrap_or(page_host);
    if same(bare) || internal.iter().any(|d| host_within(host, d)) {
        LinkKind::Internal
    } else {
        LinkKind::Outbound(host.to_ascii_lowercase())
    }
}

/// A coarse device class: no user-agent string, no fingerprint, only the
/// viewport's shorter side and whether the main pointer is coarse (touch).
pub fn device_class(
    viewport_width: f64,
    viewport_height: f64,
    coarse_pointer: bool,
) -> &'static str {
    let short = viewport_width.min(viewport_height);
    match (coarse_pointer, short) {
        (true, s) if s < 600.0 => "mobile",
        (true, _) => "tablet",
        (false, _) => "desktop",
    }
}
