//! Automatic capture: page views (landing, SPA navigation, back-forward
//! cache), engagement (`Page Engaged`), clicks (tracked, outbound,
//! downloads, rage clicks, clicks in personalized slots), and page hide.

use super::{Click, Effect, PageNow, Phase, Sdk};
use crate::decide::condition::JsHost;
use crate::support::json::Json;
use crate::support::time::Millis;
use crate::track::capture::{classify_link, LinkKind};
use crate::track::event;
use crate::track::visit::Activity;

impl<H: JsHost> Sdk<H> {
    /// The URL changed: the slots are decided again in the next frame, and
    /// exposures count afresh for a new page view (a fragment alone is one
    /// only with hash routing). The page view itself waits for
    /// [`super::Input::PageSettled`] (frameworks set the title meanwhile).
    pub(super) fn navigated(&mut self, page: PageNow, _now: Millis) {
        self.sync_page(&page);
        let key = crate::track::capture::page_key(&page.href, self.capture.hash_routing);
        self.slots.navigated(key, &mut self.effects);
    }

    /// The task after a navigation: its page view.
    pub(super) fn page_settled(&mut self, page: PageNow, now: Millis) {
        if self.phase != Phase::Ready {
            // The landing is recorded first, when the config is applied.
            self.nav_pending = Some(page);
            return;
        }
        self.page_view(page, now);
    }

    /// A back-forward cache restore: a new page view of the same URL (its
    /// exposures count again), and this tab is back in the election.
    pub(super) fn restored(&mut self, page: PageNow, now: Millis) {
        self.gate.reset();
        self.engagement = self.engagement.restart(now);
        self.slots.restored();
        self.navigated(page.clone(), now);
        if self.durable() {
            self.after_writes(if self.tabs.web_locks {
                Effect::Elect
            } else {
                Effect::ReadLease
            });
        }
        self.page_settled(page, now);
    }

    /// Records a page view of `page` if the gate admits it (and automatic
    /// page views are on), first closing the previous page's engagement.
    pub(super) fn page_view(&mut self, page: PageNow, now: Millis) {
        if !self.capture.pageviews || !self.gate.admit(&page.href) {
            return;
        }
        if self.engaged_page.is_some() {
            self.emit_engagement(now);
        }
        self.sync_page(&page);
        self.engaged_page = Some((self.page.url.clone(), self.page.path.clone()));
        self.engagement = self.engagement.restart(now);
        self.record(
            event::Call::Page {
                category: Json::Null,
                name: Json::Null,
                properties: Json::Null,
            },
            &page,
            Activity::PageView,
            now,
        );
    }

    /// Records `Page Engaged` for the page being left or hidden, if
    /// something was engaged, and starts counting afresh.
    pub(super) fn emit_engagement(&mut self, now: Millis) {
        if !self.capture.engagement || self.phase != Phase::Ready {
            return;
        }
        let Some((url, path)) = self.engaged_page.clone() else {
            return;
        };
        let summary = self.engagement.summary(now);
        self.engagement = self.engagement.restart(now);
        if let Some(e) = summary {
            let page = PageNow::default();
            self.record(
                event::Call::Track {
                    event: "Page Engaged".into(),
                    properties: Json::obj()
                        .with("active_time_ms", e.active_ms)
                        .with("scroll_depth_pct", e.max_scroll_pct)
                        .with("page_url", url)
                        .with("page_path", path),
                },
                &page,
                Activity::Other,
                now,
            );
        }
    }

    /// Visibility changed: engagement first (so `Page Engaged` leaves with
    /// the beacon), then, when hidden, everything not in flight leaves.
    pub(super) fn visibility(&mut self, hidden: bool, now: Millis) {
        self.engagement.on_visibility(now, !hidden);
        if hidden {
            self.write_through = true;
            self.emit_engagement(now);
            self.on_hidden(now);
        }
    }

    /// The page is hidden or going away: the profile is written now, and
    /// every event not in flight leaves by beacon.
    pub(super) fn on_hidden(&mut self, now: Millis) {
        self.persist_profile(now);
        let Some(url) = self.tracker.collector_url().map(str::to_string) else {
            return;
        };
        for t in self.tracker.on_hidden(now) {
            self.tabs.beaconed(t.body.len(), now);
            self.after_writes(Effect::Beacon {
                url: url.clone(),
                body: t.body,
            });
        }
        self.store_ops();
    }

    /// A click: rage clicks, tracked elements, outbound links, downloads,
    /// and any link or button in a personalized slot, each attributed to
    /// the slot, variant and rule it landed in.
    pub(super) fn click(&mut self, c: Click, now: Millis) {
        self.engagement.on_input(now);
        if !self.capture.clicks || self.phase != Phase::Ready {
            return;
        }
        let page = PageNow::default();
        let track = |name: &str, props: Json| event::Call::Track {
            event: name.into(),
            properties: props,
        };
        if let Some(n) = self.rage.on_click(now, c.x, c.y) {
            let props = Json::obj()
                .with("clicks", n as f64)
                .with("element", c.tag.as_str())
                .with("x", c.x.round())
                .with("y", c.y.round());
            self.record(track("Rage Click", props), &page, Activity::Other, now);
        }
        let attribution = c
            .slot
            .as_ref()
            .and_then(|(id, item)| self.slots.attribution(*id, item.as_deref()));
        let attributed = |mut props: Json| {
            if let Some(Json::Obj(extra)) = &attribution {
                if matches!(props, Json::Null) {
                    props = Json::obj();
                }
                for (k, v) in extra {
                    props.set(k, v.clone());
                }
            }
            props
        };
        let mut recorded = false;
        if let Some((name, props)) = &c.tracked {
            let props = match props {
                None => Json::Null,
                Some(Ok(p @ Json::Obj(_))) => p.clone(),
                Some(_) => {
                    self.warn_diag(
                        &crate::support::diag::Diagnostic::new(
                            "",
                            crate::t!("data-sillage-props on [data-sillage-track=\"{}\"] is not a JSON object; recording the click without it"),
                        )
                        .arg(name),
                    );
                    Json::Null
                }
            };
            self.record(track(name, attributed(props)), &page, Activity::Other, now);
            recorded = true;
        }
        if let Some(href) = &c.link {
            let internal = self
                .tracker
                .visit
                .config()
                .channels
                .internal_domains
                .clone();
            match classify_link(href, &c.host, &internal) {
                LinkKind::Outbound(to) => {
                    let props = Json::obj().with("url", href.as_str()).with("host", to);
                    self.record(
                        track("Outbound Link Clicked", attributed(props)),
                        &page,
                        Activity::Other,
                        now,
                    );
                    recorded = true;
                }
                LinkKind::Download(ext) => {
                    let props = Json::obj()
                        .with("url", href.as_str())
                        .with("extension", ext);
                    self.record(
                        track("File Downloaded", attributed(props)),
                        &page,
                        Activity::Other,
                        now,
                    );
                    recorded = true;
                }
                LinkKind::Internal => {}
            }
        }
        // Any other link or button click in a personalized slot is measured too.
        if !recorded && attribution.is_some() && c.actionable {
            let mut props = attributed(Json::obj());
            if let Some(href) = &c.link {
                props.set("url", href.as_str().into());
            }
            self.record(
                track("Personalization Clicked", props),
                &page,
                Activity::Other,
                now,
            );
        }
    }
}
