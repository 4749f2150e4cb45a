//! Several landscape instances in one dispatch (the parameter blocks back to back, walker block
//! k on instance k; `param_base` in shaders/common.wgsl) against the CPU twin
//! (`walk::cpu::run_instances`) and against walking each instance alone.

use std::sync::{Arc, OnceLock};

use saddlescope::backend::Backend;
use saddlescope::gpu::{GpuContext, GpuWalk};
use saddlescope::objective::{self, Objective};
use saddlescope::rules;
use saddlescope::walk::init::Init;
use saddlescope::walk::{cpu, Hyper, WalkPlan};

fn ctx() -> Arc<GpuContext> {
    static CTX: OnceLock<Arc<GpuContext>> = OnceLock::new();
    CTX.get_or_init(|| {
        GpuContext::new().unwrap_or_else(|e| {
            panic!("these tests need a wgpu adapter (CI: mesa-vulkan-drivers): {e}")
        })
    })
    .clone()
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|a| a * a).sum::<f64>().sqrt()
}

fn instances(family: &str, k: usize) -> Vec<Box<dyn Objective>> {
    (0..k)
        .map(|i| objective::parse(&format!("{family},seed={}", 100 + i)).unwrap())
        .collect()
}

/// Value, gradient and Hessian-vector product of every walker against the f64 twin of its own
/// instance, with the tolerance of tests/gpu_twins.rs (1e-4 of the largest magnitude). The
/// instances' values at one point differ by O(1) of that scale, so a walker reading another
/// instance's parameters fails.
#[test]
fn each_walker_evaluates_its_own_instance() {
    let opt = rules::parse("gd").unwrap();
    for family in ["field:n=5,features=32,length=1,mu=0.1", "pspin:p=3,n=6"] {
        let objs = instances(family, 3);
        let refs: Vec<&dyn Objective> = objs.iter().map(|o| o.as_ref()).collect();
        let n = refs[0].dim();
        let per = 16;
        let w = per * refs.len();
        // The same points for every instance block: differences come from the landscapes.
        let pts0 = Init::Auto.starts(refs[0], 11, 0, per);
        let v0 = Init::parse("normal:sigma=1")
            .unwrap()
            .starts(refs[0], 12, 0, per);
        let pts: Vec<f64> = (0..refs.len()).flat_map(|_| pts0.clone()).collect();
        let v: Vec<f64> = (0..refs.len()).flat_map(|_| v0.clone()).collect();
        let g = GpuWalk::new_instances(ctx(), &refs, &opt).unwrap();
        let out = g.eval(&pts, &v).unwrap();
        let mut fs = vec![0.0; w];
        let mut gs = vec![vec![0.0; n]; w];
        let mut hs = vec![vec![0.0; n]; w];
        for k in 0..w {
            let obj = refs[k / per];
            let x = &pts[k * n..(k + 1) * n];
            fs[k] = obj.gradient(x, &mut gs[k]);
            obj.hvp(x, &v[k * n..(k + 1) * n], &mut hs[k]);
        }
        let fscale = fs.iter().fold(0f64, |a, b| a.max(b.abs()));
        let gscale = gs.iter().fold(0f64, |a, b| a.max(norm(b)));
        let hscale = hs.iter().fold(0f64, |a, b| a.max(norm(b)));
        // The instances really differ at these points (else the test proves nothing).
        let spread = (0..per)
            .map(|k| {
                (fs[k] - fs[per + k])
                    .abs()
                    .max((fs[k] - fs[2 * per + k]).abs())
            })
            .fold(0f64, f64::max);
        assert!(spread > 0.05 * (1.0 + fscale), "{family}: spread {spread}");
        for k in 0..w {
            let tol_f = 1e-4 * (1.0 + fscale);
            assert!(
                (out.f_grad[k] - fs[k]).abs() <= tol_f && (out.f_value[k] - fs[k]).abs() <= tol_f,
                "{family}: walker {k} (instance {}): f {} / {} vs {}",
                k / per,
                out.f_grad[k],
                out.f_value[k],
                fs[k]
            );
            let dg: Vec<f64> = (0..n).map(|i| out.grad[k * n + i] - gs[k][i]).collect();
            assert!(
                norm(&dg) <= 1e-4 * (1.0 + gscale),
                "{family}: walker {k}: gradient off by {}",
                norm(&dg)
            );
            let dh: Vec<f64> = (0..n).map(|i| out.hvp[k * n + i] - hs[k][i]).collect();
            assert!(
                norm(&dh) <= 1e-4 * (1.0 + hscale),
                "{family}: walker {k}: Hv off by {}",
                norm(&dh)
            );
        }
    }
}

