//! The sweep's tables: points.csv (every critical point of every instance), instances.csv (one
//! row per instance), and the statistics per dimension built from them, sweep.csv and
//! by_index.csv. Everything a figure needs is read back from these files (`saddlescope plot`).

use std::collections::BTreeMap;
use std::path::Path;

use crate::critical::coverage::{CatalogueCoverage, Counted, Coverage, MeanCoverage};
use crate::output::{self, Csv};
use crate::spec::SpecError;
use crate::stats::{self, MeanSe, Z95};
pub use crate::table::Table;

/// One distinct critical point of one instance (a row of points.csv).
#[derive(Debug, Clone, PartialEq)]
pub struct PointRow {
    pub dim: usize,
    pub instance: usize,
    pub f: f64,
    /// Morse index: negative Hessian eigenvalues (Riemannian on the sphere).
    pub index: usize,
    /// index / (dimension of the Hessian: N, or N − 1 on the sphere).
    pub index_fraction: f64,
    pub kind: String,
    pub walkers: usize,
    /// |x|² at the point (the field's confining term is mu/2 |x|²).
    pub x_norm2: f64,
    /// The objective's dimension N (`dim` itself, except for mlp: its parameter count).
    pub n: usize,
}

/// One landscape instance (a row of instances.csv).
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceRow {
    pub dim: usize,
    pub instance: usize,
    /// The landscape's own seed (the objective spec's `seed=`).
    pub seed: u64,
    pub walkers: usize,
    pub converged: usize,
    /// Walkers that reached a critical point after polishing.
    pub walkers_at_points: usize,
    pub points: usize,
    /// Points found once and twice and the estimated number of points (nondegenerate ones).
    pub coverage: Coverage,
}

/// points.csv; `f_per_dim` is f / N, N the objective's dimension (`dim` itself; for mlp, whose
/// `dim` is the hidden width, the parameter count, which index_loss_fit.csv gives per `dim`).
pub const POINTS_HEADER: &str =
    "dim,instance,f,f_per_dim,index,index_fraction,kind,walkers,x_norm2";
/// The columns of points.csv every sweep folder has.
pub const POINTS_REQUIRED: &str = POINTS_HEADER;
pub const INSTANCES_HEADER: &str = "dim,instance,seed,walkers,converged,walkers_at_points,points,points_found_once,points_found_twice,points_estimated,points_estimated_lo,points_estimated_hi";
/// sweep.csv. The coverage columns at the end aggregate the instances: `points_found_once` is
/// summed over instances (like `points`); `points_estimated` is the estimated number of points
/// per instance (like `points_per_instance`), Chao1 on the frequency counts pooled over the
/// instances, and `points_estimated_lo/_hi` its 95% interval for the disorder average, from the
/// delta method across instances, never below the mean found ([`MeanCoverage::of`]).
/// by_index.csv does the same per index; instances.csv holds each instance's own estimate.
pub const SWEEP_HEADER: &str = "dim,instances,points,points_per_instance,minima,saddles,maxima,degenerate,fraction_minima,fraction_minima_lo,fraction_minima_hi,mean_index_fraction,points_per_instance_se,minima_per_instance,minima_per_instance_se,saddles_per_instance,saddles_per_instance_se,fraction_minima_se,mean_index_fraction_se,walkers,converged,walkers_at_points,points_found_once,points_estimated,points_estimated_lo,points_estimated_hi";
pub const BY_INDEX_HEADER: &str = "dim,index,count,fraction,count_per_instance,count_per_instance_se,found_once,estimated_per_instance,estimated_per_instance_lo,estimated_per_instance_hi";

/// Statistics of one dimension (a row of sweep.csv). Counts are summed over instances; every
/// mean comes with its standard error across instances.
#[derive(Debug, Clone, PartialEq)]
pub struct DimStats {
    pub dim: usize,
    /// The objective's dimension N at `dim` (for mlp, whose `dim` is the hidden width, the
    /// parameter count).
    pub n: usize,
    pub instances: usize,
    pub points: usize,
    pub points_per_instance: MeanSe,
    pub minima: usize,
    pub saddles: usize,
    pub maxima: usize,
    pub degenerate: usize,
    /// minima / points, pooled over instances, with its standard error across instances.
    pub fraction_minima: MeanSe,
    /// 95% Wilson interval of minima out of points.
    pub fraction_minima_ci: Option<(f64, f64)>,
    /// Mean index fraction over all points (pooled), with its standard error across instances.
    pub mean_index_fraction: MeanSe,
    pub minima_per_instance: MeanSe,
    pub saddles_per_instance: MeanSe,
    pub walkers: usize,
    pub converged: usize,
    pub walkers_at_points: usize,
    /// (index, total count, mean count per instance) for index 0..=hessian_dim.
    pub by_index: Vec<(usize, usize, MeanSe)>,
    /// Coverage of the nondegenerate points, the instances pooled ([`MeanCoverage::of`]:
    /// found counts summed over instances, the estimate per instance).
    pub coverage: MeanCoverage,
    /// The same for each index 0..=hessian_dim, every index estimated on its own.
    pub coverage_by_index: Vec<MeanCoverage>,
}

