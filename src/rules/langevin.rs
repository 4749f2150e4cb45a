//! Overdamped Langevin dynamics (Euler-Maruyama). WGSL twin: shaders/rules/langevin.wgsl.
//! x -= lr(t) clip(g) + sqrt(2 lr(t) T) xi at temperature T, xi ~ N(0, I) (noisy_step.rs).

use super::noisy_step::noisy_step;
use super::{always_may_stop, clip_scale, Ctx, Op, Rule};
use crate::spec::{Param, Range};
use crate::walk::state::*;

pub static LANGEVIN: Rule = Rule {
    name: "langevin",
    summary: "overdamped Langevin dynamics (Euler-Maruyama)",
    params: params![
        Param::new("lr", 0.01, Range::Positive, "step size"),
        Param::new("temperature", 0.01, Range::NonNegative, "temperature T"),
    ],
    wgsl: Some(concat!(
        include_str!("../../shaders/rules/noisy_step.wgsl"),
        include_str!("../../shaders/rules/langevin.wgsl")
    )),
    program: &[Op::Stage("langevin_step")],
    gpu_slots: &[],
    gpu_scalars: &[],
    step: langevin,
    may_stop: always_may_stop,
    max_dim: None,
};

fn langevin(ctx: &Ctx, s: &mut WalkerState, hp: &[f64]) {
    let c = clip_scale(s.sc[SC_GNORM], hp[2]);
    let lr = hp[0] * ctx.lr_scale;
    noisy_step(ctx, s, lr * c, (2.0 * lr * hp[1]).sqrt());
}
