//! GPU (WGSL, f32) against the CPU twin (Rust, f64): objectives, step rules and the walk.
//! These run on whatever adapter wgpu finds; on CI that is Mesa's software Vulkan (lavapipe).

use std::sync::{Arc, OnceLock};

use saddlescope::gpu::{GpuContext, GpuWalk};
use saddlescope::objective;
use saddlescope::rules;
use saddlescope::walk::init::Init;
use saddlescope::walk::state::Status;
use saddlescope::walk::{cpu, EndStates, Hyper, WalkPlan};

fn ctx() -> Arc<GpuContext> {
    static CTX: OnceLock<Arc<GpuContext>> = OnceLock::new();
    CTX.get_or_init(|| {
        GpuContext::new().unwrap_or_else(|e| {
            panic!("these tests need a wgpu adapter (CI: mesa-vulkan-drivers): {e}")
        })
    })
    .clone()
}

/// One spec per objective in the registry (checked below), at small dimensions.
const OBJECTIVES: &[&str] = &[
    "saddle",
    "monkey-saddle",
    "himmelblau",
    "muller-brown",
    "camel6",
    "flat-well:n=5",
    "double-well:n=5",
    "rastrigin:n=5",
    "ackley:n=5",
    "styblinski-tang:n=5",
    "rosenbrock:n=5",
    "field:n=8,features=64,length=1,mu=0.1,seed=3",
    "pspin:p=2,n=8,seed=1",
    "pspin:p=3,n=8,seed=2",
    "pspin:p=4,n=6,seed=3",
];

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|a| a * a).sum::<f64>().sqrt()
}

#[test]
fn every_registered_objective_is_tested_here() {
    for e in objective::registry() {
        assert!(
            OBJECTIVES
                .iter()
                .any(|s| s.split(':').next() == Some(e.name)),
            "objective {} has no GPU-vs-CPU case",
            e.name
        );
    }
}

/// WGSL value, gradient and Hessian-vector product against the f64 twin at random points of
/// the default domain. Tolerance: 1e-4 of the largest magnitude seen over the points (plus an
/// absolute 1e-4). f32 carries 24 bits (6e-8 relative); the objectives sum at most a few
/// thousand terms, so rounding stays below ~1e-5 of the terms' scale, while any formula error
/// (sign, factor, index) is of order one of that scale.
#[test]
fn wgsl_objectives_match_their_f64_twins() {
    let ctx = ctx();
    let opt = rules::parse("gd").unwrap();
    for spec in OBJECTIVES {
        let obj = objective::parse(spec).unwrap();
        let n = obj.dim();
        let w = 64;
        let pts = Init::Auto.starts(obj.as_ref(), 11, 0, w);
        let v = Init::parse("normal:sigma=1")
            .unwrap()
            .starts(obj.as_ref(), 12, 0, w);
        let g = GpuWalk::new(ctx.clone(), obj.as_ref(), &opt).unwrap();
        let out = g.eval(&pts, &v).unwrap();
        let (mut fs, mut gs, mut hs) = (vec![], vec![vec![]; w], vec![vec![0.0; n]; w]);
        for k in 0..w {
            let x = &pts[k * n..(k + 1) * n];
            let mut gr = vec![0.0; n];
            fs.push(obj.gradient(x, &mut gr));
            gs[k] = gr;
            obj.hvp(x, &v[k * n..(k + 1) * n], &mut hs[k]);
        }
        let fscale = fs.iter().fold(0f64, |a, b| a.max(b.abs()));
        let gscale = gs.iter().fold(0f64, |a, b| a.max(norm(b)));
        let hscale = hs.iter().fold(0f64, |a, b| a.max(norm(b)));
        for k in 0..w {
            let tol_f = 1e-4 * (1.0 + fscale);
            assert!(
                (out.f_grad[k] - fs[k]).abs() <= tol_f,
                "{spec}: f from obj_grad {} vs {} at walker {k}",
                out.f_grad[k],
                fs[k]
            );
            assert!(
                (out.f_value[k] - fs[k]).abs() <= tol_f,
                "{spec}: obj_value {} vs {}",
                out.f_value[k],
                fs[k]
            );
            let dg: Vec<f64> = (0..n).map(|i| out.grad[k * n + i] - gs[k][i]).collect();
            assert!(
                norm(&dg) <= 1e-4 * (1.0 + gscale),
                "{spec}: gradient differs by {} (scale {gscale}) at walker {k}",
                norm(&dg)
            );
            let dh: Vec<f64> = (0..n).map(|i| out.hvp[k * n + i] - hs[k][i]).collect();
            assert!(
                norm(&dh) <= 1e-4 * (1.0 + hscale),
                "{spec}: Hv differs by {} (scale {hscale}) at walker {k}",
                norm(&dh)
            );
        }
    }
}