/// Statistics of dimension `dim` from its instances and their points; `hessian_dim` is N, or
/// N − 1 on the sphere.
pub fn dim_stats(
    dim: usize,
    n: usize,
    hessian_dim: usize,
    instances: &[InstanceRow],
    points: &[PointRow],
) -> DimStats {
    let insts: Vec<&InstanceRow> = instances.iter().filter(|r| r.dim == dim).collect();
    let k = insts.len();
    let slot: BTreeMap<usize, usize> = insts
        .iter()
        .enumerate()
        .map(|(s, r)| (r.instance, s))
        .collect();
    let mut per = vec![[0f64; 5]; k]; // points, minima, saddles, sum of index fractions, maxima
    let mut by_index = vec![vec![0f64; k]; hessian_dim + 1];
    let mut counted: Vec<Vec<Counted>> = vec![Vec::new(); k];
    let (mut minima, mut saddles, mut maxima, mut degenerate, mut total) = (0, 0, 0, 0, 0);
    for p in points.iter().filter(|p| p.dim == dim) {
        let Some(&s) = slot.get(&p.instance) else {
            continue;
        };
        total += 1;
        per[s][0] += 1.0;
        per[s][3] += p.index_fraction;
        match p.kind.as_str() {
            "minimum" => {
                minima += 1;
                per[s][1] += 1.0;
            }
            "saddle" => {
                saddles += 1;
                per[s][2] += 1.0;
            }
            "maximum" => {
                maxima += 1;
                per[s][4] += 1.0;
            }
            _ => degenerate += 1,
        }
        if let Some(row) = by_index.get_mut(p.index) {
            row[s] += 1.0;
        }
        counted[s].push(Counted {
            index: p.index,
            walkers: p.walkers,
            degenerate: p.kind == "degenerate",
        });
    }
    // Each instance is its own sample of its own landscape: estimated alone, then combined.
    let covs: Vec<CatalogueCoverage> = counted.into_iter().map(CatalogueCoverage::of).collect();
    let overall: Vec<Coverage> = covs.iter().map(|c| c.overall).collect();
    let coverage_by_index = (0..=hessian_dim)
        .map(|i| MeanCoverage::of(&covs.iter().map(|c| c.index(i)).collect::<Vec<_>>()))
        .collect();
    let col = |c: usize| -> Vec<f64> { per.iter().map(|r| r[c]).collect() };
    let npts = col(0);
    DimStats {
        dim,
        n,
        instances: k,
        points: total,
        points_per_instance: stats::mean_se(&npts),
        minima,
        saddles,
        maxima,
        degenerate,
        fraction_minima: stats::ratio_se(&col(1), &npts),
        fraction_minima_ci: stats::wilson(minima as u64, total as u64, Z95),
        mean_index_fraction: stats::ratio_se(&col(3), &npts),
        minima_per_instance: stats::mean_se(&col(1)),
        saddles_per_instance: stats::mean_se(&col(2)),
        walkers: insts.iter().map(|r| r.walkers).sum(),
        converged: insts.iter().map(|r| r.converged).sum(),
        walkers_at_points: insts.iter().map(|r| r.walkers_at_points).sum(),
        by_index: by_index
            .iter()
            .enumerate()
            .map(|(i, c)| (i, c.iter().sum::<f64>() as usize, stats::mean_se(c)))
            .collect(),
        coverage: MeanCoverage::of(&overall),
        coverage_by_index,
    }
}

fn num(v: f64) -> String {
    output::num(v)
}

