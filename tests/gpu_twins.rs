//! GPU (WGSL, f32) against the CPU twin (Rust, f64) at the sizes research uses: objectives,
//! step rules and the walk. These run on whatever adapter wgpu finds; on CI that is Mesa's
//! software Vulkan (lavapipe), whose loop budget broke the kernels above N = 32 before the
//! multi-pass engine and the loop guard (docs/engine-notes.md).

mod common;

use common::{ctx, exact_root, lattice_starts, norm, rule_cases, walkers_apart};
use saddlescope::gpu::{GpuError, GpuWalk, SPLIT_BELOW};
use saddlescope::objective;
use saddlescope::rules;
use saddlescope::walk::init::Init;
use saddlescope::walk::state::Status;
use saddlescope::walk::{cpu, EndStates, Hyper, WalkPlan};

/// Both sides of the 32- and 64-element boundaries where the old kernels broke, and research
/// sizes; each family adds its largest N.
const DIMS: [usize; 8] = [2, 31, 32, 33, 64, 65, 100, 256];

/// Networks at research sizes (N ≥ 1 000 parameters, P = 256 samples) and every activation,
/// loss and option at smaller ones; the defaults first.
const MLP_CASES: [&str; 7] = [
    "mlp",
    "mlp:widths=8-32-24-1,samples=256,seed=1",
    "mlp:widths=8-24-24-2,act=relu,loss=hinge,skip=1,samples=256,seed=2",
    "mlp:widths=6-16-16-1,act=softplus,loss=logistic,skip=1,l2=0.01,samples=128,seed=3",
    "mlp:widths=2-16-1,act=swish,data=spirals,samples=256,seed=4",
    "mlp:widths=4-8-3,act=sigmoid,data=blobs,bias=0,samples=64,seed=5",
    "mlp:widths=5-3-4,act=linear,bias=0,samples=64,seed=6",
];

/// The largest N of a per-walker (fused) family that the adapter evaluates: its table's
/// maximum, halved while the adapter's loop budget cuts the evaluation kernel short.
fn largest_fused_dim(name: &str) -> usize {
    let opt = rules::parse("gd").unwrap();
    let mut n = 1 << 16;
    loop {
        let obj = objective::parse(&format!("{name}:n={n}")).unwrap();
        let pts = Init::Auto.starts(obj.as_ref(), 1, 0, 4);
        match GpuWalk::new(ctx(), obj.as_ref(), &opt)
            .unwrap()
            .eval(&pts, &pts)
        {
            Ok(_) => return n,
            Err(GpuError::LoopLimit { .. }) if n > 2 => n /= 2,
            Err(e) => panic!("{name} at N = {n}: {e}"),
        }
    }
}

/// Every objective in the registry at every size it is tested at: the objectives without N as
/// they are; per-walker families at DIMS and at the largest N the adapter evaluates; batched
/// (multi-pass) families at DIMS, with their own parameters and largest sizes for field and
/// p-spin. A new objective needs no edit here.
fn cases() -> Vec<String> {
    let mut v = vec![];
    for e in objective::registry() {
        let takes_n = e.params.iter().any(|p| p.key == "n");
        let batched = objective::parse(e.name)
            .map(|o| o.wgsl().passes.is_some())
            .unwrap_or(false);
        match e.name {
            "mlp" => v.extend(MLP_CASES.iter().map(|s| s.to_string())),
            _ if !takes_n => v.push(e.name.to_string()),
            "field" => {
                for n in DIMS {
                    v.push(format!("field:n={n},features=256,length=1,mu=0.1,seed=3"));
                }
                v.push("field:n=64,features=4096,seed=4".into());
                v.push("field:n=4096,features=1024,seed=5".into());
            }
            "pspin" => {
                for (p, max) in [(2, 5792), (3, 406), (4, 118)] {
                    for n in DIMS.into_iter().filter(|&n| n < max) {
                        v.push(format!("pspin:p={p},n={n},seed={}", n + p));
                    }
                    v.push(format!("pspin:p={p},n={max},seed=1"));
                }
            }
            name if batched => v.extend(
                DIMS.into_iter()
                    .map(|n| format!("{name}:n={n}"))
                    .filter(|s| objective::parse(s).is_ok()),
            ),
            name => {
                let largest = largest_fused_dim(name);
                assert!(
                    largest >= 8192,
                    "{name}: the adapter evaluates it only up to N = {largest}"
                );
                for n in DIMS.into_iter().chain([largest]) {
                    v.push(format!("{name}:n={}", n.max(2)));
                }
            }
        }
    }
    v
}

