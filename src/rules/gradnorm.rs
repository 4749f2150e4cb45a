//! Gradient-norm descent, the saddle finder. WGSL twin: shaders/rules/gradnorm.wgsl.
//! Descent on 1/2 |grad f|^2, whose gradient is the Hessian-vector product H g. It converges to
//! critical points of every index (and sometimes to local minima of |grad f| that are not critical
//! points; the polish stage rejects those). On spheres, H is the Riemannian Hessian applied to the
//! Riemannian gradient: P (Hess H) g - (x . grad H / N) g.

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
        0.001,
        Range::Positive,
        "step size (stable below 2 / max eigenvalue of H^2)",
    )],
    wgsl: Some(include_str!("../../shaders/rules/gradnorm.wgsl")),
    program: &[
        Op::Eval(Eval::Hvp {
            x: SLOT_X,
            v: SLOT_GRAD,
            out: SLOT_AUX,
        }),
        Op::Stage("gradnorm_update"),
    ],
    step,
    may_stop: always_may_stop,
    max_dim: None,
};

fn step(ctx: &Ctx, s: &mut WalkerState, hp: &[f64]) {
    let n = s.slots[SLOT_X].len();
    let mut d = vec![0.0; n];
    ctx.obj.hvp(&s.slots[SLOT_X], &s.slots[SLOT_GRAD], &mut d);
    if ctx.obj.sphere() {
        sphere::project(&s.slots[SLOT_X], &mut d);
        let radial = s.sc[SC_RADIAL];
        for (di, gi) in d.iter_mut().zip(&s.slots[SLOT_GRAD]) {
            *di -= radial * gi;
        }
    }
    let dn = d.iter().map(|v| v * v).sum::<f64>().sqrt();
    let k = hp[0] * ctx.lr_scale * clip_scale(dn, hp[1]);
    for (xi, di) in s.slots[SLOT_X].iter_mut().zip(&d) {
        *xi -= k * di;
    }
    s.slots[SLOT_AUX].copy_from_slice(&d);
}