fn run_both(
    obj_spec: &str,
    opt_spec: &str,
    init: &str,
    walkers: usize,
    plan: &WalkPlan,
) -> (EndStates, EndStates) {
    let obj = objective::parse(obj_spec).unwrap();
    let opt = rules::parse(opt_spec).unwrap();
    let starts = Init::parse(init)
        .unwrap()
        .starts(obj.as_ref(), plan.seed, 0, walkers);
    let hyper = Hyper::constant(&opt.hyper(), walkers);
    let gpu = GpuWalk::new(ctx(), obj.as_ref(), &opt)
        .unwrap()
        .run(plan, &starts, &hyper, &|_| {})
        .unwrap();
    let cpu = cpu::run(obj.as_ref(), &opt, plan, &starts, &hyper, &|_| {});
    (gpu, cpu)
}

/// Every step rule: 50 GPU steps against 50 reference steps from the same starts and seed
/// (noisy rules draw the same Philox numbers). Positions must agree to 1e-3 (f32 rounding
/// amplified over 50 steps of a contracting-or-mildly-expanding map stays far below that; a
/// wrong update or a different random number moves a walker by the step size, >= 1e-2).
/// Rules with discrete decisions (anneal's Metropolis test, pgd's |g| <= g_thres test) may
/// flip a decision that sits within f32 rounding of its threshold: they may differ on at most
/// 2% of walkers.
#[test]
fn every_step_rule_matches_its_reference_for_50_steps() {
    let cases: &[(&str, &str)] = &[
        ("gd:lr=0.01", "styblinski-tang:n=4"),
        ("gd:lr=0.05,clip=1", "styblinski-tang:n=4"),
        ("momentum:lr=0.005,beta=0.9", "styblinski-tang:n=4"),
        ("nesterov:lr=0.005,beta=0.9", "styblinski-tang:n=4"),
        ("adam:lr=0.02", "styblinski-tang:n=4"),
        ("rmsprop:lr=0.01", "styblinski-tang:n=4"),
        ("sgd:lr=0.01,noise=0.5", "styblinski-tang:n=4"),
        ("langevin:lr=0.01,temperature=0.2", "styblinski-tang:n=4"),
        (
            "pgd:lr=0.01,g_thres=2,t_thres=10,r=0.1",
            "styblinski-tang:n=4",
        ),
        ("anneal:step=0.2,t0=1,cooling=0.99", "styblinski-tang:n=4"),
        ("gradnorm:lr=0.0005", "styblinski-tang:n=4"),
        ("gd:lr=0.01", "pspin:p=3,n=8,seed=1"),
        ("sgd:lr=0.01,noise=0.3", "pspin:p=3,n=8,seed=1"),
        ("anneal:step=0.1", "pspin:p=3,n=8,seed=1"),
        ("gradnorm:lr=0.002", "pspin:p=3,n=8,seed=1"),
        ("adam:lr=0.01", "field:n=6,features=32,seed=2"),
    ];
    // Rules without WGSL (newton, sfn) run on the CPU twin only.
    for r in rules::registry().into_iter().filter(|r| !r.cpu_only()) {
        assert!(
            cases.iter().any(|c| c.0.split(':').next() == Some(r.name)),
            "rule {} untested",
            r.name
        );
    }
    let plan = WalkPlan {
        max_steps: 50,
        grad_tol: 0.0,
        seed: 5,
        ..WalkPlan::default()
    };
    for (opt, obj) in cases {
        let (g, c) = run_both(obj, opt, "uniform:lo=-3,hi=3", 200, &plan);
        let n = g.n;
        let mut bad = 0;
        for w in 0..g.len() {
            let d = (0..n)
                .map(|i| (g.x[w * n + i] - c.x[w * n + i]).abs())
                .fold(0.0, f64::max);
            let scale = 1.0 + c.point(w).iter().fold(0f64, |a, b| a.max(b.abs()));
            if d > 1e-3 * scale || g.status[w] != c.status[w] || g.steps[w] != c.steps[w] {
                bad += 1;
            }
        }
        let allowed = if opt.starts_with("anneal") || opt.starts_with("pgd") {
            g.len() / 50
        } else {
            0
        };
        assert!(
            bad <= allowed,
            "{opt} on {obj}: {bad} of {} walkers differ between GPU and CPU",
            g.len()
        );
        assert!(
            c.steps.iter().all(|&s| s == 50),
            "{opt} on {obj}: every walker should take 50 steps"
        );
    }
}

