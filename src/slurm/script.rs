//! The two batch scripts of a Slurm job: `array.sbatch`, one array task per shard (task K runs
//! the command with `--shard K/N --out SHARDS/K-of-N`), and `merge.sbatch`, which joins the N
//! shard folders into OUT. Every word a shell reads is quoted ([`shell_word`]), so specs with
//! commas, colons, `=`, spaces or quotes reach the program as typed; `#SBATCH` lines, which no
//! shell reads, hold only values checked to need no quoting (`sbatch.rs`, [`super::Job`]).

use super::sbatch::Header;
use super::Job;
use crate::experiment::shell_word;

/// Which of the two jobs a header is for: the merge takes no GPU and no array.
#[derive(Clone, Copy, PartialEq)]
enum Part {
    Array,
    Merge,
}

/// The #SBATCH lines of one job.
fn header(h: &Header, job: &Job, part: Part) -> Vec<String> {
    let logs = job.logs_dir();
    let mut lines = Vec::new();
    let mut opt = |text: String| lines.push(format!("#SBATCH {text}"));
    match part {
        Part::Array => {
            opt(format!("--job-name={}", h.job_name));
            let throttle = h.max_running.map(|m| format!("%{m}")).unwrap_or_default();
            opt(format!("--array=1-{}{throttle}", job.shards));
            opt(format!(
                "--output={}/shard-%a-of-{}-%A.out",
                logs.display(),
                job.shards
            ));
        }
        Part::Merge => {
            opt(format!("--job-name={}-merge", h.job_name));
            opt(format!("--output={}/merge-%j.out", logs.display()));
        }
    }
    if let Some(p) = &h.partition {
        opt(format!("--partition={p}"));
    }
    if let Some(a) = &h.account {
        opt(format!("--account={a}"));
    }
    if let Some(t) = &h.time {
        opt(format!("--time={t}"));
    }
    if let (Some(g), Part::Array) = (&h.gpus, part) {
        opt(format!("--gpus={g}"));
    }
    if let Some(c) = h.cpus_per_task {
        opt(format!("--cpus-per-task={c}"));
    }
    if let Some(m) = &h.mem {
        opt(format!("--mem={m}"));
    }
    for e in &h.extra {
        opt(e.clone());
    }
    lines
}

/// `text` fit for one comment line: a line break in it (a quoted argument may hold one) would
/// end the comment and make the rest a command, so control characters are written escaped.
fn comment(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// The lines every script starts with: what it is, then its #SBATCH lines.
fn preamble(job: &Job, part: Part, what: &str) -> Vec<String> {
    let mut v = vec![
        "#!/bin/bash".to_string(),
        format!("# saddlescope {} slurm: {what}", env!("CARGO_PKG_VERSION")),
        format!("#   {}", comment(&job.command_line())),
    ];
    v.extend(header(&job.header, job, part));
    v
}

/// `array.sbatch`: task K of the array runs shard K/N into SHARDS/K-of-N.
pub fn array(job: &Job) -> String {
    let n = job.shards;
    let mut v = preamble(
        job,
        Part::Array,
        &format!("task K of the array runs shard K of {n} of"),
    );
    v.extend([
        "#".to_string(),
        format!(
            "# Submit with sbatch (it sets SLURM_ARRAY_TASK_ID); merge.sbatch joins the shards \
             after every task succeeded. Rerun one shard with sbatch --array=K {}",
            comment(&shell_word(&job.array_path().display().to_string()))
        ),
        String::new(),
        "set -euo pipefail".to_string(),
        "k=\"${SLURM_ARRAY_TASK_ID:-}\"".to_string(),
        format!("if ! [[ \"$k\" =~ ^[0-9]+$ ]] || (( k < 1 || k > {n} )); then"),
        format!(
            "    echo \"array.sbatch: SLURM_ARRAY_TASK_ID is '$k'; valid: a shard 1..{n} (sbatch \
             sets it; to run one shard here, set it)\" >&2"
        ),
        "    exit 2".to_string(),
        "fi".to_string(),
        format!("cd {}", shell_word(&job.workdir.display().to_string())),
        format!(
            "shards={}",
            shell_word(&job.shard_root().display().to_string())
        ),
    ]);
    let mut run: Vec<String> = vec!["exec".into(), shell_word(&job.binary.display().to_string())];
    run.extend(job.args.iter().map(|a| shell_word(a)));
    run.push(format!("--shard \"$k/{n}\""));
    run.push(format!("--out \"$shards/$k-of-{n}\""));
    v.push(run.join(" "));
    v.push(String::new());
    v.join("\n")
}

/// `merge.sbatch`: `saddlescope merge --out OUT SHARDS/1-of-N … SHARDS/N-of-N`.
pub fn merge(job: &Job) -> String {
    let n = job.shards;
    let mut v = preamble(
        job,
        Part::Merge,
        &format!("joins the {n} shard folders of array.sbatch into the run of"),
    );
    v.extend([
        "#".to_string(),
        "# Submit after the array: sbatch --dependency=afterok:ARRAY_JOB_ID merge.sbatch".into(),
        String::new(),
        "set -euo pipefail".to_string(),
        format!("cd {}", shell_word(&job.workdir.display().to_string())),
        format!(
            "shards={}",
            shell_word(&job.shard_root().display().to_string())
        ),
        "folders=()".into(),
        format!("for k in $(seq 1 {n}); do folders+=(\"$shards/$k-of-{n}\"); done"),
        format!(
            "exec {} merge --out {} \"${{folders[@]}}\"",
            shell_word(&job.binary.display().to_string()),
            shell_word(&job.out.display().to_string())
        ),
        String::new(),
    ]);
    v.join("\n")
}
