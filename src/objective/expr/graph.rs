//! The expression graph of a formula: the syntax tree lowered (`let` names and integer powers
//! expanded, constants folded) into nodes in topological order, each distinct subexpression
//! once (hash-consing). Node k's operands are nodes < k; the last node is f.
//!
//! Sums take one of two forms. A sum whose term is a regular function of its index (see
//! [`Builder::regular`]: no nested sum, no `let` name that depends on x, every index affine in
//! the sum's index) over at least two integers is one node `Sum(l)`, and its term is lowered
//! once, with the index as a leaf, into [`Graph::loops`]`[l]`: the twin and the WGSL run it as
//! a loop. Every other sum is unrolled, term by term, into the graph (a sum inside an unrolled
//! term may be a loop again).

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
    /// The sum of loop l's term over its index range (`Graph::loops[l]`); outer graph only.
    Sum(usize),
    /// The loop's index, as a number; loop terms only.
    Idx,
    /// x[s·i + c] for the loop's index i (s = 0: the fixed coordinate c); loop terms only.
    At(i64, i64),
}

impl Op {
    /// The operands (a, b); b is None for unary operations.
    pub fn args(&self) -> Option<(Id, Option<Id>)> {
        match *self {
            Op::Const(_) | Op::Var(_) | Op::Sum(_) | Op::Idx | Op::At(..) => None,
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
    Sum(usize),
    Idx,
    At(i64, i64),
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
        Op::Sum(l) => Key::Sum(l),
        Op::Idx => Key::Idx,
        Op::At(s, c) => Key::At(s, c),
    }
}

/// The most nodes a formula may lower to (the generated WGSL has a few lines per node): the
/// nodes of the graph plus those of each distinct loop term, counted once.
pub const MAX_NODES: usize = 20_000;

/// The most terms of a sum run as a loop (a sum is also limited by the GPU's time per
/// evaluation, and on llvmpipe by its loop budget: docs/engine-notes.md).
pub const MAX_LOOP_TERMS: i64 = 1 << 20;

/// Loop bounds beyond ±this are unrolled (the WGSL loop index is an i32).
const LOOP_BOUND: i64 = 1 << 30;

/// Integer exponents up to this size are expanded into products (exact for negative bases).
const MAX_INT_POW: f64 = 64.0;

/// The lowered formula.
#[derive(Debug, Clone)]
pub struct Graph {
    pub nodes: Vec<Op>,
    /// The terms of the sums run as loops, by the `l` of their `Sum(l)` node.
    pub loops: Vec<Loop>,
    /// The dimension N.
    pub n: usize,
}

/// A sum run as a loop: `term` (a tape of its own, operands by index into it, the last node
/// the term) for the integers i = lo ..= hi (at least two of them), in ascending order. Its
/// leaves are constants, `Idx` and `At`; every index s·i + c lies in 0 .. N-1 for all i.
#[derive(Debug, Clone, PartialEq)]
pub struct Loop {
    pub lo: i64,
    pub hi: i64,
    pub term: Vec<Op>,
}

impl Loop {
    /// The coordinate x[s·i + c] reads (in range by construction).
    pub fn index(s: i64, c: i64, i: i64) -> usize {
        (s * i + c) as usize
    }
}

impl Graph {
    /// The distinct operations: the graph's nodes and each loop term's nodes once.
    pub fn ops(&self) -> usize {
        self.nodes.len() + self.loops.iter().map(|l| l.term.len()).sum::<usize>()
    }
}

/// Variable naming style of a formula (x, y, z or x0, x1, …, x[i]); they do not mix.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Style {
    Xyz,
    Indexed,
}

/// Nodes under construction, hash-consed.
#[derive(Default)]
struct Tape {
    nodes: Vec<Op>,
    seen: HashMap<Key, Id>,
}

/// The index of the sum whose term is being lowered as a loop: its name and range.
#[derive(Clone, Copy)]
struct Lane<'a> {
    name: &'a str,
    lo: i64,
    hi: i64,
}

