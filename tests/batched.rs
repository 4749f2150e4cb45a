//! The batched CPU engine (`--backend cpu`) against the per-walker f64 twin (`--backend twin`):
//! every objective with a batched evaluator — f and the gradient at N = 2, 33, 64, 256 and
//! features up to 4096 — and 50-step walks; and its results do not depend on the block size
//! or the number of threads beyond f64 rounding.

use saddlescope::backend::Backend;
use saddlescope::objective;
use saddlescope::objective::batch::Precision;
use saddlescope::rules;
use saddlescope::walk::init::Init;
use saddlescope::walk::{EndStates, WalkPlan};

/// Every family whose batched evaluator differs from the per-walker loop, at the sizes the
/// issue of record asks for.
fn cases() -> Vec<String> {
    let mut v = Vec::new();
    for n in [2, 33, 64, 256] {
        v.push(format!("field:n={n},features=256,seed=1"));
        v.push(format!("rastrigin:n={n}"));
        v.push(format!("double-well:n={n}"));
        v.push(format!("pspin:p=2,n={n},seed=2"));
        if n <= 256 {
            v.push(format!("pspin:p=3,n={n},seed=3"));
        }
    }
    v.push("field:n=64,features=4096,seed=4".into());
    v.push("pspin:p=4,n=24,seed=5".into());
    v.push("styblinski-tang:n=33".into());
    v.push("flat-well:n=33".into());
    v
}

/// Relative 1e-12 of the scale: both engines compute in f64; only the order of the sums
/// differs (GEMM blocking, eight accumulators), which moves results by a few ulps of the
/// terms' magnitude, while a wrong formula moves them by order one.
#[test]
fn batched_evaluations_match_the_twin() {
    for spec in cases() {
        let obj = objective::parse(&spec).unwrap();
        let n = obj.dim();
        let eval = obj
            .batch(Precision::F64)
            .unwrap_or_else(|| panic!("{spec} has no batched evaluator"));
        let rows = 17;
        let x = Init::Auto.starts(obj.as_ref(), 7, 0, rows);
        let (mut f, mut g, mut scratch) = (vec![0.0; rows], vec![0.0; rows * n], Vec::new());
        eval.grad(&x, rows, &mut f, &mut g, &mut scratch);
        for r in 0..rows {
            let xr = &x[r * n..(r + 1) * n];
            let mut gt = vec![0.0; n];
            let ft = obj.gradient(xr, &mut gt);
            let gs = 1.0 + gt.iter().map(|v| v.abs()).sum::<f64>();
            let fs = 1.0 + ft.abs() + gs;
            assert!(
                (f[r] - ft).abs() <= 1e-12 * fs,
                "{spec}: f {} vs {ft}",
                f[r]
            );
            for i in 0..n {
                assert!(
                    (g[r * n + i] - gt[i]).abs() <= 1e-12 * gs,
                    "{spec}: g[{i}] {} vs {}",
                    g[r * n + i],
                    gt[i]
                );
            }
        }
    }
}

fn walk(backend: &Backend, obj: &str, opt: &str, init: &str, walkers: usize) -> EndStates {
    let plan = WalkPlan {
        max_steps: 50,
        grad_tol: 0.0,
        seed: 9,
        ..WalkPlan::default()
    };
    walk_plan(backend, obj, opt, init, walkers, &plan)
}

fn walk_plan(
    backend: &Backend,
    obj: &str,
    opt: &str,
    init: &str,
    walkers: usize,
    plan: &WalkPlan,
) -> EndStates {
    let o = objective::parse(obj).unwrap();
    let opt = rules::parse(opt).unwrap();
    let starts = Init::parse(init).unwrap().starts(o.as_ref(), 9, 0, walkers);
    backend
        .walk(
            o.as_ref(),
            &opt,
            plan,
            &starts,
            &opt.hyper_rows(walkers),
            &|_| {},
        )
        .unwrap()
}

fn max_diff(a: &EndStates, b: &EndStates) -> f64 {
    a.x.iter()
        .zip(&b.x)
        .map(|(p, q)| (p - q).abs())
        .fold(0.0, f64::max)
}

