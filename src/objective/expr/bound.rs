//! Bounds on the f32 error of the generated WGSL's f and gradient (the twin check's
//! tolerance): a first-order running error analysis over the graph in the order the WGSL
//! computes, doubled for the second-order terms.
//!
//! A loop sum is bounded as the loop runs: its value as the running sum acc += term(i) (each
//! term's own error plus the rounding of every accumulation, u·|partial sum|), and its
//! gradient as the scatter does it: each term's adjoints from the `Sum` node's adjoint (and its
//! error), each contribution added into its coordinate with the rounding of that addition.
//! That is the bound of the same sum unrolled (the arithmetic is the same), up to the sharing
//! of subexpressions between neighbouring terms that the unrolled graph has and the loop
//! recomputes.

use super::eval::{forward, partials_of, term_leaf, values};
use super::graph::{Func, Graph, Loop, Op};
use crate::objective::rounding::{exp_rel, TRIG_ABS, U};

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
        // A leaf's error is set by its tape (`leaf_error`); Sum's by its loop.
        Op::Var(_) | Op::Sum(_) | Op::Idx | Op::At(..) => (u, 0.0, 0.0, 0.0),
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

/// The error of a tape's leaf other than a constant: a coordinate as read (u·|x|), the loop
/// index (exact in f32 below 2^24).
fn leaf_error(op: &Op, v: f64) -> f64 {
    match *op {
        Op::Idx if v.abs() <= (1u64 << 24) as f64 => 0.0,
        _ => U * v.abs(),
    }
}

/// Forward error bounds: each node's error `e` (its operands' errors carried by its partials
/// plus its own rounding) and that of its two first partials `ep`; leaves other than
/// constants from `leaf` (given the op and its value).
fn errors(
    ops: &[Op],
    vals: &[f64],
    ps: &[[f64; 5]],
    mut leaf: impl FnMut(&Op, f64) -> f64,
    e: &mut Vec<f64>,
    ep: &mut Vec<[f64; 2]>,
) {
    e.clear();
    ep.clear();
    for (k, op) in ops.iter().enumerate() {
        let (a, ea, eb) = match op.args() {
            Some((a, b)) => (vals[a], e[a], b.map_or(0.0, |b| e[b])),
            None => (0.0, 0.0, 0.0),
        };
        let (rel, abs, prel, pabs) = accuracy(op, a, vals[k]);
        let p = ps[k];
        e.push(match (op.args(), op) {
            (None, Op::Const(_)) | (Some(_), _) => {
                p[0].abs() * ea + p[1].abs() * eb + rel * vals[k].abs() + abs
            }
            (None, _) => leaf(op, vals[k]),
        });
        ep.push([
            p[2].abs() * ea + p[3].abs() * eb + prel * p[0].abs() + pabs,
            p[3].abs() * ea + p[4].abs() * eb + prel * p[1].abs() + pabs,
        ]);
    }
}

/// Adjoint error bounds, seeded at the last node with (adjoint, its error): each adjoint's
/// error is carried back by the partials, with the partials' own errors and the rounding of
/// every product and accumulation (`acc`: the sum of |contributions| so far).
struct Adjoints {
    adj: Vec<f64>,
    ea: Vec<f64>,
    acc: Vec<f64>,
}

impl Adjoints {
    fn new(ops: &[Op], ps: &[[f64; 5]], ep: &[[f64; 2]], seed: (f64, f64)) -> Adjoints {
        let nn = ops.len();
        let mut r = Adjoints {
            adj: vec![0.0; nn],
            ea: vec![0.0; nn],
            acc: vec![0.0; nn],
        };
        (r.adj[nn - 1], r.ea[nn - 1]) = seed;
        for k in (0..nn).rev() {
            if let Some((a, b)) = ops[k].args() {
                r.give(k, a, ps[k][0], ep[k][0]);
                if let Some(b) = b {
                    r.give(k, b, ps[k][1], ep[k][1]);
                }
            }
        }
        r
    }

