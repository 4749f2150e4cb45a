//! WGSL generation: `obj_value`, `obj_grad` and `obj_hvp` (the per-walker contract of
//! shaders/common.wgsl) as straight-line f32 code, one `let` per graph node, in the order and
//! with the formulas of the f64 twin (`eval.rs`). No loops: sums are unrolled in the graph, so
//! the evaluation costs nothing of llvmpipe's loop budget. Every input is read before any output
//! is written, so `dst` may be `v` and `src` may be SLOT_GRAD.

use std::fmt::Write;

use super::graph::{Func, Graph, Op};

/// Reduces a to [−π, π] before sin, cos and tan (where WGSL's accuracy is specified).
const PRELUDE: &str =
    "// Objective generated from a formula (src/objective/expr); CPU twin: expr/eval.rs.

fn expr_turn(a: f32) -> f32 {
    let r = a * 0.15915494309189535;
    return 6.283185307179586 * (r - round(r));
}
";

/// An f32 WGSL literal.
fn lit(v: f64) -> String {
    format!("{:?}", v as f32)
}

fn n(k: usize) -> String {
    format!("n{k}")
}

/// The WGSL value of node k (operands by name).
fn value(op: &Op) -> String {
    let (a, b) = match op.args() {
        Some((a, b)) => (n(a), b.map(n).unwrap_or_default()),
        None => (String::new(), String::new()),
    };
    match *op {
        Op::Const(c) => lit(c),
        Op::Var(_) => String::new(),
        Op::Add(..) => format!("{a} + {b}"),
        Op::Sub(..) => format!("{a} - {b}"),
        Op::Mul(..) => format!("{a} * {b}"),
        Op::Div(..) => format!("{a} / {b}"),
        Op::Neg(_) => format!("-{a}"),
        Op::PowC(_, c) => format!("pow({a}, {})", lit(c)),
        Op::Max(..) => format!("select({b}, {a}, {a} > {b})"),
        Op::Min(..) => format!("select({b}, {a}, {a} < {b})"),
        Op::F(f, _) => match f {
            Func::Sin => format!("sin(expr_turn({a}))"),
            Func::Cos => format!("cos(expr_turn({a}))"),
            Func::Tan => format!("tan(expr_turn({a}))"),
            Func::Exp => format!("exp({a})"),
            Func::Log => format!("log({a})"),
            Func::Sqrt => format!("sqrt({a})"),
            Func::Abs => format!("abs({a})"),
            Func::Tanh => format!("tanh(clamp({a}, -20.0, 20.0))"),
            Func::Sigmoid => format!("1.0 / (1.0 + exp(-{a}))"),
            Func::Softplus => format!("max({a}, 0.0) + log(1.0 + exp(-abs({a})))"),
        },
    }
}

