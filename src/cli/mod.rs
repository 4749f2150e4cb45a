//! The command line's definitions and dispatch: every command that walks runs through the
//! library's one executor (`saddlescope::run::execute`) with the console as its observer.

pub mod console;
pub mod info;
pub mod slurm;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use saddlescope::basins::{self, BasinsSpec};
use saddlescope::escape::{self, EscapeSpec};
use saddlescope::experiment::{self, Experiment};
use saddlescope::run::{self, Command as _, ExecOptions, Invocation, Manifest};
use saddlescope::sample::{self, SampleSpec};
use saddlescope::spec::SpecError;
use saddlescope::sweep::{self, SweepSpec};

#[derive(Parser)]
#[command(
    name = "saddlescope",
    version,
    about = "GPU batch landscape sampler: optimizer walkers, critical points and their Hessian index"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// A walking command: its spec and how to execute it.
#[derive(clap::Args)]
pub struct Walking<S: clap::Args> {
    #[command(flatten)]
    spec: S,
    #[command(flatten)]
    exec: ExecOptions,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run optimizer walkers on an objective and write where each one ended.
    Sample(Walking<SampleSpec>),
    /// List every objective and step rule with its parameters and defaults.
    List,
    /// List the GPU adapters wgpu finds and their relevant limits.
    Devices,
    /// Time plain GD on field, pspin3 and rastrigin (the workloads of BENCHMARKS.md's NumPy/JAX
    /// reference script), or the eigenvalue stage, on this tool's backends.
    Bench(info::BenchArgs),
    /// Start walkers at a saddle, a plateau or a given point, one arm per optimizer: how many
    /// escape, how fast, and where they end.
    Escape(Walking<EscapeSpec>),
    /// Basin-of-attraction picture of a 2-D slice: one walker per pixel, coloured by the
    /// critical point it reaches.
    Basins(Walking<BasinsSpec>),
    /// Critical-point statistics against dimension, averaged over random-landscape instances.
    Sweep(Walking<SweepSpec>),
    /// Run an experiment file: a command written as TOML (command = "sweep", flags as keys).
    Run(RunArgs),
    /// Redraw a run folder's figures from its data, without recomputing.
    Plot(PlotArgs),
    /// Join the folders of the N shards of one `--shard K/N` run (in any order) into the
    /// folder one run writes.
    Merge(MergeArgs),
    /// Write (or with --submit, queue) one run of sample, escape, basins or sweep as a Slurm
    /// job array of its shards and a merge job that runs after them:
    /// `slurm --shards N [--partition P --time T --gpus G …] COMMAND ARGS… --out DIR`.
    Slurm(slurm::SlurmArgs),
}

#[derive(clap::Args)]
pub struct MergeArgs {
    /// The merged run folder (absent or empty).
    #[arg(long)]
    out: PathBuf,
    /// The shard folders, in any order.
    #[arg(required = true, num_args = 1..)]
    shards: Vec<PathBuf>,
}

#[derive(clap::Args)]
pub struct RunArgs {
    /// The experiment file (TOML).
    file: PathBuf,
    /// Continue the file's interrupted run in its out folder (as the command's --resume).
    #[arg(long)]
    resume: bool,
}

#[derive(clap::Args)]
pub struct PlotArgs {
    /// A run folder (with its manifest.json).
    dir: PathBuf,
}

/// Runs a walking command through the executor and prints its summary: on stdout, but its
/// warnings (lines that start with "warning:") on stderr.
fn walk<S: clap::Args + run::Command>(
    w: Walking<S>,
    argv: Vec<String>,
    experiment: Option<&Experiment>,
) -> anyhow::Result<()> {
    let console = console::Console::new();
    let inv = Invocation { argv, experiment };
    let done = run::execute(&w.spec, &w.exec, &inv, &console)?;
    for line in done.summary {
        if line.starts_with("warning:") {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }
    Ok(())
}

/// Runs a command; `argv` is its command line for the manifest.
pub fn dispatch(
    command: Command,
    argv: Vec<String>,
    experiment: Option<&Experiment>,
) -> anyhow::Result<()> {
    match command {
        Command::Sample(w) => walk(w, argv, experiment),
        Command::Sweep(w) => walk(w, argv, experiment),
        Command::Escape(w) => walk(w, argv, experiment),
        Command::Basins(w) => walk(w, argv, experiment),
        Command::List => {
            info::list();
            Ok(())
        }
        Command::Devices => {
            info::devices();
            Ok(())
        }
        Command::Bench(a) => info::bench(a),
        Command::Plot(a) => plot(a),
        Command::Merge(a) => merge(a, argv, experiment),
        Command::Run(a) => run_file(a),
        Command::Slurm(a) => slurm::slurm(a),
    }
}

/// `saddlescope plot DIR`: dispatches on manifest.json's "command".
fn plot(a: PlotArgs) -> anyhow::Result<()> {
    let dir = &a.dir;
    let m = Manifest::read(dir)?;
    if let Some(shard) = m.spec.get("shard").and_then(|s| s.as_str()) {
        return Err(SpecError::folder(
            dir,
            format!(
                "this folder is shard {shard} of a {} run: it has no tables or figures of its \
                 own; valid: merge the shards first (saddlescope merge --out DIR SHARD...) and \
                 plot the merged folder",
                m.command
            ),
        )
        .into());
    }
    match m.command.as_str() {
        SampleSpec::NAME => sample::redraw(dir)?,
        SweepSpec::NAME => sweep::redraw(dir)?,
        EscapeSpec::NAME => escape::redraw(dir)?,
        BasinsSpec::NAME => basins::redraw(dir)?,
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

/// `saddlescope merge --out DIR SHARD…`: the shards checked to be one run's, joined by their
/// command.
fn merge(a: MergeArgs, argv: Vec<String>, experiment: Option<&Experiment>) -> anyhow::Result<()> {
    let shards = run::merge::read_shards(&a.shards)?;
    let inv = Invocation { argv, experiment };
    let done = match shards[0].manifest.command.as_str() {
        SampleSpec::NAME => sample::merge(&a.out, &shards, &inv)?,
        BasinsSpec::NAME => basins::merge(&a.out, &shards, &inv)?,
        SweepSpec::NAME => sweep::merge(&a.out, &shards, &inv)?,
        EscapeSpec::NAME => escape::merge(&a.out, &shards, &inv)?,
        other => {
            return Err(SpecError::Spec {
                context: "merge".into(),
                problem: format!(
                "cannot join shards of '{other}'; valid: shards of sample, basins, sweep or escape"
            ),
            }
            .into())
        }
    };
    for line in done.summary {
        println!("{line}");
    }
    Ok(())
}

/// `saddlescope run FILE.toml`: the file's command line, parsed by the same definitions as a
/// typed one, then run and recorded.
fn run_file(a: RunArgs) -> anyhow::Result<()> {
    let mut exp: Experiment = experiment::load(&a.file)?;
    if a.resume {
        exp.argv.push("--resume".into());
    }
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
    dispatch(cli.command, exp.argv.clone(), Some(&exp))
}

/// The command line as typed, with the program called by its name (for manifest.json).
pub fn typed_argv() -> Vec<String> {
    let mut argv: Vec<String> = std::env::args().collect();
    if let Some(first) = argv.first_mut() {
        *first = "saddlescope".into();
    }
    argv
}
