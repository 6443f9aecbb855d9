//! The report as one self-contained HTML page: inline CSS and SVG, no
//! script, no external URL, readable without JavaScript and printable.
//!
//! Every string that comes from the events (channel, campaign, slot, rule,
//! variant, experiment and variation names) is attacker-controlled: it goes
//! through [`esc`] and nowhere else (never into a URL, a style or an
//! attribute other than a quoted `title`). Colours are computed from known
//! names or from a hash, never copied from the data.

use std::fmt::Write;

use super::compute::{NO_STAGE, NO_TOUCH, OTHER};
use super::stats::{Lift, SRM_ALPHA, Z95};
use super::*;

/// Escapes text for HTML element content and quoted attribute values (also
/// inside inline SVG).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Escapes and shortens to `max` characters (the full text stays in a
/// `title` where the caller puts one).
fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return esc(s);
    }
    let cut: String = s.chars().take(max.saturating_sub(1)).collect();
    esc(&format!("{cut}…"))
}

/// `12,345`.
pub fn int(n: u64) -> String {
    let digits: Vec<char> = n.to_string().chars().rev().collect();
    let mut out = String::new();
    for (i, group) in digits.chunks(3).enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.extend(group);
    }
    out.chars().rev().collect()
}

/// `12.3%` (one decimal below 10%, none above 99.5% of a whole).
pub fn pct(x: f64) -> String {
    if !x.is_finite() {
        return "–".into();
    }
    let p = x * 100.0;
    if p != 0.0 && p.abs() < 10.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.0}%")
    }
}

/// A signed percentage: `+12.3%`, `−4.0%`.
fn signed_pct(x: f64) -> String {
    let p = x * 100.0;
    if p >= 0.0 {
        format!("+{p:.1}%")
    } else {
        format!("−{:.1}%", -p)
    }
}

/// Orders credited: whole numbers as such, else one decimal.
fn credit(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 || x >= 100.0 {
        int(x.round() as u64)
    } else {
        format!("{x:.1}")
    }
}

/// Money with the currency when there is exactly one.
fn money(x: f64, currencies: &[String]) -> String {
    let whole = int(x.max(0.0).round() as u64);
    match currencies {
        [c] => match c.to_ascii_uppercase().as_str() {
            "EUR" => format!("€{whole}"),
            "USD" => format!("${whole}"),
            "GBP" => format!("£{whole}"),
            _ => format!("{whole} {}", short(c, 6)),
        },
        _ => whole,
    }
}

/// `45 s`, `12 min`, `3.4 h`, `2.1 d`.
pub fn duration(ms: f64) -> String {
    let s = ms / 1000.0;
    if s < 60.0 {
        format!("{s:.0} s")
    } else if s < 3600.0 {
        format!("{:.0} min", s / 60.0)
    } else if s < 86_400.0 {
        format!("{:.1} h", s / 3600.0)
    } else {
        format!("{:.1} d", s / 86_400.0)
    }
}

/// `2026-11-02` to `2 Nov 2026`.
fn nice_date(iso: &str) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (Some(y), Some(m), Some(d)) = (iso.get(0..4), iso.get(5..7), iso.get(8..10)) else {
        return esc(iso);
    };
    let m: usize = m.parse().unwrap_or(0);
    let d: u32 = d.parse().unwrap_or(0);
    match MONTHS.get(m.wrapping_sub(1)) {
        Some(name) => format!("{d} {name} {y}"),
        None => esc(iso),
    }
}

/// A colour for a channel label: fixed for the known groups, hashed
/// (from a small palette) for the rest.
fn channel_colour(label: &str) -> &'static str {
    const PALETTE: [&str; 8] = [
        "#0f766e", "#a16207", "#be123c", "#4338ca", "#15803d", "#c2410c", "#0369a1", "#7e22ce",
    ];
    match label {
        "Direct" => "#64748b",
        "Organic Search" => "#16a34a",
        "Paid Search" => "#2563eb",
        "Email" => "#d97706",
        "Organic Social" => "#db2777",
        "Paid Social" => "#9333ea",
        "Referral" => "#0891b2",
        "Affiliates" => "#65a30d",
        "Display" => "#7c3aed",
        "AI Assistant" => "#0d9488",
        "Organic Video" | "Paid Video" => "#dc2626",
        "SMS" | "Mobile Push" => "#ea580c",
        NO_TOUCH | OTHER => "#94a3b8",
        l if l.starts_with("Offline") => match l {
            "Offline · QR code" => "#92400e",
            "Offline · store" => "#b45309",
            "Offline · print" => "#a16207",
            _ => "#78350f",
        },
        l => {
            let h = l.bytes().fold(2_166_136_261u32, |h, b| {
                (h ^ u32::from(b)).wrapping_mul(16_777_619)
            });
            PALETTE[(h % PALETTE.len() as u32) as usize]
        }
    }
}

/// A channel's name with its colour dot, shortened, the full name in the
/// cell's `title`.
fn channel_cell(label: &str, class: &str) -> String {
    format!(
        "<td{class} title=\"{}\"><span class=\"dot\" style=\"background:{}\"></span>{}</td>",
        esc(label),
        channel_colour(label),
        short(label, 32)
    )
}

