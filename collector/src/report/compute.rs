//! From the facts to the report's numbers. Visitors are processed one at a
//! time, their facts in time order; nothing here reads the database.
//!
//! Definitions (also in collector/README.md):
//! - a **visitor** is a userId, or an anonymousId that was seen with a
//!   userId in the range (joined to it), or else the anonymousId alone;
//! - a **touch** is a landing carrying `context.sillage.touchpoint`;
//! - an **order** is an `Order Completed`; one with an `order_id` already
//!   seen is a repeat and is ignored;
//! - the **stage at a touch** is the `to` of the visitor's last stage change
//!   at or before it; a new visitor's first touch gets the first stage their
//!   profile announces in that session;
//! - **attribution** shares each order between the visitor's touches at or
//!   before it (in the range); an order without any is credited to
//!   `(no touchpoint)`.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::load::{Facts, RawFact, Sym, What, STAGES};
use super::range::{day_text, Range, DAY_MS};
use super::stats::{lift, median, srm};
use super::*;

/// Rows kept in the channel, attribution and campaign tables (the rest is
/// summed as `Other`).
pub const MAX_CHANNELS: usize = 15;
/// Paths listed per kind of journey.
pub const MAX_PATHS: usize = 10;
/// Campaigns listed.
pub const MAX_CAMPAIGNS: usize = 10;
/// Slot-and-rule rows listed.
pub const MAX_PERSONALIZATION: usize = 30;
/// Experiments listed.
pub const MAX_EXPERIMENTS: usize = 10;
/// Variations listed per experiment.
pub const MAX_VARIATIONS: usize = 10;
/// The time-decay model's half-life.
pub const HALF_LIFE_MS: f64 = 7.0 * DAY_MS as f64;
/// How long a quote has to turn into an order or a sign-up.
pub const QUOTE_WINDOW_MS: i64 = 7 * DAY_MS;
/// Above this many days the over-time charts count weeks.
pub const MAX_DAYS: i64 = 92;

/// The label of orders without a touch.
pub const NO_TOUCH: &str = "(no touchpoint)";
/// The column of touches before any stage.
pub const NO_STAGE: &str = "(no stage)";
/// The label of rows beyond a table's cap.
pub const OTHER: &str = "Other";

/// A fact of one resolved visitor.
#[derive(Clone, Copy)]
struct Fact {
    visitor: u32,
    session: Option<Sym>,
    ts: i64,
    seq: u32,
    what: What,
}

/// Attribution weights of `n` touches at `times` for an order at `at`, per
/// model in [`MODELS`] order.
pub fn weights(times: &[i64], at: i64) -> [Vec<f64>; 5] {
    let n = times.len();
    let mut first = vec![0.0; n];
    let mut last = vec![0.0; n];
    if n > 0 {
        first[0] = 1.0;
        last[n - 1] = 1.0;
    }
    let linear = vec![1.0 / n.max(1) as f64; n];
    let position = match n {
        0 => vec![],
        1 => vec![1.0],
        2 => vec![0.5, 0.5],
        _ => {
            let mut w = vec![0.2 / (n - 2) as f64; n];
            w[0] = 0.4;
            w[n - 1] = 0.4;
            w
        }
    };
    let raw: Vec<f64> = times
        .iter()
        .map(|t| 0.5f64.powf((at - t).max(0) as f64 / HALF_LIFE_MS))
        .collect();
    let sum: f64 = raw.iter().sum();
    let decay = raw.iter().map(|w| w / sum).collect();
    [first, last, linear, position, decay]
}

/// Collapses repeats: `A A B A` becomes `A B A`.
fn collapse(steps: impl IntoIterator<Item = Sym>) -> Vec<Sym> {
    let mut out: Vec<Sym> = Vec::new();
    for s in steps {
        if out.last() != Some(&s) {
            out.push(s);
        }
    }
    out
}

fn share(n: u64, of: u64) -> f64 {
    if of == 0 {
        0.0
    } else {
        n as f64 / of as f64
    }
}

#[derive(Default)]
struct PzAcc {
    variants: BTreeSet<Sym>,
    exposures: u64,
    sessions: u64,
    clicks: u64,
    clicked_sessions: u64,
    converted_sessions: u64,
}

#[derive(Default, Clone, Copy)]
struct Group {
    visitors: u64,
    conversions: u64,
}

