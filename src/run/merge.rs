//! `saddlescope merge --out DIR SHARD_DIR…`: the shard folders of one run, checked to be
//! exactly the N shards of one spec (same command and spec but for `shard`, each K of 1..=N
//! once), put in shard order whatever the order they were given in; the command then joins
//! them through the code one run ends with (`sample::merge`).

use std::path::{Path, PathBuf};

use super::shard::Shard;
use super::{Manifest, RunFolder};
use crate::output::{self, Csv};
use crate::spec::SpecError;
use crate::walk::state::Status;
use crate::walk::EndStates;

/// One shard folder, read.
pub struct ShardFolder {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub shard: Shard,
    /// Its walkers: ids lo..hi of the whole run.
    pub walkers: std::ops::Range<usize>,
}

/// The spec of a manifest without its `shard` key: what every shard of one run shares.
pub fn spec_without_shard(m: &Manifest) -> serde_json::Value {
    let mut spec = m.spec.clone();
    if let Some(o) = spec.as_object_mut() {
        o.remove("shard");
    }
    spec
}

/// Reads and checks the shard folders `dirs`; returns them in shard order.
pub fn read_shards(dirs: &[PathBuf]) -> Result<Vec<ShardFolder>, SpecError> {
    if dirs.is_empty() {
        return Err(SpecError::Spec {
            context: "merge".into(),
            problem: "no shard folders given; valid: merge --out DIR SHARD_DIR...".into(),
        });
    }
    let mut shards = Vec::new();
    for dir in dirs {
        let manifest = Manifest::read(dir)?;
        let v = manifest.result("shard");
        let shard = Shard {
            index: v["index"].as_u64().unwrap_or(0) as usize,
            count: v["count"].as_u64().unwrap_or(0) as usize,
        };
        let w = &v["walkers"];
        let (lo, hi) = (w[0].as_u64(), w[1].as_u64());
        let (Some(lo), Some(hi)) = (lo, hi) else {
            return Err(SpecError::folder(
                dir,
                format!(
                    "is not a shard folder (its '{}' run had no --shard); merge joins the folders \
                     of `--shard K/N` runs",
                    manifest.command
                ),
            ));
        };
        if shard.index == 0 || shard.index > shard.count {
            return Err(SpecError::folder(
                dir,
                "manifest.json's shard is not K of N with 1 <= K <= N",
            ));
        }
        shards.push(ShardFolder {
            dir: dir.clone(),
            manifest,
            shard,
            walkers: lo as usize..hi as usize,
        });
    }
    let first = &shards[0];
    let spec = spec_without_shard(&first.manifest);
    for s in &shards[1..] {
        if s.manifest.command != first.manifest.command {
            return Err(foreign(s, first, "command"));
        }
        if s.shard.count != first.shard.count {
            return Err(SpecError::folder(
                &s.dir,
                format!(
                    "is shard {} but {} is shard {}: shards of different splits",
                    s.shard.text(),
                    first.dir.display(),
                    first.shard.text()
                ),
            ));
        }
        let other = spec_without_shard(&s.manifest);
        if other != spec {
            let key = differing_key(&spec, &other);
            return Err(foreign(s, first, &key));
        }
    }
    let n = first.shard.count;
    shards.sort_by_key(|s| s.shard.index);
    for pair in shards.windows(2) {
        if pair[0].shard.index == pair[1].shard.index {
            return Err(SpecError::folder(
                &pair[1].dir,
                format!(
                    "is shard {} again ({} is shard {} too): each shard is given once",
                    pair[1].shard.text(),
                    pair[0].dir.display(),
                    pair[0].shard.text()
                ),
            ));
        }
    }
    let missing: Vec<String> = (1..=n)
        .filter(|k| !shards.iter().any(|s| s.shard.index == *k))
        .map(|k| format!("{k}/{n}"))
        .collect();
    if !missing.is_empty() {
        return Err(SpecError::Spec {
            context: "merge".into(),
            problem: format!(
                "missing shard(s) {} of the {n}; valid: all N shard folders of one run",
                missing.join(", ")
            ),
        });
    }
    Ok(shards)
}

