//! Hostile input, through the CLI: a corpus of bad flags, specs, sizes and damaged run folders
//! for every command. Each case must exit 2 quickly with a message that names the bad part,
//! panic nowhere, and write nothing outside its `--out` (nothing at all, for a usage error; a
//! damaged folder given to `plot` is left exactly as it was). A property test feeds random
//! spec strings and flag values to the library's parsers, which must never panic.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use common::cli::{binary, tmp};

/// The memory limit every case runs under, so that the size cases do not depend on the
/// machine's memory.
const LIMIT: &str = "16G";

/// What one case's run left: exit code, stderr, seconds.
struct Outcome {
    code: Option<i32>,
    stderr: String,
    seconds: f64,
}

/// Owned arguments.
fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// Runs `saddlescope ARGS` in `cwd` under the memory limit.
fn run_case(cwd: &Path, args: &[String], env: &[(&str, &str)]) -> Outcome {
    let t = Instant::now();
    let mut c = binary();
    c.args(args)
        .current_dir(cwd)
        .env("SADDLESCOPE_MEMORY_LIMIT", LIMIT)
        .env("RUST_BACKTRACE", "1");
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().expect("the binary runs");
    Outcome {
        code: o.status.code(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        seconds: t.elapsed().as_secs_f64(),
    }
}

/// The failures of one outcome against the corpus' rules; empty when it passes.
fn judge(what: &str, o: &Outcome, needle: &str, most_s: f64) -> Vec<String> {
    let mut bad = Vec::new();
    if o.code != Some(2) {
        bad.push(format!("{what}: exit {:?}, not 2", o.code));
    }
    if !o.stderr.contains(needle) {
        bad.push(format!("{what}: the message does not name '{needle}'"));
    }
    for sign in [
        "panicked",
        "stack backtrace",
        "RUST_BACKTRACE",
        "memory allocation",
    ] {
        if o.stderr.contains(sign) {
            bad.push(format!("{what}: '{sign}' in stderr"));
        }
    }
    if o.seconds > most_s {
        bad.push(format!("{what}: took {:.2} s", o.seconds));
    }
    if !bad.is_empty() {
        bad.push(format!("    stderr: {}", o.stderr.trim()));
    }
    bad
}

/// Every file under `dir`, by path relative to it, with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_path_buf();
                out.insert(rel, std::fs::read(&p).unwrap_or_default());
            }
        }
    }
    out
}

/// Runs `cases` on a few threads; `run` returns the failures of one case.
fn in_parallel<T: Sync>(cases: &[T], run: impl Fn(usize, &T) -> Vec<String> + Sync) -> Vec<String> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(c) = cases.get(i) else { break };
                let f = run(i, c);
                failures.lock().unwrap().extend(f);
            });
        }
    });
    failures.into_inner().unwrap()
}

/// A small valid run of each walking command on the CPU (the base every bad flag changes).
fn base(command: &str) -> Vec<&'static str> {
    match command {
        "sample" => vec!["sample", "--objective", "himmelblau", "--optimizer", "gd"],
        "escape" => vec![
            "escape",
            "--objective",
            "saddle",
            "--from",
            "saddle",
            "--optimizers",
            "gd",
        ],
        "basins" => vec![
            "basins",
            "--objective",
            "himmelblau",
            "--optimizer",
            "gd",
            "--resolution",
            "16",
        ],
        "sweep" => vec![
            "sweep",
            "--objective",
            "pspin:p=3",
            "--dims",
            "2",
            "--instances",
            "2",
        ],
        _ => unreachable!(),
    }
}

const WALKING: [&str; 4] = ["sample", "escape", "basins", "sweep"];

/// (arguments, what the message must name).
type Case = (Vec<String>, String);

fn case(args: &[&str], needle: &str) -> Case {
    (
        args.iter().map(|s| s.to_string()).collect(),
        needle.to_string(),
    )
}

/// `base(command)` with one flag replaced or added.
fn with(command: &str, flag: &str, value: &str, needle: &str) -> Case {
    let mut args: Vec<&str> = base(command);
    if let Some(i) = args.iter().position(|a| *a == flag) {
        args[i + 1] = value;
    } else {
        args.extend([flag, value]);
    }
    args.extend(["--steps", "5"].iter().filter(|_| flag != "--steps"));
    case(&args, needle)
}

/// Bad values of the flags and specs every walking command shares.
fn shared_cases() -> Vec<Case> {
    let mut v = Vec::new();
    for c in WALKING {
        let spec_flag = match c {
            "escape" => "--optimizers",
            _ => "--optimizer",
        };
        for (flag, value, needle) in [
            ("--steps", "0", "--steps 0 is out of range"),
            (
                "--steps",
                "4294967295",
                "--steps 4294967295 is out of range",
            ),
            ("--steps", "-3", "--steps"),
            ("--steps", "many", "--steps"),
            ("--grad-tol", "-1", "--grad-tol -1 is out of range"),
            ("--grad-tol", "NaN", "--grad-tol NaN is out of range"),
            ("--grad-tol", "inf", "--grad-tol inf is out of range"),
            ("--bound", "0", "--bound 0 is out of range"),
            ("--bound", "-5", "--bound -5 is out of range"),
            ("--bound", "NaN", "--bound NaN is out of range"),
            ("--chunk", "0", "--chunk 0 is out of range"),
            ("--seed", "-1", "--seed"),
            ("--seed", "18446744073709551616", "--seed"),
            ("--backend", "quantum", "quantum"),
            ("--walkers", "0", "--walkers 0 is out of range"),
            (spec_flag, "warp", "unknown optimizer 'warp'"),
            (spec_flag, "gd:lr=fast", "'lr=fast' is not a number"),
            (spec_flag, "gd:lr=-1", "lr=-1 is out of range"),
            (spec_flag, "gd:beta=0.9", "unknown key 'beta'"),
            (
                spec_flag,
                "gd:lr=1e999",
                "lr=1e999 is out of range; valid: > 0",
            ),
            (spec_flag, "gd:lr=inf", "lr=inf is out of range; valid: > 0"),
            (spec_flag, "gd:schedule=wobbly", "unknown schedule 'wobbly'"),
            (spec_flag, "gd:lr=0.1..0.01", "lr"),
            (spec_flag, "pgd:t_thres=1..9", "t_thres"),
            (spec_flag, ":lr=1", "has no name"),
            (spec_flag, "gd:lr=1e-3..1:log:log", "lr"),
            (spec_flag, "gd:batch=8", "has no data"),
            (spec_flag, "gd:batch=2.5", "batch=2.5 is out of range"),
            (spec_flag, "gd:batch=4..2", "lo < hi"),
        ] {
            if c == "basins" && flag == "--walkers" {
                continue;
            }
            v.push(with(c, flag, value, needle));
        }
        let obj = match c {
            "sweep" => vec![
                ("nosuch", "unknown objective 'nosuch'"),
                ("pspin:p=9", "p=9 is out of range"),
                ("pspin:p=3,n=4", "a sweep sets n"),
                ("pspin:p=3,seed=4", "a sweep sets seed"),
                ("himmelblau", "himmelblau"),
                ("field:features=-1", "features=-1 is out of range"),
                ("field:features=abc", "'features=abc' is not a number"),
            ],
            _ => vec![
                ("nosuch", "unknown objective 'nosuch'"),
                ("rastrigin:n=0", "n=0 is out of range"),
                ("rastrigin:n=2.5", "n=2.5 is out of range"),
                // One above the range's end: as an f64 it would round onto the end.
                (
                    "field:seed=9007199254740993",
                    "seed=9007199254740993 is out of range",
                ),
                ("rastrigin:a=1..2", "rastrigin"),
                ("field:n=4,features=99999999", "features=99999999"),
                ("pspin:p=3,n=1290", "'pspin': n=1290 with p=3 needs"),
                ("himmelblau:q=1", "unknown key 'q'"),
                ("expr:@/dev/zero", "not a regular file"),
                ("mlp:data=/dev/zero", "neither the extension .npy nor .csv"),
            ],
        };
        for (spec, needle) in obj {
            v.push(with(c, "--objective", spec, needle));
        }
    }
    v
}

