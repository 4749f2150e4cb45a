//! The commands that write no run folder: `list`, `devices`, `bench`.

use saddlescope::backend::{Backend, BackendChoice};
use saddlescope::bench::{self, Workload};
use saddlescope::critical::eigen::Solver;
use saddlescope::gpu::context::{enumerate, AdapterSummary};
use saddlescope::objective::batch::Precision;
use saddlescope::run::folder::{Manifest, RunFolder};
use saddlescope::spec::SpecError;
use saddlescope::{objective, rules};

/// `bench`: time the workloads of the NumPy/JAX reference script of BENCHMARKS.md
/// (peer_bench.py: plain GD on field, pspin3, rastrigin) on this tool's backends.
#[derive(clap::Args)]
pub struct BenchArgs {
    #[arg(long, value_enum)]
    workload: Workload,
    /// Walkers W; a comma list runs one timing per value (a scan, see --out).
    #[arg(long, value_delimiter = ',', default_value = "4096")]
    walkers: Vec<usize>,
    /// Dimension N; a comma list as --walkers.
    #[arg(long, value_delimiter = ',', default_value = "64")]
    dim: Vec<usize>,
    #[arg(long, default_value_t = 1024)]
    features: usize,
    #[arg(long, default_value_t = 100)]
    steps: u32,
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Run to convergence: every walker stops at |grad f| <= TOL (or --steps); prints the time
    /// until the last walker is done and the useful walker-steps/s (the reference script's --until).
    #[arg(long, value_name = "TOL")]
    until: Option<f64>,
    /// The backend; a comma list (e.g. cpu,gpu,twin) times each.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "auto")]
    backend: Vec<BackendChoice>,
    /// Arithmetic of the batched CPU engine's evaluation (field, pspin3, rastrigin), as for the
    /// walking commands: f64 by default, f32 with twice the lanes. A comma list (f64,f32) times
    /// each backend in each precision it runs (a scan; a pair it cannot run is left out).
    #[arg(long, value_enum, value_delimiter = ',')]
    precision: Vec<Precision>,
    /// A scan's run folder: bench.csv (one row per timing) and scaling.png/.svg (walker-steps/s
    /// against W and against N). A scan (a list in --walkers, --dim, --backend or --precision) without
    /// --out writes outputs/bench-<workload>-<UTC time>.
    #[arg(long)]
    out: Option<std::path::PathBuf>,
    /// In a scan, skip a timing whose predicted time (the backend's last timing scaled by the
    /// flop counts, times the repeats and the warm-up) exceeds this many seconds.
    #[arg(long, default_value_t = 60.0)]
    max_seconds: f64,
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
        if e.name == "mlp" {
            println!("      {:<12} {}", "sweep", saddlescope::sweep::MLP_DIMS);
            let descent = objective::parse("mlp")
                .ok()
                .and_then(|o| o.finder_descent());
            if let Some((rule, steps)) = descent {
                println!(
                    "      {:<12} sample and sweep (default --optimizer newton-mr, --descent auto) walk \
                     {rule} for {steps} steps first, then newton-mr from where it ended: minima \
                     and the saddles above them",
                    "descent"
                );
            }
        }
    }
    println!("  {}", objective::expr::grammar());
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
        match s.subgroups {
            Some((lo, hi)) => println!("    subgroups: {lo}..={hi} invocations"),
            None => println!("    subgroups: none"),
        }
    }
}

