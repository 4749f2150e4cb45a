//! Counts that say how complete they are, end to end: the coverage (points found once and
//! twice, the Chao1 estimate and its interval) of `sample` and `sweep` on landscapes whose
//! number of critical points is known, with walkers too few to find them all; and the symmetry
//! check of the odd-p spherical p-spin.

mod common;

use common::cli::{manifest, num, ok, run, table, tmp};

/// `double-well:n=4` has exactly 3^4 = 81 critical points: x_i ∈ {−1, 0, 1}, the index the
/// number of zeros, so C(4, k)·2^(4−k) = 16, 32, 24, 8, 1 of index 0..4. Undamped Newton from
/// uniform starts in [−1.2, 1.2]^4 splits each coordinate's starts about equally between
/// −1, 0 and 1, so the points are reached about equally often. 100 walkers find 54 of them,
/// and most of those once: the summary warns, and the estimate's interval holds 81 overall and
/// the true count of every index. 3000 walkers find all 81 and the estimate is exact.
#[test]
fn double_well_estimate_brackets_its_81_points() {
    let per_index = [16.0, 32.0, 24.0, 8.0, 1.0];
    let walk = |out: &std::path::Path, walkers: &str| {
        run(&[
            "sample",
            "--objective",
            "double-well:n=4",
            "--optimizer",
            "newton:damping=0",
            "--steps",
            "200",
            "--init",
            "uniform:lo=-1.2,hi=1.2",
            "--seed",
            "1",
            "--backend",
            "cpu",
            "--walkers",
            walkers,
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let out = tmp("double-well");
    let o = walk(&out, "100");
    ok(&o);
    let c = &manifest(&out)["coverage"];
    let (found, lo, hi) = (
        c["found"].as_f64().unwrap(),
        c["estimated_lo"].as_f64().unwrap(),
        c["estimated_hi"].as_f64().unwrap(),
    );
    let est = c["estimated"].as_f64().unwrap();
    eprintln!("found {found}, estimated {est} [{lo}, {hi}]");
    assert!(found < 81.0, "all points found: walkers are not too few");
    assert!(lo <= 81.0 && 81.0 <= hi, "{c}");
    assert!(
        est > found + 10.0,
        "the estimate adds little to the count: {c}"
    );
    for b in c["by_index"].as_array().unwrap() {
        let i = b["index"].as_u64().unwrap() as usize;
        let (lo, hi) = (
            b["estimated_lo"].as_f64().unwrap(),
            b["estimated_hi"].as_f64().unwrap(),
        );
        assert!(lo <= per_index[i] && per_index[i] <= hi, "index {i}: {b}");
    }
    // f1 and f2 are the catalogue's points reached by one and by two walkers.
    let points = table(&out.join("critical_points.csv"));
    let with = |w: f64| points.iter().filter(|p| num(p, "walkers") == w).count();
    assert_eq!(c["found_once"].as_u64().unwrap() as usize, with(1.0));
    assert_eq!(c["found_twice"].as_u64().unwrap() as usize, with(2.0));
    assert!(c["mostly_found_once"].as_bool().unwrap());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("warning:")
            && stderr.contains("incomplete")
            && stderr.contains("--walkers"),
        "{stderr}"
    );
    // No symmetry check for a landscape that is not odd.
    assert!(manifest(&out).get("symmetry").is_none());

    // Enough walkers: every point found many times, nothing left to estimate, no warning.
    let out = tmp("double-well-all");
    let o = walk(&out, "3000");
    ok(&o);
    let c = &manifest(&out)["coverage"];
    assert_eq!(c["found"], 81);
    assert_eq!(
        (c["estimated"].as_f64(), c["estimated_lo"].as_f64()),
        (Some(81.0), Some(81.0))
    );
    assert!(c["estimated_hi"].as_f64().unwrap() < 81.5, "{c}");
    assert!(!String::from_utf8_lossy(&o.stderr).contains("warning:"));
}

/// Kac–Rice: the spherical 3-spin at N = 2 has on average 2√7 ≈ 5.29 critical points per
/// instance (√7 minima and √7 maxima). With 12 walkers per instance (the request's Kac–Rice
/// test, `three_spin_on_the_circle_has_two_root_seven_critical_points` in tests/sweep.rs, uses
/// 64 to find them all) the 200 instances average about 4.8 points found, several standard
/// errors short of 2√7; the estimate per instance, Chao1 on the counts pooled over instances,
/// must hold 2√7 in its 95% interval, overall and for minima and maxima apart.
#[test]
fn three_spin_estimate_covers_two_root_seven_with_too_few_walkers() {
    let out = tmp("kacrice");
    let o = run(&[
        "sweep",
        "--out",
        out.to_str().unwrap(),
        "--objective",
        "pspin:p=3",
        "--dims",
        "2",
        "--instances",
        "200",
        "--walkers",
        "12",
        "--optimizer",
        "gradnorm:lr=0.01",
        "--steps",
        "6000",
        "--grad-tol",
        "5e-2",
        "--seed",
        "11",
        "--backend",
        "cpu",
    ]);
    ok(&o);
    let expected = 2.0 * 7f64.sqrt();
    let text = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    assert!(text.lines().next().unwrap().ends_with(
        ",walkers,converged,walkers_at_points,points_found_once,points_estimated,points_estimated_lo,points_estimated_hi"
    ));
    let row = &table(&out.join("sweep.csv"))[0];
    let (found, se) = (
        num(row, "points_per_instance"),
        num(row, "points_per_instance_se"),
    );
    let (est, lo, hi) = (
        num(row, "points_estimated"),
        num(row, "points_estimated_lo"),
        num(row, "points_estimated_hi"),
    );
    eprintln!("found {found} ± {se}, estimated {est} [{lo}, {hi}], expected {expected}");
    assert!(
        found + 3.0 * se < expected,
        "points are not missed: {row:?}"
    );
    assert!(lo <= expected && expected <= hi, "{row:?}");
    assert!(num(row, "points_found_once") > 0.0);
    // Per index (by_index.csv): √7 minima and √7 maxima per instance.
    let by = table(&out.join("by_index.csv"));
    assert_eq!(by.len(), 2);
    for r in &by {
        let (lo, hi) = (
            num(r, "estimated_per_instance_lo"),
            num(r, "estimated_per_instance_hi"),
        );
        assert!(num(r, "count_per_instance") < 7f64.sqrt(), "{r:?}");
        assert!(lo <= 7f64.sqrt() && 7f64.sqrt() <= hi, "{r:?}");
    }
    // Each instance's own estimate, in instances.csv, is at least what it found.
    let insts = table(&out.join("instances.csv"));
    assert_eq!(insts.len(), 200);
    for r in &insts {
        assert!(num(r, "points_estimated_lo") >= num(r, "points"), "{r:?}");
        assert!(
            num(r, "points_estimated_hi") >= num(r, "points_estimated"),
            "{r:?}"
        );
    }
    // The manifest says how the instances were combined; H(−x) = −H(x) is checked.
    let m = manifest(&out);
    assert!(m["coverage"]["aggregation"]
        .as_str()
        .unwrap()
        .contains("delta method"));
    let sym = &m["symmetry"]["2"];
    assert_eq!(sym["hessian_dim"], 1);
    assert_eq!(sym["completed"], false);
    let (mn, mx) = (
        sym["minima"].as_u64().unwrap(),
        sym["maxima"].as_u64().unwrap(),
    );
    assert_eq!(mn + mx, (found * 200.0).round() as u64);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("symmetry f(-x) = -f(x)"), "{stdout}");
}

/// The odd-p p-spin's symmetry check: with walkers enough to find every critical point of
/// pspin:p=3,n=3 (six: two minima, two saddles, two maxima), minima and maxima are equally
/// many and every point's mirror −x was found; the even-p p-spin has no such check.
#[test]
fn odd_p_spin_reports_its_mirror_symmetry() {
    let sample = |spec: &str, name: &str| {
        let out = tmp(name);
        let o = run(&[
            "sample",
            "--objective",
            spec,
            "--optimizer",
            "gradnorm:lr=0.01",
            "--walkers",
            "2000",
            "--steps",
            "6000",
            "--grad-tol",
            "5e-2",
            "--seed",
            "1",
            "--backend",
            "cpu",
            "--out",
            out.to_str().unwrap(),
        ]);
        ok(&o);
        (
            manifest(&out),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    };
    let (m, stdout) = sample("pspin:p=3,n=3,seed=4", "odd");
    let s = &m["symmetry"];
    assert_eq!(
        (s["hessian_dim"].as_u64(), s["points"].as_u64()),
        (Some(2), Some(6))
    );
    assert_eq!(
        (s["minima"].as_u64(), s["maxima"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(s["mirrored"], 6);
    assert_eq!(
        (s["balanced"].as_bool(), s["completed"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(s["middle_index"]["found"], 2);
    assert!(stdout.contains("minima 2 vs maxima 2"), "{stdout}");
    assert!(stdout.contains("not completed by the symmetry"), "{stdout}");
    assert_eq!(m["coverage"]["found"], 6);
    let (m, stdout) = sample("pspin:p=2,n=3,seed=4", "even");
    assert!(m.get("symmetry").is_none() && !stdout.contains("symmetry"));
}
