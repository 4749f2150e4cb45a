//! Throughput scaling (`bench` over lists of walkers and dimensions): walker-steps per second
//! against the number of walkers W and against the dimension N, one line per backend and
//! fixed other size, both axes log10 — where a line bends is where a cost changes regime
//! (fixed per-run cost, cache, threads, memory bandwidth).

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use super::style::{line_swatch, marker, quiet_grid, series_line, titled};
use super::ticks::{log_label, TickedAxis};
use super::{font_ready, with_ext, write_png, write_svg, FigureError, FAMILY};

/// One line: its label and its (size, walker-steps/s) points, sizes ascending.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalingSeries {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

/// One panel: what its x axis is and its lines.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalingPanel {
    pub caption: String,
    pub x_label: String,
    pub series: Vec<ScalingSeries>,
}

const PANEL_W: u32 = 760;
const HEIGHT: u32 = 760;
const PNG_SCALE: u32 = 2;

/// Writes `<stem>.png` and `<stem>.svg`: one panel per entry of `panels`, side by side.
pub fn scaling(
    stem: &Path,
    panels: &[ScalingPanel],
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
    let size = (PANEL_W * panels.len().max(1) as u32, HEIGHT);
    write_png(&png, (size.0 * PNG_SCALE, size.1 * PNG_SCALE), |root| {
        draw(root, panels, title, subtitle, PNG_SCALE)
    })?;
    write_svg(&svg, size, |root| draw(root, panels, title, subtitle, 1))?;
    Ok([png, svg])
}

/// A log10 range (exponents) around the positive values, padded by `pad` decades.
fn decades(vals: impl Iterator<Item = f64>, pad: f64) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in vals.filter(|v| v.is_finite() && *v > 0.0) {
        lo = lo.min(v.log10());
        hi = hi.max(v.log10());
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 0.5 {
        let mid = 0.5 * (lo + hi);
        return (mid - 0.5, mid + 0.5);
    }
    (lo - pad, hi + pad)
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    panels: &[ScalingPanel],
    title: &str,
    subtitle: &str,
    k: u32,
) -> Result<(), String> {
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    let body = titled(&root, title, subtitle, k)?;
    // Every panel's y axis spans all rates, so panels compare at a glance.
    let y = decades(
        panels
            .iter()
            .flat_map(|p| p.series.iter().flat_map(|s| s.points.iter().map(|q| q.1))),
        0.15,
    );
    // The same legend height under every panel, so their plots line up.
    let rows = panels.iter().map(|p| p.series.len()).max().unwrap_or(0) as u32;
    let areas = body.split_evenly((1, panels.len().max(1)));
    for (panel, area) in panels.iter().zip(&areas) {
        draw_panel(&root, area, panel, y, rows, k)?;
    }
    root.present().map_err(e)?;
    Ok(())
}

fn draw_panel<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    area: &DrawingArea<DB, Shift>,
    panel: &ScalingPanel,
    (ylo, yhi): (f64, f64),
    rows: u32,
    k: u32,
) -> Result<(), String> {
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    let px = |v: u32| v * k;
    let pt = |v: u32| f64::from(v * k);
    let (plot, legend) = area.split_vertically(area.dim_in_pixel().1 - px(30 * rows + 24));
    let (xlo, xhi) = decades(
        panel
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|q| q.0)),
        0.1,
    );
    let mut chart = ChartBuilder::on(&plot)
        .caption(&panel.caption, (FAMILY, pt(21)))
        .margin(px(14))
        .margin_right(px(28))
        .x_label_area_size(px(64))
        .y_label_area_size(px(96))
        .build_cartesian_2d(
            TickedAxis::exponents(xlo, xhi, 7),
            TickedAxis::exponents(ylo, yhi, 7),
        )
        .map_err(|err| err.to_string())?;
    let fmt = |v: &f64| log_label(*v);
    quiet_grid(&mut chart.configure_mesh(), k)
        .set_all_tick_mark_size(px(5))
        .x_label_formatter(&fmt)
        .y_label_formatter(&fmt)
        .x_desc(format!("{} (log scale)", panel.x_label))
        .y_desc("walker-steps per second (log scale)")
        .label_style((FAMILY, pt(17)))
        .axis_desc_style((FAMILY, pt(19)))
        .draw()
        .map_err(e)?;
    for (i, s) in panel.series.iter().enumerate() {
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .filter(|q| q.0 > 0.0 && q.1 > 0.0)
            .map(|q| (q.0.log10(), q.1.log10()))
            .collect();
        if pts.len() > 1 {
            let line = pts.iter().map(|p| chart.backend_coord(p)).collect();
            series_line(root, i, line, 2 * k)?;
        }
        for p in &pts {
            marker(root, i, chart.backend_coord(p), (6 * k) as i32)?;
        }
    }
    let font = (FAMILY, pt(17)).into_font();
    let (lx, ly) = legend.get_base_pixel();
    for (i, s) in panel.series.iter().enumerate() {
        let y = ly + px(12 + 30 * i as u32) as i32;
        let x = lx + px(110) as i32;
        line_swatch(root, i, (x, y), px(40) as i32, 2 * k, (6 * k) as i32)?;
        root.draw(&Text::new(
            s.label.clone(),
            (x + px(50) as i32, y - px(10) as i32),
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
    fn decades_pad_and_widen_a_single_value() {
        assert_eq!(decades([100.0, 1e6].into_iter(), 0.1), (1.9, 6.1));
        let (lo, hi) = decades([1e3].into_iter(), 0.1);
        assert!((lo - 2.5).abs() < 1e-12 && (hi - 3.5).abs() < 1e-12);
        assert_eq!(decades([f64::NAN, -1.0].into_iter(), 0.1), (0.0, 1.0));
    }
}
