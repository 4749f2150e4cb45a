//! The network loss with every default: `sample --objective mlp` (newton-mr after the network's
//! descent, weight decay l2 = 1e-3) finds nondegenerate minima and saddles at several losses,
//! and the Pennington–Bahri fit of index against loss applies to them.

mod common;

use common::cli::{manifest, npy_f64, num, ok, run, table, tmp};

/// Distinct values among `v`, relative tolerance 1e-9 (copies of a point under the hidden
/// units' permutations and signs share their loss to rounding).
fn distinct(v: &[f64]) -> usize {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let scale = s.iter().fold(0f64, |m, x| m.max(x.abs()));
    s.windows(2).filter(|w| w[1] - w[0] > 1e-9 * scale).count() + usize::from(!s.is_empty())
}

fn sample(dir: &std::path::Path, extra: &[&str]) {
    let mut args = vec![
        "sample",
        "--objective",
        "mlp",
        "--walkers",
        "32",
        "--backend",
        "cpu",
        "--out",
        dir.to_str().unwrap(),
    ];
    args.extend(extra);
    ok(&run(&args));
}

#[test]
fn the_default_network_gives_minima_saddles_and_the_index_loss_fit() {
    let dir = tmp("mlp-defaults");
    sample(&dir, &[]);
    let m = manifest(&dir);
    let resolved = &m["resolved"];
    assert!(
        resolved["optimizer"]
            .as_str()
            .unwrap()
            .starts_with("newton-mr"),
        "{resolved}"
    );
    assert!(resolved["descent"]["optimizer"].is_string(), "{resolved}");
    assert!(m["descent"]["status_counts"].is_object(), "{m}");

    // Every minimum and saddle is nondegenerate by its own eigenvalues: none within the zero
    // band (1e-6 of the largest), all positive at minima, some negative at saddles.
    let cp = table(&dir.join("critical_points.csv"));
    let (shape, eig) = npy_f64(&dir.join("eigenvalues.npy"));
    assert_eq!(shape[0], cp.len());
    let n = shape[1];
    let (mut minima, mut saddles) = (0, 0);
    for (k, row) in cp.iter().enumerate() {
        let ev = &eig[k * n..(k + 1) * n];
        let top = ev.iter().fold(0f64, |a, v| a.max(v.abs()));
        let neg = ev.iter().filter(|v| **v < -1e-6 * top).count();
        let zero = ev.iter().filter(|v| v.abs() <= 1e-6 * top).count();
        match row["kind"].as_str() {
            "minimum" => {
                assert_eq!((neg, zero), (0, 0), "point {k}: {ev:?}");
                minima += 1;
            }
            "saddle" => {
                assert!(neg > 0 && zero == 0, "point {k}: {ev:?}");
                assert_eq!(num(row, "index") as usize, neg);
                saddles += 1;
            }
            _ => {}
        }
    }
    assert!(
        minima >= 1 && saddles >= 1,
        "{minima} minima, {saddles} saddles"
    );

    let pts = table(&dir.join("index_vs_loss.csv"));
    let used: Vec<_> = pts
        .iter()
        .filter(|r| r["kind"] == "minimum" || r["kind"] == "saddle")
        .collect();
    let losses: Vec<f64> = used.iter().map(|r| num(r, "f")).collect();
    assert!(distinct(&losses) >= 4, "{losses:?}");

    let fit = &table(&dir.join("index_loss_fit.csv"))[0];
    assert_eq!(fit["fit"], "fitted", "{fit:?}");
    let (a0, a0_se) = (num(fit, "alpha0"), num(fit, "alpha0_se"));
    let (eps_c, eps_c_se) = (num(fit, "eps_c"), num(fit, "eps_c_se"));
    assert!(a0.is_finite() && a0 > 0.0 && a0_se < a0, "{fit:?}");
    assert!(eps_c.is_finite() && eps_c_se < eps_c.abs(), "{fit:?}");
    // By the form, some saddle lies above ε_c (else no point has α > 0), and ε_c lies within
    // the range the fit searches (one loss span below the lowest point, not at its end).
    let saddle_f = used
        .iter()
        .filter(|r| r["kind"] == "saddle")
        .map(|r| num(r, "f"));
    let top = saddle_f.fold(f64::NEG_INFINITY, f64::max);
    let lo = losses.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = losses.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    assert!(
        eps_c < top && eps_c > lo - (hi - lo),
        "{eps_c} vs {lo}..{top}"
    );
    // A loss is at least 0 (mse plus the decay), and the curve's α at the highest saddle is
    // an index fraction.
    let at_top = a0 * ((top - eps_c) / eps_c.abs()).powf(1.5);
    assert!(eps_c > 0.0 && at_top > 0.0 && at_top <= 1.0, "{fit:?}");
    // The note says when ε_c lies below the lowest minimum (where the curve gives α > 0).
    let lowest_min = used
        .iter()
        .filter(|r| r["kind"] == "minimum")
        .map(|r| num(r, "f"))
        .fold(f64::INFINITY, f64::min);
    assert_eq!(
        fit["note"].contains("below the lowest minimum"),
        eps_c < lowest_min,
        "{fit:?}"
    );

    // The default optimizer is newton-mr: naming it gives the same run.
    let named = tmp("mlp-defaults-named");
    sample(&named, &["--optimizer", "newton-mr"]);
    let read = |d: &std::path::Path| std::fs::read(d.join("critical_points.csv")).unwrap();
    assert_eq!(read(&dir), read(&named));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&named);
}

