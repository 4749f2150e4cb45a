//! Formula objectives (`--objective 'expr:…'`) end to end: the generated WGSL against the f64
//! twin on the GPU, the Himmelblau catalogue through the CLI as for the built-in, formula files,
//! and a corpus of malformed formulas, each refused with exit 2 and a caret.

mod common;

use common::cli::{manifest, run, tmp};
use common::{ctx, norm, walkers_apart};
use saddlescope::gpu::walker::GpuEval;
use saddlescope::gpu::GpuWalk;
use saddlescope::objective::expr::Expr;
use saddlescope::objective::{self, Objective};
use saddlescope::rules;
use saddlescope::walk::init::Init;
use saddlescope::walk::{cpu, Hyper, WalkPlan};

/// Formulas over every operation, 2-D to N = 64, sums as loops and unrolled.
const GPU_CASES: &[&str] = &[
    "(x^2 + y - 11)^2 + (x + y^2 - 7)^2",
    "-200*exp(-(x-1)^2 - 10*y^2) - 100*exp(-x^2 - 10*(y-0.5)^2) + 15*exp(0.07*(x+1)^2)",
    "sin(3*x)*cos(2*y) + tan(0.2*z) + sqrt(1 + x^2) + log(2 + y^2)",
    "tanh(x*y) + sigmoid(y - z) + softplus(x + 2*z) + abs(x)*max(y, z) + min(x, y)^2 + relu(z)^3",
    "(1 + x^2)^1.5 + (x + y)/(2 + z^2) + 2^y",
    "sum(i, 0, 6, 100*(x[i+1] - x[i]^2)^2 + (1 - x[i])^2)",
    "n = 64; 10*n + sum(i, 0, n-1, x[i]^2 - 10*cos(2*pi*x[i]))",
    "n = 16; sphere; sum(i, 0, n-2, x[i]*x[i+1]) + sum(i, 0, n-1, x[i]^4)/n",
];

/// Formulas that fall back to unrolling, in whole or in part: a nested sum (the outer one
/// unrolled, the inner ones loops), a term reading a definition that depends on x, a
/// non-affine index, next to a loop.
const UNROLLED_CASES: &[(&str, usize)] = &[
    ("n = 12; sum(i, 0, n-1, sum(j, i, n-1, x[i]*x[j])/(1 + i)) + sum(i, 0, n-1, x[i]^4)", 12),
    ("n = 10; let s = x0 + x1; sum(i, 0, n-1, s*x[i]^2) + sum(i, 0, 2, x[i*i]^3) + sum(i, 0, n-1, cos(x[i]))", 1),
];

/// Regular sums at the sizes researchers use, with their number of loops: Rastrigin,
/// Rosenbrock, a term of even and odd coordinates, one that reads the index, a reversed index
/// and a fixed coordinate, and sums inside nonlinear functions (whose adjoints have tangents).
fn loop_cases(n: usize) -> Vec<(String, usize)> {
    vec![
        (
            format!("n = {n}; 10*n + sum(i, 0, n-1, x[i]^2 - 10*cos(2*pi*x[i]))"),
            1,
        ),
        (
            format!("n = {n}; sum(i, 0, n-2, 100*(x[i+1] - x[i]^2)^2 + (1 - x[i])^2)"),
            1,
        ),
        (
            format!(
                "n = {n}; sum(i, 0, {}, (x[2*i+1] - x[2*i]^2)^2 + 0.5*tanh(x[2*i]))",
                n / 2 - 1
            ),
            1,
        ),
        (
            format!(
                "n = {n}; x0^2 + sum(i, 1, n-1, (1 + i/n)*(x[i]^2 - 1)^2 + 0.1*x[n-i]*x[i] \
                 + 0.01*x[1]*sin(x[i]))"
            ),
            1,
        ),
        (
            format!(
                "n = {n}; let r = sum(i, 0, n-1, x[i]^2); \
                 r*exp(-r/n) + sin(sum(i, 0, n-2, x[i]*x[i+1])/n)"
            ),
            2,
        ),
    ]
}

