//! The f64 twin of the generated WGSL (`wgsl.rs`), node by node in the same order: values
//! forward; the gradient by reverse mode (adjoints); H v by forward-over-reverse (tangents of
//! the values along v, then adjoints and their tangents). Each node's local partials
//! (da, db, daa, dab, dbb) are written here and in `wgsl.rs` with the same formulas.
//!
//! A sum run as a loop (`graph::Loop`) is evaluated the same way term by term: its `Sum` node's
//! value (and tangent) is the sum over the index of its term's; its term's adjoints are seeded
//! with the `Sum` node's adjoint (and its tangent) and scattered into the gradient (and H v)
//! at the coordinates its `At` leaves read, in ascending index, as the WGSL loop does.
//!
//! Kinks. abs, relu, max and min use one-sided derivatives: abs'(0) = 0; max(a, b) and
//! min(a, b) pass the derivative of the argument they select, the second one on a tie (so
//! relu'(0) = 0); every second derivative is 0. A formula built from them is exactly flat where
//! the selected branch is constant: gradient and Hessian are exactly 0 there, as for flat-well.

use super::graph::{Func, Graph, Loop, Op};

/// The value of one operation from its operands' values (b: 0 for unary operations).
pub fn op_value(op: &Op, a: f64, b: f64) -> f64 {
    match *op {
        Op::Const(c) => c,
        Op::Var(_) | Op::Sum(_) | Op::Idx | Op::At(..) => a,
        Op::Add(..) => a + b,
        Op::Sub(..) => a - b,
        Op::Mul(..) => a * b,
        Op::Div(..) => a / b,
        Op::Neg(_) => -a,
        Op::PowC(_, c) => a.powf(c),
        Op::Max(..) => {
            if a > b {
                a
            } else {
                b
            }
        }
        Op::Min(..) => {
            if a < b {
                a
            } else {
                b
            }
        }
        Op::F(f, _) => match f {
            Func::Sin => a.sin(),
            Func::Cos => a.cos(),
            Func::Tan => a.tan(),
            Func::Exp => a.exp(),
            Func::Log => a.ln(),
            Func::Sqrt => a.sqrt(),
            Func::Abs => a.abs(),
            Func::Tanh => a.tanh(),
            Func::Sigmoid => 1.0 / (1.0 + (-a).exp()),
            Func::Softplus => a.max(0.0) + (-a.abs()).exp().ln_1p(),
        },
    }
}

/// sign(a), 0 at 0 (WGSL's `sign`).
fn sign(a: f64) -> f64 {
    if a > 0.0 {
        1.0
    } else if a < 0.0 {
        -1.0
    } else {
        0.0
    }
}

fn step(c: bool) -> f64 {
    if c {
        1.0
    } else {
        0.0
    }
}

/// The local partials [da, db, daa, dab, dbb] of a node with operand values a, b and value v.
/// Keep in sync with `wgsl::partials`.
pub fn partials(op: &Op, a: f64, b: f64, v: f64) -> [f64; 5] {
    match *op {
        Op::Const(_) | Op::Var(_) | Op::Sum(_) | Op::Idx | Op::At(..) => [0.0; 5],
        Op::Add(..) => [1.0, 1.0, 0.0, 0.0, 0.0],
        Op::Sub(..) => [1.0, -1.0, 0.0, 0.0, 0.0],
        Op::Mul(..) => [b, a, 0.0, 1.0, 0.0],
        Op::Div(..) => [1.0 / b, -v / b, 0.0, -1.0 / (b * b), 2.0 * v / (b * b)],
        Op::Neg(_) => [-1.0, 0.0, 0.0, 0.0, 0.0],
        Op::PowC(_, c) => [
            c * a.powf(c - 1.0),
            0.0,
            c * (c - 1.0) * a.powf(c - 2.0),
            0.0,
            0.0,
        ],
        Op::Max(..) => [step(a > b), 1.0 - step(a > b), 0.0, 0.0, 0.0],
        Op::Min(..) => [step(a < b), 1.0 - step(a < b), 0.0, 0.0, 0.0],
        Op::F(f, _) => {
            let (d, dd) = match f {
                Func::Sin => (a.cos(), -v),
                Func::Cos => (-a.sin(), -v),
                Func::Tan => (1.0 + v * v, 2.0 * v * (1.0 + v * v)),
                Func::Exp => (v, v),
                Func::Log => (1.0 / a, -1.0 / (a * a)),
                Func::Sqrt => (0.5 / v, -0.25 / (v * v * v)),
                Func::Abs => (sign(a), 0.0),
                Func::Tanh => (1.0 - v * v, -2.0 * v * (1.0 - v * v)),
                Func::Sigmoid => (v * (1.0 - v), v * (1.0 - v) * (1.0 - 2.0 * v)),
                Func::Softplus => {
                    let s = 1.0 / (1.0 + (-a).exp());
                    (s, s * (1.0 - s))
                }
            };
            [d, 0.0, dd, 0.0, 0.0]
        }
    }
}

