//! The escape run's tables: where each walker ended, the per-arm summary (escape.csv), the
//! per-walker table (escape_times.csv), attractor shares (attractors.csv), swept
//! hyperparameters and their bins; and the figures, always drawn from the written files so that
//! a run and a later `redraw` give the same pictures.

use std::collections::BTreeMap;
use std::path::Path;

use super::stats::{self, Z95};
use super::{escape_step, lowest_minima, row_keys, short, Resolved};
use crate::critical::{Catalogue, Kind};
use crate::figure::{self, EcdfArm, OutcomeArm, SweepBin, SweepSeries};
use crate::output::{self, Csv};
use crate::spec::SpecError;
use crate::table::Table;
use crate::walk::state::Status;
use crate::walk::{EndStates, Hyper};

/// Where a walker ended, a partition of all walkers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// At the critical point the starting point itself polishes to (it did not get away, or
    /// came back).
    AtStart,
    /// At a minimum as low as the lowest minimum any walker of the run reached.
    LowestMinimum,
    OtherMinimum,
    /// At a nondegenerate saddle other than the start.
    Saddle,
    Maximum,
    /// At a critical point with a zero Hessian eigenvalue (a plateau, a flat valley, a
    /// higher-order saddle) other than the start.
    Degenerate,
    /// Not diverged, but still on a slope when --steps ran out: its end state does not polish
    /// to a nearby critical point, or it polishes back to the start point from beyond the
    /// escape criterion.
    Unsettled,
    /// Stopped as diverged (|x_i| > --bound, or a non-finite value).
    Diverged,
}

/// Every end, in column order.
pub const ENDS: [End; 8] = [
    End::AtStart,
    End::LowestMinimum,
    End::OtherMinimum,
    End::Saddle,
    End::Maximum,
    End::Degenerate,
    End::Unsettled,
    End::Diverged,
];

impl End {
    /// Column name in escape.csv.
    pub fn name(self) -> &'static str {
        match self {
            End::AtStart => "at_start",
            End::LowestMinimum => "to_lowest_minimum",
            End::OtherMinimum => "to_other_minimum",
            End::Saddle => "to_saddle",
            End::Maximum => "to_maximum",
            End::Degenerate => "to_degenerate",
            End::Unsettled => "unsettled",
            End::Diverged => "diverged",
        }
    }
    /// Legend text.
    pub fn describe(self) -> &'static str {
        match self {
            End::AtStart => "at the start point",
            End::LowestMinimum => "lowest minimum",
            End::OtherMinimum => "other minimum",
            End::Saddle => "other saddle",
            End::Maximum => "maximum",
            End::Degenerate => "degenerate point (plateau)",
            End::Unsettled => "unsettled (no critical point near)",
            End::Diverged => "diverged",
        }
    }
}

/// Where every walker ended (walker order as in `ends`). `away(w)`: walker w's end state is
/// beyond the escape criterion from the start point (farther than the escape radius, or lower
/// by the escape drop). A walker that did not converge and ends away from the start point is
/// still on its way down, even when its end state polishes back to the start point (the
/// nearest critical point of a slope just below a saddle may be the saddle): it counts as
/// unsettled, not as at the start.
pub fn classify_ends(
    ends: &EndStates,
    cat: &Catalogue,
    start: Option<usize>,
    away: &dyn Fn(usize) -> bool,
) -> Vec<End> {
    let lowest = lowest_minima(cat);
    (0..ends.len())
        .map(|w| {
            if ends.status[w] == Status::Diverged {
                return End::Diverged;
            }
            match cat.point_of(w) {
                None => End::Unsettled,
                Some(id) if Some(id) == start => {
                    if ends.status[w] != Status::Converged && away(w) {
                        End::Unsettled
                    } else {
                        End::AtStart
                    }
                }
                Some(id) => match cat.points[id].kind {
                    Kind::Minimum if lowest[id] => End::LowestMinimum,
                    Kind::Minimum => End::OtherMinimum,
                    Kind::Saddle => End::Saddle,
                    Kind::Maximum => End::Maximum,
                    Kind::Degenerate => End::Degenerate,
                },
            }
        })
        .collect()
}

