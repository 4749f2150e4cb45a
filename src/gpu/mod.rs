//! GPU side: adapters and devices, shader assembly, the walk kernel's buffers and dispatch.

pub mod context;
pub mod program;
pub mod shader;
pub mod twin_check;
pub mod walker;

pub use context::{AdapterSummary, GpuContext, GpuError};
pub use walker::GpuWalk;