/// The twin's f, gradient and H v at `w` points and the adapter's, for objective `obj`: both
/// f's and the gradient within the 1e-4 scale tolerance of tests/gpu_twins.rs and the
/// objective's own f32 error bound; H v within 1e-4 of its scale. Returns the GPU's output
/// and the points.
fn gpu_against_twin(obj: &dyn Objective, what: &str, w: usize) -> (GpuEval, Vec<f64>, Vec<f64>) {
    let opt = rules::parse("gd").unwrap();
    let n = obj.dim();
    let pts: Vec<f64> = Init::Auto
        .starts(obj, 11, 0, w)
        .iter()
        .map(|&x| f64::from((x * 0.6) as f32))
        .collect();
    let v: Vec<f64> = Init::parse("normal:sigma=1")
        .unwrap()
        .starts(obj, 12, 0, w)
        .iter()
        .map(|&x| f64::from(x as f32))
        .collect();
    let g = GpuWalk::new(ctx(), obj, &opt).unwrap();
    let out = g.eval(&pts, &v).unwrap_or_else(|e| panic!("{what}: {e}"));
    for k in 0..w {
        let x = &pts[k * n..(k + 1) * n];
        let mut gr = vec![0.0; n];
        let f = obj.gradient(x, &mut gr);
        let mut hv = vec![0.0; n];
        obj.hvp(x, &v[k * n..(k + 1) * n], &mut hv);
        let bound = obj.f32_error(x);
        let tol_f = (1e-4 * (1.0 + f.abs())).min(bound.f.max(1e-30));
        for (which, fg) in [("obj_grad", out.f_grad[k]), ("obj_value", out.f_value[k])] {
            assert!(
                (fg - f).abs() <= tol_f,
                "{what}: f from {which} {fg} vs {f} at walker {k} (bound {:e})",
                bound.f
            );
        }
        let dg: Vec<f64> = (0..n).map(|i| out.grad[k * n + i] - gr[i]).collect();
        assert!(
            norm(&dg) <= (1e-4 * (1.0 + norm(&gr))).min(bound.grad.max(1e-30)),
            "{what}: gradient differs by {} (bound {:e}) at walker {k}",
            norm(&dg),
            bound.grad
        );
        let dh: Vec<f64> = (0..n).map(|i| out.hvp[k * n + i] - hv[i]).collect();
        assert!(
            norm(&dh) <= 1e-4 * (1.0 + norm(&hv)),
            "{what}: Hv differs by {} (|Hv| {}) at walker {k}",
            norm(&dh),
            norm(&hv)
        );
    }
    (out, pts, v)
}

/// obj_value, obj_grad and obj_hvp on the adapter against the twin, for formulas over every
/// operation and for formulas that fall back to unrolling.
#[test]
fn generated_wgsl_matches_the_f64_twin_on_the_gpu() {
    for spec in GPU_CASES {
        let obj = objective::parse(&format!("expr:{spec}")).unwrap();
        gpu_against_twin(obj.as_ref(), spec, 16);
    }
    for &(spec, loops) in UNROLLED_CASES {
        let obj = Expr::parse(spec).unwrap();
        assert_eq!(obj.loops(), loops, "{spec}");
        gpu_against_twin(&obj, spec, 16);
    }
}

/// Sums as loops at N = 64, 100, 256 and 1000: f, the gradient and H v on the adapter against
/// the twin (and the twin's f32 bound).
#[test]
fn loop_sums_match_the_twin_on_the_gpu_at_research_sizes() {
    for n in [64, 100, 256, 1000] {
        for (spec, loops) in loop_cases(n) {
            let obj = Expr::parse(&spec).unwrap();
            assert_eq!(obj.loops(), loops, "{spec}");
            assert!(obj.nodes() < 60, "{spec}: {} operations", obj.nodes());
            gpu_against_twin(&obj, &spec, 8);
        }
    }
}