/// Bad flags of one command, and sizes that cannot fit.
fn command_cases() -> Vec<Case> {
    let huge = "2147483647";
    let mut v = vec![
        // Minibatches larger than the data.
        case(
            &[
                "sample",
                "--objective",
                "mlp",
                "--optimizer",
                "gd:batch=65",
                "--steps",
                "5",
            ],
            "batch=65 is larger than the P = 64 samples",
        ),
        case(
            &[
                "escape",
                "--objective",
                "mlp:widths=2-1-1,samples=16",
                "--from",
                "point:x=0;0;0;0;0",
                "--optimizers",
                "gd",
                "gd:batch=8..20",
                "--steps",
                "5",
            ],
            "batch=8..20 is larger than the P = 16 samples",
        ),
        // sample
        with(
            "sample",
            "--walkers",
            huge,
            "sample --walkers 2147483647 at N = 2 needs an estimated",
        ),
        with(
            "sample",
            "--walkers",
            "2147483648",
            "--walkers 2147483648 is out of range",
        ),
        with("sample", "--walkers", "99999999999999999999", "--walkers"),
        with("sample", "--init", "gauss", "gauss"),
        with("sample", "--init", "uniform:lo=2,hi=1", "lo"),
        with(
            "sample",
            "--init",
            "point:x=1;2;3",
            "3 values but the objective has N = 2",
        ),
        with(
            "sample",
            "--init",
            "normal:sigma=-1",
            "sigma=-1 is out of range",
        ),
        with("sample", "--init", "point:x=a;b", "not a number"),
        with(
            "sample",
            "--polish-tol",
            "0",
            "--polish-tol 0 is out of range",
        ),
        with(
            "sample",
            "--zero-eig-tol",
            "2",
            "--zero-eig-tol 2 is out of range",
        ),
        with(
            "sample",
            "--cluster-tol",
            "NaN",
            "--cluster-tol NaN is out of range",
        ),
        with(
            "sample",
            "--max-drift",
            "-1",
            "--max-drift -1 is out of range",
        ),
        with(
            "sample",
            "--optimizer",
            "newton:lr=1",
            "--backend gpu: step rule 'newton' runs on the CPU twin only",
        )
        .into_iter_fix("--backend", "gpu"),
        with("sample", "--objective", "rastrigin:n=100", "64").into_iter_fix("--optimizer", "sfn"),
        // escape
        with(
            "escape",
            "--walkers",
            huge,
            "escape --walkers 2147483647 x 1 arms at N = 2 needs an estimated",
        ),
        with("escape", "--from", "nowhere", "nowhere"),
        with(
            "escape",
            "--from",
            "point:x=1",
            "--from point has 1 values but saddle has N = 2",
        ),
        with(
            "escape",
            "--from",
            "critical:/nonexistent/run,0",
            "/nonexistent/run",
        ),
        with("escape", "--from", "plateau", "plateau"),
        with("escape", "--radius", "-1", "--radius"),
        with("escape", "--radius", "NaN", "--radius"),
        with("escape", "--escape-radius", "0", "--escape-radius"),
        with("escape", "--escape-drop", "-2", "--escape-drop"),
        with("escape", "--escape-drop", "inf", "--escape-drop"),
        // basins
        with("basins", "--resolution", "0", "--resolution"),
        with("basins", "--resolution", "16x0", "--resolution"),
        with("basins", "--resolution", "axb", "--resolution"),
        with("basins", "--resolution", "100000x100000", "--resolution"),
        with(
            "basins",
            "--resolution",
            "4000x4000",
            "basins --resolution 4000x4000 at N = 32 needs an estimated",
        )
        .into_iter_fix("--objective", "rastrigin:n=32")
        .into_iter_fix("--plane", "random"),
        with(
            "basins",
            "--extent=-1e308,1e308",
            "",
            "--extent '-1e308,1e308'",
        )
        .into_iter_fix("", ""),
        with("basins", "--extent=1,1", "", "low to high").into_iter_fix("", ""),
        with("basins", "--extent=3,-3", "", "low to high").into_iter_fix("", ""),
        with("basins", "--extent=1,2,3", "", "has 3 values").into_iter_fix("", ""),
        with("basins", "--extent=0,1e200", "", "wider than").into_iter_fix("", ""),
        with("basins", "--extent=1e10,10000000000.0001", "", "too narrow").into_iter_fix("", ""),
        with("basins", "--extent=-3,NaN", "", "not a number").into_iter_fix("", ""),
        with("basins", "--extent=-3,inf", "", "not a number").into_iter_fix("", ""),
        with("basins", "--extent=a,b", "", "not a number").into_iter_fix("", ""),
        with("basins", "--plane", "diagonal", "--plane"),
        with("basins", "--plane", "points=0,1,2", "--catalogue"),
        with(
            "basins",
            "--plane",
            "center=1;u=1,0;v=0,1",
            "1 values but the objective has N = 2",
        ),
        with("basins", "--box", "1", "--box 1 is out of range"),
        with("basins", "--box", "99", "--box 99 is out of range"),
        with("basins", "--paths", "1000", "--paths 1000 is out of range"),
        with(
            "basins",
            "--catalogue",
            "/nonexistent/cat",
            "/nonexistent/cat",
        ),
        // sweep
        with(
            "sweep",
            "--instances",
            "1048576",
            "sweep --instances 1048576",
        ),
        with("sweep", "--instances", "0", "--instances 0 is out of range"),
        with(
            "sweep",
            "--instances",
            "1048577",
            "--instances 1048577 is out of range",
        ),
        with("sweep", "--dims", "", "--dims"),
        with("sweep", "--dims", "2,2", "--dims lists 2 twice"),
        with("sweep", "--dims", "0", "n=0"),
        with("sweep", "--dims", "2,x", "--dims"),
        with(
            "sweep",
            "--walkers",
            "1000000000",
            "sweep --instances 2 x --walkers 1000000000 at N = 2 needs",
        ),
        with(
            "sweep",
            "--walkers",
            "1073741824",
            "--walkers 1073741824 is out of range; valid: 1..=1073741823",
        ),
        with("sweep", "--instances", "1000", "--walkers").into_iter_fix("--walkers", "3000000"),
    ];
    v.extend([
        case(
            &[
                "sweep",
                "--objective",
                "pspin:p=3",
                "--dims",
                "64",
                "--instances",
                "1048576",
            ],
            "sweep --instances 1048576 x --walkers 1024 at N = 64 needs an estimated",
        ),
        case(
            &[
                "sweep",
                "--objective",
                "rastrigin",
                "--dims",
                "2",
                "--instances",
                "3",
            ],
            "no disorder",
        ),
        // bench
        case(
            &["bench", "--workload", "rastrigin", "--walkers", huge],
            "bench --walkers 2147483647 --dim 64 needs an estimated",
        ),
        case(
            &["bench", "--workload", "rastrigin", "--walkers", "0"],
            "--walkers 0 is out of range",
        ),
        case(
            &["bench", "--workload", "rastrigin", "--steps", "0"],
            "--steps 0 is out of range",
        ),
        case(
            &["bench", "--workload", "rastrigin", "--dim", "0"],
            "n=0 is out of range",
        ),
        case(
            &["bench", "--workload", "field", "--features", "0"],
            "features=0 is out of range",
        ),
        case(
            &["bench", "--workload", "pspin3", "--dim", "5000"],
            "n=5000 with p=3",
        ),
        case(
            &[
                "bench",
                "--workload",
                "eigen",
                "--walkers",
                "100000",
                "--dim",
                "1000",
            ],
            "4 GiB",
        ),
        case(
            &["bench", "--workload", "rastrigin", "--repeat", "0"],
            "--repeat 0",
        ),
        case(
            &["bench", "--workload", "rastrigin", "--until=-1"],
            "--until -1 is out of range",
        ),
        case(
            &["bench", "--workload", "rastrigin", "--until", "0"],
            "--until 0 is out of range",
        ),
        case(&["bench", "--workload", "nope"], "nope"),
        // shards and merge
        case(
            &[
                "sample",
                "--objective",
                "himmelblau",
                "--optimizer",
                "gd",
                "--shard",
                "0/3",
            ],
            "--shard '0/3'",
        ),
        case(
            &[
                "sample",
                "--objective",
                "himmelblau",
                "--optimizer",
                "gd",
                "--shard",
                "2/1",
            ],
            "--shard '2/1'",
        ),
        case(
            &[
                "sample",
                "--objective",
                "himmelblau",
                "--optimizer",
                "gd",
                "--walkers",
                "4",
                "--shard",
                "1/5",
            ],
            "5 shards of 4 walkers",
        ),
        case(
            &[
                "sweep",
                "--objective",
                "pspin:p=3",
                "--dims",
                "2",
                "--instances",
                "2",
                "--shard",
                "1/20",
            ],
            "20 shards of 2 instances per dimension",
        ),
        case(
            &[
                "sweep",
                "--objective",
                "pspin:p=3",
                "--dims",
                "2",
                "--shard",
                "3",
            ],
            "--shard '3'",
        ),
        case(
            &[
                "basins",
                "--objective",
                "himmelblau",
                "--optimizer",
                "gd",
                "--resolution",
                "4",
                "--box",
                "2",
                "--shard",
                "1/17",
            ],
            "17 shards of 16 pixels",
        ),
        case(
            &[
                "escape",
                "--objective",
                "saddle",
                "--from",
                "saddle",
                "--optimizers",
                "gd",
                "--walkers",
                "3",
                "--shard",
                "1/4",
            ],
            "4 shards of 3 walkers per arm",
        ),
        case(&["merge", "--out", "out"], "SHARDS"),
        case(
            &["merge", "--out", "out", "/nonexistent/shard"],
            "/nonexistent/shard: cannot read manifest.json",
        ),
        // slurm: the run after it is checked as its command checks it (the harness adds
        // `--backend cpu --out out` to it)
        case(
            &[
                "slurm",
                "--shards",
                "2",
                "sample",
                "--objective",
                "himmelblau:q=1",
                "--optimizer",
                "gd",
            ],
            "unknown key 'q'",
        ),
        case(
            &[
                "slurm",
                "--shards",
                "9",
                "sample",
                "--objective",
                "himmelblau",
                "--optimizer",
                "gd",
                "--walkers",
                "8",
            ],
            "9 shards of 8 walkers",
        ),
        case(
            &[
                "slurm",
                "--shards",
                "2",
                "--time",
                "1h",
                "sample",
                "--objective",
                "himmelblau",
                "--optimizer",
                "gd",
            ],
            "--time '1h'",
        ),
        case(
            &[
                "slurm",
                "--shards",
                "2",
                "--gpus",
                "x:0",
                "sample",
                "--objective",
                "himmelblau",
                "--optimizer",
                "gd",
            ],
            "--gpus 'x:0'",
        ),
        case(
            &["slurm", "--shards", "2", "bench", "--workload", "field"],
            "'bench': does not shard",
        ),
        case(
            &["slurm", "--shards", "2", "plot", "x"],
            "'plot': does not shard",
        ),
        case(&["slurm", "sample"], "--shards"),
        // the command line itself
        case(&["sample"], "--objective"),
        case(&["frobnicate"], "frobnicate"),
        case(
            &[
                "sample",
                "--objective",
                "himmelblau",
                "--optimizer",
                "gd",
                "--walkerz",
                "4",
            ],
            "--walkerz",
        ),
        case(&["plot"], "DIR"),
        case(&["run"], "FILE"),
        case(&["run", "/nonexistent/exp.toml"], "/nonexistent/exp.toml"),
    ]);
    v
}

