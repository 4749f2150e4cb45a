//! Basin figures: `basins.png` (one pixel per walker, a colour per attractor), `basins.svg` (the
//! same pixels framed by slice axes), `basins_annotated.png` (the pixels upscaled to at least
//! 800 px, with axes, the critical points and a colour key: [`annotated`]),
//! `landscape.png/.svg` (f on the slice: heat map, contour lines, critical points by kind,
//! walker paths, colour bar) and `legend.png/.svg`.
//!
//! Colours: a fixed qualitative palette (Tableau 10 without its grey) indexed by the label, which
//! is the attractor's rank in f among the attractors of the run, so the lowest one is always the
//! first colour. Labels past the palette repeat it darker, then lighter, then muted (36
//! colours); from label 36 on, colours are generated (golden-ratio hue steps at three lightness
//! levels, [`generated_colour`]), so every label of any run has a colour of its own. A grey tail
//! would be the alternative, but high-dimensional slices easily reach hundreds of attractors,
//! and a mostly grey picture hides the basins' shapes. Black is label -1.

mod annotated;

use std::path::Path;

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::contour::contour;
use super::style::generated_colour;
use super::ticks::{Column, Ticks};
use super::{font_ready, FigureError, FAMILY};

/// Tableau 10 without grey: distinct hues, none near black or grey.
const PALETTE: [[u8; 3]; 9] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [188, 189, 34],
    [23, 190, 207],
];
/// Labels coloured from the palette: as it is, then darker, lighter and muted.
pub const PALETTE_COLOURS: usize = 4 * PALETTE.len();
/// Label -1: no attractor (diverged or not converged).
pub const NONE: [u8; 3] = [0, 0, 0];

/// The colour of a label (before any step shading): the palette and its variants up to
/// PALETTE_COLOURS, generated colours beyond; every label >= 0 has its own.
pub fn label_colour(label: i32) -> [u8; 3] {
    let Ok(l) = usize::try_from(label) else {
        return NONE;
    };
    if l >= PALETTE_COLOURS {
        return generated_colour(l - PALETTE_COLOURS);
    }
    let p = PALETTE[l % PALETTE.len()].map(f64::from);
    let mix = |c: f64, target: f64, w: f64| (c + w * (target - c)).round() as u8;
    match l / PALETTE.len() {
        0 => p.map(|c| c as u8),
        1 => p.map(|c| mix(c, 0.0, 0.4)),
        2 => p.map(|c| mix(c, 255.0, 0.55)),
        _ => p.map(|c| mix(c, 128.0, 0.6)),
    }
}

/// One attractor's legend row.
#[derive(Debug, Clone, PartialEq)]
pub struct AttractorRow {
    pub label: i32,
    pub f: f64,
    pub index: usize,
    pub kind: String,
    pub walkers: usize,
    pub fraction: f64,
    pub ci95: (f64, f64),
}

/// A critical point drawn on the landscape, in slice coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct MarkedPoint {
    pub kind: String,
    pub s: f64,
    pub t: f64,
}

/// Everything the basin figures show; `labels`, `steps` and `landscape` are H x W row-major with
/// row 0 at the top.
pub struct BasinPicture<'a> {
    pub width: usize,
    pub height: usize,
    pub labels: &'a [i32],
    pub steps: &'a [u32],
    pub shade_steps: bool,
    pub landscape: &'a [f64],
    /// [x0, x1, y0, y1] in slice coordinates.
    pub extent: [f64; 4],
    pub axes: [&'a str; 2],
    pub title: &'a str,
    pub subtitle: &'a str,
    /// Rows of basins.csv: every label >= 0 in order, then -1 if present.
    pub attractors: &'a [AttractorRow],
    pub points: &'a [MarkedPoint],
    /// Walker paths in slice coordinates, start first.
    pub paths: &'a [Vec<(f64, f64)>],
}

/// The PNG figures are drawn at this multiple of the SVG size.
const PNG_SCALE: u32 = 2;
/// Fills marking where a raster goes in the SVG; replaced by an embedded PNG afterwards.
const PLACEHOLDER_MAIN: RGBColor = RGBColor(1, 2, 3);
const PLACEHOLDER_BAR: RGBColor = RGBColor(1, 2, 4);

/// The step-shading factor per pixel: 1 at the fewest steps among labelled pixels, down to
/// 0.45 at the most, linear in ln(1 + steps).
fn shade<'a>(p: &'a BasinPicture<'a>) -> impl Fn(usize) -> f64 + 'a {
    let lg = |s: u32| f64::from(s).ln_1p();
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for (k, &s) in p.steps.iter().enumerate() {
        if p.labels[k] >= 0 {
            lo = lo.min(lg(s));
            hi = hi.max(lg(s));
        }
    }
    let span = if hi > lo { hi - lo } else { 1.0 };
    move |k: usize| {
        if !p.shade_steps || p.labels[k] < 0 {
            1.0
        } else {
            1.0 - 0.55 * ((lg(p.steps[k]) - lo) / span).clamp(0.0, 1.0)
        }
    }
}