/// 50 steps of every rule with WGSL on the three matrix- or element-shaped families: the
/// batched engine ends where the twin ends (the walks contract, so f64 rounding stays f64
/// rounding).
#[test]
fn fifty_step_walks_match_the_twin() {
    let cases = [
        ("field:n=33,features=512,seed=2", "uniform:lo=-2,hi=2"),
        ("pspin:p=3,n=33,seed=1", "auto"),
        ("double-well:n=33", "uniform:lo=0.5,hi=1.5"),
    ];
    let rules = [
        "gd:lr=0.01",
        "momentum:lr=0.005",
        "nesterov:lr=0.005",
        "adam:lr=0.01,eps=1e-3",
        "rmsprop:lr=0.005,eps=1e-3",
        "sgd:lr=0.01,noise=0.3",
        "langevin:lr=0.01,temperature=0.05",
        "pgd:lr=0.01",
        "anneal:step=0.1",
        "gradnorm:lr=0.0005",
    ];
    for (obj, init) in cases {
        for opt in rules {
            let b = walk(&Backend::cpu(), obj, opt, init, 40);
            let t = walk(&Backend::twin(), obj, opt, init, 40);
            assert_eq!(b.status, t.status, "{opt} on {obj}");
            assert_eq!(b.steps, t.steps, "{opt} on {obj}");
            let d = max_diff(&b, &t);
            assert!(d < 1e-9, "{opt} on {obj}: end states differ by {d}");
        }
    }
}

