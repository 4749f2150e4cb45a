//! The data of the `mlp` objective: the generated sets (teacher, xor, spirals, blobs), drawn
//! from the seed with Philox (host side, `Stream::Landscape`), and a user's file (.npy or .csv).

use std::f64::consts::PI;
use std::path::Path;

use super::net::{Act, Data, Net};
use crate::output;
use crate::rng::{Sampler, Stream};
use crate::spec::SpecError;

/// The generated sets by name; any other `data=` value is a file path.
pub const GENERATED: &[&str] = &["teacher", "xor", "spirals", "blobs"];

/// Philox walker ids of the generators' streams (all `Stream::Landscape`, keyed by the seed).
const ID_TEACHER_WEIGHTS: u32 = 1;
const ID_INPUTS: u32 = 2;
const ID_NOISE: u32 = 3;
const ID_CENTRES: u32 = 4;

/// What the generators need to know.
pub struct Request<'a> {
    pub kind: &'a str,
    pub d: usize,
    pub o: usize,
    pub samples: usize,
    pub noise: f64,
    pub seed: u64,
    /// Labels ±1 (logistic, hinge) instead of real targets.
    pub signs: bool,
    /// The teacher's widths (data=teacher), its activation and biases.
    pub teacher: &'a [usize],
    pub act: Act,
    pub bias: bool,
}

fn sign(v: f64) -> f64 {
    if v < 0.0 {
        -1.0
    } else {
        1.0
    }
}

/// A generated set; `Err` names the widths it needs.
pub fn generate(r: &Request, context: &str) -> Result<Data, SpecError> {
    let need_2_1 = |name: &str| {
        if r.d != 2 || r.o != 1 {
            Err(SpecError::Spec {
                context: context.to_string(),
                problem: format!(
                    "data={name} has 2 inputs and 1 output, but widths start with {} and end \
                     with {}; valid: widths=2-…-1",
                    r.d, r.o
                ),
            })
        } else {
            Ok(())
        }
    };
    let p = r.samples;
    let mut inputs = Sampler::new(r.seed, ID_INPUTS, Stream::Landscape);
    let mut noise = Sampler::new(r.seed, ID_NOISE, Stream::Landscape);
    let (mut x, mut y) = (Vec::with_capacity(p * r.d), Vec::with_capacity(p * r.o));
    match r.kind {
        "teacher" => return teacher(r, context),
        "xor" => {
            need_2_1("xor")?;
            for k in 0..p {
                let (c0, c1) = (sign((k % 2) as f64 - 0.5), sign((k / 2 % 2) as f64 - 0.5));
                x.push(c0 + r.noise * noise.normal());
                x.push(c1 + r.noise * noise.normal());
                y.push(c0 * c1);
            }
        }
        "spirals" => {
            need_2_1("spirals")?;
            for k in 0..p {
                let class = (k % 2) as f64;
                let t = 3.0 * PI * inputs.uniform().sqrt();
                let rad = t / (3.0 * PI);
                x.push(rad * (t + class * PI).cos() + r.noise * noise.normal());
                x.push(rad * (t + class * PI).sin() + r.noise * noise.normal());
                y.push(1.0 - 2.0 * class);
            }
        }
        _ => {
            // blobs: max(O, 2) classes around centres drawn from N(0, 4 I).
            let classes = r.o.max(2);
            let mut cs = Sampler::new(r.seed, ID_CENTRES, Stream::Landscape);
            let centres: Vec<f64> = (0..classes * r.d).map(|_| 2.0 * cs.normal()).collect();
            for k in 0..p {
                let c = k % classes;
                for i in 0..r.d {
                    x.push(centres[c * r.d + i] + r.noise * noise.normal());
                }
                if r.o == 1 {
                    y.push(if c == 0 { 1.0 } else { -1.0 });
                } else {
                    y.extend((0..r.o).map(|o| if o == c { 1.0 } else { -1.0 }));
                }
            }
        }
    }
    Ok(Data {
        p,
        d: r.d,
        o: r.o,
        x,
        y,
    })
}

/// Inputs x ~ N(0, I_D); targets from a teacher network of the given widths (same activation
/// and biases, weights N(0, 1/in), biases N(0, 0.1²)) plus Gaussian noise; signs of that for
/// ±1 labels.
fn teacher(r: &Request, context: &str) -> Result<Data, SpecError> {
    let (td, to) = (r.teacher[0], r.teacher[r.teacher.len() - 1]);
    if td != r.d || to != r.o {
        return Err(SpecError::Spec {
            context: context.to_string(),
            problem: format!(
                "the teacher's widths {} have {td} inputs and {to} outputs, the network's {} \
                 and {}; valid: a teacher D-…-O with the network's D and O",
                join(r.teacher),
                r.d,
                r.o
            ),
        });
    }
    let net = Net::new(r.teacher, r.act, r.bias, false);
    let mut ws = Sampler::new(r.seed, ID_TEACHER_WEIGHTS, Stream::Landscape);
    let mut theta = vec![0.0; net.n];
    for ly in &net.layers {
        let s = 1.0 / (ly.inp as f64).sqrt();
        for t in &mut theta[ly.w..ly.w + ly.out * ly.inp] {
            *t = s * ws.normal();
        }
        if let Some(b) = ly.b {
            for t in &mut theta[b..b + ly.out] {
                *t = 0.1 * ws.normal();
            }
        }
    }
    let mut inputs = Sampler::new(r.seed, ID_INPUTS, Stream::Landscape);
    let mut noise = Sampler::new(r.seed, ID_NOISE, Stream::Landscape);
    let x: Vec<f64> = (0..r.samples * r.d).map(|_| inputs.normal()).collect();
    let mut data = Data {
        p: r.samples,
        d: r.d,
        o: r.o,
        x,
        y: vec![0.0; r.samples * r.o],
    };
    let tape = net.forward(&data, &theta, None);
    let out = tape.a.last().map(|a| a.as_slice()).unwrap_or(&[]);
    data.y = out
        .iter()
        .map(|&t| {
            let v = t + r.noise * noise.normal();
            if r.signs {
                sign(v)
            } else {
                v
            }
        })
        .collect();
    Ok(data)
}

