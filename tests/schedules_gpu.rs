//! Learning-rate schedules, hyperparameter ranges across walkers and the CPU-only Newton rules:
//! the WGSL side (f32) against the Rust twin (f64) and against closed forms computed here.
//! These run on whatever adapter wgpu finds; on CI that is Mesa's software Vulkan (lavapipe).

mod common;

use common::{ctx, rule_cases, walkers_apart};
use saddlescope::backend::Backend;
use saddlescope::gpu::{shader, GpuWalk};
use saddlescope::objective;
use saddlescope::rules::{self, schedule};
use saddlescope::walk::init::Init;
use saddlescope::walk::{cpu, EndStates, WalkPlan};

/// A kernel that writes lr_factor(kind, t, ...) of shaders/schedule.wgsl for t = 0, 1, ...
const PROBE: &str = r#"
@group(0) @binding(0) var<storage, read> args: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn probe(@builtin(global_invocation_id) gid: vec3<u32>) {
    let t = gid.x;
    if t >= arrayLength(&out) {
        return;
    }
    out[t] = lr_factor(u32(args[0]), f32(t), args[1], args[2], args[3], args[4]);
}
"#;

/// The WGSL factor for t = 0..steps, computed on the GPU.
fn wgsl_factors(args: [f32; 5], steps: usize) -> Vec<f32> {
    let ctx = ctx();
    let dev = &ctx.device;
    let source = format!("{}\n{PROBE}", shader::SCHEDULE);
    let module = dev.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("schedule probe"),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    });
    let pipeline = dev.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some("schedule probe"),
        layout: None,
        module: &module,
        entry_point: Some("probe"),
        compilation_options: Default::default(),
        cache: None,
    });
    let size = (steps * 4) as u64;
    let buffer = |usage, size| {
        dev.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size,
            usage,
            mapped_at_creation: false,
        })
    };
    let args_buf = buffer(
        wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
        20,
    );
    let out = buffer(
        wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        size,
    );
    let staging = buffer(
        wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        size,
    );
    ctx.queue
        .write_buffer(&args_buf, 0, bytemuck::cast_slice(&args));
    let bind = dev.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &pipeline.get_bind_group_layout(0),
        entries: &[
            wgpu::BindGroupEntry {
                binding: 0,
                resource: args_buf.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: out.as_entire_binding(),
            },
        ],
    });
    let mut enc = dev.create_command_encoder(&Default::default());
    {
        let mut pass = enc.begin_compute_pass(&Default::default());
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind, &[]);
        pass.dispatch_workgroups((steps as u32).div_ceil(64), 1, 1);
    }
    enc.copy_buffer_to_buffer(&out, 0, &staging, 0, size);
    ctx.queue.submit([enc.finish()]);
    let slice = staging.slice(..);
    let (tx, rx) = std::sync::mpsc::channel();
    slice.map_async(wgpu::MapMode::Read, move |r| {
        let _ = tx.send(r);
    });
    dev.poll(wgpu::PollType::wait_indefinitely()).unwrap();
    rx.recv().unwrap().unwrap();
    let v: Vec<f32> = bytemuck::pod_collect_to_vec(&slice.get_mapped_range().unwrap());
    v
}

/// WGSL lr_factor against the Rust twin for every schedule over 2000 steps. Tolerance 1e-5:
/// f32 rounding of t/T and of cos stays below ~1e-6, while a wrong formula or a cycle boundary
/// one step off differs by at least (1 − lr_min)(1 − cos(π/T))/2 ≈ 9e-4 for these T (and by up
/// to 1 at a restart).
#[test]
fn wgsl_schedule_factor_equals_the_rust_factor() {
    use schedule::Kind::*;
    let cases = [
        (Constant, 100.0, 0.5, 0.0, 1.0),
        (Cosine, 700.0, 0.5, 0.1, 1.0),
        (Cosine, 1000.0, 0.5, 0.0, 1.0),
        (Step, 100.0, 0.7, 0.0, 1.0),
        (Step, 37.5, 0.5, 0.0, 1.0),
        (Step, 250.0, 0.0, 0.0, 1.0),
        (Restarts, 50.0, 0.5, 0.05, 2.0),
        (Restarts, 64.0, 0.5, 0.0, 1.0),
        (Restarts, 10.0, 0.5, 0.2, 3.0),
        (Restarts, 33.3, 0.5, 0.0, 1.0),
    ];
    let steps = 2000;
    for (kind, period, gamma, lr_min, t_mult) in cases {
        let code = kind as u32 as f32;
        let gpu = wgsl_factors(
            [
                code,
                period as f32,
                gamma as f32,
                lr_min as f32,
                t_mult as f32,
            ],
            steps,
        );
        let mut restarts = 0;
        for (t, g) in gpu.iter().enumerate() {
            let want = schedule::factor(kind, t as f64, period, gamma, lr_min, t_mult);
            assert!(
                (f64::from(*g) - want).abs() <= 1e-5,
                "{kind:?} T={period} gamma={gamma} lr_min={lr_min} t_mult={t_mult}: t={t} \
                 WGSL {g} vs Rust {want}"
            );
            restarts += usize::from(t > 0 && want == 1.0 && kind == Restarts);
        }
        if kind == Restarts {
            assert!(restarts >= 3, "the restart cases cross several cycles");
        }
    }
}