/// The partials [da, db, daa, dab, dbb] of node k as WGSL, None where they are 0.
/// Keep in sync with `eval::partials`.
fn partials(op: &Op, k: usize) -> [Option<String>; 5] {
    let (a, b) = match op.args() {
        Some((a, b)) => (n(a), b.map(n).unwrap_or_default()),
        None => return Default::default(),
    };
    let v = n(k);
    let s = |t: String| Some(t);
    match *op {
        Op::Add(..) => [s("1.0".into()), s("1.0".into()), None, None, None],
        Op::Sub(..) => [s("1.0".into()), s("-1.0".into()), None, None, None],
        Op::Mul(..) => [s(b), s(a), None, s("1.0".into()), None],
        Op::Div(..) => [
            s(format!("1.0 / {b}")),
            s(format!("-{v} / {b}")),
            None,
            s(format!("-1.0 / ({b} * {b})")),
            s(format!("2.0 * {v} / ({b} * {b})")),
        ],
        Op::Neg(_) => [s("-1.0".into()), None, None, None, None],
        Op::PowC(_, c) => [
            s(format!("{} * pow({a}, {})", lit(c), lit(c - 1.0))),
            None,
            s(format!(
                "{} * pow({a}, {})",
                lit(c * (c - 1.0)),
                lit(c - 2.0)
            )),
            None,
            None,
        ],
        Op::Max(..) => [
            s(format!("select(0.0, 1.0, {a} > {b})")),
            s(format!("select(1.0, 0.0, {a} > {b})")),
            None,
            None,
            None,
        ],
        Op::Min(..) => [
            s(format!("select(0.0, 1.0, {a} < {b})")),
            s(format!("select(1.0, 0.0, {a} < {b})")),
            None,
            None,
            None,
        ],
        Op::F(f, _) => {
            let (d, dd) = match f {
                Func::Sin => (format!("cos(expr_turn({a}))"), Some(format!("-{v}"))),
                Func::Cos => (format!("-sin(expr_turn({a}))"), Some(format!("-{v}"))),
                Func::Tan => (
                    format!("1.0 + {v} * {v}"),
                    Some(format!("2.0 * {v} * (1.0 + {v} * {v})")),
                ),
                Func::Exp => (v.clone(), Some(v.clone())),
                Func::Log => (format!("1.0 / {a}"), Some(format!("-1.0 / ({a} * {a})"))),
                Func::Sqrt => (
                    format!("0.5 / {v}"),
                    Some(format!("-0.25 / ({v} * {v} * {v})")),
                ),
                Func::Abs => (format!("sign({a})"), None),
                Func::Tanh => (
                    format!("1.0 - {v} * {v}"),
                    Some(format!("-2.0 * {v} * (1.0 - {v} * {v})")),
                ),
                Func::Sigmoid => (
                    format!("{v} * (1.0 - {v})"),
                    Some(format!("{v} * (1.0 - {v}) * (1.0 - 2.0 * {v})")),
                ),
                Func::Softplus => {
                    let sg = format!("(1.0 / (1.0 + exp(-{a})))");
                    (sg.clone(), Some(format!("{sg} * (1.0 - {sg})")))
                }
            };
            [Some(d), None, dd, None, None]
        }
        Op::Const(_) | Op::Var(_) => Default::default(),
    }
}

/// Which nodes depend on x (the others have no tangent or adjoint).
fn dependent(g: &Graph) -> Vec<bool> {
    let mut dep = vec![false; g.nodes.len()];
    for (k, op) in g.nodes.iter().enumerate() {
        dep[k] = match *op {
            Op::Var(_) => true,
            _ => op
                .args()
                .is_some_and(|(a, b)| dep[a] || b.is_some_and(|b| dep[b])),
        };
    }
    dep
}

/// The `let` of every node's value, reading the variables from slot `src`.
fn values(g: &Graph, s: &mut String) {
    for (k, op) in g.nodes.iter().enumerate() {
        match *op {
            Op::Var(i) => {
                let _ = writeln!(s, "    let n{k} = state[at(src, {i}u, w)];");
            }
            _ => {
                let _ = writeln!(s, "    let n{k} = {};", value(op));
            }
        }
    }
}

/// The `let` of the partials of nodes that depend on x (`second`: also the second partials).
fn partial_lets(g: &Graph, dep: &[bool], second: bool, s: &mut String) -> Vec<[bool; 5]> {
    let mut have = vec![[false; 5]; g.nodes.len()];
    for (k, op) in g.nodes.iter().enumerate() {
        if !dep[k] {
            continue;
        }
        for (j, p) in partials(op, k).into_iter().enumerate() {
            if let Some(p) = p {
                if j < 2 || second {
                    let _ = writeln!(s, "    let p{k}_{j} = {p};");
                    have[k][j] = true;
                }
            }
        }
    }
    have
}

/// The operands of node k that depend on x, with the index of their first partial (0 or 1).
fn dep_args(g: &Graph, dep: &[bool], k: usize) -> Vec<(usize, usize)> {
    match g.nodes[k].args() {
        Some((a, b)) => [(a, 0), (b.unwrap_or(usize::MAX), 1)]
            .into_iter()
            .filter(|&(j, _)| j != usize::MAX && dep[j])
            .collect(),
        None => Vec::new(),
    }
}

/// The variable nodes, by coordinate.
fn var_nodes(g: &Graph) -> Vec<Option<usize>> {
    let mut v = vec![None; g.n];
    for (k, op) in g.nodes.iter().enumerate() {
        if let Op::Var(i) = *op {
            v[i] = Some(k);
        }
    }
    v
}

