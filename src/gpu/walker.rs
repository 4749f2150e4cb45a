//! The GPU walk: buffers, pipelines and segmented dispatch of shaders/walk.wgsl. Walkers are
//! chunked to fit the adapter's buffer limits; each chunk runs in dispatch segments until every
//! walker has stopped (finished walkers exit at once, and the host stops dispatching when an
//! atomic count of running walkers reaches zero).

use std::sync::Arc;
use std::time::Instant;

use super::context::{GpuContext, GpuError};
use super::shader;
use crate::objective::Objective;
use crate::rules::Optimizer;
use crate::walk::state::{
    Status, COUNTERS, CT_ESCAPE, CT_STATUS, CT_STEPS, NO_ESCAPE, SCALARS, SC_F, SC_GNORM, SLOTS,
    SLOT_START, SLOT_X,
};
use crate::walk::{EndStates, Hyper, WalkPlan};

/// The kernel's uniform block. Keep in sync with shaders/common.wgsl (WalkUniform).
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
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
    pub _pad1: u32,
    pub _pad2: u32,
}

const WORKGROUP: u32 = 64;
/// Target wall time of one dispatch segment: long enough to amortise submission and the
/// running-count readback, short enough for a live progress bar and no driver watchdog.
const SEGMENT_SECONDS: f64 = 0.25;

/// Pipelines for one (objective, optimizer) pair, made once. The objective may be several
/// instances of one landscape family (same dimension and shader, different parameters), walked
/// in one dispatch: see [`GpuWalk::new_instances`].
pub struct GpuWalk {
    ctx: Arc<GpuContext>,
    layout: wgpu::BindGroupLayout,
    walk: wgpu::ComputePipeline,
    eval: wgpu::ComputePipeline,
    params: wgpu::Buffer,
    n: usize,
    k: usize,
    /// Landscape instances whose parameters the params buffer holds back to back.
    instances: usize,
    /// Floats per instance.
    instance_params: usize,
}

/// Buffers of one chunk.
struct ChunkBuffers {
    uniform: wgpu::Buffer,
    state: wgpu::Buffer,
    scalars: wgpu::Buffer,
    counters: wgpu::Buffer,
    hyper: wgpu::Buffer,
    active: wgpu::Buffer,
    active_read: wgpu::Buffer,
    bind: wgpu::BindGroup,
}

