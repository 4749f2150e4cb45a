//! The 2-D slice a basin picture lives on: a centre and two orthonormal directions u, v in R^N,
//! an extent in the slice's own coordinates (s, t), and the pixel grid laid over it.
//!
//! Pixel (i, j) — column i of W, row j of H — is the point
//! `centre + s_i u + t_j v` with `s_i = x0 + (i + ½)(x1 − x0)/W` and `t_j = y1 − (j + ½)(y1 − y0)/H`:
//! pixel centres, and row 0 is the TOP row of the image (largest t). On sphere objectives the
//! slice is the radial projection of that affine plane onto |x|² = N (each point is rescaled).

use rayon::prelude::*;

use crate::critical::load::StoredCatalogue;
use crate::objective::{sphere, Domain, Objective};
use crate::rng::{Sampler, Stream};
use crate::spec::{parse_number, SpecError};

/// The most pixels one picture may have (4096 x 4096).
pub const MAX_PIXELS: usize = 1 << 24;
/// The most numbers one W·H x N array of positions may hold (2^29 f64 = 4 GiB).
pub const MAX_POSITIONS: usize = 1 << 29;

/// The Philox walker id of the random plane's draws (stream `Init`): basin walkers never draw
/// from `Init` (their starts are grid points), so this cannot collide with their randomness.
const PLANE_ID: u32 = u32::MAX;

/// The pixel grid: W columns, H rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Grid {
    pub width: usize,
    pub height: usize,
}

impl Grid {
    pub fn pixels(&self) -> usize {
        self.width * self.height
    }
}

/// The rectangle of the slice the image covers: s in [x0, x1] (along u, left to right), t in
/// [y0, y1] (along v, bottom to top).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Extent {
    pub x0: f64,
    pub x1: f64,
    pub y0: f64,
    pub y1: f64,
}

impl Extent {
    fn symmetric(hx: f64, hy: f64) -> Extent {
        Extent {
            x0: -hx,
            x1: hx,
            y0: -hy,
            y1: hy,
        }
    }
    fn contains(&self, s: f64, t: f64) -> bool {
        s >= self.x0 && s <= self.x1 && t >= self.y0 && t <= self.y1
    }
}

/// `--plane` as the user wrote it.
#[derive(Debug, Clone, PartialEq)]
pub enum PlaneArg {
    /// No --plane: the coordinate plane (N = 2 only).
    Coordinate,
    /// `random[;center=…]`: a seed-derived orthonormal pair.
    Random { centre: Option<Vec<f64>> },
    /// `center=…;u=…;v=…` (center optional).
    Given {
        centre: Option<Vec<f64>>,
        u: Vec<f64>,
        v: Vec<f64>,
    },
    /// `points=a,b,c`: through three critical points of a stored catalogue.
    Points { ids: [usize; 3] },
}

const PLANE_VALID: &str = "valid: --plane random | random;center=c1,c2,… | \
     center=c1,c2,…;u=u1,u2,…;v=v1,v2,… | points=a,b,c (ids of --catalogue DIR)";

fn vector(ctx: &str, key: &str, text: &str) -> Result<Vec<f64>, SpecError> {
    text.split(',')
        .map(|v| parse_number(ctx, key, v.trim()))
        .collect()
}

impl PlaneArg {
    pub fn parse(text: Option<&str>) -> Result<PlaneArg, SpecError> {
        let Some(text) = text else {
            return Ok(PlaneArg::Coordinate);
        };
        let ctx = format!("--plane '{text}'");
        let bad = |what: String| SpecError::Spec {
            context: ctx.to_string(),
            problem: format!("{what}; {PLANE_VALID}"),
        };
        let parts: Vec<&str> = text
            .split(';')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        let (random, parts) = match parts.first() {
            Some(&"random") => (true, &parts[1..]),
            _ => (false, &parts[..]),
        };
        let (mut centre, mut u, mut v, mut ids) = (None, None, None, None);
        for part in parts {
            let (k, val) = part
                .split_once('=')
                .ok_or_else(|| bad(format!("'{part}' is not key=value")))?;
            let (k, val) = (k.trim(), val.trim());
            match k {
                "center" | "centre" => centre = Some(vector(&ctx, k, val)?),
                "u" if !random => u = Some(vector(&ctx, k, val)?),
                "v" if !random => v = Some(vector(&ctx, k, val)?),
                "points" if !random => {
                    let v: Vec<usize> = val
                        .split(',')
                        .map(|p| p.trim().parse::<usize>())
                        .collect::<Result<_, _>>()
                        .map_err(|_| {
                            bad(format!("points={val} must be three critical-point ids"))
                        })?;
                    let ids3: [usize; 3] = v
                        .try_into()
                        .map_err(|_| bad(format!("points={val} must name exactly three ids")))?;
                    if ids3[0] == ids3[1] || ids3[0] == ids3[2] || ids3[1] == ids3[2] {
                        return Err(bad(format!("points={val} repeats an id")));
                    }
                    ids = Some(ids3);
                }
                _ => return Err(bad(format!("unknown key '{k}'"))),
            }
        }
        if random {
            return Ok(PlaneArg::Random { centre });
        }
        match (ids, u, v) {
            (Some(ids), None, None) if centre.is_none() => Ok(PlaneArg::Points { ids }),
            (Some(_), ..) => Err(bad("points=… takes no center, u or v".into())),
            (None, Some(u), Some(v)) => Ok(PlaneArg::Given { centre, u, v }),
            _ => Err(bad("give both u=… and v=…".into())),
        }
    }
}