/// Block size and thread count: the same end states to f64 rounding whatever the blocking
/// (blocks of 1, 7, 64 and 256 walkers; one thread and all).
#[test]
fn results_do_not_depend_on_blocks_or_threads() {
    for (obj, opt, init) in [
        ("pspin:p=3,n=40,seed=6", "sgd:lr=0.01,noise=0.2", "auto"),
        (
            "field:n=20,features=300,seed=7",
            "adam:lr=0.02",
            "uniform:lo=-2,hi=2",
        ),
        (
            "rastrigin:n=20",
            "langevin:lr=0.001,temperature=0.01",
            "uniform:lo=-0.3,hi=0.3",
        ),
    ] {
        let reference = walk(&Backend::cpu().with_block(256), obj, opt, init, 300);
        for block in [1, 7, 64] {
            let e = walk(&Backend::cpu().with_block(block), obj, opt, init, 300);
            assert_eq!(e.steps, reference.steps, "{obj} block {block}");
            let d = max_diff(&e, &reference);
            assert!(d < 1e-10, "{obj}: block {block} differs by {d}");
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let one = pool.install(|| walk(&Backend::cpu().with_block(64), obj, opt, init, 300));
        assert!(max_diff(&one, &reference) < 1e-10, "{obj}: one thread");
    }
}

/// `--precision f32`: the f32 evaluations of field (products and sin/cos), p-spin (products)
/// and rastrigin (sin/cos) against the f64 twin at N = 2, 33, 64, 256 (rastrigin also at its
/// largest N, 65536) and M up to 4096. Tolerance 1e-4 of the terms' scale (as the GPU's f32
/// kernels, tests/gpu_twins.rs): f32 carries 24 bits (6e-8 relative), the f32 sin/cos are
/// within 1.2e-7, and the longest f32 sums here have 4096 (field) or C(257, 2) = 32896
/// (3-spin) terms (f's sums are f64), so rounding stays below ~1e-5 of the scale, while a wrong
/// formula or a dropped run of monomials is off by order one. The f32 result must also differ
/// from the f64 one: it really ran in f32.
#[test]
fn f32_evaluations_match_the_twin_at_research_sizes() {
    let mut cases = Vec::new();
    for n in [2, 33, 64, 256] {
        cases.push(format!("field:n={n},features=1024,seed=1"));
        cases.push(format!("pspin:p=2,n={n},seed=2"));
        cases.push(format!("pspin:p=3,n={n},seed=3"));
        cases.push(format!("rastrigin:n={n}"));
    }
    cases.push("rastrigin:n=65536".into());
    cases.push("field:n=64,features=4096,seed=4".into());
    cases.push("field:n=256,features=4096,seed=4".into());
    cases.push("pspin:p=4,n=24,seed=5".into());
    for spec in cases {
        let obj = objective::parse(&spec).unwrap();
        let n = obj.dim();
        let e32 = obj.batch(Precision::F32).unwrap();
        let e64 = obj.batch(Precision::F64).unwrap();
        assert_eq!(e32.precision(), Precision::F32, "{spec}");
        let rows = 17;
        let x = Init::Auto.starts(obj.as_ref(), 7, 0, rows);
        let mut scratch = Vec::new();
        let (mut f, mut g) = (vec![0.0; rows], vec![0.0; rows * n]);
        let (mut f64_, mut g64) = (vec![0.0; rows], vec![0.0; rows * n]);
        e32.grad(&x, rows, &mut f, &mut g, &mut scratch);
        e64.grad(&x, rows, &mut f64_, &mut g64, &mut scratch);
        assert_ne!(g, g64, "{spec}: the f32 evaluation gave the f64 result");
        // Rastrigin's coordinates are independent: each derivative within 3e-5 of the twin's
        // (2x and 20π sin(2πx) in f32, at most ~63: a few f32 ulps of that), where the scale
        // above grows with N. Rounding x to f32 before the sin moved a derivative by up to
        // 1e-4 (curvature 40π² times the rounding of x) and fails this.
        let per_coordinate = spec.starts_with("rastrigin").then_some(3e-5);
        for r in 0..rows {
            let xr = &x[r * n..(r + 1) * n];
            let mut gt = vec![0.0; n];
            let ft = obj.gradient(xr, &mut gt);
            if let Some(tol) = per_coordinate {
                for i in 0..n {
                    let d = (g[r * n + i] - gt[i]).abs();
                    assert!(d <= tol, "{spec}: g[{i}] at x = {} off by {d:e}", xr[i]);
                }
            }
            let gs = 1.0 + gt.iter().map(|v| v.abs()).sum::<f64>();
            let fs = 1.0 + ft.abs() + gs;
            assert!((f[r] - ft).abs() <= 1e-4 * fs, "{spec}: f {} vs {ft}", f[r]);
            for i in 0..n {
                assert!(
                    (g[r * n + i] - gt[i]).abs() <= 1e-4 * gs,
                    "{spec}: g[{i}] {} vs {}",
                    g[r * n + i],
                    gt[i]
                );
            }
        }
    }
}

/// 50-step walks in f32 end within 1e-3 of the twin's ends (the GPU's criterion for
/// 50-step walks, tests/gpu_twins.rs: f32 rounding amplified over 50 contracting steps),
/// at N = 33, 64 and 256; and whatever the block size or thread count, within 1e-4 of each
/// other (the GEMM's blocking orders the f32 sums differently, so not bit for bit).
#[test]
fn f32_walks_match_the_twin_and_do_not_depend_on_blocks() {
    let cases = [
        (
            "field:n=33,features=512,seed=2",
            "gd:lr=0.01",
            "uniform:lo=-2,hi=2",
        ),
        (
            "field:n=64,features=4096,seed=3",
            "adam:lr=0.01,eps=1e-3",
            "uniform:lo=-2,hi=2",
        ),
        (
            "field:n=256,features=1024,seed=3",
            "gd:lr=0.01",
            "uniform:lo=-2,hi=2",
        ),
        ("pspin:p=3,n=64,seed=1", "gd:lr=0.01", "auto"),
        ("pspin:p=3,n=256,seed=1", "momentum:lr=0.005", "auto"),
        ("rastrigin:n=64", "gd:lr=0.002", "uniform:lo=-2,hi=2"),
        ("rastrigin:n=256", "nesterov:lr=0.001", "uniform:lo=-2,hi=2"),
    ];
    for (obj, opt, init) in cases {
        let f32 = Backend::cpu().with_precision(Precision::F32);
        let b = walk(&f32, obj, opt, init, 24);
        let t = walk(&Backend::twin(), obj, opt, init, 24);
        assert_eq!(b.status, t.status, "{opt} on {obj}");
        let d = max_diff(&b, &t);
        assert!(
            d < 1e-3,
            "{opt} on {obj}: f32 ends differ from the twin's by {d}"
        );
        assert!(
            d > 0.0,
            "{opt} on {obj}: f32 walk equals the twin's bit for bit"
        );
        for block in [1, 7] {
            let e = walk(
                &Backend::cpu()
                    .with_precision(Precision::F32)
                    .with_block(block),
                obj,
                opt,
                init,
                24,
            );
            let d = max_diff(&e, &b);
            assert!(d < 1e-4, "{obj}: f32 block {block} differs by {d}");
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let one = pool.install(|| walk(&f32, obj, opt, init, 24));
        assert!(max_diff(&one, &b) < 1e-4, "{obj}: f32 on one thread");
    }
}

/// Walks in f32 converge where f64 walks do, at the default gradient tolerance (1e-4) and at
/// N up to 1024: f32 rounding must leave |∇f| a floor well below the tolerance. (Rastrigin's
/// f32 form once rounded x to f32 before its sin, a floor of ~3e-5·√N: no walker converged
/// from N = 64.)
#[test]
fn f32_walks_converge_where_f64_walks_do() {
    for (obj, opt, steps) in [
        ("rastrigin:n=64", "gd:lr=0.002", 2000),
        ("rastrigin:n=1024", "gd:lr=0.002", 2000),
        ("field:n=64,features=256,seed=2", "gd:lr=0.05", 2000),
    ] {
        let plan = WalkPlan {
            max_steps: steps,
            grad_tol: 1e-4,
            seed: 9,
            ..WalkPlan::default()
        };
        let walkers = 48;
        let converged = |b: Backend| {
            walk_plan(&b, obj, opt, "auto", walkers, &plan)
                .status
                .iter()
                .filter(|&&s| s == saddlescope::walk::state::Status::Converged)
                .count()
        };
        let c64 = converged(Backend::cpu());
        let c32 = converged(Backend::cpu().with_precision(Precision::F32));
        assert!(c64 >= walkers * 3 / 4, "{obj}: f64 converged only {c64}");
        assert!(
            c32 + 2 >= c64,
            "{obj}: f32 converged {c32} of {walkers}, f64 {c64}"
        );
    }
}

/// An objective whose batched evaluation itself runs rayon work (a parallel loop of short
/// sleeps, on a pool of 8 threads: while one thread waits for its stolen pieces it takes up
/// other blocks of the same walk): the walk's per-thread evaluation buffers must not deadlock on a set the thread
/// already holds, and the walk ends where the plain one does.
struct NestedRayon(Box<dyn objective::Objective>);

struct NestedBatch<'a>(Box<dyn objective::batch::BatchGrad + 'a>);

impl objective::batch::BatchGrad for NestedBatch<'_> {
    fn grad(&self, x: &[f64], rows: usize, f: &mut [f64], g: &mut [f64], scratch: &mut Vec<f64>) {
        use rayon::prelude::*;
        (0..8).into_par_iter().for_each(|_| {
            std::thread::sleep(std::time::Duration::from_micros(50));
        });
        self.0.grad(x, rows, f, g, scratch);
    }
}

