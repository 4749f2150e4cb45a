//! Adapter choice and device creation. The choice is explicit and logged; `WGPU_BACKEND` and
//! `WGPU_ADAPTER_NAME` (substring, case-insensitive) narrow it from the environment.

use std::sync::Arc;

/// Errors from the GPU layer, each naming what failed.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    #[error("no GPU adapter found{0}; valid: --backend cpu or auto on this machine, or on Linux without a GPU, install Mesa's software Vulkan (Debian: apt-get install mesa-vulkan-drivers)")]
    NoAdapter(String),
    #[error("adapter '{adapter}' could not open a device: {message}")]
    Device { adapter: String, message: String },
    #[error(transparent)]
    Shader(#[from] super::shader::ShaderError),
    #[error("GPU validation error in '{kernel}': {message}")]
    Validation { kernel: String, message: String },
    #[error("reading back a GPU buffer failed: {0}")]
    Readback(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("landscape instances cannot share a dispatch: {0}")]
    Instances(String),
    /// The adapter cut an invocation's loops short (llvmpipe's loop budget of 65535 iterations
    /// per invocation; docs/engine-notes.md): the result would be wrong, so there is none.
    #[error("{kernel} is too long for adapter '{adapter}': {detail} (the software adapter stops every loop of an invocation after 65535 iterations in all); valid: a smaller N, or --backend cpu")]
    LoopLimit {
        adapter: String,
        kernel: String,
        detail: String,
    },
    /// The GPU disagrees with the f64 twin beyond f32 rounding (gpu::twin_check).
    #[error("{0}")]
    TwinMismatch(String),
}

impl GpuError {
    /// Errors that mean the run does not fit this adapter, or that the adapter asked for is
    /// not there (usage errors, exit code 2), as opposed to failures of the device.
    pub fn is_usage(&self) -> bool {
        // A machine without the adapter `--backend gpu` asks for: the flag is what to change.
        matches!(
            self,
            GpuError::LoopLimit { .. } | GpuError::TooLarge(_) | GpuError::NoAdapter(_)
        )
    }
}

/// What we know of an adapter, for logs, `devices` and manifests.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AdapterSummary {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    pub max_storage_buffer_binding_size: u64,
    pub max_buffer_size: u64,
    pub max_compute_workgroups_per_dimension: u32,
    pub max_compute_invocations_per_workgroup: u32,
    pub max_storage_buffers_per_shader_stage: u32,
    /// Subgroup operations (wgpu `Features::SUBGROUP`) and the subgroup sizes, when it has them.
    pub subgroups: Option<(u32, u32)>,
}

impl AdapterSummary {
    pub fn of(a: &wgpu::Adapter) -> Self {
        let info = a.get_info();
        let l = a.limits();
        AdapterSummary {
            name: info.name,
            backend: format!("{:?}", info.backend),
            device_type: format!("{:?}", info.device_type),
            driver: format!("{} {}", info.driver, info.driver_info)
                .trim()
                .to_string(),
            max_storage_buffer_binding_size: l.max_storage_buffer_binding_size,
            max_buffer_size: l.max_buffer_size,
            max_compute_workgroups_per_dimension: l.max_compute_workgroups_per_dimension,
            max_compute_invocations_per_workgroup: l.max_compute_invocations_per_workgroup,
            max_storage_buffers_per_shader_stage: l.max_storage_buffers_per_shader_stage,
            subgroups: a
                .features()
                .contains(wgpu::Features::SUBGROUP)
                .then_some((info.subgroup_min_size, info.subgroup_max_size)),
        }
    }
    pub fn line(&self) -> String {
        format!("{} [{}, {}]", self.name, self.backend, self.device_type)
    }
    pub fn is_software(&self) -> bool {
        self.device_type == "Cpu"
    }
    /// Software adapters may cut long loops short (llvmpipe does, after 65535 iterations per
    /// invocation): the walk snapshots its state before each fused submission there.
    pub fn may_limit_loops(&self) -> bool {
        self.is_software()
    }
}

fn rank(t: wgpu::DeviceType) -> u8 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

fn instance() -> wgpu::Instance {
    wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env())
}

