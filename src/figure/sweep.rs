//! The sweep's figures: fraction of minima and critical points found per instance against N
//! (log y, error bars) with the estimated number per instance, index-fraction histograms per
//! N, index fraction against energy per N with the semicircle prediction, and, on spheres, the
//! energies of minima per N. Counts are of the points found; the estimate (Chao1, 95%
//! interval, `critical::coverage`) is drawn beside them.

use std::ops::Range;
use std::path::Path;

use plotters::chart::{MeshStyle, SeriesAnno};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::style::{quiet_grid, series_key};
use super::ticks::{log_label, TickedAxis, Ticks};
use super::{font_ready, with_ext, write_png, write_svg, FigureError, FAMILY};

/// Okabe–Ito colours (colour-blind safe): blue, vermillion, green, orange.
const BLUE: RGBColor = RGBColor(0, 114, 178);
const VERMILLION: RGBColor = RGBColor(213, 94, 0);
const GREEN: RGBColor = RGBColor(0, 158, 115);
const ORANGE: RGBColor = RGBColor(230, 159, 0);
const PNG_SCALE: u32 = 2;

/// One dimension's row of sweep.csv, as the figures use it.
#[derive(Debug, Clone)]
pub struct DimPoint {
    pub dim: usize,
    pub instances: usize,
    pub points: usize,
    pub fraction_minima: f64,
    /// 95% Wilson interval.
    pub lo: f64,
    pub hi: f64,
    /// Mean and standard error per instance: minima, saddles, all distinct points found.
    pub per_instance: [(f64, f64); 3],
    /// The estimated number of points per instance and its 95% interval (estimate, lo, hi);
    /// `None` for tables written before the estimate existed.
    pub estimated: Option<(f64, f64, f64)>,
}

/// Predicted index fraction at (dimension, energy).
pub type Prediction<'a> = &'a dyn Fn(usize, f64) -> f64;
/// (dimension, energy per spin) of every minimum, and a reference energy with its legend text.
pub type Minima<'a> = (Vec<(usize, f64)>, Option<(f64, &'a str)>);

/// Everything the sweep figures draw.
pub struct SweepData<'a> {
    /// The objective (template spec), drawn as a title band.
    pub title: &'a str,
    pub dims: Vec<DimPoint>,
    /// by_index.csv: (dim, index, fraction of that dimension's points).
    pub bars: Vec<(usize, usize, f64)>,
    /// Hessian dimension per N (N, or N − 1 on the sphere), in the order of `dims`.
    pub hessian_dims: Vec<usize>,
    /// (dim, energy, index fraction) of every point.
    pub scatter: Vec<(usize, f64, f64)>,
    pub energy_label: &'a str,
    /// Predicted index fraction at (dim, energy), with its legend text.
    pub prediction: Option<(Prediction<'a>, &'a str)>,
    /// On spheres: (dim, energy per spin) of every minimum, and a reference energy to mark.
    pub minima: Option<Minima<'a>>,
}

/// Draws `$f(root, scale, args..)` as `<stem>.png` (at PNG_SCALE) and `<stem>.svg`.
macro_rules! both {
    ($dir:expr, $stem:expr, $size:expr, $f:ident ( $($arg:expr),* )) => {{
        let stem = $dir.join($stem);
        let size: (u32, u32) = $size;
        write_png(&with_ext(&stem, "png"), (size.0 * PNG_SCALE, size.1 * PNG_SCALE), |root| {
            $f(root, PNG_SCALE, $($arg),*)
        })?;
        write_svg(&with_ext(&stem, "svg"), size, |root| $f(root, 1, $($arg),*))?;
    }};
}

/// Writes every figure into `dir` (PNG and SVG) and returns the file names.
pub fn all(dir: &Path, d: &SweepData) -> Result<Vec<String>, FigureError> {
    if !font_ready() {
        return Err(FigureError::Draw {
            path: dir.to_path_buf(),
            message: "the embedded font could not be loaded".into(),
        });
    }
    let mut stems = vec!["fraction_minima", "index_fraction_hist", "index_vs_energy"];
    both!(dir, "fraction_minima", (1500, 640), fraction_minima(d));
    let grid = grid_size(d.dims.len());
    both!(dir, "index_fraction_hist", grid, index_hist(d));
    both!(dir, "index_vs_energy", grid, index_energy(d));
    if let Some(minima) = &d.minima {
        both!(dir, "minima_energy", grid, minima_energy(d, minima));
        stems.push("minima_energy");
    }
    Ok(stems
        .iter()
        .flat_map(|s| [format!("{s}.png"), format!("{s}.svg")])
        .collect())
}

