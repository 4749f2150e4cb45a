//! Labelling a million walkers without a million Newton polishes.
//!
//! A basin picture's walkers end in a few hundred distinct places at most, each reached by
//! thousands of them; polishing every end state (a Hessian and its eigen-decomposition per
//! Newton step, O(N³)) would cost far more than the GPU walk. So:
//!
//! 1. converged end states are grouped coarsely (`cluster::group`, tolerance [`RAW_TOL`]);
//! 2. one representative per group (smallest |∇f|) goes through `critical::catalogue`;
//! 3. every other member y must prove it reaches its representative's point x*: one chord
//!    (frozen-Hessian Newton) step y − H(x*)⁺∇f(y) has to land within the catalogue's clustering
//!    tolerance of x*, and x* must lie within polish's drift limit of y. Near a nondegenerate critical point that step's error is
//!    O(|H'|·|y − x*|²/λ_min), far below the tolerance for walkers that converged there; a walker
//!    whose own nearby critical point is another one lands on that other one instead, and fails;
//! 4. members that fail (and all members of groups whose representative did not polish) are
//!    polished one by one with the representatives, in a second `critical::catalogue` call.
//!
//! The result is the catalogue `critical::catalogue` would give (tested against it); point
//! positions may be a different copy of the same point, within the polish accuracy. Ids are
//! then renumbered by [`order_by_f`], which treats equal f to 1e-9 as a tie. Sphere objectives take the plain path (the chord step would need the
//! Riemannian Hessian and a retraction).

use nalgebra::DVector;
use rayon::prelude::*;

use crate::critical::eigen::SortedEigen;
use crate::critical::{self, cluster, Catalogue, CatalogueError, CatalogueOptions, Outcome};
use crate::objective::Objective;

/// Grouping tolerance of raw end states, relative (`cluster::tolerance`): 1e-2 · max(√N, |x|).
/// Walkers converged to |∇f| ≤ 1e-3 at a point with λ_min ≳ 0.1 lie within 1e-2 of it; anything
/// that joins a group wrongly is caught by the chord test, so this only trades speed.
pub const RAW_TOL: f64 = 1e-2;

/// Eigenvalues below this fraction of the largest count as zero in the chord step.
const RCOND: f64 = 1e-12;

/// How the labelling went, for the manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LabelStats {
    /// Raw groups, i.e. representatives polished in the first pass.
    pub groups: usize,
    /// Walkers labelled by the chord test.
    pub chord_verified: usize,
    /// Walkers polished one by one (representatives of the second pass excluded).
    pub polished_individually: usize,
}

/// The catalogue of the eligible end states (W x N row-major) and the labelling counts; see
/// the module documentation.
pub fn label(
    obj: &dyn Objective,
    ends: &[f64],
    eligible: &[bool],
    grad_norm: &[f64],
    opts: &CatalogueOptions,
) -> Result<(Catalogue, LabelStats), CatalogueError> {
    label_with(obj, ends, eligible, grad_norm, opts, RAW_TOL)
}