/// The W x H RGB basin raster: exactly one pixel per walker.
pub fn basin_raster(p: &BasinPicture) -> Vec<u8> {
    let sh = shade(p);
    let mut out = Vec::with_capacity(p.labels.len() * 3);
    for (k, &l) in p.labels.iter().enumerate() {
        let c = label_colour(l);
        let s = sh(k);
        out.extend(c.map(|v| (f64::from(v) * s).round() as u8));
    }
    out
}

/// Viridis (matplotlib), 9 anchors, linearly interpolated.
fn viridis(x: f64) -> [u8; 3] {
    const A: [[f64; 3]; 9] = [
        [68.0, 1.0, 84.0],
        [71.0, 45.0, 123.0],
        [59.0, 82.0, 139.0],
        [44.0, 114.0, 142.0],
        [33.0, 145.0, 140.0],
        [40.0, 174.0, 128.0],
        [94.0, 201.0, 98.0],
        [173.0, 220.0, 48.0],
        [253.0, 231.0, 37.0],
    ];
    let x = if x.is_finite() {
        x.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let f = x * 8.0;
    let k = (f.floor() as usize).min(7);
    let r = f - k as f64;
    [0, 1, 2].map(|c| (A[k][c] + r * (A[k + 1][c] - A[k][c])).round() as u8)
}

/// The landscape's colour range: [min f, 95th percentile of f] over the finite values, so a
/// few steep walls do not wash out the floor; `clipped` when some values lie above.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColourScale {
    pub lo: f64,
    pub hi: f64,
    pub clipped: bool,
}

impl ColourScale {
    pub fn of(f: &[f64]) -> ColourScale {
        let mut v: Vec<f64> = f.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return ColourScale {
                lo: 0.0,
                hi: 1.0,
                clipped: false,
            };
        }
        v.sort_by(f64::total_cmp);
        let lo = v[0];
        let max = v[v.len() - 1];
        let mut hi = v[((v.len() - 1) as f64 * 0.95).round() as usize];
        if hi <= lo {
            hi = max;
        }
        if hi <= lo {
            hi = lo + 1.0;
        }
        ColourScale {
            lo,
            hi,
            clipped: max > hi,
        }
    }
    fn unit(&self, f: f64) -> f64 {
        (f - self.lo) / (self.hi - self.lo)
    }
}

fn landscape_raster(p: &BasinPicture, scale: &ColourScale) -> Vec<u8> {
    p.landscape
        .iter()
        .flat_map(|&f| {
            if f.is_finite() {
                viridis(scale.unit(f))
            } else {
                [255, 255, 255]
            }
        })
        .collect()
}

/// Nearest-neighbour resampling of a W x H RGB raster to w x h.
fn resample(src: &[u8], sw: usize, sh: usize, w: usize, h: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        let sy = (y * sh / h.max(1)).min(sh - 1);
        for x in 0..w {
            let sx = (x * sw / w.max(1)).min(sw - 1);
            let k = 3 * (sy * sw + sx);
            out.extend_from_slice(&src[k..k + 3]);
        }
    }
    out
}

fn png_bytes(rgb: &[u8], w: usize, h: usize) -> Result<Vec<u8>, String> {
    let mut png = Vec::new();
    image::ImageEncoder::write_image(
        image::codecs::png::PngEncoder::new(&mut png),
        rgb,
        w as u32,
        h as u32,
        image::ExtendedColorType::Rgb8,
    )
    .map_err(|e| e.to_string())?;
    Ok(png)
}

fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= c.len() {
                s.push(T[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// Replaces the SVG rectangle filled with `placeholder` by an embedded PNG of the same box,
/// drawn without smoothing (one image pixel stays a crisp square).
fn embed(svg: &mut String, placeholder: RGBColor, png: &[u8]) -> Result<(), String> {
    let key = format!(
        "fill=\"#{:02X}{:02X}{:02X}\"",
        placeholder.0, placeholder.1, placeholder.2
    );
    let at = svg.find(&key).ok_or("raster placeholder missing")?;
    let start = svg[..at]
        .rfind("<rect")
        .ok_or("raster placeholder malformed")?;
    let end = at + svg[at..].find("/>").ok_or("raster placeholder malformed")? + 2;
    let attr = |name: &str| -> Option<String> {
        let tag = &svg[start..end];
        let k = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        Some(tag[k..k + tag[k..].find('"')?].to_string())
    };
    let (x, y, w, h) = (
        attr("x").ok_or("x")?,
        attr("y").ok_or("y")?,
        attr("width").ok_or("width")?,
        attr("height").ok_or("height")?,
    );
    let image = format!(
        "<image x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" preserveAspectRatio=\"none\" \
         style=\"image-rendering:pixelated;image-rendering:crisp-edges\" \
         href=\"data:image/png;base64,{}\"/>",
        base64(png)
    );
    svg.replace_range(start..end, &image);
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), FigureError> {
    crate::output::write_atomic(path, bytes).map_err(|source| FigureError::Io {
        path: path.to_owned(),
        source,
    })
}

fn draw_err(path: &Path) -> impl Fn(String) -> FigureError + '_ {
    move |message| FigureError::Draw {
        path: path.to_owned(),
        message,
    }
}

/// Draws an SVG of `size` with `draw`, embeds the rasters for the placeholders, writes it.
fn svg_figure(
    path: &Path,
    size: (u32, u32),
    rasters: &[(RGBColor, Vec<u8>)],
    draw: impl FnOnce(DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), String>,
) -> Result<(), FigureError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        draw(root).map_err(draw_err(path))?;
    }
    for (ph, png) in rasters {
        embed(&mut svg, *ph, png).map_err(draw_err(path))?;
    }
    write(path, svg.as_bytes())
}

/// Draws a PNG of `size` with `draw` and writes it.
fn png_figure(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(DrawingArea<BitMapBackend<'_>, Shift>) -> Result<(), String>,
) -> Result<(), FigureError> {
    let mut buf = vec![255u8; size.0 as usize * size.1 as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buf, size).into_drawing_area();
        draw(root).map_err(draw_err(path))?;
    }
    let png = png_bytes(&buf, size.0 as usize, size.1 as usize).map_err(draw_err(path))?;
    write(path, &png)
}

/// How a raster reaches the figure: blitted pixels (PNG) or a placeholder box (SVG).
#[derive(Clone, Copy)]
enum Raster<'a> {
    Blit { rgb: &'a [u8], w: usize, h: usize },
    Placeholder(RGBColor),
}

fn place<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    raster: Raster,
    (x, y): (i32, i32),
    (w, h): (u32, u32),
) -> Result<(), String> {
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    match raster {
        Raster::Blit { rgb, w: sw, h: sh } => {
            let buf = resample(rgb, sw, sh, w as usize, h as usize);
            let el = BitMapElement::with_owned_buffer((x, y), (w, h), buf)
                .ok_or("raster size mismatch")?;
            root.draw(&el).map_err(e)
        }
        Raster::Placeholder(c) => root
            .draw(&Rectangle::new(
                [(x, y), (x + w as i32, y + h as i32)],
                c.filled(),
            ))
            .map_err(e),
    }
}

/// Plot-area size in SVG units: the longer side 600, the shape of the extent in slice units
/// (no geometric distortion), clamped to an aspect ratio between 1:3 and 3:1.
fn plot_size(extent: [f64; 4]) -> (u32, u32) {
    let aspect = ((extent[1] - extent[0]) / (extent[3] - extent[2])).clamp(1.0 / 3.0, 3.0);
    if aspect >= 1.0 {
        (600, (600.0 / aspect).round() as u32)
    } else {
        ((600.0 * aspect).round() as u32, 600)
    }
}

const TITLE_H: u32 = 62;
const MARGIN: u32 = 22;
const LEFT: u32 = 84;
const BOTTOM: u32 = 64;
const CBAR_GAP: u32 = 26;
const CBAR_W: u32 = 22;
const CBAR_LABELS: u32 = 96;
const KEY_H: u32 = 40;

/// Fills `root` white, draws the title band and returns the area below it.
fn titled<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    p: &BasinPicture,
    k: u32,
) -> Result<DrawingArea<DB, Shift>, String> {
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    root.fill(&WHITE).map_err(e)?;
    let (area, rest) = root.split_vertically(TITLE_H * k);
    let w = area.dim_in_pixel().0 as i32;
    let centre = Pos::new(HPos::Center, VPos::Center);
    area.draw(&Text::new(
        p.title.to_string(),
        (w / 2, (24 * k) as i32),
        TextStyle::from((FAMILY, f64::from(20 * k)).into_font()).pos(centre),
    ))
    .map_err(e)?;
    area.draw(&Text::new(
        p.subtitle.to_string(),
        (w / 2, (48 * k) as i32),
        TextStyle::from((FAMILY, f64::from(14 * k)).into_font())
            .color(&BLACK.mix(0.7))
            .pos(centre),
    ))
    .map_err(e)?;
    Ok(rest)
}

