//! Reading a catalogue back from a run folder written by `sample` (critical_points.npy and
//! critical_points.csv, manifest.json for the objective), for commands that start from the
//! critical points of an earlier run (`basins --plane points=…`, `escape --from critical:…`).

use std::path::Path;

use crate::output;
use crate::spec::SpecError;

/// One row of a stored catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPoint {
    pub id: usize,
    pub x: Vec<f64>,
    pub f: f64,
    pub index: usize,
    pub kind: String,
}

/// A catalogue as stored in a run folder.
#[derive(Debug, Clone)]
pub struct StoredCatalogue {
    /// The objective spec the folder was made with (canonical form, from manifest.json).
    pub objective: String,
    pub dim: usize,
    pub points: Vec<StoredPoint>,
}

impl StoredCatalogue {
    /// The point with this id, or a usage error listing the valid ids.
    pub fn point(&self, id: usize) -> Result<&StoredPoint, SpecError> {
        self.points.iter().find(|p| p.id == id).ok_or_else(|| {
            SpecError::Invalid(format!(
                "critical point {id} is not in the catalogue; valid ids: 0..={} ({} points)",
                self.points.len().saturating_sub(1),
                self.points.len()
            ))
        })
    }
}

fn bad(dir: &Path, what: impl std::fmt::Display) -> SpecError {
    SpecError::folder(
        dir,
        format!("{what}; expected a folder written by `saddlescope sample` with its critical-point catalogue"),
    )
}

/// Reads `dir`'s catalogue. Every problem (missing folder or file, a run made with
/// --no-critical, a malformed file) is a usage error naming the folder.
pub fn read(dir: &Path) -> Result<StoredCatalogue, SpecError> {
    if !dir.join("manifest.json").exists() {
        return Err(bad(dir, "cannot read manifest.json (there is none)"));
    }
    let manifest = crate::run::Manifest::read(dir).map_err(|e| match e {
        SpecError::Folder { problem, .. } => bad(dir, problem),
        e => e,
    })?;
    let objective = manifest
        .resolved
        .objective
        .ok_or_else(|| bad(dir, "manifest.json names no resolved objective"))?;
    let dim = manifest
        .resolved
        .dim
        .ok_or_else(|| bad(dir, "manifest.json names no dimension"))?;
    let (xs, k) = read_positions(dir, dim)?;
    let points = read_points(dir, &xs, k, dim)?;
    Ok(StoredCatalogue {
        objective,
        dim,
        points,
    })
}

/// critical_points.npy: the positions, K x `dim` little-endian f64, and K.
fn read_positions(dir: &Path, dim: usize) -> Result<(Vec<f64>, usize), SpecError> {
    let bytes = std::fs::read(dir.join("critical_points.npy"))
        .map_err(|e| bad(dir, format!("cannot read critical_points.npy ({e})")))?;
    let (descr, shape, data) = output::read_npy(&bytes)
        .ok_or_else(|| bad(dir, "critical_points.npy is not a .npy file"))?;
    if descr != "<f8" || shape.len() != 2 || shape[1] != dim || data.len() != shape[0] * dim * 8 {
        return Err(bad(
            dir,
            format!("critical_points.npy has dtype {descr} and shape {shape:?}; expected <f8 and (K, {dim})"),
        ));
    }
    let xs: Vec<f64> = data
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect();
    Ok((xs, shape[0]))
}

