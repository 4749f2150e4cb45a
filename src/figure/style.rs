//! Shared pieces of the multi-series figures: the colour, marker and dash of series i (and an
//! open-ended sequence of distinct colours), the title band, and the grid and framed series
//! key the charts share (numbers: [`super::ticks`]).

use plotters::chart::MeshStyle;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::FAMILY;

/// Okabe-Ito colours in an order that keeps neighbours apart (yellow, too pale for lines on
/// white, is replaced by grey): series 0..8. Series from 8 on get [`generated_colour`]s, and
/// their lines are dashed (8..16), dotted (16..24), then dashed and dotted in turn, so no two
/// series share a style; markers cycle over 7 shapes.
pub const SERIES: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(120, 120, 120),
];

/// The colour of series i.
pub fn colour(i: usize) -> RGBColor {
    match SERIES.get(i) {
        Some(&c) => c,
        None => {
            let [r, g, b] = generated_colour(i - SERIES.len());
            RGBColor(r, g, b)
        }
    }
}

/// Colour k of an open-ended sequence: a low-discrepancy (Kronecker) walk through hue,
/// lightness and saturation, each stepped by an irrational fraction (the golden ratio for hue,
/// the plastic number's inverse and its square for the others), so each new colour falls in
/// the widest gap left by the earlier ones; lightness stays in 0.32..0.64 and saturation in
/// 0.55..0.75, never near black, white or grey. The first 5000 are pairwise distinct as 8-bit
/// RGB (and distinct from the basin palette's 36).
pub fn generated_colour(k: usize) -> [u8; 3] {
    const GOLDEN: f64 = 0.618_033_988_749_895;
    const PLASTIC: f64 = 0.754_877_666_246_692_7;
    const PLASTIC2: f64 = 0.569_840_290_998_053_2;
    let k = k as f64;
    let h = (0.13 + k * GOLDEN).fract();
    let l = 0.32 + 0.32 * (0.5 + k * PLASTIC).fract();
    let s = 0.55 + 0.2 * (k * PLASTIC2).fract();
    let c = HSLColor(h, s, l).to_backend_color().rgb;
    [c.0, c.1, c.2]
}

/// How a series' line is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dash {
    Solid,
    Dashed,
    Dotted,
}

/// The dash of series i: solid for the Okabe-Ito colours, then dashed and dotted in turns of 8.
pub fn dash(i: usize) -> Dash {
    match i / SERIES.len() {
        0 => Dash::Solid,
        r if r % 2 == 1 => Dash::Dashed,
        _ => Dash::Dotted,
    }
}

/// Series i's line through the backend pixels `pts`, `width` wide, in its colour and dash, on
/// `area` (an area whose origin is the backend's).
pub fn series_line<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    i: usize,
    pts: Vec<(i32, i32)>,
    width: u32,
) -> Result<(), String> {
    let style = colour(i).stroke_width(width);
    let w = width.max(1) as i32;
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    match dash(i) {
        Dash::Solid => area.draw(&PathElement::new(pts, style)).map_err(e),
        Dash::Dashed => area
            .draw(&DashedPathElement::new(pts, 4 * w, 3 * w, style))
            .map_err(e),
        Dash::Dotted => area
            .draw(&DashedPathElement::new(pts, w, 2 * w, style))
            .map_err(e),
    }
}

/// Draws series i's marker centred at the backend pixel `c` with radius `r` on `area` (an area
/// whose origin is the backend's, e.g. the whole canvas).
pub fn marker<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    i: usize,
    c: (i32, i32),
    r: i32,
) -> Result<(), String> {
    let col = colour(i);
    let style = col.filled();
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    let (x, y) = c;
    let poly = |pts: Vec<(f64, f64)>| -> Vec<(i32, i32)> {
        pts.into_iter()
            .map(|(dx, dy)| {
                (
                    x + (dx * r as f64).round() as i32,
                    y + (dy * r as f64).round() as i32,
                )
            })
            .collect()
    };
    let outline = WHITE.stroke_width((r / 5).max(1) as u32);
    match i % 7 {
        0 => {
            area.draw(&Circle::new(c, r, style)).map_err(e)?;
            area.draw(&Circle::new(c, r, outline)).map_err(e)?;
        }
        1 => draw_poly(
            area,
            poly(vec![
                (-0.85, -0.85),
                (0.85, -0.85),
                (0.85, 0.85),
                (-0.85, 0.85),
            ]),
            col,
        )?,
        2 => draw_poly(
            area,
            poly(vec![(0.0, -1.15), (1.05, 0.75), (-1.05, 0.75)]),
            col,
        )?,
        3 => draw_poly(
            area,
            poly(vec![(0.0, -1.2), (1.0, 0.0), (0.0, 1.2), (-1.0, 0.0)]),
            col,
        )?,
        4 => draw_poly(
            area,
            poly(vec![(0.0, 1.15), (1.05, -0.75), (-1.05, -0.75)]),
            col,
        )?,
        5 => {
            let pts = (0..5)
                .map(|k| {
                    let a = -std::f64::consts::FRAC_PI_2 + k as f64 * std::f64::consts::TAU / 5.0;
                    (1.1 * a.cos(), 1.1 * a.sin())
                })
                .collect();
            draw_poly(area, poly(pts), col)?
        }
        _ => {
            // A bold ×.
            let w = (r / 2).max(2) as u32;
            for (a, b) in [((-0.9, -0.9), (0.9, 0.9)), ((-0.9, 0.9), (0.9, -0.9))] {
                let p = poly(vec![a, b]);
                area.draw(&PathElement::new(p, col.stroke_width(w)))
                    .map_err(e)?;
            }
        }
    }
    Ok(())
}

