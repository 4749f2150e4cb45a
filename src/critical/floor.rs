//! End states of f32 walks that stopped at the f32 resolution floor.
//!
//! A walk that keeps x in f32 (a GPU walk) cannot bring |∇f| below what rounding x to f32 moves
//! it by: with δ_i = ±½ ulp(x_i), ∇f(x + δ) − ∇f(x) ≈ H δ. Where that floor is above --grad-tol
//! no walker converges, however many steps it takes: a stable gradient step (lr · λ < 1) moves
//! a coordinate by lr · g_i < ½ ulp(x_i) once |g| is at the floor, so x stops changing. Such a
//! walker sits at its critical point to f32 resolution, as close as an f32 point can get; the
//! f64 polish finishes it in a step or two (rastrigin at N = 64: floor 4e-4 against the default
//! tolerance 1e-4, and without this every walker of a default `sample` on a GPU was dropped from
//! the catalogue).
//!
//! So the catalogue takes, besides converged walkers, those of an f32 walk that ran out of steps
//! with |∇f| (in f64, at the end state) at most [`FLOOR_FACTOR`] times their own floor. The walk's
//! statuses are left as they are: those walkers did not meet --grad-tol, and the counts say so.

use rayon::prelude::*;

use super::chart::value_and_grad_norm;
use crate::objective::{sphere, Objective};
use crate::run::Timings;
use crate::walk::state::Status;
use crate::walk::EndStates;

/// A walker that ran out of steps counts as stopped at the floor when its |∇f| is at most this
/// many times its floor. The floor is the size of one rounding of x; where the gradient steps
/// stall, |g_i| < ½ ulp(x_i) / lr, i.e. |g| ≤ floor / (lr λ) for the curvatures λ the rounding
/// meets, so a step size down to a quarter of the stable 1/λ still counts, and a walker still
/// descending with |∇f| far above the floor does not.
pub const FLOOR_FACTOR: f64 = 4.0;

/// |∇f(x + δ) − ∇f(x)| to first order (|H δ|; on the sphere the Riemannian Hessian
/// P (H − (x·∇f/|x|²) I) P applied to the tangent part of δ), for δ_i = ± half an f32 ulp of x_i
/// with alternating signs: how far rounding x to f32 alone moves the gradient at x. None where
/// it is not finite.
pub fn resolution_floor(obj: &dyn Objective, x: &[f64]) -> Option<f64> {
    let n = x.len();
    let mut d: Vec<f64> = x
        .iter()
        .enumerate()
        .map(|(j, &xj)| {
            let v = (xj as f32).abs();
            let half_ulp = 0.5 * f64::from(f32::from_bits(v.to_bits() + 1) - v);
            if j % 2 == 0 {
                half_ulp
            } else {
                -half_ulp
            }
        })
        .collect();
    let mut hd = vec![0.0; n];
    if obj.sphere() {
        sphere::project(x, &mut d);
        obj.hvp(x, &d, &mut hd);
        let mut g = vec![0.0; n];
        obj.gradient(x, &mut g);
        let xx: f64 = x.iter().map(|v| v * v).sum();
        let mu = x.iter().zip(&g).map(|(a, b)| a * b).sum::<f64>() / xx;
        for (h, di) in hd.iter_mut().zip(&d) {
            *h -= mu * di;
        }
        sphere::project(x, &mut hd);
    } else {
        obj.hvp(x, &d, &mut hd);
    }
    let norm = hd.iter().map(|v| v * v).sum::<f64>().sqrt();
    norm.is_finite().then_some(norm)
}

/// The walkers of a walk that stopped at the f32 resolution floor, and how far the floor was.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AtFloor {
    /// Per walker: it ran out of steps with |∇f| ≤ [`FLOOR_FACTOR`] · its floor.
    pub walkers: Vec<bool>,
    /// How many did.
    pub count: usize,
    /// The median floor over them (None when there are none).
    pub median_floor: Option<f64>,
}