fn run_both(
    obj_spec: &str,
    opt_spec: &str,
    init: &str,
    walkers: usize,
    plan: &WalkPlan,
) -> (EndStates, EndStates) {
    let obj = objective::parse(obj_spec).unwrap();
    let opt = rules::parse(opt_spec).unwrap();
    let starts = Init::parse(init)
        .unwrap()
        .starts(obj.as_ref(), plan.seed, 0, walkers);
    let hyper = opt.hyper_rows(walkers);
    let gpu = GpuWalk::new(ctx(), obj.as_ref(), &opt)
        .unwrap()
        .run(plan, &starts, &hyper, &|_| {})
        .unwrap();
    let cpu = cpu::run(obj.as_ref(), &opt, plan, &starts, &hyper, &|_| {});
    (gpu, cpu)
}

/// Every rule with WGSL under a non-constant schedule (and the schedule's period changing
/// several times within the walk), with its cases from tests/common/rule_cases.rs: 40 GPU steps against 40 reference steps, same tolerances
/// as the constant-schedule test in gpu_twins.rs. Each schedule must also change the walk of
/// at least a fifth of the walkers (against the same rule with schedule=constant; walkers that
/// converge early end at the same minimum either way), so the comparison is not vacuous.
#[test]
fn every_rule_with_a_schedule_matches_its_reference() {
    rule_cases::check_table();
    let cases: Vec<(&str, &str)> = rules::registry()
        .into_iter()
        .filter(|r| !r.cpu_only())
        .flat_map(|r| rule_cases::cases_of(r.name).schedule.iter().copied())
        .collect();
    let plan = WalkPlan {
        max_steps: 40,
        grad_tol: 0.0,
        seed: 9,
        ..WalkPlan::default()
    };
    for (opt, obj) in cases {
        let (g, c) = run_both(obj, opt, "uniform:lo=-3,hi=3", 100, &plan);
        let n = g.n;
        let bad = walkers_apart(&g, &c);
        let allowed = if opt.starts_with("anneal") || opt.starts_with("pgd") {
            g.len() / 50
        } else {
            0
        };
        assert!(
            bad <= allowed,
            "{opt} on {obj}: {bad} of {} walkers differ between GPU and CPU",
            g.len()
        );
        // The same rule without the schedule ends elsewhere.
        let constant = format!(
            "{},schedule=constant",
            opt.split(",schedule").next().unwrap()
        );
        let (_, c0) = run_both(obj, &constant, "uniform:lo=-3,hi=3", 100, &plan);
        let moved = (0..c.len())
            .filter(|&w| (0..n).any(|i| (c.x[w * n + i] - c0.x[w * n + i]).abs() > 1e-6))
            .count();
        assert!(
            moved >= c.len() / 5,
            "{opt}: the schedule changed only {moved} walkers"
        );
    }
}

/// The spread of `lo..hi` (linear) or `lo..hi:log` over W walkers, computed here.
fn spread(lo: f64, hi: f64, log: bool, w: usize) -> Vec<f64> {
    (0..w)
        .map(|k| {
            let u = k as f64 / (w - 1) as f64;
            if log {
                (lo.ln() + u * (hi.ln() - lo.ln())).exp()
            } else {
                lo + u * (hi - lo)
            }
        })
        .collect()
}

