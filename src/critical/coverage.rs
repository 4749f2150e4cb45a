//! How complete a catalogue is: the points found once (f1) and twice (f2), and the
//! bias-corrected Chao1 estimate of how many critical points there are, with Chao's (1987)
//! log-normal 95% interval. What the estimate assumes and how to read it: docs/coverage.md.
//!
//! The model: each walker that reaches a catalogued point is an independent draw that lands on
//! point j with probability p_j (its basin's share of the starting distribution under the
//! finder). Points no walker reached are the unseen species of an abundance sample, and
//! f1, f2 carry the information about them.

use crate::stats::Z95;

/// The coverage of one set of distinct points (all of a catalogue's, or those of one index).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Coverage {
    /// Distinct points found (S_obs).
    pub found: usize,
    /// Points reached by exactly one walker (f1) and by exactly two (f2).
    pub found_once: usize,
    pub found_twice: usize,
    /// Walkers that reached one of the points: the sample size n.
    pub walkers: usize,
    /// Bias-corrected Chao1: S_obs + ((n − 1)/n) f1 (f1 − 1) / (2 (f2 + 1)).
    pub estimated: f64,
    /// Its standard error (the square root of Chao's delta-method variance).
    pub estimated_se: f64,
    /// 95% interval; the lower end is never below `found`.
    pub estimated_lo: f64,
    pub estimated_hi: f64,
}

impl Coverage {
    /// The coverage of points reached by these numbers of walkers, one number per point
    /// (zeros are left out: a point no walker reached is not in a catalogue).
    pub fn of_counts(walkers_per_point: impl IntoIterator<Item = usize>) -> Coverage {
        let counts: Vec<usize> = walkers_per_point.into_iter().filter(|&c| c > 0).collect();
        let found = counts.len();
        let n = counts.iter().sum::<usize>();
        let f1 = counts.iter().filter(|&&c| c == 1).count();
        let f2 = counts.iter().filter(|&&c| c == 2).count();
        let mut c = Coverage {
            found,
            found_once: f1,
            found_twice: f2,
            walkers: n,
            estimated: found as f64,
            estimated_se: 0.0,
            estimated_lo: found as f64,
            estimated_hi: found as f64,
        };
        if n == 0 {
            return c;
        }
        let s_obs = found as f64;
        let (f1, f2, nf) = (f1 as f64, f2 as f64, n as f64);
        let a = (nf - 1.0) / nf;
        // The estimated number of unseen points, f0.
        let unseen = a * f1 * (f1 - 1.0) / (2.0 * (f2 + 1.0));
        c.estimated = s_obs + unseen;
        if unseen > 0.0 {
            let var = chao_variance(a, f1, f2);
            // f0 is taken as log-normal, so the interval lies above S_obs and is skewed up.
            let k = (Z95 * (1.0 + var / (unseen * unseen)).ln().sqrt()).exp();
            c.estimated_se = var.sqrt();
            c.estimated_lo = s_obs + unseen / k;
            c.estimated_hi = s_obs + unseen * k;
        } else {
            // No unseen points estimated (f1 ≤ 1): Chao's interval for that case, from the
            // chance e^{-k} that a point seen k times would have been missed altogether.
            let (var, p) = no_singletons(&counts, nf);
            let scale = 1.0 / (1.0 - p);
            let half = Z95 * var.sqrt() * scale;
            c.estimated_se = var.sqrt();
            c.estimated_lo = s_obs.max(s_obs * scale - half);
            c.estimated_hi = s_obs * scale + half;
        }
        c
    }

    /// More than half of the points found were found by one walker only: the catalogue is far
    /// from complete, and the estimate, not the count found, is the number to quote.
    pub fn mostly_found_once(&self) -> bool {
        2 * self.found_once > self.found
    }

    /// "found 20 (14 once, 3 twice, 150 walkers) → estimated 45.2 [30.1, 80.3]".
    pub fn describe(&self) -> String {
        format!(
            "found {} ({} once, {} twice, {} walkers) → estimated {} [{}, {}]",
            self.found,
            self.found_once,
            self.found_twice,
            self.walkers,
            short(self.estimated),
            short(self.estimated_lo),
            short(self.estimated_hi)
        )
    }
}

