//! Objective tests: every registry entry's f64 twin against finite differences, its WGSL against
//! naga, known critical points, and spec errors.

use nalgebra::{DMatrix, DVector};

use super::pspin::PSpin;
use super::*;
use crate::gpu::shader;
use crate::rng::{Sampler, Stream};

/// Sizes and parameters of some families beyond what [`cases`] derives from the registry.
const EXTRA: &[&str] = &[
    "double-well:n=4",
    "rastrigin:n=6",
    "ackley:n=7",
    "rosenbrock:n=6",
    "field:n=3,features=16,length=0.5,mu=0,seed=3",
    "field:n=1,features=5,length=2,mu=1e-7,seed=1",
    "pspin:p=2,n=5",
    "pspin:p=3,n=4,seed=1",
    "pspin:p=4,n=3,seed=2",
    "pspin:p=4,n=6",
];

/// Every registry entry at its defaults and, where it takes N, at its smallest N and at N = 5,
/// then [`EXTRA`]: a new objective is tested without an edit here.
fn cases() -> Vec<String> {
    let mut v: Vec<String> = vec![];
    for e in registry() {
        v.push(e.name.to_string());
        if let Some(p) = e.params.iter().find(|p| p.key == "n") {
            let lo = match p.range {
                Range::Int(lo, _) => lo,
                _ => 1,
            };
            v.extend([lo, lo.max(5)].map(|n| format!("{}:n={n}", e.name)));
        }
    }
    v.extend(EXTRA.iter().map(|s| s.to_string()));
    let mut seen = std::collections::HashSet::new();
    v.retain(|s| seen.insert(build(s).spec()));
    v
}

fn build(spec: &str) -> Box<dyn Objective> {
    parse(spec).unwrap_or_else(|e| panic!("{spec}: {e}"))
}

/// A point drawn from the objective's `--init auto` domain.
fn sample(obj: &dyn Objective, s: &mut Sampler) -> Vec<f64> {
    let n = obj.dim();
    match obj.domain() {
        Domain::Box { lo, hi } => (0..n).map(|_| lo + (hi - lo) * s.uniform()).collect(),
        Domain::Box2 { x, y } => vec![
            x.0 + (x.1 - x.0) * s.uniform(),
            y.0 + (y.1 - y.0) * s.uniform(),
        ],
        Domain::Sphere => {
            let mut v: Vec<f64> = (0..n).map(|_| s.normal()).collect();
            sphere::retract(&mut v);
            v
        }
    }
}

fn grad(obj: &dyn Objective, x: &[f64]) -> Vec<f64> {
    let mut g = vec![f64::NAN; x.len()];
    obj.gradient(x, &mut g);
    g
}

fn max_abs(v: impl IntoIterator<Item = f64>) -> f64 {
    v.into_iter().fold(0.0, |m, a| m.max(a.abs()))
}

/// Central-difference step for coordinate value `xi`, and the two points it probes (the step
/// actually taken is xp - xm, which absorbs the rounding of xi +- h).
fn probe(x: &[f64], i: usize) -> (Vec<f64>, Vec<f64>, f64) {
    let h = 1e-6 * x[i].abs().max(1.0);
    let (mut xp, mut xm) = (x.to_vec(), x.to_vec());
    xp[i] += h;
    xm[i] -= h;
    let step = xp[i] - xm[i];
    (xp, xm, step)
}

// Tolerance of the central differences: with h = 1e-6 max(1, |x_i|) the truncation error is
// h^2 |f'''| / 6 ~ 1e-13 |f'''| and the rounding error ~ eps |f| / h ~ 2e-10 |f|. Over the
// domains here |f'''| / |f'| and |f| / |f'| stay below ~1e3 (Mueller-Brown's exponents are the
// steepest), so both stay under 1e-6 of the derivative's scale max(1, max |f'|); a wrong term
// in a derivative is off by O(1) of that scale.
const FD_TOL: f64 = 1e-6;

#[test]
fn every_entry_is_covered() {
    for e in registry() {
        assert!(
            cases().iter().any(|c| c.split(':').next() == Some(e.name)),
            "{} has no test case",
            e.name
        );
    }
    let names: Vec<&str> = registry().iter().map(|e| e.name).collect();
    let mut dedup = names.clone();
    dedup.sort_unstable();
    dedup.dedup();
    assert_eq!(names.len(), dedup.len(), "duplicate names in {names:?}");
}

