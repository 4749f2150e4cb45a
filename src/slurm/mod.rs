//! `saddlescope slurm`: one run of a walking command as a Slurm job array of its shards and a
//! merge job that depends on it. The command line after slurm's own options is the run as it
//! would be typed (checked by the binary before anything here is written); slurm writes
//! `array.sbatch` (task K runs `--shard K/N --out OUT.shards/K-of-N`) and `merge.sbatch`
//! (`merge --out OUT` of the N shard folders) into the script folder, and with `--submit`
//! queues both (`submit.rs`).
//!
//! Every path in the scripts is absolute and the tasks start in the working directory slurm
//! ran in, so relative paths inside specs (`--from critical:DIR,ID`, `--catalogue DIR`) mean
//! what they meant where the job was written.

pub mod sbatch;
pub mod script;
pub mod submit;

use std::io::Write;
use std::path::{Component, Path, PathBuf};

pub use sbatch::{Header, SlurmOptions};

use crate::experiment::shell_line;
use crate::run::RunFolder;
use crate::spec::SpecError;

/// The commands whose runs shard (`--shard K/N`) and merge.
pub const SHARDING: [&str; 4] = ["sample", "escape", "basins", "sweep"];

/// A job: the run, how it is split, and where everything goes (absolute paths).
#[derive(Debug, Clone)]
pub struct Job {
    /// The command's name (sample, escape, basins, sweep).
    pub command: String,
    /// The command line without `saddlescope` and without `--out`, starting with the command.
    pub args: Vec<String>,
    /// The merged run folder.
    pub out: PathBuf,
    pub shards: usize,
    /// Where the tasks start: the working directory of `saddlescope slurm`.
    pub workdir: PathBuf,
    /// The saddlescope the tasks run.
    pub binary: PathBuf,
    /// array.sbatch, merge.sbatch and logs/.
    pub script_dir: PathBuf,
    pub header: Header,
}

/// The files a job was written as.
#[derive(Debug, Clone)]
pub struct Written {
    pub array: PathBuf,
    pub merge: PathBuf,
}

