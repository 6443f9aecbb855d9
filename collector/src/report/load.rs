//! The one SQL query the report runs, and the narrow facts it keeps.
//!
//! Why one query: the `events` table keeps each event as its JSON payload,
//! so most of the cost is reading those pages. One scan of the range reads
//! each page once; the fields the report needs are pulled out with
//! `json_extract` (on a warehouse: `JSON_VALUE`, `JSON_EXTRACT_SCALAR` or
//! `payload:path`) and everything else (journeys, attribution, statistics)
//! is computed in Rust from those narrow rows. Pointing the report at a
//! warehouse means running this query there and feeding the rows to
//! [`Facts::push_row`].

use std::collections::{HashMap, HashSet};

use rusqlite::types::ValueRef;
use rusqlite::Connection;

use super::range::{parse_timestamp, Range};

/// The report's query: one scan of the range. `true /*range*/` becomes
/// `timestamp >= ?1 AND timestamp < ?2` (ISO-8601 UTC text) for a bounded
/// range, either side left out when open. Columns: the visitor ids, the
/// session, the time and the event name, then two JSON arrays of values
/// taken from the payload (one `json_extract` call with several paths, so
/// each payload is parsed once):
///
/// | rows | `touch` | `detail` |
/// |---|---|---|
/// | page views | touchpoint channel, medium, campaign | |
/// | `Journey Stage Changed` | | from, to |
/// | `Order Completed` | | order_id, revenue, total, currency |
/// | `Experiment Viewed` | | experiment_id, variation_id, in_holdout |
/// | `Personalization Viewed`, other track events with a `rule_id` | | slot, rule_id, variant |
///
/// On a warehouse each path is a column of its own; [`Row`] is what the
/// computation takes.
pub const SQL: &str = "\
SELECT anonymous_id, user_id, session_id, timestamp, event,
  CASE WHEN type = 'page' AND instr(payload, '\"touchpoint\"') > 0
    THEN json_extract(payload, '$.context.sillage.touchpoint.channel',
      '$.context.sillage.touchpoint.medium', '$.context.sillage.touchpoint.campaign')
  END AS touch,
  CASE
    WHEN type <> 'track' THEN NULL
    WHEN event = 'Journey Stage Changed' THEN json_extract(payload,
      '$.properties.from', '$.properties.to')
    WHEN event = 'Order Completed' THEN json_extract(payload,
      '$.properties.order_id', '$.properties.revenue', '$.properties.total',
      '$.properties.currency')
    WHEN event = 'Experiment Viewed' THEN json_extract(payload,
      '$.properties.experiment_id', '$.properties.variation_id',
      '$.properties.in_holdout')
    WHEN event = 'Personalization Viewed' OR instr(payload, '\"rule_id\"') > 0
      THEN json_extract(payload,
        '$.properties.slot', '$.properties.rule_id', '$.properties.variant')
  END AS detail
FROM events
WHERE true /*range*/";

/// The index the range filter uses ([`migrate`] adds it).
pub const INDEXES: &str = "CREATE INDEX IF NOT EXISTS events_timestamp ON events (timestamp);";

/// Brings an existing collector database up to what the report needs (an
/// index on `timestamp`, so a short range of a large table is read through
/// the index). Idempotent; the lead calls it from `AppState::open`.
pub fn migrate(db: &Connection) -> rusqlite::Result<()> {
    db.execute_batch(INDEXES)
}

/// An interned string.
pub type Sym = u32;

/// Strings stored once.
#[derive(Default)]
pub struct Interner {
    ids: HashMap<Box<str>, Sym>,
    names: Vec<Box<str>>,
}

impl Interner {
    /// The id of `s`, adding it if new.
    pub fn id(&mut self, s: &str) -> Sym {
        if let Some(&i) = self.ids.get(s) {
            return i;
        }
        let i = self.names.len() as Sym;
        self.names.push(s.into());
        self.ids.insert(s.into(), i);
        i
    }

    /// The id of `s` if it was seen.
    pub fn get(&self, s: &str) -> Option<Sym> {
        self.ids.get(s).copied()
    }

    /// How many strings.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The string of an id.
    pub fn name(&self, i: Sym) -> &str {
        self.names.get(i as usize).map_or("", |s| s)
    }
}

