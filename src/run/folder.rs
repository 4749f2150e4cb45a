//! The run folder: where a run writes, what it wrote, and its manifest.
//!
//! Every file goes through [`RunFolder`], which writes it atomically (a temporary name, then a
//! rename) and records its name; the manifest lists exactly those files and is written last,
//! so a folder without manifest.json is an interrupted run. [`Manifest`] is the one typed
//! reader of manifest.json for every command (`plot`, `--catalogue`, `--from critical:`).
//!
//! A run writes only into a folder that is absent or empty, and holds the folder's lock
//! ([`super::lock`]) from before its first file until it ends: a second run into the same
//! folder is refused while the first runs (the lock's pid is alive), and afterwards too (the
//! folder then holds a finished run, or an interrupted one: files without manifest.json, or a
//! lock whose pid is dead). The manifest is written only while the lock is still this run's and
//! never over another manifest, so of two runs into one folder the later can never silently
//! replace the earlier. Temporary files (`.NAME.tmpPID`, see `output::write_atomic`) and the
//! lock are dot files that no manifest lists and no reader opens.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::lock::{Lock, LockInfo, LOCK_FILE};
use crate::output::{self, Csv, NpyElement};
use crate::spec::SpecError;

/// A run folder being written.
pub struct RunFolder {
    dir: PathBuf,
    /// Files written, in the order they were written.
    files: Mutex<Vec<String>>,
    /// True when this run made the folder (an empty one is removed if the run fails).
    created: bool,
    /// The folder's lock, held until the run ends (dropped with the folder).
    lock: Mutex<Option<Lock>>,
}

/// The default run folder of a command: outputs/<command>-<objective name>-<UTC time>, the
/// objective's name being its spec up to the first ':'.
pub fn default_dir(command: &str, objective: &str) -> PathBuf {
    let name = objective.split(':').next().unwrap_or("run");
    Path::new("outputs").join(format!("{command}-{name}-{}", output::timestamp()))
}

impl RunFolder {
    /// Opens the run folder: `out` as given (refused when it already holds a run), or a new
    /// default folder, made unique by a suffix -2, -3, … when another run took the name in the
    /// same second (claimed by an atomic `create_dir`, so concurrent runs never share one).
    pub fn create(
        out: Option<&Path>,
        command: &str,
        objective: &str,
    ) -> Result<RunFolder, SpecError> {
        RunFolder::create_in(Path::new("."), out, command, objective)
    }

