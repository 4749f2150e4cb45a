//! `saddlescope bench`: the workloads of shared/peers/peer_bench.py (same shapes, plain GD,
//! same learning rates), timed on this tool's backend and printed in that script's format.

use std::time::Instant;

use crate::backend::Backend;
use crate::objective;
use crate::rules;
use crate::spec::SpecError;
use crate::walk::init::Init;
use crate::walk::{Hyper, WalkPlan};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    Field,
    Pspin3,
    Rastrigin,
    /// The classification stage alone: sorted eigenvalues of `walkers` random symmetric
    /// (GOE) matrices of size `dim`, in parallel over matrices, as `sample` runs it.
    Eigen,
}

/// Floating-point operations per run, as peer_bench.py counts them.
pub fn flops(w: Workload, walkers: f64, n: f64, m: f64, steps: f64) -> f64 {
    match w {
        Workload::Field => steps * (4.0 * walkers * n * m + 6.0 * walkers * m),
        Workload::Pspin3 => {
            steps * (2.0 * walkers * n * n * n + walkers * n * n + 8.0 * walkers * n)
        }
        Workload::Rastrigin => steps * 8.0 * walkers * n,
        // Householder tridiagonalisation, the bulk of a symmetric eigenvalue solve.
        Workload::Eigen => walkers * 4.0 / 3.0 * n * n * n,
    }
}

/// What one timed workload did.
#[derive(Debug, Clone, Copy)]
pub struct Timed {
    /// Best wall time of the repeats, seconds (until the last walker is done).
    pub seconds: f64,
    /// Walker-steps the walkers took: every walker `steps` of them without `until`; with it
    /// each walker's steps until |grad f| <= until (a stopped walker takes no more).
    pub useful_steps: u64,
    /// Walkers that reached |grad f| <= until (0 without `until`).
    pub converged: usize,
}

/// The objective spec, GD's learning rate and the starts of a walking workload, as
/// peer_bench.py has them.
fn workload(w: Workload, n: usize, m: usize) -> (String, f64, &'static str) {
    match w {
        Workload::Field => (
            format!("field:n={n},features={m},length=1,mu=0.1,seed=0"),
            0.01,
            "normal:sigma=1",
        ),
        Workload::Pspin3 => (format!("pspin:p=3,n={n},seed=0"), 0.001, "normal:sigma=1"),
        Workload::Rastrigin => (
            format!("rastrigin:n={n}"),
            0.001,
            "uniform:lo=-5.12,hi=5.12",
        ),
        Workload::Eigen => (String::new(), 0.0, ""),
    }
}

/// The usage checks of a walking workload, before any backend is opened or anything
/// allocated: counts in range, the landscape valid, the walkers' memory available.
pub fn check(w: Workload, walkers: usize, n: usize, m: usize, steps: u32) -> Result<(), SpecError> {
    if w == Workload::Eigen {
        return Ok(());
    }
    crate::sample::check_walkers("--walkers", walkers, crate::sample::MAX_WALKERS)?;
    if steps == 0 {
        return Err(SpecError::flag("--steps", steps, ">= 1"));
    }
    let (spec, _, _) = workload(w, n, m);
    // The workload's landscape checks --dim and --features (named by their keys n, features).
    objective::parse(&spec)?;
    let gd = rules::parse("gd")?;
    let mut estimate = crate::run::memory::Estimate::new();
    // The end states of the warm-up and of the timed run are held at once.
    estimate
        .walkers(
            walkers as u64,
            n as u64,
            gd.rule.slots() as u64,
            gd.hyper().len() as u64,
        )
        .add(
            "the previous repeat's end states",
            walkers as u64,
            n as u64 * 8,
        );
    crate::run::memory::check(
        &format!("bench --walkers {walkers} --dim {n}"),
        &estimate,
        "fewer --walkers or a smaller --dim",
    )
}

