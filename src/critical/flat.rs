//! Gradient-flat points (Frye, Gutenkunst et al. 2021, "Critical point-finding methods reveal
//! gradient-flat regions of deep network losses"): end states where ∇f is not zero but lies
//! mostly in the Hessian's near-kernel, so that H∇f ≈ 0. Gradient-norm minimisation and
//! Newton-type finders stall there (|∇f|² has a minimum or a flat direction) without reaching
//! a critical point. They are reported as kind `gradient-flat` with their r, the share of |∇f|²
//! in the near-kernel of H, and never counted as critical points.

use rayon::prelude::*;

use super::chart::Local;
use super::eigen::SortedEigen;
use crate::objective::Objective;

/// The near-kernel: eigenvectors with |λ| ≤ KERNEL_TOL · max(max|λ|, ABS_FLOOR). Looser than
/// the classification's zero eigenvalue (1e-6 of the largest): a walker stalls on directions of
/// small curvature long before they are exactly flat, and what matters is where ∇f points.
pub const KERNEL_TOL: f64 = 1e-3;
const ABS_FLOOR: f64 = 1e-12;
/// r above this: the gradient lies mostly in the near-kernel.
pub const SHARE: f64 = 0.5;
/// |∇f| at or below this times max(1, max|λ|·|x|) is zero (the polish's tolerance scale; such a
/// point is a critical point the polish did not reach, not a gradient-flat one).
const ZERO_GRAD: f64 = 1e-10;

/// One gradient-flat end state.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GradientFlat {
    pub walker: usize,
    pub f: f64,
    /// |∇f| (Riemannian on the sphere).
    pub grad_norm: f64,
    /// Share of |∇f|² in the near-kernel of H.
    pub r: f64,
    /// Dimension of the near-kernel.
    pub kernel_dim: usize,
}

/// f, |∇f|, r and the near-kernel's dimension at x; `None` where f, ∇f or H is not finite or
/// the gradient is zero (r undefined).
pub fn kernel_share(obj: &dyn Objective, x: &[f64]) -> Option<(f64, f64, f64, usize)> {
    let local = Local::at(obj, x)?;
    let g = &local.g;
    let gn = g.norm();
    let eig = SortedEigen::new(local.h.clone())?;
    let top = eig.abs_max();
    let xn = x.iter().map(|v| v * v).sum::<f64>().sqrt();
    if !gn.is_finite() || gn <= ZERO_GRAD * (1.0f64).max(top * xn) {
        return None;
    }
    let cut = KERNEL_TOL * top.max(ABS_FLOOR);
    let (mut share, mut dim) = (0.0, 0);
    for (k, lam) in eig.values.iter().enumerate() {
        if lam.abs() <= cut {
            let c = eig.vectors.column(k).dot(g);
            share += c * c;
            dim += 1;
        }
    }
    Some((local.f, gn, share / (gn * gn), dim))
}

/// The gradient-flat end states among the `candidates` (walkers W x N in `xs`, one flag each:
/// walkers that reached no critical point and did not diverge), in walker order.
pub fn find(obj: &dyn Objective, xs: &[f64], candidates: &[bool]) -> Vec<GradientFlat> {
    let n = obj.dim();
    candidates
        .par_iter()
        .enumerate()
        .filter(|(_, &c)| c)
        .filter_map(|(w, _)| {
            let x = xs.get(w * n..(w + 1) * n)?;
            let (f, grad_norm, r, kernel_dim) = kernel_share(obj, x)?;
            (r > SHARE).then_some(GradientFlat {
                walker: w,
                f,
                grad_norm,
                r,
                kernel_dim,
            })
        })
        .collect()
}

/// The walkers of a catalogue that are candidates: no critical point reached and not
/// diverged (`diverged[w]`).
pub fn candidates(cat: &super::Catalogue, diverged: &[bool]) -> Vec<bool> {
    (0..cat.outcomes.len())
        .map(|w| cat.point_of(w).is_none() && !diverged.get(w).copied().unwrap_or(false))
        .collect()
}

/// gradient_flat.csv: `walker,f,grad_norm,r,kernel_dim,kind`, one row per gradient-flat end
/// state (kind `gradient-flat`), in walker order.
pub fn write(folder: &crate::run::RunFolder, flats: &[GradientFlat]) -> std::io::Result<()> {
    use crate::output::{num, Csv};
    let mut csv = Csv::new("walker,f,grad_norm,r,kernel_dim,kind");
    for p in flats {
        csv.row(&[
            p.walker.to_string(),
            num(p.f),
            num(p.grad_norm),
            num(p.r),
            p.kernel_dim.to_string(),
            "gradient-flat".to_string(),
        ]);
    }
    folder.write_csv("gradient_flat.csv", &csv)
}

/// The manifest's `gradient_flat` object.
pub fn json(flats: &[GradientFlat], examined: usize) -> serde_json::Value {
    let rs = flats.iter().map(|p| p.r);
    serde_json::json!({
        "walkers": flats.len(),
        "examined": examined,
        "r_min": rs.clone().fold(f64::INFINITY, f64::min).min(1.0),
        "r_max": rs.fold(0.0, f64::max),
        "kernel_tol": KERNEL_TOL,
        "share": SHARE,
        "definition": "no critical point reached, |grad f| not zero, and r = the share of \
                       |grad f|^2 along Hessian eigenvectors with |lambda| <= kernel_tol * \
                       max|lambda| above share; never counted as critical points",
    })
}

