//! Index against loss: the index fraction α = k/N of every distinct critical point against its
//! value f (the figure of Dauphin et al. 2014 for network losses), and the least-squares fit of
//! Pennington & Bahri's (2017) form α ≈ α₀ |(ε − ε_c)/ε_c|^{3/2} near the critical loss ε_c
//! below which the points are minima.
//!
//! The form is one-sided: it describes α just above ε_c, and α = 0 below it. The fit therefore
//! uses the model α(ε) = α₀ · (max(0, ε − ε_c) / |ε_c|)^{3/2} over the nondegenerate minima
//! and saddles (degenerate points have no definite index; maxima lie far from the edge). It is
//! fitted as α = A · max(0, ε − ε_c)^{3/2} with A = α₀ / |ε_c|^{3/2}: for a fixed ε_c, A is a
//! linear least-squares coefficient, so the residual is a function of ε_c alone, minimised by a
//! scan and a golden-section refinement; the standard errors come from the Jacobian at the
//! optimum (Gauss–Newton covariance s²(JᵀJ)⁻¹, s² = RSS/(n − 2)), α₀'s by the delta method.
//! When the data cannot locate the two parameters the fit says why instead of returning numbers.

use super::Kind;
use crate::output::num;

/// One distinct critical point as the figure and the fit use it.
#[derive(Debug, Clone, PartialEq)]
pub struct LossPoint {
    pub f: f64,
    pub index: usize,
    /// The Hessian's dimension (N; N − 1 on spheres): the index fraction is index / n.
    pub n: usize,
    pub kind: Kind,
}

impl LossPoint {
    pub fn fraction(&self) -> f64 {
        self.index as f64 / self.n.max(1) as f64
    }
    /// Whether the fit uses the point: a nondegenerate minimum or saddle.
    pub fn fitted(&self) -> bool {
        matches!(self.kind, Kind::Minimum | Kind::Saddle)
    }
}

/// The fitted form, with standard errors.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Fit {
    pub alpha0: f64,
    pub alpha0_se: f64,
    pub eps_c: f64,
    pub eps_c_se: f64,
    /// A = α₀ / |ε_c|^{3/2}, the coefficient of max(0, ε − ε_c)^{3/2}.
    pub amplitude: f64,
    /// √(RSS / n): the typical distance of a point's α from the curve.
    pub residual_rms: f64,
    /// Points fitted and their distinct losses.
    pub points: usize,
    pub distinct_losses: usize,
    /// The loss of the lowest nondegenerate minimum fitted, when there is one. By the form,
    /// points below ε_c are minima; an ε_c below this loss gives every minimum found α > 0,
    /// which the note of index_loss_fit.csv and the summary say (on small networks the index
    /// can rise faster just above the lowest minimum than a 3/2 power allows).
    pub lowest_minimum: Option<f64>,
}

impl Fit {
    /// The fitted α at loss ε.
    pub fn value(&self, eps: f64) -> f64 {
        self.amplitude * (eps - self.eps_c).max(0.0).powf(1.5)
    }
    /// The caveat when ε_c lies below the lowest minimum found (see `lowest_minimum`).
    pub fn caveat(&self) -> Option<String> {
        let m = self.lowest_minimum.filter(|&m| self.eps_c < m)?;
        Some(format!(
            "ε_c lies below the lowest minimum found (f = {}), where the curve gives α = {:.3} \
             instead of 0",
            short(m),
            self.value(m)
        ))
    }
}

/// The fit of a set of points, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum FitOutcome {
    Fitted(Fit),
    /// The form does not apply to these points (or the fit did not converge): the reason,
    /// with the points and distinct losses it was given.
    NotApplicable {
        reason: String,
        points: usize,
        distinct_losses: usize,
    },
}

/// The fewest distinct losses a fit of two parameters is attempted on.
pub const MIN_DISTINCT_LOSSES: usize = 4;

/// Losses closer than this relative amount (of the largest |loss|, at least 1) are one loss
/// (copies of one point under a symmetry of the landscape have the same f to rounding).
const SAME_LOSS: f64 = 1e-9;

/// The number of distinct values among `v` (relative tolerance [`SAME_LOSS`]).
fn distinct(v: &[f64]) -> usize {
    let mut s: Vec<f64> = v.to_vec();
    s.sort_by(f64::total_cmp);
    // Relative to the largest |loss|, and at least 1: minima at f = 0 reached to rounding
    // (Himmelblau's four, at 1e-20 … 1e-12) are one loss, not four.
    let scale = s.iter().fold(1f64, |m, x| m.max(x.abs()));
    let mut count = 0;
    let mut last = f64::NAN;
    for x in s {
        if !(x - last).abs().le(&(SAME_LOSS * scale)) {
            count += 1;
            last = x;
        }
    }
    count
}

