//! Checkpoints and `--resume`: what a run keeps in its folder so that, killed, it can be
//! continued into exactly the files of an uninterrupted run.
//!
//! Every run into a folder writes `.checkpoint/run.json` before it walks: the command, the
//! version, the spec as given (defaults filled), the run as resolved and the engine that walks
//! ([`RunRecord`]). While it walks, the CPU engines hand every walker's state to a
//! [`WalkCheckpoint`] at each segment boundary (a GPU walk, when [`Checkpoints::due`] says so,
//! reads its chunk's device state back and hands that over: `walk::snapshot::DeviceSnapshot`),
//! and it writes `.checkpoint/walk-KEY.bin` (a JSON header line naming the run's fingerprint,
//! the walk, its step and size, then the state of `walk::snapshot`) when due: at most every [`DEFAULT_INTERVAL`] seconds
//! (`SADDLESCOPE_CHECKPOINT_SECONDS` sets it; 0 is every segment) and never more often than
//! 20 times the last write took, so writing costs at most ~5% of the walk; and always once
//! when the walk ends. A sweep also writes `.checkpoint/ends-KEY.bin` when a dimension's walk
//! is complete (its end states), so a resumed sweep does not walk it again. Every file is
//! written atomically (temporary name, rename); `.checkpoint/` is removed once the manifest is
//! written.
//!
//! `--resume` takes the folder of an interrupted run (no manifest, no live lock), takes its
//! lock, refuses a record of another command, spec, version or engine, removes the temporary
//! files the killed run left, and runs the command again: a walk with a checkpoint continues
//! from it, a walk without one walks from its start, and the command's `finish` writes every
//! file.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::output;
use crate::spec::SpecError;
use crate::walk::snapshot::{self, Checkpoints, DeviceSnapshot, Snapshot};
use crate::walk::state::{Status, WalkerState};
use crate::walk::EndStates;

/// The folder of a run's checkpoints (a dot folder: never an output, never in the manifest).
pub const CHECKPOINT_DIR: &str = ".checkpoint";
/// The run's record in it.
const RUN_RECORD: &str = "run.json";
/// Environment variable: the least number of seconds between two checkpoints of a walk.
pub const INTERVAL_ENV: &str = "SADDLESCOPE_CHECKPOINT_SECONDS";
/// Seconds between checkpoints unless [`INTERVAL_ENV`] says otherwise: a killed run loses at
/// most this much walking (and one segment).
pub const DEFAULT_INTERVAL: f64 = 10.0;
/// A checkpoint is written at most once per this many times the last one took.
const COST_FACTOR: u32 = 20;
/// First line of every walk-state and end-state file.
const FORMAT: &str = "saddlescope-checkpoint-1";

/// What a run records of itself before it walks, and `--resume` holds the new run to.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunRecord {
    pub command: String,
    pub saddlescope_version: String,
    /// The command's options as given, with their defaults (the manifest's `spec`).
    pub spec: serde_json::Value,
    /// The run as resolved, in one line (objective and optimizer canonical specs, sizes).
    pub resolved: String,
    /// The engine that walks ([`crate::backend::Backend::engine_key`]).
    pub engine: String,
    /// UTC, as YYYYMMDD-HHMMSS.
    pub started: String,
}

impl RunRecord {
    /// A short digest of the record (FNV-1a of its identity fields), written into every
    /// checkpoint file, so that a file from another run is never restored.
    fn fingerprint(&self) -> String {
        let text = format!(
            "{}\n{}\n{}\n{}",
            self.command, self.saddlescope_version, self.spec, self.engine
        );
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in text.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{h:016x}")
    }

    /// The record of the folder `dir`, when it has one.
    pub fn read(dir: &Path) -> Option<RunRecord> {
        let text = std::fs::read_to_string(dir.join(CHECKPOINT_DIR).join(RUN_RECORD)).ok()?;
        serde_json::from_str(&text).ok()
    }
}

/// The header line of a checkpoint file.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Header {
    format: String,
    run: String,
    key: String,
    /// Steps taken by the walkers still running.
    t: u32,
    walkers: usize,
    n: usize,
    /// Walkers still running.
    running: usize,
    /// What the command keeps with it (a sweep dimension's dispatches and times).
    #[serde(default)]
    meta: serde_json::Value,
}

/// When the next checkpoint is due.
struct Clock {
    next: Instant,
}

