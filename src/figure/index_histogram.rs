//! The index histogram: how many walkers, and how many distinct critical points were found, of
//! each Morse index; degenerate points (a zero Hessian eigenvalue) stacked in a second colour,
//! and over the points found the estimated number of points of each index with its 95%
//! interval (open circles, `critical::coverage`).

use std::path::{Path, PathBuf};

use plotters::coord::ranged1d::SegmentedCoord;
use plotters::coord::types::{RangedCoordu32, RangedCoordu64};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::style::{quiet_grid, series_key};
use super::{font_ready, with_ext, write_png, write_svg, FigureError, FAMILY};
use crate::critical::coverage::CatalogueCoverage;
use crate::critical::{Catalogue, IndexBin};

/// Okabe-Ito blue and orange: distinguishable in colour-blind vision and in greyscale.
/// A bar layer: legend label, colour, (index, height) per bar.
type Layer = (&'static str, RGBColor, Vec<(u32, u64)>);

const NONDEGENERATE: RGBColor = RGBColor(0, 114, 178);
const DEGENERATE: RGBColor = RGBColor(230, 159, 0);
/// The estimate's open circles and interval bars.
const ESTIMATE: RGBColor = RGBColor(0, 0, 0);
/// Per index: (index, estimated, lo, hi).
type Estimates = [(u32, f64, f64, f64)];
/// Size in SVG user units; the PNG is drawn at `PNG_SCALE` times this, which also keeps the
/// one-pixel rounding of glyph positions in plotters' text rasteriser invisible.
const SIZE: (u32, u32) = (1500, 620);
const PNG_SCALE: u32 = 2;

/// Writes `<stem>.png` and `<stem>.svg`: two panels, walkers per index and distinct critical
/// points found per index with the estimated number per index, under `title` (e.g. the
/// objective's spec). Returns the two paths.
pub fn index_histogram(
    stem: &Path,
    catalogue: &Catalogue,
    title: &str,
) -> Result<[PathBuf; 2], FigureError> {
    index_histogram_bins(
        stem,
        &catalogue.index_histogram(),
        &catalogue.coverage(),
        title,
    )
}

/// [`index_histogram`] from the bins and their coverage alone (e.g. rebuilt from
/// critical_points.csv by `plot`).
pub fn index_histogram_bins(
    stem: &Path,
    bins: &[IndexBin],
    coverage: &CatalogueCoverage,
    title: &str,
) -> Result<[PathBuf; 2], FigureError> {
    let estimates: Vec<(u32, f64, f64, f64)> = coverage
        .by_index
        .iter()
        .filter(|c| c.coverage.found > 0)
        .map(|c| {
            let v = &c.coverage;
            (c.index as u32, v.estimated, v.estimated_lo, v.estimated_hi)
        })
        .collect();
    let bins = &Bins {
        bins,
        estimates: &estimates,
        estimated_total: coverage.overall.estimated,
    };
    let png = with_ext(stem, "png");
    let svg = with_ext(stem, "svg");
    if !font_ready() {
        return Err(FigureError::Draw {
            path: png,
            message: "the embedded font could not be loaded".into(),
        });
    }
    let png_size = (SIZE.0 * PNG_SCALE, SIZE.1 * PNG_SCALE);
    write_png(&png, png_size, |root| draw(root, bins, title, PNG_SCALE))?;
    write_svg(&svg, SIZE, |root| draw(root, bins, title, 1))?;
    Ok([png, svg])
}

/// What the figure draws: the bins and the estimates over the points panel.
struct Bins<'a> {
    bins: &'a [IndexBin],
    estimates: &'a Estimates,
    estimated_total: f64,
}

/// One panel's numbers: (index, nondegenerate, degenerate) counts.
fn panel_counts(bins: &[IndexBin], walkers: bool) -> Vec<(u32, u64, u64)> {
    bins.iter()
        .map(|b| {
            let (all, deg) = if walkers {
                (b.walkers, b.walkers_degenerate)
            } else {
                (b.points, b.points_degenerate)
            };
            (b.index as u32, (all - deg) as u64, deg as u64)
        })
        .collect()
}