const STAGE_COLOURS: [&str; 5] = ["#7dd3fc", "#38bdf8", "#0ea5e9", "#0369a1", "#1e3a8a"];

fn stage_colour(name: &str) -> &'static str {
    match STAGES.iter().position(|s| *s == name) {
        Some(i) => STAGE_COLOURS[i],
        None => "#94a3b8",
    }
}

/// `post_purchase` to `Post-purchase`.
fn stage_label(name: &str) -> String {
    match name {
        "discovery" => "Discovery".into(),
        "consideration" => "Consideration".into(),
        "purchase" => "Purchase".into(),
        "post_purchase" => "Post-purchase".into(),
        "loyalty" => "Loyalty".into(),
        other => esc(other),
    }
}

use super::load::STAGES;

const CSS: &str = r#"
:root{--ink:#0f172a;--muted:#64748b;--line:#e2e8f0;--bg:#f5f7fa;--card:#fff;--accent:#2563eb;--good:#15803d;--warn:#b45309;--bad:#b91c1c}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;-webkit-font-smoothing:antialiased}
main{max-width:1120px;margin:0 auto;padding:28px 24px 48px}
header h1{font-size:26px;margin:0 0 2px;letter-spacing:-.01em}
header .sub{color:var(--muted);margin:0 0 18px}
.kpis{display:grid;grid-template-columns:repeat(6,1fr);gap:12px;margin-bottom:18px}
.kpi{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 14px}
.kpi b{display:block;font-size:22px;font-variant-numeric:tabular-nums;letter-spacing:-.01em}
.kpi span{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
section{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:18px 20px 16px;margin:0 0 18px;break-inside:avoid}
section h2{font-size:17px;margin:0 0 2px}
section p.how{color:var(--muted);margin:0 0 12px;font-size:12.5px;max-width:900px}
h3{font-size:14px;margin:14px 0 6px}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:22px}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:6px 8px;border-bottom:1px solid var(--line);text-align:right;vertical-align:middle}
th{font-size:11.5px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);font-weight:600}
th:first-child,td:first-child{text-align:left}
td.l,th.l{text-align:left}
tr:last-child td{border-bottom:0}
.dot{display:inline-block;width:9px;height:9px;border-radius:50%;margin-right:6px;vertical-align:0}
.chip{display:inline-block;padding:1px 8px;border-radius:999px;font-size:12px;color:#fff;white-space:nowrap;margin:1px 0}
.arrow{color:var(--muted);margin:0 3px}
.bar{height:6px;background:#e2e8f0;border-radius:3px;margin-top:3px;overflow:hidden}
.bar i{display:block;height:100%;background:var(--accent);border-radius:3px}
.small{font-size:11.5px;color:var(--muted)}
.heat td{text-align:center}
.heat td:first-child{text-align:left}
.badge{display:inline-block;font-size:11.5px;font-weight:600;padding:2px 8px;border-radius:999px;margin-left:8px;vertical-align:2px}
.ok{background:#dcfce7;color:var(--good)}
.alert{background:#fee2e2;color:var(--bad)}
.warnbox{background:#fff7ed;border:1px solid #fed7aa;color:#9a3412;border-radius:8px;padding:8px 12px;margin:8px 0}
.exp{border-top:1px solid var(--line);padding-top:10px;margin-top:10px}
.expt{table-layout:fixed}
.expt th:nth-child(1){width:20%}.expt th:nth-child(2),.expt th:nth-child(3),.expt th:nth-child(4){width:10%}.expt th:nth-child(5){width:22%}
.expt td{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.exp:first-of-type{border-top:0;margin-top:0;padding-top:0}
.legend{display:flex;gap:14px;flex-wrap:wrap;font-size:12px;color:var(--muted);margin:4px 0 6px}
.legend span i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;vertical-align:-1px}
.empty{color:var(--muted);font-style:italic;margin:6px 0}
details{margin-top:8px}
summary{cursor:pointer;color:var(--accent);font-size:12.5px}
svg{display:block;width:100%;height:auto}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif}
footer{color:var(--muted);font-size:12px;margin-top:8px}
footer ul{padding-left:18px}
@media (max-width:800px){.kpis{grid-template-columns:repeat(3,1fr)}.grid2{grid-template-columns:1fr}}
@media print{body{background:#fff}section{border-color:#cbd5e1}}
"#;

/// Renders the page.
pub fn render(r: &Report) -> String {
    let mut h = String::with_capacity(64 * 1024);
    let range = range_text(r);
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
<title>Journey report · {range}</title><style>{CSS}</style></head><body><main>"
    );
    header(&mut h, r, &range);
    funnel(&mut h, r);
    flow(&mut h, r);
    journeys(&mut h, r);
    channels(&mut h, r);
    attribution(&mut h, r);
    personalization(&mut h, r);
    experiments(&mut h, r);
    over_time(&mut h, r);
    footer(&mut h, r);
    h.push_str("</main></body></html>\n");
    h
}

fn range_text(r: &Report) -> String {
    let day = |s: &Option<String>| s.as_deref().map(|s| nice_date(s.get(0..10).unwrap_or(s)));
    // `to` is exclusive: show the last included day when it is midnight.
    let to = r.to.as_deref().map(|t| {
        match (
            t.ends_with("T00:00:00.000Z"),
            t.get(0..10).and_then(range::parse_date),
        ) {
            (true, Some(d)) => nice_date(&range::day_text((d - 1) * range::DAY_MS)),
            _ => nice_date(t.get(0..10).unwrap_or(t)),
        }
    });
    let from = day(&r.from).or_else(|| day(&r.first_event));
    let to = to.or_else(|| day(&r.last_event));
    match (from, to) {
        (Some(f), Some(t)) if f == t => f,
        (Some(f), Some(t)) => format!("{f} – {t}"),
        _ => "no events".into(),
    }
}

fn header(h: &mut String, r: &Report, range: &str) {
    let t = &r.totals;
    let _ = write!(
        h,
        "<header><h1>Journey report</h1><p class=\"sub\">{range} · {} events · computed from the \
collected events by sillage-collector</p></header><div class=\"kpis\">",
        int(t.events)
    );
    let conv = if t.visitors > 0 {
        t.converting_visitors as f64 / t.visitors as f64
    } else {
        0.0
    };
    for (v, label) in [
        (int(t.visitors), "Visitors"),
        (int(t.sessions), "Sessions"),
        (int(t.touches), "Touchpoints"),
        (int(t.orders), "Orders"),
        (pct(conv), "Converted"),
        (money(t.revenue, &t.currencies), "Revenue"),
    ] {
        let _ = write!(h, "<div class=\"kpi\"><b>{v}</b><span>{label}</span></div>");
    }
    h.push_str("</div>");
}

fn section(h: &mut String, id: &str, title: &str, how: &str) {
    let _ = write!(
        h,
        "<section id=\"{id}\"><h2>{title}</h2><p class=\"how\">{how}</p>"
    );
}

fn funnel(h: &mut String, r: &Report) {
    section(
        h,
        "funnel",
        "Funnel: visitors per journey stage",
        "Visitors who were ever in each stage (from <code>Journey Stage Changed</code>: the \
stage they left or entered), as a share of all visitors of the period. A visitor can skip \
or revisit stages, so a later stage is not always smaller.",
    );
    let all = r.totals.visitors;
    let mut rows: Vec<(String, u64, &str)> = vec![("All visitors".into(), all, "#cbd5e1")];
    for s in &r.funnel {
        rows.push((stage_label(&s.stage), s.visitors, stage_colour(&s.stage)));
    }
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1);
    let (w, row_h, left, bar_w) = (1040.0, 34.0, 150.0, 720.0);
    let height = row_h * rows.len() as f64 + 8.0;
    let _ = write!(
        h,
        "<svg viewBox=\"0 0 {w} {height}\" role=\"img\" aria-label=\"Funnel\">"
    );
    for (i, (label, n, colour)) in rows.iter().enumerate() {
        let y = 4.0 + i as f64 * row_h;
        let bw = (*n as f64 / max as f64 * bar_w).max(if *n > 0 { 2.0 } else { 0.0 });
        let share = if all > 0 { *n as f64 / all as f64 } else { 0.0 };
        let _ = write!(
            h,
            "<text x=\"{tx}\" y=\"{ty}\" font-size=\"13\" text-anchor=\"end\" fill=\"#0f172a\">{label}</text>\
<rect x=\"{left}\" y=\"{y}\" width=\"{bar_w}\" height=\"{bh}\" rx=\"5\" fill=\"#f1f5f9\"/>\
<rect x=\"{left}\" y=\"{y}\" width=\"{bw:.1}\" height=\"{bh}\" rx=\"5\" fill=\"{colour}\"/>\
<text x=\"{vx:.1}\" y=\"{ty}\" font-size=\"13\" fill=\"#0f172a\"><tspan font-weight=\"600\">{n}</tspan>\
<tspan fill=\"#64748b\"> · {share}</tspan></text>",
            tx = left - 12.0,
            ty = y + 17.5,
            bh = row_h - 10.0,
            vx = left + bar_w + 10.0,
            n = int(*n),
            share = pct(share),
        );
    }
    h.push_str("</svg></section>");
}

fn flow(h: &mut String, r: &Report) {
    section(
        h,
        "flow",
        "Stage-to-stage transitions",
        "Every change of a visitor's likely stage. Arrows above go forward, arrows below go \
back; the thicker, the more visitors. Labels give the count and the median time spent in \
the stage before moving on (when the visitor's change into it is in the period).",
    );
    if r.transitions.is_empty() {
        h.push_str("<p class=\"empty\">No stage changes in this period.</p></section>");
        return;
    }
    let xs: Vec<f64> = (0..5).map(|i| 110.0 + i as f64 * 205.0).collect();
    let idx = |s: &str| STAGES.iter().position(|x| *x == s);
    let arc = |span: f64| 26.0 + 34.0 * span;
    let (mut up, mut down) = (0.0f64, 0.0f64);
    for t in &r.transitions {
        if let (Some(a), Some(b)) = (idx(&t.from), idx(&t.to)) {
            let span = (a as f64 - b as f64).abs();
            if b > a {
                up = up.max(arc(span));
            } else {
                down = down.max(arc(span));
            }
        }
    }
    let (bw, bh) = (156.0, 56.0);
    let cy = bh / 2.0 + up + 14.0;
    let height = cy + bh / 2.0 + down + 14.0;
    let max = r
        .transitions
        .iter()
        .map(|t| t.count)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let _ = write!(
        h,
        "<svg viewBox=\"0 0 1040 {height:.0}\" role=\"img\" aria-label=\"Stage transitions\">\
<defs><marker id=\"ah\" viewBox=\"0 0 10 10\" refX=\"7\" refY=\"5\" markerUnits=\"userSpaceOnUse\" markerWidth=\"14\" markerHeight=\"14\" orient=\"auto\">\
<path d=\"M0,0L10,5L0,10z\" fill=\"#475569\"/></marker></defs>"
    );
    let mut labels = String::new();
    for t in &r.transitions {
        let (Some(a), Some(b)) = (idx(&t.from), idx(&t.to)) else {
            continue;
        };
        let span = (a as f64 - b as f64).abs();
        let height = arc(span);
        let width = 2.0 + 14.0 * (t.count as f64 / max).sqrt();
        let forward = b > a;
        let (x1, x2, y, dir) = if forward {
            (xs[a] + 24.0, xs[b] - 24.0, cy - bh / 2.0, -1.0)
        } else {
            (xs[a] - 24.0, xs[b] + 24.0, cy + bh / 2.0, 1.0)
        };
        let xm = (x1 + x2) / 2.0;
        let colour = if forward { "#0ea5e9" } else { "#f97316" };
        let _ = write!(
            h,
            "<path d=\"M{x1:.1},{y:.1} Q{xm:.1},{cy2:.1} {x2:.1},{y:.1}\" fill=\"none\" stroke=\"{colour}\" \
stroke-opacity=\".55\" stroke-width=\"{width:.1}\" stroke-linecap=\"round\" marker-end=\"url(#ah)\"><title>{from} → {to}: {n}</title></path>",
            cy2 = y + dir * 2.0 * height,
            from = stage_label(&t.from),
            to = stage_label(&t.to),
            n = int(t.count),
        );
        let ly = y + dir * height;
        let text = match t.median_ms {
            Some(ms) => format!("{} · {}", int(t.count), duration(ms)),
            None => int(t.count),
        };
        let tw = text.chars().count() as f64 * 6.6 + 12.0;
        let _ = write!(
            labels,
            "<rect x=\"{rx:.1}\" y=\"{ry:.1}\" width=\"{tw:.1}\" height=\"18\" rx=\"9\" fill=\"#fff\" stroke=\"{colour}\" stroke-width=\"1\"/>\
<text x=\"{xm:.1}\" y=\"{ty:.1}\" font-size=\"11.5\" text-anchor=\"middle\" fill=\"#0f172a\">{text}</text>",
            rx = xm - tw / 2.0,
            ry = ly - 9.0,
            ty = ly + 4.0,
        );
    }
    for (i, s) in STAGES.iter().enumerate() {
        let n = r.funnel.get(i).map_or(0, |f| f.visitors);
        let _ = write!(
            h,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw}\" height=\"{bh}\" rx=\"10\" fill=\"{c}\"/>\
<text x=\"{cx:.1}\" y=\"{t1:.1}\" font-size=\"14\" font-weight=\"600\" text-anchor=\"middle\" fill=\"{fg}\">{label}</text>\
<text x=\"{cx:.1}\" y=\"{t2:.1}\" font-size=\"12\" text-anchor=\"middle\" fill=\"{fg}\">{n} visitors</text>",
            x = xs[i] - bw / 2.0,
            y = cy - bh / 2.0,
            c = STAGE_COLOURS[i],
            cx = xs[i],
            t1 = cy - 3.0,
            t2 = cy + 15.0,
            fg = if i >= 2 { "#fff" } else { "#0c4a6e" },
            label = stage_label(s),
            n = int(n),
        );
    }
    h.push_str(&labels);
    h.push_str("</svg><details><summary>All transitions as a table</summary><table><tr><th>From</th><th class=\"l\">To</th><th>Changes</th><th>Median time in the stage before</th></tr>");
    for t in &r.transitions {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td></tr>",
            stage_label(&t.from),
            stage_label(&t.to),
            int(t.count),
            t.median_ms.map_or("–".into(), duration)
        );
    }
    h.push_str("</table></details></section>");
}

fn chips(steps: &[String], stage: bool) -> String {
    let mut out = String::new();
    for (i, s) in steps.iter().enumerate() {
        if i > 0 {
            out.push_str("<span class=\"arrow\">→</span>");
        }
        let (bg, text) = if stage {
            (stage_colour(s), stage_label(s))
        } else {
            (channel_colour(s), short(s, 28))
        };
        let fg = if stage && STAGES.iter().position(|x| x == s).is_some_and(|i| i < 2) {
            "#0c4a6e"
        } else {
            "#fff"
        };
        let _ = write!(
            out,
            "<span class=\"chip\" style=\"background:{bg};color:{fg}\" title=\"{}\">{text}</span>",
            esc(s)
        );
    }
    out
}

fn journeys(h: &mut String, r: &Report) {
    let j = &r.journeys;
    section(
        h,
        "journeys",
        "Typical journeys to a first order",
        &format!(
            "For the {} visitors whose first order is in the period: the touchpoints (channels, \
repeats in a row collapsed) and the stages they went through before it. The 10 most frequent \
paths, with their share of those visitors.",
            int(j.converting_visitors)
        ),
    );
    if j.converting_visitors == 0 {
        h.push_str("<p class=\"empty\">No orders in this period.</p></section>");
        return;
    }
    h.push_str("<div class=\"grid2\">");
    for (title, rows, stage) in [
        ("By channel", &j.by_channel, false),
        ("By stage", &j.by_stage, true),
    ] {
        // Bars on the table's own scale: the most frequent path is full.
        let top = rows.iter().map(|p| p.share).fold(1e-9, f64::max);
        let _ = write!(
            h,
            "<div><h3>{title}</h3><table><tr><th>Path</th><th>Visitors</th><th>Share</th></tr>"
        );
        for p in rows {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td style=\"width:90px\">{}<div class=\"bar\"><i style=\"width:{:.1}%\"></i></div></td></tr>",
                chips(&p.steps, stage),
                int(p.visitors),
                pct(p.share),
                (p.share / top * 100.0).clamp(0.0, 100.0)
            );
        }
        h.push_str("</table></div>");
    }
    h.push_str("</div></section>");
}

fn channels(h: &mut String, r: &Report) {
    let c = &r.channels_by_stage;
    section(
        h,
        "channels",
        "Channels by stage",
        "Touchpoints (landings) by channel and by the stage the visitor was in when they \
arrived; offline touchpoints (QR codes, stores, print) are split by kind. A new visitor's \
first touch counts in the first stage their profile announced in that session.",
    );
    if c.rows.is_empty() {
        h.push_str("<p class=\"empty\">No touchpoints in this period.</p>");
    } else {
        let max = c
            .rows
            .iter()
            .flat_map(|r| r.touches.iter())
            .copied()
            .max()
            .unwrap_or(1)
            .max(1) as f64;
        h.push_str("<table class=\"heat\"><tr><th>Channel</th>");
        for s in &c.stages {
            let label = if s == NO_STAGE {
                "No stage yet".into()
            } else {
                stage_label(s)
            };
            let _ = write!(h, "<th>{label}</th>");
        }
        h.push_str("<th>Total</th></tr>");
        for row in &c.rows {
            let _ = write!(h, "<tr>{}", channel_cell(&row.channel, ""));
            for n in &row.touches {
                let a = if *n == 0 {
                    0.0
                } else {
                    0.07 + 0.83 * (*n as f64 / max).sqrt()
                };
                let fg = if a > 0.5 { "#fff" } else { "#0f172a" };
                let _ = write!(
                    h,
                    "<td style=\"background:rgba(14,116,144,{a:.2});color:{fg}\">{}</td>",
                    if *n == 0 { "·".into() } else { int(*n) }
                );
            }
            let _ = write!(h, "<td><b>{}</b></td></tr>", int(row.total));
        }
        h.push_str("</table>");
    }
    if !r.campaigns.is_empty() {
        h.push_str("<h3>Top campaigns</h3><table><tr><th>Campaign</th><th class=\"l\">Channel</th><th>Touches</th><th>Orders (linear)</th><th>Revenue (linear)</th></tr>");
        for k in &r.campaigns {
            let _ = write!(
                h,
                "<tr><td title=\"{}\">{}</td>{}<td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&k.campaign),
                short(&k.campaign, 40),
                channel_cell(&k.channel, " class=\"l\""),
                int(k.touches),
                credit(k.linear_orders),
                money(k.linear_revenue, &r.totals.currencies)
            );
        }
        h.push_str("</table>");
    }
    h.push_str("</section>");
}

fn attribution(h: &mut String, r: &Report) {
    let a = &r.attribution;
    section(
        h,
        "attribution",
        "Conversion attribution by channel",
        &format!(
            "Each of the {} orders ({} revenue) is shared between the visitor's touchpoints at or \
before it. <b>First-touch</b> and <b>last-touch</b> give it all to one; <b>linear</b> shares \
it equally; <b>position-based</b> gives 40% to the first, 40% to the last and 20% to those \
between; <b>time-decay</b> weighs each touch by ½ per 7 days before the order. Cells: share \
of orders, then credited revenue.",
            int(a.orders),
            money(a.revenue, &r.totals.currencies)
        ),
    );
    if a.rows.is_empty() {
        h.push_str("<p class=\"empty\">No orders in this period.</p></section>");
        return;
    }
    h.push_str("<table><tr><th>Channel</th>");
    for m in &a.models {
        let _ = write!(h, "<th>{}</th>", esc(m));
    }
    h.push_str("</tr>");
    for row in &a.rows {
        let _ = write!(h, "<tr>{}", channel_cell(&row.channel, ""));
        for i in 0..row.share.len() {
            let _ = write!(
                h,
                "<td style=\"width:14%\"><b>{}</b> <span class=\"small\">{}</span><div class=\"bar\"><i style=\"width:{:.1}%;background:{}\"></i></div></td>",
                pct(row.share[i]),
                money(row.revenue[i], &r.totals.currencies),
                (row.share[i] * 100.0).clamp(0.0, 100.0),
                channel_colour(&row.channel)
            );
        }
        h.push_str("</tr>");
    }
    h.push_str("</table></section>");
}

fn personalization(h: &mut String, r: &Report) {
    let p = &r.personalization;
    section(
        h,
        "personalization",
        "Personalization impact",
        &format!(
            "Per slot and rule: exposures (<code>Personalization Viewed</code>), the sessions \
exposed, clicks in the slot (events carrying its slot and rule_id), and the exposed sessions \
with an order after the first exposure. For comparison, {} of all {} sessions had an order.",
            pct(p.conversion_rate),
            int(p.sessions)
        ),
    );
    if p.rows.is_empty() {
        h.push_str("<p class=\"empty\">No personalization exposures in this period.</p></section>");
        return;
    }
    h.push_str("<table><tr><th>Slot</th><th class=\"l\">Rule</th><th class=\"l\">Shows</th><th>Exposures</th><th>Sessions</th><th>Clicks</th><th>Sessions with a click</th><th>Converted sessions</th><th>Conversion</th></tr>");
    for row in &p.rows {
        let variants = row
            .variants
            .iter()
            .map(|v| short(v, 20))
            .collect::<Vec<_>>()
            .join(", ");
        let vs = if p.conversion_rate > 0.0 {
            row.conversion_rate / p.conversion_rate
        } else {
            0.0
        };
        let _ = write!(
            h,
            "<tr><td title=\"{}\"><b>{}</b></td><td class=\"l\" title=\"{}\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><b>{}</b><div class=\"small\">{:.1}× all sessions</div></td></tr>",
            esc(&row.slot),
            short(&row.slot, 24),
            esc(&row.rule_id),
            short(&row.rule_id, 28),
            variants,
            int(row.exposures),
            int(row.sessions),
            int(row.clicks),
            pct(if row.sessions > 0 { row.clicked_sessions as f64 / row.sessions as f64 } else { 0.0 }),
            int(row.converted_sessions),
            pct(row.conversion_rate),
            vs
        );
    }
    h.push_str("</table></section>");
}

/// A forest-plot cell: the interval and the estimate on a shared scale.
fn forest(l: &Lift, lo: f64, hi: f64) -> String {
    let (w, pad) = (240.0, 8.0);
    let x = |v: f64| pad + (v - lo) / (hi - lo) * (w - 2.0 * pad);
    let colour = if l.low > 0.0 {
        "#15803d"
    } else if l.high < 0.0 {
        "#b91c1c"
    } else {
        "#475569"
    };
    format!(
        "<svg viewBox=\"0 0 {w} 22\" style=\"width:{w}px\" aria-hidden=\"true\">\
<line x1=\"{z:.1}\" y1=\"2\" x2=\"{z:.1}\" y2=\"20\" stroke=\"#94a3b8\" stroke-dasharray=\"3 2\"/>\
<line x1=\"{a:.1}\" y1=\"11\" x2=\"{b:.1}\" y2=\"11\" stroke=\"{colour}\" stroke-width=\"3\" stroke-linecap=\"round\"/>\
<circle cx=\"{e:.1}\" cy=\"11\" r=\"5\" fill=\"{colour}\"/></svg>",
        z = x(0.0),
        a = x(l.low.max(lo)),
        b = x(l.high.min(hi)),
        e = x(l.estimate.clamp(lo, hi)),
    )
}

fn experiments(h: &mut String, r: &Report) {
    section(
        h,
        "experiments",
        "Experiments: do the nudges work?",
        &format!(
            "Visitors exposed to each variation (<code>Experiment Viewed</code>; a visitor counts \
in the group of their first exposure) and those who ordered after it. Lift is the relative \
change of the conversion rate against the control, with a 95% interval from the log of the \
rate ratio (delta method, z = {Z95:.2}). The split is checked against the configured weights \
(equal unless a config is given) with a chi-square test; p &lt; {SRM_ALPHA} flags a sample \
ratio mismatch, and then no result of that experiment can be trusted."
        ),
    );
    if r.experiments.is_empty() {
        h.push_str("<p class=\"empty\">No experiment exposures in this period.</p></section>");
        return;
    }
    for e in &r.experiments {
        let badge = match &e.srm {
            Some(s) if s.mismatch => format!(
                "<span class=\"badge alert\">Sample ratio mismatch (p = {:.1e})</span>",
                s.p_value
            ),
            Some(s) => format!(
                "<span class=\"badge ok\">Split OK (p = {:.2})</span>",
                s.p_value
            ),
            None => String::new(),
        };
        let _ = write!(
            h,
            "<div class=\"exp\"><h3 title=\"{}\">{}{badge}</h3>",
            esc(&e.id),
            short(&e.id, 60)
        );
        if let Some(s) = e.srm.as_ref().filter(|s| s.mismatch) {
            let expected: Vec<String> = e.expected_shares.iter().map(|x| pct(*x)).collect();
            let _ = write!(
                h,
                "<div class=\"warnbox\"><b>Warning:</b> the visitors are not split as configured \
(expected {}; χ² = {:.1}, {} df, p = {:.1e} &lt; {SRM_ALPHA}). Look for exposures lost in one \
variation (a redirect, a slow page, a bot filter) before reading the lift.</div>",
                expected.join(" / "),
                s.chi_square,
                s.df,
                s.p_value
            );
        }
        let lifts: Vec<&Lift> = e
            .variations
            .iter()
            .filter_map(|v| v.lift.as_ref())
            .collect();
        let lo = lifts
            .iter()
            .map(|l| l.low)
            .fold(-0.1f64, f64::min)
            .max(-1.0);
        let hi = lifts.iter().map(|l| l.high).fold(0.1f64, f64::max).min(5.0);
        let (lo, hi) = (lo - (hi - lo) * 0.05, hi + (hi - lo) * 0.05);
        let _ = write!(
            h,
            "<table class=\"expt\"><tr><th>Variation</th><th>Visitors</th><th>Orders</th><th>Conversion</th><th>Lift vs {}</th><th class=\"l\">95% interval</th></tr>",
            short(&e.control, 24),
        );
        for (i, v) in e.variations.iter().enumerate() {
            let (lift, plot) = match (&v.lift, i) {
                (_, 0) => ("control".to_string(), String::new()),
                (Some(l), _) => (
                    format!(
                        "<b>{}</b> <span class=\"small\">[{}, {}]</span>",
                        signed_pct(l.estimate),
                        signed_pct(l.low),
                        signed_pct(l.high)
                    ),
                    forest(l, lo, hi),
                ),
                (None, _) => ("–".into(), String::new()),
            };
            let _ = write!(
                h,
                "<tr><td title=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{lift}</td><td class=\"l\">{plot}</td></tr>",
                esc(&v.id),
                short(&v.id, 32),
                int(v.visitors),
                int(v.conversions),
                pct(v.rate)
            );
        }
        if let Some(hd) = &e.holdout {
            let vs = e.treatment_vs_holdout.map_or("–".into(), |l| {
                format!(
                    "variations {} <span class=\"small\">[{}, {}]</span> vs holdout",
                    signed_pct(l.estimate),
                    signed_pct(l.low),
                    signed_pct(l.high)
                )
            });
            let _ = write!(
                h,
                "<tr><td><i>holdout</i></td><td>{}</td><td>{}</td><td>{}</td><td colspan=\"2\" class=\"l small\">{vs}</td></tr>",
                int(hd.visitors),
                int(hd.conversions),
                pct(hd.rate)
            );
        }
        let _ = write!(
            h,
            "</table><p class=\"small\">Interval axis from {} to {}; the dashed line is no change.",
            signed_pct(lo),
            signed_pct(hi)
        );
        if e.source == "events" {
            h.push_str(
                " Control and expected split guessed from the events (a variation named \
“control”, else the first by name; equal weights): pass the site's config \
(<code>--config</code>) for the configured ones.",
            );
        }
        h.push_str("</p>");
        h.push_str("</div>");
    }
    h.push_str("</section>");
}

/// A stacked bar chart over periods.
/// A series of a stacked chart: its name, colour and value per period.
type Series<'a> = (&'a str, &'a str, fn(&PeriodRow) -> u64);

fn stacked(h: &mut String, rows: &[PeriodRow], series: &[Series<'_>]) {
    let (w, ht, left, bottom, top) = (1040.0, 200.0, 44.0, 24.0, 8.0);
    let totals: Vec<u64> = rows
        .iter()
        .map(|r| series.iter().map(|s| s.2(r)).sum())
        .collect();
    let max = totals.iter().copied().max().unwrap_or(0).max(1);
    // A round axis maximum: 1, 2 or 5 times a power of ten.
    let mut nice = 1u64;
    while nice < max {
        nice = match nice.to_string().as_bytes()[0] {
            b'1' => nice * 2,
            b'2' => nice / 2 * 5,
            _ => nice * 2,
        };
    }
    let plot_h = ht - bottom - top;
    let plot_w = w - left - 8.0;
    let n = rows.len().max(1) as f64;
    let slot = plot_w / n;
    let bw = (slot * 0.72).max(1.0);
    h.push_str("<div class=\"legend\">");
    for (name, colour, _) in series {
        let _ = write!(
            h,
            "<span><i style=\"background:{colour}\"></i>{name}</span>"
        );
    }
    let _ = write!(
        h,
        "</div><svg viewBox=\"0 0 {w} {ht}\" role=\"img\" aria-label=\"Chart\">"
    );
    let ticks = [5, 4, 2, 1]
        .into_iter()
        .find(|k| nice / k * k == nice)
        .unwrap_or(1);
    for k in 0..=ticks {
        let v = nice as f64 * k as f64 / ticks as f64;
        let y = top + plot_h - v / nice as f64 * plot_h;
        let _ = write!(
            h,
            "<line x1=\"{left}\" x2=\"{x2}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e2e8f0\"/>\
<text x=\"{tx}\" y=\"{ty:.1}\" font-size=\"11\" text-anchor=\"end\" fill=\"#64748b\">{v}</text>",
            x2 = w - 8.0,
            tx = left - 6.0,
            ty = y + 4.0,
            v = if v.fract() == 0.0 {
                int(v as u64)
            } else {
                format!("{v:.1}")
            },
        );
    }
    let every = (rows.len() / 10).max(1);
    for (i, row) in rows.iter().enumerate() {
        let x = left + i as f64 * slot + (slot - bw) / 2.0;
        let mut y = top + plot_h;
        for (name, colour, get) in series {
            let v = get(row);
            if v == 0 {
                continue;
            }
            let bh = v as f64 / nice as f64 * plot_h;
            y -= bh;
            let _ = write!(
                h,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{bh:.1}\" fill=\"{colour}\"><title>{} {name}: {}</title></rect>",
                esc(&row.start),
                int(v)
            );
        }
        if i % every == 0 {
            let _ = write!(
                h,
                "<text x=\"{cx:.1}\" y=\"{ty}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#64748b\">{}</text>",
                esc(row.start.get(5..).unwrap_or(&row.start)),
                cx = x + bw / 2.0,
                ty = ht - 6.0
            );
        }
    }
    h.push_str("</svg>");
}

fn over_time(h: &mut String, r: &Report) {
    let o = &r.over_time;
    let sum = |f: fn(&PeriodRow) -> u64| o.rows.iter().map(f).sum::<u64>();
    let (carts, abandoned, recovered) =
        (sum(|r| r.carts), sum(|r| r.abandoned), sum(|r| r.recovered));
    let (quotes, qc, qu, qp) = (
        sum(|r| r.quotes),
        sum(|r| r.quotes_converted),
        sum(|r| r.quotes_unconverted),
        sum(|r| r.quotes_pending),
    );
    section(
        h,
        "abandonment",
        "Abandoned carts and unconverted quotes",
        &format!(
            "Per {}. A cart is a session with a <code>Product Added</code>; it is abandoned when \
no order follows in that session ({} of {} carts, {}), and recovered when the visitor orders \
later anyway ({}). A <code>Quote Requested</code> converts when an order or a sign-up follows \
within 7 days ({} of {}); it stays pending while less than 7 days of data follow it ({}).",
            o.period,
            int(abandoned),
            int(carts),
            pct(if carts > 0 {
                abandoned as f64 / carts as f64
            } else {
                0.0
            }),
            int(recovered),
            int(qc),
            int(quotes),
            int(qp),
        ),
    );
    if carts == 0 && quotes == 0 {
        h.push_str("<p class=\"empty\">No carts or quotes in this period.</p></section>");
        return;
    }
    h.push_str("<h3>Carts</h3>");
    stacked(
        h,
        &o.rows,
        &[
            ("ordered in the session", "#16a34a", |r| {
                r.carts - r.abandoned
            }),
            ("abandoned, ordered later", "#fbbf24", |r| r.recovered),
            ("abandoned", "#ea580c", |r| r.abandoned - r.recovered),
        ],
    );
    let _ = write!(
        h,
        "<h3>Quotes <span class=\"small\">({} unconverted)</span></h3>",
        int(qu)
    );
    stacked(
        h,
        &o.rows,
        &[
            ("converted within 7 days", "#16a34a", |r| r.quotes_converted),
            ("pending", "#cbd5e1", |r| r.quotes_pending),
            ("unconverted", "#dc2626", |r| r.quotes_unconverted),
        ],
    );
    h.push_str("</section>");
}

fn footer(h: &mut String, r: &Report) {
    h.push_str("<footer>");
    if !r.notes.is_empty() {
        h.push_str("<div class=\"warnbox\"><b>Notes on the data</b><ul>");
        for n in &r.notes {
            let _ = write!(h, "<li>{}</li>", esc(n));
        }
        h.push_str("</ul></div>");
    }
    let _ = write!(
        h,
        "<p>A visitor is a userId, or an anonymousId joined to the userId it was seen with in \
the period, or else the anonymousId. Events are placed in time by their own <code>timestamp</code> \
(UTC). Orders repeating an order_id are counted once. Generated by sillage-collector {}; the \
same numbers are available as JSON.</p></footer>",
        env!("CARGO_PKG_VERSION")
    );
}
