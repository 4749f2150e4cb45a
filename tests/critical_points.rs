//! The critical-point catalogue end to end, through `saddlescope sample`, against values computed
//! independently of the tool: tabulated coordinates from the literature, roots found here by a
//! separate Newton iteration on hand-written gradients, and an independent eigen-decomposition of
//! the 2-spin couplings.

mod common;

use std::path::{Path, PathBuf};

use common::cli::{manifest, run, tmp};
use nalgebra::{DMatrix, Matrix2, SymmetricEigen, Vector2};

/// One row of critical_points.csv.
#[derive(Debug, Clone)]
struct Row {
    f: f64,
    index: usize,
    n_zero: usize,
    kind: String,
    walkers: usize,
    x: Vec<f64>,
}

const HEADER: &str = "id,f,grad_norm,index,n_neg,n_zero,n_pos,kind,walkers,min_eig,max_eig";

/// Runs `sample` with the given objective, optimizer and extra flags; returns the folder and the
/// catalogue rows.
fn sample(name: &str, objective: &str, optimizer: &str, extra: &[&str]) -> (PathBuf, Vec<Row>) {
    let out = tmp(name);
    let mut args = vec![
        "sample",
        "--objective",
        objective,
        "--optimizer",
        optimizer,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows = read_catalogue(&out);
    (out, rows)
}

fn read_catalogue(dir: &Path) -> Vec<Row> {
    let csv = std::fs::read_to_string(dir.join("critical_points.csv")).unwrap();
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with(HEADER), "{header}");
    let coords = header.split(',').filter(|h| h.starts_with('x')).count();
    lines
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            Row {
                f: c[1].parse().unwrap(),
                index: c[3].parse().unwrap(),
                n_zero: c[5].parse().unwrap(),
                kind: c[7].to_string(),
                walkers: c[8].parse().unwrap(),
                x: c[11..11 + coords]
                    .iter()
                    .map(|v| v.parse().unwrap())
                    .collect(),
            }
        })
        .collect()
}

/// The row within `tol` of `x` (max norm), if exactly one.
fn find<'a>(rows: &'a [Row], x: &[f64], tol: f64) -> Option<&'a Row> {
    let near: Vec<&Row> = rows
        .iter()
        .filter(|r| r.x.iter().zip(x).all(|(a, b)| (a - b).abs() <= tol))
        .collect();
    assert!(near.len() <= 1, "two catalogue rows within {tol} of {x:?}");
    near.first().copied()
}

/// A 2-D critical point computed in this file: position, value, index.
#[derive(Debug, Clone, Copy)]
struct Known {
    x: [f64; 2],
    f: f64,
    index: usize,
}

/// All critical points of a 2-D function in a box: Newton on ∇f = 0 from a grid of starts with
/// the hand-written gradient and Hessian, deduplicated, classified by the 2×2 eigenvalues.
fn roots_2d(
    f: impl Fn(f64, f64) -> f64,
    grad: impl Fn(f64, f64) -> Vector2<f64>,
    hess: impl Fn(f64, f64) -> Matrix2<f64>,
    bx: (f64, f64),
    by: (f64, f64),
) -> Vec<Known> {
    let mut found: Vec<Known> = Vec::new();
    let m = 60;
    for i in 0..=m {
        for j in 0..=m {
            let mut p = Vector2::new(
                bx.0 + (bx.1 - bx.0) * i as f64 / m as f64,
                by.0 + (by.1 - by.0) * j as f64 / m as f64,
            );
            for _ in 0..60 {
                let Some(inv) = hess(p.x, p.y).try_inverse() else {
                    break;
                };
                p -= inv * grad(p.x, p.y);
                if !(p.x.is_finite() && p.y.is_finite()) || p.norm() > 10.0 {
                    break;
                }
            }
            let inside = p.x >= bx.0 && p.x <= bx.1 && p.y >= by.0 && p.y <= by.1;
            let g = grad(p.x, p.y).norm();
            if inside
                && g < 1e-9 * (1.0 + f(p.x, p.y).abs())
                && !found
                    .iter()
                    .any(|k| (k.x[0] - p.x).hypot(k.x[1] - p.y) < 1e-6)
            {
                let e = SymmetricEigen::new(hess(p.x, p.y)).eigenvalues;
                found.push(Known {
                    x: [p.x, p.y],
                    f: f(p.x, p.y),
                    index: e.iter().filter(|&&l| l < 0.0).count(),
                });
            }
        }
    }
    found
}

fn kind_of(index: usize, n: usize) -> &'static str {
    match index {
        0 => "minimum",
        i if i == n => "maximum",
        _ => "saddle",
    }
}