/// Every adapter wgpu finds (all backends compiled in, narrowed by WGPU_BACKEND).
pub fn enumerate() -> Vec<wgpu::Adapter> {
    let inst = instance();
    pollster::block_on(inst.enumerate_adapters(wgpu::Backends::all()))
}

/// A device ready for compute, with the adapter it came from.
pub struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub adapter: AdapterSummary,
    pub limits: wgpu::Limits,
    /// The device was opened with subgroup operations (wgpu `Features::SUBGROUP`) and every
    /// subgroup holds a multiple of 8 invocations: the split-sum kernels (src/gpu/tile.rs)
    /// then add their lanes' partial sums by subgroup shuffles instead of workgroup memory.
    pub subgroups: bool,
}

/// The environment variable that keeps subgroup operations off (`0`): the split-sum kernels
/// then reduce through workgroup memory, as on adapters without subgroups. For measuring one
/// against the other and for testing the fallback on an adapter that has them.
pub const SUBGROUPS_ENV: &str = "SADDLESCOPE_GPU_SUBGROUPS";

/// Whether the split-sum kernels can use subgroup shuffles on `adapter`: it has
/// `Features::SUBGROUP` and its smallest subgroup is at least 8 invocations (a power of two,
/// so 8 consecutive invocations lie in one subgroup), unless SADDLESCOPE_GPU_SUBGROUPS=0.
fn subgroups_usable(adapter: &wgpu::Adapter) -> bool {
    let off = std::env::var(SUBGROUPS_ENV).is_ok_and(|v| v.trim() == "0");
    !off && adapter.features().contains(wgpu::Features::SUBGROUP)
        && adapter.get_info().subgroup_min_size >= 8
}

impl GpuContext {
    /// Picks the best adapter (discrete > integrated > virtual > other > software), honouring
    /// WGPU_ADAPTER_NAME, and opens a device with the adapter's own buffer limits.
    pub fn new() -> Result<Arc<GpuContext>, GpuError> {
        let mut adapters = enumerate();
        let found: Vec<String> = adapters
            .iter()
            .map(|a| AdapterSummary::of(a).line())
            .collect();
        if let Ok(want) = std::env::var("WGPU_ADAPTER_NAME") {
            let want = want.to_lowercase();
            adapters.retain(|a| a.get_info().name.to_lowercase().contains(&want));
            if adapters.is_empty() {
                return Err(GpuError::NoAdapter(format!(
                    " matching WGPU_ADAPTER_NAME; adapters found: {}",
                    if found.is_empty() {
                        "none".into()
                    } else {
                        found.join("; ")
                    }
                )));
            }
        }
        adapters.sort_by_key(|a| {
            (
                rank(a.get_info().device_type),
                a.get_info().backend != wgpu::Backend::Vulkan,
            )
        });
        let adapter = adapters
            .into_iter()
            .next()
            .ok_or_else(|| GpuError::NoAdapter(String::new()))?;
        let summary = AdapterSummary::of(&adapter);
        // The adapter's own limits: buffers and chunks are sized from them.
        let limits = adapter.limits();
        let need = super::walker::STORAGE_BINDINGS;
        if limits.max_storage_buffers_per_shader_stage < need {
            return Err(GpuError::Device {
                adapter: summary.line(),
                message: format!(
                    "it allows {} storage buffers per shader stage; the walk kernels need {need}",
                    limits.max_storage_buffers_per_shader_stage
                ),
            });
        }
        let subgroups = subgroups_usable(&adapter);
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("saddlescope"),
            required_features: if subgroups {
                wgpu::Features::SUBGROUP
            } else {
                wgpu::Features::empty()
            },
            required_limits: limits.clone(),
            ..Default::default()
        }))
        .map_err(|e| GpuError::Device {
            adapter: summary.line(),
            message: e.to_string(),
        })?;
        let name = summary.line();
        device.set_device_lost_callback(move |reason, msg| {
            log::error!("GPU device lost ({name}): {reason:?} {msg}");
        });
        log::info!("adapter: {} driver {}", summary.line(), summary.driver);
        Ok(Arc::new(GpuContext {
            device,
            queue,
            adapter: summary,
            limits,
            subgroups,
        }))
    }
}