#[derive(Default)]
struct ExpAcc {
    variations: HashMap<Sym, Group>,
    holdout: Group,
    visitors: u64,
}

#[derive(Default)]
struct CampaignAcc {
    touches: u64,
    channels: HashMap<Sym, u64>,
    orders: f64,
    revenue: f64,
}

/// Everything accumulated over the visitors.
struct Acc {
    stage_syms: [Option<Sym>; 5],
    funnel: [u64; 5],
    transitions: HashMap<(usize, usize), (u64, Vec<i64>)>,
    unknown_stages: u64,
    paths_channel: HashMap<Vec<Sym>, u64>,
    paths_stage: HashMap<Vec<Sym>, u64>,
    converting: u64,
    channel_stage: HashMap<Sym, [u64; 6]>,
    attribution: HashMap<Option<Sym>, ([f64; 5], [f64; 5])>,
    campaigns: HashMap<Sym, CampaignAcc>,
    orders: u64,
    revenue: f64,
    currencies: BTreeSet<Sym>,
    seen_orders: HashSet<Sym>,
    duplicate_orders: u64,
    touches: u64,
    pz: HashMap<(Sym, Sym), PzAcc>,
    converted_sessions: HashSet<Sym>,
    experiments: HashMap<Sym, ExpAcc>,
    carts: Vec<(i64, bool, bool)>,
    quotes: Vec<(i64, Option<bool>)>,
}