/// Every known point is in the catalogue with its value, index and kind; nothing else is.
fn assert_catalogue_matches(rows: &[Row], known: &[Known], pos_tol: f64, what: &str) {
    for k in known {
        let r = find(rows, &k.x, pos_tol)
            .unwrap_or_else(|| panic!("{what}: no catalogue point at {k:?}; found {rows:#?}"));
        assert!(
            (r.f - k.f).abs() <= 1e-6 * (1.0 + k.f.abs()),
            "{what}: {k:?} vs {r:?}"
        );
        assert_eq!(
            (r.index, r.kind.as_str()),
            (k.index, kind_of(k.index, 2)),
            "{what}: {k:?}"
        );
    }
    assert_eq!(rows.len(), known.len(), "{what}: extra points {rows:#?}");
}

fn himmelblau(x: f64, y: f64) -> f64 {
    (x * x + y - 11.0).powi(2) + (x + y * y - 7.0).powi(2)
}

#[test]
fn himmelblau_gradnorm_finds_all_nine_critical_points() {
    // Tabulated critical points of Himmelblau's function (Himmelblau 1972; the saddles and the
    // maximum as commonly tabulated): 4 minima at f = 0, 4 saddles, the maximum f = 181.6165.
    // gradnorm is stable for lr < 2 / max λ(H)² over the points; the sharpest minimum,
    // (-3.78, -3.28), has λ = 133.8, so lr = 1e-4 (λ² lr ≤ 1.8).
    let (out, rows) = sample(
        "himmelblau",
        "himmelblau",
        "gradnorm:lr=0.0001",
        &[
            "--walkers",
            "1024",
            "--steps",
            "20000",
            "--grad-tol",
            "1e-3",
        ],
    );
    let tab: [([f64; 2], usize); 9] = [
        ([3.0, 2.0], 0),
        ([-2.805118, 3.131312], 0),
        ([-3.779310, -3.283186], 0),
        ([3.584428, -1.848126], 0),
        ([0.086677, 2.884254], 1),
        ([-3.073026, -0.081353], 1),
        ([3.385154, 0.073852], 1),
        ([-0.127961, -1.953715], 1),
        ([-0.270845, -0.923039], 2),
    ];
    for (x, index) in tab {
        let r = find(&rows, &x, 1e-5).unwrap_or_else(|| panic!("{x:?} missing: {rows:#?}"));
        // The tabulated coordinates carry 6 decimals; f there agrees to ~1e-4 of its gradient.
        assert!((r.f - himmelblau(x[0], x[1])).abs() < 1e-3, "{x:?}: {r:?}");
        assert_eq!((r.index, r.kind.as_str()), (index, kind_of(index, 2)));
        assert!(r.walkers > 0);
    }
    assert_eq!(rows.len(), 9, "{rows:#?}");
    let max = rows.iter().find(|r| r.kind == "maximum").unwrap();
    assert!((max.f - 181.6165).abs() < 1e-3, "{max:?}");
    assert!(
        rows.windows(2).all(|w| w[0].f <= w[1].f),
        "rows ordered by f"
    );
    for r in rows.iter().filter(|r| r.kind == "minimum") {
        assert!(r.f.abs() < 1e-12, "{r:?}");
    }

    // walkers.csv points back into the catalogue; only converged walkers have a point, and
    // the walker counts add up.
    let walkers = std::fs::read_to_string(out.join("walkers.csv")).unwrap();
    let mut with_point = 0;
    for l in walkers.lines().skip(1) {
        let c: Vec<&str> = l.split(',').collect();
        if !c[5].is_empty() {
            assert_eq!(c[4], "converged", "{l}");
            assert!(c[5].parse::<usize>().unwrap() < rows.len());
            with_point += 1;
        }
    }
    assert_eq!(with_point, rows.iter().map(|r| r.walkers).sum::<usize>());
    let m = manifest(&out);
    assert_eq!(m["critical_points"]["distinct"], 9);
    // Walkers that did not converge are counted as never polished, not as polish failures.
    let unfinished = walkers
        .lines()
        .skip(1)
        .filter(|l| !l.contains(",converged,"))
        .count();
    assert_eq!(m["critical_points"]["not_polished"], unfinished);
    assert!(m["critical_points"]["polish_failures"]
        .as_object()
        .unwrap()
        .get("ineligible")
        .is_none());
    assert!(out.join("index_histogram.png").exists() && out.join("index_histogram.svg").exists());
}