/// Columns and rows of small multiples for `n` panels.
fn layout(n: usize) -> (usize, usize) {
    let cols = n.clamp(1, 4);
    (cols, n.div_ceil(cols).max(1))
}

/// SVG size of a grid of small multiples (the title band included).
fn grid_size(n: usize) -> (u32, u32) {
    let (c, r) = layout(n);
    (460 * c as u32, 380 * r as u32 + 64)
}

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Fills the canvas white, sets `title` in a band on top and returns the area below.
fn titled<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    k: u32,
) -> Result<DrawingArea<DB, Shift>, String> {
    root.fill(&WHITE).map_err(err)?;
    let (band, rest) = root.split_vertically(58 * k);
    let w = band.dim_in_pixel().0 as i32;
    band.draw(&Text::new(
        title.to_string(),
        (w / 2, 32 * k as i32),
        TextStyle::from((FAMILY, f64::from(26 * k)).into_font())
            .pos(Pos::new(HPos::Center, VPos::Center)),
    ))
    .map_err(err)?;
    Ok(rest)
}

/// x range around the dimensions, with room for error bars at the ends.
fn dim_range(dims: &[DimPoint]) -> (f64, f64) {
    let lo = dims.iter().map(|d| d.dim).min().unwrap_or(1) as f64;
    let hi = dims.iter().map(|d| d.dim).max().unwrap_or(2) as f64;
    // One dimension: wide enough for its neighbours' ticks, so the axis has more than one.
    let pad = if hi > lo {
        ((hi - lo) * 0.07).max(0.6)
    } else {
        1.2
    };
    (lo - pad, hi + pad)
}

/// A log-axis range covering the positive values, one decade of padding below at most.
fn log_range(values: impl Iterator<Item = f64>, top: Option<f64>) -> (f64, f64) {
    let pos: Vec<f64> = values.filter(|v| *v > 0.0 && v.is_finite()).collect();
    let lo = pos.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = pos.iter().copied().fold(0.0, f64::max);
    if pos.is_empty() {
        return (1e-3, top.unwrap_or(1.0));
    }
    let top = top.map_or(hi * 2.0, |t| t.max(hi * 1.2));
    (lo / 2.5, top)
}

/// Tick count for a dimension axis: one per integer on short ranges.
fn x_ticks(x0: f64, x1: f64) -> usize {
    ((x1 - x0).floor() as usize + 1).clamp(2, 12)
}

fn integer_ticks(v: &f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        String::new()
    }
}

/// Left: fraction of minima against N (log y, 95% Wilson intervals). Right: distinct critical
/// points per instance against N, by kind (log y, ± 1 standard error across instances).
fn fraction_minima<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    k: u32,
    d: &SweepData,
) -> Result<(), String> {
    let root = titled(root, d.title, k)?;
    let panels = root.split_evenly((1, 2));
    let xs = dim_range(&d.dims);
    minima_fraction_panel(&panels[0], k, d, xs)?;
    points_per_instance_panel(&panels[1], k, d, xs)?;
    root.present().map_err(err)
}

/// A panel against the dimension N (x over `xs`) with a log y axis over `ys`, its grid drawn.
fn dim_axes<'a, DB: DrawingBackend>(
    panel: &'a DrawingArea<DB, Shift>,
    k: u32,
    (caption, y_desc): (&str, &str),
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
) -> Result<ChartContext<'a, DB, Cartesian2d<RangedCoordf64, TickedAxis>>, String> {
    let pt = |v: u32| f64::from(v * k);
    let mut chart = ChartBuilder::on(panel)
        .caption(caption, (FAMILY, pt(22)))
        .margin(18 * k)
        .margin_right(30 * k)
        .x_label_area_size(62 * k)
        .y_label_area_size(96 * k)
        .build_cartesian_2d(x0..x1, TickedAxis::log(y0, y1, 10))
        .map_err(err)?;
    quiet_grid(&mut chart.configure_mesh(), k)
        .x_desc("dimension N")
        .y_desc(y_desc)
        .x_labels(x_ticks(x0, x1))
        .x_label_formatter(&integer_ticks)
        .y_label_formatter(&|v| log_label(v.log10()))
        .label_style((FAMILY, pt(18)))
        .axis_desc_style((FAMILY, pt(20)))
        .draw()
        .map_err(err)?;
    Ok(chart)
}