#[test]
fn every_registered_objective_is_tested_at_research_sizes() {
    let c = cases();
    for e in objective::registry() {
        assert!(
            c.iter().any(|s| s.split(':').next() == Some(e.name)),
            "objective {} has no GPU-vs-CPU case",
            e.name
        );
    }
}

/// WGSL value, gradient and Hessian-vector product against the f64 twin at random points of
/// the default domain, with the walk's own kernels. Two tolerances must both hold:
/// - 1e-4 of the largest magnitude seen over the points: f32 carries 24 bits (6e-8 relative)
///   and the longest sums here have ~10^5 terms, so rounding stays below ~1e-5 of the terms'
///   scale, while a formula or indexing error (the loop-budget bug cut sums short) is of order
///   one of that scale;
/// - the objective's own f32 error bound at each point (what the twin check of every GPU run
///   tolerates), so that the check never refuses a correct adapter.
#[test]
fn wgsl_objectives_match_their_f64_twins_at_every_size() {
    let opt = rules::parse("gd").unwrap();
    for spec in cases() {
        let obj = objective::parse(&spec).unwrap();
        // GpuWalk::eval runs the tiled kernels whatever the walker count.
        let g = GpuWalk::new(ctx(), obj.as_ref(), &opt).unwrap();
        let products = obj
            .wgsl()
            .passes
            .is_some_and(|p| p.grad.iter().any(|q| q.tile.is_some()));
        if products && obj.dim() >= 64 {
            assert!(g.engine().starts_with("multi-pass, tiled"), "{spec}");
        }
        check_eval(&spec, &g);
    }
}

/// The per-row kernels of the matrix-shaped objectives (what walks on several landscape
/// instances run) at research sizes, held to the twin as the tiled ones are.
#[test]
fn per_row_kernels_match_the_twin_at_research_sizes() {
    let opt = rules::parse("gd").unwrap();
    for spec in [
        "field:n=64,features=4096,seed=4",
        "field:n=256,features=256,length=1,mu=0.1,seed=3",
        "pspin:p=2,n=256,seed=1",
        "pspin:p=3,n=100,seed=1",
        "pspin:p=3,n=256,seed=2",
        "pspin:p=4,n=64,seed=3",
    ] {
        let obj = objective::parse(spec).unwrap();
        let g = GpuWalk::per_row(ctx(), obj.as_ref(), &opt).unwrap();
        assert_eq!(g.engine(), "multi-pass", "{spec}");
        check_eval(spec, &g);
    }
}

/// The walk's value, gradient and H v kernels against the twin at random points (see
/// wgsl_objectives_match_their_f64_twins_at_every_size for the tolerances).
fn check_eval(spec: &str, g: &GpuWalk) {
    let obj = objective::parse(spec).unwrap();
    let n = obj.dim();
    let w = if n >= 1000 || spec.starts_with("pspin:p=4") {
        4
    } else {
        16
    };
    let pts: Vec<f64> = Init::Auto
        .starts(obj.as_ref(), 11, 0, w)
        .iter()
        .map(|&x| f64::from(x as f32))
        .collect();
    let v: Vec<f64> = Init::parse("normal:sigma=1")
        .unwrap()
        .starts(obj.as_ref(), 12, 0, w)
        .iter()
        .map(|&x| f64::from(x as f32))
        .collect();
    let out = g.eval(&pts, &v).unwrap_or_else(|e| panic!("{spec}: {e}"));
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
        let x = &pts[k * n..(k + 1) * n];
        let bound = obj.f32_error(x);
        let tol_f = (1e-4 * (1.0 + fscale)).min(bound.f.max(1e-30));
        for (what, f) in [("obj_grad", out.f_grad[k]), ("obj_value", out.f_value[k])] {
            assert!(
                (f - fs[k]).abs() <= tol_f,
                "{spec}: f from {what} {f} vs {} at walker {k} (bound {:e})",
                fs[k],
                bound.f
            );
        }
        let dg: Vec<f64> = (0..n).map(|i| out.grad[k * n + i] - gs[k][i]).collect();
        assert!(
            norm(&dg) <= (1e-4 * (1.0 + gscale)).min(bound.grad.max(1e-30)),
            "{spec}: gradient differs by {} (scale {gscale}, bound {:e}) at walker {k}",
            norm(&dg),
            bound.grad
        );
        let dh: Vec<f64> = (0..n).map(|i| out.hvp[k * n + i] - hs[k][i]).collect();
        assert!(
            norm(&dh) <= 1e-4 * (1.0 + hscale),
            "{spec}: Hv differs by {} (scale {hscale}) at walker {k}",
            norm(&dh)
        );
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
    let starts = Init::parse(init)
        .unwrap()
        .starts(obj.as_ref(), plan.seed, 0, walkers);
    run_both_from(obj_spec, opt_spec, &starts, plan)
}

