//! End to end through the command line a user types.

mod common;

use std::path::Path;

use common::cli::{manifest, run, tmp};

fn npy_shape(path: &Path) -> (String, Vec<usize>) {
    let bytes = std::fs::read(path).unwrap();
    let (d, s, raw) = saddlescope::output::read_npy(&bytes).unwrap();
    let elem = if d.ends_with('8') { 8 } else { 4 };
    assert_eq!(
        raw.len(),
        s.iter().product::<usize>() * elem,
        "{}",
        path.display()
    );
    (d, s)
}

#[test]
fn sample_writes_the_run_folder() {
    let out = tmp("sample");
    let o = run(&[
        "sample",
        "--objective",
        "double-well:n=3",
        "--optimizer",
        "gd:lr=0.02",
        "--walkers",
        "300",
        "--steps",
        "2000",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("converged: 300"), "{stdout}");
    let csv = std::fs::read_to_string(out.join("walkers.csv")).unwrap();
    let mut lines = csv.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("walker,f,grad_norm,steps,status"));
    assert_eq!(lines.clone().count(), 300);
    for l in lines {
        let cols: Vec<&str> = l.split(',').collect();
        assert_eq!(cols[4], "converged", "{l}");
        assert!(cols[1].parse::<f64>().unwrap().abs() < 1e-6, "{l}");
    }
    assert_eq!(npy_shape(&out.join("starts.npy")).1, vec![300, 3]);
    assert_eq!(npy_shape(&out.join("end_states.npy")).1, vec![300, 3]);
    let m = manifest(&out);
    assert_eq!(m["status_counts"]["converged"], 300);
    assert_eq!(m["resolved"]["objective"], "double-well:n=3");
    assert_eq!(m["seed"], 0);
    assert!(m["saddlescope_version"].is_string() && m["backend"]["backend"].is_string());

    // A second run into the same folder is refused and leaves the first intact.
    let before = std::fs::read(out.join("walkers.csv")).unwrap();
    let o = run(&[
        "sample",
        "--objective",
        "saddle",
        "--optimizer",
        "gd",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("already holds a finished 'sample' run"));
    assert_eq!(std::fs::read(out.join("walkers.csv")).unwrap(), before);
}

#[test]
fn summary_counts_only_converged_walkers_as_rejected_by_polish() {
    // From the origin of x^2 - y^2 four walkers sit on the saddle (|grad f| = 0: converged and
    // polished to it); from (0, 1) with 3 GD steps four walkers stop at max_steps and are
    // never polished: they must not be reported as converged walkers that polish rejected.
    for (init, converged, max_steps) in [("point:x=0;1", 0, 4), ("point:x=0;0", 4, 0)] {
        let out = tmp(&format!("summary-{converged}"));
        let o = run(&[
            "sample",
            "--objective",
            "saddle",
            "--optimizer",
            "gd:lr=0.01",
            "--init",
            init,
            "--walkers",
            "4",
            "--steps",
            "3",
            "--backend",
            "cpu",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(
            stdout.contains(&format!("converged: {converged}  max_steps: {max_steps}")),
            "{stdout}"
        );
        assert!(!stdout.contains("polish rejected"), "{stdout}");
        assert!(!stdout.contains("ineligible"), "{stdout}");
    }
}

#[test]
fn cpu_and_gpu_backends_agree_from_the_cli() {
    let mut ends = vec![];
    for b in ["cpu", "auto"] {
        let out = tmp(&format!("backend-{b}"));
        let o = run(&[
            "sample",
            "--objective",
            "himmelblau",
            "--optimizer",
            "gd:lr=0.005",
            "--walkers",
            "64",
            "--steps",
            "20000",
            "--backend",
            b,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        ends.push(std::fs::read_to_string(out.join("walkers.csv")).unwrap());
    }
    let f = |s: &str| -> Vec<f64> {
        s.lines()
            .skip(1)
            .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
            .collect()
    };
    for (a, b) in f(&ends[0]).iter().zip(f(&ends[1])) {
        assert!((a - b).abs() < 1e-4, "{a} vs {b}");
    }
}

#[test]
fn bad_input_exits_2_naming_the_problem() {
    let cases: &[(&[&str], &str)] = &[
        (&["--objective", "nosuch"], "himmelblau"),
        (&["--objective", "rastrigin:m=3"], "valid keys: n"),
        (&["--objective", "rastrigin:n=abc"], "not a number"),
        (&["--objective", "pspin:p=0"], "p=0"),
        (&["--objective", "rastrigin:n=0"], "n=0"),
        (&["--optimizer", "gd:lr=0"], "lr=0"),
        (&["--optimizer", "gd:lr=-1"], "lr=-1"),
        (&["--optimizer", "momentum:beta=1"], "beta=1"),
        (&["--optimizer", "bfgs"], "gradnorm"),
        (&["--walkers", "0"], "--walkers"),
        (&["--init", "uniform:lo=1,hi=0"], "below"),
        (&["--init", "point:x=1;2;3"], "N = 2"),
        (&["--grad-tol", "-1"], "--grad-tol"),
        (&["--steps", "abc"], "--steps"),
        (&["--optimizer", "gd:lr=0.1,lr=0.2"], "lr is given twice"),
        (&["--optimizer", "gd:lr=1.."], "both ends"),
        (&["--optimizer", "gd:lr=..2"], "both ends"),
        (
            &["--objective", "pspin:p=2,n=3", "--init", "point:x=0;0;0"],
            "zero vector",
        ),
        (
            &["--objective", "pspin:p=2,n=3", "--init", "normal:sigma=0"],
            "zero vector",
        ),
    ];
    for (args, needle) in cases {
        let mut full = vec!["sample"];
        for (flag, default) in [
            ("--objective", "himmelblau"),
            ("--optimizer", "gd"),
            ("--walkers", "8"),
            ("--steps", "10"),
        ] {
            if args[0] != flag {
                full.extend([flag, default]);
            }
        }
        full.extend_from_slice(args);
        let out = tmp("bad");
        full.extend(["--out", out.to_str().unwrap()]);
        let o = run(&full);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(needle),
            "{args:?}: message should mention '{needle}': {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
        assert!(!out.exists(), "{args:?} created the run folder");
    }
}

#[test]
fn sizes_that_would_exhaust_memory_are_usage_errors() {
    // Each of these used to abort with an allocation failure (and a backtrace): the eigen
    // benchmark holds walkers x dim^2 doubles at once; the catalogue needs dense N x N Hessians.
    let out = tmp("huge");
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "bench",
                "--workload",
                "eigen",
                "--walkers",
                "4",
                "--dim",
                "100000",
            ],
            "--dim <= 8192",
        ),
        (
            &[
                "bench",
                "--workload",
                "eigen",
                "--walkers",
                "4096",
                "--dim",
                "2048",
            ],
            "4 GiB",
        ),
        (
            &[
                "bench",
                "--workload",
                "eigen",
                "--walkers",
                "4",
                "--dim",
                "4",
                "--repeat",
                "0",
            ],
            "--repeat 0",
        ),
        (
            &[
                "sample",
                "--objective",
                "rastrigin:n=20000",
                "--optimizer",
                "gd",
                "--walkers",
                "1",
                "--steps",
                "1",
                "--out",
                out.to_str().unwrap(),
            ],
            "--no-critical",
        ),
        (
            &[
                "escape",
                "--objective",
                "rastrigin:n=20000",
                "--from",
                "plateau",
                "--optimizers",
                "gd",
                "--walkers",
                "1",
                "--out",
                out.to_str().unwrap(),
            ],
            "N <= 8192",
        ),
    ];
    for (args, needle) in cases {
        let o = run(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(needle),
            "{args:?}: should mention '{needle}': {err}"
        );
        assert!(
            !err.contains("panicked") && !err.contains("backtrace"),
            "{err}"
        );
        assert!(!out.exists(), "{args:?} created the run folder");
    }
}

#[test]
fn plot_refuses_a_catalogue_with_an_impossible_index() {
    // A corrupt critical_points.csv with index 99999999999 made `plot` allocate a histogram
    // bin per index up to it (killed for memory); an index above N is now a usage error.
    let out = tmp("plot-index");
    let o = run(&[
        "sample",
        "--objective",
        "saddle",
        "--optimizer",
        "gd",
        "--init",
        "point:x=0;0",
        "--walkers",
        "2",
        "--steps",
        "2",
        "--backend",
        "cpu",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run(&["plot", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csv = std::fs::read_to_string(out.join("critical_points.csv")).unwrap();
    let mut lines: Vec<String> = csv.lines().map(str::to_string).collect();
    let mut row: Vec<&str> = lines[1].split(',').collect();
    row[3] = "99999999999";
    lines[1] = row.join(",");
    std::fs::write(out.join("critical_points.csv"), lines.join("\n")).unwrap();
    let o = run(&["plot", out.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("index = 99999999999") && err.contains("N = 2"),
        "{err}"
    );
}

/// The catalogue holds coordinates only up to N = 8 (above, critical_points.npy does): `plot`
/// redraws a sample on either side of that, and refuses a small one whose coordinates are cut.
#[test]
fn plot_redraws_samples_with_and_without_coordinates_in_the_catalogue() {
    let root = tmp("plot-coords");
    for n in [8, 9] {
        let out = root.join(format!("n{n}"));
        let spec = format!("double-well:n={n}");
        let o = run(&[
            "sample",
            "--objective",
            &spec,
            "--optimizer",
            "gd",
            "--walkers",
            "16",
            "--backend",
            "cpu",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let header = std::fs::read_to_string(out.join("critical_points.csv")).unwrap();
        let header = header.lines().next().unwrap().to_string();
        assert_eq!(header.contains(",x0"), n <= 8, "{header}");
        let o = run(&["plot", out.to_str().unwrap()]);
        assert!(
            o.status.success(),
            "N = {n}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        if n == 8 {
            let csv = std::fs::read_to_string(out.join("critical_points.csv")).unwrap();
            let cut: Vec<String> = csv
                .lines()
                .map(|l| l.rsplit_once(',').unwrap().0.to_string())
                .collect();
            std::fs::write(out.join("critical_points.csv"), cut.join("\n") + "\n").unwrap();
            let o = run(&["plot", out.to_str().unwrap()]);
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(
                o.status.code() == Some(2) && err.contains("no column x7"),
                "{err}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// With gd's default lr rastrigin (curvature up to 2 + 40π² ≈ 397) oscillates, and with the
/// same lr given Müller–Brown diverges (left at the default, the run lowers it itself:
/// tests/critical_points.rs); the note names the curvature at the starts and an lr below it,
/// and that lr gives converged walkers.
#[test]
fn the_no_convergence_note_suggests_a_step_that_works() {
    let root = tmp("lr-advice");
    for (obj, opt) in [("rastrigin", "gd"), ("muller-brown", "gd:lr=0.01")] {
        let out = root.join(obj);
        let o = run(&[
            "sample",
            "--objective",
            obj,
            "--optimizer",
            opt,
            "--walkers",
            "64",
            "--backend",
            "cpu",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let text =
            String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
        let lr = text
            .split("try lr=")
            .nth(1)
            .and_then(|t| t.split(',').next())
            .unwrap_or_else(|| panic!("{obj}: no lr suggested: {text}"));
        let spec = format!("gd:lr={lr}");
        let again = root.join(format!("{obj}-again"));
        let o = run(&[
            "sample",
            "--objective",
            obj,
            "--optimizer",
            &spec,
            "--walkers",
            "64",
            "--backend",
            "cpu",
            "--out",
            again.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let m = manifest(&again);
        let converged = m["status_counts"]["converged"].as_u64().unwrap();
        assert!(
            converged > 32,
            "{obj} at {spec}: {converged} of 64 converged"
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn list_shows_every_objective_and_rule() {
    let o = run(&["list"]);
    assert!(o.status.success());
    let s = String::from_utf8_lossy(&o.stdout);
    for e in saddlescope::objective::registry() {
        assert!(s.contains(e.name), "{}", e.name);
    }
    for r in saddlescope::rules::registry() {
        assert!(s.contains(r.name), "{}", r.name);
    }
    assert!(s.contains("default"));
}

#[test]
fn bench_prints_the_peer_format() {
    let o = run(&[
        "bench",
        "--workload",
        "rastrigin",
        "--walkers",
        "256",
        "--dim",
        "8",
        "--steps",
        "10",
        "--repeat",
        "1",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(
        s.contains(" rastrigin W=256 N=8 M=1024 S=10 seconds="),
        "{s}"
    );
    let ws: f64 = s
        .split("walker_steps_per_s=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(ws > 0.0);
    assert!(s.split_whitespace().last().unwrap().starts_with("gflops="));
}

/// `bench --until TOL`: walkers stop at |grad f| <= TOL; the line counts the steps they took
/// (fewer than W x S when they converge early) and the converged walkers, as peer_bench.py's
/// `--until` mode; a tolerance that is not positive is a usage error.
#[test]
fn bench_until_counts_useful_steps() {
    let field = |tol: &str| {
        run(&[
            "bench",
            "--workload",
            "field",
            "--walkers",
            "64",
            "--dim",
            "8",
            "--features",
            "64",
            "--steps",
            "2000",
            "--repeat",
            "1",
            "--backend",
            "cpu",
            "--until",
            tol,
        ])
    };
    let o = field("1e-3");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = String::from_utf8_lossy(&o.stdout);
    let value = |key: &str| -> f64 {
        s.split(&format!("{key}="))
            .nth(1)
            .unwrap_or_else(|| panic!("{key} in {s}"))
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(
        s.contains(" field W=64 N=8 M=64 S=2000 until=0.001 seconds="),
        "{s}"
    );
    let useful = value("useful_walker_steps");
    let converged = value("converged");
    assert!(converged > 32.0, "most walkers converge: {s}");
    assert!(useful > 0.0 && useful < 64.0 * 2000.0, "{s}");
    let rate = value("walker_steps_per_s");
    // seconds= is printed to 4 decimals, so the rate it implies is that coarse.
    let secs = value("seconds");
    assert!(
        (rate - useful / secs).abs() <= rate * (1e-3 + 6e-5 / secs),
        "{s}"
    );
    let o = field("0");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--until"));
}

/// The 3-spin at N = 500 (N^3 = 1.25e8 couplings dense, 6.3e7 packed) runs with the defaults:
/// beyond the software adapter's buffers `auto` walks on the batched CPU engine.
#[test]
fn pspin_three_at_n_500_runs() {
    let out = tmp("pspin500");
    let o = run(&[
        "sample",
        "--objective",
        "pspin:p=3,n=500",
        "--optimizer",
        "gd",
        "--walkers",
        "2",
        "--steps",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(s.contains("max_steps: 2"), "{s}");
    let m = manifest(&out);
    assert_eq!(m["resolved"]["objective"], "pspin:p=3,n=500,seed=0");
    assert_eq!(m["resolved"]["dim"], 500);
}

/// `bench` over lists: one timing per backend x N x W into bench.csv (header as documented),
/// the scaling figure and a manifest; a timing predicted to exceed --max-seconds is skipped
/// and says so; eigen takes no lists.
#[test]
fn bench_scans_write_a_table_and_the_scaling_figure() {
    let out = tmp("bench-scan");
    let o = run(&[
        "bench",
        "--workload",
        "rastrigin",
        "--walkers",
        "16,8",
        "--dim",
        "2,4",
        "--steps",
        "3",
        "--repeat",
        "1",
        "--backend",
        "cpu,twin",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (header, rows) = common::cli::fields(&out.join("bench.csv"));
    assert_eq!(
        header.join(","),
        "backend,engine,workload,walkers,dim,features,steps,repeat,seconds,walker_steps_per_s,gflops,skipped"
    );
    assert_eq!(rows.len(), 8);
    // Walkers ascending within each (backend, N).
    let key: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| (r[0].clone(), r[4].clone(), r[3].clone()))
        .collect();
    assert_eq!(key[0], ("cpu".into(), "2".into(), "8".into()));
    assert_eq!(key[1], ("cpu".into(), "2".into(), "16".into()));
    assert_eq!(key[7], ("twin".into(), "4".into(), "16".into()));
    for r in &rows {
        let rate: f64 = r[9].parse().unwrap();
        assert!(rate > 0.0 && r[11].is_empty(), "{r:?}");
    }
    for f in ["scaling.png", "scaling.svg", "manifest.json"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    assert_eq!(manifest(&out)["command"], "bench");
    // A second scan into the same folder is refused.
    let again = run(&[
        "bench",
        "--workload",
        "rastrigin",
        "--walkers",
        "8",
        "--steps",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(2));

    let out = tmp("bench-skip");
    let o = run(&[
        "bench",
        "--workload",
        "rastrigin",
        "--walkers",
        "8,4096",
        "--dim",
        "2",
        "--steps",
        "2",
        "--repeat",
        "1",
        "--backend",
        "twin",
        "--max-seconds",
        "1e-9",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (_, rows) = common::cli::fields(&out.join("bench.csv"));
    assert!(
        rows[0][11].is_empty() && rows[1][11].contains("--max-seconds"),
        "{rows:?}"
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("skipped rastrigin backend=twin W=4096"));

    let o = run(&[
        "bench",
        "--workload",
        "eigen",
        "--walkers",
        "2,4",
        "--dim",
        "3",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("for a scan"));
}

/// `bench --precision f64,f32`: every backend in each precision it runs (the twin, f64 only,
/// once), one series each in bench.csv; a backend that runs none of the list is refused.
#[test]
fn bench_scans_each_precision_a_backend_runs() {
    let out = tmp("bench-precisions");
    let o = run(&[
        "bench",
        "--workload",
        "rastrigin",
        "--walkers",
        "8",
        "--dim",
        "16",
        "--steps",
        "2",
        "--repeat",
        "1",
        "--backend",
        "cpu,twin",
        "--precision",
        "f64,f32",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (_, rows) = common::cli::fields(&out.join("bench.csv"));
    let series: Vec<(&str, &str)> = rows.iter().map(|r| (&r[0][..], &r[1][..])).collect();
    assert_eq!(series.len(), 3, "{series:?}");
    assert_eq!(series[0].0, "cpu f64");
    assert_eq!(series[1].0, "cpu f32");
    assert!(series[1].1.contains("f32 evaluation"), "{series:?}");
    assert_eq!(series[2].0, "twin f64");
    assert!(String::from_utf8_lossy(&o.stdout).contains("saddlescope-cpu-f32 rastrigin"));
    let m = manifest(&out);
    assert_eq!(m["spec"]["precision"], serde_json::json!(["f64", "f32"]));

    let out = tmp("bench-precisions-bad");
    let o = run(&[
        "bench",
        "--workload",
        "rastrigin",
        "--walkers",
        "8,16",
        "--backend",
        "twin",
        "--precision",
        "f32,f32",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--precision f32 with --backend twin"));
    assert!(!out.exists());
}

/// `--precision`: a combination no backend walks in is refused before anything is written, and
/// f32 on the CPU engine runs and says so in the manifest.
#[test]
fn precision_is_refused_where_it_cannot_run_and_recorded_where_it_does() {
    for (backend, p) in [("twin", "f32"), ("gpu", "f64")] {
        let out = tmp("precision-bad");
        let o = run(&[
            "sample",
            "--objective",
            "field:n=8,features=32",
            "--walkers",
            "8",
            "--steps",
            "10",
            "--backend",
            backend,
            "--precision",
            p,
            "--out",
            out.to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{backend} {p}: {err}");
        assert!(err.contains("--precision"), "{err}");
        assert!(!out.exists(), "{backend} {p}: wrote {}", out.display());
    }
    let out = tmp("precision-f32");
    let o = run(&[
        "sample",
        "--objective",
        "field:n=8,features=32",
        "--walkers",
        "8",
        "--steps",
        "10",
        "--backend",
        "cpu",
        "--precision",
        "f32",
        "--no-critical",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m = manifest(&out).to_string();
    assert!(m.contains("f32 evaluation"), "{m}");
}

/// A GPU walk keeps x in f32: on rastrigin at N = 64 half an f32 ulp of x moves |∇f| by
/// ~3e-4 near a minimum, above the default --grad-tol 1e-4, so no walker can converge. The note
/// says so (not "try more --steps", which cannot help) and advises a tolerance that works; the
/// CPU engine, whose state is f64, converges at the default.
#[test]
fn an_f32_resolution_floor_above_the_tolerance_is_named_with_a_tolerance_that_works() {
    let walk = |backend: &str, extra: &[&str]| {
        let out = tmp(&format!("f32-floor-{backend}-{}", extra.len()));
        let mut args = vec![
            "sample",
            "--objective",
            "rastrigin:n=64",
            "--walkers",
            "64",
            "--steps",
            "300",
            "--optimizer",
            "gd:lr=0.002",
            "--backend",
            backend,
            "--no-critical",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = run(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    let gpu = walk("gpu", &[]);
    assert!(gpu.contains("converged: 0 "), "{gpu}");
    let note = gpu
        .lines()
        .find(|l| l.starts_with("note: no walker reached"))
        .unwrap_or_else(|| panic!("no note: {gpu}"));
    assert!(note.contains("kept x in f32"), "{note}");
    assert!(!note.contains("more --steps"), "{note}");
    let tol = note
        .split("use --grad-tol ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .unwrap_or_else(|| panic!("no tolerance advised: {note}"));
    let advised = walk("gpu", &["--grad-tol", tol]);
    assert!(
        advised.contains("converged: 64 "),
        "--grad-tol {tol}: {advised}"
    );
    let cpu = walk("cpu", &[]);
    assert!(cpu.contains("converged: 64 "), "{cpu}");
}

/// Walkers of a GPU walk stalled at the f32 floor sit at critical points to f32 resolution: every
/// command catalogues them (f64 polish) as it does converged walkers, so the GPU finds what the
/// f64 CPU walk finds, point for point, though none of its walkers met --grad-tol.
#[test]
fn walkers_stalled_at_the_f32_floor_are_catalogued_as_the_f64_walk_catalogues_them() {
    let go = |cmd: &[&str], backend: &str| {
        let out = tmp(&format!("f32-floor-cat-{}-{backend}", cmd[0]));
        let mut args = cmd.to_vec();
        args.extend_from_slice(&[
            "--steps",
            "300",
            "--optimizer",
            "gd:lr=0.002",
            "--backend",
            backend,
            "--out",
            out.to_str().unwrap(),
        ]);
        let o = run(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let stdout = String::from_utf8_lossy(&o.stdout).to_string();
        (stdout, manifest(&out), out)
    };
    let sorted_f = |path: std::path::PathBuf| {
        let text = std::fs::read_to_string(path).unwrap();
        let mut lines = text.lines();
        let head: Vec<&str> = lines.next().unwrap().split(',').collect();
        let col = head.iter().position(|&h| h == "f").unwrap();
        let mut f: Vec<f64> = lines
            .map(|l| l.split(',').nth(col).unwrap().parse().unwrap())
            .collect();
        f.sort_by(f64::total_cmp);
        f
    };
    let same = |a: &[f64], b: &[f64], what: &str| {
        assert_eq!(a.len(), b.len(), "{what}: {a:?} against {b:?}");
        for (x, y) in a.iter().zip(b) {
            assert!(
                (x - y).abs() <= 1e-9 * (1.0 + y.abs()),
                "{what}: f {x} against {y}"
            );
        }
    };
    // Both backends: the GPU's floor walkers named and counted, the same points found.
    let both = |cmd: &[&str], csv: &str, floor_at_least: u64| {
        let (gpu, m, dir) = go(cmd, "gpu");
        assert!(gpu.contains("walkers ran out of steps at the f32"), "{gpu}");
        assert!(
            m["f32_floor_walkers"].as_u64().unwrap() >= floor_at_least,
            "{m}"
        );
        let (cpu, mc, dir_cpu) = go(cmd, "cpu");
        assert_eq!(mc["f32_floor_walkers"], 0, "{mc}");
        let (a, b) = (sorted_f(dir.join(csv)), sorted_f(dir_cpu.join(csv)));
        same(&a, &b, cmd[0]);
        (gpu, cpu, m, mc, a.len())
    };
    let sample = ["sample", "--objective", "rastrigin:n=64", "--walkers", "64"];
    let (gpu, cpu, _, _, points) = both(&sample, "critical_points.csv", 64);
    assert!(gpu.contains("converged: 0 "), "{gpu}");
    assert!(cpu.contains("converged: 64 "), "{cpu}");
    assert_eq!(points, 64);
    let sweep = [
        "sweep",
        "--objective",
        "rastrigin",
        "--dims",
        "64",
        "--walkers",
        "32",
    ];
    both(&sweep, "points.csv", 16);
    // A plane near the origin: half an ulp is smaller there, so the floor is met at 1e-5 by
    // some walkers only.
    let basins = [
        "basins",
        "--objective",
        "rastrigin:n=64",
        "--plane",
        "random",
        "--resolution",
        "8x8",
        "--grad-tol",
        "1e-5",
    ];
    let (_, _, m, mc, _) = both(&basins, "basins.csv", 8);
    assert_eq!(m["attractors"], mc["attractors"]);
}
