//! `saddlescope slurm --submit`: `sbatch --parsable` of the array, then of the merge with
//! `--dependency=afterok:ARRAY_ID` (Slurm starts it once every task of the array has ended
//! with exit code 0). Each sbatch call is bounded in time; a failure is a usage error that shows
//! sbatch's own message and says what is already queued.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::Written;
use crate::spec::SpecError;

/// How long one sbatch call may take (it retries on its own while slurmctld is busy).
const SBATCH_TIMEOUT: Duration = Duration::from_secs(120);

/// The job ids of a submitted job.
#[derive(Debug, Clone, PartialEq)]
pub struct Submitted {
    pub array: String,
    pub merge: String,
}

/// `sbatch` on PATH, or why there is none.
pub fn find_sbatch() -> Result<PathBuf, SpecError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("sbatch"))
        .find(|p| is_executable(p))
        .ok_or_else(|| {
            SpecError::Invalid(
                "slurm --submit: sbatch is not on PATH; valid: run it where Slurm's commands \
                 are installed, or leave out --submit and submit the scripts there"
                    .into(),
            )
        })
}

fn is_executable(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        p.is_file()
    }
}

/// Submits the array, then the merge after it.
pub fn submit(sbatch: &Path, w: &Written) -> Result<Submitted, SpecError> {
    let array = run_sbatch(sbatch, &[], &w.array).map_err(|problem| {
        SpecError::Invalid(format!(
            "slurm --submit: sbatch refused {}: {problem}; nothing is queued (the scripts are \
             written; fix what sbatch says and submit them, or remove the folder)",
            w.array.display()
        ))
    })?;
    let dependency = format!("--dependency=afterok:{array}");
    let merge = run_sbatch(sbatch, &[&dependency], &w.merge).map_err(|problem| {
        SpecError::Invalid(format!(
            "slurm --submit: array job {array} is queued, but sbatch refused {}: {problem}; \
             submit it by hand (sbatch {dependency} {}) or cancel the array (scancel {array})",
            w.merge.display(),
            w.merge.display()
        ))
    })?;
    Ok(Submitted { array, merge })
}

/// `sbatch --parsable ARGS SCRIPT`: the job id (the text before any `;CLUSTER`), or what went
/// wrong, sbatch's stderr included.
fn run_sbatch(sbatch: &Path, args: &[&str], script: &Path) -> Result<String, String> {
    let mut child = Command::new(sbatch)
        .arg("--parsable")
        .args(args)
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {} ({e})", sbatch.display()))?;
    let pipe = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut r) = r {
                let _ = r.read_to_string(&mut s);
            }
            s
        })
    };
    let out = pipe(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = pipe(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if started.elapsed() > SBATCH_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "sbatch did not answer within {} s",
                    SBATCH_TIMEOUT.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("cannot wait for sbatch ({e})")),
        }
    };
    let (stdout, stderr) = (
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    );
    if !status.success() {
        let code = status
            .code()
            .map_or_else(|| "a signal".to_string(), |c| format!("status {c}"));
        return Err(format!("sbatch exited with {code}: {}", stderr.trim()));
    }
    let id = stdout.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "its answer '{}' is not a job id (stderr: {})",
            stdout.trim(),
            stderr.trim()
        ));
    }
    Ok(id)
}
