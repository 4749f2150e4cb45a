//! The walk: a plan (steps, tolerances, seed), starting points, per-walker hyperparameters, and
//! the end states gathered from whichever backend ran it (GPU kernel or the CPU twin).

pub mod batched;
pub mod cpu;
pub mod init;
pub mod snapshot;
pub mod state;

use state::Status;

/// How walkers run and when they stop.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WalkPlan {
    /// Walkers stop as max_steps after this many steps.
    pub max_steps: u32,
    /// |grad| <= grad_tol stops a walker as converged (Riemannian gradient on spheres).
    pub grad_tol: f64,
    /// |x_i| > bound stops a walker as diverged.
    pub bound: f64,
    pub seed: u64,
    /// > 0: record the first step at distance >= escape_radius from the start.
    pub escape_radius: f64,
    /// > 0: record the first step where f has dropped by escape_drop from f(start).
    pub escape_drop: f64,
    /// A walker may stop as converged only after it has escaped (escape runs: a walker that
    /// starts at a critical point, with zero gradient, must not count as converged before it
    /// has had the chance to leave; one that never escapes runs to max_steps).
    #[serde(default)]
    pub settle_after_escape: bool,
    /// Global id of walker 0 (shards, RNG keys).
    pub first_walker: u32,
    /// Upper bound on walkers per GPU chunk (None: as many as the adapter holds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunk: Option<usize>,
}

impl Default for WalkPlan {
    fn default() -> Self {
        WalkPlan {
            max_steps: 10_000,
            grad_tol: 1e-4,
            bound: 1e6,
            seed: 0,
            escape_radius: 0.0,
            escape_drop: 0.0,
            settle_after_escape: false,
            first_walker: 0,
            chunk: None,
        }
    }
}

/// Per-walker hyperparameters: row k (table order) holds every walker's value of parameter k.
#[derive(Debug, Clone)]
pub struct Hyper {
    pub rows: Vec<Vec<f64>>,
}

impl Hyper {
    /// The same values for all `walkers`.
    pub fn constant(values: &[f64], walkers: usize) -> Hyper {
        Hyper {
            rows: values.iter().map(|&v| vec![v; walkers]).collect(),
        }
    }
    pub fn get(&self, k: usize, w: usize) -> f64 {
        self.rows[k][w]
    }
    pub fn walker(&self, w: usize) -> Vec<f64> {
        self.rows.iter().map(|r| r[w]).collect()
    }
    /// The rows of the walkers in `range` (a shard's slice of a run's walkers).
    pub fn slice(&self, range: std::ops::Range<usize>) -> Hyper {
        Hyper {
            rows: self
                .rows
                .iter()
                .map(|r| r[range.clone()].to_vec())
                .collect(),
        }
    }
}

/// Where every walker ended.
#[derive(Debug, Clone)]
pub struct EndStates {
    pub n: usize,
    /// W x N row-major.
    pub x: Vec<f64>,
    pub f: Vec<f64>,
    pub grad_norm: Vec<f64>,
    pub steps: Vec<u32>,
    pub status: Vec<Status>,
    /// First escape step, `state::NO_ESCAPE` when none.
    pub escape: Vec<u32>,
    /// Precision the walk ran in: "f32" (GPU) or "f64" (CPU twin).
    pub precision: &'static str,
}

impl EndStates {
    pub fn new(w: usize, n: usize) -> Self {
        EndStates {
            n,
            x: vec![0.0; w * n],
            f: vec![0.0; w],
            grad_norm: vec![0.0; w],
            steps: vec![0; w],
            status: vec![Status::Running; w],
            escape: vec![state::NO_ESCAPE; w],
            precision: "f64",
        }
    }
    pub fn len(&self) -> usize {
        self.f.len()
    }
    pub fn is_empty(&self) -> bool {
        self.f.is_empty()
    }
    pub fn point(&self, w: usize) -> &[f64] {
        &self.x[w * self.n..(w + 1) * self.n]
    }
    #[allow(clippy::too_many_arguments)]
    pub fn set(
        &mut self,
        w: usize,
        x: &[f64],
        f: f64,
        gn: f64,
        steps: u32,
        status: Status,
        escape: u32,
    ) {
        self.x[w * self.n..(w + 1) * self.n].copy_from_slice(x);
        self.f[w] = f;
        self.grad_norm[w] = gn;
        self.steps[w] = steps;
        self.status[w] = status;
        self.escape[w] = escape;
    }
    /// Walkers per status, in the order converged, max_steps, diverged.
    pub fn counts(&self) -> [(Status, usize); 3] {
        let c = |s| self.status.iter().filter(|&&v| v == s).count();
        [
            (Status::Converged, c(Status::Converged)),
            (Status::MaxSteps, c(Status::MaxSteps)),
            (Status::Diverged, c(Status::Diverged)),
        ]
    }
}
