//! Numbers on figures: tick labels of linear and log10 axes, and columns of values in legends.
//! One axis (or one column) shares one format: its precision comes from the tick step (or from
//! the column's largest value), and values within a small tolerance of the axis span are
//! rounding noise of zero and print as 0, so a tick is never "−2.78e−17" and a legend never
//! sets f = 1e−23 beside values of order 1.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::Ranged;

/// A value within this fraction of the axis span (or of a column's scale) of zero is zero.
pub const ZERO_TOLERANCE: f64 = 1e-9;

/// The minus sign of typeset numbers (U+2212), not the hyphen.
const MINUS: char = '−';

/// Fixed-point or scientific notation, with this many digits after the point (of the
/// mantissa, in scientific notation).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Notation {
    Fixed(usize),
    Scientific(usize),
}

/// The labels of one linear axis over `lo..hi` with at most `count` labels: the ticks plotters
/// places there, every one in the format their step needs (0, 0.5, 1.0, 1.5; or 0, 5.0e5,
/// 1.0e6), and near-zero ticks printed as zero.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticks {
    /// The label count to ask plotters for (`x_labels`, `y_labels`): it places the same ticks.
    pub count: usize,
    /// Where they are, those near zero put at zero (for `with_key_points`).
    pub points: Vec<f64>,
    zero: f64,
    notation: Notation,
}

impl Ticks {
    /// The ticks plotters draws on a linear f64 axis over `lo..hi` given `count` labels.
    pub fn linear(lo: f64, hi: f64, count: usize) -> Ticks {
        let points = if lo.is_finite() && hi.is_finite() {
            RangedCoordf64::from(lo..hi).key_points(count)
        } else {
            Vec::new()
        };
        Ticks::at(&points, (hi - lo).abs(), count)
    }

    /// Labels for ticks at `points` on an axis `span` long.
    fn at(points: &[f64], span: f64, count: usize) -> Ticks {
        let zero = ZERO_TOLERANCE * span;
        let snapped: Vec<f64> = points
            .iter()
            .map(|&p| if p.abs() <= zero { 0.0 } else { p })
            .collect();
        let step = snapped
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .filter(|d| *d > zero)
            .fold(f64::INFINITY, f64::min);
        let big = snapped.iter().fold(0.0f64, |m, p| m.max(p.abs()));
        let notation = if big == 0.0 {
            Notation::Fixed(0)
        } else if step.is_finite() {
            notation_for(big, step)
        } else {
            // One tick: as many digits as it needs (up to 4 significant ones).
            let e = exponent(big);
            notation_for(big, 10f64.powi(e - 3))
        };
        Ticks {
            count,
            points: snapped,
            zero,
            notation,
        }
    }

    /// The label of the tick at `v`.
    pub fn label(&self, v: f64) -> String {
        if !v.is_finite() {
            return String::new();
        }
        let v = if v.abs() <= self.zero { 0.0 } else { v };
        let text = match self.notation {
            Notation::Fixed(d) => format!("{v:.d$}"),
            Notation::Scientific(_) if v == 0.0 => "0".to_string(),
            Notation::Scientific(d) => scientific(v, d),
        };
        typeset(&text)
    }
}

/// The notation for values up to `big` in magnitude written `step` apart.
fn notation_for(big: f64, step: f64) -> Notation {
    let eb = exponent(big);
    let es = exponent(step);
    if !(-3..5).contains(&eb) {
        Notation::Scientific((eb - es).clamp(0, 6) as usize)
    } else {
        Notation::Fixed((-es).clamp(0, 12) as usize)
    }
}

/// The decimal exponent of `v` (floor of log10 |v|), robust to the last bit: 0.1 is -1, 1 is 0.
fn exponent(v: f64) -> i32 {
    (v.abs().log10() + 1e-9).floor() as i32
}

