//! The one executor every command runs through (the shape of argmin's `Executor` with
//! observers): the command resolves its spec (every usage error surfaces there), the executor
//! chooses the backend, checks what the backend must hold, opens the run folder, hands the
//! command a [`Ctx`] to walk and write through, times its stages, and writes the manifest last.
//! Commands never print: progress and notes go to the [`Observer`], the summary comes back as
//! lines for the caller to show.

pub mod folder;
pub mod lock;
pub mod memory;
pub mod merge;
pub mod options;
pub mod resume;
pub mod shard;

use std::path::PathBuf;
use std::time::Instant;

use crate::backend::{Backend, BackendChoice};
use crate::experiment::Experiment;
use crate::objective::Objective;
use crate::rules::Optimizer;
use crate::spec::SpecError;

pub use folder::{Manifest, Resolved, RunFolder};
pub use options::{ExecOptions, WalkOptions};
pub use resume::Checkpointer;

/// Who watches a run: a person at a terminal or a batch job's log.
pub trait Observer: Sync {
    /// A line saying what runs, or a note.
    fn line(&self, text: &str);
    /// A stage with a progress count starts; `total` is its count when complete.
    fn start(&self, stage: &str, total: u64);
    /// The count so far (walker-steps: a stopped walker counts as all its steps done).
    fn progress(&self, done: u64);
    /// The stage with a progress count has ended.
    fn finish(&self);
}

/// An observer that shows nothing (library use, tests).
pub struct Silent;

impl Observer for Silent {
    fn line(&self, _: &str) {}
    fn start(&self, _: &str, _: u64) {}
    fn progress(&self, _: u64) {}
    fn finish(&self) {}
}

/// Seconds per stage, in the order the stages first ran; a stage that runs again adds up.
#[derive(Debug, Clone, Default)]
pub struct Timings {
    stages: Vec<(String, f64)>,
}

impl Timings {
    pub fn add(&mut self, stage: &str, seconds: f64) {
        match self.stages.iter_mut().find(|(s, _)| s == stage) {
            Some((_, t)) => *t += seconds,
            None => self.stages.push((stage.to_string(), seconds)),
        }
    }
    /// Runs `f` as (part of) `stage`.
    pub fn time<T>(&mut self, stage: &str, f: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let out = f();
        self.add(stage, t.elapsed().as_secs_f64());
        out
    }
    pub fn get(&self, stage: &str) -> f64 {
        self.stages
            .iter()
            .find(|(s, _)| s == stage)
            .map_or(0.0, |(_, t)| *t)
    }
    pub fn stages(&self) -> &[(String, f64)] {
        &self.stages
    }
}

/// What a command runs with.
pub struct Ctx<'a> {
    pub backend: &'a Backend,
    pub folder: &'a RunFolder,
    pub observer: &'a dyn Observer,
    pub timings: Timings,
    /// The run's checkpoints (None: a run that keeps none, as `merge`).
    pub checkpoints: Option<&'a Checkpointer>,
    started: Instant,
}

impl<'a> Ctx<'a> {
    pub fn new(backend: &'a Backend, folder: &'a RunFolder, observer: &'a dyn Observer) -> Self {
        Ctx {
            backend,
            folder,
            observer,
            timings: Timings::default(),
            checkpoints: None,
            started: Instant::now(),
        }
    }

    /// The progress callback a walk reports to, `base` walker-steps already done before it.
    pub fn progress(&self, base: u64) -> impl Fn(u64) + Sync + '_ {
        move |d| self.observer.progress(base + d)
    }

    /// Walks on the run's backend ([`Backend::walk_instances`]) with the run's checkpoints,
    /// under `key` (unique among the run's walks): an interrupted run's walk continues from its
    /// last checkpoint. `base`: walker-steps of the run done before this walk (progress).
    #[allow(clippy::too_many_arguments)]
    pub fn walk_instances(
        &self,
        key: &str,
        objs: &[&dyn Objective],
        opt: &Optimizer,
        plan: &crate::walk::WalkPlan,
        starts: &[f64],
        hyper: &crate::walk::Hyper,
        base: u64,
    ) -> Result<crate::walk::EndStates, crate::gpu::GpuError> {
        let n = objs.first().map_or(1, |o| o.dim()).max(1);
        let ck = self.checkpoints.map(|c| c.walk(key, starts.len() / n, n));
        let ck = ck
            .as_ref()
            .map(|c| c as &dyn crate::walk::snapshot::Checkpoints);
        let progress = self.progress(base);
        self.backend
            .walk_instances_from(objs, opt, plan, starts, hyper, &progress, ck)
    }
}