/// The first top-level spec key whose value differs (the spec as given is flat).
fn differing_key(a: &serde_json::Value, b: &serde_json::Value) -> String {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return "spec".into();
    };
    a.keys()
        .chain(b.keys())
        .find(|k| a.get(*k) != b.get(*k))
        .map_or_else(|| "spec".into(), |k| k.to_string())
}

fn foreign(s: &ShardFolder, first: &ShardFolder, key: &str) -> SpecError {
    SpecError::folder(
        &s.dir,
        format!(
            "is a shard of another run than {} ('{key}' differs); merge joins the shards of one \
             spec",
            first.dir.display()
        ),
    )
}

/// The walk seconds of all shards, summed.
pub fn walk_seconds(shards: &[ShardFolder]) -> f64 {
    shards
        .iter()
        .map(|s| s.manifest.timings_s.get("walk").copied().unwrap_or(0.0))
        .sum()
}

/// The spec the shards share, read from the first one's manifest (the `shard` key left out,
/// so the command's field reads as absent).
pub fn shared_spec<S: serde::de::DeserializeOwned>(shards: &[ShardFolder]) -> Result<S, SpecError> {
    let first = shards
        .first()
        .ok_or_else(|| SpecError::Invalid("merge: no shard folder given".into()))?;
    serde_json::from_value(spec_without_shard(&first.manifest))
        .map_err(|e| SpecError::folder(&first.dir, format!("manifest.json: spec: {e}")))
}

/// Ends a merge as one run ends ([`super::complete`]): the landscape's own arrays (a network
/// loss's data) written as one run writes them, the report marked with the shards it came
/// from; when the files could not be made, the new folder is abandoned.
pub fn complete<C: super::Command>(
    cmd: &C,
    r: &C::Resolved,
    ctx: super::Ctx,
    done: anyhow::Result<super::Report>,
    shards: &[ShardFolder],
    folder: &RunFolder,
    inv: &super::Invocation,
) -> anyhow::Result<super::Finished> {
    let done = done.and_then(|report| {
        super::save_arrays(folder, cmd.landscape(r))?;
        Ok(report)
    });
    match done {
        Ok(mut report) => {
            report
                .results
                .insert("merged_from".into(), merged_from(shards));
            report
                .summary
                .insert(0, format!("merged {} shards", shards.len()));
            super::complete(cmd, ctx, report, inv)
        }
        Err(e) => {
            folder.abandon();
            Err(e)
        }
    }
}

/// The manifest's `merged_from`: each shard's folder, shard and backend.
pub fn merged_from(shards: &[ShardFolder]) -> serde_json::Value {
    shards
        .iter()
        .map(|s| {
            serde_json::json!({
                "dir": s.dir.display().to_string(),
                "shard": s.shard.text(),
                "backend": s.manifest.backend,
            })
        })
        .collect::<Vec<_>>()
        .into()
}

/// A file of a shard folder.
pub fn file(s: &ShardFolder, name: &str) -> PathBuf {
    Path::new(&s.dir).join(name)
}

/// The shards' `name` positions (W x N each, `<f4` or `<f8`), joined in shard order, with their
/// precision: "f32" or "f64", the same in every shard.
pub fn read_positions(
    shards: &[ShardFolder],
    name: &str,
    total: usize,
    n: usize,
) -> Result<(Vec<f64>, &'static str), SpecError> {
    let mut all = Vec::with_capacity(total * n);
    let mut precision = None;
    for s in shards {
        let want = s.shard.range(total);
        if s.walkers != want {
            return Err(SpecError::folder(
                &s.dir,
                format!(
                    "shard {} holds walkers {:?}; of {total} walkers it must hold {want:?}",
                    s.shard.text(),
                    s.walkers
                ),
            ));
        }
        let (x, p) = read_npy_positions(&s.dir, name, want.len(), n)?;
        if precision.is_some_and(|q| q != p) {
            return Err(SpecError::folder(
                &s.dir,
                format!(
                    "its {name} is {p} where the other shards' is not (f32 from a GPU, f64 from \
                     the CPU): the shards of one merge run on one kind of backend"
                ),
            ));
        }
        precision = Some(p);
        all.extend(x);
    }
    Ok((all, precision.unwrap_or("f64")))
}

