//! Index against loss (index fraction α of every critical point against its f, the figure of
//! Dauphin et al. 2014), with the fit of Pennington & Bahri's form or the reason there is none,
//! and the Hessian eigenvalue density at minima and at saddles.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::style::{colour, quiet_grid, series_key};
use super::ticks::{log_label, TickedAxis, Ticks};
use super::{font_ready, with_ext, write_png, write_svg, FigureError, FAMILY};
use crate::critical::index_loss::{short, FitOutcome, LossPoint};
use crate::critical::spectrum::Spectrum;
use crate::critical::Kind;

const PNG_SCALE: u32 = 2;
/// Okabe–Ito: minima blue, saddles vermillion, maxima green; degenerate points grey.
const MINIMUM: RGBColor = RGBColor(0, 114, 178);
const SADDLE: RGBColor = RGBColor(213, 94, 0);
const MAXIMUM: RGBColor = RGBColor(0, 158, 115);
const DEGENERATE: RGBColor = RGBColor(150, 150, 150);

/// One series of points (a sweep's width, or a sample's whole catalogue) with its fit.
pub struct LossGroup {
    pub label: String,
    pub points: Vec<LossPoint>,
    pub fit: FitOutcome,
}

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Fills `root` white, sets `title` and a grey `subtitle` in a band on top (each set smaller
/// when it would not fit the width: objective specs can be long) and returns the area below.
fn titled<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: &str,
    k: u32,
) -> Result<DrawingArea<DB, Shift>, String> {
    root.fill(&WHITE).map_err(err)?;
    let (band, body) = root.split_vertically(92 * k);
    let w = band.dim_in_pixel().0 as i32;
    for (text, size, y, shade) in [(title, 26.0, 30, 1.0), (subtitle, 17.0, 64, 0.65)] {
        let mut pt = size * f64::from(k);
        let fits = |pt: f64| {
            let font = FontDesc::new(FontFamily::Name(FAMILY), pt, FontStyle::Normal);
            super::style::text_w(&band, text, &font) <= w - 24 * k as i32
        };
        while pt > 8.0 * f64::from(k) && !fits(pt) {
            pt *= 0.92;
        }
        band.draw(&Text::new(
            text.to_string(),
            (w / 2, y * k as i32),
            TextStyle::from((FAMILY, pt).into_font())
                .color(&BLACK.mix(shade))
                .pos(Pos::new(HPos::Center, VPos::Center)),
        ))
        .map_err(err)?;
    }
    Ok(body)
}

/// Writes `<stem>.png` and `<stem>.svg`; with one group the kinds have their own colours, with
/// several each group has its colour and the kinds their marker shapes.
pub fn index_vs_loss(
    stem: &Path,
    title: &str,
    x_label: &str,
    groups: &[LossGroup],
) -> Result<[PathBuf; 2], FigureError> {
    let (png, svg) = (with_ext(stem, "png"), with_ext(stem, "svg"));
    if !font_ready() {
        return Err(FigureError::Draw {
            path: png,
            message: "the embedded font could not be loaded".into(),
        });
    }
    let size = (1100u32, 760u32);
    write_png(&png, (size.0 * PNG_SCALE, size.1 * PNG_SCALE), |root| {
        draw_loss(root, PNG_SCALE, title, x_label, groups)
    })?;
    write_svg(&svg, size, |root| {
        draw_loss(root, 1, title, x_label, groups)
    })?;
    Ok([png, svg])
}

/// A point's marker: filled circle (minimum), filled triangle (saddle), square (maximum), open
/// circle (degenerate).
fn point_marker<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    kind: Kind,
    c: RGBColor,
    (x, y): (i32, i32),
    r: i32,
) -> Result<(), String> {
    match kind {
        Kind::Minimum => area.draw(&Circle::new((x, y), r, c.filled())).map_err(err),
        Kind::Saddle => area
            .draw(&Polygon::new(
                vec![
                    (x, y - r - r / 4),
                    (x + r, y + r * 3 / 4),
                    (x - r, y + r * 3 / 4),
                ],
                c.filled(),
            ))
            .map_err(err),
        Kind::Maximum => area
            .draw(&Rectangle::new(
                [
                    (x - r * 4 / 5, y - r * 4 / 5),
                    (x + r * 4 / 5, y + r * 4 / 5),
                ],
                c.filled(),
            ))
            .map_err(err),
        Kind::Degenerate => area
            .draw(&Circle::new(
                (x, y),
                r,
                c.stroke_width((r / 3).max(1) as u32),
            ))
            .map_err(err),
    }
}

