//! The expression graph of a formula: the syntax tree lowered (sums unrolled, `let` names and
//! integer powers expanded, constants folded) into nodes in topological order, each distinct
//! subexpression once (hash-consing). Node k's operands are nodes < k; the last node is f.

use std::collections::HashMap;
use std::f64::consts::{E, PI};

use super::parse::{is_variable, Ast, BinOp, Kind, ParseError, Program};

/// A node's index in [`Graph::nodes`].
pub type Id = usize;

/// The unary functions of the graph (relu is lowered to max(a, 0)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Func {
    Sin,
    Cos,
    Tan,
    Exp,
    Log,
    Sqrt,
    Abs,
    Tanh,
    Sigmoid,
    Softplus,
}

impl Func {
    fn from_name(s: &str) -> Option<Func> {
        Some(match s {
            "sin" => Func::Sin,
            "cos" => Func::Cos,
            "tan" => Func::Tan,
            "exp" => Func::Exp,
            "log" => Func::Log,
            "sqrt" => Func::Sqrt,
            "abs" => Func::Abs,
            "tanh" => Func::Tanh,
            "sigmoid" => Func::Sigmoid,
            "softplus" => Func::Softplus,
            _ => return None,
        })
    }
}

/// One operation. `Max`/`Min` pass on the derivative of the argument they select; on a tie
/// they select the second (so relu(x) = max(x, 0) has derivative 0 at x = 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Const(f64),
    Var(usize),
    Add(Id, Id),
    Sub(Id, Id),
    Mul(Id, Id),
    Div(Id, Id),
    Neg(Id),
    /// a^c for a constant c that is not an integer (integer powers are products).
    PowC(Id, f64),
    Max(Id, Id),
    Min(Id, Id),
    F(Func, Id),
}

impl Op {
    /// The operands (a, b); b is None for unary operations.
    pub fn args(&self) -> Option<(Id, Option<Id>)> {
        match *self {
            Op::Const(_) | Op::Var(_) => None,
            Op::Add(a, b)
            | Op::Sub(a, b)
            | Op::Mul(a, b)
            | Op::Div(a, b)
            | Op::Max(a, b)
            | Op::Min(a, b) => Some((a, Some(b))),
            Op::Neg(a) | Op::PowC(a, _) | Op::F(_, a) => Some((a, None)),
        }
    }
}

/// A hashable image of an op (constants by their bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Const(u64),
    Var(usize),
    Bin(u8, Id, Id),
    Neg(Id),
    PowC(Id, u64),
    F(Func, Id),
}

fn key(op: &Op) -> Key {
    match *op {
        Op::Const(c) => Key::Const(c.to_bits()),
        Op::Var(i) => Key::Var(i),
        Op::Add(a, b) => Key::Bin(0, a, b),
        Op::Sub(a, b) => Key::Bin(1, a, b),
        Op::Mul(a, b) => Key::Bin(2, a, b),
        Op::Div(a, b) => Key::Bin(3, a, b),
        Op::Max(a, b) => Key::Bin(4, a, b),
        Op::Min(a, b) => Key::Bin(5, a, b),
        Op::Neg(a) => Key::Neg(a),
        Op::PowC(a, c) => Key::PowC(a, c.to_bits()),
        Op::F(f, a) => Key::F(f, a),
    }
}

/// The most nodes a formula may lower to (the generated WGSL has a few lines per node).
pub const MAX_NODES: usize = 20_000;

/// Integer exponents up to this size are expanded into products (exact for negative bases).
const MAX_INT_POW: f64 = 64.0;

/// The lowered formula.
#[derive(Debug, Clone)]
pub struct Graph {
    pub nodes: Vec<Op>,
    /// The dimension N.
    pub n: usize,
}

/// Variable naming style of a formula (x, y, z or x0, x1, …, x[i]); they do not mix.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Style {
    Xyz,
    Indexed,
}

struct Builder<'a> {
    nodes: Vec<Op>,
    seen: HashMap<Key, Id>,
    lets: HashMap<&'a str, Id>,
    n: Option<usize>,
    max_var: Option<usize>,
    style: Option<Style>,
}

