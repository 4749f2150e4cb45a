//! GPU side: adapters and devices, shader assembly and the Rust-WGSL contract, the walk
//! kernels' pipelines, buffers and dispatch.

pub mod context;
pub mod contract;
pub mod program;
pub mod shader;
pub mod tile;
pub mod twin_check;
pub mod walker;

pub use context::{AdapterSummary, GpuContext, GpuError};
pub use walker::{GpuWalk, PipelineCache, SPLIT_BELOW};