/// Every node's value on a tape (the graph's nodes or a loop term), leaves other than
/// constants from `leaf`.
pub(super) fn values(ops: &[Op], mut leaf: impl FnMut(&Op) -> f64, vals: &mut Vec<f64>) {
    vals.clear();
    for op in ops {
        let v = match op.args() {
            Some((a, b)) => op_value(op, vals[a], b.map_or(0.0, |b| vals[b])),
            None => match *op {
                Op::Const(c) => c,
                _ => leaf(op),
            },
        };
        vals.push(v);
    }
}

/// Every node's partials at the values `vals`.
pub(super) fn partials_of(ops: &[Op], vals: &[f64], ps: &mut Vec<[f64; 5]>) {
    ps.clear();
    for (k, op) in ops.iter().enumerate() {
        let (a, b) = match op.args() {
            Some((a, b)) => (vals[a], b.map_or(0.0, |b| vals[b])),
            None => (0.0, 0.0),
        };
        ps.push(partials(op, a, b, vals[k]));
    }
}

/// Every node's tangent along v, the leaves' from `leaf` (constants: 0).
fn tangents(ops: &[Op], ps: &[[f64; 5]], mut leaf: impl FnMut(&Op) -> f64, t: &mut Vec<f64>) {
    t.clear();
    for (k, op) in ops.iter().enumerate() {
        let v = match op.args() {
            Some((a, b)) => ps[k][0] * t[a] + b.map_or(0.0, |b| ps[k][1] * t[b]),
            None => match *op {
                Op::Const(_) => 0.0,
                _ => leaf(op),
            },
        };
        t.push(v);
    }
}

/// The adjoints of a tape whose last node has adjoint `seed`.
fn adjoints(ops: &[Op], ps: &[[f64; 5]], seed: f64, adj: &mut Vec<f64>) {
    adj.clear();
    adj.resize(ops.len(), 0.0);
    let last = ops.len() - 1;
    adj[last] = seed;
    for k in (0..=last).rev() {
        if let Some((a, b)) = ops[k].args() {
            adj[a] += adj[k] * ps[k][0];
            if let Some(b) = b {
                adj[b] += adj[k] * ps[k][1];
            }
        }
    }
}

/// The adjoints and their tangents along v (tangents `t`), seeded at the last node.
fn adjoint_tangents(
    ops: &[Op],
    ps: &[[f64; 5]],
    t: &[f64],
    seed: (f64, f64),
    adj: &mut Vec<f64>,
    tadj: &mut Vec<f64>,
) {
    let nn = ops.len();
    adj.clear();
    adj.resize(nn, 0.0);
    tadj.clear();
    tadj.resize(nn, 0.0);
    (adj[nn - 1], tadj[nn - 1]) = seed;
    for k in (0..nn).rev() {
        if let Some((a, b)) = ops[k].args() {
            let p = ps[k];
            let tb = b.map_or(0.0, |b| t[b]);
            let (tp0, tp1) = (p[2] * t[a] + p[3] * tb, p[3] * t[a] + p[4] * tb);
            adj[a] += adj[k] * p[0];
            tadj[a] += tadj[k] * p[0] + adj[k] * tp0;
            if let Some(b) = b {
                adj[b] += adj[k] * p[1];
                tadj[b] += tadj[k] * p[1] + adj[k] * tp1;
            }
        }
    }
}

/// A loop term's leaf at index i: x[s·i + c], or i itself.
pub(super) fn term_leaf(op: &Op, x: &[f64], i: i64) -> f64 {
    match *op {
        Op::At(s, c) => x[Loop::index(s, c, i)],
        Op::Idx => i as f64,
        _ => 0.0,
    }
}

/// The buffers of one loop term, reused from index to index.
#[derive(Default)]
struct Scratch {
    vals: Vec<f64>,
    ps: Vec<[f64; 5]>,
    t: Vec<f64>,
    adj: Vec<f64>,
    tadj: Vec<f64>,
}

impl Scratch {
    /// The term's values and partials at index i.
    fn at(&mut self, lp: &Loop, x: &[f64], i: i64) {
        values(&lp.term, |op| term_leaf(op, x, i), &mut self.vals);
        partials_of(&lp.term, &self.vals, &mut self.ps);
    }

    /// With the tangents along v too.
    fn along(&mut self, lp: &Loop, x: &[f64], v: &[f64], i: i64) {
        self.at(lp, x, i);
        tangents(
            &lp.term,
            &self.ps,
            |op| match *op {
                Op::At(s, c) => v[Loop::index(s, c, i)],
                _ => 0.0,
            },
            &mut self.t,
        );
    }
}