/// Rastrigin and Rosenbrock at N = 256 written with sum give the built-ins' f, gradient and
/// H v on the adapter (to f32 rounding) as on the twin.
#[test]
fn rastrigin_and_rosenbrock_as_loop_sums_are_the_builtins_on_the_gpu() {
    let cases = [
        (
            "rastrigin:n=256",
            "n = 256; 10*n + sum(i, 0, n-1, x[i]^2 - 10*cos(2*pi*x[i]))",
        ),
        (
            "rosenbrock:n=256",
            "n = 256; sum(i, 0, n-2, 100*(x[i+1] - x[i]^2)^2 + (1 - x[i])^2)",
        ),
    ];
    let opt = rules::parse("gd").unwrap();
    for (builtin, formula) in cases {
        let b = objective::parse(builtin).unwrap();
        let f = Expr::parse(formula).unwrap();
        assert_eq!(f.loops(), 1);
        let (fo, pts, v) = gpu_against_twin(&f, formula, 8);
        let bo = GpuWalk::new(ctx(), b.as_ref(), &opt)
            .unwrap()
            .eval(&pts, &v)
            .unwrap();
        let n = 256;
        for k in 0..8 {
            let x = &pts[k * n..(k + 1) * n];
            let (mut gf, mut gb) = (vec![0.0; n], vec![0.0; n]);
            let (ff, fb) = (f.gradient(x, &mut gf), b.gradient(x, &mut gb));
            let scale = 1.0 + fb.abs();
            assert!(
                (ff - fb).abs() <= 1e-12 * scale,
                "{builtin}: twin f {ff} vs {fb}"
            );
            let dg: Vec<f64> = (0..n).map(|i| gf[i] - gb[i]).collect();
            assert!(
                norm(&dg) <= 1e-12 * (1.0 + norm(&gb)),
                "{builtin}: twin gradient"
            );
            assert!(
                (fo.f_grad[k] - bo.f_grad[k]).abs() <= 1e-4 * scale,
                "{builtin}: GPU f {} vs {}",
                fo.f_grad[k],
                bo.f_grad[k]
            );
            let row = |a: &[f64]| a[k * n..(k + 1) * n].to_vec();
            for (what, a, b) in [("gradient", &fo.grad, &bo.grad), ("H v", &fo.hvp, &bo.hvp)] {
                let (a, b) = (row(a), row(b));
                let d: Vec<f64> = (0..n).map(|i| a[i] - b[i]).collect();
                assert!(
                    norm(&d) <= 1e-4 * (1.0 + norm(&b)),
                    "{builtin}: GPU {what} differs from the built-in's by {}",
                    norm(&d)
                );
            }
        }
    }
}

/// 50 steps on the adapter against 50 on the twin, for loop sums at N = 64, 100, 256, 1000:
/// gradient descent (obj_grad every step) and gradnorm (obj_hvp every step), from starts in
/// a contracting basin, with positions to 1e-3 as in tests/gpu_twins.rs.
#[test]
fn walks_on_loop_sums_match_the_twin_for_50_steps() {
    let plan = WalkPlan {
        max_steps: 50,
        grad_tol: 0.0,
        seed: 5,
        ..WalkPlan::default()
    };
    for n in [64, 100, 256, 1000] {
        let cases = [
            (
                format!("n = {n}; 10*n + sum(i, 0, n-1, x[i]^2 - 10*cos(2*pi*x[i]))"),
                "gd:lr=0.001",
                "uniform:lo=-0.2,hi=0.2",
            ),
            (
                format!(
                    "n = {n}; sum(i, 0, n-1, (x[i]^2 - 1)^2) + 0.1*sum(i, 0, n-2, x[i]*x[i+1])"
                ),
                "gradnorm:lr=0.0005",
                "uniform:lo=-1.5,hi=1.5",
            ),
        ];
        for (spec, rule, init) in &cases {
            let obj = Expr::parse(spec).unwrap();
            assert!(obj.loops() >= 1, "{spec}");
            let opt = rules::parse(rule).unwrap();
            let walkers = 16;
            let starts = Init::parse(init)
                .unwrap()
                .starts(&obj, plan.seed, 0, walkers);
            let hyper = Hyper::constant(&opt.hyper(), walkers);
            let g = GpuWalk::new(ctx(), &obj, &opt)
                .unwrap()
                .run(&plan, &starts, &hyper, &|_| {})
                .unwrap_or_else(|e| panic!("{rule} on {spec}: {e}"));
            let c = cpu::run(&obj, &opt, &plan, &starts, &hyper, &|_| {});
            assert_eq!(
                walkers_apart(&g, &c),
                0,
                "{rule} on {spec}: GPU {:?} vs twin {:?}",
                g.f,
                c.f
            );
            assert!(
                (0..walkers).all(|w| c.steps[w] == 50),
                "{rule} on {spec}: 50 steps each"
            );
        }
    }
}

