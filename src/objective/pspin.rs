//! The spherical p-spin glass: H(x) = N^{-(p-1)/2} sum J_{i1..ip} x_{i1}..x_{ip} on the sphere
//! |x|^2 = N, with iid standard normal couplings J.
//!
//! Only the symmetric part Jsym of J (its average over index permutations) enters H, and
//! Jsym(i, j, .., k) does not depend on the order of j..k. So the couplings are stored packed,
//! as `jt` (N x T, row-major): row i, column t holds orders(t) · Jsym(i, t) for the t-th
//! nondecreasing (p-1)-tuple t (lexicographic order; T = C(N+p-2, p-1) of them; orders(t) the
//! number of distinct rearrangements of t). With the monomials m_t(x) = x_{t_1}..x_{t_{p-1}}:
//!
//!   grad_i H = p c sum_t jt[i, t] m_t(x),      H = x . grad H / p (degree-p homogeneity),
//!   (Hess H v)_i = p c sum_t jt[i, t] Dm_t(x)[v],   c = N^{-(p-1)/2}.
//!
//! That is N·T floats instead of N^p: p = 3 at N = 500 takes 63 M (500 MB in f64), N = 1000
//! 501 M. The same array is the batched CPU engine's GEMM operand and the GPU's params buffer
//! (f32). The objective returns Euclidean value, gradient and Hessian; the engine projects onto
//! the tangent space and retracts (see `super::sphere`).

use nalgebra::DMatrix;

use super::batch::Precision;
use super::rounding::{gamma, norm};
use super::{Const, Domain, Entry, F32Error, Objective, Pass, Passes, Wgsl, SEED};
use crate::rng::{Sampler, Stream};
use crate::spec::{Param, Range, SpecError, Values};

/// The most packed coupling floats a p-spin may hold: 2^30 (8 GiB in f64 on the host). p = 2
/// reaches N = 32 768, p = 3 N = 1 289, p = 4 N = 282.
pub(crate) const MAX_COUPLINGS: usize = 1 << 30;

