//! `saddlescope escape`: which methods leave a saddle or a plateau, how fast and how reliably.
//! Walkers start at (or uniformly around) one point, each optimizer spec is one arm, the engine
//! records each walker's first step at distance ≥ R from its start (or with f dropped by δ),
//! walkers run on until they converge or reach --steps, and the critical-point pipeline names
//! the attractor each one ended at. Outputs: escape.csv (one row per arm), escape_times.csv (one
//! row per walker), attractors.csv, the pooled catalogue, ECDF and outcome figures.

mod from;
pub mod stats;
mod tables;

use std::path::{Path, PathBuf};
use std::time::Instant;

pub use from::{starts, Centre, Origin};
pub use tables::{End, ENDS};

use crate::backend::Backend;
use crate::critical::{self, Catalogue, CatalogueOptions, Kind};
use crate::objective::{self, Objective};
use crate::output;
use crate::rules::{self, Optimizer};
use crate::spec::SpecError;
use crate::walk::state::{Status, NO_ESCAPE};
use crate::walk::{EndStates, Hyper, WalkPlan};

/// Everything `escape` needs, as the user gave it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EscapeSpec {
    pub objective: String,
    pub from: String,
    /// r0: starts are uniform in the ball of this radius around the point (None: the default).
    pub radius: Option<f64>,
    pub escape_radius: Option<f64>,
    pub escape_drop: Option<f64>,
    pub optimizers: Vec<String>,
    /// Walkers per arm.
    pub walkers: usize,
    pub steps: u32,
    /// Stop a walker as converged when |grad f| <= this, once it has escaped (None: the
    /// default, [`DEFAULT_GRAD_TOL`]; see README).
    pub grad_tol: Option<f64>,
    pub seed: u64,
    pub bound: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunk: Option<usize>,
}

/// When a walker counts as escaped.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    /// Distance from the walker's own start >= R.
    Radius(f64),
    /// f(start) - f >= δ.
    Drop(f64),
}

impl Criterion {
    pub fn describe(&self) -> String {
        match self {
            Criterion::Radius(r) => format!("R = {}", short(*r)),
            Criterion::Drop(d) => format!("f drop δ = {}", short(*d)),
        }
    }
}

/// One arm: an optimizer, the label figures use (the spec as typed), and its walk group.
pub struct Arm {
    pub label: String,
    pub opt: Optimizer,
    /// Index into `Resolved::groups`.
    pub group: usize,
}

/// A spec checked and resolved: every usage error surfaces here, before anything is written.
pub struct Resolved {
    pub obj: Box<dyn Objective>,
    pub centre: Centre,
    /// r0 as used.
    pub radius: f64,
    pub criterion: Criterion,
    pub arms: Vec<Arm>,
    /// Arms that run as one walk (same rule, same shader), in order of first appearance.
    pub groups: Vec<Vec<usize>>,
    pub plan: WalkPlan,
    /// Walkers per arm.
    pub walkers: usize,
}

/// Default r0 and R, relative to the size of the starting point (|x| = √N on spheres).
const DEFAULT_RADIUS: f64 = 1e-3;
const DEFAULT_ESCAPE_RADIUS: f64 = 0.1;
/// Default `--grad-tol`. Walkers may stop as converged only after they have escaped
/// (`WalkPlan::settle_after_escape`), so a zero-gradient start is never "converged" at step 0.
pub const DEFAULT_GRAD_TOL: f64 = 1e-4;

fn positive(flag: &str, v: f64, zero_ok: bool) -> Result<f64, SpecError> {
    if v.is_finite() && (v > 0.0 || zero_ok && v == 0.0) {
        Ok(v)
    } else {
        Err(SpecError::Invalid(format!(
            "{flag} {v} is out of range; valid: a finite number {}",
            if zero_ok { ">= 0" } else { "> 0" }
        )))
    }
}

