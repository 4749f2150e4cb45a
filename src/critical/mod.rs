//! Critical points: polish walker end states in f64 (Newton on ∇f = 0), classify them by their
//! Hessian eigenvalues, and group them into a catalogue of distinct critical points.
//!
//! [`catalogue`] is the entry point of the pipeline stage; [`polish()`], [`classify()`] and
//! [`cluster::group`] are its parts, usable alone.

pub(crate) mod chart;
pub mod classify;
pub mod cluster;
pub mod coverage;
pub mod eigen;
pub mod files;
pub mod flat;
pub mod floor;
pub mod index_loss;
pub mod load;
pub mod mirror;
pub mod polish;
pub mod spectrum;
#[cfg(test)]
pub(crate) mod testing;

use rayon::prelude::*;

pub use classify::{
    classify, classify_at, hessian_eigenvalues, Classification, ClassifyOptions, Kind,
};
pub use polish::{polish, PolishFailure, PolishOptions, Polished};

use crate::objective::Objective;

/// The largest dimension the catalogue classifies: every polished walker needs its dense f64
/// N x N Hessian and an eigen-decomposition (several N^2 buffers per thread, 512 MiB each at
/// N = 8192, and O(N^3) work), so larger N would exhaust memory after the walk.
pub const MAX_DIM: usize = 8192;

/// A usage error for a catalogue of an objective with more than [`MAX_DIM`] dimensions;
/// `skip` names how the command can run without one.
pub fn check_dim(obj: &dyn Objective, skip: &str) -> Result<(), crate::spec::SpecError> {
    if obj.dim() <= MAX_DIM {
        return Ok(());
    }
    Err(crate::spec::SpecError::Invalid(format!(
        "{} has N = {}; the critical-point catalogue (dense N x N Hessians) works for \
         N <= {MAX_DIM}; {skip}",
        obj.spec(),
        obj.dim()
    )))
}

/// Options of [`catalogue`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CatalogueOptions {
    pub polish: PolishOptions,
    pub classify: ClassifyOptions,
    /// Two polished points are the same critical point when they lie within
    /// `pos_tol · max(√N, |x|)` (see [`cluster::tolerance`]; on the sphere that is an angle).
    /// Default 1e-5. Polishing leaves a nondegenerate point within about
    /// `grad_tol · κ = 1e-10 · κ` of the exact one, relative (κ the Hessian's condition number),
    /// so copies of one point merge for κ up to 1e5 — and Newton's last step usually lands far
    /// below the tolerance — while distinct critical points of a landscape lie at distances of
    /// the order of its feature size, many orders of magnitude more than 1e-5 of it.
    /// Degenerate points (plateaus, lines of critical points) are not isolated: copies spread
    /// along the flat directions and remain separate points, each marked degenerate.
    pub pos_tol: f64,
}

impl Default for CatalogueOptions {
    fn default() -> Self {
        CatalogueOptions {
            polish: PolishOptions::default(),
            classify: ClassifyOptions::default(),
            pos_tol: 1e-5,
        }
    }
}

/// One distinct critical point.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CriticalPoint {
    /// 0-based, in order of increasing f (ties broken by coordinates).
    pub id: usize,
    /// Position: the member of the group with the smallest polished |∇f| (ties: lowest walker).
    pub x: Vec<f64>,
    pub f: f64,
    /// |∇f| at `x` (Riemannian on the sphere).
    pub grad_norm: f64,
    /// Morse index (= n_neg).
    pub index: usize,
    pub n_neg: usize,
    pub n_zero: usize,
    pub n_pos: usize,
    pub kind: Kind,
    /// Walkers whose end state polished to this point.
    pub walkers: usize,
    /// Hessian eigenvalues at `x`, ascending (Riemannian tangent-space Hessian on the sphere).
    pub eigenvalues: Vec<f64>,
    pub min_eig: f64,
    pub max_eig: f64,
}