/// GD on f = x² − y² from (x0, y0) multiplies x by (1 − 2η_t) and y by (1 + 2η_t) each step,
/// so after S steps every walker's position reveals its own learning rates η_t = lr_k·s_k(t).
/// With ranges over lr and over the cosine period, each walker's end point must match the
/// product computed here from the requested spread and the cosine formula written out, on the
/// CPU twin (1e-12) and on the GPU (f32: 1e-5 relative), walker by walker.
#[test]
fn ranges_give_each_walker_its_value_on_gpu_and_cpu() {
    let w = 33;
    let steps = 24u32;
    let (x0, y0) = (0.5, 1e-3);
    let obj = objective::parse("saddle").unwrap();
    let plan = WalkPlan {
        max_steps: steps,
        grad_tol: 0.0,
        ..WalkPlan::default()
    };
    let starts: Vec<f64> = (0..w).flat_map(|_| [x0, y0]).collect();
    for (spec, lrs, periods) in [
        (
            "gd:lr=0.01..0.1",
            spread(0.01, 0.1, false, w),
            vec![f64::INFINITY; w],
        ),
        (
            "gd:lr=0.001..0.1:log,schedule=cosine,period=8..40,lr_min=0.25",
            spread(0.001, 0.1, true, w),
            spread(8.0, 40.0, false, w),
        ),
    ] {
        let opt = rules::parse(spec).unwrap();
        let hyper = opt.hyper_rows(w);
        let gpu = GpuWalk::new(ctx(), obj.as_ref(), &opt)
            .unwrap()
            .run(&plan, &starts, &hyper, &|_| {})
            .unwrap();
        let cpu = cpu::run(obj.as_ref(), &opt, &plan, &starts, &hyper, &|_| {});
        for k in 0..w {
            assert!(
                (hyper.get(0, k) / lrs[k] - 1.0).abs() < 1e-13,
                "{spec}: lr of {k}"
            );
            let (mut x, mut y) = (x0, y0);
            for t in 0..steps {
                let s = if periods[k].is_finite() {
                    let u = (f64::from(t) / periods[k]).min(1.0);
                    0.25 + 0.75 * 0.5 * (1.0 + (std::f64::consts::PI * u).cos())
                } else {
                    1.0
                };
                let eta = lrs[k] * s;
                x *= 1.0 - 2.0 * eta;
                y *= 1.0 + 2.0 * eta;
            }
            let (c, g) = (cpu.point(k), gpu.point(k));
            assert!(
                (c[0] - x).abs() <= 1e-12 * x.abs() && (c[1] - y).abs() <= 1e-12 * y,
                "{spec}: CPU walker {k} at {c:?}, expected ({x}, {y})"
            );
            assert!(
                (g[0] - x).abs() <= 1e-5 * x.abs().max(1e-3) && (g[1] - y).abs() <= 1e-5 * y,
                "{spec}: GPU walker {k} at {g:?}, expected ({x}, {y})"
            );
        }
        // Distinct walkers really got distinct rates.
        assert!(cpu.point(w - 1)[1] > 2.0 * cpu.point(0)[1], "{spec}");
    }
}

/// `newton` and `sfn` have no WGSL: a GPU backend runs them on the CPU twin (f64), with the
/// same result as the CPU backend; GpuWalk refuses them with a message naming the rule.
#[test]
fn newton_rules_run_on_the_cpu_twin_from_a_gpu_backend() {
    let obj = objective::parse("himmelblau").unwrap();
    let plan = WalkPlan {
        max_steps: 200,
        grad_tol: 1e-8,
        ..WalkPlan::default()
    };
    let starts = Init::Auto.starts(obj.as_ref(), 3, 0, 16);
    for spec in [
        "newton:damping=0.1",
        "sfn:lr=0.5,damping=0.1,clip=1,schedule=cosine,period=50",
    ] {
        let opt = rules::parse(spec).unwrap();
        let hyper = opt.hyper_rows(16);
        let on_gpu = Backend::gpu(ctx())
            .walk(obj.as_ref(), &opt, &plan, &starts, &hyper, &|_| {})
            .unwrap();
        let on_cpu = Backend::cpu()
            .walk(obj.as_ref(), &opt, &plan, &starts, &hyper, &|_| {})
            .unwrap();
        assert_eq!(on_gpu.precision, "f64", "{spec}");
        assert_eq!(on_gpu.x, on_cpu.x, "{spec}");
        let e = GpuWalk::new(ctx(), obj.as_ref(), &opt)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains(opt.rule.name) && e.contains("CPU"), "{e}");
    }
}
