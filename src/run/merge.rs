//! `saddlescope merge --out DIR SHARD_DIR…`: the shard folders of one run, checked to be
//! exactly the N shards of one spec (same command and spec but for `shard`, each K of 1..=N
//! once), put in shard order whatever the order they were given in; the command then joins
//! them through the code one run ends with (`sample::merge`).

use std::path::{Path, PathBuf};

use super::shard::Shard;
use super::Manifest;
use crate::spec::SpecError;

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
                    "is shard {} as {} is: a shard given twice",
                    pair[1].shard.text(),
                    pair[0].dir.display()
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

/// A file of a shard folder.
pub fn file(s: &ShardFolder, name: &str) -> PathBuf {
    Path::new(&s.dir).join(name)
}
