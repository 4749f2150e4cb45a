//! Spec strings: `name` or `name:key=value,key=value` (positional values allowed), resolved
//! against a table of parameters with defaults and valid ranges.

use std::collections::BTreeMap;
use std::fmt;

/// A usage error in a spec, flag or value; the binary maps it to exit code 2.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum SpecError {
    #[error("unknown {what} '{name}'; valid choices: {valid}")]
    UnknownName {
        what: &'static str,
        name: String,
        valid: String,
    },
    #[error("{context}: unknown key '{key}'; valid keys: {valid}")]
    UnknownKey {
        context: String,
        key: String,
        valid: String,
    },
    #[error("{context}: '{key}={value}' is not a number")]
    NotANumber {
        context: String,
        key: String,
        value: String,
    },
    #[error("{context}: unknown {key} '{value}'; valid: {valid}")]
    UnknownChoice {
        context: String,
        key: String,
        value: String,
        valid: String,
    },
    #[error("{context}: {key}={value} is out of range; {rule}")]
    OutOfRange {
        context: String,
        key: String,
        value: String,
        rule: String,
    },
    /// A command-line flag's value outside its valid range.
    #[error("{flag} {value} is out of range; valid: {valid}")]
    Flag {
        flag: &'static str,
        value: String,
        valid: String,
    },
    /// A vector given with the wrong number of values for the objective's dimension.
    #[error("{what} has {got} values but the objective has N = {n} dimensions")]
    Dimension { what: String, got: usize, n: usize },
    /// A run folder (or one read from) that is missing, unreadable or of the wrong kind.
    #[error("{}: {problem}", dir.display())]
    Folder {
        dir: std::path::PathBuf,
        problem: String,
    },
    /// A table of a run folder that is not what its writer writes or its manifest promises:
    /// the file, the line (1 = the header) and what is wrong.
    #[error("{} line {line}: {problem}", file.display())]
    Table {
        file: std::path::PathBuf,
        line: usize,
        problem: String,
    },
    /// A request larger than what fits: memory, a buffer or an index range.
    #[error("{what} needs {need}, more than {limit}; valid: {valid}")]
    TooLarge {
        what: String,
        need: String,
        limit: String,
        valid: String,
    },
    /// A flag's or spec's text that does not parse or does not fit: where (`context`, the flag
    /// and its text) and what is wrong, with the valid forms.
    #[error("{context}: {problem}")]
    Spec { context: String, problem: String },
    #[error("{0}")]
    Invalid(String),
}

impl SpecError {
    /// A problem with a folder, named by its path.
    pub fn folder(dir: &std::path::Path, problem: impl Into<String>) -> Self {
        SpecError::Folder {
            dir: dir.to_path_buf(),
            problem: problem.into(),
        }
    }
    /// A flag's value outside its valid range.
    pub fn flag(
        flag: &'static str,
        value: impl std::fmt::Display,
        valid: impl Into<String>,
    ) -> Self {
        SpecError::Flag {
            flag,
            value: value.to_string(),
            valid: valid.into(),
        }
    }
}

/// The allowed values of one numeric parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Range {
    /// Any finite number.
    Any,
    /// Strictly positive.
    Positive,
    /// Zero or more.
    NonNegative,
    /// lo <= v < hi.
    HalfOpen(f64, f64),
    /// lo <= v <= hi.
    Closed(f64, f64),
    /// An integer in lo..=hi.
    Int(i64, i64),
    /// A count: an integer in 0..=max that, unlike [`Range::Int`], may be a range across
    /// walkers (each walker gets the nearest integer of its share of the range).
    Count(i64),
    /// One of the named choices, stored as its index (0, 1, ...); the spec gives the name.
    Choice(&'static [&'static str]),
    /// Text (a list like `8-16-1`, a choice that may also be a file path), kept as given in
    /// [`Values::texts`] and checked by the objective that reads it: `default` is the text
    /// when the key is not given, `form` says what is valid (for `list` and errors).
    Text {
        default: &'static str,
        form: &'static str,
    },
}