fn draw_poly<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    pts: Vec<(i32, i32)>,
    col: RGBColor,
) -> Result<(), String> {
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    area.draw(&Polygon::new(pts.clone(), col.filled()))
        .map_err(e)?;
    let mut closed = pts.clone();
    closed.push(pts[0]);
    area.draw(&PathElement::new(closed, WHITE.stroke_width(1)))
        .map_err(e)
}

/// Draws a centred title and a grey subtitle into `band`; `k` scales every length.
pub fn title_band<DB: DrawingBackend>(
    band: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: &str,
    k: u32,
) -> Result<(), String> {
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    let w = band.dim_in_pixel().0 as i32;
    let pt = |v: u32| f64::from(v * k);
    band.draw(&Text::new(
        title.to_string(),
        (w / 2, (30 * k) as i32),
        TextStyle::from((FAMILY, pt(26)).into_font()).pos(Pos::new(HPos::Center, VPos::Center)),
    ))
    .map_err(e)?;
    if !subtitle.is_empty() {
        band.draw(&Text::new(
            subtitle.to_string(),
            (w / 2, (64 * k) as i32),
            TextStyle::from((FAMILY, pt(17)).into_font())
                .color(&BLACK.mix(0.65))
                .pos(Pos::new(HPos::Center, VPos::Center)),
        ))
        .map_err(e)?;
    }
    Ok(())
}

/// Fills `root` white, draws the title band (92 units high) and returns the area below it.
pub fn titled<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: &str,
    k: u32,
) -> Result<DrawingArea<DB, Shift>, String> {
    root.fill(&WHITE).map_err(|err| err.to_string())?;
    let (band, body) = root.split_vertically(92 * k);
    title_band(&band, title, subtitle, k)?;
    Ok(body)
}

/// The grid the charts share: faint lines at the labelled ticks, none between them, dark grey
/// axes; `k` scales the line widths.
pub fn quiet_grid<'m, 'a, 'b, X: Ranged, Y: Ranged, DB: DrawingBackend>(
    mesh: &'m mut MeshStyle<'a, 'b, X, Y, DB>,
    k: u32,
) -> &'m mut MeshStyle<'a, 'b, X, Y, DB> {
    mesh.bold_line_style(BLACK.mix(0.12).stroke_width(k))
        .light_line_style(TRANSPARENT)
        .axis_style(BLACK.mix(0.75).stroke_width(k))
}

/// The key of a chart's labelled series, framed on a nearly opaque white ground at `position`:
/// `margin` from the plot's edge, `swatch` pixels for each entry's sample, labels at `size`.
pub fn series_key<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
    margin: u32,
    swatch: u32,
    size: f64,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .position(position)
        .margin(margin)
        .legend_area_size(swatch)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.4))
        .label_font((FAMILY, size))
        .draw()
        .map_err(|err| err.to_string())
}

/// A legend sample of series i on `area`: a line `len` pixels long and `width` wide from
/// `(x, y)`, in the series' dash, with its marker of radius `r` on its middle.
pub fn line_swatch<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    i: usize,
    (x, y): (i32, i32),
    len: i32,
    width: u32,
    r: i32,
) -> Result<(), String> {
    series_line(area, i, vec![(x, y), (x + len, y)], width)?;
    marker(area, i, (x + len / 2, y), r)
}

/// Width in pixels of `text` set in `font` on `area` (0 if it cannot be measured).
pub fn text_w<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    font: &FontDesc,
) -> i32 {
    area.estimate_text_size(text, &TextStyle::from(font.clone()))
        .map_or(0, |s| s.0 as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_arms_have_pairwise_distinct_styles_and_colours() {
        let styles: Vec<(RGBColor, usize, Dash)> =
            (0..12).map(|i| (colour(i), i % 7, dash(i))).collect();
        for a in 0..styles.len() {
            for b in 0..a {
                assert_ne!(styles[a], styles[b], "series {a} and {b}");
                assert_ne!(
                    styles[a].0, styles[b].0,
                    "series {a} and {b} share a colour"
                );
            }
        }
        assert_eq!(dash(7), Dash::Solid);
        assert_eq!(dash(8), Dash::Dashed);
        assert_eq!(dash(16), Dash::Dotted);
    }

    #[test]
    fn generated_colours_stay_apart_and_off_grey() {
        let c: Vec<[u8; 3]> = (0..2000).map(generated_colour).collect();
        let dist = |a: [u8; 3], b: [u8; 3]| {
            (0..3)
                .map(|k| (f64::from(a[k]) - f64::from(b[k])).powi(2))
                .sum::<f64>()
                .sqrt()
        };
        for a in 0..c.len() {
            let (lo, hi) = (c[a].iter().min().unwrap(), c[a].iter().max().unwrap());
            assert!(hi - lo > 30, "colour {a} {:?} is near grey", c[a]);
            for b in 0..a {
                assert!(c[a] != c[b], "colours {a} and {b}");
                if a < 60 {
                    assert!(
                        dist(c[a], c[b]) > 12.0,
                        "colours {a} and {b}: {:?} {:?}",
                        c[a],
                        c[b]
                    );
                }
            }
        }
    }
}