/// Gradient descent from inside each of Himmelblau's four basins ends at that basin's minimum.
#[test]
fn gd_on_himmelblau_finds_the_four_minima() {
    let minima = [
        (3.0, 2.0),
        (-2.805118, 3.131312),
        (-3.779310, -3.283186),
        (3.584428, -1.848126),
    ];
    let obj = objective::parse("himmelblau").unwrap();
    let opt = rules::parse("gd:lr=0.005").unwrap();
    let plan = WalkPlan {
        max_steps: 20_000,
        grad_tol: 1e-4,
        ..WalkPlan::default()
    };
    let mut starts = vec![];
    for &(x, y) in &minima {
        for (dx, dy) in [(0.4, 0.3), (-0.3, 0.4), (-0.4, -0.2), (0.2, -0.4)] {
            starts.extend([x + dx, y + dy]);
        }
    }
    let hyper = Hyper::constant(&opt.hyper(), 16);
    let ends = GpuWalk::new(ctx(), obj.as_ref(), &opt)
        .unwrap()
        .run(&plan, &starts, &hyper, &|_| {})
        .unwrap();
    for w in 0..16 {
        let (mx, my) = minima[w / 4];
        let p = ends.point(w);
        assert_eq!(ends.status[w], Status::Converged, "walker {w}");
        assert!(
            (p[0] - mx).abs() < 1e-3 && (p[1] - my).abs() < 1e-3,
            "walker {w} ended at {p:?}, expected ({mx}, {my})"
        );
    }
}

/// Chunking is invisible: a run forced into tiny chunks gives bit-identical end states.
#[test]
fn tiny_chunks_give_the_same_end_states_as_one_chunk() {
    for (obj, opt) in [
        ("rastrigin:n=3", "sgd:lr=0.002,noise=0.5"),
        ("pspin:p=3,n=6,seed=4", "langevin:lr=0.01,temperature=0.05"),
    ] {
        let one = WalkPlan {
            max_steps: 300,
            grad_tol: 1e-3,
            seed: 9,
            ..WalkPlan::default()
        };
        let tiny = WalkPlan {
            chunk: Some(7),
            ..one.clone()
        };
        let (a, _) = run_both(obj, opt, "uniform:lo=-3,hi=3", 100, &one);
        let (b, _) = run_both(obj, opt, "uniform:lo=-3,hi=3", 100, &tiny);
        assert_eq!(a.x, b.x, "{obj}");
        assert_eq!(a.steps, b.steps);
        assert_eq!(a.status, b.status);
    }
}

/// Spherical p-spin walkers stay on |x|^2 = N, whatever the rule.
#[test]
fn pspin_walkers_stay_on_the_sphere() {
    for opt in [
        "gd:lr=0.05",
        "sgd:lr=0.02,noise=1",
        "adam:lr=0.05",
        "anneal:step=0.3",
    ] {
        let plan = WalkPlan {
            max_steps: 400,
            grad_tol: 1e-5,
            seed: 2,
            ..WalkPlan::default()
        };
        let (g, _) = run_both("pspin:p=3,n=16,seed=7", opt, "auto", 128, &plan);
        for w in 0..g.len() {
            let r2: f64 = g.point(w).iter().map(|v| v * v).sum();
            assert!(
                (r2 - 16.0).abs() < 16.0 * 1e-4,
                "{opt}: walker {w} has |x|^2 = {r2}"
            );
        }
    }
}

/// Walkers stop when they are done: converged walkers record the step they stopped at, well
/// before max_steps, and divergent ones are marked diverged.
#[test]
fn walkers_stop_early_and_divergence_is_detected() {
    let plan = WalkPlan {
        max_steps: 1_000_000,
        grad_tol: 1e-4,
        ..WalkPlan::default()
    };
    let (g, _) = run_both(
        "double-well:n=4",
        "gd:lr=0.01",
        "uniform:lo=0.2,hi=1.8",
        256,
        &plan,
    );
    assert!(g.status.iter().all(|&s| s == Status::Converged));
    assert!(
        g.steps.iter().all(|&s| s < 5_000),
        "max steps taken {}",
        g.steps.iter().max().unwrap()
    );
    let plan = WalkPlan {
        max_steps: 10_000,
        grad_tol: 1e-6,
        bound: 1e3,
        ..WalkPlan::default()
    };
    let (g, c) = run_both("saddle", "gd:lr=0.1", "uniform:lo=-1,hi=1", 64, &plan);
    assert!(
        g.status.iter().all(|&s| s == Status::Diverged),
        "{:?}",
        g.status
    );
    assert_eq!(g.status, c.status);
}
