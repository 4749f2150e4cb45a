//! Basin statistics: basin fractions with Wilson score intervals, and the basin entropy S_b and
//! boundary basin entropy S_bb of Daza, Wagemakers, Georgeot, Guéry-Odelin and Sanjuán,
//! "Basin entropy: a new tool to analyze uncertainty in dynamical systems", Sci. Rep. 6, 31416
//! (2016).

pub use crate::stats::{wilson_counts as wilson, Z95};

/// One basin's share of the picture.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Fraction {
    /// Attractor label (critical-point id), or -1 for walkers that reached none.
    pub label: i32,
    pub walkers: usize,
    pub fraction: f64,
    /// 95% Wilson score interval of the fraction.
    pub ci95: (f64, f64),
}

/// Walkers per label (labels 0..k, then -1 if any pixel has it), with 95% Wilson intervals.
/// The pixels of one picture are not independent draws (neighbours share basins), so the
/// interval reads as "if the picture's points were a uniform random sample of the slice".
pub fn fractions(labels: &[i32], k: usize) -> Vec<Fraction> {
    let n = labels.len();
    let mut counts = vec![0usize; k];
    let mut none = 0;
    for &l in labels {
        match usize::try_from(l) {
            Ok(l) if l < k => counts[l] += 1,
            _ => none += 1,
        }
    }
    let row = |label: i32, walkers: usize| Fraction {
        label,
        walkers,
        fraction: if n == 0 {
            0.0
        } else {
            walkers as f64 / n as f64
        },
        ci95: wilson(walkers, n, Z95),
    };
    let mut out: Vec<Fraction> = counts
        .iter()
        .enumerate()
        .map(|(l, &c)| row(l as i32, c))
        .collect();
    if none > 0 {
        out.push(row(-1, none));
    }
    out
}

/// What the log-2 criterion says about a picture's basin boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BoundaryVerdict {
    /// S_bb > ln 2 on a grid fine enough to judge: the boundary is fractal.
    Fractal,
    /// S_bb <= ln 2 on a grid fine enough to judge: no evidence of a fractal boundary (the
    /// criterion is sufficient, not necessary).
    NoEvidence,
    /// Too few boundary boxes, or too few boxes per outcome, for S_bb to decide.
    GridTooSmall,
}

/// The log-2 criterion needs at least this many boundary boxes. S_bb is a mean of the boundary
/// boxes' S_i; on a boundary between two basins S_i lies in (0, ln 2], so its standard deviation
/// is at most ln 2 / 2 ≈ 0.35 and the standard error of S_bb at most 0.35 / √N_b. With
/// N_b ≥ 100 two standard errors are at most 0.07, a tenth of ln 2: S_bb is then resolved well
/// enough to compare with ln 2.
pub const MIN_BOUNDARY_BOXES: usize = 100;

/// ... and at least this many boxes per outcome (labels present, −1 included). The criterion
/// holds as ε → 0: on smooth boundaries S_i > ln 2 only in boxes where three or more basins
/// meet (a junction adds at most ln 4 − ln 2 = ln 2). A basin L boxes across has about 2L
/// boundary boxes of its own and about one junction, so junctions raise S_bb by up to
/// ln 2 / (2L); L ≥ 10, i.e. 100 boxes per outcome, keeps that under ln 2 / 20. (Rastrigin on
/// a 200 x 200 grid with 5 px boxes, 169 basins of ~10 boxes each, has smooth boundaries and
/// S_bb ≈ 0.70 > ln 2: too coarse to judge.)
pub const MIN_BOXES_PER_OUTCOME: usize = 100;

/// Basin entropy of a label picture over boxes of ε x ε pixels.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Entropy {
    /// ε, the box side in pixels.
    pub box_size: usize,
    /// Ñ: boxes that fit the picture (partial boxes at the right and bottom edges are left out).
    pub boxes: usize,
    /// N_b: boxes holding more than one label.
    pub boundary_boxes: usize,
    /// Distinct labels in the picture (−1 counts as one).
    pub outcomes: usize,
    /// S_b = (1/Ñ) Σ_i S_i, S_i = Σ_j p_ij ln(1/p_ij) (natural log).
    pub basin_entropy: f64,
    /// S_bb = (1/N_b) Σ_i S_i (0 when there are no boundary boxes).
    pub boundary_basin_entropy: f64,
    /// The log-2 criterion's verdict, judged only on a fine enough grid
    /// ([`MIN_BOUNDARY_BOXES`], [`MIN_BOXES_PER_OUTCOME`]).
    pub verdict: BoundaryVerdict,
    /// `verdict` is Fractal: S_bb > ln 2 (Daza et al. 2016) on a grid fine enough to judge;
    /// false does not prove the boundary smooth.
    pub fractal_boundary: bool,
}

impl Entropy {
    /// Whether the grid is fine enough for the log-2 criterion.
    pub fn judgeable(&self) -> bool {
        self.boundary_boxes >= MIN_BOUNDARY_BOXES
            && self.boxes >= MIN_BOXES_PER_OUTCOME * self.outcomes.max(1)
    }
}