/// Computes the report from the facts.
pub fn compute(facts: Facts, range: &Range, settings: &Settings) -> Report {
    let Facts {
        mut syms,
        events,
        skipped,
        pairs,
        identities,
        sessions,
        facts: raw,
        span,
    } = facts;

    // Visitors: a userId, or the userId an anonymousId was seen with, or
    // the anonymousId.
    let mut keys: HashMap<(bool, Sym), u32> = HashMap::new();
    let mut key_of = |anon: Option<Sym>, user: Option<Sym>| -> Option<u32> {
        let k = match (user, anon.and_then(|a| identities.get(&a).copied())) {
            (Some(u), _) | (None, Some(u)) => (true, u),
            (None, None) => (false, anon?),
        };
        let n = keys.len() as u32;
        Some(*keys.entry(k).or_insert(n))
    };
    // Numbered in a fixed order, so that sums over visitors are the same
    // from run to run.
    let mut pairs: Vec<_> = pairs.into_iter().collect();
    pairs.sort_unstable();
    for &(a, u) in &pairs {
        key_of(a, u);
    }
    let mut facts: Vec<Fact> = raw
        .iter()
        .filter_map(|f: &RawFact| {
            Some(Fact {
                visitor: key_of(f.anon, f.user)?,
                session: f.session,
                ts: f.ts,
                seq: f.seq,
                what: f.what,
            })
        })
        .collect();
    let visitors = keys.len() as u64;
    drop(raw);
    facts.sort_unstable_by_key(|f| (f.visitor, f.ts, f.seq));

    let stage_syms: [Option<Sym>; 5] = std::array::from_fn(|i| syms.get(STAGES[i]));
    let mut acc = Acc {
        stage_syms,
        funnel: [0; 5],
        transitions: HashMap::new(),
        unknown_stages: 0,
        paths_channel: HashMap::new(),
        paths_stage: HashMap::new(),
        converting: 0,
        channel_stage: HashMap::new(),
        attribution: HashMap::new(),
        campaigns: HashMap::new(),
        orders: 0,
        revenue: 0.0,
        currencies: BTreeSet::new(),
        seen_orders: HashSet::new(),
        duplicate_orders: 0,
        touches: 0,
        pz: HashMap::new(),
        converted_sessions: HashSet::new(),
        experiments: HashMap::new(),
        carts: Vec::new(),
        quotes: Vec::new(),
    };
    let as_of = span.map_or(0, |s| s.1);
    for group in facts.chunk_by(|a, b| a.visitor == b.visitor) {
        visitor(group, &mut acc, as_of);
    }

    let stage_name = |i: usize| STAGES[i].to_string();
    let mut notes = Vec::new();
    if skipped > 0 {
        notes.push(format!(
            "{skipped} events without a readable timestamp or any visitor id were left out."
        ));
    }
    if acc.unknown_stages > 0 {
        notes.push(format!(
            "{} stage changes named a stage that is not one of {} and were left out.",
            acc.unknown_stages,
            STAGES.join(", ")
        ));
    }
    if acc.duplicate_orders > 0 {
        notes.push(format!(
            "{} repeated Order Completed events (an order_id already seen) were counted once.",
            acc.duplicate_orders
        ));
    }
    let currencies: Vec<String> = acc
        .currencies
        .iter()
        .map(|c| syms.name(*c).to_string())
        .collect();
    if currencies.len() > 1 {
        notes.push(format!(
            "Orders are in several currencies ({}); revenue adds them up as they are.",
            currencies.join(", ")
        ));
    }

    // Funnel.
    let funnel = (0..5)
        .map(|i| FunnelStep {
            stage: stage_name(i),
            visitors: acc.funnel[i],
            share: share(acc.funnel[i], visitors),
        })
        .collect();

    // Transitions, in stage order.
    let mut transitions: Vec<Transition> = acc
        .transitions
        .iter_mut()
        .map(|(&(f, t), (n, times))| Transition {
            from: stage_name(f),
            to: stage_name(t),
            count: *n,
            median_ms: median(times),
        })
        .collect();
    transitions.sort_by_key(|t| {
        (
            STAGES.iter().position(|s| *s == t.from),
            STAGES.iter().position(|s| *s == t.to),
        )
    });

    // Journeys.
    let paths = |m: &HashMap<Vec<Sym>, u64>, syms: &load::Interner, empty: &str| -> Vec<PathRow> {
        let mut rows: Vec<PathRow> = m
            .iter()
            .map(|(p, n)| PathRow {
                steps: if p.is_empty() {
                    vec![empty.to_string()]
                } else {
                    p.iter().map(|s| syms.name(*s).to_string()).collect()
                },
                visitors: *n,
                share: share(*n, acc.converting),
            })
            .collect();
        rows.sort_by(|a, b| b.visitors.cmp(&a.visitors).then(a.steps.cmp(&b.steps)));
        rows.truncate(MAX_PATHS);
        rows
    };
    let journeys = Journeys {
        converting_visitors: acc.converting,
        by_channel: paths(&acc.paths_channel, &syms, NO_TOUCH),
        by_stage: paths(&acc.paths_stage, &syms, NO_STAGE),
    };

    // Channels by stage.
    let mut stages: Vec<String> = STAGES.iter().map(|s| s.to_string()).collect();
    stages.push(NO_STAGE.into());
    let mut rows: Vec<ChannelStageRow> = acc
        .channel_stage
        .iter()
        .map(|(c, t)| ChannelStageRow {
            channel: syms.name(*c).to_string(),
            touches: t.to_vec(),
            total: t.iter().sum(),
        })
        .collect();
    rows.sort_by(|a, b| b.total.cmp(&a.total).then(a.channel.cmp(&b.channel)));
    if rows.len() > MAX_CHANNELS {
        let rest = rows.split_off(MAX_CHANNELS - 1);
        let mut other = ChannelStageRow {
            channel: OTHER.into(),
            touches: vec![0; 6],
            total: 0,
        };
        for r in rest {
            for (o, t) in other.touches.iter_mut().zip(&r.touches) {
                *o += t;
            }
            other.total += r.total;
        }
        rows.push(other);
    }
    let channels_by_stage = ChannelsByStage { stages, rows };

    // Attribution.
    let mut rows: Vec<AttributionRow> = acc
        .attribution
        .iter()
        .map(|(c, (o, r))| AttributionRow {
            channel: c.map_or(NO_TOUCH.to_string(), |c| syms.name(c).to_string()),
            orders: o.to_vec(),
            share: o.iter().map(|x| x / acc.orders.max(1) as f64).collect(),
            revenue: r.to_vec(),
        })
        .collect();
    rows.sort_by(|a, b| {
        b.orders[2]
            .total_cmp(&a.orders[2])
            .then(a.channel.cmp(&b.channel))
    });
    if rows.len() > MAX_CHANNELS {
        let rest = rows.split_off(MAX_CHANNELS - 1);
        let mut other = AttributionRow {
            channel: OTHER.into(),
            orders: vec![0.0; 5],
            share: vec![0.0; 5],
            revenue: vec![0.0; 5],
        };
        for r in rest {
            for i in 0..5 {
                other.orders[i] += r.orders[i];
                other.share[i] += r.share[i];
                other.revenue[i] += r.revenue[i];
            }
        }
        rows.push(other);
    }
    let attribution = Attribution {
        models: MODELS.iter().map(|m| m.to_string()).collect(),
        orders: acc.orders,
        revenue: acc.revenue,
        rows,
    };

    // Campaigns.
    let mut campaigns: Vec<CampaignRow> = acc
        .campaigns
        .iter()
        .map(|(c, a)| CampaignRow {
            campaign: syms.name(*c).to_string(),
            channel: a
                .channels
                .iter()
                .max_by(|x, y| x.1.cmp(y.1).then(syms.name(*y.0).cmp(syms.name(*x.0))))
                .map_or(String::new(), |(ch, _)| syms.name(*ch).to_string()),
            touches: a.touches,
            linear_orders: a.orders,
            linear_revenue: a.revenue,
        })
        .collect();
    campaigns.sort_by(|a, b| {
        b.linear_orders
            .total_cmp(&a.linear_orders)
            .then(b.touches.cmp(&a.touches))
            .then(a.campaign.cmp(&b.campaign))
    });
    campaigns.truncate(MAX_CAMPAIGNS);

    // Personalization.
    let sessions_n = sessions.len() as u64;
    let converted_n = acc.converted_sessions.len() as u64;
    let mut pz: Vec<PersonalizationRow> = acc
        .pz
        .iter()
        .map(|((slot, rule), a)| PersonalizationRow {
            slot: syms.name(*slot).to_string(),
            rule_id: syms.name(*rule).to_string(),
            variants: a
                .variants
                .iter()
                .map(|v| syms.name(*v).to_string())
                .collect(),
            exposures: a.exposures,
            sessions: a.sessions,
            clicks: a.clicks,
            clicked_sessions: a.clicked_sessions,
            converted_sessions: a.converted_sessions,
            conversion_rate: share(a.converted_sessions, a.sessions),
        })
        .collect();
    pz.sort_by(|a, b| {
        b.exposures
            .cmp(&a.exposures)
            .then(a.slot.cmp(&b.slot))
            .then(a.rule_id.cmp(&b.rule_id))
    });
    pz.truncate(MAX_PERSONALIZATION);
    let personalization = Personalization {
        sessions: sessions_n,
        converted_sessions: converted_n,
        conversion_rate: share(converted_n, sessions_n),
        rows: pz,
    };

    // Experiments.
    let mut exps: Vec<(Sym, ExpAcc)> = acc.experiments.drain().collect();
    exps.sort_by(|a, b| {
        b.1.visitors
            .cmp(&a.1.visitors)
            .then(syms.name(a.0).cmp(syms.name(b.0)))
    });
    let mut experiments = Vec::new();
    for (key, e) in exps.into_iter().take(MAX_EXPERIMENTS) {
        experiments.push(experiment(&mut syms, key, e, settings, &mut notes));
    }

    let over_time = over_time(&acc, range, span);

    Report {
        from: range.from_text(),
        to: range.to_text(),
        first_event: span.map(|s| sillage_core::support::time::iso8601(s.0 as f64)),
        last_event: span.map(|s| sillage_core::support::time::iso8601(s.1 as f64)),
        totals: Totals {
            events,
            skipped_events: skipped,
            visitors,
            sessions: sessions_n,
            touches: acc.touches,
            orders: acc.orders,
            converting_visitors: acc.converting,
            revenue: acc.revenue,
            currencies,
        },
        funnel,
        transitions,
        journeys,
        channels_by_stage,
        campaigns,
        attribution,
        personalization,
        experiments,
        over_time,
        notes,
    }
}