pub fn write_points(path: &Path, rows: &[PointRow]) -> std::io::Result<()> {
    let mut csv = Csv::new(POINTS_HEADER);
    for p in rows {
        csv.row(&[
            p.dim.to_string(),
            p.instance.to_string(),
            num(p.f),
            num(p.f / p.n.max(1) as f64),
            p.index.to_string(),
            num(p.index_fraction),
            p.kind.clone(),
            p.walkers.to_string(),
            num(p.x_norm2),
        ]);
    }
    csv.write(path)
}

pub fn write_instances(path: &Path, rows: &[InstanceRow]) -> std::io::Result<()> {
    let mut csv = Csv::new(INSTANCES_HEADER);
    for r in rows {
        csv.row(&[
            r.dim.to_string(),
            r.instance.to_string(),
            r.seed.to_string(),
            r.walkers.to_string(),
            r.converged.to_string(),
            r.walkers_at_points.to_string(),
            r.points.to_string(),
            r.coverage.found_once.to_string(),
            r.coverage.found_twice.to_string(),
            num(r.coverage.estimated),
            num(r.coverage.estimated_lo),
            num(r.coverage.estimated_hi),
        ]);
    }
    csv.write(path)
}

pub fn write_sweep(path: &Path, rows: &[DimStats]) -> std::io::Result<()> {
    let mut csv = Csv::new(SWEEP_HEADER);
    for s in rows {
        let (lo, hi) = s.fraction_minima_ci.unwrap_or((f64::NAN, f64::NAN));
        csv.row(&[
            s.dim.to_string(),
            s.instances.to_string(),
            s.points.to_string(),
            num(s.points_per_instance.mean),
            s.minima.to_string(),
            s.saddles.to_string(),
            s.maxima.to_string(),
            s.degenerate.to_string(),
            num(s.fraction_minima.mean),
            num(lo),
            num(hi),
            num(s.mean_index_fraction.mean),
            num(s.points_per_instance.se),
            num(s.minima_per_instance.mean),
            num(s.minima_per_instance.se),
            num(s.saddles_per_instance.mean),
            num(s.saddles_per_instance.se),
            num(s.fraction_minima.se),
            num(s.mean_index_fraction.se),
            s.walkers.to_string(),
            s.converged.to_string(),
            s.walkers_at_points.to_string(),
            s.coverage.found_once.to_string(),
            num(s.coverage.estimated),
            num(s.coverage.estimated_lo),
            num(s.coverage.estimated_hi),
        ]);
    }
    csv.write(path)
}

pub fn write_by_index(path: &Path, rows: &[DimStats]) -> std::io::Result<()> {
    let mut csv = Csv::new(BY_INDEX_HEADER);
    for s in rows {
        for ((index, count, per), cov) in s.by_index.iter().zip(&s.coverage_by_index) {
            let frac = if s.points > 0 {
                *count as f64 / s.points as f64
            } else {
                f64::NAN
            };
            csv.row(&[
                s.dim.to_string(),
                index.to_string(),
                count.to_string(),
                num(frac),
                num(per.mean),
                num(per.se),
                cov.found_once.to_string(),
                num(cov.estimated),
                num(cov.estimated_lo),
                num(cov.estimated_hi),
            ]);
        }
    }
    csv.write(path)
}

/// points.csv read back; `n_of` gives the objective's dimension N at each `dim`.
pub fn read_points(dir: &Path, n_of: &dyn Fn(usize) -> usize) -> Result<Vec<PointRow>, SpecError> {
    let t = Table::read(dir, "points.csv", &columns(POINTS_REQUIRED))?;
    (0..t.len())
        .map(|r| {
            let dim = t.usize(r, "dim")?;
            let row = PointRow {
                dim,
                instance: t.usize(r, "instance")?,
                f: t.finite(r, "f")?,
                index: t.usize(r, "index")?,
                index_fraction: t.fraction(r, "index_fraction")?,
                kind: t.choice(r, "kind", crate::critical::Kind::NAMES)?,
                walkers: t.usize(r, "walkers")?,
                x_norm2: t.finite(r, "x_norm2")?,
                n: n_of(dim),
            };
            if row.index > row.n {
                let bound = if row.n == row.dim {
                    format!("dim = {}", row.dim)
                } else {
                    format!(
                        "N = {} (the objective's dimension at dim = {})",
                        row.n, row.dim
                    )
                };
                return Err(t.bad(r, format!("index = {} is more than {bound}", row.index)));
            }
            Ok(row)
        })
        .collect()
}