impl AtFloor {
    /// Which walkers the catalogue takes: the converged ones and those at the floor.
    pub fn eligible(&self, status: &[Status]) -> Vec<bool> {
        status
            .iter()
            .enumerate()
            .map(|(w, &s)| s == Status::Converged || self.walkers.get(w) == Some(&true))
            .collect()
    }

    /// The summary line saying what the catalogue did with them (None when there are none).
    pub fn note(&self) -> Option<String> {
        let floor = self.median_floor?;
        Some(format!(
            "note: {} walker{} ran out of steps at the f32 resolution floor of the walk (|grad| \
             at most {FLOOR_FACTOR}x what rounding x to f32 moves it by, a median {floor:.1e}): \
             they sit at critical points to f32 resolution, and the catalogue polished them in \
             f64 with the converged walkers",
            self.count,
            if self.count == 1 { "" } else { "s" }
        ))
    }
}

/// [`AtFloor`] of end states `x` (W x N) with `status`, from a walk whose state was in
/// `precision` ("f32" for a GPU walk): empty for an f64 walk, whose state has no such floor.
pub fn at_floor(obj: &dyn Objective, x: &[f64], status: &[Status], precision: &str) -> AtFloor {
    let n = obj.dim().max(1);
    if precision != "f32" || x.len() != status.len() * n {
        return AtFloor {
            walkers: vec![false; status.len()],
            ..AtFloor::default()
        };
    }
    let floors: Vec<Option<f64>> = (0..status.len())
        .into_par_iter()
        .map(|w| {
            if status[w] != Status::MaxSteps {
                return None;
            }
            let p = &x[w * n..(w + 1) * n];
            let floor = resolution_floor(obj, p)?;
            let (_, g) = value_and_grad_norm(obj, p)?;
            (floor > 0.0 && g <= FLOOR_FACTOR * floor).then_some(floor)
        })
        .collect();
    let mut at: Vec<f64> = floors.iter().flatten().copied().collect();
    at.sort_by(f64::total_cmp);
    AtFloor {
        walkers: floors.iter().map(Option::is_some).collect(),
        count: at.len(),
        median_floor: at.get(at.len() / 2).copied(),
    }
}

/// [`at_floor`] of a walk's end states.
pub fn of_ends(obj: &dyn Objective, ends: &EndStates) -> AtFloor {
    at_floor(obj, &ends.x, &ends.status, ends.precision)
}

