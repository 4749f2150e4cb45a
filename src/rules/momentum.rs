//! Heavy-ball momentum: m <- beta m + g, x -= lr(t) m. WGSL twin: shaders/rules/momentum.wgsl.
//! The buffer form used by most frameworks (Nesterov's variant: nesterov.rs).

use super::{always_may_stop, clip_scale, Ctx, Op, Rule};
use crate::spec::{Param, Range};
use crate::walk::state::*;

const LR: usize = 0;
const BETA: usize = 1;
const CLIP_: usize = 2;

pub static MOMENTUM: Rule = Rule {
    name: "momentum",
    summary: "heavy-ball momentum",
    params: params![
        Param::new("lr", 0.01, Range::Positive, "step size"),
        Param::new(
            "beta",
            0.9,
            Range::HalfOpen(0.0, 1.0),
            "momentum coefficient",
        ),
    ],
    wgsl: Some(include_str!("../../shaders/rules/momentum.wgsl")),
    program: &[Op::Stage("momentum_step")],
    gpu_slots: &[],
    gpu_scalars: &[],
    step: momentum,
    may_stop: always_may_stop,
    max_dim: None,
};

fn momentum(ctx: &Ctx, s: &mut WalkerState, hp: &[f64]) {
    let c = clip_scale(s.sc[SC_GNORM], hp[CLIP_]);
    let lr = hp[LR] * ctx.lr_scale;
    let [x, _, g, _, m, ..] = &mut s.slots;
    heavy_ball(x, g, m, hp[BETA], c, lr);
}

/// m <- beta m + c g, x <- x - lr m, compiled for the widest vectors the CPU has (the same
/// operations per coordinate in every version).
#[inline(always)]
fn heavy_ball_body(x: &mut [f64], g: &[f64], m: &mut [f64], beta: f64, c: f64, lr: f64) {
    for ((xi, gi), mi) in x.iter_mut().zip(g).zip(m.iter_mut()) {
        *mi = beta * *mi + c * gi;
        *xi -= lr * *mi;
    }
}

crate::objective::batch::multiversion!(heavy_ball, heavy_ball_body, (x: &mut [f64], g: &[f64], m: &mut [f64], beta: f64, c: f64, lr: f64));
