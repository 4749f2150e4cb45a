//! Local coordinates for Newton steps and Hessian spectra: R^N itself, or for sphere objectives
//! the (N-1)-dimensional tangent space of |x|^2 = N in an orthonormal basis given by a
//! Householder reflection.
//!
//! On the sphere the Riemannian gradient is P grad H and the Riemannian Hessian on the tangent
//! space is P (Hess H - (x . grad H / N) I) P with P = I - x x^T / N. A Householder reflection
//! Q (symmetric, orthogonal) maps x/|x| to -+e_N; its first N-1 columns are an orthonormal basis
//! of the tangent space, so tangent coordinates of a vector z are the first N-1 entries of Q z.
//! Q is applied as a rank-one update (O(N) per vector, O(N^2) for the Hessian), never formed.

use nalgebra::{DMatrix, DVector};

use crate::objective::{sphere, Objective};

/// The objective's value, gradient and Hessian at a point, in local coordinates.
pub struct Local {
    pub f: f64,
    /// Gradient in local coordinates (Riemannian on the sphere); length `dim`.
    pub g: DVector<f64>,
    /// Hessian in local coordinates (Riemannian on the sphere); `dim` x `dim`, symmetric.
    pub h: DMatrix<f64>,
    /// |x . grad f| / |x|: the radial part of the Euclidean gradient that projection removes
    /// (0 off the sphere). It sets the size of the rounding error in the projected gradient.
    pub radial: f64,
    frame: Option<Householder>,
}

/// Q = I - 2 v v^T with Q (x/|x|) = -s e_N, s = sign of the last entry of x (stable choice).
struct Householder {
    v: DVector<f64>,
}

impl Householder {
    fn at(x: &[f64]) -> Householder {
        let n = x.len();
        let norm = x.iter().map(|a| a * a).sum::<f64>().sqrt();
        let mut w = DVector::from_iterator(n, x.iter().map(|a| a / norm));
        let s = if w[n - 1] >= 0.0 { 1.0 } else { -1.0 };
        w[n - 1] += s;
        let wn = w.norm();
        Householder { v: w / wn }
    }
    /// Q z.
    fn apply(&self, z: &DVector<f64>) -> DVector<f64> {
        z - &self.v * (2.0 * self.v.dot(z))
    }
    /// Q [t; 0] for tangent coordinates t (length N-1).
    fn embed_tangent(&self, t: &DVector<f64>) -> DVector<f64> {
        let n = self.v.len();
        let vt = self.v.rows(0, n - 1).dot(t);
        let mut z = DVector::zeros(n);
        z.rows_mut(0, n - 1).copy_from(t);
        z - &self.v * (2.0 * vt)
    }
    /// Q A Q (A symmetric), by the rank-two update A - 2 v p^T - 2 p v^T + 4 (v.p) v v^T, p = A v.
    fn conjugate(&self, a: &DMatrix<f64>) -> DMatrix<f64> {
        let v = &self.v;
        let p = a * v;
        let alpha = v.dot(&p);
        let mut out = a.clone();
        out.ger(-2.0, v, &p, 1.0);
        out.ger(-2.0, &p, v, 1.0);
        out.ger(4.0 * alpha, v, v, 1.0);
        out
    }
}

fn all_finite(v: &[f64]) -> bool {
    v.iter().all(|a| a.is_finite())
}

impl Local {
    /// Value, gradient and Hessian at `x` (on the sphere: |x|^2 = N is assumed). `None` when
    /// anything is not finite.
    pub fn at(obj: &dyn Objective, x: &[f64]) -> Option<Local> {
        let n = x.len();
        let mut grad = vec![0.0; n];
        let f = obj.gradient(x, &mut grad);
        let hess = obj.hessian(x);
        if !f.is_finite() || !all_finite(&grad) || !all_finite(hess.as_slice()) {
            return None;
        }
        if !obj.sphere() {
            return Some(Local {
                f,
                g: DVector::from_vec(grad),
                h: hess,
                radial: 0.0,
                frame: None,
            });
        }
        let m = n.saturating_sub(1);
        let norm = x.iter().map(|a| a * a).sum::<f64>().sqrt();
        if n == 0 || norm == 0.0 {
            return None;
        }
        let xg: f64 = x.iter().zip(&grad).map(|(a, b)| a * b).sum();
        let frame = Householder::at(x);
        // Tangent coordinates of grad H are those of P grad H, since Q x is normal to them.
        let g = frame
            .apply(&DVector::from_vec(grad))
            .rows(0, m)
            .into_owned();
        let mut h = frame.conjugate(&hess).view((0, 0), (m, m)).into_owned();
        let shift = xg / n as f64;
        for i in 0..m {
            h[(i, i)] -= shift;
        }
        Some(Local {
            f,
            g,
            h,
            radial: xg.abs() / norm,
            frame: Some(frame),
        })
    }

