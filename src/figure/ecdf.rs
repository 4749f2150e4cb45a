//! Escape-time ECDFs, drawn the way COCO's cocopp draws runtime ECDFs: for each arm the fraction
//! of its walkers that have escaped by step t, a step function over a log10 step axis up to the
//! budget, with the arm's marker along the curve and at the budget, and a legend ordered by the
//! final fraction.

use std::path::{Path, PathBuf};

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::style::{line_swatch, marker, quiet_grid, series_line, text_w, titled};
use super::ticks::{log_label, Ticks};
use super::{font_ready, with_ext, write_png, write_svg, FigureError, FAMILY};

/// One arm: its label, walkers, and the escape steps of those that escaped.
#[derive(Debug, Clone, PartialEq)]
pub struct EcdfArm {
    pub label: String,
    pub walkers: usize,
    pub steps: Vec<u32>,
}

const SIZE: (u32, u32) = (1400, 780);
const PNG_SCALE: u32 = 2;
/// Markers per curve along the step axis (besides the one at the budget).
const MARKERS: usize = 5;

/// Writes `<stem>.png` and `<stem>.svg`; `budget` is the step limit (right end of the axis).
pub fn escape_ecdf(
    stem: &Path,
    arms: &[EcdfArm],
    budget: u32,
    title: &str,
    subtitle: &str,
) -> Result<[PathBuf; 2], FigureError> {
    let png = with_ext(stem, "png");
    let svg = with_ext(stem, "svg");
    if !font_ready() {
        return Err(FigureError::Draw {
            path: png,
            message: "the embedded font could not be loaded".into(),
        });
    }
    let png_size = (SIZE.0 * PNG_SCALE, SIZE.1 * PNG_SCALE);
    write_png(&png, png_size, |root| {
        draw(root, arms, budget, title, subtitle, PNG_SCALE)
    })?;
    write_svg(&svg, SIZE, |root| {
        draw(root, arms, budget, title, subtitle, 1)
    })?;
    Ok([png, svg])
}

/// (step, fraction escaped by then) at every step where the fraction rises.
pub fn ecdf_points(arm: &EcdfArm) -> Vec<(u32, f64)> {
    let mut s = arm.steps.clone();
    s.sort_unstable();
    let w = arm.walkers.max(1) as f64;
    let mut out: Vec<(u32, f64)> = Vec::new();
    for (i, &t) in s.iter().enumerate() {
        let frac = (i + 1) as f64 / w;
        match out.last_mut() {
            Some(last) if last.0 == t => last.1 = frac,
            _ => out.push((t, frac)),
        }
    }
    out
}

/// The fraction escaped by step t.
fn fraction_at(points: &[(u32, f64)], t: f64) -> f64 {
    let k = points.partition_point(|p| f64::from(p.0) <= t);
    if k == 0 {
        0.0
    } else {
        points[k - 1].1
    }
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    arms: &[EcdfArm],
    budget: u32,
    title: &str,
    subtitle: &str,
    k: u32,
) -> Result<(), String> {
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    let body = titled(&root, title, subtitle, k)?;

    // Legend on the right, outside the axes, so it never hides a curve; sized to its labels.
    let curves: Vec<Vec<(u32, f64)>> = arms.iter().map(ecdf_points).collect();
    let finals: Vec<f64> = curves
        .iter()
        .map(|c| c.last().map_or(0.0, |p| p.1))
        .collect();
    let entries: Vec<String> = arms
        .iter()
        .zip(&finals)
        .map(|(a, f)| format!("{}  ({:.1}%)", a.label, 100.0 * f))
        .collect();
    let legend_font = (FAMILY, f64::from(17 * k)).into_font();
    let widest = entries
        .iter()
        .map(|t| text_w(&body, t, &legend_font).max(0) as u32)
        .max()
        .unwrap_or(0);
    let legend_w = (widest + 90 * k).min(body.dim_in_pixel().0 / 2);
    let (plot, legend) = body.split_horizontally(body.dim_in_pixel().0 - legend_w);

    let top = (f64::from(budget.max(10))).log10();
    let mut chart = step_axes(&plot, top, k)?;
    draw_curves(&root, &mut chart, &curves, top, k)?;
    draw_legend(&root, &legend, &entries, &finals, &legend_font, k)?;
    root.present().map_err(e)?;
    Ok(())
}

