//! Dialects as data (see "Dialects" in `core/README.md`): where to log in and refresh, how the body is encoded, which
//! field carries what, and how the client authenticates. The built-in dialects (VitalGraph,
//! OAuth 2.0 password and client-credentials grants) are plain values; a custom one is built
//! from the same parts.
//!
//! A dialect turns credentials or a refresh token into a complete [`AuthHttpRequest`]; it
//! never sends anything. `Debug` never prints a password, client secret or token.

use http::{HeaderName, HeaderValue};

use crate::error::ConfigError;
use crate::secret::Secret;

mod request;
mod url;

pub use request::AuthHttpRequest;
use request::{build, ready};
pub use url::EndpointUrl;
use url::validate_endpoint;

/// How a request body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/x-www-form-urlencoded` (OAuth 2.0 token endpoints, VitalGraph login).
    Form,
    /// `application/json`: an object whose values are all strings (VitalGraph refresh).
    Json,
}

/// How the client authenticates itself to the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAuth {
    /// No client authentication (public clients, VitalGraph).
    None,
    /// HTTP Basic: `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))`.
    Basic {
        /// The client id.
        client_id: String,
        /// The client secret.
        client_secret: Secret,
    },
    /// `client_id` (and `client_secret`, if any) as body fields.
    Body {
        /// The client id.
        client_id: String,
        /// The client secret; `None` for a public client that only identifies itself.
        client_secret: Option<Secret>,
    },
}

/// Where a body field's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// A fixed value (`grant_type=password`). Printed by `Debug`: never put a secret here.
    Literal(String),
    /// The username from [`Credentials`]; required (no request without it).
    Username,
    /// The password from [`Credentials`]; required.
    Password,
    /// The refresh token; required (only a refresh request has one).
    RefreshToken,
    /// The dialect's [`scope`](Dialect::scope); the field is left out when there is none.
    Scope,
}

/// One auth endpoint (login or refresh): URL, body, client authentication and extra headers.
/// The request is always a `POST` with `Accept: application/json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Absolute `https` URL (`http` only for loopback hosts unless allowed; see
    /// [`Dialect::validate`]).
    pub url: EndpointUrl,
    /// How the body is encoded.
    pub encoding: Encoding,
    /// The body fields in order: name and where the value comes from. Client authentication
    /// in the body ([`ClientAuth::Body`]) is appended after them.
    pub fields: Vec<(String, Field)>,
    /// Send the refresh token as `Authorization: Bearer <refresh token>` (VitalGraph). Cannot be
    /// combined with [`ClientAuth::Basic`].
    pub refresh_token_as_bearer: bool,
    /// How the client authenticates itself.
    pub client_auth: ClientAuth,
    /// Extra headers; they replace the defaults of the same name (`Accept`, `Content-Type`).
    /// Mark secret values sensitive so `Debug` hides them.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// A wire format: the login and refresh endpoints, and the scope to ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialect {
    /// A name for logs and diagnostics (`vitalgraph`, `oauth2-password`, ...).
    pub name: String,
    /// How to obtain tokens with credentials; `None` when tokens only come from outside.
    pub login: Option<Endpoint>,
    /// How to renew the access token with the refresh token; `None` when the server has no
    /// refresh (the session re-authenticates instead).
    pub refresh: Option<Endpoint>,
    /// The scope to request ([`Field::Scope`]), space-separated.
    pub scope: Option<String>,
}

/// What the user logs in with. `Debug` shows the username and redacts the password.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// The username, if any.
    pub username: Option<String>,
    /// The password, if any.
    pub password: Option<Secret>,
}

impl Credentials {
    /// A username and password.
    pub fn password(username: impl Into<String>, password: impl Into<Secret>) -> Self {
        Credentials {
            username: Some(username.into()),
            password: Some(password.into()),
        }
    }

    /// No credentials (client-credentials grant, or tokens supplied from outside).
    pub fn none() -> Self {
        Credentials::default()
    }
}

/// The largest `token_expiry_seconds` VitalGraph accepts.
const VITALGRAPH_MAX_EXPIRY: u64 = 1800;

impl Dialect {
    /// VitalGraph: `POST {base}/api/login` with form `username`, `password`; `POST
    /// {base}/api/refresh` with JSON `{"refresh_token": ...}` and `Authorization: Bearer <refresh
    /// token>`. `base_url` may end with a slash and may have a path prefix; it must be an
    /// absolute http(s) URL without query or fragment.
    pub fn vitalgraph(base_url: &str) -> Result<Dialect, ConfigError> {
        let [login, refresh] = Dialect::vitalgraph_urls(base_url)?;
        let invalid = |_: ConfigError| ConfigError::invalid_url(base_url.trim());
        Ok(Dialect::vitalgraph_at(
            EndpointUrl::parse(&login).map_err(invalid)?,
            EndpointUrl::parse(&refresh).map_err(invalid)?,
        ))
    }

