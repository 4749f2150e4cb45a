//! The saddlescope command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use saddlescope::backend::{Backend, BackendChoice};
use saddlescope::basins::{self, BasinsSpec};
use saddlescope::bench::{self, Workload};
use saddlescope::critical::eigen::Solver;
use saddlescope::escape::{self, EscapeSpec};
use saddlescope::experiment::{self, Experiment};
use saddlescope::gpu::context::{enumerate, AdapterSummary};
use saddlescope::gpu::GpuError;
use saddlescope::sample::{self, SampleSpec, Tolerances};
use saddlescope::spec::SpecError;
use saddlescope::sweep::{self, SweepSpec};
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
    /// Start walkers at a saddle, a plateau or a given point, one arm per optimizer: how many
    /// escape, how fast, and where they end.
    Escape(EscapeArgs),
    /// Basin-of-attraction picture of a 2-D slice: one walker per pixel, coloured by the
    /// critical point it reaches.
    Basins(BasinsArgs),
    /// Critical-point statistics against dimension, averaged over random-landscape instances.
    Sweep(SweepArgs),
    /// Run an experiment file: a command written as TOML (command = "sweep", flags as keys).
    Run(RunArgs),
    /// Redraw a run folder's figures from its data, without recomputing.
    Plot(PlotArgs),
}

/// The twin check of GPU walks, shared by every command that walks.
#[derive(clap::Args)]
struct TwinArgs {
    /// Skip the twin check: by default every GPU walk evaluates f and the gradient of 8
    /// walkers on the adapter and on the f64 twin, and f again at their end states.
    #[arg(long)]
    no_twin_check: bool,
}

