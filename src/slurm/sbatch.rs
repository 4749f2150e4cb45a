//! The options of `saddlescope slurm` that become `#SBATCH` lines, checked as Slurm would
//! read them: an unusable value is a usage error now (exit 2), not a job sbatch refuses later
//! or, worse, a line it reads as something else. `#SBATCH` lines are not read by a shell, so
//! every value is held to the characters its Slurm option takes (no spaces, no quotes).

use std::path::PathBuf;

use crate::run::memory::{self, Available};
use crate::spec::SpecError;

/// How `saddlescope slurm` writes (and submits) a job: the array of shard tasks and the merge.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SlurmOptions {
    /// Number of shards: array tasks 1..N, task K running `--shard K/N`.
    #[arg(long)]
    pub shards: usize,
    /// Slurm partition (sbatch --partition) of both jobs.
    #[arg(long)]
    pub partition: Option<String>,
    /// Time limit of each task and of the merge (sbatch --time: MM, MM:SS, HH:MM:SS, D-HH,
    /// D-HH:MM or D-HH:MM:SS).
    #[arg(long)]
    pub time: Option<String>,
    /// GPUs per shard task (sbatch --gpus: COUNT or TYPE:COUNT); the merge takes none.
    #[arg(long)]
    pub gpus: Option<String>,
    /// CPUs per shard task and for the merge (sbatch --cpus-per-task).
    #[arg(long)]
    pub cpus_per_task: Option<u32>,
    /// Memory per shard task and for the merge (sbatch --mem: megabytes, or a number with
    /// K, M, G or T). Each shard's memory estimate is checked against it.
    #[arg(long)]
    pub mem: Option<String>,
    /// Slurm account (sbatch --account) of both jobs.
    #[arg(long)]
    pub account: Option<String>,
    /// Job name of the array (the merge is NAME-merge); default saddlescope-COMMAND.
    #[arg(long)]
    pub job_name: Option<String>,
    /// At most this many shard tasks run at once (sbatch --array=1-N%M).
    #[arg(long)]
    pub max_running: Option<usize>,
    /// Another sbatch option for both jobs, written as an #SBATCH line (repeatable), e.g.
    /// --sbatch-option=--qos=long.
    #[arg(
        long = "sbatch-option",
        value_name = "OPTION",
        allow_hyphen_values = true
    )]
    pub sbatch_options: Vec<String>,
    /// Folder for array.sbatch, merge.sbatch and logs/ (default OUT.slurm beside OUT).
    #[arg(long)]
    pub script_dir: Option<PathBuf>,
    /// The saddlescope the jobs run (default: this one, by its absolute path).
    #[arg(long)]
    pub binary: Option<PathBuf>,
    /// Submit the jobs too: sbatch the array, then the merge with --dependency=afterok.
    #[arg(long)]
    pub submit: bool,
}

/// The #SBATCH options of a job, checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Header {
    pub job_name: String,
    pub partition: Option<String>,
    pub time: Option<String>,
    pub gpus: Option<String>,
    pub cpus_per_task: Option<u32>,
    pub mem: Option<String>,
    pub account: Option<String>,
    pub max_running: Option<usize>,
    pub extra: Vec<String>,
}

/// Options `--sbatch-option` cannot set: the job's layout is this tool's (the rest of the
/// list names the flag that sets them).
const OWN: [(&str, &str); 12] = [
    ("--array", "--shards and --max-running"),
    ("--output", "--script-dir (logs/)"),
    ("--error", "--script-dir (logs/)"),
    ("--dependency", "--submit"),
    ("--chdir", "the working directory slurm is run in"),
    ("--job-name", "--job-name"),
    ("--partition", "--partition"),
    ("--time", "--time"),
    ("--gpus", "--gpus"),
    ("--cpus-per-task", "--cpus-per-task"),
    ("--mem", "--mem"),
    ("--account", "--account"),
];

