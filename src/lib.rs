//! saddlescope: a GPU-accelerated batch landscape sampler. WGSL compute shaders move many
//! optimizer walkers over high-dimensional objectives; the host polishes their end states in f64,
//! classifies them by Hessian eigenvalues and turns them into statistics and figures.

pub mod backend;
pub mod basins;
pub mod bench;
pub mod critical;
pub mod escape;
pub mod experiment;
pub mod figure;
pub mod gpu;
pub mod objective;
pub mod output;
pub mod rng;
pub mod rules;
pub mod run;
pub mod sample;
pub mod slurm;
pub mod spec;
pub mod stats;
pub mod sweep;
pub mod table;
pub mod walk;
