//! Checkpoints and `--resume`: a walk restored from its state at a segment boundary ends bit
//! for bit where the uninterrupted walk ends, for every step rule on both CPU engines; and a
//! `sample` or `sweep` killed (SIGKILL) mid-walk and resumed writes exactly the tables of an
//! uninterrupted run, while folders of another command or spec, finished folders and folders
//! a live run holds are refused.

mod common;

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::cli::{binary, manifest, run, tmp};
use common::rule_cases::RULE_CASES;
use saddlescope::backend::Backend;
use saddlescope::objective::{self, Objective};
use saddlescope::rules;
use saddlescope::walk::init::Init;
use saddlescope::walk::snapshot::{self, Checkpoints, DeviceSnapshot, Snapshot};
use saddlescope::walk::state::WalkerState;
use saddlescope::walk::{EndStates, WalkPlan};

/// A checkpointer for tests: keeps the encoded state of every boundary mid-walk, and restores
/// a given one.
struct Keep {
    saved: Mutex<Vec<(u32, usize, Vec<u8>)>>,
    from: Option<(u32, usize, usize, Vec<u8>)>,
}

impl Checkpoints for Keep {
    fn restore(&self) -> Option<Snapshot> {
        let (t, w, n, b) = self.from.as_ref()?;
        Some(snapshot::decode(b, *t, *w, *n).expect("a snapshot"))
    }
    fn boundary(&self, t: u32, states: &[&WalkerState], done: bool) {
        if !done {
            let running = snapshot::count_running(states);
            let mut saved = self.saved.lock().unwrap();
            saved.push((t, running, snapshot::encode(states)));
        }
    }
}

/// Every number of the end states, as bits.
fn bits(e: &EndStates) -> Vec<u64> {
    let mut v: Vec<u64> = e.x.iter().map(|x| x.to_bits()).collect();
    v.extend(e.f.iter().map(|x| x.to_bits()));
    v.extend(e.grad_norm.iter().map(|x| x.to_bits()));
    v.extend(e.steps.iter().map(|&s| u64::from(s)));
    v.extend(e.status.iter().map(|&s| s as u64));
    v.extend(e.escape.iter().map(|&s| u64::from(s)));
    v
}

/// The (optimizer, objective) cases of every rule: each rule's test specs of
/// tests/common/rule_cases.rs (internal state: momentum, moments, pgd's perturbation step,
/// anneal's temperature and proposal, schedules, MINRES), and the CPU-only Newton rules.
fn cases() -> Vec<(String, String)> {
    let mut v = Vec::new();
    for rule in rules::registry() {
        match RULE_CASES.iter().find(|c| c.rule == rule.name) {
            Some(c) => {
                for o in c.fused {
                    v.push((o.to_string(), "styblinski-tang:n=6".to_string()));
                }
                for o in c.batched {
                    v.push((o.to_string(), "field:n=6,features=32,seed=1".to_string()));
                }
                for (o, obj) in c.schedule {
                    v.push((o.to_string(), obj.to_string()));
                }
            }
            None if rule.cpu_only() => {
                v.push((
                    format!("{}:lr=0.5,damping=0.1", rule.name),
                    "styblinski-tang:n=4".into(),
                ));
                v.push((
                    format!("{}:lr=0.5,damping=0.1", rule.name),
                    "pspin:p=3,n=6,seed=2".into(),
                ));
            }
            None => panic!("rule {} has no resume case", rule.name),
        }
    }
    v
}

