//! The journey report: what the collected events say about how visitors
//! travel towards an order, which channels and touchpoints bring them, and
//! whether personalization and experiments move them.
//!
//! `sillage-collector report --db events.db --out report.html` writes it as
//! one self-contained HTML file (inline CSS and SVG, no script, no external
//! URL); the same numbers are a JSON value for other tools.
//!
//! The pieces:
//! - [`load`]: the one SQL query the report runs (so it can be pointed at a
//!   warehouse) and the narrow facts it keeps;
//! - [`compute`]: funnel, transitions, typical journeys, channels by stage,
//!   attribution (five models), personalization, experiments (lift with a
//!   95% interval, sample-ratio mismatch), carts and quotes over time;
//! - [`stats`]: the chi-square distribution and the lift interval;
//! - [`html`]: the page, every string from the data escaped;
//! - [`range`]: `from`/`to` parsing;
//! - [`fixture`]: the seeded data generator for tests and benchmarks;
//! - [`cli`]: the `report` and `fixture` subcommands.
//!
//! Wiring the HTTP routes (`/report`, `/v1/report`) is a few lines:
//! `RangeQuery::range()` (400 on error), [`build`] on the connection, then
//! [`html()`] or [`json`].

use std::collections::BTreeMap;

use rusqlite::Connection;
use serde::Serialize;
use serde_json::Value;

pub mod cli;
pub mod compute;
pub mod fixture;
pub mod html;
pub mod load;
pub mod range;
pub mod stats;

pub use load::{migrate, SQL};
pub use range::{Range, RangeError, RangeQuery};
pub use stats::{Lift, Srm};

/// What the report knows beyond the events: each experiment's variations
/// (control first) and weights, from the site's config.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settings {
    /// By experiment key.
    pub experiments: BTreeMap<String, ExperimentSpec>,
}

/// An experiment as configured.
#[derive(Clone, Debug, PartialEq)]
pub struct ExperimentSpec {
    /// Variation ids, the control first.
    pub variations: Vec<String>,
    /// Weight of each variation.
    pub weights: Vec<f64>,
}

impl Settings {
    /// The experiments of a Sillage config document (`rules[].experiment`),
    /// read by the SDK's own parser; the config's problems are returned as
    /// `path: message` lines (the experiments that parse are kept).
    pub fn from_config(doc: &Value) -> (Settings, Vec<String>) {
        let Ok(json) = serde_json::from_value::<sillage_core::support::json::Json>(doc.clone())
        else {
            return (
                Settings::default(),
                vec!["config: not a JSON document".into()],
            );
        };
        let host = sillage_core::native_js::NativeJs::new();
        let (cfg, diags) = sillage_core::config::parse(&json, &host);
        let mut s = Settings::default();
        for rule in &cfg.rules.rules {
            if let Some(e) = &rule.experiment {
                s.experiments.insert(
                    e.key.clone(),
                    ExperimentSpec {
                        variations: e.variations.iter().map(|v| v.id.clone()).collect(),
                        weights: e.weights.clone(),
                    },
                );
            }
        }
        (s, diags.iter().map(|d| d.render()).collect())
    }
}

/// Everything the report shows, as numbers.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The range covered (`to` exclusive), ISO-8601 UTC; `None` is open.
    pub from: Option<String>,
    /// See `from`.
    pub to: Option<String>,
    /// The first and last event time in the range.
    pub first_event: Option<String>,
    /// See `first_event`.
    pub last_event: Option<String>,
    /// Totals of the range.
    pub totals: Totals,
    /// Visitors who ever reached each stage.
    pub funnel: Vec<FunnelStep>,
    /// Stage-to-stage changes.
    pub transitions: Vec<Transition>,
    /// The most frequent paths to a first order.
    pub journeys: Journeys,
    /// Touches by channel and the stage the visitor was in.
    pub channels_by_stage: ChannelsByStage,
    /// Campaigns with their touches and linear credit.
    pub campaigns: Vec<CampaignRow>,
    /// Conversion credit by channel under five models.
    pub attribution: Attribution,
    /// Exposures, clicks and in-session conversion per slot and rule.
    pub personalization: Personalization,
    /// Each experiment.
    pub experiments: Vec<ExperimentReport>,
    /// Carts and quotes over time.
    pub over_time: OverTime,
    /// What the reader should know (mixed currencies, unknown names...).
    pub notes: Vec<String>,
}

