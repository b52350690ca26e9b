//! The one error of the settings surface.

use std::fmt;
use std::path::PathBuf;

/// Why settings could not be loaded or used. Every message names the key (its path, such as
/// `client.token_refresh.buffer_minutes`, and the environment variable it came from, if any)
/// and the refused value, except for secrets, whose values never appear.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid YAML or TOML (the message quotes no part of the file).
    #[error("{origin} is not valid {format}{at}: {message}", at = Position(*line, *column))]
    Syntax {
        /// `YAML` or `TOML`.
        format: &'static str,
        /// The file, or `the text` for a string.
        origin: String,
        /// 1-based line, if known.
        line: Option<usize>,
        /// 1-based column, if known.
        column: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// A key is refused: unknown, of the wrong type, out of range, or inconsistent with
    /// another.
    #[error("{path}{from}: {message}", from = FromVar(env.as_deref()))]
    Invalid {
        /// The key (`client.token_refresh.buffer_minutes`), or the section an unknown key is in.
        path: String,
        /// The environment variable the value came from, if it came from one.
        env: Option<String>,
        /// What is wrong, with the refused value unless it is a secret.
        message: String,
    },
    /// An environment variable starts with `TOKENKEEPER_CLIENT__` but names no key (a typo).
    #[error("{name} names no setting (see docs/CONFIG.md for the variables)")]
    UnknownVariable {
        /// The variable.
        name: String,
    },
}

impl SettingsError {
    /// `path: value message` (or `path: message` without a value).
    pub(crate) fn invalid(path: &str, value: Option<String>, message: String) -> Self {
        SettingsError::Invalid {
            path: path.to_owned(),
            env: None,
            message: match value {
                Some(v) => format!("{v} {message}"),
                None => message,
            },
        }
    }

    /// The key the error is about, if it is about one.
    pub fn path(&self) -> Option<&str> {
        match self {
            SettingsError::Invalid { path, .. } => Some(path),
            _ => None,
        }
    }
}

struct Position(Option<usize>, Option<usize>);

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0, self.1) {
            (Some(l), Some(c)) => write!(f, " at line {l}, column {c}"),
            (Some(l), None) => write!(f, " at line {l}"),
            _ => Ok(()),
        }
    }
}

struct FromVar<'a>(Option<&'a str>);

impl fmt::Display for FromVar<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(var) => write!(f, " (from {var})"),
            None => Ok(()),
        }
    }
}