/// (a) The fraction of minima per N with its Wilson interval; an N without minima is an open
/// circle on the floor (its interval's upper end is all that is known).
fn minima_fraction_panel<DB: DrawingBackend>(
    panel: &DrawingArea<DB, Shift>,
    k: u32,
    d: &SweepData,
    xs: (f64, f64),
) -> Result<(), String> {
    let (y0, y1) = log_range(
        d.dims.iter().flat_map(|p| [p.fraction_minima, p.lo, p.hi]),
        Some(1.0),
    );
    let mut chart = dim_axes(
        panel,
        k,
        (
            "Fraction of the points found that are minima",
            "fraction of minima (95% Wilson interval)",
        ),
        xs,
        (y0, y1),
    )?;
    let clamp = |v: f64| v.max(y0);
    chart
        .draw_series(LineSeries::new(
            d.dims
                .iter()
                .filter(|p| p.fraction_minima > 0.0)
                .map(|p| (p.dim as f64, p.fraction_minima)),
            BLUE.mix(0.6).stroke_width(2 * k),
        ))
        .map_err(err)?;
    chart
        .draw_series(d.dims.iter().filter(|p| p.hi.is_finite()).map(|p| {
            ErrorBar::new_vertical(
                p.dim as f64,
                clamp(p.lo),
                clamp(p.fraction_minima),
                clamp(p.hi),
                BLUE.stroke_width(2 * k),
                12 * k,
            )
        }))
        .map_err(err)?;
    chart
        .draw_series(d.dims.iter().filter(|p| p.hi.is_finite()).map(|p| {
            let style = if p.fraction_minima > 0.0 {
                BLUE.filled()
            } else {
                WHITE.filled()
            };
            Circle::new((p.dim as f64, clamp(p.fraction_minima)), 6 * k, style)
        }))
        .map_err(err)?;
    let zeros: Vec<&DimPoint> = d
        .dims
        .iter()
        .filter(|p| p.hi.is_finite() && p.fraction_minima == 0.0)
        .collect();
    chart
        .draw_series(
            zeros
                .iter()
                .map(|p| Circle::new((p.dim as f64, y0), 6 * k, BLUE.stroke_width(2 * k))),
        )
        .map_err(err)?
        .label("no minima found: upper bound only")
        .legend(move |(x, y)| Circle::new((x + 10 * k as i32, y), 6 * k, BLUE.stroke_width(2 * k)));
    if !zeros.is_empty() {
        let p = SeriesLabelPosition::UpperRight;
        series_key(&mut chart, p, 10 * k, 30 * k, f64::from(17 * k))?;
    }
    Ok(())
}

/// (b) Distinct critical points per instance against N, one series per kind, each nudged
/// sideways so that their error bars stay apart.
fn points_per_instance_panel<DB: DrawingBackend>(
    panel: &DrawingArea<DB, Shift>,
    k: u32,
    d: &SweepData,
    (x0, x1): (f64, f64),
) -> Result<(), String> {
    let series = [
        ("minima found", BLUE, 0usize),
        ("saddles found", VERMILLION, 1),
        ("all distinct points found", GREEN, 2),
    ];
    let (z0, z1) = log_range(
        d.dims.iter().flat_map(|p| {
            p.per_instance
                .iter()
                .flat_map(|(m, s)| [*m, m + s.max(0.0), m - s.max(0.0)])
                .chain(p.estimated.iter().flat_map(|e| [e.0, e.1, e.2]))
        }),
        None,
    );
    // Room for the legend (four rows, upper left): the data keep to the lower 70% of the
    // decades, however high the estimates reach.
    let z1 = (z1 * 2.0).max(z0 * (z1 / z0).powf(1.0 / 0.7));
    let mut chart = dim_axes(
        panel,
        k,
        (
            "Distinct critical points found per instance",
            "points found per instance (± 1 s.e.)",
        ),
        (x0, x1),
        (z0, z1),
    )?;
    let shift = (x1 - x0) * 0.012;
    for (label, colour, s) in series {
        let dx = (s as f64 - 1.0) * shift;
        let at = |p: &DimPoint| (p.dim as f64 + dx, p.per_instance[s]);
        chart
            .draw_series(LineSeries::new(
                d.dims
                    .iter()
                    .map(at)
                    .filter(|(_, (m, _))| *m > 0.0)
                    .map(|(x, (m, _))| (x, m)),
                colour.mix(0.6).stroke_width(2 * k),
            ))
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| Circle::new((x + 10 * k as i32, y), 6 * k, colour.filled()));
        chart
            .draw_series(
                d.dims
                    .iter()
                    .map(at)
                    .filter(|(_, (m, se))| *m > 0.0 && se.is_finite())
                    .map(|(x, (m, se))| {
                        ErrorBar::new_vertical(
                            x,
                            (m - se).max(z0),
                            m,
                            m + se,
                            colour.stroke_width(2 * k),
                            10 * k,
                        )
                    }),
            )
            .map_err(err)?;
        chart
            .draw_series(
                d.dims
                    .iter()
                    .map(at)
                    .filter(|(_, (m, _))| *m > 0.0)
                    .map(|(x, (m, _))| Circle::new((x, m), 6 * k, colour.filled())),
            )
            .map_err(err)?;
    }
    estimate_series(&mut chart, k, d, (2.0 * shift, z0))?;
    let p = SeriesLabelPosition::UpperLeft;
    series_key(&mut chart, p, 10 * k, 30 * k, f64::from(17 * k))
}