/// One visitor's facts, in time order.
fn visitor(facts: &[Fact], acc: &mut Acc, as_of: i64) {
    let stage = |acc: &Acc, s: Sym| acc.stage_syms.iter().position(|x| *x == Some(s));
    // Stages: funnel, transitions, the timeline.
    let mut reached = [false; 5];
    let mut timeline: Vec<(i64, usize, Option<Sym>)> = Vec::new();
    let mut entered: Option<(usize, i64)> = None;
    for f in facts {
        let What::Stage { from, to } = f.what else {
            continue;
        };
        let from_i = from.map(|s| stage(acc, s));
        let Some(to_i) = stage(acc, to) else {
            acc.unknown_stages += 1;
            continue;
        };
        if let Some(None) = from_i {
            acc.unknown_stages += 1;
            continue;
        }
        let from_i = from_i.flatten();
        reached[to_i] = true;
        if let Some(fi) = from_i {
            reached[fi] = true;
            let t = acc.transitions.entry((fi, to_i)).or_default();
            t.0 += 1;
            if let Some((cur, since)) = entered {
                if cur == fi {
                    t.1.push(f.ts - since);
                }
            }
            if timeline.is_empty() {
                timeline.push((f.ts, fi, f.session));
            }
        }
        timeline.push((f.ts, to_i, f.session));
        entered = Some((to_i, f.ts));
    }
    for (i, r) in reached.iter().enumerate() {
        if *r {
            acc.funnel[i] += 1;
        }
    }

    // Touches, with the stage at each.
    let mut touches: Vec<(i64, Sym, Option<Sym>)> = Vec::new();
    for f in facts {
        let What::Touch { label, campaign } = f.what else {
            continue;
        };
        acc.touches += 1;
        touches.push((f.ts, label, campaign));
        let before = timeline
            .iter()
            .take_while(|(t, _, _)| *t <= f.ts)
            .last()
            .map(|x| x.1);
        let at = before.or_else(|| {
            timeline
                .iter()
                .find(|(_, _, s)| s.is_some() && *s == f.session)
                .map(|x| x.1)
        });
        acc.channel_stage.entry(label).or_default()[at.unwrap_or(5)] += 1;
        if let Some(c) = campaign {
            let ca = acc.campaigns.entry(c).or_default();
            ca.touches += 1;
            *ca.channels.entry(label).or_default() += 1;
        }
    }

    // Orders (repeats of an order_id ignored), attribution, journeys.
    let mut orders: Vec<(i64, Option<Sym>)> = Vec::new();
    for f in facts {
        let What::Order {
            id,
            revenue,
            currency,
        } = f.what
        else {
            continue;
        };
        if let Some(id) = id {
            if !acc.seen_orders.insert(id) {
                acc.duplicate_orders += 1;
                continue;
            }
        }
        acc.orders += 1;
        acc.revenue += revenue;
        if let Some(c) = currency {
            acc.currencies.insert(c);
        }
        if let Some(s) = f.session {
            acc.converted_sessions.insert(s);
        }
        let before: Vec<&(i64, Sym, Option<Sym>)> =
            touches.iter().take_while(|t| t.0 <= f.ts).collect();
        if orders.is_empty() {
            acc.converting += 1;
            let path = if before.is_empty() {
                Vec::new()
            } else {
                collapse(before.iter().map(|t| t.1))
            };
            *acc.paths_channel.entry(path).or_default() += 1;
            let stages = collapse(
                timeline
                    .iter()
                    .take_while(|(t, _, _)| *t <= f.ts)
                    .filter_map(|x| acc.stage_syms[x.1]),
            );
            *acc.paths_stage.entry(stages).or_default() += 1;
        }
        orders.push((f.ts, f.session));
        if before.is_empty() {
            let e = acc.attribution.entry(None).or_default();
            for m in 0..5 {
                e.0[m] += 1.0;
                e.1[m] += revenue;
            }
            continue;
        }
        let times: Vec<i64> = before.iter().map(|t| t.0).collect();
        let w = weights(&times, f.ts);
        for (i, t) in before.iter().enumerate() {
            let e = acc.attribution.entry(Some(t.1)).or_default();
            for (m, wm) in w.iter().enumerate() {
                e.0[m] += wm[i];
                e.1[m] += wm[i] * revenue;
            }
            if let Some(c) = t.2 {
                let ca = acc.campaigns.entry(c).or_default();
                ca.orders += w[2][i];
                ca.revenue += w[2][i] * revenue;
            }
        }
    }

    // Personalization, per session.
    let mut by_session: HashMap<Sym, Vec<&Fact>> = HashMap::new();
    for f in facts {
        if let (Some(s), What::PzView { .. } | What::PzClick { .. }) = (f.session, f.what) {
            by_session.entry(s).or_default().push(f);
        }
    }
    for (s, fs) in by_session {
        let mut seen: HashMap<(Sym, Sym), (i64, bool)> = HashMap::new();
        for f in &fs {
            match f.what {
                What::PzView {
                    slot,
                    rule,
                    variant,
                } => {
                    let a = acc.pz.entry((slot, rule)).or_default();
                    a.exposures += 1;
                    a.variants.insert(variant);
                    seen.entry((slot, rule)).or_insert((f.ts, false));
                }
                What::PzClick { slot, rule } => {
                    acc.pz.entry((slot, rule)).or_default().clicks += 1;
                    if let Some(e) = seen.get_mut(&(slot, rule)) {
                        e.1 = true;
                    }
                }
                _ => {}
            }
        }
        for (k, (first, clicked)) in seen {
            let a = acc.pz.entry(k).or_default();
            a.sessions += 1;
            a.clicked_sessions += u64::from(clicked);
            if orders.iter().any(|(t, os)| *os == Some(s) && *t >= first) {
                a.converted_sessions += 1;
            }
        }
    }

    // Experiments: the first exposure of each decides the group.
    let mut first: HashMap<Sym, (i64, Sym, bool)> = HashMap::new();
    for f in facts {
        if let What::ExpView {
            exp,
            variation,
            holdout,
        } = f.what
        {
            first.entry(exp).or_insert((f.ts, variation, holdout));
        }
    }
    for (exp, (ts, variation, holdout)) in first {
        let converted = orders.iter().any(|(t, _)| *t >= ts);
        let e = acc.experiments.entry(exp).or_default();
        e.visitors += 1;
        let g = if holdout {
            &mut e.holdout
        } else {
            e.variations.entry(variation).or_default()
        };
        g.visitors += 1;
        g.conversions += u64::from(converted);
    }

    // Carts: sessions with a Product Added.
    let mut carts: HashMap<Sym, i64> = HashMap::new();
    for f in facts {
        if let (What::CartAdd, Some(s)) = (f.what, f.session) {
            carts.entry(s).or_insert(f.ts);
        }
    }
    for (s, added) in carts {
        let in_session = orders.iter().any(|(t, os)| *os == Some(s) && *t >= added);
        let later = orders.iter().any(|(t, _)| *t > added);
        acc.carts.push((added, !in_session, !in_session && later));
    }

    // Quotes: an order or a sign-up within 7 days converts them.
    let signups: Vec<i64> = facts
        .iter()
        .filter(|f| f.what == What::SignUp)
        .map(|f| f.ts)
        .collect();
    for f in facts.iter().filter(|f| f.what == What::Quote) {
        let end = f.ts + QUOTE_WINDOW_MS;
        let within = |t: &i64| *t > f.ts && *t <= end;
        let converted = orders.iter().any(|(t, _)| within(t)) || signups.iter().any(within);
        let outcome = if converted {
            Some(true)
        } else if end > as_of {
            None
        } else {
            Some(false)
        };
        acc.quotes.push((f.ts, outcome));
    }
}

