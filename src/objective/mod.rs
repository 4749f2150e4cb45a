//! Objectives (landscapes): each exists twice, as WGSL (f32: value, gradient, Hessian-vector
//! product) and as this Rust f64 twin (value, gradient, Hessian). The twin is the test oracle and
//! the `cpu` backend.

use std::borrow::Cow;

use nalgebra::DMatrix;

use crate::spec::{self, Param, Range, RawSpec, SpecError, Values};

pub mod batch;
mod classic;
pub mod expr;
mod field;
mod mlp;
pub use mlp::MAX_SAMPLES;
mod nd;
mod pspin;
pub mod rounding;
#[cfg(test)]
mod tests;
pub mod vecmath;

/// Where walkers start when `--init auto` is given.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub enum Domain {
    /// Uniform in the box lo..hi in every coordinate (same for all coordinates).
    Box { lo: f64, hi: f64 },
    /// Uniform in the box [x0,x1] x [y0,y1] (2-D surfaces whose interesting part is not square).
    Box2 { x: (f64, f64), y: (f64, f64) },
    /// Uniform on the sphere |x|^2 = N.
    Sphere,
}

/// A host constant of an objective's WGSL, emitted as `const NAME: TYPE = VALUE;` before its body.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Const {
    U32(&'static str, u32),
    /// An f32 constant, given in f64; the GPU layer refuses one that f32 cannot hold.
    F32(&'static str, f64),
}

/// One pass of a batched objective: the WGSL function
/// `fn NAME(w: u32, r: u32, x: u32, v: u32, out: u32)`, run for every running walker w and
/// every row r < rows (x, v, out: the evaluation's vector slots).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub func: &'static str,
    pub rows: usize,
    /// `Some`: the pass is also a matrix product that the GPU may run as a tiled kernel.
    pub tile: Option<Tile>,
}

/// A pass that is a matrix product, out(w, r) = end(sum_k A[r, k] B_w(k)): A is a row-major
/// `rows x k` matrix in params at offset `a` (one landscape), B_w(k) the WGSL function
/// `fn NAME_b(w: u32, k: u32, x: u32, v: u32) -> f32` and `end` the function
/// `fn NAME_end(w: u32, r: u32, acc: f32, x: u32, v: u32, out: u32)`, which writes what NAME
/// writes. The tiled kernel (src/gpu/tile.rs) stages tiles of A and of B in workgroup memory;
/// NAME stays the pass of the per-row kernel, so both must compute the same thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    pub k: usize,
    pub a: usize,
    /// B_w(k) is cheap enough for the split-sum kernel (src/gpu/tile.rs, `lanes_kernel`),
    /// which evaluates it once per (row, k) where the tiled kernel stages it once per tile.
    pub split_sum: bool,
}

impl Pass {
    /// A pass run as one invocation per (walker, row).
    pub const fn rows(func: &'static str, rows: usize) -> Pass {
        Pass {
            func,
            rows,
            tile: None,
        }
    }

    /// A pass that is a matrix product with `k` terms per row and A at offset `a` of params.
    pub const fn tiled(func: &'static str, rows: usize, k: usize, a: usize) -> Pass {
        Pass {
            func,
            rows,
            tile: Some(Tile {
                k,
                a,
                split_sum: true,
            }),
        }
    }

    /// This matrix product without the split-sum kernel: small dispatches run the per-row
    /// kernel (for a B_w(k) that costs far more than a load, e.g. p-spin's packed monomials).
    pub const fn per_row_when_small(self) -> Pass {
        match self.tile {
            Some(t) => Pass {
                tile: Some(Tile {
                    split_sum: false,
                    ..t
                }),
                ..self
            },
            None => self,
        }
    }
}

/// The passes of an objective evaluated over all walkers at once (the multi-pass engine):
/// `grad` leaves the gradient in slot `out` and f in SC_EVAL, `value` leaves f in SC_EVAL,
/// `hvp` leaves H v in slot `out`. Passes of one evaluation run in order; each sees what the
/// previous one wrote (objective scratch: `scratch` floats per walker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passes {
    pub grad: Vec<Pass>,
    pub value: Vec<Pass>,
    pub hvp: Vec<Pass>,
    pub scratch: usize,
    /// The passes on each walker's minibatch, for objectives with data (`batch=B`).
    pub minibatch: Option<Minibatch>,
}

/// A data loss's passes on minibatches (rules::BATCH): `index` writes the data rows of every
/// walker's minibatch at its current step; `grad`, `value` and `hvp` evaluate as those of
/// [`Passes`] on those rows (a walker with B = 0: on all samples).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Minibatch {
    pub index: Pass,
    pub grad: Vec<Pass>,
    pub value: Vec<Pass>,
    pub hvp: Vec<Pass>,
}