/// One row of escape.csv.
#[derive(Debug, Clone, PartialEq)]
pub struct ArmSummary {
    pub method: String,
    pub walkers: usize,
    pub escaped: usize,
    pub rate: f64,
    pub rate_lo: f64,
    pub rate_hi: f64,
    /// Over escaped walkers; None when none escaped.
    pub median: Option<f64>,
    pub mean: Option<f64>,
    pub p90: Option<f64>,
    /// Walkers per end, in [`ENDS`] order.
    pub ends: [usize; 8],
}

impl ArmSummary {
    pub fn share(&self, e: End) -> f64 {
        let i = ENDS.iter().position(|&x| x == e).unwrap_or(0);
        self.ends[i] as f64 / self.walkers.max(1) as f64
    }
}

/// The summary of walkers `range` of `ends`.
pub fn summarise_walkers(method: &str, escape: &[u32], ends: &[End]) -> ArmSummary {
    let walkers = escape.len();
    let mut steps: Vec<f64> = escape
        .iter()
        .filter_map(|&e| escape_step(e))
        .map(f64::from)
        .collect();
    steps.sort_by(f64::total_cmp);
    let escaped = steps.len();
    let (rate_lo, rate_hi) = stats::wilson(escaped, walkers, Z95);
    let mut counts = [0usize; 8];
    for e in ends {
        if let Some(i) = ENDS.iter().position(|x| x == e) {
            counts[i] += 1;
        }
    }
    ArmSummary {
        method: method.to_string(),
        walkers,
        escaped,
        rate: escaped as f64 / walkers.max(1) as f64,
        rate_lo,
        rate_hi,
        median: stats::median_sorted(&steps),
        mean: stats::mean(&steps),
        p90: stats::quantile_sorted(&steps, 0.9),
        ends: counts,
    }
}

/// One summary per arm.
pub fn summarise(r: &Resolved, ends: &EndStates, class: &[End]) -> Vec<ArmSummary> {
    let w = r.walkers;
    r.arms
        .iter()
        .enumerate()
        .map(|(a, arm)| {
            summarise_walkers(
                &arm.opt.spec(),
                &ends.escape[a * w..(a + 1) * w],
                &class[a * w..(a + 1) * w],
            )
        })
        .collect()
}

/// A hyperparameter that varies across the walkers of at least one arm, with every walker's
/// value (None for walkers of arms whose rule has no such key).
#[derive(Debug, Clone, PartialEq)]
pub struct Swept {
    pub key: String,
    pub values: Vec<Option<f64>>,
}

/// Rows whose values are not all equal, by key, in order of first appearance.
pub fn swept(r: &Resolved, hypers: &[Hyper]) -> Vec<Swept> {
    let names: Vec<Vec<String>> = r
        .arms
        .iter()
        .zip(hypers)
        .map(|(arm, h)| row_keys(&arm.opt, h.rows.len()))
        .collect();
    let mut keys: Vec<&str> = Vec::new();
    for (h, names) in hypers.iter().zip(&names) {
        for (row, key) in h.rows.iter().zip(names) {
            let varies = row.iter().any(|v| v.to_bits() != row[0].to_bits());
            if varies && !keys.contains(&key.as_str()) {
                keys.push(key);
            }
        }
    }
    keys.into_iter()
        .map(|key| {
            let values = hypers
                .iter()
                .zip(&names)
                .flat_map(|(h, names)| {
                    let k = names.iter().position(|n| n == key);
                    (0..r.walkers).map(move |w| k.map(|k| h.rows[k][w]))
                })
                .collect();
            Swept {
                key: key.to_string(),
                values,
            }
        })
        .collect()
}

/// A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180).
pub fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn opt_num(v: Option<f64>) -> String {
    v.map_or(String::new(), output::num)
}

/// The exact leading columns of escape.csv; the [`ENDS`] shares follow.
pub const ESCAPE_HEADER: &str = "method,walkers,escaped,escape_rate,escape_rate_lo,escape_rate_hi,median_steps,mean_steps,p90_steps";

pub fn write_escape_csv(path: &Path, rows: &[ArmSummary]) -> std::io::Result<()> {
    let mut header = ESCAPE_HEADER.to_string();
    for e in ENDS {
        header.push(',');
        header.push_str(e.name());
    }
    let mut csv = Csv::new(&header);
    for s in rows {
        let mut f = vec![
            quote(&s.method),
            s.walkers.to_string(),
            s.escaped.to_string(),
            output::num(s.rate),
            output::num(s.rate_lo),
            output::num(s.rate_hi),
            opt_num(s.median),
            opt_num(s.mean),
            opt_num(s.p90),
        ];
        f.extend(ENDS.iter().map(|&e| output::num(s.share(e))));
        csv.row(&f);
    }
    csv.write(path)
}

