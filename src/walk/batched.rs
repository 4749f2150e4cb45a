//! The batched CPU engine (`--backend cpu`): walkers in blocks, each block's gradients in one
//! evaluation (a GEMM for the matrix-shaped objectives, vectorising loops for the separable
//! ones; `objective::batch`), then every walker's observe and step by the per-walker twin's
//! own functions (`walk::cpu::observe_at`, `walk::cpu::step`), in f64. Blocks run in
//! parallel (rayon); inside a block only the walkers still running are evaluated, so walkers
//! that stop cost nothing.
//!
//! Results: a walker's arithmetic does not depend on the other walkers of its block except
//! through the GEMM, whose sums may be ordered differently for another block size or another
//! set of running walkers; end states then agree to f64 rounding (1e-10 absolute over the
//! walks tested in tests/batched.rs), not bit for bit. Rule steps that evaluate the objective
//! themselves (gradnorm's H v, anneal's proposal value) call the twin per walker. With
//! `Precision::F32` products the same holds to f32 rounding (1e-4 in tests/batched.rs).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rayon::prelude::*;

use super::cpu::{minibatch_step, observe_at};
use super::snapshot::Checkpoints;
use super::state::*;
use super::{EndStates, Hyper, WalkPlan};
use crate::objective::batch::{BatchGrad, Precision};
use crate::objective::Objective;
use crate::rules::{schedule, Ctx, Optimizer};

/// Walkers per block unless told otherwise: large enough for an efficient GEMM, small enough
/// that a block's state and scratch stay in cache.
pub const BLOCK: usize = 256;

/// One block: walkers `first..first + len` of the run, all on one landscape instance.
struct Block {
    first: usize,
    len: usize,
    instance: usize,
}

/// Progress shared by the blocks: walker-steps, a stopped walker counting as all its steps.
struct Progress<'a> {
    done: AtomicU64,
    last: std::sync::Mutex<Instant>,
    report: &'a (dyn Fn(u64) + Sync),
}

impl Progress<'_> {
    fn add(&self, d: u64) {
        let total = self.done.fetch_add(d, Ordering::Relaxed) + d;
        if let Ok(mut last) = self.last.try_lock() {
            if last.elapsed() > Duration::from_millis(200) {
                *last = Instant::now();
                (self.report)(total);
            }
        }
    }
}

/// Runs every walker to the end; the walkers split into K equal consecutive blocks over the
/// instances `objs` (as `walk::cpu::run_instances`). `block`: walkers per block; `precision`:
/// of the evaluation, where the objective has an f32 form (`objective::batch`).
#[allow(clippy::too_many_arguments)]
pub fn run_instances(
    objs: &[&dyn Objective],
    opt: &Optimizer,
    plan: &WalkPlan,
    starts: &[f64],
    hyper: &Hyper,
    progress: &(dyn Fn(u64) + Sync),
    block: usize,
    precision: Precision,
) -> EndStates {
    run_instances_from(
        objs, opt, plan, starts, hyper, progress, block, precision, None,
    )
}

