//! The twin check of every GPU walk, through the CLI: it passes and is recorded on correct
//! kernels, it catches a deliberately corrupted gradient (the test-only fault hook), `--backend
//! gpu` then stops with the error and `auto` falls back to the batched CPU engine (f64); values the GPU's f32
//! cannot hold are usage errors.

mod common;

use std::path::Path;
use std::process::Output;

use common::cli::{manifest, run_with_env, tmp, FAULT_ENV};

/// The binary with `fault` as its gradient fault hook (or none), and `auto` taking the
/// software adapter here as it would a hardware one (on a machine without a GPU it would
/// otherwise run the batched CPU engine and never walk on the adapter).
fn run(args: &[&str], fault: Option<&str>) -> Output {
    let auto = (saddlescope::backend::AUTO_SOFTWARE_ENV, "1");
    match fault {
        Some(f) => run_with_env(args, &[auto, (FAULT_ENV, f)], &[]),
        None => run_with_env(args, &[auto], &[FAULT_ENV]),
    }
}

fn sample(objective: &str, backend: &str, out: &Path, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
        "sample",
        "--objective",
        objective,
        "--optimizer",
        "gd:lr=0.01",
        "--walkers",
        "32",
        "--steps",
        "30",
        "--no-critical",
        "--backend",
        backend,
        "--out",
        out.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// One objective of each engine and shape: fused 2-D, fused N-D, multi-pass sphere and flat.
const OBJECTIVES: [&str; 4] = [
    "himmelblau",
    "rastrigin:n=64",
    "pspin:p=3,n=64,seed=2",
    "field:n=64,features=512,seed=3",
];

#[test]
fn correct_kernels_pass_and_the_check_is_recorded() {
    for obj in OBJECTIVES {
        let out = tmp(&format!("ok-{}", obj.len()));
        let o = run(&args(&sample(obj, "gpu", &out, &[])), None);
        assert!(
            o.status.success(),
            "{obj}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(
            stdout.contains("twin check (8 walkers): passed"),
            "{stdout}"
        );
        let t = &manifest(&out)["backend"]["twin_check"];
        assert_eq!(t["passed"], true, "{obj}: {t}");
        let ratio = t["max_ratio"].as_f64().unwrap();
        assert!(
            ratio < 0.5,
            "{obj}: correct kernels use {ratio} of the f32 bound"
        );
        assert_eq!(t["walkers"].as_array().unwrap().len(), 8);
        let _ = std::fs::remove_dir_all(&out);
    }
}

#[test]
fn a_corrupted_gradient_stops_gpu_and_sends_auto_to_the_cpu() {
    for obj in OBJECTIVES {
        // 5%: beyond the f32 bound of every objective here (field's is the loosest: WGSL allows
        // sin and cos an absolute 2^-11, which at M = 512 features can reach ~1% of |grad|).
        let fault = "0.05";
        let out = tmp(&format!("gpu-{}-{fault}", obj.len()));
        let o = run(&args(&sample(obj, "gpu", &out, &[])), Some(fault));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{obj} fault {fault}: {err}");
        assert!(
            err.contains("disagrees with the f64 twin")
                && err.contains("on '")
                && err.contains(obj.split(':').next().unwrap())
                && err.contains("times what f32 rounding explains"),
            "{err}"
        );
        assert!(!out.join("manifest.json").exists());
        let _ = std::fs::remove_dir_all(&out);
        let out = tmp(&format!("auto-{}", obj.len()));
        let o = run(&args(&sample(obj, "auto", &out, &[])), Some("0.05"));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{err}");
        assert!(
            err.contains("notice:") && err.contains("running on the batched CPU engine"),
            "{err}"
        );
        let m = manifest(&out);
        let walk = &m["backend"]["walks"][0];
        assert_eq!(walk["engine"], "cpu batched", "{walk}");
        assert!(
            walk["fallback"].as_str().unwrap().contains("disagrees"),
            "{walk}"
        );
        assert_eq!(m["precision"], "f64");
        let _ = std::fs::remove_dir_all(&out);
    }
}

#[test]
fn no_twin_check_skips_it() {
    let out = tmp("skip");
    let o = run(
        &args(&sample("himmelblau", "gpu", &out, &["--no-twin-check"])),
        Some("0.05"),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(manifest(&out)["backend"]["twin_check"].is_null());
    assert!(!String::from_utf8_lossy(&o.stdout).contains("twin check"));
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn numbers_outside_f32_are_usage_errors_naming_the_value() {
    let cases: [(&str, &str, &str, &[&str]); 4] = [
        (
            "field:n=4,mu=1e39",
            "gd",
            "gpu",
            &["FIELD_MU", "1e39", "3.4e38"],
        ),
        (
            "himmelblau",
            "gd:lr=1e-320",
            "gpu",
            &["lr", "1e-320", "1.2e-38"],
        ),
        (
            "field:length=1e-320",
            "gd",
            "cpu",
            &["length=1e-320", "overflow"],
        ),
        (
            "field:length=1e-320",
            "gd",
            "auto",
            &["length=1e-320", "valid"],
        ),
    ];
    for (obj, opt, backend, words) in cases {
        let out = tmp("f32");
        let o = run(
            &[
                "sample",
                "--objective",
                obj,
                "--optimizer",
                opt,
                "--backend",
                backend,
                "--out",
                out.to_str().unwrap(),
            ],
            None,
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{obj} {opt}: {err}");
        for w in words {
            assert!(err.contains(w), "{obj} {opt}: '{w}' missing from: {err}");
        }
        assert!(!out.exists(), "{obj} {opt}: a usage error writes no folder");
    }
    // The CPU twin computes in f64: the same tiny step size is valid there.
    let out = tmp("f64");
    let o = run(
        &[
            "sample",
            "--objective",
            "himmelblau",
            "--optimizer",
            "gd:lr=1e-320",
            "--steps",
            "5",
            "--walkers",
            "4",
            "--backend",
            "cpu",
            "--out",
            out.to_str().unwrap(),
        ],
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let _ = std::fs::remove_dir_all(&out);
}
