//! Objectives evaluated for a block of walkers at once, for the batched CPU engine
//! (`walk::batched`): the matrix-shaped families through one matrix product per step (faer's
//! GEMM), the separable ones through vectorising elementwise loops. Each is held against the
//! per-walker f64 twin (`Objective::gradient`) in the tests below and in tests/batched.rs.
//!
//! With [`Precision::F32`] field, p-spin and rastrigin evaluate in f32 (twice the lanes of a
//! vector register, half the bytes of the landscape streamed): the walkers' coordinates are
//! rounded to f32 (rastrigin's sin/cos take x − round(x), reduced in f64 first), the matrix
//! products' sums and the field's and rastrigin's sin/cos (`vecmath::sin_cos_f32`) are f32; f is summed in f64 from f32 terms, and the walker state
//! and the step stay f64. Gradients then carry f32 rounding (about 1e-6 of the terms' scale,
//! as the GPU's), and a walk's result depends on the GEMM's blocking to that rounding. The
//! other separable objectives (a few multiplications per coordinate) have no f32 form.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

use super::vecmath::{round_fast, sin_cos, sin_cos_f32, sin_cos_turns, sin_cos_turns_f32};

/// Defines `$name`, which runs the `#[inline(always)]` function `$body` compiled for AVX-512F
/// or AVX2 (with FMA) when the CPU has them (checked at run time), else for the baseline
/// target; the arithmetic is the same in every version (fused multiply-adds only where the
/// code says `mul_add`, never by contraction), so results do not depend on the CPU.
macro_rules! multiversion {
    ($name:ident, $body:ident, ($($arg:ident: $t:ty),*)) => {
        $crate::objective::batch::multiversion!($name, $body, ($($arg: $t),*) -> ());
    };
    ($name:ident, $body:ident, ($($arg:ident: $t:ty),*) -> $ret:ty) => {
        pub(crate) fn $name($($arg: $t),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,fma")]
                unsafe fn avx512($($arg: $t),*) -> $ret {
                    $body($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $t),*) -> $ret {
                    $body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the CPU has AVX-512F and FMA (checked just above).
                    return unsafe { avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the CPU has AVX2 and FMA (checked just above).
                    return unsafe { avx2($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}
pub(crate) use multiversion;

/// The arithmetic of the batched engine's matrix products (`--precision`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// f64 throughout.
    #[default]
    F64,
    /// f32 evaluation where the objective has an f32 form (field, p-spin: the matrix
    /// products, and the field's sin/cos; rastrigin), f64 state and steps.
    F32,
}

impl Precision {
    pub fn name(self) -> &'static str {
        match self {
            Precision::F64 => "f64",
            Precision::F32 => "f32",
        }
    }
}

/// f and the Euclidean gradient of `rows` points at once.
pub trait BatchGrad: Send + Sync {
    /// `x` and `g` are rows x N row-major; `f` has `rows` entries.
    fn grad(&self, x: &[f64], rows: usize, f: &mut [f64], g: &mut [f64], scratch: &mut Vec<f64>);
    /// True when rows are independent and cost the same one at a time (elementwise
    /// objectives): the engine then calls `grad` with `rows` = 1 on each walker's own x and
    /// gradient, without gathering the block into one matrix and scattering it back.
    fn rowwise(&self) -> bool {
        false
    }
    /// The precision its matrix products run in.
    fn precision(&self) -> Precision {
        Precision::F64
    }
}

/// `dst (m x n) = alpha * lhs (m x k) * rhs (k x n)`, row-major slices, single-threaded (the
/// engine runs blocks in parallel).
pub fn gemm(dst: &mut [f64], lhs: &[f64], rhs: MatRef<'_, f64>, m: usize, k: usize, alpha: f64) {
    let n = rhs.ncols();
    matmul(
        MatMut::from_row_major_slice_mut(dst, m, n),
        Accum::Replace,
        MatRef::from_row_major_slice(lhs, m, k),
        rhs,
        alpha,
        Par::Seq,
    );
}

/// [`gemm`] in f32.
pub fn gemm32(dst: &mut [f32], lhs: &[f32], rhs: MatRef<'_, f32>, m: usize, k: usize) {
    let n = rhs.ncols();
    matmul(
        MatMut::from_row_major_slice_mut(dst, m, n),
        Accum::Replace,
        MatRef::from_row_major_slice(lhs, m, k),
        rhs,
        1.0,
        Par::Seq,
    );
}

/// `len` f32 of scratch after `offset` f64 of it (the f64 vector grown to hold both; an f64
/// is two f32 and its alignment is the larger).
fn f32_scratch(scratch: &mut Vec<f64>, offset: usize, len: usize) -> (&mut [f64], &mut [f32]) {
    scratch.resize(offset + len.div_ceil(2), 0.0);
    let (a, b) = scratch.split_at_mut(offset);
    (a, &mut bytemuck::cast_slice_mut(b)[..len])
}

/// Rounds `src` into `dst` (f64 to f32).
fn to_f32(dst: &mut [f32], src: &[f64]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = *s as f32;
    }
}

/// The random field f = mu/2 |x|^2 + sum_m s_m cos(w_m . x + b_m) for a block: phases
/// P = X W^T + b (one GEMM), then C = -s sin(P), G = mu X + C W (a second GEMM).
pub struct FieldBatch<'a> {
    n: usize,
    m: usize,
    mu: f64,
    /// W, M x N row-major (the objective's own).
    w: &'a [f64],
    /// W in f32 (`Precision::F32`): the products and the sin/cos run in f32.
    w32: Option<&'a [f32]>,
    /// s_m = sqrt(2/M) a_m.
    s: Vec<f64>,
    b: Vec<f64>,
    /// s and b in f32, with `w32`.
    s32: Vec<f32>,
    b32: Vec<f32>,
}

impl<'a> FieldBatch<'a> {
    /// The batch form of the field f = mu/2 |x|^2 + sum_m s_m cos(w_m . x + b_m), W being
    /// M x N row-major; with `w32` its products and sin/cos run in f32.
    pub fn new(mu: f64, w: &'a [f64], w32: Option<&'a [f32]>, s: Vec<f64>, b: Vec<f64>) -> Self {
        let (m, n) = (s.len(), w.len() / s.len().max(1));
        let (s32, b32) = match w32 {
            Some(_) => (
                s.iter().map(|&v| v as f32).collect(),
                b.iter().map(|&v| v as f32).collect(),
            ),
            None => (Vec::new(), Vec::new()),
        };
        FieldBatch {
            n,
            m,
            mu,
            w,
            w32,
            s,
            b,
            s32,
            b32,
        }
    }
}

impl FieldBatch<'_> {
    /// `grad` in f32: X rounded to f32, the phases, their sin/cos and the gradient's product
    /// in f32; f summed in f64 from the f32 terms, mu x added in f64.
    fn grad32(
        &self,
        w32: &[f32],
        x: &[f64],
        rows: usize,
        f: &mut [f64],
        g: &mut [f64],
        scratch: &mut Vec<f64>,
    ) {
        let (n, m) = (self.n, self.m);
        let (_, s32) = f32_scratch(scratch, 0, rows * (2 * n + m) + m);
        let (x32, rest) = s32.split_at_mut(rows * n);
        let (ph32, rest) = rest.split_at_mut(rows * m);
        let (g32, terms) = rest.split_at_mut(rows * n);
        to_f32(x32, &x[..rows * n]);
        let w = MatRef::from_row_major_slice(w32, m, n);
        gemm32(ph32, x32, w.transpose(), rows, n);
        for (r, fr) in f.iter_mut().enumerate().take(rows) {
            field_terms32(&mut ph32[r * m..(r + 1) * m], terms, &self.s32, &self.b32);
            let xr = &x[r * n..(r + 1) * n];
            *fr = 0.5 * self.mu * xr.iter().map(|v| v * v).sum::<f64>() + sum8_f32(terms);
        }
        gemm32(g32, ph32, w, rows, m);
        for ((gi, xi), g32i) in g.iter_mut().zip(x).zip(g32.iter()).take(rows * n) {
            *gi = f64::from(*g32i) + self.mu * xi;
        }
    }
}

impl BatchGrad for FieldBatch<'_> {
    fn precision(&self) -> Precision {
        match self.w32 {
            Some(_) => Precision::F32,
            None => Precision::F64,
        }
    }

    fn grad(&self, x: &[f64], rows: usize, f: &mut [f64], g: &mut [f64], scratch: &mut Vec<f64>) {
        if let Some(w32) = self.w32 {
            return self.grad32(w32, x, rows, f, g, scratch);
        }
        let (n, m) = (self.n, self.m);
        // One size for the phases and one row of terms (growing it between the two would
        // copy the phases).
        scratch.resize(rows * m + m, 0.0);
        let w = MatRef::from_row_major_slice(self.w, m, n);
        gemm(&mut scratch[..rows * m], x, w.transpose(), rows, n, 1.0);
        let (phases, terms) = scratch.split_at_mut(rows * m);
        for (r, fr) in f.iter_mut().enumerate().take(rows) {
            field_terms(
                &mut phases[r * m..(r + 1) * m],
                &mut terms[..m],
                &self.s,
                &self.b,
            );
            let xr = &x[r * n..(r + 1) * n];
            *fr = 0.5 * self.mu * xr.iter().map(|v| v * v).sum::<f64>() + sum8(&terms[..m]);
        }
        gemm(g, &scratch[..rows * m], w, rows, m, 1.0);
        for (gi, xi) in g.iter_mut().zip(x).take(rows * n) {
            *gi += self.mu * xi;
        }
    }
}

