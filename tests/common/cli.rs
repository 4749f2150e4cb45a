//! Running the binary as a user would, and reading what it wrote: the helpers of the
//! end-to-end tests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A CSV row: column -> text.
pub type Row = BTreeMap<String, String>;

/// The test-only fault hook of the binary: a corrupted gradient on the GPU.
pub const FAULT_ENV: &str = "SADDLESCOPE_TEST_FAULT_GRAD";

/// `saddlescope` as a command with no test fault hooks set, for a test that spawns it or sets
/// its pipes itself.
pub fn binary() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_saddlescope"));
    c.env_remove(FAULT_ENV);
    c
}

/// Runs `saddlescope ARGS` with no test fault hooks set.
pub fn run(args: &[&str]) -> Output {
    binary().args(args).output().expect("the binary runs")
}

/// Runs `saddlescope ARGS` in the working directory `dir`, with no test fault hooks set.
pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    binary()
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs")
}

/// Runs `saddlescope ARGS` with the variables `set` set and those in `removed` removed (the
/// fault hook is removed unless `set` names it).
pub fn run_with_env(args: &[&str], set: &[(&str, &str)], removed: &[&str]) -> Output {
    let mut c = binary();
    c.args(args);
    for (k, v) in set {
        c.env(k, v);
    }
    for k in removed {
        c.env_remove(k);
    }
    c.output().expect("the binary runs")
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

/// Runs `saddlescope ARGS` and panics with its output unless it exits 0; returns stdout.
pub fn run_ok_stdout(args: &[&str]) -> String {
    let o = run(args);
    ok(&o);
    String::from_utf8_lossy(&o.stdout).into_owned()
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

/// A CSV file as a header and rows of fields, splitting quoted fields (escape's methods hold
/// commas).
pub fn fields(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let split = |l: &str| -> Vec<String> {
        let (mut out, mut f, mut q) = (vec![], String::new(), false);
        for c in l.chars() {
            match c {
                '"' => q = !q,
                ',' if !q => out.push(std::mem::take(&mut f)),
                _ => f.push(c),
            }
        }
        out.push(f);
        out
    };
    let mut lines = text.lines();
    let header = split(lines.next().unwrap());
    (header, lines.map(split).collect())
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

/// A .npy file of `descr` elements of `size` bytes: (shape, values); a file whose data is not
/// its shape's size fails the test.
fn npy<T>(path: &Path, descr: &str, size: usize, decode: fn(&[u8]) -> T) -> (Vec<usize>, Vec<T>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (d, shape, data) = saddlescope::output::read_npy(&bytes).expect("a .npy file");
    assert_eq!(d, descr, "{}", path.display());
    assert_eq!(
        data.len(),
        shape.iter().product::<usize>() * size,
        "{}",
        path.display()
    );
    (shape, data.chunks_exact(size).map(decode).collect())
}

/// A little-endian f64 .npy file: (shape, values).
pub fn npy_f64(path: &Path) -> (Vec<usize>, Vec<f64>) {
    npy(path, "<f8", 8, |b| {
        f64::from_le_bytes(b.try_into().unwrap())
    })
}

/// A little-endian i32 .npy file: (shape, values).
pub fn npy_i32(path: &Path) -> (Vec<usize>, Vec<i32>) {
    npy(path, "<i4", 4, |b| {
        i32::from_le_bytes(b.try_into().unwrap())
    })
}

/// The names in a folder, sorted.
pub fn names(d: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Every file of `a` but the manifest is byte for byte the one of `b` (the manifests differ
/// in timings, command line and backend; the tables, arrays and figures may not).
pub fn same_files(a: &Path, b: &Path) {
    assert_eq!(names(a), names(b));
    for name in names(a).iter().filter(|n| *n != "manifest.json") {
        assert!(
            std::fs::read(a.join(name)).unwrap() == std::fs::read(b.join(name)).unwrap(),
            "{name} differs between one run and the merged shards"
        );
    }
}