/// The WGSL half of an objective.
pub struct Wgsl {
    pub consts: Vec<Const>,
    /// The objective's WGSL source (from shaders/objectives/): per-walker `obj_value`,
    /// `obj_grad` and `obj_hvp` (see shaders/common.wgsl for the contract), or, with `passes`,
    /// the pass functions; generated for formula objectives (`expr`).
    pub body: Cow<'static, str>,
    /// `Some`: the objective is evaluated by passes over all walkers (matrix-shaped
    /// objectives, whose one-walker evaluation is too long for one invocation).
    pub passes: Option<Passes>,
}

impl Wgsl {
    /// A per-walker objective without host constants.
    pub fn per_walker(body: &'static str) -> Wgsl {
        Wgsl {
            consts: Vec::new(),
            body: Cow::Borrowed(body),
            passes: None,
        }
    }
}

/// Bounds on what f32 evaluation on the GPU can change in f and in the gradient at a point,
/// absolute: |f_gpu - f| <= f and |grad_gpu - grad| <= grad (Euclidean norm). Each objective
/// derives its own from the magnitudes of the terms it sums (see [`rounding`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct F32Error {
    pub f: f64,
    pub grad: f64,
}

/// A landscape f: R^N -> R (or the sphere |x|^2 = N for `sphere()` objectives).
pub trait Objective: Send + Sync {
    /// Canonical spec, e.g. `rastrigin:n=8`.
    fn spec(&self) -> String;
    fn dim(&self) -> usize;
    fn value(&self, x: &[f64]) -> f64;
    /// Writes the Euclidean gradient into `g` and returns the value.
    fn gradient(&self, x: &[f64], g: &mut [f64]) -> f64;
    /// The Euclidean Hessian (N x N, symmetric).
    fn hessian(&self, x: &[f64]) -> DMatrix<f64>;
    /// Hessian-vector product; objectives with a cheaper form override it.
    fn hvp(&self, x: &[f64], v: &[f64], out: &mut [f64]) {
        let h = self.hessian(x);
        for (i, o) in out.iter_mut().enumerate() {
            *o = (0..v.len()).map(|j| h[(i, j)] * v[j]).sum();
        }
    }
    /// True when the objective lives on the sphere |x|^2 = N (projected gradient, retraction).
    fn sphere(&self) -> bool {
        false
    }
    /// True when f(−x) = −f(x) for every x (the spherical p-spin with odd p): then x is a
    /// critical point of index k exactly when −x is one of index D − k (D the Hessian's
    /// dimension), so minima and maxima, and the saddles of index k and D − k, pair up.
    fn odd(&self) -> bool {
        false
    }
    fn domain(&self) -> Domain;
    fn wgsl(&self) -> Wgsl;
    /// Contents of the read-only parameter buffer, in f64 (the GPU layer converts them to f32
    /// and refuses values f32 cannot hold); empty when the WGSL reads none.
    fn params(&self) -> Vec<f64> {
        Vec::new()
    }
    /// How far f32 arithmetic on the GPU may move f and the gradient at x (the twin check's
    /// tolerance; `gpu::twin_check`).
    fn f32_error(&self, x: &[f64]) -> F32Error;
    /// An evaluator of a block of walkers at once for the batched CPU engine, in `precision`
    /// where it has an f32 form (`BatchGrad::precision` says); `None`:
    /// the engine calls [`Objective::gradient`] per walker.
    fn batch(&self, _precision: batch::Precision) -> Option<Box<dyn batch::BatchGrad + '_>> {
        None
    }
    /// The samples a data loss averages over (`mlp`: P); 0 for a landscape without data.
    /// Minibatches (`batch=B` on a step rule) need P > 0.
    fn samples(&self) -> usize {
        0
    }
    /// The loss over the samples `rows` only (a minibatch: f averages over them), for the
    /// twin's minibatch steps; `None` for a landscape without data.
    fn minibatch(&self, _rows: &[u32]) -> Option<Box<dyn Objective + '_>> {
        None
    }
    /// Arrays a run folder saves beside its results so anyone can recompute f (the data of a
    /// network loss); empty for landscapes that a spec alone reproduces.
    fn saved_arrays(&self) -> Vec<SavedArray> {
        Vec::new()
    }
    /// The descent `sample --descent auto` runs before a critical-point finder (newton-mr,
    /// gradnorm, newton) on this landscape, when it has one: an optimizer spec and its steps.
    /// Finders converge to the critical point nearest their start; where random starts lie far
    /// from every minimum (network losses), a descent first lets the finder start at every
    /// stage of training, so it reaches minima as well as the saddles above them.
    fn finder_descent(&self) -> Option<(&'static str, u32)> {
        None
    }
    /// Known saddle used by `escape --from saddle`, when the objective has a natural one.
    fn known_saddle(&self) -> Option<Vec<f64>> {
        None
    }
    /// A point well inside a flat region (zero gradient and Hessian on a neighbourhood), used
    /// by `escape --from plateau`, when the objective has one.
    fn plateau(&self) -> Option<Vec<f64>> {
        None
    }
}

