//! A smooth Gaussian random field in a quadratic bowl, by random Fourier features:
//! f(x) = mu/2 |x|^2 + sqrt(2/M) sum_m a_m cos(w_m . x + b_m),
//! a_m ~ N(0, 1), w_m ~ N(0, I / l^2), b_m ~ U(0, 2 pi). As M grows the random part tends to a
//! stationary Gaussian field with unit variance and squared-exponential covariance
//! exp(-|x - y|^2 / (2 l^2)).

use std::f64::consts::TAU;

use nalgebra::DMatrix;

use super::batch::Precision;
use super::rounding::{gamma, norm, TRIG_ABS, U};
use super::{Const, Domain, Entry, F32Error, Objective, Pass, Passes, Wgsl, SEED};

/// The most frequencies (features x n) a field may hold on the host: 2^30 (8 GiB in f64). A
/// GPU holds 2 x features x (n + 1) f32 in one buffer (the frequencies as rows and as columns)
/// and refuses a field beyond its binding limit (`saddlescope devices`; llvmpipe: 128 MiB,
/// features x (n + 1) <= 2^24).
pub(crate) const MAX_FEATURE_FLOATS: usize = 1 << 30;
use crate::rng::{Sampler, Stream};
use crate::spec::{Param, Range, SpecError, Values};

const TABLE: &[Param] = &[
    Param::new("n", 8.0, Range::Int(1, 4096), "dimension N"),
    Param::new(
        "features",
        256.0,
        Range::Int(1, 1 << 20),
        "number M of random Fourier features",
    ),
    Param::new("length", 1.0, Range::Positive, "correlation length l"),
    Param::new(
        "mu",
        0.1,
        Range::NonNegative,
        "curvature of the confining bowl mu/2 |x|^2",
    ),
    SEED,
];

pub fn entry() -> Entry {
    Entry {
        name: "field",
        summary: "Gaussian random field (random Fourier features) in a bowl mu/2 |x|^2",
        params: TABLE,
        build: |v: &Values| Ok(Box::new(Field::new(v)?) as Box<dyn Objective>),
    }
}

/// The random field with its features, drawn on the host from the seed.
pub struct Field {
    spec: String,
    n: usize,
    m: usize,
    length: f64,
    mu: f64,
    /// a_m, M values.
    pub(crate) a: Vec<f64>,
    /// w_m, M x N row-major.
    pub(crate) w: Vec<f64>,
    /// b_m, M values.
    pub(crate) b: Vec<f64>,
    /// w in f32, made on the first walk that asks for it (`Precision::F32`).
    w32: std::sync::OnceLock<Vec<f32>>,
}

impl Field {
    /// Draws the features from `Sampler::new(seed, 0, Stream::Landscape)` in this order: the M
    /// amplitudes a_m, then the M x N frequencies w_{m,i} row-major (normals divided by l),
    /// then the M phases b_m.
    fn new(v: &Values) -> Result<Self, SpecError> {
        let (n, m) = (v.usize("n")?, v.usize("features")?);
        if n.saturating_mul(m) > MAX_FEATURE_FLOATS {
            return Err(SpecError::TooLarge {
                what: format!("'field' with features={m}, n={n}"),
                need: format!("features x n = {} frequency floats", n * m),
                limit: format!("2^30 = {MAX_FEATURE_FLOATS} (8 GiB in f64)"),
                valid: "lower features or n".into(),
            });
        }
        super::check_landscape_memory(
            &format!("'field' with features={m}, n={n}"),
            (m * (n + 2)) as u64,
            Field::floats(n, m) as u64,
            "lower features or n",
        )?;
        let length = v.get("length")?;
        let mut s = Sampler::new(v.get("seed")? as u64, 0, Stream::Landscape);
        let a = (0..m).map(|_| s.normal()).collect();
        let w: Vec<f64> = (0..m * n).map(|_| s.normal() / length).collect();
        let b = (0..m).map(|_| TAU * s.uniform()).collect();
        if w.iter().any(|v| !v.is_finite()) {
            return Err(SpecError::Invalid(format!(
                "'field': length={length:e} makes the frequencies w = z/length overflow to \
                 infinity; valid: length >= 1e-300 (and >= 1e-37 for the GPU, which holds them \
                 in f32)"
            )));
        }
        Ok(Field {
            spec: v.canonical(TABLE),
            n,
            m,
            length,
            mu: v.get("mu")?,
            a,
            w,
            b,
            w32: Default::default(),
        })
    }

