//! The noisy step of sgd and langevin, x -= a g + b xi. WGSL twin: shaders/rules/noisy_step.wgsl.
//! xi ~ N(0, I) from the NOISE stream at (walker, step); each rule chooses a and b, and its WGSL
//! is noisy_step.wgsl followed by its own file.

use super::Ctx;
use crate::rng::{self, Stream};
use crate::walk::state::*;

/// x -= a * g + b * xi (the rule's a holds lr(t) and the clipping factor).
pub(super) fn noisy_step(ctx: &Ctx, s: &mut WalkerState, a: f64, b: f64) {
    let n = s.slots[SLOT_X].len();
    let mut xi = vec![0.0; n];
    rng::gauss_vec(ctx.seed, ctx.walker, ctx.t, Stream::Noise, &mut xi);
    let [x, _, g, ..] = &mut s.slots;
    for i in 0..n {
        x[i] -= a * g[i] + b * xi[i];
    }
}