pub fn bench(a: BenchArgs) -> anyhow::Result<()> {
    if a.repeat == 0 {
        return Err(SpecError::Invalid(
            "--repeat 0 is out of range; valid: >= 1 (timed runs)".into(),
        )
        .into());
    }
    pairs(&a.backend, &a.precision)?;
    let scan = a.walkers.len() > 1
        || a.dim.len() > 1
        || a.backend.len() > 1
        || a.precision.len() > 1
        || a.out.is_some();
    if a.workload == Workload::Eigen {
        if scan {
            return Err(SpecError::flag(
                "--workload",
                "eigen",
                "field, pspin3 or rastrigin for a scan (lists in --walkers, --dim, --backend, --precision, or --out)",
            )
            .into());
        }
        // The eigenvalue stage runs on the CPU whatever the backend.
        let (walkers, dim) = (a.walkers[0], a.dim[0]);
        let secs = bench::eigen(walkers, dim, a.repeat.max(1), a.solver)?;
        let gf = bench::flops(a.workload, walkers as f64, dim as f64, 0.0, 0.0) / secs / 1e9;
        let solver = format!("{:?}", a.solver).to_lowercase();
        println!(
            "saddlescope-{solver} eigen points={walkers} N={dim} seconds={secs:.4} points_per_s={:.4e} gflops={gf:.2} threads={}",
            walkers as f64 / secs,
            rayon::current_num_threads()
        );
        return Ok(());
    }
    if scan {
        return bench_scan(&a);
    }
    bench::check(a.workload, a.walkers[0], a.dim[0], a.features, a.steps)?;
    let backend = Backend::open(a.backend[0], a.precision.first().copied())?
        .with_twin_check(!a.no_twin_check);
    eprintln!("bench on {}", backend.name());
    let t = time_one(&a, &backend, a.walkers[0], a.dim[0])?;
    println!("{}", t.line);
    Ok(())
}