/// Parses `--resolution`: `512` (512 x 512) or `800x600` (W x H).
pub fn parse_resolution(text: &str) -> Result<Grid, SpecError> {
    let bad = || {
        SpecError::Invalid(format!(
            "--resolution '{text}' is not valid; valid: a pixel count per side (e.g. 512) or \
             WxH (e.g. 800x600), each side 1..=4096, at most {MAX_PIXELS} pixels"
        ))
    };
    let side = |s: &str| -> Result<usize, SpecError> {
        s.trim()
            .parse::<usize>()
            .ok()
            .filter(|v| (1..=4096).contains(v))
            .ok_or_else(bad)
    };
    let (w, h) = match text.trim().split_once(['x', 'X']) {
        Some((w, h)) => (side(w)?, side(h)?),
        None => {
            let s = side(text)?;
            (s, s)
        }
    };
    if w * h > MAX_PIXELS {
        return Err(bad());
    }
    Ok(Grid {
        width: w,
        height: h,
    })
}

/// Parses `--extent`: `lo,hi` (both axes) or `x0,x1,y0,y1`.
pub fn parse_extent(text: &str) -> Result<Extent, SpecError> {
    let ctx = format!("--extent '{text}'");
    let v = vector(&ctx, "extent", text)?;
    let e = match v[..] {
        [lo, hi] => Extent {
            x0: lo,
            x1: hi,
            y0: lo,
            y1: hi,
        },
        [x0, x1, y0, y1] => Extent { x0, x1, y0, y1 },
        _ => {
            return Err(SpecError::Invalid(format!(
                "{ctx} has {} values; valid: lo,hi or x0,x1,y0,y1 (slice coordinates)",
                v.len()
            )))
        }
    };
    e.check(&ctx)?;
    Ok(e)
}

impl Extent {
    /// Each range goes from low to high, and its width is a finite number that f64 can cut
    /// into pixels: x1 − x0 overflows for --extent=-1e308,1e308, and the pixel and tick
    /// arithmetic of the figures never ends on an infinite width. `ctx` names where the
    /// extent comes from (the flag, or a manifest).
    pub fn check(&self, ctx: &str) -> Result<(), SpecError> {
        let bad = |problem: String| SpecError::Spec {
            context: ctx.to_string(),
            problem,
        };
        for (axis, lo, hi) in [("x", self.x0, self.x1), ("y", self.y0, self.y1)] {
            if !(lo.is_finite() && hi.is_finite()) {
                return Err(bad(format!(
                    "{axis} range {lo}..{hi} is not finite; valid: finite slice coordinates"
                )));
            }
            if lo >= hi {
                return Err(bad(
                    "each range must go from low to high (x0 < x1, y0 < y1)".to_string(),
                ));
            }
            let width = hi - lo;
            if !width.is_finite() || width > MAX_EXTENT_WIDTH {
                return Err(bad(format!(
                    "the {axis} range {lo}..{hi} is wider than {MAX_EXTENT_WIDTH:e} (its width \
                     {width:e}); valid: widths up to {MAX_EXTENT_WIDTH:e}"
                )));
            }
            if width <= 1e-9 * lo.abs().max(hi.abs()) {
                return Err(bad(format!(
                    "the {axis} range {lo}..{hi} is too narrow to cut into pixels in f64 (width \
                     {width:e}); valid: a width above 1e-9 times the coordinates' size"
                )));
            }
        }
        Ok(())
    }
}

/// The widest extent a basins picture takes: far beyond any landscape's scale, and small
/// enough that pixel coordinates, their squares in the objectives and the figures' ticks stay
/// finite.
pub const MAX_EXTENT_WIDTH: f64 = 1e100;

