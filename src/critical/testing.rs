//! Test-only objectives with known critical points, for the polish, classify and catalogue tests.

use nalgebra::{DMatrix, DVector};

use crate::objective::{Domain, F32Error, Objective, Wgsl};
use crate::rng::{Sampler, Stream};

fn no_wgsl() -> Wgsl {
    Wgsl::per_walker("")
}

/// Implements the boilerplate of `Objective` for a test type with `value`, `grad`, `hess` and
/// `n` in scope.
macro_rules! test_objective {
    ($t:ty, $name:expr) => {
        impl Objective for $t {
            fn spec(&self) -> String {
                $name.into()
            }
            fn dim(&self) -> usize {
                self.n()
            }
            fn value(&self, x: &[f64]) -> f64 {
                self.val(x)
            }
            fn gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
                self.grad(x, g);
                self.val(x)
            }
            fn hessian(&self, x: &[f64]) -> DMatrix<f64> {
                self.hess(x)
            }
            fn domain(&self) -> Domain {
                Domain::Box { lo: -1.0, hi: 1.0 }
            }
            fn wgsl(&self) -> Wgsl {
                no_wgsl()
            }
            fn f32_error(&self, _: &[f64]) -> F32Error {
                F32Error { f: 0.0, grad: 0.0 }
            }
        }
    };
}

/// f(x) = ½ (x-c)ᵀ A (x-c) + f0 with A = R diag(λ) Rᵀ for a random rotation R.
pub struct Quadratic {
    pub a: DMatrix<f64>,
    pub c: DVector<f64>,
    pub f0: f64,
}

impl Quadratic {
    pub fn new(eigenvalues: &[f64], centre: &[f64], seed: u64) -> Quadratic {
        let n = eigenvalues.len();
        let mut s = Sampler::new(seed, 0, Stream::Landscape);
        let m = DMatrix::from_fn(n, n, |_, _| s.normal());
        let r = m.qr().q();
        let a =
            &r * DMatrix::from_diagonal(&DVector::from_column_slice(eigenvalues)) * r.transpose();
        Quadratic {
            a: (&a + a.transpose()) * 0.5,
            c: DVector::from_column_slice(centre),
            f0: 0.0,
        }
    }
    fn n(&self) -> usize {
        self.c.len()
    }
    fn val(&self, x: &[f64]) -> f64 {
        let d = DVector::from_column_slice(x) - &self.c;
        0.5 * d.dot(&(&self.a * &d)) + self.f0
    }
    fn grad(&self, x: &[f64], g: &mut [f64]) {
        let d = DVector::from_column_slice(x) - &self.c;
        g.copy_from_slice((&self.a * d).as_slice());
    }
    fn hess(&self, _x: &[f64]) -> DMatrix<f64> {
        self.a.clone()
    }
}
test_objective!(Quadratic, "test-quadratic");

/// f(x, y, z) = cos x cos y cos z: a maximum at the origin with Hessian -I.
pub struct CosProduct;
impl CosProduct {
    fn n(&self) -> usize {
        3
    }
    fn val(&self, x: &[f64]) -> f64 {
        x[0].cos() * x[1].cos() * x[2].cos()
    }
    fn grad(&self, x: &[f64], g: &mut [f64]) {
        let (c, s) = (
            x.iter().map(|a| a.cos()).collect::<Vec<_>>(),
            x.iter().map(|a| a.sin()).collect::<Vec<_>>(),
        );
        g[0] = -s[0] * c[1] * c[2];
        g[1] = -c[0] * s[1] * c[2];
        g[2] = -c[0] * c[1] * s[2];
    }
    fn hess(&self, x: &[f64]) -> DMatrix<f64> {
        let (c, s) = (
            x.iter().map(|a| a.cos()).collect::<Vec<_>>(),
            x.iter().map(|a| a.sin()).collect::<Vec<_>>(),
        );
        let f = c[0] * c[1] * c[2];
        DMatrix::from_row_slice(
            3,
            3,
            &[
                -f,
                s[0] * s[1] * c[2],
                s[0] * c[1] * s[2],
                s[0] * s[1] * c[2],
                -f,
                c[0] * s[1] * s[2],
                s[0] * c[1] * s[2],
                c[0] * s[1] * s[2],
                -f,
            ],
        )
    }
}
test_objective!(CosProduct, "test-cos-product");

/// f = a . x + f0: a plane, nowhere critical (zero Hessian).
pub struct Plane {
    pub a: Vec<f64>,
}
impl Plane {
    fn n(&self) -> usize {
        self.a.len()
    }
    fn val(&self, x: &[f64]) -> f64 {
        self.a.iter().zip(x).map(|(a, b)| a * b).sum()
    }
    fn grad(&self, _x: &[f64], g: &mut [f64]) {
        g.copy_from_slice(&self.a);
    }
    fn hess(&self, _x: &[f64]) -> DMatrix<f64> {
        DMatrix::zeros(self.a.len(), self.a.len())
    }
}
test_objective!(Plane, "test-plane");