/// The shards' end states in walker order: end_states.npy and the walkers.csv columns f,
/// grad_norm, steps and status (the text of an f64 reads back exactly).
pub fn read_end_states(
    shards: &[ShardFolder],
    total: usize,
    n: usize,
) -> Result<EndStates, SpecError> {
    let (x, precision) = read_positions(shards, "end_states.npy", total, n)?;
    let mut ends = EndStates::new(0, n);
    ends.x = x;
    ends.precision = precision;
    for s in shards {
        read_walker_rows(s, s.shard.range(total), &mut ends)?;
    }
    Ok(ends)
}

/// A shard's walkers.csv: `walker,f,grad_norm,steps,status`, one row per walker of `ends`, ids
/// from `first` (the rows [`read_end_states`] reads back).
pub fn write_walker_rows(
    folder: &RunFolder,
    first: usize,
    ends: &EndStates,
) -> std::io::Result<()> {
    let mut csv = Csv::new("walker,f,grad_norm,steps,status");
    for w in 0..ends.len() {
        csv.row(&[
            (first + w).to_string(),
            output::num(ends.f[w]),
            output::num(ends.grad_norm[w]),
            ends.steps[w].to_string(),
            ends.status[w].name().to_string(),
        ]);
    }
    folder.write_csv("walkers.csv", &csv)
}

/// A shard's W x N positions (`<f4` or `<f8`) and their precision.
pub fn read_npy_positions(
    dir: &Path,
    name: &str,
    w: usize,
    n: usize,
) -> Result<(Vec<f64>, &'static str), SpecError> {
    let bytes = std::fs::read(dir.join(name))
        .map_err(|e| SpecError::folder(dir, format!("cannot read {name} ({e})")))?;
    let (descr, shape, data) = output::read_npy(&bytes)
        .ok_or_else(|| SpecError::folder(dir, format!("{name} is not a .npy file")))?;
    let size = match descr.as_str() {
        "<f4" => 4,
        "<f8" => 8,
        _ => 0,
    };
    if size == 0 || shape != [w, n] || data.len() != w * n * size {
        return Err(SpecError::folder(
            dir,
            format!(
                "{name} has dtype {descr}, shape {shape:?} and {} data bytes; the shard needs \
                 <f4 or <f8 of shape [{w}, {n}]",
                data.len()
            ),
        ));
    }
    Ok(if size == 4 {
        let x = data
            .chunks_exact(4)
            .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
            .collect();
        (x, "f32")
    } else {
        let x = data
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
            .collect();
        (x, "f64")
    })
}

/// A shard's walkers.csv rows, held to its walker range, appended to `ends`.
fn read_walker_rows(
    s: &ShardFolder,
    want: std::ops::Range<usize>,
    ends: &mut EndStates,
) -> Result<(), SpecError> {
    let names: Vec<&str> = (0..4).map(|c| Status::from_code(c).name()).collect();
    let t = crate::table::Table::read(
        &s.dir,
        "walkers.csv",
        &["walker", "f", "grad_norm", "steps", "status"],
    )?;
    t.expect_rows(want.len(), "manifest.json (shard.walkers)")?;
    for (row, id) in want.enumerate() {
        if t.usize(row, "walker")? != id {
            return Err(t.bad(
                row,
                format!(
                    "walker = {} where this shard's walker {id} belongs",
                    t.str(row, "walker")?
                ),
            ));
        }
        let steps = t.usize(row, "steps")?;
        let status = t.choice(row, "status", &names)?;
        ends.f.push(t.f64(row, "f")?);
        ends.grad_norm.push(t.f64(row, "grad_norm")?);
        ends.steps
            .push(u32::try_from(steps).map_err(|_| t.bad(row, "steps is more than a walk takes"))?);
        ends.status.push(
            (0..4)
                .map(Status::from_code)
                .find(|c| c.name() == status)
                .unwrap_or(Status::Running),
        );
        ends.escape.push(crate::walk::state::NO_ESCAPE);
    }
    Ok(())
}
