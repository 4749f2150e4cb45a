//! Gradient-norm descent, the saddle finder. WGSL twin: shaders/rules/gradnorm.wgsl.
//! Descent on 1/2 |grad f|^2, whose gradient is the Hessian-vector product H g. It converges to
//! critical points of every index (and sometimes to local minima of |grad f| that are not critical
//! points; the polish stage rejects those). On spheres, H is the Riemannian Hessian applied to the
//! Riemannian gradient: P (Hess H) g - (x . grad H / N) g.
//!
//! The step is x <- x - alpha d, d = H g. With `lr` = 0 (the default) alpha is the exact line
//! search of the local quadratic model, the minimiser of |g - alpha H d|^2: alpha = <g, H d> /
//! |H d|^2 (always >= 0, as <g, H d> = |H g|^2), at the cost of one more Hessian-vector
//! product per step. A fixed step would have to stay below 2 / max eigenvalue of H^2, which
//! depends on the objective and the point: the default needs no tuning on any objective of
//! `list`. `lr` > 0 forces the fixed step lr d; `clip` caps the step length alpha |d|.

use super::{always_may_stop, clip_scale, Ctx, Eval, Op, Rule};
use crate::objective::sphere;
use crate::spec::{Param, Range};
use crate::walk::state::*;

pub static GRADNORM: Rule = Rule {
    name: "gradnorm",
    summary:
        "descent on |grad f|^2/2 via Hessian-vector products: finds critical points of every index",
    params: params![Param::new(
        "lr",
        0.0,
        Range::NonNegative,
        "step size; 0 = the exact line search of the local quadratic model (no tuning)",
    )],
    wgsl: Some(include_str!("../../shaders/rules/gradnorm.wgsl")),
    program: &[
        Op::Eval(Eval::Hvp {
            x: SLOT_X,
            v: SLOT_GRAD,
            out: SLOT_AUX,
        }),
        Op::Stage("gradnorm_direction"),
        Op::Eval(Eval::Hvp {
            x: SLOT_X,
            v: SLOT_AUX,
            out: SLOT_TRIAL,
        }),
        Op::Stage("gradnorm_update"),
    ],
    gpu_slots: &[],
    gpu_scalars: &[],
    step,
    may_stop: always_may_stop,
    max_dim: None,
};

/// H v at the walker's point: the Riemannian Hessian on spheres, P (Hess H) v - radial v.
fn hessian_times(ctx: &Ctx, s: &WalkerState, v: &[f64], out: &mut [f64]) {
    ctx.obj.hvp(&s.slots[SLOT_X], v, out);
    if ctx.obj.sphere() {
        sphere::project(&s.slots[SLOT_X], out);
        let radial = s.sc[SC_RADIAL];
        for (o, vi) in out.iter_mut().zip(v) {
            *o -= radial * vi;
        }
    }
}

fn step(ctx: &Ctx, s: &mut WalkerState, hp: &[f64]) {
    let n = s.slots[SLOT_X].len();
    let (mut d, mut hd) = (vec![0.0; n], vec![0.0; n]);
    hessian_times(ctx, s, &s.slots[SLOT_GRAD], &mut d);
    hessian_times(ctx, s, &d, &mut hd);
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p * q).sum::<f64>();
    let mut alpha = hp[0];
    if alpha == 0.0 {
        let hd2 = dot(&hd, &hd);
        alpha = if hd2 > 0.0 {
            dot(&s.slots[SLOT_GRAD], &hd) / hd2
        } else {
            0.0
        };
    }
    let dn = dot(&d, &d).sqrt();
    let k = alpha * ctx.lr_scale * clip_scale(alpha * dn, hp[1]);
    for (xi, di) in s.slots[SLOT_X].iter_mut().zip(&d) {
        *xi -= k * di;
    }
    s.slots[SLOT_AUX].copy_from_slice(&d);
}
