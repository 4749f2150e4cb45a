//! The symmetry check of odd objectives, f(−x) = −f(x) (the spherical p-spin with odd p).
//!
//! There x is a critical point of index k exactly when −x is one of index D − k (D the
//! Hessian's dimension: the gradient is even, the Hessian odd, and on the sphere the normal
//! term x·∇f changes sign with x too). So in every instance the minima and the maxima, and the
//! saddles of index k and of D − k, are equally many, and every point's mirror image is a
//! critical point. A catalogue that breaks the balance misses points; the share of points
//! whose mirror was found too is a direct measure of how many the walkers reach. The check
//! only reports: it never adds the mirror images to the catalogue.

use super::{cluster, Catalogue, Kind};

/// Found counts of index k and of its mirror index D − k.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct IndexPair {
    pub index: usize,
    pub mirror_index: usize,
    pub found: usize,
    pub mirror_found: usize,
}

/// The symmetry check of one catalogue (nondegenerate points).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MirrorCheck {
    /// The Hessian's dimension D (N − 1 on the sphere).
    pub hessian_dim: usize,
    pub minima: usize,
    pub maxima: usize,
    /// Index k against D − k for every k < D − k (minima and maxima first).
    pub pairs: Vec<IndexPair>,
    /// For even D, the index D/2 (its own mirror) and its count, even when complete.
    pub middle: Option<(usize, usize)>,
    /// Nondegenerate points, and those of them whose mirror image −x is in the catalogue too.
    pub points: usize,
    pub mirrored: usize,
}

impl MirrorCheck {
    /// The check of `cat` when `obj` is odd, `None` otherwise.
    pub fn for_objective(
        obj: &dyn crate::objective::Objective,
        cat: &Catalogue,
        pos_tol: f64,
    ) -> Option<MirrorCheck> {
        let d = obj.dim() - usize::from(obj.sphere());
        obj.odd().then(|| MirrorCheck::of(cat, d, pos_tol))
    }

    /// The check of `cat`, whose points are the same when within `pos_tol` (the catalogue's
    /// clustering tolerance) of each other; `hessian_dim` is D.
    pub fn of(cat: &Catalogue, hessian_dim: usize, pos_tol: f64) -> MirrorCheck {
        let pts: Vec<&super::CriticalPoint> = cat
            .points
            .iter()
            .filter(|p| p.kind != Kind::Degenerate)
            .collect();
        let mut counts = vec![0usize; hessian_dim + 1];
        for p in &pts {
            if let Some(c) = counts.get_mut(p.index) {
                *c += 1;
            }
        }
        let pairs = (0..=hessian_dim / 2)
            .filter(|&k| k < hessian_dim - k)
            .map(|k| IndexPair {
                index: k,
                mirror_index: hessian_dim - k,
                found: counts[k],
                mirror_found: counts[hessian_dim - k],
            })
            .collect();
        // The points and their mirror images grouped together: a mirror image that joins a
        // catalogued point's group was found.
        let mut xs: Vec<Vec<f64>> = pts.iter().map(|p| p.x.clone()).collect();
        xs.extend(
            pts.iter()
                .map(|p| p.x.iter().map(|v| -v).collect::<Vec<f64>>()),
        );
        let g = cluster::group(&xs, pos_tol);
        let mut has_point = vec![false; g.groups];
        for &l in &g.labels[..pts.len()] {
            has_point[l] = true;
        }
        let mirrored = g.labels[pts.len()..]
            .iter()
            .filter(|&&l| has_point[l])
            .count();
        MirrorCheck {
            hessian_dim,
            minima: counts[0],
            maxima: counts[hessian_dim],
            pairs,
            middle: (hessian_dim.is_multiple_of(2) && hessian_dim > 0)
                .then(|| (hessian_dim / 2, counts[hessian_dim / 2])),
            points: pts.len(),
            mirrored,
        }
    }

    /// The checks of several instances (of one Hessian dimension) added up; `None` for none.
    pub fn total(checks: &[&MirrorCheck]) -> Option<MirrorCheck> {
        let (first, rest) = checks.split_first()?;
        let mut t = (*first).clone();
        for m in rest {
            t.minima += m.minima;
            t.maxima += m.maxima;
            t.points += m.points;
            t.mirrored += m.mirrored;
            for (a, b) in t.pairs.iter_mut().zip(&m.pairs) {
                a.found += b.found;
                a.mirror_found += b.mirror_found;
            }
            if let (Some(a), Some(b)) = (t.middle.as_mut(), m.middle) {
                a.1 += b.1;
            }
        }
        Some(t)
    }