/// One row of field terms: the phases (in `p`) become the gradient coefficients -s sin(p + b),
/// `cos` gets s cos(p + b).
#[inline(always)]
fn field_terms_body(p: &mut [f64], cos: &mut [f64], s: &[f64], b: &[f64]) {
    for (((pi, ci), &si), &bi) in p.iter_mut().zip(cos.iter_mut()).zip(s).zip(b) {
        let (sn, cs) = sin_cos(*pi + bi);
        *ci = si * cs;
        *pi = -si * sn;
    }
}

multiversion!(field_terms, field_terms_body, (p: &mut [f64], cos: &mut [f64], s: &[f64], b: &[f64]));

/// [`field_terms_body`] in f32.
#[inline(always)]
fn field_terms32_body(p: &mut [f32], cos: &mut [f32], s: &[f32], b: &[f32]) {
    for (((pi, ci), &si), &bi) in p.iter_mut().zip(cos.iter_mut()).zip(s).zip(b) {
        let (sn, cs) = sin_cos_f32(*pi + bi);
        *ci = si * cs;
        *pi = -si * sn;
    }
}

multiversion!(field_terms32, field_terms32_body, (p: &mut [f32], cos: &mut [f32], s: &[f32], b: &[f32]));

/// [`sum8`] of f32 terms, summed in f64.
#[inline(always)]
fn sum8_f32_body(v: &[f32]) -> f64 {
    sum8(v)
}

