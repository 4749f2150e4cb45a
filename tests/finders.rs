//! The critical-point finders with their defaults (no step size given), through the CLI: the
//! exact censuses of the 2-D test surfaces, the Rastrigin lattice, the spherical 2-spin and the
//! double well. Runs on the batched CPU engine (`--backend cpu`); the GPU kernels of the same
//! rules are held against this engine's twin in tests/gpu_twins.rs.

mod common;

use std::collections::BTreeMap;

use common::cli::{npy_f64, num, run_ok, table, tmp, Row};

/// One `sample` run; returns the catalogue: critical_points.csv's rows and each point's
/// coordinates (critical_points.npy, in the same order).
fn census_with_points(
    name: &str,
    objective: &str,
    optimizer: &str,
    init: &str,
    walkers: usize,
) -> (Vec<Row>, Vec<Vec<f64>>) {
    let out = tmp(name);
    let w = walkers.to_string();
    run_ok(&[
        "sample",
        "--objective",
        objective,
        "--optimizer",
        optimizer,
        "--init",
        init,
        "--walkers",
        &w,
        "--backend",
        "cpu",
        "--out",
        out.to_str().unwrap(),
    ]);
    let rows = table(&out.join("critical_points.csv"));
    let (shape, x) = npy_f64(&out.join("critical_points.npy"));
    let _ = std::fs::remove_dir_all(&out);
    assert_eq!(shape[0], rows.len(), "one row per point");
    let points = x.chunks(shape[1]).map(<[f64]>::to_vec).collect();
    (rows, points)
}

/// The catalogue's rows (see [`census_with_points`]).
fn census(name: &str, objective: &str, optimizer: &str, init: &str, walkers: usize) -> Vec<Row> {
    census_with_points(name, objective, optimizer, init, walkers).0
}

/// Distinct points by index among the rows with every coordinate in [lo, hi].
fn by_index(rows: &[Row], n: usize, lo: f64, hi: f64) -> BTreeMap<usize, usize> {
    let mut m = BTreeMap::new();
    for r in rows {
        let inside = (0..n).all(|i| (lo..=hi).contains(&num(r, &format!("x{i}"))));
        if inside {
            *m.entry(num(r, "index") as usize).or_insert(0) += 1;
        }
    }
    m
}