/// One of the three points a `points=` slice passes through, with its slice coordinates.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Through {
    pub id: usize,
    pub kind: String,
    pub index: usize,
    pub f: f64,
    pub s: f64,
    pub t: f64,
    pub x: Vec<f64>,
}

/// A resolved slice.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Plane {
    /// "coordinate", "random", "given" or "points".
    pub mode: &'static str,
    pub centre: Vec<f64>,
    pub u: Vec<f64>,
    pub v: Vec<f64>,
    pub extent: Extent,
    /// True on sphere objectives: grid points are rescaled onto |x|² = N.
    pub sphere: bool,
    /// Names of the two image axes, for figures.
    pub axes: [String; 2],
    /// What was adjusted (normalised, orthogonalised, projected) and other remarks.
    pub notes: Vec<String>,
    /// The three points of a `points=` slice.
    pub through: Vec<Through>,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}
/// a − (a·b) b for a unit b.
fn reject(a: &mut [f64], b: &[f64]) {
    let d = dot(a, b);
    a.iter_mut().zip(b).for_each(|(x, y)| *x -= d * y);
}

/// Orthonormalises (u, v) by Gram–Schmidt; None when either is (nearly) zero or they are
/// (nearly) parallel (|v − (v·û)û| ≤ 1e-9 |v|).
fn orthonormal(u: &[f64], v: &[f64]) -> Option<(Vec<f64>, Vec<f64>)> {
    let (nu, nv) = (norm(u), norm(v));
    if !(nu > 0.0 && nv > 0.0 && nu.is_finite() && nv.is_finite()) {
        return None;
    }
    let u: Vec<f64> = u.iter().map(|a| a / nu).collect();
    let mut w = v.to_vec();
    reject(&mut w, &u);
    let nw = norm(&w);
    if nw <= 1e-9 * nv {
        return None;
    }
    // A second pass removes what rounding left of u.
    w.iter_mut().for_each(|a| *a /= nw);
    reject(&mut w, &u);
    let nw = norm(&w);
    w.iter_mut().for_each(|a| *a /= nw);
    Some((u, w))
}

/// The centre of the objective's start domain (the origin for symmetric boxes).
fn domain_centre(obj: &dyn Objective) -> Vec<f64> {
    let n = obj.dim();
    match obj.domain() {
        Domain::Box { lo, hi } => vec![(lo + hi) / 2.0; n],
        Domain::Box2 { x, y } => (0..n)
            .map(|i| {
                if i == 0 {
                    (x.0 + x.1) / 2.0
                } else {
                    (y.0 + y.1) / 2.0
                }
            })
            .collect(),
        Domain::Sphere => vec![0.0; n],
    }
}

/// Half the width of the start domain along one coordinate (√N on spheres: the tangent plane
/// out to 45° along each axis).
fn domain_half_width(obj: &dyn Objective) -> f64 {
    match obj.domain() {
        Domain::Box { lo, hi } => (hi - lo) / 2.0,
        Domain::Box2 { x, y } => ((x.1 - x.0).max(y.1 - y.0)) / 2.0,
        Domain::Sphere => (obj.dim() as f64).sqrt(),
    }
}

/// Symmetric default extent of half-width `h`, widened along the longer image side so pixels
/// are square in slice units.
fn square_pixels(h: f64, grid: Grid) -> Extent {
    let r = grid.width as f64 / grid.height as f64;
    Extent::symmetric(h * r.max(1.0), h * (1.0 / r).max(1.0))
}

/// Everything [`Plane::build`] needs besides the parsed `--plane`.
pub struct PlaneInputs<'a> {
    pub obj: &'a dyn Objective,
    pub extent: Option<Extent>,
    pub grid: Grid,
    pub seed: u64,
    pub catalogue: Option<&'a StoredCatalogue>,
}

/// What one `--plane` mode resolves to, before the checks every mode shares.
struct Slice {
    mode: &'static str,
    centre: Vec<f64>,
    u: Vec<f64>,
    v: Vec<f64>,
    axes: [String; 2],
    default_extent: Extent,
}

/// A `--plane` vector must have one value per dimension.
fn check_len(what: &str, v: &[f64], n: usize) -> Result<(), SpecError> {
    if v.len() != n {
        Err(SpecError::Dimension {
            what: format!("--plane {what}"),
            got: v.len(),
            n,
        })
    } else {
        Ok(())
    }
}

/// Names of the image axes of a slice with its own (s, t) coordinates.
fn slice_axes() -> [String; 2] {
    ["s = (x − c)·u".to_string(), "t = (x − c)·v".to_string()]
}

