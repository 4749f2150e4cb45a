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
