//! Backend choice: a wgpu adapter (hardware, or Mesa's software Vulkan), the batched CPU
//! engine (f64, blocks of walkers through GEMM; `--precision f32` runs the matrix products of
//! field and p-spin in f32) or the per-walker CPU twin (the f64 oracle).
//!
//! `auto` takes a hardware adapter when there is one; with only a software adapter (or none)
//! it takes the batched CPU engine, which was faster than llvmpipe on the same cores on every
//! workload measured (BENCHMARKS.md). The manifest records the choice and why. Every GPU walk
//! is checked against the twin (`gpu::twin_check`); under `auto` a walk the adapter cannot run
//! correctly (a failed twin check, a kernel too long for it, a buffer it cannot hold) runs on
//! the batched CPU engine instead, with a one-line notice.

use std::sync::{Arc, Mutex};

use crate::gpu::twin_check::{self, TwinReport};
use crate::gpu::{shader, GpuContext, GpuError, GpuWalk, PipelineCache};
use crate::objective::batch::Precision;
use crate::objective::Objective;
use crate::rules::Optimizer;
use crate::spec::SpecError;
use crate::walk::snapshot::Checkpoints;
use crate::walk::{cpu, EndStates, Hyper, WalkPlan};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// A hardware GPU if there is one, else the batched CPU engine.
    Auto,
    /// A wgpu adapter (a software one too) or an error listing what was found.
    Gpu,
    /// The batched CPU engine (f64, blocks of walkers, rayon over blocks).
    Cpu,
    /// The per-walker CPU twin, the f64 oracle the other engines are tested against.
    Twin,
}

impl BackendChoice {
    /// The choice to run `opt` with: rules that exist only on the CPU twin (`newton`, `sfn`)
    /// turn `auto` into `cpu` (no adapter is opened for nothing) and refuse `gpu`.
    pub fn for_optimizer(self, opt: &Optimizer) -> Result<BackendChoice, SpecError> {
        if !opt.rule.cpu_only() {
            return Ok(self);
        }
        match self {
            BackendChoice::Gpu => Err(SpecError::Invalid(format!(
                "--backend gpu: step rule '{}' runs on the CPU twin only (it needs the \
                 objective's f64 Hessian, which has no WGSL form); valid: --backend cpu (the \
                 batched engine steps it through the twin), twin or auto",
                opt.rule.name
            ))),
            BackendChoice::Twin => Ok(BackendChoice::Twin),
            _ => Ok(BackendChoice::Cpu),
        }
    }

    /// The choice with `--precision`: a GPU walks in f32 and the twin in f64, so `gpu` refuses
    /// f64, `twin` refuses f32, and `auto` with f64 is the batched CPU engine (no adapter is
    /// opened); f32 under `auto` keeps a hardware GPU, else the batched engine in f32.
    pub fn with_precision(self, p: Option<Precision>) -> Result<BackendChoice, SpecError> {
        match (self, p) {
            (BackendChoice::Gpu, Some(Precision::F64)) => Err(SpecError::Invalid(
                "--precision f64 with --backend gpu: GPU walks run in f32; valid: --precision \
                 f32 (or none) on the GPU, f64 with --backend cpu, twin or auto"
                    .into(),
            )),
            (BackendChoice::Twin, Some(Precision::F32)) => Err(SpecError::Invalid(
                "--precision f32 with --backend twin: the twin is the f64 oracle; valid: \
                 --precision f32 with --backend cpu, gpu or auto"
                    .into(),
            )),
            (BackendChoice::Auto, Some(Precision::F64)) => Ok(BackendChoice::Cpu),
            _ => Ok(self),
        }
    }
}

/// How one walk ran, for the manifest.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WalkReport {
    /// "gpu fused", "gpu multi-pass", "cpu batched" or "cpu twin".
    pub engine: String,
    /// The twin check of a GPU walk (None: CPU walk, or --no-twin-check).
    pub twin_check: Option<TwinReport>,
    /// Why a walk meant for the GPU ran on the CPU engine (auto only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
}