impl Range {
    pub fn check(&self, v: f64) -> Result<(), String> {
        let ok = v.is_finite()
            && match *self {
                Range::Any => true,
                Range::Positive => v > 0.0,
                Range::NonNegative => v >= 0.0,
                Range::HalfOpen(lo, hi) => v >= lo && v < hi,
                Range::Closed(lo, hi) => v >= lo && v <= hi,
                Range::Int(lo, hi) => v.fract() == 0.0 && v >= lo as f64 && v <= hi as f64,
                Range::Count(hi) => v.fract() == 0.0 && v >= 0.0 && v <= hi as f64,
                Range::Choice(names) => v.fract() == 0.0 && v >= 0.0 && v < names.len() as f64,
                Range::Text { .. } => false,
            };
        if ok {
            Ok(())
        } else {
            Err(format!("valid: {self}"))
        }
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Range::Any => write!(f, "any finite number"),
            Range::Positive => write!(f, "> 0"),
            Range::NonNegative => write!(f, ">= 0"),
            Range::HalfOpen(lo, hi) => write!(f, "{lo} <= value < {hi}"),
            Range::Closed(lo, hi) => write!(f, "{lo} <= value <= {hi}"),
            Range::Int(lo, hi) if hi == i64::MAX => write!(f, "an integer >= {lo}"),
            Range::Int(lo, hi) => write!(f, "an integer in {lo}..={hi}"),
            Range::Count(hi) => write!(
                f,
                "an integer in 0..={hi}, or a range lo..hi of integers spread over walkers"
            ),
            Range::Choice(names) => write!(f, "one of {}", names.join(", ")),
            Range::Text { form, .. } => write!(f, "{form}"),
        }
    }
}

/// One parameter of an objective or step rule.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub key: &'static str,
    pub default: f64,
    pub range: Range,
    pub doc: &'static str,
}

impl Param {
    pub const fn new(key: &'static str, default: f64, range: Range, doc: &'static str) -> Self {
        Param {
            key,
            default,
            range,
            doc,
        }
    }
    /// A value as a spec writes it: the name for a choice, the default text for a text
    /// parameter (whose value is in [`Values::texts`]), the number otherwise.
    pub fn show(&self, v: f64) -> String {
        match self.range {
            Range::Choice(names) => names
                .get(v as usize)
                .map_or_else(|| format!("{v}"), |n| (*n).to_string()),
            Range::Text { default, .. } => default.to_string(),
            _ => format!("{v}"),
        }
    }
}

/// How a range `lo..hi` is spread over walkers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    /// `lo..hi`: evenly spaced values.
    Linear,
    /// `lo..hi:log`: evenly spaced logarithms (a geometric sequence); needs lo > 0.
    Log,
}

/// A hyperparameter range `lo..hi` or `lo..hi:log`, spread over the walkers of a run: walker k
/// of W gets lo + (hi - lo) k/(W-1) (linear) or lo (hi/lo)^(k/(W-1)) (log); walker 0 gets lo
/// and walker W-1 gets hi exactly; a single walker gets lo.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Sweep {
    pub lo: f64,
    pub hi: f64,
    pub scale: Scale,
}

impl Sweep {
    /// The value of walker `k` of `walkers`.
    pub fn at(&self, k: usize, walkers: usize) -> f64 {
        if walkers <= 1 || k == 0 {
            return self.lo;
        }
        if k + 1 >= walkers {
            return self.hi;
        }
        let u = k as f64 / (walkers - 1) as f64;
        let v = match self.scale {
            Scale::Linear => self.lo + (self.hi - self.lo) * u,
            Scale::Log => self.lo * (self.hi / self.lo).powf(u),
        };
        // Rounding must not step outside the requested (and validated) interval.
        v.clamp(self.lo, self.hi)
    }
    /// The spec form: `lo..hi` or `lo..hi:log`.
    pub fn text(&self) -> String {
        match self.scale {
            Scale::Linear => format!("{}..{}", self.lo, self.hi),
            Scale::Log => format!("{}..{}:log", self.lo, self.hi),
        }
    }
}

/// A parsed but unresolved spec: a name and raw key/value strings.
#[derive(Debug, Clone, PartialEq)]
pub struct RawSpec {
    pub name: String,
    /// (key or None for positional, value)
    pub args: Vec<(Option<String>, String)>,
}