#[test]
fn six_hump_camel_every_minimum_saddle_and_maximum() {
    // f = (4 - 2.1x² + x⁴/3)x² + xy + (-4 + 4y²)y² on [-2,2]×[-1,1].
    let f = |x: f64, y: f64| {
        (4.0 - 2.1 * x * x + x.powi(4) / 3.0) * x * x + x * y + (-4.0 + 4.0 * y * y) * y * y
    };
    let grad = |x: f64, y: f64| {
        Vector2::new(
            8.0 * x - 8.4 * x.powi(3) + 2.0 * x.powi(5) + y,
            x - 8.0 * y + 16.0 * y.powi(3),
        )
    };
    let hess = |x: f64, y: f64| {
        Matrix2::new(
            8.0 - 25.2 * x * x + 10.0 * x.powi(4),
            1.0,
            1.0,
            -8.0 + 48.0 * y * y,
        )
    };
    let known = roots_2d(f, grad, hess, (-2.0, 2.0), (-1.0, 1.0));
    // The six tabulated minima (Dixon & Szegő 1978; Molga & Smutnicki 2005) are among the roots.
    for (x, fv) in [
        ([0.0898, -0.7126], -1.0316),
        ([-0.0898, 0.7126], -1.0316),
        ([1.7036, -0.7961], -0.2155),
        ([-1.7036, 0.7961], -0.2155),
        ([1.6071, 0.5687], 2.1043),
        ([-1.6071, -0.5687], 2.1043),
    ] {
        let k = known
            .iter()
            .find(|k| (k.x[0] - x[0]).abs() < 1e-4 && (k.x[1] - x[1]).abs() < 1e-4)
            .unwrap_or_else(|| panic!("root finder misses tabulated minimum {x:?}"));
        assert!((k.f - fv).abs() < 1e-4 && k.index == 0, "{k:?}");
    }
    let count = |i| known.iter().filter(|k| k.index == i).count();
    assert_eq!((count(0), count(1), count(2)), (6, 7, 2), "{known:#?}");

    let (_, rows) = sample(
        "camel6",
        "camel6",
        "gradnorm:lr=0.002",
        &[
            "--walkers",
            "1024",
            "--steps",
            "20000",
            "--grad-tol",
            "1e-3",
        ],
    );
    assert_catalogue_matches(&rows, &known, 1e-7, "camel6");
}

#[test]
fn muller_brown_minima_and_saddles() {
    // Müller & Brown (1979): f = Σ A_k exp(a_k (x-x_k)² + b_k (x-x_k)(y-y_k) + c_k (y-y_k)²).
    const A: [f64; 4] = [-200.0, -100.0, -170.0, 15.0];
    const AA: [f64; 4] = [-1.0, -1.0, -6.5, 0.7];
    const B: [f64; 4] = [0.0, 0.0, 11.0, 0.6];
    const C: [f64; 4] = [-10.0, -10.0, -6.5, 0.7];
    const X0: [f64; 4] = [1.0, 0.0, -0.5, -1.0];
    const Y0: [f64; 4] = [0.0, 0.5, 1.5, 1.0];
    let terms = |x: f64, y: f64| {
        (0..4).map(move |k| {
            let (dx, dy) = (x - X0[k], y - Y0[k]);
            let e = A[k] * (AA[k] * dx * dx + B[k] * dx * dy + C[k] * dy * dy).exp();
            let px = 2.0 * AA[k] * dx + B[k] * dy;
            let py = B[k] * dx + 2.0 * C[k] * dy;
            (e, px, py, k)
        })
    };
    let f = |x: f64, y: f64| terms(x, y).map(|t| t.0).sum::<f64>();
    let grad = |x: f64, y: f64| {
        terms(x, y).fold(Vector2::zeros(), |g, (e, px, py, _)| {
            g + Vector2::new(e * px, e * py)
        })
    };
    let hess = |x: f64, y: f64| {
        terms(x, y).fold(Matrix2::zeros(), |h, (e, px, py, k)| {
            h + e * Matrix2::new(
                px * px + 2.0 * AA[k],
                px * py + B[k],
                px * py + B[k],
                py * py + 2.0 * C[k],
            )
        })
    };
    let known = roots_2d(f, grad, hess, (-1.5, 1.2), (-0.5, 2.0));
    // The tabulated stationary points: minima MA, MB, MC and saddles S1, S2.
    let tab: [([f64; 2], f64, usize); 5] = [
        ([-0.558, 1.442], -146.70, 0),
        ([0.623, 0.028], -108.17, 0),
        ([-0.050, 0.467], -80.77, 0),
        ([0.212, 0.293], -72.25, 1),
        ([-0.822, 0.624], -40.66, 1),
    ];
    assert_eq!(known.len(), tab.len(), "{known:#?}");
    for (x, fv, index) in tab {
        assert!(
            known.iter().any(|k| (k.x[0] - x[0]).abs() < 1e-3
                && (k.x[1] - x[1]).abs() < 1e-3
                && (k.f - fv).abs() < 1e-2
                && k.index == index),
            "tabulated {x:?} not among the roots {known:#?}"
        );
    }
    // The wells are stiff: λ_max(H) = 4068 at MA, so gradnorm needs lr < 2/λ² ≈ 1.2e-7; the
    // clip bounds the first steps in the steep walls at lr·clip = 4e-3. Walkers that start on
    // the flat outer plateau stall there as max_steps and never enter the catalogue.
    let (_, rows) = sample(
        "muller-brown",
        "muller-brown",
        "gradnorm:lr=4e-8,clip=100000",
        &[
            "--walkers",
            "768",
            "--steps",
            "200000",
            "--grad-tol",
            "1e-2",
        ],
    );
    assert_catalogue_matches(&rows, &known, 1e-7, "muller-brown");

    // The `newton` finder mode (undamped Newton on ∇f = 0, CPU twin) needs no step size: it
    // converges to whichever critical point is near, of any index, whatever the stiffness.
    let (_, rows) = sample(
        "muller-brown-newton",
        "muller-brown",
        "newton:damping=0",
        &["--walkers", "512", "--steps", "200", "--grad-tol", "1e-6"],
    );
    assert_catalogue_matches(&rows, &known, 1e-7, "muller-brown, newton finder");
}

