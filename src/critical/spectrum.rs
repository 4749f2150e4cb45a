//! The Hessian eigenvalue density at minima and at saddles: every eigenvalue of every distinct
//! point of a group (eigenvalues.npy rows), pooled into one histogram per group on shared
//! bins, normalised as a density (each group's integrates to 1).
//!
//! Groups: nondegenerate `minimum` and `saddle` points, and, kept apart because a zero
//! eigenvalue makes their index indefinite, degenerate points without a negative eigenvalue
//! (`degenerate_index_0`) and with one or more and a positive one (`degenerate_saddle`).
//! Maxima are left out.

use super::Kind;
use crate::output::{num, Csv};

/// The groups, in the order of the table and the figure's series.
pub const GROUPS: [&str; 4] = [
    "minimum",
    "saddle",
    "degenerate_index_0",
    "degenerate_saddle",
];

/// Bins of the histogram.
pub const BINS: usize = 60;

/// The group of a point with these counts, if it has one.
pub fn group_of(kind: Kind, n_neg: usize, n_pos: usize) -> Option<usize> {
    match kind {
        Kind::Minimum => Some(0),
        Kind::Saddle => Some(1),
        Kind::Degenerate if n_neg == 0 => Some(2),
        Kind::Degenerate if n_pos > 0 => Some(3),
        _ => None,
    }
}

/// One group's histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct Density {
    pub group: &'static str,
    /// Points and eigenvalues pooled.
    pub points: usize,
    pub eigenvalues: usize,
    pub counts: Vec<usize>,
    /// counts / (eigenvalues · bin width).
    pub density: Vec<f64>,
}

/// The histograms of every group on shared bins `edges` (BINS + 1 of them), from the
/// eigenvalue rows of the points and each point's group. None when no point is in a group.
#[derive(Debug, Clone, PartialEq)]
pub struct Spectrum {
    pub edges: Vec<f64>,
    pub groups: Vec<Density>,
}

/// Histograms of the rows (one per point, with its group or None).
pub fn density(rows: &[(Option<usize>, &[f64])]) -> Option<Spectrum> {
    let all = rows
        .iter()
        .filter(|r| r.0.is_some())
        .flat_map(|r| r.1.iter().copied())
        .filter(|v| v.is_finite());
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    if lo > hi {
        return None;
    }
    let pad = if hi > lo {
        1e-9 * (hi - lo)
    } else {
        0.5 * lo.abs().max(1.0)
    };
    let (lo, hi) = (lo - pad, hi + pad);
    let w = (hi - lo) / BINS as f64;
    let edges: Vec<f64> = (0..=BINS).map(|i| lo + w * i as f64).collect();
    let mut groups = Vec::new();
    for (g, name) in GROUPS.iter().enumerate() {
        let mine: Vec<&[f64]> = rows
            .iter()
            .filter(|r| r.0 == Some(g))
            .map(|r| r.1)
            .collect();
        if mine.is_empty() {
            continue;
        }
        let mut counts = vec![0usize; BINS];
        let mut total = 0;
        for v in mine.iter().flat_map(|r| r.iter()).filter(|v| v.is_finite()) {
            let b = (((v - lo) / w) as usize).min(BINS - 1);
            counts[b] += 1;
            total += 1;
        }
        let density = counts
            .iter()
            .map(|&c| c as f64 / (total.max(1) as f64 * w))
            .collect();
        groups.push(Density {
            group: name,
            points: mine.len(),
            eigenvalues: total,
            counts,
            density,
        });
    }
    Some(Spectrum { edges, groups })
}

/// The header of eigenvalue_density.csv: one row per group and bin.
pub const HEADER: &str = "group,points,eigenvalues,bin_lo,bin_hi,count,density";

/// eigenvalue_density.csv.
pub fn table(s: &Spectrum) -> Csv {
    let mut csv = Csv::new(HEADER);
    for g in &s.groups {
        for b in 0..g.counts.len() {
            csv.row(&[
                g.group.to_string(),
                g.points.to_string(),
                g.eigenvalues.to_string(),
                num(s.edges[b]),
                num(s.edges[b + 1]),
                g.counts[b].to_string(),
                num(g.density[b]),
            ]);
        }
    }
    csv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_kept_apart_and_integrate_to_one() {
        let a = [1.0, 2.0, 3.0];
        let b = [-1.0, 2.0, 3.0];
        let c = [0.0, 1.0, 2.0];
        let rows: Vec<(Option<usize>, &[f64])> = vec![
            (group_of(Kind::Minimum, 0, 3), &a),
            (group_of(Kind::Minimum, 0, 3), &a),
            (group_of(Kind::Saddle, 1, 2), &b),
            (group_of(Kind::Degenerate, 0, 2), &c),
            (group_of(Kind::Maximum, 3, 0), &[-9.0, -8.0, -7.0]),
        ];
        let s = density(&rows).unwrap();
        let names: Vec<&str> = s.groups.iter().map(|g| g.group).collect();
        assert_eq!(names, vec!["minimum", "saddle", "degenerate_index_0"]);
        // The maximum's eigenvalues do not stretch the bins.
        assert!(s.edges[0] > -1.01 && s.edges[0] <= -1.0);
        let w = s.edges[1] - s.edges[0];
        for g in &s.groups {
            let total: f64 = g.density.iter().map(|d| d * w).sum();
            assert!((total - 1.0).abs() < 1e-12, "{g:?}");
        }
        assert_eq!((s.groups[0].points, s.groups[0].eigenvalues), (2, 6));
        assert_eq!(s.groups[1].counts[0], 1, "λ = -1 in the first bin");
        assert_eq!(
            *s.groups[0].counts.last().unwrap(),
            2,
            "λ = 3 in the last bin"
        );
        assert_eq!(table(&s).rows(), 3 * BINS);
        assert!(density(&[(None, &a[..])]).is_none());
    }
}