/// Totals of the range.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    /// Rows in the range.
    pub events: u64,
    /// Rows without a readable timestamp or any id (left out).
    pub skipped_events: u64,
    /// Distinct visitors (anonymousId, joined by userId).
    pub visitors: u64,
    /// Distinct sessions.
    pub sessions: u64,
    /// Landings with a touchpoint.
    pub touches: u64,
    /// Orders (de-duplicated by order_id).
    pub orders: u64,
    /// Visitors with at least one order.
    pub converting_visitors: u64,
    /// Sum of the orders' revenue.
    pub revenue: f64,
    /// The currencies seen on orders.
    pub currencies: Vec<String>,
}

/// One funnel step.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunnelStep {
    /// Stage name.
    pub stage: String,
    /// Visitors who were ever in it (as `from` or `to` of a stage change).
    pub visitors: u64,
    /// `visitors` over all visitors of the range.
    pub share: f64,
}

/// A stage-to-stage change.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Transition {
    /// Stage left.
    pub from: String,
    /// Stage entered.
    pub to: String,
    /// How many changes.
    pub count: u64,
    /// Median time spent in `from` before the change, when the change into
    /// `from` is in the range.
    pub median_ms: Option<f64>,
}

/// Typical journeys to a first order.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Journeys {
    /// Visitors whose first order in the range is counted.
    pub converting_visitors: u64,
    /// The 10 most frequent channel sequences (repeats collapsed).
    pub by_channel: Vec<PathRow>,
    /// The 10 most frequent stage sequences.
    pub by_stage: Vec<PathRow>,
}

/// A path and how often it led to a first order.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PathRow {
    /// The steps, in order.
    pub steps: Vec<String>,
    /// Converting visitors who took it.
    pub visitors: u64,
    /// Over all converting visitors.
    pub share: f64,
}

/// Touches by channel, split by the stage the visitor was in.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelsByStage {
    /// Column names: the stages, then `(no stage)`.
    pub stages: Vec<String>,
    /// One row per channel, most touches first.
    pub rows: Vec<ChannelStageRow>,
}

/// A channel's touches per stage.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelStageRow {
    /// Channel label.
    pub channel: String,
    /// Touches per stage column.
    pub touches: Vec<u64>,
    /// All its touches.
    pub total: u64,
}

/// A campaign's touches and linear credit.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CampaignRow {
    /// Campaign name.
    pub campaign: String,
    /// Its channel (the most frequent one).
    pub channel: String,
    /// Touches.
    pub touches: u64,
    /// Orders credited under the linear model.
    pub linear_orders: f64,
    /// Revenue credited under the linear model.
    pub linear_revenue: f64,
}

/// The attribution models, in report order.
pub const MODELS: [&str; 5] = [
    "first-touch",
    "last-touch",
    "linear",
    "position-based",
    "time-decay",
];

/// Conversion credit by channel.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attribution {
    /// Model names ([`MODELS`]).
    pub models: Vec<String>,
    /// Orders attributed.
    pub orders: u64,
    /// Their revenue.
    pub revenue: f64,
    /// One row per channel, most linear credit first.
    pub rows: Vec<AttributionRow>,
}

/// A channel's credit under each model.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttributionRow {
    /// Channel label (`(no touchpoint)` for orders without one).
    pub channel: String,
    /// Orders credited, per model.
    pub orders: Vec<f64>,
    /// Share of all orders, per model.
    pub share: Vec<f64>,
    /// Revenue credited, per model.
    pub revenue: Vec<f64>,
}