/// No --plane: the coordinate plane over the start domain (N = 2, not on a sphere).
fn coordinate(obj: &dyn Objective) -> Result<Slice, SpecError> {
    let n = obj.dim();
    let on_sphere = obj.sphere();
    if n != 2 || on_sphere {
        return Err(SpecError::Invalid(format!(
            "{} has N = {n} dimensions{}: give --plane; {PLANE_VALID}",
            obj.spec(),
            if on_sphere { " on a sphere" } else { "" }
        )));
    }
    let e = match obj.domain() {
        Domain::Box2 { x, y } => Extent {
            x0: x.0,
            x1: x.1,
            y0: y.0,
            y1: y.1,
        },
        Domain::Box { lo, hi } => Extent {
            x0: lo,
            x1: hi,
            y0: lo,
            y1: hi,
        },
        Domain::Sphere => unreachable!("checked above"),
    };
    Ok(Slice {
        mode: "coordinate",
        centre: vec![0.0, 0.0],
        u: vec![1.0, 0.0],
        v: vec![0.0, 1.0],
        axes: ["x₀".to_string(), "x₁".to_string()],
        default_extent: e,
    })
}

/// `random[;center=…]`: two seed-derived directions (tangent to the sphere at the centre, on
/// spheres), orthonormalised; without a centre, the domain's centre or a random point of the
/// sphere.
fn random(
    centre: Option<&[f64]>,
    inp: &PlaneInputs,
    notes: &mut Vec<String>,
) -> Result<Slice, SpecError> {
    let obj = inp.obj;
    let n = obj.dim();
    let on_sphere = obj.sphere();
    let mut s = Sampler::new(inp.seed, PLANE_ID, Stream::Init);
    let mut c = match centre {
        Some(c) => {
            check_len("center", c, n)?;
            c.to_vec()
        }
        None if on_sphere => {
            notes.push("center: a random point of the sphere (from --seed)".into());
            (0..n).map(|_| s.normal()).collect()
        }
        None => domain_centre(obj),
    };
    if on_sphere {
        sphere::retract(&mut c);
    }
    let mut draw = || -> Vec<f64> {
        let mut a: Vec<f64> = (0..n).map(|_| s.normal()).collect();
        if on_sphere && norm(&c) > 0.0 {
            let cn: Vec<f64> = c.iter().map(|x| x / norm(&c)).collect();
            reject(&mut a, &cn);
        }
        a
    };
    let (a, b) = (draw(), draw());
    let (u, v) = orthonormal(&a, &b).ok_or_else(|| {
        SpecError::Invalid(format!(
            "--plane random: N = {n} is too small for two directions{}",
            if on_sphere {
                " tangent to the sphere"
            } else {
                ""
            }
        ))
    })?;
    Ok(Slice {
        mode: "random",
        centre: c,
        u,
        v,
        axes: slice_axes(),
        default_extent: square_pixels(domain_half_width(obj), inp.grid),
    })
}

/// `center=…;u=…;v=…`: the given directions, orthonormalised (after projection onto the
/// sphere's tangent space at the centre, on spheres), with a note for each adjustment.
fn given(
    centre: Option<&[f64]>,
    u: &[f64],
    v: &[f64],
    inp: &PlaneInputs,
    notes: &mut Vec<String>,
) -> Result<Slice, SpecError> {
    let obj = inp.obj;
    let n = obj.dim();
    check_len("u", u, n)?;
    check_len("v", v, n)?;
    let mut c = match centre {
        Some(c) => {
            check_len("center", c, n)?;
            c.to_vec()
        }
        None if obj.sphere() => {
            return Err(SpecError::Invalid(
                "--plane on a sphere objective needs center=… (a point it rescales onto \
                 |x|² = N)"
                    .into(),
            ))
        }
        None => domain_centre(obj),
    };
    let (mut u, mut v) = (u.to_vec(), v.to_vec());
    if obj.sphere() {
        tangent_at(&mut c, &mut u, &mut v, notes)?;
    }
    let (uu, vv) = orthonormal(&u, &v).ok_or_else(|| {
        SpecError::Invalid(
            "--plane: u and v must be nonzero and not parallel (after projection onto the \
             sphere's tangent space, on spheres)"
                .into(),
        )
    })?;
    if (norm(&u) - 1.0).abs() > 1e-12 {
        notes.push(format!("u normalised (|u| was {})", norm(&u)));
    }
    let uv = dot(&u, &v) / (norm(&u) * norm(&v));
    if uv.abs() > 1e-12 {
        notes.push(format!(
            "v orthogonalised against u (cos angle(u, v) was {uv:.6})"
        ));
    } else if (norm(&v) - 1.0).abs() > 1e-12 {
        notes.push(format!("v normalised (|v| was {})", norm(&v)));
    }
    Ok(Slice {
        mode: "given",
        centre: c,
        u: uu,
        v: vv,
        axes: slice_axes(),
        default_extent: square_pixels(domain_half_width(obj), inp.grid),
    })
}