type SliceChart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Slice axes on `area` over the picture's extent (`right`: the margin on their right).
fn slice_chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    p: &BasinPicture,
    right: u32,
    k: u32,
) -> Result<SliceChart<'a, DB>, String> {
    let [x0, x1, y0, y1] = p.extent;
    ChartBuilder::on(area)
        .margin_left(MARGIN * k)
        .margin_right(right * k)
        .margin_top(8 * k)
        .x_label_area_size(BOTTOM * k)
        .y_label_area_size(LEFT * k)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|err| err.to_string())
}

/// The slice axes' ticks and names, without grid lines (they would cross the raster).
fn slice_grid<DB: DrawingBackend>(
    chart: &mut SliceChart<'_, DB>,
    p: &BasinPicture,
    k: u32,
) -> Result<(), String> {
    let [x0, x1, y0, y1] = p.extent;
    let (xt, yt) = (Ticks::linear(x0, x1, 7), Ticks::linear(y0, y1, 7));
    chart
        .configure_mesh()
        .disable_mesh()
        .axis_style(BLACK.mix(0.8).stroke_width(k))
        .set_all_tick_mark_size(5 * k)
        .x_labels(xt.count)
        .y_labels(yt.count)
        .x_label_formatter(&|v| xt.label(*v))
        .y_label_formatter(&|v| yt.label(*v))
        .x_desc(p.axes[0])
        .y_desc(p.axes[1])
        .label_style((FAMILY, f64::from(15 * k)))
        .axis_desc_style((FAMILY, f64::from(17 * k)))
        .draw()
        .map_err(|err| err.to_string())
}

/// Places `raster` over the whole of `plot` (a chart's plotting area).
fn place_over<DB: DrawingBackend, CT: CoordTranslate>(
    root: &DrawingArea<DB, Shift>,
    raster: Raster,
    plot: &DrawingArea<DB, CT>,
) -> Result<(), String> {
    let (xr, yr) = plot.get_pixel_range();
    place(
        root,
        raster,
        (xr.start, yr.start),
        ((xr.end - xr.start) as u32, (yr.end - yr.start) as u32),
    )
}

/// Marker outline of a non-minimum critical point of `kind` at pixel offsets, radius r
/// (minima are circles).
fn marker_shape(kind: &str, r: i32) -> Vec<(i32, i32)> {
    match kind {
        "saddle" => {
            let h = (f64::from(r) * 1.25) as i32;
            vec![(0, -h), (h, h * 3 / 4), (-h, h * 3 / 4), (0, -h)]
        }
        "maximum" => {
            let q = r * 9 / 10;
            vec![(-q, -q), (q, -q), (q, q), (-q, q), (-q, -q)]
        }
        _ => {
            let d = (f64::from(r) * 1.3) as i32;
            vec![(0, -d), (d, 0), (0, d), (-d, 0), (0, -d)]
        }
    }
}

/// The order kinds are listed in, and their key names.
const KINDS: [(&str, &str); 4] = [
    ("minimum", "minimum"),
    ("saddle", "saddle"),
    ("maximum", "maximum"),
    ("degenerate", "degenerate"),
];

fn draw_marker<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    kind: &str,
    (x, y): (i32, i32),
    k: u32,
) -> Result<(), String> {
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    let outline = BLACK.stroke_width(k + k / 2);
    if kind == "minimum" {
        area.draw(&Circle::new((x, y), 6 * k, WHITE.filled()))
            .map_err(e)?;
        return area.draw(&Circle::new((x, y), 6 * k, outline)).map_err(e);
    }
    let pts: Vec<(i32, i32)> = marker_shape(kind, 6 * k as i32)
        .into_iter()
        .map(|(a, b)| (x + a, y + b))
        .collect();
    area.draw(&Polygon::new(pts.clone(), WHITE.filled()))
        .map_err(e)?;
    area.draw(&PathElement::new(pts, outline)).map_err(e)
}

/// The landscape figure at scale k (1: SVG units, PNG_SCALE: PNG pixels).
fn draw_landscape<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    p: &BasinPicture,
    scale: &ColourScale,
    main: Raster,
    bar: Raster,
    k: u32,
) -> Result<(), String> {
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    let pw = plot_size(p.extent).0;
    let rest = titled(&root, p, k)?;
    let key = !p.points.is_empty() || !p.paths.is_empty();
    let rest_h = rest.dim_in_pixel().1;
    let (rest, _) = rest.split_vertically(rest_h - if key { KEY_H * k } else { 0 });
    let (chart_area, cbar_area) = rest.split_horizontally((MARGIN + LEFT + pw + CBAR_GAP) * k);
    let mut chart = slice_chart(&chart_area, p, CBAR_GAP, k)?;
    place_over(&root, main, chart.plotting_area())?;
    slice_grid(&mut chart, p, k)?;
    draw_contours(&mut chart, p, scale, k)?;
    draw_paths(&mut chart, p.paths, k)?;
    let area = chart.plotting_area();
    let [x0, x1, y0, y1] = p.extent;
    for m in p.points {
        if m.s < x0 || m.s > x1 || m.t < y0 || m.t > y1 {
            continue;
        }
        let (px, py) = area.map_coordinate(&(m.s, m.t));
        draw_marker(&root, &m.kind, (px, py), k)?;
    }
    colour_bar(&root, &cbar_area, scale, bar, k)?;
    draw_key(&root, p, k)?;
    root.present().map_err(e)
}