    /// [`RunFolder::create`] with default folders under `root` (the working directory).
    pub fn create_in(
        root: &Path,
        out: Option<&Path>,
        command: &str,
        objective: &str,
    ) -> Result<RunFolder, SpecError> {
        let cannot = |dir: &Path, e: std::io::Error| {
            SpecError::folder(dir, format!("cannot create the output folder ({e})"))
        };
        if let Some(dir) = out {
            return RunFolder::claim(dir, command);
        }
        let base = root.join(default_dir(command, objective));
        if let Some(parent) = base.parent() {
            std::fs::create_dir_all(parent).map_err(|e| cannot(parent, e))?;
        }
        for k in 1.. {
            let dir = if k == 1 {
                base.clone()
            } else {
                PathBuf::from(format!("{}-{k}", base.display()))
            };
            match std::fs::create_dir(&dir) {
                Ok(()) => {
                    let lock = Lock::take(&dir, command).map_err(|_| {
                        SpecError::folder(&dir, "cannot create the folder's lock file")
                    })?;
                    return Ok(RunFolder {
                        dir,
                        files: Mutex::new(Vec::new()),
                        created: true,
                        lock: Mutex::new(Some(lock)),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(cannot(&dir, e)),
            }
        }
        unreachable!("the suffixes never run out")
    }

    /// Whether a run could write into `dir` now (absent, or an empty folder without a lock),
    /// refused with the message [`RunFolder::create`] would give; nothing is made or taken.
    /// `saddlescope slurm` holds the folders of a job to it before the job is queued; the job's
    /// runs claim them for real later.
    pub fn vacant(dir: &Path) -> Result<(), SpecError> {
        if dir.join("manifest.json").exists() {
            return Err(finished(dir));
        }
        if !dir.exists() {
            return Ok(());
        }
        if !dir.is_dir() {
            return Err(SpecError::folder(
                dir,
                "--out names a file, not a folder; valid: a folder that is absent or empty",
            ));
        }
        let lock = LockInfo::read(dir);
        if let Some(info) = lock.as_ref().filter(|l| l.alive()) {
            return Err(SpecError::folder(
                dir,
                format!(
                    "{} is writing into this folder now ({LOCK_FILE}); choose another --out",
                    info.describe()
                ),
            ));
        }
        if lock.is_some() || !contents(dir).is_empty() {
            return Err(interrupted(dir, lock.as_ref()));
        }
        Ok(())
    }

    /// Opens `--out DIR` for `command`: made when absent, taken when empty, refused (with what
    /// is there and what to do) when it holds a finished run, a running one or an interrupted
    /// one. The lock is taken before the folder is inspected, so two runs started together
    /// cannot both find it empty.
    fn claim(dir: &Path, command: &str) -> Result<RunFolder, SpecError> {
        if dir.join("manifest.json").exists() {
            return Err(finished(dir));
        }
        if dir.exists() && !dir.is_dir() {
            return Err(SpecError::folder(
                dir,
                "--out names a file, not a folder; valid: a folder that is absent or empty",
            ));
        }
        let created = !dir.exists();
        std::fs::create_dir_all(dir).map_err(|e| {
            SpecError::folder(dir, format!("cannot create the output folder ({e})"))
        })?;
        let lock = match Lock::take(dir, command) {
            Ok(lock) => lock,
            Err(Some(info)) if info.alive() => return Err(running(dir, &info)),
            Err(info) => return Err(interrupted(dir, info.as_ref())),
        };
        if dir.join("manifest.json").exists() {
            return Err(finished(dir));
        }
        if !contents(dir).is_empty() {
            drop(lock);
            return Err(interrupted(dir, None));
        }
        Ok(RunFolder {
            dir: dir.to_path_buf(),
            files: Mutex::new(Vec::new()),
            created,
            lock: Mutex::new(Some(lock)),
        })
    }

    /// Opens the folder of an interrupted run to continue it (`--resume`): refused when it is
    /// absent or empty (nothing to resume), holds a finished run, or is locked by a live run,
    /// then by `check` (the run's record, `run::resume::check`), before anything is changed.
    /// A lock left by a killed run is then replaced by this run's (atomically: of two resumes
    /// started together one gets it).
    pub fn reopen(
        dir: &Path,
        command: &str,
        check: impl FnOnce() -> Result<(), SpecError>,
    ) -> Result<RunFolder, SpecError> {
        if dir.join("manifest.json").exists() {
            return Err(finished_for_resume(dir));
        }
        if !dir.is_dir() || contents(dir).is_empty() {
            return Err(SpecError::folder(
                dir,
                "--resume: there is no interrupted run here (the folder is absent or empty); \
                 valid: the --out folder of an interrupted run, or leave out --resume to start \
                 a new run",
            ));
        }
        let stale = match LockInfo::read(dir) {
            Some(info) if info.alive() => return Err(running(dir, &info)),
            Some(info) => Some(info),
            None => None,
        };
        check()?;
        if stale.is_some() {
            // Only a lock whose process is gone; a race with another resume is settled by
            // create_new below.
            let _ = std::fs::remove_file(dir.join(LOCK_FILE));
        }
        let lock = Lock::take(dir, command).map_err(|info| match info {
            Some(info) => running(dir, &info),
            None => SpecError::folder(dir, "cannot create the folder's lock file"),
        })?;
        if dir.join("manifest.json").exists() {
            return Err(finished_for_resume(dir));
        }
        Ok(RunFolder {
            dir: dir.to_path_buf(),
            files: Mutex::new(Vec::new()),
            created: false,
            lock: Mutex::new(Some(lock)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The full path of a file of the folder (for readers; writers use the methods below).
    pub fn join(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn record(&self, name: &str) {
        if let Ok(mut f) = self.files.lock() {
            if !f.iter().any(|n| n == name) {
                f.push(name.to_string());
            }
        }
    }

    /// The files written so far, in order.
    pub fn files(&self) -> Vec<String> {
        self.files.lock().map(|f| f.clone()).unwrap_or_default()
    }

    /// Writes `bytes` as `name`, atomically.
    pub fn write(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        output::write_atomic(&self.dir.join(name), bytes)?;
        self.record(name);
        Ok(())
    }

    pub fn write_npy<T: NpyElement>(
        &self,
        name: &str,
        shape: &[usize],
        data: &[T],
    ) -> std::io::Result<()> {
        self.write(name, &output::npy_bytes(shape, data))
    }

    /// W x N positions in the precision the walk ran in.
    pub fn write_positions(
        &self,
        name: &str,
        w: usize,
        n: usize,
        x: &[f64],
        precision: &str,
    ) -> std::io::Result<()> {
        output::write_positions(&self.dir.join(name), w, n, x, precision)?;
        self.record(name);
        Ok(())
    }

    pub fn write_csv(&self, name: &str, csv: &Csv) -> std::io::Result<()> {
        csv.write(&self.dir.join(name))?;
        self.record(name);
        Ok(())
    }

    /// A figure written by `draw(stem)` as `stem.png` and `stem.svg` (the figure writers of
    /// crate::figure write both atomically).
    pub fn figure<E>(
        &self,
        stem: &str,
        draw: impl FnOnce(&Path) -> Result<(), E>,
    ) -> Result<(), E> {
        draw(&self.dir.join(stem))?;
        self.record(&format!("{stem}.png"));
        self.record(&format!("{stem}.svg"));
        Ok(())
    }

    /// Records files a writer put into the folder by their full names (figure sets whose
    /// stems only the writer knows).
    pub fn wrote(&self, names: &[String]) {
        for n in names {
            self.record(n);
        }
    }

    /// Writes the manifest, last: only while this run still holds the folder's lock, and
    /// never over a manifest that is already there (written under a temporary name, then
    /// linked to manifest.json, which fails when that exists, rather than renamed over it).
    pub fn write_manifest(&self, m: &Manifest) -> anyhow::Result<()> {
        let held = self
            .lock
            .lock()
            .map(|l| l.as_ref().is_some_and(Lock::held))
            .unwrap_or(false);
        if !held {
            return Err(SpecError::folder(
                &self.dir,
                format!(
                    "this run's lock ({LOCK_FILE}) was removed or taken by another run while it \
                     ran; its files are there but it writes no manifest.json"
                ),
            )
            .into());
        }
        let text = serde_json::to_string_pretty(m)?;
        let path = self.dir.join("manifest.json");
        let tmp = self
            .dir
            .join(format!(".manifest.json.tmp{}", std::process::id()));
        output::write_atomic(&tmp, text.as_bytes())?;
        let linked = std::fs::hard_link(&tmp, &path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(SpecError::folder(
                &self.dir,
                "another run wrote manifest.json into this folder while this one ran; a run \
                 never replaces another's manifest, so this one writes none",
            )
            .into()),
            // A file system without hard links: the existence check, then the rename.
            Err(_) if path.exists() => Err(SpecError::folder(
                &self.dir,
                "another run wrote manifest.json into this folder while this one ran",
            )
            .into()),
            Err(_) => Ok(output::write_atomic(&path, text.as_bytes())?),
        }
    }

    /// After a failed run: removes the folder if this run made it and wrote nothing into it;
    /// otherwise only its lock (the files stay, an interrupted run without manifest.json).
    pub fn abandon(&self) {
        if let Ok(mut l) = self.lock.lock() {
            l.take();
        }
        if self.created && self.files().is_empty() && contents(&self.dir).is_empty() {
            let _ = std::fs::remove_dir(&self.dir);
        }
    }
}

/// The names in `dir` other than its lock, sorted.
fn contents(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|it| {
            it.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n != LOCK_FILE)
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The refusal of a folder that a live run writes into now.
fn running(dir: &Path, info: &LockInfo) -> SpecError {
    SpecError::folder(
        dir,
        format!(
            "{} is writing into this folder now ({LOCK_FILE}); wait for it to end, or choose \
             another --out (if no run writes there, as when the pid now belongs to another \
             process, remove {})",
            info.describe(),
            dir.join(LOCK_FILE).display()
        ),
    )
}

/// The refusal of `--resume` into a folder whose run is finished.
fn finished_for_resume(dir: &Path) -> SpecError {
    let what = match Manifest::read(dir) {
        Ok(m) if !m.command.is_empty() => format!("a finished '{}' run", m.command),
        _ => "a finished run".to_string(),
    };
    SpecError::folder(
        dir,
        format!(
            "--resume: the folder holds {what} (manifest.json): there is nothing to resume; \
             valid: the folder of an interrupted run (one without manifest.json), or another \
             --out for a new run"
        ),
    )
}

/// The refusal of a folder that holds a finished run.
fn finished(dir: &Path) -> SpecError {
    let what = match Manifest::read(dir) {
        Ok(m) if !m.command.is_empty() => format!("a finished '{}' run", m.command),
        _ => "a finished run".to_string(),
    };
    SpecError::folder(
        dir,
        format!(
            "the output folder already holds {what} (manifest.json); a run never overwrites \
             or mixes into another: choose another --out, or remove the folder"
        ),
    )
}

/// The refusal of a folder that holds an interrupted run (or files of something else): what
/// is there, and the choices.
fn interrupted(dir: &Path, lock: Option<&LockInfo>) -> SpecError {
    let names = contents(dir);
    let (temps, outputs): (Vec<&String>, Vec<&String>) = names
        .iter()
        .filter(|n| *n != super::resume::CHECKPOINT_DIR)
        .partition(|n| super::resume::is_temporary(n));
    let list = |v: &[&String]| {
        let shown: Vec<&str> = v.iter().take(6).map(|s| s.as_str()).collect();
        let more = v.len().saturating_sub(shown.len());
        if more > 0 {
            format!("{} and {more} more", shown.join(", "))
        } else {
            shown.join(", ")
        }
    };
    let mut what = match lock {
        Some(l) => format!(
            "an interrupted run: {} that ended without finishing (its lock {LOCK_FILE} is left, \
             the process is gone) and wrote no manifest.json",
            l.describe()
        ),
        None => {
            "files but no manifest.json: an interrupted run, or files of something else".to_string()
        }
    };
    if !outputs.is_empty() {
        what.push_str(&format!("; files: {}", list(&outputs)));
    }
    if !temps.is_empty() {
        what.push_str(&format!(
            "; unfinished temporary files (never outputs): {}",
            list(&temps)
        ));
    }
    let choices = match super::resume::progress(dir) {
        Some(how) => format!(
            "{}{}. The two choices: add --resume to the same command to continue it \
             in this folder, or choose another --out (removing the folder starts over)",
            how[..1].to_uppercase(),
            &how[1..]
        ),
        None => "It holds no record of a resumable run (.checkpoint/run.json). Choose another \
                 --out, or remove the folder to start over"
            .to_string(),
    };
    SpecError::folder(
        dir,
        format!(
            "the output folder holds {what}. A run writes only into an absent or empty folder, \
             and never mixes its files with others. {choices}"
        ),
    )
}

/// What every run records of what it resolved; the command adds its own keys to `rest`.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Resolved {
    /// The objective's canonical spec (a template without n and seed for sweep).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective: Option<String>,
    /// The dimension N (absent for sweep, which has many).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dim: Option<usize>,
    #[serde(default)]
    pub sphere: bool,
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}

/// manifest.json, typed: what ran, from which command line, where, how long, which files;
/// each command's results are the remaining top-level keys (`results`). Reading is lenient
/// (a missing key reads as empty), so that readers can name what is missing in their terms.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Manifest {
    pub command: String,
    pub saddlescope_version: String,
    /// The command line, starting with "saddlescope" (from an experiment file: its equivalent).
    #[serde(default)]
    pub argv: Vec<String>,
    /// `{"file": "experiment.toml", "source": PATH}` when the run came from an experiment file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<serde_json::Value>,
    /// The command's options as given.
    pub spec: serde_json::Value,
    pub resolved: Resolved,
    pub seed: u64,
    /// The backend, the adapter, every walk's engine and twin check.
    pub backend: serde_json::Value,
    /// "f32" (GPU) or "f64" (CPU twin): the precision of end_states.npy.
    pub precision: String,
    /// Seconds per stage (walk, polish, classify, cluster, figures, …) and in total.
    pub timings_s: BTreeMap<String, f64>,
    /// Every file of the run, as written.
    pub files: Vec<String>,
    #[serde(flatten)]
    pub results: serde_json::Map<String, serde_json::Value>,
}

impl Manifest {
    /// Reads `dir/manifest.json`; a missing or malformed one is a usage error naming the
    /// folder.
    pub fn read(dir: &Path) -> Result<Manifest, SpecError> {
        let text = std::fs::read_to_string(dir.join("manifest.json")).map_err(|e| {
            SpecError::folder(
                dir,
                format!("cannot read manifest.json ({e}); a finished run folder has one"),
            )
        })?;
        serde_json::from_str(&text)
            .map_err(|e| SpecError::folder(dir, format!("manifest.json: {e}")))
    }

    /// Reads the manifest of a folder that must come from `command`.
    pub fn read_of(dir: &Path, command: &str) -> Result<Manifest, SpecError> {
        let m = Manifest::read(dir)?;
        if m.command != command {
            return Err(SpecError::folder(
                dir,
                format!(
                    "manifest.json is from a '{}' run, not '{command}'",
                    m.command
                ),
            ));
        }
        Ok(m)
    }

    /// A result key (a top-level key the command wrote).
    pub fn result(&self, key: &str) -> &serde_json::Value {
        self.results.get(key).unwrap_or(&serde_json::Value::Null)
    }

    /// The whole manifest as JSON (for writers that read it like a document).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_folders_are_unique_within_one_second() {
        let root = std::env::temp_dir().join(format!("saddlescope-folder-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let dirs: Vec<PathBuf> = (0..3)
            .map(|_| {
                let f = RunFolder::create_in(&root, None, "sample", "himmelblau:n=2").unwrap();
                f.write("a.txt", b"x").unwrap();
                f.path().to_path_buf()
            })
            .collect();
        assert!(
            dirs[0] != dirs[1] && dirs[1] != dirs[2] && dirs[0] != dirs[2],
            "{dirs:?}"
        );
        let name = dirs[0].file_name().unwrap().to_string_lossy().to_string();
        assert!(name.starts_with("sample-himmelblau-20"), "{name}");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn files_are_recorded_and_an_empty_failed_folder_is_removed() {
        let root = std::env::temp_dir().join(format!("saddlescope-folder2-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let f = RunFolder::create_in(&root, None, "sweep", "field").unwrap();
        f.write_csv("t.csv", &Csv::new("a,b")).unwrap();
        f.write_npy("x.npy", &[2], &[1.0f64, 2.0]).unwrap();
        assert_eq!(f.files(), ["t.csv", "x.npy"]);
        f.abandon();
        assert!(f.path().exists(), "a folder with files stays");
        let g = RunFolder::create_in(&root, None, "sweep", "field").unwrap();
        g.abandon();
        assert!(
            !g.path().exists(),
            "an empty folder this run made is removed"
        );
        let out = root.join("given");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join("manifest.json"), "{}").unwrap();
        let e = RunFolder::create_in(&root, Some(&out), "sweep", "field")
            .err()
            .unwrap();
        assert!(e.to_string().contains("already holds a finished run"));
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn a_folder_is_claimed_once_and_never_mixed_or_overwritten() {
        let root = std::env::temp_dir().join(format!("saddlescope-claim-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let out = root.join("run");
        let err = |r: Result<RunFolder, SpecError>| r.err().expect("refused").to_string();
        let a = RunFolder::create_in(&root, Some(&out), "sample", "x").unwrap();
        assert!(out.join(LOCK_FILE).exists());
        // While `a` runs, its lock refuses a second run (this process's pid is alive).
        let e = err(RunFolder::create_in(&root, Some(&out), "sweep", "x"));
        assert!(
            e.contains("a 'sample' run (pid") && e.contains("is writing into this folder now"),
            "{e}"
        );
        a.write("walkers.csv", b"w\n").unwrap();
        std::fs::write(out.join(".end_states.npy.tmp77"), b"half").unwrap();
        // `a` ends without a manifest (killed): its lock stays, with a pid that is gone.
        let lock = std::fs::read_to_string(out.join(LOCK_FILE)).unwrap();
        std::mem::forget(a);
        std::fs::write(
            out.join(LOCK_FILE),
            lock.replace(&format!("\"pid\":{}", std::process::id()), "\"pid\":0"),
        )
        .unwrap();
        let e = err(RunFolder::create_in(&root, Some(&out), "sample", "x"));
        assert!(
            e.contains("an interrupted run: a 'sample' run (pid 0")
                && e.contains("files: walkers.csv")
                && e.contains("temporary files (never outputs): .end_states.npy.tmp77")
                && e.contains("Choose another --out, or remove the folder"),
            "{e}"
        );
        assert_eq!(std::fs::read(out.join("walkers.csv")).unwrap(), b"w\n");
        // Without the lock: files and no manifest are refused all the same.
        std::fs::remove_file(out.join(LOCK_FILE)).unwrap();
        let e = err(RunFolder::create_in(&root, Some(&out), "basins", "x"));
        assert!(e.contains("files but no manifest.json"), "{e}");
        assert!(
            !out.join(LOCK_FILE).exists(),
            "a refused run leaves no lock"
        );
        // The manifest is never written over another, nor after the lock was lost.
        let empty = root.join("empty");
        let b = RunFolder::create_in(&root, Some(&empty), "sample", "x").unwrap();
        std::fs::write(empty.join("manifest.json"), "{}").unwrap();
        let e = b
            .write_manifest(&Manifest::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("never replaces another's manifest"), "{e}");
        assert_eq!(
            std::fs::read_to_string(empty.join("manifest.json")).unwrap(),
            "{}"
        );
        drop(b);
        assert!(
            !empty.join(LOCK_FILE).exists(),
            "the lock goes with the run"
        );
        let lost = root.join("lost");
        let c = RunFolder::create_in(&root, Some(&lost), "sample", "x").unwrap();
        std::fs::remove_file(lost.join(LOCK_FILE)).unwrap();
        let e = c
            .write_manifest(&Manifest::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("was removed or taken by another run"), "{e}");
        assert!(!lost.join("manifest.json").exists());
        let d = RunFolder::create_in(&root, Some(&root.join("ok")), "sample", "x").unwrap();
        d.write_manifest(&Manifest::default()).unwrap();
        let names = contents(d.path());
        drop(d);
        assert_eq!(names, ["manifest.json"], "no temporary file is left");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn the_manifest_round_trips_with_command_keys_at_the_top() {
        let mut results = serde_json::Map::new();
        results.insert("status_counts".into(), serde_json::json!({"converged": 3}));
        let m = Manifest {
            command: "sample".into(),
            saddlescope_version: "0".into(),
            argv: vec!["saddlescope".into(), "sample".into()],
            experiment: None,
            spec: serde_json::json!({"walkers": 3}),
            resolved: Resolved {
                objective: Some("himmelblau".into()),
                dim: Some(2),
                sphere: false,
                rest: serde_json::Map::new(),
            },
            seed: 0,
            backend: serde_json::json!({"backend": "cpu"}),
            precision: "f64".into(),
            timings_s: [("walk".to_string(), 1.0)].into_iter().collect(),
            files: vec!["walkers.csv".into()],
            results,
        };
        let v = m.to_value();
        assert_eq!(v["status_counts"]["converged"], 3);
        assert_eq!(v["resolved"]["dim"], 2);
        let back: Manifest = serde_json::from_value(v).unwrap();
        assert_eq!(back.result("status_counts")["converged"], 3);
        assert_eq!(back.resolved.objective.as_deref(), Some("himmelblau"));
    }
}
