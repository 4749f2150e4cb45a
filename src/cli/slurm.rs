//! `saddlescope slurm [OPTIONS] COMMAND ARGS…`: the run is parsed by the same definitions as
//! a typed command and held to every check its command makes before it needs a machine
//! (`run::check`), then each array task's command line is parsed and checked again as the
//! task will run it, so a bad spec is exit 2 now and not a failed job on the cluster. Then the
//! scripts are written (`saddlescope::slurm`) and, with `--submit`, queued.

use std::path::{Path, PathBuf};

use saddlescope::backend::BackendChoice;
use saddlescope::experiment::{self, shell_line};
use saddlescope::run;
use saddlescope::run::memory::Available;
use saddlescope::slurm::{self, sbatch, submit, Job, SlurmOptions};
use saddlescope::spec::SpecError;

use super::{Cli, Command, Walking};

#[derive(clap::Args)]
pub struct SlurmArgs {
    #[command(flatten)]
    opts: SlurmOptions,
    /// The run, as it would be typed after `saddlescope` (sample, escape, basins or sweep,
    /// with --out and without --shard), after slurm's own options (or after `--`).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        required = true,
        value_name = "COMMAND"
    )]
    command: Vec<String>,
}

/// What the checks found of a command line.
struct Checked {
    spec: serde_json::Value,
    out: Option<PathBuf>,
    backend: BackendChoice,
}

/// `saddlescope slurm`: every check, then the scripts, then (with `--submit`) the two sbatch
/// calls; prints what was written and how to submit it, or the job ids.
pub fn slurm(a: SlurmArgs) -> anyhow::Result<()> {
    let opts = &a.opts;
    refuse_non_sharding(&a.command)?;
    let run = check(&parse(&a.command, "the command")?, None)?;
    if run.spec.get("shard").is_some_and(|s| !s.is_null()) {
        return Err(SpecError::Spec {
            context: "slurm: --shard".into(),
            problem: "each array task gives its own --shard K/N (N from --shards); valid: the \
                      command without --shard"
                .into(),
        }
        .into());
    }
    let Some(out) = run.out.clone() else {
        return Err(SpecError::Spec {
            context: "slurm".into(),
            problem: "the command has no --out; valid: the command with --out DIR, the folder \
                      the merge job writes the run into (the shards go into DIR.shards)"
                .into(),
        }
        .into());
    };
    let job = Job::new(opts, &a.command, &out, &std::env::current_exe()?)?;
    let limit = opts.mem_limit()?;
    let mut ks = vec![1, job.shards];
    ks.dedup();
    for k in ks {
        check_task(&job, k, &run, limit.as_ref())?;
    }
    job.check_folders()?;
    let sbatch = opts.submit.then(submit::find_sbatch).transpose()?;
    warn(&job, opts, &run);
    let written = job.write()?;
    println!(
        "wrote {}: {} array tasks, task K runs shard K/{} into {}",
        written.array.display(),
        job.shards,
        job.shards,
        job.shard_root()
            .join(format!("K-of-{}", job.shards))
            .display()
    );
    println!(
        "wrote {}: joins the {} shards into {}",
        written.merge.display(),
        job.shards,
        job.out.display()
    );
    println!("logs: {}", job.logs_dir().display());
    let Some(sbatch) = sbatch else {
        println!(
            "submit: jid=$(sbatch --parsable {}) && sbatch --dependency=afterok:${{jid%%;*}} {}",
            experiment::shell_word(&written.array.display().to_string()),
            experiment::shell_word(&written.merge.display().to_string())
        );
        return Ok(());
    };
    let ids = submit::submit(&sbatch, &written)?;
    println!(
        "submitted array job {} ({} tasks) and merge job {} (it starts when every task of {} \
         has succeeded)",
        ids.array, job.shards, ids.merge, ids.array
    );
    println!(
        "watch: squeue -j {},{}; the run will be {}",
        ids.array,
        ids.merge,
        job.out.display()
    );
    Ok(())
}

/// `args` parsed as a saddlescope command line.
fn parse(args: &[String], what: &str) -> Result<Command, SpecError> {
    let mut argv = vec!["saddlescope".to_string()];
    argv.extend(args.iter().cloned());
    clap::Parser::try_parse_from(&argv)
        .map(|c: Cli| c.command)
        .map_err(|e| {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                e.exit();
            }
            SpecError::Invalid(format!(
                "slurm: {what} is not a saddlescope command line:\n  {}\n{}\n(slurm's own \
                 options, --shards, --partition, …, come before the command)",
                shell_line(&argv),
                e.render().to_string().trim_end()
            ))
        })
}