/// S_b and S_bb of a W x H label picture (row-major) over ε x ε boxes. Label -1 (no attractor:
/// diverged or unconverged) counts as one more outcome, as Daza et al. treat escape to
/// infinity as an attractor.
pub fn basin_entropy(labels: &[i32], width: usize, height: usize, eps: usize) -> Entropy {
    let (bx, by) = (width / eps.max(1), height / eps.max(1));
    let mut total = 0.0;
    let mut boundary = 0;
    let mut counts: Vec<(i32, usize)> = Vec::new();
    for bj in 0..by {
        for bi in 0..bx {
            counts.clear();
            for j in bj * eps..(bj + 1) * eps {
                for &l in &labels[j * width + bi * eps..j * width + (bi + 1) * eps] {
                    match counts.iter_mut().find(|c| c.0 == l) {
                        Some(c) => c.1 += 1,
                        None => counts.push((l, 1)),
                    }
                }
            }
            if counts.len() > 1 {
                boundary += 1;
                let m = (eps * eps) as f64;
                total += counts
                    .iter()
                    .map(|&(_, c)| {
                        let p = c as f64 / m;
                        -p * p.ln()
                    })
                    .sum::<f64>();
            }
        }
    }
    let boxes = bx * by;
    let sb = if boxes == 0 {
        0.0
    } else {
        total / boxes as f64
    };
    let sbb = if boundary == 0 {
        0.0
    } else {
        total / boundary as f64
    };
    let outcomes = labels
        .iter()
        .copied()
        .collect::<std::collections::BTreeSet<i32>>()
        .len();
    let mut e = Entropy {
        box_size: eps,
        boxes,
        boundary_boxes: boundary,
        outcomes,
        basin_entropy: sb,
        boundary_basin_entropy: sbb,
        verdict: BoundaryVerdict::GridTooSmall,
        fractal_boundary: false,
    };
    if e.judgeable() {
        e.verdict = if sbb > std::f64::consts::LN_2 {
            BoundaryVerdict::Fractal
        } else {
            BoundaryVerdict::NoEvidence
        };
    }
    e.fractal_boundary = e.verdict == BoundaryVerdict::Fractal;
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_published_values() {
        // 50/100: 0.4038..0.5962; 0/10: 0..0.2775; 10/10: 0.7225..1 (e.g. Newcombe 1998, and
        // by hand from the closed form).
        let (lo, hi) = wilson(50, 100, Z95);
        assert!(
            (lo - 0.40383).abs() < 1e-5 && (hi - 0.59617).abs() < 1e-5,
            "{lo} {hi}"
        );
        let (lo, hi) = wilson(0, 10, Z95);
        assert!(lo == 0.0 && (hi - 0.27753).abs() < 1e-5, "{hi}");
        let (lo, hi) = wilson(10, 10, Z95);
        assert!(
            (lo - 0.72247).abs() < 1e-5 && (hi - 1.0).abs() < 1e-12,
            "{lo}"
        );
        // 16/64 (checked with an independent evaluation of the closed form in Python).
        let (lo, hi) = wilson(16, 64, Z95);
        assert!(
            (lo - 0.160149).abs() < 1e-6 && (hi - 0.368163).abs() < 1e-6,
            "{lo} {hi}"
        );
    }

    #[test]
    fn fractions_count_every_label_and_the_unlabelled() {
        let f = fractions(&[0, 1, 1, -1, 2, 1, 0, -1], 3);
        let got: Vec<(i32, usize)> = f.iter().map(|r| (r.label, r.walkers)).collect();
        assert_eq!(got, vec![(0, 2), (1, 3), (2, 1), (-1, 2)]);
        assert_eq!(f[1].fraction, 3.0 / 8.0);
        assert!(f
            .iter()
            .all(|r| r.ci95.0 <= r.fraction && r.fraction <= r.ci95.1));
        assert_eq!(fractions(&[0, 0], 1).len(), 1);
    }

    /// A 4 x 4 picture split by a straight vertical line between columns 1 and 2:
    ///     0 0 1 1
    ///     0 0 1 1
    ///     0 0 1 1
    ///     0 0 1 1
    #[test]
    fn a_straight_boundary_on_box_edges_has_zero_entropy() {
        let l = [0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1];
        let e = basin_entropy(&l, 4, 4, 2);
        assert_eq!((e.boxes, e.boundary_boxes), (4, 0));
        assert_eq!((e.basin_entropy, e.boundary_basin_entropy), (0.0, 0.0));
        assert!(!e.fractal_boundary);
        assert_eq!(e.verdict, BoundaryVerdict::GridTooSmall);
        // With 4 x 4 boxes the one box holds 8 + 8: S = ln 2, in the only (boundary) box.
        let e = basin_entropy(&l, 4, 4, 4);
        assert_eq!((e.boxes, e.boundary_boxes), (1, 1));
        assert!((e.basin_entropy - std::f64::consts::LN_2).abs() < 1e-15);
        // S_bb = ln 2 exactly is not above ln 2 (and one box is far too few to judge).
        assert!(!e.fractal_boundary);
    }

    /// 4 x 4 with 2 x 2 boxes:
    ///     0 0 | 0 1        box (0,0): {0,0,0,0}      S = 0
    ///     0 0 | 1 1        box (1,0): {0,1,1,1}      S = ¼ln4 + ¾ln(4/3) = 0.562335
    ///     ---------
    ///     2 1 | 2 2        box (0,1): {2,1,0,1}      S = ¼ln4 + ½ln2 + ¼ln4 = 1.039721
    ///     0 1 | 2 2        box (1,1): {2,2,2,2}      S = 0
    /// S_b = (0.562335 + 1.039721)/4 = 0.400514; N_b = 2, S_bb = 0.801028 > ln 2.
    #[test]
    fn mixed_boxes_by_hand() {
        let l = [0, 0, 0, 1, 0, 0, 1, 1, 2, 1, 2, 2, 0, 1, 2, 2];
        let e = basin_entropy(&l, 4, 4, 2);
        assert_eq!((e.boxes, e.boundary_boxes), (4, 2));
        assert!((e.basin_entropy - 0.400_514).abs() < 1e-6, "{e:?}");
        assert!((e.boundary_basin_entropy - 0.801_028).abs() < 1e-6, "{e:?}");
        // S_bb > ln 2, but from 2 boundary boxes of a 4 x 4 picture: no verdict.
        assert_eq!(e.outcomes, 3);
        assert_eq!(e.verdict, BoundaryVerdict::GridTooSmall);
        assert!(!e.fractal_boundary);
    }

    /// Partial boxes are left out: a 5 x 3 picture with ε = 2 has 2 x 1 full boxes; the last
    /// column and row (all label 7) never enter.
    ///     0 1 | 0 0 | 7
    ///     1 0 | 0 0 | 7
    ///     7 7   7 7   7
    /// Box (0,0) = {0,1,1,0}: S = ln 2; box (1,0) = {0,0,0,0}: S = 0.
    #[test]
    fn partial_boxes_at_the_edges_are_left_out() {
        let l = [0, 1, 0, 0, 7, 1, 0, 0, 0, 7, 7, 7, 7, 7, 7];
        let e = basin_entropy(&l, 5, 3, 2);
        assert_eq!((e.boxes, e.boundary_boxes), (2, 1));
        assert!((e.basin_entropy - 0.346_573_590_279_972_6).abs() < 1e-15);
        assert!((e.boundary_basin_entropy - std::f64::consts::LN_2).abs() < 1e-15);
    }

    #[test]
    fn unlabelled_pixels_count_as_an_outcome() {
        // One 2 x 2 box {-1, -1, 3, 3}: S = ln 2.
        let e = basin_entropy(&[-1, -1, 3, 3], 2, 2, 2);
        assert!((e.basin_entropy - std::f64::consts::LN_2).abs() < 1e-15);
    }

    /// Square cells of 15 px, one label each, offset so their edges cut the 5 px boxes: smooth
    /// boundaries whose 4-way junctions lift S_bb above ln 2 on a 200 x 200 grid (as Rastrigin's
    /// basins do); with 196 outcomes in 1600 boxes the grid is too coarse to judge.
    #[test]
    fn smooth_cells_with_many_junctions_are_too_coarse_to_judge() {
        let (w, cell) = (200, 15);
        let labels: Vec<i32> = (0..w * w)
            .map(|k| {
                let (i, j) = ((k % w + 2) / cell, (k / w + 2) / cell);
                (j * 14 + i) as i32
            })
            .collect();
        let e = basin_entropy(&labels, w, w, 5);
        assert!(e.boundary_basin_entropy > std::f64::consts::LN_2, "{e:?}");
        assert!(e.boundary_boxes >= MIN_BOUNDARY_BOXES, "{e:?}");
        assert_eq!(e.verdict, BoundaryVerdict::GridTooSmall, "{e:?}");
        assert!(!e.fractal_boundary);
    }

    /// Three labels intermingled at the pixel scale on 200 x 200: every box holds all three,
    /// S_bb ≈ ln 3 from 1600 boundary boxes, 533 boxes per outcome: judged fractal. Two halves
    /// on a 400 x 400 grid: S_bb < ln 2 from enough boxes: judged, no evidence.
    #[test]
    fn fine_grids_are_judged() {
        let w = 200;
        let mixed: Vec<i32> = (0..w * w).map(|k| ((k * 7 + k / w) % 3) as i32).collect();
        let e = basin_entropy(&mixed, w, w, 5);
        assert_eq!(e.outcomes, 3);
        assert!(e.boundary_basin_entropy > 1.0, "{e:?}");
        assert_eq!(e.verdict, BoundaryVerdict::Fractal);
        assert!(e.fractal_boundary);
        let w = 400;
        let halves: Vec<i32> = (0..w * w)
            .map(|k| i32::from(2 * (k % w) + 3 > k / w + w))
            .collect();
        let e = basin_entropy(&halves, w, w, 5);
        assert!(e.boundary_boxes >= MIN_BOUNDARY_BOXES, "{e:?}");
        assert!(e.boundary_basin_entropy <= std::f64::consts::LN_2, "{e:?}");
        assert_eq!(e.verdict, BoundaryVerdict::NoEvidence);
    }
}
