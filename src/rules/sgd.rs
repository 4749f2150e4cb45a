//! Noisy gradient descent: x -= lr(t) (clip(g) + noise xi). WGSL twin: shaders/rules/sgd.wgsl.
//! Isotropic Gaussian noise xi ~ N(0, I) as a stand-in for minibatch noise (noisy_step.rs).

use super::noisy_step::noisy_step;
use super::{always_may_stop, clip_scale, Ctx, Op, Rule};
use crate::spec::{Param, Range};
use crate::walk::state::*;

pub static SGD: Rule = Rule {
    name: "sgd",
    summary: "gradient plus Gaussian noise of scale `noise`",
    params: params![
        Param::new("lr", 0.01, Range::Positive, "step size"),
        Param::new(
            "noise",
            0.1,
            Range::NonNegative,
            "noise standard deviation per coordinate, added to the gradient",
        ),
    ],
    wgsl: Some(concat!(
        include_str!("../../shaders/rules/noisy_step.wgsl"),
        include_str!("../../shaders/rules/sgd.wgsl")
    )),
    program: &[Op::Stage("sgd_step")],
    gpu_slots: &[],
    gpu_scalars: &[],
    step: sgd,
    may_stop: always_may_stop,
    max_dim: None,
};

fn sgd(ctx: &Ctx, s: &mut WalkerState, hp: &[f64]) {
    let c = clip_scale(s.sc[SC_GNORM], hp[2]);
    let lr = hp[0] * ctx.lr_scale;
    noisy_step(ctx, s, lr * c, lr * hp[1]);
}