impl RawSpec {
    pub fn parse(text: &str) -> Result<RawSpec, SpecError> {
        let text = text.trim();
        let (name, rest) = match text.split_once(':') {
            Some((n, r)) => (n.trim(), Some(r)),
            None => (text, None),
        };
        if name.is_empty() {
            return Err(SpecError::Invalid(format!(
                "spec '{text}' has no name; write name or name:key=value,key=value"
            )));
        }
        let mut args = Vec::new();
        if let Some(rest) = rest {
            for part in rest.split(',') {
                let part = part.trim();
                if part.is_empty() {
                    continue;
                }
                match part.split_once('=') {
                    Some((k, v)) => args.push((Some(k.trim().to_string()), v.trim().to_string())),
                    None => args.push((None, part.to_string())),
                }
            }
        }
        Ok(RawSpec {
            name: name.to_string(),
            args,
        })
    }
}

/// Resolved numeric parameters, every key of the table present. A key given as a range has
/// its `lo` in `values` and the range in `sweeps`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Values {
    pub name: String,
    pub values: BTreeMap<String, f64>,
    /// Keys given as ranges (`lo..hi`, `lo..hi:log`); only step-rule specs accept them.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub sweeps: BTreeMap<String, Sweep>,
    /// Text parameters ([`Range::Text`]), as given or their default; `values` holds 0 for them.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub texts: BTreeMap<String, String>,
}

impl Values {
    /// The value of `key`; for a key given as a range, its lower end `lo`. A key the spec's
    /// table does not have is an error naming the valid keys.
    pub fn get(&self, key: &str) -> Result<f64, SpecError> {
        self.values
            .get(key)
            .copied()
            .ok_or_else(|| SpecError::UnknownKey {
                context: format!("'{}'", self.name),
                key: key.to_string(),
                valid: self.values.keys().cloned().collect::<Vec<_>>().join(", "),
            })
    }
    /// The text of a text parameter ([`Range::Text`]); another key is an error naming the
    /// text keys.
    pub fn text(&self, key: &str) -> Result<&str, SpecError> {
        self.texts
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| SpecError::UnknownKey {
                context: format!("'{}'", self.name),
                key: key.to_string(),
                valid: self.texts.keys().cloned().collect::<Vec<_>>().join(", "),
            })
    }
    /// [`Values::get`] as an integer (integer parameters are checked integral on resolve).
    pub fn usize(&self, key: &str) -> Result<usize, SpecError> {
        self.get(key).map(|v| v as usize)
    }
    /// The value of a parameter of the table these values were resolved from (every key of
    /// that table is present; a parameter of another table reads as its default).
    pub fn value(&self, p: &Param) -> f64 {
        self.values.get(p.key).copied().unwrap_or(p.default)
    }
    /// Whether `key` was given as a range.
    pub fn is_swept(&self, key: &str) -> bool {
        self.sweeps.contains_key(key)
    }
    /// A parameter's value as the spec writes it (`lo..hi` for a range).
    pub fn text_of(&self, p: &Param) -> String {
        match self.sweeps.get(p.key) {
            Some(s) => s.text(),
            None => p.show(self.value(p)),
        }
    }
    /// Canonical text form `name:k=v,...` in table order; choices by name, ranges as ranges.
    pub fn canonical(&self, table: &[Param]) -> String {
        let parts: Vec<String> = table
            .iter()
            .map(|p| match (self.sweeps.get(p.key), self.texts.get(p.key)) {
                (Some(s), _) => format!("{}={}", p.key, s.text()),
                (None, Some(t)) => format!("{}={t}", p.key),
                (None, None) => format!("{}={}", p.key, p.show(self.value(p))),
            })
            .collect();
        if parts.is_empty() {
            self.name.clone()
        } else {
            format!("{}:{}", self.name, parts.join(","))
        }
    }
}