fn kind_colour(kind: Kind) -> RGBColor {
    match kind {
        Kind::Minimum => MINIMUM,
        Kind::Saddle => SADDLE,
        Kind::Maximum => MAXIMUM,
        Kind::Degenerate => DEGENERATE,
    }
}

/// The x range over every point, padded; a single loss gets a width of its own.
fn loss_range(groups: &[LossGroup]) -> (f64, f64) {
    let (lo, hi) = groups
        .iter()
        .flat_map(|g| g.points.iter().map(|p| p.f))
        .filter(|f| f.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if lo > hi {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.06).max(1e-3 * (1.0 + lo.abs().max(hi.abs())));
    (lo - pad, hi + pad)
}

fn draw_loss<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    k: u32,
    title: &str,
    x_label: &str,
    groups: &[LossGroup],
) -> Result<(), String> {
    let pt = |v: u32| f64::from(v * k);
    let total: usize = groups.iter().map(|g| g.points.len()).sum();
    let heading = format!(
        "Index fraction against loss of {total} distinct critical points, with α ≈ α₀ |(f − ε_c)/ε_c|^(3/2) (Pennington & Bahri 2017)"
    );
    let body = titled(&root, &heading, title, k)?;
    let (x0, x1) = loss_range(groups);
    let (xt, yt) = (Ticks::linear(x0, x1, 6), Ticks::linear(-0.04, 1.04, 6));
    let mut chart = ChartBuilder::on(&body)
        .margin(20 * k)
        .margin_right(36 * k)
        .x_label_area_size(64 * k)
        .y_label_area_size(96 * k)
        .build_cartesian_2d(x0..x1, -0.04..1.04)
        .map_err(err)?;
    quiet_grid(&mut chart.configure_mesh(), k)
        .x_desc(x_label)
        .y_desc("index fraction α = index / N")
        .x_labels(xt.count)
        .y_labels(yt.count)
        .x_label_formatter(&|v| xt.label(*v))
        .y_label_formatter(&|v| yt.label(*v))
        .label_style((FAMILY, pt(18)))
        .axis_desc_style((FAMILY, pt(20)))
        .draw()
        .map_err(err)?;
    let area = chart.plotting_area().strip_coord_spec();
    let (bx, by) = area.get_base_pixel();
    let several = groups.len() > 1;
    let r = 6 * k as i32;
    // Degenerate points first, underneath.
    for pass in [true, false] {
        for (i, g) in groups.iter().enumerate() {
            for p in g
                .points
                .iter()
                .filter(|p| (p.kind == Kind::Degenerate) == pass)
            {
                let c = if several {
                    colour(i)
                } else {
                    kind_colour(p.kind)
                };
                let (x, y) = chart.backend_coord(&(p.f, p.fraction()));
                point_marker(&area, p.kind, c, (x - bx, y - by), r)?;
            }
        }
    }
    let mut notes = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        let c = if several { colour(i) } else { BLACK };
        let name = if several {
            format!("{}: ", g.label)
        } else {
            String::new()
        };
        match &g.fit {
            FitOutcome::Fitted(f) => {
                let curve: Vec<(f64, f64)> = (0..=300)
                    .map(|j| x0 + (x1 - x0) * f64::from(j) / 300.0)
                    .map(|x| (x, f.value(x)))
                    .filter(|(_, y)| *y <= 1.04)
                    .collect();
                let label = format!(
                    "{name}α₀ = {} ± {}, ε_c = {} ± {} ({} points)",
                    short(f.alpha0),
                    short(f.alpha0_se),
                    short(f.eps_c),
                    short(f.eps_c_se),
                    f.points
                );
                chart
                    .draw_series(LineSeries::new(curve, c.stroke_width(3 * k)))
                    .map_err(err)?
                    .label(label)
                    .legend(move |(x, y)| {
                        PathElement::new(
                            vec![(x, y), (x + 24 * k as i32, y)],
                            c.stroke_width(3 * k),
                        )
                    });
            }
            FitOutcome::NotApplicable { reason, .. } => {
                notes.push(format!("{name}no fit: {reason}"));
            }
        }
    }
    // The kinds' key, drawn by hand at the upper right (their markers are of several shapes).
    let kinds = [
        (Kind::Minimum, "minimum"),
        (Kind::Saddle, "saddle"),
        (Kind::Maximum, "maximum"),
        (Kind::Degenerate, "degenerate (not fitted)"),
    ];
    let (w, h) = area.dim_in_pixel();
    let mut row = 0;
    for (kind, label) in kinds {
        if !groups
            .iter()
            .any(|g| g.points.iter().any(|p| p.kind == kind))
        {
            continue;
        }
        let c = if several {
            RGBColor(90, 90, 90)
        } else {
            kind_colour(kind)
        };
        let y = (24 + 28 * row) * k as i32;
        let x = w as i32 - 250 * k as i32;
        point_marker(&area, kind, c, (x, y), r)?;
        area.draw(&Text::new(
            label.to_string(),
            (x + 16 * k as i32, y),
            TextStyle::from((FAMILY, pt(16)).into_font()).pos(Pos::new(HPos::Left, VPos::Center)),
        ))
        .map_err(err)?;
        row += 1;
    }
    if several {
        for (i, g) in groups.iter().enumerate() {
            let c = colour(i);
            if matches!(g.fit, FitOutcome::Fitted(_)) {
                continue;
            }
            chart
                .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
                .map_err(err)?
                .label(g.label.clone())
                .legend(move |(x, y)| Circle::new((x + 10 * k as i32, y), 6 * k, c.filled()));
        }
    }
    if groups
        .iter()
        .any(|g| matches!(g.fit, FitOutcome::Fitted(_)))
        || several
    {
        series_key(
            &mut chart,
            SeriesLabelPosition::UpperLeft,
            10 * k,
            30 * k,
            pt(16),
        )?;
    }
    // One catalogue: its note at the top left (no key there); several: at the bottom right,
    // clear of the key.
    for (j, note) in notes.iter().enumerate() {
        let (at, pos) = if several {
            (
                (
                    w as i32 - 12 * k as i32,
                    h as i32 - (14 + 24 * j as i32) * k as i32,
                ),
                Pos::new(HPos::Right, VPos::Bottom),
            )
        } else {
            (
                (16 * k as i32, 20 * k as i32),
                Pos::new(HPos::Left, VPos::Top),
            )
        };
        area.draw(&Text::new(
            note.clone(),
            at,
            TextStyle::from((FAMILY, pt(15)).into_font())
                .color(&BLACK.mix(0.75))
                .pos(pos),
        ))
        .map_err(err)?;
    }
    if total == 0 {
        area.draw(&Text::new(
            "no critical points",
            (w as i32 / 2, h as i32 / 2),
            TextStyle::from((FAMILY, pt(22)).into_font())
                .color(&BLACK.mix(0.6))
                .pos(Pos::new(HPos::Center, VPos::Center)),
        ))
        .map_err(err)?;
    }
    root.present().map_err(err)
}