trait Fix {
    /// A case with one more flag (or, with an empty flag, without the placeholder value).
    fn into_iter_fix(self, flag: &str, value: &str) -> Case;
}

impl Fix for Case {
    fn into_iter_fix(mut self, flag: &str, value: &str) -> Case {
        if flag.is_empty() {
            // `with(c, "--extent=…", "", …)` added "--extent=…" and an empty value.
            if let Some(i) = self.0.iter().position(|a| a.is_empty()) {
                self.0.remove(i);
            }
        } else if let Some(i) = self.0.iter().position(|a| a == flag) {
            self.0[i + 1] = value.to_string();
        } else {
            self.0.extend([flag.to_string(), value.to_string()]);
        }
        self
    }
}

/// Experiment files with bad content.
fn experiment_cases(dir: &Path) -> Vec<Case> {
    std::fs::create_dir_all(dir).unwrap();
    let files = [
        ("notoml.toml", "command = [", "notoml.toml"),
        ("nocommand.toml", "walkers = 3\n", "command"),
        ("badkey.toml", "command = \"sample\"\nobjective = \"himmelblau\"\noptimizer = \"gd\"\nwalkerz = 4\n", "walkerz"),
        ("badvalue.toml", "command = \"sample\"\nobjective = \"himmelblau\"\noptimizer = \"gd\"\nwalkers = 0\n", "--walkers 0 is out of range"),
        ("nested.toml", "command = \"run\"\nfile = \"x.toml\"\n", "cannot run another"),
        ("huge.toml", "command = \"sample\"\nobjective = \"himmelblau\"\noptimizer = \"gd\"\nwalkers = 2147483647\n", "needs an estimated"),
    ];
    files
        .iter()
        .map(|(name, text, needle)| {
            let p = dir.join(name);
            std::fs::write(&p, text).unwrap();
            (
                vec!["run".to_string(), p.display().to_string()],
                needle.to_string(),
            )
        })
        .collect()
}

