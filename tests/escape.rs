//! `saddlescope escape` end to end through the command line: closed-form escape steps of GD on
//! x² − y², zero-gradient starts (a saddle, a plateau) that only noise or perturbations leave,
//! starts from a stored catalogue, the output tables, and usage errors.

mod common;

use std::path::Path;
use std::process::Output;

use common::cli::{fields, manifest, run, tmp};

fn escape(out: &Path, args: &[&str]) -> Output {
    let mut full = vec!["escape"];
    full.extend_from_slice(args);
    full.extend(["--out", out.to_str().unwrap()]);
    let o = run(&full);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Column `name` of `rows`.
fn col<'a>(header: &[String], rows: &'a [Vec<String>], name: &str) -> Vec<&'a str> {
    let c = header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name}"));
    rows.iter().map(|r| r[c].as_str()).collect()
}

const HEADER: &str = "method,walkers,escaped,escape_rate,escape_rate_lo,escape_rate_hi,median_steps,mean_steps,p90_steps";

/// GD on f = x² − y² from (0, y0): y_t = y0 (1 + 2η)^t, and the walker is at distance
/// y0 ((1 + 2η)^t − 1) from its start after t updates. The escape step recorded is the first t
/// (updates applied; the check runs on the state after t updates) at distance ≥ R, i.e.
/// ⌈ln(1 + R/y0) / ln(1 + 2η)⌉: the closed form ⌈ln(R/y0) / ln(1 + 2η)⌉ measures from the
/// saddle and agrees within one step when y0 ≪ R.
#[test]
fn gd_escapes_from_near_the_saddle_at_the_closed_form_step() {
    let big_r = 1.0f64;
    let etas = [0.02f64, 0.05, 0.1, 0.2];
    for backend in ["cpu", "auto"] {
        for y0 in [1e-3f64, 0.05] {
            let out = tmp(&format!("gd-{backend}-{y0}"));
            let from = format!("point:x=0;{y0}");
            let arms: Vec<String> = etas.iter().map(|e| format!("gd:lr={e}")).collect();
            let mut args = vec![
                "--objective",
                "saddle",
                "--from",
                &from,
                "--radius",
                "0",
                "--escape-radius",
                "1",
                "--walkers",
                "4",
                "--steps",
                "600",
                "--backend",
                backend,
                "--optimizers",
            ];
            args.extend(arms.iter().map(String::as_str));
            escape(&out, &args);
            let (h, rows) = fields(&out.join("escape.csv"));
            assert_eq!(h[..9].join(","), HEADER);
            let median = col(&h, &rows, "median_steps");
            let escaped = col(&h, &rows, "escaped");
            for (a, &eta) in etas.iter().enumerate() {
                let d = |t: u32| y0 * ((1.0 + 2.0 * eta).powi(t as i32) - 1.0);
                let want = ((1.0 + big_r / y0).ln() / (1.0 + 2.0 * eta).ln()).ceil() as u32;
                // The recorded step is the first at distance >= R, and none of these cases sits
                // within f32 rounding of the threshold.
                assert!(d(want) >= big_r && d(want - 1) < big_r);
                assert!((d(want) - big_r).abs() > 5e-3 && (d(want - 1) - big_r).abs() > 5e-3);
                assert_eq!(escaped[a], "4");
                assert_eq!(
                    median[a].parse::<f64>().unwrap(),
                    f64::from(want),
                    "{backend} y0 {y0} eta {eta}"
                );
                let from_saddle = ((big_r / y0).ln() / (1.0 + 2.0 * eta).ln()).ceil() as i64;
                if y0 <= 1e-2 * big_r {
                    assert!((i64::from(want) - from_saddle).abs() <= 1);
                }
            }
            let (th, times) = fields(&out.join("escape_times.csv"));
            assert_eq!(th, ["arm", "walker", "escape_step", "point"]);
            assert_eq!(times.len(), 4 * etas.len());
            // All four arms share one rule, hence one walk.
            let m = manifest(&out);
            assert_eq!(m["resolved"]["walks"].as_array().unwrap().len(), 1);
            std::fs::remove_dir_all(&out).ok();
        }
    }
}