impl Lane<'_> {
    /// Whether the WGSL loop can compute x[s·i + c] in i32 for every i of the range (the
    /// products at the ends bound those between).
    fn fits_i32(&self, s: i64, c: i64) -> bool {
        let small = |v: Option<i64>| v.is_some_and(|v| v.abs() <= i64::from(i32::MAX));
        small(Some(c))
            && [self.lo, self.hi].iter().all(|&i| {
                small(s.checked_mul(i)) && small(s.checked_mul(i).and_then(|v| v.checked_add(c)))
            })
    }
}

struct Builder<'a> {
    outer: Tape,
    /// The loop term being lowered (nodes go here instead of `outer` while it is Some).
    term: Option<Tape>,
    lane: Option<Lane<'a>>,
    loops: Vec<Loop>,
    loop_seen: HashMap<(i64, i64, Vec<Key>), usize>,
    /// The nodes of `loops`' terms.
    loop_ops: usize,
    /// Whether regular sums become loops (false: every sum is unrolled).
    use_loops: bool,
    lets: HashMap<&'a str, Id>,
    n: Option<usize>,
    max_var: Option<usize>,
    style: Option<Style>,
}

/// Lowers a parsed program. N is `n =` when given, else one more than the largest variable
/// index used.
pub fn lower(prog: &Program) -> Result<Graph, ParseError> {
    lower_with(prog, true)
}