/// The reverse pass as `let`s, in descending node order: the adjoint `a{j}` of node j is the
/// sum over its users k (all > j, so already defined) of a{k} times k's partial in j; with
/// `hvp`, its tangent `b{j}` is the sum of b{k} times that partial plus a{k} times the
/// partial's tangent along v. No `var`s: straight SSA, cheap for shader compilers. The f64
/// twin accumulates the same terms (in another order: a difference of rounding only).
fn reverse(g: &Graph, dep: &[bool], have: &[[bool; 5]], hvp: bool, s: &mut String) {
    let last = g.nodes.len() - 1;
    let mut users: Vec<Vec<(usize, usize)>> = vec![Vec::new(); g.nodes.len()];
    for k in (0..=last).filter(|&k| dep[k]) {
        for (j, side) in dep_args(g, dep, k) {
            users[j].push((k, side));
        }
    }
    for j in (0..=last).rev().filter(|&j| dep[j]) {
        let mut adj = Vec::new();
        let mut tan = Vec::new();
        for &(k, side) in &users[j] {
            if have[k][side] {
                adj.push(format!("a{k} * p{k}_{side}"));
                tan.push(format!("b{k} * p{k}_{side}"));
            }
            // The tangent of partial `side` along v: daa ta + dab tb (side 0), dab ta + dbb tb.
            let mut tp = Vec::new();
            for (m, mside) in dep_args(g, dep, k) {
                let idx = match (side, mside) {
                    (0, 0) => 2,
                    (1, 1) => 4,
                    _ => 3,
                };
                if have[k][idx] {
                    tp.push(format!("p{k}_{idx} * t{m}"));
                }
            }
            if !tp.is_empty() {
                tan.push(format!("a{k} * ({})", tp.join(" + ")));
            }
        }
        let sum = |terms: Vec<String>, root: &str| {
            if j == last {
                root.to_string()
            } else if terms.is_empty() {
                "0.0".to_string()
            } else {
                terms.join(" + ")
            }
        };
        let _ = writeln!(s, "    let a{j} = {};", sum(adj, "1.0"));
        if hvp {
            let _ = writeln!(s, "    let b{j} = {};", sum(tan, "0.0"));
        }
    }
}

/// The three entry points of the objective.
pub fn generate(g: &Graph) -> String {
    let dep = dependent(g);
    let last = g.nodes.len() - 1;
    let vars = var_nodes(g);
    let mut s = String::from(PRELUDE);

    s.push_str("\nfn obj_value(src: u32, w: u32) -> f32 {\n");
    values(g, &mut s);
    let _ = writeln!(s, "    return n{last};\n}}");

    s.push_str("\nfn obj_grad(src: u32, w: u32) -> f32 {\n");
    values(g, &mut s);
    let have = partial_lets(g, &dep, false, &mut s);
    reverse(g, &dep, &have, false, &mut s);
    for (i, k) in vars.iter().enumerate() {
        let a = k.map_or("0.0".to_string(), |k| format!("a{k}"));
        let _ = writeln!(s, "    state[at(SLOT_GRAD, {i}u, w)] = {a};");
    }
    let _ = writeln!(s, "    return n{last};\n}}");

    s.push_str("\nfn obj_hvp(src: u32, v: u32, dst: u32, w: u32) {\n");
    values(g, &mut s);
    let have = partial_lets(g, &dep, true, &mut s);
    for (k, op) in g.nodes.iter().enumerate() {
        if !dep[k] {
            continue;
        }
        if let Op::Var(i) = *op {
            let _ = writeln!(s, "    let t{k} = state[at(v, {i}u, w)];");
            continue;
        }
        let terms: Vec<String> = dep_args(g, &dep, k)
            .into_iter()
            .filter(|&(_, side)| have[k][side])
            .map(|(j, side)| format!("p{k}_{side} * t{j}"))
            .collect();
        let rhs = if terms.is_empty() {
            "0.0".to_string()
        } else {
            terms.join(" + ")
        };
        let _ = writeln!(s, "    let t{k} = {rhs};");
    }
    reverse(g, &dep, &have, true, &mut s);
    for (i, k) in vars.iter().enumerate() {
        let b = k.map_or("0.0".to_string(), |k| format!("b{k}"));
        let _ = writeln!(s, "    state[at(dst, {i}u, w)] = {b};");
    }
    s.push_str("}\n");
    s
}
