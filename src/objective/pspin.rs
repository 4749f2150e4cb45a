//! The spherical p-spin glass: H(x) = N^{-(p-1)/2} sum J_{i1..ip} x_{i1}..x_{ip} on the sphere
//! |x|^2 = N, with iid standard normal couplings J.
//!
//! Only the symmetric part of J enters H, so the couplings are stored symmetrised (averaged over
//! index permutations): then grad H = p c Jsym(x,..,x,.) and Hess H = p(p-1) c Jsym(x,..,.,.),
//! c = N^{-(p-1)/2}. The objective returns Euclidean value, gradient and Hessian; the engine
//! projects onto the tangent space and retracts (see `super::sphere`).

use nalgebra::DMatrix;

use super::rounding::{gamma, norm};
use super::{Const, Domain, Entry, F32Error, Objective, Pass, Passes, Wgsl, MAX_PARAMS, SEED};
use crate::rng::{Sampler, Stream};
use crate::spec::{Param, Range, SpecError, Values};

const TABLE: &[Param] = &[
    Param::new("p", 3.0, Range::Int(2, 4), "interaction order p"),
    Param::new(
        "n",
        16.0,
        Range::Int(2, 1 << 16),
        "dimension N (N^p <= 2^25)",
    ),
    SEED,
];

pub fn entry() -> Entry {
    Entry {
        name: "pspin",
        summary: "spherical p-spin glass (p = 2, 3, 4) on |x|^2 = N, Gaussian couplings",
        params: TABLE,
        build: |v: &Values| Ok(Box::new(PSpin::new(v)?) as Box<dyn Objective>),
    }
}

/// The largest N whose dense N^p tensor fits in `MAX_PARAMS` floats.
fn max_n(p: u32) -> usize {
    (2..)
        .take_while(|&n: &usize| n.pow(p) <= MAX_PARAMS)
        .last()
        .unwrap_or(2)
}

/// The p-spin Hamiltonian with its symmetrised coupling tensor.
pub struct PSpin {
    spec: String,
    p: u32,
    n: usize,
    /// N^{-(p-1)/2}
    c: f64,
    /// Symmetrised couplings, N^p row-major (index i1 most significant).
    jsym: Vec<f64>,
}

impl PSpin {
    /// Draws J from `Sampler::new(seed, 0, Stream::Landscape)`: N^p normals, row-major.
    fn new(v: &Values) -> Result<Self, SpecError> {
        let (p, n) = (v.get("p")? as u32, v.usize("n")?);
        let cap = max_n(p);
        if n > cap {
            return Err(SpecError::TooLarge {
                what: format!("'pspin': n={n} with p={p}"),
                need: format!("n^p = {} coupling floats", (n as f64).powi(p as i32)),
                limit: "2^25 (128 MiB)".into(),
                valid: format!(
                    "n <= {cap} for p={p} (p=2: n <= {}, p=3: n <= {}, p=4: n <= {})",
                    max_n(2),
                    max_n(3),
                    max_n(4)
                ),
            });
        }
        let mut s = Sampler::new(v.get("seed")? as u64, 0, Stream::Landscape);
        let j = (0..n.pow(p)).map(|_| s.normal()).collect();
        Ok(Self::from_couplings(v.canonical(TABLE), p, n, j))
    }

    /// Builds the objective from raw (unsymmetrised) couplings, N^p row-major.
    pub(crate) fn from_couplings(spec: String, p: u32, n: usize, mut j: Vec<f64>) -> Self {
        assert_eq!(j.len(), n.pow(p), "couplings must hold N^p values");
        symmetrise(&mut j, n, p as usize);
        PSpin {
            spec,
            p,
            n,
            c: (n as f64).powf(-(f64::from(p) - 1.0) / 2.0),
            jsym: j,
        }
    }

    /// Contracts `k` trailing indices of Jsym with x (the innermost one with `last` instead when
    /// given): returns the N^{p-k} leading part.
    fn contract(&self, x: &[f64], last: Option<&[f64]>, k: usize) -> Vec<f64> {
        self.contract_in(&self.jsym, x, last, k)
    }

    /// [`PSpin::contract`] of a given N^p tensor.
    fn contract_in(&self, j: &[f64], x: &[f64], last: Option<&[f64]>, k: usize) -> Vec<f64> {
        let mut t: Option<Vec<f64>> = None;
        for step in 0..k {
            let y = if step == 0 { last.unwrap_or(x) } else { x };
            let src: &[f64] = t.as_deref().unwrap_or(j);
            t = Some(
                src.chunks_exact(self.n)
                    .map(|row| row.iter().zip(y).map(|(a, b)| a * b).sum())
                    .collect(),
            );
        }
        t.unwrap_or_else(|| j.to_vec())
    }
}