/// On a sphere: rescales the centre `c` onto it and projects u and v onto its tangent space
/// there, with a note for each change.
fn tangent_at(
    c: &mut [f64],
    u: &mut [f64],
    v: &mut [f64],
    notes: &mut Vec<String>,
) -> Result<(), SpecError> {
    let before = c.to_vec();
    sphere::retract(c);
    if norm(c) == 0.0 {
        return Err(SpecError::Invalid(
            "--plane center=0 cannot be put on the sphere |x|² = N".into(),
        ));
    }
    if before
        .iter()
        .zip(c.iter())
        .any(|(a, b)| (a - b).abs() > 1e-12)
    {
        notes.push("center rescaled onto the sphere |x|² = N".into());
    }
    let cn: Vec<f64> = c.iter().map(|x| x / norm(c)).collect();
    if dot(u, &cn).abs() > 1e-12 * norm(u) || dot(v, &cn).abs() > 1e-12 * norm(v) {
        notes.push("u, v projected onto the sphere's tangent space at center".into());
    }
    reject(u, &cn);
    reject(v, &cn);
    Ok(())
}

/// `points=a,b,c`: the plane through three critical points of the catalogue, centred on their
/// centroid; each point is listed in `through` with its slice coordinates.
fn through_points(
    ids: &[usize; 3],
    inp: &PlaneInputs,
    notes: &mut Vec<String>,
    through: &mut Vec<Through>,
) -> Result<Slice, SpecError> {
    let obj = inp.obj;
    let n = obj.dim();
    let cat = inp.catalogue.ok_or_else(|| {
        SpecError::Invalid(
            "--plane points=a,b,c needs --catalogue DIR (a folder written by `saddlescope \
             sample`)"
                .into(),
        )
    })?;
    if cat.objective != obj.spec() {
        return Err(SpecError::Invalid(format!(
            "--catalogue was made for objective '{}', not '{}'; run basins with --objective {} \
             or sample this objective first",
            cat.objective,
            obj.spec(),
            cat.objective
        )));
    }
    let pts = [cat.point(ids[0])?, cat.point(ids[1])?, cat.point(ids[2])?];
    let centroid: Vec<f64> = (0..n)
        .map(|i| pts.iter().map(|p| p.x[i]).sum::<f64>() / 3.0)
        .collect();
    let ba: Vec<f64> = (0..n).map(|i| pts[1].x[i] - pts[0].x[i]).collect();
    let ca: Vec<f64> = (0..n).map(|i| pts[2].x[i] - pts[0].x[i]).collect();
    let (u, v) = orthonormal(&ba, &ca).ok_or_else(|| {
        SpecError::Invalid(format!(
            "--plane points={},{},{}: the three points are (nearly) on one line; choose three \
             that span a plane",
            ids[0], ids[1], ids[2]
        ))
    })?;
    let mut r: f64 = 0.0;
    for p in pts {
        let d: Vec<f64> = p.x.iter().zip(&centroid).map(|(a, b)| a - b).collect();
        let (s, t) = (dot(&d, &u), dot(&d, &v));
        r = r.max(s.abs()).max(t.abs());
        through.push(Through {
            id: p.id,
            kind: p.kind.clone(),
            index: p.index,
            f: p.f,
            s,
            t,
            x: p.x.clone(),
        });
    }
    notes.push(format!(
        "center: the centroid of points {}, {}, {}; u ∝ x_b − x_a, v ∝ (x_c − x_a) \
         orthogonalised against u",
        ids[0], ids[1], ids[2]
    ));
    Ok(Slice {
        mode: "points",
        centre: centroid,
        u,
        v,
        axes: slice_axes(),
        default_extent: square_pixels(1.5 * r, inp.grid),
    })
}

/// On a sphere the slice is the radial projection of the plane: the plane must miss the origin.
fn check_off_origin(s: &Slice, n: usize) -> Result<(), SpecError> {
    let mut off = s.centre.clone();
    reject(&mut off, &s.u);
    reject(&mut off, &s.v);
    if norm(&off) <= 1e-9 * (n as f64).sqrt() {
        return Err(SpecError::Invalid(
            "--plane: on a sphere objective the plane must not pass through the origin (its \
             radial projection would be undefined)"
                .into(),
        ));
    }
    Ok(())
}

