//! The GPU walk: buffers, pipelines and dispatch of the program (src/gpu/program.rs). Walkers
//! are chunked to fit the adapter's buffer limits; each chunk runs in submissions until every
//! walker has stopped. After each submission the host reads the walkers' statuses back and
//! lists only the running ones for the next, so stopped walkers cost nothing.
//!
//! Every entry point ends with the loop guard (shaders/common.wgsl): a software adapter that
//! cut an invocation's loops short is caught after the submission. The fused engine then
//! restores the state it copied before the submission and retries with half as many steps per
//! invocation; a single step, or a multi-pass kernel, that still trips it is a
//! [`GpuError::LoopLimit`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::context::{GpuContext, GpuError};
use super::contract::{self, Field, WgslScalar};
use super::program::{Program, ROW_SPLIT};
use super::shader::{self, Assembled};
use super::tile;
use crate::objective::{Objective, PARAM_TAIL};
use crate::rules::Optimizer;
use crate::walk::snapshot::{Checkpoints, DeviceSnapshot};
use crate::walk::state::{
    Status, COUNTERS, CT_ESCAPE, CT_STATUS, CT_STEPS, NO_ESCAPE, SC_F, SC_GNORM, SLOT_START, SLOT_X,
};
use crate::walk::{EndStates, Hyper, WalkPlan};

/// Defines the kernels' uniform struct (`#[repr(C)]`, Pod) and its field table `FIELDS`
/// (name, byte offset, scalar type, from the struct itself), which `gpu::contract::check`
/// holds against the WGSL struct of the same name in every module before a pipeline is made.
macro_rules! uniform_struct {
    ($(#[$sm:meta])* pub struct $name:ident { $($(#[$m:meta])* pub $f:ident: $t:ty,)* }) => {
        $(#[$sm])*
        #[repr(C)]
        #[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
        pub struct $name {
            $($(#[$m])* pub $f: $t,)*
        }

        impl $name {
            /// The fields in declaration order, for the check against the WGSL struct.
            pub const FIELDS: &[Field] = &[$(Field {
                name: stringify!($f),
                offset: std::mem::offset_of!($name, $f),
                scalar: <$t as WgslScalar>::SCALAR,
            }),*];
        }
    };
}

uniform_struct! {
    /// The kernels' uniform block: `struct WalkUniform` in shaders/common.wgsl, checked against
    /// this one (names, offsets, types, size) by `gpu::contract::check` on every module.
    pub struct WalkUniform {
        pub stride: u32,
        pub first_walker: u32,
        pub segment_steps: u32,
        pub max_steps: u32,
        pub grad_tol: f32,
        pub bound: f32,
        pub seed_lo: u32,
        pub seed_hi: u32,
        pub escape_radius2: f32,
        pub escape_drop: f32,
        /// > 0: walkers per landscape instance; 0: one landscape for every walker.
        pub instance_walkers: u32,
        /// Floats per instance in the params buffer (instances back to back).
        pub instance_params: u32,
        /// Global id of the first walker of instance 0.
        pub instance_first: u32,
        /// 1: a walker may converge only after it has escaped.
        pub settle_after_escape: u32,
        /// Entries of the walker list this dispatch covers.
        pub active_count: u32,
        /// Trips of the loop guard (always [`GUARD_TRIPS`]).
        pub guard_trips: u32,
    }
}

const WORKGROUP: u32 = 64;
/// A walk's tiled passes run their split-sum kernel (the per-row kernel where the product has
/// none, `Tile::split_sum`) while fewer walkers run than fill one tile (a tile is then mostly
/// empty: newton-mr with 4 walkers took 2x as long tiled on llvmpipe).
/// Evaluations ([`GpuWalk::eval`]: the twin check, tests) always run the tiled kernels, so
/// that the twin check of a run holds the kernels its walk runs at scale.
const WALK_TILES_FROM: usize = tile::TW;
const GUARD_TRIPS: u32 = 2;
/// Target wall time of one submission: long enough to amortise submission and the status
/// readback, short enough for live progress and no driver watchdog.
const SEGMENT_SECONDS: f64 = 0.25;
/// The most steps one submission of the multi-pass engine encodes.
const MAX_PASS_STEPS: u32 = 1024;

/// Bindings of the walk kernels, in binding order (entry k is `@group(0) @binding(k)`): the
/// bind-group layout is made from this table, and `gpu::contract::check` holds every module's
/// declarations (shaders/common.wgsl) to it.
pub const BINDINGS: [(&str, Binding); 9] = [
    ("walk", Binding::Uniform),
    ("state", Binding::Storage { read_only: false }),
    ("params", Binding::Storage { read_only: true }),
    ("scalars", Binding::Storage { read_only: false }),
    ("counters", Binding::Storage { read_only: false }),
    ("hyper", Binding::Storage { read_only: true }),
    ("control", Binding::Storage { read_only: false }),
    ("scratch", Binding::Storage { read_only: false }),
    ("walkers", Binding::Storage { read_only: true }),
];

/// What a binding is: the uniform block or a storage buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    Uniform,
    Storage { read_only: bool },
}

/// The word of the control buffer that the loop guard sets (shaders/common.wgsl, loop_guard).
pub const CTRL_GUARD: usize = 0;
/// Bytes of the control buffer (u32 words).
const CONTROL_BYTES: u64 = 4 * (CTRL_GUARD as u64 + 1);

/// How many storage buffers the kernels bind (counted in [`BINDINGS`]).
pub const STORAGE_BINDINGS: u32 = {
    let mut n = 0;
    let mut i = 0;
    while i < BINDINGS.len() {
        if matches!(BINDINGS[i].1, Binding::Storage { .. }) {
            n += 1;
        }
        i += 1;
    }
    n
};

/// The compiled kernels of one assembled walk module: the bind-group layout, the program and
/// one pipeline per kernel. Made once per distinct module (see [`PipelineCache`]) and shared
/// by every walk whose objective and rule assemble to it.
struct Kernels {
    layout: wgpu::BindGroupLayout,
    program: Program,
    pipelines: Vec<wgpu::ComputePipeline>,
}

impl Kernels {
    /// Validates the module (naga), checks it against the Rust side of the contract
    /// (`gpu::contract::check`) and compiles its kernels inside an error scope.
    fn compile(ctx: &GpuContext, a: &Assembled, program: Program) -> Result<Kernels, GpuError> {
        let naga_module = shader::validate(a)?;
        contract::check(&naga_module).map_err(|message| GpuError::Validation {
            kernel: a.label.clone(),
            message: format!("the module breaks the Rust-WGSL contract: {message}"),
        })?;
        let device = &ctx.device;
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(&a.label),
            source: wgpu::ShaderSource::Wgsl(a.source.as_str().into()),
        });
        let entries: Vec<wgpu::BindGroupLayoutEntry> = BINDINGS
            .iter()
            .enumerate()
            .map(|(i, (_, b))| layout_entry(i as u32, *b))
            .collect();
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("walk"),
            entries: &entries,
        });
        let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("walk"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipelines = program
            .kernels
            .iter()
            .map(|k| {
                device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(&k.entry),
                    layout: Some(&pl),
                    module: &module,
                    entry_point: Some(&k.entry),
                    compilation_options: Default::default(),
                    cache: None,
                })
            })
            .collect();
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(GpuError::Validation {
                kernel: a.label.clone(),
                message: e.to_string(),
            });
        }
        Ok(Kernels {
            layout,
            program,
            pipelines,
        })
    }
}