impl Job {
    /// A job of `args` (the command line after slurm's options, `--out` and all) into `out`,
    /// laid out by `opts`; `binary` is the saddlescope running now (used unless `--binary`).
    pub fn new(
        opts: &SlurmOptions,
        args: &[String],
        out: &Path,
        binary: &Path,
    ) -> Result<Job, SpecError> {
        let command = args.first().cloned().unwrap_or_default();
        let header = opts.header(&command)?;
        let workdir = std::env::current_dir()
            .map_err(|e| SpecError::Invalid(format!("slurm: no working directory ({e})")))?;
        let out = absolute(&workdir, out);
        let Some(name) = out.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            return Err(SpecError::folder(
                &out,
                "--out must name a run folder (not / or ..)",
            ));
        };
        let script_dir = match &opts.script_dir {
            Some(d) => absolute(&workdir, d),
            None => out.with_file_name(format!("{name}.slurm")),
        };
        let binary = absolute(&workdir, opts.binary.as_deref().unwrap_or(binary));
        let job = Job {
            command,
            args: without_out(args),
            out,
            shards: opts.shards,
            workdir,
            binary,
            script_dir,
            header,
        };
        job.check_log_paths()?;
        Ok(job)
    }

    /// OUT.shards: the shard folders' parent, beside OUT.
    pub fn shard_root(&self) -> PathBuf {
        let name = self.out.file_name().unwrap_or_default().to_string_lossy();
        self.out.with_file_name(format!("{name}.shards"))
    }

    /// The folder of shard `k` (1-based): OUT.shards/K-of-N.
    pub fn shard_dir(&self, k: usize) -> PathBuf {
        self.shard_root().join(format!("{k}-of-{}", self.shards))
    }

    pub fn logs_dir(&self) -> PathBuf {
        self.script_dir.join("logs")
    }

    pub fn array_path(&self) -> PathBuf {
        self.script_dir.join("array.sbatch")
    }

    pub fn merge_path(&self) -> PathBuf {
        self.script_dir.join("merge.sbatch")
    }

    /// The command line of shard `k` as array task `k` runs it (after the binary).
    pub fn task_args(&self, k: usize) -> Vec<String> {
        let mut a = self.args.clone();
        a.extend([
            "--shard".into(),
            format!("{k}/{}", self.shards),
            "--out".into(),
            self.shard_dir(k).display().to_string(),
        ]);
        a
    }

    /// The run as one command would do it, for the scripts' first lines.
    pub fn command_line(&self) -> String {
        let mut a = vec!["saddlescope".to_string()];
        a.extend(self.args.iter().cloned());
        a.extend(["--out".into(), self.out.display().to_string()]);
        shell_line(&a)
    }

    /// The log paths go into #SBATCH --output lines, which no shell reads and where Slurm
    /// gives `%` a meaning: they must need no quoting.
    fn check_log_paths(&self) -> Result<(), SpecError> {
        let text = self.logs_dir().display().to_string();
        if text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "'\"\\%#$`".contains(c))
        {
            return Err(SpecError::folder(
                &self.script_dir,
                "the script folder's path goes into #SBATCH --output lines, which sbatch reads \
                 without a shell; valid: a path without spaces, quotes, '\\', '%', '#', '$' or \
                 '`' (choose one with --script-dir)",
            ));
        }
        Ok(())
    }

    /// Refuses a job whose folders are taken: OUT or a shard folder that holds something (as
    /// a run would refuse it, but now instead of on the cluster), or a script folder that
    /// holds another job's scripts.
    pub fn check_folders(&self) -> Result<(), SpecError> {
        RunFolder::vacant(&self.out)?;
        for k in 1..=self.shards {
            RunFolder::vacant(&self.shard_dir(k))?;
        }
        for p in [self.array_path(), self.merge_path()] {
            if p.exists() {
                return Err(SpecError::folder(
                    &self.script_dir,
                    format!(
                        "already holds {} of another job; valid: another --script-dir, or \
                         remove the folder",
                        p.file_name().unwrap_or_default().to_string_lossy()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Writes array.sbatch and merge.sbatch (and makes logs/): each file whole or not at
    /// all, never over an existing one.
    pub fn write(&self) -> Result<Written, SpecError> {
        let cannot = |p: &Path, e: std::io::Error| {
            SpecError::folder(p, format!("cannot write the job's scripts ({e})"))
        };
        std::fs::create_dir_all(self.logs_dir()).map_err(|e| cannot(&self.script_dir, e))?;
        let (array, merge) = (self.array_path(), self.merge_path());
        write_new(&array, &script::array(self)).map_err(|e| cannot(&array, e))?;
        if let Err(e) = write_new(&merge, &script::merge(self)) {
            let _ = std::fs::remove_file(&array);
            return Err(cannot(&merge, e));
        }
        Ok(Written { array, merge })
    }
}

/// The command line without its `--out DIR` (or `--out=DIR`): each task gives its own.
pub fn without_out(args: &[String]) -> Vec<String> {
    let mut v = Vec::with_capacity(args.len());
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--out" {
            it.next();
        } else if !a.starts_with("--out=") {
            v.push(a.clone());
        }
    }
    v
}

/// `p` made absolute against `base`, `.` and `..` taken out by their meaning in the text
/// (the folder names derived from it, OUT.shards and OUT.slurm, are then beside OUT).
pub fn absolute(base: &Path, p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in base.join(p).components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Writes `text` to `path` (mode 0755) through a temporary file linked into place, so the file
/// is whole when it appears and an existing one is never replaced.
fn write_new(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let done = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(std::fs::Permissions::from_mode(0o755))?;
        }
        std::fs::hard_link(&tmp, path)
    })();
    let _ = std::fs::remove_file(&tmp);
    done
}

#[cfg(test)]
mod tests;