#[test]
fn a_walk_restored_at_a_segment_boundary_ends_bit_for_bit_as_the_uninterrupted_one() {
    let plan = WalkPlan {
        max_steps: 60,
        grad_tol: 1e-6,
        seed: 5,
        ..WalkPlan::default()
    };
    let quiet = |_: u64| {};
    for (o, spec) in cases() {
        let opt = rules::parse(&o).unwrap();
        // Two instances of a random landscape (a sweep's dispatch), one otherwise.
        let objs: Vec<Box<dyn Objective>> = if spec.contains("seed=1") {
            vec![
                objective::parse(&spec).unwrap(),
                objective::parse(&spec.replace("seed=1", "seed=9")).unwrap(),
            ]
        } else {
            vec![objective::parse(&spec).unwrap()]
        };
        let refs: Vec<&dyn Objective> = objs.iter().map(|o| o.as_ref()).collect();
        let (w, n) = (24 * refs.len(), refs[0].dim());
        let mut starts = Vec::new();
        for (k, obj) in refs.iter().enumerate() {
            starts.extend(Init::Auto.starts(*obj, 5, (k * 24) as u32, 24));
        }
        let hyper = opt.hyper_rows(w);
        for backend in [Backend::cpu().with_block(10), Backend::twin()] {
            let what = format!("{o} on {spec} ({})", backend.engine_key());
            let walk = |ck: Option<&dyn Checkpoints>| {
                backend
                    .walk_instances_from(&refs, &opt, &plan, &starts, &hyper, &quiet, ck)
                    .unwrap()
            };
            let whole = walk(None);
            let first = Keep {
                saved: Mutex::new(Vec::new()),
                from: None,
            };
            let segmented = walk(Some(&first));
            assert_eq!(
                bits(&segmented),
                bits(&whole),
                "{what}: segments change the walk"
            );
            let saved = first.saved.into_inner().unwrap();
            assert!(
                saved.first().is_some_and(|s| s.0 > 0 && s.1 > 0),
                "{what}: no walker ran past the first boundary"
            );
            for (t, _, bytes) in saved {
                let resumed = Keep {
                    saved: Mutex::new(Vec::new()),
                    from: Some((t, w, n, bytes)),
                };
                assert_eq!(
                    bits(&walk(Some(&resumed))),
                    bits(&whole),
                    "{what}: the walk restored at step {t} ends elsewhere"
                );
                // It continued from step t (its boundaries are past t), not from the start.
                let after = resumed.saved.into_inner().unwrap();
                assert!(
                    after.iter().all(|s| s.0 > t),
                    "{what}: restarted before step {t}"
                );
            }
        }
    }
}

/// A device checkpointer for tests: always due; keeps every device snapshot saved mid-walk,
/// and restores a given one.
struct KeepDevice {
    saved: Mutex<Vec<DeviceSnapshot>>,
    from: Option<DeviceSnapshot>,
}

impl Checkpoints for KeepDevice {
    fn restore(&self) -> Option<Snapshot> {
        None
    }
    fn boundary(&self, _: u32, _: &[&WalkerState], _: bool) {}
    fn due(&self) -> bool {
        true
    }
    fn restore_device(&self) -> Option<DeviceSnapshot> {
        self.from.clone()
    }
    fn save_device(&self, s: &DeviceSnapshot, done: bool) {
        if !done {
            self.saved.lock().unwrap().push(s.clone());
        }
    }
}

/// A GPU walk restored from its device state at any segment boundary — in its first chunk,
/// in a later one, with walkers of earlier chunks ended — ends bit for bit where the
/// uninterrupted GPU walk ends: every rule with WGSL on the fused engine (a classic surface)
/// and on the multi-pass one (a random field; a network loss with minibatches, whose batch
/// depends on the step), with state the CPU twin does not keep (the kernels' own slots).
#[test]
fn a_gpu_walk_restored_from_its_device_state_ends_bit_for_bit_as_the_uninterrupted_one() {
    let backend = Backend::gpu(common::ctx()).with_twin_check(false);
    let plan = WalkPlan {
        max_steps: 60,
        grad_tol: 1e-6,
        seed: 5,
        // Chunks of 10, 10 and 4 walkers: a restore in a later chunk keeps the ended ones.
        chunk: Some(10),
        ..WalkPlan::default()
    };
    let quiet = |_: u64| {};
    let mut cases: Vec<(String, String)> = Vec::new();
    for c in RULE_CASES {
        if let Some(o) = c.fused.first() {
            cases.push((o.to_string(), "styblinski-tang:n=6".into()));
        }
        if let Some(o) = c.batched.first() {
            cases.push((o.to_string(), "field:n=6,features=32,seed=1".into()));
        }
    }
    cases.push((
        "adam:lr=0.01,batch=4".into(),
        "mlp:widths=3-4-1,samples=16".into(),
    ));
    for (o, spec) in cases {
        let opt = rules::parse(&o).unwrap();
        let obj = objective::parse(&spec).unwrap();
        let (w, n) = (24, obj.dim());
        let starts = Init::Auto.starts(obj.as_ref(), 5, 0, w);
        let hyper = opt.hyper_rows(w);
        let what = format!("{o} on {spec}");
        let walk = |ck: Option<&dyn Checkpoints>| {
            backend
                .walk_instances_from(&[obj.as_ref()], &opt, &plan, &starts, &hyper, &quiet, ck)
                .unwrap()
        };
        let whole = walk(None);
        let first = KeepDevice {
            saved: Mutex::new(Vec::new()),
            from: None,
        };
        assert_eq!(
            bits(&walk(Some(&first))),
            bits(&whole),
            "{what}: checkpoints change the walk"
        );
        let saved = first.saved.into_inner().unwrap();
        assert!(
            saved.iter().any(|s| s.first > 0 && s.running() > 0),
            "{what}: no checkpoint in a later chunk"
        );
        // The first boundary, the first in a later chunk, and the last.
        let later = saved.iter().position(|s| s.first > 0).unwrap_or(0);
        let mut picks = vec![0, later, saved.len() - 1];
        picks.dedup();
        for s in picks.into_iter().map(|k| saved[k].clone()) {
            let (at, t) = (s.first, s.taken);
            // The snapshot survives its file format.
            let s = DeviceSnapshot::decode(&s.encode(), w, n).unwrap();
            let resumed = KeepDevice {
                saved: Mutex::new(Vec::new()),
                from: Some(s),
            };
            assert_eq!(
                bits(&walk(Some(&resumed))),
                bits(&whole),
                "{what}: the walk restored in the chunk at walker {at}, step {t}, ends elsewhere"
            );
            let after = resumed.saved.into_inner().unwrap();
            assert!(
                after
                    .iter()
                    .all(|a| a.first > at || (a.first == at && a.taken > t)),
                "{what}: restarted before walker {at}, step {t}"
            );
        }
    }
    // A snapshot of another chunking or rule is not restored: the walk starts over, and ends
    // as the uninterrupted one.
    let opt = rules::parse("adam:lr=0.01").unwrap();
    let obj = objective::parse("styblinski-tang:n=6").unwrap();
    let starts = Init::Auto.starts(obj.as_ref(), 5, 0, 24);
    let hyper = opt.hyper_rows(24);
    let walk = |ck: Option<&dyn Checkpoints>| {
        backend
            .walk_instances_from(&[obj.as_ref()], &opt, &plan, &starts, &hyper, &quiet, ck)
            .unwrap()
    };
    let keep = KeepDevice {
        saved: Mutex::new(Vec::new()),
        from: None,
    };
    let whole = walk(Some(&keep));
    let mut s = keep.saved.into_inner().unwrap().pop().unwrap();
    s.slots += 1;
    let foreign = KeepDevice {
        saved: Mutex::new(Vec::new()),
        from: Some(s),
    };
    assert_eq!(bits(&walk(Some(&foreign))), bits(&whole));
    assert!(
        foreign.saved.into_inner().unwrap()[0].first == 0,
        "a foreign snapshot was restored"
    );
}