/// `v` as `m.mme−k` with `d` mantissa decimals (a mantissa that rounds up to 10 moves the
/// exponent, as Rust's own `{:e}` does).
fn scientific(v: f64, d: usize) -> String {
    format!("{v:.d$e}")
}

/// Typeset minus signs; "-0", "-0.00" (a negative value rounded to zero) lose their sign.
fn typeset(text: &str) -> String {
    let t = match text.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_string(),
        _ => text.to_string(),
    };
    t.replace('-', &MINUS.to_string())
}

/// A column of values set in one format (a legend's f column): values within
/// [`ZERO_TOLERANCE`] of `scale` (or of the column's largest value, if larger) are zero, the
/// rest get `digits` significant digits at the column's largest magnitude.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    zero: f64,
    notation: Notation,
}

impl Column {
    pub fn new(values: &[f64], scale: f64, digits: usize) -> Column {
        let finite = values.iter().copied().filter(|v| v.is_finite());
        let top = finite.clone().fold(0.0f64, |m, v| m.max(v.abs()));
        let scale = if scale.is_finite() { scale.abs() } else { 0.0 };
        let zero = ZERO_TOLERANCE * scale.max(top);
        let big = finite
            .filter(|v| v.abs() > zero)
            .fold(0.0f64, |m, v| m.max(v.abs()));
        let notation = if big == 0.0 {
            Notation::Fixed(0)
        } else {
            let e = exponent(big);
            notation_for(big, 10f64.powi(e + 1 - digits.max(1) as i32))
        };
        Column { zero, notation }
    }

    pub fn format(&self, v: f64) -> String {
        Ticks {
            count: 0,
            points: Vec::new(),
            zero: self.zero,
            notation: self.notation,
        }
        .label(v)
    }
}

/// Label of a log10 axis at exponent `v`: 1, 10, 100, 1000, then 10⁴, 10⁵, …, and 0.1, 0.01,
/// 0.001, then 10⁻⁴, …; between decades (2, 5, 20, 0.05; 2×10⁴ beyond) the value with as few
/// digits as it needs.
pub fn log_label(v: f64) -> String {
    if !v.is_finite() {
        return String::new();
    }
    let k = v.round() as i32;
    if (v - f64::from(k)).abs() < 1e-9 {
        return match k {
            0..=3 => 10i64.pow(k as u32).to_string(),
            -3..=-1 => format!("{}", 10f64.powi(k)),
            _ => format!("10{}", superscript(k)),
        };
    }
    let x = 10f64.powf(v);
    let e = exponent(x);
    // At most 3 significant digits: log ticks sit at 1, 2, 5 (or 1 … 9) times a power of 10.
    let m = (x / 10f64.powi(e) * 100.0).round() / 100.0;
    if (-3..4).contains(&e) {
        let d = (2 - e).max(0) as usize;
        let s = format!("{x:.d$}");
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.')
        } else {
            &s
        };
        typeset(s)
    } else {
        let ms = format!("{m}");
        format!("{ms}×10{}", superscript(e))
    }
}