/// Replaces a row-major N^p tensor by its average over the p! index permutations, in place:
/// each orbit (a sorted multi-index and its distinct rearrangements) is visited once.
fn symmetrise(j: &mut [f64], n: usize, p: usize) {
    let perms = permutations(p);
    let mut idx = vec![0usize; p];
    let mut flats: Vec<usize> = Vec::with_capacity(perms.len());
    for flat in 0..j.len() {
        let mut r = flat;
        for d in (0..p).rev() {
            idx[d] = r % n;
            r /= n;
        }
        if idx.windows(2).any(|w| w[0] > w[1]) {
            continue;
        }
        flats.clear();
        flats.extend(
            perms
                .iter()
                .map(|perm| perm.iter().fold(0, |acc, &d| acc * n + idx[d])),
        );
        flats.sort_unstable();
        flats.dedup();
        let mean = flats.iter().map(|&f| j[f]).sum::<f64>() / flats.len() as f64;
        for &f in &flats {
            j[f] = mean;
        }
    }
}

/// All permutations of 0..p (p <= 4 here, so at most 24).
fn permutations(p: usize) -> Vec<Vec<usize>> {
    if p == 0 {
        return vec![vec![]];
    }
    let mut out = Vec::new();
    for smaller in permutations(p - 1) {
        for pos in 0..p {
            let mut q = smaller.clone();
            q.insert(pos, p - 1);
            out.push(q);
        }
    }
    out
}

impl Objective for PSpin {
    fn spec(&self) -> String {
        self.spec.clone()
    }
    fn dim(&self) -> usize {
        self.n
    }
    fn value(&self, x: &[f64]) -> f64 {
        self.c * self.contract(x, None, self.p as usize)[0]
    }
    /// grad H = p c Jsym(x,..,x,.); H = x . grad H / p (H is homogeneous of degree p).
    fn gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
        let pf = f64::from(self.p);
        let row = self.contract(x, None, self.p as usize - 1);
        for (gi, r) in g.iter_mut().zip(&row) {
            *gi = pf * self.c * r;
        }
        self.c * row.iter().zip(x).map(|(r, xi)| r * xi).sum::<f64>()
    }
    fn hessian(&self, x: &[f64]) -> DMatrix<f64> {
        let pf = f64::from(self.p);
        let t = self.contract(x, None, self.p as usize - 2);
        DMatrix::from_row_slice(self.n, self.n, &t) * (pf * (pf - 1.0) * self.c)
    }
    fn hvp(&self, x: &[f64], v: &[f64], out: &mut [f64]) {
        let pf = f64::from(self.p);
        let row = self.contract(x, Some(v), self.p as usize - 1);
        for (o, r) in out.iter_mut().zip(&row) {
            *o = pf * (pf - 1.0) * self.c * r;
        }
    }
    fn sphere(&self) -> bool {
        true
    }
    /// H is homogeneous of degree p: H(−x) = (−1)^p H(x).
    fn odd(&self) -> bool {
        self.p % 2 == 1
    }
    fn domain(&self) -> Domain {
        Domain::Sphere
    }
    /// Row i of the gradient sums the N^(p-1) products |Jsym(i, ..)| |x|..|x| =: R_i along
    /// chains of at most p·N + 8 roundings (the row loops); f = x . g / p adds γ(N).
    fn f32_error(&self, x: &[f64]) -> F32Error {
        let pf = f64::from(self.p);
        let ax: Vec<f64> = x.iter().map(|v| v.abs()).collect();
        let abs_j: Vec<f64> = self.jsym.iter().map(|v| v.abs()).collect();
        let r = self.contract_in(&abs_j, &ax, None, self.p as usize - 1);
        let k = gamma(pf * self.n as f64 + 8.0);
        let g: Vec<f64> = r.iter().map(|ri| k * pf * self.c * ri).collect();
        let xg: f64 = ax.iter().zip(&r).map(|(a, b)| a * b).sum::<f64>() * self.c;
        F32Error {
            f: ax.iter().zip(&g).map(|(a, b)| a * b).sum::<f64>() / pf
                + gamma(self.n as f64 + 2.0) * xg,
            grad: norm(g),
        }
    }
    fn batch(&self) -> Option<Box<dyn super::batch::BatchGrad + '_>> {
        Some(Box::new(super::batch::PSpinBatch::new(
            self.p, self.n, self.c, &self.jsym,
        )))
    }
    /// Rows of the gradient (or of H v) in parallel, one invocation per (walker, component),
    /// then f from them. See shaders/objectives/pspin.wgsl.
    fn wgsl(&self) -> Wgsl {
        let n = self.n;
        Wgsl {
            consts: vec![Const::U32("PSPIN_P", self.p), Const::F32("PSPIN_C", self.c)],
            body: include_str!("../../shaders/objectives/pspin.wgsl"),
            passes: Some(Passes {
                grad: vec![
                    Pass {
                        func: "pspin_grad_rows",
                        rows: n,
                    },
                    Pass {
                        func: "pspin_grad_f",
                        rows: 1,
                    },
                ],
                value: vec![
                    Pass {
                        func: "pspin_value_rows",
                        rows: n,
                    },
                    Pass {
                        func: "pspin_value_f",
                        rows: 1,
                    },
                ],
                hvp: vec![Pass {
                    func: "pspin_hvp_rows",
                    rows: n,
                }],
                scratch: n,
            }),
        }
    }
    /// The symmetrised tensor, N^p row-major; keep in sync with pspin.wgsl.
    fn params(&self) -> Vec<f64> {
        self.jsym.clone()
    }
}