/// Chao's variance of the bias-corrected Chao1 (delta method on f0(f1, f2), in the form of
/// EstimateS): f0 + (∂f0/∂f1)² Var f1 + (∂f0/∂f2)² Var f2, the counts taken as Poisson
/// (Var f = f), with A = (n − 1)/n. One change: for f2 = 0, Var f2 is taken as 1, not 0. A count
/// of no doubletons is consistent with an expected number of up to ~3.7 (95%), and f0 depends
/// on it as 1/(f2 + 1), so the textbook variance, which drops the term, gives a narrow interval
/// exactly where the walkers say least (every point found once); with Var f2 = 1 the log-normal
/// interval spans about a factor five either side of f0 there. For f2 ≥ 1 it is Chao's.
fn chao_variance(a: f64, f1: f64, f2: f64) -> f64 {
    let f0 = a * f1 * (f1 - 1.0) / (2.0 * (f2 + 1.0));
    f0 + a * a * f1 * (2.0 * f1 - 1.0).powi(2) / (4.0 * (f2 + 1.0).powi(2))
        + a * a * f1 * f1 * (f1 - 1.0).powi(2) * f2.max(1.0) / (4.0 * (f2 + 1.0).powi(4))
}

/// The variance of S_obs and the mean chance that a found point would have been missed, when
/// f1 ≤ 1 (Chao's formulas for that case; SpadeR and EstimateS use the same):
/// var = Σ_k f_k (e^{−k} − e^{−2k}) − (Σ_k k e^{−k} f_k)² / n,  P = Σ_k f_k e^{−k} / S_obs.
fn no_singletons(counts: &[usize], n: f64) -> (f64, f64) {
    let (mut v, mut m, mut p) = (0.0, 0.0, 0.0);
    for &k in counts {
        let e = (-(k as f64)).exp();
        v += e - e * e;
        m += k as f64 * e;
        p += e;
    }
    ((v - m * m / n).max(0.0), p / counts.len() as f64)
}

/// A number for a summary line: integers as such, others with one decimal.
pub fn short(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// One catalogued point, as coverage needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Counted {
    pub index: usize,
    pub walkers: usize,
    pub degenerate: bool,
}

/// The coverage of a catalogue: of all its nondegenerate points, and of each index alone.
///
/// Degenerate points are left out: they are not isolated (a line or plateau of critical
/// points), so copies of one flat set would count as many points, each found once. Per index,
/// the points of that index and the walkers that reached them are a sample of their own: a
/// finder reaches points of different indices with very different probabilities, and Chao1
/// under such mixed p_j only bounds the total from below (docs/coverage.md).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CatalogueCoverage {
    #[serde(flatten)]
    pub overall: Coverage,
    /// Degenerate points of the catalogue, not counted above.
    pub degenerate_left_out: usize,
    /// One entry per index from 0 to the largest index of a nondegenerate point.
    pub by_index: Vec<IndexCoverage>,
}

/// The coverage of the points of one Morse index.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct IndexCoverage {
    pub index: usize,
    #[serde(flatten)]
    pub coverage: Coverage,
}

impl CatalogueCoverage {
    pub fn of(points: impl IntoIterator<Item = Counted>) -> CatalogueCoverage {
        let mut per_index: Vec<Vec<usize>> = Vec::new();
        let mut degenerate = 0;
        for p in points {
            if p.degenerate {
                degenerate += 1;
                continue;
            }
            if per_index.len() <= p.index {
                per_index.resize(p.index + 1, Vec::new());
            }
            per_index[p.index].push(p.walkers);
        }
        CatalogueCoverage {
            overall: Coverage::of_counts(per_index.iter().flatten().copied()),
            degenerate_left_out: degenerate,
            by_index: per_index
                .into_iter()
                .enumerate()
                .map(|(index, c)| IndexCoverage {
                    index,
                    coverage: Coverage::of_counts(c),
                })
                .collect(),
        }
    }