/// attractors.csv: for each arm, every critical point its walkers ended at.
pub fn write_attractors_csv(path: &Path, r: &Resolved, cat: &Catalogue) -> std::io::Result<()> {
    let mut csv = Csv::new("arm,method,point,f,kind,index,walkers,share");
    let w = r.walkers;
    for (a, arm) in r.arms.iter().enumerate() {
        let mut per_point: BTreeMap<usize, usize> = BTreeMap::new();
        for k in 0..w {
            if let Some(id) = cat.point_of(a * w + k) {
                *per_point.entry(id).or_default() += 1;
            }
        }
        for (id, count) in per_point {
            let p = &cat.points[id];
            csv.row(&[
                a.to_string(),
                quote(&arm.opt.spec()),
                id.to_string(),
                output::num(p.f),
                p.kind.as_str().to_string(),
                p.index.to_string(),
                count.to_string(),
                output::num(count as f64 / w as f64),
            ]);
        }
    }
    csv.write(path)
}

/// escape_times.csv: `arm,walker,escape_step,point` and one column per swept key.
pub fn write_times_csv(
    path: &Path,
    r: &Resolved,
    ends: &EndStates,
    cat: &Catalogue,
    swept: &[Swept],
) -> std::io::Result<()> {
    let mut header = String::from("arm,walker,escape_step,point");
    for s in swept {
        header.push(',');
        header.push_str(&s.key);
    }
    let mut csv = Csv::new(&header);
    let w = r.walkers;
    for g in 0..ends.len() {
        let mut row = vec![
            (g / w).to_string(),
            (g % w).to_string(),
            escape_step(ends.escape[g]).map_or(String::new(), |t| t.to_string()),
            cat.point_of(g).map_or(String::new(), |p| p.to_string()),
        ];
        row.extend(
            swept.iter().map(|s| {
                s.values[g].map_or(String::new(), |v| crate::rules::show_hyper(&s.key, v))
            }),
        );
        csv.row(&row);
    }
    csv.write(path)
}

/// Bins of a swept value: one per distinct value when there are at most `MAX_BINS`, else
/// `MAX_BINS` equal-width bins (equal in log10 when the values are positive and span more than a
/// decade). Returns the bins (with Wilson intervals and median escape steps) and whether the
/// axis is logarithmic.
pub fn sweep_bins(points: &[(f64, Option<u32>)]) -> (Vec<SweepBin>, bool) {
    const MAX_BINS: usize = 12;
    let finite: Vec<(f64, Option<u32>)> = points
        .iter()
        .copied()
        .filter(|(v, _)| v.is_finite())
        .collect();
    if finite.is_empty() {
        return (Vec::new(), false);
    }
    let lo = finite.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let hi = finite.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
    let log = lo > 0.0 && hi / lo > 10.0;
    let mut distinct: Vec<f64> = finite.iter().map(|p| p.0).collect();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    let t = |v: f64| if log { v.log10() } else { v };
    let edges: Vec<(f64, f64)> = if distinct.len() <= MAX_BINS {
        distinct.iter().map(|&v| (v, v)).collect()
    } else {
        let (a, b) = (t(lo), t(hi));
        let inv = |u: f64| if log { 10f64.powf(u) } else { u };
        (0..MAX_BINS)
            .map(|i| {
                let u0 = a + (b - a) * i as f64 / MAX_BINS as f64;
                let u1 = a + (b - a) * (i + 1) as f64 / MAX_BINS as f64;
                (inv(u0), inv(u1))
            })
            .collect()
    };
    let exact = distinct.len() <= MAX_BINS;
    let (a, b) = (t(lo), t(hi));
    let mut members: Vec<Vec<Option<u32>>> = vec![Vec::new(); edges.len()];
    for &(v, e) in &finite {
        let i = if exact {
            distinct.partition_point(|&d| d < v)
        } else {
            (((t(v) - a) / (b - a) * MAX_BINS as f64) as usize).min(MAX_BINS - 1)
        };
        members[i].push(e);
    }
    let bins = edges
        .iter()
        .zip(&members)
        .filter(|(_, m)| !m.is_empty())
        .map(|(&(e0, e1), m)| {
            let mut steps: Vec<f64> = m.iter().flatten().map(|&s| f64::from(s)).collect();
            steps.sort_by(f64::total_cmp);
            let (rate_lo, rate_hi) = stats::wilson(steps.len(), m.len(), Z95);
            SweepBin {
                value: if exact {
                    e0
                } else if log {
                    (e0 * e1).sqrt()
                } else {
                    0.5 * (e0 + e1)
                },
                lo: e0,
                hi: e1,
                walkers: m.len(),
                escaped: steps.len(),
                rate_lo,
                rate_hi,
                median: stats::median_sorted(&steps),
            }
        })
        .collect();
    (bins, log)
}