/// Writes `<stem>.png` and `<stem>.svg`: the eigenvalue density of each group of the spectrum
/// (minima, saddles, degenerate points) on a log density axis, one panel for the minima-like
/// groups and one for the saddle-like ones.
pub fn eigenvalue_density(
    stem: &Path,
    title: &str,
    s: &Spectrum,
) -> Result<[PathBuf; 2], FigureError> {
    let (png, svg) = (with_ext(stem, "png"), with_ext(stem, "svg"));
    if !font_ready() {
        return Err(FigureError::Draw {
            path: png,
            message: "the embedded font could not be loaded".into(),
        });
    }
    let size = (1500u32, 640u32);
    write_png(&png, (size.0 * PNG_SCALE, size.1 * PNG_SCALE), |root| {
        draw_density(root, PNG_SCALE, title, s)
    })?;
    write_svg(&svg, size, |root| draw_density(root, 1, title, s))?;
    Ok([png, svg])
}

fn draw_density<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    k: u32,
    title: &str,
    s: &Spectrum,
) -> Result<(), String> {
    let body = titled(
        &root,
        "Hessian eigenvalue density at the distinct critical points, pooled per kind",
        title,
        k,
    )?;
    let panels = body.split_evenly((1, 2));
    let sides = [
        ("At minima", ["minimum", "degenerate_index_0"], MINIMUM),
        ("At saddles", ["saddle", "degenerate_saddle"], SADDLE),
    ];
    for (panel, (caption, names, c)) in panels.iter().zip(sides) {
        density_panel(panel, k, s, caption, names, c)?;
    }
    root.present().map_err(err)
}