multiversion!(sum8_f32, sum8_f32_body, (v: &[f32]) -> f64);

/// sin and cos of every phase (into `sin`, `cos`), vectorised; exact to rounding for
/// |phase| up to about 1.6e6 (`vecmath::sin_cos`).
#[inline(always)]
fn sin_cos_all_body(phase: &[f64], sin: &mut [f64], cos: &mut [f64]) {
    for ((p, s), c) in phase.iter().zip(sin.iter_mut()).zip(cos.iter_mut()) {
        (*s, *c) = sin_cos(*p);
    }
}

multiversion!(sin_cos_all, sin_cos_all_body, (phase: &[f64], sin: &mut [f64], cos: &mut [f64]));

/// The spherical p-spin for a block: grad H = p c Jsym(x, .., x, .) as one GEMM of the
/// monomials of x against the packed couplings (`super::pspin`): only the monomials
/// x_j x_k (j <= k) — or x_j x_k x_l (j <= k <= l) — enter, each coupling multiplied by the
/// number of index orders that give it: N(N+1)/2 (or N(N+1)(N+2)/6) columns instead of N^2
/// (or N^3).
pub struct PSpinBatch<'a> {
    pub p: u32,
    pub n: usize,
    pub c: f64,
    /// The packed couplings, N x T row-major (row i, column t: orders(t) Jsym(i, t)).
    pub jt: &'a [f64],
    /// The couplings in f32 (`Precision::F32`): the products run in f32.
    pub jt32: Option<&'a [f32]>,
}

