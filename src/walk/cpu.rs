//! The CPU walk: the f64 reference of shaders/walk.wgsl, and the `cpu` backend (rayon over
//! walkers). Same step order, same stop tests, same random numbers as the shader.

use rayon::prelude::*;

use super::snapshot::Checkpoints;
use super::state::*;
use super::{EndStates, WalkPlan};
use crate::objective::{sphere, Objective};
use crate::rules::{schedule, Ctx, Optimizer};

/// f, gradient (projected on spheres), |grad|, escape bookkeeping and the stop test at step t.
fn observe(
    obj: &dyn Objective,
    opt: &Optimizer,
    plan: &WalkPlan,
    s: &mut WalkerState,
    hp: &[f64],
    ctx: &Ctx,
) -> Status {
    let [x, _, g, ..] = &mut s.slots;
    let f = obj.gradient(x, g);
    observe_at(obj.sphere(), opt, plan, s, hp, ctx, f)
}

/// [`observe`] with f and the Euclidean gradient at x (in SLOT_GRAD) already evaluated (the
/// batched engine evaluates a block of walkers at once). observe.wgsl's `observe_at`.
/// |g|², |x − start|² and whether some x_i is not finite or beyond `bound`: eight partial sums
/// (element i in lane i mod 8) and a non-short-circuit test over chunks of eight, so that the
/// loop vectorises without bounds checks; compiled for AVX-512 or AVX2 where the CPU has them,
/// with the same arithmetic (the batched engine runs this for every walker and step).
#[inline(always)]
fn norms_body(x: &[f64], g: &[f64], start: &[f64], bound: f64) -> (f64, f64, bool) {
    let (mut g2, mut d2) = ([0.0f64; 8], [0.0f64; 8]);
    let mut out = false;
    let mut lane = |xi: f64, gi: f64, si: f64, l: usize| {
        let d = xi - si;
        g2[l] += gi * gi;
        d2[l] += d * d;
        out |= !xi.is_finite() | (xi.abs() > bound);
    };
    let body = x.len() / 8 * 8;
    let (xb, gb, sb) = (&x[..body], &g[..body], &start[..body]);
    for ((xc, gc), sc) in xb
        .chunks_exact(8)
        .zip(gb.chunks_exact(8))
        .zip(sb.chunks_exact(8))
    {
        for l in 0..8 {
            lane(xc[l], gc[l], sc[l], l);
        }
    }
    for (l, ((&xi, &gi), &si)) in x[body..]
        .iter()
        .zip(&g[body..])
        .zip(&start[body..])
        .enumerate()
    {
        lane(xi, gi, si, l);
    }
    let fold = |a: [f64; 8]| ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
    (fold(g2), fold(d2), out)
}

crate::objective::batch::multiversion!(norms, norms_body, (x: &[f64], g: &[f64], start: &[f64], bound: f64) -> (f64, f64, bool));

/// [`norms_body`] without |x − start|² (a walk without an escape radius): |g|² summed in the
/// same lanes and order, so the gradient norm is the same bit for bit.
#[inline(always)]
fn grad_norm_body(x: &[f64], g: &[f64], bound: f64) -> (f64, bool) {
    let mut g2 = [0.0f64; 8];
    let mut out = false;
    let mut lane = |xi: f64, gi: f64, l: usize| {
        g2[l] += gi * gi;
        out |= !xi.is_finite() | (xi.abs() > bound);
    };
    let body = x.len() / 8 * 8;
    for (xc, gc) in x[..body].chunks_exact(8).zip(g[..body].chunks_exact(8)) {
        for l in 0..8 {
            lane(xc[l], gc[l], l);
        }
    }
    for (l, (&xi, &gi)) in x[body..].iter().zip(&g[body..]).enumerate() {
        lane(xi, gi, l);
    }
    let fold = |a: [f64; 8]| ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
    (fold(g2), out)
}

crate::objective::batch::multiversion!(grad_norm, grad_norm_body, (x: &[f64], g: &[f64], bound: f64) -> (f64, bool));

