//! Experiment hashing and bucketing, bit-for-bit compatible with GrowthBook.
//!
//! Why copy GrowthBook exactly: a visitor who is bucketed by Sillage in the
//! browser and by a GrowthBook SDK on the server must land in the same
//! variation, so the hash (FNV-1a 32-bit), the range layout and every clamp
//! follow GrowthBook's `util.ts`. The shared conformance corpus checks it.
//!
//! Everything here is pure arithmetic: no clock, no randomness.

/// FNV-1a, 32 bits, over the UTF-16 code units of `s` (as JavaScript's
/// `charCodeAt` sees them; identical to the bytes for ASCII).
fn fnv1a32(s: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for unit in s.encode_utf16() {
        h ^= u32::from(unit);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// Hashes `value` with `seed` into `[0, 1)`.
///
/// Version 1: `fnv32a(value + seed) % 1000 / 1000`; version 2:
/// `fnv32a(decimal(fnv32a(seed + value))) % 10000 / 10000`. Any other version
/// gives `None`.
pub fn hash(seed: &str, value: &str, version: u32) -> Option<f64> {
    let mut buf = String::with_capacity(seed.len() + value.len());
    match version {
        1 => {
            buf.push_str(value);
            buf.push_str(seed);
            Some(f64::from(fnv1a32(&buf) % 1000) / 1000.0)
        }
        2 => {
            buf.push_str(seed);
            buf.push_str(value);
            let first = fnv1a32(&buf);
            buf.clear();
            crate::support::diag::push_usize(&mut buf, first as usize);
            Some(f64::from(fnv1a32(&buf) % 10000) / 10000.0)
        }
        _ => None,
    }
}

/// `n` weights of `1/n` each; empty when `n` is zero or negative.
pub fn get_equal_weights(n: i64) -> Vec<f64> {
    if n <= 0 {
        return Vec::new();
    }
    vec![1.0 / n as f64; n as usize]
}

/// The `[start, end)` bucket range of each variation.
///
/// `coverage` is clamped to `[0, 1]`. The weights fall back to equal weights
/// when missing, when their count is not `num_variations`, or when they do not
/// sum to 1 (within 0.99..=1.01), exactly as GrowthBook does.
pub fn get_bucket_ranges(
    num_variations: i64,
    coverage: f64,
    weights: Option<&[f64]>,
) -> Vec<(f64, f64)> {
    // NaN stays NaN, as in JavaScript.
    let coverage = coverage.clamp(0.0, 1.0);
    let equal = get_equal_weights(num_variations);
    let mut weights = match weights {
        Some(w) if w.len() as i64 == num_variations => w,
        _ => &equal[..],
    };
    let total: f64 = weights.iter().sum();
    if !(0.99..=1.01).contains(&total) {
        weights = &equal[..];
    }
    let mut cumulative = 0.0;
    weights
        .iter()
        .map(|w| {
            let start = cumulative;
            cumulative += w;
            (start, start + coverage * w)
        })
        .collect()
}

/// The index of the range holding `n` (`start <= n < end`), or -1.
pub fn choose_variation(n: f64, ranges: &[(f64, f64)]) -> i32 {
    ranges
        .iter()
        .position(|&(start, end)| n >= start && n < end)
        .map_or(-1, |i| i as i32)
}

/// Whether `id` falls in the namespace `(name, start, end)`: the v1 hash of
/// `id` with seed `"__" + name` lies in `[start, end)`.
pub fn in_namespace(id: &str, namespace: (&str, f64, f64)) -> bool {
    let (name, start, end) = namespace;
    let mut seed = String::with_capacity(2 + name.len());
    seed.push_str("__");
    seed.push_str(name);
    match hash(&seed, id, 1) {
        Some(n) => n >= start && n < end,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_reference_values() {
        // Reference values of FNV-1a 32 (the algorithm's published test vectors).
        assert_eq!(fnv1a32(""), 0x811c_9dc5);
        assert_eq!(fnv1a32("a"), 0xe40c_292c);
        assert_eq!(fnv1a32("foobar"), 0xbf9c_f968);
    }

    #[test]
    fn unknown_versions_have_no_hash() {
        assert_eq!(hash("a", "b", 3), None);
        assert_eq!(hash("a", "b", 0), None);
    }
}