fn thousands(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Draws the figure; every length is multiplied by `k`.
fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    b: &Bins,
    title: &str,
    k: u32,
) -> Result<(), String> {
    let bins = b.bins;
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    root.fill(&WHITE).map_err(e)?;
    // The title gets its own band (plotters' `titled` pads by a fixed 5 pixels whatever the scale).
    let (band, root) = root.split_vertically(58 * k);
    let band_width = band.dim_in_pixel().0 as i32;
    band.draw(&Text::new(
        title.to_string(),
        (band_width / 2, (32 * k) as i32),
        TextStyle::from((FAMILY, f64::from(28 * k)).into_font())
            .pos(Pos::new(HPos::Center, VPos::Center)),
    ))
    .map_err(e)?;
    let any_degenerate = bins.iter().any(|b| b.points_degenerate > 0);
    let panels = root.split_evenly((1, 2));
    for (panel, walkers) in panels.iter().zip([true, false]) {
        let estimates = if walkers { &[][..] } else { b.estimates };
        draw_panel(
            panel,
            &panel_counts(bins, walkers),
            (walkers, estimates, b.estimated_total),
            any_degenerate,
            k,
        )?;
    }
    root.present().map_err(e)?;
    Ok(())
}

/// One panel: walkers (or distinct points found) per index, degenerate ones stacked on top,
/// and over the points the `estimates` per index (the total estimated is in the caption).
fn draw_panel<DB: DrawingBackend>(
    panel: &DrawingArea<DB, Shift>,
    counts: &[(u32, u64, u64)],
    (walkers, estimates, estimated_total): (bool, &Estimates, f64),
    any_degenerate: bool,
    k: u32,
) -> Result<(), String> {
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    let px = |v: u32| v * k;
    let pt = |v: u32| f64::from(v * k);
    let total: u64 = counts.iter().map(|c| c.1 + c.2).sum();
    let highest_estimate = estimates.iter().map(|e| e.3.ceil() as u64).max();
    let top = counts
        .iter()
        .map(|c| c.1 + c.2)
        .chain(highest_estimate)
        .max()
        .unwrap_or(0)
        .max(1);
    let caption = if walkers {
        format!("Walkers at critical points (n = {})", thousands(total))
    } else if estimates.is_empty() {
        format!("Distinct critical points found (n = {})", thousands(total))
    } else {
        format!(
            "Distinct critical points found (n = {}), estimated {}",
            thousands(total),
            crate::critical::coverage::short(estimated_total)
        )
    };
    // Two index slots at least: a one-value axis is mapped by plotters outside the panel.
    let n_index = counts.len().max(2) as u32;
    // The legend goes in the upper corner over the lower bars, with headroom to spare.
    let third = counts.len().div_ceil(3);
    let side_max = |c: &[(u32, u64, u64)]| c.iter().map(|v| v.1 + v.2).max().unwrap_or(0);
    let legend_left = side_max(&counts[..third]) < side_max(&counts[counts.len() - third..]);
    let headroom = if any_degenerate { top / 3 } else { top / 8 };
    let mut chart = ChartBuilder::on(panel)
        .caption(caption, (FAMILY, pt(23)))
        .margin(px(18))
        .margin_right(px(34))
        .x_label_area_size(px(64))
        .y_label_area_size(px(92))
        // A segmented a..b range has a segment for b too: the last index is n_index - 1.
        .build_cartesian_2d(
            (0u32..n_index - 1).into_segmented(),
            0u64..(top + headroom + 1),
        )
        .map_err(e)?;
    quiet_grid(chart.configure_mesh().disable_x_mesh(), k)
        .set_all_tick_mark_size(px(5))
        .x_labels(n_index.min(16) as usize)
        .x_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => i.to_string(),
            _ => String::new(),
        })
        .y_label_formatter(&|v| thousands(*v))
        .x_desc("Morse index (negative Hessian eigenvalues)")
        .y_desc(if walkers {
            "walkers"
        } else {
            "distinct critical points found"
        })
        .label_style((FAMILY, pt(18)))
        .axis_desc_style((FAMILY, pt(20)))
        .draw()
        .map_err(e)?;
    let bar_gap = (panel.dim_in_pixel().0 / (4 * n_index.max(4))).max(1);
    draw_bars(&mut chart, counts, (bar_gap, any_degenerate), k)?;
    draw_estimates(&mut chart, estimates, k)?;
    if any_degenerate || !estimates.is_empty() {
        let position = if legend_left {
            SeriesLabelPosition::UpperLeft
        } else {
            SeriesLabelPosition::UpperRight
        };
        series_key(&mut chart, position, px(10), px(28), pt(17))?;
    }
    if total == 0 {
        let (w, h) = panel.dim_in_pixel();
        panel
            .draw(&Text::new(
                "no critical points",
                (w as i32 / 2 - 80 * k as i32, h as i32 / 2),
                (FAMILY, pt(22)).into_font().color(&BLACK.mix(0.6)),
            ))
            .map_err(e)?;
    }
    Ok(())
}

