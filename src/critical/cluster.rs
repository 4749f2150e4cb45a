//! Distinct points: groups polished end states that are the same critical point, within a
//! scale-aware position tolerance, in O(W log W) for W points in any dimension.
//!
//! Points are sorted by their projection p = u·x on one fixed random unit vector u, then swept
//! in that order. Each group is represented by its first point (its leader, L); a point joins
//! the nearest leader within tol_L = pos_tol · max(√N, |x_L|), or leads a new group. Since
//! |u·(x - x_L)| ≤ |x - x_L|, only leaders whose projection lies within tol_L behind the current
//! one can match: they form a short sliding window, so there are no cell boundaries to get
//! wrong (unlike a grid of cells, which in N dimensions would need 3^N neighbour checks) and
//! no all-pairs comparison. Copies of one critical point collapse onto a single leader, so the
//! window holds only the distinct points whose projections happen to fall within tol of each
//! other: for a random u, two points at distance d do so with probability ≈ tol·√N/d.
//!
//! The order, and so the grouping, is a pure function of the points (the direction u comes from
//! a fixed seed; ties are broken by position in the input), never of thread scheduling.

use rayon::prelude::*;

use crate::rng::{Sampler, Stream};

/// Seed of the projection direction (any fixed value; fixed so groupings are reproducible).
const PROJECTION_SEED: u64 = 0x5AD_D1E5_C0BE;

/// Group labels of a set of points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grouping {
    /// `labels[i]` is the group of point i, in 0..groups.
    pub labels: Vec<usize>,
    pub groups: usize,
}

/// The tolerance around a group's leader: `pos_tol · max(√N, |x|)`. On the sphere |x| = √N, so
/// pos_tol is an angle: the chord 2√N sin(θ/2) ≈ √N θ.
pub fn tolerance(x: &[f64], pos_tol: f64) -> f64 {
    let n = x.len() as f64;
    pos_tol * n.sqrt().max(x.iter().map(|a| a * a).sum::<f64>().sqrt())
}

/// A fixed random unit vector in R^n.
fn direction(n: usize) -> Vec<f64> {
    let mut s = Sampler::new(PROJECTION_SEED, n as u32, Stream::Landscape);
    let mut u: Vec<f64> = (0..n).map(|_| s.normal()).collect();
    let norm = u.iter().map(|a| a * a).sum::<f64>().sqrt();
    if norm > 0.0 {
        u.iter_mut().for_each(|a| *a /= norm);
    }
    u
}

/// |a - b|² if it is at most `limit`, else `None` (stops summing early in high dimension).
fn dist2_within(a: &[f64], b: &[f64], limit: f64) -> Option<f64> {
    let mut d = 0.0;
    for (p, q) in a.iter().zip(b) {
        d += (p - q) * (p - q);
        if d > limit {
            return None;
        }
    }
    Some(d)
}