/// The bytes of a user's input file of at most `max` bytes: a path that is not a regular file
/// (a device such as /dev/zero, a pipe, a folder) or a larger file is refused before anything
/// is read, so that a wrong path cannot fill the memory or wait forever. The error says why,
/// for the caller to put in its message.
pub fn read_file_limited(path: &std::path::Path, max: u64) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("it is not a regular file".into());
    }
    if meta.len() > max {
        return Err(format!(
            "it holds {} bytes, more than the {max} an input file of this kind may have",
            meta.len()
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)
        .and_then(|f| f.take(max + 1).read_to_end(&mut bytes))
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > max {
        return Err(format!("it grew past {max} bytes while being read"));
    }
    Ok(bytes)
}

/// Parses a number, accepting integers, decimals and exponents.
pub fn parse_number(context: &str, key: &str, value: &str) -> Result<f64, SpecError> {
    value
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| SpecError::NotANumber {
            context: context.to_string(),
            key: key.to_string(),
            value: value.to_string(),
        })
}

/// Resolves raw arguments against a table: positional values fill keys in table order,
/// unknown keys and bad numbers are errors, missing keys take defaults. Ranges are refused
/// (objective parameters take one value); see [`resolve_with_ranges`].
pub fn resolve(raw: &RawSpec, table: &[Param]) -> Result<Values, SpecError> {
    resolve_inner(raw, table, false)
}

/// As [`resolve`], but a numeric, non-integer parameter may be a range `lo..hi` (linear) or
/// `lo..hi:log` (geometric), spread over walkers (step-rule hyperparameters).
pub fn resolve_with_ranges(raw: &RawSpec, table: &[Param]) -> Result<Values, SpecError> {
    resolve_inner(raw, table, true)
}

fn resolve_inner(raw: &RawSpec, table: &[Param], allow_ranges: bool) -> Result<Values, SpecError> {
    let context = format!("'{}'", raw.name);
    let valid_keys = || {
        if table.is_empty() {
            "(none: this takes no parameters)".to_string()
        } else {
            table.iter().map(|p| p.key).collect::<Vec<_>>().join(", ")
        }
    };
    let mut values: BTreeMap<String, f64> = BTreeMap::new();
    let mut sweeps: BTreeMap<String, Sweep> = BTreeMap::new();
    let mut texts: BTreeMap<String, String> = BTreeMap::new();
    let mut next_positional = 0usize;
    for (key, value) in &raw.args {
        let param = match key {
            Some(k) => table
                .iter()
                .find(|p| p.key == k)
                .ok_or_else(|| SpecError::UnknownKey {
                    context: context.clone(),
                    key: k.clone(),
                    valid: valid_keys(),
                })?,
            None => {
                let p = table.get(next_positional).ok_or_else(|| SpecError::Spec {
                    context: context.to_string(),
                    problem: format!(
                        "too many positional values ('{value}'); keys in order: {}",
                        valid_keys()
                    ),
                })?;
                next_positional += 1;
                p
            }
        };
        if values.contains_key(param.key) {
            return Err(SpecError::Spec {
                context: context.to_string(),
                problem: format!(
                    "{} is given twice ('{}={value}' repeats it); give each key once \
                 (keys in order: {})",
                    param.key,
                    param.key,
                    valid_keys()
                ),
            });
        }
        if let Range::Choice(names) = param.range {
            let i =
                names
                    .iter()
                    .position(|n| n == value)
                    .ok_or_else(|| SpecError::UnknownChoice {
                        context: context.clone(),
                        key: param.key.to_string(),
                        value: value.clone(),
                        valid: names.join(", "),
                    })?;
            values.insert(param.key.to_string(), i as f64);
            continue;
        }
        if let Range::Text { form, .. } = param.range {
            if value.is_empty() {
                return Err(SpecError::Spec {
                    context: context.clone(),
                    problem: format!("{}= is empty; valid: {form}", param.key),
                });
            }
            values.insert(param.key.to_string(), 0.0);
            texts.insert(param.key.to_string(), value.clone());
            continue;
        }
        if value.contains("..") {
            let sweep = parse_sweep(&context, param, value, allow_ranges)?;
            values.insert(param.key.to_string(), sweep.lo);
            sweeps.insert(param.key.to_string(), sweep);
            continue;
        }
        // A number too large for f64 (`1e999`) or `inf` is a number out of range, not text.
        let v = match parse_number(&context, param.key, value) {
            Err(_) if value.trim().parse::<f64>().is_ok() => f64::INFINITY,
            other => other?,
        };
        // An integer written out is held to an integer range exactly: as an f64,
        // 9007199254740993 would round to 2^53 and pass a range ending there.
        let exact = match (&param.range, value.trim().parse::<i128>()) {
            (Range::Int(lo, hi), Ok(i)) if i < i128::from(*lo) || i > i128::from(*hi) => {
                Err(format!("valid: {}", param.range))
            }
            _ => Ok(()),
        };
        exact
            .and_then(|()| param.range.check(v))
            .map_err(|rule| SpecError::OutOfRange {
                context: context.clone(),
                key: param.key.to_string(),
                value: value.clone(),
                rule,
            })?;
        values.insert(param.key.to_string(), v);
    }
    for p in table {
        values.entry(p.key.to_string()).or_insert(p.default);
        if let Range::Text { default, .. } = p.range {
            texts
                .entry(p.key.to_string())
                .or_insert_with(|| default.to_string());
        }
    }
    Ok(Values {
        name: raw.name.clone(),
        values,
        sweeps,
        texts,
    })
}