/// The CPU engine of a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuEngine {
    /// `walk::batched`, blocks of this many walkers.
    Batched(usize),
    /// `walk::cpu`, one walker at a time.
    Twin,
}

/// Environment variable: with a value, `--backend auto` takes a software adapter as it would a
/// hardware one (to exercise the GPU path of auto on a machine without a GPU).
pub const AUTO_SOFTWARE_ENV: &str = "SADDLESCOPE_AUTO_SOFTWARE_GPU";

/// Where walks run, and what each walk reported.
pub struct Backend {
    gpu: Option<Arc<GpuContext>>,
    cpu: CpuEngine,
    /// The batched CPU engine's matrix products.
    precision: Precision,
    /// Why this backend (for the manifest).
    reason: String,
    /// `--backend auto`: fall back to the CPU engine when the adapter cannot run a walk correctly.
    fallback: bool,
    twin_check: bool,
    /// The kernels compiled on `gpu` so far: walks with the same shader compile it once.
    pipelines: PipelineCache,
    reports: Mutex<Vec<WalkReport>>,
}

impl Backend {
    /// The batched CPU engine.
    pub fn cpu() -> Backend {
        Backend {
            gpu: None,
            cpu: CpuEngine::Batched(crate::walk::batched::BLOCK),
            precision: Precision::F64,
            reason: "--backend cpu".into(),
            fallback: false,
            twin_check: true,
            pipelines: PipelineCache::new(),
            reports: Mutex::new(Vec::new()),
        }
    }

    /// The per-walker CPU twin.
    pub fn twin() -> Backend {
        Backend {
            cpu: CpuEngine::Twin,
            reason: "--backend twin".into(),
            ..Backend::cpu()
        }
    }

    /// A given adapter, as `--backend gpu` (no fallback).
    pub fn gpu(ctx: Arc<GpuContext>) -> Backend {
        Backend {
            gpu: Some(ctx),
            reason: "--backend gpu".into(),
            ..Backend::cpu()
        }
    }

    /// The batched CPU engine with blocks of `block` walkers (tests of block independence).
    pub fn with_block(mut self, block: usize) -> Backend {
        self.cpu = CpuEngine::Batched(block.max(1));
        self
    }

    /// The batched CPU engine's matrix products in `p` (the GPU always walks in f32, the
    /// twin in f64).
    pub fn with_precision(mut self, p: Precision) -> Backend {
        self.precision = p;
        self
    }

    pub fn select(choice: BackendChoice) -> Result<Backend, GpuError> {
        match choice {
            BackendChoice::Cpu => Ok(Backend::cpu()),
            BackendChoice::Twin => Ok(Backend::twin()),
            BackendChoice::Gpu => Ok(Backend::gpu(GpuContext::new()?)),
            BackendChoice::Auto => Ok(Self::auto()),
        }
    }

    /// The backend for `--backend choice --precision p`: `choice` as
    /// [`BackendChoice::with_precision`] resolves it (a usage error there is the caller's to
    /// report first), the CPU engine's products in `p` (f64 when not given).
    pub fn open(choice: BackendChoice, p: Option<Precision>) -> Result<Backend, GpuError> {
        let resolved = choice.with_precision(p).unwrap_or(choice);
        let mut b = Backend::select(resolved)?.with_precision(p.unwrap_or_default());
        if choice == BackendChoice::Auto && resolved == BackendChoice::Cpu {
            b.reason = "auto with --precision f64: GPU walks run in f32".into();
        }
        Ok(b)
    }

