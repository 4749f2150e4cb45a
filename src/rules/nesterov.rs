//! Nesterov momentum, x -= lr(t) (g + beta m). WGSL twin: shaders/rules/nesterov.wgsl.
//! The buffer form used by most frameworks: m <- beta m + g; the parameters of heavy-ball
//! momentum (momentum.rs).

use super::{always_may_stop, clip_scale, Ctx, Op, Rule};
use crate::spec::{Param, Range};
use crate::walk::state::*;

const LR: usize = 0;
const BETA: usize = 1;
const CLIP_: usize = 2;

pub static NESTEROV: Rule = Rule {
    name: "nesterov",
    summary: "Nesterov accelerated gradient",
    params: params![
        Param::new("lr", 0.01, Range::Positive, "step size"),
        Param::new(
            "beta",
            0.9,
            Range::HalfOpen(0.0, 1.0),
            "momentum coefficient",
        ),
    ],
    wgsl: Some(include_str!("../../shaders/rules/nesterov.wgsl")),
    program: &[Op::Stage("nesterov_step")],
    gpu_slots: &[],
    gpu_scalars: &[],
    step: nesterov,
    may_stop: always_may_stop,
    max_dim: None,
};

fn nesterov(ctx: &Ctx, s: &mut WalkerState, hp: &[f64]) {
    let c = clip_scale(s.sc[SC_GNORM], hp[CLIP_]);
    let lr = hp[LR] * ctx.lr_scale;
    let [x, _, g, _, m, ..] = &mut s.slots;
    for i in 0..x.len() {
        let gi = c * g[i];
        m[i] = hp[BETA] * m[i] + gi;
        x[i] -= lr * (gi + hp[BETA] * m[i]);
    }
}