impl SlurmOptions {
    /// The checked #SBATCH options; `command` names the default job name.
    pub fn header(&self, command: &str) -> Result<Header, SpecError> {
        if self.shards == 0 {
            return Err(SpecError::flag(
                "--shards",
                0,
                "a whole number >= 1 (and at most the run's walkers, pixels or instances)",
            ));
        }
        let name = |flag: &'static str, v: &Option<String>| {
            v.as_deref()
                .map(|t| names(flag, t).map(|()| t.to_string()))
                .transpose()
        };
        if self.cpus_per_task == Some(0) {
            return Err(SpecError::flag("--cpus-per-task", 0, ">= 1"));
        }
        if self.max_running == Some(0) {
            return Err(SpecError::flag("--max-running", 0, ">= 1"));
        }
        let job_name = self
            .job_name
            .clone()
            .unwrap_or_else(|| format!("saddlescope-{command}"));
        names("--job-name", &job_name)?;
        for o in &self.sbatch_options {
            extra(o)?;
        }
        Ok(Header {
            job_name,
            partition: name("--partition", &self.partition)?,
            time: self.time.as_deref().map(time).transpose()?,
            gpus: self.gpus.as_deref().map(gpus).transpose()?,
            cpus_per_task: self.cpus_per_task,
            mem: self.mem.as_deref().map(mem).transpose()?,
            account: name("--account", &self.account)?,
            max_running: self.max_running,
            extra: self.sbatch_options.clone(),
        })
    }

    /// The memory each job gets, as a limit the runs are checked against (None: not given, or
    /// `--mem 0`, Slurm's "all of the node's memory").
    pub fn mem_limit(&self) -> Result<Option<Available>, SpecError> {
        let Some(text) = self.mem.as_deref() else {
            return Ok(None);
        };
        let bytes = mem_bytes(text)?;
        Ok((bytes > 0).then(|| Available {
            bytes,
            source: format!("--mem {text} of each Slurm job"),
        }))
    }
}

/// Names (partition, account, job name): letters, digits, `_`, `.`, `-` (partitions: a comma
/// list of them).
fn names(flag: &'static str, text: &str) -> Result<(), SpecError> {
    let ok = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    };
    let good = if flag == "--partition" {
        text.split(',').all(ok)
    } else {
        ok(text)
    };
    if good {
        Ok(())
    } else {
        Err(SpecError::Spec {
            context: format!("{flag} '{text}'"),
            problem: "is not a Slurm name; valid: letters, digits, '_', '.' and '-'".into(),
        })
    }
}

/// sbatch --time: `MM`, `MM:SS`, `HH:MM:SS`, `D-HH`, `D-HH:MM`, `D-HH:MM:SS` (or `UNLIMITED`).
pub fn time(text: &str) -> Result<String, SpecError> {
    let bad = || SpecError::Spec {
        context: format!("--time '{text}'"),
        problem: "is not a Slurm time limit; valid: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or \
                  D-HH:MM:SS (e.g. 90, 01:30:00, 2-00:00:00)"
            .into(),
    };
    if text.eq_ignore_ascii_case("unlimited") || text.eq_ignore_ascii_case("infinite") {
        return Ok(text.to_string());
    }
    let number = |s: &str| !s.is_empty() && s.len() <= 9 && s.chars().all(|c| c.is_ascii_digit());
    let (days, clock) = match text.split_once('-') {
        Some((d, rest)) => (Some(d), rest),
        None => (None, text),
    };
    let fields: Vec<&str> = clock.split(':').collect();
    let fits = match days {
        Some(d) => number(d) && (1..=3).contains(&fields.len()),
        None => (1..=3).contains(&fields.len()),
    };
    if !fits || !fields.iter().all(|f| number(f)) {
        return Err(bad());
    }
    // Minutes and seconds after the first field are below 60.
    if fields
        .iter()
        .skip(1)
        .any(|f| f.parse::<u32>().map_or(true, |v| v >= 60))
    {
        return Err(bad());
    }
    Ok(text.to_string())
}

/// sbatch --gpus: `COUNT` or `TYPE:COUNT`, COUNT >= 1.
pub fn gpus(text: &str) -> Result<String, SpecError> {
    let (kind, count) = match text.rsplit_once(':') {
        Some((k, c)) => (Some(k), c),
        None => (None, text),
    };
    let count_ok = count.parse::<u32>().is_ok_and(|c| c >= 1);
    let kind_ok = kind.is_none_or(|k| names("--gpus", k).is_ok());
    if count_ok && kind_ok {
        Ok(text.to_string())
    } else {
        Err(SpecError::Spec {
            context: format!("--gpus '{text}'"),
            problem: "is not a GPU count; valid: COUNT >= 1 or TYPE:COUNT (e.g. 1, a100:2)".into(),
        })
    }
}

/// sbatch --mem: a whole number of megabytes, or with the unit K, M, G or T.
pub fn mem(text: &str) -> Result<String, SpecError> {
    mem_bytes(text).map(|_| text.to_string())
}

/// The bytes of an sbatch --mem (Slurm's units are binary; no unit is megabytes).
fn mem_bytes(text: &str) -> Result<u64, SpecError> {
    let (digits, unit) = match text.chars().last() {
        Some(c) if c.is_ascii_alphabetic() => (&text[..text.len() - 1], c.to_ascii_uppercase()),
        _ => (text, 'M'),
    };
    let shift = match unit {
        'K' => 10,
        'M' => 20,
        'G' => 30,
        'T' => 40,
        _ => 64,
    };
    let value = digits
        .parse::<u64>()
        .ok()
        .filter(|_| shift < 64 && !digits.starts_with('+'));
    match value.and_then(|v| v.checked_mul(1 << shift)) {
        Some(b) => Ok(b),
        None => Err(SpecError::Spec {
            context: format!("--mem '{text}'"),
            problem: "is not a Slurm memory size; valid: a whole number of megabytes, or with \
                      K, M, G or T (e.g. 4000, 16G)"
                .into(),
        }),
    }
}