/// A run's checkpoints in its folder.
pub struct Checkpointer {
    dir: PathBuf,
    record: RunRecord,
    interval: Duration,
    clock: Mutex<Clock>,
    resumed: Mutex<Resumed>,
}

/// What a resumed run took from its checkpoints.
#[derive(Default)]
struct Resumed {
    /// Walks that continued from a checkpoint: key, step.
    walks: Vec<(String, u32)>,
    /// End states kept: keys.
    kept: Vec<String>,
}

/// The seconds between checkpoints: [`INTERVAL_ENV`] or [`DEFAULT_INTERVAL`].
fn interval() -> Duration {
    let secs = std::env::var(INTERVAL_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .unwrap_or(DEFAULT_INTERVAL);
    Duration::from_secs_f64(secs)
}

/// Whether `name` is a temporary file of an atomic write (`.NAME.tmpPID`), never an output.
pub fn is_temporary(name: &str) -> bool {
    name.starts_with('.') && name.contains(".tmp")
}

/// Removes the temporary files in `dir`; returns their names.
fn remove_temporaries(dir: &Path) -> Vec<String> {
    let mut removed = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if is_temporary(&name) && e.path().is_file() && std::fs::remove_file(e.path()).is_ok() {
            removed.push(name);
        }
    }
    removed.sort();
    removed
}