/// Compiled walk kernels of one device, by assembled WGSL source (which determines the module,
/// its program and so its pipelines). Walks of one run that share a shader — escape's arms,
/// the repeats and instances of a sweep — compile it once; each walk makes only what depends
/// on its landscape's parameters (the params buffer). Use one cache per device.
#[derive(Default)]
pub struct PipelineCache {
    modules: Mutex<HashMap<String, Arc<Kernels>>>,
}

impl PipelineCache {
    pub fn new() -> PipelineCache {
        PipelineCache::default()
    }

    /// How many distinct modules have been compiled into it.
    pub fn compiled(&self) -> usize {
        self.modules.lock().map_or(0, |m| m.len())
    }

    fn kernels(
        &self,
        ctx: &GpuContext,
        a: &Assembled,
        program: Program,
    ) -> Result<Arc<Kernels>, GpuError> {
        // Held while compiling, so that two walks of one module never compile it twice.
        let mut modules = self.modules.lock().map_err(|_| GpuError::Validation {
            kernel: a.label.clone(),
            message: "the pipeline cache was poisoned by a panic".into(),
        })?;
        if let Some(k) = modules.get(&a.source) {
            return Ok(k.clone());
        }
        let k = Arc::new(Kernels::compile(ctx, a, program)?);
        modules.insert(a.source.clone(), k.clone());
        Ok(k)
    }
}

/// One walk's pipelines and landscape parameters for one (objective, optimizer) pair. The
/// objective may be several instances of one landscape family (same dimension and shader,
/// different parameters), walked in one dispatch: see [`GpuWalk::new_instances`].
pub struct GpuWalk {
    ctx: Arc<GpuContext>,
    kernels: Arc<Kernels>,
    params: wgpu::Buffer,
    label: String,
    n: usize,
    /// Vector slots and scalars per walker (the shared ones and the rule's own).
    slots: usize,
    scalars: usize,
    /// Hyperparameter rows.
    k: usize,
    /// Objective scratch floats per walker (multi-pass objectives).
    scratch: usize,
    /// Landscape instances whose parameters the params buffer holds back to back.
    instances: usize,
    /// Floats per instance.
    instance_params: usize,
    /// The adapter may cut long loops short (software adapters): snapshot before each fused
    /// submission so that a cut one can be retried.
    snapshots: bool,
    /// Small dispatches of a tiled pass run its split-sum kernel where it has one
    /// ([`SPLIT_ENV`]).
    split_sum: bool,
    /// The split-sum kernels reduce by subgroup shuffles.
    subgroups: bool,
}

/// Buffers of one chunk.
struct ChunkBuffers {
    uniform: wgpu::Buffer,
    state: wgpu::Buffer,
    scalars: wgpu::Buffer,
    counters: wgpu::Buffer,
    hyper: wgpu::Buffer,
    control: wgpu::Buffer,
    walkers: wgpu::Buffer,
    /// Copies of state, scalars and counters before a fused submission (snapshots only).
    backup: Option<[wgpu::Buffer; 3]>,
    status_read: wgpu::Buffer,
    control_read: wgpu::Buffer,
    bind: wgpu::BindGroup,
}