    /// The coverage of index `index` (nothing found when no point has it).
    pub fn index(&self, index: usize) -> Coverage {
        self.by_index
            .get(index)
            .map_or(Coverage::of_counts([]), |c| c.coverage)
    }

    /// The summary lines: the estimate overall and per index, and a warning when most points
    /// were found once.
    pub fn summary_lines(&self) -> Vec<String> {
        let o = &self.overall;
        let mut lines = vec![format!(
            "coverage (nondegenerate points, Chao1, 95%): {}{}",
            o.describe(),
            if self.degenerate_left_out > 0 {
                format!("; {} degenerate points left out", self.degenerate_left_out)
            } else {
                String::new()
            }
        )];
        let idx: Vec<String> = self
            .by_index
            .iter()
            .map(|c| {
                let v = &c.coverage;
                format!(
                    "{}: {} → {} [{}, {}]",
                    c.index,
                    v.found,
                    short(v.estimated),
                    short(v.estimated_lo),
                    short(v.estimated_hi)
                )
            })
            .collect();
        lines.push(format!(
            "points by index, found → estimated [95%]: {}",
            idx.join("  ")
        ));
        if o.mostly_found_once() {
            lines.push(incomplete_warning(o, ""));
        }
        lines
    }
}

/// The coverage of K independent instances of a random landscape (one dimension of a sweep):
/// counts found summed over instances, the number of points estimated per instance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanCoverage {
    pub instances: usize,
    /// Points found, and found once and twice, summed over instances.
    pub found: usize,
    pub found_once: usize,
    pub found_twice: usize,
    /// The estimated number of points per instance.
    pub estimated: f64,
    pub estimated_se: f64,
    /// 95% interval; never below the mean count found per instance.
    pub estimated_lo: f64,
    pub estimated_hi: f64,
}

impl MeanCoverage {
    /// The estimated number of points per instance from the instances' own coverages.
    ///
    /// Chao1 is computed once on the frequency counts pooled over the K instances,
    /// (T0 + A·T1(T1 − 1)/(2(T2 + 1)))/K with T0, T1, T2 the sums of S_obs, f1, f2 and A the
    /// mean of (n_k − 1)/n_k, rather than averaged over per-instance estimates. Chao1's lower
    /// bound holds for any collection of points each reached by its own binomial number of
    /// walkers, the union of the instances included, and pooled counts are large enough for
    /// the ratio f1(f1 − 1)/(2(f2 + 1)) to be nearly unbiased; per instance, with a handful of
    /// points and of walkers, the ratio of tiny counts is biased low (−3% for 6 equally likely
    /// points and 12 walkers), and a mean of biased estimates keeps the bias while its interval
    /// narrows as 1/√K (see the tests, and docs/coverage.md for the 3-spin check).
    ///
    /// The standard error is the delta method across instances: the estimate is a function of
    /// the means of the per-instance vectors (S_obs, f1, f2), whose sample covariance over the
    /// instances holds both the disorder (instances have different numbers of points) and the
    /// sampling of walkers, so the interval is one for the disorder average E[S], the number a
    /// Kac–Rice formula gives. It is guarded below by Chao's sampling variance of the pooled
    /// counts (divided by K²), in case few instances happen to agree. The interval is
    /// estimate ± t(K − 1)·se (Student's t, 95%), cut off below at the mean count found. For one
    /// instance, its own log-normal interval; with none, NaN.
    pub fn of(instances: &[Coverage]) -> MeanCoverage {
        let k = instances.len();
        let sum = |f: fn(&Coverage) -> usize| instances.iter().map(f).sum::<usize>();
        let mut m = MeanCoverage {
            instances: k,
            found: sum(|c| c.found),
            found_once: sum(|c| c.found_once),
            found_twice: sum(|c| c.found_twice),
            estimated: f64::NAN,
            estimated_se: f64::NAN,
            estimated_lo: f64::NAN,
            estimated_hi: f64::NAN,
        };
        if let [one] = instances {
            m.estimated = one.estimated;
            m.estimated_se = one.estimated_se;
            m.estimated_lo = one.estimated_lo;
            m.estimated_hi = one.estimated_hi;
        } else if k > 1 {
            m.pool(instances);
        }
        m
    }