    /// Parameter floats of the GPU layout: W, W^T, s and b.
    fn floats(n: usize, m: usize) -> usize {
        2 * m * (n + 1)
    }

    /// sqrt(2 / M), the amplitude scale that gives the field unit variance.
    fn scale(&self) -> f64 {
        (2.0 / self.m as f64).sqrt()
    }

    /// Frequency vector w_m.
    fn wm(&self, m: usize) -> &[f64] {
        &self.w[m * self.n..(m + 1) * self.n]
    }

    /// Phase w_m . x + b_m.
    fn phase(&self, m: usize, x: &[f64]) -> f64 {
        self.b[m] + dot(self.wm(m), x)
    }
}

impl Field {
    /// sin and cos of every feature's phase at x: vectorised while every phase is within the
    /// range where the vectorised reduction is exact (|phase| < 1e6), the standard library
    /// beyond (walkers far out).
    fn trig(&self, x: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let phase: Vec<f64> = (0..self.m).map(|m| self.phase(m, x)).collect();
        let (mut sin, mut cos) = (vec![0.0; self.m], vec![0.0; self.m]);
        if phase.iter().all(|p| p.abs() < 1e6) {
            super::batch::sin_cos_all(&phase, &mut sin, &mut cos);
        } else {
            for ((p, s), c) in phase.iter().zip(&mut sin).zip(&mut cos) {
                (*s, *c) = p.sin_cos();
            }
        }
        (sin, cos)
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(p, q)| p * q).sum()
}