fn safe(key: &str) -> String {
    key.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

impl Checkpointer {
    /// Starts the checkpoints of a new run in `folder`: `.checkpoint/run.json`.
    pub fn start(folder: &Path, record: RunRecord) -> std::io::Result<Checkpointer> {
        let dir = folder.join(CHECKPOINT_DIR);
        std::fs::create_dir_all(&dir)?;
        let text = serde_json::to_string_pretty(&record).unwrap_or_default();
        output::write_atomic(&dir.join(RUN_RECORD), text.as_bytes())?;
        Ok(Checkpointer::new(dir, record))
    }

    fn new(dir: PathBuf, record: RunRecord) -> Checkpointer {
        let interval = interval();
        Checkpointer {
            dir,
            record,
            interval,
            clock: Mutex::new(Clock {
                next: Instant::now() + interval,
            }),
            resumed: Mutex::new(Resumed::default()),
        }
    }

    /// Continues the checkpoints of the interrupted run in `folder`, whose record [`check`]
    /// accepted and whose lock this process now holds: removes the temporary files the
    /// interrupted run left, in the folder and among its checkpoints, and returns them with the
    /// checkpointer.
    pub fn resume(folder: &Path, record: RunRecord) -> (Checkpointer, Vec<String>) {
        let dir = folder.join(CHECKPOINT_DIR);
        let mut removed = remove_temporaries(folder);
        removed.extend(
            remove_temporaries(&dir)
                .into_iter()
                .map(|n| format!("{CHECKPOINT_DIR}/{n}")),
        );
        (Checkpointer::new(dir, record), removed)
    }

    /// The checkpoints of one walk of the run, named by `key` (unique within the run), of
    /// `walkers` walkers at dimension `n`.
    pub fn walk<'a>(&'a self, key: &str, walkers: usize, n: usize) -> WalkCheckpoint<'a> {
        WalkCheckpoint {
            ck: self,
            key: key.to_string(),
            path: self.dir.join(format!("walk-{}.bin", safe(key))),
            walkers,
            n,
        }
    }

    fn header(&self, key: &str, t: u32, walkers: usize, n: usize, running: usize) -> Header {
        Header {
            format: FORMAT.into(),
            run: self.record.fingerprint(),
            key: key.into(),
            t,
            walkers,
            n,
            running,
            meta: serde_json::Value::Null,
        }
    }

    /// Writes a checkpoint file atomically (a temporary name, then a rename, as
    /// `output::write_atomic`): the header line, then what `body` writes, streamed.
    fn write(
        &self,
        path: &Path,
        header: &Header,
        body: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        use std::io::Write;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("checkpoint");
        let tmp = self.dir.join(format!(".{name}.tmp{}", std::process::id()));
        let written = (|| {
            let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
            serde_json::to_writer(&mut f, header).map_err(std::io::Error::other)?;
            f.write_all(b"\n")?;
            body(&mut f)?;
            f.into_inner().map_err(|e| e.into_error())?.sync_all()
        })()
        .and_then(|()| std::fs::rename(&tmp, path));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }

    /// Reads a checkpoint file of this run: its header (checked against the run, the key and
    /// the size) and body. None when there is none; a file that does not fit is a notice, and
    /// the walk starts over (the same numbers, more time).
    fn read(&self, path: &Path, key: &str, walkers: usize, n: usize) -> Option<(Header, Vec<u8>)> {
        let bytes = std::fs::read(path).ok()?;
        let split = bytes.iter().position(|&b| b == b'\n')?;
        let header: Option<Header> = serde_json::from_slice(&bytes[..split]).ok();
        let fits = header.as_ref().is_some_and(|h| {
            h.format == FORMAT
                && h.run == self.record.fingerprint()
                && h.key == key
                && h.walkers == walkers
                && h.n == n
        });
        if !fits {
            log::warn!(
                "{} is not a checkpoint of this run's walk '{key}' ({walkers} walkers at N = \
                 {n}); walking it from the start",
                path.display()
            );
            return None;
        }
        Some((header?, bytes[split + 1..].to_vec()))
    }

    /// Keeps the end states of a finished part of the run (a sweep's dimension) under `key`,
    /// with what the command needs to know of it (`meta`), and removes the walk checkpoints of
    /// `walks`, which they supersede.
    pub fn keep_ends(
        &self,
        key: &str,
        ends: &EndStates,
        meta: serde_json::Value,
        walks: &[String],
    ) -> std::io::Result<()> {
        let header = Header {
            meta: serde_json::json!({"precision": ends.precision, "command": meta}),
            ..self.header(key, 0, ends.len(), ends.n, 0)
        };
        self.write(&self.ends_path(key), &header, |w| {
            w.write_all(&encode_ends(ends))
        })?;
        for w in walks {
            let _ = std::fs::remove_file(self.walk(w, 0, 0).path);
        }
        Ok(())
    }

    /// The end states kept under `key` by an interrupted run, with their `meta`.
    pub fn kept_ends(
        &self,
        key: &str,
        walkers: usize,
        n: usize,
    ) -> Option<(EndStates, serde_json::Value)> {
        let (h, body) = self.read(&self.ends_path(key), key, walkers, n)?;
        let precision = match h.meta["precision"].as_str() {
            Some("f32") => "f32",
            _ => "f64",
        };
        let ends = decode_ends(&body, walkers, n, precision)?;
        if let Ok(mut r) = self.resumed.lock() {
            r.kept.push(key.to_string());
        }
        Some((ends, h.meta["command"].clone()))
    }

    fn ends_path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("ends-{}.bin", safe(key)))
    }

    /// What this run continued from, for the manifest (`resumed`): null for a run that did
    /// not resume.
    pub fn resumed_json(&self) -> serde_json::Value {
        let Ok(r) = self.resumed.lock() else {
            return serde_json::Value::Null;
        };
        serde_json::json!({
            "walks": r.walks.iter().map(|(k, t)| serde_json::json!({"walk": k, "from_step": t})).collect::<Vec<_>>(),
            "kept": r.kept,
        })
    }

    /// Whether the run has checkpointed anything beyond its record (a walk, kept end states).
    pub fn has_progress(&self) -> bool {
        std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.file_name() != RUN_RECORD)
    }

    /// Removes the checkpoints: the run is complete (its manifest written).
    pub fn remove(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The checkpoints of one walk ([`Checkpoints`] for the engines).
pub struct WalkCheckpoint<'a> {
    ck: &'a Checkpointer,
    key: String,
    path: PathBuf,
    walkers: usize,
    n: usize,
}

impl Checkpoints for WalkCheckpoint<'_> {
    fn restore(&self) -> Option<Snapshot> {
        self.restored(false, |h, body| {
            snapshot::decode(body, h.t, self.walkers, self.n)
        })
    }

    fn boundary(&self, t: u32, states: &[&WalkerState], done: bool) {
        let running = snapshot::count_running(states);
        let header = self.ck.header(&self.key, t, states.len(), self.n, running);
        self.save(header, done, |w| snapshot::encode_into(w, states));
    }

    fn due(&self) -> bool {
        self.ck
            .clock
            .lock()
            .map(|c| Instant::now() >= c.next)
            .unwrap_or(false)
    }

    fn restore_device(&self) -> Option<DeviceSnapshot> {
        self.restored(true, |_, body| {
            DeviceSnapshot::decode(body, self.walkers, self.n)
        })
    }

    fn save_device(&self, s: &DeviceSnapshot, done: bool) {
        let header = Header {
            meta: serde_json::json!({"device": true, "chunk_first": s.first, "chunk_walkers": s.wc}),
            ..self
                .ck
                .header(&self.key, s.taken, self.walkers, self.n, s.running())
        };
        self.save(header, done, |w| w.write_all(&s.encode()));
    }
}