/// With --escape-drop δ: f(start) − f = y_t² − y0² ≥ δ first at y0 (1 + 2η)^t ≥ √(δ + y0²).
/// A walker that escaped and is still descending when --steps runs out may polish back to the
/// saddle (the nearest critical point of the slope just below it); it has not come back and
/// is unsettled, not at the start. On the six-hump camel from its saddle at the origin, with a
/// step budget that ends mid-descent, every walker counted at the start lies within the
/// escape radius of it (none converges), and some walkers are beyond it.
#[test]
fn walkers_still_descending_beyond_the_escape_radius_are_not_at_the_start() {
    let out = tmp("escape-descending");
    escape(
        &out,
        &[
            "--objective",
            "camel6",
            "--from",
            "saddle",
            "--optimizers",
            "gd:lr=0.002",
            "--walkers",
            "128",
            "--steps",
            "400",
            "--seed",
            "7",
            "--backend",
            "cpu",
        ],
    );
    let radius = manifest(&out)["resolved"]["criterion"]["radius"]
        .as_f64()
        .unwrap();
    let (shape, x) = common::cli::npy_f64(&out.join("end_states.npy"));
    assert_eq!(shape, vec![128, 2]);
    let within = x
        .chunks(2)
        .filter(|p| (p[0] * p[0] + p[1] * p[1]).sqrt() < radius)
        .count();
    let (h, rows) = fields(&out.join("escape.csv"));
    let at_start: f64 = col(&h, &rows, "at_start")[0].parse().unwrap();
    let unsettled: f64 = col(&h, &rows, "unsettled")[0].parse().unwrap();
    let counted = (at_start * 128.0).round() as usize;
    assert!(
        within > 0 && within < 128,
        "{within} of 128 within R = {radius}"
    );
    assert_eq!(
        counted, within,
        "at_start {at_start}, {within} walkers within R"
    );
    assert!(unsettled > 0.0);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn escape_by_a_drop_in_f_follows_the_closed_form() {
    let (y0, eta, delta) = (1e-3f64, 0.1f64, 0.25f64);
    let want = ((delta + y0 * y0).sqrt() / y0).ln() / (1.0 + 2.0 * eta).ln();
    let want = want.ceil() as u32;
    let drop = |t: u32| (y0 * (1.0 + 2.0 * eta).powi(t as i32)).powi(2) - y0 * y0;
    assert!(drop(want) > 1.01 * delta && drop(want - 1) < 0.99 * delta);
    for backend in ["cpu", "auto"] {
        let out = tmp(&format!("drop-{backend}"));
        escape(
            &out,
            &[
                "--objective",
                "saddle",
                "--from",
                "point:x=0;0.001",
                "--radius",
                "0",
                "--escape-drop",
                "0.25",
                "--walkers",
                "4",
                "--steps",
                "200",
                "--backend",
                backend,
                "--optimizers",
                "gd:lr=0.1",
            ],
        );
        let (h, rows) = fields(&out.join("escape.csv"));
        assert_eq!(col(&h, &rows, "escaped"), ["4"]);
        assert_eq!(
            col(&h, &rows, "p90_steps")[0].parse::<f64>().unwrap(),
            f64::from(want)
        );
        std::fs::remove_dir_all(&out).ok();
    }
}

#[test]
fn from_exactly_the_saddle_gd_stays_while_noise_and_perturbation_escape() {
    let out = tmp("exact-saddle");
    let w = 64;
    escape(
        &out,
        &[
            "--objective",
            "saddle",
            "--from",
            "saddle",
            "--radius",
            "0",
            "--escape-radius",
            "0.5",
            "--walkers",
            "64",
            "--steps",
            "1500",
            "--optimizers",
            "gd:lr=0.1",
            "sgd:lr=0.1,noise=0.1",
            "pgd:lr=0.1",
        ],
    );
    let (h, rows) = fields(&out.join("escape.csv"));
    assert_eq!(h[..9].join(","), HEADER);
    assert_eq!(
        h[9..].join(","),
        "at_start,to_lowest_minimum,to_other_minimum,to_saddle,to_maximum,to_degenerate,unsettled,diverged"
    );
    assert_eq!(
        col(&h, &rows, "method"),
        [
            "gd:lr=0.1,clip=0",
            "sgd:lr=0.1,noise=0.1,clip=0",
            "pgd:lr=0.1,g_thres=0.001,t_thres=50,r=0.01,f_thres=0.0001,clip=0"
        ]
    );
    assert_eq!(col(&h, &rows, "escaped"), ["0", "64", "64"]);
    // GD: zero gradient, it never moves; no escape steps to summarise.
    let z = 1.959963984540054f64;
    let hi: f64 = col(&h, &rows, "escape_rate_hi")[0].parse().unwrap();
    assert!((hi - z * z / (w as f64 + z * z)).abs() < 1e-12);
    assert_eq!(
        col(&h, &rows, "escape_rate_lo")[0].parse::<f64>().unwrap(),
        0.0
    );
    assert_eq!(col(&h, &rows, "median_steps")[0], "");
    assert_eq!(col(&h, &rows, "at_start")[0].parse::<f64>().unwrap(), 1.0);
    // f = x² − y² has no minimum: the escapers run down the y valley until they diverge.
    for a in 1..3 {
        assert_eq!(
            col(&h, &rows, "escape_rate")[a].parse::<f64>().unwrap(),
            1.0
        );
        assert_eq!(col(&h, &rows, "diverged")[a].parse::<f64>().unwrap(), 1.0);
        assert!(col(&h, &rows, "median_steps")[a].parse::<f64>().unwrap() >= 1.0);
    }
    // Shares of every row sum to one.
    for r in &rows {
        let s: f64 = r[9..].iter().map(|v| v.parse::<f64>().unwrap()).sum();
        assert!((s - 1.0).abs() < 1e-12, "{r:?}");
    }
    // GD walkers end at the saddle: it is a catalogue point, of kind saddle, index 1.
    let (th, times) = fields(&out.join("escape_times.csv"));
    let gd: Vec<&Vec<String>> = times.iter().filter(|r| r[0] == "0").collect();
    assert_eq!(gd.len(), w);
    assert!(gd.iter().all(|r| r[2].is_empty() && r[3] == gd[0][3]));
    assert!(times
        .iter()
        .filter(|r| r[0] != "0")
        .all(|r| !r[2].is_empty() && r[3].is_empty()));
    assert_eq!(th.len(), 4);
    let (ah, att) = fields(&out.join("attractors.csv"));
    assert_eq!(ah.join(","), "arm,method,point,f,kind,index,walkers,share");
    assert_eq!(att.len(), 1, "{att:?}");
    assert_eq!(
        (
            att[0][0].as_str(),
            att[0][2].as_str(),
            att[0][4].as_str(),
            att[0][5].as_str(),
            att[0][6].as_str()
        ),
        ("0", gd[0][3].as_str(), "saddle", "1", "64")
    );
    let m = manifest(&out);
    assert_eq!(m["start_point"]["kind"], "saddle");
    assert_eq!(m["resolved"]["walks"].as_array().unwrap().len(), 3);
    for f in ["escape_ecdf", "escape_ends"] {
        let png = std::fs::read(out.join(format!("{f}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert!(std::fs::read_to_string(out.join(format!("{f}.svg")))
            .unwrap()
            .starts_with("<svg"));
    }
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn from_inside_the_flat_well_plateau_gd_stays_and_langevin_leaves() {
    let out = tmp("plateau");
    escape(
        &out,
        &[
            "--objective",
            "flat-well:n=3",
            "--from",
            "plateau",
            "--radius",
            "0",
            "--escape-radius",
            "0.5",
            "--walkers",
            "64",
            "--steps",
            "2000",
            "--optimizers",
            "gd:lr=0.1",
            "langevin:lr=0.01,temperature=0.05",
        ],
    );
    let (h, rows) = fields(&out.join("escape.csv"));
    assert_eq!(col(&h, &rows, "escaped"), ["0", "64"]);
    assert_eq!(col(&h, &rows, "at_start")[0].parse::<f64>().unwrap(), 1.0);
    let m = manifest(&out);
    assert_eq!(
        m["resolved"]["from"]["x"],
        serde_json::json!([0.0, 0.0, 0.0])
    );
    assert_eq!(m["start_point"]["kind"], "degenerate");
    std::fs::remove_dir_all(&out).ok();
}

/// A folder as `sample` writes it, holding the saddle of f = x² − y² as point 0.
fn fake_sample(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("manifest.json"),
        r#"{"resolved": {"objective": "saddle", "dim": 2}}"#,
    )
    .unwrap();
    saddlescope::output::write_npy(&dir.join("critical_points.npy"), &[1, 2], &[0.0f64, 0.0])
        .unwrap();
    std::fs::write(
        dir.join("critical_points.csv"),
        "id,f,grad_norm,index,n_neg,n_zero,n_pos,kind,walkers,min_eig,max_eig,x0,x1\n\
         0,0.0,0.0,1,1,0,1,saddle,9,-2.0,2.0,0.0,0.0\n",
    )
    .unwrap();
}

#[test]
fn starts_from_a_stored_critical_point() {
    let cat = tmp("catalogue");
    fake_sample(&cat);
    let out = tmp("from-critical");
    let from = format!("critical:{},0", cat.display());
    escape(
        &out,
        &[
            "--objective",
            "saddle",
            "--from",
            &from,
            "--walkers",
            "16",
            "--steps",
            "300",
            "--optimizers",
            "gd:lr=0.1",
        ],
    );
    let m = manifest(&out);
    assert_eq!(m["resolved"]["from"]["kind"], "critical");
    assert_eq!(m["resolved"]["from"]["x"], serde_json::json!([0.0, 0.0]));
    // Defaults: r0 = 1e-3 and R = 0.1 around a point with |x| <= 1.
    assert_eq!(m["resolved"]["radius"], 1e-3);
    assert_eq!(m["resolved"]["criterion"]["radius"], 0.1);
    // Starts lie within r0 of the point, all distinct.
    let bytes = std::fs::read(out.join("starts.npy")).unwrap();
    let (_, shape, raw) = saddlescope::output::read_npy(&bytes).unwrap();
    assert_eq!(shape, vec![16, 2]);
    let xs: Vec<f64> = raw
        .chunks(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    for p in xs.chunks(2) {
        let r = (p[0] * p[0] + p[1] * p[1]).sqrt();
        assert!(r > 0.0 && r <= 1e-3, "{p:?}");
    }
    std::fs::remove_dir_all(&out).ok();
    std::fs::remove_dir_all(&cat).ok();
}

#[test]
fn bad_input_exits_2_naming_the_problem_and_writes_nothing() {
    let cat = tmp("bad-catalogue");
    fake_sample(&cat);
    let stored = format!("critical:{},0", cat.display());
    let stored_bad_id = format!("critical:{},5", cat.display());
    let cases: &[(&[&str], &str)] = &[
        (&["--from", "ridge"], "unknown start 'ridge'"),
        (&["--objective", "himmelblau", "--from", "saddle"], "camel6"),
        (&["--from", "plateau"], "flat-well"),
        (&["--from", "point:x=1;2;3"], "N = 2"),
        (&["--from", "point:1;2"], "point:x=a;b"),
        (
            &["--from", "critical:/nonexistent-saddlescope,0"],
            "manifest.json",
        ),
        (
            &["--objective", "camel6", "--from", &stored],
            "pass --objective saddle",
        ),
        (&["--from", &stored_bad_id], "valid ids: 0..=0"),
        (&["--radius", "-1"], "--radius"),
        (&["--radius", "nan"], "--radius"),
        (&["--escape-radius", "0"], "--escape-radius"),
        (&["--escape-drop", "-1"], "--escape-drop"),
        (
            &["--escape-radius", "1", "--escape-drop", "1"],
            "cannot be used with",
        ),
        (&["--optimizers"], "--optimizers"),
        (&["--optimizers", "gd", "bfgs"], "unknown optimizer 'bfgs'"),
        (&["--optimizers", "gd", "gd:lr=0.01"], "same arm"),
        (&["--optimizers", "gd:lr=0"], "lr=0"),
        (&["--walkers", "0"], "--walkers"),
        (&["--steps", "0"], "--steps"),
        (&["--grad-tol", "-1"], "--grad-tol"),
        (&["--objective", "nosuch"], "himmelblau"),
    ];
    for (args, needle) in cases {
        let mut full = vec!["escape"];
        for (flag, default) in [
            ("--objective", "saddle"),
            ("--from", "saddle"),
            ("--walkers", "8"),
            ("--steps", "10"),
        ] {
            if !args.contains(&flag) {
                full.extend([flag, default]);
            }
        }
        full.extend_from_slice(args);
        if !args.contains(&"--optimizers") {
            full.extend(["--optimizers", "gd"]);
        }
        let out = tmp("bad");
        full.extend(["--out", out.to_str().unwrap()]);
        let o = run(&full);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(needle),
            "{args:?}: should mention '{needle}': {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
        assert!(!out.exists(), "{args:?} created the output folder");
    }
    // Missing --optimizers altogether.
    let o = run(&["escape", "--objective", "saddle", "--from", "saddle"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--optimizers"));
    std::fs::remove_dir_all(&cat).ok();
}

/// From Müller–Brown's saddle (curvature ~7.6e2 around it) gd and momentum at lr = 0.01 blow
/// up within a few steps: their 100% "escaped" is divergence, and the summary says so per arm
/// with a stable step, which then ends its walkers at the minima instead. Adam's arm (a
/// bounded step) gets no note.
#[test]
fn arms_that_diverge_at_their_step_say_which_step_is_stable() {
    let out = tmp("diverging-arms");
    let args = [
        "--objective",
        "muller-brown",
        "--from",
        "saddle",
        "--walkers",
        "256",
    ];
    let o = escape(&out, &[&args[..], &["--optimizers", "gd", "adam"]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    let note = text
        .lines()
        .find(|l| l.starts_with("note: arm gd"))
        .unwrap_or_else(|| panic!("no note for gd: {text}"));
    assert!(!text.contains("note: arm adam"), "{text}");
    let lr = note
        .split("try lr=")
        .nth(1)
        .and_then(|t| t.split(',').next())
        .unwrap_or_else(|| panic!("no lr in {note}"));
    let _ = std::fs::remove_dir_all(&out);
    let stable = format!("gd:lr={lr}");
    let o = escape(&out, &[&args[..], &["--optimizers", &stable]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(!text.contains("note: arm"), "{text}");
    assert_eq!(manifest(&out)["status_counts"]["diverged"], 0, "{text}");
    let _ = std::fs::remove_dir_all(&out);
}