impl EscapeSpec {
    pub fn resolve(&self) -> Result<Resolved, SpecError> {
        let obj = objective::parse(&self.objective)?;
        let origin = Origin::parse(&self.from)?;
        // escape matches every end state to a catalogue of critical points.
        crate::critical::check_dim(obj.as_ref(), "valid: a smaller n")?;
        if self.optimizers.is_empty() {
            return Err(SpecError::Invalid(
                "--optimizers needs at least one optimizer spec (one arm each), e.g. \
                 --optimizers gd:lr=0.1 sgd:lr=0.1,noise=0.1 pgd"
                    .into(),
            ));
        }
        let mut arms: Vec<Arm> = Vec::new();
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut keys: Vec<String> = Vec::new();
        for text in &self.optimizers {
            let opt = rules::parse(text)?;
            opt.check_objective(obj.as_ref())?;
            if let Some(a) = arms.iter().find(|a| a.opt.spec() == opt.spec()) {
                return Err(SpecError::Invalid(format!(
                    "--optimizers: '{text}' and '{}' are the same arm ({}); give each arm once",
                    a.label,
                    opt.spec()
                )));
            }
            let key = walk_key(&opt);
            let group = match keys.iter().position(|k| *k == key) {
                Some(g) => g,
                None => {
                    keys.push(key);
                    groups.push(Vec::new());
                    groups.len() - 1
                }
            };
            groups[group].push(arms.len());
            arms.push(Arm {
                label: text.trim().to_string(),
                opt,
                group,
            });
        }
        let limit = u32::MAX as usize / 2;
        if self.walkers == 0 || self.walkers.saturating_mul(arms.len()) > limit {
            return Err(SpecError::Invalid(format!(
                "--walkers {} is out of range; valid: 1..={} per arm with {} arms",
                self.walkers,
                limit / arms.len(),
                arms.len()
            )));
        }
        if self.steps == 0 {
            return Err(SpecError::Invalid(
                "--steps 0 is out of range; valid: >= 1".into(),
            ));
        }
        if let Some(r) = self.radius {
            positive("--radius", r, true)?;
        }
        let criterion = match (self.escape_radius, self.escape_drop) {
            (Some(_), Some(_)) => {
                return Err(SpecError::Invalid(
                    "--escape-radius and --escape-drop exclude each other; give one".into(),
                ))
            }
            (Some(r), None) => Criterion::Radius(positive("--escape-radius", r, false)?),
            (None, Some(d)) => Criterion::Drop(positive("--escape-drop", d, false)?),
            (None, None) => Criterion::Radius(f64::NAN),
        };
        if let Some(t) = self.grad_tol {
            positive("--grad-tol", t, true)?;
        }
        positive("--bound", self.bound, false)?;
        if self.chunk == Some(0) {
            return Err(SpecError::Invalid(
                "--chunk 0 is out of range; valid: >= 1".into(),
            ));
        }
        // Last: reading a catalogue folder is the slowest check.
        let centre = origin.resolve(obj.as_ref())?;
        let scale = centre.x.iter().map(|v| v * v).sum::<f64>().sqrt().max(1.0);
        let radius = self.radius.unwrap_or(DEFAULT_RADIUS * scale);
        let criterion = match criterion {
            Criterion::Radius(r) if r.is_nan() => Criterion::Radius(DEFAULT_ESCAPE_RADIUS * scale),
            c => c,
        };
        let (escape_radius, escape_drop) = match criterion {
            Criterion::Radius(r) => (r, 0.0),
            Criterion::Drop(d) => (0.0, d),
        };
        let plan = WalkPlan {
            max_steps: self.steps,
            grad_tol: self.grad_tol.unwrap_or(DEFAULT_GRAD_TOL),
            settle_after_escape: true,
            bound: self.bound,
            seed: self.seed,
            escape_radius,
            escape_drop,
            first_walker: 0,
            chunk: self.chunk,
        };
        Ok(Resolved {
            obj,
            centre,
            radius,
            criterion,
            arms,
            groups,
            plan,
            walkers: self.walkers,
        })
    }

    /// Default run folder: outputs/escape-<objective name>-<UTC time>.
    pub fn default_dir(&self) -> PathBuf {
        output::default_dir("escape-", &self.objective)
    }
}

/// Arms with equal keys run in one walk: same rule and the same compiled shader (the WGSL
/// constants an optimizer emits), so their per-walker hyperparameter rows are only data.
fn walk_key(opt: &Optimizer) -> String {
    format!("{}\n{}", opt.rule.name, opt.wgsl_consts())
}

/// Per-walker hyperparameters of one arm: every row of the returned table has `walkers` values.
/// The one place an arm's rows are made, so that ranges across walkers plug in here.
pub fn arm_hyper(opt: &Optimizer, walkers: usize) -> Hyper {
    opt.hyper_rows(walkers)
}

