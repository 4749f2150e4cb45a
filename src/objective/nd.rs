//! Classic N-dimensional test functions: the separable wells (flat-well, double-well,
//! rastrigin, styblinski-tang), ackley and rosenbrock.

use std::f64::consts::{E, PI, TAU};

use nalgebra::DMatrix;

use super::batch::Precision;
use super::rounding::{exp_rel, gamma, norm, TRIG_ABS};
use super::{Domain, Entry, F32Error, Objective, Wgsl};
use crate::spec::{Param, Range, SpecError, Values};

/// The largest dimension the N-D objectives accept.
pub const MAX_N: i64 = 1 << 16;

const N_ANY: &[Param] = &[Param::new("n", 2.0, Range::Int(1, MAX_N), "dimension N")];
const N_TWO: &[Param] = &[Param::new(
    "n",
    2.0,
    Range::Int(2, MAX_N),
    "dimension N (>= 2)",
)];

type Build = fn(&Values) -> Result<Box<dyn Objective>, SpecError>;

pub fn entries() -> Vec<Entry> {
    fn sep(name: &'static str, summary: &'static str, build: Build) -> Entry {
        Entry {
            name,
            summary,
            params: N_ANY,
            build,
        }
    }
    vec![
        sep(
            "flat-well",
            "sum max(|x_i|-1, 0)^2: a flat-bottomed well, the cube [-1,1]^N is a plateau of minima",
            |v| Separable::boxed(Term::FlatWell, v),
        ),
        sep(
            "double-well",
            "sum (x_i^2-1)^2: 2^N minima at x_i = +-1, saddles of every index",
            |v| Separable::boxed(Term::DoubleWell, v),
        ),
        sep(
            "rastrigin",
            "10N + sum (x_i^2 - 10 cos(2 pi x_i)): a lattice of local minima, global at 0",
            |v| Separable::boxed(Term::Rastrigin, v),
        ),
        sep(
            "styblinski-tang",
            "sum (x_i^4 - 16x_i^2 + 5x_i)/2: 2^N minima, global at x_i = -2.9035",
            |v| Separable::boxed(Term::StyblinskiTang, v),
        ),
        Entry {
            name: "ackley",
            summary: "Ackley (a=20, b=0.2, c=2 pi): rippled funnel, global minimum 0 at the origin",
            params: N_ANY,
            build: |v: &Values| Ok(Box::new(Ackley::new(v)?) as Box<dyn Objective>),
        },
        Entry {
            name: "rosenbrock",
            summary:
                "sum 100(x_{i+1}-x_i^2)^2 + (1-x_i)^2: curved valley, global minimum at (1,..,1)",
            params: N_TWO,
            build: |v: &Values| Ok(Box::new(Rosenbrock::new(v)?) as Box<dyn Objective>),
        },
    ]
}

/// The one-coordinate term t(x) of a separable objective f = sum_i t(x_i).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Term {
    FlatWell,
    DoubleWell,
    Rastrigin,
    StyblinskiTang,
}

impl Term {
    /// (t(x), t'(x), t''(x)); keep in sync with `sep_term` in the term's WGSL file.
    fn eval(self, x: f64) -> (f64, f64, f64) {
        match self {
            Term::FlatWell => {
                let m = (x.abs() - 1.0).max(0.0);
                let d2 = if m > 0.0 { 2.0 } else { 0.0 };
                (m * m, 2.0 * m * x.signum(), d2)
            }
            Term::DoubleWell => {
                let s = x * x - 1.0;
                (s * s, 4.0 * x * s, 12.0 * x * x - 4.0)
            }
            Term::Rastrigin => {
                let (s, c) = (TAU * x).sin_cos();
                (
                    10.0 + x * x - 10.0 * c,
                    2.0 * x + 20.0 * PI * s,
                    2.0 + 40.0 * PI * PI * c,
                )
            }
            Term::StyblinskiTang => {
                let x2 = x * x;
                (
                    0.5 * (x2 * x2 - 16.0 * x2 + 5.0 * x),
                    2.0 * x2 * x - 16.0 * x + 2.5,
                    6.0 * x2 - 16.0,
                )
            }
        }
    }