/// One start position per pixel must fit in memory.
fn check_size(grid: Grid, n: usize) -> Result<(), SpecError> {
    let positions = grid.pixels().saturating_mul(n);
    if positions > MAX_POSITIONS {
        return Err(SpecError::TooLarge {
            what: format!("--resolution {}x{} with N = {n}", grid.width, grid.height),
            need: format!("{positions} start coordinates"),
            limit: format!("the {MAX_POSITIONS} that fit in memory"),
            valid: "a lower resolution".into(),
        });
    }
    Ok(())
}

impl Plane {
    /// Resolves `--plane` against the objective; every problem is a usage error.
    pub fn build(arg: &PlaneArg, inp: &PlaneInputs) -> Result<Plane, SpecError> {
        let n = inp.obj.dim();
        let on_sphere = inp.obj.sphere();
        let mut notes = Vec::new();
        let mut through = Vec::new();
        let slice = match arg {
            PlaneArg::Coordinate => coordinate(inp.obj)?,
            PlaneArg::Random { centre } => random(centre.as_deref(), inp, &mut notes)?,
            PlaneArg::Given { centre, u, v } => given(centre.as_deref(), u, v, inp, &mut notes)?,
            PlaneArg::Points { ids } => through_points(ids, inp, &mut notes, &mut through)?,
        };
        if on_sphere {
            check_off_origin(&slice, n)?;
            notes.push(
                "sphere objective: each grid point c + s·u + t·v is rescaled onto |x|² = N \
                 (radial projection of the plane)"
                    .into(),
            );
        }
        let axes = if on_sphere {
            [
                "s (plane coordinate along u)".to_string(),
                "t (plane coordinate along v)".to_string(),
            ]
        } else {
            slice.axes
        };
        let mut plane = Plane {
            mode: slice.mode,
            centre: slice.centre,
            u: slice.u,
            v: slice.v,
            extent: inp.extent.unwrap_or(slice.default_extent),
            sphere: on_sphere,
            axes,
            notes,
            through,
        };
        let outside: Vec<String> = plane
            .through
            .iter()
            .filter(|p| !plane.extent.contains(p.s, p.t))
            .map(|p| p.id.to_string())
            .collect();
        if !outside.is_empty() {
            plane.notes.push(format!(
                "warning: point(s) {} lie outside --extent",
                outside.join(", ")
            ));
        }
        plane.extent.check("--extent (the slice's default)")?;
        check_size(inp.grid, n)?;
        Ok(plane)
    }

    /// Slice coordinates of pixel (i, j)'s centre; row 0 is the top of the image.
    pub fn pixel_st(&self, grid: Grid, i: usize, j: usize) -> (f64, f64) {
        let e = &self.extent;
        let s = e.x0 + (i as f64 + 0.5) * (e.x1 - e.x0) / grid.width as f64;
        let t = e.y1 - (j as f64 + 0.5) * (e.y1 - e.y0) / grid.height as f64;
        (s, t)
    }

    /// The pixel whose cell holds slice point (s, t), if inside the extent.
    pub fn st_pixel(&self, grid: Grid, s: f64, t: f64) -> Option<(usize, usize)> {
        let e = &self.extent;
        let fi = (s - e.x0) / (e.x1 - e.x0) * grid.width as f64;
        let fj = (e.y1 - t) / (e.y1 - e.y0) * grid.height as f64;
        (fi >= 0.0 && fj >= 0.0 && fi < grid.width as f64 && fj < grid.height as f64)
            .then_some((fi as usize, fj as usize))
    }

    /// The point of R^N at slice coordinates (s, t) (on the sphere: rescaled onto it).
    pub fn point(&self, s: f64, t: f64, out: &mut [f64]) {
        for (k, o) in out.iter_mut().enumerate() {
            *o = self.centre[k] + s * self.u[k] + t * self.v[k];
        }
        if self.sphere {
            sphere::retract(out);
        }
    }

    /// Every pixel's point, row-major (walker w = j·W + i is pixel (i, j)).
    pub fn starts(&self, grid: Grid) -> Vec<f64> {
        let n = self.centre.len();
        let mut out = vec![0.0; grid.pixels() * n];
        out.par_chunks_mut(n).enumerate().for_each(|(w, row)| {
            let (s, t) = self.pixel_st(grid, w % grid.width, w / grid.width);
            self.point(s, t, row);
        });
        out
    }