/// The name of each hyperparameter row of `opt` (the rule's table keys, in order); a row beyond
/// the table is named `hp<k>`. Swept-value columns and figures are named by these.
pub fn row_keys(opt: &Optimizer, rows: usize) -> Vec<String> {
    (0..rows)
        .map(|k| {
            opt.rule
                .params
                .get(k)
                .map_or(format!("hp{k}"), |p| p.key.to_string())
        })
        .collect()
}

/// What a finished escape run reports.
pub struct EscapeResult {
    pub dir: PathBuf,
    /// Per arm, in arm order.
    pub summaries: Vec<tables::ArmSummary>,
    pub ends: EndStates,
    pub catalogue: Catalogue,
    pub seconds_walk: f64,
}

/// Runs a resolved escape experiment on `backend` and writes its folder.
pub fn run(
    spec: &EscapeSpec,
    r: &Resolved,
    backend: &Backend,
    dir: &Path,
    progress: &(dyn Fn(u64) + Sync),
) -> anyhow::Result<EscapeResult> {
    let hypers: Vec<Hyper> = r
        .arms
        .iter()
        .map(|a| arm_hyper(&a.opt, r.walkers))
        .collect();
    run_with(spec, r, &hypers, backend, dir, progress)
}

/// [`run`] with each arm's per-walker hyperparameter rows given (one `Hyper` per arm, rows in
/// the rule's table order, `r.walkers` values each).
pub fn run_with(
    spec: &EscapeSpec,
    r: &Resolved,
    hypers: &[Hyper],
    backend: &Backend,
    dir: &Path,
    progress: &(dyn Fn(u64) + Sync),
) -> anyhow::Result<EscapeResult> {
    let t0 = Instant::now();
    let n = r.obj.dim();
    let w = r.walkers;
    anyhow::ensure!(
        hypers.len() == r.arms.len()
            && hypers
                .iter()
                .all(|h| h.rows.iter().all(|row| row.len() == w))
            && r.groups.iter().all(|g| {
                g.iter()
                    .all(|&a| hypers[a].rows.len() == hypers[g[0]].rows.len())
            }),
        "one hyperparameter table per arm, the same rows within a walk, a value per walker"
    );
    let starts = from::starts(&r.centre.x, r.radius, r.obj.sphere(), r.plan.seed, w);

    let t_walk = Instant::now();
    let (ends, walks) = walk_arms(r, &starts, hypers, backend, progress)?;
    let seconds_walk = t_walk.elapsed().as_secs_f64();

    // Every walker that did not diverge is polished: converged or not, the critical point its
    // end state polishes to (within the drift limit) is where it went; one that is still on a
    // slope fails to polish and counts as unsettled.
    let t_cat = Instant::now();
    let eligible: Vec<bool> = ends.status.iter().map(|&s| s != Status::Diverged).collect();
    let opts = CatalogueOptions::default();
    let cat = critical::catalogue(r.obj.as_ref(), &ends.x, &eligible, &opts)?;
    let start_point = start_point(r.obj.as_ref(), &r.centre.x, &cat, &opts);
    let seconds_catalogue = t_cat.elapsed().as_secs_f64();

    let ends_class = tables::classify_ends(&ends, &cat, start_point);
    let swept = tables::swept(r, hypers);
    let summaries = tables::summarise(r, &ends, &ends_class);

    output::write_npy(&dir.join("starts.npy"), &[w, n], &starts)?;
    output::write_positions(
        &dir.join("end_states.npy"),
        ends.len(),
        n,
        &ends.x,
        ends.precision,
    )?;
    crate::sample::write_catalogue(dir, n, &cat, &r.obj.spec())?;
    tables::write_escape_csv(&dir.join("escape.csv"), &summaries)?;
    tables::write_attractors_csv(&dir.join("attractors.csv"), r, &cat)?;
    tables::write_times_csv(&dir.join("escape_times.csv"), r, &ends, &cat, &swept)?;

    let mut files: Vec<String> = [
        "escape.csv",
        "escape_times.csv",
        "attractors.csv",
        "starts.npy",
        "end_states.npy",
        "critical_points.csv",
        "critical_points.npy",
        "eigenvalues.npy",
        "index_histogram.png",
        "index_histogram.svg",
        "escape_ecdf.png",
        "escape_ecdf.svg",
        "escape_ends.png",
        "escape_ends.svg",
    ]
    .map(String::from)
    .to_vec();
    for s in &swept {
        files.push(format!("escape_vs_{}.png", s.key));
        files.push(format!("escape_vs_{}.svg", s.key));
    }
    let counts: serde_json::Map<String, serde_json::Value> = ends
        .counts()
        .iter()
        .map(|(s, c)| (s.name().to_string(), (*c).into()))
        .collect();
    let arms: Vec<serde_json::Value> = r
        .arms
        .iter()
        .zip(&summaries)
        .map(|(a, s)| {
            serde_json::json!({
                "label": a.label,
                "method": a.opt.spec(),
                "rule": a.opt.rule.name,
                "walk": a.group,
                "escaped": s.escaped,
                "escape_rate": s.rate,
                "median_steps": s.median,
            })
        })
        .collect();
    let mut manifest = serde_json::json!({
        "command": "escape",
        "saddlescope_version": env!("CARGO_PKG_VERSION"),
        "spec": spec,
        "resolved": {
            "objective": r.obj.spec(),
            "dim": n,
            "sphere": r.obj.sphere(),
            "from": r.centre,
            "radius": r.radius,
            "criterion": r.criterion,
            "escape_radius_from": "each walker's own start",
            "walkers_per_arm": w,
            "arms": arms,
            "walks": walks,
            "swept": swept.iter().map(|s| &s.key).collect::<Vec<_>>(),
            "plan": r.plan,
        },
        "start_point": start_point.map(|id| {
            let p = &cat.points[id];
            serde_json::json!({"id": id, "f": p.f, "kind": p.kind.as_str(), "index": p.index})
        }),
        "seed": r.plan.seed,
        "backend": backend.describe(),
        "precision": ends.precision,
        "timings_s": { "walk": seconds_walk, "critical_points": seconds_catalogue, "total": 0.0 },
        "walker_steps_per_s": ends.steps.iter().map(|&s| s as f64).sum::<f64>() / seconds_walk.max(1e-9),
        "status_counts": counts,
        "critical_points": crate::sample::summary(&cat),
        "ends": ENDS.iter().map(|e| e.name()).collect::<Vec<_>>(),
        "files": files,
    });
    tables::draw_figures(dir, &manifest)?;
    manifest["timings_s"]["total"] = t0.elapsed().as_secs_f64().into();
    output::write_atomic(
        &dir.join("manifest.json"),
        serde_json::to_string_pretty(&manifest)?.as_bytes(),
    )?;
    Ok(EscapeResult {
        dir: dir.to_path_buf(),
        summaries,
        ends,
        catalogue: cat,
        seconds_walk,
    })
}

