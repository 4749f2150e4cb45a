//! Classify: the kind and index of a critical point from its Hessian eigenvalues (Euclidean, or
//! on the sphere the Riemannian Hessian on the tangent space).

use std::fmt;

use super::chart::Local;
use super::eigen::{sorted_eigenvalues, SortedEigen};
use crate::objective::Objective;

/// Options of [`classify`] and [`classify_at`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClassifyOptions {
    /// An eigenvalue counts as zero when |λ| ≤ `zero_tol` · max(max|λ|, `abs_floor`).
    /// Default 1e-6. After polishing to |∇f| ≤ 1e-10 · scale (see
    /// [`super::PolishOptions::grad_tol`]) the point is off the exact critical point by about
    /// 1e-10 · κ relative (κ the Hessian's condition number), which moves the eigenvalues by a
    /// comparable relative amount; the symmetric eigensolver adds ≈ 1e-15 · max|λ|. Nonzero
    /// eigenvalues are therefore resolved to far better than 1e-6 of the largest, with four
    /// orders of margin for third-derivative effects, while a curvature below 1e-6 of the largest
    /// is beyond anything the f32 walkers on the GPU can tell apart from flat (f32 resolves
    /// about 1e-7 relative) and is honestly reported as degenerate.
    pub zero_tol: f64,
    /// Absolute floor of the eigenvalue scale, so an all-zero (or all-tiny) Hessian is
    /// degenerate rather than compared with itself. Default 1e-12.
    pub abs_floor: f64,
    /// [`classify_at`] also counts an eigenvalue as zero when it changes by more than this
    /// fraction of itself between x and the Newton estimate x - H⁺∇f of the exact critical
    /// point. Default 0.25. At a nondegenerate point that remaining step is about 1e-10 relative
    /// and the eigenvalues do not move; at a degenerate one whose Hessian vanishes along some
    /// direction (the monkey saddle x³ - 3xy², a quartic minimum) Newton converges only
    /// linearly, the polished point lies a fixed fraction of its own distance from the exact
    /// one, and the small eigenvalues shrink by a fixed factor over that step (by 1/2 or more
    /// for any polynomial degeneracy), however small the point's own Hessian already is.
    pub stability_tol: f64,
}

impl Default for ClassifyOptions {
    fn default() -> Self {
        ClassifyOptions {
            zero_tol: 1e-6,
            abs_floor: 1e-12,
            stability_tol: 0.25,
        }
    }
}

/// What kind of critical point, from the signs of the Hessian eigenvalues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// All eigenvalues positive.
    Minimum,
    /// Both signs, none near zero; the index is the number of negative eigenvalues.
    Saddle,
    /// All eigenvalues negative.
    Maximum,
    /// At least one eigenvalue near zero (flat direction, plateau, or higher-order point).
    Degenerate,
}

impl Kind {
    /// Every kind's name, as the tables write it.
    pub const NAMES: &'static [&'static str] = &["minimum", "saddle", "maximum", "degenerate"];

    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Minimum => "minimum",
            Kind::Saddle => "saddle",
            Kind::Maximum => "maximum",
            Kind::Degenerate => "degenerate",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Eigenvalue counts and kind of one critical point.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Classification {
    /// Morse index: the number of negative eigenvalues (= `n_neg`).
    pub index: usize,
    pub n_neg: usize,
    pub n_zero: usize,
    pub n_pos: usize,
    pub kind: Kind,
    /// Smallest and largest eigenvalue (0 when there are none).
    pub min_eig: f64,
    pub max_eig: f64,
}

/// Classifies from eigenvalues (any order; they are sorted here before use) by the relative
/// zero test alone. [`classify_at`] adds the stability test and is what the catalogue uses.
pub fn classify(eigenvalues: &[f64], opts: &ClassifyOptions) -> Classification {
    let mut lam = eigenvalues.to_vec();
    lam.sort_by(f64::total_cmp);
    classify_sorted(&lam, &vec![false; lam.len()], opts)
}

/// `unstable[i]` forces `lam[i]` (ascending) to count as zero.
fn classify_sorted(lam: &[f64], unstable: &[bool], opts: &ClassifyOptions) -> Classification {
    let scale = lam.iter().fold(opts.abs_floor, |m, v| m.max(v.abs()));
    let zero = opts.zero_tol * scale;
    let is_zero = |i: usize| lam[i].abs() <= zero || unstable[i];
    let n_zero = (0..lam.len()).filter(|&i| is_zero(i)).count();
    let n_neg = (0..lam.len())
        .filter(|&i| !is_zero(i) && lam[i] < 0.0)
        .count();
    let n_pos = (0..lam.len())
        .filter(|&i| !is_zero(i) && lam[i] > 0.0)
        .count();
    let kind = if n_zero > 0 {
        Kind::Degenerate
    } else if n_neg == 0 {
        Kind::Minimum
    } else if n_pos == 0 {
        Kind::Maximum
    } else {
        Kind::Saddle
    };
    Classification {
        index: n_neg,
        n_neg,
        n_zero,
        n_pos,
        kind,
        min_eig: lam.first().copied().unwrap_or(0.0),
        max_eig: lam.last().copied().unwrap_or(0.0),
    }
}