/// [`run_instances`] in segments with checkpoints: the walk continues from the state
/// `checkpoints` restores (or starts), every block advances by one segment of steps, and at the
/// boundary every walker's state goes to `checkpoints`. The blocks and the order of their
/// running walkers are those of an uninterrupted walk, so each block's evaluations (the GEMM
/// included) see the same rows in the same order and the walk is bit for bit the same.
/// Without checkpoints every block runs to its end in one go.
#[allow(clippy::too_many_arguments)]
pub fn run_instances_from(
    objs: &[&dyn Objective],
    opt: &Optimizer,
    plan: &WalkPlan,
    starts: &[f64],
    hyper: &Hyper,
    progress: &(dyn Fn(u64) + Sync),
    block: usize,
    precision: Precision,
    checkpoints: Option<&dyn Checkpoints>,
) -> EndStates {
    let n = objs[0].dim();
    let total = starts.len() / n;
    let per_instance = total.div_ceil(objs.len()).max(1);
    let evals: Vec<Option<Box<dyn BatchGrad + '_>>> =
        objs.iter().map(|o| o.batch(precision)).collect();
    let mut blocks = Vec::new();
    for k in 0..objs.len() {
        let (lo, hi) = (k * per_instance, ((k + 1) * per_instance).min(total));
        for first in (lo..hi).step_by(block.max(1)) {
            blocks.push(Block {
                first,
                len: block.max(1).min(hi - first),
                instance: k,
            });
        }
    }
    let per_walker = u64::from(plan.max_steps) + 1;
    if checkpoints.is_none() && evals.iter().all(|e| e.as_ref().is_none_or(|e| e.rowwise())) {
        return stream(objs, &evals, opt, plan, starts, hyper, progress, &blocks);
    }
    let restored = checkpoints.and_then(|c| c.restore());
    let mut t = restored.as_ref().map_or(0, |s| s.t);
    let mut walks: Vec<BlockWalk> = match restored.map(|s| s.states.into_iter()) {
        Some(mut it) => blocks
            .iter()
            .map(|b| BlockWalk::new(it.by_ref().take(b.len).collect(), hyper, b))
            .collect(),
        // Each block allocates its walkers' state on the thread that will walk it (the
        // allocations are a visible part of a short walk).
        None => blocks
            .par_iter()
            .map(|b| {
                let states = (b.first..b.first + b.len)
                    .map(|w| WalkerState::new(&starts[w * n..(w + 1) * n]))
                    .collect();
                BlockWalk::new(states, hyper, b)
            })
            .collect(),
    };
    let done: u64 = walks
        .iter()
        .flat_map(|b| &b.states)
        .map(|s| match s.ct[CT_STATUS] == Status::Running as u32 {
            true => u64::from(t).min(per_walker),
            false => per_walker,
        })
        .sum();
    let shared = Progress {
        done: AtomicU64::new(done),
        last: std::sync::Mutex::new(Instant::now()),
        report: progress,
    };
    let most = plan.max_steps.saturating_add(1);
    let mut segment = match checkpoints {
        Some(_) => super::cpu::FIRST_SEGMENT,
        None => most,
    };
    // One set of buffers per worker thread for the whole walk. (`for_each_init` makes one per
    // rayon job, and rayon splits a loop of 16 blocks into up to 16 jobs: each block then
    // allocated fresh buffers of a megabyte or more, and the kernel zeroed their pages — 7–20%
    // of a 10-step f32 field walk at W = 4096, N = 64, M = 1024.)
    let pool: Vec<std::sync::Mutex<Buffers>> = (0..rayon::current_num_threads().max(1))
        .map(|_| Default::default())
        .collect();
    loop {
        let t0 = Instant::now();
        walks.par_iter_mut().zip(&blocks).for_each(|(bw, b)| {
            let slot = rayon::current_thread_index().unwrap_or(0) % pool.len();
            // A set that is held already is not waited for: a thread holds its own set only
            // while it walks a block, and were an objective ever to use rayon inside its
            // evaluation, this thread could take up another block meanwhile; it then walks
            // that one with a fresh set instead of deadlocking on its own lock.
            let mut guard = pool[slot].try_lock().ok();
            let mut fresh = None;
            let buf = match guard.as_deref_mut() {
                Some(b) => b,
                None => fresh.insert(Buffers::default()),
            };
            let obj = objs[b.instance];
            let eval = evals[b.instance].as_deref();
            walk_block(obj, eval, opt, plan, b, bw, buf, t, segment, &shared);
        });
        t = t.saturating_add(segment);
        let run: usize = walks.iter().map(|b| b.running.len()).sum();
        if let Some(c) = checkpoints {
            let refs: Vec<&WalkerState> = walks.iter().flat_map(|b| &b.states).collect();
            c.boundary(t, &refs, run == 0);
        }
        if run == 0 {
            break;
        }
        segment = super::cpu::next_segment(segment, t0.elapsed().as_secs_f64());
    }
    progress(total as u64 * per_walker);
    let mut out = EndStates::new(total, n);
    for (b, bw) in blocks.iter().zip(&walks) {
        for (j, s) in bw.states.iter().enumerate() {
            out.set(
                b.first + j,
                s.x(),
                s.sc[SC_F],
                s.sc[SC_GNORM],
                s.ct[CT_STEPS],
                Status::from_code(s.ct[CT_STATUS]),
                s.ct[CT_ESCAPE],
            );
        }
    }
    // Freed in parallel, as they were allocated.
    walks.into_par_iter().for_each(drop);
    out
}

