//! [`StoreError`]: why a token store could not load, save or lock. Never carries a token.

use std::io;

/// A token store's failure. The keeper never fails a request for one: it carries on alone
/// and counts it ([`StoreMetrics`](crate::store::StoreMetrics)). Messages never contain a
/// token, a password or a store URL's credentials.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file operation failed (permissions, a full disk, a missing directory).
    #[error("token store: cannot {op} {path}: {source}")]
    Io {
        /// What was being done (`read`, `write`, `rename`, `lock`...).
        op: &'static str,
        /// The file.
        path: String,
        /// The system's error.
        #[source]
        source: io::Error,
    },
    /// What is stored is not a token set this library wrote (edited by hand, truncated, or
    /// written by another program): it is ignored until the next save replaces it.
    #[error("token store: what is stored is not a token set ({reason}); it is ignored")]
    Corrupt {
        /// Where reading stopped (never a part of the content).
        reason: String,
    },
    /// The store's server could not be reached or did not answer in time; the keeper carries
    /// on alone and reconnects later.
    #[error("token store: {store} unavailable during {op} ({reason}); carrying on without it")]
    Unavailable {
        /// Which store (`redis`).
        store: &'static str,
        /// What was being done.
        op: &'static str,
        /// The kind of failure (connection refused, timeout...), without the server's address
        /// or credentials.
        reason: String,
    },
    /// The store was set up wrongly: fix the setting named.
    #[error("token store: {field}: {reason}")]
    Config {
        /// The setting.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

impl StoreError {
    /// A [`StoreError::Corrupt`] for a JSON error, naming only its category and position
    /// (serde_json's messages may quote the content).
    pub(crate) fn corrupt_json(e: &serde_json::Error) -> Self {
        let what = match e.classify() {
            serde_json::error::Category::Io => "unreadable",
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Data => "not a token set",
            serde_json::error::Category::Eof => "truncated",
        };
        StoreError::Corrupt {
            reason: format!("{what} at line {} column {}", e.line(), e.column()),
        }
    }
}