/// Redraws every figure of an escape run folder from its files (escape.csv, escape_times.csv,
/// and manifest.json for arm labels, the step budget and the title when it is there).
pub fn redraw(dir: &Path) -> anyhow::Result<()> {
    let manifest = match std::fs::read_to_string(dir.join("manifest.json")) {
        Ok(text) => serde_json::from_str(&text)
            .map_err(|e| SpecError::Invalid(format!("{}: manifest.json: {e}", dir.display())))?,
        Err(_) => serde_json::Value::Null,
    };
    tables::draw_figures(dir, &manifest)
}

/// Runs each walk group as one backend walk over its arms' walkers (starts repeated per arm,
/// hyperparameter rows concatenated) and returns the end states in arm order (arm a's walkers
/// at a·W..(a+1)·W) with a description of each walk. Walker ids (the noise streams) are laid
/// out group after group, so every walker of the run draws its own noise.
fn walk_arms(
    r: &Resolved,
    starts: &[f64],
    hypers: &[Hyper],
    backend: &Backend,
    progress: &(dyn Fn(u64) + Sync),
) -> anyhow::Result<(EndStates, Vec<serde_json::Value>)> {
    let (n, w) = (r.obj.dim(), r.walkers);
    let mut all = EndStates::new(w * r.arms.len(), n);
    let mut walks = Vec::new();
    let mut first_id = 0usize;
    let per_walker = u64::from(r.plan.max_steps) + 1;
    for group in &r.groups {
        let gw = w * group.len();
        let group_starts = starts.repeat(group.len());
        let rows = hypers[group[0]].rows.len();
        let hyper = Hyper {
            rows: (0..rows)
                .map(|k| {
                    group
                        .iter()
                        .flat_map(|&a| hypers[a].rows[k].iter().copied())
                        .collect()
                })
                .collect(),
        };
        let plan = WalkPlan {
            first_walker: first_id as u32,
            ..r.plan.clone()
        };
        let base = first_id as u64 * per_walker;
        let t = Instant::now();
        let ends = backend.walk(
            r.obj.as_ref(),
            &r.arms[group[0]].opt,
            &plan,
            &group_starts,
            &hyper,
            &|d| progress(base + d),
        )?;
        walks.push(serde_json::json!({
            "rule": r.arms[group[0]].opt.rule.name,
            "arms": group,
            "walkers": gw,
            "first_walker_id": first_id,
            "seconds": t.elapsed().as_secs_f64(),
        }));
        all.precision = ends.precision;
        for (j, &a) in group.iter().enumerate() {
            for k in 0..w {
                let (src, dst) = (j * w + k, a * w + k);
                all.set(
                    dst,
                    ends.point(src),
                    ends.f[src],
                    ends.grad_norm[src],
                    ends.steps[src],
                    ends.status[src],
                    ends.escape[src],
                );
            }
        }
        first_id += gw;
    }
    Ok((all, walks))
}