/// The value of a loop sum.
fn loop_value(lp: &Loop, x: &[f64], sc: &mut Scratch) -> f64 {
    let mut acc = 0.0;
    for i in lp.lo..=lp.hi {
        values(&lp.term, |op| term_leaf(op, x, i), &mut sc.vals);
        acc += sc.vals[sc.vals.len() - 1];
    }
    acc
}

/// The tangent of a loop sum along v.
fn loop_tangent(lp: &Loop, x: &[f64], v: &[f64], sc: &mut Scratch) -> f64 {
    let mut acc = 0.0;
    for i in lp.lo..=lp.hi {
        sc.along(lp, x, v, i);
        acc += sc.t[sc.t.len() - 1];
    }
    acc
}

/// Adds a loop sum's gradient, times `seed` (its node's adjoint), into `grad`.
fn loop_gradient(lp: &Loop, x: &[f64], seed: f64, grad: &mut [f64], sc: &mut Scratch) {
    for i in lp.lo..=lp.hi {
        sc.at(lp, x, i);
        adjoints(&lp.term, &sc.ps, seed, &mut sc.adj);
        for (j, op) in lp.term.iter().enumerate() {
            if let Op::At(s, c) = *op {
                grad[Loop::index(s, c, i)] += sc.adj[j];
            }
        }
    }
}

/// Adds a loop sum's part of H v, seeded with its node's adjoint and that adjoint's tangent,
/// into `out`.
fn loop_hvp(lp: &Loop, x: &[f64], v: &[f64], seed: (f64, f64), out: &mut [f64], sc: &mut Scratch) {
    for i in lp.lo..=lp.hi {
        sc.along(lp, x, v, i);
        adjoint_tangents(&lp.term, &sc.ps, &sc.t, seed, &mut sc.adj, &mut sc.tadj);
        for (j, op) in lp.term.iter().enumerate() {
            if let Op::At(s, c) = *op {
                out[Loop::index(s, c, i)] += sc.tadj[j];
            }
        }
    }
}

/// Every node's value at x.
pub fn forward(g: &Graph, x: &[f64]) -> Vec<f64> {
    let mut sc = Scratch::default();
    let mut vals = Vec::with_capacity(g.nodes.len());
    values(
        &g.nodes,
        |op| match *op {
            Op::Var(i) => x[i],
            Op::Sum(l) => loop_value(&g.loops[l], x, &mut sc),
            _ => 0.0,
        },
        &mut vals,
    );
    vals
}

/// f(x), with the gradient written into `grad` (reverse mode): each coordinate's adjoint in
/// the graph, then the loops' contributions added in node order.
pub fn gradient(g: &Graph, x: &[f64], grad: &mut [f64]) -> f64 {
    let vals = forward(g, x);
    let mut ps = Vec::new();
    partials_of(&g.nodes, &vals, &mut ps);
    let mut adj = Vec::new();
    adjoints(&g.nodes, &ps, 1.0, &mut adj);
    grad.iter_mut().for_each(|v| *v = 0.0);
    for (k, op) in g.nodes.iter().enumerate() {
        if let Op::Var(i) = *op {
            grad[i] = adj[k];
        }
    }
    let mut sc = Scratch::default();
    for (k, op) in g.nodes.iter().enumerate() {
        if let Op::Sum(l) = *op {
            loop_gradient(&g.loops[l], x, adj[k], grad, &mut sc);
        }
    }
    vals[vals.len() - 1]
}

/// H(x) v (forward-over-reverse), written into `out`.
pub fn hvp(g: &Graph, x: &[f64], v: &[f64], out: &mut [f64]) {
    let vals = forward(g, x);
    let mut ps = Vec::new();
    partials_of(&g.nodes, &vals, &mut ps);
    let mut sc = Scratch::default();
    let mut t = Vec::with_capacity(g.nodes.len());
    tangents(
        &g.nodes,
        &ps,
        |op| match *op {
            Op::Var(i) => v[i],
            Op::Sum(l) => loop_tangent(&g.loops[l], x, v, &mut sc),
            _ => 0.0,
        },
        &mut t,
    );
    let (mut adj, mut tadj) = (Vec::new(), Vec::new());
    adjoint_tangents(&g.nodes, &ps, &t, (1.0, 0.0), &mut adj, &mut tadj);
    out.iter_mut().for_each(|o| *o = 0.0);
    for (k, op) in g.nodes.iter().enumerate() {
        if let Op::Var(i) = *op {
            out[i] = tadj[k];
        }
    }
    for (k, op) in g.nodes.iter().enumerate() {
        if let Op::Sum(l) = *op {
            loop_hvp(&g.loops[l], x, v, (adj[k], tadj[k]), out, &mut sc);
        }
    }
}