/// One block's walk between segments: its walkers, their hyperparameters, the ones still
/// running (in walker order).
struct BlockWalk {
    states: Vec<WalkerState>,
    hps: Vec<Vec<f64>>,
    running: Vec<usize>,
}

impl BlockWalk {
    fn new(states: Vec<WalkerState>, hyper: &Hyper, b: &Block) -> BlockWalk {
        let running = (0..states.len())
            .filter(|&w| states[w].ct[CT_STATUS] == Status::Running as u32)
            .collect();
        BlockWalk {
            hps: (b.first..b.first + b.len)
                .map(|w| hyper.walker(w))
                .collect(),
            states,
            running,
        }
    }
}

/// f and the gradient (into SLOT_GRAD) of the `running` walkers of a block.
fn evaluate(
    obj: &dyn Objective,
    eval: Option<&dyn BatchGrad>,
    states: &mut [WalkerState],
    running: &[usize],
    buf: &mut Buffers,
) {
    let n = obj.dim();
    let rows = running.len();
    match eval {
        Some(e) if e.rowwise() => {
            buf.f.resize(rows, 0.0);
            for (k, &w) in running.iter().enumerate() {
                let [x, _, g, ..] = &mut states[w].slots;
                e.grad(x, 1, &mut buf.f[k..k + 1], g, &mut buf.scratch);
            }
        }
        Some(e) => {
            buf.x.clear();
            for &w in running {
                buf.x.extend_from_slice(states[w].x());
            }
            buf.g.resize(rows * n, 0.0);
            buf.f.resize(rows, 0.0);
            e.grad(&buf.x, rows, &mut buf.f, &mut buf.g, &mut buf.scratch);
            for (k, &w) in running.iter().enumerate() {
                states[w].slots[SLOT_GRAD].copy_from_slice(&buf.g[k * n..(k + 1) * n]);
            }
        }
        None => {
            buf.f.resize(rows, 0.0);
            for (k, &w) in running.iter().enumerate() {
                let [x, _, g, ..] = &mut states[w].slots;
                buf.f[k] = obj.gradient(x, g);
            }
        }
    }
}

/// The evaluation buffers, reused by every block a worker thread walks (one set per block was
/// allocated and first touched per block: 9% of a 10-step field walk at W = 4096, N = 64,
/// M = 1024 went to the kernel zeroing its fresh pages).
#[derive(Default)]
struct Buffers {
    x: Vec<f64>,
    g: Vec<f64>,
    f: Vec<f64>,
    scratch: Vec<f64>,
}