/// The estimated number of points per instance: open circles with their 95% intervals,
/// `dx` to the right of the found series, clamped to the axis floor `z0`.
fn estimate_series<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, TickedAxis>>,
    k: u32,
    d: &SweepData,
    (dx, z0): (f64, f64),
) -> Result<(), String> {
    let est: Vec<(f64, (f64, f64, f64))> = d
        .dims
        .iter()
        .filter_map(|p| Some((p.dim as f64 + dx, p.estimated?)))
        .filter(|(_, e)| e.0 > 0.0 && e.2.is_finite())
        .collect();
    if est.is_empty() {
        return Ok(());
    }
    let line = GREEN.stroke_width(2 * k);
    chart
        .draw_series(
            est.iter().map(|&(x, (m, lo, hi))| {
                ErrorBar::new_vertical(x, lo.max(z0), m, hi, line, 10 * k)
            }),
        )
        .map_err(err)?;
    chart
        .draw_series(
            est.iter()
                .map(|&(x, (m, _, _))| Circle::new((x, m), 6 * k, WHITE.filled())),
        )
        .map_err(err)?;
    chart
        .draw_series(
            est.iter()
                .map(|&(x, (m, _, _))| Circle::new((x, m), 6 * k, line)),
        )
        .map_err(err)?
        .label("all points, estimated (Chao1, 95%)")
        .legend(move |(x, y)| Circle::new((x + 10 * k as i32, y), 6 * k, line));
    Ok(())
}

/// A small multiple: `caption` over axes spanning `xs` x `ys`.
fn small_axes<'a, DB: DrawingBackend>(
    panel: &'a DrawingArea<DB, Shift>,
    k: u32,
    caption: String,
    xs: Range<f64>,
    ys: Range<f64>,
) -> Result<ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>, String> {
    ChartBuilder::on(panel)
        .caption(caption, (FAMILY, f64::from(19 * k)))
        .margin(14 * k)
        .margin_right(24 * k)
        .x_label_area_size(56 * k)
        .y_label_area_size(76 * k)
        .build_cartesian_2d(xs, ys)
        .map_err(err)
}

/// The grid and label sizes of a small multiple.
fn small_grid<'m, 'a, 'b, DB: DrawingBackend>(
    mesh: &'m mut MeshStyle<'a, 'b, RangedCoordf64, RangedCoordf64, DB>,
    k: u32,
) -> &'m mut MeshStyle<'a, 'b, RangedCoordf64, RangedCoordf64, DB> {
    quiet_grid(mesh, k)
        .label_style((FAMILY, f64::from(15 * k)))
        .axis_desc_style((FAMILY, f64::from(17 * k)))
}

/// Labels `series`, drawn as a `colour` line 3 units wide, with `label` in the chart's key.
fn line_label<'a, DB: DrawingBackend + 'a>(
    series: &mut SeriesAnno<'a, DB>,
    label: impl Into<String>,
    colour: RGBColor,
    k: u32,
) {
    series.label(label).legend(move |(x, y)| {
        PathElement::new(
            vec![(x, y), (x + 22 * k as i32, y)],
            colour.stroke_width(3 * k),
        )
    });
}

