//! Escape against a swept hyperparameter: for each arm that spreads the key across its walkers,
//! the escape rate per bin of the value with its 95% Wilson interval (left panel) and the median
//! escape step of the bin's escaped walkers (right panel); log axes where values span decades.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use super::style::{colour, line_swatch, marker, quiet_grid, series_line, text_w, titled};
use super::ticks::{log_label, TickedAxis, Ticks};
use super::{font_ready, with_ext, write_png, write_svg, FigureError, FAMILY};

/// One bin of swept values.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepBin {
    /// Where the bin is drawn: the value itself, or the bin's centre (geometric on log axes).
    pub value: f64,
    /// Bin edges (equal for a bin of one distinct value).
    pub lo: f64,
    pub hi: f64,
    pub walkers: usize,
    pub escaped: usize,
    /// 95% Wilson interval of escaped / walkers.
    pub rate_lo: f64,
    pub rate_hi: f64,
    /// Median escape step over the bin's escaped walkers.
    pub median: Option<f64>,
}

/// One arm's bins; `arm` picks its colour and marker (the same as in the ECDF figure).
#[derive(Debug, Clone, PartialEq)]
pub struct SweepSeries {
    pub arm: usize,
    pub label: String,
    pub bins: Vec<SweepBin>,
}

const SIZE: (u32, u32) = (1500, 700);
const PNG_SCALE: u32 = 2;

/// Writes `<stem>.png` and `<stem>.svg` for the swept `key`; `log_x` puts values on a log10 axis.
pub fn escape_sweep(
    stem: &Path,
    key: &str,
    series: &[SweepSeries],
    log_x: bool,
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
        draw(root, key, series, log_x, title, subtitle, PNG_SCALE)
    })?;
    write_svg(&svg, SIZE, |root| {
        draw(root, key, series, log_x, title, subtitle, 1)
    })?;
    Ok([png, svg])
}

/// A padded axis range over `vals` (in axis units).
fn span(vals: impl Iterator<Item = f64>, pad: f64) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in vals.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        let d = if lo == 0.0 { 1.0 } else { 0.1 * lo.abs() };
        return (lo - d, hi + d);
    }
    let d = (hi - lo) * pad;
    (lo - d, hi + d)
}

/// One axis: its range, where its ticks go and how they read (a linear axis in the step's
/// precision, a log10 axis in exponents labelled by value).
struct Axis {
    coord: TickedAxis,
    linear: Option<Ticks>,
}

impl Axis {
    fn new((lo, hi): (f64, f64), log: bool, count: usize) -> Axis {
        if log {
            Axis {
                coord: TickedAxis::exponents(lo, hi, count),
                linear: None,
            }
        } else {
            let t = Ticks::linear(lo, hi, count);
            Axis {
                coord: TickedAxis::linear(lo, hi, &t),
                linear: Some(t),
            }
        }
    }

    fn label(&self, v: &f64) -> String {
        match &self.linear {
            Some(t) => t.label(*v),
            None => log_label(*v),
        }
    }
}

/// The axes both panels share (the swept value along x, in `log_x` units) and the median
/// panel's step axis (log10 when the medians span more than a decade).
struct Axes {
    log_x: bool,
    x: Axis,
    x_label: String,
    log_y: bool,
    y: Axis,
    /// The rate panel's y axis.
    rate: Axis,
    /// No bin has a median: no walker escaped.
    no_median: bool,
}

