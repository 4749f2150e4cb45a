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
