//! The batcher, driven by a virtual clock (quinn-proto style): no sleeps, every
//! millisecond chosen by the test.

use std::collections::{HashMap, HashSet};

use proptest::prelude::*;
use serde_json::Value;
use sillage_core::track::batch::{BatchConfig, Batcher, Outcome, Report, Transmit};

fn ok() -> Outcome {
    Outcome::Status {
        code: 200,
        retry_after_ms: None,
    }
}
fn status(code: u16) -> Outcome {
    Outcome::Status {
        code,
        retry_after_ms: None,
    }
}

fn cfg(max_events: usize, max_bytes: usize, flush_ms: f64) -> BatchConfig {
    BatchConfig {
        max_events,
        max_bytes,
        flush_ms,
    }
}

fn push(b: &mut Batcher, id: usize, now: f64) {
    push_sized(b, id, 10, now);
}

fn push_sized(b: &mut Batcher, id: usize, pad: usize, now: f64) {
    let mid = format!("m{id}");
    let json = format!(
        "{{\"messageId\":\"{mid}\",\"pad\":\"{}\"}}",
        "x".repeat(pad)
    );
    b.push(mid, json, now);
}

fn ids(t: &Transmit) -> Vec<String> {
    let body: Value = serde_json::from_str(&t.body).expect("bodies are JSON");
    let from_body: Vec<String> = body["batch"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["messageId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        from_body, t.message_ids,
        "message_ids list matches the body"
    );
    from_body
}

#[test]
fn flushes_after_flush_ms_and_not_before() {
    let mut b = Batcher::new(cfg(20, 60_000, 2_000.0), Some("wk\"1".into()));
    push(&mut b, 1, 1_000.0);
    push(&mut b, 2, 1_500.0);
    assert_eq!(b.poll_timeout(), Some(3_000.0));
    assert!(b.poll_transmit(2_999.0).is_none());
    let t = b.poll_transmit(3_000.0).expect("due at oldest + flushMs");
    assert_eq!(ids(&t), ["m1", "m2"]);
    let body: Value = serde_json::from_str(&t.body).unwrap();
    assert_eq!(body["sentAt"], "1970-01-01T00:00:03.000Z");
    assert_eq!(body["writeKey"], "wk\"1");
    assert_eq!(b.poll_timeout(), None, "nothing to do while in flight");
    b.handle_response(t.batch_id, ok(), 3_050.0, 0.5);
    assert_eq!(b.unacknowledged(), 0);
    assert_eq!(b.poll_timeout(), None);
}

#[test]
fn max_events_triggers_at_once_and_in_flight_events_coalesce() {
    let mut b = Batcher::new(cfg(3, 60_000, 2_000.0), None);
    for i in 0..3 {
        push(&mut b, i, 0.0);
    }
    assert_eq!(b.poll_timeout(), Some(0.0));
    let t1 = b.poll_transmit(0.0).unwrap();
    assert_eq!(t1.message_ids.len(), 3);
    for i in 3..10 {
        push(&mut b, i, 10.0);
    }
    assert!(
        b.poll_transmit(10.0).is_none(),
        "one request in flight at most"
    );
    b.handle_response(t1.batch_id, ok(), 20.0, 0.5);
    let t2 = b.poll_transmit(20.0).unwrap();
    assert_eq!(t2.message_ids.len(), 7, "the backlog leaves in one request");
}

#[test]
fn max_bytes_caps_a_request_and_triggers_a_flush() {
    let mut b = Batcher::new(cfg(100, 1_000, 60_000.0), None);
    for i in 0..9 {
        push_sized(&mut b, i, 200, 0.0);
    }
    let t = b.poll_transmit(0.0).expect("bytes trigger");
    assert!(t.body.len() <= 1_000, "{}", t.body.len());
    assert_eq!(t.message_ids.len(), 4);
}

#[test]
fn explicit_flush_sends_now() {
    let mut b = Batcher::new(cfg(20, 60_000, 60_000.0), None);
    push(&mut b, 1, 0.0);
    assert!(b.poll_transmit(1.0).is_none());
    b.flush();
    assert_eq!(ids(&b.poll_transmit(1.0).unwrap()), ["m1"]);
}

#[test]
fn retries_back_off_with_full_jitter_and_keep_message_ids() {
    let mut b = Batcher::new(cfg(1, 60_000, 0.0), None);
    push(&mut b, 1, 0.0);
    let mut now = 0.0;
    let mut ceilings = vec![];
    for attempt in 1..=9 {
        let t = b.poll_transmit(now).unwrap();
        assert_eq!(ids(&t), ["m1"], "attempt {attempt}: same messageId");
        b.handle_response(t.batch_id, status(503), now, 1.0);
        let wait = b.poll_timeout().unwrap() - now;
        ceilings.push(wait);
        assert!(
            b.poll_transmit(now + wait - 1.0).is_none(),
            "not before the backoff"
        );
        now += wait;
    }
    assert_eq!(ceilings, [1e3, 2e3, 4e3, 8e3, 16e3, 32e3, 60e3, 60e3, 60e3]);
    // Jitter scales the delay: 0 means at once, 0.5 means half the ceiling.
    let t = b.poll_transmit(now).unwrap();
    b.handle_response(t.batch_id, Outcome::NetworkError, now, 0.25);
    assert_eq!(b.poll_timeout(), Some(now + 15_000.0));
    let t = b.poll_transmit(now + 15_000.0).unwrap();
    b.handle_response(t.batch_id, ok(), now, 0.0);
    assert_eq!(b.unacknowledged(), 0);
}

#[test]
fn retry_after_is_honoured_and_capped() {
    for (given, want) in [(3_000.0, 3_000.0), (900_000.0, 300_000.0), (0.0, 0.0)] {
        let mut b = Batcher::new(cfg(1, 60_000, 0.0), None);
        push(&mut b, 1, 0.0);
        let t = b.poll_transmit(0.0).unwrap();
        b.handle_response(
            t.batch_id,
            Outcome::Status {
                code: 429,
                retry_after_ms: Some(given),
            },
            100.0,
            0.9,
        );
        assert_eq!(b.poll_timeout(), Some(100.0 + want));
        assert!(b.poll_transmit(100.0 + want - 1.0).is_none() || want == 0.0);
        assert!(b.poll_transmit(100.0 + want).is_some());
    }
}

#[test]
fn retryable_and_permanent_statuses() {
    for code in [0u16, 408, 429, 500, 502, 503, 504, 599] {
        let mut b = Batcher::new(cfg(1, 60_000, 0.0), None);
        push(&mut b, 1, 0.0);
        let t = b.poll_transmit(0.0).unwrap();
        let outcome = if code == 0 {
            Outcome::NetworkError
        } else {
            status(code)
        };
        b.handle_response(t.batch_id, outcome, 0.0, 0.0);
        assert_eq!(b.unacknowledged(), 1, "{code} is retried");
        assert_eq!(b.poll_report(), None);
    }
    for code in [400u16, 401, 403, 404, 422] {
        let mut b = Batcher::new(cfg(1, 60_000, 0.0), None);
        push(&mut b, 1, 0.0);
        push(&mut b, 2, 0.0);
        let t = b.poll_transmit(0.0).unwrap();
        b.handle_response(t.batch_id, status(code), 0.0, 0.0);
        assert_eq!(b.unacknowledged(), 0, "{code} drops the batch");
        assert_eq!(
            b.poll_report(),
            Some(Report::Dropped {
                status: code,
                count: 2
            })
        );
        assert_eq!(b.poll_report(), None, "one report per batch");
    }
}

#[test]
fn payload_too_large_splits_the_batch_in_halves() {
    let mut b = Batcher::new(cfg(100, 60_000, 0.0), None);
    for i in 0..5 {
        push(&mut b, i, 0.0);
    }
    let t = b.poll_transmit(0.0).unwrap();
    b.handle_response(t.batch_id, status(413), 0.0, 0.0);
    push(&mut b, 9, 0.0);
    let a = b.poll_transmit(0.0).unwrap();
    assert_eq!(ids(&a), ["m0", "m1"]);
    b.handle_response(a.batch_id, status(413), 0.0, 0.0);
    let a1 = b.poll_transmit(0.0).unwrap();
    assert_eq!(ids(&a1), ["m0"]);
    b.handle_response(a1.batch_id, ok(), 0.0, 0.0);
    let a2 = b.poll_transmit(0.0).unwrap();
    assert_eq!(ids(&a2), ["m1"]);
    b.handle_response(a2.batch_id, ok(), 0.0, 0.0);
    let c = b.poll_transmit(0.0).unwrap();
    assert_eq!(ids(&c), ["m2", "m3", "m4"], "halves are not topped up");
    b.handle_response(c.batch_id, ok(), 0.0, 0.0);
    assert_eq!(ids(&b.poll_transmit(0.0).unwrap()), ["m9"]);
    // A single event that is too large is dropped and reported.
    let mut b = Batcher::new(cfg(1, 60_000, 0.0), None);
    push(&mut b, 1, 0.0);
    let t = b.poll_transmit(0.0).unwrap();
    b.handle_response(t.batch_id, status(413), 0.0, 0.0);
    assert_eq!(
        b.poll_report(),
        Some(Report::Dropped {
            status: 413,
            count: 1
        })
    );
}

#[test]
fn offline_pauses_and_online_resumes_at_once() {
    let mut b = Batcher::new(cfg(1, 60_000, 0.0), None);
    push(&mut b, 1, 0.0);
    let t = b.poll_transmit(0.0).unwrap();
    b.handle_response(t.batch_id, Outcome::NetworkError, 0.0, 1.0);
    b.set_online(false);
    assert_eq!(b.poll_timeout(), None);
    assert!(b.poll_transmit(10_000.0).is_none());
    b.set_online(true);
    assert_eq!(b.poll_timeout(), Some(0.0), "no waiting out the backoff");
    assert!(b.poll_transmit(10.0).is_some());
}

#[test]
fn stale_responses_are_ignored() {
    let mut b = Batcher::new(cfg(1, 60_000, 0.0), None);
    push(&mut b, 1, 0.0);
    let t = b.poll_transmit(0.0).unwrap();
    b.handle_response(t.batch_id + 7, ok(), 0.0, 0.0);
    assert!(b.in_flight());
    b.handle_response(t.batch_id, ok(), 0.0, 0.0);
    assert!(!b.in_flight());
}

#[test]
fn hiding_hands_everything_not_in_flight_to_beacons_within_max_bytes() {
    let mut b = Batcher::new(cfg(1000, 2_000, 60_000.0), None);
    push(&mut b, 0, 0.0);
    b.flush();
    let flying = b.poll_transmit(0.0).unwrap();
    for i in 1..30 {
        push_sized(&mut b, i, 150, 1.0);
    }
    let beacons = b.on_hidden(2.0);
    let sent: Vec<String> = beacons.iter().flat_map(ids).collect();
    let want: Vec<String> = (1..30).map(|i| format!("m{i}")).collect();
    assert_eq!(sent, want);
    assert!(beacons.iter().all(|t| t.body.len() <= 2_000));
    assert!(beacons.len() >= 3);
    assert!(
        b.in_flight(),
        "the keepalive request in flight is left alone"
    );
    b.handle_response(flying.batch_id, ok(), 3.0, 0.0);
    assert_eq!(b.unacknowledged(), 0);
}

/// One step of a random scenario.
#[derive(Clone, Debug)]
enum Step {
    Push(usize),
    Respond(u16, Option<u32>),
    Advance(u32),
    Hide,
    Flush,
    Online(bool),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (1usize..400).prop_map(Step::Push),
        4 => (prop::sample::select(vec![0u16, 200, 200, 202, 408, 413, 429, 500, 503]),
              prop::option::of(0u32..400_000)).prop_map(|(c, r)| Step::Respond(c, r)),
        3 => (0u32..90_000).prop_map(Step::Advance),
        1 => Just(Step::Hide),
        1 => Just(Step::Flush),
        1 => any::<bool>().prop_map(Step::Online),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Across any interleaving of events, failures, retries, hides and network
    /// changes: every event is delivered (acknowledged or beaconed) once the
    /// collector recovers, nothing acknowledged is sent again, one request at
    /// most is in flight, requests stay within maxBytes, and the number of
    /// requests stays bounded.
    #[test]
    fn nothing_is_lost_or_resent_after_ack(steps in prop::collection::vec(step(), 1..120), jitter in 0.0f64..1.0) {
        let max_bytes = 4_000;
        let mut b = Batcher::new(cfg(5, max_bytes, 2_000.0), None);
        let mut now = 0.0;
        let mut next_id = 0;
        let mut pushed = HashSet::new();
        let mut delivered: HashSet<String> = HashSet::new();
        let mut dropped: HashSet<String> = HashSet::new();
        let mut flying: Option<Transmit> = None;
        let mut requests = 0usize;
        let mut attempts: HashMap<String, usize> = HashMap::new();

        let mut send = |b: &mut Batcher, now: f64, flying: &mut Option<Transmit>, requests: &mut usize, delivered: &HashSet<String>| {
            if let Some(t) = b.poll_transmit(now) {
                prop_assert!(flying.is_none(), "two requests in flight");
                prop_assert!(t.body.len() <= max_bytes || t.message_ids.len() == 1);
                for id in &t.message_ids {
                    prop_assert!(!delivered.contains(id), "{} sent again after ack", id);
                    *attempts.entry(id.clone()).or_default() += 1;
                }
                *requests += 1;
                *flying = Some(t);
            }
            Ok(())
        };

        for s in steps {
            match s {
                Step::Push(pad) => {
                    push_sized(&mut b, next_id, pad, now);
                    pushed.insert(format!("m{next_id}"));
                    next_id += 1;
                }
                Step::Respond(code, retry_after) => {
                    if let Some(t) = flying.take() {
                        let outcome = if code == 0 { Outcome::NetworkError } else {
                            Outcome::Status { code, retry_after_ms: retry_after.map(f64::from) }
                        };
                        b.handle_response(t.batch_id, outcome, now, jitter);
                        if (200..300).contains(&code) {
                            delivered.extend(t.message_ids.iter().cloned());
                        }
                        if code == 413 && t.message_ids.len() == 1 {
                            dropped.extend(t.message_ids.iter().cloned());
                        }
                    }
                }
                Step::Advance(ms) => now += f64::from(ms),
                Step::Hide => {
                    for t in b.on_hidden(now) {
                        prop_assert!(t.body.len() <= max_bytes || t.message_ids.len() == 1);
                        for id in &t.message_ids {
                            prop_assert!(!delivered.contains(id), "{} beaconed after ack", id);
                        }
                        delivered.extend(t.message_ids);
                    }
                }
                Step::Flush => b.flush(),
                Step::Online(on) => b.set_online(on),
            }
            send(&mut b, now, &mut flying, &mut requests, &delivered)?;
            prop_assert!(b.unacknowledged() <= pushed.len());
        }
        // The collector recovers: drive to quiescence with a virtual clock.
        b.set_online(true);
        let mut rounds = 0;
        loop {
            if let Some(t) = flying.take() {
                b.handle_response(t.batch_id, Outcome::Status { code: 200, retry_after_ms: None }, now, jitter);
                delivered.extend(t.message_ids);
            }
            send(&mut b, now, &mut flying, &mut requests, &delivered)?;
            if flying.is_none() {
                match b.poll_timeout() {
                    Some(at) => now = now.max(at),
                    None => break,
                }
            }
            rounds += 1;
            prop_assert!(rounds < 10_000, "no quiescence");
        }
        while b.poll_report().is_some() {}
        let lost: Vec<_> = pushed.iter().filter(|id| !delivered.contains(*id) && !dropped.contains(*id)).collect();
        prop_assert!(lost.is_empty(), "lost {:?}", lost);
        prop_assert_eq!(b.unacknowledged(), 0);
        // Bounded: never more requests than attempts could justify.
        prop_assert!(requests <= next_id + 130, "{} requests for {} events", requests, next_id);
    }
}

#[test]
fn hiding_while_offline_sends_nothing_and_keeps_everything() {
    let mut b = Batcher::new(cfg(20, 60_000, 2_000.0), None);
    push(&mut b, 1, 0.0);
    b.set_online(false);
    assert!(
        b.on_hidden(1.0).is_empty(),
        "a beacon cannot leave an offline device"
    );
    assert_eq!(b.unacknowledged(), 1);
    b.set_online(true);
    b.flush();
    assert_eq!(ids(&b.poll_transmit(2.0).unwrap()), ["m1"]);
}