/// Advances a block by up to `steps` steps from step `t`.
#[allow(clippy::too_many_arguments)]
fn walk_block(
    obj: &dyn Objective,
    eval: Option<&dyn BatchGrad>,
    opt: &Optimizer,
    plan: &WalkPlan,
    b: &Block,
    bw: &mut BlockWalk,
    buf: &mut Buffers,
    mut t: u32,
    steps: u32,
    progress: &Progress,
) {
    let per_walker = u64::from(plan.max_steps) + 1;
    let sched = opt.rule.schedule_at();
    let BlockWalk {
        states,
        hps,
        running,
    } = bw;
    if eval.is_none_or(|e| e.rowwise()) {
        // Rows are independent: each walker takes all its steps of the segment in turn, so its
        // vectors stay in the L1 cache from one step to the next instead of streaming the
        // block's state through L2 every step. The arithmetic of every walker is the one of
        // the step-major loop below, bit for bit.
        let mut still = Vec::with_capacity(running.len());
        // Walker-steps done, handed to the shared progress every 64 walkers (one atomic add
        // per walker was a visible part of a short walk).
        let mut done = 0u64;
        for (k, &w) in running.iter().enumerate() {
            if k % 64 == 63 {
                progress.add(std::mem::take(&mut done));
            }
            let walker = plan.first_walker + (b.first + w) as u32;
            let (d, stopped) = walk_one(
                obj,
                eval,
                opt,
                plan,
                walker,
                &mut states[w],
                &hps[w],
                t,
                steps,
                &mut buf.scratch,
            );
            done += d;
            if !stopped {
                still.push(w);
            }
        }
        progress.add(done);
        *running = still;
        return;
    }
    for _ in 0..steps {
        if running.is_empty() {
            break;
        }
        evaluate(obj, eval, states, running, buf);
        let mut bonus = 0u64;
        let mut still = Vec::with_capacity(running.len());
        for (k, &w) in running.iter().enumerate() {
            let hp = &hps[w];
            let ctx = Ctx {
                obj,
                seed: plan.seed,
                walker: plan.first_walker + (b.first + w) as u32,
                t,
                lr_scale: schedule::factor_at(hp, sched, t),
            };
            let s = &mut states[w];
            let status = observe_at(obj.sphere(), opt, plan, s, hp, &ctx, buf.f[k]);
            if status == Status::Running {
                minibatch_step(obj, opt, s, hp, &ctx);
                still.push(w);
            } else {
                s.ct[CT_STEPS] = t;
                s.ct[CT_STATUS] = status as u32;
                bonus += per_walker - (u64::from(t) + 1).min(per_walker);
            }
        }
        progress.add(running.len() as u64 + bonus);
        *running = still;
        t += 1;
    }
    // The steps taken so far by the walkers still running (as the twin keeps them).
    for &w in running.iter() {
        states[w].ct[CT_STEPS] = t;
    }
}

/// Walks walker `walker` (state `s`, hyperparameters `hp`) by up to `steps` steps from step
/// `t`, alone (objectives whose rows are independent): the walker-steps it did, counting a
/// stop as all its remaining steps, and whether it stopped. The arithmetic is the step-major
/// loop's, bit for bit.
#[allow(clippy::too_many_arguments)]
fn walk_one(
    obj: &dyn Objective,
    eval: Option<&dyn BatchGrad>,
    opt: &Optimizer,
    plan: &WalkPlan,
    walker: u32,
    s: &mut WalkerState,
    hp: &[f64],
    t: u32,
    steps: u32,
    scratch: &mut Vec<f64>,
) -> (u64, bool) {
    let per_walker = u64::from(plan.max_steps) + 1;
    let sched = opt.rule.schedule_at();
    let mut f1 = [0.0];
    let mut tw = t;
    for _ in 0..steps {
        let f = {
            let [x, _, g, ..] = &mut s.slots;
            match eval {
                Some(e) => {
                    e.grad(x, 1, &mut f1, g, scratch);
                    f1[0]
                }
                None => obj.gradient(x, g),
            }
        };
        let ctx = Ctx {
            obj,
            seed: plan.seed,
            walker,
            t: tw,
            lr_scale: schedule::factor_at(hp, sched, tw),
        };
        let status = observe_at(obj.sphere(), opt, plan, s, hp, &ctx, f);
        if status != Status::Running {
            s.ct[CT_STEPS] = tw;
            s.ct[CT_STATUS] = status as u32;
            let done = u64::from(tw - t) + 1 + per_walker - (u64::from(tw) + 1).min(per_walker);
            return (done, true);
        }
        minibatch_step(obj, opt, s, hp, &ctx);
        tw += 1;
    }
    s.ct[CT_STEPS] = tw;
    (u64::from(tw - t), false)
}

