//! The durable outbox over a simulated `localStorage`: reloads, caps,
//! corruption, leases between tabs, beacons, and storage failure.

use std::collections::{BTreeMap, HashSet};

use proptest::prelude::*;
use serde_json::Value;
use sillage_core::track::batch::{BatchConfig, Batcher, Outcome, Transmit};
use sillage_core::track::outbox::{
    encode_record, lease_step, Caps, Durability, LeaseStep, Outbox, StoreOp, DROPPED_KEY,
    LEASES_KEY, SENDER_KEY,
};

/// A simulated localStorage shared by the tabs of one origin.
#[derive(Default, Debug, Clone)]
struct Disk(BTreeMap<String, String>);

impl Disk {
    fn apply(&mut self, o: &mut Outbox) {
        while let Some(op) = o.poll_store_op() {
            match op {
                StoreOp::Put { key, value } => {
                    self.0.insert(key, value);
                }
                StoreOp::Delete { key } => {
                    self.0.remove(&key);
                }
            }
        }
    }
    fn entries(&self) -> Vec<(String, String)> {
        self.0.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
    fn events(&self) -> usize {
        self.0
            .keys()
            .filter(|k| k.starts_with("sillage.e."))
            .count()
    }
}

fn tab(caps: Caps) -> Outbox {
    Outbox::new(
        Batcher::new(
            BatchConfig {
                max_events: 1000,
                max_bytes: 60_000,
                flush_ms: 0.0,
            },
            None,
        ),
        caps,
        Durability::Storage,
    )
}

fn ev(id: &str) -> String {
    format!("{{\"messageId\":\"{id}\"}}")
}

fn record(o: &mut Outbox, d: &mut Disk, id: &str, now: f64) {
    o.record(id.into(), ev(id), now);
    d.apply(o);
}

fn ids(t: &Transmit) -> Vec<&str> {
    t.message_ids.iter().map(String::as_str).collect()
}

fn ok() -> Outcome {
    Outcome::Status {
        code: 200,
        retry_after_ms: None,
    }
}

#[test]
fn events_are_durable_before_any_sender_and_leftovers_go_first() {
    let mut d = Disk::default();
    let mut a = tab(Caps::default());
    record(&mut a, &mut d, "old1", 1_000.0);
    record(&mut a, &mut d, "old2", 1_000.0);
    assert_eq!(d.events(), 2, "one key per event, written at once");
    assert!(a.poll_transmit(1_000.0).is_none(), "not the sender yet");
    drop(a); // the page dies without ever sending

    let mut b = tab(Caps::default());
    record(&mut b, &mut d, "new1", 5_000.0);
    let r = b.restore(&d.entries(), 5_000.0);
    d.apply(&mut b);
    assert_eq!((r.events, r.corrupt, r.dropped), (3, 0, 0));
    let t = b.poll_transmit(5_000.0).unwrap();
    assert_eq!(
        ids(&t),
        ["old1", "old2", "new1"],
        "leftovers first, in recording order"
    );
    d.apply(&mut b);
    assert!(
        d.0.contains_key(LEASES_KEY),
        "the batch in flight is leased"
    );
    b.handle_response(t.batch_id, ok(), 5_100.0, 0.5);
    d.apply(&mut b);
    assert_eq!(d.events(), 0, "acknowledged events are deleted");
    assert!(!d.0.contains_key(LEASES_KEY));
}

#[test]
fn corrupt_values_are_discarded_and_counted() {
    let mut d = Disk::default();
    d.0.insert("sillage.e.bad1".into(), "garbage".into());
    d.0.insert("sillage.e.bad2".into(), "v1|notanumber|1|{}".into());
    d.0.insert("sillage.e.bad3".into(), "v1|5|1|not json".into());
    d.0.insert("sillage.e.good".into(), encode_record(10.0, 1, &ev("good")));
    d.0.insert(LEASES_KEY.into(), "12:x;nonsense".into());
    let mut o = tab(Caps::default());
    let r = o.restore(&d.entries(), 100.0);
    d.apply(&mut o);
    assert_eq!((r.events, r.corrupt), (1, 4));
    assert_eq!(d.events(), 1);
    assert_eq!(ids(&o.poll_transmit(100.0).unwrap()), ["good"]);
}

#[test]
fn caps_drop_the_oldest_and_the_next_batch_reports_it() {
    let caps = Caps {
        max_events: 3,
        ..Caps::default()
    };
    let mut d = Disk::default();
    let mut o = tab(caps);
    o.restore(&[], 0.0);
    for i in 0..5 {
        record(&mut o, &mut d, &format!("e{i}"), i as f64);
    }
    assert_eq!(d.events(), 3);
    assert_eq!(o.dropped(), 2);
    assert_eq!(d.0.get(DROPPED_KEY).map(String::as_str), Some("2"));
    let t = o.poll_transmit(10.0).unwrap();
    assert_eq!(ids(&t), ["e2", "e3", "e4"]);
    let body: Value = serde_json::from_str(&t.body).unwrap();
    assert_eq!(body["context"]["sillage"]["dropped"], 2);
    o.handle_response(t.batch_id, ok(), 11.0, 0.0);
    d.apply(&mut o);
    assert_eq!(o.dropped(), 0);
    assert!(!d.0.contains_key(DROPPED_KEY));
    record(&mut o, &mut d, "e5", 12.0);
    let body: Value = serde_json::from_str(&o.poll_transmit(12.0).unwrap().body).unwrap();
    assert!(body.get("context").is_none(), "reported once");
}

#[test]
fn age_and_byte_caps_apply_at_restore() {
    let day = 86_400_000.0;
    let mut d = Disk::default();
    for (i, at) in [0.0, 1.0 * day, 7.5 * day, 8.0 * day].iter().enumerate() {
        d.0.insert(
            format!("sillage.e.a{i}"),
            encode_record(*at, 0, &ev(&format!("a{i}"))),
        );
    }
    let mut o = tab(Caps::default());
    let r = o.restore(&d.entries(), 8.1 * day);
    d.apply(&mut o);
    assert_eq!(
        (r.events, r.dropped),
        (2, 2),
        "older than 7 days are dropped"
    );
    assert_eq!(ids(&o.poll_transmit(8.1 * day).unwrap()), ["a2", "a3"]);

    let mut d = Disk::default();
    let big = format!("{{\"messageId\":\"x\",\"pad\":\"{}\"}}", "p".repeat(4_000));
    for i in 0..10 {
        d.0.insert(format!("sillage.e.b{i}"), encode_record(i as f64, 0, &big));
    }
    let mut o = tab(Caps {
        max_bytes: 20_000,
        ..Caps::default()
    });
    let r = o.restore(&d.entries(), 100.0);
    d.apply(&mut o);
    assert_eq!(r.dropped, 6);
    assert_eq!(d.events(), 4);
}

#[test]
fn a_batch_in_flight_in_a_closed_tab_is_left_alone_until_its_lease_ends() {
    let mut d = Disk::default();
    let mut a = tab(Caps::default());
    a.restore(&[], 0.0);
    record(&mut a, &mut d, "x", 0.0);
    let _flying = a.poll_transmit(0.0).unwrap();
    d.apply(&mut a);
    drop(a); // closed with the request in flight (keepalive)

    let mut b = tab(Caps::default());
    b.restore(&d.entries(), 1_000.0);
    d.apply(&mut b);
    assert!(b.poll_transmit(1_000.0).is_none(), "never twice at once");
    assert_eq!(b.poll_timeout(), Some(30_000.0));
    assert_eq!(
        ids(&b.poll_transmit(30_000.0).unwrap()),
        ["x"],
        "sent after the lease"
    );
}

#[test]
fn beaconed_events_are_sent_again_after_the_grace_period() {
    let mut d = Disk::default();
    let mut a = tab(Caps::default());
    a.restore(&[], 0.0);
    record(&mut a, &mut d, "b1", 0.0);
    record(&mut a, &mut d, "b2", 0.0);
    let beacons = a.on_hidden(100.0);
    d.apply(&mut a);
    assert_eq!(
        beacons.iter().flat_map(ids).collect::<Vec<_>>(),
        ["b1", "b2"]
    );
    assert_eq!(d.events(), 2, "a beacon is not an acknowledgement");
    // The same (live) tab re-sends after the grace period...
    assert!(a.poll_transmit(5_000.0).is_none());
    assert_eq!(a.poll_timeout(), Some(10_100.0));
    assert_eq!(ids(&a.poll_transmit(10_100.0).unwrap()), ["b1", "b2"]);
    // ...and so does the next load, if the page is gone.
    let mut b = tab(Caps::default());
    let mut d2 = d.clone();
    b.restore(&d2.entries(), 200.0);
    d2.apply(&mut b);
    assert!(b.poll_transmit(200.0).is_none());
    assert_eq!(
        b.poll_transmit(10_100.0).map(|t| t.message_ids.len()),
        Some(2)
    );
}

#[test]
fn the_sender_adopts_events_other_tabs_write() {
    let mut d = Disk::default();
    let mut sender = tab(Caps::default());
    let mut other = tab(Caps::default());
    sender.restore(&[], 0.0);
    record(&mut other, &mut d, "from-other", 1.0);
    assert!(other.poll_transmit(1.0).is_none());
    let value = d.0["sillage.e.from-other"].clone();
    other.adopt("sillage.e.from-other", &value, 1.0); // non-senders ignore it
    assert!(other.poll_transmit(1.0).is_none());
    sender.adopt("sillage.e.from-other", &value, 1.0);
    sender.adopt("sillage.e.from-other", &value, 1.0); // twice: still once
    assert_eq!(ids(&sender.poll_transmit(1.0).unwrap()), ["from-other"]);
}

#[test]
fn a_refused_write_falls_back_to_memory_without_losing_the_event() {
    let mut o = tab(Caps::default());
    o.record("q".into(), ev("q"), 0.0);
    let op = o.poll_store_op().unwrap();
    o.fall_back_to_memory(op); // the shell's setItem threw QuotaExceededError
    assert_eq!(o.durability(), Durability::Memory);
    o.record("r".into(), ev("r"), 1.0);
    assert_eq!(o.poll_store_op(), None, "memory mode writes nothing");
    let t = o.poll_transmit(1.0).unwrap();
    assert_eq!(ids(&t), ["q", "r"]);
    let body: Value = serde_json::from_str(&t.body).unwrap();
    assert_eq!(body["context"]["sillage"]["storage"], "memory");
}

#[test]
fn stepping_down_stops_sending_and_keeps_the_events_stored() {
    let mut d = Disk::default();
    let mut o = tab(Caps::default());
    o.restore(&[], 0.0);
    record(&mut o, &mut d, "s", 0.0);
    o.step_down();
    assert!(o.poll_transmit(0.0).is_none());
    assert_eq!(o.poll_timeout(), None);
    assert_eq!(d.events(), 1);
}

#[test]
fn lease_election_steps() {
    let me = "tab-a";
    let cases: &[(Option<&str>, bool, bool, LeaseStep)] = &[
        (None, false, false, LeaseStep::Write("tab-a|6000".into())),
        (Some("tab-a|6000"), false, true, LeaseStep::Become),
        (
            Some("tab-a|6000"),
            true,
            false,
            LeaseStep::Write("tab-a|6000".into()),
        ),
        (Some("tab-b|9000"), false, false, LeaseStep::Wait),
        (Some("tab-b|9000"), false, true, LeaseStep::Wait),
        (Some("tab-b|9000"), true, false, LeaseStep::StepDown),
        (
            Some("tab-b|500"),
            false,
            false,
            LeaseStep::Write("tab-a|6000".into()),
        ),
        (
            Some("junk"),
            false,
            false,
            LeaseStep::Write("tab-a|6000".into()),
        ),
    ];
    for (stored, sender, claimed, want) in cases {
        assert_eq!(
            &lease_step(*stored, me, 1_000.0, *sender, *claimed),
            want,
            "{stored:?} {sender} {claimed}"
        );
    }
    assert_eq!(SENDER_KEY, "sillage.sender");
}

#[derive(Clone, Debug)]
enum Act {
    Record(usize),
    Respond(usize, u16),
    Advance(u32),
    Hide(usize),
    Close(usize),
    Elect(usize),
}

fn act() -> impl Strategy<Value = Act> {
    prop_oneof![
        5 => (0usize..2).prop_map(Act::Record),
        4 => ((0usize..2), prop::sample::select(vec![200u16, 200, 503, 0])).prop_map(|(t, c)| Act::Respond(t, c)),
        3 => (0u32..40_000).prop_map(Act::Advance),
        1 => (0usize..2).prop_map(Act::Hide),
        1 => (0usize..2).prop_map(Act::Close),
        2 => (0usize..2).prop_map(Act::Elect),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Two tabs sharing one store, a single sender at a time (as the Web Lock
    /// guarantees), tabs closing with requests in flight, beacons, reloads:
    /// every event is delivered, and no event is ever in two requests at once.
    #[test]
    fn two_tabs_lose_nothing_and_never_send_an_event_concurrently(acts in prop::collection::vec(act(), 1..80)) {
        let mut d = Disk::default();
        let mut tabs = [tab(Caps::default()), tab(Caps::default())];
        let mut flying: [Option<Transmit>; 2] = [None, None];
        let mut sent_at = [0.0f64; 2];
        // Requests of closed tabs still on the wire (keepalive), with their send
        // time: they count as in flight until the in-flight lease (30 s) ends,
        // the longest a browser lets such a request run here.
        let mut orphans: Vec<(Transmit, f64)> = Vec::new();
        let lease = Caps::default().in_flight_lease_ms;
        let mut sender: Option<usize> = None;
        let mut now = 0.0;
        let mut n = 0;
        let mut recorded = HashSet::new();
        let mut delivered = HashSet::new();

        for a in acts {
            match a {
                Act::Record(t) => {
                    let id = format!("m{n}");
                    n += 1;
                    record(&mut tabs[t], &mut d, &id, now);
                    recorded.insert(id.clone());
                    if let Some(s) = sender {
                        if s != t {
                            let v = d.0[&format!("sillage.e.{id}")].clone();
                            tabs[s].adopt(&format!("sillage.e.{id}"), &v, now);
                            d.apply(&mut tabs[s]);
                        }
                    }
                }
                Act::Respond(t, code) => {
                    if let Some(tr) = flying[t].take() {
                        let o = if code == 0 { Outcome::NetworkError } else { Outcome::Status { code, retry_after_ms: None } };
                        tabs[t].handle_response(tr.batch_id, o, now, 0.5);
                        d.apply(&mut tabs[t]);
                        if code == 200 { delivered.extend(tr.message_ids); }
                    }
                }
                Act::Advance(ms) => {
                    now += f64::from(ms);
                    let (landed, wire): (Vec<_>, Vec<_>) = orphans.drain(..).partition(|(_, at)| now >= at + lease);
                    orphans = wire;
                    for (o, _) in landed { delivered.extend(o.message_ids); }
                }
                Act::Hide(t) => {
                    for b in tabs[t].on_hidden(now) { delivered.extend(b.message_ids); }
                    d.apply(&mut tabs[t]);
                }
                Act::Close(t) => {
                    // The page goes away; its keepalive request stays on the wire.
                    if let Some(tr) = flying[t].take() {
                        if now >= sent_at[t] + lease {
                            delivered.extend(tr.message_ids); // it landed long ago
                        } else {
                            orphans.push((tr, sent_at[t]));
                        }
                    }
                    tabs[t] = tab(Caps::default());
                    if sender == Some(t) { sender = None; }
                }
                Act::Elect(t) => {
                    if sender.is_none() {
                        tabs[t].restore(&d.entries(), now);
                        d.apply(&mut tabs[t]);
                        sender = Some(t);
                    }
                }
            }
            for t in 0..2 {
                if flying[t].is_none() {
                    if let Some(tr) = tabs[t].poll_transmit(now) {
                        d.apply(&mut tabs[t]);
                        prop_assert!(sender == Some(t), "only the sender sends");
                        // Never concurrently twice: not in the other tab's request, nor
                        // in an orphaned request younger than the in-flight lease.
                        for id in &tr.message_ids {
                            for other in flying.iter().flatten().chain(orphans.iter().map(|(o, _)| o)) {
                                prop_assert!(!other.message_ids.contains(id), "{} twice at once", id);
                            }
                        }
                        flying[t] = Some(tr);
                        sent_at[t] = now;
                    }
                }
            }
        }
        for (o, _) in orphans.drain(..) { delivered.extend(o.message_ids); }
        // Recovery: a sender drives everything out with the collector healthy.
        let s = match sender { Some(s) => s, None => { tabs[0].restore(&d.entries(), now); d.apply(&mut tabs[0]); 0 } };
        for _ in 0..1000 {
            for t in 0..2 {
                if let Some(tr) = flying[t].take() {
                    tabs[t].handle_response(tr.batch_id, Outcome::Status { code: 200, retry_after_ms: None }, now, 0.5);
                    d.apply(&mut tabs[t]);
                    delivered.extend(tr.message_ids);
                }
            }
            match tabs[s].poll_transmit(now) {
                Some(tr) => { d.apply(&mut tabs[s]); flying[s] = Some(tr); }
                None => match tabs[s].poll_timeout() { Some(at) => now = now.max(at), None => break },
            }
        }
        let lost: Vec<_> = recorded.difference(&delivered).collect();
        prop_assert!(lost.is_empty(), "lost {:?}", lost);
        prop_assert_eq!(d.events(), 0, "everything acknowledged is deleted");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// With tight caps and a collector that keeps failing, the store never
    /// holds more than the caps (plus the batch in flight, which is never
    /// dropped mid-request), and every event is either delivered or counted
    /// as dropped in a later batch's context.
    #[test]
    fn the_queue_never_exceeds_its_caps(acts in prop::collection::vec((0u8..4, 0u32..5_000), 1..150)) {
        let caps = Caps { max_events: 5, max_bytes: 400, ..Caps::default() };
        let mut d = Disk::default();
        let mut o = tab(caps.clone());
        o.restore(&[], 0.0);
        let (mut now, mut n, mut flying) = (0.0, 0usize, None::<Transmit>);
        let (mut recorded, mut delivered, mut reported_dropped) = (0usize, 0usize, 0u64);
        for (kind, x) in acts {
            match kind {
                0 | 1 => {
                    record(&mut o, &mut d, &format!("c{n}"), now);
                    n += 1;
                    recorded += 1;
                }
                2 => {
                    if let Some(t) = flying.take() {
                        let ok = x % 3 == 0;
                        let code = if ok { 200 } else { 503 };
                        o.handle_response(t.batch_id, Outcome::Status { code, retry_after_ms: None }, now, 0.5);
                        d.apply(&mut o);
                        if ok {
                            delivered += t.message_ids.len();
                            let body: Value = serde_json::from_str(&t.body).unwrap();
                            reported_dropped += body["context"]["sillage"]["dropped"].as_u64().unwrap_or(0);
                        }
                    }
                }
                _ => now += f64::from(x),
            }
            if flying.is_none() {
                flying = o.poll_transmit(now);
                d.apply(&mut o);
            }
            let in_flight = flying.as_ref().map_or(0, |t| t.message_ids.len());
            prop_assert!(d.events() <= caps.max_events + in_flight, "{} stored", d.events());
        }
        // Drain with a healthy collector: what was not delivered was dropped,
        // and the drops were reported.
        for _ in 0..100 {
            if let Some(t) = flying.take() {
                o.handle_response(t.batch_id, Outcome::Status { code: 200, retry_after_ms: None }, now, 0.5);
                d.apply(&mut o);
                delivered += t.message_ids.len();
                let body: Value = serde_json::from_str(&t.body).unwrap();
                reported_dropped += body["context"]["sillage"]["dropped"].as_u64().unwrap_or(0);
            }
            flying = o.poll_transmit(now);
            d.apply(&mut o);
            if flying.is_none() {
                match o.poll_timeout() { Some(at) => now = now.max(at), None => break }
            }
        }
        prop_assert_eq!(d.events(), 0);
        // Drops are reported with the next batch: one more event carries any
        // drop that happened after the last one.
        record(&mut o, &mut d, "last", now);
        recorded += 1;
        if let Some(t) = o.poll_transmit(now) {
            o.handle_response(t.batch_id, Outcome::Status { code: 200, retry_after_ms: None }, now, 0.5);
            d.apply(&mut o);
            delivered += t.message_ids.len();
            let body: Value = serde_json::from_str(&t.body).unwrap();
            reported_dropped += body["context"]["sillage"]["dropped"].as_u64().unwrap_or(0);
        }
        let dropped = recorded - delivered;
        prop_assert!(reported_dropped as usize >= dropped, "{} dropped, {} reported", dropped, reported_dropped);
        prop_assert_eq!(o.dropped(), 0, "every drop reported by the end");
    }
}