/// The catalogue point the starting point itself polishes to (within the drift limit), if any:
/// walkers that end there are counted as `at_start`.
fn start_point(
    obj: &dyn Objective,
    centre: &[f64],
    cat: &Catalogue,
    opts: &CatalogueOptions,
) -> Option<usize> {
    let p = critical::polish(obj, centre, &opts.polish).ok()?;
    let tol = critical::cluster::tolerance(&p.x, opts.pos_tol);
    cat.points
        .iter()
        .filter(|q| {
            q.x.iter()
                .zip(&p.x)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                .sqrt()
                <= tol
        })
        .min_by(|a, b| {
            let d = |q: &critical::CriticalPoint| {
                q.x.iter()
                    .zip(&p.x)
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f64>()
            };
            d(a).total_cmp(&d(b))
        })
        .map(|q| q.id)
}

/// The escape step of a walker, None when it never escaped.
pub fn escape_step(e: u32) -> Option<u32> {
    (e != NO_ESCAPE).then_some(e)
}

/// Whether a point counts as the lowest minimum: a minimum whose f is within 1e-8·max(1, |f|)
/// of the lowest minimum the run reached (ties such as Himmelblau's four f = 0 minima all count).
pub fn lowest_minima(cat: &Catalogue) -> Vec<bool> {
    let fmin = cat
        .points
        .iter()
        .filter(|p| p.kind == Kind::Minimum)
        .map(|p| p.f)
        .fold(f64::INFINITY, f64::min);
    cat.points
        .iter()
        .map(|p| p.kind == Kind::Minimum && p.f - fmin <= 1e-8 * fmin.abs().max(1.0))
        .collect()
}

