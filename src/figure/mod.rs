//! Figures: PNG for looking, SVG for papers. Both are drawn by plotters from the same code;
//! text is set in DejaVu Sans, embedded in the binary (assets/fonts, Bitstream Vera licence), so
//! no system font library is needed. Files are written atomically.

pub mod basins;
mod contour;
mod ecdf;
mod escape_sweep;
mod index_histogram;
pub mod index_loss;
mod outcomes;
mod scaling;
mod style;
pub mod sweep;
mod ticks;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::{BitMapBackend, DrawingArea, IntoDrawingArea, SVGBackend};

pub use ecdf::{escape_ecdf, EcdfArm};
pub use escape_sweep::{escape_sweep, SweepBin, SweepSeries};
pub use index_histogram::{index_histogram, index_histogram_bins};
pub use outcomes::{escape_outcomes, OutcomeArm, OutcomeCategory};
pub use scaling::{scaling, ScalingPanel, ScalingSeries};

/// DejaVu Sans (assets/fonts/DejaVuSans-LICENSE.txt).
const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
/// The font family every figure uses; registered under this name on first use.
const FAMILY: &str = "sans-serif";

/// A figure could not be made.
#[derive(Debug, thiserror::Error)]
pub enum FigureError {
    #[error("cannot write figure {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot draw figure {path}: {message}")]
    Draw { path: PathBuf, message: String },
}

/// Registers the embedded font with plotters once; false if it could not be parsed.
fn font_ready() -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    *READY.get_or_init(|| {
        plotters::style::register_font(FAMILY, plotters::style::FontStyle::Normal, FONT).is_ok()
    })
}

/// `<stem>.<ext>`, keeping dots already in the stem's file name (e.g. `run.1/index`).
fn with_ext(stem: &Path, ext: &str) -> PathBuf {
    let mut s = stem.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

/// Draws into a white RGB canvas of `size` and writes it as PNG at `path`, atomically.
fn write_png(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(DrawingArea<BitMapBackend<'_>, Shift>) -> Result<(), String>,
) -> Result<(), FigureError> {
    let draw_err = |message: String| FigureError::Draw {
        path: path.to_owned(),
        message,
    };
    let mut buf = vec![255u8; size.0 as usize * size.1 as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buf, size).into_drawing_area();
        draw(root).map_err(draw_err)?;
    }
    let mut png = Vec::new();
    image::ImageEncoder::write_image(
        image::codecs::png::PngEncoder::new(&mut png),
        &buf,
        size.0,
        size.1,
        image::ExtendedColorType::Rgb8,
    )
    .map_err(|e| draw_err(e.to_string()))?;
    crate::output::write_atomic(path, &png).map_err(|source| FigureError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Draws into an SVG document of `size` and writes it at `path`, atomically.
fn write_svg(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), String>,
) -> Result<(), FigureError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        draw(root).map_err(|message| FigureError::Draw {
            path: path.to_owned(),
            message,
        })?;
    }
    crate::output::write_atomic(path, svg.as_bytes()).map_err(|source| FigureError::Io {
        path: path.to_owned(),
        source,
    })
}
