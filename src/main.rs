//! The saddlescope command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use saddlescope::backend::{Backend, BackendChoice};
use saddlescope::basins::{self, BasinsSpec};
use saddlescope::bench::{self, Workload};
use saddlescope::gpu::context::{enumerate, AdapterSummary};
use saddlescope::sample::{self, SampleSpec};
use saddlescope::spec::SpecError;
use saddlescope::{objective, output, rules};

#[derive(Parser)]
#[command(
    name = "saddlescope",
    version,
    about = "GPU batch landscape sampler: optimizer walkers, critical points and their Hessian index"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run optimizer walkers on an objective and write where each one ended.
    Sample(SampleArgs),
    /// List every objective and step rule with its parameters and defaults.
    List,
    /// List the GPU adapters wgpu finds and their relevant limits.
    Devices,
    /// Time the workloads of peer_bench.py (plain GD) on this tool's backend.
    Bench(BenchArgs),
    /// Basin-of-attraction picture of a 2-D slice: one walker per pixel, coloured by the
    /// critical point it reaches.
    Basins(BasinsArgs),
}

#[derive(clap::Args)]
#[command(allow_negative_numbers = true)]
struct BasinsArgs {
    /// Objective spec, e.g. himmelblau, field:n=100,features=256
    #[arg(long)]
    objective: String,
    /// Optimizer spec, e.g. gd:lr=0.005
    #[arg(long)]
    optimizer: String,
    /// Pixels: 512 (512 x 512) or WxH, e.g. 800x600. One walker per pixel.
    #[arg(long, default_value = "512")]
    resolution: String,
    /// Slice coordinates shown: lo,hi (both axes) or x0,x1,y0,y1 (write --extent=-3,3).
    #[arg(long, allow_hyphen_values = true)]
    extent: Option<String>,
    /// random[;center=c1,c2,..] | center=c1,..;u=u1,..;v=v1,.. | points=a,b,c (with
    /// --catalogue). Default for N = 2: the coordinate plane.
    #[arg(long, allow_hyphen_values = true)]
    plane: Option<String>,
    /// Folder of an earlier `sample` run: its critical points for --plane points=a,b,c, and
    /// marked on the landscape where they lie near the slice.
    #[arg(long)]
    catalogue: Option<PathBuf>,
    #[arg(long, default_value_t = 10_000)]
    steps: u32,
    /// A walker stops as converged when |grad f| (Riemannian on spheres) is at most this.
    #[arg(long, default_value_t = 1e-4)]
    grad_tol: f64,
    /// A walker with |x_i| above this stops as diverged.
    #[arg(long, default_value_t = 1e6)]
    bound: f64,
    /// Seed of the walkers' random numbers and of --plane random.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    backend: BackendChoice,
    /// Run folder (default outputs/<objective>-basins-<UTC time>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// At most this many walkers per GPU chunk (default: as many as the adapter holds).
    #[arg(long)]
    chunk: Option<usize>,
    /// Box side in pixels for the basin entropy S_b and boundary basin entropy S_bb.
    #[arg(long = "box", default_value_t = 5)]
    box_size: usize,
    /// Draw this many walker paths (CPU twin, spread over the grid) on landscape.png.
    #[arg(long, default_value_t = 0)]
    paths: usize,
    /// Shade basins.png by steps to converge (darker = more steps, log scale).
    #[arg(long)]
    shade_steps: bool,
}

#[derive(clap::Args)]
#[command(allow_negative_numbers = true)]
struct SampleArgs {
    /// Objective spec, e.g. himmelblau, rastrigin:n=8, field:n=16,features=256,seed=3
    #[arg(long)]
    objective: String,
    /// Optimizer spec, e.g. gd:lr=0.01, adam:lr=1e-3, sgd:noise=0.1, gradnorm
    #[arg(long)]
    optimizer: String,
    #[arg(long, default_value_t = 4096)]
    walkers: usize,
    #[arg(long, default_value_t = 10_000)]
    steps: u32,
    /// A walker stops as converged when |grad f| (Riemannian on spheres) is at most this.
    #[arg(long, default_value_t = 1e-4)]
    grad_tol: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// auto | uniform:lo=A,hi=B | normal:sigma=S[,center=a;b;..] | point:x=a;b;..
    #[arg(long, default_value = "auto")]
    init: String,
    /// A walker with |x_i| above this stops as diverged.
    #[arg(long, default_value_t = 1e6)]
    bound: f64,
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    backend: BackendChoice,
    /// Run folder (default outputs/<objective>-<UTC time>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// At most this many walkers per GPU chunk (default: as many as the adapter holds).
    #[arg(long)]
    chunk: Option<usize>,
    /// Skip the critical-point catalogue (f64 polish, Hessian classification, clustering).
    #[arg(long)]
    no_critical: bool,
}