#[test]
fn gradient_matches_central_differences() {
    let mut s = Sampler::new(11, 0, Stream::Init);
    for spec in &cases() {
        let obj = build(spec);
        for _ in 0..4 {
            let x = sample(obj.as_ref(), &mut s);
            let mut g = vec![f64::NAN; x.len()];
            let f = obj.gradient(&x, &mut g);
            assert!(f.is_finite(), "{spec}: f({x:?}) = {f}");
            assert!(
                (f - obj.value(&x)).abs() <= 1e-12 * f.abs().max(1.0),
                "{spec}: gradient() returns {f}, value() {}",
                obj.value(&x)
            );
            let scale = max_abs(g.iter().copied()).max(1.0);
            for (i, gi) in g.iter().enumerate() {
                let (xp, xm, step) = probe(&x, i);
                let fd = (obj.value(&xp) - obj.value(&xm)) / step;
                assert!(
                    (fd - gi).abs() <= FD_TOL * scale,
                    "{spec}: at {x:?}, d/dx{i}: analytic {gi} vs differences {fd}"
                );
            }
        }
    }
}

/// An objective that says it is odd is: f(−x) = −f(x) at random points; the odd-p p-spin says
/// so and the even-p one does not.
#[test]
fn odd_objectives_change_sign_under_x_to_minus_x() {
    let mut s = Sampler::new(13, 0, Stream::Init);
    for spec in &cases() {
        let obj = build(spec);
        if !obj.odd() {
            continue;
        }
        for _ in 0..4 {
            let x = sample(obj.as_ref(), &mut s);
            let minus: Vec<f64> = x.iter().map(|v| -v).collect();
            let (f, g) = (obj.value(&x), obj.value(&minus));
            assert!(
                (f + g).abs() <= 1e-12 * f.abs().max(1.0),
                "{spec}: {f} vs {g}"
            );
        }
    }
    let odd = |spec: &str| build(spec).odd();
    assert!(odd("pspin:p=3,n=4") && !odd("pspin:p=2,n=4") && !odd("pspin:p=4,n=4"));
    assert!(!odd("double-well:n=2") && !odd("himmelblau"));
}

#[test]
fn hessian_matches_differences_is_symmetric_and_agrees_with_hvp() {
    let mut s = Sampler::new(12, 0, Stream::Init);
    for spec in &cases() {
        let obj = build(spec);
        let n = obj.dim();
        for _ in 0..3 {
            let x = sample(obj.as_ref(), &mut s);
            let h = obj.hessian(&x);
            assert_eq!(h.shape(), (n, n), "{spec}");
            let scale = max_abs(h.iter().copied()).max(1.0);
            for j in 0..n {
                let (xp, xm, step) = probe(&x, j);
                let (gp, gm) = (grad(obj.as_ref(), &xp), grad(obj.as_ref(), &xm));
                for i in 0..n {
                    let fd = (gp[i] - gm[i]) / step;
                    assert!(
                        (fd - h[(i, j)]).abs() <= FD_TOL * scale,
                        "{spec}: at {x:?}, H[{i},{j}]: analytic {} vs differences {fd}",
                        h[(i, j)]
                    );
                    assert!(
                        (h[(i, j)] - h[(j, i)]).abs() <= 1e-12 * scale,
                        "{spec}: H not symmetric at ({i},{j})"
                    );
                }
            }
            let v: Vec<f64> = (0..n).map(|_| s.normal()).collect();
            let mut hv = vec![f64::NAN; n];
            obj.hvp(&x, &v, &mut hv);
            let want = &h * DVector::from_column_slice(&v);
            let vscale = scale * max_abs(v.iter().copied()) * n as f64;
            for i in 0..n {
                assert!(
                    (hv[i] - want[i]).abs() <= 1e-12 * vscale,
                    "{spec}: hvp[{i}] = {} but (H v)[{i}] = {}",
                    hv[i],
                    want[i]
                );
            }
        }
    }
}

