//! Symmetric eigen-decomposition with eigenvalues in ascending order (nalgebra's
//! `SymmetricEigen` returns them unsorted) and a typed failure instead of a hang or a panic.
//!
//! Below [`FAER_FROM`] the solver is nalgebra's implicit QR; from there on it is faer's
//! blocked divide-and-conquer solver, which measured 1.3× (N = 64) to 2–5× (N = 128–300)
//! nalgebra's points/s on the same matrices (BENCHMARKS.md, "Eigenvalue stage"). Both take the
//! matrix by value in f64 and return the same sorted result, so callers cannot tell them apart
//! beyond rounding; the tests hold the two against each other.

use nalgebra::{DMatrix, DVector, SymmetricEigen};

/// H = V diag(values) Vᵀ with `values` ascending and column j of `vectors` belonging to
/// `values[j]`.
#[derive(Debug, Clone)]
pub struct SortedEigen {
    pub values: DVector<f64>,
    pub vectors: DMatrix<f64>,
}

/// Matrix size from which the faer solver is used.
pub const FAER_FROM: usize = 64;

fn to_faer(h: &DMatrix<f64>) -> faer::Mat<f64> {
    faer::Mat::from_fn(h.nrows(), h.ncols(), |i, j| h[(i, j)])
}

/// faer's decomposition, ascending, as nalgebra types.
fn faer_eigen(h: &DMatrix<f64>) -> Option<SortedEigen> {
    let n = h.nrows();
    let e = to_faer(h).self_adjoint_eigen(faer::Side::Lower).ok()?;
    let (s, u) = (e.S(), e.U());
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| s[a].total_cmp(&s[b]));
    let values = DVector::from_iterator(n, order.iter().map(|&j| s[j]));
    let vectors = DMatrix::from_fn(n, n, |i, k| u[(i, order[k])]);
    values
        .iter()
        .all(|v| v.is_finite())
        .then_some(SortedEigen { values, vectors })
}

impl SortedEigen {
    /// Decomposes a symmetric matrix. `None` when an entry is not finite (the QR iteration would
    /// not converge) or when the iteration does not converge.
    pub fn new(h: DMatrix<f64>) -> Option<SortedEigen> {
        if !h.iter().all(|v| v.is_finite()) {
            return None;
        }
        let n = h.nrows();
        if n >= FAER_FROM {
            return faer_eigen(&h);
        }
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

/// Which symmetric eigensolver computes eigenvalues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Solver {
    /// nalgebra below N = 64 (`FAER_FROM`), faer from there on (what the pipeline uses).
    Auto,
    Nalgebra,
    Faer,
}

/// Ascending eigenvalues of a symmetric matrix; `None` as for [`SortedEigen::new`].
pub fn sorted_eigenvalues(h: DMatrix<f64>) -> Option<Vec<f64>> {
    sorted_eigenvalues_with(h, Solver::Auto)
}

/// [`sorted_eigenvalues`] with a chosen solver (benchmarks and the cross-check test).
pub fn sorted_eigenvalues_with(h: DMatrix<f64>, solver: Solver) -> Option<Vec<f64>> {
    if !h.iter().all(|v| v.is_finite()) {
        return None;
    }
    let n = h.nrows();
    let faer = match solver {
        Solver::Auto => n >= FAER_FROM,
        Solver::Nalgebra => false,
        Solver::Faer => true,
    };
    let mut v: Vec<f64> = if n == 0 {
        Vec::new()
    } else if faer {
        to_faer(&h)
            .self_adjoint_eigenvalues(faer::Side::Lower)
            .ok()?
    } else {
        SymmetricEigen::try_new(h, f64::EPSILON, 1000 * n.max(30))?
            .eigenvalues
            .iter()
            .copied()
            .collect()
    };
    v.sort_by(f64::total_cmp);
    v.iter().all(|x| x.is_finite()).then_some(v)
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
    fn faer_and_nalgebra_agree_across_the_switch() {
        let mut s = crate::rng::Sampler::new(11, 0, crate::rng::Stream::Landscape);
        for n in [FAER_FROM - 1, FAER_FROM, 100] {
            let a = DMatrix::from_fn(n, n, |_, _| s.normal());
            let h = &a + a.transpose();
            let na = sorted_eigenvalues_with(h.clone(), Solver::Nalgebra).unwrap();
            let fa = sorted_eigenvalues_with(h.clone(), Solver::Faer).unwrap();
            assert!(na
                .iter()
                .zip(&fa)
                .all(|(a, b)| (a - b).abs() < 1e-12 * a.abs().max(1.0) * n as f64));
            let scale = na.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let got = sorted_eigenvalues(h.clone()).unwrap();
            let full = SortedEigen::new(h.clone()).unwrap();
            for ((g, f), w) in got.iter().zip(full.values.iter()).zip(&na) {
                assert!(
                    (g - w).abs() < 1e-12 * scale && (f - w).abs() < 1e-12 * scale,
                    "n={n}"
                );
            }
            let rec =
                &full.vectors * DMatrix::from_diagonal(&full.values) * full.vectors.transpose();
            assert!((rec - &h).abs().max() < 1e-11 * scale, "n={n}");
        }
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