    /// `--backend auto`: a hardware adapter, else the batched CPU engine.
    fn auto() -> Backend {
        match GpuContext::new() {
            Ok(c) if !c.adapter.is_software() || std::env::var_os(AUTO_SOFTWARE_ENV).is_some() => {
                let reason = format!("auto: adapter {}", c.adapter.line());
                Backend {
                    fallback: true,
                    reason,
                    ..Backend::gpu(c)
                }
            }
            Ok(c) => Backend {
                reason: format!(
                    "auto: the only adapter is the software rasterizer {}; the batched CPU \
                     engine is faster on the same cores (BENCHMARKS.md)",
                    c.adapter.line()
                ),
                ..Backend::cpu()
            },
            Err(e) => {
                log::warn!("no usable GPU adapter ({e}); running on the batched CPU engine (f64)");
                Backend {
                    reason: format!("auto: no GPU adapter ({e})"),
                    ..Backend::cpu()
                }
            }
        }
    }

    /// Turns the twin check of GPU walks on or off (`--no-twin-check`).
    pub fn with_twin_check(mut self, on: bool) -> Backend {
        self.twin_check = on;
        self
    }

    pub fn is_gpu(&self) -> bool {
        self.gpu.is_some()
    }

    /// How many distinct walk modules this backend has compiled (each once, whatever the
    /// number of walks that used it).
    pub fn compiled_modules(&self) -> usize {
        self.pipelines.compiled()
    }

    /// Usage checks that need the backend: on a GPU, every value the kernels compute with must
    /// fit f32 (a usage error naming the value and the valid range otherwise).
    pub fn check(&self, obj: &dyn Objective, opt: &Optimizer) -> Result<(), SpecError> {
        if let Some(c) = self.gpu.as_ref().filter(|_| !opt.rule.cpu_only()) {
            shader::check_f32(obj, opt).map_err(SpecError::Invalid)?;
            // Walkers are chunked to the adapter's buffer limits; one walker's vectors
            // (f32, slot-major) must fit one storage binding. (The landscape's parameters are
            // checked when the walk's buffers are made, `GpuWalk`, where `auto` can still fall
            // back to the CPU; so is this under `auto`.)
            let limit = c
                .limits
                .max_storage_buffer_binding_size
                .min(c.limits.max_buffer_size);
            let one = (opt.rule.slots() as u64).saturating_mul(obj.dim() as u64) * 4;
            if one > limit && !self.fallback {
                return Err(SpecError::TooLarge {
                    what: format!(
                        "{} with {} on adapter {}",
                        obj.spec(),
                        opt.rule.name,
                        c.adapter.name
                    ),
                    need: format!("{one} bytes of state per walker"),
                    limit: format!("the adapter's storage buffer binding of {limit} bytes"),
                    valid: "a smaller N, or --backend cpu".into(),
                });
            }
        }
        Ok(())
    }

    /// What ran where, for manifests: the adapter or the threads, and every walk's report.
    pub fn describe(&self) -> serde_json::Value {
        let reports = self.reports.lock().map(|r| r.clone()).unwrap_or_default();
        let mut v = match &self.gpu {
            Some(c) => serde_json::json!({"backend": "gpu", "adapter": c.adapter}),
            None => serde_json::json!({
                "backend": "cpu",
                "engine": self.cpu_name(),
                "threads": rayon::current_num_threads(),
            }),
        };
        v["reason"] = self.reason.clone().into();
        v["twin_check"] = serde_json::to_value(self.twin_summary()).unwrap_or_default();
        v["walks"] = serde_json::to_value(reports).unwrap_or_default();
        v
    }

    /// The twin checks of every walk so far, merged (largest deviations, all passed).
    pub fn twin_summary(&self) -> Option<TwinReport> {
        let reports = self.reports.lock().ok()?;
        let mut it = reports.iter().filter_map(|r| r.twin_check.as_ref());
        let mut m = it.next()?.clone();
        for r in it {
            m.walkers.extend(&r.walkers);
            m.max_rel_f = m.max_rel_f.max(r.max_rel_f);
            m.max_rel_grad = m.max_rel_grad.max(r.max_rel_grad);
            m.end_max_rel_f = m.end_max_rel_f.max(r.end_max_rel_f);
            m.max_ratio = m.max_ratio.max(r.max_ratio);
            m.passed &= r.passed;
            m.seconds += r.seconds;
        }
        Some(m)
    }