/// What a command hands back: what it resolved and found for the manifest, and its summary.
pub struct Report {
    pub resolved: Resolved,
    /// The command's own top-level manifest keys (status_counts, critical_points, …).
    pub results: serde_json::Map<String, serde_json::Value>,
    /// "f32" or "f64": the precision the walk ran in.
    pub precision: &'static str,
    /// Lines for the person who ran it.
    pub summary: Vec<String>,
}

/// A command the executor can run.
pub trait Command: serde::Serialize {
    /// As typed, and the first word of default folder names.
    const NAME: &'static str;
    type Resolved;
    /// Checks and resolves the spec: every usage error, before anything is written.
    fn resolve(&self) -> Result<Self::Resolved, SpecError>;
    /// The objective spec as given (default folders are named by its name).
    fn objective(&self) -> &str;
    fn seed(&self) -> u64;
    /// Every optimizer the run walks with.
    fn optimizers<'a>(&self, r: &'a Self::Resolved) -> Vec<&'a Optimizer>;
    /// What the run will hold in memory (checked against the machine's before the backend is
    /// chosen or anything is allocated).
    fn memory(&self, r: &Self::Resolved) -> memory::Need;
    /// Usage checks that need the backend (what the GPU's f32 must hold).
    fn check(&self, r: &Self::Resolved, backend: &Backend) -> Result<(), SpecError>;
    /// One line saying what runs (the executor adds "via <backend>").
    fn describe(&self, r: &Self::Resolved) -> String;
    /// Walker-steps of the whole run when every walker runs to the end (progress).
    fn work(&self, r: &Self::Resolved) -> u64;
    /// The landscape the run walks, when it is one: its [`Objective::saved_arrays`] (a
    /// network loss's data) go into the run folder. `sweep`, which walks many, saves none.
    fn landscape<'a>(&self, _r: &'a Self::Resolved) -> Option<&'a dyn Objective> {
        None
    }
    /// Walks and writes its files into `ctx.folder`.
    fn run(&self, r: &Self::Resolved, ctx: &mut Ctx) -> anyhow::Result<Report>;
}

/// How the command was invoked, for the manifest.
#[derive(Default)]
pub struct Invocation<'a> {
    /// The command line, starting with "saddlescope".
    pub argv: Vec<String>,
    pub experiment: Option<&'a Experiment>,
}

/// A finished run: its folder and the summary to show.
pub struct Finished {
    pub dir: PathBuf,
    pub summary: Vec<String>,
}

/// The backend for a command's optimizers: rules that exist only on the CPU twin refuse
/// `--backend gpu`, and when every optimizer is such a rule, `auto` opens no adapter; a
/// `--precision` the backend cannot walk in is refused (`BackendChoice::with_precision`).
fn choose(exec: &ExecOptions, opts: &[&Optimizer]) -> Result<BackendChoice, SpecError> {
    exec.backend.with_precision(exec.precision)?;
    let choice = exec.backend;
    for o in opts {
        choice.for_optimizer(o)?;
    }
    if !opts.is_empty() && opts.iter().all(|o| o.rule.cpu_only()) {
        return Ok(BackendChoice::Cpu);
    }
    Ok(choice)
}

/// The usage checks of [`execute`] that need neither this machine nor an adapter: the spec
/// resolved, and the backend the optimizers allow. `saddlescope slurm` holds a job's runs to
/// them before queueing it, since its runs execute later, elsewhere (so the memory and
/// adapter checks are theirs).
pub fn check<C: Command>(cmd: &C, exec: &ExecOptions) -> Result<C::Resolved, SpecError> {
    let r = cmd.resolve()?;
    choose(exec, &cmd.optimizers(&r))?;
    Ok(r)
}

/// Runs `cmd`: resolve, backend, folder (new, or the interrupted run's with `--resume`), run,
/// manifest.
pub fn execute<C: Command>(
    cmd: &C,
    exec: &ExecOptions,
    inv: &Invocation,
    observer: &dyn Observer,
) -> anyhow::Result<Finished> {
    let r = cmd.resolve()?;
    cmd.memory(&r).check()?;
    let choice = choose(exec, &cmd.optimizers(&r))?;
    let backend = Backend::open(choice, exec.precision)?.with_twin_check(!exec.no_twin_check);
    cmd.check(&r, &backend)?;
    let record = resume::RunRecord {
        command: C::NAME.to_string(),
        saddlescope_version: env!("CARGO_PKG_VERSION").to_string(),
        spec: serde_json::to_value(cmd)?,
        resolved: cmd.describe(&r),
        engine: backend.engine_key(),
        started: crate::output::timestamp(),
    };
    let (folder, checkpoints) = open_folder(cmd, exec, record, observer)?;
    observer.line(&format!(
        "{}: {} via {}",
        C::NAME,
        cmd.describe(&r),
        backend.name()
    ));
    let mut ctx = Ctx::new(&backend, &folder, observer);
    ctx.checkpoints = Some(&checkpoints);
    observer.start("walking", cmd.work(&r));
    let report = save_arrays(&folder, cmd.landscape(&r)).and_then(|()| cmd.run(&r, &mut ctx));
    observer.finish();
    match report {
        Ok(mut report) => {
            if exec.resume {
                report
                    .results
                    .insert("resumed".into(), checkpoints.resumed_json());
            }
            let done = complete(cmd, ctx, report, inv)?;
            checkpoints.remove();
            Ok(done)
        }
        Err(e) => {
            // A run that wrote nothing and walked no checkpoint leaves nothing to resume.
            if folder.files().is_empty() && !checkpoints.has_progress() {
                checkpoints.remove();
            }
            folder.abandon();
            Err(e)
        }
    }
}