/// Himmelblau: 4 minima, 4 saddles, 1 maximum; Müller–Brown: 3 minima, 2 saddles; the six-hump
/// camel: 6 minima, 7 saddles, 2 maxima (15 = the Bezout bound 5 x 3 of its gradient, so every
/// real critical point). Both finders, defaults only.
#[test]
fn default_finders_find_every_point_of_the_2d_surfaces() {
    /// (objective, start box, points by index)
    type Case = (&'static str, &'static str, &'static [(usize, usize)]);
    let cases: [Case; 3] = [
        (
            "himmelblau",
            "uniform:lo=-6,hi=6",
            &[(0, 4), (1, 4), (2, 1)],
        ),
        ("muller-brown", "uniform:lo=-1.5,hi=2", &[(0, 3), (1, 2)]),
        ("camel6", "uniform:lo=-3,hi=3", &[(0, 6), (1, 7), (2, 2)]),
    ];
    for finder in ["newton-mr", "gradnorm"] {
        for (obj, init, want) in cases {
            let rows = census(&format!("{finder}-{obj}"), obj, finder, init, 16384);
            let got = by_index(&rows, 2, f64::NEG_INFINITY, f64::INFINITY);
            let want: BTreeMap<usize, usize> = want.iter().copied().collect();
            assert_eq!(got, want, "{finder} on {obj}: points by index");
        }
    }
}

/// Rastrigin in 2-D from the box [-5.12, 5.12]^2: per coordinate 11 minima (the integers
/// -5..5) and 10 maxima between them, so 11^2 = 121 minima, 2 * 11 * 10 = 220 saddles and
/// 10^2 = 100 maxima inside the box (walkers may also land outside it; those are not counted).
#[test]
fn newton_mr_takes_the_full_rastrigin_census() {
    let rows = census(
        "rastrigin",
        "rastrigin:n=2",
        "newton-mr",
        "uniform:lo=-5.12,hi=5.12",
        16384,
    );
    let got = by_index(&rows, 2, -5.12, 5.12);
    assert_eq!(got, BTreeMap::from([(0, 121), (1, 220), (2, 100)]));
}

/// The spherical 2-spin f = x.Ax on |x|^2 = N has exactly 2N critical points, +-sqrt(N) v_k
/// for the eigenvectors v_k of A, and the one at the k-th smallest eigenvalue has index k-1.
/// A comes from the objective itself (its Hessian is the constant 2A).
#[test]
fn newton_mr_finds_the_2n_points_of_the_2_spin() {
    let n = 10;
    let spec = format!("pspin:p=2,n={n},seed=4");
    let obj = saddlescope::objective::parse(&spec).unwrap();
    let h = obj.hessian(&vec![1.0; n]);
    let eig = nalgebra::SymmetricEigen::new(h);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| eig.eigenvalues[a].total_cmp(&eig.eigenvalues[b]));
    let (rows, points) = census_with_points("2spin", &spec, "newton-mr", "auto", 16384);
    assert_eq!(rows.len(), 2 * n, "2N points");
    let mut seen = vec![0; n];
    for (r, x) in rows.iter().zip(&points) {
        // The eigenvector x lies along.
        let (k, overlap) = (0..n)
            .map(|k| {
                let v = eig.eigenvectors.column(order[k]);
                let dot: f64 = x.iter().zip(v.iter()).map(|(a, b)| a * b).sum();
                (k, dot.abs() / (n as f64).sqrt())
            })
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        assert!(overlap > 1.0 - 1e-9, "a point off every eigenvector: {x:?}");
        assert_eq!(
            num(r, "index") as usize,
            k,
            "index of the point at eigenvector {k}"
        );
        seen[k] += 1;
    }
    assert_eq!(seen, vec![2; n], "both signs of every eigenvector");
}

/// The double well sum (x_i^2 - 1)^2 has 3^N critical points (each coordinate at -1, 0 or 1);
/// the point with k zero coordinates has index k, and there are C(N, k) 2^(N-k) of them.
#[test]
fn newton_mr_finds_the_3_to_the_n_points_of_the_double_well() {
    for n in 2..=5usize {
        let rows = census(
            &format!("dw{n}"),
            &format!("double-well:n={n}"),
            "newton-mr",
            "uniform:lo=-2,hi=2",
            16384,
        );
        assert_eq!(rows.len(), 3usize.pow(n as u32), "N = {n}: 3^N points");
        let got = by_index(&rows, n, f64::NEG_INFINITY, f64::INFINITY);
        let binom = |n: usize, k: usize| (0..k).fold(1, |c, i| c * (n - i) / (i + 1));
        let want: BTreeMap<usize, usize> = (0..=n)
            .map(|k| (k, binom(n, k) * 2usize.pow((n - k) as u32)))
            .collect();
        assert_eq!(got, want, "N = {n}: points by index");
    }
}

/// The same census on the GPU (f32 kernels, then the f64 polish): Himmelblau's 9 points with
/// the same number of walkers at each as on the batched CPU engine, up to the few walkers whose
/// start sits on a basin boundary within f32 rounding.
#[test]
fn newton_mr_on_the_gpu_takes_the_same_census() {
    let mut counts = Vec::new();
    for backend in ["gpu", "cpu"] {
        let out = tmp(&format!("gpu-census-{backend}"));
        run_ok(&[
            "sample",
            "--objective",
            "himmelblau",
            "--optimizer",
            "newton-mr",
            "--init",
            "uniform:lo=-6,hi=6",
            "--walkers",
            "4096",
            "--backend",
            backend,
            "--out",
            out.to_str().unwrap(),
        ]);
        let rows = table(&out.join("critical_points.csv"));
        let _ = std::fs::remove_dir_all(&out);
        let mut c: Vec<(i64, i64, usize)> = rows
            .iter()
            .map(|r| {
                let key = |k: &str| (num(r, k) * 1e4).round() as i64;
                (key("x0"), key("x1"), num(r, "walkers") as usize)
            })
            .collect();
        c.sort();
        counts.push(c);
    }
    assert_eq!(counts[0].len(), 9, "GPU: {:?}", counts[0]);
    for (g, c) in counts[0].iter().zip(&counts[1]) {
        assert_eq!((g.0, g.1), (c.0, c.1), "the same points");
        assert!(g.2.abs_diff(c.2) <= 8, "walkers per point: {g:?} vs {c:?}");
    }
}

