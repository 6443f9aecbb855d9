//! The SQLite side: the schema, storing a batch (and queueing it for the
//! upstream), reads, erasure and retention. Every function here is blocking
//! and is called from `spawn_blocking`.

use std::path::Path;

use rusqlite::{params, params_from_iter, Connection};
use serde_json::{Map, Value};

const SCHEMA: &str = "
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = FULL;
    PRAGMA busy_timeout = 5000;
    CREATE TABLE IF NOT EXISTS events (
        message_id   TEXT PRIMARY KEY,
        type         TEXT NOT NULL,
        event        TEXT,
        name         TEXT,
        anonymous_id TEXT,
        user_id      TEXT,
        session_id   TEXT,
        timestamp    TEXT,
        sent_at      TEXT,
        write_key    TEXT,
        received_at  TEXT NOT NULL,
        payload      TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS events_anonymous_id ON events (anonymous_id);
    CREATE INDEX IF NOT EXISTS events_user_id ON events (user_id) WHERE user_id IS NOT NULL;
    CREATE INDEX IF NOT EXISTS events_received_at ON events (received_at);
    -- Events stored but not yet acknowledged by the upstream (--forward), in order.
    CREATE TABLE IF NOT EXISTS forward_queue (
        seq        INTEGER PRIMARY KEY,
        message_id TEXT NOT NULL UNIQUE
    );
    -- Events the upstream refused for good (a 4xx other than 401, 403, 408, 429).
    CREATE TABLE IF NOT EXISTS forward_failed (
        message_id TEXT PRIMARY KEY,
        status     INTEGER NOT NULL,
        error      TEXT NOT NULL,
        failed_at  TEXT NOT NULL
    );
";

/// Opens the database (creating the schema), and a second connection for
/// reads: in WAL mode readers never wait for the writer.
pub fn open(path: &Path) -> Result<(Connection, Connection), String> {
    let what = |e: rusqlite::Error| format!("{}: {e}", path.display());
    let writer = Connection::open(path).map_err(what)?;
    writer.execute_batch(SCHEMA).map_err(what)?;
    let reader = Connection::open(path).map_err(what)?;
    reader
        .execute_batch("PRAGMA busy_timeout = 5000;")
        .map_err(what)?;
    Ok((writer, reader))
}

fn text(v: &Map<String, Value>, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_string)
}

/// Stores a validated batch in one transaction, and with `forward` queues
/// the events that are new (a duplicate was queued when it was first
/// stored); returns (inserted, duplicates).
pub fn store(
    db: &mut Connection,
    body: &Value,
    batch: &[Value],
    received_at: &str,
    forward: bool,
) -> rusqlite::Result<(usize, usize)> {
    let sent_at = body.get("sentAt").and_then(Value::as_str);
    let write_key = body.get("writeKey").and_then(Value::as_str);
    let batch_context = body.get("context").and_then(Value::as_object);
    let tx = db.transaction()?;
    let mut inserted = 0;
    {
        let mut stmt = tx.prepare_cached(
            "INSERT OR IGNORE INTO events (message_id, type, event, name, anonymous_id, user_id,
                 session_id, timestamp, sent_at, write_key, received_at, payload)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?;
        let mut queue =
            tx.prepare_cached("INSERT OR IGNORE INTO forward_queue (message_id) VALUES (?1)")?;
        for ev in batch {
            let mut ev = ev.as_object().cloned().unwrap_or_default();
            // Segment's batch-level context applies to every event in the batch.
            if let Some(bc) = batch_context {
                let ctx = ev
                    .entry("context")
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Some(ctx) = ctx.as_object_mut() {
                    merge(ctx, bc);
                }
            }
            let session = ev
                .get("context")
                .and_then(|c| c.pointer("/sillage/sessionId"))
                .and_then(Value::as_str)
                .map(str::to_string);
            let message_id = text(&ev, "messageId");
            let n = stmt.execute(params![
                message_id,
                text(&ev, "type"),
                text(&ev, "event"),
                text(&ev, "name"),
                text(&ev, "anonymousId"),
                text(&ev, "userId"),
                session,
                text(&ev, "timestamp"),
                sent_at,
                write_key,
                received_at,
                Value::Object(ev).to_string(),
            ])?;
            if n == 1 && forward {
                queue.execute(params![message_id])?;
            }
            inserted += n;
        }
    }
    tx.commit()?;
    Ok((inserted, batch.len() - inserted))
}

/// Deep-merges `from` into `into`, keeping what `into` already has.
fn merge(into: &mut Map<String, Value>, from: &Map<String, Value>) {
    for (k, v) in from {
        match (into.get_mut(k), v) {
            (Some(Value::Object(a)), Value::Object(b)) => merge(a, b),
            (Some(_), _) => {}
            (None, v) => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Whose rows an erasure or an export is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Person {
    /// Every row of this anonymousId.
    Anonymous(String),
    /// Every row of this userId, and the rows without a userId of every
    /// anonymousId ever seen with it (what the person did before logging
    /// in). Rows of another userId on a shared device are not theirs.
    User(String),
}

impl Person {
    /// The SQL condition on `events` (with the id as `?1`).
    fn condition(&self) -> (&'static str, &str) {
        match self {
            Person::Anonymous(id) => ("anonymous_id = ?1", id),
            Person::User(id) => (
                "(user_id = ?1 OR (user_id IS NULL AND anonymous_id IN
                    (SELECT anonymous_id FROM events WHERE user_id = ?1)))",
                id,
            ),
        }
    }
}

/// Deletes a person's rows (and their places in the forward queue) in one
/// transaction; returns how many events were deleted.
pub fn delete_person(db: &mut Connection, who: &Person) -> rusqlite::Result<usize> {
    let (cond, id) = who.condition();
    let tx = db.transaction()?;
    for table in ["forward_queue", "forward_failed"] {
        tx.execute(
            &format!(
                "DELETE FROM {table} WHERE message_id IN (SELECT message_id FROM events WHERE {cond})"
            ),
            params![id],
        )?;
    }
    let n = tx.execute(&format!("DELETE FROM events WHERE {cond}"), params![id])?;
    tx.commit()?;
    Ok(n)
}

fn with_received_at(payload: String, received: String) -> Value {
    let mut v: Value = serde_json::from_str(&payload).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert("receivedAt".into(), Value::String(received));
    }
    v
}