    /// Bounds on the f32 error of (t, t') at x: γ times the magnitude of their terms, plus the
    /// sin/cos accuracy for rastrigin (the WGSL reduces 2πx to [−π, π] exactly first).
    fn f32_error(self, x: f64) -> (f64, f64) {
        let a = x.abs();
        let k = gamma(6.0);
        match self {
            Term::FlatWell => {
                let m = (a - 1.0).max(0.0);
                let d = if m > 0.0 { 2.0 * (m + a) } else { 0.0 };
                (k * (m * m + 2.0 * m * a), k * d)
            }
            Term::DoubleWell => {
                let s = (x * x - 1.0).abs();
                (
                    k * (s * s + 2.0 * s * (a * a + 1.0)),
                    k * 4.0 * a * (s + a * a + 1.0),
                )
            }
            Term::Rastrigin => (
                k * (20.0 + a * a) + 10.0 * TRIG_ABS,
                k * (2.0 * a + 20.0 * PI) + 20.0 * PI * TRIG_ABS,
            ),
            Term::StyblinskiTang => (
                k * 0.5 * (a.powi(4) + 16.0 * a * a + 5.0 * a),
                k * (2.0 * a.powi(3) + 16.0 * a + 2.5),
            ),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Term::FlatWell => "flat-well",
            Term::DoubleWell => "double-well",
            Term::Rastrigin => "rastrigin",
            Term::StyblinskiTang => "styblinski-tang",
        }
    }

    fn domain(self) -> Domain {
        match self {
            Term::FlatWell | Term::DoubleWell => Domain::Box { lo: -2.0, hi: 2.0 },
            Term::Rastrigin => Domain::Box {
                lo: -5.12,
                hi: 5.12,
            },
            Term::StyblinskiTang => Domain::Box { lo: -5.0, hi: 5.0 },
        }
    }

    /// The WGSL `sep_term` followed by the shared separable driver.
    fn wgsl(self) -> &'static str {
        match self {
            Term::FlatWell => concat!(
                include_str!("../../shaders/objectives/flat_well.wgsl"),
                include_str!("../../shaders/objectives/separable.wgsl")
            ),
            Term::DoubleWell => concat!(
                include_str!("../../shaders/objectives/double_well.wgsl"),
                include_str!("../../shaders/objectives/separable.wgsl")
            ),
            Term::Rastrigin => concat!(
                include_str!("../../shaders/objectives/rastrigin.wgsl"),
                include_str!("../../shaders/objectives/separable.wgsl")
            ),
            Term::StyblinskiTang => concat!(
                include_str!("../../shaders/objectives/styblinski_tang.wgsl"),
                include_str!("../../shaders/objectives/separable.wgsl")
            ),
        }
    }
}

/// f(x) = sum_i t(x_i): diagonal Hessian.
pub struct Separable {
    term: Term,
    n: usize,
}

impl Separable {
    fn boxed(term: Term, v: &Values) -> Result<Box<dyn Objective>, SpecError> {
        Ok(Box::new(Separable {
            term,
            n: v.usize("n")?,
        }))
    }
}