/// What became of one walker.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Marked ineligible by the caller (diverged or unconverged walker).
    Ineligible,
    /// Polishing failed.
    Failed(PolishFailure),
    /// Reached the critical point with this id.
    Point(usize),
}

/// Walkers per Morse index, for histograms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct IndexBin {
    pub index: usize,
    /// Walkers at critical points of this index, and those of them at degenerate points.
    pub walkers: usize,
    pub walkers_degenerate: usize,
    /// Distinct critical points of this index, and those of them that are degenerate.
    pub points: usize,
    pub points_degenerate: usize,
}

/// The distinct critical points reached by a set of walkers.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalogue {
    /// Distinct critical points, `points[id].id == id`.
    pub points: Vec<CriticalPoint>,
    /// One outcome per walker, in walker order.
    pub outcomes: Vec<Outcome>,
}

/// The catalogue's input does not fit together.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CatalogueError {
    #[error(
        "end states hold {len} numbers, not walkers x dimension = {walkers} x {dim} \
         (one eligibility flag per walker)"
    )]
    Shape {
        len: usize,
        walkers: usize,
        dim: usize,
    },
}

impl Catalogue {
    /// The critical point walker `w` reached, if any.
    pub fn point_of(&self, w: usize) -> Option<usize> {
        match self.outcomes.get(w) {
            Some(Outcome::Point(id)) => Some(*id),
            _ => None,
        }
    }

    /// Per-walker point ids with -1 for none (ineligible or failed), for arrays and tables.
    pub fn labels(&self) -> Vec<i64> {
        (0..self.outcomes.len())
            .map(|w| self.point_of(w).map_or(-1, |id| id as i64))
            .collect()
    }

    /// Walkers that did not reach a critical point, counted by reason (`ineligible` and the
    /// [`PolishFailure::reason`] names), sorted by name.
    pub fn failures(&self) -> Vec<(&'static str, usize)> {
        let mut m = std::collections::BTreeMap::new();
        for o in &self.outcomes {
            let key = match o {
                Outcome::Ineligible => "ineligible",
                Outcome::Failed(e) => e.reason(),
                Outcome::Point(_) => continue,
            };
            *m.entry(key).or_insert(0) += 1;
        }
        m.into_iter().collect()
    }

    /// How complete the catalogue is: points found once and twice, and the estimated number of
    /// critical points, overall and per index (degenerate points left out).
    pub fn coverage(&self) -> coverage::CatalogueCoverage {
        coverage::CatalogueCoverage::of(self.points.iter().map(|p| coverage::Counted {
            index: p.index,
            walkers: p.walkers,
            degenerate: p.kind == Kind::Degenerate,
        }))
    }

    /// Walkers and distinct points per index, for every index from 0 to the largest present.
    pub fn index_histogram(&self) -> Vec<IndexBin> {
        let top = self
            .points
            .iter()
            .map(|p| p.index)
            .max()
            .map_or(0, |m| m + 1);
        let mut bins: Vec<IndexBin> = (0..top)
            .map(|index| IndexBin {
                index,
                ..IndexBin::default()
            })
            .collect();
        for p in &self.points {
            let b = &mut bins[p.index];
            let degenerate = p.kind == Kind::Degenerate;
            b.points += 1;
            b.walkers += p.walkers;
            if degenerate {
                b.points_degenerate += 1;
                b.walkers_degenerate += p.walkers;
            }
        }
        bins
    }
}

/// A walker's polished end state. Its eigenvalues are not kept (W x N numbers): they are
/// recomputed for the one representative of each distinct point.
struct Reached {
    walker: usize,
    x: Vec<f64>,
    f: f64,
    grad_norm: f64,
}