/// Lowers a parsed program. N is `n =` when given, else one more than the largest variable
/// index used.
pub fn lower(prog: &Program) -> Result<Graph, ParseError> {
    let mut b = Builder {
        nodes: Vec::new(),
        seen: HashMap::new(),
        lets: HashMap::new(),
        n: prog.n,
        max_var: None,
        style: None,
    };
    let mut idx = Vec::new();
    for (name, a) in &prog.lets {
        let id = b.value(a, &mut idx)?;
        b.lets.insert(name.as_str(), id);
    }
    let root = b.value(&prog.body, &mut idx)?;
    let used = b.max_var.map_or(0, |m| m + 1);
    let n = match prog.n {
        Some(n) => n,
        None if used == 0 => {
            return Err(ParseError::at(
                0,
                "the formula uses no variable; valid: x, y, z (N <= 3), x0 .. x{N-1}, x[i]",
            ))
        }
        None => used,
    };
    Ok(prune(b.nodes, root, n))
}

/// Keeps the nodes f depends on, renumbered in the same order.
fn prune(nodes: Vec<Op>, root: Id, n: usize) -> Graph {
    let mut live = vec![false; nodes.len()];
    live[root] = true;
    for k in (0..=root).rev() {
        if live[k] {
            if let Some((a, b)) = nodes[k].args() {
                live[a] = true;
                if let Some(b) = b {
                    live[b] = true;
                }
            }
        }
    }
    let mut map = vec![0; nodes.len()];
    let mut out = Vec::new();
    for (k, op) in nodes.into_iter().enumerate().take(root + 1) {
        if !live[k] {
            continue;
        }
        let m = |i: Id| map[i];
        let op = match op {
            Op::Add(a, b) => Op::Add(m(a), m(b)),
            Op::Sub(a, b) => Op::Sub(m(a), m(b)),
            Op::Mul(a, b) => Op::Mul(m(a), m(b)),
            Op::Div(a, b) => Op::Div(m(a), m(b)),
            Op::Max(a, b) => Op::Max(m(a), m(b)),
            Op::Min(a, b) => Op::Min(m(a), m(b)),
            Op::Neg(a) => Op::Neg(m(a)),
            Op::PowC(a, c) => Op::PowC(m(a), c),
            Op::F(f, a) => Op::F(f, m(a)),
            leaf => leaf,
        };
        map[k] = out.len();
        out.push(op);
    }
    Graph { nodes: out, n }
}

impl<'a> Builder<'a> {
    fn push(&mut self, op: Op, pos: usize) -> Result<Id, ParseError> {
        if let Some(c) = self.fold(&op) {
            return self.push_raw(Op::Const(c), pos);
        }
        self.push_raw(op, pos)
    }

    fn push_raw(&mut self, op: Op, pos: usize) -> Result<Id, ParseError> {
        let k = key(&op);
        if let Some(&id) = self.seen.get(&k) {
            return Ok(id);
        }
        if self.nodes.len() >= MAX_NODES {
            return Err(ParseError::at(
                pos,
                format!(
                    "the formula expands to more than {MAX_NODES} distinct operations; \
                     valid: a smaller N or shorter sums"
                ),
            ));
        }
        self.nodes.push(op);
        self.seen.insert(k, self.nodes.len() - 1);
        Ok(self.nodes.len() - 1)
    }

    /// The value of an operation whose operands are all constants.
    fn fold(&self, op: &Op) -> Option<f64> {
        let c = |i: Id| match self.nodes[i] {
            Op::Const(v) => Some(v),
            _ => None,
        };
        let (a, b) = op.args()?;
        let ca = c(a)?;
        let cb = match b {
            Some(b) => c(b)?,
            None => 0.0,
        };
        let v = super::eval::op_value(op, ca, cb);
        v.is_finite().then_some(v)
    }

    fn var(&mut self, i: usize, style: Style, pos: usize) -> Result<Id, ParseError> {
        if self.style.is_some_and(|s| s != style) {
            return Err(ParseError::at(
                pos,
                "variables x, y, z do not mix with x0, x1, … or x[i]; use one naming",
            ));
        }
        self.style = Some(style);
        if let Some(n) = self.n {
            if i >= n {
                return Err(ParseError::at(
                    pos,
                    format!(
                        "variable x{i} is beyond the dimension n = {n}; valid: x0 .. x{}",
                        n - 1
                    ),
                ));
            }
        }
        if i >= nd_max() {
            return Err(ParseError::at(
                pos,
                format!("variable index {i} is too large"),
            ));
        }
        self.max_var = Some(self.max_var.map_or(i, |m| m.max(i)));
        self.push(Op::Var(i), pos)
    }

