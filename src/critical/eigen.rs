//! Symmetric eigen-decomposition with eigenvalues in ascending order (nalgebra's
//! `SymmetricEigen` returns them unsorted) and a typed failure instead of a hang or a panic.

use nalgebra::{DMatrix, DVector, SymmetricEigen};

/// H = V diag(values) Vᵀ with `values` ascending and column j of `vectors` belonging to
/// `values[j]`.
#[derive(Debug, Clone)]
pub struct SortedEigen {
    pub values: DVector<f64>,
    pub vectors: DMatrix<f64>,
}

impl SortedEigen {
    /// Decomposes a symmetric matrix. `None` when an entry is not finite (the QR iteration would
    /// not converge) or when the iteration does not converge.
    pub fn new(h: DMatrix<f64>) -> Option<SortedEigen> {
        if !h.iter().all(|v| v.is_finite()) {
            return None;
        }
        let n = h.nrows();
        if n == 0 {
            return Some(SortedEigen {
                values: DVector::zeros(0),
                vectors: DMatrix::zeros(0, 0),
            });
        }
        // Implicit QR needs O(n) sweeps; the cap only guards against a pathological input.
        let eig = SymmetricEigen::try_new(h, f64::EPSILON, 1000 * n.max(30))?;
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| eig.eigenvalues[a].total_cmp(&eig.eigenvalues[b]));
        let values = DVector::from_iterator(n, order.iter().map(|&j| eig.eigenvalues[j]));
        let vectors = DMatrix::from_fn(n, n, |i, k| eig.eigenvectors[(i, order[k])]);
        Some(SortedEigen { values, vectors })
    }

    /// The minimum-norm solution of H s = b: eigenvalues with |λ| ≤ rcond · max|λ| count as zero
    /// (the pseudo-inverse H⁺ b).
    pub fn pinv_solve(&self, b: &DVector<f64>, rcond: f64) -> DVector<f64> {
        let cutoff = rcond * self.abs_max();
        let c = self.vectors.tr_mul(b);
        let scaled = DVector::from_iterator(
            c.len(),
            c.iter()
                .zip(self.values.iter())
                .map(|(ci, l)| if l.abs() > cutoff { ci / l } else { 0.0 }),
        );
        &self.vectors * scaled
    }

    /// The largest |eigenvalue| (0 for an empty matrix).
    pub fn abs_max(&self) -> f64 {
        self.values.iter().fold(0.0, |m, v| m.max(v.abs()))
    }
}

/// Ascending eigenvalues of a symmetric matrix; `None` as for [`SortedEigen::new`].
pub fn sorted_eigenvalues(h: DMatrix<f64>) -> Option<Vec<f64>> {
    if !h.iter().all(|v| v.is_finite()) {
        return None;
    }
    let n = h.nrows();
    let mut v: Vec<f64> = if n == 0 {
        Vec::new()
    } else {
        SymmetricEigen::try_new(h, f64::EPSILON, 1000 * n.max(30))?
            .eigenvalues
            .iter()
            .copied()
            .collect()
    };
    v.sort_by(f64::total_cmp);
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A symmetric matrix for which nalgebra's own eigenvalue order is not ascending.
    fn unsorted_case() -> DMatrix<f64> {
        DMatrix::from_row_slice(3, 3, &[5.0, 0.0, 0.0, 0.0, -3.0, 0.0, 0.0, 0.0, 1.0])
    }

    #[test]
    fn nalgebra_order_is_not_ascending_for_the_test_matrix() {
        // Guards the test below: if nalgebra ever sorted, it would test nothing.
        let raw = SymmetricEigen::new(unsorted_case()).eigenvalues;
        let raw: Vec<f64> = raw.iter().copied().collect();
        assert!(raw.windows(2).any(|w| w[0] > w[1]), "nalgebra gave {raw:?}");
    }

    #[test]
    fn eigenvalues_come_out_ascending_with_matching_vectors() {
        let h = unsorted_case();
        let e = SortedEigen::new(h.clone()).unwrap();
        let vals: Vec<f64> = e.values.iter().copied().collect();
        assert_eq!(vals.len(), 3);
        for (got, want) in vals.iter().zip([-3.0, 1.0, 5.0]) {
            assert!((got - want).abs() < 1e-12, "{vals:?}");
        }
        // Reconstruction: V diag(λ) Vᵀ = H, so each vector still belongs to its value.
        let rec = &e.vectors * DMatrix::from_diagonal(&e.values) * e.vectors.transpose();
        assert!((rec - &h).abs().max() < 1e-12);
        assert_eq!(sorted_eigenvalues(h).unwrap(), vals);
    }

    #[test]
    fn a_dense_random_matrix_reconstructs_and_sorts() {
        let mut s = crate::rng::Sampler::new(7, 0, crate::rng::Stream::Landscape);
        let n = 9;
        let a = DMatrix::from_fn(n, n, |_, _| s.normal());
        let h = &a + a.transpose();
        let e = SortedEigen::new(h.clone()).unwrap();
        assert!(e.values.as_slice().windows(2).all(|w| w[0] <= w[1]));
        let rec = &e.vectors * DMatrix::from_diagonal(&e.values) * e.vectors.transpose();
        assert!((rec - &h).abs().max() < 1e-10);
    }

    #[test]
    fn pseudo_inverse_ignores_the_null_space() {
        let e = SortedEigen::new(DMatrix::from_row_slice(2, 2, &[2.0, 0.0, 0.0, 0.0])).unwrap();
        let s = e.pinv_solve(&DVector::from_vec(vec![4.0, 1.0]), 1e-12);
        assert!((s[0] - 2.0).abs() < 1e-15 && s[1] == 0.0, "{s}");
    }

    #[test]
    fn non_finite_input_is_refused_not_hung() {
        let h = DMatrix::from_row_slice(2, 2, &[1.0, f64::NAN, f64::NAN, 1.0]);
        assert!(SortedEigen::new(h.clone()).is_none());
        assert!(sorted_eigenvalues(h).is_none());
    }
}