/// Contours on a grid of at most ~300 cells a side, at 12 levels evenly spaced in the colour
/// range.
fn draw_contours<DB: DrawingBackend>(
    chart: &mut SliceChart<'_, DB>,
    p: &BasinPicture,
    scale: &ColourScale,
    k: u32,
) -> Result<(), String> {
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    let [x0, x1, y0, y1] = p.extent;
    let stride = p.width.max(p.height).div_ceil(300).max(1);
    let (cw, chh) = (p.width.div_ceil(stride), p.height.div_ceil(stride));
    let coarse: Vec<f64> = (0..cw * chh)
        .map(|q| p.landscape[(q / cw) * stride * p.width + (q % cw) * stride])
        .collect();
    let dx = (x1 - x0) / p.width as f64;
    let dy = (y1 - y0) / p.height as f64;
    let to_st = |(i, j): (f64, f64)| {
        (
            x0 + (i * stride as f64 + 0.5) * dx,
            y1 - (j * stride as f64 + 0.5) * dy,
        )
    };
    for level in 1..=12 {
        let l = scale.lo + (scale.hi - scale.lo) * f64::from(level) / 13.0;
        for line in contour(&coarse, cw, chh, l) {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    line.into_iter().map(to_st).collect::<Vec<_>>(),
                    WHITE.mix(0.55).stroke_width(k),
                )))
                .map_err(e)?;
        }
    }
    Ok(())
}

/// The colour of walker paths.
const PATH: RGBColor = RGBColor(255, 90, 60);

/// Walker paths: a dark casing under a bright line, and a dot at the start.
fn draw_paths<DB: DrawingBackend>(
    chart: &mut SliceChart<'_, DB>,
    paths: &[Vec<(f64, f64)>],
    k: u32,
) -> Result<(), String> {
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    for path in paths {
        chart
            .draw_series(std::iter::once(PathElement::new(
                path.clone(),
                BLACK.mix(0.6).stroke_width(3 * k),
            )))
            .map_err(e)?;
        chart
            .draw_series(std::iter::once(PathElement::new(
                path.clone(),
                PATH.stroke_width(k + k / 2),
            )))
            .map_err(e)?;
        if let Some(&start) = path.first() {
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at(start)
                        + Circle::new((0, 0), 3 * k, PATH.filled())
                        + Circle::new((0, 0), 3 * k, BLACK.stroke_width(k)),
                ))
                .map_err(e)?;
        }
    }
    Ok(())
}

/// Colour bar: a raster strip beside the plot, with its own axis.
fn colour_bar<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    area: &DrawingArea<DB, Shift>,
    scale: &ColourScale,
    bar: Raster,
    k: u32,
) -> Result<(), String> {
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    let mut cb = ChartBuilder::on(area)
        .margin_top(8 * k)
        .margin_right(MARGIN * k)
        .x_label_area_size(BOTTOM * k)
        .right_y_label_area_size(CBAR_LABELS * k)
        .build_cartesian_2d(0.0..1.0, scale.lo..scale.hi)
        .map_err(e)?;
    place_over(root, bar, cb.plotting_area())?;
    let f_desc = if scale.clipped {
        "f  (top 5 % clipped)"
    } else {
        "f"
    };
    let ft = Ticks::linear(scale.lo, scale.hi, 6);
    cb.configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .axis_style(BLACK.mix(0.8).stroke_width(k))
        .set_all_tick_mark_size(4 * k)
        .y_labels(ft.count)
        .y_label_formatter(&|v| ft.label(*v))
        .y_desc(f_desc)
        .label_style((FAMILY, f64::from(14 * k)))
        .axis_desc_style((FAMILY, f64::from(16 * k)))
        .draw()
        .map_err(e)
}