/// escape.csv read back: (method, walkers, shares in [`ENDS`] order) per arm.
fn read_escape_csv(
    dir: &Path,
    res: &serde_json::Value,
) -> Result<Vec<(String, usize, Vec<f64>)>, SpecError> {
    let mut required = vec![
        "method",
        "walkers",
        "escaped",
        "escape_rate",
        "escape_rate_lo",
        "escape_rate_hi",
    ];
    required.extend(ENDS.iter().map(|e| e.name()));
    if !dir.join("escape.csv").exists() {
        return Err(SpecError::folder(
            dir,
            "cannot read escape.csv (there is none); expected a folder written by `saddlescope escape`",
        ));
    }
    let t = Table::read(dir, "escape.csv", &required)?;
    if let Some(arms) = res["arms"].as_array() {
        t.expect_rows(arms.len(), "manifest.json (resolved.arms)")?;
    }
    let per_arm = res["walkers_per_arm"].as_u64().map(|w| w as usize);
    (0..t.len())
        .map(|r| {
            let walkers = t.usize(r, "walkers")?;
            if per_arm.is_some_and(|w| w != walkers) {
                return Err(t.bad(
                    r,
                    format!(
                        "walkers = {walkers} where manifest.json says {} per arm",
                        per_arm.unwrap_or(0)
                    ),
                ));
            }
            let escaped = t.usize(r, "escaped")?;
            if escaped > walkers {
                return Err(t.bad(r, format!("escaped = {escaped} of walkers = {walkers}")));
            }
            let rate = t.fraction(r, "escape_rate")?;
            if (rate - escaped as f64 / walkers.max(1) as f64).abs() > 1e-6 {
                return Err(t.bad(
                    r,
                    format!("escape_rate = {rate} is not escaped / walkers = {escaped}/{walkers}"),
                ));
            }
            let (lo, hi) = (
                t.fraction(r, "escape_rate_lo")?,
                t.fraction(r, "escape_rate_hi")?,
            );
            if !(lo <= rate && rate <= hi) {
                return Err(t.bad(
                    r,
                    format!(
                        "escape_rate = {rate} lies outside its interval [{lo}, {hi}] \
                         (escape_rate_lo, escape_rate_hi)"
                    ),
                ));
            }
            let shares = ENDS
                .iter()
                .map(|e| t.fraction(r, e.name()))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((t.str(r, "method")?, walkers, shares))
        })
        .collect()
}

/// escape_times.csv read back: per arm, each walker's escape step; and the swept columns as
/// (key, per arm, per walker value).
type Times = (Vec<Vec<Option<u32>>>, Vec<(String, Vec<Vec<Option<f64>>>)>);

/// escape_times.csv: one row per walker of every arm (`walkers` each, from escape.csv), arm
/// and walker ids in range, escape steps empty (never escaped) or a step count.
fn read_times_csv(dir: &Path, walkers: &[usize]) -> Result<Times, SpecError> {
    let lead = ["arm", "walker", "escape_step", "point"];
    let t = Table::read(dir, "escape_times.csv", &lead)?;
    let header = t.header();
    if header.len() < 4 || header[..4] != lead {
        return Err(SpecError::Table {
            file: dir.join("escape_times.csv"),
            line: 1,
            problem: "the header does not start with arm,walker,escape_step,point".into(),
        });
    }
    let keys: Vec<String> = header[4..].iter().map(|k| k.to_string()).collect();
    t.expect_rows(
        walkers.iter().sum(),
        "escape.csv (its walkers column, summed)",
    )?;
    let arms = walkers.len();
    let mut steps: Vec<Vec<Option<u32>>> = vec![Vec::new(); arms];
    let mut values: Vec<Vec<Vec<Option<f64>>>> = vec![vec![Vec::new(); arms]; keys.len()];
    for r in 0..t.len() {
        let arm = t.usize(r, "arm")?;
        if arm >= arms {
            return Err(t.bad(r, format!("arm = {arm}; escape.csv has arms 0..{arms}")));
        }
        let walker = t.usize(r, "walker")?;
        if walker >= walkers[arm] {
            return Err(t.bad(
                r,
                format!(
                    "walker = {walker}; arm {arm} has walkers 0..{}",
                    walkers[arm]
                ),
            ));
        }
        let step = t.opt_usize(r, "escape_step")?;
        if step.is_some_and(|s| s > u32::MAX as usize) {
            return Err(t.bad(r, "escape_step is more than any walk's steps"));
        }
        steps[arm].push(step.map(|s| s as u32));
        for (k, col) in values.iter_mut().enumerate() {
            let v = t.f64(r, &keys[k])?;
            col[arm].push((!v.is_nan()).then_some(v));
        }
    }
    Ok((steps, keys.into_iter().zip(values).collect()))
}

