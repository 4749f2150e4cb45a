//! The commands that write no run folder: `list`, `devices`, `bench`.

use saddlescope::backend::{Backend, BackendChoice};
use saddlescope::bench::{self, Workload};
use saddlescope::critical::eigen::Solver;
use saddlescope::gpu::context::{enumerate, AdapterSummary};
use saddlescope::spec::SpecError;
use saddlescope::{objective, rules};

/// `bench`: time the workloads of peer_bench.py (plain GD) on this tool's backend.
#[derive(clap::Args)]
pub struct BenchArgs {
    #[arg(long, value_enum)]
    workload: Workload,
    #[arg(long, default_value_t = 4096)]
    walkers: usize,
    #[arg(long, default_value_t = 64)]
    dim: usize,
    #[arg(long, default_value_t = 1024)]
    features: usize,
    #[arg(long, default_value_t = 100)]
    steps: u32,
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Run to convergence: every walker stops at |grad f| <= TOL (or --steps); prints the time
    /// until the last walker is done and the useful walker-steps/s, as peer_bench.py --until.
    #[arg(long, value_name = "TOL")]
    until: Option<f64>,
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    backend: BackendChoice,
    /// Skip the twin check of the GPU walks.
    #[arg(long)]
    no_twin_check: bool,
    /// Eigensolver of the eigen workload (auto = what the pipeline uses).
    #[arg(long, value_enum, default_value_t = Solver::Auto)]
    solver: Solver,
}

fn print_entry(name: &str, summary: &str, params: &[saddlescope::spec::Param]) {
    println!("  {name:<16} {summary}");
    for p in params {
        println!(
            "      {:<12} default {:<10} ({})  {}",
            p.key,
            p.show(p.default),
            p.range,
            p.doc
        );
    }
}

pub fn list() {
    println!(
        "OBJECTIVES  (spec: name or name:key=value,...; positional values fill keys in order)"
    );
    for e in objective::registry() {
        print_entry(e.name, e.summary, e.params);
    }
    println!("\nSTEP RULES  (--optimizer name:key=value,...; a non-integer number may be a range lo..hi or lo..hi:log, spread over the walkers)");
    // Each rule's own parameters; the ones every rule shares (clip and the schedule) once.
    let shared = rules::registry()[0].params.len() - rules::COMMON_PARAMS;
    for r in rules::registry() {
        let own = &r.params[..r.params.len() - rules::COMMON_PARAMS];
        let backend = if r.cpu_only() {
            "  [CPU twin only]"
        } else {
            ""
        };
        print_entry(r.name, &format!("{}{backend}", r.summary), own);
    }
    print_entry(
        "(every rule)",
        "also takes these; the schedule multiplies the step size by lr(t)/lr",
        &rules::registry()[0].params[shared..],
    );
}

pub fn devices() {
    let adapters = enumerate();
    if adapters.is_empty() {
        println!("no wgpu adapters found (saddlescope will use the CPU twin with --backend auto); on Debian without a GPU: apt-get install mesa-vulkan-drivers");
    }
    for a in adapters {
        let s = AdapterSummary::of(&a);
        println!("{}", s.line());
        println!("    driver: {}", s.driver);
        println!(
            "    max_storage_buffer_binding_size: {} MiB",
            s.max_storage_buffer_binding_size >> 20
        );
        println!("    max_buffer_size: {} MiB", s.max_buffer_size >> 20);
        println!(
            "    max_compute_workgroups_per_dimension: {}",
            s.max_compute_workgroups_per_dimension
        );
        println!(
            "    max_compute_invocations_per_workgroup: {}",
            s.max_compute_invocations_per_workgroup
        );
        println!(
            "    max_storage_buffers_per_shader_stage: {}",
            s.max_storage_buffers_per_shader_stage
        );
    }
}

pub fn bench(a: BenchArgs) -> anyhow::Result<()> {
    if a.repeat == 0 {
        return Err(SpecError::Invalid(
            "--repeat 0 is out of range; valid: >= 1 (timed runs)".into(),
        )
        .into());
    }
    if a.workload == Workload::Eigen {
        // The eigenvalue stage runs on the CPU whatever the backend.
        let secs = bench::eigen(a.walkers, a.dim, a.repeat.max(1), a.solver)?;
        let gf = bench::flops(a.workload, a.walkers as f64, a.dim as f64, 0.0, 0.0) / secs / 1e9;
        let solver = format!("{:?}", a.solver).to_lowercase();
        println!(
            "saddlescope-{solver} eigen points={} N={} seconds={secs:.4} points_per_s={:.4e} gflops={gf:.2} threads={}",
            a.walkers,
            a.dim,
            a.walkers as f64 / secs,
            rayon::current_num_threads()
        );
        return Ok(());
    }
    bench::check(a.workload, a.walkers, a.dim, a.features, a.steps)?;
    let backend = Backend::select(a.backend)?.with_twin_check(!a.no_twin_check);
    eprintln!("bench on {}", backend.name());
    let t = bench::run(
        &backend,
        a.workload,
        a.walkers,
        a.dim,
        a.features,
        a.steps,
        a.repeat.max(1),
        a.until,
    )?;
    let secs = t.seconds;
    let name = match a.workload {
        Workload::Field => "field",
        Workload::Pspin3 => "pspin3",
        Workload::Rastrigin => "rastrigin",
        Workload::Eigen => unreachable!("handled above"),
    };
    let tag = if backend.is_gpu() {
        "saddlescope-gpu"
    } else {
        "saddlescope-cpu"
    };
    if let Some(tol) = a.until {
        println!(
            "{tag} {name} W={} N={} M={} S={} until={tol} seconds={secs:.4} useful_walker_steps={} converged={} walker_steps_per_s={:.4e}",
            a.walkers,
            a.dim,
            a.features,
            a.steps,
            t.useful_steps,
            t.converged,
            t.useful_steps as f64 / secs
        );
        return Ok(());
    }
    let ws = a.walkers as f64 * f64::from(a.steps) / secs;
    let gf = bench::flops(
        a.workload,
        a.walkers as f64,
        a.dim as f64,
        a.features as f64,
        f64::from(a.steps),
    ) / secs
        / 1e9;
    println!(
        "{tag} {name} W={} N={} M={} S={} seconds={secs:.4} walker_steps_per_s={ws:.4e} gflops={gf:.2}",
        a.walkers, a.dim, a.features, a.steps
    );
    Ok(())
}