/// [`lower`], with `use_loops` false: every sum unrolled (to hold the loop form against).
pub fn lower_with(prog: &Program, use_loops: bool) -> Result<Graph, ParseError> {
    let mut b = Builder {
        outer: Tape::default(),
        term: None,
        lane: None,
        loops: Vec::new(),
        loop_seen: HashMap::new(),
        loop_ops: 0,
        use_loops,
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
    let mut nodes = prune(b.outer.nodes, root);
    // Keep the loops of live Sum nodes, numbered in order of use.
    let mut loops = Vec::new();
    let mut renumber: HashMap<usize, usize> = HashMap::new();
    for op in &mut nodes {
        if let Op::Sum(l) = op {
            *l = *renumber.entry(*l).or_insert_with(|| {
                loops.push(b.loops[*l].clone());
                loops.len() - 1
            });
        }
    }
    Ok(Graph { nodes, loops, n })
}

/// Keeps the nodes `root` depends on, renumbered in the same order.
fn prune(nodes: Vec<Op>, root: Id) -> Vec<Op> {
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
    out
}

impl<'a> Builder<'a> {
    /// The tape nodes go to now: the loop term's while one is lowered, else the graph's.
    fn tape(&self) -> &Tape {
        self.term.as_ref().unwrap_or(&self.outer)
    }

    fn tape_mut(&mut self) -> &mut Tape {
        self.term.as_mut().unwrap_or(&mut self.outer)
    }

    fn push(&mut self, op: Op, pos: usize) -> Result<Id, ParseError> {
        if let Some(c) = self.fold(&op) {
            return self.push_raw(Op::Const(c), pos);
        }
        self.push_raw(op, pos)
    }

    fn push_raw(&mut self, op: Op, pos: usize) -> Result<Id, ParseError> {
        let k = key(&op);
        if let Some(&id) = self.tape().seen.get(&k) {
            return Ok(id);
        }
        let term = self.term.as_ref().map_or(0, |t| t.nodes.len());
        if self.outer.nodes.len() + self.loop_ops + term >= MAX_NODES {
            return Err(ParseError::at(
                pos,
                format!(
                    "the formula expands to more than {MAX_NODES} distinct operations; \
                     valid: a smaller N, shorter sums, or sums whose term reads only \
                     x[s*i + c], the index i and constants (such a term counts once)"
                ),
            ));
        }
        let t = self.tape_mut();
        t.nodes.push(op);
        t.seen.insert(k, t.nodes.len() - 1);
        Ok(t.nodes.len() - 1)
    }

    /// The value of an operation whose operands are all constants.
    fn fold(&self, op: &Op) -> Option<f64> {
        let c = |i: Id| match self.tape().nodes[i] {
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
        if self.term.is_some() {
            return self.push(Op::At(0, i as i64), pos);
        }
        self.push(Op::Var(i), pos)
    }

    /// Lowers `a` to a node; `idx` holds the enclosing sums' indices and their values.
    fn value(&mut self, a: &'a Ast, idx: &mut Vec<(&'a str, i64)>) -> Result<Id, ParseError> {
        let pos = a.pos;
        match &a.kind {
            Kind::Num(v) => self.push(Op::Const(*v), pos),
            Kind::Name(s) => self.name(s, pos, idx),
            Kind::Index(i) if self.lane.is_some() => self.index_at(i, idx, pos),
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
                if let Some(id) = self.sum_loop(i, lo, hi, t, idx, pos)? {
                    return Ok(id);
                }
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
        if self.lane.is_some_and(|l| l.name == s) {
            return self.push(Op::Idx, pos);
        }
        if let Some(&(_, k)) = idx.iter().rev().find(|(name, _)| *name == s) {
            return self.push(Op::Const(k as f64), pos);
        }
        if let Some(&id) = self.lets.get(s) {
            if self.term.is_none() {
                return Ok(id);
            }
            // In a loop term only constant definitions occur (`regular` checks it).
            return match self.outer.nodes[id] {
                Op::Const(c) => self.push(Op::Const(c), pos),
                _ => Err(ParseError::at(
                    pos,
                    format!("'{s}' depends on x and cannot enter a loop term"),
                )),
            };
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
        let c = match self.tape().nodes[ex] {
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
        match self.affine(a, idx, None)? {
            Some((0, c)) => Ok(c),
            _ => Err(ParseError::at(a.pos, "the index depends on a loop index")),
        }
    }

    /// An index expression as s·i + c in the loop index named `lane` (s = 0 without one); None
    /// where it is not affine in it (i*i). Errors as [`Builder::integer`] names them.
    fn affine(
        &self,
        a: &Ast,
        idx: &[(&str, i64)],
        lane: Option<&str>,
    ) -> Result<Option<(i64, i64)>, ParseError> {
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
            Kind::Num(v) if v.fract() == 0.0 && v.abs() < 1e15 => Some((0, *v as i64)),
            Kind::Num(v) => return Err(bad(&format!("{v} is not an integer"))),
            Kind::Name(s) if lane == Some(s.as_str()) => Some((1, 0)),
            Kind::Name(s) => match idx.iter().rev().find(|(name, _)| *name == s.as_str()) {
                Some(&(_, k)) => Some((0, k)),
                None if s == "n" => Some((0, self.n.ok_or_else(|| n_missing(a.pos))? as i64)),
                None => return Err(bad(&format!("'{s}' is not an integer name"))),
            },
            Kind::Neg(x) => match self.affine(x, idx, lane)? {
                Some((s, c)) => s.checked_neg().zip(c.checked_neg()),
                None => return Ok(None),
            },
            Kind::Bin(op, x, y) => {
                let (x, y) = (self.affine(x, idx, lane)?, self.affine(y, idx, lane)?);
                let (Some((sx, cx)), Some((sy, cy))) = (x, y) else {
                    return Ok(None);
                };
                match op {
                    BinOp::Add => sx.checked_add(sy).zip(cx.checked_add(cy)),
                    BinOp::Sub => sx.checked_sub(sy).zip(cx.checked_sub(cy)),
                    BinOp::Mul if sx == 0 => sy.checked_mul(cx).zip(cy.checked_mul(cx)),
                    BinOp::Mul if sy == 0 => sx.checked_mul(cy).zip(cx.checked_mul(cy)),
                    BinOp::Mul => return Ok(None),
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
        r.filter(|(s, c)| s.abs() < 1 << 40 && c.abs() < 1 << 40)
            .map(Some)
            .ok_or_else(|| bad("an overflowing value"))
    }

    /// Whether the term `a` of a sum over `lane` is a regular function of its index, to be run
    /// as a loop: no nested sum, no `let` name that depends on x, and every index affine in
    /// the lane (x[i], x[2*i+1], x[n-1-i], x[3]) and computable in the WGSL loop's i32. An
    /// index expression in error counts as regular: lowering the term reports it, as
    /// unrolling would.
    fn regular(&self, a: &Ast, lane: Lane, idx: &[(&str, i64)]) -> bool {
        match &a.kind {
            Kind::Num(_) => true,
            Kind::Name(s) => {
                s == lane.name
                    || idx.iter().any(|(name, _)| name == s)
                    || self
                        .lets
                        .get(s.as_str())
                        .is_none_or(|&id| matches!(self.outer.nodes[id], Op::Const(_)))
            }
            Kind::Index(i) => match self.affine(i, idx, Some(lane.name)) {
                Ok(Some((s, c))) => lane.fits_i32(s, c),
                Ok(None) => false,
                Err(_) => true,
            },
            Kind::Neg(x) => self.regular(x, lane, idx),
            Kind::Bin(_, x, y) => self.regular(x, lane, idx) && self.regular(y, lane, idx),
            Kind::Call(_, args) => args.iter().all(|x| self.regular(x, lane, idx)),
            Kind::Sum(..) => false,
        }
    }

    /// `sum(lane, lo, hi, t)` as one `Sum` node with its term lowered once, or None where the
    /// sum is to be unrolled: loops are off, the term is not regular, it reads no x (it folds
    /// to a constant unrolled), it has fewer than two terms, or its bounds exceed the i32 range.
    fn sum_loop(
        &mut self,
        lane: &'a str,
        lo: i64,
        hi: i64,
        t: &'a Ast,
        idx: &mut Vec<(&'a str, i64)>,
        pos: usize,
    ) -> Result<Option<Id>, ParseError> {
        if !self.use_loops
            || self.term.is_some()
            || hi <= lo
            || lo.abs() > LOOP_BOUND
            || hi.abs() > LOOP_BOUND
            || !self.regular(t, Lane { name: lane, lo, hi }, idx)
        {
            return Ok(None);
        }
        if hi - lo >= MAX_LOOP_TERMS {
            return Err(ParseError::at(
                pos,
                format!("sum over {lo}..={hi} has more than {MAX_LOOP_TERMS} terms"),
            ));
        }
        self.term = Some(Tape::default());
        self.lane = Some(Lane { name: lane, lo, hi });
        let root = self.value(t, idx);
        let tape = self.term.take().unwrap_or_default();
        self.lane = None;
        let term = prune(tape.nodes, root?);
        if !term.iter().any(|op| matches!(op, Op::At(..))) {
            return Ok(None);
        }
        let k = (lo, hi, term.iter().map(key).collect::<Vec<_>>());
        let l = match self.loop_seen.get(&k) {
            Some(&l) => l,
            None => {
                self.loop_ops += term.len();
                self.loops.push(Loop { lo, hi, term });
                self.loop_seen.insert(k, self.loops.len() - 1);
                self.loops.len() - 1
            }
        };
        self.push_raw(Op::Sum(l), pos).map(Some)
    }

    /// `x[index]` in a loop term: the leaf x[s·i + c], every index of the range checked as
    /// unrolling checks it.
    fn index_at(&mut self, i: &Ast, idx: &[(&str, i64)], pos: usize) -> Result<Id, ParseError> {
        let Some(lane) = self.lane else {
            return Err(ParseError::at(pos, "no loop index here"));
        };
        let (s, c) = self
            .affine(i, idx, Some(lane.name))?
            .ok_or_else(|| ParseError::at(i.pos, "the index is not affine in the sum's index"))?;
        let ends = [lane.lo, lane.hi].map(|i| s.checked_mul(i).and_then(|v| v.checked_add(c)));
        let [Some(a), Some(b)] = ends else {
            return Err(ParseError::at(i.pos, "an overflowing index in a sum"));
        };
        let (least, most) = (a.min(b), a.max(b));
        if least < 0 {
            return Err(ParseError::at(
                i.pos,
                format!("index {least} is negative; valid: 0 .. N-1"),
            ));
        }
        // The same checks as a variable of unrolled code: the style, n and the largest index.
        let id = self.var(most as usize, Style::Indexed, pos)?;
        if s == 0 {
            return Ok(id);
        }
        self.push(Op::At(s, c), pos)
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
