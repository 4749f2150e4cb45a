//! The run folder's lock: `.saddlescope-lock`, made with `create_new` (atomic: of two runs
//! into one folder exactly one gets it) before anything else is written, holding the pid, the
//! command and the start time of the run that writes the folder, and removed when the run ends
//! (finished or failed). A lock left behind means its run was killed: a lock whose pid is no
//! longer running marks an interrupted folder.
//!
//! Whether a pid runs is read from /proc/PID (Linux); where there is no /proc a lock is taken
//! as held, and the message says which file to remove once no run is writing the folder.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The lock file's name in a run folder (a dot file: never an output, never in the manifest).
pub const LOCK_FILE: &str = ".saddlescope-lock";

/// What a lock file says.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LockInfo {
    pub pid: u32,
    pub command: String,
    /// UTC, as YYYYMMDD-HHMMSS.
    pub started: String,
}

impl LockInfo {
    /// Reads the lock of `dir` (None when there is none; a lock that cannot be read says so in
    /// its command).
    pub fn read(dir: &Path) -> Option<LockInfo> {
        let text = std::fs::read_to_string(dir.join(LOCK_FILE)).ok()?;
        Some(serde_json::from_str(&text).unwrap_or(LockInfo {
            pid: 0,
            command: "(an unreadable lock file)".into(),
            started: "?".into(),
        }))
    }

    /// Whether the run that made the lock may still be running.
    pub fn alive(&self) -> bool {
        if self.pid == 0 {
            return false;
        }
        if self.pid == std::process::id() {
            return true;
        }
        let proc = Path::new("/proc");
        if !proc.join("self").exists() {
            return true;
        }
        proc.join(self.pid.to_string()).exists()
    }

    pub fn describe(&self) -> String {
        if self.pid == 0 && self.started == "?" {
            return format!("a run whose lock file {LOCK_FILE} cannot be read");
        }
        format!(
            "a '{}' run (pid {}, started {} UTC)",
            self.command, self.pid, self.started
        )
    }
}

/// A lock this process holds; dropping it removes the file (when it is still ours).
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
}

impl Lock {
    /// Takes the lock of `dir`, or returns what holds it.
    pub fn take(dir: &Path, command: &str) -> Result<Lock, Option<LockInfo>> {
        let path = dir.join(LOCK_FILE);
        let info = LockInfo {
            pid: std::process::id(),
            command: command.to_string(),
            started: crate::output::timestamp(),
        };
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut f) => {
                let text = serde_json::to_string(&info).unwrap_or_default();
                // A lock whose text did not get written still marks the folder as taken.
                let _ = f.write_all(text.as_bytes());
                let _ = f.sync_all();
                Ok(Lock { path })
            }
            Err(_) => Err(LockInfo::read(dir)),
        }
    }

    /// Whether the lock file is still this process's (not removed or replaced by another).
    pub fn held(&self) -> bool {
        self.path
            .parent()
            .and_then(LockInfo::read)
            .is_some_and(|i| i.pid == std::process::id())
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        if self.held() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