impl PSpinBatch<'_> {
    fn monomials(&self) -> usize {
        self.jt.len() / self.n
    }
}

/// The monomials of x of degree k (1, 2 or 3) with nondecreasing indices whose first index
/// is in `j0..j1`, in the order of the packed couplings' columns (`super::pspin::Tuples`).
#[inline(always)]
fn monomials_body<T: Copy + std::ops::Mul<Output = T>>(
    x: &[T],
    k: usize,
    j0: usize,
    j1: usize,
    out: &mut [T],
) {
    let n = x.len();
    let mut o = 0;
    match k {
        1 => out[..j1 - j0].copy_from_slice(&x[j0..j1]),
        2 => {
            for j in j0..j1 {
                let (xj, row) = (x[j], &x[j..]);
                for (dst, &xk) in out[o..o + row.len()].iter_mut().zip(row) {
                    *dst = xj * xk;
                }
                o += row.len();
            }
        }
        _ => {
            for j in j0..j1 {
                for k2 in j..n {
                    let (xjk, row) = (x[j] * x[k2], &x[k2..]);
                    for (dst, &xl) in out[o..o + row.len()].iter_mut().zip(row) {
                        *dst = xjk * xl;
                    }
                    o += row.len();
                }
            }
        }
    }
}

multiversion!(monomials, monomials_body, (x: &[f64], k: usize, j0: usize, j1: usize, out: &mut [f64]));
multiversion!(monomials32, monomials_body, (x: &[f32], k: usize, j0: usize, j1: usize, out: &mut [f32]));

/// Monomials held at once for a block (rows x columns): about 8 MB of scratch.
const MONOMIAL_SCRATCH: usize = 1 << 20;

/// How many monomials of degree k have first index j (of n): 1, n - j or C(n - j + 1, 2).
fn monomials_from(n: usize, k: usize, j: usize) -> usize {
    match k {
        1 => 1,
        2 => n - j,
        _ => (n - j) * (n - j + 1) / 2,
    }
}

/// The runs of whole first indices j0..j1 whose monomials (of degree k, of n) fit `budget`
/// columns (one first index at least): (j0, j1, first column, columns).
fn monomial_runs(
    n: usize,
    k: usize,
    budget: usize,
) -> impl Iterator<Item = (usize, usize, usize, usize)> {
    let (mut j0, mut c0) = (0, 0);
    std::iter::from_fn(move || {
        if j0 >= n {
            return None;
        }
        let (mut j1, mut cols) = (j0, 0);
        while j1 < n && (j1 == j0 || cols + monomials_from(n, k, j1) <= budget) {
            cols += monomials_from(n, k, j1);
            j1 += 1;
        }
        let run = (j0, j1, c0, cols);
        (j0, c0) = (j1, c0 + cols);
        Some(run)
    })
}

impl PSpinBatch<'_> {
    /// `grad` with f32 products: the monomials formed from x rounded to f32, the gradient's
    /// sums in f32, f from it in f64.
    fn grad32(
        &self,
        jt32: &[f32],
        x: &[f64],
        rows: usize,
        f: &mut [f64],
        g: &mut [f64],
        scratch: &mut Vec<f64>,
    ) {
        let (n, k) = (self.n, self.p as usize - 1);
        let jt = MatRef::from_row_major_slice(jt32, n, self.monomials());
        let pc = (f64::from(self.p) * self.c) as f32;
        let budget = (MONOMIAL_SCRATCH / rows.max(1)).max(1);
        let most = monomial_runs(n, k, budget).map(|r| r.3).max().unwrap_or(0);
        let (_, s32) = f32_scratch(scratch, 0, 2 * rows * n + rows * most);
        let (x32, rest) = s32.split_at_mut(rows * n);
        let (g32, mono) = rest.split_at_mut(rows * n);
        to_f32(x32, &x[..rows * n]);
        for (j0, j1, c0, cols) in monomial_runs(n, k, budget) {
            for r in 0..rows {
                let xr = &x32[r * n..(r + 1) * n];
                monomials32(xr, k, j0, j1, &mut mono[r * cols..(r + 1) * cols]);
            }
            let acc = if c0 == 0 { Accum::Replace } else { Accum::Add };
            matmul(
                MatMut::from_row_major_slice_mut(g32, rows, n),
                acc,
                MatRef::from_row_major_slice(&mono[..rows * cols], rows, cols),
                jt.subcols(c0, cols).transpose(),
                pc,
                Par::Seq,
            );
        }
        for (gi, g32i) in g[..rows * n].iter_mut().zip(g32.iter()) {
            *gi = f64::from(*g32i);
        }
        self.values(x, rows, f, g);
    }

    /// f = x . grad / p of every row.
    fn values(&self, x: &[f64], rows: usize, f: &mut [f64], g: &[f64]) {
        let n = self.n;
        for r in 0..rows {
            let (xr, gr) = (&x[r * n..(r + 1) * n], &g[r * n..(r + 1) * n]);
            f[r] = xr.iter().zip(gr).map(|(a, b)| a * b).sum::<f64>() / f64::from(self.p);
        }
    }
}

