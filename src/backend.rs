//! Backend choice: a wgpu adapter (hardware, or Mesa's software Vulkan) or the CPU f64 twin.

use std::sync::Arc;

use crate::gpu::{GpuContext, GpuError, GpuWalk};
use crate::objective::Objective;
use crate::rules::Optimizer;
use crate::spec::SpecError;
use crate::walk::{cpu, EndStates, Hyper, WalkPlan};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// The best wgpu adapter (software if that is all there is); the CPU twin if none.
    Auto,
    /// A wgpu adapter or an error listing what was found.
    Gpu,
    /// The CPU f64 twin (rayon over walkers).
    Cpu,
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
                 objective's f64 Hessian, which has no WGSL form); valid: --backend cpu or auto",
                opt.rule.name
            ))),
            _ => Ok(BackendChoice::Cpu),
        }
    }
}

pub enum Backend {
    Gpu(Arc<GpuContext>),
    Cpu,
}

impl Backend {
    pub fn select(choice: BackendChoice) -> Result<Backend, GpuError> {
        match choice {
            BackendChoice::Cpu => Ok(Backend::Cpu),
            BackendChoice::Gpu => Ok(Backend::Gpu(GpuContext::new()?)),
            BackendChoice::Auto => match GpuContext::new() {
                Ok(c) => Ok(Backend::Gpu(c)),
                Err(e) => {
                    eprintln!("notice: no usable GPU adapter ({e}); running on the CPU twin (f64)");
                    Ok(Backend::Cpu)
                }
            },
        }
    }

    /// A one-line description for logs and manifests.
    pub fn describe(&self) -> serde_json::Value {
        match self {
            Backend::Gpu(c) => serde_json::json!({"backend": "gpu", "adapter": c.adapter}),
            Backend::Cpu => {
                serde_json::json!({"backend": "cpu", "threads": rayon::current_num_threads()})
            }
        }
    }

    pub fn name(&self) -> String {
        match self {
            Backend::Gpu(c) => c.adapter.line(),
            Backend::Cpu => format!("CPU twin (f64, {} threads)", rayon::current_num_threads()),
        }
    }

    /// The most f32 landscape parameters one dispatch can bind (instances of a sweep share a
    /// dispatch up to this); unlimited on the CPU.
    pub fn max_params(&self) -> usize {
        match self {
            Backend::Gpu(c) => {
                let l = &c.limits;
                (l.max_storage_buffer_binding_size.min(l.max_buffer_size) / 4) as usize
            }
            Backend::Cpu => usize::MAX,
        }
    }

    /// Runs walkers on K landscape instances in one walk: the walkers (`starts`, W x N) split
    /// into K equal consecutive blocks, block k on `objs[k]` (same family, dimension and shader).
    pub fn walk_instances(
        &self,
        objs: &[&dyn Objective],
        opt: &Optimizer,
        plan: &WalkPlan,
        starts: &[f64],
        hyper: &Hyper,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<EndStates, GpuError> {
        let n = objs.first().map_or(1, |o| o.dim());
        if objs.is_empty() || !(starts.len() / n).is_multiple_of(objs.len()) {
            return Err(GpuError::Instances(format!(
                "{} walkers do not split evenly over {} landscape instances",
                starts.len() / n,
                objs.len()
            )));
        }
        match self {
            Backend::Gpu(ctx) if !opt.rule.cpu_only() => {
                GpuWalk::new_instances(ctx.clone(), objs, opt)?.run(plan, starts, hyper, progress)
            }
            _ => Ok(cpu::run_instances(objs, opt, plan, starts, hyper, progress)),
        }
    }

    /// Runs the walk on this backend; a rule without WGSL (`Rule::cpu_only`) runs on the CPU
    /// twin whatever the backend.
    pub fn walk(
        &self,
        obj: &dyn Objective,
        opt: &Optimizer,
        plan: &WalkPlan,
        starts: &[f64],
        hyper: &Hyper,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<EndStates, GpuError> {
        match self {
            Backend::Gpu(ctx) if !opt.rule.cpu_only() => {
                GpuWalk::new(ctx.clone(), obj, opt)?.run(plan, starts, hyper, progress)
            }
            _ => Ok(cpu::run(obj, opt, plan, starts, hyper, progress)),
        }
    }
}
