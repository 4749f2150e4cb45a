//! The run folder: where a run writes, what it wrote, and its manifest.
//!
//! Every file goes through [`RunFolder`], which writes it atomically (a temporary name, then a
//! rename) and records its name; the manifest lists exactly those files and is written last,
//! so a folder without manifest.json is an interrupted run. [`Manifest`] is the one typed
//! reader of manifest.json for every command (`plot`, `--catalogue`, `--from critical:`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::output::{self, Csv, NpyElement};
use crate::spec::SpecError;

/// A run folder being written.
pub struct RunFolder {
    dir: PathBuf,
    /// Files written, in the order they were written.
    files: Mutex<Vec<String>>,
    /// True when this run made the folder (an empty one is removed if the run fails).
    created: bool,
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
            if dir.join("manifest.json").exists() {
                return Err(SpecError::folder(
                    dir,
                    "the output folder already holds a run (manifest.json); choose another --out or remove it",
                ));
            }
            let created = !dir.exists();
            std::fs::create_dir_all(dir).map_err(|e| cannot(dir, e))?;
            return Ok(RunFolder {
                dir: dir.to_path_buf(),
                files: Mutex::new(Vec::new()),
                created,
            });
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
                    return Ok(RunFolder {
                        dir,
                        files: Mutex::new(Vec::new()),
                        created: true,
                    })
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(cannot(&dir, e)),
            }
        }
        unreachable!("the suffixes never run out")
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

    /// Writes the manifest, last.
    pub fn write_manifest(&self, m: &Manifest) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(m)?;
        output::write_atomic(&self.dir.join("manifest.json"), text.as_bytes())?;
        Ok(())
    }

    /// After a failed run: removes the folder if this run made it and wrote nothing into it.
    pub fn abandon(&self) {
        if self.created && self.files().is_empty() {
            let _ = std::fs::remove_dir(&self.dir);
        }
    }
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
        assert!(e.to_string().contains("already holds a run"));
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