    /// Lowers `a` to a node; `idx` holds the enclosing sums' indices and their values.
    fn value(&mut self, a: &'a Ast, idx: &mut Vec<(&'a str, i64)>) -> Result<Id, ParseError> {
        let pos = a.pos;
        match &a.kind {
            Kind::Num(v) => self.push(Op::Const(*v), pos),
            Kind::Name(s) => self.name(s, pos, idx),
            Kind::Index(i) => {
                let k = self.integer(i, idx)?;
                if k < 0 {
                    return Err(ParseError::at(
                        i.pos,
                        format!("index {k} is negative; valid: 0 .. N-1"),
                    ));
                }
                self.var(k as usize, Style::Indexed, pos)
            }
            Kind::Neg(x) => {
                let x = self.value(x, idx)?;
                self.push(Op::Neg(x), pos)
            }
            Kind::Bin(BinOp::Pow, x, y) => self.power(x, y, pos, idx),
            Kind::Bin(op, x, y) => {
                let (x, y) = (self.value(x, idx)?, self.value(y, idx)?);
                let op = match op {
                    BinOp::Add => Op::Add(x, y),
                    BinOp::Sub => Op::Sub(x, y),
                    BinOp::Mul => Op::Mul(x, y),
                    _ => Op::Div(x, y),
                };
                self.push(op, pos)
            }
            Kind::Call(f, args) => {
                let mut ids = Vec::with_capacity(args.len());
                for x in args {
                    ids.push(self.value(x, idx)?);
                }
                let op = match (f.as_str(), ids.as_slice()) {
                    ("max", [x, y]) => Op::Max(*x, *y),
                    ("min", [x, y]) => Op::Min(*x, *y),
                    ("relu", [x]) => {
                        let z = self.push(Op::Const(0.0), pos)?;
                        Op::Max(*x, z)
                    }
                    (name, [x]) => match Func::from_name(name) {
                        Some(func) => Op::F(func, *x),
                        None => {
                            return Err(ParseError::at(pos, format!("unknown function '{name}'")))
                        }
                    },
                    (name, _) => {
                        return Err(ParseError::at(pos, format!("wrong arguments to '{name}'")))
                    }
                };
                self.push(op, pos)
            }
            Kind::Sum(i, lo, hi, t) => {
                let (lo, hi) = (self.integer(lo, idx)?, self.integer(hi, idx)?);
                if hi.saturating_sub(lo) >= MAX_NODES as i64 {
                    return Err(ParseError::at(
                        pos,
                        format!("sum over {lo}..={hi} has more than {MAX_NODES} terms"),
                    ));
                }
                let mut acc: Option<Id> = None;
                for k in lo..=hi {
                    idx.push((i.as_str(), k));
                    let term = self.value(t, idx);
                    idx.pop();
                    let term = term?;
                    acc = Some(match acc {
                        None => term,
                        Some(s) => self.push(Op::Add(s, term), pos)?,
                    });
                }
                match acc {
                    Some(s) => Ok(s),
                    None => self.push(Op::Const(0.0), pos),
                }
            }
        }
    }

    fn name(&mut self, s: &str, pos: usize, idx: &[(&str, i64)]) -> Result<Id, ParseError> {
        if let Some(&(_, k)) = idx.iter().rev().find(|(name, _)| *name == s) {
            return self.push(Op::Const(k as f64), pos);
        }
        if let Some(&id) = self.lets.get(s) {
            return Ok(id);
        }
        match s {
            "pi" => return self.push(Op::Const(PI), pos),
            "e" => return self.push(Op::Const(E), pos),
            "n" => {
                return match self.n {
                    Some(n) => self.push(Op::Const(n as f64), pos),
                    None => Err(n_missing(pos)),
                }
            }
            "x" => return self.var(0, Style::Xyz, pos),
            "y" => return self.var(1, Style::Xyz, pos),
            "z" => return self.var(2, Style::Xyz, pos),
            _ => {}
        }
        if is_variable(s) {
            return match s[1..].parse::<usize>() {
                Ok(i) => self.var(i, Style::Indexed, pos),
                Err(_) => Err(ParseError::at(
                    pos,
                    format!("variable '{s}' has too large an index"),
                )),
            };
        }
        Err(ParseError::at(
            pos,
            format!(
                "unknown name '{s}'; valid: x, y, z (N <= 3), x0 .. x{{N-1}}, x[i], pi, e, n, \
                 the index of an enclosing sum, a name defined by let, and the functions {}",
                super::parse::function_list()
            ),
        ))
    }

    fn power(
        &mut self,
        x: &'a Ast,
        y: &'a Ast,
        pos: usize,
        idx: &mut Vec<(&'a str, i64)>,
    ) -> Result<Id, ParseError> {
        let base = self.value(x, idx)?;
        let ex = self.value(y, idx)?;
        let c = match self.nodes[ex] {
            Op::Const(c) => c,
            _ => {
                // a^b = exp(b log a), for a > 0.
                let l = self.push(Op::F(Func::Log, base), pos)?;
                let m = self.push(Op::Mul(ex, l), pos)?;
                return self.push(Op::F(Func::Exp, m), pos);
            }
        };
        if c.fract() != 0.0 || c.abs() > MAX_INT_POW {
            return self.push(Op::PowC(base, c), pos);
        }
        let p = self.int_power(base, c.abs() as u32, pos)?;
        if c < 0.0 {
            let one = self.push(Op::Const(1.0), pos)?;
            return self.push(Op::Div(one, p), pos);
        }
        Ok(p)
    }

    /// base^k by repeated squaring (k = 0: the constant 1).
    fn int_power(&mut self, base: Id, k: u32, pos: usize) -> Result<Id, ParseError> {
        if k == 0 {
            return self.push(Op::Const(1.0), pos);
        }
        if k == 1 {
            return Ok(base);
        }
        let half = self.int_power(base, k / 2, pos)?;
        let sq = self.push(Op::Mul(half, half), pos)?;
        if k % 2 == 1 {
            self.push(Op::Mul(sq, base), pos)
        } else {
            Ok(sq)
        }
    }

    /// An index expression: integers, `n`, sum indices, + - * and parentheses.
    fn integer(&self, a: &Ast, idx: &[(&str, i64)]) -> Result<i64, ParseError> {
        let bad = |what: &str| {
            ParseError::at(
                a.pos,
                format!(
                    "{what} in an index or sum bound; valid there: integers, n, sum indices, \
                     + - * and parentheses"
                ),
            )
        };
        let r = match &a.kind {
            Kind::Num(v) if v.fract() == 0.0 && v.abs() < 1e15 => Some(*v as i64),
            Kind::Num(v) => return Err(bad(&format!("{v} is not an integer"))),
            Kind::Name(s) => match idx.iter().rev().find(|(name, _)| *name == s.as_str()) {
                Some(&(_, k)) => Some(k),
                None if s == "n" => Some(self.n.ok_or_else(|| n_missing(a.pos))? as i64),
                None => return Err(bad(&format!("'{s}' is not an integer name"))),
            },
            Kind::Neg(x) => self.integer(x, idx)?.checked_neg(),
            Kind::Bin(op, x, y) => {
                let (x, y) = (self.integer(x, idx)?, self.integer(y, idx)?);
                match op {
                    BinOp::Add => x.checked_add(y),
                    BinOp::Sub => x.checked_sub(y),
                    BinOp::Mul => x.checked_mul(y),
                    _ => {
                        return Err(bad(&format!(
                            "'{}'",
                            if *op == BinOp::Div { "/" } else { "^" }
                        )))
                    }
                }
            }
            _ => return Err(bad("a function or variable")),
        };
        r.filter(|v| v.abs() < 1 << 40)
            .ok_or_else(|| bad("an overflowing value"))
    }
}

fn n_missing(pos: usize) -> ParseError {
    ParseError::at(
        pos,
        "'n' is used but not given; start the formula with the header 'n = 8;' (any dimension)",
    )
}

/// The largest variable index the N-D objectives accept.
fn nd_max() -> usize {
    super::super::nd::MAX_N as usize
}