    /// The point reached from `x` by the local step `s`: x + s, or on the sphere the retraction
    /// of x + (s in ambient coordinates) back to |x|^2 = N.
    pub fn step(&self, x: &[f64], s: &DVector<f64>) -> Vec<f64> {
        match &self.frame {
            None => x.iter().zip(s.iter()).map(|(a, b)| a + b).collect(),
            Some(q) => {
                let z = q.embed_tangent(s);
                let mut y: Vec<f64> = x.iter().zip(z.iter()).map(|(a, b)| a + b).collect();
                sphere::retract(&mut y);
                y
            }
        }
    }
}

/// Value and |gradient| (Riemannian on the sphere) at `x`, without the Hessian; `None` when not
/// finite.
pub fn value_and_grad_norm(obj: &dyn Objective, x: &[f64]) -> Option<(f64, f64)> {
    let mut g = vec![0.0; x.len()];
    let f = obj.gradient(x, &mut g);
    if obj.sphere() {
        sphere::project(x, &mut g);
    }
    let gn = g.iter().map(|a| a * a).sum::<f64>().sqrt();
    (f.is_finite() && gn.is_finite()).then_some((f, gn))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::critical::testing::TwoSpin;

    #[test]
    fn householder_tangent_basis_is_orthonormal_and_normal_to_x() {
        let spin = TwoSpin::new(6, 3);
        let x = spin.random_point(1);
        let q = Householder::at(&x);
        let n = x.len();
        let xv = DVector::from_column_slice(&x);
        for i in 0..n - 1 {
            let ei = DVector::from_fn(n - 1, |k, _| if k == i { 1.0 } else { 0.0 });
            let bi = q.embed_tangent(&ei);
            assert!(bi.dot(&xv).abs() < 1e-12, "basis vector {i} not tangent");
            for j in 0..n - 1 {
                let ej = DVector::from_fn(n - 1, |k, _| if k == j { 1.0 } else { 0.0 });
                let d = bi.dot(&q.embed_tangent(&ej));
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((d - want).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn tangent_hessian_matches_projected_formula() {
        // Eigenvalues of P (Hess - (x.g/N) I) P on the tangent space = those of the local Hessian.
        let spin = TwoSpin::new(7, 11);
        let x = spin.random_point(2);
        let n = x.len();
        let local = Local::at(&spin, &x).unwrap();
        let mut grad = vec![0.0; n];
        spin.gradient(&x, &mut grad);
        let xv = DVector::from_column_slice(&x);
        let xg: f64 = xv.dot(&DVector::from_column_slice(&grad));
        let p = DMatrix::identity(n, n) - &xv * xv.transpose() / n as f64;
        let full = &p * (spin.hessian(&x) - DMatrix::identity(n, n) * (xg / n as f64)) * &p;
        let mut want = crate::critical::eigen::sorted_eigenvalues(full).unwrap();
        // The projected matrix has one extra zero eigenvalue, along x.
        let zero = want
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
            .unwrap()
            .0;
        want.remove(zero);
        let got = crate::critical::eigen::sorted_eigenvalues(local.h.clone()).unwrap();
        for (a, b) in got.iter().zip(&want) {
            assert!((a - b).abs() < 1e-10, "{got:?} vs {want:?}");
        }
        // |tangent gradient| = |P grad|.
        let (_, gn) = value_and_grad_norm(&spin, &x).unwrap();
        assert!((local.g.norm() - gn).abs() < 1e-12);
    }
}
