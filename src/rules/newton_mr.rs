//! Newton-MR, the critical-point finder with no step size. WGSL twin: shaders/rules/newton_mr.wgsl.
//! (Roosta, Liu, Xu & Mahoney, "Newton-MR: inexact Newton method with minimum residual
//! sub-problem solver", 2018; used by Frye, Simon, Wadia, Ligeralde, DeWeese & Bouchard 2021 to
//! find critical points of network losses.)
//!
//! Each step solves H p = -g by MINRES (`rules::minres`) from Hessian-vector products —
//! indefinite and singular H are fine, the step heads for the nearest critical point of any
//! index — then takes x + α p with α = 1, 1/2, 1/4, … (at most 8 halvings), the first that
//! decreases |∇f|² enough (Armijo's condition on |∇f|², whose derivative along p is
//! 2 ⟨H p, g⟩ ≤ 0 for a MINRES direction); when none does, the ninth, untested trial is taken.
//! MINRES runs at most min(iters, N) iterations (it is exact after N in exact arithmetic).
//! Undamped and scale-invariant, it needs no tuning; `clip` caps the step length and the
//! learning-rate schedule scales α's start. On spheres the
//! gradient, the Hessian and the step are the Riemannian ones on the tangent space (as in
//! `gradnorm`), and the trial point is retracted to |x|² = N.

use super::minres;
use super::{always_may_stop, clip_scale, Ctx, Eval, Op, Rule};
use crate::objective::sphere;
use crate::spec::{Param, Range};
use crate::walk::state::*;

const ITERS: usize = 0;
/// The rule's own GPU slots (after the shared ones; names in `NEWTON_MR.gpu_slots`).
const NMR_V: usize = SLOTS + 2;
const NMR_P: usize = SLOTS + 6;
/// The GPU's MINRES stops when the Lanczos vector's norm falls below this fraction of |b|
/// (f32; the twin uses 1e-14 in f64).
pub const BREAKDOWN_F32: f64 = 1e-6;
const RTOL: usize = 1;
const CLIP_: usize = 2;

/// Halvings of the line search.
pub const BACKTRACKS: usize = 8;
/// Armijo's constant.
pub const ARMIJO: f64 = 1e-4;

pub static NEWTON_MR: Rule = Rule {
    name: "newton-mr",
    summary: "Newton-MR: Newton steps by MINRES, line search on |grad f|^2; finds critical points of every index, no step size",
    params: params![
        Param::new(
            "iters",
            50.0,
            Range::Int(1, 64),
            "MINRES iterations per step (at most)",
        ),
        Param::new(
            "rtol",
            1e-5,
            Range::Closed(1e-12, 0.5),
            "MINRES stops at residual |H p + g| <= rtol |g|",
        ),
    ],
    wgsl: Some(include_str!("../../shaders/rules/newton_mr.wgsl")),
    program: &[
        Op::Stage("nmr_start"),
        Op::Repeat(minres_iterations, MINRES_ITERATION),
        Op::Eval(Eval::Hvp {
            x: SLOT_X,
            v: NMR_P,
            out: SLOT_AUX,
        }),
        Op::Stage("nmr_search"),
        Op::Repeat(|_| BACKTRACKS, LINE_SEARCH_TRY),
        Op::Stage("nmr_end"),
    ],
    gpu_slots: &[
        "NMR_R1", "NMR_R2", "NMR_V", "NMR_W", "NMR_W1", "NMR_W2", "NMR_P",
    ],
    gpu_scalars: &[
        "NMR_BETA1",
        "NMR_BETA",
        "NMR_OLDB",
        "NMR_DBAR",
        "NMR_EPSLN",
        "NMR_PHIBAR",
        "NMR_CS",
        "NMR_SN",
        "NMR_K",
        "NMR_DONE",
        "NMR_ALPHA",
        "NMR_SLOPE",
        "NMR_OK",
    ],
    step,
    may_stop: always_may_stop,
    max_dim: None,
};

