//! Polish: from a walker's end state, safeguarded Newton steps in f64 to the nearest critical
//! point of any index (minimum, saddle or maximum), or the reason there is none nearby.
//!
//! The method is Newton's method for the equation ∇f = 0, globalised by a trust region on the
//! merit φ = ½|∇f|² (not on f: descent on f would walk away from saddles and maxima). In the
//! eigenbasis H = V diag(λ) Vᵀ, with c = Vᵀ∇f, the step minimising |∇f + H s| within |s| ≤ Δ is
//! s = -V (λ c / (λ² + μ)) for the smallest damping μ ≥ 0 that fits (Levenberg-Marquardt for
//! the gradient system). μ = 0 is the plain Newton step, with eigenvalues below a relative
//! cutoff treated as zero (the minimum-norm, pseudo-inverse step), so it converges quadratically
//! to saddles as well as to minima, and moves nowhere along exactly flat directions. Eigenvalues
//! near zero are damped smoothly (|λ| is effectively floored at √μ) instead of blowing the step up.
//!
//! On sphere objectives the same happens in the tangent space (see [`super::chart`]): Riemannian
//! gradient and Hessian in a Householder tangent basis, step, retraction to |x|² = N.
//!
//! A point where no step reduces |∇f| while |∇f| is not small is not a critical point: at a
//! local minimum of |∇f|, H∇f = 0, so the gradient lies in the Hessian's null space (a walker
//! that stalled on a slope, e.g. on a plane or an inflection). That, divergence, leaving the
//! drift limit and running out of iterations are the failures.

use nalgebra::DVector;

use super::chart::{value_and_grad_norm, Local};
use super::eigen::SortedEigen;
use crate::objective::{sphere, Objective};

/// Options of [`polish`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PolishOptions {
    /// Converged when |∇f| (Riemannian on the sphere) ≤ `grad_tol` · scale, where
    /// scale = max(1, max|λ(H)| · |x|, |x·∇f|/|x| on the sphere) is the size of the terms whose
    /// rounding errors the computed gradient carries. Default 1e-10: six orders of magnitude above
    /// f64 rounding (≈ 1e-16 · scale), so Newton's quadratic convergence reaches it in one or two
    /// steps once close; and eight orders below anything an f32 walker on the GPU resolves. The
    /// value f is deliberately not part of the scale: adding a constant to f changes no gradient.
    pub grad_tol: f64,
    /// Newton steps (Hessian evaluations) before giving up. Default 50: a nondegenerate point is
    /// reached from a converged walker in under ten; degenerate ones (e.g. quartic directions)
    /// converge linearly at a fixed rate and still need fewer than 40.
    pub max_iter: usize,
    /// Farthest the polished point may lie from the walker's end state, in units of
    /// max(√N, |x₀|) (on the sphere that is √N, so it is roughly an angle in radians). Default
    /// 0.1. A point farther away is not "the point the walker reached". `f64::INFINITY` turns the
    /// limit off.
    pub max_drift: f64,
}

impl Default for PolishOptions {
    fn default() -> Self {
        PolishOptions {
            grad_tol: 1e-10,
            max_iter: 50,
            max_drift: 0.1,
        }
    }
}

/// A critical point reached by [`polish`].
#[derive(Debug, Clone, PartialEq)]
pub struct Polished {
    pub x: Vec<f64>,
    pub f: f64,
    /// |∇f| at `x` (Riemannian on the sphere).
    pub grad_norm: f64,
    /// The absolute tolerance `grad_norm` met (`grad_tol` times the scale at `x`).
    pub tol: f64,
    /// Newton steps taken (0 when the end state was already critical).
    pub iterations: usize,
    /// Distance from the end state (after retraction to the sphere, for sphere objectives).
    pub drift: f64,
    /// Eigenvalues of the Hessian at `x`, ascending: Euclidean (N of them), or on the sphere the
    /// Riemannian Hessian on the tangent space (N-1 of them).
    pub eigenvalues: Vec<f64>,
}

/// Why an end state did not polish to a critical point.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolishFailure {
    #[error("end state has {got} coordinates but the objective has dimension {want}")]
    Dimension { got: usize, want: usize },
    #[error("the objective, its gradient or its Hessian is not finite at the end state")]
    NonFinite,
    #[error(
        "not a critical point: no step reduces |grad f| = {grad_norm:.3e} toward the tolerance \
         {tol:.3e} (a local minimum of |grad f| that is not a zero, e.g. a walker stalled on a slope)"
    )]
    NotCritical { grad_norm: f64, tol: f64 },
    #[error("the nearest critical point lies {distance:.3e} from the end state, beyond the drift limit {limit:.3e}")]
    Drifted { distance: f64, limit: f64 },
    #[error("no convergence in {iterations} Newton steps (|grad f| = {grad_norm:.3e}, tolerance {tol:.3e})")]
    MaxIterations {
        iterations: usize,
        grad_norm: f64,
        tol: f64,
    },
}

