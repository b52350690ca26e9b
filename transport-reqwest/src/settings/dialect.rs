//! From the `auth:` section to the engine's `Dialect` and the origins that may receive the
//! token.

use tokenkeeper_core::dialect::{ClientAuth, Dialect};
use tokenkeeper_core::{ConfigError, Secret};

use super::convert::at;
use super::error::SettingsError;
use super::schema::{ClientAuthSetting, DialectSetting, Settings};

impl Settings {
    /// The dialect, with `client_secret` for OAuth 2.0 client authentication. `None` when the
    /// `auth:` section is empty. `lenient` skips the checks that depend on whether a secret
    /// turns up (made before secrets are read).
    pub(crate) fn build_dialect(
        &self,
        client_secret: Option<Secret>,
        lenient: bool,
    ) -> Result<Option<Dialect>, SettingsError> {
        let a = &self.client.auth;
        let kind = a.dialect.unwrap_or(DialectSetting::Vitalgraph);
        let not_for = |set: bool, key: &str, why: &str| {
            if set {
                Err(SettingsError::invalid(
                    &format!("client.auth.{key}"),
                    None,
                    why.to_owned(),
                ))
            } else {
                Ok(())
            }
        };
        let dialect = match kind {
            DialectSetting::Vitalgraph => {
                let why =
                    "is not used by the vitalgraph dialect (set client.auth.dialect for OAuth 2.0)";
                not_for(a.token_url.is_some(), "token_url", why)?;
                not_for(a.client_id.is_some(), "client_id", why)?;
                not_for(a.client_auth.is_some(), "client_auth", why)?;
                not_for(a.scope.is_some(), "scope", why)?;
                let Some(base) = &a.base_url else {
                    if a.dialect.is_none() && a.token_expiry_seconds.is_none() {
                        return Ok(None);
                    }
                    return Err(SettingsError::invalid(
                        "client.auth.base_url",
                        None,
                        "is missing: the vitalgraph dialect needs the server's URL".to_owned(),
                    ));
                };
                no_userinfo("client.auth.base_url", base)?;
                let built = match a.token_expiry_seconds {
                    None => Dialect::vitalgraph(base),
                    Some(s) => {
                        let s = u64::try_from(s)
                            .ok()
                            .filter(|s| (1..=1800).contains(s))
                            .ok_or_else(|| {
                                SettingsError::invalid(
                                    "client.auth.token_expiry_seconds",
                                    Some(s.to_string()),
                                    "is not within 1..=1800".to_owned(),
                                )
                            })?;
                        Dialect::vitalgraph_with_expiry(base, s)
                    }
                };
                built.map_err(|e| at("client.auth.base_url", &e))?
            }
            DialectSetting::Oauth2Password | DialectSetting::Oauth2ClientCredentials => {
                not_for(
                    a.token_expiry_seconds.is_some(),
                    "token_expiry_seconds",
                    "is only for the vitalgraph dialect",
                )?;
                let url = a.token_url.as_deref().ok_or_else(|| {
                    SettingsError::invalid(
                        "client.auth.token_url",
                        None,
                        "is missing: OAuth 2.0 dialects need the token endpoint".to_owned(),
                    )
                })?;
                no_userinfo("client.auth.token_url", url)?;
                let client =
                    client_auth(a.client_id.clone(), client_secret, a.client_auth, lenient)?;
                if kind == DialectSetting::Oauth2ClientCredentials
                    && matches!(client, ClientAuth::None)
                {
                    return Err(SettingsError::invalid(
                        "client.auth.client_id",
                        None,
                        "is missing: the client credentials grant needs one".to_owned(),
                    ));
                }
                let built = if kind == DialectSetting::Oauth2Password {
                    Dialect::oauth2_password(url, client, a.scope.as_deref())
                } else {
                    Dialect::oauth2_client_credentials(url, client, a.scope.as_deref())
                };
                built.map_err(|e| at("client.auth.token_url", &e))?
            }
        };
        let url_key = if kind == DialectSetting::Vitalgraph {
            "client.auth.base_url"
        } else {
            "client.auth.token_url"
        };
        let insecure = self.client.auth.allow_insecure_http.unwrap_or(false);
        dialect.validate(insecure).map_err(|e| match e {
            ConfigError::InvalidHeaderValue { .. } | ConfigError::Invalid { .. } => {
                at("client.auth.client_id", &e)
            }
            other => at(url_key, &other),
        })?;
        Ok(Some(dialect))
    }

    /// The origins that may receive the token besides the dialect's: `allowed_origins`, and
    /// for OAuth 2.0 dialects the origin of `base_url`. Each is an absolute http(s) URL.
    pub(crate) fn origins(&self) -> Result<Vec<String>, SettingsError> {
        let a = &self.client.auth;
        let oauth = a.dialect.is_some_and(|d| d != DialectSetting::Vitalgraph);
        let mut out = Vec::new();
        if oauth && let Some(base) = &a.base_url {
            out.push(origin_of("client.auth.base_url", base)?);
        }
        for o in a.allowed_origins.iter().flatten() {
            out.push(origin_of("client.auth.allowed_origins", o)?);
        }
        Ok(out)
    }
}

/// Refuses a URL with `user:password@` without repeating it (the password would be in it).
fn no_userinfo(path: &str, url: &str) -> Result<(), SettingsError> {
    match reqwest::Url::parse(url.trim()) {
        Ok(u) if !u.username().is_empty() || u.password().is_some() => Err(SettingsError::invalid(
            path,
            None,
            "holds user:password@ (its value is not shown): credentials go in client.credentials"
                .to_owned(),
        )),
        _ => Ok(()),
    }
}

/// `scheme://host[:port]` of an absolute http(s) URL.
fn origin_of(path: &str, url: &str) -> Result<String, SettingsError> {
    no_userinfo(path, url)?;
    let parsed = reqwest::Url::parse(url.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
    parsed
        .map(|u| u.origin().ascii_serialization())
        .ok_or_else(|| {
            SettingsError::invalid(
                path,
                Some(format!("{url:?}")),
                "is not an absolute http(s) URL".to_owned(),
            )
        })
}

fn client_auth(
    id: Option<String>,
    secret: Option<Secret>,
    mode: Option<ClientAuthSetting>,
    lenient: bool,
) -> Result<ClientAuth, SettingsError> {
    Ok(match (id, secret, mode) {
        (None, _, None) => ClientAuth::None,
        (None, _, Some(_)) => {
            return Err(SettingsError::invalid(
                "client.auth.client_auth",
                None,
                "needs client.auth.client_id".to_owned(),
            ));
        }
        (Some(client_id), Some(client_secret), None | Some(ClientAuthSetting::Basic)) => {
            ClientAuth::Basic {
                client_id,
                client_secret,
            }
        }
        (Some(client_id), None, Some(ClientAuthSetting::Basic)) if !lenient => {
            let _ = client_id;
            return Err(SettingsError::invalid(
                "client.auth.client_auth",
                Some("basic".to_owned()),
                "needs a client secret (client.credentials.client_secret_env or client_secret_file)".to_owned(),
            ));
        }
        (Some(client_id), client_secret, _) => ClientAuth::Body {
            client_id,
            client_secret,
        },
    })
}
