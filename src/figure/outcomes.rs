//! Where walkers ended, per arm: one horizontal bar per arm split into the shares of each end
//! (at the start point, lowest minimum, other minima, saddles, …), percentages written into the
//! segments wide enough to hold them, and a legend of the ends that occur.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::style::{quiet_grid, text_w, titled};
use super::ticks::{TickedAxis, Ticks};
use super::{font_ready, with_ext, write_png, write_svg, FigureError, FAMILY};

/// One arm's shares, one per category in category order (they sum to 1).
#[derive(Debug, Clone, PartialEq)]
pub struct OutcomeArm {
    pub label: String,
    pub shares: Vec<f64>,
}

/// A category: its column name (which picks the colour) and legend text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutcomeCategory {
    pub name: &'static str,
    pub legend: &'static str,
}

const SIZE: (u32, u32) = (1400, 560);
const PNG_SCALE: u32 = 2;

/// Colour of a category by name; the minima in greens and blues, saddles and maxima in warm
/// colours, what did not settle in greys (Okabe-Ito).
fn colour_of(name: &str) -> RGBColor {
    match name {
        "at_start" => RGBColor(170, 170, 170),
        "to_lowest_minimum" => RGBColor(0, 158, 115),
        "to_other_minimum" => RGBColor(86, 180, 233),
        "to_saddle" => RGBColor(230, 159, 0),
        "to_maximum" => RGBColor(204, 121, 167),
        "to_degenerate" => RGBColor(240, 228, 66),
        "unsettled" => RGBColor(0, 114, 178),
        "diverged" => RGBColor(213, 94, 0),
        _ => RGBColor(90, 90, 90),
    }
}

/// Writes `<stem>.png` and `<stem>.svg`.
pub fn escape_outcomes(
    stem: &Path,
    arms: &[OutcomeArm],
    categories: &[OutcomeCategory],
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
    // Taller for many arms: about 58 units per bar beyond the fourth.
    let h = SIZE.1 + 58 * arms.len().saturating_sub(4) as u32;
    let png_size = (SIZE.0 * PNG_SCALE, h * PNG_SCALE);
    write_png(&png, png_size, |root| {
        draw(root, arms, categories, title, subtitle, PNG_SCALE)
    })?;
    write_svg(&svg, (SIZE.0, h), |root| {
        draw(root, arms, categories, title, subtitle, 1)
    })?;
    Ok([png, svg])
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    arms: &[OutcomeArm],
    categories: &[OutcomeCategory],
    title: &str,
    subtitle: &str,
    k: u32,
) -> Result<(), String> {
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    let body = titled(&root, title, subtitle, k)?;
    let legend_font = (FAMILY, f64::from(16 * k)).into_font();
    let rows = legend_rows(&body, arms, categories, &legend_font, k);
    let (legend, plot) = body.split_vertically(34 * k * rows.len() as u32 + 8 * k);
    draw_legend(&body, &legend, &rows, categories, &legend_font, k)?;
    draw_bars(&root, &plot, arms, categories, k)?;
    root.present().map_err(e)?;
    Ok(())
}

/// The legend: categories that occur in some arm, in a row (wrapping) under the title; each
/// entry is (category, x from the left edge).
fn legend_rows<DB: DrawingBackend>(
    body: &DrawingArea<DB, Shift>,
    arms: &[OutcomeArm],
    categories: &[OutcomeCategory],
    font: &FontDesc,
    k: u32,
) -> Vec<Vec<(usize, i32)>> {
    let px = |v: u32| v * k;
    let present: Vec<usize> = (0..categories.len())
        .filter(|&c| {
            arms.iter()
                .any(|a| a.shares.get(c).copied().unwrap_or(0.0) > 0.0)
        })
        .collect();
    let width = body.dim_in_pixel().0 as i32;
    let mut rows: Vec<Vec<(usize, i32)>> = vec![Vec::new()];
    let mut x = px(20) as i32;
    for &c in &present {
        let w = text_w(body, categories[c].legend, font) + px(48) as i32;
        if x + w > width - px(20) as i32 && !rows.last().is_some_and(|r| r.is_empty()) {
            rows.push(Vec::new());
            x = px(20) as i32;
        }
        if let Some(r) = rows.last_mut() {
            r.push((c, x));
        }
        x += w;
    }
    rows
}

/// Draws the legend `rows` into `legend`, each row centred in `body`'s width.
fn draw_legend<DB: DrawingBackend>(
    body: &DrawingArea<DB, Shift>,
    legend: &DrawingArea<DB, Shift>,
    rows: &[Vec<(usize, i32)>],
    categories: &[OutcomeCategory],
    font: &FontDesc,
    k: u32,
) -> Result<(), String> {
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    let px = |v: u32| v * k;
    let width = body.dim_in_pixel().0 as i32;
    for (r, row) in rows.iter().enumerate() {
        // Centre each legend row.
        let used = row.last().map_or(0, |&(c, x)| {
            x + text_w(body, categories[c].legend, font) + px(28) as i32
        }) - px(20) as i32;
        let shift = (width - used) / 2 - px(20) as i32;
        let y = (px(20) + px(34) * r as u32) as i32;
        for &(c, x) in row {
            let x = x + shift;
            legend
                .draw(&Rectangle::new(
                    [(x, y - px(9) as i32), (x + px(22) as i32, y + px(9) as i32)],
                    colour_of(categories[c].name).filled(),
                ))
                .map_err(e)?;
            legend
                .draw(&Rectangle::new(
                    [(x, y - px(9) as i32), (x + px(22) as i32, y + px(9) as i32)],
                    BLACK.mix(0.5).stroke_width(1),
                ))
                .map_err(e)?;
            legend
                .draw(&Text::new(
                    categories[c].legend,
                    (x + px(30) as i32, y),
                    TextStyle::from(font.clone()).pos(Pos::new(HPos::Left, VPos::Center)),
                ))
                .map_err(e)?;
        }
    }
    Ok(())
}