/// critical_points.csv: one point per row (columns id, f, index and kind, found by name), in
/// the order of the `k` positions `xs`.
fn read_points(
    dir: &Path,
    xs: &[f64],
    k: usize,
    dim: usize,
) -> Result<Vec<StoredPoint>, SpecError> {
    let csv = std::fs::read_to_string(dir.join("critical_points.csv"))
        .map_err(|e| bad(dir, format!("cannot read critical_points.csv ({e})")))?;
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or_else(|| bad(dir, format!("critical_points.csv has no column '{name}'")))
    };
    let (c_id, c_f, c_index, c_kind) = (col("id")?, col("f")?, col("index")?, col("kind")?);
    let mut points = Vec::with_capacity(k);
    for (row, line) in lines.filter(|l| !l.trim().is_empty()).enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        let field = |c: usize| {
            fields
                .get(c)
                .copied()
                .ok_or_else(|| bad(dir, format!("critical_points.csv row {} is short", row + 1)))
        };
        let parse_err = |what: &str| {
            bad(
                dir,
                format!("critical_points.csv row {}: bad {what}", row + 1),
            )
        };
        let id: usize = field(c_id)?.parse().map_err(|_| parse_err("id"))?;
        // A critical point has a finite f and position (the writers never write others).
        let f: f64 = field(c_f)?
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| parse_err("f (valid: a finite number)"))?;
        let index: usize = field(c_index)?.parse().map_err(|_| parse_err("index"))?;
        let kind = field(c_kind)?.to_string();
        if row >= k {
            return Err(bad(
                dir,
                "critical_points.csv has more rows than critical_points.npy",
            ));
        }
        let x = &xs[row * dim..(row + 1) * dim];
        if x.iter().any(|v| !v.is_finite()) {
            return Err(bad(
                dir,
                format!(
                    "critical_points.npy point {row} has a coordinate that is not finite; a \
                     catalogue holds finite positions only"
                ),
            ));
        }
        points.push(StoredPoint {
            id,
            x: x.to_vec(),
            f,
            index,
            kind,
        });
    }
    if points.len() != k {
        return Err(bad(
            dir,
            "critical_points.csv and critical_points.npy hold different numbers of points",
        ));
    }
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_a_written_catalogue_and_names_bad_folders() {
        let dir = std::env::temp_dir().join(format!("saddlescope-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let e = read(&dir).unwrap_err().to_string();
        assert!(e.contains("manifest.json") && e.contains("sample"), "{e}");
        std::fs::write(
            dir.join("manifest.json"),
            r#"{"resolved": {"objective": "himmelblau", "dim": 2}}"#,
        )
        .unwrap();
        output::write_npy(
            &dir.join("critical_points.npy"),
            &[2, 2],
            &[3.0, 2.0, -0.270845, -0.923039],
        )
        .unwrap();
        std::fs::write(
            dir.join("critical_points.csv"),
            "id,f,grad_norm,index,n_neg,n_zero,n_pos,kind,walkers,min_eig,max_eig,x0,x1\n\
             0,0.0,0.0,0,0,0,2,minimum,5,1.0,2.0,3.0,2.0\n\
             1,181.6165,0.0,2,2,0,0,maximum,1,-2.0,-1.0,-0.270845,-0.923039\n",
        )
        .unwrap();
        let cat = read(&dir).unwrap();
        assert_eq!(
            (cat.objective.as_str(), cat.dim, cat.points.len()),
            ("himmelblau", 2, 2)
        );
        let p = cat.point(1).unwrap();
        assert_eq!(
            (p.index, p.kind.as_str(), p.x[0]),
            (2, "maximum", -0.270845)
        );
        assert!(cat.point(7).unwrap_err().to_string().contains("0..=1"));
        // A damaged catalogue: f that is not finite, then a position that is not.
        let csv = std::fs::read_to_string(dir.join("critical_points.csv")).unwrap();
        std::fs::write(
            dir.join("critical_points.csv"),
            csv.replace("1,181.6165,", "1,NaN,"),
        )
        .unwrap();
        let e = read(&dir).unwrap_err().to_string();
        assert!(e.contains("row 2: bad f"), "{e}");
        std::fs::write(dir.join("critical_points.csv"), &csv).unwrap();
        output::write_npy(
            &dir.join("critical_points.npy"),
            &[2, 2],
            &[3.0, 2.0, f64::INFINITY, -0.923039],
        )
        .unwrap();
        let e = read(&dir).unwrap_err().to_string();
        assert!(e.contains("point 1") && e.contains("not finite"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