/// The estimated number of points of each index as an open circle, its 95% interval as an
/// error bar. The count axis is integer, so they are placed in pixels, interpolated between
/// the axis's own positions of whole counts.
fn draw_estimates<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<SegmentedCoord<RangedCoordu32>, RangedCoordu64>>,
    estimates: &Estimates,
    k: u32,
) -> Result<(), String> {
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    if estimates.is_empty() {
        return Ok(());
    }
    let r = 6 * k as i32;
    let area = chart.plotting_area().strip_coord_spec();
    let (bx, by) = area.get_base_pixel();
    let at = |i: u32, v: f64| -> (i32, i32) {
        let (x, y0) = chart.backend_coord(&(SegmentValue::CenterOf(i), 0));
        let (_, y1) = chart.backend_coord(&(SegmentValue::CenterOf(i), 1000));
        let y = f64::from(y0) + f64::from(y1 - y0) * v / 1000.0;
        (x - bx, y.round() as i32 - by)
    };
    let line = ESTIMATE.stroke_width(2 * k);
    for &(i, est, lo, hi) in estimates {
        let (x, y_lo) = at(i, lo);
        let (_, y_hi) = at(i, hi);
        let (_, y) = at(i, est);
        let cap = 5 * k as i32;
        for path in [
            vec![(x, y_lo), (x, y_hi)],
            vec![(x - cap, y_lo), (x + cap, y_lo)],
            vec![(x - cap, y_hi), (x + cap, y_hi)],
        ] {
            area.draw(&PathElement::new(path, line)).map_err(e)?;
        }
        area.draw(&Circle::new((x, y), r, WHITE.filled()))
            .map_err(e)?;
        area.draw(&Circle::new((x, y), r, line)).map_err(e)?;
    }
    // The key's entry (an empty series carries it).
    chart
        .draw_series(std::iter::empty::<Circle<(SegmentValue<u32>, u64), i32>>())
        .map_err(e)?
        .label("estimated (Chao1, 95% interval)")
        .legend(move |(x, y)| Circle::new((x + 8 * k as i32, y), r, line));
    Ok(())
}

