//! WGSL generation: `obj_value`, `obj_grad` and `obj_hvp` (the per-walker contract of
//! shaders/common.wgsl), one `let` per graph node, in the order and with the formulas of the
//! f64 twin (`eval.rs`).
//!
//! The graph is straight-line code; the reverse pass is written as `let`s gathered from each
//! node's users (no `var` accumulators), cheap for shader compilers. A sum run as a loop
//! (`graph::Loop`) is a WGSL `for` over its index with its term's `let`s inside (prefix `l`):
//! once for the value (and, in `obj_hvp`, the tangent) of its `Sum` node, accumulated into a
//! `var`; once more after the graph's reverse pass, recomputing the term, seeding its adjoints
//! with the `Sum` node's (and their tangents), and adding the adjoints of its `At` leaves into
//! the output at the coordinates they read. So code size grows with the term, not with N.
//!
//! Aliasing. Without loops every input is read before any output is written, so `dst` may be
//! `v` and `src` may be SLOT_GRAD. With loops the outputs are zeroed and accumulated while the
//! inputs are still read: `dst` must differ from `src` and `v`, and obj_grad's `src` must not
//! be SLOT_GRAD (what every rule's program keeps: `rules::Eval`), as for rosenbrock.wgsl.

use std::fmt::Write;

use super::graph::{Func, Graph, Loop, Op};

/// Reduces a to [−π, π] before sin, cos and tan (where WGSL's accuracy is specified).
const PRELUDE: &str =
    "// Objective generated from a formula (src/objective/expr); CPU twin: expr/eval.rs.

fn expr_turn(a: f32) -> f32 {
    let r = a * 0.15915494309189535;
    return 6.283185307179586 * (r - round(r));
}
";

/// The name prefix of a loop term's `let`s (the graph's have none).
const TERM: &str = "l";

/// Indentation of the graph's lines and of a loop body's.
const IND: &str = "    ";
const IND2: &str = "        ";

/// An f32 WGSL literal.
fn lit(v: f64) -> String {
    format!("{:?}", v as f32)
}