/// Tick positions (exponents) of a log10 axis from 10^`lo` to 10^`hi`: whole decades when
/// three or more fit (every k-th decade when more than `max` do), else 1-2-5 multiples, else
/// every multiple 1…9 of the decade, else evenly spaced values: never fewer than two.
pub fn log_ticks(lo: f64, hi: f64, max: usize) -> Vec<f64> {
    let (lo, hi) = (lo.min(hi), lo.max(hi));
    if !(lo.is_finite() && hi.is_finite()) || hi - lo < 1e-12 {
        return vec![lo];
    }
    let max = max.max(2);
    let eps = 1e-9;
    let decades: Vec<i32> = ((lo - eps).ceil() as i32..=(hi + eps).floor() as i32).collect();
    if decades.len() >= 3 {
        let every = decades.len().div_ceil(max) as i32;
        // Multiples of `every` where two of them fit, else every `every`-th from the first.
        let aligned: Vec<i32> = decades
            .iter()
            .copied()
            .filter(|d| d.rem_euclid(every) == 0)
            .collect();
        let picked = if aligned.len() >= 2 {
            aligned
        } else {
            decades.iter().copied().step_by(every as usize).collect()
        };
        return picked.into_iter().map(f64::from).collect();
    }
    let few: &[f64] = &[1.0, 2.0, 5.0];
    let all: &[f64] = &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
    let multiples = |mantissas: &[f64]| -> Vec<f64> {
        ((lo - eps).floor() as i32..=(hi + eps).ceil() as i32)
            .flat_map(|d| mantissas.iter().map(move |m| m.log10() + f64::from(d)))
            .filter(|&e| e >= lo - eps && e <= hi + eps)
            .collect()
    };
    let ones = multiples(few);
    if ones.len() >= 2 && ones.len() <= max.max(3) {
        return ones;
    }
    if decades.len() == 2 {
        return decades.into_iter().map(f64::from).collect();
    }
    let nines = multiples(all);
    if nines.len() >= 2 {
        return nines;
    }
    // Less than a factor of 2 wide: linear steps in value, placed on the log axis.
    let (a, b) = (10f64.powf(lo), 10f64.powf(hi));
    RangedCoordf64::from(a..b)
        .key_points(max.min(5))
        .into_iter()
        .filter(|&x| x > 0.0)
        .map(f64::log10)
        .collect()
}

/// An f64 axis over `lo..hi` with its ticks given, linear or log10 (then `lo`, `hi` and the
/// ticks are values, mapped by their logarithm). Plotters' own `with_key_points` wrapper takes
/// no label formatter for f64 axes; this one does.
#[derive(Debug, Clone)]
pub struct TickedAxis {
    lo: f64,
    hi: f64,
    log: bool,
    ticks: Vec<f64>,
}

impl TickedAxis {
    /// A linear axis with the ticks of `t`.
    pub fn linear(lo: f64, hi: f64, t: &Ticks) -> TickedAxis {
        TickedAxis {
            lo,
            hi,
            log: false,
            ticks: t.points.clone(),
        }
    }

    /// A linear axis with ticks at `ticks` (e.g. the middles of category slots).
    pub fn at(lo: f64, hi: f64, ticks: Vec<f64>) -> TickedAxis {
        TickedAxis {
            lo,
            hi,
            log: false,
            ticks,
        }
    }

    /// A linear axis in log10 units (`lo`, `hi` exponents) with ticks at [`log_ticks`].
    pub fn exponents(lo: f64, hi: f64, max: usize) -> TickedAxis {
        TickedAxis {
            lo,
            hi,
            log: false,
            ticks: log_ticks(lo, hi, max),
        }
    }

    /// A log10 axis over the values `lo..hi` with ticks at [`log_ticks`] (as values); label
    /// them with `log_label(v.log10())`.
    pub fn log(lo: f64, hi: f64, max: usize) -> TickedAxis {
        TickedAxis {
            lo,
            hi,
            log: true,
            ticks: log_ticks(lo.log10(), hi.log10(), max)
                .into_iter()
                .map(|e| 10f64.powf(e))
                .collect(),
        }
    }

    fn unit(&self, v: f64) -> f64 {
        if self.log {
            v.log10()
        } else {
            v
        }
    }
}

impl Ranged for TickedAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        RangedCoordf64::from(self.unit(self.lo)..self.unit(self.hi)).map(&self.unit(*v), limit)
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