    /// [`MeanCoverage::of`] for K ≥ 2 instances.
    fn pool(&mut self, instances: &[Coverage]) {
        let kf = instances.len() as f64;
        let reached: Vec<f64> = instances
            .iter()
            .filter(|c| c.walkers > 0)
            .map(|c| c.walkers as f64)
            .collect();
        let a = if reached.is_empty() {
            0.0
        } else {
            reached.iter().map(|n| (n - 1.0) / n).sum::<f64>() / reached.len() as f64
        };
        let (t0, t1, t2) = (
            self.found as f64,
            self.found_once as f64,
            self.found_twice as f64,
        );
        let unseen = a * t1 * (t1 - 1.0) / (2.0 * (t2 + 1.0));
        let estimated = (t0 + unseen) / kf;
        // ∂(estimate)/∂(mean S_obs, mean f1, mean f2).
        let g = [
            1.0,
            a * (2.0 * t1 - 1.0) / (2.0 * (t2 + 1.0)),
            -a * t1 * (t1 - 1.0) / (2.0 * (t2 + 1.0).powi(2)),
        ];
        let v: Vec<[f64; 3]> = instances
            .iter()
            .map(|c| [c.found as f64, c.found_once as f64, c.found_twice as f64])
            .collect();
        let mean = [t0 / kf, t1 / kf, t2 / kf];
        let mut var = 0.0;
        for row in &v {
            let d: f64 = (0..3).map(|i| g[i] * (row[i] - mean[i])).sum();
            var += d * d;
        }
        let across = (var / (kf - 1.0) / kf).sqrt();
        let own = if unseen > 0.0 {
            chao_variance(a, t1, t2).sqrt() / kf
        } else {
            0.0
        };
        let se = across.max(own);
        let half = crate::stats::t975(instances.len() - 1) * se;
        self.estimated = estimated;
        self.estimated_se = se;
        self.estimated_lo = (estimated - half).max(t0 / kf);
        self.estimated_hi = estimated + half;
    }

    /// The mean count found per instance.
    pub fn found_per_instance(&self) -> f64 {
        self.found as f64 / self.instances as f64
    }

    /// More than half of the points found, over all instances, were found by one walker only.
    pub fn mostly_found_once(&self) -> bool {
        2 * self.found_once > self.found
    }

    /// The same numbers as a [`Coverage`] of the whole set of instances, for the warning.
    fn as_totals(&self) -> Coverage {
        Coverage {
            found: self.found,
            found_once: self.found_once,
            found_twice: self.found_twice,
            walkers: 0,
            estimated: self.estimated,
            estimated_se: self.estimated_se,
            estimated_lo: self.estimated_lo,
            estimated_hi: self.estimated_hi,
        }
    }

    /// The warning when most points were found once; `what` names the set (e.g. "N = 8: ").
    pub fn warning(&self, what: &str) -> Option<String> {
        self.mostly_found_once().then(|| {
            incomplete_warning(&self.as_totals(), what)
                .replace("the estimate, about", "the estimate per instance, about")
        })
    }
}