/// Polishes, classifies and groups walker end states in parallel.
///
/// `ends` is row-major W x N (walker w's coordinates at `ends[w*N..(w+1)*N]`), `eligible` has one
/// flag per walker; ineligible walkers (diverged, not converged: the caller decides) are not
/// polished. Results depend only on the inputs, never on thread scheduling: ids follow
/// increasing f, then coordinates.
pub fn catalogue(
    obj: &dyn Objective,
    ends: &[f64],
    eligible: &[bool],
    opts: &CatalogueOptions,
) -> Result<Catalogue, CatalogueError> {
    catalogue_timed(obj, ends, eligible, opts).map(|(c, _)| c)
}

/// Seconds the catalogue spent per stage.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageSeconds {
    /// f64 Newton polish of every eligible walker.
    pub polish: f64,
    /// Grouping polished points into distinct ones.
    pub cluster: f64,
    /// Hessian eigenvalues and the classification of each distinct point.
    pub classify: f64,
}

/// [`catalogue`], with the seconds of its stages.
pub fn catalogue_timed(
    obj: &dyn Objective,
    ends: &[f64],
    eligible: &[bool],
    opts: &CatalogueOptions,
) -> Result<(Catalogue, StageSeconds), CatalogueError> {
    let mut seconds = StageSeconds::default();
    let t = std::time::Instant::now();
    let n = obj.dim();
    let w = eligible.len();
    if ends.len() != w * n {
        return Err(CatalogueError::Shape {
            len: ends.len(),
            walkers: w,
            dim: n,
        });
    }
    let results: Vec<Result<Reached, Outcome>> = (0..w)
        .into_par_iter()
        .map(|walker| {
            if !eligible[walker] {
                return Err(Outcome::Ineligible);
            }
            let x0 = &ends[walker * n..(walker + 1) * n];
            polish(obj, x0, &opts.polish)
                .map(|p| Reached {
                    walker,
                    x: p.x,
                    f: p.f,
                    grad_norm: p.grad_norm,
                })
                .map_err(Outcome::Failed)
        })
        .collect();
    let mut outcomes = Vec::with_capacity(w);
    let mut reached = Vec::new();
    for r in results {
        match r {
            // The point's id is known only after grouping; set below.
            Ok(p) => {
                reached.push(p);
                outcomes.push(Outcome::Point(usize::MAX));
            }
            Err(o) => outcomes.push(o),
        }
    }
    seconds.polish = t.elapsed().as_secs_f64();
    let t = std::time::Instant::now();
    let xs: Vec<&[f64]> = reached.iter().map(|r| r.x.as_slice()).collect();
    let grouping = cluster::group(&xs, opts.pos_tol);

    // Representative of each group: smallest |∇f|, then lowest walker (`reached` is in walker
    // order, so the first of equals stays).
    let mut rep = vec![usize::MAX; grouping.groups];
    let mut count = vec![0usize; grouping.groups];
    for (k, r) in reached.iter().enumerate() {
        let g = grouping.labels[k];
        count[g] += 1;
        if rep[g] == usize::MAX || r.grad_norm < reached[rep[g]].grad_norm {
            rep[g] = k;
        }
    }
    seconds.cluster = t.elapsed().as_secs_f64();
    let t = std::time::Instant::now();
    let mut points: Vec<(usize, CriticalPoint)> = rep
        .par_iter()
        .enumerate()
        .map(|(g, &k)| {
            let r = &reached[k];
            // Polish succeeded at x, so its Hessian is finite; the Newton point's is too unless
            // the objective misbehaves there, and then the relative test alone classifies.
            let (eigenvalues, c) = classify_at(obj, &r.x, &opts.classify).unwrap_or_else(|| {
                let e = hessian_eigenvalues(obj, &r.x).unwrap_or_default();
                let c = classify(&e, &opts.classify);
                (e, c)
            });
            let point = CriticalPoint {
                id: 0,
                x: r.x.clone(),
                f: r.f,
                grad_norm: r.grad_norm,
                index: c.index,
                n_neg: c.n_neg,
                n_zero: c.n_zero,
                n_pos: c.n_pos,
                kind: c.kind,
                walkers: count[g],
                eigenvalues,
                min_eig: c.min_eig,
                max_eig: c.max_eig,
            };
            (g, point)
        })
        .collect();
    points.sort_by(|(_, a), (_, b)| {
        a.f.total_cmp(&b.f).then_with(|| {
            a.x.iter()
                .zip(&b.x)
                .map(|(p, q)| p.total_cmp(q))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        })
    });
    let mut id_of_group = vec![0; grouping.groups];
    for (id, (g, p)) in points.iter_mut().enumerate() {
        p.id = id;
        id_of_group[*g] = id;
    }
    for (k, r) in reached.iter().enumerate() {
        outcomes[r.walker] = Outcome::Point(id_of_group[grouping.labels[k]]);
    }
    seconds.classify = t.elapsed().as_secs_f64();
    Ok((
        Catalogue {
            points: points.into_iter().map(|(_, p)| p).collect(),
            outcomes,
        },
        seconds,
    ))
}