/// A header's columns.
pub fn columns(header: &'static str) -> Vec<&'static str> {
    header.split(',').collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(dim: usize, instance: usize, index: usize, kind: &str) -> PointRow {
        PointRow {
            dim,
            instance,
            f: -1.0,
            index,
            index_fraction: index as f64 / dim as f64,
            kind: kind.into(),
            walkers: 1,
            x_norm2: 1.0,
            n: dim,
        }
    }

    fn inst(dim: usize, instance: usize) -> InstanceRow {
        InstanceRow {
            dim,
            instance,
            seed: 0,
            walkers: 10,
            converged: 8,
            walkers_at_points: 7,
            points: 0,
            coverage: Coverage::of_counts([]),
        }
    }

    /// Two instances at N = 2: instance 0 has a minimum, a saddle and a maximum; instance 1 has
    /// two minima and a saddle; an instance of N = 4 must not leak in.
    #[test]
    fn statistics_per_dimension() {
        let points = vec![
            point(2, 0, 0, "minimum"),
            point(2, 0, 1, "saddle"),
            point(2, 0, 2, "maximum"),
            point(2, 1, 0, "minimum"),
            point(2, 1, 0, "minimum"),
            point(2, 1, 1, "saddle"),
            point(4, 0, 0, "minimum"),
        ];
        let insts = vec![inst(2, 0), inst(2, 1), inst(4, 0)];
        let s = dim_stats(2, 2, 2, &insts, &points);
        assert_eq!(
            (s.instances, s.points, s.minima, s.saddles, s.maxima),
            (2, 6, 3, 2, 1)
        );
        assert_eq!(s.fraction_minima.mean, 0.5);
        // Per instance 1/3 and 2/3 with 3 points each: ratio se = se of the two ratios = 1/6.
        assert!((s.fraction_minima.se - 1.0 / 6.0).abs() < 1e-15);
        let (lo, hi) = s.fraction_minima_ci.unwrap();
        assert_eq!((lo, hi), stats::wilson(3, 6, Z95).unwrap());
        // Index fractions: (0 + 0.5 + 1) and (0 + 0 + 0.5) over 6 points.
        assert!((s.mean_index_fraction.mean - 2.0 / 6.0).abs() < 1e-15);
        assert_eq!(s.points_per_instance.mean, 3.0);
        assert_eq!(s.points_per_instance.se, 0.0);
        assert_eq!(s.minima_per_instance.mean, 1.5);
        let counts: Vec<usize> = s.by_index.iter().map(|b| b.1).collect();
        assert_eq!(counts, vec![3, 2, 1]);
        assert_eq!((s.walkers, s.converged, s.walkers_at_points), (20, 16, 14));
        // Coverage: every point here was found by one walker, 3 walkers per instance. Pooled
        // over the two instances: 6 found, 6 once, none twice, A = 2/3, so
        // (6 + (2/3)·6·5/2)/2 = 8 per instance.
        assert_eq!((s.coverage.found, s.coverage.found_once), (6, 6));
        assert!(
            (s.coverage.estimated - 8.0).abs() < 1e-12,
            "{:?}",
            s.coverage
        );
        assert!(s.coverage.estimated_lo >= 3.0 && s.coverage.estimated_hi > 8.0);
        assert!(s.coverage.mostly_found_once());
        // Index 0 on its own: 1 + 2 found once by n = 1 and 2 walkers, A = (0 + 1/2)/2, so
        // (3 + (1/4)·3·2/2)/2 = 1.875.
        assert_eq!(s.coverage_by_index.len(), 3);
        assert!((s.coverage_by_index[0].estimated - 1.875).abs() < 1e-12);
        // An instance without points still counts as an instance.
        let s = dim_stats(4, 4, 4, &[inst(4, 0), inst(4, 1)], &points);
        assert_eq!((s.instances, s.points), (2, 1));
        assert_eq!(s.points_per_instance.mean, 0.5);
    }

    #[test]
    fn tables_round_trip() {
        let dir = std::env::temp_dir().join(format!("saddlescope-tables-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let rows = vec![point(3, 1, 2, "saddle"), point(3, 2, 0, "minimum")];
        write_points(&dir.join("points.csv"), &rows).unwrap();
        assert_eq!(read_points(&dir, &|d| d).unwrap(), rows);
        std::fs::write(
            dir.join("points.csv"),
            format!("{POINTS_HEADER}\n3,x,-1,-1,0,0,minimum,1,1\n"),
        )
        .unwrap();
        let e = read_points(&dir, &|d| d).unwrap_err().to_string();
        assert!(
            e.contains("points.csv line 2") && e.contains("instance"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