/// A walk without checkpoints on objectives whose rows are independent: each block walks its
/// walkers one after another to their end in one reused state, writing each end state straight
/// into the result. No walker state is held beyond its walk (the allocation, zeroing and
/// freeing of 7 vectors per walker was a third of a 10-step rastrigin walk at W = 4096,
/// N = 64). The same arithmetic as the segmented walk, bit for bit.
#[allow(clippy::too_many_arguments)]
fn stream(
    objs: &[&dyn Objective],
    evals: &[Option<Box<dyn BatchGrad + '_>>],
    opt: &Optimizer,
    plan: &WalkPlan,
    starts: &[f64],
    hyper: &Hyper,
    progress: &(dyn Fn(u64) + Sync),
    blocks: &[Block],
) -> EndStates {
    let n = objs[0].dim();
    let total = starts.len() / n;
    let per_walker = u64::from(plan.max_steps) + 1;
    let shared = Progress {
        done: AtomicU64::new(0),
        last: std::sync::Mutex::new(Instant::now()),
        report: progress,
    };
    let most = plan.max_steps.saturating_add(1);
    let mut out = EndStates::new(total, n);
    // The blocks are consecutive and in order: split the result's rows along them.
    let mut parts = Vec::with_capacity(blocks.len());
    {
        let (mut x, mut f, mut gn) = (&mut out.x[..], &mut out.f[..], &mut out.grad_norm[..]);
        let (mut st, mut status, mut esc) =
            (&mut out.steps[..], &mut out.status[..], &mut out.escape[..]);
        for b in blocks {
            let (x0, x1) = std::mem::take(&mut x).split_at_mut(b.len * n);
            let (f0, f1) = std::mem::take(&mut f).split_at_mut(b.len);
            let (g0, g1) = std::mem::take(&mut gn).split_at_mut(b.len);
            let (s0, s1) = std::mem::take(&mut st).split_at_mut(b.len);
            let (t0, t1) = std::mem::take(&mut status).split_at_mut(b.len);
            let (e0, e1) = std::mem::take(&mut esc).split_at_mut(b.len);
            parts.push((b, x0, f0, g0, s0, t0, e0));
            (x, f, gn, st, status, esc) = (x1, f1, g1, s1, t1, e1);
        }
    }
    parts
        .into_par_iter()
        .for_each(|(b, x, f, gn, st, status, esc)| {
            let (obj, eval) = (objs[b.instance], evals[b.instance].as_deref());
            let mut s = WalkerState::new(&starts[b.first * n..(b.first + 1) * n]);
            let mut scratch = Vec::new();
            let mut done = 0u64;
            for j in 0..b.len {
                if j % 64 == 63 {
                    shared.add(std::mem::take(&mut done));
                }
                let w = b.first + j;
                if j > 0 {
                    s.reset(&starts[w * n..(w + 1) * n]);
                }
                let hp = hyper.walker(w);
                let walker = plan.first_walker + w as u32;
                let (d, stopped) = walk_one(
                    obj,
                    eval,
                    opt,
                    plan,
                    walker,
                    &mut s,
                    &hp,
                    0,
                    most,
                    &mut scratch,
                );
                done += if stopped { d } else { per_walker.min(d) };
                x[j * n..(j + 1) * n].copy_from_slice(s.x());
                f[j] = s.sc[SC_F];
                gn[j] = s.sc[SC_GNORM];
                st[j] = s.ct[CT_STEPS];
                status[j] = Status::from_code(s.ct[CT_STATUS]);
                esc[j] = s.ct[CT_ESCAPE];
            }
            shared.add(done);
        });
    progress(total as u64 * per_walker);
    out
}