#[test]
fn wgsl_validates_with_naga() {
    let opt = crate::rules::parse("gradnorm").unwrap();
    for spec in &cases() {
        let obj = build(spec);
        let (module, _) = shader::walk_module(spec, obj.as_ref(), &opt).unwrap();
        if let Err(e) = shader::validate(&module) {
            panic!("{spec}: {e}\n{}", module.source);
        }
        assert!(obj.params().iter().all(|v| v.is_finite()), "{spec}: params");
    }
}

#[test]
fn specs_round_trip() {
    for spec in &cases() {
        let obj = build(spec);
        let again = build(&obj.spec());
        assert_eq!(again.spec(), obj.spec());
        let mut s = Sampler::new(13, 0, Stream::Init);
        let x = sample(obj.as_ref(), &mut s);
        assert_eq!(
            obj.value(&x),
            again.value(&x),
            "{spec}: rebuilt landscape differs"
        );
    }
    assert_eq!(build("rastrigin:5").spec(), "rastrigin:n=5");
    assert_eq!(build("pspin:4,6,9").spec(), "pspin:p=4,n=6,seed=9");
}

#[test]
fn bad_specs_name_the_problem_and_the_valid_choices() {
    let msg = |spec: &str| match parse(spec) {
        Ok(o) => panic!("{spec} was accepted as {}", o.spec()),
        Err(e) => e.to_string(),
    };
    let e = msg("pspin:p=0");
    assert!(e.contains("p=0") && e.contains("2..=4"), "{e}");
    let e = msg("rastrigin:n=0");
    assert!(e.contains("n=0") && e.contains("1..=65536"), "{e}");
    let e = msg("field:length=-1");
    assert!(e.contains("length=-1") && e.contains("> 0"), "{e}");
    let e = msg("nosuch");
    assert!(
        e.contains("nosuch") && e.contains("himmelblau") && e.contains("pspin"),
        "{e}"
    );
    let e = msg("rosenbrock:n=1");
    assert!(e.contains("2..=65536"), "{e}");
    let e = msg("field:mu=-0.5");
    assert!(e.contains("mu") && e.contains(">= 0"), "{e}");
    let e = msg("field:seed=1.5");
    assert!(e.contains("seed") && e.contains("integer"), "{e}");
    let e = msg("field:features=0");
    assert!(e.contains("features"), "{e}");
    let e = msg("saddle:n=3");
    assert!(e.contains("no parameters"), "{e}");
    let e = msg("pspin:p=4,n=283");
    assert!(e.contains("n <= 282") && e.contains("2^30"), "{e}");
    let e = msg("pspin:p=3,n=2000");
    assert!(e.contains("n <= 1289"), "{e}");
    let e = msg("field:n=4096,features=1048576");
    assert!(e.contains("features") && e.contains("2^30"), "{e}");
}

/// Newton's method on the twin: returns the critical point near `x0`.
fn newton(obj: &dyn Objective, x0: &[f64]) -> Vec<f64> {
    let mut x = DVector::from_column_slice(x0);
    for _ in 0..30 {
        let g = DVector::from_vec(grad(obj, x.as_slice()));
        let step = obj
            .hessian(x.as_slice())
            .lu()
            .solve(&g)
            .expect("Hessian is regular near the critical point");
        x -= step;
    }
    x.as_slice().to_vec()
}

/// Hessian eigenvalues, sorted ascending.
fn eigenvalues(h: DMatrix<f64>) -> Vec<f64> {
    let mut e: Vec<f64> = h.symmetric_eigen().eigenvalues.iter().copied().collect();
    e.sort_by(f64::total_cmp);
    e
}

/// Polishes `x0` and checks it is a critical point close to `x0` with value `f` and `index`
/// negative Hessian eigenvalues.
fn check_critical(spec: &str, x0: &[f64], f: f64, f_tol: f64, index: usize) {
    let obj = build(spec);
    let x = newton(obj.as_ref(), x0);
    let dist = max_abs(x.iter().zip(x0).map(|(a, b)| a - b));
    assert!(dist < 1e-3, "{spec}: Newton from {x0:?} went to {x:?}");
    let g = max_abs(grad(obj.as_ref(), &x));
    assert!(g < 1e-9, "{spec}: |grad| = {g} at {x:?}");
    let fx = obj.value(&x);
    assert!(
        (fx - f).abs() <= f_tol,
        "{spec}: f({x:?}) = {fx}, expected {f}"
    );
    let eig = eigenvalues(obj.hessian(&x));
    assert!(
        eig.iter().all(|e| e.abs() > 1e-6),
        "{spec}: degenerate {eig:?}"
    );
    let neg = eig.iter().filter(|&&e| e < 0.0).count();
    assert_eq!(neg, index, "{spec}: eigenvalues {eig:?} at {x:?}");
}