/// The summary line, when there are gradient-flat end states.
pub fn summary_line(flats: &[GradientFlat]) -> Option<String> {
    if flats.is_empty() {
        return None;
    }
    let lo = flats.iter().map(|p| p.r).fold(f64::INFINITY, f64::min);
    let hi = flats.iter().map(|p| p.r).fold(0.0, f64::max);
    Some(format!(
        "gradient-flat end states (not critical points; ∇f in the Hessian's near-kernel): {} \
         walkers, r {lo:.3}..{hi:.3} (gradient_flat.csv)",
        flats.len()
    ))
}

#[cfg(test)]
mod tests {
    use nalgebra::DMatrix;

    use super::*;
    use crate::objective::{Domain, F32Error, Wgsl};
    use crate::walk::{cpu, Hyper, WalkPlan};

    /// f(x, y) = x²/2 + y + y³/3: ∇f = (x, 1 + y²) never vanishes, and ½|∇f|² has its
    /// minimum 1/2 at the origin, where H = diag(1, 2y) = diag(1, 0) and ∇f = (0, 1) lies
    /// exactly in the kernel of H (r = 1): an isolated gradient-flat point and no critical
    /// point anywhere.
    struct Fold;

    impl Objective for Fold {
        fn spec(&self) -> String {
            "fold".into()
        }
        fn dim(&self) -> usize {
            2
        }
        fn value(&self, x: &[f64]) -> f64 {
            0.5 * x[0] * x[0] + x[1] + x[1].powi(3) / 3.0
        }
        fn gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
            g[0] = x[0];
            g[1] = 1.0 + x[1] * x[1];
            self.value(x)
        }
        fn hessian(&self, x: &[f64]) -> DMatrix<f64> {
            DMatrix::from_row_slice(2, 2, &[1.0, 0.0, 0.0, 2.0 * x[1]])
        }
        fn domain(&self) -> Domain {
            Domain::Box { lo: -1.0, hi: 1.0 }
        }
        fn wgsl(&self) -> Wgsl {
            Wgsl::per_walker("")
        }
        fn f32_error(&self, _x: &[f64]) -> F32Error {
            F32Error { f: 0.0, grad: 0.0 }
        }
    }

    #[test]
    fn the_share_of_the_gradient_in_the_kernel_is_r() {
        let (f, g, r, dim) = kernel_share(&Fold, &[0.0, 0.0]).unwrap();
        assert_eq!((f, g, r, dim), (0.0, 1.0, 1.0, 1));
        // At (3, 0): ∇f = (3, 1), of which 1/10 of |∇f|² along the kernel e_y.
        let (_, _, r, _) = kernel_share(&Fold, &[3.0, 0.0]).unwrap();
        assert!((r - 0.1).abs() < 1e-15, "{r}");
        // At (0, 1): H = diag(1, 2) has no near-kernel, r = 0.
        assert_eq!(kernel_share(&Fold, &[0.0, 1.0]).unwrap().2, 0.0);
        let flats = find(
            &Fold,
            &[0.0, 0.0, 3.0, 0.0, 1e-6, 1e-5],
            &[true, true, true],
        );
        let walkers: Vec<usize> = flats.iter().map(|p| p.walker).collect();
        assert_eq!(
            walkers,
            vec![0, 2],
            "(3, 0) is on a slope, not gradient-flat"
        );
        assert!(
            find(&Fold, &[0.0, 0.0], &[false]).is_empty(),
            "only candidates"
        );
    }

    /// gradnorm (lr = 0.2), descent on ½|∇f|², ends at the gradient-flat origin from every start (as
    /// max_steps: |∇f| stays 1), polish finds no critical point there, and the end states are
    /// gradient-flat with r ≈ 1; none is counted as a critical point.
    #[test]
    fn gradnorm_stalls_at_gradient_flat_points_and_they_are_not_critical() {
        let opt = crate::rules::parse("gradnorm:lr=0.2").unwrap();
        let plan = WalkPlan {
            max_steps: 500,
            grad_tol: 1e-6,
            ..WalkPlan::default()
        };
        let starts = [0.7, -0.3, -0.4, 0.9, 0.05, 0.0, -0.9, 0.5];
        let hyper = Hyper::constant(&opt.hyper(), 4);
        let ends = cpu::run(&Fold, &opt, &plan, &starts, &hyper, &|_| {});
        let all = vec![true; 4];
        let cat = super::super::catalogue(&Fold, &ends.x, &all, &Default::default()).unwrap();
        assert!(
            cat.points.is_empty(),
            "no critical point exists: {:?} from {:?}",
            cat.points,
            ends.x
        );
        let flats = find(&Fold, &ends.x, &all);
        assert_eq!(flats.len(), 4, "{:?}", ends.x);
        for p in &flats {
            assert!(p.r > 0.99 && (p.grad_norm - 1.0).abs() < 1e-3, "{p:?}");
            assert_eq!(p.kernel_dim, 1);
        }
    }
}