#[derive(clap::Args)]
#[command(allow_negative_numbers = true)]
struct SweepArgs {
    /// Random landscape without n and seed, e.g. field:features=256,mu=0.05 or pspin:p=3
    #[arg(long)]
    objective: String,
    /// Dimensions N, e.g. 2,4,8,16
    #[arg(long, value_delimiter = ',', required = true)]
    dims: Vec<usize>,
    /// Disorder instances per dimension (landscape seeds derived from --seed).
    #[arg(long, default_value_t = 10)]
    instances: usize,
    /// Optimizer spec; gradnorm finds critical points of every index.
    #[arg(long)]
    optimizer: String,
    /// Walkers per instance.
    #[arg(long, default_value_t = 1024)]
    walkers: usize,
    #[arg(long, default_value_t = 10_000)]
    steps: u32,
    /// A walker stops as converged when |grad f| (Riemannian on spheres) is at most this.
    #[arg(long, default_value_t = 1e-4)]
    grad_tol: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// auto | uniform:lo=A,hi=B | normal:sigma=S[,center=a;b;..] | point:x=a;b;.. (one value
    /// per dimension, so only with a single N in --dims)
    #[arg(long, default_value = "auto")]
    init: String,
    /// A walker with |x_i| above this stops as diverged.
    #[arg(long, default_value_t = 1e6)]
    bound: f64,
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    backend: BackendChoice,
    #[command(flatten)]
    twin: TwinArgs,
    /// Run folder (default outputs/sweep-<objective>-<UTC time>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// At most this many walkers per GPU chunk.
    #[arg(long)]
    chunk: Option<usize>,
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
    #[command(flatten)]
    twin: TwinArgs,
    /// Run folder (default outputs/basins-<objective>-<UTC time>).
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
struct RunArgs {
    /// The experiment file (TOML).
    file: PathBuf,
}

#[derive(clap::Args)]
struct PlotArgs {
    /// A run folder (with its manifest.json).
    dir: PathBuf,
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
    #[command(flatten)]
    twin: TwinArgs,
    /// Run folder (default outputs/<objective>-<UTC time>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// At most this many walkers per GPU chunk (default: as many as the adapter holds).
    #[arg(long)]
    chunk: Option<usize>,
    /// Skip the critical-point catalogue (f64 polish, Hessian classification, clustering).
    #[arg(long)]
    no_critical: bool,
    /// Polish stops at |grad f| <= this times the gradient's rounding scale.
    #[arg(long, default_value_t = Tolerances::default().polish_tol)]
    polish_tol: f64,
    /// An eigenvalue with |lambda| <= this times max |lambda| counts as zero (-> degenerate).
    #[arg(long, default_value_t = Tolerances::default().zero_eig_tol)]
    zero_eig_tol: f64,
    /// Polished points closer than this times max(sqrt N, |x|) are one critical point.
    #[arg(long, default_value_t = Tolerances::default().cluster_tol)]
    cluster_tol: f64,
    /// Polish may move a walker at most this times max(sqrt N, |x|).
    #[arg(long, default_value_t = Tolerances::default().max_drift)]
    max_drift: f64,
}

#[derive(clap::Args)]
#[command(allow_negative_numbers = true)]
struct EscapeArgs {
    /// Objective spec, e.g. saddle, flat-well:n=4, camel6
    #[arg(long)]
    objective: String,
    /// saddle | point:x=a;b;... | critical:DIR,ID (a point of an earlier sample's catalogue) | plateau
    #[arg(long)]
    from: String,
    /// Starts are uniform in the ball of this radius around the point (0 = exactly there;
    /// default 1e-3 * max(1, |x|)).
    #[arg(long)]
    radius: Option<f64>,
    /// Escaped at the first step at distance >= R from the walker's own start
    /// (default 0.1 * max(1, |x|)).
    #[arg(long, conflicts_with = "escape_drop")]
    escape_radius: Option<f64>,
    /// Escaped at the first step where f has dropped by this much from f(start).
    #[arg(long)]
    escape_drop: Option<f64>,
    /// One arm per optimizer spec, e.g. gd:lr=0.1 sgd:lr=0.1,noise=0.1 pgd:lr=0.1
    #[arg(long, num_args = 1.., required = true)]
    optimizers: Vec<String>,
    /// Walkers per arm.
    #[arg(long, default_value_t = 1024)]
    walkers: usize,
    #[arg(long, default_value_t = 10_000)]
    steps: u32,
    /// A walker stops as converged when |grad f| is at most this, but only once it has
    /// escaped (default 1e-4), so that zero-gradient starts are not stopped before noise or a
    /// perturbation can move them.
    #[arg(long)]
    grad_tol: Option<f64>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// A walker with |x_i| above this stops as diverged.
    #[arg(long, default_value_t = 1e6)]
    bound: f64,
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    backend: BackendChoice,
    #[command(flatten)]
    twin: TwinArgs,
    /// Run folder (default outputs/escape-<objective>-<UTC time>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// At most this many walkers per GPU chunk.
    #[arg(long)]
    chunk: Option<usize>,
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
    #[command(flatten)]
    twin: TwinArgs,
    /// Eigensolver of the eigen workload (auto = what the pipeline uses).
    #[arg(long, value_enum, default_value_t = Solver::Auto)]
    solver: Solver,
}

/// The twin-check line of the summary, after a GPU walk.
fn print_twin(backend: &Backend) {
    if let Some(t) = backend.twin_summary() {
        println!("{}", t.line());
    }
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

fn cmd_sample(a: SampleArgs) -> anyhow::Result<PathBuf> {
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
        tolerances: Tolerances {
            polish_tol: a.polish_tol,
            zero_eig_tol: a.zero_eig_tol,
            cluster_tol: a.cluster_tol,
            max_drift: a.max_drift,
        },
    };
    let resolved = spec.resolve()?;
    let backend = Backend::select(a.backend.for_optimizer(&resolved.opt)?)?
        .with_twin_check(!a.twin.no_twin_check);
    backend.check(resolved.obj.as_ref(), &resolved.opt)?;
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
    print_twin(&backend);
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
        // Walkers that did not converge were never polished ("ineligible"): they are in the
        // max_steps and diverged counts above, not among the rejected.
        let fails: Vec<String> = cat
            .failures()
            .iter()
            .filter(|(k, _)| *k != "ineligible")
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        if !fails.is_empty() {
            println!(
                "converged walkers that polish rejected: {}",
                fails.join("  ")
            );
        }
    }
    Ok(res.dir)
}