/// The axes: fraction escaped against steps on a log10 axis up to 10^`top`, with faint minor
/// gridlines at 2..9 x 10^j.
fn step_axes<'a, DB: DrawingBackend>(
    plot: &'a DrawingArea<DB, Shift>,
    top: f64,
    k: u32,
) -> Result<ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>, String> {
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    let px = |v: u32| v * k;
    let pt = |v: u32| f64::from(v * k);
    let mut chart = ChartBuilder::on(plot)
        .margin(px(16))
        .margin_left(px(10))
        .x_label_area_size(px(70))
        .y_label_area_size(px(96))
        .build_cartesian_2d(0f64..top, 0f64..1.0)
        .map_err(e)?;
    // Whole decades only: the axis runs from 10⁰ to at least 10¹.
    let ys = Ticks::linear(0.0, 1.0, 6);
    quiet_grid(&mut chart.configure_mesh(), k)
        .set_all_tick_mark_size(px(5))
        .x_labels(top.floor() as usize + 1)
        .y_labels(ys.count)
        .x_label_formatter(&|v| log_label(*v))
        .y_label_formatter(&|v| ys.label(*v))
        .x_desc("steps t (log scale)")
        .y_desc("fraction of walkers escaped by step t")
        .label_style((FAMILY, pt(18)))
        .axis_desc_style((FAMILY, pt(20)))
        .draw()
        .map_err(e)?;
    let minor: Vec<f64> = (0..=top.ceil() as i32)
        .flat_map(|j| (2..10).map(move |m| (f64::from(m) * 10f64.powi(j)).log10()))
        .filter(|&v| v < top)
        .collect();
    chart
        .draw_series(
            minor.iter().map(|&x| {
                PathElement::new(vec![(x, 0.0), (x, 1.0)], BLACK.mix(0.05).stroke_width(k))
            }),
        )
        .map_err(e)?;
    Ok(chart)
}

/// Each arm's step function, then the markers along the curves.
fn draw_curves<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    curves: &[Vec<(u32, f64)>],
    top: f64,
    k: u32,
) -> Result<(), String> {
    let lx = |t: f64| t.max(1.0).log10();
    for (i, pts) in curves.iter().enumerate() {
        let mut path = vec![(0.0, 0.0)];
        let mut level = 0.0;
        for &(t, f) in pts {
            path.push((lx(f64::from(t)), level));
            path.push((lx(f64::from(t)), f));
            level = f;
        }
        path.push((top, level));
        let px = path.iter().map(|p| chart.backend_coord(p)).collect();
        series_line(root, i, px, 3 * k)?;
    }
    // Markers: evenly spaced in log t, shifted per arm so that coinciding curves stay apart;
    // one more at the budget, where cocopp puts its end-of-run cross.
    let m = curves.len().max(1) as f64;
    for (i, pts) in curves.iter().enumerate() {
        let mut xs: Vec<f64> = (0..MARKERS)
            .map(|j| top * (j as f64 + (i as f64 + 1.0) / (m + 1.0)) / MARKERS as f64)
            .collect();
        xs.push(top);
        for x in xs {
            let y = fraction_at(pts, 10f64.powf(x));
            let c = chart.backend_coord(&(x, y));
            marker(root, i, c, (7 * k) as i32)?;
        }
    }
    Ok(())
}

/// Legend: ordered by the final fraction, highest first (the top curve listed on top).
fn draw_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    legend: &DrawingArea<DB, Shift>,
    entries: &[String],
    finals: &[f64],
    font: &FontDesc,
    k: u32,
) -> Result<(), String> {
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    let px = |v: u32| v * k;
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by(|&a, &b| finals[b].total_cmp(&finals[a]).then(a.cmp(&b)));
    let (lx0, ly0) = legend.get_base_pixel();
    let row = px(34) as i32;
    let y0 = ly0 + px(30) as i32;
    root.draw(&Text::new(
        "arm  (escaped by the budget)",
        (lx0 + px(8) as i32, y0 - px(8) as i32),
        (FAMILY, f64::from(16 * k))
            .into_font()
            .color(&BLACK.mix(0.6)),
    ))
    .map_err(e)?;
    for (r, &i) in order.iter().enumerate() {
        let y = y0 + px(22) as i32 + r as i32 * row;
        let x = lx0 + px(8) as i32;
        line_swatch(root, i, (x, y), px(44) as i32, 3 * k, (7 * k) as i32)?;
        root.draw(&Text::new(
            entries[i].clone(),
            (x + px(56) as i32, y - px(10) as i32),
            font.clone(),
        ))
        .map_err(e)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecdf_points_count_ties_once() {
        let arm = EcdfArm {
            label: "a".into(),
            walkers: 5,
            steps: vec![7, 3, 3, 10],
        };
        assert_eq!(ecdf_points(&arm), vec![(3, 0.4), (7, 0.6), (10, 0.8)]);
        let p = ecdf_points(&arm);
        assert_eq!(fraction_at(&p, 2.9), 0.0);
        assert_eq!(fraction_at(&p, 3.0), 0.4);
        assert_eq!(fraction_at(&p, 9.99), 0.6);
        assert_eq!(fraction_at(&p, 1e6), 0.8);
    }
}
