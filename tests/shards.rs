//! `--shard K/N` and `saddlescope merge` (sample, basins, sweep, escape): the shards of a run, merged in
//! any order, give the files of one run byte for byte (the manifest's timings, command line and
//! backend aside); missing, duplicate and foreign shards are refused.

mod common;

use std::path::{Path, PathBuf};

use common::cli::{manifest, run, same_files, tmp};

/// A sample whose catalogue has points of every index and whose optimizer spreads a range
/// over the walkers (so each shard must take its slice of the range).
const SAMPLE: [&str; 14] = [
    "sample",
    "--objective",
    "himmelblau",
    "--optimizer",
    "newton-mr:rtol=1e-6..1e-4:log",
    "--init",
    "uniform:lo=-6,hi=6",
    "--walkers",
    "200",
    "--steps",
    "60",
    "--backend",
    "cpu",
    "--no-twin-check",
];

fn sample(out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args: Vec<&str> = SAMPLE.to_vec();
    args.extend(extra);
    args.extend(["--out", out.to_str().unwrap()]);
    run(&args)
}

fn merge(out: &Path, shards: &[&PathBuf]) -> std::process::Output {
    let mut args = vec![
        "merge".to_string(),
        "--out".into(),
        out.display().to_string(),
    ];
    args.extend(shards.iter().map(|s| s.display().to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&refs)
}

fn refused(o: &std::process::Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(needle), "{needle}: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn three_shards_merged_in_shuffled_order_are_one_run() {
    let root = tmp("three");
    let one = root.join("one");
    let o = sample(&one, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let shards: Vec<PathBuf> = (1..=3)
        .map(|k| {
            let dir = root.join(format!("shard{k}"));
            let o = sample(&dir, &["--shard", &format!("{k}/3")]);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            dir
        })
        .collect();
    // A shard holds its walkers only, with their global ids.
    let m2 = manifest(&shards[1]);
    assert_eq!(m2["shard"]["walkers"], serde_json::json!([66, 133]));
    let rows = std::fs::read_to_string(shards[1].join("walkers.csv")).unwrap();
    assert_eq!(rows.lines().nth(1).unwrap().split(',').next(), Some("66"));
    assert!(!shards[1].join("critical_points.csv").exists());

    let merged = root.join("merged");
    let o = merge(&merged, &[&shards[2], &shards[0], &shards[1]]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    same_files(&one, &merged);
    let (a, b) = (manifest(&one), manifest(&merged));
    for key in [
        "spec",
        "resolved",
        "status_counts",
        "critical_points",
        "coverage",
        "files",
    ] {
        assert_eq!(a[key], b[key], "manifest.json: {key}");
    }
    assert!(a["critical_points"]["distinct"].as_u64().unwrap() >= 5);

    // Missing, duplicate, foreign and non-shard folders are refused.
    let nowhere = root.join("nowhere");
    refused(
        &merge(&nowhere, &[&shards[0], &shards[2]]),
        "missing shard(s) 2/3",
    );
    refused(
        &merge(&nowhere, &[&shards[0], &shards[1], &shards[1], &shards[2]]),
        "each shard is given once",
    );
    let foreign = root.join("foreign");
    assert!(sample(&foreign, &["--shard", "2/3", "--seed", "9"])
        .status
        .success());
    refused(
        &merge(&nowhere, &[&shards[0], &foreign, &shards[2]]),
        "'seed' differs",
    );
    let half = root.join("half");
    assert!(sample(&half, &["--shard", "1/2"]).status.success());
    refused(
        &merge(&nowhere, &[&shards[0], &half]),
        "shards of different splits",
    );
    refused(
        &merge(&nowhere, &[&one, &shards[1]]),
        "is not a shard folder",
    );
    // Into a folder that holds a run: refused like every run.
    refused(
        &merge(&merged, &[&shards[0], &shards[1], &shards[2]]),
        "already holds a finished 'sample' run",
    );
    assert!(!nowhere.exists(), "a refused merge writes nothing");
    // Bad --shard values.
    for (v, needle) in [
        ("0/3", "--shard '0/3'"),
        ("4/3", "--shard '4/3'"),
        ("3", "is not of the form K/N"),
        ("1/x", "N 'x' is not a whole number"),
        ("1/201", "201 shards of 200 walkers"),
    ] {
        refused(&sample(&nowhere, &["--shard", v]), needle);
    }
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn basins_shards_of_pixels_merge_into_one_picture() {
    let root = tmp("basins");
    let args = |out: &Path, extra: &[&str]| {
        let mut a: Vec<String> = [
            "basins",
            "--objective",
            "himmelblau",
            "--optimizer",
            "newton-mr:rtol=1e-6..1e-4:log",
            "--resolution",
            "12x10",
            "--steps",
            "40",
            "--paths",
            "3",
            "--backend",
            "cpu",
            "--out",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.push(out.display().to_string());
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let go = |a: Vec<String>| {
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        run(&refs)
    };
    let one = root.join("one");
    let o = go(args(&one, &[]));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let shards: Vec<PathBuf> = (1..=3)
        .map(|k| {
            let dir = root.join(format!("shard{k}"));
            let o = go(args(&dir, &["--shard", &format!("{k}/3")]));
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            dir
        })
        .collect();
    assert_eq!(
        manifest(&shards[2])["shard"]["walkers"],
        serde_json::json!([80, 120])
    );
    assert!(!shards[0].join("labels.npy").exists());
    let merged = root.join("merged");
    let o = merge(&merged, &[&shards[1], &shards[2], &shards[0]]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    same_files(&one, &merged);
    let (a, b) = (manifest(&one), manifest(&merged));
    for key in ["spec", "attractors", "statistics", "grid", "plane", "files"] {
        assert_eq!(a[key], b[key], "manifest.json: {key}");
    }
    assert!(a["attractors"].as_u64().unwrap() >= 5);
    // A sample shard is foreign to a basins merge.
    let sample_shard = root.join("sample");
    assert!(sample(&sample_shard, &["--shard", "2/3"]).status.success());
    refused(
        &merge(
            &root.join("nowhere"),
            &[&shards[0], &sample_shard, &shards[2]],
        ),
        "'command' differs",
    );
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn sweep_shards_of_instances_merge_into_one_sweep() {
    let root = tmp("sweep");
    let go = |out: &Path, extra: &[&str]| {
        let mut a: Vec<&str> = vec![
            "sweep",
            "--objective",
            "pspin:p=3",
            "--dims",
            "2,3",
            "--instances",
            "5",
            "--walkers",
            "16",
            "--steps",
            "40",
            "--optimizer",
            "newton-mr:rtol=1e-6..1e-4:log",
            "--backend",
            "cpu",
            "--out",
        ];
        let o = out.display().to_string();
        a.push(&o);
        a.extend(extra);
        run(&a)
    };
    let one = root.join("one");
    let o = go(&one, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let shards: Vec<PathBuf> = (1..=3)
        .map(|k| {
            let dir = root.join(format!("shard{k}"));
            let o = go(&dir, &["--shard", &format!("{k}/3")]);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            dir
        })
        .collect();
    assert_eq!(
        manifest(&shards[1])["shard"]["walkers"],
        serde_json::json!([1, 3])
    );
    assert!(shards[1].join("end_states_3.npy").exists() && !shards[1].join("sweep.csv").exists());
    let merged = root.join("merged");
    let o = merge(&merged, &[&shards[1], &shards[0], &shards[2]]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    same_files(&one, &merged);
    let (a, b) = (manifest(&one), manifest(&merged));
    for key in [
        "spec", "resolved", "coverage", "symmetry", "files", "figures",
    ] {
        assert_eq!(a[key], b[key], "manifest.json: {key}");
    }
    refused(
        &merge(&root.join("nowhere"), &[&shards[0], &shards[2]]),
        "missing shard(s) 2/3",
    );
    // More shards than instances would leave one empty.
    refused(
        &go(&root.join("nowhere"), &["--shard", "1/6"]),
        "6 shards of 5 instances per dimension",
    );
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn escape_shards_of_every_arm_merge_into_one_comparison() {
    let root = tmp("escape");
    let go = |out: &Path, extra: &[&str]| {
        let mut a: Vec<&str> = vec![
            "escape",
            "--objective",
            "camel6",
            "--from",
            "saddle",
            "--escape-radius",
            "0.3",
            "--optimizers",
            "gd:lr=0.01",
            "sgd:lr=0.01,noise=0.5",
            "pgd:lr=0.01",
            // Two arms of one rule share a walk (ids first_id + j·W + w).
            "sgd:lr=0.02,noise=0.3",
            "langevin:lr=0.001..0.01,temperature=0.02",
            "--walkers",
            "40",
            "--steps",
            "300",
            "--backend",
            "cpu",
            "--out",
        ];
        let o = out.display().to_string();
        a.push(&o);
        a.extend(extra);
        run(&a)
    };
    let one = root.join("one");
    let o = go(&one, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let shards: Vec<PathBuf> = (1..=3)
        .map(|k| {
            let dir = root.join(format!("shard{k}"));
            let o = go(&dir, &["--shard", &format!("{k}/3")]);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            dir
        })
        .collect();
    assert_eq!(
        manifest(&shards[0])["shard"]["walkers"],
        serde_json::json!([0, 13])
    );
    let merged = root.join("merged");
    let o = merge(&merged, &[&shards[2], &shards[1], &shards[0]]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    same_files(&one, &merged);
    let (a, b) = (manifest(&one), manifest(&merged));
    for key in [
        "spec",
        "critical_points",
        "coverage",
        "ends",
        "start_point",
        "files",
    ] {
        assert_eq!(a[key], b[key], "manifest.json: {key}");
    }
    assert_eq!(a["resolved"]["arms"], b["resolved"]["arms"]);
    refused(
        &merge(
            &root.join("nowhere"),
            &[&shards[0], &shards[0], &shards[1], &shards[2]],
        ),
        "each shard is given once",
    );
    let _ = std::fs::remove_dir_all(&root);
}

/// A network loss with minibatches: the merged folder holds the data files one run writes
/// (data_inputs.npy, data_targets.npy), and every other file byte for byte.
#[test]
fn mlp_shards_merge_with_their_data() {
    let root = tmp("mlp-shards");
    let args = |out: &Path, shard: Option<&str>| {
        let mut a: Vec<String> = [
            "sample",
            "--objective",
            "mlp:widths=2-3-1,samples=24",
            "--optimizer",
            "gd:lr=0.1,batch=4..24",
            "--walkers",
            "12",
            "--steps",
            "40",
            "--backend",
            "cpu",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(k) = shard {
            a.extend(["--shard".into(), k.into()]);
        }
        a.extend(["--out".into(), out.display().to_string()]);
        a
    };
    let go = |a: Vec<String>| {
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        let o = run(&refs);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let one = root.join("one");
    go(args(&one, None));
    let parts: Vec<PathBuf> = (1..=3).map(|k| root.join(format!("s{k}"))).collect();
    for (k, p) in parts.iter().enumerate() {
        go(args(p, Some(&format!("{}/3", k + 1))));
    }
    let merged = root.join("merged");
    let o = merge(&merged, &[&parts[2], &parts[0], &parts[1]]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(merged.join("data_inputs.npy").exists());
    same_files(&one, &merged);
}
