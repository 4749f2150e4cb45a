//! `saddlescope basins` end to end through the command line, on small grids (lavapipe-sized).

mod common;

use std::path::Path;

use common::cli::{manifest, npy_f64, npy_i32, run, run_ok_stdout, tmp};

fn labels(dir: &Path) -> (Vec<usize>, Vec<i32>) {
    npy_i32(&dir.join("labels.npy"))
}

/// basins.csv rows as (label, walkers, fraction, f, index, kind, coordinates).
type Row = (i32, usize, f64, f64, String, String, Vec<f64>);

fn basins_csv(dir: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(dir.join("basins.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("label,walkers,fraction,f,index,kind"),
        "{header}"
    );
    lines
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (
                c[0].parse().unwrap(),
                c[1].parse().unwrap(),
                c[2].parse().unwrap(),
                c[3].parse().unwrap_or(f64::NAN),
                c[4].to_string(),
                c[5].to_string(),
                c[6..].iter().filter_map(|v| v.parse().ok()).collect(),
            )
        })
        .collect()
}

/// Pixel (i, j) holding slice point (s, t), computed from the extent as documented in README:
/// columns left to right over [x0, x1], rows top to bottom over [y1, y0].
fn pixel_of(m: &serde_json::Value, s: f64, t: f64) -> (usize, usize) {
    let e = &m["plane"]["extent"];
    let (x0, x1, y0, y1) = (
        e["x0"].as_f64().unwrap(),
        e["x1"].as_f64().unwrap(),
        e["y0"].as_f64().unwrap(),
        e["y1"].as_f64().unwrap(),
    );
    let w = m["grid"]["width"].as_u64().unwrap() as f64;
    let h = m["grid"]["height"].as_u64().unwrap() as f64;
    (
        ((s - x0) / (x1 - x0) * w).floor() as usize,
        ((y1 - t) / (y1 - y0) * h).floor() as usize,
    )
}