fn label_with(
    obj: &dyn Objective,
    ends: &[f64],
    eligible: &[bool],
    grad_norm: &[f64],
    opts: &CatalogueOptions,
    raw_tol: f64,
) -> Result<(Catalogue, LabelStats), CatalogueError> {
    let n = obj.dim();
    let w = eligible.len();
    if obj.sphere() || ends.len() != w * n || grad_norm.len() != w {
        let cat = order_by_f(critical::catalogue(obj, ends, eligible, opts)?);
        let stats = LabelStats {
            polished_individually: eligible.iter().filter(|&&e| e).count(),
            ..LabelStats::default()
        };
        return Ok((cat, stats));
    }
    let row = |k: usize| &ends[k * n..(k + 1) * n];
    // Non-finite end states cannot be grouped; they go to the one-by-one pass (and fail there).
    let finite = |k: usize| row(k).iter().all(|v| v.is_finite());
    let members: Vec<usize> = (0..w).filter(|&k| eligible[k] && finite(k)).collect();
    let xs: Vec<&[f64]> = members.iter().map(|&k| row(k)).collect();
    let raw = cluster::group(&xs, raw_tol);
    let rep = representatives(&members, &raw, grad_norm);
    let rep_ends: Vec<f64> = rep.iter().flat_map(|&k| row(k).iter().copied()).collect();
    let first = critical::catalogue(obj, &rep_ends, &vec![true; raw.groups], opts)?;
    let verified = chord_verified(obj, ends, &members, &raw, &rep, &first, opts);
    let mut leftovers: Vec<usize> = members
        .iter()
        .enumerate()
        .filter(|&(m, &k)| verified[m].is_none() && rep[raw.labels[m]] != k)
        .map(|(_, &k)| k)
        .collect();
    leftovers.extend((0..w).filter(|&k| eligible[k] && !finite(k)));
    leftovers.sort_unstable();

    let (cat, g_offset) = if leftovers.is_empty() {
        (first, 0)
    } else {
        let mut all = rep_ends;
        all.extend(leftovers.iter().flat_map(|&k| row(k).iter().copied()));
        let total = raw.groups + leftovers.len();
        (
            critical::catalogue(obj, &all, &vec![true; total], opts)?,
            raw.groups,
        )
    };
    let mut outcomes = vec![Outcome::Ineligible; w];
    for (g, &k) in rep.iter().enumerate() {
        outcomes[k] = cat.outcomes[g].clone();
    }
    for (j, &k) in leftovers.iter().enumerate() {
        outcomes[k] = cat.outcomes[g_offset + j].clone();
    }
    for (m, v) in verified.iter().enumerate() {
        if let Some(g) = v {
            if let Some(id) = cat.point_of(*g) {
                outcomes[members[m]] = Outcome::Point(id);
            }
        }
    }
    let stats = LabelStats {
        groups: raw.groups,
        chord_verified: verified.iter().filter(|v| v.is_some()).count(),
        polished_individually: leftovers.len(),
    };
    Ok((order_by_f(recount(cat.points, outcomes)), stats))
}

/// Each raw group's representative: its member (a walker index) of smallest |∇f|.
fn representatives(members: &[usize], raw: &cluster::Grouping, grad_norm: &[f64]) -> Vec<usize> {
    let mut rep = vec![usize::MAX; raw.groups];
    for (m, &k) in members.iter().enumerate() {
        let g = raw.labels[m];
        if rep[g] == usize::MAX || grad_norm[k] < grad_norm[rep[g]] {
            rep[g] = k;
        }
    }
    rep
}

/// The chord test for every member that is not its group's representative: Some(group) where
/// the member provably reaches the point its group's representative polished to.
fn chord_verified(
    obj: &dyn Objective,
    ends: &[f64],
    members: &[usize],
    raw: &cluster::Grouping,
    rep: &[usize],
    first: &Catalogue,
    opts: &CatalogueOptions,
) -> Vec<Option<usize>> {
    let n = obj.dim();
    let eig: Vec<Option<SortedEigen>> = first
        .points
        .par_iter()
        .map(|p| SortedEigen::new(obj.hessian(&p.x)))
        .collect();
    members
        .par_iter()
        .enumerate()
        .map(|(m, &k)| {
            let g = raw.labels[m];
            if rep[g] == k {
                return None;
            }
            let id = first.point_of(g)?;
            let e = eig[id].as_ref()?;
            let x = &ends[k * n..(k + 1) * n];
            chord_reaches(obj, x, e, &first.points[id].x, opts).then_some(g)
        })
        .collect()
}