fn layout_entry(binding: u32, b: Binding) -> wgpu::BindGroupLayoutEntry {
    let ty = match b {
        Binding::Uniform => wgpu::BufferBindingType::Uniform,
        Binding::Storage { read_only } => wgpu::BufferBindingType::Storage { read_only },
    };
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty,
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

/// The environment variable that turns the tiled matrix-product kernels off (`0`): every pass
/// then runs one invocation per (walker, row), as walks on several landscape instances do. For
/// measuring one against the other (BENCHMARKS.md); both are held to the twin by the tests.
pub const TILES_ENV: &str = "SADDLESCOPE_GPU_TILES";

fn tiles_enabled() -> bool {
    std::env::var(TILES_ENV).map_or(true, |v| v.trim() != "0")
}

/// Dispatches of a tiled pass for fewer running walkers than this run its split-sum kernel
/// (where it has one), from here to a full tile its per-row kernel. Measured on llvmpipe
/// (BENCHMARKS.md, "Small dispatches"): split-sum 1.1-2.1x the per-row kernel's
/// walker-steps/s at 4 walkers, 0.96-1.2x at 16, 0.83-0.92x at 48.
pub const SPLIT_BELOW: usize = 32;

/// The environment variable that turns the split-sum kernels off (`0`): small dispatches of
/// tiled passes then run their per-row kernel. For measuring one against the other
/// (BENCHMARKS.md, "Small dispatches"); both are held to the twin by the tests.
pub const SPLIT_ENV: &str = "SADDLESCOPE_GPU_SPLIT";

fn split_enabled() -> bool {
    std::env::var(SPLIT_ENV).map_or(true, |v| v.trim() != "0")
}

/// f64 host parameters as f32 for the GPU, followed by the zero tail every batched kernel
/// may read into.
fn params_f32(p: &[f64]) -> Vec<f32> {
    let mut out: Vec<f32> = p.iter().map(|&v| v as f32).collect();
    out.extend([0.0; PARAM_TAIL]);
    out
}

impl GpuWalk {
    /// Assembles, validates (naga) and compiles the kernels inside an error scope.
    pub fn new(
        ctx: Arc<GpuContext>,
        obj: &dyn Objective,
        opt: &Optimizer,
    ) -> Result<GpuWalk, GpuError> {
        Self::new_instances(ctx, &[obj], opt)
    }

    /// Pipelines for K instances of one landscape family walked together: the walkers of a
    /// run are split into K equal consecutive blocks, block k on `objs[k]`. The instances must
    /// share the shader (dimension, host constants, sphere flag) and the parameter count; only
    /// their parameter values differ. One dispatch then serves every instance.
    pub fn new_instances(
        ctx: Arc<GpuContext>,
        objs: &[&dyn Objective],
        opt: &Optimizer,
    ) -> Result<GpuWalk, GpuError> {
        let sg = ctx.subgroups;
        Self::build(ctx, objs, opt, None, true, sg)
    }

    /// As [`GpuWalk::new`], with every pass of a multi-pass objective as the per-row kernel
    /// (one invocation per walker and row), as walks on several landscape instances run: for
    /// holding those kernels to the twin at research sizes, and for measuring them.
    pub fn per_row(
        ctx: Arc<GpuContext>,
        obj: &dyn Objective,
        opt: &Optimizer,
    ) -> Result<GpuWalk, GpuError> {
        Self::build(ctx, &[obj], opt, None, false, false)
    }

    /// As [`GpuWalk::new`], with the split-sum kernels reducing through workgroup memory
    /// even where the device has subgroup operations (the fallback of adapters without
    /// them): for holding the fallback to the twin on every adapter, and for measuring it.
    pub fn without_subgroups(
        ctx: Arc<GpuContext>,
        obj: &dyn Objective,
        opt: &Optimizer,
    ) -> Result<GpuWalk, GpuError> {
        Self::build(ctx, &[obj], opt, None, true, false)
    }

    /// As [`GpuWalk::new_instances`], with the kernels taken from `cache` when an earlier walk
    /// on this device compiled the same module (and put there otherwise).
    pub fn cached(
        ctx: Arc<GpuContext>,
        cache: &PipelineCache,
        objs: &[&dyn Objective],
        opt: &Optimizer,
    ) -> Result<GpuWalk, GpuError> {
        let sg = ctx.subgroups;
        Self::build(ctx, objs, opt, Some(cache), true, sg)
    }

    fn build(
        ctx: Arc<GpuContext>,
        objs: &[&dyn Objective],
        opt: &Optimizer,
        cache: Option<&PipelineCache>,
        tiles: bool,
        subgroups: bool,
    ) -> Result<GpuWalk, GpuError> {
        let (obj, rest) = objs
            .split_first()
            .ok_or_else(|| GpuError::Instances("no landscape instance to walk".to_string()))?;
        let obj: &dyn Objective = *obj;
        let p = instance_params(obj, rest)?;
        let bytes = ((p.len() + PARAM_TAIL) * 4) as u64;
        let limit = ctx
            .limits
            .max_storage_buffer_binding_size
            .min(ctx.limits.max_buffer_size);
        if bytes > limit {
            return Err(GpuError::TooLarge(format!(
                "'{}'{} needs {} MiB of landscape parameters on the GPU (f32); adapter '{}' binds \
                 at most {} MiB per buffer; valid: a smaller landscape, or --backend cpu",
                obj.spec(),
                if rest.is_empty() {
                    String::new()
                } else {
                    format!(" with {} instances in one dispatch", rest.len() + 1)
                },
                bytes.div_ceil(1 << 20),
                ctx.adapter.line(),
                limit >> 20
            )));
        }
        let label = format!("walk[{} | {}]", obj.spec(), opt.spec());
        // The tiled kernels read one landscape at a fixed offset of params.
        let tiled = tiles && objs.len() == 1 && tiles_enabled();
        let (assembled, program) = shader::walk_module_with(&label, obj, opt, tiled, subgroups)
            .map_err(|message| GpuError::Validation {
                kernel: label.clone(),
                message,
            })?;
        let kernels = match cache {
            Some(c) => c.kernels(&ctx, &assembled, program)?,
            None => Arc::new(Kernels::compile(&ctx, &assembled, program)?),
        };
        let pf = params_f32(&p);
        let params = make_buffer(
            &ctx,
            "params",
            (pf.len() * 4) as u64,
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
        )?;
        ctx.queue
            .write_buffer(&params, 0, bytemuck::cast_slice(&pf));
        Ok(GpuWalk {
            n: obj.dim(),
            slots: opt.rule.slots(),
            scalars: opt.rule.scalars(),
            k: opt.rule.params.len(),
            scratch: obj.wgsl().passes.map_or(0, |p| p.scratch),
            snapshots: kernels.program.fused && ctx.adapter.may_limit_loops(),
            split_sum: split_enabled(),
            subgroups: subgroups && tiled,
            ctx,
            kernels,
            params,
            label,
            instances: objs.len(),
            instance_params: p.len() / objs.len(),
        })
    }

    /// "fused" (one kernel, many steps per invocation), "multi-pass" or "multi-pass, tiled"
    /// (matrix-product passes as tiled kernels), the last followed by what runs the tiled
    /// passes' dispatches for fewer walkers than fill a tile: split-sum kernels (with subgroup
    /// shuffles where the device has them) or per-row kernels.
    pub fn engine(&self) -> String {
        let p = &self.kernels.program;
        if p.fused {
            return "fused".into();
        }
        if !p.kernels.iter().any(|k| k.tiled) {
            return "multi-pass".into();
        }
        let split = self.split_sum && p.kernels.iter().any(|k| k.split_sum.is_some());
        let small = if self.subgroups {
            "split-sum (subgroup shuffles)"
        } else {
            "split-sum"
        };
        if split {
            format!(
                "multi-pass, tiled; {small} below {SPLIT_BELOW} walkers, per-row below \
                 {WALK_TILES_FROM}"
            )
        } else {
            format!("multi-pass, tiled; per-row below {WALK_TILES_FROM} walkers")
        }
    }

    /// The uniform's instance fields for a run of `total` walkers starting at global id
    /// `first`: K equal blocks, or one landscape (instance_walkers = 0).
    fn instance_fields(&self, total: usize, first: u32) -> Result<(u32, u32, u32), GpuError> {
        if self.instances == 1 {
            return Ok((0, 0, 0));
        }
        if !total.is_multiple_of(self.instances) {
            return Err(GpuError::Instances(format!(
                "{total} walkers do not split evenly over {} landscape instances",
                self.instances
            )));
        }
        Ok((
            (total / self.instances) as u32,
            self.instance_params as u32,
            first,
        ))
    }

    /// Bytes per walker of each per-walker buffer: state, scalars, counters, hyper, scratch,
    /// walker list.
    fn per_walker_bytes(&self) -> [u64; 6] {
        [
            (self.slots * self.n) as u64 * 4,
            self.scalars as u64 * 4,
            COUNTERS as u64 * 4,
            self.k.max(1) as u64 * 4,
            self.scratch as u64 * 4,
            4,
        ]
    }

    /// The most walkers one chunk can hold within the adapter's buffer limits.
    pub fn chunk_capacity(&self) -> usize {
        let l = &self.ctx.limits;
        let max_binding = l.max_storage_buffer_binding_size.min(l.max_buffer_size);
        let sizes = self.per_walker_bytes();
        let widest = sizes.iter().copied().max().unwrap_or(4).max(1);
        let by_memory = (max_binding / widest) as usize;
        let per_group = if self.kernels.program.kernels.iter().any(|k| k.tiled) {
            tile::TW.min(WORKGROUP as usize)
        } else {
            WORKGROUP as usize
        };
        let by_dispatch = l.max_compute_workgroups_per_dimension as usize * per_group;
        // Keep a chunk's device memory moderate: 2 GiB in all (with the snapshot copies).
        let mut per_walker: u64 = sizes.iter().sum();
        if self.snapshots {
            per_walker += sizes[0] + sizes[1] + sizes[2];
        }
        let by_budget = ((2u64 << 30) / per_walker.max(1)) as usize;
        by_memory.min(by_dispatch).min(by_budget).max(1)
    }

    fn buffers(&self, cap: usize) -> Result<ChunkBuffers, GpuError> {
        let st = wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_DST
            | wgpu::BufferUsages::COPY_SRC;
        let read = wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST;
        let c = &self.ctx;
        let [b_state, b_scalars, b_counters, b_hyper, b_scratch, _] = self.per_walker_bytes();
        let cap64 = cap as u64;
        let uniform = make_buffer(
            c,
            "uniform",
            std::mem::size_of::<WalkUniform>() as u64,
            wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        )?;
        let state = make_buffer(c, "state", b_state * cap64, st)?;
        let scalars = make_buffer(c, "scalars", b_scalars * cap64, st)?;
        let counters = make_buffer(c, "counters", b_counters * cap64, st)?;
        let hyper = make_buffer(c, "hyper", b_hyper * cap64, st)?;
        let scratch = make_buffer(c, "scratch", (b_scratch * cap64).max(4), st)?;
        let walkers = make_buffer(c, "walkers", 4 * cap64, st)?;
        let control = make_buffer(c, "control", CONTROL_BYTES, st)?;
        let backup = if self.snapshots {
            Some([
                make_buffer(c, "state backup", b_state * cap64, st)?,
                make_buffer(c, "scalars backup", b_scalars * cap64, st)?,
                make_buffer(c, "counters backup", b_counters * cap64, st)?,
            ])
        } else {
            None
        };
        let status_read = make_buffer(c, "status readback", 4 * cap64, read)?;
        let control_read = make_buffer(c, "control readback", CONTROL_BYTES, read)?;
        let bound = [
            &uniform,
            &state,
            &self.params,
            &scalars,
            &counters,
            &hyper,
            &control,
            &scratch,
            &walkers,
        ];
        let entries: Vec<wgpu::BindGroupEntry> = bound
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: b.as_entire_binding(),
            })
            .collect();
        let bind = c.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("walk"),
            layout: &self.kernels.layout,
            entries: &entries,
        });
        Ok(ChunkBuffers {
            uniform,
            state,
            scalars,
            counters,
            hyper,
            control,
            walkers,
            backup,
            status_read,
            control_read,
            bind,
        })
    }

    /// Uploads a chunk: positions into X and START (`v`, when given, into START instead),
    /// zeroed optimizer state, hyperparameters.
    fn upload(
        &self,
        b: &ChunkBuffers,
        starts: &[f64],
        v: Option<&[f64]>,
        hyper: Option<(&Hyper, usize)>,
        first: usize,
        wc: usize,
    ) {
        let n = self.n;
        let mut state = vec![0f32; self.slots * n * wc];
        for w in 0..wc {
            for i in 0..n {
                let x = starts[(first + w) * n + i];
                state[(SLOT_X * n + i) * wc + w] = x as f32;
                state[(SLOT_START * n + i) * wc + w] =
                    v.map_or(x, |v| v[(first + w) * n + i]) as f32;
            }
        }
        let q = &self.ctx.queue;
        q.write_buffer(&b.state, 0, bytemuck::cast_slice(&state));
        q.write_buffer(
            &b.scalars,
            0,
            bytemuck::cast_slice(&vec![0f32; self.scalars * wc]),
        );
        let mut counters = vec![0u32; COUNTERS * wc];
        counters[CT_ESCAPE * wc..(CT_ESCAPE + 1) * wc].fill(NO_ESCAPE);
        q.write_buffer(&b.counters, 0, bytemuck::cast_slice(&counters));
        if let Some((hyper, offset)) = hyper {
            let mut hp = vec![0f32; self.k.max(1) * wc];
            for k in 0..self.k {
                for w in 0..wc {
                    hp[k * wc + w] = hyper.get(k, offset + first + w) as f32;
                }
            }
            q.write_buffer(&b.hyper, 0, bytemuck::cast_slice(&hp));
        }
        let all: Vec<u32> = (0..wc as u32).collect();
        q.write_buffer(&b.walkers, 0, bytemuck::cast_slice(&all));
    }

    /// Records the dispatches of `kernels` over `active` walkers into `pass`.
    /// A tiled pass runs its split-sum or per-row kernel when fewer than `tiles_from` walkers
    /// run.
    fn dispatch(
        &self,
        pass: &mut wgpu::ComputePass,
        b: &ChunkBuffers,
        kernels: &[usize],
        active: u32,
        tiles_from: usize,
    ) {
        pass.set_bind_group(0, &b.bind, &[]);
        let all = &self.kernels.program.kernels;
        for &k in kernels {
            // Fewer running walkers than fill a tile: the pass's split-sum kernel below
            // SPLIT_BELOW walkers, else its per-row kernel.
            let small = (active as usize) < tiles_from;
            let split = self.split_sum && (active as usize) < SPLIT_BELOW;
            let k = match (all[k].split_sum, all[k].per_row) {
                (Some(s), _) if small && split => s,
                (_, Some(r)) if small => r,
                _ => k,
            };
            let kernel = &all[k];
            let (groups, row_groups) = if kernel.tiled {
                (
                    active.div_ceil(tile::TW as u32),
                    kernel.rows.div_ceil(tile::TR),
                )
            } else if kernel.lanes {
                (active, kernel.rows.div_ceil(tile::LANE_ROWS))
            } else {
                (active.div_ceil(WORKGROUP), kernel.rows)
            };
            pass.set_pipeline(&self.kernels.pipelines[k]);
            pass.dispatch_workgroups(
                groups,
                row_groups.min(ROW_SPLIT) as u32,
                row_groups.div_ceil(ROW_SPLIT) as u32,
            );
        }
    }

    /// Copies every snapshot buffer from `from` to `to` (live <-> backup).
    fn copy_snapshot(&self, enc: &mut wgpu::CommandEncoder, b: &ChunkBuffers, to_backup: bool) {
        if let Some(bk) = &b.backup {
            for (live, copy) in [&b.state, &b.scalars, &b.counters].into_iter().zip(bk) {
                let (src, dst) = if to_backup {
                    (live, copy)
                } else {
                    (copy, live)
                };
                enc.copy_buffer_to_buffer(src, 0, dst, 0, live.size());
            }
        }
    }

    /// One submission: `steps` steps (fused: one dispatch running `steps` steps per invocation)
    /// of the `active` walkers. Returns whether the loop guard tripped and the statuses.
    fn submit(
        &self,
        b: &ChunkBuffers,
        wc: usize,
        active: u32,
        steps: u32,
    ) -> Result<(bool, Vec<u32>), GpuError> {
        let mut enc = self.ctx.device.create_command_encoder(&Default::default());
        enc.clear_buffer(&b.control, 0, None);
        self.copy_snapshot(&mut enc, b, true);
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            if self.kernels.program.fused {
                self.dispatch(
                    &mut pass,
                    b,
                    &self.kernels.program.step,
                    active,
                    WALK_TILES_FROM,
                );
            } else {
                for _ in 0..steps {
                    self.dispatch(
                        &mut pass,
                        b,
                        &self.kernels.program.step,
                        active,
                        WALK_TILES_FROM,
                    );
                }
            }
        }
        enc.copy_buffer_to_buffer(&b.control, 0, &b.control_read, 0, CONTROL_BYTES);
        let status_at = (CT_STATUS * wc * 4) as u64;
        enc.copy_buffer_to_buffer(&b.counters, status_at, &b.status_read, 0, (wc * 4) as u64);
        self.ctx.queue.submit([enc.finish()]);
        let cut = self.guard_tripped(b)?;
        let status =
            bytemuck::pod_collect_to_vec(&read(&self.ctx, &b.status_read, (wc * 4) as u64)?);
        Ok((cut, status))
    }

    /// Whether the loop guard of the last submission tripped (its control word, read back).
    fn guard_tripped(&self, b: &ChunkBuffers) -> Result<bool, GpuError> {
        let bytes = read(&self.ctx, &b.control_read, CONTROL_BYTES)?;
        let at = 4 * CTRL_GUARD;
        let word: u32 = bytemuck::pod_read_unaligned(&bytes[at..at + 4]);
        Ok(word != 0)
    }

    fn loop_limit(&self, detail: String) -> GpuError {
        GpuError::LoopLimit {
            adapter: self.ctx.adapter.line(),
            kernel: self.label.clone(),
            detail,
        }
    }

    /// Runs all walkers to the end. `starts` is W x N row-major; `progress` gets walker-steps
    /// done, a stopped walker counting as all max_steps + 1 of its steps (as the CPU twin
    /// counts).
    pub fn run(
        &self,
        plan: &WalkPlan,
        starts: &[f64],
        hyper: &Hyper,
        progress: &dyn Fn(u64),
    ) -> Result<EndStates, GpuError> {
        self.run_from(plan, starts, hyper, progress, None)
    }

    /// [`GpuWalk::run`] with checkpoints: the walk continues from the device state
    /// `checkpoints` restores (chunks that had ended keep their end states; the chunk that was
    /// walking gets its state, scalars and counters back, bit for bit), and at each segment
    /// boundary where a checkpoint is due it reads the chunk's state back and saves it; once
    /// more when the walk has ended. A walker's steps depend only on its own state and
    /// (seed, walker, step), so the walk ends as the uninterrupted one does.
    pub fn run_from(
        &self,
        plan: &WalkPlan,
        starts: &[f64],
        hyper: &Hyper,
        progress: &dyn Fn(u64),
        checkpoints: Option<&dyn Checkpoints>,
    ) -> Result<EndStates, GpuError> {
        let n = self.n;
        let total = starts.len() / n;
        let cap = plan
            .chunk
            .unwrap_or(usize::MAX)
            .min(self.chunk_capacity())
            .min(total)
            .max(1);
        let (instance_walkers, instance_params, instance_first) =
            self.instance_fields(total, plan.first_walker)?;
        let b = self.buffers(cap)?;
        let mut out = EndStates::new(total, n);
        out.precision = "f32";
        let most = plan.max_steps.saturating_add(1);
        // Steps of a chunk's first submission (later ones are sized by time). Every chunk
        // starts small, so that a chunk's first segment boundaries (checkpoints) come soon.
        let first_segment = if self.kernels.program.fused {
            16u32.min(most)
        } else {
            1
        };
        let mut segment_cap = u32::MAX;
        let per_walker = u64::from(most);
        let restored = checkpoints
            .and_then(|c| c.restore_device())
            .filter(|s| self.fits(s, cap, total));
        let resume_at = restored.as_ref().map_or(0, |s| {
            for w in 0..s.first {
                let e = &s.ends;
                out.set(
                    w,
                    e.point(w),
                    e.f[w],
                    e.grad_norm[w],
                    e.steps[w],
                    e.status[w],
                    e.escape[w],
                );
            }
            s.first
        });
        for first in (resume_at..total).step_by(cap) {
            let wc = cap.min(total - first);
            self.upload(&b, starts, None, Some((hyper, 0)), first, wc);
            let mut segment = first_segment.min(segment_cap);
            let mut active = wc as u32;
            // Steps every still-running walker of this chunk has taken.
            let mut taken = 0u64;
            if let Some(s) = restored.as_ref().filter(|s| s.first == first) {
                let q = &self.ctx.queue;
                q.write_buffer(&b.state, 0, bytemuck::cast_slice(&s.state));
                q.write_buffer(&b.scalars, 0, bytemuck::cast_slice(&s.sc));
                q.write_buffer(&b.counters, 0, bytemuck::cast_slice(&s.ct));
                let running: Vec<u32> = (0..wc as u32)
                    .filter(|&w| s.ct[CT_STATUS * wc + w as usize] == Status::Running as u32)
                    .collect();
                q.write_buffer(&b.walkers, 0, bytemuck::cast_slice(&running));
                active = running.len() as u32;
                taken = u64::from(s.taken);
            }
            while active > 0 {
                let u = WalkUniform {
                    stride: wc as u32,
                    first_walker: plan.first_walker + first as u32,
                    segment_steps: segment,
                    max_steps: plan.max_steps,
                    grad_tol: plan.grad_tol as f32,
                    bound: plan.bound as f32,
                    seed_lo: plan.seed as u32,
                    seed_hi: (plan.seed >> 32) as u32,
                    escape_radius2: (plan.escape_radius * plan.escape_radius) as f32,
                    escape_drop: plan.escape_drop as f32,
                    instance_walkers,
                    instance_params,
                    instance_first,
                    settle_after_escape: u32::from(plan.settle_after_escape),
                    active_count: active,
                    guard_trips: GUARD_TRIPS,
                };
                self.ctx
                    .queue
                    .write_buffer(&b.uniform, 0, bytemuck::bytes_of(&u));
                let t0 = Instant::now();
                let (cut, status) = self.submit(&b, wc, active, segment)?;
                if cut {
                    if !self.snapshots || segment == 1 {
                        return Err(self.loop_limit(if self.kernels.program.fused {
                            format!("one step at N = {n} already runs more loop iterations than it allows")
                        } else {
                            format!("one of the objective's passes at N = {n} runs more loop iterations than it allows")
                        }));
                    }
                    // Back to the state before this submission, with half the steps.
                    let mut enc = self.ctx.device.create_command_encoder(&Default::default());
                    self.copy_snapshot(&mut enc, &b, false);
                    self.ctx.queue.submit([enc.finish()]);
                    segment_cap = segment / 2;
                    segment = segment_cap;
                    log::info!("loop guard: {} steps per invocation at most", segment_cap);
                    continue;
                }
                taken += u64::from(segment);
                let running: Vec<u32> = (0..wc as u32)
                    .filter(|&w| status[w as usize] == Status::Running as u32)
                    .collect();
                let stopped = (wc - running.len()) as u64;
                progress(
                    first as u64 * per_walker
                        + stopped * per_walker
                        + running.len() as u64 * taken.min(per_walker),
                );
                if running.is_empty() {
                    break;
                }
                active = running.len() as u32;
                self.ctx
                    .queue
                    .write_buffer(&b.walkers, 0, bytemuck::cast_slice(&running));
                if let Some(c) = checkpoints.filter(|c| c.due()) {
                    let snap = self.device_snapshot(&b, &out, first, wc, taken as u32)?;
                    c.save_device(&snap, false);
                }
                // Aim each submission at SEGMENT_SECONDS of work.
                let dt = t0.elapsed().as_secs_f64().max(1e-4);
                let scaled = f64::from(segment) * (SEGMENT_SECONDS / dt).clamp(0.5, 4.0);
                let most = if self.kernels.program.fused {
                    1 << 16
                } else {
                    MAX_PASS_STEPS
                };
                segment = (scaled as u32).clamp(1, most).min(segment_cap).max(1);
            }
            self.read_chunk(&b, &mut out, first, wc)?;
        }
        if let Some(c) = checkpoints {
            c.save_device(&self.device_snapshot(&b, &out, total, 0, 0)?, true);
        }
        Ok(out)
    }

    /// Whether a restored device snapshot belongs to this walk as it is chunked now: its chunk
    /// starts on the chunk grid of `cap` walkers, holds the walkers that chunk holds, and its
    /// buffers have this rule's slots and scalars at this dimension. One that does not is a
    /// notice, and the walk starts over (the same numbers, more time).
    fn fits(&self, s: &DeviceSnapshot, cap: usize, total: usize) -> bool {
        let chunk = if s.first == total {
            0
        } else {
            cap.min(total.saturating_sub(s.first))
        };
        let ok = s.first.is_multiple_of(cap)
            && s.wc == chunk
            && s.slots == self.slots
            && s.scalars == self.scalars
            && s.ends.len() == s.first
            && s.state.len() == self.slots * self.n * s.wc
            && s.sc.len() == self.scalars * s.wc
            && s.ct.len() == COUNTERS * s.wc;
        if !ok {
            log::warn!(
                "the checkpoint holds walkers {}..+{} of {} with {} slots and {} scalars; this \
                 walk runs chunks of {cap} with {} slots and {} scalars; walking from the start",
                s.first,
                s.wc,
                total,
                s.slots,
                s.scalars,
                self.slots,
                self.scalars
            );
        }
        ok
    }

    /// The walk's device state: the end states of walkers 0..first (from `out`) and the
    /// chunk of `wc` walkers from `first`, read back, `taken` steps in.
    fn device_snapshot(
        &self,
        b: &ChunkBuffers,
        out: &EndStates,
        first: usize,
        wc: usize,
        taken: u32,
    ) -> Result<DeviceSnapshot, GpuError> {
        let n = self.n;
        let mut ends = EndStates::new(first, n);
        ends.precision = out.precision;
        ends.x.copy_from_slice(&out.x[..first * n]);
        ends.f.copy_from_slice(&out.f[..first]);
        ends.grad_norm.copy_from_slice(&out.grad_norm[..first]);
        ends.steps.copy_from_slice(&out.steps[..first]);
        ends.status.copy_from_slice(&out.status[..first]);
        ends.escape.copy_from_slice(&out.escape[..first]);
        let (state, sc, ct) = if wc == 0 {
            (Vec::new(), Vec::new(), Vec::new())
        } else {
            let [b_state, b_scalars, b_counters, ..] = self.per_walker_bytes();
            let w = wc as u64;
            (
                bytemuck::pod_collect_to_vec(&read_from(&self.ctx, &b.state, 0, b_state * w)?),
                bytemuck::pod_collect_to_vec(&read_from(&self.ctx, &b.scalars, 0, b_scalars * w)?),
                bytemuck::pod_collect_to_vec(&read_from(
                    &self.ctx,
                    &b.counters,
                    0,
                    b_counters * w,
                )?),
            )
        };
        Ok(DeviceSnapshot {
            first,
            wc,
            taken,
            slots: self.slots,
            scalars: self.scalars,
            ends,
            state,
            sc,
            ct,
        })
    }

    fn read_chunk(
        &self,
        b: &ChunkBuffers,
        out: &mut EndStates,
        first: usize,
        wc: usize,
    ) -> Result<(), GpuError> {
        let n = self.n;
        let xs: Vec<f32> =
            bytemuck::pod_collect_to_vec(&read_from(&self.ctx, &b.state, 0, (n * wc * 4) as u64)?);
        let sc: Vec<f32> = bytemuck::pod_collect_to_vec(&read_from(
            &self.ctx,
            &b.scalars,
            0,
            (self.scalars * wc * 4) as u64,
        )?);
        let ct: Vec<u32> = bytemuck::pod_collect_to_vec(&read_from(
            &self.ctx,
            &b.counters,
            0,
            (COUNTERS * wc * 4) as u64,
        )?);
        let mut x = vec![0.0; n];
        for w in 0..wc {
            for (i, xi) in x.iter_mut().enumerate() {
                *xi = f64::from(xs[(SLOT_X * n + i) * wc + w]);
            }
            out.set(
                first + w,
                &x,
                f64::from(sc[SC_F * wc + w]),
                f64::from(sc[SC_GNORM * wc + w]),
                ct[CT_STEPS * wc + w],
                Status::from_code(ct[CT_STATUS * wc + w]),
                ct[CT_ESCAPE * wc + w],
            );
        }
        Ok(())
    }

    /// Evaluates the objective on the GPU at `points` (W x N) with the walk's own kernels:
    /// returns, per walker, f from the gradient evaluation, f from the value evaluation, the
    /// gradient (W x N, Euclidean) and H v for the given `v` (W x N).
    /// Points beyond one chunk's capacity are evaluated chunk by chunk.
    pub fn eval(&self, points: &[f64], v: &[f64]) -> Result<GpuEval, GpuError> {
        let n = self.n;
        let cap = self.chunk_capacity() * n;
        if points.len() <= cap || self.instances > 1 {
            return self.eval_chunk(points, v);
        }
        let mut all = GpuEval {
            f_grad: vec![],
            f_value: vec![],
            grad: vec![],
            hvp: vec![],
        };
        for (p, q) in points.chunks(cap).zip(v.chunks(cap)) {
            let e = self.eval_chunk(p, q)?;
            all.f_grad.extend(e.f_grad);
            all.f_value.extend(e.f_value);
            all.grad.extend(e.grad);
            all.hvp.extend(e.hvp);
        }
        Ok(all)
    }

    fn eval_chunk(&self, points: &[f64], v: &[f64]) -> Result<GpuEval, GpuError> {
        let n = self.n;
        let wc = points.len() / n;
        let b = self.buffers(wc)?;
        self.upload(&b, points, Some(v), None, 0, wc);
        let (instance_walkers, instance_params, instance_first) = self.instance_fields(wc, 0)?;
        let u = WalkUniform {
            stride: wc as u32,
            instance_walkers,
            instance_params,
            instance_first,
            active_count: wc as u32,
            guard_trips: GUARD_TRIPS,
            ..bytemuck::Zeroable::zeroed()
        };
        self.ctx
            .queue
            .write_buffer(&b.uniform, 0, bytemuck::bytes_of(&u));
        let mut enc = self.ctx.device.create_command_encoder(&Default::default());
        enc.clear_buffer(&b.control, 0, None);
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            self.dispatch(&mut pass, &b, &self.kernels.program.eval, wc as u32, 1);
        }
        enc.copy_buffer_to_buffer(&b.control, 0, &b.control_read, 0, CONTROL_BYTES);
        self.ctx.queue.submit([enc.finish()]);
        if self.guard_tripped(&b)? {
            return Err(self.loop_limit(format!(
                "evaluating the objective at N = {n} runs more loop iterations than it allows"
            )));
        }
        let st: Vec<f32> = bytemuck::pod_collect_to_vec(&read_from(
            &self.ctx,
            &b.state,
            0,
            (self.slots * n * wc * 4) as u64,
        )?);
        let sc: Vec<f32> = bytemuck::pod_collect_to_vec(&read_from(
            &self.ctx,
            &b.scalars,
            0,
            (self.scalars * wc * 4) as u64,
        )?);
        let slot = |s: usize| -> Vec<f64> {
            let mut o = vec![0.0; n * wc];
            for w in 0..wc {
                for i in 0..n {
                    o[w * n + i] = f64::from(st[(s * n + i) * wc + w]);
                }
            }
            o
        };
        Ok(GpuEval {
            f_grad: (0..wc).map(|w| f64::from(sc[SC_F * wc + w])).collect(),
            f_value: (0..wc).map(|w| f64::from(sc[SC_GNORM * wc + w])).collect(),
            grad: slot(crate::walk::state::SLOT_GRAD),
            hvp: slot(crate::walk::state::SLOT_AUX),
        })
    }
}