/// GPU and CPU twin from the given starts (W x N).
fn run_both_from(
    obj_spec: &str,
    opt_spec: &str,
    starts: &[f64],
    plan: &WalkPlan,
) -> (EndStates, EndStates) {
    let obj = objective::parse(obj_spec).unwrap();
    let opt = rules::parse(opt_spec).unwrap();
    let walkers = starts.len() / obj.dim();
    let hyper = Hyper::constant(&opt.hyper(), walkers);
    let gpu = GpuWalk::new(ctx(), obj.as_ref(), &opt)
        .unwrap()
        .run(plan, starts, &hyper, &|_| {})
        .unwrap();
    let cpu = cpu::run(obj.as_ref(), &opt, plan, starts, &hyper, &|_| {});
    (gpu, cpu)
}

/// Every rule with WGSL has its cases in the one table (tests/common/rule_cases.rs); no GPU
/// needed.
#[test]
fn every_rule_with_wgsl_has_test_cases() {
    rule_cases::check_table();
}

/// Every step rule with WGSL, with its cases from tests/common/rule_cases.rs: 50 GPU steps
/// against 50 reference steps from the same starts and seed (noisy rules draw the same Philox
/// numbers), at N = 2, 64 and 100 on a per-walker objective (the fused engine; starts from
/// `lattice_starts`), at N = 64 and 100 on the spherical 3-spin and the random field (the
/// multi-pass engine).
/// Positions must agree to 1e-3 (f32 rounding amplified over 50 steps of a
/// contracting-or-mildly-expanding map stays far below that; a wrong update or a different
/// random number moves a walker by the step size, >= 1e-2). Rules with discrete decisions
/// (anneal's Metropolis test, pgd's |g| <= g_thres test) may flip a decision that sits within
/// f32 rounding of its threshold: they may differ on at most 1 walker in 16.
#[test]
fn every_step_rule_matches_its_reference_for_50_steps() {
    rule_cases::check_table();
    let rules_with_wgsl = || rules::registry().into_iter().filter(|r| !r.cpu_only());
    let specs_for = |family: &str| -> Vec<&'static str> {
        rules_with_wgsl()
            .flat_map(|r| {
                let c = rule_cases::cases_of(r.name);
                if family == "styblinski-tang" {
                    c.fused
                } else {
                    c.batched
                }
            })
            .copied()
            .collect()
    };
    let plan = WalkPlan {
        max_steps: 50,
        grad_tol: 0.0,
        seed: 5,
        ..WalkPlan::default()
    };
    for n in [2, 64, 100] {
        let objs = [
            (format!("styblinski-tang:n={n}"), "lattice", 64),
            (format!("pspin:p=3,n={n},seed=1"), "auto", 16),
            (
                format!("field:n={n},features=256,seed=2"),
                "uniform:lo=-2,hi=2",
                32,
            ),
        ];
        for (obj, init, walkers) in &objs {
            let family = obj.split(':').next().unwrap_or_default();
            // N = 2 on the per-walker family only: on the circle and the plane the multi-pass
            // families have points where the Hessian vanishes along the walk, where
            // gradnorm's line-search step is ill-posed and f32 and f64 part ways.
            if n == 2 && family != "styblinski-tang" {
                continue;
            }
            for opt in specs_for(family) {
                let (g, c) = if *init == "lattice" {
                    run_both_from(obj, opt, &lattice_starts(n, *walkers, plan.seed), &plan)
                } else {
                    run_both(obj, opt, init, *walkers, &plan)
                };
                let bad = walkers_apart(&g, &c);
                // gradnorm's line search divides by |H H g|^2: on the field at N = 64 one
                // walker in 32 passes where that is small, and f32 rounding of one evaluation
                // (1.5e-6 of the gradient, the same for the per-row and the tiled kernels) ends
                // 1.5e-3 (per-row) or 3.2e-3 (tiled) from the twin after 50 steps, around the
                // 1e-3 criterion; a start moved by 1e-6 moves no walker's f64 end by more than
                // 4e-5. A kernel error moves every walker.
                let ill_posed = opt.starts_with("gradnorm") && family == "field";
                let allowed = if opt.starts_with("anneal") || opt.starts_with("pgd") || ill_posed {
                    g.len() / 16
                } else {
                    0
                };
                assert!(
                    bad <= allowed,
                    "{opt} on {obj}: {bad} of {} walkers differ between GPU and CPU",
                    g.len()
                );
                assert!(
                    (0..c.len()).all(|w| c.steps[w] == 50 || exact_root(&c, w)),
                    "{opt} on {obj}: every walker should take 50 steps"
                );
            }
        }
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

/// 50-step walks on the tiled kernels (one landscape and at least 64 walkers, so every
/// matrix-product pass of at least 16 rows and terms runs tiled) against the twin at the sizes the 50-step rule test does
/// not cover: N = 33 (a partial tile of rows and of terms), N = 256 and M = 4096 features, with
/// plain GD (the Hessian-vector kernels at these sizes: newton_mr_matches_its_twin_on_the_
/// multi_pass_engine).
#[test]
fn fifty_step_walks_on_the_tiled_kernels_match_the_twin() {
    let plan = WalkPlan {
        max_steps: 50,
        grad_tol: 0.0,
        seed: 3,
        ..WalkPlan::default()
    };
    for (obj, init, walkers, opts) in [
        (
            "field:n=33,features=256,seed=2",
            "uniform:lo=-2,hi=2",
            70,
            &["gd:lr=0.01"][..],
        ),
        (
            "field:n=64,features=4096,seed=4",
            "uniform:lo=-2,hi=2",
            64,
            &["gd:lr=0.002"][..],
        ),
        (
            "field:n=256,features=256,length=1,mu=0.1,seed=3",
            "auto",
            64,
            &["gd:lr=0.01"][..],
        ),
        ("pspin:p=3,n=33,seed=4", "auto", 70, &["gd:lr=0.05"][..]),
        ("pspin:p=4,n=33,seed=5", "auto", 64, &["gd:lr=0.02"][..]),
    ] {
        let o = objective::parse(obj).unwrap();
        let g = GpuWalk::new(ctx(), o.as_ref(), &rules::parse("gd").unwrap()).unwrap();
        assert!(g.engine().starts_with("multi-pass, tiled"), "{obj}");
        for opt in opts {
            let (g, c) = run_both(obj, opt, init, walkers, &plan);
            let bad = walkers_apart(&g, &c);
            assert!(
                bad == 0,
                "{opt} on {obj}: {bad} of {} walkers differ between GPU and CPU",
                g.len()
            );
        }
    }
}

/// 50-step walks with fewer walkers than gpu::SPLIT_BELOW, so that the field's matrix
/// products run the split-sum kernels, against the twin at N = 33 (a partial group of rows and
/// lanes), N = 64 and N = 256 with M = 4096 features (1e-3, as the 50-step rule test): with
/// subgroup shuffles where the device has them, and with the workgroup-memory fallback. Both
/// add the eight partial sums in one order, so their end states are bit-identical.
/// (newton_mr_matches_its_twin_on_the_multi_pass_engine walks 4 walkers: the split-sum H v
/// kernels; the 50-step rule test's 32 field walkers run the per-row kernels.)
#[test]
fn split_sum_walks_match_the_twin_with_and_without_subgroups() {
    let plan = WalkPlan {
        max_steps: 50,
        grad_tol: 0.0,
        seed: 3,
        ..WalkPlan::default()
    };
    let opt = rules::parse("gd:lr=0.002").unwrap();
    for (spec, walkers) in [
        ("field:n=33,features=256,seed=2", 5),
        ("field:n=64,features=4096,seed=4", 16),
        ("field:n=256,features=4096,length=1,mu=0.1,seed=3", 24),
    ] {
        let obj = objective::parse(spec).unwrap();
        let starts =
            Init::parse("uniform:lo=-2,hi=2")
                .unwrap()
                .starts(obj.as_ref(), plan.seed, 0, walkers);
        let hyper = Hyper::constant(&opt.hyper(), walkers);
        let cpu = cpu::run(obj.as_ref(), &opt, &plan, &starts, &hyper, &|_| {});
        let shuffles = GpuWalk::new(ctx(), obj.as_ref(), &opt).unwrap();
        let fallback = GpuWalk::without_subgroups(ctx(), obj.as_ref(), &opt).unwrap();
        assert!(walkers < SPLIT_BELOW, "{spec}");
        assert!(fallback.engine().contains("split-sum below"), "{spec}");
        let mut ends = vec![];
        for g in [shuffles, fallback] {
            let e = g.run(&plan, &starts, &hyper, &|_| {}).unwrap();
            let bad = walkers_apart(&e, &cpu);
            assert!(
                bad == 0,
                "{spec} ({}): {bad} of {walkers} walkers differ from the twin",
                g.engine()
            );
            ends.push(e.x);
        }
        assert!(
            ends[0] == ends[1],
            "{spec}: shuffles and fallback part ways"
        );
    }
}

/// Spherical p-spin walkers stay on |x|^2 = N, whatever the rule and the size.
#[test]
fn pspin_walkers_stay_on_the_sphere() {
    for (obj, walkers, steps) in [
        ("pspin:p=3,n=16,seed=7", 64, 400),
        ("pspin:p=3,n=33,seed=7", 16, 100),
        ("pspin:p=3,n=64,seed=7", 16, 40),
        ("pspin:p=3,n=100,seed=7", 8, 20),
        ("pspin:p=2,n=256,seed=7", 16, 40),
    ] {
        let n: f64 = obj
            .split("n=")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        for opt in [
            "gd:lr=0.05",
            "sgd:lr=0.02,noise=1",
            "adam:lr=0.05",
            "anneal:step=0.3",
        ] {
            let plan = WalkPlan {
                max_steps: steps,
                grad_tol: 1e-5,
                seed: 2,
                ..WalkPlan::default()
            };
            let (g, _) = run_both(obj, opt, "auto", walkers, &plan);
            for w in 0..g.len() {
                let r2: f64 = g.point(w).iter().map(|v| v * v).sum();
                assert!(
                    (r2 - n).abs() < n * 1e-4,
                    "{opt} on {obj}: walker {w} has |x|^2 = {r2}"
                );
            }
        }
    }
}

/// Gradient descent on the spherical 3-spin at N = 100 ends, on the GPU as on the twin, in
/// local minima (index 0 of the Riemannian Hessian) whose energies per spin lie in the band
/// that finite-N numerics and the literature give for gradient descent from random starts:
/// mean between -1.60 and -1.51 (the threshold energy is -sqrt(8/3) = -1.633 and the ground
/// state -1.657 as N -> inf; descent stops above both). This is the run that ended after one
/// step at |grad| = 0 before the loop-budget fix.
#[test]
fn pspin_descent_at_n_100_reaches_the_minima_the_twin_reaches() {
    let obj = objective::parse("pspin:p=3,n=100,seed=11").unwrap();
    let plan = WalkPlan {
        max_steps: 20_000,
        grad_tol: 1e-4,
        ..WalkPlan::default()
    };
    let (g, c) = run_both("pspin:p=3,n=100,seed=11", "gd:lr=0.1", "auto", 12, &plan);
    for (ends, side) in [(&g, "GPU"), (&c, "twin")] {
        let e: Vec<f64> = ends.f.iter().map(|f| f / 100.0).collect();
        let mean = e.iter().sum::<f64>() / e.len() as f64;
        assert!(
            (-1.60..=-1.51).contains(&mean),
            "{side}: mean energy per spin {mean} ({e:?})"
        );
        let eligible: Vec<bool> = ends
            .status
            .iter()
            .map(|&s| s == Status::Converged)
            .collect();
        assert!(eligible.iter().all(|&b| b), "{side}: {:?}", ends.status);
        let cat =
            saddlescope::critical::catalogue(obj.as_ref(), &ends.x, &eligible, &Default::default())
                .unwrap();
        assert!(
            cat.points.iter().all(|p| p.index == 0) && !cat.points.is_empty(),
            "{side}: indices {:?}",
            cat.points.iter().map(|p| p.index).collect::<Vec<_>>()
        );
        assert_eq!(
            cat.points.iter().map(|p| p.walkers).sum::<usize>(),
            12,
            "{side}: every walker polishes to a minimum"
        );
    }
}

/// Gradient descent on a tanh network of N = 1 105 parameters and P = 256 samples, GPU against
/// the twin for 50 steps, and the twin check of a real run passes on it.
#[test]
fn mlp_descent_at_research_size_matches_the_twin() {
    let spec = "mlp:widths=8-32-24-1,samples=256,seed=1";
    let obj = objective::parse(spec).unwrap();
    assert_eq!(obj.dim(), 1105);
    let plan = WalkPlan {
        max_steps: 50,
        grad_tol: 1e-6,
        ..WalkPlan::default()
    };
    let (g, c) = run_both(spec, "gd:lr=0.2", "auto", 8, &plan);
    assert_eq!(walkers_apart(&g, &c), 0, "GPU {:?} vs twin {:?}", g.f, c.f);
    let starts = Init::Auto.starts(obj.as_ref(), plan.seed, 0, 8);
    for w in 0..8 {
        let f0 = obj.value(&starts[w * 1105..(w + 1) * 1105]);
        assert!(
            c.f[w] < f0,
            "walker {w}: descent lowers the loss ({f0} -> {})",
            c.f[w]
        );
        assert!((g.f[w] - c.f[w]).abs() <= 1e-4 * c.f[w].abs().max(1.0));
    }
}

/// Minibatch descent (`batch=32`) on the N = 1 105, P = 256 network, GPU against the twin for
/// 50 steps: both draw the same batches (the same random numbers), so they agree to f32
/// rounding, while the twin on other batches (another seed, the same starts) or on the full
/// batch parts from both by far more. Then a range of batch sizes across walkers, from 0 (the
/// full batch) to 64, with momentum.
#[test]
fn mlp_minibatch_descent_matches_the_twin() {
    let spec = "mlp:widths=8-32-24-1,samples=256,seed=1";
    let obj = objective::parse(spec).unwrap();
    let n = obj.dim();
    assert_eq!(n, 1105);
    let plan = WalkPlan {
        max_steps: 50,
        grad_tol: 1e-6,
        ..WalkPlan::default()
    };
    let starts = Init::Auto.starts(obj.as_ref(), plan.seed, 0, 8);
    let largest = |a: &EndStates, b: &EndStates| {
        a.x.iter()
            .zip(&b.x)
            .map(|(p, q)| (p - q).abs())
            .fold(0.0, f64::max)
    };
    let (g, c) = run_both_from(spec, "gd:lr=0.2,batch=32", &starts, &plan);
    assert_eq!(walkers_apart(&g, &c), 0, "GPU {:?} vs twin {:?}", g.f, c.f);
    let opt = rules::parse("gd:lr=0.2,batch=32").unwrap();
    let hyper = Hyper::constant(&opt.hyper(), 8);
    let other = WalkPlan {
        seed: 77,
        ..plan.clone()
    };
    let c2 = cpu::run(obj.as_ref(), &opt, &other, &starts, &hyper, &|_| {});
    let full_opt = rules::parse("gd:lr=0.2").unwrap();
    let full_hyper = Hyper::constant(&full_opt.hyper(), 8);
    let c3 = cpu::run(
        obj.as_ref(),
        &full_opt,
        &plan,
        &starts,
        &full_hyper,
        &|_| {},
    );
    let same = largest(&g, &c);
    assert!(
        20.0 * same < largest(&c, &c2) && 20.0 * same < largest(&c, &c3),
        "GPU vs twin {same:e}, other batches {:e}, full batch {:e}",
        largest(&c, &c2),
        largest(&c, &c3)
    );
    // f and |grad| at the end are the full batch's (the stop tests never see a minibatch).
    for w in 0..8 {
        let mut grad = vec![0.0; n];
        let f = obj.gradient(c.point(w), &mut grad);
        assert!((c.f[w] - f).abs() <= 1e-12 * f.abs().max(1.0), "walker {w}");
        assert!((c.grad_norm[w] - norm(&grad)).abs() <= 1e-9 * norm(&grad));
    }
    // Batch sizes spread over the walkers, the first on the full batch (a smaller network).
    let spec = "mlp:widths=4-12-2,samples=96,seed=2";
    let obj = objective::parse(spec).unwrap();
    let starts = Init::Auto.starts(obj.as_ref(), plan.seed, 0, 8);
    let plan = WalkPlan {
        max_steps: 30,
        ..plan
    };
    let opt = rules::parse("momentum:lr=0.1,batch=0..64").unwrap();
    let hyper = opt.hyper_rows(8);
    let b = opt.batch_at();
    assert_eq!(
        (hyper.get(b, 0), hyper.get(b, 1), hyper.get(b, 7)),
        (0.0, 9.0, 64.0)
    );
    let gpu = GpuWalk::new(ctx(), obj.as_ref(), &opt)
        .unwrap()
        .run(&plan, &starts, &hyper, &|_| {})
        .unwrap();
    let cpu = cpu::run(obj.as_ref(), &opt, &plan, &starts, &hyper, &|_| {});
    assert_eq!(
        walkers_apart(&gpu, &cpu),
        0,
        "GPU {:?} vs twin {:?}",
        gpu.f,
        cpu.f
    );
    let full_opt = rules::parse("momentum:lr=0.1").unwrap();
    let full_hyper = Hyper::constant(&full_opt.hyper(), 8);
    let full = cpu::run(
        obj.as_ref(),
        &full_opt,
        &plan,
        &starts,
        &full_hyper,
        &|_| {},
    );
    assert_eq!(cpu.point(0), full.point(0), "batch = 0 is the full batch");
    assert_ne!(cpu.point(1), full.point(1));
}

/// Evaluations at more points than one chunk holds run chunk by chunk and match the twin: an
/// mlp at P = 16 384 samples needs 4.7 MB of scratch per walker, so a 128 MiB binding holds
/// only a few dozen walkers.
#[test]
fn evaluations_beyond_one_chunk_match_the_twin() {
    let obj = objective::parse("mlp:widths=2-8-1,samples=16384").unwrap();
    let g = GpuWalk::new(ctx(), obj.as_ref(), &rules::parse("gd").unwrap()).unwrap();
    let w = g.chunk_capacity() + 3;
    assert!(
        w < 200,
        "the scratch limits a chunk to a few walkers, not {w}"
    );
    let n = obj.dim();
    let pts: Vec<f64> = Init::Auto
        .starts(obj.as_ref(), 5, 0, w)
        .iter()
        .map(|&x| f64::from(x as f32))
        .collect();
    let out = g.eval(&pts, &pts).unwrap();
    assert_eq!((out.f_grad.len(), out.grad.len()), (w, w * n));
    for k in 0..w {
        let x = &pts[k * n..(k + 1) * n];
        let mut gr = vec![0.0; n];
        let f = obj.gradient(x, &mut gr);
        assert!(
            (out.f_grad[k] - f).abs() <= 1e-4 * f.abs().max(1.0),
            "walker {k}"
        );
        let d: Vec<f64> = (0..n).map(|i| out.grad[k * n + i] - gr[i]).collect();
        assert!(
            norm(&d) <= 1e-4 * norm(&gr).max(1.0),
            "walker {k}: {}",
            norm(&d)
        );
    }
}

/// A step too long for the software adapter's loop budget in one invocation is split: the
/// fused engine restores its snapshot and retries with fewer steps per invocation, and the
/// walk still matches the twin (a double well at N = 4096 allows only a few steps per
/// invocation there; every coordinate starts inside one well, so the walk contracts and f32
/// rounding cannot grow). On adapters without such a budget this is an ordinary large-N walk.
#[test]
fn a_walk_longer_than_the_loop_budget_still_matches_the_twin() {
    let plan = WalkPlan {
        max_steps: 40,
        grad_tol: 0.0,
        seed: 3,
        ..WalkPlan::default()
    };
    let (g, c) = run_both(
        "double-well:n=4096",
        "gd:lr=0.01",
        "uniform:lo=0.5,hi=1.6",
        8,
        &plan,
    );
    assert!(g.steps.iter().all(|&s| s == 40), "{:?}", g.steps);
    let d =
        g.x.iter()
            .zip(&c.x)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
    assert!(d < 1e-3, "GPU and twin differ by {d}");
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

/// newton-mr on the multi-pass engine (the spherical 3-spin at N = 64, the random field at
/// N = 64 and 100) against its twin. For 10 steps positions agree to 1e-3 of the scale, the
/// bound of `every_step_rule_matches_its_reference_for_50_steps` (measured: 1e-6 on the 3-spin
/// at N = 64, 8e-5 on the field at N = 100, whose f32 sin and cos are the coarser); a wrong
/// MINRES coefficient or line-search decision moves a walker by a step (~1). Over 50 steps of 4 MINRES iterations from random
/// starts the inexact Newton course through an indefinite Hessian with eigenvalues near 0 does
/// not contract: f32 rounding grows by ~1.25x a step (measured: positions part by up to 0.04 at
/// step 50 while f agrees to 0.02 of an f of order N = 64), so the 50-step check holds f to
/// 1e-3 N and |grad f| to the same progress. Few walkers and 4 MINRES iterations keep the multi-pass engine's passes (every
/// MINRES iteration and line-search trial is one) inside the software adapter's time; pspin at
/// N = 100 is left out for that reason (per-walker N = 100 is in the rule table's fused cases).
#[test]
fn newton_mr_matches_its_twin_on_the_multi_pass_engine() {
    let cases = [
        ("pspin:p=3,n=64,seed=1", "auto"),
        ("field:n=64,features=256,seed=2", "uniform:lo=-2,hi=2"),
        ("field:n=100,features=256,seed=2", "uniform:lo=-2,hi=2"),
        ("field:n=33,features=256,seed=2", "uniform:lo=-2,hi=2"),
        ("pspin:p=3,n=33,seed=4", "auto"),
    ];
    for (spec, init) in cases {
        let n = objective::parse(spec).unwrap().dim();
        for steps in [10, 50] {
            let plan = WalkPlan {
                max_steps: steps,
                grad_tol: 0.0,
                seed: 5,
                ..WalkPlan::default()
            };
            let (g, c) = run_both(spec, "newton-mr:iters=4", init, 4, &plan);
            for w in 0..g.len() {
                let d = (0..n)
                    .map(|i| (g.x[w * n + i] - c.x[w * n + i]).abs())
                    .fold(0.0, f64::max);
                let scale = 1.0 + c.point(w).iter().fold(0f64, |a, b| a.max(b.abs()));
                let what = format!("newton-mr on {spec}, walker {w}, {steps} steps");
                if steps == 10 {
                    assert!(d <= 1e-3 * scale, "{what}: positions differ by {d}");
                } else {
                    // Both objectives are extensive (f of order N): f to 1e-3 N.
                    let df = (g.f[w] - c.f[w]).abs();
                    assert!(df <= 1e-3 * n as f64, "{what}: f {} vs {}", g.f[w], c.f[w]);
                    assert!(
                        g.grad_norm[w] <= 1.5 * c.grad_norm[w] + 1e-3
                            && c.grad_norm[w] <= 1.5 * g.grad_norm[w] + 1e-3,
                        "{what}: |grad f| {} vs {}",
                        g.grad_norm[w],
                        c.grad_norm[w]
                    );
                }
            }
        }
    }
}

/// A p-spin whose packed couplings do not fit one of the adapter's storage buffers is refused
/// before any kernel is built, with the sizes (a usage error, so `auto` walks on the CPU).
#[test]
fn pspin_beyond_the_adapters_buffer_is_refused_with_its_size() {
    let ctx = ctx();
    let l = &ctx.limits;
    let floats = (l.max_storage_buffer_binding_size.min(l.max_buffer_size) / 4) as usize;
    let packed = |n: usize| n * n * (n + 1) / 2;
    let n = (2..=1289).find(|&n| packed(n) + 16 > floats);
    let Some(n) = n else {
        eprintln!("skipped: this adapter binds every p = 3 size the objective allows");
        return;
    };
    let obj = objective::parse(&format!("pspin:p=3,n={n}")).unwrap();
    let opt = rules::parse("gd").unwrap();
    match GpuWalk::new(ctx.clone(), obj.as_ref(), &opt) {
        Err(e @ GpuError::TooLarge(_)) => {
            assert!(e.is_usage());
            let m = e.to_string();
            assert!(m.contains("MiB") && m.contains("--backend cpu"), "{m}");
        }
        Err(e) => panic!("n={n}: wrong error {e}"),
        Ok(_) => panic!("n={n}: {} floats were accepted", packed(n)),
    }
    // One size below fits.
    let obj = objective::parse(&format!("pspin:p=3,n={}", n - 1)).unwrap();
    assert!(GpuWalk::new(ctx, obj.as_ref(), &opt).is_ok());
}

/// The same for a field whose frequencies (stored twice on the GPU: 2 M (N + 1) floats) pass
/// the adapter's buffer; the host holds it (features x n <= 2^30).
#[test]
fn field_beyond_the_adapters_buffer_is_refused_with_its_size() {
    let ctx = ctx();
    let l = &ctx.limits;
    let floats = (l.max_storage_buffer_binding_size.min(l.max_buffer_size) / 4) as usize;
    let n = 1024;
    let m = (floats - 16) / (2 * (n + 1)) + 1;
    if m > 1 << 20 {
        eprintln!("skipped: this adapter binds every field of n = {n}");
        return;
    }
    let obj = objective::parse(&format!("field:n={n},features={m}")).unwrap();
    let opt = rules::parse("gd").unwrap();
    match GpuWalk::new(ctx.clone(), obj.as_ref(), &opt) {
        Err(e @ GpuError::TooLarge(_)) => assert!(e.to_string().contains("MiB"), "{e}"),
        Err(e) => panic!("features={m}: wrong error {e}"),
        Ok(_) => panic!("features={m}: accepted"),
    }
    let obj = objective::parse(&format!("field:n={n},features={}", m - 1)).unwrap();
    assert!(GpuWalk::new(ctx, obj.as_ref(), &opt).is_ok());
}