/// The key under the plot: marker kinds present, and the paths.
fn draw_key<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    p: &BasinPicture,
    k: u32,
) -> Result<(), String> {
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    let mut entries: Vec<(&str, String)> = KINDS
        .iter()
        .filter(|(kind, _)| p.points.iter().any(|m| m.kind == *kind))
        .map(|(kind, name)| (*kind, name.to_string()))
        .collect();
    if !p.paths.is_empty() {
        entries.push((
            "path",
            format!(
                "walker path ({}; CPU twin, projected on the slice)",
                p.paths.len()
            ),
        ));
    }
    if entries.is_empty() {
        return Ok(());
    }
    let (w, h) = root.dim_in_pixel();
    let y = h as i32 - (KEY_H * k / 2) as i32;
    let mut x = ((MARGIN + LEFT) * k) as i32;
    let style = TextStyle::from((FAMILY, f64::from(15 * k)).into_font())
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (kind, text) in entries {
        if kind == "path" {
            root.draw(&PathElement::new(
                vec![(x - 8 * k as i32, y), (x + 14 * k as i32, y)],
                PATH.stroke_width(2 * k),
            ))
            .map_err(e)?;
        } else {
            draw_marker(root, kind, (x, y), k)?;
        }
        x += 20 * k as i32;
        root.draw(&Text::new(text.clone(), (x, y), style.clone()))
            .map_err(e)?;
        let tw = root.estimate_text_size(&text, &style).map_err(e)?.0 as i32;
        x += tw + 30 * k as i32;
        if x > w as i32 {
            break;
        }
    }
    Ok(())
}

/// basins.svg: the basin raster within slice axes.
fn draw_basin_axes<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    p: &BasinPicture,
    main: Raster,
    k: u32,
) -> Result<(), String> {
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    let rest = titled(&root, p, k)?;
    let mut chart = slice_chart(&rest, p, MARGIN, k)?;
    place_over(&root, main, chart.plotting_area())?;
    slice_grid(&mut chart, p, k)?;
    root.present().map_err(e)
}

/// Rows the legend lists: the palette's labels, then one line for the rest.
const LEGEND_ROWS: usize = PALETTE_COLOURS;
const ROW_H: u32 = 24;

/// The legend's f column: one format for every row, 5 significant digits at the largest |f|,
/// and values within rounding noise of zero on the landscape's scale (f = 1e−23 at a minimum
/// of a landscape spanning hundreds) set as 0.
fn f_column(p: &BasinPicture) -> Column {
    let scale = ColourScale::of(p.landscape);
    let fs: Vec<f64> = p
        .attractors
        .iter()
        .filter(|a| a.label >= 0)
        .map(|a| a.f)
        .collect();
    Column::new(&fs, scale.hi - scale.lo, 5)
}

fn legend_lines<'a>(p: &BasinPicture<'a>) -> (Vec<&'a AttractorRow>, Vec<String>) {
    let shown: Vec<&AttractorRow> = p
        .attractors
        .iter()
        .filter(|a| a.label < 0 || (a.label as usize) < LEGEND_ROWS)
        .collect();
    let mut notes = Vec::new();
    let k = p.attractors.iter().filter(|a| a.label >= 0).count();
    let n = PALETTE.len();
    if k > n {
        let last = |m: usize| (m * n).min(k) - 1;
        let mut rounds = vec![format!("labels {n}–{}: the palette darker", last(2))];
        if k > 2 * n {
            rounds.push(format!("{}–{}: lighter", 2 * n, last(3)));
        }
        if k > 3 * n {
            rounds.push(format!("{}–{}: muted", 3 * n, last(4)));
        }
        notes.push(rounds.join("; "));
    }
    if k > PALETTE_COLOURS {
        let rest = p
            .attractors
            .iter()
            .filter(|a| a.label >= LEGEND_ROWS as i32)
            .count();
        notes.push(format!(
            "{k} attractors: labels from {PALETTE_COLOURS} on have generated colours \
             (golden-ratio hues); {rest} not listed here (all in basins.csv)"
        ));
    }
    if p.shade_steps {
        notes.push("shading: darker = more steps to converge (log scale)".into());
    }
    (shown, notes)
}

const LEGEND_W: u32 = 620;

fn legend_size(p: &BasinPicture) -> (u32, u32) {
    let (rows, notes) = legend_lines(p);
    (
        LEGEND_W,
        56 + ROW_H * (rows.len() as u32 + 1) + 22 * notes.len() as u32 + 16,
    )
}

/// Columns of the legend table, in SVG units: swatch, label, "no attractor" text, the f / kind
/// divide, (unused), right edge of the fraction.
const COLS: [i32; 6] = [16, 56, 92, 214, 366, 604];