fn experiment(
    syms: &mut load::Interner,
    key: Sym,
    e: ExpAcc,
    settings: &Settings,
    notes: &mut Vec<String>,
) -> ExperimentReport {
    let id = syms.name(key).to_string();
    let spec = settings.experiments.get(&id);
    let mut ids: Vec<Sym> = Vec::new();
    let mut shares: Vec<f64> = Vec::new();
    let source;
    if let Some(spec) = spec {
        source = "config";
        for (i, v) in spec.variations.iter().enumerate() {
            ids.push(syms.id(v));
            shares.push(spec.weights.get(i).copied().unwrap_or(0.0));
        }
        let mut unknown: Vec<&str> = e
            .variations
            .keys()
            .filter(|v| !ids.contains(v))
            .map(|v| syms.name(*v))
            .collect();
        unknown.sort_unstable();
        if !unknown.is_empty() {
            notes.push(format!(
                "Experiment {id}: variations {} are not in the config and are left out.",
                unknown.join(", ")
            ));
        }
    } else {
        source = "events";
        let mut seen: Vec<Sym> = e.variations.keys().copied().collect();
        seen.sort_by(|a, b| {
            let (na, nb) = (syms.name(*a), syms.name(*b));
            let ca = !na.eq_ignore_ascii_case("control");
            let cb = !nb.eq_ignore_ascii_case("control");
            ca.cmp(&cb).then(na.cmp(nb))
        });
        if seen.len() > MAX_VARIATIONS {
            notes.push(format!(
                "Experiment {id}: {} variations, only the first {MAX_VARIATIONS} are shown.",
                seen.len()
            ));
            seen.truncate(MAX_VARIATIONS);
        }
        shares = vec![1.0; seen.len()];
        ids = seen;
    }
    let groups: Vec<Group> = ids
        .iter()
        .map(|v| e.variations.get(v).copied().unwrap_or_default())
        .collect();
    let control = groups.first().copied().unwrap_or_default();
    let variations: Vec<VariationRow> = ids
        .iter()
        .zip(&groups)
        .enumerate()
        .map(|(i, (v, g))| VariationRow {
            id: syms.name(*v).to_string(),
            visitors: g.visitors,
            conversions: g.conversions,
            rate: share(g.conversions, g.visitors),
            lift: (i > 0)
                .then(|| {
                    lift(
                        g.conversions,
                        g.visitors,
                        control.conversions,
                        control.visitors,
                    )
                })
                .flatten(),
        })
        .collect();
    let observed: Vec<u64> = groups.iter().map(|g| g.visitors).collect();
    let srm = srm(&observed, &shares);
    let holdout = (e.holdout.visitors > 0).then(|| VariationRow {
        id: "holdout".into(),
        visitors: e.holdout.visitors,
        conversions: e.holdout.conversions,
        rate: share(e.holdout.conversions, e.holdout.visitors),
        lift: None,
    });
    let (tv, tc) = groups
        .iter()
        .skip(1)
        .fold((0, 0), |(v, c), g| (v + g.visitors, c + g.conversions));
    let treatment_vs_holdout = holdout
        .as_ref()
        .and_then(|h| lift(tc, tv, h.conversions, h.visitors));
    let total: f64 = shares.iter().sum();
    ExperimentReport {
        control: variations.first().map_or(String::new(), |v| v.id.clone()),
        id,
        source: source.into(),
        variations,
        holdout,
        treatment_vs_holdout,
        srm,
        expected_shares: shares
            .iter()
            .map(|s| if total > 0.0 { s / total } else { 0.0 })
            .collect(),
    }
}