const TABLE: &[Param] = &[
    Param::new("p", 3.0, Range::Int(2, 4), "interaction order p"),
    Param::new(
        "n",
        16.0,
        Range::Int(2, 1 << 16),
        "dimension N (p=2: N <= 32768, p=3: N <= 1289, p=4: N <= 282)",
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

/// C(m, r) for r <= 3 (exact in usize for every m this file meets).
fn binomial(m: usize, r: usize) -> usize {
    match r {
        0 => 1,
        1 => m,
        2 => m * m.saturating_sub(1) / 2,
        _ => m * m.saturating_sub(1) / 2 * m.saturating_sub(2) / 3,
    }
}

/// The packed coupling floats of a p-spin of dimension n: N · C(N+p-2, p-1).
pub(crate) fn coupling_floats(p: u32, n: usize) -> usize {
    let k = p as usize - 1;
    n.saturating_mul(binomial(n + k - 1, k))
}

/// The largest N whose packed couplings fit in `MAX_COUPLINGS` floats.
pub(crate) fn max_n(p: u32) -> usize {
    let (mut lo, mut hi) = (2usize, 1 << 16);
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if coupling_floats(p, mid) <= MAX_COUPLINGS {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

/// The nondecreasing k-tuples over 0..n in lexicographic order, and the rank of a tuple in it.
pub(crate) struct Tuples {
    n: usize,
    k: usize,
    /// prefix[r][v]: how many nondecreasing r-tuples have their first value below v, given
    /// values in v'..n for every v' < v: sum over v' < v of C(n - v' + r - 1, r).
    prefix: Vec<Vec<usize>>,
}

impl Tuples {
    pub(crate) fn new(n: usize, k: usize) -> Tuples {
        let prefix = (0..k)
            .map(|r| {
                let mut acc = vec![0usize; n + 1];
                for v in 0..n {
                    acc[v + 1] = acc[v] + binomial(n - v + r - 1, r);
                }
                acc
            })
            .collect();
        Tuples { n, k, prefix }
    }

    /// How many tuples there are: C(n + k - 1, k).
    pub(crate) fn count(&self) -> usize {
        binomial(self.n + self.k - 1, self.k)
    }

    /// The position of the nondecreasing tuple `t` (length k) in the order.
    #[inline]
    pub(crate) fn rank(&self, t: &[usize]) -> usize {
        let mut r = 0;
        let mut prev = 0;
        for (q, &v) in t.iter().enumerate() {
            let p = &self.prefix[self.k - q - 1];
            r += p[v] - p[prev];
            prev = v;
        }
        r
    }

    /// Calls `f(t)` for every tuple, in order.
    pub(crate) fn each(&self, mut f: impl FnMut(&[usize])) {
        let (n, k) = (self.n, self.k);
        let mut t = vec![0usize; k];
        if k == 0 {
            f(&t);
            return;
        }
        loop {
            f(&t);
            let mut d = k;
            while d > 0 && t[d - 1] == n - 1 {
                d -= 1;
            }
            if d == 0 {
                return;
            }
            t[d - 1] += 1;
            let v = t[d - 1];
            t[d..].iter_mut().for_each(|e| *e = v);
        }
    }
}

/// How many distinct orders of a sorted index tuple there are: k! / prod(multiplicity!).
pub(crate) fn orders(t: &[usize]) -> f64 {
    let fact = |k: usize| (1..=k).product::<usize>() as f64;
    let mut i = 0;
    let mut div = 1.0;
    while i < t.len() {
        let j = (i..t.len()).take_while(|&j| t[j] == t[i]).count();
        div *= fact(j);
        i += j;
    }
    fact(t.len()) / div
}

/// Packs raw couplings, given in row-major order of the N^p tensor (index i1 most
/// significant), into `jt` (see the module's notes). Each multiset of indices collects its
/// couplings in row-major order into its canonical entry (row = its smallest index) and is
/// then averaged and spread to its other rows, so memory is N·T floats whatever p.
fn pack(p: usize, n: usize, mut raw: impl FnMut() -> f64) -> Vec<f64> {
    let tuples = Tuples::new(n, p - 1);
    let t = tuples.count();
    let mut jt = vec![0.0f64; n * t];
    let mut idx = [0usize; 4];
    let mut sorted = [0usize; 4];
    let total = n.pow(p as u32);
    for _ in 0..total {
        let j = raw();
        sorted[..p].copy_from_slice(&idx[..p]);
        sorted[..p].sort_unstable();
        jt[sorted[0] * t + tuples.rank(&sorted[1..p])] += j;
        // Next multi-index, the last one fastest.
        for d in (0..p).rev() {
            idx[d] += 1;
            if idx[d] < n {
                break;
            }
            idx[d] = 0;
        }
    }
    let mut full = [0usize; 4];
    let mut rest = [0usize; 4];
    for i in 0..n {
        tuples.each(|tup| {
            if tup.first().is_some_and(|&a| a < i) {
                return;
            }
            full[0] = i;
            full[1..p].copy_from_slice(tup);
            let canon = i * t + tuples.rank(tup);
            let mean = jt[canon] / orders(&full[..p]);
            // Row u of every distinct index u of the multiset: the others as its tuple.
            for q in 0..p {
                if q > 0 && full[q] == full[q - 1] {
                    continue;
                }
                let mut o = 0;
                for (r, &v) in full[..p].iter().enumerate() {
                    if r != q {
                        rest[o] = v;
                        o += 1;
                    }
                }
                let rest = &rest[..p - 1];
                jt[full[q] * t + tuples.rank(rest)] = orders(rest) * mean;
            }
        });
    }
    jt
}

/// The p-spin Hamiltonian with its packed symmetrised couplings.
pub struct PSpin {
    spec: String,
    p: u32,
    n: usize,
    /// N^{-(p-1)/2}
    c: f64,
    /// The (p-1)-tuples' count T.
    t: usize,
    /// Packed couplings, N x T row-major: orders(t) Jsym(i, t).
    jt: Vec<f64>,
    /// jt in f32, made on the first walk that asks for it (`Precision::F32`).
    jt32: std::sync::OnceLock<Vec<f32>>,
}

impl PSpin {
    /// Draws J from `Sampler::new(seed, 0, Stream::Landscape)`: N^p normals, row-major.
    fn new(v: &Values) -> Result<Self, SpecError> {
        let (p, n) = (v.get("p")? as u32, v.usize("n")?);
        let cap = max_n(p);
        if n > cap {
            return Err(SpecError::TooLarge {
                what: format!("'pspin': n={n} with p={p}"),
                need: format!(
                    "n·C(n+p-2, p-1) = {} packed coupling floats",
                    coupling_floats(p, n)
                ),
                limit: format!("2^30 = {MAX_COUPLINGS} (8 GiB in f64)"),
                valid: format!(
                    "n <= {cap} for p={p} (p=2: n <= {}, p=3: n <= {}, p=4: n <= {})",
                    max_n(2),
                    max_n(3),
                    max_n(4)
                ),
            });
        }
        super::check_landscape_memory(
            &format!("'pspin': n={n} with p={p}"),
            coupling_floats(p, n) as u64,
            coupling_floats(p, n) as u64,
            "a smaller n",
        )?;
        let mut s = Sampler::new(v.get("seed")? as u64, 0, Stream::Landscape);
        let jt = pack(p as usize, n, || s.normal());
        Ok(Self::packed(v.canonical(TABLE), p, n, jt))
    }

    /// Builds the objective from raw (unsymmetrised) couplings, N^p row-major.
    #[cfg(test)]
    pub(crate) fn from_couplings(spec: String, p: u32, n: usize, j: Vec<f64>) -> Self {
        assert_eq!(j.len(), n.pow(p), "couplings must hold N^p values");
        let mut it = j.into_iter();
        let jt = pack(p as usize, n, || it.next().unwrap_or(0.0));
        Self::packed(spec, p, n, jt)
    }

    fn packed(spec: String, p: u32, n: usize, jt: Vec<f64>) -> Self {
        PSpin {
            spec,
            p,
            n,
            c: (n as f64).powf(-(f64::from(p) - 1.0) / 2.0),
            t: jt.len() / n,
            jt,
            jt32: Default::default(),
        }
    }

    /// The monomials m_t(y) of degree p - 1, in the tuples' order.
    fn monomials(&self, y: &[f64]) -> Vec<f64> {
        let mut m = Vec::with_capacity(self.t);
        Tuples::new(self.n, self.p as usize - 1)
            .each(|t| m.push(t.iter().map(|&i| y[i]).product()));
        m
    }

    /// sum_t jt[i, t] m_t for every row i.
    fn rows(&self, jt: &[f64], m: &[f64]) -> Vec<f64> {
        jt.chunks_exact(self.t)
            .map(|row| row.iter().zip(m).map(|(a, b)| a * b).sum())
            .collect()
    }
}

impl PSpin {
    /// sum_t |jt[i, t]| m_t for every row i (the rounding bound's magnitudes).
    fn rows_abs(&self, m: &[f64]) -> Vec<f64> {
        self.jt
            .chunks_exact(self.t)
            .map(|row| row.iter().zip(m).map(|(a, b)| a.abs() * b).sum())
            .collect()
    }

    /// For each tuple t and each of its positions q: (t_q, prod of x over t's other
    /// positions), the partial derivatives of m_t; k = p - 1 pairs per tuple.
    fn partials(&self, x: &[f64]) -> Vec<(usize, f64)> {
        let k = self.p as usize - 1;
        let mut out = Vec::with_capacity(self.t * k);
        Tuples::new(self.n, k).each(|t| {
            for q in 0..k {
                let others: f64 = (0..k).filter(|&r| r != q).map(|r| x[t[r]]).product();
                out.push((t[q], others));
            }
        });
        out
    }
}

impl Objective for PSpin {
    fn spec(&self) -> String {
        self.spec.clone()
    }
    fn dim(&self) -> usize {
        self.n
    }
    fn value(&self, x: &[f64]) -> f64 {
        let r = self.rows(&self.jt, &self.monomials(x));
        self.c * r.iter().zip(x).map(|(a, b)| a * b).sum::<f64>()
    }
    /// grad H = p c Jsym(x,..,x,.); H = x . grad H / p (H is homogeneous of degree p).
    fn gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
        let pf = f64::from(self.p);
        let row = self.rows(&self.jt, &self.monomials(x));
        for (gi, r) in g.iter_mut().zip(&row) {
            *gi = pf * self.c * r;
        }
        self.c * row.iter().zip(x).map(|(r, xi)| r * xi).sum::<f64>()
    }
    /// H_ij = p c sum_t jt[i, t] dm_t/dx_j.
    fn hessian(&self, x: &[f64]) -> DMatrix<f64> {
        let (n, k) = (self.n, self.p as usize - 1);
        let pc = f64::from(self.p) * self.c;
        let parts = self.partials(x);
        let mut h = DMatrix::zeros(n, n);
        for (i, row) in self.jt.chunks_exact(self.t).enumerate() {
            for (jv, pr) in row.iter().zip(parts.chunks_exact(k)) {
                for &(j, d) in pr {
                    h[(i, j)] += jv * d;
                }
            }
        }
        h * pc
    }
    fn hvp(&self, x: &[f64], v: &[f64], out: &mut [f64]) {
        let k = self.p as usize - 1;
        let pc = f64::from(self.p) * self.c;
        // Dm_t(x)[v] = sum over positions q of v_{t_q} times x over t's other positions,
        // straight from the tuples (no table of partials: MINRES calls this many times per
        // step).
        let mut dm = Vec::with_capacity(self.t);
        Tuples::new(self.n, k).each(|t| {
            let mut s = 0.0;
            for q in 0..k {
                let others: f64 = (0..k).filter(|&r| r != q).map(|r| x[t[r]]).product();
                s += v[t[q]] * others;
            }
            dm.push(s);
        });
        for (o, r) in out.iter_mut().zip(self.rows(&self.jt, &dm)) {
            *o = pc * r;
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
    /// Row i of the gradient sums the N^(p-1) products |Jsym(i, ..)| |x|..|x| =: R_i
    /// (= sum_t |jt[i, t]| m_t(|x|)) along chains of at most p·N + 8 roundings (the kernel's
    /// nested loops); f = x . g / p adds γ(N).
    fn f32_error(&self, x: &[f64]) -> F32Error {
        let pf = f64::from(self.p);
        let ax: Vec<f64> = x.iter().map(|v| v.abs()).collect();
        let r = self.rows_abs(&self.monomials(&ax));
        let k = gamma(pf * self.n as f64 + 8.0);
        let g: Vec<f64> = r.iter().map(|ri| k * pf * self.c * ri).collect();
        let xg: f64 = ax.iter().zip(&r).map(|(a, b)| a * b).sum::<f64>() * self.c;
        F32Error {
            f: ax.iter().zip(&g).map(|(a, b)| a * b).sum::<f64>() / pf
                + gamma(self.n as f64 + 2.0) * xg,
            grad: norm(g),
        }
    }
    fn batch(&self, precision: Precision) -> Option<Box<dyn super::batch::BatchGrad + '_>> {
        let jt32 = (precision == Precision::F32).then(|| {
            self.jt32
                .get_or_init(|| self.jt.iter().map(|&v| v as f32).collect())
        });
        Some(Box::new(super::batch::PSpinBatch {
            p: self.p,
            n: self.n,
            c: self.c,
            jt: &self.jt,
            jt32: jt32.map(|v| &v[..]),
        }))
    }
    /// Rows of the gradient (or of H v) in parallel, one invocation per (walker, component),
    /// then f from them. See shaders/objectives/pspin.wgsl.
    fn wgsl(&self) -> Wgsl {
        let n = self.n;
        Wgsl {
            consts: vec![
                Const::U32("PSPIN_P", self.p),
                Const::U32("PSPIN_T", self.t as u32),
                Const::F32("PSPIN_C", self.c),
            ],
            body: std::borrow::Cow::Borrowed(include_str!("../../shaders/objectives/pspin.wgsl")),
            // Decoding a packed monomial per term made the split-sum kernel 1.7x slower than
            // the per-row kernel (which walks the triangle in nested loops) on llvmpipe.
            passes: Some(Passes {
                grad: vec![
                    Pass::tiled("pspin_grad_rows", n, self.t, 0).per_row_when_small(),
                    Pass::rows("pspin_grad_f", 1),
                ],
                value: vec![
                    Pass::tiled("pspin_value_rows", n, self.t, 0).per_row_when_small(),
                    Pass::rows("pspin_value_f", 1),
                ],
                hvp: vec![Pass::tiled("pspin_hvp_rows", n, self.t, 0).per_row_when_small()],
                scratch: n,
                minibatch: None,
            }),
        }
    }
    /// The packed couplings jt, N x T row-major; keep in sync with pspin.wgsl.
    fn params(&self) -> Vec<f64> {
        self.jt.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::{max_n, Tuples};

    fn c2(m: u32) -> u32 {
        m * (m + 1) / 2
    }

    fn c3(m: u32) -> u32 {
        m * (m + 1) * (m + 2) / 6
    }

    /// pspin_pair of shaders/objectives/pspin.wgsl, in the same f32 and u32 arithmetic.
    fn pair_mirror(u: u32, n: u32) -> (u32, u32) {
        let r = c2(n) - u;
        let mut m = ((((8 * r + 1) as f32).sqrt() - 1.0) * 0.5).ceil() as u32;
        if c2(m) < r {
            m += 1;
        }
        if m > 1 && c2(m - 1) >= r {
            m -= 1;
        }
        let a = n - m;
        (a, a + u - (c2(n) - c2(m)))
    }

    /// pspin_triple of shaders/objectives/pspin.wgsl.
    fn triple_mirror(t: u32, n: u32) -> (u32, u32, u32) {
        let r = c3(n) - t;
        let mut m = (((6 * r) as f32).powf(1.0 / 3.0) - 1.5).floor().max(0.0) as u32;
        for _ in 0..3 {
            if c3(m) < r {
                m += 1;
            }
        }
        let a = n - m;
        let (b, c) = pair_mirror(t - (c3(n) - c3(m)), m);
        (a, a + b, a + c)
    }

    /// The kernels' tuple of each column t, computed from t, is the t-th tuple of the packed
    /// couplings, for every t at small sizes and at the largest N the coupling cap allows
    /// (beyond what the software adapter's buffers hold, so the GPU tests cannot reach it).
    #[test]
    fn the_tuple_of_each_column_is_computed_exactly_from_its_index() {
        let (n3, n4) = (max_n(3) as u32, max_n(4) as u32);
        assert!(
            8 * c2(n3) + 1 < 1 << 24,
            "the pair estimate's argument is exact"
        );
        for n in (1..=70).chain([255, 406, n3]) {
            let mut t = 0u32;
            Tuples::new(n as usize, 2).each(|tu| {
                assert_eq!(
                    pair_mirror(t, n),
                    (tu[0] as u32, tu[1] as u32),
                    "n={n} t={t}"
                );
                t += 1;
            });
        }
        for n in (1..=40).chain([118, n4]) {
            let mut t = 0u32;
            Tuples::new(n as usize, 3).each(|tu| {
                let want = (tu[0] as u32, tu[1] as u32, tu[2] as u32);
                assert_eq!(triple_mirror(t, n), want, "n={n} t={t}");
                t += 1;
            });
        }
    }
}