/// For a fixed ε_c: the best A ≥ 0 and the residual sum of squares.
fn profile(eps: &[f64], alpha: &[f64], eps_c: f64) -> (f64, f64) {
    let g: Vec<f64> = eps.iter().map(|e| (e - eps_c).max(0.0).powf(1.5)).collect();
    let gg: f64 = g.iter().map(|v| v * v).sum();
    let a = if gg > 0.0 {
        (g.iter().zip(alpha).map(|(g, a)| g * a).sum::<f64>() / gg).max(0.0)
    } else {
        0.0
    };
    let rss = g
        .iter()
        .zip(alpha)
        .map(|(g, al)| (al - a * g).powi(2))
        .sum();
    (a, rss)
}

/// Fits the form to the fitted points of `points` (nondegenerate minima and saddles).
pub fn fit(points: &[LossPoint]) -> FitOutcome {
    let used: Vec<&LossPoint> = points
        .iter()
        .filter(|p| p.fitted() && p.f.is_finite())
        .collect();
    let eps: Vec<f64> = used.iter().map(|p| p.f).collect();
    let alpha: Vec<f64> = used.iter().map(|p| p.fraction()).collect();
    let n = used.len();
    let d = distinct(&eps);
    let not = |reason: String| FitOutcome::NotApplicable {
        reason,
        points: n,
        distinct_losses: d,
    };
    if d < MIN_DISTINCT_LOSSES {
        return not(format!(
            "{n} nondegenerate minima and saddles at {d} distinct losses; the fit of α₀ and ε_c \
             needs at least {MIN_DISTINCT_LOSSES}"
        ));
    }
    let saddle_eps: Vec<f64> = eps
        .iter()
        .zip(&alpha)
        .filter(|(_, a)| **a > 0.0)
        .map(|(e, _)| *e)
        .collect();
    if saddle_eps.is_empty() {
        return not(
            "every point fitted has index 0 (minima; maxima and degenerate points are not \
             fitted): there is no saddle to fit"
                .into(),
        );
    }
    if saddle_eps.len() == n {
        return not(
            "no minimum among the points: the form's ε_c, below which α = 0, needs minima at \
             losses at or below it to be located"
                .into(),
        );
    }
    if distinct(&saddle_eps) < 2 {
        return not("every saddle has the same loss: α₀ and ε_c cannot both be located".into());
    }
    let lo_e = eps.iter().copied().fold(f64::INFINITY, f64::min);
    let hi_e = eps.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let top = saddle_eps.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let span = hi_e - lo_e;
    // ε_c below the highest saddle (else no point has α > 0), and at most one span below the
    // lowest point: an optimum at that bound means the data do not locate ε_c.
    let (a, b) = (lo_e - span, top);
    const GRID: usize = 400;
    let at = |j: usize| a + (b - a) * j as f64 / GRID as f64;
    let rss = |c: f64| profile(&eps, &alpha, c).1;
    let best = (0..GRID)
        .min_by(|&i, &j| rss(at(i)).total_cmp(&rss(at(j))))
        .unwrap_or(0);
    if best == 0 {
        return not(format!(
            "the fit did not converge: ε_c runs to the lower end of the range searched ({}), so \
             these points do not locate it",
            short(a)
        ));
    }
    // Golden-section refinement between the grid neighbours.
    let (mut x0, mut x1) = (at(best - 1), at(best + 1).min(b));
    let r = 0.5 * (5f64.sqrt() - 1.0);
    for _ in 0..200 {
        let (c, e) = (x1 - r * (x1 - x0), x0 + r * (x1 - x0));
        if rss(c) <= rss(e) {
            x1 = e;
        } else {
            x0 = c;
        }
        if x1 - x0 <= 1e-15 * (1.0 + x0.abs().max(x1.abs())) {
            break;
        }
    }
    let eps_c = 0.5 * (x0 + x1);
    // The form's α = 0 branch must be near data: an ε_c far below every minimum found is an
    // extrapolation of the saddles' curve, not a located threshold (Himmelblau: ε_c 57% of
    // the span below its minima; a field at N = 8: 83%). A smaller gap is a small model's
    // discreteness (the default 33-weight network: its index jumps from 0 to 1–4 just above
    // the minimum, and ε_c falls 21–23% of the span below it): a fit, with the caveat.
    const MAX_GAP: f64 = 1.0 / 3.0;
    let lowest_minimum = eps
        .iter()
        .zip(&alpha)
        .filter(|(_, a)| **a == 0.0)
        .map(|(e, _)| *e)
        .fold(f64::INFINITY, f64::min);
    if lowest_minimum - eps_c > MAX_GAP * span {
        return not(format!(
            "the fit puts ε_c at {}, below every minimum found (the lowest at {}) by more than \
             a third of the losses' span: the points do not locate ε_c (the form needs minima \
             at losses near or below it)",
            short(eps_c),
            short(lowest_minimum)
        ));
    }
    let (amp, rss_min) = profile(&eps, &alpha, eps_c);
    if eps_c.abs() <= 1e-12 * span.max(hi_e.abs()) {
        return not(format!(
            "ε_c = {} is zero to rounding: the form divides by ε_c",
            short(eps_c)
        ));
    }
    // Gauss–Newton covariance of (A, ε_c).
    let (mut jaa, mut jac, mut jcc) = (0.0, 0.0, 0.0);
    for e in &eps {
        let h = (e - eps_c).max(0.0);
        let ga = h.powf(1.5);
        let gc = -1.5 * amp * h.sqrt();
        jaa += ga * ga;
        jac += ga * gc;
        jcc += gc * gc;
    }
    let det = jaa * jcc - jac * jac;
    // A NaN determinant is singular too.
    let regular = det.partial_cmp(&(1e-14 * jaa * jcc)) == Some(std::cmp::Ordering::Greater);
    if !regular || n < 3 {
        return not("the fit is singular: the points do not determine α₀ and ε_c apart".into());
    }
    let s2 = if n > 2 { rss_min / (n - 2) as f64 } else { 0.0 };
    let var_a = s2 * jcc / det;
    let var_c = s2 * jaa / det;
    let cov_ac = -s2 * jac / det;
    let m = eps_c.abs();
    let alpha0 = amp * m.powf(1.5);
    let (da, dc) = (m.powf(1.5), 1.5 * amp * m.sqrt() * eps_c.signum());
    let var0 = da * da * var_a + 2.0 * da * dc * cov_ac + dc * dc * var_c;
    let (alpha0_se, eps_c_se) = (var0.max(0.0).sqrt(), var_c.max(0.0).sqrt());
    if alpha0_se >= alpha0 || eps_c_se >= eps_c.abs() {
        return not(format!(
            "the fit is not determined: α₀ = {} ± {}, ε_c = {} ± {} (a standard error as large \
             as its value)",
            short(alpha0),
            short(alpha0_se),
            short(eps_c),
            short(eps_c_se)
        ));
    }
    FitOutcome::Fitted(Fit {
        alpha0,
        alpha0_se,
        eps_c,
        eps_c_se,
        amplitude: amp,
        residual_rms: (rss_min / n as f64).sqrt(),
        points: n,
        distinct_losses: d,
        lowest_minimum: Some(lowest_minimum),
    })
}