#[test]
fn himmelblau_minima_and_maximum() {
    for m in [
        [3.0, 2.0],
        [-2.805118, 3.131312],
        [-3.779310, -3.283186],
        [3.584428, -1.848126],
    ] {
        check_critical("himmelblau", &m, 0.0, 1e-20, 0);
    }
    let obj = build("himmelblau");
    assert_eq!(obj.value(&[3.0, 2.0]), 0.0);
    assert_eq!(grad(obj.as_ref(), &[3.0, 2.0]), vec![0.0, 0.0]);
    check_critical("himmelblau", &[-0.270845, -0.923039], 181.6165, 1e-4, 2);
}

#[test]
fn muller_brown_minima_and_saddle() {
    check_critical("muller-brown", &[-0.558, 1.442], -146.70, 0.01, 0);
    check_critical("muller-brown", &[0.623, 0.028], -108.17, 0.01, 0);
    check_critical("muller-brown", &[-0.050, 0.467], -80.77, 0.01, 0);
    let saddle = build("muller-brown")
        .known_saddle()
        .expect("a known saddle");
    check_critical("muller-brown", &saddle, -40.665, 1e-3, 1);
    // And the lower saddle between the two lower minima.
    check_critical("muller-brown", &[0.212, 0.293], -72.249, 1e-3, 1);
}

#[test]
fn camel6_minima_and_saddle() {
    check_critical("camel6", &[0.0898, -0.7126], -1.0316, 1e-4, 0);
    check_critical("camel6", &[-0.0898, 0.7126], -1.0316, 1e-4, 0);
    let saddle = build("camel6").known_saddle().expect("a known saddle");
    check_critical("camel6", &saddle, 0.0, 1e-15, 1);
}

#[test]
fn known_saddles_are_critical_points() {
    for e in registry() {
        let obj = build(e.name);
        if let Some(x) = obj.known_saddle() {
            let g = max_abs(grad(obj.as_ref(), &x));
            assert!(g < 1e-9, "{}: |grad| = {g} at the known saddle", e.name);
            assert_eq!(x.len(), obj.dim());
        }
    }
    let monkey = build("monkey-saddle");
    assert_eq!(monkey.known_saddle(), Some(vec![0.0, 0.0]));
    assert!(monkey.hessian(&[0.0, 0.0]).iter().all(|&v| v == 0.0));
    assert_eq!(build("saddle").known_saddle(), Some(vec![0.0, 0.0]));
}

#[test]
fn nd_minima() {
    // double-well: minima at every x_i = +-1 with Hessian 8 I; a saddle at each 0 coordinate.
    check_critical("double-well:n=3", &[1.0, -1.0, 1.0], 0.0, 1e-20, 0);
    check_critical("double-well:n=3", &[1.0, 0.0, -1.0], 1.0, 1e-12, 1);
    // rastrigin and ackley: global minimum 0 at the origin.
    let r = build("rastrigin:n=4");
    assert_eq!(r.value(&[0.0; 4]), 0.0);
    assert!(max_abs(grad(r.as_ref(), &[0.0; 4])) == 0.0);
    let a = build("ackley:n=3");
    assert!(a.value(&[0.0; 3]).abs() < 1e-14);
    assert_eq!(
        grad(a.as_ref(), &[0.0; 3]),
        vec![0.0; 3],
        "subgradient 0 at the cusp"
    );
    let eig = eigenvalues(a.hessian(&[0.0; 3]));
    assert!(eig.iter().all(|e| e.is_finite() && *e > 1e6), "{eig:?}");
    let mut hv = vec![f64::NAN; 3];
    a.hvp(&[0.0; 3], &[1.0, -2.0, 0.5], &mut hv);
    assert!(hv.iter().all(|v| v.is_finite()));
    // styblinski-tang: the global minimum -39.16617 N at x_i = -2.903534.
    check_critical(
        "styblinski-tang:n=3",
        &[-2.903534; 3],
        -39.16617 * 3.0,
        1e-4,
        0,
    );
    // rosenbrock: 0 at (1, .., 1).
    check_critical("rosenbrock:n=5", &[1.0; 5], 0.0, 1e-20, 0);
    // flat-well: f, grad and Hessian vanish on the plateau [-1, 1]^N.
    let fw = build("flat-well:n=3");
    let x = [0.9, -0.3, 1.0];
    assert_eq!(fw.value(&x), 0.0);
    assert_eq!(grad(fw.as_ref(), &x), vec![0.0; 3]);
    assert!(fw.hessian(&x).iter().all(|&v| v == 0.0));
    assert_eq!(fw.value(&[1.5, 0.0, -2.0]), 0.25 + 1.0);
}

