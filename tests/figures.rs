//! Figures at their edge cases, end to end through the CLI: one escape arm, one Morse index,
//! one sweep dimension. Each SVG must keep its title and at least two labelled ticks on each
//! axis of each panel (plotters maps a one-value axis outside the plot, so a single bar, arm or
//! dimension once lost its ticks and labels).

mod common;

use std::path::Path;

use common::cli::{run, tmp};

/// Runs `saddlescope ARGS --backend cpu --out OUT` and fails naming ARGS unless it exits 0 (every
/// figure here comes from the CPU twin into a given folder).
fn ok(args: &[&str], out: &Path) {
    let mut all = args.to_vec();
    all.extend(["--backend", "cpu", "--out", out.to_str().unwrap()]);
    let o = run(&all);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A `<text>` element of a plotters SVG: position, anchor, baseline shift and content.
#[derive(Debug)]
struct Text {
    x: f64,
    anchor: String,
    dy: String,
    text: String,
}

fn attr(tag: &str, name: &str) -> String {
    let key = format!(" {name}=\"");
    tag.find(&key)
        .map(|k| {
            let rest = &tag[k + key.len()..];
            rest[..rest.find('"').unwrap_or(0)].to_string()
        })
        .unwrap_or_default()
}

/// The SVG's width and its text elements.
fn read_svg(path: &Path) -> (f64, Vec<Text>) {
    let svg = std::fs::read_to_string(path).unwrap();
    let width = attr(&svg[..svg.find('>').unwrap()], "width")
        .parse()
        .unwrap();
    let mut texts = Vec::new();
    let mut rest = svg.as_str();
    while let Some(start) = rest.find("<text") {
        let open_end = start + rest[start..].find('>').unwrap();
        let close = open_end + rest[open_end..].find("</text>").unwrap();
        let tag = &rest[start..open_end];
        texts.push(Text {
            x: attr(tag, "x").parse().unwrap_or(f64::NAN),
            anchor: attr(tag, "text-anchor"),
            dy: attr(tag, "dy"),
            text: rest[open_end + 1..close].trim().to_string(),
        });
        rest = &rest[close..];
    }
    (width, texts)
}

fn numeric(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_digit() || ".,−-e×⁰¹²³⁴⁵⁶⁷⁸⁹⁻".contains(c))
}

/// Tick labels under the x axis (centred, hanging) and beside the y axis (right-aligned) in
/// the horizontal band `x0..x1` of the figure.
fn ticks(texts: &[Text], (x0, x1): (f64, f64)) -> (Vec<&str>, Vec<&str>) {
    let inside = |t: &&Text| t.x >= x0 && t.x < x1 && numeric(&t.text);
    let xs = texts
        .iter()
        .filter(inside)
        .filter(|t| t.anchor == "middle" && t.dy == "0.76em")
        .map(|t| t.text.as_str())
        .collect();
    let ys = texts
        .iter()
        .filter(inside)
        .filter(|t| t.anchor == "end")
        .map(|t| t.text.as_str())
        .collect();
    (xs, ys)
}

/// `path` has `title` and, in each of its `panels` side by side, two or more x and y ticks.
fn check(path: &Path, title: &str, panels: usize) {
    let (width, texts) = read_svg(path);
    assert!(
        texts.iter().any(|t| t.text.contains(title)),
        "{}: no title '{title}' in {texts:?}",
        path.display()
    );
    for p in 0..panels {
        let band = (
            width * p as f64 / panels as f64,
            width * (p + 1) as f64 / panels as f64,
        );
        let (xs, ys) = ticks(&texts, band);
        assert!(
            xs.len() >= 2 && ys.len() >= 2,
            "{} panel {p}: x ticks {xs:?}, y ticks {ys:?}",
            path.display()
        );
    }
}

#[test]
fn one_escape_arm_and_one_morse_index_keep_ticks_and_labels() {
    let out = tmp("one-arm");
    let arm = "sgd:lr=1e-3..1e-1:log,noise=0.5";
    ok(
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
            arm,
            "--walkers",
            "64",
            "--steps",
            "2000",
        ],
        &out,
    );
    let title = "camel6: escape from the known saddle";
    check(&out.join("escape_ecdf.svg"), title, 1);
    check(&out.join("escape_vs_lr.svg"), title, 2);
    // The bar chart: its share axis ticked, its one bar labelled with the arm.
    let ends = out.join("escape_ends.svg");
    let (width, texts) = read_svg(&ends);
    assert!(texts.iter().any(|t| t.text.contains(title)), "{texts:?}");
    let (xs, _) = ticks(&texts, (0.0, width));
    assert!(xs.len() >= 2, "{xs:?}");
    assert!(
        texts.iter().any(|t| t.text == arm && t.anchor == "end"),
        "no bar label '{arm}' in {texts:?}"
    );
    // Every walker reaches one of camel6's two lowest minima: one index present.
    check(&out.join("index_histogram.svg"), "camel6", 2);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_sweep_of_one_dimension_keeps_ticks_and_labels() {
    let out = tmp("one-dim");
    ok(
        &[
            "sweep",
            "--objective",
            "pspin:p=3",
            "--dims",
            "3",
            "--instances",
            "2",
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
        &out,
    );
    check(&out.join("fraction_minima.svg"), "pspin:p=3", 2);
    for f in [
        "index_fraction_hist.svg",
        "index_vs_energy.svg",
        "minima_energy.svg",
    ] {
        check(&out.join(f), "pspin:p=3", 1);
    }
    let _ = std::fs::remove_dir_all(&out);
}