/// Four significant digits, for messages and labels.
pub fn short(v: f64) -> String {
    format!("{v:.4e}")
}

/// The header of index_vs_loss.csv: one row per distinct critical point, in the order of
/// critical_points.csv (its `id`); `n` is the Hessian's dimension and `index_fraction` = index / n.
pub const HEADER: &str = "id,f,index,n,index_fraction,kind,walkers";

/// The header of index_loss_fit.csv (one row; a sweep's has `dim` in front, one row per
/// dimension). `fit` is `fitted` or `not_applicable` (then the numbers are empty and `note`
/// says why).
pub const FIT_HEADER: &str =
    "n,points,distinct_losses,alpha0,alpha0_se,eps_c,eps_c_se,residual_rms,fit,note";

/// The fields of one index_loss_fit.csv row (after any leading key columns).
pub fn fit_fields(n: usize, o: &FitOutcome) -> Vec<String> {
    match o {
        FitOutcome::Fitted(f) => vec![
            n.to_string(),
            f.points.to_string(),
            f.distinct_losses.to_string(),
            num(f.alpha0),
            num(f.alpha0_se),
            num(f.eps_c),
            num(f.eps_c_se),
            num(f.residual_rms),
            "fitted".into(),
            {
                let mut note = "alpha = alpha0 * ((f - eps_c) / |eps_c|)^1.5 above eps_c and 0 below; over the nondegenerate minima and saddles".to_string();
                if let Some(c) = f.caveat() {
                    note.push_str("; ");
                    note.push_str(&c.replace(',', ";"));
                }
                note
            },
        ],
        FitOutcome::NotApplicable {
            reason,
            points,
            distinct_losses,
        } => {
            let mut v = vec![
                n.to_string(),
                points.to_string(),
                distinct_losses.to_string(),
            ];
            v.extend((0..5).map(|_| String::new()));
            v.push("not_applicable".into());
            v.push(reason.replace(',', ";"));
            v
        }
    }
}