// ---- through the command line ----

/// A sample long enough (a few seconds) to be killed mid-walk, with a rule that keeps state
/// (Adam's two moments): a resume that lost a slot or restarted the moments would end elsewhere.
const SAMPLE: &[&str] = &[
    "sample",
    "--objective",
    "rastrigin:n=8",
    "--optimizer",
    "adam:lr=0.0005",
    "--walkers",
    "200",
    "--steps",
    "20000",
    "--grad-tol",
    "1e-12",
    "--backend",
    "cpu",
];

/// A sweep whose second dimension takes a few seconds.
const SWEEP: &[&str] = &[
    "sweep",
    "--objective",
    "field:features=64,mu=0.05",
    "--dims",
    "4,8",
    "--instances",
    "2",
    "--walkers",
    "100",
    "--steps",
    "300",
    "--backend",
    "cpu",
];

fn with_out<'a>(args: &[&'a str], out: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = args.to_vec();
    v.extend(extra);
    v.extend(["--out", out.to_str().unwrap()]);
    v
}

/// The header line of a checkpoint file.
fn header(path: &Path) -> Option<serde_json::Value> {
    let bytes = std::fs::read(path).ok()?;
    let line = bytes.split(|&b| b == b'\n').next()?;
    serde_json::from_slice(line).ok()
}

/// Starts `args` with a checkpoint at every segment, waits until every file of `wait_for`
/// (under the folder's .checkpoint/) exists, and kills it (SIGKILL). Returns the header of the
/// last of them after the kill.
fn kill_mid_walk(args: &[&str], out: &Path, wait_for: &[&str]) -> serde_json::Value {
    let mut child = binary()
        .args(with_out(args, out, &[]))
        .env("SADDLESCOPE_CHECKPOINT_SECONDS", "0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the binary starts");
    let ck = out.join(".checkpoint");
    let t0 = Instant::now();
    while !wait_for.iter().all(|f| header(&ck.join(f)).is_some()) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before its checkpoints {wait_for:?} were written"
        );
        assert!(t0.elapsed() < Duration::from_secs(60), "no checkpoint");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    header(&ck.join(wait_for[wait_for.len() - 1])).unwrap()
}