    /// The login and refresh URLs of [`vitalgraph`](Dialect::vitalgraph) as text, unparsed:
    /// `{base}/api/login` and `{base}/api/refresh` with `base_url` trimmed of white space and
    /// trailing slashes. For a driver that parses them with its platform's URL parser and
    /// builds the dialect with [`vitalgraph_at`](Dialect::vitalgraph_at). `InvalidUrl` when
    /// `base_url` has a query or fragment.
    pub fn vitalgraph_urls(base_url: &str) -> Result<[String; 2], ConfigError> {
        let base = base_url.trim();
        if base.contains(['?', '#']) {
            return Err(ConfigError::invalid_url(base));
        }
        let root = base.trim_end_matches('/');
        Ok([format!("{root}/api/login"), format!("{root}/api/refresh")])
    }

    /// [`vitalgraph`](Dialect::vitalgraph) with its login and refresh URLs already parsed.
    #[must_use]
    pub fn vitalgraph_at(login_url: EndpointUrl, refresh_url: EndpointUrl) -> Dialect {
        let login = Endpoint {
            url: login_url,
            encoding: Encoding::Form,
            fields: vec![
                ("username".into(), Field::Username),
                ("password".into(), Field::Password),
            ],
            refresh_token_as_bearer: false,
            client_auth: ClientAuth::None,
            headers: Vec::new(),
        };
        let refresh = Endpoint {
            url: refresh_url,
            encoding: Encoding::Json,
            fields: vec![("refresh_token".into(), Field::RefreshToken)],
            refresh_token_as_bearer: true,
            client_auth: ClientAuth::None,
            headers: Vec::new(),
        };
        Dialect {
            name: "vitalgraph".into(),
            login: Some(login),
            refresh: Some(refresh),
            scope: None,
        }
    }

    /// [`vitalgraph`](Dialect::vitalgraph) asking for a token lifetime: the login form also
    /// carries `token_expiry_seconds`. Values outside `1..=1800` (which the server refuses with
    /// 400) are refused here with [`ConfigError::TokenExpiryOutOfRange`].
    pub fn vitalgraph_with_expiry(
        base_url: &str,
        token_expiry_seconds: u64,
    ) -> Result<Dialect, ConfigError> {
        if !(1..=VITALGRAPH_MAX_EXPIRY).contains(&token_expiry_seconds) {
            return Err(ConfigError::TokenExpiryOutOfRange {
                seconds: token_expiry_seconds,
            });
        }
        Dialect::vitalgraph(base_url)?.with_vitalgraph_expiry(token_expiry_seconds)
    }

    /// This (VitalGraph) dialect's login also asking for a token lifetime, as
    /// [`vitalgraph_with_expiry`](Dialect::vitalgraph_with_expiry) does.
    pub fn with_vitalgraph_expiry(
        mut self,
        token_expiry_seconds: u64,
    ) -> Result<Dialect, ConfigError> {
        if !(1..=VITALGRAPH_MAX_EXPIRY).contains(&token_expiry_seconds) {
            return Err(ConfigError::TokenExpiryOutOfRange {
                seconds: token_expiry_seconds,
            });
        }
        if let Some(login) = self.login.as_mut() {
            login.fields.push((
                "token_expiry_seconds".into(),
                Field::Literal(token_expiry_seconds.to_string()),
            ));
        }
        Ok(self)
    }

    /// OAuth 2.0 resource owner password grant (RFC 6749 §4.3) at `token_url`:
    /// `grant_type=password&username&password[&scope]`, refresh per §6, both form-encoded, with
    /// the given client authentication.
    pub fn oauth2_password(
        token_url: &str,
        client: ClientAuth,
        scope: Option<&str>,
    ) -> Result<Dialect, ConfigError> {
        let url = EndpointUrl::parse(token_url.trim())?;
        Ok(Dialect::oauth2_password_at(url, client, scope))
    }

    /// [`oauth2_password`](Dialect::oauth2_password) with its token URL already parsed.
    #[must_use]
    pub fn oauth2_password_at(
        token_url: EndpointUrl,
        client: ClientAuth,
        scope: Option<&str>,
    ) -> Dialect {
        let fields = vec![
            ("grant_type".into(), Field::Literal("password".into())),
            ("username".into(), Field::Username),
            ("password".into(), Field::Password),
            ("scope".into(), Field::Scope),
        ];
        Dialect::oauth2("oauth2-password", token_url, fields, client, scope)
    }

    /// OAuth 2.0 client credentials grant (RFC 6749 §4.4) at `token_url`:
    /// `grant_type=client_credentials[&scope]` (no username or password), refresh per §6 if
    /// the server issues a refresh token.
    pub fn oauth2_client_credentials(
        token_url: &str,
        client: ClientAuth,
        scope: Option<&str>,
    ) -> Result<Dialect, ConfigError> {
        let url = EndpointUrl::parse(token_url.trim())?;
        Ok(Dialect::oauth2_client_credentials_at(url, client, scope))
    }

