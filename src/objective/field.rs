//! A smooth Gaussian random field in a quadratic bowl, by random Fourier features:
//! f(x) = mu/2 |x|^2 + sqrt(2/M) sum_m a_m cos(w_m . x + b_m),
//! a_m ~ N(0, 1), w_m ~ N(0, I / l^2), b_m ~ U(0, 2 pi). As M grows the random part tends to a
//! stationary Gaussian field with unit variance and squared-exponential covariance
//! exp(-|x - y|^2 / (2 l^2)).

use std::f64::consts::TAU;

use nalgebra::DMatrix;

use super::{wgsl_f32, Domain, Entry, Objective, Wgsl, MAX_PARAMS, SEED};
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
}

impl Field {
    /// Draws the features from `Sampler::new(seed, 0, Stream::Landscape)` in this order: the M
    /// amplitudes a_m, then the M x N frequencies w_{m,i} row-major (normals divided by l),
    /// then the M phases b_m.
    fn new(v: &Values) -> Result<Self, SpecError> {
        let (n, m) = (v.usize("n"), v.usize("features"));
        let floats = m * (n + 2);
        if floats > MAX_PARAMS {
            return Err(SpecError::Invalid(format!(
                "'field': features x (n + 2) = {m} x {} = {floats} parameter floats exceeds \
                 2^25 = {MAX_PARAMS} (128 MiB); lower features or n",
                n + 2
            )));
        }
        let length = v.get("length");
        let mut s = Sampler::new(v.get("seed") as u64, 0, Stream::Landscape);
        let a = (0..m).map(|_| s.normal()).collect();
        let w = (0..m * n).map(|_| s.normal() / length).collect();
        let b = (0..m).map(|_| TAU * s.uniform()).collect();
        Ok(Field {
            spec: v.canonical(TABLE),
            n,
            m,
            length,
            mu: v.get("mu"),
            a,
            w,
            b,
        })
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
        let wave: f64 = (0..self.m)
            .map(|m| self.a[m] * self.phase(m, x).cos())
            .sum();
        0.5 * self.mu * dot(x, x) + self.scale() * wave
    }
    fn gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
        let mut wave = 0.0;
        for (gi, xi) in g.iter_mut().zip(x) {
            *gi = self.mu * xi;
        }
        for m in 0..self.m {
            let (s, c) = self.phase(m, x).sin_cos();
            wave += self.a[m] * c;
            let t = -self.scale() * self.a[m] * s;
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
        for m in 0..self.m {
            let t = -self.scale() * self.a[m] * self.phase(m, x).cos();
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
        for m in 0..self.m {
            let wm = self.wm(m);
            let t = -self.scale() * self.a[m] * self.phase(m, x).cos() * dot(wm, v);
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
    fn wgsl(&self) -> Wgsl {
        Wgsl {
            consts: format!(
                "const FIELD_M: u32 = {}u;\nconst FIELD_STRIDE: u32 = {}u;\nconst FIELD_MU: f32 = {};\n",
                self.m,
                self.n + 2,
                wgsl_f32(self.mu)
            ),
            body: include_str!("../../shaders/objectives/field.wgsl"),
        }
    }
    /// Feature-major: record m is [w_{m,0}, .., w_{m,N-1}, sqrt(2/M) a_m, b_m] (stride N + 2),
    /// so the walkers of a workgroup, all looping over m in step, read the same addresses.
    /// Keep in sync with shaders/objectives/field.wgsl.
    fn params(&self) -> Vec<f32> {
        let mut p = Vec::with_capacity(self.m * (self.n + 2));
        for m in 0..self.m {
            p.extend(self.wm(m).iter().map(|&v| v as f32));
            p.push((self.scale() * self.a[m]) as f32);
            p.push(self.b[m] as f32);
        }
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