    /// Node k's contribution through partial p (error ep) to operand j.
    fn give(&mut self, k: usize, j: usize, p: f64, ep: f64) {
        let c = self.adj[k] * p;
        self.adj[j] += c;
        self.acc[j] += c.abs();
        self.ea[j] += p.abs() * self.ea[k] + self.adj[k].abs() * ep + U * (c.abs() + self.acc[j]);
    }
}

/// One loop term at index i: values, partials and forward errors.
struct Term {
    vals: Vec<f64>,
    ps: Vec<[f64; 5]>,
    e: Vec<f64>,
    ep: Vec<[f64; 2]>,
}

impl Term {
    fn at(lp: &Loop, x: &[f64], i: i64) -> Term {
        let mut t = Term {
            vals: Vec::new(),
            ps: Vec::new(),
            e: Vec::new(),
            ep: Vec::new(),
        };
        values(&lp.term, |op| term_leaf(op, x, i), &mut t.vals);
        partials_of(&lp.term, &t.vals, &mut t.ps);
        errors(&lp.term, &t.vals, &t.ps, leaf_error, &mut t.e, &mut t.ep);
        t
    }
}

/// The error of a loop sum's value: each term's error plus the rounding of the running sum.
fn loop_error(lp: &Loop, x: &[f64]) -> f64 {
    let (mut sum, mut err) = (0.0, 0.0);
    for i in lp.lo..=lp.hi {
        let t = Term::at(lp, x, i);
        let last = t.vals.len() - 1;
        sum += t.vals[last];
        err += t.e[last] + U * f64::abs(sum);
    }
    err
}

/// The gradient's running sums and errors per coordinate (`acc`, `err`), given a loop sum's
/// node adjoint and its error: each term's contributions as the WGSL scatter adds them.
fn loop_gradient_error(lp: &Loop, x: &[f64], seed: (f64, f64), acc: &mut [f64], err: &mut [f64]) {
    for i in lp.lo..=lp.hi {
        let t = Term::at(lp, x, i);
        let a = Adjoints::new(&lp.term, &t.ps, &t.ep, seed);
        for (j, op) in lp.term.iter().enumerate() {
            if let Op::At(s, c) = *op {
                let q = Loop::index(s, c, i);
                acc[q] += a.adj[j].abs();
                err[q] += a.ea[j] + U * acc[q];
            }
        }
    }
}

/// Bounds on the f32 error of f and of the gradient at x (first order in u, with a factor 2
/// to cover the second-order terms).
pub fn f32_error(g: &Graph, x: &[f64]) -> (f64, f64) {
    let vals = forward(g, x);
    let mut ps = Vec::new();
    partials_of(&g.nodes, &vals, &mut ps);
    let (mut e, mut ep) = (Vec::new(), Vec::new());
    errors(
        &g.nodes,
        &vals,
        &ps,
        |op, v| match *op {
            Op::Sum(l) => loop_error(&g.loops[l], x),
            _ => leaf_error(op, v),
        },
        &mut e,
        &mut ep,
    );
    let a = Adjoints::new(&g.nodes, &ps, &ep, (1.0, 0.0));
    let (mut acc, mut err) = (vec![0.0; g.n], vec![0.0; g.n]);
    for (k, op) in g.nodes.iter().enumerate() {
        if let Op::Var(i) = *op {
            acc[i] = a.adj[k].abs();
            err[i] = a.ea[k];
        }
    }
    for (k, op) in g.nodes.iter().enumerate() {
        if let Op::Sum(l) = *op {
            loop_gradient_error(&g.loops[l], x, (a.adj[k], a.ea[k]), &mut acc, &mut err);
        }
    }
    let grad = err.iter().map(|v| v * v).sum::<f64>().sqrt();
    (2.0 * e[e.len() - 1], 2.0 * grad)
}
