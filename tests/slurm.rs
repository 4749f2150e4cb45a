//! `saddlescope slurm` without Slurm: the scripts it writes, run by bash as Slurm would run
//! them (task by task, then the merge), give the single run's files byte for byte, with
//! arguments that need quoting; every bad job is refused with exit code 2 before anything is
//! written; `--submit` through a stand-in sbatch. scripts/slurm_test.sh runs a job on a real
//! Slurm.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::cli::{binary, manifest, run, same_files, tmp};

/// A formula whose text needs every kind of shell quoting (spaces, `;`, `#`, a quote, a double
/// quote, a line break): (x² − 1)² + (y² − 1)², nine critical points of three indices.
const FORMULA: &str = "expr:let a = x^2 - 1; # it's \"two\" wells\n a^2 + (y^2 - 1)^2";

fn sample_args(out: &Path) -> Vec<String> {
    [
        "sample",
        "--objective",
        FORMULA,
        "--optimizer",
        "newton-mr:rtol=1e-6..1e-4:log",
        "--init",
        "uniform:lo=-2,hi=2",
        "--walkers",
        "120",
        "--steps",
        "40",
        "--backend",
        "cpu",
        "--out",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([out.display().to_string()])
    .collect()
}

fn go(args: &[String]) -> Output {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&refs)
}

fn slurm(opts: &[&str], command: &[String]) -> Output {
    let mut a: Vec<String> = vec!["slurm".into()];
    a.extend(opts.iter().map(|s| s.to_string()));
    a.extend(command.iter().cloned());
    go(&a)
}

fn ok(o: &Output) -> String {
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(o.status.success(), "{out}\n{err}");
    out.into_owned()
}