/// f = x + x³ on R¹: f' = 1 + 3x² ≥ 1, so |f'| has a local minimum at 0 that is not a zero.
pub struct CubicSlope;
impl CubicSlope {
    fn n(&self) -> usize {
        1
    }
    fn val(&self, x: &[f64]) -> f64 {
        x[0] + x[0].powi(3)
    }
    fn grad(&self, x: &[f64], g: &mut [f64]) {
        g[0] = 1.0 + 3.0 * x[0] * x[0];
    }
    fn hess(&self, x: &[f64]) -> DMatrix<f64> {
        DMatrix::from_element(1, 1, 6.0 * x[0])
    }
}
test_objective!(CubicSlope, "test-cubic-slope");

/// f = x² - z² in R³ with y absent: a line of critical points (0, y, 0), each with Hessian
/// eigenvalues -2, 0, 2.
pub struct FlatDirection;
impl FlatDirection {
    fn n(&self) -> usize {
        3
    }
    fn val(&self, x: &[f64]) -> f64 {
        x[0] * x[0] - x[2] * x[2]
    }
    fn grad(&self, x: &[f64], g: &mut [f64]) {
        g[0] = 2.0 * x[0];
        g[1] = 0.0;
        g[2] = -2.0 * x[2];
    }
    fn hess(&self, _x: &[f64]) -> DMatrix<f64> {
        DMatrix::from_row_slice(3, 3, &[2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -2.0])
    }
}
test_objective!(FlatDirection, "test-flat-direction");

/// f = x² + y⁴: an isolated minimum at 0 whose Hessian diag(2, 0) is singular.
pub struct QuarticValley;
impl QuarticValley {
    fn n(&self) -> usize {
        2
    }
    fn val(&self, x: &[f64]) -> f64 {
        x[0] * x[0] + x[1].powi(4)
    }
    fn grad(&self, x: &[f64], g: &mut [f64]) {
        g[0] = 2.0 * x[0];
        g[1] = 4.0 * x[1].powi(3);
    }
    fn hess(&self, x: &[f64]) -> DMatrix<f64> {
        DMatrix::from_row_slice(2, 2, &[2.0, 0.0, 0.0, 12.0 * x[1] * x[1]])
    }
}
test_objective!(QuarticValley, "test-quartic-valley");

/// f = x³ - 3xy²: a monkey saddle, gradient and Hessian both zero at the origin.
pub struct MonkeySaddle;
impl MonkeySaddle {
    fn n(&self) -> usize {
        2
    }
    fn val(&self, x: &[f64]) -> f64 {
        x[0].powi(3) - 3.0 * x[0] * x[1] * x[1]
    }
    fn grad(&self, x: &[f64], g: &mut [f64]) {
        g[0] = 3.0 * x[0] * x[0] - 3.0 * x[1] * x[1];
        g[1] = -6.0 * x[0] * x[1];
    }
    fn hess(&self, x: &[f64]) -> DMatrix<f64> {
        DMatrix::from_row_slice(2, 2, &[6.0 * x[0], -6.0 * x[1], -6.0 * x[1], -6.0 * x[0]])
    }
}
test_objective!(MonkeySaddle, "test-monkey-saddle");

/// A flat-bottomed well: f = (max(0, |x| - 1))², exactly flat (gradient 0) on the unit ball.
pub struct FlatWell {
    pub n: usize,
}
impl FlatWell {
    fn n(&self) -> usize {
        self.n
    }
    fn val(&self, x: &[f64]) -> f64 {
        let r = x.iter().map(|a| a * a).sum::<f64>().sqrt();
        (r - 1.0).max(0.0).powi(2)
    }
    fn grad(&self, x: &[f64], g: &mut [f64]) {
        let r = x.iter().map(|a| a * a).sum::<f64>().sqrt();
        let k = if r > 1.0 { 2.0 * (r - 1.0) / r } else { 0.0 };
        for (gi, xi) in g.iter_mut().zip(x) {
            *gi = k * xi;
        }
    }
    fn hess(&self, x: &[f64]) -> DMatrix<f64> {
        let n = x.len();
        let r = x.iter().map(|a| a * a).sum::<f64>().sqrt();
        if r <= 1.0 {
            return DMatrix::zeros(n, n);
        }
        let u = DVector::from_iterator(n, x.iter().map(|a| a / r));
        DMatrix::identity(n, n) * (2.0 * (r - 1.0) / r) + &u * u.transpose() * (2.0 / r)
    }
}
test_objective!(FlatWell, "test-flat-well");

/// f = cos x + cos y: maxima at (2kπ, 2lπ), minima at odd multiples of π in both, saddles in
/// between, all nondegenerate (Hessian diag(-cos x, -cos y)).
pub struct CosSum;
impl CosSum {
    fn n(&self) -> usize {
        2
    }
    fn val(&self, x: &[f64]) -> f64 {
        x[0].cos() + x[1].cos()
    }
    fn grad(&self, x: &[f64], g: &mut [f64]) {
        g[0] = -x[0].sin();
        g[1] = -x[1].sin();
    }
    fn hess(&self, x: &[f64]) -> DMatrix<f64> {
        DMatrix::from_row_slice(2, 2, &[-x[0].cos(), 0.0, 0.0, -x[1].cos()])
    }
}
test_objective!(CosSum, "test-cos-sum");

