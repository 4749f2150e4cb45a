//! Running the binary as a user would, and reading what it wrote: the helpers of the
//! end-to-end tests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A CSV row: column -> text.
pub type Row = BTreeMap<String, String>;

/// Runs `saddlescope ARGS` with no test fault hooks set.
pub fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_saddlescope"))
        .args(args)
        .env_remove("SADDLESCOPE_TEST_FAULT_GRAD")
        .output()
        .expect("the binary runs")
}

/// Fails the test, showing stdout and stderr, unless the run succeeded.
pub fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Runs `saddlescope ARGS` and panics with its output unless it exits 0; returns stderr.
pub fn run_ok(args: &[&str]) -> String {
    let o = run(args);
    ok(&o);
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh (absent) path under the temporary folder, unique to this test binary, the process
/// and `name`.
pub fn tmp(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.file_stem().unwrap().to_string_lossy().into_owned();
    let d = std::env::temp_dir().join(format!("saddlescope-{bin}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// A CSV file as rows keyed by the header's names.
pub fn table(path: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    lines
        .map(|l| {
            header
                .iter()
                .zip(l.split(','))
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// A cell as a number (NaN when empty or not a number); a missing column fails the test.
pub fn num(row: &Row, col: &str) -> f64 {
    row.get(col)
        .unwrap_or_else(|| panic!("no column {col}"))
        .parse()
        .unwrap_or(f64::NAN)
}

/// The run folder's manifest.json.
pub fn manifest(dir: &Path) -> serde_json::Value {
    let p = dir.join("manifest.json");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap()
}

/// A little-endian f64 .npy file: (shape, values).
pub fn npy_f64(path: &Path) -> (Vec<usize>, Vec<f64>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (descr, shape, data) = saddlescope::output::read_npy(&bytes).expect("a .npy file");
    assert_eq!(descr, "<f8", "{}: f64 expected", path.display());
    let v = data
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    (shape, v)
}