fn density_panel<DB: DrawingBackend>(
    panel: &DrawingArea<DB, Shift>,
    k: u32,
    s: &Spectrum,
    caption: &str,
    names: [&str; 2],
    c: RGBColor,
) -> Result<(), String> {
    let pt = |v: u32| f64::from(v * k);
    let (x0, x1) = (s.edges[0], s.edges[s.edges.len() - 1]);
    let pos = s
        .groups
        .iter()
        .flat_map(|g| g.density.iter().copied())
        .filter(|v| *v > 0.0);
    let (lo, hi) = pos.fold((f64::INFINITY, 0f64), |(a, b), v| (a.min(v), b.max(v)));
    let (y0, y1) = if lo.is_finite() {
        (lo / 3.0, hi * 4.0)
    } else {
        (1e-3, 1.0)
    };
    let xt = Ticks::linear(x0, x1, 6);
    let mut chart = ChartBuilder::on(panel)
        .caption(caption, (FAMILY, pt(22)))
        .margin(18 * k)
        .margin_right(30 * k)
        .x_label_area_size(62 * k)
        .y_label_area_size(96 * k)
        .build_cartesian_2d(x0..x1, TickedAxis::log(y0, y1, 10))
        .map_err(err)?;
    quiet_grid(&mut chart.configure_mesh(), k)
        .x_desc("Hessian eigenvalue λ")
        .y_desc("density")
        .x_labels(xt.count)
        .x_label_formatter(&|v| xt.label(*v))
        .y_label_formatter(&|v| log_label(v.log10()))
        .label_style((FAMILY, pt(18)))
        .axis_desc_style((FAMILY, pt(20)))
        .draw()
        .map_err(err)?;
    let mut any = false;
    for (j, name) in names.iter().enumerate() {
        let Some(g) = s.groups.iter().find(|g| g.group == *name) else {
            continue;
        };
        any = true;
        let label = format!(
            "{} ({} points, {} eigenvalues)",
            name.replace('_', " "),
            g.points,
            g.eigenvalues
        );
        let bins = g.density.iter().enumerate().filter(|(_, d)| **d > 0.0);
        if j == 0 {
            chart
                .draw_series(bins.map(|(b, &d)| {
                    Rectangle::new(
                        [(s.edges[b], y0), (s.edges[b + 1], d)],
                        c.mix(0.75).filled(),
                    )
                }))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| {
                    Rectangle::new(
                        [(x, y - 7 * k as i32), (x + 16 * k as i32, y + 7 * k as i32)],
                        c.mix(0.75).filled(),
                    )
                });
        } else {
            // Degenerate points: the outline of their histogram.
            let mut steps = Vec::new();
            for (b, &d) in g.density.iter().enumerate() {
                let d = d.max(y0);
                steps.push((s.edges[b], d));
                steps.push((s.edges[b + 1], d));
            }
            chart
                .draw_series(LineSeries::new(steps, BLACK.stroke_width(2 * k)))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(
                        vec![(x, y), (x + 20 * k as i32, y)],
                        BLACK.stroke_width(2 * k),
                    )
                });
        }
    }
    if any {
        series_key(
            &mut chart,
            SeriesLabelPosition::UpperRight,
            10 * k,
            28 * k,
            pt(15),
        )?;
    } else {
        let (w, h) = panel.dim_in_pixel();
        panel
            .draw(&Text::new(
                "no such points",
                (w as i32 / 2, h as i32 / 2),
                TextStyle::from((FAMILY, pt(20)).into_font())
                    .color(&BLACK.mix(0.6))
                    .pos(Pos::new(HPos::Center, VPos::Center)),
            ))
            .map_err(err)?;
    }
    Ok(())
}