/// An f64 array an objective asks every run folder to hold (`.npy`, row-major).
#[derive(Debug, Clone, PartialEq)]
pub struct SavedArray {
    pub name: &'static str,
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

/// Description of one objective for `saddlescope list` and the spec resolver.
pub struct Entry {
    pub name: &'static str,
    pub summary: &'static str,
    pub params: &'static [Param],
    pub build: fn(&Values) -> Result<Box<dyn Objective>, SpecError>,
}

/// Every objective, in the order `list` prints them.
/// Refuses a landscape whose parameters would not fit in the memory available (`run::memory`)
/// before they are drawn: `host` floats in f64 and, for a GPU walk, `gpu` floats in f32.
/// `what` names the landscape and its size, `valid` what to change.
pub(crate) fn check_landscape_memory(
    what: &str,
    host: u64,
    gpu: u64,
    valid: &str,
) -> Result<(), SpecError> {
    let mut e = crate::run::memory::Estimate::new();
    e.add("landscape parameters (f64, host)", host, 8).add(
        "landscape parameters (f32, GPU upload)",
        gpu,
        4,
    );
    crate::run::memory::check(what, &e, valid)
}

pub fn registry() -> Vec<Entry> {
    let mut v = classic::entries();
    v.extend(nd::entries());
    v.push(field::entry());
    v.push(pspin::entry());
    v.push(mlp::entry());
    v
}

/// Builds an objective from its spec text; `expr:` takes the rest of the text verbatim as a
/// formula (see [`expr`]).
pub fn parse(text: &str) -> Result<Box<dyn Objective>, SpecError> {
    if let Some(formula) = text.trim_start().strip_prefix(expr::PREFIX) {
        return Ok(Box::new(expr::Expr::parse(formula)?));
    }
    let raw = RawSpec::parse(text)?;
    let reg = registry();
    let entry = reg
        .iter()
        .find(|e| e.name == raw.name)
        .ok_or_else(|| SpecError::UnknownName {
            what: "objective",
            name: raw.name.clone(),
            valid: reg.iter().map(|e| e.name).collect::<Vec<_>>().join(", "),
        })?;
    let values = spec::resolve(&raw, entry.params)?;
    (entry.build)(&values)
}

/// The `seed` parameter of random landscapes: an integer an f64 holds exactly.
pub(crate) const SEED: Param = Param::new(
    "seed",
    0.0,
    Range::Int(0, 1 << 53),
    "seed of the landscape's random parameters (Philox, host side)",
);

/// Zero floats the GPU layer appends to every parameter buffer, so that a batched kernel may
/// read up to 16 floats past the end of a row (it multiplies them by zeros).
pub const PARAM_TAIL: usize = 16;

/// Euclidean Riemannian-projection helpers for sphere objectives: |x|^2 = N.
pub mod sphere {
    /// Projects `g` onto the tangent space at `x` (|x|^2 = N): g - (x.g / N) x.
    pub fn project(x: &[f64], g: &mut [f64]) {
        let n = x.len() as f64;
        let xg: f64 = x.iter().zip(g.iter()).map(|(a, b)| a * b).sum();
        for (gi, xi) in g.iter_mut().zip(x) {
            *gi -= xg / n * xi;
        }
    }
    /// Retraction: rescales x to |x|^2 = N. The zero vector is left as it is (callers refuse
    /// it before a walk); a vector whose |x|^2 under- or overflows f64 (entries near 1e-160 or
    /// 1e160) is first divided by its largest |x_i|, so it still lands on the sphere.
    pub fn retract(x: &mut [f64]) {
        let n = x.len() as f64;
        let mut norm = x.iter().map(|v| v * v).sum::<f64>().sqrt();
        if !(norm > 0.0 && norm.is_finite()) {
            let m = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            if !(m > 0.0 && m.is_finite()) {
                return;
            }
            x.iter_mut().for_each(|v| *v /= m);
            norm = x.iter().map(|v| v * v).sum::<f64>().sqrt();
        }
        if norm > 0.0 {
            let s = n.sqrt() / norm;
            x.iter_mut().for_each(|v| *v *= s);
        }
    }
}