/// The raw couplings the p-spin draws: N^p normals, row-major.
fn raw_couplings(p: u32, n: usize, seed: u64) -> Vec<f64> {
    let mut s = Sampler::new(seed, 0, Stream::Landscape);
    (0..n.pow(p)).map(|_| s.normal()).collect()
}

/// c sum J_{i1..ip} x_{i1}..x_{ip} straight from the definition, with the raw J.
fn pspin_by_definition(p: u32, n: usize, j: &[f64], x: &[f64]) -> f64 {
    let c = (n as f64).powf(-(f64::from(p) - 1.0) / 2.0);
    let mut sum = 0.0;
    for (flat, jv) in j.iter().enumerate() {
        let (mut r, mut prod) = (flat, *jv);
        for _ in 0..p {
            prod *= x[r % n];
            r /= n;
        }
        sum += prod;
    }
    c * sum
}

#[test]
fn pspin_p2_is_a_quadratic_form() {
    let n = 6;
    let obj = build("pspin:p=2,n=6,seed=4");
    let j = raw_couplings(2, n, 4);
    let mut s = Sampler::new(14, 0, Stream::Init);
    let x = sample(obj.as_ref(), &mut s);
    let jm = DMatrix::from_row_slice(n, n, &j);
    let xv = DVector::from_column_slice(&x);
    let want = xv.dot(&(&jm * &xv)) / (n as f64).sqrt();
    assert!((obj.value(&x) - want).abs() < 1e-12 * want.abs().max(1.0));
    // Its Hessian is (J + J^T)/sqrt(N) everywhere.
    let h = obj.hessian(&x);
    let hw = (&jm + jm.transpose()) / (n as f64).sqrt();
    assert!((h - hw).amax() < 1e-12);
}

#[test]
fn pspin_symmetrisation_preserves_the_value() {
    let mut s = Sampler::new(15, 0, Stream::Init);
    for (p, n, seed) in [(2u32, 5usize, 0u64), (3, 4, 1), (4, 3, 2), (3, 7, 5)] {
        let obj = build(&format!("pspin:p={p},n={n},seed={seed}"));
        let j = raw_couplings(p, n, seed);
        let x = sample(obj.as_ref(), &mut s);
        let want = pspin_by_definition(p, n, &j, &x);
        assert!(
            (obj.value(&x) - want).abs() < 1e-12 * want.abs().max(1.0),
            "p={p} n={n}: {} vs {want}",
            obj.value(&x)
        );
        // Homogeneity of degree p: x . grad H = p H.
        let g = grad(obj.as_ref(), &x);
        let xg: f64 = x.iter().zip(&g).map(|(a, b)| a * b).sum();
        assert!((xg - f64::from(p) * want).abs() < 1e-10 * want.abs().max(1.0));
        // Permuting J's indices (a cyclic shift of the axes) changes nothing.
        let mut shifted = vec![0.0; j.len()];
        for (flat, v) in j.iter().enumerate() {
            let (r, last) = (flat / n, flat % n);
            shifted[last * n.pow(p - 1) + r] = *v;
        }
        assert_ne!(shifted, j);
        let other = PSpin::from_couplings("shifted".into(), p, n, shifted);
        assert!((other.value(&x) - obj.value(&x)).abs() < 1e-12 * want.abs().max(1.0));
        assert_eq!(other.params().len(), n * tuples(n, p as usize - 1));
        let diff = max_abs(other.params().iter().zip(obj.params()).map(|(a, b)| a - b));
        assert!(diff < 1e-6, "symmetrised tensors differ by {diff}");
    }
}

