//! Outputs for other tools: atomic file writes, `.npy` arrays (NumPy format 1.0), CSV tables
//! and the run manifest. A killed run never leaves a half-written file under its final name.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, then a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// A NumPy dtype we write.
pub trait NpyElement: Copy {
    const DESCR: &'static str;
    fn put(self, out: &mut Vec<u8>);
}
impl NpyElement for f64 {
    const DESCR: &'static str = "<f8";
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}
impl NpyElement for f32 {
    const DESCR: &'static str = "<f4";
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}
impl NpyElement for i32 {
    const DESCR: &'static str = "<i4";
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}
impl NpyElement for u32 {
    const DESCR: &'static str = "<u4";
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

/// Encodes a C-order array of the given shape as .npy (format version 1.0).
pub fn npy_bytes<T: NpyElement>(shape: &[usize], data: &[T]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_txt = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}",
        T::DESCR,
        shape_txt
    );
    // Magic (6) + version (2) + header length (2) + header + '\n' must be a multiple of 64.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + data.len() * 8);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for &v in data {
        v.put(&mut out);
    }
    out
}

pub fn write_npy<T: NpyElement>(path: &Path, shape: &[usize], data: &[T]) -> std::io::Result<()> {
    write_atomic(path, &npy_bytes(shape, data))
}

/// Reads back a .npy written by [`npy_bytes`]: (descr, shape, raw little-endian data).
pub fn read_npy(bytes: &[u8]) -> Option<(String, Vec<usize>, &[u8])> {
    if bytes.len() < 10 || &bytes[..8] != b"\x93NUMPY\x01\x00" {
        return None;
    }
    let hl = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(bytes.get(10..10 + hl)?).ok()?;
    let descr = header
        .split("'descr': '")
        .nth(1)?
        .split('\'')
        .next()?
        .to_string();
    let shape_txt = header.split("'shape': (").nth(1)?.split(')').next()?;
    let shape = shape_txt
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().ok())
        .collect::<Option<Vec<usize>>>()?;
    Some((descr, shape, &bytes[10 + hl..]))
}

/// Writes W x N positions in the precision the walk ran in.
pub fn write_positions(
    path: &Path,
    w: usize,
    n: usize,
    x: &[f64],
    precision: &str,
) -> std::io::Result<()> {
    if precision == "f32" {
        let v: Vec<f32> = x.iter().map(|&a| a as f32).collect();
        write_npy(path, &[w, n], &v)
    } else {
        write_npy(path, &[w, n], x)
    }
}

/// A CSV table built in memory and written atomically.
pub struct Csv {
    text: String,
}

impl Csv {
    pub fn new(header: &str) -> Csv {
        Csv {
            text: format!("{header}\n"),
        }
    }
    pub fn row(&mut self, fields: &[String]) {
        self.text.push_str(&fields.join(","));
        self.text.push('\n');
    }
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        write_atomic(path, self.text.as_bytes())
    }
    /// Data rows so far (the header not counted).
    pub fn rows(&self) -> usize {
        self.text.lines().count() - 1
    }
}

/// Formats a float for CSV: shortest round-trip form (exponent for tiny or huge values),
/// empty for NaN.
pub fn num(v: f64) -> String {
    if v.is_nan() {
        String::new()
    } else {
        format!("{v:?}")
    }
}

/// UTC time as YYYYMMDD-HHMMSS (for default run folder names).
pub fn timestamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_header_is_aligned_and_round_trips() {
        let data = [1.5f64, -2.0, 3.25, 4.0, 5.0, 6.0];
        let b = npy_bytes(&[2, 3], &data);
        let (descr, shape, raw) = read_npy(&b).unwrap();
        assert_eq!(descr, "<f8");
        assert_eq!(shape, vec![2, 3]);
        assert_eq!((10 + u16::from_le_bytes([b[8], b[9]]) as usize) % 64, 0);
        let back: Vec<f64> = raw
            .chunks(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(back, data);
        let b = npy_bytes(&[3], &[1i32, 2, 3]);
        assert_eq!(read_npy(&b).unwrap().1, vec![3]);
    }

    #[test]
    fn timestamp_has_the_civil_shape() {
        let t = timestamp();
        assert_eq!(t.len(), 15);
        assert!(t.starts_with("20"), "{t}");
    }
}