pub fn observe_at(
    sphere: bool,
    opt: &Optimizer,
    plan: &WalkPlan,
    s: &mut WalkerState,
    hp: &[f64],
    ctx: &Ctx,
    f: f64,
) -> Status {
    let t = ctx.t;
    let [x, _, g, .., start] = &mut s.slots;
    let mut bad = !f.is_finite();
    if sphere {
        let n = x.len() as f64;
        let radial = x.iter().zip(g.iter()).map(|(a, b)| a * b).sum::<f64>() / n;
        s.sc[SC_RADIAL] = radial;
        for (gi, xi) in g.iter_mut().zip(x.iter()) {
            *gi -= radial * xi;
        }
    }
    let (g2, d2, out) = if plan.escape_radius > 0.0 {
        norms(x, g, start, plan.bound)
    } else {
        let (g2, out) = grad_norm(x, g, plan.bound);
        (g2, 0.0, out)
    };
    bad |= out;
    let gn = g2.sqrt();
    bad = bad || !gn.is_finite();
    s.sc[SC_F] = f;
    s.sc[SC_GNORM] = gn;
    if t == 0 {
        s.sc[SC_F0] = f;
    }
    if s.ct[CT_ESCAPE] == NO_ESCAPE && !bad {
        let far = plan.escape_radius > 0.0 && d2 >= plan.escape_radius * plan.escape_radius;
        let drop = plan.escape_drop > 0.0 && s.sc[SC_F0] - f >= plan.escape_drop;
        if far || drop {
            s.ct[CT_ESCAPE] = t;
        }
    }
    if bad {
        Status::Diverged
    } else if gn <= plan.grad_tol
        && (!plan.settle_after_escape || s.ct[CT_ESCAPE] != NO_ESCAPE)
        && (opt.rule.may_stop)(ctx, s, hp)
    {
        Status::Converged
    } else if t >= plan.max_steps {
        Status::MaxSteps
    } else {
        Status::Running
    }
}

/// The rule's step and, on spheres, the retraction (walk.wgsl after observe).
pub fn step(obj: &dyn Objective, opt: &Optimizer, s: &mut WalkerState, hp: &[f64], ctx: &Ctx) {
    (opt.rule.step)(ctx, s, hp);
    if obj.sphere() {
        sphere::retract(&mut s.slots[SLOT_X]);
    }
}

/// The step of a walker that observed its full-batch gradient: with a minibatch size B > 0
/// (its `batch` row, rules::BATCH), the minibatch's f and gradient at x (rows
/// `rng::minibatch` of (seed, walker, t)) replace the observed ones and the rule steps on the
/// minibatch's loss; with B = 0, [`step`]. observe.wgsl's `minibatch_observe` and the
/// minibatch passes of the multi-pass engine.
pub fn minibatch_step(
    obj: &dyn Objective,
    opt: &Optimizer,
    s: &mut WalkerState,
    hp: &[f64],
    ctx: &Ctx,
) {
    let b = hp[opt.batch_at()] as usize;
    if b == 0 {
        return step(obj, opt, s, hp, ctx);
    }
    let rows = crate::rng::minibatch(ctx.seed, ctx.walker, ctx.t, b, obj.samples());
    let mini = obj
        .minibatch(&rows)
        .expect("batch > 0 is refused for objectives without data");
    let [x, _, g, ..] = &mut s.slots;
    let f = mini.gradient(x, g);
    s.sc[SC_F] = f;
    s.sc[SC_GNORM] = g.iter().map(|v| v * v).sum::<f64>().sqrt();
    let c = Ctx {
        obj: mini.as_ref(),
        ..*ctx
    };
    step(mini.as_ref(), opt, s, hp, &c);
}

/// Advances one walker by up to `steps` steps (the shader's walk_segment for one invocation).
pub fn walk_segment(
    obj: &dyn Objective,
    opt: &Optimizer,
    plan: &WalkPlan,
    walker: u32,
    s: &mut WalkerState,
    hp: &[f64],
    steps: u32,
) {
    if s.ct[CT_STATUS] != Status::Running as u32 {
        return;
    }
    let mut t = s.ct[CT_STEPS];
    let mut status = Status::Running;
    let sched = opt.rule.schedule_at();
    for _ in 0..steps {
        let ctx = Ctx {
            obj,
            seed: plan.seed,
            walker,
            t,
            lr_scale: schedule::factor_at(hp, sched, t),
        };
        status = observe(obj, opt, plan, s, hp, &ctx);
        if status != Status::Running {
            break;
        }
        minibatch_step(obj, opt, s, hp, &ctx);
        t += 1;
    }
    s.ct[CT_STEPS] = t;
    s.ct[CT_STATUS] = status as u32;
}

/// Runs every walker to the end on the CPU (f64), in parallel. `progress` gets walker-steps,
/// a finished walker counting as max_steps + 1.
pub fn run(
    obj: &dyn Objective,
    opt: &Optimizer,
    plan: &WalkPlan,
    starts: &[f64],
    hyper: &super::Hyper,
    progress: &(dyn Fn(u64) + Sync),
) -> EndStates {
    run_instances(&[obj], opt, plan, starts, hyper, progress)
}