/// MINRES iterations of one step on the GPU: N suffice in exact arithmetic; at most 64
/// (`iters` stops earlier per walker).
fn minres_iterations(n: usize) -> usize {
    n.min(64)
}

const MINRES_ITERATION: &[Op] = &[
    Op::Eval(Eval::Hvp {
        x: SLOT_X,
        v: NMR_V,
        out: SLOT_AUX,
    }),
    Op::Stage("nmr_iterate"),
];

const LINE_SEARCH_TRY: &[Op] = &[Op::Eval(Eval::Grad { x: SLOT_TRIAL }), Op::Stage("nmr_try")];

/// H v (the Riemannian Hessian on spheres: P (Hess H) v - (x . grad H / N) v for tangent v).
pub fn hessian_times(ctx: &Ctx, x: &[f64], radial: f64, v: &[f64], out: &mut [f64]) {
    ctx.obj.hvp(x, v, out);
    if ctx.obj.sphere() {
        sphere::project(x, out);
        for (o, vi) in out.iter_mut().zip(v) {
            *o -= radial * vi;
        }
    }
}

/// f and the gradient at y (the Riemannian gradient on spheres) into g; returns |g|^2.
fn gradient_norm2(ctx: &Ctx, y: &[f64], g: &mut [f64]) -> f64 {
    ctx.obj.gradient(y, g);
    if ctx.obj.sphere() {
        sphere::project(y, g);
    }
    g.iter().map(|v| v * v).sum()
}

fn step(ctx: &Ctx, s: &mut WalkerState, hp: &[f64]) {
    let n = s.slots[SLOT_X].len();
    let x = s.slots[SLOT_X].clone();
    let g = s.slots[SLOT_GRAD].clone();
    let radial = s.sc[SC_RADIAL];
    let b: Vec<f64> = g.iter().map(|v| -v).collect();
    let iters = (hp[ITERS] as usize).min(minres_iterations(n));
    let (p, _) = minres::solve(&b, iters, hp[RTOL], |v, out| {
        hessian_times(ctx, &x, radial, v, out)
    });
    let mut hpv = vec![0.0; n];
    hessian_times(ctx, &x, radial, &p, &mut hpv);
    let slope: f64 = hpv.iter().zip(&g).map(|(a, b)| a * b).sum();
    let g2: f64 = g.iter().map(|v| v * v).sum();
    let pn = p.iter().map(|v| v * v).sum::<f64>().sqrt();
    let mut alpha = ctx.lr_scale * clip_scale(pn, hp[CLIP_]);
    let (mut trial, mut gt) = (vec![0.0; n], vec![0.0; n]);
    let form = |alpha: f64, trial: &mut [f64]| {
        for i in 0..n {
            trial[i] = x[i] + alpha * p[i];
        }
        if ctx.obj.sphere() {
            sphere::retract(trial);
        }
    };
    form(alpha, &mut trial);
    for _ in 0..BACKTRACKS {
        if gradient_norm2(ctx, &trial, &mut gt) <= g2 + 2.0 * ARMIJO * alpha * slope {
            break;
        }
        alpha *= 0.5;
        form(alpha, &mut trial);
    }
    s.slots[SLOT_X].copy_from_slice(&trial);
    s.slots[SLOT_AUX].copy_from_slice(&p);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The WGSL's literal constants are the twin's.
    #[test]
    fn the_wgsl_constants_are_the_twins() {
        let wgsl = NEWTON_MR.wgsl.unwrap_or_default();
        let value = |name: &str| -> f64 {
            let line = wgsl
                .lines()
                .find(|l| l.starts_with(&format!("const {name}: f32 = ")))
                .unwrap_or_else(|| panic!("{name} missing"));
            line.split('=')
                .nth(1)
                .unwrap()
                .trim()
                .trim_end_matches(';')
                .parse()
                .unwrap()
        };
        assert_eq!(value("NMR_ARMIJO"), ARMIJO);
        assert_eq!(value("NMR_BREAKDOWN"), BREAKDOWN_F32);
        assert_eq!(NEWTON_MR.program.len(), 6);
    }
}
