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
}

/// Floating-point operations per run, as peer_bench.py counts them.
pub fn flops(w: Workload, walkers: f64, n: f64, m: f64, steps: f64) -> f64 {
    match w {
        Workload::Field => steps * (4.0 * walkers * n * m + 6.0 * walkers * m),
        Workload::Pspin3 => {
            steps * (2.0 * walkers * n * n * n + walkers * n * n + 8.0 * walkers * n)
        }
        Workload::Rastrigin => steps * 8.0 * walkers * n,
    }
}

/// Runs one workload `repeat` times and returns the best wall time in seconds.
pub fn run(
    backend: &Backend,
    w: Workload,
    walkers: usize,
    n: usize,
    m: usize,
    steps: u32,
    repeat: usize,
) -> anyhow::Result<f64> {
    let (obj_spec, lr, init) = match w {
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
    };
    let obj = objective::parse(&obj_spec)?;
    let opt = rules::parse(&format!("gd:lr={lr}"))?;
    if walkers == 0 || steps == 0 {
        return Err(SpecError::Invalid("--walkers and --steps must be at least 1".into()).into());
    }
    let plan = WalkPlan {
        max_steps: steps,
        grad_tol: 0.0,
        bound: f64::MAX,
        ..WalkPlan::default()
    };
    let starts = Init::parse(init)?.starts(obj.as_ref(), 0, 0, walkers);
    let hyper = Hyper::constant(&opt.hyper(), walkers);
    let mut best = f64::INFINITY;
    // One untimed run compiles pipelines and warms caches, as the peers' warm-up does.
    for i in 0..=repeat {
        let t = Instant::now();
        backend.walk(obj.as_ref(), &opt, &plan, &starts, &hyper, &|_| {})?;
        if i > 0 {
            best = best.min(t.elapsed().as_secs_f64());
        }
    }
    Ok(best)
}