    /// Slice coordinates (s, t) of x and its distance from the slice. Euclidean: the orthogonal
    /// projection onto the plane. Sphere: the plane point whose radial projection is nearest to
    /// x (None when x is in the opposite hemisphere, where no plane point projects).
    pub fn project(&self, x: &[f64]) -> Option<(f64, f64, f64)> {
        // Distances from explicit residual vectors: |x|² − s² − t² would cancel catastrophically
        // for points on the slice.
        let residual = |basis: &[(&[f64], f64)]| -> f64 {
            let mut r = x.to_vec();
            for (b, c) in basis {
                r.iter_mut()
                    .zip(b.iter())
                    .for_each(|(ri, bi)| *ri -= c * bi);
            }
            norm(&r)
        };
        if !self.sphere {
            let d: Vec<f64> = x.iter().zip(&self.centre).map(|(a, b)| a - b).collect();
            let (s, t) = (dot(&d, &self.u), dot(&d, &self.v));
            let mut r = d;
            for (b, c) in [(&self.u, s), (&self.v, t)] {
                r.iter_mut()
                    .zip(b.iter())
                    .for_each(|(ri, bi)| *ri -= c * bi);
            }
            return Some((s, t, norm(&r)));
        }
        // c' = the centre's part orthogonal to u and v; the slice's cone is span{c', u, v}.
        let mut cp = self.centre.clone();
        reject(&mut cp, &self.u);
        reject(&mut cp, &self.v);
        let cn = norm(&cp);
        let chat: Vec<f64> = cp.iter().map(|a| a / cn).collect();
        let (a, b, c) = (dot(x, &chat), dot(x, &self.u), dot(x, &self.v));
        if a <= 0.0 {
            return None;
        }
        // Scale the in-cone part of x onto the plane: its c'-component must equal |c'|.
        let lambda = cn / a;
        let s = lambda * b - dot(&self.centre, &self.u);
        let t = lambda * c - dot(&self.centre, &self.v);
        let dist = residual(&[(&chat, a), (&self.u, b), (&self.v, c)]);
        Some((s, t, dist))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objective;

    fn inputs(obj: &dyn Objective, grid: Grid) -> PlaneInputs<'_> {
        PlaneInputs {
            obj,
            extent: None,
            grid,
            seed: 3,
            catalogue: None,
        }
    }