impl Axes {
    fn of(key: &str, series: &[SweepSeries], log_x: bool) -> Axes {
        let ax = |v: f64| if log_x { v.log10() } else { v };
        let x = span(
            series
                .iter()
                .flat_map(|s| s.bins.iter().flat_map(|b| [ax(b.lo), ax(b.hi)])),
            0.04,
        );
        let medians: Vec<f64> = series
            .iter()
            .flat_map(|s| s.bins.iter().filter_map(|b| b.median))
            .collect();
        let mpos: Vec<f64> = medians.iter().copied().filter(|&m| m > 0.0).collect();
        let log_y = !mpos.is_empty()
            && mpos.iter().copied().fold(f64::NEG_INFINITY, f64::max)
                / mpos.iter().copied().fold(f64::INFINITY, f64::min)
                > 10.0;
        let ay = |v: f64| if log_y { v.max(1.0).log10() } else { v };
        let y = if medians.is_empty() {
            (0.0, 1.0)
        } else {
            let (a, b) = span(medians.iter().map(|&m| ay(m)), 0.08);
            if log_y {
                (a, b)
            } else {
                (0.0, b.max(a))
            }
        };
        let x_label = if log_x {
            format!("{key} (log scale)")
        } else {
            key.to_string()
        };
        Axes {
            log_x,
            x: Axis::new(x, log_x, 6),
            x_label,
            log_y,
            y: Axis::new(y, log_y, 6),
            rate: Axis::new((-0.02, 1.02), false, 6),
            no_median: medians.is_empty(),
        }
    }

    fn ax(&self, v: f64) -> f64 {
        if self.log_x {
            v.log10()
        } else {
            v
        }
    }

    fn ay(&self, v: f64) -> f64 {
        if self.log_y {
            v.max(1.0).log10()
        } else {
            v
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    key: &str,
    series: &[SweepSeries],
    log_x: bool,
    title: &str,
    subtitle: &str,
    k: u32,
) -> Result<(), String> {
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    let body = titled(&root, &format!("{title}, against {key}"), subtitle, k)?;
    let (body, legend) = body.split_vertically(body.dim_in_pixel().1 - 56 * k);
    let axes = Axes::of(key, series, log_x);
    let panels = body.split_evenly((1, 2));
    rate_panel(&root, &panels[0], series, &axes, k)?;
    median_panel(&root, &panels[1], series, &axes, k)?;
    legend_row(&root, &legend, series, k)?;
    root.present().map_err(e)?;
    Ok(())
}

/// A panel's chart: `caption` on top, the swept value along x, `y` up the side with `y_area`
/// units for its labels.
fn panel_chart<'a, DB: DrawingBackend>(
    panel: &'a DrawingArea<DB, Shift>,
    caption: &str,
    axes: &Axes,
    y_area: u32,
    y: &Axis,
    k: u32,
) -> Result<ChartContext<'a, DB, Cartesian2d<TickedAxis, TickedAxis>>, String> {
    ChartBuilder::on(panel)
        .caption(caption, (FAMILY, f64::from(21 * k)))
        .margin(14 * k)
        .margin_right(28 * k)
        .x_label_area_size(64 * k)
        .y_label_area_size(y_area * k)
        .build_cartesian_2d(axes.x.coord.clone(), y.coord.clone())
        .map_err(|err| err.to_string())
}

/// Left: escape rate with Wilson intervals.
fn rate_panel<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    panel: &DrawingArea<DB, Shift>,
    series: &[SweepSeries],
    axes: &Axes,
    k: u32,
) -> Result<(), String> {
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    let px = |v: u32| v * k;
    let pt = |v: u32| f64::from(v * k);
    let caption = "escape rate (95% Wilson interval)";
    let mut rate = panel_chart(panel, caption, axes, 84, &axes.rate, k)?;
    let fmt_x = |v: &f64| axes.x.label(v);
    let fmt_y = |v: &f64| axes.rate.label(v);
    quiet_grid(&mut rate.configure_mesh(), k)
        .set_all_tick_mark_size(px(5))
        .x_label_formatter(&fmt_x)
        .y_label_formatter(&fmt_y)
        .x_desc(axes.x_label.clone())
        .y_desc("fraction escaped")
        .label_style((FAMILY, pt(17)))
        .axis_desc_style((FAMILY, pt(19)))
        .draw()
        .map_err(e)?;
    for s in series {
        let c = colour(s.arm);
        let pts: Vec<(f64, f64)> = s
            .bins
            .iter()
            .map(|b| (axes.ax(b.value), b.escaped as f64 / b.walkers.max(1) as f64))
            .collect();
        let line = pts.iter().map(|p| rate.backend_coord(p)).collect();
        series_line(root, s.arm, line, 2 * k)?;
        for b in &s.bins {
            let x = axes.ax(b.value);
            let (xa, ya) = rate.backend_coord(&(x, b.rate_lo));
            let (_, yb) = rate.backend_coord(&(x, b.rate_hi));
            let cap = px(6) as i32;
            for seg in [
                vec![(xa, ya), (xa, yb)],
                vec![(xa - cap, ya), (xa + cap, ya)],
                vec![(xa - cap, yb), (xa + cap, yb)],
            ] {
                root.draw(&PathElement::new(seg, c.stroke_width(2 * k)))
                    .map_err(e)?;
            }
        }
        for p in &pts {
            marker(root, s.arm, rate.backend_coord(p), (6 * k) as i32)?;
        }
    }
    Ok(())
}

