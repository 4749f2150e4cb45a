//! The options every walking command takes, defined once (clap `#[command(flatten)]`) and
//! validated once: the walk's own ([`WalkOptions`], recorded in the manifest's spec) and how
//! the run is executed ([`ExecOptions`]: backend, twin check, run folder).

use std::path::PathBuf;

use crate::backend::BackendChoice;
use crate::objective::batch::Precision;
use crate::spec::SpecError;
use crate::walk::WalkPlan;

/// Steps, stop tests, seed and chunking of a walk.
#[derive(Debug, Clone, PartialEq, clap::Args, serde::Serialize, serde::Deserialize)]
pub struct WalkOptions {
    /// A walker stops as max_steps after this many steps (>= 1).
    #[arg(long, default_value_t = 10_000)]
    pub steps: u32,
    /// A walker stops as converged when |grad f| (Riemannian on spheres) is at most this.
    #[arg(long, default_value_t = 1e-4)]
    pub grad_tol: f64,
    /// Seed of every random number of the run (starts, noise, slices, instances).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// A walker with |x_i| above this stops as diverged.
    #[arg(long, default_value_t = 1e6)]
    pub bound: f64,
    /// At most this many walkers per GPU chunk (default: as many as the adapter holds).
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk: Option<usize>,
}

impl Default for WalkOptions {
    fn default() -> Self {
        let p = WalkPlan::default();
        WalkOptions {
            steps: p.max_steps,
            grad_tol: p.grad_tol,
            seed: p.seed,
            bound: p.bound,
            chunk: None,
        }
    }
}

impl WalkOptions {
    /// The checked plan: every walk option's usage error surfaces here, the same in every
    /// command.
    pub fn plan(&self) -> Result<WalkPlan, SpecError> {
        if self.steps == 0 || self.steps == u32::MAX {
            return Err(SpecError::flag(
                "--steps",
                self.steps,
                format!("1..={}", u32::MAX - 1),
            ));
        }
        if !(self.grad_tol >= 0.0 && self.grad_tol.is_finite()) {
            return Err(SpecError::flag(
                "--grad-tol",
                self.grad_tol,
                "a finite number >= 0",
            ));
        }
        if self.bound.is_nan() || self.bound <= 0.0 {
            return Err(SpecError::flag("--bound", self.bound, "> 0"));
        }
        if self.chunk == Some(0) {
            return Err(SpecError::flag("--chunk", 0, ">= 1"));
        }
        Ok(WalkPlan {
            max_steps: self.steps,
            grad_tol: self.grad_tol,
            bound: self.bound,
            seed: self.seed,
            chunk: self.chunk,
            ..WalkPlan::default()
        })
    }
}

/// Where and how a run executes (not part of what it computes).
#[derive(Debug, Clone, clap::Args)]
pub struct ExecOptions {
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
    /// Arithmetic of the batched CPU engine's matrix products (field and p-spin): f64 by
    /// default; f32 has twice the vector lanes (gradients then carry f32 rounding, about 1e-6
    /// of their scale, as a GPU walk's; walker state, steps and polishing stay f64). A GPU
    /// walks in f32 (f64 refuses --backend gpu, and makes auto take the CPU engine), the twin in
    /// f64 (f32 refuses --backend twin).
    #[arg(long, value_enum)]
    pub precision: Option<Precision>,
    /// Skip the twin check: by default every GPU walk evaluates f and the gradient of 8
    /// walkers on the adapter and on the f64 twin, and f again at their end states.
    #[arg(long)]
    pub no_twin_check: bool,
    /// Run folder (default outputs/<command>-<objective>-<UTC time>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the interrupted run in --out DIR (killed, or failed): the same command line
    /// plus --resume; walks continue from their last checkpoint.
    #[arg(long)]
    pub resume: bool,
}

impl Default for ExecOptions {
    fn default() -> Self {
        ExecOptions {
            backend: BackendChoice::Auto,
            precision: None,
            no_twin_check: false,
            out: None,
            resume: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_walk_option_is_checked_once_with_its_flag_named() {
        assert!(WalkOptions::default().plan().is_ok());
        for (o, flag) in [
            (
                WalkOptions {
                    steps: 0,
                    ..Default::default()
                },
                "--steps",
            ),
            (
                WalkOptions {
                    grad_tol: f64::NAN,
                    ..Default::default()
                },
                "--grad-tol",
            ),
            (
                WalkOptions {
                    grad_tol: -1.0,
                    ..Default::default()
                },
                "--grad-tol",
            ),
            (
                WalkOptions {
                    bound: 0.0,
                    ..Default::default()
                },
                "--bound",
            ),
            (
                WalkOptions {
                    chunk: Some(0),
                    ..Default::default()
                },
                "--chunk",
            ),
        ] {
            let e = o.plan().unwrap_err().to_string();
            assert!(e.starts_with(flag) && e.contains("valid"), "{e}");
        }
    }
}
