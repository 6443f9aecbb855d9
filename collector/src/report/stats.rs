//! The statistics the report needs, written out (no stats crate): the
//! chi-square distribution for the sample-ratio-mismatch check, and the
//! confidence interval of a relative lift.

use serde::Serialize;

/// The two-sided 95% quantile of the standard normal distribution.
pub const Z95: f64 = 1.959_963_984_540_054;

/// `ln Γ(x)` for `x > 0` (Lanczos approximation, g = 7, 9 terms; relative
/// error below 1e-13 over the range the report uses).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1-x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The regularized upper incomplete gamma function `Q(a, x) = Γ(a, x) / Γ(a)`:
/// a power series below `x < a + 1`, a continued fraction (modified Lentz)
/// above, as in Numerical Recipes' `gammq`.
pub fn gamma_q(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    let ln_front = a * x.ln() - x - ln_gamma(a);
    if x < a + 1.0 {
        // P(a, x) = e^-x x^a / Γ(a+1) · Σ x^n / ((a+1)...(a+n)).
        let mut sum = 1.0 / a;
        let mut term = sum;
        let mut ap = a;
        for _ in 0..10_000 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-16 {
                break;
            }
        }
        (1.0 - sum * ln_front.exp()).clamp(0.0, 1.0)
    } else {
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..10_000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < 1e-16 {
                break;
            }
        }
        (ln_front.exp() * h).clamp(0.0, 1.0)
    }
}

/// `P(X ≥ x)` for `X` chi-square distributed with `df` degrees of freedom.
pub fn chi_square_sf(x: f64, df: f64) -> f64 {
    gamma_q(df / 2.0, x / 2.0)
}

/// A sample-ratio-mismatch check: Pearson's chi-square goodness of fit of the
/// observed counts against the expected shares.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Srm {
    /// The statistic.
    pub chi_square: f64,
    /// Degrees of freedom (groups − 1).
    pub df: u32,
    /// `P(X ≥ chi_square)`.
    pub p_value: f64,
    /// The expected count of each group.
    pub expected: Vec<f64>,
    /// Whether `p_value < 0.001`.
    pub mismatch: bool,
}

/// The SRM threshold.
pub const SRM_ALPHA: f64 = 0.001;

/// Chi-square goodness of fit of `observed` against `shares` (normalised
/// here); `None` with fewer than two groups or no observations.
pub fn srm(observed: &[u64], shares: &[f64]) -> Option<Srm> {
    let n: u64 = observed.iter().sum();
    let total: f64 = shares.iter().sum();
    if observed.len() < 2 || observed.len() != shares.len() || n == 0 || total <= 0.0 {
        return None;
    }
    let expected: Vec<f64> = shares.iter().map(|s| s / total * n as f64).collect();
    let mut chi = 0.0;
    for (o, e) in observed.iter().zip(&expected) {
        if *e > 0.0 {
            chi += (*o as f64 - e).powi(2) / e;
        } else if *o > 0 {
            // Visitors in a group that should have none: certainly a mismatch.
            chi = f64::INFINITY;
        }
    }
    let df = (observed.len() - 1) as u32;
    let p_value = if chi.is_finite() {
        chi_square_sf(chi, f64::from(df))
    } else {
        0.0
    };
    Some(Srm {
        chi_square: chi,
        df,
        p_value,
        expected,
        mismatch: p_value < SRM_ALPHA,
    })
}

/// A relative lift and its 95% confidence interval (fractions: 0.2 = +20%).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Lift {
    /// `rate(treatment) / rate(baseline) − 1`.
    pub estimate: f64,
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

impl Lift {
    /// Whether the interval excludes 0.
    pub fn significant(&self) -> bool {
        self.low > 0.0 || self.high < 0.0
    }
}

/// The relative lift of `conv_t / n_t` over `conv_b / n_b`, with the 95%
/// interval of the log of the rate ratio (the delta method, Katz et al.
/// 1978): `ln(RR) ± 1.96 · sqrt((1 − p_t)/(n_t p_t) + (1 − p_b)/(n_b p_b))`,
/// exponentiated, minus 1. `None` when either group has no conversion (the
/// ratio's log is then undefined).
pub fn lift(conv_t: u64, n_t: u64, conv_b: u64, n_b: u64) -> Option<Lift> {
    if conv_t == 0 || conv_b == 0 || n_t < conv_t || n_b < conv_b {
        return None;
    }
    let (pt, pb) = (conv_t as f64 / n_t as f64, conv_b as f64 / n_b as f64);
    let log_rr = (pt / pb).ln();
    let se = ((1.0 - pt) / (n_t as f64 * pt) + (1.0 - pb) / (n_b as f64 * pb)).sqrt();
    Some(Lift {
        estimate: pt / pb - 1.0,
        low: (log_rr - Z95 * se).exp() - 1.0,
        high: (log_rr + Z95 * se).exp() - 1.0,
    })
}

/// The median of `v` (the mean of the two middle values for an even count).
pub fn median(v: &mut [i64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m] as f64
    } else {
        (v[m - 1] as f64 + v[m] as f64) / 2.0
    })
}
