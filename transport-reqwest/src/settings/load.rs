//! Loading settings from YAML and TOML files and `TOKENKEEPER_CLIENT__...` variables, later
//! sources overriding earlier ones key by key.
//!
//! Every source is read into one tree (only its `client:` section: the rest of a larger client
//! configuration is not tokenkeeper's), variables are laid over it by the key table, and the
//! tree is then read into [`Settings`] once, so that a refused value is reported the same way
//! whatever it came from: the key's path, the variable it came from, and the value.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};
use zeroize::{Zeroize, Zeroizing};

use super::error::SettingsError;
use super::keys::{self, ENV_PREFIX};
use super::schema::Settings;

/// The prefix of the variables that set keys; any other name with it is a typo.
const KEY_VARIABLE_PREFIX: &str = "TOKENKEEPER_CLIENT__";

/// Reads settings from several sources, each overriding the ones before it key by key; then
/// [`load`](Loader::load) checks them.
///
/// ```no_run
/// use tokenkeeper_reqwest::settings::Loader;
///
/// let settings = Loader::new()
///     .file("/etc/myapp/client.yaml")?   // the seed's `client:` section, and more
///     .process_env()?                     // TOKENKEEPER_CLIENT__... override it
///     .load()?;
/// # Ok::<(), tokenkeeper_reqwest::settings::SettingsError>(())
/// ```
#[derive(Default)]
pub struct Loader {
    /// `{"client": {...}}`.
    tree: Map<String, Value>,
    /// Keys set by a variable, and the variable.
    from_env: BTreeMap<String, String>,
}

impl std::fmt::Debug for Loader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The tree may hold a plaintext secret: show only where values came from.
        f.debug_struct("Loader")
            .field("from_env", &self.from_env)
            .finish_non_exhaustive()
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        for v in self.tree.values_mut() {
            wipe(v);
        }
    }
}

/// The top of a file: only `client:` is read; other sections belong to the application.
#[derive(Deserialize)]
struct Top {
    #[serde(default)]
    client: Option<Value>,
}

impl Loader {
    /// No sources yet (loading it gives the defaults).
    pub fn new() -> Self {
        Loader::default()
    }

    /// Adds YAML text.
    pub fn yaml(self, text: &str) -> Result<Self, SettingsError> {
        self.add_yaml(text, "the YAML text")
    }

    /// Adds TOML text.
    pub fn toml(self, text: &str) -> Result<Self, SettingsError> {
        self.add_toml(text, "the TOML text")
    }

    /// Adds a file: TOML if its name ends in `.toml`, YAML if in `.yaml` or `.yml`.
    pub fn file(self, path: impl AsRef<Path>) -> Result<Self, SettingsError> {
        let path = path.as_ref();
        let read = || {
            std::fs::read_to_string(path)
                .map(Zeroizing::new)
                .map_err(|source| SettingsError::Read {
                    path: path.to_owned(),
                    source,
                })
        };
        let origin = path.display().to_string();
        match path.extension().and_then(|e| e.to_str()) {
            Some("toml") => self.add_toml(&read()?, &origin),
            Some("yaml" | "yml") => self.add_yaml(&read()?, &origin),
            _ => Err(SettingsError::Invalid {
                path: origin,
                env: None,
                message: "is neither .yaml, .yml nor .toml: cannot tell its format".to_owned(),
            }),
        }
    }