#[test]
fn descent_flags_are_checked_and_none_walks_the_finder_alone() {
    let dir = tmp("mlp-descent-flags");
    let d = dir.to_str().unwrap();
    for (extra, needle) in [
        (vec!["--descent", "bogus"], "--descent bogus"),
        (
            vec!["--descent", "none", "--descent-steps", "5"],
            "--descent-steps",
        ),
        (vec!["--descent-steps", "0"], "--descent-steps"),
        (
            vec!["--optimizer", "gd", "--descent-steps", "50"],
            "runs no descent before gd",
        ),
        (vec!["--descent", "adam:lr=-1"], "--descent adam:lr=-1"),
    ] {
        let mut args = vec!["sample", "--objective", "mlp", "--out", d];
        args.extend(extra);
        let o = run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!dir.exists(), "{args:?} wrote {d}");
    }
    // Without a finder, auto walks no descent; --descent none neither.
    for extra in [
        vec!["--optimizer", "gd", "--steps", "5"],
        vec!["--descent", "none", "--steps", "5"],
    ] {
        let mut args = vec![
            "sample",
            "--objective",
            "mlp:widths=2-3-1,samples=8",
            "--walkers",
            "4",
            "--backend",
            "cpu",
            "--no-critical",
            "--out",
            d,
        ];
        args.extend(extra);
        ok(&run(&args));
        let m = manifest(&dir);
        assert!(m["resolved"]["descent"].is_null(), "{m}");
        assert!(m.get("descent").is_none(), "{m}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// The descent walks in each shard for its slice of the walkers (its step sizes spread over
/// the whole run's), so the merged shards are the run: the same end states, catalogue and
/// descent counts.
#[test]
fn shards_with_a_descent_merge_into_one_run() {
    let root = tmp("mlp-descent-shards");
    let go = |out: &std::path::Path, shard: Option<&str>| {
        let mut args = vec![
            "sample",
            "--objective",
            "mlp:widths=2-3-1,samples=16",
            "--walkers",
            "8",
            "--steps",
            "200",
            "--descent-steps",
            "100",
            "--backend",
            "cpu",
            "--out",
            out.to_str().unwrap(),
        ];
        if let Some(k) = shard {
            args.extend(["--shard", k]);
        }
        ok(&run(&args));
    };
    let (one, a, b, merged) = (
        root.join("one"),
        root.join("a"),
        root.join("b"),
        root.join("merged"),
    );
    go(&one, None);
    go(&a, Some("1/2"));
    go(&b, Some("2/2"));
    ok(&run(&[
        "merge",
        "--out",
        merged.to_str().unwrap(),
        b.to_str().unwrap(),
        a.to_str().unwrap(),
    ]));
    for f in [
        "end_states.npy",
        "starts.npy",
        "critical_points.csv",
        "walkers.csv",
    ] {
        let read = |d: &std::path::Path| std::fs::read(d.join(f)).unwrap();
        assert_eq!(read(&one), read(&merged), "{f}");
    }
    let (m1, mm) = (manifest(&one), manifest(&merged));
    assert_eq!(
        m1["descent"]["status_counts"],
        mm["descent"]["status_counts"]
    );
    assert_eq!(m1["resolved"]["descent"], mm["resolved"]["descent"]);
    let _ = std::fs::remove_dir_all(&root);
}

/// `sweep` over the hidden width runs the network's descent before newton-mr by default, as
/// `sample` does: each width's walkers descend first (every walker of every instance counted
/// once), the finder starts where they ended, and `--descent none` walks the finder alone from
/// the starts. Shards, each descending its own instances, merge into the one sweep.
#[test]
fn sweep_runs_the_descent_before_the_finder_and_its_shards_merge_into_one_sweep() {
    let root = tmp("mlp-sweep-descent");
    let go = |out: &std::path::Path, extra: &[&str]| {
        let mut args = vec![
            "sweep",
            "--objective",
            "mlp:widths=2-3-1,samples=16",
            "--dims",
            "2,3",
            "--instances",
            "2",
            "--walkers",
            "8",
            "--steps",
            "200",
            "--backend",
            "cpu",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend(extra);
        run(&args)
    };
    let one = root.join("one");
    let o = go(&one, &["--descent-steps", "100"]);
    ok(&o);
    let stdout = String::from_utf8_lossy(&o.stdout);
    let m = manifest(&one);
    assert_eq!(m["resolved"]["descent"]["steps"], 100, "{}", m["resolved"]);
    assert!(m["resolved"]["descent"]["optimizer"]
        .as_str()
        .unwrap()
        .starts_with("adam"));
    for d in ["2", "3"] {
        let c = &m["descent"]["per_dim"][d];
        let total: u64 = ["converged", "max_steps", "diverged"]
            .iter()
            .map(|k| c[k].as_u64().unwrap())
            .sum();
        assert_eq!(total, 16, "width {d}: {c}");
        assert!(
            stdout.contains(&format!(
                "N =    {d}: descent before newton-mr: 100 steps of adam"
            )),
            "{stdout}"
        );
    }
    // The finder alone, from the starts, ends elsewhere.
    let none = root.join("none");
    ok(&go(&none, &["--descent", "none"]));
    let mn = manifest(&none);
    assert!(mn["resolved"]["descent"].is_null(), "{}", mn["resolved"]);
    assert!(mn.get("descent").is_none());
    let points = |d: &std::path::Path| std::fs::read_to_string(d.join("points.csv")).unwrap();
    assert_ne!(points(&one), points(&none));
    // --descent-steps without a descent is a usage error.
    let o = run(&[
        "sweep",
        "--objective",
        "mlp:widths=2-3-1,samples=16",
        "--dims",
        "2",
        "--descent",
        "none",
        "--descent-steps",
        "10",
        "--out",
        root.join("refused").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--descent-steps"));

    let (a, b, merged) = (root.join("a"), root.join("b"), root.join("merged"));
    ok(&go(&a, &["--descent-steps", "100", "--shard", "1/2"]));
    ok(&go(&b, &["--descent-steps", "100", "--shard", "2/2"]));
    ok(&run(&[
        "merge",
        "--out",
        merged.to_str().unwrap(),
        b.to_str().unwrap(),
        a.to_str().unwrap(),
    ]));
    assert_eq!(points(&one), points(&merged));
    let mm = manifest(&merged);
    for d in ["2", "3"] {
        for k in ["converged", "max_steps", "diverged"] {
            assert_eq!(
                m["descent"]["per_dim"][d][k], mm["descent"]["per_dim"][d][k],
                "width {d} {k}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&root);
}