/// The manifest's record of a fit.
pub fn fit_json(o: &FitOutcome) -> serde_json::Value {
    match o {
        FitOutcome::Fitted(f) => {
            let mut v = serde_json::to_value(f).unwrap_or_default();
            v["fit"] = "fitted".into();
            v["form"] = "alpha = alpha0 |(f - eps_c)/eps_c|^(3/2) for f > eps_c, 0 below (Pennington & Bahri 2017)".into();
            v
        }
        FitOutcome::NotApplicable {
            reason,
            points,
            distinct_losses,
        } => serde_json::json!({
            "fit": "not_applicable", "reason": reason, "points": points,
            "distinct_losses": distinct_losses,
        }),
    }
}

/// The summary line of a fit (`what` in front, e.g. "index against loss").
pub fn summary_line(what: &str, o: &FitOutcome) -> String {
    match o {
        FitOutcome::Fitted(f) => format!(
            "{what}: α ≈ α₀ |(f − ε_c)/ε_c|^(3/2) with α₀ = {} ± {}, ε_c = {} ± {} ({} points, {} distinct losses, rms residual {:.3})",
            short(f.alpha0),
            short(f.alpha0_se),
            short(f.eps_c),
            short(f.eps_c_se),
            f.points,
            f.distinct_losses,
            f.residual_rms
        ) + &f.caveat().map_or(String::new(), |c| format!("; {c}")),
        FitOutcome::NotApplicable { reason, .. } => {
            format!("{what}: the fit α ≈ α₀ |(f − ε_c)/ε_c|^(3/2) does not apply: {reason}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Sampler, Stream};

    fn pt(f: f64, index: usize, n: usize) -> LossPoint {
        let kind = if index == 0 {
            Kind::Minimum
        } else {
            Kind::Saddle
        };
        LossPoint { f, index, n, kind }
    }

    /// Points drawn from the form with N = 400 (index = round(α N)), minima below ε_c and
    /// saddles above, plus degenerate points and maxima that the fit must ignore.
    fn synthetic(alpha0: f64, eps_c: f64, count: usize, seed: u64) -> Vec<LossPoint> {
        let n = 400;
        let mut s = Sampler::new(seed, 0, Stream::Perturb);
        let mut v = Vec::new();
        for _ in 0..count {
            let eps = eps_c * (0.4 + 1.6 * s.uniform());
            let a = alpha0 * ((eps - eps_c).max(0.0) / eps_c.abs()).powf(1.5);
            let index = (a * n as f64).round() as usize;
            v.push(pt(eps, index.min(n), n));
        }
        v.push(LossPoint {
            f: 10.0 * eps_c,
            index: 3,
            n,
            kind: Kind::Degenerate,
        });
        v.push(LossPoint {
            f: 0.0,
            index: n,
            n,
            kind: Kind::Maximum,
        });
        v
    }

    #[test]
    fn recovers_alpha0_and_eps_c_from_points_of_the_form() {
        for (alpha0, eps_c, seed) in [(0.4, 0.2, 1), (0.8, 1.5, 2), (0.3, 0.05, 3)] {
            let pts = synthetic(alpha0, eps_c, 120, seed);
            let FitOutcome::Fitted(f) = fit(&pts) else {
                panic!("{:?}", fit(&pts));
            };
            assert_eq!(f.points, 120);
            // Rounding the index to 1/400 is the only noise: both within 1% and within a few
            // standard errors.
            assert!((f.alpha0 - alpha0).abs() < 0.01 * alpha0, "{f:?}");
            assert!((f.eps_c - eps_c).abs() < 0.01 * eps_c, "{f:?}");
            assert!(
                (f.eps_c - eps_c).abs() < 5.0 * f.eps_c_se + 1e-6 * eps_c,
                "{f:?}"
            );
            assert!(f.alpha0_se > 0.0 && f.eps_c_se > 0.0 && f.residual_rms < 2e-3);
            assert!((f.value(eps_c * 2.0) - alpha0).abs() < 0.01 * alpha0);
            assert_eq!(f.value(eps_c * 0.5), 0.0);
        }
    }

    #[test]
    fn noisy_points_give_honest_errors() {
        let (alpha0, eps_c) = (0.5, 0.3);
        let mut s = Sampler::new(9, 0, Stream::Perturb);
        let n = 1000;
        let pts: Vec<LossPoint> = (0..200)
            .map(|_| {
                let eps = eps_c * (0.5 + 1.5 * s.uniform());
                let a = alpha0 * ((eps - eps_c).max(0.0) / eps_c).powf(1.5) + 0.02 * s.normal();
                pt(eps, (a.max(0.0) * n as f64).round() as usize, n)
            })
            .collect();
        let FitOutcome::Fitted(f) = fit(&pts) else {
            panic!()
        };
        assert!((f.alpha0 - alpha0).abs() < 4.0 * f.alpha0_se, "{f:?}");
        assert!((f.eps_c - eps_c).abs() < 4.0 * f.eps_c_se, "{f:?}");
        assert!(
            f.eps_c_se < 0.05 * eps_c && f.alpha0_se < 0.1 * alpha0,
            "{f:?}"
        );
    }

    #[test]
    fn refuses_inputs_the_form_cannot_describe() {
        let reason = |pts: &[LossPoint]| match fit(pts) {
            FitOutcome::NotApplicable { reason, .. } => reason,
            FitOutcome::Fitted(f) => panic!("fitted {f:?}"),
        };
        // Fewer than four distinct losses (copies of points at one loss do not count twice).
        let three = [pt(0.1, 0, 9), pt(0.2, 1, 9), pt(0.3, 2, 9), pt(0.3, 2, 9)];
        assert!(
            reason(&three).contains("3 distinct losses"),
            "{}",
            reason(&three)
        );
        // Saddles of the form with ε_c = 0.2 but no minimum, or minima only far above ε_c:
        // the curve's ε_c is an extrapolation, not located by the points.
        let saddles: Vec<LossPoint> = (1..40)
            .map(|i| {
                let e = 0.2 + 0.01 * i as f64;
                let a = 0.2 * ((e - 0.2) / 0.2).powf(1.5);
                pt(e, (a * 400.0).round().min(400.0) as usize, 400)
            })
            .collect();
        assert!(
            reason(&saddles).contains("no minimum"),
            "{}",
            reason(&saddles)
        );
        let mut high = saddles.clone();
        high.push(pt(0.5, 0, 400));
        let why = reason(&high);
        assert!(why.contains("below every minimum found"), "{why}");
        let mut located = saddles.clone();
        located.extend([pt(0.1, 0, 400), pt(0.15, 0, 400)]);
        assert!(
            matches!(fit(&located), FitOutcome::Fitted(_)),
            "{:?}",
            fit(&located)
        );
        // All index 0.
        let minima: Vec<LossPoint> = (0..8).map(|i| pt(0.1 * i as f64, 0, 9)).collect();
        assert!(reason(&minima).contains("index 0"));
        // Every saddle at one loss.
        let mut one = minima.clone();
        one.extend([pt(1.0, 2, 9), pt(1.0, 3, 9)]);
        assert!(reason(&one).contains("same loss"));
        // Degenerate points and maxima are not fitted.
        let deg: Vec<LossPoint> = (0..8)
            .map(|i| LossPoint {
                f: i as f64,
                index: i,
                n: 9,
                kind: Kind::Degenerate,
            })
            .collect();
        assert!(reason(&deg).contains("0 nondegenerate"));
        // α falling with the loss: ε_c runs away, which is said, not drawn.
        let falling: Vec<LossPoint> = (0..9).map(|i| pt(1.0 + i as f64, 8 - i, 9)).collect();
        assert!(
            reason(&falling).contains("did not converge"),
            "{}",
            reason(&falling)
        );
        // Nothing at all.
        assert!(reason(&[]).contains("0 nondegenerate"));
    }

    #[test]
    fn fit_rows_keep_their_columns() {
        let cols = FIT_HEADER.split(',').count();
        let pts = synthetic(0.4, 0.2, 50, 4);
        let fitted = fit_fields(400, &fit(&pts));
        assert_eq!(fitted.len(), cols);
        assert!(matches!(fit(&pts), FitOutcome::Fitted(_)));
        // No field holds the separator.
        assert!(fitted.iter().all(|f| !f.contains(',')), "{fitted:?}");
        assert_eq!(fit_fields(9, &fit(&[])).len(), cols);
        assert!(!fit_fields(9, &fit(&[]))[9].contains(','));
    }
}
