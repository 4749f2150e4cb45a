//! Noisy gradient steps (lr is the scheduled lr(t)). `sgd`: x -= lr (clip(g) + noise * xi), the gradient plus isotropic
//! Gaussian noise as a stand-in for minibatch noise. `langevin`: x -= lr clip(g) +
//! sqrt(2 lr T) xi, the Euler-Maruyama step of overdamped Langevin dynamics at temperature T.
//! xi ~ N(0, I) from the NOISE stream at (walker, step). WGSL twins: shaders/rules/sgd.wgsl,
//! shaders/rules/langevin.wgsl.

use super::{always_may_stop, clip_scale, Ctx, Op, Rule};
use crate::rng::{self, Stream};
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
    step: sgd,
    may_stop: always_may_stop,
    max_dim: None,
};

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
    step: langevin,
    may_stop: always_may_stop,
    max_dim: None,
};

/// x -= a * clip(g) + b * xi.
fn noisy_step(ctx: &Ctx, s: &mut WalkerState, a: f64, b: f64) {
    let n = s.slots[SLOT_X].len();
    let mut xi = vec![0.0; n];
    rng::gauss_vec(ctx.seed, ctx.walker, ctx.t, Stream::Noise, &mut xi);
    let [x, _, g, ..] = &mut s.slots;
    for i in 0..n {
        x[i] -= a * g[i] + b * xi[i];
    }
}

fn sgd(ctx: &Ctx, s: &mut WalkerState, hp: &[f64]) {
    let c = clip_scale(s.sc[SC_GNORM], hp[2]);
    let lr = hp[0] * ctx.lr_scale;
    noisy_step(ctx, s, lr * c, lr * hp[1]);
}

fn langevin(ctx: &Ctx, s: &mut WalkerState, hp: &[f64]) {
    let c = clip_scale(s.sc[SC_GNORM], hp[2]);
    let lr = hp[0] * ctx.lr_scale;
    noisy_step(ctx, s, lr * c, (2.0 * lr * hp[1]).sqrt());
}