/// The number of nondecreasing k-tuples over 0..n, counted by enumeration.
fn tuples(n: usize, k: usize) -> usize {
    fn count(lo: usize, n: usize, k: usize) -> usize {
        if k == 0 {
            1
        } else {
            (lo..n).map(|v| count(v, n, k - 1)).sum()
        }
    }
    count(0, n, k)
}

/// The packed couplings against the dense symmetrised tensor built from the raw draws: entry
/// (i, t) is the number of orders of t times the mean of J over the orders of (i, t).
#[test]
fn pspin_packs_the_symmetric_couplings() {
    for (p, n, seed) in [(2u32, 5usize, 3u64), (3, 6, 4), (4, 4, 5)] {
        let obj = build(&format!("pspin:p={p},n={n},seed={seed}"));
        let j = raw_couplings(p, n, seed);
        let k = p as usize - 1;
        let jt = obj.params();
        let t = tuples(n, k);
        assert_eq!(jt.len(), n * t);
        // Every dense multi-index, grouped by (first index, sorted rest).
        let mut groups: std::collections::BTreeMap<Vec<usize>, Vec<f64>> = Default::default();
        let mut rows: std::collections::BTreeMap<(usize, Vec<usize>), (f64, usize)> =
            Default::default();
        for (flat, v) in j.iter().enumerate() {
            let mut idx: Vec<usize> = (0..p).map(|d| flat / n.pow(p - 1 - d) % n).collect();
            let first = idx[0];
            let mut rest = idx.split_off(1);
            rest.sort_unstable();
            let mut all = rest.clone();
            all.push(first);
            all.sort_unstable();
            groups.entry(all).or_default().push(*v);
            let e = rows.entry((first, rest)).or_insert((0.0, 0));
            e.1 += 1;
        }
        // Rows in lexicographic order of the sorted rest, as the packing enumerates them.
        for (pos, ((i, rest), (_, orders))) in rows.iter().enumerate() {
            let mut all = rest.clone();
            all.push(*i);
            all.sort_unstable();
            let g = &groups[&all];
            let mean = g.iter().sum::<f64>() / g.len() as f64;
            let (row, col) = (pos / t, pos % t);
            assert_eq!(row, *i);
            let got = jt[row * t + col];
            let want = *orders as f64 * mean;
            assert!(
                (got - want).abs() <= 1e-12 * want.abs().max(1.0),
                "p={p} n={n} row {i} tuple {rest:?}: {got} vs {want}"
            );
        }
    }
}

#[test]
fn pspin_lives_on_the_sphere_and_caps_its_size() {
    let obj = build("pspin");
    assert!(obj.sphere());
    assert_eq!(obj.domain(), Domain::Sphere);
    assert_eq!(obj.spec(), "pspin:p=3,n=16,seed=0");
    assert_eq!(obj.params().len(), 16 * 16 * 17 / 2);
    // The caps are the largest N whose N·C(N+p-2, p-1) packed floats fit in 2^30.
    for (p, cap) in [(2u32, 32768usize), (3, 1289), (4, 282)] {
        let floats = |n: usize| n * tuples_closed(n, p as usize - 1);
        assert!(floats(cap) <= 1 << 30 && floats(cap + 1) > 1 << 30, "p={p}");
        let e = parse(&format!("pspin:p={p},n={}", cap + 1))
            .err()
            .map(|e| e.to_string());
        assert!(
            e.as_ref()
                .is_some_and(|e| e.contains(&format!("n <= {cap} for p={p}"))),
            "{e:?}"
        );
    }
}

/// C(n + k - 1, k) for k <= 3, the closed form of [`tuples`].
fn tuples_closed(n: usize, k: usize) -> usize {
    match k {
        1 => n,
        2 => n * (n + 1) / 2,
        _ => n * (n + 1) * (n + 2) / 6,
    }
}