/// What a row says, for the rows the report reads beyond counting.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum What {
    /// A landing with its touchpoint (`label` is the channel, with the kind
    /// of offline touchpoint).
    Touch {
        /// Channel label.
        label: Sym,
        /// `campaign`, if any.
        campaign: Option<Sym>,
    },
    /// `Journey Stage Changed`.
    Stage {
        /// `from` (`None` for a new profile).
        from: Option<Sym>,
        /// `to`.
        to: Sym,
    },
    /// `Order Completed`.
    Order {
        /// `order_id`, for de-duplication.
        id: Option<Sym>,
        /// `revenue`, else `total`, else 0.
        revenue: f64,
        /// `currency`.
        currency: Option<Sym>,
    },
    /// `Product Added`.
    CartAdd,
    /// `Quote Requested`.
    Quote,
    /// `Signed Up`.
    SignUp,
    /// `Personalization Viewed`.
    PzView {
        /// Slot.
        slot: Sym,
        /// Rule id.
        rule: Sym,
        /// Variant label.
        variant: Sym,
    },
    /// A click (or any other event) in a personalized slot.
    PzClick {
        /// Slot.
        slot: Sym,
        /// Rule id.
        rule: Sym,
    },
    /// `Experiment Viewed`.
    ExpView {
        /// `experiment_id`.
        exp: Sym,
        /// `variation_id`.
        variation: Sym,
        /// `in_holdout`.
        holdout: bool,
    },
}

/// One fact, before visitors are resolved.
#[derive(Clone, Copy, Debug)]
pub struct RawFact {
    /// `anonymous_id` (interned).
    pub anon: Option<Sym>,
    /// `user_id` (interned).
    pub user: Option<Sym>,
    /// `session_id` (interned).
    pub session: Option<Sym>,
    /// Event time, epoch ms.
    pub ts: i64,
    /// Row order, for ties.
    pub seq: u32,
    /// What it says.
    pub what: What,
}

/// Everything the report reads from the database.
#[derive(Default)]
pub struct Facts {
    /// Interned strings (ids, names, labels).
    pub syms: Interner,
    /// Rows in the range.
    pub events: u64,
    /// Rows skipped: no readable timestamp, or neither id.
    pub skipped: u64,
    /// Each distinct (anonymousId, userId) pair seen.
    pub pairs: HashSet<(Option<Sym>, Option<Sym>)>,
    /// Each anonymousId seen with a userId: the first such userId.
    pub identities: HashMap<Sym, Sym>,
    /// Distinct sessions.
    pub sessions: HashSet<Sym>,
    /// The rows the report reads.
    pub facts: Vec<RawFact>,
    /// Earliest and latest event time.
    pub span: Option<(i64, i64)>,
}

fn nonempty(v: Option<&str>) -> Option<&str> {
    v.filter(|s| !s.is_empty())
}

