//! Segment-Spec events, built as data.
//!
//! The wire format is the Segment Spec so that any Segment-compatible pipeline
//! (Segment, RudderStack, Jitsu, ...) accepts Sillage batches unchanged. The
//! core builds each event as a [`Json`] value; the shell turns it into text with
//! the browser's `JSON.stringify` (see [`crate::track::tracker::JsonEncoder`]).

use crate::support::diag::{type_error, Diagnostic};
use crate::support::json::Json;
use crate::support::time::{iso8601, Millis};
use crate::t;

/// The library name sent in `context.library.name`.
pub const LIBRARY_NAME: &str = "sillage";
/// The library version sent in `context.library.version`.
pub const LIBRARY_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Longest event name accepted, in chars.
pub const MAX_EVENT_NAME: usize = 200;
/// Longest string kept in properties and traits, in chars; longer ones are
/// cut (a stray text blob must not fill the queue or the collector).
pub const MAX_STRING: usize = 1_000;
/// Longest URL or referrer kept, in chars.
pub const MAX_URL: usize = 2_000;

/// Cuts `s` to at most `max` chars.
pub fn cap(s: &mut String, max: usize) {
    // At most `max` bytes is at most `max` chars: the common case, no walk.
    if s.len() <= max {
        return;
    }
    if let Some((i, _)) = s.char_indices().nth(max) {
        s.truncate(i);
    }
}

/// Cuts every string inside `v` (values, not keys) to [`MAX_STRING`] chars.
pub fn cap_strings(v: &mut Json) {
    match v {
        Json::Str(s) => cap(s, MAX_STRING),
        Json::Arr(items) => items.iter_mut().for_each(cap_strings),
        Json::Obj(entries) => entries.iter_mut().for_each(|(_, v)| cap_strings(v)),
        _ => {}
    }
}

/// What the page looks like when an event is recorded. The shell reads it from
/// `location` and `document`; tests write it by hand.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PageContext {
    /// `location.href`
    pub url: String,
    /// `location.pathname`
    pub path: String,
    /// `document.referrer`
    pub referrer: String,
    /// `document.title`
    pub title: String,
    /// `location.search`
    pub search: String,
}

impl PageContext {
    /// Cuts the fields to their caps (URLs 2,000 chars, the title 1,000).
    pub fn capped(mut self) -> PageContext {
        cap(&mut self.url, MAX_URL);
        cap(&mut self.referrer, MAX_URL);
        cap(&mut self.search, MAX_URL);
        cap(&mut self.path, MAX_URL);
        cap(&mut self.title, MAX_STRING);
        self
    }

    fn to_json(&self) -> Json {
        Json::obj()
            .with("path", self.path.as_str())
            .with("referrer", self.referrer.as_str())
            .with("search", self.search.as_str())
            .with("title", self.title.as_str())
            .with("url", self.url.as_str())
    }
}

/// A call made by the site: what to record.
#[derive(Clone, Debug, PartialEq)]
pub enum Call {
    /// `sillage.track(event, properties)`
    Track {
        /// The event name, e.g. `Signed Up`.
        event: Json,
        /// Optional properties (an object, or `Null`).
        properties: Json,
    },
    /// `sillage.page(category?, name?, properties?)`; automatic page views
    /// use this too.
    Page {
        /// The page's category (a string, or `Null`).
        category: Json,
        /// The page's name (a string, or `Null`).
        name: Json,
        /// Optional properties (an object, or `Null`); a string `name` or
        /// `category` inside is the event's own when no argument gives one.
        properties: Json,
    },
    /// `sillage.identify(userId, traits)`
    Identify {
        /// The site's own user id, or `Null` to keep the current one.
        user_id: Json,
        /// Optional traits (an object, or `Null`).
        traits: Json,
    },
    /// `sillage.group(groupId, traits)`
    Group {
        /// The account or company.
        group_id: Json,
        /// Optional traits (an object, or `Null`).
        traits: Json,
    },
    /// `sillage.alias(userId, previousId)`: the tracker fills in the
    /// previous id (the current user id, else the anonymous id).
    Alias {
        /// The new user id.
        user_id: Json,
        /// The id it replaces, or `Null`.
        previous_id: Json,
    },
}

/// An id argument (`userId`, `groupId`, `previousId`): a non-empty string
/// of at most 200 characters, or `null` (none given).
pub fn id_arg(v: &Json, path: &str) -> Result<Option<String>, Diagnostic> {
    match v {
        Json::Null => Ok(None),
        Json::Str(s) if !s.trim().is_empty() && s.chars().count() <= 200 => Ok(Some(s.clone())),
        _ => Err(Diagnostic::new(
            path,
            t!("must be a non-empty string of at most 200 characters, or null"),
        )),
    }
}