impl PolishFailure {
    /// A short machine-readable name: `dimension`, `non_finite`, `not_critical`, `drifted`,
    /// `max_iterations`.
    pub fn reason(&self) -> &'static str {
        match self {
            PolishFailure::Dimension { .. } => "dimension",
            PolishFailure::NonFinite => "non_finite",
            PolishFailure::NotCritical { .. } => "not_critical",
            PolishFailure::Drifted { .. } => "drifted",
            PolishFailure::MaxIterations { .. } => "max_iterations",
        }
    }
}

/// Eigenvalues with |λ| ≤ PINV_RCOND · max|λ| count as exactly zero in the undamped Newton step.
const PINV_RCOND: f64 = 1e-12;
/// |H∇f| ≤ STATIONARY_TOL · max|λ| · |∇f| (with |∇f| not shrinking) marks a minimum of |∇f|.
const STATIONARY_TOL: f64 = 1e-6;
/// A model that predicts a decrease of φ below this fraction of φ sees no way down.
const PRED_FLOOR: f64 = 1e-14;

fn norm(x: &[f64]) -> f64 {
    x.iter().map(|a| a * a).sum::<f64>().sqrt()
}

fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(p, q)| (p - q) * (p - q))
        .sum::<f64>()
        .sqrt()
}

/// Eigenbasis coefficients of the trust-region step and of the predicted residual ∇f + H s.
fn damped_step(lam: &[f64], c: &[f64], radius: f64, cutoff: f64) -> (Vec<f64>, Vec<f64>) {
    let at = |mu: f64| -> Vec<f64> {
        lam.iter()
            .zip(c)
            .map(|(&l, &ci)| {
                if mu == 0.0 {
                    if l.abs() > cutoff {
                        -ci / l
                    } else {
                        0.0
                    }
                } else {
                    -l * ci / (l * l + mu)
                }
            })
            .collect()
    };
    let mut s = at(0.0);
    if norm(&s) > radius {
        // |s(μ)| falls monotonically in μ and |s(μ)| ≤ |Hc|/μ, so μ = |Hc|/Δ fits: bisect.
        let hc = lam
            .iter()
            .zip(c)
            .map(|(l, ci)| (l * ci).powi(2))
            .sum::<f64>()
            .sqrt();
        let (mut lo, mut hi) = (0.0, hc / radius);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if mid <= lo || mid >= hi {
                break;
            }
            if norm(&at(mid)) > radius {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        s = at(hi);
    }
    let resid = lam
        .iter()
        .zip(c)
        .zip(&s)
        .map(|((l, ci), si)| ci + l * si)
        .collect();
    (s, resid)
}

/// Polishes one end state; see the module documentation for the method.
pub fn polish(
    obj: &dyn Objective,
    x0: &[f64],
    opts: &PolishOptions,
) -> Result<Polished, PolishFailure> {
    let start = start_of(obj, x0)?;
    let root_n = (obj.dim() as f64).sqrt();
    let limit = opts.max_drift * root_n.max(norm(&start));
    if let Some(p) = full_newton(obj, &start, limit, opts) {
        return Ok(p);
    }
    let mut x = start.clone();
    let mut region = TrustRegion::new(obj, limit, &start);
    let mut lam_ref: f64 = 0.0;
    let mut prev_gn: Option<f64> = None;
    let mut iterations = 0;
    loop {
        let local = Local::at(obj, &x).ok_or(PolishFailure::NonFinite)?;
        let eig = SortedEigen::new(local.h.clone()).ok_or(PolishFailure::NonFinite)?;
        let lam_max = eig.abs_max();
        lam_ref = lam_ref.max(lam_max);
        let scale = 1f64.max(lam_max * norm(&x)).max(local.radial);
        let tol = opts.grad_tol * scale;
        let gn = local.g.norm();
        if gn <= tol {
            return Ok(Polished {
                drift: distance(&x, &start),
                x,
                f: local.f,
                grad_norm: gn,
                tol,
                iterations,
                eigenvalues: eig.values.iter().copied().collect(),
            });
        }
        if iterations == opts.max_iter {
            return Err(PolishFailure::MaxIterations {
                iterations,
                grad_norm: gn,
                tol,
            });
        }
        iterations += 1;

        let c: Vec<f64> = eig.vectors.tr_mul(&local.g).iter().copied().collect();
        let not_critical = PolishFailure::NotCritical { grad_norm: gn, tol };
        // |∇f| stationary here and not shrinking: it has a nonzero minimum.
        let slow = prev_gn.is_none_or(|p| gn > 0.9 * p);
        if slow && stationary(eig.values.as_slice(), &c, gn, lam_ref) {
            return Err(not_critical);
        }
        let model = Model {
            local: &local,
            eig: &eig,
            c: &c,
            gn,
            cutoff: PINV_RCOND * lam_max.max(f64::MIN_POSITIVE),
        };
        x = region.step(obj, &model, &x).ok_or(not_critical)?;
        prev_gn = Some(gn);
        let drift = distance(&x, &start);
        if drift > limit {
            return Err(PolishFailure::Drifted {
                distance: drift,
                limit,
            });
        }
    }
}

/// Full Newton steps tried before the trust region, at most.
const FULL_STEPS: usize = 20;
/// The full steps stop when |∇f| grows beyond this factor of the smallest seen (they diverge).
const FULL_GROWTH: f64 = 1e4;

/// Full (pseudo-inverse) Newton steps from the end state, with |∇f| free to rise on the way (a
/// watchdog, Chamberlain et al. 1982): where small eigenvalues change fast along a step, as on
/// network losses, full steps reach the tolerance in about ten while the trust region's
/// monotone decrease of |∇f| creeps for hundreds of steps. The point they reach is a zero of
/// ∇f within the drift limit like any other; when they do not reach one (within
/// [`FULL_STEPS`], the drift limit and [`FULL_GROWTH`]) the trust region starts afresh from the
/// end state.
fn full_newton(
    obj: &dyn Objective,
    start: &[f64],
    limit: f64,
    opts: &PolishOptions,
) -> Option<Polished> {
    let mut x = start.to_vec();
    let mut best = f64::INFINITY;
    let steps = FULL_STEPS.min(opts.max_iter);
    for k in 0..=steps {
        let local = Local::at(obj, &x)?;
        let eig = SortedEigen::new(local.h.clone())?;
        let lam_max = eig.abs_max();
        let scale = 1f64.max(lam_max * norm(&x)).max(local.radial);
        let tol = opts.grad_tol * scale;
        let gn = local.g.norm();
        if !gn.is_finite() || gn > FULL_GROWTH * best {
            return None;
        }
        if gn <= tol {
            return Some(Polished {
                drift: distance(&x, start),
                x,
                f: local.f,
                grad_norm: gn,
                tol,
                iterations: k,
                eigenvalues: eig.values.iter().copied().collect(),
            });
        }
        if k == steps {
            return None;
        }
        best = best.min(gn);
        let cutoff = PINV_RCOND * lam_max.max(f64::MIN_POSITIVE);
        let coef: Vec<f64> = eig
            .values
            .iter()
            .zip(eig.vectors.tr_mul(&local.g).iter())
            .map(|(&l, &ci)| if l.abs() > cutoff { -ci / l } else { 0.0 })
            .collect();
        let s = &eig.vectors * DVector::from_vec(coef);
        x = local.step(&x, &s);
        if distance(&x, start) > limit {
            return None;
        }
    }
    None
}

/// Whether |∇f| is stationary (∇φ = H∇f vanishes relative to max|λ| seen so far and |∇f|), with
/// eigenvalues `lam` and ∇f's coefficients `c` in their eigenbasis: a nonzero minimum of |∇f|.
fn stationary(lam: &[f64], c: &[f64], gn: f64, lam_ref: f64) -> bool {
    let hg = lam
        .iter()
        .zip(c)
        .map(|(l, ci)| (l * ci).powi(2))
        .sum::<f64>()
        .sqrt();
    hg <= STATIONARY_TOL * lam_ref.max(f64::MIN_POSITIVE) * gn
}

/// The end state checked (one finite coordinate per dimension) and, on the sphere, retracted.
fn start_of(obj: &dyn Objective, x0: &[f64]) -> Result<Vec<f64>, PolishFailure> {
    let n = obj.dim();
    if x0.len() != n {
        return Err(PolishFailure::Dimension {
            got: x0.len(),
            want: n,
        });
    }
    if !x0.iter().all(|a| a.is_finite()) {
        return Err(PolishFailure::NonFinite);
    }
    let mut x = x0.to_vec();
    if obj.sphere() {
        if norm(&x) == 0.0 {
            return Err(PolishFailure::NonFinite);
        }
        sphere::retract(&mut x);
    }
    Ok(x)
}

/// The Newton model at the current point: its chart, the Hessian's eigenbasis, ∇f's
/// coefficients `c` in it, |∇f|, and the eigenvalue cutoff of the undamped step.
struct Model<'a> {
    local: &'a Local,
    eig: &'a SortedEigen,
    c: &'a [f64],
    gn: f64,
    cutoff: f64,
}