impl Objective for Separable {
    fn spec(&self) -> String {
        format!("{}:n={}", self.term.name(), self.n)
    }
    fn dim(&self) -> usize {
        self.n
    }
    fn value(&self, x: &[f64]) -> f64 {
        x.iter().map(|&xi| self.term.eval(xi).0).sum()
    }
    fn gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
        let mut f = 0.0;
        for (gi, &xi) in g.iter_mut().zip(x) {
            let (t, d1, _) = self.term.eval(xi);
            f += t;
            *gi = d1;
        }
        f
    }
    fn hessian(&self, x: &[f64]) -> DMatrix<f64> {
        DMatrix::from_diagonal(&nalgebra::DVector::from_iterator(
            self.n,
            x.iter().map(|&xi| self.term.eval(xi).2),
        ))
    }
    fn hvp(&self, x: &[f64], v: &[f64], out: &mut [f64]) {
        for ((o, &xi), &vi) in out.iter_mut().zip(x).zip(v) {
            *o = self.term.eval(xi).2 * vi;
        }
    }
    fn domain(&self) -> Domain {
        self.term.domain()
    }
    /// Rastrigin has an f32 form (its cost is the sin/cos of every coordinate); the other
    /// terms are a few multiplications, which f32 would not make faster than the walk's own
    /// per-coordinate work, and walk in f64 whatever the precision asked.
    fn batch(&self, precision: Precision) -> Option<Box<dyn super::batch::BatchGrad + '_>> {
        use super::batch::{rastrigin_term, rastrigin_term32, SeparableBatch, SeparableBatch32};
        let n = self.n;
        Some(match self.term {
            Term::Rastrigin if precision == Precision::F32 => Box::new(SeparableBatch32 {
                n,
                term: rastrigin_term32,
            }),
            Term::Rastrigin => Box::new(SeparableBatch {
                n,
                term: rastrigin_term,
            }),
            term => Box::new(SeparableBatch {
                n,
                term: move |x: f64| {
                    let (t, d, _) = term.eval(x);
                    (t, d)
                },
            }),
        })
    }
    /// The terms' own errors, and the N-term sum of f: γ(N) times Σ|t|.
    fn f32_error(&self, x: &[f64]) -> F32Error {
        let (mut f, mut sum) = (0.0, 0.0);
        let mut g = Vec::with_capacity(x.len());
        for &xi in x {
            let (ef, eg) = self.term.f32_error(xi);
            f += ef;
            sum += self.term.eval(xi).0.abs();
            g.push(eg);
        }
        F32Error {
            f: f + gamma(x.len() as f64) * sum,
            grad: norm(g),
        }
    }
    fn wgsl(&self) -> Wgsl {
        Wgsl::per_walker(self.term.wgsl())
    }
    /// flat-well is exactly flat (f = 0, zero gradient and Hessian) on the cube [-1, 1]^N; its
    /// centre, the origin, lies at distance 1 from every face.
    fn plateau(&self) -> Option<Vec<f64>> {
        (self.term == Term::FlatWell).then(|| vec![0.0; self.n])
    }
}

/// Ackley's function with the standard a = 20, b = 0.2, c = 2 pi:
/// f = -a exp(-b r) - exp(sum cos(c x_i) / N) + a + e, r = |x| / sqrt(N).
///
/// The first term is a cone at the origin: its gradient a b e^{-br} u / sqrt(N) (u = x/|x|)
/// has no limit at x = 0, and its Hessian a b e^{-br}/(N r) (I - (1 + b r) u u^T) grows like
/// 1/r. At x = 0 exactly the gradient is taken as 0 (a subgradient) and, in the Hessian, r is
/// floored at `R_FLOOR`, so the cusp of the global minimum reads as a (very stiff) minimum
/// instead of NaN.
pub struct Ackley {
    n: usize,
}

const ACKLEY_A: f64 = 20.0;
const ACKLEY_B: f64 = 0.2;
const ACKLEY_C: f64 = TAU;
/// Floor on r in the Ackley Hessian; keep in sync with ACKLEY_R_FLOOR in ackley.wgsl.
const R_FLOOR: f64 = 1e-12;

/// The sums Ackley's value and derivatives are made of.
struct AckleySums {
    /// |x|
    norm: f64,
    /// exp(-b r)
    e1: f64,
    /// exp(sum cos(c x_i) / N)
    e2: f64,
}

impl Ackley {
    fn new(v: &Values) -> Result<Self, SpecError> {
        Ok(Ackley { n: v.usize("n")? })
    }
    fn sums(&self, x: &[f64]) -> AckleySums {
        let nf = self.n as f64;
        let norm = x.iter().map(|v| v * v).sum::<f64>().sqrt();
        let cos_sum: f64 = x.iter().map(|v| (ACKLEY_C * v).cos()).sum();
        AckleySums {
            norm,
            e1: (-ACKLEY_B * norm / nf.sqrt()).exp(),
            e2: (cos_sum / nf).exp(),
        }
    }
    fn value_from(s: &AckleySums) -> f64 {
        -ACKLEY_A * s.e1 - s.e2 + ACKLEY_A + E
    }
    /// The unit vector x/|x| (zero at the origin).
    fn unit(norm: f64, xi: f64) -> f64 {
        if norm > 0.0 {
            xi / norm
        } else {
            0.0
        }
    }
}

