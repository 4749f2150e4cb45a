//! The f64 twin of the generated WGSL (`wgsl.rs`), node by node in the same order: values
//! forward; the gradient by reverse mode (adjoints); H v by forward-over-reverse (tangents of
//! the values along v, then adjoints and their tangents). Each node's local partials
//! (da, db, daa, dab, dbb) are written here and in `wgsl.rs` with the same formulas.
//!
//! Kinks. abs, relu, max and min use one-sided derivatives: abs'(0) = 0; max(a, b) and
//! min(a, b) pass the derivative of the argument they select, the second one on a tie (so
//! relu'(0) = 0); every second derivative is 0. A formula built from them is exactly flat where
//! the selected branch is constant: gradient and Hessian are exactly 0 there, as for flat-well.

use super::graph::{Func, Graph, Op};
use crate::objective::rounding::{exp_rel, TRIG_ABS, U};

/// The value of one operation from its operands' values (b: 0 for unary operations).
pub fn op_value(op: &Op, a: f64, b: f64) -> f64 {
    match *op {
        Op::Const(c) => c,
        Op::Var(_) => a,
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
        Op::Const(_) | Op::Var(_) => [0.0; 5],
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

/// The operand values of node k (0 for absent operands).
fn operands(g: &Graph, vals: &[f64], k: usize) -> (f64, f64) {
    match g.nodes[k].args() {
        Some((a, b)) => (vals[a], b.map_or(0.0, |b| vals[b])),
        None => (0.0, 0.0),
    }
}

/// Every node's value at x.
pub fn forward(g: &Graph, x: &[f64]) -> Vec<f64> {
    let mut vals = Vec::with_capacity(g.nodes.len());
    for (k, op) in g.nodes.iter().enumerate() {
        let v = match *op {
            Op::Var(i) => x[i],
            _ => {
                let (a, b) = operands(g, &vals, k);
                op_value(op, a, b)
            }
        };
        vals.push(v);
    }
    vals
}

/// Every node's partials at the values `vals`.
fn all_partials(g: &Graph, vals: &[f64]) -> Vec<[f64; 5]> {
    (0..g.nodes.len())
        .map(|k| {
            let (a, b) = operands(g, vals, k);
            partials(&g.nodes[k], a, b, vals[k])
        })
        .collect()
}

/// f(x), with the gradient written into `grad` (reverse mode).
pub fn gradient(g: &Graph, x: &[f64], grad: &mut [f64]) -> f64 {
    let vals = forward(g, x);
    let ps = all_partials(g, &vals);
    let last = g.nodes.len() - 1;
    let mut adj = vec![0.0; g.nodes.len()];
    adj[last] = 1.0;
    for k in (0..=last).rev() {
        if let Some((a, b)) = g.nodes[k].args() {
            adj[a] += adj[k] * ps[k][0];
            if let Some(b) = b {
                adj[b] += adj[k] * ps[k][1];
            }
        }
    }
    grad.iter_mut().for_each(|v| *v = 0.0);
    for (k, op) in g.nodes.iter().enumerate() {
        if let Op::Var(i) = *op {
            grad[i] = adj[k];
        }
    }
    vals[last]
}

/// H(x) v (forward-over-reverse), written into `out`.
pub fn hvp(g: &Graph, x: &[f64], v: &[f64], out: &mut [f64]) {
    let vals = forward(g, x);
    let ps = all_partials(g, &vals);
    let nn = g.nodes.len();
    let mut t = vec![0.0; nn];
    for (k, op) in g.nodes.iter().enumerate() {
        t[k] = match *op {
            Op::Var(i) => v[i],
            Op::Const(_) => 0.0,
            _ => match op.args() {
                Some((a, b)) => ps[k][0] * t[a] + b.map_or(0.0, |b| ps[k][1] * t[b]),
                None => 0.0,
            },
        };
    }
    let (mut adj, mut tadj) = (vec![0.0; nn], vec![0.0; nn]);
    adj[nn - 1] = 1.0;
    for k in (0..nn).rev() {
        if let Some((a, b)) = g.nodes[k].args() {
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
    out.iter_mut().for_each(|o| *o = 0.0);
    for (k, op) in g.nodes.iter().enumerate() {
        if let Op::Var(i) = *op {
            out[i] = tadj[k];
        }
    }
}

/// The WGSL accuracy of one operation at operand a and value v: (relative, absolute) of its
/// value, and (relative, absolute) of its partials, beyond what its operands' errors carry.
/// From the WGSL specification's accuracy table (see `rounding`): correctly rounded + - *;
/// x / y 2.5 ULP; exp 3 + 2|x| ULP; log 3 ULP, or 2^-21 absolute on [0.5, 2]; sqrt as
/// 1/inverseSqrt; sin and cos 2^-11 absolute after the reduction to [−π, π] (`expr_turn`,
/// whose own rounding is 4u(|a| + 1)); tan, tanh, sinh, pow inherited from the functions
/// WGSL defines them by.
fn accuracy(op: &Op, a: f64, v: f64) -> (f64, f64, f64, f64) {
    let u = U;
    match *op {
        Op::Const(c) => (
            0.0,
            if (c as f32) as f64 == c {
                0.0
            } else {
                u * c.abs()
            },
            0.0,
            0.0,
        ),
        Op::Var(_) => (u, 0.0, 0.0, 0.0),
        Op::Add(..) | Op::Sub(..) | Op::Mul(..) => (u, 0.0, 0.0, 0.0),
        Op::Div(..) => (5.0 * u, 0.0, 16.0 * u, 0.0),
        Op::Neg(_) | Op::Max(..) | Op::Min(..) => (0.0, 0.0, 0.0, 0.0),
        Op::PowC(_, c) => {
            let r = exp_rel(c * a.abs().ln())
                + c.abs() * (1.0 / (1u64 << 20) as f64 + 8.0 * u * a.abs().ln().abs());
            (r, 0.0, r + 8.0 * u, 0.0)
        }
        Op::F(f, _) => {
            let turn = TRIG_ABS + 4.0 * u * (a.abs() + 1.0);
            match f {
                Func::Sin | Func::Cos => (0.0, turn, 0.0, turn),
                Func::Tan => {
                    let e = (2.0 * turn) * (1.0 + v * v);
                    (5.0 * u, e, 8.0 * u, 2.0 * v.abs() * e)
                }
                Func::Exp => (exp_rel(a), 0.0, exp_rel(a), 0.0),
                Func::Log => {
                    if (0.5..=2.0).contains(&a) {
                        (0.0, 1.0 / (1u64 << 21) as f64, 16.0 * u, 0.0)
                    } else {
                        (6.0 * u, 0.0, 16.0 * u, 0.0)
                    }
                }
                Func::Sqrt => (10.0 * u, 0.0, 40.0 * u, 0.0),
                Func::Abs => (0.0, 0.0, 0.0, 0.0),
                Func::Tanh => {
                    let e = 4.0 * exp_rel(a.abs().min(20.0)) + 4.0 * u;
                    (0.0, e, 8.0 * u, 4.0 * e)
                }
                Func::Sigmoid => {
                    let r = exp_rel(a) + 8.0 * u;
                    (r, 0.0, 3.0 * r, 0.0)
                }
                Func::Softplus => (
                    4.0 * u,
                    1.0 / (1u64 << 21) as f64 + exp_rel(a),
                    exp_rel(a) + 8.0 * u,
                    0.0,
                ),
            }
        }
    }
}

/// Bounds on the f32 error of f and of the gradient at x (first order in u, with a factor 2
/// to cover the second-order terms): each node's error is its operands' errors carried by its
/// partials plus its own rounding; each adjoint's error is carried back the same way, with the
/// rounding of every product and accumulation.
pub fn f32_error(g: &Graph, x: &[f64]) -> (f64, f64) {
    let vals = forward(g, x);
    let ps = all_partials(g, &vals);
    let nn = g.nodes.len();
    let mut e = vec![0.0; nn];
    let mut ep = vec![[0.0; 2]; nn];
    for k in 0..nn {
        let (a, _) = operands(g, &vals, k);
        let (rel, abs, prel, pabs) = accuracy(&g.nodes[k], a, vals[k]);
        let p = ps[k];
        let (ea, eb) = match g.nodes[k].args() {
            Some((a, b)) => (e[a], b.map_or(0.0, |b| e[b])),
            None => (0.0, 0.0),
        };
        e[k] = p[0].abs() * ea + p[1].abs() * eb + rel * vals[k].abs() + abs;
        if let Op::Var(_) = g.nodes[k] {
            e[k] = rel * vals[k].abs();
        }
        ep[k] = [
            p[2].abs() * ea + p[3].abs() * eb + prel * p[0].abs() + pabs,
            p[3].abs() * ea + p[4].abs() * eb + prel * p[1].abs() + pabs,
        ];
    }
    let mut adj = vec![0.0; nn];
    let mut ea = vec![0.0; nn];
    let mut acc = vec![0.0; nn];
    adj[nn - 1] = 1.0;
    for k in (0..nn).rev() {
        if let Some((a, b)) = g.nodes[k].args() {
            let mut give = |j: usize, s: usize, adj: &mut Vec<f64>| {
                let c = adj[k] * ps[k][s];
                adj[j] += c;
                acc[j] += c.abs();
                ea[j] += ps[k][s].abs() * ea[k] + adj[k].abs() * ep[k][s] + U * (c.abs() + acc[j]);
            };
            give(a, 0, &mut adj);
            if let Some(b) = b {
                give(b, 1, &mut adj);
            }
        }
    }
    let grad: f64 = g
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, op)| matches!(op, Op::Var(_)))
        .map(|(k, _)| ea[k] * ea[k])
        .sum::<f64>()
        .sqrt();
    (2.0 * e[nn - 1], 2.0 * grad)
}
