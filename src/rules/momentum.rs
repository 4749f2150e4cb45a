//! Heavy-ball momentum and Nesterov momentum, in the buffer form used by most frameworks:
//! m <- beta m + g; momentum steps x -= lr(t) m, Nesterov steps x -= lr(t) (g + beta m).
//! WGSL twins: shaders/rules/momentum.wgsl, shaders/rules/nesterov.wgsl.

use super::{always_may_stop, clip_scale, Ctx, Op, Rule};
use crate::spec::{Param, Range};
use crate::walk::state::*;

const LR: usize = 0;
const BETA: usize = 1;
const CLIP_: usize = 2;

const PARAMS: &[Param] = params![
    Param::new("lr", 0.01, Range::Positive, "step size"),
    Param::new(
        "beta",
        0.9,
        Range::HalfOpen(0.0, 1.0),
        "momentum coefficient",
    ),
];

pub static MOMENTUM: Rule = Rule {
    name: "momentum",
    summary: "heavy-ball momentum",
    params: PARAMS,
    wgsl: Some(include_str!("../../shaders/rules/momentum.wgsl")),
    program: &[Op::Stage("momentum_step")],
    step: momentum,
    may_stop: always_may_stop,
    max_dim: None,
};

pub static NESTEROV: Rule = Rule {
    name: "nesterov",
    summary: "Nesterov accelerated gradient",
    params: PARAMS,
    wgsl: Some(include_str!("../../shaders/rules/nesterov.wgsl")),
    program: &[Op::Stage("nesterov_step")],
    step: nesterov,
    may_stop: always_may_stop,
    max_dim: None,
};

fn momentum(ctx: &Ctx, s: &mut WalkerState, hp: &[f64]) {
    let c = clip_scale(s.sc[SC_GNORM], hp[CLIP_]);
    let lr = hp[LR] * ctx.lr_scale;
    let [x, _, g, _, m, ..] = &mut s.slots;
    for i in 0..x.len() {
        m[i] = hp[BETA] * m[i] + c * g[i];
        x[i] -= lr * m[i];
    }
}

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