/// Spherical 2-spin H = xᵀ A x / √N on |x|² = N with A a random symmetric (GOE-like) matrix.
/// Its critical points are ±√N v_k for the eigenvectors v_k of A; the one from the k-th smallest
/// eigenvalue has Riemannian Hessian eigenvalues 2(λ_j - λ_k)/√N (j ≠ k), so index k-1.
pub struct TwoSpin {
    pub a: DMatrix<f64>,
}
impl TwoSpin {
    pub fn new(n: usize, seed: u64) -> TwoSpin {
        let mut s = Sampler::new(seed, 0, Stream::Landscape);
        let m = DMatrix::from_fn(n, n, |_, _| s.normal());
        TwoSpin {
            a: (&m + m.transpose()) / (2.0 * (n as f64).sqrt()),
        }
    }
    /// A uniform random point on |x|² = N.
    pub fn random_point(&self, id: u32) -> Vec<f64> {
        let mut s = Sampler::new(99, id, Stream::Init);
        let mut x: Vec<f64> = (0..self.n()).map(|_| s.normal()).collect();
        crate::objective::sphere::retract(&mut x);
        x
    }
    fn n(&self) -> usize {
        self.a.nrows()
    }
    fn val(&self, x: &[f64]) -> f64 {
        let v = DVector::from_column_slice(x);
        v.dot(&(&self.a * &v)) / (self.n() as f64).sqrt()
    }
    fn grad(&self, x: &[f64], g: &mut [f64]) {
        let v = DVector::from_column_slice(x);
        let ax = &self.a * v * (2.0 / (self.n() as f64).sqrt());
        g.copy_from_slice(ax.as_slice());
    }
    fn hess(&self, _x: &[f64]) -> DMatrix<f64> {
        &self.a * (2.0 / (self.n() as f64).sqrt())
    }
}

impl Objective for TwoSpin {
    fn spec(&self) -> String {
        "test-2spin".into()
    }
    fn dim(&self) -> usize {
        self.n()
    }
    fn value(&self, x: &[f64]) -> f64 {
        self.val(x)
    }
    fn gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
        self.grad(x, g);
        self.val(x)
    }
    fn f32_error(&self, _: &[f64]) -> F32Error {
        F32Error { f: 0.0, grad: 0.0 }
    }
    fn hessian(&self, x: &[f64]) -> DMatrix<f64> {
        self.hess(x)
    }
    fn sphere(&self) -> bool {
        true
    }
    fn domain(&self) -> Domain {
        Domain::Sphere
    }
    fn wgsl(&self) -> Wgsl {
        no_wgsl()
    }
}

/// Finite-difference check of a test objective's gradient and Hessian (guards the oracles).
#[cfg(test)]
mod tests {
    use super::*;

    fn check(obj: &dyn Objective, x: &[f64]) {
        let n = x.len();
        let h = 1e-5;
        let mut g = vec![0.0; n];
        obj.gradient(x, &mut g);
        let hess = obj.hessian(x);
        for i in 0..n {
            let (mut xp, mut xm) = (x.to_vec(), x.to_vec());
            xp[i] += h;
            xm[i] -= h;
            let fd = (obj.value(&xp) - obj.value(&xm)) / (2.0 * h);
            assert!(
                (fd - g[i]).abs() < 1e-6 * (1.0 + g[i].abs()),
                "{} grad {i}",
                obj.spec()
            );
            let (mut gp, mut gm) = (vec![0.0; n], vec![0.0; n]);
            obj.gradient(&xp, &mut gp);
            obj.gradient(&xm, &mut gm);
            for j in 0..n {
                let fd = (gp[j] - gm[j]) / (2.0 * h);
                assert!(
                    (fd - hess[(j, i)]).abs() < 1e-5 * (1.0 + fd.abs()),
                    "{} hess {j},{i}",
                    obj.spec()
                );
            }
        }
    }

    #[test]
    fn test_objectives_have_consistent_derivatives() {
        check(
            &Quadratic::new(&[-3.0, 1.0, 2.0], &[0.5, -1.0, 2.0], 1),
            &[0.1, 0.2, 0.3],
        );
        check(&CosProduct, &[0.3, -0.7, 1.1]);
        check(&CosSum, &[0.3, -0.7]);
        check(&Plane { a: vec![1.0, -2.0] }, &[0.3, 0.4]);
        check(&CubicSlope, &[0.3]);
        check(&FlatDirection, &[0.3, 0.5, -0.2]);
        check(&QuarticValley, &[0.3, 0.5]);
        check(&MonkeySaddle, &[0.3, -0.5]);
        check(&FlatWell { n: 3 }, &[1.2, -0.5, 0.3]);
        let spin = TwoSpin::new(5, 3);
        check(&spin, &spin.random_point(0));
    }
}