/// Eigenvalues of the Hessian at `x` (ascending; Riemannian tangent-space Hessian on the sphere)
/// and their classification by the relative zero test and the stability test (see
/// [`ClassifyOptions::stability_tol`]). `None` when the Hessian at x or at the Newton point is
/// not finite.
pub fn classify_at(
    obj: &dyn Objective,
    x: &[f64],
    opts: &ClassifyOptions,
) -> Option<(Vec<f64>, Classification)> {
    let local = Local::at(obj, x)?;
    let eig = SortedEigen::new(local.h.clone())?;
    let step = -eig.pinv_solve(&local.g, 1e-12);
    let lam: Vec<f64> = eig.values.iter().copied().collect();
    let next = hessian_eigenvalues(obj, &local.step(x, &step))?;
    let unstable: Vec<bool> = lam
        .iter()
        .zip(&next)
        .map(|(a, b)| (a - b).abs() > opts.stability_tol * a.abs())
        .collect();
    let c = classify_sorted(&lam, &unstable, opts);
    Some((lam, c))
}

/// Ascending eigenvalues of the Hessian at `x`: Euclidean, or for sphere objectives the
/// Riemannian Hessian on the (N-1)-dimensional tangent space (x must lie on |x|² = N). `None`
/// when the Hessian is not finite.
pub fn hessian_eigenvalues(obj: &dyn Objective, x: &[f64]) -> Option<Vec<f64>> {
    sorted_eigenvalues(Local::at(obj, x)?.h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::critical::polish::{polish, PolishOptions};
    use crate::critical::testing::{
        CosProduct, FlatDirection, FlatWell, MonkeySaddle, Quadratic, QuarticValley, TwoSpin,
    };
    use crate::objective::Objective;

    fn polished_class(obj: &dyn Objective, x0: &[f64]) -> (Vec<f64>, Classification) {
        let p = polish(obj, x0, &PolishOptions::default())
            .unwrap_or_else(|e| panic!("{}: {e}", obj.spec()));
        let c = classify(&p.eigenvalues, &ClassifyOptions::default());
        (p.x, c)
    }

    fn counts(c: &Classification) -> (usize, usize, usize) {
        (c.n_neg, c.n_zero, c.n_pos)
    }

    #[test]
    fn counts_and_kinds_from_eigenvalues() {
        let o = ClassifyOptions::default();
        let c = classify(&[3.0, -1.0, 2.0, -0.5], &o);
        assert_eq!((c.kind, c.index, counts(&c)), (Kind::Saddle, 2, (2, 0, 2)));
        assert_eq!((c.min_eig, c.max_eig), (-1.0, 3.0));
        assert_eq!(classify(&[1.0, 2.0], &o).kind, Kind::Minimum);
        assert_eq!(classify(&[-1.0, -2.0], &o).kind, Kind::Maximum);
        let c = classify(&[1.0, 1e-9, -2.0], &o);
        assert_eq!((c.kind, counts(&c)), (Kind::Degenerate, (1, 1, 1)));
        // An all-zero Hessian is degenerate, not compared with itself.
        let c = classify(&[0.0, 0.0], &o);
        assert_eq!((c.kind, counts(&c)), (Kind::Degenerate, (0, 2, 0)));
        // Relative, not absolute: a tiny but well-conditioned Hessian keeps its signs.
        let c = classify(&[1e-11, -1e-11], &o);
        assert_eq!((c.kind, c.index), (Kind::Saddle, 1));
    }

    #[test]
    fn quadratic_with_chosen_eigenvalues() {
        let lam = [-3.0, -1.0, 0.5, 2.0, 4.0];
        let centre = [0.3, -1.2, 2.0, 0.0, 5.0];
        let q = Quadratic::new(&lam, &centre, 17);
        let x0: Vec<f64> = centre.iter().map(|c| c + 0.01).collect();
        let (x, c) = polished_class(&q, &x0);
        for (a, b) in x.iter().zip(centre) {
            assert!((a - b).abs() < 1e-9, "{x:?}");
        }
        assert_eq!((c.kind, c.index, counts(&c)), (Kind::Saddle, 2, (2, 0, 3)));
        assert!((c.min_eig + 3.0).abs() < 1e-12 && (c.max_eig - 4.0).abs() < 1e-12);

        let q = Quadratic::new(&[0.5, 1.0, 7.0], &[1.0, 2.0, 3.0], 5);
        let (_, c) = polished_class(&q, &[1.1, 1.9, 3.05]);
        assert_eq!((c.kind, counts(&c)), (Kind::Minimum, (0, 0, 3)));
    }

    #[test]
    fn maximum_of_a_nonquadratic_function() {
        let (x, c) = polished_class(&CosProduct, &[0.05, -0.08, 0.06]);
        assert!(x.iter().all(|v| v.abs() < 1e-9), "{x:?}");
        assert_eq!((c.kind, c.index, counts(&c)), (Kind::Maximum, 3, (3, 0, 0)));
        assert!((c.min_eig + 1.0).abs() < 1e-9 && (c.max_eig + 1.0).abs() < 1e-9);
    }

    #[test]
    fn flat_direction_is_degenerate() {
        // A line of critical points (0, y, 0): polish keeps y and classifies with one zero.
        let (x, c) = polished_class(&FlatDirection, &[0.01, 0.7, -0.02]);
        assert!(x[0].abs() < 1e-12 && x[2].abs() < 1e-12);
        assert!(
            (x[1] - 0.7).abs() < 1e-12,
            "moved along the flat direction: {x:?}"
        );
        assert_eq!(
            (c.kind, c.index, counts(&c)),
            (Kind::Degenerate, 1, (1, 1, 1))
        );
    }

    #[test]
    fn quartic_minimum_is_degenerate() {
        let (x, _) = polished_class(&QuarticValley, &[0.05, 0.1]);
        assert!(x[0].abs() < 1e-10 && x[1].abs() < 1e-3, "{x:?}");
        let (_, c) = classify_at(&QuarticValley, &x, &ClassifyOptions::default()).unwrap();
        assert_eq!((c.kind, counts(&c)), (Kind::Degenerate, (0, 1, 1)));
    }

    #[test]
    fn monkey_saddle_with_vanishing_hessian_is_degenerate() {
        // The polished point's Hessian is tiny but well-conditioned, so the relative test alone
        // sees a saddle; the stability test sees both eigenvalues halve under the Newton step.
        let (x, rel) = polished_class(&MonkeySaddle, &[0.02, -0.01]);
        assert!(x.iter().all(|v| v.abs() < 1e-4), "{x:?}");
        assert_eq!(
            rel.kind,
            Kind::Saddle,
            "premise: the relative test is fooled"
        );
        let (lam, c) = classify_at(&MonkeySaddle, &x, &ClassifyOptions::default()).unwrap();
        assert_eq!(
            (c.kind, counts(&c)),
            (Kind::Degenerate, (0, 2, 0)),
            "{lam:?}"
        );
    }

    #[test]
    fn stability_test_keeps_nondegenerate_points() {
        let q = Quadratic::new(&[-3.0, 1e-3, 2.0], &[1.0, 2.0, 3.0], 9);
        let p = polish(&q, &[1.01, 2.01, 2.99], &PolishOptions::default()).unwrap();
        let (_, c) = classify_at(&q, &p.x, &ClassifyOptions::default()).unwrap();
        assert_eq!((c.kind, counts(&c)), (Kind::Saddle, (1, 0, 2)));
        let (_, c) =
            classify_at(&CosProduct, &[0.0, 0.0, 0.0], &ClassifyOptions::default()).unwrap();
        assert_eq!((c.kind, counts(&c)), (Kind::Maximum, (3, 0, 0)));
        let spin = TwoSpin::new(6, 1);
        let e = crate::critical::eigen::SortedEigen::new(spin.a.clone()).unwrap();
        let x: Vec<f64> = e
            .vectors
            .column(2)
            .iter()
            .map(|v| v * 6f64.sqrt())
            .collect();
        let (lam, c) = classify_at(&spin, &x, &ClassifyOptions::default()).unwrap();
        assert_eq!((lam.len(), c.kind, c.index), (5, Kind::Saddle, 2));
    }

    #[test]
    fn plateau_point_is_accepted_in_place_and_degenerate() {
        let well = FlatWell { n: 3 };
        let x0 = [0.2, -0.3, 0.1];
        let p = polish(&well, &x0, &PolishOptions::default()).unwrap();
        assert_eq!((p.x.as_slice(), p.iterations), (&x0[..], 0));
        let c = classify(&p.eigenvalues, &ClassifyOptions::default());
        assert_eq!((c.kind, counts(&c)), (Kind::Degenerate, (0, 3, 0)));
    }

    #[test]
    fn hessian_eigenvalues_standalone_are_sorted() {
        let q = Quadratic::new(&[4.0, -2.0, 1.0], &[0.0; 3], 2);
        let e = hessian_eigenvalues(&q, &[0.0; 3]).unwrap();
        for (a, b) in e.iter().zip([-2.0, 1.0, 4.0]) {
            assert!((a - b).abs() < 1e-12, "{e:?}");
        }
    }
}