    #[test]
    fn parses_plane_resolution_and_extent() {
        assert_eq!(PlaneArg::parse(None).unwrap(), PlaneArg::Coordinate);
        assert_eq!(
            PlaneArg::parse(Some("random")).unwrap(),
            PlaneArg::Random { centre: None }
        );
        assert_eq!(
            PlaneArg::parse(Some("random;center=1,2")).unwrap(),
            PlaneArg::Random {
                centre: Some(vec![1.0, 2.0])
            }
        );
        assert_eq!(
            PlaneArg::parse(Some("center=0,0,1;u=1,0,0;v=0,1,0")).unwrap(),
            PlaneArg::Given {
                centre: Some(vec![0.0, 0.0, 1.0]),
                u: vec![1.0, 0.0, 0.0],
                v: vec![0.0, 1.0, 0.0]
            }
        );
        assert_eq!(
            PlaneArg::parse(Some("points=4,0,2")).unwrap(),
            PlaneArg::Points { ids: [4, 0, 2] }
        );
        for bad in [
            "points=1,2",
            "points=1,1,2",
            "points=a,b,c",
            "u=1,0",
            "center=1,0;u=1,0;w=0,1",
            "random;u=1,0",
            "flat",
            "u=1,x;v=0,1",
        ] {
            let e = PlaneArg::parse(Some(bad)).unwrap_err().to_string();
            assert!(
                e.contains("valid") || e.contains("not a number"),
                "{bad}: {e}"
            );
        }
        assert_eq!(
            parse_resolution("800x600").unwrap(),
            Grid {
                width: 800,
                height: 600
            }
        );
        assert_eq!(parse_resolution("64").unwrap().pixels(), 4096);
        for bad in ["0", "x", "10x", "4097", "-3", "2.5", "100x0"] {
            assert!(parse_resolution(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_extent("-2,2").unwrap(),
            Extent {
                x0: -2.0,
                x1: 2.0,
                y0: -2.0,
                y1: 2.0
            }
        );
        assert_eq!(parse_extent("0,1,-3,-2").unwrap().y1, -2.0);
        for bad in ["1", "1,2,3", "2,1", "0,1,3,3", "a,b", "0,inf"] {
            assert!(parse_extent(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pixel_centres_are_symmetric_and_row_zero_is_the_top() {
        let obj = objective::parse("double-well:n=2").unwrap();
        let grid = Grid {
            width: 4,
            height: 2,
        };
        let p = Plane::build(&PlaneArg::Coordinate, &inputs(obj.as_ref(), grid)).unwrap();
        // Domain [-2, 2]^2: columns at s = -1.5, -0.5, 0.5, 1.5; rows at t = +1, -1.
        assert_eq!(p.pixel_st(grid, 0, 0), (-1.5, 1.0));
        assert_eq!(p.pixel_st(grid, 3, 1), (1.5, -1.0));
        assert_eq!(p.st_pixel(grid, -1.5, 1.0), Some((0, 0)));
        assert_eq!(p.st_pixel(grid, 1.9, -1.9), Some((3, 1)));
        assert_eq!(p.st_pixel(grid, 2.1, 0.0), None);
        let starts = p.starts(grid);
        assert_eq!(&starts[..2], &[-1.5, 1.0]);
        assert_eq!(&starts[2 * 7..], &[1.5, -1.0]);
    }

    #[test]
    fn given_planes_are_orthonormalised_and_say_so() {
        let obj = objective::parse("double-well:n=3").unwrap();
        let grid = Grid {
            width: 8,
            height: 8,
        };
        let arg = PlaneArg::parse(Some("u=2,0,0;v=1,1,0")).unwrap();
        let p = Plane::build(&arg, &inputs(obj.as_ref(), grid)).unwrap();
        assert_eq!(p.u, vec![1.0, 0.0, 0.0]);
        assert!((p.v[1] - 1.0).abs() < 1e-15 && p.v[0].abs() < 1e-15);
        assert!(p.notes.iter().any(|n| n.contains("normalised")));
        assert!(p.notes.iter().any(|n| n.contains("orthogonalised")));
        let parallel = PlaneArg::parse(Some("u=1,0,0;v=-2,0,0")).unwrap();
        assert!(Plane::build(&parallel, &inputs(obj.as_ref(), grid)).is_err());
        let short = PlaneArg::parse(Some("u=1,0;v=0,1")).unwrap();
        let e = Plane::build(&short, &inputs(obj.as_ref(), grid)).unwrap_err();
        assert!(e.to_string().contains("N = 3"), "{e}");
        let e = Plane::build(&PlaneArg::Coordinate, &inputs(obj.as_ref(), grid)).unwrap_err();
        assert!(e.to_string().contains("give --plane"), "{e}");
    }

    #[test]
    fn random_planes_are_orthonormal_and_seeded() {
        let obj = objective::parse("field:n=20,features=16").unwrap();
        let grid = Grid {
            width: 6,
            height: 3,
        };
        let arg = PlaneArg::Random { centre: None };
        let a = Plane::build(&arg, &inputs(obj.as_ref(), grid)).unwrap();
        let b = Plane::build(&arg, &inputs(obj.as_ref(), grid)).unwrap();
        assert_eq!(a.u, b.u);
        assert!((dot(&a.u, &a.u) - 1.0).abs() < 1e-14);
        assert!((dot(&a.v, &a.v) - 1.0).abs() < 1e-14);
        assert!(dot(&a.u, &a.v).abs() < 1e-14);
        // Square pixels: a 6x3 image is twice as wide in slice units as it is tall.
        let e = a.extent;
        assert!(((e.x1 - e.x0) / (e.y1 - e.y0) - 2.0).abs() < 1e-12);
        let mut other = inputs(obj.as_ref(), grid);
        other.seed = 4;
        assert_ne!(Plane::build(&arg, &other).unwrap().u, a.u);
    }

    #[test]
    fn sphere_slices_lie_on_the_sphere_and_project_back() {
        let obj = objective::parse("pspin:p=3,n=12").unwrap();
        let grid = Grid {
            width: 5,
            height: 5,
        };
        let p = Plane::build(
            &PlaneArg::Random { centre: None },
            &inputs(obj.as_ref(), grid),
        )
        .unwrap();
        assert!(p.notes.iter().any(|n| n.contains("rescaled")));
        let starts = p.starts(grid);
        for (w, x) in starts.chunks(12).enumerate() {
            assert!((dot(x, x) - 12.0).abs() < 1e-9);
            // Grid points lie on the slice: distance 0, and project back to their pixel.
            let (s, t, d) = p.project(x).unwrap();
            let (s0, t0) = p.pixel_st(grid, w % 5, w / 5);
            assert!((s - s0).abs() < 1e-9 && (t - t0).abs() < 1e-9 && d < 1e-9);
        }
        let e = Plane::build(&PlaneArg::Coordinate, &inputs(obj.as_ref(), grid)).unwrap_err();
        assert!(e.to_string().contains("sphere"));
    }
}
