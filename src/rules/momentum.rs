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
    for i in 0..x.len() {
        m[i] = hp[BETA] * m[i] + c * g[i];
        x[i] -= lr * m[i];
    }
}
