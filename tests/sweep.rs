//! `saddlescope sweep`, `run FILE.toml` and `plot DIR` end to end through the command line.

mod common;

use std::f64::consts::{SQRT_2, TAU};

use common::cli::{manifest, num, ok, run, table, tmp};
use saddlescope::objective;

fn sweep_args<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec!["sweep", "--out", out];
    a.extend_from_slice(extra);
    a
}

/// The request's acceptance test: on `field` with small mu (0.05, far below μ_c = √N/l² ≥ 1.4)
/// the fraction of minima among critical points falls as N goes 2 → 4 → 8 → 16, and the
/// end points are separated beyond their 95% Wilson intervals.
#[test]
fn fraction_of_minima_falls_with_dimension_on_a_random_field() {
    let out = tmp("field");
    let o = run(&sweep_args(
        out.to_str().unwrap(),
        &[
            "--objective",
            "field:features=32,mu=0.05",
            "--dims",
            "2,4,8,16",
            "--instances",
            "4",
            "--walkers",
            "64",
            "--optimizer",
            "gradnorm:lr=0.01,clip=1",
            "--steps",
            "8000",
            "--grad-tol",
            "1e-2",
        ],
    ));
    ok(&o);
    let text = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    assert!(text.starts_with(
        "dim,instances,points,points_per_instance,minima,saddles,maxima,degenerate,fraction_minima,fraction_minima_lo,fraction_minima_hi,mean_index_fraction"
    ));
    let rows = table(&out.join("sweep.csv"));
    let dims: Vec<f64> = rows.iter().map(|r| num(r, "dim")).collect();
    assert_eq!(dims, vec![2.0, 4.0, 8.0, 16.0]);
    let frac: Vec<f64> = rows.iter().map(|r| num(r, "fraction_minima")).collect();
    eprintln!("fraction of minima: {frac:?}");
    for r in &rows {
        assert!(num(r, "points") >= 10.0, "too few points to judge: {r:?}");
        let (f, lo, hi) = (
            num(r, "fraction_minima"),
            num(r, "fraction_minima_lo"),
            num(r, "fraction_minima_hi"),
        );
        assert!(lo <= f && f <= hi, "{r:?}");
        assert_eq!(
            num(r, "minima") + num(r, "saddles") + num(r, "maxima") + num(r, "degenerate"),
            num(r, "points")
        );
    }
    assert!(frac.windows(2).all(|w| w[1] <= w[0]), "{frac:?}");
    assert!(
        num(&rows[3], "fraction_minima_hi") < num(&rows[0], "fraction_minima_lo"),
        "N = 16 vs N = 2 not separated: {rows:?}"
    );
    // by_index.csv: fractions of each dimension sum to one over indices 0..=N.
    let by = table(&out.join("by_index.csv"));
    for d in [2.0, 16.0] {
        let r: Vec<_> = by.iter().filter(|r| num(r, "dim") == d).collect();
        assert_eq!(r.len(), d as usize + 1);
        let s: f64 = r.iter().map(|r| num(r, "fraction")).sum();
        assert!((s - 1.0).abs() < 1e-12, "{s}");
    }
    for f in ["fraction_minima", "index_fraction_hist", "index_vs_energy"] {
        for ext in ["png", "svg"] {
            assert!(out.join(format!("{f}.{ext}")).exists(), "{f}.{ext}");
        }
    }
    // Not a sphere: no energy-of-minima figure.
    assert!(!out.join("minima_energy.png").exists());
}

/// H on the circle x = √2 (cos θ, sin θ), from the objective's own f64 value function.
fn circle_h(obj: &dyn objective::Objective, theta: f64) -> f64 {
    obj.value(&[SQRT_2 * theta.cos(), SQRT_2 * theta.sin()])
}

