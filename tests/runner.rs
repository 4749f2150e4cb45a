//! The one executor, through the CLI: what every walking command shares behaves the same in
//! every command (flags, default folders, progress, the manifest's file list).

mod common;

use std::path::Path;
use std::process::Stdio;

use common::cli::{binary, manifest, run_in, tmp};

/// A small run of each walking command (CPU twin, a few steps).
fn small(command: &str) -> Vec<&'static str> {
    match command {
        "sample" => vec![
            "sample",
            "--objective",
            "himmelblau",
            "--optimizer",
            "gd:lr=0.01",
            "--walkers",
            "16",
        ],
        "escape" => vec![
            "escape",
            "--objective",
            "saddle",
            "--from",
            "saddle",
            "--optimizers",
            "gd",
            "--walkers",
            "8",
        ],
        "basins" => vec![
            "basins",
            "--objective",
            "himmelblau",
            "--optimizer",
            "gd:lr=0.01",
            "--resolution",
            "8",
        ],
        "sweep" => vec![
            "sweep",
            "--objective",
            "pspin:p=3",
            "--dims",
            "2",
            "--instances",
            "2",
            "--walkers",
            "8",
            "--optimizer",
            "gd",
        ],
        _ => unreachable!(),
    }
}

const COMMANDS: [&str; 4] = ["sample", "escape", "basins", "sweep"];

