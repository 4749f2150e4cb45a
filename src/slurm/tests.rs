//! The job's layout and scripts: what the #SBATCH lines say, and that every argument reaches
//! the program through bash exactly as given.

use super::*;

fn opts(shards: usize) -> SlurmOptions {
    SlurmOptions {
        shards,
        ..SlurmOptions::default()
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "saddlescope-slurm-unit-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn out_is_taken_out_in_both_forms_and_nothing_else() {
    let a = strings(&[
        "sweep",
        "--objective",
        "pspin:p=3",
        "--out",
        "x",
        "--dims",
        "2,3",
        "--out=y",
        "--seed",
        "1",
    ]);
    assert_eq!(
        without_out(&a),
        strings(&[
            "sweep",
            "--objective",
            "pspin:p=3",
            "--dims",
            "2,3",
            "--seed",
            "1"
        ])
    );
    let base = Path::new("/w/d");
    assert_eq!(
        absolute(base, Path::new("runs/../x/./y/")),
        Path::new("/w/d/x/y")
    );
    assert_eq!(absolute(base, Path::new("/abs/z")), Path::new("/abs/z"));
}

#[test]
fn the_scripts_name_the_array_the_shards_and_only_the_options_given() {
    let args = strings(&[
        "sweep",
        "--objective",
        "pspin:p=3",
        "--dims",
        "2,3",
        "--out",
        "runs/x",
    ]);
    let job = Job::new(
        &opts(4),
        &args,
        Path::new("/data/runs/x"),
        Path::new("/opt/bin/saddlescope"),
    )
    .unwrap();
    assert_eq!(job.shard_dir(3), Path::new("/data/runs/x.shards/3-of-4"));
    assert_eq!(job.script_dir, Path::new("/data/runs/x.slurm"));
    let a = script::array(&job);
    for line in [
        "#!/bin/bash",
        "#SBATCH --job-name=saddlescope-sweep",
        "#SBATCH --array=1-4",
        "#SBATCH --output=/data/runs/x.slurm/logs/shard-%a-of-4-%A.out",
        "set -euo pipefail",
        "shards=/data/runs/x.shards",
        "exec /opt/bin/saddlescope sweep --objective pspin:p=3 --dims 2,3 --shard \"$k/4\" --out \"$shards/$k-of-4\"",
    ] {
        assert!(a.lines().any(|l| l == line), "array.sbatch lacks {line}:\n{a}");
    }
    for absent in [
        "--partition",
        "--time",
        "--gpus",
        "--mem",
        "--cpus",
        "--account",
    ] {
        assert!(!a.contains(&format!("#SBATCH {absent}")), "{absent}:\n{a}");
    }
    // #SBATCH lines come before the first command (sbatch stops reading them there).
    let first_command = a.lines().position(|l| l == "set -euo pipefail").unwrap();
    assert!(a
        .lines()
        .skip(first_command)
        .all(|l| !l.starts_with("#SBATCH")));
    let m = script::merge(&job);
    assert!(
        m.contains("#SBATCH --job-name=saddlescope-sweep-merge"),
        "{m}"
    );
    assert!(
        m.contains("#SBATCH --output=/data/runs/x.slurm/logs/merge-%j.out"),
        "{m}"
    );
    assert!(
        m.contains("for k in $(seq 1 4); do folders+=(\"$shards/$k-of-4\"); done"),
        "{m}"
    );
    assert!(
        m.contains("exec /opt/bin/saddlescope merge --out /data/runs/x \"${folders[@]}\""),
        "{m}"
    );

    let full = SlurmOptions {
        partition: Some("gpu".into()),
        time: Some("01:00:00".into()),
        gpus: Some("a100:1".into()),
        cpus_per_task: Some(8),
        mem: Some("16G".into()),
        account: Some("lab".into()),
        job_name: Some("p3".into()),
        max_running: Some(2),
        sbatch_options: vec!["--qos=long".into()],
        ..opts(4)
    };
    let job = Job::new(&full, &args, Path::new("/data/runs/x"), Path::new("/b")).unwrap();
    let a = script::array(&job);
    for line in [
        "#SBATCH --job-name=p3",
        "#SBATCH --array=1-4%2",
        "#SBATCH --partition=gpu",
        "#SBATCH --account=lab",
        "#SBATCH --time=01:00:00",
        "#SBATCH --gpus=a100:1",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --mem=16G",
        "#SBATCH --qos=long",
    ] {
        assert!(
            a.lines().any(|l| l == line),
            "array.sbatch lacks {line}:\n{a}"
        );
    }
    let m = script::merge(&job);
    assert!(
        m.contains("#SBATCH --partition=gpu") && m.contains("#SBATCH --qos=long"),
        "{m}"
    );
    assert!(
        !m.contains("--gpus") && !m.contains("--array"),
        "the merge takes no GPU:\n{m}"
    );
}

#[test]
fn a_script_folder_that_sbatch_would_misread_is_refused() {
    let args = strings(&["sample", "--objective", "himmelblau"]);
    for bad in ["/data/my runs/x", "/data/50%/x", "/data/it's/x"] {
        let e = Job::new(&opts(2), &args, Path::new(bad), Path::new("/b"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("#SBATCH --output") && e.contains("--script-dir"),
            "{e}"
        );
        // The same OUT is fine with a script folder elsewhere.
        let o = SlurmOptions {
            script_dir: Some("/data/jobs/x".into()),
            ..opts(2)
        };
        assert!(Job::new(&o, &args, Path::new(bad), Path::new("/b")).is_ok());
    }
}

/// Runs `script` with bash as array task `task` (or the merge when None) and returns the
/// arguments the program received, one per NUL-terminated field.
fn args_received(
    job: &Job,
    script: &str,
    task: Option<&str>,
    record: &Path,
) -> (i32, Vec<String>, String) {
    let path = job.script_dir.join("under-test.sh");
    std::fs::create_dir_all(&job.script_dir).unwrap();
    std::fs::write(&path, script).unwrap();
    let _ = std::fs::remove_file(record);
    let mut c = std::process::Command::new("bash");
    c.arg(&path)
        .env("RECORD", record)
        .env_remove("SLURM_ARRAY_TASK_ID");
    if let Some(t) = task {
        c.env("SLURM_ARRAY_TASK_ID", t);
    }
    let o = c.output().expect("bash runs");
    let got = std::fs::read(record).unwrap_or_default();
    // NUL-terminated fields: the text after the last NUL is not one.
    let mut fields: Vec<String> = got
        .split(|b| *b == 0)
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect();
    fields.pop();
    (
        o.status.code().unwrap_or(-1),
        fields,
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn every_argument_reaches_the_program_as_given_through_bash() {
    let root = tmp("quoting");
    // A stand-in for saddlescope, in a folder whose name needs quoting, that records its
    // arguments and its working directory.
    let bin_dir = root.join("bin dir 'q'");
    std::fs::create_dir_all(&bin_dir).unwrap();
    let bin = bin_dir.join("fake saddlescope");
    std::fs::write(
        &bin,
        "#!/bin/sh\n{ printf '%s\\0' \"$PWD\"; for a in \"$@\"; do printf '%s\\0' \"$a\"; done; } > \"$RECORD\"\n",
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let hostile = [
        "expr:f=x0^2 + x1^2, n=2",
        "it's \"quoted\"",
        "$HOME `id` $(id) \\ ; & | * ? ~ # !",
        "two\nlines",
        "",
        "point:x=1;2",
    ];
    let mut args = strings(&["sample", "--objective"]);
    args.push(hostile[0].into());
    args.push("--init".into());
    for h in &hostile[1..] {
        args.push(h.to_string());
    }
    let out = root.join("out 'x' $y");
    let o = SlurmOptions {
        script_dir: Some(root.join("scripts")),
        ..opts(3)
    };
    let job = Job::new(&o, &args, &out, &bin).unwrap();
    let record = root.join("record");
    let (code, got, err) = args_received(&job, &script::array(&job), Some("2"), &record);
    assert_eq!(code, 0, "{err}");
    let mut want = vec![job.workdir.display().to_string()];
    want.extend(job.task_args(2));
    assert_eq!(got, want);
    assert!(got.contains(&"2/3".to_string()) && got.last().unwrap().ends_with(".shards/2-of-3"));

    let (code, got, err) = args_received(&job, &script::merge(&job), None, &record);
    assert_eq!(code, 0, "{err}");
    let mut want = vec![
        job.workdir.display().to_string(),
        "merge".into(),
        "--out".into(),
        out.display().to_string(),
    ];
    want.extend((1..=3).map(|k| job.shard_dir(k).display().to_string()));
    assert_eq!(got, want);

    // Outside an array task (or with a task id out of range) the script says so and runs
    // nothing.
    for task in [None, Some("0"), Some("4"), Some("x"), Some("1;id")] {
        let (code, got, err) = args_received(&job, &script::array(&job), task, &record);
        assert_eq!(code, 2, "{task:?}");
        assert!(got.is_empty(), "{task:?}: {got:?}");
        assert!(
            err.contains("SLURM_ARRAY_TASK_ID") && err.contains("1..3"),
            "{err}"
        );
    }
    // A line break in an argument stays inside its quotes: the comment lines hold it escaped.
    let a = script::array(&job);
    assert!(
        a.lines()
            .any(|l| l.starts_with("#   saddlescope sample") && l.contains("two\\nlines")),
        "{a}"
    );
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn folders_that_hold_something_are_refused_and_scripts_are_never_replaced() {
    let root = tmp("folders");
    let args = strings(&["sample", "--objective", "himmelblau"]);
    let job = Job::new(&opts(2), &args, &root.join("run"), Path::new("/b")).unwrap();
    job.check_folders().unwrap();
    let w = job.write().unwrap();
    assert!(w.array.is_file() && w.merge.is_file() && job.logs_dir().is_dir());
    let e = job.check_folders().unwrap_err().to_string();
    assert!(e.contains("already holds array.sbatch"), "{e}");
    let before = std::fs::read(&w.array).unwrap();
    assert!(job.write().is_err());
    assert_eq!(std::fs::read(&w.array).unwrap(), before);

    let other = Job::new(
        &SlurmOptions {
            script_dir: Some(root.join("s2")),
            ..opts(2)
        },
        &args,
        &root.join("run"),
        Path::new("/b"),
    )
    .unwrap();
    std::fs::create_dir_all(other.shard_dir(2)).unwrap();
    std::fs::write(other.shard_dir(2).join("walkers.csv"), "x").unwrap();
    let e = other.check_folders().unwrap_err().to_string();
    assert!(e.contains("2-of-2") && e.contains("walkers.csv"), "{e}");
    let _ = std::fs::remove_dir_all(&root);
}