    /// [`oauth2_client_credentials`](Dialect::oauth2_client_credentials) with its token URL
    /// already parsed.
    #[must_use]
    pub fn oauth2_client_credentials_at(
        token_url: EndpointUrl,
        client: ClientAuth,
        scope: Option<&str>,
    ) -> Dialect {
        let fields = vec![
            (
                "grant_type".into(),
                Field::Literal("client_credentials".into()),
            ),
            ("scope".into(), Field::Scope),
        ];
        Dialect::oauth2(
            "oauth2-client-credentials",
            token_url,
            fields,
            client,
            scope,
        )
    }

    /// An OAuth 2.0 dialect with this login body and the §6 refresh grant.
    fn oauth2(
        name: &str,
        url: EndpointUrl,
        login_fields: Vec<(String, Field)>,
        client: ClientAuth,
        scope: Option<&str>,
    ) -> Dialect {
        let refresh_fields = vec![
            ("grant_type".into(), Field::Literal("refresh_token".into())),
            ("refresh_token".into(), Field::RefreshToken),
            ("scope".into(), Field::Scope),
        ];
        let form = |url, fields, client_auth| Endpoint {
            url,
            encoding: Encoding::Form,
            fields,
            refresh_token_as_bearer: false,
            client_auth,
            headers: Vec::new(),
        };
        let login = form(url.clone(), login_fields, client.clone());
        let refresh = form(url, refresh_fields, client);
        Dialect {
            name: name.into(),
            login: Some(login),
            refresh: Some(refresh),
            scope: scope
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(Into::into),
        }
    }

    /// Checks the dialect before anything is sent: every endpoint URL is an absolute http(s)
    /// URL with a host and no `user:password@`; plain `http` only for loopback hosts
    /// (`localhost`, `127.0.0.0/8`, `::1`) unless `allow_insecure_http`; client id and secret
    /// have no control characters and the id is not empty; `Basic` client authentication is not
    /// combined with `refresh_token_as_bearer`; no body field has an empty name.
    pub fn validate(&self, allow_insecure_http: bool) -> Result<(), ConfigError> {
        for endpoint in [&self.login, &self.refresh].into_iter().flatten() {
            validate_endpoint(endpoint, allow_insecure_http)?;
        }
        Ok(())
    }

    /// Whether a login request can be built with these credentials: there is a login endpoint
    /// and every username or password field it needs is available.
    pub fn can_login(&self, creds: &Credentials) -> bool {
        self.login
            .as_ref()
            .is_some_and(|e| ready(e, Some(creds), None, self.requested_scope()))
    }

    /// Whether the login takes user credentials (a username or password field): whether asking
    /// someone for them can make a login possible.
    pub fn login_takes_credentials(&self) -> bool {
        self.login.as_ref().is_some_and(|e| {
            e.fields
                .iter()
                .any(|(_, f)| matches!(f, Field::Username | Field::Password))
        })
    }

    /// Whether a refresh request can be built: there is a refresh endpoint that needs nothing
    /// but the refresh token.
    pub fn can_refresh(&self) -> bool {
        self.refresh
            .as_ref()
            .is_some_and(|e| ready(e, None, Some(""), self.requested_scope()))
    }

    /// The login request for these credentials, or `None` when [`can_login`](Self::can_login)
    /// is false. Its body and `Authorization` header hold secrets: never log them.
    pub fn login_request(&self, creds: &Credentials) -> Option<AuthHttpRequest> {
        build(
            self.login.as_ref()?,
            Some(creds),
            None,
            self.requested_scope(),
        )
    }

    /// The refresh request for this refresh token, or `None` when
    /// [`can_refresh`](Self::can_refresh) is false (or the token cannot be sent in a header
    /// where the endpoint puts it there). Its body and headers hold secrets: never log them.
    pub fn refresh_request(&self, refresh_token: &Secret) -> Option<AuthHttpRequest> {
        build(
            self.refresh.as_ref()?,
            None,
            Some(refresh_token),
            self.requested_scope(),
        )
    }

    /// `scheme://host[:port]` of the login endpoint (else the refresh endpoint), lower-case,
    /// without a default port: the origin the access token may be sent to by default.
    pub fn origin(&self) -> Option<String> {
        Some(self.endpoint_url()?.origin())
    }

    /// Replaces each endpoint's URL with `read(url)`: how a driver has its platform's URL
    /// parser read the URLs again (the one that sends the requests), so that the origin the
    /// engine judges is the one the request goes to.
    pub fn reread_urls(
        &mut self,
        mut read: impl FnMut(&EndpointUrl) -> Result<EndpointUrl, ConfigError>,
    ) -> Result<(), ConfigError> {
        for endpoint in [&mut self.login, &mut self.refresh].into_iter().flatten() {
            endpoint.url = read(&endpoint.url)?;
        }
        Ok(())
    }

    /// The login endpoint's URL, else the refresh endpoint's.
    pub(crate) fn endpoint_url(&self) -> Option<&EndpointUrl> {
        Some(&self.login.as_ref().or(self.refresh.as_ref())?.url)
    }

    /// The scope to send, if any.
    fn requested_scope(&self) -> Option<&str> {
        self.scope.as_deref().filter(|s| !s.is_empty())
    }
}

#[cfg(test)]
mod tests;