fn superscript(k: i32) -> String {
    let digits = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let mut s: String = k
        .unsigned_abs()
        .to_string()
        .chars()
        .map(|c| digits[c.to_digit(10).unwrap_or(0) as usize])
        .collect();
    if k < 0 {
        s.insert(0, '⁻');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(lo: f64, hi: f64, n: usize) -> Vec<String> {
        let t = Ticks::linear(lo, hi, n);
        RangedCoordf64::from(lo..hi)
            .key_points(n)
            .into_iter()
            .map(|v| t.label(v))
            .collect()
    }

    #[test]
    fn rounding_noise_at_zero_prints_as_zero() {
        let t = Ticks::linear(-1.0, 1.0, 5);
        assert_eq!(t.label(-2.7755575615628914e-17), "0.0");
        assert_eq!(t.label(2.0e-17), "0.0");
        assert_eq!(t.label(-0.5), "−0.5");
        // Plotters places the ticks of -0.61..0.37 at -0.6, -0.4, -0.2, -1.1e-16, 0.2.
        let points = RangedCoordf64::from(-0.61..0.37).key_points(5);
        assert!(points[3] != 0.0 && points[3].abs() < 1e-15, "{points:?}");
        assert_eq!(
            labels(-0.61, 0.37, 5),
            ["−0.6", "−0.4", "−0.2", "0.0", "0.2"]
        );
        assert_eq!(Ticks::linear(-0.61, 0.37, 5).points[3], 0.0);
    }

    #[test]
    fn one_axis_shares_one_format() {
        assert_eq!(
            labels(0.0, 1.0, 6),
            ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]
        );
        assert_eq!(labels(-5.0, 5.0, 7), ["−4", "−2", "0", "2", "4"]);
        assert_eq!(labels(0.0, 100.0, 11)[..3], ["0", "10", "20"]);
        assert_eq!(
            labels(-0.07, 1.07, 6),
            ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]
        );
        let small = labels(0.0, 3e-5, 4);
        assert_eq!(small, ["0", "1e−5", "2e−5", "3e−5"]);
        let big = labels(0.0, 3e6, 7);
        assert_eq!(big[..3], ["0", "5.0e5", "1.0e6"]);
        // Two labels from the same axis never differ only by their digits' count.
        let g = labels(1.1, 1.6, 6);
        assert!(g.iter().all(|s| s.len() == g[0].len()), "{g:?}");
    }

    #[test]
    fn a_column_snaps_noise_against_its_scale() {
        let c = Column::new(&[3.7e-24, 7.6e-22, 0.0], 900.0, 5);
        assert_eq!(c.format(3.7e-24), "0");
        let c = Column::new(&[3.7e-24, -1.0316, -0.2155], 0.0, 5);
        assert_eq!(c.format(-1.031628), "−1.0316");
        assert_eq!(c.format(3.7e-24), "0.0000");
        let c = Column::new(&[1e-7, 3e-7], 0.0, 4);
        assert_eq!(c.format(3e-7), "3.000e−7");
        assert_eq!(c.format(f64::NAN), "");
    }

    #[test]
    fn log_labels_and_ticks() {
        let got: Vec<String> = [-4.0, -3.0, -1.0, 0.0, 1.0, 3.0, 4.0, 12.0]
            .iter()
            .map(|&v| log_label(v))
            .collect();
        assert_eq!(
            got,
            ["10⁻⁴", "0.001", "0.1", "1", "10", "1000", "10⁴", "10¹²"]
        );
        assert_eq!(log_label(2f64.log10()), "2");
        assert_eq!(log_label(0.05f64.log10()), "0.05");
        assert_eq!(log_label(2e5f64.log10()), "2×10⁵");
        // Less than a decade wide: 1-2-5 steps, never a single label.
        let t = log_ticks(0.2f64.log10(), 0.9f64.log10(), 6);
        let shown: Vec<String> = t.iter().map(|&v| log_label(v)).collect();
        assert_eq!(shown, ["0.2", "0.5"]);
        let t = log_ticks(3f64.log10(), 7f64.log10(), 6);
        assert!(t.len() >= 2, "{t:?}");
        let t = log_ticks(-3.0, 9.0, 5);
        assert!(t.len() >= 2 && t.len() <= 5, "{t:?}");
        assert_eq!(log_ticks(0.0, 3.3, 10), [0.0, 1.0, 2.0, 3.0]);
    }
}
