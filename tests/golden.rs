//! One run per command on the CPU twin (f64, deterministic on a given platform), every table
//! and figure held to the SHA-256 recorded in tests/golden/hashes.txt: refactors must leave
//! outputs byte-identical (manifest.json is left out: it holds timings and the machine).
//! After an intended change of outputs, `SADDLESCOPE_BLESS=1 cargo test --test golden`
//! rewrites the hashes; say why in the commit.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::cli::{binary, tmp};
use sha2::{Digest, Sha256};

const RUNS: &[(&str, &[&str])] = &[
    (
        "sample",
        &[
            "sample",
            "--objective",
            "himmelblau",
            "--optimizer",
            "gradnorm:lr=0.0001",
            "--walkers",
            "256",
            "--steps",
            "5000",
            "--grad-tol",
            "1e-3",
            "--seed",
            "1",
        ],
    ),
    (
        "sweep",
        &[
            "sweep",
            "--objective",
            "pspin:p=3",
            "--dims",
            "2,3",
            "--instances",
            "4",
            "--walkers",
            "32",
            "--optimizer",
            "gradnorm:lr=0.01",
            "--steps",
            "3000",
            "--grad-tol",
            "1e-2",
            "--seed",
            "1",
        ],
    ),
    (
        "escape",
        &[
            "escape",
            "--objective",
            "camel6",
            "--from",
            "saddle",
            "--radius",
            "0",
            "--escape-radius",
            "0.3",
            "--optimizers",
            "gd:lr=0.01",
            "sgd:lr=0.01,noise=0.5",
            "--walkers",
            "64",
            "--steps",
            "2000",
        ],
    ),
    (
        "basins",
        &[
            "basins",
            "--objective",
            "himmelblau",
            "--optimizer",
            "gd:lr=0.005",
            "--resolution",
            "48",
            "--steps",
            "5000",
        ],
    ),
];

fn sha(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn hashes_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/hashes.txt")
}

fn recorded() -> BTreeMap<String, String> {
    std::fs::read_to_string(hashes_file())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn every_command_writes_the_recorded_tables_and_figures() {
    let mut got = BTreeMap::new();
    for (name, args) in RUNS {
        let dir = tmp(name);
        let o = binary()
            .args(*args)
            .args(["--backend", "cpu", "--out", dir.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().is_some_and(|f| f != "manifest.json"))
            .collect();
        files.sort();
        assert!(files.len() >= 3, "{name}: {files:?}");
        for f in files {
            let key = format!("{name}/{}", f.file_name().unwrap().to_string_lossy());
            got.insert(key, sha(&f));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    if std::env::var("SADDLESCOPE_BLESS").is_ok() {
        let text: String = got.iter().map(|(k, v)| format!("{k} {v}\n")).collect();
        std::fs::write(hashes_file(), text).unwrap();
        return;
    }
    let want = recorded();
    let missing: Vec<&String> = want.keys().filter(|k| !got.contains_key(*k)).collect();
    let extra: Vec<&String> = got.keys().filter(|k| !want.contains_key(*k)).collect();
    let changed: Vec<&String> = want
        .iter()
        .filter(|(k, v)| got.get(*k).is_some_and(|g| g != *v))
        .map(|(k, _)| k)
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty() && changed.is_empty(),
        "outputs differ from tests/golden/hashes.txt: changed {changed:?}, missing {missing:?}, new {extra:?}"
    );
}
