//! Where escape walkers start: `--from saddle | point:x=a;b;… | critical:DIR,ID | plateau`,
//! and the perturbed starts around that point (uniform in a ball of radius r0, reproducible).

use std::path::{Path, PathBuf};

use crate::critical::load;
use crate::objective::{self, sphere, Objective};
use crate::rng::{Sampler, Stream};
use crate::spec::{self, SpecError};

const VALID: &str = "valid: saddle, point:x=a;b;..., critical:DIR,ID (a folder written by \
                     `saddlescope sample` and a critical-point id from its critical_points.csv), plateau";

/// The `--from` choice as given.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    Saddle,
    Point(Vec<f64>),
    Critical { dir: PathBuf, id: usize },
    Plateau,
}

/// The resolved starting point.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Centre {
    /// `saddle`, `point`, `critical` or `plateau`.
    pub kind: &'static str,
    pub x: Vec<f64>,
    /// For figure titles and logs, e.g. "critical point 3 (saddle, index 1) of runs/hb".
    pub description: String,
}

impl Origin {
    pub fn parse(text: &str) -> Result<Origin, SpecError> {
        let ctx = format!("--from '{text}'");
        let (name, rest) = text.split_once(':').unwrap_or((text, ""));
        match name.trim() {
            "saddle" | "plateau" if !rest.trim().is_empty() => Err(SpecError::Spec {
                context: ctx.to_string(),
                problem: format!("'{}' takes no arguments; {VALID}", name.trim()),
            }),
            "saddle" => Ok(Origin::Saddle),
            "plateau" => Ok(Origin::Plateau),
            "point" => {
                let v = rest
                    .trim()
                    .strip_prefix("x=")
                    .ok_or_else(|| SpecError::Spec {
                        context: ctx.to_string(),
                        problem: "write point:x=a;b;... with one value per dimension".to_string(),
                    })?;
                let x = v
                    .split(';')
                    .map(|p| spec::parse_number(&ctx, "x", p.trim()))
                    .collect::<Result<Vec<f64>, _>>()?;
                Ok(Origin::Point(x))
            }
            "critical" => {
                let (dir, id) = rest.rsplit_once(',').ok_or_else(|| SpecError::Spec {
                    context: ctx.to_string(),
                    problem: "write critical:DIR,ID (a sample run folder and a point id)"
                        .to_string(),
                })?;
                let id = id.trim().parse::<usize>().map_err(|_| SpecError::Spec {
                    context: ctx.to_string(),
                    problem: format!(
                        "'{}' is not a critical-point id (a whole number >= 0)",
                        id.trim()
                    ),
                })?;
                if dir.trim().is_empty() {
                    return Err(SpecError::Spec {
                        context: ctx.to_string(),
                        problem: "the folder is empty".to_string(),
                    });
                }
                Ok(Origin::Critical {
                    dir: PathBuf::from(dir.trim()),
                    id,
                })
            }
            other => Err(SpecError::Spec {
                context: ctx.to_string(),
                problem: format!("unknown start '{other}'; {VALID}"),
            }),
        }
    }

    /// The point on `obj`; every mismatch is a usage error naming what is valid.
    pub fn resolve(&self, obj: &dyn Objective) -> Result<Centre, SpecError> {
        let n = obj.dim();
        let (kind, mut x, description) = match self {
            Origin::Saddle => {
                let x = obj.known_saddle().ok_or_else(|| {
                    SpecError::Invalid(format!(
                        "--from saddle: {} has no known saddle; objectives with one: {} \
                         (or start from point:x=... or critical:DIR,ID)",
                        obj.spec(),
                        objectives_with(|o| o.known_saddle().is_some())
                    ))
                })?;
                ("saddle", x, "the known saddle".to_string())
            }
            Origin::Plateau => {
                let x = obj.plateau().ok_or_else(|| {
                    SpecError::Invalid(format!(
                        "--from plateau: {} has no known flat region; objectives with one: {} \
                         (or start from point:x=...)",
                        obj.spec(),
                        objectives_with(|o| o.plateau().is_some())
                    ))
                })?;
                ("plateau", x, "inside the plateau".to_string())
            }
            Origin::Point(x) => {
                if x.len() != n {
                    return Err(SpecError::Invalid(format!(
                        "--from point has {} values but {} has N = {n} dimensions",
                        x.len(),
                        obj.spec()
                    )));
                }
                ("point", x.clone(), "a given point".to_string())
            }
            Origin::Critical { dir, id } => critical_point(obj, dir, *id)?,
        };
        if obj.sphere() {
            if x.iter().all(|&v| v == 0.0) {
                return Err(SpecError::Invalid(format!(
                    "--from: {} lives on the sphere |x|^2 = N; the zero vector has no point there",
                    obj.spec()
                )));
            }
            sphere::retract(&mut x);
        }
        let description = if n <= 4 {
            let c: Vec<String> = x.iter().map(|&v| super::short(v)).collect();
            format!("{description} ({})", c.join(", "))
        } else {
            description
        };
        Ok(Centre {
            kind,
            x,
            description,
        })
    }
}