    fn cpu_name(&self) -> &'static str {
        match (self.cpu, self.precision) {
            (CpuEngine::Batched(_), Precision::F64) => "cpu batched",
            (CpuEngine::Batched(_), Precision::F32) => "cpu batched, f32 evaluation",
            (CpuEngine::Twin, _) => "cpu twin",
        }
    }

    /// The batched CPU engine's precision (f64 for the twin and unless told).
    pub fn precision(&self) -> Precision {
        match self.cpu {
            CpuEngine::Batched(_) => self.precision,
            CpuEngine::Twin => Precision::F64,
        }
    }

    /// Which engine walks, in words that change whenever the arithmetic would (the adapter, the
    /// CPU engine and its block size): a run continued with `--resume` must walk on the same.
    pub fn engine_key(&self) -> String {
        match (&self.gpu, self.cpu) {
            (Some(c), _) => format!("gpu {}", c.adapter.name),
            (None, CpuEngine::Batched(block)) => match self.precision {
                Precision::F64 => format!("cpu batched, blocks of {block}"),
                Precision::F32 => format!("cpu batched, f32 evaluation, blocks of {block}"),
            },
            (None, CpuEngine::Twin) => "cpu twin".into(),
        }
    }

    pub fn name(&self) -> String {
        match &self.gpu {
            Some(c) => c.adapter.line(),
            None => match self.cpu {
                CpuEngine::Batched(_) => format!(
                    "the batched CPU engine ({}, {} threads)",
                    match self.precision {
                        Precision::F64 => "f64",
                        Precision::F32 => "f32 evaluation, f64 state and steps",
                    },
                    rayon::current_num_threads()
                ),
                CpuEngine::Twin => {
                    format!(
                        "the CPU twin (f64, {} threads)",
                        rayon::current_num_threads()
                    )
                }
            },
        }
    }

    /// The most f32 landscape parameters one dispatch can bind (instances of a sweep share a
    /// dispatch up to this); unlimited on the CPU.
    pub fn max_params(&self) -> usize {
        match &self.gpu {
            Some(c) => {
                let l = &c.limits;
                (l.max_storage_buffer_binding_size.min(l.max_buffer_size) / 4) as usize
                    - crate::objective::PARAM_TAIL
            }
            None => usize::MAX,
        }
    }

    fn record(&self, r: WalkReport) {
        if let Ok(mut v) = self.reports.lock() {
            v.push(r);
        }
    }

    /// A GPU walk with its twin check.
    #[allow(clippy::too_many_arguments)]
    fn gpu_walk(
        &self,
        ctx: &Arc<GpuContext>,
        objs: &[&dyn Objective],
        opt: &Optimizer,
        plan: &WalkPlan,
        starts: &[f64],
        hyper: &Hyper,
        progress: &(dyn Fn(u64) + Sync),
        checkpoints: Option<&dyn Checkpoints>,
    ) -> Result<(EndStates, WalkReport), GpuError> {
        let gw = GpuWalk::cached(ctx.clone(), &self.pipelines, objs, opt)?;
        let adapter = ctx.adapter.line();
        let fail = |r: &TwinReport| twin_check::mismatch(&adapter, &objs[0].spec(), r);
        let mut check = None;
        if self.twin_check {
            let r = twin_check::before(&gw, objs, starts)?;
            if !r.passed {
                return Err(fail(&r));
            }
            check = Some(r);
        }
        let ends = gw.run_from(plan, starts, hyper, progress, checkpoints)?;
        if let Some(r) = &mut check {
            twin_check::after(r, objs, &ends);
            if !r.passed {
                return Err(fail(r));
            }
        }
        let report = WalkReport {
            engine: format!("gpu {}", gw.engine()),
            twin_check: check,
            fallback: None,
        };
        Ok((ends, report))
    }

    /// Runs walkers on K landscape instances in one walk: the walkers (`starts`, W x N) split
    /// into K equal consecutive blocks, block k on `objs[k]` (same family, dimension and shader).
    /// A rule without WGSL (`Rule::cpu_only`) runs on the CPU twin whatever the backend.
    pub fn walk_instances(
        &self,
        objs: &[&dyn Objective],
        opt: &Optimizer,
        plan: &WalkPlan,
        starts: &[f64],
        hyper: &Hyper,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<EndStates, GpuError> {
        self.walk_instances_from(objs, opt, plan, starts, hyper, progress, None)
    }

    /// [`Backend::walk_instances`] with checkpoints: the CPU engines walk in segments, continue
    /// from the state `checkpoints` restores and hand it every walker's state at each segment
    /// boundary (`walk::snapshot`); a GPU walk reads its chunk's device state back at the
    /// boundaries where a checkpoint is due and continues from a restored one
    /// (`GpuWalk::run_from`).
    #[allow(clippy::too_many_arguments)]
    pub fn walk_instances_from(
        &self,
        objs: &[&dyn Objective],
        opt: &Optimizer,
        plan: &WalkPlan,
        starts: &[f64],
        hyper: &Hyper,
        progress: &(dyn Fn(u64) + Sync),
        checkpoints: Option<&dyn Checkpoints>,
    ) -> Result<EndStates, GpuError> {
        let n = objs.first().map_or(1, |o| o.dim());
        if objs.is_empty() || !(starts.len() / n).is_multiple_of(objs.len()) {
            return Err(GpuError::Instances(format!(
                "{} walkers do not split evenly over {} landscape instances",
                starts.len() / n,
                objs.len()
            )));
        }
        let mut fallback = None;
        if let Some(ctx) = self.gpu.as_ref().filter(|_| !opt.rule.cpu_only()) {
            match self.gpu_walk(ctx, objs, opt, plan, starts, hyper, progress, checkpoints) {
                Ok((ends, report)) => {
                    self.record(report);
                    return Ok(ends);
                }
                Err(e)
                    if self.fallback
                        && (e.is_usage() || matches!(e, GpuError::TwinMismatch(_))) =>
                {
                    log::warn!(
                        "{e}; running on the batched CPU engine ({}) instead",
                        self.precision().name()
                    );
                    fallback = Some(e.to_string());
                }
                Err(e) => return Err(e),
            }
        }
        let ends = match self.cpu {
            CpuEngine::Batched(block) => crate::walk::batched::run_instances_from(
                objs,
                opt,
                plan,
                starts,
                hyper,
                progress,
                block,
                self.precision,
                checkpoints,
            ),
            CpuEngine::Twin => {
                cpu::run_instances_from(objs, opt, plan, starts, hyper, progress, checkpoints)
            }
        };
        // Objectives without an f32 form (all but field, p-spin and rastrigin) walk in f64 whatever
        // --precision says; the report says what ran.
        let f32_form = self.precision == Precision::F32
            && matches!(self.cpu, CpuEngine::Batched(_))
            && objs[0].batch(Precision::F32).map(|b| b.precision()) == Some(Precision::F32);
        self.record(WalkReport {
            engine: match (self.precision(), f32_form) {
                (Precision::F32, false) => {
                    "cpu batched (f64: the objective has no f32 form)".into()
                }
                _ => self.cpu_name().into(),
            },
            twin_check: None,
            fallback,
        });
        Ok(ends)
    }

    /// Runs the walk on this backend (see [`Backend::walk_instances`]).
    pub fn walk(
        &self,
        obj: &dyn Objective,
        opt: &Optimizer,
        plan: &WalkPlan,
        starts: &[f64],
        hyper: &Hyper,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<EndStates, GpuError> {
        self.walk_instances(&[obj], opt, plan, starts, hyper, progress)
    }
}