/// A number to four significant digits, shortest form (for titles and labels).
pub fn short(v: f64) -> String {
    let r: f64 = format!("{v:.3e}").parse().unwrap_or(v);
    format!("{r}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(optimizers: &[&str], from: &str, walkers: usize, steps: u32) -> EscapeSpec {
        EscapeSpec {
            objective: "saddle".into(),
            from: from.into(),
            radius: Some(0.0),
            escape_radius: Some(1.0),
            escape_drop: None,
            optimizers: optimizers.iter().map(|s| s.to_string()).collect(),
            walkers,
            steps,
            grad_tol: None,
            seed: 0,
            bound: 1e6,
            chunk: None,
        }
    }

    fn tmp(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("saddlescope-escape-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// First t with y0 ((1 + 2 lr)^t - 1) >= R: GD on x^2 - y^2 from (0, y0) moves y by the
    /// factor 1 + 2 lr per step, and the distance is measured from the start.
    fn gd_escape(lr: f64, y0: f64, r: f64) -> u32 {
        let mut t = 0;
        while y0 * ((1.0 + 2.0 * lr).powi(t as i32) - 1.0) < r {
            t += 1;
        }
        t
    }

    #[test]
    fn arms_group_by_rule_and_resolve_defaults() {
        let r = spec(
            &["gd:lr=0.1", "pgd", "gd:lr=0.2", "sgd", "pgd:r=0.1"],
            "saddle",
            4,
            10,
        )
        .resolve()
        .unwrap();
        assert_eq!(r.groups, vec![vec![0, 2], vec![1, 4], vec![3]]);
        assert_eq!(
            r.arms.iter().map(|a| a.group).collect::<Vec<_>>(),
            [0, 1, 0, 2, 1]
        );
        assert_eq!(r.plan.grad_tol, DEFAULT_GRAD_TOL);
        assert!(r.plan.settle_after_escape);
        let mut s = spec(&["gd"], "point:x=3;4", 4, 10);
        s.radius = None;
        s.escape_radius = None;
        let r = s.resolve().unwrap();
        // |x| = 5: r0 = 5e-3, R = 0.5.
        assert!((r.radius - 5e-3).abs() < 1e-15);
        assert_eq!(r.criterion, Criterion::Radius(0.5));
        for (bad, needle) in [
            (spec(&["gd", "gd:lr=0.01"], "saddle", 4, 10), "same arm"),
            (spec(&[], "saddle", 4, 10), "--optimizers"),
            (spec(&["gd"], "saddle", 0, 10), "--walkers"),
            (spec(&["gd"], "saddle", 4, 0), "--steps"),
            (spec(&["gd"], "nowhere", 4, 10), "unknown start"),
        ] {
            let e = bad.resolve().err().unwrap().to_string();
            assert!(e.contains(needle), "{needle}: {e}");
        }
    }

    /// A hyperparameter spread across an arm's walkers (built by hand here) reaches every walker:
    /// each one escapes at the step its own learning rate predicts, escape_times.csv records the
    /// value per walker, and escape_vs_lr is drawn and redrawn identically from the files.
    #[test]
    fn swept_learning_rates_reach_each_walker_and_their_figure_redraws() {
        let (w, y0, big_r) = (48usize, 1e-2, 1.0);
        let s = spec(&["gd", "pgd:lr=0.05"], "point:x=0;0.01", w, 3000);
        let r = s.resolve().unwrap();
        let lrs: Vec<f64> = (0..w)
            .map(|k| 1e-3 * 100f64.powf(k as f64 / (w - 1) as f64))
            .collect();
        let mut gd = arm_hyper(&r.arms[0].opt, w);
        gd.rows[0] = lrs.clone();
        let hypers = vec![gd, arm_hyper(&r.arms[1].opt, w)];
        let dir = tmp("sweep");
        let res = run_with(&s, &r, &hypers, &Backend::cpu(), &dir, &|_| {}).unwrap();
        let times = std::fs::read_to_string(dir.join("escape_times.csv")).unwrap();
        let mut lines = times.lines();
        assert_eq!(lines.next().unwrap(), "arm,walker,escape_step,point,lr");
        let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
        assert_eq!(rows.len(), 2 * w);
        for (k, &lr) in lrs.iter().enumerate() {
            let row = &rows[k];
            assert_eq!((row[0], row[1]), ("0", k.to_string().as_str()));
            assert_eq!(row[4].parse::<f64>().unwrap().to_bits(), lr.to_bits());
            let want = gd_escape(lr, y0, big_r);
            // Keep clear of cases where f64 rounding decides (none for these values).
            let margin = |t: u32| (y0 * ((1.0 + 2.0 * lr).powi(t as i32) - 1.0) - big_r).abs();
            assert!(margin(want) > 1e-9 && margin(want - 1) > 1e-9);
            assert_eq!(row[2].parse::<u32>().unwrap(), want, "lr {lr}");
        }
        // The constant arm carries its own lr in the column.
        assert!(rows[w..].iter().all(|r| r[0] == "1" && r[4] == "0.05"));
        assert_eq!(res.summaries[0].escaped, w);
        let m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap())
                .unwrap();
        assert_eq!(m["resolved"]["swept"], serde_json::json!(["lr"]));
        let figures = [
            "escape_vs_lr.svg",
            "escape_vs_lr.png",
            "escape_ecdf.svg",
            "escape_ends.svg",
        ];
        let before: Vec<Vec<u8>> = figures
            .iter()
            .map(|f| std::fs::read(dir.join(f)).unwrap())
            .collect();
        let svg = String::from_utf8_lossy(&before[0]);
        assert!(svg.contains("lr (log scale)") && svg.contains("escape rate"));
        for f in figures {
            std::fs::remove_file(dir.join(f)).unwrap();
        }
        redraw(&dir).unwrap();
        for (f, b) in figures.iter().zip(&before) {
            assert_eq!(&std::fs::read(dir.join(f)).unwrap(), b, "{f}");
        }
        if std::env::var_os("SADDLESCOPE_KEEP_FIGURES").is_none() {
            std::fs::remove_dir_all(&dir).unwrap();
        } else {
            eprintln!("figures kept in {}", dir.display());
        }
    }

    #[test]
    fn redraw_names_a_folder_without_an_escape_run() {
        let dir = tmp("empty");
        let e = redraw(&dir).unwrap_err().to_string();
        assert!(
            e.contains("escape.csv") && e.contains("saddlescope escape"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