/// A GPU run at N = 1000 through the CLI: the twin check passes within a fraction of the
/// loop form's f32 bound.
#[test]
fn a_loop_sum_at_n_1000_passes_the_twin_check_of_a_gpu_run() {
    let out = tmp("n1000");
    let o = run(&[
        "sample",
        "--objective",
        "expr:n = 1000; 10*n + sum(i, 0, n-1, x[i]^2 - 10*cos(2*pi*x[i]))",
        "--optimizer",
        "gd:lr=0.001",
        "--walkers",
        "32",
        "--steps",
        "30",
        "--no-critical",
        "--backend",
        "gpu",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let t = &manifest(&out)["backend"]["twin_check"];
    assert_eq!(t["passed"], true, "{t}");
    assert!(t["max_ratio"].as_f64().unwrap() < 0.5, "{t}");
}

/// The catalogue rows (f, index, kind, x0, x1) of critical_points.csv.
fn catalogue(dir: &std::path::Path) -> Vec<(f64, usize, String, f64, f64)> {
    let csv = std::fs::read_to_string(dir.join("critical_points.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (f, index, kind, x0, x1) = (col("f"), col("index"), col("kind"), col("x0"), col("x1"));
    lines
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (
                c[f].parse().unwrap(),
                c[index].parse().unwrap(),
                c[kind].to_string(),
                c[x0].parse().unwrap(),
                c[x1].parse().unwrap(),
            )
        })
        .collect()
}

fn sample(name: &str, objective: &str) -> Vec<(f64, usize, String, f64, f64)> {
    let out = tmp(name);
    let o = run(&[
        "sample",
        "--objective",
        objective,
        "--optimizer",
        "gradnorm:lr=0.0001",
        "--walkers",
        "256",
        "--steps",
        "20000",
        "--grad-tol",
        "1e-3",
        "--backend",
        "cpu",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    catalogue(&out)
}

/// Himmelblau as a formula, from the same starts, gives the built-in's catalogue: the same
/// nine critical points (4 minima, 4 saddles, the maximum) with the same indices.
#[test]
fn himmelblau_as_a_formula_has_the_builtins_nine_critical_points() {
    let builtin = sample("hb-builtin", "himmelblau");
    let formula = sample("hb-formula", "expr:(x^2 + y - 11)^2 + (x + y^2 - 7)^2");
    assert_eq!(builtin.len(), 9, "{builtin:#?}");
    assert_eq!(
        formula.len(),
        builtin.len(),
        "{formula:#?}\nvs\n{builtin:#?}"
    );
    for (a, b) in formula.iter().zip(&builtin) {
        assert_eq!((a.1, &a.2), (b.1, &b.2), "{a:?} vs {b:?}");
        assert!(
            (a.0 - b.0).abs() < 1e-9 && (a.3 - b.3).abs() < 1e-7 && (a.4 - b.4).abs() < 1e-7,
            "{a:?} vs {b:?}"
        );
    }
    let kinds = |k: &str| formula.iter().filter(|r| r.2 == k).count();
    assert_eq!((kinds("minimum"), kinds("maximum")), (4, 1));
}

/// `expr:@FILE` with a header, definitions and comments; the spec recorded is the canonical
/// formula, which parses again.
#[test]
fn formula_files_take_a_header_definitions_and_comments() {
    let dir = tmp("file");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("ring.expr");
    std::fs::write(
        &file,
        "# a ring of coupled double wells\nn = 6;\nlet w = sum(i, 0, n-1, (x[i]^2 - 1)^2);\n\
         let c = sum(i, 0, n-2, x[i]*x[i+1]);\nw + 0.1*c\n",
    )
    .unwrap();
    let obj = objective::parse(&format!("expr:@{}", file.display())).unwrap();
    assert_eq!(obj.dim(), 6);
    let again = objective::parse(&obj.spec()).unwrap();
    let x = [0.3, -0.2, 1.1, 0.5, -0.9, 0.0];
    assert_eq!(again.value(&x), obj.value(&x));
    let o = run(&[
        "sample",
        "--objective",
        &format!("expr:@{}", dir.join("nope").display()),
        "--optimizer",
        "gd",
        "--out",
        dir.join("o").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read the formula file"));
}

/// Malformed formulas: each is exit 2, with the formula shown and a caret under the place.
#[test]
fn malformed_formulas_are_usage_errors_with_a_caret() {
    let corpus = [
        "",
        "x +",
        "(x + y",
        "x + y)",
        "sin x",
        "sin()",
        "foo(x)",
        "sinh(x)",
        "max(x)",
        "min(x, y, z)",
        "sum(i, 0, 3)",
        "sum(0, 0, 3, x[i])",
        "sum(i, 0, 2.5, x[i])",
        "sum(i, 0, n, x[i])",
        "x[-1]",
        "x[0.5]",
        "y[0]",
        "x[i]",
        "x + x0",
        "q + 1",
        "2 ** x",
        "x $ y",
        "1e400 * x",
        "x y",
        "n = 0; x",
        "n = 2; x5",
        "let x = 3; x",
        "let a = 1; let a = 2; a*x",
        "let a = 1 a*x",
        "pi",
        "x^",
        "*x",
        "exp(x",
        "3..5 * x",
        "sum(i, 0, 3, x[i/2])",
        "sphere x",
    ];
    let out = tmp("bad");
    for f in corpus {
        let spec = format!("expr:{f}");
        let o = run(&[
            "sample",
            "--objective",
            &spec,
            "--optimizer",
            "gd",
            "--out",
            out.to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "'{f}': {err}");
        assert!(
            err.contains("expr") && err.contains('^'),
            "'{f}': no caret in {err}"
        );
        assert!(!err.contains("panicked"), "'{f}': {err}");
        // The caret stands under a place of the formula's line.
        let lines: Vec<&str> = err.lines().collect();
        let caret = lines
            .iter()
            .position(|l| l.trim() == "^")
            .unwrap_or_else(|| panic!("'{f}': {err}"));
        assert!(
            caret > 0 && lines[caret - 1].contains(f.trim()),
            "'{f}': {err}"
        );
        assert!(
            !out.exists(),
            "'{f}': a refused run wrote {}",
            out.display()
        );
    }
    let o = run(&[
        "sample",
        "--objective",
        "expr:sinh(x)",
        "--optimizer",
        "gd",
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("valid functions") && err.contains("softplus(x)"),
        "{err}"
    );
}

/// `list` shows the formula grammar with every function.
#[test]
fn list_shows_the_grammar() {
    let o = run(&["list"]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("expr:FORMULA") && out.contains("sum(i, a, b, term)"),
        "{out}"
    );
    for (f, _) in saddlescope::objective::expr::parse::FUNCTIONS {
        assert!(out.contains(&format!("{f}(")), "list lacks {f}: {out}");
    }
}

/// `sweep` over N of a formula written with `n`: weakly coupled double wells have 3^N critical
/// points, 2^N of them minima (each coordinate near −1, 0 or +1); a formula with its own
/// `n = …;` is refused, since the sweep sets n.
#[test]
fn sweep_sets_the_dimension_of_a_formula() {
    let out = tmp("sweep");
    let f = "expr:sum(i, 0, n-1, (x[i]^2 - 1)^2) + 0.2*sum(i, 0, n-2, x[i]*x[i+1])";
    let o = run(&[
        "sweep",
        "--objective",
        f,
        "--dims",
        "2,3",
        "--optimizer",
        "gradnorm:lr=0.002",
        "--walkers",
        "512",
        "--steps",
        "20000",
        "--grad-tol",
        "1e-4",
        "--init",
        "uniform:lo=-1.5,hi=1.5",
        "--backend",
        "cpu",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csv = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    for l in lines {
        let c: Vec<&str> = l.split(',').collect();
        let n: u32 = c[col("dim")].parse().unwrap();
        assert_eq!(c[col("points")], 3usize.pow(n).to_string(), "{l}");
        assert_eq!(c[col("minima")], 2usize.pow(n).to_string(), "{l}");
    }
    let o = run(&[
        "sweep",
        "--objective",
        "expr:n = 4; x0^2",
        "--dims",
        "2",
        "--optimizer",
        "gd",
        "--out",
        tmp("sweep-n").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("a sweep sets n itself"));
}