/// Draws escape_ecdf, escape_ends and one escape_vs_<key> per swept key from the folder's CSV
/// files; `manifest` (the run's, or Null) gives arm labels, the step budget and the title.
pub fn draw_figures(dir: &Path, manifest: &serde_json::Value) -> anyhow::Result<()> {
    let res = &manifest["resolved"];
    let rows = read_escape_csv(dir, res)?;
    let walkers: Vec<usize> = rows.iter().map(|r| r.1).collect();
    let (steps, swept) = read_times_csv(dir, &walkers)?;
    let labels: Vec<String> = rows
        .iter()
        .enumerate()
        .map(|(a, r)| {
            res["arms"][a]["label"]
                .as_str()
                .map_or(r.0.clone(), String::from)
        })
        .collect();
    let budget = res["plan"]["max_steps"]
        .as_u64()
        .map(|s| s as u32)
        .unwrap_or_else(|| steps.iter().flatten().flatten().copied().max().unwrap_or(1))
        .max(1);
    let title = match (
        res["objective"].as_str(),
        res["from"]["description"].as_str(),
    ) {
        (Some(o), Some(d)) => format!("{o}: escape from {d}"),
        _ => "escape".to_string(),
    };
    let subtitle = subtitle(res, rows.first().map(|r| r.1));

    let ecdf: Vec<EcdfArm> = labels
        .iter()
        .zip(&steps)
        .map(|(l, s)| EcdfArm {
            label: l.clone(),
            walkers: s.len(),
            steps: s.iter().flatten().copied().collect(),
        })
        .collect();
    figure::escape_ecdf(&dir.join("escape_ecdf"), &ecdf, budget, &title, &subtitle)?;
    let outcomes: Vec<OutcomeArm> = labels
        .iter()
        .zip(&rows)
        .map(|(l, r)| OutcomeArm {
            label: l.clone(),
            shares: r.2.clone(),
        })
        .collect();
    let cats: Vec<figure::OutcomeCategory> = ENDS
        .iter()
        .map(|e| figure::OutcomeCategory {
            name: e.name(),
            legend: e.describe(),
        })
        .collect();
    figure::escape_outcomes(
        &dir.join("escape_ends"),
        &outcomes,
        &cats,
        &title,
        &subtitle,
    )?;
    for (key, per_arm) in &swept {
        let (series, log) = sweep_series(per_arm, &steps, &labels);
        figure::escape_sweep(
            &dir.join(format!("escape_vs_{key}")),
            key,
            &series,
            log,
            &title,
            &subtitle,
        )?;
    }
    Ok(())
}

/// The figures' subtitle: the escape criterion, the start radius and the walkers per arm, as
/// far as the manifest's `resolved` (and escape.csv) tell them.
fn subtitle(res: &serde_json::Value, walkers: Option<usize>) -> String {
    let mut sub = Vec::new();
    match (
        res["criterion"]["radius"].as_f64(),
        res["criterion"]["drop"].as_f64(),
    ) {
        (Some(r), _) => sub.push(format!("escaped: distance ≥ {} from own start", short(r))),
        (_, Some(d)) => sub.push(format!("escaped: f dropped by ≥ {}", short(d))),
        _ => {}
    }
    if let Some(r0) = res["radius"].as_f64() {
        sub.push(format!("start radius r0 = {}", short(r0)));
    }
    if let Some(w) = walkers {
        sub.push(format!("{w} walkers per arm"));
    }
    sub.join("  ·  ")
}