impl objective::Objective for NestedRayon {
    fn spec(&self) -> String {
        self.0.spec()
    }
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn value(&self, x: &[f64]) -> f64 {
        self.0.value(x)
    }
    fn gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
        self.0.gradient(x, g)
    }
    fn hessian(&self, x: &[f64]) -> nalgebra::DMatrix<f64> {
        self.0.hessian(x)
    }
    fn domain(&self) -> objective::Domain {
        self.0.domain()
    }
    fn wgsl(&self) -> objective::Wgsl {
        self.0.wgsl()
    }
    fn f32_error(&self, x: &[f64]) -> objective::F32Error {
        self.0.f32_error(x)
    }
    fn batch(&self, p: Precision) -> Option<Box<dyn objective::batch::BatchGrad + '_>> {
        Some(Box::new(NestedBatch(self.0.batch(p)?)))
    }
}

#[test]
fn evaluations_that_use_rayon_do_not_deadlock_the_walk() {
    let spec = "field:n=16,features=64,seed=3";
    let plain = objective::parse(spec).unwrap();
    let nested = NestedRayon(objective::parse(spec).unwrap());
    let opt = rules::parse("gd:lr=0.01").unwrap();
    let plan = WalkPlan {
        max_steps: 20,
        grad_tol: 0.0,
        seed: 9,
        ..WalkPlan::default()
    };
    let walkers = 64;
    let starts = Init::Auto.starts(plain.as_ref(), 9, 0, walkers);
    let backend = Backend::cpu().with_block(1);
    let run = |o: &dyn objective::Objective| {
        backend
            .walk(o, &opt, &plan, &starts, &opt.hyper_rows(walkers), &|_| {})
            .unwrap()
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(8)
        .build()
        .unwrap();
    let (a, b) = pool.install(|| (run(plain.as_ref()), run(&nested)));
    assert_eq!(a.x, b.x);
    assert_eq!(a.steps, b.steps);
}