/// Groups points (all of one dimension N, finite) lying within the tolerance of a group's
/// first point; see the module documentation.
pub fn group<P: AsRef<[f64]> + Sync>(points: &[P], pos_tol: f64) -> Grouping {
    let Some(first) = points.first() else {
        return Grouping {
            labels: Vec::new(),
            groups: 0,
        };
    };
    let u = direction(first.as_ref().len());
    let proj: Vec<f64> = points
        .par_iter()
        .map(|x| x.as_ref().iter().zip(&u).map(|(a, b)| a * b).sum())
        .collect();
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.par_sort_unstable_by(|&a, &b| proj[a].total_cmp(&proj[b]).then(a.cmp(&b)));

    struct Leader {
        point: usize,
        proj: f64,
        tol: f64,
        label: usize,
    }
    let mut labels = vec![0; points.len()];
    let mut active: Vec<Leader> = Vec::new();
    let mut groups = 0;
    for &i in &order {
        let (x, p) = (points[i].as_ref(), proj[i]);
        active.retain(|l| p - l.proj <= l.tol);
        let mut best: Option<(f64, usize)> = None;
        for l in &active {
            let limit = best.map_or(l.tol * l.tol, |(d, _)| d.min(l.tol * l.tol));
            if let Some(d) = dist2_within(x, points[l.point].as_ref(), limit) {
                if best.is_none_or(|(bd, _)| d < bd) {
                    best = Some((d, l.label));
                }
            }
        }
        labels[i] = match best {
            Some((_, label)) => label,
            None => {
                active.push(Leader {
                    point: i,
                    proj: p,
                    tol: tolerance(x, pos_tol),
                    label: groups,
                });
                groups += 1;
                groups - 1
            }
        };
    }
    Grouping { labels, groups }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// `w` points jittered around `centres` (point i near centre i mod K) by `jitter` per
    /// coordinate; returns a flat W×N array and the centre of each point.
    fn jittered(centres: &[Vec<f64>], w: usize, jitter: f64) -> (Vec<f64>, Vec<usize>) {
        let n = centres[0].len();
        let mut s = Sampler::new(3, 0, Stream::Perturb);
        let mut flat = Vec::with_capacity(w * n);
        let mut which = Vec::with_capacity(w);
        for i in 0..w {
            let k = (i * 7919) % centres.len();
            which.push(k);
            flat.extend(
                centres[k]
                    .iter()
                    .map(|c| c + jitter * (2.0 * s.uniform() - 1.0)),
            );
        }
        (flat, which)
    }

    fn assert_partition_matches(g: &Grouping, which: &[usize], k: usize) {
        assert_eq!(g.groups, k);
        // Same centre <=> same label.
        let mut label_of_centre = vec![usize::MAX; k];
        for (i, &c) in which.iter().enumerate() {
            if label_of_centre[c] == usize::MAX {
                label_of_centre[c] = g.labels[i];
            }
            assert_eq!(g.labels[i], label_of_centre[c], "point {i}");
        }
        let mut l = label_of_centre.clone();
        l.sort();
        l.dedup();
        assert_eq!(l.len(), k);
    }

    #[test]
    fn a_million_points_around_a_few_centres() {
        // Centres 1e-3 apart (1000 tolerances) and some far away; jitter 1e-9 ≪ tol = 1e-6·√3.
        let centres = vec![
            vec![0.0, 0.0, 0.0],
            vec![1e-3, 0.0, 0.0],
            vec![0.0, 1e-3, 0.0],
            vec![0.0, 0.0, 1e-3],
            vec![1.0, -2.0, 3.0],
            vec![-100.0, 5.0, 0.5],
            vec![1e-3, 1e-3, 1e-3],
        ];
        let w = 1_000_000;
        let (flat, which) = jittered(&centres, w, 1e-9);
        let pts: Vec<&[f64]> = flat.chunks(3).collect();
        let t = Instant::now();
        let g = group(&pts, 1e-6);
        eprintln!(
            "grouped {w} points into {} groups in {:?}",
            g.groups,
            t.elapsed()
        );
        assert_partition_matches(&g, &which, centres.len());
    }

    #[test]
    fn high_dimensional_points() {
        let n = 300;
        let mut s = Sampler::new(8, 1, Stream::Init);
        let centres: Vec<Vec<f64>> = (0..25)
            .map(|_| (0..n).map(|_| s.normal()).collect())
            .collect();
        let (flat, which) = jittered(&centres, 20_000, 1e-9);
        let pts: Vec<&[f64]> = flat.chunks(n).collect();
        let g = group(&pts, 1e-6);
        assert_partition_matches(&g, &which, centres.len());
    }

    #[test]
    fn tolerance_boundary_and_scale() {
        // tol = 1e-3·max(√2, |x|): near the origin 1.414e-3; near |x| = 1000, 1.0.
        let near = [vec![0.0, 0.0], vec![1.0e-3, 0.0], vec![2.0e-3, 0.0]];
        let g = group(&near, 1e-3);
        // The leader is whichever projects first; either way 0 and 2 (2e-3 apart) are separate.
        assert_ne!(g.labels[0], g.labels[2]);
        assert_eq!(g.groups, 2);
        let far = [vec![1000.0, 0.0], vec![1000.5, 0.0], vec![1002.0, 0.0]];
        let g = group(&far, 1e-3);
        assert_eq!(g.labels[0], g.labels[1]);
        assert_ne!(g.labels[0], g.labels[2]);
    }

    #[test]
    fn grouping_ignores_input_permutation() {
        let centres = vec![vec![0.0, 1.0], vec![0.5, 0.5], vec![2.0, -1.0]];
        let (flat, which) = jittered(&centres, 3000, 1e-10);
        let pts: Vec<&[f64]> = flat.chunks(2).collect();
        let a = group(&pts, 1e-6);
        let rev: Vec<&[f64]> = pts.iter().rev().copied().collect();
        let b = group(&rev, 1e-6);
        assert_partition_matches(&a, &which, 3);
        let which_rev: Vec<usize> = which.iter().rev().copied().collect();
        assert_partition_matches(&b, &which_rev, 3);
        assert!(group::<Vec<f64>>(&[], 1e-6).labels.is_empty());
    }
}
