//! Adam (Kingma & Ba 2015), bias-corrected. WGSL twin: shaders/rules/adam.wgsl.

use super::{always_may_stop, clip_scale, Ctx, Op, Rule};
use crate::spec::{Param, Range};
use crate::walk::state::*;

pub static ADAM: Rule = Rule {
    name: "adam",
    summary: "Adam with bias correction",
    params: params![
        Param::new("lr", 0.001, Range::Positive, "step size"),
        Param::new(
            "beta1",
            0.9,
            Range::HalfOpen(0.0, 1.0),
            "first-moment decay",
        ),
        Param::new(
            "beta2",
            0.999,
            Range::HalfOpen(0.0, 1.0),
            "second-moment decay",
        ),
        Param::new("eps", 1e-8, Range::Positive, "denominator offset"),
    ],
    wgsl: Some(include_str!("../../shaders/rules/adam.wgsl")),
    program: &[Op::Stage("adam_step")],
    gpu_slots: &[],
    gpu_scalars: &[],
    step: adam,
    may_stop: always_may_stop,
    max_dim: None,
};

fn adam(ctx: &Ctx, s: &mut WalkerState, hp: &[f64]) {
    let (lr, b1, b2, eps) = (hp[0] * ctx.lr_scale, hp[1], hp[2], hp[3]);
    let c = clip_scale(s.sc[SC_GNORM], hp[4]);
    let t1 = f64::from(ctx.t) + 1.0;
    let bc1 = 1.0 - b1.powf(t1);
    let bc2 = 1.0 - b2.powf(t1);
    let [x, _, g, _, m, v, ..] = &mut s.slots;
    for i in 0..x.len() {
        let gi = c * g[i];
        m[i] = b1 * m[i] + (1.0 - b1) * gi;
        v[i] = b2 * v[i] + (1.0 - b2) * gi * gi;
        x[i] -= lr * (m[i] / bc1) / ((v[i] / bc2).sqrt() + eps);
    }
}