/// The full stack in the degenerate colour, then the nondegenerate part over its base; in the
/// key (`keyed`) only when some point is degenerate. One series per bar, in index order: plotters' Histogram gathers its data in a hash map, so a
/// many-bar series would draw its bars (and write the SVG) in a random order.
fn draw_bars<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<SegmentedCoord<RangedCoordu32>, RangedCoordu64>>,
    counts: &[(u32, u64, u64)],
    (bar_gap, keyed): (u32, bool),
    k: u32,
) -> Result<(), String> {
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
    let layers: [Layer; 2] = [
        (
            "degenerate (a zero eigenvalue)",
            DEGENERATE,
            counts.iter().map(|&(i, nd, d)| (i, nd + d)).collect(),
        ),
        (
            "nondegenerate",
            NONDEGENERATE,
            counts.iter().map(|&(i, nd, _)| (i, nd)).collect(),
        ),
    ];
    for (label, colour, bars) in layers {
        for (j, bar) in bars.into_iter().enumerate() {
            let series = chart
                .draw_series(
                    Histogram::vertical(chart)
                        .style(colour.filled())
                        .margin(bar_gap)
                        .data([bar]),
                )
                .map_err(e)?;
            if j == 0 && keyed {
                series.label(label).legend(move |(x, y)| {
                    Rectangle::new(
                        [(x, y - 7 * k as i32), (x + 16 * k as i32, y + 7 * k as i32)],
                        colour.filled(),
                    )
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::critical::{CriticalPoint, Kind, Outcome};

    fn point(id: usize, index: usize, walkers: usize, kind: Kind) -> CriticalPoint {
        CriticalPoint {
            id,
            x: vec![0.0],
            f: id as f64,
            grad_norm: 0.0,
            index,
            n_neg: index,
            n_zero: usize::from(kind == Kind::Degenerate),
            n_pos: 1,
            kind,
            walkers,
            eigenvalues: vec![],
            min_eig: 0.0,
            max_eig: 0.0,
        }
    }

    fn sample() -> Catalogue {
        let mut points = Vec::new();
        let per_index = [
            (3, 1200),
            (9, 5400),
            (14, 9800),
            (11, 7100),
            (5, 2300),
            (2, 700),
        ];
        for (index, &(n, walkers)) in per_index.iter().enumerate() {
            for k in 0..n {
                let kind = if index == 2 && k < 3 {
                    Kind::Degenerate
                } else {
                    Kind::Saddle
                };
                points.push(point(points.len(), index, walkers / n, kind));
            }
        }
        Catalogue {
            points,
            outcomes: vec![Outcome::Ineligible],
        }
    }

    #[test]
    fn writes_png_and_svg_atomically() {
        let dir = std::env::temp_dir().join(format!("saddlescope-fig-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let stem = dir.join("index.hist");
        let [png, svg] = index_histogram(
            &stem,
            &sample(),
            "Hessian index of critical points: pspin:p=3,n=40",
        )
        .unwrap();
        assert_eq!(png, dir.join("index.hist.png"));
        let bytes = std::fs::read(&png).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        let img = image::load_from_memory(&bytes).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (SIZE.0 * PNG_SCALE, SIZE.1 * PNG_SCALE));
        // Both bar colours appear, and text was drawn (dark pixels outside the bars).
        let has = |c: RGBColor| img.pixels().any(|p| p.0 == [c.0, c.1, c.2]);
        assert!(has(NONDEGENERATE) && has(DEGENERATE));
        assert!(img.pixels().filter(|p| p.0.iter().all(|&v| v < 60)).count() > 2000);
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(
            text.starts_with("<svg") && text.contains("Morse index") && text.contains("walkers")
        );
        // Nothing but the two figures is left in the folder (no temporary files).
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, vec!["index.hist.png", "index.hist.svg"]);
        if std::env::var_os("SADDLESCOPE_KEEP_FIGURES").is_none() {
            std::fs::remove_dir_all(&dir).unwrap();
        } else {
            eprintln!("figures kept in {}", dir.display());
        }
    }

    #[test]
    fn many_indices_and_a_right_heavy_distribution() {
        let dir = std::env::temp_dir().join(format!("saddlescope-fig-many-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut points = Vec::new();
        for index in 0..60usize {
            let n = (60.0 * (-((index as f64 - 40.0) / 8.0).powi(2)).exp()) as usize;
            for k in 0..n {
                let kind = if k == 0 && index % 7 == 0 {
                    Kind::Degenerate
                } else {
                    Kind::Saddle
                };
                points.push(point(points.len(), index, 1 + k % 3, kind));
            }
        }
        let cat = Catalogue {
            points,
            outcomes: vec![],
        };
        index_histogram(&dir.join("many"), &cat, "pspin:p=3,n=60").unwrap();
        let bytes = std::fs::read(dir.join("many.png")).unwrap();
        assert!(image::load_from_memory(&bytes).is_ok());
        if std::env::var_os("SADDLESCOPE_KEEP_FIGURES").is_none() {
            std::fs::remove_dir_all(&dir).unwrap();
        } else {
            eprintln!("figures kept in {}", dir.display());
        }
    }

    #[test]
    fn an_empty_catalogue_still_draws() {
        let dir =
            std::env::temp_dir().join(format!("saddlescope-fig-empty-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = Catalogue {
            points: vec![],
            outcomes: vec![],
        };
        index_histogram(&dir.join("empty"), &empty, "nothing").unwrap();
        assert!(dir.join("empty.png").exists() && dir.join("empty.svg").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unwritable_folder_is_an_io_error() {
        let stem = Path::new("/nonexistent-saddlescope-dir/fig");
        let err = index_histogram(stem, &sample(), "t").unwrap_err();
        assert!(matches!(err, FigureError::Io { .. }), "{err}");
    }
}
