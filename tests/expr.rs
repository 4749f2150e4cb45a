//! Formula objectives (`--objective 'expr:…'`) end to end: the generated WGSL against the f64
//! twin on the GPU, the Himmelblau catalogue through the CLI as for the built-in, formula files,
//! and a corpus of malformed formulas, each refused with exit 2 and a caret.

mod common;

use common::cli::{run, tmp};
use common::{ctx, norm};
use saddlescope::gpu::GpuWalk;
use saddlescope::objective;
use saddlescope::rules;
use saddlescope::walk::init::Init;

/// Formulas over every operation, 2-D to N = 64 (the sum unrolled).
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

/// obj_value, obj_grad and obj_hvp on the adapter against the twin, within both the 1e-4
/// scale tolerance of tests/gpu_twins.rs and the objective's own f32 error bound for f and
/// the gradient.
#[test]
fn generated_wgsl_matches_the_f64_twin_on_the_gpu() {
    let ctx = ctx();
    let opt = rules::parse("gd").unwrap();
    for spec in GPU_CASES {
        let obj = objective::parse(&format!("expr:{spec}")).unwrap();
        let n = obj.dim();
        let w = 16;
        let pts: Vec<f64> = Init::Auto
            .starts(obj.as_ref(), 11, 0, w)
            .iter()
            .map(|&x| f64::from((x * 0.6) as f32))
            .collect();
        let v: Vec<f64> = Init::parse("normal:sigma=1")
            .unwrap()
            .starts(obj.as_ref(), 12, 0, w)
            .iter()
            .map(|&x| f64::from(x as f32))
            .collect();
        let g = GpuWalk::new(ctx.clone(), obj.as_ref(), &opt).unwrap();
        let out = g.eval(&pts, &v).unwrap_or_else(|e| panic!("{spec}: {e}"));
        for k in 0..w {
            let x = &pts[k * n..(k + 1) * n];
            let mut gr = vec![0.0; n];
            let f = obj.gradient(x, &mut gr);
            let mut hv = vec![0.0; n];
            obj.hvp(x, &v[k * n..(k + 1) * n], &mut hv);
            let bound = obj.f32_error(x);
            let tol_f = (1e-4 * (1.0 + f.abs())).min(bound.f.max(1e-30));
            for (what, fg) in [("obj_grad", out.f_grad[k]), ("obj_value", out.f_value[k])] {
                assert!(
                    (fg - f).abs() <= tol_f,
                    "{spec}: f from {what} {fg} vs {f} at walker {k} (bound {:e})",
                    bound.f
                );
            }
            let dg: Vec<f64> = (0..n).map(|i| out.grad[k * n + i] - gr[i]).collect();
            assert!(
                norm(&dg) <= (1e-4 * (1.0 + norm(&gr))).min(bound.grad.max(1e-30)),
                "{spec}: gradient differs by {} (bound {:e}) at walker {k}",
                norm(&dg),
                bound.grad
            );
            let dh: Vec<f64> = (0..n).map(|i| out.hvp[k * n + i] - hv[i]).collect();
            assert!(
                norm(&dh) <= 1e-4 * (1.0 + norm(&hv)),
                "{spec}: Hv differs by {} (|Hv| {}) at walker {k}",
                norm(&dh),
                norm(&hv)
            );
        }
    }
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
