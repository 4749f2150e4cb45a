//! The batched CPU engine (`--backend cpu`) against the per-walker f64 twin (`--backend twin`):
//! every objective with a batched evaluator — f and the gradient at N = 2, 33, 64, 256 and
//! features up to 4096 — and 50-step walks; and its results do not depend on the block size
//! or the number of threads beyond f64 rounding.

use saddlescope::backend::Backend;
use saddlescope::objective;
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
            .batch()
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
    let o = objective::parse(obj).unwrap();
    let opt = rules::parse(opt).unwrap();
    let plan = WalkPlan {
        max_steps: 50,
        grad_tol: 0.0,
        seed: 9,
        ..WalkPlan::default()
    };
    let starts = Init::parse(init).unwrap().starts(o.as_ref(), 9, 0, walkers);
    backend
        .walk(
            o.as_ref(),
            &opt,
            &plan,
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