/// Parses `lo..hi` or `lo..hi:log` for `param`, checking both ends against its valid range.
fn parse_sweep(
    context: &str,
    param: &Param,
    value: &str,
    allow_ranges: bool,
) -> Result<Sweep, SpecError> {
    let key = param.key;
    let bad = |why: String| SpecError::Spec {
        context: context.to_string(),
        problem: format!("{key}={value}: {why}"),
    };
    if !allow_ranges {
        return Err(bad(
            "ranges (lo..hi) are for step-rule hyperparameters only; an objective parameter \
             takes one value"
                .into(),
        ));
    }
    if let Range::Int(..) = param.range {
        return Err(bad(format!(
            "{key} is an integer parameter and takes one value, not a range (valid: {})",
            param.range
        )));
    }
    let (body, scale) = match value.split_once(':') {
        None => (value, Scale::Linear),
        Some((b, "log")) => (b, Scale::Log),
        Some((_, other)) => {
            return Err(bad(format!(
                "unknown range scale '{other}'; write lo..hi (linear) or lo..hi:log (geometric)"
            )))
        }
    };
    let (lo, hi) = body
        .split_once("..")
        .filter(|(lo, hi)| !lo.trim().is_empty() && !hi.trim().is_empty())
        .ok_or_else(|| {
            bad("a range needs both ends; write lo..hi or lo..hi:log, e.g. 0.001..0.1".into())
        })?;
    let lo = parse_number(context, key, lo.trim())?;
    let hi = parse_number(context, key, hi.trim())?;
    for (end, v) in [("lo", lo), ("hi", hi)] {
        param.range.check(v).map_err(|rule| {
            bad(format!(
                "{end} = {v} is out of range; both ends must be valid ({rule})"
            ))
        })?;
    }
    if lo >= hi {
        return Err(bad(format!(
            "a range needs lo < hi (got lo = {lo}, hi = {hi})"
        )));
    }
    if scale == Scale::Log && lo <= 0.0 {
        return Err(bad(format!(
            "a log range needs lo > 0 (got lo = {lo}); use a linear range lo..hi"
        )));
    }
    Ok(Sweep { lo, hi, scale })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &[Param] = &[
        Param::new("n", 2.0, Range::Int(1, 4096), "dimension"),
        Param::new("lr", 0.01, Range::Positive, "step"),
        Param::new("beta", 0.9, Range::HalfOpen(0.0, 1.0), "momentum"),
    ];

    #[test]
    fn parses_keys_positionals_and_defaults() {
        let v = resolve(&RawSpec::parse("gd:8,beta=0.5").unwrap(), TABLE).unwrap();
        assert_eq!(v.get("n"), Ok(8.0));
        assert_eq!(v.get("lr"), Ok(0.01));
        assert_eq!(v.get("beta"), Ok(0.5));
        let e = v.get("momentum").unwrap_err().to_string();
        assert!(
            e.contains("unknown key 'momentum'") && e.contains("beta, lr, n"),
            "{e}"
        );
        assert_eq!(v.canonical(TABLE), "gd:n=8,lr=0.01,beta=0.5");
    }

    #[test]
    fn rejects_bad_parts_by_name() {
        let e = resolve(&RawSpec::parse("gd:speed=3").unwrap(), TABLE).unwrap_err();
        assert!(e.to_string().contains("speed") && e.to_string().contains("lr"));
        let e = resolve(&RawSpec::parse("gd:lr=abc").unwrap(), TABLE).unwrap_err();
        assert!(matches!(e, SpecError::NotANumber { .. }));
        let e = resolve(&RawSpec::parse("gd:lr=0").unwrap(), TABLE).unwrap_err();
        assert!(e.to_string().contains("> 0"), "{e}");
        let e = resolve(&RawSpec::parse("gd:beta=1").unwrap(), TABLE).unwrap_err();
        assert!(matches!(e, SpecError::OutOfRange { .. }));
        let e = resolve(&RawSpec::parse("gd:n=2.5").unwrap(), TABLE).unwrap_err();
        assert!(e.to_string().contains("integer"));
        assert!(RawSpec::parse(":x=1").is_err());
        let e = resolve(&RawSpec::parse("gd:1,2,0.5,7").unwrap(), TABLE).unwrap_err();
        assert!(e.to_string().contains("too many"));
        // A key given twice (by name, or by position and by name) is refused, not overwritten.
        for twice in ["gd:lr=1,lr=2", "gd:2,0.1,lr=0.2", "gd:n=2,n=2"] {
            let e = resolve(&RawSpec::parse(twice).unwrap(), TABLE).unwrap_err();
            assert!(e.to_string().contains("given twice"), "{twice}: {e}");
        }
    }

    const KINDS: &[&str] = &["constant", "cosine", "step"];
    const SWEEP_TABLE: &[Param] = &[
        Param::new("n", 2.0, Range::Int(1, 4096), "an integer"),
        Param::new("lr", 0.01, Range::Positive, "step"),
        Param::new("beta", 0.9, Range::HalfOpen(0.0, 1.0), "momentum"),
        Param::new("shift", 0.0, Range::Any, "anything"),
        Param::new("schedule", 0.0, Range::Choice(KINDS), "a choice"),
    ];

    fn sweep_spec(text: &str) -> Result<Values, SpecError> {
        resolve_with_ranges(&RawSpec::parse(text).unwrap(), SWEEP_TABLE)
    }

    #[test]
    fn ranges_parse_spread_and_print_back() {
        let v = sweep_spec("x:lr=1e-4..1e-1:log,shift=-1..3,schedule=step").unwrap();
        assert_eq!(v.get("lr"), Ok(1e-4), "get() gives lo for a range");
        assert_eq!(v.get("schedule"), Ok(2.0));
        let lr = v.sweeps["lr"];
        let shift = v.sweeps["shift"];
        assert_eq!(lr.scale, Scale::Log);
        assert_eq!(shift.scale, Scale::Linear);
        // Walker k of W = 4: linear -1, 1/3, 5/3, 3; log 1e-4, 1e-3, 1e-2, 1e-1.
        for (k, want) in [-1.0, 1.0 / 3.0, 5.0 / 3.0, 3.0].iter().enumerate() {
            assert!((shift.at(k, 4) - want).abs() < 1e-15, "{k}");
        }
        for (k, want) in [1e-4, 1e-3, 1e-2, 1e-1].iter().enumerate() {
            assert!((lr.at(k, 4) / want - 1.0).abs() < 1e-14, "{k}");
        }
        assert_eq!(lr.at(0, 1), 1e-4, "one walker gets lo");
        assert_eq!(lr.at(6, 7), 1e-1, "the last walker gets hi exactly");
        let text = v.canonical(SWEEP_TABLE);
        assert_eq!(
            text,
            "x:n=2,lr=0.0001..0.1:log,beta=0.9,shift=-1..3,schedule=step"
        );
        assert_eq!(sweep_spec(&text).unwrap(), v, "canonical form round-trips");
        // A positional value may be a range too.
        assert_eq!(sweep_spec("x:4,0.1..0.2").unwrap().sweeps["lr"].hi, 0.2);
    }

    #[test]
    fn bad_ranges_and_choices_name_key_and_valid_values() {
        let msg = |t: &str| sweep_spec(t).unwrap_err().to_string();
        let e = msg("x:lr=0..0.1");
        assert!(
            e.contains("lr") && e.contains("lo = 0") && e.contains("> 0"),
            "{e}"
        );
        let e = msg("x:beta=0.5..1");
        assert!(
            e.contains("beta") && e.contains("hi = 1") && e.contains("< 1"),
            "{e}"
        );
        let e = msg("x:shift=-1..1:log");
        assert!(e.contains("shift") && e.contains("lo > 0"), "{e}");
        let e = msg("x:lr=0.2..0.1");
        assert!(e.contains("lr") && e.contains("lo < hi"), "{e}");
        let e = msg("x:lr=0.1..0.2:ln");
        assert!(e.contains("'ln'") && e.contains(":log"), "{e}");
        for half in ["x:lr=1..", "x:lr=..2", "x:lr=..", "x:lr=..:log"] {
            let e = msg(half);
            assert!(e.contains("lr=") && e.contains("both ends"), "{half}: {e}");
        }
        let e = msg("x:lr=0.1..abc");
        assert!(e.contains("abc") && e.contains("not a number"), "{e}");
        let e = msg("x:n=1..4");
        assert!(e.contains("n=1..4") && e.contains("integer"), "{e}");
        let e = msg("x:schedule=linear");
        assert!(
            e.contains("schedule") && e.contains("constant, cosine, step"),
            "{e}"
        );
        let e = msg("x:schedule=0..1");
        assert!(e.contains("constant, cosine, step"), "{e}");
        // Objective specs (plain resolve) refuse ranges.
        let e = resolve(&RawSpec::parse("x:lr=0.1..0.2").unwrap(), SWEEP_TABLE)
            .unwrap_err()
            .to_string();
        assert!(e.contains("lr=0.1..0.2") && e.contains("one value"), "{e}");
    }

    const TEXT_TABLE: &[Param] = &[
        Param::new(
            "widths",
            0.0,
            Range::Text {
                default: "2-8-1",
                form: "widths D-H-O",
            },
            "layer widths",
        ),
        Param::new("l2", 0.0, Range::NonNegative, "decay"),
        Param::new(
            "data",
            0.0,
            Range::Text {
                default: "teacher",
                form: "teacher or a file",
            },
            "data",
        ),
    ];

    #[test]
    fn text_parameters_keep_dashes_dots_and_slashes() {
        let parse = |t: &str| resolve(&RawSpec::parse(t).unwrap(), TEXT_TABLE);
        let v = parse("mlp:widths=8-16-1,data=../runs/x.y/data.npy,l2=0.5").unwrap();
        assert_eq!(v.text("widths"), Ok("8-16-1"));
        assert_eq!(v.text("data"), Ok("../runs/x.y/data.npy"));
        assert_eq!(v.get("l2"), Ok(0.5));
        let text = v.canonical(TEXT_TABLE);
        assert_eq!(text, "mlp:widths=8-16-1,l2=0.5,data=../runs/x.y/data.npy");
        assert_eq!(parse(&text).unwrap(), v, "canonical form round-trips");
        // Positional, defaults, and a path with a colon after the name's.
        let v = parse("mlp:4-4-2").unwrap();
        assert_eq!(v.text("widths"), Ok("4-4-2"));
        assert_eq!(v.text("data"), Ok("teacher"));
        assert_eq!(
            parse("mlp:data=C:/d.csv").unwrap().text("data"),
            Ok("C:/d.csv")
        );
        // A range-looking text is text, not a sweep; an empty one is an error naming the key.
        assert_eq!(parse("mlp:data=a..b").unwrap().text("data"), Ok("a..b"));
        let e = parse("mlp:widths=").unwrap_err().to_string();
        assert!(e.contains("widths=") && e.contains("D-H-O"), "{e}");
        assert!(parse("mlp:l2=x").is_err(), "numeric keys stay numeric");
        assert_eq!(TEXT_TABLE[0].show(0.0), "2-8-1");
        assert!(v.text("l2").is_err());
    }
}