/// The trust region on φ = ½|∇f|².
struct TrustRegion {
    radius: f64,
    max_radius: f64,
}

impl TrustRegion {
    /// The radius starts at its largest, which never needs to exceed the drift `limit`; on the
    /// sphere a tangent step longer than the radius √N is meaningless after retraction.
    fn new(obj: &dyn Objective, limit: f64, start: &[f64]) -> TrustRegion {
        let root_n = (obj.dim() as f64).sqrt();
        let mut max_radius = limit;
        if obj.sphere() {
            max_radius = max_radius.min(root_n);
        }
        TrustRegion {
            radius: if max_radius.is_finite() {
                max_radius
            } else {
                root_n.max(norm(start))
            },
            max_radius,
        }
    }

    /// The next point: damped steps within the radius, shrinking it until one reduces φ enough
    /// (and growing it after a very good one); None when the model sees no way down or the
    /// radius collapses (not a critical point).
    fn step(&mut self, obj: &dyn Objective, m: &Model, x: &[f64]) -> Option<Vec<f64>> {
        let phi = 0.5 * m.gn * m.gn;
        loop {
            let (coef, resid) = damped_step(m.eig.values.as_slice(), m.c, self.radius, m.cutoff);
            let predicted = phi - 0.5 * norm(&resid).powi(2);
            if predicted.is_nan() || predicted <= PRED_FLOOR * phi {
                // The linear model sees no way down: ∇f lies in the Hessian's null space.
                return None;
            }
            let s = &m.eig.vectors * DVector::from_vec(coef);
            let s_norm = s.norm();
            let trial = m.local.step(x, &s);
            if let Some((_, g_trial)) = value_and_grad_norm(obj, &trial) {
                let rho = (phi - 0.5 * g_trial * g_trial) / predicted;
                if rho > 1e-4 {
                    if rho < 0.25 {
                        self.radius = 0.25 * s_norm;
                    } else if rho > 0.75 && s_norm > 0.99 * self.radius {
                        self.radius = (2.0 * self.radius).min(self.max_radius);
                    }
                    return Some(trial);
                }
            }
            self.radius = 0.25 * s_norm;
            if self.radius <= f64::EPSILON * norm(x).max(1.0) {
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::critical::classify::{classify, ClassifyOptions, Kind};
    use crate::critical::eigen::SortedEigen;
    use crate::critical::testing::{CubicSlope, Plane, Quadratic, TwoSpin};

    /// The crate's `saddle` objective, f = x² - y².
    fn saddle() -> Box<dyn Objective> {
        crate::objective::parse("saddle").unwrap()
    }

    #[test]
    fn saddle_near_origin_polishes_to_origin_with_index_one() {
        let p = polish(&*saddle(), &[0.03, -0.02], &PolishOptions::default()).unwrap();
        assert!(p.x.iter().all(|v| v.abs() < 1e-12), "{:?}", p.x);
        assert!(p.grad_norm <= p.tol && p.f.abs() < 1e-20);
        let c = classify(&p.eigenvalues, &ClassifyOptions::default());
        assert_eq!(
            (c.kind, c.index, c.n_neg, c.n_zero, c.n_pos),
            (Kind::Saddle, 1, 1, 0, 1)
        );
        assert_eq!(p.eigenvalues, vec![-2.0, 2.0]);
    }

    #[test]
    fn newton_converges_quadratically_to_a_saddle() {
        // Not a descent method: a point off a saddle of a non-quadratic function.
        let q = Quadratic::new(&[-1.0, 2.0, 3.0], &[1.0, 0.0, -1.0], 4);
        let p = polish(&q, &[1.05, 0.03, -0.96], &PolishOptions::default()).unwrap();
        assert!(p.iterations <= 2, "{} steps on a quadratic", p.iterations);
        assert!((p.x[0] - 1.0).abs() < 1e-12);
    }

    #[test]
    fn slopes_are_not_critical_points() {
        let line = Plane { a: vec![1.0] };
        let e = polish(&line, &[0.4], &PolishOptions::default()).unwrap_err();
        assert!(matches!(e, PolishFailure::NotCritical { .. }), "{e}");
        let tilted = Plane { a: vec![0.3, -0.2] };
        let e = polish(&tilted, &[1.0, 2.0], &PolishOptions::default()).unwrap_err();
        assert!(matches!(e, PolishFailure::NotCritical { .. }), "{e}");
        assert_eq!(e.reason(), "not_critical");
    }

    #[test]
    fn gradient_norm_minimum_is_not_a_critical_point() {
        // f = x + x³: |f'| = 1 + 3x² has a local minimum at 0 that is not a zero.
        for x0 in [0.05, -0.03, 0.001] {
            let e = polish(&CubicSlope, &[x0], &PolishOptions::default()).unwrap_err();
            assert!(
                matches!(e, PolishFailure::NotCritical { .. }),
                "from {x0}: {e}"
            );
        }
    }

    #[test]
    fn drift_limit_rejects_far_points_and_can_be_lifted() {
        // From 0.5 away (beyond 0.1·√2) the nearest critical point is too far for the default.
        let q = Quadratic::new(&[1.0, 2.0], &[0.0, 0.0], 3);
        let e = polish(&q, &[0.5, 0.0], &PolishOptions::default()).unwrap_err();
        assert!(matches!(e, PolishFailure::Drifted { .. }), "{e}");
        let opts = PolishOptions {
            max_drift: f64::INFINITY,
            ..PolishOptions::default()
        };
        let p = polish(&q, &[0.5, 0.0], &opts).unwrap();
        assert!((p.drift - 0.5).abs() < 1e-12);
    }

    #[test]
    fn bad_inputs_are_failures_not_panics() {
        let o = PolishOptions::default();
        assert_eq!(
            polish(&*saddle(), &[0.0], &o).unwrap_err(),
            PolishFailure::Dimension { got: 1, want: 2 }
        );
        assert_eq!(
            polish(&*saddle(), &[f64::NAN, 0.0], &o).unwrap_err(),
            PolishFailure::NonFinite
        );
        let few = PolishOptions { max_iter: 0, ..o };
        let e = polish(&*saddle(), &[0.01, 0.01], &few).unwrap_err();
        assert!(
            matches!(e, PolishFailure::MaxIterations { iterations: 0, .. }),
            "{e}"
        );
    }

    #[test]
    fn sphere_two_spin_eigenvector_points_and_their_indices() {
        let n = 12;
        let spin = TwoSpin::new(n, 21);
        let root_n = (n as f64).sqrt();
        // Independent oracle: nalgebra's decomposition of A (sorted here).
        let eig = SortedEigen::new(spin.a.clone()).unwrap();
        for k in 0..n {
            for sign in [1.0, -1.0] {
                let target: Vec<f64> = eig
                    .vectors
                    .column(k)
                    .iter()
                    .map(|v| sign * root_n * v)
                    .collect();
                // Perturb by 0.02 per coordinate (a tangent-and-radial mix), like an f32 walker.
                let mut s = crate::rng::Sampler::new(
                    5,
                    (2 * k) as u32 + (sign > 0.0) as u32,
                    crate::rng::Stream::Perturb,
                );
                let x0: Vec<f64> = target.iter().map(|t| t + 0.02 * s.normal()).collect();
                let p = polish(&spin, &x0, &PolishOptions::default())
                    .unwrap_or_else(|e| panic!("k={k} sign={sign}: {e}"));
                let err =
                    p.x.iter()
                        .zip(&target)
                        .map(|(a, b)| (a - b).abs())
                        .fold(0.0, f64::max);
                assert!(err < 1e-8, "k={k}: off by {err}");
                assert!((p.x.iter().map(|v| v * v).sum::<f64>() - n as f64).abs() < 1e-9);
                let c = classify(&p.eigenvalues, &ClassifyOptions::default());
                assert_eq!(c.index, k, "point from eigenvalue {k} (0-based)");
                assert_eq!(p.eigenvalues.len(), n - 1);
                // Riemannian Hessian eigenvalues 2(λ_j - λ_k)/√N, j ≠ k.
                let lk = eig.values[k];
                let want: Vec<f64> = (0..n)
                    .filter(|&j| j != k)
                    .map(|j| 2.0 * (eig.values[j] - lk) / root_n)
                    .collect();
                for (a, b) in p.eigenvalues.iter().zip(&want) {
                    assert!(
                        (a - b).abs() < 1e-9,
                        "k={k}: {:?} vs {want:?}",
                        p.eigenvalues
                    );
                }
                let kind = match k {
                    0 => Kind::Minimum,
                    k if k == n - 1 => Kind::Maximum,
                    _ => Kind::Saddle,
                };
                assert_eq!(c.kind, kind);
            }
        }
    }
}