/// Small multiples: for each N, the distribution of index / (Hessian dimension) over the
/// distinct critical points of all instances.
fn index_hist<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    k: u32,
    d: &SweepData,
) -> Result<(), String> {
    let root = titled(
        root,
        &format!("Index fraction of critical points: {}", d.title),
        k,
    )?;
    let (cols, rows) = layout(d.dims.len());
    let panels = root.split_evenly((rows, cols));
    for ((p, &hd), panel) in d.dims.iter().zip(&d.hessian_dims).zip(&panels) {
        let bars: Vec<(usize, f64)> = d
            .bars
            .iter()
            .filter(|b| b.0 == p.dim && b.2.is_finite())
            .map(|b| (b.1, b.2))
            .collect();
        let top = bars.iter().map(|b| b.1).fold(0.0, f64::max).max(0.05) * 1.15;
        let hd = hd.max(1) as f64;
        let caption = format!(
            "N = {}  ({} points found, {} instances)",
            p.dim, p.points, p.instances
        );
        let mut chart = small_axes(panel, k, caption, -0.07..1.07, 0.0..top)?;
        let (xt, yt) = (Ticks::linear(-0.07, 1.07, 6), Ticks::linear(0.0, top, 6));
        small_grid(&mut chart.configure_mesh(), k)
            .x_desc(
                if d.hessian_dims.first() != d.dims.first().map(|p| &p.dim) {
                    "index / (N − 1)"
                } else {
                    "index / N"
                },
            )
            .y_desc("fraction of points found")
            .x_labels(xt.count)
            .y_labels(yt.count)
            .x_label_formatter(&|v| xt.label(*v))
            .y_label_formatter(&|v| yt.label(*v))
            .disable_x_mesh()
            .draw()
            .map_err(err)?;
        let half = (0.4 / hd).min(0.05);
        chart
            .draw_series(bars.iter().map(|&(i, f)| {
                let x = i as f64 / hd;
                Rectangle::new([(x - half, 0.0), (x + half, f)], BLUE.filled())
            }))
            .map_err(err)?;
        if p.points == 0 {
            no_data(panel, "no critical points", k)?;
        }
    }
    root.present().map_err(err)
}

fn no_data<DB: DrawingBackend>(
    panel: &DrawingArea<DB, Shift>,
    text: &str,
    k: u32,
) -> Result<(), String> {
    let (w, h) = panel.dim_in_pixel();
    panel
        .draw(&Text::new(
            text.to_string(),
            (w as i32 / 2, h as i32 / 2),
            TextStyle::from((FAMILY, f64::from(18 * k)).into_font())
                .color(&BLACK.mix(0.6))
                .pos(Pos::new(HPos::Center, VPos::Center)),
        ))
        .map_err(err)
}

/// A padded range of `values` (or `fallback` when there are none).
fn span(values: impl Iterator<Item = f64>, fallback: (f64, f64)) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if lo > hi {
        return fallback;
    }
    let pad = ((hi - lo) * 0.08).max(1e-3 * (1.0 + lo.abs()));
    (lo - pad, hi + pad)
}

/// Small multiples: index fraction against energy for every point of each N, with the
/// semicircle prediction when the landscape has one.
fn index_energy<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    k: u32,
    d: &SweepData,
) -> Result<(), String> {
    let root = titled(
        root,
        &format!("Index fraction against energy: {}", d.title),
        k,
    )?;
    let (cols, rows) = layout(d.dims.len());
    let panels = root.split_evenly((rows, cols));
    for (i, (p, panel)) in d.dims.iter().zip(&panels).enumerate() {
        index_energy_panel(panel, k, d, p, i == 0)?;
    }
    root.present().map_err(err)
}

