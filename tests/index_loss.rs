//! Index against loss end to end: `sample` writes index_vs_loss.csv, index_loss_fit.csv,
//! eigenvalue_density.csv and their figures; `plot` redraws them after checking the tables;
//! `sweep` over mlp widths gives N (the parameter count) per row and the figure across widths.

mod common;

use common::cli::{manifest, num, ok, run, table, tmp};

fn figures(dir: &std::path::Path) -> Vec<String> {
    ["index_vs_loss", "eigenvalue_density"]
        .iter()
        .flat_map(|s| [format!("{s}.png"), format!("{s}.svg")])
        .filter(|f| dir.join(f).exists())
        .collect()
}

/// double-well:n=4 has 81 critical points: k coordinates at the hump give f = k and index k.
#[test]
fn sample_writes_index_against_loss_and_plot_redraws_it_after_checking() {
    let dir = tmp("index-loss-sample");
    let o = run(&[
        "sample",
        "--objective",
        "double-well:n=4",
        "--optimizer",
        "newton-mr",
        "--walkers",
        "3000",
        "--steps",
        "60",
        "--init",
        "uniform:lo=-1.6,hi=1.6",
        "--backend",
        "cpu",
        "--out",
        dir.to_str().unwrap(),
    ]);
    ok(&o);
    let cp = table(&dir.join("critical_points.csv"));
    let rows = table(&dir.join("index_vs_loss.csv"));
    assert!(cp.len() > 40, "{} points", cp.len());
    assert_eq!(rows.len(), cp.len());
    for (r, c) in rows.iter().zip(&cp) {
        for col in ["id", "f", "index", "kind", "walkers"] {
            assert_eq!(r[col], c[col], "{col}");
        }
        assert_eq!(num(r, "n"), 4.0);
        assert_eq!(num(r, "index_fraction"), num(r, "index") / 4.0);
        // The landscape's own relation: f = index at every point.
        assert!((num(r, "f") - num(r, "index")).abs() < 1e-9, "{r:?}");
    }
    let fit = table(&dir.join("index_loss_fit.csv"));
    assert_eq!(fit.len(), 1);
    let m = manifest(&dir);
    assert_eq!(
        m["index_vs_loss"]["fit"].as_str(),
        Some(fit[0]["fit"].as_str())
    );
    assert_eq!(num(&fit[0], "n"), 4.0);
    assert_eq!(m["eigenvalue_density"], serde_json::json!(true));
    let dens = table(&dir.join("eigenvalue_density.csv"));
    let groups: std::collections::BTreeSet<&str> =
        dens.iter().map(|r| r["group"].as_str()).collect();
    assert!(
        groups.contains("minimum") && groups.contains("saddle"),
        "{groups:?}"
    );
    // The minima's eigenvalues are all 8 (f'' = 12x² − 4 at x = ±1): one bin holds them.
    let minima: Vec<_> = dens.iter().filter(|r| r["group"] == "minimum").collect();
    let full: Vec<_> = minima.iter().filter(|r| num(r, "count") > 0.0).collect();
    assert_eq!(full.len(), 1);
    assert!(num(full[0], "bin_lo") <= 8.0 && 8.0 <= num(full[0], "bin_hi"));
    assert_eq!(figures(&dir).len(), 4);

    // plot redraws both figures from the tables.
    for f in figures(&dir) {
        std::fs::remove_file(dir.join(f)).unwrap();
    }
    ok(&run(&["plot", dir.to_str().unwrap()]));
    assert_eq!(figures(&dir).len(), 4);

    // A table that does not match the catalogue is refused, naming its line, and nothing is
    // drawn.
    for f in figures(&dir) {
        std::fs::remove_file(dir.join(f)).unwrap();
    }
    let path = dir.join("index_vs_loss.csv");
    let good = std::fs::read_to_string(&path).unwrap();
    let damaged = [
        // index_fraction that is not index / n
        (2, 4, "0.3", "index_fraction = 0.3"),
        // an n the Hessian cannot have
        (3, 3, "7", "n = 7"),
        // a kind that is not critical_points.csv's
        (4, 5, "maximum", "kind"),
    ];
    for (line, col, value, want) in damaged {
        let text: Vec<String> = good
            .lines()
            .enumerate()
            .map(|(i, l)| {
                if i + 1 != line {
                    return l.to_string();
                }
                let mut f: Vec<&str> = l.split(',').collect();
                f[col] = value;
                f.join(",")
            })
            .collect();
        std::fs::write(&path, text.join("\n") + "\n").unwrap();
        let o = run(&["plot", dir.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(
            err.contains(&format!("index_vs_loss.csv line {line}")) && err.contains(want),
            "{err}"
        );
        assert!(figures(&dir).is_empty(), "drawn before every check");
    }
    std::fs::write(&path, &good).unwrap();
    // eigenvalues.npy of the wrong shape is refused too.
    let ev = dir.join("eigenvalues.npy");
    let bytes = std::fs::read(&ev).unwrap();
    std::fs::write(&ev, &bytes[..bytes.len() - 8]).unwrap();
    let o = run(&["plot", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("eigenvalues.npy"));
    std::fs::write(&ev, &bytes).unwrap();
    ok(&run(&["plot", dir.to_str().unwrap()]));
    let _ = std::fs::remove_dir_all(&dir);
}

/// --dims sets the hidden width: 2-d-d-1 has N = d² + 5d + 1 parameters.
#[test]
fn sweep_over_mlp_widths_gives_the_parameter_count_per_row() {
    let dir = tmp("index-loss-sweep");
    let o = run(&[
        "sweep",
        "--objective",
        "mlp:widths=2-5-5-1,samples=12,l2=0.001",
        "--dims",
        "2,1",
        "--instances",
        "2",
        "--walkers",
        "24",
        "--steps",
        "60",
        "--backend",
        "cpu",
        "--out",
        dir.to_str().unwrap(),
    ]);
    ok(&o);
    let n_of = |d: f64| d * d + 5.0 * d + 1.0;
    // N per dimension: index_loss_fit.csv's dim and n.
    let fits = table(&dir.join("index_loss_fit.csv"));
    assert_eq!(fits.len(), 2);
    for r in &fits {
        assert_eq!(num(r, "n"), n_of(num(r, "dim")), "{r:?}");
    }
    let points = table(&dir.join("points.csv"));
    assert!(!points.is_empty());
    for p in &points {
        let n = n_of(num(p, "dim"));
        assert!(num(p, "index") <= n);
        assert!((num(p, "f_per_dim") - num(p, "f") / n).abs() <= 1e-12 * num(p, "f").abs());
        assert!((num(p, "index_fraction") - num(p, "index") / n).abs() < 1e-12);
    }
    // Every width of instance k trains on the same data: one seed per instance.
    let inst = table(&dir.join("instances.csv"));
    for k in ["0", "1"] {
        let seeds: Vec<&str> = inst
            .iter()
            .filter(|r| r["instance"] == k)
            .map(|r| r["seed"].as_str())
            .collect();
        assert_eq!(seeds.len(), 2);
        assert_eq!(seeds[0], seeds[1]);
    }
    let m = manifest(&dir);
    let example = m["resolved"]["objective_example"].as_str().unwrap();
    assert!(
        example.contains("widths=2-1-1-1") && example.contains("teacher=2-5-5-1"),
        "{example}"
    );
    assert_eq!(
        fits.iter()
            .map(|r| (num(r, "dim"), num(r, "n")))
            .collect::<Vec<_>>(),
        vec![(1.0, 7.0), (2.0, 15.0)]
    );
    assert!(dir.join("index_vs_loss.png").exists());
    std::fs::remove_file(dir.join("index_vs_loss.png")).unwrap();
    ok(&run(&["plot", dir.to_str().unwrap()]));
    assert!(dir.join("index_vs_loss.png").exists());
    let _ = std::fs::remove_dir_all(&dir);

    // A network without a hidden layer has no width to sweep.
    let o = run(&["sweep", "--objective", "mlp:widths=2-1", "--dims", "2"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no hidden layer"));
}