impl BatchGrad for PSpinBatch<'_> {
    fn precision(&self) -> Precision {
        match self.jt32 {
            Some(_) => Precision::F32,
            None => Precision::F64,
        }
    }

    /// The monomial columns go in runs of whole first indices j0..j1, each run's monomials
    /// for all rows of the block at once (at most `MONOMIAL_SCRATCH` floats), multiplied into
    /// the gradient with the run's coupling columns and accumulated: every coupling is read
    /// once per block and step, however large N (at N = 500 the couplings are 500 MB; a run
    /// of rows against all of them at a time would read them once per few rows).
    fn grad(&self, x: &[f64], rows: usize, f: &mut [f64], g: &mut [f64], scratch: &mut Vec<f64>) {
        if let Some(jt32) = self.jt32 {
            return self.grad32(jt32, x, rows, f, g, scratch);
        }
        let (n, k) = (self.n, self.p as usize - 1);
        let jt = MatRef::from_row_major_slice(self.jt, n, self.monomials());
        let pc = f64::from(self.p) * self.c;
        let budget = (MONOMIAL_SCRATCH / rows.max(1)).max(1);
        let g = &mut g[..rows * n];
        for (j0, j1, c0, cols) in monomial_runs(n, k, budget) {
            scratch.resize(rows * cols, 0.0);
            for r in 0..rows {
                let xr = &x[r * n..(r + 1) * n];
                monomials(xr, k, j0, j1, &mut scratch[r * cols..(r + 1) * cols]);
            }
            let acc = if c0 == 0 { Accum::Replace } else { Accum::Add };
            matmul(
                MatMut::from_row_major_slice_mut(g, rows, n),
                acc,
                MatRef::from_row_major_slice(&scratch[..rows * cols], rows, cols),
                jt.subcols(c0, cols).transpose(),
                pc,
                Par::Seq,
            );
        }
        self.values(x, rows, f, g);
    }
}

/// An evaluation of rows whose body is `#[inline(always)]` and generic (over the term), so
/// that [`dispatch_rows`] compiles it for AVX-512 or AVX2 (`multiversion!` takes only plain
/// functions).
trait Rows {
    fn rows(&self, x: &[f64], rows: usize, f: &mut [f64], g: &mut [f64], scratch: &mut Vec<f64>);
}

/// Runs `r.rows` compiled for AVX-512F or AVX2 (with FMA) when the CPU has them, else for the
/// baseline target (as `multiversion!`).
fn dispatch_rows<R: Rows>(
    r: &R,
    x: &[f64],
    rows: usize,
    f: &mut [f64],
    g: &mut [f64],
    scratch: &mut Vec<f64>,
) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,fma")]
        unsafe fn avx512<R: Rows>(
            r: &R,
            x: &[f64],
            rows: usize,
            f: &mut [f64],
            g: &mut [f64],
            scratch: &mut Vec<f64>,
        ) {
            r.rows(x, rows, f, g, scratch)
        }
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2<R: Rows>(
            r: &R,
            x: &[f64],
            rows: usize,
            f: &mut [f64],
            g: &mut [f64],
            scratch: &mut Vec<f64>,
        ) {
            r.rows(x, rows, f, g, scratch)
        }
        let fma = std::arch::is_x86_feature_detected!("fma");
        if fma && std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F and FMA (checked just above).
            return unsafe { avx512(r, x, rows, f, g, scratch) };
        }
        if fma && std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            return unsafe { avx2(r, x, rows, f, g, scratch) };
        }
    }
    r.rows(x, rows, f, g, scratch)
}

