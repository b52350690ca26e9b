//! Secrets in settings: where they come from (an environment variable, a file, or, when the
//! user insists, the configuration itself), and how they are read without ever appearing in
//! an error message.

use std::fmt;
use std::path::Path;

use serde::de::{self, Deserializer, Visitor};
use serde::ser::Serializer;
use tokenkeeper_core::Secret;
use zeroize::Zeroizing;

use super::error::SettingsError;

/// The default environment variable for the password (the doctor reads it too).
pub(crate) const PASSWORD_ENV: &str = "TOKENKEEPER_PASSWORD";

/// The default environment variable for the OAuth 2.0 client secret.
pub(crate) const CLIENT_SECRET_ENV: &str = "TOKENKEEPER_CLIENT_SECRET";

/// Reads a plaintext secret: a string, or nothing. Any other value is refused with a message
/// that does not repeat it (an unquoted `password: 0123` would otherwise be echoed, and read
/// as a number).
pub(crate) fn deserialize_plain<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Secret>, D::Error> {
    d.deserialize_option(OptionalSecret)
}

/// Writes a secret as `[redacted]` (an effective configuration can be printed safely).
#[allow(clippy::ref_option)] // serde's `serialize_with` passes `&Option<T>`
pub(crate) fn serialize_redacted<S: Serializer>(
    v: &Option<Secret>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => s.serialize_str("[redacted]"),
        None => s.serialize_none(),
    }
}

struct OptionalSecret;

impl<'de> Visitor<'de> for OptionalSecret {
    type Value = Option<Secret>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a quoted string")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        // `any`, not `str`: a deserializer asked for a string would itself refuse a number
        // with a message that repeats it.
        d.deserialize_any(PlainSecret)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Secret::new(v)))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        let v = Zeroizing::new(v);
        Ok(Some(Secret::new(v.as_str())))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Err(not_a_string())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Err(not_a_string())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Err(not_a_string())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Err(not_a_string())
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(not_a_string())
    }

    fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(not_a_string())
    }
}

struct PlainSecret;

impl<'de> Visitor<'de> for PlainSecret {
    type Value = Option<Secret>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a quoted string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        OptionalSecret.visit_str(v)
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        OptionalSecret.visit_string(v)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Err(not_a_string())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Err(not_a_string())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Err(not_a_string())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Err(not_a_string())
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(not_a_string())
    }

    fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(not_a_string())
    }
}

fn not_a_string<E: de::Error>() -> E {
    E::custom("a secret must be a quoted string (its value is not shown)")
}

/// Where one secret comes from, as the settings say.
pub(crate) struct Source<'a> {
    /// The settings path of the plaintext key (`client.credentials.password`).
    pub(crate) plain_path: &'static str,
    pub(crate) plain: Option<&'a Secret>,
    pub(crate) env_path: &'static str,
    pub(crate) env: Option<&'a str>,
    pub(crate) default_env: &'static str,
    pub(crate) file_path: &'static str,
    pub(crate) file: Option<&'a Path>,
    pub(crate) allow_plain: bool,
}

impl Source<'_> {
    /// Checks the sources without reading them: at most one is named, and a plaintext secret
    /// only with `allow_plaintext_secrets`. Returns whether a plaintext secret is used.
    pub(crate) fn check(&self) -> Result<bool, SettingsError> {
        let named: Vec<&str> = [
            (self.plain.is_some(), self.plain_path),
            (self.env.is_some(), self.env_path),
            (self.file.is_some(), self.file_path),
        ]
        .into_iter()
        .filter_map(|(set, path)| set.then_some(path))
        .collect();
        if named.len() > 1 {
            return Err(SettingsError::invalid(
                named[0],
                None,
                format!("set only one of {}", named.join(", ")),
            ));
        }
        if self.plain.is_some() && !self.allow_plain {
            return Err(SettingsError::invalid(
                self.plain_path,
                None,
                "a secret written in the configuration is refused (its value is not shown): \
                 name an environment variable or a file instead, or set \
                 client.credentials.allow_plaintext_secrets: true"
                    .to_owned(),
            ));
        }
        Ok(self.plain.is_some())
    }

    /// Reads the secret: from the file, the named variable, the plaintext value, or the
    /// default variable if it is set. A named variable or file that cannot be read is an
    /// error naming it (never its content).
    pub(crate) fn read(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Secret>, SettingsError> {
        self.check()?;
        if let Some(p) = self.plain {
            return Ok(Some(p.clone()));
        }
        if let Some(file) = self.file {
            let text = std::fs::read_to_string(file).map_err(|e| {
                SettingsError::invalid(
                    self.file_path,
                    Some(file.display().to_string()),
                    format!("cannot be read: {e}"),
                )
            })?;
            let text = Zeroizing::new(text);
            let value = text
                .strip_suffix('\n')
                .map_or(text.as_str(), |t| t.strip_suffix('\r').unwrap_or(t));
            return Ok(Some(Secret::new(value)));
        }
        if let Some(var) = self.env {
            return match env(var) {
                Some(v) => Ok(Some(Secret::from(v))),
                None => Err(SettingsError::invalid(
                    self.env_path,
                    Some(var.to_owned()),
                    "names an environment variable that is not set".to_owned(),
                )),
            };
        }
        Ok(env(self.default_env).map(Secret::from))
    }
}