#[test]
fn double_well_basins_are_the_four_quadrants() {
    let out = tmp("dw");
    let stdout = run_ok_stdout(&[
        "basins",
        "--objective",
        "double-well:n=2",
        "--optimizer",
        "gd:lr=0.05",
        "--resolution",
        "32",
        "--extent=-2,2",
        "--steps",
        "2000",
        "--box",
        "4",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(stdout.contains("basin entropy S_b"), "{stdout}");
    // 64 boxes of 4 x 4 px, none on a boundary: no verdict either way on the boundary.
    assert!(stdout.contains("too small to judge"), "{stdout}");
    assert!(
        !stdout.contains("is fractal") && !stdout.contains("no evidence"),
        "{stdout}"
    );
    let (shape, l) = labels(&out);
    assert_eq!(shape, vec![32, 32]);
    // Quadrant of pixel (i, j): right half i >= 16 has x > 0, top half j < 16 has y > 0.
    let rows = basins_csv(&out);
    assert_eq!(rows.len(), 4, "{rows:?}");
    let mut seen = std::collections::HashMap::new();
    for j in 0..32 {
        for i in 0..32 {
            let q = (i >= 16, j < 16);
            let label = l[j * 32 + i];
            assert!(label >= 0, "pixel ({i}, {j}) reached no attractor");
            assert_eq!(*seen.entry(q).or_insert(label), label, "pixel ({i}, {j})");
        }
    }
    let mut distinct: Vec<i32> = seen.values().copied().collect();
    distinct.sort();
    assert_eq!(distinct, vec![0, 1, 2, 3]);
    for ((right, top), label) in seen {
        let row = rows.iter().find(|r| r.0 == label).unwrap();
        assert_eq!((row.1, row.2), (256, 0.25), "{row:?}");
        assert_eq!(row.5, "minimum");
        // The attractor is the minimum (±1, ±1) of its quadrant.
        let want = [if right { 1.0 } else { -1.0 }, if top { 1.0 } else { -1.0 }];
        assert!(
            (row.6[0] - want[0]).abs() < 1e-9 && (row.6[1] - want[1]).abs() < 1e-9,
            "{row:?}"
        );
    }
    let m = manifest(&out);
    // Boundaries along the axes fall on box edges (4-pixel boxes, 16 pixels a half): S_b = 0.
    let e = &m["statistics"]["entropy"];
    assert_eq!(e["boxes"], 64);
    assert_eq!(e["boundary_boxes"], 0);
    assert_eq!(e["basin_entropy"], 0.0);
    assert_eq!(e["verdict"], "grid_too_small");
    assert_eq!(e["fractal_boundary"], false);
    let fr = &m["statistics"]["fractions"][0];
    let (lo, hi) = (
        fr["ci95"][0].as_f64().unwrap(),
        fr["ci95"][1].as_f64().unwrap(),
    );
    // Wilson 95% interval of 256/1024, evaluated independently.
    assert!(
        (lo - 0.224446).abs() < 1e-6 && (hi - 0.277423).abs() < 1e-6,
        "{lo} {hi}"
    );
    assert_eq!(m["plane"]["mode"], "coordinate");
    assert_eq!(m["grid"]["width"], 32);
    for f in [
        "steps.npy",
        "landscape.npy",
        "attractors.npy",
        "basins.svg",
        "basins_annotated.png",
        "landscape.png",
        "landscape.svg",
        "legend.png",
        "legend.svg",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    // landscape.npy holds f on the pixel centres: pixel (0, 0) is (-1.9375, 1.9375).
    let (_, land) = npy_f64(&out.join("landscape.npy"));
    let c: f64 = 1.9375;
    let want = 2.0 * (c * c - 1.0).powi(2);
    assert!((land[0] - want).abs() < 1e-12, "{} vs {want}", land[0]);
}

#[test]
fn himmelblau_labels_match_the_minima_and_colours_map_one_to_one() {
    let out = tmp("hb");
    run_ok_stdout(&[
        "basins",
        "--objective",
        "himmelblau",
        "--optimizer",
        "gd:lr=0.005",
        "--resolution",
        "48x40",
        "--steps",
        "20000",
        "--paths",
        "4",
        "--out",
        out.to_str().unwrap(),
    ]);
    let (shape, l) = labels(&out);
    assert_eq!(shape, vec![40, 48]);
    let m = manifest(&out);
    // Himmelblau's four minima (f = 0), from the literature.
    let minima = [
        [3.0, 2.0],
        [-2.805118, 3.131312],
        [-3.779310, -3.283186],
        [3.584428, -1.848126],
    ];
    let rows = basins_csv(&out);
    assert_eq!(rows.len(), 4, "{rows:?}");
    let mut matched = std::collections::HashSet::new();
    for want in minima {
        let row = rows
            .iter()
            .find(|r| (r.6[0] - want[0]).abs() < 1e-5 && (r.6[1] - want[1]).abs() < 1e-5)
            .unwrap_or_else(|| panic!("no basin for the minimum {want:?}: {rows:?}"));
        assert_eq!(row.5, "minimum");
        assert!(row.3.abs() < 1e-12);
        matched.insert(row.0);
        // The pixel holding the minimum belongs to its basin.
        let (i, j) = pixel_of(&m, want[0], want[1]);
        assert_eq!(l[j * 48 + i], row.0, "minimum {want:?} at pixel ({i}, {j})");
    }
    assert_eq!(matched.len(), 4);
    // basins.png has exactly the requested pixels; its colours and the labels map one to one.
    let img = image::open(out.join("basins.png")).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (48, 40));
    let mut by_label = std::collections::HashMap::new();
    let mut by_colour = std::collections::HashMap::new();
    for (i, j, p) in img.enumerate_pixels() {
        let label = l[j as usize * 48 + i as usize];
        assert_eq!(*by_label.entry(label).or_insert(p.0), p.0, "label {label}");
        assert_eq!(
            *by_colour.entry(p.0).or_insert(label),
            label,
            "colour {:?}",
            p.0
        );
    }
    assert_eq!(by_label.len(), 4);

    // basins_annotated.png: the same pixels upscaled 17 times (the least whole factor reaching
    // 800 px), nearest neighbour, inside the slice axes; only the minima's markers cover cells.
    let big = image::open(out.join("basins_annotated.png"))
        .unwrap()
        .to_rgb8();
    let (s, x0, y0) = (17u32, 2 * (22 + 84), 2 * (62 + 8));
    assert!(big.width() >= x0 + 48 * s && big.height() >= y0 + 40 * s);
    let mut covered = 0;
    for (i, j, p) in img.enumerate_pixels() {
        let corners = [
            (1, 1),
            (s - 2, 1),
            (1, s - 2),
            (s - 2, s - 2),
            (s / 2, s / 2),
        ];
        let same = corners
            .iter()
            .all(|&(a, b)| big.get_pixel(x0 + s * i + a, y0 + s * j + b) == p);
        covered += usize::from(!same);
    }
    // A marker (radius 12 px, outlined) touches at most 3 x 3 cells of 17 px.
    assert!(covered <= 4 * 9, "{covered} cells differ from basins.png");

    // Paths: recorded from the CPU twin, each ending at a minimum (f = 0).
    let paths = std::fs::read_to_string(out.join("paths.csv")).unwrap();
    assert!(paths.starts_with("path,pixel,step,s,t,f\n"));
    let mut last: std::collections::BTreeMap<usize, f64> = Default::default();
    for line in paths.lines().skip(1) {
        let c: Vec<&str> = line.split(',').collect();
        last.insert(c[0].parse().unwrap(), c[5].parse().unwrap());
    }
    assert_eq!(last.len(), 4);
    assert!(last.values().all(|f| *f < 1e-6), "{last:?}");

    // The figures redraw from the folder's files alone, identically.
    let names = [
        "basins.png",
        "basins_annotated.png",
        "landscape.png",
        "legend.png",
        "landscape.svg",
    ];
    let before: Vec<Vec<u8>> = names
        .iter()
        .map(|n| std::fs::read(out.join(n)).unwrap())
        .collect();
    for n in names {
        std::fs::remove_file(out.join(n)).unwrap();
    }
    saddlescope::basins::redraw(&out).unwrap();
    for (n, b) in names.iter().zip(&before) {
        assert_eq!(
            &std::fs::read(out.join(n)).unwrap(),
            b,
            "{n} differs after redraw"
        );
    }
}

/// Pictures smaller than the entropy's default box of 5 take the box of their shorter side
/// (or none, at one pixel) instead of refusing the default; a --box given is still checked.
#[test]
fn tiny_pictures_run_with_the_default_box() {
    for (res, side) in [("3", 3), ("1x4", 2)] {
        let out = tmp(&format!("tiny-{res}"));
        run_ok_stdout(&[
            "basins",
            "--objective",
            "himmelblau",
            "--optimizer",
            "gd",
            "--resolution",
            res,
            "--steps",
            "20",
            "--backend",
            "cpu",
            "--out",
            out.to_str().unwrap(),
        ]);
        let m = common::cli::manifest(&out);
        let e = &m["statistics"]["entropy"];
        assert_eq!(e["box_size"].as_u64(), Some(side), "{e}");
        let _ = std::fs::remove_dir_all(&out);
    }
}

#[test]
fn the_same_command_twice_gives_identical_labels() {
    let mut outs = vec![];
    for k in 0..2 {
        let out = tmp(&format!("det{k}"));
        run_ok_stdout(&[
            "basins",
            "--objective",
            "camel6",
            "--optimizer",
            "sgd:lr=0.01,noise=0.05",
            "--resolution",
            "36x24",
            "--steps",
            "3000",
            "--grad-tol",
            "1e-3",
            "--shade-steps",
            "--seed",
            "5",
            "--out",
            out.to_str().unwrap(),
        ]);
        outs.push(out);
    }
    for f in ["labels.npy", "steps.npy", "basins.csv"] {
        assert_eq!(
            std::fs::read(outs[0].join(f)).unwrap(),
            std::fs::read(outs[1].join(f)).unwrap(),
            "{f}"
        );
    }
    // Six-hump camel: two global minima near (±0.0898, ∓0.7126) lead the list.
    let rows = basins_csv(&outs[0]);
    assert!(rows.len() >= 2);
    assert!((rows[0].3 + 1.0316).abs() < 1e-4 && (rows[1].3 + 1.0316).abs() < 1e-4);
}

#[test]
fn a_slice_through_three_minima_contains_their_basins() {
    let cat = tmp("field-sample");
    let field = "field:n=16";
    run_ok_stdout(&[
        "sample",
        "--objective",
        field,
        "--optimizer",
        "gd:lr=0.05",
        "--walkers",
        "64",
        "--steps",
        "5000",
        "--grad-tol",
        "1e-3",
        "--out",
        cat.to_str().unwrap(),
    ]);
    let csv = std::fs::read_to_string(cat.join("critical_points.csv")).unwrap();
    let ids: Vec<usize> = csv
        .lines()
        .skip(1)
        .filter(|l| l.split(',').nth(7) == Some("minimum"))
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .take(3)
        .collect();
    assert_eq!(ids.len(), 3, "{csv}");
    let (_, xs) = npy_f64(&cat.join("critical_points.npy"));
    let n = 16;
    let out = tmp("field-basins");
    let plane = format!("points={},{},{}", ids[0], ids[1], ids[2]);
    run_ok_stdout(&[
        "basins",
        "--objective",
        field,
        "--optimizer",
        "gd:lr=0.05",
        "--plane",
        &plane,
        "--catalogue",
        cat.to_str().unwrap(),
        "--resolution",
        "40",
        "--steps",
        "5000",
        "--grad-tol",
        "1e-3",
        "--out",
        out.to_str().unwrap(),
    ]);
    let m = manifest(&out);
    let vec = |k: &str| -> Vec<f64> {
        m["plane"][k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    let (c, u, v) = (vec("centre"), vec("u"), vec("v"));
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p * q).sum::<f64>();
    assert!((dot(&u, &u) - 1.0).abs() < 1e-12 && dot(&u, &v).abs() < 1e-12);
    let (_, l) = labels(&out);
    let (_, attractors) = npy_f64(&out.join("attractors.npy"));
    for &id in &ids {
        let x = &xs[id * n..(id + 1) * n];
        let d: Vec<f64> = x.iter().zip(&c).map(|(a, b)| a - b).collect();
        let (s, t) = (dot(&d, &u), dot(&d, &v));
        // The point lies on the slice ...
        let off: f64 = (0..n)
            .map(|i| (d[i] - s * u[i] - t * v[i]).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!(off < 1e-9, "point {id} is {off} off the slice");
        // ... and the walker of its pixel ends at it.
        let (i, j) = pixel_of(&m, s, t);
        let label = l[j * 40 + i];
        assert!(
            label >= 0,
            "point {id}: pixel ({i}, {j}) reached no attractor"
        );
        let a = &attractors[label as usize * n..(label as usize + 1) * n];
        let dist = a
            .iter()
            .zip(x)
            .map(|(p, q)| (p - q).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!(
            dist < 1e-6,
            "point {id}: pixel ({i}, {j}) reached attractor {label} at distance {dist}"
        );
    }
    // The three points are marked on the landscape (they lie on the slice).
    let marked = m["landscape"]["points"].as_array().unwrap();
    assert!(marked.len() >= 3, "{marked:?}");
}

#[test]
fn bad_input_exits_2_and_writes_nothing() {
    let out = tmp("bad");
    let o = out.to_str().unwrap();
    let base = ["basins", "--optimizer", "gd", "--out", o];
    let cases: &[(&[&str], &str)] = &[
        (&["--objective", "himmelblau", "--plane", "flat"], "--plane"),
        (
            &["--objective", "himmelblau", "--plane", "u=1,0"],
            "--plane",
        ),
        (
            &["--objective", "field:n=4", "--plane", "u=1,0;v=0,1"],
            "N = 4",
        ),
        (
            &["--objective", "field:n=4", "--plane", "points=0,1,2"],
            "--catalogue",
        ),
        (&["--objective", "field:n=4"], "--plane"),
        (
            &["--objective", "himmelblau", "--resolution", "0"],
            "--resolution",
        ),
        (
            &["--objective", "himmelblau", "--resolution", "10x"],
            "--resolution",
        ),
        (
            &["--objective", "himmelblau", "--resolution", "9000"],
            "--resolution",
        ),
        (&["--objective", "himmelblau", "--extent=1,0"], "--extent"),
        (
            &["--objective", "himmelblau", "--extent=-1,1,2"],
            "--extent",
        ),
        (&["--objective", "himmelblau", "--extent=a,b"], "--extent"),
        (&["--objective", "himmelblau", "--box", "1"], "--box"),
        (&["--objective", "himmelblau", "--paths", "1000"], "--paths"),
        (
            &[
                "--objective",
                "himmelblau",
                "--plane",
                "points=0,1,2",
                "--catalogue",
                "/nonexistent",
            ],
            "manifest.json",
        ),
    ];
    for (args, needle) in cases {
        let mut all: Vec<&str> = base.to_vec();
        all.extend_from_slice(args);
        let r = run(&all);
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(!out.exists(), "{args:?} created the output folder");
    }
}

/// Plain gradient descent at its default step on Müller-Brown (curvature up to ~1.4e3 on the
/// default extent) diverges from every pixel; the run walks the pixels again at
/// lr = 1/(2 curvature), says so, and finds the three minima. An lr the user gives is kept:
/// the same run at lr=0.01 diverges and the summary says which step would be stable.
#[test]
fn the_default_step_is_lowered_where_it_diverges_everywhere() {
    let out = tmp("default-step");
    let o = out.to_str().unwrap();
    let base = [
        "basins",
        "--objective",
        "muller-brown",
        "--resolution",
        "48",
        "--out",
        o,
    ];
    let stdout = run_ok_stdout(&[&base[..], &["--optimizer", "gd"]].concat());
    assert!(
        stdout.contains("walking again from the same pixels"),
        "{stdout}"
    );
    let m = manifest(&out);
    let used = m["resolved"]["optimizer"].as_str().unwrap().to_string();
    assert!(
        used.starts_with("gd:lr=") && !used.starts_with("gd:lr=0.01,"),
        "{used}"
    );
    let rows = basins_csv(&out);
    let minima = rows.iter().filter(|r| r.0 >= 0 && r.5 == "minimum").count();
    let reached: usize = rows.iter().filter(|r| r.0 >= 0).map(|r| r.1).sum();
    assert_eq!(minima, 3, "{rows:?}");
    assert!(
        reached * 10 >= 9 * 48 * 48,
        "{reached} of {} pixels",
        48 * 48
    );

    let _ = std::fs::remove_dir_all(&out);
    let stdout = run_ok_stdout(&[&base[..], &["--optimizer", "gd:lr=0.01"]].concat());
    assert!(
        !stdout.contains("walking again from the same pixels"),
        "{stdout}"
    );
    assert!(
        stdout.contains("diverged") && stdout.contains("try lr="),
        "{stdout}"
    );
    assert_eq!(manifest(&out)["resolved"]["optimizer"], "gd:lr=0.01,clip=0");
    let _ = std::fs::remove_dir_all(&out);
}