#[test]
fn three_runs_in_one_second_get_three_default_folders() {
    let dir = tmp("three");
    std::fs::create_dir_all(&dir).unwrap();
    let mut args = small("sample");
    args.extend(["--steps", "5", "--backend", "cpu", "--no-critical"]);
    let children: Vec<_> = (0..3)
        .map(|_| {
            binary()
                .args(&args)
                .current_dir(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let mut names: Vec<String> = std::fs::read_dir(dir.join("outputs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    assert_eq!(names.len(), 3, "{names:?}");
    for n in &names {
        assert!(n.starts_with("sample-himmelblau-20"), "{n}");
        assert!(dir.join("outputs").join(n).join("manifest.json").exists());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_command_names_its_default_folder_alike_and_lists_exactly_its_files() {
    let dir = tmp("names");
    std::fs::create_dir_all(&dir).unwrap();
    for c in COMMANDS {
        let mut args = small(c);
        args.extend(["--steps", "20", "--backend", "cpu"]);
        let o = run_in(&dir, &args);
        assert!(
            o.status.success(),
            "{c}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let stdout = String::from_utf8_lossy(&o.stdout);
        let folder = stdout
            .lines()
            .find_map(|l| l.strip_prefix("wrote "))
            .unwrap_or_else(|| panic!("{c}: {stdout}"));
        let name = Path::new(folder)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        let objective = args[2].split(':').next().unwrap();
        assert!(
            name.starts_with(&format!("{c}-{objective}-20")),
            "{c}: {name}"
        );
        assert!(stdout.contains("timings: walk "), "{c}: {stdout}");
        let path = dir.join(folder);
        let m = manifest(&path);
        let mut listed: Vec<String> = m["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        listed.sort();
        let mut present: Vec<String> = std::fs::read_dir(&path)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .filter(|n| n != "manifest.json")
            .collect();
        present.sort();
        assert_eq!(
            listed, present,
            "{c}: the manifest lists exactly the files written"
        );
        assert_eq!(m["command"], c);
        assert!(
            m["argv"][1] == c && m["timings_s"]["walk"].is_number(),
            "{c}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn walk_flags_are_checked_the_same_in_every_command() {
    let dir = tmp("flags");
    std::fs::create_dir_all(&dir).unwrap();
    for c in COMMANDS {
        for (flag, value, needle) in [
            ("--steps", "0", "--steps 0 is out of range; valid: 1..="),
            ("--grad-tol", "-1", "--grad-tol -1 is out of range"),
            ("--bound", "0", "--bound 0 is out of range"),
            ("--chunk", "0", "--chunk 0 is out of range"),
        ] {
            let mut args = small(c);
            args.extend([flag, value, "--backend", "cpu"]);
            let o = run_in(&dir, &args);
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{c} {flag} {value}: {err}");
            assert!(err.contains(needle), "{c} {flag} {value}: {err}");
        }
    }
    assert!(
        !dir.join("outputs").exists(),
        "usage errors write no folder"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn progress_lines_appear_in_a_redirected_stderr() {
    let out = tmp("progress");
    let o = binary()
        .args([
            "sample",
            "--objective",
            "rastrigin:n=16",
            "--optimizer",
            "gd:lr=0.001",
            "--walkers",
            "2000",
            "--steps",
            "3000",
            "--grad-tol",
            "0",
            "--no-critical",
            "--backend",
            "cpu",
            "--out",
        ])
        .arg(&out)
        .env("SADDLESCOPE_PROGRESS_SECONDS", "0")
        .output()
        .unwrap();
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("walking: ")).collect();
    assert!(lines.len() >= 2, "{err}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("% (") && l.contains("walker-steps") && l.contains("eta")),
        "{err}"
    );
    assert!(
        lines.last().unwrap().starts_with("walking: done in"),
        "{err}"
    );
    // The share done only grows, and reaches 100 %.
    let shares: Vec<f64> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("walking: ")?.split('%').next()?.parse().ok())
        .collect();
    assert!(
        shares.windows(2).all(|w| w[0] <= w[1]) && shares.last() == Some(&100.0),
        "{shares:?}"
    );
    let _ = std::fs::remove_dir_all(&out);
}

/// An optimizer range in a sweep spreads over the walkers of every instance: from 1e-7 alone no
/// walker gets near a minimum in 300 steps, while the upper end of the range converges.
#[test]
fn sweep_ranges_reach_every_walker() {
    let run = |opt: &str, name: &str| {
        let out = tmp(name);
        let o = binary()
            .args([
                "sweep",
                "--objective",
                "field:features=16,mu=1",
                "--dims",
                "2",
                "--instances",
                "2",
                "--walkers",
                "32",
                "--steps",
                "300",
                "--grad-tol",
                "1e-3",
                "--backend",
                "cpu",
                "--optimizer",
                opt,
                "--out",
            ])
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let inst = std::fs::read_to_string(out.join("instances.csv")).unwrap();
        let m = manifest(&out);
        let _ = std::fs::remove_dir_all(&out);
        let converged: usize = inst
            .lines()
            .skip(1)
            .map(|l| l.split(',').nth(4).unwrap().parse::<usize>().unwrap())
            .sum();
        (converged, m)
    };
    let (lo_only, _) = run("gd:lr=1e-7", "lo");
    let (swept, m) = run("gd:lr=1e-7..0.3:log", "range");
    assert_eq!(lo_only, 0);
    assert!(swept >= 8, "{swept} walkers converged");
    assert_eq!(m["sweeps"]["lr"]["hi"], 0.3);
}

/// A sample walk long enough to be killed in the middle (minutes on the CPU).
fn long_walk(out: &Path) -> std::process::Child {
    binary()
        .args([
            "sample",
            "--objective",
            "rastrigin:n=16",
            "--optimizer",
            "gd:lr=0.001",
            "--walkers",
            "4000",
            "--steps",
            "1000000",
            "--grad-tol",
            "0",
            "--no-critical",
            "--backend",
            "cpu",
            "--out",
        ])
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Waits up to 60 s for `path` to exist.
fn wait_for(path: &Path) {
    let t = std::time::Instant::now();
    while !path.exists() {
        assert!(
            t.elapsed().as_secs() < 60,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Every file of a folder and its subfolders (the checkpoints) with its bytes.
fn files_of(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if e.path().is_dir() {
            v.extend(
                files_of(&e.path())
                    .into_iter()
                    .map(|(n, b)| (format!("{name}/{n}"), b)),
            );
        } else {
            v.push((name, std::fs::read(e.path()).unwrap()));
        }
    }
    v.sort();
    v
}

fn out_args<'a>(command: &'a str, out: &'a Path) -> Vec<&'a str> {
    let mut args = small(command);
    args.extend([
        "--steps",
        "5",
        "--backend",
        "cpu",
        "--out",
        out.to_str().unwrap(),
    ]);
    args
}

#[test]
fn a_run_killed_mid_walk_leaves_an_interrupted_folder_that_no_run_takes_over() {
    let root = tmp("killed");
    let out = root.join("run");
    let mut child = long_walk(&out);
    let pid = child.id();
    wait_for(&out.join(".saddlescope-lock"));
    // While it walks, every other run into the folder is refused at once, naming it.
    for c in COMMANDS {
        let o = run_in(&root, &out_args(c, &out));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{c}: {err}");
        assert!(
            err.contains(&format!("a 'sample' run (pid {pid}"))
                && err.contains("is writing into this folder now"),
            "{c}: {err}"
        );
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(!out.join("manifest.json").exists());
    // A temporary file a killed write left behind is named as such, never as an output.
    std::fs::write(out.join(".walkers.csv.tmp4242"), b"walker,f\n0,").unwrap();
    let before = files_of(&out);
    for c in COMMANDS {
        let o = run_in(&root, &out_args(c, &out));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{c}: {err}");
        assert!(
            err.contains(&format!("an interrupted run: a 'sample' run (pid {pid}"))
                && err.contains("the process is gone")
                && err.contains("temporary files (never outputs): .walkers.csv.tmp4242")
                && err.contains("add --resume to the same command")
                && err.contains("or choose another --out"),
            "{c}: {err}"
        );
        assert_eq!(files_of(&out), before, "{c} changed the interrupted folder");
    }
    // Another --out is the way: it runs.
    let o = run_in(&root, &out_args("sample", &root.join("other")));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_finished_folder_takes_no_second_run_of_any_command() {
    let root = tmp("finished");
    std::fs::create_dir_all(&root).unwrap();
    let out = root.join("run");
    let o = run_in(&root, &out_args("basins", &out));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        !out.join(".saddlescope-lock").exists(),
        "a finished run leaves no lock"
    );
    let before = files_of(&out);
    for c in COMMANDS {
        let o = run_in(&root, &out_args(c, &out));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{c}: {err}");
        assert!(
            err.contains("already holds a finished 'basins' run") && err.contains("another --out"),
            "{c}: {err}"
        );
        assert_eq!(files_of(&out), before, "{c} mixed into the finished folder");
    }
    // A refused run leaves an empty folder given as --out empty (no lock, no files).
    let empty = root.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let o = run_in(
        &root,
        &[
            "escape",
            "--objective",
            "himmelblau",
            "--from",
            "saddle",
            "--optimizers",
            "gd",
            "--out",
            empty.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(files_of(&empty).is_empty(), "{:?}", files_of(&empty));
    let _ = std::fs::remove_dir_all(&root);
}
