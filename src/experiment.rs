//! Experiment files: any command written as TOML and run with `saddlescope run FILE.toml`.
//!
//! The file names the command (`command = "sweep"`) and gives its options as keys named like
//! the command's long flags (`grad_tol` or `grad-tol` for `--grad-tol`). It is turned into an
//! argument vector and parsed by the same clap definitions as a typed command line, so every
//! command works without code of its own, and a key no flag has is clap's error (exit 2).
//!
//! Values: a string, integer or float becomes the flag's value; `true` becomes the bare flag
//! and `false` leaves it out; an array repeats the flag once per element (clap collects repeated
//! flags into a list: `dims = [2, 4, 8]` is `--dims 2 --dims 4 --dims 8`).
//!
//! The run folder keeps a copy of the file (`experiment.toml`), and manifest.json records the
//! equivalent command line (`"argv"`), so a run can be repeated exactly (`run::complete`).

use std::path::{Path, PathBuf};

use crate::spec::SpecError;

/// An experiment file read and turned into a command line.
#[derive(Debug, Clone)]
pub struct Experiment {
    pub path: PathBuf,
    /// The file's text, copied into the run folder.
    pub text: String,
    /// The equivalent command line, starting with "saddlescope".
    pub argv: Vec<String>,
}

fn bad(path: &Path, what: impl std::fmt::Display) -> SpecError {
    SpecError::Invalid(format!("experiment file {}: {what}", path.display()))
}

/// Reads `path` and builds its command line. Problems with the file itself (unreadable, not
/// TOML, no `command`, a value of a kind no flag takes) are usage errors naming the file and
/// the key; unknown keys are left for clap to reject.
pub fn load(path: &Path) -> Result<Experiment, SpecError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| bad(path, format!("cannot read ({e})")))?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| bad(path, e))?;
    let argv = to_argv(&table).map_err(|e| bad(path, e))?;
    Ok(Experiment {
        path: path.to_path_buf(),
        text,
        argv,
    })
}

/// The command line of a parsed experiment table (see the module docs for the rules).
pub fn to_argv(table: &toml::Table) -> Result<Vec<String>, String> {
    let command = match table.get("command") {
        Some(toml::Value::String(c)) => c.clone(),
        Some(other) => {
            return Err(format!(
                "'command' must be a string naming the command (e.g. \"sweep\"), not {}",
                other.type_str()
            ))
        }
        None => {
            return Err(
                "no 'command' key; start the file with e.g. command = \"sweep\" (valid: the \
                 commands of `saddlescope --help` that make a run folder)"
                    .into(),
            )
        }
    };
    if command == "run" {
        return Err("command = \"run\": an experiment file cannot run another one".into());
    }
    let mut argv = vec!["saddlescope".to_string(), command];
    for (key, value) in table.iter().filter(|(k, _)| k.as_str() != "command") {
        let flag = format!("--{}", key.replace('_', "-"));
        let scalar = |v: &toml::Value| -> Result<Option<String>, String> {
            match v {
                toml::Value::String(s) => Ok(Some(s.clone())),
                toml::Value::Integer(i) => Ok(Some(i.to_string())),
                toml::Value::Float(f) => Ok(Some(format!("{f:?}"))),
                toml::Value::Boolean(_) => Ok(None),
                other => Err(format!(
                    "key '{key}' holds a {}; valid: a string, number, boolean or array of them",
                    other.type_str()
                )),
            }
        };
        match value {
            toml::Value::Boolean(true) => argv.push(flag),
            toml::Value::Boolean(false) => {}
            toml::Value::Array(items) => {
                for item in items {
                    match scalar(item)? {
                        Some(v) => {
                            argv.push(flag.clone());
                            argv.push(v);
                        }
                        None => {
                            return Err(format!(
                                "key '{key}': an array of booleans is not a flag value"
                            ))
                        }
                    }
                }
            }
            v => {
                if let Some(s) = scalar(v)? {
                    argv.push(flag);
                    argv.push(s);
                }
            }
        }
    }
    Ok(argv)
}

/// A command line as one shell-ready string (for messages and docs).
pub fn shell_line(argv: &[String]) -> String {
    argv.iter()
        .map(|a| shell_word(a))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One word for a POSIX shell: as it is when every character is one a shell leaves alone,
/// else in single quotes (a quote inside as `'\''`), so the shell hands the program exactly
/// `word`, spaces, newlines, `$` and quotes included.
pub fn shell_word(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.,:=/+".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(text: &str) -> Result<Vec<String>, String> {
        to_argv(&toml::from_str(text).unwrap())
    }

    #[test]
    fn keys_become_flags() {
        let a = argv(
            r#"
command = "sweep"
objective = "field:features=64,mu=0.05"
dims = [2, 4, 8]
grad_tol = 1e-4
walkers = 256
no_critical = true
quiet = false
optimizers = ["gd", "sgd:noise=0.1"]
"#,
        )
        .unwrap();
        let line = a.join(" ");
        assert!(line.starts_with("saddlescope sweep "), "{line}");
        assert!(line.contains("--dims 2 --dims 4 --dims 8"), "{line}");
        assert!(line.contains("--grad-tol 0.0001"), "{line}");
        assert!(
            line.contains("--objective field:features=64,mu=0.05"),
            "{line}"
        );
        assert!(line.contains("--walkers 256") && line.contains("--no-critical"));
        assert!(!line.contains("quiet"));
        assert!(line.contains("--optimizers gd --optimizers sgd:noise=0.1"));
    }

    #[test]
    fn malformed_files_name_the_problem() {
        assert!(argv("walkers = 3").unwrap_err().contains("no 'command'"));
        assert!(argv("command = 3")
            .unwrap_err()
            .contains("must be a string"));
        assert!(argv("command = \"run\"")
            .unwrap_err()
            .contains("cannot run"));
        let e = argv("command = \"sample\"\n[init]\nkind = 1").unwrap_err();
        assert!(e.contains("'init'") && e.contains("table"), "{e}");
        let path =
            std::env::temp_dir().join(format!("saddlescope-exp-{}.toml", std::process::id()));
        std::fs::write(&path, "command = \"sample\"\nwalkers = [1, \n").unwrap();
        let e = load(&path).unwrap_err().to_string();
        assert!(e.contains(&path.display().to_string()), "{e}");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn shell_line_quotes_what_needs_it() {
        let a: Vec<String> = [
            "saddlescope",
            "sample",
            "--init",
            "point:x=1;2",
            "--out",
            "a b",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            shell_line(&a),
            "saddlescope sample --init 'point:x=1;2' --out 'a b'"
        );
    }
}