/// Whether end state `x` reaches the critical point `target` (whose Hessian is `e`): one chord
/// step from x lands within the clustering tolerance of it, and it lies within polish's drift
/// limit of x.
fn chord_reaches(
    obj: &dyn Objective,
    x: &[f64],
    e: &SortedEigen,
    target: &[f64],
    opts: &CatalogueOptions,
) -> bool {
    let n = obj.dim();
    let mut grad = vec![0.0; n];
    obj.gradient(x, &mut grad);
    let step = e.pinv_solve(&DVector::from_vec(grad), RCOND);
    let d2: f64 = (0..n).map(|i| (x[i] - step[i] - target[i]).powi(2)).sum();
    // Polish's own drift limit holds too: a point farther away is not the one the walker
    // reached.
    let norm = x.iter().map(|v| v * v).sum::<f64>().sqrt();
    let drift: f64 = (0..n)
        .map(|i| (x[i] - target[i]).powi(2))
        .sum::<f64>()
        .sqrt();
    let near = drift <= opts.polish.max_drift * (n as f64).sqrt().max(norm);
    near && d2.sqrt() <= cluster::tolerance(target, opts.pos_tol)
}

/// The catalogue of `points` with every point's walker count taken from `outcomes`.
fn recount(mut points: Vec<critical::CriticalPoint>, outcomes: Vec<Outcome>) -> Catalogue {
    points.iter_mut().for_each(|p| p.walkers = 0);
    for o in &outcomes {
        if let Outcome::Point(id) = o {
            points[*id].walkers += 1;
        }
    }
    Catalogue { points, outcomes }
}

