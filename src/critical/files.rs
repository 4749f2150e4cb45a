//! The catalogue on disk: critical_points.csv / .npy, eigenvalues.npy and the index histogram
//! figure, written into a run folder, and the counts (and their coverage) a manifest records. Every command that
//! catalogues critical points (sample, escape, basins) writes them through here.

use super::{Catalogue, StageSeconds};
use crate::output::{self, Csv};
use crate::run::{RunFolder, Timings};

/// The header of critical_points.csv; `x0..x{N-1}` follow when N <= [`CSV_COORDS`].
pub const HEADER: &str = "id,f,grad_norm,index,n_neg,n_zero,n_pos,kind,walkers,min_eig,max_eig";
/// [`HEADER`]'s columns (readers require them).
/// The largest N whose positions critical_points.csv holds (larger ones: critical_points.npy).
pub const CSV_COORDS: usize = 8;

pub const COLUMNS: &[&str] = &[
    "id",
    "f",
    "grad_norm",
    "index",
    "n_neg",
    "n_zero",
    "n_pos",
    "kind",
    "walkers",
    "min_eig",
    "max_eig",
];

/// Adds the catalogue's stage seconds to a run's timings.
pub fn add_timings(t: &mut Timings, s: &StageSeconds) {
    t.add("polish", s.polish);
    t.add("cluster", s.cluster);
    t.add("classify", s.classify);
}

/// critical_points.csv / .npy, eigenvalues.npy and index_histogram.png / .svg; the figure's
/// seconds go to the `figures` stage.
pub fn write(
    folder: &RunFolder,
    n: usize,
    cat: &Catalogue,
    title: &str,
    timings: &mut Timings,
) -> anyhow::Result<()> {
    let mut header = String::from(HEADER);
    if n <= CSV_COORDS {
        for i in 0..n {
            header.push_str(&format!(",x{i}"));
        }
    }
    let mut csv = Csv::new(&header);
    for p in &cat.points {
        let mut row = vec![
            p.id.to_string(),
            output::num(p.f),
            output::num(p.grad_norm),
            p.index.to_string(),
            p.n_neg.to_string(),
            p.n_zero.to_string(),
            p.n_pos.to_string(),
            p.kind.as_str().to_string(),
            p.walkers.to_string(),
            output::num(p.min_eig),
            output::num(p.max_eig),
        ];
        if n <= CSV_COORDS {
            row.extend(p.x.iter().map(|&v| output::num(v)));
        }
        csv.row(&row);
    }
    folder.write_csv("critical_points.csv", &csv)?;
    let k = cat.points.len();
    let xs: Vec<f64> = cat
        .points
        .iter()
        .flat_map(|p| p.x.iter().copied())
        .collect();
    folder.write_npy("critical_points.npy", &[k, n], &xs)?;
    let ne = cat.points.first().map_or(n, |p| p.eigenvalues.len());
    let ev: Vec<f64> = cat
        .points
        .iter()
        .flat_map(|p| p.eigenvalues.iter().copied())
        .collect();
    folder.write_npy("eigenvalues.npy", &[k, ne], &ev)?;
    timings.time("figures", || {
        folder.figure("index_histogram", |stem| {
            crate::figure::index_histogram(stem, cat, title).map(|_| ())
        })
    })?;
    Ok(())
}

/// Counts per kind and per index, and the polish failures, for the manifest and the summary.
pub fn summary(cat: &Catalogue) -> serde_json::Value {
    let mut kinds = std::collections::BTreeMap::new();
    let mut walkers_by_kind = std::collections::BTreeMap::new();
    for p in &cat.points {
        *kinds.entry(p.kind.as_str()).or_insert(0usize) += 1;
        *walkers_by_kind.entry(p.kind.as_str()).or_insert(0usize) += p.walkers;
    }
    let by_index: Vec<serde_json::Value> = cat
        .index_histogram()
        .iter()
        .map(|b| serde_json::json!({"index": b.index, "points": b.points, "walkers": b.walkers, "points_degenerate": b.points_degenerate}))
        .collect();
    // Walkers that never converged were never polished: counted apart, not as polish failures.
    let all = cat.failures();
    let not_polished = all
        .iter()
        .find(|(k, _)| *k == "ineligible")
        .map_or(0, |(_, v)| *v);
    let failures: serde_json::Map<String, serde_json::Value> = all
        .into_iter()
        .filter(|(k, _)| *k != "ineligible")
        .map(|(k, v)| (k.to_string(), v.into()))
        .collect();
    serde_json::json!({
        "distinct": cat.points.len(),
        "points_by_kind": kinds,
        "walkers_by_kind": walkers_by_kind,
        "by_index": by_index,
        "not_polished": not_polished,
        "polish_failures": failures,
    })
}

