//! Objectives written as formulas: `--objective 'expr:FORMULA'` or `expr:@FILE`. The formula
//! is parsed once (`parse`), lowered to an expression graph with shared subexpressions
//! (`graph`), evaluated in f64 with exact reverse-mode gradient and forward-over-reverse
//! Hessian-vector products (`eval`, the twin), and emitted as a per-walker WGSL objective
//! (`wgsl`), so every rule and command runs on it as on a built-in.

use std::borrow::Cow;

use nalgebra::DMatrix;

use super::{Domain, F32Error, Objective, Wgsl};
use crate::spec::SpecError;

pub mod bound;
pub mod eval;
pub mod graph;
pub mod parse;
mod wgsl;

/// The prefix of formula specs.
pub const PREFIX: &str = "expr:";

/// The grammar, for `saddlescope list`.
pub fn grammar() -> String {
    format!(
        "expr:FORMULA or expr:@FILE  (a formula of your own; everything after 'expr:' is the formula)
      variables    x, y, z (N <= 3) or x0 .. x{{N-1}}, x[i] (N: the largest index used + 1, or 'n = 8;')
      operators    + - * / ^ (right-associative), unary -, parentheses; numbers as 2, 2.5, .5, 1e-3
      constants    pi, e; and n (the dimension, when the header gives it)
      functions    {}
      sums         sum(i, a, b, term): term for the integers i = a ..= b (bounds and indices: integers,
                   n, sum indices, + - *); x[i], x[i+1] index the variables; a term that reads x
                   only at s*i + c (x[i], x[2*i+1], x[n-1-i], x[3]) besides i and constants runs
                   as a loop of up to {} terms and counts once; other sums are unrolled
      size         at most {} distinct operations (a loop's term once)
      statements   'n = 8;' (dimension), 'sphere;' (walk on |x|^2 = N), 'let name = formula;'
                   before the formula; '#' comments (in files)
      kinks        abs'(0) = 0; relu, max and min take the selected argument's derivative (the
                   second on a tie, so relu'(0) = 0): flat where the selected branch is constant
      domain       --init auto draws from [-5, 5]^N (the sphere with 'sphere;')
      example      --objective 'expr:(x^2 + y - 11)^2 + (x + y^2 - 7)^2'",
        parse::function_list(),
        graph::MAX_LOOP_TERMS,
        graph::MAX_NODES,
    )
}

/// The largest formula file read (a formula within the operation cap is far smaller).
pub const MAX_FORMULA_BYTES: u64 = 1 << 20;

/// A formula objective.
pub struct Expr {
    /// The canonical one-line program (the spec after `expr:`).
    text: String,
    graph: graph::Graph,
    sphere: bool,
}

/// A usage error with the formula shown and a caret under the bad place.
fn formula_error(source: &str, e: &parse::ParseError) -> SpecError {
    SpecError::Spec {
        context: "objective expr".to_string(),
        problem: e.render(source),
    }
}

impl Expr {
    /// Builds the objective from the text after `expr:` (a formula, or `@FILE`).
    pub fn parse(text: &str) -> Result<Expr, SpecError> {
        Self::from_source(&Self::source(text)?)
    }

    /// The parsed program of the text after `expr:` (for `sweep`, which sets its `n`).
    pub fn program(text: &str) -> Result<parse::Program, SpecError> {
        let source = Self::source(text)?;
        parse::parse(&source).map_err(|e| formula_error(&source, &e))
    }

    /// The formula text: `text`, or the contents of the file `@FILE` names (a regular file of
    /// at most [`MAX_FORMULA_BYTES`]).
    fn source(text: &str) -> Result<String, SpecError> {
        Ok(match text.strip_prefix('@') {
            Some(path) => {
                let bad = |e: String| SpecError::Spec {
                    context: format!("objective expr:@{path}"),
                    problem: format!(
                        "cannot read the formula file: {e}; valid: a text file of at most \
                         {MAX_FORMULA_BYTES} bytes"
                    ),
                };
                let bytes =
                    crate::spec::read_file_limited(std::path::Path::new(path), MAX_FORMULA_BYTES)
                        .map_err(bad)?;
                String::from_utf8(bytes).map_err(|_| bad("it is not UTF-8 text".into()))?
            }
            None => text.to_string(),
        })
    }

    /// Builds the objective from formula text.
    pub fn from_source(source: &str) -> Result<Expr, SpecError> {
        let prog = parse::parse(source).map_err(|e| formula_error(source, &e))?;
        let graph = graph::lower(&prog).map_err(|e| formula_error(source, &e))?;
        for op in &graph.nodes {
            if let graph::Op::Const(c) = *op {
                if !crate::gpu::shader::fits_f32(c) {
                    return Err(SpecError::Spec {
                        context: "objective expr".to_string(),
                        problem: format!(
                            "the constant {c:e} (after folding) does not fit the GPU's f32; \
                             valid: 0 or 1.2e-38 <= |value| <= 3.4e38\n    {source}"
                        ),
                    });
                }
            }
        }
        Ok(Expr {
            text: prog.to_string(),
            graph,
            sphere: prog.sphere,
        })
    }

    /// The number of distinct operations: graph nodes, and each loop term's nodes once.
    pub fn nodes(&self) -> usize {
        self.graph.ops()
    }

    /// The number of sums run as loops (the others are unrolled into the graph).
    pub fn loops(&self) -> usize {
        self.graph.loops.len()
    }
}

impl Objective for Expr {
    fn spec(&self) -> String {
        format!("{PREFIX}{}", self.text)
    }
    fn dim(&self) -> usize {
        self.graph.n
    }
    fn value(&self, x: &[f64]) -> f64 {
        let vals = eval::forward(&self.graph, x);
        vals[vals.len() - 1]
    }
    fn gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
        eval::gradient(&self.graph, x, g)
    }
    /// N Hessian-vector products, symmetrised (they agree to rounding).
    fn hessian(&self, x: &[f64]) -> DMatrix<f64> {
        let n = self.graph.n;
        let mut h = DMatrix::zeros(n, n);
        let mut e = vec![0.0; n];
        let mut col = vec![0.0; n];
        for j in 0..n {
            e[j] = 1.0;
            eval::hvp(&self.graph, x, &e, &mut col);
            e[j] = 0.0;
            for i in 0..n {
                h[(i, j)] = col[i];
            }
        }
        (&h + h.transpose()) * 0.5
    }
    fn hvp(&self, x: &[f64], v: &[f64], out: &mut [f64]) {
        eval::hvp(&self.graph, x, v, out)
    }
    fn sphere(&self) -> bool {
        self.sphere
    }
    fn domain(&self) -> Domain {
        if self.sphere {
            Domain::Sphere
        } else {
            Domain::Box { lo: -5.0, hi: 5.0 }
        }
    }
    fn wgsl(&self) -> Wgsl {
        Wgsl {
            consts: Vec::new(),
            body: Cow::Owned(wgsl::generate(&self.graph)),
            passes: None,
        }
    }
    fn f32_error(&self, x: &[f64]) -> F32Error {
        let (f, grad) = bound::f32_error(&self.graph, x);
        F32Error { f, grad }
    }
}

#[cfg(test)]
mod tests;