impl Objective for Ackley {
    fn spec(&self) -> String {
        format!("ackley:n={}", self.n)
    }
    fn dim(&self) -> usize {
        self.n
    }
    fn value(&self, x: &[f64]) -> f64 {
        Self::value_from(&self.sums(x))
    }
    fn gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
        let nf = self.n as f64;
        let s = self.sums(x);
        let k1 = ACKLEY_A * ACKLEY_B * s.e1 / nf.sqrt();
        let k2 = ACKLEY_C * s.e2 / nf;
        for (gi, &xi) in g.iter_mut().zip(x) {
            *gi = k1 * Self::unit(s.norm, xi) + k2 * (ACKLEY_C * xi).sin();
        }
        Self::value_from(&s)
    }
    fn hessian(&self, x: &[f64]) -> DMatrix<f64> {
        let n = self.n;
        let nf = n as f64;
        let s = self.sums(x);
        let r = s.norm / nf.sqrt();
        let alpha = ACKLEY_A * ACKLEY_B * s.e1 / (nf * r.max(R_FLOOR));
        let radial = alpha * (1.0 + ACKLEY_B * r);
        let k2 = ACKLEY_C * ACKLEY_C * s.e2 / nf;
        let u: Vec<f64> = x.iter().map(|&xi| Self::unit(s.norm, xi)).collect();
        let (sn, cs): (Vec<f64>, Vec<f64>) = x.iter().map(|&xi| (ACKLEY_C * xi).sin_cos()).unzip();
        DMatrix::from_fn(n, n, |i, j| {
            let diag = if i == j { alpha + k2 * cs[i] } else { 0.0 };
            diag - radial * u[i] * u[j] - k2 * sn[i] * sn[j] / nf
        })
    }
    fn hvp(&self, x: &[f64], v: &[f64], out: &mut [f64]) {
        let nf = self.n as f64;
        let s = self.sums(x);
        let r = s.norm / nf.sqrt();
        let alpha = ACKLEY_A * ACKLEY_B * s.e1 / (nf * r.max(R_FLOOR));
        let radial = alpha * (1.0 + ACKLEY_B * r);
        let k2 = ACKLEY_C * ACKLEY_C * s.e2 / nf;
        let (mut uv, mut sv) = (0.0, 0.0);
        for (&xi, &vi) in x.iter().zip(v) {
            uv += Self::unit(s.norm, xi) * vi;
            sv += (ACKLEY_C * xi).sin() * vi;
        }
        for ((o, &xi), &vi) in out.iter_mut().zip(x).zip(v) {
            let (sn, cs) = (ACKLEY_C * xi).sin_cos();
            *o = alpha * vi - radial * Self::unit(s.norm, xi) * uv + k2 * (cs * vi - sn * sv / nf);
        }
    }
    fn domain(&self) -> Domain {
        Domain::Box { lo: -5.0, hi: 5.0 }
    }
    /// |x| and the cosine sum carry γ(N) and N·2^-11; exp adds its 3 + 2|z| ULP. The
    /// gradient's two terms inherit the relative errors of e1 and e2, and sin its 2^-11.
    fn f32_error(&self, x: &[f64]) -> F32Error {
        let nf = self.n as f64;
        let s = self.sums(x);
        let r = s.norm / nf.sqrt();
        let rel1 = gamma(nf + 4.0) * (1.0 + ACKLEY_B * r) + exp_rel(ACKLEY_B * r);
        let rel2 = gamma(nf + 4.0) * 2.0 + TRIG_ABS + exp_rel(1.0);
        let k1 = ACKLEY_A * ACKLEY_B * s.e1 / nf.sqrt();
        let k2 = ACKLEY_C * s.e2 / nf;
        let g = x.iter().map(|&xi| {
            let u = Self::unit(s.norm, xi).abs();
            k1 * u * (rel1 + gamma(4.0)) + k2 * (rel2 + TRIG_ABS + gamma(4.0) * ACKLEY_C * xi.abs())
        });
        F32Error {
            f: ACKLEY_A * s.e1 * rel1 + s.e2 * rel2 + gamma(4.0) * (2.0 * ACKLEY_A + E),
            grad: norm(g),
        }
    }
    fn wgsl(&self) -> Wgsl {
        Wgsl::per_walker(include_str!("../../shaders/objectives/ackley.wgsl"))
    }
}