/// [`of_ends`], its time the `f32_floor` stage of `timings` (an f64 walk adds no stage).
pub fn timed(obj: &dyn Objective, ends: &EndStates, timings: &mut Timings) -> AtFloor {
    if ends.precision == "f32" {
        timings.time("f32_floor", || of_ends(obj, ends))
    } else {
        of_ends(obj, ends)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objective::parse;

    fn walker_at(obj: &dyn Objective, x: Vec<f64>, status: Status, precision: &str) -> AtFloor {
        at_floor(obj, &x, &[status], precision)
    }

    #[test]
    fn a_rastrigin_minimum_rounded_to_f32_is_at_the_floor_and_a_slope_is_not() {
        let obj = parse("rastrigin:n=64").unwrap();
        // The local minima of rastrigin lie near the integers; rounding one to f32 leaves it
        // within half an ulp, so |∇f| there is the floor's size.
        let mut min: Vec<f64> = (0..64).map(|i| f64::from(i % 7) - 3.0).collect();
        let opts = crate::critical::PolishOptions::default();
        min = crate::critical::polish(obj.as_ref(), &min, &opts)
            .unwrap()
            .x;
        let rounded: Vec<f64> = min.iter().map(|&v| f64::from(v as f32)).collect();
        let floor = resolution_floor(obj.as_ref(), &rounded).unwrap();
        // 400 (the curvature) x half an ulp of 3 (1.2e-7) x 8 (√64): about 4e-4.
        assert!(floor > 1e-4 && floor < 1e-3, "{floor}");
        let at = walker_at(obj.as_ref(), rounded.clone(), Status::MaxSteps, "f32");
        assert_eq!((at.count, at.walkers.clone()), (1, vec![true]));
        assert_eq!(at.eligible(&[Status::MaxSteps]), vec![true]);
        assert!(
            at.note().unwrap().contains("1 walker ran out"),
            "{:?}",
            at.note()
        );
        // An f64 walk has no such floor, and a converged or diverged walker is not examined.
        assert_eq!(
            walker_at(obj.as_ref(), rounded.clone(), Status::MaxSteps, "f64").count,
            0
        );
        assert_eq!(
            walker_at(obj.as_ref(), rounded.clone(), Status::Diverged, "f32").count,
            0
        );
        // A point a hundredth away from the minimum has |∇f| ≈ 400 · 0.01 · 8 ≫ the floor.
        let off: Vec<f64> = rounded.iter().map(|v| v + 0.01).collect();
        let at = walker_at(obj.as_ref(), off, Status::MaxSteps, "f32");
        assert_eq!(at.count, 0);
        assert_eq!(at.eligible(&[Status::MaxSteps]), vec![false]);
        assert_eq!(at.note(), None);
    }

    #[test]
    fn the_floor_is_the_gradient_change_rounding_to_f32_makes() {
        // Against the gradient difference itself, at a point of a p-spin (sphere) and of a
        // field: |∇f(x + δ) − ∇f(x)| for the δ the floor is made of, Riemannian on the sphere.
        for spec in ["pspin:p=3,n=64,seed=2", "field:n=33,features=512,seed=1"] {
            let obj = parse(spec).unwrap();
            let n = obj.dim();
            // At a critical point, where the floor matters (elsewhere, on the sphere, moving
            // along the tangent also turns the normal part of the gradient).
            // (the first of a few deterministic starts that polishes to one).
            let opts = crate::critical::PolishOptions {
                max_drift: f64::INFINITY,
                max_iter: 200,
                ..Default::default()
            };
            let x = (1..40)
                .find_map(|k| {
                    let mut x0: Vec<f64> = (0..n)
                        .map(|i| ((i * 37 * k % 11) as f64 - 5.0) / (3.0 * k as f64))
                        .collect();
                    if obj.sphere() {
                        sphere::retract(&mut x0);
                    }
                    crate::critical::polish(obj.as_ref(), &x0, &opts).ok()
                })
                .unwrap_or_else(|| panic!("{spec}: no start polished"))
                .x;
            let floor = resolution_floor(obj.as_ref(), &x).unwrap();
            // δ scaled up 1e4 so the difference is far above f64 rounding, then scaled back
            // (they agree to 1e-4; leaving out the sphere's x·∇f term is 3% off on the p-spin).
            let s = 1e4;
            let d: Vec<f64> = x
                .iter()
                .enumerate()
                .map(|(j, &xj)| {
                    let v = (xj as f32).abs();
                    let h = 0.5 * f64::from(f32::from_bits(v.to_bits() + 1) - v) * s;
                    if j % 2 == 0 {
                        h
                    } else {
                        -h
                    }
                })
                .collect();
            let grad = |p: &[f64]| {
                let mut g = vec![0.0; n];
                obj.gradient(p, &mut g);
                if obj.sphere() {
                    sphere::project(p, &mut g);
                }
                g
            };
            let mut moved: Vec<f64> = x.iter().zip(&d).map(|(a, b)| a + b).collect();
            if obj.sphere() {
                sphere::retract(&mut moved);
            }
            let (g0, g1) = (grad(&x), grad(&moved));
            let diff = g0
                .iter()
                .zip(&g1)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                .sqrt()
                / s;
            assert!(
                (floor - diff).abs() <= 0.01 * diff,
                "{spec}: floor {floor:e} against the gradient change {diff:e}"
            );
        }
    }
}