#[test]
fn field_value_at_origin_and_feature_statistics() {
    let obj = build("field:n=4,features=64,seed=9");
    let field = super::field::Field::from_spec("field:n=4,features=64,seed=9");
    let want: f64 = (2.0f64 / 64.0).sqrt()
        * field
            .a
            .iter()
            .zip(&field.b)
            .map(|(a, b)| a * b.cos())
            .sum::<f64>();
    assert!((obj.value(&[0.0; 4]) - want).abs() < 1e-12);

    // a ~ N(0, 1), w ~ N(0, 1/l^2), b ~ U(0, 2 pi).
    let big = super::field::Field::from_spec("field:n=16,features=4096,length=0.5,seed=2");
    let mean_var = |v: &[f64]| {
        let m = v.iter().sum::<f64>() / v.len() as f64;
        (
            m,
            v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64,
        )
    };
    let (am, av) = mean_var(&big.a);
    assert!(am.abs() < 0.06 && (av - 1.0).abs() < 0.06, "a: {am} {av}");
    let (wm, wv) = mean_var(&big.w);
    assert!(wm.abs() < 0.03 && (wv - 4.0).abs() < 0.1, "w: {wm} {wv}");
    let (bm, _) = mean_var(&big.b);
    assert!(big
        .b
        .iter()
        .all(|b| (0.0..std::f64::consts::TAU).contains(b)));
    assert!((bm - std::f64::consts::PI).abs() < 0.1, "b: {bm}");

    // Another seed is another landscape; the same seed the same one.
    let other = build("field:n=4,features=64,seed=10");
    assert_ne!(obj.value(&[0.3; 4]), other.value(&[0.3; 4]));
    assert_eq!(
        obj.value(&[0.3; 4]),
        build("field:n=4,features=64,seed=9").value(&[0.3; 4])
    );
    // The GPU layout: W (rows w_m), W^T, s_m = sqrt(2/M) a_m, b_m.
    let p = obj.params();
    let (m, n) = (64, 4);
    assert_eq!(p.len(), 2 * m * (n + 1));
    assert_eq!(p[5 * n + 2], field.w[5 * n + 2]);
    assert_eq!(p[m * n + 2 * m + 5], field.w[5 * n + 2]);
    assert_eq!(p[2 * m * n + 5], (2.0f64 / 64.0).sqrt() * field.a[5]);
    assert_eq!(p[2 * m * n + m + 5], field.b[5]);
}

#[test]
fn plateau_points_lie_well_inside_a_flat_region() {
    for e in registry() {
        let obj = build(e.name);
        let Some(x) = obj.plateau() else { continue };
        assert_eq!(x.len(), obj.dim(), "{}", e.name);
        // Flat on a neighbourhood: f, gradient and Hessian equal the centre's at every point of
        // a cloud of radius 0.5 around it.
        let f0 = obj.value(&x);
        let mut s = Sampler::new(5, 0, Stream::Perturb);
        for _ in 0..200 {
            let y: Vec<f64> = x
                .iter()
                .map(|v| v + 0.5 * (2.0 * s.uniform() - 1.0))
                .collect();
            assert_eq!(obj.value(&y), f0, "{}", e.name);
            assert_eq!(max_abs(grad(obj.as_ref(), &y)), 0.0, "{}", e.name);
            assert!(obj.hessian(&y).iter().all(|&h| h == 0.0), "{}", e.name);
        }
    }
    assert_eq!(build("flat-well:n=3").plateau(), Some(vec![0.0; 3]));
    assert_eq!(build("saddle").plateau(), None);
}

#[test]
fn retraction_reaches_the_sphere_from_tiny_and_huge_vectors() {
    // |x|^2 underflows (1e-300) or overflows (1e300) in f64; the retraction still lands on
    // |x|^2 = N in the direction of x, and leaves the zero vector alone.
    for scale in [1e-300, 1e-170, 1.0, 1e170, 1e300] {
        let mut x = vec![3.0 * scale, 0.0, -4.0 * scale];
        sphere::retract(&mut x);
        let want = [3.0 / 5.0 * 3f64.sqrt(), 0.0, -4.0 / 5.0 * 3f64.sqrt()];
        for (a, b) in x.iter().zip(want) {
            assert!((a - b).abs() < 1e-14, "scale {scale}: {x:?}");
        }
    }
    let mut z = vec![0.0; 4];
    sphere::retract(&mut z);
    assert_eq!(z, vec![0.0; 4]);
}