/// The (backend, precision) pairs a bench times: every backend in every precision asked for
/// (none: its default). With one precision a backend that cannot run it is an error (as for
/// the walking commands); with a list the pairs it cannot run are left out, and a backend that
/// runs none of them is an error.
fn pairs(
    backends: &[BackendChoice],
    precisions: &[Precision],
) -> Result<Vec<(BackendChoice, Option<Precision>)>, SpecError> {
    if precisions.len() <= 1 {
        let p = precisions.first().copied();
        return backends
            .iter()
            .map(|&b| b.with_precision(p).map(|_| (b, p)))
            .collect();
    }
    let mut out = Vec::new();
    for &b in backends {
        let mut first_error = None;
        for &p in precisions {
            if out.contains(&(b, Some(p))) {
                continue;
            }
            match b.with_precision(Some(p)) {
                Ok(_) => out.push((b, Some(p))),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_error.filter(|_| !out.iter().any(|&(c, _)| c == b)) {
            return Err(e);
        }
    }
    Ok(out)
}

/// A scan series' name: the backend, and its precision where the scan has several.
fn pair_name(b: BackendChoice, p: Option<Precision>, several: bool) -> String {
    match p.filter(|_| several) {
        Some(p) => format!("{} {}", choice_name(b), p.name()),
        None => choice_name(b).to_string(),
    }
}

fn workload_name(w: Workload) -> &'static str {
    match w {
        Workload::Field => "field",
        Workload::Pspin3 => "pspin3",
        Workload::Rastrigin => "rastrigin",
        Workload::Eigen => "eigen",
    }
}

/// One timing: its line in peer_bench.py's format and its rates.
struct Timing {
    line: String,
    seconds: f64,
    /// Walker-steps per second (useful ones with --until).
    rate: f64,
    gflops: f64,
}

fn time_one(
    a: &BenchArgs,
    backend: &Backend,
    walkers: usize,
    dim: usize,
) -> anyhow::Result<Timing> {
    let t = bench::run(
        backend,
        a.workload,
        walkers,
        dim,
        a.features,
        a.steps,
        a.repeat.max(1),
        a.until,
    )?;
    let secs = t.seconds;
    let name = workload_name(a.workload);
    let tag = if backend.is_gpu() {
        "saddlescope-gpu"
    } else if backend.engine_key() == "cpu twin" {
        "saddlescope-twin"
    } else if backend.precision() == Precision::F32 {
        "saddlescope-cpu-f32"
    } else {
        "saddlescope-cpu"
    };
    let (m, s) = (a.features, a.steps);
    let gf = bench::flops(
        a.workload,
        walkers as f64,
        dim as f64,
        a.features as f64,
        f64::from(a.steps),
    ) / secs
        / 1e9;
    if let Some(tol) = a.until {
        let rate = t.useful_steps as f64 / secs;
        return Ok(Timing {
            line: format!(
                "{tag} {name} W={walkers} N={dim} M={m} S={s} until={tol} seconds={secs:.4} useful_walker_steps={} converged={} walker_steps_per_s={rate:.4e}",
                t.useful_steps, t.converged
            ),
            seconds: secs,
            rate,
            gflops: gf,
        });
    }
    let rate = walkers as f64 * f64::from(a.steps) / secs;
    Ok(Timing {
        line: format!(
            "{tag} {name} W={walkers} N={dim} M={m} S={s} seconds={secs:.4} walker_steps_per_s={rate:.4e} gflops={gf:.2}"
        ),
        seconds: secs,
        rate,
        gflops: gf,
    })
}

/// One row of a scan's bench.csv.
struct ScanRow {
    backend: BackendChoice,
    precision: Option<Precision>,
    engine: String,
    walkers: usize,
    dim: usize,
    timing: Option<Timing>,
    skipped: String,
}

/// A scan: every backend x dimension x walker count (ascending), each timed as a single
/// bench, into a run folder with bench.csv and the scaling figure.
fn bench_scan(a: &BenchArgs) -> anyhow::Result<()> {
    if a.max_seconds.is_nan() || a.max_seconds <= 0.0 {
        return Err(
            SpecError::flag("--max-seconds", a.max_seconds, "a number of seconds > 0").into(),
        );
    }
    let name = workload_name(a.workload);
    let sorted = |v: &[usize]| {
        let mut v = v.to_vec();
        v.sort_unstable();
        v.dedup();
        v
    };
    let (walkers, dims) = (sorted(&a.walkers), sorted(&a.dim));
    let folder = RunFolder::create(a.out.as_deref(), "bench", name)?;
    let started = std::time::Instant::now();
    let mut rows: Vec<ScanRow> = Vec::new();
    let mut first_error = None;
    let several = a.precision.len() > 1;
    for (choice, precision) in pairs(&a.backend, &a.precision)? {
        let backend = match Backend::open(choice, precision) {
            Ok(b) => b.with_twin_check(!a.no_twin_check),
            Err(e) => {
                folder.abandon();
                return Err(e.into());
            }
        };
        let engine = backend.name();
        eprintln!("bench on {engine}");
        // The last timing of this backend, (flops, seconds): a timing's time is predicted
        // from it in proportion to the flops.
        let mut last: Option<(f64, f64)> = None;
        for &n in &dims {
            for &w in &walkers {
                let mut row = ScanRow {
                    backend: choice,
                    precision,
                    engine: engine.clone(),
                    walkers: w,
                    dim: n,
                    timing: None,
                    skipped: String::new(),
                };
                let flops = bench::flops(
                    a.workload,
                    w as f64,
                    n as f64,
                    a.features as f64,
                    f64::from(a.steps),
                );
                let runs = (a.repeat.max(1) + 1) as f64;
                let predicted = last.map(|(f, secs)| secs * flops / f * runs);
                if let Some(p) = predicted.filter(|&p| p > a.max_seconds) {
                    row.skipped = format!("predicted {p:.0} s > --max-seconds {}", a.max_seconds);
                } else if let Err(e) = bench::check(a.workload, w, n, a.features, a.steps) {
                    row.skipped = e.to_string().replace(',', ";");
                    first_error.get_or_insert(e.into());
                } else {
                    match time_one(a, &backend, w, n) {
                        Ok(t) => {
                            println!("{}", t.line);
                            last = Some((flops, t.seconds));
                            row.timing = Some(t);
                        }
                        Err(e) => {
                            row.skipped = e.to_string().replace(',', ";");
                            first_error.get_or_insert(e);
                        }
                    }
                }
                if !row.skipped.is_empty() {
                    println!(
                        "skipped {name} backend={} W={w} N={n}: {}",
                        pair_name(choice, precision, several),
                        row.skipped
                    );
                }
                rows.push(row);
            }
        }
    }
    if rows.iter().all(|r| r.timing.is_none()) {
        folder.abandon();
        return Err(first_error.unwrap_or_else(|| anyhow::anyhow!("every timing was skipped")));
    }
    write_scan(
        a,
        &folder,
        &rows,
        &walkers,
        &dims,
        started.elapsed().as_secs_f64(),
    )?;
    println!("wrote {}", folder.path().display());
    Ok(())
}

fn choice_name(c: BackendChoice) -> &'static str {
    match c {
        BackendChoice::Auto => "auto",
        BackendChoice::Gpu => "gpu",
        BackendChoice::Cpu => "cpu",
        BackendChoice::Twin => "twin",
    }
}

