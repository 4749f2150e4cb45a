//! Formula objectives against the built-ins they re-state, against finite differences, and
//! the parser against random formulas.

use proptest::prelude::*;

use super::parse::{self, Ast, BinOp, Kind, Program};
use super::Expr;
use crate::objective::{self, Objective};

/// Each built-in 2-D objective and the same function as a formula.
const TWINS_2D: &[(&str, &str)] = &[
    ("saddle", "x^2 - y^2"),
    ("monkey-saddle", "x^3 - 3*x*y^2"),
    ("himmelblau", "(x^2 + y - 11)^2 + (x + y^2 - 7)^2"),
    (
        "muller-brown",
        "-200*exp(-(x-1)^2 - 10*y^2) - 100*exp(-x^2 - 10*(y-0.5)^2) \
         - 170*exp(-6.5*(x+0.5)^2 + 11*(x+0.5)*(y-1.5) - 6.5*(y-1.5)^2) \
         + 15*exp(0.7*(x+1)^2 + 0.6*(x+1)*(y-1) + 0.7*(y-1)^2)",
    ),
    (
        "camel6",
        "(4 - 2.1*x^2 + x^4/3)*x^2 + x*y + (-4 + 4*y^2)*y^2",
    ),
];

/// A fixed, portable stream of uniforms in [0, 1) (xorshift64*).
fn uniforms(seed: u64) -> impl FnMut() -> f64 {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    move || {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        (s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Random points in the objective's box.
fn points(obj: &dyn Objective, count: usize, seed: u64) -> Vec<Vec<f64>> {
    let (lo, hi) = match obj.domain() {
        objective::Domain::Box { lo, hi } => ((lo, lo), (hi, hi)),
        objective::Domain::Box2 { x, y } => ((x.0, y.0), (x.1, y.1)),
        objective::Domain::Sphere => ((-1.0, -1.0), (1.0, 1.0)),
    };
    let mut u = uniforms(seed);
    (0..count)
        .map(|_| {
            (0..obj.dim())
                .map(|i| {
                    let (a, b) = if i == 0 { (lo.0, hi.0) } else { (lo.1, hi.1) };
                    a + (b - a) * u()
                })
                .collect()
        })
        .collect()
}

/// |a - b| within `rel` of the scale of both (and of 1).
fn close(a: f64, b: f64, scale: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * (1.0 + scale.abs() + a.abs().max(b.abs()))
}

/// f, gradient and Hessian of `a` and `b` agree at `pts` to f64 rounding of the terms' scale.
fn same_function(a: &dyn Objective, b: &dyn Objective, pts: &[Vec<f64>], what: &str) {
    let n = a.dim();
    assert_eq!(n, b.dim(), "{what}: dimension");
    for x in pts {
        let (mut ga, mut gb) = (vec![0.0; n], vec![0.0; n]);
        let (fa, fb) = (a.gradient(x, &mut ga), b.gradient(x, &mut gb));
        let scale = fa.abs().max(ga.iter().fold(0f64, |m, v| m.max(v.abs())));
        assert!(
            close(fa, fb, scale, 1e-12),
            "{what}: f {fa} vs {fb} at {x:?}"
        );
        assert!(
            close(a.value(x), fb, scale, 1e-12),
            "{what}: value at {x:?}"
        );
        for i in 0..n {
            assert!(
                close(ga[i], gb[i], scale, 1e-12),
                "{what}: df/dx{i} {} vs {} at {x:?}",
                ga[i],
                gb[i]
            );
        }
        let (ha, hb) = (a.hessian(x), b.hessian(x));
        let hs = ha.iter().fold(0f64, |m, v| m.max(v.abs()));
        for (p, q) in ha.iter().zip(hb.iter()) {
            assert!(
                close(*p, *q, scale.max(hs), 1e-11),
                "{what}: Hessian\n{ha}\nvs\n{hb}\nat {x:?}"
            );
        }
    }
}

#[test]
fn every_builtin_2d_objective_as_a_formula_is_the_builtin() {
    let names: Vec<&str> = objective::registry()
        .iter()
        .filter(|e| e.params.is_empty())
        .map(|e| e.name)
        .collect();
    for name in &names {
        assert!(
            TWINS_2D.iter().any(|(n, _)| n == name),
            "built-in 2-D objective '{name}' has no formula in TWINS_2D"
        );
    }
    for (k, (name, formula)) in TWINS_2D.iter().enumerate() {
        let b = objective::parse(name).unwrap();
        let f = Expr::from_source(formula).unwrap_or_else(|e| panic!("{name}: {e}"));
        same_function(&f, b.as_ref(), &points(b.as_ref(), 50, 7 + k as u64), name);
    }
}

/// The N-D built-ins written with sum at N = 8, and the separable wells at N = 5.
#[test]
fn nd_builtins_written_with_sum_are_the_builtins() {
    let cases = [
        (
            "rosenbrock:n=8",
            "sum(i, 0, 6, 100*(x[i+1] - x[i]^2)^2 + (1 - x[i])^2)",
        ),
        (
            "rastrigin:n=8",
            "n = 8; 10*n + sum(i, 0, n-1, x[i]^2 - 10*cos(2*pi*x[i]))",
        ),
        ("double-well:n=5", "sum(i, 0, 4, (x[i]^2 - 1)^2)"),
        (
            "styblinski-tang:n=5",
            "sum(i, 0, 4, (x[i]^4 - 16*x[i]^2 + 5*x[i])/2)",
        ),
        ("flat-well:n=5", "sum(i, 0, 4, relu(abs(x[i]) - 1)^2)"),
    ];
    for (k, (spec, formula)) in cases.iter().enumerate() {
        let b = objective::parse(spec).unwrap();
        let f = Expr::from_source(formula).unwrap_or_else(|e| panic!("{spec}: {e}"));
        same_function(&f, b.as_ref(), &points(b.as_ref(), 30, 40 + k as u64), spec);
    }
}

/// Derivatives of formulas using every function against central differences of the value
/// (gradient) and of the gradient (Hessian), and hvp against the Hessian.
#[test]
fn derivatives_match_finite_differences_for_every_function() {
    let formulas = [
        "sin(x)*cos(y) + tan(0.3*z)",
        "exp(-x^2) * log(2 + y^2) + sqrt(1 + z^2)",
        "tanh(x*y) + sigmoid(y - z) + softplus(x + 2*z)",
        "abs(x - 0.3) * max(y, z) + min(x, y)^2 + relu(z)^3",
        "x^2.5 + (y^2 + 1)^-1.5 + 2^x + x^y",
        "(x + y)/(1 + z^2) - x/(y^2 + 2)",
        "let r = x^2 + y^2; r*exp(-r) + z*r",
    ];
    for (k, src) in formulas.iter().enumerate() {
        let f = Expr::from_source(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        let n = f.dim();
        let mut u = uniforms(100 + k as u64);
        for _ in 0..20 {
            // Away from the kinks and in the domain of x^2.5 and x^y (x > 0).
            let x: Vec<f64> = (0..n)
                .map(|i| if i == 0 { 0.5 + u() } else { 2.0 * u() - 1.0 })
                .collect();
            let mut g = vec![0.0; n];
            f.gradient(&x, &mut g);
            let h = f.hessian(&x);
            let step = 1e-6;
            for i in 0..n {
                let (mut xp, mut xm) = (x.clone(), x.clone());
                xp[i] += step;
                xm[i] -= step;
                let fd = (f.value(&xp) - f.value(&xm)) / (2.0 * step);
                assert!(
                    close(g[i], fd, 0.0, 1e-6),
                    "{src}: df/dx{i} {} vs {fd} at {x:?}",
                    g[i]
                );
                let (mut gp, mut gm) = (vec![0.0; n], vec![0.0; n]);
                f.gradient(&xp, &mut gp);
                f.gradient(&xm, &mut gm);
                for j in 0..n {
                    let fd = (gp[j] - gm[j]) / (2.0 * step);
                    assert!(
                        close(h[(j, i)], fd, 0.0, 1e-5),
                        "{src}: H{j}{i} {} vs {fd}",
                        h[(j, i)]
                    );
                }
            }
            let v: Vec<f64> = (0..n).map(|_| u() - 0.5).collect();
            let mut hv = vec![0.0; n];
            f.hvp(&x, &v, &mut hv);
            for i in 0..n {
                let want: f64 = (0..n).map(|j| h[(i, j)] * v[j]).sum();
                assert!(close(hv[i], want, 0.0, 1e-12), "{src}: hvp");
            }
        }
    }
}

/// relu and max give exact flat regions: zero gradient and Hessian inside, and the built-in
/// flat-well's one-sided second derivative at the boundary.
#[test]
fn kinks_take_one_sided_derivatives_and_flat_regions_are_exact() {
    let f = Expr::from_source("relu(abs(x) - 1)^2 + max(y, 0)^2 + min(z, 0)").unwrap();
    for x in [[0.0, 0.0, 0.5], [0.9, -3.0, 0.0], [-1.0, 0.0, 1.0]] {
        let mut g = vec![1.0; 3];
        f.gradient(&x, &mut g);
        assert_eq!(g, vec![0.0; 3], "at {x:?}");
        assert!(f.hessian(&x).iter().all(|v| *v == 0.0), "at {x:?}");
    }
    let mut g = vec![0.0; 3];
    f.gradient(&[2.0, 1.0, -1.0], &mut g);
    assert_eq!(g, vec![2.0, 2.0, 1.0]);
    assert_eq!(f.hessian(&[0.0, 0.0, 0.0])[(1, 1)], 0.0);
    assert_eq!(f.hessian(&[-1.5, 0.5, 0.0])[(0, 0)], 2.0);
}

#[test]
fn shared_subexpressions_are_one_node() {
    let a = Expr::from_source("sin(x*y) + sin(x*y)^2 + cos(x*y)").unwrap();
    // x, y, x*y, sin, the square, +, cos, +.
    assert_eq!(a.nodes(), 8);
    let b = Expr::from_source("let s = sin(x*y); s + s^2 + cos(x*y)").unwrap();
    assert_eq!(b.nodes(), 8);
}

#[test]
fn dimension_variables_and_sphere_come_from_the_formula() {
    assert_eq!(Expr::from_source("y^2").unwrap().dim(), 2);
    assert_eq!(Expr::from_source("x0 + x4").unwrap().dim(), 5);
    let s = Expr::from_source("n = 6; sphere; sum(i, 0, n-1, x[i]^4)").unwrap();
    assert!(s.sphere() && s.dim() == 6);
    assert_eq!(s.domain(), objective::Domain::Sphere);
    let again = objective::parse(&s.spec()).unwrap();
    assert_eq!(again.spec(), s.spec());
    assert!(again.sphere() && again.dim() == 6);
}

// ---- the parser on random formulas

fn leaf() -> impl Strategy<Value = Ast> {
    prop_oneof![
        (0.0f64..1e6).prop_map(Kind::Num),
        prop::sample::select(vec!["x", "y", "z", "pi", "e"]).prop_map(|s| Kind::Name(s.into())),
        (0u32..4).prop_map(|i| Kind::Index(Box::new(Ast {
            kind: Kind::Num(f64::from(i)),
            pos: 0
        }))),
    ]
    .prop_map(|kind| Ast { kind, pos: 0 })
}

fn tree() -> impl Strategy<Value = Ast> {
    leaf().prop_recursive(5, 40, 4, |inner| {
        let ops = prop::sample::select(vec![
            BinOp::Add,
            BinOp::Sub,
            BinOp::Mul,
            BinOp::Div,
            BinOp::Pow,
        ]);
        let funcs = prop::sample::select(
            parse::FUNCTIONS
                .iter()
                .copied()
                .filter(|f| f.0 != "sum")
                .collect::<Vec<_>>(),
        );
        prop_oneof![
            inner.clone().prop_map(|a| Kind::Neg(Box::new(a))),
            (ops, inner.clone(), inner.clone()).prop_map(|(op, a, b)| Kind::Bin(
                op,
                Box::new(a),
                Box::new(b)
            )),
            (funcs, prop::collection::vec(inner.clone(), 2)).prop_map(|((f, k), mut args)| {
                args.truncate(k);
                Kind::Call(f.into(), args)
            }),
            (0i32..3, 0i32..3, inner).prop_map(|(lo, hi, t)| Kind::Sum(
                "i".into(),
                Box::new(Ast {
                    kind: Kind::Num(f64::from(lo)),
                    pos: 0
                }),
                Box::new(Ast {
                    kind: Kind::Num(f64::from(hi)),
                    pos: 0
                }),
                Box::new(t)
            )),
        ]
        .prop_map(|kind| Ast { kind, pos: 0 })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Printing a tree and parsing the text gives the tree back.
    #[test]
    fn parse_print_parse_is_the_identity(body in tree(), n in prop::option::of(1usize..9), sphere in any::<bool>()) {
        let prog = Program { n, sphere, lets: vec![("q".into(), body.clone())], body };
        let text = prog.to_string();
        let back = parse::parse(&text).map_err(|e| TestCaseError::fail(e.render(&text)))?;
        prop_assert_eq!(&back, &prog);
        prop_assert_eq!(back.to_string(), text);
    }

    /// Any text: an error or a program, never a panic; lowering never panics either.
    #[test]
    fn arbitrary_text_never_panics(s in "[-+*/^()\\[\\],;= .0-9a-z#]{0,40}") {
        if let Ok(p) = parse::parse(&s) {
            let _ = super::graph::lower(&p);
        }
        let _ = Expr::from_source(&s);
    }
}

/// The generated WGSL of formulas using every operation assembles with every rule that has
/// WGSL, parses and validates (naga) and keeps the Rust-WGSL contract.
#[test]
fn generated_wgsl_validates_with_every_rule() {
    use crate::gpu::{contract, shader};
    let formulas = [
        "sin(x)*cos(y) + tan(0.3*x) + exp(-x^2)*log(2 + y^2) + sqrt(1 + x^2)",
        "tanh(x*y) + sigmoid(y) + softplus(x) + abs(x)*max(x, y) + min(x, y) + relu(y)^3",
        "x^2.5 + 1/(1 + y^2) + x^y + 7",
        "n = 4; sum(i, 0, 2, 100*(x[i+1] - x[i]^2)^2 + (1 - x[i])^2)",
        "n = 3; x1",
        "n = 40; 10*n + sum(i, 0, n-1, x[i]^2 - 10*cos(2*pi*x[i]))",
        "n = 12; x0^3 + sum(i, 1, n-1, (i + 1)*x[i]^2*x[n-i] + sin(0.5*i*x[i]) + x[2]*x[i])",
        "n = 5; sum(i, 0, n-1, sum(j, 0, n-1, x[i]*x[j]^2)) + sum(i, 0, 2, x[i*i]^2)",
    ];
    for src in formulas {
        let obj = Expr::from_source(src).unwrap();
        for r in crate::rules::registry()
            .into_iter()
            .filter(|r| !r.cpu_only())
        {
            let opt = crate::rules::parse(r.name).unwrap();
            let (a, _) = shader::walk_module(r.name, &obj, &opt).unwrap();
            let module =
                shader::validate(&a).unwrap_or_else(|e| panic!("{src} with {}: {e}", r.name));
            contract::check(&module).unwrap_or_else(|e| panic!("{src} with {}: {e}", r.name));
        }
    }
}

// ---- sums run as loops

/// The graph of a formula, with regular sums as loops (`loops`) or every sum unrolled.
fn graph_of(src: &str, loops: bool) -> super::graph::Graph {
    let prog = parse::parse(src).unwrap_or_else(|e| panic!("{src}: {}", e.render(src)));
    super::graph::lower_with(&prog, loops).unwrap_or_else(|e| panic!("{src}: {}", e.render(src)))
}

/// Which sums become loops: regular terms (affine indices, the index as a number, fixed
/// coordinates, constant definitions) do; nested sums, terms reading a definition that
/// depends on x, non-affine indices, one-term sums and sums that read no x are unrolled.
#[test]
fn regular_sums_are_loops_and_the_others_are_unrolled() {
    let cases: &[(&str, usize)] = &[
        (
            "n = 1000; 10*n + sum(i, 0, n-1, x[i]^2 - 10*cos(2*pi*x[i]))",
            1,
        ),
        (
            "n = 1000; sum(i, 0, n-2, 100*(x[i+1] - x[i]^2)^2 + (1 - x[i])^2)",
            1,
        ),
        (
            "n = 8; sum(i, 0, 3, 100*(x[2*i+1] - x[2*i]^2)^2 + (1 - x[2*i])^2)",
            1,
        ),
        (
            "n = 9; let a = 2.5; sum(i, 0, n-1, a*i*x[n-1-i]*x[4] + x[i]^2)",
            1,
        ),
        // The same sum twice is one loop; two different ranges are two.
        (
            "n = 6; sum(i, 0, 5, x[i]^2) + sum(i, 0, 5, x[i]^2)^2 + sum(i, 1, 5, x[i]^2)",
            2,
        ),
        // The outer sum is unrolled (its term holds a sum); each inner one is a loop.
        ("n = 5; sum(i, 0, n-1, sum(j, 0, n-1, x[i]*x[j]^2))", 5),
        ("n = 6; let s = x0 + x1; sum(i, 0, n-1, s*x[i]^2)", 0),
        ("sum(i, 0, 3, x[i*i])", 0),
        ("x0 + sum(i, 0, 0, x[i]^2)", 0),
        ("x0 * sum(i, 1, 100, 1/i^2)", 0),
    ];
    for &(src, loops) in cases {
        let g = graph_of(src, true);
        assert_eq!(g.loops.len(), loops, "{src}: {:?}", g.loops);
        let e = Expr::from_source(src).unwrap();
        assert_eq!(e.loops(), loops, "{src}");
        assert_eq!(e.nodes(), g.ops(), "{src}");
    }
    // Code size does not grow with N: the term is written once.
    let rastrigin = |n: usize| {
        let e = Expr::from_source(&format!(
            "n = {n}; 10*n + sum(i, 0, n-1, x[i]^2 - 10*cos(2*pi*x[i]))"
        ))
        .unwrap();
        e.wgsl().body.len()
    };
    assert!(
        rastrigin(1000) < rastrigin(16) + 200,
        "{} vs {}",
        rastrigin(1000),
        rastrigin(16)
    );
}

/// The loop form of a formula is the unrolled form: f, gradient, H v to f64 rounding. Their
/// f32 error bounds describe the same arithmetic and agree closely, except that the unrolled
/// bound also charges a rounding to every adjoint passed down the sum's chain of additions
/// (an exact product by 1 in the WGSL), a looseness that grows with N and that the loop form
/// has not: at N = 12 the loop bound lies between a quarter of the unrolled one and 1.5 times
/// it.
#[test]
fn loop_sums_are_their_unrolled_sums_in_value_derivatives_and_error_bound() {
    use super::{bound, eval};
    let formulas = [
        "n = 12; 10*n + sum(i, 0, n-1, x[i]^2 - 10*cos(2*pi*x[i]))",
        "n = 12; sum(i, 0, n-2, 100*(x[i+1] - x[i]^2)^2 + (1 - x[i])^2)",
        "n = 12; sum(i, 0, 5, 100*(x[2*i+1] - x[2*i]^2)^2 + (1 - x[2*i])^2)",
        "n = 12; x0^3 - x5*x6 + sum(i, 1, n-1, (i + 1)*x[i]^2*x[n-i] + sin(0.5*i*x[i]))",
        "n = 12; sum(i, 0, n-1, x0*x[i] + tanh(x[i] - x[3]) + (x[n-1-i] - 1)^4)",
        "n = 12; sum(i, 0, n-2, relu(abs(x[i]) - 1)^2 + max(x[i], x[i+1]) + min(x[i], 0.2))",
        "n = 12; sum(i, 0, n-2, log(1 + x[i]^2)/(2 + cos(x[i+1])) + exp(-x[i]^2) + sqrt(1 + x[i]^2))",
        "n = 12; sum(i, 0, n-3, sigmoid(tanh(x[i])*softplus(x[i+2])) + (1 + x[i+1]^2)^1.5)",
        "n = 12; sphere; sum(i, 0, n-2, x[i]*x[i+1]) + sum(i, 0, n-1, x[i]^4)/n",
        // Sums inside nonlinear functions: their adjoints have tangents along v.
        "n = 12; let r = sum(i, 0, n-1, x[i]^2); r*exp(-r/n) + sin(sum(i, 0, n-2, x[i]*x[i+1])/n)",
    ];
    for (k, src) in formulas.iter().enumerate() {
        let (lp, un) = (graph_of(src, true), graph_of(src, false));
        assert!(!lp.loops.is_empty() && un.loops.is_empty(), "{src}");
        let n = lp.n;
        let mut u = uniforms(300 + k as u64);
        for _ in 0..10 {
            let x: Vec<f64> = (0..n).map(|_| 3.0 * u() - 1.5).collect();
            let v: Vec<f64> = (0..n).map(|_| u() - 0.5).collect();
            let (mut ga, mut gb) = (vec![0.0; n], vec![0.0; n]);
            let (fa, fb) = (
                eval::gradient(&lp, &x, &mut ga),
                eval::gradient(&un, &x, &mut gb),
            );
            let fv = eval::forward(&lp, &x);
            let scale = fb.abs() + gb.iter().fold(0f64, |m, g| m.max(g.abs()));
            assert!(close(fa, fb, scale, 1e-12), "{src}: f {fa} vs {fb}");
            assert!(close(fv[fv.len() - 1], fb, scale, 1e-12), "{src}: value");
            for i in 0..n {
                assert!(
                    close(ga[i], gb[i], scale, 1e-12),
                    "{src}: df/dx{i} {} vs {}",
                    ga[i],
                    gb[i]
                );
            }
            let (mut ha, mut hb) = (vec![0.0; n], vec![0.0; n]);
            eval::hvp(&lp, &x, &v, &mut ha);
            eval::hvp(&un, &x, &v, &mut hb);
            let hs = hb.iter().fold(scale, |m, h| m.max(h.abs()));
            for i in 0..n {
                assert!(
                    close(ha[i], hb[i], hs, 1e-12),
                    "{src}: (Hv){i} {} vs {}",
                    ha[i],
                    hb[i]
                );
            }
            let (ba, bb) = (bound::f32_error(&lp, &x), bound::f32_error(&un, &x));
            // The forward errors are the same analysis of the same operations.
            assert!(
                ba.0 > 0.0 && (ba.0 - bb.0).abs() <= 0.05 * bb.0,
                "{src}: the f bound of the loop form {:e} vs unrolled {:e}",
                ba.0,
                bb.0
            );
            assert!(
                ba.1 > 0.0 && ba.1 <= 1.5 * bb.1 && bb.1 <= 4.0 * ba.1,
                "{src}: the gradient bound of the loop form {:e} vs unrolled {:e}",
                ba.1,
                bb.1
            );
        }
    }
}

/// The loop's bound is the running error analysis of the loop's arithmetic, worked by hand
/// for f = sum(i, 0, 1, x[i]^2) at x = (1, 2), in units of u = 2^-24 (each value counted
/// with the model's rules: a coordinate read carries u|x|, every +, * its own u|result|):
/// - f: the term x^2 carries |x|·u|x| twice (the operands) plus u·x^2, so 3u·x^2: 3u and
///   12u; the running sum adds u·|1| and u·|1 + 4|: 21u, doubled 42u.
/// - gradient: the term's adjoint reaches the leaf x twice (x·x), each time with the error of
///   the partial (u|x|) and the rounding of the contribution and of the leaf's running sum,
///   3u|x| + 4u|x| = 7u|x|; the scatter into the zeroed gradient adds u·2|x|: 9u|x|, so
///   (9u, 18u), of norm 9u·√5, doubled 18√5 u.
#[test]
fn the_loop_bound_is_the_running_error_analysis_of_the_loop() {
    use crate::objective::rounding::U;
    let g = graph_of("sum(i, 0, 1, x[i]^2)", true);
    assert_eq!(g.loops.len(), 1);
    let (f, grad) = super::bound::f32_error(&g, &[1.0, 2.0]);
    assert!((f / U - 42.0).abs() < 1e-9, "f bound {} u", f / U);
    let want = 18.0 * 5f64.sqrt();
    assert!(
        (grad / U - want).abs() < 1e-9,
        "gradient bound {} u, want {want} u",
        grad / U
    );
}

/// Rastrigin and Rosenbrock at N = 256 written with sum (loops) are the built-ins.
#[test]
fn nd_builtins_at_n_256_written_with_sum_are_the_builtins() {
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
    for (k, (spec, formula)) in cases.iter().enumerate() {
        let b = objective::parse(spec).unwrap();
        let f = Expr::from_source(formula).unwrap();
        assert_eq!(f.loops(), 1, "{formula}");
        same_function(&f, b.as_ref(), &points(b.as_ref(), 3, 60 + k as u64), spec);
    }
}

/// The operation cap counts a loop's term once: sums at N = 65 536 lower, an unrolled sum of
/// as many terms does not; errors in loop terms are the unrolled ones.
#[test]
fn loop_terms_count_once_against_the_cap_and_keep_the_errors() {
    let big = "n = 65536; sum(i, 0, n-2, 100*(x[i+1] - x[i]^2)^2 + (1 - x[i])^2)";
    assert!(Expr::from_source(big).unwrap().nodes() < 30);
    let err = |src: &str| match Expr::from_source(src) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("{src} should be refused"),
    };
    let e = err("n = 8000; let s = x0; sum(i, 0, n-1, s*x[i]^2)");
    assert!(e.contains("more than 20000 distinct operations"), "{e}");
    let e = err("n = 8; sum(i, 0, 7, x[i+1]^2)");
    assert!(
        e.contains("variable x8 is beyond the dimension n = 8"),
        "{e}"
    );
    let e = err("n = 8; sum(i, 0, 7, x[i-1]^2)");
    assert!(e.contains("index -1 is negative"), "{e}");
    let e = err("n = 8; sum(i, 0, 2000000, x[0]*i)");
    assert!(e.contains("more than 1048576 terms"), "{e}");
    let e = err("n = 8; sum(i, 0, 7, foo(x[i]))");
    assert!(e.contains("unknown function 'foo'"), "{e}");
    // Indices beyond the loop's i32 are unrolled, and refused there, without overflow.
    err("sum(i, 1, 1073741823, x[1099511627775*i])");
    err("sum(i, 0, 3, x[1099511627775*i - 1099511627775])");
}