#[test]
fn spherical_two_spin_points_are_the_coupling_eigenvectors() {
    let n = 6;
    let spec = "pspin:p=2,n=6,seed=3";
    let (out, rows) = sample(
        "pspin2",
        spec,
        "gradnorm:lr=0.05",
        &[
            "--walkers",
            "1024",
            "--steps",
            "20000",
            "--grad-tol",
            "1e-4",
        ],
    );
    // H(x) = c xᵀJx is quadratic, so its Euclidean Hessian (anywhere) is 2cJ: decompose it
    // independently. On |x|² = N the critical points are ±√N v_k with H = N λ_k / 2 for the
    // eigenpairs (λ_k, v_k) of 2cJ, and the k-th smallest (k from 1) has index k-1.
    let obj = saddlescope::objective::parse(spec).unwrap();
    let h: DMatrix<f64> = obj.hessian(&vec![0.3; n]);
    let eig = SymmetricEigen::new(h);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| eig.eigenvalues[a].total_cmp(&eig.eigenvalues[b]));
    let bytes = std::fs::read(out.join("critical_points.npy")).unwrap();
    let (_, shape, raw) = saddlescope::output::read_npy(&bytes).unwrap();
    assert_eq!(shape, vec![2 * n, n]);
    let pts: Vec<f64> = raw
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let mut matched = vec![false; rows.len()];
    for (k, &j) in order.iter().enumerate() {
        let v = eig.eigenvectors.column(j);
        for sign in [1.0, -1.0] {
            let want: Vec<f64> = v.iter().map(|&vi| sign * (n as f64).sqrt() * vi).collect();
            let r = (0..rows.len())
                .find(|&r| (0..n).all(|i| (pts[r * n + i] - want[i]).abs() < 1e-6))
                .unwrap_or_else(|| panic!("eigenvector {k} (sign {sign}) not found"));
            assert!(!matched[r]);
            matched[r] = true;
            assert_eq!(rows[r].index, k, "{:?}", rows[r]);
            let fe = n as f64 * eig.eigenvalues[j] / 2.0;
            assert!(
                (rows[r].f - fe).abs() < 1e-9 * (1.0 + fe.abs()),
                "{:?}",
                rows[r]
            );
            assert_eq!(rows[r].kind, kind_of(k, n - 1));
        }
    }
}