#[cfg(test)]
mod tests {
    use std::f64::consts::PI;
    use std::time::Instant;

    use super::*;
    use crate::critical::testing::{CosSum, TwoSpin};
    use crate::rng::{Sampler, Stream};

    /// Centres of CosSum, and the ids they must get (increasing f, ties by coordinates).
    const CENTRES: [([f64; 2], usize, Kind, usize); 5] = [
        ([0.0, 0.0], 4, Kind::Maximum, 2),
        ([PI, 0.0], 3, Kind::Saddle, 1),
        ([0.0, PI], 2, Kind::Saddle, 1),
        ([PI, PI], 0, Kind::Minimum, 0),
        ([3.0 * PI, PI], 1, Kind::Minimum, 0),
    ];

    /// W walkers near the centres (walker i near centre i mod 5, jittered by up to 1e-3), every
    /// 7th ineligible, walker 3 eligible but at NaN.
    fn walkers(w: usize) -> (Vec<f64>, Vec<bool>) {
        let mut s = Sampler::new(11, 0, Stream::Perturb);
        let mut ends = Vec::with_capacity(2 * w);
        for i in 0..w {
            let c = CENTRES[i % 5].0;
            ends.extend(c.iter().map(|v| v + 1e-3 * (2.0 * s.uniform() - 1.0)));
        }
        ends[6] = f64::NAN;
        let eligible = (0..w).map(|i| i % 7 != 0).collect();
        (ends, eligible)
    }

    #[test]
    fn catalogue_finds_each_centre_once_with_counts_and_stable_ids() {
        let w = 100_000;
        let (ends, eligible) = walkers(w);
        let t = Instant::now();
        let cat = catalogue(&CosSum, &ends, &eligible, &CatalogueOptions::default()).unwrap();
        eprintln!("catalogue of {w} walkers in {:?}", t.elapsed());
        assert_eq!(cat.points.len(), 5);
        for (centre, id, kind, index) in CENTRES {
            let p = &cat.points[id];
            assert_eq!(p.id, id);
            assert!(
                (p.x[0] - centre[0]).abs() < 1e-12 && (p.x[1] - centre[1]).abs() < 1e-12,
                "{p:?}"
            );
            assert_eq!(
                (p.kind, p.index, p.n_neg + p.n_zero + p.n_pos),
                (kind, index, 2)
            );
            assert!(p.eigenvalues.windows(2).all(|e| e[0] <= e[1]));
            assert_eq!((p.min_eig, p.max_eig), (p.eigenvalues[0], p.eigenvalues[1]));
        }
        // Counts: walkers of each centre, minus ineligible ones and the NaN walker (centre 3).
        for (k, (_, id, _, _)) in CENTRES.iter().enumerate() {
            let want = (0..w)
                .filter(|&i| i % 5 == k && i % 7 != 0 && i != 3)
                .count();
            assert_eq!(cat.points[*id].walkers, want, "centre {k}");
        }
        for i in [0, 7, 14] {
            assert_eq!(
                (cat.point_of(i), &cat.outcomes[i]),
                (None, &Outcome::Ineligible)
            );
        }
        assert_eq!(cat.outcomes[3], Outcome::Failed(PolishFailure::NonFinite));
        assert_eq!(cat.point_of(1), Some(CENTRES[1].1));
        assert_eq!(cat.labels()[0], -1);
        let ineligible = (0..w).filter(|i| i % 7 == 0).count();
        assert_eq!(
            cat.failures(),
            vec![("ineligible", ineligible), ("non_finite", 1)]
        );
        let hist = cat.index_histogram();
        assert_eq!(
            hist.iter().map(|b| b.points).collect::<Vec<_>>(),
            vec![2, 2, 1]
        );
        assert_eq!(
            hist.iter().map(|b| b.walkers).sum::<usize>(),
            w - ineligible - 1
        );
    }

