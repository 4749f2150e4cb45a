//! The step of the Newton-type rules (newton.rs, sfn.rs), from the f64 Hessian. No WGSL twin.
//!
//! Both rules decompose the Hessian H = V diag(λ) Vᵀ (nalgebra, ascending eigenvalues) and step
//! x ← x − lr(t)·d with d = V diag(1/μ) Vᵀ ∇f, each with its own μ(λ). Directions with
//! |μᵢ| ≤ 1e-12·max|μ| are left out (pseudo-inverse).
//!
//! `clip` caps |d| (the step length before lr(t)). On spheres (p-spin) the gradient and Hessian
//! are the Riemannian ones on the tangent space, P (∇²H − (x·∇H/N) I) P in the orthonormal
//! tangent basis of `critical::chart` (the same frame the polish stage uses); the step is taken
//! in the tangent space and retracted to |x|² = N. A walker whose Hessian is not finite or whose
//! eigen-decomposition fails stops as diverged.
//!
//! No WGSL: the Hessian of every objective exists only in the Rust twins, so these rules run on
//! the CPU twin (f64, rayon over walkers) on every backend. O(N³) per step and walker.

use nalgebra::DVector;

use super::{clip_scale, Ctx};
use crate::critical::chart::Local;
use crate::critical::eigen::SortedEigen;
use crate::walk::state::*;

/// Rows of the Newton-type rules' parameter tables (both: lr, damping, clip, the schedule).
const LR: usize = 0;
pub(super) const DAMPING: usize = 1;
const CLIP_: usize = 2;

/// Dimension limit of the Newton-type rules (dense N x N eigen-decomposition per step).
pub const MAX_DIM: usize = 64;

/// Eigenvalue magnitudes at or below this fraction of the largest are treated as zero.
const RCOND: f64 = 1e-12;

/// x <- x - lr(t) clip(d), d = V diag(1/mu(lambda)) V^T grad (pseudo-inverse), in local
/// (tangent on spheres) coordinates, then back to x (retracted on spheres).
pub(super) fn second_order_step(
    ctx: &Ctx,
    s: &mut WalkerState,
    hp: &[f64],
    mu: impl Fn(f64) -> f64,
) {
    let x = s.slots[SLOT_X].clone();
    let Some(local) = Local::at(ctx.obj, &x) else {
        s.slots[SLOT_X].fill(f64::NAN);
        return;
    };
    let Some(eig) = SortedEigen::new(local.h.clone()) else {
        s.slots[SLOT_X].fill(f64::NAN);
        return;
    };
    let shifted = SortedEigen {
        values: eig.values.map(mu),
        vectors: eig.vectors,
    };
    let d: DVector<f64> = shifted.pinv_solve(&local.g, RCOND);
    let k = hp[LR] * ctx.lr_scale * clip_scale(d.norm(), hp[CLIP_]);
    let next = local.step(&x, &(-k * d));
    s.slots[SLOT_X].copy_from_slice(&next);
}

#[cfg(test)]
/// A CPU walk of `opt` from `starts` (the tests of newton.rs and sfn.rs too).
pub(super) fn walk(
    obj: &dyn crate::objective::Objective,
    opt: &str,
    starts: &[f64],
    steps: u32,
    tol: f64,
) -> crate::walk::EndStates {
    use crate::walk::{cpu, WalkPlan};
    let opt = crate::rules::parse(opt).unwrap();
    let plan = WalkPlan {
        max_steps: steps,
        grad_tol: tol,
        ..WalkPlan::default()
    };
    let hyper = opt.hyper_rows(starts.len() / obj.dim());
    cpu::run(obj, &opt, &plan, starts, &hyper, &|_| {})
}

/// Newton and saddle-free Newton side by side, where they differ.
#[cfg(test)]
mod tests {
    use nalgebra::DVector;

    use super::walk;
    use crate::critical::testing::TwoSpin;
    use crate::critical::{classify_at, ClassifyOptions, Kind};
    use crate::objective;
    use crate::rules;
    use crate::walk::state::Status;

    #[test]
    fn on_the_saddle_newton_is_attracted_and_sfn_escapes_along_the_negative_direction() {
        // f = x^2 - y^2, H = diag(2, -2): Newton (lr 1) jumps onto the saddle at once;
        // saddle-free Newton steps -|H|^-1 grad = (-x, +y): x -> 0 and y doubles every step.
        let saddle = objective::parse("saddle").unwrap();
        let x0 = [0.4, 0.01];
        let ends = walk(saddle.as_ref(), "newton:lr=1,damping=0", &x0, 5, 1e-12);
        assert_eq!(ends.status[0], Status::Converged);
        assert!(ends.point(0).iter().all(|v| v.abs() < 1e-15));
        for k in 1..=5u32 {
            let ends = walk(saddle.as_ref(), "sfn:lr=1,damping=1e-3", &x0, k, 0.0);
            let p = ends.point(0);
            assert!(p[0].abs() < 1e-15, "x is removed in one step");
            let want = 0.01 * 2f64.powi(k as i32);
            assert!(
                (p[1] - want).abs() < 1e-15,
                "step {k}: y = {} not {want}",
                p[1]
            );
        }
        // The schedule scales the step: step decay by 1/2 every step gives y factors
        // (1 + 1), (1 + 1/2), (1 + 1/4).
        let ends = walk(
            saddle.as_ref(),
            "sfn:schedule=step,period=1,gamma=0.5",
            &x0,
            3,
            0.0,
        );
        assert!((ends.point(0)[1] - 0.01 * 2.0 * 1.5 * 1.25).abs() < 1e-15);
        // With lr 0.5: x halves, y grows by 1.5 per step, still away from the saddle.
        let ends = walk(saddle.as_ref(), "sfn:lr=0.5", &x0, 3, 0.0);
        let p = ends.point(0);
        assert!((p[0] - 0.4 / 8.0).abs() < 1e-15 && (p[1] - 0.01 * 1.5f64.powi(3)).abs() < 1e-15);
    }