/// Runs walkers on K landscape instances (the CPU twin of an instanced dispatch, see
/// `param_base` in shaders/common.wgsl): the walkers split into K equal consecutive blocks and
/// block k walks `objs[k]`. All instances must have one dimension; `starts.len()` must be a
/// multiple of K x N (the caller checks; a remainder would walk the last instance).
pub fn run_instances(
    objs: &[&dyn Objective],
    opt: &Optimizer,
    plan: &WalkPlan,
    starts: &[f64],
    hyper: &super::Hyper,
    progress: &(dyn Fn(u64) + Sync),
) -> EndStates {
    run_instances_from(objs, opt, plan, starts, hyper, progress, None)
}

/// [`run_instances`] in segments with checkpoints: the walk continues from the state
/// `checkpoints` restores (or starts), and hands every walker's state to it at each segment
/// boundary. Without checkpoints every walker runs to its end in one go.
pub fn run_instances_from(
    objs: &[&dyn Objective],
    opt: &Optimizer,
    plan: &WalkPlan,
    starts: &[f64],
    hyper: &super::Hyper,
    progress: &(dyn Fn(u64) + Sync),
    checkpoints: Option<&dyn Checkpoints>,
) -> EndStates {
    let n = objs[0].dim();
    let w_total = starts.len() / n;
    let per_instance = w_total.div_ceil(objs.len()).max(1);
    let restored = checkpoints.and_then(|c| c.restore());
    let mut t = restored.as_ref().map_or(0, |s| s.t);
    let mut states: Vec<WalkerState> = match restored {
        Some(s) => s.states,
        None => (0..w_total)
            .map(|w| WalkerState::new(&starts[w * n..(w + 1) * n]))
            .collect(),
    };
    let hps: Vec<Vec<f64>> = (0..w_total).map(|w| hyper.walker(w)).collect();
    // Progress in walker-steps, a finished walker counting as all max_steps + 1 of its steps
    // (the GPU counts the same way).
    let per_walker = u64::from(plan.max_steps) + 1;
    let most = plan.max_steps.saturating_add(1);
    let mut segment = if checkpoints.is_some() {
        FIRST_SEGMENT
    } else {
        most
    };
    loop {
        let t0 = std::time::Instant::now();
        states.par_iter_mut().enumerate().for_each(|(w, s)| {
            let id = plan.first_walker + w as u32;
            let obj = objs[(w / per_instance).min(objs.len() - 1)];
            walk_segment(obj, opt, plan, id, s, &hps[w], segment);
        });
        t = t.saturating_add(segment);
        let run = states
            .iter()
            .filter(|s| s.ct[CT_STATUS] == Status::Running as u32)
            .count() as u64;
        progress((w_total as u64 - run) * per_walker + run * u64::from(t).min(per_walker));
        if let Some(c) = checkpoints {
            let refs: Vec<&WalkerState> = states.iter().collect();
            c.boundary(t, &refs, run == 0);
        }
        if run == 0 {
            break;
        }
        segment = next_segment(segment, t0.elapsed().as_secs_f64());
    }
    let mut out = EndStates::new(w_total, n);
    for (w, s) in states.iter().enumerate() {
        out.set(
            w,
            s.x(),
            s.sc[SC_F],
            s.sc[SC_GNORM],
            s.ct[CT_STEPS],
            Status::from_code(s.ct[CT_STATUS]),
            s.ct[CT_ESCAPE],
        );
    }
    out
}

/// Steps of the first segment of a walk with checkpoints (later ones are sized by time).
pub const FIRST_SEGMENT: u32 = 4;
/// Target wall time of one segment of a CPU walk with checkpoints: every walker stops at the
/// boundary (a barrier), so long enough that uneven blocks cost little, short enough that a
/// checkpoint is never far off.
pub const SEGMENT_SECONDS: f64 = 0.5;

/// The steps of the next segment after one of `steps` steps took `seconds`: aimed at
/// [`SEGMENT_SECONDS`], changing by at most 4x at a time.
pub fn next_segment(steps: u32, seconds: f64) -> u32 {
    let scale = (SEGMENT_SECONDS / seconds.max(1e-6)).clamp(0.5, 4.0);
    ((f64::from(steps) * scale) as u32).clamp(1, 1 << 20)
}
