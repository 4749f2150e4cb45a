//! Plain gradient descent: x <- x - lr(t) * clip(g). WGSL twin: shaders/rules/gd.wgsl.

use super::{always_may_stop, clip_scale, Ctx, Op, Rule};
use crate::spec::{Param, Range};
use crate::walk::state::*;

const LR: usize = 0;
const CLIP_: usize = 1;

pub static GD: Rule = Rule {
    name: "gd",
    summary: "gradient descent",
    params: params![Param::new("lr", 0.01, Range::Positive, "step size")],
    wgsl: Some(include_str!("../../shaders/rules/gd.wgsl")),
    program: &[Op::Stage("gd_step")],
    gpu_slots: &[],
    gpu_scalars: &[],
    step,
    may_stop: always_may_stop,
    max_dim: None,
};

fn step(ctx: &Ctx, s: &mut WalkerState, hp: &[f64]) {
    let k = hp[LR] * ctx.lr_scale * clip_scale(s.sc[SC_GNORM], hp[CLIP_]);
    let [x, _, g, ..] = &mut s.slots;
    descend(x, g, k);
}

/// x <- x - k g, compiled for the widest vectors the CPU has (the same multiplication and
/// subtraction per coordinate in every version, so the result does not depend on the CPU).
#[inline(always)]
fn descend_body(x: &mut [f64], g: &[f64], k: f64) {
    for (xi, gi) in x.iter_mut().zip(g) {
        *xi -= k * gi;
    }
}

crate::objective::batch::multiversion!(descend, descend_body, (x: &mut [f64], g: &[f64], k: f64));