    /// Himmelblau's maximum and four saddles (Himmelblau 1972; also found by the polish tests).
    /// (Coordinates from an independent NumPy Newton iteration, 8 digits.)
    const NOT_MINIMA: [[f64; 2]; 5] = [
        [-0.27084459, -0.92303856],
        [0.0866775, 2.8842547],
        [-3.07302575, -0.08135304],
        [3.38515418, 0.07385188],
        [-0.12796135, -1.95371498],
    ];
    const MINIMA: [[f64; 2]; 4] = [
        [3.0, 2.0],
        [-2.80511809, 3.13131252],
        [-3.77931025, -3.28318599],
        [3.58442834, -1.84812653],
    ];

    #[test]
    fn on_himmelblau_sfn_leaves_the_maximum_and_saddles_for_minima() {
        let obj = objective::parse("himmelblau").unwrap();
        let offsets = [[0.05, 0.0], [0.0, 0.05], [-0.04, 0.03], [0.03, -0.04]];
        let mut starts = vec![];
        for c in NOT_MINIMA {
            for o in offsets {
                starts.extend([c[0] + o[0], c[1] + o[1]]);
            }
        }
        let sfn = walk(
            obj.as_ref(),
            "sfn:lr=0.5,damping=0.1,clip=1",
            &starts,
            500,
            1e-8,
        );
        let newton = walk(obj.as_ref(), "newton:lr=1,damping=0", &starts, 500, 1e-8);
        for w in 0..starts.len() / 2 {
            let p = sfn.point(w);
            assert_eq!(sfn.status[w], Status::Converged, "sfn walker {w} at {p:?}");
            let near_min = MINIMA
                .iter()
                .any(|m| (p[0] - m[0]).abs() < 1e-5 && (p[1] - m[1]).abs() < 1e-5);
            assert!(near_min, "sfn walker {w} ended at {p:?}, not a minimum");
            let (_, c) = classify_at(obj.as_ref(), p, &ClassifyOptions::default()).unwrap();
            assert_eq!(c.kind, Kind::Minimum);
            // Plain Newton from the same start converges to the critical point it started by.
            let q = newton.point(w);
            let c0 = NOT_MINIMA[w / offsets.len()];
            assert_eq!(newton.status[w], Status::Converged);
            assert!(
                (q[0] - c0[0]).abs() < 1e-5 && (q[1] - c0[1]).abs() < 1e-5,
                "newton walker {w} ended at {q:?}, not at {c0:?}"
            );
        }
    }

    #[test]
    fn on_the_sphere_steps_are_riemannian() {
        // Spherical 2-spin: critical points ±√N v_k (eigenvectors of A); the k-th (ascending)
        // has index k - 1. From near the index-2 saddle, Newton converges to it and sfn leaves
        // it for the minimum ±√N v_1.
        let n = 6;
        let spin = TwoSpin::new(n, 7);
        let eig = crate::critical::eigen::SortedEigen::new(spin.a.clone()).unwrap();
        let v = |k: usize| eig.vectors.column(k).into_owned();
        let root_n = (n as f64).sqrt();
        let mut x0 = (v(2) * 1.0 + v(0) * 0.02 + v(4) * 0.03) * root_n;
        x0 *= root_n / x0.norm();
        let overlap =
            |p: &[f64], k: usize| (DVector::from_column_slice(p).dot(&v(k)) / root_n).abs();
        let newton = walk(&spin, "newton:lr=1,damping=0", x0.as_slice(), 50, 1e-10);
        assert_eq!(newton.status[0], Status::Converged);
        assert!(overlap(newton.point(0), 2) > 1.0 - 1e-10);
        let sfn = walk(&spin, "sfn:lr=1,damping=1e-3", x0.as_slice(), 200, 1e-10);
        assert_eq!(sfn.status[0], Status::Converged);
        assert!(overlap(sfn.point(0), 0) > 1.0 - 1e-10);
        let r2: f64 = sfn.point(0).iter().map(|a| a * a).sum();
        assert!((r2 - n as f64).abs() < 1e-9, "stays on the sphere");
    }

    #[test]
    fn dimension_limit_is_a_usage_error() {
        let opt = rules::parse("sfn").unwrap();
        let big = objective::parse("rastrigin:n=65").unwrap();
        let e = opt.check_objective(big.as_ref()).unwrap_err().to_string();
        assert!(e.contains("N <= 64") && e.contains("N = 65"), "{e}");
        let ok = objective::parse("rastrigin:n=64").unwrap();
        assert!(opt.check_objective(ok.as_ref()).is_ok());
        assert!(rules::parse("gd")
            .unwrap()
            .check_objective(big.as_ref())
            .is_ok());
    }
}