fn over_time(acc: &Acc, range: &Range, span: Option<(i64, i64)>) -> OverTime {
    let times = acc
        .carts
        .iter()
        .map(|c| c.0)
        .chain(acc.quotes.iter().map(|q| q.0));
    let (lo, hi) = match (range.from, range.to, span) {
        (Some(f), Some(t), _) => (f, t - 1),
        (f, t, Some((a, b))) => (f.unwrap_or(a), t.map_or(b, |t| t - 1)),
        (_, _, None) => match (times.clone().min(), times.max()) {
            (Some(a), Some(b)) => (a, b),
            _ => return OverTime::default(),
        },
    };
    let (d0, d1) = (lo.div_euclid(DAY_MS), hi.div_euclid(DAY_MS));
    let weekly = d1 - d0 + 1 > MAX_DAYS;
    // 1970-01-01 was a Thursday: day 4 of the week starting on Monday 0.
    let start_of = |day: i64| {
        if weekly {
            day - (day + 3).rem_euclid(7)
        } else {
            day
        }
    };
    let step = if weekly { 7 } else { 1 };
    let first = start_of(d0);
    let n = ((start_of(d1) - first) / step + 1).max(0) as usize;
    let mut rows: Vec<PeriodRow> = (0..n)
        .map(|i| PeriodRow {
            start: day_text((first + i as i64 * step) * DAY_MS),
            ..PeriodRow::default()
        })
        .collect();
    let slot = |ts: i64| -> Option<usize> {
        let i = (start_of(ts.div_euclid(DAY_MS)) - first) / step;
        usize::try_from(i).ok().filter(|i| *i < n)
    };
    for &(ts, abandoned, recovered) in &acc.carts {
        if let Some(r) = slot(ts).and_then(|i| rows.get_mut(i)) {
            r.carts += 1;
            r.abandoned += u64::from(abandoned);
            r.recovered += u64::from(recovered);
        }
    }
    for &(ts, outcome) in &acc.quotes {
        if let Some(r) = slot(ts).and_then(|i| rows.get_mut(i)) {
            r.quotes += 1;
            match outcome {
                Some(true) => r.quotes_converted += 1,
                Some(false) => r.quotes_unconverted += 1,
                None => r.quotes_pending += 1,
            }
        }
    }
    OverTime {
        period: if weekly { "week" } else { "day" }.into(),
        rows,
    }
}