#[test]
fn flat_well_plateau_is_degenerate_and_unfinished_walkers_get_no_point() {
    // flat-well: f = Σ max(|x_i|-1, 0)², flat (f = 0, H = 0) on the cube [-1,1]^N. Walkers that
    // start inside stop at once with zero gradient; the Hessian there has no curvature at all.
    let (out, rows) = sample(
        "flat",
        "flat-well:n=3",
        "gd:lr=0.1",
        &[
            "--walkers",
            "200",
            "--steps",
            "2000",
            "--init",
            "uniform:lo=-0.9,hi=0.9",
        ],
    );
    assert!(!rows.is_empty());
    for r in &rows {
        assert_eq!((r.kind.as_str(), r.n_zero), ("degenerate", 3), "{r:?}");
        assert_eq!(r.f, 0.0);
    }
    let walkers = std::fs::read_to_string(out.join("walkers.csv")).unwrap();
    assert_eq!(
        walkers
            .lines()
            .filter(|l| l.ends_with(",converged,"))
            .count(),
        0
    );

    // Unconverged (max_steps) and diverged walkers never become points: GD with too large a
    // step diverges on the walls; a 3-step budget leaves the others unconverged.
    let (out, rows) = sample(
        "unfinished",
        "double-well:n=2",
        "gd:lr=0.01",
        &["--walkers", "64", "--steps", "3"],
    );
    assert!(rows.is_empty(), "{rows:#?}");
    let walkers = std::fs::read_to_string(out.join("walkers.csv")).unwrap();
    assert!(walkers.lines().skip(1).all(|l| l.ends_with(",max_steps,")));
    let (out, rows) = sample(
        "diverged",
        "rastrigin:n=2",
        "gd:lr=10",
        &["--walkers", "64", "--steps", "200", "--bound", "100"],
    );
    let walkers = std::fs::read_to_string(out.join("walkers.csv")).unwrap();
    let diverged: Vec<&str> = walkers
        .lines()
        .filter(|l| l.contains(",diverged,"))
        .collect();
    assert!(!diverged.is_empty(), "{walkers}");
    assert!(diverged.iter().all(|l| l.ends_with(",diverged,")));
    assert_eq!(
        rows.iter().map(|r| r.walkers).sum::<usize>(),
        walkers
            .lines()
            .filter(|l| l.contains(",converged,"))
            .count()
    );
}

#[test]
fn tolerance_flags_reach_the_classification() {
    // At Himmelblau's minimum (3, 2) the Hessian eigenvalues are 25.7 and 82.3 (ratio 0.31):
    // a minimum at the default zero tolerance, degenerate when |λ| ≤ 0.5 · max|λ| counts as zero.
    let one = ["--walkers", "4", "--steps", "10", "--init", "point:x=3;2"];
    let (_, rows) = sample("tol-default", "himmelblau", "gd:lr=0.001", &one);
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].kind.as_str(), rows[0].n_zero), ("minimum", 0));
    let mut args = one.to_vec();
    args.extend(["--zero-eig-tol", "0.5"]);
    let (out, rows) = sample("tol-loose", "himmelblau", "gd:lr=0.001", &args);
    assert_eq!((rows[0].kind.as_str(), rows[0].n_zero), ("degenerate", 1));
    let m = manifest(&out);
    assert_eq!(m["resolved"]["catalogue"]["classify"]["zero_tol"], 0.5);
    for (flag, bad) in [
        ("--zero-eig-tol", "0"),
        ("--cluster-tol", "2"),
        ("--polish-tol", "nan"),
    ] {
        let out = tmp("tol-bad");
        let o = run(&[
            "sample",
            "--objective",
            "himmelblau",
            "--optimizer",
            "gd",
            "--out",
            out.to_str().unwrap(),
            flag,
            bad,
        ]);
        assert_eq!(o.status.code(), Some(2), "{flag} {bad}");
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.contains(&flag[2..]) && e.contains("valid"), "{e}");
        assert!(!out.exists(), "nothing written for a usage error");
    }
}

/// sample with gd at its default step on Müller-Brown (curvature ~3.6e4 over the default
/// start domain) diverges from every start; the run walks again from the same starts at
/// lr = 1/(2 curvature), says so, and finds the three minima. An lr the user gives is kept.
#[test]
fn sample_lowers_a_default_step_that_diverges_everywhere() {
    let out = tmp("default-step");
    let o = out.to_str().unwrap();
    let base = [
        "sample",
        "--objective",
        "muller-brown",
        "--walkers",
        "256",
        "--out",
        o,
    ];
    let r = run(&[&base[..], &["--optimizer", "gd"]].concat());
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(
        stdout.contains("walking again from the same starts"),
        "{stdout}"
    );
    let m = manifest(&out);
    let used = m["resolved"]["optimizer"].as_str().unwrap();
    assert!(
        used.starts_with("gd:lr=") && !used.starts_with("gd:lr=0.01,"),
        "{used}"
    );
    assert_eq!(m["status_counts"]["converged"], 256, "{stdout}");
    assert_eq!(
        m["critical_points"]["points_by_kind"],
        serde_json::json!({"minimum": 3}),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&out);
    let r = run(&[&base[..], &["--optimizer", "gd:lr=0.01"]].concat());
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(!stdout.contains("walking again"), "{stdout}");
    assert!(stdout.contains("try lr="), "{stdout}");
    assert_eq!(manifest(&out)["status_counts"]["converged"], 0);
    let _ = std::fs::remove_dir_all(&out);
}