/// A person's rows, oldest first, one JSON event a line (with `receivedAt`).
pub fn export(db: &Connection, who: &Person) -> rusqlite::Result<Vec<u8>> {
    let (cond, id) = who.condition();
    let mut stmt = db.prepare(&format!(
        "SELECT payload, received_at FROM events WHERE {cond} ORDER BY rowid"
    ))?;
    let mut out = Vec::new();
    let mut rows = stmt.query(params![id])?;
    while let Some(r) = rows.next()? {
        out.extend_from_slice(
            with_received_at(r.get(0)?, r.get(1)?)
                .to_string()
                .as_bytes(),
        );
        out.push(b'\n');
    }
    Ok(out)
}

/// Filters of `GET /v1/events`: (column, value).
pub type Filters = Vec<(&'static str, String)>;

/// The most recent `limit` events matching every filter, oldest first.
pub fn events(db: &Connection, filters: &Filters, limit: u32) -> rusqlite::Result<Vec<Value>> {
    let mut sql = String::from("SELECT payload, received_at FROM events");
    for (i, (column, _)) in filters.iter().enumerate() {
        sql.push_str(if i == 0 { " WHERE " } else { " AND " });
        sql.push_str(&format!("{column} = ?{}", i + 1));
    }
    sql.push_str(&format!(" ORDER BY rowid DESC LIMIT {limit}"));
    let mut stmt = db.prepare(&sql)?;
    let mut out: Vec<Value> = stmt
        .query_map(params_from_iter(filters.iter().map(|(_, v)| v)), |r| {
            Ok(with_received_at(r.get(0)?, r.get(1)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    out.reverse();
    Ok(out)
}

/// Deletes up to `chunk` events received before `cutoff` (an ISO-8601
/// instant, compared as text: every `received_at` has the same format);
/// returns how many.
pub fn delete_older(db: &mut Connection, cutoff: &str, chunk: u32) -> rusqlite::Result<usize> {
    let tx = db.transaction()?;
    let ids: Vec<String> = {
        let mut stmt = tx.prepare(
            "SELECT message_id FROM events WHERE received_at < ?1 ORDER BY received_at LIMIT ?2",
        )?;
        let ids = stmt
            .query_map(params![cutoff, chunk], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        ids
    };
    for id in &ids {
        for table in ["forward_queue", "forward_failed", "events"] {
            tx.prepare_cached(&format!("DELETE FROM {table} WHERE message_id = ?1"))?
                .execute(params![id])?;
        }
    }
    tx.commit()?;
    Ok(ids.len())
}

/// One queued event, as the forwarder reads it.
pub struct Queued {
    /// Its place in the queue.
    pub seq: i64,
    /// The stored event (batch context merged).
    pub payload: String,
    /// The `sentAt` of the batch it came in.
    pub sent_at: Option<String>,
    /// When this collector received it.
    pub received_at: String,
    /// The `writeKey` of the batch it came in.
    pub write_key: Option<String>,
}

/// The oldest `limit` queued events.
pub fn queued(db: &Connection, limit: usize) -> rusqlite::Result<Vec<Queued>> {
    let mut stmt = db.prepare_cached(
        "SELECT q.seq, e.payload, e.sent_at, e.received_at, e.write_key
         FROM forward_queue q JOIN events e ON e.message_id = q.message_id
         ORDER BY q.seq LIMIT ?1",
    )?;
    let rows = stmt
        .query_map(params![limit as i64], |r| {
            Ok(Queued {
                seq: r.get(0)?,
                payload: r.get(1)?,
                sent_at: r.get(2)?,
                received_at: r.get(3)?,
                write_key: r.get(4)?,
            })
        })?
        .collect();
    rows
}

/// Takes events out of the queue (acknowledged upstream); with a failure,
/// records them as refused for good.
pub fn unqueue(
    db: &mut Connection,
    seqs: &[i64],
    failure: Option<(u16, &str, &str)>,
) -> rusqlite::Result<()> {
    let tx = db.transaction()?;
    for seq in seqs {
        if let Some((status, error, at)) = failure {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO forward_failed (message_id, status, error, failed_at)
                 SELECT message_id, ?2, ?3, ?4 FROM forward_queue WHERE seq = ?1",
            )?
            .execute(params![seq, status, error, at])?;
        }
        tx.prepare_cached("DELETE FROM forward_queue WHERE seq = ?1")?
            .execute(params![seq])?;
    }
    tx.commit()
}

/// (events waiting in the forward queue, events refused for good).
pub fn forward_counts(db: &Connection) -> rusqlite::Result<(i64, i64)> {
    db.query_row(
        "SELECT (SELECT count(*) FROM forward_queue), (SELECT count(*) FROM forward_failed)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}
