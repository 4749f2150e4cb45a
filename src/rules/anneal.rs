//! Simulated annealing, Metropolis with geometric cooling. WGSL twin: shaders/rules/anneal.wgsl.
//! A Gaussian proposal y = x + step * xi (clipped to length `clip` when clip > 0, retracted on
//! spheres) is accepted when f(y) <= f(x) or with the Metropolis probability
//! exp(-(f(y) - f(x)) / T), T = t0 * cooling^t. The learning-rate schedule scales the proposal:
//! step(t) = step * factor(t).

use super::{always_may_stop, Ctx, Eval, Op, Rule};
use crate::objective::sphere;
use crate::rng::{self, Stream};
use crate::spec::{Param, Range};
use crate::walk::state::*;

pub static ANNEAL: Rule = Rule {
    name: "anneal",
    summary: "simulated annealing: Metropolis acceptance of Gaussian proposals, geometric cooling",
    params: params![
        Param::new(
            "step",
            0.1,
            Range::Positive,
            "proposal standard deviation per coordinate",
        ),
        Param::new("t0", 1.0, Range::Positive, "initial temperature"),
        Param::new(
            "cooling",
            0.999,
            Range::Closed(1e-12, 1.0),
            "temperature factor per step",
        ),
    ],
    wgsl: Some(include_str!("../../shaders/rules/anneal.wgsl")),
    program: &[
        Op::Stage("anneal_propose"),
        Op::Eval(Eval::Value { x: SLOT_TRIAL }),
        Op::Stage("anneal_accept"),
    ],
    gpu_slots: &[],
    gpu_scalars: &[],
    step,
    may_stop: always_may_stop,
    max_dim: None,
};

fn step(ctx: &Ctx, s: &mut WalkerState, hp: &[f64]) {
    let (sigma, t0, cooling, clip) = (hp[0] * ctx.lr_scale, hp[1], hp[2], hp[3]);
    let n = s.slots[SLOT_X].len();
    let mut z = vec![0.0; n];
    rng::gauss_vec(ctx.seed, ctx.walker, ctx.t, Stream::Proposal, &mut z);
    let len = sigma * z.iter().map(|v| v * v).sum::<f64>().sqrt();
    let k = sigma * super::clip_scale(len, clip);
    let [x, y, ..] = &mut s.slots;
    for ((yi, xi), zi) in y.iter_mut().zip(x.iter()).zip(&z) {
        *yi = xi + k * zi;
    }
    if ctx.obj.sphere() {
        sphere::retract(&mut s.slots[SLOT_TRIAL]);
    }
    let fy = ctx.obj.value(&s.slots[SLOT_TRIAL]);
    let temp = t0 * cooling.powf(f64::from(ctx.t));
    let u = rng::uniform4(ctx.seed, ctx.walker, ctx.t, 0, Stream::Accept)[0];
    let df = fy - s.sc[SC_F];
    // A non-finite proposal is never accepted (its divergence would only be noise).
    if fy.is_finite() && (df <= 0.0 || u < (-df / temp).exp()) {
        let [x, y, ..] = &mut s.slots;
        x.copy_from_slice(y);
    }
}
