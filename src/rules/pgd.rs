//! Perturbed gradient descent (Jin et al. 2017). WGSL twin: shaders/rules/pgd.wgsl.
//! Jin, Ge, Netrapalli, Kakade & Jordan 2017, "How to escape saddle points efficiently": when
//! |g| <= g_thres and no perturbation happened in the last t_thres steps, add a sample uniform in
//! the ball of radius r (that step moves by the perturbation alone); otherwise a gradient step.
//! A walker with |g| <= grad_tol stops only once t_thres steps have passed since its last
//! perturbation and f fell by less than f_thres since then (the paper's termination test), so it
//! cannot stop on a saddle it has not tried to leave.
//! State: CT_RULE0 = 1 + step of the last perturbation (0 = none), SC_RULE0 = f there.

use super::{clip_scale, Ctx, Op, Rule};
use crate::rng::{self, Stream};
use crate::spec::{Param, Range};
use crate::walk::state::*;

const LR: usize = 0;
const G_THRES: usize = 1;
const T_THRES: usize = 2;
const R: usize = 3;
const F_THRES: usize = 4;
const CLIP_: usize = 5;

pub static PGD: Rule = Rule {
    name: "pgd",
    summary: "perturbed gradient descent (Jin et al. 2017)",
    params: params![
        Param::new("lr", 0.01, Range::Positive, "step size"),
        Param::new(
            "g_thres",
            1e-3,
            Range::NonNegative,
            "perturb when |grad| is at most this",
        ),
        Param::new(
            "t_thres",
            50.0,
            Range::Int(1, 1 << 30),
            "steps between perturbations",
        ),
        Param::new("r", 0.01, Range::Positive, "perturbation ball radius"),
        Param::new(
            "f_thres",
            1e-4,
            Range::NonNegative,
            "stop when f fell less than this since the last perturbation",
        ),
    ],
    wgsl: Some(include_str!("../../shaders/rules/pgd.wgsl")),
    program: &[Op::Stage("pgd_step")],
    gpu_slots: &[],
    gpu_scalars: &[],
    step,
    may_stop,
    max_dim: None,
};

fn quiet_for(s: &WalkerState, t: u32, hp: &[f64]) -> bool {
    let last = s.ct[CT_RULE0];
    last == 0 || f64::from(t - (last - 1)) >= hp[T_THRES]
}

fn step(ctx: &Ctx, s: &mut WalkerState, hp: &[f64]) {
    let n = s.slots[SLOT_X].len();
    if s.sc[SC_GNORM] <= hp[G_THRES] && quiet_for(s, ctx.t, hp) {
        // Uniform in the ball: Gaussian direction, radius r u^(1/N).
        let mut z = vec![0.0; n];
        rng::gauss_vec(ctx.seed, ctx.walker, ctx.t, Stream::Perturb, &mut z);
        let u = rng::uniform4(
            ctx.seed,
            ctx.walker,
            ctx.t,
            n.div_ceil(4) as u32,
            Stream::Perturb,
        )[0];
        let norm = z.iter().map(|v| v * v).sum::<f64>().sqrt();
        let scale = hp[R] * u.powf(1.0 / n as f64) / norm.max(1e-30);
        for (xi, zi) in s.slots[SLOT_X].iter_mut().zip(&z) {
            *xi += scale * zi;
        }
        s.ct[CT_RULE0] = ctx.t + 1;
        s.sc[SC_RULE0] = s.sc[SC_F];
        return;
    }
    let k = hp[LR] * ctx.lr_scale * clip_scale(s.sc[SC_GNORM], hp[CLIP_]);
    let [x, _, g, ..] = &mut s.slots;
    for i in 0..n {
        x[i] -= k * g[i];
    }
}

fn may_stop(ctx: &Ctx, s: &WalkerState, hp: &[f64]) -> bool {
    s.ct[CT_RULE0] != 0 && quiet_for(s, ctx.t, hp) && s.sc[SC_RULE0] - s.sc[SC_F] < hp[F_THRES]
}