/// One N's panel of [`index_energy`]; the `first` one carries the prediction's key.
fn index_energy_panel<DB: DrawingBackend>(
    panel: &DrawingArea<DB, Shift>,
    k: u32,
    d: &SweepData,
    p: &DimPoint,
    first: bool,
) -> Result<(), String> {
    let pts: Vec<(f64, f64)> = d
        .scatter
        .iter()
        .filter(|s| s.0 == p.dim)
        .map(|s| (s.1, s.2))
        .collect();
    let (x0, x1) = span(pts.iter().map(|q| q.0), (-1.0, 1.0));
    let caption = format!("N = {}  ({} points found)", p.dim, p.points);
    let mut chart = small_axes(panel, k, caption, x0..x1, -0.05..1.05)?;
    let (xt, yt) = (Ticks::linear(x0, x1, 5), Ticks::linear(-0.05, 1.05, 6));
    small_grid(&mut chart.configure_mesh(), k)
        .x_desc(d.energy_label)
        .y_desc("index fraction")
        .x_labels(xt.count)
        .y_labels(yt.count)
        .x_label_formatter(&|v| xt.label(*v))
        .y_label_formatter(&|v| yt.label(*v))
        .draw()
        .map_err(err)?;
    chart
        .draw_series(
            pts.iter()
                .map(|&q| Circle::new(q, 4 * k, BLUE.mix(0.35).filled())),
        )
        .map_err(err)?;
    if let Some((pred, label)) = d.prediction {
        let curve: Vec<(f64, f64)> = (0..=240)
            .map(|j| {
                let x = x0 + (x1 - x0) * f64::from(j) / 240.0;
                (x, pred(p.dim, x))
            })
            .collect();
        let s = chart
            .draw_series(LineSeries::new(curve, VERMILLION.stroke_width(3 * k)))
            .map_err(err)?;
        if first {
            line_label(s, label, VERMILLION, k);
            let pos = SeriesLabelPosition::UpperLeft;
            series_key(&mut chart, pos, 8 * k, 28 * k, f64::from(14 * k))?;
        }
    }
    if pts.is_empty() {
        no_data(panel, "no critical points", k)?;
    }
    Ok(())
}

/// Small multiples (spheres): histogram of the energy per spin of the minima of each N, with a
/// reference energy marked.
fn minima_energy<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    k: u32,
    d: &SweepData,
    minima: &Minima,
) -> Result<(), String> {
    let root = titled(root, &format!("Energy of minima: {}", d.title), k)?;
    let (cols, rows) = layout(d.dims.len());
    let panels = root.split_evenly((rows, cols));
    for (i, (p, panel)) in d.dims.iter().zip(&panels).enumerate() {
        minima_energy_panel(panel, k, p, minima, i == 0)?;
    }
    root.present().map_err(err)
}

/// One N's panel of [`minima_energy`]; the `first` one carries the reference energy's key.
fn minima_energy_panel<DB: DrawingBackend>(
    panel: &DrawingArea<DB, Shift>,
    k: u32,
    p: &DimPoint,
    (us, reference): &Minima,
    first: bool,
) -> Result<(), String> {
    let u: Vec<f64> = us.iter().filter(|m| m.0 == p.dim).map(|m| m.1).collect();
    let (x0, x1) = span(u.iter().copied().chain(reference.map(|r| r.0)), (-2.0, 0.0));
    let nbins = 24usize;
    let w = (x1 - x0) / nbins as f64;
    let mut counts = vec![0usize; nbins];
    for v in &u {
        let b = (((v - x0) / w) as usize).min(nbins - 1);
        counts[b] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(0).max(1) as f64 * 1.3;
    let caption = format!("N = {}  ({} minima)", p.dim, u.len());
    let mut chart = small_axes(panel, k, caption, x0..x1, 0.0..top)?;
    let xt = Ticks::linear(x0, x1, 5);
    small_grid(&mut chart.configure_mesh(), k)
        .x_desc("energy per spin u = H/N")
        .y_desc("minima")
        .x_labels(xt.count)
        .y_labels(5)
        .x_label_formatter(&|v| xt.label(*v))
        .y_label_formatter(&integer_ticks)
        .disable_x_mesh()
        .draw()
        .map_err(err)?;
    chart
        .draw_series(
            counts
                .iter()
                .enumerate()
                .filter(|c| *c.1 > 0)
                .map(|(b, &c)| {
                    let a = x0 + w * b as f64;
                    Rectangle::new(
                        [(a + 0.04 * w, 0.0), (a + 0.96 * w, c as f64)],
                        BLUE.filled(),
                    )
                }),
        )
        .map_err(err)?;
    if let Some((e, label)) = reference {
        let s = chart
            .draw_series(DashedLineSeries::new(
                vec![(*e, 0.0), (*e, top)],
                8 * k,
                6 * k,
                ORANGE.stroke_width(3 * k),
            ))
            .map_err(err)?;
        if first {
            line_label(s, label.to_string(), ORANGE, k);
            let pos = SeriesLabelPosition::UpperRight;
            series_key(&mut chart, pos, 8 * k, 28 * k, f64::from(14 * k))?;
        }
    }
    if u.is_empty() {
        no_data(panel, "no minima", k)?;
    }
    Ok(())
}
