//! Hyperparameter ranges, schedules and the Newton-type rules through the command line.

mod common;

use common::cli::{fields, manifest, run, tmp};

/// walkers.csv as (header, rows).
fn walkers_csv(dir: &std::path::Path) -> (Vec<String>, Vec<Vec<String>>) {
    fields(&dir.join("walkers.csv"))
}

/// `sample` with ranges: walkers.csv gets one column per swept key holding exactly the
/// requested spread (walker k of W: lo + (hi − lo) k/(W − 1), or geometric for :log), the
/// manifest records the ranges and the canonical spec keeps them, and each walker's f shows
/// it walked with its own rate: GD on x² − y² from (x0, y0) ends at
/// f = x0²(1 − 2η)^{2S} − y0²(1 + 2η)^{2S}.
#[test]
fn sample_records_the_spread_per_walker() {
    let out = tmp("sweep");
    let w = 9usize;
    let steps = 12;
    let o = run(&[
        "sample",
        "--objective",
        "saddle",
        "--optimizer",
        "gd:lr=0.01..0.05,clip=5..10",
        "--init",
        "point:x=0.5;0.001",
        "--walkers",
        &w.to_string(),
        "--steps",
        &steps.to_string(),
        "--grad-tol",
        "0",
        "--backend",
        "cpu",
        "--no-critical",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (header, rows) = walkers_csv(&out);
    assert_eq!(
        header,
        [
            "walker",
            "f",
            "grad_norm",
            "steps",
            "status",
            "point",
            "lr",
            "clip"
        ]
    );
    assert_eq!(rows.len(), w);
    for (k, row) in rows.iter().enumerate() {
        let u = k as f64 / (w - 1) as f64;
        let lr: f64 = row[6].parse().unwrap();
        let clip: f64 = row[7].parse().unwrap();
        assert!(
            (lr - (0.01 + 0.04 * u)).abs() <= 1e-17,
            "walker {k}: lr {lr}"
        );
        assert!(
            (clip - (5.0 + 5.0 * u)).abs() <= 1e-15,
            "walker {k}: clip {clip}"
        );
        // clip >= 5 never binds here (|grad| <= 1.01): every walker steps with its own lr.
        let s = f64::from(steps);
        let want = 0.25 * (1.0 - 2.0 * lr).powf(2.0 * s) - 1e-6 * (1.0 + 2.0 * lr).powf(2.0 * s);
        let f: f64 = row[1].parse().unwrap();
        assert!(
            (f - want).abs() <= 1e-12,
            "walker {k}: f {f}, expected {want}"
        );
    }
    assert_eq!(rows[0][6], "0.01");
    assert_eq!(rows[w - 1][6], "0.05");
    let m = manifest(&out);
    assert_eq!(m["sweeps"]["lr"]["lo"], 0.01);
    assert_eq!(m["sweeps"]["lr"]["hi"], 0.05);
    assert_eq!(m["sweeps"]["lr"]["scale"], "linear");
    assert_eq!(m["sweeps"]["clip"]["hi"], 10.0);
    let spec = m["resolved"]["optimizer"].as_str().unwrap();
    assert_eq!(spec, "gd:lr=0.01..0.05,clip=5..10");

    // A geometric range over 4 walkers: 1e-4, 1e-3, 1e-2, 1e-1.
    let out = tmp("sweep-log");
    let o = run(&[
        "sample",
        "--objective",
        "himmelblau",
        "--optimizer",
        "adam:lr=1e-4..1e-1:log",
        "--walkers",
        "4",
        "--steps",
        "5",
        "--backend",
        "cpu",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (header, rows) = walkers_csv(&out);
    assert_eq!(header.last().unwrap(), "lr");
    for (row, want) in rows.iter().zip([1e-4, 1e-3, 1e-2, 1e-1]) {
        let lr: f64 = row[6].parse().unwrap();
        assert!((lr / want - 1.0).abs() < 1e-14, "{lr} vs {want}");
    }
    assert_eq!(manifest(&out)["sweeps"]["lr"]["scale"], "log");
}

/// Without ranges, walkers.csv keeps its columns and the manifest has no sweeps.
#[test]
fn sample_without_ranges_is_unchanged() {
    let out = tmp("plain");
    let o = run(&[
        "sample",
        "--objective",
        "saddle",
        "--optimizer",
        "gd:schedule=step,period=3,gamma=0.5",
        "--walkers",
        "3",
        "--steps",
        "4",
        "--backend",
        "cpu",
        "--no-critical",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (header, _) = walkers_csv(&out);
    assert_eq!(
        header,
        ["walker", "f", "grad_norm", "steps", "status", "point"]
    );
    let m = manifest(&out);
    assert!(
        m["sweeps"].as_object().is_none_or(|o| o.is_empty()),
        "{}",
        m["sweeps"]
    );
    let spec = m["resolved"]["optimizer"].as_str().unwrap();
    assert!(spec.contains("schedule=step,period=3,gamma=0.5"), "{spec}");
}

/// Bad ranges, schedules and Newton usages: exit code 2, a message naming the key (or rule)
/// and what is valid, and no run folder.
#[test]
fn bad_ranges_schedules_and_newton_usage_exit_2() {
    let cases: &[(&[&str], &[&str])] = &[
        (&["--optimizer", "gd:lr=0..0.1"], &["lr", "lo = 0", "> 0"]),
        (
            &["--optimizer", "gd:lr=-1..1:log"],
            &["lr", "lo = -1", "> 0"],
        ),
        (
            &["--optimizer", "gd:schedule=cosine,lr_min=0..0.5:log"],
            &["lr_min", "lo > 0"],
        ),
        (
            &["--optimizer", "momentum:beta=0.5..1"],
            &["beta", "hi = 1", "< 1"],
        ),
        (&["--optimizer", "gd:lr=0.1..0.01"], &["lr", "lo < hi"]),
        (&["--optimizer", "gd:lr=0.01..0.1:lin"], &["lr", ":log"]),
        (
            &["--optimizer", "pgd:t_thres=10..50"],
            &["t_thres", "integer"],
        ),
        (
            &["--optimizer", "gd:schedule=linear"],
            &["schedule", "constant, cosine, step, restarts"],
        ),
        (
            &["--optimizer", "gd:schedule=cosine,period=0"],
            &["period", "> 0"],
        ),
        (&["--optimizer", "gd:t_mult=0"], &["t_mult", "integer"]),
        (
            &["--objective", "field:n=2,seed=1..3", "--optimizer", "gd"],
            &["seed=1..3", "one value"],
        ),
        (
            &["--optimizer", "newton", "--backend", "gpu"],
            &["newton", "CPU twin", "--backend cpu"],
        ),
        (
            &["--objective", "rastrigin:n=65", "--optimizer", "sfn"],
            &["sfn", "N <= 64", "N = 65"],
        ),
    ];
    for (extra, needles) in cases {
        let out = tmp("bad");
        let mut args = vec!["sample", "--walkers", "4", "--steps", "3", "--out"];
        args.push(out.to_str().unwrap());
        if !extra.contains(&"--objective") {
            args.extend(["--objective", "himmelblau"]);
        }
        args.extend(extra.iter());
        let o = run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        for needle in *needles {
            assert!(
                err.contains(needle),
                "{args:?}: '{needle}' missing from: {err}"
            );
        }
        assert!(!err.contains("panicked"), "{err}");
        assert!(!out.exists(), "{args:?} created {}", out.display());
    }
}

/// `--backend auto` runs sfn on the CPU twin (f64) and, from random starts on Himmelblau,
/// every walker ends in one of the four minima; newton from the same starts also finds the
/// saddles and the maximum.
#[test]
fn sfn_from_the_cli_finds_only_minima() {
    let kinds = |opt: &str, name: &str| {
        let out = tmp(name);
        let o = run(&[
            "sample",
            "--objective",
            "himmelblau",
            "--optimizer",
            opt,
            "--walkers",
            "200",
            "--steps",
            "400",
            "--grad-tol",
            "1e-8",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let m = manifest(&out);
        assert_eq!(m["backend"]["backend"], "cpu");
        assert_eq!(m["precision"], "f64");
        assert_eq!(m["status_counts"]["converged"], 200, "{opt}");
        m["critical_points"]["points_by_kind"].clone()
    };
    let sfn = kinds("sfn:lr=0.5,damping=0.1,clip=1", "sfn");
    assert_eq!(sfn, serde_json::json!({"minimum": 4}), "sfn found {sfn}");
    let newton = kinds("newton:lr=1,damping=0", "newton");
    assert!(
        newton["saddle"].as_u64().unwrap_or(0) >= 1 || newton["maximum"].as_u64().unwrap_or(0) >= 1,
        "plain Newton should also converge to non-minima: {newton}"
    );
}

#[test]
fn list_shows_schedules_ranges_and_newton_rules() {
    let o = run(&["list"]);
    assert!(o.status.success());
    let s = String::from_utf8_lossy(&o.stdout);
    for needle in [
        "schedule",
        "one of constant, cosine, step, restarts",
        "period",
        "gamma",
        "lr_min",
        "t_mult",
        "lo..hi:log",
        "newton",
        "sfn",
        "damping",
        "CPU twin only",
    ] {
        assert!(s.contains(needle), "list lacks '{needle}'");
    }
}
