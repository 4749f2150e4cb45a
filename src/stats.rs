//! Small statistical helpers for tables and figures: Wilson score intervals for proportions,
//! means with standard errors across independent replicas (disorder instances), Student's t
//! quantiles for their intervals, the standard error of a pooled ratio, and the semicircle law.

/// The two-sided 95% normal quantile, z = Φ⁻¹(0.975).
pub const Z95: f64 = 1.959_963_984_540_054;

/// The 97.5% quantile of Student's t with `df` degrees of freedom, for 95% intervals of a
/// mean of df + 1 values: tabulated to 6 digits for df ≤ 30, beyond that the Cornish–Fisher
/// expansion in 1/df to fourth order (error below 1e-7); infinite for df = 0.
pub fn t975(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004, 2.262157,
        2.228139, 2.200985, 2.178813, 2.160369, 2.144787, 2.131450, 2.119905, 2.109816, 2.100922,
        2.093024, 2.085963, 2.079614, 2.073873, 2.068658, 2.063899, 2.059539, 2.055529, 2.051831,
        2.048407, 2.045230, 2.042272,
    ];
    if df == 0 {
        return f64::INFINITY;
    }
    if let Some(&t) = TABLE.get(df - 1) {
        return t;
    }
    let (z, d) = (Z95, df as f64);
    let g1 = (z.powi(3) + z) / 4.0;
    let g2 = (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / 96.0;
    let g3 = (3.0 * z.powi(7) + 19.0 * z.powi(5) + 17.0 * z.powi(3) - 15.0 * z) / 384.0;
    let g4 = (79.0 * z.powi(9) + 776.0 * z.powi(7) + 1482.0 * z.powi(5)
        - 1920.0 * z.powi(3)
        - 945.0 * z)
        / 92160.0;
    z + g1 / d + g2 / (d * d) + g3 / d.powi(3) + g4 / d.powi(4)
}

/// The Wilson score interval (Wilson 1927) for `successes` out of `trials` at normal quantile
/// `z` (use [`Z95`] for 95%): the set of p whose score test does not reject. Unlike the Wald
/// interval p ± z√(p(1−p)/n) it stays inside [0, 1] and keeps its coverage for p near 0 or 1,
/// where the fractions of minima in high dimension live. `None` when there are no trials.
pub fn wilson(successes: u64, trials: u64, z: f64) -> Option<(f64, f64)> {
    if trials == 0 || successes > trials {
        return None;
    }
    let n = trials as f64;
    let p = successes as f64 / n;
    let z2 = z * z;
    let d = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / d;
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / d;
    // Clamp the rounding at the ends: the exact interval for p = 0 starts at 0, for p = 1 ends at
    // 1, and always contains p.
    Some((
        (centre - half).max(0.0).min(p),
        (centre + half).min(1.0).max(p),
    ))
}

/// [`wilson`] for counts, with the uninformative interval (0, 1) when there are no trials
/// (tables print an interval for every row).
pub fn wilson_counts(successes: usize, trials: usize, z: f64) -> (f64, f64) {
    wilson(successes as u64, trials as u64, z).unwrap_or((0.0, 1.0))
}

/// A mean and its standard error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanSe {
    pub mean: f64,
    /// s/√K with s the sample standard deviation (K − 1 in the denominator); NaN for K < 2.
    pub se: f64,
}

/// Mean and standard error of independent values (e.g. one per disorder instance). NaN mean
/// for no values, NaN standard error for one.
pub fn mean_se(values: &[f64]) -> MeanSe {
    let k = values.len() as f64;
    if values.is_empty() {
        return MeanSe {
            mean: f64::NAN,
            se: f64::NAN,
        };
    }
    let mean = values.iter().sum::<f64>() / k;
    let se = if values.len() < 2 {
        f64::NAN
    } else {
        let ss: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
        (ss / (k - 1.0) / k).sqrt()
    };
    MeanSe { mean, se }
}

/// The pooled ratio R = Σ aₖ / Σ bₖ over independent replicas k (e.g. minima over all points,
/// summed over instances) with its standard error across replicas (the delta method for a ratio
/// estimator): se = √(Σ (aₖ − R bₖ)² / (K (K − 1))) / b̄. Points found in one instance are not
/// independent draws, so this, not a binomial error, is the honest error of a pooled fraction.
/// NaN mean when Σ b = 0, NaN standard error for fewer than two replicas.
pub fn ratio_se(a: &[f64], b: &[f64]) -> MeanSe {
    assert_eq!(
        a.len(),
        b.len(),
        "one numerator and one denominator per replica"
    );
    let k = a.len() as f64;
    let (sa, sb) = (a.iter().sum::<f64>(), b.iter().sum::<f64>());
    if sb == 0.0 {
        return MeanSe {
            mean: f64::NAN,
            se: f64::NAN,
        };
    }
    let r = sa / sb;
    let se = if a.len() < 2 {
        f64::NAN
    } else {
        let ss: f64 = a.iter().zip(b).map(|(x, y)| (x - r * y).powi(2)).sum();
        (ss / (k * (k - 1.0))).sqrt() / (sb / k)
    };
    MeanSe { mean: r, se }
}