/// Right: median escape step of the escaped walkers.
fn median_panel<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    panel: &DrawingArea<DB, Shift>,
    series: &[SweepSeries],
    axes: &Axes,
    k: u32,
) -> Result<(), String> {
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    let px = |v: u32| v * k;
    let pt = |v: u32| f64::from(v * k);
    let caption = "median escape step (escaped walkers)";
    let mut med = panel_chart(panel, caption, axes, 96, &axes.y, k)?;
    let fmt_x = |v: &f64| axes.x.label(v);
    let fmt_y = |v: &f64| axes.y.label(v);
    quiet_grid(&mut med.configure_mesh(), k)
        .set_all_tick_mark_size(px(5))
        .x_label_formatter(&fmt_x)
        .y_label_formatter(&fmt_y)
        .x_desc(axes.x_label.clone())
        .y_desc(if axes.log_y {
            "steps (log scale)"
        } else {
            "steps"
        })
        .label_style((FAMILY, pt(17)))
        .axis_desc_style((FAMILY, pt(19)))
        .draw()
        .map_err(e)?;
    for s in series {
        // Bins without escapes have no median: the line breaks there.
        let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        for b in &s.bins {
            match b.median {
                Some(m) => {
                    if let Some(r) = runs.last_mut() {
                        r.push((axes.ax(b.value), axes.ay(m)));
                    }
                }
                None => runs.push(Vec::new()),
            }
        }
        for r in runs.iter().filter(|r| r.len() > 1) {
            let line = r.iter().map(|p| med.backend_coord(p)).collect();
            series_line(root, s.arm, line, 2 * k)?;
        }
        for p in runs.iter().flatten() {
            marker(root, s.arm, med.backend_coord(p), (6 * k) as i32)?;
        }
    }
    if axes.no_median {
        let (w, h) = panel.dim_in_pixel();
        panel
            .draw(&Text::new(
                "no walker escaped",
                (w as i32 / 2 - px(80) as i32, h as i32 / 2),
                (FAMILY, pt(20)).into_font().color(&BLACK.mix(0.6)),
            ))
            .map_err(e)?;
    }
    Ok(())
}

/// Legend: one row under the panels.
fn legend_row<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    legend: &DrawingArea<DB, Shift>,
    series: &[SweepSeries],
    k: u32,
) -> Result<(), String> {
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    let px = |v: u32| v * k;
    let font = (FAMILY, f64::from(17 * k)).into_font();
    let (lx, ly) = legend.get_base_pixel();
    let mut x = lx + px(110) as i32;
    let y = ly + px(28) as i32;
    for s in series {
        line_swatch(root, s.arm, (x, y), px(40) as i32, 2 * k, (6 * k) as i32)?;
        root.draw(&Text::new(
            s.label.clone(),
            (x + px(50) as i32, y - px(10) as i32),
            font.clone(),
        ))
        .map_err(e)?;
        x += px(50) as i32 + text_w(root, &s.label, &font) + px(40) as i32;
    }
    Ok(())
}