/// Runs one workload `repeat` times (after an untimed warm-up) and returns the best wall time.
/// `until`: every walker stops when its gradient norm (Riemannian on the sphere) is at most
/// this, as peer_bench.py's `--until` mode; `steps` stays the cap.
#[allow(clippy::too_many_arguments)]
pub fn run(
    backend: &Backend,
    w: Workload,
    walkers: usize,
    n: usize,
    m: usize,
    steps: u32,
    repeat: usize,
    until: Option<f64>,
) -> anyhow::Result<Timed> {
    if w == Workload::Eigen {
        let seconds = eigen(walkers, n, repeat, crate::critical::eigen::Solver::Auto)?;
        return Ok(Timed {
            seconds,
            useful_steps: 0,
            converged: 0,
        });
    }
    if let Some(t) = until.filter(|t| !(t.is_finite() && *t > 0.0)) {
        return Err(SpecError::flag("--until", t, "a gradient-norm tolerance > 0").into());
    }
    check(w, walkers, n, m, steps)?;
    let (obj_spec, lr, init) = workload(w, n, m);
    let obj = objective::parse(&obj_spec)?;
    let opt = rules::parse(&format!("gd:lr={lr}"))?;
    let plan = WalkPlan {
        max_steps: steps,
        grad_tol: until.unwrap_or(0.0),
        bound: f64::MAX,
        ..WalkPlan::default()
    };
    let starts = Init::parse(init)?.starts(obj.as_ref(), 0, 0, walkers);
    let hyper = Hyper::constant(&opt.hyper(), walkers);
    let mut best = f64::INFINITY;
    let mut ends = None;
    // One untimed run compiles pipelines and warms caches, as the peers' warm-up does.
    for i in 0..=repeat {
        let t = Instant::now();
        let e = backend.walk(obj.as_ref(), &opt, &plan, &starts, &hyper, &|_| {})?;
        if i > 0 {
            best = best.min(t.elapsed().as_secs_f64());
        }
        ends = Some(e);
    }
    let ends = ends.expect("at least one run");
    let useful_steps = ends.steps.iter().map(|&s| u64::from(s)).sum();
    let converged = ends
        .status
        .iter()
        .filter(|&&s| s == crate::walk::state::Status::Converged)
        .count();
    Ok(Timed {
        seconds: best,
        useful_steps,
        converged: if until.is_some() { converged } else { 0 },
    })
}

/// Times the eigenvalue stage: `points` GOE matrices of size `n` (entries N(0,1), symmetrised),
/// decomposed in parallel with [`crate::critical::eigen::sorted_eigenvalues`]; best of `repeat`.
/// The matrices are generated before the clock starts.
pub fn eigen(
    points: usize,
    n: usize,
    repeat: usize,
    solver: crate::critical::eigen::Solver,
) -> anyhow::Result<f64> {
    use rayon::prelude::*;
    if points == 0 || n == 0 {
        return Err(
            SpecError::flag("--walkers and --dim", format!("{points}, {n}"), ">= 1 each").into(),
        );
    }
    // All matrices are held at once (generated before the clock starts): bound their memory.
    const MAX_BYTES: f64 = (1u64 << 32) as f64;
    let bytes = points as f64 * (n as f64).powi(2) * 8.0;
    if n > crate::critical::MAX_DIM || bytes > MAX_BYTES {
        return Err(SpecError::TooLarge {
            what: format!("--workload eigen --walkers {points} --dim {n}"),
            need: format!("{:.1} GiB of matrices", bytes / MAX_BYTES * 4.0),
            limit: "4 GiB".into(),
            valid: format!(
                "--dim <= {} and walkers x dim^2 x 8 bytes <= 4 GiB",
                crate::critical::MAX_DIM
            ),
        }
        .into());
    }
    let mats: Vec<nalgebra::DMatrix<f64>> = (0..points)
        .map(|k| {
            let mut g = vec![0.0; n * n];
            crate::rng::gauss_vec(0, k as u32, 0, crate::rng::Stream::Landscape, &mut g);
            let a = nalgebra::DMatrix::from_vec(n, n, g);
            (&a + a.transpose()) * std::f64::consts::FRAC_1_SQRT_2
        })
        .collect();
    let mut best = f64::INFINITY;
    for i in 0..=repeat {
        let t = Instant::now();
        let ok = mats
            .par_iter()
            .map(|m| crate::critical::eigen::sorted_eigenvalues_with(m.clone(), solver).is_some())
            .filter(|&ok| ok)
            .count();
        if ok != points {
            anyhow::bail!("{} of {points} eigen-decompositions failed", points - ok);
        }
        if i > 0 {
            best = best.min(t.elapsed().as_secs_f64());
        }
    }
    Ok(best)
}
