//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::sync::{Arc, OnceLock};

use saddlescope::gpu::GpuContext;

pub mod cli;
pub mod rule_cases;

/// The adapter every GPU test runs on (CI: Mesa's software Vulkan), opened once per test binary.
pub fn ctx() -> Arc<GpuContext> {
    static CTX: OnceLock<Arc<GpuContext>> = OnceLock::new();
    CTX.get_or_init(|| {
        GpuContext::new().unwrap_or_else(|e| {
            panic!("these tests need a wgpu adapter (CI: mesa-vulkan-drivers): {e}")
        })
    })
    .clone()
}

/// Euclidean norm.
pub fn norm(v: &[f64]) -> f64 {
    v.iter().map(|a| a * a).sum::<f64>().sqrt()
}
