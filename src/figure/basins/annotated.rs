//! basins_annotated.png: basins.png for looking at, whatever the grid. The exact raster (one
//! pixel per walker) is upscaled by a whole number of pixels per cell (nearest neighbour, so
//! every cell stays a crisp square of one colour) until its longer side is at least
//! [`MIN_SIDE`] pixels, framed by the slice axes, with the minima on the slice marked (the
//! landscape figure marks every kind) and a colour key of the basins beside it.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{
    basin_raster, draw_marker, f_column, label_colour, place_over, png_figure, slice_chart,
    slice_grid, titled, AttractorRow, BasinPicture, MarkedPoint, Raster, BOTTOM, LEFT, MARGIN,
    PNG_SCALE, TITLE_H,
};
use crate::figure::ticks::Column;
use crate::figure::{FigureError, FAMILY};

/// The upscaled raster's longer side is at least this many pixels.
pub const MIN_SIDE: usize = 800;
/// The key column beside the plot, and the gap before it, in units of the scale (PNG_SCALE).
const KEY_GAP: u32 = 24;
const KEY_W: u32 = 270;
const KEY_ROW: u32 = 26;
/// Rows the key always has room for, however flat the plot.
const KEY_ROWS_MIN: u32 = 8;

/// Pixels per grid cell: the least whole number that makes the longer side >= MIN_SIDE.
pub fn cell_pixels(width: usize, height: usize) -> usize {
    MIN_SIDE.div_ceil(width.max(height).max(1)).max(1)
}

/// Writes basins_annotated.png into `dir`.
pub fn annotated_file(dir: &Path, p: &BasinPicture) -> Result<(), FigureError> {
    let s = cell_pixels(p.width, p.height);
    let plot = ((p.width * s) as u32, (p.height * s) as u32);
    let k = PNG_SCALE;
    // The plot's area is exactly `plot`: slice_chart takes off MARGIN + LEFT on the left,
    // the key column on the right, 8 above and BOTTOM below.
    let size = (
        (MARGIN + LEFT) * k + plot.0 + (KEY_GAP + KEY_W + MARGIN) * k,
        (TITLE_H + 8 + BOTTOM) * k + plot.1.max(KEY_ROWS_MIN * KEY_ROW * k),
    );
    let rgb = basin_raster(p);
    let raster = Raster::Blit {
        rgb: &rgb,
        w: p.width,
        h: p.height,
    };
    png_figure(&dir.join("basins_annotated.png"), size, |root| {
        draw(root, p, raster, k)
    })
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    p: &BasinPicture,
    raster: Raster,
    k: u32,
) -> Result<(), String> {
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    let rest = titled(&root, p, k)?;
    let mut chart = slice_chart(&rest, p, KEY_GAP + KEY_W + MARGIN, k)?;
    place_over(&root, raster, chart.plotting_area())?;
    slice_grid(&mut chart, p, k)?;
    let area = chart.plotting_area();
    let [x0, x1, y0, y1] = p.extent;
    for m in minima(p) {
        if m.s < x0 || m.s > x1 || m.t < y0 || m.t > y1 {
            continue;
        }
        draw_marker(&root, &m.kind, area.map_coordinate(&(m.s, m.t)), k)?;
    }
    let (xr, yr) = area.get_pixel_range();
    let left = xr.end + (KEY_GAP * k) as i32;
    let bottom = root.dim_in_pixel().1 as i32 - (BOTTOM * k) as i32;
    draw_key(&root, p, (left, yr.start), bottom, k)?;
    root.present().map_err(e)
}

/// The marked points of `p` that are minima.
fn minima<'a>(p: &'a BasinPicture) -> impl Iterator<Item = &'a MarkedPoint> + 'a {
    p.points.iter().filter(|m| m.kind == "minimum")
}

/// The key from `(x, top)` down to `bottom`: the minimum marker (if any is drawn), then one
/// row per basin (swatch, label, kind, f) as far as there is room, then how many are left out.
fn draw_key<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    p: &BasinPicture,
    (x, top): (i32, i32),
    bottom: i32,
    k: u32,
) -> Result<(), String> {
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    let ki = k as i32;
    let row = (KEY_ROW * k) as i32;
    let left = Pos::new(HPos::Left, VPos::Center);
    let text = |size: u32| TextStyle::from((FAMILY, f64::from(size * k)).into_font()).pos(left);
    let mut y = top + row / 2;
    if minima(p).next().is_some() {
        draw_marker(root, "minimum", (x + 10 * ki, y), k)?;
        let t = "minimum";
        root.draw(&Text::new(t, (x + 28 * ki, y), text(14)))
            .map_err(e)?;
        y += row + row / 2;
    }
    root.draw(&Text::new(
        "basin (label: kind, f)",
        (x, y),
        text(14).color(&BLACK.mix(0.65)),
    ))
    .map_err(e)?;
    y += row;
    let f = f_column(p);
    let fits = ((bottom - y) / row).max(1) as usize;
    let shown = if p.attractors.len() > fits {
        fits - 1
    } else {
        fits
    };
    for a in p.attractors.iter().take(shown) {
        key_row(root, a, &f, (x, y), k)?;
        y += row;
    }
    if p.attractors.len() > shown {
        root.draw(&Text::new(
            format!(
                "… {} more (legend.png, basins.csv)",
                p.attractors.len() - shown
            ),
            (x, y),
            text(13).color(&BLACK.mix(0.65)),
        ))
        .map_err(e)?;
    }
    Ok(())
}

/// One basin's key row at `(x, y)`: its colour, label, kind and f (or "no attractor").
fn key_row<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    a: &AttractorRow,
    f: &Column,
    (x, y): (i32, i32),
    k: u32,
) -> Result<(), String> {
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    let ki = k as i32;
    let c = label_colour(a.label);
    let swatch = [(x, y - 8 * ki), (x + 24 * ki, y + 8 * ki)];
    root.draw(&Rectangle::new(swatch, RGBColor(c[0], c[1], c[2]).filled()))
        .map_err(e)?;
    root.draw(&Rectangle::new(swatch, BLACK.mix(0.5).stroke_width(1)))
        .map_err(e)?;
    let what = if a.label >= 0 {
        format!(
            "{}: {} ({}), f = {}",
            a.label,
            a.kind,
            a.index,
            f.format(a.f)
        )
    } else {
        "−1: no attractor".to_string()
    };
    root.draw(&Text::new(
        what,
        (x + 32 * ki, y),
        TextStyle::from((FAMILY, f64::from(14 * k)).into_font())
            .pos(Pos::new(HPos::Left, VPos::Center)),
    ))
    .map_err(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_whole_pixels_and_the_picture_at_least_min_side() {
        assert_eq!(cell_pixels(48, 48), 17);
        assert_eq!(cell_pixels(48, 40), 17);
        assert_eq!(cell_pixels(512, 512), 2);
        assert_eq!(cell_pixels(800, 600), 1);
        assert_eq!(cell_pixels(4096, 16), 1);
        for (w, h) in [(1, 1), (7, 3), (48, 40), (300, 799)] {
            assert!(w.max(h) * cell_pixels(w, h) >= MIN_SIDE);
        }
    }
}
