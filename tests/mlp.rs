//! The `mlp` objective end to end: the deep linear network's landscape against its known
//! answer, and user data files read, saved and refused.

mod common;

use common::cli::{npy_f64, num, run, table, tmp};
use nalgebra::{DMatrix, SymmetricEigen};

/// The global minimum of (1/2P)|Y − W X|² over matrices W of rank ≤ k, from the data alone
/// (Baldi & Hornik 1989): |Y|² minus the k largest eigenvalues of Σ = Syx Sxx⁻¹ Sxy, over 2P.
fn rank_k_minimum(x: &DMatrix<f64>, y: &DMatrix<f64>, k: usize) -> f64 {
    let sxx = x * x.transpose();
    let syx = y * x.transpose();
    let sigma = &syx
        * sxx
            .try_inverse()
            .expect("P >= D samples in general position")
        * syx.transpose();
    let mut ev: Vec<f64> = SymmetricEigen::new(sigma)
        .eigenvalues
        .iter()
        .copied()
        .collect();
    ev.sort_by(|a, b| b.total_cmp(a));
    (y.norm_squared() - ev[..k].iter().sum::<f64>()) / (2.0 * x.ncols() as f64)
}

/// A linear network D-K-O with K < min(D, O) has no spurious local minima: every critical
/// point newton-mr finds with no negative Hessian eigenvalue (minima; degenerate, since
/// W1 → A W1, W2 → W2 A⁻¹ leaves f unchanged: K² zero eigenvalues) has the rank-K global
/// minimum loss, and every other one (saddles) lies above it. The theorem is about the loss
/// without weight decay, so the spec sets `l2=0` (the default decay moves the minima), and
/// newton-mr walks alone (`--descent none`), from starts that reach both kinds.
#[test]
fn every_minimum_of_a_deep_linear_network_is_global() {
    let dir = tmp("deep-linear");
    let spec = "mlp:widths=4-2-3,act=linear,bias=0,teacher=4-4-3,samples=40,noise=0.3,l2=0,seed=3";
    let o = run(&[
        "sample",
        "--objective",
        spec,
        "--optimizer",
        "newton-mr",
        "--walkers",
        "128",
        "--steps",
        "200",
        "--backend",
        "cpu",
        "--init",
        "normal:sigma=1",
        "--descent",
        "none",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (xs, x) = npy_f64(&dir.join("data_inputs.npy"));
    let (ys, y) = npy_f64(&dir.join("data_targets.npy"));
    assert_eq!((xs, ys), (vec![40, 4], vec![40, 3]));
    let x = DMatrix::from_row_slice(40, 4, &x).transpose();
    let y = DMatrix::from_row_slice(40, 3, &y).transpose();
    let best = rank_k_minimum(&x, &y, 2);
    let unconstrained = rank_k_minimum(&x, &y, 3);
    assert!(best > unconstrained * 1.01, "the rank constraint binds");
    let rows = table(&dir.join("critical_points.csv"));
    let (mut minima, mut saddles) = (0, 0);
    for r in &rows {
        let f = num(r, "f");
        if num(r, "n_neg") == 0.0 {
            minima += 1;
            assert!(
                (f - best).abs() <= 1e-9 * best,
                "a minimum at f = {f}, global {best}"
            );
            assert_eq!(
                num(r, "n_zero"),
                4.0,
                "K² = 4 flat directions of the symmetry"
            );
        } else {
            saddles += 1;
            assert!(f > best * (1.0 + 1e-6), "a saddle at f = {f} <= {best}");
        }
    }
    assert!(
        minima >= 5 && saddles >= 5,
        "{minima} minima, {saddles} saddles"
    );
}

/// A data file is read (CSV with a header, and .npy), saved back as data_inputs.npy and
/// data_targets.npy, and gives the same landscape as the generated set it holds; a malformed
/// one exits 2 naming the file.
#[test]
fn user_data_round_trips_and_malformed_files_exit_2() {
    let gen = tmp("generated");
    let base = [
        "--optimizer",
        "gd:lr=0.1",
        "--walkers",
        "4",
        "--steps",
        "20",
        "--backend",
        "cpu",
    ];
    let sample = |objective: &str, out: &std::path::Path| {
        let mut a = vec![
            "sample",
            "--objective",
            objective,
            "--out",
            out.to_str().unwrap(),
        ];
        a.extend(base);
        run(&a)
    };
    let o = sample("mlp:widths=3-5-2,samples=30,seed=8", &gen);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (_, x) = npy_f64(&gen.join("data_inputs.npy"));
    let (_, y) = npy_f64(&gen.join("data_targets.npy"));
    let dir = tmp("files");
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("train.csv");
    let mut text = String::from("a,b,c,t0,t1\n");
    for p in 0..30 {
        let row: Vec<String> = x[p * 3..p * 3 + 3]
            .iter()
            .chain(&y[p * 2..p * 2 + 2])
            .map(|v| format!("{v:?}"))
            .collect();
        text.push_str(&row.join(","));
        text.push('\n');
    }
    std::fs::write(&csv, &text).unwrap();
    let from_csv = tmp("from-csv");
    let o = sample(
        &format!("mlp:widths=3-5-2,data={}", csv.display()),
        &from_csv,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(npy_f64(&from_csv.join("data_inputs.npy")).1, x);
    assert_eq!(npy_f64(&from_csv.join("data_targets.npy")).1, y);
    let ends = |d: &std::path::Path| npy_f64(&d.join("end_states.npy")).1;
    assert_eq!(
        ends(&from_csv),
        ends(&gen),
        "the same data gives the same walk"
    );
    // Malformed: a short row, a text cell, a wrong column count for the widths.
    let bad = dir.join("bad rows.csv");
    std::fs::write(&bad, "1,2,3,4,5\n1,2,3\n").unwrap();
    let cases = [
        (
            format!("mlp:widths=3-5-2,data={}", bad.display()),
            "bad rows.csv",
        ),
        (
            format!("mlp:widths=4-5-2,data={}", csv.display()),
            "train.csv",
        ),
        (
            "mlp:widths=3-5-2,data=nowhere.npy".to_string(),
            "nowhere.npy",
        ),
    ];
    for (spec, name) in cases {
        let o = sample(&spec, &tmp("never"));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{spec}: {err}");
        assert!(
            err.contains(name) && !err.contains("panicked"),
            "{spec}: {err}"
        );
    }
}

/// newton-mr alone on a small tanh network without weight decay stalls at some gradient-flat
/// end states: they are listed in gradient_flat.csv with r > 1/2 and a nonzero gradient,
/// counted in the manifest, and none of their walkers is assigned a critical point.
#[test]
fn gradient_flat_end_states_are_reported_and_never_critical() {
    let dir = tmp("gradient-flat");
    let o = run(&[
        "sample",
        "--objective",
        "mlp:widths=2-4-1,samples=32,l2=0",
        "--optimizer",
        "newton-mr",
        "--descent",
        "none",
        "--walkers",
        "128",
        "--steps",
        "200",
        "--backend",
        "cpu",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let flats = table(&dir.join("gradient_flat.csv"));
    assert!(
        !flats.is_empty(),
        "this landscape has gradient-flat regions"
    );
    let walkers = table(&dir.join("walkers.csv"));
    for r in &flats {
        assert!(num(r, "r") > 0.5 && num(r, "r") <= 1.0 + 1e-12, "{r:?}");
        assert!(
            num(r, "grad_norm") > 0.0 && r["kind"] == "gradient-flat",
            "{r:?}"
        );
        let w = num(r, "walker") as usize;
        assert_eq!(
            walkers[w]["point"], "",
            "walker {w} is gradient-flat, not critical"
        );
    }
    let m = common::cli::manifest(&dir);
    assert_eq!(m["gradient_flat"]["walkers"], flats.len());
    let stderr = String::from_utf8_lossy(&o.stderr);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("gradient-flat end states") || stderr.contains("gradient-flat end states"),
        "the summary says so"
    );
}

/// One minibatch step of gd in the twin is x − lr ∇f_B(x) with B the rows rng::minibatch
/// draws for (seed, walker, step 0), and the walker's f is then the full batch's.
#[test]
fn a_minibatch_step_descends_the_minibatch_loss_of_its_rows() {
    use saddlescope::walk::{cpu, Hyper, WalkPlan};
    let obj = saddlescope::objective::parse("mlp:widths=3-4-1,samples=50,seed=4").unwrap();
    let opt = saddlescope::rules::parse("gd:lr=0.3,batch=7").unwrap();
    let n = obj.dim();
    let plan = WalkPlan {
        max_steps: 1,
        grad_tol: 0.0,
        seed: 12,
        first_walker: 5,
        ..WalkPlan::default()
    };
    let x0: Vec<f64> = (0..n).map(|i| 0.3 * ((i as f64) * 1.7).sin()).collect();
    let e = cpu::run(
        obj.as_ref(),
        &opt,
        &plan,
        &x0,
        &Hyper::constant(&opt.hyper(), 1),
        &|_| {},
    );
    let rows = saddlescope::rng::minibatch(12, 5, 0, 7, 50);
    let mini = obj.minibatch(&rows).unwrap();
    let mut g = vec![0.0; n];
    mini.gradient(&x0, &mut g);
    for i in 0..n {
        let want = x0[i] - 0.3 * g[i];
        assert!((e.x[i] - want).abs() <= 1e-15, "x{i}: {} vs {want}", e.x[i]);
    }
    assert_eq!(e.f[0], obj.value(e.point(0)), "f is the full batch's");
}

/// `batch=B` from the command line: a range of batch sizes across walkers on sample (both
/// backends agree), recorded in the manifest; escape takes it per arm.
#[test]
fn minibatch_runs_from_the_command_line() {
    let spec = "mlp:widths=3-6-1,samples=48,seed=2";
    let mut f = Vec::new();
    for backend in ["cpu", "gpu"] {
        let dir = tmp(&format!("minibatch-{backend}"));
        let o = run(&[
            "sample",
            "--objective",
            spec,
            "--optimizer",
            "momentum:lr=0.05,batch=4..48",
            "--walkers",
            "16",
            "--steps",
            "100",
            "--backend",
            backend,
            "--out",
            dir.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let m = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
        assert!(m.contains("batch=4..48"), "{m}");
        f.push(
            table(&dir.join("walkers.csv"))
                .iter()
                .map(|r| num(r, "f"))
                .collect::<Vec<_>>(),
        );
    }
    for (a, b) in f[0].iter().zip(&f[1]) {
        assert!(
            (a - b).abs() <= 1e-4 * a.abs().max(1e-3),
            "cpu {a} vs gpu {b}"
        );
    }
    let dir = tmp("minibatch-escape");
    let o = run(&[
        "escape",
        "--objective",
        spec,
        "--from",
        &format!("point:x={}", vec!["0.1"; 31].join(";")),
        "--optimizers",
        "gd:lr=0.1",
        "gd:lr=0.1,batch=8",
        "--walkers",
        "8",
        "--steps",
        "20",
        "--backend",
        "cpu",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let arms = std::fs::read_to_string(dir.join("escape.csv")).unwrap();
    assert!(arms.contains("gd:lr=0.1,clip=0,batch=8"), "{arms}");
}
