//! RMSprop: steps scaled by a running mean of g². WGSL twin: shaders/rules/rmsprop.wgsl.

use super::{always_may_stop, clip_scale, Ctx, Op, Rule};
use crate::spec::{Param, Range};
use crate::walk::state::*;

pub static RMSPROP: Rule = Rule {
    name: "rmsprop",
    summary: "RMSprop",
    params: params![
        Param::new("lr", 0.001, Range::Positive, "step size"),
        Param::new(
            "alpha",
            0.99,
            Range::HalfOpen(0.0, 1.0),
            "second-moment decay",
        ),
        Param::new("eps", 1e-8, Range::Positive, "denominator offset"),
    ],
    wgsl: Some(include_str!("../../shaders/rules/rmsprop.wgsl")),
    program: &[Op::Stage("rmsprop_step")],
    gpu_slots: &[],
    gpu_scalars: &[],
    step: rmsprop,
    may_stop: always_may_stop,
    max_dim: None,
};

fn rmsprop(ctx: &Ctx, s: &mut WalkerState, hp: &[f64]) {
    let (lr, alpha, eps) = (hp[0] * ctx.lr_scale, hp[1], hp[2]);
    let c = clip_scale(s.sc[SC_GNORM], hp[3]);
    let [x, _, g, _, _, v, ..] = &mut s.slots;
    for i in 0..x.len() {
        let gi = c * g[i];
        v[i] = alpha * v[i] + (1.0 - alpha) * gi * gi;
        x[i] -= lr * gi / (v[i].sqrt() + eps);
    }
}