fn draw_legend<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    p: &BasinPicture,
    k: u32,
) -> Result<(), String> {
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    root.fill(&WHITE).map_err(e)?;
    let (rows, notes) = legend_lines(p);
    let ki = k as i32;
    let left = Pos::new(HPos::Left, VPos::Center);
    let text = |size: u32| TextStyle::from((FAMILY, f64::from(size * k)).into_font());
    let head_y = 52 * ki;
    legend_head(&root, head_y, k)?;
    let f = f_column(p);
    for (r, a) in rows.iter().enumerate() {
        let y = head_y + ((r as u32 + 1) * ROW_H * k) as i32 + 4 * ki;
        legend_row(&root, a, &f, y, k)?;
    }
    let mut y = head_y + ((rows.len() as u32 + 1) * ROW_H * k) as i32 + 6 * ki;
    for n in notes {
        root.draw(&Text::new(
            n,
            (16 * ki, y),
            text(13).color(&BLACK.mix(0.7)).pos(left),
        ))
        .map_err(e)?;
        y += 22 * ki;
    }
    root.present().map_err(e)
}

/// The legend's title, its column heads at `head_y` and the rule under them.
fn legend_head<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    head_y: i32,
    k: u32,
) -> Result<(), String> {
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    let ki = k as i32;
    let left = Pos::new(HPos::Left, VPos::Center);
    let right = Pos::new(HPos::Right, VPos::Center);
    let text = |size: u32| TextStyle::from((FAMILY, f64::from(size * k)).into_font());
    root.draw(&Text::new(
        "Attractors (label = rank in f; equal f ordered by position)",
        (16 * ki, 22 * ki),
        text(18).pos(left),
    ))
    .map_err(e)?;
    let grey = BLACK.mix(0.65);
    let head = text(14).color(&grey);
    for (x, label, pos) in [
        (COLS[1], "label", left),
        (COLS[3] - 8, "f", right),
        (COLS[3] + 8, "kind (index)", left),
        (COLS[5], "fraction  [95 % CI]", right),
    ] {
        root.draw(&Text::new(label, (x * ki, head_y), head.clone().pos(pos)))
            .map_err(e)?;
    }
    root.draw(&PathElement::new(
        vec![(16 * ki, head_y + 12 * ki), (604 * ki, head_y + 12 * ki)],
        BLACK.mix(0.3).stroke_width(k),
    ))
    .map_err(e)
}

/// One attractor's row at height `y`: swatch, label, f (set by `f`) and kind (or "no
/// attractor"), fraction.
fn legend_row<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    a: &AttractorRow,
    f: &Column,
    y: i32,
    k: u32,
) -> Result<(), String> {
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    let ki = k as i32;
    let left = Pos::new(HPos::Left, VPos::Center);
    let right = Pos::new(HPos::Right, VPos::Center);
    let c = label_colour(a.label);
    root.draw(&Rectangle::new(
        [
            (COLS[0] * ki, y - 8 * ki),
            (COLS[0] * ki + 30 * ki, y + 8 * ki),
        ],
        RGBColor(c[0], c[1], c[2]).filled(),
    ))
    .map_err(e)?;
    let body = TextStyle::from((FAMILY, f64::from(15 * k)).into_font());
    root.draw(&Text::new(
        a.label.to_string().replace('-', "−"),
        (COLS[1] * ki, y),
        body.clone().pos(left),
    ))
    .map_err(e)?;
    if a.label >= 0 {
        root.draw(&Text::new(
            f.format(a.f),
            ((COLS[3] - 12) * ki, y),
            body.clone().pos(right),
        ))
        .map_err(e)?;
        root.draw(&Text::new(
            format!("{} ({})", a.kind, a.index),
            ((COLS[3] + 8) * ki, y),
            body.clone().pos(left),
        ))
        .map_err(e)?;
    } else {
        root.draw(&Text::new(
            "no attractor (diverged or not converged)",
            (COLS[2] * ki, y),
            body.clone().pos(left),
        ))
        .map_err(e)?;
    }
    root.draw(&Text::new(
        format!(
            "{:.2} %  [{:.2}, {:.2}]",
            100.0 * a.fraction,
            100.0 * a.ci95.0,
            100.0 * a.ci95.1
        ),
        (COLS[5] * ki, y),
        body.pos(right),
    ))
    .map_err(e)
}

/// Writes basins.png, basins.svg, basins_annotated.png, landscape.png, landscape.svg,
/// legend.png and legend.svg into `dir`.
pub fn basin_figures(dir: &Path, p: &BasinPicture) -> Result<(), FigureError> {
    let n = p.width * p.height;
    let png_path = dir.join("basins.png");
    if p.labels.len() != n || p.steps.len() != n || p.landscape.len() != n || n == 0 {
        return Err(FigureError::Draw {
            path: png_path,
            message: format!(
                "labels, steps and landscape must each hold W x H = {n} values (got {}, {}, {})",
                p.labels.len(),
                p.steps.len(),
                p.landscape.len()
            ),
        });
    }
    if !font_ready() {
        return Err(FigureError::Draw {
            path: png_path,
            message: "the embedded font could not be loaded".into(),
        });
    }
    basin_files(dir, p)?;
    annotated::annotated_file(dir, p)?;
    landscape_files(dir, p)?;
    let ls = legend_size(p);
    png_figure(
        &dir.join("legend.png"),
        (ls.0 * PNG_SCALE, ls.1 * PNG_SCALE),
        |root| draw_legend(root, p, PNG_SCALE),
    )?;
    svg_figure(&dir.join("legend.svg"), ls, &[], |root| {
        draw_legend(root, p, 1)
    })
}

