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
    #[error("{context}: {key}={value} is out of range; {rule}")]
    OutOfRange {
        context: String,
        key: String,
        value: String,
        rule: String,
    },
    #[error("{0}")]
    Invalid(String),
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

/// Resolved numeric parameters, every key of the table present.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Values {
    pub name: String,
    pub values: BTreeMap<String, f64>,
}

impl Values {
    pub fn get(&self, key: &str) -> f64 {
        // Keys come from the same static table that resolved them; a miss is a programming error.
        self.values.get(key).copied().unwrap_or(f64::NAN)
    }
    pub fn usize(&self, key: &str) -> usize {
        self.get(key) as usize
    }
    /// Canonical text form `name:k=v,...` in table order.
    pub fn canonical(&self, table: &[Param]) -> String {
        let parts: Vec<String> = table
            .iter()
            .map(|p| format!("{}={}", p.key, self.get(p.key)))
            .collect();
        if parts.is_empty() {
            self.name.clone()
        } else {
            format!("{}:{}", self.name, parts.join(","))
        }
    }
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
/// unknown keys and bad numbers are errors, missing keys take defaults.
pub fn resolve(raw: &RawSpec, table: &[Param]) -> Result<Values, SpecError> {
    let context = format!("'{}'", raw.name);
    let valid_keys = || {
        if table.is_empty() {
            "(none: this takes no parameters)".to_string()
        } else {
            table.iter().map(|p| p.key).collect::<Vec<_>>().join(", ")
        }
    };
    let mut values: BTreeMap<String, f64> = BTreeMap::new();
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
                let p = table.get(next_positional).ok_or_else(|| {
                    SpecError::Invalid(format!(
                        "{context}: too many positional values ('{value}'); keys in order: {}",
                        valid_keys()
                    ))
                })?;
                next_positional += 1;
                p
            }
        };
        let v = parse_number(&context, param.key, value)?;
        param.range.check(v).map_err(|rule| SpecError::OutOfRange {
            context: context.clone(),
            key: param.key.to_string(),
            value: value.clone(),
            rule,
        })?;
        values.insert(param.key.to_string(), v);
    }
    for p in table {
        values.entry(p.key.to_string()).or_insert(p.default);
    }
    Ok(Values {
        name: raw.name.clone(),
        values,
    })
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
        assert_eq!(v.get("n"), 8.0);
        assert_eq!(v.get("lr"), 0.01);
        assert_eq!(v.get("beta"), 0.5);
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
    }
}
