//! `saddlescope sample`: starting points -> walk -> end states, written to a run folder.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::backend::Backend;
use crate::objective::{self, Objective};
use crate::output::{self, Csv};
use crate::rules::{self, Optimizer};
use crate::spec::SpecError;
use crate::walk::init::Init;
use crate::walk::{EndStates, Hyper, WalkPlan};

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
}

/// A spec checked and resolved: every usage error surfaces here, before anything is written.
pub struct Resolved {
    pub obj: Box<dyn Objective>,
    pub opt: Optimizer,
    pub init: Init,
    pub plan: WalkPlan,
    pub walkers: usize,
}

impl SampleSpec {
    pub fn resolve(&self) -> Result<Resolved, SpecError> {
        let obj = objective::parse(&self.objective)?;
        let opt = rules::parse(&self.optimizer)?;
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
        Ok(Resolved {
            obj,
            opt,
            init,
            plan,
            walkers: self.walkers,
        })
    }

    /// Default run folder: outputs/<objective name>-<UTC time>.
    pub fn default_dir(&self) -> PathBuf {
        let name = self.objective.split(':').next().unwrap_or("run");
        Path::new("outputs").join(format!("{name}-{}", output::timestamp()))
    }
}

/// What a finished sample reports.
pub struct SampleResult {
    pub dir: PathBuf,
    pub ends: EndStates,
    pub seconds_walk: f64,
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
    let hyper = Hyper::constant(&r.opt.hyper(), r.walkers);
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
    let mut csv = Csv::new("walker,f,grad_norm,steps,status");
    for w in 0..ends.len() {
        csv.row(&[
            w.to_string(),
            output::num(ends.f[w]),
            output::num(ends.grad_norm[w]),
            ends.steps[w].to_string(),
            ends.status[w].name().to_string(),
        ]);
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
        },
        "seed": r.plan.seed,
        "backend": backend.describe(),
        "precision": ends.precision,
        "timings_s": { "walk": seconds_walk, "total": t0.elapsed().as_secs_f64() },
        "walker_steps_per_s": ends.steps.iter().map(|&s| s as f64).sum::<f64>() / seconds_walk.max(1e-9),
        "status_counts": counts,
        "files": ["walkers.csv", "starts.npy", "end_states.npy"],
    });
    output::write_atomic(
        &dir.join("manifest.json"),
        serde_json::to_string_pretty(&manifest)?.as_bytes(),
    )?;
    Ok(SampleResult {
        dir: dir.to_path_buf(),
        ends,
        seconds_walk,
    })
}