#[test]
fn bad_flags_specs_and_sizes_exit_2_quickly_naming_the_bad_part_and_write_nothing() {
    let root = tmp("flags");
    let mut cases = shared_cases();
    cases.extend(command_cases());
    cases.extend(experiment_cases(&root.join("experiments")));
    eprintln!("{} flag, spec, size and experiment-file cases", cases.len());
    assert!(cases.len() >= 150, "{} cases", cases.len());
    let failures = in_parallel(&cases, |i, (args, needle)| {
        let cwd = root.join(format!("case-{i}"));
        std::fs::create_dir_all(&cwd).unwrap();
        let mut args = args.clone();
        if !matches!(
            args[0].as_str(),
            "bench" | "run" | "plot" | "merge" | "frobnicate"
        ) && args.len() > 1
        {
            if !args.iter().any(|a| a == "--backend") {
                args.extend(["--backend".into(), "cpu".into()]);
            }
            args.extend(["--out".into(), "out".into()]);
        }
        let o = run_case(&cwd, &args, &[]);
        let mut bad = judge(&args.join(" "), &o, needle, 3.0);
        let left: Vec<String> = std::fs::read_dir(&cwd)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        if !left.is_empty() {
            bad.push(format!("{}: left {left:?} behind", args.join(" ")));
        }
        bad
    });
    let _ = std::fs::remove_dir_all(&root);
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.iter().filter(|f| !f.starts_with("    ")).count(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn the_memory_limit_comes_from_the_machine_or_the_variable() {
    let cwd = tmp("meminfo");
    std::fs::create_dir_all(&cwd).unwrap();
    let args: Vec<String> = [
        "sample",
        "--objective",
        "himmelblau",
        "--optimizer",
        "gd",
        "--walkers",
        "2147483647",
        "--out",
        "out",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut c = binary();
    let o = c
        .args(&args)
        .current_dir(&cwd)
        .env_remove("SADDLESCOPE_MEMORY_LIMIT")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    let source = if Path::new("/proc/meminfo").exists() {
        "available (MemAvailable in /proc/meminfo)"
    } else {
        "the fallback of 8.0 GiB"
    };
    assert!(err.contains(source) || err.contains("cgroup"), "{err}");
    // A limit given by the variable is the one checked, and a run that fits it goes ahead.
    let o = run_case(&cwd, &args, &[("SADDLESCOPE_MEMORY_LIMIT", "1M")]);
    assert!(
        o.stderr
            .contains("1.0 MiB available (SADDLESCOPE_MEMORY_LIMIT=1M)"),
        "{}",
        o.stderr
    );
    let small = strings(&[
        "sample",
        "--objective",
        "himmelblau",
        "--optimizer",
        "gd",
        "--walkers",
        "20000",
        "--steps",
        "1",
        "--no-critical",
        "--backend",
        "cpu",
        "--out",
        "small",
    ]);
    let o = run_case(&cwd, &small, &[("SADDLESCOPE_MEMORY_LIMIT", "1M")]);
    assert!(
        o.code == Some(2) && o.stderr.contains("sample --walkers 20000"),
        "{}",
        o.stderr
    );
    let o = run_case(&cwd, &small, &[("SADDLESCOPE_MEMORY_LIMIT", "1G")]);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    let _ = std::fs::remove_dir_all(&cwd);
}

/// A landscape whose parameters do not fit the memory available is refused before they are
/// drawn (in well under a second, naming the landscape and what to change); under a larger
/// limit the same landscape is built.
#[test]
fn a_landscape_larger_than_the_memory_available_is_refused_before_it_is_drawn() {
    let cwd = tmp("landscape-memory");
    std::fs::create_dir_all(&cwd).unwrap();
    for (spec, names) in [
        (
            "pspin:p=3,n=400",
            ["'pspin': n=400 with p=3", "a smaller n"],
        ),
        (
            "field:n=500,features=20000",
            ["'field' with features=20000, n=500", "lower features or n"],
        ),
    ] {
        let args = strings(&[
            "sample",
            "--objective",
            spec,
            "--optimizer",
            "gd",
            "--walkers",
            "2",
            "--steps",
            "1",
            "--no-critical",
            "--backend",
            "cpu",
            "--out",
            "out",
        ]);
        let o = run_case(&cwd, &args, &[("SADDLESCOPE_MEMORY_LIMIT", "64M")]);
        assert_eq!(o.code, Some(2), "{spec}: {}", o.stderr);
        for n in names
            .iter()
            .chain(&["landscape parameters", "64.0 MiB available"])
        {
            assert!(o.stderr.contains(n), "{spec}: {n}: {}", o.stderr);
        }
        assert!(o.seconds < 1.0, "{spec}: {} s", o.seconds);
        assert!(
            !cwd.join("out").exists(),
            "{spec}: a refused run wrote its folder"
        );
        let o = run_case(&cwd, &args, &[("SADDLESCOPE_MEMORY_LIMIT", "4G")]);
        assert_eq!(o.code, Some(0), "{spec}: {}", o.stderr);
        let _ = std::fs::remove_dir_all(cwd.join("out"));
    }
    let _ = std::fs::remove_dir_all(&cwd);
}

// ---------------------------------------------------------------------------------------------
// plot on damaged folders

/// One small real run of each command, to damage.
fn fixtures(root: &Path) -> BTreeMap<&'static str, PathBuf> {
    let runs: [(&str, &[&str]); 4] = [
        (
            "sample",
            &[
                "sample",
                "--objective",
                "himmelblau",
                "--optimizer",
                "newton-mr",
                "--walkers",
                "64",
                "--steps",
                "50",
            ],
        ),
        (
            "escape",
            &[
                "escape",
                "--objective",
                "saddle",
                "--from",
                "saddle",
                "--optimizers",
                "gd",
                "sgd:noise=0.1,lr=0.01..0.1",
                "--walkers",
                "8",
                "--steps",
                "50",
            ],
        ),
        (
            "basins",
            &[
                "basins",
                "--objective",
                "himmelblau",
                "--optimizer",
                "newton-mr",
                "--resolution",
                "8",
                "--steps",
                "30",
                "--paths",
                "2",
            ],
        ),
        (
            "sweep",
            &[
                "sweep",
                "--objective",
                "pspin:p=3",
                "--dims",
                "2,3",
                "--instances",
                "2",
                "--walkers",
                "8",
                "--steps",
                "30",
            ],
        ),
    ];
    let mut out = BTreeMap::new();
    for (name, args) in runs {
        let dir = root.join(name);
        let o = binary()
            .args(args)
            .args(["--backend", "cpu", "--out"])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        out.insert(name, dir);
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// Quotes a CSV field that holds a comma.
fn quote(f: &str) -> String {
    if f.contains(',') {
        format!("\"{f}\"")
    } else {
        f.to_string()
    }
}

/// How a folder is damaged.
enum Damage {
    /// The file is emptied.
    Empty(&'static str),
    /// The file is removed.
    Remove(&'static str),
    /// The header keeps its first half.
    CutHeader(&'static str),
    /// The last row is removed.
    DropLastRow(&'static str),
    /// The last row loses its last fields (a write cut short).
    CutLastRow(&'static str),
    /// Cell (data row, column) set to a text.
    Cell(&'static str, usize, &'static str, &'static str),
    /// The file loses its last bytes.
    Truncate(&'static str, usize),
    /// The file's bytes replaced.
    Replace(&'static str, &'static [u8]),
    /// manifest.json's value at a JSON pointer replaced.
    Manifest(&'static str, &'static str),
    /// An i4 value of a .npy file (by element) set.
    NpyI32(&'static str, usize, i32),
}

fn damage(dir: &Path, d: &Damage) {
    let csv = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let put = |name: &str, text: String| std::fs::write(dir.join(name), text).unwrap();
    match *d {
        Damage::Empty(f) => put(f, String::new()),
        Damage::Remove(f) => std::fs::remove_file(dir.join(f)).unwrap(),
        Damage::CutHeader(f) => {
            let t = csv(f);
            let (h, rest) = t.split_once('\n').unwrap();
            put(f, format!("{}\n{rest}", &h[..h.len() / 2]));
        }
        Damage::DropLastRow(f) => {
            let t = csv(f);
            let mut lines: Vec<&str> = t.lines().collect();
            lines.pop();
            put(f, lines.join("\n") + "\n");
        }
        Damage::CutLastRow(f) => {
            let t = csv(f);
            let mut lines: Vec<String> = t.lines().map(String::from).collect();
            let last = lines.pop().unwrap();
            let cut = last.match_indices(',').nth(2).unwrap().0;
            lines.push(last[..cut].to_string());
            put(f, lines.join("\n"));
        }
        Damage::Cell(f, row, col, value) => {
            let t = csv(f);
            let mut lines: Vec<Vec<String>> =
                t.lines().map(saddlescope::table::split_csv).collect();
            let c = lines[0].iter().position(|h| h == col).unwrap();
            lines[row + 1][c] = value.to_string();
            let text: Vec<String> = lines
                .iter()
                .map(|l| l.iter().map(|f| quote(f)).collect::<Vec<_>>().join(","))
                .collect();
            put(f, text.join("\n") + "\n");
        }
        Damage::Truncate(f, bytes) => {
            let b = std::fs::read(dir.join(f)).unwrap();
            std::fs::write(dir.join(f), &b[..b.len() - bytes]).unwrap();
        }
        Damage::Replace(f, bytes) => std::fs::write(dir.join(f), bytes).unwrap(),
        Damage::Manifest(pointer, value) => {
            let p = dir.join("manifest.json");
            let mut m: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            *m.pointer_mut(pointer).unwrap() = serde_json::from_str(value).unwrap();
            std::fs::write(&p, serde_json::to_string(&m).unwrap()).unwrap();
        }
        Damage::NpyI32(f, k, v) => {
            let mut b = std::fs::read(dir.join(f)).unwrap();
            let (_, _, data) = saddlescope::output::read_npy(&b).unwrap();
            let start = b.len() - data.len() + 4 * k;
            b[start..start + 4].copy_from_slice(&v.to_le_bytes());
            std::fs::write(dir.join(f), b).unwrap();
        }
    }
}

/// (folder of which command, damage, what the message must name).
fn plot_cases() -> Vec<(&'static str, Damage, &'static str)> {
    use Damage::*;
    let mut v = vec![
        // sample: critical_points.csv against manifest.json (9 points of Himmelblau)
        (
            "sample",
            Empty("critical_points.csv"),
            "critical_points.csv line 1: the file is empty",
        ),
        (
            "sample",
            Remove("critical_points.csv"),
            "cannot read critical_points.csv",
        ),
        (
            "sample",
            CutHeader("critical_points.csv"),
            "critical_points.csv line 1: the header has no column",
        ),
        (
            "sample",
            DropLastRow("critical_points.csv"),
            "rows where manifest.json (critical_points.distinct) says",
        ),
        (
            "sample",
            CutLastRow("critical_points.csv"),
            "fields where the header has",
        ),
        (
            "sample",
            Cell("critical_points.csv", 0, "id", "abc"),
            "critical_points.csv line 2: id = 'abc' is not a count",
        ),
        (
            "sample",
            Cell("critical_points.csv", 2, "id", "7"),
            "critical_points.csv line 4: id = 7",
        ),
        (
            "sample",
            Cell("critical_points.csv", 1, "f", "NaN"),
            "critical_points.csv line 3: f = 'NaN'",
        ),
        (
            "sample",
            Cell("critical_points.csv", 1, "f", ""),
            "critical_points.csv line 3: f = ''",
        ),
        (
            "sample",
            Cell("critical_points.csv", 0, "grad_norm", "inf"),
            "line 2: grad_norm = 'inf'",
        ),
        (
            "sample",
            Cell("critical_points.csv", 0, "index", "-1"),
            "line 2: index = '-1'",
        ),
        (
            "sample",
            Cell("critical_points.csv", 0, "index", "5"),
            "line 2: index = 5 is more than N = 2",
        ),
        (
            "sample",
            Cell("critical_points.csv", 0, "walkers", "0"),
            "line 2: walkers = 0",
        ),
        (
            "sample",
            Cell("critical_points.csv", 0, "walkers", "1.5"),
            "line 2: walkers = '1.5'",
        ),
        (
            "sample",
            Cell("critical_points.csv", 0, "kind", "blob"),
            "line 2: kind = 'blob' is not one of",
        ),
        (
            "sample",
            Cell("critical_points.csv", 1, "x1", "NaN"),
            "line 3: x1 = 'NaN'",
        ),
        (
            "sample",
            Cell("critical_points.csv", 0, "x0", "1e999"),
            "line 2: x0",
        ),
        (
            "sample",
            Cell("critical_points.csv", 0, "n_pos", "7"),
            "line 2: n_neg + n_zero + n_pos = ",
        ),
        (
            "sample",
            Replace("critical_points.csv", b"\xff\xfe\n"),
            "critical_points.csv line 1: is not UTF-8",
        ),
        (
            "sample",
            Manifest("/critical_points", "null"),
            "--no-critical",
        ),
        (
            "sample",
            Manifest("/critical_points/distinct", "\"nine\""),
            "critical_points.distinct",
        ),
        ("sample", Manifest("/resolved/dim", "null"), "resolved.dim"),
        ("sample", Manifest("/command", "\"sweeep\""), "sweeep"),
        (
            "sample",
            Remove("manifest.json"),
            "cannot read manifest.json",
        ),
        (
            "sample",
            Replace("manifest.json", b"{\"command\": "),
            "manifest.json",
        ),
        ("sample", Replace("manifest.json", b""), "manifest.json"),
        // escape: escape.csv and escape_times.csv (2 arms of 8 walkers)
        (
            "escape",
            Empty("escape.csv"),
            "escape.csv line 1: the file is empty",
        ),
        (
            "escape",
            Remove("escape_times.csv"),
            "cannot read escape_times.csv",
        ),
        (
            "escape",
            CutHeader("escape.csv"),
            "escape.csv line 1: the header has no column",
        ),
        (
            "escape",
            DropLastRow("escape.csv"),
            "rows where manifest.json (resolved.arms) says 2",
        ),
        ("escape", CutLastRow("escape.csv"), "escape.csv line 3"),
        (
            "escape",
            Cell("escape.csv", 0, "walkers", "abc"),
            "escape.csv line 2: walkers = 'abc'",
        ),
        (
            "escape",
            Cell("escape.csv", 1, "walkers", "9"),
            "escape.csv line 3: walkers = 9 where manifest.json says 8",
        ),
        (
            "escape",
            Cell("escape.csv", 0, "diverged", "NaN"),
            "escape.csv line 2: diverged = 'NaN'",
        ),
        (
            "escape",
            Cell("escape.csv", 0, "at_start", "1.5"),
            "escape.csv line 2: at_start = 1.5 is not a fraction",
        ),
        (
            "escape",
            Cell("escape.csv", 0, "escaped", "9"),
            "escape.csv line 2: escaped = 9 of walkers = 8",
        ),
        (
            "escape",
            Cell("escape.csv", 1, "escape_rate", "0.0625"),
            "escape.csv line 3: escape_rate = 0.0625 is not escaped / walkers",
        ),
        (
            "escape",
            Cell("escape.csv", 0, "escape_rate_hi", "x"),
            "escape.csv line 2: escape_rate_hi = 'x'",
        ),
        (
            "escape",
            Empty("escape_times.csv"),
            "escape_times.csv line 1: the file is empty",
        ),
        (
            "escape",
            CutHeader("escape_times.csv"),
            "escape_times.csv line 1",
        ),
        (
            "escape",
            DropLastRow("escape_times.csv"),
            "escape_times.csv line 17: 15 rows where escape.csv",
        ),
        (
            "escape",
            Cell("escape_times.csv", 3, "arm", "x"),
            "escape_times.csv line 5: arm = 'x'",
        ),
        (
            "escape",
            Cell("escape_times.csv", 3, "arm", "7"),
            "escape_times.csv line 5: arm = 7",
        ),
        (
            "escape",
            Cell("escape_times.csv", 3, "walker", "99"),
            "escape_times.csv line 5: walker = 99",
        ),
        (
            "escape",
            Cell("escape_times.csv", 3, "escape_step", "-4"),
            "escape_times.csv line 5: escape_step = '-4'",
        ),
        (
            "escape",
            Cell("escape_times.csv", 9, "lr", "fast"),
            "escape_times.csv line 11: lr = 'fast'",
        ),
        ("escape", Manifest("/command", "\"basins\""), "grid.width"),
        // basins: labels.npy, steps.npy, landscape.npy, basins.csv, paths.csv against the grid
        (
            "basins",
            Truncate("labels.npy", 8),
            "labels.npy holds 248 bytes of data where its header's shape [8, 8] needs 256",
        ),
        ("basins", Truncate("steps.npy", 1), "steps.npy holds"),
        (
            "basins",
            Truncate("landscape.npy", 100),
            "landscape.npy holds",
        ),
        (
            "basins",
            Replace("labels.npy", b"\x93NUMPY garbage"),
            "labels.npy is not a .npy file",
        ),
        ("basins", Remove("steps.npy"), "cannot read steps.npy"),
        (
            "basins",
            NpyI32("labels.npy", 5, 99),
            "labels.npy pixel 5 has label 99",
        ),
        (
            "basins",
            NpyI32("labels.npy", 0, -7),
            "labels.npy pixel 0 has label -7",
        ),
        (
            "basins",
            Manifest("/grid/width", "4"),
            "labels.npy has dtype <i4 and shape [8, 8]; manifest.json's grid needs <i4 and [8, 4]",
        ),
        ("basins", Manifest("/grid/width", "0"), "grid.width"),
        ("basins", Manifest("/grid/height", "1e30"), "grid.height"),
        (
            "basins",
            Manifest("/plane/extent/x1", "1e308"),
            "plane.extent",
        ),
        ("basins", Manifest("/plane/extent/x0", "5"), "low to high"),
        (
            "basins",
            Manifest("/plane/extent", "\"wide\""),
            "plane.extent",
        ),
        ("basins", Manifest("/attractors", "3"), "labels.npy pixel"),
        ("basins", Manifest("/figure", "7"), "manifest.json: figure"),
        (
            "basins",
            Empty("basins.csv"),
            "basins.csv line 1: the file is empty",
        ),
        (
            "basins",
            CutHeader("basins.csv"),
            "basins.csv line 1: the header has no column",
        ),
        (
            "basins",
            DropLastRow("basins.csv"),
            "rows where manifest.json (attractors",
        ),
        ("basins", CutLastRow("basins.csv"), "basins.csv line"),
        (
            "basins",
            Cell("basins.csv", 0, "label", "abc"),
            "basins.csv line 2: label = 'abc' is not an integer",
        ),
        (
            "basins",
            Cell("basins.csv", 1, "label", "0"),
            "basins.csv line 3: label = 0 where row 1 holds label 1",
        ),
        (
            "basins",
            Cell("basins.csv", 0, "walkers", "1000"),
            "basins.csv line 2: walkers = 1000 where labels.npy has",
        ),
        (
            "basins",
            Cell("basins.csv", 0, "f", "NaN"),
            "basins.csv line 2: f = 'NaN'",
        ),
        (
            "basins",
            Cell("basins.csv", 0, "kind", "hill"),
            "basins.csv line 2: kind = 'hill'",
        ),
        (
            "basins",
            Cell("basins.csv", 0, "fraction", "2"),
            "basins.csv line 2: fraction = 2 is not a fraction",
        ),
        (
            "basins",
            Cell("paths.csv", 0, "path", "x"),
            "paths.csv line 2: path = 'x'",
        ),
        (
            "basins",
            Cell("paths.csv", 0, "path", "1000"),
            "paths.csv line 2: path = 1000",
        ),
        ("basins", CutLastRow("paths.csv"), "paths.csv line"),
        // sweep: sweep.csv, by_index.csv, points.csv against dims 2, 3 with 2 instances
        (
            "sweep",
            Empty("sweep.csv"),
            "sweep.csv line 1: the file is empty",
        ),
        (
            "sweep",
            CutHeader("sweep.csv"),
            "sweep.csv line 1: the header has no column",
        ),
        (
            "sweep",
            DropLastRow("sweep.csv"),
            "sweep.csv line 3: 1 rows where manifest.json (resolved.dims) says 2",
        ),
        ("sweep", CutLastRow("sweep.csv"), "sweep.csv line 3"),
        (
            "sweep",
            Cell("sweep.csv", 0, "dim", "abc"),
            "sweep.csv line 2: dim = 'abc'",
        ),
        (
            "sweep",
            Cell("sweep.csv", 1, "dim", "4"),
            "sweep.csv line 3: dim = 4 where manifest.json's dims say 3",
        ),
        (
            "sweep",
            Cell("sweep.csv", 0, "instances", "5"),
            "sweep.csv line 2: instances = 5",
        ),
        (
            "sweep",
            Cell("sweep.csv", 0, "fraction_minima", "NaN"),
            "sweep.csv line 2: fraction_minima = 'NaN'",
        ),
        (
            "sweep",
            Cell("sweep.csv", 0, "points", "999"),
            "points.csv line",
        ),
        ("sweep", Empty("by_index.csv"), "by_index.csv line 1"),
        (
            "sweep",
            Cell("by_index.csv", 0, "dim", "7"),
            "by_index.csv line 2: dim = 7 is not one of the sweep's dims",
        ),
        (
            "sweep",
            Cell("by_index.csv", 0, "index", "9"),
            "by_index.csv line 2: index = 9",
        ),
        (
            "sweep",
            Cell("by_index.csv", 0, "fraction", "-0.5"),
            "by_index.csv line 2: fraction = -0.5",
        ),
        ("sweep", Remove("points.csv"), "cannot read points.csv"),
        (
            "sweep",
            DropLastRow("points.csv"),
            "rows where sweep.csv (its points column, summed)",
        ),
        ("sweep", CutLastRow("points.csv"), "points.csv line"),
        (
            "sweep",
            Cell("points.csv", 0, "instance", "9"),
            "points.csv line 2: dim = 2, instance = 9",
        ),
        (
            "sweep",
            Cell("points.csv", 0, "f", "NaN"),
            "points.csv line 2: f = 'NaN'",
        ),
        (
            "sweep",
            Cell("points.csv", 0, "kind", "bump"),
            "points.csv line 2: kind = 'bump'",
        ),
        (
            "sweep",
            Cell("points.csv", 0, "index", "8"),
            "points.csv line 2: index = 8 is more than dim = 2",
        ),
        ("sweep", Manifest("/resolved/dims", "[]"), "resolved.dims"),
        (
            "sweep",
            Manifest("/resolved/instances", "null"),
            "resolved.instances",
        ),
    ];
    v.push((
        "sweep",
        Manifest("/command", "\"nothing\""),
        "plot does not know command 'nothing'",
    ));
    v
}

#[test]
fn plot_refuses_damaged_folders_at_the_first_bad_row_and_leaves_them_as_they_were() {
    let root = tmp("plot");
    let fx = fixtures(&root.join("fixtures"));
    let cases = plot_cases();
    eprintln!("{} damaged-folder cases", cases.len());
    assert!(cases.len() >= 90, "{}", cases.len());
    let failures = in_parallel(&cases, |i, (cmd, d, needle)| {
        let dir = root.join(format!("case-{i}"));
        copy_dir(&fx[cmd], &dir);
        damage(&dir, d);
        let before = snapshot(&root.join(format!("case-{i}")));
        let args = vec!["plot".to_string(), dir.display().to_string()];
        let o = run_case(&root, &args, &[]);
        let mut bad = judge(&format!("plot {cmd} case {i}"), &o, needle, 5.0);
        if snapshot(&dir) != before {
            bad.push(format!("plot {cmd} case {i}: the folder changed"));
        }
        bad
    });
    // And every undamaged folder still plots.
    for (cmd, dir) in &fx {
        let o = run_case(&root, &["plot".to_string(), dir.display().to_string()], &[]);
        assert_eq!(o.code, Some(0), "{cmd}: {}", o.stderr);
    }
    let _ = std::fs::remove_dir_all(&root);
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.iter().filter(|f| !f.starts_with("    ")).count(),
        cases.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// the parsers never panic

/// A memory limit that is not a size is a usage error naming the variable and the valid
/// forms, not silently replaced by the machine's memory; a valid one is honoured.
#[test]
fn a_memory_limit_that_is_not_a_size_is_refused() {
    let out = tmp("bad-memory-limit");
    let args = [
        "sample",
        "--objective",
        "himmelblau",
        "--optimizer",
        "gd",
        "--walkers",
        "4",
        "--steps",
        "5",
        "--out",
        out.to_str().unwrap(),
    ];
    for bad in ["garbage", "-5", "12Q"] {
        let o = common::cli::run_with_env(&args, &[("SADDLESCOPE_MEMORY_LIMIT", bad)], &[]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{bad}: {err}");
        assert!(
            err.contains("SADDLESCOPE_MEMORY_LIMIT") && err.contains("512M"),
            "{err}"
        );
        assert!(!out.exists(), "{bad}: the folder was made");
    }
    let o = common::cli::run_with_env(&args, &[("SADDLESCOPE_MEMORY_LIMIT", "1K")], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("1.0 KiB available"));
}

mod never_panic {
    use proptest::prelude::*;
    use saddlescope::run::Command;

    /// A spec-like string: a known name or noise, then key=value pairs with values from
    /// numbers at the edges of f64, ranges and noise.
    fn spec() -> impl Strategy<Value = String> {
        let name = prop_oneof![
            Just("gd".to_string()),
            Just("adam".to_string()),
            Just("pgd".to_string()),
            Just("newton-mr".to_string()),
            Just("rastrigin".to_string()),
            Just("field".to_string()),
            Just("pspin".to_string()),
            Just("himmelblau".to_string()),
            Just("uniform".to_string()),
            Just("point".to_string()),
            "[a-z:;,=.-]{0,12}",
        ];
        let key = prop_oneof![
            Just("lr"),
            Just("n"),
            Just("p"),
            Just("features"),
            Just("seed"),
            Just("schedule"),
            Just("lo"),
            Just("hi"),
            Just("x"),
            Just("t_thres"),
            Just("clip"),
            Just("period"),
        ];
        let value = prop_oneof![
            any::<f64>().prop_map(|v| v.to_string()),
            (-1e6f64..1e6).prop_map(|v| v.to_string()),
            (0u64..100).prop_map(|v| v.to_string()),
            Just("1e308".to_string()),
            Just("-0".to_string()),
            Just("NaN".to_string()),
            "[0-9.e:;-]{0,10}",
            (0.0f64..1.0, 0.0f64..2.0).prop_map(|(a, b)| format!("{a}..{b}:log")),
        ];
        (
            name,
            proptest::collection::vec((key, value), 0..4),
            "[ ,:=]{0,2}",
        )
            .prop_map(|(n, kv, tail)| {
                let args: Vec<String> = kv.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("{n}:{}{tail}", args.join(","))
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn spec_parsers_return_a_value_or_a_typed_error(s in spec(), noise in "\\PC{0,24}") {
            for text in [s.as_str(), noise.as_str()] {
                let _ = saddlescope::spec::RawSpec::parse(text);
                let _ = saddlescope::rules::parse(text);
                let _ = saddlescope::walk::init::Init::parse(text);
                let _ = saddlescope::basins::PlaneArg::parse(Some(text));
                let _ = saddlescope::basins::plane::parse_resolution(text);
                let _ = saddlescope::basins::plane::parse_extent(text);
                let _ = saddlescope::run::memory::parse_bytes(text);
                // Objective specs build landscapes: only those of modest size.
                if !text.contains("pspin") && !text.contains("field") {
                    let _ = saddlescope::objective::parse(text);
                }
            }
        }

        #[test]
        fn walk_flags_resolve_or_are_refused(
            walkers in prop_oneof![Just(0usize), 1usize..100, Just(usize::MAX), Just(1usize << 31)],
            steps in prop_oneof![Just(0u32), 1u32..100, Just(u32::MAX)],
            grad_tol in prop_oneof![any::<f64>(), Just(f64::NAN), Just(-0.0)],
            bound in prop_oneof![any::<f64>(), Just(f64::INFINITY)],
            extent in "[-0-9e.,]{0,16}",
            dims in proptest::collection::vec(0usize..6, 0..4),
            instances in prop_oneof![Just(None), (0usize..5).prop_map(Some), Just(Some(1usize << 21))],
        ) {
            let walk = saddlescope::run::WalkOptions { steps, grad_tol, bound, seed: 1, chunk: None };
            let sample = saddlescope::sample::SampleSpec {
                objective: "himmelblau".into(),
                optimizer: "gd".into(),
                descent: Default::default(),
                walkers,
                init: "auto".into(),
                walk: walk.clone(),
                no_critical: false,
                tolerances: Default::default(),
                shard: None,
            };
            if let Ok(r) = sample.resolve() {
                let _ = sample.memory(&r).check();
            }
            let basins = saddlescope::basins::BasinsSpec {
                objective: "himmelblau".into(),
                optimizer: "gd".into(),
                resolution: "8".into(),
                extent: Some(extent),
                plane: None,
                catalogue: None,
                walk: walk.clone(),
                box_size: Some(5),
                paths: 0,
                shade_steps: false,
                shard: None,
            };
            let _ = basins.resolve();
            let sweep = saddlescope::sweep::SweepSpec {
                objective: "pspin:p=2".into(),
                dims,
                instances,
                optimizer: "gd".into(),
                descent: Default::default(),
                walkers: walkers.min(1 << 40),
                init: "auto".into(),
                walk,
                shard: None,
            };
            if let Ok(r) = sweep.resolve() {
                let _ = sweep.memory(&r).check();
            }
        }
    }
}