/// basins.png (one pixel per walker) and basins.svg (the same pixels within slice axes).
fn basin_files(dir: &Path, p: &BasinPicture) -> Result<(), FigureError> {
    let png_path = dir.join("basins.png");
    let basins = basin_raster(p);
    let basins_png = png_bytes(&basins, p.width, p.height).map_err(draw_err(&png_path))?;
    write(&png_path, &basins_png)?;
    let (pw, ph) = plot_size(p.extent);
    let axes_size = (MARGIN + LEFT + pw + MARGIN, TITLE_H + 8 + ph + BOTTOM);
    svg_figure(
        &dir.join("basins.svg"),
        axes_size,
        &[(PLACEHOLDER_MAIN, basins_png)],
        |root| draw_basin_axes(root, p, Raster::Placeholder(PLACEHOLDER_MAIN), 1),
    )
}

/// landscape.png and landscape.svg, with the colour bar (rasters embedded as PNG in the SVG).
fn landscape_files(dir: &Path, p: &BasinPicture) -> Result<(), FigureError> {
    // Raster encoding failures are reported against basins.png, as for the basin raster.
    let png_path = dir.join("basins.png");
    let (pw, ph) = plot_size(p.extent);
    let scale = ColourScale::of(p.landscape);
    let land = landscape_raster(p, &scale);
    let bar_rows = 256;
    let bar: Vec<u8> = (0..bar_rows)
        .flat_map(|r| viridis(1.0 - r as f64 / (bar_rows - 1) as f64))
        .collect();
    let key = !p.points.is_empty() || !p.paths.is_empty();
    let size = (
        MARGIN + LEFT + pw + CBAR_GAP + CBAR_W + CBAR_LABELS + MARGIN,
        TITLE_H + 8 + ph + BOTTOM + if key { KEY_H } else { 0 },
    );
    let main = Raster::Blit {
        rgb: &land,
        w: p.width,
        h: p.height,
    };
    let bar_blit = Raster::Blit {
        rgb: &bar,
        w: 1,
        h: bar_rows,
    };
    png_figure(
        &dir.join("landscape.png"),
        (size.0 * PNG_SCALE, size.1 * PNG_SCALE),
        |root| draw_landscape(root, p, &scale, main, bar_blit, PNG_SCALE),
    )?;
    let land_png = png_bytes(&land, p.width, p.height).map_err(draw_err(&png_path))?;
    let bar_png = png_bytes(&bar, 1, bar_rows).map_err(draw_err(&png_path))?;
    svg_figure(
        &dir.join("landscape.svg"),
        size,
        &[(PLACEHOLDER_MAIN, land_png), (PLACEHOLDER_BAR, bar_png)],
        |root| {
            draw_landscape(
                root,
                p,
                &scale,
                Raster::Placeholder(PLACEHOLDER_MAIN),
                Raster::Placeholder(PLACEHOLDER_BAR),
                1,
            )
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixty_basins_have_distinct_colours_and_none_is_black() {
        let mut seen = std::collections::HashSet::new();
        for l in 0..60 {
            let c = label_colour(l);
            assert!(c != NONE, "{l}");
            assert!(seen.insert(c), "label {l} repeats a colour");
        }
        // Far past the palette, colours still differ.
        let many: std::collections::HashSet<[u8; 3]> = (0..1000).map(label_colour).collect();
        assert_eq!(many.len(), 1000);
        assert_eq!(label_colour(-1), NONE);
        assert_eq!(label_colour(0), PALETTE[0]);
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn colour_scale_clips_the_top_five_percent() {
        let f: Vec<f64> = (0..=100).map(f64::from).chain([f64::NAN, 1e9]).collect();
        let s = ColourScale::of(&f);
        assert_eq!(s.lo, 0.0);
        assert!(s.clipped && s.hi < 100.0 && s.hi > 90.0, "{s:?}");
        assert_eq!(viridis(0.0), [68, 1, 84]);
        assert_eq!(viridis(1.0), [253, 231, 37]);
        assert_eq!(viridis(f64::NAN), [68, 1, 84]);
    }
}