fn write_scan(
    a: &BenchArgs,
    folder: &RunFolder,
    rows: &[ScanRow],
    walkers: &[usize],
    dims: &[usize],
    total: f64,
) -> anyhow::Result<()> {
    use saddlescope::figure::{scaling, ScalingPanel, ScalingSeries};
    use saddlescope::output::{num, Csv};
    let name = workload_name(a.workload);
    let several = a.precision.len() > 1;
    let mut csv = Csv::new(
        "backend,engine,workload,walkers,dim,features,steps,repeat,seconds,walker_steps_per_s,gflops,skipped",
    );
    for r in rows {
        let t = r.timing.as_ref();
        let opt = |v: Option<f64>| v.map(num).unwrap_or_default();
        csv.row(&[
            pair_name(r.backend, r.precision, several),
            r.engine.replace(',', ";"),
            name.to_string(),
            r.walkers.to_string(),
            r.dim.to_string(),
            a.features.to_string(),
            a.steps.to_string(),
            a.repeat.to_string(),
            opt(t.map(|t| t.seconds)),
            opt(t.map(|t| t.rate)),
            opt(t.map(|t| t.gflops)),
            r.skipped.clone(),
        ]);
    }
    folder.write_csv("bench.csv", &csv)?;
    let series = |fixed_dim: bool| -> Vec<ScalingSeries> {
        let mut out = Vec::new();
        for (b, p) in pairs(&a.backend, &a.precision).unwrap_or_default() {
            let fixed: &[usize] = if fixed_dim { dims } else { walkers };
            for &f in fixed {
                let points: Vec<(f64, f64)> = rows
                    .iter()
                    .filter(|r| {
                        r.backend == b
                            && r.precision == p
                            && if fixed_dim {
                                r.dim == f
                            } else {
                                r.walkers == f
                            }
                    })
                    .filter_map(|r| {
                        let x = if fixed_dim { r.walkers } else { r.dim };
                        r.timing.as_ref().map(|t| (x as f64, t.rate))
                    })
                    .collect();
                let what = if fixed_dim { "N" } else { "W" };
                out.push(ScalingSeries {
                    label: format!("{}, {what} = {f}", pair_name(b, p, several)),
                    points,
                });
            }
        }
        out
    };
    let mut panels = Vec::new();
    if walkers.len() > 1 || dims.len() == 1 {
        panels.push(ScalingPanel {
            caption: "against the number of walkers".into(),
            x_label: "walkers W".into(),
            series: series(true),
        });
    }
    if dims.len() > 1 {
        panels.push(ScalingPanel {
            caption: "against the dimension".into(),
            x_label: "dimension N".into(),
            series: series(false),
        });
    }
    let m = if a.workload == Workload::Field {
        format!(", M = {} features", a.features)
    } else {
        String::new()
    };
    let subtitle = format!(
        "plain GD, {} steps per walker{m}, best of {} after a warm-up; {} threads",
        a.steps,
        a.repeat,
        rayon::current_num_threads()
    );
    folder.figure("scaling", |stem| {
        scaling(stem, &panels, &format!("{name}: throughput"), &subtitle).map(|_| ())
    })?;
    let manifest = Manifest {
        command: "bench".into(),
        saddlescope_version: env!("CARGO_PKG_VERSION").into(),
        argv: std::iter::once("saddlescope".to_string())
            .chain(std::env::args().skip(1))
            .collect(),
        spec: serde_json::json!({
            "workload": name,
            "walkers": walkers,
            "dim": dims,
            "features": a.features,
            "steps": a.steps,
            "repeat": a.repeat,
            "until": a.until,
            "backend": a.backend.iter().map(|&b| choice_name(b)).collect::<Vec<_>>(),
            "precision": a.precision.iter().map(|p| p.name()).collect::<Vec<_>>(),
            "max_seconds": a.max_seconds,
        }),
        backend: serde_json::json!(rows
            .iter()
            .map(|r| (pair_name(r.backend, r.precision, several), r.engine.clone()))
            .collect::<std::collections::BTreeMap<_, _>>()),
        timings_s: [("total".to_string(), total)].into_iter().collect(),
        files: folder.files(),
        ..Manifest::default()
    };
    folder.write_manifest(&manifest)?;
    Ok(())
}
