//! CSV tables read back from a run folder (for `saddlescope plot` and commands that start from
//! an earlier run's outputs), with errors that name the file, line and column.

use std::collections::BTreeMap;
use std::path::Path;

use crate::spec::SpecError;

/// A CSV file read back: its header and rows, with typed access that names the file, line and
/// column of anything malformed (a usage error: the folder is not what `plot` expects).
pub struct Table {
    name: String,
    columns: BTreeMap<String, usize>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn read(dir: &Path, name: &str) -> Result<Table, SpecError> {
        let text = std::fs::read_to_string(dir.join(name)).map_err(|e| SpecError::Folder {
            dir: dir.to_path_buf(),
            problem: format!("cannot read {name} ({e})"),
        })?;
        let mut lines = text.lines();
        let columns = lines
            .next()
            .unwrap_or("")
            .split(',')
            .enumerate()
            .map(|(i, c)| (c.to_string(), i))
            .collect();
        let rows = lines
            .filter(|l| !l.is_empty())
            .map(|l| l.split(',').map(str::to_string).collect())
            .collect();
        Ok(Table {
            name: name.to_string(),
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
    fn cell(&self, row: usize, col: &str) -> Result<&str, SpecError> {
        let c = *self
            .columns
            .get(col)
            .ok_or_else(|| SpecError::Invalid(format!("{} has no column '{col}'", self.name)))?;
        self.rows[row].get(c).map(String::as_str).ok_or_else(|| {
            SpecError::Invalid(format!("{} line {}: too few fields", self.name, row + 2))
        })
    }
    /// A float; an empty cell is NaN.
    pub fn f64(&self, row: usize, col: &str) -> Result<f64, SpecError> {
        let s = self.cell(row, col)?;
        if s.is_empty() {
            return Ok(f64::NAN);
        }
        s.parse().map_err(|_| {
            SpecError::Invalid(format!(
                "{} line {}: {col} = '{s}' is not a number",
                self.name,
                row + 2
            ))
        })
    }
    pub fn usize(&self, row: usize, col: &str) -> Result<usize, SpecError> {
        let s = self.cell(row, col)?;
        s.parse().map_err(|_| {
            SpecError::Invalid(format!(
                "{} line {}: {col} = '{s}' is not a count",
                self.name,
                row + 2
            ))
        })
    }
    pub fn str(&self, row: usize, col: &str) -> Result<String, SpecError> {
        self.cell(row, col).map(str::to_string)
    }
}
