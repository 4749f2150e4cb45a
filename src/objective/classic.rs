//! Classic 2-D test surfaces: saddle, monkey-saddle, himmelblau, muller-brown, camel6.

use nalgebra::DMatrix;

use super::rounding::{exp_rel, gamma, norm};
use super::{Domain, Entry, F32Error, Objective, Wgsl};
use crate::spec::Values;

pub fn entries() -> Vec<Entry> {
    vec![
        Entry {
            name: "saddle",
            summary: "f = x^2 - y^2, the canonical index-1 saddle at the origin",
            params: &[],
            build: |_: &Values| Ok(Box::new(Saddle) as Box<dyn Objective>),
        },
        Entry {
            name: "monkey-saddle",
            summary: "f = x^3 - 3xy^2, a degenerate saddle (zero Hessian) at the origin",
            params: &[],
            build: |_: &Values| Ok(Box::new(MonkeySaddle) as Box<dyn Objective>),
        },
        Entry {
            name: "himmelblau",
            summary: "f = (x^2+y-11)^2 + (x+y^2-7)^2: four minima (f=0), four saddles, one maximum",
            params: &[],
            build: |_: &Values| Ok(Box::new(Himmelblau) as Box<dyn Objective>),
        },
        Entry {
            name: "muller-brown",
            summary: "Mueller-Brown potential: three minima, two saddles (chemistry benchmark)",
            params: &[],
            build: |_: &Values| Ok(Box::new(MullerBrown) as Box<dyn Objective>),
        },
        Entry {
            name: "camel6",
            summary: "six-hump camel: six minima (two global, f=-1.0316), saddle at the origin",
            params: &[],
            build: |_: &Values| Ok(Box::new(Camel6) as Box<dyn Objective>),
        },
    ]
}

/// f(x, y) = x^2 - y^2.
pub struct Saddle;

impl Objective for Saddle {
    fn spec(&self) -> String {
        "saddle".into()
    }
    fn dim(&self) -> usize {
        2
    }
    fn value(&self, x: &[f64]) -> f64 {
        x[0] * x[0] - x[1] * x[1]
    }
    fn gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
        g[0] = 2.0 * x[0];
        g[1] = -2.0 * x[1];
        self.value(x)
    }
    fn hessian(&self, _x: &[f64]) -> DMatrix<f64> {
        DMatrix::from_row_slice(2, 2, &[2.0, 0.0, 0.0, -2.0])
    }
    fn domain(&self) -> Domain {
        Domain::Box { lo: -1.0, hi: 1.0 }
    }
    /// Two squares and one difference.
    fn f32_error(&self, x: &[f64]) -> F32Error {
        let (a, b) = (x[0].abs(), x[1].abs());
        F32Error {
            f: gamma(3.0) * (a * a + b * b),
            grad: gamma(1.0) * norm([2.0 * a, 2.0 * b]),
        }
    }
    fn wgsl(&self) -> Wgsl {
        Wgsl::per_walker(include_str!("../../shaders/objectives/saddle.wgsl"))
    }
    fn known_saddle(&self) -> Option<Vec<f64>> {
        Some(vec![0.0, 0.0])
    }
}

/// f(x, y) = x^3 - 3xy^2: three descending valleys meet at the origin, where gradient and
/// Hessian both vanish (a degenerate critical point).
pub struct MonkeySaddle;

impl Objective for MonkeySaddle {
    fn spec(&self) -> String {
        "monkey-saddle".into()
    }
    fn dim(&self) -> usize {
        2
    }
    fn value(&self, x: &[f64]) -> f64 {
        let (a, b) = (x[0], x[1]);
        a * a * a - 3.0 * a * b * b
    }
    fn gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
        let (a, b) = (x[0], x[1]);
        g[0] = 3.0 * a * a - 3.0 * b * b;
        g[1] = -6.0 * a * b;
        self.value(x)
    }
    fn hessian(&self, x: &[f64]) -> DMatrix<f64> {
        let (a, b) = (x[0], x[1]);
        DMatrix::from_row_slice(2, 2, &[6.0 * a, -6.0 * b, -6.0 * b, -6.0 * a])
    }
    fn domain(&self) -> Domain {
        Domain::Box { lo: -1.0, hi: 1.0 }
    }
    /// Products of three factors and one difference.
    fn f32_error(&self, x: &[f64]) -> F32Error {
        let (a, b) = (x[0].abs(), x[1].abs());
        F32Error {
            f: gamma(5.0) * (a * a * a + 3.0 * a * b * b),
            grad: gamma(4.0) * norm([3.0 * (a * a + b * b), 6.0 * a * b]),
        }
    }
    fn wgsl(&self) -> Wgsl {
        Wgsl::per_walker(include_str!("../../shaders/objectives/monkey_saddle.wgsl"))
    }
    fn known_saddle(&self) -> Option<Vec<f64>> {
        Some(vec![0.0, 0.0])
    }
}

/// f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2.
pub struct Himmelblau;