/// The CDF of Wigner's semicircle law on [−1, 1], density (2/π)√(1 − t²):
/// F(t) = ½ + (t√(1 − t²) + arcsin t)/π, 0 below −1 and 1 above 1.
pub fn semicircle_cdf(t: f64) -> f64 {
    if t <= -1.0 {
        0.0
    } else if t >= 1.0 {
        1.0
    } else {
        0.5 + (t * (1.0 - t * t).sqrt() + t.asin()) / std::f64::consts::PI
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    /// Reference intervals from the closed form evaluated independently (and the textbook
    /// values: 0/10 → [0, 0.2775], 5/10 → [0.2366, 0.7634]).
    #[test]
    fn wilson_matches_reference_values() {
        let cases = [
            (0, 10, 0.0, 0.277_532_799_862_889_2),
            (5, 10, 0.236_593_090_512_564, 0.763_406_909_487_436_1),
            (1, 40, 0.004_426_831_502_681_41, 0.128_813_689_634_740_9),
            (40, 40, 0.912_378_398_802_713_5, 1.0),
        ];
        for (k, n, lo, hi) in cases {
            let (l, h) = wilson(k, n, Z95).unwrap();
            assert!(
                close(l, lo, 1e-12) && close(h, hi, 1e-12),
                "{k}/{n}: {l} {h}"
            );
        }
        assert_eq!(wilson(0, 0, Z95), None);
        assert_eq!(wilson(3, 2, Z95), None);
        // The interval contains the estimate and narrows with n.
        let (a, b) = wilson(30, 100, Z95).unwrap();
        let (c, d) = wilson(300, 1000, Z95).unwrap();
        assert!(a < 0.3 && 0.3 < b && d - c < b - a);
    }

    /// Coverage: for p = 0.05, n = 40 the 95% Wilson interval covers p in about 95% of draws
    /// (exact binomial sum, no sampling).
    #[test]
    fn wilson_has_nominal_coverage() {
        let (n, p) = (40u64, 0.05f64);
        let mut cover = 0.0;
        let mut ln_c = 0.0f64; // ln C(n, k)
        for k in 0..=n {
            if k > 0 {
                ln_c += ((n - k + 1) as f64).ln() - (k as f64).ln();
            }
            let pk = (ln_c + k as f64 * p.ln() + (n - k) as f64 * (1.0 - p).ln()).exp();
            let (lo, hi) = wilson(k, n, Z95).unwrap();
            if lo <= p && p <= hi {
                cover += pk;
            }
        }
        assert!(cover > 0.92 && cover < 0.99, "coverage {cover}");
    }

    /// Reference quantiles (scipy.stats.t.ppf(0.975, df)) on both sides of the table's end.
    #[test]
    fn student_t_quantiles() {
        assert_eq!(t975(1), 12.706205);
        assert!(t975(0).is_infinite());
        for (df, want) in [
            (30, 2.042_272_456_301_237_8),
            (31, 2.039_513_446_396_408),
            (40, 2.021_075_390_306_273),
            (100, 1.983_971_518_523_551_8),
        ] {
            assert!((t975(df) - want).abs() < 1e-6, "df {df}: {}", t975(df));
        }
        assert!((t975(1_000_000) - Z95).abs() < 1e-5);
        assert!((1..200).all(|d| t975(d) > t975(d + 1)));
    }

    #[test]
    fn mean_and_standard_error() {
        let m = mean_se(&[1.0, 2.0, 3.0, 4.0]);
        // s² = 5/3, se = √(5/12).
        assert!(close(m.mean, 2.5, 1e-15) && close(m.se, (5.0f64 / 12.0).sqrt(), 1e-15));
        assert!(mean_se(&[]).mean.is_nan());
        let one = mean_se(&[7.0]);
        assert_eq!(one.mean, 7.0);
        assert!(one.se.is_nan());
    }

    #[test]
    fn ratio_standard_error() {
        // Equal ratios in every replica: no spread.
        let r = ratio_se(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]);
        assert!(close(r.mean, 0.1, 1e-15) && close(r.se, 0.0, 1e-15));
        // a = (1, 3), b = (4, 4): R = 0.5, residuals (-1, 1), se = √(2/2)/4 = 0.25 — the same
        // as the standard error of the per-replica ratios (0.25, 0.75) when b is constant.
        let r = ratio_se(&[1.0, 3.0], &[4.0, 4.0]);
        assert!(close(r.mean, 0.5, 1e-15) && close(r.se, 0.25, 1e-15));
        assert!(close(r.se, mean_se(&[0.25, 0.75]).se, 1e-15));
        assert!(ratio_se(&[0.0], &[0.0]).mean.is_nan());
        assert!(ratio_se(&[1.0], &[2.0]).se.is_nan());
    }

    #[test]
    fn semicircle_cdf_is_the_integral_of_its_density() {
        assert_eq!(semicircle_cdf(-1.5), 0.0);
        assert_eq!(semicircle_cdf(1.0), 1.0);
        assert!(close(semicircle_cdf(0.0), 0.5, 1e-15));
        // Midpoint rule on the density (2/π)√(1 − t²).
        let steps = 200_000;
        let mut acc = 0.0;
        let h = 2.0 / steps as f64;
        for i in 0..steps {
            let t = -1.0 + (i as f64 + 0.5) * h;
            acc += 2.0 / std::f64::consts::PI * (1.0 - t * t).sqrt() * h;
            if (i + 1) % 40_000 == 0 {
                let x = -1.0 + (i + 1) as f64 * h;
                assert!(close(semicircle_cdf(x), acc, 1e-7), "{x}");
            }
        }
    }
}