/// The names in a folder, sorted.
fn names(d: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Every file of `a` but the manifest (which holds timings) is byte for byte the one of `b`.
fn same_files(a: &Path, b: &Path) {
    assert_eq!(names(a), names(b));
    for name in names(a).iter().filter(|n| *n != "manifest.json") {
        assert!(
            std::fs::read(a.join(name)).unwrap() == std::fs::read(b.join(name)).unwrap(),
            "{name} differs between the uninterrupted and the resumed run"
        );
    }
}

fn refused(o: &std::process::Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    for n in needles {
        assert!(err.contains(n), "{n}: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

fn ok(o: &std::process::Output) {
    common::cli::ok(o);
}

#[test]
fn a_sample_killed_mid_walk_resumes_to_the_uninterrupted_tables() {
    let root = tmp("sample");
    let (whole, cut) = (root.join("whole"), root.join("cut"));
    ok(&run(&with_out(SAMPLE, &whole, &[])));
    let h = kill_mid_walk(SAMPLE, &cut, &["walk-walk.bin"]);
    let t = h["t"].as_u64().unwrap();
    assert!(
        t > 0 && h["running"].as_u64().unwrap() > 0,
        "not mid-walk: {h}"
    );
    // A killed write leaves a temporary file; it is never taken for an output.
    std::fs::write(cut.join(".walkers.csv.tmp4242"), b"half a table").unwrap();

    // Without --resume: what is there, how far it got, and the two choices.
    refused(
        &run(&with_out(SAMPLE, &cut, &[])),
        &[
            "interrupted run",
            "'sample'",
            &format!("checkpointed after {t} steps"),
            "add --resume",
            "another --out",
            ".walkers.csv.tmp4242",
        ],
    );
    // Another spec, command or engine is refused, and so is a folder a live run holds.
    let mut other = SAMPLE.to_vec();
    other[6] = "100";
    refused(
        &run(&with_out(&other, &cut, &["--resume"])),
        &["--walkers: 200 there, 100 here"],
    );
    refused(
        &run(&with_out(SWEEP, &cut, &["--resume"])),
        &["interrupted 'sample' run, not 'sweep'"],
    );
    let mut twin = SAMPLE.to_vec();
    *twin.last_mut().unwrap() = "twin";
    refused(
        &run(&with_out(&twin, &cut, &["--resume"])),
        &["walked on cpu batched", "cpu twin"],
    );
    let lock = cut.join(".saddlescope-lock");
    let stale = std::fs::read_to_string(&lock).unwrap();
    let pid = serde_json::from_str::<serde_json::Value>(&stale).unwrap()["pid"].clone();
    std::fs::write(
        &lock,
        stale.replace(
            &format!("\"pid\":{pid}"),
            &format!("\"pid\":{}", std::process::id()),
        ),
    )
    .unwrap();
    refused(
        &run(&with_out(SAMPLE, &cut, &["--resume"])),
        &["is writing into this folder now"],
    );
    std::fs::write(&lock, stale).unwrap();
    assert!(
        cut.join(".checkpoint/walk-walk.bin").exists(),
        "a refusal keeps the checkpoint"
    );

    let o = run(&with_out(SAMPLE, &cut, &["--resume"]));
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stderr).contains("removed the unfinished temporary files"));
    same_files(&whole, &cut);
    let m = manifest(&cut);
    assert_eq!(m["resumed"]["walks"][0]["walk"], "walk");
    assert_eq!(
        m["resumed"]["walks"][0]["from_step"].as_u64(),
        Some(t),
        "the walk continued from its checkpoint, not from step 0"
    );
    assert!(!m["files"].to_string().contains(".tmp"));
    // Finished: no checkpoint, no lock, no temporary file; a second resume is refused.
    assert!(
        names(&cut).iter().all(|n| !n.starts_with('.')),
        "{:?}",
        names(&cut)
    );
    refused(
        &run(&with_out(SAMPLE, &cut, &["--resume"])),
        &["finished 'sample' run", "nothing to resume"],
    );
    let _ = std::fs::remove_dir_all(&root);
}

/// [`SAMPLE`] on the GPU (the software adapter on CI): fewer walkers, more steps.
fn sample_gpu() -> Vec<&'static str> {
    let mut v = SAMPLE.to_vec();
    for (flag, value) in [
        ("--walkers", "64"),
        ("--steps", "100000"),
        ("--backend", "gpu"),
    ] {
        let at = v.iter().position(|a| *a == flag).unwrap();
        v[at + 1] = value;
    }
    v
}

#[test]
fn a_gpu_sample_killed_mid_walk_resumes_from_its_device_state_to_the_uninterrupted_tables() {
    let root = tmp("sample-gpu");
    let sample = sample_gpu();
    let (whole, cut) = (root.join("whole"), root.join("cut"));
    ok(&run(&with_out(&sample, &whole, &[])));
    let h = kill_mid_walk(&sample, &cut, &["walk-walk.bin"]);
    let t = h["t"].as_u64().unwrap();
    assert!(
        t > 0 && h["running"].as_u64().unwrap() > 0 && h["meta"]["device"] == true,
        "not a device checkpoint mid-walk: {h}"
    );
    refused(
        &run(&with_out(&sample, &cut, &[])),
        &[
            &format!("checkpointed after {t} steps of its GPU chunk"),
            "add --resume",
        ],
    );
    // The CPU engines do not take a GPU walk's state (another engine is refused anyway).
    ok(&run(&with_out(&sample, &cut, &["--resume"])));
    same_files(&whole, &cut);
    let m = manifest(&cut);
    assert_eq!(m["resumed"]["walks"][0]["from_step"].as_u64(), Some(t));
    assert!(!cut.join(".checkpoint").exists());
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_sweep_killed_mid_walk_keeps_its_finished_dimension_and_resumes_to_the_same_tables() {
    let root = tmp("sweep");
    let (whole, cut) = (root.join("whole"), root.join("cut"));
    ok(&run(&with_out(SWEEP, &whole, &[])));
    // Killed while N = 8 walks, N = 4 done.
    let h = kill_mid_walk(SWEEP, &cut, &["ends-N4.bin", "walk-N8-k0.bin"]);
    let t = h["t"].as_u64().unwrap();
    assert!(
        t > 0 && h["running"].as_u64().unwrap() > 0,
        "not mid-walk: {h}"
    );
    refused(
        &run(&with_out(SWEEP, &cut, &[])),
        &[
            "'sweep'",
            "finished parts kept: N4",
            "add --resume",
            "another --out",
        ],
    );
    ok(&run(&with_out(SWEEP, &cut, &["--resume"])));
    same_files(&whole, &cut);
    let m = manifest(&cut);
    assert_eq!(m["resumed"]["kept"], serde_json::json!(["N4"]));
    assert_eq!(m["resumed"]["walks"][0]["walk"], "N8-k0");
    assert_eq!(m["resumed"]["walks"][0]["from_step"].as_u64(), Some(t));
    assert_eq!(
        m["dispatches_per_dim"],
        manifest(&whole)["dispatches_per_dim"]
    );
    assert!(names(&cut).iter().all(|n| !n.starts_with('.')));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn resume_needs_the_folder_of_an_interrupted_run() {
    let root = tmp("refusals");
    let absent = root.join("absent");
    refused(
        &run(&with_out(SAMPLE, &absent, &["--resume"])),
        &["no interrupted run here"],
    );
    let mut no_out = SAMPLE.to_vec();
    no_out.push("--resume");
    refused(&run(&no_out), &["--resume", "--out DIR"]);
    // A folder of files without a run record (not written by a run) cannot be resumed.
    let junk = root.join("junk");
    std::fs::create_dir_all(&junk).unwrap();
    std::fs::write(junk.join("walkers.csv"), "walker\n").unwrap();
    refused(
        &run(&with_out(SAMPLE, &junk, &["--resume"])),
        &["no record of a resumable run"],
    );
    assert_eq!(
        names(&junk),
        ["walkers.csv"],
        "a refused resume leaves no lock"
    );
    let _ = std::fs::remove_dir_all(&root);
}

/// A basin picture whose walkers never converge (Langevin noise), so every pixel walks all its
/// steps.
const BASINS: &[&str] = &[
    "basins",
    "--objective",
    "himmelblau",
    "--optimizer",
    "langevin:lr=0.001,temperature=0.001",
    "--resolution",
    "32",
    "--steps",
    "3000",
    "--backend",
    "cpu",
];

#[test]
fn a_basin_picture_killed_mid_walk_resumes_to_the_same_picture() {
    let root = tmp("basins");
    let (whole, cut) = (root.join("whole"), root.join("cut"));
    ok(&run(&with_out(BASINS, &whole, &[])));
    let h = kill_mid_walk(BASINS, &cut, &["walk-walk.bin"]);
    let t = h["t"].as_u64().unwrap();
    assert!(
        t > 0 && h["running"].as_u64().unwrap() > 0,
        "not mid-walk: {h}"
    );
    ok(&run(&with_out(BASINS, &cut, &["--resume"])));
    same_files(&whole, &cut);
    assert_eq!(
        manifest(&cut)["resumed"]["walks"][0]["from_step"].as_u64(),
        Some(t)
    );
    let _ = std::fs::remove_dir_all(&root);
}