/// A `--sbatch-option`: one `--name` or `--name=value` of sbatch that this tool does not set
/// itself, with nothing a #SBATCH line would read differently from a command line.
fn extra(o: &str) -> Result<(), SpecError> {
    let bad = |problem: String| SpecError::Spec {
        context: format!("--sbatch-option '{o}'"),
        problem,
    };
    let key = o.split('=').next().unwrap_or(o);
    let name_ok = key.len() > 2
        && key.starts_with("--")
        && key[2..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !name_ok || o.chars().any(|c| c.is_whitespace() || "'\"\\#".contains(c)) {
        return Err(bad(
            "valid: one long sbatch option, --name or --name=value, without spaces, quotes, \
             '\\' or '#' (e.g. --sbatch-option=--qos=long)"
                .into(),
        ));
    }
    if let Some((_, by)) = OWN.iter().find(|(k, _)| *k == key) {
        return Err(bad(format!(
            "{key} is set by {by}; valid: another sbatch option"
        )));
    }
    Ok(())
}

/// The refusal of a run that cannot fit the memory of its Slurm job.
pub fn check_memory(
    what: &str,
    estimate: &memory::Estimate,
    limit: &Available,
) -> Result<(), SpecError> {
    if estimate.total() <= limit.bytes {
        return Ok(());
    }
    Err(SpecError::TooLarge {
        what: what.to_string(),
        need: format!("an estimated {} of memory", memory::show(estimate.total())),
        limit: format!("the {} of {}", memory::show(limit.bytes), limit.source),
        valid: "a larger --mem, or more --shards (each then walks fewer)".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slurm_values_are_held_to_what_sbatch_reads() {
        for ok in [
            "90",
            "30:00",
            "01:30:00",
            "2-00",
            "2-12:00",
            "1-00:00:00",
            "UNLIMITED",
        ] {
            assert_eq!(time(ok).unwrap(), ok);
        }
        for bad in [
            "", "1h", "01:60:00", "1:2:3:4", "-1", "1-", "a-01", "1 00", "01:30:0x",
        ] {
            let e = time(bad).unwrap_err().to_string();
            assert!(e.contains("--time") && e.contains("HH:MM:SS"), "{e}");
        }
        assert!(gpus("1").is_ok() && gpus("a100:2").is_ok());
        for bad in ["0", "-1", "a100:", "two", "a 1:1", ":1"] {
            assert!(gpus(bad).is_err(), "{bad}");
        }
        assert_eq!(mem_bytes("4000").unwrap(), 4000 << 20);
        assert_eq!(mem_bytes("16G").unwrap(), 16 << 30);
        assert_eq!(mem_bytes("512k").unwrap(), 512 << 10);
        assert_eq!(mem_bytes("0").unwrap(), 0);
        for bad in ["", "G", "1.5G", "-1", "+1", "4X", "16 G", "99999999999T"] {
            let e = mem_bytes(bad).unwrap_err().to_string();
            assert!(e.contains("--mem") && e.contains("megabytes"), "{bad}: {e}");
        }
        assert!(names("--partition", "gpu,gpu-long").is_ok());
        assert!(names("--partition", "gpu long").is_err());
        assert!(names("--account", "a,b").is_err());
        assert!(extra("--qos=long").is_ok() && extra("--exclusive").is_ok());
        for bad in ["qos=long", "--", "--qos=a b", "--qos='x'", "--comment=#1"] {
            assert!(extra(bad).is_err(), "{bad}");
        }
        let e = extra("--array=1-3").unwrap_err().to_string();
        assert!(e.contains("set by --shards"), "{e}");
    }

    #[test]
    fn the_header_checks_every_option_and_names_the_job_by_its_command() {
        let opts = SlurmOptions {
            shards: 4,
            ..SlurmOptions::default()
        };
        let h = opts.header("sweep").unwrap();
        assert_eq!(h.job_name, "saddlescope-sweep");
        assert_eq!(h.partition, None);
        assert!(SlurmOptions {
            shards: 0,
            ..opts.clone()
        }
        .header("sweep")
        .unwrap_err()
        .to_string()
        .starts_with("--shards 0"));
        let bad_time = SlurmOptions {
            time: Some("soon".into()),
            ..opts.clone()
        };
        assert!(bad_time.header("sweep").is_err());
        let m = SlurmOptions {
            mem: Some("2G".into()),
            ..opts.clone()
        };
        assert_eq!(m.mem_limit().unwrap().unwrap().bytes, 2 << 30);
        let all = SlurmOptions {
            mem: Some("0".into()),
            ..opts
        };
        assert_eq!(all.mem_limit().unwrap(), None);
    }
}