/// A walk over 4 instances in one dispatch, forced into chunks that straddle instance
/// boundaries, is bit-identical to walking each instance alone with the same global walker ids,
/// and matches the CPU twin (same starts, same noise) to the rule-test tolerance.
#[test]
fn an_instanced_walk_equals_separate_walks_and_the_cpu_twin() {
    let objs = instances("pspin:p=3,n=5", 4);
    let refs: Vec<&dyn Objective> = objs.iter().map(|o| o.as_ref()).collect();
    let opt = rules::parse("sgd:lr=0.01,noise=0.05").unwrap();
    let per = 24;
    let w = per * refs.len();
    let plan = WalkPlan {
        max_steps: 50,
        grad_tol: 0.0,
        seed: 7,
        first_walker: 40,
        chunk: Some(37),
        ..WalkPlan::default()
    };
    let starts = Init::Auto.starts(refs[0], plan.seed, plan.first_walker, w);
    let hyper = Hyper::constant(&opt.hyper(), w);
    let together = Backend::gpu(ctx())
        .walk_instances(&refs, &opt, &plan, &starts, &hyper, &|_| {})
        .unwrap();
    let n = refs[0].dim();
    for (k, obj) in refs.iter().enumerate() {
        let alone_plan = WalkPlan {
            first_walker: plan.first_walker + (k * per) as u32,
            chunk: None,
            ..plan.clone()
        };
        let s = &starts[k * per * n..(k + 1) * per * n];
        let alone = GpuWalk::new(ctx(), *obj, &opt)
            .unwrap()
            .run(&alone_plan, s, &Hyper::constant(&opt.hyper(), per), &|_| {})
            .unwrap();
        assert_eq!(
            &together.x[k * per * n..(k + 1) * per * n],
            &alone.x[..],
            "instance {k}"
        );
        assert_eq!(&together.f[k * per..(k + 1) * per], &alone.f[..]);
    }
    let twin = cpu::run_instances(&refs, &opt, &plan, &starts, &hyper, &|_| {});
    for i in 0..w * n {
        let (a, b) = (together.x[i], twin.x[i]);
        assert!(
            (a - b).abs() <= 1e-3 * (1.0 + b.abs()),
            "coordinate {i}: GPU {a} vs CPU {b}"
        );
    }
    // The twin itself: each block equals the single-landscape CPU walk.
    let k = 2;
    let alone = cpu::run(
        refs[k],
        &opt,
        &WalkPlan {
            first_walker: plan.first_walker + (k * per) as u32,
            ..plan.clone()
        },
        &starts[k * per * n..(k + 1) * per * n],
        &Hyper::constant(&opt.hyper(), per),
        &|_| {},
    );
    assert_eq!(&twin.x[k * per * n..(k + 1) * per * n], &alone.x[..]);
}

#[test]
fn instances_that_cannot_share_a_shader_are_refused() {
    let opt = rules::parse("gd").unwrap();
    let a = objective::parse("pspin:p=3,n=5,seed=1").unwrap();
    let b = objective::parse("pspin:p=3,n=6,seed=1").unwrap();
    let e = GpuWalk::new_instances(ctx(), &[a.as_ref(), b.as_ref()], &opt)
        .err()
        .expect("different dimensions are refused");
    assert!(e.to_string().contains("share one shader"), "{e}");
    let c = objective::parse("field:n=5,features=32,mu=0.1,seed=1").unwrap();
    let d = objective::parse("field:n=5,features=32,mu=0.2,seed=2").unwrap();
    assert!(GpuWalk::new_instances(ctx(), &[c.as_ref(), d.as_ref()], &opt).is_err());
    // Walkers that do not split evenly over the instances.
    let starts = vec![0.0; 5 * 7];
    let e = Backend::cpu()
        .walk_instances(
            &[c.as_ref(), c.as_ref()],
            &opt,
            &WalkPlan::default(),
            &starts,
            &Hyper::constant(&opt.hyper(), 7),
            &|_| {},
        )
        .expect_err("7 walkers over 2 instances");
    assert!(e.to_string().contains("split evenly"), "{e}");
}

/// Walks whose objective and rule assemble to the same module compile it once per backend: a
/// second landscape of the family (another seed: other parameters, the same shader) and other
/// hyperparameters of the rule reuse the first walk's pipelines, and each result is
/// bit-identical to a walk compiled on its own. Another shader (another N, another engine)
/// compiles one more module.
#[test]
fn walks_with_one_shader_compile_it_once_and_give_the_same_results() {
    let backend = Backend::gpu(ctx());
    let plan = WalkPlan {
        max_steps: 30,
        grad_tol: 0.0,
        seed: 3,
        ..WalkPlan::default()
    };
    let walk = |obj: &str, opt: &str| {
        let obj = objective::parse(obj).unwrap();
        let opt = rules::parse(opt).unwrap();
        let starts = Init::Auto.starts(obj.as_ref(), plan.seed, 0, 32);
        let hyper = opt.hyper_rows(32);
        let cached = backend
            .walk(obj.as_ref(), &opt, &plan, &starts, &hyper, &|_| {})
            .unwrap();
        let fresh = GpuWalk::new(ctx(), obj.as_ref(), &opt)
            .unwrap()
            .run(&plan, &starts, &hyper, &|_| {})
            .unwrap();
        assert_eq!(cached.x, fresh.x, "{}", obj.spec());
        assert_eq!(cached.f, fresh.f);
        assert_eq!(cached.steps, fresh.steps);
        assert_eq!(cached.status, fresh.status);
        cached
    };
    let a = walk("pspin:p=3,n=5,seed=1", "sgd:lr=0.01,noise=0.05");
    assert_eq!(backend.compiled_modules(), 1);
    let b = walk("pspin:p=3,n=5,seed=2", "sgd:lr=0.01,noise=0.05");
    let c = walk("pspin:p=3,n=5,seed=1", "sgd:lr=0.02,noise=0.1");
    assert_eq!(backend.compiled_modules(), 1, "the same shader thrice");
    assert_ne!(a.x, b.x, "the second landscape's parameters were used");
    assert_ne!(a.x, c.x, "the second walk's hyperparameters were used");
    walk("pspin:p=3,n=6,seed=1", "sgd:lr=0.01,noise=0.05");
    assert_eq!(backend.compiled_modules(), 2);
    walk("himmelblau", "gd:lr=0.01");
    walk("himmelblau", "gd:lr=0.002");
    assert_eq!(backend.compiled_modules(), 3);
    assert_eq!(
        walk("pspin:p=3,n=5,seed=1", "sgd:lr=0.01,noise=0.05").x,
        a.x
    );
    assert_eq!(backend.compiled_modules(), 3);
}