    #[test]
    fn catalogue_is_deterministic_and_independent_of_walker_order() {
        let w = 2000;
        let (ends, eligible) = walkers(w);
        let o = CatalogueOptions::default();
        let a = catalogue(&CosSum, &ends, &eligible, &o).unwrap();
        let b = catalogue(&CosSum, &ends, &eligible, &o).unwrap();
        assert_eq!(a, b);
        // Reversed walker order: the same points with the same ids (the representative may be a
        // different copy, so positions agree to the polish accuracy).
        let rev_ends: Vec<f64> = ends.chunks(2).rev().flatten().copied().collect();
        let rev_el: Vec<bool> = eligible.iter().rev().copied().collect();
        let r = catalogue(&CosSum, &rev_ends, &rev_el, &o).unwrap();
        assert_eq!(r.points.len(), a.points.len());
        for (p, q) in a.points.iter().zip(&r.points) {
            assert_eq!((p.id, p.kind, p.walkers), (q.id, q.kind, q.walkers));
            assert!(p.x.iter().zip(&q.x).all(|(u, v)| (u - v).abs() < 1e-12));
        }
        for i in 0..w {
            assert_eq!(a.point_of(i), r.point_of(w - 1 - i));
        }
    }

    #[test]
    fn catalogue_on_the_sphere_merges_copies_and_keeps_antipodes_apart() {
        let n = 8;
        let spin = TwoSpin::new(n, 4);
        let eig = eigen::SortedEigen::new(spin.a.clone()).unwrap();
        let root_n = (n as f64).sqrt();
        let mut s = Sampler::new(2, 0, Stream::Perturb);
        let mut ends = Vec::new();
        let w = 400;
        for i in 0..w {
            let k = i % 3;
            let sign = if i % 2 == 0 { 1.0 } else { -1.0 };
            ends.extend(
                eig.vectors
                    .column(k)
                    .iter()
                    .map(|v| sign * root_n * v + 0.01 * s.normal()),
            );
        }
        let cat = catalogue(&spin, &ends, &vec![true; w], &CatalogueOptions::default()).unwrap();
        // ±v_k for k = 0, 1, 2: six points; H(x) = H(-x), so ties in f are broken by coordinates.
        assert_eq!(cat.points.len(), 6, "{:?}", cat.failures());
        let idx: Vec<usize> = cat.points.iter().map(|p| p.index).collect();
        assert_eq!(idx, vec![0, 0, 1, 1, 2, 2]);
        assert!(cat
            .points
            .iter()
            .all(|p| p.walkers == w / 6 || p.walkers == w / 6 + 1));
    }

    #[test]
    fn shape_mismatch_is_an_error() {
        let e = catalogue(
            &CosSum,
            &[0.0; 5],
            &[true, true],
            &CatalogueOptions::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("2 x 2"), "{e}");
    }
}
