//! GPU side: adapters and devices, shader assembly, the walk kernel's buffers and dispatch.

pub mod shader;