/// The instances' parameters back to back, after checking that they share one shader.
fn instance_params(first: &dyn Objective, rest: &[&dyn Objective]) -> Result<Vec<f64>, GpuError> {
    let mut p = first.params();
    let (w0, len) = (first.wgsl(), p.len());
    for o in rest {
        let w = o.wgsl();
        if o.dim() != first.dim()
            || o.sphere() != first.sphere()
            || w.consts != w0.consts
            || w.body != w0.body
        {
            return Err(GpuError::Instances(format!(
                "'{}' and '{}' do not share one shader (dimension and host constants must match)",
                first.spec(),
                o.spec()
            )));
        }
        let q = o.params();
        if q.len() != len {
            return Err(GpuError::Instances(format!(
                "'{}' has {} parameters and '{}' {}; instances must have as many",
                first.spec(),
                len,
                o.spec(),
                q.len()
            )));
        }
        p.extend_from_slice(&q);
    }
    Ok(p)
}

/// Output of [`GpuWalk::eval`].
pub struct GpuEval {
    pub f_grad: Vec<f64>,
    pub f_value: Vec<f64>,
    pub grad: Vec<f64>,
    pub hvp: Vec<f64>,
}

fn make_buffer(
    ctx: &GpuContext,
    label: &str,
    size: u64,
    usage: wgpu::BufferUsages,
) -> Result<wgpu::Buffer, GpuError> {
    let scope = ctx.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let buf = ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: size.max(4),
        usage,
        mapped_at_creation: false,
    });
    if let Some(e) = pollster::block_on(scope.pop()) {
        return Err(GpuError::TooLarge(format!(
            "could not allocate the {label} buffer ({size} bytes): {e}"
        )));
    }
    Ok(buf)
}