/// A separable objective f = sum_i t(x_i): `term` gives (t, t') of one coordinate.
pub struct SeparableBatch<T: Fn(f64) -> (f64, f64)> {
    pub n: usize,
    pub term: T,
}

impl<T: Fn(f64) -> (f64, f64) + Send + Sync> BatchGrad for SeparableBatch<T> {
    fn grad(&self, x: &[f64], rows: usize, f: &mut [f64], g: &mut [f64], scratch: &mut Vec<f64>) {
        dispatch_rows(self, x, rows, f, g, scratch)
    }
    fn rowwise(&self) -> bool {
        true
    }
}

impl<T: Fn(f64) -> (f64, f64)> Rows for SeparableBatch<T> {
    #[inline(always)]
    fn rows(&self, x: &[f64], rows: usize, f: &mut [f64], g: &mut [f64], _: &mut Vec<f64>) {
        separable(self, x, rows, f, g)
    }
}

/// The separable rows: one loop of terms and derivatives (no loop-carried dependence, so it
/// vectorises), then each row's sum with eight accumulators. (Generic over the term, so
/// compiled per CPU through [`dispatch_rows`] rather than `multiversion!`.)
#[inline(always)]
fn separable<T: Fn(f64) -> (f64, f64)>(
    b: &SeparableBatch<T>,
    x: &[f64],
    rows: usize,
    f: &mut [f64],
    g: &mut [f64],
) {
    let n = b.n;
    let body = n / 8 * 8;
    for r in 0..rows {
        let (xr, gr) = (&x[r * n..(r + 1) * n], &mut g[r * n..(r + 1) * n]);
        // The terms summed as `sum8` sums them (lane i mod 8, then the remainder in order),
        // without writing them out first.
        let mut acc = [0.0f64; 8];
        for (gc, xc) in gr[..body]
            .chunks_exact_mut(8)
            .zip(xr[..body].chunks_exact(8))
        {
            for l in 0..8 {
                let (t, d) = (b.term)(xc[l]);
                acc[l] += t;
                gc[l] = d;
            }
        }
        let mut rest = 0.0;
        for (gi, &xi) in gr[body..].iter_mut().zip(&xr[body..]) {
            let (t, d) = (b.term)(xi);
            rest += t;
            *gi = d;
        }
        f[r] = ((acc[0] + acc[4]) + (acc[1] + acc[5]))
            + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
            + rest;
    }
}

/// A sum in f64 with eight independent accumulators (vectorises; the order differs from a
/// plain sum by rounding only), of f64 terms or of f32 terms widened.
#[inline(always)]
pub fn sum8<T: Copy + Into<f64>>(v: &[T]) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = v.chunks_exact(8);
    let rest: f64 = chunks.remainder().iter().map(|&t| t.into()).sum();
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += x.into();
        }
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + rest
}

/// A separable objective in f32 (`Precision::F32`) whose term is periodic in x with period 1
/// plus a smooth part: `term(x, u)` gives (t, t') from x rounded to f32 and u = x − round(x),
/// the fraction reduced in f64 (exact) before it is rounded to f32. f is summed in f64 from the
/// f32 terms, t' widened to f64. Sixteen lanes per AVX-512 vector where [`SeparableBatch`] has
/// eight.
///
/// Why u: near a minimum the periodic part's curvature is large (rastrigin's 40π² ≈ 395), and
/// x rounded to f32 (|x| ≈ 3: an error of 1.2e-7) moved its derivative by 5e-5 per
/// coordinate, a floor of about 4e-4 under |∇f| at N = 64: no walker reached the default
/// tolerance of 1e-4. u is small near a minimum and keeps its f32 rounding relative, so the
/// floor falls to the smooth part's (2x in f32: a few 1e-7 per coordinate).
pub struct SeparableBatch32<T: Fn(f32, f32) -> (f32, f32)> {
    pub n: usize,
    pub term: T,
}