impl WalkCheckpoint<'_> {
    /// The walk's checkpoint decoded by `decode`, when it is of the engine asked for (a GPU
    /// walk's device state, `device`, or a CPU walk's) and decodes; else a notice, and None.
    /// A restored one is recorded for the manifest.
    fn restored<T>(
        &self,
        device: bool,
        decode: impl FnOnce(&Header, &[u8]) -> Result<T, String>,
    ) -> Option<T> {
        let (h, body) = self.ck.read(&self.path, &self.key, self.walkers, self.n)?;
        let decoded = match (h.meta["device"] == serde_json::Value::Bool(true), device) {
            (true, false) => Err("holds a GPU walk's state, not a CPU walk's".to_string()),
            (false, true) => Err("holds a CPU walk's state, not a GPU walk's".to_string()),
            _ => decode(&h, &body),
        };
        match decoded {
            Ok(s) => {
                if let Ok(mut r) = self.ck.resumed.lock() {
                    r.walks.push((self.key.clone(), h.t));
                }
                Some(s)
            }
            Err(e) => {
                log::warn!(
                    "{}: {e}; walking '{}' from the start",
                    self.path.display(),
                    self.key
                );
                None
            }
        }
    }

    /// Writes the walk's checkpoint when it is due (or `done`), and sets when the next is.
    fn save(
        &self,
        header: Header,
        done: bool,
        body: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
    ) {
        let Ok(mut clock) = self.ck.clock.lock() else {
            return;
        };
        if !done && Instant::now() < clock.next {
            return;
        }
        let t0 = Instant::now();
        if let Err(e) = self.ck.write(&self.path, &header, body) {
            // The walk goes on; the last checkpoint written (if any) stays whole.
            log::warn!(
                "could not write the checkpoint {}: {e}",
                self.path.display()
            );
        }
        let cost = t0.elapsed();
        clock.next = Instant::now() + self.ck.interval.max(cost * COST_FACTOR);
    }
}

/// End states as bytes: per walker x (f64 bits), f, |grad|, steps, status, escape.
fn encode_ends(e: &EndStates) -> Vec<u8> {
    let mut out = Vec::with_capacity(e.x.len() * 8 + e.len() * 28);
    for v in &e.x {
        out.extend_from_slice(&v.to_bits().to_le_bytes());
    }
    for w in 0..e.len() {
        out.extend_from_slice(&e.f[w].to_bits().to_le_bytes());
        out.extend_from_slice(&e.grad_norm[w].to_bits().to_le_bytes());
        out.extend_from_slice(&e.steps[w].to_le_bytes());
        out.extend_from_slice(&(e.status[w] as u32).to_le_bytes());
        out.extend_from_slice(&e.escape[w].to_le_bytes());
    }
    out
}

fn decode_ends(b: &[u8], w: usize, n: usize, precision: &'static str) -> Option<EndStates> {
    if b.len() != w * n * 8 + w * 28 {
        log::warn!("kept end states of the wrong size; walking them again");
        return None;
    }
    let f64_at = |at: usize| {
        f64::from_bits(u64::from_le_bytes(
            b[at..at + 8].try_into().unwrap_or_default(),
        ))
    };
    let u32_at = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap_or_default());
    let mut e = EndStates::new(w, n);
    e.precision = precision;
    for (i, x) in e.x.iter_mut().enumerate() {
        *x = f64_at(8 * i);
    }
    let base = w * n * 8;
    for k in 0..w {
        let at = base + 28 * k;
        e.f[k] = f64_at(at);
        e.grad_norm[k] = f64_at(at + 8);
        e.steps[k] = u32_at(at + 16);
        e.status[k] = Status::from_code(u32_at(at + 20));
        e.escape[k] = u32_at(at + 24);
    }
    Some(e)
}