/// The chained Rosenbrock function f = sum_{i<N-1} 100(x_{i+1} - x_i^2)^2 + (1 - x_i)^2:
/// tridiagonal Hessian.
pub struct Rosenbrock {
    n: usize,
}

impl Rosenbrock {
    fn new(v: &Values) -> Result<Self, SpecError> {
        Ok(Rosenbrock { n: v.usize("n")? })
    }
    /// Hessian diagonal d_i and super-diagonal e_i = H_{i,i+1}.
    fn bands(x: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let n = x.len();
        let mut d = vec![0.0; n];
        let mut e = vec![0.0; n - 1];
        for i in 0..n - 1 {
            d[i] += 1200.0 * x[i] * x[i] - 400.0 * x[i + 1] + 2.0;
            d[i + 1] += 200.0;
            e[i] = -400.0 * x[i];
        }
        (d, e)
    }
}

impl Objective for Rosenbrock {
    fn spec(&self) -> String {
        format!("rosenbrock:n={}", self.n)
    }
    fn dim(&self) -> usize {
        self.n
    }
    fn value(&self, x: &[f64]) -> f64 {
        x.windows(2)
            .map(|p| 100.0 * (p[1] - p[0] * p[0]).powi(2) + (1.0 - p[0]).powi(2))
            .sum()
    }
    fn gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
        g.iter_mut().for_each(|v| *v = 0.0);
        for i in 0..self.n - 1 {
            let s = x[i + 1] - x[i] * x[i];
            g[i] += -400.0 * x[i] * s - 2.0 * (1.0 - x[i]);
            g[i + 1] += 200.0 * s;
        }
        self.value(x)
    }
    fn hessian(&self, x: &[f64]) -> DMatrix<f64> {
        let (d, e) = Self::bands(x);
        let mut h = DMatrix::from_diagonal(&nalgebra::DVector::from_vec(d));
        for (i, &ei) in e.iter().enumerate() {
            h[(i, i + 1)] = ei;
            h[(i + 1, i)] = ei;
        }
        h
    }
    fn hvp(&self, x: &[f64], v: &[f64], out: &mut [f64]) {
        let (d, e) = Self::bands(x);
        for i in 0..self.n {
            let mut o = d[i] * v[i];
            if i > 0 {
                o += e[i - 1] * v[i - 1];
            }
            if i + 1 < self.n {
                o += e[i] * v[i + 1];
            }
            out[i] = o;
        }
    }
    fn domain(&self) -> Domain {
        Domain::Box { lo: -2.0, hi: 2.0 }
    }
    /// s_i = x_{i+1} − x_i² carries γ·(|x_{i+1}| + x_i²); f sums N − 1 terms.
    fn f32_error(&self, x: &[f64]) -> F32Error {
        let n = self.n;
        let k = gamma(8.0);
        let mut f = 0.0;
        let mut sum = 0.0;
        let mut g = vec![0.0; n];
        for i in 0..n - 1 {
            let s = x[i + 1] - x[i] * x[i];
            let ts = s.abs() + x[i + 1].abs() + x[i] * x[i];
            let o = (1.0 - x[i]).abs() + 1.0 + x[i].abs();
            f += k * (200.0 * s.abs() * ts + 2.0 * (1.0 - x[i]).abs() * o);
            sum += 100.0 * s * s + (1.0 - x[i]).powi(2);
            g[i] += k * (400.0 * x[i].abs() * ts + 2.0 * o);
            g[i + 1] += k * 200.0 * ts;
        }
        F32Error {
            f: f + gamma(n as f64) * sum,
            grad: norm(g),
        }
    }
    fn wgsl(&self) -> Wgsl {
        Wgsl::per_walker(include_str!("../../shaders/objectives/rosenbrock.wgsl"))
    }
}