/// A JSON value as text (numbers and booleans too; null is `None`).
fn json_text(v: Option<&serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// A JSON value as a number (numeric text too).
fn json_number(v: Option<&serde_json::Value>) -> Option<f64> {
    match v? {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|n: &f64| n.is_finite())
}

/// The values of a `json_extract` with several paths (a JSON array).
fn values(v: ValueRef<'_>) -> Vec<serde_json::Value> {
    match v {
        ValueRef::Text(t) => serde_json::from_slice(t).unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// One row of [`SQL`], each value in a column of its own (as a warehouse
/// query would give it).
#[derive(Clone, Debug, Default)]
pub struct Row<'a> {
    /// `anonymous_id`.
    pub anonymous_id: Option<&'a str>,
    /// `user_id`.
    pub user_id: Option<&'a str>,
    /// `session_id`.
    pub session_id: Option<&'a str>,
    /// `timestamp`.
    pub timestamp: Option<&'a str>,
    /// `event`.
    pub event: Option<&'a str>,
    /// Touchpoint channel.
    pub channel: Option<String>,
    /// Touchpoint medium.
    pub medium: Option<String>,
    /// Touchpoint campaign.
    pub campaign: Option<String>,
    /// The event's first value (see [`SQL`]: `from`, `order_id`,
    /// `experiment_id` or `slot`).
    pub a: Option<String>,
    /// See [`SQL`].
    pub b: Option<String>,
    /// See [`SQL`].
    pub c: Option<String>,
    /// See [`SQL`].
    pub d: Option<String>,
    /// `b` as a number (the revenue of an order).
    pub b_num: Option<f64>,
    /// `c` as a number (the total of an order).
    pub c_num: Option<f64>,
}

/// The label of a touchpoint's channel: the channel group, and for
/// `Offline` the kind of offline touchpoint from its medium (QR code, store,
/// print, or the medium itself).
pub fn channel_label(channel: &str, medium: Option<&str>) -> String {
    if channel != "Offline" {
        return channel.to_string();
    }
    let m = medium.unwrap_or("").trim().to_ascii_lowercase();
    let kind = match m.as_str() {
        "qr" | "qrcode" | "qr_code" => "QR code",
        "store" | "instore" | "in-store" | "pos" | "kiosk" => "store",
        "print" | "catalog" | "catalogue" | "flyer" | "poster" | "direct_mail" | "directmail"
        | "mail_piece" | "packaging" => "print",
        "" | "offline" => return "Offline".into(),
        other => other,
    };
    format!("Offline · {kind}")
}

/// The stage names a `Journey Stage Changed` may carry.
pub use sillage_core::profile::model::STAGES;

impl Facts {
    /// Reads the range from the database.
    pub fn load(db: &Connection, range: &Range) -> rusqlite::Result<Facts> {
        let mut clause = String::from("true");
        let mut args: Vec<String> = Vec::new();
        if let Some(f) = range.from_text() {
            args.push(f);
            clause.push_str(&format!(" AND timestamp >= ?{}", args.len()));
        }
        if let Some(t) = range.to_text() {
            args.push(t);
            clause.push_str(&format!(" AND timestamp < ?{}", args.len()));
        }
        let sql = SQL.replace("true /*range*/", &clause);
        let mut stmt = db.prepare(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(args.iter()))?;
        let mut facts = Facts::default();
        while let Some(r) = rows.next()? {
            let s = |i: usize| -> rusqlite::Result<Option<&str>> {
                Ok(match r.get_ref(i)? {
                    ValueRef::Text(t) => std::str::from_utf8(t).ok(),
                    _ => None,
                })
            };
            let touch = values(r.get_ref(5)?);
            let detail = values(r.get_ref(6)?);
            let row = Row {
                anonymous_id: s(0)?,
                user_id: s(1)?,
                session_id: s(2)?,
                timestamp: s(3)?,
                event: s(4)?,
                channel: json_text(touch.first()),
                medium: json_text(touch.get(1)),
                campaign: json_text(touch.get(2)),
                a: json_text(detail.first()),
                b: json_text(detail.get(1)),
                c: json_text(detail.get(2)),
                d: json_text(detail.get(3)),
                b_num: json_number(detail.get(1)),
                c_num: json_number(detail.get(2)),
            };
            facts.push_row(&row);
        }
        Ok(facts)
    }

    /// Adds one row of [`SQL`].
    pub fn push_row(&mut self, row: &Row<'_>) {
        self.events += 1;
        let seq = self.events as u32;
        let (anon, user) = (nonempty(row.anonymous_id), nonempty(row.user_id));
        let ts = row.timestamp.and_then(parse_timestamp);
        let (Some(ts), true) = (ts, anon.is_some() || user.is_some()) else {
            self.skipped += 1;
            return;
        };
        self.span = Some(match self.span {
            None => (ts, ts),
            Some((a, b)) => (a.min(ts), b.max(ts)),
        });
        let anon = anon.map(|a| self.syms.id(a));
        let user = user.map(|u| self.syms.id(u));
        self.pairs.insert((anon, user));
        if let (Some(a), Some(u)) = (anon, user) {
            self.identities.entry(a).or_insert(u);
        }
        let session = nonempty(row.session_id).map(|s| self.syms.id(s));
        if let Some(s) = session {
            self.sessions.insert(s);
        }
        let Some(what) = self.what(row) else {
            return;
        };
        self.facts.push(RawFact {
            anon,
            user,
            session,
            ts,
            seq,
            what,
        });
    }

    fn what(&mut self, row: &Row<'_>) -> Option<What> {
        let sym = |syms: &mut Interner, v: &Option<String>| {
            v.as_deref().filter(|s| !s.is_empty()).map(|s| syms.id(s))
        };
        if let Some(channel) = row.channel.as_deref().filter(|c| !c.is_empty()) {
            let label = channel_label(channel, row.medium.as_deref());
            return Some(What::Touch {
                label: self.syms.id(&label),
                campaign: sym(&mut self.syms, &row.campaign),
            });
        }
        let event = row.event?;
        Some(match event {
            "Journey Stage Changed" => What::Stage {
                from: sym(&mut self.syms, &row.a),
                to: sym(&mut self.syms, &row.b)?,
            },
            "Order Completed" => What::Order {
                id: sym(&mut self.syms, &row.a),
                revenue: row.b_num.or(row.c_num).unwrap_or(0.0),
                currency: sym(&mut self.syms, &row.d),
            },
            "Product Added" => What::CartAdd,
            "Quote Requested" => What::Quote,
            "Signed Up" => What::SignUp,
            "Experiment Viewed" => What::ExpView {
                exp: sym(&mut self.syms, &row.a)?,
                variation: sym(&mut self.syms, &row.b).unwrap_or_else(|| self.syms.id("")),
                holdout: matches!(row.c.as_deref(), Some("1" | "true")),
            },
            "Personalization Viewed" => What::PzView {
                slot: sym(&mut self.syms, &row.a)?,
                rule: sym(&mut self.syms, &row.b)?,
                variant: sym(&mut self.syms, &row.c).unwrap_or_else(|| self.syms.id("")),
            },
            _ => What::PzClick {
                slot: sym(&mut self.syms, &row.a)?,
                rule: sym(&mut self.syms, &row.b)?,
            },
        })
    }
}
