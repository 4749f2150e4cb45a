//! Saddle-free Newton (Dauphin et al. 2014), x -= lr(t) |H|^-1 grad f, N <= 64. No WGSL twin.
//!
//! Dauphin, Pascanu, Gulcehre, Cho, Ganguli & Bengio 2014, "Identifying and attacking the saddle
//! point problem in high-dimensional non-convex optimization". μᵢ = max(|λᵢ|, damping) in the
//! shared step of second_order.rs, i.e. d = |H|⁻¹ ∇f with |H| the eigenvalue magnitudes floored
//! at `damping` > 0. Along negative curvature the step goes downhill, away from saddles, with
//! the Newton step length; near a minimum it is Newton's step. Runs on the CPU twin only.

use super::second_order::{second_order_step, DAMPING, MAX_DIM};
use super::{always_may_stop, Ctx, Rule};
use crate::spec::{Param, Range};
use crate::walk::state::*;

pub static SFN: Rule = Rule {
    name: "sfn",
    summary: "saddle-free Newton (Dauphin et al. 2014): x -= lr |H|^-1 grad f, N <= 64",
    params: params![
        Param::new("lr", 1.0, Range::Positive, "step size (1 = the full step)"),
        Param::new(
            "damping",
            1e-3,
            Range::Positive,
            "floor on the eigenvalue magnitudes |lambda_i|",
        ),
    ],
    wgsl: None,
    program: &[],
    gpu_slots: &[],
    gpu_scalars: &[],
    step: sfn,
    may_stop: always_may_stop,
    max_dim: Some(MAX_DIM),
};

fn sfn(ctx: &Ctx, s: &mut WalkerState, hp: &[f64]) {
    let damping = hp[DAMPING];
    second_order_step(ctx, s, hp, |l| l.abs().max(damping));
}