fn cmd_sweep(a: SweepArgs) -> anyhow::Result<PathBuf> {
    let spec = SweepSpec {
        objective: a.objective,
        dims: a.dims,
        instances: a.instances,
        optimizer: a.optimizer,
        walkers: a.walkers,
        steps: a.steps,
        grad_tol: a.grad_tol,
        seed: a.seed,
        init: a.init,
        bound: a.bound,
        chunk: a.chunk,
    };
    let resolved = spec.resolve()?;
    // Rules that run only on the CPU twin refuse --backend gpu; auto opens no adapter for them.
    let backend = Backend::select(a.backend.for_optimizer(&resolved.opt)?)?
        .with_twin_check(!a.twin.no_twin_check);
    for &n in &resolved.dims {
        backend.check(resolved.instance(n, 0)?.as_ref(), &resolved.opt)?;
    }
    let dir = a.out.unwrap_or_else(|| spec.default_dir());
    let dir = output::prepare_dir(&dir).map_err(SpecError::Invalid)?;
    eprintln!(
        "sweep: {} over N = {:?}, {} instances x {} walkers of {} via {}",
        resolved.template,
        resolved.dims,
        resolved.instances,
        resolved.walkers,
        resolved.opt.spec(),
        backend.name()
    );
    let pb = progress_bar(resolved.total_steps(), "walking");
    let res = sweep::run(&spec, &resolved, &backend, &dir, &|d| pb.set_position(d))?;
    pb.finish_and_clear();
    println!("wrote {}", res.dir.display());
    print_twin(&backend);
    println!("walk: {:.3} s", res.seconds_walk);
    for s in &res.stats {
        let (lo, hi) = s.fraction_minima_ci.unwrap_or((f64::NAN, f64::NAN));
        println!(
            "N = {:>4}: {:>6} points ({:.2} ± {:.2} per instance), minima {} saddles {} maxima {} degenerate {}, fraction of minima {:.4} [{:.4}, {:.4}], mean index fraction {:.3}",
            s.dim,
            s.points,
            s.points_per_instance.mean,
            s.points_per_instance.se,
            s.minima,
            s.saddles,
            s.maxima,
            s.degenerate,
            s.fraction_minima.mean,
            lo,
            hi,
            s.mean_index_fraction.mean
        );
    }
    Ok(res.dir)
}

/// `saddlescope plot DIR`: dispatches on manifest.json's "command".
fn cmd_plot(a: PlotArgs) -> anyhow::Result<()> {
    let dir = &a.dir;
    let text = std::fs::read_to_string(dir.join("manifest.json")).map_err(|e| {
        SpecError::Invalid(format!(
            "{}: cannot read manifest.json ({e}); plot needs a finished run folder",
            dir.display()
        ))
    })?;
    let m: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| SpecError::Invalid(format!("{}/manifest.json: {e}", dir.display())))?;
    let command = m["command"].as_str().unwrap_or("");
    match command {
        "sample" => sample::redraw(dir)?,
        "sweep" => sweep::redraw(dir)?,
        "escape" => escape::redraw(dir)?,
        "basins" => basins::redraw(dir)?,
        other => {
            return Err(SpecError::Invalid(format!(
            "plot does not know command '{other}' (folder {}); it redraws: sample, sweep, escape, basins",
            dir.display()
        ))
            .into())
        }
    }
    println!("redrew the figures of {}", dir.display());
    Ok(())
}

fn cmd_escape(a: EscapeArgs) -> anyhow::Result<PathBuf> {
    let spec = EscapeSpec {
        objective: a.objective,
        from: a.from,
        radius: a.radius,
        escape_radius: a.escape_radius,
        escape_drop: a.escape_drop,
        optimizers: a.optimizers,
        walkers: a.walkers,
        steps: a.steps,
        grad_tol: a.grad_tol,
        seed: a.seed,
        bound: a.bound,
        chunk: a.chunk,
    };
    let r = spec.resolve()?;
    // Arms whose rule runs only on the CPU twin refuse --backend gpu; when every arm is such a
    // rule, auto opens no adapter.
    let mut choice = a.backend;
    for arm in &r.arms {
        a.backend.for_optimizer(&arm.opt)?;
    }
    if r.arms.iter().all(|arm| arm.opt.rule.cpu_only()) {
        choice = BackendChoice::Cpu;
    }
    let backend = Backend::select(choice)?.with_twin_check(!a.twin.no_twin_check);
    for arm in &r.arms {
        backend.check(r.obj.as_ref(), &arm.opt)?;
    }
    let dir = a.out.unwrap_or_else(|| spec.default_dir());
    let dir = output::prepare_dir(&dir).map_err(SpecError::Invalid)?;
    eprintln!(
        "escape: {} arms x {} walkers on {} (N = {}) from {}, {} walk(s) via {}",
        r.arms.len(),
        r.walkers,
        r.obj.spec(),
        r.obj.dim(),
        r.centre.description,
        r.groups.len(),
        backend.name()
    );
    let total = (r.arms.len() * r.walkers) as u64 * (u64::from(r.plan.max_steps) + 1);
    let pb = progress_bar(total, "walking");
    let res = escape::run(&spec, &r, &backend, &dir, &|d| pb.set_position(d))?;
    pb.finish_and_clear();
    println!("wrote {}", res.dir.display());
    print_twin(&backend);
    println!(
        "{:<36} {:>8} {:>17} {:>8}  ended",
        "arm", "escaped", "95% interval", "median"
    );
    for (arm, s) in r.arms.iter().zip(&res.summaries) {
        let ends: Vec<String> = escape::ENDS
            .iter()
            .filter(|&&e| s.share(e) > 0.0)
            .map(|&e| format!("{} {:.1}%", e.name(), 100.0 * s.share(e)))
            .collect();
        println!(
            "{:<36} {:>7.1}% {:>7.1}%..{:>5.1}% {:>8}  {}",
            arm.label,
            100.0 * s.rate,
            100.0 * s.rate_lo,
            100.0 * s.rate_hi,
            s.median.map_or("-".to_string(), |m| format!("{m}")),
            ends.join("  ")
        );
    }
    Ok(res.dir)
}