/// The critical values of one 3-spin instance on the circle, found independently of the tool's
/// walk and polish: H(θ) is a trigonometric polynomial of degree 3, so 64 samples give its
/// Fourier coefficients exactly; the roots of H'(θ) are bracketed on a 4096-point grid and
/// bisected in f64. Returns (θ, H) of each root, in order of θ.
fn circle_critical_points(obj: &dyn objective::Objective) -> Vec<(f64, f64)> {
    let m = 64;
    let samples: Vec<f64> = (0..m)
        .map(|j| circle_h(obj, TAU * j as f64 / m as f64))
        .collect();
    let coef = |k: usize| -> (f64, f64) {
        let (mut a, mut b) = (0.0, 0.0);
        for (j, h) in samples.iter().enumerate() {
            let t = TAU * (k * j) as f64 / m as f64;
            a += h * t.cos();
            b += h * t.sin();
        }
        (2.0 * a / m as f64, 2.0 * b / m as f64)
    };
    let cs: Vec<(usize, f64, f64)> = (1..=3).map(|k| (k, coef(k).0, coef(k).1)).collect();
    // H is odd and homogeneous of degree 3: only harmonics 1 and 3, nothing above.
    assert!(coef(0).0.abs() < 1e-12 && coef(2).0.abs() < 1e-12 && coef(5).0.abs() < 1e-12);
    let dh = |t: f64| -> f64 {
        cs.iter()
            .map(|&(k, a, b)| k as f64 * (-a * (k as f64 * t).sin() + b * (k as f64 * t).cos()))
            .sum()
    };
    let grid = 4096;
    let mut values = Vec::new();
    for j in 0..grid {
        let (mut lo, mut hi) = (
            TAU * j as f64 / grid as f64,
            TAU * (j + 1) as f64 / grid as f64,
        );
        let (flo, fhi) = (dh(lo), dh(hi));
        if flo == 0.0 || flo.signum() == fhi.signum() {
            continue;
        }
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if dh(mid).signum() == flo.signum() {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let t = 0.5 * (lo + hi);
        values.push((t, circle_h(obj, t)));
    }
    values
}

/// Kac–Rice: the spherical 3-spin at N = 2 has on average 2√7 ≈ 5.29 critical points per
/// instance. Each instance's points are enumerated independently (above) from the landscape
/// seed the sweep reports, and the sweep must find exactly those points (count and critical
/// values). The exception is an instance with two critical points closer than 0.02 rad (about to
/// merge): the basin between them is narrower than the spacing of 64 walkers, so the sweep may
/// miss one; there it must find a subset, and such instances must be rare (≤ 2%). The mean count
/// the sweep reports over 600 instances must lie within 3 standard errors of 2√7 (counts are
/// 2, 4 or 6: a sampler that misses a pair in a tenth of the instances is off by ~0.2, four
/// standard errors).
#[test]
fn three_spin_on_the_circle_has_two_root_seven_critical_points() {
    let out = tmp("kacrice");
    let k = 600;
    let ks = k.to_string();
    let o = run(&sweep_args(
        out.to_str().unwrap(),
        &[
            "--objective",
            "pspin:p=3",
            "--dims",
            "2",
            "--instances",
            &ks,
            "--walkers",
            "64",
            "--optimizer",
            // Stable at every point: lr·λ² < 2 for the Riemannian Hessian's |λ| up to ~10 here
            // (the deepest minima and highest maxima are the steepest; lr = 0.05 misses some).
            "gradnorm:lr=0.01",
            "--steps",
            "6000",
            // Instances with two nearly flat critical points converge slowly under gradnorm
            // (rate ∝ lr·λ²); the f64 Newton polish finishes what the walk leaves at |g| ≤ 0.05.
            "--grad-tol",
            "5e-2",
            "--seed",
            "11",
        ],
    ));
    ok(&o);
    let insts = table(&out.join("instances.csv"));
    let points = table(&out.join("points.csv"));
    assert_eq!(insts.len(), k);
    let (mut found, mut close_pairs) = (Vec::new(), 0);
    for inst in &insts {
        let i = &inst["instance"];
        let obj = objective::parse(&format!("pspin:p=3,n=2,seed={}", inst["seed"])).unwrap();
        let crit = circle_critical_points(obj.as_ref());
        let gap = (0..crit.len())
            .map(|j| {
                let d = crit[(j + 1) % crit.len()].0 - crit[j].0;
                d.rem_euclid(TAU)
            })
            .fold(f64::INFINITY, f64::min);
        let mut want: Vec<f64> = crit.iter().map(|c| c.1).collect();
        want.sort_by(f64::total_cmp);
        let got: Vec<f64> = points
            .iter()
            .filter(|p| &p["instance"] == i)
            .map(|p| num(p, "f"))
            .collect();
        assert_eq!(num(inst, "points") as usize, got.len());
        // Every point found is one of the enumerated ones (each at most once).
        let mut used = vec![false; want.len()];
        for g in &got {
            let j = (0..want.len()).find(|&j| !used[j] && (want[j] - g).abs() < 1e-9);
            let j = j.unwrap_or_else(|| panic!("instance {i}: {g} is not among {want:?}"));
            used[j] = true;
        }
        if gap < 0.02 {
            close_pairs += 1;
        } else {
            assert_eq!(got.len(), want.len(), "instance {i}: {got:?} vs {want:?}");
        }
        found.push(got.len() as f64);
    }
    assert!(
        close_pairs * 50 <= k,
        "{close_pairs} instances with merging points"
    );
    let mean = found.iter().sum::<f64>() / k as f64;
    let var = found.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / (k as f64 - 1.0);
    let se = (var / k as f64).sqrt();
    let expected = 2.0 * 7f64.sqrt();
    eprintln!(
        "mean {mean} ± {se}, expected {expected}; {close_pairs} instances with merging points"
    );
    assert!(
        (mean - expected).abs() < 3.0 * se,
        "{mean} ± {se} vs {expected}"
    );
    // The sweep's own table reports the same mean and standard error.
    let row = &table(&out.join("sweep.csv"))[0];
    assert!((num(row, "points_per_instance") - mean).abs() < 1e-12);
    assert!((num(row, "points_per_instance_se") - se).abs() < 1e-12);
    // On the circle every critical point is a minimum or a maximum.
    assert_eq!(num(row, "saddles"), 0.0);
}

const SMALL: &[&str] = &[
    "--objective",
    "pspin:p=3",
    "--instances",
    "3",
    "--walkers",
    "32",
    "--optimizer",
    "gradnorm:lr=0.05",
    "--steps",
    "600",
    "--grad-tol",
    "1e-4",
];

/// Same seed, same tables; instance k of dimension N is the same whatever other dimensions the
/// sweep has; another seed gives other landscapes.
#[test]
fn sweeps_are_reproducible_and_dimensions_independent() {
    let mut csv = Vec::new();
    for (name, dims, seed) in [
        ("a", "3,4", "4"),
        ("b", "3,4", "4"),
        ("c", "4", "4"),
        ("d", "3,4", "5"),
    ] {
        let out = tmp(&format!("repro-{name}"));
        let mut args = sweep_args(out.to_str().unwrap(), SMALL);
        args.extend(["--dims", dims, "--seed", seed]);
        let o = run(&args);
        ok(&o);
        csv.push((
            std::fs::read_to_string(out.join("sweep.csv")).unwrap(),
            std::fs::read_to_string(out.join("points.csv")).unwrap(),
            std::fs::read_to_string(out.join("instances.csv")).unwrap(),
        ));
    }
    assert_eq!(csv[0], csv[1]);
    let dim4 = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| l.starts_with("4,"))
            .map(String::from)
            .collect()
    };
    assert_eq!(dim4(&csv[0].0), dim4(&csv[2].0));
    assert_eq!(dim4(&csv[0].1), dim4(&csv[2].1));
    assert_eq!(dim4(&csv[0].2), dim4(&csv[2].2));
    assert!(!dim4(&csv[0].0).is_empty());
    assert_ne!(
        csv[0].2, csv[3].2,
        "another --seed must give other landscapes"
    );
}