/// Holds the record of the interrupted run in `folder` to this run's, `record`: the same
/// command, version, spec and engine, or the resume is refused naming what differs. Returns the
/// interrupted run's record (its start time is the run's).
pub fn check(folder: &Path, record: &RunRecord) -> Result<RunRecord, SpecError> {
    let refuse = |what: String| SpecError::folder(folder, what);
    let old = RunRecord::read(folder).ok_or_else(|| {
        refuse(format!(
            "--resume: the folder has no record of a resumable run \
             ({CHECKPOINT_DIR}/{RUN_RECORD}, written when a run starts); valid: the --out \
             folder of an interrupted run, or leave out --resume and choose another --out"
        ))
    })?;
    if old.command != record.command {
        return Err(refuse(format!(
            "--resume: the folder holds an interrupted '{}' run, not '{}'; valid: resume it \
             with the '{}' command it ran, or choose another --out",
            old.command, record.command, old.command
        )));
    }
    if old.saddlescope_version != record.saddlescope_version {
        return Err(refuse(format!(
            "--resume: the interrupted run was written by saddlescope {}, this is {}; a \
             resumed walk must run the same code; valid: that version, or another --out",
            old.saddlescope_version, record.saddlescope_version
        )));
    }
    let differ = spec_differences(&old.spec, &record.spec);
    if !differ.is_empty() {
        return Err(refuse(format!(
            "--resume: the interrupted run has another spec ({}); valid: the same command \
             line as the interrupted run ({}) with --resume, or another --out for this one",
            differ.join("; "),
            old.resolved
        )));
    }
    if old.engine != record.engine {
        return Err(refuse(format!(
            "--resume: the interrupted run walked on {}, this one would walk on {}; a walk \
             continued on another engine would not give the uninterrupted run's numbers; \
             valid: the --backend of the interrupted run, or another --out",
            old.engine, record.engine
        )));
    }
    Ok(old)
}

/// The keys whose values differ between two specs (JSON objects), as "key: A there, B here".
fn spec_differences(old: &serde_json::Value, new: &serde_json::Value) -> Vec<String> {
    let empty = serde_json::Map::new();
    let (a, b) = (
        old.as_object().unwrap_or(&empty),
        new.as_object().unwrap_or(&empty),
    );
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let show = |v: Option<&serde_json::Value>| match v {
        None | Some(serde_json::Value::Null) => "not given".to_string(),
        Some(v) => v.to_string(),
    };
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| {
            format!(
                "--{}: {} there, {} here",
                k.replace('_', "-"),
                show(a.get(k)),
                show(b.get(k))
            )
        })
        .collect()
}

/// What an interrupted folder's checkpoints say of how far its run got, in words (None: the
/// folder has no record of a resumable run).
pub fn progress(folder: &Path) -> Option<String> {
    let record = RunRecord::read(folder)?;
    let dir = folder.join(CHECKPOINT_DIR);
    let mut walks = Vec::new();
    let mut kept = Vec::new();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !is_temporary(n))
        .collect();
    names.sort();
    for name in names {
        let Ok(bytes) = std::fs::read(dir.join(&name)) else {
            continue;
        };
        let line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
        let Ok(h) = serde_json::from_slice::<Header>(line) else {
            continue;
        };
        if name.starts_with("ends-") {
            kept.push(h.key);
        } else if h.meta["device"] == serde_json::Value::Bool(true) {
            let first = h.meta["chunk_first"].as_u64().unwrap_or(0);
            let wc = h.meta["chunk_walkers"].as_u64().unwrap_or(0);
            walks.push(if wc == 0 {
                format!("walk '{}' checkpointed when it had ended", h.key)
            } else {
                format!(
                    "walk '{}' checkpointed after {} steps of its GPU chunk of walkers {}..{} \
                     ({first} walkers before it ended), {} of them still running",
                    h.key,
                    h.t,
                    first,
                    first + wc,
                    h.running
                )
            });
        } else {
            walks.push(format!(
                "walk '{}' checkpointed after {} steps, {} of {} walkers still running",
                h.key, h.t, h.running, h.walkers
            ));
        }
    }
    let mut how = vec![format!(
        "its record: '{}' of {}, started {} UTC, walking on {}",
        record.command, record.resolved, record.started, record.engine
    )];
    if !kept.is_empty() {
        how.push(format!("finished parts kept: {}", kept.join(", ")));
    }
    if walks.is_empty() {
        how.push("no walk checkpoint yet (resumed, it walks from the start)".into());
    }
    how.extend(walks);
    Some(how.join("; "))
}