impl<T: Fn(f32, f32) -> (f32, f32) + Send + Sync> BatchGrad for SeparableBatch32<T> {
    fn grad(&self, x: &[f64], rows: usize, f: &mut [f64], g: &mut [f64], scratch: &mut Vec<f64>) {
        dispatch_rows(self, x, rows, f, g, scratch)
    }
    fn rowwise(&self) -> bool {
        true
    }
    fn precision(&self) -> Precision {
        Precision::F32
    }
}

impl<T: Fn(f32, f32) -> (f32, f32)> Rows for SeparableBatch32<T> {
    #[inline(always)]
    fn rows(&self, x: &[f64], rows: usize, f: &mut [f64], g: &mut [f64], scratch: &mut Vec<f64>) {
        separable32(self, x, rows, f, g, scratch)
    }
}

/// [`separable`] in f32, each row in three loops that stay in f32 or convert whole vectors
/// (a conversion per lane inside the term loop made the compiler split it into 8-lane halves):
/// x and its fraction u (in f64) rounded to f32; the terms, each lane summing 16 of them in f32
/// before adding them to its f64 sum (so f's rounding does not grow with N), the derivatives
/// into f32; the derivatives widened into g.
#[inline(always)]
fn separable32<T: Fn(f32, f32) -> (f32, f32)>(
    b: &SeparableBatch32<T>,
    x: &[f64],
    rows: usize,
    f: &mut [f64],
    g: &mut [f64],
    scratch: &mut Vec<f64>,
) {
    const L: usize = 16;
    const RUN: usize = 16 * L;
    let n = b.n;
    let (_, buf) = f32_scratch(scratch, 0, 3 * n);
    let (x32, rest) = buf.split_at_mut(n);
    let (u32, d32) = rest.split_at_mut(n);
    for r in 0..rows {
        let (xr, gr) = (&x[r * n..(r + 1) * n], &mut g[r * n..(r + 1) * n]);
        for ((x32i, u32i), &xi) in x32.iter_mut().zip(u32.iter_mut()).zip(xr) {
            *x32i = xi as f32;
            *u32i = (xi - round_fast(xi)) as f32;
        }
        let mut acc = [0.0f64; L];
        let body = n / L * L;
        for ((xs, us), ds) in x32[..body]
            .chunks(RUN)
            .zip(u32[..body].chunks(RUN))
            .zip(d32[..body].chunks_mut(RUN))
        {
            let mut lanes = [0.0f32; L];
            for ((xc, uc), dc) in xs
                .chunks_exact(L)
                .zip(us.chunks_exact(L))
                .zip(ds.chunks_exact_mut(L))
            {
                for l in 0..L {
                    let (t, d) = (b.term)(xc[l], uc[l]);
                    lanes[l] += t;
                    dc[l] = d;
                }
            }
            for (a, t) in acc.iter_mut().zip(lanes) {
                *a += f64::from(t);
            }
        }
        let mut rest = 0.0;
        for ((di, &xi), &ui) in d32[body..].iter_mut().zip(&x32[body..]).zip(&u32[body..]) {
            let (t, d) = (b.term)(xi, ui);
            rest += f64::from(t);
            *di = d;
        }
        for (gi, di) in gr.iter_mut().zip(d32.iter()) {
            *gi = f64::from(*di);
        }
        let half: [f64; 8] = std::array::from_fn(|l| acc[l] + acc[l + 8]);
        f[r] = ((half[0] + half[4]) + (half[1] + half[5]))
            + ((half[2] + half[6]) + (half[3] + half[7]))
            + rest;
    }
}

/// Rastrigin's term with the vectorising sin and cos of 2πx, reduced exactly in turns.
#[inline(always)]
pub fn rastrigin_term(x: f64) -> (f64, f64) {
    let (s, c) = sin_cos_turns(x);
    (
        10.0 + x * x - 10.0 * c,
        2.0 * x + 20.0 * std::f64::consts::PI * s,
    )
}

/// [`rastrigin_term`] in f32: x rounded to f32 and u = x − round(x) reduced in f64
/// ([`SeparableBatch32`]); sin and cos of 2πx are those of 2πu.
#[inline(always)]
pub fn rastrigin_term32(x: f32, u: f32) -> (f32, f32) {
    let (s, c) = sin_cos_turns_f32(u);
    (
        10.0 + x * x - 10.0 * c,
        2.0 * x + 20.0 * std::f32::consts::PI * s,
    )
}