impl Objective for Himmelblau {
    fn spec(&self) -> String {
        "himmelblau".into()
    }
    fn dim(&self) -> usize {
        2
    }
    fn value(&self, x: &[f64]) -> f64 {
        let (a, b) = (x[0] * x[0] + x[1] - 11.0, x[0] + x[1] * x[1] - 7.0);
        a * a + b * b
    }
    fn gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
        let (a, b) = (x[0] * x[0] + x[1] - 11.0, x[0] + x[1] * x[1] - 7.0);
        g[0] = 4.0 * x[0] * a + 2.0 * b;
        g[1] = 2.0 * a + 4.0 * x[1] * b;
        a * a + b * b
    }
    fn hessian(&self, x: &[f64]) -> DMatrix<f64> {
        let (u, v) = (x[0], x[1]);
        let hxx = 12.0 * u * u + 4.0 * v - 42.0;
        let hxy = 4.0 * (u + v);
        let hyy = 4.0 * u + 12.0 * v * v - 26.0;
        DMatrix::from_row_slice(2, 2, &[hxx, hxy, hxy, hyy])
    }
    fn domain(&self) -> Domain {
        Domain::Box { lo: -5.0, hi: 5.0 }
    }
    /// a = x^2 + y - 11 and b = x + y^2 - 7 carry γ(3)·(x^2 + |y| + 11) and γ(3)·(|x| + y^2 + 7);
    /// f = a^2 + b^2 and the gradient (4xa + 2b, 2a + 4yb) propagate them.
    fn f32_error(&self, x: &[f64]) -> F32Error {
        let (p, q) = (x[0], x[1]);
        let a = p * p + q - 11.0;
        let b = p + q * q - 7.0;
        let (ta, tb) = (
            a.abs() + p * p + q.abs() + 11.0,
            b.abs() + p.abs() + q * q + 7.0,
        );
        let k = gamma(8.0);
        F32Error {
            f: k * (2.0 * a.abs() * ta + 2.0 * b.abs() * tb),
            grad: k * norm([4.0 * p.abs() * ta + 2.0 * tb, 2.0 * ta + 4.0 * q.abs() * tb]),
        }
    }
    fn wgsl(&self) -> Wgsl {
        Wgsl::per_walker(include_str!("../../shaders/objectives/himmelblau.wgsl"))
    }
}

/// The Mueller-Brown potential, f = sum_k A_k exp(a_k dx^2 + b_k dx dy + c_k dy^2) with
/// dx = x - x0_k, dy = y - y0_k (K. Mueller, L. D. Brown, Theor. Chim. Acta 53, 75 (1979)).
/// Keep these constants in sync with shaders/objectives/muller_brown.wgsl.
pub struct MullerBrown;

const MB_A: [f64; 4] = [-200.0, -100.0, -170.0, 15.0];
const MB_LA: [f64; 4] = [-1.0, -1.0, -6.5, 0.7];
const MB_LB: [f64; 4] = [0.0, 0.0, 11.0, 0.6];
const MB_LC: [f64; 4] = [-10.0, -10.0, -6.5, 0.7];
const MB_X0: [f64; 4] = [1.0, 0.0, -0.5, -1.0];
const MB_Y0: [f64; 4] = [0.0, 0.5, 1.5, 1.0];

impl MullerBrown {
    /// Term k: (A_k e^q, dq/dx, dq/dy).
    fn term(k: usize, x: &[f64]) -> (f64, f64, f64) {
        let (dx, dy) = (x[0] - MB_X0[k], x[1] - MB_Y0[k]);
        let q = MB_LA[k] * dx * dx + MB_LB[k] * dx * dy + MB_LC[k] * dy * dy;
        let qx = 2.0 * MB_LA[k] * dx + MB_LB[k] * dy;
        let qy = MB_LB[k] * dx + 2.0 * MB_LC[k] * dy;
        (MB_A[k] * q.exp(), qx, qy)
    }
}