    /// Lays these variables over the settings: each `TOKENKEEPER_CLIENT__...` variable sets the
    /// key it names (`TOKENKEEPER_CLIENT__TOKEN_REFRESH__BUFFER_MINUTES` sets
    /// `client.token_refresh.buffer_minutes`; lists are comma-separated). A variable with that
    /// prefix that names no key is refused; other variables are ignored.
    pub fn env<I, K, V>(mut self, vars: I) -> Result<Self, SettingsError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut vars: Vec<(K, V)> = vars.into_iter().collect();
        vars.sort_by(|a, b| a.0.as_ref().cmp(b.0.as_ref()));
        for (name, text) in vars {
            let name = name.as_ref();
            if !name.starts_with(KEY_VARIABLE_PREFIX) {
                continue;
            }
            let key = keys::by_env(name).ok_or_else(|| SettingsError::UnknownVariable {
                name: name.to_owned(),
            })?;
            let parts: Vec<&str> = key.path.split('.').collect();
            set(&mut self.tree, &parts, key.parse_env(text.as_ref()));
            self.from_env.insert(key.path.to_owned(), name.to_owned());
        }
        Ok(self)
    }

    /// [`env`](Self::env) with the process's environment.
    pub fn process_env(self) -> Result<Self, SettingsError> {
        let mut vars = Vec::new();
        for (name, value) in std::env::vars_os() {
            let Some(name) = name.to_str().filter(|n| n.starts_with(ENV_PREFIX)) else {
                continue;
            };
            if !name.starts_with(KEY_VARIABLE_PREFIX) {
                continue;
            }
            let value = value.into_string().map_err(|_| SettingsError::Invalid {
                path: keys::by_env(name).map_or(name, |k| k.path).to_owned(),
                env: Some(name.to_owned()),
                message: "is not valid UTF-8".to_owned(),
            })?;
            vars.push((name.to_owned(), value));
        }
        self.env(vars)
    }

    /// Reads the sources into [`Settings`] and checks them ([`Settings::check`]): a refused
    /// value names its key, the variable it came from, and the value (never a secret's).
    pub fn load(mut self) -> Result<Settings, SettingsError> {
        let tree = Value::Object(std::mem::take(&mut self.tree));
        let settings: Settings = serde_path_to_error::deserialize(tree).map_err(|e| {
            let path = e.path().to_string();
            self.annotate(SettingsError::Invalid {
                path: if path == "." {
                    "client".to_owned()
                } else {
                    path
                },
                env: None,
                message: e.into_inner().to_string(),
            })
        })?;
        settings.check().map_err(|e| self.annotate(e))?;
        for key in settings.plaintext_secrets() {
            tracing::warn!(
                key,
                "tokenkeeper: a secret is written in the configuration in plain text \
                 (allow_plaintext_secrets); name an environment variable or a file instead"
            );
        }
        Ok(settings)
    }

    /// Names the variable a refused key came from.
    fn annotate(&self, e: SettingsError) -> SettingsError {
        match e {
            SettingsError::Invalid {
                path,
                env: None,
                message,
            } => {
                let env = self
                    .from_env
                    .iter()
                    .find(|(p, _)| {
                        path == **p
                            || path
                                .strip_prefix(p.as_str())
                                .is_some_and(|rest| rest.starts_with('['))
                    })
                    .map(|(_, var)| var.clone());
                SettingsError::Invalid { path, env, message }
            }
            other => other,
        }
    }

    fn add_yaml(mut self, text: &str, origin: &str) -> Result<Self, SettingsError> {
        if text.trim().is_empty() {
            return Ok(self);
        }
        let top: Top = serde_saphyr::from_str(text).map_err(|e| {
            let at = e.location();
            let plain = e.render_with_options(serde_saphyr::render_options! {
                snippets: serde_saphyr::SnippetMode::Off,
            });
            SettingsError::Syntax {
                format: "YAML",
                origin: origin.to_owned(),
                line: at.map(|l| l.line() as usize),
                column: at.map(|l| l.column() as usize),
                message: plain,
            }
        })?;
        self.merge(top);
        Ok(self)
    }

    fn add_toml(mut self, text: &str, origin: &str) -> Result<Self, SettingsError> {
        let top: Top = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map_or((None, None), |span| {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                (Some(line), Some(column))
            });
            SettingsError::Syntax {
                format: "TOML",
                origin: origin.to_owned(),
                line,
                column,
                message: e.message().trim().to_owned(),
            }
        })?;
        self.merge(top);
        Ok(self)
    }

    fn merge(&mut self, top: Top) {
        if let Some(client) = top.client {
            let mut layer = Map::new();
            layer.insert("client".to_owned(), client);
            merge(&mut self.tree, layer);
        }
    }
}

/// Lays `layer` over `tree`: maps merge key by key, anything else replaces.
fn merge(tree: &mut Map<String, Value>, layer: Map<String, Value>) {
    for (k, v) in layer {
        match (tree.get_mut(&k), v) {
            (Some(Value::Object(old)), Value::Object(new)) => merge(old, new),
            (_, v) => {
                if let Some(mut old) = tree.insert(k, v) {
                    wipe(&mut old);
                }
            }
        }
    }
}

/// Sets the value at `path`, making the maps on the way (replacing a non-map there).
fn set(tree: &mut Map<String, Value>, path: &[&str], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = tree;
    for p in parents {
        let slot = node
            .entry((*p).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        let Value::Object(next) = slot else {
            unreachable!("made a map just above")
        };
        node = next;
    }
    if let Some(mut old) = node.insert((*last).to_owned(), value) {
        wipe(&mut old);
    }
}

/// Wipes every string in a value (a plaintext secret may be among them).
fn wipe(v: &mut Value) {
    match v {
        Value::String(s) => s.zeroize(),
        Value::Array(items) => items.iter_mut().for_each(wipe),
        Value::Object(map) => map.values_mut().for_each(wipe),
        _ => {}
    }
}