/// Personalization per slot and rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Personalization {
    /// Sessions in the range.
    pub sessions: u64,
    /// Sessions with an order.
    pub converted_sessions: u64,
    /// `converted_sessions / sessions`.
    pub conversion_rate: f64,
    /// One row per slot and rule, most exposures first.
    pub rows: Vec<PersonalizationRow>,
}

/// A slot and rule.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PersonalizationRow {
    /// Slot name.
    pub slot: String,
    /// Rule id.
    pub rule_id: String,
    /// Variant labels shown.
    pub variants: Vec<String>,
    /// `Personalization Viewed` events.
    pub exposures: u64,
    /// Sessions with an exposure.
    pub sessions: u64,
    /// Clicks in the slot (events carrying its slot and rule_id).
    pub clicks: u64,
    /// Exposed sessions with a click.
    pub clicked_sessions: u64,
    /// Exposed sessions with an order after the first exposure.
    pub converted_sessions: u64,
    /// `converted_sessions / sessions`.
    pub conversion_rate: f64,
}

/// One experiment.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExperimentReport {
    /// `experiment_id`.
    pub id: String,
    /// The variation taken as the control.
    pub control: String,
    /// Where the control and the expected split come from: `config` or
    /// `events`.
    pub source: String,
    /// Variations, the control first (holdout visitors excluded).
    pub variations: Vec<VariationRow>,
    /// The holdout.
    pub holdout: Option<VariationRow>,
    /// The non-control variations pooled, against the holdout.
    pub treatment_vs_holdout: Option<Lift>,
    /// Sample-ratio-mismatch check over the variations.
    pub srm: Option<Srm>,
    /// The shares the SRM check expects.
    pub expected_shares: Vec<f64>,
}

/// A variation's visitors and conversions.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VariationRow {
    /// `variation_id` (`holdout` for the holdout row).
    pub id: String,
    /// Exposed visitors.
    pub visitors: u64,
    /// Of them, with an order after the first exposure.
    pub conversions: u64,
    /// `conversions / visitors`.
    pub rate: f64,
    /// Relative lift over the control, with its 95% interval.
    pub lift: Option<Lift>,
}

/// Carts and quotes per day (or week).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OverTime {
    /// `day` or `week` (weeks start on Monday).
    pub period: String,
    /// One row per period, oldest first.
    pub rows: Vec<PeriodRow>,
}

/// One day (or week).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PeriodRow {
    /// First day, `YYYY-MM-DD`.
    pub start: String,
    /// Sessions with a `Product Added`.
    pub carts: u64,
    /// Of them, without an order later in the session.
    pub abandoned: u64,
    /// Of the abandoned, the visitor ordered later anyway.
    pub recovered: u64,
    /// `Quote Requested`.
    pub quotes: u64,
    /// Followed by an order or sign-up within 7 days.
    pub quotes_converted: u64,
    /// 7 days passed without one.
    pub quotes_unconverted: u64,
    /// Less than 7 days of data after the quote.
    pub quotes_pending: u64,
}

/// Builds the report for a range, with no knowledge beyond the events.
pub fn build(db: &Connection, range: &Range) -> Result<Report, String> {
    build_with(db, range, &Settings::default())
}

/// Builds the report for a range, with the experiments' config.
pub fn build_with(db: &Connection, range: &Range, settings: &Settings) -> Result<Report, String> {
    let facts = load::Facts::load(db, range).map_err(|e| format!("report query: {e}"))?;
    Ok(compute::compute(facts, range, settings))
}

/// The report as a self-contained HTML page.
pub fn html(report: &Report) -> String {
    html::render(report)
}

/// The report as JSON.
pub fn json(report: &Report) -> Value {
    serde_json::to_value(report).unwrap_or(Value::Null)
}