impl Objective for MullerBrown {
    fn spec(&self) -> String {
        "muller-brown".into()
    }
    fn dim(&self) -> usize {
        2
    }
    fn value(&self, x: &[f64]) -> f64 {
        (0..4).map(|k| Self::term(k, x).0).sum()
    }
    fn gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
        let (mut f, mut gx, mut gy) = (0.0, 0.0, 0.0);
        for k in 0..4 {
            let (e, qx, qy) = Self::term(k, x);
            f += e;
            gx += e * qx;
            gy += e * qy;
        }
        g[0] = gx;
        g[1] = gy;
        f
    }
    fn hessian(&self, x: &[f64]) -> DMatrix<f64> {
        let (mut hxx, mut hxy, mut hyy) = (0.0, 0.0, 0.0);
        for k in 0..4 {
            let (e, qx, qy) = Self::term(k, x);
            hxx += e * (qx * qx + 2.0 * MB_LA[k]);
            hxy += e * (qx * qy + MB_LB[k]);
            hyy += e * (qy * qy + 2.0 * MB_LC[k]);
        }
        DMatrix::from_row_slice(2, 2, &[hxx, hxy, hxy, hyy])
    }
    fn domain(&self) -> Domain {
        Domain::Box2 {
            x: (-1.5, 1.2),
            y: (-0.5, 2.0),
        }
    }
    /// Each term A_k e^q carries the rounding of q (γ·Q, Q its terms' magnitude) and WGSL's exp
    /// accuracy, 3 + 2|q| ULP.
    fn f32_error(&self, x: &[f64]) -> F32Error {
        let (mut f, mut gx, mut gy) = (0.0, 0.0, 0.0);
        for k in 0..4 {
            let (e, qx, qy) = Self::term(k, x);
            let (dx, dy) = (x[0] - MB_X0[k], x[1] - MB_Y0[k]);
            let q = MB_LA[k] * dx * dx + MB_LB[k] * dx * dy + MB_LC[k] * dy * dy;
            let mag_q = (MB_LA[k] * dx * dx).abs()
                + (MB_LB[k] * dx * dy).abs()
                + (MB_LC[k] * dy * dy).abs()
                + 2.0
                    * (MB_LA[k].abs() + MB_LB[k].abs() + MB_LC[k].abs())
                    * (x[0].abs() + x[1].abs() + 2.0);
            let rel = gamma(8.0) * (1.0 + mag_q) + exp_rel(q);
            let mag_qx = 2.0 * (MB_LA[k] * dx).abs() + (MB_LB[k] * dy).abs();
            let mag_qy = (MB_LB[k] * dx).abs() + 2.0 * (MB_LC[k] * dy).abs();
            f += e.abs() * rel;
            gx += e.abs() * (qx.abs() * rel + gamma(4.0) * mag_qx);
            gy += e.abs() * (qy.abs() * rel + gamma(4.0) * mag_qy);
        }
        F32Error {
            f,
            grad: norm([gx, gy]),
        }
    }
    fn wgsl(&self) -> Wgsl {
        Wgsl::per_walker(include_str!("../../shaders/objectives/muller_brown.wgsl"))
    }
    /// The upper transition state, between the minima near (-0.558, 1.442) and (-0.050, 0.467)
    /// (f = -40.665); Newton-polished, the test checks |grad| and the index.
    fn known_saddle(&self) -> Option<Vec<f64>> {
        Some(vec![-0.822_001_558_733, 0.624_312_802_815])
    }
}

/// Six-hump camel: f = (4 - 2.1x^2 + x^4/3) x^2 + xy + (-4 + 4y^2) y^2.
pub struct Camel6;

impl Objective for Camel6 {
    fn spec(&self) -> String {
        "camel6".into()
    }
    fn dim(&self) -> usize {
        2
    }
    fn value(&self, x: &[f64]) -> f64 {
        let (a, b) = (x[0], x[1]);
        let (a2, b2) = (a * a, b * b);
        (4.0 - 2.1 * a2 + a2 * a2 / 3.0) * a2 + a * b + (-4.0 + 4.0 * b2) * b2
    }
    fn gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
        let (a, b) = (x[0], x[1]);
        let (a2, b2) = (a * a, b * b);
        g[0] = 8.0 * a - 8.4 * a2 * a + 2.0 * a2 * a2 * a + b;
        g[1] = a - 8.0 * b + 16.0 * b2 * b;
        self.value(x)
    }
    fn hessian(&self, x: &[f64]) -> DMatrix<f64> {
        let (a2, b2) = (x[0] * x[0], x[1] * x[1]);
        let hxx = 8.0 - 25.2 * a2 + 10.0 * a2 * a2;
        let hyy = -8.0 + 48.0 * b2;
        DMatrix::from_row_slice(2, 2, &[hxx, 1.0, 1.0, hyy])
    }
    /// [-2,2] x [-1,1] holds all six minima; the customary [-3,3] x [-2,2] adds mostly the steep
    /// x^6 and y^4 walls.
    fn domain(&self) -> Domain {
        Domain::Box2 {
            x: (-2.0, 2.0),
            y: (-1.0, 1.0),
        }
    }
    /// A polynomial: γ(chain) times the sum of its terms' magnitudes.
    fn f32_error(&self, x: &[f64]) -> F32Error {
        let (a, b) = (x[0].abs(), x[1].abs());
        let (a2, b2) = (a * a, b * b);
        let k = gamma(8.0);
        F32Error {
            f: k * ((4.0 + 2.1 * a2 + a2 * a2 / 3.0) * a2 + a * b + (4.0 + 4.0 * b2) * b2),
            grad: k * norm([
                8.0 * a + 8.4 * a2 * a + 2.0 * a2 * a2 * a + b,
                a + 8.0 * b + 16.0 * b2 * b,
            ]),
        }
    }
    fn wgsl(&self) -> Wgsl {
        Wgsl::per_walker(include_str!("../../shaders/objectives/camel6.wgsl"))
    }
    /// The origin: Hessian diag(8, -8) plus the xy coupling, index 1.
    fn known_saddle(&self) -> Option<Vec<f64>> {
        Some(vec![0.0, 0.0])
    }
}
