//! Small statistics for escape tables: the Wilson score interval of a proportion and sample
//! quantiles (NumPy's default, linear interpolation between order statistics).

pub use crate::stats::{wilson_counts as wilson, Z95};

/// The q-quantile of `sorted` (ascending), interpolating linearly between order statistics
/// (Hyndman & Fan type 7, NumPy's and R's default). None when empty.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let h = (sorted.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    Some(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
}

/// Median (the 0.5 quantile: the mean of the two middle values for an even count).
pub fn median_sorted(sorted: &[f64]) -> Option<f64> {
    quantile_sorted(sorted, 0.5)
}

pub fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_published_intervals() {
        // Newcombe (1998), Statistics in Medicine 17:857, Table I: 81/263 -> 0.2553 to 0.3662;
        // 0/10 -> 0 to 0.2775.
        let (lo, hi) = wilson(81, 263, Z95);
        assert!(
            (lo - 0.2553).abs() < 5e-5 && (hi - 0.3662).abs() < 5e-5,
            "{lo} {hi}"
        );
        assert_eq!(wilson(0, 10, Z95).0, 0.0);
        assert!((wilson(0, 10, Z95).1 - 0.2775).abs() < 5e-5);
        // 0 of n: the upper bound is z²/(n + z²) in closed form.
        for n in [1usize, 7, 1000] {
            let want = Z95 * Z95 / (n as f64 + Z95 * Z95);
            assert!((wilson(0, n, Z95).1 - want).abs() < 1e-15);
        }
        // Symmetry: k of n mirrors n-k of n.
        for (k, n) in [(3usize, 17usize), (10, 10), (1, 2)] {
            let (a, b) = wilson(k, n, Z95);
            let (c, d) = wilson(n - k, n, Z95);
            assert!((a - (1.0 - d)).abs() < 1e-15 && (b - (1.0 - c)).abs() < 1e-15);
        }
        assert_eq!(wilson(10, 10, Z95).1, 1.0);
        assert_eq!(wilson(0, 0, Z95), (0.0, 1.0));
    }

    #[test]
    fn quantiles_follow_numpy() {
        // numpy.quantile([3,1,4,1,5,9,2,6], [0, .5, .9, 1]) = [1, 3.5, 6.9, 9].
        let mut v = vec![3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0];
        v.sort_by(f64::total_cmp);
        assert_eq!(quantile_sorted(&v, 0.0), Some(1.0));
        assert_eq!(median_sorted(&v), Some(3.5));
        assert!((quantile_sorted(&v, 0.9).unwrap() - 6.9).abs() < 1e-12);
        assert_eq!(quantile_sorted(&v, 1.0), Some(9.0));
        assert_eq!(median_sorted(&[7.0]), Some(7.0));
        assert!((quantile_sorted(&[1.0, 2.0], 0.9).unwrap() - 1.9).abs() < 1e-12);
        assert_eq!(median_sorted(&[]), None);
        assert_eq!(mean(&[1.0, 2.0, 6.0]), Some(3.0));
        assert_eq!(mean(&[]), None);
    }
}