/// The run folder and its checkpoints: a new folder (`--out` absent or empty, or a default
/// one) with the run's record, or with `--resume` the interrupted run's folder, checked
/// against the record and cleared of its temporary files.
fn open_folder<C: Command>(
    cmd: &C,
    exec: &ExecOptions,
    record: resume::RunRecord,
    observer: &dyn Observer,
) -> Result<(RunFolder, Checkpointer), SpecError> {
    if !exec.resume {
        let folder = RunFolder::create(exec.out.as_deref(), C::NAME, cmd.objective())?;
        let ck = Checkpointer::start(folder.path(), record).map_err(|e| {
            SpecError::folder(
                folder.path(),
                format!(
                    "cannot write the run's record {}/run.json ({e})",
                    resume::CHECKPOINT_DIR
                ),
            )
        });
        return match ck {
            Ok(ck) => Ok((folder, ck)),
            Err(e) => {
                let _ = std::fs::remove_dir_all(folder.join(resume::CHECKPOINT_DIR));
                folder.abandon();
                Err(e)
            }
        };
    }
    let dir = exec.out.as_deref().ok_or_else(|| {
        SpecError::Invalid(
            "--resume continues an interrupted run in its folder; valid: --resume with --out DIR, \
             the folder of that run"
                .into(),
        )
    })?;
    let mut old = None;
    let folder = RunFolder::reopen(dir, C::NAME, || {
        old = Some(resume::check(dir, &record)?);
        Ok(())
    })?;
    let (ck, removed) = Checkpointer::resume(dir, old.unwrap_or(record));
    if !removed.is_empty() {
        observer.line(&format!(
            "resume: removed the unfinished temporary files of the interrupted run: {}",
            removed.join(", ")
        ));
    }
    Ok((folder, ck))
}

/// Writes the landscape's own arrays (the data of a network loss) into the run folder.
pub(crate) fn save_arrays(folder: &RunFolder, obj: Option<&dyn Objective>) -> anyhow::Result<()> {
    for a in obj.map(|o| o.saved_arrays()).unwrap_or_default() {
        folder.write_npy(a.name, &a.shape, &a.data)?;
    }
    Ok(())
}

/// Finishes a run: the experiment file's copy, the manifest (last), the summary.
pub fn complete<C: Command>(
    cmd: &C,
    ctx: Ctx,
    report: Report,
    inv: &Invocation,
) -> anyhow::Result<Finished> {
    let Ctx {
        backend,
        folder,
        mut timings,
        started,
        ..
    } = ctx;
    if let Some(exp) = inv.experiment {
        folder.write("experiment.toml", exp.text.as_bytes())?;
    }
    timings.add("total", started.elapsed().as_secs_f64());
    let manifest = Manifest {
        command: C::NAME.to_string(),
        saddlescope_version: env!("CARGO_PKG_VERSION").to_string(),
        argv: inv.argv.clone(),
        experiment: inv.experiment.map(|e| {
            serde_json::json!({"file": "experiment.toml", "source": e.path.display().to_string()})
        }),
        spec: serde_json::to_value(cmd)?,
        resolved: report.resolved,
        seed: cmd.seed(),
        backend: backend.describe(),
        precision: report.precision.to_string(),
        timings_s: timings.stages().iter().cloned().collect(),
        files: folder.files(),
        results: report.results,
    };
    folder.write_manifest(&manifest)?;
    let mut summary = vec![format!("wrote {}", folder.path().display())];
    if let Some(t) = backend.twin_summary() {
        summary.push(t.line());
    }
    summary.extend(report.summary);
    let stages: Vec<String> = timings
        .stages()
        .iter()
        .map(|(s, t)| format!("{s} {t:.3} s"))
        .collect();
    summary.push(format!("timings: {}", stages.join(", ")));
    Ok(Finished {
        dir: folder.path().to_path_buf(),
        summary,
    })
}