fn refused(o: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{needle}: {err}");
    assert!(err.contains(needle), "{needle}: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// Runs a written script with bash as Slurm would: `task` sets SLURM_ARRAY_TASK_ID.
fn bash(script: &Path, task: Option<usize>) -> Output {
    let mut c = std::process::Command::new("bash");
    c.arg(script).env_remove("SLURM_ARRAY_TASK_ID");
    if let Some(k) = task {
        c.env("SLURM_ARRAY_TASK_ID", k.to_string());
    }
    c.output().expect("bash runs")
}

#[test]
fn the_scripts_run_task_by_task_then_merged_give_the_single_run() {
    let root = tmp("by-hand");
    // OUT itself needs quoting; the scripts go where #SBATCH lines can name them.
    let out = root.join("run 'one' $HOME");
    let scripts = root.join("job");
    // The run may follow `--` too.
    let o = slurm(
        &[
            "--shards",
            "4",
            "--script-dir",
            scripts.to_str().unwrap(),
            "--",
        ],
        &sample_args(&out),
    );
    let said = ok(&o);
    let (array, merge) = (scripts.join("array.sbatch"), scripts.join("merge.sbatch"));
    assert!(
        said.contains(&format!("wrote {}", array.display())),
        "{said}"
    );
    assert!(said.contains("sbatch --dependency=afterok:"), "{said}");
    let text = std::fs::read_to_string(&array).unwrap();
    assert!(text.contains("#SBATCH --array=1-4\n"), "{text}");
    assert!(
        text.contains(&format!(
            "exec {}",
            binary().get_program().to_string_lossy()
        )),
        "{text}"
    );
    assert!(!out.exists(), "slurm writes scripts only");

    for k in [3, 1, 4, 2] {
        let o = bash(&array, Some(k));
        assert!(
            o.status.success(),
            "task {k}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let shard2 = PathBuf::from(format!("{}.shards/2-of-4", out.display()));
    let m2 = manifest(&shard2);
    assert_eq!(m2["shard"]["walkers"], serde_json::json!([30, 60]));
    // The formula reached the program as typed, line break and quotes included.
    assert_eq!(m2["spec"]["objective"], FORMULA);
    let o = bash(&merge, None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let one = root.join("one");
    ok(&go(&sample_args(&one)));
    same_files(&one, &out);
    let (a, b) = (manifest(&one), manifest(&out));
    for key in [
        "spec",
        "resolved",
        "status_counts",
        "critical_points",
        "coverage",
    ] {
        assert_eq!(a[key], b[key], "manifest.json: {key}");
    }
    assert!(
        a["critical_points"]["distinct"].as_u64().unwrap() >= 5,
        "{}",
        a["critical_points"]
    );

    // Run outside an array task, a task script says why and writes nothing.
    let o = bash(&array, None);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("SLURM_ARRAY_TASK_ID is ''"));
    // The job's folders now hold a run: a second job into them is refused.
    refused(
        &slurm(
            &[
                "--shards",
                "4",
                "--script-dir",
                root.join("job2").to_str().unwrap(),
            ],
            &sample_args(&out),
        ),
        "already holds a finished 'sample' run",
    );
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn bad_jobs_are_refused_before_anything_is_written() {
    let root = tmp("refused");
    let out = root.join("run");
    let with = |extra: &[&str]| {
        let mut a = sample_args(&out);
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let plain = sample_args(&out);
    let mut no_out = plain.clone();
    no_out.truncate(no_out.len() - 2);
    let mut bad_spec = plain.clone();
    bad_spec[2] = "himmelblau:q=1".into();
    let words = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let cases: Vec<(Vec<&str>, Vec<String>, &str)> = vec![
        (
            vec!["--shards", "4"],
            with(&["--shard", "1/4"]),
            "each array task gives its own --shard",
        ),
        (vec!["--shards", "4"], no_out, "the command has no --out"),
        (vec!["--shards", "4"], bad_spec, "unknown key 'q'"),
        (
            vec!["--shards", "121"],
            plain.clone(),
            "121 shards of 120 walkers",
        ),
        (
            vec!["--shards", "0"],
            plain.clone(),
            "--shards 0 is out of range",
        ),
        (
            vec!["--shards", "2"],
            with(&["--partition", "gpu"]),
            "slurm's own options",
        ),
        (
            vec!["--shards", "2", "--time", "1h"],
            plain.clone(),
            "--time '1h'",
        ),
        (
            vec!["--shards", "2", "--gpus", "0"],
            plain.clone(),
            "--gpus '0'",
        ),
        (
            vec!["--shards", "2", "--mem", "16 G"],
            plain.clone(),
            "--mem '16 G'",
        ),
        (
            vec!["--shards", "2", "--mem", "1K"],
            plain.clone(),
            "more than the 1.0 KiB of --mem 1K",
        ),
        (
            vec!["--shards", "2", "--partition", "a b"],
            plain.clone(),
            "is not a Slurm name",
        ),
        (
            vec!["--shards", "2", "--sbatch-option=--array=1-9"],
            plain.clone(),
            "--array is set by --shards",
        ),
        (
            vec!["--shards", "2"],
            words(&["bench", "--workload", "field"]),
            "'bench': does not shard",
        ),
        (
            vec!["--shards", "2"],
            words(&["merge", "--out", "a", "b"]),
            "'merge': does not shard",
        ),
        (
            vec!["--shards", "2"],
            words(&["plot", "x"]),
            "'plot': does not shard",
        ),
        (
            vec!["--shards", "2"],
            words(&["list"]),
            "'list': does not shard",
        ),
        (
            vec!["--shards", "2"],
            words(&["slurm", "--shards", "2", "list"]),
            "'slurm': does not shard",
        ),
        (
            vec!["--shards", "2"],
            words(&["nonsense"]),
            "is not a saddlescope command line",
        ),
        (
            vec!["--shards", "2"],
            words(&[
                "sample",
                "--objective",
                "himmelblau",
                "--optimizer",
                "newton",
                "--backend",
                "gpu",
                "--out",
                "x",
            ]),
            "runs on the CPU twin only",
        ),
    ];
    for (opts, command, needle) in &cases {
        refused(&slurm(opts, command), needle);
    }
    // An experiment file: its command line is shown to be given to slurm instead.
    std::fs::create_dir_all(&root).unwrap();
    let exp = root.join("e.toml");
    std::fs::write(
        &exp,
        "command = \"sample\"\nobjective = \"himmelblau\"\noptimizer = \"gd\"\n",
    )
    .unwrap();
    refused(
        &slurm(&["--shards", "2"], &words(&["run", exp.to_str().unwrap()])),
        "followed by that command line: sample --objective himmelblau --optimizer gd",
    );
    // --submit where no sbatch is on PATH: refused before the scripts are written.
    let o = binary()
        .args(["slurm", "--shards", "2", "--submit"])
        .args(&plain)
        .env("PATH", root.join("nothing-here"))
        .output()
        .unwrap();
    refused(&o, "sbatch is not on PATH");
    let entries: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        entries,
        vec![std::ffi::OsString::from("e.toml")],
        "a refused job writes nothing"
    );
    let _ = std::fs::remove_dir_all(&root);
}

/// A stand-in sbatch: records each call's arguments (one line per call) and answers from the
/// next line of `answers` (`ID` on stdout, or `!MESSAGE`: MESSAGE on stderr and exit 1).
fn fake_sbatch(dir: &Path, answers: &[&str]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("answers"), answers.join("\n") + "\n").unwrap();
    let script = format!(
        "#!/bin/sh\nd='{}'\necho \"$@\" >> \"$d/calls\"\nn=$(wc -l < \"$d/calls\")\n\
         a=$(sed -n \"${{n}}p\" \"$d/answers\")\ncase \"$a\" in\n  !*) echo \"${{a#!}}\" >&2; exit 1 ;;\n  *) echo \"$a\" ;;\nesac\n",
        dir.display()
    );
    let p = dir.join("sbatch");
    std::fs::write(&p, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir.join("calls")
}

fn submit(root: &Path, name: &str, answers: &[&str]) -> (Output, String, PathBuf) {
    let fake = root.join(format!("bin-{name}"));
    let calls = fake_sbatch(&fake, answers);
    let scripts = root.join(format!("job-{name}"));
    let path = format!(
        "{}:{}",
        fake.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = binary()
        .args(["slurm", "--shards", "3", "--partition", "gpu", "--submit"])
        .args(["--script-dir", scripts.to_str().unwrap()])
        .args(sample_args(&root.join(format!("run-{name}"))))
        .env("PATH", path)
        .output()
        .unwrap();
    let calls_text = std::fs::read_to_string(calls).unwrap_or_default();
    (o, calls_text, scripts)
}

#[test]
fn submit_queues_the_array_then_the_merge_after_it() {
    let root = tmp("submit");
    let (o, calls, scripts) = submit(&root, "ok", &["4711;cluster-a", "4712"]);
    let said = ok(&o);
    let (array, merge) = (scripts.join("array.sbatch"), scripts.join("merge.sbatch"));
    assert_eq!(
        calls,
        format!(
            "--parsable {}\n--parsable --dependency=afterok:4711 {}\n",
            array.display(),
            merge.display()
        )
    );
    assert!(
        said.contains("submitted array job 4711 (3 tasks) and merge job 4712"),
        "{said}"
    );

    // sbatch refuses the array: its message is shown, and nothing is queued.
    let (o, calls, _) = submit(
        &root,
        "no",
        &["!sbatch: error: invalid partition specified: gpu"],
    );
    refused(&o, "invalid partition specified: gpu");
    refused(&o, "nothing is queued");
    assert_eq!(calls.lines().count(), 1);
    // sbatch takes the array but refuses the merge: the message says what is queued.
    let (o, _, _) = submit(
        &root,
        "half",
        &["99", "!sbatch: error: Batch job submission failed"],
    );
    refused(&o, "array job 99 is queued, but sbatch refused");
    refused(&o, "scancel 99");
    // An answer that is no job id is refused, not taken for one.
    let (o, _, _) = submit(&root, "odd", &["Submitted batch job 5"]);
    refused(&o, "is not a job id");
    let _ = std::fs::remove_dir_all(&root);
}