/// `sweep` over a deterministic family: one instance per N with the default finder, the exact
/// double-well counts 3^N and 2^N minima against N; more instances of a family without
/// disorder are a usage error.
#[test]
fn sweep_takes_exact_counts_of_a_deterministic_family() {
    let out = tmp("sweep-dw");
    run_ok(&[
        "sweep",
        "--objective",
        "double-well",
        "--dims",
        "2,3,4",
        "--walkers",
        "8192",
        "--init",
        "uniform:lo=-2,hi=2",
        "--backend",
        "cpu",
        "--out",
        out.to_str().unwrap(),
    ]);
    let rows = table(&out.join("sweep.csv"));
    assert_eq!(rows.len(), 3);
    for r in &rows {
        let n = num(r, "dim") as u32;
        assert_eq!(num(r, "instances"), 1.0);
        assert_eq!(num(r, "points"), 3f64.powi(n as i32), "N = {n}");
        assert_eq!(num(r, "minima"), 2f64.powi(n as i32), "N = {n}");
        assert_eq!(num(r, "maxima"), 1.0, "N = {n}");
    }
    let _ = std::fs::remove_dir_all(&out);
    let o = common::cli::run(&[
        "sweep",
        "--objective",
        "rastrigin",
        "--dims",
        "2",
        "--instances",
        "3",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no disorder") && err.contains("valid: 1"),
        "{err}"
    );
}

/// gradnorm with its defaults (no lr: the exact line search along H grad f) is stable on every
/// objective in `list`, at its default parameters and start: at most 2% of the walkers diverge,
/// and every other walker ends at a finite f. The exception that needs the margin is
/// Müller–Brown, whose steep walls (Hessian eigenvalues up to 4e3) beside its valleys can make
/// one model step overshoot to where its fourth term, 15 exp(0.7(x+1)² + 0.6(x+1)(y−1) +
/// 0.7(y−1)²), grows without bound (measured: 23 of 4096 walkers in 500 steps, 0.6%; every
/// other objective 0). A fixed lr above 2/lambda^2 made most walkers diverge or miss the sharp
/// points.
#[test]
fn gradnorm_defaults_are_stable_on_every_objective() {
    for e in saddlescope::objective::registry() {
        let out = tmp(&format!("gradnorm-{}", e.name));
        run_ok(&[
            "sample",
            "--objective",
            e.name,
            "--optimizer",
            "gradnorm",
            "--walkers",
            "256",
            "--steps",
            "500",
            "--no-critical",
            "--backend",
            "cpu",
            "--out",
            out.to_str().unwrap(),
        ]);
        let rows = table(&out.join("walkers.csv"));
        let (_, x0) = npy_f64(&out.join("starts.npy"));
        let (_, x1) = npy_f64(&out.join("end_states.npy"));
        let _ = std::fs::remove_dir_all(&out);
        let diverged = rows.iter().filter(|r| r["status"] == "diverged").count();
        assert!(
            diverged * 50 <= rows.len(),
            "{}: {diverged} walkers diverged",
            e.name
        );
        // The steps are not vanishingly small: walkers not at a critical point move.
        let moved = x0
            .iter()
            .zip(&x1)
            .filter(|(a, b)| (*a - *b).abs() > 1e-6)
            .count();
        assert!(moved > 0, "{}: no walker moved", e.name);
        for r in rows.iter().filter(|r| r["status"] != "diverged") {
            assert!(num(r, "f").is_finite(), "{}: f = {}", e.name, r["f"]);
        }
    }
}