fn storage_entry(binding: u32, read_only: bool) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
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
        let (obj, rest) = objs
            .split_first()
            .ok_or_else(|| GpuError::Instances("no landscape instance to walk".to_string()))?;
        let obj: &dyn Objective = *obj;
        let p = instance_params(obj, rest)?;
        let label = format!("walk[{} | {}]", obj.spec(), opt.spec());
        let wgsl = opt.rule.wgsl.ok_or_else(|| GpuError::Validation {
            kernel: label.clone(),
            message: format!(
                "step rule '{}' has no WGSL; it runs on the CPU twin only",
                opt.rule.name
            ),
        })?;
        let rule = format!("{}\n{}", opt.wgsl_consts(), wgsl);
        let assembled = shader::assemble(&label, obj, &rule, shader::WALK);
        shader::validate(&assembled)?;
        let device = &ctx.device;
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(&label),
            source: wgpu::ShaderSource::Wgsl(assembled.source.clone().into()),
        });
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("walk"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::COMPUTE,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                },
                storage_entry(1, false),
                storage_entry(2, true),
                storage_entry(3, false),
                storage_entry(4, false),
                storage_entry(5, true),
                storage_entry(6, false),
            ],
        });
        let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("walk"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let make = |entry: &str| {
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: Some(&pl),
                module: &module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            })
        };
        let walk = make("walk_segment");
        let eval = make("eval_grad");
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(GpuError::Validation {
                kernel: label,
                message: e.to_string(),
            });
        }
        let params = make_buffer(
            &ctx,
            "params",
            (p.len().max(1) * 4) as u64,
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
        )?;
        ctx.queue.write_buffer(&params, 0, bytemuck::cast_slice(&p));
        Ok(GpuWalk {
            n: obj.dim(),
            k: opt.rule.params.len(),
            ctx,
            layout,
            walk,
            eval,
            params,
            instances: objs.len(),
            instance_params: p.len() / objs.len(),
        })
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

    /// The most walkers one chunk can hold within the adapter's buffer limits.
    pub fn chunk_capacity(&self) -> usize {
        let l = &self.ctx.limits;
        let max_binding = l.max_storage_buffer_binding_size.min(l.max_buffer_size);
        let per_walker = (SLOTS * self.n * 4) as u64;
        // The largest per-walker binding: the state, or at small N the hyperparameter rows
        // (every rule has at least the six clip and schedule rows).
        let widest = (SLOTS * self.n).max(self.k).max(SCALARS).max(COUNTERS) as u64 * 4;
        let by_memory = (max_binding / widest) as usize;
        let by_dispatch = l.max_compute_workgroups_per_dimension as usize * WORKGROUP as usize;
        // Keep a chunk's host staging and device memory moderate (2 GiB of state).
        let by_budget = ((2u64 << 30) / per_walker) as usize;
        by_memory.min(by_dispatch).min(by_budget).max(1)
    }

    fn buffers(&self, cap: usize) -> Result<ChunkBuffers, GpuError> {
        let st = wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_DST
            | wgpu::BufferUsages::COPY_SRC;
        let uniform = make_buffer(
            &self.ctx,
            "uniform",
            std::mem::size_of::<WalkUniform>() as u64,
            wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        )?;
        let state = make_buffer(&self.ctx, "state", (SLOTS * self.n * cap * 4) as u64, st)?;
        let scalars = make_buffer(&self.ctx, "scalars", (SCALARS * cap * 4) as u64, st)?;
        let counters = make_buffer(&self.ctx, "counters", (COUNTERS * cap * 4) as u64, st)?;
        let hyper = make_buffer(&self.ctx, "hyper", (self.k.max(1) * cap * 4) as u64, st)?;
        let active = make_buffer(&self.ctx, "active", 4, st)?;
        let active_read = make_buffer(
            &self.ctx,
            "active_read",
            4,
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        )?;
        let bind = self
            .ctx
            .device
            .create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("walk"),
                layout: &self.layout,
                entries: &[
                    wgpu::BindGroupEntry {
                        binding: 0,
                        resource: uniform.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 1,
                        resource: state.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 2,
                        resource: self.params.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 3,
                        resource: scalars.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 4,
                        resource: counters.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 5,
                        resource: hyper.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 6,
                        resource: active.as_entire_binding(),
                    },
                ],
            });
        Ok(ChunkBuffers {
            uniform,
            state,
            scalars,
            counters,
            hyper,
            active,
            active_read,
            bind,
        })
    }

    /// Uploads a chunk: positions into X and START, zeroed optimizer state, hyperparameters.
    fn upload(&self, b: &ChunkBuffers, starts: &[f64], hyper: &Hyper, first: usize, wc: usize) {
        let n = self.n;
        let mut state = vec![0f32; SLOTS * n * wc];
        for w in 0..wc {
            for i in 0..n {
                let v = starts[(first + w) * n + i] as f32;
                state[(SLOT_X * n + i) * wc + w] = v;
                state[(SLOT_START * n + i) * wc + w] = v;
            }
        }
        let q = &self.ctx.queue;
        q.write_buffer(&b.state, 0, bytemuck::cast_slice(&state));
        q.write_buffer(
            &b.scalars,
            0,
            bytemuck::cast_slice(&vec![0f32; SCALARS * wc]),
        );
        let mut counters = vec![0u32; COUNTERS * wc];
        counters[CT_ESCAPE * wc..(CT_ESCAPE + 1) * wc].fill(NO_ESCAPE);
        q.write_buffer(&b.counters, 0, bytemuck::cast_slice(&counters));
        let mut hp = vec![0f32; self.k.max(1) * wc];
        for k in 0..self.k {
            for w in 0..wc {
                hp[k * wc + w] = hyper.get(k, first + w) as f32;
            }
        }
        q.write_buffer(&b.hyper, 0, bytemuck::cast_slice(&hp));
    }

    /// Runs all walkers to the end. `starts` is W x N row-major; `progress(steps_done_estimate)`.
    pub fn run(
        &self,
        plan: &WalkPlan,
        starts: &[f64],
        hyper: &Hyper,
        progress: &dyn Fn(u64),
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
        let mut segment = 16u32.min(plan.max_steps.saturating_add(1));
        let mut done_steps = 0u64;
        for first in (0..total).step_by(cap) {
            let wc = cap.min(total - first);
            self.upload(&b, starts, hyper, first, wc);
            loop {
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
                    _pad1: 0,
                    _pad2: 0,
                };
                self.ctx
                    .queue
                    .write_buffer(&b.uniform, 0, bytemuck::bytes_of(&u));
                let t0 = Instant::now();
                let mut enc = self.ctx.device.create_command_encoder(&Default::default());
                enc.clear_buffer(&b.active, 0, None);
                {
                    let mut pass = enc.begin_compute_pass(&Default::default());
                    pass.set_pipeline(&self.walk);
                    pass.set_bind_group(0, &b.bind, &[]);
                    pass.dispatch_workgroups((wc as u32).div_ceil(WORKGROUP), 1, 1);
                }
                enc.copy_buffer_to_buffer(&b.active, 0, &b.active_read, 0, 4);
                self.ctx.queue.submit([enc.finish()]);
                let running: u32 =
                    bytemuck::pod_read_unaligned(&read(&self.ctx, &b.active_read, 4)?[..4]);
                done_steps += u64::from(segment) * wc as u64;
                progress(done_steps);
                if running == 0 {
                    break;
                }
                // Aim each segment at SEGMENT_SECONDS of work.
                let dt = t0.elapsed().as_secs_f64().max(1e-4);
                let scaled = f64::from(segment) * (SEGMENT_SECONDS / dt).clamp(0.5, 4.0);
                segment = (scaled as u32).clamp(1, 1 << 16);
            }
            self.read_chunk(&b, &mut out, first, wc)?;
        }
        Ok(out)
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
            (SCALARS * wc * 4) as u64,
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

    /// Evaluates the objective on the GPU at `points` (W x N): returns, per walker, f from
    /// obj_grad, f from obj_value, the gradient (W x N) and H v for the given `v` (W x N).
    pub fn eval(&self, points: &[f64], v: &[f64]) -> Result<GpuEval, GpuError> {
        let n = self.n;
        let wc = points.len() / n;
        let b = self.buffers(wc)?;
        let mut state = vec![0f32; SLOTS * n * wc];
        for w in 0..wc {
            for i in 0..n {
                state[(SLOT_X * n + i) * wc + w] = points[w * n + i] as f32;
                state[(SLOT_START * n + i) * wc + w] = v[w * n + i] as f32;
            }
        }
        self.ctx
            .queue
            .write_buffer(&b.state, 0, bytemuck::cast_slice(&state));
        let (instance_walkers, instance_params, instance_first) = self.instance_fields(wc, 0)?;
        let u = WalkUniform {
            stride: wc as u32,
            instance_walkers,
            instance_params,
            instance_first,
            ..bytemuck::Zeroable::zeroed()
        };
        self.ctx
            .queue
            .write_buffer(&b.uniform, 0, bytemuck::bytes_of(&u));
        let mut enc = self.ctx.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            pass.set_pipeline(&self.eval);
            pass.set_bind_group(0, &b.bind, &[]);
            pass.dispatch_workgroups((wc as u32).div_ceil(WORKGROUP), 1, 1);
        }
        self.ctx.queue.submit([enc.finish()]);
        let st: Vec<f32> = bytemuck::pod_collect_to_vec(&read_from(
            &self.ctx,
            &b.state,
            0,
            (SLOTS * n * wc * 4) as u64,
        )?);
        let sc: Vec<f32> = bytemuck::pod_collect_to_vec(&read_from(
            &self.ctx,
            &b.scalars,
            0,
            (SCALARS * wc * 4) as u64,
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
fn instance_params(first: &dyn Objective, rest: &[&dyn Objective]) -> Result<Vec<f32>, GpuError> {
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