pub fn join(w: &[usize]) -> String {
    w.iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join("-")
}

/// A user's data file: one table of P rows and D + O columns (inputs, then targets), as
/// `.npy` (2-D, little-endian f8 or f4, C order) or `.csv` (comma-separated numbers; blank
/// lines and lines starting with `#` are skipped, and a first line that is not all numbers
/// is a header).
/// The largest data file read: 1 GiB (the data the GPU holds, at most 2^25 floats, are 256 MiB
/// as .npy f64 and under 1 GiB as CSV text).
pub const MAX_FILE_BYTES: u64 = 1 << 30;

pub fn read(path: &str, d: usize, o: usize, signs: bool, context: &str) -> Result<Data, SpecError> {
    let bad = |problem: String| SpecError::Spec {
        context: format!("{context}: data file {path}"),
        problem,
    };
    let p = Path::new(path);
    let ext = p.extension().and_then(|e| e.to_str());
    if !matches!(ext, Some("npy" | "csv")) {
        return Err(bad(
            "has neither the extension .npy nor .csv; valid: a .npy or .csv file".into(),
        ));
    }
    let bytes = crate::spec::read_file_limited(p, MAX_FILE_BYTES).map_err(|e| {
        bad(format!(
            "cannot be read ({e}); valid data: {} or the path of a .npy or .csv file of at \
             most {MAX_FILE_BYTES} bytes",
            GENERATED.join(", ")
        ))
    })?;
    let cols = d + o;
    let table = match ext {
        Some("npy") => npy_table(&bytes, cols).map_err(bad)?,
        _ => csv_table(&bytes, cols).map_err(bad)?,
    };
    let rows = table.len() / cols;
    if rows == 0 {
        return Err(bad("holds no rows; valid: at least one sample".into()));
    }
    if let Some(k) = table.iter().position(|v| !v.is_finite()) {
        return Err(bad(format!(
            "row {} column {} is not finite; valid: finite numbers",
            k / cols,
            k % cols
        )));
    }
    let (mut x, mut y) = (Vec::with_capacity(rows * d), Vec::with_capacity(rows * o));
    for row in table.chunks_exact(cols) {
        x.extend_from_slice(&row[..d]);
        y.extend_from_slice(&row[d..]);
    }
    if signs {
        if let Some(k) = y.iter().position(|&v| v != 1.0 && v != -1.0) {
            return Err(bad(format!(
                "target {} of row {} is {}, but the logistic and hinge losses take labels \
                 ±1; valid: targets -1 or 1 (or loss=mse)",
                k % o,
                k / o,
                y[k]
            )));
        }
    }
    Ok(Data {
        p: rows,
        d,
        o,
        x,
        y,
    })
}

fn npy_table(bytes: &[u8], cols: usize) -> Result<Vec<f64>, String> {
    let (descr, shape, raw) = output::read_npy(bytes)
        .ok_or("is not a .npy file of format 1.0 (NumPy's np.save writes one)")?;
    let header_end = bytes.len() - raw.len();
    if String::from_utf8_lossy(&bytes[..header_end]).contains("'fortran_order': True") {
        return Err("is in Fortran order; valid: C order (np.ascontiguousarray)".into());
    }
    if shape.len() != 2 || shape[1] != cols {
        return Err(format!(
            "has shape {shape:?}; valid: (P, {cols}), P samples of the D inputs and O targets \
             the widths give"
        ));
    }
    let count = shape[0] * shape[1];
    let values: Vec<f64> = match descr.as_str() {
        "<f8" => raw
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect(),
        "<f4" => raw
            .chunks_exact(4)
            .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        other => {
            return Err(format!(
                "has dtype {other}; valid: <f8 or <f4 (float64 or float32)"
            ))
        }
    };
    if values.len() < count {
        return Err(format!(
            "holds {} values but its shape {shape:?} needs {count}",
            values.len()
        ));
    }
    Ok(values[..count].to_vec())
}

fn csv_table(bytes: &[u8], cols: usize) -> Result<Vec<f64>, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "is not UTF-8 text".to_string())?;
    let mut out = Vec::new();
    let mut first = true;
    for (ln, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let nums: Option<Vec<f64>> = fields.iter().map(|f| f.parse().ok()).collect();
        let header = std::mem::replace(&mut first, false);
        match nums {
            None if header => continue,
            None => {
                return Err(format!(
                    "line {}: '{line}' is not {cols} comma-separated numbers",
                    ln + 1
                ))
            }
            Some(v) if v.len() != cols => {
                return Err(format!(
                    "line {} has {} columns; valid: {cols} (the D inputs, then the O targets \
                     the widths give)",
                    ln + 1,
                    v.len()
                ))
            }
            Some(v) => out.extend(v),
        }
    }
    Ok(out)
}