#[derive(clap::Args)]
struct BenchArgs {
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
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    backend: BackendChoice,
}

fn progress_bar(total: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(total);
    pb.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {percent:>3}% {elapsed_precise} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

fn cmd_sample(a: SampleArgs) -> anyhow::Result<()> {
    let spec = SampleSpec {
        objective: a.objective,
        optimizer: a.optimizer,
        walkers: a.walkers,
        steps: a.steps,
        grad_tol: a.grad_tol,
        seed: a.seed,
        init: a.init,
        bound: a.bound,
        chunk: a.chunk,
        no_critical: a.no_critical,
    };
    let resolved = spec.resolve()?;
    let backend = Backend::select(a.backend)?;
    let dir = a.out.unwrap_or_else(|| spec.default_dir());
    let dir = output::prepare_dir(&dir).map_err(SpecError::Invalid)?;
    eprintln!(
        "sample: {} walkers of {} on {} (N = {}) via {}",
        spec.walkers,
        resolved.opt.spec(),
        resolved.obj.spec(),
        resolved.obj.dim(),
        backend.name()
    );
    let pb = progress_bar(spec.walkers as u64 * (u64::from(spec.steps) + 1), "walking");
    let res = sample::run(&spec, &resolved, &backend, &dir, &|d| pb.set_position(d))?;
    pb.finish_and_clear();
    let counts = res.ends.counts();
    println!("wrote {}", res.dir.display());
    println!(
        "walkers: {}  converged: {}  max_steps: {}  diverged: {}  walk: {:.3} s",
        res.ends.len(),
        counts[0].1,
        counts[1].1,
        counts[2].1,
        res.seconds_walk
    );
    if let Some(cat) = &res.catalogue {
        let mut kinds: std::collections::BTreeMap<&str, (usize, usize)> = Default::default();
        for p in &cat.points {
            let e = kinds.entry(p.kind.as_str()).or_default();
            e.0 += 1;
            e.1 += p.walkers;
        }
        let parts: Vec<String> = kinds
            .iter()
            .map(|(k, (p, w))| format!("{k}: {p} ({w} walkers)"))
            .collect();
        println!(
            "critical points: {} distinct  {}",
            cat.points.len(),
            parts.join("  ")
        );
        let idx: Vec<String> = cat
            .index_histogram()
            .iter()
            .map(|b| format!("{}: {}", b.index, b.points))
            .collect();
        println!("distinct points by index: {}", idx.join("  "));
        let fails: Vec<String> = cat
            .failures()
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        if !fails.is_empty() {
            println!(
                "converged walkers that polish rejected: {}",
                fails.join("  ")
            );
        }
    }
    Ok(())
}

fn cmd_basins(a: BasinsArgs) -> anyhow::Result<PathBuf> {
    let spec = BasinsSpec {
        objective: a.objective,
        optimizer: a.optimizer,
        resolution: a.resolution,
        extent: a.extent,
        plane: a.plane,
        catalogue: a.catalogue,
        steps: a.steps,
        grad_tol: a.grad_tol,
        bound: a.bound,
        seed: a.seed,
        chunk: a.chunk,
        box_size: a.box_size,
        paths: a.paths,
        shade_steps: a.shade_steps,
    };
    let r = spec.resolve()?;
    let backend = Backend::select(a.backend)?;
    let dir = a.out.unwrap_or_else(|| spec.default_dir());
    let dir = output::prepare_dir(&dir).map_err(SpecError::Invalid)?;
    let pixels = r.grid.pixels() as u64;
    eprintln!(
        "basins: {}x{} walkers of {} on {} (N = {}), {} plane, via {}",
        r.grid.width,
        r.grid.height,
        r.opt.spec(),
        r.obj.spec(),
        r.obj.dim(),
        r.plane.mode,
        backend.name()
    );
    for note in &r.plane.notes {
        eprintln!("note: {note}");
    }
    // The GPU reports walker-steps done, the CPU twin walkers done.
    let total = match backend {
        Backend::Gpu(_) => pixels * (u64::from(spec.steps) + 1),
        Backend::Cpu => pixels,
    };
    let pb = progress_bar(total, "walking");
    let res = basins::run(&spec, &r, &backend, &dir, &|d| pb.set_position(d))?;
    pb.finish_and_clear();
    let counts = res.ends.counts();
    println!("wrote {}", res.dir.display());
    println!(
        "walkers: {}  converged: {}  max_steps: {}  diverged: {}  walk: {:.3} s",
        res.ends.len(),
        counts[0].1,
        counts[1].1,
        counts[2].1,
        res.seconds_walk
    );
    println!(
        "attractors: {}   basin fractions (95% Wilson intervals):",
        res.catalogue.points.len()
    );
    const SHOWN: usize = 30;
    for fr in res.fractions.iter().take(SHOWN) {
        let what = usize::try_from(fr.label)
            .ok()
            .map(|l| &res.catalogue.points[l])
            .map_or("no attractor".to_string(), |p| {
                format!("{} (index {}) f = {:.6e}", p.kind, p.index, p.f)
            });
        println!(
            "  {:>5}  {:>9} px  {:.4}  [{:.4}, {:.4}]  {what}",
            fr.label, fr.walkers, fr.fraction, fr.ci95.0, fr.ci95.1
        );
    }
    if res.fractions.len() > SHOWN {
        println!(
            "  … {} more rows in basins.csv",
            res.fractions.len() - SHOWN
        );
    }
    let e = &res.entropy;
    println!(
        "basin entropy S_b = {:.4}, boundary basin entropy S_bb = {:.4} (boxes of {}x{} px: {} boxes, {} on a boundary); {}",
        e.basin_entropy,
        e.boundary_basin_entropy,
        e.box_size,
        e.box_size,
        e.boxes,
        e.boundary_boxes,
        if e.fractal_boundary {
            "S_bb > ln 2: by the log-2 criterion of Daza et al. the basin boundary is fractal"
        } else {
            "S_bb <= ln 2: no evidence of a fractal boundary from this test (it is sufficient, not necessary)"
        }
    );
    Ok(res.dir)
}

fn print_entry(name: &str, summary: &str, params: &[saddlescope::spec::Param]) {
    println!("  {name:<16} {summary}");
    for p in params {
        println!(
            "      {:<12} default {:<10} ({})  {}",
            p.key, p.default, p.range, p.doc
        );
    }
}

fn cmd_list() {
    println!(
        "OBJECTIVES  (spec: name or name:key=value,...; positional values fill keys in order)"
    );
    for e in objective::registry() {
        print_entry(e.name, e.summary, e.params);
    }
    println!("\nSTEP RULES  (--optimizer name:key=value,...)");
    for r in rules::registry() {
        print_entry(r.name, r.summary, r.params);
    }
}

fn cmd_devices() {
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

fn cmd_bench(a: BenchArgs) -> anyhow::Result<()> {
    let backend = Backend::select(a.backend)?;
    eprintln!("bench on {}", backend.name());
    let secs = bench::run(
        &backend,
        a.workload,
        a.walkers,
        a.dim,
        a.features,
        a.steps,
        a.repeat.max(1),
    )?;
    let name = match a.workload {
        Workload::Field => "field",
        Workload::Pspin3 => "pspin3",
        Workload::Rastrigin => "rastrigin",
    };
    let tag = match backend {
        Backend::Gpu(_) => "saddlescope-gpu",
        Backend::Cpu => "saddlescope-cpu",
    };
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

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Sample(a) => cmd_sample(a),
        Command::List => {
            cmd_list();
            Ok(())
        }
        Command::Devices => {
            cmd_devices();
            Ok(())
        }
        Command::Bench(a) => cmd_bench(a),
        Command::Basins(a) => cmd_basins(a).map(|_| ()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<SpecError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