/// One swept key's series: an arm whose walkers hold at least two distinct values of it, binned
/// against their escape steps; true where any arm wants a log axis.
fn sweep_series(
    per_arm: &[Vec<Option<f64>>],
    steps: &[Vec<Option<u32>>],
    labels: &[String],
) -> (Vec<SweepSeries>, bool) {
    let mut series = Vec::new();
    let mut log = false;
    for (a, vals) in per_arm.iter().enumerate() {
        let present: Vec<f64> = vals.iter().flatten().copied().collect();
        if present.len() < 2 || present.iter().all(|v| v.to_bits() == present[0].to_bits()) {
            continue;
        }
        let pts: Vec<(f64, Option<u32>)> = vals
            .iter()
            .zip(&steps[a])
            .filter_map(|(v, e)| v.map(|v| (v, *e)))
            .collect();
        let (bins, l) = sweep_bins(&pts);
        log |= l;
        series.push(SweepSeries {
            arm: a,
            label: labels[a].clone(),
            bins,
        });
    }
    (series, log)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::split_csv;

    #[test]
    fn csv_quoting_round_trips() {
        for s in ["gd:lr=0.1,clip=0", "plain", "a \"quoted\", b", ""] {
            let line = format!("{},7,{}", quote(s), quote("x,y"));
            assert_eq!(
                split_csv(&line),
                vec![s.to_string(), "7".into(), "x,y".into()]
            );
        }
    }

    #[test]
    fn summary_counts_escapes_and_ends() {
        let nil = crate::walk::state::NO_ESCAPE;
        let esc = [5, nil, 1, 9, nil, 3];
        let ends = [
            End::Diverged,
            End::AtStart,
            End::Diverged,
            End::LowestMinimum,
            End::AtStart,
            End::Unsettled,
        ];
        let s = summarise_walkers("m", &esc, &ends);
        assert_eq!((s.walkers, s.escaped), (6, 4));
        assert_eq!(s.rate, 4.0 / 6.0);
        assert_eq!(s.median, Some(4.0));
        assert_eq!(s.mean, Some(4.5));
        // numpy.quantile([1, 3, 5, 9], 0.9) = 7.8
        assert!((s.p90.unwrap() - 7.8).abs() < 1e-12);
        assert_eq!(s.share(End::Diverged), 2.0 / 6.0);
        assert_eq!(s.ends.iter().sum::<usize>(), 6);
        let none = summarise_walkers("m", &[nil, nil], &[End::AtStart, End::AtStart]);
        assert_eq!((none.escaped, none.median, none.rate_lo), (0, None, 0.0));
    }

    #[test]
    fn sweep_bins_are_exact_for_few_values_and_logarithmic_over_decades() {
        // Three distinct values: one bin each, counts and rates exact.
        let pts = [
            (0.1, Some(10)),
            (0.1, None),
            (0.2, Some(4)),
            (0.2, Some(6)),
            (0.3, None),
        ];
        let (bins, log) = sweep_bins(&pts);
        assert!(!log);
        let got: Vec<(f64, usize, usize, Option<f64>)> = bins
            .iter()
            .map(|b| (b.value, b.walkers, b.escaped, b.median))
            .collect();
        assert_eq!(
            got,
            vec![
                (0.1, 2, 1, Some(10.0)),
                (0.2, 2, 2, Some(5.0)),
                (0.3, 1, 0, None)
            ]
        );
        // 1e-4 .. 1e-1 in 300 log-spaced values: 12 bins of a quarter decade, 25 walkers each.
        let pts: Vec<(f64, Option<u32>)> = (0..300)
            .map(|i| (1e-4 * 1000f64.powf(i as f64 / 299.0), Some(i)))
            .collect();
        let (bins, log) = sweep_bins(&pts);
        assert!(log);
        assert_eq!(bins.len(), 12);
        assert_eq!(bins.iter().map(|b| b.walkers).sum::<usize>(), 300);
        assert!(
            bins.iter().all(|b| (24..=26).contains(&b.walkers)),
            "{bins:?}"
        );
        assert!((bins[0].lo - 1e-4).abs() < 1e-16 && (bins[11].hi - 0.1).abs() < 1e-12);
        assert!((bins[0].value - (1e-4 * bins[0].hi).sqrt()).abs() < 1e-15);
    }
}