/// `saddlescope run FILE.toml`: the file's command line, parsed by the same definitions as a
/// typed one, then run and recorded.
fn cmd_run(a: RunArgs) -> anyhow::Result<()> {
    let exp: Experiment = experiment::load(&a.file)?;
    let cli = match Cli::try_parse_from(&exp.argv) {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                e.exit();
            }
            return Err(SpecError::Invalid(format!(
                "experiment file {}: its keys are the command's long flags (grad_tol for --grad-tol); as a command line it is\n  {}\n{}",
                a.file.display(),
                experiment::shell_line(&exp.argv),
                e.render().to_string().trim_end()
            ))
            .into());
        }
    };
    if matches!(cli.command, Command::Run(_)) {
        return Err(SpecError::Invalid("an experiment file cannot run another one".into()).into());
    }
    eprintln!("run: {}", experiment::shell_line(&exp.argv));
    if let Some(dir) = dispatch(cli.command)? {
        experiment::record(&dir, &exp.argv, Some(&exp))?;
    }
    Ok(())
}

/// Runs a command; returns the run folder it wrote, if it writes one.
fn dispatch(command: Command) -> anyhow::Result<Option<PathBuf>> {
    match command {
        Command::Sample(a) => cmd_sample(a).map(Some),
        Command::Sweep(a) => cmd_sweep(a).map(Some),
        Command::Escape(a) => cmd_escape(a).map(Some),
        Command::Basins(a) => cmd_basins(a).map(Some),
        Command::List => {
            cmd_list();
            Ok(None)
        }
        Command::Devices => {
            cmd_devices();
            Ok(None)
        }
        Command::Bench(a) => cmd_bench(a).map(|()| None),
        Command::Plot(a) => cmd_plot(a).map(|()| None),
        Command::Run(a) => cmd_run(a).map(|()| None),
    }
}

/// The command line as typed, with the program called by its name (for manifest.json).
fn typed_argv() -> Vec<String> {
    let mut argv: Vec<String> = std::env::args().collect();
    if let Some(first) = argv.first_mut() {
        *first = "saddlescope".into();
    }
    argv
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
    let backend =
        Backend::select(a.backend.for_optimizer(&r.opt)?)?.with_twin_check(!a.twin.no_twin_check);
    backend.check(r.obj.as_ref(), &r.opt)?;
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
    let total = if backend.is_gpu() {
        pixels * (u64::from(spec.steps) + 1)
    } else {
        pixels
    };
    let pb = progress_bar(total, "walking");
    let res = basins::run(&spec, &r, &backend, &dir, &|d| pb.set_position(d))?;
    pb.finish_and_clear();
    let counts = res.ends.counts();
    println!("wrote {}", res.dir.display());
    print_twin(&backend);
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
            p.key,
            p.show(p.default),
            p.range,
            p.doc
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
    let backend = Backend::select(a.backend)?.with_twin_check(!a.twin.no_twin_check);
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
        Workload::Eigen => unreachable!("handled above"),
    };
    let tag = if backend.is_gpu() {
        "saddlescope-gpu"
    } else {
        "saddlescope-cpu"
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
    let result = dispatch(cli.command).and_then(|dir| match dir {
        Some(dir) => experiment::record(&dir, &typed_argv(), None),
        None => Ok(()),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            let usage = e.downcast_ref::<SpecError>().is_some()
                || e.downcast_ref::<GpuError>().is_some_and(GpuError::is_usage);
            if usage {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