/// One horizontal bar per arm (arm 0 on top) against the share of its walkers, split into its
/// categories' segments.
fn draw_bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    plot: &DrawingArea<DB, Shift>,
    arms: &[OutcomeArm],
    categories: &[OutcomeCategory],
    k: u32,
) -> Result<(), String> {
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    let px = |v: u32| v * k;
    let label_font = (FAMILY, f64::from(18 * k)).into_font();
    let label_w = arms
        .iter()
        .map(|a| text_w(plot, &a.label, &label_font).max(0) as u32)
        .max()
        .unwrap_or(0)
        + px(28);
    // Arm a fills the slot n-1-a..n-a of a continuous axis (arm 0 on top), labelled at its
    // middle: a segmented axis of one arm would be a one-value range, which plotters maps
    // outside the plot.
    let n = arms.len().max(1);
    let slots = TickedAxis::at(0.0, n as f64, (0..n).map(|s| s as f64 + 0.5).collect());
    let mut chart = ChartBuilder::on(plot)
        .margin(px(12))
        .margin_right(px(40))
        .x_label_area_size(px(64))
        .y_label_area_size(label_w.min(plot.dim_in_pixel().0 / 2))
        .build_cartesian_2d(0f64..100.0, slots)
        .map_err(e)?;
    let labels: Vec<String> = arms.iter().map(|a| a.label.clone()).collect();
    let xt = Ticks::linear(0.0, 100.0, 11);
    quiet_grid(chart.configure_mesh().disable_y_mesh(), k)
        .set_all_tick_mark_size(px(5))
        .x_labels(xt.count)
        .x_label_formatter(&|v| xt.label(*v))
        .y_label_formatter(&|v| {
            let slot = v.floor().clamp(0.0, (n - 1) as f64) as usize;
            labels.get(n - 1 - slot).cloned().unwrap_or_default()
        })
        .x_desc("share of the arm's walkers (%)")
        .label_style(label_font.clone())
        .axis_desc_style((FAMILY, f64::from(20 * k)))
        .draw()
        .map_err(e)?;
    let inside = (FAMILY, f64::from(15 * k)).into_font();
    for (a, arm) in arms.iter().enumerate() {
        let slot = n - 1 - a;
        let mut left = 0.0;
        for (c, &s) in arm.shares.iter().enumerate() {
            if s <= 0.0 {
                continue;
            }
            let right = (left + 100.0 * s).min(100.0);
            let col = colour_of(categories.get(c).map_or("", |c| c.name));
            let (x0, y0) = chart.backend_coord(&(left, slot as f64));
            let (x1, y1) = chart.backend_coord(&(right, (slot + 1) as f64));
            let pad = ((y0 - y1).abs() / 6).max(1);
            let (ya, yb) = (y1.min(y0) + pad, y1.max(y0) - pad);
            root.draw(&Rectangle::new([(x0, ya), (x1, yb)], col.filled()))
                .map_err(e)?;
            root.draw(&Rectangle::new([(x0, ya), (x1, yb)], WHITE.stroke_width(k)))
                .map_err(e)?;
            share_label(root, s, col, (x0, x1), (ya, yb), &inside, k)?;
            left = right;
        }
    }
    Ok(())
}

/// The percentage `s` written into its segment (x0..x1, ya..yb) when it fits: dark text on
/// light colours, white on dark ones.
fn share_label<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    s: f64,
    col: RGBColor,
    (x0, x1): (i32, i32),
    (ya, yb): (i32, i32),
    font: &FontDesc,
    k: u32,
) -> Result<(), String> {
    let text = if s >= 0.995 {
        "100%".to_string()
    } else {
        format!("{:.0}%", 100.0 * s)
    };
    let tw = text_w(root, &text, font);
    if x1 - x0 <= tw + (10 * k) as i32 {
        return Ok(());
    }
    let lum = 0.299 * f64::from(col.0) + 0.587 * f64::from(col.1) + 0.114 * f64::from(col.2);
    let ink = if lum > 140.0 { BLACK } else { WHITE };
    root.draw(&Text::new(
        text,
        ((x0 + x1) / 2, (ya + yb) / 2),
        TextStyle::from(font.clone())
            .color(&ink)
            .pos(Pos::new(HPos::Center, VPos::Center)),
    ))
    .map_err(|err| err.to_string())
}