    /// Every pair balanced and every mirror image found: what a complete catalogue shows.
    pub fn balanced(&self) -> bool {
        self.mirrored == self.points
            && self.pairs.iter().all(|p| p.found == p.mirror_found)
            && self.middle.is_none_or(|(_, c)| c.is_multiple_of(2))
    }

    /// The manifest's `symmetry` object.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "relation": "f(-x) = -f(x): index k at x <-> index D - k at -x",
            "hessian_dim": self.hessian_dim,
            "minima": self.minima,
            "maxima": self.maxima,
            "pairs": self.pairs,
            "middle_index": self.middle.map(|m| serde_json::json!({"index": m.0, "found": m.1, "even_when_complete": true})),
            "points": self.points,
            "mirrored": self.mirrored,
            "balanced": self.balanced(),
            "completed": false,
        })
    }

    /// The summary line: the index pairs where a point was found (all of them are in the
    /// manifest; at N = 500 a line of every pair would be 250 pairs of zeros).
    pub fn summary_line(&self) -> String {
        let pairs: Vec<String> = self
            .pairs
            .iter()
            .skip(1)
            .filter(|p| p.found + p.mirror_found > 0)
            .map(|p| {
                format!(
                    "{} vs {}: {} vs {}",
                    p.index, p.mirror_index, p.found, p.mirror_found
                )
            })
            .collect();
        let middle = self.middle.map_or(String::new(), |(i, c)| {
            format!("; index {i} (its own mirror, even when complete): {c}")
        });
        format!(
            "symmetry f(-x) = -f(x) (index k <-> {} - k): minima {} vs maxima {}{}{middle}; {} of \
             {} points have their mirror -x in the catalogue{} (the catalogue is not completed \
             by the symmetry)",
            self.hessian_dim,
            self.minima,
            self.maxima,
            if pairs.is_empty() {
                String::new()
            } else {
                format!("; index {}", pairs.join(", "))
            },
            self.mirrored,
            self.points,
            if self.balanced() {
                ""
            } else {
                ": unbalanced, so the catalogue misses points (as it must for a descent rule, \
                 which does not reach maxima and high-index saddles; a finder such as newton-mr \
                 aims at every index)"
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::critical::{CatalogueOptions, CriticalPoint, Outcome};

    fn point(x: Vec<f64>, index: usize, kind: Kind) -> CriticalPoint {
        CriticalPoint {
            id: 0,
            x,
            f: 0.0,
            grad_norm: 0.0,
            index,
            n_neg: index,
            n_zero: 0,
            n_pos: 2 - index,
            kind,
            walkers: 1,
            eigenvalues: vec![],
            min_eig: 0.0,
            max_eig: 0.0,
        }
    }

    #[test]
    fn counts_pairs_and_mirrors() {
        let s = 3f64.sqrt();
        let cat = Catalogue {
            points: vec![
                point(vec![s, 0.0, 0.0], 0, Kind::Minimum),
                point(vec![-s, 0.0, 0.0], 2, Kind::Maximum),
                point(vec![0.0, s, 0.0], 0, Kind::Minimum),
                point(vec![0.0, 0.0, s], 1, Kind::Saddle),
                point(vec![0.0, 0.0, -s * (1.0 + 1e-9)], 1, Kind::Saddle),
                point(vec![1.0, 1.0, 1.0], 1, Kind::Degenerate),
            ],
            outcomes: vec![Outcome::Point(0)],
        };
        let m = MirrorCheck::of(&cat, 2, CatalogueOptions::default().pos_tol);
        assert_eq!((m.minima, m.maxima, m.points, m.mirrored), (2, 1, 5, 4));
        assert_eq!(
            m.pairs,
            vec![IndexPair {
                index: 0,
                mirror_index: 2,
                found: 2,
                mirror_found: 1
            }]
        );
        assert_eq!(m.middle, Some((1, 2)));
        assert!(!m.balanced());
        let line = m.summary_line();
        assert!(
            line.contains("minima 2 vs maxima 1") && line.contains("4 of 5"),
            "{line}"
        );
        assert_eq!(m.to_json()["completed"], false);
    }
}