/// An experiment file runs like its command line, leaves a copy and the equivalent argv in the
/// folder, and that argv reproduces the run; `plot` redraws the figures byte for byte.
#[test]
fn experiment_files_and_plot() {
    let out = tmp("exp");
    let file = tmp("exp.toml");
    std::fs::write(
        &file,
        format!(
            "# a small sweep\ncommand = \"sweep\"\nobjective = \"pspin:p=3\"\ndims = [3, 4]\n\
             instances = 3\nwalkers = 32\noptimizer = \"gradnorm:lr=0.05\"\nsteps = 600\n\
             grad_tol = 1e-4\nseed = 4\nout = \"{}\"\n",
            out.display()
        ),
    )
    .unwrap();
    ok(&run(&["run", file.to_str().unwrap()]));
    assert_eq!(
        std::fs::read_to_string(out.join("experiment.toml")).unwrap(),
        std::fs::read_to_string(&file).unwrap()
    );
    let m = manifest(&out);
    assert_eq!(m["command"], "sweep");
    assert_eq!(m["experiment"]["file"], "experiment.toml");
    let argv: Vec<String> = m["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(&argv[..2], ["saddlescope", "sweep"]);
    assert!(argv.join(" ").contains("--dims 3 --dims 4"), "{argv:?}");
    // The same sweep typed on the command line (TOML's output folder swapped) gives the same
    // table, and its manifest records the typed argv.
    let again = tmp("exp-again");
    let mut args: Vec<String> = argv[1..].to_vec();
    let i = args.iter().position(|a| a == "--out").unwrap();
    args[i + 1] = again.to_str().unwrap().to_string();
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(&run(&refs));
    assert_eq!(
        std::fs::read_to_string(out.join("sweep.csv")).unwrap(),
        std::fs::read_to_string(again.join("sweep.csv")).unwrap()
    );
    let m2 = manifest(&again);
    assert_eq!(m2["argv"][1], "sweep");
    assert!(m2["experiment"].is_null() && !again.join("experiment.toml").exists());

    // plot: every figure comes back identical from the tables alone.
    let figs = [
        "fraction_minima.png",
        "index_fraction_hist.svg",
        "index_vs_energy.png",
        "minima_energy.svg",
    ];
    let before: Vec<Vec<u8>> = figs
        .iter()
        .map(|f| std::fs::read(out.join(f)).unwrap())
        .collect();
    for f in figs {
        std::fs::remove_file(out.join(f)).unwrap();
    }
    ok(&run(&["plot", out.to_str().unwrap()]));
    for (f, b) in figs.iter().zip(&before) {
        assert_eq!(&std::fs::read(out.join(f)).unwrap(), b, "{f}");
    }

    // A sample folder: the index histogram from critical_points.csv.
    let s = tmp("exp-sample");
    ok(&run(&[
        "sample",
        "--objective",
        "himmelblau",
        "--optimizer",
        "gradnorm:lr=0.0002",
        "--walkers",
        "128",
        "--steps",
        "4000",
        "--grad-tol",
        "1e-3",
        "--out",
        s.to_str().unwrap(),
    ]));
    let before = std::fs::read(s.join("index_histogram.png")).unwrap();
    std::fs::remove_file(s.join("index_histogram.png")).unwrap();
    ok(&run(&["plot", s.to_str().unwrap()]));
    assert_eq!(
        std::fs::read(s.join("index_histogram.png")).unwrap(),
        before
    );
}

#[test]
fn bad_input_is_a_usage_error_and_writes_nothing() {
    let out = tmp("bad");
    let o = run(&[
        "sweep",
        "--objective",
        "field:n=4",
        "--dims",
        "2,4",
        "--optimizer",
        "gd",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("sets n=4"));
    assert!(!out.exists());
    let o = run(&[
        "sweep",
        "--objective",
        "himmelblau",
        "--dims",
        "2",
        "--optimizer",
        "gd",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("fixed dimension") && err.contains("field, pspin"),
        "{err}"
    );
    // Usage errors that sample and escape refuse are refused by sweep too: a Newton rule at
    // N > 64 (at any of the dims), a CPU-only rule with --backend gpu, and starts at the origin
    // of a sphere (no point on |x|^2 = N).
    let cases: &[(&[&str], &[&str])] = &[
        (
            &[
                "--objective",
                "field",
                "--dims",
                "2,100",
                "--optimizer",
                "newton",
            ],
            &["--dims 100", "N <= 64"],
        ),
        (
            &[
                "--objective",
                "field",
                "--dims",
                "2",
                "--optimizer",
                "sfn",
                "--backend",
                "gpu",
            ],
            &["--backend gpu", "sfn", "CPU twin only"],
        ),
        (
            &[
                "--objective",
                "pspin:p=2",
                "--dims",
                "3",
                "--optimizer",
                "gd",
                "--init",
                "point:x=0;0;0",
            ],
            &["sphere", "zero vector"],
        ),
        (
            &[
                "--objective",
                "pspin:p=2",
                "--dims",
                "3",
                "--optimizer",
                "gd",
                "--init",
                "normal:sigma=0",
            ],
            &["sphere", "zero vector"],
        ),
        (
            &[
                "--objective",
                "field:features=8,features=16",
                "--dims",
                "2",
                "--optimizer",
                "gd",
            ],
            &["features", "twice"],
        ),
    ];
    for (args, needles) in cases {
        let mut full = vec![
            "sweep",
            "--walkers",
            "2",
            "--steps",
            "2",
            "--instances",
            "1",
        ];
        full.extend_from_slice(args);
        full.extend(["--out", out.to_str().unwrap()]);
        let o = run(&full);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        for needle in *needles {
            assert!(
                err.contains(needle),
                "{args:?}: should mention '{needle}': {err}"
            );
        }
        assert!(!out.exists(), "{args:?} created the run folder");
    }
    // An experiment file with a key no flag has: clap's error names it, exit 2.
    let file = tmp("bad.toml");
    std::fs::write(
        &file,
        "command = \"sweep\"\nobjective = \"pspin\"\ndims = [2]\noptimizer = \"gd\"\nwalkerz = 3\n",
    )
    .unwrap();
    let o = run(&["run", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--walkerz") && err.contains(file.to_str().unwrap()),
        "{err}"
    );
    std::fs::write(&file, "objective = \"pspin\"\n").unwrap();
    let o = run(&["run", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no 'command'"));
    // plot: a folder of a command it does not draw yet, and a folder without a manifest.
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("manifest.json"), "{\"command\": \"frobnicate\"}").unwrap();
    let o = run(&["plot", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("plot does not know command 'frobnicate'"));
    let o = run(&["plot", tmp("nothing").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
}
