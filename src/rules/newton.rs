//! Damped Newton, x -= lr(t) (H + damping I)^-1 grad f, N <= 64. No WGSL twin: CPU only.
//!
//! μᵢ = λᵢ + damping in the shared step of second_order.rs, i.e. d = (H + damping·I)⁻¹ ∇f.
//! Where H + damping·I is not positive definite the step is still the exact Newton step of the
//! quadratic model, so it heads for the model's stationary point whatever its index: Newton is
//! attracted to saddles and maxima (the flaw saddle-free Newton, sfn.rs, fixes). Directions with
//! |μᵢ| ≤ 1e-12·max|μ| are left out (pseudo-inverse), so a singular H + damping·I never gives an
//! infinite step; when every μ vanishes the step is zero.

use super::second_order::{second_order_step, DAMPING, MAX_DIM};
use super::{always_may_stop, Ctx, Rule};
use crate::spec::{Param, Range};
use crate::walk::state::*;

pub static NEWTON: Rule = Rule {
    name: "newton",
    summary: "damped Newton: x -= lr (H + damping I)^-1 grad f, N <= 64",
    params: params![
        Param::new(
            "lr",
            1.0,
            Range::Positive,
            "step size (1 = the full Newton step)"
        ),
        Param::new(
            "damping",
            1e-3,
            Range::NonNegative,
            "lambda added to the Hessian's diagonal",
        ),
    ],
    wgsl: None,
    program: &[],
    gpu_slots: &[],
    gpu_scalars: &[],
    step: newton,
    may_stop: always_may_stop,
    max_dim: Some(MAX_DIM),
};

fn newton(ctx: &Ctx, s: &mut WalkerState, hp: &[f64]) {
    let damping = hp[DAMPING];
    second_order_step(ctx, s, hp, |l| l + damping);
}

#[cfg(test)]
mod tests {
    use nalgebra::{DMatrix, DVector};

    use super::super::second_order::walk;
    use crate::critical::testing::Quadratic;
    use crate::objective::{self, Objective};
    use crate::walk::state::Status;

    #[test]
    fn newton_reaches_the_minimum_of_a_quadratic_in_one_step() {
        // f = 1/2 (x - c)^T A (x - c), A SPD with condition number 100: the Newton step with
        // lr = 1 and no damping lands on c. The oracle solves A s = g by LU, not by eigen.
        let q = Quadratic::new(&[0.05, 1.0, 5.0], &[0.7, -1.3, 2.1], 4);
        let x0 = [3.0, 1.0, -2.0];
        let ends = walk(&q, "newton:lr=1,damping=0", &x0, 1, 0.0);
        let mut g = vec![0.0; 3];
        q.gradient(&x0, &mut g);
        let s =
            q.a.clone()
                .lu()
                .solve(&DVector::from_column_slice(&g))
                .unwrap();
        for i in 0..3 {
            assert!((ends.point(0)[i] - (x0[i] - s[i])).abs() < 1e-12);
            assert!(
                (ends.point(0)[i] - q.c[i]).abs() < 1e-10,
                "{:?}",
                ends.point(0)
            );
        }
        // Damping shortens the step: (A + 0.5 I)^-1 g.
        let ends = walk(&q, "newton:lr=1,damping=0.5", &x0, 1, 0.0);
        let s = (&q.a + DMatrix::identity(3, 3) * 0.5)
            .lu()
            .solve(&DVector::from_column_slice(&g))
            .unwrap();
        for i in 0..3 {
            assert!((ends.point(0)[i] - (x0[i] - s[i])).abs() < 1e-12);
        }
        // Two steps later it has converged.
        let ends = walk(&q, "newton:lr=1,damping=0", &x0, 10, 1e-9);
        assert_eq!(ends.status[0], Status::Converged);
        assert_eq!(ends.steps[0], 1);
    }

    #[test]
    fn singular_newton_systems_stay_finite() {
        // H + damping I = diag(2, 0) at the saddle's y-curvature -2 with damping 2: the y
        // direction is left out and the step is finite.
        let saddle = objective::parse("saddle").unwrap();
        let ends = walk(
            saddle.as_ref(),
            "newton:lr=1,damping=2",
            &[0.4, 0.3],
            1,
            0.0,
        );
        let p = ends.point(0);
        // x: (2 + 2)^-1 * 0.8 = 0.2 step; y unchanged.
        assert!(
            (p[0] - 0.2).abs() < 1e-15 && (p[1] - 0.3).abs() < 1e-15,
            "{p:?}"
        );
    }
}
