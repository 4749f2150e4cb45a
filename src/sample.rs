//! `saddlescope sample`: starting points -> walk -> end states, written to a run folder.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::backend::Backend;
use crate::critical::{self, Catalogue, CatalogueOptions};
use crate::objective::{self, Objective};
use crate::output::{self, Csv};
use crate::rules::{self, Optimizer};
use crate::spec::SpecError;
use crate::walk::init::Init;
use crate::walk::state::Status;
use crate::walk::{EndStates, WalkPlan};

/// Everything `sample` needs, as the user gave it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SampleSpec {
    pub objective: String,
    pub optimizer: String,
    pub walkers: usize,
    pub steps: u32,
    pub grad_tol: f64,
    pub seed: u64,
    pub init: String,
    pub bound: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk: Option<usize>,
    /// Skip the critical-point catalogue (polish, classify, cluster).
    #[serde(default)]
    pub no_critical: bool,
    /// Tolerances of the catalogue (defaults: [`CatalogueOptions::default`]).
    #[serde(default)]
    pub tolerances: Tolerances,
}

/// The catalogue's tolerances as flags; see [`CatalogueOptions`] for what each means and why
/// its default is what it is.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Tolerances {
    /// Polish converges at |∇f| ≤ polish_tol · scale (PolishOptions::grad_tol).
    pub polish_tol: f64,
    /// |λ| ≤ zero_eig_tol · max|λ| counts as a zero eigenvalue (ClassifyOptions::zero_tol).
    pub zero_eig_tol: f64,
    /// Points within cluster_tol · max(√N, |x|) are one point (CatalogueOptions::pos_tol).
    pub cluster_tol: f64,
    /// Polish may move at most max_drift · max(√N, |x|) (PolishOptions::max_drift).
    pub max_drift: f64,
}

impl Default for Tolerances {
    fn default() -> Self {
        let o = CatalogueOptions::default();
        Tolerances {
            polish_tol: o.polish.grad_tol,
            zero_eig_tol: o.classify.zero_tol,
            cluster_tol: o.pos_tol,
            max_drift: o.polish.max_drift,
        }
    }
}

impl Tolerances {
    /// Checks every tolerance (usage error naming the flag) and builds the options.
    pub fn options(&self) -> Result<CatalogueOptions, SpecError> {
        let check = |flag: &str, v: f64, hi: f64| {
            if v.is_finite() && v > 0.0 && v < hi {
                Ok(())
            } else {
                Err(SpecError::Invalid(format!(
                    "--{flag} {v} is out of range; valid: 0 < {flag} < {hi}"
                )))
            }
        };
        check("polish-tol", self.polish_tol, 1.0)?;
        check("zero-eig-tol", self.zero_eig_tol, 1.0)?;
        check("cluster-tol", self.cluster_tol, 1.0)?;
        check("max-drift", self.max_drift, f64::INFINITY)?;
        let mut o = CatalogueOptions::default();
        o.polish.grad_tol = self.polish_tol;
        o.classify.zero_tol = self.zero_eig_tol;
        o.pos_tol = self.cluster_tol;
        o.polish.max_drift = self.max_drift;
        Ok(o)
    }
}

/// A spec checked and resolved: every usage error surfaces here, before anything is written.
pub struct Resolved {
    pub obj: Box<dyn Objective>,
    pub opt: Optimizer,
    pub init: Init,
    pub plan: WalkPlan,
    pub walkers: usize,
    pub catalogue: CatalogueOptions,
}

impl SampleSpec {
    pub fn resolve(&self) -> Result<Resolved, SpecError> {
        let obj = objective::parse(&self.objective)?;
        let opt = rules::parse(&self.optimizer)?;
        opt.check_objective(obj.as_ref())?;
        let init = Init::parse(&self.init)?;
        init.check(obj.as_ref())?;
        if self.walkers == 0 || self.walkers > u32::MAX as usize / 2 {
            return Err(SpecError::Invalid(format!(
                "--walkers {} is out of range; valid: 1..={}",
                self.walkers,
                u32::MAX / 2
            )));
        }
        if !(self.grad_tol >= 0.0 && self.grad_tol.is_finite()) {
            return Err(SpecError::Invalid(format!(
                "--grad-tol {} is out of range; valid: a finite number >= 0",
                self.grad_tol
            )));
        }
        if self.bound.is_nan() || self.bound <= 0.0 {
            return Err(SpecError::Invalid(format!(
                "--bound {} is out of range; valid: > 0",
                self.bound
            )));
        }
        if self.chunk == Some(0) {
            return Err(SpecError::Invalid(
                "--chunk 0 is out of range; valid: >= 1".into(),
            ));
        }
        let plan = WalkPlan {
            max_steps: self.steps,
            grad_tol: self.grad_tol,
            bound: self.bound,
            seed: self.seed,
            chunk: self.chunk,
            ..WalkPlan::default()
        };
        let catalogue = self.tolerances.options()?;
        if !self.no_critical {
            critical::check_dim(
                obj.as_ref(),
                "valid: a smaller n, or --no-critical to write the end states only",
            )?;
        }
        Ok(Resolved {
            obj,
            opt,
            init,
            plan,
            walkers: self.walkers,
            catalogue,
        })
    }