/// The WGSL value of a node, its operands by name (`pre`: the tape's name prefix).
fn value(op: &Op, pre: &str) -> String {
    let n = |k: usize| format!("{pre}n{k}");
    let (a, b) = match op.args() {
        Some((a, b)) => (n(a), b.map(n).unwrap_or_default()),
        None => (String::new(), String::new()),
    };
    match *op {
        Op::Const(c) => lit(c),
        Op::Var(_) | Op::Sum(_) | Op::Idx | Op::At(..) => String::new(),
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
fn partials(op: &Op, k: usize, pre: &str) -> [Option<String>; 5] {
    let n = |k: usize| format!("{pre}n{k}");
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
        Op::Const(_) | Op::Var(_) | Op::Sum(_) | Op::Idx | Op::At(..) => Default::default(),
    }
}

/// Which nodes of a tape depend on x (the others have no tangent or adjoint).
fn dependent(ops: &[Op]) -> Vec<bool> {
    let mut dep = vec![false; ops.len()];
    for (k, op) in ops.iter().enumerate() {
        dep[k] = match *op {
            Op::Var(_) | Op::At(..) | Op::Sum(_) => true,
            _ => op
                .args()
                .is_some_and(|(a, b)| dep[a] || b.is_some_and(|b| dep[b])),
        };
    }
    dep
}

/// The state index (u32) of coordinate s·li + c of a loop term (`li`: the loop's i32 index).
fn coordinate(s: i64, c: i64) -> String {
    let si = match s {
        0 => return format!("{c}u"),
        1 => "li".to_string(),
        -1 => "-li".to_string(),
        _ => format!("{s} * li"),
    };
    match c {
        0 => format!("u32({si})"),
        c if c > 0 => format!("u32({si} + {c})"),
        c => format!("u32({si} - {})", -c),
    }
}

/// The `let` of every node's value, reading the variables from slot `src`; a `Sum` node is
/// written by `sum` (its loop).
fn values(
    ops: &[Op],
    pre: &str,
    ind: &str,
    s: &mut String,
    mut sum: impl FnMut(usize, usize, &mut String),
) {
    for (k, op) in ops.iter().enumerate() {
        let rhs = match *op {
            Op::Var(i) => format!("state[at(src, {i}u, w)]"),
            Op::At(a, c) => format!("state[at(src, {}, w)]", coordinate(a, c)),
            Op::Idx => "f32(li)".to_string(),
            Op::Sum(l) => {
                sum(k, l, s);
                continue;
            }
            _ => value(op, pre),
        };
        let _ = writeln!(s, "{ind}let {pre}n{k} = {rhs};");
    }
}

/// The `let` of the partials of nodes that depend on x (`second`: also the second partials).
fn partial_lets(
    ops: &[Op],
    dep: &[bool],
    second: bool,
    pre: &str,
    ind: &str,
    s: &mut String,
) -> Vec<[bool; 5]> {
    let mut have = vec![[false; 5]; ops.len()];
    for (k, op) in ops.iter().enumerate() {
        if !dep[k] {
            continue;
        }
        for (j, p) in partials(op, k, pre).into_iter().enumerate() {
            if let Some(p) = p {
                if j < 2 || second {
                    let _ = writeln!(s, "{ind}let {pre}p{k}_{j} = {p};");
                    have[k][j] = true;
                }
            }
        }
    }
    have
}

/// The operands of node k that depend on x, with the index of their first partial (0 or 1).
fn dep_args(ops: &[Op], dep: &[bool], k: usize) -> Vec<(usize, usize)> {
    match ops[k].args() {
        Some((a, b)) => [(a, 0), (b.unwrap_or(usize::MAX), 1)]
            .into_iter()
            .filter(|&(j, _)| j != usize::MAX && dep[j])
            .collect(),
        None => Vec::new(),
    }
}

/// The `let` of every dependent node's tangent along the direction in slot `v` (a `Sum`
/// node's is written by its value loop).
fn tangent_lets(
    ops: &[Op],
    dep: &[bool],
    have: &[[bool; 5]],
    pre: &str,
    ind: &str,
    s: &mut String,
) {
    for (k, op) in ops.iter().enumerate() {
        if !dep[k] {
            continue;
        }
        let rhs = match *op {
            Op::Var(i) => format!("state[at(v, {i}u, w)]"),
            Op::At(a, c) => format!("state[at(v, {}, w)]", coordinate(a, c)),
            Op::Sum(_) => continue,
            _ => {
                let terms: Vec<String> = dep_args(ops, dep, k)
                    .into_iter()
                    .filter(|&(_, side)| have[k][side])
                    .map(|(j, side)| format!("{pre}p{k}_{side} * {pre}t{j}"))
                    .collect();
                if terms.is_empty() {
                    "0.0".to_string()
                } else {
                    terms.join(" + ")
                }
            }
        };
        let _ = writeln!(s, "{ind}let {pre}t{k} = {rhs};");
    }
}

/// The reverse pass as `let`s, in descending node order: the adjoint `a{j}` of node j is the
/// sum over its users k (all > j, so already defined) of a{k} times k's partial in j; with
/// `hvp`, its tangent `b{j}` is the sum of b{k} times that partial plus a{k} times the
/// partial's tangent along v. The last node's adjoint and tangent are `seed`. No `var`s:
/// straight SSA. The f64 twin accumulates the same terms (in another order: a difference of
/// rounding only).
fn reverse(
    ops: &[Op],
    dep: &[bool],
    have: &[[bool; 5]],
    hvp: bool,
    (pre, ind): (&str, &str),
    seed: (&str, &str),
    s: &mut String,
) {
    let last = ops.len() - 1;
    let mut users: Vec<Vec<(usize, usize)>> = vec![Vec::new(); ops.len()];
    for k in (0..=last).filter(|&k| dep[k]) {
        for (j, side) in dep_args(ops, dep, k) {
            users[j].push((k, side));
        }
    }
    for j in (0..=last).rev().filter(|&j| dep[j]) {
        let mut adj = Vec::new();
        let mut tan = Vec::new();
        for &(k, side) in &users[j] {
            if have[k][side] {
                adj.push(format!("{pre}a{k} * {pre}p{k}_{side}"));
                tan.push(format!("{pre}b{k} * {pre}p{k}_{side}"));
            }
            // The tangent of partial `side` along v: daa ta + dab tb (side 0), dab ta + dbb tb.
            let mut tp = Vec::new();
            for (m, mside) in dep_args(ops, dep, k) {
                let idx = match (side, mside) {
                    (0, 0) => 2,
                    (1, 1) => 4,
                    _ => 3,
                };
                if have[k][idx] {
                    tp.push(format!("{pre}p{k}_{idx} * {pre}t{m}"));
                }
            }
            if !tp.is_empty() {
                tan.push(format!("{pre}a{k} * ({})", tp.join(" + ")));
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
        let _ = writeln!(s, "{ind}let {pre}a{j} = {};", sum(adj, seed.0));
        if hvp {
            let _ = writeln!(s, "{ind}let {pre}b{j} = {};", sum(tan, seed.1));
        }
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

/// The head of a loop over the term's index.
fn open_loop(lp: &Loop, s: &mut String) {
    let _ = writeln!(
        s,
        "{IND}for (var li = {}i; li <= {}i; li = li + 1i) {{",
        lp.lo, lp.hi
    );
}

/// Sum node k's value loop: `var n{k}` accumulates the term (with `tangent`, `var t{k}` its
/// tangent along v).
fn sum_value(lp: &Loop, k: usize, tangent: bool, s: &mut String) {
    let last = lp.term.len() - 1;
    let _ = writeln!(s, "{IND}var n{k} = 0.0;");
    if tangent {
        let _ = writeln!(s, "{IND}var t{k} = 0.0;");
    }
    open_loop(lp, s);
    values(&lp.term, TERM, IND2, s, |_, _, _| {});
    if tangent {
        let dep = dependent(&lp.term);
        let have = partial_lets(&lp.term, &dep, false, TERM, IND2, s);
        tangent_lets(&lp.term, &dep, &have, TERM, IND2, s);
    }
    let _ = writeln!(s, "{IND2}n{k} = n{k} + {TERM}n{last};");
    if tangent {
        let _ = writeln!(s, "{IND2}t{k} = t{k} + {TERM}t{last};");
    }
    let _ = writeln!(s, "{IND}}}");
}

/// Sum node k's scatter loop: the term again, its reverse pass seeded with a{k} (with `hvp`,
/// also b{k} and the tangents), and each `At` leaf's adjoint (`hvp`: its tangent) added into
/// slot `out` at the coordinate it reads.
fn sum_scatter(lp: &Loop, k: usize, hvp: bool, out: &str, s: &mut String) {
    open_loop(lp, s);
    values(&lp.term, TERM, IND2, s, |_, _, _| {});
    let dep = dependent(&lp.term);
    let have = partial_lets(&lp.term, &dep, hvp, TERM, IND2, s);
    if hvp {
        tangent_lets(&lp.term, &dep, &have, TERM, IND2, s);
    }
    let seed = (format!("a{k}"), format!("b{k}"));
    reverse(
        &lp.term,
        &dep,
        &have,
        hvp,
        (TERM, IND2),
        (&seed.0, &seed.1),
        s,
    );
    let adj = if hvp { "b" } else { "a" };
    for (j, op) in lp.term.iter().enumerate() {
        if let Op::At(a, c) = *op {
            let _ = writeln!(
                s,
                "{IND2}let {TERM}g{j} = at({out}, {}, w);",
                coordinate(a, c)
            );
            let _ = writeln!(
                s,
                "{IND2}state[{TERM}g{j}] = state[{TERM}g{j}] + {TERM}{adj}{j};"
            );
        }
    }
    let _ = writeln!(s, "{IND}}}");
}

/// Zeroes the N coordinates of slot `out`, four per loop trip.
fn zero(out: &str, n: usize, s: &mut String) {
    let n4 = n / 4 * 4;
    if n4 > 0 {
        let _ = writeln!(s, "{IND}for (var i = 0u; i < {n4}u; i = i + 4u) {{");
        for d in 0..4 {
            let _ = writeln!(s, "{IND2}state[at({out}, i + {d}u, w)] = 0.0;");
        }
        let _ = writeln!(s, "{IND}}}");
    }
    for i in n4..n {
        let _ = writeln!(s, "{IND}state[at({out}, {i}u, w)] = 0.0;");
    }
}

/// Writes the gradient (or H v, `hvp`) into slot `out`: each coordinate's adjoint `a{k}`
/// (`b{k}`) in the graph; with loops, after zeroing, and the loops' scatters after.
fn write_out(g: &Graph, hvp: bool, out: &str, s: &mut String) {
    let name = if hvp { "b" } else { "a" };
    let vars = var_nodes(g);
    if g.loops.is_empty() {
        for (i, k) in vars.iter().enumerate() {
            let a = k.map_or("0.0".to_string(), |k| format!("{name}{k}"));
            let _ = writeln!(s, "{IND}state[at({out}, {i}u, w)] = {a};");
        }
        return;
    }
    zero(out, g.n, s);
    for (i, k) in vars.iter().enumerate() {
        if let Some(k) = k {
            let _ = writeln!(s, "{IND}state[at({out}, {i}u, w)] = {name}{k};");
        }
    }
    for (k, op) in g.nodes.iter().enumerate() {
        if let Op::Sum(l) = *op {
            sum_scatter(&g.loops[l], k, hvp, out, s);
        }
    }
}

/// The three entry points of the objective.
pub fn generate(g: &Graph) -> String {
    let dep = dependent(&g.nodes);
    let last = g.nodes.len() - 1;
    let mut s = String::from(PRELUDE);
    let value_loop = |k: usize, l: usize, s: &mut String| sum_value(&g.loops[l], k, false, s);

    s.push_str("\nfn obj_value(src: u32, w: u32) -> f32 {\n");
    values(&g.nodes, "", IND, &mut s, value_loop);
    let _ = writeln!(s, "{IND}return n{last};\n}}");

    s.push_str("\nfn obj_grad(src: u32, w: u32) -> f32 {\n");
    values(&g.nodes, "", IND, &mut s, value_loop);
    let have = partial_lets(&g.nodes, &dep, false, "", IND, &mut s);
    reverse(
        &g.nodes,
        &dep,
        &have,
        false,
        ("", IND),
        ("1.0", "0.0"),
        &mut s,
    );
    write_out(g, false, "SLOT_GRAD", &mut s);
    let _ = writeln!(s, "{IND}return n{last};\n}}");

    s.push_str("\nfn obj_hvp(src: u32, v: u32, dst: u32, w: u32) {\n");
    values(&g.nodes, "", IND, &mut s, |k, l, s| {
        sum_value(&g.loops[l], k, true, s)
    });
    let have = partial_lets(&g.nodes, &dep, true, "", IND, &mut s);
    tangent_lets(&g.nodes, &dep, &have, "", IND, &mut s);
    reverse(
        &g.nodes,
        &dep,
        &have,
        true,
        ("", IND),
        ("1.0", "0.0"),
        &mut s,
    );
    write_out(g, true, "dst", &mut s);
    s.push_str("}\n");
    s
}