/// Point `id` of the catalogue in `dir`, which must have been made on `obj`: its kind,
/// position and description.
fn critical_point(
    obj: &dyn Objective,
    dir: &Path,
    id: usize,
) -> Result<(&'static str, Vec<f64>, String), SpecError> {
    let n = obj.dim();
    let cat = load::read(dir)?;
    if cat.objective != obj.spec() {
        return Err(SpecError::Invalid(format!(
            "--from critical: the catalogue in {} was made on '{}', not on '{}'; pass \
             --objective {}",
            dir.display(),
            cat.objective,
            obj.spec(),
            cat.objective
        )));
    }
    if cat.dim != n {
        return Err(SpecError::Invalid(format!(
            "--from critical: the catalogue in {} has N = {} but the objective has N = {n}",
            dir.display(),
            cat.dim
        )));
    }
    let p = cat.point(id)?;
    Ok((
        "critical",
        p.x.clone(),
        format!(
            "critical point {id} ({}, index {}) of {}",
            p.kind,
            p.index,
            dir.display()
        ),
    ))
}

/// Names of the objectives (built with default parameters) for which `has` holds.
fn objectives_with(has: fn(&dyn Objective) -> bool) -> String {
    objective::registry()
        .iter()
        .filter(|e| {
            spec::resolve(
                &spec::RawSpec {
                    name: e.name.to_string(),
                    args: vec![],
                },
                e.params,
            )
            .ok()
            .and_then(|v| (e.build)(&v).ok())
            .is_some_and(|o| has(o.as_ref()))
        })
        .map(|e| e.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Starts of `walkers` walkers around `centre`: walker w's offset is uniform in the ball of
/// radius `r0` (on spheres: in the tangent space at the centre, then retracted to |x|² = N),
/// drawn from the Philox stream `Init` keyed by (seed, w). So every arm of an escape run starts
/// from the same points, whatever the arms and their order. `r0 = 0` puts every walker exactly
/// at the centre. Row-major W x N.
pub fn starts(centre: &[f64], r0: f64, on_sphere: bool, seed: u64, walkers: usize) -> Vec<f64> {
    use rayon::prelude::*;
    let n = centre.len();
    let mut out = vec![0.0; walkers * n];
    out.par_chunks_mut(n).enumerate().for_each(|(w, row)| {
        row.copy_from_slice(centre);
        if r0 > 0.0 {
            let off = ball_offset(centre, r0, on_sphere, seed, w as u32);
            row.iter_mut().zip(&off).for_each(|(x, o)| *x += o);
            if on_sphere {
                sphere::retract(row);
            }
        }
    });
    out
}

/// A uniform sample of the ball of radius r0: Gaussian direction, radius r0·u^(1/d), with d = N
/// (or N − 1 in the tangent space at `centre` on the sphere).
fn ball_offset(centre: &[f64], r0: f64, on_sphere: bool, seed: u64, w: u32) -> Vec<f64> {
    let n = centre.len();
    let mut s = Sampler::new(seed, w, Stream::Init);
    let mut z: Vec<f64> = (0..n).map(|_| s.normal()).collect();
    let mut d = n;
    if on_sphere && n > 1 {
        let c2: f64 = centre.iter().map(|c| c * c).sum();
        let cz: f64 = centre.iter().zip(&z).map(|(c, v)| c * v).sum();
        z.iter_mut()
            .zip(centre)
            .for_each(|(v, c)| *v -= cz / c2 * c);
        d = n - 1;
    }
    let norm = z.iter().map(|v| v * v).sum::<f64>().sqrt();
    let radius = r0 * s.uniform().powf(1.0 / d as f64);
    z.iter().map(|v| v * radius / norm.max(1e-300)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form_and_names_bad_ones() {
        assert_eq!(Origin::parse("saddle").unwrap(), Origin::Saddle);
        assert_eq!(Origin::parse("plateau").unwrap(), Origin::Plateau);
        assert_eq!(
            Origin::parse("point:x=0;1e-3").unwrap(),
            Origin::Point(vec![0.0, 1e-3])
        );
        assert_eq!(
            Origin::parse("critical:runs/a,b,3").unwrap(),
            Origin::Critical {
                dir: PathBuf::from("runs/a,b"),
                id: 3
            }
        );
        for (bad, needle) in [
            ("ridge", "unknown start 'ridge'"),
            ("point:1;2", "point:x=a;b"),
            ("point:x=1;z", "not a number"),
            ("critical:runs", "critical:DIR,ID"),
            ("critical:runs,-1", "not a critical-point id"),
            ("saddle:3", "takes no arguments"),
        ] {
            let e = Origin::parse(bad).unwrap_err().to_string();
            assert!(e.contains(needle), "{bad}: {e}");
        }
    }

    #[test]
    fn resolve_checks_the_objective() {
        let saddle = objective::parse("saddle").unwrap();
        assert_eq!(
            Origin::Saddle.resolve(saddle.as_ref()).unwrap().x,
            [0.0, 0.0]
        );
        let e = Origin::Plateau
            .resolve(saddle.as_ref())
            .unwrap_err()
            .to_string();
        assert!(e.contains("flat-well"), "{e}");
        let hb = objective::parse("himmelblau").unwrap();
        let e = Origin::Saddle.resolve(hb.as_ref()).unwrap_err().to_string();
        assert!(
            e.contains("camel6") && e.contains("muller-brown") && !e.contains("himmelblau,"),
            "{e}"
        );
        let e = Origin::Point(vec![1.0; 3])
            .resolve(hb.as_ref())
            .unwrap_err()
            .to_string();
        assert!(e.contains("N = 2"), "{e}");
        let fw = objective::parse("flat-well:n=5").unwrap();
        assert_eq!(
            Origin::Plateau.resolve(fw.as_ref()).unwrap().x,
            vec![0.0; 5]
        );
        let ps = objective::parse("pspin:p=3,n=6").unwrap();
        let c = Origin::Point(vec![1.0; 6]).resolve(ps.as_ref()).unwrap();
        assert!((c.x.iter().map(|v| v * v).sum::<f64>() - 6.0).abs() < 1e-12);
        assert!(Origin::Point(vec![0.0; 6]).resolve(ps.as_ref()).is_err());
    }

    #[test]
    fn ball_starts_are_uniform_reproducible_and_exact_at_zero_radius() {
        let c = [0.5, -1.0, 2.0];
        let w = 20_000;
        let r0 = 0.1;
        let a = starts(&c, r0, false, 3, w);
        assert_eq!(a, starts(&c, r0, false, 3, w));
        assert_ne!(a, starts(&c, r0, false, 4, w));
        // Walker w's start does not depend on how many walkers there are.
        assert_eq!(&starts(&c, r0, false, 3, 10)[..], &a[..30]);
        let radii: Vec<f64> = a
            .chunks(3)
            .map(|x| {
                x.iter()
                    .zip(&c)
                    .map(|(p, q)| (p - q).powi(2))
                    .sum::<f64>()
                    .sqrt()
            })
            .collect();
        assert!(radii.iter().all(|&r| r <= r0 * (1.0 + 1e-12)));
        // Uniform in the 3-ball: P(r <= r0 s) = s^3; the mean offset is ~0.
        for s in [0.5f64, 0.8] {
            let frac = radii.iter().filter(|&&r| r <= r0 * s).count() as f64 / w as f64;
            assert!((frac - s.powi(3)).abs() < 0.015, "{s}: {frac}");
        }
        for i in 0..3 {
            let m = a.chunks(3).map(|x| x[i] - c[i]).sum::<f64>() / w as f64;
            assert!(m.abs() < 2e-3, "{m}");
        }
        assert_eq!(starts(&c, 0.0, false, 3, 4), c.repeat(4));
    }

    #[test]
    fn sphere_starts_stay_on_the_sphere_within_the_tangent_ball() {
        let n = 8;
        let mut c = vec![0.0; n];
        c[0] = (n as f64).sqrt();
        let r0 = 0.2;
        let xs = starts(&c, r0, true, 1, 4000);
        let mut small = 0;
        for x in xs.chunks(n) {
            assert!((x.iter().map(|v| v * v).sum::<f64>() - n as f64).abs() < 1e-9);
            // Retraction shortens a tangent offset t to the chord of angle atan(|t|/√N).
            let t = (x[1..].iter().map(|v| v * v).sum::<f64>()).sqrt() / x[0] * c[0];
            assert!(t <= r0 * (1.0 + 1e-9), "{t}");
            if t <= r0 * 0.5f64.powf(1.0 / 7.0) {
                small += 1;
            }
        }
        // Uniform in the 7-dimensional tangent ball: half the mass within r0·0.5^(1/7).
        assert!((small as f64 / 4000.0 - 0.5).abs() < 0.03, "{small}");
    }
}
