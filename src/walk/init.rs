//! Starting points: `auto` (the objective's default domain), `uniform:lo=,hi=`,
//! `normal:sigma=` (around 0, or `center=a;b;...`), `point:x=a;b;...`. Each walker's start is a
//! pure function of (seed, global walker id). On spheres every start is retracted to |x|^2 = N.

use crate::objective::{sphere, Domain, Objective};
use crate::rng::{Sampler, Stream};
use crate::spec::{parse_number, SpecError};

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Init {
    Auto,
    Uniform {
        lo: f64,
        hi: f64,
    },
    Normal {
        sigma: f64,
        center: Option<Vec<f64>>,
    },
    Point {
        x: Vec<f64>,
    },
}

const VALID: &str =
    "valid: auto, uniform:lo=A,hi=B, normal:sigma=S[,center=a;b;...], point:x=a;b;...";

fn vector(context: &str, key: &str, text: &str) -> Result<Vec<f64>, SpecError> {
    text.split(';')
        .map(|v| parse_number(context, key, v.trim()))
        .collect()
}

impl Init {
    pub fn parse(text: &str) -> Result<Init, SpecError> {
        let (name, rest) = text.split_once(':').unwrap_or((text, ""));
        let ctx = format!("--init '{text}'");
        let mut kv = Vec::new();
        for part in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').ok_or_else(|| SpecError::Spec {
                context: ctx.to_string(),
                problem: format!("'{part}' is not key=value; {VALID}"),
            })?;
            kv.push((k.trim(), v.trim()));
        }
        let unknown = |k: &str, valid: &str| SpecError::UnknownKey {
            context: ctx.clone(),
            key: k.to_string(),
            valid: valid.to_string(),
        };
        match name.trim() {
            "auto" if kv.is_empty() => Ok(Init::Auto),
            "uniform" => {
                let (mut lo, mut hi) = (-1.0, 1.0);
                for (k, v) in kv {
                    match k {
                        "lo" => lo = parse_number(&ctx, k, v)?,
                        "hi" => hi = parse_number(&ctx, k, v)?,
                        _ => return Err(unknown(k, "lo, hi")),
                    }
                }
                if lo >= hi {
                    return Err(SpecError::Spec {
                        context: ctx.to_string(),
                        problem: format!("lo must be below hi (got lo={lo}, hi={hi})"),
                    });
                }
                Ok(Init::Uniform { lo, hi })
            }
            "normal" => {
                let (mut sigma, mut center) = (1.0, None);
                for (k, v) in kv {
                    match k {
                        "sigma" => sigma = parse_number(&ctx, k, v)?,
                        "center" => center = Some(vector(&ctx, k, v)?),
                        _ => return Err(unknown(k, "sigma, center")),
                    }
                }
                if sigma < 0.0 {
                    return Err(SpecError::OutOfRange {
                        context: ctx,
                        key: "sigma".into(),
                        value: sigma.to_string(),
                        rule: "valid: >= 0".into(),
                    });
                }
                Ok(Init::Normal { sigma, center })
            }
            "point" => {
                let mut x = None;
                for (k, v) in kv {
                    match k {
                        "x" => x = Some(vector(&ctx, k, v)?),
                        _ => return Err(unknown(k, "x")),
                    }
                }
                let x = x.ok_or_else(|| SpecError::Spec {
                    context: ctx.to_string(),
                    problem: "point needs x=a;b;... with one value per dimension".to_string(),
                })?;
                Ok(Init::Point { x })
            }
            other => Err(SpecError::UnknownName {
                what: "init",
                name: other.to_string(),
                valid: "auto, uniform, normal, point".into(),
            }),
        }
    }

    /// Checks dimensions against the objective.
    pub fn check(&self, obj: &dyn Objective) -> Result<(), SpecError> {
        let n = obj.dim();
        let bad = |what: &str, got: usize| SpecError::Dimension {
            what: format!("--init {what}"),
            got,
            n,
        };
        match self {
            Init::Point { x } if x.len() != n => return Err(bad("point x", x.len())),
            Init::Normal {
                center: Some(c), ..
            } if c.len() != n => return Err(bad("normal center", c.len())),
            _ => {}
        }
        // On a sphere every start is rescaled to |x|^2 = N: a start that is the zero vector for
        // every walker has no point there.
        let zero = |v: &[f64]| v.iter().all(|&a| a == 0.0);
        let at_origin = match self {
            Init::Point { x } => zero(x),
            Init::Normal { sigma, center } => *sigma == 0.0 && center.as_deref().is_none_or(zero),
            _ => false,
        };
        if obj.sphere() && at_origin {
            return Err(SpecError::Invalid(format!(
                "--init: {} lives on the sphere |x|^2 = N = {n}; every start would be the zero \
                 vector, which has no point there; valid: a nonzero point:x=..., normal with \
                 sigma > 0 or a nonzero center, uniform, or auto",
                obj.spec()
            )));
        }
        Ok(())
    }

    /// Starting point of global walker `id`.
    pub fn start(&self, obj: &dyn Objective, seed: u64, id: u32, out: &mut [f64]) {
        let mut s = Sampler::new(seed, id, Stream::Init);
        match self {
            Init::Auto => match obj.domain() {
                Domain::Box { lo, hi } => out
                    .iter_mut()
                    .for_each(|v| *v = lo + (hi - lo) * s.uniform()),
                Domain::Box2 { x, y } => {
                    for (i, v) in out.iter_mut().enumerate() {
                        let (lo, hi) = if i == 0 { x } else { y };
                        *v = lo + (hi - lo) * s.uniform();
                    }
                }
                Domain::Sphere => out.iter_mut().for_each(|v| *v = s.normal()),
            },
            Init::Uniform { lo, hi } => out
                .iter_mut()
                .for_each(|v| *v = lo + (hi - lo) * s.uniform()),
            Init::Normal { sigma, center } => {
                for (i, v) in out.iter_mut().enumerate() {
                    *v = center.as_ref().map_or(0.0, |c| c[i]) + sigma * s.normal();
                }
            }
            Init::Point { x } => out.copy_from_slice(x),
        }
        if obj.sphere() {
            sphere::retract(out);
        }
    }

    /// Starts of walkers first..first+count, row-major.
    pub fn starts(&self, obj: &dyn Objective, seed: u64, first: u32, count: usize) -> Vec<f64> {
        use rayon::prelude::*;
        let n = obj.dim();
        let mut out = vec![0.0; count * n];
        out.par_chunks_mut(n)
            .enumerate()
            .for_each(|(w, row)| self.start(obj, seed, first + w as u32, row));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        assert_eq!(Init::parse("auto").unwrap(), Init::Auto);
        assert_eq!(
            Init::parse("uniform:lo=-2,hi=3").unwrap(),
            Init::Uniform { lo: -2.0, hi: 3.0 }
        );
        assert_eq!(
            Init::parse("point:x=1;2.5").unwrap(),
            Init::Point { x: vec![1.0, 2.5] }
        );
        assert!(Init::parse("uniform:lo=2,hi=1")
            .unwrap_err()
            .to_string()
            .contains("below"));
        assert!(Init::parse("gauss")
            .unwrap_err()
            .to_string()
            .contains("uniform"));
        assert!(Init::parse("normal:s=1")
            .unwrap_err()
            .to_string()
            .contains("sigma"));
        assert!(Init::parse("point:x=1;a")
            .unwrap_err()
            .to_string()
            .contains("not a number"));
    }
}