/// The warning for a catalogue whose points were mostly found once; `what` names it (e.g.
/// "N = 8: ").
pub fn incomplete_warning(o: &Coverage, what: &str) -> String {
    format!(
        "warning: {what}{} of the {} points found were reached by one walker only: the catalogue \
         is incomplete, and the estimate, about {} [95%: {}, {}], is the number to quote, not \
         the count found{}; more walkers (--walkers) find more of the missing points and narrow \
         it",
        o.found_once,
        o.found,
        short(o.estimated),
        short(o.estimated_lo),
        short(o.estimated_hi),
        if o.found_twice == 0 {
            " (no point was found twice, so it gives an order of magnitude only)"
        } else {
            ""
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Sampler, Stream};

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    /// Counts 1, 1, 1, 2, 3: S_obs = 5, f1 = 3, f2 = 1, n = 8, A = 7/8.
    /// f0 = 7/8 · 3·2/(2·2) = 1.3125; var = 1.3125 + (49/64)·3·25/16 + (49/64)·9·4·1/64
    /// = 5.33203125; k = exp(1.96 √ln(1 + var/f0²)); interval 5 + f0/k, 5 + f0·k.
    #[test]
    fn chao1_by_hand() {
        let c = Coverage::of_counts([1, 3, 1, 2, 1, 0]);
        assert_eq!(
            (c.found, c.found_once, c.found_twice, c.walkers),
            (5, 3, 1, 8)
        );
        assert!(close(c.estimated, 6.3125), "{c:?}");
        assert!(close(c.estimated_se, 5.33203125f64.sqrt()), "{c:?}");
        let k = (Z95 * (1.0 + 5.33203125 / (1.3125 * 1.3125f64)).ln().sqrt()).exp();
        assert!(close(c.estimated_lo, 5.0 + 1.3125 / k), "{c:?}");
        assert!(close(c.estimated_hi, 5.0 + 1.3125 * k), "{c:?}");
        // Independently evaluated: 5.128060813817290, 18.451860867117325.
        assert!((c.estimated_lo - 5.128_060_813_817_29).abs() < 1e-9);
        assert!((c.estimated_hi - 18.451_860_867_117_325).abs() < 1e-9);
        assert!(c.mostly_found_once());
    }

    /// Every point found once (f2 = 0): f0 = (3/4)·4·3/2 = 4.5, S = 8.5; var = 4.5 +
    /// (9/16)·4·49/4 + (9/16)·16·9·1/4 = 52.3125, the last term with Var f2 = 1 (Chao's
    /// textbook variance drops it: 32.0625, interval [4.67, 34.4]).
    #[test]
    fn all_found_once() {
        let c = Coverage::of_counts([1, 1, 1, 1]);
        assert!(close(c.estimated, 8.5));
        assert!(close(c.estimated_se * c.estimated_se, 52.3125));
        assert!(
            (c.estimated_lo - 4.491_567_589_422_721).abs() < 1e-9,
            "{c:?}"
        );
        assert!(
            (c.estimated_hi - 45.194_741_955_589_15).abs() < 1e-9,
            "{c:?}"
        );
        // Many points, all found once: the interval spans about a factor five around f0.
        let c = Coverage::of_counts([1; 600]);
        let f0 = c.estimated - 600.0;
        assert!(c.estimated_hi - 600.0 > 4.5 * f0, "{c:?}");
        assert!(c.estimated_lo - 600.0 < f0 / 4.5, "{c:?}");
    }

    /// No singletons: nothing unseen is estimated, and the interval is Chao's for f1 ≤ 1.
    /// Counts 5, 7, 2: var = Σ (e^{-k} − e^{-2k}) − (Σ k e^{-k})²/14, P = Σ e^{-k}/3.
    #[test]
    fn no_singletons_by_hand() {
        let c = Coverage::of_counts([5, 7, 2]);
        assert_eq!((c.found, c.found_once, c.estimated), (3, 0, 3.0));
        let e = |k: f64| (-k).exp();
        let var = [5.0, 7.0, 2.0]
            .iter()
            .map(|&k| e(k) - e(2.0 * k))
            .sum::<f64>()
            - [5.0, 7.0, 2.0]
                .iter()
                .map(|&k| k * e(k))
                .sum::<f64>()
                .powi(2)
                / 14.0;
        let p = (e(5.0) + e(7.0) + e(2.0)) / 3.0;
        assert!(close(c.estimated_se, var.sqrt()));
        assert_eq!(c.estimated_lo, 3.0);
        assert!(close(
            c.estimated_hi,
            3.0 / (1.0 - p) + Z95 * var.sqrt() / (1.0 - p)
        ));
        assert!((c.estimated_hi - 3.856_284_681_167_339_5).abs() < 1e-9);
        assert!(!c.mostly_found_once());
        // One walker: n − 1 = 0 removes f0, and the interval still opens above S_obs.
        let one = Coverage::of_counts([1]);
        assert_eq!((one.estimated, one.estimated_lo), (1.0, 1.0));
        assert!(
            (one.estimated_hi - 2.548_697_663_833_485).abs() < 1e-9,
            "{one:?}"
        );
        // Nothing found: nothing estimated.
        let none = Coverage::of_counts([]);
        assert_eq!(
            (none.estimated, none.estimated_lo, none.estimated_hi),
            (0.0, 0.0, 0.0)
        );
    }

    /// The catalogue's coverage: degenerate points apart, each index its own sample.
    #[test]
    fn per_index_and_degenerate() {
        let pts = [
            (0, 1, false),
            (0, 4, false),
            (1, 1, false),
            (1, 1, true),
            (2, 2, false),
        ];
        let c = CatalogueCoverage::of(pts.iter().map(|&(index, walkers, degenerate)| Counted {
            index,
            walkers,
            degenerate,
        }));
        assert_eq!(c.degenerate_left_out, 1);
        assert_eq!(c.overall, Coverage::of_counts([1, 4, 1, 2]));
        assert_eq!(c.by_index.len(), 3);
        assert_eq!(c.index(0), Coverage::of_counts([1, 4]));
        assert_eq!(c.index(1), Coverage::of_counts([1]));
        assert_eq!(c.index(7).found, 0);
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["found_once"], 2);
        assert_eq!(v["by_index"][2]["found_twice"], 1);
        assert!(v["estimated_hi"].as_f64().unwrap() >= v["estimated"].as_f64().unwrap());
    }

    /// Instances combined: Chao1 on the pooled counts, the delta-method error across
    /// instances, a t interval cut off at the mean found, and one instance's own interval.
    #[test]
    fn pooled_over_instances_by_hand() {
        let a = Coverage::of_counts([1, 1, 1, 2, 3]); // S_obs 5, f1 3, f2 1, n 8
        let b = Coverage::of_counts([5, 7, 2]); // S_obs 3, f1 0, f2 1, n 14
        let m = MeanCoverage::of(&[a, b]);
        assert_eq!(
            (m.instances, m.found, m.found_once, m.found_twice),
            (2, 8, 3, 2)
        );
        // A = (7/8 + 13/14)/2 = 101/112; f0 = A·3·2/(2·3) = A; estimate (8 + A)/2.
        let aa = 101.0 / 112.0;
        assert!(close(m.estimated, (8.0 + aa) / 2.0), "{m:?}");
        // g = (1, A·5/6, −A/3); deviations from the means (4, 1.5, 1): ±(1, 1.5, 0), so
        // g·dev = ±d and se² = (2d²/(K − 1))/K = d².
        let se = 1.0 + aa * 5.0 / 6.0 * 1.5;
        assert!(close(m.estimated_se, se), "{m:?} vs {se}");
        assert!(close(
            m.estimated_hi,
            m.estimated + crate::stats::t975(1) * se
        ));
        assert_eq!(m.estimated_lo, 4.0); // cut off at the mean found, (5 + 3)/2
        assert!(!m.mostly_found_once() && m.warning("N = 2: ").is_none());
        // Equal instances: no spread, the pooled sampling variance sets the error.
        let m = MeanCoverage::of(&[a, a, a, a]);
        let (t1, t2, aa) = (12.0f64, 4.0f64, 7.0f64 / 8.0);
        let f0 = aa * t1 * (t1 - 1.0) / (2.0 * (t2 + 1.0));
        assert!(close(m.estimated, (20.0 + f0) / 4.0));
        let own = f0
            + aa * aa * t1 * (2.0 * t1 - 1.0).powi(2) / (4.0 * (t2 + 1.0).powi(2))
            + aa * aa * t1 * t1 * (t1 - 1.0).powi(2) * t2 / (4.0 * (t2 + 1.0).powi(4));
        assert!(close(m.estimated_se, own.sqrt() / 4.0), "{m:?}");
        let w = m.warning("N = 2: ").unwrap();
        assert!(
            w.contains("N = 2: 12 of the 20") && w.contains("per instance"),
            "{w}"
        );
        let one = MeanCoverage::of(&[a]);
        assert_eq!(
            (one.estimated_lo, one.estimated_hi),
            (a.estimated_lo, a.estimated_hi)
        );
        assert!(MeanCoverage::of(&[]).estimated.is_nan());
        let none = MeanCoverage::of(&[Coverage::of_counts([]), Coverage::of_counts([])]);
        assert_eq!(
            (none.estimated, none.estimated_lo, none.estimated_hi),
            (0.0, 0.0, 0.0)
        );
    }

    /// Why instances are pooled: 200 instances of 6 equally likely points, 12 walkers each
    /// (about 5.3 found per instance), 300 repetitions on fixed seeds. The mean of the
    /// per-instance estimates stays ~0.19 low, several of its standard errors, while the pooled
    /// estimate is nearly unbiased and its 95% interval holds 6 in at least 90% of repetitions.
    #[test]
    fn pooling_removes_the_small_sample_bias() {
        let (s, w, k, reps) = (6usize, 12usize, 200usize, 300usize);
        let (mut covered, mut pooled, mut averaged) = (0, 0.0, 0.0);
        for r in 0..reps {
            let insts: Vec<Coverage> = (0..k)
                .map(|i| {
                    let id = (r * k + i) as u32;
                    let mut rng = Sampler::new(29, id, Stream::Proposal);
                    let mut counts = vec![0usize; s];
                    for _ in 0..w {
                        counts[((rng.uniform() * s as f64) as usize).min(s - 1)] += 1;
                    }
                    Coverage::of_counts(counts)
                })
                .collect();
            let m = MeanCoverage::of(&insts);
            covered += usize::from(m.estimated_lo <= s as f64 && s as f64 <= m.estimated_hi);
            pooled += m.estimated / reps as f64;
            averaged += insts.iter().map(|c| c.estimated).sum::<f64>() / (k * reps) as f64;
        }
        let rate = covered as f64 / reps as f64;
        eprintln!("pooled {pooled:.3}, averaged {averaged:.3}, coverage {rate}");
        assert!((pooled - s as f64).abs() < 0.05, "pooled {pooled}");
        assert!(averaged < s as f64 - 0.1, "averaged {averaged}");
        assert!(rate >= 0.9, "coverage {rate}");
    }

    /// The interval's coverage: W walkers drawn uniformly from S equally likely points, too few
    /// to see them all, 2000 repetitions on fixed Philox seeds. The 95% interval must hold S in
    /// at least 90% of them, and the count found alone must fall short of S in nearly all.
    #[test]
    fn interval_covers_the_true_number_in_simulation() {
        for (s, w) in [(50usize, 40usize), (81, 60), (200, 100)] {
            let reps = 2000;
            let (mut covered, mut short_found, mut mean) = (0, 0, 0.0);
            for r in 0..reps {
                let mut rng = Sampler::new(7 + s as u64, r as u32, Stream::Proposal);
                let mut counts = vec![0usize; s];
                for _ in 0..w {
                    let j = ((rng.uniform() * s as f64) as usize).min(s - 1);
                    counts[j] += 1;
                }
                let c = Coverage::of_counts(counts);
                assert!(c.estimated_lo >= c.found as f64 && c.estimated_hi >= c.estimated);
                covered += usize::from(c.estimated_lo <= s as f64 && s as f64 <= c.estimated_hi);
                short_found += usize::from(c.found < s);
                mean += c.estimated / reps as f64;
            }
            let rate = covered as f64 / reps as f64;
            eprintln!("S = {s}, {w} walkers: coverage {rate}, mean estimate {mean:.2}");
            assert!(rate >= 0.90, "S = {s}, {w} walkers: coverage {rate}");
            assert!(
                short_found * 100 >= reps * 99,
                "S = {s}: found all too often"
            );
            // Nearly unbiased when every p_j is the same.
            assert!(
                (mean - s as f64).abs() < 0.1 * s as f64,
                "S = {s}: mean {mean}"
            );
        }
    }
}