/// Who the events are about.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Identity {
    /// UUID kept in first-party storage.
    pub anonymous_id: String,
    /// Set by `identify`.
    pub user_id: Option<String>,
}

fn object_or_empty(v: Json, what: &str) -> Result<Json, Diagnostic> {
    match v {
        Json::Null => Ok(Json::obj()),
        mut o @ Json::Obj(_) => {
            cap_strings(&mut o);
            Ok(o)
        }
        other => Err(type_error(what, t!("must be an object, not {}"), &other)),
    }
}

/// Builds the Segment-Spec event for `call`. Returns a diagnostic naming the bad
/// argument (e.g. `track.event: must be a non-empty string`) for bad input.
///
/// `extra` holds more `context` entries (an object): `sillage` (this SDK's
/// own context: device class, session, touchpoint) and `campaign`.
pub fn build(
    call: Call,
    who: &Identity,
    page: &PageContext,
    extra: &Json,
    message_id: String,
    now: Millis,
) -> Result<Json, Diagnostic> {
    let mut ev = Json::obj();
    match call {
        Call::Track { event, properties } => {
            let name = match event {
                Json::Str(s) if !s.trim().is_empty() && s.chars().count() <= MAX_EVENT_NAME => s,
                _ => {
                    return Err(Diagnostic::new(
                        "track.event",
                        t!("must be a non-empty string of at most 200 characters"),
                    ))
                }
            };
            ev.set("type", "track".into());
            ev.set("event", name.into());
            ev.set(
                "properties",
                object_or_empty(properties, "track.properties")?,
            );
        }
        Call::Page {
            category,
            name,
            properties,
        } => {
            let mut props = page.to_json();
            let extra = object_or_empty(properties, "page.properties")?;
            let text = |v: Json, path: &str| match v {
                Json::Null => Ok(None),
                Json::Str(s) if s.chars().count() <= MAX_EVENT_NAME => Ok(Some(s)),
                _ => Err(Diagnostic::new(
                    path,
                    t!("must be a string of at most 200 characters"),
                )),
            };
            let mut name = text(name, "page.name")?;
            let mut category = text(category, "page.category")?;
            if let Json::Obj(entries) = extra {
                for (k, v) in entries {
                    if k == "name" && name.is_none() {
                        name = v.as_str().map(str::to_string);
                    }
                    if k == "category" && category.is_none() {
                        category = v.as_str().map(str::to_string);
                    }
                    props.set(&k, v);
                }
            }
            ev.set("type", "page".into());
            // Segment's page events carry both at the top and in properties.
            if let Some(n) = name {
                props.set("name", n.as_str().into());
                ev.set("name", n.into());
            }
            if let Some(c) = category {
                props.set("category", c.as_str().into());
                ev.set("category", c.into());
            }
            ev.set("properties", props);
        }
        Call::Identify { traits, .. } => {
            ev.set("type", "identify".into());
            ev.set("traits", object_or_empty(traits, "identify.traits")?);
        }
        Call::Group { group_id, traits } => {
            let Ok(Some(id)) = id_arg(&group_id, "group.groupId") else {
                return Err(Diagnostic::new(
                    "group.groupId",
                    t!("must be a non-empty string of at most 200 characters"),
                ));
            };
            ev.set("type", "group".into());
            ev.set("groupId", id.into());
            ev.set("traits", object_or_empty(traits, "group.traits")?);
        }
        Call::Alias { previous_id, .. } => {
            ev.set("type", "alias".into());
            ev.set("previousId", previous_id);
        }
    }
    ev.set("messageId", message_id.into());
    ev.set("anonymousId", who.anonymous_id.as_str().into());
    if let Some(u) = &who.user_id {
        ev.set("userId", u.as_str().into());
    }
    ev.set("timestamp", iso8601(now).into());
    let library = Json::obj()
        .with("name", LIBRARY_NAME)
        .with("version", LIBRARY_VERSION);
    let mut context = Json::obj()
        .with("library", library)
        .with("page", page.to_json());
    for (k, v) in extra.as_obj().map(Vec::as_slice).unwrap_or_default() {
        context.set(k, v.clone());
    }
    ev.set("context", context);
    Ok(ev)
}

/// Formats 16 random bytes as an RFC 4122 version 4 UUID.
pub fn uuid_v4(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push(HEX[(byte >> 4) as usize] as char);
        s.push(HEX[(byte & 15) as usize] as char);
    }
    s
}

/// Whether `s` is a UUID in canonical lower-case form (used to validate ids
/// read back from storage).
pub fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
        })
}