/// Renumbers points by f, with values equal to within 1e-9 of the largest |f| (and at least
/// 1e-9) counting as ties broken by coordinates. The catalogue orders by exact f, so points of
/// equal f in theory (Himmelblau's four minima, symmetric copies) would be ordered by rounding
/// noise of whichever copy represents them; labels, and so colours, then could swap between
/// runs at different resolutions.
pub fn order_by_f(cat: Catalogue) -> Catalogue {
    let scale = 1e-9
        * cat
            .points
            .iter()
            .map(|p| p.f.abs())
            .filter(|f| f.is_finite())
            .fold(1.0, f64::max);
    let key = |f: f64| (f / scale).round();
    let mut order: Vec<usize> = (0..cat.points.len()).collect();
    order.sort_by(|&a, &b| {
        let (p, q) = (&cat.points[a], &cat.points[b]);
        key(p.f).total_cmp(&key(q.f)).then_with(|| {
            p.x.iter()
                .zip(&q.x)
                .map(|(u, v)| u.total_cmp(v))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        })
    });
    let mut new_id = vec![0; order.len()];
    for (id, &old) in order.iter().enumerate() {
        new_id[old] = id;
    }
    let mut points: Vec<_> = order.iter().map(|&old| cat.points[old].clone()).collect();
    for (id, p) in points.iter_mut().enumerate() {
        p.id = id;
    }
    let outcomes = cat
        .outcomes
        .into_iter()
        .map(|o| match o {
            Outcome::Point(id) => Outcome::Point(new_id[id]),
            other => other,
        })
        .collect();
    Catalogue { points, outcomes }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objective;
    use crate::rng::{Sampler, Stream};

    /// End states jittered by up to `jitter` around Himmelblau's nine critical points (four
    /// minima, four saddles, one maximum), every 11th ineligible, one NaN.
    fn walkers(w: usize, jitter: f64) -> (Vec<f64>, Vec<bool>, Vec<f64>) {
        let centres = [
            [3.0, 2.0],
            [-2.805118, 3.131312],
            [-3.779310, -3.283186],
            [3.584428, -1.848126],
            [0.086677, 2.884255],
            [-3.073026, -0.081353],
            [3.385154, 0.073852],
            [-0.127961, -1.953715],
            [-0.270845, -0.923039],
        ];
        let mut s = Sampler::new(5, 0, Stream::Perturb);
        let mut ends = Vec::new();
        for i in 0..w {
            let c = centres[i % centres.len()];
            ends.extend(c.iter().map(|v| v + jitter * (2.0 * s.uniform() - 1.0)));
        }
        ends[10] = f64::NAN;
        let eligible = (0..w).map(|i| i % 11 != 0).collect();
        let gn = (0..w).map(|i| (i % 13) as f64 * 1e-4).collect();
        (ends, eligible, gn)
    }

    /// The same catalogue up to the order of points of equal f (Himmelblau's four minima all
    /// have f = 0 to rounding, so which copy represents a point can swap their ids) and to the
    /// polish accuracy in positions.
    fn same(a: &Catalogue, b: &Catalogue) {
        assert_eq!(a.points.len(), b.points.len());
        let close = |x: &[f64], y: &[f64]| x.iter().zip(y).all(|(u, v)| (u - v).abs() < 1e-7);
        for p in &a.points {
            let q = b
                .points
                .iter()
                .find(|q| close(&p.x, &q.x))
                .unwrap_or_else(|| panic!("{p:?} missing"));
            assert_eq!((p.kind, p.index, p.walkers), (q.kind, q.index, q.walkers));
            assert!((p.f - q.f).abs() <= 1e-9 * (1.0 + p.f.abs()));
        }
        for w in 0..a.outcomes.len() {
            match (a.point_of(w), b.point_of(w)) {
                (Some(i), Some(j)) => assert!(close(&a.points[i].x, &b.points[j].x), "walker {w}"),
                (None, None) => {}
                other => panic!("walker {w}: {other:?}"),
            }
        }
        assert_eq!(a.failures(), b.failures());
    }

    #[test]
    fn matches_the_plain_catalogue_and_polishes_few() {
        let obj = objective::parse("himmelblau").unwrap();
        let (ends, eligible, gn) = walkers(3000, 1e-3);
        let opts = CatalogueOptions::default();
        let plain = critical::catalogue(obj.as_ref(), &ends, &eligible, &opts).unwrap();
        let (fast, stats) = label(obj.as_ref(), &ends, &eligible, &gn, &opts).unwrap();
        same(&plain, &fast);
        assert_eq!(plain.points.len(), 9);
        // Equal f (the four minima, f = 0) is ordered by coordinates, whatever the copy.
        let minima: Vec<[f64; 2]> = fast.points[..4].iter().map(|p| [p.x[0], p.x[1]]).collect();
        let xs: Vec<f64> = minima.iter().map(|m| m[0]).collect();
        assert!(xs.windows(2).all(|w| w[0] < w[1]), "{minima:?}");
        assert!(fast.points.iter().enumerate().all(|(i, p)| p.id == i));
        assert_eq!(stats.groups, 9);
        // Only the NaN walker is left to the one-by-one pass.
        assert_eq!(stats.polished_individually, 1);
        assert_eq!(
            stats.chord_verified,
            eligible.iter().filter(|&&e| e).count() - 10
        );
    }

    #[test]
    fn wrong_groups_are_caught_by_the_chord_test() {
        // A raw tolerance so coarse that all nine points fall into one or two groups: the chord
        // test must send the members of other points to the one-by-one pass, and the result
        // must still be the plain catalogue's.
        let obj = objective::parse("himmelblau").unwrap();
        let (ends, eligible, gn) = walkers(900, 1e-3);
        let opts = CatalogueOptions::default();
        let plain = critical::catalogue(obj.as_ref(), &ends, &eligible, &opts).unwrap();
        let (fast, stats) = label_with(obj.as_ref(), &ends, &eligible, &gn, &opts, 10.0).unwrap();
        same(&plain, &fast);
        assert!(
            stats.groups < 9 && stats.polished_individually > 100,
            "{stats:?}"
        );
    }

    #[test]
    fn walkers_far_from_any_point_fail_as_in_the_plain_catalogue() {
        // Unconverged end states on slopes: polish rejects them (not critical) or moves them;
        // either way the fast path must agree with the plain one.
        let obj = objective::parse("himmelblau").unwrap();
        let (mut ends, eligible, gn) = walkers(400, 1e-3);
        for k in (0..400).step_by(7) {
            ends[2 * k] = 1.0 + 0.01 * k as f64;
            ends[2 * k + 1] = -4.5;
        }
        let opts = CatalogueOptions::default();
        let plain = critical::catalogue(obj.as_ref(), &ends, &eligible, &opts).unwrap();
        let (fast, _) = label(obj.as_ref(), &ends, &eligible, &gn, &opts).unwrap();
        same(&plain, &fast);
    }
}
