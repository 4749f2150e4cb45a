//! CSV tables read back from a run folder (for `saddlescope plot` and commands that start from
//! an earlier run's outputs), validated as they are read: a header with the columns the writer
//! writes, every row as wide as the header, the row count the manifest promises, cells that are
//! integers, finite numbers or known names where they must be. The first bad row is reported
//! with its file and line (a usage error: the folder is not what its manifest says it is).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::spec::SpecError;

/// A CSV file read back: its header and rows, with typed access that names the file, line and
/// column of anything malformed.
pub struct Table {
    path: PathBuf,
    columns: BTreeMap<String, usize>,
    rows: Vec<Vec<String>>,
}

/// Splits one CSV line into fields; a field in double quotes may hold commas (escape's
/// method specs) and doubled quotes.
pub fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => out.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    out.push(field);
    out
}

impl Table {
    /// Reads `dir/name`: a missing file is a problem of the folder; an empty one, a header
    /// without one of `required` columns, or a row with another number of fields than the
    /// header is a problem of the table, at its line.
    pub fn read(dir: &Path, name: &str, required: &[&str]) -> Result<Table, SpecError> {
        let path = dir.join(name);
        let bytes = std::fs::read(&path).map_err(|e| SpecError::Folder {
            dir: dir.to_path_buf(),
            problem: format!("cannot read {name} ({e})"),
        })?;
        let text = String::from_utf8(bytes).map_err(|e| SpecError::Table {
            file: path.clone(),
            line: 1 + e.as_bytes()[..e.utf8_error().valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count(),
            problem: "is not UTF-8 text".into(),
        })?;
        let mut lines = text.lines().enumerate();
        let header = match lines.next() {
            Some((_, h)) if !h.trim().is_empty() => split_csv(h),
            _ => {
                return Err(SpecError::Table {
                    file: path,
                    line: 1,
                    problem: format!(
                        "the file is empty: no header (expected {})",
                        required.join(",")
                    ),
                })
            }
        };
        let columns: BTreeMap<String, usize> = header
            .iter()
            .enumerate()
            .map(|(i, c)| (c.clone(), i))
            .collect();
        if let Some(missing) = required.iter().find(|c| !columns.contains_key(**c)) {
            return Err(SpecError::Table {
                file: path,
                line: 1,
                problem: format!(
                    "the header has no column '{missing}' (a cut or foreign header); expected \
                     the columns {}",
                    required.join(",")
                ),
            });
        }
        let mut rows = Vec::new();
        for (i, l) in lines {
            if l.is_empty() {
                continue;
            }
            let fields = split_csv(l);
            if fields.len() != header.len() {
                return Err(SpecError::Table {
                    file: path,
                    line: i + 1,
                    problem: format!(
                        "{} fields where the header has {} (a cut or damaged row)",
                        fields.len(),
                        header.len()
                    ),
                });
            }
            rows.push(fields);
        }
        Ok(Table {
            path,
            columns,
            rows,
        })
    }
    pub fn len(&self) -> usize {
        self.rows.len()
    }
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
    /// Whether the table has column `col` (columns appended later are absent from older runs).
    pub fn has(&self, col: &str) -> bool {
        self.columns.contains_key(col)
    }
    /// A problem at data row `row` (line row + 2).
    pub fn bad(&self, row: usize, problem: impl Into<String>) -> SpecError {
        SpecError::Table {
            file: self.path.clone(),
            line: row + 2,
            problem: problem.into(),
        }
    }
    /// Refuses a table without exactly `n` rows; `why` says where `n` comes from (as
    /// "manifest.json: critical_points.distinct").
    pub fn expect_rows(&self, n: usize, why: &str) -> Result<(), SpecError> {
        if self.len() == n {
            return Ok(());
        }
        Err(SpecError::Table {
            file: self.path.clone(),
            line: self.len().min(n) + 2,
            problem: format!(
                "{} rows where {why} says {n} (a truncated or foreign table)",
                self.len()
            ),
        })
    }
    fn cell(&self, row: usize, col: &str) -> Result<&str, SpecError> {
        let c = *self.columns.get(col).ok_or_else(|| SpecError::Table {
            file: self.path.clone(),
            line: 1,
            problem: format!("the header has no column '{col}'"),
        })?;
        Ok(self.rows[row][c].as_str())
    }
    /// A float; an empty cell (a value that does not exist, as a median of no escapes) is NaN.
    /// The writers write such a value as an empty cell, never as the text NaN, which is refused.
    pub fn f64(&self, row: usize, col: &str) -> Result<f64, SpecError> {
        let s = self.cell(row, col)?;
        if s.is_empty() {
            return Ok(f64::NAN);
        }
        match s.parse::<f64>() {
            Ok(v) if v.is_nan() => Err(self.bad(
                row,
                format!("{col} = '{s}' (a missing value is an empty cell; NaN is never written)"),
            )),
            Ok(v) => Ok(v),
            Err(_) => Err(self.bad(row, format!("{col} = '{s}' is not a number"))),
        }
    }
    /// A fraction in [0, 1], or an empty cell (NaN: no walker to take a share of).
    pub fn fraction_or_missing(&self, row: usize, col: &str) -> Result<f64, SpecError> {
        let v = self.f64(row, col)?;
        if v.is_nan() || (0.0..=1.0).contains(&v) {
            return Ok(v);
        }
        Err(self.bad(row, format!("{col} = {v} is not a fraction in [0, 1]")))
    }
    /// A float that must be finite: NaN, an infinity or an empty cell is refused.
    pub fn finite(&self, row: usize, col: &str) -> Result<f64, SpecError> {
        let v = self.f64(row, col)?;
        if v.is_finite() {
            return Ok(v);
        }
        Err(self.bad(
            row,
            format!(
                "{col} = '{}' where a finite number belongs",
                self.cell(row, col)?
            ),
        ))
    }
    /// A finite fraction in [0, 1].
    pub fn fraction(&self, row: usize, col: &str) -> Result<f64, SpecError> {
        let v = self.finite(row, col)?;
        if (0.0..=1.0).contains(&v) {
            return Ok(v);
        }
        Err(self.bad(row, format!("{col} = {v} is not a fraction in [0, 1]")))
    }
    /// A count (an integer >= 0).
    pub fn usize(&self, row: usize, col: &str) -> Result<usize, SpecError> {
        let s = self.cell(row, col)?;
        s.parse().map_err(|_| {
            self.bad(
                row,
                format!("{col} = '{s}' is not a count (an integer >= 0)"),
            )
        })
    }
    /// An integer that may be negative (labels: -1 = none).
    pub fn i64(&self, row: usize, col: &str) -> Result<i64, SpecError> {
        let s = self.cell(row, col)?;
        s.parse()
            .map_err(|_| self.bad(row, format!("{col} = '{s}' is not an integer")))
    }
    /// A count that may be empty (None).
    pub fn opt_usize(&self, row: usize, col: &str) -> Result<Option<usize>, SpecError> {
        if self.cell(row, col)?.is_empty() {
            return Ok(None);
        }
        self.usize(row, col).map(Some)
    }
    pub fn str(&self, row: usize, col: &str) -> Result<String, SpecError> {
        self.cell(row, col).map(str::to_string)
    }
    /// A name that must be one of `valid`.
    pub fn choice(&self, row: usize, col: &str, valid: &[&str]) -> Result<String, SpecError> {
        let s = self.cell(row, col)?;
        if valid.contains(&s) {
            return Ok(s.to_string());
        }
        Err(self.bad(
            row,
            format!("{col} = '{s}' is not one of {}", valid.join(", ")),
        ))
    }
    /// The header's columns in order.
    pub fn header(&self) -> Vec<&str> {
        let mut cols: Vec<(&str, usize)> =
            self.columns.iter().map(|(c, &i)| (c.as_str(), i)).collect();
        cols.sort_by_key(|&(_, i)| i);
        cols.into_iter().map(|(c, _)| c).collect()
    }
}

/// A manifest count a table must match (as `critical_points.distinct`), or a usage error
/// naming the key.
pub fn manifest_count(dir: &Path, v: &serde_json::Value, key: &str) -> Result<usize, SpecError> {
    v.as_u64().map(|n| n as usize).ok_or_else(|| {
        SpecError::folder(
            dir,
            format!("manifest.json has no count {key} (a damaged or foreign manifest)"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_name_the_file_and_line_of_the_first_bad_row() {
        let dir = std::env::temp_dir().join(format!("saddlescope-table-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |text: &str| std::fs::write(dir.join("t.csv"), text).unwrap();
        write("id,f,kind\n0,1.5,minimum\n\"a,b\",2,saddle\n");
        let t = Table::read(&dir, "t.csv", &["id", "f"]).unwrap();
        assert_eq!((t.len(), t.str(1, "id").unwrap().as_str()), (2, "a,b"));
        assert!(t
            .usize(1, "id")
            .unwrap_err()
            .to_string()
            .contains("t.csv line 3: id = 'a,b'"));
        assert!(t
            .expect_rows(9, "manifest.json: n")
            .unwrap_err()
            .to_string()
            .contains("2 rows where manifest.json: n says 9"));
        write("id,f,kind\n0,NaN,minimum\n");
        let t = Table::read(&dir, "t.csv", &[]).unwrap();
        assert!(t
            .finite(0, "f")
            .unwrap_err()
            .to_string()
            .contains("line 2: f = 'NaN'"));
        assert!(t.choice(0, "kind", &["saddle"]).is_err());
        write("id,f\n0,1\n1\n");
        let e = Table::read(&dir, "t.csv", &[]).err().unwrap().to_string();
        assert!(
            e.contains("t.csv line 3: 1 fields where the header has 2"),
            "{e}"
        );
        write("id,f");
        let e = Table::read(&dir, "t.csv", &["id", "f", "index"])
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("line 1: the header has no column 'index'"),
            "{e}"
        );
        write("");
        let e = Table::read(&dir, "t.csv", &["id"])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("line 1: the file is empty"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