    /// Default run folder: outputs/<objective name>-<UTC time>.
    pub fn default_dir(&self) -> PathBuf {
        output::default_dir("", &self.objective)
    }
}

/// What a finished sample reports.
pub struct SampleResult {
    pub dir: PathBuf,
    pub ends: EndStates,
    pub seconds_walk: f64,
    pub catalogue: Option<Catalogue>,
}

/// Runs a resolved sample on `backend` and writes its folder. `progress` gets walker-steps done.
pub fn run(
    spec: &SampleSpec,
    r: &Resolved,
    backend: &Backend,
    dir: &Path,
    progress: &(dyn Fn(u64) + Sync),
) -> anyhow::Result<SampleResult> {
    let n = r.obj.dim();
    let t0 = Instant::now();
    let starts = r
        .init
        .starts(r.obj.as_ref(), r.plan.seed, r.plan.first_walker, r.walkers);
    // Ranges in the optimizer spec spread over the walkers (walker k of W, see hyper_rows).
    let hyper = r.opt.hyper_rows(r.walkers);
    let sweeps = r.opt.sweeps();
    let t_walk = Instant::now();
    let ends = backend.walk(r.obj.as_ref(), &r.opt, &r.plan, &starts, &hyper, progress)?;
    let seconds_walk = t_walk.elapsed().as_secs_f64();

    output::write_positions(
        &dir.join("starts.npy"),
        r.walkers,
        n,
        &starts,
        ends.precision,
    )?;
    output::write_positions(
        &dir.join("end_states.npy"),
        r.walkers,
        n,
        &ends.x,
        ends.precision,
    )?;
    // Only converged walkers can become critical points.
    let t_cat = Instant::now();
    let catalogue = if spec.no_critical {
        None
    } else {
        let eligible: Vec<bool> = ends
            .status
            .iter()
            .map(|&s| s == Status::Converged)
            .collect();
        let cat = critical::catalogue(r.obj.as_ref(), &ends.x, &eligible, &r.catalogue)?;
        write_catalogue(dir, n, &cat, &r.obj.spec())?;
        Some(cat)
    };
    let seconds_catalogue = t_cat.elapsed().as_secs_f64();

    // One more column per swept hyperparameter, named by its key: each walker's value.
    let mut header = String::from("walker,f,grad_norm,steps,status,point");
    for (_, key, _) in &sweeps {
        header.push(',');
        header.push_str(key);
    }
    let mut csv = Csv::new(&header);
    for w in 0..ends.len() {
        let point = catalogue
            .as_ref()
            .and_then(|c| c.point_of(w))
            .map_or(String::new(), |p| p.to_string());
        let mut row = vec![
            w.to_string(),
            output::num(ends.f[w]),
            output::num(ends.grad_norm[w]),
            ends.steps[w].to_string(),
            ends.status[w].name().to_string(),
            point,
        ];
        row.extend(sweeps.iter().map(|(k, _, _)| output::num(hyper.get(*k, w))));
        csv.row(&row);
    }
    csv.write(&dir.join("walkers.csv"))?;

    let counts: serde_json::Map<String, serde_json::Value> = ends
        .counts()
        .iter()
        .map(|(s, c)| (s.name().to_string(), (*c).into()))
        .collect();
    let manifest = serde_json::json!({
        "command": "sample",
        "saddlescope_version": env!("CARGO_PKG_VERSION"),
        "spec": spec,
        "resolved": {
            "objective": r.obj.spec(),
            "optimizer": r.opt.spec(),
            "dim": n,
            "sphere": r.obj.sphere(),
            "init": r.init,
            "plan": r.plan,
            "catalogue": if spec.no_critical { None } else { Some(&r.catalogue) },
        },
        "seed": r.plan.seed,
        "backend": backend.describe(),
        "precision": ends.precision,
        "timings_s": { "walk": seconds_walk, "critical_points": seconds_catalogue, "total": t0.elapsed().as_secs_f64() },
        "walker_steps_per_s": ends.steps.iter().map(|&s| s as f64).sum::<f64>() / seconds_walk.max(1e-9),
        "status_counts": counts,
        "sweeps": r.opt.values.sweeps,
        "critical_points": catalogue.as_ref().map(summary),
        "files": if catalogue.is_some() {
            vec!["walkers.csv", "starts.npy", "end_states.npy", "critical_points.csv", "critical_points.npy", "eigenvalues.npy", "index_histogram.png", "index_histogram.svg"]
        } else {
            vec!["walkers.csv", "starts.npy", "end_states.npy"]
        },
    });
    output::write_atomic(
        &dir.join("manifest.json"),
        serde_json::to_string_pretty(&manifest)?.as_bytes(),
    )?;
    Ok(SampleResult {
        dir: dir.to_path_buf(),
        ends,
        seconds_walk,
        catalogue,
    })
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

/// critical_points.csv / .npy, eigenvalues.npy and the index histogram figure.
pub(crate) fn write_catalogue(
    dir: &Path,
    n: usize,
    cat: &Catalogue,
    title: &str,
) -> anyhow::Result<()> {
    let mut header =
        String::from("id,f,grad_norm,index,n_neg,n_zero,n_pos,kind,walkers,min_eig,max_eig");
    if n <= 8 {
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
        if n <= 8 {
            row.extend(p.x.iter().map(|&v| output::num(v)));
        }
        csv.row(&row);
    }
    csv.write(&dir.join("critical_points.csv"))?;
    let k = cat.points.len();
    let xs: Vec<f64> = cat
        .points
        .iter()
        .flat_map(|p| p.x.iter().copied())
        .collect();
    output::write_npy(&dir.join("critical_points.npy"), &[k, n], &xs)?;
    let ne = cat.points.first().map_or(n, |p| p.eigenvalues.len());
    let ev: Vec<f64> = cat
        .points
        .iter()
        .flat_map(|p| p.eigenvalues.iter().copied())
        .collect();
    output::write_npy(&dir.join("eigenvalues.npy"), &[k, ne], &ev)?;
    crate::figure::index_histogram(&dir.join("index_histogram"), cat, title)?;
    Ok(())
}

/// `saddlescope plot DIR` for a sample folder: redraws the index histogram from
/// critical_points.csv (index, kind and walkers of every distinct point).
pub fn redraw(dir: &Path) -> anyhow::Result<()> {
    let bad = |what: String| SpecError::Invalid(format!("{}: {what}", dir.display()));
    let text = std::fs::read_to_string(dir.join("manifest.json"))
        .map_err(|e| bad(format!("cannot read manifest.json ({e})")))?;
    let m: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("manifest.json: {e}")))?;
    if m["critical_points"].is_null() {
        return Err(bad(
            "this sample ran with --no-critical: it has no critical points to draw".into(),
        )
        .into());
    }
    let title = m["resolved"]["objective"]
        .as_str()
        .unwrap_or("sample")
        .to_string();
    let dim = m["resolved"]["dim"]
        .as_u64()
        .ok_or_else(|| bad("manifest.json names no resolved.dim".into()))? as usize;
    let t = crate::table::Table::read(dir, "critical_points.csv")?;
    let mut bins: Vec<critical::IndexBin> = Vec::new();
    for r in 0..t.len() {
        let index = t.usize(r, "index")?;
        if index > dim {
            return Err(bad(format!(
                "critical_points.csv row {}: index {index} is more than N = {dim}",
                r + 1
            ))
            .into());
        }
        let walkers = t.usize(r, "walkers")?;
        let degenerate = t.str(r, "kind")? == critical::Kind::Degenerate.as_str();
        while bins.len() <= index {
            bins.push(critical::IndexBin {
                index: bins.len(),
                ..Default::default()
            });
        }
        let b = &mut bins[index];
        b.points += 1;
        b.walkers += walkers;
        if degenerate {
            b.points_degenerate += 1;
            b.walkers_degenerate += walkers;
        }
    }
    crate::figure::index_histogram_bins(&dir.join("index_histogram"), &bins, &title)?;
    Ok(())
}
