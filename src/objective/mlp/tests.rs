//! Tests of the `mlp` objective's twin: derivatives against finite differences for every
//! activation and loss, the network against a direct formula, the data sets and files, and
//! the spec's errors.

use nalgebra::DVector;

use super::net::{ACTS, LOSSES};
use crate::objective::{parse, Objective};
use crate::rng::{Sampler, Stream};

fn point(obj: &dyn Objective, seed: u64) -> Vec<f64> {
    let mut s = Sampler::new(seed, 0, Stream::Init);
    (0..obj.dim()).map(|_| 0.8 * s.normal()).collect()
}

fn grad(obj: &dyn Objective, x: &[f64]) -> Vec<f64> {
    let mut g = vec![0.0; x.len()];
    obj.gradient(x, &mut g);
    g
}

/// Central differences of f for the gradient and of ∇f for the Hessian, h = 1e-6: truncation
/// ~1e-12 |f'''| and rounding ~1e-10 |f|, far below 1e-6 of the derivatives' scale, while a
/// wrong term is of order one of it. ReLU and hinge have kinks of measure zero: the seeded
/// points here lie farther than h from every one (a failure at a new seed would say so).
fn check_derivatives(spec: &str) {
    let obj = parse(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
    let n = obj.dim();
    for seed in 0..2 {
        let x = point(obj.as_ref(), seed);
        let g = grad(obj.as_ref(), &x);
        let gs = g.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        for i in 0..n {
            let (mut xp, mut xm) = (x.clone(), x.clone());
            xp[i] += 1e-6;
            xm[i] -= 1e-6;
            let fd = (obj.value(&xp) - obj.value(&xm)) / (xp[i] - xm[i]);
            assert!(
                (fd - g[i]).abs() <= 1e-6 * gs,
                "{spec}: df/dx{i} = {} but differences give {fd}",
                g[i]
            );
        }
        let h = obj.hessian(&x);
        let hs = h.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        for j in 0..n {
            let (mut xp, mut xm) = (x.clone(), x.clone());
            xp[j] += 1e-6;
            xm[j] -= 1e-6;
            let (gp, gm) = (grad(obj.as_ref(), &xp), grad(obj.as_ref(), &xm));
            for i in 0..n {
                let fd = (gp[i] - gm[i]) / (xp[j] - xm[j]);
                assert!(
                    (fd - h[(i, j)]).abs() <= 1e-6 * hs,
                    "{spec}: H[{i},{j}] = {} but differences give {fd}",
                    h[(i, j)]
                );
            }
        }
        let mut s = Sampler::new(seed + 7, 0, Stream::Init);
        let v: Vec<f64> = (0..n).map(|_| s.normal()).collect();
        let mut hv = vec![0.0; n];
        obj.hvp(&x, &v, &mut hv);
        let want = &h * DVector::from_column_slice(&v);
        for i in 0..n {
            assert!(
                (hv[i] - want[i]).abs() <= 1e-10 * hs * n as f64,
                "{spec}: (Hv)[{i}] = {} but H v = {}",
                hv[i],
                want[i]
            );
        }
    }
}

#[test]
fn derivatives_match_finite_differences_for_every_activation_and_loss() {
    for act in ACTS {
        for loss in LOSSES {
            // Two hidden layers of equal width (so skip=1 adds a shortcut), biases and decay.
            check_derivatives(&format!(
                "mlp:widths=3-4-4-2,act={act},loss={loss},samples=9,l2=0.1,skip=1,seed=2"
            ));
        }
        check_derivatives(&format!(
            "mlp:widths=2-3-1,act={act},bias=0,samples=5,seed=4"
        ));
    }
    check_derivatives("mlp:widths=2-3-3-3-1,data=spirals,loss=logistic,samples=6,skip=1");
}

/// act=linear, bias=0, l2=0: f is exactly (1/2P)|W2 W1 X − Y|² computed with matrices.
#[test]
fn a_linear_network_is_the_matrix_product() {
    let spec = "mlp:widths=3-2-4,act=linear,bias=0,samples=11,l2=0,seed=5";
    let obj = parse(spec).unwrap();
    let m = super::Mlp::new(
        &crate::spec::resolve(&crate::spec::RawSpec::parse(spec).unwrap(), super::TABLE).unwrap(),
    )
    .unwrap();
    let x = point(obj.as_ref(), 3);
    let w1 = nalgebra::DMatrix::from_row_slice(2, 3, &x[..6]);
    let w2 = nalgebra::DMatrix::from_row_slice(4, 2, &x[6..14]);
    let xs = nalgebra::DMatrix::from_row_slice(11, 3, &m.data.x).transpose();
    let ys = nalgebra::DMatrix::from_row_slice(11, 4, &m.data.y).transpose();
    let r = &w2 * &w1 * xs - ys;
    let want = 0.5 * r.norm_squared() / 11.0;
    assert_eq!(obj.dim(), 14);
    assert!(
        (obj.value(&x) - want).abs() <= 1e-12 * want,
        "{} vs {want}",
        obj.value(&x)
    );
}

#[test]
fn generated_sets_have_their_shapes_labels_and_seeds() {
    let data = |spec: &str| {
        let m = super::Mlp::new(
            &crate::spec::resolve(&crate::spec::RawSpec::parse(spec).unwrap(), super::TABLE)
                .unwrap(),
        )
        .unwrap();
        m.data
    };
    for kind in ["teacher", "xor", "spirals", "blobs"] {
        for loss in LOSSES {
            let d = data(&format!(
                "mlp:widths=2-5-1,data={kind},loss={loss},samples=40"
            ));
            assert_eq!((d.p, d.d, d.o, d.x.len(), d.y.len()), (40, 2, 1, 80, 40));
            assert!(d.x.iter().chain(&d.y).all(|v| v.is_finite()));
            if *loss != "mse" || kind != "teacher" {
                assert!(d.y.iter().all(|&y| y == 1.0 || y == -1.0), "{kind} {loss}");
                assert!(d.y.contains(&1.0) && d.y.contains(&-1.0), "{kind} {loss}");
            }
            let again = data(&format!(
                "mlp:widths=2-5-1,data={kind},loss={loss},samples=40"
            ));
            assert_eq!(d, again, "{kind}: the same seed gives the same data");
            let other = data(&format!(
                "mlp:widths=2-5-1,data={kind},loss={loss},samples=40,seed=1"
            ));
            assert_ne!(d.x, other.x, "{kind}: another seed gives other data");
        }
    }
    let b = data("mlp:widths=3-4-3,data=blobs,samples=30");
    assert_eq!((b.d, b.o), (3, 3));
    for row in b.y.chunks(3) {
        assert_eq!(row.iter().filter(|&&v| v == 1.0).count(), 1, "one-hot ±1");
    }
    // Teacher without noise: the student at the teacher's weights has zero loss, so the
    // targets are the teacher's outputs.
    let t = data("mlp:widths=2-3-1,noise=0,samples=20");
    let t2 = data("mlp:widths=2-3-1,noise=0.5,samples=20");
    assert_eq!(t.x, t2.x, "the noise does not move the inputs");
    assert_ne!(t.y, t2.y);
}

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("saddlescope-mlp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn data_files_round_trip_and_bad_files_name_themselves() {
    let spec = "mlp:widths=2-3-2,samples=6,seed=3";
    let m = parse(spec).unwrap();
    let saved = m.saved_arrays();
    let (xs, ys) = (&saved[0].data, &saved[1].data);
    let mut table = vec![];
    for p in 0..6 {
        table.extend_from_slice(&xs[p * 2..p * 2 + 2]);
        table.extend_from_slice(&ys[p * 2..p * 2 + 2]);
    }
    let npy = tmp("d.npy");
    crate::output::write_npy(&npy, &[6, 4], &table).unwrap();
    let csv = tmp("d.csv");
    let mut text = String::from("x0,x1,y0,y1\n# a comment\n");
    for row in table.chunks(4) {
        let r: Vec<String> = row.iter().map(|v| format!("{v:?}")).collect();
        text.push_str(&r.join(","));
        text.push('\n');
    }
    std::fs::write(&csv, text).unwrap();
    for path in [&npy, &csv] {
        let from_file = parse(&format!("mlp:widths=2-3-2,data={}", path.display())).unwrap();
        let arrays = from_file.saved_arrays();
        assert_eq!(
            arrays,
            saved,
            "{}: read back what was written",
            path.display()
        );
        let x = point(m.as_ref(), 1);
        assert_eq!(from_file.value(&x), m.value(&x));
    }
    let err = |spec: String| match parse(&spec) {
        Ok(_) => panic!("{spec} was accepted"),
        Err(e) => e.to_string(),
    };
    // Wrong columns, wrong dtype, not a table, missing file, labels for a margin loss.
    let e = err(format!("mlp:widths=3-3-2,data={}", npy.display()));
    assert!(e.contains("d.npy") && e.contains("(P, 5)"), "{e}");
    let e = err(format!("mlp:widths=2-3-1,data={}", csv.display()));
    assert!(
        e.contains("d.csv") && e.contains("line 3") && e.contains("valid: 3"),
        "{e}"
    );
    let bad = tmp("bad.csv");
    std::fs::write(&bad, "1,2,3\n4,x,6\n").unwrap();
    let e = err(format!("mlp:widths=2-3-1,data={}", bad.display()));
    assert!(e.contains("bad.csv") && e.contains("line 2"), "{e}");
    let i32npy = tmp("ints.npy");
    crate::output::write_npy(&i32npy, &[2, 3], &[1i32, 2, 3, 4, 5, 6]).unwrap();
    let e = err(format!("mlp:widths=2-3-1,data={}", i32npy.display()));
    assert!(
        e.contains("ints.npy") && e.contains("<i4") && e.contains("<f8"),
        "{e}"
    );
    let e = err("mlp:data=/no/such/file.npy".into());
    assert!(
        e.contains("/no/such/file.npy") && e.contains("teacher, xor"),
        "{e}"
    );
    let e = err(format!(
        "mlp:widths=2-3-2,loss=hinge,data={}",
        npy.display()
    ));
    assert!(e.contains("d.npy") && e.contains("±1"), "{e}");
    let txt = tmp("d.txt");
    std::fs::write(&txt, "1,2,3\n").unwrap();
    let e = err(format!("mlp:widths=2-3-1,data={}", txt.display()));
    assert!(e.contains("d.txt") && e.contains(".npy or .csv"), "{e}");
}

#[test]
fn bad_specs_name_the_key_and_the_valid_values() {
    let err = |spec: &str| match parse(spec) {
        Ok(_) => panic!("{spec} was accepted"),
        Err(e) => e.to_string(),
    };
    for (spec, want) in [
        ("mlp:widths=8", "D-H1-…-O"),
        ("mlp:widths=2-x-1", "widths=2-x-1"),
        ("mlp:widths=2-0-1", "positive"),
        ("mlp:widths=2-5000-1", "1..=4096"),
        ("mlp:widths=1-1-1-1-1-1-1-1-1-1", "2 to 9"),
        (
            "mlp:act=gelu",
            "tanh, relu, softplus, swish, sigmoid, linear",
        ),
        ("mlp:loss=l1", "mse, logistic, hinge"),
        ("mlp:widths=3-4-1,data=xor", "widths=2-…-1"),
        ("mlp:widths=3-4-1,teacher=2-4-1", "teacher"),
        ("mlp:bias=2", "0..=1"),
        ("mlp:samples=0", "1..=16384"),
        ("mlp:widths=20-300-1,samples=16384", "scratch"),
        ("mlp:widths=200-200-200-1", "N = 80601"),
        // Refused before any data is generated: a teacher too large, P too large.
        ("mlp:widths=2-4-1,teacher=2-4096-4096-4096-1", "teacher"),
        ("mlp:widths=2-4096-4096-1,samples=16384", "N = 16797697"),
    ] {
        let e = err(spec);
        assert!(e.contains(want), "{spec}: {e}");
    }
}

/// The minibatch gradient is unbiased: over many (walker, step) batches of B = 8 of P = 64
/// samples, its mean equals the full-batch gradient within 5 standard errors in every
/// coordinate; and one batch is not the full gradient (the test would pass on a minibatch
/// that ignored its rows otherwise).
#[test]
fn the_minibatch_gradient_is_unbiased() {
    let obj = parse("mlp:widths=3-5-2,samples=64,l2=0.01,seed=9").unwrap();
    let (n, p, b) = (obj.dim(), obj.samples(), 8);
    assert_eq!(p, 64);
    let x = point(obj.as_ref(), 1);
    let full = grad(obj.as_ref(), &x);
    let draws = 3000;
    let (mut sum, mut sum2) = (vec![0.0; n], vec![0.0; n]);
    let mut apart = 0.0f64;
    for k in 0..draws {
        let rows = crate::rng::minibatch(3, k % 100, k / 100, b, p);
        let mini = obj.minibatch(&rows).unwrap();
        let g = grad(mini.as_ref(), &x);
        for i in 0..n {
            sum[i] += g[i];
            sum2[i] += g[i] * g[i];
            apart = apart.max((g[i] - full[i]).abs());
        }
    }
    let d = f64::from(draws);
    for i in 0..n {
        let mean = sum[i] / d;
        let se = ((sum2[i] / d - mean * mean).max(0.0) / d).sqrt();
        assert!(
            (mean - full[i]).abs() <= 5.0 * se + 1e-12,
            "coordinate {i}: minibatch mean {mean} vs full {} (se {se})",
            full[i]
        );
    }
    let scale = full.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(apart > 1e-3 * scale, "minibatches equal the full gradient");
}

/// batch = P: the minibatch is a permutation of all samples, so f, ∇f and H v are the full
/// batch's up to the order of the sums.
#[test]
fn a_minibatch_of_every_sample_is_the_full_batch() {
    for spec in [
        "mlp:widths=3-6-2,samples=40,seed=2",
        "mlp:widths=2-5-1,act=relu,loss=hinge,data=xor,samples=32,l2=0.1,seed=3",
    ] {
        let obj = parse(spec).unwrap();
        let p = obj.samples();
        let rows = crate::rng::minibatch(5, 1, 2, p, p);
        let mut sorted = rows.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..p as u32).collect::<Vec<_>>());
        assert_ne!(rows, sorted, "{spec}: the permutation is not the identity");
        let mini = obj.minibatch(&rows).unwrap();
        let x = point(obj.as_ref(), 4);
        let v = point(obj.as_ref(), 5);
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * (1.0 + b.abs());
        assert!(close(mini.value(&x), obj.value(&x)), "{spec}");
        for (a, b) in grad(mini.as_ref(), &x).iter().zip(grad(obj.as_ref(), &x)) {
            assert!(close(*a, b), "{spec}: {a} vs {b}");
        }
        let (mut h1, mut h2) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        mini.hvp(&x, &v, &mut h1);
        obj.hvp(&x, &v, &mut h2);
        for (a, b) in h1.iter().zip(&h2) {
            assert!(close(*a, *b), "{spec}: {a} vs {b}");
        }
        // A batch of half the samples is another loss.
        let half = obj.minibatch(&rows[..p / 2]).unwrap();
        assert!((half.value(&x) - obj.value(&x)).abs() > 1e-9);
    }
}