/// A command that does not shard is refused by its name, whatever its arguments.
fn refuse_non_sharding(args: &[String]) -> Result<(), SpecError> {
    let first = args.first().map(String::as_str).unwrap_or("");
    match first {
        "run" => Err(experiment_refused(Path::new(
            args.get(1).map(String::as_str).unwrap_or("FILE.toml"),
        ))),
        "list" | "devices" | "bench" | "plot" | "merge" | "slurm" => Err(not_sharding(first)),
        _ => Ok(()),
    }
}

fn not_sharding(name: &str) -> SpecError {
    SpecError::Spec {
        context: format!("slurm: '{name}'"),
        problem: format!(
            "does not shard, so it does not run as a job array; valid: {}",
            slurm::SHARDING.join(", ")
        ),
    }
}

/// The checks of a walking command; other commands are refused.
fn check(cmd: &Command, limit: Option<&Available>) -> Result<Checked, SpecError> {
    match cmd {
        Command::Sample(w) => walking(w, limit),
        Command::Escape(w) => walking(w, limit),
        Command::Basins(w) => walking(w, limit),
        Command::Sweep(w) => walking(w, limit),
        Command::Run(r) => Err(experiment_refused(&r.file)),
        other => Err(not_sharding(name(other))),
    }
}

fn name(c: &Command) -> &'static str {
    match c {
        Command::Sample(_) => "sample",
        Command::List => "list",
        Command::Devices => "devices",
        Command::Bench(_) => "bench",
        Command::Escape(_) => "escape",
        Command::Basins(_) => "basins",
        Command::Sweep(_) => "sweep",
        Command::Run(_) => "run",
        Command::Plot(_) => "plot",
        Command::Merge(_) => "merge",
        Command::Slurm(_) => "slurm",
    }
}

/// An experiment file's run goes to slurm as its command line (shown when the file reads).
fn experiment_refused(file: &Path) -> SpecError {
    let line = experiment::load(file)
        .map(|e| format!(": {}", shell_line(e.argv.get(1..).unwrap_or_default())))
        .unwrap_or_default();
    SpecError::Spec {
        context: format!("slurm: 'run {}'", file.display()),
        problem: format!(
            "an experiment file goes to slurm as the command line it stands for; valid: \
             saddlescope slurm --shards N … followed by that command line{line}"
        ),
    }
}

fn walking<S: clap::Args + run::Command>(
    w: &Walking<S>,
    limit: Option<&Available>,
) -> Result<Checked, SpecError> {
    let r = run::check(&w.spec, &w.exec)?;
    if let Some(limit) = limit {
        let need = w.spec.memory(&r);
        sbatch::check_memory(&need.what, &need.estimate, limit)?;
    }
    let spec = serde_json::to_value(&w.spec)
        .map_err(|e| SpecError::Invalid(format!("slurm: the spec as JSON: {e}")))?;
    Ok(Checked {
        spec,
        out: w.exec.out.clone(),
        backend: w.exec.backend,
    })
}

/// Array task `k`'s command line, checked as the task will run it: it parses, resolves as
/// shard k/N (so N is not more than the run's walkers, pixels or instances), fits `--mem`,
/// and is the run's spec but for its shard.
fn check_task(
    job: &Job,
    k: usize,
    run: &Checked,
    limit: Option<&Available>,
) -> Result<(), SpecError> {
    let args = job.task_args(k);
    let what = format!("array task {k}");
    let task = check(&parse(&args, &what)?, limit).map_err(|e| SpecError::Spec {
        context: format!(
            "slurm --shards {}: {what} (--shard {k}/{})",
            job.shards, job.shards
        ),
        problem: e.to_string(),
    })?;
    let mut spec = task.spec.clone();
    if let Some(o) = spec.as_object_mut() {
        o.remove("shard");
    }
    if spec != run.spec || task.backend != run.backend {
        return Err(SpecError::Invalid(format!(
            "slurm: {what}'s command line ({}) is not the command's run but for --shard and \
             --out",
            shell_line(&args)
        )));
    }
    Ok(())
}

/// Notes on what the cluster will hold the job to that cannot be checked here.
fn warn(job: &Job, opts: &SlurmOptions, run: &Checked) {
    if opts.binary.is_some() && !job.binary.is_file() {
        eprintln!(
            "warning: --binary {} is not a file here; the tasks run it on the nodes",
            job.binary.display()
        );
    }
    if job.shards > 1000 {
        eprintln!(
            "warning: --shards {} makes array indices up to {}; Slurm's MaxArraySize is 1001 \
             (indices up to 1000) unless the cluster sets more (scontrol show config | grep \
             MaxArraySize), and sbatch refuses a larger array",
            job.shards, job.shards
        );
    }
    if run.backend == BackendChoice::Auto && job.shards > 1 {
        eprintln!(
            "warning: the tasks run with --backend auto, which takes a hardware GPU where a node \
             has one and the CPU engine where not; merge refuses shards of both kinds (f32 and \
             f64 end states), so give --backend gpu (with --gpus) or --backend cpu"
        );
    }
}