impl Objective for Field {
    fn spec(&self) -> String {
        self.spec.clone()
    }
    fn dim(&self) -> usize {
        self.n
    }
    fn value(&self, x: &[f64]) -> f64 {
        let (_, cos) = self.trig(x);
        let wave: f64 = (0..self.m).map(|m| self.a[m] * cos[m]).sum();
        0.5 * self.mu * dot(x, x) + self.scale() * wave
    }
    fn gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
        let mut wave = 0.0;
        for (gi, xi) in g.iter_mut().zip(x) {
            *gi = self.mu * xi;
        }
        let (sin, cos) = self.trig(x);
        for m in 0..self.m {
            wave += self.a[m] * cos[m];
            let t = -self.scale() * self.a[m] * sin[m];
            for (gi, wi) in g.iter_mut().zip(self.wm(m)) {
                *gi += t * wi;
            }
        }
        0.5 * self.mu * dot(x, x) + self.scale() * wave
    }
    /// mu I - sqrt(2/M) sum_m a_m cos(phase_m) w_m w_m^T.
    fn hessian(&self, x: &[f64]) -> DMatrix<f64> {
        let n = self.n;
        let mut h = DMatrix::from_diagonal_element(n, n, self.mu);
        let (_, cos) = self.trig(x);
        for (m, cm) in cos.iter().enumerate() {
            let t = -self.scale() * self.a[m] * cm;
            let wm = self.wm(m);
            for j in 0..n {
                for i in 0..n {
                    h[(i, j)] += t * wm[i] * wm[j];
                }
            }
        }
        h
    }
    fn hvp(&self, x: &[f64], v: &[f64], out: &mut [f64]) {
        for (o, vi) in out.iter_mut().zip(v) {
            *o = self.mu * vi;
        }
        let (_, cos) = self.trig(x);
        for (m, cm) in cos.iter().enumerate() {
            let wm = self.wm(m);
            let t = -self.scale() * self.a[m] * cm * dot(wm, v);
            for (o, wi) in out.iter_mut().zip(wm) {
                *o += t * wi;
            }
        }
    }
    /// The box [-3l, 3l]^N: a few correlation lengths in every coordinate, where the field's
    /// bumps (not the bowl) shape the landscape for the default mu = 0.1.
    fn domain(&self) -> Domain {
        Domain::Box {
            lo: -3.0 * self.length,
            hi: 3.0 * self.length,
        }
    }
    /// Each term's phase carries γ(N + 2)·(|b| + Σ|w_i x_i|) and its reduction to [−π, π]
    /// u·|phase|; cos and sin add 2^-11; the sums over M features γ(M + 2).
    fn f32_error(&self, x: &[f64]) -> F32Error {
        let (n, m) = (self.n, self.m);
        let k_phase = gamma(n as f64 + 2.0);
        let k_sum = gamma(m as f64 + 2.0);
        let mut f = k_phase * 0.5 * self.mu * dot(x, x);
        let mut g: Vec<f64> = x.iter().map(|xi| k_sum * self.mu * xi.abs()).collect();
        for j in 0..m {
            let wm = self.wm(j);
            let ph = self.phase(j, x);
            let mag = self.b[j].abs() + wm.iter().zip(x).map(|(a, b)| (a * b).abs()).sum::<f64>();
            let dph = k_phase * mag + U * ph.abs();
            let s = (self.scale() * self.a[j]).abs();
            f += s * (ph.sin().abs() * dph + TRIG_ABS + k_sum);
            let t = s * (ph.cos().abs() * dph + TRIG_ABS + k_sum);
            for (gi, wi) in g.iter_mut().zip(wm) {
                *gi += t * wi.abs();
            }
        }
        F32Error { f, grad: norm(g) }
    }
    fn batch(&self, precision: Precision) -> Option<Box<dyn super::batch::BatchGrad + '_>> {
        let w32 = (precision == Precision::F32).then(|| {
            self.w32
                .get_or_init(|| self.w.iter().map(|&v| v as f32).collect())
        });
        Some(Box::new(super::batch::FieldBatch::new(
            self.mu,
            &self.w,
            w32.map(|v| &v[..]),
            self.a.iter().map(|a| self.scale() * a).collect(),
            self.b.clone(),
        )))
    }
    /// Three passes for f and the gradient: the phases of every feature (rows M), then the
    /// output's N components, then f. See shaders/objectives/field.wgsl.
    fn wgsl(&self) -> Wgsl {
        let (n, m) = (self.n, self.m);
        Wgsl {
            consts: vec![
                Const::U32("FIELD_M", m as u32),
                Const::F32("FIELD_MU", self.mu),
                Const::U32("FIELD_T", (m * n) as u32),
                Const::U32("FIELD_S", (2 * m * n) as u32),
                Const::U32("FIELD_B", (2 * m * n + m) as u32),
            ],
            body: std::borrow::Cow::Borrowed(include_str!("../../shaders/objectives/field.wgsl")),
            passes: Some(Passes {
                grad: vec![
                    Pass::tiled("field_phase", m, n, 0),
                    Pass::tiled("field_apply_x", n, m, m * n),
                    Pass::rows("field_f", 1),
                ],
                value: vec![
                    Pass::tiled("field_phase", m, n, 0),
                    Pass::rows("field_f", 1),
                ],
                hvp: vec![
                    Pass::tiled("field_phase", m, n, 0),
                    Pass::tiled("field_vdot", m, n, 0),
                    Pass::tiled("field_apply_v", n, m, m * n),
                ],
                scratch: 2 * m,
                minibatch: None,
            }),
        }
    }
    /// W (M x N, row m = w_m), W^T (N x M), s_m = sqrt(2/M) a_m, b_m: rows for the phases,
    /// columns for the output sums, so the walkers of a workgroup read the same addresses.
    /// Keep in sync with shaders/objectives/field.wgsl.
    fn params(&self) -> Vec<f64> {
        let (n, m) = (self.n, self.m);
        let mut p = Vec::with_capacity(Self::floats(n, m));
        p.extend_from_slice(&self.w);
        for i in 0..n {
            p.extend((0..m).map(|j| self.w[j * n + i]));
        }
        p.extend((0..m).map(|j| self.scale() * self.a[j]));
        p.extend_from_slice(&self.b);
        p
    }
}

#[cfg(test)]
impl Field {
    /// The concrete field for a spec (tests read its features).
    pub(crate) fn from_spec(text: &str) -> Field {
        let raw = crate::spec::RawSpec::parse(text).expect("a spec");
        Field::new(&crate::spec::resolve(&raw, TABLE).expect("valid values")).expect("a field")
    }
}