/// The manifest's `coverage` object: points found once and twice and the estimated number of
/// critical points, overall and per index (docs/coverage.md).
pub fn coverage_json(cat: &Catalogue) -> serde_json::Value {
    let c = cat.coverage();
    let mut v = serde_json::to_value(&c).unwrap_or_default();
    if let Some(m) = v.as_object_mut() {
        m.insert(
            "mostly_found_once".into(),
            c.overall.mostly_found_once().into(),
        );
        m.insert(
            "estimator".into(),
            "bias-corrected Chao1, S_obs + ((n-1)/n) f1 (f1-1) / (2 (f2+1)), n the walkers at \
             the points, with Chao's (1987) log-normal 95% interval; nondegenerate points only, \
             each index estimated on its own; assumptions in docs/coverage.md"
                .into(),
        );
    }
    v
}

/// The summary lines of a catalogue: counts per kind, per index, and polish rejections.
pub fn summary_lines(cat: &Catalogue) -> Vec<String> {
    let mut kinds: std::collections::BTreeMap<&str, (usize, usize)> = Default::default();
    for p in &cat.points {
        let e = kinds.entry(p.kind.as_str()).or_default();
        e.0 += 1;
        e.1 += p.walkers;
    }
    let parts: Vec<String> = kinds
        .iter()
        .map(|(k, (p, w))| format!("{k}: {p} ({w} walkers)"))
        .collect();
    let idx: Vec<String> = cat
        .index_histogram()
        .iter()
        .map(|b| format!("{}: {}", b.index, b.points))
        .collect();
    let mut lines = vec![
        format!(
            "critical points found: {} distinct  {}",
            cat.points.len(),
            parts.join("  ")
        ),
        format!("distinct points found by index: {}", idx.join("  ")),
    ];
    // Walkers that did not converge were never polished ("ineligible"): they are in the
    // max_steps and diverged counts, not among the rejected.
    let fails: Vec<String> = cat
        .failures()
        .iter()
        .filter(|(k, _)| *k != "ineligible")
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    if !fails.is_empty() {
        lines.push(format!(
            "converged walkers that polish rejected: {}",
            fails.join("  ")
        ));
    }
    lines.extend(cat.coverage().summary_lines());
    lines
}

/// The points of a catalogue as the index-against-loss figure and fit use them.
pub fn loss_points(cat: &Catalogue) -> Vec<super::index_loss::LossPoint> {
    cat.points
        .iter()
        .map(|p| super::index_loss::LossPoint {
            f: p.f,
            index: p.index,
            n: p.n_neg + p.n_zero + p.n_pos,
            kind: p.kind,
        })
        .collect()
}

/// The axis label of f: the training loss of a network, f otherwise.
pub fn loss_label(objective: &str) -> &'static str {
    if objective.starts_with("mlp") {
        "training loss ε = f"
    } else {
        "f"
    }
}

/// index_vs_loss.csv (one row per distinct point, in id order), index_loss_fit.csv and the
/// figure index_vs_loss.png / .svg; returns the fit.
pub fn write_index_vs_loss(
    folder: &RunFolder,
    cat: &Catalogue,
    title: &str,
    timings: &mut Timings,
) -> anyhow::Result<super::index_loss::FitOutcome> {
    use super::index_loss as il;
    let points = loss_points(cat);
    let mut csv = Csv::new(il::HEADER);
    for (p, q) in cat.points.iter().zip(&points) {
        csv.row(&[
            p.id.to_string(),
            output::num(q.f),
            q.index.to_string(),
            q.n.to_string(),
            output::num(q.fraction()),
            q.kind.as_str().to_string(),
            p.walkers.to_string(),
        ]);
    }
    folder.write_csv("index_vs_loss.csv", &csv)?;
    let fit = il::fit(&points);
    let n = points.first().map_or(0, |p| p.n);
    let mut f = Csv::new(il::FIT_HEADER);
    f.row(&il::fit_fields(n, &fit));
    folder.write_csv("index_loss_fit.csv", &f)?;
    let groups = [crate::figure::index_loss::LossGroup {
        label: String::new(),
        points,
        fit: fit.clone(),
    }];
    timings.time("figures", || {
        folder.figure("index_vs_loss", |stem| {
            crate::figure::index_loss::index_vs_loss(stem, title, loss_label(title), &groups)
                .map(|_| ())
        })
    })?;
    Ok(fit)
}

/// eigenvalue_density.csv and eigenvalue_density.png / .svg from the points' eigenvalues (as
/// eigenvalues.npy holds them), when some point is a minimum or a saddle (degenerate ones
/// included); returns whether they were written.
pub fn write_eigenvalue_density(
    folder: &RunFolder,
    cat: &Catalogue,
    title: &str,
    timings: &mut Timings,
) -> anyhow::Result<bool> {
    use super::spectrum;
    let rows: Vec<(Option<usize>, &[f64])> = cat
        .points
        .iter()
        .map(|p| {
            (
                spectrum::group_of(p.kind, p.n_neg, p.n_pos),
                p.eigenvalues.as_slice(),
            )
        })
        .collect();
    let Some(s) = spectrum::density(&rows) else {
        return Ok(false);
    };
    folder.write_csv("eigenvalue_density.csv", &spectrum::table(&s))?;
    timings.time("figures", || {
        folder.figure("eigenvalue_density", |stem| {
            crate::figure::index_loss::eigenvalue_density(stem, title, &s).map(|_| ())
        })
    })?;
    Ok(true)
}