/// Copies `size` bytes from `src` at `offset` through a staging buffer and returns them.
fn read_from(
    ctx: &GpuContext,
    src: &wgpu::Buffer,
    offset: u64,
    size: u64,
) -> Result<Vec<u8>, GpuError> {
    let staging = make_buffer(
        ctx,
        "staging",
        size,
        wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
    )?;
    let mut enc = ctx.device.create_command_encoder(&Default::default());
    enc.copy_buffer_to_buffer(src, offset, &staging, 0, size);
    ctx.queue.submit([enc.finish()]);
    read(ctx, &staging, size)
}

/// Maps a MAP_READ buffer after the queue is done with it and copies its first `size` bytes.
fn read(ctx: &GpuContext, buf: &wgpu::Buffer, size: u64) -> Result<Vec<u8>, GpuError> {
    let slice = buf.slice(..size);
    let (tx, rx) = std::sync::mpsc::channel();
    slice.map_async(wgpu::MapMode::Read, move |r| {
        let _ = tx.send(r);
    });
    ctx.device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| GpuError::Readback(format!("device poll failed: {e}")))?;
    rx.recv()
        .map_err(|e| GpuError::Readback(e.to_string()))?
        .map_err(|e| GpuError::Readback(e.to_string()))?;
    let data = slice
        .get_mapped_range()
        .map_err(|e| GpuError::Readback(e.to_string()))?
        .to_vec();
    buf.unmap();
    Ok(data)
}
